/* SPDX-License-Identifier: MIT */
/*
 * How long an idle shard loop spins after its last work before it naps or
 * blocks (issue 11: CPU per operation on a shared machine).
 *
 * Spinning after work pays when the next work comes soon (a peer's ack, the
 * next request of a busy client): the loop finds it without a sleep and a
 * wake-up. It is pure waste when the next work is far (a WAL flush of
 * 100-300 us, a client thinking): the loop burns the spin, then sleeps
 * anyway, on a machine whose other processes (the peer nodes, on a small
 * VM) wanted that core. A fixed 50 us spin after every piece of work cost
 * ~11% of a node's CPU samples under durable writes (2-core VM). So the
 * spin limit follows the gaps the loop has seen, like an adaptive mutex:
 *
 *  S1. The limit stays within [0, max_us]; max_us 0 means never spin
 *      (block or nap at once), the old fixed spin is max_us with every
 *      gap short.
 *  S2. Only a gap with at least one idle iteration in it says anything
 *      (back-to-back work is no gap); the caller reports it with
 *      qr_idle_spin_work(), measured from the END of the last busy
 *      iteration (its own processing is no gap).
 *  S3. A gap the maximal spin would have covered (gap <= max_us) doubles
 *      the limit (at least to QR_IDLE_SPIN_STEP_US): spinning would have
 *      saved a sleep. A longer gap halves it: the spin was (or would have
 *      been) wasted. Gaps are seen whether the loop spun or slept through
 *      them, so a limit at 0 still learns that gaps became short.
 *  S4. A blocking wait ends when work arrives, so its gap is measured. A
 *      nap (idle = backoff) does not: work found after one arrived at some
 *      moment of it. The caller says when a nap begins
 *      (qr_idle_spin_nap), and a gap that ended after naps counts from
 *      the middle of the last one (the unbiased guess), except at limit
 *      0, where it counts from the nap's start, the earliest the work can
 *      have come: work found after the first nap is then a short gap, so
 *      the spin can come back. A nap lasts ~60 us, so under back-off a
 *      spin_us below ~30 stays within a few us of 0.
 *  S5. Pure arithmetic on the caller's clock: no syscall, no allocation;
 *      the unit test drives it with made-up gaps.
 */
#ifndef QR_SHARD_IDLE_SPIN_H
#define QR_SHARD_IDLE_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define QR_IDLE_SPIN_STEP_US 4u /* the smallest non-zero limit (S3) */

struct qr_idle_spin {
	uint32_t limit_us; /* spin this long after work (S1) */
	uint32_t max_us;   /* [loop] spin_us */
	bool napped;	   /* a nap since the last work (S4) */
	uint64_t nap_at_us; /* idle time the last nap began at */
	uint64_t short_gaps, long_gaps; /* S3's two cases, for stats */
};

static inline void qr_idle_spin_init(struct qr_idle_spin *sp, uint32_t max_us)
{
	sp->max_us = max_us;
	sp->limit_us = max_us;
	sp->napped = false;
	sp->nap_at_us = 0;
	sp->short_gaps = sp->long_gaps = 0;
}

/* A gap of gap_us: adapt the limit (S3). */
static inline void qr_idle_spin_gap(struct qr_idle_spin *sp, uint64_t gap_us)
{
	if (gap_us <= sp->max_us) {
		uint32_t l = sp->limit_us * 2u;
		if (l < QR_IDLE_SPIN_STEP_US)
			l = QR_IDLE_SPIN_STEP_US;
		sp->limit_us = l < sp->max_us ? l : sp->max_us;
		sp->short_gaps++;
	} else {
		sp->limit_us /= 2u;
		sp->long_gaps++;
	}
}

/* A nap (a sleep that work does not end) begins idle_us after the last
 * work (S4). */
static inline void qr_idle_spin_nap(struct qr_idle_spin *sp, uint64_t idle_us)
{
	sp->napped = true;
	sp->nap_at_us = idle_us;
}

/* Work found idle_us after the end of the last work, with idle iterations
 * between (S2): the gap, or after naps the middle of the last one (its
 * start at limit 0; S4). */
static inline void qr_idle_spin_work(struct qr_idle_spin *sp, uint64_t idle_us)
{
	uint64_t gap = idle_us;
	if (sp->napped && idle_us >= sp->nap_at_us)
		gap = sp->limit_us ? sp->nap_at_us + (idle_us - sp->nap_at_us) / 2
				   : sp->nap_at_us;
	qr_idle_spin_gap(sp, gap);
	sp->napped = false;
}

/* Still spinning, idle_us after the last work? */
static inline bool qr_idle_spin_on(const struct qr_idle_spin *sp,
				   uint64_t idle_us)
{
	return idle_us < sp->limit_us;
}

#endif /* QR_SHARD_IDLE_SPIN_H */
