/* SPDX-License-Identifier: MIT */
/*
 * Wire format: a frame (the UDP payload) holds a header and one or more
 * messages. All integers are little-endian; layouts are fixed and packed with
 * explicit offsets (see docs/protocol.md), never C struct images.
 *
 *   frame   := frame_hdr msg{msg_count}             (total <= 1472 bytes;
 *              between nodes up to peer_frame_bytes, at most 8972)
 *   frame_hdr (24 B): magic u16 'Q''R' | proto u8 | msg_count u8 |
 *             cluster_id u32 | src_node u16 | dst_node u16 | shard u16 |
 *             epoch u16 | hlc u64 (sender's HLC, 0 from clients)
 *   epoch: the sending node's topology epoch mod 2^16 (core/topology.c
 *   T6 fences peers by it; a client reads a node's from its replies), 0
 *   from clients. Proto 2 added it (proto 1 had a reserved 0 there).
 *   msg     := type u8 | flags u8 | length u16 (whole message) | body
 *
 * The decoder is total: for any byte string it returns messages or a named
 * QR_EWIRE_* error, never reads outside [buf, buf+len), and accepts a
 * message only if its length is exactly the fixed body plus its key and value
 * lengths and every enumerated field is in range. Decoded keys and values
 * point into the frame (zero copy): they live as long as the frame buffer.
 */
#ifndef QR_CORE_WIRE_H
#define QR_CORE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/version.h"
#include "quorate/limits.h" /* QR_FRAME_BYTES_MAX, key and value sizes */

#define QR_WIRE_MAGIC 0x5251u /* bytes 'Q','R' read little-endian */
#define QR_WIRE_PROTO 2
#define QR_FRAME_HDR_BYTES 24
#define QR_MSG_HDR_BYTES 4
#define QR_NODE_CLIENT 0xffffu  /* src_node of a frame sent by a client */
/* FRAG (wire_long.h): its fixed part, message header included; the
 * smallest chunk a sender may cut (the reassembler's bitmap bound); the
 * longest long message: its 4-byte value length, the message without its
 * value (under a frame), and the largest value. */
#define QR_FRAG_FIXED_BYTES 34
#define QR_FRAG_CHUNK_MIN 256u
#define QR_FRAG_NACK_BYTES_MAX 128u /* a NACK names up to 1,024 chunks */
#define QR_LONG_BYTES_MAX (4u + QR_FRAME_BYTES_MAX + QR_VALUE_BYTES_MAX)
#define QR_TOPOLOGY_VALUE_BYTES 24 /* QR_OP_TOPOLOGY's answer */

enum qr_msg_type {
	QR_MSG_CLIENT_REQ = 1,
	QR_MSG_CLIENT_REPLY = 2,
	QR_MSG_REPLICATE = 3,
	QR_MSG_REPLICATE_ACK = 4,
	QR_MSG_READ = 5,
	QR_MSG_READ_REPLY = 6,
	QR_MSG_HEARTBEAT = 7,
	QR_MSG_DIGEST = 8, /* anti-entropy: a partition's digest */
	QR_MSG_PREPARE = 9,   /* CASPaxos phase 1a (src/core/paxos.h) */
	QR_MSG_PROMISE = 10,  /* phase 1b: promise + the accepted state */
	QR_MSG_ACCEPT = 11,   /* phase 2a: a state with version = ballot */
	QR_MSG_ACCEPTED = 12, /* phase 2b */
	QR_MSG_ORPHAN_REQ = 13,	 /* restarted coordinator: hand off my writes */
	QR_MSG_ORPHAN_DONE = 14, /* ... handed off and acknowledged */
	QR_MSG_FRAG = 15, /* a piece of a long message (wire_long.h) */
	QR_MSG_FRAG_NACK = 16, /* chunks of a long message still missing */
	QR_MSG_TOPO_NEWS = 17, /* a settled topology, to a peer behind it
				* (topology.c T7) */
	QR_MSG_TYPE_END,	 /* first unused type: room to add more */
};

enum qr_op {
	QR_OP_GET = 1,
	QR_OP_PUT = 2,
	QR_OP_DELETE = 3,
	/* Linearizable, CASPaxos per key (docs/protocol.md); level QUORUM. */
	QR_OP_LIN_GET = 4,
	QR_OP_PUT_IF_ABSENT = 5,
	QR_OP_PUT_IF_VERSION = 6,    /* `expected` is the version to replace */
	QR_OP_DELETE_IF_VERSION = 7, /* `expected` is the version to delete */
	/* The coordinator's installed topology (docs/client.md): answered
	 * at once, value = epoch u64 | owners u64 | pending u64 (members,
	 * bit n: node n), little-endian; the key is not read. */
	QR_OP_TOPOLOGY = 8,
	QR_OP_END,
};

/* Consistency level of one request. R and W are explicit for QR_LEVEL_RW. */
enum qr_level {
	QR_LEVEL_ONE = 1,
	QR_LEVEL_QUORUM = 2,
	QR_LEVEL_ALL = 3,
	QR_LEVEL_RW = 4, /* use the request's r (reads) or w (writes), 1..RF */
	QR_LEVEL_ANY = 5, /* writes only: a hint in the coordinator's WAL
			   * counts when no replica can be reached */
	/* Zones (placement.h): the coordinator's zone is "local". */
	QR_LEVEL_LOCAL_ONE = 6,	   /* one replica in the local zone */
	QR_LEVEL_LOCAL_QUORUM = 7, /* a quorum of the local zone's replicas */
	QR_LEVEL_EACH_QUORUM = 8,  /* a quorum of each zone's replicas */
	QR_LEVEL_END,
};

/* Message flags (the flags byte of the message header). */
#define QR_MSGF_TOMBSTONE 0x01 /* REPLICATE / READ_REPLY / CLIENT_REPLY */
#define QR_MSGF_NOACK 0x02     /* REPLICATE: anti-entropy push, no ack */
#define QR_MSGF_REPLY 0x04     /* DIGEST: an answer (not to be answered) */
/* Bits 0x08 and 0x10 mean different things per type (each type checks its
 * own mask). CLIENT_REQ reads with a session token (min_version) that no
 * replica is current for: by default the coordinator waits (up to the
 * deadline, then STALE); these ask for STALE at once, or read a quorum. */
#define QR_MSGF_STALE_ERROR 0x08
#define QR_MSGF_STALE_QUORUM 0x10
#define QR_MSGF_DURABLE 0x08   /* DIGEST: every entry of the partition is
				* durable in the sender's WAL */
#define QR_MSGF_REPAIR 0x10    /* REPLICATE: a repair (read repair, or a
				* hand-off from a replica's store): accepted
				* even older than the tombstone grace */
#define QR_MSGF_UNSURE 0x02    /* PROMISE: a state installed below a promise
				* (paxos.h): the proposer must accept */
#define QR_MSGF_NO_WRITES 0x08 /* HEARTBEAT: the sender's WAL refuses writes
				* (disk full, I/O error): do not count it
				* for W until a heartbeat without it */
#define QR_MSGF_ALL 0x1f       /* any other bit is QR_EWIRE_FIELD */

/* An op of the linearizable (CASPaxos) family. */
static inline bool qr_op_is_cas(unsigned op)
{
	return op >= QR_OP_LIN_GET && op <= QR_OP_DELETE_IF_VERSION;
}

/*
 * A decoded message: one flat struct for every type; a field not in the
 * type's layout is zero. Encoding uses the fields of m->type only.
 */
struct qr_msg {
	/* Laid out by size, not by role (each field says which types carry
	 * it): no padding but the versions' own, so the decoder's zeroing
	 * and every sender's initializer write 168 bytes, not 192. */
	uint8_t type;  /* enum qr_msg_type */
	uint8_t flags; /* QR_MSGF_* */
	uint8_t op;    /* CLIENT_REQ: enum qr_op */
	uint8_t level; /* CLIENT_REQ: enum qr_level */
	uint8_t r, w;  /* CLIENT_REQ: for QR_LEVEL_RW, else 0 */
	uint8_t answered; /* CLIENT_REPLY: replicas that answered */
	uint8_t key_len;  /* keyed messages */
	int16_t status;   /* CLIENT_REPLY, REPLICATE_ACK, READ_REPLY: 0 or
			   * enum qr_err */
	uint32_t deadline_us; /* CLIENT_REQ: relative to arrival; 0: server
			       * default */
	/* REPLICATE, REPLICATE_ACK, READ, READ_REPLY, PREPARE, PROMISE,
	 * ACCEPT, ACCEPTED, DIGEST */
	uint32_t partition;
	uint32_t entries; /* DIGEST: entries in the partition */
	/* HEARTBEAT: bumped at each start of the node (and FRAG below) */
	uint32_t incarnation;
	uint32_t value_len; /* in a frame <= QR_VALUE_INLINE_MAX */
	/* FRAG (wire_long.h): op_id is the message id, incarnation the
	 * sender's; the chunk's bytes are value / value_len. FRAG_NACK: the
	 * same identity (the incarnation is the message sender's, who gets
	 * the NACK), frag.offset is the first chunk the bitmap in value /
	 * value_len covers: bit k (LSB first) set = chunk offset/chunk + k
	 * is missing. */
	struct {
		uint32_t total;	 /* bytes of the whole long message */
		uint32_t chunk;	 /* bytes per fragment (the last: fewer) */
		uint32_t crc;	 /* CRC32C of the whole long message */
		uint32_t offset; /* of this fragment, a multiple of chunk */
	} frag;
	/* CLIENT_REQ, CLIENT_REPLY: the client's id, echoed in the reply */
	uint64_t req_id;
	/* TOPO_NEWS: op_id is the sender's epoch, replica_mask its owners
	 * (settled: no pending members) */
	uint64_t min_version;  /* CLIENT_REQ: session token (an HLC); 0: none */
	uint64_t replica_mask; /* CLIENT_REPLY: bit per node that answered */
	/* the replica messages (as partition): coordinator's request id */
	uint64_t op_id;
	uint64_t digest; /* DIGEST: order-free hash of (key, version) entries */
	/* HEARTBEAT: the sender's closed timestamp for the receiver (every
	 * write the sender stamped below it is durable at the receiver).
	 * READ_REPLY and CLIENT_REPLY: the serving replica's watermark. */
	uint64_t closed_ts;
	/* ORPHAN_REQ: versions stamped by the sender in [from, to); DONE
	 * echoes the range */
	uint64_t range_from, range_to;
	uint64_t restart_hlc; /* ORPHAN_*: the sender's first HLC after its
			       * last restart (0: none): its writes stamped
			       * below it are from an earlier incarnation */
	struct qr_version expected; /* CLIENT_REQ *_IF_VERSION ops, else none */
	/* REPLICATE, REPLICATE_ACK, READ_REPLY, and CLIENT_REPLY (the version
	 * written, or read: a client's session token comes from it);
	 * PREPARE / ACCEPT: the ballot; PROMISE: the accepted version;
	 * PROMISE / ACCEPTED with status QR_ESTALE: the ballot that beat it */
	struct qr_version version;
	/* keyed messages */
	const uint8_t *key;
	const uint8_t *value;
};

struct qr_frame_hdr {
	uint8_t msg_count;
	uint32_t cluster_id;
	uint16_t src_node; /* QR_NODE_CLIENT from clients */
	uint16_t dst_node;
	uint16_t shard;
	uint16_t epoch; /* the sender's topology epoch mod 2^16 */
	uint64_t hlc;
};

/* The type carries a value (FRAG's chunk does not count). */
bool qr_wire_carries_value(unsigned type);
/* The range checks of the decoder, for a message decoded from its long
 * form (wire_long.h), with values up to QR_VALUE_BYTES_MAX. */
bool qr_wire_long_fields_ok(const struct qr_msg *m);

/* Bytes a message takes on the wire (header + body + key + value). */
size_t qr_wire_msg_bytes(const struct qr_msg *m);

struct qr_frame_writer {
	uint8_t *buf;
	uint16_t len;
	uint16_t cap;
	uint8_t count;
};

/* Start a frame in buf (cap bytes, at most QR_FRAME_JUMBO_MAX used): the
 * caller's cap is the frame limit (QR_FRAME_BYTES_MAX towards clients). */
void qr_wire_frame_begin(struct qr_frame_writer *w, void *buf, size_t cap,
			 const struct qr_frame_hdr *hdr);
/* Append a message: 0, QR_EFULL (does not fit: the frame is unchanged) or
 * QR_EINVAL (field out of range: nothing written). */
int qr_wire_put(struct qr_frame_writer *w, const struct qr_msg *m);
/* Patch msg_count and return the frame's length in bytes. */
size_t qr_wire_frame_end(struct qr_frame_writer *w);
/* Rewrite the hlc field of a finished frame (stamped at send time). */
void qr_wire_frame_set_hlc(void *frame, uint64_t hlc);
/* Rewrite the epoch field (its low 16 bits), stamped at send time too: a
 * frame opened before a topology change is sent after it. */
void qr_wire_frame_set_epoch(void *frame, uint64_t epoch);

struct qr_frame_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
	uint8_t left; /* messages not yet returned */
};

/* Validate the header: 0 or QR_EWIRE_SHORT/MAGIC/VERSION/CLUSTER/COUNT/
 * LENGTH. hdr may be NULL. Every frame at most QR_FRAME_BYTES_MAX. */
int qr_wire_frame_open(struct qr_frame_reader *r, const void *buf, size_t len,
		       uint32_t cluster_id, struct qr_frame_hdr *hdr);
/* The same, where a node's frame (src_node not QR_NODE_CLIENT) may be up
 * to peer_max bytes (peer_frame_bytes; clamped to QR_FRAME_JUMBO_MAX); a
 * client's stays at QR_FRAME_BYTES_MAX. */
int qr_wire_frame_open_peer(struct qr_frame_reader *r, const void *buf,
			    size_t len, uint32_t cluster_id, size_t peer_max,
			    struct qr_frame_hdr *hdr);
/* Next message: 1 (m filled), 0 (no more, and no trailing bytes), or a
 * QR_EWIRE_* error; after an error the rest of the frame is not read. */
int qr_wire_next(struct qr_frame_reader *r, struct qr_msg *m);

#endif
