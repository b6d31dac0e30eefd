/* SPDX-License-Identifier: MIT */
/* Timer wheel: firing order and time, cancel, re-arm from a callback,
 * timers beyond the wheel's span, long gaps. */
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "core/timer.h"
#include "quorate/err.h"
#include "unit.h"

struct rec {
	struct qr_timer t;
	int id;
	uint64_t fired_at;
	int fires;
};

static uint64_t g_now;
static int g_order[64], g_nfired;

static void on_fire(void *arg, struct qr_timer *t)
{
	(void)arg;
	struct rec *r = (struct rec *)t;
	r->fired_at = g_now;
	r->fires++;
	g_order[g_nfired++ % 64] = r->id;
}

static void test_init_rejects_bad_sizes(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 100, 10, 0), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 64, 0, 0), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 64, 10, 0), 0);
	qr_timer_wheel_fini(&w);
}

static void test_fires_when_due_not_before(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 64, 10, 1000), 0);
	struct rec a = {.id = 1}, b = {.id = 2};
	qr_timer_arm(&w, &a.t, 1055);
	qr_timer_arm(&w, &b.t, 1020);
	CU_ASSERT_EQUAL(w.armed, 2);
	g_nfired = 0;
	g_now = 1015;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 0);
	g_now = 1020;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 1);
	CU_ASSERT_EQUAL(b.fires, 1);
	CU_ASSERT_FALSE(qr_timer_armed(&b.t));
	g_now = 1049;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 0);
	g_now = 1059;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 1);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT(a.fired_at >= 1055);
	CU_ASSERT_EQUAL(w.armed, 0);
	qr_timer_wheel_fini(&w);
}

static void test_cancel_and_rearm(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 64, 10, 0), 0);
	struct rec a = {.id = 1};
	qr_timer_arm(&w, &a.t, 100);
	qr_timer_cancel(&w, &a.t);
	CU_ASSERT_FALSE(qr_timer_armed(&a.t));
	qr_timer_cancel(&w, &a.t); /* cancel twice is harmless */
	g_now = 200;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 0);
	qr_timer_arm(&w, &a.t, 300);
	qr_timer_arm(&w, &a.t, 250); /* re-arm moves it */
	CU_ASSERT_EQUAL(w.armed, 1);
	g_now = 260;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 1);
	CU_ASSERT_EQUAL(a.fired_at, 260);
	qr_timer_wheel_fini(&w);
}

static struct qr_timer_wheel *g_w;

static void rearm_now(void *arg, struct qr_timer *t)
{
	(void)arg;
	struct rec *r = (struct rec *)t;
	r->fires++;
	/* Re-arming for "now" must not loop inside this expire call. */
	if (r->fires < 5)
		qr_timer_arm(g_w, t, g_now);
}

static void test_rearm_in_callback_goes_to_next_tick(void)
{
	struct qr_timer_wheel w;
	g_w = &w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 8, 10, 0), 0);
	struct rec a = {.id = 1};
	qr_timer_arm(&w, &a.t, 10);
	g_now = 10;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, rearm_now, NULL), 1);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT(qr_timer_armed(&a.t));
	g_now = 20;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, rearm_now, NULL), 1);
	CU_ASSERT_EQUAL(a.fires, 2);
	qr_timer_cancel(&w, &a.t);
	qr_timer_wheel_fini(&w);
}

static void test_beyond_span_and_long_gap(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 8, 10, 0), 0); /* span 80 */
	struct rec far = {.id = 1}, near = {.id = 2};
	qr_timer_arm(&w, &far.t, 1000); /* wraps the wheel many times */
	qr_timer_arm(&w, &near.t, 30);
	for (g_now = 0; g_now < 1000; g_now += 10) {
		qr_timer_expire(&w, g_now, on_fire, NULL);
		CU_ASSERT_EQUAL(far.fires, 0);
	}
	CU_ASSERT_EQUAL(near.fires, 1);
	g_now = 1000;
	qr_timer_expire(&w, g_now, on_fire, NULL);
	CU_ASSERT_EQUAL(far.fires, 1);
	/* A long jump fires everything due exactly once. */
	struct rec r[20];
	for (int i = 0; i < 20; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		qr_timer_arm(&w, &r[i].t, 1010 + (uint64_t)i * 37);
	}
	g_now = 100000;
	CU_ASSERT_EQUAL(qr_timer_expire(&w, g_now, on_fire, NULL), 20);
	for (int i = 0; i < 20; i++)
		CU_ASSERT_EQUAL(r[i].fires, 1);
	CU_ASSERT_EQUAL(w.armed, 0);
	qr_timer_wheel_fini(&w);
}

static void test_random_against_model(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 16, 5, 0), 0);
	struct rec r[64];
	memset(r, 0, sizeof(r));
	struct qr_rng rng;
	qr_rng_seed(&rng, 99);
	bool armed[64] = {0};
	uint64_t due[64] = {0};
	g_now = 0;
	for (int step = 0; step < 20000; step++) {
		int i = (int)qr_rng_below(&rng, 64);
		uint64_t op = qr_rng_below(&rng, 10);
		if (op < 5) {
			uint64_t at = g_now + qr_rng_below(&rng, 400);
			/* A tick already expired is never used again: the
			 * timer then fires at the next one (timer.h). */
			due[i] =
				at / 5 > w.done_tick ? at / 5 : w.done_tick + 1;
			qr_timer_arm(&w, &r[i].t, at);
			armed[i] = true;
		} else if (op < 6) {
			qr_timer_cancel(&w, &r[i].t);
			armed[i] = false;
		} else {
			g_now += qr_rng_below(&rng, 12);
			int before[64];
			for (int k = 0; k < 64; k++)
				before[k] = r[k].fires;
			qr_timer_expire(&w, g_now, on_fire, NULL);
			for (int k = 0; k < 64; k++) {
				/* due by the tick: must have fired now */
				bool must = armed[k] && due[k] <= g_now / 5;
				int fired = r[k].fires - before[k];
				CU_ASSERT_EQUAL(fired, must ? 1 : 0);
				if (fired)
					armed[k] = false;
			}
		}
		int n = 0;
		for (int k = 0; k < 64; k++)
			n += armed[k];
		CU_ASSERT_EQUAL((int)w.armed, n);
	}
	qr_timer_wheel_fini(&w);
}

/* qr_timer_next_due: the earliest due_us of any armed timer below the
 * limit (the idle loop's sleep bound), against a model, with timers
 * beyond the span and clamped ones in the past. */
static void test_next_due_against_model(void)
{
	struct qr_timer_wheel w;
	CU_ASSERT_EQUAL(qr_timer_wheel_init(&w, 16, 5, 0), 0);
	struct rec r[32];
	memset(r, 0, sizeof(r));
	struct qr_rng rng;
	qr_rng_seed(&rng, 7);
	g_now = 0;
	CU_ASSERT_EQUAL(qr_timer_next_due(&w, 1234), 1234);
	for (int step = 0; step < 20000; step++) {
		int i = (int)qr_rng_below(&rng, 32);
		uint64_t op = qr_rng_below(&rng, 10);
		if (op < 4)
			qr_timer_arm(&w, &r[i].t,
				     g_now + qr_rng_below(&rng, 300));
		else if (op < 5)
			qr_timer_cancel(&w, &r[i].t);
		else if (op < 7)
			qr_timer_expire(&w, g_now += qr_rng_below(&rng, 20),
					on_fire, NULL);
		uint64_t limit = g_now + qr_rng_below(&rng, 400);
		uint64_t want = limit;
		for (int k = 0; k < 32; k++)
			if (qr_timer_armed(&r[k].t) && r[k].t.due_us < want)
				want = r[k].t.due_us;
		CU_ASSERT_EQUAL(qr_timer_next_due(&w, limit), want);
	}
	qr_timer_wheel_fini(&w);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"init rejects bad sizes", test_init_rejects_bad_sizes},
		{"fires when due, not before", test_fires_when_due_not_before},
		{"cancel and re-arm", test_cancel_and_rearm},
		{"re-arm in callback goes to next tick",
		 test_rearm_in_callback_goes_to_next_tick},
		{"beyond span and long gap", test_beyond_span_and_long_gap},
		{"random against a model", test_random_against_model},
		{"next due against a model", test_next_due_against_model},
		{NULL, NULL},
	};
	return qr_unit_main("timer", cases);
}
