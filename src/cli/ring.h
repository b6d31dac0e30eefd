/* SPDX-License-Identifier: MIT */
/*
 * `quorate ring [KEY]`: who owns what, computed exactly as nodes and
 * clients place data (qr_placement_init_cluster), over the members the
 * nodes hold: every slot's management socket is asked its `topology`
 * (topo_ctl.c) and the highest epoch is shown; with no node answering,
 * the cluster file's members. With a key: its partition, shard and
 * replica nodes (zone, address), coordinator order first, and during a
 * change the replicas after it. Without: the epoch and the change in
 * progress, then per node the partitions it holds a replica of and is
 * first for (and holds after the change), whether it is a member, and
 * whether it runs, its epoch and, for a node that gains partitions, the
 * stream's progress (a bar in a terminal). Text, or JSON with --json.
 */
#ifndef QR_CLI_RING_H
#define QR_CLI_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qr_cluster;

/* 0, or a message in err (the cluster file does not load, or the key is
 * empty or over 255 bytes) and non-zero. */
int qr_cli_ring(const char *cluster_file, const char *key, bool json,
		char *err, size_t err_len);

/* What a change from members `from` to `to` moves (`quorate node plan`):
 * per node the partitions it holds a replica of before and after, what
 * it gains and loses, and the replicas that move in all, on stdout. 0, or
 * a message in err. */
int qr_cli_ring_moves(const struct qr_cluster *cl, uint64_t from, uint64_t to,
		      char *err, size_t err_len);

#endif
