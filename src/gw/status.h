/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's view of the cluster's replication: a thread asks every
 * node's management socket (`stat replication`, the data behind
 * `quorate stat replication`) every interval and keeps the answers; the
 * HTTP loops render them as JSON (/v1/status/replication) or as the HTML
 * status page (/status) without waiting on a node.
 *
 * Invariants: S1. The loops never touch a socket for this: they read the
 * cache under its mutex. S2. A node that does not answer within
 * STATUS_DEADLINE_MS is shown unreachable with the reason, never dropped
 * or shown with old numbers. S3. Management sockets are unix sockets: the
 * gateway sees the nodes whose socket paths are on its own host (as the
 * CLI does); the others show as unreachable.
 */
#ifndef QR_GW_STATUS_H
#define QR_GW_STATUS_H

#include <stddef.h>

struct qr_cluster;
struct gw_status;

/* Starts the poller thread (first poll done before it returns). */
struct gw_status *gw_status_start(const struct qr_cluster *c,
				  unsigned interval_ms);
void gw_status_stop(struct gw_status *s);

/* malloc'd text and its length, or NULL (out of memory). */
char *gw_status_json(struct gw_status *s, size_t *len);
char *gw_status_page(struct gw_status *s, size_t *len);

/* page.c: the HTML of a status JSON object (jansson json_t *). */
struct json_t;
char *gw_page_render(const struct json_t *st, size_t *len);

#endif
