/* SPDX-License-Identifier: MIT */
/*
 * Little-endian loads and stores of fixed-width integers at any alignment:
 * every byte layout the project defines (wire frames, frame trailers, the
 * membership encoding) is little-endian with explicit offsets, never a C
 * struct image. memcpy compiles to one mov on x86-64 and arm64; the byte
 * swap exists only on big-endian hosts.
 */
#ifndef QR_COMMON_LE_H
#define QR_COMMON_LE_H

#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__)
#error "common/le.h needs __BYTE_ORDER__ (gcc or clang)"
#elif __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define QR_LE16(x) (x)
#define QR_LE32(x) (x)
#define QR_LE64(x) (x)
#else
#define QR_LE16(x) __builtin_bswap16(x)
#define QR_LE32(x) __builtin_bswap32(x)
#define QR_LE64(x) __builtin_bswap64(x)
#endif

static inline uint16_t qr_ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return QR_LE16(v);
}

static inline uint32_t qr_ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return QR_LE32(v);
}

static inline uint64_t qr_ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return QR_LE64(v);
}

static inline void qr_st16(uint8_t *p, uint16_t v)
{
	v = QR_LE16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void qr_st32(uint8_t *p, uint32_t v)
{
	v = QR_LE32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void qr_st64(uint8_t *p, uint64_t v)
{
	v = QR_LE64(v);
	memcpy(p, &v, sizeof(v));
}

#endif
