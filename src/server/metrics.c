/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the node's counters in Prometheus text format, the same
 * numbers `quorate stat` and `quorate stat replication` show (mgmt_stats.h
 * gathers them), plus the latency histograms those cannot show. Names
 * follow Prometheus' conventions: `quorate_` prefix, `_total` counters,
 * `_seconds` units, one family per quantity with labels for its kinds
 * (op, code, layer/reason, peer). docs/operations.md lists them.
 *
 * Histograms are merged over shards into scratch copies (30 KiB each, on
 * the heap: this runs on the HTTP thread, never on a shard core).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/prom.h"
#include "qr_config.h"
#include "quorate/err.h"
#include "server/mgmt_stats.h"

struct named {
	const char *label;
	uint64_t value;
};

/* A family of one sample, no labels. */
static void one(struct qr_prom *w, const char *name, const char *help,
		enum qr_prom_type t, uint64_t v)
{
	qr_prom_family(w, name, help, t);
	qr_prom_u64(w, name, NULL, 0, v);
}

/* A family with one label over n (value, label) pairs. */
static void labelled(struct qr_prom *w, const char *name, const char *help,
		     enum qr_prom_type t, const char *label,
		     const struct named *v, unsigned n)
{
	qr_prom_family(w, name, help, t);
	for (unsigned i = 0; i < n; i++) {
		struct qr_prom_label l = {label, v[i].label};
		qr_prom_u64(w, name, &l, 1, v[i].value);
	}
}

static void requests(struct qr_prom *w, const struct qr_core_stats *cs)
{
	const struct named ops[] = {
		{"get", cs->client_ops[QR_OP_GET]},
		{"put", cs->client_ops[QR_OP_PUT]},
		{"delete", cs->client_ops[QR_OP_DELETE]},
		{"lin_get", cs->client_ops[QR_OP_LIN_GET]},
		{"put_if_absent", cs->client_ops[QR_OP_PUT_IF_ABSENT]},
		{"put_if_version", cs->client_ops[QR_OP_PUT_IF_VERSION]},
		{"delete_if_version", cs->client_ops[QR_OP_DELETE_IF_VERSION]},
		{"topology", cs->client_ops[QR_OP_TOPOLOGY]},
	};
	labelled(w, "quorate_requests_total",
		 "Client requests taken by this node as coordinator, by op.",
		 QR_PROM_COUNTER, "op", ops, sizeof(ops) / sizeof(ops[0]));
	struct named errs[1 - QR_ERR_MIN];
	unsigned n = 0;
	errs[n++] = (struct named){"OK", cs->client_ok};
	for (int e = 1; e <= -QR_ERR_MIN; e++)
		errs[n++] =
			(struct named){qr_strerror(-e), cs->client_err_by[e]};
	labelled(w, "quorate_replies_total",
		 "Replies sent to clients, by status (enum qr_err name).",
		 QR_PROM_COUNTER, "code", errs, n);
	one(w, "quorate_duplicate_writes_total",
	    "Repeated client writes answered without re-applying them.",
	    QR_PROM_COUNTER, cs->client_duplicates);
	one(w, "quorate_cas_rounds_total",
	    "CASPaxos ballots tried as proposer.", QR_PROM_COUNTER,
	    cs->cas_rounds);
	one(w, "quorate_stale_answers_total",
	    "Reads answered STALE (session token not yet applied).",
	    QR_PROM_COUNTER, cs->stale_answers);
	one(w, "quorate_writes_refused_total",
	    "Client writes failed fast: too few replicas take writes.",
	    QR_PROM_COUNTER, cs->writes_refused);
}

static void replica(struct qr_prom *w, const struct qr_core_stats *cs)
{
	const struct named applied[] = {
		{"applied", cs->replicate_applied},
		{"older", cs->replicate_older},
		{"same", cs->replicate_same},
	};
	labelled(w, "quorate_replicate_total",
		 "Replicated writes received, by outcome.", QR_PROM_COUNTER,
		 "outcome", applied, 3);
	one(w, "quorate_reads_served_total", "Replica reads served.",
	    QR_PROM_COUNTER, cs->reads_served);
	one(w, "quorate_read_repairs_total", "Read repairs sent.",
	    QR_PROM_COUNTER, cs->read_repairs_sent);
	one(w, "quorate_retransmits_total", "Messages retransmitted.",
	    QR_PROM_COUNTER, cs->retransmits);
	one(w, "quorate_rto_deferred_total",
	    "Replicas a write's timeout did not resend to (no evidence "
	    "of loss, or their probe for this RTO already sent).",
	    QR_PROM_COUNTER, cs->rto_deferred);
	one(w, "quorate_long_messages_in_total",
	    "Long messages (values over one frame) received whole.",
	    QR_PROM_COUNTER, cs->long_in);
	one(w, "quorate_long_messages_out_total",
	    "Long messages sent as fragments.", QR_PROM_COUNTER, cs->long_out);
	one(w, "quorate_fragments_in_total", "FRAG messages received.",
	    QR_PROM_COUNTER, cs->frags_in);
	one(w, "quorate_fragments_resent_total",
	    "FRAG messages sent again for a peer's FRAG_NACK.",
	    QR_PROM_COUNTER, cs->frags_resent);
	one(w, "quorate_frag_nacks_out_total",
	    "FRAG_NACKs sent for stalled long messages.", QR_PROM_COUNTER,
	    cs->nacks_out);
	const struct named ae[] = {
		{"digests_sent", cs->ae_digests_sent},
		{"mismatches", cs->ae_mismatches},
		{"entries_pushed", cs->ae_entries_pushed},
		{"passes", cs->ae_passes},
	};
	labelled(w, "quorate_anti_entropy_total",
		 "Anti-entropy progress: digests sent, mismatching ranges, "
		 "entries pushed, on-demand passes.",
		 QR_PROM_COUNTER, "what", ae, 4);
	one(w, "quorate_tombstones_collected_total",
	    "Tombstones removed by GC.", QR_PROM_COUNTER,
	    cs->tombstones_collected);
	const struct named hints[] = {
		{"created", cs->hints_created},
		{"delivered", cs->hints_delivered},
		{"lost", cs->hints_lost},
		{"moot", cs->hints_moot},
	};
	labelled(w, "quorate_hints_total", "Hinted handoff: hints by fate.",
		 QR_PROM_COUNTER, "fate", hints, 4);
	one(w, "quorate_topology_epoch",
	    "Topology epoch every shard has installed.", QR_PROM_GAUGE,
	    cs->epoch);
	one(w, "quorate_stream_partitions_left",
	    "Partitions this node gains in a topology change and has not "
	    "filled yet.",
	    QR_PROM_GAUGE, cs->stream_left);
	one(w, "quorate_handoffs_total",
	    "Hand-offs of our own writes after a restart or lost hint.",
	    QR_PROM_COUNTER, cs->orphan_syncs);
}

static void drops(struct qr_prom *w, const struct qr_mgmt_agg *ag)
{
	qr_prom_family(w, "quorate_drops_total",
		       "Frames and messages dropped, by layer and reason.",
		       QR_PROM_COUNTER);
	for (int i = 0; i < QR_SHARD_DROP_COUNT; i++) {
		struct qr_prom_label l[] = {
			{"layer", "shard"},
			{"reason", qr_shard_drop_name((enum qr_shard_drop)i)}};
		qr_prom_u64(w, "quorate_drops_total", l, 2, ag->ss.drops[i]);
	}
	for (int i = 0; i < QR_DROP_COUNT; i++) {
		struct qr_prom_label l[] = {
			{"layer", "core"},
			{"reason", qr_core_drop_name((enum qr_core_drop)i)}};
		qr_prom_u64(w, "quorate_drops_total", l, 2, ag->cs.drops[i]);
	}
	const struct named pk[] = {{"rx", ag->ss.rx_pkts},
				   {"tx", ag->ss.tx_pkts}};
	labelled(w, "quorate_packets_total", "Packets on the data path.",
		 QR_PROM_COUNTER, "dir", pk, 2);
	const struct named mk[] = {{"rx", ag->ss.mesh_rx_pkts},
				   {"tx", ag->ss.mesh_tx_pkts}};
	labelled(w, "quorate_mesh_packets_total",
		 "Packets on direct links to peers (memif mesh), also in "
		 "quorate_packets_total.",
		 QR_PROM_COUNTER, "dir", mk, 2);
	one(w, "quorate_mesh_reconnects_total",
	    "Restarts of a direct link's memif client end while it was down.",
	    QR_PROM_COUNTER, ag->ss.mesh_reconnects);
	one(w, "quorate_client_port_reconnects_total",
	    "Restarts of the client port's memif client end while it was "
	    "down (its server, qr-vswitch or a generator, went away).",
	    QR_PROM_COUNTER, ag->ss.client_reconnects);
	one(w, "quorate_hlc_rejected_total",
	    "Remote clock values refused (beyond the offset bound).",
	    QR_PROM_COUNTER, ag->hlc_rejected);
}

static void wal(struct qr_prom *w, const struct qr_mgmt_agg *ag)
{
	const struct qr_wal_stats *ws = &ag->ws;
	one(w, "quorate_wal_appends_total", "WAL records appended.",
	    QR_PROM_COUNTER, ws->appends);
	one(w, "quorate_wal_batches_total", "WAL batches written.",
	    QR_PROM_COUNTER, ws->batches);
	one(w, "quorate_wal_fsyncs_total", "WAL fdatasync operations.",
	    QR_PROM_COUNTER, ws->fsyncs);
	one(w, "quorate_wal_bytes_total", "Bytes written to WAL segments.",
	    QR_PROM_COUNTER, ws->bytes_written);
	one(w, "quorate_wal_busy_total",
	    "Appends refused with BUSY (back-pressure).", QR_PROM_COUNTER,
	    ws->append_busy);
	one(w, "quorate_wal_snapshots_total", "Snapshots completed.",
	    QR_PROM_COUNTER, ws->snapshots);
	one(w, "quorate_wal_durable_lsn", "Durable LSN, summed over shards.",
	    QR_PROM_GAUGE, ag->durable);
	one(w, "quorate_wal_serving_writes",
	    "1 if every shard's WAL takes writes, else 0.", QR_PROM_GAUGE,
	    ag->wal_err ? 0 : 1);
}

/* Merge a histogram over shards (get(shard) names it) and write it. */
static void hist_family(struct qr_prom *w, const struct qr_mgmt_config *cfg,
			const char *name, const char *help, const char *label,
			const char *const *values, unsigned n,
			const struct qr_hist *(*get)(struct qr_shard *,
						     unsigned))
{
	struct qr_hist *h = malloc(sizeof(*h));
	if (!h) {
		w->err = w->err ? w->err : QR_ENOMEM;
		return;
	}
	qr_prom_family(w, name, help, QR_PROM_HISTOGRAM);
	for (unsigned k = 0; k < n; k++) {
		qr_hist_init(h);
		for (uint16_t i = 0; i < cfg->nshards; i++)
			qr_hist_merge(h, get(cfg->shards[i], k));
		struct qr_prom_label l = {label, values[k]};
		qr_prom_hist(w, name, label ? &l : NULL, label ? 1 : 0, h, NULL,
			     0);
	}
	free(h);
}

static const struct qr_hist *req_lat(struct qr_shard *s, unsigned k)
{
	return qr_core_latency(qr_shard_core(s), (enum qr_core_lat)k);
}

static const struct qr_hist *wal_lat(struct qr_shard *s, unsigned k)
{
	(void)k;
	return qr_wal_commit_latency(qr_shard_wal(s));
}

static void latencies(struct qr_prom *w, const struct qr_mgmt_config *cfg)
{
	static const char *const cls[QR_LAT_COUNT] = {"read", "write", "cas"};
	hist_family(w, cfg, "quorate_request_duration_seconds",
		    "Client requests coordinated here, taken to answered.",
		    "class", cls, QR_LAT_COUNT, req_lat);
	static const char *const none[1] = {NULL};
	hist_family(w, cfg, "quorate_wal_commit_duration_seconds",
		    "WAL batch submitted to written and (fsync mode) synced.",
		    NULL, none, 1, wal_lat);
}

/* Seconds behind the wall clock of an HLC value; NaN: none yet. */
static double lag_s(uint64_t hlc, uint64_t wall_ms)
{
	if (!hlc || hlc == UINT64_MAX)
		return NAN;
	uint64_t ms = QR_HLC_MS(hlc);
	return wall_ms > ms ? (double)(wall_ms - ms) / 1e3 : 0.0;
}

/* Per peer gauges, one sample per family per peer (families in turn). */
static void peers(struct qr_prom *w, const struct qr_mgmt_config *cfg)
{
	static const char *const fam[][2] = {
		{"quorate_peer_up", "1 if the failure detector says UP."},
		{"quorate_peer_last_contact_seconds", "Since last heard."},
		{"quorate_peer_unacked_writes", "Writes sent, not acked."},
		{"quorate_peer_oldest_unacked_seconds", "Oldest one's age."},
		{"quorate_peer_hints", "Hints kept for the peer (records)."},
		{"quorate_peer_watermark_lag_seconds",
		 "Wall clock minus the closed timestamp it last sent us."},
	};
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	uint64_t now_us = qr_shard_now_us(cfg->shards[0]);
	uint64_t wall_ms = qr_clock_wall_ms();
	for (unsigned f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		qr_prom_family(w, fam[f][0], fam[f][1], QR_PROM_GAUGE);
		for (uint16_t p = 0; p < d->nodes; p++) {
			if (p == cfg->node_id)
				continue;
			uint64_t un = 0, old = 0, hr = 0, cl = UINT64_MAX;
			for (uint16_t i = 0; i < cfg->nshards; i++) {
				const struct qr_core_stats *cs = qr_core_stats(
					qr_shard_core(cfg->shards[i]));
				un += cs->repl_unacked[p];
				old = QR_MAX(old, cs->repl_oldest_us[p]);
				hr += cs->hint_records[p];
				cl = QR_MIN(cl, cs->closed_in[p]);
			}
			uint64_t heard = d->peers[p].last_heard_us;
			double v[] = {qr_detector_state(d, p) == QR_PEER_UP,
				      now_us > heard
					      ? (double)(now_us - heard) / 1e6
					      : 0.0,
				      (double)un,
				      (double)old / 1e6,
				      (double)hr,
				      lag_s(cl, wall_ms)};
			char id[8];
			snprintf(id, sizeof(id), "%u", p);
			struct qr_prom_label l = {"peer", id};
			qr_prom_double(w, fam[f][0], &l, 1, v[f]);
		}
	}
}

static void node(struct qr_prom *w, const struct qr_mgmt_config *cfg,
		 uint64_t since_us)
{
	char id[8], cl[12];
	snprintf(id, sizeof(id), "%u", cfg->node_id);
	snprintf(cl, sizeof(cl), "%u", cfg->cluster->id);
	struct qr_prom_label info[] = {{"node", id},
				       {"cluster", cl},
				       {"profile", cfg->profile},
				       {"version", QR_VERSION}};
	qr_prom_family(w, "quorate_node_info", "This node; value always 1.",
		       QR_PROM_GAUGE);
	qr_prom_u64(w, "quorate_node_info", info, 4, 1);
	struct qr_mgmt_ready r;
	qr_mgmt_readiness(cfg, since_us, &r);
	one(w, "quorate_ready", "1 when GET /ready answers 200.", QR_PROM_GAUGE,
	    r.ready);
	one(w, "quorate_nodes_up",
	    "Nodes up and taking writes, this one included.", QR_PROM_GAUGE,
	    r.alive);
	uint64_t wm = UINT64_MAX;
	for (uint16_t i = 0; i < cfg->nshards; i++)
		wm = QR_MIN(wm, qr_core_stats(qr_shard_core(cfg->shards[i]))
					->watermark);
	qr_prom_family(w, "quorate_watermark_lag_seconds",
		       "Wall clock minus this node's watermark (NaN: none).",
		       QR_PROM_GAUGE);
	qr_prom_double(w, "quorate_watermark_lag_seconds", NULL, 0,
		       lag_s(wm, qr_clock_wall_ms()));
	uint64_t pending = 0;
	struct qr_mgmt_agg ag;
	qr_mgmt_gather(cfg, &ag);
	for (int p = 0; p < QR_NODES_MAX; p++)
		pending += ag.cs.hint_records[p];
	one(w, "quorate_hints_pending", "Hints waiting for delivery.",
	    QR_PROM_GAUGE, pending);
}

long qr_mgmt_metrics(const struct qr_mgmt_config *cfg, uint64_t since_us,
		     char *out, size_t cap)
{
	struct qr_prom w;
	qr_prom_init(&w, out, cap);
	struct qr_mgmt_agg *ag = malloc(sizeof(*ag));
	if (!ag)
		return QR_ENOMEM;
	qr_mgmt_gather(cfg, ag);
	node(&w, cfg, since_us);
	requests(&w, &ag->cs);
	latencies(&w, cfg);
	replica(&w, &ag->cs);
	drops(&w, ag);
	wal(&w, ag);
	peers(&w, cfg);
	free(ag);
	return qr_prom_finish(&w);
}
