/* SPDX-License-Identifier: MIT */
/*
 * WAL tests for large values (issue 15): records with values of 0 B to
 * QR_VALUE_BYTES_MAX through group commit, segment rolls and recovery; a
 * record over batch_bytes_max as a batch of its own; snapshots with
 * entries larger than a snapshot buffer; a format-1 log (and format-2
 * snapshot) written by the test, read by recovery after an upgrade and
 * continued in format 2; a torn large record at the tail (cut) and a
 * corrupt one in durable data (refused); a full disk while large records
 * are appended (NO_SPACE, retried, nothing lost); hostile record headers
 * (a value length over the ceiling, the other format's length field set).
 *
 * Every record is generated from its lsn (key, version, value size and
 * bytes), so whatever recovery delivers is checked byte for byte.
 * ~3 s on the dev VM (it writes ~100 MiB: most of it 8 MiB records).
 *
 * With --corpus DIR it writes fuzz seeds for tests/wal/fuzz_wal.c instead
 * (a format-2 segment with a 70,000-byte value, a format-1 segment, a
 * format-3 snapshot with a piece-written entry).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "common/compiler.h"
#include "common/crc32c.h"
#include "quorate/err.h"
#include "wal/wal_format.h"
#include "wal_test.h"

#define SHARD 3
#define MiB (1u << 20)

/* Value sizes by lsn: mostly small, with every large size in the list. */
static const uint32_t sizes_cycle[] = {
	0, 1024, 100, 64 << 10, 200, MiB, 50, QR_VALUE_BYTES_MAX, 300, 3000,
};
#define CYCLE (sizeof(sizes_cycle) / sizeof(sizes_cycle[0]))

static uint32_t (*size_of)(uint64_t lsn);

static uint32_t size_cycle(uint64_t lsn)
{
	return sizes_cycle[(lsn - 1) % CYCLE];
}

static uint32_t size_small(uint64_t lsn)
{
	return (uint32_t)(lsn * 37 % 400);
}

static uint32_t size_mib(uint64_t lsn)
{
	return MiB + (uint32_t)(lsn % 7) * 8;
}

static void fill(uint8_t *p, uint32_t n, uint64_t seed)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t x = (seed * 0x9e3779b97f4a7c15ull) ^ (i * 0xff51afd7ull);
		memcpy(p + i, &x, QR_MIN(8u, n - i));
	}
}

static uint8_t val[QR_VALUE_BYTES_MAX + 8];
static uint8_t want[QR_VALUE_BYTES_MAX + 8];

struct gen {
	struct qr_wal_record r;
	char key[24];
};

/* The record for lsn: key "L<lsn>", version hlc = lsn << 8, value of
 * size_of(lsn) bytes filled from lsn (in buf). */
static void gen(struct gen *g, uint64_t lsn, uint8_t *buf)
{
	uint32_t n = size_of(lsn);
	memset(&g->r, 0, sizeof(g->r));
	g->r.lsn = lsn;
	g->r.type = QR_WAL_PUT;
	g->r.partition = (uint32_t)(lsn % 16);
	g->r.version = (struct qr_version){ .hlc = lsn << 8, .node = 1 };
	g->r.key_len = (uint8_t)snprintf(g->key, sizeof(g->key), "L%llu",
					 (unsigned long long)lsn);
	g->r.key = g->key;
	fill(buf, n, lsn);
	g->r.value = buf;
	g->r.value_len = n;
}

/* What recovery delivered. */
struct seen {
	uint64_t records, bad, last_lsn;
	bool in_order;
};

static int check_cb(void *arg, const struct qr_wal_record *r)
{
	struct seen *s = arg;
	struct gen g;
	if (r->type == QR_WAL_CLOCK)
		return 0;
	gen(&g, r->lsn, want);
	if (r->type != g.r.type || r->partition != g.r.partition ||
	    r->version.hlc != g.r.version.hlc || r->key_len != g.r.key_len ||
	    memcmp(r->key, g.key, g.r.key_len) ||
	    r->value_len != g.r.value_len ||
	    memcmp(r->value, want, r->value_len))
		s->bad++;
	if (s->records && r->lsn != s->last_lsn + 1)
		s->in_order = false;
	s->last_lsn = r->lsn;
	s->records++;
	return 0;
}

static int recover(const char *dir, const struct qr_wal_recover_options *o,
		   struct seen *s, struct qr_wal_recover_stats *st)
{
	memset(s, 0, sizeof(*s));
	s->in_order = true;
	return qr_wal_recover(dir, SHARD, o, check_cb, s, st);
}

static void config(struct qr_wal_config *c, const char *dir)
{
	qr_wal_config_defaults(c);
	c->dir = dir;
	c->shard = SHARD;
	c->segment_bytes = 24u << 20;
	c->batch_bytes_max = 64 << 10;
	c->prezero = false; /* half the writes: what is tested is the same */
}

static struct qr_wal *open_cfg(const struct qr_wal_config *c)
{
	struct qr_wal *w = NULL;
	CU_ASSERT_EQUAL_FATAL(qr_wal_open(c, &w), 0);
	return w;
}

static int append(struct qr_wal *w, uint64_t lsn)
{
	struct gen g;
	int rc;
	gen(&g, lsn, val);
	uint64_t t0 = qr_clock_mono_us();
	while ((rc = qr_wal_append(w, &g.r)) == QR_EBUSY &&
	       qr_clock_mono_us() - t0 < 10000000)
		qr_wal_poll(w, qr_clock_mono_us());
	return rc;
}

static bool wait_durable(struct qr_wal *w, uint64_t lsn)
{
	uint64_t t0 = qr_clock_mono_us();
	while (qr_wal_poll(w, qr_clock_mono_us()) < lsn &&
	       qr_clock_mono_us() - t0 < 10000000)
		;
	return qr_wal_durable_lsn(w) >= lsn;
}

/* Values of 0 B .. QR_VALUE_BYTES_MAX among small ones, 3 rounds: large
 * records span what used to be a batch (batch_bytes_max 64 KiB) and the
 * log rolls over several 24 MiB segments. Every record comes back. */
static void test_roundtrip_across_batches_and_segments(void)
{
	char *dir = wt_tmpdir();
	struct qr_wal_config c;
	config(&c, dir);
	c.segment_bytes = 10u << 20; /* every 8 MiB record rolls */
	size_of = size_cycle;
	struct qr_wal *w = open_cfg(&c);
	const uint64_t n = 3 * CYCLE;
	for (uint64_t l = 1; l <= n; l++) {
		CU_ASSERT_EQUAL_FATAL(append(w, l), 0);
		if (l % 3 == 0)
			qr_wal_poll(w, qr_clock_mono_us());
	}
	const struct qr_wal_stats *ws = qr_wal_stats(w);
	uint64_t ws_created = ws->segments_created;
	CU_ASSERT(ws->segments_created >= 4);
	CU_ASSERT(ws->batch_bytes_max >= QR_VALUE_BYTES_MAX);
	uint64_t durable = 0;
	CU_ASSERT_EQUAL(qr_wal_close(w, &durable), 0);
	CU_ASSERT_EQUAL(durable, n);

	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(s.records, n);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT(s.in_order);
	CU_ASSERT_EQUAL(st.last_lsn, n);
	printf("\n  segments created %llu, read %llu ",
	       (unsigned long long)ws_created, (unsigned long long)st.segments);
	CU_ASSERT(st.segments >= 3); /* 8 MiB records in 10 MiB segments */
	CU_ASSERT_EQUAL(st.torn_tail_truncated + st.garbage_ignored, 0);
	/* Over value_bytes_max: refused, nothing appended. */
	c.next_lsn = n + 1;
	c.value_bytes_max = MiB;
	w = open_cfg(&c);
	size_of = size_mib;
	CU_ASSERT_EQUAL(append(w, n + 1), QR_ETOOLARGE);
	CU_ASSERT_EQUAL(qr_wal_appended_lsn(w), n);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
	wt_rmdir(dir);
}

/* Group commit: a record over batch_bytes_max is a batch of its own;
 * small records before and after it share batches. */
static void test_large_record_alone_in_its_batch(void)
{
	char *dir = wt_tmpdir();
	struct qr_wal_config c;
	config(&c, dir);
	struct qr_wal *w = open_cfg(&c);
	uint64_t l = 1;
	size_of = size_small;
	for (; l <= 10; l++)
		CU_ASSERT_EQUAL(append(w, l), 0);
	size_of = size_mib;
	CU_ASSERT_EQUAL(append(w, l++), 0);
	size_of = size_small;
	for (; l <= 21; l++)
		CU_ASSERT_EQUAL(append(w, l), 0);
	CU_ASSERT(wait_durable(w, 21));
	const struct qr_wal_stats *ws = qr_wal_stats(w);
	CU_ASSERT_EQUAL(ws->batches, 3);
	CU_ASSERT_EQUAL(ws->batch_records_max, 10);
	CU_ASSERT(ws->batch_bytes_max > MiB);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
	wt_rmdir(dir);
}

/* ---- Snapshots with entries larger than a snapshot buffer ---- */

struct big_source {
	uint32_t n;
	uint64_t lsn[16]; /* entry i is gen(lsn[i]) */
};

static uint64_t snap_sizes[16];
static uint32_t size_table(uint64_t lsn)
{
	return (uint32_t)snap_sizes[lsn % 16];
}

static int big_each(void *ctx, uint32_t partition,
		    int (*fn)(void *arg, const struct qr_wal_record *r),
		    void *arg)
{
	struct big_source *b = ctx;
	for (uint32_t i = 0; i < b->n; i++) {
		struct gen g;
		if (b->lsn[i] % 16 != partition)
			continue;
		gen(&g, b->lsn[i], val);
		int rc = fn(arg, &g.r);
		if (rc)
			return rc;
	}
	return 0;
}

static void test_snapshot_with_large_entries(void)
{
	/* With 1 MiB buffers and 9-byte keys ("L1000000i"), 40 + 64 bytes
	 * of headers: a value of 1 MiB - 113 fills a buffer exactly; one
	 * byte more is written in pieces, as is every larger one. */
	const uint64_t exact = MiB - 64 - 40 - 9;
	const uint64_t sz[] = { 0, 1024, 64 << 10, exact, exact + 1, MiB,
				3 * MiB + 5, QR_VALUE_BYTES_MAX, 10, 20 };
	char *dir = wt_tmpdir();
	struct qr_wal_config c;
	config(&c, dir);
	c.snapshot_buffer_bytes = MiB;
	struct big_source src = { 0 };
	memset(snap_sizes, 0, sizeof(snap_sizes));
	for (uint32_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		src.lsn[src.n] = 10000000 + i; /* 10000000 % 16 == 0 */
		snap_sizes[src.lsn[src.n] % 16] = sz[i];
		src.n++;
	}
	size_of = size_table;
	c.next_lsn = 10000000 + src.n;
	struct qr_wal *w = open_cfg(&c);
	struct qr_wal_snapshot_source ss = { .ctx = &src, .partitions = 16,
					     .for_each_in_partition = big_each };
	CU_ASSERT_EQUAL_FATAL(qr_wal_snapshot_begin(w, &ss), 0);
	int rc;
	while ((rc = qr_wal_snapshot_step(w, 4)) == 1)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(qr_wal_stats(w)->snapshots, 1);
	CU_ASSERT_EQUAL(qr_wal_stats(w)->snapshot_entries, src.n);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);

	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.snapshot_entries, src.n);
	CU_ASSERT_EQUAL(s.records, src.n);
	CU_ASSERT_EQUAL(s.bad, 0);
	wt_rmdir(dir);
}

/* ---- Format 1 (before issue 15), built by hand ---- */

/* A format-1 record: value_len in the u16 at offset 30, 0 at 36. */
static uint32_t encode_v1(uint8_t *p, const struct qr_wal_record *r)
{
	struct qr_wal_rec_hdr h = {
		.len = (uint32_t)sizeof(h) + r->key_len + r->value_len,
		.lsn = r->lsn,
		.hlc = r->version.hlc,
		.partition = r->partition,
		.node = r->version.node,
		.value_len16 = (uint16_t)r->value_len,
		.type = r->type,
		.key_len = r->key_len,
		.value_len = 0,
	};
	uint32_t bytes = (uint32_t)qr_wal_record_bytes(r->key_len,
						       r->value_len);
	memset(p, 0, bytes);
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), r->key, r->key_len);
	memcpy(p + sizeof(h) + r->key_len, r->value, r->value_len);
	h.crc = qr_crc32c(0, p + 4, h.len - 4);
	memcpy(p, &h.crc, 4);
	return bytes;
}

/* A batch of records first..last (format fmt) at p; returns its bytes. */
static uint32_t batch_at(uint8_t *p, uint32_t magic, uint16_t fmt,
			 uint64_t first, uint64_t last, uint64_t seq,
			 uint64_t ord)
{
	struct qr_wal_batch_hdr *h = (void *)p;
	uint32_t off = sizeof(*h);
	for (uint64_t l = first; l <= last; l++) {
		struct gen g;
		gen(&g, l, val);
		off += fmt == QR_WAL_FORMAT_V1 ?
			encode_v1(p + off, &g.r) :
			qr_wal_record_encode(p + off, &g.r);
	}
	uint32_t padded = (uint32_t)qr_wal_align_up(off, 4096);
	memset(p + off, 0, padded - off);
	*h = (struct qr_wal_batch_hdr){ .magic = magic,
		.first_lsn = ord ? ord : first,
		.last_lsn = (ord ? ord : first) + (last - first),
		.synced_lsn = ord ? 0 : first - 1, .seq = seq,
		.records = (uint32_t)(last - first + 1),
		.data_bytes = off - (uint32_t)sizeof(*h),
		.padded_bytes = padded, .shard = SHARD, .format = fmt };
	qr_wal_batch_hdr_seal(h);
	return padded;
}

/* A format-1 segment (seq) holding lsns first..last, 5 per batch. */
static uint64_t segment_v1(uint8_t *img, uint64_t cap, uint64_t seq,
			   uint64_t first, uint64_t last)
{
	memset(img, 0, cap);
	struct qr_wal_seg_hdr *sh = (void *)img;
	*sh = (struct qr_wal_seg_hdr){ .format = QR_WAL_FORMAT_V1,
		.magic = QR_WAL_SEG_MAGIC, .seq = seq, .first_lsn = first,
		.segment_bytes = cap, .shard = SHARD };
	qr_wal_seg_hdr_seal(sh);
	uint64_t off = 4096;
	for (uint64_t l = first; l <= last; l += 5)
		off += batch_at(img + off, QR_WAL_BATCH_MAGIC,
				QR_WAL_FORMAT_V1, l, QR_MIN(l + 4, last), seq,
				0);
	CU_ASSERT_FATAL(off <= cap);
	return off;
}

/* A format-2 snapshot header (format-1 batches) over lsns first..last,
 * begin lsn B; returns its bytes. */
static uint64_t snapshot_v2(uint8_t *img, uint64_t first, uint64_t last,
			    uint64_t B)
{
	struct qr_wal_snap_hdr *h = (void *)img;
	memset(img, 0, 4096);
	*h = (struct qr_wal_snap_hdr){ .format = QR_WAL_SNAP_FORMAT_V2,
		.magic = QR_WAL_SNAP_MAGIC, .begin_lsn = B, .partitions = 16,
		.shard = SHARD };
	qr_wal_snap_hdr_seal(h);
	uint64_t off = 4096;
	off += batch_at(img + off, QR_WAL_SNAP_BATCH_MAGIC, QR_WAL_FORMAT_V1,
			first, last, B, 1);
	struct qr_wal_batch_hdr *e = (void *)(img + off);
	memset(e, 0, 4096);
	*e = (struct qr_wal_batch_hdr){ .magic = QR_WAL_SNAP_END_MAGIC,
		.first_lsn = last - first + 1, .last_lsn = B - 1, .seq = B,
		.padded_bytes = 4096, .shard = SHARD,
		.format = QR_WAL_FORMAT_V1 };
	qr_wal_batch_hdr_seal(e);
	return off + 4096;
}

static void write_file(const char *dir, const char *name, const uint8_t *p,
		       uint64_t n)
{
	char path[QR_PATH_BYTES_MAX];
	wt_path(path, sizeof(path), dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/*
 * A node upgraded in place: its data directory holds a format-2 snapshot
 * (lsns 1..20, format-1 batches) and format-1 segments (lsns 21..60, one
 * with lsns below the snapshot). Recovery reads them; the new run goes on
 * in format 2 at lsn 61; recovery reads both formats; a snapshot of the
 * new run (format 3) replaces the old one and the covered segments.
 */
static uint32_t size_upgrade(uint64_t lsn)
{
	return lsn <= 60 ? size_small(lsn) : size_cycle(lsn);
}

static void test_format1_upgrade(void)
{
	static uint8_t img[256 << 10];
	char *dir = wt_tmpdir();
	char name[64];
	size_of = size_upgrade;
	uint64_t n = snapshot_v2(img, 1, 20, 16);
	snprintf(name, sizeof(name), "snap-%04u-%016llx.snap", SHARD, 16ull);
	write_file(dir, name, img, n);
	n = segment_v1(img, 128 << 10, 1, 11, 40);
	snprintf(name, sizeof(name), "wal-%04u-%016llx.seg", SHARD, 1ull);
	write_file(dir, name, img, 128 << 10);
	n = segment_v1(img, 128 << 10, 2, 41, 60);
	snprintf(name, sizeof(name), "wal-%04u-%016llx.seg", SHARD, 2ull);
	write_file(dir, name, img, 128 << 10);

	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.snapshot_entries, 20);
	CU_ASSERT_EQUAL(st.records, 45); /* 16..60 */
	CU_ASSERT_EQUAL(st.last_lsn, 60);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(st.torn_tail_truncated + st.garbage_ignored, 0);

	/* The new run: format 2, with large values. */
	struct qr_wal_config c;
	config(&c, dir);
	c.next_lsn = 61;
	struct qr_wal *w = open_cfg(&c);
	for (uint64_t l = 61; l <= 70; l++) /* one of each size */
		CU_ASSERT_EQUAL(append(w, l), 0);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.last_lsn, 70);
	CU_ASSERT_EQUAL(st.records, 55);
	CU_ASSERT_EQUAL(s.records, 20 + 55);
	CU_ASSERT_EQUAL(s.bad, 0);

	/* A snapshot of the new run replaces the format-2 one. */
	c.next_lsn = 71;
	w = open_cfg(&c);
	struct big_source src = { .n = 3, .lsn = { 5, 62, 68 } };
	struct qr_wal_snapshot_source ss = { .ctx = &src, .partitions = 16,
					     .for_each_in_partition = big_each };
	CU_ASSERT_EQUAL(append(w, 71), 0);
	CU_ASSERT_EQUAL_FATAL(qr_wal_snapshot_begin(w, &ss), 0);
	int rc;
	while ((rc = qr_wal_snapshot_step(w, 4)) == 1)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.snapshot_lsn, 72);
	CU_ASSERT_EQUAL(st.snapshot_entries, 3);
	CU_ASSERT_EQUAL(s.records, 3);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(st.last_lsn, 71);
	wt_rmdir(dir);
}

/* ---- Tears and corruption of large records ---- */

/* The first segment's path, and the offset and extent of its first batch
 * whose data is at least min bytes. */
static bool find_batch(const char *dir, uint32_t min, char *path,
		       uint64_t *off, uint64_t *padded)
{
	struct dirent **v;
	int k = scandir(dir, &v, NULL, alphasort);
	bool found = false;
	path[0] = 0;
	for (int i = 0; i < k; i++) {
		if (!path[0] && strstr(v[i]->d_name, ".seg"))
			wt_path(path, QR_PATH_BYTES_MAX, dir, v[i]->d_name);
		free(v[i]);
	}
	free(v);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	struct qr_wal_batch_hdr h;
	for (uint64_t o = 4096;
	     pread(fd, &h, sizeof(h), (off_t)o) == (ssize_t)sizeof(h) &&
	     h.padded_bytes && h.padded_bytes % 4096 == 0;
	     o += h.padded_bytes) {
		if (h.data_bytes >= min) {
			*off = o;
			*padded = h.padded_bytes;
			found = true;
			break;
		}
	}
	close(fd);
	return found;
}

static void zero_range(const char *path, uint64_t off, uint64_t n)
{
	static uint8_t z[64 << 10];
	int fd = open(path, O_WRONLY);
	for (uint64_t done = 0; done < n; done += sizeof(z))
		CU_ASSERT(pwrite(fd, z, QR_MIN(sizeof(z), n - done),
				 (off_t)(off + done)) > 0);
	close(fd);
}

static void flip(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c = 0;
	CU_ASSERT_EQUAL_FATAL(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x20;
	CU_ASSERT_EQUAL(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* lsn 1..5 small, durable; lsn 6 with a 3 MiB value; then (if after)
 * lsn 7..11 in batches of their own, each submitted once 6 was durable. */
static uint32_t size_six(uint64_t lsn)
{
	return lsn == 6 ? 3 * MiB : 100;
}

static void write_with_large(const char *dir, bool after)
{
	struct qr_wal_config c;
	config(&c, dir);
	size_of = size_six;
	struct qr_wal *w = open_cfg(&c);
	for (uint64_t l = 1; l <= 5; l++)
		CU_ASSERT_EQUAL(append(w, l), 0);
	CU_ASSERT(wait_durable(w, 5));
	CU_ASSERT_EQUAL(append(w, 6), 0);
	CU_ASSERT(wait_durable(w, 6));
	for (uint64_t l = 7; after && l <= 11; l++) {
		CU_ASSERT_EQUAL(append(w, l), 0);
		CU_ASSERT(wait_durable(w, l));
	}
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
}

/* A crash tore the large record, the last batch: only its first part
 * reached the disk. Recovery cuts it (it was never acknowledged), and the
 * next recovery is clean. */
static void test_torn_large_record_at_the_tail(void)
{
	char *dir = wt_tmpdir();
	char path[QR_PATH_BYTES_MAX];
	uint64_t off, padded;
	write_with_large(dir, false);
	CU_ASSERT_FATAL(find_batch(dir, 3 * MiB, path, &off, &padded));
	zero_range(path, off + padded / 2, padded - padded / 2);
	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.last_lsn, 5);
	CU_ASSERT_EQUAL(s.records, 5);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(st.torn_tail_truncated, 1);
	char where[64];
	snprintf(where, sizeof(where), "offset %llu", (unsigned long long)off);
	CU_ASSERT(strstr(st.message, where) != NULL);
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.last_lsn, 5);
	CU_ASSERT_EQUAL(st.torn_tail_truncated, 0);
	wt_rmdir(dir);
}

/* One bit of a durable large record is damaged, and batches written after
 * it was durable follow: corruption, refused (or cut on purpose). */
static void test_corrupt_large_record_refused(void)
{
	char *dir = wt_tmpdir();
	char path[QR_PATH_BYTES_MAX];
	uint64_t off, padded;
	write_with_large(dir, true);
	CU_ASSERT_FATAL(find_batch(dir, 3 * MiB, path, &off, &padded));
	flip(path, off + 2 * MiB + 12345);
	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), QR_ECORRUPT);
	CU_ASSERT(strstr(st.message, "bad record checksum") != NULL);
	CU_ASSERT_EQUAL(s.records, 5);
	struct qr_wal_recover_options o = { .truncate_corrupt = true };
	CU_ASSERT_EQUAL(recover(dir, &o, &s, &st), 0);
	CU_ASSERT_EQUAL(st.corrupt_truncated, 1);
	CU_ASSERT_EQUAL(st.last_lsn, 5);
	CU_ASSERT_EQUAL(s.bad, 0);
	wt_rmdir(dir);
}

/*
 * The disk fills while 1 MiB records are appended (a 72 MiB tmpfs, 16 MiB
 * segments, a filler file takes the rest once two segments are made: the
 * next spare cannot be made). NO_SPACE, not sticky; appends
 * wait at the end of the segment, nothing is durable that is not written;
 * once space returns everything becomes durable and is recovered. Needs
 * root (mount). 72 MiB, not less: once the filler is gone the WAL rolls
 * into the third segment and at once prepares a fourth (64 MiB in all);
 * on a smaller disk that spare fails, NO_SPACE again, rightly, and
 * whether the test saw health 0 in between depended on timing (on an
 * idle machine it never did).
 */
static void test_full_disk_during_large_appends(void)
{
	char *dir = wt_tmpdir();
	if (mount("qr-wal-large", dir, "tmpfs", 0, "size=72m") != 0) {
		/* A failure, not a skip: the test command runs as root
		 * (tools/setup), and a check that silently does not run
		 * would hide a full-disk defect. */
		fprintf(stderr, "  no tmpfs mount (needs root): %s\n",
			strerror(errno));
		CU_FAIL("tmpfs mount for the full-disk case");
		wt_rmdir(dir);
		return;
	}
	struct qr_wal_config c;
	config(&c, dir);
	c.segment_bytes = 16u << 20;
	c.prezero = true;
	size_of = size_mib;
	struct qr_wal *w = open_cfg(&c);
	/* The first batch takes the first segment and starts the next one,
	 * whose fallocate and zeroing complete (tmpfs: well within 0.5 s)
	 * before the filler takes the rest. */
	CU_ASSERT_EQUAL(append(w, 1), 0);
	CU_ASSERT(wait_durable(w, 1));
	uint64_t t0 = qr_clock_mono_us();
	while (qr_clock_mono_us() - t0 < 500000)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_EQUAL(qr_wal_stats(w)->segments_created, 2);
	char filler[QR_PATH_BYTES_MAX];
	wt_path(filler, sizeof(filler), dir, "filler");
	int fd = open(filler, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	static char zeros[64 << 10];
	while (write(fd, zeros, sizeof(zeros)) > 0)
		;
	close(fd);
	uint64_t lsn = 2, deadline = qr_clock_mono_us() + 10000000u;
	while (!qr_wal_stats(w)->segment_waits &&
	       qr_clock_mono_us() < deadline) {
		struct gen g;
		gen(&g, lsn, val);
		if (qr_wal_append(w, &g.r) == 0)
			lsn++;
		qr_wal_poll(w, qr_clock_mono_us());
	}
	uint64_t last = lsn - 1;
	int eno = 0;
	CU_ASSERT_EQUAL(qr_wal_health(w, &eno), QR_ENOSPC);
	CU_ASSERT_EQUAL(eno, ENOSPC);
	CU_ASSERT_EQUAL(qr_wal_error(w), 0);
	printf("\n  %llu records before the disk was full ",
	       (unsigned long long)last);
	CU_ASSERT(last > 20); /* into the second segment */
	CU_ASSERT(qr_wal_durable_lsn(w) < last);
	CU_ASSERT_EQUAL(unlink(filler), 0);
	deadline = qr_clock_mono_us() + 5000000u;
	while ((qr_wal_health(w, NULL) || qr_wal_durable_lsn(w) < last) &&
	       qr_clock_mono_us() < deadline)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_EQUAL(qr_wal_health(w, NULL), 0);
	CU_ASSERT_EQUAL(qr_wal_durable_lsn(w), last);
	/* And it stays so: the next spare (the fourth segment) fits, past
	 * a retry's wait. */
	t0 = qr_clock_mono_us();
	while (qr_clock_mono_us() - t0 < 600000)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_EQUAL(qr_wal_health(w, NULL), 0);
	CU_ASSERT_EQUAL(qr_wal_close(w, NULL), 0);
	struct seen s;
	struct qr_wal_recover_stats st;
	CU_ASSERT_EQUAL(recover(dir, NULL, &s, &st), 0);
	CU_ASSERT_EQUAL(st.last_lsn, last);
	CU_ASSERT_EQUAL(s.records, last);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(umount(dir), 0);
	wt_rmdir(dir);
}

/* ---- Hostile record headers (parser) ---- */

static int count_cb(void *arg, const struct qr_wal_record *r)
{
	(void)r;
	(*(uint64_t *)arg)++;
	return 0;
}

/* One segment image: batch 1 (lsn 1) good, batch 2 (lsn 2) with its
 * record header changed by mut and its CRC recomputed. Batch 2 must not
 * be delivered ("inconsistent record"): a torn tail. */
static void hostile_case(uint16_t fmt, uint32_t vlen,
			 void (*mut)(struct qr_wal_rec_hdr *h))
{
	uint64_t cap = 3 * 4096 + qr_wal_align_up(64 + 48 + vlen, 4096);
	uint8_t *img = calloc(1, cap);
	CU_ASSERT_FATAL(img != NULL);
	struct qr_wal_seg_hdr *sh = (void *)img;
	*sh = (struct qr_wal_seg_hdr){ .format = fmt,
		.magic = QR_WAL_SEG_MAGIC, .seq = 1, .first_lsn = 1,
		.segment_bytes = cap, .shard = SHARD };
	qr_wal_seg_hdr_seal(sh);
	size_of = size_small;
	uint64_t off = 4096 + batch_at(img + 4096, QR_WAL_BATCH_MAGIC, fmt,
				       1, 1, 1, 0);
	/* Batch 2 by hand: one record with vlen bytes of value. */
	struct qr_wal_batch_hdr *bh = (void *)(img + off);
	struct qr_wal_rec_hdr *rh = (void *)(bh + 1);
	uint32_t len = (uint32_t)sizeof(*rh) + 1 + vlen;
	*rh = (struct qr_wal_rec_hdr){ .len = len, .lsn = 2, .hlc = 2 << 8,
		.type = QR_WAL_PUT, .key_len = 1,
		.value_len16 = fmt == QR_WAL_FORMAT_V1 ? (uint16_t)vlen : 0,
		.value_len = fmt == QR_WAL_FORMAT_V1 ? 0 : vlen };
	((uint8_t *)(rh + 1))[0] = 'k';
	mut(rh);
	rh->crc = qr_crc32c(0, (uint8_t *)rh + 4, len - 4);
	uint32_t data = (uint32_t)qr_wal_align_up(len, 8);
	*bh = (struct qr_wal_batch_hdr){ .magic = QR_WAL_BATCH_MAGIC,
		.first_lsn = 2, .last_lsn = 2, .synced_lsn = 1, .seq = 1,
		.records = 1, .data_bytes = data,
		.padded_bytes = (uint32_t)qr_wal_align_up(64 + data, 4096),
		.shard = SHARD, .format = fmt };
	qr_wal_batch_hdr_seal(bh);
	struct qr_wal_image im = { "hostile", 1, img, cap };
	struct qr_wal_parse_result res;
	uint64_t n = 0;
	CU_ASSERT_EQUAL(qr_wal_parse_log(&im, 1, SHARD, 0, count_cb, &n, &res),
			0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(res.torn);
	CU_ASSERT(strstr(res.message, "inconsistent record") != NULL);
	free(img);
}

static void mut_none(struct qr_wal_rec_hdr *h)
{
	(void)h;
}

static void mut_v2_old_len(struct qr_wal_rec_hdr *h)
{
	h->value_len16 = 1; /* format 2 keeps 0 there */
}

static void mut_v1_reserved(struct qr_wal_rec_hdr *h)
{
	h->value_len = 1; /* format 1 kept 0 there */
}

static void test_hostile_record_headers(void)
{
	/* A value over the ceiling, every length consistent and the CRC
	 * right: not a record the writer could have made. */
	hostile_case(QR_WAL_FORMAT_VERSION, QR_VALUE_BYTES_MAX + 8, mut_none);
	hostile_case(QR_WAL_FORMAT_VERSION, 16, mut_v2_old_len);
	hostile_case(QR_WAL_FORMAT_V1, 16, mut_v1_reserved);
	/* Batch format 3 is unknown: not data. */
	uint8_t *img = calloc(1, 3 * 4096);
	struct qr_wal_seg_hdr *sh = (void *)img;
	*sh = (struct qr_wal_seg_hdr){ .format = QR_WAL_FORMAT_VERSION,
		.magic = QR_WAL_SEG_MAGIC,
		.seq = 1, .first_lsn = 1, .segment_bytes = 3 * 4096,
		.shard = SHARD };
	qr_wal_seg_hdr_seal(sh);
	size_of = size_small;
	batch_at(img + 4096, QR_WAL_BATCH_MAGIC, 3, 1, 1, 1, 0);
	struct qr_wal_image im = { "fmt3", 1, img, 3 * 4096 };
	struct qr_wal_parse_result res;
	uint64_t n = 0;
	CU_ASSERT_EQUAL(qr_wal_parse_log(&im, 1, SHARD, 0, count_cb, &n, &res),
			0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT(strstr(res.message, "another file or format") != NULL);
	free(img);
}

/*
 * A segment or snapshot of a format this build does not read (a newer
 * quorated wrote it, and an older one was started on the directory): the
 * header is valid, so it is no tear; recovery refuses (DATA_DIR_MISMATCH,
 * with the format named) and changes nothing on disk, even when told to
 * cut corruption.
 */
static void test_newer_format_refused_not_cut(void)
{
	static uint8_t img[64 << 10];
	char *dir = wt_tmpdir();
	char name[64], path[QR_PATH_BYTES_MAX];
	size_of = size_small;
	segment_v1(img, sizeof(img), 1, 1, 10);
	struct qr_wal_seg_hdr *sh = (void *)img;
	sh->format = QR_WAL_FORMAT_VERSION + 1;
	qr_wal_seg_hdr_seal(sh);
	snprintf(name, sizeof(name), "wal-%04u-%016llx.seg", SHARD, 1ull);
	write_file(dir, name, img, sizeof(img));
	struct seen s;
	struct qr_wal_recover_stats st;
	struct qr_wal_recover_options o = { .truncate_corrupt = true };
	CU_ASSERT_EQUAL(recover(dir, &o, &s, &st), QR_EDATADIR);
	CU_ASSERT(strstr(st.message, "segment format 3") != NULL);
	printf("\n  message: %s ", st.message);
	wt_path(path, sizeof(path), dir, name);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, (off_t)sizeof(img)); /* not cut */
	CU_ASSERT_EQUAL(unlink(path), 0);

	uint64_t n = snapshot_v2(img, 1, 5, 6);
	struct qr_wal_snap_hdr *h = (void *)img;
	h->format = QR_WAL_SNAP_FORMAT_VERSION + 1;
	qr_wal_snap_hdr_seal(h);
	snprintf(name, sizeof(name), "snap-%04u-%016llx.snap", SHARD, 6ull);
	write_file(dir, name, img, n);
	CU_ASSERT_EQUAL(recover(dir, &o, &s, &st), QR_EDATADIR);
	CU_ASSERT(strstr(st.message, "snapshot format 4") != NULL);
	wt_rmdir(dir);
}

/* ---- Fuzz seeds (--corpus DIR) ---- */

static uint32_t size_seed(uint64_t lsn)
{
	return lsn == 3 ? 70000 : (uint32_t)(lsn * 11 % 90);
}

static void seed(const char *dir, const char *name, const uint8_t *img,
		 uint64_t n)
{
	uint8_t *p = malloc(n + 1);
	p[0] = 0; /* one image, no snapshot lsn */
	memcpy(p + 1, img, n);
	write_file(dir, name, p, n + 1);
	free(p);
}

static const char *corpus_dir;

static void write_corpus(void)
{
	const char *dir = corpus_dir;
	static uint8_t img[96 << 10];
	size_of = size_seed;
	memset(img, 0, sizeof(img));
	struct qr_wal_seg_hdr *sh = (void *)img;
	*sh = (struct qr_wal_seg_hdr){ .format = QR_WAL_FORMAT_VERSION,
		.magic = QR_WAL_SEG_MAGIC, .seq = 1, .first_lsn = 1,
		.segment_bytes = sizeof(img), .shard = 0 };
	qr_wal_seg_hdr_seal(sh);
	uint64_t off = 4096;
	off += batch_at(img + off, QR_WAL_BATCH_MAGIC, QR_WAL_FORMAT_VERSION,
			1, 2, 1, 0);
	off += batch_at(img + off, QR_WAL_BATCH_MAGIC, QR_WAL_FORMAT_VERSION,
			3, 3, 1, 0);
	off += batch_at(img + off, QR_WAL_BATCH_MAGIC, QR_WAL_FORMAT_VERSION,
			4, 6, 1, 0);
	/* The fuzz target parses shard 0: rewrite the shard fields. */
	for (uint64_t o = 4096; o < off;) {
		struct qr_wal_batch_hdr *h = (void *)(img + o);
		h->shard = 0;
		qr_wal_batch_hdr_seal(h);
		o += h->padded_bytes;
	}
	seed(dir, "v2-large-record", img, off + 4096);
	size_of = size_small;
	memset(img, 0, sizeof(img));
	off = segment_v1(img, 32 << 10, 1, 1, 12);
	sh = (void *)img;
	sh->shard = 0;
	qr_wal_seg_hdr_seal(sh);
	for (uint64_t o = 4096; o < off;) {
		struct qr_wal_batch_hdr *h = (void *)(img + o);
		h->shard = 0;
		qr_wal_batch_hdr_seal(h);
		o += h->padded_bytes;
	}
	seed(dir, "v1-segment", img, 32 << 10);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--corpus")) {
		static const struct qr_unit_case seeds[] = {
			{ "write fuzz seeds", write_corpus },
			{ NULL, NULL },
		};
		corpus_dir = argv[2];
		return qr_unit_main("wal-large-corpus", seeds);
	}
	static const struct qr_unit_case cases[] = {
		{ "0 B .. QR_VALUE_BYTES_MAX across batches and segments",
		  test_roundtrip_across_batches_and_segments },
		{ "a large record is a batch of its own",
		  test_large_record_alone_in_its_batch },
		{ "snapshot with entries larger than a buffer",
		  test_snapshot_with_large_entries },
		{ "format-1 log and format-2 snapshot read after an upgrade",
		  test_format1_upgrade },
		{ "torn large record at the tail: cut",
		  test_torn_large_record_at_the_tail },
		{ "corrupt large record in durable data: refused",
		  test_corrupt_large_record_refused },
		{ "full disk during large appends: NO_SPACE, retried",
		  test_full_disk_during_large_appends },
		{ "hostile record headers", test_hostile_record_headers },
		{ "a newer format is refused, never cut",
		  test_newer_format_refused_not_cut },
		{ NULL, NULL },
	};
	return qr_unit_main("wal-large", cases);
}
