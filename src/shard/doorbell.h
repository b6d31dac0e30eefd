/* SPDX-License-Identifier: MIT */
/*
 * Doorbells: how a process that polls memif rings can block when idle
 * (issue 11 items 3 and 4). DPDK 22.11's memif PMD has no rx interrupt
 * op, and its own eventfds and ring flags are private to it, so the
 * processes of a local cluster (quorated's shards, qr-vswitch) ring each
 * other instead, the way memif's own interrupt mode would:
 *
 *  - a board: one shared file (PREFIX.board), mapped by every process,
 *    with one cache line per sleeper (row, shard): its "asleep" flag.
 *    Rows are node ids, and QR_BELL_ROW_SWITCH for qr-vswitch;
 *  - a bell: the sleeper's UNIX datagram socket, PREFIX-ROW-SHARD.sock,
 *    which it waits on (epoll) with its other events.
 *
 * Invariants:
 *  B1. No lost wake-up. The sleeper sets its flag (qr_bell_arm: a
 *      sequentially consistent store and fence), polls every ring once
 *      more, and blocks only if that found nothing. The ringer enqueues
 *      (the PMD's release store of the ring index), fences, then reads the
 *      flag (qr_bell_ring). With a full fence on both sides at least one
 *      of them sees the other's store: the sleeper finds the frame, or the
 *      ringer finds the flag and rings.
 *  B2. No syscall per packet or per burst: the ringer sends a datagram
 *      only when it swapped the flag from 1 to 0, so at most once per
 *      arming of the peer, whatever the number of ringers (an arming whose
 *      last poll found work after all leaves a datagram behind: the next
 *      wait returns at once, drains it, and the loop looks again).
 *  B3. Restart-safe: the board is created once and never truncated or
 *      replaced (created under an flock, its header checked by everyone
 *      who maps it), so a restarted process shares the same memory with
 *      its peers; a datagram is addressed by path each time, so a
 *      restarted sleeper's new socket gets it, and a ring to a sleeper
 *      that is gone costs one failed sendto, counted (bells_failed in
 *      quorate stat), nothing else.
 *  B4. A flag is a hint, never trusted for safety: a spurious ring costs a
 *      wake-up, a flag cleared by someone else costs at most the
 *      sleeper's timeout (its wait is bounded by its timers), never a
 *      lost frame. A board with a wrong header or size, not a regular
 *      file (a symlink is not followed), not the user's own, or writable
 *      by group or others is refused (QR_ECONFIG).
 */
#ifndef QR_SHARD_DOORBELL_H
#define QR_SHARD_DOORBELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/cluster.h"

#define QR_BELL_ROW_SWITCH QR_CLUSTER_NODES_MAX /* qr-vswitch's row */
#define QR_BELL_ROWS	   (QR_CLUSTER_NODES_MAX + 1)
#define QR_BELL_SHARDS	   128 /* QR_SHARDS_MAX */
#define QR_BELL_PREFIX_MAX 80  /* leaves room in sun_path */

struct qr_bell_board; /* the mapping */

/* One sleeper's slot on the board: its flag alone in a cache line. */
struct qr_bell_slot {
	_Atomic uint32_t asleep;
	uint8_t pad[60];
};

/* Map PREFIX.board, creating it if absent (B3); the board keeps PREFIX
 * for the bells' paths. 0, or a negative enum qr_err with why. */
int qr_bell_board_open(const char *prefix, struct qr_bell_board **out,
		       char *why, size_t why_len);
void qr_bell_board_close(struct qr_bell_board *b);

/* ---- the sleeper ---------------------------------------------------- */

struct qr_bell {
	struct qr_bell_slot *slot;
	int fd; /* bound, non-blocking; -1: none */
	bool armed;
	uint64_t ino; /* the socket file bound (unlisten removes only it) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Bind the bell of (row, shard): PREFIX-ROW-SHARD.sock, a stale socket
 * file at the path (a crashed run) removed first. 0, or a negative enum
 * qr_err with why. */
int qr_bell_listen(struct qr_bell_board *b, unsigned row, unsigned shard,
		   struct qr_bell *out, char *why, size_t why_len);
/* Close the socket and remove its file. */
void qr_bell_unlisten(struct qr_bell *bell);

/* B1: say "asleep" before the last poll. */
static inline void qr_bell_arm(struct qr_bell *bell)
{
	atomic_store_explicit(&bell->slot->asleep, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	bell->armed = true;
}

/* Awake again (work found, or the wait ended). */
static inline void qr_bell_disarm(struct qr_bell *bell)
{
	if (!bell->armed)
		return;
	atomic_store_explicit(&bell->slot->asleep, 0, memory_order_relaxed);
	bell->armed = false;
}

/* Read every datagram waiting (they carry nothing). Returns how many. */
unsigned qr_bell_drain(struct qr_bell *bell);

/* ---- the ringer ----------------------------------------------------- */

struct qr_bell_target {
	struct qr_bell_slot *slot;
	int fd; /* the ringer's unbound datagram socket (shared, not owned) */
	socklen_t addr_len;
	struct sockaddr_un addr;
	uint64_t rung;	   /* datagrams sent */
	uint64_t failed;   /* ... that sendto refused (no sleeper there) */
};

/* A ringer's socket: unbound, non-blocking, close-on-exec. fd or a
 * negative enum qr_err. */
int qr_bell_ringer_socket(void);

/* Address (row, shard)'s bell through fd. 0, or QR_EINVAL (row, shard or
 * a path too long) with why. */
int qr_bell_target_init(struct qr_bell_board *b, unsigned row,
			unsigned shard, int fd, struct qr_bell_target *t,
			char *why, size_t why_len);

void qr_bell_ring_slow(struct qr_bell_target *t);

/* After frames were put on the target's ring (B1, B2): a fence and a
 * shared load when the peer is awake. */
static inline void qr_bell_ring(struct qr_bell_target *t)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&t->slot->asleep, memory_order_relaxed))
		qr_bell_ring_slow(t);
}

#endif
