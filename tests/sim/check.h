/* SPDX-License-Identifier: MIT */
/*
 * The simulator's checkers, fed the history of client operations as they
 * begin and end (in simulated time order):
 *  (a) an acknowledged write is never lost (checked at the end against every
 *      replica's store, after convergence; level ANY writes too in runs
 *      where no hint was lost: expired or without a slot); a key no
 *      replica holds any more
 *      is fine only if its newest acknowledged write is a delete older than
 *      the tombstone grace (collected). A deleted value that comes back
 *      (a tombstone collected too early) fails here, or in (b) for a read;
 *  (b) a read with R + W > N sees every write acknowledged before it began
 *      (at that W), or something newer;
 *  (c) reads with R >= quorum are monotonic per client, and globally: a read
 *      that overlaps (R + Q > N) a completed quorum read sees at least what
 *      it returned;
 *  (d) a read never returns a value nobody wrote to that key, a version
 *      always names the same write, and a write has one version (retries
 *      with the same request re-drive it) unless its coordinator restarted
 *      while the request, a retry or a duplicate could still reach it (the
 *      dedupe table is not durable);
 *  (e) after the faults stop, every final ALL read succeeds (and replicas
 *      converge: checked by the simulator on the stores, where a replica
 *      without the key equals one with a tombstone only if the tombstone
 *      is older than the grace: it may have been collected);
 *  (f) is checked by the simulator itself (HLC per node);
 *  (g) a read that carries its session's token (min_version) returns at
 *      least every version of that key the session wrote or read before,
 *      at every level (read-your-writes, monotonic reads); a write that
 *      carries one is stamped strictly above it; CAS keys too (checked by
 *      the simulator, cas_done: a plain read with the token returns at
 *      least every version the session's CAS answers and reads named);
 *  (h) checked by the simulator: after the faults stop, every hint is
 *      delivered and every restarted node's hand-off finishes;
 *  (i) the CASPaxos operations on each key are linearizable
 *      (tests/sim/lincheck.h); and, at once, no put is answered
 *      PRECONDITION_FAILED against a version whose state is its own value
 *      (sim.c, cas_not_own);
 *  (j), (k), (l) and (d) at the WAL are oracles over the simulator's WAL
 *      model (tests/sim/oracle.h): every acknowledgement names durable
 *      state, every answer is durable where the protocol says, closed
 *      timestamps and watermarks are true, acceptors vote by the rules.
 *  (m) checked by the simulator (the disk-fault model) on every frame a
 *      node sends: a
 *      REPLICATE_ACK or ACCEPTED names a version whose record is durable
 *      in that node's log (R1; a node whose WAL refuses writes must not
 *      ack them: issue 12 item 5).
 *  (n) checked by the simulator on every WAL append: no record carries a
 *      version or HLC ceiling more than twice max_offset ahead of true
 *      time (a clock jump must stay out of the HLC: issue 13 bug 6,
 *      src/core/clock_guard.c).
 *  (o) checked by the simulator when a node's snapshot is installed
 *      (issue 13 item 3; sim.c check_snap_hints): it holds every hint that
 *      was live (hints.c N4): a durable hint record below its begin lsn,
 *      younger than a hint's life, whose target does not durably hold
 *      its version, must be in it (an oracle: ignored under
 *      --no-oracles). Recovery from the snapshot and the log after it
 *      is checked by (f) and by every end-to-end checker.
 *  (t) checked by the simulator when a membership change's hand-over
 *      begins (sim/membership.c, an oracle): every node that gains a
 *      key's partition durably holds the newest write of the key
 *      acknowledged at W >= quorum before the stream began, or a newer
 *      version (topology.c T3: it is filled from a quorum of the old
 *      owners, one of which held it). A delete older than the grace is
 *      left out (its tombstone may have been collected before the
 *      change).
 *  A replace of a dead member (sim/membership.c) loses what that node
 *  alone held when it died, by the definition of W = 1 (docs/topology.md,
 *  "Known hazards": a member removed while down): the versions it alone
 *  held durably then (oracle_each_unique: in its store and no other, or,
 *  held in no store, in its hints alone) are given to check_lost. A
 *  write of one of them acknowledged at W <= 1 (ONE, LOCAL_ONE, ANY), and
 *  a read at R = 1 that returned one, then count for nothing in (a),
 *  (b) and (g): no later read need return them, nor a token read rest on
 *  them. A write at W >= 2 (QUORUM, ALL, EACH_QUORUM, LOCAL_QUORUM, a
 *  count of 2 or more) and every CAS answer are never exempt: they are
 *  durable on two nodes or more, and (a), (b), (g), (i) hold them to it.
 */
#ifndef QR_SIM_CHECK_H
#define QR_SIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/version.h"
#include "sim/sim.h"

struct check_op;
struct check_ver;
struct check_lost;

struct check {
	int n, rf, quorum, nkeys;
	struct sim_result *res;
	struct check_op *ops;
	size_t len, cap;
	struct check_ver *vers; /* version registry: version -> write */
	size_t vlen, vcap;
	int finals, finals_ok;
	bool verbose; /* log every completion to stderr */
	uint64_t grace_ms; /* tombstone grace of the nodes */
	uint64_t hlc_ms;   /* highest node HLC (ms), set before check_end */
	bool any_kept;	   /* no hint was lost: (a) counts level ANY too */
	struct check_lost *lost; /* versions lost with a dead node */
	size_t nlost, lost_cap;
	bool failed;
	char checker[8];
	char detail[512];
};

void check_init(struct check *c, int n, int rf, int nkeys,
		struct sim_result *res);
void check_fini(struct check *c);
/* count: R for reads, W for writes. Returns the op's index. */
int check_begin(struct check *c, uint16_t client, uint64_t seq, int key,
		uint8_t op, uint8_t count, uint64_t min_version,
		uint64_t now_us, bool final);
void check_end(struct check *c, int idx, uint64_t now_us, int status,
	       struct qr_version v, bool tombstone, const uint8_t *value,
	       uint16_t value_len);
/* The write may legitimately carry two versions (its coordinator restarted
 * between a send and a retry: the dedupe table is not durable). */
void check_may_restamp(struct check *c, int idx);
/* Highest acknowledged write version of key, and whether that write was a
 * delete: false if none. */
bool check_max_acked(const struct check *c, int key, struct qr_version *out,
		     bool *is_delete);
/* The same among writes acknowledged at W >= quorum that ended before
 * before_us (a membership change's checker (t): topology.c T3). */
bool check_max_acked_quorum(const struct check *c, int key,
			    uint64_t before_us, struct qr_version *out,
			    bool *is_delete);
/* Version v of key (a plain key: others are ignored) was durable on a
 * node that died for good and on no other (the exemption above). */
void check_lost(struct check *c, int key, struct qr_version v);
/* Was some delete of key not acknowledged (it may have been applied, with
 * a version above every acknowledged write)? */
bool check_unacked_delete(const struct check *c, int key);
/* Did every final ALL read succeed? (detail says which did not) */
bool check_finals_done(struct check *c);

/* Fill res->lat_* from the successful operations. */
void check_latency_summary(struct check *c);

/* sim.c: does value equal what (client, seq) wrote? */
bool sim_value_matches(uint16_t client, uint64_t seq, const uint8_t *v,
		       uint16_t len);

#endif
