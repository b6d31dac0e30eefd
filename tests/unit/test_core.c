/* SPDX-License-Identifier: MIT */
/*
 * The protocol core's state machines, driven by hand: three nodes (RF 3),
 * a network the test delivers frame by frame (or drops), and WAL durability
 * the test grants explicitly. Each test pins one protocol rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/eal_local.h"
#include "core/bugs.h"
#include "common/le.h"
#include "core/core.h"
#include "core/store_pvt.h" /* qr_store_check */
#include "quorate/err.h"
#include "unit.h"

#define N	3
#define QMAX	1024
#define CLUSTER 7

struct qframe {
	uint16_t dst; /* node, or QR_NODE_CLIENT */
	uint16_t src;
	uint16_t len;
	uint8_t data[QR_FRAME_JUMBO_MAX]; /* peer frames up to the jumbo max */
};

struct reply {
	uint64_t req_id;
	int status;
	struct qr_version version;
	bool tombstone;
	uint8_t answered;
	uint16_t value_len;
	uint8_t value[QR_VALUE_INLINE_MAX];
	uint64_t client; /* the driver's id it was sent to */
	int frame;	 /* index of the client frame it came in */
};

static struct harness {
	struct qr_placement pl;
	struct qr_core *core[N];
	uint64_t now_us;
	int64_t skew_ms[N];
	uint64_t appended[N];
	uint64_t data_logged[N]; /* QR_WAL_PUT and _TOMBSTONE records */
	struct qframe q[QMAX];
	int qlen;
	bool cut[N][N]; /* [from][to]: frames dropped */
	struct reply replies[64];
	int nreplies;
	/* The newest QR_WAL_CLOCK record appended / made durable, per node
	 * (restart_node_replaying_clock replays the durable one). */
	struct qr_wal_record clock_last[N], clock_durable[N];
	uint8_t clock_floor[N][2][8];
	uint64_t authentic[N]; /* env->authentic calls per node */
	int wal_err[N]; /* a node's WAL refuses appends with this (disk full) */
	int client_frames; /* frames sent to clients */
} h;

static uint16_t ctx_id[N] = {0, 1, 2};

static uint64_t env_now_us(void *ctx)
{
	(void)ctx;
	return h.now_us;
}

static uint64_t env_wall_ms(void *ctx)
{
	uint16_t id = *(uint16_t *)ctx;
	return (uint64_t)((int64_t)(1700000000000ull + h.now_us / 1000) +
			  h.skew_ms[id]);
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	uint16_t src = *(uint16_t *)ctx;
	if (dst == QR_NODE_CLIENT) {
		h.client_frames++;
		struct qr_frame_reader r;
		struct qr_msg m;
		CU_ASSERT_FATAL(
			qr_wire_frame_open(&r, frame, len, CLUSTER, NULL) == 0);
		while (qr_wire_next(&r, &m) > 0) {
			CU_ASSERT_FATAL(h.nreplies < 64);
			struct reply *rp = &h.replies[h.nreplies++];
			rp->req_id = m.req_id;
			rp->status = m.status;
			rp->version = m.version;
			rp->tombstone = m.flags & QR_MSGF_TOMBSTONE;
			rp->answered = m.answered;
			rp->value_len = m.value_len;
			memcpy(rp->value, m.value, m.value_len);
			rp->client = client;
			rp->frame = h.client_frames;
		}
		return;
	}
	if (h.cut[src][dst])
		return;
	CU_ASSERT_FATAL(h.qlen < QMAX);
	struct qframe *f = &h.q[h.qlen++];
	f->dst = dst;
	f->src = src;
	f->len = (uint16_t)len;
	memcpy(f->data, frame, len);
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	uint16_t id = *(uint16_t *)ctx;
	if (h.wal_err[id])
		return h.wal_err[id];
	CU_ASSERT_EQUAL(rec->lsn, h.appended[id] + 1);
	h.appended[id] = rec->lsn;
	if (rec->type == QR_WAL_PUT || rec->type == QR_WAL_TOMBSTONE)
		h.data_logged[id]++;
	if (rec->type == QR_WAL_CLOCK) {
		static const uint8_t zero;
		h.clock_last[id] = *rec;
		h.clock_last[id].key = &zero;
		CU_ASSERT_FATAL(rec->value_len == 8);
		memcpy(h.clock_floor[id][0], rec->value, 8);
		h.clock_last[id].value = h.clock_floor[id][0];
	}
	return 0;
}

static void env_authentic(void *ctx, uint64_t client)
{
	(void)client;
	h.authentic[*(uint16_t *)ctx]++;
}

static uint64_t env_random(void *ctx)
{
	(void)ctx;
	return 1;
}

/* Tests that need them set these before setup(); 0: the defaults. */
static uint64_t setup_grace_ms, setup_ae_interval_us;
static uint64_t setup_store_bytes_max;
static uint32_t setup_ae_entries_per_s;
static uint32_t setup_hints_max;
static uint64_t setup_hint_delay_us;
static bool setup_rebuild; /* node_create: cfg.rebuild (a lost disk) */
static uint16_t setup_peer_frame; /* cfg.peer_frame_bytes (0: 1472) */

/* A test's own cluster secret for the next node_create() (key rolls). */
static const struct qr_secret *test_secret_override;
/* Client keys for the next node_create() (client authentication), and
 * the client that signs client_req()'s frames (NULL: unsigned). */
static const struct qr_client_keys *test_client_keys;
static struct qr_auth_client *client_signer;

/* Create node i's core with the harness's configuration. */
static void node_create(int i, uint32_t incarnation)
{
	struct qr_core_config cfg;
	qr_core_config_defaults(&cfg);
	cfg.node_id = (uint16_t)i;
	cfg.cluster_id = CLUSTER;
	static struct qr_secret test_secret;
	qr_secret_for_tests(&test_secret);
	cfg.secret = test_secret_override ? test_secret_override
					  : &test_secret; /* auth = mac */
	cfg.client_keys = test_client_keys;
	cfg.incarnation = incarnation;
	cfg.placement = &h.pl;
	cfg.requests_max = 8;
	cfg.pending_max = 64;
	cfg.keys_max = 64;
	cfg.store_bytes_max = setup_store_bytes_max;
	cfg.deadline_us_default = 50000;
	cfg.rto_us_min = 1000;
	cfg.rto_us_max = 4000;
	cfg.heartbeat_us = 10000;
	cfg.suspect_after_us = 30000;
	cfg.down_after_us = 60000;
	if (setup_grace_ms)
		cfg.tombstone_grace_ms = setup_grace_ms;
	cfg.hints_max = setup_hints_max;
	cfg.hint_delay_us = setup_hint_delay_us;
	if (setup_ae_interval_us)
		cfg.ae_interval_us = setup_ae_interval_us;
	cfg.ae_entries_per_s = setup_ae_entries_per_s;
	cfg.rebuild = setup_rebuild;
	cfg.peer_frame_bytes = setup_peer_frame;
	struct qr_env env = {
		.ctx = &ctx_id[i],
		.now_us = env_now_us,
		.wall_ms = env_wall_ms,
		.send = env_send,
		.wal_append = env_wal_append,
		.random = env_random,
		.authentic = env_authentic,
	};
	CU_ASSERT_FATAL(qr_core_create(&cfg, &env, &h.core[i]) == 0);
}

static void setup(void)
{
	memset(&h, 0, sizeof(h));
	h.now_us = 1000;
	CU_ASSERT_FATAL(qr_placement_init(&h.pl, 64, N, 3, 1) == 0);
	for (int i = 0; i < N; i++)
		node_create(i, 0);
}

static void teardown(void)
{
	for (int i = 0; i < N; i++)
		qr_core_destroy(h.core[i]);
	qr_placement_fini(&h.pl);
}

static void flush_all(void)
{
	for (int i = 0; i < N; i++)
		qr_core_flush(h.core[i]);
}

/* A frame a test built as if node src (its header's src_node) sent it to
 * node dst: sealed with src's keys and sequence, as src's own frames are
 * (auth = mac), unless src is not a node of the harness (a forgery). */
static void peer_frame(int dst, uint8_t *buf, size_t len)
{
	uint16_t src = (uint16_t)(buf[8] | buf[9] << 8);
	if (src < N && h.core[src])
		len = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
				   QR_FRAME_BYTES_MAX);
	qr_core_on_frame(h.core[dst], 0, buf, len);
}

/* Deliver every queued frame (and what they cause) until quiet. */
static void deliver_all(void)
{
	flush_all();
	for (int guard = 0; h.qlen && guard < 100; guard++) {
		static struct qframe batch[QMAX]; /* ~9 MiB: not the stack */
		int n = h.qlen;
		memcpy(batch, h.q, sizeof(batch[0]) * (size_t)n);
		h.qlen = 0;
		for (int i = 0; i < n; i++)
			qr_core_on_frame(h.core[batch[i].dst], 0, batch[i].data,
					 batch[i].len);
		flush_all();
	}
}

static void durable(int node)
{
	if (h.clock_last[node].lsn) {
		h.clock_durable[node] = h.clock_last[node];
		memcpy(h.clock_floor[node][1], h.clock_floor[node][0], 8);
		h.clock_durable[node].value = h.clock_floor[node][1];
	}
	qr_core_on_wal_durable(h.core[node], h.appended[node]);
	flush_all();
}

static void durable_all(void)
{
	for (int i = 0; i < N; i++)
		durable(i);
}

static void deliver_all(void);
static void durable_all(void);

/* Let time pass in 100 us steps; frames (heartbeats, retransmissions) are
 * delivered as they go, except over cut links. */
/* Deliver and make every WAL durable until nothing moves. */
static void settle(void)
{
	for (int i = 0; i < 4; i++) {
		deliver_all();
		durable_all();
	}
	deliver_all();
}

static void advance(uint64_t us)
{
	uint64_t end = h.now_us + us;
	while (h.now_us < end) {
		h.now_us += QR_MIN(100, end - h.now_us);
		for (int i = 0; i < N; i++)
			qr_core_tick(h.core[i]);
		deliver_all();
	}
}

/* A key whose replicas are exactly 0,1,2 (RF = N): any key; its first
 * replica coordinates. */
static const char *KEY = "user:42";

static int coordinator_of(const char *key)
{
	uint32_t p = qr_placement_partition(&h.pl, key, strlen(key));
	return qr_placement_replicas(&h.pl, p)[0];
}

static void client_req_from(uint64_t client, int node, uint64_t req_id,
			    uint8_t op, uint8_t level, const char *key,
			    const char *value, bool flush);

static void client_req(int node, uint64_t req_id, uint8_t op, uint8_t level,
		       const char *key, const char *value)
{
	client_req_from(99, node, req_id, op, level, key, value, true);
}

/* A client request from the driver's client id `client`; flush: end the
 * event as a driver does (false: more of the same burst follow). */
static void client_req_from(uint64_t client, int node, uint64_t req_id,
			    uint8_t op, uint8_t level, const char *key,
			    const char *value, bool flush)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = QR_NODE_CLIENT,
		.dst_node = (uint16_t)node,
	};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = req_id,
		.op = op,
		.level = level,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = value ? (uint16_t)strlen(value) : 0,
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	size_t len = qr_wire_frame_end(&w);
	if (client_signer)
		len = qr_auth_client_seal(client_signer, buf, len, sizeof(buf));
	qr_core_on_frame(h.core[node], client, buf, len);
	if (flush)
		flush_all();
}

static const struct reply *find_reply(uint64_t req_id)
{
	for (int i = 0; i < h.nreplies; i++)
		if (h.replies[i].req_id == req_id)
			return &h.replies[i];
	return NULL;
}

/* Status of the reply to req_id; 1 if there is none (yet). */
static int reply_status(uint64_t req_id)
{
	const struct reply *r = find_reply(req_id);
	return r ? r->status : 1;
}

static int count_replies(uint64_t req_id)
{
	int n = 0;
	for (int i = 0; i < h.nreplies; i++)
		n += h.replies[i].req_id == req_id;
	return n;
}

/* Give every node a durable HLC ceiling (one ONE write each), so later
 * writes are not parked waiting for one; forget those replies. */
static void warm(void)
{
	static const char *keys[N] = {"warm-0", "warm-1", "warm-2"};
	for (int i = 0; i < N; i++)
		client_req(i, 1000 + (uint64_t)i, QR_OP_PUT, QR_LEVEL_ONE,
			   keys[i], "w");
	settle();
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(reply_status(1000 + (uint64_t)i), 0);
	h.nreplies = 0;
}

/* Every frame node c sends to a peer is lost (client replies still go). */
static void cut_links_from(int c)
{
	for (int i = 0; i < N; i++)
		if (i != c)
			h.cut[c][i] = true;
}

static bool stored(int node, const char *key, struct qr_store_view *v)
{
	return qr_store_get(qr_core_store(h.core[node]), key,
			    (uint8_t)strlen(key), v) == 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_quorum_write_acks_only_after_wal(void)
{
	setup();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "alice");
	/* The first write waits for the coordinator's HLC ceiling record. */
	CU_ASSERT_EQUAL(h.appended[c], 1);
	durable(c);
	deliver_all();
	/* Applied everywhere, but nothing is durable: no answer yet. */
	for (int i = 0; i < N; i++) {
		struct qr_store_view v;
		CU_ASSERT(stored(i, KEY, &v));
	}
	CU_ASSERT_PTR_NULL(find_reply(1));
	/* One durable replica is not a quorum. */
	durable(c);
	deliver_all();
	CU_ASSERT_PTR_NULL(find_reply(1));
	durable((c + 1) % N);
	deliver_all();
	const struct reply *r = find_reply(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL(r->version.node, c);
	CU_ASSERT(r->version.hlc > 0);
	CU_ASSERT_EQUAL(r->answered, 2);
	teardown();
}

/* loop.c: the coordinator's own replica is reached through the loopback
 * queue (a REPLICATE to ourselves, its ACK back once durable), never by a
 * frame on the network and never by a call from one side into the other. */
static void test_own_replica_through_loopback_queue(void)
{
	setup();
	int c = coordinator_of(KEY);
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t loop0 = st->loop_msgs;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "alice");
	durable(c); /* the HLC ceiling: the write leaves */
	/* Our replica logged it from the loopback REPLICATE, at once. */
	CU_ASSERT_EQUAL(h.appended[c], 2);
	CU_ASSERT_EQUAL(st->loop_msgs, loop0 + 1);
	for (int i = 0; i < h.qlen; i++)
		CU_ASSERT(h.q[i].src != h.q[i].dst);
	durable(c); /* our replica's ACK leaves the pending queue */
	CU_ASSERT_EQUAL(st->loop_msgs, loop0 + 2);
	CU_ASSERT_PTR_NULL(find_reply(1)); /* one ack is not W = 2 */
	deliver_all();
	durable((c + 1) % N);
	deliver_all();
	const struct reply *r = find_reply(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL(r->answered, 2);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_LOOP_FULL], 0);
	teardown();
}

static void test_read_returns_highest_and_repairs_before_answering(void)
{
	setup();
	int c = coordinator_of(KEY);
	int d = (c + 2) % N;
	/* v1 everywhere. */
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "old");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	/* v2 reaches c itself and the next replica, not d. */
	h.cut[c][d] = true;
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ONE, KEY, "new");
	settle();
	struct qr_version v2 = find_reply(2)->version;
	struct qr_store_view v;
	CU_ASSERT(stored(d, KEY, &v));
	CU_ASSERT_EQUAL(v.value_len, 3); /* d still holds "old" */
	CU_ASSERT_NSTRING_EQUAL(v.value, "old", 3);
	h.cut[c][d] = false;
	/* Let the write's retransmissions stop (linger) without reaching d:
	 * cut again while time passes. */
	h.cut[c][d] = true;
	advance(20000);
	deliver_all();
	h.cut[c][d] = false;
	CU_ASSERT(stored(d, KEY, &v));
	CU_ASSERT_NSTRING_EQUAL(v.value, "old", 3);
	/* A QUORUM read coordinated by d: d's own answer is old, b or c
	 * answer new. It must return new and make a quorum hold it first. */
	client_req(d, 3, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	deliver_all();
	/* d's repair is not durable yet: blocking repair holds the reply
	 * unless two others already hold v2 (they do: b and c). */
	durable_all();
	deliver_all();
	const struct reply *r = find_reply(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL(qr_version_cmp(r->version, v2), 0);
	CU_ASSERT_NSTRING_EQUAL(r->value, "new", 3);
	/* And d was repaired. */
	durable_all();
	deliver_all();
	CU_ASSERT(stored(d, KEY, &v));
	CU_ASSERT_EQUAL(qr_version_cmp(v.version, v2), 0);
	CU_ASSERT(qr_core_stats(h.core[d])->read_repairs_sent >= 1);
	teardown();
}

static void test_blocking_repair_waits_for_quorum(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	/* v1 only on c (ONE write with both links cut, then long linger). */
	h.cut[c][b] = h.cut[c][d] = true;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ONE, KEY, "only-c");
	deliver_all();
	durable(c);
	deliver_all();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	advance(20000);
	h.cut[c][b] = h.cut[c][d] = false;
	/* QUORUM read from b: answers from b (nothing) and c (v1). */
	h.cut[b][d] = true; /* keep d out of it */
	client_req(b, 2, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	deliver_all();
	/* b must repair itself before answering: its WAL is not durable. */
	CU_ASSERT_PTR_NULL(find_reply(2));
	durable(b);
	deliver_all();
	const struct reply *r = find_reply(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_NSTRING_EQUAL(r->value, "only-c", 6);
	struct qr_store_view v;
	CU_ASSERT(stored(b, KEY, &v));
	teardown();
}

static void test_all_unavailable_when_replica_down(void)
{
	setup();
	int c = coordinator_of(KEY);
	int d = (c + 2) % N;
	for (int i = 0; i < N; i++)
		h.cut[i][d] = h.cut[d][i] = true;
	/* Until the detector notices, the deadline answers UNAVAILABLE. */
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "x");
	settle();
	CU_ASSERT_PTR_NULL(find_reply(1));
	advance(60000);
	durable_all();
	deliver_all();
	const struct reply *r = find_reply(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, QR_EUNAVAILABLE);
	/* Once d is DOWN, ALL fails fast (no slot, no waiting) while QUORUM
	 * still works. */
	advance(70000);
	CU_ASSERT_EQUAL(qr_detector_state(qr_core_detector(h.core[c]), d),
			QR_PEER_DOWN);
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ALL, KEY, "y");
	r = find_reply(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, QR_EUNAVAILABLE);
	client_req(c, 3, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "z");
	settle();
	r = find_reply(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	teardown();
}

static void test_retransmits_after_loss(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	h.cut[c][b] = h.cut[c][d] = true;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "v");
	deliver_all();
	h.cut[c][b] = h.cut[c][d] = false; /* the first copies were lost */
	/* W6: no later request gives evidence of the loss, so the first
	 * timeout (rto_us_min) resends nothing... */
	advance(1500);
	settle();
	CU_ASSERT_PTR_NULL(find_reply(1));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->retransmits, 0);
	CU_ASSERT(qr_core_stats(h.core[c])->rto_deferred >= 2);
	/* ...and the second (3 x rto_us_min after the send) resends to
	 * both. */
	advance(2000);
	settle();
	const struct reply *r = find_reply(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(qr_core_stats(h.core[c])->retransmits >= 2);
	teardown();
}

/* W6: a replica that answered a write we sent after one it has not
 * answered has most likely lost that one (or its ack): it is resent at
 * the first timeout, and only to that replica. */
static void test_retransmit_on_evidence_of_loss(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N;
	h.cut[c][b] = true;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "lost-to-b");
	settle();
	h.cut[c][b] = false;
	CU_ASSERT_PTR_NULL(find_reply(1));
	/* A later write, on another key with the same replicas (RF = N),
	 * reaches b and is answered. */
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ALL, "other-key", "later");
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits;
	advance(1500); /* one timeout (rto_us_min), not two */
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 1);
	teardown();
}

/* W7: replicas whose disks stall get one resend each per RTO, not one
 * per write in flight; once their disks are back every write is
 * answered with no further resend. */
static void test_probe_per_replica_per_rto(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	enum { K = 8 };
	char key[K][16];
	for (int k = 0; k < K; k++) {
		snprintf(key[k], sizeof(key[k]), "stall-%d", k);
		client_req(c, 10 + (uint64_t)k, QR_OP_PUT, QR_LEVEL_QUORUM,
			   key[k], "v");
	}
	deliver_all(); /* b and d hold them, but sync nothing */
	durable(c);
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits, same_b0 =
		qr_core_stats(h.core[b])->replicate_same;
	/* Past every write's second timeout (3 x rto_us_min after the
	 * send), before the third (7 x). */
	advance(5000);
	for (int k = 0; k < K; k++)
		CU_ASSERT_PTR_NULL(find_reply(10 + (uint64_t)k));
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2); /* one to b, one to d */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[b])->replicate_same - same_b0, 1);
	/* The disks are back: all answered, nothing more resent. */
	durable(b);
	durable(d);
	settle();
	for (int k = 0; k < K; k++)
		CU_ASSERT_EQUAL(reply_status(10 + (uint64_t)k), 0);
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2);
	teardown();
}

/* W7: writes lost on a cut link come back after the link heals: the
 * probe's answer is evidence, an RTO after it came, for every write sent
 * before the probe, so each is resent at its next timeout after that,
 * not one per RTO. */
static void test_probe_answer_is_evidence(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	enum { K = 8 };
	char key[K][16];
	h.cut[c][b] = h.cut[c][d] = true;
	for (int k = 0; k < K; k++) {
		snprintf(key[k], sizeof(key[k]), "cut-%d", k);
		client_req(c, 30 + (uint64_t)k, QR_OP_PUT, QR_LEVEL_QUORUM,
			   key[k], "v");
		deliver_all();
		if (k == 0)
			advance(500); /* the oldest write's timer fires first */
	}
	durable(c);
	h.cut[c][b] = h.cut[c][d] = false; /* every first copy was lost */
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits;
	/* The second timeouts (3 x rto_us_min after the sends): the oldest
	 * write probes b and d, the others wait. */
	advance(4000);
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2);
	durable(b);
	durable(d);
	deliver_all();
	CU_ASSERT_EQUAL(reply_status(30), 0);
	for (int k = 1; k < K; k++)
		CU_ASSERT_PTR_NULL(find_reply(30 + (uint64_t)k));
	/* The third timeouts (7 x) come after the answer's RTO: each of the
	 * seven is resent on that evidence. */
	advance(3500);
	durable(b);
	durable(d);
	settle();
	for (int k = 0; k < K; k++)
		CU_ASSERT_EQUAL(reply_status(30 + (uint64_t)k), 0);
	teardown();
}

/* W7: a probed write answered from its first copy is evidence only an
 * RTO later. A disk stall on every node: writes 1-2 are in the WAL batch
 * that stalls, writes 3-6 come during it (the next batch). Write 1's
 * probe is sent after 3-6; when the stalled batch ends, its ack must not
 * get 3-6 resent while their own batch syncs (found in review: the
 * evidence taken at once resent all four to both replicas). */
static void test_probe_evidence_waits_an_rto(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	client_req(c, 50, QR_OP_PUT, QR_LEVEL_QUORUM, "sb-1", "v");
	client_req(c, 51, QR_OP_PUT, QR_LEVEL_QUORUM, "sb-2", "v");
	deliver_all();
	uint64_t lsn[N];
	for (int i = 0; i < N; i++)
		lsn[i] = h.appended[i]; /* the batch that stalls */
	advance(1000); /* writes 1-2: first timeout, nothing resent */
	char key[4][16];
	for (int k = 0; k < 4; k++) {
		snprintf(key[k], sizeof(key[k]), "sb-%d", k + 3);
		client_req(c, 52 + (uint64_t)k, QR_OP_PUT, QR_LEVEL_QUORUM,
			   key[k], "v");
	}
	deliver_all();
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits;
	advance(2500); /* write 1's probe (3 x rto_us_min after its send) */
	CU_ASSERT_EQUAL(st->retransmits - rtx0, N); /* b, d and c's own */
	for (int i = 0; i < N; i++)
		qr_core_on_wal_durable(h.core[i], lsn[i]);
	flush_all();
	deliver_all();
	CU_ASSERT_EQUAL(reply_status(50), 0);
	CU_ASSERT_EQUAL(reply_status(51), 0);
	CU_ASSERT_PTR_NULL(find_reply(52));
	uint64_t same_b0 = qr_core_stats(h.core[b])->replicate_same;
	/* Writes 3-6's second timeouts, their batch syncing: the next RTO's
	 * probe, one per replica, not all four on evidence. */
	advance(800);
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2 * N);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[b])->replicate_same - same_b0, 1);
	durable(b);
	durable(d);
	durable(c);
	settle();
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(reply_status(52 + (uint64_t)k), 0);
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2 * N);
	teardown();
}

/* W7: a write's probe_seq is its first probe's. Write X is probed to b
 * while d takes no writes (NO_WRITES), then writes 1-4 go to c and b, b's
 * disk stalled; d takes writes again and X, held back at b by write 1's
 * probe, is probed to d. b then answers X from its first copy: that says
 * nothing of writes 1-4 (sent after X's first probe, in b's next batch),
 * so at their next timeouts only write 1 probes b and d. With probe_seq
 * taken at X's later probe (to d) b's answer claimed all four: resent to
 * b on that evidence (5 resends, 4 duplicates at b: checked by hand). */
static void test_probe_seq_is_the_first_probes(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	h.wal_err[d] = QR_ENOSPC;
	qr_core_set_wal_error(h.core[d], QR_ENOSPC);
	flush_all();
	deliver_all();
	CU_ASSERT_TRUE_FATAL(qr_core_detector(h.core[c])->peers[d].writes_refused);
	client_req(c, 90, QR_OP_PUT, QR_LEVEL_QUORUM, "ps-x", "v");
	deliver_all();
	uint64_t xb = h.appended[b]; /* b holds X, syncs nothing */
	durable(c);
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits;
	advance(3050); /* X's second timeout (3 ms): its probe to b */
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 1);
	char key[4][16];
	for (int k = 0; k < 4; k++) {
		snprintf(key[k], sizeof(key[k]), "ps-%d", k + 1);
		client_req(c, 91 + (uint64_t)k, QR_OP_PUT, QR_LEVEL_QUORUM,
			   key[k], "v");
	}
	deliver_all();
	durable(c);
	advance(3450); /* 6.5 ms: write 1's probe to b (at 6.05) */
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 2);
	h.wal_err[d] = 0;
	qr_core_set_wal_error(h.core[d], 0);
	flush_all();
	deliver_all();
	CU_ASSERT_FALSE_FATAL(qr_core_detector(h.core[c])->peers[d].writes_refused);
	advance(600); /* 7.1 ms: X's third timeout, its probe to d */
	CU_ASSERT_EQUAL(st->retransmits - rtx0, 3);
	qr_core_on_wal_durable(h.core[b], xb); /* X from its first copy */
	flush_all();
	deliver_all();
	CU_ASSERT_EQUAL(reply_status(90), 0);
	uint64_t rtx1 = st->retransmits;
	uint64_t same_b0 = qr_core_stats(h.core[b])->replicate_same;
	advance(3500); /* 10.6 ms: writes 1-4's third timeouts (10.05) */
	CU_ASSERT_EQUAL(st->retransmits - rtx1, 2); /* write 1: b and d */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[b])->replicate_same - same_b0, 1);
	durable(b);
	durable(d);
	settle();
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(reply_status(91 + (uint64_t)k), 0);
	teardown();
}

/* W7: near its deadline a write is resent whatever the probe limit
 * says. Two ALL writes, b cut off until 42.5 ms of their 50 ms, b's disk
 * acking 3.5 ms after an append: held back by the other's probe at its
 * second-to-last firing, the second write had only the last firing's few
 * milliseconds left and failed UNAVAILABLE (found in review; before W7
 * both were answered). */
static void test_probe_limit_lifted_near_deadline(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	uint64_t t0 = h.now_us;
	h.cut[c][b] = true;
	client_req(c, 70, QR_OP_PUT, QR_LEVEL_ALL, "all-a", "v");
	client_req(c, 71, QR_OP_PUT, QR_LEVEL_ALL, "all-b", "v");
	deliver_all();
	enum { HMAX = 700 };
	static uint64_t at[HMAX], lsn[HMAX];
	int n = 0;
	uint64_t synced = h.appended[b];
	while (h.now_us < t0 + 60000) {
		advance(100);
		if (h.now_us - t0 >= 42500)
			h.cut[c][b] = false;
		durable(c);
		durable(d);
		if (n < HMAX) { /* b's WAL: durable 3.5 ms after the append */
			at[n] = h.now_us;
			lsn[n++] = h.appended[b];
		}
		uint64_t upto = 0;
		for (int i = 0; i < n; i++)
			if (at[i] + 3500 <= h.now_us)
				upto = lsn[i];
		if (upto > synced) {
			qr_core_on_wal_durable(h.core[b], upto);
			synced = upto;
			flush_all();
		}
		deliver_all();
	}
	CU_ASSERT_EQUAL(reply_status(70), 0);
	CU_ASSERT_EQUAL(reply_status(71), 0);
	teardown();
}

static void test_replica_keeps_newer_version(void)
{
	setup();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "first");
	settle();
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ALL, KEY, "second");
	settle();
	struct qr_version v2 = find_reply(2)->version;
	CU_ASSERT(qr_version_cmp(v2, find_reply(1)->version) > 0);
	/* Replay the first write's REPLICATE by hand to a replica. */
	int b = (c + 1) % N;
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = (uint16_t)c,
				  .dst_node = (uint16_t)b,
				  .hlc = 1};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.op_id = 12345,
		.partition = qr_placement_partition(&h.pl, KEY, strlen(KEY)),
		.version = find_reply(1)->version,
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = (const uint8_t *)"first",
		.value_len = 5,
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	uint64_t older = qr_core_stats(h.core[b])->replicate_older;
	peer_frame(b, buf, qr_wire_frame_end(&w));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[b])->replicate_older, older + 1);
	struct qr_store_view v;
	CU_ASSERT(stored(b, KEY, &v));
	CU_ASSERT_EQUAL(qr_version_cmp(v.version, v2), 0);
	CU_ASSERT_NSTRING_EQUAL(v.value, "second", 6);
	teardown();
}

static void test_delete_leaves_tombstone_and_reads_not_found(void)
{
	setup();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "v");
	settle();
	client_req(c, 2, QR_OP_DELETE, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	client_req(c, 3, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	const struct reply *r = find_reply(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, QR_ENOTFOUND);
	CU_ASSERT(r->tombstone);
	CU_ASSERT_EQUAL(qr_version_cmp(r->version, find_reply(2)->version), 0);
	struct qr_store_view v;
	CU_ASSERT(stored(c, KEY, &v));
	CU_ASSERT(v.tombstone);
	/* A key nobody wrote: NOT_FOUND with no version. */
	client_req(coordinator_of("nobody"), 4, QR_OP_GET, QR_LEVEL_ONE,
		   "nobody", NULL);
	deliver_all();
	r = find_reply(4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, QR_ENOTFOUND);
	CU_ASSERT(qr_version_is_none(r->version));
	teardown();
}

static void test_duplicate_client_write_applied_once(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t logged = h.appended[c];
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "once");
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "once"); /* dup */
	settle();
	CU_ASSERT_EQUAL(count_replies(1), 1);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->client_duplicates, 1);
	/* After completion a retry gets the same answer, same version. */
	struct qr_version v = find_reply(1)->version;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "once");
	CU_ASSERT_EQUAL(count_replies(1), 2);
	CU_ASSERT_EQUAL(qr_version_cmp(h.replies[h.nreplies - 1].version, v),
			0);
	CU_ASSERT_EQUAL(h.appended[c], logged + 1); /* logged once */
	teardown();
}

static void test_bad_frames_dropped_and_change_nothing(void)
{
	setup();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "keep");
	settle();
	struct qr_store_view before;
	CU_ASSERT(stored(c, KEY, &before));
	struct qr_version vb = before.version;
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t wire = st->drops[QR_DROP_WIRE];
	uint8_t junk[64];
	for (int i = 0; i < 64; i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	qr_core_on_frame(h.core[c], 0, junk, sizeof(junk));
	qr_core_on_frame(h.core[c], 0, junk, 3);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_WIRE], wire + 2);
	/* A valid frame from another cluster. */
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER + 1,
				  .src_node = QR_NODE_CLIENT};
	struct qr_msg m = {.type = QR_MSG_CLIENT_REQ,
			   .req_id = 5,
			   .op = QR_OP_PUT,
			   .level = QR_LEVEL_ONE,
			   .key = (const uint8_t *)KEY,
			   .key_len = (uint8_t)strlen(KEY),
			   .value = (const uint8_t *)"evil",
			   .value_len = 4};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	qr_core_on_frame(h.core[c], 9, buf, qr_wire_frame_end(&w));
	CU_ASSERT_EQUAL(st->drops[QR_DROP_WIRE], wire + 2);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_CLUSTER], 1);
	/* A peer frame claiming to come from a node that does not exist. */
	struct qr_frame_hdr hp = {
		.cluster_id = CLUSTER, .src_node = 17, .dst_node = (uint16_t)c};
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hp);
	CU_ASSERT_FATAL(qr_wire_put(&w, &hb) == 0);
	peer_frame(c, buf, qr_wire_frame_end(&w));
	CU_ASSERT_EQUAL(st->drops[QR_DROP_BAD_NODE], 1);
	struct qr_store_view after;
	CU_ASSERT(stored(c, KEY, &after));
	CU_ASSERT_EQUAL(qr_version_cmp(after.version, vb), 0);
	CU_ASSERT_NSTRING_EQUAL(after.value, "keep", 4);
	CU_ASSERT_PTR_NULL(find_reply(5));
	teardown();
}

/*
 * Jumbo peer frames (limits.h L6, out.c O5), peer_frame_bytes 4008: a
 * burst of writes packs its REPLICATEs into one frame per peer over 1472 B
 * (never over 4008) and every replica applies them; a sealed peer frame of
 * exactly 4008 B is taken whole, one byte more is a WIRE drop before its
 * MAC costs anything; a client frame over 1472 B is still a WIRE drop.
 */
static void test_jumbo_peer_frames(void)
{
	enum { PF = 4008, BURST = 8 };
	setup_peer_frame = PF;
	setup();
	setup_peer_frame = 0;
	warm();
	int c = coordinator_of(KEY);
	char keys[BURST][16], val[400];
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	for (int i = 0; i < BURST; i++) {
		snprintf(keys[i], sizeof(keys[i]), "jumbo-%d", i);
		client_req_from(99, c, 1 + (uint64_t)i, QR_OP_PUT,
				QR_LEVEL_ALL, keys[i], val, false);
	}
	flush_all();
	size_t longest = 0;
	int to_peer = 0;
	for (int i = 0; i < h.qlen; i++)
		if (h.q[i].src == c) {
			longest = QR_MAX(longest, (size_t)h.q[i].len);
			to_peer++;
		}
	CU_ASSERT(longest > QR_FRAME_BYTES_MAX && longest <= PF);
	CU_ASSERT_EQUAL(to_peer, N - 1); /* 8 x 432 B: one frame per peer */
	settle();
	for (int i = 0; i < BURST; i++) {
		CU_ASSERT_EQUAL(reply_status(1 + (uint64_t)i), 0);
		struct qr_store_view v;
		for (int n = 0; n < N; n++)
			CU_ASSERT(stored(n, keys[i], &v) &&
				  v.value_len == sizeof(val) - 1);
	}

	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t wire = st->drops[QR_DROP_WIRE], mac = st->drops[QR_DROP_BAD_MAC];
	uint64_t msgs = st->msgs_in;
	static uint8_t b[PF + 64];
	struct qr_frame_writer w;
	struct qr_frame_hdr hp = {.cluster_id = CLUSTER,
				  .src_node = (uint16_t)((c + 1) % N),
				  .dst_node = (uint16_t)c};
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT};
	qr_wire_frame_begin(&w, b, PF - QR_AUTH_TRAILER_BYTES, &hp);
	while (qr_wire_put(&w, &hb) == 0)
		;
	size_t len = qr_wire_frame_end(&w);
	CU_ASSERT_EQUAL_FATAL(len, PF - QR_AUTH_TRAILER_BYTES); /* 247 */
	len = qr_core_seal(h.core[hp.src_node], (uint16_t)c, b, len, sizeof(b));
	CU_ASSERT_EQUAL_FATAL(len, PF);
	qr_core_on_frame(h.core[c], 0, b, len);
	CU_ASSERT_EQUAL(st->msgs_in, msgs + w.count);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_WIRE], wire);
	/* one byte more: refused by its length, not its MAC */
	qr_core_on_frame(h.core[c], 0, b, len + 1);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_WIRE], wire + 1);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_BAD_MAC], mac);
	CU_ASSERT_EQUAL(st->msgs_in, msgs + w.count);
	/* a client frame stays at 1472 B */
	struct qr_frame_hdr hc = {.cluster_id = CLUSTER,
				  .src_node = QR_NODE_CLIENT,
				  .dst_node = (uint16_t)c};
	qr_wire_frame_begin(&w, b, QR_FRAME_BYTES_MAX + 1, &hc);
	while (qr_wire_put(&w, &hb) == 0)
		;
	qr_core_on_frame(h.core[c], 7, b, QR_FRAME_BYTES_MAX + 1);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_WIRE], wire + 2);
	CU_ASSERT_EQUAL(st->msgs_in, msgs + 247);
	teardown();
}

static void test_clock_too_far_ahead_refused(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N;
	/* b starts with its clock beyond the 500 ms max offset (a jump while
	 * it runs is kept out of its HLC: clock_guard.c), so its frames
	 * carry an HLC that far ahead. */
	qr_core_destroy(h.core[b]);
	h.skew_ms[b] = 2000;
	node_create(b, 1);
	qr_core_recovered(h.core[b], h.appended[b]);
	advance(20000); /* b's heartbeats */
	CU_ASSERT(qr_core_stats(h.core[c])->drops[QR_DROP_CLOCK] >= 1);
	CU_ASSERT(qr_core_hlc(h.core[c])->rejected >= 1);
	/* c's HLC did not jump to b's future. */
	CU_ASSERT(QR_HLC_MS(qr_core_hlc(h.core[c])->last) <
		  1700000000000ull + h.now_us / 1000 + 500);
	teardown();
}

static void test_read_of_undurable_entry_waits(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ONE, KEY, "fresh");
	deliver_all();
	/* Nothing durable: a ONE read coordinated by b must not return the
	 * entry from memory (it could vanish in a crash). */
	client_req(b, 2, QR_OP_GET, QR_LEVEL_ONE, KEY, NULL);
	deliver_all();
	CU_ASSERT_PTR_NULL(find_reply(2));
	durable(b);
	deliver_all();
	const struct reply *r = find_reply(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_NSTRING_EQUAL(r->value, "fresh", 5);
	teardown();
}

static void test_request_table_full_answers_busy(void)
{
	setup();
	int c = coordinator_of(KEY);
	for (uint64_t i = 1; i <= 8; i++)
		client_req(c, i, QR_OP_PUT, QR_LEVEL_ALL, KEY, "v");
	CU_ASSERT_EQUAL(qr_core_requests_active(h.core[c]), 8);
	client_req(c, 9, QR_OP_PUT, QR_LEVEL_ALL, KEY, "v");
	const struct reply *r = find_reply(9);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, QR_EBUSY);
	settle();
	advance(10000);
	CU_ASSERT_EQUAL(qr_core_requests_active(h.core[c]), 0);
	teardown();
}

static void test_bad_level_and_wrong_shard_rejected(void)
{
	setup();
	int c = coordinator_of(KEY);
	/* W=0 cannot be expressed; r=5 with RF 3 is invalid. */
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = QR_NODE_CLIENT};
	struct qr_msg m = {.type = QR_MSG_CLIENT_REQ,
			   .req_id = 1,
			   .op = QR_OP_GET,
			   .level = QR_LEVEL_RW,
			   .r = 5,
			   .key = (const uint8_t *)KEY,
			   .key_len = (uint8_t)strlen(KEY)};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	qr_core_on_frame(h.core[c], 1, buf, qr_wire_frame_end(&w));
	flush_all(); /* replies leave at the flush, as in every driver */
	CU_ASSERT_EQUAL(reply_status(1), QR_EINVAL);
	teardown();
}

static void test_write_waits_for_hlc_ceiling(void)
{
	setup();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ONE, KEY, "v");
	deliver_all();
	/* Parked: nothing sent, nothing applied, until the ceiling record
	 * (the only WAL record so far) is durable. */
	struct qr_store_view v;
	CU_ASSERT_FALSE(stored(b, KEY, &v));
	CU_ASSERT_FALSE(stored(c, KEY, &v));
	CU_ASSERT_EQUAL(h.appended[c], 1);
	durable(c);
	deliver_all();
	CU_ASSERT(stored(b, KEY, &v));
	CU_ASSERT(stored(c, KEY, &v));
	durable_all();
	deliver_all();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	/* Writes within the lease need no new ceiling record. */
	uint64_t before = h.appended[c];
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ONE, KEY, "w");
	CU_ASSERT_EQUAL(h.appended[c], before + 1); /* only the apply */
	teardown();
}

static void test_recover_clock_record_raises_hlc_above_ceiling(void)
{
	setup();
	static const uint8_t zero = 0;
	uint64_t ceiling = QR_HLC_MAKE(1700000000000ull + 5000, 0);
	struct qr_wal_record rec = {
		.lsn = 1,
		.type = QR_WAL_CLOCK,
		.version = {ceiling, 0},
		.key = &zero,
		.key_len = 1,
	};
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &rec), 0);
	CU_ASSERT(qr_core_hlc(h.core[0])->last >= ceiling);
	CU_ASSERT_EQUAL(qr_core_durable_lsn(h.core[0]), 1);
	teardown();
}

/* Issue 12 item 3 (recover.c V4): a logged write whose version is beyond
 * the logged ceiling and our wall clock + max_offset (forged before frames
 * were authenticated, or corrupt) is refused by name, not adopted: the HLC
 * and the store are unchanged; the next, sane record is taken. */
static void test_regression_recover_refuses_version_beyond_ceiling(void)
{
	setup();
	static const uint8_t zero = 0;
	uint64_t ceil_ms = 1700000000000ull + 300;
	struct qr_wal_record clock = {
		.lsn = 1,
		.type = QR_WAL_CLOCK,
		.version = {QR_HLC_MAKE(ceil_ms, 0), 0},
		.key = &zero,
		.key_len = 1,
	};
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &clock), 0);
	uint64_t hlc0 = qr_core_hlc(h.core[0])->last;
	uint32_t p = qr_placement_partition(&h.pl, KEY, strlen(KEY));
	struct qr_wal_record put = {
		.lsn = 2,
		.type = QR_WAL_PUT,
		.partition = p,
		/* 86,399,900 ms ahead, as in the issue */
		.version = {QR_HLC_MAKE(ceil_ms + 86399900ull, 0), 1},
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = (const uint8_t *)"forged",
		.value_len = 6,
	};
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &put), QR_ECLOCK);
	const char *msg = qr_core_recover_message(h.core[0]);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "record lsn 2 (PUT"));
	CU_ASSERT_EQUAL(qr_core_hlc(h.core[0])->last, hlc0);
	struct qr_store_view v;
	CU_ASSERT_FALSE(stored(0, KEY, &v));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[0])->recover_refused, 1);
	/* Just inside the bound (ceiling + max_offset): taken. */
	put.lsn = 3;
	put.version.hlc = QR_HLC_MAKE(ceil_ms + 500, 0);
	put.value = (const uint8_t *)"sane";
	put.value_len = 4;
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &put), 0);
	CU_ASSERT_STRING_EQUAL(qr_core_recover_message(h.core[0]), "");
	CU_ASSERT_TRUE(stored(0, KEY, &v));
	CU_ASSERT_EQUAL(v.version.hlc, put.version.hlc);
	/* A promise is bounded the same way. */
	uint64_t hlc1 = qr_core_hlc(h.core[0])->last;
	put.lsn = 4;
	put.type = QR_WAL_PROMISE;
	put.value_len = 0;
	put.version.hlc = QR_HLC_MAKE(ceil_ms + 10000, 0);
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &put), QR_ECLOCK);
	CU_ASSERT_EQUAL(qr_core_hlc(h.core[0])->last, hlc1);
	teardown();
}

/* Issue 12 item 5: a replica whose WAL refuses writes (disk full) says so
 * in its heartbeats; peers keep it UP for reads but do not count it for
 * W: a QUORUM write through another node succeeds on the other two and
 * leaves a hint, an ALL write is answered NO_SPACE at once, a write it
 * coordinates itself is answered NO_SPACE, reads are served; nothing is
 * logged there meanwhile. When the condition clears, the hint lands. */
static void test_wal_refusing_node_serves_reads_not_writes(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int x = (c + 1) % N; /* the node whose disk fills */
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "before");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	h.wal_err[x] = QR_ENOSPC;
	qr_core_set_wal_error(h.core[x], QR_ENOSPC);
	CU_ASSERT_EQUAL(qr_core_wal_error(h.core[x]), QR_ENOSPC);
	flush_all();
	settle(); /* its heartbeat says NO_WRITES */
	CU_ASSERT_TRUE(qr_core_detector(h.core[c])->peers[x].writes_refused);
	CU_ASSERT_EQUAL(qr_detector_state(qr_core_detector(h.core[c]), x),
			QR_PEER_UP);
	uint64_t logged = h.data_logged[x];
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_ALL, KEY, "all");
	CU_ASSERT_EQUAL(reply_status(2), QR_ENOSPC); /* at once */
	client_req(c, 3, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "quorum");
	settle();
	CU_ASSERT_EQUAL(reply_status(3), 0);
	client_req(x, 4, QR_OP_PUT, QR_LEVEL_ONE, "other-key", "v");
	CU_ASSERT_EQUAL(reply_status(4), QR_ENOSPC);
	/* A REPLICATE reaching it anyway is refused, with the reason. */
	CU_ASSERT_EQUAL(h.data_logged[x], logged);
	client_req(x, 5, QR_OP_GET, QR_LEVEL_ONE, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(5), 0); /* reads served */
	client_req(x, 6, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(6), 0);
	CU_ASSERT_EQUAL(find_reply(6)->value_len, 6); /* "quorum" */
	/* Space is back: the node says so and the hint is delivered. */
	h.wal_err[x] = 0;
	qr_core_set_wal_error(h.core[x], 0);
	flush_all();
	advance(200000);
	settle();
	CU_ASSERT_FALSE(qr_core_detector(h.core[c])->peers[x].writes_refused);
	struct qr_store_view v;
	CU_ASSERT_TRUE(stored(x, KEY, &v));
	CU_ASSERT_EQUAL(v.value_len, 6);
	CU_ASSERT_EQUAL(memcmp(v.value, "quorum", 6), 0);
	client_req(c, 7, QR_OP_PUT, QR_LEVEL_ALL, KEY, "after");
	settle();
	CU_ASSERT_EQUAL(reply_status(7), 0);
	teardown();
}

/* Regression (review finding 1): a write answered UNAVAILABLE, retried with
 * the same request id (succeeds), then duplicated: the duplicate gets the
 * retry's answer and version, and is not stamped again. */
static void test_regression_unavailable_retry_then_duplicate(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	cut_links_from(c);
	client_req(c, 7, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "x");
	durable(c);
	advance(55000); /* past the 50 ms deadline */
	CU_ASSERT_EQUAL(reply_status(7), QR_EUNAVAILABLE);
	memset(h.cut, 0, sizeof(h.cut));
	advance(20000);
	h.nreplies = 0;
	client_req(c, 7, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "x"); /* retry */
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(7), 0);
	struct qr_version v = find_reply(7)->version;
	uint64_t logged = h.appended[c];
	client_req(c, 7, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "x"); /* dup */
	settle();
	CU_ASSERT_EQUAL(h.appended[c], logged); /* not applied again */
	CU_ASSERT_EQUAL(count_replies(7), 2);
	CU_ASSERT_EQUAL(qr_version_cmp(h.replies[h.nreplies - 1].version, v),
			0);
	teardown();
}

/* The dedupe set a (client, req_id) falls in (mirrors reqtab.c). */
static uint32_t dedup_set_of(uint64_t client, uint64_t req_id)
{
	uint64_t base = client * 0x9e3779b97f4a7c15ull;
	uint64_t high = (req_id >> 4) * 0xbf58476d1ce4e5b9ull;
	/* requests_max 8 -> 16 sets of 4 */
	return (uint32_t)((base ^ base >> 32) + req_id + (high >> 32)) & 15;
}

/* Regression (review finding 2): a set holding one write in flight (the
 * oldest) and three finished ones: a fifth write evicts a finished entry,
 * so a duplicate of the in-flight write is still recognised. */
static void test_regression_dedup_keeps_in_flight_entry(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t ids[5];
	int n = 0;
	uint32_t target = dedup_set_of(99, 5000);
	for (uint64_t r = 5000; n < 5; r++)
		if (dedup_set_of(99, r) == target)
			ids[n++] = r;
	cut_links_from(c);
	client_req(c, ids[0], QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "A");
	durable(c); /* A: 1 of 2 acks, in flight */
	for (int k = 1; k <= 3; k++) {
		client_req(c, ids[k], QR_OP_PUT, QR_LEVEL_ONE, KEY, "B");
		durable(c);
		CU_ASSERT_EQUAL(reply_status(ids[k]), 0);
	}
	client_req(c, ids[4], QR_OP_PUT, QR_LEVEL_ONE, KEY, "E");
	durable(c);
	uint64_t logged = h.appended[c];
	uint64_t dups = qr_core_stats(h.core[c])->client_duplicates;
	client_req(c, ids[0], QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "A"); /* dup */
	CU_ASSERT_EQUAL(h.appended[c], logged);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->client_duplicates, dups + 1);
	teardown();
}

/* Request ids that differ only in their high bits (a counter above a fixed
 * thread number) still spread over the dedupe sets: the eighth write does
 * not evict the first, whose duplicate is recognised. With the set taken
 * from the low bits alone all eight would share one set of 4 ways. */
static void test_dedup_high_bit_req_ids_spread(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	for (uint64_t k = 1; k <= 8; k++) {
		client_req(c, k << 32 | 7, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "h");
		settle();
		CU_ASSERT_EQUAL(reply_status(k << 32 | 7), 0);
	}
	uint64_t logged = h.appended[c];
	uint64_t dups = qr_core_stats(h.core[c])->client_duplicates;
	client_req(c, 1ull << 32 | 7, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "h");
	settle();
	CU_ASSERT_EQUAL(h.appended[c], logged); /* not applied again */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->client_duplicates, dups + 1);
	teardown();
}

static void client_put_with_token_by(int node, uint64_t req_id, uint64_t tok,
				     uint32_t deadline_us)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = { .cluster_id = CLUSTER,
				   .src_node = QR_NODE_CLIENT,
				   .dst_node = (uint16_t)node };
	struct qr_msg m = { .type = QR_MSG_CLIENT_REQ,
			    .req_id = req_id,
			    .op = QR_OP_PUT,
			    .level = QR_LEVEL_QUORUM,
			    .min_version = tok,
			    .deadline_us = deadline_us,
			    .key = (const uint8_t *)KEY,
			    .key_len = (uint8_t)strlen(KEY),
			    .value = (const uint8_t *)"t",
			    .value_len = 1 };
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	qr_core_on_frame(h.core[node], 99, buf, qr_wire_frame_end(&w));
	flush_all();
}

static void client_put_with_token(int node, uint64_t req_id, uint64_t tok)
{
	client_put_with_token_by(node, req_id, tok, 0);
}

/* W6 (review finding): a write whose deadline comes before its second
 * timeout is resent to every missing replica at its first, evidence or
 * not; else one lost frame would make it UNAVAILABLE unsent. */
static void test_retransmit_before_a_short_deadline(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int b = (c + 1) % N, d = (c + 2) % N;
	h.cut[c][b] = h.cut[c][d] = true;
	client_put_with_token_by(c, 1, 0, 2500); /* rto_us_min 1000 */
	deliver_all();
	h.cut[c][b] = h.cut[c][d] = false; /* the first copies were lost */
	advance(1500);			   /* the first timeout only */
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	CU_ASSERT(qr_core_stats(h.core[c])->retransmits >= 2);
	teardown();
}

/* Regression (review finding 3): a client token 499 ms ahead must not drag
 * the coordinator's HLC to where peers (5 ms behind) refuse its frames; a
 * token within a lease is honoured (the write is stamped above it). The
 * 499 ms token needs a wait longer than the 50 ms deadline: refused at
 * once, CLOCK_AHEAD, never stamped below it (issue 13 bug 1). */
static void test_regression_client_token_cannot_cut_node_off(void)
{
	setup();
	int c = coordinator_of(KEY);
	for (int i = 0; i < N; i++)
		if (i != c)
			h.skew_ms[i] = -5;
	warm();
	uint64_t wall = 1700000000000ull + h.now_us / 1000;
	uint64_t hints0 = qr_core_stats(h.core[c])->hints_created;
	client_put_with_token(c, 77, QR_HLC_MAKE(wall + 499, 0));
	settle();
	/* Refused before stamping: nothing applied anywhere, no hint. */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->hints_created, hints0);
	for (int i = 0; i < N; i++) {
		struct qr_store_view v;
		CU_ASSERT_FALSE(stored(i, KEY, &v));
	}
	advance(60000);
	uint64_t clock_drops = 0;
	for (int i = 0; i < N; i++)
		if (i != c)
			clock_drops += qr_core_stats(h.core[i])->drops[QR_DROP_CLOCK];
	CU_ASSERT_EQUAL(reply_status(77), QR_ECLOCK);
	CU_ASSERT_EQUAL(clock_drops, 0);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->tokens_ignored, 1);
	/* A token 20 ms ahead (within the 100 ms lease) is honoured. */
	wall = 1700000000000ull + h.now_us / 1000;
	uint64_t tok = QR_HLC_MAKE(wall + 20, 0);
	client_put_with_token(c, 78, tok);
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(78), 0);
	CU_ASSERT(find_reply(78)->version.hlc > tok);
	teardown();
}

/* Regression (issue 13 bug 1): a session's write whose token is 250 ms
 * ahead of the coordinator's wall clock (clocks 100-400 ms apart are
 * allowed) used to be stamped below the token and answered OK, hidden for
 * good behind the session's older write. It waits, unstamped and unsent,
 * until the wall clock is within a lease of the token, then is stamped
 * above it; peers never see a frame too far ahead. */
static void test_regression_write_stamped_above_its_token(void)
{
	setup();
	int c = coordinator_of(KEY);
	warm();
	uint64_t wall = 1700000000000ull + h.now_us / 1000;
	uint64_t tok = QR_HLC_MAKE(wall + 250, 7);
	client_put_with_token_by(c, 80, tok, 400000);
	settle();
	advance(100000); /* 100 ms: the wall clock is still > a lease behind */
	CU_ASSERT_EQUAL(reply_status(80), 1); /* waiting */
	struct qr_store_view v;
	for (int i = 0; i < N; i++) /* nothing stamped, sent or applied */
		CU_ASSERT_FALSE(stored(i, KEY, &v));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->token_write_waits, 1);
	for (int k = 0; k < 40 && reply_status(80) == 1; k++) {
		advance(5000);
		durable_all();
	}
	CU_ASSERT_EQUAL_FATAL(reply_status(80), 0);
	CU_ASSERT(find_reply(80)->version.hlc > tok);
	uint64_t clock_drops = 0;
	for (int i = 0; i < N; i++)
		clock_drops += qr_core_stats(h.core[i])->drops[QR_DROP_CLOCK];
	CU_ASSERT_EQUAL(clock_drops, 0);
	CU_ASSERT(stored(c, KEY, &v) && v.version.hlc > tok);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->tokens_ignored, 0);
	teardown();
}

/* An anti-entropy push (REPLICATE NOACK) of key=value at v, as if from src:
 * puts a version on one replica only, with no coordinator and no hints. */
static void push_to(int dst, int src, const char *key, const char *value,
		    struct qr_version v)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = (uint16_t)src,
				  .dst_node = (uint16_t)dst,
				  .hlc = v.hlc};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = QR_MSGF_NOACK,
		.partition = qr_placement_partition(&h.pl, key, strlen(key)),
		.version = v,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = (uint16_t)strlen(value),
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	peer_frame(dst, buf, qr_wire_frame_end(&w));
	flush_all();
}

/* Anti-entropy: a version only one replica holds (no coordinator tracks
 * it, so no hint exists for it) reaches the other replicas by digest
 * exchange alone, with no read of the key. */
static void test_anti_entropy_converges_without_reads(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	struct qr_version v = {
		QR_HLC_MAKE(1700000000000ull + h.now_us / 1000, 0),
		(uint16_t)((c + 1) % N)};
	push_to(c, (c + 1) % N, KEY, "lonely", v);
	durable(c);
	struct qr_store_view sv;
	CU_ASSERT_FATAL(stored(c, KEY, &sv));
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT_FALSE(stored(i, KEY, &sv));
	/* 64 partitions at one per 10 ms: a full round is 640 ms. */
	for (int k = 0; k < 80; k++) {
		advance(10000);
		durable_all();
	}
	uint64_t mism = 0, hints = 0;
	for (int i = 0; i < N; i++) {
		CU_ASSERT(stored(i, KEY, &sv));
		CU_ASSERT_NSTRING_EQUAL(sv.value, "lonely", 6);
		mism += qr_core_stats(h.core[i])->ae_mismatches;
		hints += qr_core_stats(h.core[i])->hints_created;
	}
	CU_ASSERT(mism >= 1);
	CU_ASSERT_EQUAL(hints, 0);
	teardown();
}

/* Hinted handoff: a replica that missed a write (its link was cut until
 * the request slot was freed) gets it from the coordinator's hint once it
 * is reachable, with no read and before any anti-entropy round could. */
static void test_hinted_handoff_delivers_missed_write(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N;
	h.cut[c][r] = true;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "hinted");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	advance(20000); /* linger over: the slot is freed, a hint kept */
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	CU_ASSERT_EQUAL(st->hint_records[r], 1);
	CU_ASSERT_EQUAL(st->hint_bytes[r], strlen(KEY) + strlen("hinted"));
	CU_ASSERT_EQUAL(qr_core_hints_pending(h.core[c]), 1);
	struct qr_store_view sv;
	CU_ASSERT_FALSE(stored(r, KEY, &sv));
	/* While cut, our closed timestamp for r stays below the write. */
	CU_ASSERT(qr_core_stats(h.core[r])->closed_in[c] <=
		  find_reply(1)->version.hlc);
	h.cut[c][r] = false;
	for (int k = 0; k < 5; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT(stored(r, KEY, &sv));
	CU_ASSERT_NSTRING_EQUAL(sv.value, "hinted", 6);
	CU_ASSERT_EQUAL(st->hint_records[r], 0);
	CU_ASSERT_EQUAL(st->hints_delivered, 1);
	CU_ASSERT_EQUAL(qr_core_hints_pending(h.core[c]), 0);
	/* Delivered: r's watermark passes the write. */
	CU_ASSERT(qr_core_stats(h.core[r])->watermark >
		  find_reply(1)->version.hlc);
	teardown();
}

/* W5: an answered write is not retransmitted, even to a replica that is up
 * and reachable again; its linger ends with a hint for the silent replica,
 * and the hint replay delivers the write. */
static void test_answered_write_not_retransmitted_silent_replica_hinted(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N;
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits, hints0 = st->hints_created;
	h.cut[c][r] = true; /* r misses the REPLICATE */
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "late");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	h.cut[c][r] = false; /* r is reachable again, and up */
	advance(3000);	     /* past the RTO (1 ms), within the linger (4) */
	struct qr_store_view sv;
	CU_ASSERT_EQUAL(st->retransmits, rtx0);
	CU_ASSERT_FALSE(stored(r, KEY, &sv)); /* nothing was resent */
	CU_ASSERT_EQUAL(st->hints_created, hints0);
	advance(2000); /* linger over: the slot is freed, r hinted */
	CU_ASSERT_EQUAL(st->hints_created, hints0 + 1);
	CU_ASSERT_EQUAL(st->hint_records[r], 1);
	for (int k = 0; k < 5; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT(stored(r, KEY, &sv));
	CU_ASSERT_NSTRING_EQUAL(sv.value, "late", 4);
	CU_ASSERT_EQUAL(st->hint_records[r], 0);
	CU_ASSERT_EQUAL(st->retransmits, rtx0);
	teardown();
}

/* D4: an answered read resends no READ to the replica that did not answer
 * (it was only wanted for background repair). */
static void test_answered_read_not_retransmitted(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "v");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), 0);
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	uint64_t rtx0 = st->retransmits;
	uint64_t served0 = qr_core_stats(h.core[r])->reads_served;
	h.cut[c][r] = true; /* r never sees the READ */
	client_req(c, 2, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	h.cut[c][r] = false;
	advance(5000); /* past the RTO (1 ms) and the linger (4 ms) */
	CU_ASSERT_EQUAL(st->retransmits, rtx0);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->reads_served, served0);
	teardown();
}

/* O4: replies to one client in one burst share a frame; replies to two
 * clients never do. */
static void test_client_replies_coalesced_per_client(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	h.client_frames = 0;
	for (uint64_t i = 1; i <= 3; i++)
		client_req_from(98, c, i, QR_OP_PUT, QR_LEVEL_QUORUM, KEY,
				"v", false);
	client_req_from(97, c, 4, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "w", false);
	settle();
	CU_ASSERT_EQUAL_FATAL(h.nreplies, 4);
	for (int i = 0; i < 4; i++) {
		const struct reply *r = &h.replies[i];
		CU_ASSERT_EQUAL(r->status, 0);
		CU_ASSERT_EQUAL(r->client, r->req_id == 4 ? 97u : 98u);
	}
	CU_ASSERT_EQUAL(h.client_frames, 2); /* one per client */
	CU_ASSERT_EQUAL(find_reply(1)->frame, find_reply(3)->frame);
	CU_ASSERT_NOT_EQUAL(find_reply(1)->frame, find_reply(4)->frame);
	/* More open clients than frames: the oldest is sent early. */
	h.client_frames = 0;
	h.nreplies = 0;
	for (uint64_t i = 0; i < 20; i++)
		client_req_from(200 + i, c, 100 + i, QR_OP_PUT,
				QR_LEVEL_QUORUM, KEY, "x", false);
	settle();
	CU_ASSERT_EQUAL(h.nreplies, 20);
	CU_ASSERT_EQUAL(h.client_frames, 20);
	for (int i = 0; i < h.nreplies; i++)
		CU_ASSERT_EQUAL(h.replies[i].client,
				200 + (h.replies[i].req_id - 100));
	teardown();
}

static void client_get_token(int node, uint64_t req_id, uint8_t level,
			     uint64_t tok, uint8_t flags, uint32_t deadline_us)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = QR_NODE_CLIENT,
				  .dst_node = (uint16_t)node};
	struct qr_msg m = {.type = QR_MSG_CLIENT_REQ,
			   .flags = flags,
			   .req_id = req_id,
			   .op = QR_OP_GET,
			   .level = level,
			   .deadline_us = deadline_us,
			   .min_version = tok,
			   .key = (const uint8_t *)KEY,
			   .key_len = (uint8_t)strlen(KEY)};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	qr_core_on_frame(h.core[node], 99, buf, qr_wire_frame_end(&w));
	flush_all();
}

/* Session tokens: a ONE write only its coordinator holds; a ONE read with
 * that session's token elsewhere must not answer older data: STALE (error
 * mode), and once the replicas catch up it is served, waiting if asked. */
static void test_token_read_never_goes_back(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N;
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "old");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	advance(30000); /* heartbeats: watermarks pass the old write */
	/* Without a token, or with the old one, a ONE read at r is served. */
	client_get_token(r, 2, QR_LEVEL_ONE, find_reply(1)->version.hlc,
			 QR_MSGF_STALE_ERROR, 0);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	CU_ASSERT(find_reply(2)->value_len == 3);
	cut_links_from(c);
	client_req(c, 3, QR_OP_PUT, QR_LEVEL_ONE, KEY, "mine");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(3), 0);
	uint64_t tok = find_reply(3)->version.hlc;
	/* Error mode: STALE, never "old". */
	client_get_token(r, 4, QR_LEVEL_ONE, tok, QR_MSGF_STALE_ERROR, 40000);
	advance(45000);
	CU_ASSERT_EQUAL(reply_status(4), QR_ESTALE);
	CU_ASSERT(qr_core_stats(h.core[r])->stale_answers >= 1);
	/* Quorum mode: a quorum answers, none is current: still STALE. */
	client_get_token(r, 5, QR_LEVEL_ONE, tok, QR_MSGF_STALE_QUORUM, 30000);
	advance(35000);
	CU_ASSERT_EQUAL(reply_status(5), QR_ESTALE);
	/* Wait mode across the heal: answered "mine" once caught up. */
	client_get_token(r, 6, QR_LEVEL_ONE, tok, 0, 400000);
	advance(20000);
	CU_ASSERT_EQUAL(reply_status(6), 1); /* still waiting */
	memset(h.cut, 0, sizeof(h.cut));
	for (int k = 0; k < 30 && reply_status(6) == 1; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL(reply_status(6), 0);
	const struct reply *rp = find_reply(6);
	CU_ASSERT_FATAL(rp != NULL);
	CU_ASSERT(rp->value_len == 4 && !memcmp(rp->value, "mine", 4));
	CU_ASSERT(qr_core_stats(h.core[r])->token_waits >= 1);
	teardown();
}

/* Restart node c: a new core, its WAL replayed (nothing but its last lsn:
 * the test WAL keeps no records), so it has a past but no floor. */
static void restart_node(int c)
{
	qr_core_destroy(h.core[c]);
	node_create(c, 2);
	qr_core_recovered(h.core[c], h.appended[c]);
}

/* Restart node c replaying its newest durable clock record (the HLC
 * ceiling and closed floor), as a real WAL would. */
static void restart_node_replaying_clock(int c)
{
	qr_core_destroy(h.core[c]);
	node_create(c, 3);
	if (h.clock_durable[c].lsn)
		CU_ASSERT_EQUAL(
			qr_core_recover(h.core[c], &h.clock_durable[c]), 0);
	qr_core_recovered(h.core[c], h.appended[c]);
	h.clock_last[c] = h.clock_durable[c];
}

/* Issue 13 bug 6, a lost disk (recover.c RB1-RB2): a node restarted with
 * an empty WAL and cfg.rebuild answers no READ (nor PREPARE, ACCEPT) and
 * claims nothing until every node handed it off every version; then it
 * holds the key written before its disk died and answers again. Without
 * the rule (--init alone) it answered a QUORUM read at once from an empty
 * store: NOT_FOUND for an acknowledged QUORUM write. */
static void test_rebuild_after_lost_disk_answers_no_read_until_filled(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N, o = (c + 2) % N;
	/* A QUORUM write that c misses (cut from o): on o and r. */
	h.cut[o][c] = h.cut[c][o] = true;
	client_req(o, 1, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "alice");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	/* r's disk dies: a new core on an empty WAL, started to rebuild. */
	qr_core_destroy(h.core[r]);
	setup_rebuild = true;
	node_create(r, 5);
	setup_rebuild = false;
	h.appended[r] = 0;
	qr_core_recovered(h.core[r], 0);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->rebuilding, 1);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->watermark, 0);
	/* A QUORUM read coordinated by c, o still cut off: c and r would
	 * answer NOT_FOUND for the acknowledged write; r is not counted. */
	client_req(c, 2, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	for (int k = 0; k < 8; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_NOT_EQUAL(reply_status(2), QR_ENOTFOUND);
	CU_ASSERT_NOT_EQUAL(reply_status(2), 0);
	CU_ASSERT(qr_core_stats(h.core[r])->drops[QR_DROP_REBUILDING] > 0);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->rebuilding, 1);
	/* Links back: the others hand it every version, then it serves. */
	memset(h.cut, 0, sizeof(h.cut));
	for (int k = 0; k < 10; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL_FATAL(qr_core_stats(h.core[r])->rebuilding, 0);
	struct qr_store_view v;
	CU_ASSERT(stored(r, KEY, &v) && v.value_len == 5 &&
		  !memcmp(v.value, "alice", 5));
	client_req(r, 3, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(3), 0);
	teardown();
}

/* Regression (issue 13 bug 3): a node whose HLC a peer's clock pushed
 * 300 ms ahead of its own (allowed: max_offset is 500) claimed closed
 * timestamps up to that HLC, far above the durable ceiling of the
 * versions it stamped; peers keep a node's highest claim across its
 * restarts, and after a fast restart (the peer's clock corrected) it
 * stamped new writes below those claims: a replica could then serve a
 * session's token read without the session's write. Claims now stay under
 * the durable ceiling, which recovery raises the HLC to (S4). */
static void test_regression_claims_stay_below_writes_after_restart(void)
{
	setup();
	int c = coordinator_of(KEY);
	int p = (c + 1) % N, r = (c + 2) % N;
	warm();
	h.skew_ms[p] = 300;
	for (int k = 0; k < 10; k++) {
		advance(10000);
		durable_all();
	}
	uint64_t claimed = 0;
	for (int i = 0; i < N; i++)
		if (i != c)
			claimed = QR_MAX(claimed,
					 qr_core_stats(h.core[i])->closed_in[c]);
	uint64_t wall = 1700000000000ull + h.now_us / 1000;
	CU_ASSERT(QR_HLC_MS(claimed) > wall + 150); /* pushed by p's clock */
	h.skew_ms[p] = 0; /* p's clock corrected */
	restart_node_replaying_clock(c);
	client_req(c, 90, QR_OP_PUT, QR_LEVEL_ONE, KEY, "after");
	for (int k = 0; k < 5 && reply_status(90) == 1; k++)
		settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(90), 0);
	CU_ASSERT(find_reply(90)->version.hlc > claimed);
	/* r's claim for c never went back (S2), and stays true. */
	CU_ASSERT(qr_core_stats(h.core[r])->closed_in[c] <=
		  find_reply(90)->version.hlc);
	teardown();
}

/* Records a snapshot would hold: copies, since the core's buffers move. */
struct snap_copy {
	int n;
	struct qr_wal_record rec[8];
	uint8_t key[8][QR_KEY_BYTES_MAX];
	uint8_t val[8][QR_VALUE_INLINE_MAX];
};

static int snap_copy_rec(void *arg, const struct qr_wal_record *r)
{
	struct snap_copy *s = arg;
	CU_ASSERT_FATAL(s->n < 8);
	s->rec[s->n] = *r;
	memcpy(s->key[s->n], r->key, r->key_len);
	memcpy(s->val[s->n], r->value, r->value_len);
	s->rec[s->n].key = s->key[s->n];
	s->rec[s->n].value = s->val[s->n];
	s->n++;
	return 0;
}

/* Regression (issue 13 bug 5), the core's half (tests/wal has the WAL's):
 * a write only its coordinator holds, with hints for the two replicas it
 * missed. A snapshot's source takes the hints from the core; a node
 * restarted from that snapshot alone (its log below it deleted, its
 * store lost here on purpose: the hints are the only copy, as for an ANY
 * write acknowledged on them) delivers the write to both replicas. */
static void test_regression_snapshot_carries_hints(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	cut_links_from(c);
	for (int i = 0; i < N; i++)
		h.cut[i][c] = true;
	client_req(c, 60, QR_OP_PUT, QR_LEVEL_ONE, KEY, "hinted");
	for (int k = 0; k < 10; k++) {
		durable(c);
		advance(10000);
	}
	CU_ASSERT_EQUAL_FATAL(reply_status(60), 0);
	struct qr_version v = find_reply(60)->version;
	struct snap_copy snap = {0};
	for (uint32_t p = 0; p < h.pl.partitions; p++)
		CU_ASSERT_EQUAL(qr_core_snapshot_hints(h.core[c], p,
						       snap_copy_rec, &snap),
				0);
	CU_ASSERT_EQUAL_FATAL(snap.n, 2);
	for (int k = 0; k < snap.n; k++) {
		CU_ASSERT_EQUAL(snap.rec[k].type, QR_WAL_HINT);
		CU_ASSERT_NOT_EQUAL(snap.rec[k].aux, c);
		CU_ASSERT_EQUAL(qr_version_cmp(snap.rec[k].version, v), 0);
	}
	qr_core_destroy(h.core[c]);
	node_create(c, 4);
	for (int k = 0; k < snap.n; k++)
		CU_ASSERT_EQUAL(qr_core_recover(h.core[c], &snap.rec[k]), 0);
	qr_core_recovered(h.core[c], h.appended[c]);
	memset(h.cut, 0, sizeof(h.cut));
	for (int k = 0; k < 10; k++) {
		advance(10000);
		durable_all();
	}
	struct qr_store_view sv;
	for (int i = 0; i < N; i++) {
		if (i == c)
			continue;
		CU_ASSERT_FATAL(stored(i, KEY, &sv));
		CU_ASSERT_EQUAL(qr_version_cmp(sv.version, v), 0);
	}
	CU_ASSERT(qr_core_stats(h.core[c])->hints_delivered >= 2);
	teardown();
}

/* A restarted coordinator holds its closed timestamps at the floor it
 * logged until every node has handed its writes off (ORPHAN_REQ/DONE). */
static void test_restart_holds_closed_timestamps_until_handoff(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	advance(30000);
	uint64_t before = qr_core_stats(h.core[(c + 1) % N])->closed_in[c];
	CU_ASSERT(before > 0);
	restart_node(c);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 1);
	/* Others cannot answer: c's closed timestamps stay low. */
	for (int i = 0; i < N; i++)
		if (i != c)
			h.cut[i][c] = true;
	advance(30000);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 1);
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT(qr_core_stats(h.core[i])->closed_in[c] <=
				  before);
	memset(h.cut, 0, sizeof(h.cut));
	for (int k = 0; k < 6; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 0);
	/* The others held a write c stamped (warm-N): handed back to c. */
	uint64_t handed = 0;
	for (int i = 0; i < N; i++)
		handed += qr_core_stats(h.core[i])->hints_delivered;
	CU_ASSERT(handed >= 1);
	advance(20000);
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT(qr_core_stats(h.core[i])->closed_in[c] >
				  before);
	teardown();
}

/* Review finding: a REPLICATE a node sent before its restart, still in
 * flight after its hand-off asked the others, is not applied (no hand-off
 * would cover the copy); its writes after the restart are. */
static void test_old_incarnation_write_dropped_after_handoff(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N;
	uint64_t old_hlc = QR_HLC_MAKE(1700000000000ull + h.now_us / 1000 - 5, 0);
	restart_node(c);
	for (int k = 0; k < 6; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL_FATAL(qr_core_stats(h.core[c])->orphan_active, 0);
	uint64_t stale0 = qr_core_stats(h.core[r])->drops[QR_DROP_STALE_REPLY];
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = (uint16_t)c,
				  .dst_node = (uint16_t)r,
				  .hlc = qr_core_hlc(h.core[c])->last};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.op_id = 77,
		.partition = qr_placement_partition(&h.pl, KEY, strlen(KEY)),
		.version = {old_hlc, (uint16_t)c},
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = (const uint8_t *)"ghost",
		.value_len = 5,
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	peer_frame(r, buf, qr_wire_frame_end(&w));
	settle();
	struct qr_store_view sv;
	CU_ASSERT_FALSE(stored(r, KEY, &sv));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->drops[QR_DROP_STALE_REPLY],
			stale0 + 1);
	/* A write c stamps now goes through. */
	client_req(c, 5, QR_OP_PUT, QR_LEVEL_ALL, KEY, "fresh");
	settle();
	CU_ASSERT_EQUAL(reply_status(5), 0);
	CU_ASSERT(stored(r, KEY, &sv));
	teardown();
}

/* Review finding: a hand-off that needs more hint slots than there are
 * must still finish (it resumes partition by partition as hints drain). */
static void test_handoff_larger_than_hint_slots_finishes(void)
{
	setup_hints_max = 8;
	setup();
	warm();
	int c = coordinator_of(KEY);
	char key[16];
	for (int k = 0; k < 12; k++) {
		snprintf(key, sizeof(key), "many-%d", k);
		client_req(c, 100 + (uint64_t)k, QR_OP_PUT, QR_LEVEL_ALL, key,
			   "v");
		settle();
		CU_ASSERT_EQUAL(reply_status(100 + (uint64_t)k), 0);
	}
	restart_node(c); /* no clock record replayed: floor 0, all of them */
	for (int k = 0; k < 200 && qr_core_stats(h.core[c])->orphan_active;
	     k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 0);
	uint64_t created = 0;
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(qr_core_hints_pending(h.core[i]), 0);
		created += qr_core_stats(h.core[i])->hints_created;
	}
	/* 13 entries stamped by c (12 + warm), 2 other replicas each, held
	 * by 2 nodes plus c itself: about 13 x 2 x 3, not thousands. */
	CU_ASSERT(created <= 13 * 2 * 3 * 2);
	teardown();
	setup_hints_max = 0;
}


static uint64_t collected_total(void)
{
	uint64_t n = 0;
	for (int i = 0; i < N; i++)
		n += qr_core_stats(h.core[i])->tombstones_collected;
	return n;
}

/* Let ms pass with every WAL made durable every 10 ms. */
static void run_ms(uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 10) {
		advance(10000);
		durable_all();
	}
}

/* Tombstone GC (docs/protocol.md): a delete's tombstone outlives the grace
 * while one replica lacks it (that replica still holds the older value,
 * which collection would let come back), and is collected everywhere once
 * anti-entropy has given it to every replica; the old value never
 * returns. */
static void test_tombstone_collected_only_when_every_replica_holds_it(void)
{
	setup_grace_ms = 300;
	setup();
	warm();
	int c = coordinator_of(KEY);
	int r = (c + 1) % N; /* the replica that misses the delete */
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "old");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	for (int i = 0; i < N; i++)
		h.cut[i][r] = h.cut[r][i] = i != r;
	client_req(c, 2, QR_OP_DELETE, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(2), 0);
	run_ms(1200); /* four graces: only r's absence holds it back */
	struct qr_store_view v;
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(stored(i, KEY, &v));
		CU_ASSERT_EQUAL(v.tombstone, i != r);
	}
	CU_ASSERT_EQUAL(collected_total(), 0);
	memset(h.cut, 0, sizeof(h.cut));
	run_ms(3000);
	for (int i = 0; i < N; i++)
		CU_ASSERT_FALSE(stored(i, KEY, &v)); /* gone, not "old" */
	CU_ASSERT(collected_total() >= N);
	uint64_t before = collected_total();
	run_ms(1500); /* no ping-pong: nothing comes back to collect */
	CU_ASSERT_EQUAL(collected_total(), before);
	for (int i = 0; i < N; i++)
		CU_ASSERT_FALSE(stored(i, KEY, &v));
	client_req(c, 3, QR_OP_GET, QR_LEVEL_ALL, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(3), QR_ENOTFOUND);
	/* A straggling REPLICATE of the old value (older than the grace) for
	 * the collected key is refused: applying it would resurrect "old". */
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer fw;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = (uint16_t)c,
		.dst_node = (uint16_t)r,
	};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.op_id = 12345,
		.partition = qr_placement_partition(&h.pl, KEY, strlen(KEY)),
		.version = find_reply(1)->version,
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = (const uint8_t *)"old",
		.value_len = 3,
	};
	qr_wire_frame_begin(&fw, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&fw, &m) == 0);
	size_t len = qr_wire_frame_end(&fw);
	peer_frame(r, buf, len);
	settle();
	CU_ASSERT_FALSE(stored(r, KEY, &v));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[r])->drops[QR_DROP_EXPIRED], 1);
	teardown();
	setup_grace_ms = 0;
}

/* `quorate repair`: with the schedule off, qr_core_ae_request() alone
 * runs a pass that brings a write to the replicas it missed. */
static void test_ae_request_runs_a_pass(void)
{
	setup_ae_interval_us = 1000000000; /* the schedule never fires */
	setup();
	warm();
	int c = coordinator_of(KEY);
	/* A version on c alone, that no hint tracks (a push, as from a
	 * replica that has since lost it). */
	struct qr_version pv = {
		QR_HLC_MAKE(1700000000000ull + h.now_us / 1000, 0),
		(uint16_t)((c + 1) % N)};
	push_to(c, (c + 1) % N, KEY, "fixme", pv);
	durable(c);
	run_ms(200);
	struct qr_store_view v;
	int have = 0;
	for (int i = 0; i < N; i++)
		have += stored(i, KEY, &v);
	CU_ASSERT_EQUAL(have, 1); /* no schedule, no read: still alone */
	qr_core_ae_request(h.core[c]);
	run_ms(50);
	for (int i = 0; i < N; i++) {
		CU_ASSERT(stored(i, KEY, &v));
		CU_ASSERT_NSTRING_EQUAL(v.value, "fixme", 5);
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->ae_passes, 1);
	teardown();
	setup_ae_interval_us = 0;
}

static void test_recover_rebuilds_store_and_raises_hlc(void)
{
	setup();
	/* 400 ms ahead of our wall clock (within max_offset: recover.c V4
	 * refuses a version further ahead than that, such as the 1.8e12 ms
	 * this test used before issue 12). */
	struct qr_wal_record rec = {
		.lsn = 5,
		.type = QR_WAL_PUT,
		.partition = qr_placement_partition(&h.pl, KEY, strlen(KEY)),
		.version = {.hlc = QR_HLC_MAKE(1700000000000ull + 400, 3), .node = 1},
		.key = KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = "recovered",
		.value_len = 9,
	};
	CU_ASSERT_EQUAL(qr_core_recover(h.core[0], &rec), 0);
	struct qr_store_view v;
	CU_ASSERT(stored(0, KEY, &v));
	CU_ASSERT_NSTRING_EQUAL(v.value, "recovered", 9);
	CU_ASSERT_EQUAL(qr_core_durable_lsn(h.core[0]), 5);
	CU_ASSERT_EQUAL(qr_core_last_lsn(h.core[0]), 5);
	CU_ASSERT(qr_core_hlc(h.core[0])->last >= rec.version.hlc);
	teardown();
}

/* ---- CASPaxos (linearizable ops) ---------------------------------------- */

static void cas_req(int node, uint64_t req_id, uint8_t op, const char *key,
		    const char *value, struct qr_version expected)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = QR_NODE_CLIENT,
		.dst_node = (uint16_t)node,
	};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = req_id,
		.op = op,
		.level = QR_LEVEL_QUORUM,
		.expected = expected,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = value ? (uint16_t)strlen(value) : 0,
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	size_t len = qr_wire_frame_end(&w);
	qr_core_on_frame(h.core[node], 99, buf, len);
	flush_all();
}

static void test_cas_put_if_absent_promises_durable_one_winner(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t before[N];
	for (int i = 0; i < N; i++)
		before[i] = h.appended[i];
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "alice", QR_VERSION_NONE);
	deliver_all();
	/* Every acceptor logged its promise; none is durable: no PROMISE
	 * went out, so no accept and no answer. */
	for (int i = 0; i < N; i++)
		CU_ASSERT(h.appended[i] >= before[i] + 1);
	for (int i = 0; i < N; i++) {
		struct qr_store_view v;
		CU_ASSERT(!stored(i, KEY, &v));
	}
	CU_ASSERT_PTR_NULL(find_reply(1));
	settle();
	const struct reply *r = find_reply(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	struct qr_version won = r->version;
	CU_ASSERT_EQUAL(won.node, c);
	/* The accepted state is the store entry, at version = ballot. */
	struct qr_store_view v;
	CU_ASSERT_FATAL(stored(c, KEY, &v));
	CU_ASSERT_EQUAL(qr_version_cmp(v.version, won), 0);
	CU_ASSERT_NSTRING_EQUAL(v.value, "alice", 5);
	/* A second registration, from another coordinator, loses and learns
	 * the winner's version (a quiet key: no new version). */
	int d = (c + 1) % N;
	cas_req(d, 2, QR_OP_PUT_IF_ABSENT, KEY, "bob", QR_VERSION_NONE);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_version_cmp(find_reply(2)->version, won), 0);
	/* The winner's request again (same client, same id): the same OK,
	 * not a failed precondition against its own write. */
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "alice", QR_VERSION_NONE);
	settle();
	CU_ASSERT_EQUAL(count_replies(1), 2);
	CU_ASSERT_EQUAL(h.replies[h.nreplies - 1].status, 0);
	CU_ASSERT_EQUAL(
		qr_version_cmp(h.replies[h.nreplies - 1].version, won), 0);
	/* Compare-and-set: the current version wins once. */
	cas_req(d, 3, QR_OP_PUT_IF_VERSION, KEY, "carol", won);
	settle();
	CU_ASSERT_EQUAL(reply_status(3), 0);
	struct qr_version v3 = find_reply(3)->version;
	CU_ASSERT(qr_version_cmp(v3, won) > 0);
	cas_req(c, 4, QR_OP_DELETE_IF_VERSION, KEY, NULL, won);
	settle();
	CU_ASSERT_EQUAL(reply_status(4), QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_version_cmp(find_reply(4)->version, v3), 0);
	cas_req(c, 5, QR_OP_LIN_GET, KEY, NULL, QR_VERSION_NONE);
	settle();
	r = find_reply(5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(r->value_len == 5 && !memcmp(r->value, "carol", 5));
	teardown();
}

static void test_cas_minority_answers_unavailable(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	cut_links_from(c); /* both ways: c alone, a minority of one */
	for (int i = 0; i < N; i++)
		h.cut[i][c] = true;
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "alone", QR_VERSION_NONE);
	advance(1500000); /* past the default deadline */
	CU_ASSERT_EQUAL(reply_status(1), QR_EUNAVAILABLE);
	/* Its peers are DOWN now: the next one fails fast. */
	cas_req(c, 2, QR_OP_LIN_GET, KEY, NULL, QR_VERSION_NONE);
	CU_ASSERT_EQUAL(reply_status(2), QR_EUNAVAILABLE);
	teardown();
}

/* A PREPARE of ballot b for KEY, as if from proposer src, to dst. */
static void prepare_to(int dst, int src, struct qr_version b)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = (uint16_t)src,
				  .dst_node = (uint16_t)dst,
				  .hlc = b.hlc};
	struct qr_msg m = {
		.type = QR_MSG_PREPARE,
		.op_id = 1,
		.partition = qr_placement_partition(&h.pl, KEY, strlen(KEY)),
		.version = b,
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	peer_frame(dst, buf, qr_wire_frame_end(&w));
	flush_all();
}

/* Regression (issue 13 bug 2a): the ballot is stamped at PREPARE; the
 * closed timestamps counted CAS ops only in ACCEPT, so heartbeats sent
 * during the prepare round trip claimed past the ballot that the accept
 * then writes. Claims stay at or below the ballot from PREPARE on. */
static void test_regression_cas_prepare_holds_claims(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	advance(30000);
	/* The ballot's ms: at most our wall clock now (the HLC follows it). */
	uint64_t before = QR_HLC_MAKE(
		QR_MAX(1700000000000ull + h.now_us / 1000,
		       QR_HLC_MS(qr_core_hlc(h.core[c])->last)),
		0);
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "mine", QR_VERSION_NONE);
	/* Promises are logged, never durable: the op stays in PREPARE while
	 * heartbeats go round for 30 ms. */
	advance(30000);
	CU_ASSERT_EQUAL(reply_status(1), 1);
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT(QR_HLC_MS(qr_core_stats(h.core[i])
						    ->closed_in[c]) <=
				  QR_HLC_MS(before) + 1);
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT(qr_core_stats(h.core[i])->closed_in[c] <=
				  find_reply(1)->version.hlc);
	teardown();
}

/* Regression (issue 13 bug 2b): an accept that one acceptor took and the
 * others refused (they promised a higher ballot meanwhile) fell back to
 * BACKOFF with no hint; when the op then ended UNAVAILABLE, claims passed
 * a ballot only one replica held. The refused accept leaves hints (X4),
 * which hold the claims for their targets and deliver the state. */
static void test_regression_cas_refused_accept_leaves_hints(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t hints0 = qr_core_stats(h.core[c])->hints_created;
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "mine", QR_VERSION_NONE);
	deliver_all();
	durable_all(); /* PROMISEs leave (queued, not delivered yet) */
	/* Another proposer's higher ballot reaches both peers first. */
	struct qr_version high = {qr_core_hlc(h.core[c])->last +
					  ((uint64_t)5 << 16),
				  (uint16_t)((c + 1) % N)};
	for (int i = 0; i < N; i++)
		if (i != c)
			prepare_to(i, (i + 1) % N == c ? (i + 2) % N
						       : (i + 1) % N,
				   high);
	deliver_all(); /* c decides, its ACCEPT is refused by both peers */
	CU_ASSERT_EQUAL(reply_status(1), 1);
	CU_ASSERT(qr_core_stats(h.core[c])->hints_created >= hints0 + 2);
	/* c is cut off until past the deadline: UNAVAILABLE. */
	cut_links_from(c);
	for (int i = 0; i < N; i++)
		h.cut[i][c] = true;
	advance(1100000);
	durable_all();
	CU_ASSERT_EQUAL(reply_status(1), QR_EUNAVAILABLE);
	/* While its hints wait, c claims no more than the ballot it holds. */
	struct qr_store_view v;
	CU_ASSERT_FATAL(stored(c, KEY, &v));
	struct qr_version ballot = v.version;
	memset(h.cut, 0, sizeof(h.cut));
	for (int i = 0; i < N; i++)
		if (i != c)
			CU_ASSERT(qr_core_stats(h.core[i])->closed_in[c] <=
				  ballot.hlc);
	/* Healed: the hints deliver the state to both peers. */
	for (int k = 0; k < 20; k++) {
		advance(10000);
		durable_all();
	}
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(stored(i, KEY, &v));
		CU_ASSERT(qr_version_cmp(v.version, ballot) >= 0);
	}
	teardown();
}

/* Deliver the queued frames addressed to dst only; the others stay
 * queued, in order, ahead of what the delivery queues. */
static void deliver_to(int dst)
{
	static struct qframe batch[QMAX], keep[QMAX];
	flush_all();
	int n = h.qlen, nk = 0;
	memcpy(batch, h.q, sizeof(batch[0]) * (size_t)n);
	h.qlen = 0;
	for (int i = 0; i < n; i++)
		if (batch[i].dst == dst)
			qr_core_on_frame(h.core[dst], 0, batch[i].data,
					 batch[i].len);
		else
			keep[nk++] = batch[i];
	flush_all();
	CU_ASSERT_FATAL(nk + h.qlen <= QMAX);
	memmove(h.q + nk, h.q, sizeof(h.q[0]) * (size_t)h.qlen);
	memcpy(h.q, keep, sizeof(keep[0]) * (size_t)nk);
	h.qlen += nk;
}

/* Time passes, timers fire; nothing is delivered. */
static void tick_only(uint64_t us)
{
	uint64_t end = h.now_us + us;
	while (h.now_us < end) {
		h.now_us += QR_MIN(100, end - h.now_us);
		for (int i = 0; i < N; i++)
			qr_core_tick(h.core[i]);
	}
	flush_all();
}

/* Regression (issue 13 bug 4), built step by step: round 1 of a
 * put-if-absent accepts its value V at b1 on the coordinator's acceptor
 * only; round 2 (promises from the two peers, which hold nothing) applies
 * the change again and accepts V at b2 on one peer only; the op ends
 * UNAVAILABLE. Its retry's quorum shows V@b1 (the coordinator's acceptor
 * and the third node): that is its own state, so it must answer OK.
 * Forgetting the first accepted ballot (the mutation
 * cas-forget-first-accept) answers PRECONDITION_FAILED against its own
 * write: for put-if-version loops a double apply. Hints wait (a long
 * hint_delay), so the acceptors stay as the rounds left them. */
static void test_regression_cas_retry_sees_its_first_accept(void)
{
	setup_hint_delay_us = 10000000;
	setup_ae_interval_us = 10000000; /* no anti-entropy pushes either */
	setup();
	setup_hint_delay_us = setup_ae_interval_us = 0;
	warm();
	int c = coordinator_of(KEY), a = (c + 1) % N, b = (c + 2) % N;
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "mine", QR_VERSION_NONE);
	deliver_all();
	durable_all(); /* round 1's PROMISEs queued */
	struct qr_version high1 = {qr_core_hlc(h.core[c])->last +
					   ((uint64_t)5 << 16),
				   (uint16_t)a};
	prepare_to(a, b, high1);
	prepare_to(b, a, high1);
	deliver_all(); /* V@b1 accepted by c only; a and b refuse: BACKOFF */
	durable_all();
	deliver_all();
	struct qr_store_view v;
	CU_ASSERT_FATAL(stored(c, KEY, &v));
	struct qr_version b1 = v.version;
	CU_ASSERT(!stored(a, KEY, &v) && !stored(b, KEY, &v));
	/* Round 2: its PREPARE goes out on the backoff timer. */
	tick_only(3000);
	deliver_to(a);
	deliver_to(b);
	durable(a);
	durable(b);
	/* c's own acceptor promises a higher ballot first: it refuses c's
	 * round-2 ACCEPT (c's own PROMISE is not durable yet, so the
	 * quorum that decides is a and b, which hold nothing). */
	struct qr_version high2 = {qr_core_hlc(h.core[c])->last +
					   ((uint64_t)10 << 16),
				   (uint16_t)b};
	prepare_to(c, b, high2);
	for (int i = 0; i < N; i++)
		h.cut[c][i] = i == b; /* the ACCEPT does not reach b */
	deliver_to(c); /* decide: ACCEPT V@b2; c refuses: BACKOFF */
	deliver_to(a); /* a accepts V@b2 */
	durable_all();
	CU_ASSERT_FATAL(stored(a, KEY, &v));
	struct qr_version b2 = v.version;
	CU_ASSERT(qr_version_cmp(b2, b1) > 0);
	CU_ASSERT_FATAL(stored(c, KEY, &v));
	CU_ASSERT_EQUAL(qr_version_cmp(v.version, b1), 0);
	/* c cut off until the deadline: UNAVAILABLE. */
	h.qlen = 0;
	for (int i = 0; i < N; i++)
		h.cut[c][i] = h.cut[i][c] = true;
	for (int k = 0; k < 60; k++) {
		tick_only(1000);
		durable(c);
		h.qlen = 0;
	}
	CU_ASSERT_EQUAL(reply_status(1), QR_EUNAVAILABLE);
	/* The retry: its quorum is c (V@b1) and b (nothing). */
	h.nreplies = 0;
	memset(h.cut, 0, sizeof(h.cut));
	for (int i = 0; i < N; i++)
		h.cut[a][i] = h.cut[i][a] = true; /* a (V@b2) is away */
	advance(30000); /* c hears b again; anti-entropy may copy V@b1 */
	CU_ASSERT(!stored(b, KEY, &v) || qr_version_cmp(v.version, b1) == 0);
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "mine", QR_VERSION_NONE);
	for (int k = 0; k < 10; k++) {
		deliver_all();
		durable_all();
	}
	CU_ASSERT_EQUAL(reply_status(1), 0);
	teardown();
}

/* A promise replayed from the WAL still binds the acceptor: a proposer
 * below it is refused, retries above it, and then succeeds. */
static void test_cas_recovered_promise_refuses_lower_ballots(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t ahead = qr_hlc_now((struct qr_hlc *)qr_core_hlc(h.core[c])) +
			 ((uint64_t)20 << 16); /* 20 ms ahead */
	for (int i = 0; i < N; i++) {
		struct qr_wal_record rec = {
			.lsn = 0,
			.type = QR_WAL_PROMISE,
			.partition = qr_placement_partition(&h.pl, KEY,
							    strlen(KEY)),
			.version = {ahead, (uint16_t)((c + 1) % N)},
			.key = KEY,
			.key_len = (uint8_t)strlen(KEY),
		};
		if (i != c)
			CU_ASSERT_EQUAL(qr_core_recover(h.core[i], &rec), 0);
	}
	uint64_t rejects = 0;
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "v", QR_VERSION_NONE);
	for (int k = 0; k < 200 && reply_status(1) == 1; k++) {
		settle();
		advance(500);
	}
	for (int i = 0; i < N; i++)
		rejects += qr_core_stats(h.core[i])->cas_rejects;
	CU_ASSERT(rejects >= 2);
	CU_ASSERT_EQUAL(reply_status(1), 0);
	CU_ASSERT(find_reply(1)->version.hlc > ahead);
	CU_ASSERT(qr_core_stats(h.core[c])->cas_rounds >= 2);
	teardown();
}

/* An anti-entropy push (a REPLICATE NOACK from a peer) of `value` at v. */
static void ae_push(int from, int to, const char *key, const char *value,
		    struct qr_version v)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = (uint16_t)from,
		.dst_node = (uint16_t)to,
		.hlc = qr_core_hlc(h.core[from])->last,
	};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.flags = QR_MSGF_NOACK,
		.partition = qr_placement_partition(&h.pl, key, strlen(key)),
		.version = v,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = (uint16_t)strlen(value),
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	size_t len = qr_wire_frame_end(&w);
	peer_frame(to, buf, len);
	flush_all();
}

/*
 * A linearizable read on a quiet key answers from a unanimous quorum with
 * no accept (the version stays). But a state that anti-entropy installed
 * below the acceptors' promises is not chosen even when every replica
 * shows it: the read must accept it again (new version), not take the
 * shortcut (docs/protocol.md, "Unsure states").
 */
static void test_cas_read_shortcut_not_on_states_installed_below_a_promise(
	void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	cas_req(c, 1, QR_OP_PUT_IF_ABSENT, KEY, "x1", QR_VERSION_NONE);
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	struct qr_version v1 = find_reply(1)->version;
	/* quiet key: the read takes the shortcut, the version stays */
	cas_req(c, 2, QR_OP_LIN_GET, KEY, NULL, QR_VERSION_NONE);
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(2), 0);
	CU_ASSERT_EQUAL(qr_version_cmp(find_reply(2)->version, v1), 0);
	/* Every acceptor promised read 2's ballot (> v1). A push of a state
	 * between v1 and that ballot reaches all three. */
	struct qr_version v0 = {v1.hlc + 1, v1.node};
	for (int i = 0; i < N; i++)
		ae_push((i + 1) % N, i, KEY, "x0", v0);
	for (int i = 0; i < N; i++) {
		struct qr_store_view v;
		CU_ASSERT_FATAL(stored(i, KEY, &v));
		CU_ASSERT_EQUAL(qr_version_cmp(v.version, v0), 0);
	}
	cas_req(c, 3, QR_OP_LIN_GET, KEY, NULL, QR_VERSION_NONE);
	settle();
	const struct reply *r = find_reply(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(r->value_len == 2 && !memcmp(r->value, "x0", 2));
	CU_ASSERT(qr_version_cmp(r->version, v0) > 0); /* accepted again */
	teardown();
}

/* ---- authenticated frames (issue 12, item 1) ----------------------------- */

/* A frame from node src to node dst holding m, its header HLC fresh. */
static size_t auth_frame(uint8_t *buf, int src, int dst, const struct qr_msg *m)
{
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {
		.cluster_id = CLUSTER,
		.src_node = (uint16_t)src,
		.dst_node = (uint16_t)dst,
		.hlc = QR_HLC_MAKE(1700000000000ull + h.now_us / 1000, 0),
	};
	qr_wire_frame_begin(&w, buf, QR_FRAME_BYTES_MAX - QR_AUTH_TRAILER_BYTES,
			    &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, m) == 0);
	size_t len = qr_wire_frame_end(&w);
	qr_wire_frame_set_hlc(buf, hd.hlc);
	return len;
}

/* What someone without the cluster secret can send: a trailer with a key
 * id we hold, a new sequence number and a made-up tag. */
static size_t auth_forge(uint8_t *buf, size_t len)
{
	uint8_t *t = buf + len;
	memset(t, 0, QR_AUTH_TRAILER_BYTES);
	t[0] = 1;			   /* key id 1: the test secret's */
	t[12] = 1;			   /* seq 2^32: ahead of the window */
	memset(t + 16, 0x5a, QR_AUTH_TAG_BYTES); /* guessed tag */
	return len + QR_AUTH_TRAILER_BYTES;
}

struct auth_snap {
	uint64_t msgs_in, drops[QR_DROP_COUNT];
	uint64_t authentic; /* env->authentic calls (ARP learns on them) */
	bool found;
	struct qr_store_view v;
	uint8_t value[QR_VALUE_INLINE_MAX];
};

static void auth_snap(int node, struct auth_snap *a)
{
	const struct qr_core_stats *st = qr_core_stats(h.core[node]);
	a->msgs_in = st->msgs_in;
	a->authentic = h.authentic[node];
	memcpy(a->drops, st->drops, sizeof(a->drops));
	a->found = stored(node, KEY, &a->v);
	if (a->found)
		memcpy(a->value, a->v.value, a->v.value_len);
}

/* Since a: exactly one drop, for reason why, no message decoded, the key's
 * entry (version and value) unchanged. */
static void auth_assert_dropped(int node, const struct auth_snap *a,
				enum qr_core_drop why)
{
	const struct qr_core_stats *st = qr_core_stats(h.core[node]);
	for (int d = 0; d < QR_DROP_COUNT; d++)
		CU_ASSERT_EQUAL(st->drops[d], a->drops[d] + (d == (int)why));
	CU_ASSERT_EQUAL(st->msgs_in, a->msgs_in);
	/* Issue 12 item 4: a forged frame teaches the driver nothing (the
	 * shard learns ARP only in env->authentic). */
	CU_ASSERT_EQUAL(h.authentic[node], a->authentic);
	struct qr_store_view v;
	bool found = stored(node, KEY, &v);
	CU_ASSERT_EQUAL(found, a->found);
	if (found && a->found) {
		CU_ASSERT_EQUAL(qr_version_cmp(v.version, a->v.version), 0);
		CU_ASSERT_EQUAL(v.value_len, a->v.value_len);
		CU_ASSERT(!memcmp(v.value, a->value, v.value_len));
		CU_ASSERT_EQUAL(v.tombstone, a->v.tombstone);
	}
}

/*
 * Every attack of issue 12 that needs a forged peer frame, one message type
 * at a time: a frame with a made-up tag, the same frame signed but with a
 * key id nobody holds, then from another cluster, are dropped, counted by
 * reason, decode nothing and leave the store as it was. The frame signed
 * with the sender's key is then processed (msgs_in moves, and `valid`
 * checks its effect); played back once more, it is dropped as a replay.
 */
static void auth_attack(const struct qr_msg *m, int src, int dst,
			void (*valid)(int dst, const struct auth_snap *before))
{
	uint8_t buf[QR_FRAME_BYTES_MAX], copy[QR_FRAME_BYTES_MAX];
	struct auth_snap a;
	/* 1. forged: no key */
	size_t len = auth_frame(buf, src, dst, m);
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, auth_forge(buf, len));
	auth_assert_dropped(dst, &a, QR_DROP_BAD_MAC);
	/* 2. a real tag, one bit flipped in the messages it covers */
	len = auth_frame(buf, src, dst, m);
	size_t sealed = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
				     sizeof(buf));
	CU_ASSERT_FATAL(sealed == len + QR_AUTH_TRAILER_BYTES);
	buf[QR_FRAME_HDR_BYTES + 5] ^= 0x01;
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, sealed);
	auth_assert_dropped(dst, &a, QR_DROP_BAD_MAC);
	/* 3. wrong key id (a key retired, or never ours) */
	len = auth_frame(buf, src, dst, m);
	sealed = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
			      sizeof(buf));
	buf[len] = 9;
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, sealed);
	auth_assert_dropped(dst, &a, QR_DROP_BAD_KEY_ID);
	/* 4. wrong cluster */
	len = auth_frame(buf, src, dst, m);
	buf[4] ^= 0x40;
	sealed = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
			      sizeof(buf));
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, sealed);
	auth_assert_dropped(dst, &a, QR_DROP_CLUSTER);
	/* 5. the same frame, signed: processed */
	len = auth_frame(buf, src, dst, m);
	sealed = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
			      sizeof(buf));
	memcpy(copy, buf, sealed);
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, sealed);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[dst])->msgs_in, a.msgs_in + 1);
	CU_ASSERT_EQUAL(h.authentic[dst], a.authentic + 1);
	if (valid)
		valid(dst, &a);
	deliver_all();
	/* 6. played back: a replay */
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, copy, sealed);
	auth_assert_dropped(dst, &a, QR_DROP_REPLAY);
}

static struct qr_version auth_version; /* what the valid REPLICATE wrote */

static void auth_replicate_applied(int dst, const struct auth_snap *before)
{
	(void)before;
	struct qr_store_view v;
	CU_ASSERT_FATAL(stored(dst, KEY, &v));
	CU_ASSERT_EQUAL(qr_version_cmp(v.version, auth_version), 0);
}

static void auth_heartbeat_claimed(int dst, const struct auth_snap *before)
{
	(void)before;
	CU_ASSERT(qr_core_stats(h.core[dst])->closed_in[(dst + 1) % N] != 0);
}

static void auth_digest_answered(int dst, const struct auth_snap *before)
{
	(void)before;
	CU_ASSERT(qr_core_stats(h.core[dst])->ae_mismatches >= 1);
}

static void auth_ack_processed(int dst, const struct auth_snap *before)
{
	/* No request has this op_id: counted as a stale reply, i.e. read. */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[dst])->drops[QR_DROP_STALE_REPLY],
			before->drops[QR_DROP_STALE_REPLY] + 1);
}

static void test_auth_forged_frames_dropped_signed_ones_work(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "keep");
	settle();
	int dst = (c + 1) % N, src = (dst + 1) % N;
	uint32_t part = qr_placement_partition(&h.pl, KEY, strlen(KEY));
	uint64_t now = QR_HLC_MAKE(1700000000000ull + h.now_us / 1000, 7);
	/* A forged write (issue 12: pins a key with a future version). */
	struct qr_store_view kv;
	CU_ASSERT_FATAL(stored(dst, KEY, &kv));
	auth_version = (struct qr_version){kv.version.hlc + QR_HLC_MAKE(1, 0),
					   (uint16_t)src};
	struct qr_msg m = {
		.type = QR_MSG_REPLICATE,
		.op_id = 77,
		.partition = part,
		.version = auth_version,
		.key = (const uint8_t *)KEY,
		.key_len = (uint8_t)strlen(KEY),
		.value = (const uint8_t *)"evil",
		.value_len = 4,
	};
	auth_attack(&m, src, dst, auth_replicate_applied);
	/* A forged delete (tombstone). */
	m.flags = QR_MSGF_TOMBSTONE;
	m.value_len = 0;
	m.value = NULL;
	auth_version.hlc++;
	m.version = auth_version;
	m.op_id = 78;
	auth_attack(&m, src, dst, auth_replicate_applied);
	/* ORPHAN_REQ with restart_hlc = max (cuts a node off). */
	struct qr_msg o = {.type = QR_MSG_ORPHAN_REQ,
			   .range_from = now,
			   .range_to = now,
			   .restart_hlc = now};
	auth_attack(&o, src, dst, NULL);
	/* HEARTBEAT with a closed timestamp (breaks read-your-writes). */
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT, .closed_ts = 1};
	auth_attack(&hb, src, dst, auth_heartbeat_claimed);
	/* DIGEST (amplification: answered with a partition's entries). */
	struct qr_msg d = {.type = QR_MSG_DIGEST,
			   .partition = part,
			   .entries = 3,
			   .digest = 12345};
	auth_attack(&d, src, dst, auth_digest_answered);
	/* REPLICATE_ACK (fake acknowledgements). */
	struct qr_msg ack = {.type = QR_MSG_REPLICATE_ACK,
			     .op_id = 0x1234,
			     .partition = part,
			     .version = auth_version};
	auth_attack(&ack, src, c, auth_ack_processed);
	/* The node still serves. */
	client_req(c, 2, QR_OP_GET, QR_LEVEL_QUORUM, KEY, NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), QR_ENOTFOUND);
	teardown();
}

/* A frame captured before the receiver restarted (its replay window lost)
 * is refused once older than max_offset_ms: the window restarts only on a
 * fresh frame. A fresh one restarts it. */
static void test_auth_old_frame_refused_after_receiver_restart(void)
{
	setup();
	warm();
	int dst = 0, src = 1;
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT, .closed_ts = 1};
	uint8_t old[QR_FRAME_BYTES_MAX], buf[QR_FRAME_BYTES_MAX];
	size_t len = auth_frame(old, src, dst, &hb);
	size_t sealed = qr_core_seal(h.core[src], (uint16_t)dst, old, len,
				     sizeof(old));
	advance(2000000); /* 2 s: well past max_offset_ms */
	restart_node(dst);
	struct auth_snap a;
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, old, sealed);
	auth_assert_dropped(dst, &a, QR_DROP_REPLAY);
	len = auth_frame(buf, src, dst, &hb);
	sealed = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
			      sizeof(buf));
	auth_snap(dst, &a);
	qr_core_on_frame(h.core[dst], 0, buf, sealed);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[dst])->msgs_in, a.msgs_in + 1);
	CU_ASSERT_EQUAL(h.authentic[dst], a.authentic + 1);
	teardown();
}

/* A key roll: a receiver holding the old and the new key accepts frames
 * signed with either; a sender moves to the new key with no gap. */
static void test_auth_two_keys_accepted_during_a_roll(void)
{
	setup();
	warm();
	struct qr_secret both, next;
	qr_secret_for_tests(&both);
	both.count = 2;
	both.id[1] = 2;
	memset(both.key[1], 0x3c, sizeof(both.key[1]));
	next = both; /* the new key first: it signs */
	next.id[0] = 2, next.id[1] = 1;
	memcpy(next.key[0], both.key[1], sizeof(next.key[0]));
	memcpy(next.key[1], both.key[0], sizeof(next.key[1]));
	/* Node 0 accepts both; node 1 signs with the new one. */
	qr_core_destroy(h.core[0]);
	test_secret_override = &both;
	node_create(0, 3);
	qr_core_recovered(h.core[0], h.appended[0]);
	qr_core_destroy(h.core[1]);
	test_secret_override = &next;
	node_create(1, 3);
	qr_core_recovered(h.core[1], h.appended[1]);
	test_secret_override = NULL;
	struct qr_msg hb = {.type = QR_MSG_HEARTBEAT, .closed_ts = 1};
	uint8_t buf[QR_FRAME_BYTES_MAX];
	size_t len = auth_frame(buf, 1, 0, &hb);
	size_t sealed = qr_core_seal(h.core[1], 0, buf, len, sizeof(buf));
	CU_ASSERT_EQUAL(buf[len], 2); /* signed with key id 2 */
	struct auth_snap a;
	auth_snap(0, &a);
	qr_core_on_frame(h.core[0], 0, buf, sealed);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[0])->msgs_in, a.msgs_in + 1);
	/* Node 2 still holds only key 1: node 1's frames are unknown to it. */
	len = auth_frame(buf, 1, 2, &hb);
	sealed = qr_core_seal(h.core[1], 2, buf, len, sizeof(buf));
	auth_snap(2, &a);
	qr_core_on_frame(h.core[2], 0, buf, sealed);
	auth_assert_dropped(2, &a, QR_DROP_BAD_KEY_ID);
	/* Node 0 still signs with key 1, which node 2 holds. */
	len = auth_frame(buf, 0, 2, &hb);
	sealed = qr_core_seal(h.core[0], 2, buf, len, sizeof(buf));
	CU_ASSERT_EQUAL(buf[len], 1);
	auth_snap(2, &a);
	qr_core_on_frame(h.core[2], 0, buf, sealed);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[2])->msgs_in, a.msgs_in + 1);
	teardown();
}

/* Issue 12, item 3: a version, ballot, claim or range more than max_offset
 * ahead of the receiver's clock is refused wherever it would be stored or
 * believed, even in a correctly signed frame (a peer's bug or a stolen
 * key): REPLICATE (write, repair, hint), ACCEPT / PREPARE ballots,
 * HEARTBEAT claims and ORPHAN_REQ ranges. Each is counted as FUTURE and
 * changes nothing. */
static void test_far_future_versions_refused(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ALL, KEY, "keep");
	settle();
	int dst = (c + 1) % N, src = (dst + 1) % N;
	uint32_t part = qr_placement_partition(&h.pl, KEY, strlen(KEY));
	uint64_t far = QR_HLC_MAKE(1700000000000ull + h.now_us / 1000 +
					   86400000ull, 0);
	struct qr_msg ms[] = {
		{.type = QR_MSG_REPLICATE, .op_id = 5, .partition = part,
		 .version = {far, (uint16_t)src},
		 .key = (const uint8_t *)KEY, .key_len = (uint8_t)strlen(KEY),
		 .value = (const uint8_t *)"pin", .value_len = 3},
		{.type = QR_MSG_REPLICATE, .op_id = 6, .partition = part,
		 .flags = QR_MSGF_REPAIR | QR_MSGF_TOMBSTONE,
		 .version = {far, (uint16_t)src},
		 .key = (const uint8_t *)KEY, .key_len = (uint8_t)strlen(KEY)},
		{.type = QR_MSG_ACCEPT, .op_id = 7, .partition = part,
		 .version = {far, (uint16_t)src},
		 .key = (const uint8_t *)KEY, .key_len = (uint8_t)strlen(KEY),
		 .value = (const uint8_t *)"pin", .value_len = 3},
		{.type = QR_MSG_PREPARE, .op_id = 8, .partition = part,
		 .version = {far, (uint16_t)src},
		 .key = (const uint8_t *)KEY, .key_len = (uint8_t)strlen(KEY)},
		{.type = QR_MSG_HEARTBEAT, .closed_ts = UINT64_MAX},
		{.type = QR_MSG_ORPHAN_REQ, .range_from = 1,
		 .range_to = UINT64_MAX, .restart_hlc = UINT64_MAX},
	};
	uint64_t closed = qr_core_stats(h.core[dst])->closed_in[src];
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint8_t buf[QR_FRAME_BYTES_MAX];
		size_t len = auth_frame(buf, src, dst, &ms[i]);
		len = qr_core_seal(h.core[src], (uint16_t)dst, buf, len,
				   sizeof(buf));
		struct auth_snap a;
		auth_snap(dst, &a);
		qr_core_on_frame(h.core[dst], 0, buf, len);
		const struct qr_core_stats *st = qr_core_stats(h.core[dst]);
		CU_ASSERT_EQUAL(st->drops[QR_DROP_FUTURE],
				a.drops[QR_DROP_FUTURE] + 1);
		struct qr_store_view v;
		CU_ASSERT_FATAL(stored(dst, KEY, &v));
		CU_ASSERT_EQUAL(qr_version_cmp(v.version, a.v.version), 0);
		CU_ASSERT_NSTRING_EQUAL(v.value, "keep", 4);
		deliver_all();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[dst])->closed_in[src], closed);
	/* The HLC did not move toward any of them. */
	CU_ASSERT(QR_HLC_MS(qr_core_hlc(h.core[dst])->last) <
		  1700000000000ull + h.now_us / 1000 + 500);
	/* And a write through the node still works. */
	client_req(dst, 2, QR_OP_PUT, QR_LEVEL_ALL, KEY, "next");
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	teardown();
}

/* A client token within the lease with logical 0xffff would make the
 * coordinator's HLC overflow and busy-wait (issue 12, item 3). hlc.c
 * refuses it; the write is not stamped below it (W4, issue 13 bug 1):
 * it waits, unstamped, for the wall clock to pass the token, then is
 * stamped above it. */
static void test_token_overflow_ignored_not_waited(void)
{
	setup();
	warm();
	int c = coordinator_of(KEY);
	uint64_t ign = qr_core_stats(h.core[c])->tokens_ignored;
	uint64_t waits = qr_core_hlc(h.core[c])->overflow_waits;
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = QR_NODE_CLIENT};
	struct qr_msg m = {.type = QR_MSG_CLIENT_REQ, .req_id = 9,
			   .op = QR_OP_PUT, .level = QR_LEVEL_ONE,
			   .min_version = QR_HLC_MAKE(1700000000000ull +
							      h.now_us / 1000 +
							      20, 0xffff),
			   .key = (const uint8_t *)KEY,
			   .key_len = (uint8_t)strlen(KEY),
			   .value = (const uint8_t *)"v", .value_len = 1};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	qr_core_on_frame(h.core[c], 99, buf, qr_wire_frame_end(&w));
	settle();
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->tokens_ignored, ign);
	CU_ASSERT_EQUAL(qr_core_hlc(h.core[c])->overflow_waits, waits);
	CU_ASSERT_PTR_NULL(find_reply(9)); /* waiting, not stamped */
	advance(30000); /* the harness deadline is 50 ms */
	settle();
	CU_ASSERT_EQUAL(qr_core_hlc(h.core[c])->overflow_waits, waits);
	const struct reply *r = find_reply(9);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(r->version.hlc > m.min_version); /* W4 */
	teardown();
}

/* Regression (issue 12, item 4): a replica logged a write to the WAL and
 * only then found its store full, so recovery hit NO_SPACE and the node
 * could not restart. A new key on a full store is refused before the WAL
 * append: nothing logged, nothing stored, the client hears NO_SPACE, and
 * an existing key is still overwritten. */
static void test_store_full_refused_before_the_wal(void)
{
	setup();
	warm();
	char key[16];
	uint64_t id = 100;
	for (int k = 0; qr_store_count(qr_core_store(h.core[0])) < 64; k++) {
		snprintf(key, sizeof(key), "fill-%d", k);
		client_req(coordinator_of(key), id++, QR_OP_PUT, QR_LEVEL_ALL,
			   key, "v");
		settle();
		CU_ASSERT_FATAL(k < 64);
	}
	for (int n = 0; n < N; n++)
		CU_ASSERT_EQUAL(qr_store_count(qr_core_store(h.core[n])), 64);
	uint64_t logged[N];
	memcpy(logged, h.data_logged, sizeof(logged));
	int c = coordinator_of("one-too-many");
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_QUORUM, "one-too-many", "v");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), QR_ENOSPC);
	for (int n = 0; n < N; n++) {
		struct qr_store_view v;
		CU_ASSERT_FALSE(stored(n, "one-too-many", &v));
		CU_ASSERT_EQUAL(h.data_logged[n], logged[n]);
		CU_ASSERT(qr_core_stats(h.core[n])->drops[QR_DROP_STORE_FULL] >=
			  1);
	}
	/* A key already held is still written. */
	client_req(coordinator_of("fill-0"), 2, QR_OP_PUT, QR_LEVEL_ALL,
		   "fill-0", "new");
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	teardown();
}

/* Issue 12 item 5: a store byte limit (key + value bytes), checked before
 * the WAL append like the key limit: a write that would grow the store
 * past it is refused NO_SPACE and changes nothing; deletes and smaller
 * values still go through. */
static void test_store_bytes_limit_refused_before_the_wal(void)
{
	setup_store_bytes_max = 1500;
	setup();
	setup_store_bytes_max = 0;
	warm();
	char key[16], big[101];
	memset(big, 'x', 100);
	big[100] = 0;
	uint64_t id = 100;
	int k = 0, stored_keys = 0;
	for (;; k++) {
		snprintf(key, sizeof(key), "b-%d", k);
		client_req(coordinator_of(key), id, QR_OP_PUT, QR_LEVEL_ALL,
			   key, big);
		settle();
		if (reply_status(id++) != 0)
			break;
		stored_keys++;
		CU_ASSERT_FATAL(k < 64);
	}
	CU_ASSERT(stored_keys >= 10); /* ~104 bytes each under 1500 */
	CU_ASSERT_EQUAL(reply_status(id - 1), QR_ENOSPC);
	uint64_t logged[N];
	memcpy(logged, h.data_logged, sizeof(logged));
	for (int n = 0; n < N; n++) {
		struct qr_store_view v;
		struct qr_store *st = qr_core_store(h.core[n]);
		CU_ASSERT_FALSE(stored(n, key, &v)); /* the refused one */
		CU_ASSERT(qr_store_bytes(st) <= 1500);
		CU_ASSERT_EQUAL(qr_store_check(st), 0); /* bytes accounted */
		CU_ASSERT(qr_core_stats(h.core[n])->drops[QR_DROP_STORE_FULL] >=
			  1);
	}
	/* A held key growing is refused too, and logs nothing. */
	char grow[200];
	memset(grow, 'y', sizeof(grow) - 1);
	grow[sizeof(grow) - 1] = 0;
	client_req(coordinator_of("b-0"), 1, QR_OP_PUT, QR_LEVEL_QUORUM, "b-0",
		   grow);
	settle();
	CU_ASSERT_EQUAL(reply_status(1), QR_ENOSPC);
	for (int n = 0; n < N; n++)
		CU_ASSERT_EQUAL(h.data_logged[n], logged[n]);
	/* Smaller values and deletes still go through. */
	client_req(coordinator_of("b-1"), 2, QR_OP_PUT, QR_LEVEL_ALL, "b-1",
		   "small");
	client_req(coordinator_of("b-2"), 3, QR_OP_DELETE, QR_LEVEL_ALL, "b-2",
		   NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	CU_ASSERT_EQUAL(reply_status(3), 0);
	for (int n = 0; n < N; n++)
		CU_ASSERT_EQUAL(qr_store_check(qr_core_store(h.core[n])), 0);
	teardown();
}

/* ---- client authentication (issue 12 item 2, auth_client.c) ---------- */

/* Three clients: 1 read-write, 2 read-only, 3 read-write under tenant/. */
static struct qr_client_keys auth_clients;

static void client_keys_setup(void)
{
	memset(&auth_clients, 0, sizeof(auth_clients));
	static const struct {
		uint16_t id;
		uint8_t role;
		const char *prefix;
	} who[3] = {{1, QR_CLIENT_RW, ""},
		    {2, QR_CLIENT_RO, ""},
		    {3, QR_CLIENT_RW, "tenant/"}};
	for (int i = 0; i < 3; i++) {
		struct qr_client_key *k = &auth_clients.k[i];
		k->id = who[i].id;
		k->role = who[i].role;
		k->prefix_len = (uint8_t)strlen(who[i].prefix);
		memcpy(k->prefix, who[i].prefix, k->prefix_len);
		for (int b = 0; b < 32; b++)
			k->key[b] = (uint8_t)(i * 31 + b);
	}
	auth_clients.count = 3;
	test_client_keys = &auth_clients;
	setup();
	test_client_keys = NULL;
	/* warm() as client 1 (read-write). */
	client_signer = qr_auth_client_new(&auth_clients.k[0], CLUSTER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(client_signer);
	warm();
	qr_auth_client_free(client_signer);
	client_signer = NULL;
}

/* A client request frame, signed by a (NULL: unsigned). Its length. */
static size_t client_frame(uint8_t *buf, size_t cap, int node,
			   uint64_t req_id, uint8_t op, const char *key,
			   const char *value, struct qr_auth_client *a)
{
	struct qr_frame_writer w;
	struct qr_frame_hdr hd = {.cluster_id = CLUSTER,
				  .src_node = QR_NODE_CLIENT,
				  .dst_node = (uint16_t)node};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = req_id,
		.op = op,
		.level = QR_LEVEL_QUORUM,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = value ? (uint16_t)strlen(value) : 0,
	};
	qr_wire_frame_begin(&w, buf, cap - QR_AUTH_TRAILER_BYTES, &hd);
	CU_ASSERT_FATAL(qr_wire_put(&w, &m) == 0);
	size_t len = qr_wire_frame_end(&w);
	return a ? qr_auth_client_seal(a, buf, len, cap) : len;
}

/* Send a request of client `id` (signed with its key) to the key's
 * coordinator and run the cluster until it settles. */
static void client_req_as(struct qr_auth_client *a, uint64_t req_id,
			  uint8_t op, const char *key, const char *value)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	int node = coordinator_of(key);
	size_t len = client_frame(buf, sizeof(buf), node, req_id, op, key,
				  value, a);
	qr_core_on_frame(h.core[node], 99, buf, len);
	flush_all();
	settle();
}

static uint64_t drops_all(enum qr_core_drop d)
{
	uint64_t n = 0;
	for (int i = 0; i < N; i++)
		n += qr_core_stats(h.core[i])->drops[d];
	return n;
}

static void test_client_auth_forged_frames_dropped_and_counted(void)
{
	client_keys_setup();
	struct qr_auth_client *rw = qr_auth_client_new(&auth_clients.k[0],
						       CLUSTER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rw);
	uint8_t buf[QR_FRAME_BYTES_MAX];
	int node = coordinator_of(KEY);
	uint64_t authentic_before = h.authentic[node];
	/* 1. Unsigned (today's client): dropped, no answer. */
	size_t len = client_frame(buf, sizeof(buf), node, 1, QR_OP_PUT, KEY,
				  "forged", NULL);
	qr_core_on_frame(h.core[node], 99, buf, len);
	/* 2. Signed by client 1, then a value byte changed on the way. */
	len = client_frame(buf, sizeof(buf), node, 2, QR_OP_PUT, KEY, "v2",
			   rw);
	buf[len - QR_AUTH_TRAILER_BYTES - 1] ^= 1;
	qr_core_on_frame(h.core[node], 99, buf, len);
	/* 3. Client 1's id with a key of our own (the attacker's). */
	struct qr_client_key fake = auth_clients.k[0];
	fake.key[0] ^= 0x55;
	struct qr_auth_client *forger = qr_auth_client_new(&fake, CLUSTER);
	len = client_frame(buf, sizeof(buf), node, 3, QR_OP_PUT, KEY, "v3",
			   forger);
	qr_core_on_frame(h.core[node], 99, buf, len);
	/* 4. A client id the node does not know. */
	fake.id = 9;
	qr_auth_client_free(forger);
	forger = qr_auth_client_new(&fake, CLUSTER);
	len = client_frame(buf, sizeof(buf), node, 4, QR_OP_DELETE, KEY, NULL,
			   forger);
	qr_core_on_frame(h.core[node], 99, buf, len);
	flush_all();
	settle();
	/* 2 and 3 fail the tag; 4 names no known client; 1 is read as if
	 * its last 32 bytes were a trailer: an unknown id or a bad tag. */
	CU_ASSERT(drops_all(QR_DROP_CLIENT_MAC) >= 2);
	CU_ASSERT(drops_all(QR_DROP_CLIENT_KEY) >= 1);
	CU_ASSERT_EQUAL(drops_all(QR_DROP_CLIENT_MAC) +
				drops_all(QR_DROP_CLIENT_KEY),
			4);
	CU_ASSERT_EQUAL(h.authentic[node], authentic_before); /* no ARP */
	for (uint64_t r = 1; r <= 4; r++)
		CU_ASSERT_EQUAL(count_replies(r), 0); /* dropped: silence */
	struct qr_store_view v;
	for (int n = 0; n < N; n++)
		CU_ASSERT_FALSE(stored(n, KEY, &v));
	/* The real client 1 still works. */
	client_req_as(rw, 5, QR_OP_PUT, KEY, "real");
	CU_ASSERT_EQUAL(reply_status(5), 0);
	CU_ASSERT(stored(node, KEY, &v) && v.value_len == 4 &&
		  !memcmp(v.value, "real", 4));
	qr_auth_client_free(forger);
	qr_auth_client_free(rw);
	teardown();
}

static void test_client_auth_read_only_key_unauthorized_on_put(void)
{
	client_keys_setup();
	struct qr_auth_client *rw = qr_auth_client_new(&auth_clients.k[0],
						       CLUSTER);
	struct qr_auth_client *ro = qr_auth_client_new(&auth_clients.k[1],
						       CLUSTER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
	client_req_as(rw, 1, QR_OP_PUT, KEY, "by-rw");
	CU_ASSERT_EQUAL(reply_status(1), 0);
	/* Read-only: every write is answered UNAUTHORIZED (named, not
	 * silence), and changes nothing. */
	client_req_as(ro, 2, QR_OP_PUT, KEY, "by-ro");
	client_req_as(ro, 3, QR_OP_DELETE, KEY, NULL);
	client_req_as(ro, 4, QR_OP_PUT_IF_ABSENT, "fresh", "by-ro");
	CU_ASSERT_EQUAL(reply_status(2), QR_EUNAUTHORIZED);
	CU_ASSERT_EQUAL(reply_status(3), QR_EUNAUTHORIZED);
	CU_ASSERT_EQUAL(reply_status(4), QR_EUNAUTHORIZED);
	struct qr_store_view v;
	for (int n = 0; n < N; n++) {
		CU_ASSERT(stored(n, KEY, &v) && v.value_len == 5 &&
			  !memcmp(v.value, "by-rw", 5) && !v.tombstone);
		CU_ASSERT_FALSE(stored(n, "fresh", &v));
	}
	/* ... and GET is OK. */
	client_req_as(ro, 5, QR_OP_GET, KEY, NULL);
	const struct reply *r = find_reply(5);
	CU_ASSERT(r && r->status == 0 && r->value_len == 5 &&
		  !memcmp(r->value, "by-rw", 5));
	CU_ASSERT_EQUAL(drops_all(QR_DROP_CLIENT_MAC) +
				drops_all(QR_DROP_CLIENT_KEY),
			0);
	qr_auth_client_free(ro);
	qr_auth_client_free(rw);
	teardown();
}

static void test_client_auth_prefix_restriction(void)
{
	client_keys_setup();
	struct qr_auth_client *t = qr_auth_client_new(&auth_clients.k[2],
						      CLUSTER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	client_req_as(t, 1, QR_OP_PUT, "tenant/a", "mine");
	client_req_as(t, 2, QR_OP_GET, "tenant/a", NULL);
	client_req_as(t, 3, QR_OP_PUT, "tenant", "not-mine");  /* shorter */
	client_req_as(t, 4, QR_OP_PUT, "other/a", "not-mine");
	client_req_as(t, 5, QR_OP_GET, "other/a", NULL);
	CU_ASSERT_EQUAL(reply_status(1), 0);
	CU_ASSERT_EQUAL(reply_status(2), 0);
	CU_ASSERT_EQUAL(reply_status(3), QR_EUNAUTHORIZED);
	CU_ASSERT_EQUAL(reply_status(4), QR_EUNAUTHORIZED);
	CU_ASSERT_EQUAL(reply_status(5), QR_EUNAUTHORIZED);
	struct qr_store_view v;
	for (int n = 0; n < N; n++) {
		CU_ASSERT(stored(n, "tenant/a", &v));
		CU_ASSERT_FALSE(stored(n, "tenant", &v));
		CU_ASSERT_FALSE(stored(n, "other/a", &v));
	}
	qr_auth_client_free(t);
	teardown();
}

/* Issue 12 item 4 (A3 in anti_entropy.c): a flood of DIGESTs from one
 * (authenticated) peer makes a node scan and push at most its budget of
 * entries per second; the rest are dropped and counted; the budget
 * refills with time, and another peer's budget is its own. */
/* Issue 13 bug 6: a node whose wall clock jumps beyond max_offset (either
 * way) keeps the jump out of its HLC, stamps and logs nothing that far
 * ahead, refuses clients (CLOCK_AHEAD) meanwhile, and serves again as soon
 * as the clock is back: no cut-off while real time catches up. Before the
 * clock guard the +3 s jump went into the HLC and the ceiling, the ONE
 * write was stamped 3 s ahead, and after the correction the peers refused
 * the node's frames for 3 s (drops.CLOCK). */
static void clock_jump_case(int64_t jump_ms)
{
	setup();
	warm();
	advance(40000); /* every node has heard every other */
	int c = coordinator_of(KEY);
	uint64_t logged = h.data_logged[c];
	h.skew_ms[c] = jump_ms;
	advance(20000);
	uint64_t true_ms = 1700000000000ull + h.now_us / 1000;
	const struct qr_core_stats *st = qr_core_stats(h.core[c]);
	CU_ASSERT_EQUAL(st->clock_jumps, 1);
	CU_ASSERT_EQUAL(st->clock_serving, 0);
	CU_ASSERT(QR_HLC_MS(qr_core_hlc(h.core[c])->last) <= true_ms + 500);
	CU_ASSERT(QR_HLC_MS(h.clock_last[c].version.hlc) <= true_ms + 600);
	client_req(c, 1, QR_OP_PUT, QR_LEVEL_ONE, KEY, "future");
	settle();
	CU_ASSERT_EQUAL(reply_status(1), QR_ECLOCK);
	CU_ASSERT_EQUAL(h.data_logged[c], logged); /* nothing stamped */
	CU_ASSERT(st->clock_refused >= 1);
	/* Its peers still take its frames (its HLC did not move). */
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(qr_core_stats(h.core[i])->drops[QR_DROP_CLOCK],
				0);
	/* The clock is corrected: it serves again at once. */
	h.skew_ms[c] = 0;
	advance(20000);
	CU_ASSERT_EQUAL(st->clock_serving, 1);
	client_req(c, 2, QR_OP_PUT, QR_LEVEL_QUORUM, KEY, "now");
	settle();
	advance(5000);
	CU_ASSERT_EQUAL(reply_status(2), 0);
	const struct reply *r = find_reply(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	true_ms = 1700000000000ull + h.now_us / 1000;
	CU_ASSERT(QR_HLC_MS(r->version.hlc) <= true_ms + 500);
	teardown();
}

static void test_regression_clock_jump_ahead_refused_and_recovers(void)
{
	clock_jump_case(3000);
}

static void test_regression_clock_jump_back_refused_and_recovers(void)
{
	clock_jump_case(-3000);
}

static void test_digest_flood_pushes_at_most_the_budget(void)
{
	setup_ae_entries_per_s = 100;
	setup_ae_interval_us = 1000000000; /* the schedule never fires */
	setup();
	setup_ae_entries_per_s = 0;
	setup_ae_interval_us = 0;
	int dst = 0, src = 1;
	/* 20 keys of one partition, at dst only. */
	uint32_t part = qr_placement_partition(&h.pl, (const uint8_t *)"ae-0",
					       4);
	char key[32];
	int held = 0;
	for (int i = 0; held < 20 && i < 100000; i++) {
		snprintf(key, sizeof(key), "ae-%d", i);
		if (qr_placement_partition(&h.pl, (const uint8_t *)key,
					   strlen(key)) != part)
			continue;
		push_to(dst, 2, key, "v",
			(struct qr_version){
				QR_HLC_MAKE(1700000000000ull, (uint16_t)held),
				2});
		held++;
	}
	CU_ASSERT_FATAL(held == 20);
	h.qlen = 0;
	const struct qr_core_stats *st = qr_core_stats(h.core[dst]);
	uint64_t pushed0 = st->ae_entries_pushed;
	uint64_t drops0 = st->drops[QR_DROP_AE_RATE];
	struct qr_msg d = {.type = QR_MSG_DIGEST,
			   .flags = QR_MSGF_REPLY,
			   .partition = part,
			   .entries = 1,
			   .digest = 12345};
	uint8_t buf[QR_FRAME_BYTES_MAX];
	for (int i = 0; i < 1000; i++) { /* one instant: no refill */
		peer_frame(dst, buf, auth_frame(buf, src, dst, &d));
		flush_all();
		h.qlen = 0;
	}
	/* 1 token a look, 20 a push: 4 pushes from a bucket of 100. */
	uint64_t pushed = st->ae_entries_pushed - pushed0;
	CU_ASSERT(pushed <= 100);
	CU_ASSERT_EQUAL(pushed, 80);
	CU_ASSERT_EQUAL(st->drops[QR_DROP_AE_RATE] - drops0, 1000 - 4);
	/* Another peer has its own budget. */
	peer_frame(dst, buf, auth_frame(buf, 2, dst, &d));
	CU_ASSERT_EQUAL(st->ae_entries_pushed - pushed0, 100);
	/* A second later the bucket is full again. */
	h.now_us += 1000000;
	peer_frame(dst, buf, auth_frame(buf, src, dst, &d));
	CU_ASSERT_EQUAL(st->ae_entries_pushed - pushed0, 120);
	flush_all();
	h.qlen = 0;
	teardown();
}

/* Topology changes (topology.c): node 2 joins a placement of nodes 0 and 1
 * (RF 2). During the change a QUORUM write of a partition node 2 gains
 * needs 3 answers (2 of the old set, 2 of the new, T1): with node 2 cut
 * off it is not acknowledged; once node 2 hears it, it is (T2). A key
 * written before the change reaches node 2 only by the stream, which
 * fills node 2 once both old owners' digests equalled its own (T3); then
 * the new placement alone reads it back at ALL. T5: an epoch that does
 * not grow is refused. */
static void test_topology_join(void)
{
	static struct qr_placement o, nw;
	setup();
	warm();
	CU_ASSERT_FATAL(qr_placement_init_members(&o, 64, 0x3, 2, 1, NULL) == 0);
	CU_ASSERT_FATAL(qr_placement_init_members(&nw, 64, 0x7, 2, 1, NULL) ==
			0);
	char before[32] = "", during[32] = "";
	for (int k = 0; k < 1000 && (!before[0] || !during[0]); k++) {
		char key[32];
		snprintf(key, sizeof(key), "topo:%d", k);
		uint32_t p = qr_placement_partition(&o, key, strlen(key));
		if (qr_placement_replica_index(&nw, p, 2) < 0)
			continue;
		strcpy(before[0] ? during : before, key);
	}
	CU_ASSERT_FATAL(before[0] && during[0]);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[i], 1, &o, NULL),
				      0);
	client_req(0, 1, QR_OP_PUT, QR_LEVEL_QUORUM, before, "old");
	settle();
	CU_ASSERT_EQUAL_FATAL(reply_status(1), 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(
			qr_core_set_topology(h.core[i], 2, &o, &nw), 0);
	CU_ASSERT_EQUAL(qr_core_set_topology(h.core[0], 2, &o, &nw), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_core_epoch(h.core[0]), 2);
	for (int i = 0; i < 2; i++)
		h.cut[i][2] = h.cut[2][i] = true;
	client_req(0, 2, QR_OP_PUT, QR_LEVEL_QUORUM, during, "new");
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 1); /* 2 answers of 3 needed */
	for (int i = 0; i < 2; i++)
		h.cut[i][2] = h.cut[2][i] = false;
	for (int t = 0; t < 10 && reply_status(2) == 1; t++) {
		advance(2000);
		settle();
	}
	CU_ASSERT_EQUAL(reply_status(2), 0);
	struct qr_store_view v;
	CU_ASSERT_NOT_EQUAL(qr_store_get(qr_core_store(h.core[2]),
					 (const uint8_t *)before,
					 (uint8_t)strlen(before), &v),
			    0); /* not streamed yet */
	for (int i = 0; i < N; i++)
		qr_core_stream_begin(h.core[i]);
	CU_ASSERT(qr_core_stream_left(h.core[2]) > 0);
	CU_ASSERT_EQUAL(qr_core_stream_left(h.core[0]), 0); /* gains none */
	for (int t = 0; t < 20 && qr_core_stream_left(h.core[2]); t++) {
		advance(10000);
		settle();
	}
	CU_ASSERT_EQUAL(qr_core_stream_left(h.core[2]), 0);
	CU_ASSERT(qr_core_stats(h.core[2])->stream_matches >= 2);
	CU_ASSERT_EQUAL(qr_store_get(qr_core_store(h.core[2]),
				     (const uint8_t *)before,
				     (uint8_t)strlen(before), &v),
			0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[i], 3, &nw, NULL),
				      0);
	/* What node 2 gained settles once every other owner's digest
	 * equalled its own (scheduled anti-entropy). */
	CU_ASSERT(qr_core_stats(h.core[2])->stream_settling > 0);
	for (int t = 0; t < 400 && qr_core_stats(h.core[2])->stream_settling;
	     t++) {
		advance(10000);
		settle();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[2])->stream_settling, 0);
	client_req(2, 3, QR_OP_GET, QR_LEVEL_ALL, before, NULL);
	settle();
	const struct reply *r = find_reply(3);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(r->value_len == 3 && memcmp(r->value, "old", 3) == 0);
	for (int i = 0; i < N; i++) /* the harness's placement again */
		CU_ASSERT_EQUAL(qr_core_set_topology(h.core[i], 4, &h.pl, NULL),
				0);
	teardown();
	qr_placement_fini(&o);
	qr_placement_fini(&nw);
}

/* QR_OP_TOPOLOGY: any node answers at once with its installed epoch,
 * owners and pending members (libquorate's refresh reads it); a client
 * frame's reply header carries the epoch too. */
static void test_topology_op_answers_the_installed_topology(void)
{
	setup();
	/* A change in progress (its pending placement the same sets: the
	 * harness has 3 nodes at RF 3). */
	CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[1], 7, &h.pl, &h.pl),
			      0);
	client_req(1, 1, QR_OP_TOPOLOGY, QR_LEVEL_ONE, "any", NULL);
	settle();
	const struct reply *r = find_reply(1);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL_FATAL(r->value_len, QR_TOPOLOGY_VALUE_BYTES);
	CU_ASSERT_EQUAL(qr_ld64(r->value), 7);
	CU_ASSERT_EQUAL(qr_ld64(r->value + 8), h.pl.members);
	CU_ASSERT_EQUAL(qr_ld64(r->value + 16), h.pl.members);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[1])->client_ops[QR_OP_TOPOLOGY],
			1);
	CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[1], 8, &h.pl, NULL),
			      0);
	client_req(1, 2, QR_OP_TOPOLOGY, QR_LEVEL_ONE, "any", NULL);
	settle();
	r = find_reply(2);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(qr_ld64(r->value), 8);
	CU_ASSERT_EQUAL(qr_ld64(r->value + 16), 0);
	teardown();
}

/* T6 (topology.c): a node two epochs behind its peers (down while they
 * took a change's steps, restarted with its old topology) is fenced both
 * ways: its write reaches no peer and is not acknowledged, and once it
 * heard a peer it refuses clients; caught up it works again; a lower
 * epoch is fenced once the stream began. */
static void test_topology_epoch_fence(void)
{
	setup();
	warm();
	for (int i = 1; i < N; i++) /* they took two steps, node 0 none */
		CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[i], 2, &h.pl,
							   NULL),
				      0);
	uint64_t before = qr_core_stats(h.core[1])->drops[QR_DROP_EPOCH];
	client_req(0, 1, QR_OP_PUT, QR_LEVEL_QUORUM, "fence", "v1");
	for (int t = 0; t < 5; t++) {
		advance(2000);
		settle();
	}
	CU_ASSERT_NOT_EQUAL(reply_status(1), 0); /* no peer took it */
	CU_ASSERT(qr_core_stats(h.core[1])->drops[QR_DROP_EPOCH] > before);
	CU_ASSERT(qr_core_stats(h.core[0])->drops[QR_DROP_EPOCH] > 0);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[0])->epoch_peer_max, 2);
	/* Knowing it is behind, it takes no client request at all, not
	 * even one its own replica could answer. */
	client_req(0, 4, QR_OP_GET, QR_LEVEL_ONE, "fence", NULL);
	settle();
	CU_ASSERT_EQUAL(reply_status(4), QR_EUNAVAILABLE);
	CU_ASSERT(qr_core_stats(h.core[0])->epoch_refused >= 1);
	/* T7: its peers, settled, told it their topology in the frames it
	 * fences; with no request of its own in flight it is news for its
	 * driver (which installs it, as `quorate node sync` would). */
	uint64_t ne = 0, no = 0;
	CU_ASSERT(qr_core_requests_active(h.core[0]) > 0); /* "fence" v1 */
	CU_ASSERT(!qr_core_topology_news(h.core[0], &ne, &no)); /* so: not */
	for (int t = 0; t < 200 && qr_core_requests_active(h.core[0]); t++) {
		advance(10000); /* until its deadline */
		settle();
	}
	CU_ASSERT_EQUAL(qr_core_requests_active(h.core[0]), 0);
	CU_ASSERT_FATAL(qr_core_topology_news(h.core[0], &ne, &no));
	CU_ASSERT_EQUAL(ne, 2);
	CU_ASSERT_EQUAL(no, h.pl.members);
	CU_ASSERT(qr_core_stats(h.core[1])->news_sent >= 1);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[0])->news_heard, 1);
	/* Caught up: taken, and no news any more. */
	CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[0], 2, &h.pl, NULL),
			      0);
	CU_ASSERT(!qr_core_topology_news(h.core[0], &ne, &no));
	client_req(0, 2, QR_OP_PUT, QR_LEVEL_QUORUM, "fence", "v2");
	settle();
	CU_ASSERT_EQUAL(reply_status(2), 0);
	/* A change whose stream began at nodes 1 and 2: node 0, a step
	 * behind (T1's case before a stream), is fenced again. */
	for (int i = 1; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[i], 3, &h.pl,
							   &h.pl),
				      0);
		qr_core_stream_begin(h.core[i]);
	}
	before = qr_core_stats(h.core[1])->drops[QR_DROP_EPOCH];
	client_req(0, 3, QR_OP_PUT, QR_LEVEL_QUORUM, "fence", "v3");
	for (int t = 0; t < 5; t++) {
		advance(2000);
		settle();
	}
	CU_ASSERT_NOT_EQUAL(reply_status(3), 0);
	CU_ASSERT(qr_core_stats(h.core[1])->drops[QR_DROP_EPOCH] > before);
	/* Mid-change is never news (T7): the command running the change
	 * catches a node up. */
	CU_ASSERT(!qr_core_topology_news(h.core[0], &ne, &no));
	CU_ASSERT_EQUAL(qr_core_stats(h.core[0])->news_heard, 1);
	for (int i = 0; i < N; i++) /* the harness's placement again */
		CU_ASSERT_EQUAL(qr_core_set_topology(h.core[i], 9, &h.pl, NULL),
				0);
	teardown();
}

/* orphan.c P4: a node restarted two epochs behind, whose peers told it
 * so, holds the only copy of a write (taken at ONE before it went down).
 * Its hand-off scans nothing while it is behind (its hints would go to
 * the replica sets of its old topology); caught up, it scans, and the
 * write reaches every replica. */
static void test_handoff_waits_until_caught_up(void)
{
	setup();
	warm();
	int c = 0;
	for (int i = 1; i < N; i++) /* they took two steps, node 0 none */
		CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[i], 2, &h.pl,
							   NULL),
				      0);
	qr_core_destroy(h.core[c]);
	node_create(c, 2);
	const char *key = "alone";
	struct qr_wal_record rec = {
		.lsn = h.appended[c] + 1,
		.type = QR_WAL_PUT,
		.partition = qr_placement_partition(&h.pl, key, strlen(key)),
		.version = {QR_HLC_MAKE(1700000000000ull + h.now_us / 1000 - 5,
					0),
			    (uint16_t)c},
		.key = key,
		.key_len = (uint8_t)strlen(key),
		.value = "only-here",
		.value_len = 9,
	};
	CU_ASSERT_EQUAL_FATAL(qr_core_recover(h.core[c], &rec), 0);
	qr_core_recovered(h.core[c], rec.lsn);
	h.appended[c] = rec.lsn; /* it was in the WAL */
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 1);
	for (int k = 0; k < 5; k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->epoch_peer_max, 2);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 1);
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->hints_created, 0);
	/* Caught up (a peer's news, or `quorate node sync`). */
	CU_ASSERT_EQUAL_FATAL(qr_core_set_topology(h.core[c], 2, &h.pl, NULL),
			      0);
	for (int k = 0; k < 20 && qr_core_stats(h.core[c])->orphan_active;
	     k++) {
		advance(10000);
		durable_all();
	}
	CU_ASSERT_EQUAL(qr_core_stats(h.core[c])->orphan_active, 0);
	CU_ASSERT(qr_core_stats(h.core[c])->hints_created >= 1);
	struct qr_store_view sv;
	for (int i = 0; i < N; i++) {
		if (qr_placement_replica_index(&h.pl, rec.partition,
					       (uint16_t)i) < 0)
			continue;
		CU_ASSERT(stored(i, key, &sv) &&
			  qr_version_cmp(sv.version, rec.version) == 0);
	}
	teardown();
}

int main(void)
{
	if (qr_eal_init_local("test_core", 256) != 0)
		return 1;
#ifdef QR_UNIT_INJECT_BUG
	/* test_core_buggy (tests/unit/meson.build): a regression test on the
	 * core with the mutation it pins; it must fail (should_fail). */
#if QR_UNIT_INJECT_BUG == 7
	static const struct qr_unit_case buggy[] = {
		{"a probe's answer is evidence with probe-no-evidence",
		 test_probe_answer_is_evidence},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_PROBE_NO_EVIDENCE);
#elif QR_UNIT_INJECT_BUG == 6
	static const struct qr_unit_case buggy[] = {
		{"one probe per replica per RTO with probe-unlimited",
		 test_probe_per_replica_per_rto},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_PROBE_UNLIMITED);
#elif QR_UNIT_INJECT_BUG == 5
	static const struct qr_unit_case buggy[] = {
		{"topology: the hand-off waits until caught up with "
		 "orphan-scan-while-behind",
		 test_handoff_waits_until_caught_up},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_ORPHAN_SCAN_WHILE_BEHIND);
#elif QR_UNIT_INJECT_BUG == 4
	static const struct qr_unit_case buggy[] = {
		{"topology: the epoch fence and news with news-while-busy",
		 test_topology_epoch_fence},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_NEWS_WHILE_BUSY);
#elif QR_UNIT_INJECT_BUG == 3
	static const struct qr_unit_case buggy[] = {
		{"topology: the epoch fence with epoch-unfenced",
		 test_topology_epoch_fence},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_EPOCH_UNFENCED);
#elif QR_UNIT_INJECT_BUG == 2
	static const struct qr_unit_case buggy[] = {
		{"retransmits after loss with rto-waits-for-evidence",
		 test_retransmits_after_loss},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_RTO_WAITS_FOR_EVIDENCE);
#else
	static const struct qr_unit_case buggy[] = {
		{"regression (issue 13 bug 4) with cas-forget-first-accept",
		 test_regression_cas_retry_sees_its_first_accept},
		{NULL, NULL},
	};
	qr_bug_only(QR_BUG_BIT_CAS_FORGET_FIRST_ACCEPT);
#endif
	return qr_unit_main("core-buggy", buggy);
#endif
	static const struct qr_unit_case cases[] = {
		{"own replica through the loopback queue",
		 test_own_replica_through_loopback_queue},
		{"quorum write acks only after the WAL",
		 test_quorum_write_acks_only_after_wal},
		{"read returns highest and repairs before answering",
		 test_read_returns_highest_and_repairs_before_answering},
		{"blocking repair waits for a durable quorum",
		 test_blocking_repair_waits_for_quorum},
		{"ALL unavailable when a replica is down, QUORUM works",
		 test_all_unavailable_when_replica_down},
		{"retransmits after loss", test_retransmits_after_loss},
		{"one probe per replica per RTO (W7)",
		 test_probe_per_replica_per_rto},
		{"a probe's answer is evidence (W7)",
		 test_probe_answer_is_evidence},
		{"a probe's answer is evidence an RTO later (W7)",
		 test_probe_evidence_waits_an_rto},
		{"a write's probe_seq is its first probe's (W7)",
		 test_probe_seq_is_the_first_probes},
		{"no probe limit near the deadline (W7)",
		 test_probe_limit_lifted_near_deadline},
		{"retransmit on evidence of loss",
		 test_retransmit_on_evidence_of_loss},
		{"retransmit before a short deadline",
		 test_retransmit_before_a_short_deadline},
		{"replica keeps the newer version",
		 test_replica_keeps_newer_version},
		{"delete leaves a tombstone, reads NOT_FOUND",
		 test_delete_leaves_tombstone_and_reads_not_found},
		{"duplicate client write applied once",
		 test_duplicate_client_write_applied_once},
		{"bad frames dropped and change nothing",
		 test_bad_frames_dropped_and_change_nothing},
		{"clock too far ahead refused",
		 test_clock_too_far_ahead_refused},
		{"read of an undurable entry waits",
		 test_read_of_undurable_entry_waits},
		{"request table full answers BUSY",
		 test_request_table_full_answers_busy},
		{"bad level rejected", test_bad_level_and_wrong_shard_rejected},
		{"write waits for the HLC ceiling",
		 test_write_waits_for_hlc_ceiling},
		{"recovered clock record raises the HLC above the ceiling",
		 test_recover_clock_record_raises_hlc_above_ceiling},
		{"regression (issue 12 item 3): recovery refuses a version "
		 "beyond the ceiling",
		 test_regression_recover_refuses_version_beyond_ceiling},
		{"a node whose WAL refuses writes serves reads, not writes",
		 test_wal_refusing_node_serves_reads_not_writes},
		{"regression: UNAVAILABLE retry then duplicate",
		 test_regression_unavailable_retry_then_duplicate},
		{"regression: dedupe keeps an in-flight entry",
		 test_regression_dedup_keeps_in_flight_entry},
		{"dedupe: req_ids differing in high bits spread over sets",
		 test_dedup_high_bit_req_ids_spread},
		{"regression: a client token cannot cut a node off",
		 test_regression_client_token_cannot_cut_node_off},
		{"regression (issue 13 bug 1): a write is stamped above its "
		 "token",
		 test_regression_write_stamped_above_its_token},
		{"anti-entropy converges without reads",
		 test_anti_entropy_converges_without_reads},
		{"hinted handoff delivers a missed write",
		 test_hinted_handoff_delivers_missed_write},
		{"an answered read is not retransmitted",
		 test_answered_read_not_retransmitted},
		{"client replies coalesced per client",
		 test_client_replies_coalesced_per_client},
		{"an answered write is not retransmitted; the silent replica "
		 "is hinted",
		 test_answered_write_not_retransmitted_silent_replica_hinted},
		{"a token read never goes back: STALE, then served",
		 test_token_read_never_goes_back},
		{"issue 13 bug 6: a node rebuilding after a lost disk answers "
		 "no read until filled",
		 test_rebuild_after_lost_disk_answers_no_read_until_filled},
		{"regression (issue 13 bug 3): claims stay below the writes "
		 "a node stamps after a restart",
		 test_regression_claims_stay_below_writes_after_restart},
		{"regression (issue 13 bug 6): a clock jumped ahead is kept "
		 "out "
		 "of the HLC, refused, and recovers at once",
		 test_regression_clock_jump_ahead_refused_and_recovers},
		{"regression (issue 13 bug 4): a CAS retry sees its first "
		 "accepted ballot",
		 test_regression_cas_retry_sees_its_first_accept},
		{"regression (issue 13 bug 6): a clock jumped back likewise",
		 test_regression_clock_jump_back_refused_and_recovers},
		{"regression (issue 13 bug 5): a snapshot carries the hints",
		 test_regression_snapshot_carries_hints},
		{"restart holds closed timestamps until the hand-off",
		 test_restart_holds_closed_timestamps_until_handoff},
		{"a hand-off larger than the hint slots finishes",
		 test_handoff_larger_than_hint_slots_finishes},
		{"a write from before a restart is dropped after the hand-off",
		 test_old_incarnation_write_dropped_after_handoff},
		{"tombstone collected only when every replica holds it",
		 test_tombstone_collected_only_when_every_replica_holds_it},
		{"ae request runs a pass", test_ae_request_runs_a_pass},
		{"recover rebuilds store and raises HLC",
		 test_recover_rebuilds_store_and_raises_hlc},
		{"CAS: put-if-absent, promises durable first, one winner",
		 test_cas_put_if_absent_promises_durable_one_winner},
		{"CAS: a minority answers UNAVAILABLE",
		 test_cas_minority_answers_unavailable},
		{"regression (issue 13 bug 2a): a CAS ballot holds claims from "
		 "PREPARE",
		 test_regression_cas_prepare_holds_claims},
		{"regression (issue 13 bug 2b): a refused CAS accept leaves "
		 "hints",
		 test_regression_cas_refused_accept_leaves_hints},
		{"CAS: a recovered promise refuses lower ballots",
		 test_cas_recovered_promise_refuses_lower_ballots},
		{"CAS: no read shortcut on states installed below a promise",
		 test_cas_read_shortcut_not_on_states_installed_below_a_promise},
		{"auth: forged frames dropped and counted, signed ones work",
		 test_auth_forged_frames_dropped_signed_ones_work},
		{"auth: an old frame is refused after the receiver restarts",
		 test_auth_old_frame_refused_after_receiver_restart},
		{"auth: two key ids accepted during a roll",
		 test_auth_two_keys_accepted_during_a_roll},
		{"far-future versions, ballots, claims, ranges refused",
		 test_far_future_versions_refused},
		{"a token that would overflow the HLC waits, unstamped, never "
		 "busy",
		 test_token_overflow_ignored_not_waited},
		{"regression: a full store refuses a new key before the WAL",
		 test_store_full_refused_before_the_wal},
		{"a store byte limit refuses growth before the WAL",
		 test_store_bytes_limit_refused_before_the_wal},
		{"client auth: forged client frames dropped and counted",
		 test_client_auth_forged_frames_dropped_and_counted},
		{"client auth: read-only key gets UNAUTHORIZED on PUT, OK on "
		 "GET",
		 test_client_auth_read_only_key_unauthorized_on_put},
		{"client auth: a key prefix restricts reads and writes",
		 test_client_auth_prefix_restriction},
		{"a DIGEST flood from one peer pushes at most the budget",
		 test_digest_flood_pushes_at_most_the_budget},
		{"jumbo peer frames: packed up to peer_frame_bytes, one byte "
		 "more dropped, client frames stay at 1472",
		 test_jumbo_peer_frames},
		{"topology: the TOPOLOGY op answers the installed topology",
		 test_topology_op_answers_the_installed_topology},
		{"topology: a node two epochs behind is fenced (T6) and learns "
		 "its peers' settled topology (T7)",
		 test_topology_epoch_fence},
		{"topology: a restarted node behind hands off once caught up "
		 "(orphan.c P4)",
		 test_handoff_waits_until_caught_up},
		{"topology: a join needs the union, streams, then reads back",
		 test_topology_join},
		{NULL, NULL},
	};
	return qr_unit_main("core", cases);
}
