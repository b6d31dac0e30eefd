/* SPDX-License-Identifier: MIT */
/*
 * Differential fuzz target for the wire codec (src/core/wire.c). For any
 * input, decoding must not crash or read outside the input (ASan), and every
 * message it accepts must survive encode -> decode unchanged: the encoder
 * must accept it (QR_EINVAL would mean the two range checks disagree), must
 * write back exactly the input's bytes for it (layouts are canonical), and
 * decoding those bytes must give identical fields. A frame that decodes
 * completely must re-encode to the identical frame. Any violation aborts.
 *
 * Each input is tried with a fixed cluster id (the one the seed corpus
 * uses) and with the cluster id read from the input, so mutations of that
 * field do not hide the rest of the decoder.
 *
 * Built twice (tests/fuzz/meson.build): as the libFuzzer target fuzz_wire,
 * and with -DQR_FUZZ_REPLAY as wire_replay, a plain program that runs every
 * file of the seed corpus through the same checks (works with gcc too) and
 * also checks what the file's name promises: "ok-*" decodes completely,
 * "err-<NAME>-*" fails with the error whose qr_strerror() is NAME.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/limits.h"
#include "core/wire.h"
#include "quorate/err.h"

#define FUZZ_CLUSTER_ID 0x51524331u /* cluster id of tests/fuzz/corpus/wire */
#define FUZZ_MSGS_MAX	256	    /* > any msg_count (a u8) */

static bool is_open_err(int rc)
{
	return rc == QR_EWIRE_SHORT || rc == QR_EWIRE_MAGIC ||
	       rc == QR_EWIRE_VERSION || rc == QR_EWIRE_CLUSTER ||
	       rc == QR_EWIRE_COUNT || rc == QR_EWIRE_LENGTH;
}

static bool is_next_err(int rc)
{
	return rc == QR_EWIRE_SHORT || rc == QR_EWIRE_LENGTH ||
	       rc == QR_EWIRE_TYPE || rc == QR_EWIRE_FIELD;
}

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* Every field of struct qr_msg, the bytes behind key and value included. */
static void assert_msg_equal(const struct qr_msg *a, const struct qr_msg *b)
{
	QR_ASSERT(a->type == b->type);
	QR_ASSERT(a->flags == b->flags);
	QR_ASSERT(a->req_id == b->req_id);
	QR_ASSERT(a->op == b->op);
	QR_ASSERT(a->level == b->level);
	QR_ASSERT(a->r == b->r && a->w == b->w);
	QR_ASSERT(a->deadline_us == b->deadline_us);
	QR_ASSERT(a->min_version == b->min_version);
	QR_ASSERT(a->status == b->status);
	QR_ASSERT(a->answered == b->answered);
	QR_ASSERT(a->replica_mask == b->replica_mask);
	QR_ASSERT(a->op_id == b->op_id);
	QR_ASSERT(a->partition == b->partition);
	QR_ASSERT(qr_version_cmp(a->version, b->version) == 0);
	QR_ASSERT(a->incarnation == b->incarnation);
	QR_ASSERT(a->closed_ts == b->closed_ts);
	QR_ASSERT(a->key_len == b->key_len);
	QR_ASSERT((a->key == NULL) == (b->key == NULL));
	QR_ASSERT(bytes_equal(a->key, b->key, a->key_len));
	QR_ASSERT(a->value_len == b->value_len);
	QR_ASSERT((a->value == NULL) == (b->value == NULL));
	QR_ASSERT(bytes_equal(a->value, b->value, a->value_len));
}

/* A decoded key or value lies inside the frame it came from. */
static void assert_inside(const void *p, size_t n, const uint8_t *buf,
			  size_t len)
{
	const uint8_t *q = p;

	if (q == NULL) {
		QR_ASSERT(n == 0);
		return;
	}
	QR_ASSERT(q >= buf && q <= buf + len && n <= (size_t)(buf + len - q));
}

/* Encode m alone; its bytes must be exactly `orig`; decode it back. */
static void check_one(const struct qr_frame_hdr *hdr, const struct qr_msg *m,
		      const uint8_t *orig, size_t orig_len)
{
	uint8_t frame[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_reader r;
	struct qr_frame_hdr h2;
	struct qr_msg back;

	QR_ASSERT(qr_wire_msg_bytes(m) == orig_len);
	qr_wire_frame_begin(&w, frame, sizeof(frame), hdr);
	QR_ASSERT(qr_wire_put(&w, m) == 0);
	size_t len = qr_wire_frame_end(&w);
	QR_ASSERT(len == QR_FRAME_HDR_BYTES + orig_len);
	QR_ASSERT(memcmp(frame + QR_FRAME_HDR_BYTES, orig, orig_len) == 0);

	QR_ASSERT(qr_wire_frame_open(&r, frame, len, hdr->cluster_id, &h2) ==
		  0);
	QR_ASSERT(h2.msg_count == 1 && h2.hlc == hdr->hlc);
	QR_ASSERT(qr_wire_next(&r, &back) == 1);
	assert_msg_equal(m, &back);
	QR_ASSERT(qr_wire_next(&r, &back) == 0);
}

/*
 * Decode data with cluster_id and run every check. Returns the number of
 * messages (> 0) if the whole frame decoded, else the QR_EWIRE_* error.
 */
static int check_frame(const uint8_t *data, size_t size, uint32_t cluster_id)
{
	static struct qr_msg msgs[FUZZ_MSGS_MAX];
	struct qr_frame_reader r;
	struct qr_frame_hdr hdr;
	int n = 0, rc;

	rc = qr_wire_frame_open(&r, data, size, cluster_id, &hdr);
	if (rc != 0) {
		QR_ASSERT(is_open_err(rc));
		QR_ASSERT(r.left == 0);
		struct qr_msg m;
		QR_ASSERT(qr_wire_next(&r, &m) == 0); /* an empty reader */
		return rc;
	}
	QR_ASSERT(hdr.cluster_id == cluster_id && hdr.msg_count > 0);

	for (;;) {
		size_t off = r.off;

		rc = qr_wire_next(&r, &msgs[n]);
		if (rc != 1)
			break;
		const struct qr_msg *m = &msgs[n];
		assert_inside(m->key, m->key_len, data, size);
		assert_inside(m->value, m->value_len, data, size);
		check_one(&hdr, m, data + off, r.off - off);
		QR_ASSERT(++n <= hdr.msg_count);
	}
	if (rc != 0) {
		QR_ASSERT(is_next_err(rc));
		QR_ASSERT(qr_wire_next(&r, &msgs[n]) == 0); /* stops reading */
		return rc;
	}
	QR_ASSERT(n == hdr.msg_count);

	/* The whole frame: re-encoding gives back the same bytes. */
	uint8_t frame[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	qr_wire_frame_begin(&w, frame, sizeof(frame), &hdr);
	for (int i = 0; i < n; i++)
		QR_ASSERT(qr_wire_put(&w, &msgs[i]) == 0);
	size_t len = qr_wire_frame_end(&w);
	QR_ASSERT(len == size && memcmp(frame, data, size) == 0);
	return n;
}

static uint32_t input_cluster_id(const uint8_t *data, size_t size)
{
	uint32_t v = 0;

	if (size >= 8)
		v = (uint32_t)data[4] | (uint32_t)data[5] << 8 |
		    (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t own = input_cluster_id(data, size);
	int a = check_frame(data, size, FUZZ_CLUSTER_ID);
	int b = check_frame(data, size, own);

	/* The cluster id is only compared: the same id, the same answer. */
	if (own == FUZZ_CLUSTER_ID)
		QR_ASSERT(a == b);
	else if (size >= QR_FRAME_HDR_BYTES && a == QR_EWIRE_CLUSTER)
		QR_ASSERT(b != QR_EWIRE_CLUSTER);
	return 0;
}

#ifdef QR_FUZZ_REPLAY
#include <dirent.h>

/* What the file's name promises; 0 if it does not say. */
static int check_name(const char *name, const uint8_t *data, size_t size)
{
	int rc = check_frame(data, size, FUZZ_CLUSTER_ID);

	if (strncmp(name, "ok-", 3) == 0) {
		if (rc > 0)
			return 0;
		fprintf(stderr, "%s: expected a valid frame, got %s\n", name,
			qr_strerror(rc));
		return 1;
	}
	if (strncmp(name, "err-", 4) == 0) {
		const char *want = name + 4;
		const char *got = rc > 0 ? "OK" : qr_strerror(rc);
		size_t n = strlen(got);

		if (strncmp(want, got, n) == 0 &&
		    (want[n] == '-' || want[n] == '\0'))
			return 0;
		fprintf(stderr, "%s: decoder said %s\n", name, got);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	unsigned files = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(d)) != NULL) {
			char path[QR_PATH_BYTES_MAX];
			if (e->d_name[0] == '.')
				continue;
			int l = snprintf(path, sizeof(path), "%s/%s", argv[i],
					 e->d_name);
			if (l < 0 || (size_t)l >= sizeof(path)) {
				fprintf(stderr, "%s/%s: path too long\n",
					argv[i], e->d_name);
				return 1;
			}
			FILE *f = fopen(path, "rb");
			if (!f) {
				perror(path);
				return 1;
			}
			size_t n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			LLVMFuzzerTestOneInput(buf, n);
			failed += check_name(e->d_name, buf, n);
			files++;
		}
		closedir(d);
	}
	printf("wire corpus: %u files, %u failed\n", files, failed);
	if (files == 0) {
		fprintf(stderr, "no corpus files: nothing was checked\n");
		return 1;
	}
	return failed ? 1 : 0;
}
#endif
