/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the WAL recovery parsers: any bytes must give a
 * result, QR_ECORRUPT or QR_EDATADIR (a format it does not read), never
 * a crash, a hang or an out-of-bounds read.
 * Input: byte 0 = number of segment images (1..4) and a snapshot lsn
 * selector; the rest is split evenly into the images. The same bytes are
 * also parsed as a snapshot file. Delivered records are checked for
 * sane lengths (the parser promised them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/err.h"
#include "wal/wal_format.h"

static int check_rec(void *arg, const struct qr_wal_record *r)
{
	volatile uint8_t sink = 0;
	(void)arg;
	QR_ASSERT(r->key_len >= 1);
	/* Touch every byte: ASan catches a lie about lengths. */
	for (uint32_t i = 0; i < r->key_len; i++)
		sink ^= ((const uint8_t *)r->key)[i];
	for (uint32_t i = 0; i < r->value_len; i++)
		sink ^= ((const uint8_t *)r->value)[i];
	(void)sink;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t n = 1 + (data[0] & 3);
	uint64_t snap_lsn = (data[0] >> 2) & 7;
	const uint8_t *p = data + 1;
	size_t left = size - 1, each = left / n;
	struct qr_wal_image imgs[4];
	uint8_t *copies[4];

	for (uint32_t i = 0; i < n; i++) {
		size_t len = i + 1 == n ? left - each * i : each;
		/* Exact-size heap copies: ASan sees any overread. */
		copies[i] = malloc(len ? len : 1);
		memcpy(copies[i], p + each * i, len);
		imgs[i] = (struct qr_wal_image){ "fuzz", i + 1, copies[i],
						 len };
	}
	struct qr_wal_parse_result res;
	int rc = qr_wal_parse_log(imgs, n, 0, snap_lsn, check_rec, NULL, &res);
	QR_ASSERT(rc == 0 || rc == QR_ECORRUPT || rc == QR_EDATADIR);
	QR_ASSERT(rc != 0 || res.records <= res.last_lsn);
	QR_ASSERT(rc == 0 || res.message[0]);

	struct qr_wal_snap_info info;
	struct qr_wal_image whole = { "fuzz.snap", 1, copies[0],
				      imgs[0].len };
	rc = qr_wal_parse_snapshot(&whole, 0, check_rec, NULL, &info);
	QR_ASSERT(rc == 0 || rc == QR_ECORRUPT || rc == QR_EDATADIR);
	for (uint32_t i = 0; i < n; i++)
		free(copies[i]);
	return 0;
}
