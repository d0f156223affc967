// SPDX-License-Identifier: GPL-2.0
/*
 * forker: a process tree for forktree_test. Prints "forker PID ready", waits for a line on
 * stdin (the test migrates it meanwhile), then, by MODE:
 *   workers N  forks N workers; each prints its pid and parent pid, burns CPU for 4 s of wall
 *              time, checks getppid() again and exits 10+i; the parent reaps each and checks
 *              its pid and exit status.
 *   group N    forks N members of a new process group (the first member leads it); each
 *              pauses; the parent prints "group PGID" and expects each to end by SIGTERM
 *              (sent to the group by the test, from the home node).
 *   spawn      posix_spawn, vfork + exec and fork + exec of `forker echo WORD`, each expected
 *              to print its word and parent pid and to exit 7; then an exec of a missing
 *              program, expected to fail with ENOENT.
 *   exec       executes `forker burn 6`.
 *   burn S     prints "burn PID start", burns CPU for S s of wall time, prints "burned".
 *   stamp      prints CLOCK_MONOTONIC (s) as it starts (migbench's exec timing).
 *   echo WORD  prints "echo WORD pid P ppid Q" and exits 7.
 * Prints "done ok" and exits 0 when everything matched, else "done bad" and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bad;

static void expect(int ok, const char *what, pid_t pid, int st)
{
	printf("%s %d status %#x %s\n", what, pid, st, ok ? "ok" : "BAD");
	fflush(stdout);
	bad |= !ok;
}

static void workers(int n)
{
	pid_t pids[16], me = getpid();
	int i, st;

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			printf("fork: %s\n", strerror(errno));
			bad = 1;
			continue;
		}
		if (pids[i] == 0) {
			volatile unsigned long x = 0;
			double t0 = now();
			pid_t pp = getppid();

			printf("worker %d pid %d ppid %d\n", i, getpid(), pp);
			fflush(stdout);
			while (now() - t0 < 4)
				x++;
			_exit(getppid() == me && pp == me ? 10 + i : 2);
		}
	}
	for (i = 0; i < n; i++) {
		pid_t r = waitpid(pids[i], &st, 0);

		expect(r == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 10 + i, "reaped", r, st);
	}
}

static void group(int n)
{
	pid_t pids[16], leader = 0;
	int i, st;

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			if (setpgid(0, i ? leader : 0))
				_exit(2);
			printf("member %d pid %d pgrp %d\n", i, getpid(), getpgrp());
			fflush(stdout);
			for (;;)
				pause();
		}
		if (pids[i] < 0) {
			bad = 1;
			return;
		}
		if (!i)
			leader = pids[0];
		/* the parent sets it too, as a shell does: no race with the member's own call */
		setpgid(pids[i], leader);
	}
	printf("group %d\n", leader);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pid_t r = waitpid(pids[i], &st, 0);

		expect(r == pids[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "ended", r, st);
	}
}

static void spawned(pid_t pid, const char *how)
{
	int st;
	pid_t r = waitpid(pid, &st, 0);

	expect(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, how, r, st);
}

static void spawn(const char *self)
{
	char *argv[] = { (char *)self, "echo", NULL, NULL };
	pid_t pid;

	argv[2] = "spawned";
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ)) {
		bad = 1;
	} else {
		spawned(pid, "posix_spawn");
	}
	argv[2] = "vforked";
	pid = vfork();
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	spawned(pid, "vfork");
	argv[2] = "forked";
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	spawned(pid, "fork");
	/* An exec that fails: the error execve gives at home, and the child goes on. */
	pid = fork();
	if (pid == 0) {
		execv("/no/such/program", argv);
		_exit(errno == ENOENT ? 7 : 8);
	}
	spawned(pid, "failed exec");
}

static volatile sig_atomic_t got_chld;

static void on_chld(int sig)
{
	got_chld = sig;
}

/*
 * Signal actions set after the move: a SIGCHLD handler set here must run when a child ends (the
 * child's deputy exits at home and signals the parent's deputy, which must catch SIGCHLD and
 * forward it); SIGCHLD ignored makes children reaped at once (wait fails with ECHILD); back at
 * SIG_DFL a child is a zombie until waited for. SIGALRM (10 s, default action) ends a parent
 * left waiting.
 */
static void sigchld(void)
{
	struct sigaction sa = { .sa_handler = on_chld };
	sigset_t block, none;
	pid_t pid;
	int st = 0, r;

	alarm(10);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	pid = fork();
	if (pid == 0)
		_exit(3);
	while (!got_chld)
		sigsuspend(&none);
	r = waitpid(pid, &st, 0);
	expect(got_chld == SIGCHLD && r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3,
	       "sigchld handler", pid, st);
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	signal(SIGCHLD, SIG_IGN);
	pid = fork();
	if (pid == 0)
		_exit(4);
	r = waitpid(pid, &st, 0);
	expect(r < 0 && errno == ECHILD, "sigchld ignored: reaped at once", pid, r);

	signal(SIGCHLD, SIG_DFL);
	pid = fork();
	if (pid == 0)
		_exit(5);
	usleep(300000);
	r = waitpid(pid, &st, 0);
	expect(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5, "sigchld default: waited", pid, st);
	alarm(0);
}

int main(int argc, char **argv)
{
	char line[64], self[256];
	ssize_t n;

	if (argc == 2 && !strcmp(argv[1], "stamp")) {
		printf("%.6f\n", now());
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "burn")) {
		double t0 = now();
		volatile unsigned long x = 0;

		printf("burn %d start\n", getpid());
		fflush(stdout);
		while (now() - t0 < atof(argv[2]))
			x++;
		printf("burned\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "echo")) {
		printf("echo %s pid %d ppid %d\n", argv[2], getpid(), getppid());
		return 7;
	}
	if (argc < 2)
		return 1;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	/* chain N: executes itself N more times, then says so and waits for a line. */
	if (argc == 3 && !strcmp(argv[1], "chain")) {
		char next[16], *cargv[] = { self, "chain", next, NULL };

		if (atoi(argv[2]) > 0) {
			snprintf(next, sizeof(next), "%d", atoi(argv[2]) - 1);
			execv(self, cargv);
			return 1;
		}
		printf("chained %d\n", getpid());
		fflush(stdout);
		return read(0, line, sizeof(line)) > 0 ? 0 : 1;
	}
	printf("forker %d ready\n", getpid());
	fflush(stdout);
	if (read(0, line, sizeof(line)) <= 0)
		return 1;
	printf("forker %d goes\n", getpid());
	fflush(stdout);
	if (!strcmp(argv[1], "workers") && argc == 3)
		workers(atoi(argv[2]) > 16 ? 16 : atoi(argv[2]));
	else if (!strcmp(argv[1], "group") && argc == 3)
		group(atoi(argv[2]) > 16 ? 16 : atoi(argv[2]));
	else if (!strcmp(argv[1], "spawn"))
		spawn(self);
	else if (!strcmp(argv[1], "sigchld"))
		sigchld();
	else if (!strcmp(argv[1], "chainstart")) {
		char *cargv[] = { self, "chain", "30", NULL };

		execv(self, cargv);
		return 1;
	}
	else if (!strcmp(argv[1], "exec")) {
		char *bargv[] = { self, "burn", "6", NULL };

		execv(self, bargv);
		return 1;
	}
	else
		return 1;
	printf("done %s\n", bad ? "bad" : "ok");
	return bad;
}
