/* SPDX-License-Identifier: MIT */
/*
 * Membership changes in the simulator (issue 14): a join of the spare node,
 * a leave of a member, or (seeds of one zone) a replace of a dead member
 * by the spare node, during the workload and the faults, driven
 * through the core's topology API (core.h qr_core_set_topology) in the
 * three steps it prescribes, each node on its own:
 *   level 1: (owners = old, pending = new), installed on each node at a
 *            staggered random time (propagation);
 *   level 2: qr_core_stream_begin, once every node is at level 1 and the
 *            longest request deadline has passed since the last install;
 *   level 3: (owners = new, pending = NULL), staggered, once every core of
 *            every node (all up, but a replace's dead node) says
 *            qr_core_stream_left() == 0.
 * Invariants: a node's level only grows; every core of a node is at its
 * node's level (a restarted node is given it again right after its cores
 * are recreated, stream_begin included at level 2: the real daemon keeps
 * it in its WAL); a replace's dead node is down from before step 1 to
 * the run's end and takes no step (the CLI skips it), and what it alone
 * held is lost (check.h says what the checkers then exempt); both
 * placements live until the run ends (cores point at them); rf <=
 * members before and after. The draw uses a stream of its own
 * (the seeds without a change run as they did, bit for bit).
 */
#ifndef QR_SIM_MEMBERSHIP_H
#define QR_SIM_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rng.h"
#include "core/placement.h"

struct sim;
struct host;
struct node;
struct event;
struct client;

/* REPLACE: `quorate node replace DEAD NEW`, one change remove(dead) +
 * add(new): the dead member (node) crashes before step 1 and never comes
 * back; the spare node takes its place. */
enum topo_kind { TOPO_NONE, TOPO_JOIN, TOPO_LEAVE, TOPO_REPLACE };

struct topo {
	uint8_t kind;	  /* enum topo_kind */
	uint16_t node;	  /* the node that joins, leaves or dies */
	uint16_t spare;	  /* a replace's new node (the spare) */
	uint64_t dead_us; /* a replace: when its node died (0: not yet) */
	uint64_t members; /* before the change (bit n: node n) */
	struct qr_rng rng;	  /* the change's own stream */
	uint64_t base;	  /* the cores' epoch at creation */
	bool based;	  /* base is known */
	struct qr_placement next; /* the placement after it */
	bool has_next;		  /* next is built (to free) */
	uint8_t step;		  /* the highest level begun: 0..3 */
	bool finished;		  /* every node at level 3 */
	uint64_t start_us;	  /* step 1 begins */
	uint64_t step_us;	  /* when the current step began */
	uint64_t last_us;	  /* the last node reached the step */
	uint64_t stream_us;	  /* step 2 began */
	bool stale;		  /* down nodes miss steps (T6) */
	uint64_t sync_us;	  /* the last stale node's sync */
	uint16_t victim;	  /* 1 + the node down from step 1 to 3 */
	bool abort;		  /* `quorate node abort` at step 2: level 3
				   * is the old placement again */
};

/* Does this seed change its membership? Drawn from the seed alone (a
 * quarter of the seeds), or every seed with --membership. */
bool topo_drawn(const struct sim *s);
/* Set up the change of a seed that has one: nodes n (the spare node of a
 * join included), rf <= n - 1, zone[] by node id; builds s->pl (the
 * placement before) and t->next. */
void topo_setup(struct sim *s, int n, int rf, const uint8_t *zone);
/* Core nd was just created (before its WAL replay): give it its node's
 * topology; then, once it recovered, stream_begin at level 2. */
void topo_core_created(struct sim *s, struct node *nd);
void topo_core_recovered(struct sim *s, struct node *nd);
/* When step 1 begins: 10-60% into the fault phase (which ends at
 * faults_end_us). */
uint64_t topo_start_us(struct sim *s, uint64_t faults_end_us);
/* EV_TOPO: arg 0: the step schedule (polls); arg 1..3: node e->node
 * reaches that level. */
void topo_event(struct sim *s, const struct event *e);
/* After an event on host h: once every core of h has a peer's news of the
 * settled topology (core.h qr_core_topology_news, T7), h installs it as
 * quorated's management thread does (topo_ctl.h C9): a node restarted
 * behind catches up without waiting for its sync. */
void topo_news(struct sim *s, struct host *h);
/* May the final reads begin (no change, or it finished)? */
bool topo_settled(const struct sim *s);
/* The placements of node's view now: its owners, and pending (NULL when
 * none). */
const struct qr_placement *topo_owners(const struct sim *s, int node);
const struct qr_placement *topo_pending(const struct sim *s, int node);
/* Is node a replica of partition p in viewer's view (owners or pending)?
 * Always, for the one placement of a seed without a change. */
bool topo_replica(const struct sim *s, int viewer, uint32_t p, int node);
/* The placement client cl routes a request with: the one clients learnt
 * (s->cpl), or for some clients of a change with stale restarts the one
 * before it; the final reads always the new one. */
const struct qr_placement *topo_client_placement(const struct sim *s,
						 const struct client *cl,
						 bool final);
/* Is node a member of the placement clients route with now? */
bool topo_member(const struct sim *s, int node);
void topo_fini(struct sim *s);

#endif
