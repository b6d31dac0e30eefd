/* SPDX-License-Identifier: MIT */
/*
 * Management endpoint: a unix stream socket (path from the cluster file's
 * `mgmt` key) served by a thread of its own, off the data path. A client
 * writes one command line and reads one JSON object until EOF:
 *   "stat"  -> the node's statistics (docs/operations.md lists the fields)
 *   "stat replication", "repair" (docs/operations.md)
 *   "ready" -> readiness (mgmt_stats.h), as GET /ready answers it
 *   "topology ..." -> the membership change commands (topo_ctl.h)
 * and, with metrics_port, an HTTP endpoint: GET /metrics (Prometheus) and
 * GET /ready (mgmt_http.h).
 * The socket is 0600 (0660 with `mgmt_group`), peers are checked with
 * SO_PEERCRED, and several clients are served at once, each for at most a
 * second (mgmt_sock.h, M1-M4); `stat` shows the socket's own counters.
 * The same statistics are DPDK telemetry commands (/quorate/stats).
 * Counters are read without locks from the shard cores' stats (aligned
 * 64-bit words: never torn on x86-64, at worst a few microseconds old).
 */
#ifndef QR_SERVER_MGMT_H
#define QR_SERVER_MGMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cluster.h"

struct qr_shard;
struct qr_mgmt;
struct qr_topo_ctl;

struct qr_mgmt_config {
	const char *path; /* empty: no socket (telemetry only) */
	const struct qr_cluster *cluster;
	uint16_t node_id;
	struct qr_shard **shards;
	uint16_t nshards;
	const char *profile;
	gid_t gid; /* (gid_t)-1: socket 0600; else 0660 with this group */
	uint32_t metrics_ip;   /* HTTP /metrics and /ready (mgmt_http.h) */
	uint16_t metrics_port; /* 0: no HTTP endpoint */
	bool clock_hook; /* quorated --clock-offset-ms was given: the test
			  * command "clock-offset MS" sets the offset */
	struct qr_topo_ctl *topo; /* "topology ..." (topo_ctl.h) */
};

int qr_mgmt_start(const struct qr_mgmt_config *cfg, struct qr_mgmt **out,
		  char *err, size_t err_len);
/* Write the stats JSON into buf: its length, or 0 if it did not fit. */
/* Signal-safe: ask the thread to stop. */
void qr_mgmt_stop(struct qr_mgmt *m);
/* Join the thread, remove the socket. */
void qr_mgmt_destroy(struct qr_mgmt *m);
/* Start the socket thread and the HTTP endpoint (call after every shard
 * is created: readiness counts peers heard from after this point). */
size_t qr_mgmt_stats_json(const struct qr_mgmt_config *cfg, char *buf,
			  size_t len);

#endif
