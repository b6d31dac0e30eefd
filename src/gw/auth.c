/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's bearer-token check (auth.h, invariants A1..A3). The token
 * is "<id>.<64 hex>": strict (no sign, no leading zero, nothing after),
 * because a lenient parser would let two spellings name one client.
 */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "gw/auth.h"

#define BEARER "Bearer"

/* "<1..65535 without a leading zero>." at *p: the id, p past the dot; or
 * 0 (malformed). */
static unsigned parse_id(const char **p)
{
	const char *s = *p;
	unsigned long id = 0;
	int n = 0;
	if (*s == '0')
		return 0;
	while (*s >= '0' && *s <= '9' && n < 6) {
		id = id * 10 + (unsigned long)(*s++ - '0');
		n++;
	}
	if (n == 0 || *s != '.' || id > 65535)
		return 0;
	*p = s + 1;
	return (unsigned)id;
}

static const struct qr_client_key *find(const struct qr_client_keys *ks,
					unsigned id)
{
	for (unsigned i = 0; i < ks->count; i++)
		if (ks->k[i].id == id)
			return &ks->k[i];
	return NULL;
}

int gw_auth_authenticate(const struct qr_client_keys *ks, const char *hdr,
			 bool twice, const struct qr_client_key **who,
			 const char **why)
{
	static const uint8_t dummy[QR_SECRET_KEY_BYTES]; /* A2 */
	*who = NULL;
	*why = "Authorization: Bearer <client id>.<64 hex digits> required";
	if (!hdr)
		return 401;
	if (twice) {
		*why = "Authorization given twice";
		return 401;
	}
	size_t bl = strlen(BEARER);
	if (strncasecmp(hdr, BEARER, bl) || hdr[bl] != ' ')
		return 401;
	const char *p = hdr + bl;
	while (*p == ' ')
		p++;
	unsigned id = parse_id(&p);
	uint8_t key[QR_SECRET_KEY_BYTES];
	size_t kl = 0;
	const char *end = NULL;
	if (!id || strlen(p) != 2 * QR_SECRET_KEY_BYTES ||
	    sodium_hex2bin(key, sizeof(key), p, strlen(p), NULL, &kl, &end) ||
	    kl != sizeof(key) || *end)
		return 401;
	const struct qr_client_key *k = find(ks, id);
	int diff = sodium_memcmp(key, k ? k->key : dummy, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (!k || diff) {
		*why = "unknown client id or wrong key";
		return 401;
	}
	*who = k;
	*why = NULL;
	return 0;
}

int gw_auth_authorize(const struct qr_client_key *who, enum qr_client_op op,
		      const void *key, size_t key_len, const char **why)
{
	bool read = op == QR_CLIENT_GET || op == QR_CLIENT_GET_LINEARIZABLE;
	*why = NULL;
	if (!read && who->role != QR_CLIENT_RW) {
		*why = "this client's key is read-only (ro)";
		return 403;
	}
	if (key_len < who->prefix_len ||
	    memcmp(key, who->prefix, who->prefix_len)) {
		*why = "the key is outside this client's key prefix";
		return 403;
	}
	return 0;
}
