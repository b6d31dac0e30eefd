/* SPDX-License-Identifier: MIT */
/*
 * `[loop] idle = interrupt`: an idle shard blocks on the events its work
 * arrives by instead of napping every 50 us (issue 11 item 3).
 *
 * One epoll set per shard holds:
 *  - for each (port, queue) it polls: the queue's rx interrupt event fd
 *    (ethdev: rte_eth_dev_rx_intr_ctl_q_get_fd, enabled around the wait
 *    with rte_eth_dev_rx_intr_enable / _disable), or, for net_af_packet
 *    (DPDK 22.11 has no rx interrupt ops for it), the queue's own
 *    PACKET_MMAP socket: level-triggered POLLIN while the ring holds a
 *    frame the PMD has not taken;
 *  - the WAL's completion eventfd (qr_wal_event_fd), if it has a ring;
 *  - for net_memif queues, which have neither, the shard's doorbell
 *    (shard/doorbell.h): its peers ring it after putting frames on a ring
 *    it polls, if it said it is asleep.
 *
 * Invariants:
 *  I1. Nothing is lost between the loop's last poll and the sleep: the
 *      af_packet socket and the eventfd are level-triggered (a frame or a
 *      completion that came before epoll_wait makes it return at once);
 *      an ethdev queue is re-checked after its interrupt is enabled
 *      (rte_eth_rx_queue_count), and where the PMD cannot count, its
 *      sleep is capped at IDLE_WAIT_ETHDEV_CAP_US (an interrupt raced
 *      past costs that much latency, never a lost frame).
 *  I2. The caller bounds every sleep by its next deadline (core timers,
 *      WAL batch/sync periods): qr_idle_wait never sleeps past timeout_us.
 *  I3. qr_idle_wait_open either takes every queue given or none: a queue
 *      it cannot wait on makes it fail with the reason in `why`, and the
 *      caller falls back to the back-off (logged, never silent). Frames
 *      that reach the shard some other way (another shard's rte_ring)
 *      cannot wake it: the caller must not use it then. A memif queue is
 *      taken only with a doorbell, whose ringers are every process that
 *      sends on the memif's other end.
 *  I5. With a doorbell, a wait is two calls (doorbell.h B1): the first
 *      only arms it and returns 0 ("poll once more"); the caller polls
 *      every queue again and calls again only if that found nothing,
 *      or qr_idle_wait_busy if it found work.
 *  I4. Only the idle path makes syscalls: epoll_wait, the eventfd read
 *      after it signalled, and for ethdev queues the enable/disable.
 */
#ifndef QR_SHARD_IDLE_WAIT_H
#define QR_SHARD_IDLE_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_IDLE_WAIT_QUEUES_MAX 16
#define IDLE_WAIT_ETHDEV_CAP_US 1000

struct qr_idle_queue {
	uint16_t port, queue;
};

struct qr_idle_wait_stats {
	uint64_t waits;	   /* epoll waits entered */
	uint64_t woken;	   /* ... that returned with an event */
	uint64_t raced;	   /* ethdev re-check found frames: no sleep */
	uint64_t wal_wakes; /* eventfd reads after a WAL completion */
	uint64_t bell_wakes; /* waits a doorbell ended */
	uint64_t armed;	     /* doorbell armed before a last poll (I5) */
	uint64_t socket_errors; /* af_packet socket errors taken (its
				 * interface went down or away) */
};

struct qr_idle_wait;
struct qr_bell;

/*
 * Set up waiting on every queue in q[0..n), on wal_fd (-1: none) and on
 * bell (NULL: none; listening, owned by the caller, outlives the wait).
 * ring_fed: frames also reach the caller over rte_rings (software
 * steering), which only a doorbell can wake it for (I3).
 * 0 and *out, or a negative enum qr_err with a one-line reason in why
 * (the PMD has no rx interrupts and there is no doorbell, several
 * af_packet sockets on the device, ...). Call after the ports started.
 */
int qr_idle_wait_open(const struct qr_idle_queue *q, unsigned n, int wal_fd,
		      struct qr_bell *bell, bool ring_fed,
		      struct qr_idle_wait **out, char *why, size_t why_len);
void qr_idle_wait_close(struct qr_idle_wait *w);

/*
 * Block until a frame may be waiting on one of the queues, the WAL
 * completed something, or timeout_us passed (I2). Returns whether it
 * slept (false: a queue had frames on the re-check, I1, or the doorbell
 * was just armed and the caller must poll once more, I5).
 */
int qr_idle_wait(struct qr_idle_wait *w, uint64_t timeout_us);

/* The caller found work after an arming call (I5): awake again. */
void qr_idle_wait_busy(struct qr_idle_wait *w);

const struct qr_idle_wait_stats *qr_idle_wait_stats(
	const struct qr_idle_wait *w);

/*
 * The deadline rule, pure (unit-tested): how long an idle loop may sleep
 * at now_us, given when the core must tick next (core_due_us, 0: every
 * tick), when the loop's tick schedule allows it (next_tick_us), when the
 * WAL must be polled (wal_due_us, 0: at once) and the longest sleep
 * allowed (max_us). 0: do not sleep.
 */
static inline uint64_t qr_idle_sleep_us(uint64_t now_us, uint64_t core_due_us,
					uint64_t next_tick_us,
					uint64_t wal_due_us, uint64_t max_us)
{
	/* The loop ticks the core only once next_tick_us has come. */
	uint64_t tick_at = core_due_us > next_tick_us ? core_due_us
						      : next_tick_us;
	uint64_t due = now_us + max_us;
	if (tick_at < due)
		due = tick_at;
	if (wal_due_us < due)
		due = wal_due_us;
	return due > now_us ? due - now_us : 0;
}

#endif
