/* SPDX-License-Identifier: MIT */
/*
 * quorate's size limits, shared by the daemon, the protocol core, the
 * client library and the tools. Public: a client needs them to size its
 * buffers, and src/common uses them without depending on src/core.
 *
 * Invariants (each checked by a _Static_assert where it is relied on):
 *  L1. A node id fits a bit of a uint64_t mask: QR_NODES_MAX <= 64.
 *  L2. A replica set fits a uint8_t mask: QR_RF_MAX <= 8.
 *  L3. A request with the longest key and an inline value fits one frame
 *      (src/core/wire.h checks it against the message layout).
 *  L4. Every path the daemon builds (data dir + file name) fits
 *      QR_PATH_BYTES_MAX; a longer one is refused with a named error, never
 *      cut short.
 *  L5. A value's length fits a uint32_t, and a long message (a value of
 *      up to QR_VALUE_BYTES_MAX plus its headers and key) fits the 32-bit
 *      lengths of the fragment layer and of WAL records.
 *  L6. A frame between nodes (peer_frame_bytes, a cluster setting) is
 *      QR_FRAME_BYTES_MAX..QR_FRAME_JUMBO_MAX bytes; its length still fits
 *      the u16 lengths of the wire format. Client frames stay at
 *      QR_FRAME_BYTES_MAX (kernel UDP, the public library).
 */
#ifndef QUORATE_LIMITS_H
#define QUORATE_LIMITS_H

#define QR_NODES_MAX	   64	       /* node ids 0..63 (L1) */
#define QR_RF_MAX	   7	       /* replicas per partition (L2) */
#define QR_PARTITIONS_MAX  (1u << 20)  /* partitions per cluster */
#define QR_SHARDS_MAX	   128	       /* shard cores per node */
#define QR_FRAME_BYTES_MAX 1472	       /* UDP payload in a 1500 B MTU: every
					* client frame, and node-to-node
					* frames unless peer_frame_bytes */
#define QR_FRAME_JUMBO_MAX 8972	       /* peer_frame_bytes' ceiling: the UDP
					* payload in a 9000 B MTU (L6) */
#define QR_KEY_BYTES_MAX   255	       /* keys: 1..255 bytes */
#define QR_VALUE_INLINE_MAX 1024	       /* a value that fits one frame with
					* the longest key (L3); longer ones
					* travel as fragments (issue 15) */
#define QR_VALUE_BYTES_DEFAULT (1u << 20) /* value_bytes_max's default */
#define QR_VALUE_BYTES_MAX (8u << 20)	  /* value_bytes_max's ceiling (L5) */
#define QR_PATH_BYTES_MAX  4096	       /* file paths, NUL included (L4) */

#endif
