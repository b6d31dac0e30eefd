/* SPDX-License-Identifier: MIT */
/*
 * Timer wheel: see timer.h. Slot of a timer = due tick & mask, where the due
 * tick is clamped to done_tick + 1 so that a timer never goes into a slot
 * that was already swept for its tick.
 */
#include "core/timer.h"

#include <stdlib.h>

#include "common/compiler.h"
#include "quorate/err.h"

static void slot_init(struct qr_timer *s)
{
	s->next = s;
	s->prev = s;
}

int qr_timer_wheel_init(struct qr_timer_wheel *w, uint32_t slots,
			uint64_t tick_us, uint64_t now_us)
{
	if (!QR_IS_POW2(slots) || tick_us == 0)
		return QR_EINVAL;
	w->slots = calloc(slots, sizeof(*w->slots));
	if (!w->slots)
		return QR_ENOMEM;
	for (uint32_t i = 0; i < slots; i++)
		slot_init(&w->slots[i]);
	w->mask = slots - 1;
	w->tick_us = tick_us;
	w->done_tick = now_us / tick_us;
	w->armed = 0;
	return 0;
}

void qr_timer_wheel_fini(struct qr_timer_wheel *w)
{
	free(w->slots);
	w->slots = NULL;
}

static void unlink_timer(struct qr_timer_wheel *w, struct qr_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
	w->armed--;
}

void qr_timer_arm(struct qr_timer_wheel *w, struct qr_timer *t, uint64_t due_us)
{
	if (qr_timer_armed(t))
		unlink_timer(w, t);
	uint64_t tick = due_us / w->tick_us;
	if (tick <= w->done_tick)
		tick = w->done_tick + 1;
	struct qr_timer *s = &w->slots[tick & w->mask];
	t->due_us = due_us;
	t->next = s;
	t->prev = s->prev;
	s->prev->next = t;
	s->prev = t;
	w->armed++;
}

void qr_timer_cancel(struct qr_timer_wheel *w, struct qr_timer *t)
{
	if (qr_timer_armed(t))
		unlink_timer(w, t);
}

uint32_t qr_timer_expire(struct qr_timer_wheel *w, uint64_t now_us,
			 qr_timer_fn *fn, void *arg)
{
	uint64_t now_tick = now_us / w->tick_us;
	uint32_t fired = 0;
	if (now_tick <= w->done_tick)
		return 0;
	/* A long gap sweeps each slot once, not once per elapsed tick. */
	uint64_t first = w->done_tick + 1;
	if (now_tick - first > w->mask)
		first = now_tick - w->mask;
	for (uint64_t tick = first; tick <= now_tick; tick++) {
		/* Ticks before `tick` are done: re-arms land after it. */
		w->done_tick = tick;
		struct qr_timer *s = &w->slots[tick & w->mask];
		/* Detach the list: fn may arm timers into this very slot. */
		struct qr_timer list;
		if (s->next == s)
			continue;
		list.next = s->next;
		list.prev = s->prev;
		list.next->prev = &list;
		list.prev->next = &list;
		slot_init(s);
		while (list.next != &list) {
			struct qr_timer *t = list.next;
			t->prev->next = t->next;
			t->next->prev = t->prev;
			if (t->due_us / w->tick_us <= now_tick) {
				t->next = t->prev = NULL;
				w->armed--;
				fired++;
				fn(arg, t);
			} else {
				/* Beyond the wheel's span: back in its slot. */
				t->next = s;
				t->prev = s->prev;
				s->prev->next = t;
				s->prev = t;
			}
		}
	}
	w->done_tick = now_tick;
	return fired;
}

uint64_t qr_timer_next_due(const struct qr_timer_wheel *w, uint64_t limit_us)
{
	uint64_t best = limit_us;
	if (!w->armed)
		return best;
	/* Slot done_tick + 1 always: it also holds the timers armed for
	 * ticks already expired (clamped, due in the past). */
	uint64_t first = w->done_tick + 1;
	uint64_t last = QR_MAX(limit_us / w->tick_us, first);
	if (last > w->done_tick + w->mask + 1ull)
		last = w->done_tick + w->mask + 1ull;
	/* A slot also holds timers of later turns round the wheel: take the
	 * minimum of each list; stop once the ticks passed are beyond it. */
	for (uint64_t tick = first; tick <= last; tick++) {
		if (tick > first && best / w->tick_us < tick)
			break;
		const struct qr_timer *s = &w->slots[tick & w->mask];
		for (const struct qr_timer *t = s->next; t != s; t = t->next)
			if (t->due_us < best)
				best = t->due_us;
	}
	return best;
}
