// SPDX-License-Identifier: GPL-2.0
/*
 * clockcheck: a program for transparency_test. For -t SEC seconds (default 20) it reads
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME over and over, through the vDSO (clock_gettime) and, every
 * 64th round, through the system call itself, and records the largest step back and the largest
 * step forward each clock made between two reads. The test migrates it from node to node
 * meanwhile: each node's clocks start at its own boot, so without clock continuity a move shows
 * as a step of the difference of the nodes' boot times.
 *
 * On SIGUSR1 it writes "boot SEC.NSEC" (its CLOCK_BOOTTIME when it saw the signal) to stdout, so
 * the test can compare it with /proc/uptime at home.
 *
 * At the end it prints "clockcheck: back MONO_NS BOOT_NS, longest step MONO_NS BOOT_NS, ran
 * SEC s" and exits 0, or 1 if a clock went back, 2 on a bad argument.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

static int64_t ns(clockid_t c, int by_syscall)
{
	struct timespec t;

	if (by_syscall)
		syscall(SYS_clock_gettime, c, &t);
	else
		clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	static const clockid_t clocks[2] = { CLOCK_MONOTONIC, CLOCK_BOOTTIME };
	int64_t last[2], back[2] = { 0, 0 }, step[2] = { 0, 0 }, start;
	double secs = 20;
	struct sigaction sa;
	uint64_t round = 0;
	int o, i;

	while ((o = getopt(argc, argv, "t:")) != -1) {
		if (o != 't' || (secs = atof(optarg)) <= 0)
			return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < 2; i++)
		last[i] = ns(clocks[i], 0);
	start = last[0];
	printf("clockcheck %d ready\n", getpid());
	while (last[0] - start < (int64_t)(secs * 1e9)) {
		int by_syscall = (++round & 63) == 0;

		for (i = 0; i < 2; i++) {
			int64_t now = ns(clocks[i], by_syscall), d = now - last[i];

			if (-d > back[i])
				back[i] = -d;
			if (d > step[i])
				step[i] = d;
			last[i] = now;
		}
		if (asked) {
			asked = 0;
			printf("boot %lld.%09lld\n", (long long)(last[1] / 1000000000),
			       (long long)(last[1] % 1000000000));
		}
	}
	printf("clockcheck: back %lld %lld, longest step %lld %lld, ran %.2f s\n", (long long)back[0],
	       (long long)back[1], (long long)step[0], (long long)step[1], (last[0] - start) / 1e9);
	return back[0] || back[1] ? 1 : 0;
}
