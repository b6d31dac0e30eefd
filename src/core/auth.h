/* SPDX-License-Identifier: MIT */
/*
 * Authenticated frames between nodes (docs/protocol.md, "Frame
 * authentication"; docs/operations.md, "Threat model").
 *
 * With auth = mac every frame a node sends to a peer ends in a 32-byte
 * trailer, after the last message:
 *
 *   offset 0  key_id      u16  which cluster key (secret.h) signed it
 *   offset 2  reserved    u16  0
 *   offset 4  incarnation u32  the sender's, unique per start
 *   offset 8  seq         u64  1, 2, 3, ... per (sender shard, receiver)
 *   offset 16 tag         16 B AES-256-GCM tag, the frame header, every
 *                              message and bytes 0..15 of the trailer as
 *                              associated data, nothing encrypted (GMAC);
 *                              nonce = incarnation | seq
 *
 * Keys: libsodium crypto_kdf (BLAKE2b) from each cluster key, first to a
 * key for the cluster id, then to one key per (shard, sender, receiver):
 * a direction's key is never used by anyone else, so (key, nonce) pairs are
 * unique as long as the sender's incarnation is (quorated keeps it strictly
 * increasing across starts, in the data directory).
 *
 * Why GMAC: the cheapest MAC measured (perf/mac-bench, perf/README.md):
 * 53 ns for a 64 B frame, 307 ns for a full one, 2.5-7.5x less than
 * Poly1305 (per-frame key) and keyed BLAKE2b. It needs AES-NI (x86-64): without it auth = mac
 * refuses to start (QR_ECONFIG) rather than fall back silently.
 */
#ifndef QR_CORE_AUTH_H
#define QR_CORE_AUTH_H

#include <stdint.h>

#define QR_AUTH_TRAILER_BYTES 32
#define QR_AUTH_TAG_BYTES 16

enum qr_auth_mode {
	QR_AUTH_MAC = 0,  /* default: every peer frame carries a MAC */
	QR_AUTH_NONE = 1, /* trusted network only: no trailer, no check */
};

#endif
