/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's transports: the engine sees only a struct of function
 * pointers (as canonical/raft's raft_io, or l3fwd's mode table), so a DPDK
 * port can replace kernel UDP without touching the engine. Bursts return a
 * count and never fail; what a burst did not take is the caller's to count.
 *
 * Implemented: "udp" (one non-blocking kernel UDP socket per thread,
 * sendmmsg/recvmmsg). Not yet: "dpdk" (any drivers-conf profile).
 */
#ifndef QR_BENCH_TRANSPORT_H
#define QR_BENCH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_BURST 32 /* datagrams per tx/rx burst */

struct bench_pkt {
	uint32_t ip;   /* peer IPv4, network byte order */
	uint16_t port; /* peer UDP port, host byte order */
	uint16_t len;  /* payload bytes */
	uint8_t *data; /* payload; rx: the transport's, valid until the next
			* rx_burst on this endpoint */
};

struct bench_transport_ops {
	const char *name;
	/* A per-thread endpoint, or NULL with a message in err. */
	void *(*open)(unsigned thread, char *err, size_t err_len);
	/* Send pkts[0..n) in order; returns how many went (stops at the
	 * first that could not: a full socket buffer). */
	unsigned (*tx_burst)(void *ep, const struct bench_pkt *pkts,
			     unsigned n);
	/* Up to n datagrams into pkts; 0 when none is waiting. */
	unsigned (*rx_burst)(void *ep, struct bench_pkt *pkts, unsigned n);
	/* Sleep until a datagram may be waiting or timeout_ns passes (a
	 * polling transport returns at once). */
	void (*wait)(void *ep, uint64_t timeout_ns);
	void (*close)(void *ep);
};

extern const struct bench_transport_ops bench_transport_udp;

#endif
