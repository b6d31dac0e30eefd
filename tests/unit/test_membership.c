/* SPDX-License-Identifier: MIT */
/* Membership as a value (src/core/membership.c): the rules M1..M3, the
 * canonical encoding (M4: round trip, every truncation and every single
 * byte flip refused, output untouched), the changes (add, remove, replace,
 * finish) and the two placements of a change (M5: a join moves at most
 * one member per partition; a replacement moves nothing). */
#include <arpa/inet.h>
#include <string.h>

#include "core/membership.h"
#include "quorate/err.h"
#include "unit.h"

static struct qr_membership three(void)
{
	struct qr_membership ms = {.epoch = 1, .rf = 3, .zones = 1, .n = 3};
	for (uint16_t i = 0; i < 3; i++)
		ms.m[i] = (struct qr_member){.id = i,
					     .state = QR_MEMBER_ACTIVE,
					     .ip = htonl(0x0a000001u + i),
					     .port = 7400};
	return ms;
}

static void test_rules(void)
{
	struct qr_membership ms = three();
	CU_ASSERT_EQUAL(qr_membership_check(&ms), 0);
	ms.m[1].id = 0; /* ids ascending, unique */
	CU_ASSERT_EQUAL(qr_membership_check(&ms), QR_EINVAL);
	ms = three();
	ms.rf = 4; /* M3: fewer owners than RF */
	CU_ASSERT_EQUAL(qr_membership_check(&ms), QR_EINVAL);
	ms = three();
	ms.m[2].zone = 1; /* no such zone */
	CU_ASSERT_EQUAL(qr_membership_check(&ms), QR_EINVAL);
	ms = three();
	ms.epoch = 0;
	CU_ASSERT_EQUAL(qr_membership_check(&ms), QR_EINVAL);
}

static void test_encoding_round_trip_and_damage(void)
{
	struct qr_membership ms = three(), out;
	CU_ASSERT_EQUAL_FATAL(qr_membership_add(&ms, 9, htonl(0x0a000009u),
						7400, "dc2", &ms), 0);
	uint8_t buf[QR_MEMBERSHIP_BYTES_MAX];
	size_t len;
	CU_ASSERT_EQUAL_FATAL(qr_membership_encode(&ms, buf, sizeof(buf), &len),
			      0);
	CU_ASSERT_EQUAL(qr_membership_encode(&ms, buf, len - 1, &len),
			QR_EFULL);
	CU_ASSERT_EQUAL_FATAL(qr_membership_encode(&ms, buf, sizeof(buf), &len),
			      0);
	CU_ASSERT_EQUAL(qr_membership_decode(buf, len, &out), 0);
	CU_ASSERT(memcmp(&out, &ms, sizeof(ms)) == 0);
	struct qr_membership keep;
	memset(&keep, 0x5a, sizeof(keep));
	for (size_t l = 0; l < len; l++) { /* every truncation */
		out = keep;
		CU_ASSERT(qr_membership_decode(buf, l, &out) < 0);
		CU_ASSERT(memcmp(&out, &keep, sizeof(keep)) == 0);
	}
	for (size_t i = 0; i < len; i++) /* every byte flip: the CRC */
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			out = keep;
			CU_ASSERT(qr_membership_decode(buf, len, &out) < 0);
			CU_ASSERT(memcmp(&out, &keep, sizeof(keep)) == 0);
			buf[i] ^= (uint8_t)(1u << bit);
		}
}

static void test_changes(void)
{
	struct qr_membership ms = three(), nx;
	/* add: JOINING, epoch + 1; the id must be free */
	CU_ASSERT_EQUAL(qr_membership_add(&ms, 1, 1, 1, "", &nx), QR_EINVAL);
	CU_ASSERT_EQUAL_FATAL(qr_membership_add(&ms, 3, htonl(0x0a000004u),
						7400, "", &nx), 0);
	CU_ASSERT_EQUAL(nx.epoch, 2);
	CU_ASSERT_EQUAL(nx.n, 4);
	CU_ASSERT_EQUAL(nx.m[3].state, QR_MEMBER_JOINING);
	/* finish: ACTIVE */
	CU_ASSERT_EQUAL_FATAL(qr_membership_finish(&nx, 3, &nx), 0);
	CU_ASSERT_EQUAL(nx.m[3].state, QR_MEMBER_ACTIVE);
	CU_ASSERT_EQUAL(qr_membership_finish(&nx, 3, &nx), QR_EINVAL);
	/* remove: LEAVING, then gone */
	CU_ASSERT_EQUAL_FATAL(qr_membership_remove(&nx, 0, &nx), 0);
	CU_ASSERT_EQUAL(nx.m[0].state, QR_MEMBER_LEAVING);
	/* M3: 3 new owners left, RF 3: a second removal is refused */
	CU_ASSERT_EQUAL(qr_membership_remove(&nx, 1, &nx), QR_EINVAL);
	CU_ASSERT_EQUAL_FATAL(qr_membership_finish(&nx, 0, &nx), 0);
	CU_ASSERT_EQUAL(nx.n, 3);
	CU_ASSERT_EQUAL(nx.m[0].id, 1);
	CU_ASSERT_EQUAL(nx.epoch, 5);
	/* replace: same id, new address, REPLACING, then ACTIVE */
	CU_ASSERT_EQUAL_FATAL(qr_membership_replace(&nx, 2, htonl(0x0a000063u),
						    7500, &nx), 0);
	CU_ASSERT_EQUAL(nx.m[1].state, QR_MEMBER_REPLACING);
	CU_ASSERT_EQUAL(nx.m[1].port, 7500);
	CU_ASSERT_EQUAL(qr_membership_remove(&nx, 2, &nx), QR_EINVAL);
	CU_ASSERT_EQUAL_FATAL(qr_membership_finish(&nx, 2, &nx), 0);
	CU_ASSERT_EQUAL(nx.m[1].state, QR_MEMBER_ACTIVE);
	/* zones: at most QR_ZONES_MAX names */
	for (int z = 0; z < QR_ZONES_MAX - 1; z++) {
		char name[8];
		snprintf(name, sizeof(name), "z%d", z);
		CU_ASSERT_EQUAL(qr_membership_add(&nx, (uint16_t)(10 + z), 1, 1,
						  name, &nx), 0);
	}
	CU_ASSERT_EQUAL(nx.zones, QR_ZONES_MAX);
	CU_ASSERT_EQUAL(qr_membership_add(&nx, 40, 1, 1, "one-more", &nx),
			QR_EINVAL);
}

/* M5: joining node 3 changes each replica set by at most one member
 * between the old and the new placement; a replacement changes none. */
static void test_placements_of_a_change(void)
{
	struct qr_membership ms = three(), j, r;
	CU_ASSERT_EQUAL_FATAL(qr_membership_add(&ms, 3, 5, 7400, "", &j), 0);
	struct qr_placement a, b;
	CU_ASSERT_EQUAL_FATAL(qr_membership_placement(&j, 0, 1024, 1, &a), 0);
	CU_ASSERT_EQUAL_FATAL(qr_membership_placement(&j, 1, 1024, 1, &b), 0);
	unsigned moved = 0;
	for (uint32_t p = 0; p < 1024; p++) {
		unsigned kept = 0;
		for (unsigned i = 0; i < 3; i++) {
			CU_ASSERT(qr_placement_replicas(&a, p)[i] != 3);
			kept += qr_placement_replica_index(
					&a, p, qr_placement_replicas(&b, p)[i]) >=
				0;
		}
		CU_ASSERT(kept >= 2);
		moved += 3 - kept;
	}
	CU_ASSERT(moved > 1024 * 3 / 4 * 8 / 10 && moved < 1024 * 3 / 4 * 12 / 10);
	qr_placement_fini(&a);
	qr_placement_fini(&b);
	CU_ASSERT_EQUAL_FATAL(qr_membership_replace(&ms, 1, 9, 7400, &r), 0);
	CU_ASSERT_EQUAL_FATAL(qr_membership_placement(&r, 0, 1024, 1, &a), 0);
	CU_ASSERT_EQUAL_FATAL(qr_membership_placement(&r, 1, 1024, 1, &b), 0);
	CU_ASSERT(memcmp(a.replicas, b.replicas, 1024 * 3) == 0);
	qr_placement_fini(&a);
	qr_placement_fini(&b);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"rules", test_rules},
		{"encoding: round trip and damage",
		 test_encoding_round_trip_and_damage},
		{"changes", test_changes},
		{"placements of a change", test_placements_of_a_change},
		{NULL, NULL},
	};
	return qr_unit_main("membership", cases);
}
