/* SPDX-License-Identifier: MIT */
/*
 * A node's installed topology on disk: <data_dir>/topology (issue 14;
 * docs/topology.md, "The topology file"). A small text file:
 *
 *   # quorate topology: written by quorated (docs/topology.md)
 *   epoch = 5
 *   owners = 0x7
 *   pending = 0xf
 *   streaming = 1
 *   crc32c = 0x8c1d22a0
 *
 * Invariants:
 *  F1. A file is taken only if it is exactly the canonical text of its
 *      values (the order and spelling above) with a CRC32C of every byte
 *      before the crc32c line: anything else is CORRUPT, named with the
 *      path, and nothing is loaded.
 *  F2. A save is durable before it returns 0: a temporary file written,
 *      fsynced, renamed over the old one, and the directory fsynced; a
 *      crash leaves the old file or the new one, never a mix.
 *  F3. A valid topology (qr_topo_state_check) has 1 <= epoch <=
 *      QR_TOPO_EPOCH_MAX, owners a
 *      set of at least rf node slots, pending none or such a set other
 *      than owners, and streaming only with pending.
 * No DPDK: the daemon reads it, and unit tests do.
 */
#ifndef QR_COMMON_TOPO_FILE_H
#define QR_COMMON_TOPO_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_TOPO_FILE_NAME "topology"
#define QR_TOPO_EPOCH_MAX (1ull << 48) /* F3: far from any wrap */

struct qr_topo_state {
	uint64_t epoch;	  /* grows with every step of every change */
	uint64_t owners;  /* bit n: node n owns partitions now */
	uint64_t pending; /* 0, or the members a change moves to */
	bool streaming;	  /* the change's stream has begun (step 2) */
};

/* A small file of ours in dir (the topology, the membership register):
 * its body with a last line "crc32c = 0x%08x" over every byte before it,
 * saved as F2 says. Load: 0 with the body (NUL-terminated) and its
 * length; QR_ENOTFOUND (err empty); QR_ECORRUPT (too long for cap, no or
 * a bad CRC line) or QR_EIO with the path in err. */
int qr_small_file_load(const char *dir, const char *name, char *body,
		       size_t cap, size_t *len, char *err, size_t err_len);
/* Save: 0, or QR_EIO / QR_ECONFIG with the path and errno in err. */
int qr_small_file_save(const char *dir, const char *name, const char *body,
		       size_t len, char *err, size_t err_len);

/* Load <dir>/topology: 0; QR_ENOTFOUND if there is none (err empty);
 * QR_ECORRUPT or QR_EIO with a message naming the file in err (F1). */
int qr_topo_file_load(const char *dir, struct qr_topo_state *t, char *err,
		      size_t err_len);
/* Save it (F2): 0, or QR_EIO / QR_ECONFIG with the file and errno in err. */
int qr_topo_file_save(const char *dir, const struct qr_topo_state *t,
		      char *err, size_t err_len);
/* F3 for a cluster of `slots` node slots at replication factor rf: 0, or
 * QR_EINVAL with what is wrong in err. */
int qr_topo_state_check(const struct qr_topo_state *t, uint16_t slots,
			uint16_t rf, char *err, size_t err_len);

#endif
