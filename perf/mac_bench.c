/* SPDX-License-Identifier: MIT */
/*
 * Cost of one frame MAC, candidate by candidate, to choose the peer-frame
 * authentication of src/core/auth.c by measurement (issue 12, item 1).
 * Every candidate computes a 16-byte tag over a frame of N bytes with a
 * 32-byte key; the "per-frame key" rows include deriving that key.
 *
 *   libsodium  hmacsha512256        crypto_auth_hmacsha512256 (truncated
 *                                   to 16 B on the wire)
 *   libsodium  blake2b-keyed        crypto_generichash, 16-byte output
 *   libsodium  poly1305+chacha-key  crypto_onetimeauth with a per-frame key
 *                                   from crypto_stream_chacha20 (nonce =
 *                                   incarnation, seq)
 *   libsodium  chacha20poly1305 ad  crypto_aead_chacha20poly1305_ietf with
 *                                   the frame as associated data, no
 *                                   plaintext (same as the row above, in
 *                                   one call)
 *   libsodium  aes256gcm ad (GMAC)  crypto_aead_aes256gcm, frame as AD
 *   openssl    hmac-sha256          HMAC() one-shot, SHA-NI if present
 *   openssl    aes-128-gcm ad       EVP, frame as AAD (GMAC), context kept
 *
 * Usage: mac-bench [--iters N] (default 200,000 per size). Prints ns per
 * frame for 64, 256, 512 and 1472 bytes (the median of 5 runs).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5

static uint8_t key[32];
static uint8_t frame[1472];
static volatile uint8_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void m_hmac512(size_t n, uint64_t seq)
{
	uint8_t tag[crypto_auth_hmacsha512256_BYTES];
	(void)seq;
	crypto_auth_hmacsha512256(tag, frame, n, key);
	sink ^= tag[0];
}

static void m_blake2b(size_t n, uint64_t seq)
{
	uint8_t tag[16];
	(void)seq;
	crypto_generichash(tag, sizeof(tag), frame, n, key, sizeof(key));
	sink ^= tag[0];
}

static void m_poly_chacha(size_t n, uint64_t seq)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
	uint8_t otk[crypto_onetimeauth_KEYBYTES];
	uint8_t tag[crypto_onetimeauth_BYTES];
	memcpy(nonce, &seq, sizeof(seq));
	crypto_stream_chacha20(otk, sizeof(otk), nonce, key);
	crypto_onetimeauth(tag, frame, n, otk);
	sink ^= tag[0];
}

static void m_chapoly_ad(size_t n, uint64_t seq)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {0};
	uint8_t tag[crypto_aead_chacha20poly1305_IETF_ABYTES];
	unsigned long long tl;
	memcpy(nonce, &seq, sizeof(seq));
	uint8_t none[1];
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		none, tag, &tl, none, 0, frame, n, NULL, nonce, key);
	sink ^= tag[0];
}

static crypto_aead_aes256gcm_state gcm_state;

static void m_aesgcm_ad(size_t n, uint64_t seq)
{
	uint8_t nonce[crypto_aead_aes256gcm_NPUBBYTES] = {0};
	uint8_t tag[crypto_aead_aes256gcm_ABYTES];
	unsigned long long tl;
	memcpy(nonce, &seq, sizeof(seq));
	uint8_t none[1];
	crypto_aead_aes256gcm_encrypt_detached_afternm(
		none, tag, &tl, none, 0, frame, n, NULL, nonce, &gcm_state);
	sink ^= tag[0];
}

static void m_ossl_hmac(size_t n, uint64_t seq)
{
	uint8_t tag[32];
	unsigned int tl = sizeof(tag);
	(void)seq;
	HMAC(EVP_sha256(), key, sizeof(key), frame, n, tag, &tl);
	sink ^= tag[0];
}

static EVP_CIPHER_CTX *ossl_gcm;

static void m_ossl_gmac(size_t n, uint64_t seq)
{
	uint8_t iv[12] = {0};
	uint8_t tag[16];
	int ol;
	memcpy(iv, &seq, sizeof(seq));
	EVP_EncryptInit_ex(ossl_gcm, NULL, NULL, NULL, iv);
	EVP_EncryptUpdate(ossl_gcm, NULL, &ol, frame, (int)n);
	EVP_EncryptFinal_ex(ossl_gcm, tag, &ol);
	EVP_CIPHER_CTX_ctrl(ossl_gcm, EVP_CTRL_GCM_GET_TAG, 16, tag);
	sink ^= tag[0];
}

struct cand {
	const char *lib, *name;
	void (*fn)(size_t n, uint64_t seq);
	int ok;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long iters = 200000;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(frame, sizeof(frame));
	int have_gcm = crypto_aead_aes256gcm_is_available();
	if (have_gcm)
		crypto_aead_aes256gcm_beforenm(&gcm_state, key);
	ossl_gcm = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(ossl_gcm, EVP_aes_128_gcm(), NULL, key, NULL);
	struct cand c[] = {
		{"libsodium", "hmacsha512256", m_hmac512, 1},
		{"libsodium", "blake2b-keyed", m_blake2b, 1},
		{"libsodium", "poly1305+chacha-key", m_poly_chacha, 1},
		{"libsodium", "chacha20poly1305 ad", m_chapoly_ad, 1},
		{"libsodium", "aes256gcm ad (GMAC)", m_aesgcm_ad, have_gcm},
		{"openssl", "hmac-sha256", m_ossl_hmac, 1},
		{"openssl", "aes-128-gcm ad (GMAC)", m_ossl_gmac, 1},
	};
	const size_t sizes[] = {64, 256, 512, 1472};
	printf("%-10s %-22s", "library", "MAC");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		printf(" %7zu B", sizes[s]);
	printf("   (ns per frame, median of %d x %ld)\n", RUNS, iters);
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		if (!c[k].ok)
			continue;
		printf("%-10s %-22s", c[k].lib, c[k].name);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint64_t r[RUNS];
			for (int run = 0; run < RUNS; run++) {
				uint64_t t0 = now_ns();
				for (long i = 0; i < iters; i++)
					c[k].fn(sizes[s], (uint64_t)i);
				r[run] = now_ns() - t0;
			}
			qsort(r, RUNS, sizeof(r[0]), cmp_u64);
			printf(" %9.1f", (double)r[RUNS / 2] / (double)iters);
		}
		printf("\n");
	}
	EVP_CIPHER_CTX_free(ossl_gcm);
	return 0;
}
