/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the wire codec (src/core/wire.c): round trips of every
 * message type at the edge sizes, the byte layout itself (golden offsets,
 * so a layout change cannot slip through a symmetric encoder/decoder pair),
 * frames of several messages, QR_EFULL and QR_EINVAL leaving the frame
 * unchanged, one crafted input per decoder error, and totality: every
 * truncation and random bit flips of a valid frame, decoded from a buffer
 * that ends at a PROT_NONE page, so an out-of-bounds read is a SIGSEGV even
 * without a sanitizer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/rng.h"
#include "core/wire.h"
#include "quorate/err.h"
#include "unit.h"

#define CLUSTER	 0xc0ffee01u
#define MSGS_MAX 256

static uint8_t key_bytes[QR_KEY_BYTES_MAX];
static uint8_t value_bytes[QR_VALUE_INLINE_MAX + 1];

static const struct qr_frame_hdr test_hdr = {
	.cluster_id = CLUSTER,
	.src_node = 4,
	.dst_node = 5,
	.shard = 6,
	.epoch = 0xbeef,
	.hlc = 0x1122334455667788ull,
};

static void fill_patterns(void)
{
	for (size_t i = 0; i < sizeof(key_bytes); i++)
		key_bytes[i] = (uint8_t)(i * 13 + 1);
	for (size_t i = 0; i < sizeof(value_bytes); i++)
		value_bytes[i] = (uint8_t)(i * 7 + 3);
}

/* Little-endian reads for the golden-layout checks: the tests' own. */
static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return n == 0 || (a && b && memcmp(a, b, n) == 0);
}

static bool msg_equal(const struct qr_msg *a, const struct qr_msg *b)
{
	return a->type == b->type && a->flags == b->flags &&
	       a->req_id == b->req_id && a->op == b->op &&
	       a->level == b->level && a->r == b->r && a->w == b->w &&
	       a->deadline_us == b->deadline_us &&
	       a->min_version == b->min_version && a->status == b->status &&
	       a->answered == b->answered &&
	       a->replica_mask == b->replica_mask && a->op_id == b->op_id &&
	       a->partition == b->partition &&
	       qr_version_cmp(a->version, b->version) == 0 &&
	       a->incarnation == b->incarnation &&
	       a->closed_ts == b->closed_ts && a->range_from == b->range_from &&
	       a->range_to == b->range_to &&
	       a->restart_hlc == b->restart_hlc && a->key_len == b->key_len &&
	       bytes_equal(a->key, b->key, a->key_len) &&
	       a->frag.total == b->frag.total &&
	       a->frag.chunk == b->frag.chunk && a->frag.crc == b->frag.crc &&
	       a->frag.offset == b->frag.offset &&
	       a->value_len == b->value_len &&
	       bytes_equal(a->value, b->value, a->value_len);
}

/*
 * A message of `type` with every field its layout carries set to a distinct
 * value, and every other field zero (as the decoder returns it).
 */
static struct qr_msg sample(uint8_t type, uint8_t key_len, uint16_t value_len)
{
	struct qr_msg m = {.type = type};
	bool keyed = false, valued = false;

	switch (type) {
	case QR_MSG_CLIENT_REQ:
		m.req_id = 0x0102030405060708ull;
		m.op = QR_OP_PUT;
		m.level = QR_LEVEL_RW;
		m.r = 2;
		m.w = 3;
		m.deadline_us = 0xa1a2a3a4u;
		m.min_version = 0xb1b2b3b4b5b6b7b8ull;
		keyed = valued = true;
		break;
	case QR_MSG_CLIENT_REPLY:
		m.req_id = 0x0102030405060708ull;
		m.status = QR_ETIMEOUT;
		m.answered = 5;
		m.replica_mask = 0xc1c2c3c4c5c6c7c8ull;
		m.version.hlc = 0xa1a2a3a4a5a6a7a8ull;
		m.version.node = 0x9394;
		m.closed_ts = 0x2122232425262728ull;
		valued = true;
		break;
	case QR_MSG_PREPARE:
	case QR_MSG_PROMISE:
	case QR_MSG_ACCEPT:
	case QR_MSG_ACCEPTED:
		m.op_id = 0xd1d2d3d4d5d6d7d8ull;
		m.partition = 0xe1e2e3e4u;
		m.version.hlc = 0xf1f2f3f4f5f6f7f8ull;
		m.version.node = 0x9192;
		if (type == QR_MSG_PROMISE || type == QR_MSG_ACCEPTED)
			m.status = QR_ESTALE;
		keyed = type == QR_MSG_PREPARE || type == QR_MSG_ACCEPT;
		valued = type == QR_MSG_PROMISE || type == QR_MSG_ACCEPT;
		break;
	case QR_MSG_REPLICATE:
	case QR_MSG_REPLICATE_ACK:
	case QR_MSG_READ:
	case QR_MSG_READ_REPLY:
		m.op_id = 0xd1d2d3d4d5d6d7d8ull;
		m.partition = 0xe1e2e3e4u;
		if (type != QR_MSG_READ) { /* READ carries no version */
			m.version.hlc = 0xf1f2f3f4f5f6f7f8ull;
			m.version.node = 0x9192;
		}
		if (type == QR_MSG_REPLICATE_ACK || type == QR_MSG_READ_REPLY)
			m.status = QR_ENOSPC;
		if (type == QR_MSG_READ_REPLY)
			m.closed_ts = 0x3132333435363738ull;
		keyed = type == QR_MSG_REPLICATE || type == QR_MSG_READ;
		valued = type == QR_MSG_REPLICATE || type == QR_MSG_READ_REPLY;
		break;
	case QR_MSG_HEARTBEAT:
		m.incarnation = 0x81828384u;
		m.closed_ts = 0x7172737475767778ull;
		break;
	case QR_MSG_DIGEST:
		m.partition = 0xe1e2e3e4u;
		m.entries = 0x61626364u;
		m.digest = 0x5152535455565758ull;
		break;
	case QR_MSG_ORPHAN_REQ:
	case QR_MSG_ORPHAN_DONE:
		m.range_from = 0x1112131415161718ull;
		m.range_to = 0x4142434445464748ull;
		m.restart_hlc = 0x3132333435363738ull;
		break;
	case QR_MSG_TOPO_NEWS:
		m.op_id = 0x0102030405060708ull;
		m.replica_mask = 0x1121314151617181ull;
		break;
	case QR_MSG_FRAG: /* a middle or last chunk of a long message */
		m.op_id = 0x2122232425262728ull;
		m.incarnation = 0x91929394u;
		m.frag.chunk = QR_VALUE_INLINE_MAX;
		m.frag.offset = 2 * QR_VALUE_INLINE_MAX;
		if (value_len == 0)
			value_len = 1; /* every fragment holds bytes */
		m.frag.total = m.frag.offset + value_len;
		m.frag.crc = 0xa1a2a3a4u;
		valued = true;
		break;
	case QR_MSG_FRAG_NACK: /* a bitmap of missing chunks, 1..128 B */
		m.op_id = 0x3132333435363738ull;
		m.incarnation = 0x81828384u;
		m.frag.chunk = QR_FRAG_CHUNK_MIN;
		m.frag.offset = 0;
		value_len = QR_MAX(1u, QR_MIN(value_len, QR_FRAG_NACK_BYTES_MAX));
		m.frag.total = value_len * 8 * QR_FRAG_CHUNK_MIN;
		m.frag.crc = 0xb1b2b3b4u;
		valued = true;
		break;
	}
	if (keyed) {
		m.key = key_bytes;
		m.key_len = key_len;
	}
	if (valued) {
		m.value = value_bytes;
		m.value_len = value_len;
	}
	return m;
}

static bool type_keyed(uint8_t t)
{
	return t == QR_MSG_CLIENT_REQ || t == QR_MSG_REPLICATE ||
	       t == QR_MSG_READ || t == QR_MSG_PREPARE || t == QR_MSG_ACCEPT;
}

static bool type_valued(uint8_t t)
{
	return t == QR_MSG_CLIENT_REQ || t == QR_MSG_FRAG || t == QR_MSG_CLIENT_REPLY ||
	       t == QR_MSG_REPLICATE || t == QR_MSG_READ_REPLY ||
	       t == QR_MSG_PROMISE || t == QR_MSG_ACCEPT;
}

/* Message types that exist (numbers may be reserved for later). */
static bool type_exists(uint8_t t)
{
	struct qr_msg m = {.type = t};
	return qr_wire_msg_bytes(&m) != 0;
}

static int types_count(void)
{
	int n = 0;
	for (uint8_t t = 1; t < QR_MSG_TYPE_END; t++)
		n += type_exists(t);
	return n;
}

/* Decode a whole frame: 0 and *n messages, or the first error. */
static int decode_all(const uint8_t *buf, size_t len, uint32_t cluster,
		      struct qr_msg *msgs, int *n)
{
	struct qr_frame_reader r;
	int rc;

	*n = 0;
	rc = qr_wire_frame_open(&r, buf, len, cluster, NULL);
	if (rc != 0)
		return rc;
	while ((rc = qr_wire_next(&r, &msgs[*n])) == 1)
		if (++*n >= MSGS_MAX)
			return -1000; /* cannot happen: msg_count is a u8 */
	return rc;
}

static size_t encode_one(uint8_t *buf, const struct qr_msg *m)
{
	struct qr_frame_writer w;

	qr_wire_frame_begin(&w, buf, QR_FRAME_BYTES_MAX, &test_hdr);
	CU_ASSERT_EQUAL_FATAL(qr_wire_put(&w, m), 0);
	return qr_wire_frame_end(&w);
}

/* A valid frame holding one message of every type, ~1.3 KB. */
static size_t sample_frame(uint8_t *buf, struct qr_msg *sent, int *n)
{
	struct qr_frame_writer w;

	*n = 0;
	qr_wire_frame_begin(&w, buf, QR_FRAME_BYTES_MAX, &test_hdr);
	for (uint8_t t = QR_MSG_CLIENT_REQ; t < QR_MSG_TYPE_END; t++) {
		if (!type_exists(t))
			continue;
		sent[*n] = sample(t, (uint8_t)(10 + t), (uint16_t)(20 * t % 256));
		CU_ASSERT_EQUAL_FATAL(qr_wire_put(&w, &sent[*n]), 0);
		++*n;
	}
	/* A second REPLICATE, a tombstone, so the frame has a flag set. */
	sent[*n] = sample(QR_MSG_REPLICATE, 1, 0);
	sent[*n].flags = QR_MSGF_TOMBSTONE;
	CU_ASSERT_EQUAL_FATAL(qr_wire_put(&w, &sent[*n]), 0);
	++*n;
	return qr_wire_frame_end(&w);
}

/*
 * A copy of buf that ends exactly where a PROT_NONE page begins: a read one
 * byte past the end faults.
 */
static uint8_t *guard_base;
static size_t guard_page;

static uint8_t *guarded_copy(const uint8_t *buf, size_t len)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		void *p = mmap(NULL, 2 * guard_page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CU_ASSERT_FATAL(p != MAP_FAILED);
		guard_base = p;
		CU_ASSERT_FATAL(mprotect(guard_base + guard_page, guard_page,
					 PROT_NONE) == 0);
	}
	CU_ASSERT_FATAL(len <= guard_page);
	uint8_t *dst = guard_base + guard_page - len;
	if (len)
		memcpy(dst, buf, len);
	return dst;
}

static void test_roundtrip_every_type_edge_sizes(void)
{
	static const uint8_t keys[] = {1, 255};
	static const uint16_t values[] = {0, 1, 1024};
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_msg got[MSGS_MAX];
	int n, cases = 0;

	for (uint8_t t = QR_MSG_CLIENT_REQ; t < QR_MSG_TYPE_END; t++) {
		if (!type_exists(t))
			continue;
		for (size_t k = 0; k < QR_ARRAY_LEN(keys); k++) {
			for (size_t v = 0; v < QR_ARRAY_LEN(values); v++) {
				struct qr_msg m = sample(t, keys[k], values[v]);
				size_t len = encode_one(buf, &m);

				CU_ASSERT_EQUAL(len,
						QR_FRAME_HDR_BYTES +
							qr_wire_msg_bytes(&m));
				CU_ASSERT_EQUAL(
					decode_all(buf, len, CLUSTER, got, &n),
					0);
				CU_ASSERT_EQUAL(n, 1);
				CU_ASSERT(msg_equal(&m, &got[0]));
				/* Zero copy: key and value point into buf. */
				if (type_keyed(t))
					CU_ASSERT(got[0].key > buf &&
						  got[0].key < buf + len);
				if (type_valued(t) && values[v])
					CU_ASSERT(got[0].value > buf &&
						  got[0].value < buf + len);
				cases++;
			}
		}
	}
	CU_ASSERT_EQUAL(cases, types_count() * 2 * 3);
}

/* A tombstone round-trips for the three types that may carry one. */
static void test_roundtrip_tombstones(void)
{
	static const uint8_t types[] = {QR_MSG_CLIENT_REPLY, QR_MSG_REPLICATE,
					QR_MSG_READ_REPLY};
	uint8_t buf[QR_FRAME_BYTES_MAX];
	struct qr_msg got[MSGS_MAX];
	int n;

	for (size_t i = 0; i < QR_ARRAY_LEN(types); i++) {
		struct qr_msg m = sample(types[i], 8, 0);

		m.flags = QR_MSGF_TOMBSTONE;
		size_t len = encode_one(buf, &m);
		CU_ASSERT_EQUAL(decode_all(buf, len, CLUSTER, got, &n), 0);
		CU_ASSERT_EQUAL(got[0].flags, QR_MSGF_TOMBSTONE);
		CU_ASSERT(msg_equal(&m, &got[0]));
	}
}

/*
 * The bytes themselves, at the offsets docs/protocol.md gives. A layout
 * change that the encoder and decoder make together fails here.
 */
static void test_layout_golden_offsets(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg m;
	const uint8_t *p = b + QR_FRAME_HDR_BYTES;
	size_t len;

	m = sample(QR_MSG_CLIENT_REQ, 3, 2);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 41 + 3 + 2);
	/* frame header */
	CU_ASSERT(b[0] == 'Q' && b[1] == 'R');
	CU_ASSERT_EQUAL(b[2], QR_WIRE_PROTO);
	CU_ASSERT_EQUAL(b[3], 1);
	CU_ASSERT_EQUAL(le(b + 4, 4), CLUSTER);
	CU_ASSERT_EQUAL(le(b + 8, 2), 4);
	CU_ASSERT_EQUAL(le(b + 10, 2), 5);
	CU_ASSERT_EQUAL(le(b + 12, 2), 6);
	CU_ASSERT_EQUAL(le(b + 14, 2), 0xbeef); /* epoch */
	CU_ASSERT_EQUAL(le(b + 16, 8), test_hdr.hlc);
	/* CLIENT_REQ */
	CU_ASSERT_EQUAL(p[0], QR_MSG_CLIENT_REQ);
	CU_ASSERT_EQUAL(p[1], 0);
	CU_ASSERT_EQUAL(le(p + 2, 2), 46);
	CU_ASSERT_EQUAL(le(p + 4, 8), m.req_id);
	CU_ASSERT_EQUAL(le(p + 12, 8), m.min_version);
	CU_ASSERT_EQUAL(le(p + 20, 4), m.deadline_us);
	CU_ASSERT(p[24] == QR_OP_PUT && p[25] == QR_LEVEL_RW);
	CU_ASSERT(p[26] == 2 && p[27] == 3);
	CU_ASSERT_EQUAL(le(p + 28, 2), 2);
	CU_ASSERT_EQUAL(p[30], 3);
	CU_ASSERT_EQUAL(le(p + 31, 8), 0); /* expected: none for a PUT */
	CU_ASSERT_EQUAL(le(p + 39, 2), 0);
	CU_ASSERT(memcmp(p + 41, key_bytes, 3) == 0);
	CU_ASSERT(memcmp(p + 44, value_bytes, 2) == 0);

	/* CLIENT_REQ of a compare-and-set: expected at 31 (hlc), 39 (node). */
	m = sample(QR_MSG_CLIENT_REQ, 3, 2);
	m.op = QR_OP_PUT_IF_VERSION;
	m.level = QR_LEVEL_QUORUM;
	m.r = m.w = 0;
	m.expected = (struct qr_version){0x1112131415161718ull, 0x2122};
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 41 + 3 + 2);
	CU_ASSERT_EQUAL(p[24], QR_OP_PUT_IF_VERSION);
	CU_ASSERT_EQUAL(le(p + 31, 8), m.expected.hlc);
	CU_ASSERT_EQUAL(le(p + 39, 2), m.expected.node);

	/* PREPARE: op_id 4, partition 12, ballot 16/24, key_len 26, key 27. */
	m = sample(QR_MSG_PREPARE, 3, 0);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 27 + 3);
	CU_ASSERT_EQUAL(p[0], QR_MSG_PREPARE);
	CU_ASSERT_EQUAL(le(p + 4, 8), m.op_id);
	CU_ASSERT_EQUAL(le(p + 12, 4), m.partition);
	CU_ASSERT_EQUAL(le(p + 16, 8), m.version.hlc);
	CU_ASSERT_EQUAL(le(p + 24, 2), m.version.node);
	CU_ASSERT_EQUAL(p[26], 3);
	CU_ASSERT(memcmp(p + 27, key_bytes, 3) == 0);
	/* PROMISE has READ_REPLY's layout, ACCEPT REPLICATE's, ACCEPTED
	 * REPLICATE_ACK's: status at 26, value_len 28 / key_len 28. */
	m = sample(QR_MSG_PROMISE, 0, 2);
	m.flags = QR_MSGF_UNSURE; /* the one flag of its own */
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(p[1], QR_MSGF_UNSURE);
	CU_ASSERT_EQUAL(len, 24 + 30 + 2);
	CU_ASSERT_EQUAL((int16_t)le(p + 26, 2), QR_ESTALE);
	CU_ASSERT_EQUAL(le(p + 28, 2), 2);
	m = sample(QR_MSG_ACCEPT, 3, 2);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 29 + 3 + 2);
	CU_ASSERT_EQUAL(le(p + 26, 2), 2);
	CU_ASSERT_EQUAL(p[28], 3);
	m = sample(QR_MSG_ACCEPTED, 0, 0);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 28);
	CU_ASSERT_EQUAL((int16_t)le(p + 26, 2), QR_ESTALE);

	m = sample(QR_MSG_CLIENT_REPLY, 0, 2);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 43 + 2);
	CU_ASSERT_EQUAL(le(p + 2, 2), 45);
	CU_ASSERT_EQUAL(le(p + 4, 8), m.req_id);
	CU_ASSERT_EQUAL(le(p + 12, 8), m.replica_mask);
	CU_ASSERT_EQUAL(le(p + 20, 8), m.version.hlc);
	CU_ASSERT_EQUAL(le(p + 28, 2), m.version.node);
	CU_ASSERT_EQUAL((int16_t)le(p + 30, 2), QR_ETIMEOUT);
	CU_ASSERT_EQUAL(le(p + 32, 2), 2);
	CU_ASSERT_EQUAL(p[34], 5);
	CU_ASSERT_EQUAL(le(p + 35, 8), m.closed_ts);
	CU_ASSERT(memcmp(p + 43, value_bytes, 2) == 0);

	/* The replica prefix, the version (not in READ), each type's tail. */
	for (uint8_t t = QR_MSG_REPLICATE; t <= QR_MSG_READ_REPLY; t++) {
		m = sample(t, 3, 2);
		encode_one(b, &m);
		CU_ASSERT_EQUAL(p[0], t);
		CU_ASSERT_EQUAL(le(p + 4, 8), m.op_id);
		CU_ASSERT_EQUAL(le(p + 12, 4), m.partition);
		if (t == QR_MSG_READ)
			continue;
		CU_ASSERT_EQUAL(le(p + 16, 8), m.version.hlc);
		CU_ASSERT_EQUAL(le(p + 24, 2), m.version.node);
	}
	m = sample(QR_MSG_REPLICATE, 3, 2);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 29 + 3 + 2);
	CU_ASSERT_EQUAL(le(p + 26, 2), 2);
	CU_ASSERT_EQUAL(p[28], 3);
	CU_ASSERT(memcmp(p + 29, key_bytes, 3) == 0);
	CU_ASSERT(memcmp(p + 32, value_bytes, 2) == 0);
	m = sample(QR_MSG_REPLICATE_ACK, 0, 0);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 28);
	CU_ASSERT_EQUAL((int16_t)le(p + 26, 2), QR_ENOSPC);
	m = sample(QR_MSG_READ, 3, 0);
	m.version.hlc = 1; /* not carried: ignored */
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 17 + 3);
	CU_ASSERT_EQUAL(p[16], 3);
	CU_ASSERT(memcmp(p + 17, key_bytes, 3) == 0);
	m = sample(QR_MSG_READ_REPLY, 0, 2);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 38 + 2);
	CU_ASSERT_EQUAL((int16_t)le(p + 26, 2), QR_ENOSPC);
	CU_ASSERT_EQUAL(le(p + 28, 8), m.closed_ts);
	CU_ASSERT_EQUAL(le(p + 36, 2), 2);
	CU_ASSERT(memcmp(p + 38, value_bytes, 2) == 0);
	m = sample(QR_MSG_ORPHAN_REQ, 0, 0);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 28);
	CU_ASSERT_EQUAL(le(p + 4, 8), m.range_from);
	CU_ASSERT_EQUAL(le(p + 12, 8), m.range_to);
	CU_ASSERT_EQUAL(le(p + 20, 8), m.restart_hlc);

	m = sample(QR_MSG_HEARTBEAT, 0, 0);
	len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 16);
	CU_ASSERT_EQUAL(le(p + 2, 2), 16);
	CU_ASSERT_EQUAL(le(p + 4, 8), m.closed_ts);
	CU_ASSERT_EQUAL(le(p + 12, 4), m.incarnation);
}

/* Fields outside the type's layout are neither written nor returned. */
static void test_fields_of_other_types_ignored(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg got[MSGS_MAX];
	int n;
	struct qr_msg m = sample(QR_MSG_HEARTBEAT, 0, 0);

	m.req_id = 99;
	m.op_id = 98;
	m.key = key_bytes;
	m.key_len = 0; /* would be QR_EINVAL for a keyed type */
	m.value = value_bytes;
	m.value_len = 5000; /* would be QR_EINVAL for a valued type */
	CU_ASSERT_EQUAL(qr_wire_msg_bytes(&m), 16);
	size_t len = encode_one(b, &m);
	CU_ASSERT_EQUAL(len, 24 + 16);
	CU_ASSERT_EQUAL(decode_all(b, len, CLUSTER, got, &n), 0);
	struct qr_msg want = sample(QR_MSG_HEARTBEAT, 0, 0);
	CU_ASSERT(msg_equal(&want, &got[0]));
	CU_ASSERT(got[0].key == NULL && got[0].value == NULL);
	CU_ASSERT_EQUAL(got[0].req_id, 0);
}

static void test_several_messages_in_one_frame(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1], got[MSGS_MAX];
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	int n;

	size_t len = sample_frame(b, sent, &n);
	CU_ASSERT_EQUAL(n, types_count() + 1); /* one per type, a tombstone */
	CU_ASSERT_EQUAL_FATAL(qr_wire_frame_open(&r, b, len, CLUSTER, &h), 0);
	CU_ASSERT_EQUAL(h.msg_count, types_count() + 1);
	CU_ASSERT_EQUAL(h.cluster_id, CLUSTER);
	CU_ASSERT(h.src_node == 4 && h.dst_node == 5 && h.shard == 6);
	CU_ASSERT_EQUAL(h.hlc, test_hdr.hlc);
	CU_ASSERT_EQUAL(h.epoch, test_hdr.epoch);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(qr_wire_next(&r, &got[i]), 1);
		CU_ASSERT(msg_equal(&sent[i], &got[i]));
	}
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got[n]), 0);
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got[n]), 0);
}

static void test_set_hlc_rewrites_only_hlc(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX], before[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1];
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	int n;

	size_t len = sample_frame(b, sent, &n);
	memcpy(before, b, len);
	qr_wire_frame_set_hlc(b, 0x0a0b0c0d0e0f1011ull);
	CU_ASSERT(memcmp(b, before, 16) == 0);
	CU_ASSERT(memcmp(b + 24, before + 24, len - 24) == 0);
	CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, len, CLUSTER, &h), 0);
	CU_ASSERT_EQUAL(h.hlc, 0x0a0b0c0d0e0f1011ull);
}

/* The epoch is stamped at send time too (topology.c T6): the low 16 bits
 * of the core's, and nothing else moves. */
static void test_set_epoch_rewrites_only_epoch(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX], before[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1];
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	int n;

	size_t len = sample_frame(b, sent, &n);
	memcpy(before, b, len);
	qr_wire_frame_set_epoch(b, 0x123456789abcull);
	CU_ASSERT(memcmp(b, before, 14) == 0);
	CU_ASSERT(memcmp(b + 16, before + 16, len - 16) == 0);
	CU_ASSERT_EQUAL_FATAL(qr_wire_frame_open(&r, b, len, CLUSTER, &h), 0);
	CU_ASSERT_EQUAL(h.epoch, 0x9abc);
	CU_ASSERT_EQUAL(h.hlc, test_hdr.hlc);
}

/* Fill a frame; the put that does not fit returns QR_EFULL and changes
 * neither the buffer nor the writer, and the frame still decodes. */
static void test_full_frame_unchanged(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX + 64], before[sizeof(b)];
	struct qr_msg got[MSGS_MAX];
	struct qr_frame_writer w;
	int rc, puts = 0, n;

	/* the caller's cap is the frame's size (a client frame's here) */
	qr_wire_frame_begin(&w, b, QR_FRAME_BYTES_MAX, &test_hdr);
	CU_ASSERT_EQUAL(w.cap, QR_FRAME_BYTES_MAX);
	struct qr_msg m = sample(QR_MSG_REPLICATE, 40, 300); /* 369 B */
	while ((rc = qr_wire_put(&w, &m)) == 0)
		puts++;
	CU_ASSERT_EQUAL(rc, QR_EFULL);
	CU_ASSERT_EQUAL(puts, (QR_FRAME_BYTES_MAX - 24) / 369);
	CU_ASSERT_EQUAL(w.count, puts);

	memcpy(before, b, sizeof(b));
	struct qr_frame_writer wb = w;
	CU_ASSERT_EQUAL(qr_wire_put(&w, &m), QR_EFULL);
	CU_ASSERT(memcmp(before, b, sizeof(b)) == 0);
	CU_ASSERT(w.len == wb.len && w.count == wb.count);

	/* A smaller message still fits in the space left. */
	size_t room = QR_FRAME_BYTES_MAX - w.len;
	struct qr_msg small = sample(QR_MSG_REPLICATE, 1, 0);
	small.value_len = (uint16_t)(room - 29 - 1);
	CU_ASSERT_EQUAL(qr_wire_put(&w, &small), 0);
	CU_ASSERT_EQUAL(w.len, QR_FRAME_BYTES_MAX);
	struct qr_msg hb = sample(QR_MSG_HEARTBEAT, 0, 0);
	CU_ASSERT_EQUAL(qr_wire_put(&w, &hb), QR_EFULL);

	size_t len = qr_wire_frame_end(&w);
	CU_ASSERT_EQUAL(len, QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(decode_all(b, len, CLUSTER, got, &n), 0);
	CU_ASSERT_EQUAL(n, puts + 1);
	CU_ASSERT(msg_equal(&got[n - 1], &small));
}

/* Fill w with REPLICATEs (key 1 B, 29 + 1 + value B each) to exactly
 * `total` bytes; the number of messages put. */
static int fill_exact(struct qr_frame_writer *w, size_t total)
{
	int n = 0;
	while (w->len < total) {
		size_t room = total - w->len;
		struct qr_msg m = sample(QR_MSG_REPLICATE, 1, 0);
		size_t v = room - 30;
		if (v > QR_VALUE_INLINE_MAX) /* leave >= 30 B for the last */
			v = room - 30 - QR_VALUE_INLINE_MAX >= 30
				    ? QR_VALUE_INLINE_MAX
				    : QR_VALUE_INLINE_MAX / 2;
		m.value_len = (uint16_t)v;
		CU_ASSERT_FATAL(room >= 30 && qr_wire_put(w, &m) == 0);
		n++;
	}
	return n;
}

/*
 * limits.h L6: a node's frame of peer_frame_bytes decodes, one byte more is
 * QR_EWIRE_LENGTH (the core counts it a WIRE drop); a client's frame stays
 * at 1472 B whatever the peer limit; the writer and the peer limit clamp
 * at QR_FRAME_JUMBO_MAX.
 */
static void test_peer_frame_limits(void)
{
	static uint8_t b[QR_FRAME_JUMBO_MAX + 64];
	static struct qr_msg got[MSGS_MAX];
	struct qr_frame_writer w;
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	const size_t sizes[] = {QR_FRAME_BYTES_MAX + 1, 4008,
				QR_FRAME_JUMBO_MAX};

	qr_wire_frame_begin(&w, b, sizeof(b), &test_hdr);
	CU_ASSERT_EQUAL(w.cap, QR_FRAME_JUMBO_MAX);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t p = sizes[i];
		qr_wire_frame_begin(&w, b, p, &test_hdr);
		int puts = fill_exact(&w, p);
		CU_ASSERT_EQUAL_FATAL(qr_wire_frame_end(&w), p);
		/* fits the configured size: every message decodes */
		CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, p, CLUSTER, p,
							&h),
				0);
		CU_ASSERT_EQUAL(h.src_node, test_hdr.src_node);
		int n = 0, rc;
		while ((rc = qr_wire_next(&r, &got[n])) == 1)
			n++;
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(n, puts);
		/* over it, or over the default 1472 */
		CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, p, CLUSTER,
							p - 1, NULL),
				QR_EWIRE_LENGTH);
		CU_ASSERT_EQUAL(qr_wire_next(&r, &got[0]), 0);
		CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, p, CLUSTER, NULL),
				QR_EWIRE_LENGTH);
		/* one byte more than the limit (the count check would pass) */
		CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, p + 1, CLUSTER,
							p, NULL),
				QR_EWIRE_LENGTH);
	}
	/* the peer limit clamps at the jumbo ceiling, and below at 1472 */
	CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, QR_FRAME_JUMBO_MAX + 1,
						CLUSTER, 65535, NULL),
			QR_EWIRE_LENGTH);
	CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, QR_FRAME_JUMBO_MAX,
						CLUSTER, 65535, NULL),
			0);
	qr_wire_frame_begin(&w, b, QR_FRAME_BYTES_MAX, &test_hdr);
	fill_exact(&w, QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, qr_wire_frame_end(&w),
						CLUSTER, 0, NULL),
			0);

	/* A client's frame: 1472 B decodes, 1473 B is refused even where
	 * nodes may send 8972 B. */
	struct qr_frame_hdr ch = test_hdr;
	ch.src_node = QR_NODE_CLIENT;
	qr_wire_frame_begin(&w, b, QR_FRAME_BYTES_MAX + 1, &ch);
	fill_exact(&w, QR_FRAME_BYTES_MAX + 1);
	CU_ASSERT_EQUAL(qr_wire_frame_end(&w), QR_FRAME_BYTES_MAX + 1);
	CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, QR_FRAME_BYTES_MAX + 1,
						CLUSTER, QR_FRAME_JUMBO_MAX,
						NULL),
			QR_EWIRE_LENGTH);
	qr_wire_frame_begin(&w, b, QR_FRAME_BYTES_MAX, &ch);
	fill_exact(&w, QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(qr_wire_frame_end(&w), QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(qr_wire_frame_open_peer(&r, b, QR_FRAME_BYTES_MAX,
						CLUSTER, QR_FRAME_JUMBO_MAX,
						NULL),
			0);
}

/* A small cap is honoured too: 24 + 16 fits one heartbeat exactly. */
static void test_full_small_cap(void)
{
	uint8_t b[64];
	struct qr_frame_writer w;
	struct qr_msg hb = sample(QR_MSG_HEARTBEAT, 0, 0);

	memset(b, 0xa5, sizeof(b));
	qr_wire_frame_begin(&w, b, 40, &test_hdr);
	CU_ASSERT_EQUAL(qr_wire_put(&w, &hb), 0);
	CU_ASSERT_EQUAL(qr_wire_put(&w, &hb), QR_EFULL);
	CU_ASSERT_EQUAL(qr_wire_frame_end(&w), 40);
	CU_ASSERT_EQUAL(b[40], 0xa5); /* nothing past cap */

	/* One byte short of room: QR_EFULL, nothing written. */
	memset(b, 0xa5, sizeof(b));
	qr_wire_frame_begin(&w, b, 39, &test_hdr);
	CU_ASSERT_EQUAL(qr_wire_put(&w, &hb), QR_EFULL);
	CU_ASSERT_EQUAL(w.len, QR_FRAME_HDR_BYTES);
	CU_ASSERT_EQUAL(b[24], 0xa5);
}

/* Out-of-range fields: QR_EINVAL and nothing written. */
static void test_encoder_rejects_bad_fields(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX], before[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_msg bad[32];
	int nbad = 0;

	bad[nbad++] = (struct qr_msg){.type = 0};
	bad[nbad++] = (struct qr_msg){.type = QR_MSG_TYPE_END};
	bad[nbad++] = sample(QR_MSG_CLIENT_REQ, 0, 0);	 /* key_len 0 */
	bad[nbad++] = sample(QR_MSG_REPLICATE, 0, 4);	 /* key_len 0 */
	bad[nbad++] = sample(QR_MSG_READ, 0, 0);	 /* key_len 0 */
	bad[nbad++] = sample(QR_MSG_REPLICATE, 4, 1025); /* value */
	bad[nbad++] = sample(QR_MSG_CLIENT_REPLY, 0, 1025);
	bad[nbad] = sample(QR_MSG_READ_REPLY, 0, 0);
	bad[nbad++].flags = 0x02; /* unknown flag */
	bad[nbad] = sample(QR_MSG_HEARTBEAT, 0, 0);
	bad[nbad++].flags = QR_MSGF_TOMBSTONE; /* not for this type */
	bad[nbad] = sample(QR_MSG_REPLICATE, 4, 1);
	bad[nbad++].flags = QR_MSGF_TOMBSTONE; /* tombstone with a value */
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad++].op = QR_OP_END;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad++].level = 0;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad].r = bad[nbad].w = 0; /* RW without r or w */
	nbad++;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad++].w = 8; /* > QR_RF_MAX */
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad].level = QR_LEVEL_QUORUM; /* r, w only with RW */
	nbad++;
	bad[nbad] = sample(QR_MSG_REPLICATE_ACK, 0, 0);
	bad[nbad++].status = 3; /* status is 0 or a negative code */
	bad[nbad] = sample(QR_MSG_READ, 4, 0);
	bad[nbad++].key = NULL;
	bad[nbad] = sample(QR_MSG_READ_REPLY, 0, 4);
	bad[nbad++].value = NULL;
	/* CASPaxos: a ballot is never none; expected only with *_IF_VERSION
	 * (and always there); CAS ops at QUORUM; a value only on puts. */
	bad[nbad] = sample(QR_MSG_PREPARE, 4, 0);
	bad[nbad++].version = QR_VERSION_NONE;
	bad[nbad] = sample(QR_MSG_ACCEPT, 4, 0);
	bad[nbad++].version = QR_VERSION_NONE;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad++].expected.hlc = 7; /* on a PUT */
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad].op = QR_OP_PUT_IF_VERSION; /* without expected */
	bad[nbad].level = QR_LEVEL_QUORUM;
	bad[nbad].r = bad[nbad].w = 0;
	nbad++;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 0);
	bad[nbad].op = QR_OP_PUT_IF_ABSENT; /* level RW */
	nbad++;
	bad[nbad] = sample(QR_MSG_CLIENT_REQ, 4, 2);
	bad[nbad].op = QR_OP_LIN_GET; /* with a value */
	bad[nbad].level = QR_LEVEL_QUORUM;
	bad[nbad].r = bad[nbad].w = 0;
	nbad++;
	bad[nbad] = sample(QR_MSG_PROMISE, 0, 0);
	bad[nbad++].status = 1;

	qr_wire_frame_begin(&w, b, sizeof(b), &test_hdr);
	memcpy(before, b, sizeof(b));
	for (int i = 0; i < nbad; i++) {
		CU_ASSERT_EQUAL(qr_wire_put(&w, &bad[i]), QR_EINVAL);
		CU_ASSERT(w.len == QR_FRAME_HDR_BYTES && w.count == 0);
	}
	CU_ASSERT(memcmp(before, b, sizeof(b)) == 0);
	CU_ASSERT_EQUAL(qr_wire_msg_bytes(&bad[0]), 0); /* unknown type */
	CU_ASSERT_EQUAL(nbad, 25);
}

/* Encode one message then patch it; decode must fail with want. */
struct crafted {
	const char *what;
	int want;
	size_t len;
	uint8_t b[QR_FRAME_BYTES_MAX + 16];
};

static void check_crafted(struct crafted *c)
{
	struct qr_msg got[MSGS_MAX];
	int n;
	int rc = decode_all(guarded_copy(c->b, c->len), c->len, CLUSTER, got,
			    &n);

	if (rc != c->want)
		fprintf(stderr, "\n  %s: got %s, want %s\n", c->what,
			qr_strerror(rc), qr_strerror(c->want));
	CU_ASSERT_EQUAL(rc, c->want);
}

/* A REPLICATE with a 9 B key and a 64 B value: 102 B, frame 126 B. */
static void craft_base(struct crafted *c, const char *what, int want)
{
	struct qr_msg m = sample(QR_MSG_REPLICATE, 9, 64);

	memset(c, 0, sizeof(*c));
	c->what = what;
	c->want = want;
	c->len = encode_one(c->b, &m);
	CU_ASSERT_EQUAL_FATAL(c->len, 126);
}

static void test_decoder_error_codes(void)
{
	struct crafted c;
	uint8_t *msg = c.b + QR_FRAME_HDR_BYTES;

	craft_base(&c, "frame shorter than its header", QR_EWIRE_SHORT);
	c.len = 23;
	check_crafted(&c);
	craft_base(&c, "empty input", QR_EWIRE_SHORT);
	c.len = 0;
	check_crafted(&c);
	craft_base(&c, "bad magic", QR_EWIRE_MAGIC);
	c.b[1] = 'X';
	check_crafted(&c);
	craft_base(&c, "bad proto", QR_EWIRE_VERSION);
	c.b[2] = QR_WIRE_PROTO + 1;
	check_crafted(&c);
	craft_base(&c, "proto 1 (before the epoch field)", QR_EWIRE_VERSION);
	c.b[2] = 1;
	check_crafted(&c);
	craft_base(&c, "wrong cluster id", QR_EWIRE_CLUSTER);
	c.b[7] ^= 0x80;
	check_crafted(&c);
	craft_base(&c, "msg_count 0", QR_EWIRE_COUNT);
	c.b[3] = 0;
	check_crafted(&c);
	craft_base(&c, "more messages than 102 B hold", QR_EWIRE_COUNT);
	c.b[3] = 7;
	check_crafted(&c);
	craft_base(&c, "frame over 1472 B", QR_EWIRE_LENGTH);
	c.len = QR_FRAME_BYTES_MAX + 1;
	check_crafted(&c);
	/* 91 well-formed heartbeats: only the frame's size is wrong. */
	struct qr_msg hb = sample(QR_MSG_HEARTBEAT, 0, 0);
	struct qr_frame_writer w;
	qr_wire_frame_begin(&w, c.b, QR_FRAME_BYTES_MAX, &test_hdr);
	while (qr_wire_put(&w, &hb) == 0)
		;
	c.what = "91 heartbeats, 1480 B";
	c.len = qr_wire_frame_end(&w);
	CU_ASSERT_EQUAL(c.len, 24 + 90 * 16);
	memcpy(c.b + c.len, c.b + c.len - 16, 16);
	c.len += 16;
	c.b[3]++;
	check_crafted(&c);

	craft_base(&c, "next header cut", QR_EWIRE_SHORT);
	c.b[3] = 2;
	c.b[c.len++] = QR_MSG_HEARTBEAT;
	c.b[c.len++] = 0;
	c.b[c.len++] = 16;
	check_crafted(&c);
	craft_base(&c, "message length < 4", QR_EWIRE_LENGTH);
	put_le16(msg + 2, 3);
	check_crafted(&c);
	craft_base(&c, "message length beyond the frame", QR_EWIRE_LENGTH);
	put_le16(msg + 2, 103);
	check_crafted(&c);
	craft_base(&c, "type 0", QR_EWIRE_TYPE);
	msg[0] = 0;
	check_crafted(&c);
	craft_base(&c, "type past the last", QR_EWIRE_TYPE);
	msg[0] = QR_MSG_TYPE_END;
	check_crafted(&c);
	craft_base(&c, "length < fixed part", QR_EWIRE_LENGTH);
	msg[0] = QR_MSG_CLIENT_REQ; /* fixed 41 */
	put_le16(msg + 2, 40);
	check_crafted(&c);
	craft_base(&c, "length != fixed + key + value", QR_EWIRE_LENGTH);
	put_le16(msg + 26, 63);
	check_crafted(&c);
	craft_base(&c, "key_len 0", QR_EWIRE_FIELD);
	msg[28] = 0;
	put_le16(msg + 2, 93);
	c.len -= 9;
	check_crafted(&c);
	craft_base(&c, "value_len 1025", QR_EWIRE_FIELD);
	put_le16(msg + 26, 1025);
	put_le16(msg + 2, 29 + 9 + 1025);
	c.len = 24 + 29 + 9 + 1025;
	check_crafted(&c);
	craft_base(&c, "unknown flag", QR_EWIRE_FIELD);
	msg[1] = 0x40;
	check_crafted(&c);
	craft_base(&c, "tombstone with a value", QR_EWIRE_FIELD);
	msg[1] = QR_MSGF_TOMBSTONE;
	check_crafted(&c);
	craft_base(&c, "trailing byte", QR_EWIRE_LENGTH);
	c.b[c.len++] = 0;
	check_crafted(&c);

	/* CLIENT_REQ fields: op 24, level 25, r 26, w 27. */
	struct qr_msg m = sample(QR_MSG_CLIENT_REQ, 4, 0); /* RW, r 2, w 3 */
	static const struct {
		const char *what;
		uint8_t at, val;
		int want;
	} req[] = {
		{"valid RW", 0, 0, 0},
		{"op 0", 24, 0, QR_EWIRE_FIELD},
		{"op past the last", 24, QR_OP_END, QR_EWIRE_FIELD},
		{"level 0", 25, 0, QR_EWIRE_FIELD},
		{"level past the last", 25, QR_LEVEL_END, QR_EWIRE_FIELD},
		{"r 8", 26, 8, QR_EWIRE_FIELD},
		{"w 8", 27, 8, QR_EWIRE_FIELD},
		{"w 0 with r 2 is fine", 27, 0, 0},
		{"r, w with QUORUM", 25, QR_LEVEL_QUORUM, QR_EWIRE_FIELD},
		{"expected on a PUT", 31, 1, QR_EWIRE_FIELD},
		{"expected.node on a PUT", 39, 1, QR_EWIRE_FIELD},
		{"PUT_IF_VERSION without expected", 24, QR_OP_PUT_IF_VERSION,
		 QR_EWIRE_FIELD},
		{"LIN_GET at level RW", 24, QR_OP_LIN_GET, QR_EWIRE_FIELD},
	};
	for (size_t i = 0; i < QR_ARRAY_LEN(req); i++) {
		c.what = req[i].what;
		c.want = req[i].want;
		c.len = encode_one(c.b, &m);
		if (req[i].at)
			msg[req[i].at] = req[i].val;
		check_crafted(&c);
	}
	c.what = "RW with r = w = 0";
	c.want = QR_EWIRE_FIELD;
	c.len = encode_one(c.b, &m);
	msg[26] = msg[27] = 0;
	check_crafted(&c);

	/* TOMBSTONE only on the three value-carrying replies/writes. */
	m = sample(QR_MSG_READ, 4, 0);
	c.what = "tombstone on a READ";
	c.want = QR_EWIRE_FIELD;
	c.len = encode_one(c.b, &m);
	msg[1] = QR_MSGF_TOMBSTONE;
	check_crafted(&c);

	/* A positive status is not an error code. */
	m = sample(QR_MSG_CLIENT_REPLY, 0, 0);
	c.what = "status > 0";
	c.want = QR_EWIRE_FIELD;
	c.len = encode_one(c.b, &m);
	put_le16(msg + 30, 1);
	check_crafted(&c);
}

/* After an error, the reader returns nothing more: no message past it. */
static void test_error_stops_the_reader(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1], got;
	struct qr_frame_reader r;
	int n;

	size_t len = sample_frame(b, sent, &n);
	/* Corrupt the type of the second message. */
	size_t second = QR_FRAME_HDR_BYTES + qr_wire_msg_bytes(&sent[0]);
	b[second] = 0xee;
	CU_ASSERT_EQUAL_FATAL(qr_wire_frame_open(&r, b, len, CLUSTER, NULL), 0);
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got), 1);
	CU_ASSERT(msg_equal(&sent[0], &got));
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got), QR_EWIRE_TYPE);
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got), 0);
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got), 0);

	/* A failed open leaves an empty reader. */
	CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, len, CLUSTER + 1, NULL),
			QR_EWIRE_CLUSTER);
	CU_ASSERT_EQUAL(qr_wire_next(&r, &got), 0);
}

static void test_wrong_cluster_id(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1], got[MSGS_MAX];
	struct qr_frame_reader r;
	struct qr_frame_hdr h = {.hlc = 12345};
	int n;

	size_t len = sample_frame(b, sent, &n);
	CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, len, CLUSTER ^ 1, &h),
			QR_EWIRE_CLUSTER);
	CU_ASSERT_EQUAL(h.hlc, 12345); /* hdr untouched on error */
	CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, len, 0, &h),
			QR_EWIRE_CLUSTER);
	CU_ASSERT_EQUAL(decode_all(b, len, CLUSTER, got, &n), 0);
	CU_ASSERT_EQUAL(n, types_count() + 1);
}

/* An empty frame is not valid on the wire: callers check w->count. */
static void test_empty_frame_rejected(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_frame_writer w;
	struct qr_frame_reader r;

	qr_wire_frame_begin(&w, b, sizeof(b), &test_hdr);
	size_t len = qr_wire_frame_end(&w);
	CU_ASSERT_EQUAL(len, QR_FRAME_HDR_BYTES);
	CU_ASSERT_EQUAL(w.count, 0);
	CU_ASSERT_EQUAL(qr_wire_frame_open(&r, b, len, CLUSTER, NULL),
			QR_EWIRE_COUNT);
}

/* Every proper prefix of a valid multi-message frame is rejected, and
 * none is read past its end (the copy ends at a PROT_NONE page). */
static void test_every_truncation_rejected(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1], got[MSGS_MAX];
	int n, rc, counts[64] = {0};

	size_t len = sample_frame(b, sent, &n);
	for (size_t cut = 0; cut < len; cut++) {
		rc = decode_all(guarded_copy(b, cut), cut, CLUSTER, got, &n);
		CU_ASSERT(rc < 0);
		if (rc < 0 && -rc < (int)QR_ARRAY_LEN(counts))
			counts[-rc]++;
		/* Messages returned before the error are intact. */
		for (int i = 0; i < n; i++)
			CU_ASSERT(msg_equal(&sent[i], &got[i]));
	}
	CU_ASSERT_EQUAL(counts[-QR_EWIRE_SHORT] > 0, 1);
	CU_ASSERT_EQUAL(counts[-QR_EWIRE_LENGTH] > 0, 1);
	CU_ASSERT_EQUAL(decode_all(guarded_copy(b, len), len, CLUSTER, got, &n),
			0);
	CU_ASSERT_EQUAL(n, types_count() + 1);
}

static bool is_wire_err(int rc)
{
	return rc <= QR_EWIRE_SHORT && rc >= QR_EWIRE_COUNT;
}

/* Random bit flips (fixed seed): never a crash or an out-of-bounds read;
 * the result is a full decode or a QR_EWIRE_* error, and a frame that
 * still decodes re-encodes to its own bytes. */
static void test_random_bit_flips(void)
{
	uint8_t b[QR_FRAME_BYTES_MAX], f[QR_FRAME_BYTES_MAX];
	uint8_t out[QR_FRAME_BYTES_MAX];
	struct qr_msg sent[QR_MSG_TYPE_END + 1], got[MSGS_MAX];
	struct qr_frame_writer w;
	struct qr_frame_hdr h;
	struct qr_frame_reader r;
	struct qr_rng rng;
	int n, ok = 0, errs = 0, other = 0;

	qr_rng_seed(&rng, 0x5eed0001);
	size_t len = sample_frame(b, sent, &n);
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(f, b, len);
		unsigned flips = 1 + (unsigned)qr_rng_below(&rng, 4);
		for (unsigned i = 0; i < flips; i++) {
			size_t bit = qr_rng_below(&rng, len * 8);
			f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Sometimes also cut the frame. */
		size_t flen = len;
		if (qr_rng_below(&rng, 4) == 0)
			flen = qr_rng_below(&rng, len + 1);
		uint8_t *g = guarded_copy(f, flen);
		int rc = decode_all(g, flen, CLUSTER, got, &n);
		if (rc == 0) {
			ok++;
			CU_ASSERT_EQUAL_FATAL(
				qr_wire_frame_open(&r, g, flen, CLUSTER, &h),
				0);
			qr_wire_frame_begin(&w, out, sizeof(out), &h);
			for (int i = 0; i < n; i++)
				CU_ASSERT_EQUAL(qr_wire_put(&w, &got[i]), 0);
			CU_ASSERT_EQUAL(qr_wire_frame_end(&w), flen);
			CU_ASSERT(memcmp(out, g, flen) == 0);
		} else if (is_wire_err(rc)) {
			errs++;
		} else {
			other++;
		}
	}
	CU_ASSERT_EQUAL(other, 0);
	/* Flips in values and most fixed fields keep the frame valid; flips
	 * in lengths, types and ranges do not: both must have happened. */
	CU_ASSERT(ok > 1000);
	CU_ASSERT(errs > 1000);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"roundtrip_every_type_edge_sizes",
		 test_roundtrip_every_type_edge_sizes},
		{"roundtrip_tombstones", test_roundtrip_tombstones},
		{"layout_golden_offsets", test_layout_golden_offsets},
		{"fields_of_other_types_ignored",
		 test_fields_of_other_types_ignored},
		{"several_messages_in_one_frame",
		 test_several_messages_in_one_frame},
		{"set_hlc_rewrites_only_hlc", test_set_hlc_rewrites_only_hlc},
		{"set_epoch_rewrites_only_epoch",
		 test_set_epoch_rewrites_only_epoch},
		{"full_frame_unchanged", test_full_frame_unchanged},
		{"full_small_cap", test_full_small_cap},
		{"peer_frame_limits", test_peer_frame_limits},
		{"encoder_rejects_bad_fields", test_encoder_rejects_bad_fields},
		{"decoder_error_codes", test_decoder_error_codes},
		{"error_stops_the_reader", test_error_stops_the_reader},
		{"wrong_cluster_id", test_wrong_cluster_id},
		{"empty_frame_rejected", test_empty_frame_rejected},
		{"every_truncation_rejected", test_every_truncation_rejected},
		{"random_bit_flips", test_random_bit_flips},
		{NULL, NULL},
	};

	fill_patterns();
	return qr_unit_main("wire", cases);
}
