// SPDX-License-Identifier: GPL-2.0
/*
 * migrant: an ordinary, unmodified-looking program for the migration selftests (migrate_test).
 *
 * It fills a memory region (-m MiB, default 64) with a known pattern, then for -t seconds
 * (clock_gettime, a vDSO call) alternates
 *  - an assembly round that loads known values into rbx and r8-r15, the eight x87 registers (with
 *    a non-default control word), xmm0-15, the upper halves of ymm0-15 when the CPU and kernel
 *    support AVX, and a non-default MXCSR, and then loops: every iteration advances the general
 *    registers by per-register deltas and compares all of them, an FXSAVE image (x87 stack, FCW,
 *    TOP, tag word, MXCSR, xmm0-15) and the stored ymm upper halves with the expected values;
 *  - a check of one 1 MiB slice of the region, which is then rewritten with its next generation
 *    of the pattern, so every page keeps changing and the whole region is checked again and again.
 * The values change from round to round, so stale registers or pages are caught too. At the end the
 * whole region is checked once more. Any difference is printed (register name, expected, got, or
 * address) to stderr and the exit status is 3.
 *
 * Plain libc calls only: no threads, no shared mappings, statically linked.
 *
 * Options:
 *   -m MiB   size of the region (default 64)
 *   -t SEC   run time (default 10)
 *   -q       general registers and memory only (no x87/SSE/AVX part)
 *   -x CODE  exit with CODE instead of 0 at the end
 *   -w FILE  at the halfway point write "hello from PID ppid PPID" to FILE (exit 6 on failure)
 *   -p       check every round that getpid() and getppid() are unchanged (exit 4 otherwise)
 *   -s       at the halfway point call getpriority() and sysinfo() and check they succeed (exit 5)
 *   -W FILE  at the halfway point read FILE whole with one read(), again with one pread() and
 *            again with one readv() of two halves, and write it to FILE.copy with one write(),
 *            again with one pwrite() at 0 and again with one writev() at 0; prints "migrant
 *            whole: N bytes: read R, pread P, readv V, write W, pwrite Q, writev X" (exit 10
 *            unless every count is N and the bytes read are the same each time)
 *   -a       arm ITIMER_REAL (setitimer) at start to fire every 50 ms and count the SIGALRMs (a
 *            handler, SA_RESTART); at the end print "migrant alarms: N of about E, L in the last
 *            4 s" (exit 11 unless N >= E / 2 and L >= 20: the timer kept firing wherever the
 *            process ran)
 *   -f       at the halfway point fork a child that exits 0 at once and wait for it; a fork that
 *            fails is tried again (up to 5 times, 100 ms apart); prints "migrant fork: R refused
 *            (ERROR), then ok" (exit 9 if no fork succeeds or the child's status is wrong)
 *   -g       at the halfway point (after -f's fork) make a system call that a migrated process
 *            goes home for (personality(0xffffffff), a query), tried again like -f's fork;
 *            prints "migrant home call: R refused (ERROR), then ok" (exit 9 if it never succeeds)
 *   -u       count SIGUSR1 (a handler, SA_RESTART) and print "migrant got N SIGUSR1" at the end
 *   -R N     expect N SIGRTMIN sent with sigqueue() values 0..N-1 by one sender: a SA_SIGINFO
 *            handler checks each value is the next one and the siginfo (SI_QUEUE, the sender's
 *            pid and uid, the same for all); RLIMIT_SIGPENDING is raised to hold them. After the
 *            run it waits up to 60 s for the last ones and prints "migrant rt: got G of N, O out
 *            of order, I wrong siginfo" (exit 8 unless G == N and O == I == 0)
 *   -k TEXT  also keep 256 KiB filled with TEXT repeated, and write TEXT to the -w FILE after the
 *            hello line (the wire test looks for TEXT in a capture of the cluster's network)
 *   -r FILE  an I/O job instead: for -t seconds read FILE in 4 KiB reads (-b BYTES: that size, at most 1 MiB), from the start again
 *            at its end (exit 7 on a failed read); prints "migrant read: B bytes in N reads"
 * With -s and -w, the system calls come first, then the file is written.
 *
 * Output (stdout, line buffered): "migrant PID ready: ..." once the region is filled, and
 * "migrant ok: N rounds, M full memory passes" at the end.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLICE (1UL << 20)
#define SLICE_WORDS (SLICE / 8)
#define ROUND_SECONDS 0.02

/* Shared with the assembly below: offsets are fixed and checked by static assertions. */
struct regs {
	uint64_t gpr[9];	/*    0: expected rbx, r8..r15 (advanced by the loop) */
	uint64_t delta[9];	/*   72: added every iteration */
	uint64_t got[9];	/*  144: the registers at a mismatch */
	uint32_t flags;		/*  216: 1 x87/SSE/MXCSR, 2 AVX upper halves */
	uint32_t mxcsr;		/*  220 */
	uint16_t fcw;		/*  224 */
	uint16_t saved_fcw;	/*  226 */
	uint32_t saved_mxcsr;	/*  228 */
	uint8_t pad[24];	/*  232 */
	uint8_t st[8][16];	/*  256: 80-bit images; ST(i) = st[i] */
	uint8_t xmm[16][16];	/*  384 */
	uint8_t yhi[16][16];	/*  640: upper halves of ymm0..15 */
	uint8_t fx[512];	/*  896: FXSAVE image of the last compared iteration */
	uint8_t ysave[16][32];	/* 1408: ymm0..15 of the last compared iteration */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct regs, delta) == 72, "layout");
_Static_assert(offsetof(struct regs, got) == 144, "layout");
_Static_assert(offsetof(struct regs, flags) == 216, "layout");
_Static_assert(offsetof(struct regs, mxcsr) == 220, "layout");
_Static_assert(offsetof(struct regs, fcw) == 224, "layout");
_Static_assert(offsetof(struct regs, saved_fcw) == 226, "layout");
_Static_assert(offsetof(struct regs, saved_mxcsr) == 228, "layout");
_Static_assert(offsetof(struct regs, st) == 256, "layout");
_Static_assert(offsetof(struct regs, xmm) == 384, "layout");
_Static_assert(offsetof(struct regs, yhi) == 640, "layout");
_Static_assert(offsetof(struct regs, fx) == 896, "layout");
_Static_assert(offsetof(struct regs, ysave) == 1408, "layout");

#define F_FPU 1
#define F_AVX 2
/* Round toward zero and flush to zero, all exceptions masked; x87: round toward zero. */
#define MXCSR_VALUE 0xff80
#define FCW_VALUE 0x0f7f

/*
 * long migrant_regs(struct regs *r, uint64_t iterations): 0, or 1 general register mismatch
 * (r->got holds the registers), 2 FXSAVE image mismatch (r->fx), 3 ymm upper half mismatch
 * (r->ysave). Restores the caller's FCW and MXCSR and leaves the x87 stack empty.
 */
long migrant_regs(struct regs *r, uint64_t iterations);
__asm__(
	".pushsection .text\n"
	".set R_GPR, 0\n.set R_DELTA, 72\n.set R_GOT, 144\n.set R_FLAGS, 216\n.set R_MXCSR, 220\n"
	".set R_FCW, 224\n.set R_SFCW, 226\n.set R_SMXCSR, 228\n.set R_ST, 256\n.set R_XMM, 384\n"
	".set R_YHI, 640\n.set R_FX, 896\n.set R_YSAVE, 1408\n"
	".macro GPRSTEP reg, k\n"
	"	add R_DELTA+8*\\k(%rbp), \\reg\n"
	"	mov R_GPR+8*\\k(%rbp), %rax\n"
	"	add R_DELTA+8*\\k(%rbp), %rax\n"
	"	mov %rax, R_GPR+8*\\k(%rbp)\n"
	"	cmp %rax, \\reg\n"
	"	jne .Lfail_gpr\n"
	".endm\n"
	".macro GPRLOAD reg, k\n"
	"	mov R_GPR+8*\\k(%rbp), \\reg\n"
	".endm\n"
	".macro GPRGOT reg, k\n"
	"	mov \\reg, R_GOT+8*\\k(%rbp)\n"
	".endm\n"
	".globl migrant_regs\n"
	".type migrant_regs, @function\n"
	"migrant_regs:\n"
	"	push %rbp\n	push %rbx\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rdi, %rbp\n"
	"	mov %rsi, %rcx\n"
	"	GPRLOAD %rbx, 0\n	GPRLOAD %r8, 1\n	GPRLOAD %r9, 2\n	GPRLOAD %r10, 3\n"
	"	GPRLOAD %r11, 4\n	GPRLOAD %r12, 5\n	GPRLOAD %r13, 6\n	GPRLOAD %r14, 7\n"
	"	GPRLOAD %r15, 8\n"
	"	testl $1, R_FLAGS(%rbp)\n"
	"	jz .Lloop\n"
	"	fnstcw R_SFCW(%rbp)\n"
	"	stmxcsr R_SMXCSR(%rbp)\n"
	"	fninit\n"
	"	fldcw R_FCW(%rbp)\n"
	"	ldmxcsr R_MXCSR(%rbp)\n"
	"	.irp i, 7, 6, 5, 4, 3, 2, 1, 0\n"
	"	fldt R_ST+16*\\i(%rbp)\n"
	"	.endr\n"
	"	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
	"	movdqu R_XMM+16*\\k(%rbp), %xmm\\k\n"
	"	.endr\n"
	"	testl $2, R_FLAGS(%rbp)\n"
	"	jz .Lloop\n"
	"	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
	"	vinsertf128 $1, R_YHI+16*\\k(%rbp), %ymm\\k, %ymm\\k\n"
	"	.endr\n"
	".Lloop:\n"
	"	GPRSTEP %rbx, 0\n	GPRSTEP %r8, 1\n	GPRSTEP %r9, 2\n	GPRSTEP %r10, 3\n"
	"	GPRSTEP %r11, 4\n	GPRSTEP %r12, 5\n	GPRSTEP %r13, 6\n	GPRSTEP %r14, 7\n"
	"	GPRSTEP %r15, 8\n"
	"	testl $1, R_FLAGS(%rbp)\n"
	"	jz .Lnext\n"
	"	fxsave R_FX(%rbp)\n"
	"	movzwl R_FX(%rbp), %eax\n"
	"	cmpw R_FCW(%rbp), %ax\n"
	"	jne .Lfail_fx\n"
	"	testw $0x3800, R_FX+2(%rbp)\n"		/* TOP = 0: eight values loaded */
	"	jnz .Lfail_fx\n"
	"	cmpb $0xff, R_FX+4(%rbp)\n"		/* abridged tag word: all valid */
	"	jne .Lfail_fx\n"
	"	mov R_FX+24(%rbp), %eax\n"
	"	cmp R_MXCSR(%rbp), %eax\n"
	"	jne .Lfail_fx\n"
	"	.irp i, 0, 1, 2, 3, 4, 5, 6, 7\n"
	"	mov R_FX+32+16*\\i(%rbp), %rax\n"
	"	cmp R_ST+16*\\i(%rbp), %rax\n"
	"	jne .Lfail_fx\n"
	"	movzwl R_FX+40+16*\\i(%rbp), %eax\n"
	"	cmpw R_ST+16*\\i+8(%rbp), %ax\n"
	"	jne .Lfail_fx\n"
	"	.endr\n"
	"	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
	"	mov R_FX+160+16*\\k(%rbp), %rax\n"
	"	cmp R_XMM+16*\\k(%rbp), %rax\n"
	"	jne .Lfail_fx\n"
	"	mov R_FX+168+16*\\k(%rbp), %rax\n"
	"	cmp R_XMM+16*\\k+8(%rbp), %rax\n"
	"	jne .Lfail_fx\n"
	"	.endr\n"
	"	testl $2, R_FLAGS(%rbp)\n"
	"	jz .Lnext\n"
	"	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
	"	vmovdqu %ymm\\k, R_YSAVE+32*\\k(%rbp)\n"
	"	.endr\n"
	"	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
	"	mov R_YSAVE+32*\\k+16(%rbp), %rax\n"
	"	cmp R_YHI+16*\\k(%rbp), %rax\n"
	"	jne .Lfail_y\n"
	"	mov R_YSAVE+32*\\k+24(%rbp), %rax\n"
	"	cmp R_YHI+16*\\k+8(%rbp), %rax\n"
	"	jne .Lfail_y\n"
	"	.endr\n"
	".Lnext:\n"
	"	dec %rcx\n"
	"	jnz .Lloop\n"
	"	xor %eax, %eax\n"
	".Lout:\n"
	"	testl $1, R_FLAGS(%rbp)\n"
	"	jz .Lret\n"
	"	fninit\n"
	"	fldcw R_SFCW(%rbp)\n"
	"	ldmxcsr R_SMXCSR(%rbp)\n"
	"	testl $2, R_FLAGS(%rbp)\n"
	"	jz .Lret\n"
	"	vzeroupper\n"
	".Lret:\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbx\n	pop %rbp\n"
	"	ret\n"
	".Lfail_gpr:\n"
	"	GPRGOT %rbx, 0\n	GPRGOT %r8, 1\n	GPRGOT %r9, 2\n	GPRGOT %r10, 3\n"
	"	GPRGOT %r11, 4\n	GPRGOT %r12, 5\n	GPRGOT %r13, 6\n	GPRGOT %r14, 7\n"
	"	GPRGOT %r15, 8\n"
	"	mov $1, %eax\n"
	"	jmp .Lout\n"
	".Lfail_fx:\n"
	"	mov $2, %eax\n"
	"	jmp .Lout\n"
	".Lfail_y:\n"
	"	mov $3, %eax\n"
	"	jmp .Lout\n"
	".size migrant_regs, . - migrant_regs\n"
	".purgem GPRSTEP\n.purgem GPRLOAD\n.purgem GPRGOT\n"
	".popsection\n");

static struct regs R;
static const char *const gpr_name[9] = { "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The pattern word at index i of the region in generation g. */
static inline uint64_t pattern(uint64_t i, uint32_t g)
{
	return mix(i ^ ((uint64_t)g << 40) ^ 0x6d6967726174ULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int have_avx(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* Values of round `round`: every register gets a new value and delta. */
static void set_values(uint64_t round)
{
	uint64_t s = mix(round * 1000003 + 17);
	int i;

	for (i = 0; i < 9; i++) {
		R.gpr[i] = mix(s + i);
		R.delta[i] = mix(s + 100 + i) | 1;
	}
	memset(R.st, 0, sizeof(R.st));
	for (i = 0; i < 8; i++) {
		/* A normal 80-bit value: explicit integer bit, exponent near 1, sign varies. */
		uint64_t mant = mix(s + 200 + i) | (1ULL << 63);
		uint16_t se = (uint16_t)(0x3fff - 4 + i) | (i & 1 ? 0x8000 : 0);

		memcpy(R.st[i], &mant, 8);
		memcpy(R.st[i] + 8, &se, 2);
	}
	for (i = 0; i < 16; i++) {
		uint64_t v[4] = { mix(s + 300 + i), mix(s + 400 + i), mix(s + 500 + i), mix(s + 600 + i) };

		memcpy(R.xmm[i], v, 16);
		memcpy(R.yhi[i], v + 2, 16);
	}
	R.mxcsr = MXCSR_VALUE;
	R.fcw = FCW_VALUE;
}

static void hex(char *out, const uint8_t *b, int n)
{
	int i;

	/* Most significant byte first. */
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[n - 1 - i]);
}

/* Prints every difference of the failed assembly round and exits 3. */
static void report_regs(long rc, uint64_t round)
{
	char e[80], g[80];
	int i;

	fprintf(stderr, "migrant %d: register mismatch in round %llu\n", getpid(), (unsigned long long)round);
	if (rc == 1) {
		for (i = 0; i < 9; i++)
			if (R.got[i] != R.gpr[i])
				fprintf(stderr, "migrant: %s: expected %016llx, got %016llx\n", gpr_name[i],
					(unsigned long long)R.gpr[i], (unsigned long long)R.got[i]);
	} else if (rc == 2) {
		uint16_t fcw, fsw;
		uint32_t mxcsr;

		memcpy(&fcw, R.fx, 2);
		memcpy(&fsw, R.fx + 2, 2);
		memcpy(&mxcsr, R.fx + 24, 4);
		if (fcw != R.fcw)
			fprintf(stderr, "migrant: x87 FCW: expected %04x, got %04x\n", R.fcw, fcw);
		if (fsw & 0x3800)
			fprintf(stderr, "migrant: x87 TOP: expected 0, got %d (FSW %04x)\n", (fsw >> 11) & 7, fsw);
		if (R.fx[4] != 0xff)
			fprintf(stderr, "migrant: x87 tag word: expected ff, got %02x\n", R.fx[4]);
		if (mxcsr != R.mxcsr)
			fprintf(stderr, "migrant: MXCSR: expected %08x, got %08x\n", R.mxcsr, mxcsr);
		for (i = 0; i < 8; i++) {
			if (memcmp(R.fx + 32 + 16 * i, R.st[i], 10)) {
				hex(e, R.st[i], 10);
				hex(g, R.fx + 32 + 16 * i, 10);
				fprintf(stderr, "migrant: st(%d): expected %s, got %s\n", i, e, g);
			}
		}
		for (i = 0; i < 16; i++) {
			if (memcmp(R.fx + 160 + 16 * i, R.xmm[i], 16)) {
				hex(e, R.xmm[i], 16);
				hex(g, R.fx + 160 + 16 * i, 16);
				fprintf(stderr, "migrant: xmm%d: expected %s, got %s\n", i, e, g);
			}
		}
	} else {
		for (i = 0; i < 16; i++) {
			if (memcmp(R.ysave[i] + 16, R.yhi[i], 16)) {
				hex(e, R.yhi[i], 16);
				hex(g, R.ysave[i] + 16, 16);
				fprintf(stderr, "migrant: ymm%d upper half: expected %s, got %s\n", i, e, g);
			}
		}
	}
	exit(3);
}

/* Checks slice s of the region against generation gen[s]; reports and exits 3 on a difference. */
static void check_slice(uint64_t *mem, size_t s, const uint32_t *gen)
{
	uint64_t *p = mem + s * SLICE_WORDS;
	size_t i, bad = 0;

	for (i = 0; i < SLICE_WORDS; i++) {
		uint64_t want = pattern(s * SLICE_WORDS + i, gen[s]);

		if (p[i] == want)
			continue;
		if (bad++ < 4)
			fprintf(stderr,
				"migrant %d: memory at %p (MiB %zu, word %zu, generation %u): expected %016llx, got %016llx\n",
				getpid(), (void *)(p + i), s, i, gen[s], (unsigned long long)want,
				(unsigned long long)p[i]);
	}
	if (bad) {
		fprintf(stderr, "migrant %d: %zu of %lu words of MiB %zu differ\n", getpid(), bad, SLICE_WORDS, s);
		exit(3);
	}
}

static void fill_slice(uint64_t *mem, size_t s, uint32_t g)
{
	uint64_t *p = mem + s * SLICE_WORDS;
	size_t i;

	for (i = 0; i < SLICE_WORDS; i++)
		p[i] = pattern(s * SLICE_WORDS + i, g);
}

static void usage(void)
{
	fprintf(stderr, "usage: migrant [-m MiB] [-t seconds] [-q] [-x CODE] [-w FILE] [-k TEXT] [-p] [-s] [-r FILE [-b BYTES]]\n");
	exit(1);
}

/* -r: read `file` over and over for `seconds`, `bsize` bytes per read (-b, default 4096). */
static char rbuf[1 << 20];
static int read_loop(const char *file, double seconds, size_t bsize)
{
	unsigned long long bytes = 0, calls = 0;
	char *buf = rbuf;
	double t0 = now();
	int fd = open(file, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "migrant: %s: %s\n", file, strerror(errno));
		return 7;
	}
	/* The clock is read every 256 reads: the job's time goes to its system calls. */
	while ((calls & 255) || now() - t0 < seconds) {
		ssize_t n = read(fd, buf, bsize);

		if (n < 0) {
			fprintf(stderr, "migrant: read %s: %s\n", file, strerror(errno));
			return 7;
		}
		if (n == 0) {
			lseek(fd, 0, SEEK_SET);
			continue;
		}
		bytes += n;
		calls++;
	}
	close(fd);
	printf("migrant read: %llu bytes in %llu reads\n", bytes, calls);
	return 0;
}

static volatile sig_atomic_t usr1;
static volatile int rt_got, rt_order, rt_info;
static volatile pid_t rt_pid;
static uid_t rt_uid;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE || si->si_uid != rt_uid || (rt_pid && si->si_pid != rt_pid))
		rt_info++;
	if (!rt_pid)
		rt_pid = si->si_pid;
	if (si->si_value.sival_int != rt_got)
		rt_order++;
	rt_got++;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

/* -W: reads `path` whole with one read() and one pread(), and writes it to `path`.copy with one
 * write() and one pwrite(); each must take every byte (POSIX: a regular file gives a short count
 * only at its end). Returns 0 when they all did and the bytes read are the file's (the second
 * read is compared with the first). */
static int whole_io(const char *path)
{
	char copy[4096];
	struct stat st;
	ssize_t r, pr, rv, w, pw, wv;
	struct iovec iov[2];
	char *a, *b;
	int fd, out, bad;
	off_t half;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		fprintf(stderr, "migrant: %s: %s\n", path, strerror(errno));
		return 1;
	}
	a = malloc(st.st_size);
	b = malloc(st.st_size);
	if (!a || !b)
		return 1;
	r = read(fd, a, st.st_size);
	pr = pread(fd, b, st.st_size, 0);
	bad = memcmp(a, b, st.st_size);
	memset(b, 0, st.st_size);
	half = st.st_size / 2;
	iov[0].iov_base = b;
	iov[0].iov_len = half;
	iov[1].iov_base = b + half;
	iov[1].iov_len = st.st_size - half;
	rv = lseek(fd, 0, SEEK_SET) ? -1 : readv(fd, iov, 2);
	close(fd);
	snprintf(copy, sizeof(copy), "%s.copy", path);
	out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		return 1;
	w = write(out, a, st.st_size);
	pw = pwrite(out, b, st.st_size, 0);
	wv = lseek(out, 0, SEEK_SET) ? -1 : writev(out, iov, 2);
	close(out);
	bad = bad || r != st.st_size || pr != st.st_size || rv != st.st_size || w != st.st_size ||
	      pw != st.st_size || wv != st.st_size || memcmp(a, b, st.st_size);
	printf("migrant whole: %lld bytes: read %zd, pread %zd, readv %zd, write %zd, pwrite %zd, writev %zd%s\n",
	       (long long)st.st_size, r, pr, rv, w, pw, wv, bad ? " (WRONG)" : "");
	free(a);
	free(b);
	return bad;
}

/* -f: forks a child that exits 0 and waits for it, trying again (up to 5 times, 100 ms apart)
 * when fork fails; prints how many were refused. Returns 0 on success. */
static int fork_once(void)
{
	int refused = 0, st = -1, err = 0;
	pid_t c;

	for (;;) {
		c = fork();
		if (c == 0)
			_exit(0);
		if (c > 0)
			break;
		err = errno;
		if (++refused > 5) {
			fprintf(stderr, "migrant: fork: %s, %d times\n", strerror(err), refused);
			return 1;
		}
		usleep(100000);
	}
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "migrant: fork child %d: status %#x\n", c, st);
		return 1;
	}
	printf("migrant fork: %d refused (%s), then ok\n", refused, refused ? strerror(err) : "none");
	return 0;
}

/* -g: a call that goes home (a query of personality(2)), tried again as fork_once does. */
static int home_once(void)
{
	int refused = 0, err = 0;

	while (syscall(SYS_personality, 0xffffffffUL) == -1) {
		err = errno;
		if (++refused > 5) {
			fprintf(stderr, "migrant: personality: %s, %d times\n", strerror(err), refused);
			return 1;
		}
		usleep(100000);
	}
	printf("migrant home call: %d refused (%s), then ok\n", refused, refused ? strerror(err) : "none");
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	int count_usr1 = 0, rt_want = 0;
	size_t mib = 64, nslices, s;
	double seconds = 10, t0, t, a, b;
	int quiet = 0, xcode = 0, ids = 0, sys = 0, half = 0, opt, avx = 0, forks = 0, timer = 0;
	int home_call = 0;
	int alarms_before_end = -1;
	const char *wfile = NULL, *rfile = NULL, *whole = NULL;
	size_t bsize = 4096;
	const char *marker = NULL;
	char *marked = NULL;
	uint64_t *mem, iters = 1000, round, passes = 0;
	uint32_t *gen;
	pid_t pid0, ppid0;
	long rc;

	while ((opt = getopt(argc, argv, "m:t:qx:w:psfgr:b:k:uR:W:a")) != -1) {
		switch (opt) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 't': seconds = atof(optarg); break;
		case 'q': quiet = 1; break;
		case 'x': xcode = atoi(optarg); break;
		case 'w': wfile = optarg; break;
		case 'p': ids = 1; break;
		case 's': sys = 1; break;
		case 'f': forks = 1; break;
		case 'g': home_call = 1; break;
		case 'a': timer = 1; break;
		case 'W': whole = optarg; break;
		case 'r': rfile = optarg; break;
		case 'b': bsize = strtoul(optarg, NULL, 10); break;
		case 'k': marker = optarg; break;
		case 'u': count_usr1 = 1; break;
		case 'R': rt_want = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || mib < 1 || mib > 65536 || seconds < 0 || bsize < 1 || bsize > sizeof(rbuf))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (count_usr1 && sigaction(SIGUSR1, &sa, NULL))
		return 1;
	if (rt_want > 0) {
		struct sigaction rt = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | SA_RESTART };
		struct rlimit rl = { rt_want + 1024, rt_want + 1024 };

		rt_uid = getuid();
		if (setrlimit(RLIMIT_SIGPENDING, &rl))
			fprintf(stderr, "migrant: RLIMIT_SIGPENDING: %s\n", strerror(errno));
		if (sigaction(SIGRTMIN, &rt, NULL))
			return 1;
	}
	if (rfile)
		return read_loop(rfile, seconds, bsize);
	pid0 = getpid();
	ppid0 = getppid();
	if (!quiet) {
		uint32_t m;

		avx = have_avx();
		R.flags = F_FPU | (avx ? F_AVX : 0);
		/* The MXCSR value must be accepted as is (no reserved bit silently dropped). */
		__asm__ volatile("stmxcsr %0" : "=m"(R.saved_mxcsr));
		m = MXCSR_VALUE;
		__asm__ volatile("ldmxcsr %1\n\tstmxcsr %0\n\tldmxcsr %2" : "=m"(m) : "m"(m), "m"(R.saved_mxcsr));
		if (m != MXCSR_VALUE) {
			fprintf(stderr, "migrant: MXCSR %04x reads back as %04x\n", MXCSR_VALUE, m);
			return 1;
		}
	}
	nslices = mib;
	mem = malloc(mib * SLICE);
	gen = calloc(nslices, sizeof(*gen));
	if (!mem || !gen) {
		fprintf(stderr, "migrant: cannot allocate %zu MiB\n", mib);
		return 1;
	}
	if (marker && *marker) {
		size_t k, ml = strlen(marker);

		marked = malloc(256 << 10);
		if (!marked)
			return 1;
		for (k = 0; k + ml <= (256 << 10); k += ml)
			memcpy(marked + k, marker, ml);
		/* The compiler must keep the buffer: it is what travels. */
		__asm__ volatile("" : : "r"(marked) : "memory");
	}
	a = now();
	for (s = 0; s < nslices; s++)
		fill_slice(mem, s, 0);
	printf("migrant %d ready: %zu MiB filled in %.2f s, %s, %.1f s to run\n", pid0, mib, now() - a,
	       quiet ? "general registers only" : avx ? "x87, SSE and AVX" : "x87 and SSE (no AVX)", seconds);

	t0 = now();
	if (timer) {
		struct sigaction al = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
		struct itimerval it = { { 0, 50000 }, { 0, 50000 } };

		if (sigaction(SIGALRM, &al, NULL) || setitimer(ITIMER_REAL, &it, NULL)) {
			fprintf(stderr, "migrant: setitimer: %s\n", strerror(errno));
			return 11;
		}
	}
	for (round = 0;; round++) {
		set_values(round);
		a = now();
		rc = migrant_regs(&R, iters);
		if (rc)
			report_regs(rc, round);
		b = now();
		/* Aim at ROUND_SECONDS per assembly round (measured over the first rounds). */
		if (round < 8 && b > a) {
			double scaled = iters * ROUND_SECONDS / (b - a);

			iters = scaled < 100 ? 100 : scaled > 1e8 ? 100000000 : (uint64_t)scaled;
		}
		s = round % nslices;
		check_slice(mem, s, gen);
		fill_slice(mem, s, ++gen[s]);
		if (s == nslices - 1)
			passes++;
		if (ids && (getpid() != pid0 || getppid() != ppid0)) {
			fprintf(stderr, "migrant: identity changed in round %llu: pid %d -> %d, ppid %d -> %d\n",
				(unsigned long long)round, pid0, getpid(), ppid0, getppid());
			return 4;
		}
		t = now() - t0;
		if (!half && t >= seconds / 2) {
			half = 1;
			if (sys) {
				struct sysinfo si;
				int prio;

				errno = 0;
				prio = getpriority(PRIO_PROCESS, 0);
				if (prio == -1 && errno) {
					fprintf(stderr, "migrant: getpriority: %s\n", strerror(errno));
					return 5;
				}
				if (sysinfo(&si) || si.totalram == 0 || si.mem_unit == 0) {
					fprintf(stderr, "migrant: sysinfo: %s (totalram %lu)\n", strerror(errno),
						si.totalram);
					return 5;
				}
			}
			if (forks && fork_once())
				return 9;
			if (home_call && home_once())
				return 9;
			if (whole && whole_io(whole))
				return 10;
			if (wfile) {
				FILE *f = fopen(wfile, "w");

				if (!f || fprintf(f, "hello from %d ppid %d\n", getpid(), getppid()) < 0 ||
				    (marker && fprintf(f, "%s\n", marker) < 0) || fclose(f)) {
					fprintf(stderr, "migrant: writing %s: %s\n", wfile, strerror(errno));
					return 6;
				}
			}
		}
		if (alarms_before_end < 0 && t >= seconds - 4)
			alarms_before_end = alarms;
		if (t >= seconds)
			break;
	}
	/* Every slice once more, then done. */
	for (s = 0; s < nslices; s++)
		check_slice(mem, s, gen);
	passes++;
	printf("migrant ok: %llu rounds, %llu full memory passes\n", (unsigned long long)round + 1,
	       (unsigned long long)passes);
	if (count_usr1)
		printf("migrant got %d SIGUSR1\n", (int)usr1);
	if (timer) {
		int n = alarms, expect = (int)(seconds / 0.05), last = n - alarms_before_end;

		printf("migrant alarms: %d of about %d, %d in the last 4 s\n", n, expect, last);
		if (n < expect / 2 || last < 20 || alarms_before_end < 0)
			return 11;
	}
	if (rt_want > 0) {
		t0 = now();
		while (rt_got < rt_want && now() - t0 < 60)
			;
		printf("migrant rt: got %d of %d, %d out of order, %d wrong siginfo\n", rt_got, rt_want,
		       rt_order, rt_info);
		if (rt_got != rt_want || rt_order || rt_info)
			return 8;
	}
	return xcode;
}
