/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the oxmosix selftests: the node's identity from the kernel command line
 * (oxnode=, oxnodes=, oxnet= set by scripts/cluster), running shell commands, reading files.
 */
#ifndef OXMOSIX_TEST_H
#define OXMOSIX_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* This node's id, the number of nodes, and the /24 prefix of the cluster segment. */
static int node, nodes;
static char net[32];

/* Reads up to len-1 bytes of a file into buf (NUL-terminated); the length, or -errno. */
static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

/* Sets node, nodes and net from /proc/cmdline (0, 0 and "10.77.0" when absent). */
static inline void read_cmdline(void)
{
	char buf[4096], *tok, *save;

	node = nodes = 0;
	strcpy(net, "10.77.0");
	if (read_file("/proc/cmdline", buf, sizeof(buf)) <= 0)
		return;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (!strncmp(tok, "oxnode=", 7))
			node = atoi(tok + 7);
		else if (!strncmp(tok, "oxnodes=", 8))
			nodes = atoi(tok + 8);
		else if (!strncmp(tok, "oxnet=", 6))
			snprintf(net, sizeof(net), "%s", tok + 6);
	}
}

/* Runs a shell command, captures up to len-1 bytes of its stdout, returns its exit status. */
static inline int run(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;
	int st;

	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
