/* SPDX-License-Identifier: MIT */
/*
 * qr-vswitch: a small learning Ethernet switch over DPDK ports, so nodes
 * that use memif (shared memory, no kernel on the path) reach each other
 * and the host. tools/cluster starts it for the memif profile:
 *
 *   qr-vswitch --run-dir DIR --nodes N [--uplink IFACE] [--seconds S]
 *              [--peer-frame B] [--clients C] [--doorbell PREFIX]
 *
 * --doorbell: the nodes' [loop] doorbell prefix (src/shard/doorbell.h):
 * after sending to a node's port the switch rings that node's shard 0 if
 * it sleeps, and, with no --clients (DPDK clients do not ring it), the
 * switch itself blocks when idle on its doorbell and its uplink's socket
 * (src/shard/idle_wait.h) instead of napping every 50 us.
 *
 * --clients: C more memif ports, DIR/memif-N.sock .. memif-(N+C-1).sock,
 * for DPDK clients (quorate-bench --transport dpdk --profile memif.ini:
 * the generator is "node N"); to the switch they are clients, not nodes
 * (no delay, no loss, counted as host frames).
 *
 * --peer-frame: the cluster's peer_frame_bytes (default 1472); over 1472
 * (jumbo frames) each mbuf holds a whole frame of it, as the nodes' do,
 * with fewer of them (the pool stays within the EAL's 256 MiB).
 *
 * Ports: net_memif<i> (role=server, socket DIR/memif-<i>.sock) for each
 * node, plus net_af_packet on IFACE (a veth whose peer is on the bridge in
 * the host namespace, where clients run). Frames go to the port where their
 * destination MAC was last seen as a source; broadcast and unknown
 * destinations flood. One lcore, bursts of 32 in, one burst per port out
 * per pass (not one per frame: a sendto each on the uplink), no
 * allocation per frame.
 *
 * Link delay (what netem would do, for kernels without it): the file
 * DIR/vswitch.delay holds lines "PORT MICROSECONDS"; frames from one node
 * to node PORT (not client frames from the uplink) wait that long in a
 * FIFO before they are sent. Link loss: DIR/vswitch.loss holds lines
 * "PORT PPM"; each frame to node PORT (from a node or a client) is
 * dropped with that probability in a million (to show that long messages survive a lossy
 * link: docs/large-values.md, selective resend). Both files are re-read
 * every 100 ms.
 *
 * Counters: DIR/vswitch.stats, rewritten within 100 ms of a change, holds
 * "node_to_node N" (unicast frames from one node's port to another's: 0
 * in a memif mesh, where nodes have their own links), "node_to_host N"
 * and "host_to_node N" (frames to or from the uplink or a client's memif),
 * "flooded N", and "tx_full N" (frames dropped because the port's tx
 * queue was full: its consumer fell behind).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <sys/prctl.h>

#include "common/compiler.h"
#include "quorate/limits.h"
#include "shard/doorbell.h"
#include "shard/idle_spin.h"
#include "shard/idle_wait.h"

#define PORTS_MAX 66
#define BURST	  32
#define FDB_SIZE  256 /* MAC -> port, direct-mapped */
#define SPIN_US	  50  /* --doorbell: the longest spin after the last
			    * frame before it blocks (idle_spin.h) */

static volatile int stop;
static uint16_t nports;
static uint16_t nnodes;       /* memif ports are 0..nnodes-1 */
static const char *run_dir;

/* Per-port delay line: a FIFO of (mbuf, due time); the delay is the same
 * for every frame of a port, so FIFO order is due order. */
#define DELAY_SLOTS 8192 /* below the pool: a long delay drops, not stalls */
struct delay_line {
	uint64_t delay_tsc;
	uint32_t head, count;
	struct rte_mbuf *m[DELAY_SLOTS];
	uint64_t due[DELAY_SLOTS];
	uint64_t dropped;
};
static struct delay_line *delay[PORTS_MAX];
static uint32_t loss_ppm[PORTS_MAX]; /* frames to the node's port */
/* Frames forwarded, by kind (vswitch.stats); the loop's thread only. */
static uint64_t n_node_node, n_node_host, n_host_node, n_flooded;
static uint64_t n_tx_full; /* frames dropped: tx queue full */

/* --doorbell: the nodes' bells (port p < nnodes rings row p, shard 0),
 * and ours with its wait (NULL: nap instead). */
static struct qr_bell_board *bells;
static struct qr_bell_target node_bell[PORTS_MAX];
static struct qr_bell my_bell = { .fd = -1 };
static struct qr_idle_wait *iw;

struct fdb_entry {
	uint8_t mac[6];
	uint16_t port;
	bool used;
};
static struct fdb_entry fdb[FDB_SIZE];

static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static unsigned fdb_slot(const uint8_t *mac)
{
	unsigned h = 0;
	for (int i = 0; i < 6; i++)
		h = h * 31 + mac[i];
	return h % FDB_SIZE;
}

static void fdb_learn(const uint8_t *mac, uint16_t port)
{
	if (mac[0] & 1)
		return;
	struct fdb_entry *e = &fdb[fdb_slot(mac)];
	memcpy(e->mac, mac, 6);
	e->port = port;
	e->used = true;
}

static int fdb_lookup(const uint8_t *mac)
{
	const struct fdb_entry *e = &fdb[fdb_slot(mac)];
	return e->used && !memcmp(e->mac, mac, 6) ? e->port : -1;
}

/* Frames for each port, sent in one burst per pass over the rx ports (or
 * when full): one af_packet sendto per burst on the uplink, not per
 * frame. */
#define TX_BUF 64
static struct rte_mbuf *txb[PORTS_MAX][TX_BUF];
static uint16_t txn[PORTS_MAX];

static void tx_flush(uint16_t p)
{
	uint16_t sent = rte_eth_tx_burst(p, 0, txb[p], txn[p]);
	if (bells && p < nnodes) /* even if nothing went: it may need to
				  * wake to hand us buffers (a memif client) */
		qr_bell_ring(&node_bell[p]);
	if (sent < txn[p]) {
		n_tx_full += txn[p] - sent;
		rte_pktmbuf_free_bulk(txb[p] + sent, txn[p] - sent);
	}
	txn[p] = 0;
}

static void tx_push(uint16_t p, struct rte_mbuf *m)
{
	txb[p][txn[p]++] = m;
	if (txn[p] == TX_BUF)
		tx_flush(p);
}

static void send_one(uint16_t in, uint16_t out, struct rte_mbuf *m)
{
	if (loss_ppm[out] && rte_rand_max(1000000) < loss_ppm[out]) {
		rte_pktmbuf_free(m); /* the link lost it */
		return;
	}
	struct delay_line *d = delay[out];
	if (d && d->delay_tsc && in < nnodes) {
		if (d->count == DELAY_SLOTS) {
			d->dropped++;
			rte_pktmbuf_free(m);
			return;
		}
		uint32_t i = (d->head + d->count++) % DELAY_SLOTS;
		d->m[i] = m;
		d->due[i] = rte_get_tsc_cycles() + d->delay_tsc;
		return;
	}
	tx_push(out, m);
}

static void delay_drain(void)
{
	uint64_t now = rte_get_tsc_cycles();
	for (uint16_t p = 0; p < nports; p++) {
		struct delay_line *d = delay[p];
		while (d && d->count && d->due[d->head] <= now) {
			struct rte_mbuf *m = d->m[d->head];
			d->head = (d->head + 1) % DELAY_SLOTS;
			d->count--;
			tx_push(p, m);
		}
	}
}

/* Read DIR/NAME's "PORT VALUE" lines into v (0 for a port not named). */
static void read_port_values(const char *name, uint64_t v[PORTS_MAX])
{
	char path[QR_PATH_BYTES_MAX];
	memset(v, 0, PORTS_MAX * sizeof(v[0]));
	int l = snprintf(path, sizeof(path), "%s/%s", run_dir, name);
	if (l < 0 || (size_t)l >= sizeof(path)) {
		fprintf(stderr, "qr-vswitch: %s/%s: path too long\n", run_dir,
			name);
		return;
	}
	FILE *f = fopen(path, "r");
	if (f) {
		unsigned port;
		unsigned long long x;
		while (fscanf(f, "%u %llu", &port, &x) == 2)
			if (port < nnodes)
				v[port] = x;
		fclose(f);
	}
}

/* Re-read DIR/vswitch.delay ("PORT MICROSECONDS") and DIR/vswitch.loss
 * ("PORT PPM"). */
static void delay_config(void)
{
	uint64_t us[PORTS_MAX], ppm[PORTS_MAX];
	read_port_values("vswitch.delay", us);
	read_port_values("vswitch.loss", ppm);
	for (uint16_t p = 0; p < nnodes; p++)
		loss_ppm[p] = (uint32_t)QR_MIN(ppm[p], 1000000u);
	for (uint16_t p = 0; p < nnodes; p++) {
		if (!delay[p] && us[p]) {
			delay[p] = calloc(1, sizeof(*delay[p]));
			if (!delay[p])
				continue;
		}
		if (delay[p])
			delay[p]->delay_tsc = us[p] * rte_get_tsc_hz() / 1000000;
	}
}

static void forward(uint16_t in, struct rte_mbuf *m)
{
	const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
	if (rte_pktmbuf_data_len(m) < 14) {
		rte_pktmbuf_free(m);
		return;
	}
	fdb_learn(eth + 6, in);
	int out = fdb_lookup(eth);
	if (out >= 0) {
		if (out == in) {
			rte_pktmbuf_free(m);
			return;
		}
		if (in < nnodes)
			*(out < nnodes ? &n_node_node : &n_node_host) += 1;
		else
			n_host_node++;
		send_one(in, (uint16_t)out, m);
		return;
	}
	n_flooded++;
	/* Flood: a copy per other port. */
	for (uint16_t p = 0; p < nports; p++) {
		if (p == in)
			continue;
		struct rte_mbuf *c =
			rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
		if (c)
			send_one(in, p, c);
	}
	rte_pktmbuf_free(m);
}

/* Rewrite DIR/vswitch.stats if a counter moved since the last time. */
static void stats_write(void)
{
	static uint64_t last = UINT64_MAX;
	uint64_t sum = n_node_node + n_node_host + n_host_node + n_flooded +
		       n_tx_full;
	char path[QR_PATH_BYTES_MAX], tmp[QR_PATH_BYTES_MAX];
	if (sum == last ||
	    (size_t)snprintf(path, sizeof(path), "%s/vswitch.stats",
			     run_dir) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return;
	last = sum;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"node_to_node %" PRIu64 "\nnode_to_host %" PRIu64
		"\nhost_to_node %" PRIu64 "\nflooded %" PRIu64
		"\ntx_full %" PRIu64 "\n",
		n_node_node, n_node_host, n_host_node, n_flooded, n_tx_full);
	if (fclose(f) == 0)
		(void)rename(tmp, path);
}

#define EAL_ARGS_MAX (PORTS_MAX + 8)

/* Append one formatted EAL argument; one that does not fit its slot (a
 * run directory too long for a socket path) is refused, never cut. */
static int eal_arg_add(char **eal, int *n, const char *fmt, ...)
{
	static char store[EAL_ARGS_MAX][QR_PATH_BYTES_MAX];
	QR_ASSERT(*n < EAL_ARGS_MAX - 1); /* and room for the NULL */
	va_list ap;
	va_start(ap, fmt);
	int l = vsnprintf(store[*n], sizeof(store[0]), fmt, ap);
	va_end(ap);
	if (l < 0 || (size_t)l >= sizeof(store[0])) {
		fprintf(stderr, "qr-vswitch: EAL argument too long (%d bytes; "
				"a shorter --run-dir?)\n",
			l);
		return -1;
	}
	eal[*n] = store[*n];
	(*n)++;
	return 0;
}

/* The EAL's argv: fixed options, a memif server per node, the uplink.
 * Returns argc, or -1 (reported). */
static int eal_args_build(char **eal, const char *run, int nodes,
			  const char *uplink, int clients)
{
	int n = 0;
	QR_ASSERT(nodes >= 1 && nodes <= PORTS_MAX - 2);
	if (eal_arg_add(eal, &n, "qr-vswitch") ||
	    eal_arg_add(eal, &n, "--no-huge") || eal_arg_add(eal, &n, "-m") ||
	    eal_arg_add(eal, &n, "256") || eal_arg_add(eal, &n, "--no-pci") ||
	    eal_arg_add(eal, &n, "--file-prefix=qrvswitch") ||
	    eal_arg_add(eal, &n, "--lcores=0@(0-%ld)",
			sysconf(_SC_NPROCESSORS_ONLN) - 1) ||
	    eal_arg_add(eal, &n, "--log-level=*:notice"))
		return -1;
	for (int i = 0; i < nodes + clients; i++)
		if (eal_arg_add(eal, &n,
				"--vdev=net_memif%d,role=server,socket=%s/"
				"memif-%d.sock,socket-abstract=no",
				i, run, i))
			return -1;
	if (uplink && eal_arg_add(eal, &n,
				  "--vdev=net_af_packet0,iface=%s,qpairs=1,"
				  "qdisc_bypass=1",
				  uplink))
		return -1;
	eal[n] = NULL;
	return n;
}

/* Every port: one rx and one tx queue, promiscuous. 0 or -1 (reported). */
static int ports_start(struct rte_mempool *pool)
{
	nports = rte_eth_dev_count_avail();
	for (uint16_t p = 0; p < nports; p++) {
		struct rte_eth_conf conf;
		memset(&conf, 0, sizeof(conf));
		if (rte_eth_dev_configure(p, 1, 1, &conf) ||
		    rte_eth_rx_queue_setup(p, 0, 1024, 0, NULL, pool) ||
		    rte_eth_tx_queue_setup(p, 0, 1024, 0, NULL) ||
		    rte_eth_dev_start(p)) {
			fprintf(stderr, "qr-vswitch: port %u setup failed\n",
				p);
			return -1;
		}
		rte_eth_promiscuous_enable(p);
	}
	return 0;
}

/* --doorbell: map the board, address every node's bell, and (no DPDK
 * clients) wait on ours and the uplink's socket. 0 or -1 (reported). */
static int bells_open(const char *prefix, int clients)
{
	char why[160];
	int fd = qr_bell_ringer_socket();
	if (fd < 0 || qr_bell_board_open(prefix, &bells, why, sizeof(why))) {
		fprintf(stderr, "qr-vswitch: --doorbell %s: %s\n", prefix,
			fd < 0 ? "socket" : why);
		return -1;
	}
	for (uint16_t p = 0; p < nnodes; p++)
		if (qr_bell_target_init(bells, p, 0, fd, &node_bell[p], why,
					sizeof(why))) {
			fprintf(stderr, "qr-vswitch: doorbell: %s\n", why);
			return -1;
		}
	if (clients)
		return 0;
	struct qr_idle_queue q[PORTS_MAX];
	for (uint16_t p = 0; p < nports; p++)
		q[p] = (struct qr_idle_queue){ p, 0 };
	if (qr_bell_listen(bells, QR_BELL_ROW_SWITCH, 0, &my_bell, why,
			   sizeof(why)) ||
	    qr_idle_wait_open(q, nports, -1, &my_bell, false, &iw, why,
			      sizeof(why))) {
		/* as a shard does: say why, and nap instead */
		fprintf(stderr, "qr-vswitch: cannot block when idle, napping "
				"instead: %s\n", why);
		qr_bell_unlisten(&my_bell);
		return 0;
	}
	(void)prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0); /* short waits */
	return 0;
}

/* How long an idle switch may block: until the next config read or the
 * first delayed frame is due, at most 10 ms. */
static uint64_t sleep_us(uint64_t next_cfg)
{
	uint64_t now = rte_get_tsc_cycles(), due = next_cfg;
	for (uint16_t p = 0; p < nnodes; p++)
		if (delay[p] && delay[p]->count &&
		    delay[p]->due[delay[p]->head] < due)
			due = delay[p]->due[delay[p]->head];
	uint64_t us = due > now ? (due - now) * 1000000 / rte_get_tsc_hz() : 0;
	return us < 10000 ? us : 10000;
}

/* Forward until a signal or, with seconds > 0, that long. */
static void switch_loop(double seconds)
{
	uint64_t end =
		seconds > 0
			? rte_get_tsc_cycles() +
				  (uint64_t)(seconds * (double)rte_get_tsc_hz())
			: 0;
	uint32_t idle = 0;
	uint64_t next_cfg = 0, cfg_every = rte_get_tsc_hz() / 10;
	/* with a doorbell: spin after the last frame, then block, the spin
	 * adapted to the gaps between frames as a shard's is (idle_spin.h);
	 * without: 4096 empty passes, then naps */
	const uint64_t tsc_us = rte_get_tsc_hz() / 1000000;
	uint64_t last_work = rte_get_tsc_cycles();
	struct qr_idle_spin sp;
	bool idled = false;
	qr_idle_spin_init(&sp, SPIN_US);
	while (!stop && (!end || rte_get_tsc_cycles() < end)) {
		unsigned got = 0;
		const uint64_t top = rte_get_tsc_cycles(); /* gaps end here */
		if (top >= next_cfg) {
			delay_config();
			stats_write();
			next_cfg = rte_get_tsc_cycles() + cfg_every;
		}
		delay_drain();
		for (uint16_t p = 0; p < nports; p++) {
			struct rte_mbuf *pk[BURST];
			uint16_t k = rte_eth_rx_burst(p, 0, pk, BURST);
			for (uint16_t i = 0; i < k; i++)
				forward(p, pk[i]);
			got += k;
		}
		for (uint16_t p = 0; p < nports; p++)
			if (txn[p])
				tx_flush(p);
		bool waiting = false;
		for (uint16_t p = 0; p < nnodes; p++)
			waiting |= delay[p] && delay[p]->count;
		uint64_t now = rte_get_tsc_cycles();
		if (got) {
			if (idled) /* from the end of the last work (S2) */
				qr_idle_spin_work(&sp, (top - last_work) / tsc_us);
			idled = false;
			idle = 0;
			last_work = now; /* after this pass's forwarding */
			if (iw)
				qr_idle_wait_busy(iw);
		} else if (iw) {
			idled = true;
			uint64_t us = qr_idle_spin_on(&sp,
						      (now - last_work) / tsc_us)
					      ? 0
					      : sleep_us(next_cfg);
			if (us)
				(void)qr_idle_wait(iw, us); /* arms first */
		} else if (++idle > 4096) {
			usleep(waiting ? 20 : 50); /* shares the machine */
		}
	}
}

int main(int argc, char **argv)
{
	const char *run = NULL, *uplink = NULL, *doorbell = NULL;
	int nodes = 0, clients = 0;
	double seconds = 0;
	unsigned peer_frame = QR_FRAME_BYTES_MAX;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--run-dir"))
			run = argv[i + 1];
		else if (!strcmp(argv[i], "--nodes"))
			nodes = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--uplink"))
			uplink = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--clients"))
			clients = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--peer-frame"))
			peer_frame = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--doorbell"))
			doorbell = argv[i + 1];
	}
	run_dir = run;
	nnodes = (uint16_t)nodes;
	if (!run || nodes < 1 || clients < 0 ||
	    nodes + clients > PORTS_MAX - 2 ||
	    peer_frame < QR_FRAME_BYTES_MAX || peer_frame > QR_FRAME_JUMBO_MAX) {
		fprintf(stderr, "usage: qr-vswitch --run-dir DIR --nodes N "
				"[--uplink IFACE] [--seconds S] [--peer-frame "
				"1472..8972] [--clients C] [--doorbell "
				"PREFIX]\n");
		return 1;
	}
	char *eal[EAL_ARGS_MAX];
	int n = eal_args_build(eal, run, nodes, uplink, clients);
	if (n < 0)
		return 1;
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "qr-vswitch: EAL init failed\n");
		return 3;
	}
	/* A whole Ethernet frame (+ 42 B of headers) in one mbuf. */
	bool jumbo = peer_frame > QR_FRAME_BYTES_MAX;
	unsigned room = jumbo ? (peer_frame + 42u + 1023u) / 1024u * 1024u +
					RTE_PKTMBUF_HEADROOM
			      : RTE_MBUF_DEFAULT_BUF_SIZE;
	struct rte_mempool *pool = rte_pktmbuf_pool_create(
		"vsw", jumbo ? 8191 : 32767, 256, 0, (uint16_t)room, 0);
	if (!pool) {
		fprintf(stderr, "qr-vswitch: mempool\n");
		return 3;
	}
	if (ports_start(pool) || (doorbell && bells_open(doorbell, clients)))
		return 3;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "qr-vswitch: ready: %u ports (%d memif%s)%s\n",
		nports, nodes, uplink ? " + af_packet uplink" : "",
		iw ? ", blocking when idle (doorbell)"
		: bells ? ", ringing the nodes' doorbells" : "");
	switch_loop(seconds);
	qr_idle_wait_close(iw);
	qr_bell_unlisten(&my_bell);
	qr_bell_board_close(bells);
	for (uint16_t p = 0; p < nports; p++) {
		rte_eth_dev_stop(p);
		rte_eth_dev_close(p);
	}
	rte_eal_cleanup();
	return 0;
}
