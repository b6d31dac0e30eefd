/* SPDX-License-Identifier: MIT */
/*
 * libquorate: the C client of a quorate cluster, over kernel UDP sockets.
 *
 * The client is "smart" (DESIGN.md section 2): it reads the cluster file,
 * computes key -> partition -> replica set -> (node, shard) exactly as the
 * nodes do, and sends each request straight to one replica of the key,
 * which coordinates it. If no answer comes within a retry interval
 * (deadline / (retries + 1)) it resends the SAME request id: a read to the
 * next replica at once, a write to the same coordinator once more and then
 * to the next replicas. The whole call is bounded by the deadline.
 *
 * Retries and writes (read this before choosing options). A node remembers
 * recent writes by (client address, request id), so a write resent to the
 * SAME coordinator is never applied twice: the node answers the resend with
 * the first attempt's outcome. A write resent to ANOTHER replica is a new
 * write there, with its own version: if the first coordinator was alive but
 * slow, the value may be applied twice under two versions (harmless for a
 * plain PUT of the same value, but the version the client sees may not be
 * the highest one stored). Set write_failover = false to keep writes on one
 * coordinator (no double apply, but no failover when it is down).
 *
 * A QR_ETIMEOUT or QR_EUNAVAILABLE from a write does not mean "not
 * written": the write may have reached fewer than W replicas and may still
 * spread by read repair (docs/protocol.md, "Write").
 *
 * Session tokens: the handle keeps the highest version (HLC) it has seen in
 * any reply and, when sessions are on (the default) and a request gives no
 * min_version, sends it as the request's min_version. Writes are then
 * stamped above everything the session has seen, or answered CLOCK_AHEAD
 * when the coordinator's clock is too far behind the token to wait for
 * within the deadline (docs/protocol.md, "Versions and clocks").
 *
 * Thread safety: a handle is NOT thread-safe. Use one handle per thread
 * (handles share nothing, so that is cheap and scales).
 *
 * Memory: qr_client_open() allocates everything the handle needs;
 * requests allocate nothing. Results are plain structs the caller owns; a
 * GET's value is copied into the buffer the caller passes with it.
 *
 * Values (docs/client.md, "Large values"): up to value_bytes_max bytes
 * (the cluster file's: 1 MiB by default, QR_VALUE_BYTES_MAX at most). One over
 * QR_VALUE_INLINE_MAX travels as fragments: a request's are cut from the
 * caller's own buffer (not copied: it must stay valid and unchanged until
 * the request's completion is handed back), a reply's are put back
 * together in one of large_replies buffers of the handle.
 */
#ifndef QUORATE_CLIENT_H
#define QUORATE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorate/err.h"
#include "quorate/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QR_CLIENT_KEY_BYTES_MAX	      QR_KEY_BYTES_MAX /* longer: QR_ETOOLARGE; empty: EINVAL */
#define QR_CLIENT_VALUE_BYTES_MAX     QR_VALUE_BYTES_MAX /* value_bytes_max's ceiling */
#define QR_CLIENT_LARGE_REPLIES_DEFAULT 4
#define QR_CLIENT_LARGE_REPLIES_MAX	1024
#define QR_CLIENT_DEADLINE_MS_DEFAULT 1000
#define QR_CLIENT_RETRIES_DEFAULT     3

struct qr_client;

/* Which replica of the key's replica set coordinates a request. */
enum qr_client_coordinator {
	QR_COORD_FIRST = 0,  /* highest placement score: the same node for a
			      * key every time (best for write dedupe) */
	QR_COORD_RANDOM = 1, /* a random replica per request (spreads load) */
};

struct qr_client_options {
	uint32_t deadline_ms; /* default per-request deadline; 0: 1000 */
	uint32_t retries;     /* resends after the first send; the deadline is
			       * split in retries + 1 equal intervals */
	enum qr_client_coordinator coordinator;
	bool write_failover;   /* resend writes to other replicas (see top) */
	bool session;	       /* keep and send the session token */
	const char *bind_addr; /* "IPv4" or "IPv4:port" to bind; NULL: any */
	uint64_t seed;	       /* request ids / random choice; 0: getrandom() */
	const char *key_file;  /* client key file (docs/client.md, "Client
				* keys"); NULL: $QUORATE_KEY_FILE, else the
				* cluster file's client_key_file, else none:
				* frames go unsigned (auth = none clusters) */
	uint16_t client_id;    /* which line of it; 0: $QUORATE_CLIENT_ID,
				* else the first */
	uint32_t max_inflight; /* asynchronous requests in flight at once;
				* 0: 256; at most 2^20 (qr_client_submit) */
	bool batch;	       /* submit() queues, poll()/flush() send */
	const char *zone;      /* the client's zone (a node `zone` of the
				* cluster file): requests go first to a
				* replica there; NULL: $QUORATE_ZONE, else
				* none (placement order) */
	uint32_t value_bytes_max; /* longest value sent or received; 0:
				   * the cluster file's value_bytes_max
				   * (QR_VALUE_BYTES_DEFAULT, 1 MiB, unless
				   * set); at most QR_VALUE_BYTES_MAX (8 MiB);
				   * a longer PUT is QR_ETOOLARGE before
				   * anything is sent */
	uint32_t large_replies;	  /* replies over QR_VALUE_INLINE_MAX being
				   * reassembled at once (each holds a buffer
				   * of value_bytes_max + 1.5 KiB, allocated at
				   * open); 0: 4; at most 1024. A reply that
				   * finds none free is dropped and counted
				   * (stats.reasm_dropped), then retried */
};

/* deadline 1000 ms, 3 retries, FIRST, write_failover on, session on. */
void qr_client_options_default(struct qr_client_options *o);

enum qr_consistency {
	QR_CONSISTENCY_DEFAULT = 0, /* QUORUM */
	QR_CONSISTENCY_ONE = 1,
	QR_CONSISTENCY_QUORUM = 2, /* floor(RF/2)+1 */
	QR_CONSISTENCY_ALL = 3,
	QR_CONSISTENCY_RW = 4, /* explicit r (reads) / w (writes), 1..RF */
	QR_CONSISTENCY_ANY = 5, /* writes: a hint in the coordinator's WAL
				 * counts when no replica is up */
	/* Zones (docs/client.md, "Zones"): the coordinator's zone is local;
	 * set qr_client_options.zone so that is yours. */
	QR_CONSISTENCY_LOCAL_ONE = 6,	 /* one replica in the local zone */
	QR_CONSISTENCY_LOCAL_QUORUM = 7, /* a majority of the local zone's
					  * replicas; none there: UNAVAILABLE */
	QR_CONSISTENCY_EACH_QUORUM = 8,	 /* a majority in every zone */
};

/* A read whose session token no replica is current for yet (its watermark
 * is behind the token): what the coordinator does. */
enum qr_on_stale {
	QR_ON_STALE_WAIT = 0,	/* wait for a replica to catch up, until the
				 * deadline; then QR_ESTALE */
	QR_ON_STALE_ERROR = 1,	/* QR_ESTALE as soon as every live replica
				 * answered behind the token */
	QR_ON_STALE_QUORUM = 2, /* read at least a quorum (one of them
				 * current): a quorum read */
};

/* Per-request options; a NULL pointer means all defaults. */
struct qr_req_opts {
	enum qr_consistency consistency;
	uint8_t r, w;	      /* with QR_CONSISTENCY_RW */
	uint32_t deadline_ms; /* 0: the handle's default */
	uint64_t min_version; /* an HLC; 0: the session token (if on) */
	enum qr_on_stale on_stale; /* reads with a token */
};

struct qr_result {
	int status;	       /* 0 or enum qr_err; also the return value */
	uint64_t hlc;	       /* version written, or read (0: none) */
	uint16_t node;	       /* version's node (breaks HLC ties) */
	uint16_t coordinator;  /* node that answered (0xffff: none) */
	uint8_t answered;      /* replicas that answered */
	uint64_t replica_mask; /* bit n: node n answered */
	bool tombstone;	       /* GET: the key is deleted at version */
	uint64_t closed_ts;    /* GET: the serving replica's watermark (HLC):
				* it held every write stamped below it */
	uint32_t lag_ms;       /* GET: how far that watermark is behind the
				* answering node's clock (its replication lag);
				* UINT32_MAX: unknown (no closed timestamps yet) */
	uint32_t attempts;     /* sends of this request (a long one is
				* several datagrams per send) */
	uint32_t value_len;    /* GET: the value's bytes; with QR_ETOOLARGE,
				* the buffer was too small: the size needed */
	uint8_t *value;	       /* GET: the caller's buffer holding them
				* (NULL: no value, or it did not fit) */
};

/*
 * Open a handle: load the cluster file, compute the placement table, open
 * one non-blocking UDP socket. opt NULL: defaults. Returns NULL with a
 * message in err (if err_len > 0) on failure; the message of a bad cluster
 * file is qr_cluster_load()'s ("FILE: [section] key: what is wrong").
 */
struct qr_client *qr_client_open(const char *cluster_file,
				 const struct qr_client_options *opt, char *err,
				 size_t err_len);
/* Close the socket and free the handle. NULL is fine. */
void qr_client_close(struct qr_client *c);

/*
 * Requests. Each returns 0 or a negative enum qr_err, and fills *out (which
 * may be NULL) in both cases: the version, the replicas that answered, and
 * for GET the value, copied into buf (cap bytes; out->value points at it).
 * A value longer than cap is not copied at all: QR_ETOOLARGE with
 * out->value_len the size needed (call again with a buffer that large;
 * QR_CLIENT_VALUE_BYTES_MAX always fits). Errors: QR_ENOTFOUND (GET of a missing or deleted key:
 * out->hlc is the tombstone's version, if any), QR_EUNAVAILABLE,
 * QR_ETIMEOUT (no node answered within the deadline), QR_ETOOLARGE,
 * QR_EINVAL (bad key, level or options), QR_EBUSY, QR_ESTALE, QR_EIO (a
 * socket error), or any status a node sends.
 */
int qr_client_put(struct qr_client *c, const void *key, size_t key_len,
		  const void *value, size_t value_len,
		  const struct qr_req_opts *o, struct qr_result *out);
int qr_client_get(struct qr_client *c, const void *key, size_t key_len,
		  void *buf, size_t cap, const struct qr_req_opts *o,
		  struct qr_result *out);
int qr_client_del(struct qr_client *c, const void *key, size_t key_len,
		  const struct qr_req_opts *o, struct qr_result *out);

/*
 * Linearizable operations (CASPaxos per key, docs/protocol.md). Always a
 * majority of the key's replicas (consistency must be DEFAULT or QUORUM,
 * else QR_EINVAL). A failed precondition returns QR_EPRECONDITION with the
 * key's current version in out->hlc / out->node (0 / 0: no entry).
 * QR_EUNAVAILABLE or QR_ETIMEOUT: the op may or may not have taken effect.
 * The put/del variants are resent to their first coordinator only (its
 * dedupe table then answers a resend with the first outcome). A
 * linearizable read or a failed precondition may give the key a new
 * version with the same value (the state is accepted again): use the
 * version of the latest answer in *_if_version.
 *   get_linearizable: like get (QR_ENOTFOUND if absent);
 *   put_if_absent:    writes iff the key has no value (absent or deleted);
 *   put_if_version / del_if_version: iff the current version is (hlc,node).
 */
int qr_client_get_linearizable(struct qr_client *c, const void *key,
			       size_t key_len, void *buf, size_t cap,
			       const struct qr_req_opts *o,
			       struct qr_result *out);
int qr_client_put_if_absent(struct qr_client *c, const void *key,
			    size_t key_len, const void *value,
			    size_t value_len, const struct qr_req_opts *o,
			    struct qr_result *out);
int qr_client_put_if_version(struct qr_client *c, const void *key,
			     size_t key_len, const void *value,
			     size_t value_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o,
			     struct qr_result *out);
int qr_client_del_if_version(struct qr_client *c, const void *key,
			     size_t key_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o,
			     struct qr_result *out);

/*
 * Asynchronous, pipelined requests (docs/client.md, "Asynchronous API").
 * Many requests may be in flight on one handle (up to
 * qr_client_options.max_inflight); each keeps the retry and deadline rules
 * of the synchronous calls above, which are thin wrappers over these.
 * Nothing is allocated per request: the handle's request table is sized at
 * open. Still one thread per handle.
 *
 *   submit: validate and send at once (or queue the datagram into this
 *           turn's batch, see qr_client_flush); the key, options and a
 *           value of up to QR_VALUE_INLINE_MAX bytes are copied, so those
 *           buffers may be reused on return. A longer value and a GET's
 *           buf are the caller's until the completion is handed back.
 *   poll:   read replies, resend what is due, expire what passed its
 *           deadline, and hand back up to max completions; waits up to
 *           timeout_ms (0: never blocks; -1: until one completes or nothing
 *           is in flight) for the first one.
 *   fd / timeout_ms: to run the handle from the caller's own event loop
 *           (epoll): poll(c, ..., 0) when the fd is readable or when
 *           qr_client_timeout_ms() has passed.
 */
/* Named apart from the wire's enum qr_op (src/core/wire.h), which the
 * library includes. */
enum qr_client_op {
	QR_CLIENT_PUT = 1,
	QR_CLIENT_GET = 2,
	QR_CLIENT_DEL = 3,
	QR_CLIENT_GET_LINEARIZABLE = 4,
	QR_CLIENT_PUT_IF_ABSENT = 5,
	QR_CLIENT_PUT_IF_VERSION = 6,
	QR_CLIENT_DEL_IF_VERSION = 7,
	/* The answering node's installed topology (no key read, level ONE):
	 * result.value = epoch | owners | pending, 8 bytes each,
	 * little-endian (member masks, bit n: node n); qr_client_refresh()
	 * sends it. */
	QR_CLIENT_TOPOLOGY = 8,
};

struct qr_request {
	enum qr_client_op op;
	const void *key;
	size_t key_len;
	const void *value; /* PUT / PUT_IF_*: copied at submit if at most
			    * QR_VALUE_INLINE_MAX bytes; a longer one is
			    * sent (and resent) from here: keep it valid
			    * and unchanged until the completion */
	size_t value_len;
	uint64_t if_hlc; /* *_IF_VERSION: the expected version */
	uint16_t if_node;
	const struct qr_req_opts *opts; /* NULL: defaults; copied at submit */
	void *user;			/* handed back in the completion */
	void *buf;	/* GET / GET_LINEARIZABLE: the value is copied here
			 * (result.value); valid until the completion */
	size_t buf_cap; /* its bytes; a longer value: QR_ETOOLARGE */
};

struct qr_completion {
	void *user;		 /* qr_request.user */
	enum qr_client_op op;
	struct qr_result result; /* result.status: 0 or enum qr_err */
};

/* 0 (exactly one completion will come), or QR_EBUSY (max_inflight
 * requests not yet handed back: poll first), QR_EINVAL / QR_ETOOLARGE
 * (nothing sent; no completion will come).
 * Mixing: a synchronous call on a handle with asynchronous requests not
 * yet handed back returns QR_EBUSY at once and touches nothing (it never
 * consumes their completions); use another handle for it. */
int qr_client_submit(struct qr_client *c, const struct qr_request *rq);
/* Send every datagram queued by submit() (submit sends at once unless
 * qr_client_options.batch is on; then poll() and flush() send them, packed
 * several requests per datagram per destination). 0, or QR_EINVAL (c is
 * NULL). A datagram the socket will not take is lost like one lost on the
 * network (stats.send_failed): resends and the deadline cover it. */
int qr_client_flush(struct qr_client *c);
/* Completions written to out[0..n), in the order requests ended: n >= 0,
 * or QR_EIO / QR_EINVAL (max > 0 and out NULL). Returns 0 at once when
 * nothing is in flight, whatever timeout_ms; max 0: progress only. */
int qr_client_poll(struct qr_client *c, struct qr_completion *out,
		   unsigned max, int timeout_ms);
/* Requests submitted and not yet handed back by poll (a completed one
 * keeps its slot until then). */
unsigned qr_client_inflight(const struct qr_client *c);
/* The handle's socket (readable: a reply may be waiting). */
int qr_client_fd(const struct qr_client *c);
/* Milliseconds until the next resend or deadline, rounded up (-1: nothing
 * in flight; 0: a completion or a batched datagram is waiting: poll). */
int qr_client_timeout_ms(const struct qr_client *c);

/* The session token (highest HLC seen), e.g. to hand to another process;
 * set: raise it (it never goes back). */
uint64_t qr_client_session(const struct qr_client *c);
void qr_client_session_observe(struct qr_client *c, uint64_t hlc);

/* Membership changes (docs/client.md, "Membership changes"): every reply
 * carries the answering node's topology epoch; one newer than the
 * handle's marks its placement stale. qr_client_refresh() asks a node
 * for its topology (one synchronous QR_CLIENT_TOPOLOGY request: the
 * handle must be idle, else QR_EBUSY) and routes with the members it
 * answers from then on (addresses from the cluster file's nodes): 0, or
 * the request's error, or QR_ECONFIG (a member the cluster file lacks).
 * The synchronous calls refresh by themselves after one that saw a newer
 * epoch (at most once a second); an asynchronous caller calls
 * qr_client_refresh_if_stale() when its handle is idle (quorate-gw does,
 * after each poll). The epoch
 * starts at 1 (the cluster file's members, as the nodes start). */
int qr_client_refresh(struct qr_client *c);
/* qr_client_refresh() if stale, idle and not tried within a second: 1
 * (tried), 0 (nothing to do). For an event loop between polls. */
int qr_client_refresh_if_stale(struct qr_client *c);
bool qr_client_topology_stale(const struct qr_client *c);
uint64_t qr_client_epoch(const struct qr_client *c);

/* Where a key goes: its partition and replica node ids (highest placement
 * score first). Returns the replica count (RF), or a negative QR_E*. */
int qr_client_replicas(const struct qr_client *c, const void *key,
		       size_t key_len, uint32_t *partition, uint16_t nodes[8]);

struct qr_client_stats {
	uint64_t requests; /* requests started (calls and submits past the
			    * first checks) */
	uint64_t sends;	   /* request sends (first sends and resends); one
			    * datagram each unless batched */
	uint64_t resends;  /* of which resends */
	uint64_t replies;  /* replies accepted */
	uint64_t ignored;  /* replies or datagrams ignored: other req_id,
			    * unknown source, bad frame */
	uint64_t timeouts; /* requests that ended in QR_ETIMEOUT */
	uint64_t late;	      /* of ignored: a req_id not in flight (its
			       * request already answered or timed out) */
	uint64_t datagrams;   /* datagrams sent (<= sends when batched) */
	uint64_t send_failed; /* datagrams the socket would not take (their
			       * requests' resends and deadlines cover them) */
	uint64_t frags_sent;	 /* fragments of long requests sent */
	uint64_t frags_received; /* fragments of long replies received */
	uint64_t reasm_dropped;	 /* of which dropped (no free buffer, bad
				  * or inconsistent, CRC): counted here,
				  * the request's resend covers it */
	uint64_t reasm_expired;	 /* long replies not complete within the
				  * handle's deadline_ms: freed */
	uint64_t nacks_received; /* nodes' FRAG_NACKs for our long requests */
	uint64_t frags_resent;	 /* of frags_sent: chunks sent again for
				  * them */
	uint64_t refreshes; /* placements rebuilt from a node's topology */
};
const struct qr_client_stats *qr_client_stats(const struct qr_client *c);

#ifdef __cplusplus
}
#endif

#endif
