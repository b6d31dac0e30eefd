/* SPDX-License-Identifier: MIT */
/*
 * Differential fuzz target for the packet layer (src/net/packet.c). For any
 * input, qr_pkt_parse() must not crash or read outside the input (ASan), and
 * must return QR_PKT_UDP, QR_PKT_ARP or a named drop reason. Every frame it
 * accepts is rebuilt from the parsed fields and parsed again, which must
 * give the same fields (parse(build(x)) == x):
 * - UDP: qr_pkt_build_udp() with the parsed endpoints, payload and IP id;
 *   also qr_pkt_build_udp_headers() in front of the payload must write the
 *   same bytes, and its offload form, finished as a NIC would, too. If the
 *   input was itself canonical (no IP options, TOS 0, DF only, TTL 64, a
 *   UDP checksum, no padding), the rebuilt frame is byte-identical to it.
 * - ARP: qr_pkt_build_arp() with the parsed op and addresses.
 * Each input is checked as it is and again with its IPv4 and UDP checksums
 * made valid (where its lengths allow), so mutations reach the fields
 * behind the checksums; that copy must never fail a checksum. Any
 * violation aborts.
 *
 * Built twice (tests/fuzz/meson.build): as the libFuzzer target fuzz_packet,
 * and with -DQR_FUZZ_REPLAY as packet_replay, a plain program that runs every
 * file of the seed corpus (tests/fuzz/corpus/packet) through the same checks
 * and also checks what the file's name promises: "ok-udp-*" / "ok-arp-*"
 * parse as that kind, "err-<NAME>-*" is dropped for the reason NAME.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/limits.h"
#include "net/packet.h"

#define FRAME_MAX (QR_PKT_UDP_HDR_BYTES + QR_PKT_UDP_PAYLOAD_MAX)

static uint8_t rebuilt[FRAME_MAX], other[FRAME_MAX];

static void assert_udp_equal(const struct qr_pkt *a, const struct qr_pkt *b)
{
	QR_ASSERT(a->kind == QR_PKT_UDP && b->kind == QR_PKT_UDP);
	QR_ASSERT(memcmp(a->dst_mac, b->dst_mac, 6) == 0);
	QR_ASSERT(memcmp(a->src_mac, b->src_mac, 6) == 0);
	QR_ASSERT(a->udp.src_ip == b->udp.src_ip);
	QR_ASSERT(a->udp.dst_ip == b->udp.dst_ip);
	QR_ASSERT(a->udp.src_port == b->udp.src_port);
	QR_ASSERT(a->udp.dst_port == b->udp.dst_port);
	QR_ASSERT(a->udp.ip_id == b->udp.ip_id);
	QR_ASSERT(a->udp.payload_len == b->udp.payload_len);
	QR_ASSERT(a->udp.payload_len == 0 ||
		  memcmp(a->udp.payload, b->udp.payload, a->udp.payload_len) ==
			  0);
}

/* The input is exactly what the builder writes for its fields. */
static bool canonical_udp(const uint8_t *d, size_t n, const struct qr_pkt *p)
{
	const uint8_t *ip = d + QR_ETH_HDR_BYTES;

	return n == (size_t)QR_PKT_UDP_HDR_BYTES + p->udp.payload_len &&
	       ip[0] == 0x45 && ip[1] == 0 && ip[6] == 0x40 && ip[7] == 0 &&
	       ip[8] == 64 && p->udp.has_csum;
}

static void check_udp(const uint8_t *data, size_t size, const struct qr_pkt *p)
{
	struct qr_pkt_endpoint src = {.ip = p->udp.src_ip,
				      .port = p->udp.src_port};
	struct qr_pkt_endpoint dst = {.ip = p->udp.dst_ip,
				      .port = p->udp.dst_port};
	struct qr_pkt q;
	size_t len = p->udp.payload_len;

	QR_ASSERT(p->udp.payload >= data &&
		  p->udp.payload + len <= data + size);
	memcpy(src.mac, p->src_mac, 6);
	memcpy(dst.mac, p->dst_mac, 6);
	size_t n = qr_pkt_build_udp(rebuilt, sizeof(rebuilt), &src, &dst,
				    p->udp.payload, len, p->udp.ip_id);
	QR_ASSERT(n == QR_PKT_UDP_HDR_BYTES + len);
	QR_ASSERT(qr_pkt_parse(rebuilt, n, &q) == QR_PKT_UDP);
	assert_udp_equal(p, &q);
	QR_ASSERT(q.udp.ttl == 64 && q.udp.has_csum);
	if (canonical_udp(data, size, p))
		QR_ASSERT(memcmp(rebuilt, data, n) == 0);

	/* headers in front of a payload in place: the same bytes */
	memcpy(other + QR_PKT_UDP_HDR_BYTES, p->udp.payload, len);
	QR_ASSERT(qr_pkt_build_udp_headers(
			  other, &src, &dst, len, other + QR_PKT_UDP_HDR_BYTES,
			  p->udp.ip_id, 0) == QR_PKT_UDP_HDR_BYTES);
	QR_ASSERT(memcmp(other, rebuilt, n) == 0);

	/* offload form, finished as the NIC does */
	QR_ASSERT(qr_pkt_build_udp_headers(
			  other, &src, &dst, len, NULL, p->udp.ip_id,
			  QR_PKT_F_CSUM_OFFLOAD) == QR_PKT_UDP_HDR_BYTES);
	uint8_t *ip = other + QR_ETH_HDR_BYTES, *udp = ip + QR_IPV4_HDR_BYTES;
	QR_ASSERT(ip[10] == 0 && ip[11] == 0);
	uint16_t c = qr_inet_csum(ip, QR_IPV4_HDR_BYTES);
	memcpy(ip + 10, &c, 2);
	c = qr_inet_csum(udp, QR_UDP_HDR_BYTES + len);
	if (c == 0)
		c = 0xffff;
	memcpy(udp + 6, &c, 2);
	QR_ASSERT(memcmp(other, rebuilt, n) == 0);
}

static void check_arp(const uint8_t *data, size_t size, const struct qr_pkt *p)
{
	struct qr_pkt q;
	uint8_t f[QR_PKT_ARP_BYTES];
	static const uint8_t zero[6];

	(void)data;
	QR_ASSERT(size >= QR_PKT_ARP_BYTES);
	size_t n = qr_pkt_build_arp(f, sizeof(f), p->arp.op, p->arp.sender_mac,
				    p->arp.sender_ip, p->arp.target_mac,
				    p->arp.target_ip);
	QR_ASSERT(n == QR_PKT_ARP_BYTES);
	QR_ASSERT(qr_pkt_parse(f, n, &q) == QR_PKT_ARP);
	QR_ASSERT(q.arp.op == p->arp.op);
	QR_ASSERT(memcmp(q.arp.sender_mac, p->arp.sender_mac, 6) == 0);
	QR_ASSERT(q.arp.sender_ip == p->arp.sender_ip);
	QR_ASSERT(q.arp.target_ip == p->arp.target_ip);
	QR_ASSERT(memcmp(q.src_mac, p->arp.sender_mac, 6) == 0);
	if (p->arp.op == QR_ARP_OP_REPLY) {
		QR_ASSERT(memcmp(q.arp.target_mac, p->arp.target_mac, 6) == 0);
		QR_ASSERT(memcmp(q.dst_mac, p->arp.target_mac, 6) == 0);
	} else {
		QR_ASSERT(memcmp(q.arp.target_mac, zero, 6) == 0);
		QR_ASSERT(q.dst_mac[0] == 0xff && q.dst_mac[5] == 0xff);
	}
}

static int check_frame(const uint8_t *data, size_t size)
{
	struct qr_pkt p;
	int rc = qr_pkt_parse(data, size, &p);

	if (rc == QR_PKT_UDP)
		check_udp(data, size, &p);
	else if (rc == QR_PKT_ARP)
		check_arp(data, size, &p);
	else
		QR_ASSERT(rc < 0 && rc >= -QR_PKT_DROP_COUNT &&
			  strcmp(qr_pkt_drop_name(rc), "UNKNOWN_DROP") != 0);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input with its checksums made valid where the lengths allow, so the
 * fuzzer explores header fields past the checksum checks. The checksums
 * are computed by the reference-tested qr_inet_* helpers.
 */
static size_t fix_checksums(const uint8_t *data, size_t size, uint8_t *f)
{
	memcpy(f, data, size);
	if (size < QR_ETH_HDR_BYTES + QR_IPV4_HDR_BYTES || f[12] != 0x08 ||
	    f[13] != 0x00)
		return size;
	uint8_t *ip = f + QR_ETH_HDR_BYTES;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	size_t total = (size_t)(ip[2] << 8 | ip[3]);
	if (ihl < QR_IPV4_HDR_BYTES || ihl > size - QR_ETH_HDR_BYTES)
		return size;
	ip[10] = ip[11] = 0;
	uint16_t c = qr_inet_csum(ip, ihl);
	memcpy(ip + 10, &c, 2);
	if (ip[9] != QR_IPPROTO_UDP || total > size - QR_ETH_HDR_BYTES ||
	    total < ihl + QR_UDP_HDR_BYTES)
		return size;
	uint8_t *udp = ip + ihl;
	size_t ulen = (size_t)(udp[4] << 8 | udp[5]);
	if (ulen < QR_UDP_HDR_BYTES || ulen > total - ihl ||
	    (udp[6] == 0 && udp[7] == 0))
		return size; /* keep "no checksum" inputs as they are */
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = QR_IPPROTO_UDP;
	ph[10] = (uint8_t)(ulen >> 8);
	ph[11] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	uint64_t sum = qr_inet_sum(ph, sizeof(ph), 0);
	c = (uint16_t)~qr_inet_fold(qr_inet_sum(udp, ulen, sum));
	if (c == 0)
		c = 0xffff;
	memcpy(udp + 6, &c, 2);
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed[1 << 17];

	check_frame(data, size);
	if (size <= sizeof(fixed)) {
		size_t n = fix_checksums(data, size, fixed);
		int rc = check_frame(fixed, n);
		/* with valid checksums no checksum reason is left */
		QR_ASSERT(rc != QR_PKT_DROP_IP_CHECKSUM);
		QR_ASSERT(rc != QR_PKT_DROP_UDP_CHECKSUM);
	}
	return 0;
}

#ifdef QR_FUZZ_REPLAY
#include <dirent.h>

/* What the file's name promises; 0 if it does not say. */
static int check_name(const char *name, const uint8_t *data, size_t size)
{
	int rc = check_frame(data, size);
	const char *got = rc == QR_PKT_UDP   ? "udp"
			  : rc == QR_PKT_ARP ? "arp"
					     : qr_pkt_drop_name(rc);
	const char *want;

	if (strncmp(name, "ok-", 3) == 0)
		want = name + 3;
	else if (strncmp(name, "err-", 4) == 0)
		want = name + 4;
	else
		return 0;
	size_t n = strlen(got);
	if (strncmp(want, got, n) == 0 && (want[n] == '-' || want[n] == '\0'))
		return 0;
	fprintf(stderr, "%s: parser said %s\n", name, got);
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 17];
	unsigned files = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(d)) != NULL) {
			char path[QR_PATH_BYTES_MAX];
			if (e->d_name[0] == '.')
				continue;
			int l = snprintf(path, sizeof(path), "%s/%s", argv[i],
					 e->d_name);
			if (l < 0 || (size_t)l >= sizeof(path)) {
				fprintf(stderr, "%s/%s: path too long\n",
					argv[i], e->d_name);
				return 1;
			}
			FILE *f = fopen(path, "rb");
			if (!f) {
				perror(path);
				return 1;
			}
			size_t n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			failed += check_name(e->d_name, buf, n);
			files++;
		}
		closedir(d);
	}
	printf("packet corpus: %u files, %u failed\n", files, failed);
	if (files == 0) {
		fprintf(stderr, "no corpus files: nothing was checked\n");
		return 1;
	}
	return failed ? 1 : 0;
}
#endif
