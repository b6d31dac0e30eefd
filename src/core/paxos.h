/* SPDX-License-Identifier: MIT */
/*
 * CASPaxos per key (Rystsov, "CASPaxos: Replicated State Machines without
 * logs", 2018): the acceptor's promise table and the rules both roles
 * apply. The coordinator/replica glue (messages, WAL, timers) is in
 * core.c; docs/protocol.md, "Linearizable operations", has the reasoning.
 *
 * Model. A key's acceptor state is (promised ballot, accepted state). The
 * accepted state IS the store entry: its version is the ballot it was
 * accepted with (ballots are struct qr_version (hlc, node), stamped like
 * write versions, so ballots and plain-write versions share one order and
 * a plain write is "an accepted state whose ballot is its version").
 * The promise lives here, in a direct-mapped table keyed by a hash of the
 * key: a slot holds the highest ballot promised for ANY key that maps to
 * it. Sharing a slot only over-estimates a key's promise, which can make
 * an acceptor reject more (a proposer then retries higher), never accept
 * something it promised not to: safe, bounded, no eviction.
 *
 * A promise is durable before it is answered (QR_WAL_PROMISE record;
 * recovery replays them with qr_paxos_recover()). Snapshots do not carry
 * promise records, so a restarted acceptor also takes a floor: every ballot
 * it promised is below the HLC ceiling it made durable before answering
 * (core.c), and recovery sets floor = that ceiling.
 */
#ifndef QR_CORE_PAXOS_H
#define QR_CORE_PAXOS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/version.h"

struct qr_paxos_slot {
	struct qr_version promised; /* highest ballot promised (any key here) */
	struct qr_version taint;    /* highest version installed below the
				     * promise (see qr_paxos_install) */
	uint64_t lsn; /* its QR_WAL_PROMISE record; 0: recovered */
};

struct qr_paxos_table {
	struct qr_paxos_slot *slots;
	uint32_t mask;		       /* slots - 1 (a power of two) */
	struct qr_version floor;       /* promised by every slot (see above) */
	struct qr_version taint_floor; /* every entry at or below: unsure */
	/* >= every slot's promise and the floor (raised by qr_paxos_promise,
	 * _recover, _raise_floor; never lowered): a version at or above it
	 * is below no promise, so installing it marks nothing. */
	struct qr_version promised_max;
};

/* Slots for keys_max keys: a power of two in [1024, 1 << 18]. 0 or
 * QR_ENOMEM. */
int qr_paxos_table_init(struct qr_paxos_table *t, uint32_t keys_max);
void qr_paxos_table_fini(struct qr_paxos_table *t);

struct qr_paxos_slot *qr_paxos_slot_of(struct qr_paxos_table *t,
				       const void *key, uint8_t key_len);
/* The promise the acceptor holds for a key of this slot. */
struct qr_version qr_paxos_promised(const struct qr_paxos_table *t,
				    const struct qr_paxos_slot *s);

/* The acceptor promises ballot for a key of slot s (above s's promise). */
void qr_paxos_promise(struct qr_paxos_table *t, struct qr_paxos_slot *s,
		      struct qr_version ballot);
/* Replay a durable promise; raise the floor (a recovered HLC ceiling). */
void qr_paxos_recover(struct qr_paxos_table *t, const void *key,
		      uint8_t key_len, struct qr_version ballot);
void qr_paxos_raise_floor(struct qr_paxos_table *t, struct qr_version v);

/*
 * Unsure states. Writes that are not ACCEPTs (REPLICATE from a plain
 * write, anti-entropy pushes, read repair) change an acceptor's state
 * without looking at its promise. Installing a version BELOW the promise
 * breaks the promise: an acceptor that told proposer P "my state is u"
 * now holds X. That is harmless when the next proposer accepts again (its
 * higher ballot wins), but a read that skips the accept because a quorum
 * shows one version could then answer X while P, which never saw X,
 * completes a change computed from u. So such states are marked: a
 * PROMISE of an unsure state carries QR_MSGF_UNSURE and the proposer does
 * the accept. qr_paxos_install() marks (per slot: the highest such
 * version; shared slots over-mark, which only costs a fast path). After a
 * restart nothing is known: every entry at or below the recovered HLC is
 * unsure (qr_paxos_taint_all) until accepted again.
 *
 * qr_paxos_install_key() is the replica's per-write call: it touches the
 * table only when v is below promised_max. A plain write is stamped at its
 * coordinator's HLC, above every ballot promised so far in the common case
 * and above the floor after a restart, so a write costs no hash and no
 * random cache line of the table (~2-5% of a quorum write in
 * perf/core-bench, more when the table is cold); it marks exactly what
 * qr_paxos_install() would.
 */
void qr_paxos_install(struct qr_paxos_table *t, struct qr_paxos_slot *s,
		      struct qr_version v);
void qr_paxos_install_key(struct qr_paxos_table *t, const void *key,
			  uint8_t key_len, struct qr_version v);
void qr_paxos_taint_all(struct qr_paxos_table *t, struct qr_version v);
bool qr_paxos_unsure(const struct qr_paxos_table *t,
		     const struct qr_paxos_slot *s, struct qr_version v);

enum qr_paxos_vote {
	QR_PAXOS_GRANT = 0,  /* new promise: log it, then answer */
	QR_PAXOS_AGAIN = 1,  /* this very ballot was promised: answer once
			      * its record (slot lsn) is durable */
	QR_PAXOS_REJECT = 2, /* *beat: the ballot that wins over it */
};

/*
 * Acceptor, phase 1 (CASPaxos 2.2): grant a prepare iff ballot >= the
 * promise and ballot > the accepted version (entry_version, none if no
 * entry). Equal to the promise is a retransmission of the same proposal
 * (ballots are unique): AGAIN.
 */
enum qr_paxos_vote qr_paxos_prepare_vote(const struct qr_paxos_table *t,
					 const struct qr_paxos_slot *s,
					 struct qr_version ballot,
					 struct qr_version entry_version,
					 struct qr_version *beat);
/*
 * Acceptor, phase 2: accept iff ballot >= the promise and ballot >= the
 * accepted version (equal: the same accept again, answered as before).
 */
enum qr_paxos_vote qr_paxos_accept_vote(const struct qr_paxos_table *t,
					const struct qr_paxos_slot *s,
					struct qr_version ballot,
					struct qr_version entry_version,
					struct qr_version *beat);

/*
 * Proposer: the change function of one op applied to the current state
 * (exists: an entry that is not a tombstone; version: its version, none if
 * no entry). Returns 1: write a new state (value, or a tombstone for
 * DELETE_IF_VERSION); 0: keep the state, answer OK (LIN_GET);
 * QR_EPRECONDITION: keep the state, answer PRECONDITION_FAILED;
 * QR_ENOTFOUND: keep, answer NOT_FOUND (LIN_GET of an absent key).
 */
int qr_paxos_change(uint8_t op, struct qr_version expected, bool exists,
		    struct qr_version version);

#endif
