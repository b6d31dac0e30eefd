/* SPDX-License-Identifier: MIT */
/*
 * Topology changes in the core (issue 14; docs/topology.md). A join or a
 * leave moves each partition's replica set from O (the owners, c->pl) to
 * N (the pending placement, c->pl_new). The caller's steps (core.h) keep
 * the two placements' requests apart in time: every node runs the change
 * (T1) before any stream begins, and N alone is installed only once every
 * gainer is filled (T3), so no request of O alone ever meets one of N
 * alone.
 *
 * Invariants:
 *  T1. During a change a request of partition p goes to U = O + N (O in
 *      rank order, then N's members O lacks) and every group g needs
 *      max(need(O_g) + |U_g - O_g|, need(N_g) + |U_g - N_g|) answers of
 *      U_g (the need of an empty set is 0). At most |U_g - O_g| of them
 *      are outside O_g, so at least need(O_g) are in O_g, and likewise in
 *      N_g: the request meets its level in both placements, and intersects
 *      (R + W > N) every request of O, of the change and of N.
 *  T2. A replica takes reads, writes, CAS messages and DIGESTs of p while
 *      it is in O or N; a DIGEST's sender must be in one of them too.
 *  T3. A gainer (in N, not in O) is filled for p once its digest, all of
 *      it durable, equalled the digest of a quorum of O's members in every
 *      zone of O (an EACH_QUORUM of O, which is a majority of O too: Z2),
 *      each compared after the stream began. It begins after every
 *      request of O alone has ended, so each write O acknowledged at
 *      QUORUM, LOCAL_QUORUM or EACH_QUORUM was on one of those owners when
 *      it was compared, and is on the gainer's disk. (ONE and ANY promise
 *      no such intersection, in any placement.)
 *      Until then, and after the hand-over until its digest equalled
 *      every other owner's (settled), its read answers for p claim no
 *      closed timestamp: a token is never served by its copy alone, as
 *      a write at ONE before the change may be on an owner it did not
 *      compare with.
 *  T4. No tombstone is collected during a change (a gainer might never
 *      get it, and the older value under it would come back), and every
 *      change forgets the GC's records and deltas: their replica indexes
 *      are the old placement's. Forgetting costs pushes, never safety.
 *  T6. Every frame carries its sender's epoch (mod 2^16: wire.h). A
 *      core drops a peer's frame whose epoch is 2 or more from its own
 *      either way, and one of a lower epoch once it began the stream or
 *      answered a gainer's DIGEST (fence_older) until its next epoch:
 *      T3 counts on no request of O alone being taken after the stream
 *      began, and T1's union meets only the placements one step apart
 *      (E's O with E+1's union, E+1's union with E+2's N). So a node
 *      that missed steps (down while they were taken, restarted with an
 *      older topology) can neither coordinate with its old placement
 *      nor answer for it until it is caught up; its peers' epochs, in
 *      epoch_peer_max, show it is behind, and while they do it takes no
 *      client request (UNAVAILABLE, epoch_refused): its own replica may
 *      hold a partition it left, where a write it took alone would be
 *      lost and a read of it stale. (Heartbeats go to every slot, so a
 *      restarted node learns within a heartbeat period; before that, and
 *      cut off from every peer, it cannot know.)
 *  T7. A node whose topology is settled (no pending members) tells a
 *      peer whose frame carried a lower epoch (mod 2^16) its epoch and
 *      owners (TOPO_NEWS, at most once a heartbeat period per peer, and
 *      only with auth = mac: the frame's MAC is what makes the news the
 *      cluster's). A node takes news above its epoch and the last news
 *      it took, even from a frame T6 fences (nothing else of that frame
 *      is used), and hands it to its driver (qr_core_topology_news) once
 *      no request it coordinates is in flight: those were placed with
 *      the older topology, and once it installs the newer one their
 *      resends would carry an epoch no peer fences. Installed topologies
 *      are chosen values (every node installs only its acceptor's value,
 *      server/topo_ctl.h C6), so news is one too; a settled one needs no
 *      stream (nothing is gained at its epoch), and one mid-change is
 *      never sent: a node behind a change is caught up by the command
 *      that runs it, which waits out the requests it may have begun.
 *      A node that knows it is behind defers its hand-off's scan until
 *      it is caught up (orphan.c P4): its hints then go to the replica
 *      sets it serves under.
 *  T5. Epochs grow. A change's placements have the core's partitions,
 *      shards and rf, node ids below its slots, the same zone for a node
 *      in both, and sets that differ by at most QC_REPS_MAX - rf members.
 */
#include "core/core_pvt.h"

#include "common/topo_file.h"

#include <string.h>

/* stream_matched: bits 0..QR_RF_MAX-1 are owners' indexes; the flags sit
 * above them (an owner at index 6, RF 7, must not read as a flag). */
#define STREAM_FILLED	0x100u /* the partition is filled */
#define STREAM_SETTLING 0x200u /* gained in the last change: not settled */
_Static_assert(QR_RF_MAX <= 8, "stream_matched: owner bits below the flags");
#define STREAM_BURST  16    /* partitions asked per heartbeat period */

static bool in_set(const uint8_t *reps, uint8_t n, uint8_t node)
{
	for (uint8_t i = 0; i < n; i++)
		if (reps[i] == node)
			return true;
	return false;
}

uint8_t qc_topo_replicas(const struct qr_core *c, uint32_t p, uint8_t *reps,
			 uint8_t *in_new)
{
	uint8_t rf = (uint8_t)c->pl->rf, n = rf;
	memcpy(reps, qr_placement_replicas(c->pl, p), rf);
	*in_new = 0;
	if (qr_likely(!c->pl_new))
		return rf;
	const uint8_t *nr = qr_placement_replicas(c->pl_new, p);
	for (uint8_t i = 0; i < rf; i++)
		if (!in_set(reps, rf, nr[i]) && n < QC_REPS_MAX) /* T5 */
			reps[n++] = nr[i];
	for (uint8_t i = 0; i < n; i++)
		if (in_set(nr, rf, reps[i]))
			*in_new |= (uint8_t)(1u << i);
	return n;
}

static uint8_t zone_of(const struct qr_core *c, uint8_t node)
{
	return (c->pl->members >> node) & 1 ? c->pl->zone[node]
					    : c->pl_new->zone[node];
}

/* Bit per index of reps (n of them) whose node is in zone z. */
static uint8_t zone_mask(const struct qr_core *c, const uint8_t *reps,
			 uint8_t n, int z)
{
	uint8_t m = 0;
	for (uint8_t i = 0; i < n; i++)
		if (zone_of(c, reps[i]) == z)
			m |= (uint8_t)(1u << i);
	return m;
}

/* T1 for one group: owners' mask o (need_o of them) and the new set's
 * mask nw (need_n of them, 0 if empty). */
static uint8_t need_of(uint8_t o, uint8_t need_o, uint8_t nw, uint8_t need_n)
{
	uint8_t u = o | nw;
	int a = need_o + __builtin_popcount(u & ~o);
	int b = need_n + __builtin_popcount(u & ~nw);
	return (uint8_t)(a > b ? a : b);
}

void qc_topo_widen(const struct qr_core *c, struct qc_groups *g,
		   uint8_t level, bool is_write, const uint8_t *reps,
		   uint8_t rf, uint8_t n, uint8_t in_new)
{
	if (n == rf)
		return;
	bool early = is_write && QR_BUG(PENDING_COUNTS_TOWARD_W);
	bool zoned = level == QR_LEVEL_LOCAL_ONE ||
		     level == QR_LEVEL_LOCAL_QUORUM ||
		     level == QR_LEVEL_EACH_QUORUM;
	if (!zoned) {
		/* |O| = |N|: the same count in both, plus the outsiders. */
		uint8_t need = g->need[0];
		g->mask[0] = RF_BITS(n);
		g->need[0] = early ? need : need_of(RF_BITS(rf), need, in_new,
						    need);
		return;
	}
	uint8_t covered = 0;
	for (unsigned k = 0; k < g->n; k++) {
		int z = zone_of(c, reps[__builtin_ctz(g->mask[k])]);
		uint8_t o = g->mask[k], nw = in_new & zone_mask(c, reps, n, z);
		int size = __builtin_popcount(nw);
		uint8_t need_n = !size ? 0
			       : level == QR_LEVEL_LOCAL_ONE
				       ? 1
				       : qc_quorum_of((uint8_t)size);
		covered |= o | nw;
		g->mask[k] = o | nw;
		if (!early)
			g->need[k] = need_of(o, g->need[k], nw, need_n);
	}
	/* EACH_QUORUM: a zone only the new set has needs its quorum too. */
	for (uint8_t i = rf; level == QR_LEVEL_EACH_QUORUM && i < n; i++) {
		if (covered & (1u << i))
			continue;
		uint8_t nw = in_new & zone_mask(c, reps, n, zone_of(c, reps[i]));
		covered |= nw;
		g->mask[g->n] = nw;
		g->need[g->n++] = qc_quorum_of((uint8_t)__builtin_popcount(nw));
	}
}

bool qc_topo_is_replica(const struct qr_core *c, uint32_t p, uint16_t node)
{
	return qr_placement_replica_index(c->pl, p, node) >= 0 ||
	       (c->pl_new && qr_placement_replica_index(c->pl_new, p, node) >= 0);
}

bool qc_topo_gainer(const struct qr_core *c, uint32_t p, uint16_t node)
{
	return c->pl_new && qr_placement_replica_index(c->pl_new, p, node) >= 0 &&
	       qr_placement_replica_index(c->pl, p, node) < 0;
}

/* Does this core gain p in the change (in N, not in O, on our shard)? */
static bool gains(const struct qr_core *c, uint32_t p)
{
	return qr_placement_shard(c->pl, p) == c->cfg.shard &&
	       qc_topo_gainer(c, p, c->cfg.node_id);
}

bool qc_topo_unfilled(const struct qr_core *c, uint32_t p)
{
	return (c->stream_matched[p] & STREAM_SETTLING) ||
	       (!(c->stream_matched[p] & STREAM_FILLED) && gains(c, p));
}

/* T3's settling: a partition gained in the last change, once its digest
 * equalled every other owner's, holds whatever any of them held. */
static void settle_matched(struct qr_core *c, uint32_t p, uint16_t from)
{
	int idx = qr_placement_replica_index(c->pl, p, from);
	int self = qr_placement_replica_index(c->pl, p, c->cfg.node_id);
	if (idx < 0 || self < 0)
		return;
	uint16_t got =
		(uint16_t)(c->stream_matched[p] | 1u << idx | 1u << self);
	if ((got & RF_BITS(c->pl->rf)) == RF_BITS(c->pl->rf)) {
		c->stream_matched[p] = 0;
		c->stats.stream_settling--;
		return;
	}
	c->stream_matched[p] = got;
}

bool qc_topo_streaming(const struct qr_core *c, uint32_t p)
{
	return c->streaming && !(c->stream_matched[p] & STREAM_FILLED) &&
	       gains(c, p);
}

/* T3: the owners matched (bit per index in O) hold a quorum of O in every
 * zone of O. */
static bool stream_filled(const struct qr_core *c, uint32_t p, uint8_t got)
{
	const uint8_t *reps = qr_placement_replicas(c->pl, p);
	uint8_t rf = (uint8_t)c->pl->rf;
	if (QR_BUG(STREAM_FROM_ONE))
		return got != 0;
	for (uint8_t i = 0; i < rf; i++) {
		uint8_t z = c->pl->zone[reps[i]], size = 0, have = 0;
		for (uint8_t j = 0; j < rf; j++) {
			if (c->pl->zone[reps[j]] != z)
				continue;
			size++;
			have += (got >> j) & 1;
		}
		if (have < qc_quorum_of(size))
			return false;
	}
	return true;
}

void qc_topo_stream_matched(struct qr_core *c, uint32_t p, uint16_t from)
{
	if (c->stream_matched[p] & STREAM_SETTLING) {
		settle_matched(c, p, from);
		return;
	}
	int idx = qr_placement_replica_index(c->pl, p, from);
	if (idx < 0 || !qc_topo_streaming(c, p))
		return;
	c->stats.stream_matches++;
	uint16_t got = (uint16_t)(c->stream_matched[p] | 1u << idx);
	if (stream_filled(c, p, (uint8_t)got)) {
		got |= STREAM_FILLED;
		c->stream_left--;
		c->stats.stream_left = c->stream_left;
	}
	c->stream_matched[p] = got;
}

void qc_topo_stream_step(struct qr_core *c)
{
	const struct qr_placement *pl = c->pl;
	if (!c->streaming || !c->stream_left)
		return;
	unsigned asked = 0;
	for (uint32_t tries = 0; tries < pl->partitions && asked < STREAM_BURST;
	     tries++) {
		uint32_t p = c->stream_next;
		c->stream_next = (p + 1) & (pl->partitions - 1);
		if (!qc_topo_streaming(c, p))
			continue;
		asked++;
		const uint8_t *reps = qr_placement_replicas(pl, p);
		for (int i = 0; i < pl->rf; i++)
			if (!(c->stream_matched[p] & (1u << i)) &&
			    qr_detector_state(&c->det, reps[i]) != QR_PEER_DOWN)
				qc_ae_stream_digest(c, reps[i], p);
	}
}

bool qc_topo_frame_fenced(struct qr_core *c, uint16_t epoch)
{
	int16_t d = (int16_t)(uint16_t)(epoch - (uint16_t)c->epoch);
	uint64_t theirs = c->epoch + (uint64_t)(int64_t)d;
	if (d > 0 && theirs > c->stats.epoch_peer_max)
		c->stats.epoch_peer_max = theirs;
	if (QR_BUG(EPOCH_UNFENCED))
		return false;
	return d >= 2 || d <= -2 || (d < 0 && c->fence_older);
}

void qc_topo_news_offer(struct qr_core *c, uint16_t from, uint16_t epoch)
{
	int16_t d = (int16_t)(uint16_t)(epoch - (uint16_t)c->epoch);
	if (d >= 0 || c->pl_new || c->cfg.auth == QR_AUTH_NONE)
		return;
	uint64_t now = qc_now_us(c);
	if (c->news_sent_us[from] &&
	    now - c->news_sent_us[from] < c->cfg.heartbeat_us)
		return;
	c->news_sent_us[from] = now;
	struct qr_msg m = {.type = QR_MSG_TOPO_NEWS,
			   .op_id = c->epoch,
			   .replica_mask = c->pl->members};
	qc_send_peer(c, from, &m);
	c->stats.news_sent++;
}

void qc_topo_on_news(struct qr_core *c, const struct qr_msg *m)
{
	uint64_t owners = m->replica_mask;
	/* The news is its sender's topology: the frame it came in carries
	 * that epoch too (wire.h), stamped as it was sent. */
	if (c->cfg.auth == QR_AUTH_NONE ||
	    (uint16_t)m->op_id != c->rx_epoch ||
	    (c->nodes < 64 && (owners >> c->nodes) != 0) ||
	    __builtin_popcountll(owners) < c->pl->rf ||
	    m->op_id > QR_TOPO_EPOCH_MAX) {
		qc_drop(c, QR_DROP_NEWS);
		return;
	}
	if (m->op_id <= c->epoch || m->op_id <= c->news_epoch)
		return; /* old news (a resend, or reordered) */
	c->news_epoch = m->op_id;
	c->news_owners = owners;
	c->stats.news_heard++;
}

bool qr_core_topology_news(const struct qr_core *c, uint64_t *epoch,
			   uint64_t *owners)
{
	if (c->news_epoch <= c->epoch ||
	    (qr_core_requests_active(c) && !QR_BUG(NEWS_WHILE_BUSY)))
		return false;
	*epoch = c->news_epoch;
	*owners = c->news_owners;
	return true;
}

bool qc_topo_behind(const struct qr_core *c)
{
	return c->stats.epoch_peer_max > c->epoch && !QR_BUG(EPOCH_UNFENCED);
}

void qc_topo_fence_older(struct qr_core *c)
{
	if (c->pl_new)
		c->fence_older = true;
}

bool qr_topology_union_fits(const struct qr_placement *o,
			    const struct qr_placement *n)
{
	for (uint32_t p = 0; p < o->partitions; p++) {
		const uint8_t *nr = qr_placement_replicas(n, p);
		unsigned extra = 0;
		for (uint8_t i = 0; i < n->rf; i++)
			extra += qr_placement_replica_index(o, p, nr[i]) < 0;
		if (o->rf + extra > QC_REPS_MAX)
			return false;
	}
	return true;
}

/* T5: the change's placements fit this core. */
static bool topology_valid(const struct qr_core *c, uint64_t epoch,
			   const struct qr_placement *o,
			   const struct qr_placement *n)
{
	const struct qr_placement *base = c->cfg.placement;
	if (epoch <= c->epoch || !o || o->partitions != base->partitions ||
	    o->shards != base->shards || o->nodes > c->nodes ||
	    o->rf > QR_RF_MAX)
		return false;
	if (!n)
		return true;
	if (n->partitions != o->partitions || n->shards != o->shards ||
	    n->rf != o->rf || n->nodes > c->nodes)
		return false;
	for (uint16_t id = 0; id < c->nodes; id++)
		if (((o->members & n->members) >> id & 1) &&
		    o->zone[id] != n->zone[id])
			return false;
	return qr_topology_union_fits(o, n);
}

int qr_core_set_topology(struct qr_core *c, uint64_t epoch,
			 const struct qr_placement *owners,
			 const struct qr_placement *pending)
{
	if (!topology_valid(c, epoch, owners, pending))
		return QR_EINVAL;
	struct qr_gc gc; /* T4: records of the new owners, none yet */
	int rc = qr_gc_init(&gc, owners, c->cfg.node_id, c->cfg.shard,
			    c->cfg.tombstone_grace_ms * 1000);
	if (rc)
		return rc;
	qr_gc_fini(&c->gc);
	c->gc = gc;
	/* The hand-over (step 3): what we gained settles (T3). */
	uint32_t settling = 0;
	for (uint32_t p = 0; !pending && c->pl_new && p < owners->partitions;
	     p++) {
		bool g = gains(c, p) &&
			 qr_placement_replica_index(owners, p, c->cfg.node_id) >= 0;
		c->stream_matched[p] = g ? STREAM_SETTLING : 0;
		settling += g;
	}
	if (pending || !c->pl_new)
		memset(c->stream_matched, 0,
		       owners->partitions * sizeof(*c->stream_matched));
	c->pl = owners;
	c->pl_new = pending;
	c->epoch = epoch;
	c->members = owners->members | (pending ? pending->members : 0);
	c->streaming = false;
	c->fence_older = false; /* T6: E's coordinators meet E+1's union */
	c->stream_left = 0;
	c->stats.stream_settling = settling;
	c->stats.epoch = epoch;
	c->stats.stream_left = 0;
	return 0;
}

void qr_core_stream_begin(struct qr_core *c)
{
	if (!c->pl_new)
		return;
	c->streaming = true;
	c->fence_older = true; /* T6 */
	c->stream_left = 0;
	memset(c->stream_matched, 0,
	       c->pl->partitions * sizeof(*c->stream_matched));
	for (uint32_t p = 0; p < c->pl->partitions; p++)
		c->stream_left += gains(c, p);
	c->stats.stream_left = c->stream_left;
}

uint32_t qr_core_stream_left(const struct qr_core *c)
{
	return c->stream_left;
}

uint64_t qr_core_epoch(const struct qr_core *c)
{
	return c->epoch;
}
