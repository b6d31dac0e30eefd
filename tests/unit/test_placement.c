/* SPDX-License-Identifier: MIT */
/*
 * Placement: parameter validation, replica sets (rf distinct valid nodes, the
 * rf highest rendezvous scores, highest first), determinism, pinned score
 * vectors (the score is part of the protocol), even spread, rendezvous
 * stability when a node is added (Thaler & Ravishankar 1998), key ->
 * partition by CRC32C, partition -> shard, replica_index.
 */
#include <stdint.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/rng.h"
#include "core/placement.h"
#include "quorate/err.h"
#include "unit.h"

static void expect_einval(uint32_t partitions, uint16_t nodes, uint16_t rf,
			  uint16_t shards)
{
	struct qr_placement p;

	memset(&p, 0xa5, sizeof(p));
	CU_ASSERT_EQUAL(qr_placement_init(&p, partitions, nodes, rf, shards),
			QR_EINVAL);
	CU_ASSERT_PTR_NULL(p.replicas);
	qr_placement_fini(&p); /* safe after a failed init */
}

static void expect_ok(uint32_t partitions, uint16_t nodes, uint16_t rf,
		      uint16_t shards)
{
	struct qr_placement p;

	CU_ASSERT_EQUAL_FATAL(
		qr_placement_init(&p, partitions, nodes, rf, shards), 0);
	CU_ASSERT_PTR_NOT_NULL(p.replicas);
	CU_ASSERT_EQUAL(p.partitions, partitions);
	CU_ASSERT_EQUAL(p.nodes, nodes);
	CU_ASSERT_EQUAL(p.rf, rf);
	CU_ASSERT_EQUAL(p.shards, shards);
	qr_placement_fini(&p);
	CU_ASSERT_PTR_NULL(p.replicas);
	qr_placement_fini(&p); /* twice is harmless */
}

static void test_invalid_params_rejected(void)
{
	/* partitions: a power of two in 1..2^20 */
	expect_einval(0, 3, 3, 1);
	expect_einval(3, 3, 3, 1);
	expect_einval(1000, 3, 3, 1);
	expect_einval(QR_PARTITIONS_MAX * 2, 3, 3, 1);
	expect_einval(QR_PARTITIONS_MAX + 1, 3, 3, 1);
	/* nodes: 1..64 */
	expect_einval(64, 0, 1, 1);
	expect_einval(64, QR_NODES_MAX + 1, 3, 1);
	/* rf: 1..min(7, nodes) */
	expect_einval(64, 3, 0, 1);
	expect_einval(64, 3, 4, 1);
	expect_einval(64, 16, QR_RF_MAX + 1, 1);
	/* shards: 1..128 */
	expect_einval(64, 3, 3, 0);
	expect_einval(64, 3, 3, QR_SHARDS_MAX + 1);
	CU_ASSERT_EQUAL(qr_placement_init(NULL, 64, 3, 3, 1), QR_EINVAL);

	/* The bounds themselves are valid. */
	expect_ok(1, 1, 1, 1);
	expect_ok(2, 3, 3, QR_SHARDS_MAX);
	expect_ok(64, QR_NODES_MAX, QR_RF_MAX, 4);
	expect_ok(QR_PARTITIONS_MAX, QR_NODES_MAX, QR_RF_MAX, 8);
}

/* Every replica set is exactly the rf best-scoring nodes, best first. */
static void check_table(const struct qr_placement *p)
{
	unsigned bad = 0;

	for (uint32_t part = 0; part < p->partitions; part++) {
		const uint8_t *r = qr_placement_replicas(p, part);
		uint64_t in_set = 0;

		for (unsigned i = 0; i < p->rf; i++) {
			if (r[i] >= p->nodes || (in_set >> r[i] & 1))
				bad++;
			in_set |= UINT64_C(1) << r[i];
			if (i > 0 && qr_placement_score(part, r[i - 1]) <=
					     qr_placement_score(part, r[i]))
				bad++;
		}
		uint64_t worst = qr_placement_score(part, r[p->rf - 1]);
		for (uint16_t n = 0; n < p->nodes; n++)
			if (!(in_set >> n & 1) &&
			    qr_placement_score(part, n) >= worst)
				bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_replica_sets_are_top_rf_by_score(void)
{
	static const uint16_t cfg[][2] = {
		{1, 1}, {3, 1}, {3, 3}, {5, 3}, {7, 5}, {16, 3}, {64, 7},
	};

	for (unsigned i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct qr_placement p;

		CU_ASSERT_EQUAL_FATAL(
			qr_placement_init(&p, 1024, cfg[i][0], cfg[i][1], 2),
			0);
		check_table(&p);
		qr_placement_fini(&p);
	}
}

static void test_deterministic(void)
{
	struct qr_placement a, b;

	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&a, 4096, 9, 3, 4), 0);
	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&b, 4096, 9, 3, 4), 0);
	CU_ASSERT_EQUAL(memcmp(a.replicas, b.replicas, 4096 * 3), 0);
	qr_placement_fini(&a);
	qr_placement_fini(&b);
}

/*
 * The score is part of the protocol: clients and every node must agree. These
 * values were computed independently (splitmix64's finalizer over
 * partition << 16 | node; score(0, 0) is splitmix64's well-known first output
 * for seed 0). If this test fails, data would move between nodes on upgrade.
 */
static void test_score_pinned_vectors(void)
{
	CU_ASSERT_EQUAL(qr_placement_score(0, 0), 0xe220a8397b1dcdafull);
	CU_ASSERT_EQUAL(qr_placement_score(0, 1), 0x910a2dec89025cc1ull);
	CU_ASSERT_EQUAL(qr_placement_score(1, 0), 0x09aab36cfda2d1b3ull);
	CU_ASSERT_EQUAL(qr_placement_score(12345, 42), 0xa0f0c06c6bd0c51eull);
	CU_ASSERT_EQUAL(qr_placement_score(QR_PARTITIONS_MAX - 1, 63),
			0x4dcf26564516dd08ull);

	static const uint8_t want[8][3] = {
		{0, 2, 1}, {2, 1, 3}, {3, 4, 0}, {4, 2, 3},
		{0, 3, 2}, {4, 0, 1}, {2, 4, 1}, {4, 2, 3},
	};
	struct qr_placement p;

	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&p, 8, 5, 3, 1), 0);
	CU_ASSERT_EQUAL(memcmp(p.replicas, want, sizeof(want)), 0);
	qr_placement_fini(&p);
}

/* Each node holds rf/nodes of the replicas, within 20%, and (for few nodes)
 * is first replica for 1/nodes of the partitions, within 20%. */
static void test_spread_even(void)
{
	static const uint16_t cfg[][2] = {
		{3, 1}, {3, 3}, {5, 3}, {7, 3}, {16, 3}, {64, 7},
	};
	const uint32_t parts = 4096;

	for (unsigned i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		uint16_t nodes = cfg[i][0], rf = cfg[i][1];
		uint32_t held[QR_NODES_MAX] = {0}, first[QR_NODES_MAX] = {0};
		struct qr_placement p;

		CU_ASSERT_EQUAL_FATAL(
			qr_placement_init(&p, parts, nodes, rf, 1), 0);
		for (uint32_t part = 0; part < parts; part++) {
			const uint8_t *r = qr_placement_replicas(&p, part);

			first[r[0]]++;
			for (unsigned k = 0; k < rf; k++)
				held[r[k]]++;
		}
		double want_held = (double)parts * rf / nodes;
		double want_first = (double)parts / nodes;
		for (uint16_t n = 0; n < nodes; n++) {
			CU_ASSERT(held[n] >= 0.8 * want_held &&
				  held[n] <= 1.2 * want_held);
			if (nodes <= 16)
				CU_ASSERT(first[n] >= 0.8 * want_first &&
					  first[n] <= 1.2 * want_first);
		}
		qr_placement_fini(&p);
	}
}

/*
 * Rendezvous stability: going from n to n + 1 nodes changes each replica set
 * by at most one member, and then exactly so: the new node takes its rank and
 * the old last member drops off; the others keep their order.
 */
static void test_adding_node_moves_at_most_one_member(void)
{
	static const uint16_t rfs[] = {1, 3, 5};
	const uint32_t parts = 1024;
	unsigned bad = 0, moved = 0;

	for (unsigned ri = 0; ri < 3; ri++) {
		uint16_t rf = rfs[ri];

		for (uint16_t n = rf; n < 24; n++) {
			struct qr_placement a, b;

			CU_ASSERT_EQUAL_FATAL(
				qr_placement_init(&a, parts, n, rf, 1), 0);
			CU_ASSERT_EQUAL_FATAL(
				qr_placement_init(&b, parts, n + 1, rf, 1), 0);
			for (uint32_t part = 0; part < parts; part++) {
				const uint8_t *ra =
					qr_placement_replicas(&a, part);
				const uint8_t *rb =
					qr_placement_replicas(&b, part);
				uint8_t expect[QR_RF_MAX];
				unsigned k = 0, j = 0;

				if (memcmp(ra, rb, rf) == 0)
					continue;
				moved++;
				/* Expected: ra with node n inserted at its
				 * position in rb, the last one dropped. */
				for (k = 0; k < rf; k++) {
					if (rb[k] == n)
						expect[k] = (uint8_t)n;
					else
						expect[k] = ra[j++];
				}
				if (memcmp(expect, rb, rf) != 0)
					bad++;
			}
			qr_placement_fini(&a);
			qr_placement_fini(&b);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(moved > 0); /* the new nodes did take partitions */
}

static void test_partition_is_crc32c_masked(void)
{
	struct qr_placement p;
	struct qr_rng r;
	uint8_t key[64];
	unsigned bad = 0;

	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&p, 256, 3, 3, 4), 0);
	qr_rng_seed(&r, 1998);
	for (int i = 0; i < 10000; i++) {
		size_t len = (size_t)qr_rng_below(&r, sizeof(key) + 1);

		for (size_t k = 0; k < len; k++)
			key[k] = (uint8_t)qr_rng_next(&r);
		uint32_t part = qr_placement_partition(&p, key, len);
		if (part != (qr_crc32c(0, key, len) & 255u) || part >= 256)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* "123456789" has CRC32C 0xe3069283. */
	CU_ASSERT_EQUAL(qr_placement_partition(&p, "123456789", 9), 0x83);
	qr_placement_fini(&p);

	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&p, 1, 1, 1, 1), 0);
	CU_ASSERT_EQUAL(qr_placement_partition(&p, "123456789", 9), 0);
	qr_placement_fini(&p);
}

static void test_shard_is_partition_mod_shards(void)
{
	static const uint16_t shards[] = {1, 2, 3, 6, 7, 128};

	for (unsigned i = 0; i < sizeof(shards) / sizeof(shards[0]); i++) {
		struct qr_placement p;
		unsigned bad = 0;

		CU_ASSERT_EQUAL_FATAL(
			qr_placement_init(&p, 1024, 3, 3, shards[i]), 0);
		for (uint32_t part = 0; part < 1024; part++)
			if (qr_placement_shard(&p, part) != part % shards[i])
				bad++;
		CU_ASSERT_EQUAL(bad, 0);
		qr_placement_fini(&p);
	}
}

static void test_replica_index(void)
{
	struct qr_placement p;
	unsigned bad = 0;

	CU_ASSERT_EQUAL_FATAL(qr_placement_init(&p, 512, 7, 3, 2), 0);
	for (uint32_t part = 0; part < 512; part++) {
		const uint8_t *r = qr_placement_replicas(&p, part);
		unsigned found = 0;

		for (uint16_t n = 0; n < 7; n++) {
			int idx = qr_placement_replica_index(&p, part, n);

			if (idx >= 0) {
				found++;
				if (idx >= 3 || r[idx] != n)
					bad++;
			}
		}
		if (found != 3)
			bad++;
		/* Nodes outside the cluster are never replicas. */
		if (qr_placement_replica_index(&p, part, 7) != -1 ||
		    qr_placement_replica_index(&p, part, 300) != -1)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* A partition out of range holds no one. */
	CU_ASSERT_EQUAL(qr_placement_replica_index(&p, 512, 0), -1);
	qr_placement_fini(&p);
}

/* Z1: with zones, a replica set spans min(rf, zones) zones; with one zone
 * (NULL or all zero) the table is plain rendezvous hashing. */
static void test_zones_spread_and_one_zone_unchanged(void)
{
	static const uint8_t z6[6] = {0, 0, 1, 1, 2, 2};
	static const uint8_t z0[6] = {0};
	for (uint16_t rf = 1; rf <= 6; rf++) {
		struct qr_placement plain, zero, zoned;
		CU_ASSERT_EQUAL_FATAL(qr_placement_init(&plain, 1024, 6, rf, 1), 0);
		CU_ASSERT_EQUAL_FATAL(
			qr_placement_init_zoned(&zero, 1024, 6, rf, 1, z0), 0);
		CU_ASSERT_EQUAL_FATAL(
			qr_placement_init_zoned(&zoned, 1024, 6, rf, 1, z6), 0);
		CU_ASSERT_EQUAL(zoned.zones, 3);
		CU_ASSERT_EQUAL(plain.zones, 1);
		CU_ASSERT(memcmp(plain.replicas, zero.replicas,
				 (size_t)1024 * rf) == 0);
		unsigned differ = 0;
		for (uint32_t part = 0; part < 1024; part++) {
			const uint8_t *r = qr_placement_replicas(&zoned, part);
			unsigned per_zone[3] = {0}, spanned = 0;
			for (unsigned i = 0; i < rf; i++)
				per_zone[z6[r[i]]]++;
			for (unsigned z = 0; z < 3; z++) {
				spanned += per_zone[z] > 0;
				/* no zone doubles up while one is empty */
				for (unsigned y = 0; y < 3; y++)
					CU_ASSERT(!(per_zone[z] >= 2 &&
						    per_zone[y] == 0));
			}
			CU_ASSERT_EQUAL(spanned, rf < 3 ? rf : 3);
			for (unsigned i = 1; i < rf; i++) /* rank order */
				CU_ASSERT(qr_placement_score(part, r[i - 1]) >
					  qr_placement_score(part, r[i]));
			differ += memcmp(r, qr_placement_replicas(&plain, part),
					 rf) != 0;
		}
		/* zones did change placement (with rf 5 or 6 of these 6
		 * nodes every set spans the 3 zones anyway) */
		if (rf >= 2 && rf <= 4)
			CU_ASSERT(differ > 0);
		qr_placement_fini(&plain);
		qr_placement_fini(&zero);
		qr_placement_fini(&zoned);
	}
	struct qr_placement p;
	static const uint8_t bad[3] = {0, 64, 1}; /* zone index >= 64 */
	CU_ASSERT_EQUAL(qr_placement_init_zoned(&p, 64, 3, 3, 1, bad),
			QR_EINVAL);
	CU_ASSERT_PTR_NULL(p.replicas);
}

/* Adding a node (in any zone) changes each replica set by at most one
 * member, with zones as without: rendezvous stability survives Z1. */
static void test_zones_add_node_moves_one_member(void)
{
	struct qr_rng rng;
	qr_rng_seed(&rng, 77);
	for (int trial = 0; trial < 40; trial++) {
		uint8_t zone[16];
		uint16_t nodes = (uint16_t)(3 + qr_rng_below(&rng, 12));
		uint16_t rf = (uint16_t)(1 + qr_rng_below(&rng, 5));
		unsigned nz = 1 + (unsigned)qr_rng_below(&rng, 4);
		for (unsigned n = 0; n <= nodes; n++)
			zone[n] = (uint8_t)(n < nz ? n : qr_rng_below(&rng, nz));
		if (rf > nodes)
			rf = nodes;
		struct qr_placement a, b;
		CU_ASSERT_EQUAL_FATAL(qr_placement_init_zoned(&a, 512, nodes,
							      rf, 1, zone), 0);
		CU_ASSERT_EQUAL_FATAL(qr_placement_init_zoned(
					      &b, 512, nodes + 1, rf, 1, zone),
				      0);
		for (uint32_t part = 0; part < 512; part++) {
			unsigned kept = 0;
			for (unsigned i = 0; i < rf; i++)
				kept += qr_placement_replica_index(
						&a, part,
						qr_placement_replicas(&b, part)[i]) >= 0;
			CU_ASSERT(kept + 1 >= rf);
		}
		qr_placement_fini(&a);
		qr_placement_fini(&b);
	}
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"invalid parameters rejected, bounds accepted",
		 test_invalid_params_rejected},
		{"replica sets are the rf best scores, best first",
		 test_replica_sets_are_top_rf_by_score},
		{"two inits give the same table", test_deterministic},
		{"score and table pinned (part of the protocol)",
		 test_score_pinned_vectors},
		{"replicas spread within 20% of even", test_spread_even},
		{"adding a node moves at most one member per partition",
		 test_adding_node_moves_at_most_one_member},
		{"partition is crc32c & (P - 1)",
		 test_partition_is_crc32c_masked},
		{"shard is partition % shards",
		 test_shard_is_partition_mod_shards},
		{"replica_index", test_replica_index},
		{"zones: spread, one zone unchanged",
		 test_zones_spread_and_one_zone_unchanged},
		{"zones: adding a node moves one member",
		 test_zones_add_node_moves_one_member},
		{NULL, NULL},
	};
	return qr_unit_main("placement", cases);
}
