/* SPDX-License-Identifier: MIT */
/*
 * The membership register (issue 14; docs/topology.md, "The register"):
 * CASPaxos over one small value, the cluster's membership step (epoch,
 * owners, pending). Every node slot of the cluster file is an acceptor;
 * `quorate node` is the proposer. Sans-IO: the daemon runs the acceptor on
 * its management thread and persists it (server/topo_ctl.c), the CLI runs
 * the proposer over the management sockets (cli/node_reg.c), and the
 * simulator runs both under loss, delay, duplication, crashes and racing
 * proposers (tests/sim/register.c, checker (r)).
 *
 * Invariants:
 *  R1. An acceptor promises a ballot only if it is at or above every ballot
 *      it promised, and accepts one only at or above its promise and never
 *      a second value at the ballot it accepted; both raise its promise.
 *      Its caller persists it before answering (F2).
 *  R2. A proposer counts a phase done only with OK answers from a majority
 *      of the acceptors, all at its one ballot. The acceptors are the fixed
 *      set of slots, so no quorum depends on the value being changed.
 *  R3. It proposes f(V) for the V of the highest accepted ballot among its
 *      promises (ballot 0 is a node's value from before the register: among
 *      those, the highest (epoch, owners, pending)), so a value is chosen
 *      only on top of the last one chosen before it.
 *  R5. An acceptor that lost its state promises and accepts nothing
 *      (it could grant a ballot below one it promised before). A learn
 *      of a chosen value brings it back, holding that value and promising
 *      QR_MREG_REJOIN_ROUNDS rounds above its ballot: above any ballot it
 *      can have promised before (rounds grow by one over the highest a
 *      proposer saw), so what it forgot is never granted below.
 *  R4. A ballot is (round, id), compared in that order; a proposer's id is
 *      random and nonzero, so two proposers never share a ballot, and a
 *      proposer never uses a ballot twice: each decision begins above the
 *      last it used (qr_mreg_next_round on the same struct); 0.0 is
 *      "nothing promised or accepted", never a proposer's.
 */
#ifndef QR_CORE_MREG_H
#define QR_CORE_MREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_MREG_FILE_NAME "register"
#define QR_MREG_ACCEPTORS_MAX 64 /* the cluster file's slots */

struct qr_mreg_ballot {
	uint64_t round, id;
};

/* What the register holds: one step of a membership change (the node's
 * topology file without its streaming flag). */
struct qr_mreg_value {
	uint64_t epoch, owners, pending;
};

struct qr_mreg_acceptor {
	struct qr_mreg_ballot promised, accepted;
	struct qr_mreg_value value;
};

/* The promise of an acceptor that lost its state (R5; server/topo_ctl.h
 * C7): saved like any promise, so it survives a restart; only a learn
 * of a chosen value replaces it. */
#define QR_MREG_LOST ((struct qr_mreg_ballot){UINT64_MAX, UINT64_MAX})
/* R5: how far above a learnt ballot a rejoining acceptor promises. */
#define QR_MREG_REJOIN_ROUNDS (1ull << 32)
bool qr_mreg_is_lost(const struct qr_mreg_acceptor *a);
/* The acceptor lost its state (R5): lost, holding v only to show it. */
void qr_mreg_lose(struct qr_mreg_acceptor *a, const struct qr_mreg_value *v);

int qr_mreg_ballot_cmp(struct qr_mreg_ballot a, struct qr_mreg_ballot b);
bool qr_mreg_value_eq(const struct qr_mreg_value *a,
		      const struct qr_mreg_value *b);

/* R1, prepare: 0 (promised: persist, then answer accepted and value), or
 * QR_ESTALE (a higher ballot is promised: answer it). */
int qr_mreg_prepare(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b);
/* R1, accept: 0 (accepted: persist, then answer), or QR_ESTALE. Both
 * answer QR_EUNAVAILABLE while the acceptor is lost (R5). */
int qr_mreg_accept(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b,
		   const struct qr_mreg_value *v);
/* A chosen value at the ballot that chose it (a proposer's catch-up): an
 * accept, or for a lost acceptor its way back (R5). 0 or as accept. */
int qr_mreg_learn(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b,
		  const struct qr_mreg_value *v);

/* ---- the proposer ---------------------------------------------------- */

enum qr_mreg_phase {
	QR_MREG_PREPARING, /* promises being collected */
	QR_MREG_READ,	   /* a majority promised: qr_mreg_base, then propose */
	QR_MREG_ACCEPTING, /* accepts being collected */
	QR_MREG_CHOSEN,	   /* a majority accepted: the value is chosen */
	QR_MREG_RETRY,	   /* refused by too many: begin a higher round */
};

struct qr_mreg_proposer {
	struct qr_mreg_ballot ballot;
	uint16_t acceptors;
	enum qr_mreg_phase phase;
	uint64_t ok, refused; /* acceptor bits answered in this phase */
	bool have;	      /* a promise carried a value */
	struct qr_mreg_ballot best; /* its accepted ballot (R3) */
	struct qr_mreg_value base, proposal;
	struct qr_mreg_ballot highest; /* the highest promise seen refused */
};

/* Begin (or begin again) at ballot (round, id) over `acceptors` slots. */
void qr_mreg_begin(struct qr_mreg_proposer *p, uint16_t acceptors,
		   uint64_t round, uint64_t id);
/* The round to begin again with after RETRY: above every one seen. */
uint64_t qr_mreg_next_round(const struct qr_mreg_proposer *p);
/* Acceptor i answered the prepare: ok with what it accepted (ballot and
 * value), or refused with the ballot it promised. Answers in another
 * phase, and repeats, change nothing; the caller passes only answers to
 * the current ballot's requests. The phase after it. */
enum qr_mreg_phase qr_mreg_on_promise(struct qr_mreg_proposer *p, uint16_t i,
				      bool ok, struct qr_mreg_ballot b,
				      const struct qr_mreg_value *v);
/* In READ: the value to build on (R3), over every promise counted so
 * far (a synchronous driver asks every slot first). */
struct qr_mreg_value qr_mreg_base(const struct qr_mreg_proposer *p);
/* From READ: propose v (f of the base) at the same ballot. */
void qr_mreg_propose(struct qr_mreg_proposer *p, const struct qr_mreg_value *v);
/* Acceptor i answered the accept: ok, or refused with its promise. */
enum qr_mreg_phase qr_mreg_on_accepted(struct qr_mreg_proposer *p,
				       uint16_t i, bool ok,
				       struct qr_mreg_ballot promised);

/* ---- text ------------------------------------------------------------ */

/* "ROUND.ID" (decimal round, 16 hex digits): its length. */
int qr_mreg_ballot_str(struct qr_mreg_ballot b, char *buf, size_t cap);
/* Exactly that form: true and *b. */
bool qr_mreg_ballot_parse(const char *s, struct qr_mreg_ballot *b);
/* The acceptor's canonical text (the register file's body): its length. */
int qr_mreg_encode(const struct qr_mreg_acceptor *a, char *buf, size_t cap);
/* Exactly the canonical text of some acceptor state: true and *a. */
bool qr_mreg_decode(const char *text, size_t n, struct qr_mreg_acceptor *a);

#endif
