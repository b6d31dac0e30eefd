/* SPDX-License-Identifier: MIT */
/*
 * core-bench: CPU cost of the sans-IO protocol core. Three nodes (RF 3) run
 * in one thread over a zero-delay in-memory network; the WAL is "durable"
 * at the end of every delivery round (group commit without a disk). So the
 * figure is the protocol's own work: wire encode/decode on every hop,
 * placement, HLC, request table, store lookups and applies, WAL record
 * hand-off, acks and client replies, for the coordinator and all replicas.
 *
 * Reported: CPU ns per quorum write (PUT at W=2 of 3) and per quorum read
 * (GET at R=2 of 3, blocking repair armed), per run and the median of runs.
 * Client frames are built before the clock starts (client work excluded).
 *
 * Usage: core-bench [--ops N] [--runs R] [--outstanding K] [--keys K]
 *                   [--value-bytes B] [--auth mac|none]
 * --auth: peer frames authenticated (the default, src/core/auth.h) or not.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/eal_local.h"
#include "core/core.h"

static uint8_t bench_auth; /* --auth: enum qr_auth_mode */
#include "quorate/err.h"

#define NODES	 3
#define NETQ_MAX 8192

struct frame {
	uint16_t dst;
	uint16_t len;
	uint8_t data[QR_FRAME_BYTES_MAX];
};

struct bench {
	struct qr_placement pl;
	struct qr_core *core[NODES];
	uint64_t lsn[NODES];
	uint64_t fake_us;
	/* zero-delay network: a FIFO of frames between cores */
	struct frame *q;
	uint32_t head, count;
	uint64_t replies, reply_errors;
	/* pre-built client frames */
	uint8_t (*req)[256];
	uint16_t *req_len;
	uint16_t *req_coord;
};

struct node_ctx {
	struct bench *b;
	uint16_t id;
};

static struct node_ctx ctxs[NODES];

static uint64_t env_now_us(void *ctx)
{
	return ((struct node_ctx *)ctx)->b->fake_us;
}

static uint64_t env_wall_ms(void *ctx)
{
	return 1700000000000ull + ((struct node_ctx *)ctx)->b->fake_us / 1000;
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	struct bench *b = ((struct node_ctx *)ctx)->b;
	(void)client;
	if (dst == QR_NODE_CLIENT) {
		/* Count replies; a status byte check keeps it honest. */
		struct qr_frame_reader r;
		struct qr_msg m;
		if (qr_wire_frame_open(&r, frame, len, 1, NULL) == 0 &&
		    qr_wire_next(&r, &m) > 0 && m.status == 0)
			b->replies++;
		else
			b->reply_errors++;
		return;
	}
	QR_ASSERT(b->count < NETQ_MAX);
	struct frame *f = &b->q[(b->head + b->count++) % NETQ_MAX];
	f->dst = dst;
	f->len = (uint16_t)len;
	memcpy(f->data, frame, len);
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	struct node_ctx *n = ctx;
	n->b->lsn[n->id] = rec->lsn;
	return 0;
}

static uint64_t env_random(void *ctx)
{
	(void)ctx;
	return 4; /* unused by the core's fast path */
}

static void setup(struct bench *b, uint32_t keys)
{
	QR_ASSERT(qr_placement_init(&b->pl, 4096, NODES, 3, 1) == 0);
	b->q = calloc(NETQ_MAX, sizeof(*b->q));
	QR_ASSERT(b->q);
	for (uint16_t i = 0; i < NODES; i++) {
		struct qr_core_config cfg;
		qr_core_config_defaults(&cfg);
		cfg.node_id = i;
		cfg.cluster_id = 1;
		static struct qr_secret test_secret;
		qr_secret_for_tests(&test_secret);
		cfg.secret = &test_secret;
		cfg.auth = bench_auth;
		cfg.placement = &b->pl;
		cfg.keys_max = keys * 2;
		cfg.requests_max = 8192;
		cfg.pending_max = 16384;
		ctxs[i] = (struct node_ctx){b, i};
		struct qr_env env = {
			.ctx = &ctxs[i],
			.now_us = env_now_us,
			.wall_ms = env_wall_ms,
			.send = env_send,
			.wal_append = env_wal_append,
			.random = env_random,
		};
		QR_ASSERT(qr_core_create(&cfg, &env, &b->core[i]) == 0);
	}
}

static void build_requests(struct bench *b, uint32_t keys, uint8_t op,
			   uint16_t value_bytes)
{
	uint8_t value[QR_VALUE_BYTES_MAX];
	memset(value, 'v', sizeof(value));
	for (uint32_t k = 0; k < keys; k++) {
		char key[32];
		int kl = snprintf(key, sizeof(key), "bench-key-%08u", k);
		uint32_t part = qr_placement_partition(&b->pl, key, (size_t)kl);
		/* Smart client: the first replica coordinates. */
		b->req_coord[k] = qr_placement_replicas(&b->pl, part)[0];
		struct qr_frame_hdr h = {
			.cluster_id = 1,
			.src_node = QR_NODE_CLIENT,
			.dst_node = b->req_coord[k],
		};
		struct qr_msg m = {
			.type = QR_MSG_CLIENT_REQ,
			.req_id = k,
			.op = op,
			.level = QR_LEVEL_QUORUM,
			.key = (const uint8_t *)key,
			.key_len = (uint8_t)kl,
			.value = value,
			.value_len = op == QR_OP_PUT ? value_bytes : 0,
		};
		struct qr_frame_writer w;
		qr_wire_frame_begin(&w, b->req[k], sizeof(b->req[k]), &h);
		QR_ASSERT(qr_wire_put(&w, &m) == 0);
		b->req_len[k] = (uint16_t)qr_wire_frame_end(&w);
	}
}

/* Deliver until quiet: frames, then WAL durability, then flushes. */
static void drain(struct bench *b)
{
	for (;;) {
		while (b->count) {
			struct frame *f = &b->q[b->head];
			b->head = (b->head + 1) % NETQ_MAX;
			b->count--;
			qr_core_on_frame(b->core[f->dst], 0, f->data, f->len);
		}
		for (int i = 0; i < NODES; i++) {
			qr_core_on_wal_durable(b->core[i], b->lsn[i]);
			qr_core_flush(b->core[i]);
		}
		if (!b->count)
			return;
	}
}

/* ops requests, `outstanding` injected per round; returns CPU ns per op. */
static double run(struct bench *b, uint64_t ops, uint32_t keys,
		  uint32_t outstanding)
{
	b->replies = b->reply_errors = 0;
	double t0 = (double)qr_clock_cpu_ns();
	uint64_t sent = 0;
	while (sent < ops) {
		for (uint32_t i = 0; i < outstanding && sent < ops; i++) {
			uint32_t k = (uint32_t)(sent++ % keys);
			qr_core_on_frame(b->core[b->req_coord[k]], 1, b->req[k],
					 b->req_len[k]);
		}
		for (int i = 0; i < NODES; i++)
			qr_core_flush(b->core[i]);
		drain(b);
		b->fake_us += 10; /* timers see time pass, rarely fire */
		if ((sent & 1023) == 0)
			for (int i = 0; i < NODES; i++)
				qr_core_tick(b->core[i]);
	}
	double t1 = (double)qr_clock_cpu_ns();
	if (b->replies != ops || b->reply_errors) {
		fprintf(stderr,
			"core-bench: %" PRIu64 " ok replies, %" PRIu64
			" errors for %" PRIu64 " requests\n",
			b->replies, b->reply_errors, ops);
		exit(1);
	}
	return (t1 - t0) / (double)ops;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	bench_auth = QR_AUTH_MAC;
	uint64_t ops = 200000;
	int runs = 5;
	uint32_t outstanding = 64, keys = 50000;
	uint16_t value_bytes = 64;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--ops"))
			ops = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--outstanding"))
			outstanding = (uint32_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--keys"))
			keys = (uint32_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--value-bytes"))
			value_bytes = (uint16_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--auth"))
			bench_auth = strcmp(argv[i + 1], "none") ? QR_AUTH_MAC
								 : QR_AUTH_NONE;
		else {
			fprintf(stderr, "usage: core-bench [--ops N] [--runs R]"
					" [--outstanding K] [--keys K]"
					" [--value-bytes B]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 99 || outstanding < 1 || keys < 1 ||
	    value_bytes > QR_VALUE_BYTES_MAX) {
		fprintf(stderr, "core-bench: bad arguments\n");
		return 2;
	}
	if (qr_eal_init_local(argv[0], 512) != 0)
		return 1;
	struct bench b = {0};
	b.req = calloc(keys, sizeof(*b.req));
	b.req_len = calloc(keys, sizeof(*b.req_len));
	b.req_coord = calloc(keys, sizeof(*b.req_coord));
	QR_ASSERT(b.req && b.req_len && b.req_coord);
	setup(&b, keys);
	double w[99], r[99];
	printf("core-bench: 3 nodes in one thread, RF 3, W=2 / R=2 (QUORUM), "
	       "%u keys, %u B values, %u outstanding, %" PRIu64
	       " ops per run\n",
	       keys, value_bytes, outstanding, ops);
	/* Warm-up: every key written once (table sized, arenas warm). */
	build_requests(&b, keys, QR_OP_PUT, value_bytes);
	run(&b, keys, keys, outstanding);
	for (int i = 0; i < runs; i++) {
		build_requests(&b, keys, QR_OP_PUT, value_bytes);
		w[i] = run(&b, ops, keys, outstanding);
		build_requests(&b, keys, QR_OP_GET, 0);
		r[i] = run(&b, ops, keys, outstanding);
		printf("  run %d: quorum write %.0f ns, quorum read %.0f ns\n",
		       i + 1, w[i], r[i]);
	}
	qsort(w, (size_t)runs, sizeof(double), cmp_double);
	qsort(r, (size_t)runs, sizeof(double), cmp_double);
	printf("median of %d: %.0f ns CPU per quorum write, %.0f ns CPU per "
	       "quorum read (all three nodes' work)\n",
	       runs, w[runs / 2], r[runs / 2]);
	for (int i = 0; i < NODES; i++)
		qr_core_destroy(b.core[i]);
	qr_placement_fini(&b.pl);
	return 0;
}
