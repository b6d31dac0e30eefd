/* SPDX-License-Identifier: MIT */
/*
 * The clock guard: the wall clock the HLC runs on, and whether this node
 * may serve clients (issue 13 bug 6, docs/protocol.md "Clock jumps").
 *
 * A wall clock that jumps beyond max_offset would, unguarded, be adopted by
 * the HLC at its next reading: a forward jump stamps versions (and logs HLC
 * ceilings) that far ahead, which later beat newer writes under
 * last-writer-wins, and since the HLC never goes back the node stays cut
 * off (its peers refuse its frames) after the clock is corrected, until
 * real time catches up with it.
 *
 * Invariants:
 *  G1. The HLC reads the raw wall clock only while it is trusted: within
 *      max_offset / 2 of the clock the node ran on (the last trusted
 *      reading extrapolated by the monotonic clock), or, after a larger
 *      step, once a quorum of the cluster other than us (floor(N/2) + 1
 *      nodes) has clocks within max_offset of the new reading (in bounds:
 *      the step was a correction). Otherwise it runs on the
 *      extrapolation: a jump moves no version, ceiling or claim, and a
 *      clock jumped back needs no catching up.
 *  G2. A node serves no client request (CLOCK_AHEAD, counted in
 *      clock_refused) while its wall clock has jumped (G1), while a quorum
 *      of the cluster other than us has clocks beyond max_offset of ours,
 *      or while its HLC is more than max_offset ahead of its wall clock
 *      (adopted before the guard could tell: a node started with a wrong
 *      clock). It keeps answering its peers as a replica: that stamps
 *      nothing.
 *  G3. A peer's clock is sampled only from a frame that passed
 *      authentication, before the HLC observes it (a frame the HLC refuses
 *      as too far ahead is still a sample), and counts for
 *      suspect_after_us.
 *  G4. Within one event (a frame, a durable point, a flush, a tick:
 *      qc_clock_hold .. qc_clock_release) the driver's monotonic clock is
 *      read once, and the guarded wall clock once while it takes the
 *      trusted path of G1 (the same reading gives the same answer there):
 *      a quorum write read them ~12 times, each a clock_gettime in a
 *      real driver. A wait for the HLC's next millisecond (hlc_pause)
 *      forgets both: time must move there. Outside an event every call
 *      reads the driver's clocks.
 */
#include "core/core_pvt.h"

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* The clock we ran on: the last trusted reading plus monotonic time. */
static uint64_t clock_ext(const struct clock_guard *g, uint64_t now_us)
{
	return g->anchor_ms + (now_us - g->anchor_us) / 1000;
}

/* Fresh peers (G3) whose clocks, as estimated now, are within lim of ms
 * (near) or beyond max_offset of it (off): counts of nodes other than
 * us. */
struct peer_view {
	unsigned near, off;
};

static struct peer_view peers_compare(const struct qr_core *c, uint64_t ms,
				      uint64_t lim, uint64_t now)
{
	const struct clock_guard *g = &c->clock;
	uint64_t max = c->hlc.max_offset_ms;
	struct peer_view v = {0, 0};
	for (uint16_t n = 0; n < c->nodes; n++) {
		if (n == c->cfg.node_id || !g->peer_at_us[n] ||
		    now - g->peer_at_us[n] > c->cfg.suspect_after_us)
			continue;
		uint64_t est = g->peer_ms[n] + (now - g->peer_at_us[n]) / 1000;
		uint64_t d = absdiff(est, ms);
		v.near += d <= lim;
		v.off += d > max;
	}
	return v;
}

/* floor(N/2) + 1: a quorum of the cluster, counted among the others. */
static unsigned quorum_of_others(const struct qr_core *c)
{
	return (unsigned)__builtin_popcountll(c->members) / 2u + 1u;
}

static void anchor(struct clock_guard *g, uint64_t now, uint64_t raw)
{
	g->anchored = true;
	g->anchor_us = now;
	g->anchor_ms = raw;
	g->jumped = false;
}

void qc_clock_hold(struct qr_core *c)
{
	struct clock_guard *g = &c->clock;
	if (g->held++ == 0)
		g->have_now = g->have_wall = false;
}

void qc_clock_release(struct qr_core *c)
{
	struct clock_guard *g = &c->clock;
	QR_ASSERT(g->held > 0);
	if (--g->held == 0)
		g->have_now = g->have_wall = false;
}

void qc_clock_moved(struct qr_core *c)
{
	c->clock.have_now = c->clock.have_wall = false; /* G4 */
}

/* The HLC's wall source (core.c): G1. */
/* qc_clock_wall() (core_pvt.h) without this event's reading (G4). */
uint64_t qc_clock_wall_read(struct qr_core *c)
{
	struct clock_guard *g = &c->clock;
	uint64_t raw = c->env.wall_ms(c->env.ctx);
	if (QR_BUG(CLOCK_GUARD_OFF))
		return raw;
	uint64_t now = qc_now_us(c);
	uint64_t half = c->hlc.max_offset_ms / 2;
	uint64_t ext = clock_ext(g, now);
	if (!g->anchored || absdiff(raw, ext) <= half) {
		anchor(g, now, raw);
		g->wall_ms = raw;
		g->have_wall = g->held != 0;
		return raw;
	}
	/* A step beyond half of max_offset: kept out of the HLC unless a
	 * quorum of the cluster has this time (a correction). Rare: the
	 * loop over the peers is cold. */
	if (!g->jumped) {
		g->jumped = true;
		c->stats.clock_jumps++;
	}
	struct peer_view v = peers_compare(c, raw, c->hlc.max_offset_ms, now);
	if (v.near >= quorum_of_others(c)) {
		anchor(g, now, raw);
		return raw;
	}
	return ext;
}

/* G3: an authentic frame from peer `from` carried its HLC `remote`. */
void qc_clock_sample(struct qr_core *c, uint16_t from, uint64_t remote)
{
	struct clock_guard *g = &c->clock;
	g->peer_ms[from] = QR_HLC_MS(remote);
	g->peer_at_us[from] = QR_MAX(qc_now_us(c), 1);
}

/* G2: may we serve a client now? Per request: the cached peer verdict
 * (qc_clock_tick) and two compares. */
bool qc_clock_serving(struct qr_core *c)
{
	if (QR_BUG(CLOCK_GUARD_OFF))
		return true;
	const struct clock_guard *g = &c->clock;
	uint64_t pt = qc_clock_wall(c);
	return !g->jumped && !g->peers_off &&
	       QR_HLC_MS(c->hlc.last) <= pt + c->hlc.max_offset_ms;
}

/* Once per heartbeat period: what a quorum of the others says of our
 * raw wall clock now (G2), and the state `quorate stat` shows. */
void qc_clock_tick(struct qr_core *c)
{
	struct clock_guard *g = &c->clock;
	(void)qc_clock_wall(c); /* a step, or a confirmed correction */
	struct peer_view v =
		peers_compare(c, c->env.wall_ms(c->env.ctx), 0, qc_now_us(c));
	g->peers_off = v.off >= quorum_of_others(c);
	c->stats.clock_serving = qc_clock_serving(c);
}
