/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the neighbour table (src/net/arp.c): learn and lookup,
 * refresh and MAC changes, expiry at exactly age_us, static entries (never
 * expire, not overwritten by learning), refused addresses, the per-IP
 * request rate limit, a full table (LRU eviction in the probe window, static
 * entries never evicted, QR_EFULL), and a realistic load without eviction.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/compiler.h"
#include "net/arp.h"
#include "quorate/err.h"
#include "unit.h"

#define AGE_US 1000000ull
#define GAP_US 100000ull

static struct qr_arp_entry slots[QR_ARP_SLOTS_DEFAULT];
static struct qr_arp_table t;

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t x[4] = {a, b, c, d};
	uint32_t v;

	memcpy(&v, x, 4);
	return v;
}

static void mac_of(uint32_t n, uint8_t mac[6])
{
	mac[0] = 0x02; /* locally administered unicast */
	mac[1] = 0x11;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static void fresh(uint32_t n_slots)
{
	CU_ASSERT_FATAL(qr_arp_init(&t, slots, n_slots, AGE_US, GAP_US) == 0);
}

static bool has(uint32_t ip, const uint8_t want[6], uint64_t now_us)
{
	uint8_t got[6];

	return qr_arp_lookup(&t, ip, got, now_us) == 0 &&
	       memcmp(got, want, 6) == 0;
}

static void test_init_rejects_bad_sizes(void)
{
	CU_ASSERT(qr_arp_init(&t, slots, 0, AGE_US, GAP_US) == QR_EINVAL);
	CU_ASSERT(qr_arp_init(&t, slots, 100, AGE_US, GAP_US) == QR_EINVAL);
	CU_ASSERT(qr_arp_init(&t, slots, 8, AGE_US, GAP_US) == QR_EINVAL);
	CU_ASSERT(qr_arp_init(&t, NULL, 256, AGE_US, GAP_US) == QR_EINVAL);
	CU_ASSERT(qr_arp_init(&t, slots, 256, 0, GAP_US) == QR_EINVAL);
	CU_ASSERT(qr_arp_init(&t, slots, 16, AGE_US, GAP_US) == 0);
	CU_ASSERT(qr_arp_init(&t, slots, 256, AGE_US, 0) == 0);
}

static void test_learn_lookup_refresh(void)
{
	uint8_t m1[6], m2[6], out[6];
	uint32_t ip = ip4(10, 0, 0, 7);

	fresh(256);
	mac_of(1, m1);
	mac_of(2, m2);
	memset(out, 0xcc, 6);
	CU_ASSERT(qr_arp_lookup(&t, ip, out, 0) == QR_ENOTFOUND);
	CU_ASSERT(out[0] == 0xcc); /* untouched on a miss */
	CU_ASSERT(qr_arp_learn(&t, ip, m1, 10) == 0);
	CU_ASSERT(has(ip, m1, 10));
	CU_ASSERT(t.stats.learned == 1);
	CU_ASSERT(qr_arp_learn(&t, ip, m1, 20) == 0); /* a refresh */
	CU_ASSERT(t.stats.learned == 1 && t.stats.changed == 0);
	CU_ASSERT(qr_arp_learn(&t, ip, m2, 30) == 0); /* the host moved */
	CU_ASSERT(has(ip, m2, 30));
	CU_ASSERT(t.stats.changed == 1);
	CU_ASSERT(qr_arp_lookup(&t, ip4(10, 0, 0, 8), out, 30) == QR_ENOTFOUND);
}

static void test_expiry(void)
{
	uint8_t m[6];
	uint32_t ip = ip4(10, 0, 0, 9);

	fresh(256);
	mac_of(3, m);
	CU_ASSERT(qr_arp_learn(&t, ip, m, 1000) == 0);
	CU_ASSERT(has(ip, m, 1000 + AGE_US - 1));
	CU_ASSERT(!has(ip, m, 1000 + AGE_US));
	/* learning again brings it back, aged from the new time */
	CU_ASSERT(qr_arp_learn(&t, ip, m, 5 * AGE_US) == 0);
	CU_ASSERT(has(ip, m, 6 * AGE_US - 1));
	CU_ASSERT(!has(ip, m, 6 * AGE_US));
	/* a refresh before expiry extends it */
	CU_ASSERT(qr_arp_learn(&t, ip, m, 6 * AGE_US + 10) == 0);
	CU_ASSERT(qr_arp_learn(&t, ip, m, 7 * AGE_US) == 0);
	CU_ASSERT(has(ip, m, 8 * AGE_US - 1));
	/* a clock earlier than the entry counts as age 0 */
	CU_ASSERT(has(ip, m, 0));
}

static void test_static_entries(void)
{
	uint8_t ms[6], md[6];
	uint32_t ip = ip4(10, 0, 1, 1), ip2 = ip4(10, 0, 1, 2);

	fresh(256);
	mac_of(4, ms);
	mac_of(5, md);
	CU_ASSERT(qr_arp_add_static(&t, ip, ms) == 0);
	CU_ASSERT(has(ip, ms, 0));
	CU_ASSERT(has(ip, ms, UINT64_MAX)); /* never expires */
	CU_ASSERT(qr_arp_learn(&t, ip, md, 5) == 0);
	CU_ASSERT(has(ip, ms, 5)); /* config wins over the network */
	CU_ASSERT(!qr_arp_need_request(&t, ip, 5));
	/* a static entry replaces a learned one */
	CU_ASSERT(qr_arp_learn(&t, ip2, md, 0) == 0);
	CU_ASSERT(qr_arp_add_static(&t, ip2, ms) == 0);
	CU_ASSERT(has(ip2, ms, 10 * AGE_US));
	/* and a static entry can be changed by config */
	CU_ASSERT(qr_arp_add_static(&t, ip2, md) == 0);
	CU_ASSERT(has(ip2, md, 10 * AGE_US));
}

static void test_refuses_non_unicast(void)
{
	uint8_t m[6], group[6], zero[6] = {0};
	uint32_t bad[] = {0, ip4(224, 0, 0, 1), ip4(239, 255, 255, 250),
			  ip4(240, 0, 0, 1), ip4(255, 255, 255, 255)};

	fresh(256);
	mac_of(6, m);
	mac_of(7, group);
	group[0] |= 1;
	for (size_t i = 0; i < QR_ARRAY_LEN(bad); i++) {
		CU_ASSERT(qr_arp_learn(&t, bad[i], m, 0) == QR_EINVAL);
		CU_ASSERT(qr_arp_add_static(&t, bad[i], m) == QR_EINVAL);
		CU_ASSERT(!qr_arp_need_request(&t, bad[i], 0));
	}
	CU_ASSERT(qr_arp_learn(&t, ip4(10, 0, 0, 1), group, 0) == QR_EINVAL);
	CU_ASSERT(qr_arp_learn(&t, ip4(10, 0, 0, 1), zero, 0) == QR_EINVAL);
	CU_ASSERT(qr_arp_add_static(&t, ip4(10, 0, 0, 1), zero) == QR_EINVAL);
	CU_ASSERT(qr_arp_lookup(&t, ip4(10, 0, 0, 1), m, 0) == QR_ENOTFOUND);
}

static void test_request_rate_limit(void)
{
	uint8_t m[6];
	uint32_t ip = ip4(10, 0, 2, 1), other = ip4(10, 0, 2, 2);
	uint64_t t0 = 5000000;

	fresh(256);
	mac_of(8, m);
	CU_ASSERT(qr_arp_need_request(&t, ip, t0));
	CU_ASSERT(!qr_arp_need_request(&t, ip, t0));
	CU_ASSERT(!qr_arp_need_request(&t, ip, t0 + GAP_US - 1));
	CU_ASSERT(qr_arp_need_request(&t, other, t0 + 1)); /* per IP */
	CU_ASSERT(qr_arp_need_request(&t, ip, t0 + GAP_US));
	CU_ASSERT(!qr_arp_need_request(&t, ip, t0 + GAP_US + 1));
	CU_ASSERT(t.stats.requests == 3);
	/* a pending entry is not a mapping */
	CU_ASSERT(qr_arp_lookup(&t, ip, m, t0 + GAP_US) == QR_ENOTFOUND);
	/* the answer arrives: no more requests while it is valid */
	CU_ASSERT(qr_arp_learn(&t, ip, m, t0 + 2 * GAP_US) == 0);
	CU_ASSERT(has(ip, m, t0 + 2 * GAP_US));
	CU_ASSERT(!qr_arp_need_request(&t, ip, t0 + 3 * GAP_US));
	/* it expires: ask again (the last request is long ago) */
	uint64_t late = t0 + 2 * GAP_US + AGE_US;
	CU_ASSERT(qr_arp_need_request(&t, ip, late));
	CU_ASSERT(!qr_arp_need_request(&t, ip, late + 1));
	/* gap 0: every call may ask */
	CU_ASSERT_FATAL(qr_arp_init(&t, slots, 256, AGE_US, 0) == 0);
	CU_ASSERT(qr_arp_need_request(&t, ip, 1));
	CU_ASSERT(qr_arp_need_request(&t, ip, 1));
}

/* With 16 slots every IP's window is the whole table. */
static void test_full_table_evicts_lru(void)
{
	uint8_t m[6];
	uint32_t n = QR_ARP_PROBE_MAX;

	fresh(n);
	for (uint32_t i = 0; i < n; i++) {
		mac_of(i, m);
		CU_ASSERT(qr_arp_learn(&t, ip4(10, 1, 0, (uint8_t)(i + 1)), m,
				       100 + i) == 0);
	}
	CU_ASSERT(t.stats.evicted == 0);
	/* refresh the oldest: the second oldest is now the LRU */
	mac_of(0, m);
	CU_ASSERT(qr_arp_learn(&t, ip4(10, 1, 0, 1), m, 1000) == 0);
	mac_of(99, m);
	CU_ASSERT(qr_arp_learn(&t, ip4(10, 1, 1, 1), m, 1001) == 0);
	CU_ASSERT(t.stats.evicted == 1);
	CU_ASSERT(has(ip4(10, 1, 1, 1), m, 1001));
	mac_of(1, m);
	CU_ASSERT(!has(ip4(10, 1, 0, 2), m, 1001)); /* evicted */
	for (uint32_t i = 0; i < n; i++) {
		if (i == 1)
			continue;
		mac_of(i, m);
		CU_ASSERT(has(ip4(10, 1, 0, (uint8_t)(i + 1)), m, 1001));
	}
	/* a pending request also takes (and may lose) a slot */
	CU_ASSERT(qr_arp_need_request(&t, ip4(10, 1, 2, 1), 1002));
	CU_ASSERT(t.stats.evicted == 2);
}

static void test_full_of_static(void)
{
	uint8_t m[6];
	uint32_t n = QR_ARP_PROBE_MAX;

	fresh(n);
	for (uint32_t i = 0; i < n; i++) {
		mac_of(i, m);
		CU_ASSERT(qr_arp_add_static(&t, ip4(10, 2, 0, (uint8_t)(i + 1)),
					    m) == 0);
	}
	mac_of(77, m);
	CU_ASSERT(qr_arp_learn(&t, ip4(10, 2, 1, 1), m, 5) == QR_EFULL);
	CU_ASSERT(qr_arp_add_static(&t, ip4(10, 2, 1, 1), m) == QR_EFULL);
	CU_ASSERT(!qr_arp_need_request(&t, ip4(10, 2, 1, 1), 5));
	CU_ASSERT(t.stats.full == 3 && t.stats.evicted == 0);
	/* existing statics are intact and can still be updated */
	for (uint32_t i = 0; i < n; i++) {
		mac_of(i, m);
		CU_ASSERT(has(ip4(10, 2, 0, (uint8_t)(i + 1)), m, 5));
	}
	mac_of(78, m);
	CU_ASSERT(qr_arp_add_static(&t, ip4(10, 2, 0, 1), m) == 0);
	CU_ASSERT(has(ip4(10, 2, 0, 1), m, 5));
}

/* 128 hosts of a /24 pair and 16 statics in the default table: nothing is
 * evicted, everything is found; the same after 10 rounds of refreshes. */
static void test_half_load_no_eviction(void)
{
	uint8_t m[6];

	fresh(QR_ARP_SLOTS_DEFAULT);
	for (uint32_t i = 0; i < 16; i++) {
		mac_of(1000 + i, m);
		CU_ASSERT(qr_arp_add_static(&t,
					    ip4(192, 168, 1, (uint8_t)i + 1),
					    m) == 0);
	}
	for (int round = 0; round < 10; round++)
		for (uint32_t i = 0; i < 112; i++) {
			mac_of(i, m);
			uint32_t ip = ip4(10, 0, (uint8_t)(i & 1),
					  (uint8_t)(i / 2 + 1));
			CU_ASSERT(qr_arp_learn(&t, ip, m,
					       (uint64_t)round * 1000 + i) ==
				  0);
		}
	CU_ASSERT(t.stats.evicted == 0 && t.stats.full == 0);
	CU_ASSERT(t.stats.learned == 112);
	for (uint32_t i = 0; i < 112; i++) {
		mac_of(i, m);
		CU_ASSERT(
			has(ip4(10, 0, (uint8_t)(i & 1), (uint8_t)(i / 2 + 1)),
			    m, 10000));
	}
	for (uint32_t i = 0; i < 16; i++) {
		mac_of(1000 + i, m);
		CU_ASSERT(has(ip4(192, 168, 1, (uint8_t)i + 1), m, 10000));
	}
}

/*
 * Issue 12 item 4: an ARP packet (unauthenticated) teaches only the answer
 * to our own request; it cannot redirect an entry an authenticated frame
 * proved, nor a static one, nor flush the table with spoofed senders.
 */
static void test_unproven_arp_only_answers_our_request(void)
{
	uint8_t peer[6], evil[6], m[6];
	uint32_t ip = ip4(10, 3, 0, 2);

	fresh(256);
	mac_of(2, peer);
	mac_of(666, evil);
	/* Not asked about: refused, no slot taken. */
	CU_ASSERT(qr_arp_learn_unproven(&t, ip, evil, 10) == QR_EPRECONDITION);
	CU_ASSERT(!has(ip, evil, 10));
	CU_ASSERT(t.stats.refused == 1 && t.stats.learned == 0);
	/* Asked about: the answer is taken (unproven). */
	CU_ASSERT(qr_arp_need_request(&t, ip, 20));
	CU_ASSERT(qr_arp_learn_unproven(&t, ip, peer, 30) == 0);
	CU_ASSERT(has(ip, peer, 30));
	/* The peer's authenticated frame proves it; a spoofed ARP reply
	 * (the redirect of issue 12) changes nothing after that. */
	CU_ASSERT(qr_arp_learn(&t, ip, peer, 40) == 0);
	CU_ASSERT(qr_arp_learn_unproven(&t, ip, evil, 50) == QR_EPRECONDITION);
	CU_ASSERT(has(ip, peer, 50));
	CU_ASSERT(t.stats.refused == 2);
	/* ...until it expires unrefreshed (a peer that changed NIC). */
	CU_ASSERT(qr_arp_learn_unproven(&t, ip, evil, 40 + AGE_US) == 0);
	/* A static entry: never. */
	uint32_t sip = ip4(10, 3, 0, 3);
	CU_ASSERT(qr_arp_add_static(&t, sip, peer) == 0);
	CU_ASSERT(qr_arp_learn_unproven(&t, sip, evil, 60) == QR_EPRECONDITION);
	CU_ASSERT(has(sip, peer, 60));
	/* 290 spoofed senders (issue 12: evicted a peer from 256 slots):
	 * all refused, the proven entry stays, nothing evicted. */
	uint32_t pip = ip4(10, 3, 0, 4);
	CU_ASSERT(qr_arp_learn(&t, pip, peer, 70) == 0);
	for (uint32_t i = 0; i < 290; i++) {
		mac_of(1000 + i, m);
		CU_ASSERT(qr_arp_learn_unproven(
				  &t, ip4(10, 4, (uint8_t)(i >> 8), (uint8_t)i),
				  m, 80) == QR_EPRECONDITION);
	}
	CU_ASSERT(has(pip, peer, 80));
	CU_ASSERT(t.stats.evicted == 0);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"init rejects bad sizes", test_init_rejects_bad_sizes},
		{"learn, lookup, refresh, MAC change",
		 test_learn_lookup_refresh},
		{"dynamic entries expire after age_us", test_expiry},
		{"static entries never expire, win over learning",
		 test_static_entries},
		{"non-unicast IPs and MACs are refused",
		 test_refuses_non_unicast},
		{"requests are rate-limited per IP", test_request_rate_limit},
		{"full table evicts the LRU entry", test_full_table_evicts_lru},
		{"table full of static entries: QR_EFULL", test_full_of_static},
		{"half load: no eviction, all found",
		 test_half_load_no_eviction},
		{"ARP packets teach only answers to our requests (issue 12)",
		 test_unproven_arp_only_answers_our_request},
		{NULL, NULL},
	};
	return qr_unit_main("arp", cases);
}
