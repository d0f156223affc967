// SPDX-License-Identifier: GPL-2.0
/*
 * cpuburn SECS [LIMIT [AT]]: prints "cpuburn ready", then computes until its process CPU clock
 * (CLOCK_PROCESS_CPUTIME_ID) reaches SECS, with ITIMER_PROF firing every 50 ms and ITIMER_VIRTUAL
 * every 100 ms. migrate_test.cpu_time_travels moves it between nodes meanwhile. It checks
 * continuously that its CPU clock never goes back, and at the end that getrusage(RUSAGE_SELF) and
 * times() agree with it within 10% (plus 50 ms) and that at least half of the nominal SIGPROFs
 * and SIGVTALRMs arrived. With LIMIT, RLIMIT_CPU is LIMIT seconds (hard LIMIT + 10): SIGXCPU,
 * at its default action, must end it after LIMIT seconds of CPU. With AT, the limit is set once
 * its CPU clock reaches AT seconds (so after a move, on the node it runs on).
 *
 * Prints "cpuburn: cpu S s, rusage R s, times T s, SIGPROF P of N, SIGVTALRM V of M" and exits 0
 * when all hold, 7 when one does not ("cpuburn: ... WRONG"), 1 on a setup error.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t profs, vtalrms;

static void on_prof(int sig)
{
	profs++;
	(void)sig;
}

static void on_vtalrm(int sig)
{
	vtalrms++;
	(void)sig;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int near(double a, double b)
{
	double d = a > b ? a - b : b - a;

	return d <= 0.10 * b + 0.05;
}

int main(int argc, char **argv)
{
	struct itimerval prof = { { 0, 50000 }, { 0, 50000 } };
	struct itimerval virt = { { 0, 100000 }, { 0, 100000 } };
	struct sigaction sp = { .sa_handler = on_prof, .sa_flags = SA_RESTART };
	struct sigaction sv = { .sa_handler = on_vtalrm, .sa_flags = SA_RESTART };
	double secs, cpu = 0, last = 0, ru_s, times_s;
	volatile unsigned long x = 1;
	int limit = 0, ok, back = 0;
	double at = 0;
	struct rlimit rl;
	struct rusage ru;
	struct tms tm;
	long hz;

	if (argc < 2 || argc > 4)
		return 1;
	secs = atof(argv[1]);
	if (argc >= 3) {
		limit = atoi(argv[2]);
		rl.rlim_cur = limit;
		rl.rlim_max = limit + 10;
		at = argc == 4 ? atof(argv[3]) : 0;
		if (limit <= 0 || (!at && setrlimit(RLIMIT_CPU, &rl)))
			return 1;
	}
	if (secs <= 0 || sigaction(SIGPROF, &sp, NULL) || sigaction(SIGVTALRM, &sv, NULL) ||
	    setitimer(ITIMER_PROF, &prof, NULL) || setitimer(ITIMER_VIRTUAL, &virt, NULL))
		return 1;
	printf("cpuburn ready\n");
	fflush(stdout);
	while (cpu < secs) {
		for (int k = 0; k < 200000; k++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
		cpu = cpu_now();
		if (cpu < last) {
			printf("cpuburn: CPU clock went back from %.6f to %.6f s\n", last, cpu);
			back = 1;
		}
		last = cpu;
		if (at && cpu >= at) {
			if (setrlimit(RLIMIT_CPU, &rl))
				return 1;
			printf("cpuburn: RLIMIT_CPU %d s set at %.3f s of CPU\n", limit, cpu);
			fflush(stdout);
			at = 0;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	times(&tm);
	cpu = cpu_now();
	hz = sysconf(_SC_CLK_TCK);
	ru_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	times_s = (double)(tm.tms_utime + tm.tms_stime) / hz;
	ok = !back && near(ru_s, cpu) && near(times_s, cpu) && profs * 2 >= (int)(secs / 0.05) &&
	     vtalrms * 2 >= (int)(secs / 0.1);
	printf("cpuburn: cpu %.3f s, rusage %.3f s, times %.2f s, SIGPROF %d of %d, SIGVTALRM %d of %d: %s\n",
	       cpu, ru_s, times_s, (int)profs, (int)(secs / 0.05), (int)vtalrms, (int)(secs / 0.1),
	       ok ? "right" : "WRONG");
	return ok ? 0 : 7;
}
