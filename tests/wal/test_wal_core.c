/* SPDX-License-Identifier: MIT */
/*
 * The real WAL satisfies the protocol core's contract (core/env.h): a
 * one-node core (RF 1) whose wal_append effect is qr_wal_append() and whose
 * durability comes from qr_wal_poll() -> qr_core_on_wal_durable(), driven by
 * client PUT / DELETE frames, with a snapshot of the core's store taken
 * halfway while requests go on. Then the WAL is closed and a fresh core is
 * recovered through qr_wal_recover() -> qr_core_recover():
 *  - every acknowledged write is in the new core's store (the newest
 *    acknowledged version of each key, value and tombstone exact);
 *  - the recovered HLC is at or above the highest clock ceiling, which is
 *    above every version stamped before (docs/protocol.md "HLC lease");
 *  - after a restart on the same directory (cfg.clock from recovery) the new
 *    core stamps versions above every old one, and a second recovery still
 *    has everything.
 */
#include <time.h>

#include "../unit/unit.h"
#include "common/clock.h"
#include "common/eal_local.h"
#include "core/core.h"
#include "quorate/err.h"
#include "wal_test.h"

#define CLUSTER 7u
#define OPS 20000u
#define OPS2 3000u
#define KEYS 2000u
#define OUTSTANDING 64u

struct req {
	char key[16];
	uint8_t key_len;
	uint8_t op;
	uint16_t value_len;
	uint8_t value[96];
	bool replied;
	int status;
	struct qr_version version;
};

static struct harness {
	struct qr_placement pl;
	struct qr_core *core;
	struct qr_wal *wal;
	struct req *reqs;    /* req_id = index + 1 */
	uint32_t nreqs;
	uint32_t replied;
	uint64_t durable;    /* last lsn given to the core */
	uint64_t wal_busy;   /* QR_EBUSY answers retried */
	uint64_t clock_records;
	uint64_t rng;
} h;

static uint64_t env_now_us(void *ctx)
{
	(void)ctx;
	return qr_clock_mono_us();
}

static uint64_t env_wall_ms(void *ctx)
{
	(void)ctx;
	return qr_clock_wall_ms();
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	struct qr_frame_reader r;
	struct qr_msg m;
	(void)ctx;
	(void)client;
	if (dst != QR_NODE_CLIENT)
		return; /* one node: only heartbeats to nobody */
	CU_ASSERT_FATAL(qr_wire_frame_open(&r, frame, len, CLUSTER, NULL) ==
			0);
	while (qr_wire_next(&r, &m) > 0) {
		CU_ASSERT_FATAL(m.type == QR_MSG_CLIENT_REPLY);
		CU_ASSERT_FATAL(m.req_id >= 1 && m.req_id <= h.nreqs);
		struct req *q = &h.reqs[m.req_id - 1];
		CU_ASSERT(!q->replied);
		q->replied = true;
		q->status = m.status;
		q->version = m.version;
		h.replied++;
	}
}

/* The effect: copy into the WAL. Back-pressure is absorbed by polling
 * (durability is reported from the loop, never from inside the core). */
static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	(void)ctx;
	int rc;
	if (rec->type == QR_WAL_CLOCK)
		h.clock_records++;
	while ((rc = qr_wal_append(h.wal, rec)) == QR_EBUSY) {
		h.wal_busy++;
		qr_wal_poll(h.wal, qr_clock_mono_us());
	}
	return rc;
}

static uint64_t env_random(void *ctx)
{
	(void)ctx;
	h.rng ^= h.rng << 13;
	h.rng ^= h.rng >> 7;
	h.rng ^= h.rng << 17;
	return h.rng;
}

static struct qr_core *make_core(void)
{
	struct qr_core_config cfg;
	struct qr_core *c = NULL;
	qr_core_config_defaults(&cfg);
	cfg.cluster_id = CLUSTER;
	static struct qr_secret test_secret;
	qr_secret_for_tests(&test_secret);
	cfg.secret = &test_secret; /* auth = mac (the default) */
	cfg.placement = &h.pl;
	cfg.requests_max = 256;
	cfg.pending_max = 1024;
	cfg.keys_max = KEYS + 16;
	struct qr_env env = {
		.now_us = env_now_us,
		.wall_ms = env_wall_ms,
		.send = env_send,
		.wal_append = env_wal_append,
		.random = env_random,
	};
	CU_ASSERT_FATAL(qr_core_create(&cfg, &env, &c) == 0);
	return c;
}

static struct qr_wal *open_wal(const char *dir, uint64_t next_lsn,
			       const struct qr_wal_clock *clock)
{
	struct qr_wal_config cfg;
	struct qr_wal *w = NULL;
	qr_wal_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.next_lsn = next_lsn;
	cfg.segment_bytes = 256 << 10;
	cfg.value_bytes_max = QR_VALUE_INLINE_MAX;
	cfg.batch_bytes_max = 32 << 10;
	cfg.snapshot_buffer_bytes = 32 << 10;
	if (clock)
		cfg.clock = *clock;
	CU_ASSERT_FATAL(qr_wal_open(&cfg, &w) == 0);
	return w;
}

static void send_req(uint32_t i)
{
	struct req *q = &h.reqs[i];
	uint32_t k = (uint32_t)(env_random(NULL) % KEYS);
	uint64_t r = env_random(NULL);
	q->key_len = (uint8_t)snprintf(q->key, sizeof(q->key), "key%u", k);
	q->op = r % 7 == 0 ? QR_OP_DELETE : QR_OP_PUT;
	q->value_len = q->op == QR_OP_PUT ?
		(uint16_t)(1 + (r >> 8) % sizeof(q->value)) : 0;
	for (uint16_t j = 0; j < q->value_len; j++)
		q->value[j] = (uint8_t)(i * 31 + j);

	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer fw;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = QR_NODE_CLIENT,
		.dst_node = 0,
	};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = i + 1,
		.op = q->op,
		.level = QR_LEVEL_ONE,
		.key = (const uint8_t *)q->key,
		.key_len = q->key_len,
		.value = q->value,
		.value_len = q->value_len,
	};
	qr_wire_frame_begin(&fw, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&fw, &m) == 0);
	size_t len = qr_wire_frame_end(&fw);
	qr_core_on_frame(h.core, 1, buf, len);
}

/* One shard-loop iteration: timers, WAL poll -> durability, flush. */
static void loop_once(void)
{
	qr_core_tick(h.core);
	uint64_t d = qr_wal_poll(h.wal, qr_clock_mono_us());
	CU_ASSERT_FATAL(qr_wal_error(h.wal) == 0);
	if (d > h.durable) {
		h.durable = d;
		qr_core_on_wal_durable(h.core, d);
	}
	qr_core_flush(h.core);
}

/* Requests [first, last) with OUTSTANDING in flight; a snapshot of the
 * core's store starts at snap_at (if not 0) and runs alongside. */
static void drive(uint32_t first, uint32_t last, uint32_t snap_at)
{
	struct qr_wal_snapshot_source src;
	bool snapping = false;
	uint32_t next = first, snaps = 0;
	uint64_t deadline = qr_clock_mono_us() + 60000000u;

	h.replied = first;
	qr_wal_snapshot_source_store(&src, qr_core_store(h.core),
				     h.pl.partitions);
	while (h.replied < last) {
		CU_ASSERT_FATAL(qr_clock_mono_us() < deadline);
		while (next < last && next - h.replied < OUTSTANDING)
			send_req(next++);
		if (snap_at && next >= snap_at && !snapping && !snaps) {
			CU_ASSERT_FATAL(qr_wal_snapshot_begin(h.wal, &src) ==
					0);
			snapping = true;
		}
		loop_once();
		if (snapping) {
			int rc = qr_wal_snapshot_step(h.wal, 64);
			CU_ASSERT_FATAL(rc >= 0);
			if (rc == 0) {
				snapping = false;
				snaps++;
			}
		}
	}
	for (uint64_t t = qr_clock_mono_us(); snapping && qr_clock_mono_us() < t + 10000000u;)
	{
		loop_once();
		snapping = qr_wal_snapshot_step(h.wal, 64) == 1;
	}
	CU_ASSERT(!snapping);
	CU_ASSERT(snap_at == 0 || snaps == 1);
}

static int recover_cb(void *arg, const struct qr_wal_record *rec)
{
	return qr_core_recover(arg, rec);
}

/* Every key's newest acknowledged write (replies [0, n)) is in c's store. */
static void check_store(struct qr_core *c, uint32_t n)
{
	struct req **newest = calloc(KEYS, sizeof(*newest));
	uint32_t ok = 0, checked = 0, bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct req *q = &h.reqs[i];
		CU_ASSERT(q->replied);
		if (!q->replied || q->status != 0)
			continue;
		ok++;
		uint32_t k = (uint32_t)strtoul(q->key + 3, NULL, 10);
		if (!newest[k] ||
		    qr_version_cmp(q->version, newest[k]->version) > 0)
			newest[k] = q;
	}
	CU_ASSERT_EQUAL(ok, n); /* RF 1, level ONE: all succeed */
	for (uint32_t k = 0; k < KEYS; k++) {
		const struct req *q = newest[k];
		struct qr_store_view v;
		if (!q)
			continue;
		checked++;
		if (qr_store_get(qr_core_store(c), q->key, q->key_len, &v) ||
		    qr_version_cmp(v.version, q->version) != 0 ||
		    v.tombstone != (q->op == QR_OP_DELETE) ||
		    (!v.tombstone && (v.value_len != q->value_len ||
				      memcmp(v.value, q->value,
					     q->value_len))))
			bad++;
	}
	CU_ASSERT(checked > KEYS / 2);
	CU_ASSERT_EQUAL(bad, 0);
	free(newest);
}

static uint64_t max_version_hlc(uint32_t n)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (h.reqs[i].replied && h.reqs[i].version.hlc > m)
			m = h.reqs[i].version.hlc;
	return m;
}

static void test_core_over_wal(void)
{
	char *dir = wt_tmpdir();
	struct qr_wal_recover_stats st;
	uint64_t durable = 0;

	memset(&h, 0, sizeof(h));
	h.rng = 0x2545f4914f6cdd1dull;
	h.nreqs = OPS + OPS2;
	h.reqs = calloc(h.nreqs, sizeof(*h.reqs));
	CU_ASSERT_FATAL(qr_placement_init(&h.pl, 64, 1, 1, 1) == 0);

	/* Run 1: fresh directory, a snapshot halfway. */
	CU_ASSERT_EQUAL_FATAL(qr_wal_recover(dir, 0, NULL, NULL, NULL, &st), 0);
	h.wal = open_wal(dir, st.last_lsn + 1, &st.clock);
	h.core = make_core();
	drive(0, OPS, OPS / 2);
	const struct qr_wal_stats *ws = qr_wal_stats(h.wal);
	CU_ASSERT_EQUAL(ws->snapshots, 1);
	CU_ASSERT(ws->segments_deleted > 0);
	CU_ASSERT(h.clock_records > 0);
	uint64_t last = qr_core_last_lsn(h.core);
	CU_ASSERT_EQUAL(qr_wal_close(h.wal, &durable), 0);
	CU_ASSERT_EQUAL(durable, last);
	qr_core_destroy(h.core);

	/* Recover a fresh core. */
	h.core = make_core();
	CU_ASSERT_EQUAL_FATAL(qr_wal_recover(dir, 0, NULL, recover_cb, h.core,
					     &st), 0);
	CU_ASSERT(st.snapshot_lsn > 0);
	CU_ASSERT(st.snapshot_entries > 0);
	CU_ASSERT_EQUAL(st.last_lsn, last);
	CU_ASSERT_EQUAL(qr_core_last_lsn(h.core), last);
	uint64_t vmax = max_version_hlc(OPS);
	CU_ASSERT(st.clock.hlc > vmax); /* the lease covers every version */
	CU_ASSERT(qr_core_hlc(h.core)->last >= st.clock.hlc);
	check_store(h.core, OPS);

	/* Run 2 on the recovered core: versions above every old one. */
	h.durable = st.last_lsn;
	h.wal = open_wal(dir, st.last_lsn + 1, &st.clock);
	drive(OPS, OPS + OPS2, 0);
	for (uint32_t i = OPS; i < OPS + OPS2; i++)
		CU_ASSERT(h.reqs[i].version.hlc > st.clock.hlc);
	last = qr_core_last_lsn(h.core);
	CU_ASSERT_EQUAL(qr_wal_close(h.wal, &durable), 0);
	CU_ASSERT_EQUAL(durable, last);
	qr_core_destroy(h.core);

	h.core = make_core();
	CU_ASSERT_EQUAL_FATAL(qr_wal_recover(dir, 0, NULL, recover_cb, h.core,
					     &st), 0);
	CU_ASSERT_EQUAL(st.last_lsn, last);
	check_store(h.core, OPS + OPS2);
	printf("\n  %u requests, %llu clock records, %llu WAL busy retries, "
	       "recovered %llu snapshot entries + %llu log records ",
	       h.nreqs, (unsigned long long)h.clock_records,
	       (unsigned long long)h.wal_busy,
	       (unsigned long long)st.snapshot_entries,
	       (unsigned long long)st.records);
	qr_core_destroy(h.core);
	qr_placement_fini(&h.pl);
	free(h.reqs);
	wt_rmdir(dir);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{ "core_over_wal", test_core_over_wal },
		{ NULL, NULL },
	};
	if (qr_eal_init_local("test_wal_core", 256) != 0) {
		fprintf(stderr, "skipped: DPDK EAL did not start\n");
		return 77;
	}
	return qr_unit_main("wal-core", cases);
}
