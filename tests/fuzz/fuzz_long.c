/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the long-form decoder (src/core/wire_long.c, W1): the
 * input is a long form as reassembled from fragments. For every input the
 * decoder returns 0 or a QR_EWIRE_* error and reads nothing outside the
 * input (libFuzzer's ASan; the replay copies each input to a buffer of
 * its exact size). When it accepts, the message is valid (the frame
 * decoder's range checks with the long value bound), its value is the
 * input's last value_len bytes and longer than QR_VALUE_INLINE_MAX, and
 * encoding it again gives exactly the input: one encoding per message.
 * Built as the libFuzzer target fuzz_long and, with -DQR_FUZZ_REPLAY, as a
 * plain program over the seed corpus (`long_replay DIR`), which also
 * writes that corpus (`long_replay --gen DIR`: valid long forms of every
 * type that carries a value; commit them after a layout change).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire_long.h"
#include "quorate/err.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_long: violated: %s\n", what);
		abort();
	}
}

static unsigned accepted; /* inputs decoded (the replay reports it) */

static int run(const uint8_t *data, size_t size)
{
	static uint8_t re[QR_LONG_BYTES_MAX];
	struct qr_msg m;
	int rc = qr_wire_long_decode(data, size, &m);
	if (rc != 0) {
		check(rc <= QR_EWIRE_SHORT && rc >= QR_EWIRE_COUNT,
		      "error is a QR_EWIRE_*");
		return 0;
	}
	accepted++;
	check(qr_wire_long_fields_ok(&m), "fields in range");
	check(m.value_len > QR_VALUE_INLINE_MAX &&
		      m.value_len <= QR_VALUE_BYTES_MAX,
	      "value length");
	check(m.value == data + size - m.value_len, "value at the end");
	check(m.key_len == 0 || (m.key > data && m.key + m.key_len <= m.value),
	      "key inside the input");
	long n = qr_wire_long_encode(&m, re, sizeof(re));
	check(n == (long)size && !memcmp(re, data, size),
	      "re-encodes to the input");
	return 0;
}

#ifdef QR_FUZZ_REPLAY
#include <dirent.h>

/* Seeds: one valid long form per value-carrying type, value 1,025 B or
 * 3,000 B (small files; the fuzzer grows them). */
static int gen(const char *dir)
{
	static uint8_t key[16] = "seed-key", val[3000], out[4096];
	memset(val, 'v', sizeof(val));
	const struct qr_msg msgs[] = {
		{.type = QR_MSG_CLIENT_REQ, .req_id = 77, .op = QR_OP_PUT,
		 .level = QR_LEVEL_QUORUM, .deadline_us = 900000},
		{.type = QR_MSG_CLIENT_REPLY, .req_id = 77, .answered = 2,
		 .version = {1234, 1}},
		{.type = QR_MSG_REPLICATE, .op_id = 5, .partition = 3,
		 .version = {1234, 1}},
		{.type = QR_MSG_READ_REPLY, .op_id = 5, .partition = 3,
		 .version = {1234, 1}, .closed_ts = 1000},
		{.type = QR_MSG_PROMISE, .op_id = 5, .partition = 3,
		 .version = {1234, 1}},
		{.type = QR_MSG_ACCEPT, .op_id = 5, .partition = 3,
		 .version = {1234, 1}},
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct qr_msg m = msgs[i];
		bool keyed = m.type == QR_MSG_CLIENT_REQ ||
			     m.type == QR_MSG_REPLICATE ||
			     m.type == QR_MSG_ACCEPT;
		m.key = keyed ? key : NULL;
		m.key_len = keyed ? 8 : 0;
		m.value = val;
		m.value_len = i % 2 ? sizeof(val) : QR_VALUE_INLINE_MAX + 1;
		long n = qr_wire_long_encode(&m, out, sizeof(out));
		if (n <= 0)
			return 2;
		char path[4096];
		snprintf(path, sizeof(path), "%s/type-%u", dir, m.type);
		FILE *fp = fopen(path, "wb");
		if (!fp || fwrite(out, 1, (size_t)n, fp) != (size_t)n ||
		    fclose(fp))
			return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--gen"))
		return gen(argv[2]);
	if (argc != 2)
		return 2;
	DIR *d = opendir(argv[1]);
	if (!d)
		return 2;
	struct dirent *e;
	static uint8_t buf[1 << 20];
	int files = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		FILE *fp = fopen(path, "rb");
		if (!fp)
			return 2;
		size_t n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		/* An exact-size copy: a read past the end is one past it. */
		uint8_t *exact = malloc(n ? n : 1);
		if (!exact)
			return 2;
		memcpy(exact, buf, n);
		run(exact, n);
		free(exact);
		files++;
	}
	closedir(d);
	printf("fuzz_long replay: %d files, %u decoded\n", files, accepted);
	return files && accepted ? 0 : 1; /* the seeds are valid forms */
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return run(data, size);
}
#endif
