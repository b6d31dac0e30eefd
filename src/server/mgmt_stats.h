/* SPDX-License-Identifier: MIT */
/*
 * What the management endpoints report, computed in one place so `quorate
 * stat` (JSON, mgmt_stats.c), DPDK telemetry (mgmt.c) and /metrics
 * (Prometheus text, metrics.c) cannot disagree: every shard's counters
 * summed, and the node's readiness.
 *
 * Readiness (`quorate ready`, GET /ready; docs/operations.md): a node is
 * ready when (1) its WAL recovered (true once the management endpoint
 * runs: it starts after every shard's recovery) and takes writes, (2)
 * every shard loop has run (its port is polled), and (3) it has heard from
 * enough peers since it started that a majority of the cluster's nodes,
 * itself included, is up and takes writes. Peers start UP in the failure
 * detector, so (3) counts only peers heard after `since_us`.
 *
 * All reads are lock-free from the shard cores' own counters (aligned
 * 64-bit words, never torn on x86-64, at worst a few microseconds old).
 */
#ifndef QR_SERVER_MGMT_STATS_H
#define QR_SERVER_MGMT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"
#include "server/mgmt.h"
#include "shard/shard.h"
#include "wal/wal.h"

struct qr_mgmt_agg {
	struct qr_core_stats cs;
	struct qr_shard_stats ss;
	struct qr_wal_stats ws;
	uint64_t durable, appended, hlc, hlc_rejected;
	uint16_t nshards;
	int wal_err, wal_errno; /* the first shard whose WAL takes no writes */
};

void qr_mgmt_gather(const struct qr_mgmt_config *cfg, struct qr_mgmt_agg *a);

struct qr_mgmt_ready {
	bool ready;
	bool wal_ok;	  /* recovered and taking writes */
	bool loops_ok;	  /* every shard loop has run */
	unsigned alive;	  /* nodes up and taking writes, self included */
	unsigned needed;  /* a majority of the cluster's nodes */
	char reason[160]; /* why not ready ("" when ready) */
};

/* since_us: shard 0's clock when the shards were created. */
void qr_mgmt_readiness(const struct qr_mgmt_config *cfg, uint64_t since_us,
		       struct qr_mgmt_ready *r);

/* One JSON object and a newline into out: its length, 0 if it did not
 * fit. `ready` also returns whether the node is ready in *is_ready. */
size_t qr_mgmt_ready_json(const struct qr_mgmt_config *cfg, uint64_t since_us,
			  char *out, size_t cap, bool *is_ready);
/* Dump compact, in insertion order, with a newline and a NUL: its length
 * (the NUL excluded), 0 if it did not fit or jansson failed. Takes o's
 * reference (NULL: 0). */
size_t qr_mgmt_dump(json_t *o, char *out, size_t cap);
/* "stat" as a jansson object (the caller owns the reference). */
json_t *qr_mgmt_stats_obj(const struct qr_mgmt_config *cfg);
size_t qr_mgmt_replication_json(const struct qr_mgmt_config *cfg, char *out,
				size_t cap);

/* Prometheus text (metrics.c): bytes written, or a negative QR_E*. */
long qr_mgmt_metrics(const struct qr_mgmt_config *cfg, uint64_t since_us,
		     char *out, size_t cap);

#endif
