/* SPDX-License-Identifier: MIT */
/*
 * How libquorate's request engine moves datagrams: a struct of function
 * pointers, so the same engine (request table, timers, reply matching,
 * batching) runs over kernel UDP (client_io.c, what qr_client_open uses)
 * and over quorate-bench's DPDK port (perf/bench/transport_dpdk.c).
 *
 * Invariants: bursts never block; tx_burst sends pkts in order and
 * returns how many went (the rest are lost datagrams, which the engine's
 * resends and deadlines already cover); rx_burst's data stays valid until
 * the next rx_burst on the same endpoint.
 */
#ifndef QR_CLIENT_TRANSPORT_H
#define QR_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "quorate/client.h"

#define QR_CLIENT_BURST 32 /* datagrams per tx/rx burst */

struct qr_client_pkt {
	uint32_t ip;   /* peer IPv4, network byte order */
	uint16_t port; /* peer UDP port, host byte order */
	uint16_t len;  /* payload bytes */
	uint8_t *data; /* payload */
};

struct qr_client_transport {
	unsigned (*tx_burst)(void *ep, const struct qr_client_pkt *pkts,
			     unsigned n);
	/* Datagrams read into pkts (0: none waiting), or QR_EIO. */
	int (*rx_burst)(void *ep, struct qr_client_pkt *pkts, unsigned n);
	/* Sleep until a datagram may be waiting or timeout_ns passed (a
	 * polling transport returns at once). */
	void (*wait)(void *ep, uint64_t timeout_ns);
	int (*fd)(void *ep); /* -1: none to poll on */
	void (*close)(void *ep); /* NULL: the caller owns ep */
};

struct qr_cluster;

/*
 * A handle over any transport (quorate-bench's DPDK port): the cluster is
 * copied; tp->close(ep) runs at qr_client_close() unless tp->close is
 * NULL. NULL with a message in err on failure (ep is then not closed).
 */
struct qr_client *qr_client_open_on(const struct qr_cluster *cl,
				    const struct qr_client_options *opt,
				    const struct qr_client_transport *tp,
				    void *ep, char *err, size_t err_len);

#endif
