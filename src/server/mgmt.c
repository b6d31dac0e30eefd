/* SPDX-License-Identifier: MIT */
/* Management endpoint and telemetry: see mgmt.h. */
#include "common/clock.h"
#include "server/mgmt.h"
#include "server/mgmt_sock.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_telemetry.h>

#include "common/compiler.h"
#include "core/core.h"
#include "quorate/err.h"
#include "server/mgmt_http.h"
#include "server/mgmt_stats.h"
#include "server/topo_ctl.h"
#include "shard/shard.h"
#include "wal/wal.h"


struct qr_mgmt {
	struct qr_mgmt_config cfg;
	struct qr_mgmt_sock *sock; /* NULL: no socket (telemetry only) */
	volatile sig_atomic_t stop;
	pthread_t thread;
	bool started;
	uint64_t start_s;
	uint64_t since_us;	   /* shard 0's clock at start (readiness) */
	struct qr_mgmt_http *http; /* NULL: no HTTP endpoint */
};

static struct qr_mgmt *g_tm; /* for the telemetry callback */

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
	return qr_mgmt_dump(json_pack("{sbsIsssI}", "ok", 1, "node",
				      (json_int_t)cfg->node_id, "repair",
				      "requested", "shards",
				      (json_int_t)cfg->nshards),
			    buf, cap);
}

/*
 * "clock-offset MS" (a test hook, only when quorated was started with
 * --clock-offset-ms): every shard's wall clock reads CLOCK_REALTIME + MS
 * from now on (shard.c). tests/cluster/nemesis skews a running node so.
 */
static size_t clock_offset(const struct qr_mgmt_config *cfg, const char *arg,
			   char *buf, size_t cap)
{
	char *end;
	long long ms = strtoll(arg, &end, 10);
	if (!*arg || *end || ms < -86400000LL || ms > 86400000LL)
		return qr_mgmt_dump(json_pack("{ss}", "error",
					      "clock-offset: expected a "
					      "number of ms within a day"),
				    buf, cap);
	qr_shard_set_clock_offset_ms(ms);
	return qr_mgmt_dump(json_pack("{sbsIsI}", "ok", 1, "node",
				      (json_int_t)cfg->node_id,
				      "clock_offset_ms", (json_int_t)ms),
			    buf, cap);
}

/* "mgmt": the management socket's own counters (mgmt_sock.h, M4). */
static json_t *json_mgmt(const struct qr_mgmt_sock_stats *st)
{
	return json_pack("{sIsIsIsIsI}", "accepted", (json_int_t)st->accepted,
			 "answered", (json_int_t)st->answered, "refused_busy",
			 (json_int_t)st->refused_busy, "refused_peer",
			 (json_int_t)st->refused_peer, "timed_out",
			 (json_int_t)st->timed_out);
}

static size_t unknown(char *out, size_t cap)
{
	return qr_mgmt_dump(json_pack("{sss[ssssssssss]}", "error",
				      "unknown command", "commands", "stat",
				      "stat replication", "repair", "ready",
				      "topology", "topology set EPOCH OWNERS "
				      "PENDING", "topology stream", "register",
				      "register prepare ROUND.ID",
				      "register accept ROUND.ID EPOCH OWNERS "
				      "PENDING"),
			    out, cap);
}

/* One command line (mgmt_sock.c calls it from the mgmt thread). */
static size_t handle(void *arg, const char *cmd, char *out, size_t cap)
{
	struct qr_mgmt *m = arg;
	bool ready;
	if (!strcmp(cmd, "stat")) {
		json_t *o = qr_mgmt_stats_obj(&m->cfg);
		if (o && m->sock)
			json_object_set_new(
				o, "mgmt",
				json_mgmt(qr_mgmt_sock_stats(m->sock)));
		return qr_mgmt_dump(o, out, cap);
	}
	if (!strcmp(cmd, "stat replication"))
		return qr_mgmt_replication_json(&m->cfg, out, cap);
	if (!strcmp(cmd, "repair"))
		return repair(&m->cfg, out, cap);
	if (!strcmp(cmd, "ready"))
		return qr_mgmt_ready_json(&m->cfg, m->since_us, out, cap,
					  &ready);
	if (m->cfg.topo && !strcmp(cmd, "topology"))
		return qr_topo_ctl_command(m->cfg.topo, "", out, cap);
	if (m->cfg.topo && !strncmp(cmd, "topology ", 9))
		return qr_topo_ctl_command(m->cfg.topo, cmd + 9, out, cap);
	if (m->cfg.topo && !strcmp(cmd, "register"))
		return qr_topo_ctl_register(m->cfg.topo, "", out, cap);
	if (m->cfg.topo && !strncmp(cmd, "register ", 9))
		return qr_topo_ctl_register(m->cfg.topo, cmd + 9, out, cap);
	if (m->cfg.clock_hook && !strncmp(cmd, "clock-offset ", 13))
		return clock_offset(&m->cfg, cmd + 13, out, cap);
	return unknown(out, cap);
}

static void *mgmt_thread(void *arg)
{
	struct qr_mgmt *m = arg;
	while (!m->stop) {
		qr_mgmt_sock_poll(m->sock, 200);
		if (m->cfg.topo) /* a peer's newer topology (topo_ctl.h C9) */
			qr_topo_ctl_news(m->cfg.topo);
	}
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
	struct qr_mgmt_agg a;
	qr_mgmt_gather(&g_tm->cfg, &a);
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
	m->since_us = qr_shard_now_us(cfg->shards[0]);
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
	if (cfg->metrics_port &&
	    qr_mgmt_http_start(&m->cfg, m->since_us, cfg->metrics_ip,
			       cfg->metrics_port, &m->http, err, n)) {
		qr_mgmt_destroy(m);
		return QR_ECONFIG;
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
	qr_mgmt_http_stop(m->http); /* joins its thread */
	if (m->started)
		pthread_join(m->thread, NULL);
	qr_mgmt_sock_close(m->sock); /* unlinks only our socket (M2) */
	g_tm = NULL;
	free(m);
}
