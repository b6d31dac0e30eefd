/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's transports. Requests are libquorate's asynchronous
 * engine in every case (engine.c); what differs is how its datagrams move:
 *
 *   "udp"   the public client as is (qr_client_open: its own kernel UDP
 *           socket, sendmmsg/recvmmsg); every hook here is NULL;
 *   "dpdk"  transport_dpdk.c: one DPDK port opened from any drivers-conf
 *           profile, one rx/tx queue pair per thread, threads on EAL
 *           lcores, handed to the engine through client_transport.h
 *           (qr_client_open_on). Bursts return a count and never fail;
 *           what a burst did not take is the caller's to count.
 *
 * The optional hooks (NULL for udp): setup once before the first phase
 * (it may lower the thread count to what the device allows), launch/join
 * to run each phase's workers on the transport's own threads, teardown
 * once at exit.
 */
#ifndef QR_BENCH_TRANSPORT_H
#define QR_BENCH_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client_transport.h"

/* Datagrams are libquorate's (the request engine runs over these
 * transports through client/client_transport.h). */
#define BENCH_BURST QR_CLIENT_BURST

struct qr_cluster;

/* What a transport's setup needs (only dpdk uses it). */
struct bench_transport_setup {
	const struct qr_cluster *cluster;
	const char *profile; /* drivers-conf/X.ini */
	const char *iface;   /* {iface}; may be NULL */
	const char *pci;     /* {pci}; may be NULL */
	const char *run_dir; /* {run}; may be NULL */
	uint32_t gen_ip;     /* the generator's IPv4, network byte order */
	uint8_t gen_mac[6];  /* with has_gen_mac; else the port's MAC */
	bool has_gen_mac;
	uint16_t gen_port; /* first generator UDP port, host order */
	bool busy_poll;	   /* --busy-poll */
	bool memif_direct; /* --memif-direct: a memif server per node */
	unsigned threads;  /* in: wanted; out: what the device allows */
};

struct bench_transport_ops {
	const char *name;
	/* A per-thread endpoint, or NULL with a message in err. */
	void *(*open)(unsigned thread, char *err, size_t err_len);
	/* Send pkts[0..n) in order; returns how many went (stops at the
	 * first that could not: a full socket buffer). */
	unsigned (*tx_burst)(void *ep, const struct qr_client_pkt *pkts,
			     unsigned n);
	/* Up to n datagrams into pkts; 0 when none is waiting. */
	unsigned (*rx_burst)(void *ep, struct qr_client_pkt *pkts, unsigned n);
	/* Sleep until a datagram may be waiting or timeout_ns passes (a
	 * polling transport returns at once). */
	void (*wait)(void *ep, uint64_t timeout_ns);
	void (*close)(void *ep);
	/* Optional. 0, or -1 with a message in err. */
	int (*setup)(struct bench_transport_setup *s, char *err,
		     size_t err_len);
	/* Optional: run fn(arg) as worker `thread` (0 or -1), then wait. */
	int (*launch)(unsigned thread, void *(*fn)(void *), void *arg);
	void (*join)(unsigned thread);
	/* Optional: after the last phase (prints the transport's counters). */
	void (*teardown)(void);
};

extern const struct bench_transport_ops bench_transport_udp;
extern const struct bench_transport_ops bench_transport_dpdk;

#endif
