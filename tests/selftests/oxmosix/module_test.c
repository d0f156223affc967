// SPDX-License-Identifier: GPL-2.0
/*
 * oxmosix module selftests: /proc/hpc/admin/version, the /dev/mosix VERSION ioctl, mosctl version,
 * and unloading/reloading the module leaving nothing behind.
 *
 * Runs on a cluster node as root (scripts/cluster run), KTAP output through kselftest_harness.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "oxmosix_test.h"
#include "oxmosix_uapi.h"

#define MODULE_PATH "/lib/modules/oxmosix.ko"
#define MOSCTL "/opt/oxmosix/bin/mosctl"


static int module_loaded(void)
{
	char buf[65536];

	if (read_file("/proc/modules", buf, sizeof(buf)) < 0)
		return -1;
	return strncmp(buf, "oxmosix ", 8) == 0 || strstr(buf, "\noxmosix ") != NULL;
}

TEST(proc_version_format)
{
	char buf[64];
	regex_t re;

	ASSERT_GT(read_file("/proc/hpc/admin/version", buf, sizeof(buf)), 0);
	ASSERT_EQ(0, regcomp(&re, "^[0-9]+\\.[0-9]+\\.[0-9]+\n$", REG_EXTENDED));
	EXPECT_EQ(0, regexec(&re, buf, 0, NULL, 0)) TH_LOG("version is '%s'", buf);
	regfree(&re);
}

TEST(proc_version_is_read_only)
{
	int fd = open("/proc/hpc/admin/version", O_WRONLY);

	if (fd >= 0) {
		/* Root may open a 0444 proc file for writing; the write itself must be refused. */
		EXPECT_EQ(-1, write(fd, "9.9.9\n", 6));
		EXPECT_EQ(EACCES, errno);
		close(fd);
	} else {
		EXPECT_EQ(EACCES, errno);
	}
}

TEST(ioctl_version_matches_proc)
{
	struct mosix_version v;
	char proc[64], want[128];
	int fd = open("/dev/mosix", O_RDONLY);

	ASSERT_LE(0, fd) TH_LOG("open /dev/mosix: %s", strerror(errno));
	memset(&v, 0xff, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, MOSIX_IOC_VERSION, &v)) TH_LOG("ioctl: %s", strerror(errno));
	EXPECT_EQ(MOSIX_ABI_VERSION, v.abi);
	ASSERT_GT(read_file("/proc/hpc/admin/version", proc, sizeof(proc)), 0);
	proc[strcspn(proc, "\n")] = 0;
	snprintf(want, sizeof(want), "%u.%u.%u", v.major, v.minor, v.patch);
	EXPECT_STREQ(proc, want);
	snprintf(want, sizeof(want), "oxmosix %s", proc);
	ASSERT_NE(NULL, memchr(v.release, 0, sizeof(v.release)));
	EXPECT_STREQ(want, v.release);
	close(fd);
}

TEST(ioctl_rejects_bad_requests)
{
	int fd = open("/dev/mosix", O_RDONLY);

	ASSERT_LE(0, fd);
	/* Unknown request number. */
	EXPECT_EQ(-1, ioctl(fd, _IOR(0xBC, 0x7f, struct mosix_version), NULL));
	EXPECT_EQ(ENOTTY, errno);
	/* Bad user pointer: EFAULT, not an oops. */
	EXPECT_EQ(-1, ioctl(fd, MOSIX_IOC_VERSION, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(mosctl_version)
{
	char out[256], proc[64], want[256];

	ASSERT_GT(read_file("/proc/hpc/admin/version", proc, sizeof(proc)), 0);
	proc[strcspn(proc, "\n")] = 0;
	ASSERT_EQ(0, run(MOSCTL " version", out, sizeof(out)));
	snprintf(want, sizeof(want), "oxmosix %s (ioctl ABI %d)\n", proc, MOSIX_ABI_VERSION);
	EXPECT_STREQ(want, out);
	ASSERT_EQ(0, run(MOSCTL " --json version", out, sizeof(out)));
	snprintf(want, sizeof(want), "{\"release\":\"oxmosix %s\",\"version\":\"%s\",\"abi\":%d}\n", proc, proc,
		 MOSIX_ABI_VERSION);
	EXPECT_STREQ(want, out);
}

/*
 * Unload and reload while the node is in a cluster (peers connected and gossiping): /proc/hpc and
 * /dev/mosix disappear and come back; mosctl reports the absence.
 */
TEST(unload_reload)
{
	struct stat st;
	char out[256];
	int i, fd;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, module_loaded());
		ASSERT_EQ(0, syscall(SYS_delete_module, "oxmosix", O_NONBLOCK))
			TH_LOG("delete_module: %s", strerror(errno));
		EXPECT_EQ(0, module_loaded());
		EXPECT_EQ(-1, stat("/proc/hpc", &st));
		EXPECT_EQ(-1, stat("/dev/mosix", &st));
		EXPECT_EQ(1, run(MOSCTL " version 2>&1", out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "not loaded")) TH_LOG("mosctl said: %s", out);

		fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, syscall(SYS_finit_module, fd, "", 0)) TH_LOG("finit_module: %s", strerror(errno));
		close(fd);
		EXPECT_EQ(0, stat("/proc/hpc/admin/version", &st));
		EXPECT_EQ(0, stat("/dev/mosix", &st));
		EXPECT_EQ(0, run(MOSCTL " version", out, sizeof(out)));
		/* Rejoin the cluster (scripts/node/init wrote the map at boot). */
		EXPECT_EQ(0, run(MOSCTL " setkey /etc/oxmosix/cluster.key 2>&1 && " MOSCTL " allow-root 1 2>&1 && " MOSCTL " setmap /etc/oxmosix.map 2>&1", out, sizeof(out))) TH_LOG("%s", out);
	}
}

/* The module cannot go while /dev/mosix is open (file_operations owner). */
TEST(busy_while_open)
{
	int fd = open("/dev/mosix", O_RDONLY);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "oxmosix", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(fd);
	EXPECT_EQ(1, module_loaded());
}

TEST_HARNESS_MAIN
