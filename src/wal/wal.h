/* SPDX-License-Identifier: MIT */
/*
 * quorate write-ahead log: one per shard core, io_uring, group commit.
 * On-disk formats: docs/wal.md. DESIGN.md section 6.
 *
 * The shard loop drives it and it never blocks on disk after qr_wal_open():
 *   core's wal_append effect -> qr_wal_append()   (copy into a batch buffer)
 *   once per loop iteration  -> qr_wal_poll(now)  (submit due batch, reap)
 *                            -> qr_core_on_wal_durable(returned lsn)
 *   when it wants            -> qr_wal_snapshot_begin() then
 *                               qr_wal_snapshot_step() each iteration
 *   SIGTERM                  -> qr_wal_close()    (drains, syncs; blocks)
 * At start, before qr_wal_open(): qr_wal_recover() replays snapshot + log
 * through a callback (feed qr_core_recover()) and gives the next lsn.
 *
 * Invariants:
 *  - lsns appended are exactly 1 + the previous one (cfg.next_lsn first);
 *  - the durable lsn only grows and never passes an lsn whose batch is not
 *    on disk (mode fsync) / written (mode async); acks are released in lsn
 *    order even when batches complete out of order;
 *  - at most batches_inflight_max batches are submitted and not released;
 *    a full pipeline is back-pressure (QR_EBUSY), never a wait;
 *  - all memory (batch buffers, registered with io_uring) is allocated at
 *    open; append copies and computes a CRC32C, nothing else;
 *  - after an I/O error of the log the WAL is failed for good (sticky
 *    QR_EIO, or QR_ENOSPC): no retry of a failed fdatasync (its dirty
 *    pages may already be dropped). A failure to prepare the next segment
 *    (disk full) is not sticky: retried, reported by qr_wal_health().
 * Not thread-safe: one per shard core.
 */
#ifndef QR_WAL_WAL_H
#define QR_WAL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"
#include "quorate/limits.h"

/*
 * Direction: wal -> core, never core -> wal. The record the core hands to
 * the WAL (struct qr_wal_record, enum qr_wal_type) is part of the core's
 * environment (core/env.h), the port its I/O adapters implement, as
 * canonical/raft's raft_io defines the entries its I/O backends store. The
 * WAL is one such adapter, so it includes that header; the core includes
 * nothing from src/wal (tests/meta/check-layout enforces both).
 */
#include "core/env.h"

struct qr_wal;

/* An error message: room for two full paths and the reason, so no path in
 * it is ever cut (include/quorate/limits.h L4). */
#define QR_WAL_MESSAGE_BYTES (2 * QR_PATH_BYTES_MAX + 512)

enum qr_wal_mode {
	QR_WAL_MODE_FSYNC = 0, /* ack when the batch is on stable storage */
	QR_WAL_MODE_ASYNC = 1, /* ack when written (page cache); sync later */
	QR_WAL_MODE_NONE = 2,  /* memory only: no I/O (benchmarks, labelled) */
};

enum qr_wal_sync {
	QR_WAL_SYNC_DEFAULT = 0, /* the faster one measured: see docs/wal.md */
	QR_WAL_SYNC_FDATASYNC = 1, /* write, then linked IORING_OP_FSYNC */
	QR_WAL_SYNC_DSYNC = 2,     /* one write with RWF_DSYNC */
};

enum qr_wal_direct {
	QR_WAL_DIRECT_AUTO = 0, /* O_DIRECT unless the file system refuses */
	QR_WAL_DIRECT_ON = 1,   /* O_DIRECT or fail to open */
	QR_WAL_DIRECT_OFF = 2,  /* page cache */
};

/* The highest HLC ceiling (QR_WAL_CLOCK record) seen: hlc 0 means none. */
struct qr_wal_clock {
	uint64_t hlc;  /* version.hlc of the record: the ceiling */
	uint64_t lsn;  /* the record's lsn */
	uint16_t node; /* version.node of the record */
};

struct qr_wal_config {
	const char *dir;             /* data directory (exists) */
	uint16_t shard;              /* shard core id: names the files */
	enum qr_wal_mode mode;
	enum qr_wal_sync sync;
	enum qr_wal_direct direct_io;
	uint64_t next_lsn;           /* first lsn this run appends (>= 1) */
	uint64_t segment_bytes;      /* preallocated segment size */
	uint32_t batch_bytes_max;    /* group commit: records join a batch
				      * while it stays within this; a record
				      * larger than it gets a batch of its
				      * own (one write all the same) */
	uint32_t value_bytes_max;    /* largest value a record may carry
				      * (0: QR_VALUE_BYTES_MAX, the
				      * ceiling); each batch buffer holds
				      * the largest record, so this sizes
				      * the WAL's memory (docs/wal.md) */
	uint32_t batch_wait_us_max;  /* a batch waits for company this long
				      * at most, and only while others are in
				      * flight (an idle disk gets it at once);
				      * QR_WAL_WAIT_WHILE_BUSY: as long as any
				      * batch is in flight (full batches still
				      * go out, up to batches_inflight_max) */
	uint32_t batches_inflight_max; /* submitted, not yet released */
	uint32_t snapshot_buffer_bytes; /* each of the 4 snapshot buffers */
	uint32_t async_sync_us;      /* mode async: background sync period */
	struct qr_wal_clock clock;   /* highest QR_WAL_CLOCK ceiling already
				      * in the directory: pass
				      * qr_wal_recover_stats.clock. A
				      * snapshot carries the max of it and of
				      * every clock record appended, since it
				      * deletes the segments holding them */
	bool prezero;                /* write zeros over new segments ahead
				      * of use: on ext4 a write into an
				      * fallocate'd (unwritten) extent makes
				      * every fdatasync commit the journal */
};

/* batch_wait_us_max: a batch that is not full waits until no batch is in
 * flight (one fdatasync at a time for small records; what quorated uses,
 * docs/wal.md "Group commit in quorated"). */
#define QR_WAL_WAIT_WHILE_BUSY UINT32_MAX

/* Defaults: fsync mode, 64 MiB segments, 512 KiB batches, 2 in flight,
 * values up to QR_VALUE_BYTES_MAX. */
void qr_wal_config_defaults(struct qr_wal_config *cfg);

struct qr_wal_stats {
	uint64_t appends;           /* records accepted */
	uint64_t append_busy;       /* QR_EBUSY answers (back-pressure) */
	uint64_t batches;           /* batches submitted */
	uint64_t fsyncs;            /* fdatasync ops (linked or background) */
	uint64_t dsync_writes;      /* RWF_DSYNC writes */
	uint64_t bytes_written;     /* to segments, padding included */
	uint64_t record_bytes;      /* record bytes appended */
	uint64_t batch_records_max; /* largest batch, records */
	uint64_t batch_bytes_max;   /* largest batch, bytes */
	uint64_t segments_created;
	uint64_t segments_deleted;  /* covered by a snapshot (unlinked, or
				     * kept for reuse) */
	uint64_t segments_recycled; /* spares made from covered segments
				     * (renamed, no fallocate, no zeroing) */
	uint64_t segment_waits;     /* submit delayed: next segment not ready */
	uint64_t spare_failures;    /* next segment could not be prepared
				     * (e.g. ENOSPC); retried */
	uint64_t snapshots;         /* completed */
	uint64_t snapshot_entries;  /* written, all snapshots */
	uint64_t snapshot_bytes;
	uint64_t snapshot_stalls;   /* step waited for a snapshot buffer */
	uint64_t snapshots_deleted;
};

/*
 * Open the WAL for appending at cfg->next_lsn (qr_wal_recover() gives it).
 * Creates the first segment (blocking: this is start-up). Never appends to
 * a segment of an earlier run. 0 and *out, or QR_EINVAL (config, or
 * direct_io ON refused), QR_ENOMEM, QR_EIO.
 */
int qr_wal_open(const struct qr_wal_config *cfg, struct qr_wal **out);

/*
 * Copy rec into the batch being filled (the one copy of its value: the
 * buffer is the one written). rec->lsn must be exactly one past the last
 * lsn appended. 0, or QR_EBUSY (every buffer in flight: retry after a
 * poll), QR_ETOOLARGE (value over cfg.value_bytes_max), QR_EINVAL (bad
 * lsn, type or key), QR_EIO (the WAL has failed). Never blocks.
 */
int qr_wal_append(struct qr_wal *w, const struct qr_wal_record *rec);

/*
 * Once per loop iteration: reap completions, submit the filling batch when
 * due, advance segment preparation and snapshot I/O. Returns the durable
 * lsn (every lsn <= it may be acknowledged). No blocking syscall: at most
 * one io_uring_enter to submit.
 */
uint64_t qr_wal_poll(struct qr_wal *w, uint64_t now_us);

/*
 * For a loop that sleeps when idle (shard/idle_wait.h): when qr_wal_poll
 * must run next without a completion to wake it, in now_us time: 0 for
 * at once (records appended and not submitted to an idle disk, a full
 * batch with a slot free, sqes not yet submitted, mode none with records
 * not yet durable), the end of a
 * batch's wait or of mode async's sync period, else limit_us. Work in
 * flight completes on the ring, which signals qr_wal_event_fd.
 */
uint64_t qr_wal_next_due_us(const struct qr_wal *w, uint64_t limit_us);
/*
 * An eventfd the ring signals on every completion (io_uring_register_
 * eventfd), made at the first call and closed by qr_wal_close; read it to
 * reset it. -1 in mode none (no ring: nothing completes), or a negative
 * enum qr_err (QR_EIO: eventfd or registration refused).
 */
int qr_wal_event_fd(struct qr_wal *w);

uint64_t qr_wal_durable_lsn(const struct qr_wal *w);
uint64_t qr_wal_appended_lsn(const struct qr_wal *w);
/* 0, or the sticky error after an I/O failure of the log (QR_ENOSPC if
 * the write failed for space, else QR_EIO). */
int qr_wal_error(const struct qr_wal *w);
/*
 * Whether the WAL can take writes: 0, the sticky error, or the error of
 * the last failed preparation of the next segment (QR_ENOSPC on a full
 * disk; retried every QR_WAL_SPARE_RETRY_US, 0 again once a spare is
 * ready). *os_errno (if not NULL) gets the errno behind it (0: none, or a
 * short write). The shard loop stops taking writes while it is not 0.
 */
int qr_wal_health(const struct qr_wal *w, int *os_errno);
/* Whether the segments are written with O_DIRECT. */
bool qr_wal_direct(const struct qr_wal *w);
/* The sync method in use (never QR_WAL_SYNC_DEFAULT). */
enum qr_wal_sync qr_wal_sync_method(const struct qr_wal *w);
const struct qr_wal_stats *qr_wal_stats(const struct qr_wal *w);
/* Per batch: submitted to written (and, in fsync mode, synced), loop time
 * at the poll that saw it complete. Read by the management thread. */
const struct qr_hist *qr_wal_commit_latency(const struct qr_wal *w);

/*
 * Submit everything, wait for it and sync (blocking: for shutdown), abandon
 * a snapshot in progress, close files, free. Returns 0 or the sticky error;
 * *durable_lsn (if not NULL) gets the final durable lsn. w is freed either
 * way.
 */
int qr_wal_close(struct qr_wal *w, uint64_t *durable_lsn);

/* ---- Snapshots (incremental, driven from the loop) ---- */

/*
 * What a snapshot reads: partitions 0..partitions-1, each iterated whole by
 * for_each_in_partition, which calls fn once per entry and stops early if
 * fn returns non-zero (returning that value). Records passed to fn carry
 * type QR_WAL_PUT or QR_WAL_TOMBSTONE and the entry's lsn.
 */
struct qr_wal_snapshot_source {
	void *ctx;
	uint32_t partitions;
	int (*for_each_in_partition)(void *ctx, uint32_t partition,
				     int (*fn)(void *arg,
					       const struct qr_wal_record *rec),
				     void *arg);
};

struct qr_store;
/* A source over a qr_store (src/wal/wal_store.c). *src keeps the pointer. */
void qr_wal_snapshot_source_store(struct qr_wal_snapshot_source *src,
				  const struct qr_store *store,
				  uint32_t partitions);

/*
 * Start a fuzzy snapshot at begin lsn = appended lsn + 1. src is copied;
 * its ctx must stay valid until the snapshot ends. 0, or QR_EBUSY (one is
 * running), QR_EINVAL, QR_EIO.
 */
int qr_wal_snapshot_begin(struct qr_wal *w,
			  const struct qr_wal_snapshot_source *src);
/*
 * Copy up to about budget_entries entries (whole partitions) into the
 * snapshot buffers and submit full ones. Returns 1 while the snapshot is
 * still running (call again next iteration), 0 once it is complete (file
 * durable and renamed, covered segments and older snapshots deleted), or a
 * negative error (the snapshot is abandoned; the log is intact).
 */
int qr_wal_snapshot_step(struct qr_wal *w, uint32_t budget_entries);
bool qr_wal_snapshot_active(const struct qr_wal *w);

/* ---- Recovery ---- */

struct qr_wal_recover_options {
	bool truncate_corrupt; /* cut the log at mid-log corruption on
				* purpose (loses what follows) instead of
				* refusing to start */
	bool read_only;        /* change nothing on disk (tools, tests) */
};

struct qr_wal_recover_stats {
	uint64_t snapshot_lsn;      /* begin lsn of the snapshot used, or 0 */
	uint64_t snapshot_entries;  /* entries loaded from it */
	uint64_t records;           /* log records replayed */
	uint64_t records_skipped;   /* log records below the snapshot */
	uint64_t segments;          /* segment files read */
	uint64_t bytes;             /* bytes read (segments + snapshot) */
	uint64_t last_lsn;          /* last durable lsn: open at last + 1 */
	uint64_t torn_tail_truncated; /* 1 if a torn tail was cut */
	uint64_t torn_batches_dropped; /* in-flight batches after the tear */
	uint64_t corrupt_truncated;  /* 1 if truncate_corrupt cut the log */
	uint64_t garbage_ignored;    /* junk outside the data, harmless */
	uint64_t files_deleted;      /* empty / cut-off segments removed */
	uint64_t time_us;            /* wall time of the recovery */
	struct qr_wal_clock clock;   /* highest QR_WAL_CLOCK ceiling
				      * delivered (snapshot or log): give it
				      * to qr_wal_open() in cfg.clock */
	char message[QR_WAL_MESSAGE_BYTES]; /* error or truncation: "<file>: offset
				      * N: <reason>" */
};

/*
 * Replay shard's snapshot (if any) and log from dir, in this order: the
 * snapshot's clock ceiling as a QR_WAL_CLOCK record (lsn below the begin
 * lsn; only if one had been logged), every entry of the newest snapshot,
 * then every log record with lsn >= the snapshot's begin lsn, in lsn order. Apply must be idempotent and keep the
 * highest version (the store's rule). fn returning non-zero stops recovery
 * with that value. A torn tail is truncated (unless read_only) and counted;
 * corruption before the tail returns QR_ECORRUPT with stats->message naming
 * file and offset, unless opt->truncate_corrupt. 0 or a negative error; the
 * stats are filled either way. opt may be NULL.
 */
int qr_wal_recover(const char *dir, uint16_t shard,
		   const struct qr_wal_recover_options *opt,
		   int (*fn)(void *arg, const struct qr_wal_record *rec),
		   void *arg, struct qr_wal_recover_stats *stats);

/* ---- Data-directory identity (wal_ident.c) ---- */

#define QR_WAL_IDENT_FILE "IDENTITY" /* in the data directory */

/*
 * Bind dir to (cluster_id, node_id), as Cassandra checks its saved cluster
 * name: a node must never serve, or spread by anti-entropy, another
 * cluster's or another node's data. No IDENTITY file: with init, or on a
 * directory that holds files (WAL files of a build from before IDENTITY),
 * one is written (temporary file, fsync, rename, directory fsync) and 0
 * returned; an empty directory without init is refused (QR_EDATADIR, msg
 * says why: a node that lost its data must not rejoin as if it held it,
 * wal_ident.c I3). A file
 * naming the same pair: 0. Another pair: QR_EDATADIR, and msg says which
 * cluster and node the directory belongs to. An unreadable or malformed
 * file: QR_ECORRUPT (or QR_EIO), with msg. Call before recovery.
 */
int qr_wal_dir_bind(const char *dir, uint32_t cluster_id, uint16_t node_id,
		    bool init, char *msg, size_t msg_len);

#endif
