/* SPDX-License-Identifier: MIT */
/*
 * quorate/client.h for code that also includes core/wire.h.
 *
 * The public request kinds (enum qr_op, QR_OP_PUT...) and the wire's op
 * codes (core/wire.h: enum qr_op, QR_OP_GET = 1, QR_OP_PUT = 2...) share
 * their names but not their values. Users of libquorate see only the
 * public ones; the library itself, its tests and quorate-bench need both,
 * so here the public ones are spelled enum qr_api_op / QR_API_*. Same
 * values, same ABI (an enum is an int to the caller).
 *
 * Invariant: include this instead of quorate/client.h in any file that
 * also includes core/wire.h (in any order); never both headers.
 */
#ifndef QR_CLIENT_API_H
#define QR_CLIENT_API_H

#ifdef QUORATE_CLIENT_H
#error "client/api.h must be included instead of quorate/client.h"
#endif

#define qr_op			qr_api_op
#define QR_OP_PUT		QR_API_PUT
#define QR_OP_GET		QR_API_GET
#define QR_OP_DEL		QR_API_DEL
#define QR_OP_GET_LINEARIZABLE	QR_API_GET_LINEARIZABLE
#define QR_OP_PUT_IF_ABSENT	QR_API_PUT_IF_ABSENT
#define QR_OP_PUT_IF_VERSION	QR_API_PUT_IF_VERSION
#define QR_OP_DEL_IF_VERSION	QR_API_DEL_IF_VERSION
#include "quorate/client.h"
#undef qr_op
#undef QR_OP_PUT
#undef QR_OP_GET
#undef QR_OP_DEL
#undef QR_OP_GET_LINEARIZABLE
#undef QR_OP_PUT_IF_ABSENT
#undef QR_OP_PUT_IF_VERSION
#undef QR_OP_DEL_IF_VERSION

#endif
