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
 * Invariants:
 *  - each replica set holds rf distinct node ids < nodes, by score descending;
 *  - adding node n to nodes 0..n-1 changes each partition's replica set by at
 *    most one member (the new node displaces the old last one), which is what
 *    rendezvous hashing buys over "hash mod nodes".
 * Cost: init computes partitions * nodes scores (64 M at the limits, a fraction
 * of a second, control path only); lookups are a load.
 */
#include "core/placement.h"

#include <stdlib.h>

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

/* The rf best nodes for one partition, by insertion into a sorted array of
 * at most QR_RF_MAX entries: nodes * rf compares, no allocation. */
static void place_partition(uint32_t partition, uint16_t nodes, uint16_t rf,
			    uint8_t *out)
{
	uint64_t best_score[QR_RF_MAX];
	uint16_t best_node[QR_RF_MAX];
	unsigned n = 0;

	for (uint16_t node = 0; node < nodes; node++) {
		uint64_t s = qr_placement_score(partition, node);
		unsigned i;

		if (n == rf &&
		    !ranks_before(s, node, best_score[n - 1], best_node[n - 1]))
			continue;
		if (n < rf)
			n++;
		/* Shift lower-ranked entries down; the last one drops off. */
		for (i = n - 1;
		     i > 0 &&
		     ranks_before(s, node, best_score[i - 1], best_node[i - 1]);
		     i--) {
			best_score[i] = best_score[i - 1];
			best_node[i] = best_node[i - 1];
		}
		best_score[i] = s;
		best_node[i] = node;
	}
	QR_ASSERT(n == rf);
	for (unsigned i = 0; i < rf; i++)
		out[i] = (uint8_t)best_node[i];
}

int qr_placement_init(struct qr_placement *p, uint32_t partitions,
		      uint16_t nodes, uint16_t rf, uint16_t shards)
{
	if (!p)
		return QR_EINVAL;
	*p = (struct qr_placement){0};
	if (!QR_IS_POW2(partitions) || partitions > QR_PARTITIONS_MAX)
		return QR_EINVAL;
	if (nodes < 1 || nodes > QR_NODES_MAX)
		return QR_EINVAL;
	if (rf < 1 || rf > QR_MIN(QR_RF_MAX, nodes))
		return QR_EINVAL;
	if (shards < 1 || shards > QR_SHARDS_MAX)
		return QR_EINVAL;

	uint8_t *table = malloc((size_t)partitions * rf);
	if (!table)
		return QR_ENOMEM;
	for (uint32_t part = 0; part < partitions; part++)
		place_partition(part, nodes, rf, table + (size_t)part * rf);

	p->partitions = partitions;
	p->nodes = nodes;
	p->rf = rf;
	p->shards = shards;
	p->replicas = table;
	return 0;
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
