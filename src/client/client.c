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
 * max_inflight <= QR_CLIENT_INFLIGHT_MAX), so the engine never re-checks
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

_Static_assert(QR_CLIENT_KEY_BYTES_MAX == QR_KEY_BYTES_MAX, "key limit");
_Static_assert(QR_CLIENT_VALUE_BYTES_MAX == QR_VALUE_INLINE_MAX, "value");
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
	if (qr_cl_table_init(c)) {
		set_err(err, err_len, "%s%s", "out of memory", "");
		return -1;
	}
	qr_rng_seed(&c->rng, seed_of(c->opt.seed));
	c->seq = (qr_rng_next(&c->rng) & ((1ull << 40) - 1)) | 1;
	return 0;
}

static void fini(struct qr_client *c)
{
	qr_cl_table_fini(c);
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
	c->ep = qr_cl_udp_open(c->opt.bind_addr, err, err_len);
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
