/* SPDX-License-Identifier: MIT */
/*
 * Store internals, for tests and tools only: nothing on the data path
 * includes this. With the *_hashed variants (store.h) a test can force two
 * different keys onto one hash and exercise the collision chains, which a
 * good 64-bit hash never produces by chance.
 */
#ifndef QR_CORE_STORE_PVT_H
#define QR_CORE_STORE_PVT_H

#include <stdint.h>

#include "core/store.h"

/* qr_store_remove with the key hash given (store.h has the others). */
int qr_store_remove_hashed(struct qr_store *s, const void *key, uint8_t key_len,
			   uint64_t key_hash);

/*
 * Walk every entry through both the partition lists and the index and check
 * the store's invariants (see store.c). O(entries). 0 or QR_ECORRUPT, with
 * the failed check on stderr.
 */
int qr_store_check(const struct qr_store *s);

#endif
