// SPDX-License-Identifier: GPL-2.0
/*
 * Process trees of migrated processes (Documentation/migration.md, Process trees), run on node 1
 * of a cluster of 3 or more nodes: `forker` (forker.c) is migrated to node 2 while it waits for a
 * line on its stdin, then forks. Its children must be made on node 2 (their deputies forked at
 * home: MOSIX_IOC_PROCINFO on their home pids says where they run), see the right parent, be
 * reaped with their exit statuses, and be reached by a signal sent to their process group at home;
 * posix_spawn, vfork + exec and fork + exec from the migrated process give the outputs and exit
 * statuses they give at home. The parent never goes home (its migration count stays 1).
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
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "oxmosix_test.h"
#include "oxmosix_uapi.h"

static int procinfo(int dev, pid_t pid, struct mosix_procinfo *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return ioctl(dev, MOSIX_IOC_PROCINFO, p) ? errno : 0;
}

/* Where pid runs (0 for a process at home that never moved), or -errno. */
static int where(int dev, pid_t pid)
{
	struct mosix_procinfo p;
	int rc = procinfo(dev, pid, &p);

	return rc ? -rc : (int)p.where;
}

FIXTURE(tree) {
	int dev, home, n2;
	pid_t child;
	int go;			/* write end of the child's stdin */
	char log[64];
};

FIXTURE_SETUP(tree)
{
	char out[256];
	int k;

	read_cmdline();
	if (nodes < 3)
		SKIP(return, "process tree tests need 3 nodes (this cluster has %d)", nodes);
	self->home = node;
	self->n2 = node % nodes + 1;
	self->child = 0;
	self->go = -1;
	self->log[0] = 0;
	self->dev = open("/dev/mosix", O_RDWR);
	ASSERT_LE(0, self->dev) TH_LOG("open /dev/mosix: %s", strerror(errno));
	for (k = 1; k <= nodes; k++)
		ASSERT_EQ(0, agent(k, "mosctl?stay", out, sizeof(out))) TH_LOG("node %d: %s", k, out);
}

static void show_log(struct __test_metadata *_metadata, const char *log)
{
	char buf[8192], *line, *save;

	if (read_file(log, buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		TH_LOG("  | %s", line);
}

FIXTURE_TEARDOWN(tree)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (*self->log) {
		show_log(_metadata, self->log);
		unlink(self->log);
	}
	if (self->go >= 0)
		close(self->go);
	if (self->dev >= 0)
		close(self->dev);
}

/* Starts `forker ARGS` with a pipe as stdin and a log as stdout, migrated to node 2. */
static int start(struct __test_metadata *_metadata, FIXTURE_DATA(tree) *self, char *const argv[])
{
	struct mosix_migrate m = { .node = self->n2 };
	char dir[256], path[300], buf[256];
	int fds[2], fd;
	double t0;
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0 || pipe(fds))
		return -1;
	dir[n] = 0;
	*strrchr(dir, '/') = 0;
	snprintf(path, sizeof(path), "%s/forker", dir);
	self->child = fork();
	if (self->child == 0) {
		snprintf(buf, sizeof(buf), "/tmp/forker-%d.log", getpid());
		fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fds[0], 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fds[1]);
		execv(path, argv);
		_exit(127);
	}
	close(fds[0]);
	self->go = fds[1];
	snprintf(self->log, sizeof(self->log), "/tmp/forker-%d.log", self->child);
	for (t0 = now(); now() - t0 < 20; usleep(50000))
		if (read_file(self->log, buf, sizeof(buf)) > 0 && strstr(buf, " ready"))
			break;
	if (!strstr(buf, " ready")) {
		TH_LOG("forker not ready");
		return -1;
	}
	m.pid = self->child;
	if (ioctl(self->dev, MOSIX_IOC_MIGRATE, &m)) {
		TH_LOG("MIGRATE %d to %d: %s (reason %u)", self->child, self->n2, strerror(errno), m.reason);
		return -1;
	}
	TH_LOG("forker %d runs on node %d", self->child, where(self->dev, self->child));
	return where(self->dev, self->child) == self->n2 ? 0 : -1;
}

/* Waits at most `secs` for forker to end: its wait status, or -1. */
static int finish(FIXTURE_DATA(tree) *self, double secs);

/*
 * SIGCHLD actions set by a guest after its move reach its deputy: a handler runs when a remote
 * child ends, SIG_IGN reaps children at once, SIG_DFL keeps them for wait; the process never
 * goes home.
 */
TEST_F_TIMEOUT(tree, sigchld_actions_set_away, 120)
{
	char *argv[] = { "forker", "sigchld", NULL };
	long home0 = info_counter("migration", "home");
	char buf[4096];
	int st;

	ASSERT_EQ(0, start(_metadata, self, argv));
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	st = finish(self, 60);
	ASSERT_NE(-1, st) TH_LOG("forker still runs after 60 s");
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_LT(0, read_file(self->log, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "sigchld handler")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "done ok")) TH_LOG("%s", buf);
	EXPECT_EQ(home0, info_counter("migration", "home")) TH_LOG("it came home");
}

static int finish(FIXTURE_DATA(tree) *self, double secs)
{
	double t0 = now();
	int st;

	do {
		if (waitpid(self->child, &st, WNOHANG) == self->child) {
			self->child = 0;
			return st;
		}
		usleep(50000);
	} while (now() - t0 < secs);
	return -1;
}

/* Pids that the log lists after `key` (e.g. "worker 2 pid "), at most max; how many. */
static int pids_after(const char *log, const char *key, pid_t *out, int max)
{
	char buf[8192], *p;
	int n = 0;

	if (read_file(log, buf, sizeof(buf)) <= 0)
		return 0;
	for (p = strstr(buf, key); p && n < max; p = strstr(p + 1, key)) {
		char *q = strstr(p, " pid ");

		if (q)
			out[n++] = atoi(q + 5);
	}
	return n;
}

TEST_F_TIMEOUT(tree, workers_run_remote, 180)
{
	char *argv[] = { "forker", "workers", "4", NULL };
	long forks0 = info_counter("migration", "forks_home");
	struct mosix_procinfo pi;
	pid_t w[4], pp;
	int n = 0, k, st, remote = 0, samples = 0;
	double t0;
	char buf[8192];

	ASSERT_EQ(0, start(_metadata, self, argv));
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	/* The workers burn 4 s each: sample where they run. */
	for (t0 = now(); now() - t0 < 3.5 && n < 4; usleep(100000))
		n = pids_after(self->log, "worker ", w, 4);
	ASSERT_EQ(4, n) TH_LOG("workers seen: %d", n);
	for (k = 0; k < 4; k++) {
		int at = where(self->dev, w[k]);

		samples++;
		remote += at == self->n2;
		TH_LOG("worker %d (pid %d at home) runs on node %d", k, w[k], at);
	}
	EXPECT_EQ(4, remote);
	EXPECT_EQ(self->n2, where(self->dev, self->child));
	pp = self->child;
	ASSERT_EQ(0, procinfo(self->dev, pp, &pi));
	EXPECT_EQ(1, (int)pi.nmigs) TH_LOG("the parent moved %u times", pi.nmigs);
	st = finish(self, 60);
	ASSERT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_LT(0, read_file(self->log, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "done ok"));
	for (k = 0; k < 4; k++) {
		char want[64];

		snprintf(want, sizeof(want), "pid %d ppid %d", w[k], pp);
		EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("no '%s'", want);
	}
	EXPECT_LE(forks0 + 4, info_counter("migration", "forks_home"));
	TH_LOG("%d of %d samples remote; forks_home %ld -> %ld", remote, samples, forks0,
	       info_counter("migration", "forks_home"));
}

TEST_F_TIMEOUT(tree, group_kill_from_home, 180)
{
	char *argv[] = { "forker", "group", "4", NULL };
	char buf[8192], *g;
	pid_t m[4];
	int n = 0, k, st;
	double t0;

	ASSERT_EQ(0, start(_metadata, self, argv));
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	for (t0 = now(); now() - t0 < 30; usleep(100000)) {
		n = pids_after(self->log, "member ", m, 4);
		if (n == 4 && read_file(self->log, buf, sizeof(buf)) > 0 && strstr(buf, "group "))
			break;
	}
	ASSERT_EQ(4, n);
	g = strstr(buf, "group ");
	ASSERT_NE(NULL, g);
	for (k = 0; k < 4; k++) {
		EXPECT_EQ(self->n2, where(self->dev, m[k])) TH_LOG("member %d", m[k]);
		EXPECT_EQ(atoi(g + 6), getpgid(m[k]));
	}
	ASSERT_EQ(0, kill(-atoi(g + 6), SIGTERM));
	st = finish(self, 60);
	ASSERT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_LT(0, read_file(self->log, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "done ok"));
}

TEST_F_TIMEOUT(tree, spawn_vfork_exec, 240)
{
	char *argv[] = { "forker", "spawn", NULL };
	char buf[8192], want[64];
	const char *words[] = { "spawned", "vforked", "forked" };
	int st, k;
	pid_t pp;

	ASSERT_EQ(0, start(_metadata, self, argv));
	pp = self->child;
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	st = finish(self, 180);
	ASSERT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_LT(0, read_file(self->log, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "done ok"));
	EXPECT_NE(NULL, strstr(buf, "failed exec"));
	for (k = 0; k < 3; k++) {
		snprintf(want, sizeof(want), "echo %s pid ", words[k]);
		EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("no '%s'", want);
		snprintf(want, sizeof(want), "ppid %d", pp);
		EXPECT_NE(NULL, strstr(buf, want));
	}
}

/*
 * A process that executed a program where it runs is that program at home too (command line,
 * name) and can come home: the deputy's vDSO followed the new program's.
 */
TEST_F_TIMEOUT(tree, exec_then_home, 120)
{
	char *argv[] = { "forker", "exec", NULL };
	struct mosix_migrate m = { .node = 0 };
	char buf[4096], path[64];
	double t0;
	int st, n;

	ASSERT_EQ(0, start(_metadata, self, argv));
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	for (t0 = now(); now() - t0 < 30; usleep(100000))
		if (read_file(self->log, buf, sizeof(buf)) > 0 && strstr(buf, "burn "))
			break;
	ASSERT_NE(NULL, strstr(buf, "burn ")) TH_LOG("the new program did not start");
	EXPECT_EQ(self->n2, where(self->dev, self->child));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", self->child);
	n = read_file(path, buf, sizeof(buf));
	ASSERT_LT(0, n);
	for (int k = 0; k < n; k++)
		if (!buf[k])
			buf[k] = ' ';
	TH_LOG("cmdline at home after the exec: %s", buf);
	EXPECT_NE(NULL, strstr(buf, "burn 6"));
	m.pid = self->child;
	ASSERT_EQ(0, ioctl(self->dev, MOSIX_IOC_MIGRATE, &m)) TH_LOG("MIGRATE home: %s (reason %u)",
								      strerror(errno), m.reason);
	EXPECT_EQ(self->home, where(self->dev, self->child));
	st = finish(self, 60);
	ASSERT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_LT(0, read_file(self->log, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "burned"));
}

/* Counter `name` of node at's /proc/hpc/info/migration (through its agent), or -1. */
static long node_counter(int at, const char *name)
{
	char out[4096], *p;
	size_t n = strlen(name);

	if (agent(at, "hpc?info/migration", out, sizeof(out)))
		return -1;
	for (p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtol(p + n + 1, NULL, 10);
	return -1;
}

/*
 * A shell loop of 200 iterations, each running busybox programs by path (fork + exec of
 * /bin/busybox, which the shell cannot run as a built-in applet), migrated to node 2 before its
 * first iteration: the shell and its children stay there (the shell sampled every 100 ms, no
 * process comes home), each exec runs on node 2, and the output is the same as at home.
 */
#define LOOP "i=0; read go; while [ $i -lt 200 ]; do /bin/busybox expr $i \\* $i; " \
	"/bin/busybox printf '%s\\n' x$i | /bin/busybox tr x y; i=$((i + 1)); done; echo end\n"

static int run_script(struct __test_metadata *_metadata, FIXTURE_DATA(tree) *self, const char *script,
		      int migrate, char *out, size_t len, int *samples, int *away)
{
	char *argv[] = { "sh", (char *)script, NULL };
	struct mosix_migrate m = { .node = self->n2 };
	int fds[2], fd, st;
	double t0;

	*samples = *away = 0;
	if (pipe(fds))
		return -1;
	snprintf(self->log, sizeof(self->log), "/tmp/forktree-loop-%d.log", migrate);
	self->child = fork();
	if (self->child == 0) {
		fd = open(self->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fds[0], 0);
		dup2(fd, 1);
		close(fds[1]);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(fds[0]);
	usleep(300000);
	if (migrate) {
		m.pid = self->child;
		if (ioctl(self->dev, MOSIX_IOC_MIGRATE, &m)) {
			TH_LOG("MIGRATE %d: %s (reason %u)", self->child, strerror(errno), m.reason);
			return -1;
		}
	}
	t0 = now();
	if (write(fds[1], "go\n", 3) != 3)
		return -1;
	close(fds[1]);
	for (;;) {
		if (waitpid(self->child, &st, WNOHANG) == self->child)
			break;
		if (now() - t0 > 300)
			return -1;
		if (migrate) {
			(*samples)++;
			*away += where(self->dev, self->child) == self->n2;
		}
		usleep(100000);
	}
	self->child = 0;
	TH_LOG("loop %s: %.1f s, status %#x", migrate ? "migrated to node 2" : "at home", now() - t0, st);
	if (read_file(self->log, out, len) <= 0)
		return -1;
	unlink(self->log);
	self->log[0] = 0;
	return st;
}

TEST_F_TIMEOUT(tree, shell_loop_stays_remote, 600)
{
	static char home[16384], away[16384];
	long home0 = info_counter("migration", "home"), forks0 = info_counter("migration", "forks_home");
	long exec0 = node_counter(self->n2, "exec_remote");
	int samples, there, fd;

	fd = open("/tmp/forktree-loop.sh", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(LOOP), write(fd, LOOP, strlen(LOOP)));
	close(fd);
	ASSERT_EQ(0, run_script(_metadata, self, "/tmp/forktree-loop.sh", 0, home, sizeof(home), &samples,
				&there));
	ASSERT_NE(NULL, strstr(home, "39601\ny199\nend\n")) TH_LOG("%.200s", home);
	ASSERT_EQ(0, run_script(_metadata, self, "/tmp/forktree-loop.sh", 1, away, sizeof(away), &samples,
				&there));
	EXPECT_STREQ(home, away);
	EXPECT_EQ(samples, there) TH_LOG("the shell was on node 2 in %d of %d samples", there, samples);
	EXPECT_LT(10, samples);
	EXPECT_EQ(home0, info_counter("migration", "home")) TH_LOG("processes came home");
	EXPECT_LE(forks0 + 600, info_counter("migration", "forks_home"));
	EXPECT_LE(exec0 + 600, node_counter(self->n2, "exec_remote"));
	TH_LOG("%d samples, all on node 2: %s; forks_home +%ld, node 2 exec_remote +%ld", samples,
	       samples == there ? "yes" : "no", info_counter("migration", "forks_home") - forks0,
	       node_counter(self->n2, "exec_remote") - exec0);
	unlink("/tmp/forktree-loop.sh");
}

/* VmSize of pid (kB, from /proc/PID/status), or -1. */
static long vm_size_kib(pid_t pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "VmSize:")))
		return -1;
	return atol(p + 7);
}

/*
 * A guest that executes 30 programs one after the other on node 2: each exec runs there, and its
 * deputy at home replaces the memory that shows the arguments instead of adding an area each
 * time (measured before the fix: 288 kB grew to 408 kB over 30 execs).
 */
TEST_F_TIMEOUT(tree, exec_chain_keeps_deputy_small, 120)
{
	char *argv[] = { "forker", "chainstart", NULL };
	long exec0 = node_counter(self->n2, "exec_remote"), before, after;
	char buf[4096];
	double t0;
	int st;

	ASSERT_EQ(0, start(_metadata, self, argv));
	before = vm_size_kib(self->child);
	ASSERT_EQ(3, write(self->go, "go\n", 3));
	for (t0 = now(); now() - t0 < 60; usleep(100000))
		if (read_file(self->log, buf, sizeof(buf)) > 0 && strstr(buf, "chained"))
			break;
	ASSERT_NE(NULL, strstr(buf, "chained")) TH_LOG("%s", buf);
	EXPECT_EQ(self->n2, where(self->dev, self->child));
	after = vm_size_kib(self->child);
	TH_LOG("deputy VmSize %ld kB before, %ld kB after 31 execs on node 2 (exec_remote +%ld)", before,
	       after, node_counter(self->n2, "exec_remote") - exec0);
	EXPECT_LT(0, before);
	EXPECT_LE(after, before + 8);
	EXPECT_LE(exec0 + 31, node_counter(self->n2, "exec_remote"));
	ASSERT_EQ(1, write(self->go, "\n", 1));
	st = finish(self, 30);
	EXPECT_TRUE(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
}

/*
 * Debian's dynamically linked xz, executed by a migrated shell: the exec runs on node 2 (the
 * kernel there loads the interpreter), the loader maps ld.so.cache, liblzma and libc from node
 * 2's own identical files (descriptors at home, path and SHA-256 checked), nothing comes home,
 * and the output is the same as at home.
 */
TEST_F_TIMEOUT(tree, dynamic_exec, 180)
{
	static char home[4096], away[4096];
	const char *script = "read go; echo abc | /usr/bin/xz -1 | /usr/bin/xz -d; /usr/bin/xz --version\n";
	int samples, there, fd = open("/tmp/forktree-dyn.sh", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long home0, maps0, mhome0, exec0;

	if (access("/usr/bin/xz", X_OK))
		SKIP(return, "no /usr/bin/xz in this image");
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(script), write(fd, script, strlen(script)));
	close(fd);
	ASSERT_EQ(0, run_script(_metadata, self, "/tmp/forktree-dyn.sh", 0, home, sizeof(home), &samples,
				&there));
	home0 = info_counter("migration", "home");
	maps0 = node_counter(self->n2, "maps_remote");
	mhome0 = node_counter(self->n2, "maps_home");
	exec0 = node_counter(self->n2, "exec_remote");
	ASSERT_EQ(0, run_script(_metadata, self, "/tmp/forktree-dyn.sh", 1, away, sizeof(away), &samples,
				&there));
	EXPECT_NE(NULL, strstr(home, "abc\nxz (XZ Utils)")) TH_LOG("%s", home);
	EXPECT_STREQ(home, away);
	/* Three runs of xz, each mapping ld.so.cache and two libraries (several segments each). */
	EXPECT_LE(exec0 + 3, node_counter(self->n2, "exec_remote"));
	EXPECT_LE(maps0 + 9, node_counter(self->n2, "maps_remote"));
	EXPECT_EQ(mhome0, node_counter(self->n2, "maps_home"));
	EXPECT_EQ(home0, info_counter("migration", "home")) TH_LOG("processes came home");
	TH_LOG("node 2: exec_remote +%ld, maps_remote +%ld, maps_home +%ld; came home: %ld",
	       node_counter(self->n2, "exec_remote") - exec0, node_counter(self->n2, "maps_remote") - maps0,
	       node_counter(self->n2, "maps_home") - mhome0, info_counter("migration", "home") - home0);
	unlink("/tmp/forktree-dyn.sh");
}

TEST_HARNESS_MAIN
