/* SPDX-License-Identifier: MIT */
/*
 * Incremental (fuzzy) snapshots, driven from the shard loop, all I/O
 * through the WAL's ring (docs/wal.md, "Snapshots").
 *
 * Dependencies: wal_ring.c (sqes, submit, reap; its TAG_SNAP_* completions
 * come back through the handlers qw_snap_init() registers) and
 * wal_format.c. wal.c calls qw_snap_init/poll/abandon; this file calls
 * nothing in wal.c (the graph: wal_ring.h).
 *
 *   begin --openat--> SCANNING --step()...--> DRAINING --fsync--> SYNCING
 *     --> WAIT_DURABLE (synced lsn >= end lsn) --renameat+dir fsync-->
 *     RENAMING --unlinkat...--> DELETING --dir fsync--> DONE
 *
 * Correctness: begin lsn B = appended lsn + 1 when the snapshot starts.
 * Every write with lsn < B is in the store by then; the scan may also see
 * later writes (fuzzy). Recovery loads the snapshot and replays every log
 * record with lsn >= B; apply keeps the highest version, so the result is
 * the same as replaying the whole log. The snapshot is renamed into place
 * only after the log is synced up to the last lsn appended during the scan
 * (end lsn), so it never holds a write the log could lose. Only then are
 * segments wholly below B (their successor starts at or below B) and the
 * previous snapshot deleted; the order of those unlinks does not matter
 * (recovery drops leading segments by the same rule).
 *
 * Invariants (cited at the asserts):
 *  S1. the snapshot is renamed into place only once the log is synced up
 *      to its end lsn (checked when the rename is issued and again when it
 *      completes).
 *  S2. a buffer is written only when no write of it is in flight, and a
 *      write completion finds its buffer busy.
 *  S3. every path fits QR_PATH_BYTES_MAX (the dir was checked at open:
 *      QR_WAL_PATH asserts it, limits.h L4).
 *
 * Stall: a partition is copied whole (the store's iterator cannot pause).
 * A step starts a partition only with two free buffers; a partition bigger
 * than that waits for a buffer inside the step (counted: snapshot_stalls).
 * An entry bigger than a buffer (a large value) is a batch of its own,
 * written in buffer-sized pieces (copy_large): the memory stays 4 buffers
 * whatever the largest value, and the step waits while it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/compiler.h"
#include "quorate/err.h"
#include "wal/wal_pvt.h"

#define B QR_WAL_BLOCK_BYTES
#define BATCH_HDR ((uint32_t)sizeof(struct qr_wal_batch_hdr))

static void snap_fail(struct qr_wal *w, int err)
{
	struct snap *s = &w->snap;
	if (s->state == SNAP_FAILED)
		return;
	s->err = err ? err : QR_EIO;
	s->state = SNAP_FAILED;
}

static struct io_uring_sqe *snap_sqe(struct qr_wal *w)
{
	struct io_uring_sqe *sqe = qw_ring_sqe(&w->ring);
	QR_ASSERT(sqe); /* the ring is sized for everything in flight */
	return sqe;
}

static void write_buf(struct qr_wal *w, int i, uint32_t len)
{
	struct snap *s = &w->snap;
	QR_ASSERT(!s->busy[i]); /* S2 */
	struct io_uring_sqe *sqe = snap_sqe(w);
	io_uring_prep_write_fixed(sqe, s->fd, s->buf[i], len, s->off,
				  (int)(w->nslots + (uint32_t)i));
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_SNAP_WRITE,
					       (uint32_t)i | len << 3));
	s->busy[i] = true;
	s->writes++;
	s->off += len;
	s->bytes += len;
}

static int free_buf(const struct snap *s)
{
	for (int i = 0; i < QR_WAL_SNAP_BUFS; i++)
		if (!s->busy[i] && i != s->cur)
			return i;
	return -1;
}

static int free_bufs(const struct snap *s)
{
	int n = 0;
	for (int i = 0; i < QR_WAL_SNAP_BUFS; i++)
		n += !s->busy[i] && i != s->cur;
	return n;
}

static void submit_cur(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	int i = s->cur;
	if (i < 0)
		return;
	s->cur = -1;
	if (!s->recs[i])
		return;
	uint32_t padded = (uint32_t)qr_wal_align_up(s->used[i], B);
	memset(s->buf[i] + s->used[i], 0, padded - s->used[i]);
	struct qr_wal_batch_hdr *h = (void *)s->buf[i];
	*h = (struct qr_wal_batch_hdr){
		.magic = QR_WAL_SNAP_BATCH_MAGIC,
		.first_lsn = s->first[i],
		.last_lsn = s->first[i] + s->recs[i] - 1,
		.seq = s->begin_lsn,
		.records = s->recs[i],
		.data_bytes = s->used[i] - BATCH_HDR,
		.padded_bytes = padded,
		.shard = w->cfg.shard,
		.format = QR_WAL_FORMAT_VERSION,
	};
	qr_wal_batch_hdr_seal(h);
	write_buf(w, i, padded);
}

/* A buffer with no write in flight: waits for one inside the step if all
 * are busy (counted). -1 if the WAL or the snapshot failed meanwhile. */
static int take_buf(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	int i = free_buf(s);
	while (i < 0) {
		w->stats.snapshot_stalls++;
		qw_ring_reap(&w->ring, true);
		if (w->err || s->state == SNAP_FAILED)
			return -1;
		i = free_buf(s);
	}
	return i;
}

/* Copy bytes [from, from + len) of the concatenation of spans to dst;
 * past the last span, zeros. */
struct span {
	const uint8_t *p;
	uint64_t len;
};

static void copy_spans(uint8_t *dst, uint64_t from, uint64_t len,
		       const struct span *sp, int n)
{
	uint64_t base = 0;
	for (int k = 0; k < n && len; k++) {
		uint64_t end = base + sp[k].len;
		if (from < end) {
			uint64_t m = QR_MIN(end - from, len);
			memcpy(dst, sp[k].p + (from - base), m);
			dst += m;
			from += m;
			len -= m;
		}
		base = end;
	}
	memset(dst, 0, len);
}

/*
 * An entry larger than a snapshot buffer (a large value: docs/wal.md):
 * a batch of its own, written in buffer-sized pieces at consecutive
 * offsets (each a multiple of the block, as O_DIRECT wants). The record's
 * CRC is computed over the key and value in place, then they are copied
 * once into the buffers; the file holds exactly the batch a buffer large
 * enough would have held. Waits for free buffers inside the step.
 */
static int copy_large(struct qr_wal *w, const struct qr_wal_record *rec)
{
	struct snap *s = &w->snap;
	struct qr_wal_rec_hdr rh;
	struct qr_wal_batch_hdr bh;
	uint32_t need = qr_wal_record_encode_header(&rh, rec);
	uint64_t padded = qr_wal_align_up(BATCH_HDR + (uint64_t)need, B);
	const uint32_t cap = w->cfg.snapshot_buffer_bytes;

	submit_cur(w); /* batches stay in ordinal order */
	bh = (struct qr_wal_batch_hdr){
		.magic = QR_WAL_SNAP_BATCH_MAGIC,
		.first_lsn = s->entries + 1,
		.last_lsn = s->entries + 1,
		.seq = s->begin_lsn,
		.records = 1,
		.data_bytes = need,
		.padded_bytes = (uint32_t)padded,
		.shard = w->cfg.shard,
		.format = QR_WAL_FORMAT_VERSION,
	};
	qr_wal_batch_hdr_seal(&bh);
	const struct span sp[] = {
		{ (const uint8_t *)&bh, sizeof(bh) },
		{ (const uint8_t *)&rh, sizeof(rh) },
		{ rec->key, rec->key_len },
		{ rec->value, rec->value_len },
	};
	for (uint64_t off = 0; off < padded; off += cap) {
		uint32_t len = (uint32_t)QR_MIN(padded - off, cap);
		int i = take_buf(w);
		if (i < 0)
			return QR_EIO;
		copy_spans(s->buf[i], off, len, sp, 4);
		write_buf(w, i, len);
		qw_ring_flush(&w->ring);
	}
	s->entries++;
	return 0;
}

/* The source's per-entry callback: copy into the current buffer. */
static int copy_entry(void *arg, const struct qr_wal_record *rec)
{
	struct qr_wal *w = arg;
	struct snap *s = &w->snap;

	if (rec->key_len == 0 || rec->value_len > QR_VALUE_BYTES_MAX ||
	    (rec->type == QR_WAL_TOMBSTONE && rec->value_len) ||
	    (rec->type != QR_WAL_PUT && rec->type != QR_WAL_TOMBSTONE &&
	     rec->type != QR_WAL_HINT))
		return QR_EINVAL;
	uint32_t need = (uint32_t)qr_wal_record_bytes(rec->key_len,
						      rec->value_len);
	if (need + BATCH_HDR > w->cfg.snapshot_buffer_bytes)
		return copy_large(w, rec);
	if (s->cur < 0 ||
	    s->used[s->cur] + need > w->cfg.snapshot_buffer_bytes) {
		submit_cur(w);
		int i = take_buf(w);
		if (i < 0)
			return QR_EIO;
		s->cur = i;
		s->used[i] = BATCH_HDR;
		s->recs[i] = 0;
		s->first[i] = s->entries + 1;
	}
	struct qr_wal_record r = *rec;
	qr_wal_record_encode(s->buf[s->cur] + s->used[s->cur], &r);
	s->used[s->cur] += need;
	s->recs[s->cur]++;
	s->entries++;
	return 0;
}

int qr_wal_snapshot_begin(struct qr_wal *w,
			  const struct qr_wal_snapshot_source *src)
{
	struct snap *s = &w->snap;

	if (w->cfg.mode == QR_WAL_MODE_NONE || !src ||
	    !src->for_each_in_partition)
		return QR_EINVAL;
	if (w->err)
		return w->err;
	if (s->state != SNAP_IDLE)
		return QR_EBUSY;
	s->src = *src;
	s->begin_lsn = w->appended_lsn + 1;
	s->clock = w->clock; /* every clock record below begin_lsn */
	s->end_lsn = 0;
	s->partition = 0;
	s->entries = 0;
	s->off = 0;
	s->bytes = 0;
	s->cur = -1;
	s->end_written = false;
	s->err = 0;
	if (s->begin_lsn == s->prev_lsn) { /* nothing new since the last */
		s->state = SNAP_DONE;
		return 0;
	}
	QR_WAL_PATH(s->tmp_path, "%s/snap-%04u-%016" PRIx64 ".tmp",
		    w->cfg.dir, w->cfg.shard, s->begin_lsn);
	QR_WAL_PATH(s->path, "%s/snap-%04u-%016" PRIx64 ".snap", w->cfg.dir,
		    w->cfg.shard, s->begin_lsn);
	struct io_uring_sqe *sqe = snap_sqe(w);
	io_uring_prep_openat(sqe, AT_FDCWD, s->tmp_path,
			     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
			     (w->direct ? O_DIRECT : 0), 0600);
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_SNAP_OPEN, 0));
	s->ops = 1;
	s->state = SNAP_OPENING;
	qw_ring_flush(&w->ring);
	return 0;
}

static void write_header(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	memset(s->buf[0], 0, B);
	struct qr_wal_snap_hdr *h = (void *)s->buf[0];
	*h = (struct qr_wal_snap_hdr){
		.format = QR_WAL_SNAP_FORMAT_VERSION,
		.magic = QR_WAL_SNAP_MAGIC,
		.begin_lsn = s->begin_lsn,
		.partitions = s->src.partitions,
		.shard = w->cfg.shard,
		.clock_node = s->clock.node,
		.clock_hlc = s->clock.hlc,
		.clock_lsn = s->clock.hlc ? s->clock.lsn : 0,
	};
	qr_wal_snap_hdr_seal(h);
	write_buf(w, 0, B);
}

static void write_end(struct qr_wal *w, int i)
{
	struct snap *s = &w->snap;
	memset(s->buf[i], 0, B);
	struct qr_wal_batch_hdr *h = (void *)s->buf[i];
	*h = (struct qr_wal_batch_hdr){
		.magic = QR_WAL_SNAP_END_MAGIC,
		.first_lsn = s->entries,
		.last_lsn = s->end_lsn,
		.seq = s->begin_lsn,
		.padded_bytes = B,
		.shard = w->cfg.shard,
		.format = QR_WAL_FORMAT_VERSION,
	};
	qr_wal_batch_hdr_seal(h);
	write_buf(w, i, B);
}

/* Unlink what the new snapshot covers; false when nothing is left. */
static bool delete_round(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	uint32_t n = 0;

	if (s->prev_lsn && s->prev_lsn < s->begin_lsn) {
		QR_WAL_PATH(s->unlink_paths[n], "%s/snap-%04u-%016" PRIx64
			    ".snap", w->cfg.dir, w->cfg.shard, s->prev_lsn);
		n++;
		s->prev_lsn = 0;
		w->stats.snapshots_deleted++;
	}
	while (n < QR_WAL_UNLINKS_PER_ROUND && w->known_count >= 2) {
		struct known_seg *k = &w->known[w->known_head];
		struct known_seg *nx =
			&w->known[(w->known_head + 1) % QR_WAL_KNOWN_SEGS];
		if (nx->first_lsn == 0 || nx->first_lsn > s->begin_lsn)
			break;
		if (w->cfg.prezero && k->seq >= w->run_first_seq &&
		    w->recycle_count < QR_WAL_RECYCLE_MAX) {
			/* Written whole by this run (zeros, then data), at
			 * segment_bytes: kept as a future spare. */
			w->recycle[w->recycle_count++] = k->seq;
		} else {
			QR_WAL_PATH(s->unlink_paths[n], "%s/wal-%04u-%016"
				    PRIx64 ".seg", w->cfg.dir, w->cfg.shard,
				    k->seq);
			n++;
		}
		w->known_head = (w->known_head + 1) % QR_WAL_KNOWN_SEGS;
		w->known_count--;
		w->stats.segments_deleted++;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = snap_sqe(w);
		io_uring_prep_unlinkat(sqe, AT_FDCWD, s->unlink_paths[i], 0);
		io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_SNAP_OP, 1));
	}
	s->ops = n;
	if (n)
		qw_ring_flush(&w->ring); /* the paths are read at submission */
	return n > 0;
}

static void dir_sync(struct qr_wal *w)
{
	struct io_uring_sqe *sqe = snap_sqe(w);
	io_uring_prep_fsync(sqe, w->dirfd, 0);
	io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_SNAP_OP, 0));
	w->snap.ops = 1;
}

/* The ring's handler for TAG_SNAP_* completions. */
static void snap_complete(void *ctx, uint32_t k, uint32_t idx, int res)
{
	struct qr_wal *w = ctx;
	struct snap *s = &w->snap;

	if (k == TAG_SNAP_WRITE) {
		int i = (int)(idx & 7);
		uint32_t len = idx >> 3;
		QR_ASSERT(s->busy[i] && s->writes > 0); /* S2 */
		s->busy[i] = false;
		s->writes--;
		if (res < 0 || (uint32_t)res != len)
			snap_fail(w, QR_EIO);
		return;
	}
	s->ops--;
	if (k == TAG_SNAP_OPEN) {
		if (res < 0) {
			snap_fail(w, QR_EIO);
			return;
		}
		s->fd = res;
		if (s->state == SNAP_OPENING) {
			write_header(w);
			s->state = SNAP_SCANNING;
		}
		return;
	}
	/* TAG_SNAP_OP; idx 1 = unlink, whose ENOENT is fine */
	if (res < 0 && !(idx == 1 && res == -ENOENT)) {
		if (s->state == SNAP_DELETING)
			return; /* the snapshot stands; a file stays */
		snap_fail(w, QR_EIO);
		return;
	}
	if (s->ops)
		return;
	switch (s->state) {
	case SNAP_SYNCING:
		close(s->fd); /* synced: nothing left to wait for */
		s->fd = -1;
		s->state = SNAP_WAIT_DURABLE;
		break;
	case SNAP_RENAMING:
		QR_ASSERT(w->synced_lsn >= s->end_lsn); /* S1 */
		s->state = SNAP_DELETING;
		w->stats.snapshots++;
		w->stats.snapshot_entries += s->entries;
		w->stats.snapshot_bytes += s->bytes;
		if (!delete_round(w))
			dir_sync(w);
		s->end_written = false; /* reused: dir sync issued */
		break;
	case SNAP_DELETING:
		if (idx == 1 && !delete_round(w)) {
			dir_sync(w);
			break;
		}
		if (idx == 0) {
			s->prev_lsn = s->begin_lsn;
			s->state = SNAP_DONE;
		}
		break;
	default:
		break;
	}
}

void qw_snap_init(struct qr_wal *w)
{
	qw_ring_on(&w->ring, TAG_SNAP_OPEN, snap_complete, w);
	qw_ring_on(&w->ring, TAG_SNAP_WRITE, snap_complete, w);
	qw_ring_on(&w->ring, TAG_SNAP_OP, snap_complete, w);
}

void qw_snap_poll(struct qr_wal *w)
{
	struct snap *s = &w->snap;

	if (s->state == SNAP_DRAINING && !s->writes) {
		struct io_uring_sqe *sqe = snap_sqe(w);
		io_uring_prep_fsync(sqe, s->fd, 0);
		io_uring_sqe_set_data64(sqe, qw_ring_tag(&w->ring, TAG_SNAP_OP, 0));
		s->ops = 1;
		s->state = SNAP_SYNCING;
	} else if (s->state == SNAP_WAIT_DURABLE &&
		   w->synced_lsn >= s->end_lsn) {
		QR_ASSERT(w->synced_lsn >= s->end_lsn); /* S1 */
		struct io_uring_sqe *a = snap_sqe(w), *b;
		io_uring_prep_renameat(a, AT_FDCWD, s->tmp_path, AT_FDCWD,
				       s->path, 0);
		a->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(a, qw_ring_tag(&w->ring, TAG_SNAP_OP, 0));
		b = snap_sqe(w);
		io_uring_prep_fsync(b, w->dirfd, 0);
		io_uring_sqe_set_data64(b, qw_ring_tag(&w->ring, TAG_SNAP_OP, 0));
		s->ops = 2;
		s->state = SNAP_RENAMING;
		qw_ring_flush(&w->ring);
	}
}

bool qr_wal_snapshot_active(const struct qr_wal *w)
{
	return w->snap.state != SNAP_IDLE;
}

static void cleanup_failed(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	unlink(s->tmp_path); /* start-up would remove it too */
	s->cur = -1;
}

int qr_wal_snapshot_step(struct qr_wal *w, uint32_t budget_entries)
{
	struct snap *s = &w->snap;
	uint64_t start = s->entries;

	switch (s->state) {
	case SNAP_IDLE:
		return 0;
	case SNAP_DONE:
		s->state = SNAP_IDLE;
		return 0;
	case SNAP_FAILED:
		if (s->writes || s->ops)
			return 1; /* let the I/O finish first */
		cleanup_failed(w);
		s->state = SNAP_IDLE;
		return s->err;
	case SNAP_SCANNING:
		break;
	default:
		return 1;
	}
	if (w->err) {
		snap_fail(w, w->err);
		return 1;
	}
	while (s->partition < s->src.partitions &&
	       s->entries - start < budget_entries) {
		if (free_bufs(s) < 2 && !(s->cur >= 0 && free_bufs(s) >= 1))
			break; /* wait for writes: next iteration */
		int rc = s->src.for_each_in_partition(s->src.ctx, s->partition,
						      copy_entry, w);
		if (rc) {
			snap_fail(w, rc < 0 ? rc : QR_EIO);
			return 1;
		}
		s->partition++;
	}
	if (s->partition == s->src.partitions && !s->end_written) {
		submit_cur(w);
		int i = free_buf(s);
		if (i >= 0) {
			s->end_lsn = w->appended_lsn;
			write_end(w, i);
			s->end_written = true;
			s->state = SNAP_DRAINING;
		}
	}
	qw_ring_flush(&w->ring);
	return 1;
}

void qw_snap_abandon(struct qr_wal *w)
{
	struct snap *s = &w->snap;
	if (s->state == SNAP_IDLE)
		return;
	for (uint32_t i = 0; i < 1u << 20 && (s->writes || s->ops); i++)
		qw_ring_reap(&w->ring, true);
	if (s->state != SNAP_DELETING && s->state != SNAP_DONE)
		cleanup_failed(w);
	s->state = SNAP_IDLE;
}
