/* SPDX-License-Identifier: MIT */
/*
 * Client authentication (issue 12 item 2; docs/protocol.md, "Client
 * frames"; docs/client.md, "Client keys"). A client frame (src_node 0xffff)
 * ends in the same 32-byte trailer as a peer frame (auth.h):
 *
 *   key_id = the client id (common/secret.h's client key file)
 *   reserved 0 | nonce: u32 + u64, random at the handle's open, the u64
 *   + 1 per frame | tag: AES-256-GCM (GMAC) over the header, every
 *   message and trailer bytes 0..15, nothing encrypted
 *
 * Key: crypto_kdf from the client's key in the file to one for the cluster
 * id and client id ("qrclient"): the same file used with another cluster
 * signs nothing there.
 *
 * The core checks a client frame before it is decoded (CA1), then each
 * request against the key's role and prefix (CA2):
 *   client id not in the file         QR_DROP_CLIENT_KEY (dropped, counted)
 *   no trailer, tag wrong             QR_DROP_CLIENT_MAC (dropped, counted)
 *   a write with a read-only key,
 *   a key outside the key's prefix    answered UNAUTHORIZED
 *
 * Invariants:
 *  CA1. With client keys configured, no client frame reaches the decoder
 *       unless its tag verified with its client's key.
 *  CA2. A request is started only if its client's role allows its op and
 *       its key begins with the client's prefix; else it is answered
 *       UNAUTHORIZED (a named error, never silence: the client is known).
 *
 * Not covered: replay. A captured client frame played back is the same
 * request again: writes are deduplicated by (address, req_id) while the
 * dedupe entry lives, and the answer goes to the address in the frame.
 * Replies are not signed (docs/operations.md, "Threat model").
 *
 * Cost: one GMAC per client frame (~50-300 ns, perf/README.md), a linear
 * search of at most QR_CLIENT_KEYS_MAX ids.
 */
#include "core/core_pvt.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cluster.h"

struct qc_client_auth {
	uint16_t count;
	struct qr_client_key *keys;	 /* [count]: id, role, prefix (the
					  * key bytes wiped) */
	crypto_aead_aes256gcm_state *st; /* [count] */
};

struct qr_auth_client {
	crypto_aead_aes256gcm_state st;
	uint16_t id;
	uint32_t nonce_hi;
	uint64_t seq;
};

static void derive(uint8_t out[32], const uint8_t key[32], uint32_t cluster_id,
		   uint16_t client_id)
{
	crypto_kdf_derive_from_key(out, 32,
				   (uint64_t)cluster_id << 16 | client_id,
				   "qrclient", key);
}

struct qr_auth_client *qr_auth_client_new(const struct qr_client_key *k,
					  uint32_t cluster_id)
{
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available())
		return NULL;
	struct qr_auth_client *a = aligned_alloc(16, sizeof(*a));
	if (!a)
		return NULL;
	uint8_t dk[32];
	derive(dk, k->key, cluster_id, k->id);
	crypto_aead_aes256gcm_beforenm(&a->st, dk);
	sodium_memzero(dk, sizeof(dk));
	a->id = k->id;
	randombytes_buf(&a->nonce_hi, sizeof(a->nonce_hi));
	randombytes_buf(&a->seq, sizeof(a->seq));
	return a;
}

/* Which client id: the caller's, then $QUORATE_CLIENT_ID; 0: the first
 * line. 0 or -1 (not 1..65535). */
static int client_id_of(uint16_t given, uint16_t *id)
{
	*id = given;
	const char *e = getenv("QUORATE_CLIENT_ID");
	if (*id || !e || !*e)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(e, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*id = (uint16_t)v;
	return 0;
}

int qr_auth_client_open(const struct qr_cluster *cl, const char *key_file,
			uint16_t client_id, struct qr_auth_client **out,
			char *err, size_t err_len)
{
	*out = NULL;
	const char *file = key_file;
	if (!file || !*file)
		file = getenv("QUORATE_KEY_FILE");
	if (!file || !*file)
		file = cl->client_key_file;
	if (cl->auth != QR_AUTH_MAC || !*file)
		return 0; /* nothing to sign with: frames go unsigned */
	uint16_t id;
	if (client_id_of(client_id, &id)) {
		snprintf(err, err_len, "QUORATE_CLIENT_ID: not 1..65535");
		return QR_ECONFIG;
	}
	struct qr_client_keys *ks = malloc(sizeof(*ks));
	if (!ks) {
		snprintf(err, err_len, "out of memory");
		return QR_ENOMEM;
	}
	int rc = qr_client_keys_load(file, ks, err, err_len);
	const struct qr_client_key *k = NULL;
	for (uint16_t i = 0; !rc && i < ks->count && !k; i++)
		if (!id || ks->k[i].id == id)
			k = &ks->k[i];
	if (!rc && !k) {
		snprintf(err, err_len, "%s: no line for client id %u", file,
			 (unsigned)id);
		rc = QR_ECONFIG;
	}
	if (!rc && !(*out = qr_auth_client_new(k, cl->id))) {
		snprintf(err, err_len, "%s: AES-NI or memory missing", file);
		rc = QR_ECONFIG;
	}
	qr_client_keys_wipe(ks);
	free(ks);
	return rc;
}

void qr_auth_client_free(struct qr_auth_client *a)
{
	if (!a)
		return;
	sodium_memzero(a, sizeof(*a));
	free(a);
}

size_t qr_auth_client_seal(struct qr_auth_client *a, void *frame, size_t len,
			   size_t cap)
{
	if (len + QR_AUTH_TRAILER_BYTES > cap)
		return 0;
	uint8_t *f = frame, *t = f + len;
	uint64_t seq = ++a->seq;
	t[0] = (uint8_t)a->id;
	t[1] = (uint8_t)(a->id >> 8);
	t[2] = t[3] = 0;
	for (int i = 0; i < 4; i++)
		t[4 + i] = (uint8_t)(a->nonce_hi >> (8 * i));
	for (int i = 0; i < 8; i++)
		t[8 + i] = (uint8_t)(seq >> (8 * i));
	unsigned long long tl;
	crypto_aead_aes256gcm_encrypt_detached_afternm(t + 16, t + 16, &tl,
						       t + 16, 0, f, len + 16,
						       NULL, t + 4, &a->st);
	return len + QR_AUTH_TRAILER_BYTES;
}

int qc_auth_clients_init(struct qr_core *c)
{
	const struct qr_client_keys *ks = c->cfg.client_keys;
	if (!ks || c->cfg.auth == QR_AUTH_NONE)
		return 0;
	if (!ks->count || ks->count > QR_CLIENT_KEYS_MAX)
		return QR_EINVAL;
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available())
		return QR_ECONFIG;
	struct qc_client_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return QR_ENOMEM;
	c->client_auth = a;
	a->st = aligned_alloc(16, sizeof(*a->st) * ks->count);
	a->keys = calloc(ks->count, sizeof(*a->keys));
	if (!a->st || !a->keys)
		return QR_ENOMEM;
	a->count = ks->count;
	uint8_t dk[32];
	for (uint16_t i = 0; i < ks->count; i++) {
		derive(dk, ks->k[i].key, c->cfg.cluster_id, ks->k[i].id);
		crypto_aead_aes256gcm_beforenm(&a->st[i], dk);
		a->keys[i] = ks->k[i];
		sodium_memzero(a->keys[i].key, sizeof(a->keys[i].key));
	}
	sodium_memzero(dk, sizeof(dk));
	return 0;
}

void qc_auth_clients_fini(struct qr_core *c)
{
	struct qc_client_auth *a = c->client_auth;
	if (!a)
		return;
	if (a->st)
		sodium_memzero(a->st, sizeof(*a->st) * a->count);
	free(a->st);
	free(a->keys);
	free(a);
	c->client_auth = NULL;
}

int qc_auth_client_open(struct qr_core *c, const uint8_t *frame, size_t *len,
			const struct qr_client_key **who)
{
	struct qc_client_auth *a = c->client_auth;
	size_t n = *len;
	if (n < QR_FRAME_HDR_BYTES + QR_AUTH_TRAILER_BYTES)
		return QR_DROP_CLIENT_MAC;
	const uint8_t *t = frame + n - QR_AUTH_TRAILER_BYTES;
	uint16_t id = (uint16_t)(t[0] | t[1] << 8);
	int k = -1;
	for (int i = 0; i < a->count && k < 0; i++)
		if (a->keys[i].id == id)
			k = i;
	if (k < 0)
		return QR_DROP_CLIENT_KEY;
	uint8_t none[1];
	if (t[2] || t[3] ||
	    crypto_aead_aes256gcm_decrypt_detached_afternm(
		    none, NULL, t + 16, 0, t + 16, frame, n - QR_AUTH_TAG_BYTES,
		    t + 4, &a->st[k]) != 0)
		return QR_DROP_CLIENT_MAC;
	*who = &a->keys[k]; /* CA1 */
	*len = n - QR_AUTH_TRAILER_BYTES;
	return -1;
}

bool qc_auth_client_allows(const struct qr_client_key *who,
			   const struct qr_msg *m)
{
	if (!who || m->op == QR_OP_TOPOLOGY)
		return true; /* client auth off; or no data: any client */
	bool read = m->op == QR_OP_GET || m->op == QR_OP_LIN_GET;
	if (!read && who->role != QR_CLIENT_RW)
		return false;
	return m->key_len >= who->prefix_len &&
	       !memcmp(m->key, who->prefix, who->prefix_len); /* CA2 */
}
