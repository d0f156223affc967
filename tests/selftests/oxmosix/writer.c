// SPDX-License-Identifier: GPL-2.0
/*
 * writer DIR GO BACK: writes home files the way a migrated program does, for
 * migrate_test.write_behind_stays_true, and checks what it can see of them. The test migrates it
 * after "writer ready" and drives it through the FIFOs GO and BACK (one byte per step).
 *
 *  1. writes 1 MiB of a pattern to DIR/out in 4 KiB writes (each must return 4096), checks
 *     lseek(fd, 0, SEEK_CUR) = 1 MiB and reads 4 KiB back at 500000 with pread (its own writes,
 *     in order), appends 100 lines "line N" to DIR/app (opened O_APPEND), pauses ('a'): the
 *     test checks both files at home;
 *  2. writes 4 KiB blocks to DIR/small/f (a 64 KiB tmpfs) until a write fails with ENOSPC (the
 *     failure of a write run behind it at home, returned by a later write), at most 64 blocks,
 *     then fsync and close; the failure must have come back by close at the latest.
 *
 * Prints "writer: ..." lines; exit status 0 when all was right, 10 + step when not, 1 for a
 * setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static unsigned char buf[4096], back4k[4096];
	char path[256], line[32], b;
	int out, app, small, go, back, k, failed = 0, len;
	long at;

	if (argc != 4)
		return 1;
	snprintf(path, sizeof(path), "%s/out", argv[1]);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/app", argv[1]);
	app = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	snprintf(path, sizeof(path), "%s/small/f", argv[1]);
	small = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	go = open(argv[2], O_RDWR);
	back = open(argv[3], O_RDWR);
	if (out < 0 || app < 0 || small < 0 || go < 0 || back < 0)
		return 1;
	printf("writer ready\n");
	fflush(stdout);
	if (read(go, &b, 1) != 1)
		return 1;
	for (at = 0; at < (1 << 20); at += sizeof(buf)) {
		for (k = 0; k < (int)sizeof(buf); k++)
			buf[k] = (unsigned char)((at + k) * 7 + (at + k) / 4093);
		if (write(out, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			printf("writer: step 1: write at %ld: %s\n", at, strerror(errno));
			return 11;
		}
	}
	if (lseek(out, 0, SEEK_CUR) != (1 << 20)) {
		printf("writer: step 1: position %ld\n", (long)lseek(out, 0, SEEK_CUR));
		return 11;
	}
	snprintf(path, sizeof(path), "%s/out", argv[1]);
	k = open(path, O_RDONLY);
	if (k < 0 || pread(k, back4k, sizeof(back4k), 500000) != (ssize_t)sizeof(back4k)) {
		printf("writer: step 1: pread back failed\n");
		return 11;
	}
	close(k);
	for (k = 0; k < (int)sizeof(back4k); k++)
		if (back4k[k] != (unsigned char)((500000 + k) * 7 + (500000 + k) / 4093)) {
			printf("writer: step 1: byte %d read back differs\n", 500000 + k);
			return 11;
		}
	for (k = 0; k < 100; k++) {
		len = snprintf(line, sizeof(line), "line %d\n", k);
		if (write(app, line, len) != len)
			return 11;
	}
	if (write(back, "a", 1) != 1 || read(go, &b, 1) != 1)
		return 1;
	memset(buf, 'x', sizeof(buf));
	for (k = 0; k < 64; k++)
		if (write(small, buf, sizeof(buf)) < 0) {
			failed = errno;
			break;
		}
	printf("writer: %d blocks of 4 KiB written to the 64 KiB file system, then %s\n", k,
	       failed ? strerror(failed) : "no error");
	if (!failed && fsync(small) < 0)
		failed = errno, printf("writer: fsync: %s\n", strerror(errno));
	if (close(small) < 0 && !failed)
		failed = errno, printf("writer: close: %s\n", strerror(errno));
	if (failed != ENOSPC) {
		printf("writer: step 2: the full file system was not reported (%d)\n", failed);
		return 12;
	}
	printf("writer: all right\n");
	return 0;
}
