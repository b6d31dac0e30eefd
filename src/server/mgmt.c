/* SPDX-License-Identifier: MIT */
/* Management endpoint and telemetry: see mgmt.h. */
#include "common/clock.h"
#include "server/mgmt.h"
#include "server/mgmt_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "common/compiler.h"
#include "core/core.h"
#include "quorate/err.h"
#include "shard/shard.h"
#include "wal/wal.h"


struct qr_mgmt {
	struct qr_mgmt_config cfg;
	struct qr_mgmt_sock *sock; /* NULL: no socket (telemetry only) */
	volatile sig_atomic_t stop;
	pthread_t thread;
	bool started;
	uint64_t start_s;
};

static struct qr_mgmt *g_tm; /* for the telemetry callback */

struct jbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void jb(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
}

/* Every shard's counters summed: what stat and telemetry both report. */
struct agg {
	struct qr_core_stats cs;
	struct qr_shard_stats ss;
	struct qr_wal_stats ws;
	uint64_t durable, appended, hlc, hlc_rejected;
	uint16_t nshards;
	int wal_err, wal_errno; /* the first shard whose WAL takes no writes */
};

static void sum_words(void *dst, const void *src, size_t bytes)
{
	const uint64_t *s = src;
	uint64_t *d = dst;
	for (size_t k = 0; k < bytes / 8; k++)
		d[k] += s[k];
}

static void gather(const struct qr_mgmt_config *cfg, struct agg *a)
{
	memset(a, 0, sizeof(*a));
	a->nshards = cfg->nshards;
	for (uint16_t i = 0; i < cfg->nshards; i++) {
		struct qr_shard *sh = cfg->shards[i];
		struct qr_core *core = qr_shard_core(sh);
		sum_words(&a->cs, qr_core_stats(core), sizeof(a->cs));
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
}

/* "ops", "cas", "replies", "errors": what clients asked and got. */
static void json_requests(struct jbuf *b, const struct qr_core_stats *cs)
{
	jb(b,
	   "\"ops\":{\"get\":%" PRIu64 ",\"put\":%" PRIu64
	   ",\"delete\":%" PRIu64 "},",
	   cs->client_ops[QR_OP_GET], cs->client_ops[QR_OP_PUT],
	   cs->client_ops[QR_OP_DELETE]);
	/* Linearizable ops (CASPaxos): requests by op, proposer rounds,
	 * acceptor promises logged and prepares/accepts refused. */
	jb(b,
	   "\"cas\":{\"lin_get\":%" PRIu64 ",\"put_if_absent\":%" PRIu64
	   ",\"put_if_version\":%" PRIu64 ",\"delete_if_version\":%" PRIu64
	   ",\"rounds\":%" PRIu64 ",\"promises\":%" PRIu64
	   ",\"rejects\":%" PRIu64 "},",
	   cs->client_ops[QR_OP_LIN_GET], cs->client_ops[QR_OP_PUT_IF_ABSENT],
	   cs->client_ops[QR_OP_PUT_IF_VERSION],
	   cs->client_ops[QR_OP_DELETE_IF_VERSION], cs->cas_rounds,
	   cs->cas_promises, cs->cas_rejects);
	jb(b,
	   "\"replies\":{\"ok\":%" PRIu64 ",\"error\":%" PRIu64
	   ",\"duplicates\":%" PRIu64 "},",
	   cs->client_ok, cs->client_err, cs->client_duplicates);
	jb(b, "\"errors\":{");
	bool first = true;
	for (int e = 1; e <= -QR_ERR_MIN; e++) {
		if (!cs->client_err_by[e])
			continue;
		jb(b, "%s\"%s\":%" PRIu64, first ? "" : ",", qr_strerror(-e),
		   cs->client_err_by[e]);
		first = false;
	}
	jb(b, "},");
}

/* "replica", "hints", "sessions": the replica side and its repairs. */
static void json_replica(struct jbuf *b, const struct qr_core_stats *cs)
{
	jb(b,
	   "\"replica\":{\"applied\":%" PRIu64 ",\"older\":%" PRIu64
	   ",\"same\":%" PRIu64 ",\"reads\":%" PRIu64
	   ",\"read_repairs\":%" PRIu64 ",\"retransmits\":%" PRIu64
	   ",\"ae_digests\":%" PRIu64 ",\"ae_mismatches\":%" PRIu64
	   ",\"ae_pushed\":%" PRIu64 ",\"ae_passes\":%" PRIu64
	   ",\"tombstones_collected\":%" PRIu64 "},",
	   cs->replicate_applied, cs->replicate_older, cs->replicate_same,
	   cs->reads_served, cs->read_repairs_sent, cs->retransmits,
	   cs->ae_digests_sent, cs->ae_mismatches, cs->ae_entries_pushed,
	   cs->ae_passes, cs->tombstones_collected);
	uint64_t hints = 0;
	for (int p = 0; p < QR_NODES_MAX; p++)
		hints += cs->hint_records[p];
	jb(b,
	   "\"hints\":{\"pending\":%" PRIu64 ",\"created\":%" PRIu64
	   ",\"delivered\":%" PRIu64 ",\"lost\":%" PRIu64
	   ",\"handoffs\":%" PRIu64 "},",
	   hints, cs->hints_created, cs->hints_delivered, cs->hints_lost,
	   cs->orphan_syncs);
	jb(b,
	   "\"sessions\":{\"stale\":%" PRIu64 ",\"token_waits\":%" PRIu64
	   ",\"tokens_ignored\":%" PRIu64 ",\"token_write_waits\":%" PRIu64
	   "},",
	   cs->stale_answers, cs->token_waits, cs->tokens_ignored,
	   cs->token_write_waits);
}

/* "peers": as seen by shard 0's detector. */
static void json_peers(struct jbuf *b, const struct qr_mgmt_config *cfg)
{
	QR_ASSERT(cfg->nshards >= 1 && cfg->shards[0]);
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	uint64_t now_us = qr_shard_now_us(cfg->shards[0]);
	jb(b, "\"peers\":[");
	bool first = true;
	for (uint16_t p = 0; p < d->nodes; p++) {
		if (p == cfg->node_id)
			continue;
		uint64_t heard = d->peers[p].last_heard_us;
		jb(b,
		   "%s{\"node\":%u,\"state\":\"%s\",\"last_contact_ms\":"
		   "%" PRIu64 ",\"transitions\":%u,\"writes\":%s}",
		   first ? "" : ",", p,
		   qr_peer_state_name(qr_detector_state(d, p)),
		   now_us > heard ? (now_us - heard) / 1000 : 0,
		   d->peers[p].transitions,
		   d->peers[p].writes_refused ? "false" : "true");
		first = false;
	}
	jb(b, "],");
}

/* "wal", "hlc", "packets", "drops" (shard and core reasons): the end. */
static void json_io(struct jbuf *b, const struct agg *ag)
{
	const struct qr_wal_stats *ws = &ag->ws;
	const struct qr_shard_stats *ss = &ag->ss;
	jb(b,
	   "\"wal\":{\"appends\":%" PRIu64 ",\"batches\":%" PRIu64
	   ",\"fsyncs\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"busy\":%" PRIu64
	   ",\"snapshots\":%" PRIu64 ",\"appended_lsn\":%" PRIu64
	   ",\"durable_lsn\":%" PRIu64 "},",
	   ws->appends, ws->batches, ws->fsyncs, ws->bytes_written,
	   ws->append_busy, ws->snapshots, ag->appended, ag->durable);
	/* serving_writes false: this node refuses writes (its peers see
	 * "writes":false in their "peers"); error and errno say why. */
	if (ag->wal_err)
		jb(b,
		   "\"wal_state\":{\"serving_writes\":false,\"error\":\"%s\","
		   "\"errno\":%d,\"reason\":\"%s\",\"spare_failures\":%" PRIu64
		   "},",
		   qr_strerror(ag->wal_err), ag->wal_errno,
		   ag->wal_errno ? strerror(ag->wal_errno) : "short write",
		   ws->spare_failures);
	else
		jb(b,
		   "\"wal_state\":{\"serving_writes\":true,\"error\":null,"
		   "\"spare_failures\":%" PRIu64 "},",
		   ws->spare_failures);
	/* serving false: the clock guard refuses clients (issue 13 bug 6:
	 * a wall clock jump, or a quorum of peers beyond max_offset). */
	jb(b,
	   "\"hlc\":{\"last\":%" PRIu64 ",\"rejected\":%" PRIu64
	   ",\"serving\":%s,\"jumps\":%" PRIu64 ",\"refused\":%" PRIu64 "},",
	   ag->hlc, ag->hlc_rejected,
	   ag->cs.clock_serving == ag->nshards ? "true" : "false",
	   ag->cs.clock_jumps, ag->cs.clock_refused);
	jb(b,
	   "\"packets\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
	   ",\"arp_replies\":%" PRIu64 ",\"arp_requests\":%" PRIu64
	   ",\"steered\":%" PRIu64 "},",
	   ss->rx_pkts, ss->tx_pkts, ss->arp_replies, ss->arp_requests,
	   ss->steered);
	jb(b, "\"drops\":{");
	bool first = true;
	for (int i = 0; i < QR_SHARD_DROP_COUNT; i++) {
		jb(b, "%s\"%s\":%" PRIu64, first ? "" : ",",
		   qr_shard_drop_name((enum qr_shard_drop)i), ss->drops[i]);
		first = false;
	}
	for (int i = 0; i < QR_DROP_COUNT; i++)
		jb(b, ",\"%s\":%" PRIu64,
		   qr_core_drop_name((enum qr_core_drop)i), ag->cs.drops[i]);
	jb(b, "}}\n");
}

size_t qr_mgmt_stats_json(const struct qr_mgmt_config *cfg, char *buf,
			  size_t len)
{
	struct jbuf b = {buf, 0, len, false};
	struct agg ag;
	gather(cfg, &ag);
	jb(&b, "{\"node\":%u,\"cluster\":%u,\"profile\":\"%s\",\"shards\":%u,",
	   cfg->node_id, cfg->cluster->id, cfg->profile, cfg->nshards);
	json_requests(&b, &ag.cs);
	json_replica(&b, &ag.cs);
	json_peers(&b, cfg);
	json_io(&b, &ag);
	QR_ASSERT(b.overflow || b.len < len); /* room for the NUL */
	return b.overflow ? 0 : b.len;
}

/* Milliseconds behind the wall clock of an HLC value (null: none yet). */
static void lag_json(struct jbuf *b, const char *name, uint64_t hlc,
		     uint64_t wall_ms)
{
	if (!hlc || hlc == UINT64_MAX) {
		jb(b, ",\"%s\":null", name);
		return;
	}
	uint64_t ms = QR_HLC_MS(hlc);
	jb(b, ",\"%s\":%" PRIu64, name, wall_ms > ms ? wall_ms - ms : 0);
}

/*
 * "stat replication": per peer, like PostgreSQL's pg_stat_replication:
 * state and last contact (shard 0's detector), writes sent to it and not
 * acknowledged (summed over shards) and the oldest one's age (the oldest
 * over shards), hints kept for it (records and key + value bytes, summed),
 * and how far behind the wall clock the closed timestamp it last sent us
 * is (the worst shard): what bounds our watermark, which is reported too.
 */
static size_t replication_json(const struct qr_mgmt_config *cfg, char *buf,
			       size_t len)
{
	struct jbuf b = {buf, 0, len, false};
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
	jb(&b, "{\"node\":%u", cfg->node_id);
	lag_json(&b, "watermark_lag_ms", wm, wall_ms);
	jb(&b, ",\"hints\":%" PRIu64 ",\"handoff_running\":%s,\"peers\":[",
	   hints, orphan ? "true" : "false");
	bool first = true;
	for (uint16_t p = 0; p < d->nodes; p++) {
		if (p == cfg->node_id)
			continue;
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
		jb(&b,
		   "%s{\"node\":%u,\"state\":\"%s\",\"last_contact_ms\":"
		   "%" PRIu64 ",\"unacked_writes\":%" PRIu64
		   ",\"oldest_unacked_ms\":%" PRIu64
		   ",\"hint_records\":%" PRIu64 ",\"hint_bytes\":%" PRIu64,
		   first ? "" : ",", p,
		   qr_peer_state_name(qr_detector_state(d, p)),
		   now_us > heard ? (now_us - heard) / 1000 : 0, unacked,
		   oldest_us / 1000, hrec, hbytes);
		lag_json(&b, "watermark_lag_ms", closed, wall_ms);
		jb(&b, "}");
		first = false;
	}
	jb(&b, "]}\n");
	return b.overflow ? 0 : b.len;
}

/*
 * "repair": every shard runs an anti-entropy pass over all its partitions
 * soon (qr_shard_ae_request: an atomic the shard loop polls each tick, so
 * the core is only ever touched from its own lcore). The answer says the
 * passes were requested; their progress shows in stat's ae_* counters.
 */
static size_t repair(const struct qr_mgmt_config *cfg, char *buf, size_t cap)
{
	for (uint16_t i = 0; i < cfg->nshards; i++)
		qr_shard_ae_request(cfg->shards[i]);
	return (size_t)snprintf(buf, cap,
				"{\"ok\":true,\"node\":%u,\"repair\":"
				"\"requested\",\"shards\":%u}\n",
				cfg->node_id, cfg->nshards);
}

/* "mgmt": the management socket's own counters (mgmt_sock.h, M4). */
static void json_mgmt(struct jbuf *b, const struct qr_mgmt_sock_stats *st)
{
	jb(b,
	   ",\"mgmt\":{\"accepted\":%" PRIu64 ",\"answered\":%" PRIu64
	   ",\"refused_busy\":%" PRIu64 ",\"refused_peer\":%" PRIu64
	   ",\"timed_out\":%" PRIu64 "}}\n",
	   st->accepted, st->answered, st->refused_busy, st->refused_peer,
	   st->timed_out);
}

/* One command line (mgmt_sock.c calls it from the mgmt thread). */
static size_t handle(void *arg, const char *cmd, char *out, size_t cap)
{
	struct qr_mgmt *m = arg;
	size_t n;
	if (!strcmp(cmd, "stat")) {
		n = qr_mgmt_stats_json(&m->cfg, out, cap);
		if (n >= 3 && m->sock) { /* "...}}\n": add "mgmt" inside */
			struct jbuf b = {out, n - 2, cap, false};
			json_mgmt(&b, qr_mgmt_sock_stats(m->sock));
			n = b.overflow ? 0 : b.len;
		}
	} else if (!strcmp(cmd, "stat replication")) {
		n = replication_json(&m->cfg, out, cap);
	} else if (!strcmp(cmd, "repair")) {
		n = repair(&m->cfg, out, cap);
	} else {
		n = (size_t)snprintf(
			out, cap,
			"{\"error\":\"unknown command\","
			"\"commands\":[\"stat\",\"stat replication\","
			"\"repair\"]}\n");
	}
	return n < cap ? n : 0;
}

static void *mgmt_thread(void *arg)
{
	struct qr_mgmt *m = arg;
	while (!m->stop)
		qr_mgmt_sock_poll(m->sock, 200);
	return NULL;
}

/* /quorate/stats: the same counters as `quorate stat`, as a flat dict
 * (telemetry dicts hold numbers and short strings). */
static int tm_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!g_tm)
		return -1;
	struct agg a;
	gather(&g_tm->cfg, &a);
	char k[64];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "node", g_tm->cfg.node_id);
	rte_tel_data_add_dict_u64(d, "ops_get", a.cs.client_ops[QR_OP_GET]);
	rte_tel_data_add_dict_u64(d, "ops_put", a.cs.client_ops[QR_OP_PUT]);
	rte_tel_data_add_dict_u64(d, "ops_delete",
				  a.cs.client_ops[QR_OP_DELETE]);
	rte_tel_data_add_dict_u64(d, "replies_ok", a.cs.client_ok);
	rte_tel_data_add_dict_u64(d, "replies_error", a.cs.client_err);
	for (int e = 1; e <= -QR_ERR_MIN; e++)
		if (a.cs.client_err_by[e]) {
			snprintf(k, sizeof(k), "errors_%s", qr_strerror(-e));
			rte_tel_data_add_dict_u64(d, k, a.cs.client_err_by[e]);
		}
	rte_tel_data_add_dict_u64(d, "retransmits", a.cs.retransmits);
	rte_tel_data_add_dict_u64(d, "read_repairs", a.cs.read_repairs_sent);
	rte_tel_data_add_dict_u64(d, "wal_appends", a.ws.appends);
	rte_tel_data_add_dict_u64(d, "wal_batches", a.ws.batches);
	rte_tel_data_add_dict_u64(d, "wal_fsyncs", a.ws.fsyncs);
	rte_tel_data_add_dict_u64(d, "wal_bytes", a.ws.bytes_written);
	rte_tel_data_add_dict_u64(d, "wal_durable_lsn", a.durable);
	rte_tel_data_add_dict_u64(d, "rx_pkts", a.ss.rx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_pkts", a.ss.tx_pkts);
	for (int i = 0; i < QR_SHARD_DROP_COUNT; i++) {
		snprintf(k, sizeof(k), "drops_%s",
			 qr_shard_drop_name((enum qr_shard_drop)i));
		rte_tel_data_add_dict_u64(d, k, a.ss.drops[i]);
	}
	for (int i = 0; i < QR_DROP_COUNT; i++) {
		snprintf(k, sizeof(k), "drops_%s",
			 qr_core_drop_name((enum qr_core_drop)i));
		rte_tel_data_add_dict_u64(d, k, a.cs.drops[i]);
	}
	const struct qr_detector *det =
		qr_core_detector(qr_shard_core(g_tm->cfg.shards[0]));
	for (uint16_t p = 0; p < det->nodes; p++) {
		if (p == g_tm->cfg.node_id)
			continue;
		snprintf(k, sizeof(k), "peer%u_state", p);
		rte_tel_data_add_dict_string(
			d, k, qr_peer_state_name(qr_detector_state(det, p)));
	}
	return 0;
}

int qr_mgmt_start(const struct qr_mgmt_config *cfg, struct qr_mgmt **out,
		  char *err, size_t n)
{
	struct qr_mgmt *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, n, "mgmt: out of memory");
		return QR_ENOMEM;
	}
	m->cfg = *cfg;
	m->start_s = qr_clock_mono_ms() / 1000;
	rte_telemetry_register_cmd("/quorate/stats", tm_stats,
				   "quorate node counters (as quorate stat). "
				   "No parameters");
	if (cfg->path && cfg->path[0]) {
		struct qr_mgmt_sock_config sc = {
			.path = cfg->path,
			.mode = cfg->gid == (gid_t)-1 ? 0600 : 0660,
			.gid = cfg->gid,
			.handler = handle,
			.arg = m,
		};
		int rc = qr_mgmt_sock_open(&sc, &m->sock, err, n);
		if (rc) {
			free(m);
			return rc;
		}
		if (pthread_create(&m->thread, NULL, mgmt_thread, m) != 0) {
			snprintf(err, n, "mgmt thread: %s", strerror(errno));
			qr_mgmt_sock_close(m->sock);
			free(m);
			return QR_ENOMEM;
		}
		m->started = true;
	}
	g_tm = m; /* only once m is complete: telemetry may call at once */
	*out = m;
	return 0;
}

void qr_mgmt_stop(struct qr_mgmt *m)
{
	if (m)
		m->stop = 1;
}

void qr_mgmt_destroy(struct qr_mgmt *m)
{
	if (!m)
		return;
	m->stop = 1;
	if (m->started)
		pthread_join(m->thread, NULL);
	qr_mgmt_sock_close(m->sock); /* unlinks only our socket (M2) */
	g_tm = NULL;
	free(m);
}
