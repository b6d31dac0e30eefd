/* SPDX-License-Identifier: MIT */
/*
 * The sans-IO core's environment: everything it needs from the outside
 * world, as function pointers (the shard loop and the simulator each provide
 * one). The core never does I/O itself: it is fed events (frames, timer
 * ticks, WAL completions) and emits effects through these calls.
 */
#ifndef QR_CORE_ENV_H
#define QR_CORE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "core/version.h"

/* WAL record types. Values are stored on disk: never renumber. */
enum qr_wal_type {
	QR_WAL_PUT = 1,	      /* a value */
	QR_WAL_TOMBSTONE = 2, /* a delete, with its version */
	QR_WAL_HINT = 3,      /* hinted handoff: a write a replica missed;
			       * aux = target node | QR_WAL_AUX_TOMBSTONE */
	QR_WAL_CLOCK = 4,     /* HLC lease: version.hlc is a ceiling the node
			       * never stamps at or above until logged anew;
			       * key is the single byte 0; value (8 B, LE,
			       * optional): the node's closed-timestamp floor,
			       * below which every write it stamped is
			       * durable at every replica */
	QR_WAL_PROMISE = 5,   /* CASPaxos: version is the ballot promised for
			       * key (src/core/paxos.h); no value */
	QR_WAL_TYPE_MAX = QR_WAL_PROMISE,
};

/* One record the core asks the WAL to make durable. Pointers are only valid
 * during the call: the WAL copies what it keeps. */
struct qr_wal_record {
	uint64_t lsn; /* assigned by the core: 1, 2, 3, ... per shard */
	uint8_t type; /* enum qr_wal_type */
	uint32_t partition;
	struct qr_version version;
	const void *key;
	uint8_t key_len;
	const void *value;
	uint32_t value_len;
	uint16_t aux; /* type-specific: see enum qr_wal_type */
};

#define QR_WAL_AUX_TOMBSTONE 0x8000u /* QR_WAL_HINT: a delete */

struct qr_env {
	void *ctx;
	/* Monotonic microseconds: timers, deadlines, the failure detector. */
	uint64_t (*now_us)(void *ctx);
	/* Wall-clock ms for the HLC (the sim skews and jumps it). */
	uint64_t (*wall_ms)(void *ctx);
	/* HLC logical overflow: let time pass (NULL: CPU pause). */
	void (*pause)(void *ctx);
	/* Send one frame. dst_node is a node id, or QR_NODE_CLIENT with
	 * client the handle the driver gave with the request. The frame is
	 * only valid during the call. */
	void (*send)(void *ctx, uint16_t dst_node, uint64_t client,
		     const void *frame, size_t len);
	/* Queue a record for the WAL: 0, or an error (the core then answers
	 * the write with that error). Completion comes later, in order,
	 * through qr_core_on_wal_durable(). */
	int (*wal_append)(void *ctx, const struct qr_wal_record *rec);
	/* Deterministic randomness (the sim seeds it). */
	uint64_t (*random)(void *ctx);
	/* Optional (NULL: not called). The frame being handled passed
	 * authentication (its MAC verified: auth.c, auth_client.c; or the
	 * check is off for its kind), before anything in it is used: the
	 * driver may now trust its link-layer source (the shard learns its
	 * ARP entry here, issue 12 item 4). client: as in qr_core_on_frame. */
	void (*authentic)(void *ctx, uint64_t client);
};

#endif
