/* SPDX-License-Identifier: MIT */
/*
 * The management endpoint's answers as JSON, built with jansson (every
 * string escaped by the library, never by hand) and dumped compact in
 * insertion order, so the text is what `quorate stat --json` always gave:
 * {"node":0,"cluster":81,...}. Also the shared aggregation and readiness
 * (mgmt_stats.h). Runs on the management threads only; jansson allocates,
 * which is fine off the data path.
 */
#include "server/mgmt_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "quorate/err.h"

static void sum_words(void *dst, const void *src, size_t bytes)
{
	const uint64_t *s = src;
	uint64_t *d = dst;
	for (size_t k = 0; k < bytes / 8; k++)
		d[k] += s[k];
}

void qr_mgmt_gather(const struct qr_mgmt_config *cfg, struct qr_mgmt_agg *a)
{
	memset(a, 0, sizeof(*a));
	a->nshards = cfg->nshards;
	uint64_t epoch = UINT64_MAX; /* the one every shard has installed */
	uint64_t peer = 0;	     /* the highest a peer's frame carried */
	for (uint16_t i = 0; i < cfg->nshards; i++) {
		struct qr_shard *sh = cfg->shards[i];
		struct qr_core *core = qr_shard_core(sh);
		sum_words(&a->cs, qr_core_stats(core), sizeof(a->cs));
		epoch = QR_MIN(epoch, qr_core_stats(core)->epoch);
		peer = QR_MAX(peer, qr_core_stats(core)->epoch_peer_max);
		sum_words(&a->ss, qr_shard_stats(sh), sizeof(a->ss));
		sum_words(&a->ws, qr_wal_stats(qr_shard_wal(sh)),
			  sizeof(a->ws));
		int eno = 0, werr = qr_wal_health(qr_shard_wal(sh), &eno);
		if (werr && !a->wal_err) {
			a->wal_err = werr;
			a->wal_errno = eno;
		}
		a->durable += qr_core_durable_lsn(core);
		a->appended += qr_core_last_lsn(core);
		const struct qr_hlc *h = qr_core_hlc(core);
		if (h->last > a->hlc)
			a->hlc = h->last;
		a->hlc_rejected += h->rejected;
	}
	a->cs.epoch = cfg->nshards ? epoch : 0; /* not a sum */
	a->cs.epoch_peer_max = peer;
}

void qr_mgmt_readiness(const struct qr_mgmt_config *cfg, uint64_t since_us,
		       struct qr_mgmt_ready *r)
{
	memset(r, 0, sizeof(*r));
	struct qr_mgmt_agg a;
	qr_mgmt_gather(cfg, &a);
	r->wal_ok = a.wal_err == 0;
	r->loops_ok = true;
	for (uint16_t i = 0; i < cfg->nshards; i++)
		if (!qr_shard_stats(cfg->shards[i])->loops)
			r->loops_ok = false;
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	r->needed = d->nodes / 2u + 1;
	r->alive = r->wal_ok ? 1 : 0;
	for (uint16_t p = 0; p < d->nodes; p++)
		if (p != cfg->node_id &&
		    qr_detector_state(d, p) == QR_PEER_UP &&
		    d->peers[p].last_heard_us > since_us &&
		    !d->peers[p].writes_refused)
			r->alive++;
	if (!r->wal_ok)
		snprintf(r->reason, sizeof(r->reason),
			 "WAL takes no writes: %s", qr_strerror(a.wal_err));
	else if (!r->loops_ok)
		snprintf(r->reason, sizeof(r->reason),
			 "shard loops not running yet");
	else if (r->alive < r->needed)
		snprintf(r->reason, sizeof(r->reason),
			 "%u of %u nodes up and taking writes, %u needed",
			 r->alive, (unsigned)d->nodes, r->needed);
	r->ready = !r->reason[0];
}

size_t qr_mgmt_dump(json_t *o, char *out, size_t cap)
{
	if (!o)
		return 0;
	size_t n = json_dumpb(o, out, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (n == 0 || n + 2 > cap)
		return 0;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

static void set_u64(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

size_t qr_mgmt_ready_json(const struct qr_mgmt_config *cfg, uint64_t since_us,
			  char *out, size_t cap, bool *is_ready)
{
	struct qr_mgmt_ready r;
	qr_mgmt_readiness(cfg, since_us, &r);
	*is_ready = r.ready;
	json_t *o = json_object();
	set_u64(o, "node", cfg->node_id);
	json_object_set_new(o, "ready", json_boolean(r.ready));
	json_object_set_new(o, "reason",
			    r.ready ? json_null() : json_string(r.reason));
	json_object_set_new(o, "wal", json_boolean(r.wal_ok));
	json_object_set_new(o, "loops", json_boolean(r.loops_ok));
	set_u64(o, "nodes_up", r.alive);
	set_u64(o, "nodes_needed", r.needed);
	return qr_mgmt_dump(o, out, cap);
}

/* Milliseconds behind the wall clock of an HLC value (null: none yet). */
static json_t *lag_ms(uint64_t hlc, uint64_t wall_ms)
{
	if (!hlc || hlc == UINT64_MAX)
		return json_null();
	uint64_t ms = QR_HLC_MS(hlc);
	return json_integer((json_int_t)(wall_ms > ms ? wall_ms - ms : 0));
}

/* One peer of "stat replication": sums and worst values over shards. */
static json_t *replication_peer(const struct qr_mgmt_config *cfg,
				const struct qr_detector *d, uint16_t p,
				uint64_t now_us, uint64_t wall_ms)
{
	uint64_t unacked = 0, oldest_us = 0, hrec = 0, hbytes = 0;
	uint64_t closed = UINT64_MAX;
	for (uint16_t i = 0; i < cfg->nshards; i++) {
		const struct qr_core_stats *cs =
			qr_core_stats(qr_shard_core(cfg->shards[i]));
		unacked += cs->repl_unacked[p];
		if (cs->repl_oldest_us[p] > oldest_us)
			oldest_us = cs->repl_oldest_us[p];
		hrec += cs->hint_records[p];
		hbytes += cs->hint_bytes[p];
		closed = QR_MIN(closed, cs->closed_in[p]);
	}
	uint64_t heard = d->peers[p].last_heard_us;
	json_t *o = json_object();
	set_u64(o, "node", p);
	json_object_set_new(
		o, "state",
		json_string(qr_peer_state_name(qr_detector_state(d, p))));
	set_u64(o, "last_contact_ms",
		now_us > heard ? (now_us - heard) / 1000 : 0);
	set_u64(o, "unacked_writes", unacked);
	set_u64(o, "oldest_unacked_ms", oldest_us / 1000);
	set_u64(o, "hint_records", hrec);
	set_u64(o, "hint_bytes", hbytes);
	json_object_set_new(o, "watermark_lag_ms", lag_ms(closed, wall_ms));
	return o;
}

/*
 * "stat replication": per peer, like PostgreSQL's pg_stat_replication:
 * state and last contact (shard 0's detector), writes sent to it and not
 * acknowledged (summed over shards) and the oldest one's age (the oldest
 * over shards), hints kept for it (records and key + value bytes, summed),
 * and how far behind the wall clock the closed timestamp it last sent us
 * is (the worst shard): what bounds our watermark, which is reported too.
 */
size_t qr_mgmt_replication_json(const struct qr_mgmt_config *cfg, char *out,
				size_t cap)
{
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	uint64_t now_us = qr_shard_now_us(cfg->shards[0]);
	uint64_t wall_ms = qr_clock_wall_ms();
	uint64_t wm = UINT64_MAX, hints = 0;
	bool orphan = false;
	for (uint16_t i = 0; i < cfg->nshards; i++) {
		const struct qr_core_stats *cs =
			qr_core_stats(qr_shard_core(cfg->shards[i]));
		wm = QR_MIN(wm, cs->watermark);
		orphan |= cs->orphan_active;
		for (uint16_t p = 0; p < d->nodes; p++)
			hints += cs->hint_records[p];
	}
	json_t *o = json_object();
	set_u64(o, "node", cfg->node_id);
	json_object_set_new(o, "watermark_lag_ms", lag_ms(wm, wall_ms));
	set_u64(o, "hints", hints);
	json_object_set_new(o, "handoff_running", json_boolean(orphan));
	json_t *peers = json_array();
	for (uint16_t p = 0; p < d->nodes; p++)
		if (p != cfg->node_id)
			json_array_append_new(
				peers,
				replication_peer(cfg, d, p, now_us, wall_ms));
	json_object_set_new(o, "peers", peers);
	return qr_mgmt_dump(o, out, cap);
}

/* "ops", "cas", "replies", "errors": what clients asked and got. */
static void json_requests(json_t *o, const struct qr_core_stats *cs)
{
	json_t *ops = json_object();
	set_u64(ops, "get", cs->client_ops[QR_OP_GET]);
	set_u64(ops, "put", cs->client_ops[QR_OP_PUT]);
	set_u64(ops, "delete", cs->client_ops[QR_OP_DELETE]);
	json_object_set_new(o, "ops", ops);
	/* Linearizable ops (CASPaxos): requests by op, proposer rounds,
	 * acceptor promises logged and prepares/accepts refused. */
	json_t *cas = json_object();
	set_u64(cas, "lin_get", cs->client_ops[QR_OP_LIN_GET]);
	set_u64(cas, "put_if_absent", cs->client_ops[QR_OP_PUT_IF_ABSENT]);
	set_u64(cas, "put_if_version", cs->client_ops[QR_OP_PUT_IF_VERSION]);
	set_u64(cas, "delete_if_version",
		cs->client_ops[QR_OP_DELETE_IF_VERSION]);
	set_u64(cas, "rounds", cs->cas_rounds);
	set_u64(cas, "promises", cs->cas_promises);
	set_u64(cas, "rejects", cs->cas_rejects);
	json_object_set_new(o, "cas", cas);
	json_t *rep = json_object();
	set_u64(rep, "ok", cs->client_ok);
	set_u64(rep, "error", cs->client_err);
	set_u64(rep, "duplicates", cs->client_duplicates);
	json_object_set_new(o, "replies", rep);
	json_t *errs = json_object();
	for (int e = 1; e <= -QR_ERR_MIN; e++)
		if (cs->client_err_by[e])
			set_u64(errs, qr_strerror(-e), cs->client_err_by[e]);
	json_object_set_new(o, "errors", errs);
}

/* "replica", "hints", "sessions": the replica side and its repairs. */
static void json_replica(json_t *o, const struct qr_core_stats *cs)
{
	json_t *r = json_object();
	set_u64(r, "applied", cs->replicate_applied);
	set_u64(r, "older", cs->replicate_older);
	set_u64(r, "same", cs->replicate_same);
	set_u64(r, "reads", cs->reads_served);
	set_u64(r, "read_repairs", cs->read_repairs_sent);
	set_u64(r, "retransmits", cs->retransmits);
	set_u64(r, "rto_deferred", cs->rto_deferred);
	set_u64(r, "ae_digests", cs->ae_digests_sent);
	set_u64(r, "ae_mismatches", cs->ae_mismatches);
	set_u64(r, "ae_pushed", cs->ae_entries_pushed);
	set_u64(r, "ae_passes", cs->ae_passes);
	set_u64(r, "tombstones_collected", cs->tombstones_collected);
	json_object_set_new(o, "replica", r);
	/* long messages (issue 15): whole ones and their fragments */
	json_t *lm = json_object();
	set_u64(lm, "in", cs->long_in);
	set_u64(lm, "out", cs->long_out);
	set_u64(lm, "frags_in", cs->frags_in);
	set_u64(lm, "frags_out", cs->frags_out);
	set_u64(lm, "nacks_out", cs->nacks_out);
	set_u64(lm, "nacks_in", cs->nacks_in);
	set_u64(lm, "frags_resent", cs->frags_resent);
	set_u64(lm, "nacks_unknown", cs->nacks_unknown);
	set_u64(lm, "corrupt", cs->long_corrupt);
	json_object_set_new(o, "long_messages", lm);
	uint64_t hints = 0;
	for (int p = 0; p < QR_NODES_MAX; p++)
		hints += cs->hint_records[p];
	json_t *h = json_object();
	set_u64(h, "pending", hints);
	set_u64(h, "created", cs->hints_created);
	set_u64(h, "delivered", cs->hints_delivered);
	set_u64(h, "lost", cs->hints_lost);
	set_u64(h, "moot", cs->hints_moot);
	set_u64(h, "handoffs", cs->orphan_syncs);
	json_object_set_new(o, "hints", h);
	/* topology changes (core/topology.c; docs/topology.md) */
	json_t *t = json_object();
	set_u64(t, "epoch", cs->epoch);
	set_u64(t, "stream_left", cs->stream_left);
	set_u64(t, "stream_matches", cs->stream_matches);
	set_u64(t, "stream_settling", cs->stream_settling);
	set_u64(t, "epoch_peer_max", cs->epoch_peer_max); /* T6: behind? */
	set_u64(t, "behind_refused", cs->epoch_refused);
	set_u64(t, "news_sent", cs->news_sent);   /* T7 */
	set_u64(t, "news_heard", cs->news_heard);
	json_object_set_new(o, "topology", t);
	json_t *s = json_object();
	set_u64(s, "stale", cs->stale_answers);
	set_u64(s, "token_waits", cs->token_waits);
	set_u64(s, "tokens_ignored", cs->tokens_ignored);
	set_u64(s, "token_write_waits", cs->token_write_waits);
	json_object_set_new(o, "sessions", s);
}

/* "peers": as seen by shard 0's detector. */
static void json_peers(json_t *o, const struct qr_mgmt_config *cfg)
{
	QR_ASSERT(cfg->nshards >= 1 && cfg->shards[0]);
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	uint64_t now_us = qr_shard_now_us(cfg->shards[0]);
	json_t *a = json_array();
	for (uint16_t p = 0; p < d->nodes; p++) {
		if (p == cfg->node_id)
			continue;
		uint64_t heard = d->peers[p].last_heard_us;
		json_t *e = json_object();
		set_u64(e, "node", p);
		json_object_set_new(e, "state",
				    json_string(qr_peer_state_name(
					    qr_detector_state(d, p))));
		set_u64(e, "last_contact_ms",
			now_us > heard ? (now_us - heard) / 1000 : 0);
		set_u64(e, "transitions", d->peers[p].transitions);
		json_object_set_new(e, "writes",
				    json_boolean(!d->peers[p].writes_refused));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "peers", a);
}

/* "wal", "wal_state": the log's counters, and whether it takes writes
 * (serving_writes false: peers see "writes":false in their "peers"). */
static void json_wal(json_t *o, const struct qr_mgmt_agg *ag)
{
	const struct qr_wal_stats *ws = &ag->ws;
	json_t *w = json_object();
	set_u64(w, "appends", ws->appends);
	set_u64(w, "batches", ws->batches);
	set_u64(w, "fsyncs", ws->fsyncs);
	set_u64(w, "bytes", ws->bytes_written);
	set_u64(w, "busy", ws->append_busy);
	set_u64(w, "snapshots", ws->snapshots);
	set_u64(w, "segments_created", ws->segments_created);
	set_u64(w, "segment_waits", ws->segment_waits); /* no spare yet */
	set_u64(w, "appended_lsn", ag->appended);
	set_u64(w, "durable_lsn", ag->durable);
	json_object_set_new(o, "wal", w);
	json_t *st = json_object();
	json_object_set_new(st, "serving_writes", json_boolean(!ag->wal_err));
	if (ag->wal_err) {
		json_object_set_new(st, "error",
				    json_string(qr_strerror(ag->wal_err)));
		set_u64(st, "errno", (uint64_t)ag->wal_errno);
		json_object_set_new(
			st, "reason",
			json_string(ag->wal_errno ? strerror(ag->wal_errno)
						  : "short write"));
	} else {
		json_object_set_new(st, "error", json_null());
	}
	set_u64(st, "spare_failures", ws->spare_failures);
	json_object_set_new(o, "wal_state", st);
}

/* "hlc", "packets", "drops" (shard and core reasons): the end. */
static void json_io(json_t *o, const struct qr_mgmt_agg *ag)
{
	const struct qr_shard_stats *ss = &ag->ss;
	json_t *h = json_object();
	set_u64(h, "last", ag->hlc);
	set_u64(h, "rejected", ag->hlc_rejected);
	/* serving false: the clock guard refuses clients (issue 13 bug 6: a
	 * wall clock jump, or a quorum of peers beyond max_offset). */
	json_object_set_new(h, "serving",
			    json_boolean(ag->cs.clock_serving == ag->nshards));
	set_u64(h, "jumps", ag->cs.clock_jumps);
	set_u64(h, "refused", ag->cs.clock_refused);
	if (qr_shard_clock_offset_ms()) /* the test hook (shard.c) */
		json_object_set_new(h, "offset_ms",
				    json_integer(qr_shard_clock_offset_ms()));
	json_object_set_new(o, "hlc", h);
	json_t *p = json_object();
	set_u64(p, "rx", ss->rx_pkts);
	set_u64(p, "tx", ss->tx_pkts);
	set_u64(p, "tx_waits", ss->tx_waits);
	set_u64(p, "mesh_rx", ss->mesh_rx_pkts); /* direct links */
	set_u64(p, "mesh_tx", ss->mesh_tx_pkts);
	set_u64(p, "mesh_reconnects", ss->mesh_reconnects);
	set_u64(p, "client_reconnects", ss->client_reconnects);
	set_u64(p, "arp_replies", ss->arp_replies);
	set_u64(p, "arp_requests", ss->arp_requests);
	set_u64(p, "steered", ss->steered);
	json_object_set_new(o, "packets", p);
	/* The idle loop (docs/operations.md, [loop] idle): shards blocking
	 * on events (idle = interrupt where it works), their waits, naps. */
	json_t *l = json_object();
	set_u64(l, "iterations", ss->loops);
	set_u64(l, "blocking_shards", ss->idle_blocking);
	set_u64(l, "waits", ss->idle_waits);
	set_u64(l, "wal_wakes", ss->idle_wal_wakes);
	set_u64(l, "bell_wakes", ss->idle_bell_wakes); /* doorbell.h */
	set_u64(l, "bells_rung", ss->bells_rung);
	set_u64(l, "bells_failed", ss->bells_failed);
	set_u64(l, "naps", ss->idle_sleeps);
	set_u64(l, "spin_short_gaps", ss->spin_short_gaps); /* idle_spin.h */
	set_u64(l, "spin_long_gaps", ss->spin_long_gaps);
	json_object_set_new(o, "loop", l);
	json_t *d = json_object();
	for (int i = 0; i < QR_SHARD_DROP_COUNT; i++)
		set_u64(d, qr_shard_drop_name((enum qr_shard_drop)i),
			ss->drops[i]);
	for (int i = 0; i < QR_DROP_COUNT; i++)
		set_u64(d, qr_core_drop_name((enum qr_core_drop)i),
			ag->cs.drops[i]);
	json_object_set_new(o, "drops", d);
}

json_t *qr_mgmt_stats_obj(const struct qr_mgmt_config *cfg)
{
	struct qr_mgmt_agg ag;
	qr_mgmt_gather(cfg, &ag);
	json_t *o = json_object();
	set_u64(o, "node", cfg->node_id);
	set_u64(o, "cluster", cfg->cluster->id);
	json_object_set_new(o, "profile", json_string(cfg->profile));
	set_u64(o, "shards", cfg->nshards);
	/* true: started with --rebuild and not filled yet (core recover.c
	 * RB1): it answers no read or CAS vote. */
	json_object_set_new(o, "rebuilding", json_boolean(ag.cs.rebuilding));
	json_requests(o, &ag.cs);
	json_replica(o, &ag.cs);
	json_peers(o, cfg);
	json_wal(o, &ag);
	json_io(o, &ag);
	return o;
}

size_t qr_mgmt_stats_json(const struct qr_mgmt_config *cfg, char *buf,
			  size_t len)
{
	return qr_mgmt_dump(qr_mgmt_stats_obj(cfg), buf, len);
}
