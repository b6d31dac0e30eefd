/* SPDX-License-Identifier: MIT */
/*
 * quorate error codes: one enum for every layer (core, wire, store, WAL,
 * client). Values are negative, stable, and travel on the wire as the status
 * of a client reply, so never renumber one: append new codes at the end.
 */
#ifndef QUORATE_ERR_H
#define QUORATE_ERR_H

/* X(name, value, text) */
#define QR_ERR_LIST(X)                                                         \
	X(OK, 0, "OK")                                                         \
	X(ENOTFOUND, -1, "NOT_FOUND")                                          \
	X(EUNAVAILABLE, -2, "UNAVAILABLE")                                     \
	X(ETIMEOUT, -3, "TIMEOUT")                                             \
	X(EPRECONDITION, -4, "PRECONDITION_FAILED")                            \
	X(ETOOLARGE, -5, "TOO_LARGE")                                          \
	X(EMALFORMED, -6, "MALFORMED")                                         \
	X(ESTALE, -7, "STALE")                                                 \
	X(EINVAL, -8, "INVALID_ARGUMENT")                                      \
	X(ENOMEM, -9, "NO_MEMORY")                                             \
	X(ENOSPC, -10, "NO_SPACE")                                             \
	X(EBUSY, -11, "BUSY")                                                  \
	X(EIO, -12, "IO_ERROR")                                                \
	X(ECORRUPT, -13, "CORRUPT")                                            \
	X(ECLOCK, -14, "CLOCK_AHEAD")                                          \
	X(EWIRE_SHORT, -15, "WIRE_SHORT")                                      \
	X(EWIRE_MAGIC, -16, "WIRE_BAD_MAGIC")                                  \
	X(EWIRE_VERSION, -17, "WIRE_BAD_VERSION")                              \
	X(EWIRE_CLUSTER, -18, "WIRE_WRONG_CLUSTER")                            \
	X(EWIRE_TYPE, -19, "WIRE_UNKNOWN_TYPE")                                \
	X(EWIRE_LENGTH, -20, "WIRE_BAD_LENGTH")                                \
	X(EWIRE_FIELD, -21, "WIRE_BAD_FIELD")                                  \
	X(EWIRE_COUNT, -22, "WIRE_BAD_COUNT")                                  \
	X(EFULL, -23, "FULL")                                                  \
	X(ECONFIG, -24, "CONFIG")                                              \
	X(EWRONG_SHARD, -25, "WRONG_SHARD")                                    \
	X(ENODE, -26, "BAD_NODE")                                              \
	X(EDATADIR, -27, "DATA_DIR_MISMATCH")

enum qr_err {
#define QR_ERR_ENUM(name, value, text) QR_##name = (value),
	QR_ERR_LIST(QR_ERR_ENUM)
#undef QR_ERR_ENUM
		QR_ERR_MIN =
			QR_EDATADIR, /* most negative code; keep last-in-list */
};

/* Stable upper-case name of a code ("UNAVAILABLE"); "UNKNOWN_ERROR" else. */
const char *qr_strerror(int err);

#endif
