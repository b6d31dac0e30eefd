/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's request mapping: HTTP method + headers + path -> one
 * asynchronous client request (struct qr_request, include/quorate/client.h),
 * and a client result -> HTTP status + headers (docs/http.md is the
 * contract). Pure functions over plain values: no libmicrohttpd, no
 * sockets, so tests/unit/test_gw_map.c checks every rule directly.
 *
 * Invariants:
 *  M1. Every header is hostile: a value that does not parse exactly is a
 *      400 with a message naming the header, never a default.
 *  M2. Conditional writes (If-Match, If-None-Match: *, POST) map to the
 *      CASPaxos operations, never to a read followed by a write.
 *  M3. A key is 1..QR_CLIENT_KEY_BYTES_MAX bytes after percent-decoding
 *      (binary keys, NUL included, are allowed); else 400 / 414.
 *  M4. A write whose outcome is unknown (UNAVAILABLE, TIMEOUT) says so in
 *      its answer: it may have been applied.
 */
#ifndef QR_GW_MAP_H
#define QR_GW_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorate/client.h"

enum gw_method {
	GW_M_GET = 0,
	GW_M_HEAD,
	GW_M_PUT,
	GW_M_POST,
	GW_M_DELETE,
	GW_M_OTHER,
	GW_M_COUNT
};

enum gw_method gw_method_of(const char *s);
const char *gw_method_name(enum gw_method m);

/* Request headers the mapping reads; NULL when absent. */
struct gw_hdrs {
	const char *consistency;   /* X-Consistency */
	const char *min_version;   /* X-Min-Version */
	const char *stale_policy;  /* X-Stale-Policy */
	const char *deadline_ms;   /* X-Deadline-Ms */
	const char *if_match;	   /* If-Match */
	const char *if_none_match; /* If-None-Match */
};

#define GW_INM_TAGS_MAX 8 /* entity tags in one If-None-Match on GET */

struct gw_version {
	uint64_t hlc;
	uint16_t node;
};

/* What a KV request became. */
struct gw_kv {
	enum gw_method method;
	enum qr_client_op op;
	struct qr_req_opts opts;
	uint64_t if_hlc; /* *_IF_VERSION */
	uint16_t if_node;
	bool create;	/* POST: 201 on success, 409 when it exists */
	bool inm_any;	/* GET If-None-Match: *  */
	unsigned inm_n; /* GET If-None-Match: "v1", "v2" */
	struct gw_version inm[GW_INM_TAGS_MAX];
};

#define GW_DEADLINE_MS_MAX 60000 /* X-Deadline-Ms above this: 400 */

/*
 * Map a request on /v1/kv/{key}: 0, or an HTTP status (400, 405) with a
 * static message in *why. The caller checks the key and the body size.
 */
int gw_map_kv(enum gw_method m, const struct gw_hdrs *h, struct gw_kv *out,
	      const char **why);

/*
 * Percent-decode the path after /v1/kv/ into key[QR_CLIENT_KEY_BYTES_MAX]:
 * 0, or 400 (empty, a bad %XX escape) / 414 (too long), with *why.
 */
int gw_key_decode(const char *raw, size_t raw_len, uint8_t *key,
		  size_t *key_len, const char **why);

/* "HLC.NODE" (node required) or "HLC" (need_node false: node 0), or the
 * readable form the CLI prints, "2026-12-06T09:14:41.123Z+0.1" (same
 * rule for the node). Quotes around it are accepted (an ETag). 0 or -1. */
int gw_version_parse(const char *s, size_t n, bool need_node,
		     struct gw_version *v);
/* "HLC.NODE" into buf (>= 32 bytes); returns the length. */
int gw_version_format(char *buf, size_t len, uint64_t hlc, uint16_t node);

/* The answer to a KV request. */
struct gw_reply {
	unsigned status;     /* HTTP status */
	const char *error;   /* the qr_err name, NULL on success */
	const char *message; /* static, for the JSON error body; or NULL */
	bool value;	     /* the body is the value (GET 200) */
	bool version;	     /* ETag + X-Write/Data-Version headers */
	bool retry_after;    /* 429 / 503: Retry-After: 1 */
	bool unknown;	     /* a write whose outcome is unknown (M4) */
};

void gw_map_result(const struct gw_kv *kv, const struct qr_result *r,
		   struct gw_reply *out);

/* HTTP status of a qr_err alone (the table in docs/http.md). */
unsigned gw_status_of_err(int err);

#endif
