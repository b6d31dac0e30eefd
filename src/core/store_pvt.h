/* SPDX-License-Identifier: MIT */
/*
 * Store internals, for tests and tools only: nothing on the data path
 * includes this. The *_hashed variants take the 64-bit key hash instead of
 * computing it, so a test can force two different keys onto one hash and
 * exercise the collision chains, which a good 64-bit hash never produces by
 * chance. A caller must pass the same hash for a key every time: an entry is
 * found only under the hash it was stored with.
 */
#ifndef QR_CORE_STORE_PVT_H
#define QR_CORE_STORE_PVT_H

#include <stdint.h>

#include "core/store.h"

/*
 * The store's 64-bit key hash (the index key). In-memory only: not part
 * of the wire protocol or of any file format, so it may change.
 */
uint64_t qr_store_key_hash(const void *key, uint8_t key_len);

/* qr_store_get / qr_store_apply / qr_store_remove with the key hash given. */
int qr_store_get_hashed(const struct qr_store *s, const void *key,
			uint8_t key_len, uint64_t key_hash,
			struct qr_store_view *out);
int qr_store_apply_hashed(struct qr_store *s, const struct qr_store_write *w,
			  uint64_t key_hash, struct qr_store_view *cur);
int qr_store_remove_hashed(struct qr_store *s, const void *key, uint8_t key_len,
			   uint64_t key_hash);

/*
 * Walk every entry through both the partition lists and the index and check
 * the store's invariants (see store.c). O(entries). 0 or QR_ECORRUPT, with
 * the failed check on stderr.
 */
int qr_store_check(const struct qr_store *s);

#endif
