/* SPDX-License-Identifier: MIT */
/*
 * The protocol core of one shard core of one node: coordinator and replica
 * state machines for PUT / GET / DELETE at ONE / QUORUM / ALL / explicit R,W,
 * read repair, retransmission, deadlines and the failure detector. Sans-IO
 * and deterministic: the same events in the same order give the same effects.
 *
 * Events in:  qr_core_on_frame (peer or client frame), qr_core_on_wal_durable,
 *             qr_core_tick (timers), qr_core_recover (WAL replay at start).
 * Effects out (struct qr_env): frames to send, WAL appends.
 * The driver calls qr_core_flush() after a batch of events to send the frames
 * the core has been filling (one per peer, several messages each).
 *
 * Not thread-safe: one qr_core per shard core. Memory is allocated at
 * qr_core_create() and never on the event path (the store's value arena
 * aside).
 */
#ifndef QR_CORE_CORE_H
#define QR_CORE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/histogram.h"
#include "common/secret.h"
#include "core/auth.h"
#include "core/detector.h"
#include "core/env.h"
#include "core/hlc.h"
#include "core/placement.h"
#include "core/store.h"
#include "core/wire.h"
#include "quorate/err.h"

struct qr_core;

struct qr_core_config {
	uint16_t node_id;
	uint16_t shard;
	uint32_t cluster_id;
	uint32_t incarnation;		      /* bump on every start */
	const struct qr_placement *placement; /* shared, read-only: the
					       * owners until a topology
					       * change (below) */
	uint16_t node_slots; /* node ids that may ever take part (joins):
			      * 0 -> placement->nodes; at most QR_NODES_MAX */
	uint32_t requests_max;	/* in-flight coordinator requests */
	uint32_t pending_max;	/* replies waiting for the WAL */
	uint32_t keys_max;	/* store entries */
	uint64_t store_bytes_max; /* key + value bytes the store may hold;
				   * a write that would grow it past this is
				   * refused NO_SPACE before the WAL. 0: no
				   * limit but keys_max */
	unsigned arena;		/* jemalloc arena for the store */
	uint64_t max_offset_ms; /* HLC: 0 -> 500 */
	uint64_t hlc_lease_ms;	/* HLC ceiling logged ahead of use; must be
				 * below max_offset_ms / 2 */
	uint64_t deadline_us_default; /* when a request gives none */
	uint64_t rto_us_min;	      /* first retransmission timeout */
	uint64_t rto_us_max;	      /* backoff cap */
	uint64_t heartbeat_us;	      /* heartbeat period */
	uint64_t suspect_after_us;
	uint64_t down_after_us;
	uint64_t timer_tick_us;	 /* timer wheel granularity */
	uint64_t ae_interval_us; /* anti-entropy: one partition per interval; 0:
				    off */
	uint32_t ae_entries_per_s;   /* DIGEST work one peer may cause here:
				      * entries scanned and pushed per second,
				      * and the burst (anti_entropy.c A3);
				      * 0 -> 100,000 */
	uint32_t value_bytes_max; /* the cluster's value limit (issue 15):
				   * a longer value is refused; 0 ->
				   * QR_VALUE_BYTES_DEFAULT, at most
				   * QR_VALUE_BYTES_MAX */
	uint32_t values_max;	  /* buffers for values over one frame held
				   * by requests, hints and the loopback
				   * queue (long.h), value_bytes_max each,
				   * touched only when used; 0 -> 64 */
	uint32_t reasm_slots;	  /* long messages assembled at once;
				   * 0 -> the larger of 8 and 2 x nodes */
	uint64_t reasm_timeout_us; /* a long message's time to arrive;
				    * 0 -> 2 s */
	uint64_t reasm_idle_us;	   /* ... and the longest gap between its
				    * fragments; 0 -> 1/20 of that */
	uint32_t long_keep_bytes;  /* long messages sent kept for NACKs
				    * (long.h V5): 0 -> 4 of the longest or
				    * 1 MiB, whichever is more; at least one
				    * of the longest */
	uint16_t peer_frame_bytes; /* frames between nodes (the cluster's
				    * peer_frame_bytes, the same on every
				    * node): 0 -> QR_FRAME_BYTES_MAX, at most
				    * QR_FRAME_JUMBO_MAX. Client frames stay
				    * at QR_FRAME_BYTES_MAX */
	uint32_t hints_max;	     /* hinted-handoff slots (writes a replica
				      * missed), ~1.3 KiB each; 0 -> 4096 */
	uint64_t hint_delay_us;	     /* a hint's first delivery waits this long
				      * (lets a flapping peer settle); 0: the
				      * next heartbeat period */
	uint64_t tombstone_grace_ms; /* tombstone GC (docs/protocol.md): a
				      * tombstone is collected once older than
				      * this on the HLC and held by every
				      * replica; must exceed any write's life
				      * plus clock skew. 0: never collect */
	bool rebuild;		     /* this node lost its data (a replaced
				      * disk, quorated --rebuild): it rejoins
				      * as a rebuilding replica (recover.c
				      * RB1-RB3) */
	uint8_t auth;		     /* enum qr_auth_mode: QR_AUTH_MAC (the
				      * default, 0) or QR_AUTH_NONE */
	const struct qr_secret *secret; /* QR_AUTH_MAC: the cluster keys;
					 * read at qr_core_create() only */
	const struct qr_client_keys
		*client_keys; /* QR_AUTH_MAC: client
			       * frames must be signed by one of
			       * these (auth_client.c); NULL: client
			       * frames unchecked (quorated always
			       * gives them with auth = mac). Read
			       * at qr_core_create() only */
};

/* Reasonable defaults for a real deployment (the sim overrides some). */
void qr_core_config_defaults(struct qr_core_config *cfg);

/* Counters. X(name, text). */
#define QR_CORE_DROP_LIST(X)                                                   \
	X(WIRE, "malformed frame or message")                                  \
	X(CLOCK, "sender's HLC too far ahead")                                 \
	X(BAD_NODE, "unknown source node")                                     \
	X(WRONG_SHARD, "key belongs to another shard")                         \
	X(NOT_REPLICA, "replica message for a partition we do not hold")       \
	X(STALE_REPLY, "reply to a finished or unknown request")               \
	X(UNEXPECTED, "message type not valid from this sender")               \
	X(PENDING_FULL, "WAL-pending queue full")                              \
	X(WAL, "WAL append refused")                                           \
	X(EXPIRED, "write older than the tombstone grace for an absent key")   \
	X(LOOP_FULL, "loopback queue full (a message to ourselves)")           \
	X(CLUSTER, "frame of another cluster")                                 \
	X(BAD_KEY_ID, "peer frame signed with a key id we do not hold")        \
	X(BAD_MAC, "peer frame whose MAC is missing or does not verify")       \
	X(REPLAY, "peer frame seen before, or of an earlier incarnation")      \
	X(FUTURE, "version or clock value beyond max_offset of our clock")     \
	X(STORE_FULL, "new key refused: store full (before the WAL append)")   \
	X(CLIENT_KEY, "client frame signed with a client id we do not know")   \
	X(CLIENT_MAC, "client frame whose MAC is missing or does not verify")  \
	X(AE_RATE, "DIGEST over the peer's anti-entropy budget (not pushed)")  \
	X(WAL_REFUSING, "write refused: our WAL does not take writes")        \
	X(LONG, "fragment or long message refused, or timed out whole")       \
	X(VALUES_FULL, "long value not held: no value buffer free")           \
	X(REBUILDING, "READ, PREPARE or ACCEPT refused: we are rebuilding")    \
	X(EPOCH, "peer frame of a topology epoch we fence (topology.c T6)")   \
	X(NEWS, "TOPO_NEWS refused: auth none, or not a topology (T7)")

enum qr_core_drop {
#define QR_CORE_DROP_ENUM(name, text) QR_DROP_##name,
	QR_CORE_DROP_LIST(QR_CORE_DROP_ENUM)
#undef QR_CORE_DROP_ENUM
		QR_DROP_COUNT
};
const char *qr_core_drop_name(enum qr_core_drop d);

struct qr_core_stats {
	uint64_t frames_in, msgs_in, frames_out, msgs_out;
	uint64_t client_ops[QR_OP_END]; /* requests accepted, by op */
	uint64_t client_ok, client_err; /* replies sent */
	uint64_t client_duplicates;	/* repeated writes not re-applied */
	uint64_t ae_digests_sent, ae_mismatches, ae_entries_pushed;
	uint64_t ae_passes; /* on-demand passes (repair, peer back) */
	uint64_t tombstones_collected; /* removed by tombstone GC */
	uint64_t tokens_ignored;       /* write tokens too far ahead to stamp
					* above by the deadline: CLOCK_AHEAD */
	uint64_t token_write_waits;    /* writes that waited for the wall clock
					* to near their token */
	uint64_t cas_rounds;	       /* CASPaxos ballots tried (proposer) */
	uint64_t cas_promises;	       /* promises logged (acceptor) */
	uint64_t cas_rejects; /* prepares / accepts refused (acceptor) */
	uint64_t client_err_by[1 - QR_ERR_MIN]; /* index -err */
	uint64_t replicate_applied, replicate_older, replicate_same;
	uint64_t reads_served;
	uint64_t read_repairs_sent; /* REPLICATEs sent by read repair */
	uint64_t retransmits;
	uint64_t rto_deferred; /* (write, replica) pairs a write's timeout
				* did not resend to: no evidence of loss
				* at its first (write.c W6), or the
				* replica's probe for this RTO already
				* sent (W7) */
	uint64_t wal_appends;
	/* Topology (topology.c): the epoch installed, the partitions this
	 * core gains in a change and has not filled, and owners' DIGESTs
	 * that equalled ours while streaming. */
	uint64_t epoch, stream_left, stream_matches;
	uint64_t stream_settling; /* gained, handed over, not settled */
	uint64_t epoch_peer_max;  /* the highest epoch a peer's frame carried
				   * (T6; ours + its distance mod 2^16): above
				   * ours, this node is behind */
	uint64_t epoch_refused;	  /* client requests refused meanwhile */
	/* T7: settled topologies told to peers behind, and heard from a
	 * peer ahead of us (taken: newer than ours and than the last one) */
	uint64_t news_sent, news_heard;
	uint64_t loop_msgs; /* messages to ourselves (loopback queue) */
	/* Long messages (long.h): whole ones and their fragments. */
	uint64_t long_in, long_out, frags_in, frags_out;
	/* Selective resend (reasm.h A8): NACKs sent and received, chunks
	 * sent again for them, NACKs naming a message no longer kept; and
	 * messages whose assembled bytes failed their CRC (reasm.h A1). */
	uint64_t nacks_out, nacks_in, frags_resent, nacks_unknown;
	uint64_t long_corrupt;
	uint64_t drops[QR_DROP_COUNT];
	/* Replication backlog per peer, recomputed every heartbeat period:
	 * writes whose REPLICATE to that peer is not acknowledged yet, and
	 * the age of the oldest (0 when none). */
	uint64_t repl_unacked[QR_NODES_MAX];
	uint64_t repl_oldest_us[QR_NODES_MAX];
	/* Hinted handoff: hints waiting for each target node (records and
	 * key + value bytes), and totals. */
	uint64_t hint_records[QR_NODES_MAX];
	uint64_t hint_bytes[QR_NODES_MAX];
	uint64_t hints_created, hints_delivered, hints_lost;
	uint64_t hints_moot; /* freed: a topology change took their
			     * target off the partition (hints.c) */
	/* Closed timestamps (HLC values): closed_in[n] is the highest one
	 * node n sent us (every write n stamped below it is durable here);
	 * watermark = the minimum over all nodes, ourselves included. */
	uint64_t closed_in[QR_NODES_MAX];
	uint64_t watermark;
	uint64_t stale_answers;	  /* reads answered STALE */
	uint64_t token_waits;	  /* reads that waited for a watermark */
	uint64_t orphan_syncs;	  /* hand-offs of our writes after a restart
				   * or a lost hint, started */
	uint64_t orphan_active;	  /* 1: one is running (our closed
				   * timestamps are held at its start) */
	uint64_t recover_refused; /* WAL records recovery refused (V4) */
	uint64_t wal_refusals;	  /* times the driver said our WAL stopped
				   * taking writes (qr_core_set_wal_error) */
	uint64_t writes_refused;  /* client writes failed fast because too
				   * few replicas take writes (us or peers
				   * that announced QR_MSGF_NO_WRITES) */
	/* The clock guard (clock_guard.c): wall clock steps beyond
	 * max_offset kept out of the HLC, client requests refused
	 * (CLOCK_AHEAD) while the clock is out of bounds, and 1 while this
	 * core serves (0: out of bounds; as of the last heartbeat period). */
	uint64_t clock_jumps, clock_refused, clock_serving;
	uint64_t rebuilding; /* 1: rebuilding after a lost disk (recover.c
			      * RB1): no READ, PREPARE or ACCEPT answered
			      * until our full hand-off is done */
};

/* The value pool (long.h V1), between events: every buffer is free or
 * held by exactly one live request, CAS state or hint. 0, or QR_ECORRUPT.
 * A check for tests and the simulator (it scans every slot). */
int qr_core_values_audit(const struct qr_core *c);

/* 0 and *out, or QR_EINVAL / QR_ENOMEM. env is copied. */
int qr_core_create(const struct qr_core_config *cfg, const struct qr_env *env,
		   struct qr_core **out);
void qr_core_destroy(struct qr_core *c);

/*
 * Recovery, before any other event: re-apply a durable WAL record (in lsn
 * order). Raises the HLC past its version. 0 or the store's error, or
 * QR_ECLOCK: the record's version is more than max_offset_ms beyond both
 * the HLC ceiling logged before it and our wall clock (forged before frames
 * were authenticated, or corrupt): refused and not adopted (nothing
 * changed), named by qr_core_recover_message(). The driver may go on with
 * the next record (quorated does, and says so).
 */
int qr_core_recover(struct qr_core *c, const struct qr_wal_record *rec);
/* Why the last qr_core_recover call refused its record ("" if it did
 * not): "record lsn N (PUT, partition P, version H.N): ...". */
const char *qr_core_recover_message(const struct qr_core *c);

/* Recovery finished: last_lsn is the WAL's last durable lsn (it may exceed
 * the last record replayed, e.g. below a snapshot). The next record the
 * core logs is last_lsn + 1. */
void qr_core_recovered(struct qr_core *c, uint64_t last_lsn);

/* A frame from a peer (client = 0) or a client (client = the driver's handle
 * for its address, echoed back in env->send). Bad input is counted in
 * stats.drops and changes nothing. */
void qr_core_on_frame(struct qr_core *c, uint64_t client, const void *frame,
		      size_t len);
/* Every record with lsn <= lsn is durable (called in increasing order). */
void qr_core_on_wal_durable(struct qr_core *c, uint64_t lsn);
/* Authenticate a finished frame (len bytes, cap the buffer's size) as c
 * sending it to node dst, exactly as its own peer frames are (auth.h):
 * the new length, or 0 if the trailer does not fit. With auth = none,
 * len. For tests, the fuzzer and benchmarks that build peer frames. */
size_t qr_core_seal(struct qr_core *c, uint16_t dst, void *frame, size_t len,
		    size_t cap);
/*
 * The driver's WAL stopped taking writes (err < 0: QR_ENOSPC when the disk
 * is full, QR_EIO after an I/O error), or takes them again (err = 0). Call
 * it whenever the WAL's state may have changed (the shard loop: every
 * iteration; it is a compare when nothing changed). While err < 0 the
 * node serves reads but no write: a replica answers REPLICATE and ACCEPT
 * with status err before anything is logged, a write coordinated here is
 * answered err at once, and every HEARTBEAT carries QR_MSGF_NO_WRITES so
 * peers stop counting this node for W (docs/operations.md, "A full
 * disk"). A wal_append that fails with anything but QR_EBUSY also sets
 * it, until the driver calls this with 0.
 */
void qr_core_set_wal_error(struct qr_core *c, int err);
/* 0, or the error that keeps this node from taking writes. */
int qr_core_wal_error(const struct qr_core *c);
/* Run due timers: retransmissions, deadlines, heartbeats, detector. Call at
 * least every timer_tick_us. */
void qr_core_tick(struct qr_core *c);
/* When qr_core_tick must run next, in now_us time: the earliest armed
 * timer (retransmission, deadline, heartbeat, anti-entropy), or 0 when
 * per-tick work is pending (an anti-entropy burst, a long message still
 * assembling); limit_us if nothing is due before it. An idle driver may
 * sleep until then (shard/idle_wait.h); it must wake for frames. */
uint64_t qr_core_next_due_us(const struct qr_core *c, uint64_t limit_us);
/* Send every frame the core has been filling. */
void qr_core_flush(struct qr_core *c);
/* Run an anti-entropy pass over every partition of this shard soon (a few
 * partitions per tick), besides the schedule: `quorate repair`. Call from
 * the core's own thread, like every other event. */
void qr_core_ae_request(struct qr_core *c);

/* Snapshots: the live hints of one partition, each as a QR_WAL_HINT record
 * to fn (its rc, if not 0, stops the walk and is returned). The driver's
 * snapshot source calls it after the partition's store entries, so hints
 * survive the log segments a snapshot deletes (hints.c, N4). */
int qr_core_snapshot_hints(const struct qr_core *c, uint32_t partition,
			   int (*fn)(void *arg,
				     const struct qr_wal_record *rec),
			   void *arg);

/*
 * Topology changes (issue 14; docs/topology.md "Changes in the core";
 * core/topology.c T1..T5). Control path, between events, from the core's
 * own thread. owners: the placement whose replica sets hold each
 * partition now. pending: NULL, or the placement a change moves to (a
 * join, a leave). While pending is set, every read, write and CAS phase of
 * a partition goes to the union of its two replica sets and needs, in
 * every group, one more answer per member of the union outside either
 * set (T1), so it meets its level in the old set and in the new one at
 * once. Both placements stay owned by the caller and must outlive the next
 * call; their partitions and shards must equal the config's placement and
 * their node ids be below node_slots. epoch must grow. 0 or QR_EINVAL
 * (nothing changed).
 * The change's steps (the caller's to order, every node the same way):
 *   1. set (owners = old, pending = new) on every core of every node;
 *   2. once every node has it and every request begun before it has ended
 *      (the longest deadline later), qr_core_stream_begin() on every core;
 *   3. once qr_core_stream_left() is 0 on every core of every node, set
 *      (owners = new, pending = NULL) everywhere.
 */
int qr_core_set_topology(struct qr_core *c, uint64_t epoch,
			 const struct qr_placement *owners,
			 const struct qr_placement *pending);
/* T5's union bound, for the control path that builds a change (the
 * daemon refuses one before any core sees it): every partition's old and
 * new replica sets together hold at most QR_RF_MAX + 1 nodes. Same
 * partitions in both. */
bool qr_topology_union_fits(const struct qr_placement *o,
			    const struct qr_placement *n);
/* Step 2 above: fill the partitions this core gains (a replica in pending,
 * not in owners) from the old owners (T3). A no-op without pending. */
void qr_core_stream_begin(struct qr_core *c);
/* Partitions this core gains and has not filled yet: each is filled once
 * its durable digest has equalled that of a quorum of its old owners in
 * every zone of them, each compared after the stream began (T3). 0 when
 * none (or no change). */
uint32_t qr_core_stream_left(const struct qr_core *c);
uint64_t qr_core_epoch(const struct qr_core *c);
/* T7: a settled topology a peer ahead of us sent (TOPO_NEWS): its epoch,
 * above ours, and its owners (no pending members). True only once no
 * request this core coordinates is in flight (they were placed with the
 * older topology); the driver then installs it on every core of the node,
 * as `quorate node sync` would (owners, no pending), and saves it. Never
 * with auth = none: a forged frame could name any topology. */
bool qr_core_topology_news(const struct qr_core *c, uint64_t *epoch,
			   uint64_t *owners);

/* Introspection for the driver, stats and tests. */
const struct qr_core_stats *qr_core_stats(const struct qr_core *c);
/* Client request latency (request taken to answer sent, loop time), by
 * class: what /metrics exports as quorate_request_duration_seconds. */
enum qr_core_lat {
	QR_LAT_READ,  /* GET at any level */
	QR_LAT_WRITE, /* PUT, DELETE */
	QR_LAT_CAS,   /* linearizable ops (CASPaxos) */
	QR_LAT_COUNT,
};
const struct qr_hist *qr_core_latency(const struct qr_core *c,
				      enum qr_core_lat k);
struct qr_store *qr_core_store(struct qr_core *c);
const struct qr_hlc *qr_core_hlc(const struct qr_core *c);
const struct qr_detector *qr_core_detector(const struct qr_core *c);
uint64_t qr_core_last_lsn(const struct qr_core *c);    /* appended */
uint64_t qr_core_durable_lsn(const struct qr_core *c); /* durable */
uint32_t qr_core_requests_active(const struct qr_core *c);
/* Hints waiting, all targets together. */
uint32_t qr_core_hints_pending(const struct qr_core *c);

#endif
