/* SPDX-License-Identifier: MIT */
/*
 * The protocol core's entry points: create and destroy, the events the
 * driver feeds in (frames, WAL durability, ticks) and their dispatch to the
 * files that own each concern. DESIGN.md section 3; docs/protocol.md has
 * the rules with their reasons; docs/architecture.md maps every rule to its
 * file, function and test.
 *
 * Files of the core (all share core_pvt.h):
 *   core.c          this file: lifecycle, event entry, message and timer
 *                   dispatch
 *   out.c           frames to peers and clients
 *   reqtab.c        request slots, generations, dedupe, RTT/RTO, deadlines
 *   intake.c        a client request: checks, dedupe, a slot, then start
 *   write.c         stamp, park, dispatch, count acks, retransmit
 *   read.c          fan-out, token checks, STALE, blocking and background
 *                   read repair
 *   replica.c       log then apply; acks and reads released when durable
 *   ceiling.c       HLC lease records (unique versions across crashes)
 *   closed_ts.c     closed timestamps, watermarks, heartbeats, lag view
 *   hints.c         hinted handoff, level ANY
 *   orphan.c        hand-off of our writes after a restart
 *   anti_entropy.c  digests, pushes, tombstone collection
 *   recover.c       WAL replay at start
 *   cas.c           CASPaxos proposer; cas_acceptor.c its acceptor
 *   auth.c          MAC and replay window of peer frames (first check)
 *   auth_client.c   client frames' MAC, roles and key prefixes
 *
 * Invariants (cited as C<n>):
 *  C1. Sans-IO and deterministic: the same events in the same order give
 *      the same effects (the simulator's trace hash pins it).
 *  C2. No allocation after qr_core_create() (the store's value arena
 *      aside); every table is sized from the configuration there.
 *  C3. A frame from a peer is checked whole (MAC and replay window, then
 *      cluster, source, destination, shard, clock) before any of its
 *      messages is used.
 *  C4. Bounded everything: requests_max slots, pending_max WAL-waiting
 *      replies, hints_max hints, one frame of QR_FRAME_JUMBO_MAX per peer
 *      (peer_frame_bytes of it used).
 */
#include "core/core_pvt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMER_SLOTS 1024

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

/* The HLC runs on the guarded wall clock (clock_guard.c, G1). */
static uint64_t hlc_wall_ms(void *ctx)
{
	return qc_clock_wall(ctx);
}

static void hlc_pause(void *ctx)
{
	struct qr_core *c = ctx;
	if (c->env.pause)
		c->env.pause(c->env.ctx);
	qc_clock_moved(c); /* G4: read the clocks again */
}

/* A timer fired: anti-entropy's step, the heartbeat period's work, or a
 * request's (reqtab.c). */
static void req_timer_fired(void *arg, struct qr_timer *t)
{
	struct qr_core *c = arg;
	if (t == &c->ae_timer) {
		qc_ae_step(c);
		qr_timer_arm(&c->wheel, &c->ae_timer,
			     qc_now_us(c) + c->cfg.ae_interval_us);
		return;
	}
	if (t == &c->hb_timer) {
		qc_clock_tick(c);
		qc_closed_scan(c);
		qc_send_heartbeats(c);
		qc_hints_replay(c);
		qc_orphan_step(c);
		qc_topo_stream_step(c);
		qr_timer_arm(&c->wheel, &c->hb_timer,
			     qc_now_us(c) + c->cfg.heartbeat_us);
		qc_loop_drain(c);
		return;
	}
	qc_req_timer(c,
		     (struct req *)((char *)t - offsetof(struct req, timer)));
	qc_loop_drain(c); /* what it sent ourselves (loop.c) */
}

void qr_core_tick(struct qr_core *c)
{
	qc_clock_hold(c); /* G4 */
	uint64_t now = qc_now_us(c);
	qr_detector_tick(&c->det, now);
	qr_timer_expire(&c->wheel, now, req_timer_fired, c);
	qc_ae_tick(c);
	if (c->reasm.st.open)
		qc_long_expire(c); /* reasm.h A4 */
	if (c->cfg.ae_interval_us && !qr_timer_armed(&c->ae_timer))
		qr_timer_arm(&c->wheel, &c->ae_timer,
			     now + c->cfg.ae_interval_us);
	if (!qr_timer_armed(&c->hb_timer)) {
		qc_send_heartbeats(c);
		qr_timer_arm(&c->wheel, &c->hb_timer,
			     now + c->cfg.heartbeat_us);
	}
	qc_loop_drain(c);
	qc_clock_release(c);
}

uint64_t qr_core_next_due_us(const struct qr_core *c, uint64_t limit_us)
{
	if (c->ae_burst || c->reasm.st.open)
		return 0; /* qc_ae_tick, qc_long_expire: every tick */
	return qr_timer_next_due(&c->wheel, limit_us);
}

/* A message from a peer, or from ourselves through the loopback queue. */
void qc_dispatch_peer_msg(struct qr_core *c, uint16_t from,
			  const struct qr_msg *m)
{
	switch (m->type) {
	case QR_MSG_REPLICATE:
		qc_replica_on_replicate(c, from, m);
		break;
	case QR_MSG_REPLICATE_ACK:
		qc_coord_on_ack(c, from, m->op_id, m->status, m->version);
		break;
	case QR_MSG_READ:
		if (c->rebuilding) /* recover.c RB1 */
			qc_drop(c, QR_DROP_REBUILDING);
		else
			qc_replica_on_read(c, from, m);
		break;
	case QR_MSG_READ_REPLY:
		qc_coord_on_read_reply(c, from, m);
		break;
	case QR_MSG_HEARTBEAT:
		qr_detector_writes(&c->det, from,
				   (m->flags & QR_MSGF_NO_WRITES) != 0);
		qc_closed_on_heartbeat(c, from, m);
		break;
	case QR_MSG_ORPHAN_REQ:
		qc_orphan_on_req(c, from, m);
		break;
	case QR_MSG_ORPHAN_DONE:
		qc_orphan_on_done(c, from, m);
		break;
	case QR_MSG_DIGEST:
		qc_ae_on_digest(c, from, m);
		break;
	case QR_MSG_PREPARE:
		if (c->rebuilding)
			qc_drop(c, QR_DROP_REBUILDING);
		else
			qc_acceptor_on_prepare(c, from, m);
		break;
	case QR_MSG_PROMISE:
		qc_cas_on_promise(c, from, m);
		break;
	case QR_MSG_ACCEPT:
		if (c->rebuilding)
			qc_drop(c, QR_DROP_REBUILDING);
		else
			qc_acceptor_on_accept(c, from, m);
		break;
	case QR_MSG_ACCEPTED:
		qc_cas_on_accepted(c, from, m);
		break;
	case QR_MSG_TOPO_NEWS:
		qc_topo_on_news(c, m);
		break;
	default:
		qc_drop(c, QR_DROP_UNEXPECTED);
		break;
	}
}

/* Start loading what handling m will read first (a hint only: it changes
 * nothing). Stage 0: the store's index slot of its key (replica side; its
 * ticket goes to *ticket), its request slot (answers to a coordinator),
 * its dedupe set (a client's write). Stage 1, once stage 0 had time to
 * arrive and before the store changed: the store entry the slot points
 * to, as long as the entry m will make it. */
void qc_prefetch_msg(struct qr_core *c, uint64_t client, bool from_client,
		     const struct qr_msg *m, int stage, const void **ticket)
{
	if (stage == 0)
		*ticket = NULL;
	if (from_client) {
		if (m->type == QR_MSG_CLIENT_REQ && m->op != QR_OP_GET &&
		    stage == 0)
			qc_dedup_prefetch(c, client, m->req_id);
		return;
	}
	switch (m->type) {
	case QR_MSG_REPLICATE:
	case QR_MSG_READ:
	case QR_MSG_PREPARE:
	case QR_MSG_ACCEPT:
		if (stage == 0)
			*ticket = qr_store_prefetch(c->store, m->key,
						    m->key_len);
		else if (*ticket)
			qr_store_prefetch_entry(*ticket, m->key_len,
						m->value_len);
		break;
	case QR_MSG_REPLICATE_ACK:
	case QR_MSG_READ_REPLY:
	case QR_MSG_PROMISE:
	case QR_MSG_ACCEPTED:
		if (stage == 0 && (uint32_t)m->op_id < c->cfg.requests_max)
			__builtin_prefetch(&c->reqs[(uint32_t)m->op_id]);
		break;
	default:
		break;
	}
}

/* A1, CA1: a frame is authenticated before anything else is read from
 * it: a peer's by auth.c, a client's by auth_client.c (*who: its key, or
 * NULL when client frames are not checked). False: dropped, counted. */
static bool frame_authentic(struct qr_core *c, const uint8_t *b, size_t *len,
			    const struct qr_client_key **who)
{
	*who = NULL;
	if (*len < QR_FRAME_HDR_BYTES || b[0] != 'Q' || b[1] != 'R')
		return true; /* the decoder names what is wrong */
	bool from_client = (b[8] | b[9] << 8) == QR_NODE_CLIENT;
	/* Longer than any sender builds (out.c O5, the MAC trailer
	 * included): refused before the MAC costs anything. */
	if (*len > (from_client ? QR_FRAME_BYTES_MAX : qc_peer_frame(c))) {
		qc_drop(c, QR_DROP_WIRE);
		return false;
	}
	int why = -1;
	if (!from_client && c->auth)
		why = qc_auth_open(c, b, len);
	else if (from_client && c->client_auth)
		why = qc_auth_client_open(c, b, len, who);
	if (why >= 0)
		qc_drop(c, (enum qr_core_drop)why);
	return why < 0;
}



/* One request of a client: CA2 (role and prefix), then the coordinator. */
void qc_on_client_msg(struct qr_core *c, uint64_t client, uint16_t shard,
		      const struct qr_client_key *who, const struct qr_msg *m)
{
	if (m->type != QR_MSG_CLIENT_REQ)
		qc_drop(c, QR_DROP_UNEXPECTED);
	else if (!qc_auth_client_allows(who, m))
		qc_reply_error_direct(c, client, m, shard, QR_EUNAUTHORIZED);
	else
		qc_coord_on_client(c, client, shard, m);
}

/*
 * The messages of an open frame, RX_BATCH at a time: decode a batch (which
 * only reads the frame), start loading what each will need (index slots,
 * then the entries they point to: qc_prefetch_msg), then handle them. A
 * frame of REPLICATEs so waits for about one store miss per batch instead
 * of two per message. A malformed message is still counted only after
 * every message before it was handled, and handlers see the same messages
 * in the same order.
 */
#define RX_BATCH 16

static void frame_msgs(struct qr_core *c, struct qr_frame_reader *r,
		       uint64_t client, const struct qr_frame_hdr *h,
		       const struct qr_client_key *who)
{
	bool from_client = h->src_node == QR_NODE_CLIENT;
	struct qr_msg m[RX_BATCH];
	const void *ticket[RX_BATCH];
	int rc;
	do {
		unsigned n = 0;
		while (n < RX_BATCH && (rc = qr_wire_next(r, &m[n])) > 0)
			n++;
		for (int stage = 0; stage < 2 && n > 1; stage++)
			for (unsigned i = 0; i < n; i++)
				qc_prefetch_msg(c, client, from_client, &m[i],
						stage, &ticket[i]);
		for (unsigned i = 0; i < n; i++) {
			c->stats.msgs_in++;
			if (m[i].type == QR_MSG_FRAG)
				qc_long_on_frag(c, h->src_node, client,
						h->shard, who, &m[i]);
			else if (m[i].type == QR_MSG_FRAG_NACK && !from_client)
				qc_long_on_nack(c, h->src_node, &m[i]);
			else if (from_client)
				qc_on_client_msg(c, client, h->shard, who,
						 &m[i]);
			else
				qc_dispatch_peer_msg(c, h->src_node, &m[i]);
			qc_loop_drain(c); /* what it sent ourselves (loop.c) */
		}
	} while (rc > 0);
	if (rc < 0)
		qc_drop(c, QR_DROP_WIRE);
}

/* A fenced frame (T6) is used for nothing but the TOPO_NEWS it holds
 * (T7): how a node too far behind to take its peers' frames learns the
 * topology that would let it. */
static void fenced_news(struct qr_core *c, struct qr_frame_reader *r)
{
	struct qr_msg m;
	int rc;
	while ((rc = qr_wire_next(r, &m)) > 0)
		if (m.type == QR_MSG_TOPO_NEWS)
			qc_topo_on_news(c, &m);
	if (rc < 0)
		qc_drop(c, QR_DROP_WIRE);
}

static void on_frame(struct qr_core *c, uint64_t client, const void *frame,
		     size_t len)
{
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	const struct qr_client_key *who;
	c->stats.frames_in++;
	if (!frame_authentic(c, frame, &len, &who))
		return;
	int orc = qr_wire_frame_open_peer(&r, frame, len, c->cfg.cluster_id,
					  qc_peer_frame(c), &h);
	if (orc != 0) {
		qc_drop(c, orc == QR_EWIRE_CLUSTER ? QR_DROP_CLUSTER
						   : QR_DROP_WIRE);
		return;
	}
	if (c->env.authentic) /* authentic and well formed (env.h) */
		c->env.authentic(c->env.ctx, client);
	bool from_client = h.src_node == QR_NODE_CLIENT;
	if (!from_client) {
		if (h.src_node >= c->nodes || h.src_node == c->cfg.node_id ||
		    h.dst_node != c->cfg.node_id) {
			qc_drop(c, QR_DROP_BAD_NODE);
			return;
		}
		if (h.shard != c->cfg.shard) {
			qc_drop(c, QR_DROP_WRONG_SHARD);
			return;
		}
		c->rx_epoch = h.epoch;
		if (qr_unlikely(h.epoch != (uint16_t)c->epoch))
			qc_topo_news_offer(c, h.src_node, h.epoch); /* T7 */
		if (qc_topo_frame_fenced(c, h.epoch)) { /* T6 */
			fenced_news(c, &r);
			qc_drop(c, QR_DROP_EPOCH);
			return;
		}
		/* Receive event (HLC paper); a clock beyond max_offset is
		 * refused whole, before anything in the frame is used. It
		 * is still a sample of the sender's clock (G3). */
		qc_clock_sample(c, h.src_node, h.hlc);
		if (qr_hlc_observe(&c->hlc, h.hlc, NULL) != 0) {
			qc_drop(c, QR_DROP_CLOCK);
			return;
		}
		qr_detector_heard(&c->det, h.src_node, qc_now_us(c));
	}
	frame_msgs(c, &r, client, &h, who);
}

void qr_core_on_frame(struct qr_core *c, uint64_t client, const void *frame,
		      size_t len)
{
	qc_clock_hold(c); /* G4: the clocks are read once per frame */
	on_frame(c, client, frame, len);
	qc_clock_release(c);
}

/* The configuration a core can run with (docs/operations.md has each
 * setting's meaning). */
static bool config_valid(const struct qr_core_config *cfg,
			 const struct qr_env *env)
{
	const struct qr_placement *pl = cfg->placement;
	uint64_t max_offset_ms = cfg->max_offset_ms
					 ? cfg->max_offset_ms
					 : QR_HLC_MAX_OFFSET_MS_DEFAULT;
	uint16_t slots = cfg->node_slots ? cfg->node_slots : pl ? pl->nodes : 0;
	return pl && slots >= pl->nodes && slots <= QR_NODES_MAX &&
	       cfg->node_id < slots && cfg->shard < pl->shards &&
	       cfg->requests_max != 0 && cfg->pending_max != 0 &&
	       cfg->timer_tick_us != 0 && cfg->rto_us_min != 0 &&
	       cfg->rto_us_max >= cfg->rto_us_min && cfg->hlc_lease_ms >= 2 &&
	       cfg->hlc_lease_ms * 2 < max_offset_ms && env->now_us &&
	       env->wall_ms && env->send && env->wal_append &&
	       cfg->value_bytes_max <= QR_VALUE_BYTES_MAX &&
	       (!cfg->peer_frame_bytes ||
		(cfg->peer_frame_bytes >= QR_FRAME_BYTES_MAX &&
		 cfg->peer_frame_bytes <= QR_FRAME_JUMBO_MAX)) &&
	       (!cfg->value_bytes_max ||
		cfg->value_bytes_max > QR_VALUE_INLINE_MAX) &&
	       (!cfg->tombstone_grace_ms ||
		cfg->tombstone_grace_ms * 1000 >
			cfg->deadline_us_default + cfg->rto_us_max);
}

/* Every table of the core, sized from the configuration (C2). 0 or
 * QR_ENOMEM (the caller destroys what was allocated). */
static int tables_alloc(struct qr_core *c)
{
	const struct qr_core_config *cfg = &c->cfg;
	uint16_t nodes = c->nodes;
	c->stream_matched = calloc(c->pl->partitions, sizeof(*c->stream_matched));
	c->reqs = calloc(cfg->requests_max, sizeof(*c->reqs));
	c->free_reqs = calloc(cfg->requests_max, sizeof(*c->free_reqs));
	c->pend = calloc(cfg->pending_max, sizeof(*c->pend));
	c->out = calloc(nodes, sizeof(*c->out));
	c->loop = calloc(LOOP_SLOTS, sizeof(*c->loop));
	if (!c->cfg.hints_max)
		c->cfg.hints_max = 4096;
	c->hints = calloc(c->cfg.hints_max, sizeof(*c->hints));
	c->free_hints = calloc(c->cfg.hints_max, sizeof(*c->free_hints));
	c->jobs = calloc(nodes, sizeof(*c->jobs));
	c->peer_restart = calloc(nodes, sizeof(*c->peer_restart));
	c->req_busy = calloc((cfg->requests_max + 63) / 64, sizeof(uint64_t));
	c->hint_busy = calloc((c->cfg.hints_max + 63) / 64, sizeof(uint64_t));
	if (!c->stream_matched || !c->reqs || !c->free_reqs || !c->pend || !c->out || !c->loop ||
	    qc_dedup_alloc(c, 4 * cfg->requests_max) != 0 || !c->hints ||
	    !c->free_hints || !c->jobs ||
	    !c->req_busy || !c->hint_busy || !c->peer_restart ||
	    qr_paxos_table_init(&c->paxos, cfg->keys_max) != 0)
		return QR_ENOMEM;
	return qc_long_init(c);
}

/* Free lists full, generations random, a frame begun for every peer. */
static void tables_init(struct qr_core *c)
{
	const struct qr_core_config *cfg = &c->cfg;
	for (uint32_t i = 0; i < cfg->hints_max; i++)
		c->free_hints[i] = cfg->hints_max - 1 - i;
	c->free_hint_count = cfg->hints_max;
	for (uint32_t i = 0; i < cfg->requests_max; i++) {
		c->free_reqs[i] = cfg->requests_max - 1 - i;
		/* Generations start anywhere, so replies meant for the slots
		 * of an earlier incarnation rarely name a live request. */
		if (c->env.random)
			c->reqs[i].gen =
				(uint32_t)c->env.random(c->env.ctx) & GEN_MASK;
	}
	c->free_count = cfg->requests_max;
	for (uint16_t n = 0; n < c->nodes; n++)
		if (n != cfg->node_id)
			qc_peer_frame_begin(c, n);
}

/* The store and the tombstone GC's records. 0 or the error. */
static int store_init(struct qr_core *c)
{
	const struct qr_core_config *cfg = &c->cfg;
	char name[64];
	static unsigned store_seq;
	snprintf(name, sizeof(name), "qs%u_%u_%u", cfg->node_id, cfg->shard,
		 store_seq++);
	struct qr_store_config sc = {
		.name = name,
		.entries_max = cfg->keys_max,
		.partitions = c->pl->partitions,
		.arena = cfg->arena,
		.socket_id = -1,
	};
	int rc = qr_store_create(&sc, &c->store);
	if (rc)
		return rc;
	/* Tombstone GC: match records must outlive a stale push in flight;
	 * the grace (several times any request's life) bounds that. */
	rc = qr_gc_init(&c->gc, c->pl, cfg->node_id, cfg->shard,
			cfg->tombstone_grace_ms * 1000);
	if (rc)
		return rc;
	c->ae_keys = calloc(AE_GC_BATCH, sizeof(*c->ae_keys));
	c->ae_key_lens = calloc(AE_GC_BATCH, sizeof(*c->ae_key_lens));
	return c->ae_keys && c->ae_key_lens ? 0 : QR_ENOMEM;
}

int qr_core_create(const struct qr_core_config *cfg, const struct qr_env *env,
		   struct qr_core **out)
{
	if (!config_valid(cfg, env))
		return QR_EINVAL;
	const struct qr_placement *pl = cfg->placement;
	struct qr_core *c = calloc(1, sizeof(*c));
	if (!c)
		return QR_ENOMEM;
	c->cfg = *cfg;
	c->env = *env;
	c->pl = pl;
	c->nodes = cfg->node_slots ? cfg->node_slots : pl->nodes;
	c->members = pl->members;
	c->next_lsn = 1;
	for (int k = 0; k < QR_LAT_COUNT; k++)
		qr_hist_init(&c->lat[k]);
	struct qr_hlc_source src = {
		.wall_ms = hlc_wall_ms,
		.pause = hlc_pause,
		.ctx = c,
	};
	qr_hlc_init(&c->hlc, &src, cfg->max_offset_ms);
	uint64_t now = env->now_us(env->ctx);
	qr_detector_init(&c->det, c->nodes, cfg->node_id,
			 cfg->suspect_after_us, cfg->down_after_us, now);
	int rc = tables_alloc(c);
	if (rc)
		goto fail;
	rc = qr_timer_wheel_init(&c->wheel, TIMER_SLOTS, cfg->timer_tick_us,
				 now);
	if (rc)
		goto fail;
	tables_init(c);
	c->stats.clock_serving = 1; /* until the guard says otherwise */
	rc = qc_auth_init(c);
	if (!rc)
		rc = qc_auth_clients_init(c);
	if (rc)
		goto fail;
	rc = store_init(c);
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
	qc_auth_fini(c);
	qc_auth_clients_fini(c);
	free(c->reqs);
	free(c->free_reqs);
	free(c->pend);
	free(c->out);
	free(c->loop);
	qc_dedup_free(c);
	free(c->hints);
	free(c->free_hints);
	free(c->jobs);
	free(c->peer_restart);
	free(c->stream_matched);
	free(c->req_busy);
	free(c->hint_busy);
	qr_gc_fini(&c->gc);
	free(c->ae_keys);
	free(c->ae_key_lens);
	qr_paxos_table_fini(&c->paxos);
	qc_long_fini(c);
	free(c);
}

const struct qr_core_stats *qr_core_stats(const struct qr_core *c)
{
	return &c->stats;
}

const struct qr_hist *qr_core_latency(const struct qr_core *c,
				      enum qr_core_lat k)
{
	QR_ASSERT(k < QR_LAT_COUNT);
	return &c->lat[k];
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

/*
 * Our WAL's state, from the driver (core.h). A change is announced at once
 * by a heartbeat to every peer (the next flush sends it), so coordinators
 * stop counting us for W within a round trip instead of a heartbeat
 * period; every later heartbeat repeats it (heartbeats are not retried).
 */
void qr_core_set_wal_error(struct qr_core *c, int err)
{
	QR_ASSERT(err <= 0);
	if (err == c->wal_err)
		return;
	if (err && !c->wal_err)
		c->stats.wal_refusals++;
	c->wal_err = err;
	qc_send_heartbeats(c);
}

int qr_core_wal_error(const struct qr_core *c)
{
	return c->wal_err;
}

void qc_wal_refused(struct qr_core *c, int rc)
{
	qc_drop(c, QR_DROP_WAL);
	if ((rc == QR_ENOSPC || rc == QR_EIO) && !c->wal_err)
		qr_core_set_wal_error(c, rc);
}
