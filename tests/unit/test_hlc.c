/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock (Kulkarni et al. 2014, Fig. 5) against a fake wall
 * clock the tests move by hand: logical increments at a fixed wall time,
 * resets when the wall advances, survives the wall going back, observe()
 * moves past a remote within max_offset_ms and rejects one beyond it (changing
 * nothing), waits out logical overflow through the pause hook, raise(),
 * offsets, and a seeded property run mixing all of it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/clock.h"
#include "common/rng.h"
#include "core/hlc.h"
#include "quorate/err.h"
#include "unit.h"

struct fake_clock {
	uint64_t ms;		   /* what wall_ms() returns */
	uint64_t reads;		   /* wall_ms() calls */
	uint64_t pauses;	   /* pause() calls */
	uint64_t advance_every;	   /* if non-zero, ms++ every this many reads */
	uint64_t pause_advance_ms; /* pause() moves ms by this much */
};

static uint64_t fake_wall_ms(void *ctx)
{
	struct fake_clock *fc = ctx;

	fc->reads++;
	if (fc->advance_every && fc->reads % fc->advance_every == 0)
		fc->ms++;
	return fc->ms;
}

static void fake_pause(void *ctx)
{
	struct fake_clock *fc = ctx;

	fc->pauses++;
	fc->ms += fc->pause_advance_ms;
}

static void fake_init(struct qr_hlc *h, struct fake_clock *fc, uint64_t ms,
		      uint64_t max_offset_ms)
{
	*fc = (struct fake_clock){.ms = ms, .pause_advance_ms = 1};
	struct qr_hlc_source src = {
		.wall_ms = fake_wall_ms,
		.pause = fake_pause,
		.ctx = fc,
	};
	qr_hlc_init(h, &src, max_offset_ms);
}

static void test_macros_round_trip(void)
{
	static const uint64_t ms[] = {0, 1, 1700000000000ull,
				      0xffffffffffffull};
	static const uint64_t lg[] = {0, 1, 0x1234, 0xffff};

	for (unsigned i = 0; i < 4; i++) {
		for (unsigned j = 0; j < 4; j++) {
			uint64_t t = QR_HLC_MAKE(ms[i], lg[j]);

			CU_ASSERT_EQUAL(QR_HLC_MS(t), ms[i]);
			CU_ASSERT_EQUAL(QR_HLC_LOGICAL(t), lg[j]);
		}
	}
	CU_ASSERT_EQUAL(QR_HLC_MAKE(1, 0), 0x10000u);
	/* Packed order is (ms, logical) order. */
	CU_ASSERT(QR_HLC_MAKE(5, 0xffff) < QR_HLC_MAKE(6, 0));
	CU_ASSERT(QR_HLC_MAKE(5, 1) < QR_HLC_MAKE(5, 2));
}

static void test_init_defaults(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 1000, 0);
	CU_ASSERT_EQUAL(h.max_offset_ms, QR_HLC_MAX_OFFSET_MS_DEFAULT);
	CU_ASSERT_EQUAL(h.last, 0);
	CU_ASSERT_EQUAL(h.offset_ms, 0);
	CU_ASSERT_EQUAL(h.rejected + h.wall_went_back + h.overflow_waits, 0);
	fake_init(&h, &fc, 1000, 77);
	CU_ASSERT_EQUAL(h.max_offset_ms, 77);
}

static void test_fixed_wall_increments_logical(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 1000, 0);
	uint64_t prev = qr_hlc_now(&h);
	CU_ASSERT_EQUAL(prev, QR_HLC_MAKE(1000, 0));
	for (unsigned i = 1; i <= 10000; i++) {
		uint64_t t = qr_hlc_now(&h);

		if (t != QR_HLC_MAKE(1000, i)) {
			CU_FAIL("logical did not increment by one");
			break;
		}
		prev = t;
	}
	CU_ASSERT_EQUAL(h.last, prev);
	CU_ASSERT_EQUAL(h.wall_went_back, 0);
	CU_ASSERT_EQUAL(h.overflow_waits, 0);
	/* One wall read per now(): it is on the write path. */
	CU_ASSERT_EQUAL(fc.reads, 10001);
}

static void test_wall_advance_resets_logical(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 1000, 0);
	for (int i = 0; i < 5; i++)
		qr_hlc_now(&h);
	CU_ASSERT_EQUAL(h.last, QR_HLC_MAKE(1000, 4));
	fc.ms = 1001;
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1001, 0));
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1001, 1));
	fc.ms = 5000;
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(5000, 0));
}

static void test_wall_going_back_keeps_increasing(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 5000, 0);
	uint64_t prev = qr_hlc_now(&h);
	CU_ASSERT_EQUAL(prev, QR_HLC_MAKE(5000, 0));

	fc.ms = 4000; /* an NTP step back by a second */
	for (int i = 0; i < 100; i++) {
		uint64_t t = qr_hlc_now(&h);

		CU_ASSERT_FATAL(t > prev);
		CU_ASSERT_EQUAL(QR_HLC_MS(t), 5000);
		prev = t;
	}
	CU_ASSERT_EQUAL(h.wall_went_back, 100);
	CU_ASSERT_EQUAL(prev, QR_HLC_MAKE(5000, 100));

	fc.ms = 4999; /* still behind: logical keeps counting */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(5000, 101));
	CU_ASSERT_EQUAL(h.wall_went_back, 101);
	fc.ms = 5000; /* level with last: not "back" */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(5000, 102));
	CU_ASSERT_EQUAL(h.wall_went_back, 101);
	fc.ms = 5001; /* past it: the wall leads again */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(5001, 0));
	CU_ASSERT_EQUAL(h.wall_went_back, 101);
}

static void test_observe_remote_ahead_within_offset(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	uint64_t out = 0;

	fake_init(&h, &fc, 1000, 500);
	qr_hlc_now(&h);
	uint64_t remote = QR_HLC_MAKE(1400, 7);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, remote, &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1400, 8));
	CU_ASSERT(out > remote);
	CU_ASSERT_EQUAL(h.last, out);
	CU_ASSERT_EQUAL(h.rejected, 0);
	/* Our wall is still at 1000: local events carry on past the remote. */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1400, 9));
	/* out may be NULL. */
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1450, 0), NULL), 0);
	CU_ASSERT_EQUAL(h.last, QR_HLC_MAKE(1450, 1));
}

/* Fig. 5's receive cases, one by one. */
static void test_observe_logical_rules(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	uint64_t out;

	/* Wall leads both: (pt, 0). */
	fake_init(&h, &fc, 2000, 500);
	qr_hlc_raise(&h, QR_HLC_MAKE(1500, 3));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1900, 9), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(2000, 0));

	/* last and remote at the same ms: max(l, l.m) + 1, either way round. */
	fake_init(&h, &fc, 1000, 500);
	qr_hlc_raise(&h, QR_HLC_MAKE(1200, 5));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1200, 9), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1200, 10));
	fake_init(&h, &fc, 1000, 500);
	qr_hlc_raise(&h, QR_HLC_MAKE(1200, 9));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1200, 5), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1200, 10));

	/* last leads: l + 1. */
	fake_init(&h, &fc, 1000, 500);
	qr_hlc_raise(&h, QR_HLC_MAKE(1300, 2));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1200, 900), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1300, 3));

	/* remote leads: l.m + 1. */
	fake_init(&h, &fc, 1000, 500);
	qr_hlc_raise(&h, QR_HLC_MAKE(1100, 900));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1200, 4), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1200, 5));

	/* Wall equal to the leading ms: no reset, l + 1. */
	fake_init(&h, &fc, 1200, 500);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1200, 4), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1200, 5));
}

static void test_observe_beyond_offset_rejected(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	uint64_t out = 0x5a5a;

	fake_init(&h, &fc, 1000, 500);
	uint64_t before = qr_hlc_now(&h);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1501, 0), &out),
			QR_ECLOCK);
	CU_ASSERT_EQUAL(h.rejected, 1);
	CU_ASSERT_EQUAL(h.last, before);
	CU_ASSERT_EQUAL(out, 0x5a5a);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, UINT64_MAX, NULL), QR_ECLOCK);
	CU_ASSERT_EQUAL(h.rejected, 2);
	CU_ASSERT_EQUAL(h.last, before);
	CU_ASSERT_EQUAL(h.wall_went_back + h.overflow_waits, 0);
	/* And the clock carries on as if nothing happened. */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1000, 1));
}

static void test_observe_at_limit_accepted(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	uint64_t out = 0;

	fake_init(&h, &fc, 1000, 500);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1500, 3), &out), 0);
	CU_ASSERT_EQUAL(out, QR_HLC_MAKE(1500, 4));
	CU_ASSERT_EQUAL(h.rejected, 0);

	/* The limit is on milliseconds: a logical part with room left is
	 * fine at the limit. */
	fake_init(&h, &fc, 1000, 500);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1500, 0xffff -
					      QR_HLC_REMOTE_HEADROOM), &out), 0);
	CU_ASSERT_EQUAL(h.rejected, 0);
	CU_ASSERT_EQUAL(h.overflow_refused, 0);
}

/* Regression (issue 12, item 3): one frame at wall + 499 ms with logical
 * 0xffff stalled a shard for ~0.5 s in the overflow wait. Such a remote
 * time is refused at once: no pause, no wait, the clock unchanged. */
static void test_regression_remote_overflow_refused_not_waited(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	uint64_t out = 0;

	fake_init(&h, &fc, 1000, 500);
	uint64_t before = qr_hlc_now(&h);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(1499, 0xffff), &out),
			QR_ECLOCK);
	CU_ASSERT_EQUAL(h.overflow_refused, 1);
	CU_ASSERT_EQUAL(h.overflow_waits, 0);
	CU_ASSERT_EQUAL(fc.pauses, 0);
	CU_ASSERT_EQUAL(h.last, before);
	/* The same logical part at our own millisecond or behind ours is
	 * harmless: the result is ours + 1 or the wall's. */
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(999, 0xffff), &out), 0);
	CU_ASSERT_EQUAL(fc.pauses, 0);
}

static void test_logical_overflow_waits_for_next_ms(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	unsigned bad = 0;

	fake_init(&h, &fc, 1000, 0);
	uint64_t prev = qr_hlc_now(&h);
	for (unsigned i = 1; i < 70000; i++) {
		uint64_t t = qr_hlc_now(&h);

		if (t <= prev)
			bad++;
		prev = t;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(h.overflow_waits > 0);
	/* 65,536 stamps fit in ms 1000; the next waited one pause for 1001,
	 * and the rest continued there. */
	CU_ASSERT_EQUAL(h.overflow_waits, 1);
	CU_ASSERT_EQUAL(fc.pauses, 1);
	CU_ASSERT_EQUAL(fc.ms, 1001);
	CU_ASSERT_EQUAL(prev, QR_HLC_MAKE(1001, 70000 - 65536 - 1));
	CU_ASSERT_EQUAL(h.wall_went_back, 0);
}

/* pause NULL: a CPU pause, and the loop re-reads the wall until it moves. */
static void test_overflow_without_pause_hook(void)
{
	struct qr_hlc h;
	struct fake_clock fc = {.ms = 1000};
	struct qr_hlc_source src = {.wall_ms = fake_wall_ms, .ctx = &fc};

	qr_hlc_init(&h, &src, 0);
	qr_hlc_raise(&h, QR_HLC_MAKE(1000, 0xffff));
	fc.advance_every = 1000; /* the wall ticks every 1000 reads */
	uint64_t t = qr_hlc_now(&h);
	CU_ASSERT_EQUAL(t, QR_HLC_MAKE(1001, 0));
	CU_ASSERT_EQUAL(h.overflow_waits, 1);
	CU_ASSERT_EQUAL(fc.reads, 1000);
}

/* Overflow while the wall is behind last: wait until it passes last. */
static void test_overflow_with_wall_behind_waits_past_last(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 900, 0);
	qr_hlc_raise(&h, QR_HLC_MAKE(1000, 0xfffe));
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1000, 0xffff));
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1001, 0));
	CU_ASSERT_EQUAL(fc.pauses, 101);
	CU_ASSERT_EQUAL(h.overflow_waits, 1);
	CU_ASSERT_EQUAL(h.wall_went_back, 2);
}

static void test_raise(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 1000, 0);
	qr_hlc_raise(&h, QR_HLC_MAKE(5000, 10));
	CU_ASSERT_EQUAL(h.last, QR_HLC_MAKE(5000, 10));
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(5000, 11));
	/* Lower values do nothing. */
	qr_hlc_raise(&h, QR_HLC_MAKE(4000, 0));
	qr_hlc_raise(&h, 0);
	CU_ASSERT_EQUAL(h.last, QR_HLC_MAKE(5000, 11));
	/* No offset check: recovery may raise far ahead. */
	qr_hlc_raise(&h, QR_HLC_MAKE(1000000, 0));
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(1000000, 1));
	CU_ASSERT_EQUAL(h.rejected, 0);
}

static void test_offset_applied(void)
{
	struct qr_hlc h;
	struct fake_clock fc;

	fake_init(&h, &fc, 10000, 500);
	qr_hlc_set_offset(&h, 250);
	CU_ASSERT_EQUAL(qr_hlc_wall_ms(&h), 10250);
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(10250, 0));
	/* The rejection limit is relative to the skewed wall clock. */
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(10750, 0), NULL), 0);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(10751, 0), NULL),
			QR_ECLOCK);

	fake_init(&h, &fc, 10000, 500);
	qr_hlc_set_offset(&h, -300);
	CU_ASSERT_EQUAL(qr_hlc_wall_ms(&h), 9700);
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(9700, 0));
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(10200, 0), NULL), 0);
	CU_ASSERT_EQUAL(qr_hlc_observe(&h, QR_HLC_MAKE(10201, 0), NULL),
			QR_ECLOCK);

	/* A negative offset larger than the clock clamps at 0. */
	fake_init(&h, &fc, 10000, 500);
	qr_hlc_set_offset(&h, -20000);
	CU_ASSERT_EQUAL(qr_hlc_wall_ms(&h), 0);
	qr_hlc_set_offset(&h, INT64_MIN);
	CU_ASSERT_EQUAL(qr_hlc_wall_ms(&h), 0);
	/* last was (0, 0) from init, so the first stamp at wall 0 is (0, 1). */
	CU_ASSERT_EQUAL(qr_hlc_now(&h), QR_HLC_MAKE(0, 1));
}

static void test_default_source_is_realtime_ms(void)
{
	struct qr_hlc h;

	qr_hlc_init(&h, NULL, 0);
	uint64_t lo = qr_clock_wall_ms();
	uint64_t w = qr_hlc_wall_ms(&h);
	uint64_t t = qr_hlc_now(&h);
	uint64_t hi = qr_clock_wall_ms();
	CU_ASSERT(w >= lo && w <= hi);
	CU_ASSERT(QR_HLC_MS(t) >= lo && QR_HLC_MS(t) <= hi);
	qr_hlc_set_offset(&h, -1000);
	lo = qr_clock_wall_ms();
	w = qr_hlc_wall_ms(&h);
	hi = qr_clock_wall_ms();
	CU_ASSERT(w + 1000 >= lo && w + 1000 <= hi);
}

/*
 * Property: with random wall jumps (forward, back, big and small), random
 * remotes (some too far ahead, some at logical 0xffff) and raises, every
 * issued or observed stamp is greater than everything before it, a rejected
 * remote changes nothing, and the ms part never exceeds the furthest wall
 * time or accepted remote seen (no carry from logical into ms).
 */
static void test_property_strictly_increasing(void)
{
	struct qr_hlc h;
	struct fake_clock fc;
	struct qr_rng r;
	uint64_t prev = 0, wall_max = 0, accepted_max_ms = 0;
	unsigned bad_order = 0, bad_bound = 0, bad_reject = 0;
	unsigned accepted = 0, rejected = 0;

	qr_rng_seed(&r, 20140101);
	fake_init(&h, &fc, 1000000, 50);
	for (int step = 0; step < 200000; step++) {
		uint64_t dice = qr_rng_below(&r, 100);
		uint64_t t;

		if (dice < 30)
			fc.ms += qr_rng_below(&r, 3);
		else if (dice < 33)
			fc.ms -= qr_rng_below(&r, fc.ms < 2000 ? fc.ms : 2000);
		else if (dice < 34)
			fc.ms += qr_rng_below(&r, 5000);
		if (fc.ms > wall_max)
			wall_max = fc.ms;

		dice = qr_rng_below(&r, 100);
		if (dice < 60) {
			t = qr_hlc_now(&h);
		} else if (dice < 99) {
			uint64_t rms = fc.ms + 120 - qr_rng_below(&r, 200);
			uint64_t rl = qr_rng_below(&r, 4) == 0
					      ? 0xffff
					      : qr_rng_below(&r, 0x10000);
			uint64_t remote = QR_HLC_MAKE(rms, rl);
			uint64_t before = h.last;
			uint64_t pt = fc.ms;
			int rc = qr_hlc_observe(&h, remote, &t);

			bool overflows = remote > before && rms >= pt &&
					 rl > QR_HLC_LOGICAL_MAX -
						      QR_HLC_REMOTE_HEADROOM;
			if (rc == QR_ECLOCK) {
				rejected++;
				if (h.last != before ||
				    (rms <= pt + 50 && !overflows))
					bad_reject++;
				continue;
			}
			accepted++;
			if (rc != 0 || t <= remote || rms > pt + 50)
				bad_reject++;
			if (rms > accepted_max_ms)
				accepted_max_ms = rms;
		} else {
			/* Recovery replaying a record from about now. */
			qr_hlc_raise(&h,
				     QR_HLC_MAKE(QR_HLC_MS(prev),
						 qr_rng_below(&r, 0x10000)));
			t = qr_hlc_now(&h);
		}
		/* overflow waits move the fake wall in pause() */
		if (fc.ms > wall_max)
			wall_max = fc.ms;
		if (t <= prev)
			bad_order++;
		if (QR_HLC_MS(t) > wall_max && QR_HLC_MS(t) > accepted_max_ms)
			bad_bound++;
		prev = t;
	}
	CU_ASSERT_EQUAL(bad_order, 0);
	CU_ASSERT_EQUAL(bad_bound, 0);
	CU_ASSERT_EQUAL(bad_reject, 0);
	CU_ASSERT_EQUAL(h.rejected + h.overflow_refused, rejected);
	/* The run exercised every path. */
	CU_ASSERT(accepted > 1000);
	CU_ASSERT(rejected > 1000);
	CU_ASSERT(h.wall_went_back > 0);
	CU_ASSERT(h.overflow_waits > 0);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"QR_HLC_MS/LOGICAL/MAKE round trip", test_macros_round_trip},
		{"init: max_offset 0 means 500 ms", test_init_defaults},
		{"fixed wall: logical increments by one",
		 test_fixed_wall_increments_logical},
		{"wall advancing resets logical to 0",
		 test_wall_advance_resets_logical},
		{"wall going back: stamps still increase, counted",
		 test_wall_going_back_keeps_increasing},
		{"observe: remote ahead within offset moves us past it",
		 test_observe_remote_ahead_within_offset},
		{"observe: Fig. 5 logical rules", test_observe_logical_rules},
		{"observe: remote beyond max_offset rejected, nothing changes",
		 test_observe_beyond_offset_rejected},
		{"observe: remote exactly at the limit accepted",
		 test_observe_at_limit_accepted},
		{"regression: a remote logical overflow is refused, not waited",
		 test_regression_remote_overflow_refused_not_waited},
		{"logical overflow: 70,000 stamps in one ms never repeat",
		 test_logical_overflow_waits_for_next_ms},
		{"logical overflow without a pause hook",
		 test_overflow_without_pause_hook},
		{"logical overflow with wall behind waits past last",
		 test_overflow_with_wall_behind_waits_past_last},
		{"raise", test_raise},
		{"offset positive and negative, clamped at 0",
		 test_offset_applied},
		{"default source is CLOCK_REALTIME ms",
		 test_default_source_is_realtime_ms},
		{"property: strictly increasing under random wall jumps",
		 test_property_strictly_increasing},
		{NULL, NULL},
	};
	return qr_unit_main("hlc", cases);
}
