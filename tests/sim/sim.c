/* SPDX-License-Identifier: MIT */
/*
 * The simulator: an event heap over simulated time drives N real qr_core
 * instances. See sim.h. The checkers live in check.c, lincheck.c and
 * oracle.c.
 *
 * Phases of a run:
 *   1. faults:  clients run a mixed workload while the fault schedule
 *               partitions, crashes, restarts, drops, duplicates and delays
 *               frames and jumps clocks (within max_offset; and beyond it
 *               for a while, then back: issue 13 bug 6); a node that
 *               just acknowledged something with its WAL tail not durable
 *               sometimes crashes then and there; sessions read their own
 *               keys back through lagging replicas; in half the seeds
 *               nodes take snapshots and crash between their steps or
 *               right after them (issue 13 item 3); in a third each
 *               node runs 2 shards; in a quarter one node loses its
 *               disk and is rebuilt (disk_wipe, rebuild_start); in
 *               a quarter drawn apart (they lose no disk) the membership
 *               changes (membership.c);
 *   2. healing: faults stop, crashed nodes restart, clients finish;
 *   3. final:   once a membership change finished (final_wait), one ALL
 *               read of every key through the final placement, then a
 *               settle period;
 *   4. checks:  convergence of every replica's store (e); the online
 *               checkers (a)-(d), (f), (g), (j)-(l), (n) ran on every
 *               completion / event / frame, (v) and (w) every 64th
 *               event; (h), (i) at the end.
 */
#include "sim/sim_pvt.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/crc32c.h"
#include "common/rng.h"
#include "core/auth.h"
#include "core/core.h"
#include "core/store.h"
#include "core/wire.h"
#include "core/wire_long.h"
#include "quorate/err.h"
#include "sim/membership.h"


struct node *sim_core_of(struct sim *s, int node, int shard)
{
	return &s->cores[node * s->shards + shard];
}

/* ---- tracing ------------------------------------------------------------ */

static void trace_mix(struct sim *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = s->trace;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull; /* FNV-1a */
	}
	s->trace = h;
}

static void trace_u64(struct sim *s, uint64_t v)
{
	trace_mix(s, &v, sizeof(v));
}

void sim_vlog(struct sim *s, const char *fmt, ...)
{
	if (!s->opt->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%8" PRIu64 "us] ", s->now_us);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- event heap --------------------------------------------------------- */

static bool ev_before(const struct event *a, const struct event *b)
{
	return a->at_us != b->at_us ? a->at_us < b->at_us : a->seq < b->seq;
}

static void ev_push(struct sim *s, struct event e)
{
	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
		s->heap = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
		QR_ASSERT(s->heap);
	}
	e.seq = s->seq++;
	size_t i = s->heap_len++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_before(&e, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = e;
}

static struct event ev_pop(struct sim *s)
{
	struct event top = s->heap[0];
	struct event last = s->heap[--s->heap_len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct event *best = &last;
		if (l < s->heap_len && ev_before(&s->heap[l], best)) {
			m = l;
			best = &s->heap[l];
		}
		if (r < s->heap_len && ev_before(&s->heap[r], best))
			m = r;
		if (m == i)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (s->heap_len)
		s->heap[i] = last;
	return top;
}

void sim_ev_at(struct sim *s, uint64_t at, uint8_t type, uint16_t node,
		  uint32_t arg, uint64_t arg2)
{
	struct event e = {
		.at_us = at,
		.type = type,
		.node = node,
		.arg = arg,
		.arg2 = arg2,
	};
	ev_push(s, e);
}

/* ---- network ------------------------------------------------------------ */

static uint64_t net_delay(struct sim *s)
{
	uint64_t d = s->delay_min_us + qr_rng_below(&s->rng, s->delay_span_us);
	if (s->faults_on && qr_rng_chance_ppm(&s->rng, s->tail_ppm))
		d += qr_rng_below(&s->rng, s->tail_us);
	return d;
}

/* Queue a frame; from/to are node ids, or -1 for the client side. */
static void net_send(struct sim *s, int from, int to, uint8_t type,
		     uint16_t node, uint64_t client, const void *frame,
		     size_t len)
{
	s->res->frames++;
	if (from >= 0 && to >= 0 && s->blocked[from][to]) {
		s->res->dropped_frames++;
		return;
	}
	if (s->faults_on && qr_rng_chance_ppm(&s->rng, s->loss_ppm)) {
		s->res->dropped_frames++;
		return;
	}
	int copies = 1;
	if (s->faults_on && qr_rng_chance_ppm(&s->rng, s->dup_ppm))
		copies = 2;
	for (int k = 0; k < copies; k++) {
		struct event e = {
			.at_us = s->now_us + net_delay(s),
			.type = type,
			.node = node,
			.arg2 = client,
			.len = (uint16_t)len,
		};
		e.data = malloc(len);
		QR_ASSERT(e.data);
		memcpy(e.data, frame, len);
		ev_push(s, e);
	}
}


/* ---- the env the core sees ---------------------------------------------- */

static uint64_t env_now_us(void *ctx)
{
	struct node *nd = ctx;
	return nd->sim->now_us + nd->pause_us;
}

static uint64_t env_wall_ms(void *ctx)
{
	struct node *nd = ctx;
	int64_t ms = (int64_t)(EPOCH_MS + nd->sim->now_us / 1000) + nd->h->skew_ms;
	return (uint64_t)ms;
}

static void env_pause(void *ctx)
{
	struct node *nd = ctx;
	/* Waiting lets this node's clocks move on: the wall clock, and the
	 * monotonic one (a guarded HLC may run on it: clock_guard.c). */
	nd->h->skew_ms++;
	nd->pause_us += 1000;
}

/* ---- checker (m): an ack names a version durable in the acker's log --- */

static uint64_t dur_key(struct qr_version v)
{
	uint64_t x = v.hlc ^ (uint64_t)v.node << 48;
	return qr_splitmix64(&x) | 1; /* never 0 (the empty slot) */
}

static bool dur_has(const struct node *nd, uint64_t k)
{
	if (!nd->dur_cap)
		return false;
	for (uint64_t i = k & (nd->dur_cap - 1);; i = (i + 1) & (nd->dur_cap - 1)) {
		if (nd->dur_set[i] == k)
			return true;
		if (!nd->dur_set[i])
			return false;
	}
}

static void dur_put(struct node *nd, uint64_t k)
{
	if (2 * (nd->dur_n + 1) > nd->dur_cap) {
		uint64_t *old = nd->dur_set, ocap = nd->dur_cap;
		nd->dur_cap = ocap ? ocap * 2 : 1024;
		nd->dur_set = calloc(nd->dur_cap, sizeof(uint64_t));
		QR_ASSERT(nd->dur_set);
		nd->dur_n = 0;
		for (uint64_t i = 0; i < ocap; i++)
			if (old[i])
				dur_put(nd, old[i]);
		free(old);
	}
	uint64_t i = k & (nd->dur_cap - 1);
	while (nd->dur_set[i] && nd->dur_set[i] != k)
		i = (i + 1) & (nd->dur_cap - 1);
	if (!nd->dur_set[i]) {
		nd->dur_set[i] = k;
		nd->dur_n++;
	}
}

/* The log is durable up to nd->durable: remember its writes. */
static void dur_advance(struct node *nd)
{
	for (; nd->dur_upto < nd->durable; nd->dur_upto++) {
		const struct qr_wal_record *r = &nd->log[nd->dur_upto].r;
		if (r->type == QR_WAL_PUT || r->type == QR_WAL_TOMBSTONE)
			dur_put(nd, dur_key(r->version));
	}
}

/*
 * (m) A replica's REPLICATE_ACK or ACCEPTED (status OK) names a version
 * (unique to one write or ballot) whose record is durable in its own log: R1, and what issue 12 item 5
 * asks of a node whose WAL refuses writes (it must not ack them). Peer
 * frames only (a node's acks to itself go through its loopback queue).
 */
static void check_acks_durable(struct sim *s, struct node *nd,
			       const void *frame, size_t len)
{
	struct qr_frame_reader r;
	struct qr_msg m;
	if (len < QR_AUTH_TRAILER_BYTES ||
	    qr_wire_frame_open_peer(&r, frame, len - QR_AUTH_TRAILER_BYTES,
				    0x51, s->opt->peer_frame, NULL) != 0)
		return;
	while (qr_wire_next(&r, &m) > 0) {
		if ((m.type != QR_MSG_REPLICATE_ACK &&
		     m.type != QR_MSG_ACCEPTED) ||
		    m.status != 0)
			continue;
		if (!dur_has(nd, dur_key(m.version)))
			sim_fail(s, "(m)",
				 "node %u acked version %" PRIu64
				 ".%u, which is not durable in its log%s",
				 nd->id, m.version.hlc, m.version.node,
				 nd->h->wal_err ? " (its WAL refuses writes)" : "");
	}
}

/* Does a frame to a peer say "I durably hold it": a REPLICATE_ACK (hint
 * acks included), an ACCEPTED or a granted PROMISE, a READ_REPLY with an
 * entry? Message headers only (type at 0, length at 2); all four have
 * their status at 26 (docs/protocol.md, "Wire format"). */
static bool frame_has_ack(const uint8_t *f, size_t len)
{
	size_t off = 24;
	for (unsigned k = 0; len >= 24 && k < f[3] && off + 4 <= len; k++) {
		uint8_t type = f[off];
		size_t mlen = (size_t)(f[off + 2] | f[off + 3] << 8);
		if (mlen < 4 || off + mlen > len)
			break;
		if ((type == QR_MSG_REPLICATE_ACK || type == QR_MSG_ACCEPTED ||
		     type == QR_MSG_PROMISE || type == QR_MSG_READ_REPLY) &&
		    mlen >= 28 && f[off + 26] == 0 && f[off + 27] == 0)
			return true;
		off += mlen;
	}
	return false;
}

/* Is a frame to client `handle` an OK to its level ANY write in flight? */
static bool frame_answers_any(struct sim *s, uint64_t handle, const void *frame,
			      size_t len)
{
	if (handle < 1 || handle > (uint64_t)s->nclients)
		return false;
	const struct client *cl = &s->clients[handle - 1];
	struct qr_frame_reader r;
	struct qr_msg m;
	if (!cl->busy || cl->level != QR_LEVEL_ANY ||
	    qr_wire_frame_open(&r, frame, len, 0x51, NULL) != 0)
		return false;
	while (qr_wire_next(&r, &m) > 0)
		if (m.type == QR_MSG_CLIENT_REPLY && m.req_id == cl->req_id &&
		    m.status == 0)
			return true;
	return false;
}


/*
 * (j) at the moment a coordinator answers (tests/sim/oracle.h): a write
 * answered OK at W counted W acks and is durable on W replicas; a read
 * counted R replies, and one of R >= quorum that names a version has it
 * on a quorum (blocking read repair); a CAS answer's version is on a
 * quorum; level ANY is on a replica or in the coordinator's hints for
 * every replica.
 */
/*
 * (j)'s count of the replicas that durably hold v (or newer), judged in
 * the coordinator's view of the topology (membership.h). Without a change:
 * the one placement. During one, its owners' set, which every request
 * must meet whichever view it began under (step 1 keeps the owners, step
 * 3 makes owners the pending set whose level every write of step 1-2 met
 * already); and, for a write, the pending set too, if the view that sets
 * it was there before the client sent it (the request began under it: a
 * core needs its level in both sets then, core.h). A read's or CAS
 * answer's quorum is judged only if the view did not change since the
 * request was sent (INT_MAX: not judged): a read begun under (old, new)
 * and answered under (new) made no promise on new's quorum by its repair.
 */
static int answer_holders(struct sim *s, const struct node *nd,
			  const struct client *cl, int key,
			  struct qr_version v, bool write)
{
	if (!s->topo.kind)
		return oracle_holders(s->orc, key, v);
	bool steady = nd->h->view_us < cl->sent_us;
	if (!write && !steady)
		return INT_MAX;
	int held = oracle_holders_pl(s->orc, topo_owners(s, nd->id), key, v);
	const struct qr_placement *p = topo_pending(s, nd->id);
	if (write && p && steady)
		held = QR_MIN(held, oracle_holders_pl(s->orc, p, key, v));
	return held;
}

static void check_answer(struct sim *s, struct node *nd, uint64_t handle,
			 const void *frame, size_t len)
{
	if (handle < 1 || handle > (uint64_t)s->nclients)
		return;
	const struct client *cl = &s->clients[handle - 1];
	struct qr_frame_reader r;
	struct qr_msg m;
	if (!cl->busy || qr_wire_frame_open(&r, frame, len, 0x51, NULL) != 0)
		return;
	int quorum = s->pl.rf / 2 + 1;
	while (qr_wire_next(&r, &m) > 0) {
		if (m.type != QR_MSG_CLIENT_REPLY || m.req_id != cl->req_id)
			continue;
		int key = cl->is_cas ? s->nkeys + cl->cas_key : cl->key;
		int need = 0;
		const char *what = "";
		bool read = cl->is_cas ? cl->cas_plain : cl->op == QR_OP_GET;
		if (read && (m.status == 0 || m.status == QR_ENOTFOUND) &&
		    cl->count >= quorum) {
			need = quorum;
			what = "read of R >= quorum";
		} else if (cl->is_cas && !read &&
			   (m.status == 0 || m.status == QR_EPRECONDITION)) {
			need = quorum;
			what = "CAS answer";
		} else if (!read && m.status == 0) {
			need = cl->count ? cl->count : 1;
			what = cl->count ? "write" : "level ANY write";
		}
		/* The reply's own count: R replies or W acks came in (0: a
		 * duplicate answered from the dedupe table). */
		if (!read && !cl->is_cas && m.status == 0 && m.answered &&
		    m.answered < cl->count)
			sim_fail(s, "(j)",
				 "node %u answered c%u's W=%u write of %s with "
				 "%u acks",
				 nd->id, cl->id, cl->count, s->keys[key],
				 m.answered);
		if (read && (m.status == 0 || m.status == QR_ENOTFOUND) &&
		    m.answered < cl->count)
			sim_fail(s, "(j)",
				 "node %u answered c%u's R=%u read of %s with "
				 "%u replies",
				 nd->id, cl->id, cl->count, s->keys[key],
				 m.answered);
		if (qr_version_is_none(m.version))
			continue;
		int held = need ? answer_holders(s, nd, cl, key, m.version,
						 !read && !cl->is_cas)
				: 0;
		if (held >= need ||
		    (!cl->count && !read && !cl->is_cas &&
		     oracle_hints(s->orc, nd->id, key, m.version) >= s->pl.rf))
			continue;
		sim_fail(s, "(j)",
			 "node %u answered c%u's %s of %s with version "
			 "%" PRIu64 ".%u (%s) durable on %d replicas, not %d",
			 nd->id, cl->id, what, s->keys[key], m.version.hlc,
			 m.version.node, qr_strerror(m.status), held, need);
	}
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	struct node *nd = ctx;
	struct sim *s = nd->sim;
	if (dst == QR_NODE_CLIENT) {
		check_answer(s, nd, client, frame, len);
		if (s->faults_on && frame_answers_any(s, client, frame, len))
			nd->answered_any = true;
		net_send(s, nd->id, -1, EV_DELIVER_CLIENT, 0, client, frame,
			 len);
	} else {
		check_acks_durable(s, nd, frame, len);
		char detail[256];
		if (!oracle_frame_out(s->orc, nd->id, dst, frame,
				      len - QR_AUTH_TRAILER_BYTES, detail,
				      sizeof(detail)))
			sim_fail(s,
				 detail[1] == 'l'   ? "(l)"
				 : detail[1] == 'k' ? "(k)"
						    : "(j)",
				 "%s", detail + 4);
		if (s->faults_on && !nd->sent_ack && frame_has_ack(frame, len))
			nd->sent_ack = true;
		/* Peers talk shard to shard (the same index: the
		 * partition's shard is the same on every node). */
		net_send(s, nd->id, dst, EV_DELIVER_NODE,
			 sim_core_of(s, dst, nd->shard)->ix, 0, frame, len);
	}
}

/* Checker (n): no record carries a version (or HLC ceiling) more than
 * twice max_offset ahead of true time. Every clock in bounds is within
 * 200 ms of it; the clock guard trusts a step only if a quorum's clocks
 * (HLCs, a lease ahead at most) are within max_offset of it (clock_guard.c
 * G1): below 800 ms; an HLC a lease ahead of that, a ceiling a lease
 * ahead of the HLC. A clock jumped 1,100 ms or more must not get in
 * (docs/protocol.md, "Clock jumps"). */
static void check_not_future(struct node *nd, const struct qr_wal_record *rec)
{
	struct sim *s = nd->sim;
	uint64_t ms = QR_HLC_MS(rec->version.hlc);
	uint64_t now_ms = EPOCH_MS + s->now_us / 1000;
	if (ms > now_ms + 2 * SIM_MAX_OFFSET_MS)
		sim_fail(s, "(n)",
			 "node %u logged a record (type %u) of version %" PRIu64
			 ".%u, %" PRIu64 " ms ahead of true time (max_offset "
			 "%d ms: bound twice that)",
			 nd->id, rec->type, rec->version.hlc, rec->version.node,
			 ms - now_ms, SIM_MAX_OFFSET_MS);
}

/* A copy of rec (the key and value bytes too) in w. */
static void wal_rec_set(struct wal_rec *w, const struct qr_wal_record *rec)
{
	w->r = *rec;
	memcpy(w->key, rec->key, rec->key_len);
	if (rec->value_len) /* value may be NULL then (UBSan: memcpy) */
		memcpy(w->value, rec->value, rec->value_len);
	w->r.key = NULL; /* set at replay: the array may move */
	w->r.value = NULL;
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	struct node *nd = ctx;
	if (nd->h->wal_err)
		return nd->h->wal_err; /* disk full / failed: nothing appended */
	check_not_future(nd, rec);
	if (nd->log_len == nd->log_cap) {
		nd->log_cap = nd->log_cap ? nd->log_cap * 2 : 256;
		nd->log = realloc(nd->log, nd->log_cap * sizeof(*nd->log));
		QR_ASSERT(nd->log);
	}
	/* The core numbers records 1, 2, 3...: the log is dense. */
	QR_ASSERT(rec->lsn == nd->log_len + 1);
	oracle_logged(nd->sim->orc, nd->id, rec);
	wal_rec_set(&nd->log[nd->log_len], rec);
	nd->log[nd->log_len++].at_us = env_now_us(nd);
	return 0;
}

static uint64_t env_random(void *ctx)
{
	struct node *nd = ctx;
	return qr_rng_next(&nd->sim->rng);
}

/* ---- nodes -------------------------------------------------------------- */

void sim_fail(struct sim *s, const char *checker, const char *fmt, ...)
{
	if (!s->res->ok)
		return;
	if (s->opt->no_oracles &&
	    (!strcmp(checker, "(j)") || !strcmp(checker, "(k)") ||
	     !strcmp(checker, "(l)") || !strcmp(checker, "(o)") ||
	     !strcmp(checker, "(t)") ||
	     !strcmp(checker, "(d) WAL")))
		return;
	s->res->ok = false;
	snprintf(s->res->checker, sizeof(s->res->checker), "%s", checker);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->res->detail, sizeof(s->res->detail), fmt, ap);
	va_end(ap);
}

static void replay_one(struct node *nd, const struct wal_rec *w)
{
	/* The arrays move as they grow: point into them afresh. */
	struct qr_wal_record rec = w->r;
	rec.key = w->key;
	rec.value = w->value;
	QR_ASSERT(qr_core_recover(nd->core, &rec) == 0);
}

/*
 * Recovery as the real WAL does it (docs/wal.md, "Recovery"): the
 * installed snapshot (its clock ceiling, then its entries and hints),
 * then every durable record from its begin lsn on; without a snapshot,
 * the whole durable log. Returns what checker (f) wants the HLC at or
 * above: every version replayed, and every version this node stamped
 * itself or ceiling it logged, below the snapshot too (recover.c V1: no
 * version is ever stamped twice).
 */
static uint64_t node_replay(struct node *nd)
{
	uint64_t max_hlc = 0;
	for (uint64_t i = 0; i < nd->snap_len; i++) {
		replay_one(nd, &nd->snap[i]);
		max_hlc = QR_MAX(max_hlc, nd->snap[i].r.version.hlc);
	}
	uint64_t from = nd->snap_begin ? nd->snap_begin - 1 : 0;
	for (uint64_t i = 0; i < nd->log_len; i++) {
		const struct qr_wal_record *r = &nd->log[i].r;
		if (i >= from)
			replay_one(nd, &nd->log[i]);
		else if (r->version.node != nd->id)
			continue; /* gone with the snapshot, not ours */
		max_hlc = QR_MAX(max_hlc, r->version.hlc);
	}
	return max_hlc;
}

static void core_start(struct sim *s, struct node *nd)
{
	struct qr_core_config cfg;
	qr_core_config_defaults(&cfg);
	cfg.node_id = nd->id;
	cfg.shard = nd->shard;
	cfg.cluster_id = 0x51;
	static struct qr_secret test_secret;
	qr_secret_for_tests(&test_secret);
	cfg.secret = &test_secret; /* auth = mac (the default) */
	cfg.incarnation = nd->h->incarnation;
	cfg.placement = &s->pl;
	/* A change's spare node (a join) is a peer before it is a member. */
	cfg.node_slots = s->topo.kind ? (uint16_t)s->n : 0;
	cfg.requests_max = 256;
	cfg.pending_max = 512;
	cfg.keys_max = 256;
	cfg.deadline_us_default = 40000;
	cfg.rto_us_min = 2000;
	cfg.rto_us_max = 8000;
	cfg.heartbeat_us = 5000;
	cfg.suspect_after_us = 15000;
	cfg.down_after_us = 30000;
	cfg.timer_tick_us = 250;
	cfg.ae_interval_us = 2000; /* 64 partitions: a round in ~0.1 s */
	cfg.tombstone_grace_ms = SIM_GRACE_MS;
	cfg.hint_delay_us = s->hint_delay_us;
	cfg.rebuild = nd->h->rebuild;
	/* Long values (issue 15): a few KiB travel as fragments; a pool of
	 * 32 buffers can run out under load (BUSY, dropped replies, lost
	 * hints: long.h V2 paths). */
	cfg.value_bytes_max = SIM_VALUE_MAX;
	cfg.values_max = 32;
	cfg.peer_frame_bytes = s->opt->peer_frame; /* --peer-frame */
	/* A frame's delay varies up to the tail (40 ms): fragments of one
	 * message spread that much, so the gap bound is near the whole. */
	cfg.reasm_timeout_us = 50000;
	cfg.reasm_idle_us = 45000;
	/* A small ring of kept long messages (long.h V5): it wraps within a
	 * NACK's round trip, so NACKs for overwritten ones happen. */
	cfg.long_keep_bytes = 48 * 1024;
	struct qr_env env = {
		.ctx = nd,
		.now_us = env_now_us,
		.wall_ms = env_wall_ms,
		.pause = env_pause,
		.send = env_send,
		.wal_append = env_wal_append,
		.random = env_random,
	};
	int rc = qr_core_create(&cfg, &env, &nd->core);
	QR_ASSERT(rc == 0);
	topo_core_created(s, nd);
	uint64_t max_hlc = node_replay(nd);
	qr_core_recovered(nd->core, nd->log_len);
	topo_core_recovered(s, nd);
	if (nd->h->wal_err)
		qr_core_set_wal_error(nd->core, nd->h->wal_err); /* still full */
	nd->sent_ack = nd->answered_any = false;
	nd->batch_inflight = false;
	nd->hlc_seen = qr_core_hlc(nd->core)->last;
	if (nd->hlc_seen < max_hlc)
		sim_fail(s, "(f)",
			 "node %u shard %u restarted with HLC %" PRIu64
			 " below its durable max %" PRIu64,
			 nd->id, nd->shard, nd->hlc_seen, max_hlc);
	sim_ev_at(s, s->now_us + 1 + qr_rng_below(&s->rng, 250), EV_TICK, nd->ix,
	      nd->h->incarnation, 0);
}

/* Start (or restart) node h: every shard recovers from its own WAL. */
static void node_start(struct sim *s, struct host *h)
{
	/* A jump is a transient of a running machine: one that boots sets
	 * its clock first (docs/protocol.md: a node started with its clock
	 * already beyond max_offset is not guarded against). */
	if (h->jumped) {
		h->jumped = false;
		h->skew_ms = (int64_t)qr_rng_below(&s->jump_rng, 401) - 200;
	}
	h->incarnation++;
	h->up = true;
	h->restarted_us = s->now_us;
	for (int k = 0; k < s->shards; k++)
		core_start(s, sim_core_of(s, h->id, k));
}

/* Node h's process dies: every shard's core, and every WAL's unsynced
 * tail. */
static void node_crash(struct sim *s, struct host *h)
{
	for (int k = 0; k < s->shards; k++) {
		struct node *nd = sim_core_of(s, h->id, k);
		sim_vlog(s,
		     "crash node %u shard %u (log %" PRIu64
		     ", durable %" PRIu64 ")",
		     nd->id, nd->shard, nd->log_len, nd->durable);
		s->hints_lost += qr_core_stats(nd->core)->hints_lost;
		qr_core_destroy(nd->core);
		nd->core = NULL;
		nd->log_len = nd->durable; /* the unsynced tail is gone */
		nd->tmp_begin = 0; /* and a snapshot being taken (.tmp) */
	}
	h->up = false;
	s->res->crashes++;
	/* A duplicate of a client's last request to this node may still be
	 * in flight: after the restart (the dedupe table is not durable) it
	 * is a new write with a new version (docs/protocol.md). */
	for (int i = 0; i < s->nclients; i++) {
		struct client *cl = &s->clients[i];
		if (cl->busy && !cl->is_cas && cl->coord == h->id)
			check_may_restamp(&s->check, cl->op_index);
		for (unsigned r = 0; r < 8 && r < cl->nrecent; r++)
			if (cl->recent[r].coord == h->id &&
			    s->now_us - cl->recent[r].end_us < 100000)
				check_may_restamp(&s->check,
						  cl->recent[r].op_index);
	}
}

/* ---- a lost disk and the rebuild (issue 13 item 3) ---------------------- */

/* The highest HLC ceiling node h's disk holds durably (every version it
 * stamped and ballot it promised is below it: W2, Y1). */
static uint64_t host_ceiling(struct sim *s, struct host *h)
{
	uint64_t c = 0;
	for (int k = 0; k < s->shards; k++) {
		const struct node *nd = sim_core_of(s, h->id, k);
		for (uint64_t i = 0; i < nd->durable; i++)
			if (nd->log[i].r.type == QR_WAL_CLOCK)
				c = QR_MAX(c, nd->log[i].r.version.hlc);
	}
	return c;
}

/* Every shard's WAL and snapshots are gone (the log model, checker (m)'s
 * set, the oracles' view of its disk). */
static void host_wipe_disk(struct sim *s, struct host *h)
{
	for (int k = 0; k < s->shards; k++) {
		struct node *nd = sim_core_of(s, h->id, k);
		nd->log_len = nd->durable = nd->dur_upto = 0;
		if (nd->dur_set)
			memset(nd->dur_set, 0, nd->dur_cap * sizeof(uint64_t));
		nd->dur_n = 0;
		nd->snap_len = nd->snap_begin = nd->tmp_begin = 0;
	}
	oracle_wipe(s->orc, h->id);
}

/* The fault phase lasts at least until `until` (the phases after it move
 * with it): a rebuild is seen under faults. */
static void stretch_faults(struct sim *s, uint64_t until)
{
	if (until <= s->faults_end_us)
		return;
	s->faults_end_us = until;
	s->final_us = until + 150000;
	s->end_us = s->ae_only ? s->final_us + 600000
			       : s->final_us + 150000 +
					 (uint64_t)s->nkeys * 3000;
}

/* When node h's clock passes the ceiling its lost disk held, plus 0-30 ms:
 * its restart (EV_RESTART) is scheduled then. */
static uint64_t rebuild_at(struct sim *s, struct host *h)
{
	int64_t edge_ms = (int64_t)QR_HLC_MS(h->wiped_ceiling) + 1 -
			  (int64_t)EPOCH_MS - h->skew_ms;
	uint64_t at = edge_ms > 0 ? (uint64_t)edge_ms * 1000 : 0;
	at = QR_MAX(at, s->now_us + 1000) + qr_rng_below(&s->wipe_rng, 30000);
	sim_ev_at(s, at, EV_RESTART, h->id, h->incarnation, 0);
	return at;
}

/*
 * A disk dies (docs/operations.md, "A node that lost its data
 * directory"): a node crashes and loses every shard's WAL and snapshots,
 * once in the seeds drawn for it. What one disk alone held is lost with it
 * by the definition of W = 1 (and of ANY on one coordinator's hints), so
 * the disk dies only at a moment when every version a client was answered
 * with is durable on another node too (oracle_unique_to); the checkers
 * stay as they are. The operator replaces it and starts the node with
 * --rebuild once its clock has passed every HLC ceiling the old disk
 * held (RB3: at least max_offset + hlc_lease after the death; the
 * restart comes 0-30 ms after that edge, with a new clock skew), while
 * the faults go on: the run's fault phase is stretched to see the
 * rebuild under them.
 */
static void disk_wipe(struct sim *s)
{
	struct qr_rng *g = &s->wipe_rng;
	if (!s->wipes || s->wiped_once || !qr_rng_chance_ppm(g, 150000))
		return;
	struct host *h = &s->hosts[qr_rng_below(g, (uint64_t)s->n)];
	if (!h->up || h->rebuild || oracle_unique_to(s->orc, h->id))
		return; /* another time */
	s->wiped_once = true;
	h->wiped_ceiling = host_ceiling(s, h);
	sim_vlog(s, "disk of node %u dies (ceiling %" PRIu64 ")", h->id,
	     h->wiped_ceiling);
	node_crash(s, h);
	host_wipe_disk(s, h);
	s->wipe_forget_us = s->now_us + 200000;
	h->wiped = true;
	s->res->wipes++;
	h->jumped = false;
	h->skew_ms = (int64_t)qr_rng_below(g, 401) - 200;
	uint64_t at = rebuild_at(s, h);
	stretch_faults(s, at + 100000 + qr_rng_below(g, 100000));
}

/* The operator starts the node with --rebuild on its new disk and, as
 * docs/operations.md says, runs `quorate repair` on every other node. */
static void rebuild_start(struct sim *s, struct host *h)
{
	/* RB3's precondition (and V1's on an empty disk): its clock, hence
	 * its HLC, is past everything the node stamped before. Its skew may
	 * have moved since the death: the operator waits for the clock. */
	if (env_wall_ms(sim_core_of(s, h->id, 0)) <= QR_HLC_MS(h->wiped_ceiling)) {
		stretch_faults(s, rebuild_at(s, h) + 100000);
		return;
	}
	h->wiped = false;
	h->rebuild = true;
	node_start(s, h);
	sim_vlog(s, "node %u starts with --rebuild", h->id);
	for (int i = 0; i < s->n; i++)
		for (int k = 0; i != h->id && s->hosts[i].up && k < s->shards;
		     k++)
			qr_core_ae_request(sim_core_of(s, i, k)->core);
}

/* A shard of a rebuilding node says it is filled: once every one does,
 * the operator stops giving --rebuild. */
static void rebuild_check_done(struct sim *s, struct host *h)
{
	for (int k = 0; k < s->shards; k++)
		if (qr_core_stats(sim_core_of(s, h->id, k)->core)->rebuilding)
			return;
	h->rebuild = false;
	sim_vlog(s, "node %u rebuilt", h->id);
}

/* ---- snapshots (issue 13 item 3) ---------------------------------------- */

static void snap_push(struct node *nd, const struct qr_wal_record *rec)
{
	if (nd->tmp_len == nd->tmp_cap) {
		nd->tmp_cap = nd->tmp_cap ? nd->tmp_cap * 2 : 64;
		nd->tmp = realloc(nd->tmp, nd->tmp_cap * sizeof(*nd->tmp));
		QR_ASSERT(nd->tmp);
	}
	wal_rec_set(&nd->tmp[nd->tmp_len++], rec);
}

/* The shard loop's source (qr_wal_snapshot_source_store): an entry as a
 * PUT or TOMBSTONE record with the entry's lsn. */
static int snap_entry(void *arg, const struct qr_store_view *v)
{
	struct qr_wal_record rec = {
		.lsn = v->lsn,
		.type = v->tombstone ? QR_WAL_TOMBSTONE : QR_WAL_PUT,
		.partition = v->partition,
		.version = v->version,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->tombstone ? 0 : v->value_len,
	};
	snap_push(arg, &rec);
	return 0;
}

/* ... then the partition's hints (snap_for_each: qr_core_snapshot_hints). */
static int snap_hint(void *arg, const struct qr_wal_record *rec)
{
	snap_push(arg, rec);
	return 0;
}

/* qr_wal_snapshot_begin: B = appended lsn + 1. The highest clock ceiling
 * logged below B (in the installed snapshot or the log since) goes first,
 * as the real header gives it back: version and lsn, no floor value. */
static void snap_begin(struct sim *s, struct node *nd)
{
	nd->tmp_begin = nd->log_len + 1;
	nd->tmp_len = 0;
	nd->tmp_part = 0;
	nd->tmp_end = 0;
	struct qr_wal_record clk = {0};
	if (nd->snap_len && nd->snap[0].r.type == QR_WAL_CLOCK)
		clk = nd->snap[0].r;
	for (uint64_t i = nd->snap_begin ? nd->snap_begin - 1 : 0;
	     i < nd->log_len; i++)
		if (nd->log[i].r.type == QR_WAL_CLOCK &&
		    nd->log[i].r.version.hlc > clk.version.hlc)
			clk = nd->log[i].r;
	if (clk.version.hlc) {
		static const uint8_t clock_key = 0;
		struct qr_wal_record rec = {
			.lsn = clk.lsn,
			.type = QR_WAL_CLOCK,
			.version = clk.version,
			.key = &clock_key,
			.key_len = 1,
		};
		snap_push(nd, &rec);
	}
	sim_vlog(s, "snapshot node %u begins at lsn %" PRIu64, nd->id,
	     nd->tmp_begin);
}

/* Is hint record h (its target in aux) among the snapshot's records? */
static bool snap_has_hint(const struct node *nd, const struct wal_rec *h)
{
	for (uint64_t j = 0; j < nd->tmp_len; j++) {
		const struct wal_rec *w = &nd->tmp[j];
		/* Same target; the same version, or for a long value read
		 * from the store (hints.c N6) a later one of the key, which
		 * covers it under last-writer-wins (a delete included). */
		uint16_t ta = w->r.aux & ~QR_WAL_AUX_TOMBSTONE;
		uint16_t tb = h->r.aux & ~QR_WAL_AUX_TOMBSTONE;
		int cmp = qr_version_cmp(w->r.version, h->r.version);
		if (w->r.type == QR_WAL_HINT && ta == tb &&
		    (cmp == 0 ? w->r.aux == h->r.aux
			      : cmp > 0 && h->r.value_len >
						   QR_VALUE_INLINE_MAX) &&
		    w->r.key_len == h->r.key_len &&
		    !memcmp(w->key, h->key, h->r.key_len))
			return true;
	}
	return false;
}

/*
 * Checker (o), hints.c N4: a snapshot holds every hint still live when its
 * partition was copied. A durable hint record below the begin lsn whose
 * target does not durably hold its version now (so no ack freed it: an
 * ack names a durable version, checker (m)) and that is younger than a
 * hint's life less 10 ms (so it cannot have expired: hint life = half
 * the grace) must be in it. Without it a restart loses an ANY write
 * acknowledged on durable hints (issue 13 bug 5). The log is in time
 * order: only its young tail is looked at.
 */
static void check_snap_hints(struct sim *s, struct node *nd)
{
	uint64_t now = env_now_us(nd);
	uint64_t young = SIM_GRACE_MS * 1000 / 2 - 10000;
	for (uint64_t i = nd->tmp_begin - 1; i-- > 0;) {
		const struct wal_rec *w = &nd->log[i];
		if (now - w->at_us >= young)
			break;
		if (w->r.type != QR_WAL_HINT)
			continue;
		struct qr_wal_record rec = w->r;
		rec.key = w->key;
		rec.value = w->value;
		int target = w->r.aux & ~QR_WAL_AUX_TOMBSTONE;
		if (oracle_holds(s->orc, target, &rec) || snap_has_hint(nd, w))
			continue;
		/* A change took the target off the partition: the core frees
		 * the hint (hints.c, hints_moot); (a) and (j) judge what that
		 * costs. */
		if (!topo_replica(s, nd->id, w->r.partition, target))
			continue;
		sim_fail(s, "(o)",
			 "node %u's snapshot from lsn %" PRIu64
			 " lacks its live hint (lsn %" PRIu64 ") of version %" PRIu64
			 ".%u for node %d, which does not hold it: a restart "
			 "loses it",
			 nd->id, nd->tmp_begin, w->r.lsn, w->r.version.hlc,
			 w->r.version.node, target);
		return;
	}
}

/* The installed snapshot's records replace the old ones; the log below B
 * is gone for recovery (the covered segments are unlinked). */
static void snap_install(struct sim *s, struct node *nd)
{
	check_snap_hints(s, nd);
	struct wal_rec *a = nd->snap;
	uint64_t cap = nd->snap_cap;
	nd->snap = nd->tmp;
	nd->snap_cap = nd->tmp_cap;
	nd->snap_len = nd->tmp_len;
	nd->snap_begin = nd->tmp_begin;
	nd->tmp = a;
	nd->tmp_cap = cap;
	nd->tmp_len = 0;
	nd->tmp_begin = 0;
	s->res->snapshots++;
	uint64_t hints = 0;
	for (uint64_t i = 0; i < nd->snap_len; i++)
		hints += nd->snap[i].r.type == QR_WAL_HINT;
	sim_vlog(s,
	     "snapshot node %u installed: %" PRIu64 " records (%" PRIu64
	     " hints), log from %" PRIu64,
	     nd->id, nd->snap_len, hints, nd->snap_begin);
}

/* One step (qr_wal_snapshot_step): 1-16 whole partitions, each its
 * entries then its hints; once all are copied, the end lsn (the last
 * appended); then it waits until the log is durable up to it and
 * installs. Returns true while it still runs. */
static bool snap_step(struct sim *s, struct node *nd)
{
	uint32_t parts = s->pl.partitions;
	if (nd->tmp_part < parts) {
		uint32_t k = 1 + (uint32_t)qr_rng_below(&s->snap_rng, 16);
		for (; k && nd->tmp_part < parts; k--, nd->tmp_part++) {
			qr_store_for_each_in_partition(qr_core_store(nd->core),
						       nd->tmp_part,
						       snap_entry, nd);
			qr_core_snapshot_hints(nd->core, nd->tmp_part,
					       snap_hint, nd);
		}
		if (nd->tmp_part == parts)
			nd->tmp_end = nd->log_len;
		return true;
	}
	if (nd->durable < nd->tmp_end)
		return true;
	snap_install(s, nd);
	return false;
}

/* A crash drawn from the snapshot stream, back 100-160 ms later: not
 * faster than hlc_lease_ms (100), or back-to-back restarts would each
 * raise the HLC to a ceiling a lease ahead of the wall clock (recovery
 * adopts the ceiling), ratcheting it past what a node whose clock is
 * 200 ms behind may serve with (clock_guard.c G2: CLOCK_AHEAD). */
static void snap_crash(struct sim *s, struct node *nd, const char *when)
{
	sim_vlog(s, "crash node %u %s", nd->id, when);
	node_crash(s, nd->h);
	sim_ev_at(s, s->now_us + 100000 + qr_rng_below(&s->snap_rng, 60000),
	      EV_RESTART, nd->id, nd->h->incarnation, 0);
}

/*
 * EV_SNAP. arg2 = 0: the schedule, every 5-40 ms while faults run: a
 * random node that is up, takes writes and has none running begins one.
 * arg2 = 1: a step of node's snapshot (incarnation arg), every 0.1-2 ms,
 * events of every kind in between (the scan is fuzzy). Faults meanwhile:
 * a crash between two steps (the .tmp is lost, the log intact), and one
 * right after the install (recovery from the snapshot and what follows).
 * A WAL that refuses writes fails the snapshot too (abandoned).
 */
static void snap_event(struct sim *s, const struct event *e)
{
	struct qr_rng *g = &s->snap_rng;
	if (e->arg2 == 0) {
		if (!s->faults_on)
			return;
		struct node *nd = &s->cores[qr_rng_below(
			g, (uint64_t)(s->n * s->shards))];
		if (nd->h->up && !nd->tmp_begin && !nd->h->wal_err) {
			snap_begin(s, nd);
			sim_ev_at(s, s->now_us + 100 + qr_rng_below(g, 1900),
			      EV_SNAP, nd->ix, nd->h->incarnation, 1);
		}
		sim_ev_at(s, s->now_us + 5000 + qr_rng_below(g, 35000), EV_SNAP, 0,
		      0, 0);
		return;
	}
	struct node *nd = &s->cores[e->node];
	if (!nd->h->up || nd->h->incarnation != e->arg || !nd->tmp_begin)
		return;
	if (nd->h->wal_err) {
		nd->tmp_begin = 0;
		sim_vlog(s, "snapshot node %u abandoned: %s", nd->id,
		     qr_strerror(nd->h->wal_err));
		return;
	}
	if (s->faults_on && qr_rng_chance_ppm(g, 30000)) {
		snap_crash(s, nd, "between snapshot steps");
		return;
	}
	if (snap_step(s, nd)) {
		sim_ev_at(s, s->now_us + 100 + qr_rng_below(g, 1900), EV_SNAP,
		      nd->ix, nd->h->incarnation, 1);
		return;
	}
	if (s->faults_on && qr_rng_chance_ppm(g, 300000))
		snap_crash(s, nd, "right after its snapshot");
}

/* After every event on a node: flush frames, start a WAL batch, check (f).
 * A node that just acknowledged something while its WAL has a tail not
 * yet durable sometimes crashes right then, and comes back a little
 * later (issue 13 item 3): an acknowledgement sent before its record was
 * durable loses what it promised. */
static void node_after(struct sim *s, struct node *nd)
{
	if (!nd->h->up)
		return;
	qr_core_flush(nd->core);
	if (nd->sent_ack || nd->answered_any) {
		uint32_t ppm = nd->answered_any ? 300000 : s->ack_crash_ppm;
		nd->sent_ack = nd->answered_any = false;
		if (s->faults_on && nd->log_len > nd->durable &&
		    qr_rng_chance_ppm(&s->rng, ppm)) {
			sim_vlog(s, "crash node %u right after an ack", nd->id);
			node_crash(s, nd->h);
			sim_ev_at(s,
			      s->now_us + 1000 + qr_rng_below(&s->rng, 30000),
			      EV_RESTART, nd->id, nd->h->incarnation, 0);
			return;
		}
	}
	if (!nd->batch_inflight && nd->log_len > nd->durable) {
		/* Group commit: all that is appended now is one batch. */
		nd->batch_inflight = true;
		uint64_t d = 100 + qr_rng_below(&s->rng, 1500);
		sim_ev_at(s, s->now_us + d, EV_WAL_DONE, nd->ix, nd->h->incarnation,
		      nd->log_len);
	}
	if (nd->h->rebuild && !qr_core_stats(nd->core)->rebuilding)
		rebuild_check_done(s, nd->h);
	char detail[256];
	uint64_t now_ms = sim_hlc_ms(s);
	if (!oracle_watermark(s->orc, nd->id, nd->shard,
			      qr_core_stats(nd->core)->watermark,
			      now_ms > SIM_GRACE_MS ? now_ms - SIM_GRACE_MS : 0,
			      detail, sizeof(detail)))
		sim_fail(s, "(k)", "%s", detail);
	uint64_t h = qr_core_hlc(nd->core)->last;
	if (h < nd->hlc_seen)
		sim_fail(s, "(f)",
			 "node %u HLC went back: %" PRIu64 " after %" PRIu64,
			 nd->id, h, nd->hlc_seen);
	nd->hlc_seen = h;
}

/* ---- clients ------------------------------------------------------------ */

static void make_value(uint16_t client, uint64_t seq, uint8_t *buf,
		       uint16_t *len)
{
	int n = snprintf((char *)buf, 32, "v%u.%" PRIu64 ".", client, seq);
	/* Length and filler derive from (client, seq): checkable later. */
	uint64_t x = (uint64_t)client << 40 ^ seq;
	uint64_t r = qr_splitmix64(&x);
	uint16_t total = (uint16_t)(n + (r % 8 == 0 ? r % 1000 : r % 24));
	if (r % 8 == 5) /* long: travels as fragments (issue 15) */
		total = (uint16_t)(QR_VALUE_INLINE_MAX + 1 +
				   (r >> 8) % (SIM_VALUE_MAX -
					       QR_VALUE_INLINE_MAX - 1));
	for (int i = n; i < total; i++)
		buf[i] = (uint8_t)('a' + (r >> (i % 48)) % 26);
	*len = total;
}

bool sim_value_matches(uint16_t client, uint64_t seq, const uint8_t *v,
		       uint16_t len)
{
	uint8_t buf[SIM_VALUE_MAX];
	uint16_t l;
	make_value(client, seq, buf, &l);
	return l == len && memcmp(buf, v, len) == 0;
}

/* A long request (cl->lform) as fragments, one frame each, under a new
 * message id (a retry does not mix with a half-delivered first try). */
/* The long request in cl->lform as FRAGs: every chunk under a new id, or
 * (nack) the chunks a coordinator's FRAG_NACK names, under the id it
 * names (like libquorate). */
static void client_send_long(struct sim *s, struct client *cl,
			     const struct qr_msg *nack)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr h = {
		.cluster_id = 0x51,
		.src_node = QR_NODE_CLIENT,
		.dst_node = (uint16_t)cl->coord,
		.shard = s->cores[cl->coord_ix].shard,
	};
	struct qr_msg f;
	uint32_t crc = qr_crc32c(0, cl->lform, cl->lform_len);
	uint32_t chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX);
	uint64_t id = nack ? cl->long_seq : ++cl->long_seq;
	if (nack && (nack->op_id != id || nack->incarnation != 1 ||
		     nack->frag.total != cl->lform_len ||
		     nack->frag.chunk != chunk || nack->frag.crc != crc))
		return; /* not our request in flight: its retry covers it */
	uint32_t first = nack ? nack->frag.offset / chunk : 0;
	for (uint32_t i = first; qr_wire_frag_msg(&f, cl->lform, cl->lform_len,
						  crc, chunk, id, 1, i);
	     i++) {
		uint32_t b = i - first;
		if (nack && (b >= nack->value_len * 8u ||
			     !(nack->value[b / 8] & (1u << (b % 8)))))
			continue;
		if (nack)
			sim_vlog(s, "c%u resends chunk %u of its long request "
				"for a NACK", cl->id, i);
		qr_wire_frame_begin(&w, buf, sizeof(buf), &h);
		QR_ASSERT(qr_wire_put(&w, &f) == 0);
		size_t len = qr_wire_frame_end(&w);
		net_send(s, -1, cl->coord, EV_DELIVER_NODE, cl->coord_ix,
			 (uint64_t)cl->id + 1, buf, len);
	}
}

static void client_send(struct sim *s, struct client *cl, int coord,
			const struct qr_msg *m)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	/* Like libquorate: to the shard that owns the key's partition. */
	uint16_t shard = qr_placement_shard(
		&s->pl, qr_placement_partition(&s->pl, m->key, m->key_len));
	struct qr_frame_hdr h = {
		.cluster_id = 0x51,
		.src_node = QR_NODE_CLIENT,
		.dst_node = (uint16_t)coord,
		.shard = shard,
	};
	cl->coord = coord;
	cl->sent_us = s->now_us;
	cl->coord_ix = sim_core_of(s, coord, shard)->ix;
	cl->coord_incarnation = s->hosts[coord].incarnation;
	if (qr_wire_is_long(m)) {
		long n = qr_wire_long_encode(m, cl->lform, sizeof(cl->lform));
		QR_ASSERT(n > 0);
		cl->lform_len = (uint32_t)n;
		cl->frame_len = 0;
		client_send_long(s, cl, NULL);
		return;
	}
	qr_wire_frame_begin(&w, buf, sizeof(buf), &h);
	QR_ASSERT(qr_wire_put(&w, m) == 0);
	size_t len = qr_wire_frame_end(&w);
	memcpy(cl->frame, buf, len);
	cl->frame_len = (uint16_t)len;
	net_send(s, -1, coord, EV_DELIVER_NODE, cl->coord_ix,
		 (uint64_t)cl->id + 1, buf, len);
}

/* Send the same request again (same req_id) to the same coordinator. */
static void client_retry(struct sim *s, struct client *cl)
{
	cl->attempt++;
	/* The dedupe table is not durable: after a restart of the
	 * coordinator the retry is a new write with a new version. */
	if (!cl->is_cas &&
	    s->hosts[cl->coord].incarnation != cl->coord_incarnation)
		check_may_restamp(&s->check, cl->op_index);
	sim_ev_at(s, s->now_us + cl->timeout_us, EV_CLIENT_TIMEOUT, cl->attempt,
	      cl->id, cl->req_id);
	sim_vlog(s, "c%u retries req %" PRIx64 " to node %d", cl->id, cl->req_id,
	     cl->coord);
	if (cl->frame_len == 0) {
		client_send_long(s, cl, NULL);
		return;
	}
	net_send(s, -1, cl->coord, EV_DELIVER_NODE, cl->coord_ix,
		 (uint64_t)cl->id + 1, cl->frame, cl->frame_len);
}

/* A node for a level ANY write that is not a replica of key_index's
 * partition, if there is one: its own replica is always up to a replica,
 * so only another node takes ANY's hint path (every replica DOWN). */
static int any_coordinator(struct sim *s, const uint8_t *reps)
{
	/* Members clients route to (all nodes but a change's spare or
	 * departed one) outside the replica set. */
	int others = 0;
	for (int n = 0; n < s->n; n++)
		others += topo_member(s, n);
	if (others <= s->pl.rf)
		return -1;
	for (;;) {
		int n = (int)qr_rng_below(&s->rng, (uint64_t)s->n);
		bool rep = !topo_member(s, n);
		for (int i = 0; i < s->pl.rf; i++)
			rep = rep || reps[i] == n;
		if (!rep)
			return n;
	}
}

/* A coordinator for a client that "goes anywhere": a node drawn, or a
 * replica if the node drawn is not a member clients route to. */
static int any_node(struct sim *s, const uint8_t *reps)
{
	int n = (int)qr_rng_below(&s->rng, (uint64_t)s->n);
	return topo_member(s, n) ? n : reps[qr_rng_below(&s->rng, s->pl.rf)];
}

/* Replicas a LOCAL / EACH level needs, as the coordinator counts them
 * (src/core/intake.c Z1, Z2): what the checkers hold it to (R + W > N is
 * about how many replicas answered, whichever they are). 0 when no
 * replica is in the coordinator's zone (it answers UNAVAILABLE). */
static uint8_t zoned_count(const struct sim *s, const uint8_t *reps,
			   int coord, uint8_t level)
{
	unsigned size[SIM_NODES_MAX] = {0};
	for (unsigned i = 0; i < s->pl.rf; i++)
		size[s->pl.zone[reps[i]]]++;
	unsigned local = size[s->pl.zone[coord]];
	if (level == QR_LEVEL_LOCAL_ONE)
		return local ? 1 : 0;
	if (level == QR_LEVEL_LOCAL_QUORUM)
		return local ? (uint8_t)(local / 2 + 1) : 0;
	uint8_t n = 0;
	for (unsigned z = 0; z < s->zones; z++)
		n = (uint8_t)(n + (size[z] ? size[z] / 2 + 1 : 0));
	return n;
}

/* Issue one operation; `final` ones are the ALL reads of phase 3. coord:
 * the coordinator, or -1 to draw one; session: always send the token. */
static void client_issue(struct sim *s, struct client *cl, int key, uint8_t op,
			 uint8_t level, uint8_t rw, bool final, int coord,
			 bool session)
{
	uint8_t value[SIM_VALUE_MAX];
	uint16_t vlen = 0;
	uint64_t seq = ++cl->seq;
	if (op == QR_OP_PUT)
		make_value(cl->id, seq, value, &vlen);
	const struct qr_placement *cpl = topo_client_placement(s, cl, final);
	uint32_t part =
		qr_placement_partition(cpl, s->keys[key], s->key_len[key]);
	const uint8_t *reps = qr_placement_replicas(cpl, part);
	/* Smart clients mostly pick a replica; some go anywhere. */
	if (coord < 0 && level == QR_LEVEL_ANY)
		coord = any_coordinator(s, reps);
	if (coord < 0)
		coord = qr_rng_chance_ppm(&s->rng, 800000) || final
				? reps[qr_rng_below(&s->rng, s->pl.rf)]
				: any_node(s, reps);
	uint8_t rf = (uint8_t)s->pl.rf;
	uint8_t count = level == QR_LEVEL_ONE	   ? 1
			: level == QR_LEVEL_QUORUM ? (uint8_t)(rf / 2 + 1)
			: level == QR_LEVEL_ALL	   ? rf
			: level >= QR_LEVEL_LOCAL_ONE
				? zoned_count(s, reps, coord, level)
				: rw;
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = (uint64_t)cl->id << 48 | seq,
		.op = op,
		.level = level,
		.deadline_us =
			final ? 200000
			      : 20000 + (uint32_t)qr_rng_below(&s->rng, 30000),
		.key = (const uint8_t *)s->keys[key],
		.key_len = s->key_len[key],
		.value = value,
		.value_len = vlen,
	};
	if (level == QR_LEVEL_RW) {
		if (op == QR_OP_GET)
			m.r = rw;
		else
			m.w = rw;
	}
	/* Level ANY acks once a hint is durable: no R + W > N promise. */
	if (level == QR_LEVEL_ANY)
		count = 0;
	/* Half the operations send the session token: reads must then see
	 * the session's own writes and reads (checker (g)), whatever the
	 * level; what to do when no replica is current varies. Like
	 * libquorate, reads of at least a quorum need only be current for
	 * what the session saw below quorum (R + W > N covers the rest). */
	cl->weak = count < rf / 2 + 1;
	cl->op = op;
	cl->level = level;
	cl->count = count;
	cl->key = key;
	uint64_t token = op == QR_OP_GET && !cl->weak ? cl->token_weak
						       : cl->token;
	/* Final reads carry the client's whole token: once the faults stop,
	 * watermarks must move again (hints delivered, hand-offs done), or
	 * they would end STALE and fail (e). */
	if (final && cl->token)
		m.min_version = cl->token;
	else if (!final && token &&
		 (session || qr_rng_chance_ppm(&s->rng, 500000))) {
		m.min_version = token;
		uint64_t r = qr_rng_below(&s->rng, 3);
		if (op == QR_OP_GET)
			m.flags = r == 0   ? 0
				  : r == 1 ? QR_MSGF_STALE_ERROR
					   : QR_MSGF_STALE_QUORUM;
	}
	cl->busy = true;
	cl->req_id = m.req_id;
	cl->op_index = check_begin(&s->check, cl->id, seq, key, op, count,
				   m.min_version, s->now_us, final);
	/* Half the writes retry (same request) after UNAVAILABLE. */
	cl->retries_left = op != QR_OP_GET && !final &&
					   qr_rng_chance_ppm(&s->rng, 500000)
				   ? 2
				   : 0;
	cl->attempt = 0;
	cl->timeout_us = m.deadline_us + 5000;
	sim_ev_at(s, s->now_us + cl->timeout_us, EV_CLIENT_TIMEOUT, 0, cl->id,
	      m.req_id);
	sim_vlog(s, "c%u#%" PRIu64 " sends op %u level %u key-%d to node %d",
	     cl->id, seq, op, level, key, coord);
	client_send(s, cl, coord, &m);
}

/* Value ids for checker (i): (client + 1) << 48 | seq, as make_value
 * wrote them; 0 if the bytes are not such a value. */
static uint64_t value_id(const uint8_t *v, uint16_t len)
{
	unsigned client;
	uint64_t seq;
	char buf[40];
	size_t n = QR_MIN((size_t)len, sizeof(buf) - 1);
	memcpy(buf, v, n);
	buf[n] = 0;
	if (sscanf(buf, "v%u.%" SCNu64 ".", &client, &seq) != 2 ||
	    client >= SIM_CLIENTS_MAX || !sim_value_matches((uint16_t)client,
							     seq, v, len))
		return 0;
	return (uint64_t)(client + 1) << 48 | seq;
}

static int lagging_replica(struct sim *s, const uint8_t *reps, uint64_t mask,
			   uint64_t wrote_us);

/* A CASPaxos op on CAS key k (one of s->ncas). */
static void cas_issue(struct sim *s, struct client *cl, int k)
{
	uint8_t value[SIM_VALUE_MAX];
	uint16_t vlen = 0;
	uint64_t seq = ++cl->seq;
	int key = s->nkeys + k;
	struct qr_version seen = cl->cas_seen[k];
	uint64_t r = qr_rng_below(&s->rng, 100);
	uint8_t op = r < 30   ? QR_OP_LIN_GET
		     : r < 55 ? QR_OP_PUT_IF_ABSENT
		     : r < 85 ? QR_OP_PUT_IF_VERSION
			      : QR_OP_DELETE_IF_VERSION;
	if (qr_version_is_none(seen) &&
	    (op == QR_OP_PUT_IF_VERSION || op == QR_OP_DELETE_IF_VERSION))
		op = QR_OP_PUT_IF_ABSENT;
	/* Some plain quorum reads of CAS keys: their read repair installs
	 * states at replicas behind the acceptors' promises (the "unsure"
	 * path of docs/protocol.md). Not in (i)'s history: they change no
	 * state, and a plain read is not linearizable. */
	bool plain = qr_rng_chance_ppm(&s->rng, 150000);
	if (plain)
		op = QR_OP_GET;
	if (op == QR_OP_DELETE_IF_VERSION)
		s->cas_deleted[k] = true;
	if (op == QR_OP_PUT_IF_ABSENT || op == QR_OP_PUT_IF_VERSION)
		make_value(cl->id, seq, value, &vlen);
	const struct qr_placement *cpl = topo_client_placement(s, cl, false);
	uint32_t part =
		qr_placement_partition(cpl, s->keys[key], s->key_len[key]);
	const uint8_t *reps = qr_placement_replicas(cpl, part);
	int coord = qr_rng_chance_ppm(&s->rng, 800000)
			    ? reps[qr_rng_below(&s->rng, s->pl.rf)]
			    : any_node(s, reps);
	/* Some plain reads are the session's own at ONE with its token,
	 * through a replica that was not in its last CAS answer's quorum
	 * or restarted since (issue 13 item 3: CAS keys read with tokens;
	 * checked in cas_done). */
	uint8_t level = QR_LEVEL_QUORUM;
	uint64_t r2 = plain ? qr_rng_below(&s->rng, 10) : 9;
	int lag = r2 < 5 && cl->token
			  ? lagging_replica(s, reps, cl->cas_mask[k],
					    cl->cas_us[k])
			  : -1;
	if (lag >= 0) {
		level = QR_LEVEL_ONE;
		coord = lag;
	} else if (r2 < 7) {
		level = QR_LEVEL_ALL;
	}
	cl->cas_token_read = lag >= 0;
	cl->level = level;
	cl->count = level == QR_LEVEL_ONE   ? 1
		    : level == QR_LEVEL_ALL ? (uint8_t)s->pl.rf
					    : (uint8_t)(s->pl.rf / 2 + 1);
	cl->cas_token = lag >= 0 ? cl->token : 0;
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = (uint64_t)cl->id << 48 | seq,
		.op = op,
		.level = level,
		.min_version = cl->cas_token,
		.deadline_us = 20000 + (uint32_t)qr_rng_below(&s->rng, 30000),
		.key = (const uint8_t *)s->keys[key],
		.key_len = s->key_len[key],
		.value = value,
		.value_len = vlen,
	};
	if (op == QR_OP_PUT_IF_VERSION || op == QR_OP_DELETE_IF_VERSION)
		m.expected = seen;
	cl->busy = true;
	cl->is_cas = true;
	cl->cas_op = op;
	cl->cas_key = k;
	cl->req_id = m.req_id;
	cl->cas_plain = plain;
	cl->op_index = plain ? -1
			     : lin_begin(&s->lin, k, op,
					 vlen ? (uint64_t)(cl->id + 1) << 48 |
							seq
					      : 0,
					 m.expected, s->now_us);
	cl->retries_left =
		op != QR_OP_LIN_GET && qr_rng_chance_ppm(&s->rng, 500000) ? 2
									: 0;
	cl->attempt = 0;
	cl->timeout_us = m.deadline_us + 5000;
	sim_ev_at(s, s->now_us + cl->timeout_us, EV_CLIENT_TIMEOUT, 0, cl->id,
	      m.req_id);
	sim_vlog(s, "c%u#%" PRIu64 " sends CAS op %u cas-%d to node %d", cl->id,
	     seq, op, k, coord);
	client_send(s, cl, coord, &m);
}

/* Checker (i), at once: a put-if-absent or put-if-version answered
 * PRECONDITION_FAILED names the current version; if that version's state
 * is the op's own value (values are unique per op), the op did take
 * effect and the answer says it did not: for put-if-version loops a
 * double apply (issue 13 bug 4: a retry after UNAVAILABLE that forgot its
 * first round's accepted ballot). A history check would see it only if a
 * later read showed the value. */
static void cas_not_own(struct sim *s, const struct client *cl, int status,
			struct qr_version v)
{
	uint64_t h;
	if (status != QR_EPRECONDITION || cl->cas_plain ||
	    (cl->cas_op != QR_OP_PUT_IF_ABSENT &&
	     cl->cas_op != QR_OP_PUT_IF_VERSION) ||
	    !oracle_state(s->orc, s->nkeys + cl->cas_key, v, &h))
		return;
	uint8_t value[SIM_VALUE_MAX];
	uint16_t vlen;
	uint64_t seq = cl->req_id & ((1ull << 48) - 1);
	make_value(cl->id, seq, value, &vlen);
	if (h == oracle_value_hash(value, vlen, false))
		sim_fail(s, "(i)",
			 "cas-%d: c%u's op %" PRIu64 " answered "
			 "PRECONDITION_FAILED against version %" PRIu64
			 ".%u, whose state is its own value",
			 cl->cas_key, cl->id, seq, v.hlc, v.node);
}

static void cas_done(struct sim *s, struct client *cl, const struct qr_msg *m)
{
	int status = m->status;
	/* The dedupe table is not durable: after a coordinator restart a
	 * retry is a new execution, which may fail its precondition against
	 * the first one's write. Its answer says nothing then. */
	if (s->hosts[cl->coord].incarnation != cl->coord_incarnation &&
	    status == QR_EPRECONDITION)
		status = QR_EUNAVAILABLE;
	uint64_t val = 0;
	if (status == 0 && m->value_len)
		val = value_id(m->value, m->value_len);
	cas_not_own(s, cl, status, m->version);
	if (!cl->cas_plain)
		lin_end(&s->lin, cl->cas_key, cl->op_index, s->now_us, status,
			val, m->version);
	int k = cl->cas_key;
	bool seen_ok = status == 0 || status == QR_EPRECONDITION ||
		       status == QR_ENOTFOUND;
	/* (g) for CAS keys: a read with the session's token returns at
	 * least every version of the key the session saw (answers of its
	 * CAS ops, its reads), unless it finds nothing at all after a
	 * delete (a tombstone may have been collected). */
	struct qr_version mine = cl->cas_tok_seen[k];
	if (cl->cas_plain && cl->cas_token_read &&
	    (status == 0 || status == QR_ENOTFOUND) &&
	    !qr_version_is_none(mine) && mine.hlc <= cl->cas_token &&
	    qr_version_cmp(m->version, mine) < 0 &&
	    !(qr_version_is_none(m->version) && s->cas_deleted[k]))
		sim_fail(s, "(g)",
			 "cas-%d: ONE read by c%u with token %" PRIu64
			 " returned %" PRIu64 ".%u, older than the %" PRIu64
			 ".%u its session saw",
			 k, cl->id, cl->cas_token, m->version.hlc,
			 m->version.node, mine.hlc, mine.node);
	if (seen_ok && !qr_version_is_none(m->version))
		oracle_observed(s->orc, s->nkeys + k, m->version);
	if (seen_ok) {
		if (qr_version_cmp(m->version, mine) > 0)
			cl->cas_tok_seen[k] = m->version;
		/* CAS answers move the session token like any read */
		if (m->version.hlc > cl->token)
			cl->token = m->version.hlc;
		if (!cl->cas_plain || cl->cas_token_read) {
			cl->cas_mask[k] = m->replica_mask;
			cl->cas_us[k] = s->now_us;
		}
	}
	s->res->ops++;
	s->res->cas_ops++;
	if (status == 0 || status == QR_EPRECONDITION ||
	    status == QR_ENOTFOUND)
		s->res->cas_ok++;
	if (status == 0 || status == QR_EPRECONDITION ||
	    status == QR_ENOTFOUND) {
		s->res->ops_ok++;
		/* a plain read's version may name a state never chosen */
		if (!cl->cas_plain)
			cl->cas_seen[cl->cas_key] = m->version;
	} else if (status == QR_EUNAVAILABLE) {
		s->res->ops_unavailable++;
	} else if (status == QR_ETIMEOUT) {
		s->res->ops_timeout++;
	} else {
		s->res->ops_other_err++;
	}
	sim_vlog(s, "c%u CAS cas-%d: %s version %" PRIu64 ".%u", cl->id,
	     cl->cas_key, qr_strerror(m->status), m->version.hlc,
	     m->version.node);
	cl->is_cas = false;
}

/* A replica of partition reps that is up and either missed the session's
 * last write (not in mask) or restarted after it (it may have lost it):
 * -1 if none. */
static int lagging_replica(struct sim *s, const uint8_t *reps, uint64_t mask,
			   uint64_t wrote_us)
{
	int start = (int)qr_rng_below(&s->rng, s->pl.rf);
	for (int j = 0; j < s->pl.rf; j++) {
		int r = reps[(start + j) % s->pl.rf];
		if (s->hosts[r].up &&
		    (!(mask >> r & 1) || s->hosts[r].restarted_us > wrote_us))
			return r;
	}
	return -1;
}

/*
 * A session reads one of its own keys back at ONE, with its token,
 * through a replica that did not acknowledge its last write of the key or
 * restarted since (issue 13 item 3): the closed timestamps and the
 * durability of acknowledgements are what keep that read current
 * (checker (g)). False if the session has no such key.
 */
static bool session_read(struct sim *s, struct client *cl)
{
	int keys[SIM_KEYS_MAX], coords[SIM_KEYS_MAX], n = 0;
	for (int k = 0; k < s->nkeys; k++) {
		if (!cl->wmask[k])
			continue;
		uint32_t part = qr_placement_partition(s->cpl, s->keys[k],
						       s->key_len[k]);
		int r = lagging_replica(s, qr_placement_replicas(s->cpl, part),
					cl->wmask[k], cl->wrote_us[k]);
		if (r >= 0) {
			keys[n] = k;
			coords[n++] = r;
		}
	}
	if (!n || !cl->token)
		return false;
	int i = (int)qr_rng_below(&s->rng, (uint64_t)n);
	client_issue(s, cl, keys[i], QR_OP_GET, QR_LEVEL_ONE, 1, false,
		     coords[i], true);
	return true;
}

static void client_next(struct sim *s, struct client *cl)
{
	if (cl->stopped || cl->busy)
		return;
	if (s->now_us >= s->faults_end_us) {
		cl->stopped = true;
		return;
	}
	if (s->ncas && qr_rng_chance_ppm(&s->rng, s->cas_ppm)) {
		int k = (int)qr_rng_below(&s->rng, (uint64_t)s->ncas);
		if (!lin_full(&s->lin, k)) {
			cas_issue(s, cl, k);
			return;
		}
	}
	if (qr_rng_chance_ppm(&s->rng, s->session_ppm) && session_read(s, cl))
		return;
	int key = (int)qr_rng_below(&s->rng, (uint64_t)s->nkeys);
	uint64_t r = qr_rng_below(&s->rng, 100);
	uint8_t op = r < 50 ? QR_OP_GET : r < 88 ? QR_OP_PUT : QR_OP_DELETE;
	r = qr_rng_below(&s->rng, 100);
	uint8_t level = r < 25	 ? QR_LEVEL_ONE
			: r < 70 ? QR_LEVEL_QUORUM
			: r < 85 ? QR_LEVEL_ALL
				 : QR_LEVEL_RW;
	uint8_t rw = (uint8_t)(1 + qr_rng_below(&s->rng, s->pl.rf));
	if (op != QR_OP_GET && qr_rng_chance_ppm(&s->rng, 30000))
		level = QR_LEVEL_ANY;
	/* Not during a membership change's seeds: how the zone levels
	 * count over the union of two replica sets is not modelled by
	 * zoned_count (their placement stays zone-aware). */
	else if (s->zones > 1 && !s->topo.kind &&
		 qr_rng_chance_ppm(&s->rng, 300000))
		level = (uint8_t)(QR_LEVEL_LOCAL_ONE + qr_rng_below(&s->rng, 3));
	client_issue(s, cl, key, op, level, rw, false, -1, false);
}

/* A plain operation ended: remember it (a duplicate may be in flight). */
static void client_plain_ended(struct sim *s, struct client *cl)
{
	unsigned r = cl->nrecent++ % 8;
	cl->recent[r].op_index = cl->op_index;
	cl->recent[r].coord = cl->coord;
	cl->recent[r].end_us = s->now_us;
}

static void client_done(struct sim *s, struct client *cl)
{
	cl->busy = false;
	if (!cl->stopped)
		sim_ev_at(s, s->now_us + qr_rng_below(&s->rng, 3000),
		      EV_CLIENT_NEXT, 0, cl->id, 0);
}

static void client_reply(struct sim *s, struct client *cl,
			 const struct qr_msg *mp);

static void client_on_reply(struct sim *s, uint64_t handle, const uint8_t *f,
			    size_t len)
{
	QR_ASSERT(handle >= 1 && handle <= (uint64_t)s->nclients);
	struct client *cl = &s->clients[handle - 1];
	struct qr_frame_reader r;
	struct qr_msg m;
	struct qr_frame_hdr hdr;
	struct qr_reasm_msg whole;
	struct qr_frag frag;
	QR_ASSERT(qr_wire_frame_open(&r, f, len, 0x51, &hdr) == 0);
	qr_reasm_expire(&cl->reasm, s->now_us * 1000);
	while (qr_wire_next(&r, &m) > 0) {
		if (m.type == QR_MSG_FRAG) {
			/* A long reply: whole, or nothing (reasm.h A1). */
			qr_wire_frag_of(&m, hdr.src_node, &frag);
			if (qr_reasm_add(&cl->reasm, &frag, s->now_us * 1000,
					 &whole) != 1)
				continue;
			QR_ASSERT(qr_wire_long_decode(whole.data, whole.len,
						      &m) == 0);
			client_reply(s, cl, &m);
			qr_reasm_release(&cl->reasm, &whole);
			continue;
		}
		if (m.type == QR_MSG_FRAG_NACK) {
			/* the coordinator lacks chunks of our long request */
			if (cl->busy && cl->frame_len == 0 &&
			    hdr.src_node == cl->coord)
				client_send_long(s, cl, &m);
			continue;
		}
		QR_ASSERT(m.type == QR_MSG_CLIENT_REPLY);
		client_reply(s, cl, &m);
	}
}

/* One CLIENT_REPLY for cl (from a frame, or reassembled). */
static void client_reply(struct sim *s, struct client *cl,
			 const struct qr_msg *mp)
{
	struct qr_msg m = *mp;
	do {
		if (!cl->busy || m.req_id != cl->req_id)
			continue; /* a duplicate, or after our timeout */
		if (m.status == QR_EUNAVAILABLE && cl->retries_left) {
			cl->retries_left--;
			client_retry(s, cl);
			continue;
		}
		if (cl->is_cas) {
			cas_done(s, cl, &m);
			client_done(s, cl);
			continue;
		}
		if (s->hosts[cl->coord].incarnation != cl->coord_incarnation)
			check_may_restamp(&s->check, cl->op_index);
		s->check.hlc_ms = sim_hlc_ms(s);
		check_end(&s->check, cl->op_index, s->now_us, m.status,
			  m.version, (m.flags & QR_MSGF_TOMBSTONE) != 0,
			  m.value, m.value_len);
		client_plain_ended(s, cl);
		/* Sometimes the coordinator crashes right after answering a
		 * write: it forgets what it had in flight, and its unsynced
		 * WAL tail (the orphan hand-off's case). */
		if (m.status == 0 && s->faults_on &&
		    cl->op != QR_OP_GET &&
		    s->hosts[cl->coord].up &&
		    qr_rng_chance_ppm(&s->rng, 20000)) {
			sim_vlog(s, "crash node %d right after it answered", cl->coord);
			node_crash(s, &s->hosts[cl->coord]);
		}
		if (m.status == 0 && cl->op != QR_OP_GET) {
			cl->wmask[cl->key] = m.replica_mask;
			cl->wrote_us[cl->key] = s->now_us;
		}
		if ((m.status == 0 || m.status == QR_ENOTFOUND) &&
		    !qr_version_is_none(m.version))
			oracle_observed(s->orc, cl->key, m.version);
		if (m.status == 0 || m.status == QR_ENOTFOUND) {
			if (m.version.hlc > cl->token)
				cl->token = m.version.hlc;
			if (cl->weak && m.version.hlc > cl->token_weak)
				cl->token_weak = m.version.hlc;
		}
		client_done(s, cl);
	} while (0);
}

/* ---- faults ------------------------------------------------------------- */

/* A clock jump beyond max_offset (1,100-3,100 ms, either way) on one node,
 * for 5-105 ms, then back within +-200 ms (issue 13 bug 6): the node must
 * keep it out of its HLC and refuse clients meanwhile (checker (n)).
 * Drawn from a stream of its own. */
static void clock_jump(struct sim *s)
{
	if (!qr_rng_chance_ppm(&s->jump_rng, 60000))
		return;
	struct host *h = &s->hosts[qr_rng_below(&s->jump_rng, (uint64_t)s->n)];
	/* Not on a node that is down or has just started (within 4
	 * heartbeat periods): one started with its clock already out of
	 * bounds has no trusted reading, a documented limit of the guard
	 * (docs/protocol.md, clock guard "Limits"), not a case it covers. */
	if (h->jumped || !h->up || s->now_us - h->restarted_us < 20000)
		return;
	int64_t by = 1100 + (int64_t)qr_rng_below(&s->jump_rng, 2001);
	h->skew_ms = qr_rng_chance_ppm(&s->jump_rng, 500000) ? by : -by;
	h->jumped = true;
	sim_vlog(s, "clock node %u jumps: skew %" PRId64 "ms", h->id, h->skew_ms);
	sim_ev_at(s, s->now_us + 5000 + qr_rng_below(&s->jump_rng, 100000),
	      EV_CLOCK_BACK, h->id, 0, 0);
}

/* Node h's disk fails, fills or has space again: every shard's WAL. */
static void host_set_wal_err(struct sim *s, struct host *h, int err)
{
	h->wal_err = err;
	for (int k = 0; h->up && k < s->shards; k++)
		qr_core_set_wal_error(sim_core_of(s, h->id, k)->core, err);
}

static void fault_step(struct sim *s)
{
	if (!s->faults_on)
		return;
	uint64_t r = qr_rng_below(&s->rng, 100);
	if (r < 25) {
		/* Partition: a random side, symmetric or one way. */
		uint32_t side = (uint32_t)qr_rng_below(&s->rng, 1u << s->n);
		bool oneway = qr_rng_chance_ppm(&s->rng, 300000);
		for (int a = 0; a < s->n; a++)
			for (int b = 0; b < s->n; b++) {
				bool cut =
					((side >> a) & 1) != ((side >> b) & 1);
				if (oneway && ((side >> a) & 1))
					cut = false;
				s->blocked[a][b] = cut;
			}
		s->res->partitions++;
		sim_vlog(s, "partition side=%x oneway=%d", side, oneway);
	} else if (r < 45) {
		memset(s->blocked, 0, sizeof(s->blocked));
		sim_vlog(s, "heal");
	} else if (r < 65) {
		struct host *h =
			&s->hosts[qr_rng_below(&s->rng, (uint64_t)s->n)];
		if (h->up)
			node_crash(s, h);
		else if (!h->wiped && !h->held) /* its disk is being replaced */
			node_start(s, h);
	} else if (r < 80) {
		struct host *h =
			&s->hosts[qr_rng_below(&s->rng, (uint64_t)s->n)];
		if (!h->up && !h->wiped && !h->held) {
			node_start(s, h);
			sim_vlog(s, "restart node %u", h->id);
		}
	} else {
		/* Clock jump, either way, keeping pairwise skew < max_offset
		 * (500 ms): every skew stays within +-200 ms. */
		struct host *h =
			&s->hosts[qr_rng_below(&s->rng, (uint64_t)s->n)];
		h->skew_ms = (int64_t)qr_rng_below(&s->rng, 401) - 200;
		h->jumped = false;
		sim_vlog(s, "clock node %u skew %" PRId64 "ms", h->id, h->skew_ms);
	}
	clock_jump(s);
	disk_wipe(s);
	/* Disk full (or failed) on one node, or space back: its WAL
	 * refuses appends and it must stop acking writes and say so (issue
	 * 12 item 5; checker (j)). */
	if (qr_rng_chance_ppm(&s->disk_rng, 80000)) {
		struct host *h =
			&s->hosts[qr_rng_below(&s->disk_rng, (uint64_t)s->n)];
		host_set_wal_err(s, h,
				 h->wal_err ? 0
				 : qr_rng_chance_ppm(&s->disk_rng, 250000)
					 ? QR_EIO
					 : QR_ENOSPC);
		sim_vlog(s, "disk node %u: %s", h->id, qr_strerror(h->wal_err));
	}
	sim_ev_at(s, s->now_us + 5000 + qr_rng_below(&s->rng, 60000), EV_FAULT, 0,
	      0, 0);
}

static void clock_back(struct sim *s, struct host *h)
{
	if (!h->jumped)
		return;
	h->jumped = false;
	h->skew_ms = (int64_t)qr_rng_below(&s->jump_rng, 401) - 200;
	sim_vlog(s, "clock node %u back, skew %" PRId64 "ms", h->id, h->skew_ms);
}

static void faults_stop(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		clock_back(s, &s->hosts[i]);
	s->faults_on = false;
	memset(s->blocked, 0, sizeof(s->blocked));
	for (int i = 0; i < s->n; i++)
		host_set_wal_err(s, &s->hosts[i], 0); /* space is back */
	for (int i = 0; i < s->n; i++)
		if (!s->hosts[i].up && !s->hosts[i].wiped &&
		    !s->hosts[i].held) {
			node_start(s, &s->hosts[i]);
			sim_vlog(s, "final restart node %d", i);
		}
}

void sim_node_crash(struct sim *s, struct host *h)
{
	node_crash(s, h);
}

void sim_stretch_faults(struct sim *s, uint64_t until)
{
	if (s->faults_on)
		stretch_faults(s, until);
}

static void values_audit(struct sim *s)
{
	/* (w) no long message failed its CRC once assembled (reasm.h A1):
	 * the simulated network loses, duplicates and reorders frames but
	 * never corrupts one, so a failure means a sender put the bytes of
	 * two messages under one identity (a NACK answered from bytes newer
	 * messages overwrote in the sender's ring: long.h V5). */
	for (int i = 0; i < s->n * s->shards && s->res->ok; i++)
		if (s->cores[i].core &&
		    qr_core_stats(s->cores[i].core)->long_corrupt)
			sim_fail(s, "(w)",
				 "node %u shard %u: a long message failed "
				 "its CRC once assembled",
				 s->cores[i].id, s->cores[i].shard);
	for (int i = 0; i < s->n * s->shards && s->res->ok; i++)
		if (s->cores[i].core &&
		    qr_core_values_audit(s->cores[i].core) != 0)
			sim_fail(s, "(v)",
				 "node %u shard %u: a value buffer is leaked, "
				 "held twice, or held by a free slot",
				 s->cores[i].id, s->cores[i].shard);
}

/* ---- phase 3 ------------------------------------------------------------ */

/* A membership change still runs when the final reads are due: they wait
 * for it (they read back through the new placement), and the settle
 * after them moves with them. */
static void final_wait(struct sim *s)
{
	s->final_us = s->now_us + 10000;
	s->end_us = s->ae_only ? s->final_us + 600000
			       : s->final_us + 150000 +
					 (uint64_t)s->nkeys * 3000;
}

static void final_reads(struct sim *s)
{
	/* One ALL read per key, spread over the (idle) clients. */
	s->final_started = true;
	for (int k = 0; k < s->nkeys; k++) {
		struct client *cl = &s->clients[k % s->nclients];
		QR_ASSERT(!cl->busy);
		(void)cl;
	}
	for (int k = 0; k < s->nkeys; k++) {
		/* Clients read one key at a time: queue the rest. */
		sim_ev_at(s, s->now_us + (uint64_t)k * 3000, EV_CLIENT_NEXT, 1,
		      (uint32_t)(k % s->nclients), (uint64_t)k);
	}
}

/* Highest HLC milliseconds any node has reached: "now" for the grace. */
uint64_t sim_hlc_ms(struct sim *s)
{
	uint64_t ms = 0;
	for (int i = 0; i < s->n * s->shards; i++)
		if (s->cores[i].h->up)
			ms = QR_MAX(ms, QR_HLC_MS(qr_core_hlc(s->cores[i].core)->last));
	return ms;
}

/* A tombstone the GC may legitimately have collected: older than the
 * grace by every node's clock (the oldest clock may be 400 ms behind). */
static bool sim_collectable(struct sim *s, struct qr_version v)
{
	return QR_HLC_MS(v.hlc) + SIM_GRACE_MS < sim_hlc_ms(s);
}

static void check_convergence(struct sim *s)
{
	for (int k = 0; k < s->nkeys; k++) {
		/* The final placement (a change finished before the final
		 * reads: final_wait). */
		uint32_t part = qr_placement_partition(s->cpl, s->keys[k],
						       s->key_len[k]);
		const uint8_t *reps = qr_placement_replicas(s->cpl, part);
		int sh = qr_placement_shard(s->cpl, part);
		/* The newest entry any replica holds; then every replica
		 * must hold exactly it, or nothing if it is a tombstone
		 * that may have been collected. */
		/* Read only once best_i >= 0; zeroed so that is visible. */
		struct qr_store_view best = {0};
		int best_i = -1;
		for (int i = 0; i < s->pl.rf; i++) {
			struct qr_store_view v;
			if (qr_store_get(qr_core_store(
						 sim_core_of(s, reps[i], sh)->core),
					 s->keys[k], s->key_len[k], &v) == 0 &&
			    (best_i < 0 ||
			     qr_version_cmp(v.version, best.version) > 0)) {
				best = v;
				best_i = i;
			}
		}
		for (int i = 0; best_i >= 0 && i < s->pl.rf; i++) {
			struct qr_store_view v;
			int rc = qr_store_get(
				qr_core_store(sim_core_of(s, reps[i], sh)->core),
				s->keys[k], s->key_len[k], &v);
			bool same = rc == 0 &&
				    qr_version_cmp(v.version, best.version) ==
					    0 &&
				    v.tombstone == best.tombstone &&
				    v.value_len == best.value_len &&
				    memcmp(v.value, best.value, v.value_len) ==
					    0;
			bool collected = rc != 0 && best.tombstone &&
					 sim_collectable(s, best.version);
			if (!same && !collected) {
				sim_fail(s, "(e)",
					 "key %s: replica %u holds %s%" PRIu64
					 ".%u, replica %u holds %s%" PRIu64
					 ".%u",
					 s->keys[k], reps[best_i],
					 best.tombstone ? "tombstone " : "",
					 best.version.hlc, best.version.node,
					 reps[i], rc ? "nothing " : "",
					 rc ? 0 : v.version.hlc,
					 rc ? 0 : v.version.node);
				return;
			}
		}
		/* (a): what the replicas hold is at least every acked write
		 * of the key; nothing at all only if the newest acked write
		 * is a delete whose tombstone may have been collected. */
		struct qr_version held =
			best_i < 0 ? QR_VERSION_NONE : best.version;
		struct qr_version acked;
		bool del = false;
		if (!check_max_acked(&s->check, k, &acked, &del))
			continue;
		/* Collected: the newest acked write is a delete, or an
		 * unacknowledged delete may have been applied above it. */
		if (best_i < 0 && sim_collectable(s, acked) &&
		    (del || check_unacked_delete(&s->check, k)))
			continue;
		if (best_i < 0 && del)
			sim_fail(s, "(a)",
				 "key %s: tombstone of acknowledged delete "
				 "%" PRIu64 ".%u collected before the grace",
				 s->keys[k], acked.hlc, acked.node);
		else if (qr_version_cmp(held, acked) < 0)
			sim_fail(s, "(a)",
				 "key %s: acknowledged %s %" PRIu64
				 ".%u lost; replicas hold %s%" PRIu64 ".%u",
				 s->keys[k], del ? "delete" : "write",
				 acked.hlc, acked.node,
				 best_i >= 0 && best.tombstone ? "tombstone "
							       : "",
				 held.hlc, held.node);
	}
}

/* ---- the run ------------------------------------------------------------ */

static void deliver_node(struct sim *s, struct event *e)
{
	struct node *nd = &s->cores[e->node];
	if (!nd->h->up)
		return;
	if (e->len >= 24 + QR_AUTH_TRAILER_BYTES && e->data[8] != 0xff)
		oracle_frame_in(s->orc, nd->id, e->data,
				e->len - QR_AUTH_TRAILER_BYTES);
	qr_core_on_frame(nd->core, e->arg2, e->data, e->len);
	node_after(s, nd);
}

static void handle(struct sim *s, struct event *e)
{
	trace_u64(s, e->at_us);
	trace_u64(s, (uint64_t)e->type << 32 | e->node);
	if (e->data)
		trace_mix(s, e->data, e->len);
	switch (e->type) {
	case EV_DELIVER_NODE:
		deliver_node(s, e);
		break;
	case EV_DELIVER_CLIENT:
		client_on_reply(s, e->arg2, e->data, e->len);
		break;
	case EV_TICK: {
		struct node *nd = &s->cores[e->node];
		if (!nd->h->up || nd->h->incarnation != e->arg)
			break;
		qr_core_tick(nd->core);
		node_after(s, nd);
		topo_news(s, nd->h);
		sim_ev_at(s, s->now_us + 250, EV_TICK, nd->ix, nd->h->incarnation, 0);
		break;
	}
	case EV_WAL_DONE: {
		struct node *nd = &s->cores[e->node];
		if (!nd->h->up || nd->h->incarnation != e->arg)
			break; /* crashed meanwhile: that batch never landed */
		nd->batch_inflight = false;
		for (uint64_t i = nd->durable; i < e->arg2; i++) {
			struct qr_wal_record rec = nd->log[i].r;
			rec.key = nd->log[i].key;
			rec.value = nd->log[i].value;
			char detail[256];
			if (!oracle_durable(s->orc, nd->id, nd->shard, &rec,
					    detail,
					    sizeof(detail)))
				sim_fail(s, "(d) WAL", "%s", detail);
		}
		nd->durable = e->arg2;
		dur_advance(nd);
		qr_core_on_wal_durable(nd->core, e->arg2);
		node_after(s, nd);
		break;
	}
	case EV_CLIENT_NEXT: {
		struct client *cl = &s->clients[e->arg];
		if (e->node == 1) { /* a final ALL read of key arg2 */
			if (cl->busy) {
				sim_ev_at(s, s->now_us + 1000, EV_CLIENT_NEXT, 1,
				      e->arg, e->arg2);
				break;
			}
			client_issue(s, cl, (int)e->arg2, QR_OP_GET,
				     QR_LEVEL_ALL, 0, true, -1, false);
		} else {
			client_next(s, cl);
		}
		break;
	}
	case EV_CLIENT_TIMEOUT: {
		struct client *cl = &s->clients[e->arg];
		if (!cl->busy || cl->req_id != e->arg2 ||
		    cl->attempt != e->node)
			break;
		if (cl->is_cas) {
			struct qr_msg t = {.status = QR_ETIMEOUT};
			cas_done(s, cl, &t);
			client_done(s, cl);
			break;
		}
		check_end(&s->check, cl->op_index, s->now_us, QR_ETIMEOUT,
			  QR_VERSION_NONE, false, NULL, 0);
		client_plain_ended(s, cl);
		client_done(s, cl);
		break;
	}
	case EV_FAULT:
		fault_step(s);
		break;
	case EV_CLOCK_BACK:
		clock_back(s, &s->hosts[e->node]);
		break;
	case EV_SNAP:
		snap_event(s, e);
		break;
	case EV_TOPO:
		topo_event(s, e);
		break;
	case EV_RESTART: {
		struct host *h = &s->hosts[e->node];
		if (h->up || h->incarnation != e->arg || h->held)
			break; /* the fault schedule restarted it already */
		if (h->wiped) {
			rebuild_start(s, h);
			break;
		}
		node_start(s, h);
		sim_vlog(s, "restart node %u after its crash", h->id);
		break;
	}
	}
}

static uint64_t opt_cas_draw(uint64_t seed)
{
	uint64_t x = seed ^ 0x6361737061786f73ull; /* "caspaxos" */
	return qr_splitmix64(&x);
}

/* The cluster: nodes, rf, zones, shards and the placement (two of them
 * for a membership change: membership.c). Returns rf. */
static int setup_cluster(struct sim *s, bool change)
{
	struct qr_rng *g = &s->rng;
	s->n = s->opt->nodes ? s->opt->nodes : 3 + (int)qr_rng_below(g, 5);
	/* A membership change needs a node beside rf members (the spare
	 * node of a join, the one that leaves): 4 unless --nodes says. */
	if (change && s->n < 4 && !s->opt->nodes)
		s->n = 4;
	QR_ASSERT(s->n >= 1 && s->n <= SIM_NODES_MAX);
	int rf = s->n <= 3 ? s->n
			   : 3 + (int)qr_rng_below(g, (uint64_t)(s->n - 2));
	if (rf > s->n)
		rf = s->n;
	if (change && rf > s->n - 1)
		rf = s->n - 1; /* rf <= the members before and after */
	/* A third of the seeds put the nodes in 2 zones (node % 2): zone
	 * placement, and the LOCAL / EACH levels (client_draw_level). Drawn
	 * from a stream of its own (the other seeds run as they did). */
	uint64_t zone_draw = opt_cas_draw(s->opt->seed ^ 0x7a6f6e6573ull);
	s->zones = zone_draw % 3 == 0 ? 2 : 1;
	uint8_t zone[SIM_NODES_MAX];
	for (int n = 0; n < s->n; n++)
		zone[n] = (uint8_t)(n % s->zones);
	/* A third of the seeds run 2 shards per node (issue 13 item 3:
	 * each a core with its own store and WAL, partition p on shard
	 * p % 2 as in quorated), drawn from a stream of their own (the
	 * other seeds run as they did; the regression seeds of meson.build
	 * are among them). --shards fixes it. */
	s->shards = s->opt->shards
			    ? s->opt->shards
			    : opt_cas_draw(s->opt->seed ^ SIM_SHARD_SALT) % 3 == 0
				      ? 2
				      : 1;
	QR_ASSERT(s->shards >= 1 && s->shards <= SIM_SHARDS_MAX);
	if (change)
		topo_setup(s, s->n, rf, zone); /* s->pl: the members before */
	else
		QR_ASSERT(qr_placement_init_zoned(&s->pl, 64, (uint16_t)s->n,
						  (uint16_t)rf,
						  (uint16_t)s->shards,
						  zone) == 0);
	s->cpl = &s->pl;
	return rf;
}

static void setup(struct sim *s)
{
	struct qr_rng *g = &s->rng;
	bool change = topo_drawn(s);
	int rf = setup_cluster(s, change);
	s->nclients = 2 + (int)qr_rng_below(g, SIM_CLIENTS_MAX - 1);
	s->nkeys = 2 + (int)qr_rng_below(g, 10);
	for (int k = 0; k < s->nkeys; k++)
		s->key_len[k] = (uint8_t)snprintf(
			s->keys[k], sizeof(s->keys[k]), "key-%d", k);
	/* Some seeds also run CASPaxos ops, on keys of their own (checker
	 * (i) models them exactly: no plain write touches them). Drawn from
	 * a stream of its own so the other seeds' draws stay as they were. */
	uint64_t cas_draw = opt_cas_draw(s->opt->seed);
	qr_rng_seed(&s->disk_rng, s->opt->seed ^ 0x6469736b66756c6cull);
	qr_rng_seed(&s->jump_rng, s->opt->seed ^ 0x636c6f636b6a6d70ull);
	/* Half the seeds take snapshots (issue 13 item 3), drawn from a
	 * stream of their own: the other half run as they did (the
	 * regression seeds of meson.build among them: this half is the
	 * one without them). */
	qr_rng_seed(&s->snap_rng, s->opt->seed ^ 0x736e617073686f74ull);
	s->snaps = opt_cas_draw(s->opt->seed ^ 0x736e6170ull) % 2 == 1;
	/* A quarter of the seeds lose a disk (issue 13 item 3, empty-disk
	 * restarts), drawn from a stream of their own likewise. */
	qr_rng_seed(&s->wipe_rng, s->opt->seed ^ 0x77697065646973ull);
	s->wipes = opt_cas_draw(s->opt->seed ^ SIM_WIPE_SALT) % 4 == 0;
	/* Not in a membership change's seeds: a rebuild refills a node from
	 * the replicas of one placement (recover.c RB1), and oracle_unique_to
	 * judges a disk's loss on it; a rebuild across a change is not
	 * modelled. */
	if (change)
		s->wipes = false;
	s->ncas = cas_draw % 2 ? 1 + (int)(cas_draw / 2 % SIM_CAS_KEYS_MAX)
			       : 0;
	/* A third of them are CAS storms: one key, most operations CAS, so
	 * proposers duel, accepts land on minorities and retries after
	 * UNAVAILABLE meet their own earlier rounds (issue 13 bug 4). */
	bool storm = s->ncas && cas_draw / 16 % 3 == 0;
	if (storm)
		s->ncas = 1;
	s->cas_ppm = storm ? 750000 : 350000;
	for (int k = 0; k < s->ncas; k++)
		s->key_len[s->nkeys + k] = (uint8_t)snprintf(
			s->keys[s->nkeys + k], sizeof(s->keys[0]), "cas-%d",
			k);
	lin_init(&s->lin, s->ncas);
	/* Network personality of this seed. */
	s->delay_min_us = 20 + (uint32_t)qr_rng_below(g, 200);
	s->delay_span_us = 1 + (uint32_t)qr_rng_below(g, 2000);
	s->tail_ppm = (uint32_t)qr_rng_below(g, 30000);
	s->tail_us = 1 + (uint32_t)qr_rng_below(g, 40000);
	s->loss_ppm = qr_rng_chance_ppm(g, 300000)
			      ? 0
			      : (uint32_t)qr_rng_below(g, 80000);
	s->dup_ppm = (uint32_t)qr_rng_below(g, 30000);
	s->faults_on = true;
	uint64_t run_us = 300000 + qr_rng_below(g, 500000);
	s->faults_end_us = run_us;
	/* The settle before the final reads covers a restarted node's
	 * hand-off, long values included (they go a few per pass: hints.c). */
	s->final_us = run_us + 400000;
	s->end_us = s->final_us + 150000 + (uint64_t)s->nkeys * 3000;
	/* Some seeds read nothing after the faults: replicas must converge by
	 * anti-entropy alone (issue 6), for keys nobody reads. */
	s->ae_only = qr_rng_chance_ppm(g, 400000);
	if (s->ae_only)
		s->end_us = s->final_us + 600000;
	/* Some seeds deliver hints late (within their 150 ms life): read
	 * repair and anti-entropy then carry more of the repair. */
	s->hint_delay_us = qr_rng_chance_ppm(g, 400000)
				   ? 40000 + qr_rng_below(g, 80000)
				   : 0;
	/* Where anti-entropy alone must converge the replicas, hints are
	 * never delivered (they would do it otherwise): kept, expired,
	 * handed off again, never sent. Not in a membership change's seeds:
	 * anti-entropy runs between a partition's replicas, and a node that
	 * lost the partition while it alone held a write (taken at ONE, or
	 * held down through the change) can pass it on only by its
	 * hand-off's hints (orphan.c): without them the checker would count
	 * as lost a write the system can only deliver that way (seed 1617
	 * of --membership: a delete at ONE on node 0, held down through a
	 * join that moved its key away). */
	if (s->ae_only && !change)
		s->hint_delay_us = UINT64_MAX;
	/* Crashes right after an acknowledgement, with the WAL's tail not
	 * durable (one in 100 to 500 such events), and sessions that read
	 * their own keys back through a lagging replica (issue 13 item 3). */
	s->ack_crash_ppm = 2000 + (uint32_t)qr_rng_below(g, 8000);
	s->session_ppm = 150000 + (uint32_t)qr_rng_below(g, 250000);
	s->orc = oracle_new(s->n, &s->pl, s->nkeys + s->ncas,
			    (const char(*)[40])s->keys, s->key_len);
	if (s->topo.kind)
		oracle_set_next(s->orc, &s->topo.next);
	for (int i = 0; i < s->n; i++) {
		struct host *h = &s->hosts[i];
		h->id = (uint16_t)i;
		for (int k = 0; k < s->shards; k++) {
			struct node *nd = sim_core_of(s, i, k);
			nd->sim = s;
			nd->h = h;
			nd->id = (uint16_t)i;
			nd->shard = (uint16_t)k;
			nd->ix = (uint16_t)(i * s->shards + k);
		}
		h->skew_ms = (int64_t)qr_rng_below(g, 401) - 200;
		node_start(s, h);
	}
	struct qr_reasm_config rc = {
		.slots = 2,
		.bytes_max = SIM_LONG_MAX,
		.per_src_max = 2,
		.timeout_ns = 50000000ull,
	};
	for (int c = 0; c < s->nclients; c++) {
		s->clients[c].id = (uint16_t)c;
		QR_ASSERT(qr_reasm_init(&s->clients[c].reasm, &rc) == 0);
		sim_ev_at(s, qr_rng_below(g, 2000), EV_CLIENT_NEXT, 0, (uint32_t)c,
		      0);
	}
	sim_ev_at(s, 5000 + qr_rng_below(g, 30000), EV_FAULT, 0, 0, 0);
	if (s->snaps)
		sim_ev_at(s, 5000 + qr_rng_below(&s->snap_rng, 30000), EV_SNAP, 0,
		      0, 0);
	if (change)
		sim_ev_at(s, topo_start_us(s, s->faults_end_us), EV_TOPO, 0, 0,
			  0);
	check_init(&s->check, s->n, rf, s->nkeys, s->res);
	s->check.verbose = s->opt->verbose;
	s->check.grace_ms = SIM_GRACE_MS;
	s->res->nodes = (uint32_t)s->n;
	s->res->shards = (uint32_t)s->shards;
	s->res->rf = (uint32_t)rf;
	s->res->keys = (uint32_t)s->nkeys;
	s->res->clients = (uint32_t)s->nclients;
}

void sim_run(const struct sim_options *opt, struct sim_result *res)
{
	struct sim *s = calloc(1, sizeof(*s));
	QR_ASSERT(s);
	memset(res, 0, sizeof(*res));
	res->ok = true;
	s->opt = opt;
	s->res = res;
	s->trace = 0xcbf29ce484222325ull;
	qr_rng_seed(&s->rng, opt->seed);
	setup(s);
	bool stopped = false;
	while (s->heap_len && res->ok) {
		struct event e = ev_pop(s);
		if (e.at_us > s->end_us) {
			free(e.data);
			break;
		}
		s->now_us = e.at_us;
		if (s->wipe_forget_us && s->now_us >= s->wipe_forget_us) {
			s->wipe_forget_us = 0;
			oracle_wipe_forget(s->orc);
		}
		if (!stopped && s->now_us >= s->faults_end_us) {
			stopped = true;
			faults_stop(s);
		}
		if (!s->final_started && s->now_us >= s->final_us &&
		    !topo_settled(s))
			final_wait(s);
		if (!s->final_started && s->now_us >= s->final_us &&
		    !s->ae_only)
			final_reads(s);
		handle(s, &e);
		free(e.data);
		if (s->check.failed)
			sim_fail(s, s->check.checker, "%s", s->check.detail);
		/* (v) the value pool (long.h V1), every 64th event: each
		 * buffer free or held by exactly one request, CAS state or
		 * hint; none leaked. */
		if ((++s->audits & 63) == 0)
			values_audit(s);
	}
	values_audit(s);
	if (res->ok && !s->ae_only && !check_finals_done(&s->check))
		sim_fail(s, "(e)", "%s", s->check.detail);
	/* (a) counts level ANY writes too when no hint was ever lost
	 * (expired or without a slot): an ANY write answered on durable
	 * hints is then on a replica. */
	int ncores = s->n * s->shards;
	for (int i = 0; i < ncores; i++)
		if (s->cores[i].core)
			s->hints_lost +=
				qr_core_stats(s->cores[i].core)->hints_lost;
	s->check.any_kept = s->hints_lost == 0;
	for (int i = 0; i < ncores && s->opt->verbose; i++) {
		struct qr_core *c = s->cores[i].core;
		if (!c)
			continue;
		const struct qr_core_stats *st = qr_core_stats(c);
		for (int d = 0; d < QR_DROP_COUNT; d++)
			if (st->drops[d])
				sim_vlog(s, "node %u shard %u dropped %" PRIu64 " (%s)",
				     s->cores[i].id, s->cores[i].shard,
				     st->drops[d], qr_core_drop_name(d));
		sim_vlog(s, "node %u shard %u: hints pending %u lost %" PRIu64
			", long in %" PRIu64 ", out %" PRIu64
			", nacks out %" PRIu64 " in %" PRIu64
			" (resent %" PRIu64 ", unknown %" PRIu64 ")"
			", orphan syncs %" PRIu64 " (active %" PRIu64
			"), watermark %" PRIu64, s->cores[i].id,
		     s->cores[i].shard, qr_core_hints_pending(c),
		     st->hints_lost, st->long_in, st->long_out,
		     st->nacks_out, st->nacks_in, st->frags_resent,
		     st->nacks_unknown,
		     st->orphan_syncs, st->orphan_active, st->watermark);
	}
	if (res->ok)
		check_convergence(s);
	/* (h) hints drained and hand-offs finished once faults stopped
	 * (unless hints were held back: anti-entropy-only seeds). */
	for (int i = 0; i < ncores && res->ok && !s->ae_only; i++) {
		struct qr_core *c = s->cores[i].core;
		if (!c)
			continue; /* a replace's dead node: its hints died */
		const struct qr_core_stats *st = qr_core_stats(c);
		if (qr_core_hints_pending(c) || st->orphan_active)
			sim_fail(s, "(h)",
				 "node %u shard %u still has %u hints (%" PRIu64
				 " created, %" PRIu64 " delivered, %" PRIu64
				 " lost)%s at the end",
				 s->cores[i].id, s->cores[i].shard,
				 qr_core_hints_pending(c),
				 st->hints_created, st->hints_delivered,
				 st->hints_lost,
				 st->orphan_active ? " and its hand-off runs" : "");
	}
	for (int k = 0; k < s->ncas && res->ok; k++) {
		char detail[sizeof(res->detail)];
		if (!lin_check_key(&s->lin, k, detail, sizeof(detail)))
			sim_fail(s, "(i)", "%s", detail);
	}
	res->lin_inconclusive = s->lin.inconclusive;
	check_latency_summary(&s->check);
	res->trace_hash = s->trace;
	res->sim_us = s->now_us;
	while (s->heap_len) {
		struct event e = ev_pop(s);
		free(e.data);
	}
	for (int i = 0; i < ncores; i++) {
		if (s->cores[i].core)
			res->tombstones_collected +=
				qr_core_stats(s->cores[i].core)
					->tombstones_collected;
		qr_core_destroy(s->cores[i].core);
		free(s->cores[i].log);
		free(s->cores[i].dur_set);
		free(s->cores[i].snap);
		free(s->cores[i].tmp);
	}
	for (int c = 0; c < s->nclients; c++)
		qr_reasm_fini(&s->clients[c].reasm);
	check_fini(&s->check);
	lin_fini(&s->lin);
	oracle_free(s->orc);
	topo_fini(s); /* no core points at the placements now */
	qr_placement_fini(&s->pl);
	free(s->heap);
	free(s);
}
