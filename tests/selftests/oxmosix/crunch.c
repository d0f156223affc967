// SPDX-License-Identifier: GPL-2.0
/*
 * crunch K N: a CPU-bound number cruncher started by a real execve() (placement_test: busybox
 * runs its applets, awk included, without one). Computes s = K; s = (s * 31 + i * K) mod
 * 1000003 for i = 1..N, the balance_test formula, and prints "K s". Exit status 1 for bad
 * arguments.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long long k, n, i, s;

	if (argc != 3)
		return 1;
	k = strtoull(argv[1], NULL, 10);
	n = strtoull(argv[2], NULL, 10);
	s = k;
	for (i = 1; i <= n; i++)
		s = (s * 31 + i * k) % 1000003;
	printf("%llu %llu\n", k, s);
	return 0;
}
