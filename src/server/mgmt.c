/* SPDX-License-Identifier: MIT */
/* Management endpoint and telemetry: see mgmt.h. */
#include "server/mgmt.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "core/core.h"
#include "quorate/err.h"
#include "shard/shard.h"
#include "wal/wal.h"

#define STATS_BYTES (64 * 1024)

struct qr_mgmt {
	struct qr_mgmt_config cfg;
	int fd;
	volatile int stop;
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

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t qr_mgmt_stats_json(const struct qr_mgmt_config *cfg, char *buf,
			  size_t len)
{
	struct jbuf b = { buf, 0, len, false };
	struct qr_core_stats cs;
	struct qr_shard_stats ss;
	struct qr_wal_stats ws;
	memset(&cs, 0, sizeof(cs));
	memset(&ss, 0, sizeof(ss));
	memset(&ws, 0, sizeof(ws));
	uint64_t durable = 0, appended = 0, hlc = 0, hlc_rejected = 0;
	for (uint16_t i = 0; i < cfg->nshards; i++) {
		struct qr_shard *sh = cfg->shards[i];
		const struct qr_core_stats *c = qr_core_stats(qr_shard_core(sh));
		const uint64_t *src = (const uint64_t *)c;
		uint64_t *dst = (uint64_t *)&cs;
		for (size_t k = 0; k < sizeof(cs) / 8; k++)
			dst[k] += src[k];
		const uint64_t *s2 = (const uint64_t *)qr_shard_stats(sh);
		uint64_t *d2 = (uint64_t *)&ss;
		for (size_t k = 0; k < sizeof(ss) / 8; k++)
			d2[k] += s2[k];
		const uint64_t *s3 = (const uint64_t *)qr_wal_stats(
			qr_shard_wal(sh));
		uint64_t *d3 = (uint64_t *)&ws;
		for (size_t k = 0; k < sizeof(ws) / 8; k++)
			d3[k] += s3[k];
		durable += qr_core_durable_lsn(qr_shard_core(sh));
		appended += qr_core_last_lsn(qr_shard_core(sh));
		const struct qr_hlc *h = qr_core_hlc(qr_shard_core(sh));
		if (h->last > hlc)
			hlc = h->last;
		hlc_rejected += h->rejected;
	}
	jb(&b, "{\"node\":%u,\"cluster\":%u,\"profile\":\"%s\",\"shards\":%u,",
	   cfg->node_id, cfg->cluster->id, cfg->profile, cfg->nshards);
	jb(&b, "\"ops\":{\"get\":%" PRIu64 ",\"put\":%" PRIu64
	       ",\"delete\":%" PRIu64 "},",
	   cs.client_ops[QR_OP_GET], cs.client_ops[QR_OP_PUT],
	   cs.client_ops[QR_OP_DELETE]);
	jb(&b, "\"replies\":{\"ok\":%" PRIu64 ",\"error\":%" PRIu64
	       ",\"duplicates\":%" PRIu64 "},",
	   cs.client_ok, cs.client_err, cs.client_duplicates);
	jb(&b, "\"errors\":{");
	bool first = true;
	for (int e = 1; e <= -QR_ERR_MIN; e++) {
		if (!cs.client_err_by[e])
			continue;
		jb(&b, "%s\"%s\":%" PRIu64, first ? "" : ",", qr_strerror(-e),
		   cs.client_err_by[e]);
		first = false;
	}
	jb(&b, "},\"replica\":{\"applied\":%" PRIu64 ",\"older\":%" PRIu64
	       ",\"same\":%" PRIu64 ",\"reads\":%" PRIu64
	       ",\"read_repairs\":%" PRIu64 ",\"retransmits\":%" PRIu64 "},",
	   cs.replicate_applied, cs.replicate_older, cs.replicate_same,
	   cs.reads_served, cs.read_repairs_sent, cs.retransmits);
	/* Peers as seen by shard 0's detector. */
	const struct qr_detector *d =
		qr_core_detector(qr_shard_core(cfg->shards[0]));
	uint64_t now_us = qr_shard_now_us(cfg->shards[0]);
	jb(&b, "\"peers\":[");
	first = true;
	for (uint16_t p = 0; p < d->nodes; p++) {
		if (p == cfg->node_id)
			continue;
		uint64_t heard = d->peers[p].last_heard_us;
		jb(&b, "%s{\"node\":%u,\"state\":\"%s\",\"last_contact_ms\":"
		       "%" PRIu64 ",\"transitions\":%u}",
		   first ? "" : ",", p,
		   qr_peer_state_name(qr_detector_state(d, p)),
		   now_us > heard ? (now_us - heard) / 1000 : 0,
		   d->peers[p].transitions);
		first = false;
	}
	jb(&b, "],\"wal\":{\"appends\":%" PRIu64 ",\"batches\":%" PRIu64
	       ",\"fsyncs\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"busy\":%" PRIu64 ",\"snapshots\":%" PRIu64
	       ",\"appended_lsn\":%" PRIu64 ",\"durable_lsn\":%" PRIu64 "},",
	   ws.appends, ws.batches, ws.fsyncs, ws.bytes_written,
	   ws.append_busy, ws.snapshots, appended, durable);
	jb(&b, "\"hlc\":{\"last\":%" PRIu64 ",\"rejected\":%" PRIu64 "},", hlc,
	   hlc_rejected);
	jb(&b, "\"packets\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
	       ",\"arp_replies\":%" PRIu64 ",\"arp_requests\":%" PRIu64
	       ",\"steered\":%" PRIu64 "},",
	   ss.rx_pkts, ss.tx_pkts, ss.arp_replies, ss.arp_requests,
	   ss.steered);
	jb(&b, "\"drops\":{");
	first = true;
	for (int i = 0; i < QR_SHARD_DROP_COUNT; i++) {
		jb(&b, "%s\"%s\":%" PRIu64, first ? "" : ",",
		   qr_shard_drop_name((enum qr_shard_drop)i), ss.drops[i]);
		first = false;
	}
	for (int i = 0; i < QR_DROP_COUNT; i++)
		jb(&b, ",\"%s\":%" PRIu64, qr_core_drop_name((enum qr_core_drop)i),
		   cs.drops[i]);
	jb(&b, "}}\n");
	return b.overflow ? 0 : b.len;
}

static void serve(struct qr_mgmt *m, int fd)
{
	char cmd[128];
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	/* One line, within a second: a slow client cannot hold the thread. */
	while (got < sizeof(cmd) - 1 && poll(&p, 1, 1000) == 1) {
		ssize_t r = read(fd, cmd + got, sizeof(cmd) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(cmd, '\n', got))
			break;
	}
	cmd[got] = 0;
	char *nl = strchr(cmd, '\n');
	if (nl)
		*nl = 0;
	static char out[STATS_BYTES];
	size_t n;
	if (!strcmp(cmd, "stat"))
		n = qr_mgmt_stats_json(&m->cfg, out, sizeof(out));
	else
		n = (size_t)snprintf(out, sizeof(out),
				     "{\"error\":\"unknown command\","
				     "\"commands\":[\"stat\"]}\n");
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, out + off, n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

static void *mgmt_thread(void *arg)
{
	struct qr_mgmt *m = arg;
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	while (!m->stop) {
		if (poll(&p, 1, 200) != 1)
			continue;
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(m, c);
		close(c);
	}
	return NULL;
}

static int tm_stats(const char *cmd, const char *params,
		    struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!g_tm)
		return -1;
	static char out[STATS_BYTES];
	size_t n = qr_mgmt_stats_json(&g_tm->cfg, out, sizeof(out));
	if (!n)
		return -1;
	/* Telemetry values are short strings: the JSON goes as a string. */
	rte_tel_data_string(d, "see quorate stat --json");
	(void)out;
	return 0;
}

static int tm_counters(const char *cmd, const char *params,
		       struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!g_tm)
		return -1;
	rte_tel_data_start_dict(d);
	uint64_t ok = 0, er = 0, rx = 0, tx = 0, ap = 0, fs = 0;
	for (uint16_t i = 0; i < g_tm->cfg.nshards; i++) {
		struct qr_shard *s = g_tm->cfg.shards[i];
		const struct qr_core_stats *c = qr_core_stats(qr_shard_core(s));
		ok += c->client_ok;
		er += c->client_err;
		rx += qr_shard_stats(s)->rx_pkts;
		tx += qr_shard_stats(s)->tx_pkts;
		ap += qr_wal_stats(qr_shard_wal(s))->appends;
		fs += qr_wal_stats(qr_shard_wal(s))->fsyncs;
	}
	rte_tel_data_add_dict_u64(d, "replies_ok", ok);
	rte_tel_data_add_dict_u64(d, "replies_error", er);
	rte_tel_data_add_dict_u64(d, "rx_pkts", rx);
	rte_tel_data_add_dict_u64(d, "tx_pkts", tx);
	rte_tel_data_add_dict_u64(d, "wal_appends", ap);
	rte_tel_data_add_dict_u64(d, "wal_fsyncs", fs);
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
	m->fd = -1;
	m->start_s = mono_ms() / 1000;
	g_tm = m;
	rte_telemetry_register_cmd("/quorate/counters", tm_counters,
				   "quorate node counters. No parameters");
	rte_telemetry_register_cmd("/quorate/stats", tm_stats,
				   "quorate: use `quorate stat --json`");
	if (cfg->path && cfg->path[0]) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		if (strlen(cfg->path) >= sizeof(a.sun_path)) {
			snprintf(err, n, "mgmt socket path too long: %s",
				 cfg->path);
			free(m);
			return QR_ECONFIG;
		}
		strcpy(a.sun_path, cfg->path);
		unlink(cfg->path);
		m->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (m->fd < 0 ||
		    bind(m->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(m->fd, 16) != 0) {
			snprintf(err, n, "mgmt socket %s: %s", cfg->path,
				 strerror(errno));
			if (m->fd >= 0)
				close(m->fd);
			free(m);
			return QR_ECONFIG;
		}
		if (pthread_create(&m->thread, NULL, mgmt_thread, m) != 0) {
			snprintf(err, n, "mgmt thread: %s", strerror(errno));
			close(m->fd);
			free(m);
			return QR_ENOMEM;
		}
		m->started = true;
	}
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
	if (m->fd >= 0) {
		close(m->fd);
		unlink(m->cfg.path);
	}
	g_tm = NULL;
	free(m);
}
