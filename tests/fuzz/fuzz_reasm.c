/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for multi-frame reassembly (src/core/reasm.c). The input is a
 * program: every 8 bytes one fragment of one of 8 known messages, from one
 * of 3 senders, with a chunk size, an index, and flags that duplicate it,
 * flip a byte of its data, lie about its total or its length, or advance
 * the clock (expiry). Out of order, duplicated, truncated and interleaved
 * fragments from several senders all come from that. Checked after every
 * step (abort on violation): a message handed out is byte for byte the
 * original message of its id (never mixed, never truncated; a flipped byte
 * is caught by the CRC), the open-slot and held-byte gauges stay within the
 * pool, and at the end everything expires back to an empty pool.
 * Built as the libFuzzer target fuzz_reasm and, with -DQR_FUZZ_REPLAY, as
 * a plain program over the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "core/reasm.h"
#include "quorate/err.h"

#define NMSG 8
#define MSG_MAX 6000

static uint8_t g_msg[NMSG][MSG_MAX];
static uint32_t g_len[NMSG];

static void msgs_init(void)
{
	for (uint32_t i = 0; i < NMSG; i++) {
		g_len[i] = 1 + (i * 811u) % MSG_MAX;
		for (uint32_t k = 0; k < g_len[i]; k++)
			g_msg[i][k] = (uint8_t)(i * 31 + k * 7 + (k >> 8));
	}
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_reasm: violated: %s\n", what);
		abort();
	}
}

static void step(struct qr_reasm *r, const uint8_t *p, uint64_t *now)
{
	uint32_t m = p[0] % NMSG, src = p[1] % 3, flags = p[2];
	uint32_t chunk = QR_REASM_CHUNK_MIN + (uint32_t)p[3] * 8;
	uint8_t buf[QR_REASM_CHUNK_MIN + 255 * 8];
	struct qr_frag f = {.src = src, .incarnation = 1, .msg_id = m};
	uint32_t n = qr_frag_cut(&f, g_msg[m], g_len[m], chunk, 0);
	qr_frag_cut(&f, g_msg[m], g_len[m], chunk, p[4] % n);
	f.crc = qr_crc32c(0, g_msg[m], g_len[m]);
	memcpy(buf, f.data, f.len);
	f.data = buf;
	if (flags & 1)
		buf[p[5] % f.len] ^= (uint8_t)(p[6] | 1); /* CRC must catch */
	if (flags & 2)
		f.total -= 1 + p[7] % 4; /* lie: slot mismatch or bad len */
	if (flags & 4 && f.len > 1)
		f.len--; /* truncated */
	if (flags & 8)
		*now += (uint64_t)p[7] * 1000000ull;
	for (int rep = 0; rep < 1 + !!(flags & 16); rep++) {
		struct qr_reasm_msg out;
		int rc = qr_reasm_add(r, &f, *now, &out);
		check(rc == 0 || rc == 1 || rc < 0, "return value");
		if (rc == 1) {
			check(out.msg_id < NMSG && out.src == src, "identity");
			check(out.len == g_len[out.msg_id], "length");
			check(!memcmp(out.data, g_msg[out.msg_id], out.len),
			      "bytes: mixed or corrupt message handed out");
			qr_reasm_release(r, &out);
		}
	}
	if (flags & 32)
		qr_reasm_expire(r, *now);
	check(r->st.open <= r->cfg.slots, "open slots");
	check(r->st.held_bytes <= (uint64_t)r->cfg.slots * MSG_MAX, "held");
}

static int run(const uint8_t *data, size_t size)
{
	static int inited;
	if (!inited) {
		msgs_init();
		inited = 1;
	}
	struct qr_reasm r;
	struct qr_reasm_config c = {.slots = 4, .bytes_max = MSG_MAX,
				    .per_src_max = 2,
				    .timeout_ns = 50000000ull};
	if (qr_reasm_init(&r, &c))
		abort();
	uint64_t now = 0;
	for (size_t off = 0; off + 8 <= size; off += 8)
		step(&r, data + off, &now);
	qr_reasm_expire(&r, now + c.timeout_ns);
	check(r.st.open == 0 && r.st.held_bytes == 0, "all expired");
	qr_reasm_fini(&r);
	return 0;
}

#ifdef QR_FUZZ_REPLAY
#include <dirent.h>
int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	DIR *d = opendir(argv[1]);
	if (!d)
		return 2;
	struct dirent *e;
	static uint8_t buf[1 << 16];
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
		run(buf, n);
		files++;
	}
	closedir(d);
	printf("fuzz_reasm replay: %d files\n", files);
	return files ? 0 : 1;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return run(data, size);
}
#endif
