/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli), used for key -> partition placement and for WAL
 * record checksums. Uses the SSE4.2 crc32 instruction when the CPU has it
 * (checked once at start), a slicing table otherwise; both give identical
 * results (tested).
 */
#ifndef QR_COMMON_CRC32C_H
#define QR_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start. Standard CRC32C (init/xorout ~0). */
uint32_t qr_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable implementation, exposed for tests. */
uint32_t qr_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
