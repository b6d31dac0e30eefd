/* SPDX-License-Identifier: MIT */
/*
 * staleness: measure P(stale read) for W=1, R=1 (the seed lesson's table).
 *
 * A writer PUTs one key at a fixed rate through node A at consistency ONE
 * (acknowledged once A's own WAL has it); a reader GETs the same key through
 * node B at ONE, at Poisson-random times. B's replica link is delayed (by
 * tools/cluster delay B MS), so B's copy lags. A read is stale when it
 * returns a version older than the newest write acknowledged before the
 * read was sent. The seed's prediction: P(stale) ~= lag / inter-write
 * interval (capped at 1).
 *
 * Usage: staleness --cluster FILE --writer N --reader N --rate W/s
 *                  --seconds S [--reads-per-s R] [--key K]
 * Prints one line of key=value fields.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cluster.h"
#include "common/rng.h"
#include "core/placement.h"
#include "core/wire.h"
#include "quorate/err.h"

#define INFLIGHT_MAX 4096

struct pending {
	uint64_t req_id;
	uint8_t op;
	uint64_t sent_ns;
	uint64_t acked_at_send; /* newest acked write hlc when a read left */
};

static int send_req(int fd, const struct qr_cluster *cl, int node,
		    uint16_t shard, uint64_t req_id, uint8_t op,
		    const char *key, const char *value)
{
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr h = {
		.cluster_id = cl->id,
		.src_node = QR_NODE_CLIENT,
		.dst_node = (uint16_t)node,
		.shard = shard,
	};
	struct qr_msg m = {
		.type = QR_MSG_CLIENT_REQ,
		.req_id = req_id,
		.op = op,
		.level = QR_LEVEL_ONE,
		.deadline_us = 500000,
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.value = (const uint8_t *)value,
		.value_len = value ? (uint16_t)strlen(value) : 0,
	};
	qr_wire_frame_begin(&w, buf, sizeof(buf), &h);
	if (qr_wire_put(&w, &m))
		return -1;
	size_t len = qr_wire_frame_end(&w);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = cl->node[node].ip;
	a.sin_port = htons((uint16_t)(cl->base_port + shard));
	return sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)) < 0
		       ? -1
		       : 0;
}

int main(int argc, char **argv)
{
	const char *cfile = NULL, *key = "stale-key";
	int writer = 0, reader = 1;
	double rate = 10, seconds = 10, reads_per_s = 200;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--cluster"))
			cfile = v;
		else if (!strcmp(a, "--writer"))
			writer = atoi(v);
		else if (!strcmp(a, "--reader"))
			reader = atoi(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--reads-per-s"))
			reads_per_s = atof(v);
		else if (!strcmp(a, "--key"))
			key = v;
		else {
			fprintf(stderr, "staleness: unknown option %s\n", a);
			return 1;
		}
	}
	static struct qr_cluster cl;
	char err[256];
	if (!cfile || qr_cluster_load(cfile, &cl, err, sizeof(err))) {
		fprintf(stderr, "staleness: %s\n",
			cfile ? err : "--cluster FILE is required");
		return 2;
	}
	if (writer >= cl.nodes || reader >= cl.nodes || writer == reader ||
	    rate <= 0 || seconds <= 0 || reads_per_s <= 0) {
		fprintf(stderr, "staleness: bad arguments\n");
		return 1;
	}
	struct qr_placement pl;
	if (qr_placement_init(&pl, cl.partitions, cl.nodes, cl.rf,
			      cl.shards)) {
		fprintf(stderr, "staleness: placement\n");
		return 2;
	}
	uint32_t part = qr_placement_partition(&pl, key, strlen(key));
	uint16_t shard = qr_placement_shard(&pl, part);
	if (qr_placement_replica_index(&pl, part, (uint16_t)writer) < 0 ||
	    qr_placement_replica_index(&pl, part, (uint16_t)reader) < 0) {
		fprintf(stderr, "staleness: nodes %d and %d must both be "
				"replicas of %s\n",
			writer, reader, key);
		return 1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct qr_rng rng;
	qr_rng_seed(&rng, (uint64_t)qr_clock_mono_ns());
	static struct pending pend[INFLIGHT_MAX];
	uint64_t req = 1, acked_hlc = 0, writes_ok = 0, writes_err = 0;
	uint64_t reads = 0, stale = 0, reads_err = 0, lost = 0;
	uint64_t t0 = qr_clock_mono_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	uint64_t next_write = t0, next_read = t0 + 200000000; /* let a write land */
	uint64_t write_gap = (uint64_t)(1e9 / rate);
	while (qr_clock_mono_ns() < end + 600000000ull) {
		uint64_t now = qr_clock_mono_ns();
		if (now < end && now >= next_write) {
			char v[32];
			snprintf(v, sizeof(v), "w%" PRIu64, req);
			struct pending *p = &pend[req % INFLIGHT_MAX];
			if (p->req_id)
				lost++;
			*p = (struct pending){ req, QR_OP_PUT, now, 0 };
			if (send_req(fd, &cl, writer, shard, req, QR_OP_PUT,
				     key, v))
				writes_err++;
			req++;
			next_write += write_gap;
		}
		if (now < end && now >= next_read) {
			struct pending *p = &pend[req % INFLIGHT_MAX];
			if (p->req_id)
				lost++;
			*p = (struct pending){ req, QR_OP_GET, now, acked_hlc };
			if (send_req(fd, &cl, reader, shard, req, QR_OP_GET,
				     key, NULL))
				reads_err++;
			req++;
			/* Poisson: exponential gaps. */
			double u = ((double)(qr_rng_next(&rng) >> 11) + 1) /
				   9007199254740993.0;
			next_read += (uint64_t)(-log(u) / reads_per_s * 1e9);
		}
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		poll(&pf, 1, 1);
		uint8_t buf[2048];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			struct qr_frame_reader r;
			struct qr_msg m;
			if (qr_wire_frame_open(&r, buf, (size_t)n, cl.id, NULL))
				continue;
			while (qr_wire_next(&r, &m) > 0) {
				if (m.type != QR_MSG_CLIENT_REPLY)
					continue;
				struct pending *p = &pend[m.req_id % INFLIGHT_MAX];
				if (p->req_id != m.req_id)
					continue;
				if (p->op == QR_OP_PUT) {
					if (m.status == 0) {
						writes_ok++;
						if (m.version.hlc > acked_hlc)
							acked_hlc = m.version.hlc;
					} else {
						writes_err++;
					}
				} else if (m.status == 0 ||
					   m.status == QR_ENOTFOUND) {
					reads++;
					if (m.version.hlc < p->acked_at_send)
						stale++;
				} else {
					reads_err++;
				}
				p->req_id = 0;
			}
		}
	}
	double p = reads ? (double)stale / (double)reads : 0;
	printf("writer=%d reader=%d rate=%.0f reads=%" PRIu64 " stale=%" PRIu64
	       " p_stale=%.4f writes_ok=%" PRIu64 " writes_err=%" PRIu64
	       " reads_err=%" PRIu64 " unanswered=%" PRIu64 "\n",
	       writer, reader, rate, reads, stale, p, writes_ok, writes_err,
	       reads_err, lost);
	close(fd);
	qr_placement_fini(&pl);
	return 0;
}
