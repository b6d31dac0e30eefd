/* SPDX-License-Identifier: MIT */
/*
 * libquorate (include/quorate/client.h): one request at a time over one
 * non-blocking kernel UDP socket.
 *
 * A request's life:
 *   route: partition = crc32c(key) & (P-1); replicas = placement table;
 *          shard = partition % shards; address = ip(node):base_port+shard.
 *   send attempt k (k = 0..retries) at t0 + k * deadline/(retries+1), with
 *          the same req_id each time, to schedule(k): writes go twice to
 *          the first coordinator before moving on (a resend to the same
 *          node is deduplicated there; one to another node is not), reads
 *          move to the next replica at once (reads are idempotent).
 *   wait   with ppoll() until the next send time or the deadline; accept the
 *          first CLIENT_REPLY with our req_id whose source address is one
 *          we sent this request to and whose src_node is that address's
 *          node. Everything else is counted in stats.ignored and dropped.
 *   end    at the first accepted reply (its status is the answer, be it
 *          OK or an error such as UNAVAILABLE), or QR_ETIMEOUT at the
 *          deadline.
 * Invariants: at most retries + 1 sends per request; the call never runs
 * past its deadline by more than one ppoll() wake-up; req_ids are unique
 * per handle (random 64-bit base + counter); the session token only grows.
 */
#include "common/clock.h"
#include "quorate/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cluster.h"
#include "common/compiler.h"
#include "common/rng.h"
#include "common/secret.h"
#include "core/auth.h"
#include "core/hlc.h"
#include "core/placement.h"
#include "core/wire.h"

_Static_assert(QR_CLIENT_KEY_BYTES_MAX == QR_KEY_BYTES_MAX, "key limit");
_Static_assert(QR_CLIENT_VALUE_BYTES_MAX == QR_VALUE_BYTES_MAX, "value");
_Static_assert((int)QR_CONSISTENCY_ONE == (int)QR_LEVEL_ONE, "level");
_Static_assert((int)QR_CONSISTENCY_QUORUM == (int)QR_LEVEL_QUORUM, "level");
_Static_assert((int)QR_CONSISTENCY_ALL == (int)QR_LEVEL_ALL, "level");
_Static_assert((int)QR_CONSISTENCY_RW == (int)QR_LEVEL_RW, "level");
_Static_assert((int)QR_CONSISTENCY_LOCAL_ONE == (int)QR_LEVEL_LOCAL_ONE, "lv");
_Static_assert((int)QR_CONSISTENCY_LOCAL_QUORUM == (int)QR_LEVEL_LOCAL_QUORUM,
	       "level");
_Static_assert((int)QR_CONSISTENCY_EACH_QUORUM == (int)QR_LEVEL_EACH_QUORUM,
	       "level");
_Static_assert(QR_RF_MAX <= 8, "qr_client_replicas() fills nodes[8]");

#define ATTEMPTS_MAX 64 /* retries are capped to ATTEMPTS_MAX - 1 */

struct qr_client {
	struct qr_cluster cluster;
	struct qr_placement pl;
	struct qr_client_options opt;
	int fd;
	struct qr_rng rng;
	uint64_t next_req_id;  /* random base, + 1 per request */
	int zone;	       /* the client's zone index, -1: none */
	uint64_t session;      /* highest HLC seen */
	uint64_t session_weak; /* highest HLC seen through an operation below
				* quorum (W or R < floor(RF/2)+1): what a
				* quorum read must still be current for */
	struct qr_client_stats stats;
	struct qr_auth_client *auth; /* NULL: frames go unsigned */
	uint8_t tx[QR_FRAME_BYTES_MAX];
	uint8_t rx[QR_FRAME_BYTES_MAX + 1]; /* +1: spot oversized datagrams */
};

void qr_client_options_default(struct qr_client_options *o)
{
	*o = (struct qr_client_options){
		.deadline_ms = QR_CLIENT_DEADLINE_MS_DEFAULT,
		.retries = QR_CLIENT_RETRIES_DEFAULT,
		.coordinator = QR_COORD_FIRST,
		.write_failover = true,
		.session = true,
	};
}

static void set_err(char *err, size_t err_len, const char *fmt, const char *a,
		    const char *b)
{
	if (err && err_len)
		snprintf(err, err_len, fmt, a, b);
}

/* "a.b.c.d" or "a.b.c.d:port". */
static int parse_bind(const char *s, struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	if (n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	if (colon) {
		char *end;
		errno = 0;
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (errno || *end || !colon[1] || port > 65535)
			return -1;
		sa->sin_port = htons((uint16_t)port);
	}
	return 0;
}

/* The client's zone: options, else $QUORATE_ZONE; a name no node has is
 * an error (a typo would silently route across zones). */
static int client_zone(struct qr_client *c, const char *cluster_file,
		       char *err, size_t err_len)
{
	const char *name = c->opt.zone ? c->opt.zone : getenv("QUORATE_ZONE");
	c->zone = -1;
	if (!name || !*name)
		return 0;
	for (uint16_t n = 0; n < c->cluster.nodes; n++)
		if (!strcmp(c->cluster.node[n].zone, name)) {
			c->zone = c->cluster.node[n].zone_idx;
			return 0;
		}
	set_err(err, err_len, "%s: no node is in zone '%s'", cluster_file,
		name);
	return QR_EINVAL;
}

struct qr_client *qr_client_open(const char *cluster_file,
				 const struct qr_client_options *opt, char *err,
				 size_t err_len)
{
	struct qr_client *c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, err_len, "%s%s", "out of memory", "");
		return NULL;
	}
	c->fd = -1;
	if (opt)
		c->opt = *opt;
	else
		qr_client_options_default(&c->opt);
	if (!c->opt.deadline_ms)
		c->opt.deadline_ms = QR_CLIENT_DEADLINE_MS_DEFAULT;
	if (c->opt.retries > ATTEMPTS_MAX - 1)
		c->opt.retries = ATTEMPTS_MAX - 1;
	if (qr_cluster_load(cluster_file, &c->cluster, err, err_len))
		goto fail;
	if (qr_auth_client_open(&c->cluster, c->opt.key_file,
				c->opt.client_id, &c->auth, err, err_len))
		goto fail;
	const struct qr_cluster *cl = &c->cluster;
	if (qr_placement_init_cluster(&c->pl, cl)) {
		set_err(err, err_len, "%s: %s", cluster_file,
			"cannot build the placement table");
		goto fail;
	}
	if (client_zone(c, cluster_file, err, err_len))
		goto fail_pl;
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		set_err(err, err_len, "socket: %s%s", strerror(errno), "");
		goto fail_pl;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (c->opt.bind_addr && parse_bind(c->opt.bind_addr, &sa)) {
		set_err(err, err_len, "bind address '%s'%s: not IPv4[:port]",
			c->opt.bind_addr, "");
		goto fail_fd;
	}
	/* Bind now, so every request leaves from one address and port: the
	 * nodes deduplicate writes by (client address, req_id). */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		set_err(err, err_len, "bind: %s%s", strerror(errno), "");
		goto fail_fd;
	}
	uint64_t seed = c->opt.seed;
	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^
		       (uint64_t)getpid() << 40;
	}
	qr_rng_seed(&c->rng, seed);
	c->next_req_id = qr_rng_next(&c->rng);
	return c;
fail_fd:
	close(c->fd);
fail_pl:
	qr_placement_fini(&c->pl);
fail:
	qr_auth_client_free(c->auth);
	free(c);
	return NULL;
}

void qr_client_close(struct qr_client *c)
{
	if (!c)
		return;
	close(c->fd);
	qr_placement_fini(&c->pl);
	qr_auth_client_free(c->auth);
	free(c);
}

uint64_t qr_client_session(const struct qr_client *c)
{
	return c->session;
}

void qr_client_session_observe(struct qr_client *c, uint64_t hlc)
{
	if (hlc > c->session)
		c->session = hlc;
	/* Of unknown provenance: quorum reads must be current for it too
	 * (request() raises only `session` for quorum operations). */
	if (hlc > c->session_weak)
		c->session_weak = hlc;
}

const struct qr_client_stats *qr_client_stats(const struct qr_client *c)
{
	return &c->stats;
}

int qr_client_replicas(const struct qr_client *c, const void *key,
		       size_t key_len, uint32_t *partition, uint16_t nodes[8])
{
	if (!key || !key_len)
		return QR_EINVAL;
	if (key_len > QR_KEY_BYTES_MAX)
		return QR_ETOOLARGE;
	uint32_t p = qr_placement_partition(&c->pl, key, key_len);
	const uint8_t *r = qr_placement_replicas(&c->pl, p);
	if (partition)
		*partition = p;
	for (int i = 0; i < c->pl.rf; i++)
		nodes[i] = r[i];
	return c->pl.rf;
}

/* Replica index (into the replica set) of attempt k. */
static unsigned attempt_replica(const struct qr_client *c, bool is_write,
				unsigned start, unsigned k)
{
	unsigned step;
	if (!is_write)
		step = k;
	else if (!c->opt.write_failover)
		step = 0;
	else
		step = k == 0 ? 0 : k - 1; /* first coordinator twice */
	return (start + step) % c->pl.rf;
}

struct pending {
	uint64_t req_id;
	uint16_t shard;
	uint64_t tried_mask; /* nodes sent to: replies accepted from these */
	struct qr_result *out;
};

/* Accept or ignore one datagram: 1 if it answered the request. */
static int on_datagram(struct qr_client *c, struct pending *p, size_t len,
		       const struct sockaddr_in *from)
{
	if (len > QR_FRAME_BYTES_MAX)
		return 0;
	struct qr_frame_reader r;
	struct qr_frame_hdr h;
	if (qr_wire_frame_open(&r, c->rx, len, c->cluster.id, &h))
		return 0;
	if (h.src_node >= c->cluster.nodes || h.dst_node != QR_NODE_CLIENT ||
	    !(p->tried_mask & (1ull << h.src_node)))
		return 0;
	/* The source must be the address we sent to for that node. */
	const struct qr_cluster_node *nd = &c->cluster.node[h.src_node];
	if (from->sin_addr.s_addr != nd->ip ||
	    ntohs(from->sin_port) != c->cluster.base_port + p->shard)
		return 0;
	struct qr_msg m;
	int rc;
	while ((rc = qr_wire_next(&r, &m)) > 0) {
		if (m.type != QR_MSG_CLIENT_REPLY || m.req_id != p->req_id)
			continue;
		struct qr_result *o = p->out;
		o->status = m.status;
		o->hlc = m.version.hlc;
		o->node = m.version.node;
		o->coordinator = h.src_node;
		o->answered = m.answered;
		o->replica_mask = m.replica_mask;
		o->tombstone = m.flags & QR_MSGF_TOMBSTONE;
		o->closed_ts = m.closed_ts;
		o->lag_ms = m.closed_ts ? 0 : UINT32_MAX; /* MAX: unknown */
		if (m.closed_ts && QR_HLC_MS(h.hlc) > QR_HLC_MS(m.closed_ts))
			o->lag_ms = (uint32_t)QR_MIN(
				QR_HLC_MS(h.hlc) - QR_HLC_MS(m.closed_ts),
				(uint64_t)UINT32_MAX);
		o->value_len = m.value_len;
		memcpy(o->value, m.value, m.value_len);
		return 1;
	}
	return 0;
}

/* Read every queued datagram: 1 answered, 0 not yet, QR_EIO. */
static int drain(struct qr_client *c, struct pending *p)
{
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(c->fd, c->rx, sizeof(c->rx), 0,
				     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return QR_EIO;
		}
		if (p && fl == sizeof(from) && from.sin_family == AF_INET &&
		    on_datagram(c, p, (size_t)n, &from)) {
			c->stats.replies++;
			return 1;
		}
		c->stats.ignored++;
	}
}

/*
 * The request message for op, its level checked against the replication
 * factor and the session token applied: 0 or QR_EINVAL. *weak: the level
 * is below a quorum (such reads need only what the session saw below
 * quorum; see request()). Takes the next request id.
 */
static int msg_build(struct qr_client *c, uint8_t op, const void *key,
		     size_t key_len, const void *value, size_t value_len,
		     struct qr_version expected, const struct qr_req_opts *o,
		     struct qr_msg *m, bool *weak)
{
	bool is_cas = qr_op_is_cas(op);
	bool is_write = op != QR_OP_GET && op != QR_OP_LIN_GET;
	*m = (struct qr_msg){
		.type = QR_MSG_CLIENT_REQ,
		.req_id = c->next_req_id++,
		.op = op,
		.level = o->consistency ? (uint8_t)o->consistency
					: QR_LEVEL_QUORUM,
		.key = key,
		.key_len = (uint8_t)key_len,
		.value = value,
		.value_len = (uint16_t)value_len,
		.min_version = o->min_version,
		.flags = o->on_stale == QR_ON_STALE_ERROR ? QR_MSGF_STALE_ERROR
			 : o->on_stale == QR_ON_STALE_QUORUM
				 ? QR_MSGF_STALE_QUORUM
				 : 0,
		.expected = expected,
	};
	if ((unsigned)o->on_stale > QR_ON_STALE_QUORUM ||
	    (!is_write && m->level == QR_LEVEL_ANY))
		return QR_EINVAL;
	if (is_cas) {
		/* CASPaxos always asks a majority: level QUORUM only. */
		if (o->consistency && o->consistency != QR_CONSISTENCY_QUORUM)
			return QR_EINVAL;
		m->level = QR_LEVEL_QUORUM;
		if ((op == QR_OP_PUT_IF_VERSION ||
		     op == QR_OP_DELETE_IF_VERSION) &&
		    qr_version_is_none(expected))
			return QR_EINVAL;
	}
	if (m->level == QR_LEVEL_RW) {
		m->r = o->r;
		m->w = o->w;
		uint8_t need = is_write ? o->w : o->r;
		if (need < 1 || need > c->pl.rf || o->r > c->pl.rf ||
		    o->w > c->pl.rf)
			return QR_EINVAL;
	} else if (m->level >= QR_LEVEL_END) {
		return QR_EINVAL;
	}
	/* Reads of at least a quorum already see every write and read of
	 * at least a quorum (R + W > N): they need be current only for what
	 * the session saw below quorum. */
	uint8_t count = m->level == QR_LEVEL_ONE ? 1
			: m->level == QR_LEVEL_QUORUM
				? (uint8_t)(c->pl.rf / 2 + 1)
			: m->level == QR_LEVEL_ALL ? (uint8_t)c->pl.rf
			: m->level == QR_LEVEL_RW  ? (is_write ? o->w : o->r)
			: m->level == QR_LEVEL_EACH_QUORUM
				? (uint8_t)(c->pl.rf / 2 + 1) /* contains one */
				: 0; /* LOCAL_*: not a quorum of all */
	*weak = count < c->pl.rf / 2 + 1;
	if (!m->min_version && c->opt.session)
		m->min_version =
			is_write || *weak ? c->session : c->session_weak;
	return 0;
}

/* One datagram of m to node, asking for an answer within what is left of
 * deadline_us. A lost datagram is not an error: the caller retries. */
static void attempt_send(struct qr_client *c, struct qr_msg *m,
			 struct pending *p, uint16_t node, uint64_t now,
			 uint64_t deadline_us)
{
	QR_ASSERT(now < deadline_us && node < c->cluster.nodes);
	/* The node answers within what is left of our deadline, with a
	 * margin so its UNAVAILABLE reaches us before we give up. */
	uint64_t left_us = deadline_us - now;
	m->deadline_us =
		(uint32_t)QR_MIN(left_us - left_us / 10, (uint64_t)UINT32_MAX);
	if (!m->deadline_us)
		m->deadline_us = 1;
	struct qr_frame_hdr h = {
		.cluster_id = c->cluster.id,
		.src_node = QR_NODE_CLIENT,
		.dst_node = node,
		.shard = p->shard,
	};
	struct qr_frame_writer w;
	qr_wire_frame_begin(&w, c->tx, sizeof(c->tx) - QR_AUTH_TRAILER_BYTES,
			    &h);
	int rc = qr_wire_put(&w, m);
	QR_ASSERT(rc == 0); /* fields checked by msg_build; one msg fits */
	size_t len = qr_wire_frame_end(&w);
	if (c->auth) /* room kept above: never 0 */
		len = qr_auth_client_seal(c->auth, c->tx, len, sizeof(c->tx));
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = c->cluster.node[node].ip,
		.sin_port = htons((uint16_t)(c->cluster.base_port + p->shard)),
	};
	p->tried_mask |= 1ull << node;
	ssize_t sent;
	do
		sent = sendto(c->fd, c->tx, len, 0, (struct sockaddr *)&to,
			      sizeof(to));
	while (sent < 0 && errno == EINTR);
	/* A full socket buffer or an unreachable route is a lost datagram:
	 * the next attempt (another node) may do better. */
	c->stats.sends++;
	p->out->attempts++;
}

/* Replies until p is answered or until_us: drain()'s non-zero result, 0
 * when until_us passed first, or QR_EIO. */
static int attempt_wait(struct qr_client *c, struct pending *p,
			uint64_t until_us)
{
	for (;;) {
		int rc = drain(c, p);
		if (rc)
			return rc;
		uint64_t now = qr_clock_mono_us();
		if (now >= until_us)
			return 0;
		uint64_t wait = until_us - now;
		struct timespec ts = {
			.tv_sec = (time_t)(wait / 1000000),
			.tv_nsec = (long)(wait % 1000000) * 1000,
		};
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return QR_EIO;
	}
}

/* Send m to the key's replicas, one attempt per interval, failing over
 * (reads) or staying on one coordinator (CAS writes), until an answer or
 * the deadline: > 0 answered, < 0 an error, 0 timed out. */
static int run_attempts(struct qr_client *c, struct qr_msg *m,
			struct pending *p, const uint8_t *replicas, uint8_t op,
			uint64_t deadline_ms)
{
	/* Linearizable reads fail over like reads; CAS writes stay on one
	 * coordinator, whose dedupe table knows them (a CAS resent to
	 * another node is a new execution that could fail its precondition
	 * against its own first try). */
	bool is_write = op != QR_OP_GET && op != QR_OP_LIN_GET;
	bool is_cas_write = qr_op_is_cas(op) && is_write;
	unsigned start = c->opt.coordinator == QR_COORD_RANDOM
				 ? (unsigned)qr_rng_below(&c->rng, c->pl.rf)
				 : 0;
	/* A client with a zone starts at the first replica there. */
	for (unsigned i = 0; c->zone >= 0 && i < c->pl.rf; i++)
		if (c->pl.zone[replicas[(start + i) % c->pl.rf]] == c->zone) {
			start = (start + i) % c->pl.rf;
			break;
		}
	unsigned attempts = c->opt.retries + 1;
	uint64_t t0 = qr_clock_mono_us(), deadline_us = t0 + deadline_ms * 1000;
	uint64_t interval_us = deadline_ms * 1000 / attempts;
	for (unsigned k = 0; k < attempts; k++) {
		uint64_t now = qr_clock_mono_us();
		if (now >= deadline_us)
			break;
		uint16_t node =
			replicas[is_cas_write ? start % c->pl.rf
					      : attempt_replica(c, is_write,
								start, k)];
		attempt_send(c, m, p, node, now, deadline_us);
		if (k)
			c->stats.resends++;
		uint64_t until = k + 1 == attempts
					 ? deadline_us
					 : QR_MIN(t0 + (k + 1) * interval_us,
						  deadline_us);
		int rc = attempt_wait(c, p, until);
		if (rc)
			return rc;
	}
	return 0;
}

static int request(struct qr_client *c, uint8_t op, const void *key,
		   size_t key_len, const void *value, size_t value_len,
		   struct qr_version expected, const struct qr_req_opts *o,
		   struct qr_result *out)
{
	static const struct qr_req_opts defaults;
	struct qr_result scratch;
	if (!out)
		out = &scratch;
	memset(out, 0, offsetof(struct qr_result, value));
	out->coordinator = 0xffff;
	if (!o)
		o = &defaults;
	if (!c || !key || !key_len || (value_len && !value))
		return out->status = QR_EINVAL;
	if (key_len > QR_KEY_BYTES_MAX || value_len > QR_VALUE_BYTES_MAX)
		return out->status = QR_ETOOLARGE;
	c->stats.requests++;
	/* Drop what is left of earlier requests before we start. */
	if (drain(c, NULL) < 0)
		return out->status = QR_EIO;
	struct qr_msg m;
	bool weak;
	int rc = msg_build(c, op, key, key_len, value, value_len, expected, o,
			   &m, &weak);
	if (rc)
		return out->status = rc;
	uint32_t part = qr_placement_partition(&c->pl, key, key_len);
	struct pending p = {
		.req_id = m.req_id,
		.shard = qr_placement_shard(&c->pl, part),
		.out = out,
	};
	rc = run_attempts(c, &m, &p, qr_placement_replicas(&c->pl, part), op,
			  o->deadline_ms ? o->deadline_ms : c->opt.deadline_ms);
	if (rc == 0) {
		c->stats.timeouts++;
		return out->status = QR_ETIMEOUT;
	}
	if (rc < 0)
		return out->status = rc;
	/* The token is kept even when not sent: qr_client_session(). */
	if (out->hlc > c->session)
		c->session = out->hlc;
	if (weak && out->hlc > c->session_weak)
		c->session_weak = out->hlc;
	return out->status;
}

int qr_client_put(struct qr_client *c, const void *key, size_t key_len,
		  const void *value, size_t value_len,
		  const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_PUT, key, key_len, value, value_len,
		       QR_VERSION_NONE, o, out);
}

int qr_client_get(struct qr_client *c, const void *key, size_t key_len,
		  const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_GET, key, key_len, NULL, 0, QR_VERSION_NONE, o,
		       out);
}

int qr_client_del(struct qr_client *c, const void *key, size_t key_len,
		  const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_DELETE, key, key_len, NULL, 0, QR_VERSION_NONE,
		       o, out);
}

int qr_client_get_linearizable(struct qr_client *c, const void *key,
			       size_t key_len, const struct qr_req_opts *o,
			       struct qr_result *out)
{
	return request(c, QR_OP_LIN_GET, key, key_len, NULL, 0, QR_VERSION_NONE,
		       o, out);
}

int qr_client_put_if_absent(struct qr_client *c, const void *key,
			    size_t key_len, const void *value, size_t value_len,
			    const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_PUT_IF_ABSENT, key, key_len, value, value_len,
		       QR_VERSION_NONE, o, out);
}

int qr_client_put_if_version(struct qr_client *c, const void *key,
			     size_t key_len, const void *value,
			     size_t value_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_PUT_IF_VERSION, key, key_len, value, value_len,
		       (struct qr_version){hlc, node}, o, out);
}

int qr_client_del_if_version(struct qr_client *c, const void *key,
			     size_t key_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o, struct qr_result *out)
{
	return request(c, QR_OP_DELETE_IF_VERSION, key, key_len, NULL, 0,
		       (struct qr_version){hlc, node}, o, out);
}
