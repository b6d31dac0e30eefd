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

#include "common/compiler.h"

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
	return out->status;
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
