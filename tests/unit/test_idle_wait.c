/* SPDX-License-Identifier: MIT */
/* The idle wait's deadline rule (shard/idle_wait.h, qr_idle_sleep_us):
 * an idle shard never sleeps past the core's next timer, its own tick
 * schedule, the WAL's next poll or the cap, and never sleeps when
 * something is due now. */
#include "shard/idle_wait.h"
#include "unit.h"

static void test_sleeps_until_earliest_deadline(void)
{
	/* now 1000; core timer at 3000; tick allowed from 1100; WAL idle
	 * (limit); cap 10 ms: sleep until the core's timer. */
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 3000, 1100, 11000, 10000),
			2000);
	/* The WAL's batch wait ends first. */
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 3000, 1100, 1500, 10000), 500);
	/* Nothing armed: the cap (the heartbeat period bounds it anyway). */
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 11000, 1100, 11000, 10000),
			10000);
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 99999, 1100, 99999, 10000),
			10000);
}

static void test_tick_schedule_delays_core_timer(void)
{
	/* A timer due before the loop may tick again fires at the tick. */
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 1020, 1100, 11000, 10000),
			100);
	/* Per-tick work pending (core due 0): until the next tick only. */
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 0, 1100, 11000, 10000), 100);
}

static void test_due_now_never_sleeps(void)
{
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 0, 900, 11000, 10000), 0);
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 500, 900, 11000, 10000), 0);
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 3000, 900, 0, 10000), 0);
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 3000, 900, 1000, 10000), 0);
	CU_ASSERT_EQUAL(qr_idle_sleep_us(1000, 3000, 900, 11000, 0), 0);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"sleeps until the earliest deadline",
		 test_sleeps_until_earliest_deadline},
		{"tick schedule delays a core timer",
		 test_tick_schedule_delays_core_timer},
		{"due now never sleeps", test_due_now_never_sleeps},
		{NULL, NULL},
	};
	return qr_unit_main("idle_wait", cases);
}
