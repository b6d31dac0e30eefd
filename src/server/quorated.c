/* SPDX-License-Identifier: MIT */
/*
 * quorated: one quorate node.
 *
 *   quorated --config CLUSTER.ini --node ID --profile drivers-conf/X.ini
 *            [--run-dir DIR] [--data-dir DIR] [--wal-mode fsync|async|none]
 *            [--keys-max N] [--store-bytes-max BYTES] [--snapshot-every N]
 *            [--truncate-corrupt] [--metrics-listen IPV4:PORT|off]
 *
 * Start-up order: cluster file, profile, data directory, the installed
 * topology (<data_dir>/topology, server/topo_ctl.h) (each refused with a
 * message naming the file, key and problem, exit 2), then the DPDK EAL and
 * port from the profile (exit 3), then per shard: core (given the
 * topology), WAL recovery (exit 4 on corruption), WAL open; then one lcore
 * per shard runs the shard loop (src/shard) while the main thread's management endpoint (a unix socket,
 * src/server/mgmt.c) serves stats. SIGTERM or SIGINT stops the loops, and
 * every WAL is drained and synced before exit.
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/cluster.h"
#include "common/compiler.h"
#include "common/secret.h"
#include "core/auth.h"
#include "quorate/err.h"
#include "quorate/limits.h"
#include "server/mgmt.h"
#include "server/mesh.h"
#include "server/mgmt_sock.h"
#include "server/options.h"
#include "server/profile.h"
#include "server/topo_ctl.h"
#include "shard/shard.h"
#include "wal/wal.h"

#define EXIT_CONFIG   2
#define EXIT_DPDK     3
#define EXIT_RECOVERY 4
#define EAL_ARGS_MAX  (64 + QR_CLUSTER_NODES_MAX) /* + a link per peer */
#define RING_SIZE     4096
/* Start-up messages name up to two paths, each < QR_PATH_BYTES_MAX, and
 * never get cut. */
#define ERR_BYTES_MAX (2 * QR_PATH_BYTES_MAX + 256)

static struct qr_mgmt *g_mgmt;
static struct qr_shard_link g_links[QR_CLUSTER_NODES_MAX]; /* mesh.h */
static uint16_t g_nlinks;

static void on_signal(int sig)
{
	(void)sig;
	qr_shard_stop_all();
	qr_mgmt_stop(g_mgmt);
}

/*
 * mkdir -p, then prove we can create a file there. A directory whose probe
 * path would not fit QR_PATH_BYTES_MAX is refused (limits.h L4): every WAL
 * file name the shards build below it must fit too.
 */
static int check_data_dir(const char *dir, char *err, size_t n)
{
	char path[QR_PATH_BYTES_MAX];
	char probe[QR_PATH_BYTES_MAX];
	int l = snprintf(probe, sizeof(probe), "%s/.quorated-write-test", dir);
	if (l < 0 || (size_t)l >= sizeof(probe)) {
		snprintf(err, n,
			 "data directory: path too long (%zu bytes; at most "
			 "%d with its file names)",
			 strlen(dir), QR_PATH_BYTES_MAX);
		return QR_ECONFIG;
	}
	/* The probe fits, so the directory, a prefix of it, fits path. */
	size_t dir_len = strlen(dir);
	QR_ASSERT(dir_len < sizeof(path));
	memcpy(path, dir, dir_len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			/* path is a prefix of dir: print it from dir. */
			snprintf(err, n,
				 "data directory %s: cannot create %.*s: %s",
				 dir, (int)(p - path), dir, strerror(errno));
			return QR_ECONFIG;
		}
		*p = '/';
	}
	/* The data is the node's alone: 0700, and tightened if an older
	 * version created it 0755 (docs/operations.md, "Threat model"). */
	if ((mkdir(path, 0700) != 0 && errno != EEXIST) ||
	    chmod(path, 0700) != 0) {
		snprintf(err, n, "data directory %s: cannot create: %s", dir,
			 strerror(errno));
		return QR_ECONFIG;
	}
	int fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0) {
		snprintf(err, n, "data directory %s: not writable: %s", dir,
			 strerror(errno));
		return QR_ECONFIG;
	}
	close(fd);
	unlink(probe);
	return 0;
}

/* The profile's placeholders for this node. */
static struct qr_profile_vars node_vars(const struct options *o,
					const struct qr_cluster *cl)
{
	const struct qr_cluster_node *me = &cl->node[o->node];
	return (struct qr_profile_vars){
		.iface = me->iface,
		.run = o->run_dir,
		.pci = me->pci,
		.node = (unsigned)o->node,
		.cluster = cl->id,
		.framesz = qr_profile_framesz(cl->peer_frame_bytes),
	};
}

static int build_eal_args(const struct options *o, const struct qr_cluster *cl,
			  const struct qr_profile *pf, char **argv, char *store,
			  size_t store_len, char *err, size_t n)
{
	struct qr_profile_vars v = node_vars(o, cl);
	char expanded[1024];
	int argc = 0;
	argv[argc++] = "quorated";
	if (qr_profile_expand(pf->eal_args, &v, expanded, sizeof(expanded), err,
			      n))
		return -1;
	size_t used = 0;
	bool has_cores = false;
	for (char *tok = strtok(expanded, " \t"); tok;
	     tok = strtok(NULL, " \t")) {
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
	if (pf->vdev[0]) {
		char vd[512];
		if (qr_profile_expand(pf->vdev, &v, vd, sizeof(vd), err, n) ||
		    qr_profile_vdev_fits(vd, cl->peer_frame_bytes, err, n))
			return -1;
		int l = snprintf(store + used, store_len - used, "--vdev=%s",
				 vd);
		if (l < 0 || (size_t)l + 1 > store_len - used) {
			snprintf(err, n, "%s: [eal] vdev: too long", pf->path);
			return -1;
		}
		argv[argc++] = store + used;
		used += (size_t)l + 1;
	}
	if (qr_mesh_eal_args(pf, cl, &v, (unsigned)o->node, argv, &argc,
			     EAL_ARGS_MAX - 4, store, &used, store_len, err, n))
		return -1;
	if (!has_cores && o->cpu_first >= 0) {
		/* --cpus: shard i on its own CPU (dedicated cores). */
		if (o->cpu_last - o->cpu_first + 1 < cl->shards) {
			snprintf(err, n, "--cpus %d-%d: %u shards need %u CPUs",
				 o->cpu_first, o->cpu_last, cl->shards,
				 cl->shards);
			return -1;
		}
		int l = snprintf(store + used, store_len - used, "--lcores=");
		for (unsigned i = 0;
		     i < cl->shards && l > 0 && (size_t)l < store_len - used;
		     i++)
			l += snprintf(store + used + l, store_len - used - l,
				      "%s%u@%u", i ? "," : "", i,
				      (unsigned)o->cpu_first + i);
		if (l < 0 || (size_t)l + 1 > store_len - used) {
			snprintf(err, n, "--cpus: too many shards");
			return -1;
		}
		argv[argc++] = store + used;
		used += (size_t)l + 1;
	} else if (!has_cores) {
		/* No cores named: shard lcores float over every CPU, so
		 * several nodes can share a small machine. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		int l;
		if (cl->shards == 1)
			l = snprintf(store + used, store_len - used,
				     "--lcores=0@(0-%ld)", cpus - 1);
		else
			l = snprintf(store + used, store_len - used,
				     "--lcores=(0-%u)@(0-%ld)", cl->shards - 1,
				     cpus - 1);
		argv[argc++] = store + used;
		used += (size_t)l + 1;
	}
	argv[argc] = NULL;
	return argc;
}

/*
 * rte_flow steering: UDP destination port base_port + i -> rx queue i, so
 * the NIC delivers each frame to its shard core. Returns false (rules
 * removed) if the device refuses any rule: the caller falls back to
 * software steering from queue 0.
 */
static bool flow_steering(uint16_t port, uint16_t base_port, uint16_t q)
{
	struct rte_flow *flows[QR_SHARDS_MAX];
	for (uint16_t i = 0; i < q; i++) {
		struct rte_flow_attr attr = {.ingress = 1};
		struct rte_flow_item_udp spec = {
			.hdr.dst_port = rte_cpu_to_be_16(base_port + i),
		};
		struct rte_flow_item_udp mask = {
			.hdr.dst_port = RTE_BE16(0xffff),
		};
		struct rte_flow_item pattern[] = {
			{.type = RTE_FLOW_ITEM_TYPE_ETH},
			{.type = RTE_FLOW_ITEM_TYPE_IPV4},
			{.type = RTE_FLOW_ITEM_TYPE_UDP,
			 .spec = &spec,
			 .mask = &mask},
			{.type = RTE_FLOW_ITEM_TYPE_END},
		};
		struct rte_flow_action_queue queue = {.index = i};
		struct rte_flow_action actions[] = {
			{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
			{.type = RTE_FLOW_ACTION_TYPE_END},
		};
		struct rte_flow_error fe;
		flows[i] = rte_flow_create(port, &attr, pattern, actions, &fe);
		if (!flows[i]) {
			fprintf(stderr,
				"quorated: rte_flow rule for queue %u "
				"refused (%s): software steering\n",
				i, fe.message ? fe.message : "no reason");
			for (uint16_t k = 0; k < i; k++)
				rte_flow_destroy(port, flows[k], &fe);
			return false;
		}
	}
	return true;
}

/* Tx checksum offload when the profile asks and the device can. */
static bool port_offloads(const struct qr_profile *pf,
			  const struct rte_eth_dev_info *info,
			  struct rte_eth_conf *conf)
{
	uint64_t csum =
		RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (!pf->tx_checksum_offload)
		return false;
	if ((info->tx_offload_capa & csum) != csum) {
		fprintf(stderr,
			"quorated: profile %s asks for tx checksum "
			"offload; the device cannot: software "
			"checksums\n",
			pf->path);
		return false;
	}
	conf->txmode.offloads |= csum;
	return true;
}

/* q tx queues, the first rq of them with an rx queue too (rq <= q). */
static int port_queues_setup(const struct qr_profile *pf, uint16_t port,
			     uint16_t q, uint16_t rq, int socket,
			     struct rte_mempool *pool, char *err, size_t n)
{
	QR_ASSERT(q >= 1 && rq >= 1 && rq <= q);
	uint16_t rxd = pf->rx_desc, txd = pf->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	for (uint16_t i = 0; i < q; i++) {
		int rc = i < rq ? rte_eth_rx_queue_setup(port, i, rxd,
							 (unsigned)socket, NULL,
							 pool)
				: 0;
		if (!rc)
			rc = rte_eth_tx_queue_setup(port, i, txd,
						    (unsigned)socket, NULL);
		if (rc) {
			snprintf(err, n, "port 0: queue %u setup: %s", i,
				 rte_strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* The MTU of the kernel interface iface (SIOCGIFMTU), 0 if unknown. */
static unsigned iface_mtu(const char *iface)
{
	struct ifreq ifr;
	unsigned mtu = 0;
	if (!iface || !iface[0] || strlen(iface) >= sizeof(ifr.ifr_name))
		return 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, iface, strlen(iface));
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
		mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	return mtu;
}

/* The port carries peer frames of peer_frame bytes (cluster file): an
 * MTU of the frame plus IPv4 and UDP headers, set when over the 1500 B
 * every port starts with; refused when the device cannot (no silent
 * truncation: a receiver would drop every longer frame). 0 or -1.
 * net_af_packet (DPDK 22.11) reports a 1518 B max_rx_pktlen, so ethdev
 * refuses any MTU above 1500, yet its rings carry frames up to framesz
 * ({framesz}, sized for the frame): there the kernel interface's MTU is
 * the limit, and it is checked instead. net_memif has no MTU (no mtu_set:
 * ENOTSUP): its buffer size bsize ({framesz}) is what must hold a frame,
 * checked before the EAL starts (qr_profile_vdev_fits); docs/operations.md
 * has what was measured on each. */
static int port_mtu(uint16_t port, const struct rte_eth_dev_info *info,
		    unsigned peer_frame, const char *iface, char *err,
		    size_t n)
{
	unsigned mtu = peer_frame + 20u + 8u; /* IPv4 and UDP headers */
	if (mtu <= RTE_ETHER_MTU)
		return 0;
	if (mtu > info->max_mtu) {
		snprintf(err, n,
			 "peer_frame_bytes %u needs an MTU of %u; port 0 (%s) "
			 "allows at most %u (lower peer_frame_bytes in the "
			 "cluster file)",
			 peer_frame, mtu, info->driver_name, info->max_mtu);
		return -1;
	}
	int rc = rte_eth_dev_set_mtu(port, (uint16_t)mtu);
	if (rc && !strcmp(info->driver_name, "net_af_packet") &&
	    iface_mtu(iface) >= mtu)
		return 0;
	if (rc == -ENOTSUP && !strcmp(info->driver_name, "net_memif"))
		return 0;
	if (rc) {
		snprintf(err, n,
			 "peer_frame_bytes %u: port 0 (%s): set MTU %u: %s "
			 "(the interface, its peer and the switch must take "
			 "it; see docs/operations.md, \"Jumbo frames\")",
			 peer_frame, info->driver_name, mtu, rte_strerror(-rc));
		return -1;
	}
	return 0;
}

/* Packet buffers: one mbuf holds a whole frame (the shard reads one
 * segment), so the data room grows with peer_frame_bytes. */
static struct rte_mempool *port_pool(const struct qr_profile *pf,
				     unsigned peer_frame, int socket,
				     char *err, size_t n)
{
	unsigned room = QR_MAX(qr_profile_framesz(peer_frame),
			       (unsigned)RTE_MBUF_DEFAULT_DATAROOM) +
			RTE_PKTMBUF_HEADROOM;
	struct rte_mempool *pool = rte_pktmbuf_pool_create(
		"qr_mbufs", pf->mbufs, pf->mbuf_cache, 0, (uint16_t)room,
		socket);
	if (!pool)
		snprintf(err, n,
			 "mempool of %u mbufs of %u B (peer_frame_bytes %u): "
			 "%s (profile %s: lower [port] mbufs or give the EAL "
			 "more memory)",
			 pf->mbufs, room, peer_frame, rte_strerror(rte_errno),
			 pf->path);
	return pool;
}

static int port_setup(const struct qr_profile *pf, const struct qr_cluster *cl,
		      const char *iface, uint16_t *nq, uint16_t *nrxq, bool *csum_offload,
		      struct rte_mempool **pool, char *err, size_t n)
{
	uint16_t shards = cl->shards;
	if (rte_eth_dev_count_avail() < 1) {
		snprintf(err, n,
			 "profile %s: no DPDK port opened (check the vdev / "
			 "PCI address and the interface, see the EAL lines "
			 "above)",
			 pf->path);
		return -1;
	}
	uint16_t port = 0;
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port, &info) != 0) {
		snprintf(err, n, "port 0: cannot read device info");
		return -1;
	}
	uint16_t q =
		QR_MIN(shards, QR_MIN(info.max_rx_queues, info.max_tx_queues));
	/* A memif to qr-vswitch: the switch serves one queue pair, and a
	 * memif refuses rings its server does not have. Shards > 0 send
	 * through shard 0's tx ring. */
	if (!strcmp(info.driver_name, "net_memif"))
		q = 1;
	if (q == 0) {
		snprintf(err, n, "port 0: the device has no queues");
		return -1;
	}
	*nq = q; /* tx queues per shard */
	/* Software steering polls queue 0 only: configure no other rx queue
	 * (a device spreading frames over queues would lose them). */
	uint16_t rq = pf->steering == QR_STEER_SOFTWARE ? 1 : q;
	*nrxq = rq;
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = 0;
	*pool = port_pool(pf, cl->peer_frame_bytes, socket, err, n);
	if (!*pool)
		return -1;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	*csum_offload = port_offloads(pf, &info, &conf);
	/* Rx interrupts for idle = interrupt (shard/idle_wait.h): PMDs
	 * without them ignore it, and the shard falls back, logged. */
	conf.intr_conf.rxq = pf->idle_interrupt;
	int rc = rte_eth_dev_configure(port, rq, q, &conf);
	if (rc) {
		snprintf(err, n, "port 0: configure %u queues: %s", q,
			 rte_strerror(-rc));
		return -1;
	}
	if (port_mtu(port, &info, cl->peer_frame_bytes, iface, err, n) ||
	    port_queues_setup(pf, port, q, rq, socket, *pool, err, n))
		return -1;
	rc = rte_eth_dev_start(port);
	if (rc) {
		snprintf(err, n, "port 0: start: %s", rte_strerror(-rc));
		return -1;
	}
	/* The node's MAC may be set in the cluster file: take every frame
	 * and filter by IPv4 destination in the loop. */
	rte_eth_promiscuous_enable(port);
	return 0;
}

/* Receive queues the shards really own: all of them with working rte_flow
 * rules, else queue 0 only (shard 0 forwards over rings). */
static uint16_t rx_queues_owned(const struct qr_profile *pf,
				const struct qr_cluster *cl, uint16_t nrxq)
{
	if (nrxq <= 1 || pf->steering != QR_STEER_RTE_FLOW)
		return 1;
	/* Without the rules the device delivers to queue 0 (no RSS is
	 * configured), which shard 0 polls and forwards from. */
	return flow_steering(0, cl->base_port, nrxq) ? nrxq : 1;
}

/* A start-up failure after the port opened: close what is open (an af_xdp
 * program stays attached otherwise; memif sockets, hugepage files). */
static int close_and_exit(int code, struct qr_shard **shards, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		if (shards && shards[i])
			qr_shard_destroy(shards[i]);
	qr_mesh_ports_close(g_links, g_nlinks);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	rte_eal_cleanup();
	return code;
}

/*
 * This start's incarnation: above every earlier one of this data directory
 * (the file `incarnation` in it), and at least the time in seconds. Frame
 * authentication needs it unique per start: it is half of every frame's
 * nonce (src/core/auth.h). 0 or QR_ECONFIG with err set.
 */
static int next_incarnation(const char *dir, uint32_t *out, char *err, size_t n)
{
	char path[QR_PATH_BYTES_MAX], tmp[QR_PATH_BYTES_MAX], buf[32] = {0};
	if ((size_t)snprintf(path, sizeof(path), "%s/incarnation", dir) >=
		    sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/incarnation.tmp", dir) >=
		    sizeof(tmp)) {
		snprintf(err, n, "data directory too long for its files");
		return QR_ECONFIG;
	}
	uint32_t inc = (uint32_t)time(NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		unsigned long last = r > 0 ? strtoul(buf, NULL, 10) : 0;
		if (last >= inc && last < UINT32_MAX)
			inc = (uint32_t)last + 1;
	}
	int len = snprintf(buf, sizeof(buf), "%u\n", inc);
	fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, (size_t)len) != len || fsync(fd) != 0 ||
	    close(fd) != 0 || rename(tmp, path) != 0) {
		snprintf(err, n, "%s: cannot record the incarnation: %s", path,
			 strerror(errno));
		return QR_ECONFIG;
	}
	*out = inc;
	return 0;
}

/* What main sets up, in start-up order; static storage (large tables). */
struct daemon {
	struct options o;
	struct qr_cluster cl;
	struct qr_profile pf;
	const struct qr_cluster_node *me;
	const char *data_dir;
	struct qr_topo_ctl *topo; /* the installed topology (topo_ctl.h) */
	uint16_t nq, nrxq, nrx; /* tx queues, rx queues, rx queues owned */
	bool csum_offload;
	struct rte_mempool *pool;
	struct rte_ring *rx_rings[QR_SHARDS_MAX]; /* [0] unused */
	struct rte_ring *tx_ring; /* NULL when every shard has a tx queue */
	struct qr_shard *shards[QR_SHARDS_MAX];
	struct qr_secret secret; /* auth = mac; wiped once the shards have
				  * their keys */
	struct qr_client_keys client_keys; /* auth = mac; wiped likewise */
	uint32_t incarnation;	 /* next_incarnation() */
	char err[ERR_BYTES_MAX];
};

/* Cluster file, profile, data directory: 0 or EXIT_CONFIG (reported). */
static int load_config(struct daemon *d)
{
	struct options *o = &d->o;
	if (qr_cluster_load(o->config, &d->cl, d->err, sizeof(d->err))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return EXIT_CONFIG;
	}
	if (o->node >= d->cl.nodes) {
		fprintf(stderr, "quorated: --node %d: %s has nodes 0..%u\n",
			o->node, o->config, d->cl.nodes - 1);
		return EXIT_CONFIG;
	}
	char pbuf[QR_PATH_BYTES_MAX];
	const char *pf =
		qr_options_profile_path(o->profile, pbuf, sizeof(pbuf));
	if (qr_profile_load(pf, &d->pf, d->err, sizeof(d->err))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return EXIT_CONFIG;
	}
	d->me = &d->cl.node[o->node];
	d->data_dir = o->data_dir ? o->data_dir : d->me->data_dir;
	if (!d->data_dir || !d->data_dir[0]) {
		fprintf(stderr,
			"quorated: %s: [node.%d] data_dir: missing "
			"(or give --data-dir)\n",
			o->config, o->node);
		return EXIT_CONFIG;
	}
	if (check_data_dir(d->data_dir, d->err, sizeof(d->err)) ||
	    (d->me->mgmt[0] &&
	     qr_mgmt_sock_check_path(d->me->mgmt, d->err, sizeof(d->err)))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return EXIT_CONFIG;
	}
	/* The directory is this node's of this cluster, or nothing is read
	 * from it (src/wal/wal_ident.c; issue 13, item 6). */
	int rc = qr_wal_dir_bind(d->data_dir, d->cl.id, (uint16_t)d->o.node,
				 d->o.init || d->o.rebuild, d->err,
				 sizeof(d->err));
	if (rc) {
		fprintf(stderr, "quorated: refusing to start (%s): %s\n",
			qr_strerror(rc), d->err);
		return EXIT_CONFIG;
	}
	/* auth = mac: the cluster secret and the client keys, checked
	 * (0600) and loaded before anything listens (src/core/auth.c,
	 * auth_client.c). */
	if (d->cl.auth == QR_AUTH_MAC &&
	    (qr_secret_load(d->cl.secret_file, &d->secret, d->err,
			    sizeof(d->err)) ||
	     qr_client_keys_load(d->cl.client_key_file, &d->client_keys,
				 d->err, sizeof(d->err)))) {
		fprintf(stderr, "quorated: %s (auth = mac)\n", d->err);
		return EXIT_CONFIG;
	}
	if (next_incarnation(d->data_dir, &d->incarnation, d->err,
			     sizeof(d->err))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return EXIT_CONFIG;
	}
	return 0;
}

/* The EAL from the profile: 0, EXIT_CONFIG or EXIT_DPDK (reported). */
static int eal_start(struct daemon *d)
{
	char *eal_argv[EAL_ARGS_MAX];
	static char eal_store[16384];
	int eal_argc =
		build_eal_args(&d->o, &d->cl, &d->pf, eal_argv, eal_store,
			       sizeof(eal_store), d->err, sizeof(d->err));
	if (eal_argc < 0) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return EXIT_CONFIG;
	}
	QR_ASSERT(eal_argc < EAL_ARGS_MAX && !eal_argv[eal_argc]);
	fprintf(stderr, "quorated: node %d: EAL:", d->o.node);
	for (int i = 1; i < eal_argc; i++)
		fprintf(stderr, " %s", eal_argv[i]);
	fprintf(stderr, "\n");
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr,
			"quorated: DPDK EAL init failed with profile "
			"%s: %s\n",
			d->pf.path, rte_strerror(rte_errno));
		return EXIT_DPDK;
	}
	if (rte_lcore_count() < d->cl.shards) {
		fprintf(stderr,
			"quorated: %u shards need %u lcores, the EAL "
			"has %u (profile %s: [eal] args -l)\n",
			d->cl.shards, d->cl.shards, rte_lcore_count(),
			d->pf.path);
		return EXIT_DPDK;
	}
	return 0;
}

/* Every shard but 0 has an rx ring (frames steered in software, copies of
 * ARP frames); shards without a tx queue share one. 0 or EXIT_DPDK. */
static int rings_create(struct daemon *d)
{
	for (uint16_t i = 1; i < d->cl.shards; i++) {
		char name[32];
		snprintf(name, sizeof(name), "qr_rx_%u", i);
		d->rx_rings[i] = rte_ring_create(name, RING_SIZE, SOCKET_ID_ANY,
						 RING_F_SC_DEQ);
		if (!d->rx_rings[i]) {
			fprintf(stderr, "quorated: ring %s: %s\n", name,
				rte_strerror(rte_errno));
			return EXIT_DPDK;
		}
	}
	if (d->nq < d->cl.shards) {
		d->tx_ring = rte_ring_create("qr_tx", RING_SIZE, SOCKET_ID_ANY,
					     RING_F_SC_DEQ);
		if (!d->tx_ring) {
			fprintf(stderr, "quorated: tx ring: %s\n",
				rte_strerror(rte_errno));
			return EXIT_DPDK;
		}
	}
	return 0;
}

static void shard_config(struct daemon *d, uint16_t i,
			 struct qr_shard_config *sc)
{
	const struct options *o = &d->o;
	*sc = (struct qr_shard_config){
		.cluster = &d->cl,
		.node_id = (uint16_t)o->node,
		.shard = i,
		.port_id = 0,
		.rx_queue = i < d->nrx ? i : QR_SHARD_NONE,
		.tx_queue = i < d->nq ? i : QR_SHARD_NONE,
		.pool = d->pool,
		.rx_ring = d->rx_rings[i],
		.rx_rings = d->rx_rings,
		.tx_ring = d->tx_ring,
		.tx_checksum_offload = d->csum_offload,
		.idle_poll = d->pf.idle_poll,
		.idle_interrupt = d->pf.idle_interrupt,
		.idle_spin_us = d->pf.spin_us,
		.bell_board = qr_mesh_doorbells(),
		.snapshot_every = o->snapshot_every,
		.truncate_corrupt = o->truncate_corrupt,
		.mesh_links = g_nlinks,
		.client_memif_client = qr_profile_memif_client(&d->pf),
	};
	memcpy(sc->mesh, g_links, sizeof(g_links[0]) * g_nlinks);
	qr_core_config_defaults(&sc->core);
	sc->core.node_id = (uint16_t)o->node;
	sc->core.shard = i;
	sc->core.cluster_id = d->cl.id;
	sc->core.incarnation = d->incarnation;
	sc->core.auth = d->cl.auth;
	sc->core.secret = &d->secret;
	sc->core.client_keys =
		d->cl.auth == QR_AUTH_MAC ? &d->client_keys : NULL;
	sc->topo = qr_topo_ctl_initial(d->topo);
	sc->core.placement = sc->topo->owners;
	sc->core.node_slots = d->cl.nodes; /* every [node.N] may join */
	sc->core.keys_max = o->keys_max;
	sc->core.store_bytes_max = o->store_bytes_max;
	sc->core.tombstone_grace_ms = d->cl.tombstone_grace_ms;
	sc->core.hints_max = d->cl.hints_max;
	sc->core.value_bytes_max = d->cl.value_bytes_max;
	sc->core.ae_entries_per_s = d->cl.ae_entries_per_s;
	sc->core.peer_frame_bytes = d->cl.peer_frame_bytes;
	sc->core.hint_delay_us = (uint64_t)d->cl.hint_delay_ms * 1000;
	sc->core.arena = 0;
	sc->core.rebuild = o->rebuild;
	qr_wal_config_defaults(&sc->wal);
	sc->wal.dir = d->data_dir;
	sc->wal.shard = i;
	sc->wal.mode = d->o.wal_mode;
	sc->wal.value_bytes_max = d->cl.value_bytes_max; /* batch buffers */
	/* one fdatasync at a time for small records: docs/wal.md */
	sc->wal.batch_wait_us_max = QR_WAL_WAIT_WHILE_BUSY;
}

/* Port, placement, rings, then every shard (WAL recovery): 0, or an exit
 * status after closing what was opened (reported). */
static int node_open(struct daemon *d)
{
	if (port_setup(&d->pf, &d->cl, d->me->iface, &d->nq, &d->nrxq, &d->csum_offload,
		       &d->pool, d->err, sizeof(d->err))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return close_and_exit(EXIT_DPDK, NULL, 0);
	}
	struct qr_profile_vars v = node_vars(&d->o, &d->cl);
	if (qr_mesh_ports_setup(&d->pf, &d->cl, &v, (unsigned)d->o.node,
				d->cl.shards, d->pool, g_links, &g_nlinks,
				d->err, sizeof(d->err))) {
		fprintf(stderr, "quorated: %s\n", d->err);
		return close_and_exit(EXIT_DPDK, NULL, 0);
	}
	d->nrx = rx_queues_owned(&d->pf, &d->cl, d->nrxq);
	QR_ASSERT(d->nrx >= 1 && d->nrx <= d->cl.shards);
	if (rings_create(d))
		return close_and_exit(EXIT_DPDK, NULL, 0);
	/* The test hook, before recovery reads the clock (shard.c). */
	qr_shard_set_clock_offset_ms(d->o.clock_offset_ms);
	for (uint16_t i = 0; i < d->cl.shards; i++) {
		struct qr_shard_config sc;
		shard_config(d, i, &sc);
		if (qr_shard_create(&sc, &d->shards[i], d->err,
				    sizeof(d->err))) {
			fprintf(stderr, "quorated: node %d shard %u: %s\n",
				d->o.node, i, d->err);
			return close_and_exit(EXIT_RECOVERY, d->shards, i);
		}
	}
	qr_topo_ctl_attach(d->topo, (uint16_t)d->o.node, d->shards,
			   d->cl.shards);
	qr_secret_wipe(&d->secret); /* every shard derived its keys */
	qr_client_keys_wipe(&d->client_keys);
	return 0;
}

static void print_ready(const struct daemon *d)
{
	const struct qr_cluster *cl = &d->cl;
	char ip[16];
	uint32_t a = d->me->ip;
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a & 0xff, (a >> 8) & 0xff,
		 (a >> 16) & 0xff, a >> 24);
	fprintf(stderr,
		"quorated: node %d ready: %s udp %u..%u, %u shard(s), %u "
		"queue(s), %u direct link(s), %s steering, profile %s, wal %s, "
		"mgmt %s\n",
		d->o.node, ip, cl->base_port, cl->base_port + cl->shards - 1,
		cl->shards, d->nq, g_nlinks,
		cl->shards == 1	       ? "no"
		: d->nrx == cl->shards ? "rte_flow"
				       : "software",
		d->pf.name,
		d->o.wal_mode == QR_WAL_MODE_FSYNC   ? "fsync"
		: d->o.wal_mode == QR_WAL_MODE_ASYNC ? "async"
						     : "none (memory only)",
		d->me->mgmt[0] ? d->me->mgmt : "(none)");
}

/* Shard 0 on this lcore, the others on the next ones, until a signal. */
static void shards_run(struct daemon *d)
{
	unsigned lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	for (uint16_t i = 1; i < d->cl.shards; i++) {
		rte_eal_remote_launch(qr_shard_run, d->shards[i], lcore);
		lcore = rte_get_next_lcore(lcore, 1, 0);
	}
	qr_shard_run(d->shards[0]);
	rte_eal_mp_wait_lcore();
}

/* After the loops stopped: drain and sync every WAL, close the port.
 * 0, or EXIT_RECOVERY if a WAL failed to close. */
static int node_close(struct daemon *d)
{
	/* Stats readers first: they read the shards we are about to free. */
	qr_mgmt_destroy(g_mgmt);
	g_mgmt = NULL;
	int status = 0;
	for (uint16_t i = 0; i < d->cl.shards; i++) {
		int rc = qr_shard_destroy(d->shards[i]);
		if (rc) {
			fprintf(stderr, "quorated: shard %u: WAL close: %s\n",
				i, qr_strerror(rc));
			status = EXIT_RECOVERY;
		}
	}
	qr_mesh_ports_close(g_links, g_nlinks);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	qr_topo_ctl_close(d->topo);
	fprintf(stderr, "quorated: node %d stopped%s\n", d->o.node,
		status ? "" : ": WAL drained and synced");
	rte_eal_cleanup();
	return status;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	if (qr_options_parse(argc, argv, &d.o))
		return 1;
	int rc = load_config(&d);
	if (!rc && qr_topo_ctl_open(&d.cl, d.data_dir, d.o.rebuild, &d.topo,
				    d.err, sizeof(d.err))) {
		fprintf(stderr, "quorated: topology: %s\n", d.err);
		rc = EXIT_CONFIG; /* before the EAL: nothing to close */
	}
	if (!rc)
		rc = eal_start(&d);
	if (!rc)
		rc = node_open(&d);
	if (rc)
		return rc;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct qr_mgmt_config mc = {
		.path = d.me->mgmt,
		.cluster = &d.cl,
		.node_id = (uint16_t)d.o.node,
		.shards = d.shards,
		.nshards = d.cl.shards,
		.profile = d.pf.name,
		.gid = (gid_t)-1,
		.metrics_ip = d.me->metrics_ip,
		.metrics_port = d.me->metrics_port,
		.clock_hook = d.o.clock_offset_set,
		.topo = d.topo,
	};
	if (d.o.metrics_listen && strcmp(d.o.metrics_listen, "off") == 0)
		mc.metrics_port = 0;
	else if (d.o.metrics_listen &&
		 qr_parse_listen(d.o.metrics_listen, &mc.metrics_ip,
				 &mc.metrics_port)) {
		fprintf(stderr,
			"quorated: --metrics-listen: '%s' is not "
			"IPV4:PORT or off\n",
			d.o.metrics_listen);
		return close_and_exit(EXIT_CONFIG, d.shards, d.cl.shards);
	}
	if (d.me->mgmt_group[0]) {
		struct group *g = getgrnam(d.me->mgmt_group);
		if (!g) {
			fprintf(stderr, "quorated: mgmt_group '%s': no such "
				"group\n", d.me->mgmt_group);
			return close_and_exit(EXIT_CONFIG, d.shards,
					      d.cl.shards);
		}
		mc.gid = g->gr_gid;
	}
	if (qr_mgmt_start(&mc, &g_mgmt, d.err, sizeof(d.err))) {
		fprintf(stderr, "quorated: %s\n", d.err);
		return close_and_exit(EXIT_CONFIG, d.shards, d.cl.shards);
	}
	print_ready(&d);
	shards_run(&d);
	return node_close(&d);
}
