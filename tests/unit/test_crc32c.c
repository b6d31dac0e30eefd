/* SPDX-License-Identifier: MIT */
/*
 * CRC32C: the published check values (the CRC catalogue's "123456789" and
 * RFC 3720 B.4's iSCSI vectors), the dispatched implementation (SSE4.2 where
 * the CPU has it) against the portable table one on random buffers of every
 * length 0..300 at every alignment 0..7, and incremental == one shot. Placement
 * and the WAL both depend on these values never changing.
 */
#include <stdint.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/rng.h"
#include "unit.h"

#define LEN_MAX	  300
#define ALIGN_MAX 8

static void check_vector(const void *buf, size_t len, uint32_t want)
{
	CU_ASSERT_EQUAL(qr_crc32c(0, buf, len), want);
	CU_ASSERT_EQUAL(qr_crc32c_sw(0, buf, len), want);
}

static void test_check_value_123456789(void)
{
	check_vector("123456789", 9, 0xe3069283u);
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_rfc3720_vectors(void)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	check_vector(buf, sizeof(buf), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	check_vector(buf, sizeof(buf), 0x62a8ab43u);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	check_vector(buf, sizeof(buf), 0x46dd794eu);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(31 - i);
	check_vector(buf, sizeof(buf), 0x113fdb5cu);
}

static void test_empty_buffer_keeps_crc(void)
{
	CU_ASSERT_EQUAL(qr_crc32c(0, "", 0), 0);
	CU_ASSERT_EQUAL(qr_crc32c_sw(0, "", 0), 0);
	CU_ASSERT_EQUAL(qr_crc32c(0xdeadbeefu, "", 0), 0xdeadbeefu);
	CU_ASSERT_EQUAL(qr_crc32c_sw(0xdeadbeefu, "", 0), 0xdeadbeefu);
}

static void fill_random(struct qr_rng *r, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)qr_rng_next(r);
}

static void test_hw_equals_sw_every_length_and_alignment(void)
{
	static uint8_t buf[LEN_MAX + ALIGN_MAX];
	struct qr_rng r;
	unsigned mismatches = 0;

	qr_rng_seed(&r, 0xc5c32u);
	for (size_t len = 0; len <= LEN_MAX; len++) {
		for (size_t off = 0; off < ALIGN_MAX; off++) {
			uint32_t seed = (uint32_t)qr_rng_next(&r);

			fill_random(&r, buf, sizeof(buf));
			if (qr_crc32c(0, buf + off, len) !=
			    qr_crc32c_sw(0, buf + off, len))
				mismatches++;
			/* A non-zero starting CRC, as in incremental use. */
			if (qr_crc32c(seed, buf + off, len) !=
			    qr_crc32c_sw(seed, buf + off, len))
				mismatches++;
		}
	}
	CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_incremental_equals_one_shot(void)
{
	static uint8_t buf[LEN_MAX];
	struct qr_rng r;
	unsigned mismatches = 0;

	qr_rng_seed(&r, 7);
	fill_random(&r, buf, sizeof(buf));
	uint32_t whole = qr_crc32c(0, buf, sizeof(buf));
	CU_ASSERT_EQUAL(whole, qr_crc32c_sw(0, buf, sizeof(buf)));

	for (size_t split = 0; split <= sizeof(buf); split++) {
		uint32_t c = qr_crc32c(0, buf, split);
		uint32_t s = qr_crc32c_sw(0, buf, split);

		c = qr_crc32c(c, buf + split, sizeof(buf) - split);
		s = qr_crc32c_sw(s, buf + split, sizeof(buf) - split);
		if (c != whole || s != whole)
			mismatches++;
	}
	CU_ASSERT_EQUAL(mismatches, 0);

	/* Many small pieces of random sizes, mixing the two paths. */
	for (int round = 0; round < 100; round++) {
		uint32_t c = 0;
		size_t at = 0;

		while (at < sizeof(buf)) {
			size_t n = (size_t)qr_rng_below(&r, 20);

			if (n > sizeof(buf) - at)
				n = sizeof(buf) - at;
			c = (round & 1) ? qr_crc32c_sw(c, buf + at, n)
					: qr_crc32c(c, buf + at, n);
			at += n;
		}
		if (c != whole)
			mismatches++;
	}
	CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_single_bit_flip_changes_crc(void)
{
	uint8_t buf[64];
	struct qr_rng r;
	unsigned unchanged = 0;

	qr_rng_seed(&r, 99);
	fill_random(&r, buf, sizeof(buf));
	uint32_t base = qr_crc32c(0, buf, sizeof(buf));
	for (unsigned bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (qr_crc32c(0, buf, sizeof(buf)) == base)
			unchanged++;
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CU_ASSERT_EQUAL(unchanged, 0);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"check value of \"123456789\"", test_check_value_123456789},
		{"RFC 3720 B.4 vectors", test_rfc3720_vectors},
		{"empty buffer keeps the running crc",
		 test_empty_buffer_keeps_crc},
		{"hardware == software, lengths 0..300, offsets 0..7",
		 test_hw_equals_sw_every_length_and_alignment},
		{"incremental == one shot", test_incremental_equals_one_shot},
		{"every single-bit flip changes the crc",
		 test_single_bit_flip_changes_crc},
		{NULL, NULL},
	};
	return qr_unit_main("crc32c", cases);
}
