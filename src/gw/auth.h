/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's HTTP client authentication (--http-keys FILE; docs/http.md,
 * "Authentication"). The keys are the cluster's client-key lines
 * (src/common/secret.h, loaded by qr_client_keys_load: one parser), and an
 * HTTP client proves one of them with
 *
 *   Authorization: Bearer <client id>.<its 32-byte key in 64 hex digits>
 *
 * Pure functions over plain values (no libmicrohttpd), so
 * tests/unit/test_gw.c checks every decision directly.
 *
 * Invariants:
 *  A1. Authentication (401) is decided before anything else about the
 *      request, authorization (403) before anything reaches the cluster.
 *  A2. The key is compared in constant time (sodium_memcmp), and an
 *      unknown id costs the same comparison (against a dummy key): the
 *      timing tells no key bytes. (Ids are not secret: finding one is a
 *      plain scan of at most QR_CLIENT_KEYS_MAX entries.)
 *  A3. The rule for role and prefix is the cluster's (CA2 in
 *      src/core/auth_client.c): ro may only read, and the key must start
 *      with the client's prefix (an empty prefix allows every key).
 */
#ifndef QR_GW_AUTH_H
#define QR_GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/secret.h"
#include "quorate/client.h"

/*
 * Authenticate an Authorization header value (NULL: absent; twice: it was
 * given more than once): 0 with *who set, or 401 with a static *why.
 */
int gw_auth_authenticate(const struct qr_client_keys *ks, const char *hdr,
			 bool twice, const struct qr_client_key **who,
			 const char **why);

/* May who do op on key: 0, or 403 with a static *why (A3). */
int gw_auth_authorize(const struct qr_client_key *who, enum qr_client_op op,
		      const void *key, size_t key_len, const char **why);

#endif
