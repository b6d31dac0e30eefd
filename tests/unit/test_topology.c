/* SPDX-License-Identifier: MIT */
/* Topology changes in the core (src/core/topology.c). T1, exhaustively:
 * for joins and leaves over 3..8 nodes in 1..3 zones, RF 1..5, every
 * partition and every level, every set of answers that meets a request's
 * widened groups meets the level in the old replica set AND in the new
 * one (so it intersects every request of either placement), and every
 * replica of the union answering meets it. (T2..T5 through real cores:
 * test_core.c "topology: ...".) */
#include <string.h>

#include "core/core_pvt.h"
#include "quorate/err.h"
#include "unit.h"

static struct qr_core c; /* only pl, pl_new are read by the code tested */

/* The groups a level asks of one replica set (intake.c's rule, Z1..Z2),
 * over its indexes; local: the coordinator's zone. false: none there. */
static bool groups_over(const struct qr_placement *pl, const uint8_t *reps,
			uint8_t rf, uint8_t level, uint8_t local,
			struct qc_groups *g)
{
	memset(g, 0, sizeof(*g));
	if (level == QR_LEVEL_ONE || level == QR_LEVEL_QUORUM ||
	    level == QR_LEVEL_ALL) {
		g->n = 1;
		g->mask[0] = RF_BITS(rf);
		g->need[0] = qc_level_count(level, 0, rf);
		return true;
	}
	uint8_t zone_of_group[QC_REPS_MAX];
	for (uint8_t i = 0; i < rf; i++) {
		uint8_t z = pl->zone[reps[i]];
		if (level != QR_LEVEL_EACH_QUORUM && z != local)
			continue;
		unsigned k = 0;
		while (k < g->n && zone_of_group[k] != z)
			k++;
		if (k == g->n) {
			zone_of_group[g->n] = z;
			g->mask[g->n++] = 0;
		}
		g->mask[k] |= (uint8_t)(1u << i);
	}
	for (unsigned k = 0; k < g->n; k++) {
		uint8_t size = (uint8_t)__builtin_popcount(g->mask[k]);
		g->need[k] = level == QR_LEVEL_LOCAL_ONE ? 1
							 : qc_quorum_of(size);
	}
	return g->n > 0;
}

/* The answers s (bit per index of u, n of them) seen as a subset of
 * set (rf node ids): bit per index of set. */
static uint8_t project(const uint8_t *u, uint8_t n, uint8_t s,
		       const uint8_t *set, uint8_t rf)
{
	uint8_t m = 0;
	for (uint8_t i = 0; i < n; i++)
		for (uint8_t j = 0; s >> i & 1 && j < rf; j++)
			if (u[i] == set[j])
				m |= (uint8_t)(1u << j);
	return m;
}

static const uint8_t LEVELS[] = {QR_LEVEL_ONE,	     QR_LEVEL_QUORUM,
				 QR_LEVEL_ALL,	     QR_LEVEL_LOCAL_ONE,
				 QR_LEVEL_LOCAL_QUORUM, QR_LEVEL_EACH_QUORUM};

/* T1 for every partition and level of one change O -> N. */
static void check_change(const struct qr_placement *o,
			 const struct qr_placement *nw, unsigned *widened)
{
	c.pl = o;
	c.pl_new = nw;
	uint8_t rf = (uint8_t)o->rf;
	for (uint32_t p = 0; p < o->partitions; p++) {
		uint8_t u[QC_REPS_MAX], in_new;
		uint8_t n = qc_topo_replicas(&c, p, u, &in_new);
		const uint8_t *os = qr_placement_replicas(o, p);
		const uint8_t *ns = qr_placement_replicas(nw, p);
		CU_ASSERT_FATAL(n >= rf && n <= QC_REPS_MAX);
		CU_ASSERT_EQUAL(__builtin_popcount(in_new), rf);
		*widened += n > rf;
		for (unsigned l = 0; l < sizeof(LEVELS); l++) {
			uint8_t level = LEVELS[l];
			uint8_t local = o->zone[os[0]];
			struct qc_groups g, go, gn;
			if (!groups_over(o, os, rf, level, local, &g))
				continue; /* UNAVAILABLE at intake (Z1) */
			go = g;
			bool n_any = groups_over(nw, ns, rf, level, local, &gn);
			qc_topo_widen(&c, &g, level, true, u, rf, n, in_new);
			/* Every answer set meeting the widened groups meets
			 * both placements' groups. */
			for (unsigned s = 0; s < (1u << n); s++) {
				if (!qc_met(&g, (uint8_t)s, 0))
					continue;
				CU_ASSERT_FATAL(qc_met(
					&go, project(u, n, (uint8_t)s, os, rf),
					0));
				if (n_any)
					CU_ASSERT_FATAL(qc_met(
						&gn,
						project(u, n, (uint8_t)s, ns, rf),
						0));
			}
			/* With every replica answering, it is met. */
			CU_ASSERT(qc_met(&g, RF_BITS(n), 0));
		}
	}
}

static void test_t1_joins_and_leaves(void)
{
	unsigned widened = 0, changes = 0;
	for (uint16_t nodes = 3; nodes <= 8; nodes++)
		for (uint8_t zones = 1; zones <= 3; zones++)
			for (uint16_t rf = 1; rf <= 5 && rf < nodes; rf++) {
				uint8_t zone[QR_NODES_MAX] = {0};
				for (uint16_t i = 0; i < nodes; i++)
					zone[i] = (uint8_t)(i % zones);
				uint64_t all = (1ull << nodes) - 1;
				for (uint16_t x = 0; x < nodes; x++) {
					struct qr_placement a, b;
					uint64_t less = all & ~(1ull << x);
					CU_ASSERT_FATAL(
						qr_placement_init_members(
							&a, 64, less, rf, 1,
							zone) == 0);
					CU_ASSERT_FATAL(
						qr_placement_init_members(
							&b, 64, all, rf, 1,
							zone) == 0);
					check_change(&a, &b, &widened); /* join */
					check_change(&b, &a, &widened); /* leave */
					changes += 2;
					qr_placement_fini(&a);
					qr_placement_fini(&b);
				}
			}
	CU_ASSERT(changes > 300);
	CU_ASSERT(widened > 1000); /* the property was tested on moves */
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"T1: joins and leaves meet both sets",
		 test_t1_joins_and_leaves},
		{NULL, NULL},
	};
	return qr_unit_main("topology", cases);
}
