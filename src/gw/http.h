/* SPDX-License-Identifier: MIT */
/*
 * The libmicrohttpd callbacks of quorate-gw's HTTP layer (http.c); loop.c
 * installs them on each loop's daemon with the loop as their closure.
 * Invariants: see http.c (H1..H3) and gw.h (G1..G3).
 */
#ifndef QR_GW_HTTP_H
#define QR_GW_HTTP_H

#include <microhttpd.h>

enum MHD_Result gw_http_access(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *data,
			       size_t *data_size, void **ctx);
void gw_http_request_done(void *cls, struct MHD_Connection *conn, void **ctx,
			  enum MHD_RequestTerminationCode toe);
size_t gw_http_unescape(void *cls, struct MHD_Connection *c, char *s);

#endif
