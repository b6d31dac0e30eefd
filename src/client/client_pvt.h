/* SPDX-License-Identifier: MIT */
/*
 * libquorate's handle, shared by its files:
 *   client.c       open / close / options / session / placement queries;
 *   client_req.c   the request table, its timers and reply matching;
 *   client_async.c submit / poll / flush (checks, routing, turns);
 *   client_io.c    per-(node, shard) frames, signing, and the kernel UDP
 *                  transport (sendmmsg / recvmmsg);
 *   client_sync.c  the synchronous calls, as submit + poll.
 *
 * The request table: `cap` slots (a power of two >= max_inflight) made at
 * open. A req_id is (seq << bits) | slot, seq counting up from a random
 * base, never 0: a reply finds its slot with a mask and a late reply to a
 * reused slot does not match. A slot is FREE (on the free stack), LIVE
 * (req_id != 0, in the timer heap, keyed by next_us: its next send or its
 * deadline) or DONE (req_id == 0, on the done FIFO until poll() hands it
 * back). Invariants: used == LIVE + DONE == cap - free_top <= max; live ==
 * heap entries; req[heap[i]].heap == i; a parent's next_us <= its
 * children's.
 *
 * Long messages (wire_long.h): a request whose value is over
 * QR_VALUE_INLINE_MAX keeps the head of its long form (prefix and the
 * value-less message, built once at submit, with the CRC32C of the whole
 * form) in its slot's value[] and a pointer to the caller's value; every
 * send cuts the same bytes into the same FRAGs (msg_id = req_id, the
 * handle's incarnation), so a node can complete the message from the
 * fragments of several sends. Replies that come as FRAGs are assembled in
 * `reasm` (large_replies slots of value_bytes_max + a frame), decoded,
 * matched and copied to the caller's buffer at once: a completion never
 * points into the reassembler.
 */
#ifndef QR_CLIENT_PVT_H
#define QR_CLIENT_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client_transport.h"
#include "common/cluster.h"
#include "common/rng.h"
#include "core/placement.h"
#include "core/reasm.h"
#include "core/version.h"
#include "core/wire.h"
#include "quorate/client.h"

#define QR_CLIENT_ATTEMPTS_MAX 64 /* retries are capped to this - 1 */
#define QR_CLIENT_INFLIGHT_MAX (1u << 20) /* quorate-bench's --outstanding */
#define QR_CLIENT_NIL	       UINT32_MAX

struct qr_auth_client;

/* One request. A value (PUT and PUT_IF_*) of up to QR_VALUE_INLINE_MAX
 * bytes waits in value[]; a longer one stays in the caller's buffer (big)
 * and value[] holds its long form's head (see top). */
struct qr_creq {
	uint64_t req_id;      /* 0: not LIVE */
	uint64_t t0_us;	      /* submitted */
	uint64_t deadline_us; /* t0 + deadline */
	uint64_t interval_us; /* deadline / attempts */
	uint64_t next_us;     /* next send, or the deadline after the last */
	uint64_t tried_mask;  /* nodes sent to: replies accepted from these */
	uint64_t min_version;
	struct qr_version expected;
	void *user;
	uint32_t heap;	    /* index in c->heap (LIVE) */
	uint32_t next_done; /* DONE: the next in the FIFO */
	uint16_t shard;
	uint8_t client_op; /* enum qr_client_op */
	uint8_t wop;	/* the wire's enum qr_op */
	uint8_t level, r, w, flags;
	uint8_t sent;	  /* attempts made */
	uint8_t attempts; /* retries + 1 */
	uint8_t start;	  /* replica index of the first attempt */
	bool weak;	  /* below quorum: raises session_weak */
	uint8_t key_len;
	uint8_t replicas[QR_RF_MAX];
	const uint8_t *big; /* a long request's value (the caller's) */
	uint32_t value_len; /* the request's value bytes */
	uint32_t head_len;  /* long: bytes of the head in value[] */
	uint32_t crc;	    /* long: CRC32C of the whole long form */
	uint8_t *out;	    /* GET: the caller's buffer for the value */
	size_t out_cap;
	struct qr_result res;
	uint8_t key[QR_KEY_BYTES_MAX];
	uint8_t value[QR_VALUE_INLINE_MAX]; /* inline value, or long head */
};

struct qr_client {
	struct qr_cluster cluster;
	struct qr_placement pl;
	struct qr_client_options opt;
	const struct qr_client_transport *tp;
	void *ep;
	struct qr_rng rng;
	uint64_t seq;	       /* of the next req_id */
	int zone;	       /* the client's zone index, -1: none */
	uint64_t session;      /* highest HLC seen */
	uint64_t session_weak; /* highest HLC seen through an operation below
				* quorum (W or R < floor(RF/2)+1): what a
				* quorum read must still be current for */
	struct qr_client_stats stats;
	/* topology (client_sync.c qr_client_refresh): the epoch pl was
	 * built at; a reply's header said a node holds a newer one; no
	 * automatic refresh before refresh_after_ns */
	uint64_t epoch;
	bool epoch_newer, refreshing;
	uint64_t refresh_after_ns;
	struct qr_auth_client *auth; /* NULL: frames go unsigned */
	/* long messages (see top) */
	struct qr_reasm reasm;
	uint32_t incarnation; /* of the handle's FRAG ids (random) */
	uint32_t chunk;	      /* FRAG chunk: fills a frame less the trailer */
	uint64_t rx_now_ns;   /* the clock at this receive turn */
	uint8_t frag0[QR_FRAME_BYTES_MAX]; /* fragment 0: head + value */
	/* request table (see top) */
	uint32_t cap, bits, max, used, live, free_top;
	uint32_t done_head, done_tail;
	uint32_t *free_slot;
	uint32_t *heap;
	struct qr_creq *req;
	/* frames being filled, one per (node, shard), sent by qr_cl_flush */
	unsigned nframes;
	uint16_t fnode[QR_CLIENT_BURST], fshard[QR_CLIENT_BURST];
	struct qr_frame_writer fw[QR_CLIENT_BURST];
	struct qr_client_pkt pkt[QR_CLIENT_BURST];
	uint8_t frame[QR_CLIENT_BURST][QR_FRAME_BYTES_MAX];
};

/* client_req.c: the table's memory (0 or -1), and its release. */
int qr_cl_table_init(struct qr_client *c);
void qr_cl_table_fini(struct qr_client *c);

/* client_io.c */
void qr_cl_enqueue(struct qr_client *c, uint16_t node, uint16_t shard,
		   const struct qr_msg *m);
void qr_cl_flush(struct qr_client *c);
/* Every datagram waiting, each passed to qr_cl_on_datagram: 0 or QR_EIO. */
int qr_cl_receive(struct qr_client *c);
extern const struct qr_client_transport qr_cl_udp;
/* A UDP endpoint bound to bind_addr (NULL: any), with socket buffers of
 * buf_bytes: NULL with err set. */
void *qr_cl_udp_open(const char *bind_addr, int buf_bytes, char *err,
		     size_t err_len);

/* client_req.c: the table (see top) */
void qr_cl_on_datagram(struct qr_client *c, const struct qr_client_pkt *p);
/* A slot with a fresh req_id and a cleared result; NULL when full. */
/* Route with the placement of members from now on, at epoch (client.c):
 * 0, or QR_ECONFIG (a member the cluster file lacks, fewer than RF) /
 * QR_ENOMEM (the handle keeps its placement). */
int qr_cl_topology_install(struct qr_client *c, uint64_t epoch,
			   uint64_t members);
struct qr_creq *qr_cl_take(struct qr_client *c);
/* Back to the free stack (never started, or handed back). */
void qr_cl_give(struct qr_client *c, struct qr_creq *q);
/* Route fields set: send attempt 0 at now and make it LIVE. */
void qr_cl_start(struct qr_client *c, struct qr_creq *q, uint64_t now);
/* A long request's head in q->value (q->big, q->value_len and the
 * routing fields set, deadline_us absolute): 0 or QR_EINVAL. */
int qr_cl_long_head(struct qr_client *c, struct qr_creq *q, uint64_t now);
/* Resend or expire what is due at now. */
void qr_cl_timers(struct qr_client *c, uint64_t now);
/* When the next timer is due (UINT64_MAX: none LIVE). */
uint64_t qr_cl_next_due(const struct qr_client *c);
/* Up to max DONE requests into out (oldest ending first), freed. */
unsigned qr_cl_deliver(struct qr_client *c, struct qr_completion *out,
		       unsigned max);
/* Forget every request (a failed socket under a synchronous call). */
void qr_cl_drop_all(struct qr_client *c);

#endif
