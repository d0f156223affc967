// SPDX-License-Identifier: GPL-2.0
/*
 * sigcheck: a program for transparency_test. It installs a SIGUSR1 handler, spins 2 s (the test
 * migrates it meanwhile), waits up to 10 s for SIGUSR1 and prints "handler got N". Then, by mode:
 *   read  read stdin (a pipe nobody writes yet): a SIGUSR1 must interrupt it with EINTR
 *   segv  write to address 8 (SIGSEGV)
 *   tty   open the terminal named by $SIGCHECK_TTY, check isatty() and tcgetattr(), write a line
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
  double t0=now(); while(now()-t0<2.0);            /* migrate window */
  /* wait for SIGUSR1 by spinning */
  t0=now(); while(!got && now()-t0<10.0);
  printf("handler got %d\n", got); fflush(stdout);
  if (argc > 1 && !strcmp(argv[1], "read")) {        /* EINTR on a blocked forwarded read */
    char b[8]; got=0;
    ssize_t n = read(0, b, sizeof b);
    printf("read=%zd errno=%d got=%d\n", n, n<0?errno:0, got); fflush(stdout);
  }
  if (argc > 1 && !strcmp(argv[1], "segv")) { volatile int *bad = (volatile int *)(uintptr_t)getpid(); bad = (volatile int *)((uintptr_t)bad & 0xff); *bad = 1; }
  if (argc > 1 && !strcmp(argv[1], "tty")) {
    struct termios t;
    const char *dev = getenv("SIGCHECK_TTY");
    int fd = open(dev ? dev : "/dev/ttyS3", O_RDWR | O_NOCTTY);
    int ok = fd >= 0 && isatty(fd) && tcgetattr(fd, &t) == 0 && write(fd, "sigcheck\r\n", 10) == 10;
    printf("tty %s\n", ok ? "ok" : "failed"); fflush(stdout);
    if (!ok) return 1;
  }
  return 7;
}
