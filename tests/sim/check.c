/* SPDX-License-Identifier: MIT */
/*
 * History checkers: see check.h. Histories are a few hundred operations per
 * seed, so the checks scan linearly; clarity beats speed here.
 */
#include "sim/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "core/hlc.h"
#include "core/wire.h"
#include "quorate/err.h"

struct check_op {
	uint16_t client;
	uint64_t seq;
	int key;
	uint8_t op;
	uint8_t count;
	bool final;
	bool done;
	bool may_restamp; /* coordinator restarted: a retry is a new write */
	uint64_t min_version;
	uint64_t start_us, end_us;
	int status;
	struct qr_version version;
};

/* Which write a version names. */
struct check_ver {
	int key;
	struct qr_version v;
	uint16_t client;
	uint64_t seq;
	bool tombstone;
};

/* A version lost with a dead node (check_lost). */
struct check_lost {
	int key;
	struct qr_version v;
};

static void fail(struct check *c, const char *checker, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	snprintf(c->checker, sizeof(c->checker), "%s", checker);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

void check_init(struct check *c, int n, int rf, int nkeys,
		struct sim_result *res)
{
	memset(c, 0, sizeof(*c));
	c->n = rf; /* N of the quorum arithmetic is the replica count */
	(void)n;
	c->rf = rf;
	c->quorum = rf / 2 + 1;
	c->nkeys = nkeys;
	c->res = res;
}

void check_fini(struct check *c)
{
	free(c->ops);
	free(c->vers);
	free(c->lost);
}

void check_lost(struct check *c, int key, struct qr_version v)
{
	if (key < 0 || key >= c->nkeys)
		return; /* a CAS key: its answers are on a quorum */
	if (c->nlost == c->lost_cap) {
		c->lost_cap = c->lost_cap ? c->lost_cap * 2 : 64;
		c->lost = realloc(c->lost, c->lost_cap * sizeof(*c->lost));
		QR_ASSERT(c->lost);
	}
	c->lost[c->nlost++] = (struct check_lost){key, v};
}

/* Does operation p (a write acknowledged at W <= 1, or a read at R = 1)
 * name a version lost with a dead node? Then (a), (b) and (g) do not
 * count it (check.h). */
static bool lost_one(const struct check *c, const struct check_op *p)
{
	if (p->count > 1)
		return false;
	for (size_t i = 0; i < c->nlost; i++)
		if (c->lost[i].key == p->key &&
		    qr_version_cmp(c->lost[i].v, p->version) == 0)
			return true;
	return false;
}

int check_begin(struct check *c, uint16_t client, uint64_t seq, int key,
		uint8_t op, uint8_t count, uint64_t min_version,
		uint64_t now_us, bool final)
{
	if (c->len == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->ops = realloc(c->ops, c->cap * sizeof(*c->ops));
		QR_ASSERT(c->ops);
	}
	struct check_op *o = &c->ops[c->len];
	memset(o, 0, sizeof(*o));
	o->client = client;
	o->seq = seq;
	o->key = key;
	o->op = op;
	o->count = count;
	o->final = final;
	o->min_version = min_version;
	o->start_us = now_us;
	if (final)
		c->finals++;
	return (int)c->len++;
}

static const struct check_op *find_op(const struct check *c, uint16_t client,
				      uint64_t seq)
{
	for (size_t i = 0; i < c->len; i++)
		if (c->ops[i].client == client && c->ops[i].seq == seq)
			return &c->ops[i];
	return NULL;
}

static struct check_ver *find_ver(struct check *c, int key, struct qr_version v)
{
	for (size_t i = 0; i < c->vlen; i++)
		if (c->vers[i].key == key &&
		    qr_version_cmp(c->vers[i].v, v) == 0)
			return &c->vers[i];
	return NULL;
}

/* (d): version v of key names the write (client, seq, tombstone). */
static const struct check_op *find_op(const struct check *c, uint16_t client,
				      uint64_t seq);

static void bind_version(struct check *c, int key, struct qr_version v,
			 uint16_t client, uint64_t seq, bool tombstone)
{
	/* One write, one version (unless its coordinator restarted). */
	const struct check_op *w = find_op(c, client, seq);
	for (size_t i = 0; w && !w->may_restamp && i < c->vlen; i++) {
		const struct check_ver *o = &c->vers[i];
		if (o->client == client && o->seq == seq &&
		    qr_version_cmp(o->v, v) != 0) {
			fail(c, "(d)",
			     "write c%u#%" PRIu64 " of key-%d carries two "
			     "versions: %" PRIu64 ".%u and %" PRIu64 ".%u",
			     client, seq, key, o->v.hlc, o->v.node, v.hlc,
			     v.node);
			return;
		}
	}
	struct check_ver *b = find_ver(c, key, v);
	if (b) {
		if (b->client != client || b->seq != seq ||
		    b->tombstone != tombstone)
			fail(c, "(d)",
			     "key-%d version %" PRIu64 ".%u names two writes: "
			     "c%u#%" PRIu64 "%s and c%u#%" PRIu64 "%s",
			     key, v.hlc, v.node, b->client, b->seq,
			     b->tombstone ? " (delete)" : "", client, seq,
			     tombstone ? " (delete)" : "");
		return;
	}
	if (c->vlen == c->vcap) {
		c->vcap = c->vcap ? c->vcap * 2 : 256;
		c->vers = realloc(c->vers, c->vcap * sizeof(*c->vers));
		QR_ASSERT(c->vers);
	}
	c->vers[c->vlen++] = (struct check_ver){key, v, client, seq, tombstone};
}

static bool is_read(const struct check_op *o)
{
	return o->op == QR_OP_GET;
}

static bool read_ok(const struct check_op *o)
{
	return o->status == 0 || o->status == QR_ENOTFOUND;
}

/* A read that found nothing at all (no tombstone either) may be older than
 * write p only if a tombstone above p may have been collected: p is older
 * than the grace and some delete of the key (p itself, or one that was
 * not acknowledged and may have been applied above p) began before the
 * read ended. */
static bool collected_above(const struct check *c, const struct check_op *o,
			    const struct check_op *p)
{
	if (o->status != QR_ENOTFOUND || !qr_version_is_none(o->version) ||
	    QR_HLC_MS(p->version.hlc) + c->grace_ms >= c->hlc_ms)
		return false;
	if (p->op == QR_OP_DELETE)
		return true;
	for (size_t i = 0; i < c->len; i++) {
		const struct check_op *d = &c->ops[i];
		if (d->key == o->key && d->op == QR_OP_DELETE &&
		    d->start_us < o->end_us)
			return true;
	}
	return false;
}

static void check_read(struct check *c, struct check_op *o,
		       const uint8_t *value, uint16_t value_len, bool tombstone)
{
	int N = c->n, Q = c->quorum, R = o->count;
	/* (d) the value is one somebody wrote, under this version. */
	if (o->status == 0) {
		unsigned cl;
		uint64_t seq;
		char text[40] = {0};
		memcpy(text, value, QR_MIN(value_len, sizeof(text) - 1));
		if (sscanf(text, "v%u.%" SCNu64 ".", &cl, &seq) != 2) {
			fail(c, "(d)",
			     "read of key-%d returned a value "
			     "nobody wrote (%.20s)",
			     o->key, text);
			return;
		}
		const struct check_op *w = find_op(c, (uint16_t)cl, seq);
		if (!w || w->op != QR_OP_PUT || w->key != o->key ||
		    !sim_value_matches((uint16_t)cl, seq, value, value_len)) {
			fail(c, "(d)",
			     "read of key-%d returned c%u#%" PRIu64
			     " which is not a write of that key",
			     o->key, cl, seq);
			return;
		}
		if (w->done && w->status == 0 && !w->may_restamp &&
		    qr_version_cmp(w->version, o->version) != 0) {
			fail(c, "(d)",
			     "key-%d: c%u#%" PRIu64 " was acked as "
			     "%" PRIu64 ".%u but read as %" PRIu64 ".%u",
			     o->key, cl, seq, w->version.hlc, w->version.node,
			     o->version.hlc, o->version.node);
			return;
		}
		bind_version(c, o->key, o->version, (uint16_t)cl, seq, false);
	} else if (!qr_version_is_none(o->version)) {
		/* NOT_FOUND with a version: a delete's tombstone. */
		struct check_ver *b = find_ver(c, o->key, o->version);
		if (b && !b->tombstone)
			fail(c, "(d)",
			     "key-%d: version %" PRIu64 ".%u read as "
			     "a tombstone but it is a put",
			     o->key, o->version.hlc, o->version.node);
	}
	(void)tombstone;
	for (size_t i = 0; i < c->len && !c->failed; i++) {
		const struct check_op *p = &c->ops[i];
		if (p == o || p->key != o->key || !p->done ||
		    p->end_us >= o->start_us || lost_one(c, p))
			continue;
		/* (g) session guarantees: a read with a token sees at least
		 * every version its own session wrote or read of this key
		 * (read-your-writes, monotonic reads), at any level. */
		if (o->min_version && p->client == o->client &&
		    (is_read(p) ? read_ok(p)
				: p->status == 0 && p->count > 0) &&
		    !qr_version_is_none(p->version) &&
		    (p->version.hlc <= o->min_version ||
		     (R >= Q && p->count >= Q)) &&
		    qr_version_cmp(o->version, p->version) < 0 &&
		    !collected_above(c, o, p))
			fail(c, "(g)",
			     "key-%d: %s read by c%u#%" PRIu64 " with token "
			     "%" PRIu64 " returned %" PRIu64 ".%u, older than "
			     "its session's %s c%u#%" PRIu64 " (%" PRIu64
			     ".%u)",
			     o->key, o->count == 1 ? "ONE" : "R>1", o->client,
			     o->seq, o->min_version, o->version.hlc,
			     o->version.node, is_read(p) ? "read" : "write",
			     p->client, p->seq, p->version.hlc,
			     p->version.node);
		/* (b) writes acknowledged before this read began. */
		if (!is_read(p) && p->status == 0 && p->count + R > N &&
		    qr_version_cmp(o->version, p->version) < 0 &&
		    !collected_above(c, o, p))
			fail(c, "(b)",
			     "key-%d: R=%d read by c%u#%" PRIu64
			     " returned %" PRIu64 ".%u, older than W=%d write "
			     "c%u#%" PRIu64 " acked before it began (%" PRIu64
			     ".%u)",
			     o->key, R, o->client, o->seq, o->version.hlc,
			     o->version.node, p->count, p->client, p->seq,
			     p->version.hlc, p->version.node);
		/* (c) an earlier blocking (R >= Q) read that overlaps. */
		if (is_read(p) && read_ok(p) && p->count >= Q && Q + R > N &&
		    qr_version_cmp(o->version, p->version) < 0 &&
		    !collected_above(c, o, p))
			fail(c, "(c)",
			     "key-%d: R=%d read by c%u#%" PRIu64
			     " returned %" PRIu64 ".%u, older than R=%d read "
			     "c%u#%" PRIu64 " that completed before it began "
			     "(%" PRIu64 ".%u)",
			     o->key, R, o->client, o->seq, o->version.hlc,
			     o->version.node, p->count, p->client, p->seq,
			     p->version.hlc, p->version.node);
	}
}

void check_end(struct check *c, int idx, uint64_t now_us, int status,
	       struct qr_version v, bool tombstone, const uint8_t *value,
	       uint16_t value_len)
{
	struct check_op *o = &c->ops[idx];
	QR_ASSERT(!o->done);
	o->done = true;
	o->end_us = now_us;
	o->status = status;
	o->version = v;
	struct sim_result *r = c->res;
	if (c->verbose)
		fprintf(stderr,
			"[%8" PRIu64 "us] op c%u#%" PRIu64 " key-%d "
			"%s n=%d began %" PRIu64 "us: %s version %" PRIu64
			".%u%s%.*s\n",
			now_us, o->client, o->seq, o->key,
			o->op == QR_OP_GET   ? "get"
			: o->op == QR_OP_PUT ? "put"
					     : "del",
			o->count, o->start_us, qr_strerror(status), v.hlc,
			v.node, value_len ? " value " : "",
			(int)QR_MIN(value_len, 16),
			value ? (const char *)value : "");
	r->ops++;
	if (is_read(o))
		r->reads++;
	else
		r->writes++;
	if (status == 0 || (is_read(o) && status == QR_ENOTFOUND))
		r->ops_ok++;
	else if (status == QR_EUNAVAILABLE)
		r->ops_unavailable++;
	else if (status == QR_ETIMEOUT)
		r->ops_timeout++;
	else
		r->ops_other_err++;
	if (o->final) {
		if (read_ok(o))
			c->finals_ok++;
		else
			fail(c, "(e)",
			     "final ALL read of key-%d after the "
			     "faults stopped failed: %s",
			     o->key, qr_strerror(status));
	}
	if (!is_read(o)) {
		/* (g) a session's write is stamped above its token (exactly:
		 * an equal or lower version would lose, under last-writer-
		 * wins, to what the session saw; bug 1 of issue 13). */
		if (status == 0 && o->min_version &&
		    v.hlc <= o->min_version)
			fail(c, "(g)",
			     "key-%d: %s by c%u#%" PRIu64 " with token "
			     "%" PRIu64 " stamped %" PRIu64 ".%u, not above it",
			     o->key, o->op == QR_OP_PUT ? "put" : "delete",
			     o->client, o->seq, o->min_version, v.hlc, v.node);
		if (status == 0)
			bind_version(c, o->key, v, o->client, o->seq,
				     o->op == QR_OP_DELETE);
		return;
	}
	if (read_ok(o))
		check_read(c, o, value, value_len, tombstone);
}

void check_may_restamp(struct check *c, int idx)
{
	c->ops[idx].may_restamp = true;
}

bool check_max_acked(const struct check *c, int key, struct qr_version *out,
		     bool *is_delete)
{
	bool any = false;
	for (size_t i = 0; i < c->len; i++) {
		const struct check_op *p = &c->ops[i];
		if (p->key != key || is_read(p) || !p->done || p->status != 0)
			continue;
		/* A level ANY write (count 0) may be lost with its hints when
		 * no replica comes back within the hint window: not counted
		 * (check_unacked_delete counts an ANY delete as one that may
		 * or may not have been applied). */
		if (p->count == 0 && !c->any_kept)
			continue;
		if (lost_one(c, p))
			continue; /* lost with a dead node at W <= 1 */
		if (!any || qr_version_cmp(p->version, *out) > 0) {
			*out = p->version;
			*is_delete = p->op == QR_OP_DELETE;
		}
		any = true;
	}
	return any;
}

bool check_max_acked_quorum(const struct check *c, int key,
			    uint64_t before_us, struct qr_version *out,
			    bool *is_delete)
{
	bool any = false;
	for (size_t i = 0; i < c->len; i++) {
		const struct check_op *p = &c->ops[i];
		if (p->key != key || is_read(p) || !p->done || p->status != 0 ||
		    p->count < c->quorum || p->end_us >= before_us)
			continue;
		if (!any || qr_version_cmp(p->version, *out) > 0) {
			*out = p->version;
			*is_delete = p->op == QR_OP_DELETE;
		}
		any = true;
	}
	return any;
}

bool check_unacked_delete(const struct check *c, int key)
{
	for (size_t i = 0; i < c->len; i++) {
		const struct check_op *p = &c->ops[i];
		if (p->key == key && p->op == QR_OP_DELETE &&
		    (!p->done || p->status != 0 || p->count == 0))
			return true;
	}
	return false;
}

bool check_finals_done(struct check *c)
{
	if (c->finals_ok == c->finals && c->finals == c->nkeys)
		return true;
	if (!c->failed)
		fail(c, "(e)", "%d of %d final ALL reads completed",
		     c->finals_ok, c->nkeys);
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void check_latency_summary(struct check *c)
{
	uint64_t *lat = malloc((c->len + 1) * sizeof(*lat));
	QR_ASSERT(lat);
	size_t n = 0;
	for (size_t i = 0; i < c->len; i++) {
		const struct check_op *o = &c->ops[i];
		if (o->done && !o->final &&
		    (o->status == 0 ||
		     (is_read(o) && o->status == QR_ENOTFOUND)))
			lat[n++] = o->end_us - o->start_us;
	}
	if (n) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		c->res->lat_p50_us = lat[n / 2];
		c->res->lat_p99_us = lat[(n * 99) / 100];
		c->res->lat_max_us = lat[n - 1];
	}
	free(lat);
}
