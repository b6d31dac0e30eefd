/* SPDX-License-Identifier: MIT */
/*
 * Data movement of zone-aware placement (src/core/placement.c) when a node
 * joins: for a cluster of n-1 nodes growing to n (n = 4..max), the share of
 * replica assignments (partition, replica) that change owner, against the
 * ideal (the new node takes its fair share and nothing else moves: 1/n in
 * one zone; with rf zones, one replica per zone, 1/(rf * nodes in the new
 * node's zone)), and the share of partitions whose replica set changes at
 * all. Zones: 1 (plain rendezvous) and rf (nodes assigned round-robin).
 * Deterministic: no timing, same output on every machine.
 * Usage: placement-moves [--partitions P] [--rf R] [--max-nodes N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/placement.h"

static int arg_u(int argc, char **argv, const char *name, int def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return atoi(argv[i + 1]);
	return def;
}

static void row(uint32_t parts, uint16_t rf, uint16_t n, unsigned zones)
{
	uint8_t zone[QR_NODES_MAX];
	for (unsigned i = 0; i < QR_NODES_MAX; i++)
		zone[i] = (uint8_t)(i % zones);
	struct qr_placement a, b;
	if (qr_placement_init_zoned(&a, parts, n - 1, rf, 1, zone) ||
	    qr_placement_init_zoned(&b, parts, n, rf, 1, zone)) {
		fprintf(stderr, "placement-moves: bad parameters\n");
		exit(2);
	}
	uint64_t moved = 0, touched = 0;
	for (uint32_t p = 0; p < parts; p++) {
		unsigned m = 0;
		for (unsigned i = 0; i < rf; i++)
			m += qr_placement_replica_index(
				     &a, p, qr_placement_replicas(&b, p)[i]) < 0;
		moved += m;
		touched += m > 0;
	}
	/* With one replica per zone (rf == zones), the joining node's fair
	 * share is 1/|its zone| of its zone's replicas: 1/(rf * |zone|). */
	unsigned in_zone = 0;
	for (unsigned i = 0; i < n; i++)
		in_zone += zone[i] == zone[n - 1];
	double ideal = zones == 1	 ? 1.0 / n :
		       zones == rf ? 1.0 / ((double)rf * in_zone) :
				       0.0;
	double share = (double)moved / ((double)parts * rf);
	printf("| %u | %u -> %u | %.4f | %.4f | %.3f | %.4f |\n", zones,
	       n - 1, n, share, ideal, ideal > 0 ? share / ideal : 0.0,
	       (double)touched / parts);
	qr_placement_fini(&a);
	qr_placement_fini(&b);
}

int main(int argc, char **argv)
{
	uint32_t parts = (uint32_t)arg_u(argc, argv, "--partitions", 4096);
	uint16_t rf = (uint16_t)arg_u(argc, argv, "--rf", 3);
	uint16_t max = (uint16_t)arg_u(argc, argv, "--max-nodes", 8);
	if (max < 4 || max > QR_NODES_MAX || rf < 1 || rf > 3) {
		fprintf(stderr, "usage: placement-moves [--partitions P] "
				"[--rf 1..3] [--max-nodes 4..64]\n");
		return 2;
	}
	printf("partitions %u, rf %u\n\n", parts, rf);
	printf("| zones | nodes | replicas moved | ideal | moved/ideal "
	       "| partitions touched |\n");
	printf("|---|---|---|---|---|---|\n");
	for (unsigned zones = 1; zones <= rf; zones += rf > 1 ? rf - 1 : 1)
		for (uint16_t n = 4; n <= max; n++)
			row(parts, rf, n, zones);
	return 0;
}
