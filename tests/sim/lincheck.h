/* SPDX-License-Identifier: MIT */
/*
 * Checker (i): the CASPaxos ops on one key are linearizable (Herlihy & Wing
 * 1990), searched Wing & Gong style (1993, with Lowe's memoization as in
 * Knossos / porcupine): depth-first over "which op takes effect next",
 * where an op may be linearized only if no op not yet linearized ended
 * before it began; visited (linearized set, model state) pairs are
 * remembered, so the search is polynomial for the small concurrency of
 * the simulator. Ops whose outcome is unknown (UNAVAILABLE, timeout) may
 * take effect at any point after they began, or never.
 *
 * The model: a register with a version, state (exists, value, version).
 *   LIN_GET               OK(value, v) if it exists with that value;
 *                         NOT_FOUND if not.
 *   PUT_IF_ABSENT(x)      OK(w) if absent -> (x, w); else PRECONDITION.
 *   PUT_IF_VERSION(e, x)  OK(w) if it exists at version e -> (x, w); else
 *   DELETE_IF_VERSION(e)  PRECONDITION. (delete -> absent, w)
 * A state's version may be raised without a change of value (CASPaxos
 * accepts an unchanged state again with a new ballot: docs/protocol.md),
 * so an answer that reports a version sets the model's; a precondition on
 * version e holds for a state whose value was reported with e, and a
 * failed one is accepted whenever the model's version is not exactly e
 * or the answer reports a version other than e (a concurrent proposer
 * accepted the state again).
 * Values are exact: that is what catches a lost write or two winners.
 */
#ifndef QR_SIM_LINCHECK_H
#define QR_SIM_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/version.h"

#define LIN_OPS_MAX 192	    /* per key; the workload stops there */
#define LIN_UNKNOWN 1	    /* status of an op whose outcome is unknown */
#define LIN_BUDGET  2000000 /* search steps per key before giving up */

struct lin_op {
	uint8_t op;		    /* enum qr_op, a CASPaxos one */
	bool done;		    /* answered (else: pending forever) */
	int status;		    /* 0, QR_EPRECONDITION, QR_ENOTFOUND or
				     * LIN_UNKNOWN */
	uint64_t val;		    /* puts: the value's id (never 0) */
	struct qr_version expected; /* *_IF_VERSION */
	uint64_t begin_us, end_us;
	uint64_t ret_val;	   /* LIN_GET OK: the value's id */
	struct qr_version ret_ver; /* OK and PRECONDITION: the version */
};

struct lin_key {
	struct lin_op ops[LIN_OPS_MAX];
	int n;
};

struct lincheck {
	struct lin_key *keys;
	int nkeys;
	uint64_t searched;     /* search steps, all keys */
	uint64_t inconclusive; /* keys whose search ran out of budget */
};

void lin_init(struct lincheck *l, int nkeys);
void lin_fini(struct lincheck *l);
bool lin_full(const struct lincheck *l, int key);
/* Returns the op's index for lin_end. */
int lin_begin(struct lincheck *l, int key, uint8_t op, uint64_t val,
	      struct qr_version expected, uint64_t now_us);
/* status: 0, QR_EPRECONDITION, QR_ENOTFOUND, or anything else (unknown). */
void lin_end(struct lincheck *l, int key, int idx, uint64_t now_us, int status,
	     uint64_t ret_val, struct qr_version ret_ver);
/* Check one key's history (ops never ended count as unknown): true if
 * linearizable (or the search ran out of budget: counted); else false and
 * a description in detail. */
bool lin_check_key(struct lincheck *l, int key, char *detail, size_t len);

#endif
