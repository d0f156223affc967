// SPDX-License-Identifier: GPL-2.0
/*
 * reader FILE GO BACK: reads FILE the way a program reading a home file from a remote node does,
 * for migrate_test.read_ahead_stays_true, and checks every byte it gets. The test migrates it
 * after "reader ready fd N" and drives it through the FIFOs GO (the test writes one byte per
 * step) and BACK (one byte back at each pause); FILE holds pattern generation 0 of SIZE bytes.
 *
 *  1. reads 9 blocks of 4 KiB from the start (its read-ahead grows), checks lseek(fd, 0,
 *     SEEK_CUR) = 24576 after the 6th, pauses ('a'): the test checks the position of the file
 *     at home (36864) and rewrites the whole file with generation 1;
 *  2. reads 4 KiB at 36864 (generation 1 expected: the bytes read ahead before are stale), seeks
 *     to 100000 and reads 4 KiB there, then reads on in 4 KiB reads to the end of the file
 *     (SIZE bytes in all), writing each block to /dev/null (each write must return its count),
 *     and pauses ('b'): the test appends 5000 bytes of generation 2;
 *  3. reads again: exactly those 5000 bytes, then the end of the file.
 *
 * Prints "reader: ..." lines; exit status 0 when every byte and position was right, 10 + step
 * when one was not, 1 for a setup error.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (2 << 20)

static int go, back, null;

/* Byte at offset `off` of pattern generation `gen` (also in migrate_test.c). */
static unsigned char pat(int gen, long off)
{
	return (unsigned char)(off * 13 + off / 509 + gen * 101);
}

static void pause_for(char c)
{
	char b;

	if (write(back, &c, 1) != 1 || read(go, &b, 1) != 1) {
		printf("reader: the test went away at '%c'\n", c);
		exit(1);
	}
}

/* Reads `len` bytes (one read) at the current position `at`; they must be generation `gen`. */
static int check_read(int fd, long at, size_t len, int gen, int step)
{
	static unsigned char buf[65536];
	ssize_t n = read(fd, buf, len);
	size_t k;

	if (n != (ssize_t)len) {
		printf("reader: step %d: read at %ld returned %zd, not %zu\n", step, at, n, len);
		return 0;
	}
	for (k = 0; k < len; k++)
		if (buf[k] != pat(gen, at + k)) {
			printf("reader: step %d: byte %ld is %u, not generation %d's %u\n", step, at + (long)k,
			       buf[k], gen, pat(gen, at + k));
			return 0;
		}
	return 1;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536];
	long at, k;
	ssize_t n;
	char b;
	int fd;

	if (argc != 4)
		return 1;
	fd = open(argv[1], O_RDONLY);
	go = open(argv[2], O_RDWR);
	back = open(argv[3], O_RDWR);
	null = open("/dev/null", O_WRONLY);
	if (fd < 0 || go < 0 || back < 0 || null < 0)
		return 1;
	printf("reader ready fd %d\n", fd);
	fflush(stdout);
	if (read(go, &b, 1) != 1)
		return 1;
	for (at = 0, k = 0; k < 9; k++, at += 4096) {
		if (!check_read(fd, at, 4096, 0, 1))
			return 11;
		if (k == 5 && lseek(fd, 0, SEEK_CUR) != 24576) {
			printf("reader: step 1: position %ld, not 24576\n", (long)lseek(fd, 0, SEEK_CUR));
			return 11;
		}
	}
	pause_for('a');
	if (!check_read(fd, at, 4096, 1, 2))
		return 12;
	at = lseek(fd, 100000, SEEK_SET);
	if (at != 100000 || !check_read(fd, at, 4096, 1, 2))
		return 12;
	for (at += 4096; at < SIZE; at += n) {
		n = SIZE - at < 4096 ? SIZE - at : 4096;
		if (!check_read(fd, at, n, 1, 2))
			return 12;
		if (write(null, buf, n) != n) {
			printf("reader: step 2: a write of %zd bytes to /dev/null failed\n", n);
			return 12;
		}
	}
	if (read(fd, buf, sizeof(buf)) != 0) {
		printf("reader: step 2: no end of file at %d\n", SIZE);
		return 12;
	}
	pause_for('b');
	if (!check_read(fd, SIZE, 5000, 2, 3))
		return 13;
	if (read(fd, buf, sizeof(buf)) != 0) {
		printf("reader: step 3: no end of file at %d\n", SIZE + 5000);
		return 13;
	}
	printf("reader: all %d bytes right\n", SIZE + 5000);
	return 0;
}
