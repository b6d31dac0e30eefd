/* SPDX-License-Identifier: MIT */
/*
 * Packet layer of the data plane: Ethernet II / IPv4 / UDP and ARP frames,
 * parsed and built by pure functions over byte buffers (no DPDK, no
 * allocation), so they are unit-tested and fuzzed on their own and the shard
 * loop calls them on mbuf data.
 *
 * Byte orders: IPv4 addresses are uint32_t in NETWORK byte order (the four
 * bytes as they are on the wire, e.g. from inet_pton()); ports, ARP op and
 * lengths are in host order. MACs are 6-byte arrays in wire order.
 *
 * qr_pkt_parse() is total: for any byte string it returns QR_PKT_UDP or
 * QR_PKT_ARP with `out` filled, or a negative enum qr_pkt_drop reason, and
 * never reads outside [frame, frame + len). What it accepts:
 * - Ethernet II with ethertype 0x0800 (IPv4) or 0x0806 (ARP). 802.1Q/QinQ
 *   VLAN tags, IPv6, LLDP, ... are QR_PKT_DROP_NOT_IPV4 (a DPDK port strips
 *   VLAN tags in hardware if the profile enables it). The Ethernet source
 *   must be unicast. The destination MAC is NOT checked: the caller compares
 *   it (and the destination IP/port) with its own.
 * - IPv4: version 4, IHL >= 5 (options skipped, not interpreted), total
 *   length within the frame (Ethernet padding past it is ignored), a correct
 *   header checksum, no fragment (MF clear and offset 0; DF and the reserved
 *   bit are ignored), protocol UDP, a unicast source address (not 0.0.0.0,
 *   not 224.0.0.0/3: those are never learned as neighbours).
 * - UDP: 8 <= length <= IP payload (bytes past the UDP length are ignored,
 *   as Linux does); checksum 0 means "none" (RFC 768) and is accepted, any
 *   other value must verify over the pseudo-header.
 * - ARP: Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4), op request
 *   or reply, 28 bytes present; the sender IP may be 0.0.0.0 (an RFC 5227
 *   probe), so check before learning (qr_arp_learn() refuses it anyway).
 *
 * Builders write canonical frames: IPv4 header without options, TOS 0,
 * TTL 64, DF set, the given IP id; no Ethernet padding (NICs pad runts on
 * transmit). Checksums are computed in software, or left to the NIC with
 * QR_PKT_F_CSUM_OFFLOAD (see qr_pkt_build_udp_headers()).
 */
#ifndef QR_NET_PACKET_H
#define QR_NET_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_ETH_ADDR_BYTES      6
#define QR_ETH_HDR_BYTES       14
#define QR_IPV4_HDR_BYTES      20 /* without options */
#define QR_UDP_HDR_BYTES       8
#define QR_ARP_BODY_BYTES      28    /* Ethernet/IPv4 ARP */
#define QR_PKT_UDP_HDR_BYTES   42    /* Ethernet + IPv4 + UDP, as built */
#define QR_PKT_ARP_BYTES       42    /* Ethernet + ARP, no padding */
#define QR_PKT_UDP_PAYLOAD_MAX 65507 /* IPv4 total length 65535 - 28 */

#define QR_ETHERTYPE_IPV4 0x0800
#define QR_ETHERTYPE_ARP  0x0806
#define QR_IPPROTO_UDP	  17

#define QR_ARP_OP_REQUEST 1
#define QR_ARP_OP_REPLY	  2

/* Positive results of qr_pkt_parse(). */
enum qr_pkt_kind {
	QR_PKT_UDP = 1,
	QR_PKT_ARP = 2,
};

/*
 * Why a frame was dropped: X(name, value, text). Values are -1..-N with no
 * gap, so -rc - 1 indexes a per-reason counter array of QR_PKT_DROP_COUNT.
 */
#define QR_PKT_DROP_LIST(X)                                                    \
	X(TOO_SHORT, -1, "TOO_SHORT")	       /* < Ethernet or IPv4 header */ \
	X(NOT_IPV4, -2, "NOT_IPV4")	       /* other ethertype, VLAN too */ \
	X(SRC_ADDR, -3, "SRC_ADDR")	       /* non-unicast src MAC or IP */ \
	X(IP_VERSION, -4, "IP_VERSION")	       /* version != 4 */              \
	X(IP_HEADER_LEN, -5, "IP_HEADER_LEN")  /* IHL < 5 or past the frame */ \
	X(IP_TOTAL_LEN, -6, "IP_TOTAL_LEN")    /* < IHL or past the frame */   \
	X(IP_CHECKSUM, -7, "IP_CHECKSUM")      /* header checksum wrong */     \
	X(IP_FRAGMENT, -8, "IP_FRAGMENT")      /* MF set or offset != 0 */     \
	X(NOT_UDP, -9, "NOT_UDP")	       /* IP protocol != 17 */         \
	X(UDP_LENGTH, -10, "UDP_LENGTH")       /* < 8 or > IP payload */       \
	X(UDP_CHECKSUM, -11, "UDP_CHECKSUM")   /* nonzero and wrong */         \
	X(ARP_MALFORMED, -12, "ARP_MALFORMED") /* short, not Eth/IPv4, op */

enum qr_pkt_drop {
#define QR_PKT_DROP_ENUM(name, value, text) QR_PKT_DROP_##name = (value),
	QR_PKT_DROP_LIST(QR_PKT_DROP_ENUM)
#undef QR_PKT_DROP_ENUM
		QR_PKT_DROP_COUNT =
			12, /* number of reasons; checked in packet.c */
};

/* "IP_CHECKSUM" for QR_PKT_DROP_IP_CHECKSUM; "UNKNOWN_DROP" for others. */
const char *qr_pkt_drop_name(int reason);

/* One end of a UDP flow. */
struct qr_pkt_endpoint {
	uint8_t mac[QR_ETH_ADDR_BYTES];
	uint32_t ip;   /* network byte order */
	uint16_t port; /* host order */
};

/*
 * A parsed frame. The Ethernet addresses are filled for both kinds; `udp`
 * for QR_PKT_UDP, `arp` for QR_PKT_ARP (the other is zeroed). payload
 * points into the frame: it lives as long as the frame buffer.
 */
struct qr_pkt {
	uint8_t kind; /* enum qr_pkt_kind */
	uint8_t dst_mac[QR_ETH_ADDR_BYTES];
	uint8_t src_mac[QR_ETH_ADDR_BYTES];
	struct {
		uint32_t src_ip;   /* network order */
		uint32_t dst_ip;   /* network order */
		uint16_t src_port; /* host order */
		uint16_t dst_port; /* host order */
		uint16_t ip_id;	   /* host order */
		uint8_t ttl;
		bool has_csum; /* UDP checksum was present (and verified) */
		const uint8_t *payload;
		uint16_t payload_len;
	} udp;
	struct {
		uint16_t op; /* QR_ARP_OP_REQUEST or QR_ARP_OP_REPLY */
		uint8_t sender_mac[QR_ETH_ADDR_BYTES];
		uint32_t sender_ip; /* network order */
		uint8_t target_mac[QR_ETH_ADDR_BYTES];
		uint32_t target_ip; /* network order */
	} arp;
};

/* Classify a received frame: QR_PKT_UDP, QR_PKT_ARP or -reason (above). */
int qr_pkt_parse(const uint8_t *frame, size_t len, struct qr_pkt *out);

/*
 * Build a whole Ethernet/IPv4/UDP frame into buf with software checksums:
 * returns its length (QR_PKT_UDP_HDR_BYTES + len) or 0 if it does not fit
 * in cap or len > QR_PKT_UDP_PAYLOAD_MAX. payload may be NULL if len is 0;
 * it may not overlap buf.
 */
size_t qr_pkt_build_udp(uint8_t *buf, size_t cap,
			const struct qr_pkt_endpoint *src,
			const struct qr_pkt_endpoint *dst, const void *payload,
			size_t len, uint16_t ip_id);

#define QR_PKT_F_CSUM_OFFLOAD 1u /* leave both checksums to the NIC */

/*
 * Write the QR_PKT_UDP_HDR_BYTES (42) bytes of headers into hdr for a
 * payload of payload_len bytes that is (or will be) right behind them, e.g.
 * after rte_pktmbuf_prepend(m, 42). Returns 42, or 0 (nothing written) if
 * payload_len > QR_PKT_UDP_PAYLOAD_MAX.
 *
 * flags 0: software checksums; payload is read (for the UDP checksum) and
 * must hold payload_len bytes (it need not follow hdr in memory).
 *
 * flags QR_PKT_F_CSUM_OFFLOAD: payload is not read (may be NULL). DPDK's
 * convention for IPv4/UDP checksum offload: the IPv4 header checksum is 0,
 * the UDP checksum field holds the NON-complemented checksum of the
 * pseudo-header only (what rte_ipv4_phdr_cksum() returns). The caller must
 * then set on the mbuf: l2_len = 14, l3_len = 20, ol_flags |=
 * RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM,
 * and the port must have RTE_ETH_TX_OFFLOAD_IPV4_CKSUM and _UDP_CKSUM
 * enabled; otherwise use software checksums (a wrong UDP checksum makes
 * kernel receivers drop the frame silently).
 */
size_t qr_pkt_build_udp_headers(uint8_t *hdr, const struct qr_pkt_endpoint *src,
				const struct qr_pkt_endpoint *dst,
				size_t payload_len, const void *payload,
				uint16_t ip_id, unsigned flags);

/*
 * Build an ARP frame (QR_PKT_ARP_BYTES, no padding): returns 42, or 0 if
 * cap < 42 or op is not request/reply. A request goes to the broadcast MAC
 * with a zero target MAC (target_mac is not read, may be NULL); a reply goes
 * to target_mac. The Ethernet source is sender_mac. IPs in network order.
 */
size_t qr_pkt_build_arp(uint8_t *buf, size_t cap, uint16_t op,
			const uint8_t sender_mac[QR_ETH_ADDR_BYTES],
			uint32_t sender_ip,
			const uint8_t target_mac[QR_ETH_ADDR_BYTES],
			uint32_t target_ip);

/*
 * Internet checksum (RFC 1071). Sums are kept in a 64-bit accumulator of
 * 32-bit words in memory order, so the folded 16-bit result is also in
 * memory (network) order: store it with memcpy, or compare its value with
 * one loaded the same way. Byte-order independence is RFC 1071 2.(B).
 *
 * qr_inet_sum(): add len bytes at buf to sum (start with 0). For chained
 * calls every chunk but the last must have an even length (an odd tail is
 * padded with a zero byte). Fine up to 16 GiB in one accumulator.
 * qr_inet_fold(): fold to 16 bits, not complemented (0xffff for a region
 * with a correct checksum in it).
 * qr_inet_csum(): ~fold(sum(buf, len)), the value to put in a header.
 * Cost: about 8 bytes/cycle for large buffers (auto-vectorized loop).
 */
uint64_t qr_inet_sum(const void *buf, size_t len, uint64_t sum);
uint16_t qr_inet_fold(uint64_t sum);
uint16_t qr_inet_csum(const void *buf, size_t len);

/* True if the MAC is a group (multicast/broadcast) address. */
static inline bool qr_eth_is_group(const uint8_t mac[QR_ETH_ADDR_BYTES])
{
	return (mac[0] & 1) != 0;
}

/* True if ip (network order) is usable as a unicast neighbour address:
 * not 0.0.0.0 and not in 224.0.0.0/3 (multicast, class E, broadcast). */
static inline bool qr_ipv4_is_unicast(uint32_t ip)
{
	const uint8_t *b = (const uint8_t *)&ip;

	return ip != 0 && b[0] < 224;
}

#endif
