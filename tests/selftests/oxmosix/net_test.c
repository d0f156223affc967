// SPDX-License-Identifier: GPL-2.0
/*
 * oxmosix cluster network selftest: this node has its address on eth0 and every other node of the
 * cluster answers ICMP echo. Node id, node count and the /24 prefix come from the kernel command
 * line (oxnode=, oxnodes=, oxnet=) set by scripts/cluster.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "oxmosix_test.h"

static uint16_t csum(const void *data, size_t len)
{
	const uint16_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return ~sum;
}

/* One ICMP echo to addr; 0 when a matching reply came back within timeout_ms. */
static int ping_once(const char *addr, uint16_t seq, int timeout_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct icmphdr req = { .type = ICMP_ECHO };
	char buf[1500];
	int s, ret = -1;
	struct timespec t0, t1;

	if (inet_pton(AF_INET, addr, &to.sin_addr) != 1)
		return -1;
	s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (s < 0)
		return -1;
	req.un.echo.id = htons(getpid() & 0xffff);
	req.un.echo.sequence = htons(seq);
	req.checksum = csum(&req, sizeof(req));
	if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(req))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct iphdr *ip = (struct iphdr *)buf;
		struct icmphdr *rep;
		int left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < (ssize_t)sizeof(*ip) || n < ip->ihl * 4 + (ssize_t)sizeof(*rep))
			continue;
		rep = (struct icmphdr *)(buf + ip->ihl * 4);
		if (from.sin_addr.s_addr == to.sin_addr.s_addr && rep->type == ICMP_ECHOREPLY &&
		    rep->un.echo.id == req.un.echo.id && rep->un.echo.sequence == req.un.echo.sequence) {
			ret = 0;
			break;
		}
	}
out:
	close(s);
	return ret;
}

TEST(cluster_identity)
{
	read_cmdline();
	ASSERT_GE(node, 1);
	ASSERT_GE(nodes, node);
	TH_LOG("node %d of %d on %s.0/24", node, nodes, net);
}

TEST(own_address_on_eth0)
{
	struct ifreq ifr = { 0 };
	char want[48];
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	read_cmdline();
	ASSERT_LE(0, s);
	strcpy(ifr.ifr_name, "eth0");
	ASSERT_EQ(0, ioctl(s, SIOCGIFADDR, &ifr)) TH_LOG("SIOCGIFADDR eth0: %s", strerror(errno));
	snprintf(want, sizeof(want), "%s.%d", net, node);
	EXPECT_STREQ(want, inet_ntoa(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr));
	close(s);
}

TEST(every_peer_answers)
{
	int j, try, unreachable = 0;
	char addr[48];

	read_cmdline();
	ASSERT_GE(nodes, 1);
	for (j = 1; j <= nodes; j++) {
		int ok = 0;

		if (j == node)
			continue;
		snprintf(addr, sizeof(addr), "%s.%d", net, j);
		for (try = 0; try < 3 && !ok; try++)
			ok = ping_once(addr, j * 16 + try, 2000) == 0;
		if (!ok) {
			TH_LOG("node %d (%s) does not answer", j, addr);
			unreachable++;
		}
	}
	EXPECT_EQ(0, unreachable);
	TH_LOG("reached %d peers", nodes - 1 - unreachable);
}

TEST_HARNESS_MAIN
