// SPDX-License-Identifier: GPL-2.0
/*
 * sigcheck: a program for transparency_test. It installs a SIGUSR1 handler, spins 2 s (the test
 * migrates it meanwhile), waits up to 10 s for SIGUSR1 and prints "handler got N". Then, by mode:
 *   read  read stdin (a pipe nobody writes yet): a SIGUSR1 must interrupt it with EINTR
 *   segv  write to address 8 (SIGSEGV)
 *   newpgrp  run in a process group of its own (job control: SIGTSTP then stops it)
 *   tty   (a pseudo-terminal opened at start) isatty() and tcgetattr() on the slave, write a line
 *         to it and read it back from the master
 * and exits 7.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <termios.h>
static volatile int got;
static void h(int s){ got = s; }
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc, char **argv){
  struct sigaction sa; memset(&sa,0,sizeof sa); sa.sa_handler=h; sigaction(SIGUSR1,&sa,0);
  /* A foreground job's SIGINT: the shell starts background jobs with it ignored. */
  signal(SIGINT, SIG_DFL);
  /* Its own process group under a parent of the same session: not orphaned, so SIGTSTP stops. */
  if (argc > 1 && !strcmp(argv[1], "newpgrp")) setpgid(0, 0);
  int master = -1, slave = -1;
  if (argc > 1 && !strcmp(argv[1], "tty")) {     /* a pseudo-terminal, set up at home */
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) return 1;
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    if (slave < 0) return 1;
  }
  double t0=now(); while(now()-t0<2.0);            /* migrate window */
  printf("waiting for SIGUSR1\n"); fflush(stdout);
  /* wait for SIGUSR1 by spinning */
  t0=now(); while(!got && now()-t0<10.0);
  printf("handler got %d\n", got); fflush(stdout);
  if (argc > 1 && !strcmp(argv[1], "read")) {        /* EINTR on a blocked forwarded read */
    char b[8]; got=0;
    printf("reading\n"); fflush(stdout);
    ssize_t n = read(0, b, sizeof b);
    printf("read=%zd errno=%d got=%d\n", n, n<0?errno:0, got); fflush(stdout);
  }
  if (argc > 1 && !strcmp(argv[1], "segv")) { volatile int *bad = (volatile int *)(uintptr_t)getpid(); bad = (volatile int *)((uintptr_t)bad & 0xff); *bad = 1; }
  if (argc > 1 && !strcmp(argv[1], "tty")) {      /* used remotely: all forwarded */
    struct termios t;
    char buf[64] = "";
    ssize_t n;
    int ok = isatty(slave) && tcgetattr(slave, &t) == 0 && write(slave, "sigcheck\n", 9) == 9;
    n = ok ? read(master, buf, sizeof(buf) - 1) : -1;
    ok = ok && n > 0 && strstr(buf, "sigcheck") != NULL;
    printf("tty %s (%zd bytes from the master)\n", ok ? "ok" : "failed", n); fflush(stdout);
    if (!ok) return 1;
  }
  return 7;
}
