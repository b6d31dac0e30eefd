/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw without a cluster: (1) the request mapping (src/gw/map.c):
 * headers -> operation and options, results -> status codes, keys and
 * versions; (2) the whole HTTP path (libmicrohttpd, the event loop,
 * suspend/resume) on 127.0.0.1 with a fake backend behind the
 * asynchronous client's calls: a small versioned map that answers like a
 * cluster, can hold completions back (to show many requests in flight on
 * one thread) and can refuse with BUSY. No root, no network namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cluster.h"
#include "gw/auth.h"
#include "gw/gw.h"
#include "gw/map.h"
#include "gw/status.h"
#include "unit.h"

/* ---- 1. mapping ---------------------------------------------------------- */

static int map(enum gw_method m, struct gw_hdrs h, struct gw_kv *kv)
{
	const char *why = NULL;
	int st = gw_map_kv(m, &h, kv, &why);
	if (st)
		CU_ASSERT_PTR_NOT_NULL(why);
	return st;
}

static void test_map_ops(void)
{
	struct gw_kv kv;
	CU_ASSERT_EQUAL(map(GW_M_GET, (struct gw_hdrs){0}, &kv), 0);
	CU_ASSERT_EQUAL(kv.op, QR_CLIENT_GET);
	CU_ASSERT_EQUAL(map(GW_M_PUT, (struct gw_hdrs){0}, &kv), 0);
	CU_ASSERT_EQUAL(kv.op, QR_CLIENT_PUT);
	CU_ASSERT_EQUAL(map(GW_M_POST, (struct gw_hdrs){0}, &kv), 0);
	CU_ASSERT(kv.op == QR_CLIENT_PUT_IF_ABSENT && kv.create);
	CU_ASSERT_EQUAL(map(GW_M_DELETE, (struct gw_hdrs){0}, &kv), 0);
	CU_ASSERT_EQUAL(kv.op, QR_CLIENT_DEL);
	CU_ASSERT_EQUAL(map(GW_M_OTHER, (struct gw_hdrs){0}, &kv), 405);
	CU_ASSERT_EQUAL(
		map(GW_M_PUT, (struct gw_hdrs){.if_match = "\"5.1\""}, &kv), 0);
	CU_ASSERT(kv.op == QR_CLIENT_PUT_IF_VERSION && kv.if_hlc == 5 &&
		  kv.if_node == 1);
	CU_ASSERT_EQUAL(
		map(GW_M_DELETE, (struct gw_hdrs){.if_match = "\"7.2\""}, &kv),
		0);
	CU_ASSERT(kv.op == QR_CLIENT_DEL_IF_VERSION && kv.if_hlc == 7);
	CU_ASSERT_EQUAL(
		map(GW_M_PUT, (struct gw_hdrs){.if_none_match = "*"}, &kv), 0);
	CU_ASSERT(kv.op == QR_CLIENT_PUT_IF_ABSENT && !kv.create);
	CU_ASSERT_EQUAL(
		map(GW_M_GET,
		    (struct gw_hdrs){.if_none_match = "\"9.0\", \"10.2\""},
		    &kv),
		0);
	CU_ASSERT(kv.inm_n == 2 && kv.inm[1].hlc == 10 && kv.inm[1].node == 2);
	CU_ASSERT_EQUAL(map(GW_M_GET,
			    (struct gw_hdrs){.consistency = "linearizable"},
			    &kv),
			0);
	CU_ASSERT_EQUAL(kv.op, QR_CLIENT_GET_LINEARIZABLE);
}

static void test_map_options(void)
{
	struct gw_kv kv;
	CU_ASSERT_EQUAL(map(GW_M_GET,
			    (struct gw_hdrs){.consistency = "ONE",
					     .min_version = "123.4",
					     .stale_policy = "error",
					     .deadline_ms = "250"},
			    &kv),
			0);
	CU_ASSERT(kv.opts.consistency == QR_CONSISTENCY_ONE &&
		  kv.opts.min_version == 123 &&
		  kv.opts.on_stale == QR_ON_STALE_ERROR &&
		  kv.opts.deadline_ms == 250);
	CU_ASSERT_EQUAL(
		map(GW_M_PUT, (struct gw_hdrs){.consistency = "r=1,w=3"}, &kv),
		0);
	CU_ASSERT(kv.opts.consistency == QR_CONSISTENCY_RW && kv.opts.r == 1 &&
		  kv.opts.w == 3);
	static const struct {
		const char *name;
		enum qr_consistency c;
	} zoned[] = {
		{"LOCAL_QUORUM", QR_CONSISTENCY_LOCAL_QUORUM},
		{"each_quorum", QR_CONSISTENCY_EACH_QUORUM},
		{"local_one", QR_CONSISTENCY_LOCAL_ONE},
	};
	for (size_t i = 0; i < sizeof(zoned) / sizeof(zoned[0]); i++) {
		struct gw_hdrs h = {.consistency = zoned[i].name};
		CU_ASSERT_EQUAL(map(GW_M_PUT, h, &kv), 0);
		CU_ASSERT_EQUAL(kv.opts.consistency, zoned[i].c);
	}
	CU_ASSERT_EQUAL(
		map(GW_M_GET, (struct gw_hdrs){.min_version = "77"}, &kv), 0);
	CU_ASSERT_EQUAL(kv.opts.min_version, 77);
}

static void test_map_refusals(void)
{
	static const struct gw_hdrs bad[] = {
		{.consistency = "most"},
		{.consistency = "r=0"},
		{.consistency = "r=9"},
		{.consistency = "r=1,"},
		{.consistency = "x=1"},
		{.consistency = ""},
		{.min_version = "abc"},
		{.min_version = "0"},
		{.min_version = "1.70000"},
		{.min_version = "99999999999999999999999"},
		{.stale_policy = "sometimes"},
		{.deadline_ms = "0"},
		{.deadline_ms = "60001"},
		{.deadline_ms = "-5"},
		{.deadline_ms = "12ms"},
		{.if_match = "5.1"},	   /* unquoted */
		{.if_match = "W/\"5.1\""}, /* weak */
		{.if_match = "\"5\""},	   /* no node */
		{.if_match = "*"},
		{.if_none_match = "\"5.1\""}, /* on PUT: only * */
		{.if_match = "\"5.1\"", .if_none_match = "*"},
		{.if_match = "\"5.1\"", .consistency = "one"}, /* CAS at ONE */
		{.consistency = "linearizable"},	       /* on PUT */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gw_kv kv;
		int st = map(GW_M_PUT, bad[i], &kv);
		if (st != 400)
			printf("case %zu: %d\n", i, st);
		CU_ASSERT_EQUAL(st, 400);
	}
	struct gw_kv kv;
	CU_ASSERT_EQUAL(
		map(GW_M_GET, (struct gw_hdrs){.if_match = "\"1.1\""}, &kv),
		400);
	CU_ASSERT_EQUAL(map(GW_M_GET,
			    (struct gw_hdrs){.if_none_match = "W/\"1.1\""},
			    &kv),
			400);
	CU_ASSERT_EQUAL(
		map(GW_M_POST, (struct gw_hdrs){.if_none_match = "*"}, &kv),
		400);
}

static void test_keys_versions(void)
{
	uint8_t key[QR_CLIENT_KEY_BYTES_MAX];
	size_t n = 0;
	const char *why;
	CU_ASSERT_EQUAL(gw_key_decode("a%2Fb%00c", 9, key, &n, &why), 0);
	CU_ASSERT(n == 5 && !memcmp(key, "a/b\0c", 5));
	CU_ASSERT_EQUAL(gw_key_decode("", 0, key, &n, &why), 400);
	CU_ASSERT_EQUAL(gw_key_decode("a%zz", 4, key, &n, &why), 400);
	CU_ASSERT_EQUAL(gw_key_decode("a%4", 3, key, &n, &why), 400);
	char big[3 * 256 + 1];
	memset(big, 'k', 255);
	CU_ASSERT_EQUAL(gw_key_decode(big, 255, key, &n, &why), 0);
	CU_ASSERT_EQUAL(n, 255);
	CU_ASSERT_EQUAL(gw_key_decode(big, 256, key, &n, &why), 414);
	for (int i = 0; i < 256; i++)
		memcpy(big + 3 * i, "%41", 3);
	CU_ASSERT_EQUAL(gw_key_decode(big, 3 * 255, key, &n, &why), 0);
	CU_ASSERT_EQUAL(gw_key_decode(big, 3 * 256, key, &n, &why), 414);
	struct gw_version v;
	CU_ASSERT_EQUAL(gw_version_parse("\"18446744073709551615.65535\"", 28,
					 true, &v),
			0);
	CU_ASSERT(v.hlc == UINT64_MAX && v.node == 65535);
	CU_ASSERT_EQUAL(
		gw_version_parse("18446744073709551616.1", 22, true, &v), -1);
	CU_ASSERT_EQUAL(gw_version_parse("12", 2, true, &v), -1);
	CU_ASSERT_EQUAL(gw_version_parse("12", 2, false, &v), 0);
	/* the readable form: 2026-12-06T09:14:41.123Z is 1796548481123 ms */
	const char *rd = "\"2026-12-06T09:14:41.123Z+5.2\"";
	CU_ASSERT_EQUAL(gw_version_parse(rd, strlen(rd), true, &v), 0);
	CU_ASSERT(v.hlc == ((1796548481123ull << 16) | 5) && v.node == 2);
	CU_ASSERT_EQUAL(
		gw_version_parse("2026-12-06T09:14:41.123Z+5", 26, true, &v),
		-1);
	CU_ASSERT_EQUAL(
		gw_version_parse("2026-12-06T09:14:41.123Z+5", 26, false, &v),
		0);
	CU_ASSERT_EQUAL(
		gw_version_parse("2026-13-06T09:14:41.123Z+5.1", 28, true, &v),
		-1);
	char buf[40];
	gw_version_format(buf, sizeof(buf), 42, 3);
	CU_ASSERT_STRING_EQUAL(buf, "42.3");
}

static unsigned result_status(enum gw_method m, struct gw_hdrs h, int err,
			      struct gw_reply *rep)
{
	struct gw_kv kv;
	struct qr_result r = {.status = err, .hlc = 9, .node = 1};
	CU_ASSERT_EQUAL(map(m, h, &kv), 0);
	gw_map_result(&kv, &r, rep);
	return rep->status;
}

static void test_results(void)
{
	struct gw_reply rep;
	const struct gw_hdrs none = {0};
	CU_ASSERT_EQUAL(result_status(GW_M_GET, none, 0, &rep), 200);
	CU_ASSERT(rep.value && rep.version);
	CU_ASSERT_EQUAL(
		result_status(GW_M_GET,
			      (struct gw_hdrs){.if_none_match = "\"9.1\""}, 0,
			      &rep),
		304);
	CU_ASSERT(!rep.value);
	CU_ASSERT_EQUAL(
		result_status(GW_M_GET,
			      (struct gw_hdrs){.if_none_match = "\"9.2\""}, 0,
			      &rep),
		200);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, 0, &rep), 204);
	CU_ASSERT_EQUAL(result_status(GW_M_POST, none, 0, &rep), 201);
	CU_ASSERT_EQUAL(result_status(GW_M_POST, none, QR_EPRECONDITION, &rep),
			409);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT,
				      (struct gw_hdrs){.if_match = "\"1.1\""},
				      QR_EPRECONDITION, &rep),
			412);
	CU_ASSERT_EQUAL(result_status(GW_M_GET, none, QR_ESTALE, &rep), 412);
	CU_ASSERT_EQUAL(result_status(GW_M_GET, none, QR_ENOTFOUND, &rep), 404);
	CU_ASSERT(rep.version); /* the tombstone's */
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_EUNAVAILABLE, &rep),
			503);
	CU_ASSERT(rep.retry_after && rep.unknown);
	CU_ASSERT_EQUAL(result_status(GW_M_GET, none, QR_EUNAVAILABLE, &rep),
			503);
	CU_ASSERT(rep.retry_after && !rep.unknown);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_ETIMEOUT, &rep), 504);
	CU_ASSERT(rep.unknown && !rep.retry_after);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_EBUSY, &rep), 429);
	CU_ASSERT(rep.retry_after);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_ETOOLARGE, &rep), 413);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_ENOSPC, &rep), 507);
	CU_ASSERT_EQUAL(result_status(GW_M_PUT, none, QR_EUNAUTHORIZED, &rep),
			502);
}

/* ---- 1b. --http-keys: the bearer token and the decision (auth.h) ------- */

/* Clients 1 (rw, any key), 7 (ro, metrics/), 9 (rw, app/), written as a
 * client-key file (0600) and loaded by the cluster's loader. */
static struct qr_client_keys auth_keys;

static void auth_key_hex(unsigned id, char hex[65])
{
	uint8_t k[QR_SECRET_KEY_BYTES];
	for (int i = 0; i < QR_SECRET_KEY_BYTES; i++)
		k[i] = (uint8_t)(id * 31 + (unsigned)i * 7);
	sodium_bin2hex(hex, 65, k, sizeof(k));
}

static void auth_keys_load(void)
{
	char path[] = "/tmp/qr-gw-keys-XXXXXX", hex[65], line[128], err[256];
	int fd = mkstemp(path); /* mode 0600 */
	CU_ASSERT_FATAL(fd >= 0);
	static const struct {
		unsigned id;
		const char *rest;
	} lines[] = {{1, "rw *"}, {7, "ro metrics/"}, {9, "rw app/"}};
	for (size_t i = 0; i < 3; i++) {
		auth_key_hex(lines[i].id, hex);
		int n = snprintf(line, sizeof(line), "%u %s %s\n", lines[i].id,
				 lines[i].rest, hex);
		CU_ASSERT_EQUAL_FATAL(write(fd, line, (size_t)n), n);
	}
	close(fd);
	CU_ASSERT_EQUAL_FATAL(
		qr_client_keys_load(path, &auth_keys, err, sizeof(err)), 0);
	unlink(path);
	CU_ASSERT_EQUAL(auth_keys.count, 3);
}

/* "Bearer <id>.<hex of id's key>" (bad: one digit of the key changed). */
static void bearer(char *buf, size_t n, unsigned key_of, unsigned id, bool bad)
{
	char hex[65];
	auth_key_hex(key_of, hex);
	if (bad)
		hex[10] = hex[10] == '0' ? '1' : '0';
	snprintf(buf, n, "Bearer %u.%s", id, hex);
}

static int authn(const char *h, bool twice, unsigned *id)
{
	const struct qr_client_key *who = (const void *)1;
	const char *why = NULL;
	int st = gw_auth_authenticate(&auth_keys, h, twice, &who, &why);
	CU_ASSERT(st ? why != NULL && who == NULL : who != NULL);
	*id = who ? who->id : 0;
	return st;
}

static void test_auth_authenticate(void)
{
	char h[160], hex[65];
	unsigned id;
	auth_keys_load();
	bearer(h, sizeof(h), 1, 1, false);
	CU_ASSERT(authn(h, false, &id) == 0 && id == 1);
	CU_ASSERT_EQUAL(authn(h, true, &id), 401); /* given twice */
	bearer(h, sizeof(h), 9, 9, false);
	CU_ASSERT(authn(h, false, &id) == 0 && id == 9);
	auth_key_hex(7, hex);
	for (char *c = hex; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 32 : *c); /* upper-case hex */
	snprintf(h, sizeof(h), "bearer   7.%s", hex);
	CU_ASSERT(authn(h, false, &id) == 0 && id == 7);
	CU_ASSERT_EQUAL(authn(NULL, false, &id), 401); /* missing */
	bearer(h, sizeof(h), 1, 1, true);
	CU_ASSERT_EQUAL(authn(h, false, &id), 401); /* wrong key */
	bearer(h, sizeof(h), 1, 7, false);
	CU_ASSERT_EQUAL(authn(h, false, &id), 401); /* 1's key as 7 */
	bearer(h, sizeof(h), 2, 2, false);
	CU_ASSERT_EQUAL(authn(h, false, &id), 401); /* unknown id */
	auth_key_hex(1, hex);
	static const char *const bad[] = {
		"Basic %s",	   "Bearer",	   "Bearer 1%s",
		"Bearer .%s",	   "Bearer 01.%s", "Bearer 0.%s",
		"Bearer 65537.%s", "Bearer 1.%s0", "Bearer 1.%s ",
		"Bearer -1.%s",	   "Bearer1.%s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(h, sizeof(h), bad[i], hex);
		CU_ASSERT_EQUAL(authn(h, false, &id), 401);
	}
	snprintf(h, sizeof(h), "Bearer 1.%.63s", hex); /* short */
	CU_ASSERT_EQUAL(authn(h, false, &id), 401);
	snprintf(h, sizeof(h), "Bearer 1.%.63sg", hex); /* not hex */
	CU_ASSERT_EQUAL(authn(h, false, &id), 401);
}

static int authz(unsigned id, enum qr_client_op op, const char *key)
{
	const struct qr_client_key *who = NULL;
	const char *why = NULL;
	for (unsigned i = 0; i < auth_keys.count; i++)
		if (auth_keys.k[i].id == id)
			who = &auth_keys.k[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(who);
	int st = gw_auth_authorize(who, op, key, strlen(key), &why);
	CU_ASSERT(st ? why != NULL : why == NULL);
	return st;
}

static void test_auth_authorize(void)
{
	CU_ASSERT_EQUAL(authz(1, QR_CLIENT_PUT, "anything"), 0);
	CU_ASSERT_EQUAL(authz(1, QR_CLIENT_DEL_IF_VERSION, "x"), 0);
	CU_ASSERT_EQUAL(authz(7, QR_CLIENT_GET, "metrics/a"), 0);
	CU_ASSERT_EQUAL(authz(7, QR_CLIENT_GET_LINEARIZABLE, "metrics/"), 0);
	static const enum qr_client_op writes[] = {
		QR_CLIENT_PUT, QR_CLIENT_DEL, QR_CLIENT_PUT_IF_ABSENT,
		QR_CLIENT_PUT_IF_VERSION, QR_CLIENT_DEL_IF_VERSION};
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(authz(7, writes[i], "metrics/a"), 403); /* ro */
	CU_ASSERT_EQUAL(authz(7, QR_CLIENT_GET, "metric"), 403);
	CU_ASSERT_EQUAL(authz(7, QR_CLIENT_GET, "other/metrics/a"), 403);
	CU_ASSERT_EQUAL(authz(9, QR_CLIENT_PUT, "app/1"), 0);
	CU_ASSERT_EQUAL(authz(9, QR_CLIENT_PUT_IF_ABSENT, "app/"), 0);
	CU_ASSERT_EQUAL(authz(9, QR_CLIENT_PUT, "ap"), 403);
	CU_ASSERT_EQUAL(authz(9, QR_CLIENT_DEL, "App/1"), 403);
	CU_ASSERT_EQUAL(authz(9, QR_CLIENT_GET, "other"), 403);
}

/* ---- 2. HTTP through a fake backend ------------------------------------- */

#define FAKE_PENDING 256
#define FAKE_KEYS    64
#define FAKE_VALUE_MAX (128 * 1024) /* the fake's largest value */

struct fake_entry {
	uint8_t key[QR_CLIENT_KEY_BYTES_MAX];
	size_t klen;
	uint8_t val[FAKE_VALUE_MAX];
	size_t vlen;
	uint64_t hlc;
	bool deleted;
};

struct fake {
	int efd;
	unsigned hold;	       /* keep completions until this many wait */
	unsigned max_inflight; /* more: QR_EBUSY */
	unsigned max_seen;     /* most requests in flight at once (atomic) */
	unsigned submits;      /* atomic */
	unsigned npending;
	bool release;
	struct qr_completion pending[FAKE_PENDING];
	struct fake_entry e[FAKE_KEYS];
	unsigned ne;
	uint64_t clock;
};

static struct fake_entry *find(struct fake *f, const void *k, size_t n)
{
	for (unsigned i = 0; i < f->ne; i++)
		if (f->e[i].klen == n && !memcmp(f->e[i].key, k, n))
			return &f->e[i];
	return NULL;
}

static void store(struct fake *f, struct fake_entry *e,
		  const struct qr_request *rq, bool del, struct qr_result *r)
{
	if (!e) {
		e = &f->e[f->ne++];
		memcpy(e->key, rq->key, rq->key_len);
		e->klen = rq->key_len;
	}
	e->deleted = del;
	e->vlen = del ? 0 : rq->value_len;
	CU_ASSERT_FATAL(e->vlen <= sizeof(e->val));
	if (e->vlen) /* an empty body comes as value NULL */
		memcpy(e->val, rq->value, e->vlen);
	e->hlc = ++f->clock << 16;
	r->hlc = e->hlc;
	r->node = 1;
}

/* What a cluster would answer, at once (the "replicas" are this map). */
static void apply(struct fake *f, const struct qr_request *rq,
		  struct qr_result *r)
{
	struct fake_entry *e = find(f, rq->key, rq->key_len);
	bool live = e && !e->deleted;
	if (rq->key_len == 7 && !memcmp(rq->key, "unavail", 7)) {
		r->status = QR_EUNAVAILABLE;
		return;
	}
	switch (rq->op) {
	case QR_CLIENT_GET:
	case QR_CLIENT_GET_LINEARIZABLE:
		r->status = live ? 0 : QR_ENOTFOUND;
		r->hlc = e ? e->hlc : 0;
		r->node = e ? 1 : 0;
		/* As libquorate: into the caller's buffer, whole, or
		 * TOO_LARGE with the size. */
		r->value_len = live ? (uint32_t)e->vlen : 0;
		if (live && e->vlen > rq->buf_cap)
			r->status = QR_ETOOLARGE;
		else if (live && e->vlen) {
			memcpy(rq->buf, e->val, e->vlen);
			r->value = rq->buf;
		}
		r->lag_ms = 5;
		return;
	case QR_CLIENT_PUT_IF_ABSENT:
		if (live)
			goto precondition;
		break;
	case QR_CLIENT_PUT_IF_VERSION:
	case QR_CLIENT_DEL_IF_VERSION:
		if (!e || e->hlc != rq->if_hlc || rq->if_node != 1)
			goto precondition;
		break;
	default:
		break;
	}
	store(f, e, rq,
	      rq->op == QR_CLIENT_DEL || rq->op == QR_CLIENT_DEL_IF_VERSION, r);
	return;
precondition:
	r->status = QR_EPRECONDITION;
	r->hlc = e ? e->hlc : 0;
	r->node = e ? 1 : 0;
}

static int fake_submit(void *h, const struct qr_request *rq)
{
	struct fake *f = h;
	if (rq->key_len == 7 && !memcmp(rq->key, "release", 7))
		f->release = true;
	else if (f->npending >= f->max_inflight)
		return QR_EBUSY;
	__atomic_add_fetch(&f->submits, 1, __ATOMIC_RELAXED);
	struct qr_completion *c = &f->pending[f->npending++];
	memset(c, 0, sizeof(*c));
	c->user = rq->user;
	c->op = rq->op;
	c->result.coordinator = 1;
	c->result.answered = 2;
	c->result.lag_ms = UINT32_MAX;
	apply(f, rq, &c->result);
	if (f->npending > f->max_seen)
		__atomic_store_n(&f->max_seen, f->npending, __ATOMIC_RELAXED);
	uint64_t one = 1;
	if (f->npending >= f->hold || f->release)
		CU_ASSERT_EQUAL(write(f->efd, &one, 8), 8);
	return 0;
}

static int fake_poll(void *h, struct qr_completion *out, unsigned max, int t)
{
	struct fake *f = h;
	uint64_t v;
	(void)t;
	if (f->npending < f->hold && !f->release)
		return 0;
	if (read(f->efd, &v, 8) < 0 && errno != EAGAIN)
		return QR_EIO;
	unsigned n = f->npending < max ? f->npending : max;
	memcpy(out, f->pending, n * sizeof(*out));
	memmove(f->pending, f->pending + n, (f->npending - n) * sizeof(*out));
	f->npending -= n;
	if (!f->npending)
		f->release = false;
	return (int)n;
}

static int fake_flush(void *h)
{
	(void)h;
	return 0;
}
static int fake_fd(const void *h)
{
	return ((const struct fake *)h)->efd;
}
static int fake_timeout(const void *h)
{
	(void)h;
	return -1;
}
static unsigned fake_inflight(const void *h)
{
	return ((const struct fake *)h)->npending;
}
static int fake_replicas(const void *h, const void *k, size_t n)
{
	(void)h;
	(void)k;
	(void)n;
	return 3;
}
static void fake_close(void *h)
{
	close(((struct fake *)h)->efd);
}

static const struct gw_backend_ops fake_ops = {
	.submit = fake_submit,
	.flush = fake_flush,
	.poll = fake_poll,
	.fd = fake_fd,
	.timeout_ms = fake_timeout,
	.inflight = fake_inflight,
	.replicas = fake_replicas,
	.close = fake_close,
};

static struct fake fk;
static struct gw_loop lp;
static struct gw_options opt;
static struct gw_status *st;
static uint16_t port;
static const struct qr_client_keys *up_keys; /* --http-keys for gw_up */

static void gw_up(unsigned hold, unsigned max_inflight)
{
	static struct qr_cluster none; /* no nodes: an empty status view */
	char err[256];
	memset(&fk, 0, sizeof(fk));
	memset(&lp, 0, sizeof(lp));
	fk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fk.hold = hold;
	fk.max_inflight = max_inflight;
	gw_options_default(&opt);
	opt.listen_addr = "127.0.0.1";
	opt.port = 0;
	opt.connections = 128;
	opt.quiet = true;
	opt.value_bytes_max = QR_VALUE_BYTES_DEFAULT; /* main: the cluster's */
	opt.http_keys = up_keys;
	st = gw_status_start(&none, 1000);
	lp.all = &lp;
	lp.nloops = 1;
	lp.status = st;
	CU_ASSERT_EQUAL_FATAL(
		gw_loop_init(&lp, 0, &opt, &fake_ops, &fk, err, sizeof(err)),
		0);
	port = gw_loop_port(&lp);
	CU_ASSERT_FATAL(port != 0);
	CU_ASSERT_EQUAL_FATAL(gw_loop_start(&lp), 0);
}

static void gw_down(void)
{
	gw_loop_stop(&lp);
	gw_status_stop(st);
}

static int conn(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
			      0);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		CU_ASSERT_FATAL(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

/* Read one response (headers + Content-Length body) into buf. */
static int recv_resp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		const char *cl = strcasestr(buf, "\r\nContent-Length:");
		if (end &&
		    (!cl || cl > end ||
		     n >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10)))
			break;
	}
	buf[n] = '\0';
	int status = 0;
	sscanf(buf, "HTTP/1.1 %d", &status);
	return status;
}

/* One request on a fresh connection: the status; the response in buf. */
static int http(const char *req, char *buf, size_t cap)
{
	int fd = conn();
	send_all(fd, req, strlen(req));
	int s = recv_resp(fd, buf, cap);
	close(fd);
	return s;
}

/* Refused requests: 4xx, and nothing reaches the backend; then the
 * metrics and the status page. */
static void contract_refusals(char *b, size_t cap)
{
	unsigned sent = __atomic_load_n(&fk.submits, __ATOMIC_RELAXED);
	CU_ASSERT_EQUAL(http("PUT /v1/kv/big HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 1048577\r\n\r\n",
			     b, cap),
			413);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "larger than 1048576 bytes"));
	CU_ASSERT_EQUAL(http("PUT /v1/kv/ HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 1\r\n\r\nx",
			     b, cap),
			400);
	CU_ASSERT_EQUAL(http("GET /v1/kv/x HTTP/1.1\r\nHost: t\r\n"
			     "X-Consistency: most\r\n\r\n",
			     b, cap),
			400);
	CU_ASSERT_EQUAL(http("GET /v1/kv/x HTTP/1.1\r\nHost: t\r\n"
			     "X-Consistency: one\r\nx-consistency: all\r\n\r\n",
			     b, cap),
			400);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "given twice"));
	CU_ASSERT_EQUAL(
		http("PATCH /v1/kv/x HTTP/1.1\r\nHost: t\r\n\r\n", b, cap),
		405);
	CU_ASSERT_EQUAL(
		http("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", b, cap), 404);
	static char huge[24 * 1024];
	int n = snprintf(huge, sizeof(huge),
			 "GET /v1/kv/x HTTP/1.1\r\n"
			 "Host: t\r\nX-Big: ");
	memset(huge + n, 'b', 20000);
	memcpy(huge + n + 20000, "\r\n\r\n", 5);
	CU_ASSERT_EQUAL(http(huge, b, cap), 431);
	CU_ASSERT_EQUAL(__atomic_load_n(&fk.submits, __ATOMIC_RELAXED), sent);
	CU_ASSERT_EQUAL(
		http("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", b, cap), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "quorate_gw_requests_total{method="
					 "\"PUT\",code=\"204\"} 1"));
	CU_ASSERT_EQUAL(http("GET /status HTTP/1.1\r\nHost: t\r\n\r\n", b, cap),
			200);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "<svg"));
}

static void test_http_contract(void)
{
	char b[8192];
	gw_up(0, 64);
	CU_ASSERT_EQUAL(http("PUT /v1/kv/a%2Fb HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 2\r\n\r\nhi",
			     b, sizeof(b)),
			204);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "ETag: \"65536.1\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "X-Write-Version: 65536.1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "X-Replicas: 2/3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "X-Quorate-Node: 1"));
	CU_ASSERT_EQUAL(http("GET /v1/kv/a%2fb HTTP/1.1\r\nHost: t\r\n\r\n", b,
			     sizeof(b)),
			200);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\r\n\r\nhi"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "X-Data-Version: 65536.1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "X-Replication-Lag-Ms: 5"));
	CU_ASSERT_EQUAL(http("GET /v1/kv/a%2Fb HTTP/1.1\r\nHost: t\r\n"
			     "If-None-Match: \"65536.1\"\r\n\r\n",
			     b, sizeof(b)),
			304);
	CU_ASSERT_EQUAL(http("POST /v1/kv/u HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 1\r\n\r\nx",
			     b, sizeof(b)),
			201);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "Location: /v1/kv/u"));
	CU_ASSERT_EQUAL(http("POST /v1/kv/u HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 1\r\n\r\ny",
			     b, sizeof(b)),
			409);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"error\":\"PRECONDITION_FAILED\""));
	CU_ASSERT_EQUAL(http("PUT /v1/kv/u HTTP/1.1\r\nHost: t\r\n"
			     "If-Match: \"1.1\"\r\nContent-Length: 1\r\n\r\nz",
			     b, sizeof(b)),
			412);
	CU_ASSERT_EQUAL(http("PUT /v1/kv/unavail HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 1\r\n\r\nz",
			     b, sizeof(b)),
			503);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "Retry-After: 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"outcome\":\"unknown\""));
	CU_ASSERT_EQUAL(http("DELETE /v1/kv/u HTTP/1.1\r\nHost: t\r\n\r\n", b,
			     sizeof(b)),
			204);
	CU_ASSERT_EQUAL(
		http("GET /v1/kv/u HTTP/1.1\r\nHost: t\r\n\r\n", b, sizeof(b)),
		404);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "ETag: \""));
	contract_refusals(b, sizeof(b));
	gw_down();
}


/* Values over one frame (H4): a 100 KiB PUT takes a large buffer; a GET
 * of it is answered whole (its first try, into the small buffer, is
 * TOO_LARGE and asked again with a large one); small values still use
 * one backend request. */
static void test_http_large_values(void)
{
	enum { V = 100 * 1024 };
	static char req[V + 256], resp[V + 4096];
	gw_up(0, 64);
	int n = snprintf(req, sizeof(req),
			 "PUT /v1/kv/large HTTP/1.1\r\nHost: t\r\n"
			 "Content-Length: %d\r\n\r\n",
			 V);
	for (int i = 0; i < V; i++)
		req[n + i] = (char)('a' + i % 23);
	req[n + V] = '\0';
	CU_ASSERT_EQUAL(http(req, resp, sizeof(resp)), 204);
	unsigned sent = __atomic_load_n(&fk.submits, __ATOMIC_RELAXED);
	CU_ASSERT_EQUAL(http("GET /v1/kv/large HTTP/1.1\r\nHost: t\r\n\r\n",
			     resp, sizeof(resp)),
			200);
	CU_ASSERT_EQUAL(__atomic_load_n(&fk.submits, __ATOMIC_RELAXED),
			sent + 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Content-Length: 102400\r\n"));
	char *body = strstr(resp, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	CU_ASSERT(!memcmp(body + 4, req + n, V));
	CU_ASSERT_EQUAL(http("PUT /v1/kv/small HTTP/1.1\r\nHost: t\r\n"
			     "Content-Length: 2\r\n\r\nhi",
			     resp, sizeof(resp)),
			204);
	sent = __atomic_load_n(&fk.submits, __ATOMIC_RELAXED);
	CU_ASSERT_EQUAL(http("GET /v1/kv/small HTTP/1.1\r\nHost: t\r\n\r\n",
			     resp, sizeof(resp)),
			200);
	CU_ASSERT_EQUAL(__atomic_load_n(&fk.submits, __ATOMIC_RELAXED),
			sent + 1);
	/* Every large buffer went back to the loop's pool. */
	CU_ASSERT_EQUAL(lp.large_top, opt.large_bodies);
	gw_down();
}

/* 40 connections, one loop thread: all 40 requests are in flight at once
 * (the fake completes nothing until the 40th arrives). */
static void test_http_inflight(void)
{
	enum { N = 40 };
	char b[4096];
	int fds[N];
	gw_up(N, 64);
	for (int i = 0; i < N; i++) {
		fds[i] = conn();
		char req[128];
		snprintf(req, sizeof(req),
			 "PUT /v1/kv/k%d HTTP/1.1\r\nHost: t\r\n"
			 "Content-Length: 1\r\n\r\nv",
			 i);
		send_all(fds[i], req, strlen(req));
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		ok += recv_resp(fds[i], b, sizeof(b)) == 204;
		close(fds[i]);
	}
	CU_ASSERT_EQUAL(ok, N);
	CU_ASSERT_EQUAL(__atomic_load_n(&fk.max_seen, __ATOMIC_RELAXED), N);
	gw_down();
}

/* max_inflight 2: the third request is answered 429 + Retry-After at once;
 * the two held ones still complete. */
static void test_http_busy(void)
{
	char b[4096];
	int fds[2];
	gw_up(100, 2);
	for (int i = 0; i < 2; i++) {
		fds[i] = conn();
		send_all(fds[i], "GET /v1/kv/a HTTP/1.1\r\nHost: t\r\n\r\n",
			 35);
	}
	usleep(100000);
	CU_ASSERT_EQUAL(
		http("GET /v1/kv/b HTTP/1.1\r\nHost: t\r\n\r\n", b, sizeof(b)),
		429);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "Retry-After: 1"));
	CU_ASSERT_EQUAL(http("GET /v1/kv/release HTTP/1.1\r\nHost: t\r\n\r\n",
			     b, sizeof(b)),
			404);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(recv_resp(fds[i], b, sizeof(b)), 404);
		close(fds[i]);
	}
	gw_down();
}

/* A KV request with an Authorization header (NULL: none): the status. */
static int http_auth(const char *method, const char *key, const char *auth,
		     const char *extra, char *b, size_t cap)
{
	char req[1024];
	snprintf(req, sizeof(req),
		 "%s /v1/kv/%s HTTP/1.1\r\nHost: t\r\n%s%s%s%s"
		 "Content-Length: 1\r\n\r\nv",
		 method, key, auth ? "Authorization: " : "", auth ? auth : "",
		 auth ? "\r\n" : "", extra ? extra : "");
	return http(req, b, cap);
}

/* --http-keys through the HTTP path: 401 (+ WWW-Authenticate) and 403
 * reach nothing (submits unchanged), an allowed request is served, the
 * metrics count both codes, /metrics stays open. */
static void test_http_auth(void)
{
	char b[8192], rw[160], ro[160], app[160], bad[160];
	auth_keys_load();
	up_keys = &auth_keys;
	gw_up(0, 64);
	up_keys = NULL;
	bearer(rw, sizeof(rw), 1, 1, false);
	bearer(ro, sizeof(ro), 7, 7, false);
	bearer(app, sizeof(app), 9, 9, false);
	bearer(bad, sizeof(bad), 1, 1, true);
	CU_ASSERT_EQUAL(http_auth("PUT", "app/1", app, NULL, b, sizeof(b)),
			204);
	CU_ASSERT_EQUAL(http_auth("GET", "app/1", app, NULL, b, sizeof(b)),
			200);
	unsigned sent = __atomic_load_n(&fk.submits, __ATOMIC_RELAXED);
	CU_ASSERT_EQUAL(http_auth("GET", "app/1", NULL, NULL, b, sizeof(b)),
			401);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(b, "WWW-Authenticate: Bearer realm=\"quorate\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"error\":\"UNAUTHORIZED\""));
	CU_ASSERT_EQUAL(http_auth("GET", "app/1", bad, NULL, b, sizeof(b)),
			401);
	CU_ASSERT_EQUAL(
		http_auth("GET", "app/1", "Bearer 1.00", NULL, b, sizeof(b)),
		401);
	/* authentication comes first: a bad header too is still a 401 */
	CU_ASSERT_EQUAL(http_auth("GET", "app/1", NULL,
				  "X-Consistency: most\r\n", b, sizeof(b)),
			401);
	char twice[400];
	snprintf(twice, sizeof(twice), "Authorization: %s\r\n", app);
	CU_ASSERT_EQUAL(http_auth("GET", "app/1", app, twice, b, sizeof(b)),
			401);
	CU_ASSERT_EQUAL(http_auth("PUT", "metrics/a", ro, NULL, b, sizeof(b)),
			403);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"error\":\"FORBIDDEN\""));
	CU_ASSERT_PTR_NULL(strstr(b, "WWW-Authenticate"));
	CU_ASSERT_EQUAL(
		http_auth("DELETE", "metrics/a", ro, NULL, b, sizeof(b)), 403);
	CU_ASSERT_EQUAL(http_auth("PUT", "other", app, NULL, b, sizeof(b)),
			403);
	CU_ASSERT_EQUAL(http_auth("POST", "app", app, NULL, b, sizeof(b)), 403);
	CU_ASSERT_EQUAL(__atomic_load_n(&fk.submits, __ATOMIC_RELAXED), sent);
	CU_ASSERT_EQUAL(http_auth("GET", "metrics/a", ro, NULL, b, sizeof(b)),
			404);
	CU_ASSERT_EQUAL(http_auth("PUT", "other", rw, NULL, b, sizeof(b)), 204);
	CU_ASSERT_EQUAL(
		http("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", b, sizeof(b)),
		200);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "quorate_gw_requests_total{method="
					 "\"GET\",code=\"401\"} 5"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "quorate_gw_requests_total{method="
					 "\"PUT\",code=\"403\"} 2"));
	gw_down();
}

static void *stop_thread(void *arg)
{
	(void)arg;
	gw_down();
	return NULL;
}

/* Stopping with a request still waiting for the cluster (L2 in loop.c):
 * it is answered 503 + Retry-After after the drain bound, never left
 * suspended (libmicrohttpd forbids stopping with one). */
static void test_http_stop_drains(void)
{
	char b[4096];
	pthread_t t;
	gw_up(100, 64);
	int fd = conn();
	send_all(fd, "GET /v1/kv/a HTTP/1.1\r\nHost: t\r\n\r\n", 35);
	usleep(50000);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, stop_thread, NULL), 0);
	CU_ASSERT_EQUAL(recv_resp(fd, b, sizeof(b)), 503);
	CU_ASSERT_PTR_NOT_NULL(strstr(b, "Retry-After: 1"));
	close(fd);
	pthread_join(t, NULL);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"map_ops", test_map_ops},
		{"map_options", test_map_options},
		{"map_refusals", test_map_refusals},
		{"keys_versions", test_keys_versions},
		{"results", test_results},
		{"auth_authenticate", test_auth_authenticate},
		{"auth_authorize", test_auth_authorize},
		{"http_contract", test_http_contract},
		{"http_inflight", test_http_inflight},
		{"http_large_values", test_http_large_values},
		{"http_busy", test_http_busy},
		{"http_auth", test_http_auth},
		{"http_stop_drains", test_http_stop_drains},
		{NULL, NULL},
	};
	return qr_unit_main("gw", cases);
}
