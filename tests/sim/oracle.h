/* SPDX-License-Identifier: MIT */
/*
 * Oracles over the simulator's WAL model: the durability rules of
 * docs/protocol.md checked where they are stated, at the moment a node
 * says something, not only through what a client later reads (issue 13
 * item 4: one-line mutations of durability waits and closed-timestamp
 * bounds went through 4,500 seeds of the end-to-end checkers).
 *
 *  (j) durable before visible. Every REPLICATE_ACK, ACCEPTED and
 *      READ_REPLY with an entry that a node sends to a peer names a
 *      version of the key that the node's WAL holds durably; a granted
 *      PROMISE also has its promise record and an HLC ceiling above the
 *      ballot durable (Y1). A write answered OK at W has W replicas that
 *      durably hold its version or a newer one; a read of R >= quorum
 *      answered with a version has a quorum that durably holds it (the
 *      blocking read repair, D3); a CAS answer's version is durable on a
 *      quorum; level ANY is answered once a replica or the coordinator's
 *      hints for every replica hold it durably.
 *  (l) the acceptor rules (CASPaxos): a PROMISE or ACCEPTED a node sends
 *      grants a ballot at or above every ballot it had promised for the
 *      key (by a PROMISE sent: promises survive restarts) when the
 *      PREPARE or ACCEPT arrived; a proposer starts each round with a
 *      ballot of its own (X1: PREPAREs of two rounds never share one).
 *  (d) also at the WAL: a version names one state of one key, on every
 *      node that logs it.
 *  (k) closed timestamps are true. Whenever a node's watermark grows, it
 *      durably holds, for every key it replicates, every version of that
 *      key stamped below the watermark that is durable anywhere
 *      (docs/protocol.md, "Closed timestamps": every write stamped below
 *      it is durable here), and no node claims, in a HEARTBEAT, more
 *      than its durable HLC ceiling (S4: its next incarnation stamps
 *      above that ceiling only).
 *  Across a membership change (sim/membership.h) (j) counts an answer's
 *  holders in the coordinator's view of the topology (sim.c
 *  answer_holders), and (k) judges a node only for the keys it
 *  replicates both before and after (oracle_set_next).
 *
 * "Durable" is the WAL model's: records [0, durable) of a node's log,
 * which survive its crashes. Versions are unique per key (a stamp is one
 * write or one CAS round), and per shard (a node's shards stamp with
 * clocks of their own: one version may name a write of each), so a
 * version and its shard (the key's, or the frame's: peers talk shard to
 * shard) name its key. Node-wide facts are per key (a key lives on one
 * shard); a ceiling, a watermark, an op_id are per shard core.
 */
#ifndef QR_SIM_ORACLE_H
#define QR_SIM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/placement.h"
#include "core/version.h"

struct oracle;

/* keys[i] (key_len[i] bytes), i < nkeys, are every key the run uses. */
struct oracle *oracle_new(int nodes, const struct qr_placement *pl, int nkeys,
			  const char (*keys)[40], const uint8_t *key_len);
void oracle_free(struct oracle *o);

/* node appended rec to its WAL (not durable yet). */
void oracle_logged(struct oracle *o, int node, const struct qr_wal_record *rec);
/* rec of the WAL of node's shard is durable now (before the core hears
 * of it; a clock ceiling is that shard's own): false
 * (and detail) if its version already named another state ((d)). */
bool oracle_durable(struct oracle *o, int node, int shard,
		    const struct qr_wal_record *rec, char *detail, size_t dlen);
/* A frame from a peer is delivered to node (PREPAREs are noted). */
void oracle_frame_in(struct oracle *o, int node, const uint8_t *f, size_t len);
/* node sends frame f (its authentication trailer stripped) to peer dst:
 * false (and detail, which starts with the checker's name) if it breaks
 * (j) or (l). */
bool oracle_frame_out(struct oracle *o, int node, int dst, const uint8_t *f,
		      size_t len, char *detail, size_t dlen);
/* Replicas of key (an index into keys[]) that durably hold v or newer. */
int oracle_holders(const struct oracle *o, int key, struct qr_version v);
/* The same among key's replicas in placement pl (a membership change's
 * placements: sim/membership.h). */
int oracle_holders_pl(const struct oracle *o, const struct qr_placement *pl,
		      int key, struct qr_version v);
/* The run's placement changes to next (sim/membership.h): (k) judges a
 * node's watermark only for the keys it replicates in both. */
void oracle_set_next(struct oracle *o, const struct qr_placement *next);
/* Does node durably hold key at v or newer? */
bool oracle_held(const struct oracle *o, int node, int key,
		 struct qr_version v);
/* Does node durably hold rec's key at rec's version or newer? (false
 * for a key the oracle does not know) */
bool oracle_holds(const struct oracle *o, int node,
		  const struct qr_wal_record *rec);
/* Durable hint records of node for version v of key. */
int oracle_hints(const struct oracle *o, int node, int key,
		 struct qr_version v);
/* The state (oracle_value_hash of it) that version v of key names in some
 * WAL: false if no durable record of v was seen. */
bool oracle_state(const struct oracle *o, int key, struct qr_version v,
		  uint64_t *hash);
uint64_t oracle_value_hash(const uint8_t *value, uint16_t len, bool tombstone);
/* A client was answered with version v of key (a write's ack, a read). */
void oracle_observed(struct oracle *o, int key, struct qr_version v);
/* Does node alone durably hold, in its store, a version a client was
 * answered with (or, for one held in no store, in its hints)? Then losing
 * its disk loses what W = 1 (or ANY on its hints) promised: the simulator
 * wipes a disk only when this is false. Other nodes' hints do not count:
 * a hint may be lost, and what covers a lost hint copies from stores. */
bool oracle_unique_to(const struct oracle *o, int node);
/* Calls fn for each version of a key that node alone durably holds as
 * oracle_unique_to judges it (in its store and no other; or, held in no
 * store, in its hints and no other node's), acknowledged or not: what a
 * node that dies for good takes with it (a replace, sim/membership.c). */
void oracle_each_unique(const struct oracle *o, int node,
			void (*fn)(void *arg, int key, struct qr_version v),
			void *arg);
/* node's disk is gone (sim.c disk_wipe, or its death before a replace): its durable records, promises,
 * hints and ceilings; a version no other node holds is durable nowhere. */
void oracle_wipe(struct oracle *o, int node);
/* A while after the death (a request's and a young hint's life): what the
 * lost disk held no longer counts for oracle_holders / oracle_holds
 * (until then it does: an ack sent before the death was true, and a
 * coordinator may answer on it, or free a hint, just after). */
void oracle_wipe_forget(struct oracle *o);
/* (k): the watermark of node's shard is wm now (it covers the keys of
 * that shard's partitions): false (and detail) if it is not true. A
 * tombstone stamped before collectable_ms (HLC ms: older than the grace,
 * so the GC may have collected it) may be missing: absent reads as it. */
bool oracle_watermark(struct oracle *o, int node, int shard, uint64_t wm,
		      uint64_t collectable_ms, char *detail, size_t dlen);

#endif
