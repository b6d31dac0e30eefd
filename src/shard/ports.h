/* SPDX-License-Identifier: MIT */
/*
 * A shard's DPDK ports (issue 11 item 4): the client port, and a direct
 * link to each peer node where the node has one (a memif mesh: one memif
 * port per node pair, one queue pair per shard on it).
 *
 * Invariants:
 * - Index 0 is the client port: the profile's device (a NIC, af_packet,
 *   or the memif to qr-vswitch), with its own tx queue or shard 0's tx
 *   ring. Clients are always answered there; a peer without a link of its
 *   own is reached there too (through the switch or the wire).
 * - Index k >= 1 is the link to one peer node; shard i uses queue i of it
 *   for rx and tx. A node sends to a peer's shard i only from its own
 *   shard i, so frames on a link need no steering.
 * - peer[node] says which index reaches node: a table lookup per frame,
 *   nothing else. Every index has its own tx buffer of up to
 *   QR_PORTS_TX_BUF frames, flushed when full and at the end of every
 *   loop iteration (no frame waits for the next one).
 * - A port whose other end may sleep (a doorbell, shard/doorbell.h) has
 *   its bell rung after every tx burst that sent something: a fence and
 *   a shared load, a syscall only when the other end is asleep (B2).
 * - No syscall per packet: rx is one rte_eth_rx_burst per port per
 *   iteration (a memif ring read when idle). The only other calls are the
 *   link reads: shard 0's watchdog once per QR_PORTS_CHECK_US (every
 *   QR_PORTS_DOWN_CHECK_US while a link is down), and any shard's when a
 *   link took nothing (it may have lost its peer: dropped as LINK_DOWN
 *   at once, no wait).
 * - Each link's state is shared by the node's shards (shard/linkstate.h):
 *   every shard reads it once per link per turn (qr_ports_begin); in
 *   that turn it transmits on the link only if it read UP, and polls rx
 *   unless it read RESTARTING (a down memif's rx returns at once, and a
 *   memif client's rx is what hands its peer buffers to send into).
 * - Links whose memif role is client reconnect by themselves: DPDK's memif
 *   client connects once, at port start, and never again, so when a
 *   peer restarts (or started after us) shard 0 restarts the port, only
 *   while it is down and only after every shard has acknowledged that it
 *   left the port (no burst may run during rte_eth_dev_stop/start). No
 *   shard waits for that: shard 0 polls the acknowledgements.
 * - So does a client port that is a memif client (its server is
 *   qr-vswitch, or a generator in its place: tools/cluster switch): it
 *   has one queue pair, polled and sent on by shard 0 alone (the others
 *   send through the tx ring), so shard 0 restarts it in its own turn,
 *   with no hand-shake. While it is down its frames are dropped at once
 *   (LINK_DOWN), not waited for.
 */
#ifndef QR_SHARD_PORTS_H
#define QR_SHARD_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cluster.h"
#include "shard/shard.h"

struct rte_mbuf;
struct rte_ring;
struct qr_bell_target;

#define QR_PORTS_TX_BUF	  64
#define QR_PORTS_MAX	  QR_CLUSTER_NODES_MAX /* the client port + 63 */
#define QR_PORTS_CHECK_US 200000ull /* link watchdog period */
#define QR_PORTS_DOWN_CHECK_US 10000ull /* while a link is down */

struct qr_port_q {
	uint16_t port_id;
	uint16_t rx_queue; /* QR_SHARD_NONE: not polled here */
	uint16_t tx_queue; /* QR_SHARD_NONE: via the tx ring (index 0) */
	uint16_t tx_n;
	bool reconnect;	   /* a memif client link: the watchdog restarts
			    * it while it is down (shard 0 only) */
	bool up;	   /* links: the shared state read UP this turn;
			    * frames to a link not up are dropped at once */
	bool rx_ok;	   /* links: not RESTARTING this turn: rx polled */
	bool was_down;	   /* down at the last restart check */
	bool restart_pending; /* shard 0: asked, not done yet */
	uint8_t st;	   /* enum qr_link_st read this turn */
	uint32_t acked;	   /* last restart generation acknowledged */
	struct qr_link_state *ls; /* shared (links only) */
	struct qr_bell_target *bell; /* rung after frames went out (the
				      * other end may sleep: doorbell.h);
				      * NULL: nobody sleeps there */
	uint16_t peer;	   /* the node it reaches (links only) */
	struct rte_mbuf *tx[QR_PORTS_TX_BUF];
};

struct qr_ports {
	uint16_t n; /* in use, >= 1 */
	uint8_t peer[QR_CLUSTER_NODES_MAX]; /* node -> index; 0: client port */
	struct rte_ring *tx_ring; /* index 0 without a tx queue of ours */
	uint64_t tsc_hz;
	uint64_t next_check_us;
	uint64_t next_restart_us;
	uint64_t client_check_us;   /* the client port's next link read */
	uint64_t client_restart_us; /* ... and its next restart check */
	bool client_stopped;	    /* its last restart failed: stopped, not
				     * polled (qr_ports_client_rx_ok) */
	bool owner;	     /* shard 0: runs the watchdog */
	uint16_t restarting; /* links with restart_pending */
	struct qr_shard_stats *stats;
	struct qr_port_q q[QR_PORTS_MAX];
	/* doorbell targets (qr_ports_bells): q[i].bell points into port_bell;
	 * shard_bell[k] is this node's shard k (NULL: no doorbells) */
	struct qr_bell_target *port_bell, *shard_bell;
	uint16_t shards;
};

/* Whether this shard may poll the client port this turn: not while a
 * failed restart left it stopped. */
static inline bool qr_ports_client_rx_ok(const struct qr_ports *p)
{
	return !p->client_stopped;
}

/* From the shard's config: the client port, then a link per mesh peer.
 * stats outlives p. */
void qr_ports_init(struct qr_ports *p, const struct qr_shard_config *cfg,
		   struct qr_shard_stats *stats, uint64_t tsc_hz);

/* Doorbells (shard/doorbell.h): ring through fd, after every tx burst
 * that sent something, the other end of each port that may sleep: a
 * peer's link (its shard of ours), the client port when it is a memif
 * (qr-vswitch's row) or when our frames go through shard 0's tx ring
 * (our shard 0); and keep a target per shard of the node, rung by
 * qr_ports_ring_shards. 0, or a negative enum qr_err with err. */
int qr_ports_bells(struct qr_ports *p, const struct qr_shard_config *cfg,
		   int fd, char *err, size_t err_len);
/* Whether any of its ports is a memif (whose other end rings). */
bool qr_ports_memif(const struct qr_ports *p);
/* Shard 0 after steering frames to other shards' rx rings. */
void qr_ports_ring_shards(struct qr_ports *p, unsigned me);
/* Datagrams sent by every target, and rings whose sendto failed (no
 * sleeper bound there: quorate stat). */
void qr_ports_bells_count(const struct qr_ports *p, uint64_t *rung,
			  uint64_t *failed);
void qr_ports_bells_free(struct qr_ports *p);

/* The (port, queue)s this shard polls, for qr_idle_wait_open: its rx
 * queue of the client port (if it has one), then its queue of every
 * link. Returns how many (at most QR_PORTS_MAX). */
struct qr_idle_queue;
unsigned qr_ports_idle_queues(const struct qr_ports *p,
			      const struct qr_shard_config *cfg,
			      struct qr_idle_queue *q);

/* The index frames to node go out of (0: the client port). */
static inline unsigned qr_ports_of_node(const struct qr_ports *p,
					uint16_t node)
{
	return node < QR_CLUSTER_NODES_MAX ? p->peer[node] : 0;
}

/* Queue m on port index i; sent when the buffer fills or at flush. */
void qr_ports_push(struct qr_ports *p, unsigned i, struct rte_mbuf *m);

/* Send every buffered frame (full queues: see TX_WAIT_US in ports.c).
 * Returns whether there was anything to send. */
bool qr_ports_flush(struct qr_ports *p);

/* Shard 0: take frames of shards without a tx queue on the client port
 * from the tx ring into index 0's buffer. Returns whether any came. */
bool qr_ports_drain_tx_ring(struct qr_ports *p);

/* One rx burst from link i (1 <= i < n). */
uint16_t qr_ports_rx_link(struct qr_ports *p, unsigned i,
			  struct rte_mbuf **pkts, uint16_t max);

/* At the start of every loop turn: read each link's shared state (and
 * acknowledge a restart); only links read UP are touched this turn. */
void qr_ports_begin(struct qr_ports *p);

/* Shard 0 (others: nothing): publish each link's state, and restart memif
 * client links that are down, at most once per QR_PORTS_CHECK_US, once
 * every shard has left them (call every iteration; cheap otherwise). */
void qr_ports_watch(struct qr_ports *p, uint64_t now_us);

#endif
