/* SPDX-License-Identifier: MIT */
/*
 * Wire codec: encodes struct qr_msg into frames and decodes frames back, with
 * the fixed little-endian layouts below (docs/protocol.md, "Wire format", has
 * the same tables). It sits on the data path: no allocation, no loop over
 * bytes other than memcpy of keys and values, every load and store through
 * the memcpy-based helpers (no unaligned pointer casts).
 *
 * Invariants:
 * - One layout table drives both directions: the encoder writes exactly the
 *   bytes the decoder reads, and fields_ok() is the one range check that both
 *   apply (QR_EINVAL when encoding, QR_EWIRE_FIELD when decoding). So every
 *   frame qr_wire_put() builds decodes, and decode -> encode gives back the
 *   same bytes (tests/fuzz/fuzz_wire.c checks both).
 * - The decoder is total: r->off <= r->len always, and a message is read
 *   only after its length has been checked against the bytes left, so no
 *   input makes it read outside [buf, buf + len).
 * - Layouts have no padding and no ignored bytes, so an encoding is
 *   canonical: one message, one byte string.
 *
 * Design notes: layouts. Offsets are from the start of the frame (frame
 * header) or of the message (message header included); all integers are
 * little-endian. A message's key follows its fixed part, its value follows
 * the key; "fixed" is the message header plus the fixed body.
 *
 *   frame header (24 B)          message header (4 B)
 *    0 magic       u16 0x5251     0 type    u8  enum qr_msg_type
 *    2 proto       u8  2          1 flags   u8  QR_MSGF_*
 *    3 msg_count   u8  1..        2 length  u16 whole message, header incl.
 *    4 cluster_id  u32
 *    8 src_node    u16
 *   10 dst_node    u16
 *   12 shard       u16
 *   14 epoch       u16 sender's topology epoch, low 16 bits (0: client)
 *   16 hlc         u64
 *
 *   CLIENT_REQ (fixed 41)   CLIENT_REPLY (fixed 43)  HEARTBEAT (fixed 16)
 *    4 req_id      u64       4 req_id       u64       4 closed_ts   u64
 *   12 min_version u64      12 replica_mask u64      12 incarnation u32
 *   20 deadline_us u32      20 version.hlc  u64
 *   24 op          u8       28 version.node u16
 *   25 level       u8       30 status       i16
 *   26 r           u8       32 value_len    u16
 *   27 w           u8       34 answered     u8
 *   28 value_len   u16      35 closed_ts    u64 (serving watermark)
 *   30 key_len     u8       43 value
 *   31 expected.hlc  u64 (*_IF_VERSION ops; else 0)
 *   39 expected.node u16
 *   41 key, value
 *
 *   REPLICATE (fixed 29)  REPLICATE_ACK (fixed 28)  READ (fixed 17)
 *    4 op_id        u64    4 op_id        u64        4 op_id     u64
 *   12 partition    u32   12 partition    u32       12 partition u32
 *   16 version.hlc  u64   16 version.hlc  u64       16 key_len   u8
 *   24 version.node u16   24 version.node u16       17 key
 *   26 value_len    u16   26 status       i16
 *   28 key_len      u8
 *   29 key, value
 *
 *   DIGEST (fixed 20): 4 partition u32 | 8 entries u32 | 12 digest u64;
 *   flag REPLY. REPLICATE may also carry the flag NOACK.
 *   ORPHAN_REQ and ORPHAN_DONE (fixed 28): 4 from u64 | 12 to u64 |
 *   20 restart_hlc u64.
 *   TOPO_NEWS (fixed 20): 4 epoch u64 (qr_msg.op_id) | 12 owners u64
 *   (qr_msg.replica_mask, a bit per node id); peer frames only.
 *
 *   READ_REPLY (fixed 38)
 *    4 op_id u64 | 12 partition u32 | 16 version.hlc u64 |
 *   24 version.node u16 | 26 status i16 | 28 closed_ts u64 |
 *   36 value_len u16 | 38 value
 *
 *   CASPaxos (src/core/paxos.h), the same layouts as their plain twins:
 *   PREPARE (fixed 27): op_id, partition, version (the ballot) | 26 key_len
 *     u8 | 27 key. ACCEPT = REPLICATE's layout (version = the ballot; flag
 *     TOMBSTONE). PROMISE = READ_REPLY's (flag TOMBSTONE). ACCEPTED =
 *     REPLICATE_ACK's. PREPARE and ACCEPT need a ballot other than none.
 *     PROMISE may also carry the flag UNSURE (0x02, NOACK's bit).
 *
 * The four replica messages share their first 16 bytes (op_id, partition)
 * and all but READ (which asks for a version, so carries none) the 10 after
 * (version), so they share the code that reads and writes them. Sizes: the
 * largest message is a CLIENT_REQ with a 255 B key and a 1024 B value,
 * 1320 B; with the frame header 1344 B <= QR_FRAME_BYTES_MAX. The smallest is
 * a HEARTBEAT, 16 B, so a frame holds at most (1472 - 24) / 16 = 90.
 *
 * Range checks (fields_ok): flags within the type's own mask (only the
 * value-carrying CLIENT_REPLY, REPLICATE and READ_REPLY may set TOMBSTONE);
 * a tombstone carries no value (the store keeps value_len 0 for one);
 * key_len >= 1 for keyed types; value_len <= QR_VALUE_INLINE_MAX; CLIENT_REQ's
 * op and level in their enums, r and w in 0..QR_RF_MAX and not both 0 for
 * QR_LEVEL_RW, both 0 otherwise; a CASPaxos op at level QUORUM only;
 * expected set (not none) for the *_IF_VERSION ops and none for the others;
 * a value only for PUT and the PUT_IF_* ops; status <= 0 (any negative code is taken, so
 * that codes appended to err.h do not need a new proto).
 */
#include "core/wire.h"

#include <string.h>

#include "common/compiler.h"
#include "core/placement.h"
#include "common/le.h"
#include "quorate/err.h"

/* Frame header offsets. */
enum {
	FH_MAGIC = 0,	  /* u16 */
	FH_PROTO = 2,	  /* u8 */
	FH_COUNT = 3,	  /* u8 */
	FH_CLUSTER = 4,	  /* u32 */
	FH_SRC = 8,	  /* u16 */
	FH_DST = 10,	  /* u16 */
	FH_SHARD = 12,	  /* u16 */
	FH_EPOCH = 14,	  /* u16: the sender's epoch mod 2^16 */
	FH_HLC = 16,	  /* u64 */
	FH_END = 24,
};

/* Message header offsets. */
enum {
	MH_TYPE = 0,   /* u8 */
	MH_FLAGS = 1,  /* u8 */
	MH_LENGTH = 2, /* u16 */
	MH_END = 4,
};

/* CLIENT_REQ */
enum {
	CREQ_REQ_ID = 4,       /* u64 */
	CREQ_MIN_VERSION = 12, /* u64 */
	CREQ_DEADLINE = 20,    /* u32 */
	CREQ_OP = 24,	       /* u8 */
	CREQ_LEVEL = 25,       /* u8 */
	CREQ_R = 26,	       /* u8 */
	CREQ_W = 27,	       /* u8 */
	CREQ_VALUE_LEN = 28,   /* u16 */
	CREQ_KEY_LEN = 30,     /* u8 */
	CREQ_EXP_HLC = 31,     /* u64, expected.hlc */
	CREQ_EXP_NODE = 39,    /* u16, expected.node */
	CREQ_FIXED = 41,
};

/* CLIENT_REPLY */
enum {
	CREP_REQ_ID = 4,	/* u64 */
	CREP_REPLICA_MASK = 12, /* u64 */
	CREP_HLC = 20,		/* u64, version.hlc */
	CREP_NODE = 28,		/* u16, version.node */
	CREP_STATUS = 30,	/* i16 */
	CREP_VALUE_LEN = 32,	/* u16 */
	CREP_ANSWERED = 34,	/* u8 */
	CREP_CLOSED_TS = 35,	/* u64 */
	CREP_FIXED = 43,
};

/* The prefix of REPLICATE, REPLICATE_ACK, READ and READ_REPLY, and the
 * version that all of them but READ carry after it. */
enum {
	REPL_OP_ID = 4,	     /* u64 */
	REPL_PARTITION = 12, /* u32 */
	REPL_PREFIX_END = 16,
	REPL_HLC = 16,	/* u64, version.hlc */
	REPL_NODE = 24, /* u16, version.node */
	REPL_VERSION_END = 26,
};

/* REPLICATE */
enum {
	RPL_VALUE_LEN = 26, /* u16 */
	RPL_KEY_LEN = 28,   /* u8 */
	RPL_FIXED = 29,
};

/* REPLICATE_ACK */
enum {
	RACK_STATUS = 26, /* i16 */
	RACK_FIXED = 28,
};

/* READ */
enum {
	RD_KEY_LEN = 16, /* u8 */
	RD_FIXED = 17,
};

/* READ_REPLY */
enum {
	RDR_STATUS = 26,    /* i16 */
	RDR_CLOSED_TS = 28, /* u64 */
	RDR_VALUE_LEN = 36, /* u16 */
	RDR_FIXED = 38,
};

/* PREPARE */
enum {
	PRE_KEY_LEN = 26, /* u8 */
	PRE_FIXED = 27,
};

/* PROMISE: today READ_REPLY's layout, kept apart so that either can grow
 * without the other. */
enum {
	PRM_STATUS = 26,    /* i16 */
	PRM_VALUE_LEN = 28, /* u16 */
	PRM_FIXED = 30,
};

/* HEARTBEAT */
enum {
	HB_CLOSED_TS = 4,    /* u64 */
	HB_INCARNATION = 12, /* u32 */
	HB_FIXED = 16,
};

/* DIGEST */
enum {
	DG_PARTITION = 4, /* u32 */
	DG_ENTRIES = 8,	  /* u32 */
	DG_DIGEST = 12,	  /* u64 */
	DG_FIXED = 20,
};

/* ORPHAN_REQ, ORPHAN_DONE */
enum {
	ORQ_FROM = 4, /* u64 */
	ORQ_TO = 12,  /* u64 */
	ORQ_RESTART = 20, /* u64 */
	ORQ_FIXED = 28,
};

/* TOPO_NEWS (topology.c T7) */
enum {
	TN_EPOCH = 4,  /* u64 */
	TN_OWNERS = 12, /* u64 */
	TN_FIXED = 20,
};

/* FRAG: a piece of a long message (wire_long.h); the chunk is the value */
enum {
	FRG_MSG_ID = 4,	      /* u64 (qr_msg.op_id) */
	FRG_INCARNATION = 12, /* u32 */
	FRG_TOTAL = 16,	      /* u32 */
	FRG_CHUNK = 20,	      /* u32 */
	FRG_CRC = 24,	      /* u32 */
	FRG_OFFSET = 28,      /* u32 */
	FRG_LEN = 32,	      /* u16, the chunk's bytes */
	FRG_FIXED = 34,
};

#define WIRE_MSG_BYTES_MIN ((int)HB_FIXED) /* the smallest message */

/* A message of this layout with the largest key and value fits a frame. */
#define WIRE_FITS(fixed, keyed, valued)                                        \
	(QR_FRAME_HDR_BYTES + (fixed) + ((keyed) ? QR_KEY_BYTES_MAX : 0) +     \
		 ((valued) ? QR_VALUE_INLINE_MAX : 0) <=                        \
	 QR_FRAME_BYTES_MAX)

_Static_assert(FH_END == QR_FRAME_HDR_BYTES, "frame header size");
_Static_assert(MH_END == QR_MSG_HDR_BYTES, "message header size");
_Static_assert(WIRE_FITS(CREQ_FIXED, 1, 1), "CLIENT_REQ fits a frame");
_Static_assert(WIRE_FITS(CREP_FIXED, 0, 1), "CLIENT_REPLY fits a frame");
_Static_assert(WIRE_FITS(RPL_FIXED, 1, 1), "REPLICATE fits a frame");
_Static_assert(WIRE_FITS(RD_FIXED, 1, 0), "READ fits a frame");
_Static_assert(WIRE_FITS(RDR_FIXED, 0, 1), "READ_REPLY fits a frame");
_Static_assert(CREQ_FIXED + 1 >= WIRE_MSG_BYTES_MIN &&
		       CREP_FIXED >= WIRE_MSG_BYTES_MIN &&
		       RPL_FIXED + 1 >= WIRE_MSG_BYTES_MIN &&
		       RACK_FIXED >= WIRE_MSG_BYTES_MIN &&
		       RD_FIXED + 1 >= WIRE_MSG_BYTES_MIN &&
		       RDR_FIXED >= WIRE_MSG_BYTES_MIN,
	       "HEARTBEAT is the smallest message (the COUNT check uses it)");
_Static_assert(QR_FRAME_BYTES_MAX <= QR_FRAME_JUMBO_MAX &&
		       QR_FRAME_JUMBO_MAX <= UINT16_MAX,
	       "lengths are u16 (limits.h L6)");
_Static_assert(DG_FIXED >= WIRE_MSG_BYTES_MIN, "DIGEST is not the smallest");
_Static_assert(ORQ_FIXED >= WIRE_MSG_BYTES_MIN, "ORPHAN_* are not the smallest");
_Static_assert(TN_FIXED >= WIRE_MSG_BYTES_MIN, "TOPO_NEWS is not the smallest");
_Static_assert(FRG_FIXED >= WIRE_MSG_BYTES_MIN && FRG_FIXED == QR_FRAG_FIXED_BYTES,
	       "FRAG");
_Static_assert(PRE_FIXED + 1 >= WIRE_MSG_BYTES_MIN && WIRE_FITS(PRE_FIXED, 1, 0),
	       "PREPARE");
_Static_assert(PRM_FIXED >= WIRE_MSG_BYTES_MIN && WIRE_FITS(PRM_FIXED, 0, 1),
	       "PROMISE");
_Static_assert(QR_MSGF_ALL ==
		       (QR_MSGF_TOMBSTONE | QR_MSGF_NOACK | QR_MSGF_REPLY |
			QR_MSGF_STALE_ERROR | QR_MSGF_STALE_QUORUM |
			QR_MSGF_DURABLE | QR_MSGF_REPAIR),
	       "flag masks below");

/*
 * Per-type layout: what the generic code needs to size, frame and locate a
 * message. fixed == 0 marks a type that does not exist.
 */
struct wire_layout {
	uint8_t fixed;	  /* header + fixed body = offset of the key */
	uint8_t key_at;	  /* offset of key_len (u8); 0: carries no key */
	uint8_t value_at; /* offset of value_len (u16); 0: carries no value */
	uint8_t flags_ok; /* QR_MSGF_* bits the type may set */
};

static const struct wire_layout layouts[QR_MSG_TYPE_END] = {
	[QR_MSG_CLIENT_REQ] = {CREQ_FIXED, CREQ_KEY_LEN, CREQ_VALUE_LEN,
			       QR_MSGF_STALE_ERROR | QR_MSGF_STALE_QUORUM},
	[QR_MSG_CLIENT_REPLY] = {CREP_FIXED, 0, CREP_VALUE_LEN,
				 QR_MSGF_TOMBSTONE},
	[QR_MSG_REPLICATE] = {RPL_FIXED, RPL_KEY_LEN, RPL_VALUE_LEN,
			      QR_MSGF_TOMBSTONE | QR_MSGF_NOACK |
				      QR_MSGF_REPAIR},
	[QR_MSG_REPLICATE_ACK] = {RACK_FIXED, 0, 0, 0},
	[QR_MSG_READ] = {RD_FIXED, RD_KEY_LEN, 0, 0},
	[QR_MSG_READ_REPLY] = {RDR_FIXED, 0, RDR_VALUE_LEN, QR_MSGF_TOMBSTONE},
	[QR_MSG_HEARTBEAT] = {HB_FIXED, 0, 0, QR_MSGF_NO_WRITES},
	[QR_MSG_DIGEST] = {DG_FIXED, 0, 0, QR_MSGF_REPLY | QR_MSGF_DURABLE},
	[QR_MSG_ORPHAN_REQ] = {ORQ_FIXED, 0, 0, 0},
	[QR_MSG_ORPHAN_DONE] = {ORQ_FIXED, 0, 0, 0},
	[QR_MSG_PREPARE] = {PRE_FIXED, PRE_KEY_LEN, 0, 0},
	[QR_MSG_PROMISE] = {PRM_FIXED, 0, PRM_VALUE_LEN,
			    QR_MSGF_TOMBSTONE | QR_MSGF_UNSURE},
	[QR_MSG_ACCEPT] = {RPL_FIXED, RPL_KEY_LEN, RPL_VALUE_LEN,
			   QR_MSGF_TOMBSTONE},
	[QR_MSG_ACCEPTED] = {RACK_FIXED, 0, 0, 0},
	[QR_MSG_FRAG] = {FRG_FIXED, 0, FRG_LEN, 0},
	[QR_MSG_FRAG_NACK] = {FRG_FIXED, 0, FRG_LEN, 0},
	[QR_MSG_TOPO_NEWS] = {TN_FIXED, 0, 0, 0},
};

static inline const struct wire_layout *layout_of(unsigned type)
{
	if (qr_unlikely(type >= QR_MSG_TYPE_END || layouts[type].fixed == 0))
		return NULL;
	return &layouts[type];
}

/* Bytes of m on the wire; only the key and value its type carries count. */
static inline size_t msg_bytes(const struct wire_layout *l,
			       const struct qr_msg *m)
{
	size_t n = l->fixed;

	if (l->key_at)
		n += m->key_len;
	if (l->value_at)
		n += m->value_len;
	return n;
}

/* FRAG: a chunk at a chunk boundary of its message, of the length that
 * chunk has. FRAG_NACK: a bitmap of 1..QR_FRAG_NACK_BYTES_MAX bytes, no
 * byte of it past the message's last chunk (bits of the last byte past it
 * are ignored by the receivers). */
static bool frag_fields_ok(const struct qr_msg *m)
{
	const uint32_t total = m->frag.total, chunk = m->frag.chunk;
	if (total < 1 || total > QR_LONG_BYTES_MAX ||
	    chunk < QR_FRAG_CHUNK_MIN || m->frag.offset % chunk ||
	    m->frag.offset >= total)
		return false;
	uint32_t rest = total - m->frag.offset;
	if (m->type == QR_MSG_FRAG)
		return m->value_len == QR_MIN(chunk, rest);
	uint32_t chunks = rest / chunk + (rest % chunk != 0);
	return m->value_len >= 1 && m->value_len <= QR_FRAG_NACK_BYTES_MAX &&
	       m->value_len <= chunks / 8 + (chunks % 8 != 0);
}

/*
 * The range checks both directions share (the design notes list them).
 * Fields the type does not carry are not looked at.
 */
static bool fields_ok(const struct qr_msg *m, const struct wire_layout *l,
		      uint32_t value_max)
{
	if (m->flags & ~l->flags_ok)
		return false;
	if (l->key_at && m->key_len == 0)
		return false;
	/* A FRAG's chunk is bounded by the frame, checked below. */
	if (l->value_at && m->value_len > value_max && m->type != QR_MSG_FRAG)
		return false;
	if (m->type == QR_MSG_FRAG || m->type == QR_MSG_FRAG_NACK)
		return frag_fields_ok(m);
	if (l->value_at && (m->flags & QR_MSGF_TOMBSTONE) && m->value_len)
		return false;
	switch (m->type) {
	case QR_MSG_CLIENT_REQ:
		if (m->op < QR_OP_GET || m->op >= QR_OP_END)
			return false;
		if (m->level < QR_LEVEL_ONE || m->level >= QR_LEVEL_END)
			return false;
		if ((m->flags & QR_MSGF_STALE_ERROR) &&
		    (m->flags & QR_MSGF_STALE_QUORUM))
			return false;
		if (m->value_len && m->op != QR_OP_PUT &&
		    m->op != QR_OP_PUT_IF_ABSENT && m->op != QR_OP_PUT_IF_VERSION)
			return false;
		if ((m->op == QR_OP_PUT_IF_VERSION ||
		     m->op == QR_OP_DELETE_IF_VERSION) ==
		    qr_version_is_none(m->expected))
			return false;
		if (qr_op_is_cas(m->op) && m->level != QR_LEVEL_QUORUM)
			return false;
		if (m->level != QR_LEVEL_RW)
			return m->r == 0 && m->w == 0;
		return (m->r | m->w) != 0 && m->r <= QR_RF_MAX &&
		       m->w <= QR_RF_MAX;
	case QR_MSG_CLIENT_REPLY:
	case QR_MSG_REPLICATE_ACK:
	case QR_MSG_READ_REPLY:
	case QR_MSG_PROMISE:
	case QR_MSG_ACCEPTED:
		return m->status <= 0;
	case QR_MSG_ORPHAN_REQ:
	case QR_MSG_ORPHAN_DONE:
		return m->range_from <= m->range_to &&
		       m->restart_hlc <= m->range_to;
	case QR_MSG_PREPARE:
	case QR_MSG_ACCEPT:
		return !qr_version_is_none(m->version);
	case QR_MSG_TOPO_NEWS: /* epochs start at 1; no topology is empty */
		return m->op_id != 0 && m->replica_mask != 0;
	default:
		return true;
	}
}

/* A version on the wire: hlc u64, then node u16 (10 B). */
_Static_assert(CREP_NODE == CREP_HLC + 8 && REPL_NODE == REPL_HLC + 8 &&
		       CREQ_EXP_NODE == CREQ_EXP_HLC + 8,
	       "version layout");

static inline void put_version(uint8_t *p, struct qr_version v)
{
	qr_st64(p, v.hlc);
	qr_st16(p + 8, v.node);
}

static inline struct qr_version get_version(const uint8_t *p)
{
	return (struct qr_version){qr_ld64(p), qr_ld16(p + 8)};
}

/* op_id and partition, the first fields of the four replica messages. */
static inline void put_replica_prefix(uint8_t *p, const struct qr_msg *m)
{
	qr_st64(p + REPL_OP_ID, m->op_id);
	qr_st32(p + REPL_PARTITION, m->partition);
}

static inline void get_replica_prefix(const uint8_t *p, struct qr_msg *m)
{
	m->op_id = qr_ld64(p + REPL_OP_ID);
	m->partition = qr_ld32(p + REPL_PARTITION);
}

/* The type's own fixed fields (not the header, key_len or value_len). */
static void put_fields(uint8_t *p, const struct qr_msg *m)
{
	switch (m->type) {
	case QR_MSG_CLIENT_REQ:
		qr_st64(p + CREQ_REQ_ID, m->req_id);
		qr_st64(p + CREQ_MIN_VERSION, m->min_version);
		qr_st32(p + CREQ_DEADLINE, m->deadline_us);
		p[CREQ_OP] = m->op;
		p[CREQ_LEVEL] = m->level;
		p[CREQ_R] = m->r;
		p[CREQ_W] = m->w;
		put_version(p + CREQ_EXP_HLC, m->expected);
		break;
	case QR_MSG_CLIENT_REPLY:
		qr_st64(p + CREP_REQ_ID, m->req_id);
		qr_st64(p + CREP_REPLICA_MASK, m->replica_mask);
		put_version(p + CREP_HLC, m->version);
		qr_st16(p + CREP_STATUS, (uint16_t)m->status);
		p[CREP_ANSWERED] = m->answered;
		qr_st64(p + CREP_CLOSED_TS, m->closed_ts);
		break;
	case QR_MSG_REPLICATE:
	case QR_MSG_ACCEPT:
	case QR_MSG_PREPARE:
		put_replica_prefix(p, m);
		put_version(p + REPL_HLC, m->version);
		break;
	case QR_MSG_REPLICATE_ACK:
	case QR_MSG_ACCEPTED:
		put_replica_prefix(p, m);
		put_version(p + REPL_HLC, m->version);
		qr_st16(p + RACK_STATUS, (uint16_t)m->status);
		break;
	case QR_MSG_READ:
		put_replica_prefix(p, m);
		break;
	case QR_MSG_READ_REPLY:
		put_replica_prefix(p, m);
		put_version(p + REPL_HLC, m->version);
		qr_st16(p + RDR_STATUS, (uint16_t)m->status);
		qr_st64(p + RDR_CLOSED_TS, m->closed_ts);
		break;
	case QR_MSG_PROMISE:
		put_replica_prefix(p, m);
		put_version(p + REPL_HLC, m->version);
		qr_st16(p + PRM_STATUS, (uint16_t)m->status);
		break;
	case QR_MSG_HEARTBEAT:
		qr_st64(p + HB_CLOSED_TS, m->closed_ts);
		qr_st32(p + HB_INCARNATION, m->incarnation);
		break;
	case QR_MSG_DIGEST:
		qr_st32(p + DG_PARTITION, m->partition);
		qr_st32(p + DG_ENTRIES, m->entries);
		qr_st64(p + DG_DIGEST, m->digest);
		break;
	case QR_MSG_ORPHAN_REQ:
	case QR_MSG_ORPHAN_DONE:
		qr_st64(p + ORQ_FROM, m->range_from);
		qr_st64(p + ORQ_TO, m->range_to);
		qr_st64(p + ORQ_RESTART, m->restart_hlc);
		break;
	case QR_MSG_TOPO_NEWS:
		qr_st64(p + TN_EPOCH, m->op_id);
		qr_st64(p + TN_OWNERS, m->replica_mask);
		break;
	case QR_MSG_FRAG:
	case QR_MSG_FRAG_NACK:
		qr_st64(p + FRG_MSG_ID, m->op_id);
		qr_st32(p + FRG_INCARNATION, m->incarnation);
		qr_st32(p + FRG_TOTAL, m->frag.total);
		qr_st32(p + FRG_CHUNK, m->frag.chunk);
		qr_st32(p + FRG_CRC, m->frag.crc);
		qr_st32(p + FRG_OFFSET, m->frag.offset);
		break;
	}
}

static void get_fields(const uint8_t *p, struct qr_msg *m)
{
	switch (m->type) {
	case QR_MSG_CLIENT_REQ:
		m->req_id = qr_ld64(p + CREQ_REQ_ID);
		m->min_version = qr_ld64(p + CREQ_MIN_VERSION);
		m->deadline_us = qr_ld32(p + CREQ_DEADLINE);
		m->op = p[CREQ_OP];
		m->level = p[CREQ_LEVEL];
		m->r = p[CREQ_R];
		m->w = p[CREQ_W];
		m->expected = get_version(p + CREQ_EXP_HLC);
		break;
	case QR_MSG_CLIENT_REPLY:
		m->req_id = qr_ld64(p + CREP_REQ_ID);
		m->replica_mask = qr_ld64(p + CREP_REPLICA_MASK);
		m->version = get_version(p + CREP_HLC);
		m->status = (int16_t)qr_ld16(p + CREP_STATUS);
		m->answered = p[CREP_ANSWERED];
		m->closed_ts = qr_ld64(p + CREP_CLOSED_TS);
		break;
	case QR_MSG_REPLICATE:
	case QR_MSG_ACCEPT:
	case QR_MSG_PREPARE:
		get_replica_prefix(p, m);
		m->version = get_version(p + REPL_HLC);
		break;
	case QR_MSG_REPLICATE_ACK:
	case QR_MSG_ACCEPTED:
		get_replica_prefix(p, m);
		m->version = get_version(p + REPL_HLC);
		m->status = (int16_t)qr_ld16(p + RACK_STATUS);
		break;
	case QR_MSG_READ:
		get_replica_prefix(p, m);
		break;
	case QR_MSG_READ_REPLY:
		get_replica_prefix(p, m);
		m->version = get_version(p + REPL_HLC);
		m->status = (int16_t)qr_ld16(p + RDR_STATUS);
		m->closed_ts = qr_ld64(p + RDR_CLOSED_TS);
		break;
	case QR_MSG_PROMISE:
		get_replica_prefix(p, m);
		m->version = get_version(p + REPL_HLC);
		m->status = (int16_t)qr_ld16(p + PRM_STATUS);
		break;
	case QR_MSG_HEARTBEAT:
		m->closed_ts = qr_ld64(p + HB_CLOSED_TS);
		m->incarnation = qr_ld32(p + HB_INCARNATION);
		break;
	case QR_MSG_DIGEST:
		m->partition = qr_ld32(p + DG_PARTITION);
		m->entries = qr_ld32(p + DG_ENTRIES);
		m->digest = qr_ld64(p + DG_DIGEST);
		break;
	case QR_MSG_ORPHAN_REQ:
	case QR_MSG_ORPHAN_DONE:
		m->range_from = qr_ld64(p + ORQ_FROM);
		m->range_to = qr_ld64(p + ORQ_TO);
		m->restart_hlc = qr_ld64(p + ORQ_RESTART);
		break;
	case QR_MSG_TOPO_NEWS:
		m->op_id = qr_ld64(p + TN_EPOCH);
		m->replica_mask = qr_ld64(p + TN_OWNERS);
		break;
	case QR_MSG_FRAG:
	case QR_MSG_FRAG_NACK:
		m->op_id = qr_ld64(p + FRG_MSG_ID);
		m->incarnation = qr_ld32(p + FRG_INCARNATION);
		m->frag.total = qr_ld32(p + FRG_TOTAL);
		m->frag.chunk = qr_ld32(p + FRG_CHUNK);
		m->frag.crc = qr_ld32(p + FRG_CRC);
		m->frag.offset = qr_ld32(p + FRG_OFFSET);
		break;
	}
}

bool qr_wire_carries_value(unsigned type)
{
	const struct wire_layout *l = layout_of(type);

	return l && l->value_at && type != QR_MSG_FRAG &&
	       type != QR_MSG_FRAG_NACK;
}

bool qr_wire_long_fields_ok(const struct qr_msg *m)
{
	const struct wire_layout *l = layout_of(m->type);

	return l && l->value_at && m->type != QR_MSG_FRAG &&
	       m->type != QR_MSG_FRAG_NACK &&
	       fields_ok(m, l, QR_VALUE_BYTES_MAX);
}

size_t qr_wire_msg_bytes(const struct qr_msg *m)
{
	const struct wire_layout *l = layout_of(m->type);

	return l ? msg_bytes(l, m) : 0;
}

/* hdr->msg_count is not used: qr_wire_frame_end() writes the real count. */
void qr_wire_frame_begin(struct qr_frame_writer *w, void *buf, size_t cap,
			 const struct qr_frame_hdr *hdr)
{
	uint8_t *p = buf;

	QR_ASSERT(p != NULL && hdr != NULL && cap >= QR_FRAME_HDR_BYTES);
	w->buf = p;
	w->cap = (uint16_t)QR_MIN(cap, (size_t)QR_FRAME_JUMBO_MAX);
	w->len = QR_FRAME_HDR_BYTES;
	w->count = 0;
	qr_st16(p + FH_MAGIC, QR_WIRE_MAGIC);
	p[FH_PROTO] = QR_WIRE_PROTO;
	p[FH_COUNT] = 0;
	qr_st32(p + FH_CLUSTER, hdr->cluster_id);
	qr_st16(p + FH_SRC, hdr->src_node);
	qr_st16(p + FH_DST, hdr->dst_node);
	qr_st16(p + FH_SHARD, hdr->shard);
	qr_st16(p + FH_EPOCH, hdr->epoch);
	qr_st64(p + FH_HLC, hdr->hlc);
}

/*
 * QR_EINVAL: unknown type, a field out of range (fields_ok) or a NULL key or
 * value where bytes are to be copied. QR_EFULL: the message does not fit in
 * what is left of cap, or the frame already holds 255 messages. Either way
 * nothing is written.
 */
int qr_wire_put(struct qr_frame_writer *w, const struct qr_msg *m)
{
	const struct wire_layout *l = layout_of(m->type);

	if (!l || !fields_ok(m, l, QR_VALUE_INLINE_MAX))
		return QR_EINVAL;
	if (l->key_at && m->key == NULL)
		return QR_EINVAL;
	if (l->value_at && m->value_len && m->value == NULL)
		return QR_EINVAL;

	size_t n = msg_bytes(l, m);
	QR_DASSERT(w->len <= w->cap);
	if (n > (size_t)(w->cap - w->len) || w->count == UINT8_MAX)
		return QR_EFULL;

	uint8_t *p = w->buf + w->len;
	p[MH_TYPE] = m->type;
	p[MH_FLAGS] = m->flags;
	qr_st16(p + MH_LENGTH, (uint16_t)n);
	put_fields(p, m);
	if (l->key_at) {
		p[l->key_at] = m->key_len;
		memcpy(p + l->fixed, m->key, m->key_len);
	}
	if (l->value_at) {
		uint8_t *v = p + l->fixed + (l->key_at ? m->key_len : 0);

		qr_st16(p + l->value_at, m->value_len);
		if (m->value_len) /* memcpy(NULL, 0) is undefined */
			memcpy(v, m->value, m->value_len);
	}
	w->len = (uint16_t)(w->len + n);
	w->count++;
	return 0;
}

/* A frame with no message is not valid (the decoder says QR_EWIRE_COUNT):
 * callers check w->count before sending. */
size_t qr_wire_frame_end(struct qr_frame_writer *w)
{
	w->buf[FH_COUNT] = w->count;
	return w->len;
}

void qr_wire_frame_set_hlc(void *frame, uint64_t hlc)
{
	qr_st64((uint8_t *)frame + FH_HLC, hlc);
}

void qr_wire_frame_set_epoch(void *frame, uint64_t epoch)
{
	qr_st16((uint8_t *)frame + FH_EPOCH, (uint16_t)epoch);
}

int qr_wire_frame_open(struct qr_frame_reader *r, const void *buf, size_t len,
		       uint32_t cluster_id, struct qr_frame_hdr *hdr)
{
	return qr_wire_frame_open_peer(r, buf, len, cluster_id,
				       QR_FRAME_BYTES_MAX, hdr);
}

/*
 * Checks, in this order:
 *   len < 24                                   QR_EWIRE_SHORT
 *   magic != 'Q''R'                            QR_EWIRE_MAGIC
 *   proto != QR_WIRE_PROTO                     QR_EWIRE_VERSION
 *   cluster_id differs                         QR_EWIRE_CLUSTER
 *   len > QR_FRAME_BYTES_MAX (a client's frame,
 *   src_node QR_NODE_CLIENT), len > peer_max
 *   (a node's; peer_max is clamped to
 *   QR_FRAME_BYTES_MAX..QR_FRAME_JUMBO_MAX)    QR_EWIRE_LENGTH
 *   msg_count 0, or more messages than the
 *   bytes could hold (16 B the smallest)       QR_EWIRE_COUNT
 * On an error the reader is left empty (qr_wire_next returns 0) and hdr is
 * not written.
 */
int qr_wire_frame_open_peer(struct qr_frame_reader *r, const void *buf,
			    size_t len, uint32_t cluster_id, size_t peer_max,
			    struct qr_frame_hdr *hdr)
{
	const uint8_t *p = buf;

	r->buf = p;
	r->len = 0;
	r->off = 0;
	r->left = 0;
	if (len < QR_FRAME_HDR_BYTES)
		return QR_EWIRE_SHORT;
	if (qr_ld16(p + FH_MAGIC) != QR_WIRE_MAGIC)
		return QR_EWIRE_MAGIC;
	if (p[FH_PROTO] != QR_WIRE_PROTO)
		return QR_EWIRE_VERSION;
	if (qr_ld32(p + FH_CLUSTER) != cluster_id)
		return QR_EWIRE_CLUSTER;
	size_t max = QR_FRAME_BYTES_MAX;
	if (qr_ld16(p + FH_SRC) != QR_NODE_CLIENT)
		max = QR_MIN(QR_MAX(peer_max, (size_t)QR_FRAME_BYTES_MAX),
			     (size_t)QR_FRAME_JUMBO_MAX);
	if (len > max)
		return QR_EWIRE_LENGTH;

	uint8_t count = p[FH_COUNT];
	if (count == 0 ||
	    count > (len - QR_FRAME_HDR_BYTES) / WIRE_MSG_BYTES_MIN)
		return QR_EWIRE_COUNT;

	if (hdr) {
		hdr->msg_count = count;
		hdr->cluster_id = qr_ld32(p + FH_CLUSTER);
		hdr->src_node = qr_ld16(p + FH_SRC);
		hdr->dst_node = qr_ld16(p + FH_DST);
		hdr->shard = qr_ld16(p + FH_SHARD);
		hdr->epoch = qr_ld16(p + FH_EPOCH);
		hdr->hlc = qr_ld64(p + FH_HLC);
	}
	r->len = len;
	r->off = QR_FRAME_HDR_BYTES;
	r->left = count;
	return 0;
}

/* Stop reading: later calls return 0. */
static int reader_fail(struct qr_frame_reader *r, int err)
{
	r->left = 0;
	r->off = r->len;
	return err;
}

/*
 * Checks, in this order (after msg_count messages, any byte left is
 * QR_EWIRE_LENGTH):
 *   fewer than 4 bytes left for the header     QR_EWIRE_SHORT
 *   length < 4 or length > bytes left          QR_EWIRE_LENGTH
 *   type 0 or >= QR_MSG_TYPE_END               QR_EWIRE_TYPE
 *   length < the type's fixed part, or
 *   length != fixed + key_len + value_len      QR_EWIRE_LENGTH
 *   a range check of fields_ok fails           QR_EWIRE_FIELD
 * Cost: a handful of compares, ~10 loads and clearing the 168 B struct
 * qr_msg per message (vector stores: src/meson.build, hot_c_args).
 */
int qr_wire_next(struct qr_frame_reader *r, struct qr_msg *m)
{
	QR_DASSERT(r->off <= r->len);
	if (r->left == 0) {
		if (r->off != r->len)
			return reader_fail(r, QR_EWIRE_LENGTH);
		return 0;
	}

	const uint8_t *p = r->buf + r->off;
	size_t rest = r->len - r->off;
	if (rest < QR_MSG_HDR_BYTES)
		return reader_fail(r, QR_EWIRE_SHORT);

	size_t length = qr_ld16(p + MH_LENGTH);
	if (length < QR_MSG_HDR_BYTES || length > rest)
		return reader_fail(r, QR_EWIRE_LENGTH);

	const struct wire_layout *l = layout_of(p[MH_TYPE]);
	if (!l)
		return reader_fail(r, QR_EWIRE_TYPE);
	if (length < l->fixed)
		return reader_fail(r, QR_EWIRE_LENGTH);

	/* From here on every read is inside [p, p + length). */
	memset(m, 0, sizeof(*m));
	m->type = p[MH_TYPE];
	m->flags = p[MH_FLAGS];
	if (l->key_at)
		m->key_len = p[l->key_at];
	if (l->value_at)
		m->value_len = qr_ld16(p + l->value_at);
	if (length != msg_bytes(l, m))
		return reader_fail(r, QR_EWIRE_LENGTH);
	if (l->key_at)
		m->key = p + l->fixed;
	if (l->value_at)
		m->value = p + l->fixed + m->key_len;
	get_fields(p, m);
	if (!fields_ok(m, l, QR_VALUE_INLINE_MAX))
		return reader_fail(r, QR_EWIRE_FIELD);

	r->off += length;
	r->left--;
	return 1;
}
