/* SPDX-License-Identifier: MIT */
/*
 * libquorate and the `quorate` CLI against a fake cluster in this process:
 * three nodes on 127.0.0.1..3 (loopback accepts all of 127/8), each a real
 * qr_core behind a kernel UDP socket, driven by one thread that polls the
 * sockets, feeds frames to the cores, makes every WAL append durable at
 * once, ticks the timers and flushes. Each node also serves a management
 * socket (unix stream) that answers "stat\n" with a JSON object, so the
 * CLI's `stat` can be checked. A node can be muted (it reads and drops
 * everything, and is not ticked) or made to answer with spoofed replies.
 *
 * The CLI is the binary meson built (QUORATE_BIN), run with posix_spawn;
 * its stdout (one JSON object with --json) and exit status are checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/eal_local.h"
#include "client/client_transport.h"
#include "common/cluster.h"
#include "common/crc32c.h"
#include "common/rng.h"
#include "core/auth.h"
#include "core/core.h"
#include "core/reasm.h"
#include "core/wire_long.h"
#include "quorate/client.h"
#include "quorate/err.h"
#include "unit.h"

extern char **environ;

#define N	   3
#define CLUSTER_ID 4242
#define PARTITIONS 256

enum mode { LIVE, MUTE, SPOOF };

struct fake_node {
	uint16_t id;
	int fd;	  /* UDP, 127.0.0.(id+1):port */
	int mgmt; /* unix stream listener */
	struct sockaddr_in addr;
	char mgmt_path[108];
	struct qr_core *core;
	struct qr_rng rng;
	_Atomic int mode;
	atomic_bool drop_next; /* drop the next client datagram (one-shot) */
};

/* Every CLIENT_REQ a node receives from a client (any mode): which node,
 * which req_id, in which datagram. Written by the fake's thread only;
 * entries below `n` are complete. */
#define LOG_MAX 4096
static struct req_log {
	_Atomic unsigned n;
	unsigned datagrams;
	uint16_t node[LOG_MAX];
	unsigned dgram[LOG_MAX];
	uint64_t req_id[LOG_MAX];
} req_log;

static struct fake {
	struct qr_placement pl;
	struct fake_node node[N];
	int spoof_fd; /* 127.0.0.9: a source no client should trust */
	uint16_t port;
	char file[64];
	char keys[64]; /* client key file: 1 rw *, 2 ro *, 3 rw cli- */
	struct qr_client_keys client_keys;
	pthread_t thread;
	atomic_bool stop;
} f;

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

/* Client handle: the client's IPv4 (host order) << 16 | port. */
static uint64_t handle_of(const struct sockaddr_in *sa)
{
	return (uint64_t)ntohl(sa->sin_addr.s_addr) << 16 | ntohs(sa->sin_port);
}

static void env_send(void *ctx, uint16_t dst, uint64_t client,
		     const void *frame, size_t len)
{
	struct fake_node *n = ctx;
	struct sockaddr_in to;
	if (dst == QR_NODE_CLIENT) {
		to = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl((uint32_t)(client >> 16)),
			.sin_port = htons((uint16_t)client),
		};
	} else {
		QR_ASSERT(dst < N);
		to = f.node[dst].addr;
	}
	(void)sendto(n->fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to));
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	(void)ctx;
	(void)rec;
	return 0; /* durable at the end of the batch */
}

static uint64_t env_random(void *ctx)
{
	return qr_rng_next(&((struct fake_node *)ctx)->rng);
}

static int peer_of(const struct sockaddr_in *from)
{
	for (int i = 0; i < N; i++)
		if (from->sin_addr.s_addr == f.node[i].addr.sin_addr.s_addr &&
		    from->sin_port == f.node[i].addr.sin_port)
			return i;
	return -1;
}

/* SPOOF mode: answer a client request three wrong ways (right req_id from
 * a foreign address, wrong req_id from the node, right req_id claiming to
 * be another node). A correct client ignores all three. */
static void spoof(struct fake_node *n, const uint8_t *buf, size_t len,
		  const struct sockaddr_in *from)
{
	struct qr_frame_reader r;
	struct qr_msg m;
	if (qr_wire_frame_open(&r, buf, len, CLUSTER_ID, NULL) ||
	    qr_wire_next(&r, &m) != 1 || m.type != QR_MSG_CLIENT_REQ)
		return;
	for (int k = 0; k < 3; k++) {
		struct qr_frame_hdr h = {
			.cluster_id = CLUSTER_ID,
			.src_node =
				k == 2 ? (uint16_t)((n->id + 1) % N) : n->id,
			.dst_node = QR_NODE_CLIENT,
		};
		struct qr_msg rep = {
			.type = QR_MSG_CLIENT_REPLY,
			.req_id = m.req_id + (k == 1),
			.version = {777, n->id},
			.answered = 3,
		};
		uint8_t out[QR_FRAME_BYTES_MAX];
		struct qr_frame_writer w;
		qr_wire_frame_begin(&w, out, sizeof(out), &h);
		QR_ASSERT(qr_wire_put(&w, &rep) == 0);
		size_t olen = qr_wire_frame_end(&w);
		(void)sendto(k == 0 ? f.spoof_fd : n->fd, out, olen, 0,
			     (const struct sockaddr *)from, sizeof(*from));
	}
}

static void log_requests(const struct fake_node *n, const uint8_t *buf,
			 size_t len)
{
	struct qr_frame_reader r;
	struct qr_msg m;
	if (qr_wire_frame_open(&r, buf, len, CLUSTER_ID, NULL))
		return;
	unsigned d = req_log.datagrams++;
	while (qr_wire_next(&r, &m) > 0) {
		unsigned i = atomic_load(&req_log.n);
		if (m.type != QR_MSG_CLIENT_REQ || i == LOG_MAX)
			continue;
		req_log.node[i] = n->id;
		req_log.dgram[i] = d;
		req_log.req_id[i] = m.req_id;
		atomic_store(&req_log.n, i + 1);
	}
}

static void serve_stat(struct fake_node *n)
{
	int fd = accept4(n->mgmt, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	char line[16] = {0};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 500) == 1 && read(fd, line, sizeof(line) - 1) > 0 &&
	    !strcmp(line, "stat\n")) {
		const struct qr_core_stats *s = qr_core_stats(n->core);
		char out[1024];
		int len = snprintf(
			out, sizeof(out),
			"{\"node\":%u,\"ops\":{\"get\":%llu,\"put\":%llu,"
			"\"delete\":%llu},\"errors\":{\"UNAVAILABLE\":%llu},"
			"\"peers\":[{\"id\":%u,\"state\":\"%s\"}],"
			"\"wal\":{\"appended\":%llu},\"drops\":{},\"tag\":"
			"\"a\\\"b\"}\n",
			n->id, (unsigned long long)s->client_ops[QR_OP_GET],
			(unsigned long long)s->client_ops[QR_OP_PUT],
			(unsigned long long)s->client_ops[QR_OP_DELETE],
			(unsigned long long)s->client_err_by[-QR_EUNAVAILABLE],
			(n->id + 1) % N,
			qr_peer_state_name(
				qr_detector_state(qr_core_detector(n->core),
						  (uint16_t)((n->id + 1) % N))),
			(unsigned long long)qr_core_last_lsn(n->core));
		(void)!write(fd, out, (size_t)len);
	} else if (!strcmp(line, "repair\n")) {
		/* As quorated's mgmt: a pass on the core's own thread (this
		 * loop drives the fake cores). */
		qr_core_ae_request(n->core);
		char out[128];
		int len = snprintf(out, sizeof(out),
				   "{\"ok\":true,\"node\":%u,\"repair\":"
				   "\"requested\",\"shards\":1}\n",
				   n->id);
		(void)!write(fd, out, (size_t)len);
	}
	close(fd);
}

static void *fake_loop(void *arg)
{
	(void)arg;
	struct pollfd p[2 * N];
	for (int i = 0; i < N; i++) {
		p[i] = (struct pollfd){.fd = f.node[i].fd, .events = POLLIN};
		p[N + i] =
			(struct pollfd){.fd = f.node[i].mgmt, .events = POLLIN};
	}
	uint8_t buf[QR_FRAME_BYTES_MAX + 1];
	while (!atomic_load(&f.stop)) {
		(void)poll(p, 2 * N, 1);
		for (int i = 0; i < N; i++) {
			struct fake_node *n = &f.node[i];
			int mode = atomic_load(&n->mode);
			if (p[N + i].revents & POLLIN)
				serve_stat(n);
			for (int burst = 0; burst < 64; burst++) {
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				ssize_t len = recvfrom(
					n->fd, buf, sizeof(buf), MSG_DONTWAIT,
					(struct sockaddr *)&from, &fl);
				if (len < 0)
					break;
				int peer = peer_of(&from);
				if (peer < 0)
					log_requests(n, buf, (size_t)len);
				if (peer < 0 &&
				    atomic_exchange(&n->drop_next, false))
					continue;
				if (mode == MUTE)
					continue;
				if (mode == SPOOF && peer < 0) {
					spoof(n, buf, (size_t)len, &from);
					continue;
				}
				if (peer >= 0 &&
				    atomic_load(&f.node[peer].mode) == MUTE)
					continue;
				qr_core_on_frame(n->core,
						 peer >= 0 ? 0
							   : handle_of(&from),
						 buf, (size_t)len);
			}
		}
		for (int i = 0; i < N; i++) {
			struct fake_node *n = &f.node[i];
			if (atomic_load(&n->mode) == MUTE)
				continue;
			uint64_t lsn = qr_core_last_lsn(n->core);
			if (lsn > qr_core_durable_lsn(n->core))
				qr_core_on_wal_durable(n->core, lsn);
			qr_core_tick(n->core);
			qr_core_flush(n->core);
		}
	}
	return NULL;
}

static void set_mode(int node, enum mode m)
{
	atomic_store(&f.node[node].mode, m);
}

static void set_all(enum mode m)
{
	for (int i = 0; i < N; i++)
		set_mode(i, m);
}

/* Every node live again, and time for heartbeats to bring the failure
 * detectors back to UP (heartbeat 20 ms, down after 150 ms). */
static void heal(void)
{
	set_all(LIVE);
	usleep(100 * 1000);
}

/* Bind the three node sockets on one random high port (the port is in the
 * cluster file, so port 0 will not do); retry on EADDRINUSE. */
static int bind_nodes(void)
{
	struct qr_rng r;
	qr_rng_seed(&r, (uint64_t)getpid() ^ (uint64_t)time(NULL) << 20);
	for (int tries = 0; tries < 100; tries++) {
		uint16_t port = (uint16_t)(20000 + qr_rng_below(&r, 40000));
		int ok = 1;
		for (int i = 0; i < N; i++) {
			struct fake_node *n = &f.node[i];
			n->addr = (struct sockaddr_in){
				.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(0x7f000001u + i),
				.sin_port = htons(port),
			};
			n->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (n->fd < 0 ||
			    bind(n->fd, (struct sockaddr *)&n->addr,
				 sizeof(n->addr))) {
				ok = 0;
				for (int j = 0; j <= i; j++)
					if (f.node[j].fd >= 0)
						close(f.node[j].fd);
				break;
			}
		}
		if (ok) {
			f.port = port;
			return 0;
		}
	}
	return -1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 8))
		return -1;
	return fd;
}

static void write_cluster_file(const char *path, const char *bad_mgmt2)
{
	FILE *fp = fopen(path, "w");
	QR_ASSERT(fp);
	fprintf(fp,
		"[cluster]\nid = %u\npartitions = %u\nreplication_factor = 3\n"
		"base_port = %u\nclient_key_file = %s\n",
		CLUSTER_ID, PARTITIONS, f.port, f.keys);
	for (int i = 0; i < N; i++)
		fprintf(fp, "[node.%d]\nip = 127.0.0.%d\nmgmt = %s\n", i, i + 1,
			i == 2 && bad_mgmt2 ? bad_mgmt2 : f.node[i].mgmt_path);
	fclose(fp);
}

/* Client keys (issue 12 item 2): every client of these tests signs its
 * frames with client 1's key (the first line), read by libquorate from
 * the cluster file's client_key_file; the nodes check them. */
static int write_client_keys(void)
{
	snprintf(f.keys, sizeof(f.keys), "/tmp/qr-test-client-%d.keys",
		 (int)getpid());
	int fd = open(f.keys, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	char line[160];
	static const char *const who[3] = {"1 rw *", "2 ro *", "3 rw cli-"};
	for (int i = 0; i < 3; i++) {
		int n = snprintf(line, sizeof(line), "%s %064d\n", who[i], i);
		if (write(fd, line, (size_t)n) != n)
			return -1;
	}
	close(fd);
	char err[256];
	if (qr_client_keys_load(f.keys, &f.client_keys, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int fake_start(void)
{
	memset(&f, 0, sizeof(f));
	if (write_client_keys())
		return -1;
	if (bind_nodes())
		return -1;
	if (qr_placement_init(&f.pl, PARTITIONS, N, 3, 1))
		return -1;
	for (int i = 0; i < N; i++) {
		struct fake_node *n = &f.node[i];
		n->id = (uint16_t)i;
		qr_rng_seed(&n->rng, 100 + (uint64_t)i);
		snprintf(n->mgmt_path, sizeof(n->mgmt_path),
			 "/tmp/qr-test-client-%d-n%d.sock", (int)getpid(), i);
		if ((n->mgmt = listen_unix(n->mgmt_path)) < 0)
			return -1;
		struct qr_core_config cfg;
		qr_core_config_defaults(&cfg);
		cfg.node_id = (uint16_t)i;
		cfg.cluster_id = CLUSTER_ID;
		static struct qr_secret test_secret;
		qr_secret_for_tests(&test_secret);
		cfg.secret = &test_secret; /* auth = mac (the default) */
		cfg.client_keys = &f.client_keys;
		cfg.placement = &f.pl;
		cfg.requests_max = 64;
		cfg.pending_max = 256;
		cfg.keys_max = 1024;
		cfg.rto_us_min = 2000;
		cfg.rto_us_max = 20000;
		cfg.heartbeat_us = 20000;
		cfg.suspect_after_us = 60000;
		cfg.down_after_us = 150000;
		struct qr_env env = {
			.ctx = n,
			.now_us = env_now_us,
			.wall_ms = env_wall_ms,
			.send = env_send,
			.wal_append = env_wal_append,
			.random = env_random,
		};
		if (qr_core_create(&cfg, &env, &n->core))
			return -1;
	}
	f.spoof_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(0x7f000009u)};
	if (f.spoof_fd < 0 ||
	    bind(f.spoof_fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	snprintf(f.file, sizeof(f.file), "/tmp/qr-test-client-%d.ini",
		 (int)getpid());
	write_cluster_file(f.file, NULL);
	return pthread_create(&f.thread, NULL, fake_loop, NULL) ? -1 : 0;
}

static void fake_stop(void)
{
	atomic_store(&f.stop, true);
	pthread_join(f.thread, NULL);
	for (int i = 0; i < N; i++) {
		qr_core_destroy(f.node[i].core);
		close(f.node[i].fd);
		close(f.node[i].mgmt);
		unlink(f.node[i].mgmt_path);
	}
	close(f.spoof_fd);
	qr_placement_fini(&f.pl);
	unlink(f.file);
	unlink(f.keys);
}

/* ---- helpers ---------------------------------------------------------- */

static struct qr_client *open_client(uint32_t deadline_ms, uint32_t retries)
{
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.deadline_ms = deadline_ms;
	o.retries = retries;
	char err[256];
	struct qr_client *c = qr_client_open(f.file, &o, err, sizeof(err));
	if (!c)
		fprintf(stderr, "open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* A key (written into buf) whose first replica is node `first`. */
static const char *key_led_by(struct qr_client *c, int first, char *buf,
			      size_t cap)
{
	for (int i = 0; i < 10000; i++) {
		snprintf(buf, cap, "key-%d-%d", first, i);
		uint16_t nodes[8];
		CU_ASSERT_EQUAL_FATAL(
			qr_client_replicas(c, buf, strlen(buf), NULL, nodes),
			3);
		if (nodes[0] == first)
			return buf;
	}
	CU_FAIL_FATAL("no key found");
	return NULL;
}

static int put_s(struct qr_client *c, const char *k, const char *v,
		 enum qr_consistency lvl, struct qr_result *r)
{
	struct qr_req_opts o = {.consistency = lvl};
	return qr_client_put(c, k, strlen(k), v, strlen(v), &o, r);
}

static int get_s(struct qr_client *c, const char *k, enum qr_consistency lvl,
		 struct qr_result *r)
{
	static uint8_t buf[QR_VALUE_INLINE_MAX];
	struct qr_req_opts o = {.consistency = lvl};
	return qr_client_get(c, k, strlen(k), buf, sizeof(buf), &o, r);
}

/* ---- library tests ---------------------------------------------------- */

/* CASPaxos through three real cores: the username registration race in
 * miniature, compare-and-set on the version, a linearizable read. */
static void cas_ops_register_once_and_compare_versions(void)
{
	struct qr_client *c = open_client(1000, 3);
	static struct qr_result r;
	const char *k = "user:alice";
	CU_ASSERT_EQUAL(qr_client_get_linearizable(c, k, strlen(k), NULL, 0,
						   NULL, &r),
			QR_ENOTFOUND);
	CU_ASSERT_EQUAL(qr_client_put_if_absent(c, k, strlen(k), "u1", 2,
						NULL, &r),
			0);
	uint64_t v1 = r.hlc;
	uint16_t n1 = r.node;
	CU_ASSERT(v1 != 0);
	/* A second registration loses and learns the winner's version. */
	CU_ASSERT_EQUAL(qr_client_put_if_absent(c, k, strlen(k), "u2", 2,
						NULL, &r),
			QR_EPRECONDITION);
	CU_ASSERT(r.hlc >= v1);
	static uint8_t lin[16];
	CU_ASSERT_EQUAL(qr_client_get_linearizable(c, k, strlen(k), lin,
						   sizeof(lin), NULL, &r),
			0);
	CU_ASSERT_PTR_EQUAL(r.value, lin);
	CU_ASSERT(r.value_len == 2 && !memcmp(r.value, "u1", 2));
	uint64_t cur = r.hlc;
	uint16_t cur_node = r.node;
	/* A stale version fails (unless it is still the current one). */
	if (cur != v1 || cur_node != n1)
		CU_ASSERT_EQUAL(qr_client_put_if_version(c, k, strlen(k), "x",
							 1, v1, n1, NULL, &r),
				QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_client_put_if_version(c, k, strlen(k), "u3", 2, cur,
						 cur_node, NULL, &r),
			0);
	CU_ASSERT(r.hlc > cur);
	CU_ASSERT_EQUAL(qr_client_del_if_version(c, k, strlen(k), cur,
						 cur_node, NULL, &r),
			QR_EPRECONDITION);
	CU_ASSERT_EQUAL(qr_client_del_if_version(c, k, strlen(k), r.hlc,
						 r.node, NULL, &r),
			0);
	CU_ASSERT_EQUAL(qr_client_get_linearizable(c, k, strlen(k), NULL, 0,
						   NULL, &r),
			QR_ENOTFOUND);
	/* Bad arguments change nothing. */
	struct qr_req_opts one = {.consistency = QR_CONSISTENCY_ONE};
	CU_ASSERT_EQUAL(qr_client_put_if_absent(c, k, strlen(k), "v", 1, &one,
						&r),
			QR_EINVAL);
	CU_ASSERT_EQUAL(qr_client_put_if_version(c, k, strlen(k), "v", 1, 0, 0,
						 NULL, &r),
			QR_EINVAL);
	CU_ASSERT_EQUAL(qr_client_put_if_absent(c, k, strlen(k), "u4", 2,
						NULL, &r),
			0);
	qr_client_close(c);
}

static void put_get_del_at_every_level(void)
{
	struct qr_client *c = open_client(1000, 3);
	static struct qr_result r;
	static const enum qr_consistency lv[] = {
		QR_CONSISTENCY_ONE, QR_CONSISTENCY_QUORUM, QR_CONSISTENCY_ALL};
	static const uint8_t need[] = {1, 2, 3};
	for (int i = 0; i < 3; i++) {
		char key[32], val[32];
		snprintf(key, sizeof(key), "level-%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		CU_ASSERT_EQUAL(put_s(c, key, "old", lv[i], &r), 0);
		uint64_t v1 = r.hlc;
		CU_ASSERT(v1 != 0);
		CU_ASSERT(r.answered >= need[i]);
		CU_ASSERT_EQUAL(put_s(c, key, val, lv[i], &r), 0);
		uint64_t v2 = r.hlc;
		CU_ASSERT(v2 > v1); /* versions increase */
		CU_ASSERT(qr_client_session(c) >= v2);

		CU_ASSERT_EQUAL(get_s(c, key, lv[i], &r), 0);
		CU_ASSERT_EQUAL(r.status, 0);
		CU_ASSERT_EQUAL(r.value_len, strlen(val));
		CU_ASSERT_EQUAL(memcmp(r.value, val, r.value_len), 0);
		CU_ASSERT_EQUAL(r.hlc, v2);
		CU_ASSERT(r.answered >= need[i]);
		CU_ASSERT_FALSE(r.tombstone);
		if (lv[i] == QR_CONSISTENCY_ALL) {
			CU_ASSERT_EQUAL(r.answered, 3);
			CU_ASSERT_EQUAL(r.replica_mask, 7);
		}

		struct qr_req_opts o = {.consistency = lv[i]};
		CU_ASSERT_EQUAL(qr_client_del(c, key, strlen(key), &o, &r), 0);
		uint64_t v3 = r.hlc;
		CU_ASSERT(v3 > v2);
		/* A read at ALL sees the tombstone whatever level deleted. */
		CU_ASSERT_EQUAL(get_s(c, key, QR_CONSISTENCY_ALL, &r),
				QR_ENOTFOUND);
		CU_ASSERT(r.tombstone);
		CU_ASSERT_EQUAL(r.hlc, v3);
	}
	CU_ASSERT_EQUAL(get_s(c, "never-written", QR_CONSISTENCY_QUORUM, &r),
			QR_ENOTFOUND);
	CU_ASSERT_EQUAL(r.hlc, 0);
	CU_ASSERT_FALSE(r.tombstone);
	/* Explicit r / w. */
	struct qr_req_opts w2 = {.consistency = QR_CONSISTENCY_RW, .w = 2};
	CU_ASSERT_EQUAL(qr_client_put(c, "rw", 2, "x", 1, &w2, &r), 0);
	CU_ASSERT(r.answered >= 2);
	struct qr_req_opts r3 = {.consistency = QR_CONSISTENCY_RW, .r = 3};
	CU_ASSERT_EQUAL(qr_client_get(c, "rw", 2, NULL, 0, &r3, &r),
			QR_ETOOLARGE); /* no buffer: only the size */
	CU_ASSERT(r.value_len == 1 && !r.value);
	char one[1];
	CU_ASSERT_EQUAL(qr_client_get(c, "rw", 2, one, 1, &r3, &r), 0);
	CU_ASSERT(r.value == (uint8_t *)one && one[0] == 'x');
	CU_ASSERT_EQUAL(r.answered, 3);
	CU_ASSERT_EQUAL(qr_client_stats(c)->timeouts, 0);
	qr_client_close(c);
}

static void bad_requests_fail_locally(void)
{
	struct qr_client *c = open_client(1000, 3);
	static struct qr_result r;
	/* Over value_bytes_max (1 MiB by default): nothing sent. */
	static char big[QR_VALUE_BYTES_DEFAULT + 1];
	char longkey[QR_CLIENT_KEY_BYTES_MAX + 2];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	CU_ASSERT_EQUAL(qr_client_put(c, "k", 1, big, sizeof(big), NULL, &r),
			QR_ETOOLARGE);
	CU_ASSERT_EQUAL(r.attempts, 0);
	CU_ASSERT_EQUAL(qr_client_put(c, "k", 1, big, QR_VALUE_INLINE_MAX,
				      NULL, &r),
			0); /* the longest value of one frame */
	CU_ASSERT_EQUAL(get_s(c, longkey, 0, &r), QR_ETOOLARGE);
	CU_ASSERT_EQUAL(qr_client_get(c, "", 0, NULL, 0, NULL, &r), QR_EINVAL);
	struct qr_req_opts o = {.consistency = QR_CONSISTENCY_RW, .r = 2};
	CU_ASSERT_EQUAL(qr_client_put(c, "k", 1, "v", 1, &o, &r), QR_EINVAL);
	o = (struct qr_req_opts){.consistency = QR_CONSISTENCY_RW, .r = 4};
	CU_ASSERT_EQUAL(qr_client_get(c, "k", 1, NULL, 0, &o, &r), QR_EINVAL);
	o = (struct qr_req_opts){.consistency = 9};
	CU_ASSERT_EQUAL(qr_client_get(c, "k", 1, NULL, 0, &o, &r), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_client_stats(c)->sends, 1);
	qr_client_close(c);

	char err[256];
	CU_ASSERT_PTR_NULL(
		qr_client_open("/nonexistent.ini", NULL, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(
		err,
		"/nonexistent.ini: cannot read: No such file or directory");
}

static void session_token_raises_write_versions(void)
{
	struct qr_client *c = open_client(1000, 3);
	static struct qr_result r;
	/* A token 50 ms ahead (within the 100 ms HLC lease a node lets a
	 * token move its clock, docs/protocol.md): the write must be stamped
	 * above it, which only happens if it was sent. */
	uint64_t token = (env_wall_ms(NULL) + 50) << 16;
	qr_client_session_observe(c, token);
	CU_ASSERT_EQUAL(qr_client_session(c), token);
	qr_client_session_observe(c, 5); /* never goes back */
	CU_ASSERT_EQUAL(qr_client_session(c), token);
	CU_ASSERT_EQUAL(put_s(c, "session", "v", 0, &r), 0);
	CU_ASSERT(r.hlc > token);
	CU_ASSERT_EQUAL(qr_client_session(c), r.hlc);
	qr_client_close(c);

	/* With sessions off, a fresh handle sends no token. */
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.session = false;
	c = qr_client_open(f.file, &o, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	uint64_t later = (env_wall_ms(NULL) + 400) << 16;
	qr_client_session_observe(c, later);
	CU_ASSERT_EQUAL(put_s(c, "session2", "v", 0, &r), 0);
	CU_ASSERT(r.hlc < later);
	qr_client_close(c);
}

static void write_fails_over_when_coordinator_is_silent(void)
{
	struct qr_client *c = open_client(800, 3); /* 200 ms intervals */
	static struct qr_result r;
	char key[32];
	key_led_by(c, 1, key, sizeof(key));
	uint16_t nodes[8];
	qr_client_replicas(c, key, strlen(key), NULL, nodes);
	set_mode(1, MUTE);
	CU_ASSERT_EQUAL(put_s(c, key, "v", QR_CONSISTENCY_QUORUM, &r), 0);
	/* Same coordinator twice (deduplicated there), then the next. */
	CU_ASSERT_EQUAL(r.attempts, 3);
	CU_ASSERT_EQUAL(r.coordinator, nodes[1]);
	/* Reads move on at once. */
	CU_ASSERT_EQUAL(get_s(c, key, QR_CONSISTENCY_QUORUM, &r), 0);
	CU_ASSERT_EQUAL(r.attempts, 2);
	CU_ASSERT_EQUAL(r.coordinator, nodes[1]);
	CU_ASSERT_EQUAL(qr_client_stats(c)->resends, 3);
	heal();
	qr_client_close(c);

	/* write_failover off: the write stays on its coordinator. */
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.deadline_ms = 300;
	o.retries = 2;
	o.write_failover = false;
	c = qr_client_open(f.file, &o, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	set_mode(1, MUTE);
	CU_ASSERT_EQUAL(put_s(c, key, "v", QR_CONSISTENCY_QUORUM, &r),
			QR_ETIMEOUT);
	CU_ASSERT_EQUAL(r.attempts, 3);
	heal();
	qr_client_close(c);
}

static void unavailable_is_passed_through(void)
{
	struct qr_client *c = open_client(600, 3);
	static struct qr_result r;
	char key[32];
	key_led_by(c, 0, key, sizeof(key));
	set_mode(2, MUTE);
	uint64_t t0 = qr_clock_mono_ms();
	CU_ASSERT_EQUAL(put_s(c, key, "v", QR_CONSISTENCY_ALL, &r),
			QR_EUNAVAILABLE);
	CU_ASSERT(qr_clock_mono_ms() - t0 < 600); /* the node's answer, not ours */
	/* Node 0, or (after failover, once node 2 is DOWN there) another
	 * live replica: never the silent one. */
	CU_ASSERT(r.coordinator < N && r.coordinator != 2);
	/* QUORUM still works with one replica silent. */
	CU_ASSERT_EQUAL(put_s(c, key, "v", QR_CONSISTENCY_QUORUM, &r), 0);
	heal();
	qr_client_close(c);
}

static void timeout_when_every_node_is_silent(void)
{
	struct qr_client *c = open_client(300, 2);
	static struct qr_result r;
	set_all(MUTE);
	uint64_t t0 = qr_clock_mono_ms();
	CU_ASSERT_EQUAL(put_s(c, "silent", "v", 0, &r), QR_ETIMEOUT);
	uint64_t took = qr_clock_mono_ms() - t0;
	CU_ASSERT(took >= 299 && took < 400);
	CU_ASSERT_EQUAL(r.attempts, 3);
	CU_ASSERT_EQUAL(r.status, QR_ETIMEOUT);
	/* A per-request deadline overrides the handle's. */
	struct qr_req_opts o = {.deadline_ms = 90};
	t0 = qr_clock_mono_ms();
	CU_ASSERT_EQUAL(qr_client_get(c, "silent", 6, NULL, 0, &o, &r),
			QR_ETIMEOUT);
	took = qr_clock_mono_ms() - t0;
	CU_ASSERT(took >= 89 && took < 190);
	CU_ASSERT_EQUAL(qr_client_stats(c)->timeouts, 2);
	heal();
	qr_client_close(c);
}

static void replies_from_wrong_sources_or_ids_are_ignored(void)
{
	struct qr_client *c = open_client(200, 1);
	static struct qr_result r;
	set_all(SPOOF);
	CU_ASSERT_EQUAL(get_s(c, "spoofed", 0, &r), QR_ETIMEOUT);
	CU_ASSERT_EQUAL(r.attempts, 2);
	CU_ASSERT(qr_client_stats(c)->ignored >= 6); /* 3 per attempt */
	CU_ASSERT_EQUAL(qr_client_stats(c)->replies, 0);
	heal();
	/* Stale answers left in the socket do not confuse the next call. */
	CU_ASSERT_EQUAL(put_s(c, "spoofed", "ok", 0, &r), 0);
	CU_ASSERT(r.hlc != 777);
	qr_client_close(c);
}

/* ---- asynchronous API ------------------------------------------------- */

static struct qr_client *open_async(uint32_t deadline_ms, uint32_t retries,
				    uint32_t max_inflight, bool batch)
{
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.deadline_ms = deadline_ms;
	o.retries = retries;
	o.max_inflight = max_inflight;
	o.batch = batch;
	char err[256];
	struct qr_client *c = qr_client_open(f.file, &o, err, sizeof(err));
	if (!c)
		fprintf(stderr, "open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* The i-th key (from 0) whose first replica is node `first`. */
static void nth_key_led_by(struct qr_client *c, int first, int nth, char *buf,
			   size_t cap)
{
	for (int i = 0; i < 100000; i++) {
		snprintf(buf, cap, "ak-%d", i);
		uint16_t nodes[8];
		qr_client_replicas(c, buf, strlen(buf), NULL, nodes);
		if (nodes[0] == first && nth-- == 0)
			return;
	}
	CU_FAIL_FATAL("no key found");
}

static struct qr_completion done[64];

/* Poll until n completions (or 3 s): how many came, in done[]. */
static unsigned poll_n(struct qr_client *c, unsigned n)
{
	unsigned got = 0;
	uint64_t end = qr_clock_mono_ms() + 3000;
	while (got < n && qr_clock_mono_ms() < end) {
		int rc = qr_client_poll(c, done + got, n - got, 100);
		CU_ASSERT_FATAL(rc >= 0);
		got += (unsigned)rc;
	}
	return got;
}

/* Requests on a silent replica end after the others: completions come
 * back in the order requests end, each with its own user pointer. */
static void async_many_in_flight_answered_out_of_order(void)
{
	struct qr_client *c = open_async(600, 3, 64, false);
	char key[40];
	set_mode(1, MUTE);
	for (uintptr_t i = 0; i < 40; i++) {
		/* Request 0 is a read led by the silent node: it moves to
		 * the next replica after 150 ms; the others are answered. */
		nth_key_led_by(c, i == 0 ? 1 : 0, (int)i, key, sizeof(key));
		struct qr_request rq = {
			.op = i == 0 ? QR_CLIENT_GET : QR_CLIENT_PUT,
			.key = key, .key_len = strlen(key),
			.value = key, .value_len = strlen(key),
			.user = (void *)(i + 1),
		};
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	CU_ASSERT_EQUAL(qr_client_inflight(c), 40);
	CU_ASSERT_EQUAL(poll_n(c, 40), 40);
	bool seen[41] = {0};
	for (unsigned i = 0; i < 40; i++) {
		uintptr_t u = (uintptr_t)done[i].user;
		CU_ASSERT_FATAL(u >= 1 && u <= 40 && !seen[u]);
		seen[u] = true;
		CU_ASSERT(done[i].result.status == 0 ||
			  (u == 1 && done[i].result.status == QR_ENOTFOUND));
		CU_ASSERT_EQUAL(done[i].op, u == 1 ? QR_CLIENT_GET : QR_CLIENT_PUT);
	}
	CU_ASSERT_EQUAL((uintptr_t)done[39].user, 1); /* the slow one last */
	CU_ASSERT_EQUAL(done[39].result.attempts, 2);
	CU_ASSERT_EQUAL(qr_client_inflight(c), 0);
	/* Read the values back, pipelined as well. */
	set_mode(1, LIVE);
	static uint8_t vals[40][32]; /* one buffer per GET in flight */
	for (uintptr_t i = 1; i < 40; i++) {
		nth_key_led_by(c, 0, (int)i, key, sizeof(key));
		struct qr_request rq = {.op = QR_CLIENT_GET, .key = key,
					.key_len = strlen(key),
					.user = (void *)i, .buf = vals[i],
					.buf_cap = sizeof(vals[i])};
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	CU_ASSERT_EQUAL(poll_n(c, 39), 39);
	for (unsigned i = 0; i < 39; i++) {
		nth_key_led_by(c, 0, (int)(uintptr_t)done[i].user, key,
			       sizeof(key));
		CU_ASSERT_EQUAL(done[i].result.status, 0);
		CU_ASSERT_EQUAL(done[i].result.value_len, strlen(key));
		CU_ASSERT_PTR_EQUAL(done[i].result.value,
				    vals[(uintptr_t)done[i].user]);
		CU_ASSERT(!memcmp(done[i].result.value, key, strlen(key)));
	}
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, -1), 0); /* none left */
	heal();
	qr_client_close(c);
}

/* A datagram lost on the way: resent after one interval to the same
 * coordinator (a write) with the same req_id, and answered. */
static void async_lost_datagram_resent_with_same_req_id(void)
{
	struct qr_client *c = open_async(800, 3, 8, false);
	char key[40];
	nth_key_led_by(c, 1, 0, key, sizeof(key));
	atomic_store(&f.node[1].drop_next, true);
	unsigned log0 = atomic_load(&req_log.n);
	struct qr_request rq = {.op = QR_CLIENT_PUT, .key = key,
				.key_len = strlen(key), .value = "v",
				.value_len = 1};
	uint64_t t0 = qr_clock_mono_ms();
	CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT(qr_client_timeout_ms(c) > 150 && qr_client_timeout_ms(c) <= 200);
	CU_ASSERT_EQUAL(poll_n(c, 1), 1);
	CU_ASSERT(qr_clock_mono_ms() - t0 >= 199); /* after one interval */
	CU_ASSERT_EQUAL(done[0].result.status, 0);
	CU_ASSERT_EQUAL(done[0].result.attempts, 2);
	CU_ASSERT_EQUAL(done[0].result.coordinator, 1);
	CU_ASSERT_EQUAL(qr_client_stats(c)->resends, 1);
	usleep(20 * 1000); /* the fake's log is written by its thread */
	unsigned log1 = atomic_load(&req_log.n);
	CU_ASSERT_EQUAL_FATAL(log1 - log0, 2);
	CU_ASSERT_EQUAL(req_log.node[log0], 1);
	CU_ASSERT_EQUAL(req_log.node[log0 + 1], 1);
	CU_ASSERT_EQUAL(req_log.req_id[log0], req_log.req_id[log0 + 1]);
	qr_client_close(c);
}

/* Every node silent: each request ends at its own deadline with
 * QR_ETIMEOUT, earliest first; timeout_ms() says when to poll next. */
static void async_deadline_expiry_completes_with_timeout(void)
{
	struct qr_client *c = open_async(1000, 1, 64, false);
	set_all(MUTE);
	static const uint32_t dl[3] = {150, 50, 100};
	uint64_t t0 = qr_clock_mono_ms();
	for (uintptr_t i = 0; i < 3; i++) {
		struct qr_req_opts o = {.deadline_ms = dl[i]};
		struct qr_request rq = {.op = QR_CLIENT_GET, .key = "gone",
					.key_len = 4, .opts = &o,
					.user = (void *)i};
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	int t = qr_client_timeout_ms(c); /* 50 ms deadline, 2 attempts */
	CU_ASSERT(t >= 20 && t <= 25);
	for (unsigned k = 0; k < 3; k++) {
		struct qr_completion one;
		CU_ASSERT_EQUAL_FATAL(qr_client_poll(c, &one, 1, -1), 1);
		uint64_t took = qr_clock_mono_ms() - t0;
		uintptr_t i = (uintptr_t)one.user;
		CU_ASSERT_EQUAL(i, k == 0 ? 1 : k == 1 ? 2 : 0);
		CU_ASSERT_EQUAL(one.result.status, QR_ETIMEOUT);
		CU_ASSERT_EQUAL(one.result.attempts, 2);
		CU_ASSERT(took >= dl[i] - 1 && took < dl[i] + 60);
	}
	CU_ASSERT_EQUAL(qr_client_stats(c)->timeouts, 3);
	CU_ASSERT_EQUAL(qr_client_timeout_ms(c), -1);
	/* 40 more with shuffled deadlines (the timer heap): they end in
	 * the order of their absolute deadlines, each within 60 ms of it. */
	struct qr_rng rng;
	qr_rng_seed(&rng, 7);
	static uint64_t due_us[40];
	for (uintptr_t i = 0; i < 40; i++) {
		struct qr_req_opts o = {
			.deadline_ms = 20 + (uint32_t)qr_rng_below(&rng, 100)};
		struct qr_request rq = {.op = QR_CLIENT_GET, .key = "gone",
					.key_len = 4, .opts = &o,
					.user = (void *)i};
		due_us[i] = qr_clock_mono_us() + o.deadline_ms * 1000ull;
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	uint64_t prev = 0;
	for (unsigned k = 0; k < 40; k++) {
		struct qr_completion one;
		CU_ASSERT_EQUAL_FATAL(qr_client_poll(c, &one, 1, -1), 1);
		uint64_t now = qr_clock_mono_us();
		uint64_t due = due_us[(uintptr_t)one.user];
		CU_ASSERT_EQUAL(one.result.status, QR_ETIMEOUT);
		CU_ASSERT(due + 1000 >= prev); /* submit time: +-1 ms */
		CU_ASSERT(now + 1000 >= due && now < due + 60000);
		prev = due;
	}
	/* poll(-1) with nothing in flight returns at once. */
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 4, -1), 0);
	heal();
	qr_client_close(c);
}

/* max_inflight requests outstanding: submit says QR_EBUSY, and so does a
 * synchronous call (it would otherwise swallow async completions). */
static void async_busy_when_full_and_sync_calls_refused(void)
{
	struct qr_client *c = open_async(100, 0, 4, false);
	set_all(MUTE);
	struct qr_request rq = {.op = QR_CLIENT_PUT, .key = "full",
				.key_len = 4, .value = "v", .value_len = 1};
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), QR_EBUSY);
	static struct qr_result r;
	CU_ASSERT_EQUAL(put_s(c, "full", "v", 0, &r), QR_EBUSY);
	CU_ASSERT_EQUAL(r.status, QR_EBUSY);
	CU_ASSERT_EQUAL(qr_client_inflight(c), 4);
	/* Bad requests fail at submit and take no slot. */
	struct qr_request bad = {.op = (enum qr_client_op)99, .key = "k",
				 .key_len = 1};
	CU_ASSERT_EQUAL(qr_client_submit(c, &bad), QR_EINVAL);
	CU_ASSERT_EQUAL(poll_n(c, 4), 4);
	CU_ASSERT_EQUAL(qr_client_inflight(c), 0);
	heal();
	bad.op = QR_CLIENT_GET;
	bad.key_len = QR_CLIENT_KEY_BYTES_MAX + 1;
	CU_ASSERT_EQUAL(qr_client_submit(c, &bad), QR_ETOOLARGE);
	CU_ASSERT_EQUAL(put_s(c, "full", "v", 0, &r), 0); /* idle again */
	qr_client_close(c);
	/* A table of one slot (req_id = seq, no slot bits). */
	c = open_async(500, 1, 1, false);
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), QR_EBUSY);
	CU_ASSERT_EQUAL(poll_n(c, 1), 1);
	CU_ASSERT_EQUAL(done[0].result.status, 0);
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT_EQUAL(poll_n(c, 1), 1);
	CU_ASSERT_EQUAL(done[0].result.status, 0);
	qr_client_close(c);
}

/* Replies from a foreign address, with another req_id, or naming another
 * node are ignored with several requests in flight. */
static void async_replies_from_wrong_sources_are_ignored(void)
{
	struct qr_client *c = open_async(150, 0, 8, false);
	set_all(SPOOF);
	for (int i = 0; i < 3; i++) {
		struct qr_request rq = {.op = QR_CLIENT_GET, .key = "sp",
					.key_len = 2};
		CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	}
	CU_ASSERT_EQUAL(poll_n(c, 3), 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(done[i].result.status, QR_ETIMEOUT);
	CU_ASSERT(qr_client_stats(c)->ignored >= 9); /* 3 per request */
	CU_ASSERT_EQUAL(qr_client_stats(c)->replies, 0);
	heal();
	qr_client_close(c);
}

/* Batch mode: requests for one (node, shard) share a datagram, sent by
 * flush (or poll), signed like any other (the nodes check client keys). */
static void async_batch_packs_requests_into_one_datagram(void)
{
	struct qr_client *c = open_async(1000, 3, 64, true);
	char key[40];
	unsigned log0 = atomic_load(&req_log.n);
	for (uintptr_t i = 0; i < 12; i++) {
		nth_key_led_by(c, 2, (int)i, key, sizeof(key));
		struct qr_request rq = {.op = QR_CLIENT_PUT, .key = key,
					.key_len = strlen(key), .value = "b",
					.value_len = 1, .user = (void *)i};
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	CU_ASSERT_EQUAL(qr_client_stats(c)->datagrams, 0); /* queued */
	CU_ASSERT_EQUAL(qr_client_timeout_ms(c), 0);	    /* flush due */
	CU_ASSERT_EQUAL(qr_client_flush(c), 0);
	CU_ASSERT_EQUAL(qr_client_stats(c)->datagrams, 1);
	CU_ASSERT_EQUAL(qr_client_stats(c)->sends, 12);
	CU_ASSERT_EQUAL(poll_n(c, 12), 12);
	for (unsigned i = 0; i < 12; i++)
		CU_ASSERT_EQUAL(done[i].result.status, 0); /* signed: OK */
	unsigned log1 = atomic_load(&req_log.n);
	CU_ASSERT_EQUAL_FATAL(log1 - log0, 12);
	for (unsigned i = log0; i < log1; i++) {
		CU_ASSERT_EQUAL(req_log.node[i], 2);
		CU_ASSERT_EQUAL(req_log.dgram[i], req_log.dgram[log0]);
	}
	qr_client_close(c);
}

/* The engine over a caller's transport (client_transport.h, what
 * quorate-bench's DPDK mode uses): an in-memory one. The test answers the
 * requests it captured, in reverse order and one from the wrong port;
 * the handle never closes an endpoint it does not own (close == NULL). */
struct mem_ep {
	unsigned ntx, nrx, rx_next;
	struct qr_client_pkt rx[8];
	uint8_t tx_buf[8][QR_FRAME_BYTES_MAX];
	uint16_t tx_len[8];
	uint8_t rx_buf[8][QR_FRAME_BYTES_MAX];
};

static unsigned mem_tx(void *p, const struct qr_client_pkt *pk, unsigned n)
{
	struct mem_ep *ep = p;
	for (unsigned i = 0; i < n && ep->ntx < 8; i++, ep->ntx++) {
		memcpy(ep->tx_buf[ep->ntx], pk[i].data, pk[i].len);
		ep->tx_len[ep->ntx] = pk[i].len;
	}
	return n;
}

static int mem_rx(void *p, struct qr_client_pkt *pk, unsigned n)
{
	struct mem_ep *ep = p;
	unsigned k = 0;
	while (k < n && ep->rx_next < ep->nrx)
		pk[k++] = ep->rx[ep->rx_next++];
	return (int)k;
}

static void mem_wait(void *p, uint64_t ns)
{
	(void)p;
	(void)ns;
}

/* A CLIENT_REPLY to request frame i from its destination node. */
static void mem_answer(struct mem_ep *ep, unsigned i, uint16_t port_delta)
{
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	struct qr_msg m;
	CU_ASSERT_FATAL(qr_wire_frame_open(&r, ep->tx_buf[i], ep->tx_len[i],
					   CLUSTER_ID, &h) == 0);
	CU_ASSERT_FATAL(qr_wire_next(&r, &m) == 1);
	struct qr_frame_hdr rh = {.cluster_id = CLUSTER_ID,
				  .src_node = h.dst_node,
				  .dst_node = QR_NODE_CLIENT};
	struct qr_msg rep = {.type = QR_MSG_CLIENT_REPLY, .req_id = m.req_id,
			     .version = {1000 + i, h.dst_node}, .answered = 2};
	struct qr_frame_writer w;
	unsigned k = ep->nrx++;
	qr_wire_frame_begin(&w, ep->rx_buf[k], sizeof(ep->rx_buf[k]), &rh);
	CU_ASSERT_FATAL(qr_wire_put(&w, &rep) == 0);
	ep->rx[k] = (struct qr_client_pkt){
		.ip = htonl(0x7f000001u + h.dst_node),
		.port = (uint16_t)(f.port + h.shard + port_delta),
		.len = (uint16_t)qr_wire_frame_end(&w),
		.data = ep->rx_buf[k],
	};
}

static void async_engine_over_a_caller_transport(void)
{
	static const struct qr_client_transport mem = {
		.tx_burst = mem_tx, .rx_burst = mem_rx, .wait = mem_wait};
	static struct qr_cluster cl;
	static struct mem_ep ep;
	memset(&ep, 0, sizeof(ep));
	char err[256];
	CU_ASSERT_FATAL(qr_cluster_load(f.file, &cl, err, sizeof(err)) == 0);
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.retries = 0;
	o.deadline_ms = 100;
	struct qr_client *c = qr_client_open_on(&cl, &o, &mem, &ep, err,
						sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(qr_client_fd(c), -1);
	for (uintptr_t i = 0; i < 4; i++) {
		char key[16];
		snprintf(key, sizeof(key), "mem-%u", (unsigned)i);
		struct qr_request rq = {.op = QR_CLIENT_GET, .key = key,
					.key_len = strlen(key),
					.user = (void *)i};
		CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	}
	CU_ASSERT_EQUAL_FATAL(ep.ntx, 4); /* not batched: one frame each */
	mem_answer(&ep, 0, 1); /* from the wrong port: ignored */
	for (unsigned i = 4; i-- > 1;)
		mem_answer(&ep, i, 0);
	CU_ASSERT_EQUAL(poll_n(c, 3), 3);
	for (unsigned k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL((uintptr_t)done[k].user, 3 - k);
		CU_ASSERT_EQUAL(done[k].result.status, 0);
		CU_ASSERT_EQUAL(done[k].result.hlc, 1000 + 3 - k);
	}
	CU_ASSERT_EQUAL(qr_client_stats(c)->ignored, 1);
	CU_ASSERT_EQUAL(poll_n(c, 1), 1); /* request 0 times out */
	CU_ASSERT_EQUAL(done[0].result.status, QR_ETIMEOUT);
	qr_client_close(c); /* close == NULL: ep is ours */
}


/* ---- long messages over a caller transport ------------------------------ */

/* Every frame the client sends, and the frames it is to receive: enough
 * for two sends of a 1 MiB request or one 1 MiB reply. */
#define BIG_FRAMES 2048
static struct big_ep {
	unsigned ntx, nrx, rx_next;
	uint16_t tx_len[BIG_FRAMES];
	uint8_t tx_buf[BIG_FRAMES][QR_FRAME_BYTES_MAX];
	struct qr_client_pkt rx[BIG_FRAMES];
	uint8_t rx_buf[BIG_FRAMES][QR_FRAME_BYTES_MAX];
} bep;

static unsigned big_tx(void *p, const struct qr_client_pkt *pk, unsigned n)
{
	struct big_ep *ep = p;
	for (unsigned i = 0; i < n; i++, ep->ntx++) {
		CU_ASSERT_FATAL(ep->ntx < BIG_FRAMES);
		CU_ASSERT_FATAL(pk[i].len <= QR_FRAME_BYTES_MAX);
		memcpy(ep->tx_buf[ep->ntx], pk[i].data, pk[i].len);
		ep->tx_len[ep->ntx] = pk[i].len;
	}
	return n;
}

static int big_rx(void *p, struct qr_client_pkt *pk, unsigned n)
{
	struct big_ep *ep = p;
	unsigned k = 0;
	while (k < n && ep->rx_next < ep->nrx)
		pk[k++] = ep->rx[ep->rx_next++];
	return (int)k;
}

static struct qr_client *big_open(uint32_t retries, uint32_t deadline_ms,
				  uint32_t value_bytes_max)
{
	static const struct qr_client_transport t = {
		.tx_burst = big_tx, .rx_burst = big_rx, .wait = mem_wait};
	static struct qr_cluster cl;
	char err[256];
	memset(&bep, 0, sizeof(bep));
	CU_ASSERT_FATAL(qr_cluster_load(f.file, &cl, err, sizeof(err)) == 0);
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.retries = retries;
	o.deadline_ms = deadline_ms;
	o.value_bytes_max = value_bytes_max;
	struct qr_client *c = qr_client_open_on(&cl, &o, &t, &bep, err,
						sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* Where the client sent frames [from, to): node, shard, and every FRAG in
 * them fed to a reassembler; the whole long form, copied to out (its
 * bytes returned), or 0 when it did not complete exactly once. */
static long big_collect(unsigned from, unsigned to, uint16_t *node,
			uint16_t *shard, uint8_t *out, unsigned *frags)
{
	struct qr_reasm ra;
	struct qr_reasm_config rc = {.slots = 2, .bytes_max = QR_LONG_BYTES_MAX,
				     .per_src_max = 2, .timeout_ns = 1};
	CU_ASSERT_FATAL(qr_reasm_init(&ra, &rc) == 0);
	long got = 0;
	unsigned completions = 0;
	*frags = 0;
	for (unsigned i = from; i < to; i++) {
		struct qr_frame_reader r;
		struct qr_frame_hdr h;
		struct qr_msg m;
		CU_ASSERT_FATAL(qr_wire_frame_open(&r, bep.tx_buf[i],
						   bep.tx_len[i], CLUSTER_ID,
						   &h) == 0);
		/* Signed frames keep room for the trailer (client_io.c). */
		CU_ASSERT(bep.tx_len[i] <= QR_FRAME_BYTES_MAX);
		*node = h.dst_node;
		*shard = h.shard;
		while (qr_wire_next(&r, &m) > 0) {
			CU_ASSERT_EQUAL_FATAL(m.type, QR_MSG_FRAG);
			struct qr_frag fr;
			struct qr_reasm_msg done;
			qr_wire_frag_of(&m, 0, &fr);
			(*frags)++;
			if (qr_reasm_add(&ra, &fr, 0, &done) != 1)
				continue;
			completions++;
			memcpy(out, done.data, done.len);
			got = done.len;
			qr_reasm_release(&ra, &done);
		}
	}
	qr_reasm_fini(&ra);
	CU_ASSERT_EQUAL(completions, 1);
	return completions == 1 ? got : 0;
}

/* A message from node (shard's port) in a frame of its own. */
static void big_rx_msg(uint16_t node, uint16_t shard, const struct qr_msg *m)
{
	struct qr_frame_hdr h = {.cluster_id = CLUSTER_ID, .src_node = node,
				 .dst_node = QR_NODE_CLIENT, .shard = shard};
	struct qr_frame_writer w;
	CU_ASSERT_FATAL(bep.nrx < BIG_FRAMES);
	unsigned k = bep.nrx++;
	qr_wire_frame_begin(&w, bep.rx_buf[k], QR_FRAME_BYTES_MAX, &h);
	CU_ASSERT_FATAL(qr_wire_put(&w, m) == 0);
	bep.rx[k] = (struct qr_client_pkt){
		.ip = htonl(0x7f000001u + node),
		.port = (uint16_t)(f.port + shard),
		.len = (uint16_t)qr_wire_frame_end(&w),
		.data = bep.rx_buf[k],
	};
}

/* rep as a node sends a long message: its FRAGs, last first, the last
 * one twice; flip (>= 0) flips a bit of that byte of the long form after
 * its CRC is taken. The fragment count. */
static unsigned big_rx_long(uint16_t node, uint16_t shard,
			    const struct qr_msg *rep, long flip)
{
	static uint8_t lf[QR_LONG_BYTES_MAX];
	long n = qr_wire_long_encode(rep, lf, sizeof(lf));
	CU_ASSERT_FATAL(n > 0);
	uint32_t crc = qr_crc32c(0, lf, (size_t)n);
	if (flip >= 0)
		lf[flip] ^= 0x10;
	uint32_t chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX);
	uint32_t nf = (uint32_t)((n + chunk - 1) / chunk);
	struct qr_msg fm;
	for (uint32_t j = nf; j-- > 0;) {
		CU_ASSERT_FATAL(qr_wire_frag_msg(&fm, lf, (uint32_t)n, crc,
						 chunk, 0x5151, 7, j) == 1);
		big_rx_msg(node, shard, &fm);
		if (j == nf - 1)
			big_rx_msg(node, shard, &fm); /* a duplicate */
	}
	return nf + 1;
}

static uint8_t big_val[2u << 20];

static void big_fill(void)
{
	for (size_t i = 0; i < sizeof(big_val); i++)
		big_val[i] = (uint8_t)(i * 131u + (i >> 11));
}

/* A 1 MiB PUT: FRAGs of its long form (one per frame, each frame within
 * the limit with room for the auth trailer); the form decodes to the very
 * request, is the one encoding of it, and a resend repeats it byte for
 * byte under the same req_id (the node deduplicates). */
static void long_request_cut_into_frags_and_resent_whole(void)
{
	static uint8_t a[QR_LONG_BYTES_MAX], b[QR_LONG_BYTES_MAX],
		re[QR_LONG_BYTES_MAX];
	big_fill();
	struct qr_client *c = big_open(1, 400, 0);
	const uint32_t len = QR_VALUE_BYTES_DEFAULT;
	struct qr_request rq = {.op = QR_CLIENT_PUT, .key = "big-k",
				.key_len = 5, .value = big_val,
				.value_len = len};
	CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	unsigned n1 = bep.ntx, frags;
	uint16_t node, shard;
	long la = big_collect(0, n1, &node, &shard, a, &frags);
	CU_ASSERT_FATAL(la > (long)len);
	uint32_t chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX -
					    QR_AUTH_TRAILER_BYTES);
	CU_ASSERT_EQUAL(frags, (la + chunk - 1) / chunk);
	CU_ASSERT_EQUAL(n1, frags); /* one FRAG fills a frame */
	CU_ASSERT_EQUAL(qr_client_stats(c)->frags_sent, frags);
	struct qr_msg m;
	CU_ASSERT_EQUAL_FATAL(qr_wire_long_decode(a, (size_t)la, &m), 0);
	CU_ASSERT_EQUAL(m.type, QR_MSG_CLIENT_REQ);
	CU_ASSERT_EQUAL(m.op, QR_OP_PUT);
	CU_ASSERT(m.key_len == 5 && !memcmp(m.key, "big-k", 5));
	CU_ASSERT_EQUAL_FATAL(m.value_len, len);
	CU_ASSERT(!memcmp(m.value, big_val, len));
	CU_ASSERT_EQUAL(qr_wire_long_encode(&m, re, sizeof(re)), la);
	CU_ASSERT(!memcmp(re, a, (size_t)la));
	/* The resend (retries 1: at 200 ms) is the same long form. */
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 300), 0);
	CU_ASSERT_EQUAL_FATAL(bep.ntx, 2 * n1);
	uint16_t node2, shard2;
	long lb = big_collect(n1, 2 * n1, &node2, &shard2, b, &frags);
	CU_ASSERT(lb == la && !memcmp(a, b, (size_t)la));
	CU_ASSERT(node2 == node && shard2 == shard);
	/* A plain reply ends it. */
	struct qr_msg rep = {.type = QR_MSG_CLIENT_REPLY, .req_id = m.req_id,
			     .version = {4242, node}, .answered = 2};
	big_rx_msg(node, shard, &rep);
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 100), 1);
	CU_ASSERT_EQUAL(done[0].result.status, 0);
	CU_ASSERT_EQUAL(done[0].result.attempts, 2);
	CU_ASSERT_EQUAL(done[0].result.hlc, 4242);
	qr_client_close(c);
}

/* A node's FRAG_NACK naming chunks 0, 3 and the last of a 1 MiB PUT gets
 * exactly those again, byte for byte, to that node; a NACK with another
 * CRC, or from a node the request was not sent to, gets nothing. */
static void long_request_nack_resends_named_chunks(void)
{
	static uint8_t a[QR_LONG_BYTES_MAX];
	big_fill();
	struct qr_client *c = big_open(0, 400, 0);
	struct qr_request rq = {.op = QR_CLIENT_PUT, .key = "big-n",
				.key_len = 5, .value = big_val,
				.value_len = QR_VALUE_BYTES_DEFAULT};
	CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	unsigned n1 = bep.ntx, frags;
	uint16_t node, shard;
	long la = big_collect(0, n1, &node, &shard, a, &frags);
	CU_ASSERT_FATAL(la > 0);
	struct qr_frame_reader r;
	struct qr_msg f0;
	CU_ASSERT_FATAL(qr_wire_frame_open(&r, bep.tx_buf[0], bep.tx_len[0],
					   CLUSTER_ID, NULL) == 0);
	CU_ASSERT_FATAL(qr_wire_next(&r, &f0) == 1);
	uint32_t chunk = f0.frag.chunk, last = frags - 1;
	/* bitmap from chunk 0: bits 0, 3 and last (within 128 bytes) */
	static uint8_t bits[QR_FRAG_NACK_BYTES_MAX];
	memset(bits, 0, sizeof(bits));
	bits[0] = 0x09;
	bits[last / 8] |= (uint8_t)(1u << (last % 8));
	struct qr_msg nack = {.type = QR_MSG_FRAG_NACK, .op_id = f0.op_id,
			      .incarnation = f0.incarnation,
			      .frag = {f0.frag.total, chunk, f0.frag.crc, 0},
			      .value = bits, .value_len = last / 8 + 1};
	struct qr_msg bad = nack;
	bad.frag.crc ^= 1;
	big_rx_msg(node, shard, &bad);
	big_rx_msg((uint16_t)((node + 1) % 3), shard, &nack); /* not sent to */
	big_rx_msg(node, shard, &nack);
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 10), 0);
	CU_ASSERT_EQUAL(qr_client_stats(c)->nacks_received, 1);
	CU_ASSERT_EQUAL(qr_client_stats(c)->frags_resent, 3);
	CU_ASSERT_EQUAL_FATAL(bep.ntx, n1 + 3);
	const uint32_t want[3] = {0, 3, last};
	for (unsigned i = 0; i < 3; i++) {
		struct qr_frame_hdr h;
		struct qr_msg m;
		CU_ASSERT_FATAL(qr_wire_frame_open(&r, bep.tx_buf[n1 + i],
						   bep.tx_len[n1 + i],
						   CLUSTER_ID, &h) == 0);
		CU_ASSERT_FATAL(qr_wire_next(&r, &m) == 1);
		CU_ASSERT(m.type == QR_MSG_FRAG && h.dst_node == node &&
			  m.op_id == f0.op_id && m.frag.crc == f0.frag.crc &&
			  m.frag.offset == want[i] * chunk &&
			  !memcmp(m.value, a + m.frag.offset, m.value_len));
	}
	qr_client_close(c);
}

/* Limits: over value_bytes_max is TOO_LARGE with nothing sent; the
 * option raises it (up to QR_VALUE_BYTES_MAX); 1,025 B is already long. */
static void long_request_limits(void)
{
	big_fill();
	struct qr_client *c = big_open(0, 200, 0);
	struct qr_request rq = {.op = QR_CLIENT_PUT, .key = "big-k",
				.key_len = 5, .value = big_val,
				.value_len = QR_VALUE_BYTES_DEFAULT + 1};
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), QR_ETOOLARGE);
	CU_ASSERT_EQUAL(bep.ntx, 0);
	rq.value_len = QR_VALUE_INLINE_MAX + 1;
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT_EQUAL(qr_client_stats(c)->frags_sent, 1); /* one chunk */
	qr_client_close(c);
	c = big_open(0, 200, 2u << 20);
	rq.value_len = 2u << 20;
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT(bep.ntx > (2u << 20) / QR_FRAME_BYTES_MAX);
	qr_client_close(c);
	c = big_open(0, 200, UINT32_MAX); /* clamped to the ceiling */
	rq.value_len = QR_VALUE_BYTES_MAX + 1;
	CU_ASSERT_EQUAL(qr_client_submit(c, &rq), QR_ETOOLARGE);
	qr_client_close(c);
}

/* Submit a GET into buf (cap bytes): the node and shard it went to. */
static uint64_t big_get(struct qr_client *c, void *buf, size_t cap,
			uint16_t *node, uint16_t *shard)
{
	unsigned first = bep.ntx;
	struct qr_req_opts o = {.deadline_ms = 150};
	struct qr_request rq = {.op = QR_CLIENT_GET, .key = "big-r",
				.key_len = 5, .opts = &o, .buf = buf,
				.buf_cap = cap};
	CU_ASSERT_EQUAL_FATAL(qr_client_submit(c, &rq), 0);
	CU_ASSERT_EQUAL_FATAL(bep.ntx, first + 1);
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	struct qr_msg m;
	CU_ASSERT_FATAL(qr_wire_frame_open(&r, bep.tx_buf[first],
					   bep.tx_len[first], CLUSTER_ID,
					   &h) == 0);
	CU_ASSERT_FATAL(qr_wire_next(&r, &m) == 1);
	*node = h.dst_node;
	*shard = h.shard;
	return m.req_id;
}

/* Replies as FRAGs: out of order and duplicated, assembled into the
 * caller's buffer; too small a buffer is TOO_LARGE with the size and no
 * bytes; a long reply still arriving does not hold up a small one; a
 * fragment corrupted in flight never surfaces (the CRC drops the message,
 * counted, and the request times out). */
static void long_reply_assembled_into_callers_buffer(void)
{
	static uint8_t buf[300000];
	big_fill();
	struct qr_client *c = big_open(0, 500, 0);
	uint16_t node, shard;
	struct qr_msg rep = {.type = QR_MSG_CLIENT_REPLY,
			     .version = {77, 0}, .answered = 2,
			     .value = big_val, .value_len = 200000};
	rep.req_id = big_get(c, buf, sizeof(buf), &node, &shard);
	unsigned nf = big_rx_long(node, shard, &rep, -1);
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 100), 1);
	CU_ASSERT_EQUAL(done[0].result.status, 0);
	CU_ASSERT_EQUAL(done[0].result.value_len, 200000);
	CU_ASSERT_PTR_EQUAL(done[0].result.value, buf);
	CU_ASSERT(!memcmp(buf, big_val, 200000));
	CU_ASSERT_EQUAL(done[0].result.hlc, 77);
	CU_ASSERT_EQUAL(qr_client_stats(c)->frags_received, nf);
	CU_ASSERT_EQUAL(qr_client_stats(c)->reasm_dropped, 0);

	rep.req_id = big_get(c, buf, 1000, &node, &shard);
	rep.value_len = 5000;
	big_rx_long(node, shard, &rep, -1);
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 100), 1);
	CU_ASSERT_EQUAL(done[0].result.status, QR_ETOOLARGE);
	CU_ASSERT_EQUAL(done[0].result.value_len, 5000);
	CU_ASSERT_PTR_NULL(done[0].result.value);

	/* A long reply half arrived blocks nothing: a small reply that
	 * comes between its fragments completes first. */
	static uint8_t small[16];
	rep.req_id = big_get(c, buf, sizeof(buf), &node, &shard);
	uint16_t node_b, shard_b;
	struct qr_msg rep_b = {.type = QR_MSG_CLIENT_REPLY, .answered = 2,
			       .version = {78, 0}, .value = (const uint8_t *)"b",
			       .value_len = 1};
	rep_b.req_id = big_get(c, small, sizeof(small), &node_b, &shard_b);
	rep.value_len = 150000;
	unsigned first = bep.nrx;
	nf = big_rx_long(node, shard, &rep, -1);
	big_rx_msg(node_b, shard_b, &rep_b);
	struct qr_client_pkt b_pkt = bep.rx[bep.nrx - 1];
	unsigned mid = first + nf / 2;
	memmove(&bep.rx[mid + 1], &bep.rx[mid],
		(bep.nrx - 1 - mid) * sizeof(bep.rx[0]));
	bep.rx[mid] = b_pkt;
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 2, 100), 2);
	CU_ASSERT_EQUAL(done[0].result.hlc, 78);
	CU_ASSERT(done[0].result.value_len == 1 && small[0] == 'b');
	CU_ASSERT_EQUAL(done[1].result.hlc, 77);
	CU_ASSERT_EQUAL(done[1].result.value_len, 150000);
	CU_ASSERT(!memcmp(buf, big_val, 150000));

	memset(buf, 0, sizeof(buf));
	rep.req_id = big_get(c, buf, sizeof(buf), &node, &shard);
	rep.value_len = 100000;
	big_rx_long(node, shard, &rep, 50000);
	CU_ASSERT_EQUAL(qr_client_poll(c, done, 1, 400), 1);
	CU_ASSERT_EQUAL(done[0].result.status, QR_ETIMEOUT);
	CU_ASSERT_EQUAL(qr_client_stats(c)->reasm_dropped, 1);
	CU_ASSERT_EQUAL(buf[0], 0); /* not a byte of it copied */
	qr_client_close(c);
}

/* ---- CLI tests -------------------------------------------------------- */

struct run {
	int status; /* exit status, or -1 */
	char out[8192];
	char err[4096];
};

static void read_fd(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t got;
	while (n + 1 < cap && (got = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
}

/* Run bin with args (NULL-terminated); stdin gets `in` if not NULL. */
static void spawn(struct run *r, const char *bin, const char *in,
		  const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)bin;
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	int po[2], pe[2], pi[2];
	QR_ASSERT(!pipe(po) && !pipe(pe) && !pipe(pi));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	for (int i = 0; i < 2; i++) {
		posix_spawn_file_actions_addclose(&fa, po[i]);
		posix_spawn_file_actions_addclose(&fa, pe[i]);
		posix_spawn_file_actions_addclose(&fa, pi[i]);
	}
	pid_t pid;
	int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	close(po[1]);
	close(pe[1]);
	close(pi[0]);
	if (in)
		(void)!write(pi[1], in, strlen(in));
	close(pi[1]);
	/* Outputs are small: reading one pipe to EOF, then the other,
	 * cannot fill a pipe buffer. */
	read_fd(po[0], r->out, sizeof(r->out));
	read_fd(pe[0], r->err, sizeof(r->err));
	close(po[0]);
	close(pe[0]);
	int st;
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the CLI with args (NULL-terminated); stdin gets `in` if not NULL. */
static void cli(struct run *r, const char *in, const char *const *args)
{
	const char *bin = getenv("QUORATE_BIN");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	spawn(r, bin, in, args);
}

/* docs/client.md's example (examples/async_client.c) against the fake:
 * 200 pipelined puts, 200 gets from its own poll(2) loop, all OK, and
 * batched (fewer datagrams than requests). */
static void async_example_program_runs(void)
{
	const char *bin = getenv("QUORATE_EXAMPLE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	static struct run r;
	spawn(&r, bin, NULL, (const char *const[]){f.file, NULL});
	if (r.status)
		fprintf(stderr, "%s%s", r.out, r.err);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "put: 200 ok, 0 failed\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "get: 200 ok, 0 failed\n"));
	unsigned long long reqs = 0, dgrams = 0;
	const char *p = strstr(r.out, " requests in ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	while (p > r.out && p[-1] != '\n')
		p--;
	CU_ASSERT_EQUAL(sscanf(p, "%llu requests in %llu", &reqs, &dgrams), 2);
	CU_ASSERT(reqs >= 400 && dgrams < reqs);
}

/* --json: one object, one line. */
static void assert_one_json_object(const struct run *r)
{
	size_t n = strlen(r->out);
	CU_ASSERT(n > 2 && r->out[0] == '{' && r->out[n - 1] == '\n' &&
		  r->out[n - 2] == '}');
	CU_ASSERT_PTR_NULL(memchr(r->out, '\n', n - 1));
}

static uint64_t json_u64(const char *s, const char *field)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", field);
	const char *p = strstr(s, pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return strtoull(p + strlen(pat), NULL, 10);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

#define CLI(r, in, ...) cli(r, in, (const char *const[]){__VA_ARGS__, NULL})

static void cli_put_get_del_json(void)
{
	static struct run r;
	CLI(&r, NULL, "--cluster", f.file, "--json", "put", "cli-key",
	    "v\"al\\ue\x01\xff\xc3\xa9");
	CU_ASSERT_EQUAL(r.status, 0);
	assert_one_json_object(&r);
	CU_ASSERT(starts_with(r.out, "{\"ok\":true,\"op\":\"put\",\"key\":"
				     "\"cli-key\",\"version\":\""));
	uint64_t hlc = json_u64(r.out, "hlc");
	CU_ASSERT(hlc != 0);
	CU_ASSERT(json_u64(r.out, "replicas") >= 2);
	char want[96];
	snprintf(want, sizeof(want), "\"version\":\"%llu.%llu\"",
		 (unsigned long long)hlc,
		 (unsigned long long)json_u64(r.out, "node"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));

	/* The value comes back escaped: quote, backslash, control byte;
	 * a byte that is not UTF-8 (0xff) as the code point U+00FF (in
	 * UTF-8, c3 bf), and valid UTF-8 as is. */
	CLI(&r, NULL, "get", "--json", "-c", f.file, "--consistency", "all",
	    "cli-key");
	CU_ASSERT_EQUAL(r.status, 0);
	assert_one_json_object(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(
		r.out, "\"value\":\"v\\\"al\\\\ue\\u0001\xc3\xbf\xc3\xa9\""));
	CU_ASSERT_EQUAL(json_u64(r.out, "hlc"), hlc);
	CU_ASSERT_EQUAL(json_u64(r.out, "replicas"), 3);

	/* Plain output. */
	CLI(&r, NULL, "-c", f.file, "-v", "get", "cli-key");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "v\"al\\ue\x01\xff\xc3\xa9\n");
	CU_ASSERT(starts_with(r.err, "version="));
	CLI(&r, "from stdin", "-c", f.file, "put", "cli-key2", "-");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(starts_with(r.out, "OK version="));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " replicas="));
	CLI(&r, NULL, "-c", f.file, "--consistency", "r=1", "get", "cli-key2");
	CU_ASSERT_STRING_EQUAL(r.out, "from stdin\n");

	CLI(&r, NULL, "-c", f.file, "--json", "del", "cli-key");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(json_u64(r.out, "hlc") > hlc);
	CLI(&r, NULL, "-c", f.file, "--json", "get", "cli-key");
	CU_ASSERT_EQUAL(r.status, 3);
	assert_one_json_object(&r);
	CU_ASSERT(starts_with(r.out, "{\"ok\":false,\"op\":\"get\",\"key\":"
				     "\"cli-key\",\"error\":\"NOT_FOUND\","
				     "\"code\":-1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"tombstone\":true"));

	/* --min-version accepts the printed HLC.NODE form. */
	CLI(&r, NULL, "-c", f.file, "--min-version", "12.1", "--json", "put",
	    "k3", "v");
	CU_ASSERT_EQUAL(r.status, 0);
}

/* The string value of "field" in a one-line JSON object into buf. */
static void json_str(const char *s, const char *field, char *buf, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", field);
	const char *p = strstr(s, pat);
	buf[0] = '\0';
	if (!p)
		return;
	p += strlen(pat);
	size_t len = strcspn(p, "\"");
	snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), p);
}

/* Issue 16: versions print readably too (TIME+LOGICAL.NODE) and that
 * form is accepted wherever a version is (--if-version, --min-version),
 * naming exactly the same version as HLC.NODE. */
static void cli_versions_readable(void)
{
	static struct run r;
	char rd[64], raw[64], want[160];
	CLI(&r, NULL, "-c", f.file, "--json", "put", "ver-key", "a");
	CU_ASSERT_EQUAL(r.status, 0);
	json_str(r.out, "version_time", rd, sizeof(rd));
	json_str(r.out, "version", raw, sizeof(raw));
	/* 2026-12-06T09:14:41.123Z+0.1: 24 characters of time. */
	CU_ASSERT(strlen(rd) > 26 && rd[10] == 'T' && rd[23] == 'Z' &&
		  rd[24] == '+');
	CU_ASSERT_STRING_EQUAL(strrchr(rd, '.'), strrchr(raw, '.'));
	CLI(&r, NULL, "-c", f.file, "get", "-v", "ver-key");
	snprintf(want, sizeof(want), "version=%s (%s) replicas=", raw, rd);
	CU_ASSERT(starts_with(r.err, want));
	/* CAS with the readable form: it is the current version. */
	CLI(&r, NULL, "-c", f.file, "--if-version", rd, "put", "ver-key", "b");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(starts_with(r.out, "OK version="));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Z+"));
	/* ... and no longer: PRECONDITION_FAILED (exit 6). */
	CLI(&r, NULL, "-c", f.file, "--if-version", rd, "put", "ver-key", "c");
	CU_ASSERT_EQUAL(r.status, 6);
	CLI(&r, NULL, "-c", f.file, "--min-version", rd, "get", "ver-key");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "b\n");
	CLI(&r, NULL, "-c", f.file, "--min-version", "2026-13-45T00:00:00.000Z",
	    "get", "ver-key");
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "--if-version", "2026-12-06T09:14:41.123Z",
	    "put", "ver-key", "d");
	CU_ASSERT_EQUAL(r.status, 1); /* no node: not a whole version */
}

static void cli_exit_codes(void)
{
	static struct run r;
	/* 1: usage, still one JSON object with --json. */
	CLI(&r, NULL, "--json", "-c", f.file, "frobnicate");
	CU_ASSERT_EQUAL(r.status, 1);
	assert_one_json_object(&r);
	/* The error is the code's name, like every other (issue 16). */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(r.out, "\"error\":\"INVALID_ARGUMENT\",\"code\":-8"));
	CLI(&r, NULL, "-c", f.file, "--consistency", "most", "get", "k");
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "--consistency", "w=2", "get", "k");
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "put", "k");
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "--help");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "exit status:"));
	/* Issue 16: `put --help` is put's help, not the whole text. */
	CLI(&r, NULL, "put", "--help");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(starts_with(r.out, "usage: quorate [--cluster FILE] "
				     "[options] put KEY VALUE|-|-f FILE\n"));
	CU_ASSERT_PTR_NULL(strstr(r.out, "\nexit status:\n"));
	unsetenv("QUORATE_CLUSTER");
	CLI(&r, NULL, "--json", "get", "k");
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "no cluster file"));
	/* Issue 16: `get` with no key names the missing key first, even
	 * with no cluster file. */
	CLI(&r, NULL, "get");
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "get takes KEY, got 0"));
	CU_ASSERT_PTR_NULL(strstr(r.err, "no cluster file"));
	/* $QUORATE_CLUSTER stands in for --cluster. */
	setenv("QUORATE_CLUSTER", f.file, 1);
	CLI(&r, NULL, "--json", "put", "env-key", "v");
	CU_ASSERT_EQUAL(r.status, 0);
	unsetenv("QUORATE_CLUSTER");

	/* 2: config. */
	char bad[80];
	snprintf(bad, sizeof(bad), "%s.bad", f.file);
	FILE *fp = fopen(bad, "w");
	QR_ASSERT(fp);
	fputs("[cluster]\nid = 1\nshardz = 2\n[node.0]\nip = 127.0.0.1\n", fp);
	fclose(fp);
	CLI(&r, NULL, "-c", bad, "--json", "get", "k");
	CU_ASSERT_EQUAL(r.status, 2);
	assert_one_json_object(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"error\":\"CONFIG\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "[cluster] shardz: unknown key"));
	unlink(bad);

	/* 3: NOT_FOUND (plain: nothing on stdout). */
	CLI(&r, NULL, "-c", f.file, "get", "cli-missing");
	CU_ASSERT_EQUAL(r.status, 3);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "NOT_FOUND"));

	/* 4: UNAVAILABLE (ALL with a replica silent). */
	struct qr_client *c = open_client(1000, 3);
	char key[32];
	key_led_by(c, 0, key, sizeof(key));
	qr_client_close(c);
	set_mode(2, MUTE);
	CLI(&r, NULL, "-c", f.file, "--json", "--consistency", "all",
	    "--deadline-ms", "300", "put", key, "v");
	CU_ASSERT_EQUAL(r.status, 4);
	assert_one_json_object(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"error\":\"UNAVAILABLE\""));
	heal();

	/* 5: TIMEOUT. */
	set_all(MUTE);
	CLI(&r, NULL, "-c", f.file, "--json", "--deadline-ms", "150", "get",
	    "k");
	CU_ASSERT_EQUAL(r.status, 5);
	assert_one_json_object(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"code\":-3"));
	heal();

	/* 7: TOO_LARGE, before anything is sent. Regression (issue 12,
	 * item 6): one byte over the limit was read into the value buffer
	 * (ASan: global-buffer-overflow); the same reader takes -f FILE. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/qr-test-cli-%d.big", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, QR_VALUE_BYTES_DEFAULT + 1), 0);
	close(fd);
	CLI(&r, NULL, "-c", f.file, "--json", "put", "k", "-f", path);
	CU_ASSERT_EQUAL(r.status, 7);
	assert_one_json_object(&r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "longer than 1048576 bytes"));
	unlink(path);
	/* 1,024 bytes on stdin (one frame's worth) still go through. */
	static char big[QR_VALUE_INLINE_MAX + 1];
	memset(big, 'x', QR_VALUE_INLINE_MAX);
	CLI(&r, big, "-c", f.file, "put", "k-1024", "-");
	CU_ASSERT_EQUAL(r.status, 0);
}

/* put -f FILE / -f - and get -o FILE: the value's exact bytes (a NUL and
 * no newline), both ways. */
static void cli_file_options(void)
{
	static struct run r;
	char in[64], out[64], got[64];
	snprintf(in, sizeof(in), "/tmp/qr-test-cli-%d.in", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/qr-test-cli-%d.out", (int)getpid());
	static const char v[] = "a\0b\nc"; /* 5 bytes */
	int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, v, 5), 5);
	close(fd);
	CLI(&r, NULL, "-c", f.file, "put", "file-k", "-f", in);
	CU_ASSERT_EQUAL(r.status, 0);
	CLI(&r, NULL, "-c", f.file, "get", "file-k", "-o", out);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, ""); /* the value went to the file */
	fd = open(out, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(read(fd, got, sizeof(got)), 5);
	CU_ASSERT(!memcmp(got, v, 5));
	close(fd);
	/* --json names the file instead of the value. */
	CLI(&r, NULL, "-c", f.file, "--json", "get", "file-k", "--output", out);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"value_len\":5"));
	CU_ASSERT_PTR_NULL(strstr(r.out, "\"value\":"));
	/* -f - reads stdin. */
	CLI(&r, "from stdin", "-c", f.file, "put", "file-k", "--file", "-");
	CU_ASSERT_EQUAL(r.status, 0);
	CLI(&r, NULL, "-c", f.file, "get", "file-k");
	CU_ASSERT_STRING_EQUAL(r.out, "from stdin\n");
	/* Misuse: usage errors, nothing sent. */
	CLI(&r, NULL, "-c", f.file, "put", "file-k", "v", "-f", in);
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "get", "file-k", "-f", in);
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "del", "file-k", "-o", out);
	CU_ASSERT_EQUAL(r.status, 1);
	CLI(&r, NULL, "-c", f.file, "put", "file-k", "-f", "/nonexistent/x");
	CU_ASSERT_EQUAL(r.status, 9);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "/nonexistent/x"));
	unlink(in);
	unlink(out);
}

static void cli_stat(void)
{
	static struct run r;
	CLI(&r, NULL, "-c", f.file, "--json", "stat", "--node", "1");
	CU_ASSERT_EQUAL(r.status, 0);
	assert_one_json_object(&r);
	CU_ASSERT(starts_with(r.out, "{\"node\":1,\"ops\":{"));

	CLI(&r, NULL, "-c", f.file, "--json", "stat");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(starts_with(r.out, "[{\"node\":0,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "},{\"node\":1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "},{\"node\":2,"));
	CU_ASSERT_EQUAL(strcmp(r.out + strlen(r.out) - 3, "}]\n"), 0);

	CLI(&r, NULL, "-c", f.file, "stat");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "node 0 ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n  node: 2\n  ops:\n    get: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "  peers:\n    -\n      id: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "  drops: {}\n"));

	/* A node whose endpoint is gone: its entry is an error object, the
	 * others still print, exit 4. */
	char other[80];
	snprintf(other, sizeof(other), "%s.stat", f.file);
	write_cluster_file(other, "/tmp/qr-test-client-nonexistent.sock");
	CLI(&r, NULL, "-c", other, "--json", "stat");
	CU_ASSERT_EQUAL(r.status, 4);
	CU_ASSERT(starts_with(r.out, "[{\"node\":0,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		r.out, ",{\"ok\":false,\"op\":\"stat\",\"node\":2,\"error\":"
		       "\"UNAVAILABLE\""));
	CLI(&r, NULL, "-c", other, "stat", "--node", "7");
	CU_ASSERT_EQUAL(r.status, 1);
	unlink(other);
}

/* quorate repair: the request reaches the node's core (one pass). */
static void cli_repair(void)
{
	static struct run r;
	uint64_t before = qr_core_stats(f.node[1].core)->ae_passes;
	CLI(&r, NULL, "-c", f.file, "--json", "repair", "--node", "1");
	CU_ASSERT_EQUAL(r.status, 0);
	assert_one_json_object(&r);
	CU_ASSERT(starts_with(r.out, "{\"ok\":true,\"node\":1,\"repair\":"
				     "\"requested\""));
	CU_ASSERT_EQUAL(qr_core_stats(f.node[1].core)->ae_passes, before + 1);
	CLI(&r, NULL, "-c", f.file, "repair", "now");
	CU_ASSERT_EQUAL(r.status, 1); /* usage */
}

/* Client keys end to end: libquorate and the CLI sign with the key file
 * the cluster file names; a read-only client's put is answered
 * UNAUTHORIZED (exit 9, the name on stderr), its get works; a key outside
 * its prefix is refused; a wrong key is dropped by the nodes (TIMEOUT). */
static void client_keys_roles_and_forgery(void)
{
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.deadline_ms = 300;
	o.client_id = 2; /* read-only */
	char err[256];
	struct qr_client *ro = qr_client_open(f.file, &o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
	struct qr_result res;
	CU_ASSERT_EQUAL(qr_client_put(ro, "ro-key", 6, "v", 1, NULL, &res),
			QR_EUNAUTHORIZED);
	CU_ASSERT_EQUAL(qr_client_get(ro, "ro-key", 6, NULL, 0, NULL, &res),
			QR_ENOTFOUND);
	qr_client_close(ro);
	static struct run r;
	setenv("QUORATE_CLIENT_ID", "2", 1);
	CLI(&r, NULL, "-c", f.file, "put", "ro-key", "v");
	CU_ASSERT_EQUAL(r.status, 9);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "UNAUTHORIZED"));
	setenv("QUORATE_CLIENT_ID", "3", 1); /* rw, under cli- only */
	CLI(&r, NULL, "-c", f.file, "put", "cli-mine", "v");
	CU_ASSERT_EQUAL(r.status, 0);
	CLI(&r, NULL, "-c", f.file, "put", "not-mine", "v");
	CU_ASSERT_EQUAL(r.status, 9);
	unsetenv("QUORATE_CLIENT_ID");
	/* A key file of our own making for client 1: dropped, counted. */
	char bad[64];
	snprintf(bad, sizeof(bad), "/tmp/qr-test-client-%d.bad", (int)getpid());
	int fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char line[100];
	int n = snprintf(line, sizeof(line), "1 rw * %064d\n", 7);
	CU_ASSERT(fd >= 0 && write(fd, line, (size_t)n) == n);
	close(fd);
	uint64_t drops = 0;
	for (int i = 0; i < N; i++)
		drops += qr_core_stats(f.node[i].core)->drops[QR_DROP_CLIENT_MAC];
	o.client_id = 0;
	o.key_file = bad;
	o.retries = 0;
	struct qr_client *forger = qr_client_open(f.file, &o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(forger);
	CU_ASSERT_EQUAL(qr_client_put(forger, "x", 1, "v", 1, NULL, &res),
			QR_ETIMEOUT);
	qr_client_close(forger);
	uint64_t after = 0;
	for (int i = 0; i < N; i++)
		after += qr_core_stats(f.node[i].core)->drops[QR_DROP_CLIENT_MAC];
	CU_ASSERT(after >= drops + 1);
	unlink(bad);
}

int main(void)
{
	if (qr_eal_init_local("test_client", 256) != 0)
		return 1;
	if (fake_start()) {
		fprintf(stderr, "cannot start the fake cluster: %s\n",
			strerror(errno));
		return 1;
	}
	static const struct qr_unit_case cases[] = {
		{"put_get_del_at_every_level", put_get_del_at_every_level},
		{"cas_ops_register_once_and_compare_versions",
		 cas_ops_register_once_and_compare_versions},
		{"bad_requests_fail_locally", bad_requests_fail_locally},
		{"session_token_raises_write_versions",
		 session_token_raises_write_versions},
		{"write_fails_over_when_coordinator_is_silent",
		 write_fails_over_when_coordinator_is_silent},
		{"unavailable_is_passed_through",
		 unavailable_is_passed_through},
		{"timeout_when_every_node_is_silent",
		 timeout_when_every_node_is_silent},
		{"replies_from_wrong_sources_or_ids_are_ignored",
		 replies_from_wrong_sources_or_ids_are_ignored},
		{"async_many_in_flight_answered_out_of_order",
		 async_many_in_flight_answered_out_of_order},
		{"async_lost_datagram_resent_with_same_req_id",
		 async_lost_datagram_resent_with_same_req_id},
		{"async_deadline_expiry_completes_with_timeout",
		 async_deadline_expiry_completes_with_timeout},
		{"async_busy_when_full_and_sync_calls_refused",
		 async_busy_when_full_and_sync_calls_refused},
		{"async_replies_from_wrong_sources_are_ignored",
		 async_replies_from_wrong_sources_are_ignored},
		{"async_batch_packs_requests_into_one_datagram",
		 async_batch_packs_requests_into_one_datagram},
		{"async_engine_over_a_caller_transport",
		 async_engine_over_a_caller_transport},
		{"async_example_program_runs", async_example_program_runs},
		{"long_request_cut_into_frags_and_resent_whole",
		 long_request_cut_into_frags_and_resent_whole},
		{"long_request_nack_resends_named_chunks",
		 long_request_nack_resends_named_chunks},
		{"long_request_limits", long_request_limits},
		{"long_reply_assembled_into_callers_buffer",
		 long_reply_assembled_into_callers_buffer},
		{"cli_put_get_del_json", cli_put_get_del_json},
		{"cli_versions_readable", cli_versions_readable},
		{"cli_exit_codes", cli_exit_codes},
		{"cli_file_options", cli_file_options},
		{"cli_stat", cli_stat},
		{"cli_repair", cli_repair},
		{"client_keys_roles_and_forgery",
		 client_keys_roles_and_forgery},
		{NULL, NULL},
	};
	int rc = qr_unit_main("client", cases);
	fake_stop();
	return rc;
}
