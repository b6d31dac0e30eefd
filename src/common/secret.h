/* SPDX-License-Identifier: MIT */
/*
 * The cluster secret: the master keys that node-to-node frames are
 * authenticated with (src/core/auth.c derives one key per key id, shard,
 * sending node and receiving node from them). A text file, mode 0600, named
 * by `secret_file` in the cluster file; tools/cluster writes one:
 *
 *   # quorate cluster secret: <key id> <32-byte key in hex>, one a line
 *   1 6f1c...(64 hex digits)
 *   2 0a9b...               ; optional second key, accepted too
 *
 * The first key signs what a node sends; every key listed (at most two) is
 * accepted, so a key roll needs no downtime (docs/operations.md, "Rotating
 * the cluster secret"). Key ids are 1..65535 and distinct.
 *
 * Invariants: a loaded secret has 1..QR_SECRET_KEYS_MAX keys with distinct
 * non-zero ids; a file readable or writable by group or others, or not a
 * regular file, loads nothing.
 */
#ifndef QR_COMMON_SECRET_H
#define QR_COMMON_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define QR_SECRET_KEYS_MAX 2
#define QR_SECRET_KEY_BYTES 32

struct qr_secret {
	uint8_t count;			/* keys loaded, 1..KEYS_MAX */
	uint16_t id[QR_SECRET_KEYS_MAX]; /* id[0]: the key we send with */
	uint8_t key[QR_SECRET_KEYS_MAX][QR_SECRET_KEY_BYTES];
};

/* 0, or QR_ECONFIG with a message naming the file and the problem. */
int qr_secret_load(const char *path, struct qr_secret *out, char *err,
		   size_t err_len);

/* A fixed, public secret for the simulator, unit tests and benchmarks
 * (key id 1). Never for a real cluster. */
void qr_secret_for_tests(struct qr_secret *out);

/* Overwrite a secret's keys (before freeing the memory holding it). */
void qr_secret_wipe(struct qr_secret *s);

#endif
