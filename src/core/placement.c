/* SPDX-License-Identifier: MIT */
/*
 * Placement: partition -> replica set by rendezvous (highest-random-weight)
 * hashing, Thaler & Ravishankar, "Using Name-Based Mappings to Increase Hit
 * Rates" (IEEE/ACM ToN, 1998). Each (partition, node) pair gets a score; a
 * partition's replicas are the rf nodes with the highest scores, highest
 * first, ties broken by the lower node id.
 *
 * PROTOCOL: qr_placement_score() is part of the wire protocol. Every node and
 * every client must compute the same replica sets from (P, nodes, rf), so the
 * score function, its constants and the tie-break must never change; the
 * pinned vectors in tests/unit/test_placement.c fail if they do.
 *
 * Zones: nodes ranked by score, a partition takes the best node of each
 * zone in rank order until it has rf replicas or every zone is used, then
 * the best of the rest; the chosen set is kept in score order. With one
 * zone this is plain rendezvous hashing (the pinned vectors hold).
 *
 * Invariants:
 *  - each replica set holds rf distinct node ids < nodes, by score descending;
 *  Z1. a replica set spans min(rf, zones) zones: no zone holds two replicas
 *      of a partition while another zone holds none of it;
 *  - adding node n to nodes 0..n-1 changes each partition's replica set by at
 *    most one member (the new node displaces the old last one), which is what
 *    rendezvous hashing buys over "hash mod nodes"; with zones, adding a
 *    node changes a set by at most one member too (it displaces its zone's
 *    pick or the last of the rest), measured by perf/placement-moves.
 * Cost: init computes partitions * nodes scores (64 M at the limits, a fraction
 * of a second, control path only); lookups are a load.
 */
#include "core/placement.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/cluster.h"
#include "common/compiler.h"
#include "quorate/err.h"

_Static_assert(QR_NODES_MAX - 1 <= UINT8_MAX, "node ids are stored as uint8_t");
_Static_assert(QR_NODES_MAX <= (1 << 16), "node ids take 16 bits of the key");
_Static_assert(QR_PARTITIONS_MAX <= (UINT64_C(1) << 48),
	       "partition ids take 48 bits of the key");
_Static_assert(QR_IS_POW2(QR_PARTITIONS_MAX), "partitions are a power of two");

/*
 * splitmix64's output function (Steele, Lea & Flood, "Fast Splittable
 * Pseudorandom Number Generators", OOPSLA 2014; constants from Vigna's
 * reference code) over the unique key partition << 16 | node. The finalizer
 * is a bijection on 64 bits, so two nodes never tie for one partition; the
 * tie-break is defined all the same. Frozen: see the file comment. The
 * constants are written out here, not taken from common/rng.h, so a change
 * there cannot move data between nodes.
 */
uint64_t qr_placement_score(uint32_t partition, uint16_t node)
{
	uint64_t z = ((uint64_t)partition << 16 | node) + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* a ranks before b: higher score, or equal score and lower node id. */
static inline int ranks_before(uint64_t sa, uint16_t a, uint64_t sb, uint16_t b)
{
	return sa > sb || (sa == sb && a < b);
}

/* Every node of the partition, by rank (insertion sort: nodes <= 64,
 * control path only). */
static unsigned rank_nodes(uint32_t partition, uint16_t nodes, uint64_t members,
			   uint16_t *order, uint64_t *score)
{
	unsigned ranked = 0;
	for (uint16_t node = 0; node < nodes; node++) {
		if (!(members >> node & 1))
			continue;
		uint64_t s = qr_placement_score(partition, node);
		unsigned i = ranked++;
		while (i > 0 && ranks_before(s, node, score[i - 1], order[i - 1])) {
			score[i] = score[i - 1];
			order[i] = order[i - 1];
			i--;
		}
		score[i] = s;
		order[i] = node;
	}
	return ranked;
}

/* One partition's replica set (Z1): one per zone in rank order, then the
 * best of the rest; written in rank order. */
static void place_partition(uint32_t partition, const struct qr_placement *p,
			    uint8_t *out)
{
	uint16_t order[QR_NODES_MAX];
	uint64_t score[QR_NODES_MAX];
	bool taken[QR_NODES_MAX] = {false}, zone_used[QR_NODES_MAX] = {false};
	unsigned n = 0;

	unsigned ranked = rank_nodes(partition, p->nodes, p->members, order,
				     score);
	for (unsigned i = 0; i < ranked && n < p->rf; i++) {
		uint8_t z = p->zone[order[i]];
		if (!zone_used[z]) {
			zone_used[z] = true;
			taken[i] = true;
			n++;
		}
	}
	for (unsigned i = 0; i < ranked && n < p->rf; i++)
		if (!taken[i]) {
			taken[i] = true;
			n++;
		}
	QR_ASSERT(n == p->rf);
	n = 0;
	for (unsigned i = 0; i < ranked; i++)
		if (taken[i])
			out[n++] = (uint8_t)order[i];
}

int qr_placement_init(struct qr_placement *p, uint32_t partitions,
		      uint16_t nodes, uint16_t rf, uint16_t shards)
{
	return qr_placement_init_zoned(p, partitions, nodes, rf, shards, NULL);
}

int qr_placement_init_zoned(struct qr_placement *p, uint32_t partitions,
			    uint16_t nodes, uint16_t rf, uint16_t shards,
			    const uint8_t *zone)
{
	if (nodes < 1 || nodes > QR_NODES_MAX) {
		if (p)
			*p = (struct qr_placement){0};
		return QR_EINVAL;
	}
	uint64_t all = nodes == 64 ? ~0ull : (1ull << nodes) - 1;
	return qr_placement_init_members(p, partitions, all, rf, shards, zone);
}

int qr_placement_init_members(struct qr_placement *p, uint32_t partitions,
			      uint64_t members, uint16_t rf, uint16_t shards,
			      const uint8_t *zone)
{
	if (!p)
		return QR_EINVAL;
	uint16_t nodes = members ? (uint16_t)(64 - __builtin_clzll(members))
				 : 0;
	*p = (struct qr_placement){0};
	if (!QR_IS_POW2(partitions) || partitions > QR_PARTITIONS_MAX)
		return QR_EINVAL;
	if (nodes < 1 || nodes > QR_NODES_MAX)
		return QR_EINVAL;
	if (rf < 1 || rf > QR_MIN(QR_RF_MAX, __builtin_popcountll(members)))
		return QR_EINVAL;
	if (shards < 1 || shards > QR_SHARDS_MAX)
		return QR_EINVAL;
	bool seen[QR_NODES_MAX] = {false};
	for (uint16_t n = 0; n < nodes; n++) {
		if (!(members >> n & 1))
			continue;
		uint8_t z = zone ? zone[n] : 0;
		if (z >= QR_NODES_MAX) {
			*p = (struct qr_placement){0};
			return QR_EINVAL;
		}
		p->zone[n] = z;
		p->zones += !seen[z];
		seen[z] = true;
	}
	p->partitions = partitions;
	p->members = members;
	p->nodes = nodes;
	p->rf = rf;
	p->shards = shards;

	uint8_t *table = malloc((size_t)partitions * rf);
	if (!table) {
		*p = (struct qr_placement){0};
		return QR_ENOMEM;
	}
	for (uint32_t part = 0; part < partitions; part++)
		place_partition(part, p, table + (size_t)part * rf);
	p->replicas = table;
	return 0;
}

int qr_placement_init_cluster(struct qr_placement *p,
			      const struct qr_cluster *cl)
{
	uint8_t zone[QR_NODES_MAX];
	if (!cl || cl->nodes > QR_NODES_MAX)
		return QR_EINVAL;
	for (uint16_t n = 0; n < cl->nodes; n++)
		zone[n] = cl->node[n].zone_idx;
	/* The initial members (every node unless `members` says) */
	return qr_placement_init_members(p, cl->partitions, cl->members,
					 cl->rf, cl->shards, zone);
}

void qr_placement_fini(struct qr_placement *p)
{
	if (!p)
		return;
	free(p->replicas);
	p->replicas = NULL;
}

int qr_placement_replica_index(const struct qr_placement *p, uint32_t partition,
			       uint16_t node)
{
	if (partition >= p->partitions)
		return -1;

	const uint8_t *r = qr_placement_replicas(p, partition);

	for (int i = 0; i < p->rf; i++)
		if (r[i] == node)
			return i;
	return -1;
}
