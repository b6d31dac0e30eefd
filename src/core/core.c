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
#include "core/paxos.h"
#include "core/timer.h"
#include "quorate/err.h"

#define TIMER_SLOTS 1024
#define AE_NO_ACK UINT64_MAX /* op_id of an anti-entropy push */
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
	uint32_t ae_next;          /* next partition to look at */
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
	cfg->heartbeat_us = 50000;
	cfg->suspect_after_us = 150000;
	cfg->down_after_us = 500000;
	cfg->timer_tick_us = 100;
	cfg->ae_interval_us = 10000;
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
	uint32_t gen = q->gen + 1;
	memset(q, 0, offsetof(struct req, key));
	q->gen = gen ? gen : 1;
	return q;
}

static void req_free(struct qr_core *c, struct req *q)
{
	qr_timer_cancel(&c->wheel, &q->timer);
	if (q->parked) {
		q->parked = false;
		c->parked--;
	}
	q->kind = REQ_FREE;
	c->free_reqs[c->free_count++] = (uint32_t)(q - c->reqs);
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
static void ceiling_durable(struct qr_core *c);
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
	if (qr_store_get(c->store, w->key, w->key_len, &cur) == 0)
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

static void send_replicate(struct qr_core *c, struct req *q, int i)
{
	struct qr_store_write w = {
		.partition = q->partition,
		.version = q->version,
		.tombstone = q->tombstone,
		.key = q->key,
		.key_len = q->key_len,
		.value = q->value,
		.value_len = q->value_len,
	};
	uint16_t node = q->replicas[i];
	if (node == c->cfg.node_id) {
		replica_write(c, node, op_id_of(c, q), &w,
			      QR_MSG_REPLICATE_ACK);
		return;
	}
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = q->tombstone ? QR_MSGF_TOMBSTONE : 0,
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
	rtt_sample(c, q, from);
	bool has = m->status == 0;
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

static void coord_on_ack(struct qr_core *c, uint16_t from, uint64_t op_id,
			 int status, struct qr_version v)
{
	struct req *q = req_by_op_id(c, op_id);
	int i = q ? replica_idx(q, from) : -1;
	if (i < 0 || status != 0) {
		drop(c, QR_DROP_STALE_REPLY);
		return;
	}
	uint8_t bit = (uint8_t)(1u << i);
	if (q->kind == REQ_WRITE) {
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
	uint8_t rf = (uint8_t)pl->rf;
	uint8_t need = is_cas ? quorum_of(rf)
			      : level_count(m->level, is_read ? m->r : m->w, rf);
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
	/* Fail fast, within the deadline: the CP answer. */
	if (live_count(c, replicas, rf) < need) {
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
	q->deadline_us = now + (m->deadline_us ? m->deadline_us
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
	} else {
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
static void write_dispatch(struct qr_core *c, struct req *q)
{
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

/* Log a new HLC ceiling when ms gets within half a lease of the highest one
 * logged. */
static void ceiling_renew(struct qr_core *c, uint64_t ms)
{
	uint64_t top = QR_MAX(c->ceiling_ms, c->ceiling_next_ms);
	if (ms + c->cfg.hlc_lease_ms / 2 < top || c->ceiling_next_lsn)
		return;
	static const uint8_t clock_key = 0;
	struct qr_wal_record rec = {
		.lsn = c->next_lsn,
		.type = QR_WAL_CLOCK,
		.version = {QR_HLC_MAKE(ms + c->cfg.hlc_lease_ms, 0),
			    c->cfg.node_id},
		.key = &clock_key,
		.key_len = 1,
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

/*
 * The replication-lag view (like pg_stat_replication): per peer, the writes
 * sent to it and not acknowledged, and the oldest one's age. A scan of the
 * request table once per heartbeat period (4096 slots: microseconds), so
 * the write path keeps no extra counters.
 */
static void replication_backlog(struct qr_core *c)
{
	uint64_t now = now_us(c);
	uint64_t oldest[QR_NODES_MAX] = {0};
	memset(c->stats.repl_unacked, 0, sizeof(c->stats.repl_unacked));
	for (uint32_t k = 0; k < c->cfg.requests_max; k++) {
		const struct req *q = &c->reqs[k];
		if (q->kind != REQ_WRITE || q->parked || !q->sent_us)
			continue;
		for (int i = 0; i < q->rf; i++) {
			uint16_t n = q->replicas[i];
			if (n == c->cfg.node_id || (q->done_mask & (1u << i)))
				continue;
			c->stats.repl_unacked[n]++;
			if (!oldest[n] || q->sent_us < oldest[n])
				oldest[n] = q->sent_us;
		}
	}
	for (uint16_t n = 0; n < c->nodes; n++)
		c->stats.repl_oldest_us[n] = oldest[n] ? now - oldest[n] : 0;
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
 * first side pushes what it has too. Tombstones are exchanged like values
 * and never collected here (collection needs every replica to hold them).
 */
struct ae_digest {
	uint64_t digest;
	uint32_t entries;
};

static int ae_digest_entry(void *arg, const struct qr_store_view *v)
{
	struct ae_digest *d = arg;
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint8_t i = 0; i < v->key_len; i++)
		h = (h ^ v->key[i]) * 0x100000001b3ull;
	h ^= v->version.hlc * 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)v->version.node << 48 | (uint64_t)v->tombstone << 47;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	d->digest ^= h; /* order-free: entries come in any order */
	d->entries++;
	return 0;
}

static struct ae_digest ae_partition_digest(struct qr_core *c, uint32_t p)
{
	struct ae_digest d = {0, 0};
	qr_store_for_each_in_partition(c->store, p, ae_digest_entry, &d);
	return d;
}

static void ae_send_digest(struct qr_core *c, uint16_t to, uint32_t p,
			   struct ae_digest d, bool reply)
{
	struct qr_msg m = {
		.type = QR_MSG_DIGEST,
		.flags = reply ? QR_MSGF_REPLY : 0,
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
		struct ae_digest d = ae_partition_digest(c, p);
		const uint8_t *reps = qr_placement_replicas(pl, p);
		for (int i = 0; i < pl->rf; i++)
			if (reps[i] != c->cfg.node_id &&
			    qr_detector_state(&c->det, reps[i]) != QR_PEER_DOWN)
				ae_send_digest(c, reps[i], p, d, false);
		return;
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
	if (qr_placement_replica_index(pl, p, c->cfg.node_id) < 0 ||
	    qr_placement_replica_index(pl, p, from) < 0) {
		drop(c, QR_DROP_NOT_REPLICA);
		return;
	}
	struct ae_digest d = ae_partition_digest(c, p);
	if (d.digest == m->digest && d.entries == m->entries)
		return;
	c->stats.ae_mismatches++;
	struct ae_push a = {c, from};
	qr_store_for_each_in_partition(c->store, p, ae_push_entry, &a);
	if (!(m->flags & QR_MSGF_REPLY))
		ae_send_digest(c, from, p, d, true);
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
		send_heartbeats(c);
		replication_backlog(c);
		qr_timer_arm(&c->wheel, &c->hb_timer,
			     now_us(c) + c->cfg.heartbeat_us);
		return;
	}
	struct req *q = (struct req *)((char *)t - offsetof(struct req, timer));
	uint64_t now = now_us(c);
	if (!q->answered && now >= q->deadline_us) {
		/* Not enough replicas in time. A write may be applied on
		 * fewer than W replicas (docs/protocol.md). */
		req_answer(c, q, QR_EUNAVAILABLE);
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
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != c->cfg.node_id)
			send_peer(c, n, &m);
}

void qr_core_tick(struct qr_core *c)
{
	uint64_t now = now_us(c);
	qr_detector_tick(&c->det, now);
	qr_timer_expire(&c->wheel, now, req_timer_fired, c);
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
		break; /* hearing from the peer was the point */
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
	if (rec->type != QR_WAL_PUT && rec->type != QR_WAL_TOMBSTONE) {
		recover_lsn(c, rec->lsn);
		return 0; /* hints: not ours to apply */
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
	    !env->now_us || !env->wall_ms || !env->send || !env->wal_append)
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
	int rc = QR_ENOMEM;
	if (!c->reqs || !c->free_reqs || !c->pend || !c->out || !c->dedup ||
	    qr_paxos_table_init(&c->paxos, cfg->keys_max) != 0)
		goto fail;
	rc = qr_timer_wheel_init(&c->wheel, TIMER_SLOTS, cfg->timer_tick_us,
				 now);
	if (rc)
		goto fail;
	for (uint32_t i = 0; i < cfg->requests_max; i++)
		c->free_reqs[i] = cfg->requests_max - 1 - i;
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
