/* SPDX-License-Identifier: MIT */
/*
 * The WAL writer: group commit into registered buffers, io_uring writes
 * made durable by a linked fdatasync or RWF_DSYNC, segment preparation
 * ahead of need, in-order release of acknowledgements. docs/wal.md.
 *
 * Invariants (see also wal.h and wal_pvt.h; W1..W7 cited at the asserts):
 *  W1. a batch never spans segments; the segment header is written with
 *      the first batch of the segment (one write, offset 0). Read side: the
 *      parser refuses a batch that runs past its file.
 *  W2. every batch header carries the synced lsn at submit time, below the
 *      batch's first lsn; recovery relies on it (wal_format.c) to tell a
 *      tear from corruption.
 *  W3. a spare segment is opened, fallocate'd and made durable (file and
 *      directory fsync) by io_uring ops before it is needed, so the loop
 *      never creates a file itself; when the spare is late, the submit
 *      waits (counted in segment_waits) and the batch keeps filling.
 *  W4. a segment fd closes only when no op that uses it is in flight: refs
 *      counts them, and a completion finds refs > 0.
 *  W5. a spare is recycled (renamed, not zeroed) only from a segment this
 *      run created and pre-zeroed, that a durable snapshot covers
 *      (wal_snapshot.c hands it over instead of unlinking it); its header
 *      says so, and the parser treats its old content past the new data as
 *      no data.
 *  W6. all memory is allocated at open; append and poll allocate nothing.
 *  W7. acknowledgements are released in lsn order: the durable lsn only
 *      grows, batch by batch, in batch sequence order.
 *  W8. a record joins a batch while the batch stays within batch_cap; an
 *      empty batch takes any record up to value_max, which every batch
 *      buffer holds (slot_cap), so a large record is a batch of its own:
 *      its value copied once into the registered buffer, one write, one
 *      group fdatasync (docs/wal.md, "Large records").
 *
 * Calls wal_snapshot.c, wal_ring.c and wal_recover.c, never called back
 * (wal_ring.h draws the graph): completions come through ring_handlers().
 *
 * Cost: an append is a copy and a CRC32C of the record (hardware crc32,
 * ~0.1 ns/byte); a poll with nothing to do is a peek at the CQ ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "quorate/err.h"
#include "wal/wal_pvt.h"

#define B QR_WAL_BLOCK_BYTES
#define BATCH_HDR ((uint32_t)sizeof(struct qr_wal_batch_hdr))

void qr_wal_config_defaults(struct qr_wal_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = QR_WAL_MODE_FSYNC;
	cfg->sync = QR_WAL_SYNC_DEFAULT;
	cfg->direct_io = QR_WAL_DIRECT_AUTO;
	cfg->next_lsn = 1;
	cfg->segment_bytes = 64ull << 20;
	/* Two 512 KiB batches in flight: the disk serialises syncs anyway,
	 * so a deeper pipeline only queues acks behind more of them. Paired
	 * runs (perf/wal-bench --goal) on this VM: 1 KiB x 1024 outstanding,
	 * 4 x 256 KiB gave p99 2.9-4.6x the fdatasync p99, 2 x 512 KiB
	 * 2.2-2.7x at higher throughput. */
	cfg->batch_bytes_max = 512u << 10;
	cfg->value_bytes_max = QR_VALUE_BYTES_MAX;
	cfg->batch_wait_us_max = 0;
	cfg->batches_inflight_max = 2;
	cfg->snapshot_buffer_bytes = 1u << 20;
	cfg->async_sync_us = 1000;
	cfg->prezero = true;
}

/* A write or sync of the log failed: sticky (fsyncgate), with its errno. */
static void log_fail(struct qr_wal *w, int res)
{
	if (w->err)
		return;
	w->err = res < 0 ? qw_err_of(res) : QR_EIO;
	w->err_errno = res < 0 ? -res : 0; /* 0: a short write */
}

static void seg_maybe_close(struct qr_wal *w, int i)
{
	struct seg_slot *s = &w->segs[i];
	if (s->state != SEG_RETIRED || s->refs || s->dirty)
		return;
	close(s->fd); /* no I/O left on it: does not wait for the disk */
	s->fd = -1;
	s->state = SEG_UNUSED;
}

static void known_add(struct qr_wal *w, uint64_t seq, uint64_t first_lsn)
{
	if (w->known_count == QR_WAL_KNOWN_SEGS)
		return; /* untracked: never deleted, still recovered */
	uint32_t i = (w->known_head + w->known_count) % QR_WAL_KNOWN_SEGS;
	w->known[i] = (struct known_seg){ seq, first_lsn };
	w->known_count++;
}

/* Release finished batches in order: this is where acks come from. The
 * ring runs it after every reap, whoever reaped (wal_ring.h R4). */
static void release(void *ctx)
{
	struct qr_wal *w = ctx;
	while (w->release_seq < w->submit_seq) {
		struct batch_slot *b = &w->slots[w->release_seq % w->nslots];
		if (b->state != SLOT_DONE)
			break;
		QR_ASSERT(b->last_lsn > w->durable_lsn); /* W7 */
		w->durable_lsn = b->last_lsn;
		if (w->cfg.mode == QR_WAL_MODE_FSYNC)
			w->synced_lsn = b->last_lsn;
		b->state = SLOT_FREE;
		b->bytes = 0;
		b->records = 0;
		w->release_seq++;
	}
}

static void batch_complete(struct qr_wal *w, uint32_t idx, bool is_write,
			   int res)
{
	struct batch_slot *b = &w->slots[idx];
	QR_ASSERT(b->state == SLOT_INFLIGHT && b->pending > 0);
	if (res < 0 || (is_write && (uint32_t)res != b->write_len))
		log_fail(w, res);
	if (--b->pending)
		return;
	struct seg_slot *s = &w->segs[b->seg];
	QR_ASSERT(s->refs > 0); /* W4 */
	s->refs--;
	if (w->cfg.mode == QR_WAL_MODE_ASYNC)
		s->dirty = true;
	b->state = SLOT_DONE;
	qr_hist_record(&w->commit_lat,
		       w->now_us > b->submitted_us
			       ? (w->now_us - b->submitted_us) * 1000
			       : 0);
	seg_maybe_close(w, b->seg);
}

/* The ring's handlers for the log's tag kinds (wal_ring.h, R2). */
static void on_batch(void *ctx, uint32_t k, uint32_t idx, int res)
{
	batch_complete(ctx, idx, k == TAG_BATCH_WRITE, res);
}

static void on_prep(void *ctx, uint32_t k, uint32_t idx, int res)
{
	if (k == TAG_PREP_OPEN)
		qw_spare_opened(ctx, (int)idx, res);
	else if (k == TAG_PREP_STEP)
		qw_spare_step_done(ctx, (int)idx, res);
	/* TAG_PREP_RENAME: a failed rename cancels the linked openat, which
	 * fails the WAL (spare_opened). */
}

static void on_bg_sync(void *ctx, uint32_t k, uint32_t idx, int res)
{
	struct qr_wal *w = ctx;
	struct seg_slot *s = &w->segs[idx];
	(void)k;
	if (res < 0)
		log_fail(w, res);
	QR_ASSERT(s->refs > 0 && w->bg_syncs > 0); /* W4 */
	s->refs--;
	if (--w->bg_syncs == 0 && !w->err && w->bg_target > w->synced_lsn)
		w->synced_lsn = w->bg_target;
	seg_maybe_close(w, (int)idx);
}

static void ring_handlers(struct qr_wal *w)
{
	qw_ring_on(&w->ring, TAG_BATCH_WRITE, on_batch, w);
	qw_ring_on(&w->ring, TAG_BATCH_SYNC, on_batch, w);
	qw_ring_on(&w->ring, TAG_PREP_OPEN, on_prep, w);
	qw_ring_on(&w->ring, TAG_PREP_STEP, on_prep, w);
	qw_ring_on(&w->ring, TAG_PREP_RENAME, on_prep, w);
	qw_ring_on(&w->ring, TAG_BG_SYNC, on_bg_sync, w);
	qw_ring_on_reaped(&w->ring, release, w);
	qw_snap_init(w);
}

/* Make the spare current; the old one retires. false: no spare ready. */
static bool roll(struct qr_wal *w, uint64_t first_lsn)
{
	if (w->spare_seg < 0 || w->segs[w->spare_seg].state != SEG_READY) {
		w->stats.segment_waits++;
		qw_spare_start(w);
		return false;
	}
	if (w->cur_seg >= 0) {
		w->segs[w->cur_seg].state = SEG_RETIRED;
		seg_maybe_close(w, w->cur_seg);
	}
	w->cur_seg = w->spare_seg;
	w->spare_seg = -1;
	struct seg_slot *s = &w->segs[w->cur_seg];
	s->state = SEG_CURRENT;
	s->write_off = 0;
	known_add(w, s->seq, first_lsn);
	qw_spare_start(w);
	return true;
}

/* Fill in and seal b's batch header (and the segment header when the
 * batch opens segment s); returns where the write starts. W2: the header
 * records the synced lsn at submit time. */
static const uint8_t *seal_batch(struct qr_wal *w, struct batch_slot *b,
				 const struct seg_slot *s, uint32_t padded,
				 bool rolled)
{
	struct qr_wal_batch_hdr *h = (void *)(b->buf + B);
	QR_ASSERT(w->synced_lsn < b->first_lsn); /* W2 */
	memset(b->buf + B + b->bytes, 0, padded - b->bytes);
	*h = (struct qr_wal_batch_hdr){
		.magic = QR_WAL_BATCH_MAGIC,
		.first_lsn = b->first_lsn,
		.last_lsn = b->last_lsn,
		.synced_lsn = w->synced_lsn,
		.seq = s->seq,
		.records = b->records,
		.data_bytes = b->bytes - BATCH_HDR,
		.padded_bytes = padded,
		.shard = w->cfg.shard,
		.format = QR_WAL_FORMAT_VERSION,
	};
	qr_wal_batch_hdr_seal(h);
	b->write_len = padded;
	if (!rolled)
		return b->buf + B;
	struct qr_wal_seg_hdr *sh = (void *)b->buf;
	memset(b->buf, 0, B);
	*sh = (struct qr_wal_seg_hdr){
		.format = QR_WAL_FORMAT_VERSION,
		.magic = QR_WAL_SEG_MAGIC,
		.seq = s->seq,
		.first_lsn = b->first_lsn,
		.segment_bytes = w->cfg.segment_bytes,
		.shard = w->cfg.shard,
		.flags = s->recycled ? QR_WAL_SEG_RECYCLED : 0,
	};
	qr_wal_seg_hdr_seal(sh);
	b->write_len = padded + B;
	return b->buf;
}

/* The write of b (and its linked fdatasync, or RWF_DSYNC). The caller
 * checked there is room for them in the SQ. */
static void prep_batch_ops(struct qr_wal *w, struct batch_slot *b,
			   uint32_t idx, const struct seg_slot *s,
			   const uint8_t *src, uint64_t off)
{
	struct io_uring_sqe *sqe = qw_ring_sqe(&w->ring);
	QR_ASSERT(sqe);
	io_uring_prep_write_fixed(sqe, s->fd, src, b->write_len, off, (int)idx);
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_BATCH_WRITE,
						     idx));
	b->pending = 1;
	if (w->cfg.mode != QR_WAL_MODE_FSYNC)
		return;
	if (w->sync == QR_WAL_SYNC_DSYNC) {
		sqe->rw_flags = RWF_DSYNC;
		w->stats.dsync_writes++;
		return;
	}
	sqe->flags |= IOSQE_IO_LINK;
	sqe = qw_ring_sqe(&w->ring);
	QR_ASSERT(sqe);
	io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_BATCH_SYNC,
						     idx));
	b->pending = 2;
	w->stats.fsyncs++;
}

/* Submit the batch in slot b. false: must wait (no segment yet). */
static bool submit_batch(struct qr_wal *w, struct batch_slot *b, uint32_t idx)
{
	uint32_t padded = (uint32_t)qr_wal_align_up(b->bytes, B);
	struct seg_slot *s = w->cur_seg >= 0 ? &w->segs[w->cur_seg] : NULL;
	bool rolled = false;
	unsigned need = w->sync == QR_WAL_SYNC_FDATASYNC &&
			w->cfg.mode == QR_WAL_MODE_FSYNC ? 2 : 1;

	if (qw_ring_space(&w->ring) < need)
		qw_ring_flush(&w->ring);
	if (qw_ring_space(&w->ring) < need)
		return false;
	if (!s || s->write_off + padded > w->cfg.segment_bytes) {
		if (!roll(w, b->first_lsn))
			return false;
		s = &w->segs[w->cur_seg];
		rolled = true;
	}

	const uint8_t *src = seal_batch(w, b, s, padded, rolled);
	uint64_t off = rolled ? 0 : s->write_off;
	QR_ASSERT(off + b->write_len <= w->cfg.segment_bytes); /* W1 */
	prep_batch_ops(w, b, idx, s, src, off);
	s->write_off = off + b->write_len;
	s->refs++;
	b->seg = (int8_t)w->cur_seg;
	b->state = SLOT_INFLIGHT;
	b->submitted_us = w->now_us;
	w->stats.batches++;
	w->stats.bytes_written += b->write_len;
	if (b->records > w->stats.batch_records_max)
		w->stats.batch_records_max = b->records;
	if (b->bytes > w->stats.batch_bytes_max)
		w->stats.batch_bytes_max = b->bytes;
	return true;
}
/* No record can join b any more (W8): one large record alone, or filled
 * to the cap. Such a batch does not wait for company. */
static inline bool batch_full(const struct qr_wal *w,
			      const struct batch_slot *b)
{
	return b->bytes >= w->batch_cap;
}

/* Submit sealed batches and the filling one when due. */
static void submit_due(struct qr_wal *w, bool drain)
{
	while (!w->err && w->submit_seq <= w->fill_seq &&
	       w->submit_seq - w->release_seq < w->cfg.batches_inflight_max) {
		uint32_t idx = (uint32_t)(w->submit_seq % w->nslots);
		struct batch_slot *b = &w->slots[idx];
		if (b->state != SLOT_FILLING)
			break;
		if (w->submit_seq == w->fill_seq) {
			bool idle = w->submit_seq == w->release_seq;
			bool full = batch_full(w, b);
			bool old = w->cfg.batch_wait_us_max !=
					   QR_WAL_WAIT_WHILE_BUSY &&
				   w->now_us - b->opened_us >=
					   w->cfg.batch_wait_us_max;
			if (!drain && !idle && !old && !full)
				break;
			w->fill_seq++; /* seal it */
		}
		if (!submit_batch(w, b, idx))
			break;
		w->submit_seq++;
	}
}

/* Mode async: sync written segments every async_sync_us. */
static void background_sync(struct qr_wal *w, bool force)
{
	if (w->cfg.mode != QR_WAL_MODE_ASYNC || w->bg_syncs ||
	    w->durable_lsn <= w->synced_lsn || w->err)
		return;
	if (!force && w->now_us - w->bg_last_us < w->cfg.async_sync_us)
		return;
	w->bg_last_us = w->now_us;
	w->bg_target = w->durable_lsn;
	for (int i = 0; i < QR_WAL_SEGS_OPEN; i++) {
		struct seg_slot *s = &w->segs[i];
		if (!s->dirty)
			continue;
		struct io_uring_sqe *sqe = qw_ring_sqe(&w->ring);
		if (!sqe)
			return; /* next poll */
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_BG_SYNC,
						       (uint32_t)i));
		s->dirty = false;
		s->refs++;
		w->bg_syncs++;
		w->stats.fsyncs++;
	}
	if (!w->bg_syncs)
		w->synced_lsn = w->bg_target;
}

int qr_wal_append(struct qr_wal *w, const struct qr_wal_record *rec)
{
	if (qr_unlikely(w->err))
		return w->err;
	if (qr_unlikely(rec->lsn != w->appended_lsn + 1 ||
			rec->type < QR_WAL_PUT || rec->type > QR_WAL_TYPE_MAX ||
			rec->key_len == 0 ||
			(rec->type == QR_WAL_TOMBSTONE && rec->value_len)))
		return QR_EINVAL;
	if (qr_unlikely(rec->value_len > w->value_max))
		return QR_ETOOLARGE;
	/* Fits: value_max sized slot_cap at open. */
	uint32_t need = (uint32_t)qr_wal_record_bytes(rec->key_len,
						      rec->value_len);
	QR_DASSERT(need + BATCH_HDR <= w->slot_cap);
	if (qr_unlikely(rec->type == QR_WAL_CLOCK) &&
	    rec->version.hlc > w->clock.hlc)
		/* Snapshots carry it: they delete the segment holding it. */
		w->clock = (struct qr_wal_clock){ .hlc = rec->version.hlc,
			.lsn = rec->lsn, .node = rec->version.node };
	if (w->cfg.mode == QR_WAL_MODE_NONE) {
		/* Memory only: the copy is made (and measured), then lost. */
		qr_wal_record_encode(w->slots[0].buf + B + BATCH_HDR, rec);
		w->appended_lsn = rec->lsn;
		w->stats.appends++;
		w->stats.record_bytes += need;
		return 0;
	}

	for (int tries = 0; tries < 2; tries++) {
		if (w->fill_seq - w->release_seq >= w->nslots) {
			w->stats.append_busy++;
			return QR_EBUSY;
		}
		struct batch_slot *b = &w->slots[w->fill_seq % w->nslots];
		if (b->state == SLOT_FREE) {
			b->state = SLOT_FILLING;
			b->bytes = BATCH_HDR;
			b->records = 0;
			b->first_lsn = rec->lsn;
			b->opened_us = w->now_us;
		}
		QR_DASSERT(b->state == SLOT_FILLING);
		/* Group commit up to batch_cap; a record larger than that
		 * goes alone into an empty batch (slot_cap holds it). */
		if (b->records && b->bytes + need > w->batch_cap) {
			w->fill_seq++; /* full: sealed, a new one next */
			continue;
		}
		QR_ASSERT(b->bytes + need <= w->slot_cap); /* W8 */
		qr_wal_record_encode(b->buf + B + b->bytes, rec);
		b->bytes += need;
		b->records++;
		b->last_lsn = rec->lsn;
		w->appended_lsn = rec->lsn;
		w->stats.appends++;
		w->stats.record_bytes += need;
		return 0;
	}
	QR_ASSERT(!"a fresh batch takes any record");
	return QR_EINVAL;
}

uint64_t qr_wal_poll(struct qr_wal *w, uint64_t now_us)
{
	w->now_us = now_us;
	if (w->cfg.mode == QR_WAL_MODE_NONE) {
		w->durable_lsn = w->synced_lsn = w->appended_lsn;
		return w->durable_lsn;
	}
	qw_ring_reap(&w->ring, false);
	submit_due(w, false);
	background_sync(w, false);
	qw_spare_start(w);
	qw_snap_poll(w);
	qw_ring_flush(&w->ring);
	return w->durable_lsn;
}

uint64_t qr_wal_next_due_us(const struct qr_wal *w, uint64_t limit_us)
{
	if (w->cfg.mode == QR_WAL_MODE_NONE)
		return w->durable_lsn < w->appended_lsn ? 0 : limit_us;
	if (w->err)
		return limit_us; /* nothing will be submitted */
	if (w->ring.sq_pending)
		return 0;
	uint64_t due = limit_us;
	const struct batch_slot *b = &w->slots[w->fill_seq % w->nslots];
	/* The batch being filled goes out at once to an idle disk or when
	 * full (a slot free), after its wait otherwise; with every slot in
	 * flight, at a completion. */
	if (b->state == SLOT_FILLING && b->records &&
	    w->submit_seq == w->fill_seq &&
	    w->submit_seq - w->release_seq < w->cfg.batches_inflight_max) {
		if (w->submit_seq == w->release_seq || batch_full(w, b))
			return 0;
		if (w->cfg.batch_wait_us_max != QR_WAL_WAIT_WHILE_BUSY)
			due = QR_MIN(due,
				     b->opened_us + w->cfg.batch_wait_us_max);
	}
	if (w->cfg.mode == QR_WAL_MODE_ASYNC && !w->bg_syncs &&
	    w->durable_lsn > w->synced_lsn)
		due = QR_MIN(due, w->bg_last_us + w->cfg.async_sync_us);
	return due;
}

int qr_wal_event_fd(struct qr_wal *w)
{
	if (w->cfg.mode == QR_WAL_MODE_NONE)
		return -1;
	if (w->evfd >= 0)
		return w->evfd;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return QR_EIO;
	if (io_uring_register_eventfd(&w->ring.uring, fd) < 0) {
		close(fd);
		return QR_EIO;
	}
	w->evfd = fd;
	return fd;
}

uint64_t qr_wal_durable_lsn(const struct qr_wal *w)
{
	return w->durable_lsn;
}

uint64_t qr_wal_appended_lsn(const struct qr_wal *w)
{
	return w->appended_lsn;
}

int qr_wal_error(const struct qr_wal *w)
{
	return w->err;
}

int qr_wal_health(const struct qr_wal *w, int *os_errno)
{
	int err = w->err ? w->err : w->spare_err;
	if (os_errno)
		*os_errno = w->err ? w->err_errno : w->spare_errno;
	return err;
}

bool qr_wal_direct(const struct qr_wal *w)
{
	return w->direct;
}

enum qr_wal_sync qr_wal_sync_method(const struct qr_wal *w)
{
	return w->sync;
}

const struct qr_wal_stats *qr_wal_stats(const struct qr_wal *w)
{
	return &w->stats;
}

const struct qr_hist *qr_wal_commit_latency(const struct qr_wal *w)
{
	return &w->commit_lat;
}

/* Create and prepare the first segment synchronously; probe O_DIRECT. */
static int first_segment(struct qr_wal *w)
{
	struct seg_slot *s = &w->segs[0];
	s->seq = w->next_seq++;
	qw_seg_path(w, s->seq, s->path);
	w->direct = w->cfg.direct_io != QR_WAL_DIRECT_OFF;
	s->fd = open(s->path, qw_open_flags(w), 0600);
	if (s->fd < 0 && errno == EINVAL && w->direct &&
	    w->cfg.direct_io == QR_WAL_DIRECT_AUTO) {
		w->direct = false; /* tmpfs and friends: page cache */
		s->fd = open(s->path, qw_open_flags(w), 0600);
	}
	if (s->fd < 0)
		return errno == EINVAL ? QR_EINVAL : QR_EIO;
	int rc = posix_fallocate(s->fd, 0, (off_t)w->cfg.segment_bytes);
	if (rc && rc != EOPNOTSUPP && rc != EINVAL)
		return rc == ENOSPC ? QR_ENOSPC : QR_EIO;
	for (uint64_t off = 0; w->cfg.prezero && off < w->cfg.segment_bytes;
	     off += QR_WAL_ZERO_BYTES) {
		size_t len = (size_t)QR_MIN(QR_WAL_ZERO_BYTES,
					    w->cfg.segment_bytes - off);
		if (pwrite(s->fd, w->zero, len, (off_t)off) != (ssize_t)len)
			return QR_EIO;
	}
	if (fsync(s->fd) || fsync(w->dirfd))
		return QR_EIO;
	s->state = SEG_READY;
	w->spare_seg = 0;
	w->run_first_seq = s->seq;
	w->stats.segments_created++;
	return 0;
}

/* Existing segments (seq order) for deletion after snapshots, and the
 * next seq: never reuse a file of an earlier run. */
static int scan_dir(struct qr_wal *w)
{
	struct file_ent *v;
	int n = qw_list_files(w->cfg.dir, w->cfg.shard, "wal", "seg", &v);
	if (n < 0)
		return n;
	w->next_seq = 1;
	for (int i = 0; i < n; i++) {
		known_add(w, v[i].num, qw_segment_first_lsn(
			w->cfg.dir, v[i].name, w->cfg.shard, v[i].num));
		w->next_seq = v[i].num + 1;
	}
	free(v);
	n = qw_list_files(w->cfg.dir, w->cfg.shard, "snap", "snap", &v);
	if (n < 0)
		return n;
	if (n > 0)
		w->snap.prev_lsn = v[n - 1].num;
	free(v);
	return 0;
}

/* The bytes one batch buffer must hold: batch_bytes_max of records, or
 * one record with the largest value (a batch of its own). A segment holds
 * at least one of them after its header block (W1). */
static uint32_t slot_cap_of(const struct qr_wal_config *cfg)
{
	uint32_t vmax = cfg->value_bytes_max ? cfg->value_bytes_max
					     : QR_VALUE_BYTES_MAX;
	uint64_t big = BATCH_HDR + qr_wal_record_bytes(QR_KEY_BYTES_MAX,
						       QR_MIN(vmax,
						       QR_VALUE_BYTES_MAX));
	return (uint32_t)qr_wal_align_up(QR_MAX(big, cfg->batch_bytes_max), B);
}
_Static_assert(QR_WAL_RECORD_BYTES_MAX + 2 * QR_WAL_BLOCK_BYTES <
		       (64u << 20),
	       "a batch buffer holds the largest record and fits a u32");

static bool config_valid(const struct qr_wal_config *cfg)
{
	return cfg && cfg->dir && cfg->next_lsn != 0 &&
	       cfg->batches_inflight_max != 0 &&
	       cfg->batches_inflight_max <= 1024 &&
	       cfg->batch_bytes_max >= 2 * B &&
	       cfg->batch_bytes_max <= (64u << 20) &&
	       cfg->segment_bytes % B == 0 &&
	       cfg->value_bytes_max <= QR_VALUE_BYTES_MAX &&
	       cfg->segment_bytes >= slot_cap_of(cfg) + 2 * B &&
	       cfg->segment_bytes <= QR_WAL_SEGMENT_BYTES_MAX &&
	       cfg->snapshot_buffer_bytes >= 2 * B &&
	       cfg->snapshot_buffer_bytes <= (64u << 20) &&
	       cfg->mode <= QR_WAL_MODE_NONE && cfg->sync <= QR_WAL_SYNC_DSYNC &&
	       cfg->direct_io <= QR_WAL_DIRECT_OFF &&
	       !(cfg->clock.hlc && (cfg->clock.lsn == 0 ||
				    cfg->clock.lsn >= cfg->next_lsn)) &&
	       qw_dir_fits(cfg->dir); /* limits.h L4 */
}

/* Free w and everything it holds (open's failure path and close). */
static void wal_free(struct qr_wal *w)
{
	for (uint32_t i = 0; w->slots && i < w->nslots; i++)
		free(w->slots[i].buf);
	for (uint32_t i = 0; i < QR_WAL_SNAP_BUFS; i++)
		free(w->snap.buf[i]);
	free(w->slots);
	free(w->known);
	free(w->zero);
	free(w);
}

/* A zeroed, block-aligned buffer for io_uring registration. */
static uint8_t *buf_alloc(uint32_t bytes, struct iovec *iov)
{
	uint8_t *p = aligned_alloc(B, bytes);
	if (p) {
		memset(p, 0, bytes);
		*iov = (struct iovec){ p, bytes };
	}
	return p;
}

/* All memory, at open (W6): batch slots, snapshot buffers, the zeros;
 * iov (nbufs entries) gets them in registration order. */
static int alloc_buffers(struct qr_wal *w, struct iovec *iov)
{
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->known = calloc(QR_WAL_KNOWN_SEGS, sizeof(*w->known));
	if (!w->slots || !w->known)
		return QR_ENOMEM;
	w->zero = buf_alloc(QR_WAL_ZERO_BYTES, &iov[w->zero_buf_index]);
	if (!w->zero)
		return QR_ENOMEM;
	for (uint32_t i = 0; i < w->nslots; i++)
		if (!(w->slots[i].buf = buf_alloc(w->slot_bytes, &iov[i])))
			return QR_ENOMEM;
	for (uint32_t i = 0; i < QR_WAL_SNAP_BUFS; i++)
		if (!(w->snap.buf[i] = buf_alloc(w->cfg.snapshot_buffer_bytes,
						 &iov[w->nslots + i])))
			return QR_ENOMEM;
	return 0;
}

/* The ring, the directory and the first segment (blocking: start-up). */
static int open_io(struct qr_wal *w, const struct iovec *iov, uint32_t nbufs)
{
	unsigned entries = 64;
	while (entries < 2 * w->nslots + 64 + QR_WAL_ZERO_INFLIGHT)
		entries *= 2;
	int rc = qw_ring_init(&w->ring, entries, iov, nbufs, &w->err);
	if (rc)
		return rc;
	ring_handlers(w);
	w->dirfd = open(w->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return errno == ENOENT ? QR_EINVAL : QR_EIO;
	rc = scan_dir(w);
	if (rc)
		return rc;
	rc = first_segment(w);
	if (rc)
		return rc;
	w->now_us = qr_clock_mono_us();
	qw_spare_start(w); /* the one after: ready before the first roll */
	qw_ring_flush(&w->ring);
	return 0;
}

int qr_wal_open(const struct qr_wal_config *cfg, struct qr_wal **out)
{
	struct qr_wal *w;

	*out = NULL;
	if (!config_valid(cfg))
		return QR_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return QR_ENOMEM;
	w->cfg = *cfg;
	qr_hist_init(&w->commit_lat);
	w->dirfd = -1;
	w->evfd = -1;
	w->cur_seg = w->spare_seg = -1;
	w->snap.fd = -1;
	w->snap.cur = -1;
	for (int i = 0; i < QR_WAL_SEGS_OPEN; i++)
		w->segs[i].fd = -1;
	/* Measured on ext4 + virtio (docs/wal.md): a linked fdatasync is
	 * far faster than RWF_DSYNC (FUA) there. */
	w->sync = cfg->sync == QR_WAL_SYNC_DEFAULT ? QR_WAL_SYNC_FDATASYNC :
						     cfg->sync;
	w->appended_lsn = w->durable_lsn = w->synced_lsn = cfg->next_lsn - 1;
	w->clock = cfg->clock;
	w->batch_cap = (uint32_t)qr_wal_align_up(cfg->batch_bytes_max, B);
	w->value_max = cfg->value_bytes_max ? cfg->value_bytes_max
					    : QR_VALUE_BYTES_MAX;
	w->slot_cap = slot_cap_of(cfg);
	w->slot_bytes = w->slot_cap + B;
	w->nslots = cfg->batches_inflight_max + 1;
	w->cfg.snapshot_buffer_bytes =
		(uint32_t)qr_wal_align_up(cfg->snapshot_buffer_bytes, B);

	uint32_t nbufs = w->nslots + QR_WAL_SNAP_BUFS + 1;
	w->zero_buf_index = nbufs - 1;
	struct iovec *iov = calloc(nbufs, sizeof(*iov));
	int rc = iov ? alloc_buffers(w, iov) : QR_ENOMEM;
	if (!rc && cfg->mode != QR_WAL_MODE_NONE)
		rc = open_io(w, iov, nbufs);
	free(iov);
	if (!rc) {
		*out = w;
		return 0;
	}
	qw_ring_exit(&w->ring);
	if (w->segs[0].fd >= 0) {
		close(w->segs[0].fd);
		unlink(w->segs[0].path);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	wal_free(w);
	return rc;
}

static bool busy(const struct qr_wal *w)
{
	if (w->release_seq != w->submit_seq || w->bg_syncs)
		return true;
	for (int i = 0; i < QR_WAL_SEGS_OPEN; i++)
		if (w->segs[i].state == SEG_OPENING ||
		    w->segs[i].state == SEG_ALLOCATING ||
		    w->segs[i].state == SEG_ZEROING ||
		    w->segs[i].state == SEG_SYNCING || w->segs[i].refs)
			return true;
	return w->snap.writes || w->snap.ops;
}

int qr_wal_close(struct qr_wal *w, uint64_t *durable_lsn)
{
	int rc;

	if (w->cfg.mode != QR_WAL_MODE_NONE) {
		qw_snap_abandon(w);
		/* Submit everything appended, wait for all of it. */
		for (uint32_t rounds = 0; rounds < 1u << 20; rounds++) {
			w->now_us = qr_clock_mono_us();
			qw_ring_reap(&w->ring, false);
			submit_due(w, true);
			background_sync(w, true);
			qw_ring_flush(&w->ring);
			bool pending = w->submit_seq <= w->fill_seq &&
				w->slots[w->submit_seq % w->nslots].state ==
				SLOT_FILLING;
			if (!busy(w) && (!pending || w->err) &&
			    (w->cfg.mode != QR_WAL_MODE_ASYNC || w->err ||
			     w->synced_lsn == w->durable_lsn))
				break;
			if (busy(w))
				qw_ring_reap(&w->ring, true);
		}
		for (int i = 0; i < QR_WAL_SEGS_OPEN; i++) {
			struct seg_slot *s = &w->segs[i];
			if (s->fd < 0)
				continue;
			if (s->state == SEG_READY) /* unused spare */
				unlink(s->path);
			close(s->fd);
		}
		for (uint32_t i = 0; i < w->recycle_count; i++) {
			char path[QR_PATH_BYTES_MAX];
			qw_seg_path(w, w->recycle[i], path);
			unlink(path); /* covered: recovery would drop it */
		}
		if (fsync(w->dirfd))
			qw_fail(w, QR_EIO);
		close(w->dirfd);
		qw_ring_exit(&w->ring);
		if (w->evfd >= 0)
			close(w->evfd);
	} else {
		w->durable_lsn = w->appended_lsn;
	}
	rc = w->err;
	if (durable_lsn)
		*durable_lsn = w->durable_lsn;
	wal_free(w);
	return rc;
}
