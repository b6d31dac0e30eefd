/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock, after Kulkarni et al., "Logical Physical Clocks and
 * Consistent Snapshots in Globally Distributed Databases" (2014), Fig. 5.
 *
 * Both events reduce to one rule on 64-bit timestamps (48-bit ms << 16 |
 * 16-bit logical), because ordering the packed integers orders (ms, logical)
 * pairs lexicographically:
 *
 *   m   = max(last, remote)          (remote = 0 for a local/send event)
 *   new = (pt, 0)   if pt > ms(m)    (the wall clock leads: logical resets)
 *         m + 1     otherwise        (Fig. 5's "c + 1", "max(c, c.m) + 1",
 *                                     "c.m + 1" cases, all at once)
 *
 * Invariants (checked in tests/unit/test_hlc.c):
 *  - every value returned by now() and observe() is > every value returned,
 *    observed or raised before (strictly increasing), whatever the wall clock
 *    does;
 *  - a rejected remote (more than max_offset_ms ahead of our wall clock)
 *    changes nothing but `rejected`;
 *  - the logical part never carries into the ms part: on overflow we wait for
 *    the wall clock to pass ms(last) and issue (wall, 0), so the HLC's ms part
 *    never runs ahead of the furthest wall clock we have seen (ours or a
 *    peer's within max_offset_ms), as the paper's bound requires (§3.3).
 * That wait lasts until the wall clock passes ms(last): the size of a
 * backward wall-clock step, or until a raise()d time is reached, or (our own
 * events only) the rest of a millisecond. A remote time never starts one:
 * observe() refuses a time ahead of ours whose logical part is within
 * QR_HLC_REMOTE_HEADROOM of the top (counted in overflow_refused).
 */
#include "core/hlc.h"

#include <time.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "quorate/err.h"

#define HLC_MS_MAX ((UINT64_C(1) << (64 - QR_HLC_LOGICAL_BITS)) - 1)

/* The default wall source when the driver gives none (tests, tools). */
static uint64_t realtime_ms(void *ctx)
{
	(void)ctx;
	return qr_clock_wall_ms();
}

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

void qr_hlc_init(struct qr_hlc *h, const struct qr_hlc_source *src,
		 uint64_t max_offset_ms)
{
	*h = (struct qr_hlc){
		.max_offset_ms = max_offset_ms ? max_offset_ms
					       : QR_HLC_MAX_OFFSET_MS_DEFAULT,
	};
	if (src)
		h->src = *src;
	if (!h->src.wall_ms)
		h->src.wall_ms = realtime_ms; /* ignores ctx; pause keeps it */
}

void qr_hlc_set_offset(struct qr_hlc *h, int64_t offset_ms)
{
	h->offset_ms = offset_ms;
}

/* Source + offset, clamped at 0. One indirect call and two compares. */
uint64_t qr_hlc_wall_ms(struct qr_hlc *h)
{
	uint64_t w = h->src.wall_ms(h->src.ctx);

	if (h->offset_ms < 0) {
		uint64_t back = (uint64_t)0 - (uint64_t)h->offset_ms;
		w = w > back ? w - back : 0;
	} else {
		w += (uint64_t)h->offset_ms;
	}
	/* 48 bits of ms last until the year 10889; a wall clock beyond that
	 * is a broken source and would wrap the packed timestamp. */
	QR_DASSERT(w <= HLC_MS_MAX);
	return w;
}

/*
 * Logical overflow at ms: let time pass until the wall clock is past ms, then
 * restart the logical counter. Cold path: it runs at most once per 65,536
 * timestamps in a millisecond.
 */
static __attribute__((noinline)) uint64_t hlc_overflow_wait(struct qr_hlc *h,
							    uint64_t ms)
{
	uint64_t pt;

	h->overflow_waits++;
	while ((pt = qr_hlc_wall_ms(h)) <= ms) {
		if (h->src.pause)
			h->src.pause(h->src.ctx);
		else
			cpu_pause();
	}
	return QR_HLC_MAKE(pt, 0);
}

/* The Fig. 5 rule shared by send and receive events; see the file comment. */
static inline uint64_t hlc_advance(struct qr_hlc *h, uint64_t m, uint64_t pt)
{
	if (QR_HLC_MS(h->last) > pt)
		h->wall_went_back++;
	if (pt > QR_HLC_MS(m))
		return QR_HLC_MAKE(pt, 0);
	if (qr_likely(QR_HLC_LOGICAL(m) < QR_HLC_LOGICAL_MAX))
		return m + 1;
	return hlc_overflow_wait(h, QR_HLC_MS(m));
}

uint64_t qr_hlc_now(struct qr_hlc *h)
{
	uint64_t t = hlc_advance(h, h->last, qr_hlc_wall_ms(h));

	QR_DASSERT(t > h->last);
	h->last = t;
	return t;
}

int qr_hlc_observe(struct qr_hlc *h, uint64_t remote, uint64_t *out)
{
	uint64_t pt = qr_hlc_wall_ms(h);
	uint64_t rms = QR_HLC_MS(remote);

	/* A peer whose clock is too far ahead would drag ours with it
	 * (Kulkarni et al. §3.3 assume clocks within epsilon): refuse. Written
	 * as a difference so a huge max_offset_ms cannot overflow. */
	if (rms > pt && rms - pt > h->max_offset_ms) {
		h->rejected++;
		return QR_ECLOCK;
	}

	/* Input never makes us wait (issue 12: one frame at wall + 499 ms
	 * with logical 0xffff stalled a shard for half a second). A remote
	 * time that leads ours and the wall clock with its logical part
	 * within QR_HLC_REMOTE_HEADROOM of the top would overflow at once,
	 * or after a few local events, and wait out its millisecond:
	 * refused. Honest peers never get there (65,536 events in one ms
	 * of one shard). */
	if (remote > h->last && rms >= pt &&
	    QR_HLC_LOGICAL(remote) > QR_HLC_LOGICAL_MAX - QR_HLC_REMOTE_HEADROOM) {
		h->overflow_refused++;
		return QR_ECLOCK;
	}

	uint64_t t = hlc_advance(h, QR_MAX(h->last, remote), pt);

	QR_DASSERT(t > h->last && t > remote);
	h->last = t;
	if (out)
		*out = t;
	return 0;
}

void qr_hlc_raise(struct qr_hlc *h, uint64_t t)
{
	if (t > h->last)
		h->last = t;
}
