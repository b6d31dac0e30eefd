/* SPDX-License-Identifier: MIT */
/*
 * The simulator's state, shared by sim.c (the event loop, nodes, clients,
 * faults) and membership.c (topology changes): private to tests/sim.
 * Invariants: cores[ix] is shard ix % shards of node ix / shards; a host
 * that is down has every core NULL; everything random comes from the
 * seed's streams (struct sim), so a seed replays bit for bit.
 */
#ifndef QR_SIM_PVT_H
#define QR_SIM_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rng.h"
#include "core/core.h"
#include "core/reasm.h"
#include "core/wire.h"
#include "sim/check.h"
#include "sim/lincheck.h"
#include "sim/membership.h"
#include "sim/oracle.h"
#include "sim/sim.h"

#define SIM_NODES_MAX	7
#define SIM_SHARDS_MAX	4
#define SIM_WIPE_SALT	0x77697068ull /* the disk-loss draw ("wipe" + 3: the
					 * regression seeds lose no disk) */
#define SIM_SHARD_SALT	0x7368617265ull /* the shards draw ("shard" + 1: the
					 * regression seeds draw 1 shard) */
#define SIM_CLIENTS_MAX 8
#define SIM_KEYS_MAX	24
/* Values of up to ~3 KiB: over one frame, so some travel as fragments
 * (issue 15); the long form adds its prefix and message header. */
#define SIM_VALUE_MAX 3000
#define SIM_LONG_MAX (SIM_VALUE_MAX + QR_FRAME_BYTES_MAX + 4)
#define SIM_CAS_KEYS_MAX 3 /* keys only CASPaxos ops touch (checker (i)) */
#define EPOCH_MS	1700000000000ull /* wall clocks start near 2023 */
/* Tombstone grace: above a write's whole life here (deadline <= 50 ms,
 * linger, two client retries that re-drive its version: ~200 ms). */
#define SIM_GRACE_MS	300
#define SIM_MAX_OFFSET_MS 500 /* the cores' max_offset_ms (the default) */

enum ev_type {
	EV_DELIVER_NODE,   /* frame to a node */
	EV_DELIVER_CLIENT, /* reply frame to a client */
	EV_TICK,	   /* a node's timer tick */
	EV_WAL_DONE,	   /* a node's WAL batch is durable */
	EV_CLIENT_NEXT,	   /* a client issues its next operation */
	EV_CLIENT_TIMEOUT, /* a client gives up on an operation */
	EV_FAULT,	   /* the fault schedule acts */
	EV_RESTART,	   /* a node crashed right after an ack comes back */
	EV_CLOCK_BACK,	   /* a node's clock jump beyond max_offset ends */
	EV_SNAP,	   /* a node's snapshot begins or takes a step */
	EV_TOPO,	   /* the membership change acts (membership.c) */
};

struct event {
	uint64_t at_us;
	uint64_t seq; /* tie-break: insertion order */
	uint8_t type;
	uint16_t node;
	uint32_t arg;  /* client id, incarnation, ... */
	uint64_t arg2; /* lsn, op seq, client handle */
	uint16_t len;
	uint8_t *data; /* frame bytes, owned */
};

struct wal_rec {
	struct qr_wal_record r;
	uint64_t at_us; /* the node's time when it was appended */
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value[SIM_VALUE_MAX];
};

struct sim;

/* A node (a quorated process): what its shards share. A crash takes
 * every shard down, a restart brings every one back (one incarnation);
 * they read one wall clock and write one disk. */
struct host {
	uint16_t id;
	bool up;
	uint32_t incarnation;
	int64_t skew_ms; /* wall = sim time + epoch + skew */
	bool jumped;	 /* skew_ms is beyond max_offset (EV_CLOCK_BACK) */
	/* Disk fault: while wal_err < 0 every append is refused with it
	 * (QR_ENOSPC: full; QR_EIO) and the core is told, as the shard loop
	 * tells it (qr_core_set_wal_error). Batches appended before still
	 * become durable. */
	int wal_err;
	uint64_t restarted_us; /* when it last started */
	/* An empty-disk restart (disk_wipe): down with its disk gone until
	 * the operator starts it again (EV_RESTART); then started with
	 * --rebuild until every shard says it is filled (recover.c RB1; an
	 * operator gives --rebuild again after a crash meanwhile). */
	bool wiped, rebuild;
	uint64_t wiped_ceiling; /* the highest HLC ceiling its disk held */
	/* Membership change (membership.h): the level of its view, and
	 * when its cores were last given it (installed or restarted). */
	uint8_t tlevel;
	uint64_t view_us;
	bool held; /* kept down by the change (membership.c): no restart */
	/* membership.c topo_news: its next look for news, and in which
	 * incarnation (+1; 0: not yet) */
	uint64_t news_look_us;
	uint32_t news_inc;
};

/* One shard core of a node (src/shard/shard.c: one qr_core, one WAL per
 * shard; partition p belongs to shard p % shards, qr_placement_shard):
 * its core and its WAL model. With one shard per node (most seeds) core
 * ix = node id. */
struct node {
	struct sim *sim;
	struct host *h;
	uint16_t id;	/* the node's id */
	uint16_t shard; /* which of its shards */
	uint16_t ix;	/* s->cores[ix]: id * shards + shard */
	struct qr_core *core;
	bool core_recovered; /* its WAL replay is done (membership.c) */
	uint64_t pause_us; /* HLC overflow waits: this node's time moved */
	/* WAL model: log[0..durable) survives a crash, the rest does not. */
	struct wal_rec *log;
	uint64_t log_len, log_cap;
	uint64_t durable; /* records durable */
	bool batch_inflight;
	uint64_t hlc_seen; /* checker (f): highest HLC this incarnation */
	/* Checker (m): the version of every PUT / TOMBSTONE record
	 * in log[0..durable), an open-addressing set (0: empty slot). */
	uint64_t *dur_set;
	uint64_t dur_cap, dur_n, dur_upto;
	/* Crashes right after an acknowledgement (issue 13 item 3): set by
	 * env_send, looked at (and cleared) after the event. */
	bool sent_ack;	       /* a REPLICATE_ACK, ACCEPTED, PROMISE or
				* READ_REPLY with an entry, to a peer */
	bool answered_any;     /* an OK to a level ANY write */
	/* Snapshots (issue 13 item 3), as the shard loop takes them
	 * (src/shard/shard.c maybe_snapshot and snap_for_each,
	 * src/wal/wal_snapshot.c): the installed one is snap[0..snap_len):
	 * the highest clock ceiling logged below its begin lsn (a record
	 * without the floor value, as the real header gives it back), then
	 * per partition its store entries, then its live hints. The log
	 * below snap_begin is gone for recovery (log[] keeps it for the
	 * checkers only). One being taken, fuzzy and in steps while events
	 * go on: tmp[0..tmp_len) from tmp_begin, partitions below tmp_part
	 * copied, then a wait until the log is durable up to tmp_end; a
	 * crash loses it, like the real .tmp file. */
	struct wal_rec *snap, *tmp;
	uint64_t snap_len, snap_cap, tmp_len, tmp_cap;
	uint64_t snap_begin, tmp_begin, tmp_end; /* 0: none */
	uint32_t tmp_part;
};

struct client {
	uint16_t id;
	bool busy;
	bool stopped;
	uint64_t seq;	 /* operations issued */
	uint64_t req_id; /* id of the operation in flight */
	int op_index;	 /* history index of it */
	uint64_t token;	 /* highest version seen (session token) */
	uint64_t token_weak; /* ... through operations below quorum */
	bool weak;	     /* the operation in flight is below quorum */
	/* recent operations: a duplicate of one may still be in flight */
	struct {
		int op_index, coord;
		uint64_t end_us;
	} recent[8];
	unsigned nrecent;
	uint8_t op;	     /* the operation in flight */
	uint8_t level;	     /* its level */
	uint8_t count;	     /* its R or W (0: ANY) */
	int key;	     /* its key (plain operations) */
	/* Per key, the replicas that acknowledged the session's last write
	 * of it (CLIENT_REPLY's replica_mask) and when: the session then
	 * reads it back through one that did not, or that restarted since
	 * (issue 13 item 3: "sessions read their own keys through a lagging
	 * replica"). 0: no acknowledged write. */
	uint64_t wmask[SIM_KEYS_MAX];
	uint64_t wrote_us[SIM_KEYS_MAX];
	/* the request in flight, kept to retry it as is (same req_id) */
	uint8_t frame[QR_FRAME_BYTES_MAX];
	uint16_t frame_len; /* 0: a long request, in lform */
	uint8_t lform[SIM_LONG_MAX]; /* a long request's long form */
	uint32_t lform_len;
	uint64_t long_seq;	  /* FRAG message ids */
	struct qr_reasm reasm;	  /* long replies */
	int coord;
	uint64_t sent_us;	    /* when the operation was first sent */
	uint16_t coord_ix;	    /* ... its shard owning the key (ix) */
	uint32_t coord_incarnation; /* the coordinator's, at first send */
	uint8_t retries_left;	    /* writes answered UNAVAILABLE */
	uint16_t attempt;
	uint32_t timeout_us;
	/* a CASPaxos op in flight (checker (i), not (a)-(e)) */
	bool is_cas;
	bool cas_plain; /* a plain GET of a CAS key: not in (i)'s history */
	uint8_t cas_op; /* the CAS op in flight */
	int cas_key;			      /* 0..ncas-1 */
	struct qr_version cas_seen[SIM_CAS_KEYS_MAX]; /* last version seen */
	/* Highest version of each CAS key the session saw (CAS answers and
	 * plain reads): a plain read with its token must return at least
	 * it (checker (g) for CAS keys). */
	struct qr_version cas_tok_seen[SIM_CAS_KEYS_MAX];
	uint64_t cas_mask[SIM_CAS_KEYS_MAX]; /* replicas of the last answer */
	uint64_t cas_us[SIM_CAS_KEYS_MAX];   /* ... and when it came */
	bool cas_token_read; /* the plain read in flight carries the token */
	uint64_t cas_token;  /* ... this one */
};

struct sim {
	const struct sim_options *opt;
	unsigned zones; /* node n is in zone n % zones (1 or 2) */
	struct sim_result *res;
	struct qr_rng rng;
	struct qr_rng disk_rng; /* disk faults: a stream of their own, so a
				 * seed without one runs as it did before */
	struct qr_rng jump_rng; /* clock jumps beyond max_offset: likewise */
	struct qr_rng snap_rng; /* snapshots and their crashes: likewise */
	bool snaps;		/* this seed takes snapshots */
	struct qr_rng wipe_rng; /* a disk lost, and the rebuild: likewise */
	bool wipes, wiped_once; /* this seed loses a disk; it did */
	uint64_t wipe_forget_us; /* then oracle_wipe_forget (0: done); a
				  * replace's death sets it too */
	uint64_t now_us;
	uint64_t seq;
	uint64_t trace;
	uint64_t audits; /* events since the start, for checker (v) */
	/* event heap */
	struct event *heap;
	size_t heap_len, heap_cap;
	/* cluster */
	int n;
	int shards; /* shard cores per node (1 or more) */
	struct qr_placement pl;
	struct host hosts[SIM_NODES_MAX];
	struct node cores[SIM_NODES_MAX * SIM_SHARDS_MAX]; /* ix order */
	struct client clients[SIM_CLIENTS_MAX];
	int nclients;
	int nkeys;
	int ncas; /* CAS keys, after the nkeys plain ones in keys[] */
	char keys[SIM_KEYS_MAX][40];
	uint8_t key_len[SIM_KEYS_MAX];
	/* network model */
	uint32_t loss_ppm, dup_ppm, tail_ppm;
	uint32_t delay_min_us, delay_span_us, tail_us;
	bool blocked[SIM_NODES_MAX][SIM_NODES_MAX]; /* [from][to] */
	bool faults_on;
	/* phases */
	uint64_t faults_end_us, final_us, end_us;
	bool ae_only; /* no final reads: anti-entropy alone must converge */
	uint64_t hint_delay_us; /* core config: first hint delivery delay */
	uint32_t ack_crash_ppm; /* crash right after an ack, tail not durable */
	uint32_t cas_ppm;	/* client ops that are CAS ops (if ncas) */
	uint32_t session_ppm;	/* ops that read the session's own key back */
	uint64_t hints_lost;	/* by every incarnation of every node */
	bool cas_deleted[SIM_CAS_KEYS_MAX]; /* a delete was issued */
	bool final_started;
	struct check check;
	struct lincheck lin;
	struct oracle *orc; /* checkers (j), (k) */
	struct topo topo;   /* the membership change, if any */
	const struct qr_placement *cpl; /* clients route with it: s->pl,
					 * then the new one (membership.c) */
};

/* sim.c, for membership.c */
struct node *sim_core_of(struct sim *s, int node, int shard);
void sim_ev_at(struct sim *s, uint64_t at, uint8_t type, uint16_t node,
	       uint32_t arg, uint64_t arg2);
void sim_vlog(struct sim *s, const char *fmt, ...);
/* Node h's process dies (its restart is the caller's: EV_RESTART). */
void sim_node_crash(struct sim *s, struct host *h);
/* While the faults (and the workload) run: they last until `until`. */
void sim_stretch_faults(struct sim *s, uint64_t until);
void sim_fail(struct sim *s, const char *checker, const char *fmt, ...);
/* The highest HLC milliseconds any running core reached. */
uint64_t sim_hlc_ms(struct sim *s);

#endif
