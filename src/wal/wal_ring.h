/* SPDX-License-Identifier: MIT */
/*
 * The WAL's io_uring, underneath the log writer (wal.c) and the snapshot
 * writer (wal_snapshot.c): it hands out sqes, submits them, reaps
 * completions and dispatches each one by the kind in its tag to the handler
 * that kind was registered with. Not a public header.
 *
 * Dependencies point down only (tests/meta/check-layout checks it):
 *
 *   wal.c ---------> wal_snapshot.c      (init, poll, abandon: one way)
 *     |                   |
 *     +-----> wal_ring.c <+              (sqes, submit, reap + dispatch)
 *
 * A completion reaches its owner through the handler it registered, so
 * neither writer calls the other back, and the snapshot never calls wal.c.
 *
 * Invariants (R1.. are cited at the asserts in wal_ring.c):
 *  R1. sq_pending counts the sqes handed out and not yet taken by the
 *      kernel; it never exceeds the SQ ring's size.
 *  R2. every tag names a kind with a handler: checked when a tag is made
 *      (qw_ring_tag) and when its completion is dispatched.
 *  R3. a refused submit or wait sets the owner's sticky error word (the
 *      first error wins); the ring never retries an op itself.
 *  R4. after every reap the after-reap hook runs once (the log's in-order
 *      release of acknowledgements), whoever called the reap.
 */
#ifndef QR_WAL_RING_H
#define QR_WAL_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/compiler.h"

#define QR_WAL_RING_KINDS 16 /* tag kinds 1..15; 0 is never registered */

/* A completion: the kind and index from its tag, and the op's result. */
typedef void (*qw_ring_fn)(void *ctx, uint32_t kind, uint32_t idx, int res);

struct qw_ring_handler {
	qw_ring_fn fn; /* NULL: kind not registered */
	void *ctx;
};

struct qw_ring {
	struct io_uring uring;
	bool ready;	     /* queue initialised (exit needed) */
	int *err;	     /* the owner's sticky error word (R3) */
	uint32_t sq_pending; /* sqes handed out, not yet submitted (R1) */
	uint32_t sq_entries; /* size of the SQ ring */
	struct qw_ring_handler handler[QR_WAL_RING_KINDS];
	void (*after_reap)(void *ctx); /* R4; may be NULL */
	void *after_ctx;
};

/*
 * Set up the ring with at least entries sqes and register nbufs fixed
 * buffers (iov). err: where refused submits are reported (R3). 0, or
 * QR_ENOMEM, QR_EIO; on error nothing is left to undo.
 */
int qw_ring_init(struct qw_ring *r, unsigned entries, const struct iovec *iov,
		 unsigned nbufs, int *err);
/* Tear down (no wait: the caller drained what it needed). */
void qw_ring_exit(struct qw_ring *r);

/* Completions of this kind go to fn(ctx, kind, idx, res). */
void qw_ring_on(struct qw_ring *r, uint32_t kind, qw_ring_fn fn, void *ctx);
/* fn(ctx) runs after every reap (R4). */
void qw_ring_on_reaped(struct qw_ring *r, void (*fn)(void *ctx), void *ctx);

/* An sqe (flushing the SQ once if it is full), or NULL: back-pressure. */
struct io_uring_sqe *qw_ring_sqe(struct qw_ring *r);
/* Submit what is pending (no wait). */
void qw_ring_flush(struct qw_ring *r);
/* Dispatch every completion available (wait_one: block for at least one
 * first, after a flush), then run the after-reap hook. */
void qw_ring_reap(struct qw_ring *r, bool wait_one);

static inline unsigned qw_ring_space(struct qw_ring *r)
{
	return io_uring_sq_space_left(&r->uring);
}

/* The user_data of an op: kind << 32 | idx (R2: kind is registered). */
static inline uint64_t qw_ring_tag(const struct qw_ring *r, uint32_t kind,
				   uint32_t idx)
{
	QR_ASSERT(kind < QR_WAL_RING_KINDS && r->handler[kind].fn); /* R2 */
	return (uint64_t)kind << 32 | idx;
}

#endif
