/* SPDX-License-Identifier: MIT */
/*
 * What a shard loop does when an iteration found no work (shard_pvt.h):
 * spin for the adaptive limit (idle_spin.h), then, with [loop] idle =
 * interrupt where the shard can block, block on its queues, the WAL's
 * eventfd and its doorbell (idle_wait.h), else nap IDLE_SLEEP_US.
 * Invariants: only the idle path makes syscalls (idle_wait.h I4); a
 * blocking wait never passes the core's, the tick's or the WAL's next
 * deadline (I2), and a nap lasts IDLE_SLEEP_US (a timer due sooner waits
 * up to that, which the back-off accepts); with a doorbell, the first
 * wait only arms it and the loop polls once more (I5).
 */
#include <stdio.h>
#include <unistd.h>

#include <rte_pause.h>

#include "quorate/err.h"
#include "shard/idle_wait.h"
#include "shard/shard_pvt.h"

#define IDLE_SPIN_LOOPS	      256  /* empty iterations before rte_pause() */
#define IDLE_SLEEP_US	      50   /* one nap */
#define IDLE_WAIT_MAX_US      10000 /* longest blocking wait (heartbeat) */

/* idle = interrupt: whether this shard can block (idle_wait.h I3: every
 * frame for it must arrive on its own queue), logged either way. */
void qr_shard_idle_setup(struct qr_shard *s)
{
	char why[160] = "";
	int rc = 0;
	struct qr_bell *bell = NULL;
	bool ring_fed = s->cfg.rx_ring || s->cfg.tx_ring ||
			s->cfg.rx_queue == QR_SHARD_NONE;
	/* a bell only where someone rings: rte_rings, memif ports */
	if (s->bell_fd >= 0 && (ring_fed || qr_ports_memif(&s->ports)) &&
	    !(rc = qr_bell_listen(s->cfg.bell_board, s->cfg.node_id,
				  s->cfg.shard, &s->bell, why, sizeof(why))))
		bell = &s->bell;
	int wal_fd = rc ? -1 : qr_wal_event_fd(s->wal);
	if (!rc && wal_fd < -1)
		snprintf(why, sizeof(why), "WAL eventfd: %s", qr_strerror(wal_fd));
	else if (!rc) { /* every queue it polls (I3: all or none) */
		struct qr_idle_queue q[QR_PORTS_MAX];
		unsigned n = qr_ports_idle_queues(&s->ports, &s->cfg, q);
		rc = qr_idle_wait_open(q, n, wal_fd, bell, ring_fed, &s->iw,
				       why, sizeof(why));
	}
	if (!s->iw && bell)
		qr_bell_unlisten(&s->bell);
	s->stats.idle_blocking = s->iw != NULL;
	fprintf(stderr, "quorated: shard %u: idle = interrupt: %s%s\n",
		s->cfg.shard,
		!s->iw ? "not possible, back-off instead: "
		: bell ? "blocking on rx and WAL events, and its doorbell"
		       : "blocking on rx and WAL events",
		why);
}

/* Block until a frame, a WAL completion or the next deadline of the core
 * or the WAL (at most IDLE_WAIT_MAX_US: nothing is due later unseen). */
static void idle_block(struct qr_shard *s)
{
	uint64_t limit = s->now_us + IDLE_WAIT_MAX_US;
	uint64_t us = qr_idle_sleep_us(
		s->now_us, qr_core_next_due_us(s->core, limit),
		s->next_tick_us, qr_wal_next_due_us(s->wal, limit),
		IDLE_WAIT_MAX_US);
	if (us && qr_idle_wait(s->iw, us)) {
		const struct qr_idle_wait_stats *st = qr_idle_wait_stats(s->iw);
		s->stats.idle_waits++;
		s->stats.idle_wal_wakes = st->wal_wakes;
		s->stats.idle_bell_wakes = st->bell_wakes;
	}
}

/* After a loop without work: spin, then pause, then nap or block once
 * the spin limit (idle_spin.h, at most [loop] spin_us) has passed since
 * the last work. In-flight requests do not count as work: their timers
 * are milliseconds away, and spinning would starve the nodes that share a
 * small machine (a 50 us nap costs at most that). Each gap between two
 * pieces of work adapts the limit (S3), so a loop whose next work is
 * usually a WAL flush away stops burning a spin before every sleep. */
void qr_shard_loop_idle(struct qr_shard *s, uint32_t *idle)
{
	if (s->work) {
		if (s->idled) {
			qr_idle_spin_work(&s->spin,
					  s->now_us - s->last_work_us);
			s->stats.spin_short_gaps = s->spin.short_gaps;
			s->stats.spin_long_gaps = s->spin.long_gaps;
			s->idled = false;
		}
		*idle = 0;
		/* the end of this busy iteration: its own processing (rx,
		 * the core, the WAL submit, tx) is no gap (S2) */
		s->last_work_us = qr_shard_tsc_us(s);
		if (s->iw)
			qr_idle_wait_busy(s->iw); /* I5: awake again */
		return;
	}
	if (s->cfg.idle_poll)
		return;
	s->idled = true;
	if (!qr_idle_spin_on(&s->spin, s->now_us - s->last_work_us)) {
		if (s->iw) {
			idle_block(s);
			return;
		}
		s->stats.idle_sleeps++;
		qr_idle_spin_nap(&s->spin,
				 qr_shard_tsc_us(s) - s->last_work_us);
		usleep(IDLE_SLEEP_US);
	} else if (++*idle > IDLE_SPIN_LOOPS) {
		rte_pause();
	}
}

/* Doorbells (doorbell.h): a ringer socket, and every port and shard
 * whose other end may sleep (ports.c). Without a board: none. */
int qr_shard_bells_init(struct qr_shard *s, char *err, size_t err_len)
{
	if (!s->cfg.bell_board)
		return 0;
	int fd = qr_bell_ringer_socket();
	if (fd < 0) {
		snprintf(err, err_len, "doorbell socket: %s", qr_strerror(fd));
		return fd;
	}
	s->bell_fd = fd;
	return qr_ports_bells(&s->ports, &s->cfg, fd, err, err_len);
}

