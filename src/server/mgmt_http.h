/* SPDX-License-Identifier: MIT */
/*
 * The node's HTTP endpoint for operators' tools, off the data path:
 *   GET /metrics  Prometheus text format (mgmt_stats.h, metrics.c)
 *   GET /ready    200 {"ready":true,...} or 503 with the JSON reason
 *                 (readiness as mgmt_stats.h defines it)
 * anything else is 404 (unknown path) or 405 (another method), with a
 * small JSON body. Served by libmicrohttpd's own thread (epoll, at most
 * QR_MGMT_HTTP_CONNS connections, each closed after
 * QR_MGMT_HTTP_TIMEOUT_S idle), listening on metrics_listen (cluster.h),
 * loopback by default: /metrics says how busy the node is and is not
 * authenticated, so widen it only on a trusted network.
 */
#ifndef QR_SERVER_MGMT_HTTP_H
#define QR_SERVER_MGMT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "server/mgmt.h"

#define QR_MGMT_HTTP_CONNS     16
#define QR_MGMT_HTTP_TIMEOUT_S 5
#define QR_MGMT_HTTP_BODY_MAX  (512 * 1024) /* one /metrics answer */

struct qr_mgmt_http;

/* Listen on ip:port (network-order IPv4) and serve cfg's node. 0, or
 * QR_ECONFIG with a message naming the address and the reason. cfg must
 * outlive the endpoint. */
int qr_mgmt_http_start(const struct qr_mgmt_config *cfg, uint64_t since_us,
		       uint32_t ip, uint16_t port, struct qr_mgmt_http **out,
		       char *err, size_t err_len);
/* Stop the thread, close every connection, free. NULL is a no-op. */
void qr_mgmt_http_stop(struct qr_mgmt_http *h);

#endif
