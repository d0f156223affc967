/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the oxmosix selftests: the node's identity from the kernel command line
 * (oxnode=, oxnodes=, oxnet= set by scripts/cluster), running shell commands, reading files, a
 * monotonic clock, and HTTP queries to the test agent of another node (scripts/node/init).
 */
#ifndef OXMOSIX_TEST_H
#define OXMOSIX_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
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

/* One `name value` line of /proc/hpc/info/FILE (-1: none). */
static inline long info_counter(const char *file, const char *name)
{
	char path[128], buf[8192], *p;
	size_t n = strlen(name);

	snprintf(path, sizeof(path), "/proc/hpc/info/%s", file);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtol(p + n + 1, NULL, 10);
	return -1;
}

/* One `name value` line of /proc/hpc/info/counters. */
static inline long counter(const char *name)
{
	return info_counter("counters", name);
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

/* Seconds on the monotonic clock. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * HTTP GET of /cgi-bin/`query` from node `at`'s test agent (port 8000, scripts/node/init); the
 * body goes to out (truncated to len-1 bytes). 0 on success. Plain sockets: busybox wget crashes.
 */
static inline int agent(int at, const char *query, char *out, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8000) };
	/* Long enough for a module unload that first sends its guests home. */
	struct timeval tv = { .tv_sec = 30 };
	char addr[48], req[256], buf[16384], *body;
	size_t got = 0;
	ssize_t n;
	int s;

	snprintf(addr, sizeof(addr), "%s.%d", net, at);
	inet_pton(AF_INET, addr, &a.sin_addr);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&a, sizeof(a))) {
		close(s);
		return -1;
	}
	snprintf(req, sizeof(req), "GET /cgi-bin/%s HTTP/1.0\r\n\r\n", query);
	if (write(s, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(s);
		return -1;
	}
	while (got < sizeof(buf) - 1 && (n = read(s, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(s);
	buf[got] = 0;
	/* "HTTP/1.x 200 OK", headers, an empty line (CGI output ends headers with "\n\n"). */
	if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4))
		return -1;
	body = strstr(buf, "\n\n");
	if (body) {
		body += 2;
	} else {
		body = strstr(buf, "\r\n\r\n");
		if (!body)
			return -1;
		body += 4;
	}
	snprintf(out, len, "%s", body);
	return 0;
}

#endif
