/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over qr_core_on_frame with three real cores (issue 12,
 * "Must show"): not the decoder alone, the whole protocol core. Each input
 * is a script run against three fresh cores (RF 3, auth = mac with the
 * test secret) wired by an in-memory network, with a virtual clock:
 *
 *   op byte, then per op:
 *     0 FRAME  node u8, mode u8, len u16, bytes: a frame to node%3. mode%3:
 *              0 signed: the header is patched to a valid peer header from
 *                node (mode/3)%3, then sealed with that sender's key
 *                (qr_core_seal), so it gets past the MAC and reaches the
 *                handlers; 1 raw, as is (must be dropped: see below);
 *              2 client: src_node patched to QR_NODE_CLIENT (no MAC)
 *     1 TICK   us u16: the virtual clock moves on, every core ticks
 *     2 DURABLE node u8: that node's WAL makes everything durable
 *     3 DISK   node u8: its WAL starts or stops refusing appends (disk
 *              full: qr_core_set_wal_error), the path of issue 12 item 5
 *     4 SKEW   node u8, ms i8: its wall clock moves (within max_offset)
 *   after every op the network delivers what the cores sent each other
 *   (FIFO, bounded), and frames to clients are dropped.
 *
 * Failures (abort, so libFuzzer keeps the input):
 *   - any crash, sanitizer report or QR_ASSERT in the core;
 *   - a stall: the core may not wait for time on input (issue 12 item 3:
 *     one frame stalled a shard for 0.5 s busy-waiting in the HLC). Time
 *     is virtual here: env.pause (the HLC waiting for the wall clock) and
 *     env.wall_ms calls are counted per event; more than STALL_PAUSES
 *     pauses or STALL_WALL_READS clock reads in one event is a busy-wait;
 *   - a raw peer frame (mode 1) that changes the receiving store: without
 *     a valid MAC it must be dropped before anything is read from it.
 * Built with -DQR_FUZZ_REPLAY it is a plain program that runs files given
 * on the command line (no corpus is kept for it: the fuzzer starts empty).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/eal_local.h"
#include "common/secret.h"
#include "core/auth.h"
#include "core/core.h"
#include "core/wire.h"
#include "quorate/err.h"

#define N		 3
#define CLUSTER		 0x51
#define EPOCH_MS	 1700000000000ull
#define NET_MAX		 256   /* frames in flight */
#define DELIVERIES_MAX	 4096  /* per input: a bound on chatter */
#define STALL_PAUSES	 64    /* env.pause calls in one event */
#define STALL_WALL_READS 20000 /* env.wall_ms calls in one event */

struct qframe {
	uint16_t dst, len;
	uint8_t data[QR_FRAME_BYTES_MAX];
};

static struct {
	struct qr_placement pl;
	struct qr_secret secret;
	struct qr_core *core[N];
	uint64_t now_us;
	int64_t skew_ms[N];
	uint64_t appended[N];
	int wal_err[N];
	uint32_t pauses, wall_reads; /* this event's */
	struct qframe net[NET_MAX];
	uint32_t head, count, delivered;
	uint64_t rng; /* env.random: reset per input (reproducible) */
} f;

static uint16_t ids[N] = {0, 1, 2};

static uint64_t env_now_us(void *ctx)
{
	(void)ctx;
	return f.now_us;
}

static uint64_t env_wall_ms(void *ctx)
{
	uint16_t id = *(uint16_t *)ctx;
	if (++f.wall_reads > STALL_WALL_READS) {
		fprintf(stderr, "fuzz_core: stall: %u wall clock reads in one "
				"event (a busy-wait)\n", f.wall_reads);
		abort();
	}
	return (uint64_t)((int64_t)(EPOCH_MS + f.now_us / 1000) +
			  f.skew_ms[id]);
}

/* The HLC waits for the wall clock: on input it never may (hlc.c). Time
 * is virtual, so each pause lets this node's wall clock move 1 ms, which
 * ends any legitimate wait; a bound on them is the stall detector. */
static void env_pause(void *ctx)
{
	uint16_t id = *(uint16_t *)ctx;
	f.skew_ms[id]++;
	if (++f.pauses > STALL_PAUSES) {
		fprintf(stderr, "fuzz_core: stall: node %u paused %u times in "
				"one event (a busy-wait on the clock)\n",
			id, f.pauses);
		abort();
	}
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	(void)ctx;
	(void)client;
	if (dst >= N || f.count == NET_MAX || len > QR_FRAME_BYTES_MAX)
		return; /* clients are not modelled; a full network drops */
	struct qframe *q = &f.net[(f.head + f.count++) % NET_MAX];
	q->dst = dst;
	q->len = (uint16_t)len;
	memcpy(q->data, frame, len);
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	uint16_t id = *(uint16_t *)ctx;
	if (f.wal_err[id])
		return f.wal_err[id];
	QR_ASSERT(rec->lsn == f.appended[id] + 1); /* dense lsns */
	QR_ASSERT(rec->key_len >= 1 && rec->value_len <= QR_VALUE_INLINE_MAX);
	f.appended[id] = rec->lsn;
	return 0;
}

static uint64_t env_random(void *ctx)
{
	(void)ctx;
	return f.rng = f.rng * 6364136223846793005ull + 1442695040888963407ull;
}

static void event_begin(void)
{
	f.pauses = 0;
	f.wall_reads = 0;
}

static void cores_create(void)
{
	memset(f.skew_ms, 0, sizeof(f.skew_ms));
	memset(f.appended, 0, sizeof(f.appended));
	memset(f.wal_err, 0, sizeof(f.wal_err));
	f.head = f.count = f.delivered = 0;
	f.now_us = 1000;
	f.rng = 1;
	for (int i = 0; i < N; i++) {
		struct qr_core_config cfg;
		qr_core_config_defaults(&cfg);
		cfg.node_id = (uint16_t)i;
		cfg.cluster_id = CLUSTER;
		cfg.secret = &f.secret;
		cfg.incarnation = 1;
		cfg.placement = &f.pl;
		cfg.requests_max = 8;
		cfg.pending_max = 64;
		cfg.keys_max = 64;
		cfg.hints_max = 16;
		cfg.deadline_us_default = 50000;
		cfg.rto_us_min = 1000;
		cfg.rto_us_max = 4000;
		cfg.heartbeat_us = 10000;
		cfg.suspect_after_us = 30000;
		cfg.down_after_us = 60000;
		cfg.ae_interval_us = 5000;
		struct qr_env env = {
			.ctx = &ids[i],
			.now_us = env_now_us,
			.wall_ms = env_wall_ms,
			.pause = env_pause,
			.send = env_send,
			.wal_append = env_wal_append,
			.random = env_random,
		};
		QR_ASSERT(qr_core_create(&cfg, &env, &f.core[i]) == 0);
		qr_core_recovered(f.core[i], 0);
	}
}

static void cores_destroy(void)
{
	for (int i = 0; i < N; i++) {
		qr_core_destroy(f.core[i]);
		f.core[i] = NULL;
	}
}

static void flush_all(void)
{
	for (int i = 0; i < N; i++) {
		event_begin();
		qr_core_flush(f.core[i]);
	}
}

/* What the cores sent each other, until quiet or the budget is spent. */
static void deliver(void)
{
	flush_all();
	while (f.count && f.delivered < DELIVERIES_MAX) {
		struct qframe *q = &f.net[f.head];
		f.head = (f.head + 1) % NET_MAX;
		f.count--;
		f.delivered++;
		static struct qframe cp; /* the queue may wrap under us */
		cp = *q;
		event_begin();
		qr_core_on_frame(f.core[cp.dst], 0, cp.data, cp.len);
		flush_all();
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* One fuzzed frame to node dst. */
static void op_frame(uint8_t dst, uint8_t mode, const uint8_t *b, size_t len)
{
	static uint8_t buf[QR_FRAME_BYTES_MAX];
	dst %= N;
	size_t cap = sizeof(buf);
	if (len > cap)
		len = cap;
	memcpy(buf, b, len);
	uint8_t kind = mode % 3;
	if (kind != 1 && len >= QR_FRAME_HDR_BYTES) {
		/* A header that passes the checks before the handlers. */
		uint16_t src = kind == 2 ? QR_NODE_CLIENT
					 : (uint16_t)((mode / 3 % (N - 1) + 1 +
						       dst) % N);
		buf[0] = 'Q';
		buf[1] = 'R';
		buf[2] = QR_WIRE_PROTO;
		put32(buf + 4, CLUSTER);
		put16(buf + 8, src);
		put16(buf + 10, dst);
		put16(buf + 12, 0);
		put16(buf + 14, 0);
		if (kind == 0) {
			event_begin();
			len = qr_core_seal(f.core[src], dst, buf, len, cap);
			if (!len)
				return; /* no room for the trailer */
		}
	}
	struct qr_store *st = qr_core_store(f.core[dst]);
	uint32_t keys = qr_store_count(st);
	uint64_t applied = qr_core_stats(f.core[dst])->replicate_applied;
	bool peer_raw = kind == 1 && len >= 10 &&
			(buf[8] | buf[9] << 8) != QR_NODE_CLIENT;
	event_begin();
	qr_core_on_frame(f.core[dst], peer_raw ? 0 : 7, buf, len);
	if (peer_raw &&
	    (qr_store_count(st) != keys ||
	     qr_core_stats(f.core[dst])->replicate_applied != applied)) {
		fprintf(stderr, "fuzz_core: an unauthenticated peer frame "
				"changed node %u's store\n", dst);
		abort();
	}
	deliver();
}

static void run(const uint8_t *data, size_t size)
{
	cores_create();
	size_t i = 0;
	while (i < size) {
		uint8_t op = data[i++] % 5;
		if (op == 0) {
			if (size - i < 4)
				break;
			uint8_t dst = data[i], mode = data[i + 1];
			size_t len = (size_t)(data[i + 2] | data[i + 3] << 8);
			i += 4;
			if (len > size - i)
				len = size - i;
			op_frame(dst, mode, data + i, len);
			i += len;
		} else if (op == 1) {
			if (size - i < 2)
				break;
			uint64_t us = (uint64_t)(data[i] | data[i + 1] << 8);
			i += 2;
			f.now_us += us;
			for (int n = 0; n < N; n++) {
				event_begin();
				qr_core_tick(f.core[n]);
			}
			deliver();
		} else if (op == 2) {
			if (size - i < 1)
				break;
			int n = data[i++] % N;
			event_begin();
			qr_core_on_wal_durable(f.core[n], f.appended[n]);
			deliver();
		} else if (op == 3) {
			if (size - i < 1)
				break;
			int n = data[i++] % N;
			f.wal_err[n] = f.wal_err[n] ? 0 : QR_ENOSPC;
			event_begin();
			qr_core_set_wal_error(f.core[n], f.wal_err[n]);
			deliver();
		} else {
			if (size - i < 2)
				break;
			int n = data[i] % N;
			/* within +-200 ms: pairwise skew below max_offset */
			f.skew_ms[n] = (int8_t)data[i + 1] * 200 / 128;
			i += 2;
		}
	}
	cores_destroy();
}

static void init_once(const char *prog)
{
	static bool done;
	if (done)
		return;
	done = true;
	if (qr_eal_init_local(prog, 256) != 0) {
		fprintf(stderr, "fuzz_core: EAL init failed\n");
		abort();
	}
	QR_ASSERT(qr_placement_init(&f.pl, 64, N, 3, 1) == 0);
	qr_secret_for_tests(&f.secret);
}

#ifndef QR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once("fuzz_core");
	run(data, size);
	return 0;
}
#else
int main(int argc, char **argv)
{
	init_once(argv[0]);
	for (int a = 1; a < argc; a++) {
		FILE *fp = fopen(argv[a], "rb");
		if (!fp) {
			perror(argv[a]);
			return 1;
		}
		static uint8_t buf[1 << 16];
		size_t n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		run(buf, n);
	}
	printf("fuzz_core: %d inputs replayed\n", argc - 1);
	return 0;
}
#endif
