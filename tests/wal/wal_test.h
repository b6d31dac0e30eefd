/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the WAL tests: scratch directories under $TMPDIR (removed
 * afterwards), a deterministic record generator (lsn -> key, version,
 * value) so any recovered record can be checked byte for byte, and a
 * tiny last-writer-wins table that stands in for the store.
 */
#ifndef QR_TESTS_WAL_TEST_H
#define QR_TESTS_WAL_TEST_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "core/env.h"
#include "quorate/limits.h"
#include "wal/wal.h"

static inline char *wt_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p = malloc(QR_PATH_BYTES_MAX);
	int l = snprintf(p, QR_PATH_BYTES_MAX, "%s/qr-wal.XXXXXX",
			 t && *t ? t : "/tmp");
	if (l < 0 || l >= QR_PATH_BYTES_MAX) {
		fprintf(stderr, "wt_tmpdir: TMPDIR too long\n");
		abort();
	}
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

/* out = dir/name; a path that does not fit out is a test bug: abort. */
static inline void wt_path(char *out, size_t n, const char *dir,
			   const char *name)
{
	int l = snprintf(out, n, "%s/%s", dir, name);
	if (l < 0 || (size_t)l >= n) {
		fprintf(stderr, "wt_path: %s/%s: longer than %zu bytes\n",
			dir, name, n);
		abort();
	}
}

static inline int wt_rm_one(const char *p, const struct stat *st, int flag,
			    struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline void wt_rmdir(char *dir)
{
	nftw(dir, wt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

#define WT_KEYS_DEFAULT 1000u
#define WT_PARTITIONS 16u

/* Storage for one generated record. */
struct wt_rec {
	struct qr_wal_record r;
	char key[16];
	uint8_t value[1024];
};

static inline uint32_t wt_key_of(uint64_t lsn, uint32_t keys)
{
	return (uint32_t)((lsn * 2654435761u) % keys);
}

static inline void wt_gen(struct wt_rec *g, uint64_t lsn, uint32_t keys,
			  uint16_t vmax)
{
	uint32_t k = wt_key_of(lsn, keys);
	memset(&g->r, 0, sizeof(g->r));
	g->r.lsn = lsn;
	g->r.type = lsn % 17 == 0 ? QR_WAL_TOMBSTONE : QR_WAL_PUT;
	g->r.partition = k % WT_PARTITIONS;
	g->r.version.hlc = lsn * 4;
	g->r.version.node = (uint16_t)(lsn % 3);
	g->r.key_len = (uint8_t)snprintf(g->key, sizeof(g->key), "k%07u", k);
	g->r.key = g->key;
	g->r.value_len = g->r.type == QR_WAL_PUT ?
		(uint16_t)((lsn * 31) % (vmax ? vmax : 1)) : 0;
	for (uint16_t i = 0; i < g->r.value_len; i++)
		g->value[i] = (uint8_t)(lsn * 7 + i * 13);
	g->r.value = g->value;
}

/* Does rec carry exactly what wt_gen makes for its version? */
static inline int wt_check(const struct qr_wal_record *rec, uint32_t keys,
			   uint16_t vmax)
{
	struct wt_rec g;
	uint64_t lsn = rec->version.hlc / 4;
	if (lsn == 0 || rec->version.hlc % 4)
		return -1;
	wt_gen(&g, lsn, keys, vmax);
	if (rec->type != g.r.type || rec->partition != g.r.partition ||
	    rec->version.node != g.r.version.node ||
	    rec->key_len != g.r.key_len ||
	    memcmp(rec->key, g.key, g.r.key_len) ||
	    rec->value_len != g.r.value_len ||
	    (g.r.value_len && memcmp(rec->value, g.value, g.r.value_len)))
		return -1;
	return 0;
}

/* A last-writer-wins table over key ids: version hlc per key (0: none). */
struct wt_table {
	uint32_t keys;
	uint16_t vmax;
	uint64_t *hlc;
	uint64_t *lsn;
	uint64_t applied, bad, last_lsn, out_of_order;
};

static inline void wt_table_init(struct wt_table *t, uint32_t keys,
				 uint16_t vmax)
{
	memset(t, 0, sizeof(*t));
	t->keys = keys;
	t->vmax = vmax;
	t->hlc = calloc(keys, sizeof(uint64_t));
	t->lsn = calloc(keys, sizeof(uint64_t));
}

static inline void wt_table_free(struct wt_table *t)
{
	free(t->hlc);
	free(t->lsn);
}

static inline void wt_table_apply(struct wt_table *t,
				  const struct qr_wal_record *r, uint32_t k)
{
	if (r->version.hlc > t->hlc[k]) {
		t->hlc[k] = r->version.hlc;
		t->lsn[k] = r->lsn;
	}
}

/* Recovery callback: check, then apply. */
static inline int wt_table_recover(void *arg, const struct qr_wal_record *r)
{
	struct wt_table *t = arg;
	if (wt_check(r, t->keys, t->vmax)) {
		t->bad++;
		return 0;
	}
	char kb[16] = { 0 };
	memcpy(kb, (const char *)r->key + 1, r->key_len - 1u);
	uint32_t k = (uint32_t)strtoul(kb, NULL, 10);
	if (k >= t->keys) {
		t->bad++;
		return 0;
	}
	wt_table_apply(t, r, k);
	t->applied++;
	return 0;
}

/* Snapshot source over the table: partition = key % WT_PARTITIONS. */
static inline int wt_table_for_each(void *ctx, uint32_t partition,
				    int (*fn)(void *arg,
					      const struct qr_wal_record *r),
				    void *arg)
{
	struct wt_table *t = ctx;
	for (uint32_t k = partition; k < t->keys; k += WT_PARTITIONS) {
		if (!t->hlc[k])
			continue;
		struct wt_rec g;
		wt_gen(&g, t->hlc[k] / 4, t->keys, t->vmax);
		g.r.lsn = t->lsn[k];
		int rc = fn(arg, &g.r);
		if (rc)
			return rc;
	}
	return 0;
}

static inline void wt_table_source(struct wt_table *t,
				   struct qr_wal_snapshot_source *src)
{
	src->ctx = t;
	src->partitions = WT_PARTITIONS;
	src->for_each_in_partition = wt_table_for_each;
}

/* Append lsn first..last (generated), polling until all are durable. */
static inline int wt_append_range(struct qr_wal *w, uint64_t first,
				  uint64_t last, uint32_t keys, uint16_t vmax,
				  struct wt_table *t)
{
	struct wt_rec g;
	for (uint64_t l = first; l <= last;) {
		wt_gen(&g, l, keys, vmax);
		int rc = qr_wal_append(w, &g.r);
		if (rc == QR_EBUSY) {
			qr_wal_poll(w, qr_clock_mono_us());
			continue;
		}
		if (rc)
			return rc;
		if (t)
			wt_table_apply(t, &g.r, wt_key_of(l, keys));
		l++;
	}
	uint64_t deadline = qr_clock_mono_us() + 30000000u;
	while (qr_wal_durable_lsn(w) < last && qr_clock_mono_us() < deadline) {
		qr_wal_poll(w, qr_clock_mono_us());
		if (qr_wal_error(w))
			return qr_wal_error(w);
	}
	return qr_wal_durable_lsn(w) >= last ? 0 : QR_ETIMEOUT;
}

#endif
