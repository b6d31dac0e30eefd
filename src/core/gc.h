/* SPDX-License-Identifier: MIT */
/*
 * Tombstone GC bookkeeping of one shard core: what anti-entropy has learnt
 * about the other replicas of each partition, so the core can tell when a
 * tombstone is held by every replica (docs/protocol.md, "Tombstone
 * collection"). Pure data, no I/O; the core (ae_* in core.c) feeds it.
 *
 *  - Match records, per partition and replica: "this replica sent a DIGEST
 *    equal to ours, flagged DURABLE, when our last lsn was L". A tombstone
 *    of ours with lsn <= L was in our digest then, so that replica held it
 *    durably (or had collected it, itself only once every replica held it).
 *    A record only counts once it is hold_us old (local monotonic time):
 *    an anti-entropy push sent by a replica before it got the tombstone can
 *    still be in flight for the network's lifetime, and a record that keeps
 *    being refreshed would never age, so a new record replaces the pending
 *    one only after the pending one has aged ("fresh" -> "aged").
 *  - The collected delta, per partition: the xor of the digest hashes of
 *    the tombstones we collected (and did not get back since), and their
 *    count. Our DIGEST carries digest ^ delta ("virtual"): a replica that
 *    still holds those tombstones sees a match instead of pushing them back
 *    to us, which would otherwise make replicas that collect at different
 *    moments feed each other the same tombstones forever.
 *  - A small direct-mapped cache of recently collected hashes, to notice a
 *    collected tombstone coming back (a restarted replica pushes it from its
 *    WAL) and take it out of the delta again. A miss (evicted) only costs a
 *    mismatch and a push, never safety: the delta only ever holds hashes of
 *    tombstones collected by the rule.
 *
 * Memory: 4 bytes per partition (slot map), (16 + 24 * rf) bytes per
 * partition this shard replicates, 16 bytes per cache slot; all at init.
 * Not thread-safe: one per core.
 */
#ifndef QR_CORE_GC_H
#define QR_CORE_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/placement.h"

#define QR_GC_NONE	 UINT32_MAX
#define QR_GC_GONE_SLOTS 4096 /* recently collected hashes; power of two */

struct qr_gc_rec {
	uint64_t fresh_lsn; /* pending record: our last lsn at the match */
	uint64_t fresh_us;  /* when it was made; 0: none pending */
	uint64_t aged_lsn;  /* highest record at least hold_us old; 0: none */
};

struct qr_gc_part {
	uint64_t delta;		/* xor of collected hashes not held again */
	uint32_t delta_n;	/* their count */
	uint32_t gen;		/* bumped when the delta is forgotten */
	struct qr_gc_rec rec[]; /* [rf], by replica index; ours unused */
};

struct qr_gc_gone {
	uint64_t hash;
	uint32_t partition;
	uint32_t gen; /* the partition's gen when collected */
};

struct qr_gc {
	uint32_t *slot; /* [partitions]: index into parts, or QR_GC_NONE */
	uint8_t *parts; /* mine * part_bytes */
	uint32_t mine;	/* partitions this node replicates on this shard */
	uint32_t part_bytes;
	uint16_t rf;
	uint64_t hold_us;
	struct qr_gc_gone *gone; /* [QR_GC_GONE_SLOTS] */
};

/* Size for the partitions node replicates on shard. 0, or QR_ENOMEM /
 * QR_EINVAL. */
int qr_gc_init(struct qr_gc *g, const struct qr_placement *pl, uint16_t node,
	       uint16_t shard, uint64_t hold_us);
void qr_gc_fini(struct qr_gc *g);

/* Replica idx of partition p sent a DURABLE digest equal to ours while our
 * last lsn was lsn. Ignored for partitions we do not replicate. */
void qr_gc_matched(struct qr_gc *g, uint32_t p, int idx, uint64_t lsn,
		   uint64_t now_us);
/* A tombstone of p with lsn <= the returned value is held by every replica
 * but self_idx (records aged hold_us); 0 if some replica has no aged
 * record. */
uint64_t qr_gc_safe_lsn(struct qr_gc *g, uint32_t p, int self_idx,
			uint64_t now_us);
/* The collected delta of p (0 and *n = 0 if none). */
uint64_t qr_gc_delta(const struct qr_gc *g, uint32_t p, uint32_t *n);
/* We collected a tombstone of p whose digest hash is h. */
void qr_gc_collected(struct qr_gc *g, uint32_t p, uint64_t h);
/* A key of p that we did not hold was stored with digest hash h: if it is
 * one we collected, it is no longer part of the delta. */
void qr_gc_inserted(struct qr_gc *g, uint32_t p, uint64_t h);
/* A replica holds exactly our actual entries, not the collected ones: our
 * virtual digest would keep it pushing; forget the delta of p. */
void qr_gc_forget(struct qr_gc *g, uint32_t p);

#endif
