/* SPDX-License-Identifier: MIT */
/*
 * The protocol core's private header (DPDK's *_pvt.h pattern): the state
 * every file of src/core/ shares, and the functions they call across
 * files. Not installed, not included outside src/core/ (tests/sim and the
 * unit tests use core.h only).
 *
 * Names: qr_core_* is the public API (core.h); qc_* is internal to the
 * core (cross-file); plain names are file-local (static).
 */
#ifndef QR_CORE_CORE_PVT_H
#define QR_CORE_CORE_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "core/core.h"
#include "core/gc.h"
#include "core/long.h"
#include "core/paxos.h"
#include "core/reasm.h"
#include "core/timer.h"
#include "quorate/err.h"

#define AE_NO_ACK UINT64_MAX /* op_id of an anti-entropy push */
/* op_id of a hint delivery: tag | generation (31 bits) << 32 | slot.
 * Request op_ids keep bit 63 clear (their generation has 31 bits). */
#define HINT_OP_TAG (1ull << 63)
#define GEN_MASK    0x7fffffffu
#define RF_BITS(rf) ((uint8_t)((1u << (rf)) - 1))
/* A request's replicas: its partition's replica set, and during a
 * topology change the union with the new one (topology.c T1: one member
 * more, as a change moves at most one member of a set). Fits the uint8_t
 * masks (limits.h L2). */
#define QC_REPS_MAX (QR_RF_MAX + 1)

enum req_kind {
	REQ_FREE = 0,
	REQ_WRITE,
	REQ_READ,
	REQ_CAS, /* CASPaxos proposer (linearizable ops) */
};

#define CAS_MINE_MAX 4 /* ballots of our own accepts a CAS remembers */

enum cas_phase {
	CAS_PREPARE = 1, /* PREPARE sent, collecting PROMISEs */
	CAS_ACCEPT,	 /* ACCEPT sent, collecting ACCEPTEDs */
	CAS_BACKOFF,	 /* rejected: a new ballot when the timer fires */
};

/* Which replicas count toward a request's R or W: every group needs
 * need[g] of its members (bit per replica index). One group of all the
 * replicas for the plain levels, the coordinator's zone for LOCAL_*, one
 * group per zone for EACH_QUORUM (intake.c). */
struct qc_groups {
	uint8_t n;
	uint8_t mask[QC_REPS_MAX];
	uint8_t need[QC_REPS_MAX];
};

/* One coordinator request. 2,704 bytes (sizeof, with the CAS state; reqtab.c
 * asserts it, the docs quote it), most of it
 * the key and value copy that retransmission and read repair need. */
struct req {
	struct qr_timer timer; /* next retransmission / deadline / linger */
	uint32_t gen;	       /* generation: upper half of op_id */
	uint8_t kind;	       /* enum req_kind */
	uint8_t op;	       /* enum qr_op */
	uint8_t need;	       /* R or W: replicas in all groups together */
	uint8_t level;	       /* enum qr_level (CAS: QUORUM) */
	struct qc_groups grp;  /* who counts toward need (qc_met) */
	uint8_t hold_need;     /* reads: holders needed before answering */
	uint8_t rf;	     /* replicas[] in use (the union: topology.c) */
	uint8_t quorum;	     /* a majority of the owners, plus one per
			      * member of the union outside either set */
	uint8_t replicas[QC_REPS_MAX];
	uint8_t done_mask;   /* writes: acked; reads: answered (bit per idx) */
	uint8_t holds_mask;  /* reads: durably hold >= best */
	uint8_t repair_mask; /* reads: repair REPLICATE sent, ack awaited */
	uint8_t full_mask;   /* writes: replicas that answered NO_SPACE */
	bool answered;	     /* client has its reply */
	bool tombstone;	     /* write: a delete; read: best is a tombstone */
	bool found;	     /* read: some replica has an entry */
	bool parked;	     /* write: waits for the HLC ceiling */
	bool retransmitted;  /* Karn: no RTT samples from this request */
	bool rto_fired;	     /* write: its first timeout has passed (W6) */
	bool any;	     /* write at level ANY */
	bool hinted_any;     /* level ANY write answered by its hints */
	uint8_t stale_mode;  /* reads: 0 wait, QR_MSGF_STALE_ERROR/QUORUM */
	uint8_t valid_mask;  /* reads: answers current for the token */
	uint8_t heard_mask;  /* reads: replicas that ever answered */
	uint8_t probed_mask; /* writes: replicas a W7 probe went to */
	uint64_t token;	     /* client's min_version (0: none) */
	bool token_wait;     /* write: unstamped, waits for our wall clock
			      * to near its token (write.c, W4) */
	uint64_t serve_wm;   /* reads: watermark of the best valid answer */
	uint8_t key_len;
	uint32_t value_len;
	uint16_t client_shard;
	uint32_t partition;
	uint64_t client;      /* driver's handle for the client's address */
	uint64_t req_id;      /* client's id */
	uint64_t deadline_us; /* answer UNAVAILABLE if not answered by then */
	uint64_t linger_us;   /* after answering, give up on stragglers then */
	uint64_t rto_us;      /* current retransmission timeout */
	uint64_t sent_us;     /* first transmission (RTT samples) */
	uint64_t sent_seq;    /* its place among our first transmissions
			       * (write.c W6) */
	uint64_t probe_seq;   /* W7: send_seq + 1 when its first probe went
			       * (its answer is evidence below it) */
	uint64_t start_us;    /* client request taken (latency histogram;
			       * 0: not a client request) */
	struct qr_version version; /* write: stamped; read: best seen;
				    * CAS: the answer's, or our last accept */
	/* CAS (the proposer of CASPaxos; docs/protocol.md) */
	uint8_t phase;		/* enum cas_phase */
	uint8_t mine_count;	/* ballots recorded in mine[] (a ring) */
	bool st_found, st_tomb; /* best accepted state promised */
	bool unanimous;		/* every promise names the same state */
	bool acc_new;		/* accepting the op's new state, not st */
	int16_t result;		/* answer once the accept has a quorum */
	uint32_t st_value_len;
	uint64_t backoff_us;	    /* current cap of the random backoff */
	struct qr_version ballot;   /* this round's */
	struct qr_version expected; /* *_IF_VERSION */
	struct qr_version st_version, first;
	struct qr_version mine[CAS_MINE_MAX]; /* our accepted new states */
	struct qr_version mine_first; /* the op's first accepted new state
				       * (kept when the ring wraps, and
				       * across a retry: X3) */
	/* The value (and a CAS's best state's): inline, or a pool buffer
	 * (long.h V1) named by its ref; the pointers are set whenever a
	 * length is, and read only with it. */
	uint8_t *value, *st_value;
	uint32_t value_ref, st_value_ref;
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value_in[QR_VALUE_INLINE_MAX];
	uint8_t st_value_in[QR_VALUE_INLINE_MAX];
};

/* A reply waiting for the WAL to make an lsn durable. */
struct pending {
	uint64_t lsn; /* release once durable_lsn >= lsn */
	uint64_t op_id;
	uint16_t dst;	 /* node to answer (may be self) */
	uint8_t type;	 /* QR_MSG_REPLICATE_ACK, _READ_REPLY, _PROMISE or
			  * _ACCEPTED */
	uint8_t key_len; /* READ_REPLY, PROMISE: key to read at release */
	struct qr_version version; /* REPLICATE_ACK: version acked */
	uint8_t key[QR_KEY_BYTES_MAX];
};

/*
 * Recent client writes, so that a duplicated or retried CLIENT_REQ (same
 * client, same req_id) is not stamped and applied a second time: a late
 * duplicate would otherwise overwrite the client's own newer write.
 * Bounded: DEDUP_WAYS-way sets of 4 x requests_max entries in all; a new
 * write evicts a free entry, else the oldest finished one, else the oldest.
 * A duplicate that arrives after its entry was evicted is applied again
 * (docs/protocol.md). Each set has a 16-byte summary (struct dedup_tags,
 * reqtab.c): a new write's lookup, which finds nothing, reads only that.
 */
#define DEDUP_WAYS 4

/* One entry, one cache line (the table is line-aligned). Live while its
 * way's tag is not 0. */
struct dedup {
	uint64_t client;
	uint64_t req_id;
	uint64_t op_id;		   /* in flight: its op_id; done: 0 */
	int16_t status;		   /* done: the answer given */
	struct qr_version version; /* done: the version written; CAS: the
				    * last ballot of an accepted new state */
	struct qr_version first;   /* CAS: the first such ballot */
};

/* A set's ways at a glance: a 16-bit tag of (client, req_id) per way (0:
 * the way is free), the ways from the oldest insertion to the newest, two
 * bits each, the oldest in the low bits, and a bit per way whose entry is
 * finished (op_id == 0; kept by qc_dedup_start and qc_req_answer). */
struct dedup_tags {
	uint16_t tag[DEDUP_WAYS];
	uint8_t order;
	uint8_t done;
	uint8_t pad[6];
};

/*
 * Hinted handoff: a write some replica did not acknowledge before its
 * request slot was freed (deadline, linger, or the replica was DOWN), kept
 * and re-sent to that replica until it acknowledges. Logged to the WAL
 * (QR_WAL_HINT) so a restart replays it. A hint may also carry another
 * node's write, handed off for a restarted node (job != 0).
 */
struct hint {
	bool used;
	bool tombstone;
	bool from_store; /* copied from a replica's store (a hand-off), not
			  * from a write request */
	bool in_store;	 /* a long value read from our store when sent
			  * (hints.c N6): value is NULL */
	uint8_t key_len;
	uint16_t target;
	uint16_t job; /* orphan job: requesting node + 1; 0: none */
	uint32_t value_len;
	uint32_t gen;	  /* 31 bits, for the op_id */
	uint32_t job_gen; /* which job of that node */
	uint32_t partition;
	uint64_t sent_us; /* last sent (0: never) */
	uint64_t created_us;
	struct qr_version version;
	/* The target's closed timestamp stays at or below it while the hint
	 * lives (closed_ts.c S1): the version's HLC, or for a hint of our
	 * own hand-off the hand-off's `from` (hints.c N5). */
	uint64_t claim;
	uint8_t *value;	    /* value_in, or a pool buffer (long.h V1) */
	uint32_t value_ref; /* 0: inline */
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value_in[QR_VALUE_INLINE_MAX];
};

/*
 * A restarted node asks every other node to hand off, as hints, the writes
 * it stamped in [from, to) that they hold (docs/protocol.md, "closed
 * timestamps"). One job per asking node, here on the holder's side.
 */
struct orphan_job {
	uint64_t to; /* 0: none */
	uint32_t gen;
	uint32_t outstanding; /* hints of this job not yet acknowledged */
	uint32_t next_p;      /* partition the scan resumes at */
	bool scanned;	      /* every entry is hinted */
};

/* A frame to a peer: qc_peer_frame() bytes of buf are used. */
struct peer_out {
	struct qr_frame_writer w;
	uint8_t buf[QR_FRAME_JUMBO_MAX];
};

/* A frame to a client: never over QR_FRAME_BYTES_MAX (limits.h L6). */
struct client_frame {
	struct qr_frame_writer w;
	uint8_t buf[QR_FRAME_BYTES_MAX];
};

/* A message to ourselves with its key and value (loop.c). */
struct loop_slot {
	struct qr_msg m;
	uint32_t value_ref; /* a long value's pool buffer (long.h V1) */
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value_in[QR_VALUE_INLINE_MAX];
};

#define LOOP_SLOTS 32 /* loopback queue (loop.c, L3) */
#define LONG_KEEP 256 /* long messages kept for NACKs (long.c) */

/* Client replies open at once, one frame per destination (out.c, O4). */
#define CLIENT_FRAMES 8
struct client_out {
	uint64_t client; /* the driver's id of the destination */
	bool open;	 /* a frame is being filled for it */
	struct client_frame f;
};

/* The clock guard (clock_guard.c): the wall clock the HLC runs on, and
 * each peer's clock as its last authentic frame said. */
struct clock_guard {
	bool anchored;
	bool jumped;	/* the wall stepped beyond max_offset (G1) */
	bool peers_off; /* a quorum of the others is beyond it (G2) */
	uint64_t anchor_us, anchor_ms;	   /* the last trusted reading */
	uint64_t peer_ms[QR_NODES_MAX];	   /* a peer's HLC ms ... */
	uint64_t peer_at_us[QR_NODES_MAX]; /* ... when it came; 0: never */
	/* G4: readings kept for the event in progress (held > 0) */
	uint32_t held;		  /* qc_clock_hold depth */
	bool have_now, have_wall; /* now_us / wall_ms below are this event's */
	uint64_t now_us, wall_ms;
};

struct qr_core {
	struct qr_core_config cfg;
	struct qr_env env;
	const struct qr_placement *pl; /* the owners (topology.c) */
	uint16_t nodes;		       /* node slots: ids below it */
	/* topology (topology.c T1..T5) */
	const struct qr_placement *pl_new; /* a pending change's, or NULL */
	uint64_t epoch;
	uint64_t members;	  /* bit per node in pl or pl_new */
	uint16_t *stream_matched; /* [partitions]: owners (bit per index in
				   * pl) whose digest equalled ours since
				   * the stream began (T3) */
	uint32_t stream_left;	  /* gained partitions not filled */
	uint32_t stream_next;	  /* partition the next step starts at */
	bool streaming;
	bool fence_older;	  /* T6: frames of a lower epoch dropped */
	uint64_t news_epoch, news_owners; /* T7: the newest heard, or 0 */
	uint16_t rx_epoch; /* the epoch of the peer frame being handled */
	uint64_t news_sent_us[QR_NODES_MAX]; /* T7: last told, per peer */
	struct qr_hlc hlc;
	struct clock_guard clock;
	struct qr_detector det;
	struct qr_store *store;
	struct qr_timer_wheel wheel;
	struct qr_timer hb_timer;
	struct qr_timer ae_timer; /* anti-entropy: one partition a step */
	/* closed timestamps */
	uint64_t closed_out[QR_NODES_MAX]; /* what we tell each node */
	uint64_t
		floor_recovered; /* closed floor from the WAL's clock records */
	/* our own hand-off after a restart or a lost hint */
	bool orphan_active, orphan_scanned;
	bool rebuilding; /* recover.c RB1-RB3: until our hand-off is done */
	uint64_t restart_hlc;	/* our first HLC after the last restart */
	uint64_t *peer_restart; /* per node: its restart_hlc, as it told us */
	uint32_t orphan_next_p; /* partition our own scan resumes at */
	uint64_t orphan_from, orphan_to, orphan_done_mask;
	struct orphan_job *jobs; /* per asking node */
	/* hints */
	struct hint *hints;
	uint32_t *free_hints;
	uint32_t free_hint_count;
	uint32_t hints_long; /* used hints of long values (hints.c) */
	uint32_t hint_cursor; /* word of hint_busy the next replay starts at */
	/* Bit per slot in use: the periodic scans visit only those (a
	 * request slot is 2.6 KiB: a scan of every one costs a cache miss
	 * each, ~0.5 ms per 4096, every heartbeat period). */
	uint64_t *req_busy, *hint_busy;
	uint32_t ae_next;  /* next partition to look at */
	uint32_t ae_burst; /* on-demand steps left (qr_core_ae_request) */
	uint64_t ae_down;  /* peers DOWN at the last tick (bit per node) */
	/* Per-peer token buckets of DIGEST work (anti_entropy.c, A3), in
	 * entries: what a peer may still make us scan and push, and when it
	 * was last refilled. */
	uint64_t ae_tokens[QR_NODES_MAX];
	uint64_t ae_refill_us[QR_NODES_MAX];
	struct qr_gc gc; /* tombstone GC records (core/gc.h) */
	uint8_t (
		*ae_keys)[QR_KEY_BYTES_MAX]; /* [AE_GC_BATCH] keys to collect */
	uint8_t *ae_key_lens;		     /* [AE_GC_BATCH] */
	uint64_t ceiling_ms;		     /* durable HLC ceiling (ms) */
	uint64_t ceiling_next_ms;	     /* logged, not yet durable */
	uint64_t ceiling_next_lsn;	     /* its lsn; 0: none in flight */
	uint32_t parked;	     /* writes waiting for the ceiling */
	uint64_t srtt_us, rttvar_us; /* answer time, smoothed (0: none) */
	/* Per peer: the latest sent_seq of a request it answered (write.c
	 * W6: an answer to a later request is evidence that an earlier
	 * one, still unanswered, was lost, not slow); send_seq numbers
	 * first transmissions. */
	uint64_t answered_seq[QR_NODES_MAX];
	uint64_t send_seq;
	/* Per peer (write.c W7): a resend without evidence of loss goes to
	 * it at most once per RTO, from probe_next_us on; an answered
	 * probe's evidence (probe_ev_seq) counts from probe_ev_us on. */
	uint64_t probe_next_us[QR_NODES_MAX];
	uint64_t probe_ev_seq[QR_NODES_MAX];
	uint64_t probe_ev_us[QR_NODES_MAX];
	uint64_t next_lsn;	     /* lsn of the next WAL record */
	uint64_t durable_lsn;	     /* every record <= this is durable */
	/* coordinator request table */
	struct req *reqs;
	uint32_t *free_reqs;
	uint32_t free_count;
	/* replies waiting for the WAL: ring, lsn order of insertion */
	struct pending *pend;
	uint32_t pend_head, pend_count;
	/* recent client writes (duplicate suppression) */
	struct dedup *dedup;		/* [sets * DEDUP_WAYS] */
	struct dedup_tags *dedup_tags; /* [sets] */
	uint32_t dedup_sets_mask;
	uint32_t dedup_sets_shift; /* log2(sets) */
	/* CASPaxos acceptor: promises (src/core/paxos.h) */
	struct qr_paxos_table paxos;
	/* messages to ourselves (loop.c): a FIFO of LOOP_SLOTS slots */
	struct loop_slot *loop;
	uint32_t loop_head, loop_count;
	bool loop_draining;
	/* outgoing frames, one per peer, and client replies per client */
	struct peer_out *out;
	struct client_out cout[CLIENT_FRAMES];
	uint32_t cout_victim; /* flushed next when every one is open */
	/* long messages and large values (long.c) */
	struct qr_reasm reasm;
	uint8_t *values;	/* values_max buffers of value_bytes_max */
	uint32_t *values_free;	/* refs of free buffers, values_free_n */
	uint32_t values_free_n, values_max;
	/* The long messages sent to peers last (at most LONG_KEEP of them,
	 * fewer when their bytes fill the ring of long_ring_cap), encoded,
	 * so that a NACK gets just the chunks it names (long.h V5, reasm.h
	 * A8). */
	struct long_kept {
		uint64_t id; /* 0: the slot holds nothing */
		uint32_t total, chunk, crc;
		uint16_t node; /* QR_NODE_CLIENT: to a client (never NACKed) */
		bool whole;    /* its bytes are not overwritten yet */
		size_t at;     /* offset in long_ring */
	} long_kept[LONG_KEEP];
	uint32_t long_kept_next;
	uint8_t *long_ring;
	size_t long_ring_cap, long_ring_head;
	uint8_t *long_scratch; /* long_cap: a long reply to a client */
	uint32_t long_cap; /* the longest long message */
	uint64_t long_nack_gap_ns; /* a slot this idle is NACKed (A8) */
	uint64_t long_seq;	/* FRAG message ids, per incarnation */
	struct qr_core_stats stats;
	/* Client request latency, taken to answered, by enum qr_core_lat
	 * (read by the management thread: 64-bit words, never torn). */
	struct qr_hist lat[QR_LAT_COUNT];
	struct qc_auth *auth;		    /* auth.c; NULL with auth = none */
	struct qc_client_auth *client_auth; /* auth_client.c; NULL: client
					     * frames are not checked */
	char recover_msg[256]; /* the record qr_core_recover refused (V4) */
	int wal_err;	       /* 0, or why our WAL takes no writes
				* (qr_core_set_wal_error):	   reads served, writes refused,
				* heartbeats say so */
};

#define AE_GC_BATCH 64 /* tombstones collected per partition step */

/* ---- small helpers, inline ----------------------------------------------- */

/* The driver's monotonic clock, read once per event (clock_guard.c, G4). */
static inline uint64_t qc_now_us(struct qr_core *c)
{
	struct clock_guard *g = &c->clock;
	if (g->have_now)
		return g->now_us;
	uint64_t t = c->env.now_us(c->env.ctx);
	g->now_us = t;
	g->have_now = g->held != 0;
	return t;
}

uint64_t qc_clock_wall_read(struct qr_core *c); /* clock_guard.c */

/* The guarded wall clock (clock_guard.c, G1): this event's reading once
 * it has one (G4), inline because the HLC asks for it ~6 times per write;
 * the first read of an event is qc_clock_wall_read(). */
static inline uint64_t qc_clock_wall(struct qr_core *c)
{
	if (c->clock.have_wall)
		return c->clock.wall_ms;
	return qc_clock_wall_read(c);
}

/* The frame size between nodes (core.h peer_frame_bytes). */
static inline size_t qc_peer_frame(const struct qr_core *c)
{
	return c->cfg.peer_frame_bytes ? c->cfg.peer_frame_bytes
				       : QR_FRAME_BYTES_MAX;
}

static inline uint8_t qc_quorum_of(uint8_t rf)
{
	return (uint8_t)(rf / 2 + 1);
}

/*
 * Do the replicas in mask (bit per replica index) meet the level?
 * Every group needs group_need of its members; slack lowers each need (the
 * *_QUORUM_MINUS_ONE injected bugs). One group of all replicas for the
 * plain levels, the local zone's for LOCAL_*, one per zone for EACH_QUORUM.
 */
static inline bool qc_met(const struct qc_groups *gr, uint8_t mask,
			  uint8_t slack)
{
	for (unsigned g = 0; g < gr->n; g++) {
		int have = __builtin_popcount(mask & gr->mask[g]);
		int need = gr->need[g] > slack ? gr->need[g] - slack
					       : gr->need[g];
		if (have < need)
			return false;
	}
	return true;
}

static inline uint64_t qc_op_id_of(const struct qr_core *c, const struct req *q)
{
	return (uint64_t)q->gen << 32 | (uint32_t)(q - c->reqs);
}

static inline int qc_replica_idx(const struct req *q, uint16_t node)
{
	for (int i = 0; i < q->rf; i++)
		if (q->replicas[i] == node)
			return i;
	return -1;
}

static inline void qc_drop(struct qr_core *c, enum qr_core_drop why)
{
	c->stats.drops[why]++;
}

/* An HLC value from a peer (a version, ballot, claim or range) more than
 * max_offset_ms ahead of our wall clock: refused wherever it would be
 * stored or believed, not only in the frame header (issue 12: a far-future
 * version pins a key for ever and drags the HLC at recovery). */
static inline bool qc_hlc_too_far(struct qr_core *c, uint64_t hlc)
{
	uint64_t ms = QR_HLC_MS(hlc), wall = qr_hlc_wall_ms(&c->hlc);
	return ms > wall && ms - wall > c->hlc.max_offset_ms;
}

/* qc_hlc_too_far, counted as QR_DROP_FUTURE. */
static inline bool qc_refuse_future(struct qr_core *c, uint64_t hlc)
{
	if (!qc_hlc_too_far(c, hlc))
		return false;
	qc_drop(c, QR_DROP_FUTURE);
	return true;
}

/* The write a request carries (its key, value and version). */
static inline struct qr_store_write qc_req_write_of(const struct req *q)
{
	return (struct qr_store_write){
		.partition = q->partition,
		.version = q->version,
		.tombstone = q->tombstone,
		.key = q->key,
		.key_len = q->key_len,
		.value = q->value,
		.value_len = q->value_len,
	};
}

/*
 * CASPaxos in the core (included by core.c: it needs the request table,
 * the pending queue and the WAL). Rystsov 2018; docs/protocol.md,
 * "Linearizable operations"; src/core/paxos.h has the acceptor rules.
 *
 * Acceptor (replica side):
 *   PREPARE(b)  -> vote (paxos.h). GRANT: log QR_WAL_PROMISE, and make the
 *                  HLC ceiling cover b; answer PROMISE with the entry (the
 *                  accepted state) once both are durable. AGAIN: answer once
 *                  the earlier record is durable. REJECT: PROMISE with
 *                  status QR_ESTALE and the ballot that won.
 *   ACCEPT(b,s) -> vote; GRANT: a write of s with version b, acked
 *                  (ACCEPTED) once durable, exactly like REPLICATE.
 * Proposer (coordinator side), one request slot per client op:
 *
 *   start --> PREPARE --quorum of promises--> decide --unanimous and no
 *               ^  |                             |     change--> answer
 *               |  +--reject--> BACKOFF          +--> ACCEPT --quorum--> answer
 *               +-----timer (new ballot)--/           |
 *                                                     +--reject--> BACKOFF
 *   any phase --deadline--> UNAVAILABLE
 *
 * Each round gets a new ballot and a new op_id generation, so a late
 * answer to an earlier round is a stale reply.
 *
 * decide: the current state is the promise with the highest version. If it
 * is one of our own accepted new states (mine[]: an earlier round of this
 * op, or of the same client request answered UNAVAILABLE), the op already
 * took effect: keep it and answer OK. Else apply the change function. When
 * the state does not change (LIN_GET, a failed precondition) and every
 * promise of the quorum names the same version, that state was accepted by
 * a quorum (chosen) and no accept is needed; otherwise the state is
 * accepted again with our ballot (CASPaxos: a read is a change that keeps
 * the value), and its version becomes the ballot.
 */
static inline struct qr_version qc_req_stamp(const struct req *q)
{
	return q->kind == REQ_CAS ? q->ballot : q->version;
}

/* auth_client.c */
int qc_auth_clients_init(struct qr_core *c);
void qc_auth_clients_fini(struct qr_core *c);
int qc_auth_client_open(struct qr_core *c, const uint8_t *frame, size_t *len,
			const struct qr_client_key **who);
bool qc_auth_client_allows(const struct qr_client_key *who,
			   const struct qr_msg *m);

/* auth.c */
int qc_auth_init(struct qr_core *c);
void qc_auth_fini(struct qr_core *c);
int qc_auth_open(struct qr_core *c, const uint8_t *frame, size_t *len);
size_t qc_auth_seal(struct qr_core *c, uint16_t dst, uint8_t *frame,
		    size_t len);

/* loop.c */
void qc_loop_put(struct qr_core *c, const struct qr_msg *m);
/* The next free slot's message, to be filled in place (NULL: full), then
 * qc_loop_commit(c, it), which copies its key and value into the slot
 * (L2); nothing is sent to ourselves in between (L5). */
struct qr_msg *qc_loop_claim(struct qr_core *c);
void qc_loop_commit(struct qr_core *c, const struct qr_msg *m);
void qc_loop_drain(struct qr_core *c);

/* core.c */
void qc_dispatch_peer_msg(struct qr_core *c, uint16_t from,
			  const struct qr_msg *m);
void qc_prefetch_msg(struct qr_core *c, uint64_t client, bool from_client,
		     const struct qr_msg *m, int stage, const void **ticket);

/* out.c */
void qc_peer_frame_begin(struct qr_core *c, uint16_t node);
void qc_reply_error_direct(struct qr_core *c, uint64_t client,
			   const struct qr_msg *m, uint16_t shard, int err);
void qc_send_client_reply(struct qr_core *c, const struct req *q, int status);
void qc_send_peer(struct qr_core *c, uint16_t node, const struct qr_msg *m);
/* The same, built in place: qc_send_begin() gives the message to fill (our
 * own loopback slot when node is us, else *tmp), qc_send_end() sends it;
 * no other message to ourselves in between (loop.c L5). For the per-write
 * messages: no copy of a freshly built message (loop.c). */
static inline struct qr_msg *qc_send_begin(struct qr_core *c, uint16_t node,
					   struct qr_msg *tmp)
{
	struct qr_msg *slot =
		node == c->cfg.node_id ? qc_loop_claim(c) : NULL;
	return slot ? slot : tmp;
}
static inline void qc_send_end(struct qr_core *c, uint16_t node,
			       struct qr_msg *m, const struct qr_msg *tmp)
{
	if (m != tmp)
		qc_loop_commit(c, m);
	else
		qc_send_peer(c, node, m); /* a peer; or us, full: dropped */
}
/* Put one message (a FRAG of a long reply) in client's frame. */
void qc_send_client_msg(struct qr_core *c, uint64_t client,
			const struct qr_msg *m);
void qc_on_client_msg(struct qr_core *c, uint64_t client, uint16_t shard,
		      const struct qr_client_key *who, const struct qr_msg *m);

/* reqtab.c */
/* A replica a request sends to: ourselves, or a peer not DOWN. */
static inline bool qc_reachable(const struct qr_core *c, uint16_t node)
{
	return node == c->cfg.node_id ||
	       qr_detector_state(&c->det, node) != QR_PEER_DOWN;
}
/* A replica a write may count on: ourselves while our WAL takes writes,
 * or a peer not DOWN whose last heartbeat did not say QR_MSGF_NO_WRITES. */
static inline bool qc_writable(const struct qr_core *c, uint16_t node)
{
	if (node == c->cfg.node_id)
		return c->wal_err == 0;
	return qr_detector_state(&c->det, node) != QR_PEER_DOWN &&
	       !c->det.peers[node].writes_refused;
}
/* A WAL append failed: QR_EBUSY is back-pressure; anything else means the
 * WAL takes no writes until the driver says otherwise (core.c). */
void qc_wal_refused(struct qr_core *c, int rc);
uint8_t qc_writable_count(const struct qr_core *c, const uint8_t *replicas,
			  uint8_t rf);
void qc_req_timer(struct qr_core *c, struct req *q);
bool qc_all_live_answered(struct qr_core *c, const struct req *q);
int qc_dedup_alloc(struct qr_core *c, uint32_t entries);
void qc_dedup_free(struct qr_core *c);
struct dedup *qc_dedup_find(struct qr_core *c, uint64_t client,
			    uint64_t req_id);
/* The entry of a write starting as op_id (not 0): retry's (a retry of a
 * write answered UNAVAILABLE), else a new one. */
struct dedup *qc_dedup_start(struct qr_core *c, struct dedup *retry,
			     uint64_t client, uint64_t req_id, uint64_t op_id);
void qc_dedup_prefetch(struct qr_core *c, uint64_t client, uint64_t req_id);
uint8_t qc_level_count(uint8_t level, uint8_t r_or_w, uint8_t rf);
/* Replicas (bit per index) not DOWN / taking writes. */
uint8_t qc_live_mask(struct qr_core *c, const uint8_t *replicas, uint8_t rf);
uint8_t qc_writable_mask(const struct qr_core *c, const uint8_t *replicas,
			 uint8_t rf);
struct req *qc_req_alloc(struct qr_core *c);
void qc_req_answer(struct qr_core *c, struct req *q, int status);
void qc_req_arm(struct qr_core *c, struct req *q);
struct req *qc_req_by_op_id(struct qr_core *c, uint64_t op_id);
void qc_req_free(struct qr_core *c, struct req *q);
bool qc_req_maybe_done(struct qr_core *c, struct req *q);
uint64_t qc_rto_initial(const struct qr_core *c);
/* A request's first transmission: now, and the next send_seq (W6). */
static inline void qc_req_sent(struct qr_core *c, struct req *q)
{
	q->sent_us = qc_now_us(c);
	q->sent_seq = ++c->send_seq;
}
void qc_rtt_sample(struct qr_core *c, struct req *q, uint16_t from);

/* replica.c */
void qc_answer_read(struct qr_core *c, uint8_t type, uint16_t dst,
		    uint64_t op_id, const uint8_t *key, uint8_t key_len);
void qc_pending_push(struct qr_core *c, const struct pending *p);
void qc_replica_on_read(struct qr_core *c, uint16_t from,
			const struct qr_msg *m);
void qc_replica_on_replicate(struct qr_core *c, uint16_t from,
			     const struct qr_msg *m);
bool qc_replica_owns(struct qr_core *c, const struct qr_msg *m);
void qc_replica_write(struct qr_core *c, uint16_t dst, uint64_t op_id,
		      const struct qr_store_write *w, uint8_t ack_type);

/* topology.c */
/* The replicas of partition p a request goes to (T1): the owners' set,
 * then the new set's members it lacks; their count, and in *in_new a bit
 * per one in the new set. Without a change: the owners' rf. */
uint8_t qc_topo_replicas(const struct qr_core *c, uint32_t p, uint8_t *reps,
			 uint8_t *in_new);
/* Widen groups made over the owners' rf replicas to the n of reps, of
 * which in_new (bit per index) are the new set's (T1). */
void qc_topo_widen(const struct qr_core *c, struct qc_groups *g,
		   uint8_t level, bool is_write, const uint8_t *reps,
		   uint8_t rf, uint8_t n, uint8_t in_new);
/* Is this node a replica of p in the owners' or the new placement (T2)? */
bool qc_topo_is_replica(const struct qr_core *c, uint32_t p, uint16_t node);
/* Is node in p's new replica set and not in its owners' (T3)? */
bool qc_topo_gainer(const struct qr_core *c, uint32_t p, uint16_t node);
/* A partition this core gains and has not filled yet (T3)? */
bool qc_topo_unfilled(const struct qr_core *c, uint32_t p);
/* A gainer streaming p from the owners (T3)? */
bool qc_topo_streaming(const struct qr_core *c, uint32_t p);
/* T6: drop a peer's frame of this epoch (its low 16 bits)? Notes a
 * higher one in stats.epoch_peer_max. */
bool qc_topo_frame_fenced(struct qr_core *c, uint16_t epoch);
/* T6: from now until the next epoch, frames of a lower one are dropped
 * (a no-op outside a change). */
void qc_topo_fence_older(struct qr_core *c);
/* T7: a peer's frame carried this epoch (low 16 bits): tell it our
 * topology if it is behind and ours is settled (once a heartbeat period
 * per peer). */
void qc_topo_news_offer(struct qr_core *c, uint16_t from, uint16_t epoch);
/* T7: a peer's TOPO_NEWS. */
void qc_topo_on_news(struct qr_core *c, const struct qr_msg *m);
/* T6: has a peer's frame carried an epoch above ours? */
bool qc_topo_behind(const struct qr_core *c);
/* Owner `from` sent a DIGEST equal to ours for p (T3). */
void qc_topo_stream_matched(struct qr_core *c, uint32_t p, uint16_t from);
/* The heartbeat period's stream work: DIGESTs to unmatched owners. */
void qc_topo_stream_step(struct qr_core *c);
static inline bool qc_is_member(const struct qr_core *c, uint16_t n)
{
	return (c->members >> n) & 1;
}

/* intake.c */
void qc_coord_on_client(struct qr_core *c, uint64_t client, uint16_t shard,
			const struct qr_msg *m);

/* write.c */
void qc_write_timer(struct qr_core *c, struct req *q);
void qc_write_start(struct qr_core *c, struct req *q, const struct qr_msg *m,
		    struct dedup *retry);
void qc_coord_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
		     int status, struct qr_version v);
void qc_send_replicate(struct qr_core *c, struct req *q, int i);
void qc_write_dispatch(struct qr_core *c, struct req *q);

/* read.c */
void qc_read_on_repair_ack(struct qr_core *c, struct req *q, int i,
			   struct qr_version v);
void qc_read_timer(struct qr_core *c, struct req *q);
void qc_read_start(struct qr_core *c, struct req *q, const struct qr_msg *m);
void qc_coord_on_read_reply(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m);
void qc_read_progress(struct qr_core *c, struct req *q);
void qc_read_repair_pass(struct qr_core *c, struct req *q);
void qc_send_read(struct qr_core *c, struct req *q, int i);

/* ceiling.c */
void qc_ceiling_durable(struct qr_core *c);
void qc_ceiling_renew(struct qr_core *c, uint64_t ms);

/* closed_ts.c */
void qc_closed_on_heartbeat(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m);
uint64_t qc_closed_floor(const struct qr_core *c);
void qc_closed_scan(struct qr_core *c);
void qc_send_heartbeats(struct qr_core *c);
void qc_watermark_update(struct qr_core *c);

/* clock_guard.c */
void qc_clock_hold(struct qr_core *c);
void qc_clock_release(struct qr_core *c);
void qc_clock_moved(struct qr_core *c);
void qc_clock_sample(struct qr_core *c, uint16_t from, uint64_t remote);
bool qc_clock_serving(struct qr_core *c);
void qc_clock_tick(struct qr_core *c);

/* hints.c */
void qc_any_hint(struct qr_core *c, struct req *q);
int qc_hint_add(struct qr_core *c, uint16_t target,
		const struct qr_store_write *w, bool log, bool from_store,
		uint16_t job, uint32_t job_gen, uint64_t claim);
void qc_hint_missing(struct qr_core *c, const struct req *q);
void qc_hint_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
		    struct qr_version v);
void qc_hints_replay(struct qr_core *c);

/* orphan.c */
void qc_orphan_begin(struct qr_core *c, uint64_t from, uint64_t to);
void qc_orphan_job_hint_done(struct qr_core *c, uint16_t asker);
void qc_orphan_on_done(struct qr_core *c, uint16_t from,
		       const struct qr_msg *m);
void qc_orphan_on_req(struct qr_core *c, uint16_t from, const struct qr_msg *m);
void qc_orphan_step(struct qr_core *c);

/* anti_entropy.c */
bool qc_ae_gc_admit(struct qr_core *c, const struct qr_store_write *w);
void qc_ae_gc_inserted(struct qr_core *c, const struct qr_store_write *w);
uint64_t qc_ae_gc_life_us(const struct qr_core *c, uint64_t deadline_us);
void qc_ae_on_digest(struct qr_core *c, uint16_t from, const struct qr_msg *m);
/* Our actual digest of p to an owner, for the stream (topology.c T3). */
void qc_ae_stream_digest(struct qr_core *c, uint16_t to, uint32_t p);
void qc_ae_step(struct qr_core *c);
void qc_ae_tick(struct qr_core *c);

/* cas.c */
void qc_cas_dispatch(struct qr_core *c, struct req *q);
void qc_cas_on_accepted(struct qr_core *c, uint16_t from,
			const struct qr_msg *m);
void qc_cas_on_promise(struct qr_core *c, uint16_t from,
		       const struct qr_msg *m);
void qc_cas_start(struct qr_core *c, struct req *q, const struct qr_msg *m,
		  struct dedup *retry);
void qc_cas_timer(struct qr_core *c, struct req *q);

/* cas_acceptor.c */
void qc_acceptor_on_accept(struct qr_core *c, uint16_t from,
			   const struct qr_msg *m);
void qc_acceptor_on_prepare(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m);

#endif
