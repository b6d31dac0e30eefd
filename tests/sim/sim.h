/* SPDX-License-Identifier: MIT */
/*
 * Deterministic simulator: 3-7 nodes running the real sans-IO core in one
 * process, a simulated network (delay, loss, duplication, reordering,
 * symmetric and one-way partitions), skewed and jumping clocks, a WAL model
 * whose unsynced tail is lost on crash (crashes right after an
 * acknowledgement included), snapshots taken as the shard loop takes
 * them, with crashes between their steps and right after them, and
 * recovery from them, several shards per node (each a core with its own
 * store and WAL, partitions spread as quorated spreads them), a lost
 * disk and the node's rebuild (quorated --rebuild, as
 * docs/operations.md has an operator do it), and clients with mixed
 * workloads (sessions reading their own keys through lagging replicas,
 * CAS storms), and membership changes (a quarter of the seeds, every
 * one with --membership: the spare node joins, a member leaves, or the
 * spare replaces a member that died, during
 * the workload and the faults, through the core's topology API in its
 * three steps, node by node, crashes mid-stream included: membership.h).
 * Everything random comes from one seed: a seed replays bit for bit, which
 * the trace hash shows.
 */
#ifndef QR_SIM_H
#define QR_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/version.h"

struct sim_options {
	uint64_t seed;
	int nodes; /* 0: drawn from the seed (3..7) */
	int shards; /* per node; 0: drawn from the seed (1, or 2 in a third) */
	uint16_t peer_frame; /* peer_frame_bytes (jumbo peer frames); 0: 1472 */
	bool verbose;
	bool quiet; /* no per-violation detail */
	bool membership; /* every seed changes its membership (a quarter
			  * does without it: membership.h) */
	bool no_oracles; /* ignore (j), (k), (l), (o), (t), (d) at the WAL: what the
			  * end-to-end checkers alone catch */
};

struct sim_result {
	bool ok;
	uint64_t trace_hash;
	char checker[8];  /* "(a)".."(f)" of the first violation */
	char detail[512]; /* what went wrong */
	/* workload summary */
	uint32_t nodes, shards, rf, keys, clients;
	uint64_t ops, ops_ok, ops_unavailable, ops_other_err, ops_timeout;
	uint64_t reads, writes, crashes, partitions, frames, dropped_frames;
	uint64_t sim_us;
	uint64_t tombstones_collected; /* by every node's GC, all runs */
	uint64_t snapshots; /* installed, every node */
	uint64_t wipes;	    /* disks lost (and nodes rebuilt) */
	/* membership changes begun, and finished (every node at the new
	 * placement) */
	uint64_t changes, changes_finished;
	uint64_t replaces; /* changes that replace a dead member */
	uint64_t aborts;   /* changes taken back at step 2 (node abort) */
	uint64_t caught_up; /* nodes caught up by a peer's news (T7) */
	/* of them, at a late look (membership.c TOPO_NEWS_POLL_US) while
	 * the node's hand-off ran (orphan.c P4) */
	uint64_t caught_up_late;
	/* checker (g): CASPaxos ops issued, keys whose search gave up */
	uint64_t cas_ops, cas_ok, lin_inconclusive;
	/* simulated latency of successful client operations */
	uint64_t lat_p50_us, lat_p99_us, lat_max_us;
};

/* Run one seed. The core library must be ready (EAL up). */
void sim_run(const struct sim_options *opt, struct sim_result *res);

#endif
