/* SPDX-License-Identifier: MIT */
/*
 * Recovery from the data directory: pick the newest snapshot, replay it,
 * then the log segments from the snapshot's begin lsn (docs/wal.md,
 * "Recovery"). Start-up code: it blocks, reads with mmap, and may allocate.
 *
 * Invariants (cited at the QR_ASSERTs; damaged files give QR_ECORRUPT
 * and a message, never an abort):
 *  V1. nothing is written unless the parse decided (torn tail, or
 *      truncate_corrupt on purpose), and nothing at all in read_only mode.
 *  V2. segments wholly below the snapshot are removed in seq order, so the
 *      remaining log is always contiguous from its first segment.
 *  V3. the cut lies within the segments parsed: first <= cut <= n; every
 *      kept segment is fdatasync'ed before returning, so what was replayed
 *      is durable even if it was written in async mode.
 *  V4. every path is dir + one of the WAL's names and fits
 *      QR_PATH_BYTES_MAX: the dir is checked on entry (QR_EINVAL), each
 *      path asserted where it is built (QR_WAL_PATH, limits.h L4).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/clock.h"
#include "quorate/err.h"
#include "wal/wal.h"
#include "wal/wal_format.h"
#include "wal/wal_pvt.h"

#define FILES_MAX 65536u /* segments + snapshots in one directory */

static int cmp_ent(const void *a, const void *b)
{
	const struct file_ent *x = a, *y = b;
	return x->num < y->num ? -1 : x->num > y->num;
}

int qw_list_files(const char *dir, uint16_t shard, const char *prefix,
		      const char *ext, struct file_ent **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t n = 0, cap = 16;
	struct file_ent *v;
	char want[32];

	*out = NULL;
	if (!d)
		return errno == ENOENT ? QR_EINVAL : QR_EIO;
	v = malloc(cap * sizeof(*v));
	if (!v) {
		closedir(d);
		return QR_ENOMEM;
	}
	snprintf(want, sizeof(want), "%s-%04u-", prefix, shard);
	while ((e = readdir(d))) {
		size_t wl = strlen(want), el = strlen(ext);
		size_t nl = strlen(e->d_name);
		char *end;
		if (nl != wl + 16 + 1 + el || strncmp(e->d_name, want, wl) ||
		    e->d_name[wl + 16] != '.' ||
		    strcmp(e->d_name + wl + 17, ext))
			continue;
		uint64_t num = strtoull(e->d_name + wl, &end, 16);
		if (end != e->d_name + wl + 16)
			continue;
		if (n == FILES_MAX)
			break;
		if (n == cap) {
			struct file_ent *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return QR_ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[n].num = num;
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_ent);
	*out = v;
	return (int)n;
}

struct mapped {
	int fd;
	void *addr;
	uint64_t len;
	char path[QR_PATH_BYTES_MAX];
};

static int map_file(const char *dir, const char *name, struct mapped *m)
{
	struct stat st;

	QR_WAL_PATH(m->path, "%s/%s", dir, name);
	m->addr = NULL;
	m->len = 0;
	m->fd = open(m->path, O_RDWR | O_CLOEXEC);
	if (m->fd < 0)
		m->fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0 || fstat(m->fd, &st) < 0)
		return QR_EIO;
	m->len = (uint64_t)st.st_size;
	if (m->len == 0)
		return 0;
	m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		return QR_EIO;
	}
	madvise(m->addr, m->len, MADV_SEQUENTIAL);
	return 0;
}

static void unmap_file(struct mapped *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->addr = NULL;
	m->fd = -1;
}

static void remove_file(const char *dir, const char *name,
			struct qr_wal_recover_stats *st)
{
	char path[QR_PATH_BYTES_MAX];
	QR_WAL_PATH(path, "%s/%s", dir, name);
	if (unlink(path) == 0)
		st->files_deleted++;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return QR_EIO;
	int rc = fsync(fd);
	close(fd);
	return rc ? QR_EIO : 0;
}

/* Newest snapshot: replay it. 0 (maybe none), QR_ECORRUPT, fn's value. */
static int load_snapshot(const char *dir, uint16_t shard, bool read_only,
			 qr_wal_record_fn fn, void *arg,
			 struct qr_wal_recover_stats *st)
{
	struct file_ent *snaps = NULL, *tmps = NULL;
	int n = qw_list_files(dir, shard, "snap", "snap", &snaps);
	int nt = qw_list_files(dir, shard, "snap", "tmp", &tmps);
	int rc = 0;

	if (n < 0 || nt < 0) {
		rc = n < 0 ? n : nt;
		goto out;
	}
	if (!read_only)
		for (int i = 0; i < nt; i++) /* unfinished snapshots */
			remove_file(dir, tmps[i].name, st);
	if (n == 0)
		goto out;

	struct mapped m;
	struct qr_wal_snap_info info;
	rc = map_file(dir, snaps[n - 1].name, &m);
	if (rc) {
		snprintf(st->message, sizeof(st->message),
			 "%s: cannot read: %s", m.path, strerror(errno));
		unmap_file(&m);
		goto out;
	}
	struct qr_wal_image img = { .name = m.path, .seq = snaps[n - 1].num,
				    .data = m.addr, .len = m.len };
	rc = qr_wal_parse_snapshot(&img, shard, fn, arg, &info);
	st->bytes += m.len;
	unmap_file(&m);
	if (rc == QR_ECORRUPT || rc == QR_EDATADIR) {
		snprintf(st->message, sizeof(st->message), "%s",
			 info.message);
		goto out;
	}
	if (rc)
		goto out;
	if (info.begin_lsn != snaps[n - 1].num) {
		snprintf(st->message, sizeof(st->message),
			 "%s: offset 0: begin lsn does not match the name",
			 img.name);
		rc = QR_ECORRUPT;
		goto out;
	}
	st->snapshot_lsn = info.begin_lsn;
	st->snapshot_entries = info.entries;
	if (!read_only)
		for (int i = 0; i < n - 1; i++) /* superseded */
			remove_file(dir, snaps[i].name, st);
out:
	free(snaps);
	free(tmps);
	return rc;
}

/* First lsn in a segment's header, or 0 if unreadable. */
uint64_t qw_segment_first_lsn(const char *dir, const char *name,
				  uint16_t shard, uint64_t seq)
{
	char path[QR_PATH_BYTES_MAX];
	struct qr_wal_seg_hdr h, c;
	QR_WAL_PATH(path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t r = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (r != (ssize_t)sizeof(h))
		return 0;
	c = h;
	qr_wal_seg_hdr_seal(&c);
	if (c.crc != h.crc || h.magic != QR_WAL_SEG_MAGIC ||
	    (h.format != QR_WAL_FORMAT_VERSION &&
	     h.format != QR_WAL_FORMAT_V1) || /* an upgraded node's */
	    h.shard != shard || h.seq != seq)
		return 0;
	return h.first_lsn;
}

/* Between the parsers and the caller's fn: note the highest ceiling. */
struct clock_tap {
	qr_wal_record_fn fn;
	void *arg;
	struct qr_wal_clock *clock;
};

static int tap_record(void *arg, const struct qr_wal_record *rec)
{
	struct clock_tap *t = arg;
	if (rec->type == QR_WAL_CLOCK && rec->version.hlc > t->clock->hlc)
		*t->clock = (struct qr_wal_clock){ .hlc = rec->version.hlc,
			.lsn = rec->lsn, .node = rec->version.node };
	return t->fn ? t->fn(t->arg, rec) : 0;
}

/* Drop segments wholly below the snapshot, in seq order (V2); returns
 * the index of the first one kept. */
static int drop_covered(const char *dir, uint16_t shard, bool read_only,
			const struct file_ent *segs, int n,
			struct qr_wal_recover_stats *st)
{
	int first = 0;
	while (st->snapshot_lsn && first + 1 < n) {
		uint64_t f = qw_segment_first_lsn(dir, segs[first + 1].name,
						      shard,
						      segs[first + 1].num);
		if (f == 0 || f > st->snapshot_lsn)
			break;
		QR_ASSERT(segs[first].num < segs[first + 1].num); /* V2 */
		if (!read_only)
			remove_file(dir, segs[first].name, st);
		first++;
	}
	return first;
}

/* Map segments first..n-1 into maps[] and imgs[]. */
static int map_segments(const char *dir, const struct file_ent *segs,
			int first, int n, struct mapped *maps,
			struct qr_wal_image *imgs, struct qr_wal_recover_stats *st)
{
	for (int i = first; i < n; i++) {
		int rc = map_file(dir, segs[i].name, &maps[i]);
		if (rc) {
			snprintf(st->message, sizeof(st->message),
				 "%s: cannot read: %s", maps[i].path,
				 strerror(errno));
			return rc;
		}
		imgs[i] = (struct qr_wal_image){ .name = maps[i].path,
			.seq = segs[i].num, .data = maps[i].addr,
			.len = maps[i].len };
		st->bytes += maps[i].len;
		st->segments++;
	}
	return 0;
}

/* Cut the log where the parse said, drop what follows, sync what stays. */
static int cut_log(const char *dir, const struct file_ent *segs, int first,
		   int n, const struct mapped *maps,
		   const struct qr_wal_parse_result *res,
		   struct qr_wal_recover_stats *st)
{
	int cut = first + (int)res->cut_image;
	uint64_t cut_off = res->cut_offset;
	if (!res->torn && !res->corrupt) {
		if (!res->has_data) {
			cut = first; /* nothing valid at all: empty spares */
			cut_off = 0;
		} else {
			cut = first + (int)res->last_data_image + 1;
			cut_off = 0;
		}
	}
	QR_ASSERT(cut >= first && cut <= n); /* V3 */
	for (int i = first; i < n; i++) {
		if (i < cut) {
			if (maps[i].fd >= 0 && fdatasync(maps[i].fd) < 0)
				return QR_EIO;
			continue;
		}
		if (i == cut && cut_off > 0) {
			if (ftruncate(maps[i].fd, (off_t)cut_off) < 0 ||
			    fsync(maps[i].fd) < 0)
				return QR_EIO;
			continue;
		}
		remove_file(dir, segs[i].name, st);
	}
	return sync_dir(dir);
}

/* Replay the log segments after the snapshot, then cut (unless
 * read_only). */
static int replay_log(const char *dir, uint16_t shard,
		      const struct qr_wal_recover_options *opt,
		      qr_wal_record_fn fn, void *arg,
		      struct qr_wal_recover_stats *st)
{
	struct file_ent *segs = NULL;
	struct mapped *maps = NULL;
	struct qr_wal_image *imgs = NULL;
	struct qr_wal_parse_result res;
	int n, first, rc;

	n = qw_list_files(dir, shard, "wal", "seg", &segs);
	if (n < 0)
		return n;
	first = drop_covered(dir, shard, opt->read_only, segs, n, st);
	maps = calloc((size_t)n + 1, sizeof(*maps));
	imgs = calloc((size_t)n + 1, sizeof(*imgs));
	if (!maps || !imgs) {
		rc = QR_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		maps[i].fd = -1;
	rc = map_segments(dir, segs, first, n, maps, imgs, st);
	if (rc)
		goto out;
	rc = qr_wal_parse_log(imgs + first, (uint32_t)(n - first), shard,
			      st->snapshot_lsn, fn, arg, &res);
	st->records = res.records;
	st->records_skipped = res.records_skipped;
	st->last_lsn = res.last_lsn;
	st->torn_batches_dropped = res.dropped_batches;
	st->garbage_ignored = res.garbage_ignored;
	if (res.message[0])
		snprintf(st->message, sizeof(st->message), "%s", res.message);
	if (rc && rc != QR_ECORRUPT)
		goto out; /* fn's error, or QR_EDATADIR: a format this build
			   * does not read is never cut */
	if (rc == QR_ECORRUPT && !opt->truncate_corrupt)
		goto out;
	if (rc == QR_ECORRUPT)
		st->corrupt_truncated = 1;
	else if (res.torn)
		st->torn_tail_truncated = 1;
	rc = opt->read_only ? 0 : cut_log(dir, segs, first, n, maps, &res, st);
out:
	for (int i = 0; maps && i < n; i++)
		unmap_file(&maps[i]);
	free(maps);
	free(imgs);
	free(segs);
	return rc;
}

int qr_wal_recover(const char *dir, uint16_t shard,
		   const struct qr_wal_recover_options *opt,
		   int (*fn)(void *arg, const struct qr_wal_record *rec),
		   void *arg, struct qr_wal_recover_stats *st)
{
	static const struct qr_wal_recover_options none;
	uint64_t t0 = qr_clock_mono_us();

	if (!opt)
		opt = &none;
	memset(st, 0, sizeof(*st));
	if (!dir)
		return QR_EINVAL;
	if (!qw_dir_fits(dir)) { /* V4: refused, never cut */
		snprintf(st->message, sizeof(st->message),
			 "data directory: path longer than %d bytes",
			 QR_PATH_BYTES_MAX - QR_WAL_NAME_BYTES_MAX);
		return QR_EINVAL;
	}
	struct clock_tap tap = { fn, arg, &st->clock };
	int rc = load_snapshot(dir, shard, opt->read_only, tap_record, &tap,
			       st);
	if (!rc)
		rc = replay_log(dir, shard, opt, tap_record, &tap, st);
	st->time_us = qr_clock_mono_us() - t0;
	return rc;
}
