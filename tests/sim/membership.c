/* SPDX-License-Identifier: MIT */
/*
 * The simulator's membership changes (membership.h): the draw, the two
 * placements, and the three steps of core.h's topology API driven node by
 * node while the faults go on. Invariants: a node's level (struct host
 * tlevel) only grows and every core of it that runs is at it; a step
 * begins only once its precondition holds for every node (core.h) but a
 * replace's dead node, which is down from before step 1 to the end and
 * takes no step (as `quorate node replace` skips it); what this file
 * draws comes from the change's own stream.
 */
#include "sim/membership.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/compiler.h"
#include "core/core.h"
#include "sim/oracle.h"
#include "sim/sim_pvt.h"

/* The change's own stream (kind, node, times). */
#define TOPO_SALT 0x746f706f01ull
/* Which seeds change (a quarter): chosen so that no seed of meson.build's
 * regression tests changes, nor any seed at which the mutation campaign
 * caught a mutation in seeds 1..1,000 before the draw existed (a drawn
 * seed runs another workload: cas-ignore-unsure, caught at 254 only,
 * survived the campaign with the first salt tried). */
#define TOPO_DRAW_SALT 0x746f707983ull
/* Stale restarts (topology.c T6), in half the changes (a draw of their
 * own: the change's stream is untouched): a node down while a step is
 * taken keeps the level of its topology file, restarts with it (behind
 * the others), and is caught up by a sync (`quorate node sync`) 1 to
 * 300 ms later. Its peers fence it meanwhile. */
#define TOPO_STALE_SALT 0x7374616c65ull
#define TOPO_SYNC_US_MAX 300000
#define TOPO_SYNC_SETTLE_US 400000 /* sim.c: a restart's settle */
/* Late news (orphan.c P4): in half the incarnations (a hash of the seed,
 * node and incarnation: no stream is drawn from) a node looks for its
 * peers' news as quorated's management thread does, once a period from a
 * random phase after its start, not at every tick: its first hand-off
 * scan (a heartbeat period after the start, 5 ms) then usually comes
 * while it knows it is behind, before the install. 100 ms: 20 heartbeat
 * periods, as quorated's 200 ms are to its 10 ms heartbeat. */
#define TOPO_NEWS_SALT 0x6e6577736c617465ull
#define TOPO_NEWS_POLL_US 100000
/* Replaces (TOPO_REPLACE), drawn in place of half the leaves of seeds in
 * one zone (a draw of their own: the joins, and the leaves that stay,
 * run as they did). Not with zones: T3 needs a quorum of the old owners
 * in every zone, which a dead node may make impossible (docs/topology.md,
 * "Known hazards"). The operator notices the death and runs the command
 * 20 to 200 ms later (step 1). */
#define TOPO_REPLACE_SALT 0x7265706c6163ull
/* A quarter of the joins and leaves are aborted (`quorate node abort`)
 * once the stream began, without waiting for it: level 3 is the old
 * placement again (docs/topology.md, "Abort"). A draw of its own, its
 * salt chosen so that no seed a sim-catches test or the mutation
 * campaign's table names (membership seeds 1 and 180; change seeds 8 and
 * 290 of the default run) is aborted. */
#define TOPO_ABORT_SALT 0x61626f7280ull
#define TOPO_NOTICE_US_MIN 20000
#define TOPO_NOTICE_US_SPAN 180000
/* A request's and a young hint's life (sim.c disk_wipe): until then the
 * dead node's durable state counts for the answers it made true. */
#define TOPO_FORGET_US 200000
/* Step 2 waits this long after the last node took step 1: every request
 * begun before it has ended (client deadlines are at most 50 ms; their
 * retries are new requests, begun under the new view). */
#define TOPO_DRAIN_US 60000
/* A change not finished this long after the faults stopped is stuck:
 * liveness (e) fails. */
#define TOPO_STUCK_US 2000000

bool topo_drawn(const struct sim *s)
{
	uint64_t x = s->opt->seed ^ TOPO_DRAW_SALT;
	return s->opt->membership || qr_splitmix64(&x) % 4 == 0;
}

/* Placements over members (bit n: node n), as the daemon builds them
 * (membership.h M5): 64 partitions, like every seed. */
static void build(struct qr_placement *p, uint64_t members, int rf,
		  int shards, const uint8_t *zone)
{
	QR_ASSERT(qr_placement_init_members(p, 64, members, (uint16_t)rf,
					    (uint16_t)shards, zone) == 0);
}

void topo_setup(struct sim *s, int n, int rf, const uint8_t *zone)
{
	struct topo *t = &s->topo;
	qr_rng_seed(&t->rng, s->opt->seed ^ TOPO_SALT ^ 0x6368616e6765ull);
	uint64_t all = (1ull << n) - 1, next;
	QR_ASSERT(rf <= n - 1);
	if (qr_rng_chance_ppm(&t->rng, 500000)) {
		/* The spare node: its cores run from the start (node_slots
		 * covers it), owning nothing. */
		t->kind = TOPO_JOIN;
		t->node = (uint16_t)(n - 1);
		t->members = all & ~(1ull << t->node);
		next = all;
	} else {
		t->kind = TOPO_LEAVE;
		t->node = (uint16_t)qr_rng_below(&t->rng, (uint64_t)n);
		t->members = all;
		next = all & ~(1ull << t->node);
	}
	uint64_t r = s->opt->seed ^ TOPO_REPLACE_SALT;
	if (t->kind == TOPO_LEAVE && s->zones == 1 &&
	    qr_splitmix64(&r) % 2 == 0) {
		/* The spare node, running from the start and owning nothing
		 * (as a join's), takes the place of a member that dies. */
		t->kind = TOPO_REPLACE;
		t->spare = (uint16_t)(n - 1);
		if (t->node == t->spare)
			t->node = (uint16_t)qr_rng_below(&t->rng,
							 (uint64_t)(n - 1));
		t->members = all & ~(1ull << t->spare);
		next = all & ~(1ull << t->node);
	}
	uint64_t ab = s->opt->seed ^ TOPO_ABORT_SALT;
	t->abort = t->kind != TOPO_REPLACE && qr_splitmix64(&ab) % 4 == 0;
	build(&s->pl, t->members, rf, s->shards, zone);
	build(&t->next, next, rf, s->shards, zone);
	t->has_next = true;
	uint64_t x = s->opt->seed ^ TOPO_STALE_SALT;
	t->stale = qr_splitmix64(&x) % 2 == 0;
}

/* -v: each key's replica sets before and after (the keys are set up). */
static void log_sets(struct sim *s)
{
	for (int k = 0; s->opt->verbose && k < s->nkeys + s->ncas; k++) {
		char buf[2][32];
		const struct qr_placement *pl[2] = {&s->pl, &s->topo.next};
		for (int i = 0; i < 2; i++) {
			uint32_t p = qr_placement_partition(pl[i], s->keys[k],
							    s->key_len[k]);
			const uint8_t *r = qr_placement_replicas(pl[i], p);
			int n = 0;
			for (int j = 0; j < pl[i]->rf; j++)
				n += snprintf(buf[i] + n, sizeof(buf[i]) - (size_t)n,
					      "%s%u", j ? "," : "", r[j]);
		}
		sim_vlog(s, "topology: %s on {%s}, then {%s}", s->keys[k],
			 buf[0], buf[1]);
	}
}

uint64_t topo_start_us(struct sim *s, uint64_t faults_end_us)
{
	log_sets(s);
	return faults_end_us / 10 +
	       qr_rng_below(&s->topo.rng, faults_end_us / 2);
}

/* Give core nd the topology of levels (from, to]. */
static void apply(struct sim *s, struct node *nd, uint8_t from, uint8_t to)
{
	struct topo *t = &s->topo;
	int rc = 0;
	if (from < 1 && to >= 1 && to < 3)
		rc = qr_core_set_topology(nd->core, t->base + 1, &s->pl,
					  &t->next);
	QR_ASSERT(rc == 0);
	if (from < 2 && to == 2 && nd->core_recovered)
		qr_core_stream_begin(nd->core);
	if (from < 3 && to >= 3)
		rc = qr_core_set_topology(nd->core, t->base + 2,
					  t->abort ? &s->pl : &t->next, NULL);
	QR_ASSERT(rc == 0);
}

void topo_core_created(struct sim *s, struct node *nd)
{
	struct topo *t = &s->topo;
	if (!t->kind)
		return;
	if (!t->based) { /* the first core created: every one starts so */
		t->base = qr_core_epoch(nd->core);
		t->based = true;
	}
	QR_ASSERT(qr_core_epoch(nd->core) == t->base);
	nd->h->view_us = s->now_us;
	nd->core_recovered = false;
	apply(s, nd, 0, nd->h->tlevel);
	if (t->stale && nd->shard == 0 && nd->h->tlevel < t->step) {
		/* Behind (it was down): the operator's sync, later. */
		uint64_t x = s->opt->seed ^ TOPO_STALE_SALT ^
			     (uint64_t)nd->id << 32 ^ nd->h->incarnation;
		uint64_t at = s->now_us + 1000 +
			      qr_splitmix64(&x) % TOPO_SYNC_US_MAX;
		sim_ev_at(s, at, EV_TOPO, nd->id, t->step, 0);
		t->sync_us = QR_MAX(t->sync_us, at);
		sim_vlog(s, "topology: node %u restarts at level %u (step "
			 "%u): behind until its sync", nd->id, nd->h->tlevel,
			 t->step);
	}
}

void topo_core_recovered(struct sim *s, struct node *nd)
{
	nd->core_recovered = true;
	if (s->topo.kind && nd->h->tlevel == 2)
		qr_core_stream_begin(nd->core);
}

/* Node h reaches level (a propagation delay after the step began). A node
 * that is down gets it when it restarts (topo_core_created). */
static void reach(struct sim *s, struct host *h, uint8_t level)
{
	if (h->tlevel >= level)
		return;
	if (!h->up && s->topo.stale) { /* its file stays behind */
		sim_vlog(s, "topology: node %u down: stays at level %u", h->id,
			 h->tlevel);
		return;
	}
	for (int k = 0; h->up && k < s->shards; k++)
		apply(s, sim_core_of(s, h->id, k), h->tlevel, level);
	h->tlevel = level;
	h->view_us = s->now_us;
	s->topo.last_us = s->now_us;
	sim_vlog(s, "topology: node %u at level %u%s", h->id, level,
		 h->up ? "" : " (down: at its restart)");
}

static const char *kind_name(uint8_t kind)
{
	return kind == TOPO_JOIN ? "join" : kind == TOPO_LEAVE ? "leave"
							: "replace";
}

/* Step `level` begins: each node takes it within spread_us. */
static void begin(struct sim *s, uint8_t level, uint64_t spread_us)
{
	struct topo *t = &s->topo;
	t->step = level;
	t->step_us = s->now_us;
	for (int i = 0; i < s->n; i++)
		sim_ev_at(s, s->now_us + 1 + qr_rng_below(&t->rng, spread_us),
			  EV_TOPO, (uint16_t)i, level, 0);
	sim_vlog(s, "topology: step %u begins (%s of node %u)", level,
		 kind_name(t->kind), t->node);
}

static bool all_at(const struct sim *s, uint8_t level)
{
	for (int i = 0; i < s->n; i++) /* stale: the down ones wait */
		if (s->hosts[i].tlevel < level &&
		    (s->hosts[i].up || !s->topo.stale))
			return false;
	return true;
}

/* Does node gain a partition in the change? */
static bool gains_any(const struct sim *s, uint16_t node)
{
	for (uint32_t p = 0; p < s->pl.partitions; p++)
		if (qr_placement_replica_index(&s->topo.next, p, node) >= 0 &&
		    qr_placement_replica_index(&s->pl, p, node) < 0)
			return true;
	return false;
}

/* With stale restarts and no zones, a node that loses a partition in a
 * join is down from step 1 until just after step 3: restarted with the
 * topology it had, two epochs behind, it would coordinate with the old
 * placement for the clients that never learnt the new one (T6). */
static void stale_victim_down(struct sim *s)
{
	struct topo *t = &s->topo;
	/* With zones, T3 may need the victim's own digest (a quorum of a
	 * zone of one or two): the stream would wait for it. */
	if (s->zones > 1)
		return;
	for (uint16_t id = 0; id < s->n && t->kind == TOPO_JOIN; id++)
		for (uint32_t p = 0; p < s->pl.partitions && !t->victim; p++)
			if (qr_placement_replica_index(&s->pl, p, id) >= 0 &&
			    qr_placement_replica_index(&t->next, p, id) < 0)
				t->victim = (uint16_t)(id + 1);
	/* Not the leaver of a leave: a member removed while down leaves its
	 * claims behind with writes it had not replicated everywhere, which
	 * the watermarks then pass (docs/topology.md, known hazards: seed
	 * 234 showed it; no settle after a dead node's removal is built). */
	struct host *h = t->victim ? &s->hosts[t->victim - 1] : NULL;
	if (!h || h->wiped)
		return;
	h->held = true;
	if (h->up)
		sim_node_crash(s, h);
	/* The workload runs with the faults: through the change and the
	 * victim's return (stretched again then). */
	sim_stretch_faults(s, s->now_us + 800000);
	sim_vlog(s, "topology: node %u down until step 3 (stale)", h->id);
}

static void stale_victim_up(struct sim *s)
{
	struct topo *t = &s->topo;
	struct host *h = t->victim ? &s->hosts[t->victim - 1] : NULL;
	if (!h || !h->held)
		return;
	h->held = false;
	if (h->up)
		return;
	sim_ev_at(s, s->now_us + 35000, EV_RESTART, h->id, h->incarnation, 0);
	/* Clients that never learnt the new placement send to it then. */
	sim_stretch_faults(s, s->now_us + 335000);
}

/* Step 3's precondition: every node up (with stale restarts, every
 * gainer: the others may miss it, as the CLI goes on without a down
 * node), every core filled. Else the first core that is not (its
 * index; -1 when all are). */
static int first_unfilled(struct sim *s, uint32_t *left)
{
	for (int i = 0; i < s->n * s->shards; i++) {
		struct node *nd = &s->cores[i];
		if (!nd->h->up && s->topo.stale && !gains_any(s, nd->id))
			continue;
		if (s->topo.kind == TOPO_REPLACE && nd->id == s->topo.node)
			continue; /* dead: the CLI skips it */
		*left = nd->h->up && nd->h->tlevel >= 2
				? qr_core_stream_left(nd->core)
				: UINT32_MAX; /* down, or behind (stale) */
		if (*left)
			return i;
	}
	return -1;
}

/* The version of key k in node's store (shard sh), "-" if none. */
static int held_str(struct sim *s, int node, int sh, int k, char *buf,
		    size_t len)
{
	struct qr_store_view v;
	struct node *nd = sim_core_of(s, node, sh);
	if (!nd->h->up || qr_store_get(qr_core_store(nd->core), s->keys[k],
				       s->key_len[k], &v) != 0)
		return snprintf(buf, len, " n%d:-", node);
	return snprintf(buf, len, " n%d:%" PRIu64 ".%u%s", node,
			v.version.hlc, v.version.node, v.tombstone ? "d" : "");
}

/* Why a gainer is stuck: each key it gains, as it and the old owners
 * hold it (the failure's detail). */
static void stuck_keys(struct sim *s, const struct node *nd, char *buf,
		       size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (int k = 0; k < s->nkeys + s->ncas && n + 48 < len; k++) {
		uint32_t p = qr_placement_partition(&s->pl, s->keys[k],
						    s->key_len[k]);
		if (qr_placement_shard(&s->pl, p) != nd->shard ||
		    qr_placement_replica_index(&s->topo.next, p, nd->id) < 0 ||
		    qr_placement_replica_index(&s->pl, p, nd->id) >= 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "; %s:", s->keys[k]);
		n += (size_t)held_str(s, nd->id, nd->shard, k, buf + n, len - n);
		const uint8_t *r = qr_placement_replicas(&s->pl, p);
		for (int i = 0; i < s->pl.rf && n + 40 < len; i++)
			n += (size_t)held_str(s, r[i], nd->shard, k, buf + n,
					      len - n);
	}
}

/* (t) at the hand-over (check.h): each gainer of a key's partition
 * durably holds the newest write of it acknowledged at W >= quorum
 * before the stream began. */
static void check_gainers(struct sim *s)
{
	struct topo *t = &s->topo;
	for (int k = 0; k < s->nkeys && s->res->ok; k++) {
		struct qr_version v;
		bool del = false;
		if (!check_max_acked_quorum(&s->check, k, t->stream_us, &v,
					    &del) ||
		    (del && QR_HLC_MS(v.hlc) + s->check.grace_ms <
				    sim_hlc_ms(s)))
			continue;
		uint32_t p = qr_placement_partition(&s->pl, s->keys[k],
						    s->key_len[k]);
		const uint8_t *r = qr_placement_replicas(&t->next, p);
		for (int i = 0; i < t->next.rf; i++) {
			if (qr_placement_replica_index(&s->pl, p, r[i]) >= 0 ||
			    oracle_held(s->orc, r[i], k, v))
				continue;
			sim_fail(s, "(t)",
				 "node %u gained %s and its stream is done, "
				 "but it lacks %s %" PRIu64 ".%u, acknowledged "
				 "at W >= quorum before the stream began",
				 r[i], s->keys[k], del ? "delete" : "write",
				 v.hlc, v.node);
			return;
		}
	}
}

static void lost_version(void *arg, int key, struct qr_version v)
{
	struct sim *s = arg;
	check_lost(&s->check, key, v);
	if (key < s->nkeys) /* CAS keys: a chosen state is on a quorum */
		sim_vlog(s, "topology: %s %" PRIu64 ".%u was on node %u alone",
			 s->keys[key], v.hlc, v.node, s->topo.node);
}

/* A replace's node dies for good (held: no restart, no rebuild). What it
 * alone held is lost by the definition of W = 1 (docs/topology.md, "Known
 * hazards"): check.h says what the checkers then exempt, and the oracles
 * see its disk gone, as for a lost disk (oracle_wipe: (k) no longer
 * counts its versions as durable; (j) counts them for the answers its
 * acks made true until TOPO_FORGET_US later). The operator runs the
 * command a while after (step 1). */
static void replace_death(struct sim *s)
{
	struct topo *t = &s->topo;
	struct host *h = &s->hosts[t->node];
	h->held = true;
	if (h->up)
		sim_node_crash(s, h);
	oracle_each_unique(s->orc, h->id, lost_version, s);
	oracle_wipe(s->orc, h->id);
	s->wipe_forget_us = s->now_us + TOPO_FORGET_US;
	t->dead_us = s->now_us;
	sim_vlog(s, "topology: node %u dies: node %u will replace it",
		 h->id, t->spare);
	sim_ev_at(s, s->now_us + TOPO_NOTICE_US_MIN +
			     qr_rng_below(&t->rng, TOPO_NOTICE_US_SPAN),
		  EV_TOPO, 0, 0, 0);
}

/* The schedule, every 2 ms from the change's start until it finishes. */
static void poll(struct sim *s)
{
	struct topo *t = &s->topo;
	uint32_t left = 0;
	int stuck = -1;
	if (t->step == 0 && t->kind == TOPO_REPLACE && !t->dead_us) {
		replace_death(s);
		return;
	}
	if (t->step == 0) {
		s->res->changes++;
		s->res->replaces += t->kind == TOPO_REPLACE;
		if (t->stale)
			stale_victim_down(s);
		begin(s, 1, 30000);
	} else if (t->step == 1 && all_at(s, 1) &&
		   s->now_us >= t->last_us + TOPO_DRAIN_US) {
		t->stream_us = s->now_us;
		begin(s, 2, 10000);
	} else if (t->step == 2 && all_at(s, 2) && t->abort) {
		/* Back to O at once (the clients never left it): every
		 * request of the union met O's level (T1). */
		s->res->aborts++;
		sim_vlog(s, "topology: the change is aborted");
		begin(s, 3, 30000);
		if (t->stale)
			stale_victim_up(s);
	} else if (t->step == 2 && all_at(s, 2) &&
		   (stuck = first_unfilled(s, &left)) < 0) {
		check_gainers(s);
		s->cpl = &t->next; /* clients learn the new placement */
		begin(s, 3, 30000);
		if (t->stale)
			stale_victim_up(s);
	} else if (t->step == 3 && all_at(s, 3)) {
		t->finished = true;
		s->res->changes_finished++;
		sim_vlog(s, "topology: change finished");
		return;
	}
	if (s->now_us > s->faults_end_us + TOPO_STUCK_US) {
		const struct node *nd = stuck >= 0 ? &s->cores[stuck] : NULL;
		char keys[300] = "";
		if (nd && nd->h->up)
			stuck_keys(s, nd, keys, sizeof(keys));
		sim_fail(s, "(e)",
			 "the %s of node %u is stuck at step %u %" PRIu64
			 " ms after the faults stopped (node %d shard %d: "
			 "stream_left %" PRIu32 "%s)",
			 kind_name(t->kind), t->node,
			 t->step, TOPO_STUCK_US / 1000, nd ? nd->id : -1,
			 nd ? nd->shard : -1, left, keys);
		return;
	}
	sim_ev_at(s, s->now_us + 2000, EV_TOPO, 0, 0, 0);
}

void topo_event(struct sim *s, const struct event *e)
{
	if (e->arg)
		reach(s, &s->hosts[e->node], (uint8_t)e->arg);
	else
		poll(s);
}

/* Does host h look for news now? At every tick, or (late) once a
 * TOPO_NEWS_POLL_US. */
static bool news_look(struct sim *s, struct host *h, bool *late)
{
	uint64_t x = s->opt->seed ^ TOPO_NEWS_SALT ^ (uint64_t)h->id << 32 ^
		     h->incarnation;
	uint64_t r = qr_splitmix64(&x);
	*late = r & 1;
	if (!*late)
		return true;
	if (h->news_inc != h->incarnation + 1) {
		h->news_inc = h->incarnation + 1;
		h->news_look_us =
			h->restarted_us + (r >> 1) % TOPO_NEWS_POLL_US + 1;
	}
	if (s->now_us < h->news_look_us)
		return false;
	while (h->news_look_us <= s->now_us)
		h->news_look_us += TOPO_NEWS_POLL_US;
	return true;
}

void topo_news(struct sim *s, struct host *h)
{
	struct topo *t = &s->topo;
	bool late;
	if (!t->kind || !h->up || h->tlevel >= 3 || !news_look(s, h, &late))
		return;
	uint64_t e = 0, o = 0;
	for (int k = 0; k < s->shards; k++)
		if (!qr_core_topology_news(sim_core_of(s, h->id, k)->core, &e,
					   &o))
			return;
	/* Only a settled topology is news: level 3's (T7). */
	const struct qr_placement *l3 = t->abort ? &s->pl : &t->next;
	QR_ASSERT(e == t->base + 2 && o == l3->members);
	bool handing_off = false;
	for (int k = 0; k < s->shards; k++)
		handing_off |=
			qr_core_stats(sim_core_of(s, h->id, k)->core)
				->orphan_active != 0;
	sim_vlog(s, "topology: node %u caught up by a peer's news (epoch %"
		 PRIu64 "%s)", h->id, e,
		 late && handing_off ? ", late, its hand-off running" : "");
	reach(s, h, 3);
	s->res->caught_up++;
	s->res->caught_up_late += late && handing_off;
}

bool topo_settled(const struct sim *s)
{
	/* A node synced late hands off its writes then: the final reads
	 * give it the settle a restart gets (sim.c, TOPO_SYNC_SETTLE_US). */
	return !s->topo.kind ||
	       (s->topo.finished &&
		s->now_us >= s->topo.sync_us + TOPO_SYNC_SETTLE_US);
}

const struct qr_placement *topo_owners(const struct sim *s, int node)
{
	return s->topo.kind && s->hosts[node].tlevel >= 3 && !s->topo.abort
		       ? &s->topo.next
		       : &s->pl;
}

const struct qr_placement *topo_pending(const struct sim *s, int node)
{
	uint8_t l = s->hosts[node].tlevel;
	return s->topo.kind && l >= 1 && l < 3 ? &s->topo.next : NULL;
}

bool topo_replica(const struct sim *s, int viewer, uint32_t p, int node)
{
	const struct qr_placement *o = topo_owners(s, viewer),
				  *n = topo_pending(s, viewer);
	return qr_placement_replica_index(o, p, (uint16_t)node) >= 0 ||
	       (n && qr_placement_replica_index(n, p, (uint16_t)node) >= 0);
}

const struct qr_placement *topo_client_placement(const struct sim *s,
						 const struct client *cl,
						 bool final)
{
	/* With stale restarts, odd clients never learn the new placement
	 * (libquorate reads the cluster file's members at open): they keep
	 * sending to the old owners, stale ones included. */
	return s->topo.stale && (cl->id & 1) && !final ? &s->pl : s->cpl;
}

bool topo_member(const struct sim *s, int node)
{
	return s->cpl->members >> node & 1;
}

void topo_fini(struct sim *s)
{
	if (s->topo.has_next)
		qr_placement_fini(&s->topo.next);
}
