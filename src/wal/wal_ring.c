/* SPDX-License-Identifier: MIT */
/*
 * The WAL's io_uring and its completion dispatch (contract and invariants
 * R1..R4: wal_ring.h). It knows nothing of batches, segments or snapshots:
 * the log writer (wal.c) and the snapshot writer (wal_snapshot.c) register
 * a handler per tag kind and get their own completions back.
 *
 * Cost: one indirect call per completion on top of the peek; a reap with
 * nothing to do is a peek at the CQ ring and the after-reap hook.
 */
#include "wal/wal_ring.h"

#include <errno.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/err.h"

#define REAP_BURST 64 /* completions peeked at once */

static void ring_fail(struct qw_ring *r)
{
	if (!*r->err) /* R3: the first error wins */
		*r->err = QR_EIO;
}

int qw_ring_init(struct qw_ring *r, unsigned entries, const struct iovec *iov,
		 unsigned nbufs, int *err)
{
	QR_ASSERT(err);
	memset(r, 0, sizeof(*r));
	r->err = err;
	int rc = io_uring_queue_init(entries, &r->uring, 0);
	if (rc < 0)
		return rc == -ENOMEM ? QR_ENOMEM : QR_EIO;
	rc = io_uring_register_buffers(&r->uring, iov, nbufs);
	if (rc < 0) {
		io_uring_queue_exit(&r->uring);
		return rc == -ENOMEM ? QR_ENOMEM : QR_EIO;
	}
	r->sq_entries = r->uring.sq.ring_entries;
	r->ready = true;
	return 0;
}

void qw_ring_exit(struct qw_ring *r)
{
	if (r->ready)
		io_uring_queue_exit(&r->uring);
	r->ready = false;
}

void qw_ring_on(struct qw_ring *r, uint32_t kind, qw_ring_fn fn, void *ctx)
{
	QR_ASSERT(kind > 0 && kind < QR_WAL_RING_KINDS && fn);
	QR_ASSERT(!r->handler[kind].fn); /* one owner per kind */
	r->handler[kind] = (struct qw_ring_handler){fn, ctx};
}

void qw_ring_on_reaped(struct qw_ring *r, void (*fn)(void *ctx), void *ctx)
{
	r->after_reap = fn;
	r->after_ctx = ctx;
}

void qw_ring_flush(struct qw_ring *r)
{
	if (!r->sq_pending)
		return;
	QR_ASSERT(r->sq_pending <= r->sq_entries); /* R1 */
	int rc = io_uring_submit(&r->uring);
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
		ring_fail(r); /* R3 */
	else if (rc > 0)
		r->sq_pending -= QR_MIN((uint32_t)rc, r->sq_pending);
}

struct io_uring_sqe *qw_ring_sqe(struct qw_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
	if (!sqe) {
		qw_ring_flush(r);
		sqe = io_uring_get_sqe(&r->uring);
	}
	if (sqe)
		r->sq_pending++; /* R1 */
	return sqe;
}

static void dispatch(struct qw_ring *r, uint64_t tag, int res)
{
	uint32_t kind = (uint32_t)(tag >> 32);
	QR_ASSERT(kind < QR_WAL_RING_KINDS && r->handler[kind].fn); /* R2 */
	r->handler[kind].fn(r->handler[kind].ctx, kind, (uint32_t)tag, res);
}

void qw_ring_reap(struct qw_ring *r, bool wait_one)
{
	struct io_uring_cqe *cqes[REAP_BURST];

	if (wait_one) {
		struct io_uring_cqe *cqe;
		qw_ring_flush(r);
		int rc = io_uring_wait_cqe(&r->uring, &cqe);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN)
			ring_fail(r); /* R3 */
	}
	for (;;) {
		unsigned n =
			io_uring_peek_batch_cqe(&r->uring, cqes, REAP_BURST);
		if (!n)
			break;
		for (unsigned i = 0; i < n; i++)
			dispatch(r, io_uring_cqe_get_data64(cqes[i]),
				 cqes[i]->res);
		io_uring_cq_advance(&r->uring, n);
	}
	if (r->after_reap)
		r->after_reap(r->after_ctx); /* R4 */
}
