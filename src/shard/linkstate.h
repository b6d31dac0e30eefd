/* SPDX-License-Identifier: MIT */
/*
 * The shared state of one direct link (a memif port used by every shard,
 * one queue pair each; ports.h), so that shard 0 can restart the port
 * while no shard is inside a burst call on it. DPDK forbids data-path
 * calls on a port during rte_eth_dev_stop/start (22.11 swaps the port's
 * rte_eth_fp_ops to dummies, not atomically).
 *
 * Invariants:
 * - state is UP, DOWN, RESTARTING or STOPPED. Every shard reads it once
 *   per link per loop turn (qr_link_seen) and makes no burst call on the
 *   port in a turn where it read RESTARTING or STOPPED (ports.c also
 *   sends only on UP): one atomic load per link per turn, nothing per
 *   packet. STOPPED: a restart's start failed (its peer is gone), so the
 *   port is stopped and DPDK's bursts on it are dummies that log a stack
 *   dump; the next restart leaves it.
 * - Only shard 0 sets UP, RESTARTING, and DOWN after RESTARTING; any
 *   shard may turn UP into DOWN (a tx burst that sent nothing on a link
 *   whose state reads down: ports.c), by a compare-and-swap.
 * - Shard 0 moves DOWN to RESTARTING with a new generation; each shard
 *   (shard 0 too) acknowledges a generation once, at the start of a turn
 *   in which it saw RESTARTING: its bursts of the earlier turns have
 *   returned and it makes none until it sees UP again. Shard 0 restarts
 *   the port only when every shard has acknowledged, and only then publishes UP or DOWN:
 *   at most one generation is outstanding, so a count is enough.
 * - Nobody waits: a shard that has not acknowledged yet just delays the
 *   restart to a later turn of shard 0 (a state machine, polled).
 *
 * Why not one memif port per (node pair, shard), each shard restarting
 * its own: it multiplies the vdevs, sockets and EAL arguments by the
 * shard count (a 64-node mesh of 8 shards: 504 vdevs a node) for what
 * one atomic load per link per turn buys (docs/architecture.md).
 */
#ifndef QR_SHARD_LINKSTATE_H
#define QR_SHARD_LINKSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum qr_link_st {
	QR_LINK_DOWN = 0,
	QR_LINK_UP = 1,
	QR_LINK_RESTARTING = 2,
	QR_LINK_STOPPED = 3,
};

struct qr_link_state {
	_Atomic uint32_t state;	 /* enum qr_link_st */
	_Atomic uint32_t gen;	 /* restart generation */
	_Atomic uint32_t acks;	 /* shards that acknowledged gen */
	uint16_t shards;	 /* shards using the port (set before start) */
};

/* Before any shard runs: down (shard 0's first check publishes it). */
static inline void qr_link_state_init(struct qr_link_state *ls,
				      uint16_t shards)
{
	atomic_init(&ls->state, QR_LINK_DOWN);
	atomic_init(&ls->gen, 0);
	atomic_init(&ls->acks, 0);
	ls->shards = shards;
}

/* Every shard, once per link at the start of a loop turn:
 * the state to act on this turn. *acked: the last generation this shard
 * acknowledged (its own, starts at 0). */
static inline enum qr_link_st qr_link_seen(struct qr_link_state *ls,
					   uint32_t *acked)
{
	uint32_t st = atomic_load_explicit(&ls->state, memory_order_acquire);
	if (st == QR_LINK_RESTARTING) {
		uint32_t g = atomic_load_explicit(&ls->gen,
						  memory_order_relaxed);
		if (g != *acked) {
			*acked = g;
			/* release: our earlier bursts happen before */
			atomic_fetch_add_explicit(&ls->acks, 1,
						  memory_order_release);
		}
	}
	return (enum qr_link_st)st;
}

/* Any shard: a link it finds down while its state says UP. */
static inline void qr_link_mark_down(struct qr_link_state *ls)
{
	uint32_t up = QR_LINK_UP;
	atomic_compare_exchange_strong_explicit(&ls->state, &up, QR_LINK_DOWN,
						memory_order_acq_rel,
						memory_order_relaxed);
}

/* Shard 0: publish what the port's link reads (not while restarting). */
static inline void qr_link_publish(struct qr_link_state *ls, bool up)
{
	uint32_t from = up ? QR_LINK_DOWN : QR_LINK_UP;
	atomic_compare_exchange_strong_explicit(
		&ls->state, &from, up ? QR_LINK_UP : QR_LINK_DOWN,
		memory_order_acq_rel, memory_order_relaxed);
}

/* Shard 0: ask every shard to leave the port alone (from any state). */
static inline void qr_link_request_restart(struct qr_link_state *ls)
{
	atomic_store_explicit(&ls->acks, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&ls->gen, 1, memory_order_relaxed);
	/* release: whoever sees RESTARTING sees the new gen and acks = 0 */
	atomic_store_explicit(&ls->state, QR_LINK_RESTARTING,
			      memory_order_release);
}

/* Shard 0: whether every shard has acknowledged the restart. */
static inline bool qr_link_quiescent(struct qr_link_state *ls)
{
	return atomic_load_explicit(&ls->acks, memory_order_acquire) >=
	       ls->shards;
}

/* Shard 0, after the restart (or none): the link as it reads now, or
 * STOPPED when the port could not be started again. */
static inline void qr_link_restarted(struct qr_link_state *ls, bool up,
				     bool stopped)
{
	atomic_store_explicit(&ls->state,
			      stopped ? QR_LINK_STOPPED
			      : up    ? QR_LINK_UP
				      : QR_LINK_DOWN,
			      memory_order_release);
}

#endif
