/* SPDX-License-Identifier: MIT */
/*
 * The shard loop: one per shard core (lcore), run to completion:
 *
 *   rx burst (own queue, or the software-steering ring) -> parse (ARP is
 *   answered and learned, UDP for us goes on) -> qr_core_on_frame ->
 *   qr_core_flush -> qr_wal_poll -> qr_core_on_wal_durable -> timers ->
 *   snapshot step -> tx burst -> when nothing happened: idle back-off, or
 *   a blocking wait on rx and WAL events (idle = interrupt, idle_wait.h).
 *
 * The core's effects land here: frames become Ethernet/IPv4/UDP mbufs with
 * valid checksums (peers: base_port + shard of the peer, the same shard
 * index; clients: the address the request came from), WAL appends go to
 * this shard's WAL. No lock, no allocation from the heap, no blocking
 * syscall per packet: mbufs come from the port's mempool, the only syscall
 * on the busy path is io_uring submission inside qr_wal_poll.
 *
 * Steering: with one rx queue (af_packet, memif, tap) shard 0 receives
 * everything and forwards frames for other shards over their rte_ring;
 * shards without a tx queue of their own hand mbufs to shard 0's tx ring.
 *
 * Direct links (a memif mesh, src/shard/ports.h): a peer with a link of
 * its own is sent to and heard from on it, on this shard's queue; the
 * port above (port_id) stays for clients and for peers without a link.
 */
#ifndef QR_SHARD_SHARD_H
#define QR_SHARD_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cluster.h"
#include "core/core.h"
#include "wal/wal.h"

struct rte_mempool;
struct rte_ring;
struct qr_shard;
struct qr_link_state;
struct qr_bell_board;

#define QR_SHARD_NONE 0xffffu /* no queue of its own */

/* Data-plane drop reasons (packets, not protocol messages). */
#define QR_SHARD_DROP_LIST(X)                                                  \
	X(PARSE, "not a valid Ethernet/IPv4/UDP or ARP frame")                 \
	X(NOT_FOR_US, "IPv4 destination is not this node")                     \
	X(BAD_PORT, "UDP port is not one of this node's shard ports")          \
	X(STEER_FULL, "software-steering ring to another shard full")          \
	X(NO_MBUF, "mempool empty when sending")                               \
	X(NO_ARP, "destination MAC unknown (ARP request sent)")                \
	X(TX_FULL, "tx queue or ring full")                                    \
	X(WAL_BUSY, "WAL append refused (back-pressure)")                      \
	X(ARP_UNPROVEN, "ARP not learned: not asked for, or over a proven "    \
			"or static entry")                                     \
	X(LINK_DOWN, "direct link (mesh) to the peer down")

enum qr_shard_drop {
#define QR_SHARD_DROP_ENUM(name, text) QR_SHARD_DROP_##name,
	QR_SHARD_DROP_LIST(QR_SHARD_DROP_ENUM)
#undef QR_SHARD_DROP_ENUM
		QR_SHARD_DROP_COUNT
};
const char *qr_shard_drop_name(enum qr_shard_drop d);

struct qr_shard_stats {
	uint64_t rx_pkts, tx_pkts, rx_bursts;
	uint64_t arp_replies, arp_requests, steered;
	uint64_t loops, idle_sleeps;
	uint64_t idle_blocking;	 /* 1: idle = interrupt works here */
	uint64_t idle_waits;	 /* blocking waits (idle = interrupt) */
	uint64_t idle_wal_wakes; /* ... ended by a WAL completion */
	uint64_t idle_bell_wakes; /* ... ended by a doorbell */
	uint64_t bells_rung;	  /* doorbells this shard rang (a sleeper) */
	uint64_t bells_failed;	  /* ... whose datagram sendto refused */
	uint64_t tx_waits; /* yields while the tx queue was full */
	uint64_t spin_short_gaps, spin_long_gaps; /* idle_spin.h S3 */
	uint64_t mesh_rx_pkts, mesh_tx_pkts; /* on direct links (ports.h) */
	uint64_t mesh_reconnects;	     /* memif client link restarts */
	uint64_t client_reconnects;	     /* ... of the client port */
	uint64_t drops[QR_SHARD_DROP_COUNT];
	uint64_t pkt_drops[32]; /* by qr_pkt reason */
};

/* A topology for the core (issue 14; core.h "Topology changes"): set
 * (epoch, owners, pending) if epoch is not the core's, then, with stream,
 * qr_core_stream_begin(). Immutable once handed over; its placements
 * outlive the shard. */
struct qr_shard_topo {
	uint64_t epoch;
	const struct qr_placement *owners;
	const struct qr_placement *pending; /* NULL: no change */
	bool stream;
};

struct qr_shard_config {
	const struct qr_cluster *cluster;
	uint16_t node_id;
	uint16_t shard;
	uint16_t port_id;
	uint16_t rx_queue; /* QR_SHARD_NONE: only the ring */
	uint16_t tx_queue; /* QR_SHARD_NONE: via tx_ring */
	struct rte_mempool *pool;
	struct rte_ring *rx_ring;   /* frames steered to this shard */
	struct rte_ring **rx_rings; /* every shard's rx_ring, by shard */
	struct rte_ring *tx_ring;   /* shard 0's: mbufs to transmit */
	/* Direct links to peers (a memif mesh; ports.h): queue `shard` of
	 * port_id reaches node. None: every peer through port_id. */
	uint16_t mesh_links;
	struct qr_shard_link {
		uint16_t node, port_id;
		bool memif_client; /* reconnect it when down */
		/* shared by every shard: who may burst on the port
		 * (shard/linkstate.h); outlives the shards */
		struct qr_link_state *state;
	} mesh[QR_CLUSTER_NODES_MAX];
	/* The client port is a memif client (qr-vswitch or a DPDK
	 * generator serves it) with one queue pair, which only shard 0
	 * touches (ports.h): restart it while it is down. */
	bool client_memif_client;
	bool tx_checksum_offload;
	bool idle_poll;		    /* never sleep when idle */
	bool idle_interrupt;	    /* block on rx + WAL events when idle
				     * (shard/idle_wait.h), else back-off */
	uint32_t idle_spin_us;	    /* the longest spin after work before a
				     * nap or a block (shard/idle_spin.h) */
	/* Doorbells (shard/doorbell.h; [loop] doorbell): the board every
	 * process of the local cluster maps. NULL: none (nobody rings,
	 * memif cannot block). Outlives the shard. */
	struct qr_bell_board *bell_board;
	uint64_t snapshot_every;    /* WAL records between snapshots; 0 off */
	struct qr_core_config core; /* node_id, shard, placement... set */
	struct qr_wal_config wal;   /* dir, shard, mode... set */
	bool truncate_corrupt;	    /* recovery: cut at mid-log corruption */
	/* The installed topology (server/topo_ctl.h), put on the core
	 * right after it is created, before WAL recovery; NULL: the
	 * config's placement at epoch 0 */
	const struct qr_shard_topo *topo;
};

/*
 * Create the core, recover the store from the WAL (printing what recovery
 * did and how long it took), open the WAL. 0, or an error with a message
 * in err ("wal: <file>: offset N: <reason>", ...).
 */
int qr_shard_create(const struct qr_shard_config *cfg, struct qr_shard **out,
		    char *err, size_t err_len);
/* lcore entry point (arg: struct qr_shard *). Returns at qr_shard_stop. */
int qr_shard_run(void *arg);
/* Ask every running loop to return (signal-safe). */
void qr_shard_stop_all(void);
/* After the loop returned: drain and sync the WAL, free everything.
 * Returns the WAL's close status. */
int qr_shard_destroy(struct qr_shard *s);

const struct qr_shard_stats *qr_shard_stats(const struct qr_shard *s);
struct qr_core *qr_shard_core(struct qr_shard *s);
struct qr_wal *qr_shard_wal(struct qr_shard *s);
const struct qr_wal_recover_stats *qr_shard_recovery(const struct qr_shard *s);
/* Ask the loop for an anti-entropy pass over all its partitions (`quorate
 * repair`). Any thread: an atomic counter the loop polls once a tick and
 * turns into qr_core_ae_request() on its own lcore. */
void qr_shard_ae_request(struct qr_shard *s);
/* Hand the loop a topology (any thread): it installs it on its own lcore
 * at its next tick (as qr_shard_ae_request). t must stay valid until the
 * shard is destroyed. */
void qr_shard_topo_request(struct qr_shard *s, const struct qr_shard_topo *t);
/* Whether the loop has installed t (the latest request); its result (0 or
 * the core's error) in *rc. Any thread. */
bool qr_shard_topo_installed(const struct qr_shard *s,
			     const struct qr_shard_topo *t, int *rc);
/* A settled topology a peer told this shard's core of (core.h
 * qr_core_topology_news, T7), published once the core has no request in
 * flight: true with its epoch and owners. Any thread. */
bool qr_shard_topo_news(const struct qr_shard *s, uint64_t *epoch,
			uint64_t *owners);
/* The test hook (quorated --clock-offset-ms): every shard's wall clock
 * reads CLOCK_REALTIME + ms from now on. Any thread. */
void qr_shard_set_clock_offset_ms(int64_t ms);
int64_t qr_shard_clock_offset_ms(void);
/* The loop's clock (TSC microseconds, as the core sees it). */
uint64_t qr_shard_now_us(const struct qr_shard *s);

#endif
