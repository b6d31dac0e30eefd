/* SPDX-License-Identifier: MIT */
/*
 * Hashed timer wheel (Varghese & Lauck 1987, scheme 4): O(1) arm and cancel,
 * expiry cost proportional to elapsed ticks plus timers due. Timers are
 * intrusive (embedded in their owner), so arming never allocates.
 *
 * Invariants: a timer is on at most one slot list; a timer armed for a tick
 * already being expired lands in the next tick (so expiry never loops on a
 * callback that re-arms "now"); timers further out than the wheel's span stay
 * in their slot and are skipped until their turn comes round.
 */
#ifndef QR_CORE_TIMER_H
#define QR_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qr_timer {
	struct qr_timer *next, *prev; /* NULL when not armed */
	uint64_t due_us;
};

struct qr_timer_wheel {
	uint64_t tick_us;	/* granularity */
	uint64_t done_tick;	/* every tick <= this has been expired */
	uint32_t mask;		/* slots - 1 */
	uint32_t armed;		/* timers on the wheel */
	struct qr_timer *slots; /* sentinels, owned */
};

typedef void qr_timer_fn(void *arg, struct qr_timer *t);

/* slots: a power of two. 0, QR_EINVAL or QR_ENOMEM. */
int qr_timer_wheel_init(struct qr_timer_wheel *w, uint32_t slots,
			uint64_t tick_us, uint64_t now_us);
void qr_timer_wheel_fini(struct qr_timer_wheel *w);

static inline bool qr_timer_armed(const struct qr_timer *t)
{
	return t->next != NULL;
}

/* (Re-)arm t to fire at or after due_us. */
void qr_timer_arm(struct qr_timer_wheel *w, struct qr_timer *t,
		  uint64_t due_us);
void qr_timer_cancel(struct qr_timer_wheel *w, struct qr_timer *t);
/* Fire every timer due at or before now_us (unarmed before fn is called;
 * fn may re-arm it or arm others). Returns the number fired. */
uint32_t qr_timer_expire(struct qr_timer_wheel *w, uint64_t now_us,
			 qr_timer_fn *fn, void *arg);
/* The earliest due_us of an armed timer, or limit_us if none is due
 * before it (an idle loop's sleep bound). Looks at the slots of the ticks
 * up to limit_us only (at most one sweep of the wheel): cost proportional
 * to that span, paid once per sleep, never per packet. */
uint64_t qr_timer_next_due(const struct qr_timer_wheel *w, uint64_t limit_us);

#endif
