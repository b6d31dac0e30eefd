/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of fuzz_wire: small valid frames built with the
 * encoder (every message type, edge sizes, several messages per frame) and
 * corrupt ones made by patching valid frames at known offsets (the layouts
 * in src/core/wire.c). Names say what each file must do, and wire_replay
 * checks it: "ok-*" decodes completely, "err-<NAME>-*" fails with the error
 * whose qr_strerror() is NAME.
 *
 *   build-wire/tests/fuzz/gen_corpus_wire tests/fuzz/corpus/wire
 *
 * Deterministic: the same program writes the same bytes. Run it again after
 * a layout change and commit the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/limits.h"
#include "core/wire.h"
#include "quorate/err.h"

#define CORPUS_CLUSTER_ID 0x51524331u /* FUZZ_CLUSTER_ID in fuzz_wire.c */

static const char *out_dir;
static unsigned files_written;
static uint8_t key_bytes[QR_KEY_BYTES_MAX];
static uint8_t value_bytes[QR_VALUE_INLINE_MAX + 1];

static void write_file(const char *name, const uint8_t *buf, size_t len)
{
	char path[QR_PATH_BYTES_MAX];
	FILE *f;

	int l = snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	if (l < 0 || (size_t)l >= sizeof(path)) {
		fprintf(stderr, "gen_corpus: %s/%s: path too long\n", out_dir,
			name);
		exit(1);
	}
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	files_written++;
}

static void begin(struct qr_frame_writer *w, uint8_t *buf, uint16_t src)
{
	struct qr_frame_hdr h = {
		.cluster_id = CORPUS_CLUSTER_ID,
		.src_node = src,
		.dst_node = 2,
		.shard = 3,
		.hlc = src == QR_NODE_CLIENT ? 0 : 0x0001900000000005ull,
	};

	qr_wire_frame_begin(w, buf, QR_FRAME_BYTES_MAX, &h);
}

static void put(struct qr_frame_writer *w, const struct qr_msg *m)
{
	int rc = qr_wire_put(w, m);

	if (rc != 0) {
		fprintf(stderr, "gen_corpus: put type %u: %s\n", m->type,
			qr_strerror(rc));
		exit(1);
	}
}

/* A frame holding the one message m. */
static size_t one(uint8_t *buf, const struct qr_msg *m, uint16_t src)
{
	struct qr_frame_writer w;

	begin(&w, buf, src);
	put(&w, m);
	return qr_wire_frame_end(&w);
}

static struct qr_msg client_req(uint8_t op, uint8_t level, uint8_t klen,
				uint16_t vlen)
{
	return (struct qr_msg){
		.type = QR_MSG_CLIENT_REQ,
		.req_id = 1000 + op,
		.op = op,
		.level = level,
		.deadline_us = 50000,
		.key = key_bytes,
		.key_len = klen,
		.value = value_bytes,
		.value_len = vlen,
	};
}

static struct qr_msg replica_msg(uint8_t type, uint8_t klen, uint16_t vlen)
{
	struct qr_msg m = {
		.type = type,
		.op_id = 77,
		.partition = 513,
	};

	if (type != QR_MSG_READ) /* READ asks for a version: carries none */
		m.version = (struct qr_version){0x0001900000000003ull, 1};

	if (type == QR_MSG_REPLICATE || type == QR_MSG_READ ||
	    type == QR_MSG_PREPARE || type == QR_MSG_ACCEPT) {
		m.key = key_bytes;
		m.key_len = klen;
	}
	if (type == QR_MSG_REPLICATE || type == QR_MSG_READ_REPLY ||
	    type == QR_MSG_PROMISE || type == QR_MSG_ACCEPT) {
		m.value = value_bytes;
		m.value_len = vlen;
	}
	return m;
}

static const struct qr_msg heartbeat = {
	.type = QR_MSG_HEARTBEAT,
	.incarnation = 3,
	.closed_ts = 0,
};

static void gen_valid(void)
{
	uint8_t f[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_msg m;

	m = client_req(QR_OP_GET, QR_LEVEL_QUORUM, 7, 0);
	write_file("ok-client-req-get", f, one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_PUT, QR_LEVEL_RW, 12, 100);
	m.r = 2;
	m.w = 3;
	m.min_version = 0x0001900000000001ull;
	write_file("ok-client-req-put-rw", f, one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_DELETE, QR_LEVEL_ONE, 3, 0);
	write_file("ok-client-req-delete", f, one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_PUT, QR_LEVEL_ALL, 255, 1024);
	write_file("ok-client-req-key255-value1024", f,
		   one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_PUT, QR_LEVEL_ONE, 1, 0);
	write_file("ok-client-req-key1-value0", f, one(f, &m, QR_NODE_CLIENT));

	m = (struct qr_msg){.type = QR_MSG_CLIENT_REPLY,
			    .req_id = 1001,
			    .answered = 2,
			    .replica_mask = 0x6,
			    .version = {0x0001900000000003ull, 1},
			    .value = value_bytes,
			    .value_len = 40};
	write_file("ok-client-reply-value", f, one(f, &m, 1));
	m = (struct qr_msg){.type = QR_MSG_CLIENT_REPLY,
			    .flags = QR_MSGF_TOMBSTONE,
			    .req_id = 1002,
			    .status = QR_ENOTFOUND,
			    .answered = 3,
			    .replica_mask = 0x7,
			    .version = {0x0001900000000002ull, 2}};
	write_file("ok-client-reply-tombstone", f, one(f, &m, 1));
	m = (struct qr_msg){.type = QR_MSG_CLIENT_REPLY,
			    .req_id = 1003,
			    .status = QR_ETIMEOUT,
			    .answered = 1,
			    .replica_mask = 0x1};
	write_file("ok-client-reply-timeout", f, one(f, &m, 1));

	m = replica_msg(QR_MSG_REPLICATE, 9, 64);
	write_file("ok-replicate", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_REPLICATE, 9, 0);
	m.flags = QR_MSGF_TOMBSTONE;
	write_file("ok-replicate-tombstone", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_REPLICATE, 255, 1024);
	write_file("ok-replicate-key255-value1024", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_REPLICATE_ACK, 0, 0);
	write_file("ok-replicate-ack", f, one(f, &m, 2));
	m = replica_msg(QR_MSG_REPLICATE_ACK, 0, 0);
	m.status = QR_ENOSPC;
	write_file("ok-replicate-ack-error", f, one(f, &m, 2));
	m = replica_msg(QR_MSG_READ, 9, 0);
	write_file("ok-read", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_READ_REPLY, 0, 64);
	write_file("ok-read-reply", f, one(f, &m, 2));
	m = replica_msg(QR_MSG_READ_REPLY, 0, 0);
	m.status = QR_ENOTFOUND;
	m.version = QR_VERSION_NONE;
	write_file("ok-read-reply-notfound", f, one(f, &m, 2));
	write_file("ok-heartbeat", f, one(f, &heartbeat, 1));

	/* CASPaxos: client ops and the four acceptor messages. */
	m = client_req(QR_OP_PUT_IF_ABSENT, QR_LEVEL_QUORUM, 6, 10);
	write_file("ok-client-req-put-if-absent", f,
		   one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_PUT_IF_VERSION, QR_LEVEL_QUORUM, 6, 10);
	m.expected = (struct qr_version){0x0001900000000003ull, 2};
	write_file("ok-client-req-put-if-version", f,
		   one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_DELETE_IF_VERSION, QR_LEVEL_QUORUM, 6, 0);
	m.expected = (struct qr_version){0x0001900000000003ull, 2};
	write_file("ok-client-req-delete-if-version", f,
		   one(f, &m, QR_NODE_CLIENT));
	m = client_req(QR_OP_LIN_GET, QR_LEVEL_QUORUM, 6, 0);
	write_file("ok-client-req-lin-get", f, one(f, &m, QR_NODE_CLIENT));
	m = replica_msg(QR_MSG_PREPARE, 9, 0);
	write_file("ok-prepare", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_PROMISE, 0, 64);
	write_file("ok-promise", f, one(f, &m, 2));
	m = replica_msg(QR_MSG_PROMISE, 0, 0);
	m.status = QR_ESTALE;
	write_file("ok-promise-rejected", f, one(f, &m, 2));
	m = replica_msg(QR_MSG_ACCEPT, 9, 64);
	write_file("ok-accept", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_ACCEPT, 9, 0);
	m.flags = QR_MSGF_TOMBSTONE;
	write_file("ok-accept-tombstone", f, one(f, &m, 1));
	m = replica_msg(QR_MSG_ACCEPTED, 0, 0);
	write_file("ok-accepted", f, one(f, &m, 2));

	/* One of each type. */
	begin(&w, f, 1);
	for (uint8_t t = QR_MSG_CLIENT_REQ; t < QR_MSG_TYPE_END; t++) {
		struct qr_msg probe = {.type = t};
		if (!qr_wire_msg_bytes(&probe))
			continue; /* a number kept for later */
		if (t == QR_MSG_CLIENT_REQ)
			m = client_req(QR_OP_PUT, QR_LEVEL_QUORUM, 5, 20);
		else if (t == QR_MSG_CLIENT_REPLY)
			m = (struct qr_msg){.type = t,
					    .req_id = 5,
					    .answered = 2,
					    .replica_mask = 3,
					    .version = {9, 1}};
		else if (t == QR_MSG_HEARTBEAT)
			m = heartbeat;
		else if (t == QR_MSG_ORPHAN_REQ || t == QR_MSG_ORPHAN_DONE)
			m = (struct qr_msg){.type = t,
					    .range_from = 100,
					    .range_to = 200};
		else if (t == QR_MSG_TOPO_NEWS) /* epoch 9, members 0..3 */
			m = (struct qr_msg){.type = t, .op_id = 9,
					    .replica_mask = 0xf};
		else if (t == QR_MSG_FRAG) /* the last 20 B of 1044 */
			m = (struct qr_msg){.type = t,
					    .op_id = 7,
					    .incarnation = 1,
					    .frag = {1044, 512, 0x1234, 1024},
					    .value = (const uint8_t *)"0123456789"
								      "abcdefghij",
					    .value_len = 20};
		else if (t == QR_MSG_FRAG_NACK) /* chunks 2 and 4 of 3000 B */
			m = (struct qr_msg){.type = t,
					    .op_id = 8,
					    .incarnation = 1,
					    .frag = {3000, 512, 0x4321, 1024},
					    .value = (const uint8_t *)"\x05",
					    .value_len = 1};
		else
			m = replica_msg(t, 5, 20);
		put(&w, &m);
	}
	write_file("ok-multi-every-type", f, qr_wire_frame_end(&w));

	/* Several requests from a client. */
	begin(&w, f, QR_NODE_CLIENT);
	for (uint8_t i = 0; i < 6; i++) {
		m = client_req(QR_OP_GET + i % 3, QR_LEVEL_ONE + i % 4,
			       (uint8_t)(4 + i), i % 3 == 1 ? 30 : 0);
		if (m.level == QR_LEVEL_RW)
			m.r = m.w = 2;
		put(&w, &m);
	}
	write_file("ok-multi-client-reqs", f, qr_wire_frame_end(&w));

	/* A batch of replications, then acks. */
	begin(&w, f, 1);
	for (uint8_t i = 0; i < 8; i++) {
		m = replica_msg(QR_MSG_REPLICATE, (uint8_t)(8 + i),
				(uint16_t)(16 * i));
		m.op_id += i;
		put(&w, &m);
	}
	write_file("ok-multi-replicate", f, qr_wire_frame_end(&w));
	begin(&w, f, 2);
	for (uint8_t i = 0; i < 8; i++) {
		m = replica_msg(QR_MSG_REPLICATE_ACK, 0, 0);
		m.op_id += i;
		put(&w, &m);
	}
	write_file("ok-multi-replicate-ack", f, qr_wire_frame_end(&w));

	/* As many heartbeats as fit: (1472 - 24) / 16 = 90. */
	begin(&w, f, 1);
	while (qr_wire_put(&w, &heartbeat) == 0)
		;
	write_file("ok-multi-heartbeat-full", f, qr_wire_frame_end(&w));
}

/* A valid frame, patched into a corrupt one. */
static void gen_corrupt(void)
{
	uint8_t f[QR_FRAME_BYTES_MAX + 8];
	struct qr_frame_writer w;
	struct qr_msg m;
	size_t len;

	m = replica_msg(QR_MSG_REPLICATE, 9, 64);
	len = one(f, &m, 1);
	write_file("err-WIRE_SHORT-frame-header", f, 10);
	f[0] = 'X';
	write_file("err-WIRE_BAD_MAGIC", f, len);
	f[0] = 'Q';
	f[2] = QR_WIRE_PROTO + 1; /* proto */
	write_file("err-WIRE_BAD_VERSION-proto", f, len);
	f[2] = 1; /* proto 1: before the epoch field */
	write_file("err-WIRE_BAD_VERSION-proto1", f, len);
	f[2] = QR_WIRE_PROTO;
	f[4] ^= 1; /* cluster id */
	write_file("err-WIRE_WRONG_CLUSTER", f, len);
	f[4] ^= 1;
	f[3] = 0; /* msg_count */
	write_file("err-WIRE_BAD_COUNT-zero", f, len);
	f[3] = 10; /* 102 B of messages hold at most 6 */
	write_file("err-WIRE_BAD_COUNT-too-many", f, len);
	f[3] = 2; /* the second message's header is cut */
	f[len] = QR_MSG_HEARTBEAT;
	f[len + 1] = 0;
	write_file("err-WIRE_SHORT-msg-header", f, len + 2);
	f[3] = 1;
	f[len] = 0;
	write_file("err-WIRE_BAD_LENGTH-trailing", f, len + 1);
	write_file("err-WIRE_BAD_LENGTH-cut-value", f, len - 1);
	f[24 + 28] = 10; /* key_len: now length != fixed + key + value */
	write_file("err-WIRE_BAD_LENGTH-key-len", f, len);
	f[24 + 28] = 0; /* key_len 0, length 102 - 9 */
	f[24 + 2] = 93;
	write_file("err-WIRE_BAD_FIELD-key-len-0", f, len - 9);
	f[24 + 28] = 9;
	f[24 + 2] = 102;
	f[24 + 1] = 0x80; /* flags */
	write_file("err-WIRE_BAD_FIELD-flags", f, len);
	f[24 + 1] = QR_MSGF_TOMBSTONE; /* a tombstone with a value */
	write_file("err-WIRE_BAD_FIELD-tombstone-value", f, len);
	f[24 + 1] = 0;
	f[24] = QR_MSG_TYPE_END; /* type */
	write_file("err-WIRE_UNKNOWN_TYPE", f, len);

	/* A value of 1025 B, with a consistent length. */
	m = replica_msg(QR_MSG_REPLICATE, 1, 1024);
	len = one(f, &m, 1);
	f[len] = 0xee;
	f[24 + 2] = (uint8_t)(1055 & 0xff); /* length: 29 + 1 + 1025 */
	f[24 + 3] = (uint8_t)(1055 >> 8);
	f[24 + 26] = (uint8_t)(1025 & 0xff); /* value_len */
	f[24 + 27] = (uint8_t)(1025 >> 8);
	write_file("err-WIRE_BAD_FIELD-value-1025", f, len + 1);

	/* CLIENT_REQ: op, level, r and w. */
	m = client_req(QR_OP_GET, QR_LEVEL_RW, 4, 0);
	m.r = 2;
	len = one(f, &m, QR_NODE_CLIENT);
	write_file("ok-client-req-rw-r2", f, len);
	f[24 + 26] = 0; /* r = w = 0 */
	write_file("err-WIRE_BAD_FIELD-rw-zero", f, len);
	f[24 + 27] = 8; /* w > QR_RF_MAX */
	write_file("err-WIRE_BAD_FIELD-rw-8", f, len);
	f[24 + 27] = 0;
	f[24 + 26] = 2;
	f[24 + 25] = QR_LEVEL_END; /* level */
	write_file("err-WIRE_BAD_FIELD-level", f, len);
	f[24 + 25] = QR_LEVEL_RW;
	f[24 + 24] = 0; /* op */
	write_file("err-WIRE_BAD_FIELD-op", f, len);

	/* Too long: 91 heartbeats would need 1480 B. */
	begin(&w, f, 1);
	while (qr_wire_put(&w, &heartbeat) == 0)
		;
	len = qr_wire_frame_end(&w);
	memcpy(f + len, f + len - 16, 16);
	f[3]++;
	write_file("err-WIRE_BAD_LENGTH-frame-too-long", f, len + 16);

	/* Two good messages, then one cut short in the middle. */
	begin(&w, f, 1);
	m = replica_msg(QR_MSG_REPLICATE_ACK, 0, 0);
	put(&w, &m);
	put(&w, &heartbeat);
	m = replica_msg(QR_MSG_READ_REPLY, 0, 200);
	put(&w, &m);
	len = qr_wire_frame_end(&w);
	write_file("err-WIRE_BAD_LENGTH-third-cut", f, len - 100);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	for (size_t i = 0; i < sizeof(key_bytes); i++)
		key_bytes[i] = (uint8_t)('a' + i % 26);
	for (size_t i = 0; i < sizeof(value_bytes); i++)
		value_bytes[i] = (uint8_t)(i * 7 + 1);
	gen_valid();
	gen_corrupt();
	printf("gen_corpus: %u files in %s\n", files_written, out_dir);
	return 0;
}
