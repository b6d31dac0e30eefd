/* SPDX-License-Identifier: MIT */
/*
 * Orphan hand-off.
 *
 * After a restart (or a hint it could not keep) a node no longer knows
 * which of its writes stamped in [from, to) every replica has. Until it
 * does, its closed timestamps stay at `from`. It asks every other node
 * (ORPHAN_REQ) to hint the replicas of each such write it holds (and of
 * every later write of another node: P3), hints the ones in its own
 * store itself, and is done once every node answered
 * ORPHAN_DONE (all their hints acknowledged). A node that stays DOWN holds
 * it: its copy might be the only one.
 *
 * State of our own hand-off:
 *
 *   IDLE --restart or lost hint--> ACTIVE(scanning) --scan done-->
 *        ACTIVE(waiting for ORPHAN_DONE from every node) --all--> IDLE
 *
 * The scan waits while the node knows it is behind (topology.c T6: P4).
 *
 *   transition                 function
 *   IDLE -> ACTIVE             qc_orphan_begin (recover.c, hints.c)
 *   scan, ask, wait            qc_orphan_step (each heartbeat period)
 *   a node's DONE              qc_orphan_on_done
 *
 * Invariants:
 *  P1. orphan_done_mask always has our own bit.
 *  P2. A job's outstanding counts its hints still in slots.
 *  P3. A scan for [from, to) of node S hints every entry of S in the
 *      range and every entry of another node at or above `from` (it may
 *      have superseded one of S's everywhere S's was held).
 *  P4. Our own scan takes no partition while a peer's frame says our
 *      epoch is behind (epoch_peer_max > epoch, topology.c T6): its
 *      hints go to the replica sets of the topology the node serves
 *      under once caught up. A restarted node hears it is behind within
 *      a heartbeat period (heartbeats go to every slot), when its first
 *      scan is due, while its catch-up (a peer's news, which quorated's
 *      management thread installs every 200 ms: T7; or `quorate node
 *      sync`) comes later; a scan of the old placement hints only the
 *      old owners, and a gainer of a partition gets a write the node
 *      alone held (taken at ONE or ANY, or one that failed its level)
 *      only by anti-entropy from the owners that stayed (at RF 1 from
 *      none), its watermark passing the write meanwhile. While it
 *      waits the hand-off runs, so its closed timestamps stay at
 *      `from`; a node never caught up (auth = none sends no news, and
 *      no `node sync`) never ends it, and refuses clients all along
 *      anyway (T6). Not covered: a scan that ran
 *      before any peer's frame told the node it is behind (a scan
 *      under way or done is not started again at the install: doing so
 *      failed the simulator's final reads, default seeds 1910 and
 *      7580, checker (e)), and a peer's job (qc_orphan_on_req) run by
 *      a node that is itself behind.
 */
#include "core/core_pvt.h"

struct orphan_scan {
	struct qr_core *c;
	uint16_t stamper;
	uint16_t job;
	uint32_t job_gen;
	uint64_t from, to;
	const uint8_t *replicas;
	uint8_t rf;
};

void qc_orphan_begin(struct qr_core *c, uint64_t from, uint64_t to)
{
	if (c->orphan_active) {
		from = QR_MIN(from, c->orphan_from);
		to = QR_MAX(to, c->orphan_to);
	}
	c->orphan_active = true;
	c->orphan_scanned = false;
	c->orphan_next_p = 0;
	c->orphan_from = from;
	c->orphan_to = to;
	c->orphan_done_mask = 1ull << c->cfg.node_id;
	c->stats.orphan_syncs++;
	c->stats.orphan_active = 1;
	for (uint16_t n = 0; n < c->nodes; n++)
		c->closed_out[n] = QR_MIN(c->closed_out[n], from);
}

static int orphan_scan_entry(void *arg, const struct qr_store_view *v)
{
	struct orphan_scan *o = arg;
	struct qr_core *c = o->c;
	/* P3: the asker's writes in [from, to), and every entry at or above
	 * `from` stamped by another node: such a write may have superseded
	 * one of the asker's at every replica that held it, while a replica
	 * that lacks both is covered by the asker's claims for the first
	 * and not yet by its writer's for the second (its hint is pending).
	 * Handing off only the asker's entries let a watermark pass a write
	 * the replica never got (found by the simulator's checker (k):
	 * seeds 734 and 1997 of its new workload). */
	bool asker = v->version.node == o->stamper;
	if (v->version.hlc < o->from ||
	    ((asker || QR_BUG(ORPHAN_SCAN_ASKER_ONLY)) &&
	     (!asker || v->version.hlc >= o->to)))
		return 0;
	struct qr_store_write w = {
		.partition = v->partition,
		.version = v->version,
		.tombstone = v->tombstone,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->value_len,
	};
	/* N5 (hints.c): a hint of our own hand-off holds its target's claim
	 * at `from`, not at its version: the entry may have superseded an
	 * older write of ours in the range that the target lacks too. A
	 * peer's hand-off job holds the asker's claims by its ORPHAN_DONE. */
	uint64_t claim = o->job || QR_BUG(HANDOFF_HINT_CLAIMS_VERSION)
				 ? UINT64_MAX
				 : o->from;
	for (int i = 0; i < o->rf; i++)
		if (o->replicas[i] != c->cfg.node_id &&
		    qc_hint_add(c, o->replicas[i], &w, false, true, o->job,
				o->job_gen, claim) != 0)
			return 1;
	return 0;
}

/*
 * Hint the replicas of every entry stamped by `stamper` in [from, to) on
 * our partitions, a partition at a time from *next_p: 0 when done, else
 * non-zero (call again: it resumes there). A partition starts only with
 * half the hint slots free, so the scan moves on as hints drain instead of
 * filling the slots with the same first entries again; one whose hints
 * overflow anyway is scanned again from its start.
 */
static int orphan_scan(struct qr_core *c, uint16_t stamper, uint64_t from,
		       uint64_t to, uint16_t job, uint32_t job_gen,
		       uint32_t *next_p)
{
	const struct qr_placement *pl = c->pl;
	struct orphan_scan o = {c, stamper, job, job_gen, from, to, NULL, 0};
	uint8_t reps[QC_REPS_MAX], in_new;
	for (; *next_p < pl->partitions; (*next_p)++) {
		uint32_t p = *next_p;
		/* Every partition of our shard, handed to the replica sets
		 * of now (during a change the union: topology.c T1, T2), as
		 * writes go. Not only the ones we hold: a node that was down
		 * through a change in which it lost p, caught up at once (a
		 * peer's news, T7, or a quick `node sync`), still has the
		 * writes it took for p before; they are its to hand off (the
		 * simulator's checker (k): --membership seed 501; and a
		 * gainer's own write, seed 26). */
		if (qr_placement_shard(pl, p) != c->cfg.shard ||
		    (!qc_topo_is_replica(c, p, c->cfg.node_id) &&
		     (qr_store_partition_empty(c->store, p) ||
		      QR_BUG(ORPHAN_SCAN_OWNED_ONLY))))
			continue;
		if (c->free_hint_count < c->cfg.hints_max / 2)
			return 1;
		o.rf = qc_topo_replicas(c, p, reps, &in_new);
		o.replicas = reps;
		if (qr_store_for_each_in_partition(c->store, p,
						   orphan_scan_entry, &o))
			return 1;
	}
	return 0;
}

/* Once per heartbeat period while our own hand-off runs. */
void qc_orphan_step(struct qr_core *c)
{
	if (!c->orphan_active)
		return;
	/* P4: the frames' epochs, not qc_topo_behind (whose bug
	 * epoch-unfenced is another mutation). */
	if (!c->orphan_scanned &&
	    (c->stats.epoch_peer_max <= c->epoch ||
	     QR_BUG(ORPHAN_SCAN_WHILE_BEHIND)))
		c->orphan_scanned =
			orphan_scan(c, c->cfg.node_id, c->orphan_from,
				    c->orphan_to, 0, 0, &c->orphan_next_p) == 0;
	QR_ASSERT(c->orphan_done_mask & (1ull << c->cfg.node_id)); /* P1 */
	uint64_t all = c->members | 1ull << c->cfg.node_id;
	if (c->orphan_scanned && (c->orphan_done_mask & all) == all) {
		c->orphan_active = false;
		c->stats.orphan_active = 0;
		c->rebuilding = false; /* recover.c RB1: filled */
		c->stats.rebuilding = 0;
		return;
	}
	struct qr_msg m = {
		.type = QR_MSG_ORPHAN_REQ,
		.range_from = QR_BUG(ORPHAN_REQ_EMPTY_RANGE) ? c->orphan_to
							     : c->orphan_from,
		.range_to = c->orphan_to,
		.restart_hlc = c->restart_hlc,
	};
	for (uint16_t n = 0; n < c->nodes; n++)
		if (!(c->orphan_done_mask & (1ull << n)) &&
		    qr_detector_state(&c->det, n) != QR_PEER_DOWN)
			qc_send_peer(c, n, &m);
		else if (QR_BUG(ORPHAN_DONE_SKIPS_DOWN))
			c->orphan_done_mask |= 1ull << n;
}

static void orphan_send_done(struct qr_core *c, uint16_t asker)
{
	struct qr_msg m = {
		.type = QR_MSG_ORPHAN_DONE,
		.range_from = 0,
		.range_to = c->jobs[asker].to,
	};
	qc_send_peer(c, asker, &m);
}

void qc_orphan_job_hint_done(struct qr_core *c, uint16_t asker)
{
	struct orphan_job *j = &c->jobs[asker];
	QR_ASSERT(j->outstanding > 0); /* P2: one per hint in a slot */
	if (--j->outstanding == 0 && j->scanned)
		orphan_send_done(c, asker);
}

void qc_orphan_on_req(struct qr_core *c, uint16_t from, const struct qr_msg *m)
{
	if (qc_refuse_future(c, m->range_to) ||
	    qc_refuse_future(c, m->restart_hlc))
		return; /* restart_hlc = max would cut `from` off */
	struct orphan_job *j = &c->jobs[from];
	/* From now on a write `from` stamped before its restart is no longer
	 * taken from `from` itself (qc_replica_on_replicate): this hand-off is
	 * how such writes travel now, as repairs from the stores. */
	c->peer_restart[from] = QR_MAX(c->peer_restart[from], m->restart_hlc);
	if (j->to != m->range_to) {
		j->to = m->range_to;
		j->gen = (j->gen + 1) & GEN_MASK;
		j->outstanding = 0;
		j->next_p = 0;
		j->scanned = false;
	}
	if (!j->scanned)
		j->scanned = orphan_scan(c, from, m->range_from, m->range_to,
					 (uint16_t)(from + 1), j->gen,
					 &j->next_p) == 0;
	if (j->scanned && (j->outstanding == 0 || QR_BUG(ORPHAN_DONE_EARLY)))
		orphan_send_done(c, from);
}

void qc_orphan_on_done(struct qr_core *c, uint16_t from, const struct qr_msg *m)
{
	if (c->orphan_active &&
	    (m->range_to == c->orphan_to || QR_BUG(ORPHAN_DONE_ANY_RANGE)))
		c->orphan_done_mask |= 1ull << from;
}
