/* SPDX-License-Identifier: MIT */
/*
 * Frame authentication in the core (auth.h has the trailer and the key
 * schedule). qc_auth_open() runs first in qr_core_on_frame(), before the
 * frame is decoded or any of its fields is used; qc_auth_seal() last in
 * peer_flush(), after the HLC is stamped.
 *
 * Checks, in order, each with its drop reason (C3, A1):
 *   cluster id is not ours          QR_DROP_CLUSTER
 *   source not a peer, dest not us  QR_DROP_BAD_NODE
 *   too short for a trailer,
 *   reserved != 0, tag wrong        QR_DROP_BAD_MAC
 *   key id not one we hold          QR_DROP_BAD_KEY_ID
 *   seen before, or older           QR_DROP_REPLAY
 *
 * Replay window (RFC 4303 section 3.4.3, 64 frames wide), per sender and
 * its incarnation: a frame of an earlier incarnation is refused; one of a
 * later incarnation restarts the window. A window (re)starts only on a
 * frame whose header HLC is within max_offset_ms of our wall clock, so
 * after our own restart (window state lost) a captured frame older than
 * that cannot be played back.
 *
 * Invariants:
 *  A1. No frame from a peer reaches the decoder unless its tag verified
 *      with the direction's key and its (incarnation, seq) is new.
 *  A2. The window moves only after the tag verified: a forgery changes
 *      nothing but a drop counter.
 *  A3. (key, nonce) is never repeated by a sender: seq only grows within
 *      an incarnation, keys differ per shard and direction.
 *
 * Cost: one GMAC per frame each way (~50-300 ns, perf/README.md); key
 * derivation and AES key expansion once, at qr_core_create().
 */
#include "core/core_pvt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"

#define AUTH_WINDOW 64

struct qc_auth_window {
	bool seen;
	uint32_t incarnation;
	uint64_t top;  /* highest seq accepted */
	uint64_t bits; /* bit i: top - i accepted */
};

struct qc_auth {
	uint8_t keys;
	uint16_t key_id[QR_SECRET_KEYS_MAX];
	crypto_aead_aes256gcm_state *tx;	/* [nodes]: key 0, us -> n */
	crypto_aead_aes256gcm_state *rx;	/* [keys * nodes]: n -> us */
	uint64_t *tx_seq;			/* [nodes] */
	struct qc_auth_window *win;		/* [nodes] */
};


static inline void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The key of one direction: cluster key, then (shard, src, dst). */
static void derive(uint8_t out[32], const uint8_t master[32],
		   uint32_t cluster_id, uint16_t shard, uint16_t src,
		   uint16_t dst)
{
	uint8_t ck[32];
	crypto_kdf_derive_from_key(ck, sizeof(ck), cluster_id, "qrclustr",
				   master);
	crypto_kdf_derive_from_key(out, 32,
				   (uint64_t)shard << 32 |
					   (uint64_t)src << 16 | dst,
				   "qrframe1", ck);
	sodium_memzero(ck, sizeof(ck));
}

int qc_auth_init(struct qr_core *c)
{
	if (c->cfg.auth == QR_AUTH_NONE)
		return 0;
	const struct qr_secret *s = c->cfg.secret;
	if (c->cfg.auth != QR_AUTH_MAC || !s || !s->count ||
	    s->count > QR_SECRET_KEYS_MAX)
		return QR_EINVAL;
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available())
		return QR_ECONFIG; /* auth.h: no silent fallback */
	struct qc_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return QR_ENOMEM;
	c->auth = a;
	size_t st = sizeof(crypto_aead_aes256gcm_state);
	a->tx = aligned_alloc(16, st * c->nodes);
	a->rx = aligned_alloc(16, st * c->nodes * s->count);
	a->tx_seq = calloc(c->nodes, sizeof(*a->tx_seq));
	a->win = calloc(c->nodes, sizeof(*a->win));
	if (!a->tx || !a->rx || !a->tx_seq || !a->win)
		return QR_ENOMEM;
	a->keys = s->count;
	uint8_t k[32];
	uint16_t me = c->cfg.node_id, shard = c->cfg.shard;
	for (uint8_t i = 0; i < s->count; i++) {
		a->key_id[i] = s->id[i];
		for (uint16_t n = 0; n < c->nodes; n++) {
			derive(k, s->key[i], c->cfg.cluster_id, shard, n, me);
			crypto_aead_aes256gcm_beforenm(
				&a->rx[i * c->nodes + n], k);
			if (i == 0) {
				derive(k, s->key[0], c->cfg.cluster_id, shard,
				       me, n);
				crypto_aead_aes256gcm_beforenm(&a->tx[n], k);
			}
		}
	}
	sodium_memzero(k, sizeof(k));
	return 0;
}

void qc_auth_fini(struct qr_core *c)
{
	struct qc_auth *a = c->auth;
	if (!a)
		return;
	size_t st = sizeof(crypto_aead_aes256gcm_state);
	if (a->tx)
		sodium_memzero(a->tx, st * c->nodes);
	if (a->rx)
		sodium_memzero(a->rx, st * c->nodes * a->keys);
	free(a->tx);
	free(a->rx);
	free(a->tx_seq);
	free(a->win);
	free(a);
	c->auth = NULL;
}

size_t qc_auth_seal(struct qr_core *c, uint16_t dst, uint8_t *frame,
		    size_t len)
{
	struct qc_auth *a = c->auth;
	if (!a)
		return len;
	uint8_t *t = frame + len;
	uint64_t seq = ++a->tx_seq[dst]; /* A3 */
	uint32_t inc = c->cfg.incarnation;
	t[0] = (uint8_t)a->key_id[0];
	t[1] = (uint8_t)(a->key_id[0] >> 8);
	t[2] = t[3] = 0;
	for (int i = 0; i < 4; i++)
		t[4 + i] = (uint8_t)(inc >> (8 * i));
	wr64(t + 8, seq);
	unsigned long long tl;
	crypto_aead_aes256gcm_encrypt_detached_afternm(
		t + 16, t + 16, &tl, t + 16, 0, frame, len + 16, NULL, t + 4,
		&a->tx[dst]);
	return len + QR_AUTH_TRAILER_BYTES;
}

/* Is (inc, seq) new for this window? fresh: a window may (re)start. */
static bool window_check(const struct qc_auth_window *w, uint32_t inc,
			 uint64_t seq, bool fresh)
{
	if (!w->seen || inc > w->incarnation)
		return fresh;
	if (inc < w->incarnation || seq == 0)
		return false;
	if (seq > w->top)
		return true;
	uint64_t back = w->top - seq;
	return back < AUTH_WINDOW && !(w->bits >> back & 1);
}

static void window_update(struct qc_auth_window *w, uint32_t inc,
			  uint64_t seq)
{
	if (!w->seen || inc != w->incarnation) {
		*w = (struct qc_auth_window){true, inc, seq, 1};
	} else if (seq > w->top) {
		uint64_t shift = seq - w->top;
		w->bits = shift >= AUTH_WINDOW ? 1 : w->bits << shift | 1;
		w->top = seq;
	} else {
		w->bits |= 1ull << (w->top - seq);
	}
}

int qc_auth_open(struct qr_core *c, const uint8_t *frame, size_t *len)
{
	struct qc_auth *a = c->auth;
	size_t n = *len;
	if (qr_ld32(frame + 4) != c->cfg.cluster_id)
		return QR_DROP_CLUSTER;
	uint16_t src = qr_ld16(frame + 8), dst = qr_ld16(frame + 10);
	if (src >= c->nodes || src == c->cfg.node_id ||
	    dst != c->cfg.node_id)
		return QR_DROP_BAD_NODE;
	if (n < QR_FRAME_HDR_BYTES + QR_AUTH_TRAILER_BYTES)
		return QR_DROP_BAD_MAC;
	const uint8_t *t = frame + n - QR_AUTH_TRAILER_BYTES;
	uint16_t kid = qr_ld16(t);
	int k = -1;
	for (int i = 0; i < a->keys; i++)
		if (a->key_id[i] == kid)
			k = i;
	if (k < 0)
		return QR_DROP_BAD_KEY_ID;
	if (qr_ld16(t + 2) != 0)
		return QR_DROP_BAD_MAC;
	uint32_t inc = qr_ld32(t + 4);
	uint64_t seq = qr_ld64(t + 8);
	struct qc_auth_window *w = &a->win[src];
	/* Cheap checks first: a replay costs no GMAC. The window may start
	 * only on a frame sent within max_offset_ms (header HLC). */
	uint64_t sent_ms = QR_HLC_MS(qr_ld64(frame + 16));
	bool fresh = sent_ms + c->hlc.max_offset_ms >= qr_hlc_wall_ms(&c->hlc);
	if (!window_check(w, inc, seq, fresh))
		return QR_DROP_REPLAY;
	uint8_t none[1];
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(
		    none, NULL, t + 16, 0, t + 16, frame,
		    n - QR_AUTH_TAG_BYTES, t + 4,
		    &a->rx[k * c->nodes + src]) != 0)
		return QR_DROP_BAD_MAC;
	window_update(w, inc, seq); /* A2: only after the tag verified */
	*len = n - QR_AUTH_TRAILER_BYTES;
	return -1;
}

size_t qr_core_seal(struct qr_core *c, uint16_t dst, void *frame, size_t len,
		    size_t cap)
{
	if (!c->auth)
		return len;
	if (dst >= c->nodes || len + QR_AUTH_TRAILER_BYTES > cap)
		return 0;
	return qc_auth_seal(c, dst, frame, len);
}
