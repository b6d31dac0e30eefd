/* SPDX-License-Identifier: MIT */
/*
 * Placement: key -> partition (CRC32C, P a power of two), partition ->
 * replica set (rendezvous hashing over node ids, RF of them, spread over as
 * many zones as there are, highest score first), partition -> shard core
 * (p % shards). Every node and client computes the same answer from (P,
 * nodes, RF, shards, each node's zone). The replica table is computed once
 * at init, so lookups on the data path are a load.
 */
#ifndef QR_CORE_PLACEMENT_H
#define QR_CORE_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/crc32c.h"
#include "quorate/limits.h" /* QR_NODES_MAX, QR_RF_MAX, ... */

struct qr_placement {
	uint32_t partitions; /* power of two */
	uint16_t nodes;      /* node ids < nodes (the highest member + 1) */
	uint64_t members;    /* bit n: node n takes part (all of 0..nodes-1
			      * unless built by qr_placement_init_members) */
	uint16_t rf;         /* replicas per partition, 1..min(7, nodes) */
	uint16_t shards;     /* shard cores per node */
	uint8_t zones;	     /* distinct zones, 1..nodes */
	uint8_t zone[QR_NODES_MAX]; /* zone index of each node, < zones */
	uint8_t *replicas;   /* partitions * rf node ids, owned */
};

/* Control path: allocates the table. 0 or QR_EINVAL / QR_ENOMEM. */
int qr_placement_init(struct qr_placement *p, uint32_t partitions,
		      uint16_t nodes, uint16_t rf, uint16_t shards);
/* The same with zones: zone[n] is node n's zone index (< 64; NULL:
 * every node in zone 0). A replica set holds one node of each of
 * min(rf, zones) zones before it holds two of any (placement.c Z1). */
int qr_placement_init_zoned(struct qr_placement *p, uint32_t partitions,
			    uint16_t nodes, uint16_t rf, uint16_t shards,
			    const uint8_t *zone);
/* The same over any set of node ids (bit n of members: node n takes
 * part; ids need not be contiguous: a membership after removals, see
 * membership.h). zone is indexed by node id. */
int qr_placement_init_members(struct qr_placement *p, uint32_t partitions,
			      uint64_t members, uint16_t rf, uint16_t shards,
			      const uint8_t *zone);
struct qr_cluster;
/* From a loaded cluster file (its nodes' zones included): what the daemon
 * and the client both call, so they cannot place differently. */
int qr_placement_init_cluster(struct qr_placement *p,
			      const struct qr_cluster *cl);
void qr_placement_fini(struct qr_placement *p);

/* The rendezvous score of (partition, node); exposed for tests. */
uint64_t qr_placement_score(uint32_t partition, uint16_t node);

static inline uint32_t qr_placement_partition(const struct qr_placement *p,
					      const void *key, size_t key_len)
{
	return qr_crc32c(0, key, key_len) & (p->partitions - 1);
}

/* rf node ids, highest rendezvous score first. */
static inline const uint8_t *
qr_placement_replicas(const struct qr_placement *p, uint32_t partition)
{
	return p->replicas + (size_t)partition * p->rf;
}

static inline uint16_t qr_placement_shard(const struct qr_placement *p,
					  uint32_t partition)
{
	return (uint16_t)(partition % p->shards);
}

/* Index of node in the partition's replica set, or -1. */
int qr_placement_replica_index(const struct qr_placement *p,
			       uint32_t partition, uint16_t node);

#endif
