/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's HTTP layer: libmicrohttpd's access handler. It routes a
 * request, reads at most one value's worth of body, maps the KV request
 * (map.h), hands it to the backend and suspends the connection; the
 * completion resumes it and the handler, called once more, answers.
 *
 * Invariants (with G1..G3 in gw.h):
 *  H1. A request is answered exactly once: state GW_RQ_ANSWERED is set
 *      with the response queued, and every later call returns at once.
 *  H2. Nothing reaches the cluster before every check passed: with
 *      --http-keys a missing or wrong credential (401) or a forbidden op
 *      or key (403; auth.h, A1), and a bad header, key or a body over
 *      --value-bytes-max, are answered 4xx from here (the body is not
 *      even read when Content-Length says it is too large).
 *  H4. A value over QR_VALUE_INLINE_MAX lives in a large buffer (gw.h
 *      G2): a PUT's body takes one when it outgrows the small one; a GET
 *      whose value did not fit the small one (QR_ETOOLARGE and the size)
 *      takes one and is asked again, once (streaming is not done).
 *  H3. The path is the raw request target (main.c installs an unescape
 *      callback that changes nothing): the key is decoded here with its
 *      length, so %00 and %2F are key bytes, never a cut or a route.
 */
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "gw/auth.h"
#include "gw/gw.h"
#include "gw/http.h"
#include "gw/status.h"

#define KV_PREFIX "/v1/kv/"
#define READY_KEY "quorate-gw/ready-probe"

struct gw_req *gw_req_get(struct gw_loop *l)
{
	struct gw_req *rq = l->free_list;
	if (!rq)
		return NULL;
	l->free_list = rq->next_free;
	memset(rq, 0, offsetof(struct gw_req, key));
	rq->loop = l;
	rq->body = rq->small;
	rq->body_cap = sizeof(rq->small);
	return rq;
}

void gw_req_put(struct gw_loop *l, struct gw_req *rq)
{
	if (rq->large) {
		l->large_free[l->large_top++] = rq->large;
		rq->large = NULL;
	}
	rq->next_free = l->free_list;
	l->free_list = rq;
}

static enum MHD_Result queue(struct gw_req *rq, unsigned status,
			     struct MHD_Response *resp)
{
	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	enum MHD_Result r = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	rq->state = GW_RQ_ANSWERED;
	rq->status = status;
	gw_metrics_count(&rq->loop->m, rq->method, status, rq->route == GW_R_KV,
			 qr_clock_mono_ns() - rq->start_ns);
	return r;
}

static struct MHD_Response *text(const char *s, size_t n, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		n, (void *)s, MHD_RESPMEM_MUST_COPY);
	if (r && type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return r;
}

/* {"status":N,"error":"NAME","message":"...", extra...} */
static struct MHD_Response *json_error(unsigned status, const char *error,
				       const char *message, json_t *extra)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "error", json_string(error ? error : "HTTP"));
	if (message)
		json_object_set_new(o, "message", json_string(message));
	if (extra)
		json_object_update(o, extra);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	s[n] = '\n'; /* replaces the NUL: MHD copies n + 1 bytes */
	struct MHD_Response *r = text(s, n + 1, "application/json");
	free(s);
	return r;
}

static enum MHD_Result fail(struct gw_req *rq, unsigned status,
			    const char *error, const char *why)
{
	struct MHD_Response *r = json_error(status, error, why, NULL);
	if (r && status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					rq->route == GW_R_KV
						? "GET, HEAD, PUT, POST, DELETE"
						: "GET, HEAD");
	if (r && status == 401) /* RFC 6750; docs/http.md, "Authentication" */
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"quorate\"");
	if (r && (status == 429 || status == 503))
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return queue(rq, status, r);
}

static enum gw_route route_of(const char *url)
{
	if (!strncmp(url, KV_PREFIX, strlen(KV_PREFIX)) ||
	    !strcmp(url, "/v1/kv"))
		return GW_R_KV;
	if (!strcmp(url, "/ready"))
		return GW_R_READY;
	if (!strcmp(url, "/metrics"))
		return GW_R_METRICS;
	if (!strcmp(url, "/v1/status/replication"))
		return GW_R_REPL;
	if (!strcmp(url, "/") || !strcmp(url, "/status"))
		return GW_R_PAGE;
	return GW_R_NOTFOUND;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *const kv_headers[] = {
	"X-Consistency",
	"X-Min-Version",
	"X-Stale-Policy",
	"X-Deadline-Ms",
	MHD_HTTP_HEADER_IF_MATCH,
	MHD_HTTP_HEADER_IF_NONE_MATCH,
	MHD_HTTP_HEADER_AUTHORIZATION, /* last: twice is a 401, not a 400 */
};
#define KV_HEADERS  (sizeof(kv_headers) / sizeof(kv_headers[0]))
#define AUTH_HEADER (KV_HEADERS - 1)

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	unsigned *count = cls;
	(void)kind;
	(void)value;
	for (size_t i = 0; i < KV_HEADERS; i++)
		count[i] += !strcasecmp(key, kv_headers[i]);
	return MHD_YES;
}

/* A header the mapping reads, given twice (which one would win is a
 * guess: refused, M1), or NULL. */
static const char *twice(const unsigned *count)
{
	for (size_t i = 0; i < AUTH_HEADER; i++)
		if (count[i] > 1)
			return kv_headers[i];
	return NULL;
}

/* --http-keys: who sent this request (A1 in auth.h): 0 with *who (NULL
 * when HTTP clients are not authenticated), or the 401 answered. */
static int authenticate(struct gw_req *rq, const unsigned *count,
			const struct qr_client_key **who, enum MHD_Result *r)
{
	const struct qr_client_keys *ks = rq->loop->opt->http_keys;
	const char *why = NULL;
	*who = NULL;
	if (!ks)
		return 0;
	int st = gw_auth_authenticate(
		ks, hdr(rq->conn, MHD_HTTP_HEADER_AUTHORIZATION),
		count[AUTH_HEADER] > 1, who, &why);
	if (st)
		*r = fail(rq, st, "UNAUTHORIZED", why);
	return st;
}

/* First call for /v1/kv/...: who, key, headers, Content-Length (H2). */
/* A large buffer for rq's value, keeping the body read so far: 0, or
 * -1 when the loop has none free (H4: then 429, like any overload). */
static int take_large(struct gw_req *rq)
{
	struct gw_loop *l = rq->loop;
	if (rq->large)
		return 0;
	if (!l->large_top)
		return -1;
	rq->large = l->large_free[--l->large_top];
	memcpy(rq->large, rq->small, rq->body_len);
	rq->body = rq->large;
	rq->body_cap = l->opt->value_bytes_max;
	return 0;
}

static enum MHD_Result too_large(struct gw_req *rq)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "value larger than %u bytes",
		 rq->loop->opt->value_bytes_max);
	return fail(rq, 413, "TOO_LARGE", msg);
}

static enum MHD_Result no_large(struct gw_req *rq)
{
	return fail(rq, 429, "BUSY",
		    "every large-value buffer is in use (--large-bodies): "
		    "retry after Retry-After seconds");
}

static enum MHD_Result kv_begin(struct gw_req *rq, const char *url)
{
	const char *why = NULL;
	const struct qr_client_key *who;
	unsigned count[KV_HEADERS] = {0};
	enum MHD_Result r = MHD_NO;
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_header,
				  count);
	if (authenticate(rq, count, &who, &r))
		return r;
	size_t plen = strlen(KV_PREFIX);
	const char *raw = strlen(url) >= plen ? url + plen : "";
	int st = gw_key_decode(raw, strlen(raw), rq->key, &rq->key_len, &why);
	if (st)
		return fail(rq, st, st == 414 ? "KEY_TOO_LONG" : "BAD_KEY",
			    why);
	const char *dup = twice(count);
	if (dup) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%s given twice", dup);
		return fail(rq, 400, "BAD_REQUEST", msg);
	}
	struct gw_hdrs h = {
		.consistency = hdr(rq->conn, "X-Consistency"),
		.min_version = hdr(rq->conn, "X-Min-Version"),
		.stale_policy = hdr(rq->conn, "X-Stale-Policy"),
		.deadline_ms = hdr(rq->conn, "X-Deadline-Ms"),
		.if_match = hdr(rq->conn, MHD_HTTP_HEADER_IF_MATCH),
		.if_none_match = hdr(rq->conn, MHD_HTTP_HEADER_IF_NONE_MATCH),
	};
	st = gw_map_kv(rq->method, &h, &rq->kv, &why);
	if (st)
		return fail(rq, st,
			    st == 405 ? "METHOD_NOT_ALLOWED" : "BAD_REQUEST",
			    why);
	if (who &&
	    gw_auth_authorize(who, rq->kv.op, rq->key, rq->key_len, &why))
		return fail(rq, 403, "FORBIDDEN", why);
	const char *cl = hdr(rq->conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
	if (len > rq->loop->opt->value_bytes_max)
		return too_large(rq);
	if (len > rq->body_cap && take_large(rq))
		return no_large(rq);
	rq->state = GW_RQ_BODY;
	return MHD_YES;
}

static void kv_request(struct gw_req *rq, struct qr_request *q)
{
	bool write = rq->kv.op != QR_CLIENT_GET &&
		     rq->kv.op != QR_CLIENT_GET_LINEARIZABLE &&
		     rq->kv.op != QR_CLIENT_DEL &&
		     rq->kv.op != QR_CLIENT_DEL_IF_VERSION;
	*q = (struct qr_request){
		.op = rq->kv.op,
		.key = rq->key,
		.key_len = rq->key_len,
		.value = write ? rq->body : NULL,
		.value_len = write ? rq->body_len : 0,
		.if_hlc = rq->kv.if_hlc,
		.if_node = rq->kv.if_node,
		.opts = &rq->kv.opts,
		.user = rq,
		.buf = write ? NULL : rq->body,
		.buf_cap = write ? 0 : rq->body_cap,
	};
}

/* Last call of the upload: hand the request to the backend, suspend. */
static enum MHD_Result submit(struct gw_req *rq, const struct qr_request *q)
{
	int rc = gw_loop_submit(rq->loop, rq, q);
	if (rc == 0) {
		rq->state = GW_RQ_WAIT;
		MHD_suspend_connection(rq->conn);
		return MHD_YES;
	}
	return fail(rq, gw_status_of_err(rc), qr_strerror(rc),
		    rc == QR_EBUSY ? "overloaded: too many requests in "
				     "flight, retry after Retry-After seconds"
				   : "the client library refused the request");
}

static void version_headers(struct MHD_Response *r, const struct gw_req *rq,
			    const struct gw_reply *rep)
{
	const struct qr_result *res = &rq->result;
	char v[40], etag[44], buf[48];
	if (rep->version) {
		gw_version_format(v, sizeof(v), res->hlc, res->node);
		snprintf(etag, sizeof(etag), "\"%s\"", v);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
		bool wrote = !rep->error && rq->kv.op != QR_CLIENT_GET &&
			     rq->kv.op != QR_CLIENT_GET_LINEARIZABLE;
		MHD_add_response_header(
			r, wrote ? "X-Write-Version" : "X-Data-Version", v);
	}
	/* The session token to send back as X-Min-Version (monotonic). */
	uint64_t tok = rq->kv.opts.min_version > res->hlc
			       ? rq->kv.opts.min_version
			       : res->hlc;
	if (tok) {
		snprintf(buf, sizeof(buf), "%" PRIu64, tok);
		MHD_add_response_header(r, "X-Min-Version", buf);
	}
	if ((rep->value || rep->status == 304) && res->lag_ms != UINT32_MAX) {
		snprintf(buf, sizeof(buf), "%u", res->lag_ms);
		MHD_add_response_header(r, "X-Replication-Lag-Ms", buf);
	}
	if (res->coordinator != 0xffff) {
		snprintf(buf, sizeof(buf), "%u", res->coordinator);
		MHD_add_response_header(r, "X-Quorate-Node", buf);
		int rf = rq->loop->be->replicas(rq->loop->bh, rq->key,
						rq->key_len);
		snprintf(buf, sizeof(buf), "%u/%d", res->answered,
			 rf > 0 ? rf : 0);
		MHD_add_response_header(r, "X-Replicas", buf);
	}
}

/* The answer to a completed KV request (docs/http.md's tables). */
static enum MHD_Result kv_answer(struct gw_req *rq)
{
	struct gw_reply rep;
	struct MHD_Response *r;
	gw_map_result(&rq->kv, &rq->result, &rep);
	if (rep.value) {
		r = text((const char *)rq->result.value, rq->result.value_len,
			 "application/octet-stream");
	} else if (rep.error) {
		json_t *x = json_object();
		json_object_set_new(x, "code", json_integer(rq->result.status));
		if (rep.version) {
			char v[40];
			gw_version_format(v, sizeof(v), rq->result.hlc,
					  rq->result.node);
			json_object_set_new(x, "version", json_string(v));
		}
		if (rep.unknown)
			json_object_set_new(x, "outcome",
					    json_string("unknown"));
		r = json_error(rep.status, rep.error, rep.message, x);
		json_decref(x);
	} else {
		r = MHD_create_response_from_buffer(0, NULL,
						    MHD_RESPMEM_PERSISTENT);
	}
	if (!r)
		return MHD_NO;
	version_headers(r, rq, &rep);
	if (rep.retry_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (rep.status == 201) {
		char loc[sizeof(KV_PREFIX) + 3 * QR_CLIENT_KEY_BYTES_MAX];
		size_t n = strlen(KV_PREFIX);
		memcpy(loc, KV_PREFIX, n);
		for (size_t i = 0; i < rq->key_len; i++) {
			uint8_t b = rq->key[i];
			if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
			    (b >= '0' && b <= '9') || strchr("-._~", b))
				loc[n++] = (char)b;
			else
				n += (size_t)sprintf(loc + n, "%%%02X", b);
		}
		loc[n] = '\0';
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
	}
	return queue(rq, rep.status, r);
}

static enum MHD_Result ready_answer(struct gw_req *rq)
{
	int st = rq->result.status;
	if (st == 0 || st == QR_ENOTFOUND) {
		static const char ok[] = "{\"ready\":true}\n";
		return queue(rq, 200,
			     text(ok, sizeof(ok) - 1, "application/json"));
	}
	return fail(rq, 503, qr_strerror(st),
		    "a quorum read through the cluster failed");
}

/* /ready: a QUORUM read of a probe key, through the same path. */
static enum MHD_Result ready_submit(struct gw_req *rq)
{
	static const struct qr_req_opts o = {
		.consistency = QR_CONSISTENCY_QUORUM,
		.deadline_ms = 500,
	};
	struct qr_request q = {
		.op = QR_CLIENT_GET,
		.key = READY_KEY,
		.key_len = sizeof(READY_KEY) - 1,
		.opts = &o,
		.user = rq,
		.buf = rq->body,
		.buf_cap = rq->body_cap,
	};
	return submit(rq, &q);
}

static enum MHD_Result metrics_answer(struct gw_req *rq)
{
	size_t cap = 256 * 1024;
	char *buf = malloc(cap);
	if (!buf)
		return fail(rq, 500, "NO_MEMORY", NULL);
	long n = gw_metrics_render(rq->loop->all, rq->loop->nloops, buf, cap);
	enum MHD_Result r;
	if (n < 0)
		r = fail(rq, 500, qr_strerror((int)n), "rendering /metrics");
	else
		r = queue(rq, 200,
			  text(buf, (size_t)n,
			       "text/plain; version=0.0.4; charset=utf-8"));
	free(buf);
	return r;
}

static enum MHD_Result status_answer(struct gw_req *rq)
{
	size_t n = 0;
	char *s = rq->route == GW_R_PAGE ? gw_status_page(rq->loop->status, &n)
					 : gw_status_json(rq->loop->status, &n);
	if (!s)
		return fail(rq, 500, "NO_MEMORY", NULL);
	enum MHD_Result r =
		queue(rq, 200,
		      text(s, n,
			   rq->route == GW_R_PAGE ? "text/html; charset=utf-8"
						  : "application/json"));
	free(s);
	return r;
}

/* Body bytes: keep up to one value, remember whether more came (H2),
 * or that it needed a large buffer and none was free (H4). */
static void take_body(struct gw_req *rq, const char *data, size_t n)
{
	if (rq->too_large || rq->busy)
		return;
	if (n > rq->loop->opt->value_bytes_max - rq->body_len) {
		rq->too_large = true;
		return;
	}
	if (n > rq->body_cap - rq->body_len && take_large(rq)) {
		rq->busy = true;
		return;
	}
	memcpy(rq->body + rq->body_len, data, n);
	rq->body_len += n;
}

/* Every call after the first, until the request is answered. */
static enum MHD_Result step(struct gw_req *rq, const char *data, size_t *n)
{
	if (*n) { /* body bytes */
		if (rq->state == GW_RQ_BODY)
			take_body(rq, data, *n);
		*n = 0;
		return MHD_YES;
	}
	switch (rq->state) {
	case GW_RQ_BODY:
		if (rq->too_large)
			return too_large(rq);
		if (rq->busy)
			return no_large(rq);
		if (rq->route == GW_R_READY)
			return ready_submit(rq);
		struct qr_request q;
		kv_request(rq, &q);
		return submit(rq, &q);
	case GW_RQ_DONE:
		return rq->route == GW_R_READY ? ready_answer(rq)
					       : kv_answer(rq);
	default: /* WAIT cannot be called (suspended); ANSWERED: done */
		return MHD_YES;
	}
}

static enum MHD_Result first_call(struct gw_loop *l, struct gw_req *rq,
				  const char *url)
{
	(void)l;
	rq->route = route_of(url);
	if (rq->route == GW_R_KV)
		return kv_begin(rq, url);
	if (rq->method != GW_M_GET && rq->method != GW_M_HEAD)
		return rq->route == GW_R_NOTFOUND
			       ? fail(rq, 404, "NO_ROUTE", "no such path")
			       : fail(rq, 405, "METHOD_NOT_ALLOWED",
				      "only GET and HEAD here");
	switch (rq->route) {
	case GW_R_READY:
		rq->state = GW_RQ_BODY; /* submitted when the request ends */
		return MHD_YES;
	case GW_R_METRICS:
		return metrics_answer(rq);
	case GW_R_REPL:
	case GW_R_PAGE:
		return status_answer(rq);
	default:
		return fail(rq, 404, "NO_ROUTE",
			    "no such path: try /v1/kv/{key}, /status, "
			    "/v1/status/replication, /metrics, /ready");
	}
}

enum MHD_Result gw_http_access(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *data,
			       size_t *data_size, void **ctx)
{
	struct gw_loop *l = cls;
	struct gw_req *rq = *ctx;
	(void)version;
	if (rq) {
		if (rq->state == GW_RQ_ANSWERED) {
			*data_size = 0; /* a body after an early answer */
			return MHD_YES;
		}
		return step(rq, data, data_size);
	}
	rq = gw_req_get(l);
	if (!rq)
		return MHD_NO; /* cannot happen: pool = connection limit */
	*ctx = rq;
	rq->conn = conn;
	rq->start_ns = qr_clock_mono_ns();
	rq->method = gw_method_of(method);
	return first_call(l, rq, url);
}

void gw_http_request_done(void *cls, struct MHD_Connection *conn, void **ctx,
			  enum MHD_RequestTerminationCode toe)
{
	struct gw_req *rq = *ctx;
	(void)conn;
	(void)toe;
	if (rq) {
		gw_req_put(cls, rq);
		*ctx = NULL;
	}
}

/* A GET whose value did not fit the small buffer: asked again with a
 * large one (H4); true when resubmitted (the connection stays
 * suspended), else the result says why not. */
static bool refetch_large(struct gw_req *rq)
{
	struct qr_result *r = &rq->result;
	bool get = rq->kv.op == QR_CLIENT_GET ||
		   rq->kv.op == QR_CLIENT_GET_LINEARIZABLE;
	if (rq->route != GW_R_KV || !get || r->status != QR_ETOOLARGE ||
	    rq->large || r->value_len <= rq->body_cap)
		return false;
	if (take_large(rq)) {
		r->status = QR_EBUSY;
		return false;
	}
	struct qr_request q;
	kv_request(rq, &q);
	int rc = gw_loop_submit(rq->loop, rq, &q);
	if (rc)
		r->status = rc;
	return rc == 0;
}

/* A backend completion: keep the result, resume the connection (G2). */
void gw_http_completed(struct gw_req *rq, const struct qr_completion *c)
{
	rq->result = c->result;
	__atomic_sub_fetch(&rq->loop->waiting, 1, __ATOMIC_RELAXED);
	if (refetch_large(rq))
		return;
	rq->state = GW_RQ_DONE;
	MHD_resume_connection(rq->conn);
}

/* The unescape callback: leave the target raw (H3). */
size_t gw_http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}
