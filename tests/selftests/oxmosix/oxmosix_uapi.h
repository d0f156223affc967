/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The /dev/mosix ioctl ABI (version 1) as C sees it: the selftests' one view of src/uapi.rs.
 *
 * src/uapi.rs is the definition; this header follows it field by field (the names are the
 * same, except that Rust's `where_` is `where` here). The host test `c_header_matches` in
 * tools/uapi compiles this header and compares the size of every structure, the offset and
 * size of every field and every request number with the Rust definitions, so the two cannot
 * drift apart silently. Documented for users in Documentation/ioctl.md.
 */
#ifndef OXMOSIX_UAPI_H
#define OXMOSIX_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>

#define MOSIX_DEVICE "/dev/mosix"
#define MOSIX_ABI_VERSION 1
#define MOSIX_IOC_MAGIC 0xBC

/* Answer of MOSIX_IOC_VERSION (Rust: VersionInfo). */
struct mosix_version {
	uint32_t abi, major, minor, patch;
	char release[48];		/* NUL-padded, e.g. "oxmosix 0.1.0" */
};

/* One map line (Rust: MapRange): `count` nodes from `id` at consecutive IPv4 addresses. */
struct mosix_map_range {
	uint32_t id;
	uint32_t ip;			/* host byte order */
	uint32_t count;
};

#define MOSIX_MAP_MAX_RANGES 64

/* Argument of MOSIX_IOC_SETMAP and MOSIX_IOC_GETMAP (Rust: MapInfo). */
struct mosix_map {
	uint32_t count;
	uint32_t self_id;		/* 0: found by the module from local addresses */
	uint16_t port;			/* 0: the default, 4660 */
	uint16_t pad;
	uint32_t generation;		/* out */
	struct mosix_map_range ranges[MOSIX_MAP_MAX_RANGES];
};

/* Argument of MOSIX_IOC_NODEINFO (Rust: NodeInfo). */
struct mosix_nodeinfo {
	uint32_t id;			/* in: 0 = this node */
	uint32_t status;		/* MOSIX_NODE_* bits | policy flags << 8 */
	uint32_t load, speed, cpus, util, age_ms, pad;
	uint64_t tmem_kib, fmem_kib, amem_kib;
};

#define MOSIX_NODE_UP 1
#define MOSIX_NODE_KNOWN 2
#define MOSIX_NODE_SELF 4
#define MOSIX_NODE_CONNECTED 8

/* Argument of MOSIX_IOC_SETPARAM and MOSIX_IOC_GETPARAM (Rust: Param). */
struct mosix_param {
	uint32_t key;
	uint32_t pad;
	uint64_t value;
};

/* Argument of MOSIX_IOC_MIGRATE (Rust: MigrateReq). */
struct mosix_migrate {
	int32_t pid;
	int32_t node;			/* MIGRATE_HOME (0), MIGRATE_BALANCE (-1) or a node id */
	uint32_t reason;		/* out: cantmove code */
	uint32_t pad;
};

#define MIGRATE_HOME 0
#define MIGRATE_BALANCE (-1)

/* Argument of MOSIX_IOC_PROCINFO (Rust: ProcInfo). */
struct mosix_procinfo {
	int32_t pid;			/* in */
	uint32_t state;			/* PS_* */
	uint32_t home, where, nmigs, lock, cantmove;
	int32_t home_pid;
	char comm[16];
};

#define PS_HOME 0
#define PS_DEPUTY 1
#define PS_GUEST 2
#define PS_MIGRATING 3

/* Why a process cannot move (Rust: uapi::cantmove): mosix_migrate.reason, mosix_procinfo.cantmove. */
#define CM_NONE 0
#define CM_KTHREAD 1
#define CM_THREADS 2
#define CM_SHARED_WRITABLE 3
#define CM_DEVICE 4
#define CM_PTRACED 5
#define CM_REALTIME 6
#define CM_LOCKED 7
#define CM_MIGRATING 8
#define CM_EXITING 9
#define CM_LAYOUT 10
#define CM_CREDENTIALS 11
#define CM_NOT_DUMPABLE 12
#define CM_ROOT 13
#define CM_SECCOMP 14
#define CM_SIGNALFD 15
#define CM_CPU_TIMERS 16
#define CM_TARGET_BLOCKED 20
#define CM_TARGET_NOMEM 21
#define CM_TARGET_SHELL 22
#define CM_TARGET_FAILED 23
#define CM_TARGET_DOWN 24
#define CM_TRANSFER 25
#define CM_TARGET_ROOT 26
#define CM_TARGET_FULL 27

/* Argument of MOSIX_IOC_LOCK (Rust: ProcLock). */
struct mosix_lock {
	int32_t pid;
	uint32_t lock;			/* 1: lock at home, 0: unlock */
};

/* Argument of MOSIX_IOC_BENCH (Rust: BenchReq). */
struct mosix_bench {
	uint32_t node;
	uint32_t mode;			/* 0: stream, 1: ping-pong */
	uint64_t bytes;
	uint32_t count;
	uint32_t reply;
	uint64_t ns;			/* out */
};

/* Argument of MOSIX_IOC_SETKEY (Rust: KeyReq). */
#define MOSIX_KEY_MAX 64
#define MOSIX_KEY_RETIRE 1
struct mosix_key {
	uint32_t len;			/* 16..=64 */
	uint32_t flags;			/* MOSIX_KEY_RETIRE or 0 */
	uint8_t secret[MOSIX_KEY_MAX];
};

#define MOSIX_IOC_VERSION _IOR(MOSIX_IOC_MAGIC, 0, struct mosix_version)
#define MOSIX_IOC_SETMAP _IOW(MOSIX_IOC_MAGIC, 1, struct mosix_map)
#define MOSIX_IOC_GETMAP _IOR(MOSIX_IOC_MAGIC, 2, struct mosix_map)
#define MOSIX_IOC_NODEINFO _IOWR(MOSIX_IOC_MAGIC, 3, struct mosix_nodeinfo)
#define MOSIX_IOC_SETPARAM _IOW(MOSIX_IOC_MAGIC, 4, struct mosix_param)
#define MOSIX_IOC_GETPARAM _IOWR(MOSIX_IOC_MAGIC, 5, struct mosix_param)
#define MOSIX_IOC_MIGRATE _IOWR(MOSIX_IOC_MAGIC, 6, struct mosix_migrate)
#define MOSIX_IOC_PROCINFO _IOWR(MOSIX_IOC_MAGIC, 7, struct mosix_procinfo)
#define MOSIX_IOC_LOCK _IOW(MOSIX_IOC_MAGIC, 8, struct mosix_lock)
#define MOSIX_IOC_BENCH _IOWR(MOSIX_IOC_MAGIC, 9, struct mosix_bench)
/* Argument of MOSIX_IOC_RUNMODE (Rust: RunMode, run flags). */
struct mosix_runmode {
	int32_t pid;
	uint32_t flags;
	uint32_t node;
};
#define RUN_HOME (1u << 0)
#define RUN_LOCK (1u << 1)
#define RUN_NOAUTO (1u << 2)
#define RUN_BEST (1u << 3)
#define RUN_NODE (1u << 4)
#define MOSIX_IOC_RUNMODE _IOW(MOSIX_IOC_MAGIC, 11, struct mosix_runmode)
#define MOSIX_IOC_SETKEY _IOW(MOSIX_IOC_MAGIC, 10, struct mosix_key)

#endif /* OXMOSIX_UAPI_H */
