// SPDX-License-Identifier: GPL-2.0
/*
 * sleeper KIND SECS: prints "sleeper KIND ready", then sleeps in one interruptible system call of
 * the given kind and checks that the call ended the way it would have had the process never moved.
 * migrate_test.sleeping_processes_move migrates it while it sleeps.
 *
 *   nanosleep   nanosleep(SECS) returns 0, after SECS (its restart block travels)
 *   futex       FUTEX_WAIT with a SECS timeout times out (ETIMEDOUT), after SECS
 *   poll        poll(NULL, 0, SECS s) returns 0, after SECS
 *   select      select(0, ..., SECS s) returns 0, after SECS
 *   pause       pause() fails with EINTR once SIGUSR1 (sent by the test) ran its handler
 *   sigsuspend  sigsuspend() with SIGUSR1 unblocked returns EINTR after its handler, and the mask
 *               from before it (SIGUSR1 blocked) is back
 *   fifo        a read() of the FIFO /tmp/sleeper.fifo returns the 6 bytes "wakeup" the test
 *               writes
 *   pollfifo    poll() of that FIFO without a timeout returns 1, with POLLIN, once the test
 *               wrote it
 *
 * Prints "sleeper KIND: ..." with the result and the seconds the call took (CLOCK_MONOTONIC,
 * which travels with the process). Exit status 0 when the result is right, 7 when it is not, 1
 * for a usage or setup error. A timed kind must not end early and not more than 5 s late.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	got = sig;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	const char *kind;
	sigset_t block, none, after;
	int secs, r, e, ok, fd = -1;
	char buf[16] = "";
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	double t0, took;

	if (argc != 3)
		return 1;
	kind = argv[1];
	secs = atoi(argv[2]);
	if (secs <= 0 || sigaction(SIGUSR1, &sa, NULL))
		return 1;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	if (!strcmp(kind, "sigsuspend") && sigprocmask(SIG_BLOCK, &block, NULL))
		return 1;
	if (!strcmp(kind, "fifo") || !strcmp(kind, "pollfifo")) {
		/* Opened for reading and writing: a read waits for data, not for a writer. */
		fd = open("/tmp/sleeper.fifo", O_RDWR);
		if (fd < 0)
			return 1;
		pfd.fd = fd;
	}
	printf("sleeper %s ready\n", kind);
	fflush(stdout);
	t0 = mono();
	if (!strcmp(kind, "nanosleep")) {
		struct timespec req = { secs, 0 }, rem = { 0, 0 };

		r = nanosleep(&req, &rem);
	} else if (!strcmp(kind, "futex")) {
		struct timespec to = { secs, 0 };
		int word = 0;

		r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &to, NULL, 0);
	} else if (!strcmp(kind, "poll")) {
		r = poll(NULL, 0, secs * 1000);
	} else if (!strcmp(kind, "select")) {
		struct timeval tv = { secs, 0 };

		r = select(0, NULL, NULL, NULL, &tv);
	} else if (!strcmp(kind, "pause")) {
		r = pause();
	} else if (!strcmp(kind, "sigsuspend")) {
		r = sigsuspend(&none);
	} else if (!strcmp(kind, "fifo")) {
		r = read(fd, buf, sizeof(buf) - 1);
	} else if (!strcmp(kind, "pollfifo")) {
		r = poll(&pfd, 1, -1);
	} else {
		return 1;
	}
	e = errno;
	took = mono() - t0;
	if (!strcmp(kind, "pause")) {
		ok = r == -1 && e == EINTR && got == SIGUSR1;
	} else if (!strcmp(kind, "sigsuspend")) {
		ok = r == -1 && e == EINTR && got == SIGUSR1 && !sigprocmask(SIG_SETMASK, NULL, &after) &&
		     sigismember(&after, SIGUSR1);
	} else if (!strcmp(kind, "fifo")) {
		ok = r == 6 && !memcmp(buf, "wakeup", 6);
	} else if (!strcmp(kind, "pollfifo")) {
		ok = r == 1 && pfd.revents == POLLIN;
	} else {
		ok = (!strcmp(kind, "futex") ? r == -1 && e == ETIMEDOUT : r == 0) &&
		     took >= secs - 0.02 && took <= secs + 5;
	}
	printf("sleeper %s: returned %d (%s) after %.3f s: %s\n", kind, r, r < 0 ? strerror(e) : "ok",
	       took, ok ? "right" : "WRONG");
	return ok ? 0 : 7;
}
