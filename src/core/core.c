/* SPDX-License-Identifier: MIT */
/*
 * The sans-IO protocol core: coordinator and replica of one shard core.
 * DESIGN.md section 3; docs/protocol.md has the rules with their reasons.
 *
 * Design notes and invariants
 *  - Durable before visible to a quorum. A replica acknowledges a REPLICATE,
 *    and answers a READ with an entry, only once the WAL record that holds
 *    that entry is durable (entry lsn <= durable lsn). Until then the reply
 *    waits in the pending queue, released in lsn order by
 *    qr_core_on_wal_durable(). So every "I hold version v" a coordinator
 *    counts survives a crash of that replica.
 *  - Log before apply. A replica applies a newer version to its store only
 *    after the WAL accepted the record; a WAL refusal changes nothing and
 *    sends no ack (the coordinator retransmits).
 *  - Writes: the coordinator stamps (hlc_now, node), sends REPLICATE to every
 *    replica not DOWN (itself through a direct call, no frame), answers the
 *    client after W acks, keeps retransmitting to the missing ones until the
 *    deadline (unanswered: UNAVAILABLE) or, once answered, a short linger.
 *  - Reads: READ to every replica (first R answers decide). The answer is the
 *    highest version among them. For R >= quorum the repair is blocking: the
 *    client is answered only when a quorum durably holds a version >= the
 *    answer, so a later quorum read can never see less (monotonic quorum
 *    reads). For R < quorum repair runs in the background.
 *  - Versions are unique: a node never stamps a version whose HLC
 *    milliseconds reach the clock ceiling that is durable in its WAL
 *    (QR_WAL_CLOCK records, renewed hlc_lease_ms ahead, half a lease
 *    early), and recovery raises the HLC to that ceiling. Without this a
 *    node could crash, lose its newest versions, restart with a wall clock
 *    behind them and stamp one of them again on a different write (found by
 *    the simulator: seed 110577). A write whose version is not yet covered
 *    waits, parked, for the ceiling record to be durable.
 *  - A request slot is named on the wire by op_id = generation << 32 | index:
 *    a reply for a recycled slot has the wrong generation and is dropped.
 *  - Bounded everything: requests_max slots, pending_max WAL-waiting replies,
 *    frames of QR_FRAME_BYTES_MAX per peer; no allocation after create.
 *
 * State of a request slot:
 *
 *   FREE --client req--> ACTIVE --quorum met--> ANSWERED --all done--> FREE
 *                          |  \                    \--linger over--> FREE
 *                          |   \--deadline--> (UNAVAILABLE) --> FREE
 *                          \--fast fail (too many DOWN)--> FREE
 */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "core/gc.h"
#include "core/paxos.h"
#include "core/timer.h"
#include "quorate/err.h"

#define TIMER_SLOTS 1024
#define AE_NO_ACK UINT64_MAX /* op_id of an anti-entropy push */
/* op_id of a hint delivery: tag | generation (31 bits) << 32 | slot.
 * Request op_ids keep bit 63 clear (their generation has 31 bits). */
#define HINT_OP_TAG (1ull << 63)
#define GEN_MASK 0x7fffffffu
#define HINT_SENDS_PER_TICK 256
#define RF_BITS(rf) ((uint8_t)((1u << (rf)) - 1))

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

/* One coordinator request. ~1.4 KiB, most of it the key and value copy that
 * retransmission and read repair need. */
struct req {
	struct qr_timer timer; /* next retransmission / deadline / linger */
	uint32_t gen;	       /* generation: upper half of op_id */
	uint8_t kind;	       /* enum req_kind */
	uint8_t op;	       /* enum qr_op */
	uint8_t need;	       /* R or W */
	uint8_t hold_need;     /* reads: holders needed before answering */
	uint8_t rf;
	uint8_t replicas[QR_RF_MAX];
	uint8_t done_mask;   /* writes: acked; reads: answered (bit per idx) */
	uint8_t holds_mask;  /* reads: durably hold >= best */
	uint8_t repair_mask; /* reads: repair REPLICATE sent, ack awaited */
	bool answered;	     /* client has its reply */
	bool tombstone;	     /* write: a delete; read: best is a tombstone */
	bool found;	     /* read: some replica has an entry */
	bool parked;	     /* write: waits for the HLC ceiling */
	bool retransmitted;  /* Karn: no RTT samples from this request */
	bool any;	     /* write at level ANY */
	bool hinted_any;     /* level ANY write answered by its hints */
	uint8_t stale_mode;  /* reads: 0 wait, QR_MSGF_STALE_ERROR/QUORUM */
	uint8_t valid_mask;  /* reads: answers current for the token */
	uint8_t heard_mask;  /* reads: replicas that ever answered */
	uint64_t token;	     /* reads: client's min_version (0: none) */
	uint64_t serve_wm;   /* reads: watermark of the best valid answer */
	uint8_t key_len;
	uint16_t value_len;
	uint16_t client_shard;
	uint32_t partition;
	uint64_t client;      /* driver's handle for the client's address */
	uint64_t req_id;      /* client's id */
	uint64_t deadline_us; /* answer UNAVAILABLE if not answered by then */
	uint64_t linger_us;   /* after answering, give up on stragglers then */
	uint64_t rto_us;      /* current retransmission timeout */
	uint64_t sent_us;     /* first transmission (RTT samples) */
	struct qr_version version; /* write: stamped; read: best seen;
				    * CAS: the answer's, or our last accept */
	/* CAS (the proposer of CASPaxos; docs/protocol.md) */
	uint8_t phase;		   /* enum cas_phase */
	uint8_t mine_count;	   /* ballots recorded in mine[] (a ring) */
	bool st_found, st_tomb;	   /* best accepted state promised */
	bool unanimous;		   /* every promise names the same state */
	bool acc_new;		   /* accepting the op's new state, not st */
	int16_t result;		   /* answer once the accept has a quorum */
	uint16_t st_value_len;
	uint64_t backoff_us;	   /* current cap of the random backoff */
	struct qr_version ballot;  /* this round's */
	struct qr_version expected; /* *_IF_VERSION */
	struct qr_version st_version, first;
	struct qr_version mine[CAS_MINE_MAX]; /* our accepted new states */
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value[QR_VALUE_BYTES_MAX];
	uint8_t st_value[QR_VALUE_BYTES_MAX]; /* CAS: best state's value */
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
 * (docs/protocol.md).
 */
#define DEDUP_WAYS 4

struct dedup {
	uint64_t seq; /* insertion order; 0: free */
	uint64_t client;
	uint64_t req_id;
	uint64_t op_id;		   /* in flight: its op_id; done: 0 */
	int16_t status;		   /* done: the answer given */
	struct qr_version version; /* done: the version written */
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
	bool from_store;  /* copied from a replica's store (a hand-off), not
			   * from a write request */
	uint8_t key_len;
	uint16_t target;
	uint16_t job;	  /* orphan job: requesting node + 1; 0: none */
	uint16_t value_len;
	uint32_t gen;	  /* 31 bits, for the op_id */
	uint32_t job_gen; /* which job of that node */
	uint32_t partition;
	uint64_t sent_us; /* last sent (0: never) */
	uint64_t created_us;
	struct qr_version version;
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value[QR_VALUE_BYTES_MAX];
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

struct peer_out {
	struct qr_frame_writer w;
	uint8_t buf[QR_FRAME_BYTES_MAX];
};

struct qr_core {
	struct qr_core_config cfg;
	struct qr_env env;
	const struct qr_placement *pl;
	uint16_t nodes;
	struct qr_hlc hlc;
	struct qr_detector det;
	struct qr_store *store;
	struct qr_timer_wheel wheel;
	struct qr_timer hb_timer;
	struct qr_timer ae_timer;  /* anti-entropy: one partition a step */
	/* closed timestamps */
	uint64_t closed_out[QR_NODES_MAX]; /* what we tell each node */
	uint64_t floor_recovered; /* closed floor from the WAL's clock records */
	/* our own hand-off after a restart or a lost hint */
	bool orphan_active, orphan_scanned;
	uint64_t restart_hlc;	/* our first HLC after the last restart */
	uint64_t *peer_restart;	/* per node: its restart_hlc, as it told us */
	uint32_t orphan_next_p; /* partition our own scan resumes at */
	uint64_t orphan_from, orphan_to, orphan_done_mask;
	struct orphan_job *jobs; /* per asking node */
	/* hints */
	struct hint *hints;
	uint32_t *free_hints;
	uint32_t free_hint_count;
	uint32_t hint_cursor; /* word of hint_busy the next replay starts at */
	/* Bit per slot in use: the periodic scans visit only those (a
	 * request slot is ~1.4 KiB: a scan of every one costs a cache miss
	 * each, ~0.5 ms per 4096, every heartbeat period). */
	uint64_t *req_busy, *hint_busy;
	uint32_t ae_next;          /* next partition to look at */
	uint32_t ae_burst;	   /* on-demand steps left (qr_core_ae_request) */
	uint64_t ae_down;	   /* peers DOWN at the last tick (bit per node) */
	struct qr_gc gc;	   /* tombstone GC records (core/gc.h) */
	uint8_t (*ae_keys)[QR_KEY_BYTES_MAX]; /* [AE_GC_BATCH] keys to collect */
	uint8_t *ae_key_lens;		       /* [AE_GC_BATCH] */
	uint64_t ceiling_ms;	     /* durable HLC ceiling (ms) */
	uint64_t ceiling_next_ms;    /* logged, not yet durable */
	uint64_t ceiling_next_lsn;   /* its lsn; 0: none in flight */
	uint32_t parked;	     /* writes waiting for the ceiling */
	uint64_t srtt_us, rttvar_us; /* answer time, smoothed (0: none) */
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
	struct dedup *dedup;
	uint32_t dedup_sets_mask;
	uint64_t dedup_seq;
	/* CASPaxos acceptor: promises (src/core/paxos.h) */
	struct qr_paxos_table paxos;
	/* outgoing frames, one per peer; client replies go one per frame */
	struct peer_out *out;
	uint8_t reply_buf[QR_FRAME_BYTES_MAX];
	struct qr_core_stats stats;
};

static const char *const drop_names[QR_DROP_COUNT] = {
#define QR_CORE_DROP_NAME(name, text) [QR_DROP_##name] = #name,
	QR_CORE_DROP_LIST(QR_CORE_DROP_NAME)
#undef QR_CORE_DROP_NAME
};

const char *qr_core_drop_name(enum qr_core_drop d)
{
	return (unsigned)d < QR_DROP_COUNT ? drop_names[d] : "?";
}

void qr_core_config_defaults(struct qr_core_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->requests_max = 4096;
	cfg->pending_max = 8192;
	cfg->keys_max = 1u << 20;
	cfg->max_offset_ms = QR_HLC_MAX_OFFSET_MS_DEFAULT;
	cfg->hlc_lease_ms = 100;
	cfg->deadline_us_default = 1000000;
	cfg->rto_us_min = 2000;
	cfg->rto_us_max = 100000;
	cfg->heartbeat_us = 10000; /* also the closed-timestamp period */
	cfg->suspect_after_us = 150000;
	cfg->down_after_us = 500000;
	cfg->timer_tick_us = 100;
	cfg->ae_interval_us = 10000;
	cfg->tombstone_grace_ms = 10000;
}

/* ---- small helpers ---------------------------------------------------- */

static inline uint64_t now_us(struct qr_core *c)
{
	return c->env.now_us(c->env.ctx);
}

static uint64_t hlc_wall_ms(void *ctx)
{
	struct qr_core *c = ctx;
	return c->env.wall_ms(c->env.ctx);
}

static void hlc_pause(void *ctx)
{
	struct qr_core *c = ctx;
	if (c->env.pause)
		c->env.pause(c->env.ctx);
}

static inline uint8_t quorum_of(uint8_t rf)
{
	return (uint8_t)(rf / 2 + 1);
}

/* R or W a request needs; 0 if the level asks for more than RF. */
static uint8_t level_count(uint8_t level, uint8_t r_or_w, uint8_t rf)
{
	switch (level) {
	case QR_LEVEL_ONE:
		return 1;
	case QR_LEVEL_QUORUM:
		return quorum_of(rf);
	case QR_LEVEL_ALL:
		return rf;
	case QR_LEVEL_RW:
		return r_or_w >= 1 && r_or_w <= rf ? r_or_w : 0;
	case QR_LEVEL_ANY:
		return 1;
	}
	return 0;
}

static inline uint64_t op_id_of(const struct qr_core *c, const struct req *q)
{
	return (uint64_t)q->gen << 32 | (uint32_t)(q - c->reqs);
}

static struct req *req_by_op_id(struct qr_core *c, uint64_t op_id)
{
	uint32_t idx = (uint32_t)op_id;
	if (idx >= c->cfg.requests_max)
		return NULL;
	struct req *q = &c->reqs[idx];
	if (q->kind == REQ_FREE || q->gen != (uint32_t)(op_id >> 32))
		return NULL;
	return q;
}

static int replica_idx(const struct req *q, uint16_t node)
{
	for (int i = 0; i < q->rf; i++)
		if (q->replicas[i] == node)
			return i;
	return -1;
}

static inline void drop(struct qr_core *c, enum qr_core_drop why)
{
	c->stats.drops[why]++;
}

/* ---- output ------------------------------------------------------------ */

static void peer_frame_begin(struct qr_core *c, uint16_t node)
{
	struct qr_frame_hdr h = {
		.cluster_id = c->cfg.cluster_id,
		.src_node = c->cfg.node_id,
		.dst_node = node,
		.shard = c->cfg.shard,
	};
	qr_wire_frame_begin(&c->out[node].w, c->out[node].buf,
			    sizeof(c->out[node].buf), &h);
}

static void peer_flush(struct qr_core *c, uint16_t node)
{
	struct peer_out *o = &c->out[node];
	if (o->w.count == 0)
		return;
	size_t len = qr_wire_frame_end(&o->w);
	/* Send event (HLC paper): the frame carries a fresh timestamp, which
	 * is above every version stamped in it. */
	qr_wire_frame_set_hlc(o->buf, qr_hlc_now(&c->hlc));
	c->stats.frames_out++;
	c->stats.msgs_out += o->w.count;
	c->env.send(c->env.ctx, node, 0, o->buf, len);
	peer_frame_begin(c, node);
}

static void send_peer(struct qr_core *c, uint16_t node, const struct qr_msg *m)
{
	QR_DASSERT(node < c->nodes && node != c->cfg.node_id);
	int rc = qr_wire_put(&c->out[node].w, m);
	if (rc == QR_EFULL) {
		peer_flush(c, node);
		rc = qr_wire_put(&c->out[node].w, m);
	}
	QR_ASSERT(rc == 0); /* every message we build fits an empty frame */
}

static void send_client_reply(struct qr_core *c, const struct req *q,
			      int status)
{
	struct qr_frame_hdr h = {
		.cluster_id = c->cfg.cluster_id,
		.src_node = c->cfg.node_id,
		.dst_node = QR_NODE_CLIENT,
		.shard = c->cfg.shard,
		.hlc = qr_hlc_now(&c->hlc),
	};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REPLY,
		.req_id = q->req_id,
		.status = (int16_t)status,
		.version = q->version,
	};
	if (q->kind == REQ_READ ||
	    (q->kind == REQ_CAS && q->op == QR_OP_LIN_GET)) {
		if (q->kind == REQ_READ)
			m.closed_ts = q->serve_wm;
		m.answered = (uint8_t)__builtin_popcount(q->done_mask);
		for (int i = 0; i < q->rf; i++)
			if (q->done_mask & (1u << i))
				m.replica_mask |= 1ull << q->replicas[i];
		if (status == 0) {
			m.value = q->value;
			m.value_len = q->value_len;
		}
		if (q->tombstone)
			m.flags |= QR_MSGF_TOMBSTONE;
	} else {
		m.answered = (uint8_t)__builtin_popcount(q->done_mask);
		for (int i = 0; i < q->rf; i++)
			if (q->done_mask & (1u << i))
				m.replica_mask |= 1ull << q->replicas[i];
	}
	struct qr_frame_writer w;
	qr_wire_frame_begin(&w, c->reply_buf, sizeof(c->reply_buf), &h);
	QR_ASSERT(qr_wire_put(&w, &m) == 0);
	size_t len = qr_wire_frame_end(&w);
	if (status == 0)
		c->stats.client_ok++;
	else {
		c->stats.client_err++;
		if (status < 0 && status >= QR_ERR_MIN)
			c->stats.client_err_by[-status]++;
	}
	c->stats.frames_out++;
	c->stats.msgs_out++;
	c->env.send(c->env.ctx, QR_NODE_CLIENT, q->client, c->reply_buf, len);
}

/* An error reply for a request that never got a slot. */
static void reply_error_direct(struct qr_core *c, uint64_t client,
			       const struct qr_msg *m, uint16_t shard, int err)
{
	struct req tmp;
	memset(&tmp, 0, offsetof(struct req, key));
	tmp.kind = m->op == QR_OP_GET ? REQ_READ : REQ_WRITE;
	tmp.client = client;
	tmp.req_id = m->req_id;
	tmp.client_shard = shard;
	send_client_reply(c, &tmp, err);
}

void qr_core_flush(struct qr_core *c)
{
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != c->cfg.node_id)
			peer_flush(c, n);
}

/* ---- request slots ----------------------------------------------------- */

static struct req *req_alloc(struct qr_core *c)
{
	if (c->free_count == 0)
		return NULL;
	struct req *q = &c->reqs[c->free_reqs[--c->free_count]];
	uint32_t gen = (q->gen + 1) & GEN_MASK;
	memset(q, 0, offsetof(struct req, key));
	q->gen = gen ? gen : 1;
	uint32_t k = (uint32_t)(q - c->reqs);
	c->req_busy[k / 64] |= 1ull << (k % 64);
	return q;
}

static void hint_missing(struct qr_core *c, const struct req *q);

static void req_free(struct qr_core *c, struct req *q)
{
	if (q->kind == REQ_WRITE ||
	    (q->kind == REQ_CAS && q->phase == CAS_ACCEPT))
		hint_missing(c, q);
	qr_timer_cancel(&c->wheel, &q->timer);
	if (q->parked) {
		q->parked = false;
		c->parked--;
	}
	q->kind = REQ_FREE;
	uint32_t k = (uint32_t)(q - c->reqs);
	c->req_busy[k / 64] &= ~(1ull << (k % 64));
	c->free_reqs[c->free_count++] = k;
}

static struct dedup *dedup_set(struct qr_core *c, uint64_t client,
			       uint64_t req_id)
{
	uint64_t x = client * 0x9e3779b97f4a7c15ull ^ req_id;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return &c->dedup[(x & c->dedup_sets_mask) * DEDUP_WAYS];
}

static struct dedup *dedup_find(struct qr_core *c, uint64_t client,
				uint64_t req_id)
{
	struct dedup *set = dedup_set(c, client, req_id);
	for (int i = 0; i < DEDUP_WAYS; i++)
		if (set[i].seq && set[i].client == client &&
		    set[i].req_id == req_id)
			return &set[i];
	return NULL;
}

static struct dedup *dedup_insert(struct qr_core *c, uint64_t client,
				  uint64_t req_id)
{
	struct dedup *set = dedup_set(c, client, req_id);
	/* A free way, else the oldest finished entry, else (all in flight)
	 * the oldest: an entry in flight is evicted only as a last resort. */
	struct dedup *free_way = NULL, *old_done = NULL, *old_any = NULL;
	for (int i = 0; i < DEDUP_WAYS; i++) {
		struct dedup *e = &set[i];
		if (!e->seq) {
			if (!free_way)
				free_way = e;
			continue;
		}
		if (e->op_id == 0 && (!old_done || e->seq < old_done->seq))
			old_done = e;
		if (!old_any || e->seq < old_any->seq)
			old_any = e;
	}
	struct dedup *victim = free_way ? free_way : old_done ? old_done
							       : old_any;
	*victim = (struct dedup){
		.seq = ++c->dedup_seq, .client = client, .req_id = req_id};
	return victim;
}

static void req_answer(struct qr_core *c, struct req *q, int status)
{
	QR_ASSERT(!q->answered);
	q->answered = true;
	if (q->kind == REQ_WRITE || q->kind == REQ_CAS) {
		struct dedup *d = dedup_find(c, q->client, q->req_id);
		if (d && d->op_id == op_id_of(c, q)) {
			d->op_id = 0;
			d->status = (int16_t)status;
			d->version = q->version;
		}
	}
	send_client_reply(c, q, status);
	/* Stragglers get a short window, not the whole deadline. */
	q->linger_us = now_us(c) + c->cfg.rto_us_max;
}

/* Slot finished? Frees it and returns true. */
static bool req_maybe_done(struct qr_core *c, struct req *q)
{
	if (!q->answered)
		return false;
	uint8_t all = RF_BITS(q->rf);
	/* DOWN replicas are not waited for once the client has its answer. */
	for (int i = 0; i < q->rf; i++)
		if (q->replicas[i] != c->cfg.node_id &&
		    qr_detector_state(&c->det, q->replicas[i]) == QR_PEER_DOWN)
			all &= (uint8_t) ~(1u << i);
	bool done = (q->done_mask & all) == all;
	if (q->kind == REQ_READ)
		done = done && q->repair_mask == 0;
	if (done)
		req_free(c, q);
	return done;
}

/* ---- replica side ------------------------------------------------------ */

static void pending_push(struct qr_core *c, const struct pending *p)
{
	if (c->pend_count == c->cfg.pending_max) {
		/* No ack: the coordinator retransmits, and we answer then. */
		drop(c, QR_DROP_PENDING_FULL);
		return;
	}
	uint32_t slot = (c->pend_head + c->pend_count) % c->cfg.pending_max;
	struct pending *d = &c->pend[slot];
	d->lsn = p->lsn;
	d->op_id = p->op_id;
	d->dst = p->dst;
	d->type = p->type;
	d->key_len = p->key_len;
	d->version = p->version;
	if (p->type == QR_MSG_READ_REPLY || p->type == QR_MSG_PROMISE)
		memcpy(d->key, p->key, p->key_len);
	c->pend_count++;
}

static void coord_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
			 int status, struct qr_version v);
static bool ae_gc_admit(struct qr_core *c, const struct qr_store_write *w);
static void ae_gc_inserted(struct qr_core *c, const struct qr_store_write *w);
static void ceiling_durable(struct qr_core *c);
static uint64_t ae_gc_life_us(const struct qr_core *c, uint64_t deadline_us);
static void ceiling_renew(struct qr_core *c, uint64_t ms);
static void write_dispatch(struct qr_core *c, struct req *q);
static void coord_on_read_reply(struct qr_core *c, uint16_t from,
				const struct qr_msg *m);
static void cas_on_promise(struct qr_core *c, uint16_t from,
			   const struct qr_msg *m);
static void cas_on_accepted(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m);

/* type: QR_MSG_REPLICATE_ACK, or QR_MSG_ACCEPTED for a CASPaxos accept. */
static void send_ack(struct qr_core *c, uint16_t dst, uint64_t op_id,
		     struct qr_version v, uint8_t type)
{
	if (dst == c->cfg.node_id) {
		if (type == QR_MSG_ACCEPTED) {
			struct qr_msg a = {.type = type, .op_id = op_id,
					   .version = v};
			cas_on_accepted(c, dst, &a);
		} else {
			coord_on_ack(c, dst, op_id, 0, v);
		}
		return;
	}
	struct qr_msg m = {
		.type = type,
		.op_id = op_id,
		.version = v,
	};
	send_peer(c, dst, &m);
}

/* Answer a READ (type QR_MSG_READ_REPLY) or a granted PREPARE
 * (QR_MSG_PROMISE) from the store as it is now: the entry if durable, else
 * queue the answer behind the WAL. */
static void answer_read(struct qr_core *c, uint8_t type, uint16_t dst,
			uint64_t op_id, const uint8_t *key, uint8_t key_len)
{
	struct qr_store_view v;
	struct qr_msg m = {
		.type = type,
		.op_id = op_id,
		/* Every write stamped below it is durable here: a session
		 * token below it may be served by us alone. */
		.closed_ts = QR_BUG(SERVE_BELOW_WATERMARK) ? UINT64_MAX
							   : c->stats.watermark,
	};
	if (qr_store_get(c->store, key, key_len, &v) == 0) {
		if (v.lsn > c->durable_lsn) {
			struct pending p = {
				.lsn = v.lsn,
				.op_id = op_id,
				.dst = dst,
				.type = type,
				.key_len = key_len,
			};
			memcpy(p.key, key, key_len);
			pending_push(c, &p);
			return;
		}
		m.version = v.version;
		if (v.tombstone)
			m.flags |= QR_MSGF_TOMBSTONE;
		if (type == QR_MSG_PROMISE &&
		    qr_paxos_unsure(&c->paxos,
				    qr_paxos_slot_of(&c->paxos, key, key_len),
				    v.version))
			m.flags |= QR_MSGF_UNSURE;
		m.value = v.value;
		m.value_len = v.value_len;
	} else {
		m.status = QR_ENOTFOUND;
	}
	if (type == QR_MSG_PROMISE) {
		if (dst == c->cfg.node_id)
			cas_on_promise(c, dst, &m);
		else
			send_peer(c, dst, &m);
		return;
	}
	c->stats.reads_served++;
	if (dst == c->cfg.node_id)
		coord_on_read_reply(c, dst, &m);
	else
		send_peer(c, dst, &m);
}

/*
 * Apply a replicated write: log, then apply, then ack once durable. Used for
 * REPLICATE from peers and for the coordinator's own replica (dst == self).
 */
static void replica_write(struct qr_core *c, uint16_t dst, uint64_t op_id,
			  const struct qr_store_write *w, uint8_t ack_type)
{
	struct qr_store_view cur;
	int cmp = 1;
	bool had = qr_store_get(c->store, w->key, w->key_len, &cur) == 0;
	if (had)
		cmp = qr_version_cmp(w->version, cur.version);
	if (cmp > 0 || (QR_BUG(APPLY_OLDER) && cmp < 0)) {
		struct qr_wal_record rec = {
			.lsn = c->next_lsn,
			.type = w->tombstone ? QR_WAL_TOMBSTONE : QR_WAL_PUT,
			.partition = w->partition,
			.version = w->version,
			.key = w->key,
			.key_len = w->key_len,
			.value = w->value,
			.value_len = w->value_len,
		};
		if (c->env.wal_append(c->env.ctx, &rec) != 0) {
			drop(c, QR_DROP_WAL);
			return;
		}
		struct qr_store_write sw = *w;
		sw.lsn = c->next_lsn++;
		c->stats.wal_appends++;
		/* Not an ACCEPT: mark it if it goes below a CASPaxos promise
		 * (paxos.h, "unsure states"; one key hash per apply). */
		if (ack_type != QR_MSG_ACCEPTED)
			qr_paxos_install(&c->paxos,
					 qr_paxos_slot_of(&c->paxos, w->key,
							  w->key_len),
					 w->version);
		int rc = qr_store_apply(c->store, &sw, &cur);
		if (rc < 0) {
			/* Logged but not applied (table full): recovery
			 * would apply it; refuse the ack instead of lying. */
			drop(c, QR_DROP_WAL);
			return;
		}
		c->stats.replicate_applied++;
		if (!had)
			ae_gc_inserted(c, w);
	} else if (cmp == 0) {
		c->stats.replicate_same++;
	} else {
		c->stats.replicate_older++;
	}
	/* cur: the entry now, holding w->version or newer. */
	if (op_id == AE_NO_ACK)
		return; /* an anti-entropy push: nobody waits for it */
	if (QR_BUG(ACK_BEFORE_WAL) || cur.lsn <= c->durable_lsn) {
		send_ack(c, dst, op_id, cur.version, ack_type);
		return;
	}
	struct pending p = {
		.lsn = cur.lsn,
		.op_id = op_id,
		.dst = dst,
		.type = ack_type,
		.version = cur.version,
	};
	pending_push(c, &p);
}

/* A replica message must be for a partition of ours, on our shard. */
static bool replica_owns(struct qr_core *c, const struct qr_msg *m)
{
	if (qr_placement_partition(c->pl, m->key, m->key_len) != m->partition) {
		drop(c, QR_DROP_WIRE);
		return false;
	}
	if (qr_placement_shard(c->pl, m->partition) != c->cfg.shard) {
		drop(c, QR_DROP_WRONG_SHARD);
		return false;
	}
	if (qr_placement_replica_index(c->pl, m->partition, c->cfg.node_id) <
	    0) {
		drop(c, QR_DROP_NOT_REPLICA);
		return false;
	}
	return true;
}

static void replica_on_replicate(struct qr_core *c, uint16_t from,
				 const struct qr_msg *m)
{
	if (!replica_owns(c, m))
		return;
	struct qr_store_write w = {
		.partition = m->partition,
		.version = m->version,
		.tombstone = (m->flags & QR_MSGF_TOMBSTONE) != 0,
		.key = m->key,
		.key_len = m->key_len,
		.value = m->value,
		.value_len = m->value_len,
	};
	if (w.tombstone && w.value_len) {
		drop(c, QR_DROP_WIRE);
		return;
	}
	/* A write request its sender stamped before its restart, still in
	 * flight after the sender's hand-off asked us: a copy made now might
	 * be one no hand-off covers. (Its hints, replayed from its WAL, are
	 * tracked by the new incarnation's closed timestamps: let through.) */
	if (!(m->flags & (QR_MSGF_NOACK | QR_MSGF_REPAIR)) &&
	    !(m->op_id & HINT_OP_TAG) && m->version.node == from &&
	    m->version.hlc < c->peer_restart[from]) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	if (!(m->flags & (QR_MSGF_NOACK | QR_MSGF_REPAIR)) &&
	    !ae_gc_admit(c, &w))
		return; /* a straggling write: see ae_gc_admit */
	replica_write(c, from,
		      (m->flags & QR_MSGF_NOACK) ? AE_NO_ACK : m->op_id, &w,
		      QR_MSG_REPLICATE_ACK);
}

static void replica_on_read(struct qr_core *c, uint16_t from,
			    const struct qr_msg *m)
{
	if (!replica_owns(c, m))
		return;
	answer_read(c, QR_MSG_READ_REPLY, from, m->op_id, m->key, m->key_len);
}


void qr_core_on_wal_durable(struct qr_core *c, uint64_t lsn)
{
	if (lsn <= c->durable_lsn)
		return;
	QR_ASSERT(lsn < c->next_lsn);
	c->durable_lsn = lsn;
	if (c->ceiling_next_lsn && lsn >= c->ceiling_next_lsn)
		ceiling_durable(c);
	while (c->pend_count) {
		struct pending *p = &c->pend[c->pend_head];
		if (p->lsn > lsn)
			break;
		struct pending cp = *p; /* the callee may push new ones */
		c->pend_head = (c->pend_head + 1) % c->cfg.pending_max;
		c->pend_count--;
		if (cp.type == QR_MSG_REPLICATE_ACK ||
		    cp.type == QR_MSG_ACCEPTED)
			send_ack(c, cp.dst, cp.op_id, cp.version, cp.type);
		else
			answer_read(c, cp.type, cp.dst, cp.op_id, cp.key,
				    cp.key_len);
	}
}

/* ---- coordinator side -------------------------------------------------- */

/* The write a request carries (its key, value and version). */
static struct qr_store_write req_write_of(const struct req *q)
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

static void send_replicate(struct qr_core *c, struct req *q, int i)
{
	struct qr_store_write w = req_write_of(q);
	uint16_t node = q->replicas[i];
	if (node == c->cfg.node_id) {
		if (q->kind == REQ_READ || ae_gc_admit(c, &w))
			replica_write(c, node, op_id_of(c, q), &w,
				      QR_MSG_REPLICATE_ACK);
		return;
	}
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = (uint8_t)((q->tombstone ? QR_MSGF_TOMBSTONE : 0) |
				   (q->kind == REQ_READ ? QR_MSGF_REPAIR : 0)),
		.op_id = op_id_of(c, q),
		.partition = q->partition,
		.version = q->version,
		.key = q->key,
		.key_len = q->key_len,
		.value = q->value,
		.value_len = q->value_len,
	};
	send_peer(c, node, &m);
}

static void send_read(struct qr_core *c, struct req *q, int i)
{
	uint16_t node = q->replicas[i];
	if (node == c->cfg.node_id) {
		answer_read(c, QR_MSG_READ_REPLY, node, op_id_of(c, q), q->key,
			    q->key_len);
		return;
	}
	struct qr_msg m = {
		.type = QR_MSG_READ,
		.op_id = op_id_of(c, q),
		.partition = q->partition,
		.key = q->key,
		.key_len = q->key_len,
	};
	send_peer(c, node, &m);
}

static uint8_t live_count(struct qr_core *c, const uint8_t *replicas,
			  uint8_t rf)
{
	uint8_t n = 0;
	for (int i = 0; i < rf; i++)
		if (replicas[i] == c->cfg.node_id ||
		    qr_detector_state(&c->det, replicas[i]) != QR_PEER_DOWN)
			n++;
	return n;
}

static void req_arm(struct qr_core *c, struct req *q)
{
	uint64_t end = q->answered ? q->linger_us : q->deadline_us;
	uint64_t at = QR_MIN(end, now_us(c) + q->rto_us);
	qr_timer_arm(&c->wheel, &q->timer, at);
}

/*
 * Round-trip estimate over first-transmission answers (Karn's rule), after
 * Jacobson/Karels (RFC 6298): a write's answer includes the replica's WAL
 * sync, so the RTO adapts to the disk as well as the network. A fixed 2 ms
 * RTO retransmitted most writes on a disk whose fsync takes longer.
 */
static void rtt_sample(struct qr_core *c, struct req *q, uint16_t from)
{
	if (q->retransmitted || from == c->cfg.node_id || !q->sent_us)
		return;
	uint64_t r = now_us(c) - q->sent_us;
	if (!c->srtt_us) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
		return;
	}
	uint64_t d = r > c->srtt_us ? r - c->srtt_us : c->srtt_us - r;
	c->rttvar_us = (3 * c->rttvar_us + d) / 4;
	c->srtt_us = (7 * c->srtt_us + r) / 8;
}

static uint64_t rto_initial(const struct qr_core *c)
{
	uint64_t rto = c->srtt_us + 4 * c->rttvar_us;
	return QR_MIN(QR_MAX(rto, c->cfg.rto_us_min), c->cfg.rto_us_max);
}

static bool all_live_answered(struct qr_core *c, const struct req *q)
{
	for (int i = 0; i < q->rf; i++)
		if (!(q->done_mask & (1u << i)) &&
		    (q->replicas[i] == c->cfg.node_id ||
		     qr_detector_state(&c->det, q->replicas[i]) != QR_PEER_DOWN))
			return false;
	return true;
}

/* The CASPaxos acceptor and proposer: a part of this file kept apart (it
 * uses the request table, the pending queue and the WAL like the rest). */
#include "core/core_paxos.inc"

/* Reads: can we answer, and what? Called after every reply or repair ack. */
static void read_progress(struct qr_core *c, struct req *q)
{
	if (q->answered) {
		req_maybe_done(c, q);
		return;
	}
	if (__builtin_popcount(q->done_mask) < q->need)
		return;
	if (!q->valid_mask) {
		/* No answer is current for the session token yet. The
		 * timer asks again (watermarks move with heartbeats) until
		 * the deadline; STALE_ERROR asks for STALE once every live
		 * replica has answered. */
		if (q->stale_mode == QR_MSGF_STALE_ERROR &&
		    all_live_answered(c, q)) {
			c->stats.stale_answers++;
			req_answer(c, q, QR_ESTALE);
			req_maybe_done(c, q);
		}
		return;
	}
	if (q->found && !QR_BUG(SKIP_READ_REPAIR) &&
	    __builtin_popcount(q->holds_mask) < q->hold_need)
		return; /* blocking repair still short of a quorum */
	int status = 0;
	if (!q->found || q->tombstone)
		status = QR_ENOTFOUND;
	req_answer(c, q, status);
	req_maybe_done(c, q);
}

/*
 * Send the best version to every replica that answered with less and is not
 * already being repaired; only once R answers have settled the best (before
 * that a better one may still come). Returns false if the request finished
 * meanwhile (our own replica can ack inline) and q must not be touched.
 */
static bool read_repair_pass(struct qr_core *c, struct req *q)
{
	if (QR_BUG(SKIP_READ_REPAIR))
		return true;
	if (!q->found ||
	    (!q->answered && __builtin_popcount(q->done_mask) < q->need))
		return true;
	uint64_t op_id = op_id_of(c, q);
	for (int k = 0; k < q->rf; k++) {
		uint8_t bit = (uint8_t)(1u << k);
		if (!(q->done_mask & bit) || (q->holds_mask & bit) ||
		    (q->repair_mask & bit))
			continue;
		q->repair_mask |= bit;
		c->stats.read_repairs_sent++;
		send_replicate(c, q, k);
		if (req_by_op_id(c, op_id) != q)
			return false;
	}
	return true;
}

static void coord_on_read_reply(struct qr_core *c, uint16_t from,
				const struct qr_msg *m)
{
	struct req *q = req_by_op_id(c, m->op_id);
	int i = q && q->kind == REQ_READ ? replica_idx(q, from) : -1;
	if (i < 0 || (q->done_mask & (1u << i))) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	q->done_mask |= (uint8_t)(1u << i);
	q->heard_mask |= (uint8_t)(1u << i);
	rtt_sample(c, q, from);
	bool has = m->status == 0;
	/* Current for the session token: the replica's watermark is above
	 * it, or it holds a version of this key above it. */
	if (!q->token || m->closed_ts > q->token ||
	    (has && m->version.hlc > q->token)) {
		q->valid_mask |= (uint8_t)(1u << i);
		if (m->closed_ts > q->serve_wm)
			q->serve_wm = m->closed_ts;
	}
	int cmp = has ? qr_version_cmp(m->version, q->version) : -1;
	if (has && (!q->found || cmp > 0) && !q->answered) {
		/* New best: earlier holders hold less now. */
		q->found = true;
		q->version = m->version;
		q->tombstone = (m->flags & QR_MSGF_TOMBSTONE) != 0;
		q->value_len = m->value_len;
		memcpy(q->value, m->value, m->value_len);
		q->holds_mask = (uint8_t)(1u << i);
	} else if (has && cmp >= 0) {
		q->holds_mask |= (uint8_t)(1u << i);
	}
	if (!read_repair_pass(c, q))
		return;
	read_progress(c, q);
}

static void hint_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
			struct qr_version v);

static void coord_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
			 int status, struct qr_version v)
{
	if (op_id & HINT_OP_TAG) {
		if (status == 0)
			hint_on_ack(c, from, op_id, v);
		return;
	}
	struct req *q = req_by_op_id(c, op_id);
	if (q && q->hinted_any && from == c->cfg.node_id) {
		/* Level ANY: our hints for it are durable. */
		if (!q->answered)
			req_answer(c, q, 0);
		req_maybe_done(c, q);
		return;
	}
	int i = q ? replica_idx(q, from) : -1;
	if (i < 0 || status != 0) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	uint8_t bit = (uint8_t)(1u << i);
	if (q->kind == REQ_WRITE) {
		/* A replica acks the version it holds, at least ours; an
		 * older one is an ack for another write (a slot and
		 * generation reused across our restart). */
		if (qr_version_cmp(v, q->version) < 0) {
			drop(c, QR_DROP_STALE_REPLY);
			return;
		}
		if (q->done_mask & bit)
			return; /* duplicate ack */
		q->done_mask |= bit;
		rtt_sample(c, q, from);
		if (!q->answered && __builtin_popcount(q->done_mask) >= q->need)
			req_answer(c, q, 0);
		req_maybe_done(c, q);
		return;
	}
	/* A repair ack: the replica durably holds v >= our best. */
	if (!(q->repair_mask & bit))
		return;
	q->repair_mask &= (uint8_t)~bit;
	if (qr_version_cmp(v, q->version) >= 0)
		q->holds_mask |= bit;
	/* Acked an older best (a better one came meanwhile): repair again. */
	if (!read_repair_pass(c, q))
		return;
	read_progress(c, q);
}

static void coord_on_client(struct qr_core *c, uint64_t client, uint16_t shard,
			    const struct qr_msg *m)
{
	const struct qr_placement *pl = c->pl;
	uint32_t part = qr_placement_partition(pl, m->key, m->key_len);
	if (qr_placement_shard(pl, part) != c->cfg.shard) {
		drop(c, QR_DROP_WRONG_SHARD);
		reply_error_direct(c, client, m, shard, QR_EWRONG_SHARD);
		return;
	}
	bool is_read = m->op == QR_OP_GET;
	bool is_cas = qr_op_is_cas(m->op); /* linearizable: always a quorum */
	bool any = m->level == QR_LEVEL_ANY;
	uint8_t rf = (uint8_t)pl->rf;
	uint8_t need = is_cas ? quorum_of(rf)
			      : level_count(m->level, is_read ? m->r : m->w, rf);
	if (is_read && any)
		need = 0; /* ANY is for writes */
	/* A token read no replica is current for may become a quorum read. */
	if (is_read && m->min_version && (m->flags & QR_MSGF_STALE_QUORUM) &&
	    need && need < quorum_of(rf))
		need = quorum_of(rf);
	if (need == 0 || (m->op != QR_OP_PUT && m->op != QR_OP_PUT_IF_ABSENT &&
			  m->op != QR_OP_PUT_IF_VERSION && m->value_len)) {
		reply_error_direct(c, client, m, shard, QR_EINVAL);
		return;
	}
	struct dedup *retry = NULL; /* an UNAVAILABLE write asked again */
	if (!is_read && m->op != QR_OP_LIN_GET) {
		struct dedup *d = dedup_find(c, client, m->req_id);
		if (d && d->op_id == 0 && d->status == QR_EUNAVAILABLE)
			retry = d;
		else if (d) {
			c->stats.client_duplicates++;
			if (d->op_id == 0) {
				/* Done: the same answer again. */
				struct req tmp;
				memset(&tmp, 0, offsetof(struct req, key));
				tmp.kind = REQ_WRITE;
				tmp.client = client;
				tmp.req_id = m->req_id;
				tmp.version = d->version;
				send_client_reply(c, &tmp, d->status);
			}
			return;
		}
	}
	const uint8_t *replicas = qr_placement_replicas(pl, part);
	/* Fail fast, within the deadline: the CP answer. ANY writes leave
	 * hints when no replica is up. */
	if (!any && live_count(c, replicas, rf) < need) {
		reply_error_direct(c, client, m, shard, QR_EUNAVAILABLE);
		return;
	}
	struct req *q = req_alloc(c);
	if (!q) {
		reply_error_direct(c, client, m, shard, QR_EBUSY);
		return;
	}
	uint64_t now = now_us(c);
	c->stats.client_ops[m->op]++;
	q->kind = is_read ? REQ_READ : is_cas ? REQ_CAS : REQ_WRITE;
	q->op = m->op;
	q->need = need;
	q->rf = rf;
	memcpy(q->replicas, replicas, rf);
	q->partition = part;
	q->client = client;
	q->client_shard = shard;
	q->req_id = m->req_id;
	q->deadline_us = now + ae_gc_life_us(c, m->deadline_us
							? m->deadline_us
							: c->cfg.deadline_us_default);
	q->rto_us = rto_initial(c);
	q->sent_us = now;
	q->key_len = m->key_len;
	memcpy(q->key, m->key, m->key_len);
	if (is_cas) {
		cas_start(c, q, m, retry);
		return;
	}
	if (is_read) {
		/* Blocking repair for R >= quorum (monotonic quorum reads). */
		q->hold_need = need >= quorum_of(rf) ? quorum_of(rf) : 0;
		q->token = m->min_version;
		q->stale_mode = m->flags & (QR_MSGF_STALE_ERROR |
					    QR_MSGF_STALE_QUORUM);
	} else {
		q->any = any;
		q->tombstone = m->op == QR_OP_DELETE;
		q->value_len = m->value_len;
		memcpy(q->value, m->value, m->value_len);
		/* A session that has seen min_version must write above it, or
		 * last-writer-wins would hide its own write. But a client's
		 * token may only move our HLC a lease ahead of our wall clock:
		 * at max_offset peers would start refusing our frames (a
		 * client could cut a node off its peers). Further tokens are
		 * ignored and counted. */
		if (m->min_version) {
			uint64_t wall = qr_hlc_wall_ms(&c->hlc);
			if (QR_HLC_MS(m->min_version) <= wall + c->cfg.hlc_lease_ms)
				(void)qr_hlc_observe(&c->hlc, m->min_version,
						     NULL);
			else
				c->stats.tokens_ignored++;
		}
		/* A retry of a write answered UNAVAILABLE completes that same
		 * write: it re-drives the version stamped the first time
		 * (which may already be on some replicas), so one request is
		 * one version. It reuses the entry: a second entry for the
		 * same request would hide its answer from later duplicates. */
		if (retry) {
			q->version = retry->version;
		} else {
			q->version.hlc = qr_hlc_now(&c->hlc);
			q->version.node = c->cfg.node_id;
		}
		(retry ? retry : dedup_insert(c, client, m->req_id))->op_id =
			op_id_of(c, q);
	}
	req_arm(c, q);
	if (!is_read) {
		uint64_t ms = QR_HLC_MS(q->version.hlc);
		ceiling_renew(c, ms);
		if (ms >= c->ceiling_ms) {
			q->parked = true;
			c->parked++;
			return;
		}
		write_dispatch(c, q);
		return;
	}
	/* Remote replicas first; our own replica last, because answering it
	 * inline may finish (and free) the request. */
	int self = -1;
	for (int i = 0; i < rf; i++) {
		if (replicas[i] == c->cfg.node_id) {
			self = i;
			continue;
		}
		if (qr_detector_state(&c->det, replicas[i]) != QR_PEER_DOWN)
			send_read(c, q, i);
	}
	if (self >= 0)
		send_read(c, q, self);
}

static void send_heartbeats(struct qr_core *c);

/* Send a write's REPLICATE to every replica not DOWN: remote ones first,
 * our own last, because answering it inline may finish the request. */
static void any_hint(struct qr_core *c, struct req *q);

static void write_dispatch(struct qr_core *c, struct req *q)
{
	if (q->any && live_count(c, q->replicas, q->rf) == 0) {
		any_hint(c, q);
		return;
	}
	int self = -1;
	for (int i = 0; i < q->rf; i++) {
		if (q->replicas[i] == c->cfg.node_id) {
			self = i;
			continue;
		}
		if (qr_detector_state(&c->det, q->replicas[i]) != QR_PEER_DOWN)
			send_replicate(c, q, i);
	}
	if (self >= 0)
		send_replicate(c, q, self);
}

/* Below it, every write we stamped is durable at every replica. */
static uint64_t closed_floor(const struct qr_core *c)
{
	uint64_t f = UINT64_MAX;
	for (uint16_t n = 0; n < c->nodes; n++)
		f = QR_MIN(f, c->closed_out[n]);
	return f;
}

/* Log a new HLC ceiling when ms gets within half a lease of the highest one
 * logged. */
static void ceiling_renew(struct qr_core *c, uint64_t ms)
{
	uint64_t top = QR_MAX(c->ceiling_ms, c->ceiling_next_ms);
	if (ms + c->cfg.hlc_lease_ms / 2 < top || c->ceiling_next_lsn)
		return;
	static const uint8_t clock_key = 0;
	/* The closed floor rides along: after a crash, only our writes at
	 * or above it need handing off (docs/protocol.md). */
	uint64_t floor = closed_floor(c);
	uint8_t floor_le[8];
	for (int b = 0; b < 8; b++)
		floor_le[b] = (uint8_t)(floor >> (8 * b));
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = QR_WAL_CLOCK,
		.version = {QR_HLC_MAKE(ms + c->cfg.hlc_lease_ms, 0),
			    c->cfg.node_id},
		.key = &clock_key,
		.key_len = 1,
		.value = floor_le,
		.value_len = sizeof(floor_le),
	};
	if (c->env.wal_append(c->env.ctx, &rec) != 0) {
		drop(c, QR_DROP_WAL);
		return;
	}
	c->next_lsn++;
	c->stats.wal_appends++;
	c->ceiling_next_ms = ms + c->cfg.hlc_lease_ms;
	c->ceiling_next_lsn = rec.lsn;
}

/* The ceiling record at lsn is durable: release parked writes under it. */
static void ceiling_durable(struct qr_core *c)
{
	c->ceiling_ms = QR_MAX(c->ceiling_ms, c->ceiling_next_ms);
	c->ceiling_next_lsn = 0;
	for (uint32_t i = 0; i < c->cfg.requests_max && c->parked; i++) {
		struct req *q = &c->reqs[i];
		if ((q->kind != REQ_WRITE && q->kind != REQ_CAS) ||
		    !q->parked || QR_HLC_MS(req_stamp(q).hlc) >= c->ceiling_ms)
			continue;
		q->parked = false;
		c->parked--;
		q->sent_us = now_us(c);
		if (q->kind == REQ_CAS)
			cas_dispatch(c, q);
		else
			write_dispatch(c, q);
	}
	/* Parked writes the new ceiling does not cover need the next one. */
	if (c->parked)
		ceiling_renew(c, QR_HLC_MS(qr_hlc_now(&c->hlc)));
}

/* ---- closed timestamps and hinted handoff -------------------------------
 *
 * A session token (the highest version a client has seen) may be served by
 * one replica alone if that replica holds every write stamped at or below
 * it. Each node tells every other node, in its heartbeats, a closed
 * timestamp: every write it stamped below that value and sent to that
 * node is durable there (acknowledged). It is the minimum of its HLC and
 * the versions of its writes that node has not acknowledged: in flight,
 * parked, or kept as hints. A replica's watermark is the minimum of what
 * every node (itself included) last told it; a read whose token is below
 * the watermark of the replica answering it is current. Claims only grow:
 * an acknowledged write stays durable. A node that restarts forgets its
 * writes in flight, so until the ones it stamped in [floor, restart) are
 * handed off (below), its closed timestamps stay at the floor.
 */

static void watermark_update(struct qr_core *c)
{
	uint64_t wm = UINT64_MAX;
	c->stats.closed_in[c->cfg.node_id] = c->closed_out[c->cfg.node_id];
	for (uint16_t n = 0; n < c->nodes; n++)
		wm = QR_MIN(wm, c->stats.closed_in[n]);
	c->stats.watermark = wm;
}

/*
 * Once per heartbeat period: the closed timestamp for each node, and the
 * replication-lag view (like pg_stat_replication): per peer, writes sent
 * and not acknowledged, the oldest one's age, and the hints kept for it.
 * A scan of the busy request and hint slots (their bitmaps skip the free
 * ones), so the write path keeps no extra counters.
 */
static void closed_scan(struct qr_core *c)
{
	uint64_t now = now_us(c);
	uint64_t hlc = qr_hlc_now(&c->hlc);
	uint64_t ct[QR_NODES_MAX];
	uint64_t oldest[QR_NODES_MAX] = {0};
	for (uint16_t n = 0; n < c->nodes; n++)
		ct[n] = hlc;
	memset(c->stats.repl_unacked, 0, sizeof(c->stats.repl_unacked));
	for (uint32_t k = 0; k < c->cfg.requests_max; k++) {
		uint64_t word = c->req_busy[k / 64] >> (k % 64);
		if (!word) {
			k |= 63; /* nothing busy in the rest of this word */
			continue;
		}
		k += (uint32_t)__builtin_ctzll(word);
		const struct req *q = &c->reqs[k];
		if (q->kind == REQ_CAS && q->phase == CAS_ACCEPT) {
			/* An accept writes a state versioned by its ballot. */
			for (int i = 0; i < q->rf; i++)
				if (!(q->done_mask & (1u << i)))
					ct[q->replicas[i]] =
						QR_MIN(ct[q->replicas[i]],
						       q->ballot.hlc);
			continue;
		}
		if (q->kind != REQ_WRITE)
			continue;
		for (int i = 0; i < q->rf; i++) {
			uint16_t n = q->replicas[i];
			if (q->done_mask & (1u << i))
				continue;
			ct[n] = QR_MIN(ct[n], q->version.hlc);
			if (n == c->cfg.node_id || q->parked || !q->sent_us)
				continue;
			c->stats.repl_unacked[n]++;
			if (!oldest[n] || q->sent_us < oldest[n])
				oldest[n] = q->sent_us;
		}
	}
	for (uint32_t k = 0; k < c->cfg.hints_max; k++) {
		uint64_t word = c->hint_busy[k / 64] >> (k % 64);
		if (!word) {
			k |= 63;
			continue;
		}
		k += (uint32_t)__builtin_ctzll(word);
		const struct hint *h = &c->hints[k];
		ct[h->target] = QR_MIN(ct[h->target], h->version.hlc);
	}
	for (uint16_t n = 0; n < c->nodes; n++) {
		if (c->orphan_active)
			ct[n] = QR_MIN(ct[n], c->orphan_from);
		c->closed_out[n] = ct[n];
		c->stats.repl_oldest_us[n] = oldest[n] ? now - oldest[n] : 0;
	}
	watermark_update(c);
}

static void orphan_job_hint_done(struct qr_core *c, uint16_t asker);

static void hint_free(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	h->used = false;
	c->hint_busy[slot / 64] &= ~(1ull << (slot % 64));
	c->stats.hint_records[h->target]--;
	c->stats.hint_bytes[h->target] -= (uint64_t)h->key_len + h->value_len;
	c->free_hints[c->free_hint_count++] = slot;
	if (h->job && c->jobs[h->job - 1].gen == h->job_gen)
		orphan_job_hint_done(c, (uint16_t)(h->job - 1));
}

static void orphan_begin(struct qr_core *c, uint64_t from, uint64_t to);

/*
 * Keep a hint of write w for target. log: also write it to the WAL, so a
 * restart replays it. 0, or QR_EFULL (counted: the write is then handed
 * off by an orphan sync, and our closed timestamps wait for it).
 */
static int hint_add(struct qr_core *c, uint16_t target,
		    const struct qr_store_write *w, bool log, bool from_store,
		    uint16_t job, uint32_t job_gen)
{
	if (c->free_hint_count == 0) {
		c->stats.hints_lost++;
		return QR_EFULL;
	}
	uint32_t slot = c->free_hints[--c->free_hint_count];
	struct hint *h = &c->hints[slot];
	c->hint_busy[slot / 64] |= 1ull << (slot % 64);
	uint32_t gen = (h->gen + 1) & GEN_MASK;
	h->gen = gen ? gen : 1;
	h->used = true;
	h->tombstone = w->tombstone;
	h->target = target;
	h->job = job;
	h->job_gen = job_gen;
	h->partition = w->partition;
	h->version = w->version;
	h->sent_us = 0;
	h->created_us = now_us(c);
	h->from_store = from_store;
	h->key_len = w->key_len;
	h->value_len = w->value_len;
	memcpy(h->key, w->key, w->key_len);
	memcpy(h->value, w->value, w->value_len);
	c->stats.hints_created++;
	c->stats.hint_records[target]++;
	c->stats.hint_bytes[target] += (uint64_t)w->key_len + w->value_len;
	if (job)
		c->jobs[job - 1].outstanding++;
	if (!log)
		return 0;
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = QR_WAL_HINT,
		.partition = w->partition,
		.version = w->version,
		.key = w->key,
		.key_len = w->key_len,
		.value = w->value,
		.value_len = w->value_len,
		.aux = (uint16_t)(target |
				  (w->tombstone ? QR_WAL_AUX_TOMBSTONE : 0)),
	};
	/* Refused: the hint still lives in memory; only a restart would
	 * lose it, and a restart hands our writes off anyway. */
	if (c->env.wal_append(c->env.ctx, &rec) != 0) {
		drop(c, QR_DROP_WAL);
		return 0;
	}
	c->next_lsn++;
	c->stats.wal_appends++;
	return 0;
}

/* A write slot is being freed: every replica that did not acknowledge it
 * gets a hint (hints never count toward W). For a CASPaxos op in its
 * accept phase, the state being accepted (a replica installing it from a
 * hint marks it unsure, as any install below a promise: paxos.h). */
static void hint_missing(struct qr_core *c, const struct req *q)
{
	struct qr_store_write w = req_write_of(q);
	if (q->kind == REQ_CAS) {
		w.version = q->ballot;
		w.tombstone = q->acc_new ? q->tombstone : q->st_tomb;
		w.value = q->acc_new ? q->value : q->st_value;
		w.value_len = w.tombstone ? 0
			      : q->acc_new ? q->value_len
					   : q->st_value_len;
	}
	for (int i = 0; i < q->rf; i++) {
		if (q->done_mask & (1u << i))
			continue;
		if (hint_add(c, q->replicas[i], &w, true, false, 0, 0) != 0)
			orphan_begin(c, q->version.hlc, qr_hlc_now(&c->hlc));
	}
}

/* Level ANY with every replica DOWN: the write lives in our hints; it is
 * answered once they are durable in our WAL. */
static void any_hint(struct qr_core *c, struct req *q)
{
	struct qr_store_write w = req_write_of(q);
	uint64_t lsn0 = c->next_lsn;
	for (int i = 0; i < q->rf; i++) {
		if (hint_add(c, q->replicas[i], &w, true, false, 0, 0) != 0) {
			orphan_begin(c, q->version.hlc, qr_hlc_now(&c->hlc));
			return; /* not durable anywhere: the deadline answers */
		}
		q->done_mask |= (uint8_t)(1u << i);
	}
	if (c->next_lsn - lsn0 != q->rf)
		return; /* the WAL refused a hint: not durable, no OK */
	q->hinted_any = true;
	struct pending p = {
		.lsn = c->next_lsn - 1,
		.op_id = op_id_of(c, q),
		.dst = c->cfg.node_id,
		.type = QR_MSG_REPLICATE_ACK,
		.version = q->version,
	};
	if (p.lsn <= c->durable_lsn) {
		req_answer(c, q, 0);
		req_maybe_done(c, q);
		return;
	}
	pending_push(c, &p);
}

static void hint_send(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	uint64_t op_id = HINT_OP_TAG | (uint64_t)h->gen << 32 | slot;
	h->sent_us = QR_MAX(now_us(c), 1);
	if (h->target == c->cfg.node_id) {
		struct qr_store_write w = {
			.partition = h->partition,
			.version = h->version,
			.tombstone = h->tombstone,
			.key = h->key,
			.key_len = h->key_len,
			.value = h->value,
			.value_len = h->value_len,
		};
		/* Our own missed write: admitted like one from a peer. */
		if (h->from_store || ae_gc_admit(c, &w))
			replica_write(c, h->target, op_id, &w,
				      QR_MSG_REPLICATE_ACK);
		return;
	}
	/* A hand-off from a store is a repair: its copy was current when
	 * the hint was made, and hints live less than the tombstone grace
	 * (hints_replay), so no tombstone above it can have been collected
	 * meanwhile (docs/protocol.md). */
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = (uint8_t)((h->tombstone ? QR_MSGF_TOMBSTONE : 0) |
				   (h->from_store ? QR_MSGF_REPAIR : 0)),
		.op_id = op_id,
		.partition = h->partition,
		.version = h->version,
		.key = h->key,
		.key_len = h->key_len,
		.value = h->value,
		.value_len = h->value_len,
	};
	send_peer(c, h->target, &m);
}

static void hint_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
			struct qr_version v)
{
	uint32_t slot = (uint32_t)op_id;
	if (slot >= c->cfg.hints_max) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	struct hint *h = &c->hints[slot];
	if (!h->used || h->gen != ((op_id >> 32) & GEN_MASK) ||
	    h->target != from || qr_version_cmp(v, h->version) < 0) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	c->stats.hints_delivered++;
	hint_free(c, slot);
}

/*
 * A hint older than half the tombstone grace is given up: delivered later,
 * it could bring back a value whose delete was collected meanwhile (the
 * Cassandra rule: the hint window is shorter than the GC grace). What it
 * carried is then handed off afresh from the stores that hold it: an
 * orphan sync for a write hint, a rescan for a hand-off's.
 */
static void hint_expire(struct qr_core *c, uint32_t slot)
{
	struct hint *h = &c->hints[slot];
	c->stats.hints_lost++;
	if (h->job) {
		if (c->jobs[h->job - 1].gen == h->job_gen) {
			c->jobs[h->job - 1].scanned = false; /* no DONE yet */
			c->jobs[h->job - 1].next_p = 0;
		}
	} else {
		/* A write hint, or one of our own hand-off's: hand off afresh
		 * from the stores that hold it. A write held by none was
		 * never acknowledged, except at level ANY: that one is lost
		 * with its hints (ANY's documented risk: no replica came back
		 * within the hint window). */
		orphan_begin(c, h->version.hlc, qr_hlc_now(&c->hlc));
	}
	hint_free(c, slot);
}

/* Once per heartbeat period: (re)send hints to targets that are not DOWN,
 * a bounded number per pass, each at most once per rto_us_max. */
static void hints_replay(struct qr_core *c)
{
	uint64_t now = now_us(c);
	uint64_t life_us = c->cfg.tombstone_grace_ms * 1000 / 2;
	unsigned sent = 0;
	uint32_t words = (c->cfg.hints_max + 63) / 64;
	for (uint32_t n = 0; n < words; n++) {
		uint32_t wi = (c->hint_cursor + n) % words;
		uint64_t word = c->hint_busy[wi]; /* a copy: slots may free */
		while (word) {
			uint32_t slot = wi * 64 + (uint32_t)__builtin_ctzll(word);
			word &= word - 1;
			struct hint *h = &c->hints[slot];
			if (life_us && now - h->created_us > life_us) {
				hint_expire(c, slot);
				continue;
			}
			if (h->sent_us && now - h->sent_us < c->cfg.rto_us_max)
				continue;
			if (now - h->created_us < c->cfg.hint_delay_us)
				continue;
			if (h->target != c->cfg.node_id &&
			    qr_detector_state(&c->det, h->target) ==
				    QR_PEER_DOWN)
				continue;
			hint_send(c, slot);
			if (++sent >= HINT_SENDS_PER_TICK) {
				c->hint_cursor = (wi + 1) % words;
				return;
			}
		}
	}
}

/* ---- orphan hand-off -----------------------------------------------------
 *
 * After a restart (or a hint it could not keep) a node no longer knows
 * which of its writes stamped in [from, to) every replica has. Until it
 * does, its closed timestamps stay at `from`. It asks every other node
 * (ORPHAN_REQ) to hint the replicas of each such write it holds, hints
 * the ones in its own store itself, and is done once every node answered
 * ORPHAN_DONE (all their hints acknowledged). A node that stays DOWN holds
 * it: its copy might be the only one.
 */
static void orphan_begin(struct qr_core *c, uint64_t from, uint64_t to)
{
	if (c->orphan_active) {
		from = QR_MIN(from, c->orphan_from);
		to = QR_MAX(to, c->orphan_to);
	}
	c->orphan_active = true;
	c->orphan_scanned = false;
	c->orphan_next_p = 0;
	c->orphan_from = from;
	c->orphan_to = to;
	c->orphan_done_mask = 1ull << c->cfg.node_id;
	c->stats.orphan_syncs++;
	c->stats.orphan_active = 1;
	for (uint16_t n = 0; n < c->nodes; n++)
		c->closed_out[n] = QR_MIN(c->closed_out[n], from);
}

struct orphan_scan {
	struct qr_core *c;
	uint16_t stamper;
	uint16_t job;
	uint32_t job_gen;
	uint64_t from, to;
	const uint8_t *replicas;
	uint8_t rf;
};

static int orphan_scan_entry(void *arg, const struct qr_store_view *v)
{
	struct orphan_scan *o = arg;
	struct qr_core *c = o->c;
	if (v->version.node != o->stamper || v->version.hlc < o->from ||
	    v->version.hlc >= o->to)
		return 0;
	struct qr_store_write w = {
		.partition = v->partition,
		.version = v->version,
		.tombstone = v->tombstone,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->value_len,
	};
	for (int i = 0; i < o->rf; i++)
		if (o->replicas[i] != c->cfg.node_id &&
		    hint_add(c, o->replicas[i], &w, false, true, o->job,
			     o->job_gen) != 0)
			return 1;
	return 0;
}

/*
 * Hint the replicas of every entry stamped by `stamper` in [from, to) on
 * our partitions, a partition at a time from *next_p: 0 when done, else
 * non-zero (call again: it resumes there). A partition starts only with
 * half the hint slots free, so the scan moves on as hints drain instead of
 * filling the slots with the same first entries again; one whose hints
 * overflow anyway is scanned again from its start.
 */
static int orphan_scan(struct qr_core *c, uint16_t stamper, uint64_t from,
		       uint64_t to, uint16_t job, uint32_t job_gen,
		       uint32_t *next_p)
{
	const struct qr_placement *pl = c->pl;
	struct orphan_scan o = {c, stamper, job, job_gen, from, to, NULL, 0};
	for (; *next_p < pl->partitions; (*next_p)++) {
		uint32_t p = *next_p;
		if (qr_placement_shard(pl, p) != c->cfg.shard ||
		    qr_placement_replica_index(pl, p, c->cfg.node_id) < 0)
			continue;
		if (c->free_hint_count < c->cfg.hints_max / 2)
			return 1;
		o.replicas = qr_placement_replicas(pl, p);
		o.rf = (uint8_t)pl->rf;
		if (qr_store_for_each_in_partition(c->store, p,
						   orphan_scan_entry, &o))
			return 1;
	}
	return 0;
}

/* Once per heartbeat period while our own hand-off runs. */
static void orphan_step(struct qr_core *c)
{
	if (!c->orphan_active)
		return;
	if (!c->orphan_scanned)
		c->orphan_scanned =
			orphan_scan(c, c->cfg.node_id, c->orphan_from,
				    c->orphan_to, 0, 0, &c->orphan_next_p) == 0;
	uint64_t all = c->nodes == 64 ? UINT64_MAX : (1ull << c->nodes) - 1;
	if (c->orphan_scanned && c->orphan_done_mask == all) {
		c->orphan_active = false;
		c->stats.orphan_active = 0;
		return;
	}
	struct qr_msg m = {
		.type = QR_MSG_ORPHAN_REQ,
		.range_from = c->orphan_from,
		.range_to = c->orphan_to,
		.restart_hlc = c->restart_hlc,
	};
	for (uint16_t n = 0; n < c->nodes; n++)
		if (!(c->orphan_done_mask & (1ull << n)) &&
		    qr_detector_state(&c->det, n) != QR_PEER_DOWN)
			send_peer(c, n, &m);
}

static void orphan_send_done(struct qr_core *c, uint16_t asker)
{
	struct qr_msg m = {
		.type = QR_MSG_ORPHAN_DONE,
		.range_from = 0,
		.range_to = c->jobs[asker].to,
	};
	send_peer(c, asker, &m);
}

static void orphan_job_hint_done(struct qr_core *c, uint16_t asker)
{
	struct orphan_job *j = &c->jobs[asker];
	if (--j->outstanding == 0 && j->scanned)
		orphan_send_done(c, asker);
}

static void orphan_on_req(struct qr_core *c, uint16_t from,
			  const struct qr_msg *m)
{
	struct orphan_job *j = &c->jobs[from];
	/* From now on a write `from` stamped before its restart is no longer
	 * taken from `from` itself (replica_on_replicate): this hand-off is
	 * how such writes travel now, as repairs from the stores. */
	c->peer_restart[from] = QR_MAX(c->peer_restart[from], m->restart_hlc);
	if (j->to != m->range_to) {
		j->to = m->range_to;
		j->gen = (j->gen + 1) & GEN_MASK;
		j->outstanding = 0;
		j->next_p = 0;
		j->scanned = false;
	}
	if (!j->scanned)
		j->scanned = orphan_scan(c, from, m->range_from, m->range_to,
					 (uint16_t)(from + 1), j->gen,
					 &j->next_p) == 0;
	if (j->scanned && j->outstanding == 0)
		orphan_send_done(c, from);
}

static void orphan_on_done(struct qr_core *c, uint16_t from,
			   const struct qr_msg *m)
{
	if (c->orphan_active && m->range_to == c->orphan_to)
		c->orphan_done_mask |= 1ull << from;
}

/* ---- anti-entropy -------------------------------------------------------
 *
 * Replicas compare partitions by digest, so they converge for keys nobody
 * reads (Dynamo's Merkle exchange, flattened: one digest per partition;
 * partitions are small, so a mismatch simply pushes the partition). Every
 * ae_interval_us a node takes the next partition it replicates on this
 * shard and sends its DIGEST to the other replicas. A replica whose digest
 * differs pushes all its entries of that partition back as REPLICATE
 * NOACK (apply keeps the higher version, so pushing is always safe) and,
 * unless the DIGEST was itself a reply, answers with its own DIGEST so the
 * first side pushes what it has too. qr_core_ae_request() (`quorate
 * repair`) and a peer coming back (DOWN -> not DOWN) run the same steps
 * over every partition at once, AE_BURST_PER_TICK a tick.
 *
 * Tombstone collection rides on the exchange (docs/protocol.md has the
 * rule and why; core/gc.h the bookkeeping). A DIGEST is flagged DURABLE
 * when every entry of the partition is durable at the sender; an equal
 * DURABLE digest from a replica is a match record. After sending its
 * digests for a partition a node removes the tombstones that are older
 * than tombstone_grace_ms on the HLC, durable here, and covered by an
 * aged match record of every other replica. The digest a node sends is
 * "virtual": its entries plus the tombstones it collected (the delta), so
 * replicas that collect at different moments do not push them back.
 * Writes (not pushes) older than the grace for a key we do not hold are
 * refused: they could be older than a tombstone we collected.
 */
#define AE_BURST_PER_TICK 8 /* on-demand partitions per tick */
#define AE_GC_BATCH 64	    /* tombstones collected per partition step */

struct ae_digest {
	uint64_t digest;
	uint32_t entries;
	bool durable;	      /* every entry's lsn <= durable_lsn */
	uint64_t durable_lsn; /* in: the core's */
};

/* An entry's share of the digest: order-free (xor), key and version and
 * the tombstone bit. */
static uint64_t ae_entry_hash(const uint8_t *key, uint8_t key_len,
			      struct qr_version v, bool tombstone)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint8_t i = 0; i < key_len; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	h ^= v.hlc * 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)v.node << 48 | (uint64_t)tombstone << 47;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h;
}

static int ae_digest_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_digest *d = arg;
	d->digest ^= ae_entry_hash(v->key, v->key_len, v->version,
				   v->tombstone);
	d->entries++;
	if (v->lsn > d->durable_lsn)
		d->durable = false;
	return 0;
}

static struct ae_digest ae_partition_digest(struct qr_core *c, uint32_t p)
{
	struct ae_digest d = {0, 0, true, c->durable_lsn};
	qr_store_for_each_in_partition(c->store, p, ae_digest_entry, &d);
	return d;
}

/* What we hold plus the tombstones we collected (core/gc.h). */
static struct ae_digest ae_virtual(struct qr_core *c, uint32_t p,
				   struct ae_digest d)
{
	uint32_t n;
	d.digest ^= qr_gc_delta(&c->gc, p, &n);
	d.entries += n;
	return d;
}

static void ae_send_digest(struct qr_core *c, uint16_t to, uint32_t p,
			   struct ae_digest d, bool reply)
{
	struct qr_msg m = {
		.type = QR_MSG_DIGEST,
		.flags = (uint8_t)((reply ? QR_MSGF_REPLY : 0) |
				   (d.durable ? QR_MSGF_DURABLE : 0)),
		.partition = p,
		.entries = d.entries,
		.digest = d.digest,
	};
	c->stats.ae_digests_sent++;
	send_peer(c, to, &m);
}

struct ae_push {
	struct qr_core *c;
	uint16_t to;
};

static int ae_push_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_push *a = arg;
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = QR_MSGF_NOACK | (v->tombstone ? QR_MSGF_TOMBSTONE : 0),
		.partition = v->partition,
		.version = v->version,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->value_len,
	};
	a->c->stats.ae_entries_pushed++;
	send_peer(a->c, a->to, &m);
	return 0;
}

/* HLC milliseconds now, without issuing a timestamp. */
static uint64_t ae_hlc_ms(struct qr_core *c)
{
	return QR_MAX(QR_HLC_MS(c->hlc.last), qr_hlc_wall_ms(&c->hlc));
}

/* Is v older than the tombstone grace (so a tombstone above it may have
 * been collected)? Never with GC off. */
static bool ae_gc_expired(struct qr_core *c, struct qr_version v)
{
	uint64_t g = c->cfg.tombstone_grace_ms;
	return g && QR_HLC_MS(v.hlc) + g < ae_hlc_ms(c);
}

/* A client write (not a read repair, not a push) older than the grace for
 * a key we do not hold is refused: a tombstone above it may have been
 * collected here, and applying it would resurrect the value the delete
 * hid. Only a write stuck longer than the grace (or re-driven by a late
 * retry) gets here; it is answered UNAVAILABLE. Pushes and read repairs
 * are how a replica gets old data it missed: a stale one is excluded by
 * the match records' age (hold >= grace > a request's life). */
static bool ae_gc_admit(struct qr_core *c, const struct qr_store_write *w)
{
	struct qr_store_view v;
	if (!ae_gc_expired(c, w->version) ||
	    qr_store_get(c->store, w->key, w->key_len, &v) == 0)
		return true;
	drop(c, QR_DROP_EXPIRED);
	return false;
}

/* A request's deadline: at most half the grace, so that a read's repairs
 * and a write's retransmissions end well before a tombstone above them
 * can be collected (the match records age a whole grace). */
static uint64_t ae_gc_life_us(const struct qr_core *c, uint64_t deadline_us)
{
	uint64_t g = c->cfg.tombstone_grace_ms;
	return g ? QR_MIN(deadline_us, g * 1000 / 2) : deadline_us;
}

/* replica_write stored a key we did not hold. */
static void ae_gc_inserted(struct qr_core *c, const struct qr_store_write *w)
{
	if (w->tombstone && c->cfg.tombstone_grace_ms)
		qr_gc_inserted(&c->gc, w->partition,
			       ae_entry_hash(w->key, w->key_len, w->version,
					     true));
}

struct ae_collect {
	struct qr_core *c;
	uint64_t safe_lsn; /* held by every replica up to this lsn */
	uint32_t n;
};

static int ae_collect_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_collect *a = arg;
	struct qr_core *c = a->c;
	if (!v->tombstone || v->lsn > c->durable_lsn ||
	    !ae_gc_expired(c, v->version))
		return 0;
	/* GC_EARLY: without waiting for every replica to hold it. */
	if (v->lsn > a->safe_lsn && !QR_BUG(GC_EARLY))
		return 0;
	memcpy(c->ae_keys[a->n], v->key, v->key_len);
	c->ae_key_lens[a->n] = v->key_len;
	return ++a->n == AE_GC_BATCH; /* the rest at the next step */
}

/* Collect the tombstones of p that every replica holds (see above). */
static void ae_gc_collect(struct qr_core *c, uint32_t p)
{
	const struct qr_placement *pl = c->pl;
	if (!c->cfg.tombstone_grace_ms)
		return;
	int self = qr_placement_replica_index(pl, p, c->cfg.node_id);
	struct ae_collect a = {
		.c = c,
		.safe_lsn = qr_gc_safe_lsn(&c->gc, p, self, now_us(c)),
	};
	if (!a.safe_lsn && !QR_BUG(GC_EARLY))
		return;
	qr_store_for_each_in_partition(c->store, p, ae_collect_entry, &a);
	for (uint32_t i = 0; i < a.n; i++) {
		struct qr_store_view v;
		int rc = qr_store_get(c->store, c->ae_keys[i],
				      c->ae_key_lens[i], &v);
		QR_ASSERT(rc == 0 && v.tombstone);
		qr_gc_collected(&c->gc, p,
				ae_entry_hash(v.key, v.key_len, v.version,
					      true));
		rc = qr_store_remove(c->store, c->ae_keys[i],
				     c->ae_key_lens[i]);
		QR_ASSERT(rc == 0);
		c->stats.tombstones_collected++;
	}
}

static void ae_step(struct qr_core *c)
{
	const struct qr_placement *pl = c->pl;
	if (QR_BUG(SKIP_ANTI_ENTROPY))
		return;
	for (uint32_t tries = 0; tries < pl->partitions; tries++) {
		uint32_t p = c->ae_next;
		c->ae_next = (c->ae_next + 1) & (pl->partitions - 1);
		if (qr_placement_shard(pl, p) != c->cfg.shard ||
		    qr_placement_replica_index(pl, p, c->cfg.node_id) < 0)
			continue;
		struct ae_digest d = ae_virtual(c, p,
						ae_partition_digest(c, p));
		const uint8_t *reps = qr_placement_replicas(pl, p);
		for (int i = 0; i < pl->rf; i++)
			if (reps[i] != c->cfg.node_id &&
			    qr_detector_state(&c->det, reps[i]) != QR_PEER_DOWN)
				ae_send_digest(c, reps[i], p, d, false);
		/* After the digests (which still hold them): replicas that
		 * have not collected yet record us as holding them. */
		ae_gc_collect(c, p);
		return;
	}
}

void qr_core_ae_request(struct qr_core *c)
{
	c->ae_burst = c->gc.mine;
	c->stats.ae_passes++;
}

/* Each tick: a peer back from DOWN gets a pass (it missed writes), and an
 * on-demand pass goes on a few partitions at a time. */
static void ae_tick(struct qr_core *c)
{
	uint64_t down = 0;
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != c->cfg.node_id &&
		    qr_detector_state(&c->det, n) == QR_PEER_DOWN)
			down |= 1ull << n;
	if (c->ae_down & ~down)
		qr_core_ae_request(c);
	c->ae_down = down;
	for (int i = 0; i < AE_BURST_PER_TICK && c->ae_burst; i++) {
		c->ae_burst--;
		ae_step(c);
	}
}

static void ae_on_digest(struct qr_core *c, uint16_t from,
			 const struct qr_msg *m)
{
	const struct qr_placement *pl = c->pl;
	uint32_t p = m->partition;
	if (p >= pl->partitions) {
		drop(c, QR_DROP_WIRE);
		return;
	}
	if (qr_placement_shard(pl, p) != c->cfg.shard) {
		drop(c, QR_DROP_WRONG_SHARD);
		return;
	}
	int idx = qr_placement_replica_index(pl, p, from);
	if (qr_placement_replica_index(pl, p, c->cfg.node_id) < 0 || idx < 0) {
		drop(c, QR_DROP_NOT_REPLICA);
		return;
	}
	struct ae_digest d = ae_partition_digest(c, p);
	struct ae_digest v = ae_virtual(c, p, d);
	bool real = d.digest == m->digest && d.entries == m->entries;
	if (real || (v.digest == m->digest && v.entries == m->entries)) {
		/* It holds what we hold (and, for a virtual match, the
		 * tombstones we collected, or it collected them too). */
		if (m->flags & QR_MSGF_DURABLE)
			qr_gc_matched(&c->gc, p, idx, c->next_lsn - 1,
				      now_us(c));
		if (real && (v.digest != d.digest || v.entries != d.entries))
			qr_gc_forget(&c->gc, p); /* it lacks our delta */
		return;
	}
	c->stats.ae_mismatches++;
	struct ae_push a = {c, from};
	qr_store_for_each_in_partition(c->store, p, ae_push_entry, &a);
	if (!(m->flags & QR_MSGF_REPLY))
		ae_send_digest(c, from, p, v, true);
}

/* Timer of a request: deadline, linger, or retransmission. */
static void req_timer_fired(void *arg, struct qr_timer *t)
{
	struct qr_core *c = arg;
	if (t == &c->ae_timer) {
		ae_step(c);
		qr_timer_arm(&c->wheel, &c->ae_timer,
			     now_us(c) + c->cfg.ae_interval_us);
		return;
	}
	if (t == &c->hb_timer) {
		closed_scan(c);
		send_heartbeats(c);
		hints_replay(c);
		orphan_step(c);
		qr_timer_arm(&c->wheel, &c->hb_timer,
			     now_us(c) + c->cfg.heartbeat_us);
		return;
	}
	struct req *q = (struct req *)((char *)t - offsetof(struct req, timer));
	uint64_t now = now_us(c);
	if (!q->answered && now >= q->deadline_us) {
		/* Not enough replicas in time. A write may be applied on
		 * fewer than W replicas (docs/protocol.md); the replicas it
		 * missed get hints. A read answered, but by no replica
		 * current for its token, is STALE. */
		int st = QR_EUNAVAILABLE;
		if (q->kind == REQ_READ && !q->valid_mask &&
		    __builtin_popcount(q->heard_mask) >= q->need) {
			st = QR_ESTALE;
			c->stats.stale_answers++;
		}
		req_answer(c, q, st);
		req_free(c, q);
		return;
	}
	if (q->answered && (now >= q->linger_us || req_maybe_done(c, q))) {
		if (q->kind != REQ_FREE)
			req_free(c, q);
		return;
	}
	if (q->kind == REQ_CAS) {
		cas_timer(c, q);
		return;
	}
	uint64_t op_id = op_id_of(c, q);
	q->rto_us = QR_MIN(q->rto_us * 2, c->cfg.rto_us_max);
	req_arm(c, q);
	if (q->parked) {
		/* Nothing sent yet: the ceiling releases it. If logging the
		 * ceiling failed (WAL busy), ask again. */
		ceiling_renew(c, QR_HLC_MS(q->version.hlc));
		return;
	}
	q->retransmitted = true;
	if (q->kind == REQ_READ && !q->answered && !q->valid_mask &&
	    q->done_mask) {
		/* Every answer so far is behind the token: ask again. */
		q->done_mask = 0;
		c->stats.token_waits++;
	}
	int self = -1;
	for (int i = 0; i < q->rf; i++) {
		uint8_t bit = (uint8_t)(1u << i);
		uint16_t node = q->replicas[i];
		if (node != c->cfg.node_id &&
		    qr_detector_state(&c->det, node) == QR_PEER_DOWN)
			continue;
		bool want = q->kind == REQ_WRITE
				    ? !(q->done_mask & bit)
				    : !(q->done_mask & bit) ||
					      (q->repair_mask & bit);
		if (!want)
			continue;
		if (node == c->cfg.node_id) {
			self = i;
			continue;
		}
		c->stats.retransmits++;
		if (q->kind == REQ_WRITE || (q->repair_mask & bit))
			send_replicate(c, q, i);
		else
			send_read(c, q, i);
	}
	/* Our own replica only misses an answer if its pending queue was
	 * full; ask again, last, as it may finish the request. */
	if (self >= 0 && req_by_op_id(c, op_id) == q) {
		uint8_t bit = (uint8_t)(1u << self);
		c->stats.retransmits++;
		if (q->kind == REQ_WRITE || (q->repair_mask & bit))
			send_replicate(c, q, self);
		else
			send_read(c, q, self);
	}
}

/* ---- events ------------------------------------------------------------ */

static void send_heartbeats(struct qr_core *c)
{
	struct qr_msg m = {
		.type = QR_MSG_HEARTBEAT,
		.incarnation = c->cfg.incarnation,
	};
	for (uint16_t n = 0; n < c->nodes; n++) {
		if (n == c->cfg.node_id)
			continue;
		m.closed_ts = c->closed_out[n];
		send_peer(c, n, &m);
	}
}

void qr_core_tick(struct qr_core *c)
{
	uint64_t now = now_us(c);
	qr_detector_tick(&c->det, now);
	qr_timer_expire(&c->wheel, now, req_timer_fired, c);
	ae_tick(c);
	if (c->cfg.ae_interval_us && !qr_timer_armed(&c->ae_timer))
		qr_timer_arm(&c->wheel, &c->ae_timer,
			     now + c->cfg.ae_interval_us);
	if (!qr_timer_armed(&c->hb_timer)) {
		send_heartbeats(c);
		qr_timer_arm(&c->wheel, &c->hb_timer,
			     now + c->cfg.heartbeat_us);
	}
}

static void on_peer_msg(struct qr_core *c, uint16_t from,
			const struct qr_msg *m)
{
	switch (m->type) {
	case QR_MSG_REPLICATE:
		replica_on_replicate(c, from, m);
		break;
	case QR_MSG_REPLICATE_ACK:
		coord_on_ack(c, from, m->op_id, m->status, m->version);
		break;
	case QR_MSG_READ:
		replica_on_read(c, from, m);
		break;
	case QR_MSG_READ_REPLY:
		coord_on_read_reply(c, from, m);
		break;
	case QR_MSG_HEARTBEAT:
		/* Hearing from the peer was the point, and its closed
		 * timestamp for us (claims only grow: what it says stays
		 * true, even across its restarts). */
		if (m->closed_ts > c->stats.closed_in[from]) {
			c->stats.closed_in[from] = m->closed_ts;
			watermark_update(c);
		}
		break;
	case QR_MSG_ORPHAN_REQ:
		orphan_on_req(c, from, m);
		break;
	case QR_MSG_ORPHAN_DONE:
		orphan_on_done(c, from, m);
		break;
	case QR_MSG_DIGEST:
		ae_on_digest(c, from, m);
		break;
	case QR_MSG_PREPARE:
		acceptor_on_prepare(c, from, m);
		break;
	case QR_MSG_PROMISE:
		cas_on_promise(c, from, m);
		break;
	case QR_MSG_ACCEPT:
		acceptor_on_accept(c, from, m);
		break;
	case QR_MSG_ACCEPTED:
		cas_on_accepted(c, from, m);
		break;
	default:
		drop(c, QR_DROP_UNEXPECTED);
		break;
	}
}

void qr_core_on_frame(struct qr_core *c, uint64_t client, const void *frame,
		      size_t len)
{
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	c->stats.frames_in++;
	if (qr_wire_frame_open(&r, frame, len, c->cfg.cluster_id, &h) != 0) {
		drop(c, QR_DROP_WIRE);
		return;
	}
	bool from_client = h.src_node == QR_NODE_CLIENT;
	if (!from_client) {
		if (h.src_node >= c->nodes || h.src_node == c->cfg.node_id ||
		    h.dst_node != c->cfg.node_id) {
			drop(c, QR_DROP_BAD_NODE);
			return;
		}
		if (h.shard != c->cfg.shard) {
			drop(c, QR_DROP_WRONG_SHARD);
			return;
		}
		/* Receive event (HLC paper); a clock beyond max_offset is
		 * refused whole, before anything in the frame is used. */
		if (qr_hlc_observe(&c->hlc, h.hlc, NULL) != 0) {
			drop(c, QR_DROP_CLOCK);
			return;
		}
		qr_detector_heard(&c->det, h.src_node, now_us(c));
	}
	struct qr_msg m;
	int rc;
	while ((rc = qr_wire_next(&r, &m)) > 0) {
		c->stats.msgs_in++;
		if (from_client) {
			if (m.type == QR_MSG_CLIENT_REQ)
				coord_on_client(c, client, h.shard, &m);
			else
				drop(c, QR_DROP_UNEXPECTED);
		} else {
			on_peer_msg(c, h.src_node, &m);
		}
	}
	if (rc < 0)
		drop(c, QR_DROP_WIRE);
}

static void recover_lsn(struct qr_core *c, uint64_t lsn)
{
	if (lsn >= c->next_lsn)
		c->next_lsn = lsn + 1;
	if (lsn > c->durable_lsn)
		c->durable_lsn = lsn;
}

int qr_core_recover(struct qr_core *c, const struct qr_wal_record *rec)
{
	if (rec->type == QR_WAL_CLOCK) {
		/* Every version stamped before the crash is below this. */
		c->ceiling_ms =
			QR_MAX(c->ceiling_ms, QR_HLC_MS(rec->version.hlc));
		if (rec->value_len == 8) {
			const uint8_t *b = rec->value;
			uint64_t f = 0;
			for (int i = 7; i >= 0; i--)
				f = f << 8 | b[i];
			c->floor_recovered = QR_MAX(c->floor_recovered, f);
		}
		qr_hlc_raise(&c->hlc, rec->version.hlc);
		/* Every ballot promised before the crash is below it (the
		 * ceiling was durable before the PROMISE went out): a floor
		 * for promises whose records a snapshot dropped. */
		qr_paxos_raise_floor(&c->paxos, rec->version);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type == QR_WAL_PROMISE) {
		qr_paxos_recover(&c->paxos, rec->key, rec->key_len,
				 rec->version);
		qr_hlc_raise(&c->hlc, rec->version.hlc);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type == QR_WAL_HINT) {
		uint16_t target = rec->aux & ~QR_WAL_AUX_TOMBSTONE;
		struct qr_store_write w = {
			.partition = rec->partition,
			.version = rec->version,
			.tombstone = (rec->aux & QR_WAL_AUX_TOMBSTONE) != 0,
			.key = rec->key,
			.key_len = rec->key_len,
			.value = rec->value,
			.value_len = rec->value_len,
		};
		/* Replayed even if delivered before the crash (harmless). If
		 * the slots are full, the restart's hand-off covers it. */
		if (target < c->nodes && rec->key_len &&
		    rec->partition < c->pl->partitions)
			(void)hint_add(c, target, &w, false, false, 0, 0);
		recover_lsn(c, rec->lsn);
		return 0;
	}
	if (rec->type != QR_WAL_PUT && rec->type != QR_WAL_TOMBSTONE) {
		recover_lsn(c, rec->lsn);
		return 0;
	}
	struct qr_store_write w = {
		.partition = rec->partition,
		.version = rec->version,
		.tombstone = rec->type == QR_WAL_TOMBSTONE,
		.key = rec->key,
		.key_len = rec->key_len,
		.value = rec->value,
		.value_len = rec->value_len,
		.lsn = rec->lsn,
	};
	int rc = qr_store_apply(c->store, &w, NULL);
	if (rc < 0)
		return rc;
	recover_lsn(c, rec->lsn);
	qr_hlc_raise(&c->hlc, rec->version.hlc);
	return 0;
}

void qr_core_recovered(struct qr_core *c, uint64_t last_lsn)
{
	recover_lsn(c, last_lsn);
	for (uint16_t n = 0; n < c->nodes; n++)
		c->closed_out[n] = c->floor_recovered;
	/* A node with a past may have writes in flight it forgot: hand off
	 * the ones stamped since the floor (every one is below our HLC,
	 * which recovery raised to the durable ceiling). */
	if (last_lsn) {
		c->restart_hlc = qr_hlc_now(&c->hlc);
		orphan_begin(c, c->floor_recovered, c->restart_hlc);
	}
	/* Which recovered entries went below a promise is not known: none
	 * of them backs a read without an accept (paxos.h). */
	qr_paxos_taint_all(&c->paxos,
			   (struct qr_version){c->hlc.last, UINT16_MAX});
}

/* ---- lifecycle --------------------------------------------------------- */

int qr_core_create(const struct qr_core_config *cfg, const struct qr_env *env,
		   struct qr_core **out)
{
	const struct qr_placement *pl = cfg->placement;
	if (!pl || cfg->node_id >= pl->nodes || cfg->shard >= pl->shards ||
	    cfg->requests_max == 0 || cfg->pending_max == 0 ||
	    cfg->timer_tick_us == 0 || cfg->rto_us_min == 0 ||
	    cfg->rto_us_max < cfg->rto_us_min || cfg->hlc_lease_ms < 2 ||
	    cfg->hlc_lease_ms * 2 >= (cfg->max_offset_ms
					      ? cfg->max_offset_ms
					      : QR_HLC_MAX_OFFSET_MS_DEFAULT) ||
	    !env->now_us || !env->wall_ms || !env->send || !env->wal_append ||
	    (cfg->tombstone_grace_ms &&
	     cfg->tombstone_grace_ms * 1000 <=
		     cfg->deadline_us_default + cfg->rto_us_max))
		return QR_EINVAL;
	struct qr_core *c = calloc(1, sizeof(*c));
	if (!c)
		return QR_ENOMEM;
	c->cfg = *cfg;
	c->env = *env;
	c->pl = pl;
	c->nodes = pl->nodes;
	c->next_lsn = 1;
	struct qr_hlc_source src = {
		.wall_ms = hlc_wall_ms,
		.pause = hlc_pause,
		.ctx = c,
	};
	qr_hlc_init(&c->hlc, &src, cfg->max_offset_ms);
	uint64_t now = env->now_us(env->ctx);
	qr_detector_init(&c->det, pl->nodes, cfg->node_id,
			 cfg->suspect_after_us, cfg->down_after_us, now);
	c->reqs = calloc(cfg->requests_max, sizeof(*c->reqs));
	c->free_reqs = calloc(cfg->requests_max, sizeof(*c->free_reqs));
	c->pend = calloc(cfg->pending_max, sizeof(*c->pend));
	c->out = calloc(pl->nodes, sizeof(*c->out));
	uint32_t sets = 16;
	while (sets * DEDUP_WAYS < 4 * cfg->requests_max)
		sets <<= 1;
	c->dedup = calloc((size_t)sets * DEDUP_WAYS, sizeof(*c->dedup));
	c->dedup_sets_mask = sets - 1;
	if (!c->cfg.hints_max)
		c->cfg.hints_max = 4096;
	c->hints = calloc(c->cfg.hints_max, sizeof(*c->hints));
	c->free_hints = calloc(c->cfg.hints_max, sizeof(*c->free_hints));
	c->jobs = calloc(pl->nodes, sizeof(*c->jobs));
	c->peer_restart = calloc(pl->nodes, sizeof(*c->peer_restart));
	c->req_busy = calloc((cfg->requests_max + 63) / 64, sizeof(uint64_t));
	c->hint_busy = calloc((c->cfg.hints_max + 63) / 64, sizeof(uint64_t));
	int rc = QR_ENOMEM;
	if (!c->reqs || !c->free_reqs || !c->pend || !c->out || !c->dedup ||
	    !c->hints || !c->free_hints || !c->jobs || !c->req_busy ||
	    !c->hint_busy || !c->peer_restart ||
	    qr_paxos_table_init(&c->paxos, cfg->keys_max) != 0)
		goto fail;
	for (uint32_t i = 0; i < c->cfg.hints_max; i++)
		c->free_hints[i] = c->cfg.hints_max - 1 - i;
	c->free_hint_count = c->cfg.hints_max;
	rc = qr_timer_wheel_init(&c->wheel, TIMER_SLOTS, cfg->timer_tick_us,
				 now);
	if (rc)
		goto fail;
	for (uint32_t i = 0; i < cfg->requests_max; i++) {
		c->free_reqs[i] = cfg->requests_max - 1 - i;
		/* Generations start anywhere, so replies meant for the slots
		 * of an earlier incarnation rarely name a live request. */
		if (env->random)
			c->reqs[i].gen = (uint32_t)env->random(env->ctx) &
					 GEN_MASK;
	}
	c->free_count = cfg->requests_max;
	for (uint16_t n = 0; n < pl->nodes; n++)
		if (n != cfg->node_id)
			peer_frame_begin(c, n);
	char name[64];
	static unsigned store_seq;
	snprintf(name, sizeof(name), "qs%u_%u_%u", cfg->node_id, cfg->shard,
		 store_seq++);
	struct qr_store_config sc = {
		.name = name,
		.entries_max = cfg->keys_max,
		.partitions = pl->partitions,
		.arena = cfg->arena,
		.socket_id = -1,
	};
	rc = qr_store_create(&sc, &c->store);
	if (rc)
		goto fail;
	/* Tombstone GC: match records must outlive a stale push in flight;
	 * the grace (several times any request's life) bounds that. */
	rc = qr_gc_init(&c->gc, pl, cfg->node_id, cfg->shard,
			cfg->tombstone_grace_ms * 1000);
	if (rc)
		goto fail;
	c->ae_keys = calloc(AE_GC_BATCH, sizeof(*c->ae_keys));
	c->ae_key_lens = calloc(AE_GC_BATCH, sizeof(*c->ae_key_lens));
	rc = QR_ENOMEM;
	if (!c->ae_keys || !c->ae_key_lens)
		goto fail;
	*out = c;
	return 0;
fail:
	qr_core_destroy(c);
	return rc;
}

void qr_core_destroy(struct qr_core *c)
{
	if (!c)
		return;
	if (c->store)
		qr_store_destroy(c->store);
	qr_timer_wheel_fini(&c->wheel);
	free(c->reqs);
	free(c->free_reqs);
	free(c->pend);
	free(c->out);
	free(c->dedup);
	free(c->hints);
	free(c->free_hints);
	free(c->jobs);
	free(c->peer_restart);
	free(c->req_busy);
	free(c->hint_busy);
	qr_gc_fini(&c->gc);
	free(c->ae_keys);
	free(c->ae_key_lens);
	qr_paxos_table_fini(&c->paxos);
	free(c);
}

const struct qr_core_stats *qr_core_stats(const struct qr_core *c)
{
	return &c->stats;
}

struct qr_store *qr_core_store(struct qr_core *c)
{
	return c->store;
}

const struct qr_hlc *qr_core_hlc(const struct qr_core *c)
{
	return &c->hlc;
}

const struct qr_detector *qr_core_detector(const struct qr_core *c)
{
	return &c->det;
}

uint64_t qr_core_last_lsn(const struct qr_core *c)
{
	return c->next_lsn - 1;
}

uint64_t qr_core_durable_lsn(const struct qr_core *c)
{
	return c->durable_lsn;
}

uint32_t qr_core_requests_active(const struct qr_core *c)
{
	return c->cfg.requests_max - c->free_count;
}

uint32_t qr_core_hints_pending(const struct qr_core *c)
{
	return c->cfg.hints_max - c->free_hint_count;
}
