/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of the real store (core/store.h) through wal_store.c: many
 * keys written with overwrites and tombstones, an incremental snapshot
 * taken while writes go on, recovery into a fresh store, and a comparison
 * of every key (version, tombstone, value, partition, lsn) against the
 * source store. The fake table of test_wal.c cannot catch a mismatch
 * between the store's iterator and the snapshot writer; this does.
 */
#include "../unit/unit.h"
#include "common/eal_local.h"
#include "core/store.h"
#include "quorate/err.h"
#include "wal_test.h"

#define KEYS 5000u
#define PARTS 64u
#define VMAX 300u

struct gen {
	uint64_t lsn;  /* last appended */
	uint64_t hlc;  /* last version stamped */
	uint64_t rng;
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static struct qr_store *make_store(const char *name)
{
	struct qr_store_config cfg = {
		.name = name,
		.entries_max = KEYS + 16,
		.partitions = PARTS,
		.arena = 0,
		.socket_id = -1,
	};
	struct qr_store *s = NULL;
	CU_ASSERT_FATAL(qr_store_create(&cfg, &s) == 0);
	return s;
}

/* One write: applied to the store, appended to the WAL. */
static void write_one(struct gen *g, struct qr_store *s, struct qr_wal *w)
{
	char key[24];
	uint8_t value[VMAX];
	uint32_t k = (uint32_t)(rnd(g) % KEYS);
	uint64_t r = rnd(g);
	bool tomb = r % 10 == 0;
	uint16_t vlen = tomb ? 0 : (uint16_t)(r >> 8) % VMAX;
	for (uint16_t i = 0; i < vlen; i++)
		value[i] = (uint8_t)(r >> (i % 48)) ^ (uint8_t)i;
	uint8_t klen = (uint8_t)snprintf(key, sizeof(key), "key-%u", k);
	g->hlc += 1 + r % 3;
	struct qr_wal_record rec = {
		.lsn = ++g->lsn,
		.type = tomb ? QR_WAL_TOMBSTONE : QR_WAL_PUT,
		.partition = k % PARTS,
		.version = { .hlc = g->hlc, .node = (uint16_t)(r % 5) },
		.key = key,
		.key_len = klen,
		.value = value,
		.value_len = vlen,
	};
	struct qr_store_write sw = {
		.partition = rec.partition,
		.version = rec.version,
		.tombstone = tomb,
		.key = key,
		.key_len = klen,
		.value = value,
		.value_len = vlen,
		.lsn = rec.lsn,
	};
	CU_ASSERT_FATAL(qr_store_apply(s, &sw, NULL) == QR_APPLY_NEWER);
	int rc;
	while ((rc = qr_wal_append(w, &rec)) == QR_EBUSY)
		qr_wal_poll(w, qr_clock_mono_us());
	CU_ASSERT_FATAL(rc == 0);
}

static int recover_into(void *arg, const struct qr_wal_record *r)
{
	struct qr_store *s = arg;
	if (r->type != QR_WAL_PUT && r->type != QR_WAL_TOMBSTONE)
		return 0;
	struct qr_store_write sw = {
		.partition = r->partition,
		.version = r->version,
		.tombstone = r->type == QR_WAL_TOMBSTONE,
		.key = r->key,
		.key_len = r->key_len,
		.value = r->value,
		.value_len = r->value_len,
		.lsn = r->lsn,
	};
	int rc = qr_store_apply(s, &sw, NULL);
	return rc < 0 ? rc : 0;
}

/* Every entry of a is in b, identical. */
struct cmp {
	const struct qr_store *other;
	uint64_t entries, tombstones, mismatches;
};

static int compare_entry(void *arg, const struct qr_store_view *v)
{
	struct cmp *c = arg;
	struct qr_store_view o;
	c->entries++;
	c->tombstones += v->tombstone;
	if (qr_store_get(c->other, v->key, v->key_len, &o) != 0 ||
	    o.version.hlc != v->version.hlc ||
	    o.version.node != v->version.node ||
	    o.tombstone != v->tombstone || o.partition != v->partition ||
	    o.lsn != v->lsn || o.value_len != v->value_len ||
	    (v->value_len && memcmp(o.value, v->value, v->value_len)))
		c->mismatches++;
	return 0;
}

static void drain(struct qr_wal *w, uint64_t lsn)
{
	uint64_t deadline = qr_clock_mono_us() + 30000000u;
	while (qr_wal_poll(w, qr_clock_mono_us()) < lsn && qr_clock_mono_us() < deadline &&
	       !qr_wal_error(w))
		;
	CU_ASSERT_FATAL(qr_wal_durable_lsn(w) >= lsn);
}

static void test_store_snapshot_roundtrip(void)
{
	char *dir = wt_tmpdir();
	struct qr_wal_config cfg;
	struct qr_wal *w = NULL;
	qr_wal_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.segment_bytes = 256 << 10;
	cfg.value_bytes_max = QR_VALUE_INLINE_MAX;
	cfg.batch_bytes_max = 32 << 10;
	cfg.snapshot_buffer_bytes = 32 << 10;
	CU_ASSERT_FATAL(qr_wal_open(&cfg, &w) == 0);
	struct qr_store *src = make_store("snapsrc");
	struct gen g = { .rng = 0x9e3779b97f4a7c15ull };

	for (int i = 0; i < 20000; i++) {
		write_one(&g, src, w);
		if (i % 64 == 0)
			qr_wal_poll(w, qr_clock_mono_us());
	}
	drain(w, g.lsn);
	struct qr_wal_snapshot_source ss;
	qr_wal_snapshot_source_store(&ss, src, PARTS);
	uint64_t begin = g.lsn + 1;
	CU_ASSERT_FATAL(qr_wal_snapshot_begin(w, &ss) == 0);
	int rc, steps = 0;
	/* Writes go on between steps (the store changes under the scan). */
	while ((rc = qr_wal_snapshot_step(w, 100)) == 1) {
		for (int i = 0; i < 40; i++)
			write_one(&g, src, w);
		qr_wal_poll(w, qr_clock_mono_us());
		steps++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(steps > 10);
	const struct qr_wal_stats *st = qr_wal_stats(w);
	CU_ASSERT_EQUAL(st->snapshots, 1);
	CU_ASSERT(st->segments_deleted > 5);
	for (int i = 0; i < 5000; i++)
		write_one(&g, src, w);
	uint64_t durable = 0;
	CU_ASSERT_EQUAL(qr_wal_close(w, &durable), 0);
	CU_ASSERT_EQUAL(durable, g.lsn);

	struct qr_store *dst = make_store("snapdst");
	struct qr_wal_recover_stats rs;
	CU_ASSERT_EQUAL(qr_wal_recover(dir, 0, NULL, recover_into, dst, &rs),
			0);
	CU_ASSERT_EQUAL(rs.snapshot_lsn, begin);
	CU_ASSERT(rs.snapshot_entries > KEYS / 2);
	CU_ASSERT_EQUAL(rs.last_lsn, g.lsn);
	CU_ASSERT_EQUAL(rs.torn_tail_truncated, 0);
	struct cmp c = { .other = dst };
	for (uint32_t p = 0; p < PARTS; p++)
		qr_store_for_each_in_partition(src, p, compare_entry, &c);
	CU_ASSERT_EQUAL(c.mismatches, 0);
	CU_ASSERT(c.tombstones > 0);
	CU_ASSERT_EQUAL(c.entries, qr_store_count(src));
	CU_ASSERT_EQUAL(qr_store_count(dst), qr_store_count(src));
	printf("\n  %llu keys (%llu tombstones), %llu snapshot entries, "
	       "%llu log records replayed ",
	       (unsigned long long)c.entries,
	       (unsigned long long)c.tombstones,
	       (unsigned long long)rs.snapshot_entries,
	       (unsigned long long)rs.records);
	qr_store_destroy(src);
	qr_store_destroy(dst);
	wt_rmdir(dir);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{ "store_snapshot_roundtrip", test_store_snapshot_roundtrip },
		{ NULL, NULL },
	};
	if (qr_eal_init_local("test_wal_store", 256) != 0) {
		fprintf(stderr, "skipped: DPDK EAL did not start\n");
		return 77;
	}
	return qr_unit_main("wal-store", cases);
}
