/* SPDX-License-Identifier: MIT */
/*
 * The shard loop: see shard.h. Design notes:
 *  - One struct qr_shard per lcore; nothing in it is touched by another
 *    lcore except the rte_rings (multi-producer, single-consumer) and the
 *    stats, which the management thread reads without locks (64-bit
 *    aligned counters: a torn read is impossible on x86-64, a stale one is
 *    fine).
 *  - Clocks: the core's now_us comes from the TSC, read once per
 *    iteration; wall_ms from CLOCK_REALTIME, read at most once per
 *    iteration and only when the core asks (stamping a version, a
 *    heartbeat): an empty iteration reads no clock but the TSC (in a VM
 *    without a stable TSC clocksource, CLOCK_REALTIME is a syscall).
 *    The wall reading is taken back to the iteration's TSC instant, so
 *    the pair the clock guard compares is one moment's.
 *    A test hook adds an offset to it (quorated --clock-offset-ms and the
 *    management command `clock-offset`, given only with that option):
 *    tests/cluster/nemesis skews one node's clock within and beyond
 *    max_offset and back, where every namespace shares one real clock.
 *    One process-wide atomic, read with the wall clock: 0 unless set.
 *  - Client handles are (IPv4 << 16 | UDP port); the MAC to answer is
 *    learned from the request's frame into the ARP table.
 *  - Housekeeping only when due: the core's frames are flushed only after
 *    an iteration that received, made durable, ticked or snapshotted.
 *  - Idle back-off (shard_idle.c): after IDLE_SPIN_LOOPS empty iterations,
 *    rte_pause(); once the spin limit (shard/idle_spin.h: adaptive, at
 *    most [loop] spin_us) has passed since the last work, a 50 us sleep per
 *    iteration (a syscall, but only when there is no work), so several
 *    nodes can share a 2-core VM. The spin is bounded by time, not by a
 *    count (4,096 empty iterations were ~0.5 ms of CPU after every piece
 *    of work), and the thread's timer slack is set to TIMER_SLACK_NS so a
 *    50 us sleep is not stretched by the default 50 us slack. idle = poll
 *    in the profile keeps pure busy polling for bare metal; idle =
 *    interrupt blocks instead of napping, until a frame, a WAL completion
 *    or the next timer (idle_wait.h; the back-off where it cannot).
 */
#include "shard/shard.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "net/arp.h"
#include "net/packet.h"
#include "shard/doorbell.h"
#include "shard/idle_wait.h"
#include "quorate/err.h"
#include "shard/ports.h"
#include "shard/shard_pvt.h"

#define TIMER_SLACK_NS 1000 /* PR_SET_TIMERSLACK of a shard thread */

static volatile sig_atomic_t stop_flag;
static int64_t clock_offset_ms; /* the test hook (above); atomic */

static const char *const drop_names[QR_SHARD_DROP_COUNT] = {
#define QR_SHARD_DROP_NAME(name, text) [QR_SHARD_DROP_##name] = #name,
	QR_SHARD_DROP_LIST(QR_SHARD_DROP_NAME)
#undef QR_SHARD_DROP_NAME
};

const char *qr_shard_drop_name(enum qr_shard_drop d)
{
	return (unsigned)d < QR_SHARD_DROP_COUNT ? drop_names[d] : "?";
}

void qr_shard_stop_all(void)
{
	stop_flag = 1;
}

void qr_shard_set_clock_offset_ms(int64_t ms)
{
	__atomic_store_n(&clock_offset_ms, ms, __ATOMIC_RELAXED);
}

int64_t qr_shard_clock_offset_ms(void)
{
	return __atomic_load_n(&clock_offset_ms, __ATOMIC_RELAXED);
}

/* CLOCK_REALTIME in ms, plus the test hook's offset. */
static uint64_t wall_ms_now(void)
{
	return (uint64_t)((int64_t)qr_clock_wall_ms() +
			  qr_shard_clock_offset_ms());
}

void qr_shard_ae_request(struct qr_shard *s)
{
	__atomic_fetch_add(&s->ae_requests, 1, __ATOMIC_RELEASE);
}

void qr_shard_topo_request(struct qr_shard *s, const struct qr_shard_topo *t)
{
	__atomic_store_n(&s->topo_req, t, __ATOMIC_RELEASE);
}

bool qr_shard_topo_installed(const struct qr_shard *s,
			     const struct qr_shard_topo *t, int *rc)
{
	if (__atomic_load_n(&s->topo_done, __ATOMIC_ACQUIRE) != t)
		return false;
	*rc = __atomic_load_n(&s->topo_rc, __ATOMIC_RELAXED);
	return true;
}

/* Install t on the core (shard.h, struct qr_shard_topo). */
static int topo_install(struct qr_shard *s, const struct qr_shard_topo *t)
{
	int rc = 0;
	if (t->epoch != qr_core_epoch(s->core))
		rc = qr_core_set_topology(s->core, t->epoch, t->owners,
					  t->pending);
	if (!rc && t->stream)
		qr_core_stream_begin(s->core);
	return rc;
}

/* A topology the management thread handed over (qr_shard_topo_request). */
static void topo_poll(struct qr_shard *s)
{
	const struct qr_shard_topo *t =
		__atomic_load_n(&s->topo_req, __ATOMIC_ACQUIRE);
	if (!t || t == s->topo_done)
		return;
	__atomic_store_n(&s->topo_rc, topo_install(s, t), __ATOMIC_RELAXED);
	__atomic_store_n(&s->topo_done, t, __ATOMIC_RELEASE);
	s->work = true;
}

/* The core's news (core.h T7), once, for the management thread. */
static void news_publish(struct qr_shard *s)
{
	uint64_t e, o;
	if (!qr_core_topology_news(s->core, &e, &o) ||
	    e == __atomic_load_n(&s->news_epoch, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&s->news_epoch, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->news_owners, o, __ATOMIC_RELEASE);
	__atomic_store_n(&s->news_epoch, e, __ATOMIC_RELEASE);
}

bool qr_shard_topo_news(const struct qr_shard *s, uint64_t *epoch,
			uint64_t *owners)
{
	uint64_t e = __atomic_load_n(&s->news_epoch, __ATOMIC_ACQUIRE);
	*owners = __atomic_load_n(&s->news_owners, __ATOMIC_ACQUIRE);
	*epoch = e;
	return e && e == __atomic_load_n(&s->news_epoch, __ATOMIC_ACQUIRE);
}

/* ---- tx (ports.c buffers and sends) ---------------------------------- */

static void send_arp(struct qr_shard *s, uint16_t op, const uint8_t *dst_mac,
		     uint32_t target_ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->cfg.pool);
	if (!m) {
		s->stats.drops[QR_SHARD_DROP_NO_MBUF]++;
		return;
	}
	/* 60 bytes: the Ethernet minimum, zero padded. */
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 60);
	QR_ASSERT(p);
	memset(p, 0, 60);
	size_t len = qr_pkt_build_arp(p, 60, op, s->self.mac, s->self.ip,
				      dst_mac, target_ip);
	QR_ASSERT(len == QR_PKT_ARP_BYTES);
	if (op == QR_ARP_OP_REPLY)
		s->stats.arp_replies++;
	else
		s->stats.arp_requests++;
	qr_ports_push(&s->ports, 0, m); /* links need no ARP (below) */
}

/* ---- the core's environment --------------------------------------------- */

static uint64_t env_now_us(void *ctx)
{
	return ((struct qr_shard *)ctx)->now_us;
}

static uint64_t env_wall_ms(void *ctx)
{
	struct qr_shard *s = ctx;
	if (!s->wall_read) {
		/* The wall clock as of this iteration's TSC reading (now_us),
		 * not of this later moment: the clock guard compares the
		 * two (core/clock_guard.c G1), and a turn stalled between
		 * them (a preempted vCPU, DPDK's stack dump on a port being
		 * restarted) looked like a step of the wall clock: clients
		 * were refused CLOCK_AHEAD. One more TSC read, only when
		 * the core asks for the wall clock. */
		uint64_t late_us = qr_shard_tsc_us(s) - s->now_us;
		s->wall_ms = wall_ms_now() - late_us / 1000;
		s->wall_read = true;
	}
	return s->wall_ms;
}

static void env_pause(void *ctx)
{
	struct qr_shard *s = ctx;
	rte_pause();
	s->wall_ms = wall_ms_now();
	s->wall_read = true;
	/* The monotonic clock too: a guarded HLC may run on it while the
	 * wall clock is out of bounds (clock_guard.c), and waits on it. */
	s->now_us = qr_shard_tsc_us(s);
}

static void env_send(void *ctx, uint16_t dst_node, uint64_t client,
		     const void *frame, size_t len)
{
	struct qr_shard *s = ctx;
	const struct qr_cluster *cl = s->cfg.cluster;
	struct qr_pkt_endpoint dst;
	if (dst_node == QR_NODE_CLIENT) {
		dst.ip = (uint32_t)(client >> 16);
		dst.port = (uint16_t)client;
	} else {
		dst.ip = cl->node[dst_node].ip;
		dst.port = (uint16_t)(cl->base_port + s->cfg.shard);
	}
	unsigned port = dst_node == QR_NODE_CLIENT
				? 0
				: qr_ports_of_node(&s->ports, dst_node);
	if (dst_node != QR_NODE_CLIENT && cl->node[dst_node].has_mac) {
		memcpy(dst.mac, cl->node[dst_node].mac, 6);
	} else if (port) {
		/* A point-to-point link: only the peer hears it, and the
		 * receiver does not check the destination MAC (packet.h). */
		memset(dst.mac, 0xff, 6);
	} else if (qr_arp_lookup(&s->arp, dst.ip, dst.mac, s->now_us) != 0) {
		s->stats.drops[QR_SHARD_DROP_NO_ARP]++;
		if (qr_arp_need_request(&s->arp, dst.ip, s->now_us))
			send_arp(s, QR_ARP_OP_REQUEST, NULL, dst.ip);
		return; /* retransmission covers it once resolved */
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->cfg.pool);
	if (!m) {
		s->stats.drops[QR_SHARD_DROP_NO_MBUF]++;
		return;
	}
	size_t total = QR_PKT_UDP_HDR_BYTES + len;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)total);
	QR_ASSERT(p);
	memcpy(p + QR_PKT_UDP_HDR_BYTES, frame, len);
	unsigned flags = 0;
	if (s->cfg.tx_checksum_offload) {
		/* The NIC fills both checksums (packet.h has the contract). */
		flags = QR_PKT_F_CSUM_OFFLOAD;
		m->l2_len = 14;
		m->l3_len = 20;
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			       RTE_MBUF_F_TX_UDP_CKSUM;
	}
	size_t n = qr_pkt_build_udp_headers(p, &s->self, &dst, len,
					    p + QR_PKT_UDP_HDR_BYTES,
					    s->ip_id++, flags);
	QR_ASSERT(n == QR_PKT_UDP_HDR_BYTES);
	qr_ports_push(&s->ports, port, m);
}

static int env_wal_append(void *ctx, const struct qr_wal_record *rec)
{
	struct qr_shard *s = ctx;
	int rc = qr_wal_append(s->wal, rec);
	if (rc == QR_EBUSY)
		s->stats.drops[QR_SHARD_DROP_WAL_BUSY]++;
	return rc;
}

/* The frame being handled is authentic (core env.h): only now is its
 * source MAC learned (issue 12 item 4: a forged frame teaches nothing). */
static void env_authentic(void *ctx, uint64_t client)
{
	struct qr_shard *s = ctx;
	(void)client;
	qr_arp_learn(&s->arp, s->rx_ip, s->rx_mac, s->now_us);
}

static uint64_t env_random(void *ctx)
{
	(void)ctx;
	return rte_rand();
}

/* ---- rx ----------------------------------------------------------------- */

static void handle_arp(struct qr_shard *s, const struct qr_pkt *pkt,
		       struct rte_mbuf *m)
{
	/* Unauthenticated: only an answer to our own request (arp.h). */
	if (qr_arp_learn_unproven(&s->arp, pkt->arp.sender_ip,
				  pkt->arp.sender_mac,
				  s->now_us) == QR_EPRECONDITION)
		s->stats.drops[QR_SHARD_DROP_ARP_UNPROVEN]++;
	if (s->cfg.shard != 0)
		return; /* a copy from shard 0: learn only */
	if (pkt->arp.op == QR_ARP_OP_REQUEST &&
	    pkt->arp.target_ip == s->self.ip)
		send_arp(s, QR_ARP_OP_REPLY, pkt->arp.sender_mac,
			 pkt->arp.sender_ip);
	/* ARP reaches queue 0 only, but every shard keeps its own table and
	 * sends its own requests: each learns from a copy. */
	for (uint16_t k = 1; k < s->cfg.cluster->shards; k++) {
		struct rte_ring *r = s->cfg.rx_rings[k];
		struct rte_mbuf *c =
			r ? rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX) : NULL;
		if (c && rte_ring_enqueue(r, c) != 0) {
			rte_pktmbuf_free(c);
			s->stats.drops[QR_SHARD_DROP_STEER_FULL]++;
		} else if (c) {
			s->steered = true; /* loop_rx rings it */
		}
	}
}

/* One received frame. Returns true if the mbuf was handed on (steered). */
static bool handle_pkt(struct qr_shard *s, struct rte_mbuf *m)
{
	struct qr_pkt pkt;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	int kind = qr_pkt_parse(data, rte_pktmbuf_data_len(m), &pkt);
	if (kind < 0) {
		s->stats.drops[QR_SHARD_DROP_PARSE]++;
		s->stats.pkt_drops[(unsigned)-kind & 31]++;
		return false;
	}
	if (kind == QR_PKT_ARP) {
		handle_arp(s, &pkt, m);
		return false;
	}
	if (pkt.udp.dst_ip != s->self.ip) {
		s->stats.drops[QR_SHARD_DROP_NOT_FOR_US]++;
		return false;
	}
	const struct qr_cluster *cl = s->cfg.cluster;
	if (pkt.udp.dst_port < cl->base_port ||
	    pkt.udp.dst_port >= cl->base_port + cl->shards) {
		s->stats.drops[QR_SHARD_DROP_BAD_PORT]++;
		return false;
	}
	uint16_t target = (uint16_t)(pkt.udp.dst_port - cl->base_port);
	if (target != s->cfg.shard) {
		/* Software steering: the owner shard parses it again. */
		struct rte_ring *r = s->cfg.rx_rings[target];
		if (!r || rte_ring_enqueue(r, m) != 0) {
			s->stats.drops[QR_SHARD_DROP_STEER_FULL]++;
			return false;
		}
		s->stats.steered++;
		s->steered = true;
		return true;
	}
	/* Who sent it: learned only if the core finds it authentic
	 * (env_authentic); replies to clients need their MAC. */
	s->rx_ip = pkt.udp.src_ip;
	memcpy(s->rx_mac, pkt.src_mac, 6);
	uint64_t handle = (uint64_t)pkt.udp.src_ip << 16 | pkt.udp.src_port;
	qr_core_on_frame(s->core, handle, pkt.udp.payload, pkt.udp.payload_len);
	return false;
}

static unsigned rx_batch(struct qr_shard *s, struct rte_mbuf **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (!handle_pkt(s, pkts[i]))
			rte_pktmbuf_free(pkts[i]);
	}
	return n;
}

/* ---- the loop ----------------------------------------------------------- */

/* The TSC now; CLOCK_REALTIME later, if the core asks (env_wall_ms). */
static void read_clocks(struct qr_shard *s)
{
	s->wall_read = false;
	s->now_us = qr_shard_tsc_us(s);
}

static void maybe_snapshot(struct qr_shard *s)
{
	if (qr_wal_snapshot_active(s->wal)) {
		int rc = qr_wal_snapshot_step(s->wal, SNAPSHOT_STEP_ENTRIES);
		if (rc < 0)
			fprintf(stderr,
				"quorated: shard %u: snapshot "
				"abandoned: %s\n",
				s->cfg.shard, qr_strerror(rc));
		s->work = true;
		return;
	}
	uint64_t appended = qr_wal_appended_lsn(s->wal);
	if (!s->cfg.snapshot_every ||
	    appended - s->snap_last_lsn < s->cfg.snapshot_every)
		return;
	s->snap_last_lsn = appended;
	if (qr_wal_snapshot_begin(s->wal, &s->snap_src) == 0)
		s->work = true;
}

/* Frames from our rx queue, then from our ring (steered to us in
 * software, or ARP copies). Static, called once: inlined. */
static void loop_rx(struct qr_shard *s)
{
	struct rte_mbuf *pkts[BURST];
	unsigned n = 0;
	qr_ports_begin(&s->ports); /* which links this turn may touch */
	if (s->cfg.rx_queue != QR_SHARD_NONE &&
	    qr_ports_client_rx_ok(&s->ports))
		n = rte_eth_rx_burst(s->cfg.port_id, s->cfg.rx_queue, pkts,
				     BURST);
	if (n) {
		s->stats.rx_bursts++;
		s->stats.rx_pkts += n; /* from the port, once */
		rx_batch(s, pkts, n);
		s->work = true;
	}
	if (s->cfg.rx_ring) {
		n = rte_ring_dequeue_burst(s->cfg.rx_ring, (void **)pkts, BURST,
					   NULL);
		if (n) {
			rx_batch(s, pkts, n);
			s->work = true;
		}
	}
	for (unsigned i = 1; i < s->ports.n; i++) { /* direct links */
		n = qr_ports_rx_link(&s->ports, i, pkts, BURST);
		if (n) {
			s->stats.rx_bursts++;
			s->stats.rx_pkts += n;
			rx_batch(s, pkts, n);
			s->work = true;
		}
	}
	if (s->steered) { /* wake the shards we steered frames to */
		s->steered = false;
		qr_ports_ring_shards(&s->ports, s->cfg.shard);
	}
}

/*
 * The WAL's health to the core (issue 12 item 5): while the WAL cannot take
 * writes (the next segment cannot be preallocated: disk full; or a write or
 * sync failed) the node serves reads, refuses writes and tells its peers
 * (qr_core_set_wal_error). Each change is logged once, with the real errno.
 * A full disk clears by itself when space returns (the WAL retries the
 * segment); a failed write or sync needs a restart (it is never retried).
 */
static void wal_health_check(struct qr_shard *s)
{
	int os_errno = 0;
	int h = qr_wal_health(s->wal, &os_errno);
	if (h == s->wal_health)
		return;
	if (h)
		fprintf(stderr,
			"quorated: shard %u: WAL %s: %s (errno %d%s): not "
			"serving writes until %s\n",
			s->cfg.shard, qr_strerror(h),
			os_errno ? strerror(os_errno) : "short write", os_errno,
			qr_wal_error(s->wal) ? "" : ", next segment",
			qr_wal_error(s->wal) ? "a restart (write or sync failed)"
					     : "space returns (retried)");
	else
		fprintf(stderr,
			"quorated: shard %u: WAL recovered: serving writes "
			"again\n",
			s->cfg.shard);
	s->wal_health = h;
	qr_core_set_wal_error(s->core, h);
	s->work = true;
}

/* WAL completions to the core, then the core's timer tick (and an
 * anti-entropy pass the management thread asked for). Returns whether
 * the core ticked (it may have frames to flush). */
static bool loop_wal_and_timers(struct qr_shard *s, uint64_t tick_us)
{
	uint64_t before = qr_core_durable_lsn(s->core);
	uint64_t durable = qr_wal_poll(s->wal, s->now_us);
	if (durable > before) {
		qr_core_on_wal_durable(s->core, durable);
		s->work = true;
	}
	wal_health_check(s);
	if (s->now_us >= s->next_tick_us) {
		uint32_t ae =
			__atomic_load_n(&s->ae_requests, __ATOMIC_ACQUIRE);
		if (ae != s->ae_seen) {
			s->ae_seen = ae;
			qr_core_ae_request(s->core);
		}
		topo_poll(s);
		qr_ports_bells_count(&s->ports, &s->stats.bells_rung,
				     &s->stats.bells_failed);
		qr_core_tick(s->core);
		news_publish(s);
		s->next_tick_us = s->now_us + tick_us;
		return true;
	}
	return false;
}

/* Shard 0 transmits for shards without a tx queue, then everyone flushes
 * what it has buffered, on every port; the link watchdog (ports.h). */
static void loop_tx(struct qr_shard *s)
{
	if (s->cfg.shard == 0)
		s->work |= qr_ports_drain_tx_ring(&s->ports);
	s->work |= qr_ports_flush(&s->ports);
	qr_ports_watch(&s->ports, s->now_us);
}

int qr_shard_run(void *arg)
{
	struct qr_shard *s = arg;
	uint32_t idle = 0;
	uint64_t tick_us = s->cfg.core.timer_tick_us;
	if (!s->cfg.idle_poll)
		(void)prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
	if (s->cfg.idle_interrupt && !s->iw)
		qr_shard_idle_setup(s);
	read_clocks(s);
	s->last_work_us = s->now_us;
	while (!stop_flag) {
		read_clocks(s);
		s->stats.loops++;
		s->work = false;
		loop_rx(s);
		if (s->work)
			qr_core_flush(s->core); /* replies before the WAL poll */
		bool ticked = loop_wal_and_timers(s, tick_us);
		maybe_snapshot(s);
		if (s->work || ticked)
			qr_core_flush(s->core);
		loop_tx(s);
		qr_shard_loop_idle(s, &idle);
	}
	(void)qr_ports_flush(&s->ports);
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int recover_cb(void *arg, const struct qr_wal_record *rec)
{
	int rc = qr_core_recover(arg, rec);
	if (rc == QR_ECLOCK) {
		/* A version no clock of ours could have made (recover.c V4):
		 * named, not adopted; the node starts with the rest. */
		fprintf(stderr, "quorated: wal recovery: %s: %s\n",
			qr_strerror(rc), qr_core_recover_message(arg));
		return 0;
	}
	return rc;
}

/* A snapshot holds each partition's store entries, then its hints: the
 * log segments it lets go may hold the only record of a hint (an ANY
 * write acknowledged on them; core/hints.c N4, issue 13 bug 5). */
static int snap_for_each(void *ctx, uint32_t partition,
			 int (*fn)(void *arg, const struct qr_wal_record *rec),
			 void *arg)
{
	struct qr_shard *s = ctx;
	int rc = s->store_src.for_each_in_partition(s->store_src.ctx, partition,
						    fn, arg);
	return rc ? rc : qr_core_snapshot_hints(s->core, partition, fn, arg);
}

/* Our address (MAC from the port unless the cluster file names one) and
 * the ARP table with every static MAC of the cluster file. */
static int shard_net_init(struct qr_shard *s, char *err, size_t err_len)
{
	const struct qr_shard_config *cfg = &s->cfg;
	const struct qr_cluster *cl = cfg->cluster;
	QR_ASSERT(cfg->node_id < cl->nodes);
	const struct qr_cluster_node *me = &cl->node[cfg->node_id];
	s->self.ip = me->ip;
	s->self.port = (uint16_t)(cl->base_port + cfg->shard);
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(cfg->port_id, &mac) == 0)
		memcpy(s->self.mac, mac.addr_bytes, 6);
	if (me->has_mac)
		memcpy(s->self.mac, me->mac, 6);
	int rc = qr_arp_init(&s->arp, s->arp_slots, ARP_ENTRIES, ARP_AGE_US,
			     QR_ARP_REQUEST_GAP_US_DEFAULT);
	if (rc) {
		snprintf(err, err_len, "arp table: %s", qr_strerror(rc));
		return rc;
	}
	for (uint16_t i = 0; i < cl->nodes; i++)
		if (cl->node[i].has_mac)
			qr_arp_add_static(&s->arp, cl->node[i].ip,
					  cl->node[i].mac);
	return 0;
}

/* Replay the WAL into the core (it must exist), report what came back,
 * then open the WAL to append after it. */
static int shard_wal_start(struct qr_shard *s, char *err, size_t err_len)
{
	const struct qr_shard_config *cfg = &s->cfg;
	QR_ASSERT(s->core && !s->wal);
	struct qr_wal_recover_options ropt = {
		.truncate_corrupt = cfg->truncate_corrupt,
	};
	int rc = qr_wal_recover(cfg->wal.dir, cfg->shard, &ropt, recover_cb,
				s->core, &s->rec);
	if (rc) {
		snprintf(err, err_len, "wal recovery: %s: %s", qr_strerror(rc),
			 s->rec.message[0] ? s->rec.message : "(no detail)");
		return rc;
	}
	qr_core_recovered(s->core, s->rec.last_lsn);
	fprintf(stderr,
		"quorated: node %u shard %u: recovered %" PRIu64
		" log records and %" PRIu64 " snapshot entries (%" PRIu64
		" bytes) in %.1f ms; last lsn %" PRIu64 "%s%s\n",
		cfg->node_id, cfg->shard, s->rec.records,
		s->rec.snapshot_entries, s->rec.bytes,
		(double)s->rec.time_us / 1000.0, s->rec.last_lsn,
		s->rec.torn_tail_truncated ? "; torn tail truncated" : "",
		s->rec.corrupt_truncated ? "; CORRUPTION TRUNCATED on request"
					 : "");
	if (s->rec.message[0])
		fprintf(stderr, "quorated: shard %u: %s\n", cfg->shard,
			s->rec.message);
	struct qr_wal_config wc = cfg->wal;
	wc.next_lsn = s->rec.last_lsn + 1;
	/* The ceiling recovered may live only in this run's old segments:
	 * the next snapshot must carry it on (docs/wal.md). */
	wc.clock = s->rec.clock;
	rc = qr_wal_open(&wc, &s->wal);
	if (rc) {
		snprintf(err, err_len, "wal open in %s: %s", wc.dir,
			 qr_strerror(rc));
		return rc;
	}
	return 0;
}

int qr_shard_create(const struct qr_shard_config *cfg, struct qr_shard **out,
		    char *err, size_t err_len)
{
	struct qr_shard *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return QR_ENOMEM;
	}
	s->cfg = *cfg;
	qr_idle_spin_init(&s->spin, cfg->idle_spin_us);
	s->bell.fd = -1; /* bells_init, or the failure path's destroy */
	s->bell_fd = -1;
	s->tsc_per_us = rte_get_tsc_hz() / 1000000;
	qr_ports_init(&s->ports, cfg, &s->stats, rte_get_tsc_hz());
	read_clocks(s);
	(void)env_wall_ms(s);
	int rc = shard_net_init(s, err, err_len);
	if (rc)
		goto fail;
	if ((rc = qr_shard_bells_init(s, err, err_len)))
		goto fail;
	struct qr_env env = {
		.ctx = s,
		.now_us = env_now_us,
		.wall_ms = env_wall_ms,
		.pause = env_pause,
		.send = env_send,
		.wal_append = env_wal_append,
		.random = env_random,
		.authentic = env_authentic,
	};
	rc = qr_core_create(&cfg->core, &env, &s->core);
	if (rc) {
		snprintf(err, err_len, "core: %s", qr_strerror(rc));
		goto fail;
	}
	if (cfg->topo && (rc = topo_install(s, cfg->topo))) {
		snprintf(err, err_len, "topology epoch %" PRIu64 ": %s",
			 cfg->topo->epoch, qr_strerror(rc));
		goto fail;
	}
	rc = shard_wal_start(s, err, err_len);
	if (rc)
		goto fail;
	s->snap_last_lsn = s->rec.last_lsn;
	qr_wal_snapshot_source_store(&s->store_src, qr_core_store(s->core),
				     cfg->cluster->partitions);
	s->snap_src = (struct qr_wal_snapshot_source){
		.ctx = s,
		.partitions = cfg->cluster->partitions,
		.for_each_in_partition = snap_for_each,
	};
	*out = s;
	return 0;
fail:
	qr_ports_bells_free(&s->ports);
	if (s->bell_fd >= 0)
		close(s->bell_fd);
	if (s->core)
		qr_core_destroy(s->core);
	free(s);
	return rc;
}

int qr_shard_destroy(struct qr_shard *s)
{
	if (!s)
		return 0;
	/* Everything appended reaches the disk; acks for it are not sent
	 * (the port is stopping): clients retry, and their writes are
	 * recognised as applied (same version) or re-applied. */
	qr_idle_wait_close(s->iw);
	qr_bell_unlisten(&s->bell);
	qr_ports_bells_free(&s->ports);
	if (s->bell_fd >= 0)
		close(s->bell_fd);
	int rc = s->wal ? qr_wal_close(s->wal, NULL) : 0;
	if (s->core)
		qr_core_destroy(s->core);
	free(s);
	return rc;
}

const struct qr_shard_stats *qr_shard_stats(const struct qr_shard *s)
{
	return &s->stats;
}

struct qr_core *qr_shard_core(struct qr_shard *s)
{
	return s->core;
}

struct qr_wal *qr_shard_wal(struct qr_shard *s)
{
	return s->wal;
}

const struct qr_wal_recover_stats *qr_shard_recovery(const struct qr_shard *s)
{
	return &s->rec;
}

uint64_t qr_shard_now_us(const struct qr_shard *s)
{
	return qr_shard_tsc_us(s);
}
