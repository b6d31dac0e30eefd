/* SPDX-License-Identifier: MIT */
/* The adaptive spin after work (shard/idle_spin.h S1-S5): short gaps grow
 * the limit up to [loop] spin_us, long gaps shrink it to zero, a limit at
 * zero still learns from gaps it slept through (blocked, or napped: S4),
 * and spin_us 0 never spins. */
#include "shard/idle_spin.h"
#include "unit.h"

static void test_starts_at_max_and_spins_below_it(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 50);
	CU_ASSERT_EQUAL(sp.limit_us, 50);
	CU_ASSERT_TRUE(qr_idle_spin_on(&sp, 0));
	CU_ASSERT_TRUE(qr_idle_spin_on(&sp, 49));
	CU_ASSERT_FALSE(qr_idle_spin_on(&sp, 50));
	CU_ASSERT_FALSE(qr_idle_spin_on(&sp, 1000));
}

static void test_long_gaps_shrink_to_zero(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 50);
	/* WAL flushes of ~200 us: every spin was wasted. */
	static const uint32_t want[] = {25, 12, 6, 3, 1, 0, 0};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		qr_idle_spin_work(&sp, 200);
		CU_ASSERT_EQUAL(sp.limit_us, want[i]);
	}
	CU_ASSERT_FALSE(qr_idle_spin_on(&sp, 0)); /* block at once */
	CU_ASSERT_EQUAL(sp.long_gaps, 7);
	CU_ASSERT_EQUAL(sp.short_gaps, 0);
	/* A gap just past the maximal spin counts as long (S3). */
	qr_idle_spin_init(&sp, 50);
	qr_idle_spin_work(&sp, 51);
	CU_ASSERT_EQUAL(sp.limit_us, 25);
}

static void test_short_gaps_grow_back_from_zero(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 50);
	for (int i = 0; i < 10; i++)
		qr_idle_spin_work(&sp, 500);
	CU_ASSERT_EQUAL(sp.limit_us, 0);
	/* Gaps it slept through, each short enough for the maximal spin,
	 * bring the spin back: 4, 8, 16, 32, then capped at 50. */
	static const uint32_t want[] = {4, 8, 16, 32, 50, 50};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		qr_idle_spin_work(&sp, 30);
		CU_ASSERT_EQUAL(sp.limit_us, want[i]);
	}
	CU_ASSERT_EQUAL(sp.short_gaps, 6);
	/* A gap equal to the maximum is short. */
	qr_idle_spin_work(&sp, 50);
	CU_ASSERT_EQUAL(sp.limit_us, 50);
}

static void test_mixed_gaps_stay_within_bounds(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 50);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		qr_idle_spin_work(&sp, x % 400);
		CU_ASSERT_TRUE_FATAL(sp.limit_us <= 50);
	}
	CU_ASSERT_EQUAL(sp.short_gaps + sp.long_gaps, 100000);
	/* Mostly long gaps (7 in 8 here): the limit ends low. */
	qr_idle_spin_init(&sp, 50);
	for (int i = 0; i < 800; i++)
		qr_idle_spin_work(&sp, i % 8 ? 300 : 10);
	CU_ASSERT_TRUE(sp.limit_us <= QR_IDLE_SPIN_STEP_US);
}

/* A back-off loop meeting work `gap` us after its last work: it spins
 * to its limit, then naps NAP_US at a time (S4: only the naps' starts are
 * known to it). */
#define NAP_US 60
static void backoff_gap(struct qr_idle_spin *sp, uint64_t gap)
{
	uint64_t t = sp->limit_us;
	if (gap < t) { /* found while spinning: measured */
		qr_idle_spin_work(sp, gap);
		return;
	}
	for (;;) {
		qr_idle_spin_nap(sp, t);
		t += NAP_US;
		if (t >= gap)
			break;
	}
	qr_idle_spin_work(sp, t); /* found at the poll after the nap */
}

/* idle = backoff (S4): a nap does not end when work arrives, so a gap that
 * ended after naps counts from the middle of the last one (from its start
 * at limit 0). */
static void test_naps_count_from_the_last_nap(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 50);
	for (int i = 0; i < 8; i++) /* idle heartbeats, 5 ms apart */
		backoff_gap(&sp, 5000);
	CU_ASSERT_EQUAL(sp.limit_us, 0);
	CU_ASSERT_EQUAL(sp.long_gaps, 8);
	/* Dense work again (10 us gaps): the first nap's start says "maybe
	 * short" at limit 0, and the spin grows until it catches them. */
	for (int i = 0; i < 20; i++)
		backoff_gap(&sp, 10);
	CU_ASSERT_EQUAL(sp.limit_us, 50);
	/* Gaps of 80 us, which no 50 us spin covers: the spins were wasted
	 * and stop (a gap counted from the nap's start would have kept the
	 * limit at 50: every one found after a single nap begun at <= 50). */
	for (int i = 0; i < 20; i++)
		backoff_gap(&sp, 80);
	CU_ASSERT_EQUAL(sp.limit_us, 0);
	/* A nap is forgotten once work came: the next gap, blocked or spun
	 * through, is measured as it is. */
	qr_idle_spin_nap(&sp, 0);
	qr_idle_spin_work(&sp, 200);
	CU_ASSERT_EQUAL(sp.limit_us, QR_IDLE_SPIN_STEP_US); /* limit 0: start */
	qr_idle_spin_work(&sp, 200);
	CU_ASSERT_EQUAL(sp.limit_us, QR_IDLE_SPIN_STEP_US / 2);
}

static void test_zero_max_never_spins(void)
{
	struct qr_idle_spin sp;
	qr_idle_spin_init(&sp, 0);
	CU_ASSERT_FALSE(qr_idle_spin_on(&sp, 0));
	qr_idle_spin_work(&sp, 0);
	CU_ASSERT_EQUAL(sp.limit_us, 0);
	CU_ASSERT_FALSE(qr_idle_spin_on(&sp, 0));
	qr_idle_spin_work(&sp, 7);
	CU_ASSERT_EQUAL(sp.limit_us, 0);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"starts at the maximum, spins below it",
		 test_starts_at_max_and_spins_below_it},
		{"long gaps shrink the spin to zero",
		 test_long_gaps_shrink_to_zero},
		{"short gaps grow it back from zero",
		 test_short_gaps_grow_back_from_zero},
		{"mixed gaps stay within bounds",
		 test_mixed_gaps_stay_within_bounds},
		{"naps: a gap counts from the last nap",
		 test_naps_count_from_the_last_nap},
		{"spin_us 0 never spins", test_zero_max_never_spins},
		{NULL, NULL},
	};
	return qr_unit_main("idle_spin", cases);
}
