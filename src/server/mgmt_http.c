/* SPDX-License-Identifier: MIT */
/*
 * The node's HTTP endpoint (see mgmt_http.h), on libmicrohttpd: a
 * maintained, Debian-packaged HTTP/1.1 server library (docs/operations.md
 * says why it was chosen). Each answer is rendered whole into a buffer that
 * libmicrohttpd frees once sent; only GET and HEAD are served, and request
 * bodies are never read.
 */
#include "server/mgmt_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common/prom.h"
#include "quorate/err.h"
#include "server/mgmt_stats.h"

struct qr_mgmt_http {
	const struct qr_mgmt_config *cfg;
	uint64_t since_us;
	struct MHD_Daemon *d;
};

static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status,
				 const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A small JSON error body {"error":"..."}; the text is ours (no escaping
 * needed: fixed strings). */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
				  const char *what)
{
	char *b = malloc(128);
	if (!b)
		return MHD_NO;
	int n = snprintf(b, 128, "{\"error\":\"%s\"}\n", what);
	return send_body(conn, status, "application/json", b, (size_t)n);
}

static enum MHD_Result serve_metrics(struct qr_mgmt_http *h,
				     struct MHD_Connection *conn)
{
	char *b = malloc(QR_MGMT_HTTP_BODY_MAX);
	if (!b)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory");
	long n = qr_mgmt_metrics(h->cfg, h->since_us, b, QR_MGMT_HTTP_BODY_MAX);
	if (n < 0) {
		free(b);
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  n == QR_ENOSPC ? "metrics too large"
						 : "metrics failed");
	}
	return send_body(conn, MHD_HTTP_OK, QR_PROM_CONTENT_TYPE, b, (size_t)n);
}

static enum MHD_Result serve_ready(struct qr_mgmt_http *h,
				   struct MHD_Connection *conn)
{
	size_t cap = 1024;
	char *b = malloc(cap);
	if (!b)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory");
	bool ready = false;
	size_t n = qr_mgmt_ready_json(h->cfg, h->since_us, b, cap, &ready);
	if (!n) {
		free(b);
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "ready failed");
	}
	return send_body(conn,
			 ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			 "application/json", b, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	struct qr_mgmt_http *h = cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, conn);
	if (!strcmp(url, "/ready"))
		return serve_ready(h, conn);
	return send_error(conn, MHD_HTTP_NOT_FOUND,
			  "unknown path: /metrics and /ready are served");
}

int qr_mgmt_http_start(const struct qr_mgmt_config *cfg, uint64_t since_us,
		       uint32_t ip, uint16_t port, struct qr_mgmt_http **out,
		       char *err, size_t err_len)
{
	char addr[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	struct qr_mgmt_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, err_len, "metrics %s:%u: out of memory", addr,
			 port);
		return QR_ENOMEM;
	}
	h->cfg = cfg;
	h->since_us = since_us;
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = ip,
	};
	errno = 0;
	h->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			MHD_USE_ERROR_LOG,
		port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)QR_MGMT_HTTP_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)QR_MGMT_HTTP_TIMEOUT_S,
		MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, err_len,
			 "metrics_listen %s:%u: cannot listen (%s); set "
			 "metrics_listen or metrics_port in the cluster file, "
			 "or --metrics-listen",
			 addr, port, errno ? strerror(errno) : "libmicrohttpd");
		free(h);
		return QR_ECONFIG;
	}
	*out = h;
	return 0;
}

void qr_mgmt_http_stop(struct qr_mgmt_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
