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
 * Client frames are built in chunks of CHUNK requests outside the timed
 * windows (client work excluded). Every request has its own req_id, so no
 * write is answered from the coordinator's dedupe table (a repeated req_id
 * would be: the figure would then be that of a duplicate, not a write); the
 * bench checks the cores counted no duplicate and no retransmission.
 *
 * Usage: core-bench [--ops N] [--runs R] [--outstanding K] [--keys K]
 *                   [--value-bytes B] [--auth mac|none] [--reads yes|no]
 *                   [--check FILE [--factor F]]
 * --auth: peer frames authenticated (the default, src/core/auth.h) or not.
 * --reads no: quorum writes only (for profiling a write: callgrind's
 * --toggle-collect=run then sees nothing else but the client frames).
 *
 * --check FILE: the regression guard (perf/meson.build, suite perf-guard).
 * FILE holds "write_ns N" (the figure measured in a release build, see
 * perf/README.md); exit 1 when the median quorum write costs more than
 * F x N (default 3), 77 when the build is not one to judge (see below).
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
static bool bench_reads = true; /* --reads */
#include "quorate/err.h"

#define NODES	 3
#define NETQ_MAX 8192
#define CHUNK	 4096 /* client frames built per untimed pause */

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
	uint64_t replies, reply_errors, reply_frames;
	/* client frames of the next CHUNK requests, packed: request i is
	 * req_len[i] bytes at req_off[i], for coordinator req_coord[i] */
	uint8_t *req;
	uint32_t req_off[CHUNK];
	uint16_t req_len[CHUNK];
	uint16_t req_coord[CHUNK];
	uint16_t *key_coord; /* per key: its first replica */
	uint64_t next_req_id; /* unique over the whole bench (no dedupe) */
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
		/* Count replies (a frame may hold several); a status check
		 * keeps it honest. */
		struct qr_frame_reader r;
		struct qr_msg m;
		if (qr_wire_frame_open(&r, frame, len, 1, NULL) != 0) {
			b->reply_errors++;
			return;
		}
		while (qr_wire_next(&r, &m) > 0) {
			if (m.status == 0)
				b->replies++;
			else
				b->reply_errors++;
		}
		b->reply_frames++;
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

static int key_of(char *key, size_t size, uint32_t k)
{
	return snprintf(key, size, "bench-key-%08u", k);
}

/* Smart client: the first replica of a key's partition coordinates. */
static void map_keys(struct bench *b, uint32_t keys)
{
	for (uint32_t k = 0; k < keys; k++) {
		char key[32];
		int kl = key_of(key, sizeof(key), k);
		uint32_t part = qr_placement_partition(&b->pl, key, (size_t)kl);
		b->key_coord[k] = qr_placement_replicas(&b->pl, part)[0];
	}
}

/* Client frames for requests first .. first + n - 1 (request i is for key
 * i % keys), each with a req_id never used before. */
static void build_chunk(struct bench *b, uint64_t first, uint32_t n,
			uint32_t keys, uint8_t op, uint16_t value_bytes)
{
	static uint8_t value[QR_VALUE_INLINE_MAX];
	memset(value, 'v', sizeof(value));
	uint32_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		char key[32];
		uint32_t k = (uint32_t)((first + i) % keys);
		int kl = key_of(key, sizeof(key), k);
		struct qr_frame_hdr h = {
			.cluster_id = 1,
			.src_node = QR_NODE_CLIENT,
			.dst_node = b->key_coord[k],
		};
		struct qr_msg m = {
			.type = QR_MSG_CLIENT_REQ,
			.req_id = b->next_req_id++,
			.op = op,
			.level = QR_LEVEL_QUORUM,
			.key = (const uint8_t *)key,
			.key_len = (uint8_t)kl,
			.value = value,
			.value_len = op == QR_OP_PUT ? value_bytes : 0,
		};
		struct qr_frame_writer w;
		qr_wire_frame_begin(&w, b->req + off, QR_FRAME_BYTES_MAX, &h);
		QR_ASSERT(qr_wire_put(&w, &m) == 0);
		b->req_off[i] = off;
		b->req_len[i] = (uint16_t)qr_wire_frame_end(&w);
		b->req_coord[i] = b->key_coord[k];
		off += b->req_len[i];
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
		/* Empty, and no frame in use: back to the first slot, as a
		 * NIC's ring of recycled buffers would be, rather than
		 * streaming the whole 12 MB queue through the cache (which
		 * evicted the cores' own tables, and counted as theirs). */
		b->head = 0;
		for (int i = 0; i < NODES; i++) {
			qr_core_on_wal_durable(b->core[i], b->lsn[i]);
			qr_core_flush(b->core[i]);
		}
		if (!b->count)
			return;
	}
}

/* ops requests of type op, `outstanding` injected per round; returns CPU
 * ns per op, client frame building excluded. */
static double run(struct bench *b, uint64_t ops, uint32_t keys,
		  uint32_t outstanding, uint8_t op, uint16_t value_bytes)
{
	b->replies = b->reply_errors = b->reply_frames = 0;
	double timed = 0;
	uint64_t sent = 0;
	while (sent < ops) {
		uint32_t n = ops - sent < CHUNK ? (uint32_t)(ops - sent) : CHUNK;
		build_chunk(b, sent, n, keys, op, value_bytes);
		double t0 = (double)qr_clock_cpu_ns();
		for (uint32_t i = 0; i < n;) {
			for (uint32_t j = 0; j < outstanding && i < n; j++, i++)
				qr_core_on_frame(b->core[b->req_coord[i]], 1,
						 b->req + b->req_off[i],
						 b->req_len[i]);
			for (int c = 0; c < NODES; c++)
				qr_core_flush(b->core[c]);
			drain(b);
			b->fake_us += 10; /* timers see time pass, rarely fire */
			if (((sent + i) & 1023) < outstanding)
				for (int c = 0; c < NODES; c++)
					qr_core_tick(b->core[c]);
		}
		timed += (double)qr_clock_cpu_ns() - t0;
		sent += n;
	}
	if (b->replies != ops || b->reply_errors) {
		fprintf(stderr,
			"core-bench: %" PRIu64 " ok replies, %" PRIu64
			" errors for %" PRIu64 " requests\n",
			b->replies, b->reply_errors, ops);
		exit(1);
	}
	return timed / (double)ops;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *x, int n)
{
	qsort(x, (size_t)n, sizeof(double), cmp_double);
	return x[n / 2];
}

/* Sums over the three cores: duplicates would mean a request was answered
 * from the dedupe table, retransmissions that timers fired (both would make
 * the figure something other than one quorum op). */
static void check_clean(struct bench *b)
{
	uint64_t dup = 0, rtx = 0;
	for (int i = 0; i < NODES; i++) {
		const struct qr_core_stats *st = qr_core_stats(b->core[i]);
		dup += st->client_duplicates;
		rtx += st->retransmits;
	}
	if (dup || rtx) {
		fprintf(stderr,
			"core-bench: %" PRIu64 " duplicates, %" PRIu64
			" retransmissions: the figures are not per quorum op\n",
			dup, rtx);
		exit(1);
	}
}

/* "write_ns N" from the guard's baseline file; 0 if absent. */
static double baseline_of(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	char line[256];
	double ns = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_ns %lf", &ns) == 1)
			break;
	fclose(f);
	if (ns <= 0) {
		fprintf(stderr, "core-bench: no write_ns line in %s\n", path);
		exit(2);
	}
	return ns;
}

/* The guard judges optimized builds only: -O0 and sanitizers cost several
 * times the figure by themselves. Returns why not, or NULL. */
static const char *unjudged_build(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "a sanitizer build";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
	return "a sanitizer build";
#endif
#endif
#ifndef __OPTIMIZE__
	return "an unoptimized build (-O0)";
#endif
	return NULL;
}

int main(int argc, char **argv)
{
	bench_auth = QR_AUTH_MAC;
	uint64_t ops = 200000;
	int runs = 5;
	uint32_t outstanding = 64, keys = 50000;
	uint16_t value_bytes = 64;
	const char *check = NULL;
	double factor = 3;
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
		else if (!strcmp(argv[i], "--check"))
			check = argv[i + 1];
		else if (!strcmp(argv[i], "--factor"))
			factor = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--reads") &&
			 (!strcmp(argv[i + 1], "yes") ||
			  !strcmp(argv[i + 1], "no")))
			bench_reads = !strcmp(argv[i + 1], "yes");
		else if (!strcmp(argv[i], "--auth"))
			bench_auth = strcmp(argv[i + 1], "none") ? QR_AUTH_MAC
								 : QR_AUTH_NONE;
		else {
			fprintf(stderr, "usage: core-bench [--ops N] [--runs R]"
					" [--outstanding K] [--keys K]"
					" [--value-bytes B] [--auth mac|none]"
					" [--reads yes|no]"
					" [--check FILE [--factor F]]\n");
			return 2;
		}
	}
	if ((argc - 1) % 2) {
		fprintf(stderr, "core-bench: %s needs a value\n",
			argv[argc - 1]);
		return 2;
	}
	if (runs < 1 || runs > 99 || outstanding < 1 || keys < 1 ||
	    ops < 1 || value_bytes > QR_VALUE_INLINE_MAX || factor < 1) {
		fprintf(stderr, "core-bench: bad arguments\n");
		return 2;
	}
	double base = check ? baseline_of(check) : 0;
	if (check && unjudged_build()) {
		printf("core-bench: SKIP: %s; the guard needs an optimized "
		       "build without sanitizers\n",
		       unjudged_build());
		return 77;
	}
	if (qr_eal_init_local(argv[0], 512) != 0)
		return 1;
	struct bench b = {0};
	b.req = malloc((size_t)CHUNK * QR_FRAME_BYTES_MAX);
	b.key_coord = calloc(keys, sizeof(*b.key_coord));
	QR_ASSERT(b.req && b.key_coord);
	setup(&b, keys);
	map_keys(&b, keys);
	double w[99], r[99], wf = 0;
	printf("core-bench: 3 nodes in one thread, RF 3, W=2 / R=2 (QUORUM), "
	       "%u keys, %u B values, %u outstanding, %" PRIu64
	       " ops per run\n",
	       keys, value_bytes, outstanding, ops);
	/* Warm-up: every key written once (table sized, arenas warm). */
	run(&b, keys, keys, outstanding, QR_OP_PUT, value_bytes);
	for (int i = 0; i < runs; i++) {
		w[i] = run(&b, ops, keys, outstanding, QR_OP_PUT, value_bytes);
		wf = (double)b.reply_frames / (double)ops;
		r[i] = bench_reads ? run(&b, ops, keys, outstanding, QR_OP_GET,
					 0)
				   : 0;
		printf("  run %d: quorum write %.0f ns", i + 1, w[i]);
		if (bench_reads)
			printf(", quorum read %.0f ns", r[i]);
		printf("\n");
	}
	check_clean(&b);
	double wm = median(w, runs), rm = median(r, runs);
	printf("median of %d: %.0f ns CPU per quorum write", runs, wm);
	if (bench_reads)
		printf(", %.0f ns CPU per quorum read", rm);
	printf(" (all three nodes' work)\n");
	printf("client reply frames per write: %.3f\n", wf);
	for (int i = 0; i < NODES; i++)
		qr_core_destroy(b.core[i]);
	qr_placement_fini(&b.pl);
	free(b.req);
	free(b.key_coord);
	if (check) {
		bool ok = wm <= factor * base;
		printf("core-bench: guard: quorum write %.0f ns, baseline %.0f "
		       "ns (%s), limit %.1fx = %.0f ns: %s (%.2fx)\n",
		       wm, base, check, factor, factor * base,
		       ok ? "PASS" : "FAIL", wm / base);
		return ok ? 0 : 1;
	}
	return 0;
}
