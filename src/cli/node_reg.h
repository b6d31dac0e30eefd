/* SPDX-License-Identifier: MIT */
/*
 * `quorate node`'s side of the membership register (core/mreg.h; docs/
 * topology.md, "The register"): the proposer, over every slot's
 * management socket. A change is decided here, by a majority of the
 * cluster file's slots, before any node installs it (node_cmd.c).
 *
 * Invariants:
 *  G1. A decision is a CASPaxos round at one ballot: prepares to every
 *      slot, the value built on the promises' highest accepted one (R3),
 *      accepts to every slot; chosen once a majority accepted. Refused by
 *      a higher ballot, it begins again above it (at most REG_TRIES
 *      times, with a random pause so two commands do not duel for ever).
 *  G2. The change function sees the value read, and either refuses (its
 *      exit code returned, nothing accepted) or names the next value
 *      (the same value: a read, made chosen).
 *  G3. A node is given a chosen value (`register learn` at the ballot
 *      that chose it: an accept, which an acceptor that lost its state
 *      also takes to rejoin) before it is told to install it: a node
 *      installs only what its acceptor holds (server/topo_ctl.h C6).
 *  G4. Every prepare, accept and learn names the slot count of this
 *      command's cluster file; an acceptor whose file has another count
 *      refuses it (two majorities of different slot sets need not meet).
 */
#ifndef QR_CLI_NODE_REG_H
#define QR_CLI_NODE_REG_H

#include <stdint.h>

#include "common/cluster.h"
#include "core/mreg.h"

struct reg_round {
	const struct qr_cluster *c;
	const char *what;	    /* "node add 3", for messages */
	uint64_t id;		    /* this command's proposer id (R4) */
	struct qr_mreg_proposer p;  /* kept across decisions: each begins
				     * above the last ballot used (R4) */
	struct qr_mreg_ballot ballot; /* the ballot that chose `chosen` */
	struct qr_mreg_value chosen;
	int answered;		    /* slots that answered the last phase */
	int refusal_code;	    /* an acceptor refused the value itself */
	char refusal[320];
};

/* G2: 0 and *next, or an exit code (reported) to stop without change. */
typedef int (*reg_change_fn)(const struct qr_mreg_value *cur,
			     struct qr_mreg_value *next, void *arg);

/* A new proposer for cluster c (a random id). */
void reg_init(struct reg_round *r, const struct qr_cluster *c,
	      const char *what);
/* G1: decide f's value; 0 with r->chosen and r->ballot, or an exit code
 * (reported): UNAVAILABLE when no majority answers, PRECONDITION when
 * the register kept changing under it, or what f returned. */
int reg_decide(struct reg_round *r, reg_change_fn f, void *arg);
/* G3: give slot id the chosen value. 0, or the error (msg set). */
int reg_learn(struct reg_round *r, int id, char *msg, size_t n);

#endif
