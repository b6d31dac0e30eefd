/* SPDX-License-Identifier: MIT */
/*
 * libquorate's synchronous calls: each is qr_client_submit() of one
 * request and qr_client_poll() until its completion, on the handle's own
 * engine (client_req.c), so both kinds of call share one retry schedule,
 * one deadline rule and one reply check.
 *
 * Invariant: a synchronous call runs only on an idle handle (nothing
 * submitted and not yet handed back by poll): otherwise it returns
 * QR_EBUSY at once and touches nothing, so an asynchronous caller's
 * completions are never consumed by it. The one completion it polls for
 * is therefore its own.
 */
#include "client/client_pvt.h"

#include <stddef.h>
#include <string.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/le.h"

static void refresh_if_stale(struct qr_client *c);

static int request(struct qr_client *c, const struct qr_request *rq,
		   struct qr_result *out)
{
	struct qr_result scratch;
	if (!out)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	out->coordinator = 0xffff;
	if (!c)
		return out->status = QR_EINVAL;
	if (c->used)
		return out->status = QR_EBUSY;
	int rc = qr_client_submit(c, rq);
	if (rc)
		return out->status = rc;
	struct qr_completion one;
	do
		rc = qr_client_poll(c, &one, 1, -1);
	while (rc == 0 && c->used);
	if (rc < 0) {
		/* QR_EIO: the socket failed; drop the request so that the
		 * handle is idle again. */
		qr_cl_drop_all(c);
		return out->status = rc;
	}
	QR_ASSERT(rc == 1); /* ours: the handle was idle before submit */
	*out = one.result;
	refresh_if_stale(c);
	return out->status;
}

int qr_client_refresh(struct qr_client *c)
{
	if (!c)
		return QR_EINVAL;
	uint8_t v[QR_TOPOLOGY_VALUE_BYTES];
	struct qr_req_opts o = {.consistency = QR_CONSISTENCY_ONE};
	struct qr_request rq = {
		.op = QR_CLIENT_TOPOLOGY,
		.key = "topology", /* routes it; the node does not read it */
		.key_len = 8,
		.opts = &o,
		.buf = v,
		.buf_cap = sizeof(v),
	};
	struct qr_result r;
	c->refreshing = true;
	int rc = request(c, &rq, &r);
	c->refreshing = false;
	if (rc)
		return rc;
	if (r.value_len != sizeof(v))
		return QR_EMALFORMED;
	return qr_cl_topology_install(c, qr_ld64(v), qr_ld64(v + 8));
}

/* After a call whose replies said a node holds a newer epoch: refresh
 * once (not from within a refresh), then not again for a second. */
int qr_client_refresh_if_stale(struct qr_client *c)
{
	if (!c || !c->epoch_newer || c->refreshing || c->used)
		return 0;
	uint64_t now = qr_clock_mono_ns();
	if (now < c->refresh_after_ns)
		return 0;
	c->refresh_after_ns = now + 1000000000ull;
	(void)qr_client_refresh(c); /* failing: the old placement still
				     * routes (its nodes coordinate) */
	return 1;
}

static void refresh_if_stale(struct qr_client *c)
{
	(void)qr_client_refresh_if_stale(c);
}

int qr_client_put(struct qr_client *c, const void *key, size_t key_len,
		  const void *value, size_t value_len,
		  const struct qr_req_opts *o, struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_PUT, key, key_len, value, value_len,
				0, 0, o, NULL};
	return request(c, &rq, out);
}

int qr_client_get(struct qr_client *c, const void *key, size_t key_len,
		  void *buf, size_t cap, const struct qr_req_opts *o,
		  struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_GET, key, key_len, NULL, 0, 0, 0, o,
				NULL, buf, cap};
	return request(c, &rq, out);
}

int qr_client_del(struct qr_client *c, const void *key, size_t key_len,
		  const struct qr_req_opts *o, struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_DEL, key, key_len, NULL, 0, 0, 0, o,
				NULL};
	return request(c, &rq, out);
}

int qr_client_get_linearizable(struct qr_client *c, const void *key,
			       size_t key_len, void *buf, size_t cap,
			       const struct qr_req_opts *o,
			       struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_GET_LINEARIZABLE,
				key,
				key_len,
				NULL,
				0,
				0,
				0,
				o,
				NULL,
				buf,
				cap};
	return request(c, &rq, out);
}

int qr_client_put_if_absent(struct qr_client *c, const void *key,
			    size_t key_len, const void *value, size_t value_len,
			    const struct qr_req_opts *o, struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_PUT_IF_ABSENT, key, key_len, value,
				value_len, 0, 0, o, NULL};
	return request(c, &rq, out);
}

int qr_client_put_if_version(struct qr_client *c, const void *key,
			     size_t key_len, const void *value,
			     size_t value_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o, struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_PUT_IF_VERSION, key, key_len, value,
				value_len, hlc, node, o, NULL};
	return request(c, &rq, out);
}

int qr_client_del_if_version(struct qr_client *c, const void *key,
			     size_t key_len, uint64_t hlc, uint16_t node,
			     const struct qr_req_opts *o, struct qr_result *out)
{
	struct qr_request rq = {QR_CLIENT_DEL_IF_VERSION, key, key_len, NULL, 0,
				hlc, node, o, NULL};
	return request(c, &rq, out);
}
