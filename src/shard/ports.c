/* SPDX-License-Identifier: MIT */
/*
 * A shard's ports: see ports.h for the invariants. The tx path is the one
 * shard.c had for its single port (buffer, burst, bounded wait when the
 * queue is full), once per port.
 */
#include "shard/ports.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/compiler.h"
#include "quorate/err.h"
#include "shard/doorbell.h"
#include "shard/idle_wait.h"
#include "shard/linkstate.h"

/*
 * A long message (issue 15) is hundreds of frames sent in one go: more
 * than a tx queue holds. When the queue is full, give its consumer (the
 * kernel's af_packet ring, a memif peer, the NIC) up to TX_WAIT_US to
 * drain before dropping: a dropped fragment costs the whole message's
 * retransmission. Only the full path yields; the common path is one
 * burst call per QR_PORTS_TX_BUF frames. A link that is down gets no
 * wait: its frames are dropped (counted as LINK_DOWN) at once.
 */
#define TX_WAIT_US 2000

void qr_ports_init(struct qr_ports *p, const struct qr_shard_config *cfg,
		   struct qr_shard_stats *stats, uint64_t tsc_hz)
{
	memset(p, 0, sizeof(*p));
	p->stats = stats;
	p->tsc_hz = tsc_hz;
	p->tx_ring = cfg->tx_ring;
	p->owner = cfg->shard == 0;
	p->q[0] = (struct qr_port_q){
		.port_id = cfg->port_id,
		.rx_queue = QR_SHARD_NONE, /* shard.c polls it (steering) */
		.tx_queue = cfg->tx_queue,
		.reconnect = cfg->client_memif_client && cfg->shard == 0,
		.up = true,
	};
	p->n = 1;
	for (uint16_t k = 0; k < cfg->mesh_links && p->n < QR_PORTS_MAX; k++) {
		uint16_t node = cfg->mesh[k].node;
		QR_ASSERT(node < QR_CLUSTER_NODES_MAX);
		p->q[p->n] = (struct qr_port_q){
			.port_id = cfg->mesh[k].port_id,
			.rx_queue = cfg->shard,
			.tx_queue = cfg->shard,
			.reconnect = cfg->mesh[k].memif_client && cfg->shard == 0,
			.peer = node,
			.ls = cfg->mesh[k].state,
		};
		QR_ASSERT(p->q[p->n].ls);
		p->peer[node] = (uint8_t)p->n++;
	}
}

static uint16_t tx_burst(struct qr_ports *p, struct qr_port_q *q,
			 struct rte_mbuf **m, uint16_t n)
{
	if (q->tx_queue != QR_SHARD_NONE)
		return rte_eth_tx_burst(q->port_id, q->tx_queue, m, n);
	return (uint16_t)rte_ring_enqueue_burst(p->tx_ring, (void **)m, n,
						NULL);
}

/* The port's link as the driver last saw it (memif: a memory read). */
static bool link_is_up(const struct qr_port_q *q)
{
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	return rte_eth_link_get_nowait(q->port_id, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

static void tx_flush_one(struct qr_ports *p, unsigned i)
{
	struct qr_port_q *q = &p->q[i];
	uint16_t sent = q->up ? tx_burst(p, q, q->tx, q->tx_n) : 0;
	/* Rung even when the burst took nothing: a memif client gives its
	 * peer buffers to send into only from its rx, so a sleeping client
	 * (after a connect, or a full ring) must wake to make room. */
	if (q->bell && q->up)
		qr_bell_ring(q->bell);
	/* A link that took nothing may have lost its peer since shard 0's
	 * last check: a disconnected memif takes nothing, ever, so waiting
	 * would stall this shard TX_WAIT_US per flush. */
	if (qr_unlikely(sent == 0) && q->up && (i || q->reconnect) &&
	    !link_is_up(q)) {
		q->up = false;
		if (i)
			qr_link_mark_down(q->ls);
	}
	if (qr_unlikely(sent < q->tx_n) && q->up) {
		uint64_t until = rte_get_tsc_cycles() +
				 p->tsc_hz / 1000000 * TX_WAIT_US;
		while (sent < q->tx_n && rte_get_tsc_cycles() < until) {
			p->stats->tx_waits++;
			sched_yield(); /* the consumer may share our core */
			uint16_t more = tx_burst(p, q, q->tx + sent,
						 (uint16_t)(q->tx_n - sent));
			if (more && q->bell) /* it may sleep again */
				qr_bell_ring(q->bell);
			sent += more;
		}
	}
	p->stats->tx_pkts += sent;
	if (i)
		p->stats->mesh_tx_pkts += sent;
	if (sent < q->tx_n) {
		p->stats->drops[q->up ? QR_SHARD_DROP_TX_FULL
				      : QR_SHARD_DROP_LINK_DOWN] +=
			q->tx_n - sent;
		rte_pktmbuf_free_bulk(q->tx + sent, q->tx_n - sent);
	}
	q->tx_n = 0;
}

void qr_ports_push(struct qr_ports *p, unsigned i, struct rte_mbuf *m)
{
	QR_DASSERT(i < p->n);
	struct qr_port_q *q = &p->q[i];
	q->tx[q->tx_n++] = m;
	if (q->tx_n == QR_PORTS_TX_BUF)
		tx_flush_one(p, i);
}

bool qr_ports_flush(struct qr_ports *p)
{
	bool any = false;
	for (unsigned i = 0; i < p->n; i++) {
		if (!p->q[i].tx_n)
			continue;
		any = true;
		tx_flush_one(p, i);
	}
	return any;
}

bool qr_ports_drain_tx_ring(struct qr_ports *p)
{
	struct qr_port_q *q = &p->q[0];
	if (!p->tx_ring || q->tx_queue == QR_SHARD_NONE ||
	    q->tx_n >= QR_PORTS_TX_BUF)
		return false;
	unsigned got = rte_ring_dequeue_burst(p->tx_ring,
					      (void **)(q->tx + q->tx_n),
					      QR_PORTS_TX_BUF - q->tx_n, NULL);
	q->tx_n = (uint16_t)(q->tx_n + got);
	return got != 0;
}

uint16_t qr_ports_rx_link(struct qr_ports *p, unsigned i,
			  struct rte_mbuf **pkts, uint16_t max)
{
	QR_DASSERT(i >= 1 && i < p->n);
	struct qr_port_q *q = &p->q[i];
	/* A down memif's rx returns at once, and must be polled: a memif
	 * client hands its peer the buffers to send into from its rx path,
	 * so a link that just connected carries nothing until we poll it.
	 * Only a restart makes it not ours to touch. */
	if (!q->rx_ok)
		return 0;
	uint16_t n = rte_eth_rx_burst(q->port_id, q->rx_queue, pkts, max);
	p->stats->mesh_rx_pkts += n;
	return n;
}

void qr_ports_begin(struct qr_ports *p)
{
	for (unsigned i = 1; i < p->n; i++) {
		struct qr_port_q *q = &p->q[i];
		q->st = (uint8_t)qr_link_seen(q->ls, &q->acked);
		q->up = q->st == QR_LINK_UP;
		q->rx_ok = q->st != QR_LINK_RESTARTING &&
			   q->st != QR_LINK_STOPPED;
	}
}

/* A memif client end that is down, a link's or the client port's (index
 * 0): stop and start the port, which makes DPDK's memif connect again (a
 * refused connect leaves it down: retried at the next check). Only shard
 * 0 does it: for a link once every shard has left the port (linkstate.h),
 * for the client port in its own turn (it is the port's only user). */
static bool reconnect(struct qr_ports *p, struct qr_port_q *q)
{
	int rc = rte_eth_dev_stop(q->port_id);
	if (!rc)
		rc = rte_eth_dev_start(q->port_id);
	bool client = q == &p->q[0];
	uint64_t n = ++*(client ? &p->stats->client_reconnects
				: &p->stats->mesh_reconnects);
	if (rc && n % 50 == 1 && client)
		fprintf(stderr,
			"quorated: client port %u: restart: %s (retried every "
			"%llu ms)\n",
			q->port_id, rte_strerror(-rc), QR_PORTS_CHECK_US / 1000);
	else if (rc && n % 50 == 1)
		fprintf(stderr,
			"quorated: mesh link to node %u (port %u): restart: "
			"%s (retried every %llu ms)\n",
			q->peer, q->port_id, rte_strerror(-rc),
			QR_PORTS_CHECK_US / 1000);
	return rc == 0; /* false: the port is stopped (linkstate.h) */
}

/* Shard 0, every turn while a restart is pending: restart the links that
 * every shard has acknowledged, then publish what their link reads. A
 * memif handshake may have completed since the restart was asked for:
 * the link is read again first, and an up link is not restarted. */
static void restart_step(struct qr_ports *p)
{
	for (unsigned i = 1; i < p->n; i++) {
		struct qr_port_q *q = &p->q[i];
		if (!q->restart_pending || q->st != QR_LINK_RESTARTING ||
		    !qr_link_quiescent(q->ls))
			continue;
		bool up = link_is_up(q), stopped = false;
		if (!up) {
			stopped = !reconnect(p, q);
			up = !stopped && link_is_up(q);
		}
		qr_link_restarted(q->ls, up, stopped);
		q->restart_pending = false;
		p->restarting--;
	}
}

/* The client port when it is a memif client (ports.h): read its link as
 * the links' are read, and restart it when down at two restart checks
 * in a row. Shard 0 is its only user, and this is shard 0's turn. */
static void watch_client_port(struct qr_ports *p, uint64_t now_us)
{
	struct qr_port_q *q = &p->q[0];
	if (qr_likely(now_us < p->client_check_us))
		return;
	bool up = link_is_up(q);
	bool restart = now_us >= p->client_restart_us;
	if (restart)
		p->client_restart_us = now_us + QR_PORTS_CHECK_US;
	/* A port whose start failed is stopped: not polled (DPDK's dummy
	 * burst logs a stack dump) until a restart works. */
	if (!up && restart && q->was_down)
		p->client_stopped = !reconnect(p, q);
	if (restart)
		q->was_down = !up;
	q->up = up;
	p->client_check_us =
		now_us + (up ? QR_PORTS_CHECK_US : QR_PORTS_DOWN_CHECK_US);
}

/* While a link is down its state is read every QR_PORTS_DOWN_CHECK_US (a
 * memory read for memif), so frames flow again soon after it connects;
 * restarts stay at most one per QR_PORTS_CHECK_US. */
void qr_ports_watch(struct qr_ports *p, uint64_t now_us)
{
	if (!p->owner)
		return;
	if (p->q[0].reconnect)
		watch_client_port(p, now_us);
	if (p->n == 1)
		return;
	if (qr_unlikely(p->restarting))
		restart_step(p);
	if (qr_likely(now_us < p->next_check_us))
		return;
	bool restart = now_us >= p->next_restart_us, down = false;
	if (restart)
		p->next_restart_us = now_us + QR_PORTS_CHECK_US;
	for (unsigned i = 1; i < p->n; i++) {
		struct qr_port_q *q = &p->q[i];
		if (q->restart_pending) {
			down = true;
			continue;
		}
		/* A stopped port's link reads down (and its restart is
		 * due at the next check). */
		bool up = q->st != QR_LINK_STOPPED && link_is_up(q);
		/* Down at two restart checks in a row: a connect under way
		 * gets one period. */
		if (!up && restart && q->was_down && q->reconnect) {
			qr_link_request_restart(q->ls);
			q->restart_pending = true;
			p->restarting++;
			/* every shard must see it: wake those asleep */
			qr_ports_ring_shards(p, 0);
		} else {
			qr_link_publish(q->ls, up);
		}
		if (restart)
			q->was_down = !up;
		down |= !up;
	}
	p->next_check_us =
		now_us + (down ? QR_PORTS_DOWN_CHECK_US : QR_PORTS_CHECK_US);
}

static bool port_is_memif(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	return rte_eth_dev_info_get(port_id, &info) == 0 &&
	       !strcmp(info.driver_name, "net_memif");
}

int qr_ports_bells(struct qr_ports *p, const struct qr_shard_config *cfg,
		   int fd, char *err, size_t err_len)
{
	p->shards = cfg->cluster->shards;
	p->port_bell = calloc(QR_PORTS_MAX, sizeof(*p->port_bell));
	p->shard_bell = calloc(p->shards, sizeof(*p->shard_bell));
	if (!p->port_bell || !p->shard_bell) {
		snprintf(err, err_len, "doorbells: out of memory");
		return QR_ENOMEM;
	}
	char why[160];
	int rc = 0;
	unsigned row = QR_BELL_ROWS; /* the client port's other end */
	if (p->q[0].tx_queue == QR_SHARD_NONE)
		row = cfg->node_id; /* shard 0, which drains our tx ring */
	else if (port_is_memif(p->q[0].port_id))
		row = QR_BELL_ROW_SWITCH;
	if (row < QR_BELL_ROWS &&
	    !(rc = qr_bell_target_init(cfg->bell_board, row, 0,
				       fd, &p->port_bell[0], why,
				       sizeof(why))))
		p->q[0].bell = &p->port_bell[0];
	for (unsigned i = 1; !rc && i < p->n; i++) {
		rc = qr_bell_target_init(cfg->bell_board,
					 p->q[i].peer, cfg->shard, fd,
					 &p->port_bell[i], why, sizeof(why));
		p->q[i].bell = &p->port_bell[i];
	}
	for (unsigned k = 0; !rc && k < p->shards; k++)
		rc = qr_bell_target_init(cfg->bell_board,
					 cfg->node_id, k, fd, &p->shard_bell[k],
					 why, sizeof(why));
	if (rc)
		snprintf(err, err_len, "doorbell: %s", why);
	return rc;
}

void qr_ports_ring_shards(struct qr_ports *p, unsigned me)
{
	if (!p->shard_bell)
		return;
	for (unsigned k = 0; k < p->shards; k++)
		if (k != me)
			qr_bell_ring(&p->shard_bell[k]);
}

void qr_ports_bells_count(const struct qr_ports *p, uint64_t *rung,
			  uint64_t *failed)
{
	uint64_t n = 0, f = 0;
	for (unsigned i = 0; p->port_bell && i < p->n; i++) {
		n += p->port_bell[i].rung;
		f += p->port_bell[i].failed;
	}
	for (unsigned k = 0; p->shard_bell && k < p->shards; k++) {
		n += p->shard_bell[k].rung;
		f += p->shard_bell[k].failed;
	}
	*rung = n;
	*failed = f;
}

void qr_ports_bells_free(struct qr_ports *p)
{
	free(p->port_bell);
	free(p->shard_bell);
	p->port_bell = p->shard_bell = NULL;
	for (unsigned i = 0; i < p->n; i++)
		p->q[i].bell = NULL;
}

unsigned qr_ports_idle_queues(const struct qr_ports *p,
			      const struct qr_shard_config *cfg,
			      struct qr_idle_queue *q)
{
	unsigned n = 0;
	if (cfg->rx_queue != QR_SHARD_NONE)
		q[n++] = (struct qr_idle_queue){ cfg->port_id, cfg->rx_queue };
	for (unsigned i = 1; i < p->n; i++)
		q[n++] = (struct qr_idle_queue){ p->q[i].port_id,
						 p->q[i].rx_queue };
	return n;
}

bool qr_ports_memif(const struct qr_ports *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (port_is_memif(p->q[i].port_id))
			return true;
	return false;
}
