/* SPDX-License-Identifier: MIT */
/*
 * Deterministic pseudo-random numbers (xoshiro256**, seeded by splitmix64).
 * Used by the simulator and by the core through the env's random source, so
 * a seed replays exactly. Not for cryptography.
 */
#ifndef QR_COMMON_RNG_H
#define QR_COMMON_RNG_H

#include <stdint.h>

struct qr_rng {
	uint64_t s[4];
};

static inline uint64_t qr_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void qr_rng_seed(struct qr_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = qr_splitmix64(&seed);
}

static inline uint64_t qr_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t qr_rng_next(struct qr_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = qr_rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = qr_rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, n); n > 0. Lemire's multiply-shift (tiny bias is fine). */
static inline uint64_t qr_rng_below(struct qr_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)qr_rng_next(r) * n) >> 64);
}

/* True with probability ppm / 1e6. */
static inline int qr_rng_chance_ppm(struct qr_rng *r, uint32_t ppm)
{
	return qr_rng_below(r, 1000000) < ppm;
}

#endif
