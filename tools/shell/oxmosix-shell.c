// SPDX-License-Identifier: GPL-2.0
/*
 * oxmosix-shell: the process a guest runs in on a remote node.
 *
 * The module starts this program (as /sbin/oxmosix-shell, with the migrated process's uid and
 * gid) and marks the new task before it executes. Its first and only system call, exit_group,
 * is intercepted by the module, which replaces the whole user context with the received image
 * and returns straight into the migrated program. Started by anybody else, it simply exits
 * with status 1. No libc: nothing runs before that system call.
 */
void _start(void)
{
	__asm__ volatile("mov $231, %eax\n\t"	/* exit_group */
			 "mov $1, %edi\n\t"
			 "syscall\n\t"
			 "ud2");
	__builtin_unreachable();
}
