// SPDX-License-Identifier: GPL-2.0
/*
 * migbench: migration benchmarks of `make bench`, run on node 1 of a 2-node cluster. Every figure
 * is a ratio to a raw in-kernel transfer between the same two nodes over the same cluster
 * connection, measured in the same run (MOSIX_IOC_BENCH):
 *
 *  - migration time of a process with 1, 16 and 256 MiB of touched memory (migrant -q -m N)
 *    against streaming the same number of bytes (the image's page bytes, from
 *    /proc/hpc/info/migration) to node 2;
 *  - the round trip of a forwarded getppid() of a process running on node 2 against an in-kernel
 *    ping-pong with the same frame sizes (64-byte request, 16-byte answer payloads);
 *  - reading a 64 MiB home file to /dev/null with busybox cat (migrated right after it started),
 *    and with dd bs=64k and sha256sum (started on node 2: migrated before their exec), remote
 *    against the same command at home and against a raw stream of 64 MiB to node 2.
 *
 * Output: one "bench NAME value unit" line per measurement, and "ratio NAME value" lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The ioctl ABI: the selftests' C view of src/uapi.rs (checked against it by a host test). */
#include "../selftests/oxmosix/oxmosix_uapi.h"

static int dev;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long pages_out(void)
{
	char buf[4096], *p;
	int fd = open("/proc/hpc/info/migration", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "pages_out ");
	return p ? atol(p + 10) : -1;
}

static int migrate(int pid, int node)
{
	struct mosix_migrate q = { .pid = pid, .node = node };

	return ioctl(dev, MOSIX_IOC_MIGRATE, &q);
}

static double bench(uint32_t mode, uint64_t bytes, uint32_t count, uint32_t reply)
{
	struct mosix_bench q = { .node = 2, .mode = mode, .bytes = bytes, .count = count, .reply = reply };

	if (ioctl(dev, MOSIX_IOC_BENCH, &q)) {
		perror("MOSIX_IOC_BENCH");
		exit(1);
	}
	return q.ns / 1e9;
}

/* Starts `migrant -q -m MB` with its stdout on a pipe and waits for its ready line. */
static int start_migrant(int mb)
{
	char arg[16], buf[256];
	int fds[2], pid;
	ssize_t n;

	snprintf(arg, sizeof(arg), "%d", mb);
	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execlp("migrant", "migrant", "-q", "-m", arg, "-t", "900", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	if (n <= 0 || !strstr(buf, "ready"))
		return -1;
	return pid;
}

static void migration(int mb)
{
	int pid = start_migrant(mb);
	long p0, p1;
	double t0, away, home, raw;

	if (pid < 0) {
		fprintf(stderr, "migrant -m %d did not start\n", mb);
		exit(1);
	}
	p0 = pages_out();
	t0 = now();
	if (migrate(pid, 2)) {
		perror("migrate to node 2");
		exit(1);
	}
	away = now() - t0;
	p1 = pages_out();
	raw = bench(0, (uint64_t)(p1 - p0) * 4096, 0, 0);
	t0 = now();
	if (migrate(pid, 0)) {
		perror("migrate home");
		exit(1);
	}
	home = now() - t0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("bench migrate_%dmib_away %.3f s (%ld pages, %.1f MiB/s)\n", mb, away, p1 - p0,
	       (p1 - p0) * 4096.0 / away / 1048576);
	printf("bench migrate_%dmib_home %.3f s\n", mb, home);
	printf("bench raw_stream_%dmib %.3f s (%.1f MiB/s)\n", mb, raw,
	       (p1 - p0) * 4096.0 / raw / 1048576);
	printf("ratio migrate_%dmib_vs_raw %.2f\n", mb, away / raw);
	fflush(stdout);
}

/* A child that spins until it runs on node 2 (it cannot know: it spins for `spin` seconds),
 * then times `n` getppid() calls and writes the average to `fd`. */
static void getppid_child(int fd, double spin, int n)
{
	double t0 = now(), t;
	int i;

	while (now() - t0 < spin)
		;
	t = now();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	t = (now() - t) / n;
	if (write(fd, &t, sizeof(t)) != sizeof(t))
		_exit(1);
	_exit(0);
}

/* Forwarded getppid() round trips on node 2 and raw ping-pongs of the same payload sizes, measured
 * one after the other: their ratio compares the two in the same conditions. Returns the ratio;
 * the seconds per call and per raw round trip in *call and *rawp. */
static double forwarded_ratio(int n, double *call, double *rawp)
{
	double per_call, raw;
	int fds[2], pid;

	if (pipe(fds))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		getppid_child(fds[1], 3.0, n);
	}
	close(fds[1]);
	usleep(300000); /* let the child get past libc's after-fork calls */
	if (migrate(pid, 2)) {
		perror("migrate getppid child");
		exit(1);
	}
	if (read(fds[0], &per_call, sizeof(per_call)) != sizeof(per_call)) {
		fprintf(stderr, "getppid child failed\n");
		exit(1);
	}
	close(fds[0]);
	waitpid(pid, NULL, 0);
	/* Same payload sizes as a forwarded getppid: Syscall 64 bytes, SysReply 16 bytes. */
	raw = bench(1, 64, n, 16) / n;
	*call = per_call;
	*rawp = raw;
	return per_call / raw;
}

static void forwarded_call(void)
{
	const int n = 2000;
	double per_call, raw, r = forwarded_ratio(n, &per_call, &raw);

	printf("bench forwarded_getppid %.1f us per call (%d calls)\n", per_call * 1e6, n);
	printf("bench raw_pingpong_64_16 %.1f us per round trip\n", raw * 1e6);
	printf("ratio forwarded_getppid_vs_raw %.2f\n", r);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* `migbench calls R`: R rounds of forwarded_ratio(), each printed, then the median ratio (the
 * round-to-round spread of QEMU TCG is as large as the effects this compares). */
static void forwarded_calls(int rounds)
{
	double ratios[64], call, raw;
	int i;

	if (rounds < 1 || rounds > 64)
		rounds = 5;
	for (i = 0; i < rounds; i++) {
		ratios[i] = forwarded_ratio(1000, &call, &raw);
		printf("round %d forwarded_getppid %.1f us raw_pingpong %.1f us ratio %.2f\n", i + 1,
		       call * 1e6, raw * 1e6, ratios[i]);
	}
	qsort(ratios, rounds, sizeof(ratios[0]), cmp_double);
	printf("ratio forwarded_getppid_vs_raw_median %.2f (%d rounds, min %.2f, max %.2f)\n",
	       ratios[rounds / 2], rounds, ratios[0], ratios[rounds - 1]);
}

/* Runs argv to completion, migrated to node 2 right after its exec if `remote`; seconds. */
static double run_cmd(char *const argv[], int remote)
{
	double t0 = now();
	int pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (remote) {
		usleep(100000); /* past its exec */
		if (migrate(pid, 2))
			perror("migrate reader");
	}
	waitpid(pid, NULL, 0);
	return now() - t0;
}

/*
 * Runs the shell command `cmd` after a 0.5 s sleep (`sh -c "sleep 0.5; exec CMD"`), at home or
 * migrated to node 2 during the sleep, so that the command starts (and opens its files) where it
 * runs; the seconds it took after the sleep.
 */
static double run_after_sleep(const char *cmd, int remote)
{
	char line[256];
	char *argv[] = { "sh", "-c", line, NULL };
	double t0 = now();
	int pid;

	snprintf(line, sizeof(line), "sleep 0.5; exec %s", cmd);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (remote) {
		usleep(50000);
		if (migrate(pid, 2))
			perror("migrate reader");
	}
	waitpid(pid, NULL, 0);
	return now() - t0 - 0.5;
}

static void file_reading(void)
{
	static char *cat[] = { "cat", "/tmp/bench-file", NULL };
	static const char *const cmds[][2] = {
		{ "dd", "dd if=/tmp/bench-file of=/dev/null bs=65536" },
		{ "sha256sum", "sha256sum /tmp/bench-file" },
	};
	static char buf[1 << 20];
	int fd = open("/tmp/bench-file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	double home, remote, raw;
	unsigned int i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	for (i = 0; i < 64; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			exit(1);
	close(fd);
	home = run_cmd(cat, 0);
	remote = run_cmd(cat, 1);
	printf("bench cat_64mib_home %.3f s, remote %.3f s (busybox cat copies with sendfile: the data stays at home)\n",
	       home, remote);
	printf("ratio cat_remote_vs_home %.2f\n", remote / home);
	raw = bench(0, 64 << 20, 0, 0);
	printf("bench raw_stream_64mib %.3f s (%.1f MiB/s)\n", raw, 64 / raw);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		home = run_after_sleep(cmds[i][1], 0);
		remote = run_after_sleep(cmds[i][1], 1);
		printf("bench %s_64mib_home %.3f s (%.1f MiB/s), remote %.3f s (%.1f MiB/s; started on node 2, the file at home)\n",
		       cmds[i][0], home, 64 / home, remote, 64 / remote);
		printf("ratio %s_remote_vs_home %.2f\n", cmds[i][0], remote / home);
		printf("ratio %s_remote_vs_raw_stream %.2f\n", cmds[i][0], remote / raw);
	}
	unlink("/tmp/bench-file");
}

/* fork + exec of `argv` (its output to /dev/null) + waitpid, `n` times: seconds per round. */
static double exec_rounds(int n, char *const argv[])
{
	double t0 = now();
	int i, pid, st, fd, failed = 0, last = 0;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid == 0) {
			fd = open("/dev/null", O_WRONLY);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(99);
			execv(argv[0], argv);
			_exit(100 + errno);
		}
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			failed++;
			last = st;
		}
	}
	if (failed)
		fprintf(stderr, "migbench: %d of %d execs of %s failed, last status %#x\n", failed, n, argv[0],
			last);
	return (now() - t0) / n;
}

/* fork + _exit + waitpid, fork + exec of a small static program + waitpid (`n` times each) and
 * fork + exec of a dynamically linked Debian program (`n` / 2 times): the seconds per round of
 * each in t[0], t[1] and t[2]. */
static void tree_rounds(int n, double t[3])
{
	char *argv[] = { "/bin/busybox", "true", NULL };
	char *dyn[] = { "/usr/bin/xz", "--version", NULL };
	double t0 = now();
	int i, pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	t[0] = (now() - t0) / n;
	t[1] = exec_rounds(n, argv);
	t[2] = access(dyn[0], X_OK) ? 0 : exec_rounds(n / 2, dyn);
}

/* Process trees (remote fork and exec where the process runs): the same rounds at home and in a
 * child migrated to node 2 (it spins 3 s first, as getppid_child does). */
static void process_trees(void)
{
	const int n = 100;
	double home[3], away[3], t0;
	int fds[2], pid;

	tree_rounds(n, home);
	if (pipe(fds))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (t0 = now(); now() - t0 < 3.0;)
			;
		tree_rounds(n, away);
		_exit(write(fds[1], away, sizeof(away)) != sizeof(away));
	}
	close(fds[1]);
	usleep(300000);
	if (migrate(pid, 2)) {
		perror("migrate tree child");
		exit(1);
	}
	if (read(fds[0], away, sizeof(away)) != sizeof(away)) {
		fprintf(stderr, "tree child failed\n");
		exit(1);
	}
	close(fds[0]);
	waitpid(pid, NULL, 0);
	printf("bench fork_exit_wait home %.2f ms, remote %.2f ms (%d rounds)\n", home[0] * 1e3,
	       away[0] * 1e3, n);
	printf("ratio fork_exit_wait_remote_vs_home %.2f\n", away[0] / home[0]);
	printf("bench fork_exec_wait home %.2f ms, remote %.2f ms (busybox true, %d rounds)\n",
	       home[1] * 1e3, away[1] * 1e3, n);
	printf("ratio fork_exec_wait_remote_vs_home %.2f\n", away[1] / home[1]);
	if (home[2] > 0) {
		printf("bench fork_exec_dynamic_wait home %.2f ms, remote %.2f ms (xz --version: ld.so maps liblzma and libc, %d rounds)\n",
		       home[2] * 1e3, away[2] * 1e3, n / 2);
		printf("ratio fork_exec_dynamic_wait_remote_vs_home %.2f\n", away[2] / home[2]);
	}
}

/* `migbench`: everything; `migbench files`: the file reading only; `migbench trees`: process trees only; `migbench security`: the 16 and 256 MiB migrations and the forwarded
 * getppid() only (scripts/bench.sh runs them again over plaintext links for the cost of sealing);
 * `migbench calls R`: R rounds of forwarded getppid() against raw ping-pong, and their median. */
int main(int argc, char **argv)
{
	static const int sizes[] = { 1, 16, 256 };
	int security = argc > 1 && !strcmp(argv[1], "security");
	unsigned int i;

	dev = open("/dev/mosix", O_RDWR);
	if (dev < 0) {
		perror("/dev/mosix");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "trees")) {
		process_trees();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "files")) {
		file_reading();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "calls")) {
		forwarded_calls(atoi(argv[2]));
		return 0;
	}
	for (i = security ? 1 : 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		migration(sizes[i]);
	forwarded_call();
	if (!security) {
		file_reading();
		process_trees();
	}
	return 0;
}
