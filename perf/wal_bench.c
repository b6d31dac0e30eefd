/* SPDX-License-Identifier: MIT */
/*
 * wal-bench: durable appends per second and ack latency of the WAL, and
 * the baseline it must beat (one pwrite + fdatasync per record). One run,
 * one line of key=value figures; perf/wal-bench runs it several times and
 * prints medians. Latency = from qr_wal_append() to the qr_wal_poll() that
 * reported the record durable, closed loop with `outstanding` records in
 * flight. Modes:
 *   wal-bench --dir D [--size B] [--outstanding N] [--seconds S]
 *             [--mode fsync|async|none] [--sync fdatasync|dsync]
 *             [--direct auto|on|off] [--inflight K] [--wait-us W]
 *             [--batch-kib K] [--prezero 0|1] [--snapshot-mib M]
 *     (--snapshot-mib: a snapshot per M MiB of log, so the covered
 *      segments are recycled: the steady state of a server)
 *   wal-bench --dir D --baseline [--size B] [--seconds S]
 *   wal-bench --dir D --recover-gib G [--size B]
 *                                          (write G GiB of B-byte records,
 *                                           default 1024; time recovery)
 * --size B: the whole record on disk (40 B header + 11 B key + value),
 * 48 B up to 51 B + QR_VALUE_BYTES_MAX.
 *   wal-bench --dir D --soak S [--keys K]  (overwrite soak, snapshots,
 *                                           disk use every 10 s)
 * Cost notes: the loop spins (poll-mode, like the shard core).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "quorate/err.h"
#include "quorate/limits.h"
#include "wal/wal.h"

#define LAT_MAX (16u << 20) /* latencies kept per run */

static uint64_t qr_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Percentiles of lat[0..n) in microseconds (sorts lat). */
static void pct(uint32_t *lat, uint64_t n, double *p50, double *p99,
		double *p999)
{
	if (!n) {
		*p50 = *p99 = *p999 = 0;
		return;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	*p50 = lat[n / 2] / 1000.0;
	*p99 = lat[(uint64_t)(n * 0.99)] / 1000.0;
	*p999 = lat[(uint64_t)(n * 0.999)] / 1000.0;
}

struct opts {
	const char *dir;
	uint32_t size;
	bool size_given;       /* --size: also the size of --recover-gib's */
	uint32_t outstanding;
	double seconds;
	enum qr_wal_mode mode;
	enum qr_wal_sync sync;
	enum qr_wal_direct direct;
	uint32_t inflight;
	uint32_t wait_us;
	uint32_t keys;
	uint32_t batch_kib;    /* 0: default */
	int prezero;           /* -1: default */
	uint32_t snapshot_mib; /* steady state: a snapshot (empty source) per
				* this many MiB of log, so covered segments
				* are recycled; 0: none */
};

/* An empty snapshot source: the snapshot only moves the begin lsn. */
static int empty_for_each(void *ctx, uint32_t part,
			  int (*fn)(void *arg, const struct qr_wal_record *r),
			  void *arg)
{
	(void)ctx;
	(void)part;
	(void)fn;
	(void)arg;
	return 0;
}

static void gen(struct qr_wal_record *r, uint64_t lsn, uint32_t size,
		uint32_t keys, char *key, const uint8_t *value)
{
	uint32_t k = (uint32_t)((lsn * 2654435761u) % keys);
	r->lsn = lsn;
	r->type = QR_WAL_PUT;
	r->partition = k % 64;
	r->version.hlc = lsn;
	r->version.node = 1;
	r->key_len = (uint8_t)snprintf(key, 16, "k%010u", k);
	r->key = key;
	/* size = whole record on disk: 40 B header + key + value */
	r->value_len = size > 40u + r->key_len ? size - 40u - r->key_len : 0;
	r->value = value;
}

static const char *mode_name(enum qr_wal_mode m)
{
	return m == QR_WAL_MODE_FSYNC ? "fsync" :
	       m == QR_WAL_MODE_ASYNC ? "async" : "none(memory-only)";
}

static void open_cfg(const struct opts *o, struct qr_wal_config *cfg,
		     uint64_t next)
{
	qr_wal_config_defaults(cfg);
	cfg->dir = o->dir;
	cfg->mode = o->mode;
	cfg->sync = o->sync;
	cfg->direct_io = o->direct;
	cfg->next_lsn = next;
	if (o->inflight)
		cfg->batches_inflight_max = o->inflight;
	cfg->batch_wait_us_max = o->wait_us;
	if (o->batch_kib)
		cfg->batch_bytes_max = o->batch_kib << 10;
	if (o->prezero >= 0)
		cfg->prezero = o->prezero;
}

/* Record bytes (values up to QR_VALUE_BYTES_MAX: --size up to ~8 MiB). */
static uint8_t rec_value[QR_VALUE_BYTES_MAX + 64];

static int run_wal(const struct opts *o)
{
	struct qr_wal_config cfg;
	struct qr_wal *w;
	char key[16];
	open_cfg(o, &cfg, 1);
	int rc = qr_wal_open(&cfg, &w);
	if (rc) {
		fprintf(stderr, "open: %s\n", qr_strerror(rc));
		return 1;
	}
	uint64_t *t_app = calloc(o->outstanding, sizeof(uint64_t));
	uint32_t *lat = malloc(LAT_MAX * sizeof(uint32_t));
	uint64_t nlat = 0, next = 1, durable = 0, busy = 0;
	uint64_t t0 = qr_clock_mono_ns(), warm = t0 + 200000000ull, t_meas = 0;
	uint64_t end = warm + (uint64_t)(o->seconds * 1e9), acked0 = 0;
	struct qr_wal_record r;
	struct qr_wal_snapshot_source empty = { NULL, 1, empty_for_each };
	uint64_t snap_next = (uint64_t)o->snapshot_mib << 20;
	for (;;) {
		uint64_t now = qr_clock_mono_ns();
		if (now >= end)
			break;
		if (o->snapshot_mib && qr_wal_snapshot_active(w)) {
			rc = qr_wal_snapshot_step(w, 1024);
			if (rc < 0) {
				fprintf(stderr, "snapshot: %s\n",
					qr_strerror(rc));
				return 1;
			}
		} else if (o->snapshot_mib &&
			   qr_wal_stats(w)->record_bytes >= snap_next) {
			snap_next += (uint64_t)o->snapshot_mib << 20;
			if (qr_wal_snapshot_begin(w, &empty) == 0)
				qr_wal_snapshot_step(w, 1024);
		}
		if (!t_meas && now >= warm) {
			t_meas = now;
			acked0 = durable;
		}
		while (next - durable <= o->outstanding) {
			gen(&r, next, o->size, 1u << 20, key, rec_value);
			rc = qr_wal_append(w, &r);
			if (rc == QR_EBUSY) {
				busy++;
				break;
			}
			if (rc) {
				fprintf(stderr, "append: %s\n",
					qr_strerror(rc));
				return 1;
			}
			t_app[next % o->outstanding] = now;
			next++;
		}
		uint64_t d = qr_wal_poll(w, now / 1000);
		if (d > durable) {
			uint64_t t = qr_clock_mono_ns();
			for (uint64_t l = durable + 1; l <= d; l++)
				if (t_meas && nlat < LAT_MAX)
					lat[nlat++] = (uint32_t)qr_min_u64(
						t - t_app[l % o->outstanding],
						UINT32_MAX);
			durable = d;
		}
		if (qr_wal_error(w)) {
			fprintf(stderr, "wal error\n");
			return 1;
		}
	}
	double secs = (qr_clock_mono_ns() - t_meas) / 1e9;
	double rate = (durable - acked0) / secs;
	const struct qr_wal_stats s = *qr_wal_stats(w);
	bool direct = qr_wal_direct(w);
	enum qr_wal_sync sync = qr_wal_sync_method(w);
	qr_wal_close(w, NULL);
	double p50, p99, p999;
	pct(lat, nlat, &p50, &p99, &p999);
	printf("kind=wal mode=%s sync=%s direct=%d size=%u outstanding=%u "
	       "inflight=%u wait_us=%u appends_per_s=%.0f p50_us=%.1f "
	       "p99_us=%.1f p999_us=%.1f batches=%llu records_per_batch=%.1f "
	       "busy=%llu batch_kib=%u prezero=%d snapshot_mib=%u "
	       "segments_created=%llu segments_recycled=%llu "
	       "segment_waits=%llu mib_per_s=%.0f\n", mode_name(o->mode),
	       o->mode != QR_WAL_MODE_FSYNC ? "-" :
	       sync == QR_WAL_SYNC_DSYNC ? "dsync" : "fdatasync", direct,
	       o->size, o->outstanding, cfg.batches_inflight_max, o->wait_us,
	       rate, p50, p99, p999, (unsigned long long)s.batches,
	       s.batches ? (double)s.appends / s.batches : 0.0,
	       (unsigned long long)busy, cfg.batch_bytes_max >> 10,
	       cfg.prezero, o->snapshot_mib,
	       (unsigned long long)s.segments_created,
	       (unsigned long long)s.segments_recycled,
	       (unsigned long long)s.segment_waits,
	       rate * (double)s.record_bytes / (double)(s.appends ? s.appends
							       : 1) /
	       (1 << 20));
	free(t_app);
	free(lat);
	return 0;
}

static int run_baseline(const struct opts *o)
{
	char path[QR_PATH_BYTES_MAX];
	uint8_t *buf = rec_value;
	int l = snprintf(path, sizeof(path), "%s/baseline.dat", o->dir);
	if (l < 0 || (size_t)l >= sizeof(path)) {
		fprintf(stderr, "wal-bench: %s: path too long\n", o->dir);
		return 1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || posix_fallocate(fd, 0, 256 << 20)) {
		perror(path);
		return 1;
	}
	fsync(fd);
	uint32_t *lat = malloc(LAT_MAX * sizeof(uint32_t));
	uint32_t *sync_lat = malloc(LAT_MAX * sizeof(uint32_t));
	uint64_t n = 0, off = 0;
	uint64_t t0 = qr_clock_mono_ns(), end = t0 + (uint64_t)(o->seconds * 1e9);
	memset(buf, 0xab, sizeof(rec_value));
	while (qr_clock_mono_ns() < end && n < LAT_MAX) {
		uint64_t a = qr_clock_mono_ns();
		if (pwrite(fd, buf, o->size, (off_t)off) != (ssize_t)o->size)
			return 1;
		uint64_t b = qr_clock_mono_ns();
		if (fdatasync(fd))
			return 1;
		uint64_t c = qr_clock_mono_ns();
		lat[n] = (uint32_t)(c - a);
		sync_lat[n] = (uint32_t)(c - b);
		n++;
		off = (off + o->size) % (256u << 20);
	}
	double secs = (qr_clock_mono_ns() - t0) / 1e9;
	double p50, p99, p999, s50, s99, s999;
	pct(lat, n, &p50, &p99, &p999);
	pct(sync_lat, n, &s50, &s99, &s999);
	printf("kind=baseline size=%u appends_per_s=%.0f p50_us=%.1f "
	       "p99_us=%.1f p999_us=%.1f fdatasync_p50_us=%.1f "
	       "fdatasync_p99_us=%.1f\n", o->size, n / secs, p50, p99, p999,
	       s50, s99);
	close(fd);
	unlink(path);
	free(lat);
	free(sync_lat);
	return 0;
}

static int count_rec(void *arg, const struct qr_wal_record *r)
{
	(void)r;
	(*(uint64_t *)arg)++;
	return 0;
}

static int run_recover(const struct opts *o, double gib)
{
	struct qr_wal_config cfg;
	struct qr_wal *w;
	char key[16];
	struct opts a = *o;
	a.mode = QR_WAL_MODE_ASYNC;
	open_cfg(&a, &cfg, 1);
	cfg.batch_bytes_max = 1 << 20;
	if (qr_wal_open(&cfg, &w))
		return 1;
	uint64_t bytes = (uint64_t)(gib * (1ull << 30)), lsn = 1;
	struct qr_wal_record r;
	while (qr_wal_stats(w)->record_bytes < bytes) {
		gen(&r, lsn, o->size_given ? o->size : 1024, 1u << 20, key,
		    rec_value);
		if (qr_wal_append(w, &r) == 0)
			lsn++;
		else
			qr_wal_poll(w, qr_clock_mono_ns() / 1000);
	}
	qr_wal_close(w, NULL);
	sync();
	int cold = 0;
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (dc >= 0) {
		cold = write(dc, "1", 1) == 1;
		close(dc);
	}
	struct qr_wal_recover_stats st;
	uint64_t n = 0;
	int rc = qr_wal_recover(o->dir, 0, NULL, count_rec, &n, &st);
	printf("kind=recover size=%u gib=%.2f records=%llu segments=%llu "
	       "time_ms=%.1f gib_per_s=%.2f cache=%s rc=%s\n",
	       o->size_given ? o->size : 1024,
	       st.bytes / (double)(1ull << 30), (unsigned long long)n,
	       (unsigned long long)st.segments, st.time_us / 1000.0,
	       st.bytes / (double)(1ull << 30) / (st.time_us / 1e6),
	       cold ? "cold" : "warm", qr_strerror(rc));
	return rc ? 1 : 0;
}

/* ---- soak: overwrite a small key set, snapshot, watch disk use ---- */

struct soak_table {
	uint32_t keys;
	uint64_t *lsn;
};

static int soak_for_each(void *ctx, uint32_t part,
			 int (*fn)(void *, const struct qr_wal_record *),
			 void *arg)
{
	struct soak_table *t = ctx;
	static uint8_t value[1024];
	char key[16];
	for (uint32_t k = part; k < t->keys; k += 64) {
		if (!t->lsn[k])
			continue;
		struct qr_wal_record r;
		gen(&r, t->lsn[k], 256, t->keys, key, value);
		r.partition = k % 64;
		r.key_len = (uint8_t)snprintf(key, 16, "k%010u", k);
		int rc = fn(arg, &r);
		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t sum = 0;
	char p[QR_PATH_BYTES_MAX];
	while (d && (e = readdir(d))) {
		struct stat st;
		int l = snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		bool fits = l >= 0 && (size_t)l < sizeof(p);
		/* A path too long to name cannot be stat()ed: not counted. */
		if (fits && e->d_name[0] != '.' && stat(p, &st) == 0)
			sum += (uint64_t)st.st_blocks * 512;
	}
	if (d)
		closedir(d);
	return sum;
}

static int run_soak(const struct opts *o, double seconds)
{
	struct qr_wal_config cfg;
	struct qr_wal *w;
	static uint8_t value[1024];
	char key[16];
	struct soak_table t = { o->keys, calloc(o->keys, sizeof(uint64_t)) };
	struct qr_wal_snapshot_source src = { &t, 64, soak_for_each };
	open_cfg(o, &cfg, 1);
	cfg.segment_bytes = 16 << 20;
	if (qr_wal_open(&cfg, &w))
		return 1;
	uint64_t t0 = qr_clock_mono_ns(), next_print = t0, lsn = 1, max_disk = 0;
	uint64_t end = t0 + (uint64_t)(seconds * 1e9), snap_at = 0;
	struct qr_wal_record r;
	while (qr_clock_mono_ns() < end) {
		for (int i = 0; i < 64; i++) {
			gen(&r, lsn, 256, o->keys, key, value);
			if (qr_wal_append(w, &r))
				break;
			t.lsn[(lsn * 2654435761u) % o->keys] = lsn;
			lsn++;
		}
		qr_wal_poll(w, qr_clock_mono_ns() / 1000);
		/* a snapshot per 64 MiB of log */
		const struct qr_wal_stats *s = qr_wal_stats(w);
		if (!qr_wal_snapshot_active(w) &&
		    s->bytes_written - snap_at > (64u << 20)) {
			snap_at = s->bytes_written;
			qr_wal_snapshot_begin(w, &src);
		}
		if (qr_wal_snapshot_active(w) &&
		    qr_wal_snapshot_step(w, 256) < 0) {
			fprintf(stderr, "snapshot failed\n");
			return 1;
		}
		uint64_t now = qr_clock_mono_ns();
		if (now >= next_print) {
			uint64_t du = dir_bytes(o->dir);
			if (du > max_disk)
				max_disk = du;
			printf("soak t=%.0fs appends=%llu log_written_mib=%.0f "
			       "snapshots=%llu segments_deleted=%llu "
			       "disk_mib=%.1f\n", (now - t0) / 1e9,
			       (unsigned long long)lsn - 1,
			       s->bytes_written / 1048576.0,
			       (unsigned long long)s->snapshots,
			       (unsigned long long)s->segments_deleted,
			       du / 1048576.0);
			fflush(stdout);
			next_print = now + 10000000000ull;
		}
	}
	const struct qr_wal_stats s = *qr_wal_stats(w);
	qr_wal_close(w, NULL);
	uint64_t du = dir_bytes(o->dir);
	printf("kind=soak seconds=%.0f keys=%u appends=%llu "
	       "log_written_mib=%.0f snapshots=%llu max_disk_mib=%.1f "
	       "final_disk_mib=%.1f\n", seconds, o->keys,
	       (unsigned long long)lsn - 1, s.bytes_written / 1048576.0,
	       (unsigned long long)s.snapshots, max_disk / 1048576.0,
	       du / 1048576.0);
	free(t.lsn);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .size = 64, .outstanding = 1, .seconds = 3,
			  .mode = QR_WAL_MODE_FSYNC, .keys = 10000,
			  .prezero = -1 };
	bool baseline = false;
	double recover_gib = 0, soak = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "--baseline")) {
			baseline = true;
			continue;
		}
		i++;
		if (!strcmp(a, "--dir"))
			o.dir = v;
		else if (!strcmp(a, "--size"))
			o.size = (uint32_t)atoi(v), o.size_given = true;
		else if (!strcmp(a, "--outstanding"))
			o.outstanding = (uint32_t)atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--inflight"))
			o.inflight = (uint32_t)atoi(v);
		else if (!strcmp(a, "--wait-us"))
			o.wait_us = (uint32_t)atoi(v);
		else if (!strcmp(a, "--batch-kib"))
			o.batch_kib = (uint32_t)atoi(v);
		else if (!strcmp(a, "--prezero"))
			o.prezero = atoi(v) != 0;
		else if (!strcmp(a, "--snapshot-mib"))
			o.snapshot_mib = (uint32_t)atoi(v);
		else if (!strcmp(a, "--keys"))
			o.keys = (uint32_t)atoi(v);
		else if (!strcmp(a, "--recover-gib"))
			recover_gib = atof(v);
		else if (!strcmp(a, "--soak"))
			soak = atof(v);
		else if (!strcmp(a, "--mode"))
			o.mode = !strcmp(v, "async") ? QR_WAL_MODE_ASYNC :
				 !strcmp(v, "none") ? QR_WAL_MODE_NONE :
						      QR_WAL_MODE_FSYNC;
		else if (!strcmp(a, "--sync"))
			o.sync = !strcmp(v, "dsync") ? QR_WAL_SYNC_DSYNC :
				 !strcmp(v, "fdatasync") ?
				 QR_WAL_SYNC_FDATASYNC : QR_WAL_SYNC_DEFAULT;
		else if (!strcmp(a, "--direct"))
			o.direct = !strcmp(v, "on") ? QR_WAL_DIRECT_ON :
				   !strcmp(v, "off") ? QR_WAL_DIRECT_OFF :
						       QR_WAL_DIRECT_AUTO;
		else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	if (!o.dir || !o.outstanding || o.size < 48 ||
	    o.size > 40 + 11 + QR_VALUE_BYTES_MAX) {
		fprintf(stderr, "usage: see the comment at the top of "
			"perf/wal_bench.c\n");
		return 2;
	}
	if (baseline)
		return run_baseline(&o);
	if (recover_gib > 0)
		return run_recover(&o, recover_gib);
	if (soak > 0)
		return run_soak(&o, soak);
	return run_wal(&o);
}
