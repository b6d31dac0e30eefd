/* SPDX-License-Identifier: MIT */
/*
 * `quorate ring [KEY]`: who owns what, computed from the cluster file
 * exactly as nodes and clients place data (qr_placement_init_cluster).
 * With a key: its partition, shard and replica nodes (zone, address),
 * coordinator order first. Without: per node, the partitions it holds a
 * replica of and is first for, whether it is one of the file's members
 * (the others are slots), and the zones. Text, or JSON with --json. The
 * nodes' own topology (after `quorate node`) is `quorate node sync`'s.
 */
#ifndef QR_CLI_RING_H
#define QR_CLI_RING_H

#include <stdbool.h>
#include <stddef.h>

/* 0, or a message in err (the cluster file does not load, or the key is
 * empty or over 255 bytes) and non-zero. */
int qr_cli_ring(const char *cluster_file, const char *key, bool json,
		char *err, size_t err_len);

#endif
