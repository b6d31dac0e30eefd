/* SPDX-License-Identifier: MIT */
/*
 * WAL internals shared by wal.c (appends, batches, segments) and
 * wal_snapshot.c. Not a public header. Names: qr_wal_* is the WAL's API
 * (wal.h, wal_format.h); qw_* is internal to src/wal (cross-file).
 *
 * Batch slots form a ring indexed by batch sequence number:
 *   release_seq <= submit_seq <= fill_seq,  fill_seq - release_seq < slots
 *   [release_seq, submit_seq)  submitted, released in order when done
 *   [submit_seq, fill_seq)     sealed (full), waiting for a submit slot
 *   fill_seq                   the batch being filled (may be empty)
 * slots = batches_inflight_max + 1, so a batch can always fill while the
 * maximum is in flight.
 *
 * io_uring user_data = kind << 32 | index (enum tag_kind); wal_ring.c
 * dispatches each kind to the module that registered it: TAG_BATCH_*,
 * TAG_PREP_*, TAG_BG_SYNC to wal.c, TAG_SNAP_* to wal_snapshot.c.
 *
 * Module graph (one way; wal_ring.h draws it):
 *   wal.c -> wal_snapshot.c -> wal_ring.c;  wal.c -> wal_ring.c;
 *   wal.c -> wal_recover.c (directory listing) -> wal_format.c.
 * The snapshot writer reads the log's state through struct qr_wal
 * (appended, synced lsn, clock) and owns the deletion of covered segments
 * (known[], recycle[]), but calls no function of wal.c.
 */
#ifndef QR_WAL_PVT_H
#define QR_WAL_PVT_H

#include <errno.h>
#include <liburing.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/err.h"
#include "quorate/limits.h"
#include "wal/wal.h"
#include "wal/wal_format.h"
#include "wal/wal_ring.h"

#define QR_WAL_SEGS_OPEN 4       /* current, spare, two retiring */
#define QR_WAL_SPARE_RETRY_US 500000 /* a failed spare is retried this
				      * often (disk full: until space
				      * returns) */
#define QR_WAL_SNAP_BUFS 4       /* snapshot write buffers */
#define QR_WAL_KNOWN_SEGS 65536  /* segments tracked for deletion */
#define QR_WAL_UNLINKS_PER_ROUND 32
/* Longest name the WAL makes in its directory, "/" and NUL included
 * ("/snap-0000-0123456789abcdef.snap" is 33 bytes); every path is
 * dir + name, so a dir that passes qw_dir_fits() gives paths that fit
 * QR_PATH_BYTES_MAX (limits.h L4). */
#define QR_WAL_NAME_BYTES_MAX 48
#define QR_WAL_ZERO_BYTES (1u << 20) /* one pre-zeroing write */
#define QR_WAL_ZERO_INFLIGHT 4u      /* pre-zeroing writes at once */
#define QR_WAL_RECYCLE_MAX 4u        /* covered segments kept for reuse */

enum tag_kind {
	TAG_BATCH_WRITE = 1,
	TAG_BATCH_SYNC = 2,
	TAG_PREP_OPEN = 3,
	TAG_PREP_STEP = 4,
	TAG_BG_SYNC = 5,
	TAG_SNAP_OPEN = 6,
	TAG_SNAP_WRITE = 7,
	TAG_SNAP_OP = 8,
	TAG_PREP_RENAME = 9,
	TAG_KINDS,
};
_Static_assert(TAG_KINDS <= QR_WAL_RING_KINDS, "tag kinds fit the ring");

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_INFLIGHT, SLOT_DONE };

struct batch_slot {
	uint8_t *buf;         /* block 0: segment header if rolling;
			       * from block 1: the batch */
	uint32_t bytes;       /* batch bytes used, header included */
	uint32_t records;
	uint32_t write_len;   /* bytes of the write submitted */
	uint64_t first_lsn;
	uint64_t last_lsn;
	uint64_t opened_us;   /* first append (loop time) */
	uint64_t submitted_us; /* write submitted (loop time) */
	enum slot_state state;
	uint8_t pending;      /* completions still expected */
	int8_t seg;           /* segment slot written */
};

enum seg_state {
	SEG_UNUSED,
	SEG_OPENING,   /* openat in flight */
	SEG_ALLOCATING,/* fallocate in flight */
	SEG_ZEROING,   /* zero writes in flight (cfg.prezero) */
	SEG_SYNCING,   /* fsync, dir fsync in flight */
	SEG_READY,     /* the spare */
	SEG_CURRENT,
	SEG_RETIRED,   /* closed when refs drop to 0 and clean */
};

struct seg_slot {
	enum seg_state state;
	int fd;
	uint64_t seq;
	uint64_t write_off;
	uint32_t refs;        /* batch ops and syncs in flight */
	uint8_t pending;      /* preparation completions expected */
	uint64_t zero_off;    /* next offset to zero */
	bool dirty;           /* async: written since the last sync */
	bool recycled;        /* an older segment of this run, renamed */
	int prep_errno;       /* preparation failed (first errno): the
			       * spare is abandoned once nothing is in
			       * flight, and retried later */
	char path[QR_PATH_BYTES_MAX];
	char old_path[QR_PATH_BYTES_MAX]; /* recycled: its earlier name */
};

struct known_seg {
	uint64_t seq;
	uint64_t first_lsn;   /* 0: unknown (never deleted) */
};

enum snap_state {
	SNAP_IDLE,
	SNAP_OPENING,
	SNAP_SCANNING,
	SNAP_DRAINING,
	SNAP_SYNCING,
	SNAP_WAIT_DURABLE,
	SNAP_RENAMING,
	SNAP_DELETING,
	SNAP_DONE,     /* reported once by step, then idle */
	SNAP_FAILED,   /* reported once by step, then idle */
};

struct snap {
	enum snap_state state;
	struct qr_wal_snapshot_source src;
	int fd;
	int err;
	uint64_t begin_lsn;
	uint64_t end_lsn;
	uint32_t partition;     /* next to copy */
	uint64_t entries;       /* copied so far (ordinals 1..) */
	uint64_t off;           /* next write offset */
	uint64_t bytes;
	uint8_t *buf[QR_WAL_SNAP_BUFS];
	uint32_t used[QR_WAL_SNAP_BUFS];
	uint32_t recs[QR_WAL_SNAP_BUFS];
	uint64_t first[QR_WAL_SNAP_BUFS]; /* ordinal of the first record */
	bool busy[QR_WAL_SNAP_BUFS];      /* write in flight */
	int cur;                /* buffer being filled, or -1 */
	bool end_written;
	uint32_t writes;        /* in flight */
	uint32_t ops;           /* other ops in flight */
	uint64_t prev_lsn;      /* older snapshot to delete, 0: none */
	struct qr_wal_clock clock; /* highest ceiling below begin_lsn */
	char tmp_path[QR_PATH_BYTES_MAX];
	char path[QR_PATH_BYTES_MAX];
	/* what a delete round unlinks (read by the kernel at submission) */
	char unlink_paths[QR_WAL_UNLINKS_PER_ROUND][QR_PATH_BYTES_MAX];
};

struct qr_wal {
	struct qr_wal_config cfg;
	struct qw_ring ring; /* io_uring + completion dispatch */
	int evfd;	     /* qr_wal_event_fd's eventfd, or -1 */
	int dirfd;
	bool direct;
	enum qr_wal_sync sync;
	int err;                 /* sticky: a write or sync of the log failed */
	int err_errno;           /* the errno behind err (0: a short write) */
	int spare_err;           /* the next segment could not be prepared
				  * (QR_ENOSPC, QR_EIO): not sticky, retried
				  * every QR_WAL_SPARE_RETRY_US; 0 once a
				  * spare is ready */
	int spare_errno;
	uint64_t spare_retry_us; /* when the next try may start */
	uint32_t batch_cap;      /* group commit: a batch takes more records
				  * while within this (header incl.) */
	uint32_t value_max;      /* cfg.value_bytes_max, 0 resolved */
	uint32_t slot_cap;       /* bytes a batch can hold: at least
				  * batch_cap and the largest record, which
				  * is a batch of its own (header incl.) */
	uint32_t slot_bytes;     /* block 0 + slot_cap */
	uint8_t *zero;           /* QR_WAL_ZERO_BYTES of zeros, registered */
	uint32_t zero_buf_index;
	uint32_t nslots;
	struct batch_slot *slots;
	uint64_t fill_seq, submit_seq, release_seq;
	uint64_t appended_lsn;
	uint64_t durable_lsn;    /* acks may go out up to here */
	uint64_t synced_lsn;     /* on stable storage up to here */
	uint64_t now_us;
	struct qr_wal_clock clock; /* highest QR_WAL_CLOCK ceiling appended
				    * (or cfg.clock, from recovery) */
	struct seg_slot segs[QR_WAL_SEGS_OPEN];
	int cur_seg;             /* -1: none yet */
	int spare_seg;           /* -1: none ready or preparing */
	uint64_t next_seq;       /* seq of the next segment file */
	uint64_t run_first_seq;  /* first segment of this run */
	uint64_t recycle[QR_WAL_RECYCLE_MAX]; /* seqs of covered segments of
					 * this run, kept for reuse (FIFO) */
	uint32_t recycle_count;
	/* async mode background sync */
	uint32_t bg_syncs;       /* in flight */
	uint64_t bg_target;      /* durable lsn when they were issued */
	uint64_t bg_last_us;
	struct known_seg *known; /* segments on disk, seq order */
	uint32_t known_head, known_count;
	struct snap snap;
	struct qr_wal_stats stats;
	struct qr_hist commit_lat; /* batch submitted -> written and synced */
};

/* ---- wal_spare.c: the next segment, prepared ahead ---------------------- */

/* The error a failed op's result (-errno) is reported as: a full disk (or
 * quota) is NO_SPACE, not an I/O error (issue 12 item 5). */
static inline int qw_err_of(int res)
{
	return res == -ENOSPC || res == -EDQUOT ? QR_ENOSPC : QR_EIO;
}

/* The WAL fails for good (sticky), first error wins. */
static inline void qw_fail(struct qr_wal *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* out: QR_PATH_BYTES_MAX bytes. It fits: qr_wal_open checked the dir. */
void qw_seg_path(const struct qr_wal *w, uint64_t seq, char *out);
int qw_open_flags(const struct qr_wal *w);
/* Start preparing the next spare if none is there (and no retry is due
 * later). */
void qw_spare_start(struct qr_wal *w);
/* Completions of the spare's openat and of its other preparation ops. */
void qw_spare_opened(struct qr_wal *w, int i, int res);
void qw_spare_step_done(struct qr_wal *w, int i, int res);

/* Whether dir leaves room for every name the WAL makes: checked where a
 * dir comes in (qr_wal_open, qr_wal_recover), refused with QR_EINVAL. */
static inline bool qw_dir_fits(const char *dir)
{
	return strnlen(dir, QR_PATH_BYTES_MAX) <=
	       QR_PATH_BYTES_MAX - QR_WAL_NAME_BYTES_MAX;
}

/* snprintf a path into out[QR_PATH_BYTES_MAX]. The dir was checked on the
 * way in (qw_dir_fits) and the names are the WAL's own, so it always
 * fits: asserted, never cut (limits.h L4). */
#define QR_WAL_PATH(out, ...)                                                  \
	do {                                                                   \
		_Static_assert(sizeof(out) == QR_PATH_BYTES_MAX, "path size"); \
		int k_ = snprintf((out), QR_PATH_BYTES_MAX, __VA_ARGS__);      \
		QR_ASSERT(k_ > 0 && k_ < QR_PATH_BYTES_MAX); /* L4 */         \
	} while (0)

/* wal_snapshot.c, called by wal.c only (never the other way) */
/* Register the snapshot's completion handlers on w->ring (at open). */
void qw_snap_init(struct qr_wal *w);
/* Advance the snapshot's state machine (from qr_wal_poll). */
void qw_snap_poll(struct qr_wal *w);
/* Wait for the snapshot's I/O and drop it (from qr_wal_close). */
void qw_snap_abandon(struct qr_wal *w);

/* wal_recover.c */
struct file_ent {
	uint64_t num; /* seq (segment) or begin lsn (snapshot) */
	char name[64];
};
int qw_list_files(const char *dir, uint16_t shard, const char *prefix,
		      const char *ext, struct file_ent **out);
uint64_t qw_segment_first_lsn(const char *dir, const char *name,
				  uint16_t shard, uint64_t seq);

#endif
