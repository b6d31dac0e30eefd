/* SPDX-License-Identifier: MIT */
/*
 * libquorate (include/quorate/client.h): opening and closing a handle,
 * its options, the session token and placement queries. Requests live in
 * client_req.c (the asynchronous engine), client_sync.c (the synchronous
 * calls over it) and client_io.c (frames and sockets); client_pvt.h says
 * how they share the handle.
 *
 * Invariants: everything a handle needs is allocated here, at open (the
 * request table included), and freed at close; options are normalised
 * once here (deadline > 0, retries < QR_CLIENT_ATTEMPTS_MAX, 1 <=
 * max_inflight <= QR_CLIENT_INFLIGHT_MAX, value_bytes_max <=
 * QR_VALUE_BYTES_MAX (0: the cluster file's, at open), 1 <=
 * large_replies <= 1024), so the engine never re-checks
 * them; the session token only grows.
 */
#include "client/client_pvt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "core/auth.h"
#include "core/wire_long.h"

_Static_assert(QR_CLIENT_KEY_BYTES_MAX == QR_KEY_BYTES_MAX, "key limit");
_Static_assert(QR_CLIENT_VALUE_BYTES_MAX == QR_VALUE_BYTES_MAX, "value");
/* A long request's head (in its slot's value[]) fits fragment 0. */
_Static_assert(QR_FRAME_BYTES_MAX - QR_AUTH_TRAILER_BYTES - QR_FRAME_HDR_BYTES -
			       QR_FRAG_FIXED_BYTES - 7 >=
		       QR_VALUE_INLINE_MAX,
	       "chunk > long head");
_Static_assert((int)QR_CONSISTENCY_ONE == (int)QR_LEVEL_ONE, "level");
_Static_assert((int)QR_CONSISTENCY_QUORUM == (int)QR_LEVEL_QUORUM, "level");
_Static_assert((int)QR_CONSISTENCY_ALL == (int)QR_LEVEL_ALL, "level");
_Static_assert((int)QR_CONSISTENCY_RW == (int)QR_LEVEL_RW, "level");
_Static_assert(QR_RF_MAX <= 8, "qr_client_replicas() fills nodes[8]");

#define INFLIGHT_DEFAULT 256

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

static void normalise(struct qr_client_options *o)
{
	if (!o->deadline_ms)
		o->deadline_ms = QR_CLIENT_DEADLINE_MS_DEFAULT;
	if (o->retries > QR_CLIENT_ATTEMPTS_MAX - 1)
		o->retries = QR_CLIENT_ATTEMPTS_MAX - 1;
	if (!o->max_inflight)
		o->max_inflight = INFLIGHT_DEFAULT;
	if (o->max_inflight > QR_CLIENT_INFLIGHT_MAX)
		o->max_inflight = QR_CLIENT_INFLIGHT_MAX;
	if (o->value_bytes_max > QR_VALUE_BYTES_MAX)
		o->value_bytes_max = QR_VALUE_BYTES_MAX;
	if (!o->large_replies)
		o->large_replies = QR_CLIENT_LARGE_REPLIES_DEFAULT;
	if (o->large_replies > QR_CLIENT_LARGE_REPLIES_MAX)
		o->large_replies = QR_CLIENT_LARGE_REPLIES_MAX;
}

/* The reassembler of long replies: large_replies slots, each a long form
 * of up to value_bytes_max (its head is under a frame), any of them for
 * one (node, shard), whole within the default deadline. 0 or -1. */
static int reasm_init(struct qr_client *c)
{
	if (!c->opt.value_bytes_max) /* the cluster's, 1 MiB unless set */
		c->opt.value_bytes_max = c->cluster.value_bytes_max
						 ? c->cluster.value_bytes_max
						 : QR_VALUE_BYTES_DEFAULT;
	uint32_t bytes = c->opt.value_bytes_max + 4u + QR_FRAME_BYTES_MAX;
	struct qr_reasm_config rc = {
		.slots = c->opt.large_replies,
		.bytes_max = bytes,
		.per_src_max = c->opt.large_replies,
		.timeout_ns = (uint64_t)c->opt.deadline_ms * 1000000u,
	};
	c->chunk = qr_wire_frag_chunk(QR_FRAME_BYTES_MAX -
				      QR_AUTH_TRAILER_BYTES);
	return qr_reasm_init(&c->reasm, &rc) ? -1 : 0;
}

static uint64_t seed_of(uint64_t seed)
{
	if (seed || getrandom(&seed, sizeof(seed), 0) == sizeof(seed))
		return seed;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^
	       (uint64_t)getpid() << 40;
}

/* Everything but the cluster and the transport: 0, or -1 with err set. */
/* The client's zone: options, else $QUORATE_ZONE; a name no node has is
 * an error (a typo would silently route across zones). */
static int client_zone(struct qr_client *c, char *err, size_t err_len)
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
	set_err(err, err_len, "no node is in zone '%s'%s", name, "");
	return -1;
}

static int init(struct qr_client *c, char *err, size_t err_len)
{
	const struct qr_cluster *cl = &c->cluster;
	if (qr_auth_client_open(cl, c->opt.key_file, c->opt.client_id,
				&c->auth, err, err_len))
		return -1;
	if (qr_placement_init_cluster(&c->pl, cl)) {
		set_err(err, err_len, "%s%s",
			"cannot build the placement table", "");
		return -1;
	}
	if (client_zone(c, err, err_len))
		return -1;
	if (qr_cl_table_init(c) || reasm_init(c)) {
		set_err(err, err_len, "%s%s", "out of memory", "");
		return -1;
	}
	c->epoch = 1; /* the nodes' first: the cluster file's members */
	qr_rng_seed(&c->rng, seed_of(c->opt.seed));
	c->seq = (qr_rng_next(&c->rng) & ((1ull << 40) - 1)) | 1;
	c->incarnation = (uint32_t)qr_rng_next(&c->rng) | 1;
	return 0;
}

static void fini(struct qr_client *c)
{
	qr_cl_table_fini(c);
	qr_reasm_fini(&c->reasm); /* fine on a zeroed one */
	qr_placement_fini(&c->pl); /* fine on a zeroed table */
	qr_auth_client_free(c->auth);
	free(c);
}

static struct qr_client *alloc_handle(const struct qr_client_options *opt,
				      char *err, size_t err_len)
{
	struct qr_client *c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, err_len, "%s%s", "out of memory", "");
		return NULL;
	}
	if (opt)
		c->opt = *opt;
	else
		qr_client_options_default(&c->opt);
	normalise(&c->opt);
	return c;
}

struct qr_client *qr_client_open_on(const struct qr_cluster *cl,
				    const struct qr_client_options *opt,
				    const struct qr_client_transport *tp,
				    void *ep, char *err, size_t err_len)
{
	struct qr_client *c = alloc_handle(opt, err, err_len);
	if (!c)
		return NULL;
	c->cluster = *cl;
	if (init(c, err, err_len)) {
		fini(c);
		return NULL;
	}
	c->tp = tp;
	c->ep = ep;
	return c;
}

/* The socket's buffers: 4 MiB, or room for twice what large_replies long
 * replies (and as many long requests' sends) put in flight at once, so a
 * burst of fragments is not dropped by the kernel; at most 64 MiB. */
static int sock_buf_bytes(const struct qr_client_options *o)
{
	uint64_t want = 2ull * o->large_replies * o->value_bytes_max;
	if (want < (4u << 20))
		want = 4u << 20;
	return (int)(want > (64u << 20) ? (64u << 20) : want);
}

struct qr_client *qr_client_open(const char *cluster_file,
				 const struct qr_client_options *opt, char *err,
				 size_t err_len)
{
	struct qr_client *c = alloc_handle(opt, err, err_len);
	if (!c)
		return NULL;
	if (qr_cluster_load(cluster_file, &c->cluster, err, err_len) ||
	    init(c, err, err_len)) {
		fini(c);
		return NULL;
	}
	/* One socket bound now, so every request leaves from one address
	 * and port: the nodes deduplicate writes by (address, req_id). */
	c->ep = qr_cl_udp_open(c->opt.bind_addr, sock_buf_bytes(&c->opt), err,
			       err_len);
	if (!c->ep) {
		fini(c);
		return NULL;
	}
	c->tp = &qr_cl_udp;
	return c;
}

void qr_client_close(struct qr_client *c)
{
	if (!c)
		return;
	if (c->tp->close)
		c->tp->close(c->ep);
	fini(c);
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
	 * (a reply raises only `session` for quorum operations). */
	if (hlc > c->session_weak)
		c->session_weak = hlc;
}

int qr_cl_topology_install(struct qr_client *c, uint64_t epoch,
			   uint64_t members)
{
	if (epoch <= c->epoch) { /* an older node answered: nothing new */
		c->epoch_newer = false;
		return 0;
	}
	if ((c->cluster.nodes < 64 && members >> c->cluster.nodes) ||
	    __builtin_popcountll(members) < c->pl.rf)
		return QR_ECONFIG;
	struct qr_cluster *cl = malloc(sizeof(*cl));
	if (!cl)
		return QR_ENOMEM;
	*cl = c->cluster;
	cl->members = members;
	struct qr_placement pl;
	int rc = qr_placement_init_cluster(&pl, cl);
	free(cl);
	if (rc)
		return rc;
	qr_placement_fini(&c->pl); /* idle: no request points into it */
	c->pl = pl;
	c->cluster.members = members;
	c->epoch = epoch;
	c->epoch_newer = false;
	c->stats.refreshes++;
	return 0;
}

bool qr_client_topology_stale(const struct qr_client *c)
{
	return c && c->epoch_newer;
}

uint64_t qr_client_epoch(const struct qr_client *c)
{
	return c ? c->epoch : 0;
}

const struct qr_client_stats *qr_client_stats(const struct qr_client *c)
{
	return &c->stats;
}

unsigned qr_client_inflight(const struct qr_client *c)
{
	return c->used;
}

int qr_client_fd(const struct qr_client *c)
{
	return c->tp->fd ? c->tp->fd(c->ep) : -1;
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
