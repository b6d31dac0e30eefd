/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of multi-frame messages (issue 15, docs/large-values.md).
 *
 * A message larger than one frame (a REPLICATE or a CLIENT_REQ carrying a
 * 1 MiB value, say) is encoded once into a byte string and sent as
 * fragments. Every fragment names its message by (sender node, sender
 * incarnation, msg_id) and repeats the message's total length, its chunk
 * size and the CRC32C of the whole string; fragment i carries bytes
 * [i * chunk, min((i + 1) * chunk, total)). The receiver collects them here
 * and gets the whole string back only when every byte has arrived.
 *
 * Invariants:
 *  A1. A message is handed out only when every chunk of [0, total) arrived
 *      from fragments that agree on (src, incarnation, msg_id, total, chunk,
 *      crc) and the CRC32C of the assembled bytes equals crc: bytes of two
 *      messages (two writes) never mix, and a truncated string is never
 *      handed out.
 *  A2. Memory is fixed at qr_reasm_init(): slots buffers of bytes_max bytes
 *      and their chunk bitmaps; nothing is allocated per fragment.
 *  A3. One sender holds at most per_src_max slots: a burst from one peer
 *      cannot take the pool from the others. A new message from a sender
 *      at its share evicts that sender's oldest message still assembling
 *      (counted: a sender sends its messages one after another, so an
 *      older incomplete one has lost a fragment, and its retransmission
 *      comes whole); with none to evict, or no free slot at all, the
 *      fragment is dropped and counted, and the sender's retransmission
 *      brings it again.
 *  A4. A slot whose message is not complete timeout_ns after its first
 *      fragment, or (idle_ns != 0) that got no fragment for idle_ns, is
 *      freed by qr_reasm_expire() and counted: a lost fragment never holds
 *      memory for longer, and never blocks other messages. A sender sends
 *      a message's fragments in one burst, so a slot that stopped growing
 *      has lost one: idle_ns frees it long before the whole-time bound.
 *  A5. A duplicate chunk is counted and ignored. A fragment that disagrees
 *      with its slot (total, chunk or crc differ, the offset is not a chunk
 *      boundary, the length is not what that chunk must hold) is counted
 *      and the slot discarded: the sender's next attempt starts clean.
 *  A6. Every drop has a named counter; no input makes this module read or
 *      write outside its buffers (the fuzz target and the model test check
 *      it).
 *  A7. Under pressure, only a message's first chunk opens a slot: when
 *      fewer than a quarter of the slots are free, a later chunk of a
 *      message without a slot is dropped (drop_headless), and a first
 *      chunk finding no free slot evicts the open message missing its first
 *      chunk that grew last longest ago (evicted). Why: a sender sends the
 *      chunks in order, so a later chunk without a slot means the first was
 *      lost or refused here; its slot completes only if that chunk comes
 *      late or is asked for (A8), and meanwhile it holds a slot while
 *      messages that could complete are refused. The check comes before
 *      A3's eviction, so a chunk that is dropped anyway costs its sender
 *      no message still assembling. Without this rule a node back from
 *      a crash, sent long hints by every peer at once, filled every slot
 *      with such messages and refused new ones for as long as the load
 *      lasted (simulator seed 7367). Idle, a later chunk still opens a
 *      slot: frames reorder, and its first chunk may yet come.
 * Not thread-safe: one per shard core, driven by the shard loop or by the
 * simulator (sans-IO: time is passed in).
 */
#ifndef QR_CORE_REASM_H
#define QR_CORE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_REASM_CHUNK_MIN 256u /* a smaller chunk is refused (A5): it
				 * bounds the bitmap at bytes_max / 256 bits */

/* One fragment as decoded from the wire. */
struct qr_frag {
	uint64_t src;	      /* sender: node id, or for a client its
			       * authenticated id / address (the caller's
			       * choice; A3 counts per value) */
	uint32_t incarnation; /* sender's incarnation: ids restart with it */
	uint64_t msg_id;      /* unique per (src, incarnation) */
	uint32_t total;	      /* bytes in the whole message, >= 1 */
	uint32_t chunk;	      /* bytes per fragment (the last may be short) */
	uint32_t crc;	      /* CRC32C of the whole message */
	uint32_t offset;      /* a multiple of chunk, < total */
	const uint8_t *data;
	uint32_t len; /* min(chunk, total - offset) */
};

struct qr_reasm_config {
	uint32_t slots;	      /* messages being assembled at once, >= 1 */
	uint32_t bytes_max;   /* largest message, >= QR_REASM_CHUNK_MIN */
	uint32_t per_src_max; /* slots one sender may hold, 1..slots */
	uint64_t timeout_ns;  /* a message's whole time to arrive, > 0 */
	uint64_t idle_ns;     /* the longest gap between its fragments
			       * (0: no bound but timeout_ns) */
};

struct qr_reasm_stats {
	uint64_t frags;	       /* fragments offered */
	uint64_t complete;     /* messages handed out */
	uint64_t dup;	       /* A5: chunk already held */
	uint64_t drop_full;    /* A3: no free slot */
	uint64_t drop_src;     /* A3: the sender holds per_src_max slots,
				* none of them evictable */
	uint64_t drop_headless; /* A7: a later chunk with no slot, under
				 * pressure */
	uint64_t evicted;      /* A3: an older incomplete message of the
				* sender gave way to a new one; A7: a
				* message missing its first chunk gave way
				* to a first chunk */
	uint64_t drop_large;   /* total > bytes_max */
	uint64_t drop_bad;     /* A5: inconsistent fragment (slot discarded) */
	uint64_t drop_crc;     /* A1: all chunks, wrong CRC (discarded) */
	uint64_t expired;      /* A4: slots freed by the timeout */
	uint64_t stalled;      /* A8: reports of missing chunks */
	uint64_t held_bytes;   /* gauge: bytes received in open slots */
	uint32_t open;	       /* gauge: slots in use */
};

/* A complete message: valid until qr_reasm_release(). */
struct qr_reasm_msg {
	uint64_t src;
	uint32_t incarnation;
	uint64_t msg_id;
	const uint8_t *data;
	uint32_t len;
	uint32_t slot; /* for qr_reasm_release() */
};

struct qr_reasm_slot;

struct qr_reasm {
	struct qr_reasm_config cfg;
	struct qr_reasm_slot *slot; /* cfg.slots */
	uint8_t *bytes;		    /* cfg.slots * cfg.bytes_max */
	uint64_t *bits;		    /* cfg.slots * words_per_slot */
	uint32_t words_per_slot;
	uint32_t free_top;   /* free slot stack: free_stack[0..free_top) */
	uint32_t *free_stack;
	uint32_t *open_list; /* indexes of open slots, open_n of them */
	uint32_t open_n;
	struct qr_reasm_stats st;
};

/* 0, or QR_EINVAL (a bad config) / QR_ENOMEM. */
int qr_reasm_init(struct qr_reasm *r, const struct qr_reasm_config *cfg);
void qr_reasm_fini(struct qr_reasm *r);

/*
 * Offer one fragment at time now_ns. Returns 1 and fills *out when it
 * completed its message (the slot stays held until qr_reasm_release()),
 * 0 when it was kept (or was a duplicate), or a negative enum qr_err when
 * it was dropped (counted): QR_EWIRE_FIELD (inconsistent, A5), QR_ETOOLARGE
 * (total over bytes_max), QR_EFULL (no slot, A3), QR_ECORRUPT (CRC, A1).
 */
int qr_reasm_add(struct qr_reasm *r, const struct qr_frag *f, uint64_t now_ns,
		 struct qr_reasm_msg *out);
/* Give back the slot of a message handed out by qr_reasm_add(). */
void qr_reasm_release(struct qr_reasm *r, const struct qr_reasm_msg *m);
/* Free every open slot older than timeout_ns (A4); returns how many. */
unsigned qr_reasm_expire(struct qr_reasm *r, uint64_t now_ns);

/*
 * A8. Selective resend: a message still assembling that got no fragment for
 * gap_ns (its sender sends a message's chunks in one burst, so it lost
 * some) is reported by qr_reasm_stalled() with the chunks it lacks (up to
 * QR_REASM_NACK_BYTES x 8 of them from the first missing one), once per
 * gap_ns and at most nacks_max times in a row without progress: the
 * caller asks the sender for just those (FRAG_NACK) instead of waiting for
 * the whole message again. What comes back is checked like any fragment
 * (A1, A5).
 */
#define QR_REASM_NACK_BYTES 128 /* bitmap bytes of one report: 1,024 chunks */
struct qr_reasm_gap {
	uint64_t src, msg_id;
	uint32_t incarnation, total, chunk, crc;
	uint32_t first;	 /* the first missing chunk's index */
	uint32_t nbytes; /* bitmap bytes used, 1..QR_REASM_NACK_BYTES */
	uint8_t missing[QR_REASM_NACK_BYTES]; /* bit k: chunk first + k */
};
/* Fill up to max reports of stalled messages (A8); returns how many. */
uint32_t qr_reasm_stalled(struct qr_reasm *r, uint64_t now_ns, uint64_t gap_ns,
			  uint32_t nacks_max, struct qr_reasm_gap *out,
			  uint32_t max);

/* Sender side: fragment i of a message of total bytes cut in chunk-byte
 * pieces (fills offset, data, len; the caller sets the identity fields).
 * Returns the number of fragments, or 0 when i is past the last. */
uint32_t qr_frag_cut(struct qr_frag *f, const uint8_t *msg, uint32_t total,
		     uint32_t chunk, uint32_t i);

#endif
