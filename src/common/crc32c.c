/* SPDX-License-Identifier: MIT */
/*
 * CRC32C with a hardware path (SSE4.2 crc32q, 8 bytes per instruction) and a
 * byte-table fallback. The dispatch pointer is resolved on first use.
 */
#include "common/crc32c.h"

#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (c & 1)));
		crc_table[i] = c;
	}
}

uint32_t qr_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (crc_table[1] == 0)
		crc_table_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return ~c32;
}

static uint32_t crc32c_resolve(uint32_t crc, const void *buf, size_t len);
static uint32_t (*crc32c_impl)(uint32_t, const void *, size_t) = crc32c_resolve;

static uint32_t crc32c_resolve(uint32_t crc, const void *buf, size_t len)
{
	__builtin_cpu_init();
	crc32c_impl =
		__builtin_cpu_supports("sse4.2") ? crc32c_hw : qr_crc32c_sw;
	return crc32c_impl(crc, buf, len);
}

uint32_t qr_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_impl(crc, buf, len);
}
#else
uint32_t qr_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return qr_crc32c_sw(crc, buf, len);
}
#endif
