/* SPDX-License-Identifier: MIT */
/*
 * The simulator's model of the membership register (src/core/mreg.h):
 * 3 to 7 acceptors (the slots) and 2 or 3 proposers (racing `quorate
 * node` commands) exchanging prepares and accepts under loss,
 * duplication, reordering, acceptor crashes (their state kept: it is
 * saved before every answer, R1) and proposers cut from some acceptors,
 * each proposer deciding a few changes (epoch + 1) and reads and giving
 * every acceptor each value it saw chosen (a learn), and acceptors losing
 * their state (a lost disk: R5, back by a learn). Checker (r)
 * watches every accept from outside:
 *   - one value per ballot; a proposer's "chosen" is accepted by a real
 *     majority (R2);
 *   - every chosen value lies on the history of the last one chosen (each
 *     proposal's base is the value it read, followed back to the start),
 *     so no decided change is ever lost or forked (R3);
 *   - a value built on the values from before the register (ballot 0) is
 *     built on the newest of them (R3).
 * Seeded from the run's seed with a salt of its own: the cluster
 * simulation's draws and traces are untouched.
 */
#ifndef QR_SIM_REGISTER_H
#define QR_SIM_REGISTER_H

#include <stdbool.h>
#include <stdint.h>

struct reg_sim_result {
	bool ok;
	char checker[8];
	char detail[512];
	uint64_t decided;  /* decisions proposers saw chosen */
	uint64_t retries;  /* rounds begun again */
	uint64_t gave_up;  /* decisions abandoned after too many rounds */
	uint64_t lost;	   /* acceptors that lost their state (R5) */
};

void reg_sim_run(uint64_t seed, struct reg_sim_result *res);

#endif
