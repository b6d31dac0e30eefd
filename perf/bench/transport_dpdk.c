/* SPDX-License-Identifier: MIT */
/*
 * DPDK transport of quorate-bench (--transport dpdk --profile X.ini): the
 * generator opens its own DPDK port from any drivers-conf profile, the way
 * quorated does (src/server/quorated.c), and speaks Ethernet/IPv4/UDP and
 * ARP itself (src/net/packet.h, src/net/arp.h).
 *
 * Set-up (dpdk_setup, once, before the first phase):
 * - EAL arguments from the profile with {iface} {run} {pci} {cluster}
 *   expanded ({node} is the cluster's node count: the generator is "the
 *   node after the last"), --file-prefix replaced by qrbench so a
 *   generator never shares runtime files with a node, and, when the
 *   profile names no cores, lcores 0..T floating over every CPU (lcore 0
 *   prints progress, 1..T run the engines);
 * - net_af_packet's qpairs=1 becomes qpairs=T: one PACKET_MMAP socket per
 *   queue, and the kernel spreads received frames over them (fanout hash);
 * - one port (port 0) with Q = min(T, device's rx queues, tx queues) queue
 *   pairs; when Q < T the thread count drops to Q, said on stderr. RSS on
 *   IP/UDP when the device has it;
 * - one mempool (the profile's mbufs, or more if the queues need it), tx
 *   checksum offload when the profile asks and the device has it;
 * - node MACs: the cluster file's `mac` keys (static), else resolved by
 *   ARP before the run (2 s at most; an unresolved node is an error).
 *
 * Data path (per thread t: rx queue t, tx queue t, an rte_ring of frames
 * other threads received for t; nothing allocates from the heap, no
 * syscall of ours: mbufs come from the pool, although a kernel-backed PMD
 * such as af_packet makes its own per-burst syscall):
 * - each endpoint (one per thread per phase) takes a fresh UDP port from
 *   gen_port .. gen_port + PORT_SPAN - 1: nodes deduplicate by client
 *   address and request id, and every phase restarts the request ids from
 *   the same seed; late replies to a closed endpoint's port are dropped
 *   here (STALE_PORT);
 * - tx: payload copied behind 42 bytes of headers built by
 *   qr_pkt_build_udp_headers (cost: one copy of <= 1472 B per frame);
 *   the destination MAC from the thread's ARP table; a node with no valid
 *   entry gets a rate-limited ARP request and its frame is not sent (the
 *   engine counts SEND_FAILED);
 * - rx: qr_pkt_parse; ARP requests for the generator's IP are answered,
 *   ARP senders and UDP sources learned; UDP to (gen_ip, a port of ours)
 *   is handed to the engine (the mbuf is held until the next rx_burst),
 *   or to the owning thread's ring when another thread received it;
 *   everything else is dropped and counted by reason.
 * - wait: the profile's [loop] idle = poll (or --busy-poll) spins; backoff
 *   spins IDLE_SPINS turns and then sleeps 20 us at a time (the PMDs here
 *   have no rx interrupt), which costs up to that much latency when idle.
 *
 * --memif-direct (issue 11 item 4: a local cluster with no switch and no
 * kernel on any path): the generator serves every node's client memif
 * socket itself, in qr-vswitch's place (tools/cluster switch stop first).
 * The profile's vdev (a memif client at {run}/memif-{node}.sock) is opened
 * once per node i as a server, net_memif_g<i>, {node} = i: port i reaches
 * node i only, so a frame goes out on its destination node's port and
 * replies come in on the ports polled in turn. Every node port has one
 * queue pair, so one thread. Where the profile has a doorbell, the
 * generator takes qr-vswitch's row on the board (shard/doorbell.h): it
 * rings node i's bell after a burst to port i, and when idle it arms its
 * own, polls every port once more (B1: what that finds is kept for the
 * next rx burst) and blocks on it, so the nodes' rings wake it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "bench.h"
#include "common/cluster.h"
#include "common/compiler.h"
#include "net/arp.h"
#include "net/packet.h"
#include "quorate/err.h"
#include "server/profile.h"
#include "shard/doorbell.h"

#define EAL_ARGS_MAX   64
#define PORT_SPAN      1024	     /* generator UDP ports in rotation */
#define FWD_RING_SIZE  1024	     /* frames received for another thread */
#define ARP_SLOTS      128	     /* per thread; > nodes, a power of two */
#define RESOLVE_NS_MAX 2000000000ull /* ARP resolution at set-up */
#define TX_RETRIES     16	     /* bounded spins on a full tx queue */
#define IDLE_SPINS     256	     /* idle turns before sleeping */
/* ... before blocking on our doorbell (direct): a blocked generator costs
 * a node only a flag read, and its spinning takes a shared core from the
 * nodes (perf/README.md, "memif-direct"). */
#define BELL_SPINS     8
#define IDLE_SLEEP_NS  20000ull	     /* one backoff sleep */
#define FILE_PREFIX    "--file-prefix=qrbench"
#define QUEUES_MAX     BENCH_THREADS_MAX

_Static_assert((ARP_SLOTS & (ARP_SLOTS - 1)) == 0, "ARP_SLOTS power of 2");
_Static_assert(ARP_SLOTS >= QR_ARP_PROBE_MAX, "ARP_SLOTS too small");

/* Drops and events of the data path, by reason: X(name, text). */
#define DPDK_CTR_LIST(X)                                                       \
	X(RX_FRAMES, "rx_frames")	  /* from the port */                  \
	X(RX_DELIVERED, "rx_delivered")	  /* UDP payloads to the engine */     \
	X(RX_FORWARDED, "rx_forwarded")	  /* to another thread's ring */       \
	X(RX_NOT_OURS, "rx_not_ours")	  /* UDP to another IP or port */      \
	X(RX_STALE_PORT, "rx_stale_port") /* to a port no endpoint owns */     \
	X(RX_RING_FULL, "rx_ring_full")	  /* owner's ring full: dropped */     \
	X(RX_MULTISEG, "rx_multiseg")	  /* chained mbuf: dropped */          \
	X(RX_ARP, "rx_arp")		  /* ARP frames seen */                \
	X(ARP_REPLIED, "arp_replied")	  /* requests for gen_ip answered */   \
	X(ARP_REQUESTED, "arp_requested") /* requests we sent */               \
	X(TX_FRAMES, "tx_frames")	  /* UDP frames the port took */       \
	X(TX_NO_MAC, "tx_no_mac")	  /* destination unresolved */         \
	X(TX_NO_MBUF, "tx_no_mbuf")	  /* pool empty */                     \
	X(TX_QUEUE_FULL, "tx_queue_full") /* tx queue full after retries */

enum dpdk_ctr {
#define DPDK_CTR_ENUM(name, text) CTR_##name,
	DPDK_CTR_LIST(DPDK_CTR_ENUM)
#undef DPDK_CTR_ENUM
		CTR_COUNT,
};

static const char *const ctr_name[CTR_COUNT] = {
#define DPDK_CTR_TEXT(name, text) text,
	DPDK_CTR_LIST(DPDK_CTR_TEXT)
#undef DPDK_CTR_TEXT
};

struct dpdk_ep {
	unsigned q;	/* thread = rx/tx queue = ring index */
	unsigned next_rx; /* the port polled first next time (direct) */
	unsigned nstash;  /* frames the last idle check found (B1) */
	struct rte_mbuf *stash[BENCH_BURST];
	uint16_t port;	/* its UDP port, host order */
	uint16_t ip_id; /* next IPv4 id */
	unsigned idle;	/* consecutive idle waits */
	unsigned nheld; /* mbufs whose payloads the engine holds */
	struct rte_mbuf *held[BENCH_BURST];
	uint64_t ctr[CTR_COUNT];
	uint64_t parse_drop[QR_PKT_DROP_COUNT];
	struct qr_arp_table arp;
	struct qr_arp_entry arp_slots[ARP_SLOTS];
};

static struct {
	uint16_t port_id; /* ports[0] */
	uint16_t nq; /* queue pairs = threads */
	/* --memif-direct: one port per node (ports[i] reaches node i); else
	 * one port for every node. */
	bool direct;
	uint16_t nports;
	uint16_t ports[QR_CLUSTER_NODES_MAX];
	uint8_t port_idx[RTE_MAX_ETHPORTS]; /* port id -> index */
	/* Doorbells (direct, a profile with one): ours, and each node's. */
	struct qr_bell_board *board;
	struct qr_bell bell;
	struct qr_bell_target node_bell[QR_CLUSTER_NODES_MAX];
	bool csum_offload;
	bool idle_poll;
	struct rte_mempool *pool;
	struct rte_ring *ring[QUEUES_MAX];
	unsigned lcore[QUEUES_MAX]; /* worker lcore of each thread */
	struct qr_pkt_endpoint gen; /* ip, mac; port per endpoint */
	uint16_t gen_port;	    /* first of PORT_SPAN */
	const struct qr_cluster *cl;
	uint8_t node_mac[QR_CLUSTER_NODES_MAX][QR_ETH_ADDR_BYTES];
	bool node_static[QR_CLUSTER_NODES_MAX]; /* mac key in the file */
	uint64_t node_seen_us[QR_CLUSTER_NODES_MAX];
	/* 1 + thread owning gen_port + i, 0: none */
	_Atomic uint8_t port_owner[PORT_SPAN];
	atomic_uint next_port;
	/* launch trampolines */
	void *(*fn[QUEUES_MAX])(void *);
	void *arg[QUEUES_MAX];
	/* totals of closed endpoints (under lock) */
	pthread_mutex_t lock;
	uint64_t ctr[CTR_COUNT];
	uint64_t parse_drop[QR_PKT_DROP_COUNT];
	bool started;
	uint16_t nstarted; /* ports[0 .. nstarted) started: closed at exit */
	int ringer_fd;	   /* the doorbells' socket; -1: none */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .ringer_fd = -1};

static uint64_t now_us(void)
{
	return qr_clock_mono_ns() / 1000;
}

/* ---- set-up ---- */

/* Replace "qpairs=N" in an af_packet vdev string by qpairs=q (in place in
 * a copy). Other vdevs are left as the profile wrote them. */
static void vdev_queues(const char *in, unsigned q, char *out, size_t len)
{
	const char *at = strstr(in, "qpairs=");
	if (strncmp(in, "net_af_packet", 13) || !at) {
		snprintf(out, len, "%s", in);
		return;
	}
	const char *rest = at + 7;
	while (*rest >= '0' && *rest <= '9')
		rest++;
	snprintf(out, len, "%.*sqpairs=%u%s", (int)(at - in), in, q, rest);
}

/* --memif-direct: node i's client memif (the profile's vdev with {node} =
 * i) as its server: the device renamed net_memif_g<i>, role=client made
 * role=server. Anything else is refused: the mode is for memif profiles
 * whose client port is a memif client (drivers-conf/memif.ini). */
static int direct_vdev(const struct qr_profile *pf,
		       const struct qr_profile_vars *v, unsigned node,
		       char *out, size_t len, char *err, size_t n)
{
	char vd[512];
	if (!pf->vdev[0] ||
	    qr_profile_expand(pf->vdev, v, vd, sizeof(vd), err, n))
		return -1;
	const char *comma = strchr(vd, ',');
	const char *role = strstr(vd, "role=client");
	if (strncmp(vd, "net_memif", 9) || !comma || !role) {
		snprintf(err, n,
			 "--memif-direct: profile %s's vdev is not a memif "
			 "client (role=client): %s",
			 pf->path, vd);
		return -1;
	}
	if (!pf->mesh_vdev[0]) {
		/* memif-switch.ini: the nodes reach each other through
		 * qr-vswitch only, which this mode stops. */
		snprintf(err, n,
			 "--memif-direct: profile %s has no [mesh]: its nodes "
			 "talk through qr-vswitch, which this mode replaces "
			 "(use drivers-conf/memif.ini)",
			 pf->path);
		return -1;
	}
	int k = snprintf(out, len, "--vdev=net_memif_g%u%.*srole=server%s",
			 node, (int)(role - comma), comma, role + 11);
	if (k < 0 || (size_t)k >= len) {
		snprintf(err, n, "--memif-direct: vdev too long");
		return -1;
	}
	return 0;
}

static int build_eal_args(const struct bench_transport_setup *s,
			  const struct qr_profile *pf, char **argv, char *store,
			  size_t store_len, char *err, size_t n)
{
	struct qr_profile_vars v = {
		.iface = s->iface,
		.run = s->run_dir,
		.pci = s->pci,
		.node = s->cluster->nodes,
		.cluster = s->cluster->id,
		.framesz = qr_profile_framesz(s->cluster->peer_frame_bytes),
	};
	char expanded[1024];
	if (qr_profile_expand(pf->eal_args, &v, expanded, sizeof(expanded), err,
			      n))
		return -1;
	int argc = 0;
	size_t used = 0;
	bool has_cores = false, has_prefix = false;
	argv[argc++] = "quorate-bench";
	for (char *save, *tok = strtok_r(expanded, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (!strncmp(tok, "--file-prefix", 13)) {
			tok = FILE_PREFIX;
			has_prefix = true;
		}
		size_t l = strlen(tok) + 1;
		if (argc >= EAL_ARGS_MAX - 4 || used + l > store_len) {
			snprintf(err, n, "%s: [eal] args: too many", pf->path);
			return -1;
		}
		memcpy(store + used, tok, l);
		argv[argc++] = store + used;
		used += l;
		has_cores |= !strcmp(tok, "-l") || !strcmp(tok, "-c") ||
			     !strncmp(tok, "--lcores", 8);
	}
	char extra[QR_CLUSTER_NODES_MAX + 2][600];
	unsigned nextra = 0;
	if (!has_prefix)
		snprintf(extra[nextra++], sizeof(extra[0]), FILE_PREFIX);
	if (s->memif_direct) {
		for (unsigned i = 0; i < s->cluster->nodes; i++) {
			v.node = i;
			if (direct_vdev(pf, &v, i, extra[nextra],
					sizeof(extra[0]), err, n))
				return -1;
			nextra++;
		}
	} else if (pf->vdev[0]) {
		char vd[512], vq[560];
		if (qr_profile_expand(pf->vdev, &v, vd, sizeof(vd), err, n))
			return -1;
		vdev_queues(vd, s->threads, vq, sizeof(vq));
		snprintf(extra[nextra++], sizeof(extra[0]), "--vdev=%s", vq);
	}
	if (!has_cores) {
		/* Engines float over every CPU: on a small machine they
		 * share the cores with the nodes, as the udp mode does. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(extra[nextra++], sizeof(extra[0]),
			 "--lcores=(0-%u)@(0-%ld)", s->threads, cpus - 1);
	}
	for (unsigned i = 0; i < nextra; i++) {
		size_t l = strlen(extra[i]) + 1;
		if (used + l > store_len || argc >= EAL_ARGS_MAX - 1) {
			snprintf(err, n, "%s: [eal]: too long", pf->path);
			return -1;
		}
		memcpy(store + used, extra[i], l);
		argv[argc++] = store + used;
		used += l;
	}
	argv[argc] = NULL;
	return argc;
}

/* Configure and start one port with q queue pairs from g.pool. */
static int port_start(uint16_t port, const struct rte_eth_dev_info *info,
		      const struct qr_profile *pf, unsigned q, uint16_t rxd,
		      uint16_t txd, int socket, char *err, size_t n)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	uint64_t rss = info->flow_type_rss_offloads &
		       (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
	if (q > 1 && rss) {
		/* Replies land on any queue; the rings take them to their
		 * thread. RSS only spreads the receive work. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss;
	}
	uint64_t csum =
		RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (pf->tx_checksum_offload) {
		if ((info->tx_offload_capa & csum) == csum) {
			conf.txmode.offloads |= csum;
			g.csum_offload = true;
		} else {
			fprintf(stderr,
				"quorate-bench: dpdk: profile %s asks "
				"for tx checksum offload; the device "
				"cannot: software checksums\n",
				pf->path);
		}
	}
	int rc = rte_eth_dev_configure(port, (uint16_t)q, (uint16_t)q, &conf);
	if (rc) {
		snprintf(err, n, "port %u: configure %u queues: %s", port, q,
			 rte_strerror(-rc));
		return -1;
	}
	for (uint16_t i = 0; i < q; i++) {
		rc = rte_eth_rx_queue_setup(port, i, rxd, (unsigned)socket,
					    NULL, g.pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(port, i, txd,
						    (unsigned)socket, NULL);
		if (rc) {
			snprintf(err, n, "port %u: queue %u setup: %s", port, i,
				 rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(port);
	if (rc) {
		snprintf(err, n, "port %u: start: %s", port, rte_strerror(-rc));
		return -1;
	}
	/* A --gen-mac other than the port's: the port must take it. */
	rte_eth_promiscuous_enable(port);
	return 0;
}

static int port_setup(const struct qr_profile *pf, unsigned *threads, char *err,
		      size_t n)
{
	if (rte_eth_dev_count_avail() < 1) {
		snprintf(err, n,
			 "profile %s: no DPDK port opened (check the vdev / "
			 "--pci / --iface, see the EAL lines above)",
			 pf->path);
		return -1;
	}
	if (g.direct) {
		g.nports = (uint16_t)g.cl->nodes;
		for (unsigned i = 0; i < g.nports; i++) {
			char name[32];
			snprintf(name, sizeof(name), "net_memif_g%u", i);
			if (rte_eth_dev_get_port_by_name(name, &g.ports[i])) {
				snprintf(err, n, "--memif-direct: no port %s",
					 name);
				return -1;
			}
		}
	} else {
		g.nports = 1;
		g.ports[0] = (uint16_t)rte_eth_find_next(0);
	}
	for (unsigned i = 0; i < g.nports; i++)
		g.port_idx[g.ports[i]] = (uint8_t)i;
	uint16_t port = g.ports[0];
	g.port_id = port;
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port, &info) != 0) {
		snprintf(err, n, "port %u: cannot read device info", port);
		return -1;
	}
	unsigned q = *threads;
	/* A memif to qr-vswitch: the switch serves one queue pair, and a
	 * memif client may not open rings its server lacks. Direct: a
	 * node's client port has one queue pair, and every thread would
	 * need a queue on every node's port: one thread. */
	if (!strcmp(info.driver_name, "net_memif"))
		info.max_rx_queues = info.max_tx_queues = 1;
	if (q > info.max_rx_queues)
		q = info.max_rx_queues;
	if (q > info.max_tx_queues)
		q = info.max_tx_queues;
	if (q < *threads) {
		fprintf(stderr,
			"quorate-bench: dpdk: %s (%s) has %u rx/%u tx "
			"queues: %u thread(s) instead of %u\n",
			pf->name, info.driver_name, info.max_rx_queues,
			info.max_tx_queues, q, *threads);
		*threads = q;
	}
	g.nq = (uint16_t)q;
	uint16_t rxd = pf->rx_desc, txd = pf->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	/* Every queue full, every ring full, every burst in flight held. */
	unsigned need = g.nports * q * (rxd + txd) +
			q * (FWD_RING_SIZE + 4 * BENCH_BURST + pf->mbuf_cache) +
			1024;
	unsigned mbufs = pf->mbufs > need ? pf->mbufs : need;
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = 0;
	g.pool = rte_pktmbuf_pool_create("qrb_mbufs", mbufs, pf->mbuf_cache, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!g.pool) {
		snprintf(err, n,
			 "mempool of %u mbufs: %s (give the EAL more memory: "
			 "-m in the profile's [eal] args)",
			 mbufs, rte_strerror(rte_errno));
		return -1;
	}
	for (uint16_t i = 0; i < q; i++) {
		char name[32];
		snprintf(name, sizeof(name), "qrb_fwd_%u", i);
		g.ring[i] = rte_ring_create(name, FWD_RING_SIZE, socket,
					    RING_F_SC_DEQ);
		if (!g.ring[i]) {
			snprintf(err, n, "ring %s: %s", name,
				 rte_strerror(rte_errno));
			return -1;
		}
	}
	g.started = true;
	for (unsigned i = 0; i < g.nports; i++) {
		struct rte_eth_dev_info pi;
		/* Counted before its start: a port whose start failed is
		 * still configured, and closed at teardown (its socket
		 * file too). */
		g.nstarted = (uint16_t)(i + 1);
		if (rte_eth_dev_info_get(g.ports[i], &pi) != 0 ||
		    port_start(g.ports[i], &pi, pf, q, rxd, txd, socket, err,
			       n))
			return -1;
	}
	return 0;
}

/* Send one ARP frame on queue q of port (an id): 0 or -1 (no mbuf, queue
 * full). */
static int send_arp(uint16_t port, uint16_t q, uint16_t op,
		    const uint8_t *target_mac, uint32_t target_ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g.pool);
	if (!m)
		return -1;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len = qr_pkt_build_arp(d, rte_pktmbuf_tailroom(m), op, g.gen.mac,
				      g.gen.ip, target_mac, target_ip);
	QR_ASSERT(len == QR_PKT_ARP_BYTES);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (rte_eth_tx_burst(port, q, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return -1;
	}
	/* Direct: the node may be asleep on its doorbell (B1). */
	if (g.board)
		qr_bell_ring(&g.node_bell[g.port_idx[port]]);
	return 0;
}

/* The port (an id) that reaches node: its own in direct mode. */
static uint16_t port_of_node(int node)
{
	return g.direct && node >= 0 ? g.ports[node] : g.port_id;
}

static int node_of_ip(uint32_t ip)
{
	for (unsigned i = 0; i < g.cl->nodes; i++)
		if (g.cl->node[i].ip == ip)
			return (int)i;
	return -1;
}

/* ARP for every node without a `mac` key; answer requests meanwhile.
 * Runs on the main lcore before any worker polls a queue. */
static int resolve_nodes(char *err, size_t n)
{
	unsigned missing = 0;
	for (unsigned i = 0; i < g.cl->nodes; i++) {
		const struct qr_cluster_node *nd = &g.cl->node[i];
		g.node_static[i] = nd->has_mac;
		if (nd->has_mac)
			memcpy(g.node_mac[i], nd->mac, QR_ETH_ADDR_BYTES);
		else
			missing++;
	}
	uint64_t start = qr_clock_mono_ns(), next_ask = start;
	while (missing) {
		uint64_t now = qr_clock_mono_ns();
		if (now - start > RESOLVE_NS_MAX)
			break;
		if (now >= next_ask) {
			for (unsigned i = 0; i < g.cl->nodes; i++)
				if (!g.node_static[i] && !g.node_seen_us[i])
					send_arp(port_of_node((int)i), 0,
						 QR_ARP_OP_REQUEST, NULL,
						 g.cl->node[i].ip);
			next_ask = now + 100000000ull;
		}
		for (unsigned pq = 0; pq < g.nports * g.nq; pq++) {
			uint16_t q = (uint16_t)(pq % g.nq);
			uint16_t port = g.ports[pq / g.nq];
			struct rte_mbuf *mb[BENCH_BURST];
			uint16_t k = rte_eth_rx_burst(port, q, mb, BENCH_BURST);
			for (uint16_t j = 0; j < k; j++) {
				struct qr_pkt p;
				int rc = qr_pkt_parse(
					rte_pktmbuf_mtod(mb[j], uint8_t *),
					mb[j]->data_len, &p);
				if (rc == QR_PKT_ARP) {
					if (p.arp.op == QR_ARP_OP_REQUEST &&
					    p.arp.target_ip == g.gen.ip)
						send_arp(port, q,
							 QR_ARP_OP_REPLY,
							 p.arp.sender_mac,
							 p.arp.sender_ip);
					int nd = node_of_ip(p.arp.sender_ip);
					if (nd >= 0 && !g.node_static[nd] &&
					    !g.node_seen_us[nd] &&
					    !qr_eth_is_group(
						    p.arp.sender_mac)) {
						memcpy(g.node_mac[nd],
						       p.arp.sender_mac,
						       QR_ETH_ADDR_BYTES);
						g.node_seen_us[nd] = now_us();
						missing--;
					}
				}
				rte_pktmbuf_free(mb[j]);
			}
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (missing) {
		for (unsigned i = 0; i < g.cl->nodes; i++)
			if (!g.node_static[i] && !g.node_seen_us[i]) {
				uint32_t a = g.cl->node[i].ip;
				snprintf(err, n,
					 "node %u (%u.%u.%u.%u): no ARP reply "
					 "in %.0f s and no mac key in the "
					 "cluster file",
					 i, a & 0xff, (a >> 8) & 0xff,
					 (a >> 16) & 0xff, a >> 24,
					 RESOLVE_NS_MAX / 1e9);
				return -1;
			}
	}
	return 0;
}

/* Direct: every node's port up (its quorated connected to our socket;
 * a node's client memif reconnects on its own, shard/ports.h), at most
 * LINK_WAIT_NS. */
#define LINK_WAIT_NS 10000000000ull
static int wait_links(char *err, size_t n)
{
	uint64_t start = qr_clock_mono_ns();
	for (;;) {
		unsigned down = 0, first = 0;
		for (unsigned i = 0; i < g.nports; i++) {
			struct rte_eth_link l;
			if (rte_eth_link_get_nowait(g.ports[i], &l) != 0 ||
			    l.link_status != RTE_ETH_LINK_UP) {
				if (!down++)
					first = i;
			}
		}
		if (!down)
			return 0;
		if (qr_clock_mono_ns() - start > LINK_WAIT_NS) {
			snprintf(err, n,
				 "--memif-direct: %u node port(s) not up in "
				 "%.0f s (node %u first: is its quorated "
				 "running, and qr-vswitch stopped: "
				 "tools/cluster switch stop?)",
				 down, LINK_WAIT_NS / 1e9, first);
			return -1;
		}
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
}

/* Direct with a doorbell in the profile: qr-vswitch's row is ours (the
 * nodes ring it after a burst to their client port), and a target per
 * node. 0, or -1 with err. */
static int bells_setup(const struct bench_transport_setup *s,
		       const struct qr_profile *pf, char *err, size_t n)
{
	if (!g.direct || !pf->doorbell[0])
		return 0;
	struct qr_profile_vars v = {
		.run = s->run_dir,
		.node = s->cluster->nodes,
		.cluster = s->cluster->id,
	};
	char prefix[QR_BELL_PREFIX_MAX + 1];
	char why[256];
	if (qr_profile_expand(pf->doorbell, &v, prefix, sizeof(prefix), err,
			      n))
		return -1;
	int fd = qr_bell_ringer_socket();
	g.ringer_fd = fd;
	if (fd < 0 || qr_bell_board_open(prefix, &g.board, why, sizeof(why)) ||
	    qr_bell_listen(g.board, QR_BELL_ROW_SWITCH, 0, &g.bell, why,
			   sizeof(why))) {
		snprintf(err, n, "--memif-direct: doorbell %s: %s", prefix,
			 fd < 0 ? "no socket" : why);
		return -1;
	}
	for (unsigned i = 0; i < g.cl->nodes; i++)
		if (qr_bell_target_init(g.board, i, 0, fd, &g.node_bell[i],
					why, sizeof(why))) {
			snprintf(err, n, "--memif-direct: bell of node %u: %s",
				 i, why);
			return -1;
		}
	return 0;
}

static int launch_trampoline(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	g.fn[t](g.arg[t]);
	return 0;
}

static int dpdk_setup(struct bench_transport_setup *s, char *err, size_t n)
{
	static struct qr_profile pf;
	if (qr_profile_load(s->profile, &pf, err, n))
		return -1;
	if (s->threads > QUEUES_MAX)
		s->threads = QUEUES_MAX;
	char *argv[EAL_ARGS_MAX];
	static char store[4096];
	int argc = build_eal_args(s, &pf, argv, store, sizeof(store), err, n);
	if (argc < 0)
		return -1;
	fprintf(stderr, "quorate-bench: dpdk: EAL:");
	for (int i = 1; i < argc; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, "\n");
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, n, "DPDK EAL init failed with profile %s: %s",
			 pf.path, rte_strerror(rte_errno));
		return -1;
	}
	unsigned workers = rte_lcore_count() - 1;
	if (workers == 0) {
		snprintf(err, n,
			 "the EAL has no worker lcore (profile %s names "
			 "one core): the engines need lcores beside the "
			 "main one",
			 pf.path);
		return -1;
	}
	if (workers < s->threads) {
		fprintf(stderr,
			"quorate-bench: dpdk: %u worker lcore(s): %u "
			"thread(s) instead of %u\n",
			workers, workers, s->threads);
		s->threads = workers;
	}
	g.cl = s->cluster;
	g.idle_poll = pf.idle_poll || s->busy_poll;
	g.gen_port = s->gen_port;
	g.direct = s->memif_direct;
	if (port_setup(&pf, &s->threads, err, n) ||
	    (g.direct && (wait_links(err, n) || bells_setup(s, &pf, err, n))))
		return -1;
	unsigned lc = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	for (unsigned t = 0; t < g.nq; t++) {
		g.lcore[t] = lc;
		lc = rte_get_next_lcore(lc, 1, 0);
	}
	g.gen.ip = s->gen_ip;
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(g.port_id, &mac);
	if (s->has_gen_mac) {
		memcpy(g.gen.mac, s->gen_mac, QR_ETH_ADDR_BYTES);
		memcpy(mac.addr_bytes, s->gen_mac, QR_ETH_ADDR_BYTES);
		/* Best effort: promiscuous mode takes it anyway. */
		rte_eth_dev_default_mac_addr_set(g.port_id, &mac);
	} else {
		memcpy(g.gen.mac, mac.addr_bytes, QR_ETH_ADDR_BYTES);
	}
	if (resolve_nodes(err, n))
		return -1;
	struct rte_eth_dev_info info;
	rte_eth_dev_info_get(g.port_id, &info);
	uint32_t a = g.gen.ip;
	const uint8_t *m = g.gen.mac;
	fprintf(stderr,
		"quorate-bench: dpdk: port %u (%s, profile %s): "
		"%u.%u.%u.%u %02x:%02x:%02x:%02x:%02x:%02x udp %u.., %u "
		"queue pair(s) = threads on lcores, %s checksums%s%s\n",
		g.port_id, info.driver_name, pf.name, a & 0xff, (a >> 8) & 0xff,
		(a >> 16) & 0xff, a >> 24, m[0], m[1], m[2], m[3], m[4], m[5],
		g.gen_port, g.nq, g.csum_offload ? "offloaded" : "software",
		g.direct ? "; memif-direct: a port per node, no switch" : "",
		g.board ? ", doorbells" : "");
	return 0;
}

static int dpdk_launch(unsigned t, void *(*fn)(void *), void *arg)
{
	QR_ASSERT(t < g.nq);
	g.fn[t] = fn;
	g.arg[t] = arg;
	return rte_eal_remote_launch(launch_trampoline, (void *)(uintptr_t)t,
				     g.lcore[t])
		       ? -1
		       : 0;
}

static void dpdk_join(unsigned t)
{
	/* rte_eal_wait_lcore() spins: on a machine whose cores the nodes
	 * share, a spinning main lcore would take one from them for the
	 * whole run. Sleep until the worker is done, then reap it. */
	while (rte_eal_get_lcore_state(g.lcore[t]) == RUNNING) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	rte_eal_wait_lcore(g.lcore[t]);
}

static void dpdk_teardown(void)
{
	if (!g.cl)
		return;
	fprintf(stderr, "quorate-bench: dpdk:");
	for (int i = 0; i < CTR_COUNT; i++)
		fprintf(stderr, " %s %" PRIu64, ctr_name[i], g.ctr[i]);
	for (int i = 0; i < QR_PKT_DROP_COUNT; i++)
		if (g.parse_drop[i])
			fprintf(stderr, " drop_%s %" PRIu64,
				qr_pkt_drop_name(-i - 1), g.parse_drop[i]);
	fprintf(stderr, "\n");
	for (unsigned i = 0; g.started && i < g.nstarted; i++) {
		rte_eth_dev_stop(g.ports[i]);
		rte_eth_dev_close(g.ports[i]);
	}
	if (g.board) {
		qr_bell_unlisten(&g.bell);
		qr_bell_board_close(g.board);
		g.board = NULL;
	}
	if (g.ringer_fd >= 0) {
		close(g.ringer_fd);
		g.ringer_fd = -1;
	}
	rte_eal_cleanup();
	g.cl = NULL;
}

/* ---- data path ---- */

static void *dpdk_open(unsigned thread, char *err, size_t err_len)
{
	if (thread >= g.nq) {
		snprintf(err, err_len, "thread %u: the port has %u queues",
			 thread, g.nq);
		return NULL;
	}
	struct dpdk_ep *ep = calloc(1, sizeof(*ep));
	if (!ep) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ep->q = thread;
	if (qr_arp_init(&ep->arp, ep->arp_slots, ARP_SLOTS,
			QR_ARP_AGE_US_DEFAULT, QR_ARP_REQUEST_GAP_US_DEFAULT)) {
		snprintf(err, err_len, "ARP table");
		free(ep);
		return NULL;
	}
	uint64_t t_us = now_us();
	for (unsigned i = 0; i < g.cl->nodes; i++) {
		if (g.node_static[i])
			qr_arp_add_static(&ep->arp, g.cl->node[i].ip,
					  g.node_mac[i]);
		else
			qr_arp_learn(&ep->arp, g.cl->node[i].ip, g.node_mac[i],
				     t_us);
	}
	/* A fresh port: the first free one after the last handed out. */
	for (unsigned tries = 0; tries < PORT_SPAN; tries++) {
		unsigned i = atomic_fetch_add(&g.next_port, 1) % PORT_SPAN;
		uint8_t none = 0;
		if (atomic_compare_exchange_strong(&g.port_owner[i], &none,
						   (uint8_t)(thread + 1))) {
			ep->port = (uint16_t)(g.gen_port + i);
			break;
		}
	}
	if (!ep->port) {
		snprintf(err, err_len, "no free generator UDP port");
		free(ep);
		return NULL;
	}
	ep->ip_id = (uint16_t)(ep->port * 2654435761u);
	return ep;
}

static void dpdk_close(void *p)
{
	struct dpdk_ep *ep = p;
	if (!ep)
		return;
	rte_pktmbuf_free_bulk(ep->held, ep->nheld);
	rte_pktmbuf_free_bulk(ep->stash, ep->nstash);
	atomic_store(&g.port_owner[ep->port - g.gen_port], 0);
	/* Frames other threads forwarded here: nobody else dequeues. */
	struct rte_mbuf *mb[BENCH_BURST];
	unsigned k;
	while ((k = rte_ring_dequeue_burst(g.ring[ep->q], (void **)mb,
					   BENCH_BURST, NULL)) > 0)
		rte_pktmbuf_free_bulk(mb, k);
	pthread_mutex_lock(&g.lock);
	for (int i = 0; i < CTR_COUNT; i++)
		g.ctr[i] += ep->ctr[i];
	for (int i = 0; i < QR_PKT_DROP_COUNT; i++)
		g.parse_drop[i] += ep->parse_drop[i];
	pthread_mutex_unlock(&g.lock);
	free(ep);
}

/* One received frame: deliver it into pkts[*got] (and hold the mbuf), pass
 * it to its thread, answer or learn from it, or drop it; counted either
 * way. Cost: one parse (IPv4 header checksum, and the UDP checksum when
 * present: ~1 cycle per 8 payload bytes). */
static void rx_one(struct dpdk_ep *ep, struct rte_mbuf *m,
		   struct qr_client_pkt *pkts, unsigned *got, uint64_t t_us)
{
	if (m->nb_segs != 1) {
		ep->ctr[CTR_RX_MULTISEG]++;
		rte_pktmbuf_free(m);
		return;
	}
	struct qr_pkt p;
	int rc = qr_pkt_parse(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &p);
	if (rc < 0) {
		if (-rc <= QR_PKT_DROP_COUNT)
			ep->parse_drop[-rc - 1]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (rc == QR_PKT_ARP) {
		ep->ctr[CTR_RX_ARP]++;
		if (qr_ipv4_is_unicast(p.arp.sender_ip))
			qr_arp_learn(&ep->arp, p.arp.sender_ip,
				     p.arp.sender_mac, t_us);
		if (p.arp.op == QR_ARP_OP_REQUEST &&
		    p.arp.target_ip == g.gen.ip &&
		    send_arp(g.direct ? m->port : g.port_id, (uint16_t)ep->q,
			     QR_ARP_OP_REPLY, p.arp.sender_mac,
			     p.arp.sender_ip) == 0)
			ep->ctr[CTR_ARP_REPLIED]++;
		rte_pktmbuf_free(m);
		return;
	}
	unsigned off = (unsigned)(uint16_t)(p.udp.dst_port - g.gen_port);
	if (p.udp.dst_ip != g.gen.ip || off >= PORT_SPAN) {
		ep->ctr[CTR_RX_NOT_OURS]++;
		rte_pktmbuf_free(m);
		return;
	}
	qr_arp_learn(&ep->arp, p.udp.src_ip, p.src_mac, t_us);
	unsigned owner =
		atomic_load_explicit(&g.port_owner[off], memory_order_relaxed);
	if (owner == ep->q + 1) {
		pkts[*got] = (struct qr_client_pkt){
			.ip = p.udp.src_ip,
			.port = p.udp.src_port,
			.len = p.udp.payload_len,
			.data = (uint8_t *)(uintptr_t)p.udp.payload,
		};
		(*got)++;
		ep->held[ep->nheld++] = m;
		ep->ctr[CTR_RX_DELIVERED]++;
	} else if (owner == 0) {
		ep->ctr[CTR_RX_STALE_PORT]++;
		rte_pktmbuf_free(m);
	} else if (rte_ring_enqueue(g.ring[owner - 1], m) == 0) {
		ep->ctr[CTR_RX_FORWARDED]++;
	} else {
		ep->ctr[CTR_RX_RING_FULL]++;
		rte_pktmbuf_free(m);
	}
}

static unsigned dpdk_rx_burst(void *p, struct qr_client_pkt *pkts, unsigned n)
{
	struct dpdk_ep *ep = p;
	if (ep->nheld) {
		rte_pktmbuf_free_bulk(ep->held, ep->nheld);
		ep->nheld = 0;
	}
	if (n > BENCH_BURST)
		n = BENCH_BURST;
	uint64_t t_us = now_us();
	unsigned got = 0;
	struct rte_mbuf *mb[BENCH_BURST];
	/* Frames another thread received for us first: they are older. */
	unsigned k =
		rte_ring_dequeue_burst(g.ring[ep->q], (void **)mb, n, NULL);
	for (unsigned i = 0; i < k; i++)
		rx_one(ep, mb[i], pkts, &got, t_us);
	/* Then what the last idle check found (B1), already counted. */
	unsigned s = 0;
	for (; s < ep->nstash && got < n; s++)
		rx_one(ep, ep->stash[s], pkts, &got, t_us);
	if (s) {
		memmove(ep->stash, ep->stash + s,
			(ep->nstash - s) * sizeof(ep->stash[0]));
		ep->nstash -= s;
	}
	/* At most n - got from the ports, so the held mbufs fit; direct:
	 * each node's port in turn, the first one rotating. */
	for (unsigned i = 0; i < g.nports && got < n; i++) {
		unsigned pi = (ep->next_rx + i) % g.nports;
		k = rte_eth_rx_burst(g.ports[pi], (uint16_t)ep->q, mb,
				     (uint16_t)(n - got));
		ep->ctr[CTR_RX_FRAMES] += k;
		for (unsigned j = 0; j < k; j++) {
			if (j + 1 < k)
				rte_prefetch0(
					rte_pktmbuf_mtod(mb[j + 1], void *));
			rx_one(ep, mb[j], pkts, &got, t_us);
		}
	}
	ep->next_rx = g.nports > 1 ? (ep->next_rx + 1) % g.nports : 0;
	if (got)
		ep->idle = 0;
	return got;
}

static unsigned dpdk_tx_burst(void *p, const struct qr_client_pkt *pkts, unsigned n)
{
	struct dpdk_ep *ep = p;
	unsigned done = 0;
	uint64_t t_us = now_us();
	while (done < n) {
		unsigned k = n - done < BENCH_BURST ? n - done : BENCH_BURST;
		struct rte_mbuf *mb[BENCH_BURST];
		if (rte_pktmbuf_alloc_bulk(g.pool, mb, k)) {
			ep->ctr[CTR_TX_NO_MBUF] += k;
			return done;
		}
		unsigned built = 0;
		uint16_t to[BENCH_BURST]; /* each frame's port (an id) */
		for (; built < k; built++) {
			const struct qr_client_pkt *pk = &pkts[done + built];
			to[built] = g.direct ? port_of_node(node_of_ip(pk->ip))
					     : g.port_id;
			struct qr_pkt_endpoint dst = {.ip = pk->ip,
						      .port = pk->port};
			if (qr_arp_lookup(&ep->arp, pk->ip, dst.mac, t_us)) {
				ep->ctr[CTR_TX_NO_MAC]++;
				if (qr_arp_need_request(&ep->arp, pk->ip,
							t_us) &&
				    send_arp(to[built], (uint16_t)ep->q,
					     QR_ARP_OP_REQUEST, NULL,
					     pk->ip) == 0)
					ep->ctr[CTR_ARP_REQUESTED]++;
				break;
			}
			struct rte_mbuf *m = mb[built];
			uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
			size_t len = QR_PKT_UDP_HDR_BYTES + pk->len;
			QR_ASSERT(len <= rte_pktmbuf_tailroom(m));
			memcpy(d + QR_PKT_UDP_HDR_BYTES, pk->data, pk->len);
			struct qr_pkt_endpoint src = g.gen;
			src.port = ep->port;
			qr_pkt_build_udp_headers(
				d, &src, &dst, pk->len,
				d + QR_PKT_UDP_HDR_BYTES, ep->ip_id++,
				g.csum_offload ? QR_PKT_F_CSUM_OFFLOAD : 0);
			m->data_len = (uint16_t)len;
			m->pkt_len = (uint32_t)len;
			if (g.csum_offload) {
				m->l2_len = QR_ETH_HDR_BYTES;
				m->l3_len = QR_IPV4_HDR_BYTES;
				m->ol_flags |= RTE_MBUF_F_TX_IPV4 |
					       RTE_MBUF_F_TX_IP_CKSUM |
					       RTE_MBUF_F_TX_UDP_CKSUM;
			}
		}
		/* In order, a run of frames to one port per burst (one
		 * run in all unless direct), so what went is a prefix. */
		unsigned sent = 0;
		uint64_t rung = 0; /* direct: the ports to ring, by index */
		while (sent < built) {
			unsigned end = sent + 1;
			while (end < built && to[end] == to[sent])
				end++;
			unsigned run_end = end;
			for (unsigned r = 0; sent < run_end && r < TX_RETRIES;
			     r++) {
				sent += rte_eth_tx_burst(
					to[sent], (uint16_t)ep->q, mb + sent,
					(uint16_t)(run_end - sent));
				if (sent < run_end)
					rte_pause();
			}
			if (g.board)
				rung |= 1ull << g.port_idx[to[run_end - 1]];
			if (sent < run_end)
				break;
		}
		/* B1: the ring after the frames are on the node's ring. */
		for (unsigned i = 0; rung; i++, rung >>= 1)
			if (rung & 1)
				qr_bell_ring(&g.node_bell[i]);
		ep->ctr[CTR_TX_QUEUE_FULL] += built - sent;
		ep->ctr[CTR_TX_FRAMES] += sent;
		if (sent < k)
			rte_pktmbuf_free_bulk(mb + sent, k - sent);
		done += sent;
		if (sent < k)
			break;
	}
	return done;
}

/* Direct with doorbells: armed, every port polled once more; what that
 * finds waits in the stash for the next rx burst (B1). True if any. */
static bool direct_peek(struct dpdk_ep *ep)
{
	for (unsigned i = 0; i < g.nports && ep->nstash < BENCH_BURST; i++) {
		uint16_t k = rte_eth_rx_burst(
			g.ports[i], (uint16_t)ep->q, ep->stash + ep->nstash,
			(uint16_t)(BENCH_BURST - ep->nstash));
		ep->ctr[CTR_RX_FRAMES] += k;
		ep->nstash += k;
	}
	return ep->nstash > 0 ||
	       rte_ring_count(g.ring[ep->q]) > 0;
}

static void dpdk_wait(void *p, uint64_t timeout_ns)
{
	struct dpdk_ep *ep = p;
	if (g.idle_poll || ++ep->idle < (g.board ? BELL_SPINS : IDLE_SPINS)) {
		rte_pause();
		return;
	}
	if (g.board) {
		qr_bell_arm(&g.bell);
		if (!direct_peek(ep)) {
			struct pollfd pfd = {.fd = g.bell.fd, .events = POLLIN};
			struct timespec ts = {
				(time_t)(timeout_ns / 1000000000ull),
				(long)(timeout_ns % 1000000000ull)};
			(void)ppoll(&pfd, 1, &ts, NULL);
		}
		qr_bell_disarm(&g.bell);
		(void)qr_bell_drain(&g.bell);
		ep->idle = 0;
		return;
	}
	struct timespec ts = {0, (long)(timeout_ns < IDLE_SLEEP_NS
						? timeout_ns
						: IDLE_SLEEP_NS)};
	nanosleep(&ts, NULL);
}

const struct bench_transport_ops bench_transport_dpdk = {
	.name = "dpdk",
	.open = dpdk_open,
	.tx_burst = dpdk_tx_burst,
	.rx_burst = dpdk_rx_burst,
	.wait = dpdk_wait,
	.close = dpdk_close,
	.setup = dpdk_setup,
	.launch = dpdk_launch,
	.join = dpdk_join,
	.teardown = dpdk_teardown,
};
