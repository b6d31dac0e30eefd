/* SPDX-License-Identifier: MIT */
/*
 * Per-shard key-value table. One per shard core: no locks, not thread-safe.
 *
 * Index: an open-addressing table keyed by a 64-bit hash of the key; each
 * slot holds a chain of entries whose full keys are compared, so two keys
 * with the same 64-bit hash both work. Entries (header + key + value) live in the jemalloc
 * arena given at create time (one per core). Each entry is also on its
 * partition's list, for iteration by partition (repair, snapshots).
 *
 * Invariants: an entry's version only grows (qr_store_apply keeps the higher
 * of (hlc, node)); deletes are tombstones with a version and stay until
 * removed explicitly (repair-aware GC, later); an error changes nothing.
 * Requires rte_eal_init() to have run (the index is in DPDK memory).
 */
#ifndef QR_CORE_STORE_H
#define QR_CORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/version.h"

struct qr_store;

struct qr_store_config {
	const char *name;     /* non-empty; labels the index's DPDK memory */
	uint32_t entries_max; /* distinct keys, tombstones included */
	uint32_t partitions;  /* partition ids are < partitions */
	unsigned arena;       /* jemalloc arena index for entries */
	int socket_id;        /* NUMA socket for the index */
	uint32_t value_bytes_max; /* longer values are QR_ETOOLARGE; 0:
				   * QR_VALUE_BYTES_MAX (the ceiling; more
				   * is QR_EINVAL). Recovery replays what
				   * was logged under an earlier, maybe
				   * higher, limit: a store fed by the WAL
				   * needs room for it */
};

/* A write to apply. */
struct qr_store_write {
	uint32_t partition;
	struct qr_version version;
	bool tombstone;
	const void *key;
	uint8_t key_len;       /* 1..QR_KEY_BYTES_MAX */
	const void *value;
	uint32_t value_len;    /* 0..value_bytes_max; 0 for a tombstone */
	uint64_t lsn;          /* WAL position holding it; 0 if none */
};

/* A read-only view of an entry: valid until the next change to the store. */
struct qr_store_view {
	uint32_t partition;
	struct qr_version version;
	bool tombstone;
	const uint8_t *key;
	uint8_t key_len;
	const uint8_t *value;
	uint32_t value_len;
	uint64_t lsn;
};

enum qr_apply_result {
	QR_APPLY_NEWER = 1, /* stored: it was new or newer than what we had */
	QR_APPLY_SAME = 2,  /* we already had exactly this version */
	QR_APPLY_OLDER = 3, /* ignored: we hold a newer version */
};

/* 0 and *out, or QR_EINVAL / QR_ENOMEM. An entry is one allocation of
 * 52 bytes + key + value (a large value is a large allocation). */
int qr_store_create(const struct qr_store_config *cfg, struct qr_store **out);
void qr_store_destroy(struct qr_store *s);

/* Start loading the index slot of key (a hint: changes nothing), so that
 * a get or apply of it soon after does not wait for memory. Returns a
 * ticket for qr_store_prefetch_entry. */
const void *qr_store_prefetch(const struct qr_store *s, const void *key,
			      uint8_t key_len);
/* Then, once that slot had time to arrive and before the store changes,
 * the entry it leads to: its header, key_len key bytes and the first
 * bytes bytes of its value. */
void qr_store_prefetch_entry(const void *ticket, uint8_t key_len,
			     uint32_t bytes);
/* 0 and *out (a tombstone is found too: check out->tombstone), or
 * QR_ENOTFOUND. */
int qr_store_get(const struct qr_store *s, const void *key, uint8_t key_len,
		 struct qr_store_view *out);
/*
 * Keep the higher version. Returns enum qr_apply_result (> 0) and, if cur is
 * not NULL, the entry as it is afterwards; or QR_ETOOLARGE (key or value
 * over the limit), QR_EINVAL (empty key, partition out of range), QR_ENOSPC
 * (table full), QR_ENOMEM; an error changes nothing.
 */
int qr_store_apply(struct qr_store *s, const struct qr_store_write *w,
		   struct qr_store_view *cur);
/*
 * The store's 64-bit key hash (the index key). In-memory only: not part of
 * the wire protocol or of any file format, so it may change.
 */
uint64_t qr_store_key_hash(const void *key, uint8_t key_len);
/* qr_store_get / qr_store_apply with the key hash given, for a caller that
 * does both to one key (a replica's write hashed its key three times). It
 * must pass qr_store_key_hash() of the key: an entry is found only under
 * the hash it was stored with. */
int qr_store_get_hashed(const struct qr_store *s, const void *key,
			uint8_t key_len, uint64_t key_hash,
			struct qr_store_view *out);
int qr_store_apply_hashed(struct qr_store *s, const struct qr_store_write *w,
			  uint64_t key_hash, struct qr_store_view *cur);
/* Set the lsn of an existing entry whose version is exactly v: 0 or
 * QR_ENOTFOUND. */
int qr_store_set_lsn(struct qr_store *s, const void *key, uint8_t key_len,
		     struct qr_version v, uint64_t lsn);
/* Remove a key outright (tombstone GC, tests): 0 or QR_ENOTFOUND. */
int qr_store_remove(struct qr_store *s, const void *key, uint8_t key_len);

uint32_t qr_store_count(const struct qr_store *s);
/* Key and value bytes held, all entries (tombstones count their key). */
uint64_t qr_store_bytes(const struct qr_store *s);
/* Does the store hold no entry of this partition? partition must be
 * below the store's partitions. */
bool qr_store_partition_empty(const struct qr_store *s, uint32_t partition);
/*
 * Call fn for every entry of a partition, in no particular order; stop early
 * when fn returns non-zero (and return that value). fn must not modify the
 * store.
 */
int qr_store_for_each_in_partition(const struct qr_store *s, uint32_t partition,
				   int (*fn)(void *arg,
					     const struct qr_store_view *v),
				   void *arg);

#endif
