/* SPDX-License-Identifier: MIT */
/*
 * Ethernet II / IPv4 / UDP and ARP: parse and build (see packet.h for what
 * is accepted and written).
 *
 * Invariants:
 * - Parsing is total: every load is at an offset checked against len first,
 *   through the memcpy/byte helpers below (no unaligned pointer casts), and
 *   lengths taken from the frame (IHL, total length, UDP length) are bounded
 *   by what is present before anything behind them is read.
 * - Build and parse agree: every frame a builder writes parses back to the
 *   same fields (tests/unit/test_packet.c and tests/fuzz/fuzz_packet.c, which
 *   also checks that a parsed canonical frame rebuilds to the same bytes).
 *
 * Layouts (offsets in bytes from the start of each header):
 *   Ethernet (14): 0 dst mac | 6 src mac | 12 ethertype
 *   IPv4 (20+):    0 version:4 ihl:4 | 1 tos | 2 total len | 4 id |
 *                  6 flags:3 frag offset:13 | 8 ttl | 9 proto | 10 csum |
 *                  12 src | 16 dst | 20 options (ihl*4 - 20)
 *   UDP (8):       0 src port | 2 dst port | 4 length | 6 csum
 *   ARP (28):      0 htype | 2 ptype | 4 hlen | 5 plen | 6 op | 8 sha |
 *                  14 spa | 18 tha | 24 tpa
 * All multi-byte fields are big-endian.
 *
 * Cost: parsing a UDP frame is the two checksums (header: 20 bytes; UDP:
 * the payload at ~8 bytes/cycle) plus ~30 loads and compares.
 */
#include "net/packet.h"

#include <string.h>

#define IP_FLAG_MF	 0x2000
#define IP_FLAG_DF	 0x4000
#define IP_FRAG_OFF_MASK 0x1fff
#define IP_TTL_DEFAULT	 64
#define ARP_HTYPE_ETHER	 1

_Static_assert(QR_PKT_UDP_HDR_BYTES ==
		       QR_ETH_HDR_BYTES + QR_IPV4_HDR_BYTES + QR_UDP_HDR_BYTES,
	       "header sizes");
_Static_assert(QR_PKT_ARP_BYTES == QR_ETH_HDR_BYTES + QR_ARP_BODY_BYTES,
	       "ARP frame size");
_Static_assert(QR_PKT_UDP_PAYLOAD_MAX ==
		       0xffff - QR_IPV4_HDR_BYTES - QR_UDP_HDR_BYTES,
	       "payload max");

/* QR_PKT_DROP_COUNT must match the list, and the values must be -1..-N. */
#define QR_PKT_DROP_ONE(name, value, text) +1
_Static_assert(0 QR_PKT_DROP_LIST(QR_PKT_DROP_ONE) == QR_PKT_DROP_COUNT,
	       "QR_PKT_DROP_COUNT is the number of drop reasons");
#undef QR_PKT_DROP_ONE
#define QR_PKT_DROP_DENSE(name, value, text)                                   \
	_Static_assert((value) < 0 && (value) >= -QR_PKT_DROP_COUNT,           \
		       "drop reasons are -1..-QR_PKT_DROP_COUNT");
QR_PKT_DROP_LIST(QR_PKT_DROP_DENSE)
#undef QR_PKT_DROP_DENSE

const char *qr_pkt_drop_name(int reason)
{
	switch (reason) {
#define QR_PKT_DROP_CASE(name, value, text)                                    \
	case value:                                                            \
		return text;
		QR_PKT_DROP_LIST(QR_PKT_DROP_CASE)
#undef QR_PKT_DROP_CASE
	default:
		return "UNKNOWN_DROP";
	}
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A 16-bit host value as the native word of its big-endian bytes, i.e. the
 * form qr_inet_sum() adds (htons() without <arpa/inet.h>). */
static inline uint16_t net16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t w;

	memcpy(&w, b, sizeof(w));
	return w;
}

/* ------------------------------------------------------------ checksums */

uint64_t qr_inet_sum(const void *buf, size_t len, uint64_t sum)
{
	const uint8_t *p = buf;

	/* Four independent 32-bit lanes per iteration; clang vectorizes the
	 * loop. Each add is < 2^32, so 2^32 adds cannot overflow 64 bits. */
	for (; len >= 16; p += 16, len -= 16) {
		uint32_t w[4];

		memcpy(w, p, sizeof(w));
		sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
	}
	for (; len >= 4; p += 4, len -= 4) {
		uint32_t w;

		memcpy(&w, p, sizeof(w));
		sum += w;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, sizeof(h));
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0; /* the odd byte, padded with zero after it */

		memcpy(&h, p, 1);
		sum += h;
	}
	return sum;
}

uint16_t qr_inet_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32); /* < 2^33 */
	sum = (sum & 0xffffffffu) + (sum >> 32); /* < 2^32 */
	sum = (sum & 0xffffu) + (sum >> 16);	 /* < 2^17 */
	sum = (sum & 0xffffu) + (sum >> 16);	 /* <= 0x10000 */
	sum = (sum & 0xffffu) + (sum >> 16);	 /* <= 0xffff */
	return (uint16_t)sum;
}

uint16_t qr_inet_csum(const void *buf, size_t len)
{
	return (uint16_t)~qr_inet_fold(qr_inet_sum(buf, len, 0));
}

/* The UDP pseudo-header (RFC 768): src, dst, zero, protocol, UDP length. */
static uint64_t pseudo_sum(uint32_t src_ip, uint32_t dst_ip, uint16_t udp_len)
{
	return (uint64_t)src_ip + dst_ip + net16(QR_IPPROTO_UDP) +
	       net16(udp_len);
}

/* -------------------------------------------------------------- parsing */

static int parse_arp(const uint8_t *a, size_t len, struct qr_pkt *out)
{
	if (len < QR_ARP_BODY_BYTES)
		return QR_PKT_DROP_ARP_MALFORMED;
	if (get_be16(a) != ARP_HTYPE_ETHER ||
	    get_be16(a + 2) != QR_ETHERTYPE_IPV4 || a[4] != QR_ETH_ADDR_BYTES ||
	    a[5] != 4)
		return QR_PKT_DROP_ARP_MALFORMED;
	uint16_t op = get_be16(a + 6);
	if (op != QR_ARP_OP_REQUEST && op != QR_ARP_OP_REPLY)
		return QR_PKT_DROP_ARP_MALFORMED;
	if (qr_eth_is_group(a + 8))
		return QR_PKT_DROP_SRC_ADDR;
	out->arp.op = op;
	memcpy(out->arp.sender_mac, a + 8, QR_ETH_ADDR_BYTES);
	memcpy(&out->arp.sender_ip, a + 14, 4);
	memcpy(out->arp.target_mac, a + 18, QR_ETH_ADDR_BYTES);
	memcpy(&out->arp.target_ip, a + 24, 4);
	out->kind = QR_PKT_ARP;
	return QR_PKT_ARP;
}

int qr_pkt_parse(const uint8_t *frame, size_t len, struct qr_pkt *out)
{
	memset(out, 0, sizeof(*out));
	if (len < QR_ETH_HDR_BYTES)
		return QR_PKT_DROP_TOO_SHORT;
	uint16_t ethertype = get_be16(frame + 12);
	if (ethertype != QR_ETHERTYPE_IPV4 && ethertype != QR_ETHERTYPE_ARP)
		return QR_PKT_DROP_NOT_IPV4; /* VLAN tags (0x8100) too */
	if (qr_eth_is_group(frame + 6))
		return QR_PKT_DROP_SRC_ADDR;
	memcpy(out->dst_mac, frame, QR_ETH_ADDR_BYTES);
	memcpy(out->src_mac, frame + 6, QR_ETH_ADDR_BYTES);
	if (ethertype == QR_ETHERTYPE_ARP)
		return parse_arp(frame + QR_ETH_HDR_BYTES,
				 len - QR_ETH_HDR_BYTES, out);

	const uint8_t *ip = frame + QR_ETH_HDR_BYTES;
	size_t ip_avail = len - QR_ETH_HDR_BYTES;
	if (ip_avail < QR_IPV4_HDR_BYTES)
		return QR_PKT_DROP_TOO_SHORT;
	if (ip[0] >> 4 != 4)
		return QR_PKT_DROP_IP_VERSION;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < QR_IPV4_HDR_BYTES || ihl > ip_avail)
		return QR_PKT_DROP_IP_HEADER_LEN;
	size_t total = get_be16(ip + 2);
	if (total < ihl || total > ip_avail)
		return QR_PKT_DROP_IP_TOTAL_LEN; /* bytes past total: padding */
	if (qr_inet_fold(qr_inet_sum(ip, ihl, 0)) != 0xffff)
		return QR_PKT_DROP_IP_CHECKSUM;
	if (get_be16(ip + 6) & (IP_FLAG_MF | IP_FRAG_OFF_MASK))
		return QR_PKT_DROP_IP_FRAGMENT;
	if (ip[9] != QR_IPPROTO_UDP)
		return QR_PKT_DROP_NOT_UDP;
	uint32_t src_ip, dst_ip;
	memcpy(&src_ip, ip + 12, 4);
	memcpy(&dst_ip, ip + 16, 4);
	if (!qr_ipv4_is_unicast(src_ip))
		return QR_PKT_DROP_SRC_ADDR;

	const uint8_t *udp = ip + ihl;
	size_t l4_len = total - ihl;
	if (l4_len < QR_UDP_HDR_BYTES)
		return QR_PKT_DROP_UDP_LENGTH;
	size_t udp_len = get_be16(udp + 4);
	if (udp_len < QR_UDP_HDR_BYTES || udp_len > l4_len)
		return QR_PKT_DROP_UDP_LENGTH;
	uint16_t csum;
	memcpy(&csum, udp + 6, sizeof(csum));
	if (csum != 0) { /* 0: the sender computed none (RFC 768) */
		uint64_t s = pseudo_sum(src_ip, dst_ip, (uint16_t)udp_len);
		if (qr_inet_fold(qr_inet_sum(udp, udp_len, s)) != 0xffff)
			return QR_PKT_DROP_UDP_CHECKSUM;
	}

	out->kind = QR_PKT_UDP;
	out->udp.src_ip = src_ip;
	out->udp.dst_ip = dst_ip;
	out->udp.src_port = get_be16(udp);
	out->udp.dst_port = get_be16(udp + 2);
	out->udp.ip_id = get_be16(ip + 4);
	out->udp.ttl = ip[8];
	out->udp.has_csum = csum != 0;
	out->udp.payload = udp + QR_UDP_HDR_BYTES;
	out->udp.payload_len = (uint16_t)(udp_len - QR_UDP_HDR_BYTES);
	return QR_PKT_UDP;
}

/* ------------------------------------------------------------- building */

size_t qr_pkt_build_udp_headers(uint8_t *hdr, const struct qr_pkt_endpoint *src,
				const struct qr_pkt_endpoint *dst,
				size_t payload_len, const void *payload,
				uint16_t ip_id, unsigned flags)
{
	if (payload_len > QR_PKT_UDP_PAYLOAD_MAX)
		return 0;
	uint16_t udp_len = (uint16_t)(QR_UDP_HDR_BYTES + payload_len);
	uint16_t ip_len = (uint16_t)(QR_IPV4_HDR_BYTES + udp_len);

	memcpy(hdr, dst->mac, QR_ETH_ADDR_BYTES);
	memcpy(hdr + 6, src->mac, QR_ETH_ADDR_BYTES);
	put_be16(hdr + 12, QR_ETHERTYPE_IPV4);

	uint8_t *ip = hdr + QR_ETH_HDR_BYTES;
	ip[0] = 0x45; /* version 4, IHL 5: no options */
	ip[1] = 0;    /* TOS */
	put_be16(ip + 2, ip_len);
	put_be16(ip + 4, ip_id);
	put_be16(ip + 6, IP_FLAG_DF);
	ip[8] = IP_TTL_DEFAULT;
	ip[9] = QR_IPPROTO_UDP;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &src->ip, 4);
	memcpy(ip + 16, &dst->ip, 4);

	uint8_t *udp = ip + QR_IPV4_HDR_BYTES;
	put_be16(udp, src->port);
	put_be16(udp + 2, dst->port);
	put_be16(udp + 4, udp_len);
	udp[6] = udp[7] = 0;

	uint64_t ph = pseudo_sum(src->ip, dst->ip, udp_len);
	uint16_t c;
	if (flags & QR_PKT_F_CSUM_OFFLOAD) {
		/* DPDK: IP csum 0, UDP csum = rte_ipv4_phdr_cksum(). */
		c = qr_inet_fold(ph);
		memcpy(udp + 6, &c, sizeof(c));
		return QR_PKT_UDP_HDR_BYTES;
	}
	c = qr_inet_csum(ip, QR_IPV4_HDR_BYTES);
	memcpy(ip + 10, &c, sizeof(c));
	uint64_t s = qr_inet_sum(udp, QR_UDP_HDR_BYTES, ph);
	if (payload_len)
		s = qr_inet_sum(payload, payload_len, s);
	c = (uint16_t)~qr_inet_fold(s);
	if (c == 0)
		c = 0xffff; /* 0 means "no checksum": send its other form */
	memcpy(udp + 6, &c, sizeof(c));
	return QR_PKT_UDP_HDR_BYTES;
}

size_t qr_pkt_build_udp(uint8_t *buf, size_t cap,
			const struct qr_pkt_endpoint *src,
			const struct qr_pkt_endpoint *dst, const void *payload,
			size_t len, uint16_t ip_id)
{
	if (cap < QR_PKT_UDP_HDR_BYTES || len > cap - QR_PKT_UDP_HDR_BYTES ||
	    len > QR_PKT_UDP_PAYLOAD_MAX)
		return 0;
	if (len)
		memmove(buf + QR_PKT_UDP_HDR_BYTES, payload, len);
	size_t n = qr_pkt_build_udp_headers(
		buf, src, dst, len, buf + QR_PKT_UDP_HDR_BYTES, ip_id, 0);
	return n ? n + len : 0;
}

size_t qr_pkt_build_arp(uint8_t *buf, size_t cap, uint16_t op,
			const uint8_t sender_mac[QR_ETH_ADDR_BYTES],
			uint32_t sender_ip,
			const uint8_t target_mac[QR_ETH_ADDR_BYTES],
			uint32_t target_ip)
{
	static const uint8_t broadcast[QR_ETH_ADDR_BYTES] = {0xff, 0xff, 0xff,
							     0xff, 0xff, 0xff};
	static const uint8_t zero[QR_ETH_ADDR_BYTES];

	if (cap < QR_PKT_ARP_BYTES ||
	    (op != QR_ARP_OP_REQUEST && op != QR_ARP_OP_REPLY))
		return 0;
	bool request = op == QR_ARP_OP_REQUEST;
	memcpy(buf, request ? broadcast : target_mac, QR_ETH_ADDR_BYTES);
	memcpy(buf + 6, sender_mac, QR_ETH_ADDR_BYTES);
	put_be16(buf + 12, QR_ETHERTYPE_ARP);

	uint8_t *a = buf + QR_ETH_HDR_BYTES;
	put_be16(a, ARP_HTYPE_ETHER);
	put_be16(a + 2, QR_ETHERTYPE_IPV4);
	a[4] = QR_ETH_ADDR_BYTES;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, sender_mac, QR_ETH_ADDR_BYTES);
	memcpy(a + 14, &sender_ip, 4);
	memcpy(a + 18, request ? zero : target_mac, QR_ETH_ADDR_BYTES);
	memcpy(a + 24, &target_ip, 4);
	return QR_PKT_ARP_BYTES;
}
