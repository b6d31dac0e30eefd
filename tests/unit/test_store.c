/* SPDX-License-Identifier: MIT */
/*
 * Per-shard store (core/store.h): create's argument checks; insert and get;
 * last-writer-wins (newer replaces, older and equal change nothing, hlc ties
 * go to the higher node); tombstones and resurrection; the size limits; a
 * full table; values growing and shrinking in place and by reallocation,
 * also from a value that aliases the entry; set_lsn; remove; iteration by
 * partition; 64-bit hash collisions (forced through store_pvt.h); allocation
 * failure (a jemalloc arena whose extent hooks stop giving memory); and a
 * seeded model test of 100k random operations against plain arrays. Every
 * test ends with qr_store_check(), the store's own invariant walk.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jemalloc/jemalloc.h>

#include "common/compiler.h"
#include "common/eal_local.h"
#include "common/rng.h"
#include "core/store.h"
#include "core/store_pvt.h"
#include "core/wire.h"
#include "quorate/err.h"
#include "unit.h"

#define SOCKET_ANY (-1)

/* Names only label the index's memory; each store gets its own anyway.
 * value_max: the config's value_bytes_max (0: QR_VALUE_BYTES_MAX). */
static struct qr_store *store_new_vmax(uint32_t entries_max,
				       uint32_t partitions, unsigned arena,
				       uint32_t value_max)
{
	static unsigned seq;
	struct qr_store_config cfg = {
		.entries_max = entries_max,
		.partitions = partitions,
		.arena = arena,
		.socket_id = SOCKET_ANY,
		.value_bytes_max = value_max,
	};
	struct qr_store *s = NULL;
	char name[24];

	snprintf(name, sizeof(name), "tstore%u", seq++);
	cfg.name = name;
	CU_ASSERT_FATAL(qr_store_create(&cfg, &s) == 0);
	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static struct qr_store *store_new(uint32_t entries_max, uint32_t partitions,
				  unsigned arena)
{
	return store_new_vmax(entries_max, partitions, arena, 0);
}

static void store_done(struct qr_store *s)
{
	CU_ASSERT(qr_store_check(s) == 0);
	qr_store_destroy(s);
}

static struct qr_store_write wr(const char *key, uint32_t partition,
				uint64_t hlc, uint16_t node, const char *value)
{
	return (struct qr_store_write){
		.partition = partition,
		.version = {hlc, node},
		.tombstone = value == NULL,
		.key = key,
		.key_len = (uint8_t)strlen(key),
		.value = value,
		.value_len = value ? (uint16_t)strlen(value) : 0,
		.lsn = hlc * 10,
	};
}

static int put(struct qr_store *s, const char *key, uint64_t hlc, uint16_t node,
	       const char *value)
{
	struct qr_store_write w = wr(key, 0, hlc, node, value);

	return qr_store_apply(s, &w, NULL);
}

/* The store holds key with this value (NULL: a tombstone) and version. */
static bool holds(const struct qr_store *s, const char *key, uint64_t hlc,
		  uint16_t node, const char *value)
{
	struct qr_store_view v;
	size_t n = value ? strlen(value) : 0;

	if (qr_store_get(s, key, (uint8_t)strlen(key), &v) != 0)
		return false;
	return v.version.hlc == hlc && v.version.node == node &&
	       v.tombstone == (value == NULL) && v.value_len == n &&
	       memcmp(v.value, value ? value : "", n) == 0 &&
	       v.key_len == strlen(key) && memcmp(v.key, key, v.key_len) == 0;
}

static bool absent(const struct qr_store *s, const char *key)
{
	struct qr_store_view v;

	return qr_store_get(s, key, (uint8_t)strlen(key), &v) == QR_ENOTFOUND;
}

static void test_create_rejects_bad_config(void)
{
	struct qr_store_config cfg = {
		.name = "tcreate",
		.entries_max = 16,
		.partitions = 4,
		.arena = 0,
		.socket_id = SOCKET_ANY,
	};
	struct qr_store *s = NULL, *t = NULL;
	struct qr_store_config bad;

	CU_ASSERT(qr_store_create(NULL, &s) == QR_EINVAL);
	CU_ASSERT(qr_store_create(&cfg, NULL) == QR_EINVAL);
	bad = cfg;
	bad.name = NULL;
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	bad.name = "";
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	bad = cfg;
	bad.entries_max = 0;
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	bad = cfg;
	bad.partitions = 0;
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	bad = cfg;
	bad.arena = 1u << 20; /* no such jemalloc arena */
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	bad = cfg;
	bad.value_bytes_max = QR_VALUE_BYTES_MAX + 1; /* over the ceiling */
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	CU_ASSERT(s == NULL);

	bad = cfg;
	bad.entries_max = (1u << 30) + 1; /* over the index's limit */
	CU_ASSERT(qr_store_create(&bad, &s) == QR_EINVAL);
	CU_ASSERT(s == NULL);

	/* A name is a label: long ones and one shared by two stores are
	 * fine (they were refused while the index was an rte_hash). */
	bad = cfg;
	bad.name = "a-store-name-longer-than-rte_hash-took";
	CU_ASSERT_FATAL(qr_store_create(&bad, &t) == 0);
	CU_ASSERT_FATAL(qr_store_create(&cfg, &s) == 0);
	CU_ASSERT(put(s, "k", 1, 0, "in s") == QR_APPLY_NEWER);
	CU_ASSERT(absent(t, "k")); /* separate tables */
	store_done(t);
	CU_ASSERT(qr_store_count(s) == 1);
	store_done(s);
	qr_store_destroy(NULL);
}

static void test_insert_then_get(void)
{
	struct qr_store *s = store_new(64, 4, 0);
	struct qr_store_write w = wr("alpha", 3, 100, 2, "one");
	struct qr_store_view cur, v;

	memset(&cur, 0, sizeof(cur));
	CU_ASSERT(absent(s, "alpha"));
	CU_ASSERT(qr_store_apply(s, &w, &cur) == QR_APPLY_NEWER);
	CU_ASSERT(cur.partition == 3 && cur.version.hlc == 100 &&
		  cur.version.node == 2 && !cur.tombstone && cur.lsn == 1000);
	CU_ASSERT(cur.value_len == 3 && memcmp(cur.value, "one", 3) == 0);
	CU_ASSERT(qr_store_count(s) == 1);

	CU_ASSERT_FATAL(qr_store_get(s, "alpha", 5, &v) == 0);
	CU_ASSERT(v.partition == 3 && v.version.hlc == 100 &&
		  v.version.node == 2 && !v.tombstone && v.lsn == 1000);
	CU_ASSERT(v.key_len == 5 && memcmp(v.key, "alpha", 5) == 0);
	CU_ASSERT(v.value_len == 3 && memcmp(v.value, "one", 3) == 0);
	/* Prefixes and extensions of a key are other keys. */
	CU_ASSERT(qr_store_get(s, "alph", 4, &v) == QR_ENOTFOUND);
	CU_ASSERT(qr_store_get(s, "alphab", 6, &v) == QR_ENOTFOUND);
	CU_ASSERT(qr_store_get(s, "", 0, &v) == QR_ENOTFOUND);
	CU_ASSERT(absent(s, "beta"));

	/* An empty value is a value, not a tombstone. */
	CU_ASSERT(put(s, "empty", 5, 0, "") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "empty", 5, 0, ""));
	CU_ASSERT(qr_store_count(s) == 2);
	store_done(s);
}

static void test_newer_replaces_older_and_same_change_nothing(void)
{
	struct qr_store *s = store_new(64, 1, 0);
	struct qr_store_write w;
	struct qr_store_view cur;

	CU_ASSERT(put(s, "k", 10, 1, "ten") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k", 20, 1, "twenty") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 20, 1, "twenty"));

	/* Older: ignored, and cur shows what we hold. */
	w = wr("k", 0, 15, 1, "fifteen");
	CU_ASSERT(qr_store_apply(s, &w, &cur) == QR_APPLY_OLDER);
	CU_ASSERT(cur.version.hlc == 20 && cur.lsn == 200 &&
		  cur.value_len == 6 && memcmp(cur.value, "twenty", 6) == 0);
	CU_ASSERT(holds(s, "k", 20, 1, "twenty"));
	CU_ASSERT(put(s, "k", 1, 9, NULL) == QR_APPLY_OLDER);
	CU_ASSERT(holds(s, "k", 20, 1, "twenty"));

	/* Same version: nothing changes, not even the value or lsn. */
	w = wr("k", 0, 20, 1, "other");
	w.lsn = 77;
	CU_ASSERT(qr_store_apply(s, &w, &cur) == QR_APPLY_SAME);
	CU_ASSERT(cur.lsn == 200 && cur.value_len == 6);
	CU_ASSERT(holds(s, "k", 20, 1, "twenty"));
	CU_ASSERT(qr_store_count(s) == 1);
	store_done(s);
}

static void test_hlc_tie_goes_to_higher_node(void)
{
	struct qr_store *s = store_new(64, 1, 0);

	CU_ASSERT(put(s, "k", 100, 1, "n1") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k", 100, 2, "n2") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 100, 2, "n2"));
	CU_ASSERT(put(s, "k", 100, 1, "n1 again") == QR_APPLY_OLDER);
	CU_ASSERT(put(s, "k", 100, 2, "n2 again") == QR_APPLY_SAME);
	CU_ASSERT(holds(s, "k", 100, 2, "n2"));
	/* hlc outranks node. */
	CU_ASSERT(put(s, "k", 99, 0xffff, "old") == QR_APPLY_OLDER);
	CU_ASSERT(put(s, "k", 101, 0, "new") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 101, 0, "new"));
	store_done(s);
}

static void test_tombstones(void)
{
	struct qr_store *s = store_new(64, 1, 0);
	struct qr_store_write w;
	struct qr_store_view v;

	CU_ASSERT(put(s, "k", 10, 0, "live") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k", 20, 0, NULL) == QR_APPLY_NEWER);
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	CU_ASSERT(v.tombstone && v.value_len == 0 && v.version.hlc == 20);
	CU_ASSERT(qr_store_count(s) == 1); /* tombstones stay, and count */

	/* An older put does not resurrect it, a newer one does. */
	CU_ASSERT(put(s, "k", 15, 0, "zombie") == QR_APPLY_OLDER);
	CU_ASSERT(holds(s, "k", 20, 0, NULL));
	CU_ASSERT(put(s, "k", 20, 0, NULL) == QR_APPLY_SAME);
	CU_ASSERT(put(s, "k", 30, 0, "back") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 30, 0, "back"));

	/* A delete of a key we never saw is stored (it orders later puts). */
	CU_ASSERT(put(s, "gone", 50, 1, NULL) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "gone", 50, 1, NULL));
	CU_ASSERT(put(s, "gone", 40, 1, "late") == QR_APPLY_OLDER);
	CU_ASSERT(qr_store_count(s) == 2);

	/* A tombstone carries no value. */
	w = wr("k", 0, 99, 0, "x");
	w.tombstone = true;
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_EINVAL);
	CU_ASSERT(holds(s, "k", 30, 0, "back"));
	store_done(s);
}

/* Value over vmax (the store's limit): refused for a new and an existing
 * key, nothing changed; at it: stored. */
static void limits_at(struct qr_store *s, uint32_t vmax)
{
	static char big[QR_VALUE_BYTES_MAX + 1];
	char key[QR_KEY_BYTES_MAX];
	struct qr_store_write w;
	struct qr_store_view v;

	memset(big, 'v', sizeof(big));
	memset(key, 'k', sizeof(key));
	CU_ASSERT(put(s, "k", 10, 0, "small") == QR_APPLY_NEWER);
	uint64_t bytes = qr_store_bytes(s);

	w = wr("k", 0, 11, 0, "");
	w.value = big;
	w.value_len = vmax + 1;
	CU_ASSERT(qr_store_apply(s, &w, &v) == QR_ETOOLARGE);
	CU_ASSERT(holds(s, "k", 10, 0, "small"));
	w.key = "new";
	w.key_len = 3;
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_ETOOLARGE);
	CU_ASSERT(absent(s, "new"));
	CU_ASSERT(qr_store_count(s) == 1);
	CU_ASSERT(qr_store_bytes(s) == bytes);
	w.value_len = UINT32_MAX; /* whatever a caller passes */
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_ETOOLARGE);
	CU_ASSERT(qr_store_bytes(s) == bytes);

	/* At the limits: stored. (A key over QR_KEY_BYTES_MAX cannot be
	 * expressed: key_len is a uint8_t and the limit is 255.) */
	w.value_len = vmax;
	w.key = key;
	w.key_len = QR_KEY_BYTES_MAX;
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_APPLY_NEWER);
	CU_ASSERT_FATAL(qr_store_get(s, key, QR_KEY_BYTES_MAX, &v) == 0);
	CU_ASSERT(v.value_len == vmax && memcmp(v.value, big, vmax) == 0);
	CU_ASSERT(qr_store_bytes(s) == bytes + QR_KEY_BYTES_MAX + vmax);

	/* Empty key; partition out of range. */
	w = wr("k", 0, 12, 0, "x");
	w.key_len = 0;
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_EINVAL);
	w = wr("p", 4, 12, 0, "x");
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_EINVAL);
	CU_ASSERT(absent(s, "p"));
	CU_ASSERT(holds(s, "k", 10, 0, "small"));
	CU_ASSERT(qr_store_count(s) == 2);
}

static void test_limits_refused_and_change_nothing(void)
{
	/* The ceiling (value_bytes_max 0), and a configured limit. */
	struct qr_store *s = store_new(64, 4, 0);
	limits_at(s, QR_VALUE_BYTES_MAX);
	store_done(s);
	s = store_new_vmax(64, 4, 0, QR_VALUE_INLINE_MAX);
	limits_at(s, QR_VALUE_INLINE_MAX);
	store_done(s);
}

/* A value of n bytes for version hlc, recognisable byte by byte. */
static void big_fill(uint8_t *p, uint32_t n, uint64_t hlc)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t x = (hlc * 0x9e3779b97f4a7c15ull) ^ i;
		memcpy(p + i, &x, QR_MIN(8u, n - i));
	}
}

/*
 * Issue 15: values of 0, 1 KiB, 64 KiB, 1 MiB and QR_VALUE_BYTES_MAX, each
 * as a new key and as the same key growing and shrinking through every
 * size (moves between size classes, up to a large allocation of ~10 MiB):
 * the bytes come back, qr_store_bytes counts key + value exactly, and the
 * store's self-check (which checks every entry's allocation size against
 * jemalloc's) holds after every step. Removing everything gives 0 bytes.
 */
static void test_large_values(void)
{
	static const uint32_t sizes[] = {0, 1024, 64 << 10, 1 << 20,
					 QR_VALUE_BYTES_MAX, 1 << 20, 64 << 10,
					 1024, 0};
	static uint8_t val[QR_VALUE_BYTES_MAX];
	struct qr_store *s = store_new(64, 4, 0);
	struct qr_store_view v;
	uint64_t want = 0;
	char key[8];

	for (unsigned i = 0; i < 5; i++) { /* a key per size */
		struct qr_store_write w = wr("", 1, 100 + i, 0, "");
		snprintf(key, sizeof(key), "big%u", i);
		w.key = key;
		w.key_len = (uint8_t)strlen(key);
		big_fill(val, sizes[i], 100 + i);
		w.value = val;
		w.value_len = sizes[i];
		CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_APPLY_NEWER);
		want += w.key_len + sizes[i];
		CU_ASSERT(qr_store_bytes(s) == want);
		CU_ASSERT(qr_store_check(s) == 0);
	}
	for (unsigned i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "big%u", i);
		CU_ASSERT_FATAL(qr_store_get(s, key, (uint8_t)strlen(key),
					     &v) == 0);
		big_fill(val, sizes[i], 100 + i);
		CU_ASSERT(v.value_len == sizes[i] &&
			  memcmp(v.value, val, sizes[i]) == 0);
	}
	/* One key through every size and back. */
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct qr_store_write w = wr("grow", 2, 200 + i, 0, "");
		uint64_t before = qr_store_bytes(s);
		uint32_t old = i ? sizes[i - 1] : 0;
		big_fill(val, sizes[i], 200 + i);
		w.value = val;
		w.value_len = sizes[i];
		CU_ASSERT(qr_store_apply(s, &w, &v) == QR_APPLY_NEWER);
		CU_ASSERT(v.value_len == sizes[i] &&
			  memcmp(v.value, val, sizes[i]) == 0);
		CU_ASSERT(qr_store_bytes(s) ==
			  before + sizes[i] - old + (i ? 0 : 4));
		CU_ASSERT(qr_store_check(s) == 0);
	}
	for (unsigned i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "big%u", i);
		CU_ASSERT(qr_store_remove(s, key, (uint8_t)strlen(key)) == 0);
	}
	CU_ASSERT(qr_store_remove(s, "grow", 4) == 0);
	CU_ASSERT(qr_store_bytes(s) == 0 && qr_store_count(s) == 0);
	store_done(s);
}

static void test_full_table_refuses_new_keys_only(void)
{
	/* Below the index's minimum of 8 slots: our own limit holds. */
	struct qr_store *s = store_new(5, 1, 0);
	char key[8];

	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CU_ASSERT(put(s, key, 1, 0, i == 4 ? NULL : "v") ==
			  QR_APPLY_NEWER);
	}
	CU_ASSERT(qr_store_count(s) == 5);
	CU_ASSERT(put(s, "k5", 1, 0, "v") == QR_ENOSPC);
	CU_ASSERT(put(s, "k5", 1, 0, NULL) == QR_ENOSPC);
	CU_ASSERT(absent(s, "k5"));
	CU_ASSERT(qr_store_count(s) == 5);
	CU_ASSERT(qr_store_check(s) == 0);

	/* Keys we hold still take writes. */
	CU_ASSERT(put(s, "k0", 2, 0, "v2") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k4", 2, 0, "alive") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k4", 2, 0, "alive"));

	/* A removal makes room. */
	CU_ASSERT(qr_store_remove(s, "k1", 2) == 0);
	CU_ASSERT(put(s, "k5", 1, 0, "v") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k6", 1, 0, "v") == QR_ENOSPC);
	CU_ASSERT(qr_store_count(s) == 5);
	store_done(s);
}

/* The contract says entries_max keys fit (plain cuckoo hashing, the index
 * before 2026-12, failed inserts before 100% load): fill two tables to the
 * brim, one a power of two (the index is then half full), one not. */
static void test_fills_to_exactly_entries_max(void)
{
	static const uint32_t sizes[] = {50000, 65536};
	char key[16];

	for (unsigned t = 0; t < QR_ARRAY_LEN(sizes); t++) {
		struct qr_store *s = store_new(sizes[t], 64, 0);
		unsigned refused = 0;

		for (uint32_t i = 0; i < sizes[t]; i++) {
			struct qr_store_write w;

			snprintf(key, sizeof(key), "fill%u", i);
			w = wr(key, i % 64, 1, 0, "v");
			refused +=
				qr_store_apply(s, &w, NULL) != QR_APPLY_NEWER;
		}
		CU_ASSERT(refused == 0);
		CU_ASSERT(qr_store_count(s) == sizes[t]);
		CU_ASSERT(put(s, "one more", 1, 0, "v") == QR_ENOSPC);
		CU_ASSERT(holds(s, "fill0", 1, 0, "v"));
		snprintf(key, sizeof(key), "fill%u", sizes[t] - 1);
		CU_ASSERT(holds(s, key, 1, 0, "v"));
		store_done(s);
	}
}

static const uint8_t *value_at(const struct qr_store *s, const char *key)
{
	struct qr_store_view v;

	if (qr_store_get(s, key, (uint8_t)strlen(key), &v) != 0)
		return NULL;
	return v.value;
}

static void test_value_grows_and_shrinks(void)
{
	static char val[QR_VALUE_INLINE_MAX + 1];
	struct qr_store *s = store_new(64, 1, 0);
	const uint8_t *before;
	uint64_t hlc = 1;

	for (size_t i = 0; i < QR_VALUE_INLINE_MAX; i++)
		val[i] = (char)('a' + i % 26);

	/* 10 -> 11 bytes stays in its size class: same memory. */
	val[10] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	before = value_at(s, "k");
	val[10] = 'k';
	val[11] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(value_at(s, "k") == before);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, val));
	val[11] = 'l';

	/* Growing past it moves the entry; contents come along. */
	val[1000] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(value_at(s, "k") != before);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, val));
	before = value_at(s, "k");
	val[1000] = 'm';

	/* Shrinking a little stays put; below half moves. */
	val[900] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(value_at(s, "k") == before);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, val));
	val[900] = 'q';
	val[5] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(value_at(s, "k") != before);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, val));
	val[5] = 'f';

	/* A big value's tombstone gives the memory back, and back again. */
	val[QR_VALUE_INLINE_MAX] = '\0';
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "k", hlc++, 0, NULL) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, NULL));
	CU_ASSERT(put(s, "k", hlc++, 0, val) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", hlc - 1, 0, val));
	CU_ASSERT(qr_store_check(s) == 0);
	store_done(s);
}

/* A newer write whose value points into the entry it replaces (a caller
 * re-applying what it read) must read it before the entry moves. */
static void test_value_aliasing_the_entry(void)
{
	static char val[QR_VALUE_INLINE_MAX + 1];
	struct qr_store *s = store_new(64, 1, 0);
	struct qr_store_write w;
	struct qr_store_view v;

	for (size_t i = 0; i < QR_VALUE_INLINE_MAX; i++)
		val[i] = (char)('A' + i % 23);
	val[800] = '\0';
	CU_ASSERT(put(s, "k", 1, 0, val) == QR_APPLY_NEWER);

	/* Same length: in place. */
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	w = wr("k", 0, 2, 0, "");
	w.value = v.value;
	w.value_len = v.value_len;
	CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 2, 0, val));

	/* The tail of it, a quarter as long: the entry moves. */
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	w = wr("k", 0, 3, 0, "");
	w.value = v.value + 600;
	w.value_len = 200;
	CU_ASSERT(qr_store_apply(s, &w, &v) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "k", 3, 0, val + 600));
	store_done(s);
}

static void test_set_lsn_needs_the_exact_version(void)
{
	struct qr_store *s = store_new(64, 1, 0);
	struct qr_store_view v;

	CU_ASSERT(put(s, "k", 10, 3, "v") == QR_APPLY_NEWER);
	CU_ASSERT(qr_store_set_lsn(s, "k", 1, (struct qr_version){10, 3},
				   12345) == 0);
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	CU_ASSERT(v.lsn == 12345);
	CU_ASSERT(qr_store_set_lsn(s, "k", 1, (struct qr_version){10, 2}, 1) ==
		  QR_ENOTFOUND);
	CU_ASSERT(qr_store_set_lsn(s, "k", 1, (struct qr_version){11, 3}, 1) ==
		  QR_ENOTFOUND);
	CU_ASSERT(qr_store_set_lsn(s, "x", 1, (struct qr_version){10, 3}, 1) ==
		  QR_ENOTFOUND);
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	CU_ASSERT(v.lsn == 12345 && holds(s, "k", 10, 3, "v"));

	/* On a tombstone too (its delete is in the WAL like a put). */
	CU_ASSERT(put(s, "k", 20, 3, NULL) == QR_APPLY_NEWER);
	CU_ASSERT(qr_store_set_lsn(s, "k", 1, (struct qr_version){20, 3},
				   999) == 0);
	CU_ASSERT_FATAL(qr_store_get(s, "k", 1, &v) == 0);
	CU_ASSERT(v.lsn == 999 && v.tombstone);
	store_done(s);
}

static void test_remove(void)
{
	struct qr_store *s = store_new(64, 2, 0);

	CU_ASSERT(put(s, "a", 10, 0, "va") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "b", 10, 0, NULL) == QR_APPLY_NEWER);
	CU_ASSERT(qr_store_remove(s, "a", 1) == 0);
	CU_ASSERT(absent(s, "a"));
	CU_ASSERT(qr_store_count(s) == 1);
	CU_ASSERT(qr_store_remove(s, "a", 1) == QR_ENOTFOUND);
	CU_ASSERT(qr_store_remove(s, "b", 1) == 0); /* tombstone GC */
	CU_ASSERT(qr_store_count(s) == 0);
	CU_ASSERT(qr_store_check(s) == 0);
	/* Removed means forgotten: any version is new again. */
	CU_ASSERT(put(s, "a", 1, 0, "again") == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "a", 1, 0, "again"));
	store_done(s);
}

/* ---- Iteration by partition ---- */

#define PART_KEYS 400
#define PART_N	  9 /* partition 8 stays empty */

struct visit {
	uint32_t partition;
	unsigned seen[PART_KEYS];
	unsigned calls;
	unsigned stop_after; /* 0: never */
	bool bad;
};

static int visit_fn(void *arg, const struct qr_store_view *v)
{
	struct visit *vi = arg;
	unsigned i;
	char key[16];

	vi->calls++;
	if (v->key_len < 2 || v->key_len >= sizeof(key)) {
		vi->bad = true;
		return 0;
	}
	memcpy(key, v->key, v->key_len);
	key[v->key_len] = '\0';
	if (sscanf(key, "p%u", &i) != 1 || i >= PART_KEYS ||
	    v->partition != vi->partition || i % (PART_N - 1) != v->partition)
		vi->bad = true;
	else
		vi->seen[i]++;
	if (vi->stop_after && vi->calls == vi->stop_after)
		return 7;
	return 0;
}

static void test_for_each_in_partition(void)
{
	struct qr_store *s = store_new(1024, PART_N, 0);
	static struct visit vi;
	unsigned total = 0;
	char key[16];

	for (unsigned i = 0; i < PART_KEYS; i++) {
		struct qr_store_write w;

		snprintf(key, sizeof(key), "p%u", i);
		w = wr(key, i % (PART_N - 1), 5, 0, i % 3 ? "v" : NULL);
		CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_APPLY_NEWER);
	}
	/* Moves (value growth) keep an entry on its list. */
	for (unsigned i = 0; i < PART_KEYS; i += 5) {
		static char big[600];
		struct qr_store_write w;

		memset(big, 'b', sizeof(big) - 1);
		snprintf(key, sizeof(key), "p%u", i);
		w = wr(key, i % (PART_N - 1), 6, 0, big);
		CU_ASSERT(qr_store_apply(s, &w, NULL) == QR_APPLY_NEWER);
	}
	for (uint32_t p = 0; p < PART_N; p++) {
		memset(&vi, 0, sizeof(vi));
		vi.partition = p;
		CU_ASSERT(qr_store_for_each_in_partition(s, p, visit_fn, &vi) ==
			  0);
		CU_ASSERT(!vi.bad);
		for (unsigned i = 0; i < PART_KEYS; i++)
			CU_ASSERT(vi.seen[i] ==
				  (p < PART_N - 1 && i % (PART_N - 1) == p));
		CU_ASSERT(vi.calls == (p < PART_N - 1 ? PART_KEYS / 8 : 0));
		total += vi.calls;
	}
	CU_ASSERT(total == PART_KEYS);

	/* Early stop returns the callback's value. */
	memset(&vi, 0, sizeof(vi));
	vi.partition = 2;
	vi.stop_after = 3;
	CU_ASSERT(qr_store_for_each_in_partition(s, 2, visit_fn, &vi) == 7);
	CU_ASSERT(vi.calls == 3);
	CU_ASSERT(qr_store_for_each_in_partition(s, PART_N, visit_fn, &vi) ==
		  QR_EINVAL);

	/* Removals leave the lists. */
	for (unsigned i = 2; i < PART_KEYS; i += PART_N - 1) {
		snprintf(key, sizeof(key), "p%u", i);
		CU_ASSERT(qr_store_remove(s, key, (uint8_t)strlen(key)) == 0);
	}
	memset(&vi, 0, sizeof(vi));
	vi.partition = 2;
	CU_ASSERT(qr_store_for_each_in_partition(s, 2, visit_fn, &vi) == 0);
	CU_ASSERT(vi.calls == 0);
	memset(&vi, 0, sizeof(vi));
	vi.partition = 3;
	CU_ASSERT(qr_store_for_each_in_partition(s, 3, visit_fn, &vi) == 0);
	CU_ASSERT(vi.calls == PART_KEYS / 8 && !vi.bad);
	store_done(s);
}

/* ---- 64-bit hash collisions ---- */

static int apply_h(struct qr_store *s, const char *key, uint64_t h,
		   uint64_t hlc, const char *value)
{
	struct qr_store_write w = wr(key, 0, hlc, 0, value);

	return qr_store_apply_hashed(s, &w, h, NULL);
}

static bool holds_h(const struct qr_store *s, const char *key, uint64_t h,
		    uint64_t hlc, const char *value)
{
	struct qr_store_view v;

	if (qr_store_get_hashed(s, key, (uint8_t)strlen(key), h, &v) != 0)
		return false;
	return v.version.hlc == hlc && v.value_len == strlen(value) &&
	       memcmp(v.value, value, v.value_len) == 0 &&
	       v.key_len == strlen(key) && memcmp(v.key, key, v.key_len) == 0;
}

/*
 * The index probes linearly and a removal shifts the rest of the probe run
 * back: keys whose hashes share a home slot, in a run that wraps past the
 * table's end, stay reachable whichever one goes. 16 keys: 32 slots, so
 * hashes 30 + 32k all start at slot 30 (and 32k at slot 0).
 */
static void test_probe_runs_survive_removals(void)
{
	static const int order[][6] = {{0, 1, 2, 3, 4, 5},
				       {5, 4, 3, 2, 1, 0},
				       {2, 0, 4, 1, 5, 3}};
	char key[8], val[8];

	for (unsigned t = 0; t < QR_ARRAY_LEN(order); t++) {
		struct qr_store *s = store_new(16, 1, 0);
		/* Six keys at home 30, two at home 0 (pushed along). */
		for (int k = 0; k < 8; k++) {
			uint64_t h = k < 6 ? 30 + 32 * (uint64_t)(k + 1)
					   : 32 * (uint64_t)(k + 1);
			snprintf(key, sizeof(key), "p%d", k);
			CU_ASSERT(apply_h(s, key, h, 1, key) ==
				  QR_APPLY_NEWER);
		}
		CU_ASSERT(qr_store_check(s) == 0);
		for (int r = 0; r < 6; r++) {
			int gone = order[t][r];
			snprintf(key, sizeof(key), "p%d", gone);
			CU_ASSERT(qr_store_remove_hashed(
					  s, key, (uint8_t)strlen(key),
					  30 + 32 * (uint64_t)(gone + 1)) == 0);
			CU_ASSERT(qr_store_check(s) == 0);
			for (int k = 0; k < 8; k++) {
				uint64_t h = k < 6 ? 30 + 32 * (uint64_t)(k + 1)
						   : 32 * (uint64_t)(k + 1);
				bool removed = false;
				for (int q = 0; q <= r; q++)
					removed |= order[t][q] == k;
				snprintf(key, sizeof(key), "p%d", k);
				snprintf(val, sizeof(val), "p%d", k);
				CU_ASSERT(holds_h(s, key, h, 1, val) ==
					  !removed);
			}
		}
		CU_ASSERT(qr_store_count(s) == 2);
		store_done(s);
	}
}

static void test_colliding_keys_chain(void)
{
	static char big[900];
	const uint64_t h = 0x0123456789abcdefull;
	struct qr_store *s = store_new(64, 1, 0);

	memset(big, 'z', sizeof(big) - 1);
	CU_ASSERT(apply_h(s, "first", h, 1, "1") == QR_APPLY_NEWER);
	CU_ASSERT(apply_h(s, "second", h, 1, "2") == QR_APPLY_NEWER);
	CU_ASSERT(apply_h(s, "third", h, 1, "3") == QR_APPLY_NEWER);
	CU_ASSERT(qr_store_count(s) == 3);
	CU_ASSERT(holds_h(s, "first", h, 1, "1"));
	CU_ASSERT(holds_h(s, "second", h, 1, "2"));
	CU_ASSERT(holds_h(s, "third", h, 1, "3"));
	CU_ASSERT(!holds_h(s, "fourth", h, 1, "4"));
	CU_ASSERT(qr_store_check(s) == 0);

	/* Each key keeps its own version order. */
	CU_ASSERT(apply_h(s, "second", h, 5, "2b") == QR_APPLY_NEWER);
	CU_ASSERT(apply_h(s, "second", h, 4, "2c") == QR_APPLY_OLDER);
	CU_ASSERT(apply_h(s, "third", h, 1, "3") == QR_APPLY_SAME);
	CU_ASSERT(holds_h(s, "first", h, 1, "1"));

	/* Moving the head, a middle and the tail entry relinks the chain. */
	CU_ASSERT(apply_h(s, "first", h, 2, big) == QR_APPLY_NEWER);
	CU_ASSERT(apply_h(s, "second", h, 6, big) == QR_APPLY_NEWER);
	CU_ASSERT(apply_h(s, "third", h, 2, big) == QR_APPLY_NEWER);
	CU_ASSERT(holds_h(s, "first", h, 2, big));
	CU_ASSERT(holds_h(s, "second", h, 6, big));
	CU_ASSERT(holds_h(s, "third", h, 2, big));
	CU_ASSERT(qr_store_check(s) == 0);

	/* Remove the middle, then the head, then the last. */
	CU_ASSERT(qr_store_remove_hashed(s, "second", 6, h) == 0);
	CU_ASSERT(!holds_h(s, "second", h, 6, big));
	CU_ASSERT(holds_h(s, "first", h, 2, big) &&
		  holds_h(s, "third", h, 2, big));
	CU_ASSERT(qr_store_remove_hashed(s, "first", 5, h) == 0);
	CU_ASSERT(holds_h(s, "third", h, 2, big));
	CU_ASSERT(qr_store_check(s) == 0);
	CU_ASSERT(qr_store_remove_hashed(s, "third", 5, h) == 0);
	CU_ASSERT(qr_store_remove_hashed(s, "third", 5, h) == QR_ENOTFOUND);
	CU_ASSERT(qr_store_count(s) == 0);
	CU_ASSERT(qr_store_check(s) == 0);

	/* The hash is emptied: it works as a fresh one. */
	CU_ASSERT(apply_h(s, "again", h, 1, "a") == QR_APPLY_NEWER);
	CU_ASSERT(holds_h(s, "again", h, 1, "a"));
	/* Chained keys count against entries_max like any other. */
	for (int i = 0; i < 63; i++) {
		char key[8];

		snprintf(key, sizeof(key), "c%d", i);
		CU_ASSERT(apply_h(s, key, h, 1, "c") == QR_APPLY_NEWER);
	}
	CU_ASSERT(apply_h(s, "over", h, 1, "o") == QR_ENOSPC);
	CU_ASSERT(qr_store_count(s) == 64);
	store_done(s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_key_hash_spreads(void)
{
	enum { N = 1 << 16, BUCKETS = 1 << 12 };
	static uint16_t lo[BUCKETS], hi[BUCKETS];
	static uint64_t seen[N];
	unsigned lo_max = 0, hi_max = 0, dup = 0;
	uint8_t key[QR_KEY_BYTES_MAX];
	uint64_t h0;

	memset(lo, 0, sizeof(lo));
	memset(hi, 0, sizeof(hi));
	for (unsigned i = 0; i < N; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "user:%u", i);
		uint64_t h = qr_store_key_hash(k, (uint8_t)n);

		seen[i] = h;
		lo[h % BUCKETS]++;
		hi[h >> 52]++;
	}
	for (unsigned b = 0; b < BUCKETS; b++) {
		lo_max = lo[b] > lo_max ? lo[b] : lo_max;
		hi_max = hi[b] > hi_max ? hi[b] : hi_max;
	}
	/* 16 a bucket on average; a uniform hash stays well under 40. */
	CU_ASSERT(lo_max < 40);
	CU_ASSERT(hi_max < 40);
	qsort(seen, N, sizeof(seen[0]), cmp_u64);
	for (unsigned i = 1; i < N; i++)
		dup += seen[i] == seen[i - 1];
	CU_ASSERT(dup == 0);

	/* Every byte and the length count. */
	memset(key, 0x5a, sizeof(key));
	h0 = qr_store_key_hash(key, sizeof(key));
	for (unsigned i = 0; i < sizeof(key); i++) {
		key[i] ^= 1;
		CU_ASSERT(qr_store_key_hash(key, sizeof(key)) != h0);
		key[i] ^= 1;
	}
	for (unsigned n = 1; n < sizeof(key); n++)
		CU_ASSERT(qr_store_key_hash(key, (uint8_t)n) !=
			  qr_store_key_hash(key, (uint8_t)(n + 1)));
	CU_ASSERT(qr_store_key_hash("a", 1) != qr_store_key_hash("a\0", 2));
}

/* ---- Allocation failure ---- */

/*
 * A jemalloc arena whose extent hooks give memory only while hooks_ok: once
 * it is false and the memory the arena already holds is used up, mallocx()
 * in it returns NULL. Test-only; the store itself has no hook.
 */
static bool hooks_ok = true;

static void *hook_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
			size_t alignment, bool *zero, bool *commit,
			unsigned arena_ind)
{
	size_t len = size + alignment;
	uintptr_t base, at;
	void *p;

	(void)hooks;
	(void)arena_ind;
	if (!hooks_ok || new_addr != NULL)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	base = (uintptr_t)p;
	at = (base + alignment - 1) & ~(uintptr_t)(alignment - 1);
	if (at > base)
		munmap(p, at - base);
	if (base + len > at + size)
		munmap((void *)(at + size), base + len - (at + size));
	*zero = true;
	*commit = true;
	return (void *)at;
}

static bool hook_split(extent_hooks_t *hooks, void *addr, size_t size,
		       size_t size_a, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)hooks, (void)addr, (void)size, (void)size_a, (void)size_b;
	(void)committed, (void)arena_ind;
	return false; /* mmap'd memory splits for free */
}

static bool hook_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a,
		       void *addr_b, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)hooks, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b;
	(void)committed, (void)arena_ind;
	return false;
}

static extent_hooks_t test_hooks = {
	.alloc = hook_alloc,
	.split = hook_split,
	.merge = hook_merge,
};

#define JUNK_MAX (1u << 17)

/* Allocate bytes in the arena until it fails; the pointers go to junk. */
static unsigned exhaust(unsigned arena, size_t bytes, void **junk, unsigned n)
{
	int flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;

	while (n < JUNK_MAX && (junk[n] = mallocx(bytes, flags)) != NULL)
		n++;
	return n;
}

static void test_allocation_failure_changes_nothing(void)
{
	extent_hooks_t *hp = &test_hooks;
	static void *junk[JUNK_MAX];
	static char big[1001], shrunk[6];
	struct qr_store_config cfg = {
		.name = "tnomem",
		.entries_max = 64,
		.partitions = 1,
		.socket_id = SOCKET_ANY,
	};
	struct qr_store *s = NULL, *t = NULL;
	struct qr_store_view v;
	const uint8_t *before;
	size_t len = sizeof(unsigned);
	unsigned arena, n = 0;

	hooks_ok = true;
	CU_ASSERT_FATAL(
		mallctl("arenas.create", &arena, &len, &hp, sizeof(hp)) == 0);
	cfg.arena = arena;
	CU_ASSERT_FATAL(qr_store_create(&cfg, &s) == 0);
	memset(big, 'B', sizeof(big) - 1);
	memset(shrunk, 's', sizeof(shrunk) - 1);
	CU_ASSERT(put(s, "small", 1, 0, "0123456789") == QR_APPLY_NEWER);
	CU_ASSERT(put(s, "large", 1, 0, big) == QR_APPLY_NEWER);

	/* Use up the size classes the next writes need: the grown entry's,
	 * the shrunk entry's (64 bytes, also the store's own). */
	hooks_ok = false;
	n = exhaust(arena, 52 + 5 + 1000, junk, n);
	n = exhaust(arena, 64, junk, n);
	CU_ASSERT_FATAL(n < JUNK_MAX);

	/* Growing an entry: QR_ENOMEM, the old version intact. */
	CU_ASSERT(put(s, "small", 2, 0, big) == QR_ENOMEM);
	CU_ASSERT(holds(s, "small", 1, 0, "0123456789"));
	/* A new key: QR_ENOMEM, not stored, not counted. */
	CU_ASSERT(put(s, "new", 1, 0, "x") == QR_ENOMEM);
	CU_ASSERT(absent(s, "new"));
	CU_ASSERT(qr_store_count(s) == 2);
	/* Shrinking cannot move the entry: it is written in place. */
	before = value_at(s, "large");
	CU_ASSERT(put(s, "large", 2, 0, shrunk) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "large", 2, 0, shrunk));
	CU_ASSERT(value_at(s, "large") == before);
	CU_ASSERT(qr_store_check(s) == 0);
	/* Create fails cleanly too, and leaves the name free. */
	cfg.name = "tnomem2";
	CU_ASSERT(qr_store_create(&cfg, &t) == QR_ENOMEM);

	hooks_ok = true;
	while (n > 0)
		dallocx(junk[--n], MALLOCX_TCACHE_NONE);
	CU_ASSERT(put(s, "small", 2, 0, big) == QR_APPLY_NEWER);
	CU_ASSERT(holds(s, "small", 2, 0, big));
	CU_ASSERT(put(s, "new", 1, 0, "x") == QR_APPLY_NEWER);
	CU_ASSERT_FATAL(qr_store_get(s, "new", 3, &v) == 0);
	CU_ASSERT(qr_store_count(s) == 3);
	CU_ASSERT_FATAL(qr_store_create(&cfg, &t) == 0);
	store_done(t);
	store_done(s);
}

/* ---- Randomized model test ---- */

#define M_KEYS	      500
#define M_PARTS	      16
#define M_ENTRIES_MAX 400 /* below M_KEYS: the table fills up at times */
#define M_OPS	      100000
#define M_SWEEP_EVERY 256

struct m_key {
	uint8_t bytes[QR_KEY_BYTES_MAX];
	uint8_t len;
	bool forced;   /* stored under a forced hash: *_hashed calls */
	uint64_t hash; /* the hash used for it */
	/* The model's state of it. */
	bool present;
	bool tombstone;
	struct qr_version version;
	uint64_t lsn;
	uint16_t value_len;
	uint8_t value[QR_VALUE_INLINE_MAX];
};

static struct m_key m_keys[M_KEYS];
static uint32_t m_count;
static unsigned m_seen[QR_APPLY_OLDER + 1 - QR_ERR_MIN]; /* by apply result */

static uint32_t m_partition(unsigned i)
{
	return i % M_PARTS;
}

static void m_make_keys(struct qr_rng *r)
{
	static const uint64_t forced[4] = {1, 0xffffffffffffffffull,
					   0x8000000000000000ull, 0xdeadbeef};

	for (unsigned i = 0; i < M_KEYS; i++) {
		struct m_key *k = &m_keys[i];
		unsigned pick = (unsigned)qr_rng_below(r, 10);

		memset(k, 0, sizeof(*k));
		if (i > 0 && i % 50 == 1 && m_keys[i - 1].len >= 3) {
			/* A proper prefix of the previous key. */
			k->len = m_keys[i - 1].len - 1;
			memcpy(k->bytes, m_keys[i - 1].bytes, k->len);
		} else {
			if (i < 256 && pick == 0)
				k->len = 1;
			else if (pick < 4)
				k->len = (uint8_t)(2 + qr_rng_below(r, 15));
			else if (pick < 8)
				k->len = (uint8_t)(17 + qr_rng_below(r, 48));
			else
				k->len = (uint8_t)(65 + qr_rng_below(r, 191));
			for (unsigned b = 0; b < k->len; b++)
				k->bytes[b] = (uint8_t)qr_rng_next(r);
			/* Unique: i in the first bytes (the only 1-byte keys
			 * are i < 256, and prefixes differ in length). */
			k->bytes[0] = (uint8_t)i;
			if (k->len > 1)
				k->bytes[1] = (uint8_t)(i >> 8);
		}
		k->forced = i % 10 == 3;
		k->hash = k->forced ? forced[(i / 10) % 4]
				    : qr_store_key_hash(k->bytes, k->len);
	}
	m_count = 0;
}

static int m_apply(struct qr_store *s, unsigned i,
		   const struct qr_store_write *w, struct qr_store_view *cur)
{
	if (m_keys[i].forced)
		return qr_store_apply_hashed(s, w, m_keys[i].hash, cur);
	return qr_store_apply(s, w, cur);
}

static int m_get(const struct qr_store *s, unsigned i, struct qr_store_view *v)
{
	const struct m_key *k = &m_keys[i];

	if (k->forced)
		return qr_store_get_hashed(s, k->bytes, k->len, k->hash, v);
	return qr_store_get(s, k->bytes, k->len, v);
}

/* The view matches the model's key i. */
static bool m_view_ok(unsigned i, const struct qr_store_view *v)
{
	const struct m_key *k = &m_keys[i];

	return k->present && v->partition == m_partition(i) &&
	       qr_version_cmp(v->version, k->version) == 0 &&
	       v->tombstone == k->tombstone && v->lsn == k->lsn &&
	       v->key_len == k->len && memcmp(v->key, k->bytes, k->len) == 0 &&
	       v->value_len == k->value_len &&
	       memcmp(v->value, k->value, k->value_len) == 0;
}

static bool m_key_ok(const struct qr_store *s, unsigned i)
{
	struct qr_store_view v;
	int rc = m_get(s, i, &v);

	if (!m_keys[i].present)
		return rc == QR_ENOTFOUND;
	return rc == 0 && m_view_ok(i, &v);
}

struct m_visit {
	uint32_t partition;
	unsigned calls;
	bool bad;
};

static int m_visit_fn(void *arg, const struct qr_store_view *v)
{
	struct m_visit *mv = arg;
	unsigned i;

	mv->calls++;
	/* Find the key: ~30 keys a partition, a scan is fine. */
	for (i = mv->partition; i < M_KEYS; i += M_PARTS)
		if (m_keys[i].len == v->key_len &&
		    memcmp(m_keys[i].bytes, v->key, v->key_len) == 0)
			break;
	if (i >= M_KEYS || !m_view_ok(i, v))
		mv->bad = true;
	return 0;
}

static void m_op_apply(struct qr_store *s, struct qr_rng *r, unsigned i)
{
	static uint8_t value[QR_VALUE_INLINE_MAX + 1];
	static uint8_t newval[QR_VALUE_INLINE_MAX];
	struct m_key *k = &m_keys[i];
	struct qr_store_write w = {
		.partition = m_partition(i),
		.key = k->bytes,
		.key_len = k->len,
		.value = value,
		.lsn = qr_rng_next(r),
	};
	struct qr_store_view cur, v;
	unsigned pick = (unsigned)qr_rng_below(r, 100);
	int expect, rc, cmp;

	if (k->present && k->version.hlc > 3)
		w.version.hlc = k->version.hlc - 2 + qr_rng_below(r, 5);
	else
		w.version.hlc = 1 + qr_rng_below(r, 100);
	w.version.node = (uint16_t)qr_rng_below(r, 3);
	w.tombstone = qr_rng_below(r, 5) == 0;
	if (!w.tombstone) {
		unsigned sz = (unsigned)qr_rng_below(r, 10);

		if (sz < 4)
			w.value_len = (uint16_t)qr_rng_below(r, 17);
		else if (sz < 8)
			w.value_len = (uint16_t)qr_rng_below(r, 300);
		else
			w.value_len = (uint16_t)qr_rng_below(
				r, QR_VALUE_INLINE_MAX + 1);
		for (unsigned b = 0; b < w.value_len; b += 8) {
			uint64_t x = qr_rng_next(r);

			memcpy(value + b, &x, 8);
		}
	}
	/* Now and then: a value read from the store itself, or a bad write. */
	if (pick < 3 && k->present && !w.tombstone && m_get(s, i, &v) == 0) {
		w.value_len = (uint16_t)qr_rng_below(r, v.value_len + 1u);
		w.value = v.value + (v.value_len - w.value_len);
	} else if (pick == 3) {
		w.value_len = QR_VALUE_INLINE_MAX + 1;
		w.tombstone = false;
	} else if (pick == 4) {
		w.tombstone = true;
		w.value_len = 1;
	} else if (pick == 5) {
		w.key_len = 0;
	} else if (pick == 6) {
		w.partition = M_PARTS + (uint32_t)qr_rng_below(r, 3);
	}

	if (w.value_len > QR_VALUE_INLINE_MAX)
		expect = QR_ETOOLARGE;
	else if (w.key_len == 0 || (w.tombstone && w.value_len) ||
		 w.partition >= M_PARTS)
		expect = QR_EINVAL;
	else if (!k->present)
		expect = m_count < M_ENTRIES_MAX ? QR_APPLY_NEWER : QR_ENOSPC;
	else if ((cmp = qr_version_cmp(w.version, k->version)) > 0)
		expect = QR_APPLY_NEWER;
	else
		expect = cmp == 0 ? QR_APPLY_SAME : QR_APPLY_OLDER;

	/* w's value may live in the entry this write moves: copy it first. */
	memcpy(newval, w.value,
	       w.value_len <= QR_VALUE_INLINE_MAX ? w.value_len : 0);
	rc = m_apply(s, i, &w, &cur);
	if (rc >= QR_ERR_MIN && rc <= QR_APPLY_OLDER)
		m_seen[rc - QR_ERR_MIN]++;
	CU_ASSERT(rc == expect);
	if (rc != expect)
		fprintf(stderr, "key %u: apply returned %d, expected %d\n", i,
			rc, expect);
	if (expect == QR_APPLY_NEWER) {
		if (!k->present)
			m_count++;
		k->present = true;
		k->tombstone = w.tombstone;
		k->version = w.version;
		k->lsn = w.lsn;
		k->value_len = w.value_len;
		memcpy(k->value, newval, w.value_len);
	}
	if (expect > 0)
		CU_ASSERT(m_view_ok(i, &cur));
}

static void m_run(uint64_t seed)
{
	/* Values up to 1 KiB, the store limited to that (value_bytes_max):
	 * the configured limit is what refuses one byte more. */
	struct qr_store *s = store_new_vmax(M_ENTRIES_MAX, M_PARTS, 0,
					    QR_VALUE_INLINE_MAX);
	struct qr_rng r;
	unsigned failures = 0;

	qr_rng_seed(&r, seed);
	m_make_keys(&r);
	for (unsigned op = 0; op < M_OPS; op++) {
		unsigned i = (unsigned)qr_rng_below(&r, M_KEYS);
		unsigned pick = (unsigned)qr_rng_below(&r, 100);
		struct m_key *k = &m_keys[i];
		bool ok;

		if (pick < 55) {
			m_op_apply(s, &r, i);
		} else if (pick < 80) {
			CU_ASSERT(m_key_ok(s, i)); /* get */
		} else if (pick < 90) {
			int rc;

			if (k->forced)
				rc = qr_store_remove_hashed(s, k->bytes, k->len,
							    k->hash);
			else
				rc = qr_store_remove(s, k->bytes, k->len);

			CU_ASSERT(rc == (k->present ? 0 : QR_ENOTFOUND));
			if (k->present)
				m_count--;
			k->present = false;
		} else if (pick < 95 && !k->forced) { /* no hashed set_lsn */
			struct qr_version ver = k->version;
			bool exact = qr_rng_below(&r, 4) != 0;
			uint64_t lsn = qr_rng_next(&r);
			int rc;

			if (!exact)
				ver.node ^= 1;
			rc = qr_store_set_lsn(s, k->bytes, k->len, ver, lsn);
			CU_ASSERT(rc ==
				  (k->present && exact ? 0 : QR_ENOTFOUND));
			if (k->present && exact)
				k->lsn = lsn;
		} else if (pick >= 95) {
			struct m_visit mv = {.partition = m_partition(i)};
			unsigned want = 0;

			CU_ASSERT(qr_store_for_each_in_partition(
					  s, mv.partition, m_visit_fn, &mv) ==
				  0);
			for (unsigned j = mv.partition; j < M_KEYS;
			     j += M_PARTS)
				want += m_keys[j].present;
			CU_ASSERT(!mv.bad && mv.calls == want);
		}
		/* After every op: the count and the key it touched. */
		CU_ASSERT(qr_store_count(s) == m_count);
		ok = m_key_ok(s, i);
		CU_ASSERT(ok);
		if (!ok && failures++ < 10)
			fprintf(stderr,
				"op %u: store and model disagree on key %u\n",
				op, i);
		if (op % M_SWEEP_EVERY == 0 || op == M_OPS - 1) {
			for (unsigned j = 0; j < M_KEYS; j++)
				CU_ASSERT(m_key_ok(s, j));
			CU_ASSERT(qr_store_check(s) == 0);
		}
	}
	/* The run went through every outcome. */
	CU_ASSERT(m_seen[QR_APPLY_NEWER - QR_ERR_MIN] > 0);
	CU_ASSERT(m_seen[QR_APPLY_SAME - QR_ERR_MIN] > 0);
	CU_ASSERT(m_seen[QR_APPLY_OLDER - QR_ERR_MIN] > 0);
	CU_ASSERT(m_seen[QR_ENOSPC - QR_ERR_MIN] > 0);
	CU_ASSERT(m_seen[QR_EINVAL - QR_ERR_MIN] > 0);
	CU_ASSERT(m_seen[QR_ETOOLARGE - QR_ERR_MIN] > 0);
	CU_ASSERT(m_count > M_ENTRIES_MAX / 2);
	store_done(s);
}

static void test_model_random_ops(void)
{
	m_run(0x5eed5702e5ull);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"create rejects bad config", test_create_rejects_bad_config},
		{"insert then get", test_insert_then_get},
		{"newer replaces, older and same change nothing",
		 test_newer_replaces_older_and_same_change_nothing},
		{"hlc tie goes to higher node",
		 test_hlc_tie_goes_to_higher_node},
		{"tombstones", test_tombstones},
		{"limits refused, change nothing",
		 test_limits_refused_and_change_nothing},
		{"large values: 0 B to QR_VALUE_BYTES_MAX (issue 15)",
		 test_large_values},
		{"full table refuses new keys only",
		 test_full_table_refuses_new_keys_only},
		{"fills to exactly entries_max",
		 test_fills_to_exactly_entries_max},
		{"value grows and shrinks", test_value_grows_and_shrinks},
		{"value aliasing the entry", test_value_aliasing_the_entry},
		{"set_lsn needs the exact version",
		 test_set_lsn_needs_the_exact_version},
		{"remove", test_remove},
		{"for_each_in_partition", test_for_each_in_partition},
		{"colliding keys chain", test_colliding_keys_chain},
		{"probe runs survive removals",
		 test_probe_runs_survive_removals},
		{"key hash spreads", test_key_hash_spreads},
		{"allocation failure changes nothing",
		 test_allocation_failure_changes_nothing},
		{"model: 100k random ops", test_model_random_ops},
		{NULL, NULL},
	};

	if (qr_eal_init_local("test_store", 256) != 0) {
		fprintf(stderr, "test_store: DPDK EAL init failed\n");
		return 1;
	}
	return qr_unit_main("store", cases);
}
