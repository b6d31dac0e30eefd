/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the packet layer (src/net/packet.c): build -> parse round
 * trips at every payload size of a 1500 B MTU, the checksums against a slow
 * big-endian reference written here and against frames computed by hand
 * (outside this code), one crafted frame per drop reason, IPv4 options,
 * Ethernet padding, checksum offload headers, ARP frames, and totality:
 * every truncation and random bit flips of valid frames, parsed from a
 * buffer that ends at a PROT_NONE page, so a read past the end faults even
 * without a sanitizer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/rng.h"
#include "net/packet.h"
#include "unit.h"

#define MTU_PAYLOAD_MAX 1472
#define ETH		14
#define IP		14 /* offset of the IPv4 header */
#define UDP		34 /* offset of the UDP header (no options) */

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t x[4] = {a, b, c, d};
	uint32_t v;

	memcpy(&v, x, 4);
	return v;
}

static const struct qr_pkt_endpoint ep_a = {
	.mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
	.port = 5000,
};
static const struct qr_pkt_endpoint ep_b = {
	.mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
	.port = 6000,
};

static struct qr_pkt_endpoint mk_ep(const struct qr_pkt_endpoint *e,
				    uint32_t ip)
{
	struct qr_pkt_endpoint r = *e;

	r.ip = ip;
	return r;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The reference: RFC 1071 literally, big-endian 16-bit words, one at a
 * time, end-around carry after each add. Returns the complemented sum. */
static uint16_t slow_csum2(const uint8_t *a, size_t alen, const uint8_t *b,
			   size_t blen)
{
	uint32_t s = 0;
	uint8_t tmp[70000];

	memcpy(tmp, a, alen);
	if (blen)
		memcpy(tmp + alen, b, blen);
	size_t n = alen + blen;
	if (n & 1)
		tmp[n++] = 0;
	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)(tmp[i] << 8 | tmp[i + 1]);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)~s;
}

static uint16_t slow_csum(const uint8_t *p, size_t n)
{
	return slow_csum2(p, n, NULL, 0);
}

/* Recompute the IPv4 header checksum of frame (header at IP). */
static void fix_ip_csum(uint8_t *f)
{
	size_t ihl = (size_t)(f[IP] & 0x0f) * 4;

	f[IP + 10] = f[IP + 11] = 0;
	put_be16(f + IP + 10, slow_csum(f + IP, ihl));
}

/* Recompute the UDP checksum (UDP header at off, length from it). */
static void fix_udp_csum(uint8_t *f, size_t off)
{
	uint8_t ph[12];
	size_t ulen = be16(f + off + 4);

	memcpy(ph, f + IP + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	put_be16(ph + 10, (uint16_t)ulen);
	f[off + 6] = f[off + 7] = 0;
	uint16_t c = slow_csum2(ph, 12, f + off, ulen);
	put_be16(f + off + 6, c ? c : 0xffff);
}

/* Both checksums of a frame without IP options verify by the reference. */
static void assert_csums_ok(const uint8_t *f)
{
	uint8_t ph[12];
	size_t ulen = be16(f + UDP + 4);

	CU_ASSERT(slow_csum(f + IP, 20) == 0);
	memcpy(ph, f + IP + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	put_be16(ph + 10, (uint16_t)ulen);
	CU_ASSERT(slow_csum2(ph, 12, f + UDP, ulen) == 0);
}

static uint8_t *guard_base;
static size_t guard_page;

/* A copy of buf ending exactly where a PROT_NONE page begins. */
static uint8_t *guarded_copy(const uint8_t *buf, size_t len)
{
	if (!guard_base) {
		guard_page = 1u << 17;
		void *p = mmap(NULL, 2 * guard_page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CU_ASSERT_FATAL(p != MAP_FAILED);
		guard_base = p;
		CU_ASSERT_FATAL(mprotect(guard_base + guard_page, guard_page,
					 PROT_NONE) == 0);
	}
	CU_ASSERT_FATAL(len <= guard_page);
	uint8_t *dst = guard_base + guard_page - len;
	if (len)
		memcpy(dst, buf, len);
	return dst;
}

static uint8_t payload_bytes[QR_PKT_UDP_PAYLOAD_MAX];

static void fill_payload(uint64_t seed)
{
	struct qr_rng r;

	qr_rng_seed(&r, seed);
	for (size_t i = 0; i < sizeof(payload_bytes); i++)
		payload_bytes[i] = (uint8_t)qr_rng_next(&r);
}

static size_t build_ab(uint8_t *f, size_t cap, size_t len)
{
	struct qr_pkt_endpoint a = mk_ep(&ep_a, ip4(10, 0, 0, 1));
	struct qr_pkt_endpoint b = mk_ep(&ep_b, ip4(10, 0, 0, 2));

	return qr_pkt_build_udp(f, cap, &a, &b, payload_bytes, len, 0x1234);
}

static void test_roundtrip_every_payload_size(void)
{
	static uint8_t f[QR_PKT_UDP_HDR_BYTES + MTU_PAYLOAD_MAX];
	struct qr_pkt_endpoint a = mk_ep(&ep_a, ip4(10, 1, 2, 3));
	struct qr_pkt_endpoint b = mk_ep(&ep_b, ip4(192, 168, 7, 9));
	struct qr_pkt p;

	fill_payload(1);
	for (size_t len = 0; len <= MTU_PAYLOAD_MAX; len++) {
		uint16_t id = (uint16_t)(len * 31);
		size_t n = qr_pkt_build_udp(f, sizeof(f), &a, &b, payload_bytes,
					    len, id);
		CU_ASSERT_FATAL(n == QR_PKT_UDP_HDR_BYTES + len);
		assert_csums_ok(f);
		CU_ASSERT(be16(f + IP + 6) == 0x4000); /* DF */
		CU_ASSERT(f[IP + 8] == 64 && f[IP] == 0x45 && f[IP + 1] == 0);
		const uint8_t *g = guarded_copy(f, n);
		CU_ASSERT_FATAL(qr_pkt_parse(g, n, &p) == QR_PKT_UDP);
		CU_ASSERT(p.kind == QR_PKT_UDP);
		CU_ASSERT(memcmp(p.src_mac, a.mac, 6) == 0);
		CU_ASSERT(memcmp(p.dst_mac, b.mac, 6) == 0);
		CU_ASSERT(p.udp.src_ip == a.ip && p.udp.dst_ip == b.ip);
		CU_ASSERT(p.udp.src_port == 5000 && p.udp.dst_port == 6000);
		CU_ASSERT(p.udp.ip_id == id && p.udp.ttl == 64);
		CU_ASSERT(p.udp.has_csum);
		CU_ASSERT(p.udp.payload == g + QR_PKT_UDP_HDR_BYTES);
		CU_ASSERT_FATAL(p.udp.payload_len == len);
		CU_ASSERT(len == 0 ||
			  memcmp(p.udp.payload, payload_bytes, len) == 0);
	}
}

static void test_roundtrip_max_ipv4_payload(void)
{
	static uint8_t f[QR_PKT_UDP_HDR_BYTES + QR_PKT_UDP_PAYLOAD_MAX];
	struct qr_pkt p;

	fill_payload(2);
	size_t n = build_ab(f, sizeof(f), QR_PKT_UDP_PAYLOAD_MAX);
	CU_ASSERT_FATAL(n == sizeof(f));
	CU_ASSERT(be16(f + IP + 2) == 0xffff);
	assert_csums_ok(f);
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, n), n, &p) == QR_PKT_UDP);
	CU_ASSERT(p.udp.payload_len == QR_PKT_UDP_PAYLOAD_MAX);
	/* One more byte does not fit the IPv4 total length. */
	static uint8_t big[sizeof(f) + 1];
	CU_ASSERT(build_ab(big, sizeof(big), QR_PKT_UDP_PAYLOAD_MAX + 1) == 0);
}

static void test_build_capacity(void)
{
	uint8_t f[QR_PKT_UDP_HDR_BYTES + 100];

	fill_payload(3);
	CU_ASSERT(build_ab(f, 0, 0) == 0);
	CU_ASSERT(build_ab(f, 41, 0) == 0);
	CU_ASSERT(build_ab(f, 42, 0) == 42);
	CU_ASSERT(build_ab(f, 141, 100) == 0);
	CU_ASSERT(build_ab(f, 142, 100) == 142);
	CU_ASSERT(build_ab(f, sizeof(f), 101) == 0);
}

/* Checksum helpers against the reference: every length 0..300 at every
 * alignment 0..7, and chained sums split at even offsets. */
static void test_csum_matches_reference(void)
{
	static uint8_t buf[400];
	struct qr_rng r;

	qr_rng_seed(&r, 4);
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = round == 3 ? 0xff : (uint8_t)qr_rng_next(&r);
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 300; len++) {
				uint16_t c = qr_inet_csum(buf + off, len);
				uint16_t want = slow_csum(buf + off, len);
				CU_ASSERT(be16((uint8_t *)&c) == want);
				size_t split = (len / 2) & ~(size_t)1;
				uint64_t s = qr_inet_sum(buf + off, split, 0);
				s = qr_inet_sum(buf + off + split, len - split,
						s);
				uint16_t c2 = (uint16_t)~qr_inet_fold(s);
				CU_ASSERT(c2 == c);
			}
	}
	/* All-ones data: folds never leave a carry behind. */
	CU_ASSERT(qr_inet_fold(0xffffffffffffffffull) == 0xffff);
	CU_ASSERT(qr_inet_fold(0x1fffeull) == 0xffff);
	CU_ASSERT(qr_inet_fold(0x1ffffull) == 0x0001);
	CU_ASSERT(qr_inet_fold(0) == 0);
}

/* Wikipedia's "IPv4 header checksum" example: 4500 0073 0000 4000 4011
 * [b861] c0a8 0001 c0a8 00c7. */
static void test_csum_known_ipv4_header(void)
{
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
			 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
			 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint16_t c = qr_inet_csum(h, sizeof(h));

	CU_ASSERT(((uint8_t *)&c)[0] == 0xb8 && ((uint8_t *)&c)[1] == 0x61);
	memcpy(h + 10, &c, 2);
	CU_ASSERT(qr_inet_fold(qr_inet_sum(h, sizeof(h), 0)) == 0xffff);
}

/* 192.168.0.1:5000 -> 192.168.0.199:6000, "quorate!", id 0x1234, computed
 * outside this code (Python, struct.pack and an RFC 1071 loop): IPv4
 * checksum 0xa67c, UDP checksum 0xab3f. */
static const uint8_t known_frame[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0x12, 0x34,
	0x40, 0x00, 0x40, 0x11, 0xa6, 0x7c, 0xc0, 0xa8, 0x00, 0x01,
	0xc0, 0xa8, 0x00, 0xc7, 0x13, 0x88, 0x17, 0x70, 0x00, 0x10,
	0xab, 0x3f, 0x71, 0x75, 0x6f, 0x72, 0x61, 0x74, 0x65, 0x21};

static void test_known_frame_bytes(void)
{
	struct qr_pkt_endpoint a = mk_ep(&ep_a, ip4(192, 168, 0, 1));
	struct qr_pkt_endpoint b = mk_ep(&ep_b, ip4(192, 168, 0, 199));
	uint8_t f[64];
	struct qr_pkt p;

	size_t n =
		qr_pkt_build_udp(f, sizeof(f), &a, &b, "quorate!", 8, 0x1234);
	CU_ASSERT_FATAL(n == sizeof(known_frame));
	CU_ASSERT(memcmp(f, known_frame, n) == 0);
	CU_ASSERT(qr_pkt_parse(guarded_copy(known_frame, n), n, &p) ==
		  QR_PKT_UDP);
	CU_ASSERT(p.udp.src_ip == a.ip && p.udp.dst_ip == b.ip);
	CU_ASSERT(p.udp.payload_len == 8 &&
		  memcmp(p.udp.payload, "quorate!", 8) == 0);
}

/* A computed UDP checksum of 0 goes out as 0xffff (0 means "none"). */
static void test_udp_csum_zero_sent_as_ffff(void)
{
	uint8_t f[64];
	struct qr_pkt p;
	uint16_t c;

	memset(payload_bytes, 0, 2);
	CU_ASSERT_FATAL(build_ab(f, sizeof(f), 2) == 44);
	memcpy(&c, f + UDP + 6, 2);
	/* payload word = ~sum of the rest: the full sum becomes 0xffff */
	memcpy(payload_bytes, &c, 2);
	CU_ASSERT_FATAL(build_ab(f, sizeof(f), 2) == 44);
	CU_ASSERT(f[UDP + 6] == 0xff && f[UDP + 7] == 0xff);
	CU_ASSERT(qr_pkt_parse(f, 44, &p) == QR_PKT_UDP);
	CU_ASSERT(p.udp.has_csum);
}

static void test_udp_csum_absent_accepted(void)
{
	uint8_t f[64];
	struct qr_pkt p;

	fill_payload(5);
	CU_ASSERT_FATAL(build_ab(f, sizeof(f), 10) == 52);
	f[UDP + 6] = f[UDP + 7] = 0;
	f[UDP + 8] ^= 0x40; /* not covered by any checksum now */
	CU_ASSERT(qr_pkt_parse(f, 52, &p) == QR_PKT_UDP);
	CU_ASSERT(!p.udp.has_csum && p.udp.payload_len == 10);
}

/* Headers written in front of a payload already in place (the mbuf path)
 * are the bytes qr_pkt_build_udp() writes. */
static void test_headers_in_front_of_payload(void)
{
	struct qr_pkt_endpoint a = mk_ep(&ep_a, ip4(10, 0, 0, 1));
	struct qr_pkt_endpoint b = mk_ep(&ep_b, ip4(10, 0, 0, 2));
	static uint8_t f1[1600], f2[1600];

	fill_payload(6);
	for (size_t len = 0; len <= MTU_PAYLOAD_MAX; len += 97) {
		size_t n = qr_pkt_build_udp(f1, sizeof(f1), &a, &b,
					    payload_bytes, len, 7);
		memset(f2, 0xee, sizeof(f2));
		memcpy(f2 + 42, payload_bytes, len);
		CU_ASSERT(qr_pkt_build_udp_headers(f2, &a, &b, len, f2 + 42, 7,
						   0) == 42);
		CU_ASSERT(memcmp(f1, f2, n) == 0);
	}
	CU_ASSERT(qr_pkt_build_udp_headers(f2, &a, &b,
					   QR_PKT_UDP_PAYLOAD_MAX + 1, f2, 7,
					   0) == 0);
}

/* Offload: IP checksum 0, UDP checksum = the non-complemented pseudo-header
 * sum (rte_ipv4_phdr_cksum()); finishing them as a NIC does gives the
 * software frame. */
static void test_offload_headers(void)
{
	struct qr_pkt_endpoint a = mk_ep(&ep_a, ip4(172, 16, 0, 10));
	struct qr_pkt_endpoint b = mk_ep(&ep_b, ip4(172, 16, 3, 20));
	static uint8_t sw[1600], hw[1600];
	struct qr_pkt p;

	fill_payload(7);
	for (size_t len = 0; len <= MTU_PAYLOAD_MAX; len += 131) {
		size_t n = qr_pkt_build_udp(sw, sizeof(sw), &a, &b,
					    payload_bytes, len, 99);
		memcpy(hw + 42, payload_bytes, len);
		CU_ASSERT(qr_pkt_build_udp_headers(hw, &a, &b, len, NULL, 99,
						   QR_PKT_F_CSUM_OFFLOAD) ==
			  42);
		CU_ASSERT(hw[IP + 10] == 0 && hw[IP + 11] == 0);
		/* pseudo-header, by the reference: ~csum = the plain sum */
		uint8_t ph[12];
		memcpy(ph, &a.ip, 4);
		memcpy(ph + 4, &b.ip, 4);
		ph[8] = 0;
		ph[9] = 17;
		put_be16(ph + 10, (uint16_t)(8 + len));
		uint16_t ph_sum = (uint16_t)~slow_csum(ph, 12);
		CU_ASSERT(be16(hw + UDP + 6) == ph_sum);
		/* the NIC: IP checksum; UDP checksum over the L4 bytes with
		 * the field seeded by the pseudo-header sum */
		put_be16(hw + IP + 10, slow_csum(hw + IP, 20));
		uint16_t c = slow_csum(hw + UDP, 8 + len);
		put_be16(hw + UDP + 6, c ? c : 0xffff);
		CU_ASSERT(memcmp(sw, hw, n) == 0);
		CU_ASSERT(qr_pkt_parse(hw, n, &p) == QR_PKT_UDP);
	}
}

/* IPv4 options are skipped by IHL; the UDP checksum does not cover them. */
static void test_ipv4_options(void)
{
	uint8_t f[128], g[160];
	struct qr_pkt p;

	fill_payload(8);
	size_t n = build_ab(f, sizeof(f), 20);
	for (size_t opt = 4; opt <= 40; opt += 4) {
		memcpy(g, f, UDP);
		memset(g + UDP, 1, opt); /* NOP options */
		memcpy(g + UDP + opt, f + UDP, n - UDP);
		g[IP] = (uint8_t)(0x40 | (20 + opt) / 4);
		put_be16(g + IP + 2, (uint16_t)(20 + opt + 28));
		fix_ip_csum(g);
		CU_ASSERT_FATAL(qr_pkt_parse(guarded_copy(g, n + opt), n + opt,
					     &p) == QR_PKT_UDP);
		CU_ASSERT(p.udp.payload_len == 20);
		CU_ASSERT(memcmp(p.udp.payload, payload_bytes, 20) == 0);
		CU_ASSERT(p.udp.src_port == 5000 && p.udp.dst_port == 6000);
	}
}

/* Bytes after the IP total length (Ethernet padding to 60 bytes, or more)
 * and after the UDP length are ignored. */
static void test_ethernet_padding(void)
{
	uint8_t f[128];
	struct qr_pkt p;

	fill_payload(9);
	size_t n = build_ab(f, sizeof(f), 3); /* 45 bytes: a runt */
	memset(f + n, 0xa5, sizeof(f) - n);
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, 60), 60, &p) == QR_PKT_UDP);
	CU_ASSERT(p.udp.payload_len == 3);
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, sizeof(f)), sizeof(f), &p) ==
		  QR_PKT_UDP);
	/* UDP length shorter than the IP payload: the tail is ignored. */
	n = build_ab(f, sizeof(f), 30);
	put_be16(f + UDP + 4, 8 + 10);
	fix_udp_csum(f, UDP);
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, n), n, &p) == QR_PKT_UDP);
	CU_ASSERT(p.udp.payload_len == 10);
}

/* ------------------------------------------------------- drop reasons */

static int drops_seen[QR_PKT_DROP_COUNT + 1];

static void expect_drop(const uint8_t *f, size_t n, int want)
{
	struct qr_pkt p;
	int rc = qr_pkt_parse(guarded_copy(f, n), n, &p);

	if (rc != want)
		fprintf(stderr, "\n  got %s, want %s\n", qr_pkt_drop_name(rc),
			qr_pkt_drop_name(want));
	CU_ASSERT(rc == want);
	if (rc < 0 && rc >= -QR_PKT_DROP_COUNT)
		drops_seen[-rc]++;
}

static void test_every_drop_reason(void)
{
	uint8_t v[128], f[128];
	size_t n;

	fill_payload(10);
	n = build_ab(v, sizeof(v), 16);
#define FRESH() memcpy(f, v, sizeof(v))

	FRESH();
	expect_drop(f, 0, QR_PKT_DROP_TOO_SHORT);
	expect_drop(f, 13, QR_PKT_DROP_TOO_SHORT);
	expect_drop(f, 14 + 19, QR_PKT_DROP_TOO_SHORT);

	put_be16(f + 12, 0x86dd); /* IPv6 */
	expect_drop(f, n, QR_PKT_DROP_NOT_IPV4);
	put_be16(f + 12, 0x8100); /* an 802.1Q VLAN tag */
	expect_drop(f, n, QR_PKT_DROP_NOT_IPV4);

	FRESH();
	f[6] |= 1; /* multicast source MAC */
	expect_drop(f, n, QR_PKT_DROP_SRC_ADDR);
	static const uint8_t bad_src[][4] = {{0, 0, 0, 0},
					     {224, 0, 0, 1},
					     {239, 1, 2, 3},
					     {255, 255, 255, 255}};
	for (size_t i = 0; i < QR_ARRAY_LEN(bad_src); i++) {
		FRESH();
		memcpy(f + IP + 12, bad_src[i], 4);
		fix_ip_csum(f);
		fix_udp_csum(f, UDP);
		expect_drop(f, n, QR_PKT_DROP_SRC_ADDR);
	}

	FRESH();
	f[IP] = 0x65;
	expect_drop(f, n, QR_PKT_DROP_IP_VERSION);

	FRESH();
	f[IP] = 0x44; /* IHL 4 */
	expect_drop(f, n, QR_PKT_DROP_IP_HEADER_LEN);
	f[IP] = 0x4f; /* 60 bytes; the frame has 44 after Ethernet */
	expect_drop(f, n, QR_PKT_DROP_IP_HEADER_LEN);

	FRESH();
	put_be16(f + IP + 2, 19);
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_IP_TOTAL_LEN);
	FRESH();
	put_be16(f + IP + 2, (uint16_t)(n - 14 + 1));
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_IP_TOTAL_LEN);

	FRESH();
	f[IP + 8] = 63; /* TTL changed, checksum not */
	expect_drop(f, n, QR_PKT_DROP_IP_CHECKSUM);
	FRESH();
	f[IP + 10] ^= 0x01;
	expect_drop(f, n, QR_PKT_DROP_IP_CHECKSUM);

	FRESH();
	put_be16(f + IP + 6, 0x2000); /* MF */
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_IP_FRAGMENT);
	put_be16(f + IP + 6, 0x4001); /* DF and offset 8: a last fragment */
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_IP_FRAGMENT);

	FRESH();
	f[IP + 9] = 6; /* TCP */
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_NOT_UDP);

	FRESH();
	put_be16(f + IP + 2, 20 + 7); /* room for 7 bytes of UDP */
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_UDP_LENGTH);
	FRESH();
	put_be16(f + UDP + 4, 7);
	expect_drop(f, n, QR_PKT_DROP_UDP_LENGTH);
	put_be16(f + UDP + 4, (uint16_t)(n - UDP + 1));
	expect_drop(f, n, QR_PKT_DROP_UDP_LENGTH);

	FRESH();
	f[n - 1] ^= 0x80; /* payload */
	expect_drop(f, n, QR_PKT_DROP_UDP_CHECKSUM);
	FRESH();
	f[UDP + 1] ^= 0x01; /* port */
	expect_drop(f, n, QR_PKT_DROP_UDP_CHECKSUM);
	FRESH();
	f[IP + 19] ^= 0x01; /* destination IP: in the pseudo-header only */
	fix_ip_csum(f);
	expect_drop(f, n, QR_PKT_DROP_UDP_CHECKSUM);

	/* ARP */
	uint8_t arp[64];
	size_t an =
		qr_pkt_build_arp(arp, sizeof(arp), QR_ARP_OP_REQUEST, ep_a.mac,
				 ip4(10, 0, 0, 1), NULL, ip4(10, 0, 0, 2));
	CU_ASSERT_FATAL(an == QR_PKT_ARP_BYTES);
	expect_drop(arp, an - 1, QR_PKT_DROP_ARP_MALFORMED);
	expect_drop(arp, 14, QR_PKT_DROP_ARP_MALFORMED);
	static const struct {
		size_t off;
		uint8_t val;
	} arp_bad[] = {
		{ETH + 1, 6},	 /* htype IEEE 802 */
		{ETH + 2, 0x86}, /* ptype */
		{ETH + 4, 8},	 /* hlen */
		{ETH + 5, 16},	 /* plen */
		{ETH + 7, 3},	 /* op RARP request */
		{ETH + 7, 0},	 /* op 0 */
	};
	for (size_t i = 0; i < QR_ARRAY_LEN(arp_bad); i++) {
		uint8_t g[64];
		memcpy(g, arp, an);
		g[arp_bad[i].off] = arp_bad[i].val;
		expect_drop(g, an, QR_PKT_DROP_ARP_MALFORMED);
	}
	uint8_t g[64];
	memcpy(g, arp, an);
	g[ETH + 8] |= 1; /* group sender MAC */
	expect_drop(g, an, QR_PKT_DROP_SRC_ADDR);
#undef FRESH

	for (int r = 1; r <= QR_PKT_DROP_COUNT; r++) {
		if (!drops_seen[r])
			fprintf(stderr, "\n  no test for %s\n",
				qr_pkt_drop_name(-r));
		CU_ASSERT(drops_seen[r] > 0);
	}
}

static void test_drop_names(void)
{
	CU_ASSERT(strcmp(qr_pkt_drop_name(QR_PKT_DROP_TOO_SHORT),
			 "TOO_SHORT") == 0);
	CU_ASSERT(strcmp(qr_pkt_drop_name(QR_PKT_DROP_ARP_MALFORMED),
			 "ARP_MALFORMED") == 0);
	CU_ASSERT(strcmp(qr_pkt_drop_name(0), "UNKNOWN_DROP") == 0);
	CU_ASSERT(strcmp(qr_pkt_drop_name(-QR_PKT_DROP_COUNT - 1),
			 "UNKNOWN_DROP") == 0);
	CU_ASSERT(strcmp(qr_pkt_drop_name(QR_PKT_UDP), "UNKNOWN_DROP") == 0);
	for (int r = 1; r <= QR_PKT_DROP_COUNT; r++)
		CU_ASSERT(strcmp(qr_pkt_drop_name(-r), "UNKNOWN_DROP") != 0);
}

/* -------------------------------------------------------------- ARP */

static void test_arp_request_reply(void)
{
	uint8_t f[64];
	struct qr_pkt p;
	uint32_t ia = ip4(10, 0, 0, 1), ib = ip4(10, 0, 0, 2);
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[6];

	size_t n = qr_pkt_build_arp(f, sizeof(f), QR_ARP_OP_REQUEST, ep_a.mac,
				    ia, ep_b.mac, ib);
	CU_ASSERT_FATAL(n == QR_PKT_ARP_BYTES);
	/* golden bytes of the body */
	static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
	CU_ASSERT(memcmp(f + ETH, hdr, 8) == 0);
	CU_ASSERT(be16(f + 12) == 0x0806);
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, n), n, &p) == QR_PKT_ARP);
	CU_ASSERT(p.kind == QR_PKT_ARP && p.arp.op == QR_ARP_OP_REQUEST);
	CU_ASSERT(memcmp(p.dst_mac, bcast, 6) == 0);
	CU_ASSERT(memcmp(p.src_mac, ep_a.mac, 6) == 0);
	CU_ASSERT(memcmp(p.arp.sender_mac, ep_a.mac, 6) == 0);
	CU_ASSERT(memcmp(p.arp.target_mac, zero, 6) == 0);
	CU_ASSERT(p.arp.sender_ip == ia && p.arp.target_ip == ib);
	CU_ASSERT(p.udp.payload == NULL);

	n = qr_pkt_build_arp(f, sizeof(f), QR_ARP_OP_REPLY, ep_b.mac, ib,
			     ep_a.mac, ia);
	CU_ASSERT_FATAL(n == QR_PKT_ARP_BYTES);
	memset(f + n, 0, 60 - n); /* padded to the Ethernet minimum */
	CU_ASSERT(qr_pkt_parse(guarded_copy(f, 60), 60, &p) == QR_PKT_ARP);
	CU_ASSERT(p.arp.op == QR_ARP_OP_REPLY);
	CU_ASSERT(memcmp(p.dst_mac, ep_a.mac, 6) == 0);
	CU_ASSERT(memcmp(p.src_mac, ep_b.mac, 6) == 0);
	CU_ASSERT(memcmp(p.arp.sender_mac, ep_b.mac, 6) == 0);
	CU_ASSERT(memcmp(p.arp.target_mac, ep_a.mac, 6) == 0);
	CU_ASSERT(p.arp.sender_ip == ib && p.arp.target_ip == ia);

	/* An RFC 5227 probe (sender IP 0) parses: the caller must not learn
	 * from it. */
	n = qr_pkt_build_arp(f, sizeof(f), QR_ARP_OP_REQUEST, ep_a.mac, 0, NULL,
			     ib);
	CU_ASSERT(qr_pkt_parse(f, n, &p) == QR_PKT_ARP && p.arp.sender_ip == 0);

	CU_ASSERT(qr_pkt_build_arp(f, 41, QR_ARP_OP_REQUEST, ep_a.mac, ia, NULL,
				   ib) == 0);
	CU_ASSERT(qr_pkt_build_arp(f, sizeof(f), 3, ep_a.mac, ia, NULL, ib) ==
		  0);
}

/* ------------------------------------------------------- totality */

/* Every proper prefix of valid frames is rejected, read from a buffer that
 * ends at the prefix (a read past it faults). */
static void test_every_truncation_rejected(void)
{
	uint8_t f[256], g[256];
	struct qr_pkt p;

	fill_payload(11);
	size_t lens[3];
	size_t n = build_ab(f, sizeof(f), 100);
	/* a copy with 12 bytes of options */
	memcpy(g, f, UDP);
	memset(g + UDP, 1, 12);
	memcpy(g + UDP + 12, f + UDP, n - UDP);
	g[IP] = 0x48;
	put_be16(g + IP + 2, (uint16_t)(be16(f + IP + 2) + 12));
	fix_ip_csum(g);
	uint8_t a[64];
	size_t an =
		qr_pkt_build_arp(a, sizeof(a), QR_ARP_OP_REPLY, ep_a.mac,
				 ip4(1, 2, 3, 4), ep_b.mac, ip4(1, 2, 3, 5));
	const uint8_t *bufs[3] = {f, g, a};
	lens[0] = n;
	lens[1] = n + 12;
	lens[2] = an;
	for (int k = 0; k < 3; k++) {
		size_t len = lens[k];
		CU_ASSERT(qr_pkt_parse(guarded_copy(bufs[k], len), len, &p) >
			  0);
		for (size_t cut = 0; cut < len; cut++) {
			int rc = qr_pkt_parse(guarded_copy(bufs[k], cut), cut,
					      &p);
			CU_ASSERT(rc < 0 && rc >= -QR_PKT_DROP_COUNT);
		}
	}
}

/*
 * Single bit flips of valid frames: parse never faults, and a flip in any
 * byte covered by a checksum (IPv4 header, UDP header and payload) is
 * caught. The one allowed escape: a flip that turns the UDP checksum into
 * 0 ("no checksum"). Flips in the Ethernet header may pass (no FCS here).
 * Then random bytes over a valid header: any result, no fault.
 */
static void test_random_bit_flips(void)
{
	static uint8_t f[QR_PKT_UDP_HDR_BYTES + MTU_PAYLOAD_MAX];
	struct qr_rng r;
	struct qr_pkt p;
	unsigned caught = 0, ok = 0;

	qr_rng_seed(&r, 12);
	for (int i = 0; i < 20000; i++) {
		size_t len = qr_rng_below(&r, 200);
		if (i % 50 == 0)
			len = MTU_PAYLOAD_MAX - qr_rng_below(&r, 64);
		for (size_t j = 0; j < len; j++)
			payload_bytes[j] = (uint8_t)qr_rng_next(&r);
		size_t n = build_ab(f, sizeof(f), len);
		size_t bit = qr_rng_below(&r, n * 8);
		f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = qr_pkt_parse(guarded_copy(f, n), n, &p);
		size_t at = bit / 8;
		if (at >= IP) {
			bool csum_zero = (at == UDP + 6 || at == UDP + 7) &&
					 f[UDP + 6] == 0 && f[UDP + 7] == 0;
			if (!csum_zero) {
				CU_ASSERT(rc < 0);
				caught += rc < 0;
			}
		} else {
			ok += rc == QR_PKT_UDP;
		}
		CU_ASSERT(rc == QR_PKT_UDP || rc == QR_PKT_ARP ||
			  (rc < 0 && rc >= -QR_PKT_DROP_COUNT));
	}
	CU_ASSERT(caught > 10000 && ok > 0);

	/* Random garbage behind a plausible Ethernet + IPv4 start. */
	for (int i = 0; i < 20000; i++) {
		size_t n = qr_rng_below(&r, 120);
		for (size_t j = 0; j < n; j++)
			f[j] = (uint8_t)qr_rng_next(&r);
		if (n > 14 && (i & 1)) {
			put_be16(f + 12, (i & 2) ? 0x0800 : 0x0806);
			f[6] &= 0xfe;
			if (n > 15 && (i & 2))
				f[IP] = (uint8_t)(0x45 + (i >> 2) % 3);
		}
		int rc = qr_pkt_parse(guarded_copy(f, n), n, &p);
		CU_ASSERT(rc == QR_PKT_UDP || rc == QR_PKT_ARP ||
			  (rc < 0 && rc >= -QR_PKT_DROP_COUNT));
	}
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"roundtrip every payload size 0..1472",
		 test_roundtrip_every_payload_size},
		{"roundtrip max IPv4 payload 65507",
		 test_roundtrip_max_ipv4_payload},
		{"build respects capacity", test_build_capacity},
		{"checksum matches the RFC 1071 reference",
		 test_csum_matches_reference},
		{"checksum of a known IPv4 header",
		 test_csum_known_ipv4_header},
		{"built frame equals hand-computed bytes",
		 test_known_frame_bytes},
		{"UDP checksum 0 is sent as 0xffff",
		 test_udp_csum_zero_sent_as_ffff},
		{"UDP checksum 0 (none) is accepted",
		 test_udp_csum_absent_accepted},
		{"headers in front of a payload in place",
		 test_headers_in_front_of_payload},
		{"offload headers follow DPDK's convention",
		 test_offload_headers},
		{"IPv4 options are skipped", test_ipv4_options},
		{"Ethernet padding and UDP tail are ignored",
		 test_ethernet_padding},
		{"every drop reason from a crafted frame",
		 test_every_drop_reason},
		{"drop reason names", test_drop_names},
		{"ARP request and reply build/parse", test_arp_request_reply},
		{"every truncation is rejected in bounds",
		 test_every_truncation_rejected},
		{"random bit flips are caught, never fault",
		 test_random_bit_flips},
		{NULL, NULL},
	};
	return qr_unit_main("packet", cases);
}
