/* SPDX-License-Identifier: MIT */
/*
 * The next segment, prepared ahead of need entirely through io_uring (W3 of
 * wal.c): openat (or, for a recycled one, renameat + openat), fallocate,
 * zero writes (cfg.prezero), fsync of the file and of the directory. A
 * preparation that fails (ENOSPC on a full disk, an I/O error) is not
 * fatal: no log data is in the spare. It is abandoned and retried every
 * QR_WAL_SPARE_RETRY_US; qr_wal_health() reports it meanwhile, so the node
 * stops taking writes instead of failing them silently (issue 12 item 5).
 *
 * Invariants:
 *  P1. At most one spare exists or is being prepared (w->spare_seg).
 *  P2. A failed spare is released (closed, unlinked, slot unused) only
 *      once no op on it is in flight (pending == 0).
 *  P3. spare_err is cleared only by a spare that became READY.
 * Called from wal.c (roll, the ring's prep handlers, poll); calls only the
 * ring (wal_ring.c), never back into wal.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "common/compiler.h"
#include "quorate/err.h"
#include "wal/wal_pvt.h"

/*
 * Preparing the spare failed (res: -errno), e.g. ENOSPC at fallocate on a
 * full disk. Not sticky: no log data was in it. Once nothing is in flight
 * on it, the file is closed and unlinked (a blocking unlink: an error path
 * that runs once per retry) and the next try waits QR_WAL_SPARE_RETRY_US.
 * Appends still go into the current segment; past its end they wait for a
 * spare (segment_waits), so nothing is acknowledged that is not on disk.
 * qr_wal_health() reports it, and the shard loop stops taking writes.
 */
static void spare_failed(struct qr_wal *w, int i, int res)
{
	struct seg_slot *s = &w->segs[i];
	if (!s->prep_errno)
		s->prep_errno = res < 0 ? -res : EIO;
	if (s->pending)
		return; /* the rest of its ops complete first */
	if (s->fd >= 0)
		close(s->fd);
	if (s->state != SEG_OPENING)
		(void)unlink(s->path);
	s->fd = -1;
	s->state = SEG_UNUSED;
	if (w->spare_seg == i)
		w->spare_seg = -1;
	w->spare_err = qw_err_of(-s->prep_errno);
	w->spare_errno = s->prep_errno;
	w->spare_retry_us = w->now_us + QR_WAL_SPARE_RETRY_US;
	w->stats.spare_failures++;
	s->prep_errno = 0;
}

/* out: QR_PATH_BYTES_MAX bytes. It fits: qr_wal_open checked the dir. */
void qw_seg_path(const struct qr_wal *w, uint64_t seq, char *out)
{
	int k = snprintf(out, QR_PATH_BYTES_MAX, "%s/wal-%04u-%016" PRIx64
			 ".seg", w->cfg.dir, w->cfg.shard, seq);
	QR_ASSERT(k > 0 && k < QR_PATH_BYTES_MAX); /* limits.h L4 */
}

int qw_open_flags(const struct qr_wal *w)
{
	return O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	       (w->direct ? O_DIRECT : 0);
}

/* Start preparing the next spare segment, if none is there. */
void qw_spare_start(struct qr_wal *w)
{
	if (w->spare_seg >= 0 || w->err ||
	    (w->spare_err && w->now_us < w->spare_retry_us))
		return;
	for (int i = 0; i < QR_WAL_SEGS_OPEN; i++) {
		struct seg_slot *s = &w->segs[i];
		if (s->state != SEG_UNUSED)
			continue;
		if (w->recycle_count && qw_ring_space(&w->ring) < 2)
			qw_ring_flush(&w->ring);
		if (w->recycle_count && qw_ring_space(&w->ring) < 2)
			return;
		struct io_uring_sqe *sqe = qw_ring_sqe(&w->ring);
		if (!sqe)
			return;
		s->seq = w->next_seq++;
		s->fd = -1;
		s->write_off = 0;
		s->refs = 0;
		s->pending = 0;
		s->prep_errno = 0;
		s->dirty = false;
		s->recycled = false;
		qw_seg_path(w, s->seq, s->path);
		if (w->recycle_count) {
			/* Reuse a covered segment: rename it, then open it
			 * (linked). Its blocks are written already, so an
			 * overwrite + fdatasync needs no journal commit and
			 * no zeroing (docs/wal.md, "Recycling"). */
			struct io_uring_sqe *open_sqe = qw_ring_sqe(&w->ring);
			QR_ASSERT(open_sqe); /* room for two checked above */
			uint64_t old = w->recycle[0];
			memmove(w->recycle, w->recycle + 1,
				--w->recycle_count * sizeof(w->recycle[0]));
			qw_seg_path(w, old, s->old_path);
			io_uring_prep_renameat(sqe, AT_FDCWD, s->old_path,
					       AT_FDCWD, s->path, 0);
			sqe->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, 
				TAG_PREP_RENAME, (uint32_t)i));
			s->recycled = true;
			sqe = open_sqe;
			io_uring_prep_openat(sqe, AT_FDCWD, s->path,
					     O_RDWR | O_CLOEXEC |
					     (w->direct ? O_DIRECT : 0), 0);
		} else {
			io_uring_prep_openat(sqe, AT_FDCWD, s->path,
					     qw_open_flags(w), 0600);
		}
		io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_PREP_OPEN,
						       (uint32_t)i));
		s->state = SEG_OPENING;
		w->spare_seg = i;
		return;
	}
}

static void spare_sync(struct qr_wal *w, int i)
{
	struct seg_slot *s = &w->segs[i];
	struct io_uring_sqe *a = qw_ring_sqe(&w->ring), *b = a ? qw_ring_sqe(&w->ring) : NULL;
	if (!b) {
		qw_fail(w, QR_EIO);
		return;
	}
	io_uring_prep_fsync(a, s->fd, 0);
	a->flags |= IOSQE_IO_LINK;
	io_uring_prep_fsync(b, w->dirfd, 0);
	io_uring_sqe_set_data64(a, qw_ring_tag(&w->ring, TAG_PREP_STEP, (uint32_t)i));
	io_uring_sqe_set_data64(b, qw_ring_tag(&w->ring, TAG_PREP_STEP, (uint32_t)i));
	s->pending = 2;
	s->state = SEG_SYNCING;
}

/* Keep up to QR_WAL_ZERO_INFLIGHT zero writes going; sync at the end. */
static void spare_zero(struct qr_wal *w, int i)
{
	struct seg_slot *s = &w->segs[i];
	while (s->pending < QR_WAL_ZERO_INFLIGHT &&
	       s->zero_off < w->cfg.segment_bytes) {
		uint64_t len = QR_MIN(QR_WAL_ZERO_BYTES,
				      w->cfg.segment_bytes - s->zero_off);
		struct io_uring_sqe *sqe = qw_ring_sqe(&w->ring);
		if (!sqe)
			break; /* more at the next completion */
		io_uring_prep_write_fixed(sqe, s->fd, w->zero, (unsigned)len,
					  s->zero_off, (int)w->zero_buf_index);
		io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_PREP_STEP,
						       (uint32_t)i));
		s->zero_off += len;
		s->pending++;
	}
	if (!s->pending)
		spare_sync(w, i);
}

void qw_spare_opened(struct qr_wal *w, int i, int res)
{
	struct seg_slot *s = &w->segs[i];
	struct io_uring_sqe *sqe;

	if (res < 0) {
		spare_failed(w, i, res); /* ENOSPC: no inode or no room */
		return;
	}
	s->fd = res;
	if (s->recycled) {
		w->stats.segments_recycled++;
		s->zero_off = w->cfg.segment_bytes;
		spare_sync(w, i); /* the rename must be durable */
		return;
	}
	sqe = qw_ring_sqe(&w->ring);
	if (!sqe) {
		qw_fail(w, QR_EIO);
		return;
	}
	io_uring_prep_fallocate(sqe, s->fd, 0, 0,
				(off_t)w->cfg.segment_bytes);
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_PREP_STEP, (uint32_t)i));
	s->pending = 1;
	s->zero_off = 0;
	s->state = SEG_ALLOCATING;
	w->stats.segments_created++;
}

void qw_spare_step_done(struct qr_wal *w, int i, int res)
{
	struct seg_slot *s = &w->segs[i];
	if (res < 0 && !(s->state == SEG_ALLOCATING &&
			 (res == -EOPNOTSUPP || res == -EINVAL)) &&
	    !s->prep_errno)
		s->prep_errno = -res;
	if (--s->pending && (s->state != SEG_ZEROING || s->prep_errno))
		return;
	if (s->prep_errno) {
		spare_failed(w, i, -s->prep_errno);
		return;
	}
	if (w->err)
		return;
	switch (s->state) {
	case SEG_ALLOCATING:
		if (w->cfg.prezero) {
			s->state = SEG_ZEROING;
			spare_zero(w, i);
		} else {
			spare_sync(w, i);
		}
		break;
	case SEG_ZEROING:
		spare_zero(w, i);
		break;
	case SEG_SYNCING:
		s->state = SEG_READY;
		w->spare_err = 0; /* the condition cleared: space is back */
		w->spare_errno = 0;
		break;
	default:
		QR_ASSERT(!"bad segment state");
	}
}

