// SPDX-License-Identifier: GPL-2.0
/*
 * corpus: small process-state checks for the migration tests, one kind of state per case. A case
 * sets its state up at the start and later checks that it is still exactly right, wherever the
 * process runs by then.
 *
 *   corpus list          one line per case: NAME<TAB>EXPECT. EXPECT is "-" when the process must
 *                        be able to move, "home" when it moves and its check makes a call that
 *                        brings it home, else the refusal migration prints for it ("writable
 *                        shared memory", "multi-threaded", "real-time scheduling", "signalfd
 *                        open" or "POSIX CPU-time timer armed").
 *   corpus run NAME DIR  sets case NAME up and prints "ready". Then, for steps 1 and 2, waits for
 *                        the file DIR/goN (looked for every 10 ms; after 600 s it prints "timeout
 *                        waiting for goN" and exits 3), runs the case's check and prints "check N
 *                        ok" or "check N FAIL: <what was seen, what was expected>". After step 2
 *                        it cleans up and exits 0 when both checks passed, 1 when one did not (or
 *                        the setup failed: "setup FAIL: ..."), 2 for a usage error or unknown NAME.
 *
 * The driver starts "corpus run NAME DIR" on node 1, migrates it to node 2, then node 3, creates
 * go1 (the check runs on node 3), brings it home and creates go2 (the check runs at home).
 * Unmigrated, the two steps run in place. DIR is a writable directory (a tmpfs at home) that holds
 * every file a case creates. The process itself never forks or execs (its pid and parent must
 * stay); cases that need children fork them as part of their state. Checks compare against values
 * recorded at setup or against constants; since a step can come tens of seconds after the one
 * before, timers are checked by what they do during a fixed wait inside the check.
 *
 * x86-64 only: the fpu cases use its instructions, and the wait for goN uses raw system calls so
 * that errno, which the tls case checks, is not touched between setup and the checks.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

#define KiB 1024UL
#define MiB (1024 * KiB)
#define MS 1000000LL		/* nanoseconds */
#define NSIGS 65
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * What migration does with a case: MOVES (it moves and its checks run where it is), GOES_HOME
 * (it moves, and its check makes a call that brings it home: Documentation/syscalls.md), or the
 * refusal migration prints for it.
 */
#define MOVES "-"
#define GOES_HOME "home"
#define SHARED "writable shared memory"
#define THREADED "multi-threaded"
#define REALTIME "real-time scheduling"
#define SIGNALFD "signalfd open"
#define CPU_TIMER "POSIX CPU-time timer armed"

extern char **environ;

static char why[1024];			/* the first failure of the current setup or check */
static const char *dir;			/* DIR, absolute */
static long page;
static char **args;			/* main's argv */
static unsigned char *stack_area;	/* STACK_BYTES in main's frame, for the stack case */
static unsigned char scratch[256 * KiB];
static char text[64 * KiB];

/* ---- helpers ---- */

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	if (!why[0]) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* fail() with ": strerror(errno)" appended. */
static int __attribute__((format(printf, 1, 2))) sysfail(const char *fmt, ...)
{
	int e = errno;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail("%s: %s", msg, strerror(e));
}

#define EXPECT(what, seen, want)                                                        \
	do {                                                                            \
		long long seen_ = (long long)(seen), want_ = (long long)(want);         \
		if (seen_ != want_)                                                     \
			return fail("%s is %lld, expected %lld", what, seen_, want_);  \
	} while (0)

/* A read or write of WANT bytes that returned N. */
static int io(ssize_t n, size_t want, const char *what)
{
	if (n == (ssize_t)want)
		return 0;
	return n < 0 ? sysfail("%s", what) : fail("%s returned %zd, expected %zu", what, n, want);
}

/* DIR/name, in one of four rotating buffers. */
static const char * __attribute__((format(printf, 1, 2))) path(const char *fmt, ...)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];
	int n = snprintf(p, PATH_MAX, "%s/", dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return p;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Byte OFF of the pattern SEED. */
static unsigned char pat(uint64_t seed, size_t off)
{
	return mix(seed << 40 ^ off >> 3) >> (off & 7) * 8;
}

static void fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;

	for (size_t k = 0; k < n; k++)
		b[k] = pat(seed, k);
}

/* P holds bytes OFF to OFF + N of the pattern SEED. */
static int verify(const void *p, size_t n, uint64_t seed, size_t off, const char *what)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < n; k++)
		if (b[k] != pat(seed, off + k))
			return fail("%s: byte %zu is %#x, expected %#x", what, off + k, b[k],
				    pat(seed, off + k));
	return 0;
}

/* Offset of the first nonzero byte, -1 if none. */
static ssize_t nonzero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < n; k++)
		if (b[k])
			return k;
	return -1;
}

static uint64_t checksum(const void *p, size_t n)
{
	const uint64_t *w = p;
	uint64_t s = 0;

	for (size_t i = 0; i < n / 8; i++)
		s = (s ^ w[i]) * 0x100000001b3ULL;
	return s;
}

/* Writes one word per page, reads it back and puts the old value back. */
static int writable(void *p, size_t n, const char *what)
{
	for (size_t off = 0; off + 8 <= n; off += page) {
		volatile uint64_t *w = (volatile uint64_t *)((char *)p + off);
		uint64_t old = *w;

		*w = ~old;
		if (*w != ~old)
			return fail("%s: a write at offset %zu did not stick", what, off);
		*w = old;
	}
	return 0;
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, 1);
}

/* Whether reading (or writing) the byte at P raises SIGSEGV. */
static int faults(volatile unsigned char *p, int write)
{
	struct sigaction sa = { .sa_handler = on_fault }, old;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(fault_jmp, 1)) {
		sigaction(SIGSEGV, &old, NULL);
		return 1;
	}
	if (write)
		*p = 0x5a;
	else
		(void)*p;
	sigaction(SIGSEGV, &old, NULL);
	return 0;
}

static void *map_anon(size_t n, int flags)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Creates the file P with N bytes of the pattern SEED and opens it with FLAGS: fd, or -1. */
static int make_file(const char *p, size_t n, uint64_t seed, int flags)
{
	unsigned char *buf = malloc(n);
	int fd = buf ? open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
	ssize_t w;

	if (fd < 0) {
		free(buf);
		return sysfail("create %s", p);
	}
	fill(buf, n, seed);
	w = write(fd, buf, n);
	free(buf);
	close(fd);
	if (io(w, n, "write"))
		return -1;
	fd = open(p, flags);
	return fd < 0 ? sysfail("open %s", p) : fd;
}

#define FMAP_BYTES (256 * KiB)

/* Maps DIR/NAME, made with FMAP_BYTES of the pattern SEED and opened with OFLAGS. */
static unsigned char *map_file(const char *name, uint64_t seed, int oflags, int prot, int flags,
			       int *fdp)
{
	int fd = make_file(path("%s", name), FMAP_BYTES, seed, oflags);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, FMAP_BYTES, prot, flags, fd, 0);
	if (p == MAP_FAILED) {
		sysfail("mmap %s", name);
		close(fd);
		return NULL;
	}
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return p;
}

/* Reads N bytes from a pipe or socket, waiting at most 2 s for each part. */
static int read_exact(int fd, void *buf, size_t n, const char *what)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 2000) <= 0)
			return fail("%s: %zu of %zu bytes came", what, got, n);
		r = read(fd, (char *)buf + got, n - got);
		if (r < 0)
			return sysfail("%s: read", what);
		if (!r)
			return fail("%s: end of file after %zu of %zu bytes", what, got, n);
		got += r;
	}
	return 0;
}

/* Reads the file P whole into BUF (NUL-terminated): its length, -1 on error. */
static ssize_t read_text(const char *p, char *buf, size_t size)
{
	int fd = open(p, O_RDONLY);
	size_t len = 0;
	ssize_t r = 0;

	if (fd < 0)
		return sysfail("open %s", p);
	while (len < size - 1 && (r = read(fd, buf + len, size - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	return r < 0 ? sysfail("read %s", p) : (ssize_t)len;
}

static long long ns(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ms(long ms)
{
	long long end = ns(CLOCK_MONOTONIC) + ms * MS;
	struct timespec t = { end / 1000000000, end % 1000000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* Computes (in user mode, mostly) until the process CPU clock has advanced by MS ms. */
static void burn_ms(long ms)
{
	long long end = ns(CLOCK_PROCESS_CPUTIME_ID) + ms * MS;
	volatile uint64_t x = 1;

	while (ns(CLOCK_PROCESS_CPUTIME_ID) < end)
		for (int k = 0; k < 100000; k++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* A counting handler for any signal, with what the last one carried. */
static volatile sig_atomic_t sig_count[NSIGS], sig_code[NSIGS], sig_value[NSIGS], sig_pid[NSIGS];

static void on_count(int sig, siginfo_t *si, void *uc)
{
	sig_count[sig]++;
	sig_code[sig] = si->si_code;
	sig_value[sig] = si->si_value.sival_int;
	sig_pid[sig] = si->si_pid;
}

static int catch_count(int sig, int flags)
{
	struct sigaction sa = { .sa_sigaction = on_count, .sa_flags = SA_SIGINFO | SA_RESTART | flags };

	return sigaction(sig, &sa, NULL) ? sysfail("sigaction %d", sig) : 0;
}

/* Waits at most MS ms for SIG to have been counted WANT times; the count. */
static int wait_count(int sig, int want, long ms)
{
	long long end = ns(CLOCK_MONOTONIC) + ms * MS;

	while (sig_count[sig] < want && ns(CLOCK_MONOTONIC) < end)
		sleep_ms(10);
	return sig_count[sig];
}

static int block(int sig, int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	return sigprocmask(how, &s, NULL) ? sysfail("sigprocmask") : 0;
}

/* The first signal in one set and not in the other, 0 when they are the same. */
static int mask_diff(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s < NSIGS; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return s;
	return 0;
}

/*
 * Forks a child that sleeps (and, with COUNTER, increments it every 10 ms) until its parent dies
 * or for 600 s.
 */
static pid_t spawn(volatile uint64_t *counter)
{
	pid_t parent = getpid(), pid = fork();
	long long end;

	if (pid)
		return pid < 0 ? sysfail("fork") : pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (end = ns(CLOCK_MONOTONIC) + 600000 * MS; ns(CLOCK_MONOTONIC) < end; sleep_ms(10))
		if (counter)
			++*counter;
	_exit(0);
}

/* waitpid(PID) polled for at most MS ms: the pid, 0 on time-out, -1 on error. */
static pid_t reap(pid_t pid, int *status, long ms)
{
	long long end = ns(CLOCK_MONOTONIC) + ms * MS;
	pid_t r;

	while (!(r = waitpid(pid, status, WNOHANG)) && ns(CLOCK_MONOTONIC) < end)
		sleep_ms(10);
	return r;
}

static void kill_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

/* ---- memory ---- */

#define HEAP_BYTES (8 * MiB)
static unsigned char *heap;

static int setup_heap(void)
{
	heap = malloc(HEAP_BYTES);
	if (!heap)
		return sysfail("malloc");
	fill(heap, HEAP_BYTES, 1);
	return 0;
}

static int check_heap(int step)
{
	return verify(heap, HEAP_BYTES, 1, 0, "heap") ?: writable(heap, HEAP_BYTES, "heap");
}

#define STACK_BYTES (256 * KiB)

static int setup_stack(void)
{
	fill(stack_area, STACK_BYTES, 2);
	return 0;
}

static int check_stack(int step)
{
	return verify(stack_area, STACK_BYTES, 2, 0, "stack") ?:
	       writable(stack_area, STACK_BYTES, "stack");
}

#define BRK_BYTES MiB
static unsigned char *brk_area;
static void *brk_end;

static int setup_brk(void)
{
	brk_area = sbrk(BRK_BYTES);
	if (brk_area == (void *)-1)
		return sysfail("sbrk");
	brk_end = sbrk(0);
	fill(brk_area, BRK_BYTES, 3);
	return 0;
}

static int check_brk(int step)
{
	void *end = sbrk(0);

	if (end != brk_end)
		return fail("the break is %p, expected %p", end, brk_end);
	return verify(brk_area, BRK_BYTES, 3, 0, "brk area") ?: writable(brk_area, BRK_BYTES, "brk area");
}

#define BIG_MEMORY_BYTES (32 * MiB)
static unsigned char *big_memory;
static uint64_t big_memory_sum;

static int setup_big_memory(void)
{
	big_memory = map_anon(BIG_MEMORY_BYTES, MAP_PRIVATE);
	if (!big_memory)
		return sysfail("mmap");
	fill(big_memory, BIG_MEMORY_BYTES, 4);
	big_memory_sum = checksum(big_memory, BIG_MEMORY_BYTES);
	return 0;
}

static int check_big_memory(int step)
{
	uint64_t sum = checksum(big_memory, BIG_MEMORY_BYTES);

	if (sum != big_memory_sum)
		return fail("checksum of 32 MiB is %#llx, expected %#llx", (unsigned long long)sum,
			    (unsigned long long)big_memory_sum);
	return writable(big_memory, BIG_MEMORY_BYTES, "big mapping");
}

#define SPARSE_BYTES (256 * MiB)
#define SPARSE_WORDS 16
static unsigned char *sparse;

/* Where word I goes: one in every 16 MiB, at varying pages. */
static size_t sparse_at(int i)
{
	return i * 16 * MiB + (i * 7 % 13) * page;
}

static int setup_sparse(void)
{
	sparse = map_anon(SPARSE_BYTES, MAP_PRIVATE | MAP_NORESERVE);
	if (!sparse)
		return sysfail("mmap");
	for (int i = 0; i < SPARSE_WORDS; i++)
		*(uint64_t *)(sparse + sparse_at(i)) = mix(i);
	return 0;
}

static int check_sparse(int step)
{
	for (int i = 0; i < SPARSE_WORDS; i++) {
		size_t at = sparse_at(i), quiet = at + 8 * MiB;
		uint64_t w = *(uint64_t *)(sparse + at);

		if (w != mix(i))
			return fail("word at %#zx is %#llx, expected %#llx", at, (unsigned long long)w,
				    (unsigned long long)mix(i));
		if (nonzero(sparse + at + 8, page - 8) >= 0 || nonzero(sparse + quiet, page) >= 0)
			return fail("the page at %#zx or %#zx is no longer zero", at, quiet);
	}
	return 0;
}

#define ZERO_BYTES (4 * MiB)
static unsigned char *zero_pages;

static int setup_zero_pages(void)
{
	zero_pages = map_anon(ZERO_BYTES, MAP_PRIVATE);
	if (!zero_pages)
		return sysfail("mmap");
	memset(zero_pages, 0, ZERO_BYTES);
	return 0;
}

static int check_zero_pages(int step)
{
	ssize_t at = nonzero(zero_pages, ZERO_BYTES);

	if (at >= 0)
		return fail("byte %zd is %#x, expected 0", at, zero_pages[at]);
	return writable(zero_pages, ZERO_BYTES, "zeroed mapping");
}

#define RO_BYTES (64 * KiB)
static unsigned char *readonly;

static int setup_readonly(void)
{
	readonly = map_anon(RO_BYTES, MAP_PRIVATE);
	if (!readonly)
		return sysfail("mmap");
	fill(readonly, RO_BYTES, 5);
	return mprotect(readonly, RO_BYTES, PROT_READ) ? sysfail("mprotect") : 0;
}

static int check_readonly(int step)
{
	if (verify(readonly, RO_BYTES, 5, 0, "read-only mapping"))
		return -1;
	return faults(readonly + 3 * page + 8, 1) ? 0 : fail("a write to the read-only mapping did not fault");
}

#define GUARD_PART (64 * KiB)
static unsigned char *guard;

static int setup_guard(void)
{
	guard = map_anon(3 * GUARD_PART, MAP_PRIVATE);
	if (!guard)
		return sysfail("mmap");
	fill(guard, GUARD_PART, 6);
	fill(guard + 2 * GUARD_PART, GUARD_PART, 7);
	return mprotect(guard + GUARD_PART, GUARD_PART, PROT_NONE) ? sysfail("mprotect") : 0;
}

static int check_guard(int step)
{
	if (verify(guard, GUARD_PART, 6, 0, "region below the guard") ||
	    verify(guard + 2 * GUARD_PART, GUARD_PART, 7, 0, "region above the guard"))
		return -1;
	if (!faults(guard + GUARD_PART, 0) || !faults(guard + 2 * GUARD_PART - 1, 0))
		return fail("reading the PROT_NONE guard did not fault");
	return writable(guard, GUARD_PART, "below the guard") ?:
	       writable(guard + 2 * GUARD_PART, GUARD_PART, "above the guard");
}

static unsigned char *remapped;

static int setup_mremap(void)
{
	unsigned char *p = map_anon(MiB, MAP_PRIVATE);

	if (!p)
		return sysfail("mmap");
	fill(p, MiB, 8);
	remapped = mremap(p, MiB, 4 * MiB, MREMAP_MAYMOVE);
	return remapped == MAP_FAILED ? sysfail("mremap") : 0;
}

static int check_mremap(int step)
{
	ssize_t at = nonzero(remapped + MiB, 3 * MiB);

	if (verify(remapped, MiB, 8, 0, "moved part"))
		return -1;
	if (at >= 0)
		return fail("byte %zd of the grown tail is %#x, expected 0", at, remapped[MiB + at]);
	return writable(remapped, 4 * MiB, "remapped area");
}

#define TLS_ERRNO 4242
static __thread uint64_t tls_value;
static unsigned long tls_fs;
static int *tls_errno_at;

static int setup_tls(void)
{
	tls_value = mix(9);
	tls_errno_at = &errno;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &tls_fs))
		return sysfail("arch_prctl");
	errno = TLS_ERRNO;	/* the last thing before "ready", untouched until the check */
	return 0;
}

static int check_tls(int step)
{
	int e = errno;
	unsigned long fs = 0;

	EXPECT("errno", e, TLS_ERRNO);
	if (&errno != tls_errno_at)
		return fail("errno is at %p, expected %p", (void *)&errno, (void *)tls_errno_at);
	if (tls_value != mix(9))
		return fail("__thread variable is %#llx, expected %#llx", (unsigned long long)tls_value,
			    (unsigned long long)mix(9));
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	if (fs != tls_fs)
		return fail("FS base is %#lx, expected %#lx", fs, tls_fs);
	errno = TLS_ERRNO;
	return 0;
}

/* ---- files and descriptors ---- */

#define BIG 1000000
static unsigned char *big_buf;
static int big_fd;

static int setup_big_read(void)
{
	big_buf = malloc(BIG);
	if (!big_buf)
		return sysfail("malloc");
	big_fd = make_file(path("big_read"), BIG, 10, O_RDONLY);
	return big_fd < 0 ? -1 : 0;
}

static int check_big_read(int step)
{
	memset(big_buf, 0, BIG);
	if (lseek(big_fd, 0, SEEK_SET))
		return sysfail("lseek");
	if (io(read(big_fd, big_buf, BIG), BIG, "read") || verify(big_buf, BIG, 10, 0, "read"))
		return -1;
	memset(big_buf, 0, BIG);
	return io(pread(big_fd, big_buf, BIG, 0), BIG, "pread") ?: verify(big_buf, BIG, 10, 0, "pread");
}

static int setup_big_write(void)
{
	big_buf = malloc(BIG);
	return big_buf ? 0 : sysfail("malloc");
}

static int check_big_write(int step)
{
	const char *p = path("big_write.%d", step);
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644), r;

	if (fd < 0)
		return sysfail("create %s", p);
	fill(big_buf, BIG, 20 + step);
	r = io(write(fd, big_buf, BIG), BIG, "write");
	memset(big_buf, 0, BIG);
	r = r ?: io(pread(fd, big_buf, BIG, 0), BIG, "pread") ?:
		 verify(big_buf, BIG, 20 + step, 0, "file read back");
	close(fd);
	return r;
}

static int offset_fd;
static off_t offset_pos;

static int setup_file_offset(void)
{
	offset_fd = make_file(path("offset"), 4096, 11, O_RDONLY);
	if (offset_fd < 0 || io(read(offset_fd, scratch, 100), 100, "read"))
		return -1;
	offset_pos = 100;
	return 0;
}

static int check_file_offset(int step)
{
	EXPECT("file offset", lseek(offset_fd, 0, SEEK_CUR), offset_pos);
	if (io(read(offset_fd, scratch, 100), 100, "read") ||
	    verify(scratch, 100, 11, offset_pos, "bytes read"))
		return -1;
	offset_pos += 100;
	return 0;
}

static int dup_a, dup_b;
static off_t dup_pos;

static int setup_dup_offset(void)
{
	dup_a = make_file(path("dup"), 64 * KiB, 12, O_RDONLY);
	if (dup_a < 0 || (dup_b = dup(dup_a)) < 0)
		return dup_a < 0 ? -1 : sysfail("dup");
	dup_pos = lseek(dup_a, 500, SEEK_SET);
	return 0;
}

static int check_dup_offset(int step)
{
	EXPECT("offset of the dup", lseek(dup_b, 0, SEEK_CUR), dup_pos);
	if (io(read(dup_b, scratch, 16), 16, "read") || verify(scratch, 16, 12, dup_pos, "read of the dup"))
		return -1;
	EXPECT("offset of the original after reading the dup", lseek(dup_a, 0, SEEK_CUR), dup_pos + 16);
	dup_pos = lseek(dup_a, 1000 * step + 7, SEEK_SET);
	EXPECT("offset of the dup after seeking the original", lseek(dup_b, 0, SEEK_CUR), 1000 * step + 7);
	return 0;
}

static int append_fd;
static off_t append_size;

static int setup_append(void)
{
	append_fd = open(path("append"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (append_fd < 0)
		return sysfail("open");
	append_size = 6;
	return io(write(append_fd, "setup\n", 6), 6, "write");
}

static int check_append(int step)
{
	char line[32], back[32];
	int n = snprintf(line, sizeof(line), "step %d\n", step), fl = fcntl(append_fd, F_GETFL), fd, r;
	struct stat st;

	if (fl < 0 || !(fl & O_APPEND))
		return fail("file status flags are %#x, without O_APPEND", fl);
	lseek(append_fd, 0, SEEK_SET);	/* O_APPEND writes at the end all the same */
	if (io(write(append_fd, line, n), n, "write") || fstat(append_fd, &st))
		return -1;
	EXPECT("file size", st.st_size, append_size + n);
	EXPECT("offset after the write", lseek(append_fd, 0, SEEK_CUR), append_size + n);
	fd = open(path("append"), O_RDONLY);
	r = io(pread(fd, back, n, append_size), n, "pread");
	close(fd);
	if (!r && memcmp(back, line, n))
		return fail("the file ends with \"%.*s\", expected \"%.*s\"", n - 1, back, n - 1, line);
	append_size += n;
	return r;
}

static int cloexec_on, cloexec_off;

static int setup_cloexec(void)
{
	cloexec_on = open(path("cloexec"), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	cloexec_off = open(path("cloexec"), O_RDWR);
	return cloexec_on < 0 || cloexec_off < 0 ? sysfail("open") : 0;
}

static int check_cloexec(int step)
{
	EXPECT("F_GETFD of the O_CLOEXEC descriptor", fcntl(cloexec_on, F_GETFD), FD_CLOEXEC);
	EXPECT("F_GETFD of the other descriptor", fcntl(cloexec_off, F_GETFD), 0);
	return 0;
}

static int nb_pipe[2];

static int setup_nonblock(void)
{
	if (pipe(nb_pipe))
		return sysfail("pipe");
	return fcntl(nb_pipe[0], F_SETFL, fcntl(nb_pipe[0], F_GETFL) | O_NONBLOCK) ? sysfail("F_SETFL") : 0;
}

static int check_nonblock(int step)
{
	int rd = fcntl(nb_pipe[0], F_GETFL), wr = fcntl(nb_pipe[1], F_GETFL);
	ssize_t r;
	char c;

	if (rd < 0 || !(rd & O_NONBLOCK) || wr < 0 || (wr & O_NONBLOCK))
		return fail("F_GETFL gives %#x for the read end, %#x for the write end; expected O_NONBLOCK "
			    "on the read end only", rd, wr);
	r = read(nb_pipe[0], &c, 1);
	if (r != -1 || errno != EAGAIN)
		return fail("a read of the empty pipe returned %zd (%s), expected EAGAIN", r,
			    r < 0 ? strerror(errno) : "no error");
	return 0;
}

static int unlinked_fd;

static int setup_unlinked_file(void)
{
	unlinked_fd = make_file(path("unlinked"), 64 * KiB, 13, O_RDWR);
	if (unlinked_fd < 0)
		return -1;
	return unlink(path("unlinked")) ? sysfail("unlink") : 0;
}

static int check_unlinked_file(int step)
{
	struct stat st;

	if (fstat(unlinked_fd, &st))
		return sysfail("fstat");
	EXPECT("st_nlink", st.st_nlink, 0);
	EXPECT("st_size", st.st_size, 64 * KiB);
	return io(pread(unlinked_fd, scratch, 64 * KiB, 0), 64 * KiB, "pread") ?:
	       verify(scratch, 64 * KiB, 13, 0, "unlinked file");
}

static char cwd_want[PATH_MAX];

static int setup_cwd(void)
{
	int fd;

	snprintf(cwd_want, sizeof(cwd_want), "%s", path("sub"));
	if (mkdir(cwd_want, 0755) || chdir(cwd_want))
		return sysfail("mkdir and chdir %s", cwd_want);
	fd = make_file("relative", 4096, 14, O_RDONLY);
	return fd < 0 ? -1 : close(fd);
}

static int check_cwd(int step)
{
	char now[PATH_MAX];
	int fd, r;

	if (!getcwd(now, sizeof(now)))
		return sysfail("getcwd");
	if (strcmp(now, cwd_want))
		return fail("the working directory is %s, expected %s", now, cwd_want);
	fd = open("relative", O_RDONLY);
	if (fd < 0)
		return sysfail("open relative");
	r = io(read(fd, scratch, 4096), 4096, "read") ?: verify(scratch, 4096, 14, 0, "relative");
	close(fd);
	return r;
}

static int setup_umask(void)
{
	umask(027);
	return 0;
}

static int check_umask(int step)
{
	mode_t old = umask(027);
	int fd = open(path("umask.%d", step), O_WRONLY | O_CREAT | O_EXCL, 0666);
	struct stat st;

	if (old != 027)
		return fail("umask is %#o, expected 027", old);
	if (fd < 0 || fstat(fd, &st))
		return sysfail("create a file");
	close(fd);
	if ((st.st_mode & 0777) != 0640)
		return fail("a file created with mode 0666 has mode %#o, expected 0640", st.st_mode & 0777);
	return 0;
}

/* Writes N (at most 4096) bytes of the pattern SEED to FD. */
static int send_pattern(int fd, size_t n, uint64_t seed)
{
	unsigned char buf[4096];

	fill(buf, n, seed);
	return io(write(fd, buf, n), n, "write");
}

/*
 * FD had TOTAL (at most 4096) bytes of the pattern SEED queued at setup: step 1 reads the first
 * third, step 2 the rest, and then nothing more may be there.
 */
static int stream_check(int fd, int step, size_t total, uint64_t seed, const char *what)
{
	size_t off = step == 1 ? 0 : total / 3, n = step == 1 ? total / 3 : total - total / 3;
	struct pollfd pfd = { fd, POLLIN, 0 };
	unsigned char buf[4096];
	int queued;

	if (ioctl(fd, FIONREAD, &queued))
		return sysfail("%s: FIONREAD", what);
	if (queued != (int)(total - off))
		return fail("%s: %d bytes queued, expected %zu", what, queued, total - off);
	if (read_exact(fd, buf, n, what) || verify(buf, n, seed, off, what))
		return -1;
	if (step == 2 && poll(&pfd, 1, 0))
		return fail("%s: more to read after the last byte (poll revents %#x)", what, pfd.revents);
	return 0;
}

static int data_pipe[2];

static int setup_pipe_data(void)
{
	return pipe(data_pipe) ? sysfail("pipe") : send_pattern(data_pipe[1], 3000, 15);
}

static int check_pipe_data(int step)
{
	return stream_check(data_pipe[0], step, 3000, 15, "pipe");
}

static int fifo_fd;

static int setup_fifo(void)
{
	if (mkfifo(path("fifo"), 0600))
		return sysfail("mkfifo");
	/* Read and write: opening does not wait for a peer. */
	fifo_fd = open(path("fifo"), O_RDWR);
	return fifo_fd < 0 ? sysfail("open fifo") : send_pattern(fifo_fd, 3000, 16);
}

static int check_fifo(int step)
{
	return stream_check(fifo_fd, step, 3000, 16, "fifo");
}

static int stream_pair[2];

static int setup_socketpair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, stream_pair))
		return sysfail("socketpair");
	return send_pattern(stream_pair[0], 1200, 17) ?: send_pattern(stream_pair[1], 1800, 18);
}

static int check_socketpair(int step)
{
	return stream_check(stream_pair[1], step, 1200, 17, "socket 0 to 1") ?:
	       stream_check(stream_pair[0], step, 1800, 18, "socket 1 to 0");
}

static int dgram_pair[2];
static const size_t dgram_len[3] = { 100, 1, 700 };

static int setup_dgram(void)
{
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram_pair))
		return sysfail("socketpair");
	for (int i = 0; i < 3; i++)
		if (send_pattern(dgram_pair[0], dgram_len[i], 19 + i))
			return -1;
	return 0;
}

static int check_dgram(int step)
{
	unsigned char buf[2048];
	ssize_t n;

	/* Step 1 receives the first datagram, step 2 the other two. */
	for (int i = step - 1; i < 2 * step - 1; i++) {
		n = recv(dgram_pair[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return sysfail("recv of datagram %d", i + 1);
		if (n != (ssize_t)dgram_len[i])
			return fail("datagram %d is %zd bytes, expected %zu", i + 1, n, dgram_len[i]);
		if (verify(buf, n, 19 + i, 0, "datagram"))
			return -1;
	}
	n = recv(dgram_pair[1], buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
	if (step == 2 && (n != -1 || errno != EAGAIN))
		return fail("recv after the last datagram returned %zd, expected EAGAIN", n);
	return 0;
}

static int tcp_listener, tcp_client, tcp_server, tcp_lport, tcp_cport;

/* The port of FD's own (or its peer's) address, -1 unless it is 127.0.0.1. */
static int port_of(int fd, int peer)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) :
		       getsockname(fd, (struct sockaddr *)&sa, &len);

	if (r || sa.sin_family != AF_INET || sa.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return -1;
	return ntohs(sa.sin_port);
}

static int setup_tcp_loopback(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	tcp_listener = socket(AF_INET, SOCK_STREAM, 0);
	tcp_client = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp_listener < 0 || tcp_client < 0 || bind(tcp_listener, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(tcp_listener, 1))
		return sysfail("socket, bind or listen");
	tcp_lport = port_of(tcp_listener, 0);
	sa.sin_port = htons(tcp_lport);
	if (connect(tcp_client, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (tcp_server = accept(tcp_listener, NULL, NULL)) < 0)
		return sysfail("connect or accept");
	tcp_cport = port_of(tcp_client, 0);
	return send_pattern(tcp_client, 2000, 22) ?: send_pattern(tcp_server, 3000, 23);
}

static int check_tcp_loopback(int step)
{
	EXPECT("listening port", port_of(tcp_listener, 0), tcp_lport);
	EXPECT("client's port", port_of(tcp_client, 0), tcp_cport);
	EXPECT("client's peer port", port_of(tcp_client, 1), tcp_lport);
	EXPECT("server's port", port_of(tcp_server, 0), tcp_lport);
	EXPECT("server's peer port", port_of(tcp_server, 1), tcp_cport);
	return stream_check(tcp_server, step, 2000, 22, "client to server") ?:
	       stream_check(tcp_client, step, 3000, 23, "server to client");
}

#define COOKIE 0x0123456789abcdefULL
static int epoll_fd, epoll_pipe[2];

static int setup_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = COOKIE };

	if (pipe(epoll_pipe) || (epoll_fd = epoll_create1(0)) < 0 ||
	    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, epoll_pipe[0], &ev))
		return sysfail("pipe, epoll_create1 or epoll_ctl");
	return send_pattern(epoll_pipe[1], 10, 24);
}

static int check_epoll(int step)
{
	struct epoll_event ev[4];
	uint64_t cookie;

	EXPECT("epoll_wait", epoll_wait(epoll_fd, ev, 4, 1000), 1);
	cookie = ev[0].data.u64;
	if (cookie != COOKIE)
		return fail("event data is %#llx, expected %#llx", (unsigned long long)cookie, COOKIE);
	return ev[0].events & EPOLLIN ? 0 : fail("events are %#x, without EPOLLIN", ev[0].events);
}

static int event_fd;

static int setup_eventfd(void)
{
	event_fd = eventfd(5, EFD_NONBLOCK);
	return event_fd < 0 ? sysfail("eventfd") : 0;
}

static int check_eventfd(int step)
{
	uint64_t v = 0;

	if (io(read(event_fd, &v, 8), 8, "eventfd read"))
		return -1;
	EXPECT("eventfd count", v, step == 1 ? 5 : 7);
	v = 7;
	return step == 1 ? io(write(event_fd, &v, 8), 8, "eventfd write") : 0;
}

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
static int mem_fd;

static int setup_memfd(void)
{
	mem_fd = memfd_create("corpus", MFD_ALLOW_SEALING);
	if (mem_fd < 0)
		return sysfail("memfd_create");
	fill(scratch, 64 * KiB, 25);
	if (io(write(mem_fd, scratch, 64 * KiB), 64 * KiB, "write"))
		return -1;
	return fcntl(mem_fd, F_ADD_SEALS, SEALS) ? sysfail("F_ADD_SEALS") : 0;
}

static int check_memfd(int step)
{
	int r;

	EXPECT("F_GET_SEALS", fcntl(mem_fd, F_GET_SEALS), SEALS);
	memset(scratch, 0, 64 * KiB);
	if (io(pread(mem_fd, scratch, 64 * KiB, 0), 64 * KiB, "pread") || verify(scratch, 64 * KiB, 25, 0, "memfd"))
		return -1;
	r = ftruncate(mem_fd, 4096);
	if (r != -1 || errno != EPERM)
		return fail("ftruncate of the sealed memfd returned %d (%s), expected EPERM", r,
			    r ? strerror(errno) : "no error");
	return 0;
}

static int timer_fd;

static int setup_timerfd(void)
{
	struct itimerspec its = { { 0, 50 * MS }, { 0, 50 * MS } };

	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL))
		return sysfail("timerfd");
	return 0;
}

static int check_timerfd(int step)
{
	struct pollfd pfd = { timer_fd, POLLIN, 0 };
	struct itimerspec its;
	uint64_t n = 0;

	if (timerfd_gettime(timer_fd, &its))
		return sysfail("timerfd_gettime");
	EXPECT("interval (ns)", its.it_interval.tv_sec * 1000000000LL + its.it_interval.tv_nsec, 50 * MS);
	poll(&pfd, 1, 1000);
	if (io(read(timer_fd, &n, 8), 8, "read"))
		return -1;
	sleep_ms(300);
	if (io(read(timer_fd, &n, 8), 8, "read after 300 ms"))
		return -1;
	return n >= 3 ? 0 : fail("%llu expirations in 300 ms, expected at least 3", (unsigned long long)n);
}

static int flock_fd;

static int setup_flock(void)
{
	flock_fd = open(path("flock"), O_RDWR | O_CREAT, 0644);
	return flock_fd < 0 || flock(flock_fd, LOCK_EX) ? sysfail("open or flock") : 0;
}

static int check_flock(int step)
{
	int fd = open(path("flock"), O_RDWR), r, e;

	if (fd < 0)
		return sysfail("open");
	r = flock(fd, LOCK_EX | LOCK_NB);
	e = errno;
	close(fd);
	if (r != -1 || e != EWOULDBLOCK)
		return fail("flock(LOCK_EX | LOCK_NB) of a second open returned %d (%s), expected EWOULDBLOCK",
			    r, r ? strerror(e) : "locked");
	return 0;
}

static ino_t lock_ino;

static int setup_posix_lock(void)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	int fd = open(path("posix_lock"), O_RDWR | O_CREAT, 0644);
	struct stat st;

	if (fd < 0 || fcntl(fd, F_SETLK, &l) || fstat(fd, &st))
		return sysfail("open, F_SETLK or fstat");
	lock_ino = st.st_ino;
	return 0;
}

static int check_posix_lock(int step)
{
	char kind[16], mode[16], start[32], end[32], *line, *next;
	unsigned long ino;
	int pid;

	if (read_text("/proc/locks", text, sizeof(text)) < 0)
		return -1;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		/* 1: POSIX  ADVISORY  WRITE 1234 00:2c:5678 0 99 */
		if (sscanf(line, "%*d: %15s %*s %15s %d %*x:%*x:%lu %31s %31s", kind, mode, &pid, &ino,
			   start, end) != 6 || strcmp(kind, "POSIX") || pid != getpid() || ino != lock_ino)
			continue;
		if (strcmp(mode, "WRITE") || strcmp(start, "0") || strcmp(end, "99"))
			return fail("our lock is %s %s-%s, expected WRITE 0-99", mode, start, end);
		return 0;
	}
	return fail("/proc/locks has no POSIX lock of pid %d on inode %lu", getpid(), (unsigned long)lock_ino);
}

static unsigned char *file_map;

static int setup_private_file_map(void)
{
	file_map = map_file("private", 30, O_RDONLY, PROT_READ, MAP_PRIVATE, NULL);
	return file_map ? 0 : -1;
}

/*
 * At home (step 2: both runs are home by then): the area at file_map is a mapping of file NAME
 * (in DIR) again, with ANON_KB kB of anonymous memory: the pages the process wrote, copied on
 * write; the others are the file's pages, shared with the page cache as before it moved.
 */
static int check_home_mapping(int step, const char *name, long anon_kb)
{
	char line[1024], start[32];
	const char *file = path("%s", name);
	int in = 0;
	long kb;
	FILE *f;

	if (step != 2)
		return 0;
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return sysfail("/proc/self/smaps");
	snprintf(start, sizeof(start), "%lx-", (unsigned long)file_map);
	while (fgets(line, sizeof(line), f)) {
		if (!in) {
			if (strncmp(line, start, strlen(start)))
				continue;
			in = 1;
			line[strcspn(line, "\n")] = 0;
			if (!strstr(line, file)) {
				fclose(f);
				return fail("the area at %p is '%s', not a mapping of %s", file_map, line, file);
			}
		} else if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) {
			fclose(f);
			if (kb != anon_kb)
				return fail("the mapping of %s holds %ld kB of anonymous memory, expected %ld",
					    file, kb, anon_kb);
			return 0;
		}
	}
	fclose(f);
	return fail("no area at %p (or no Anonymous line) in /proc/self/smaps", file_map);
}

static int check_file_map(int step)
{
	return verify(file_map, FMAP_BYTES, 30, 0, "file mapping") ?:
	       check_home_mapping(step, "private", 0);
}

static int check_unlinked_file_map(int step)
{
	return verify(file_map, FMAP_BYTES, 30, 0, "file mapping") ?:
	       check_home_mapping(step, "unlinked_map", 0);
}

static int check_shared_readonly_map(int step)
{
	return verify(file_map, FMAP_BYTES, 30, 0, "file mapping") ?:
	       check_home_mapping(step, "shared_ro", 0);
}

static const int cow_pages[] = { 1, 17, 42 };
static int cow_fd;

static int cow_modified(int pg)
{
	for (size_t i = 0; i < ARRAY_SIZE(cow_pages); i++)
		if (cow_pages[i] == pg)
			return 1;
	return 0;
}

static int setup_private_file_map_cow(void)
{
	file_map = map_file("cow", 30, O_RDWR, PROT_READ | PROT_WRITE, MAP_PRIVATE, &cow_fd);
	if (!file_map)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(cow_pages); i++)
		fill(file_map + cow_pages[i] * page, page, 100 + cow_pages[i]);
	return 0;
}

static int check_private_file_map_cow(int step)
{
	for (int pg = 0; pg < FMAP_BYTES / page; pg++) {
		unsigned char *p = file_map + pg * page;

		if (cow_modified(pg) ? verify(p, page, 100 + pg, 0, "a page modified in the mapping") :
				       verify(p, page, 30, pg * page, "mapping"))
			return -1;
	}
	memset(scratch, 0, FMAP_BYTES);
	return io(pread(cow_fd, scratch, FMAP_BYTES, 0), FMAP_BYTES, "pread") ?:
	       verify(scratch, FMAP_BYTES, 30, 0, "the file under the private mapping") ?:
	       check_home_mapping(step, "cow", ARRAY_SIZE(cow_pages) * page / 1024);
}

static int setup_unlinked_file_map(void)
{
	file_map = map_file("unlinked_map", 30, O_RDONLY, PROT_READ, MAP_PRIVATE, NULL);
	if (!file_map)
		return -1;
	return unlink(path("unlinked_map")) ? sysfail("unlink") : 0;
}

static int setup_shared_readonly_map(void)
{
	file_map = map_file("shared_ro", 30, O_RDONLY, PROT_READ, MAP_SHARED, NULL);
	return file_map ? 0 : -1;
}

#define SHARED_ANON_BYTES MiB
static unsigned char *shared_anon;

static int setup_shared_anon_sole(void)
{
	shared_anon = map_anon(SHARED_ANON_BYTES, MAP_SHARED);
	if (!shared_anon)
		return sysfail("mmap");
	fill(shared_anon, SHARED_ANON_BYTES, 31);
	return 0;
}

static int check_shared_anon_sole(int step)
{
	return verify(shared_anon, SHARED_ANON_BYTES, 31, 0, "shared mapping") ?:
	       writable(shared_anon, SHARED_ANON_BYTES, "shared mapping");
}

/* The child increments the first word of the shared page; the rest holds a pattern. */
static pid_t shared_child;

static int setup_shared_anon_with_child(void)
{
	shared_anon = map_anon(page, MAP_SHARED);
	if (!shared_anon)
		return sysfail("mmap");
	fill(shared_anon + 64, page - 64, 32);
	shared_child = spawn((volatile uint64_t *)shared_anon);
	return shared_child < 0 ? -1 : 0;
}

static int check_shared_anon_with_child(int step)
{
	volatile uint64_t *counter = (volatile uint64_t *)shared_anon;
	uint64_t before = *counter, after;

	sleep_ms(200);
	after = *counter;
	if (after < before + 5)
		return fail("the child's counter went from %llu to %llu in 200 ms, expected +5 or more",
			    (unsigned long long)before, (unsigned long long)after);
	return verify(shared_anon + 64, page - 64, 32, 0, "shared page");
}

static void cleanup_shared_anon_with_child(void)
{
	kill_child(&shared_child);
}

static int shared_file_fd;

static int setup_shared_file_writable(void)
{
	file_map = map_file("shared_rw", 30, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, &shared_file_fd);
	return file_map ? 0 : -1;
}

static int check_shared_file_writable(int step)
{
	uint64_t v = mix(200 + step), back = 0;

	/* The upper half stays as made; each step writes a word to page STEP through the mapping. */
	if (verify(file_map + FMAP_BYTES / 2, FMAP_BYTES / 2, 30, FMAP_BYTES / 2, "shared file mapping"))
		return -1;
	memcpy(file_map + step * page, &v, 8);
	if (io(pread(shared_file_fd, &back, 8, step * page), 8, "pread"))
		return -1;
	if (back != v)
		return fail("the file holds %#llx where %#llx was written through the mapping",
			    (unsigned long long)back, (unsigned long long)v);
	return 0;
}

/* ---- processes, identity, signals ---- */

static pid_t id_pid, id_ppid;
static uid_t id_uid, id_euid;
static gid_t id_gid, id_egid, id_groups[64];
static int id_ngroups;

static int setup_ids(void)
{
	id_pid = getpid();
	id_ppid = getppid();
	id_uid = getuid();
	id_euid = geteuid();
	id_gid = getgid();
	id_egid = getegid();
	id_ngroups = getgroups(64, id_groups);
	return id_ngroups < 0 ? sysfail("getgroups") : 0;
}

static int check_ids(int step)
{
	gid_t groups[64];
	int n = getgroups(64, groups);

	EXPECT("getpid()", getpid(), id_pid);
	EXPECT("getppid()", getppid(), id_ppid);
	EXPECT("getuid()", getuid(), id_uid);
	EXPECT("geteuid()", geteuid(), id_euid);
	EXPECT("getgid()", getgid(), id_gid);
	EXPECT("getegid()", getegid(), id_egid);
	EXPECT("number of supplementary groups", n, id_ngroups);
	for (int i = 0; i < n; i++)
		EXPECT("a supplementary group", groups[i], id_groups[i]);
	return 0;
}

static int setup_session(void)
{
	return setsid() < 0 ? sysfail("setsid (the process must not lead a process group)") : 0;
}

static int check_session(int step)
{
	EXPECT("getsid(0)", getsid(0), getpid());
	EXPECT("getpgrp()", getpgrp(), getpid());
	return 0;
}

static uid_t creds_uid[3];
static gid_t creds_gid[3], creds_groups[64];
static int creds_ngroups;
static const char *const creds_which[3] = { "real", "effective", "saved" };

static int setup_creds(void)
{
	static const gid_t groups[2] = { 1000, 1001 };
	struct stat st;

	if (!geteuid()) {
		/* uid 1000 has to be able to look up DIR/goN still. */
		if (stat(dir, &st) || chmod(dir, st.st_mode | 0111))
			return sysfail("chmod %s", dir);
		/* All ids the same (mixed ids, setuid in effect, do not travel: cantmove). */
		if (setgroups(2, groups) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			return sysfail("setgroups, setresgid or setresuid");
		/* A change of credentials makes a process not dumpable (which keeps it home). */
		if (prctl(PR_SET_DUMPABLE, 1))
			return sysfail("PR_SET_DUMPABLE");
	}
	getresuid(&creds_uid[0], &creds_uid[1], &creds_uid[2]);
	getresgid(&creds_gid[0], &creds_gid[1], &creds_gid[2]);
	creds_ngroups = getgroups(64, creds_groups);
	if (creds_uid[0] == 1000 && creds_ngroups != 2)
		return fail("%d supplementary groups after setgroups of 2", creds_ngroups);
	return creds_ngroups < 0 ? sysfail("getgroups") : 0;
}

static int check_creds(int step)
{
	uid_t uid[3];
	gid_t gid[3], groups[64];
	int n = getgroups(64, groups);

	getresuid(&uid[0], &uid[1], &uid[2]);
	getresgid(&gid[0], &gid[1], &gid[2]);
	for (int i = 0; i < 3; i++) {
		if (uid[i] != creds_uid[i])
			return fail("%s uid is %d, expected %d", creds_which[i], uid[i], creds_uid[i]);
		if (gid[i] != creds_gid[i])
			return fail("%s gid is %d, expected %d", creds_which[i], gid[i], creds_gid[i]);
	}
	EXPECT("number of supplementary groups", n, creds_ngroups);
	for (int i = 0; i < n; i++)
		EXPECT("a supplementary group", groups[i], creds_groups[i]);
	return 0;
}

/* RLIM_INFINITY as a hard limit keeps the one there is; no limit goes above the one there is. */
static struct {
	int res;
	const char *name;
	struct rlimit set;
} rlimits[] = {
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", { 200, RLIM_INFINITY } },
	{ RLIMIT_STACK, "RLIMIT_STACK", { 4 * MiB, RLIM_INFINITY } },
	{ RLIMIT_CORE, "RLIMIT_CORE", { 0, 0 } },
	{ RLIMIT_CPU, "RLIMIT_CPU", { 1000, 2000 } },
};

static int setup_rlimits(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++) {
		struct rlimit now, *set = &rlimits[i].set;

		if (getrlimit(rlimits[i].res, &now))
			return sysfail("getrlimit %s", rlimits[i].name);
		if (set->rlim_max > now.rlim_max)
			set->rlim_max = now.rlim_max;
		if (set->rlim_cur > set->rlim_max)
			set->rlim_cur = set->rlim_max;
		if (setrlimit(rlimits[i].res, set))
			return sysfail("setrlimit %s", rlimits[i].name);
	}
	return 0;
}

static int check_rlimits(int step)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++) {
		struct rlimit g, p, *set = &rlimits[i].set;

		if (getrlimit(rlimits[i].res, &g) || prlimit(0, rlimits[i].res, NULL, &p))
			return sysfail("getrlimit or prlimit %s", rlimits[i].name);
		if (g.rlim_cur != set->rlim_cur || g.rlim_max != set->rlim_max ||
		    p.rlim_cur != set->rlim_cur || p.rlim_max != set->rlim_max)
			return fail("%s is %lld/%lld (getrlimit), %lld/%lld (prlimit), expected %lld/%lld",
				    rlimits[i].name, (long long)g.rlim_cur, (long long)g.rlim_max,
				    (long long)p.rlim_cur, (long long)p.rlim_max, (long long)set->rlim_cur,
				    (long long)set->rlim_max);
	}
	return 0;
}

static int setup_nice(void)
{
	return setpriority(PRIO_PROCESS, 0, 5) ? sysfail("setpriority") : 0;
}

static int check_nice(int step)
{
	int p;

	errno = 0;
	p = getpriority(PRIO_PROCESS, 0);
	if (p == -1 && errno)
		return sysfail("getpriority");
	EXPECT("nice value", p, 5);
	return 0;
}

static int setup_comm(void)
{
	return prctl(PR_SET_NAME, "corpus-comm") ? sysfail("PR_SET_NAME") : 0;
}

static int check_comm(int step)
{
	char name[17] = "";

	if (prctl(PR_GET_NAME, name))
		return sysfail("PR_GET_NAME");
	if (strcmp(name, "corpus-comm"))
		return fail("PR_GET_NAME gives \"%s\", expected \"corpus-comm\"", name);
	if (read_text("/proc/self/comm", text, sizeof(text)) < 0)
		return -1;
	if (strcmp(text, "corpus-comm\n"))
		return fail("/proc/self/comm is \"%s\", expected \"corpus-comm\\n\"", text);
	return 0;
}

static int check_proc_cmdline(int step)
{
	char want[4096], name[16], *base = strrchr(args[0], '/'), *status;
	size_t len = 0;
	ssize_t n;

	for (char **a = args; *a; a++) {
		size_t l = strlen(*a) + 1;

		if (len + l > sizeof(want))
			return fail("command line too long");
		memcpy(want + len, *a, l);
		len += l;
	}
	n = read_text("/proc/self/cmdline", text, sizeof(text));
	if (n < 0)
		return -1;
	if (n != (ssize_t)len || memcmp(text, want, len)) {
		for (ssize_t i = 0; i < n - 1; i++)
			text[i] = text[i] ?: ' ';
		return fail("/proc/self/cmdline is \"%s\" (%zd bytes), expected %zu bytes", text, n, len);
	}
	snprintf(name, sizeof(name), "%s", base ? base + 1 : args[0]);
	if (read_text("/proc/self/status", text, sizeof(text)) < 0)
		return -1;
	status = strstr(text, "Name:\t");
	n = status ? (ssize_t)strcspn(status + 6, "\n") : 0;
	if (!status || strncmp(status + 6, name, n) || name[n])
		return fail("/proc/self/status has \"%.*s\", expected \"Name:\t%s\"", (int)n + 6,
			    status ?: "", name);
	return 0;
}

static volatile sig_atomic_t handler_ran, handler_signo, handler_usr2_blocked;

static void on_usr1_info(int sig, siginfo_t *si, void *uc)
{
	sigset_t now;

	sigprocmask(SIG_BLOCK, NULL, &now);
	handler_ran++;
	handler_signo = si->si_signo;
	handler_usr2_blocked = sigismember(&now, SIGUSR2);
}

static int setup_handlers(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr1_info, .sa_flags = SA_RESTART | SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(SIGUSR1, &sa, NULL) || signal(SIGHUP, SIG_IGN) == SIG_ERR)
		return sysfail("sigaction");
	return 0;
}

static int check_handlers(int step)
{
	struct sigaction usr1, hup;
	sigset_t want;
	int before = handler_ran, d;

	sigemptyset(&want);
	sigaddset(&want, SIGUSR2);
	if (sigaction(SIGUSR1, NULL, &usr1) || sigaction(SIGHUP, NULL, &hup))
		return sysfail("sigaction");
	if (usr1.sa_sigaction != on_usr1_info)
		return fail("the SIGUSR1 handler is %p, expected %p", (void *)usr1.sa_sigaction,
			    (void *)on_usr1_info);
	EXPECT("SIGUSR1 sa_flags", usr1.sa_flags & ~SA_RESTORER, SA_RESTART | SA_SIGINFO);
	d = mask_diff(&usr1.sa_mask, &want);
	if (d)
		return fail("the SIGUSR1 sa_mask %s signal %d", sigismember(&want, d) ? "lacks" : "has", d);
	if (hup.sa_handler != SIG_IGN)
		return fail("SIGHUP is not ignored (handler %p)", (void *)hup.sa_handler);
	raise(SIGUSR1);
	EXPECT("SIGUSR1 handler runs after raise", handler_ran - before, 1);
	EXPECT("si_signo", handler_signo, SIGUSR1);
	EXPECT("SIGUSR2 blocked in the handler", handler_usr2_blocked, 1);
	return 0;
}

static sigset_t blocked_want;

static int setup_blocked_mask(void)
{
	if (block(SIGUSR2, SIG_BLOCK) || block(SIGRTMIN + 3, SIG_BLOCK))
		return -1;
	return sigprocmask(SIG_BLOCK, NULL, &blocked_want) ? sysfail("sigprocmask") : 0;
}

static int check_blocked_mask(int step)
{
	sigset_t now;
	int d;

	if (sigprocmask(SIG_BLOCK, NULL, &now))
		return sysfail("sigprocmask");
	if (!sigismember(&now, SIGUSR2) || !sigismember(&now, SIGRTMIN + 3))
		return fail("SIGUSR2 or SIGRTMIN+3 is no longer blocked");
	d = mask_diff(&now, &blocked_want);
	if (d)
		return fail("signal %d is %sblocked, unlike at setup", d, sigismember(&now, d) ? "" : "not ");
	return 0;
}

static int setup_pending_signal(void)
{
	if (catch_count(SIGUSR2, 0) || block(SIGUSR2, SIG_BLOCK))
		return -1;
	return raise(SIGUSR2) ? sysfail("raise") : 0;
}

static int check_pending_signal(int step)
{
	sigset_t p;

	if (sigpending(&p) || !sigismember(&p, SIGUSR2))
		return fail("SIGUSR2 is no longer pending");
	EXPECT("SIGUSR2 handler runs while blocked", sig_count[SIGUSR2], 0);
	if (step == 1)
		return 0;
	if (block(SIGUSR2, SIG_UNBLOCK))
		return -1;
	EXPECT("SIGUSR2 handler runs after unblocking", sig_count[SIGUSR2], 1);
	if (sigpending(&p) || sigismember(&p, SIGUSR2))
		return fail("SIGUSR2 is still pending after its handler ran");
	return 0;
}

static const int rt_values[3] = { 11, 22, 33 };

static int setup_rt_queue(void)
{
	if (block(SIGRTMIN + 1, SIG_BLOCK))
		return -1;
	for (int i = 0; i < 3; i++)
		if (sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = rt_values[i] }))
			return sysfail("sigqueue");
	return 0;
}

static int check_rt_queue(int step)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t s;
	int r;

	if (sigpending(&s) || !sigismember(&s, SIGRTMIN + 1))
		return fail("SIGRTMIN+1 is no longer pending");
	if (step == 1)
		return 0;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	for (int i = 0; i < 3; i++) {
		r = sigtimedwait(&s, &si, &zero);
		if (r != SIGRTMIN + 1)
			return r < 0 ? sysfail("sigtimedwait %d", i + 1) : fail("sigtimedwait returned %d", r);
		if (si.si_value.sival_int != rt_values[i] || si.si_code != SI_QUEUE || si.si_pid != getpid())
			return fail("queued signal %d has value %d, code %d, pid %d; expected %d, SI_QUEUE, %d",
				    i + 1, si.si_value.sival_int, si.si_code, si.si_pid, rt_values[i], getpid());
	}
	r = sigtimedwait(&s, &si, &zero);
	if (r != -1 || errno != EAGAIN)
		return fail("a fourth sigtimedwait returned %d, expected EAGAIN", r);
	return 0;
}

#define ALT_BYTES (64 * KiB)
static unsigned char *alt_stack;
static volatile uintptr_t alt_local;
static volatile sig_atomic_t alt_flags;

static void on_alt(int sig)
{
	volatile char here = 0;
	stack_t st;

	alt_local = (uintptr_t)&here;
	sigaltstack(NULL, &st);
	alt_flags = st.ss_flags;
}

static int setup_sigaltstack(void)
{
	struct sigaction sa = { .sa_handler = on_alt, .sa_flags = SA_ONSTACK | SA_RESTART };
	stack_t st = { .ss_size = ALT_BYTES };

	st.ss_sp = alt_stack = map_anon(ALT_BYTES, MAP_PRIVATE);
	if (!alt_stack || sigaltstack(&st, NULL) || sigaction(SIGUSR1, &sa, NULL))
		return sysfail("mmap, sigaltstack or sigaction");
	return 0;
}

static int check_sigaltstack(int step)
{
	stack_t st;

	if (sigaltstack(NULL, &st))
		return sysfail("sigaltstack");
	if (st.ss_sp != alt_stack || st.ss_size != ALT_BYTES || st.ss_flags)
		return fail("the alternate stack is %p, %zu bytes, flags %#x; expected %p, %lu, 0", st.ss_sp,
			    st.ss_size, st.ss_flags, (void *)alt_stack, ALT_BYTES);
	alt_local = 0;
	raise(SIGUSR1);
	if (alt_local < (uintptr_t)alt_stack || alt_local >= (uintptr_t)alt_stack + ALT_BYTES)
		return fail("the handler's local is at %#lx, outside the alternate stack %p-%p",
			    (unsigned long)alt_local, (void *)alt_stack, (void *)(alt_stack + ALT_BYTES));
	EXPECT("ss_flags in the handler", alt_flags, SS_ONSTACK);
	return 0;
}

/* Interval timers: whether the count grows by 5 in 300 ms (slept) or 200 ms (of CPU). */
static int count_grows(int sig, int cpu)
{
	int before = sig_count[sig], grew;

	if (cpu)
		burn_ms(200);
	else
		sleep_ms(300);
	grew = sig_count[sig] - before;
	if (grew < 5)
		return fail("signal %d came %d times in %s, expected 5 or more", sig, grew,
			    cpu ? "200 ms of CPU" : "300 ms");
	return 0;
}

static int itimer_setup(int which, int sig, long usec)
{
	struct itimerval it = { { 0, usec }, { 0, usec } };

	if (catch_count(sig, 0))
		return -1;
	return setitimer(which, &it, NULL) ? sysfail("setitimer") : 0;
}

static int itimer_check(int which, int sig, long usec)
{
	struct itimerval it;

	if (getitimer(which, &it))
		return sysfail("getitimer");
	EXPECT("interval (us)", it.it_interval.tv_sec * 1000000LL + it.it_interval.tv_usec, usec);
	return count_grows(sig, which != ITIMER_REAL);
}

static void itimer_disarm(int which)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	setitimer(which, &off, NULL);
}

static int setup_itimer_real(void) { return itimer_setup(ITIMER_REAL, SIGALRM, 20000); }
static int check_itimer_real(int step) { return itimer_check(ITIMER_REAL, SIGALRM, 20000); }
static void cleanup_itimer_real(void) { itimer_disarm(ITIMER_REAL); }
static int setup_itimer_virtual(void) { return itimer_setup(ITIMER_VIRTUAL, SIGVTALRM, 10000); }
static int check_itimer_virtual(int step) { return itimer_check(ITIMER_VIRTUAL, SIGVTALRM, 10000); }
static void cleanup_itimer_virtual(void) { itimer_disarm(ITIMER_VIRTUAL); }
static int setup_itimer_prof(void) { return itimer_setup(ITIMER_PROF, SIGPROF, 10000); }
static int check_itimer_prof(int step) { return itimer_check(ITIMER_PROF, SIGPROF, 10000); }
static void cleanup_itimer_prof(void) { itimer_disarm(ITIMER_PROF); }

static int setup_alarm(void)
{
	alarm(1000);
	return 0;
}

static int check_alarm(int step)
{
	unsigned left = alarm(0);

	alarm(left);
	if (left < 1 || left > 1000)
		return fail("alarm(0) returned %u, expected 1 to 1000", left);
	return 0;
}

static void cleanup_alarm(void)
{
	alarm(0);
}

#define TIMER_VALUE 77
static timer_t ptimer;

static int ptimer_setup(clockid_t clk, int sig, long long interval)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig,
			       .sigev_value.sival_int = TIMER_VALUE };
	struct itimerspec its = { { 0, interval }, { 0, interval } };

	if (catch_count(sig, 0))
		return -1;
	if (timer_create(clk, &ev, &ptimer) || timer_settime(ptimer, 0, &its, NULL))
		return sysfail("timer_create or timer_settime");
	return 0;
}

static int ptimer_check(int sig, long long interval, int cpu)
{
	struct itimerspec its;
	int overrun;

	if (timer_gettime(ptimer, &its))
		return sysfail("timer_gettime");
	EXPECT("interval (ns)", its.it_interval.tv_sec * 1000000000LL + its.it_interval.tv_nsec, interval);
	if (count_grows(sig, cpu))
		return -1;
	overrun = timer_getoverrun(ptimer);
	if (overrun < 0)
		return sysfail("timer_getoverrun");
	if (sig_code[sig] != SI_TIMER || sig_value[sig] != TIMER_VALUE)
		return fail("the timer's signal has code %d, value %d; expected SI_TIMER, %d",
			    (int)sig_code[sig], (int)sig_value[sig], TIMER_VALUE);
	return 0;
}

static void cleanup_posix_timer(void)
{
	timer_delete(ptimer);
}

static int setup_posix_timer(void) { return ptimer_setup(CLOCK_MONOTONIC, SIGRTMIN + 2, 20 * MS); }
static int check_posix_timer(int step) { return ptimer_check(SIGRTMIN + 2, 20 * MS, 0); }
static int setup_posix_timer_cpu(void) { return ptimer_setup(CLOCK_PROCESS_CPUTIME_ID, SIGRTMIN + 4, 10 * MS); }
static int check_posix_timer_cpu(int step) { return ptimer_check(SIGRTMIN + 4, 10 * MS, 1); }

/* The process's CPU time in ns by its clock, getrusage() and times(). */
static void cpu_times(long long t[3])
{
	struct rusage ru;
	struct tms tm;

	t[0] = ns(CLOCK_PROCESS_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &ru);
	t[1] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	times(&tm);
	t[2] = (long long)(tm.tms_utime + tm.tms_stime) * 1000000000LL / sysconf(_SC_CLK_TCK);
}

static long long cputime_last[3];
static const char *const cputime_by[3] = { "CLOCK_PROCESS_CPUTIME_ID", "getrusage", "times" };

static int setup_cputime(void)
{
	burn_ms(300);
	cpu_times(cputime_last);
	return 0;
}

static int check_cputime(int step)
{
	long long now[3], after[3];

	cpu_times(now);
	burn_ms(100);
	cpu_times(after);
	for (int i = 0; i < 3; i++) {
		if (now[i] < cputime_last[i])
			return fail("CPU time by %s went back from %lld to %lld ns", cputime_by[i],
				    cputime_last[i], now[i]);
		if (after[i] - now[i] < 80 * MS)
			return fail("CPU time by %s grew by %lld ns in 100 ms of computing, expected 80 ms "
				    "or more", cputime_by[i], after[i] - now[i]);
		cputime_last[i] = after[i];
	}
	return 0;
}

static long long mono_last, boot_last;

static int setup_monotonic(void)
{
	mono_last = ns(CLOCK_MONOTONIC);
	boot_last = ns(CLOCK_BOOTTIME);
	return 0;
}

static int check_monotonic(int step)
{
	long long mono = ns(CLOCK_MONOTONIC), boot = ns(CLOCK_BOOTTIME), real = ns(CLOCK_REALTIME), slept;
	struct timespec t = { 0, 50 * MS };

	if (mono < mono_last || boot < boot_last)
		return fail("a clock went back: CLOCK_MONOTONIC %lld to %lld, CLOCK_BOOTTIME %lld to %lld ns",
			    mono_last, mono, boot_last, boot);
	if (llabs(real / 1000000000 - time(NULL)) > 1)
		return fail("CLOCK_REALTIME %lld s and time() %lld s differ", real / 1000000000,
			    (long long)time(NULL));
	nanosleep(&t, NULL);
	slept = ns(CLOCK_MONOTONIC) - mono;
	if (slept < 50 * MS)
		return fail("nanosleep(50 ms) took %lld ns by CLOCK_MONOTONIC", slept);
	mono_last = ns(CLOCK_MONOTONIC);
	boot_last = ns(CLOCK_BOOTTIME);
	return 0;
}

static pid_t child;

static int setup_child_zombie(void)
{
	child = fork();
	if (!child)
		_exit(7);
	return child < 0 ? sysfail("fork") : 0;
}

static int check_child_zombie(int step)
{
	int status = 0;
	pid_t r;

	if (step == 2) {
		r = waitpid(-1, &status, WNOHANG);
		if (r != -1 || errno != ECHILD)
			return fail("waitpid(-1) returned %d, expected ECHILD", r);
		return 0;
	}
	r = reap(child, &status, 5000);
	if (r != child)
		return r < 0 ? sysfail("waitpid") : fail("child %d has not exited after 5 s", child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
		return fail("the child's wait status is %#x, expected exit status 7", status);
	return 0;
}

static int setup_child_running(void)
{
	child = spawn(NULL);
	return child < 0 ? -1 : 0;
}

static int check_child_running(int step)
{
	int status = 0;
	pid_t r;

	if (kill(child, 0))
		return sysfail("kill(child, 0)");
	EXPECT("the child's process group", getpgid(child), getpgrp());
	r = waitpid(child, &status, WNOHANG);
	if (r)
		return r < 0 ? sysfail("waitpid") : fail("the child has ended (wait status %#x)", status);
	if (step == 1)
		return 0;
	kill(child, SIGTERM);
	r = reap(child, &status, 5000);
	if (r != child)
		return r < 0 ? sysfail("waitpid") : fail("child %d has not died 5 s after SIGTERM", child);
	child = 0;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		return fail("the child's wait status is %#x, expected death by SIGTERM", status);
	return 0;
}

static void cleanup_child(void)
{
	kill_child(&child);
}

static int setup_sigchld(void)
{
	if (catch_count(SIGCHLD, SA_NOCLDSTOP))
		return -1;
	child = spawn(NULL);
	return child < 0 ? -1 : 0;
}

static int check_sigchld(int step)
{
	int status = 0;
	pid_t r;

	if (step == 2) {
		EXPECT("SIGCHLDs", sig_count[SIGCHLD], 1);
		return 0;
	}
	EXPECT("SIGCHLDs before the child is killed", sig_count[SIGCHLD], 0);
	kill(child, SIGKILL);
	if (wait_count(SIGCHLD, 1, 5000) != 1)
		return fail("%d SIGCHLDs in 5 s after killing the child, expected 1", (int)sig_count[SIGCHLD]);
	if (sig_code[SIGCHLD] != CLD_KILLED || sig_pid[SIGCHLD] != child)
		return fail("SIGCHLD has code %d, pid %d; expected CLD_KILLED, %d", (int)sig_code[SIGCHLD],
			    (int)sig_pid[SIGCHLD], child);
	r = waitpid(child, &status, 0);
	if (r != child)
		return sysfail("waitpid");
	child = 0;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return fail("the child's wait status is %#x, expected death by SIGKILL", status);
	return 0;
}

static unsigned mxcsr_get(void)
{
	unsigned v;

	asm volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static void mxcsr_set(unsigned v)
{
	asm volatile("ldmxcsr %0" : : "m"(v));
}

static unsigned short fpucw_get(void)
{
	unsigned short v;

	asm volatile("fnstcw %0" : "=m"(v));
	return v;
}

static void fpucw_set(unsigned short v)
{
	asm volatile("fldcw %0" : : "m"(v));
}

static volatile double fpu_in = 3.0;	/* an operand the compiler cannot fold */
static unsigned fpu_mxcsr;
static unsigned short fpu_cw;
static double fpu_d;
static long double fpu_ld;

/* A sum in SSE (double) and one in x87 (long double), under the rounding modes in force. */
static __attribute__((noinline)) void fpu_compute(double *d, long double *ld)
{
	double s = 0;
	long double t = 0;

	for (int i = 1; i <= 1000; i++) {
		s += fpu_in / i;
		t += (long double)fpu_in / i;
	}
	*d = s;
	*ld = t;
}

static int setup_fpu(void)
{
	double d;
	long double ld;

	fpu_compute(&d, &ld);
	mxcsr_set(mxcsr_get() | 0x6000);			/* round toward zero */
	fpucw_set((fpucw_get() & ~0x0f00) | 0x0600);		/* 53-bit precision, round down */
	fpu_mxcsr = mxcsr_get();
	fpu_cw = fpucw_get();
	fpu_compute(&fpu_d, &fpu_ld);
	if (d == fpu_d || !memcmp(&ld, &fpu_ld, 10))
		return fail("the rounding modes do not change the results: the check would see nothing");
	return 0;
}

static int check_fpu(int step)
{
	double d;
	long double ld;

	if (mxcsr_get() != fpu_mxcsr || fpucw_get() != fpu_cw)
		return fail("MXCSR is %#x, x87 control word %#x; expected %#x, %#x", mxcsr_get(), fpucw_get(),
			    fpu_mxcsr, fpu_cw);
	fpu_compute(&d, &ld);
	if (memcmp(&d, &fpu_d, 8) || memcmp(&ld, &fpu_ld, 10))
		return fail("the results are %a and %La, expected %a and %La", d, ld, fpu_d, fpu_ld);
	return 0;
}

static double sse_d[4];
static long double sse_ld;

/* Accumulates in four doubles and a long double that stay in xmm and st(0) across a nanosleep. */
static __attribute__((noinline)) void sse_compute(double out[4], long double *ldout)
{
	double a = 0, b = 1, c = 2, d = 3;
	long double e = 0;

	for (int i = 1; i <= 2000; i++) {
		double x = fpu_in / i;

		a += x;
		b *= 1 + x / 4096;
		c -= x * x;
		d += a * 1e-3;
		e += (long double)x / 3;
		if (i == 1000) {
			struct timespec ts = { 0, 20 * MS };
			long ret;

			asm volatile("syscall"
				     : "=a"(ret), "+x"(a), "+x"(b), "+x"(c), "+x"(d), "+t"(e)
				     : "0"((long)SYS_nanosleep), "D"(&ts), "S"(0L)
				     : "rcx", "r11", "memory");
			(void)ret;
		}
	}
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
	*ldout = e;
}

static int setup_sse_regs_survive(void)
{
	sse_compute(sse_d, &sse_ld);
	return 0;
}

static int check_sse_regs_survive(int step)
{
	double d[4];
	long double ld;

	sse_compute(d, &ld);
	for (int i = 0; i < 4; i++)
		if (memcmp(&d[i], &sse_d[i], 8))
			return fail("accumulator %d is %a, expected %a", i, d[i], sse_d[i]);
	if (memcmp(&ld, &sse_ld, 10))
		return fail("the long double accumulator is %La, expected %La", ld, sse_ld);
	return 0;
}

static struct utsname uts;
static char host[HOST_NAME_MAX + 1];

static int setup_uname(void)
{
	return uname(&uts) || gethostname(host, sizeof(host)) ? sysfail("uname or gethostname") : 0;
}

static int check_uname(int step)
{
	struct utsname now;
	char h[HOST_NAME_MAX + 1];

	if (uname(&now) || gethostname(h, sizeof(h)))
		return sysfail("uname or gethostname");
#define SAME(field)                                                                          \
	if (strcmp(now.field, uts.field))                                                     \
		return fail("uname " #field " is \"%s\", expected \"%s\"", now.field, uts.field)
	SAME(sysname);
	SAME(nodename);
	SAME(release);
	SAME(version);
	SAME(machine);
	SAME(domainname);
#undef SAME
	if (strcmp(h, host))
		return fail("the host name is \"%s\", expected \"%s\"", h, host);
	return 0;
}

static int check_getrandom(int step)
{
	unsigned char a[32], b[32];

	if (io(getrandom(a, 32, 0), 32, "getrandom") || io(getrandom(b, 32, 0), 32, "getrandom"))
		return -1;
	return memcmp(a, b, 32) ? 0 : fail("two getrandom calls gave the same 32 bytes");
}

static char *env_first;

static int setup_environ(void)
{
	if (environ[0] && !(env_first = strdup(environ[0])))
		return sysfail("strdup");
	return setenv("CORPUS_VAR", "corpus value", 1) ? sysfail("setenv") : 0;
}

static int check_environ(int step)
{
	const char *v = getenv("CORPUS_VAR");
	ssize_t n;

	if (!v || strcmp(v, "corpus value"))
		return fail("CORPUS_VAR is %s, expected \"corpus value\"", v ?: "unset");
	n = read_text("/proc/self/environ", text, sizeof(text));
	if (n < 0)
		return -1;
	if (env_first ? strcmp(text, env_first) : n != 0)
		return fail("/proc/self/environ starts with \"%.100s\", expected \"%.100s\"", text,
			    env_first ?: "");
	return 0;
}

static char exe[PATH_MAX];

static int setup_exe(void)
{
	return readlink("/proc/self/exe", exe, sizeof(exe) - 1) < 0 ? sysfail("readlink") : 0;
}

static int check_exe(int step)
{
	char now[PATH_MAX] = "";

	if (readlink("/proc/self/exe", now, sizeof(now) - 1) < 0)
		return sysfail("readlink");
	return strcmp(now, exe) ? fail("/proc/self/exe is %s, expected %s", now, exe) : 0;
}

/* ---- refused (or not yet) ---- */

static unsigned long thread_count;

static void *thread_main(void *arg)
{
	for (;;) {
		__atomic_add_fetch(&thread_count, 1, __ATOMIC_RELAXED);
		sleep_ms(10);
	}
	return NULL;
}

static int setup_threads(void)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, thread_main, NULL);

	if (r) {
		errno = r;
		return sysfail("pthread_create");
	}
	return 0;
}

static int check_threads(int step)
{
	unsigned long before = __atomic_load_n(&thread_count, __ATOMIC_RELAXED), after;

	sleep_ms(200);
	after = __atomic_load_n(&thread_count, __ATOMIC_RELAXED);
	if (after < before + 5)
		return fail("the thread's counter went from %lu to %lu in 200 ms, expected +5 or more",
			    before, after);
	return 0;
}

static int rt_policy;

static int setup_realtime(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	rt_policy = SCHED_FIFO;
	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		if (errno != EPERM)
			return sysfail("sched_setscheduler");
		fprintf(stderr, "corpus: realtime: SCHED_FIFO not permitted here; checking SCHED_OTHER\n");
		rt_policy = SCHED_OTHER;
	}
	return 0;
}

static int check_realtime(int step)
{
	struct sched_param sp;

	EXPECT("scheduling policy", sched_getscheduler(0), rt_policy);
	if (sched_getparam(0, &sp))
		return sysfail("sched_getparam");
	EXPECT("real-time priority", sp.sched_priority, rt_policy == SCHED_FIFO);
	return 0;
}

static void cleanup_realtime(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	sched_setscheduler(0, SCHED_OTHER, &sp);
}

static int signal_fd;

static int setup_signalfd(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	if (block(SIGUSR1, SIG_BLOCK))
		return -1;
	signal_fd = signalfd(-1, &s, SFD_NONBLOCK);
	return signal_fd < 0 ? sysfail("signalfd") : 0;
}

static int check_signalfd(int step)
{
	struct signalfd_siginfo si;
	ssize_t r;

	raise(SIGUSR1);
	if (io(read(signal_fd, &si, sizeof(si)), sizeof(si), "signalfd read"))
		return -1;
	EXPECT("ssi_signo", si.ssi_signo, SIGUSR1);
	EXPECT("ssi_pid", si.ssi_pid, getpid());
	r = read(signal_fd, &si, sizeof(si));
	if (r != -1 || errno != EAGAIN)
		return fail("a second signalfd read returned %zd, expected EAGAIN", r);
	return 0;
}

/* ---- the cases ---- */

static const struct corpus_case {
	const char *name, *expect;
	int (*setup)(void);		/* 0, or -1 after fail() */
	int (*check)(int step);		/* the same */
	void (*cleanup)(void);
} cases[] = {
	{ "heap", MOVES, setup_heap, check_heap },
	{ "stack", MOVES, setup_stack, check_stack },
	{ "brk", MOVES, setup_brk, check_brk },
	{ "big_memory", MOVES, setup_big_memory, check_big_memory },
	{ "sparse", MOVES, setup_sparse, check_sparse },
	{ "zero_pages", MOVES, setup_zero_pages, check_zero_pages },
	{ "readonly", MOVES, setup_readonly, check_readonly },
	{ "guard", MOVES, setup_guard, check_guard },
	{ "mremap", MOVES, setup_mremap, check_mremap },
	{ "tls", MOVES, setup_tls, check_tls },
	{ "big_read", MOVES, setup_big_read, check_big_read },
	{ "big_write", MOVES, setup_big_write, check_big_write },
	{ "file_offset", MOVES, setup_file_offset, check_file_offset },
	{ "dup_offset", MOVES, setup_dup_offset, check_dup_offset },
	{ "append", MOVES, setup_append, check_append },
	{ "cloexec", MOVES, setup_cloexec, check_cloexec },
	{ "nonblock", MOVES, setup_nonblock, check_nonblock },
	{ "unlinked_file", MOVES, setup_unlinked_file, check_unlinked_file },
	{ "cwd", MOVES, setup_cwd, check_cwd },
	{ "umask", MOVES, setup_umask, check_umask },
	{ "pipe_data", MOVES, setup_pipe_data, check_pipe_data },
	{ "fifo", MOVES, setup_fifo, check_fifo },
	{ "socketpair", MOVES, setup_socketpair, check_socketpair },
	{ "dgram", MOVES, setup_dgram, check_dgram },
	{ "tcp_loopback", GOES_HOME, setup_tcp_loopback, check_tcp_loopback },
	{ "epoll", MOVES, setup_epoll, check_epoll },
	{ "eventfd", MOVES, setup_eventfd, check_eventfd },
	{ "memfd", MOVES, setup_memfd, check_memfd },
	{ "timerfd", MOVES, setup_timerfd, check_timerfd },
	{ "flock", MOVES, setup_flock, check_flock },
	{ "posix_lock", MOVES, setup_posix_lock, check_posix_lock },
	{ "private_file_map", MOVES, setup_private_file_map, check_file_map },
	{ "private_file_map_cow", MOVES, setup_private_file_map_cow, check_private_file_map_cow },
	{ "unlinked_file_map", MOVES, setup_unlinked_file_map, check_unlinked_file_map },
	{ "shared_readonly_map", MOVES, setup_shared_readonly_map, check_shared_readonly_map },
	{ "shared_anon_sole", MOVES, setup_shared_anon_sole, check_shared_anon_sole },
	{ "shared_anon_with_child", SHARED, setup_shared_anon_with_child, check_shared_anon_with_child,
	  cleanup_shared_anon_with_child },
	{ "shared_file_writable", SHARED, setup_shared_file_writable, check_shared_file_writable },
	{ "ids", MOVES, setup_ids, check_ids },
	{ "session", MOVES, setup_session, check_session },
	{ "creds", MOVES, setup_creds, check_creds },
	{ "rlimits", MOVES, setup_rlimits, check_rlimits },
	{ "nice", GOES_HOME, setup_nice, check_nice },
	{ "comm", MOVES, setup_comm, check_comm },
	{ "proc_cmdline", MOVES, NULL, check_proc_cmdline },
	{ "handlers", MOVES, setup_handlers, check_handlers },
	{ "blocked_mask", MOVES, setup_blocked_mask, check_blocked_mask },
	{ "pending_signal", MOVES, setup_pending_signal, check_pending_signal },
	{ "rt_queue", MOVES, setup_rt_queue, check_rt_queue },
	{ "sigaltstack", MOVES, setup_sigaltstack, check_sigaltstack },
	{ "itimer_real", MOVES, setup_itimer_real, check_itimer_real, cleanup_itimer_real },
	{ "itimer_virtual", MOVES, setup_itimer_virtual, check_itimer_virtual, cleanup_itimer_virtual },
	{ "itimer_prof", MOVES, setup_itimer_prof, check_itimer_prof, cleanup_itimer_prof },
	{ "alarm", MOVES, setup_alarm, check_alarm, cleanup_alarm },
	{ "posix_timer", GOES_HOME, setup_posix_timer, check_posix_timer, cleanup_posix_timer },
	{ "posix_timer_cpu", CPU_TIMER, setup_posix_timer_cpu, check_posix_timer_cpu, cleanup_posix_timer },
	{ "cputime", MOVES, setup_cputime, check_cputime },
	{ "monotonic", MOVES, setup_monotonic, check_monotonic },
	{ "child_zombie", MOVES, setup_child_zombie, check_child_zombie },
	{ "child_running", MOVES, setup_child_running, check_child_running, cleanup_child },
	{ "sigchld", MOVES, setup_sigchld, check_sigchld, cleanup_child },
	{ "fpu", MOVES, setup_fpu, check_fpu },
	{ "sse_regs_survive", MOVES, setup_sse_regs_survive, check_sse_regs_survive },
	{ "uname", MOVES, setup_uname, check_uname },
	{ "getrandom", MOVES, NULL, check_getrandom },
	{ "environ", MOVES, setup_environ, check_environ },
	{ "exe", MOVES, setup_exe, check_exe },
	{ "threads", THREADED, setup_threads, check_threads },
	{ "realtime", REALTIME, setup_realtime, check_realtime, cleanup_realtime },
	{ "signalfd", SIGNALFD, setup_signalfd, check_signalfd },
};

/* One raw system call: errno stays as it is, whatever the call returns. */
static long raw_syscall(long nr, long a, long b)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

/* Waits for DIR/goN: 0 when it is there, -1 after 600 s. */
static int wait_go(int step)
{
	struct timespec tick = { 0, 10 * MS };
	long long end = ns(CLOCK_MONOTONIC) + 600000 * MS;
	char go[PATH_MAX + 16];
	struct stat st;

	snprintf(go, sizeof(go), "%s/go%d", dir, step);
	while (raw_syscall(SYS_stat, (long)go, (long)&st)) {
		if (ns(CLOCK_MONOTONIC) >= end)
			return -1;
		raw_syscall(SYS_nanosleep, (long)&tick, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t stack_words[STACK_BYTES / 8];	/* the stack case's data, in main's frame */
	const struct corpus_case *c = NULL;
	int ok = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
			printf("%s\t%s\n", cases[i].name, cases[i].expect);
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "run")) {
		fprintf(stderr, "usage: corpus list | corpus run NAME DIR\n");
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (!strcmp(cases[i].name, argv[2]))
			c = &cases[i];
	if (!c) {
		fprintf(stderr, "corpus: no case %s\n", argv[2]);
		return 2;
	}
	dir = realpath(argv[3], NULL);
	if (!dir) {
		fprintf(stderr, "corpus: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	page = sysconf(_SC_PAGESIZE);
	args = argv;
	stack_area = (unsigned char *)stack_words;

	if (c->setup && c->setup()) {
		printf("setup FAIL: %s\n", why[0] ? why : "(no reason)");
		return 1;
	}
	printf("ready\n");
	for (int step = 1; step <= 2; step++) {
		if (wait_go(step)) {
			printf("timeout waiting for go%d\n", step);
			return 3;
		}
		why[0] = 0;
		if (c->check(step)) {
			printf("check %d FAIL: %s\n", step, why[0] ? why : "(no reason)");
			ok = 0;
		} else {
			printf("check %d ok\n", step);
		}
	}
	if (c->cleanup)
		c->cleanup();
	return ok ? 0 : 1;
}
