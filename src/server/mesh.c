/* SPDX-License-Identifier: MIT */
/*
 * Direct links between nodes: see mesh.h. Start-up only (nothing here runs
 * on the data path).
 */
#include "server/mesh.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "common/compiler.h"
#include "shard/linkstate.h"

/* Each link's state, shared by the node's shards (one node a process). */
static struct qr_link_state g_state[QR_CLUSTER_NODES_MAX];

#define VDEV_BYTES 512

/* The [mesh] vdev for the pair (me, peer), expanded. 0 or -1. */
static int link_vdev(const struct qr_profile *pf,
		     const struct qr_profile_vars *base, unsigned me,
		     unsigned peer, char *out, size_t out_len, char *err,
		     size_t n)
{
	struct qr_profile_vars v = *base;
	v.mesh = true;
	v.peer = peer;
	v.lo = QR_MIN(me, peer);
	v.hi = QR_MAX(me, peer);
	v.role = me < peer ? "server" : "client";
	if (qr_profile_expand(pf->mesh_vdev, &v, out, out_len, err, n))
		return -1;
	return 0;
}

/* The device name: the vdev up to its first comma. */
static void vdev_name(const char *vdev, char *name, size_t len)
{
	size_t l = strcspn(vdev, ",");
	if (l >= len)
		l = len - 1;
	memcpy(name, vdev, l);
	name[l] = 0;
}

/* A memif server's socket left by a crashed run would refuse its bind:
 * remove it (a socket file, nothing else). */
static void unlink_stale_socket(const char *vdev)
{
	if (!strstr(vdev, "role=server"))
		return;
	const char *p = strstr(vdev, "socket=");
	if (!p)
		return;
	char path[256];
	size_t l = strcspn(p + 7, ",");
	if (l == 0 || l >= sizeof(path))
		return;
	memcpy(path, p + 7, l);
	path[l] = 0;
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);
}

int qr_mesh_eal_args(const struct qr_profile *pf, const struct qr_cluster *cl,
		     const struct qr_profile_vars *base, unsigned me,
		     char **argv, int *argc, int argc_max, char *store,
		     size_t *used, size_t store_len, char *err, size_t n)
{
	if (!pf->mesh_vdev[0])
		return 0;
	for (unsigned j = 0; j < cl->nodes; j++) {
		char vd[VDEV_BYTES];
		if (j == me)
			continue;
		if (link_vdev(pf, base, me, j, vd, sizeof(vd), err, n) ||
		    qr_profile_vdev_fits(vd, cl->peer_frame_bytes, err, n))
			return -1;
		unlink_stale_socket(vd);
		int l = snprintf(store + *used, store_len - *used, "--vdev=%s",
				 vd);
		if (*argc >= argc_max || l < 0 ||
		    (size_t)l + 1 > store_len - *used) {
			snprintf(err, n, "%s: [mesh] vdev: too many peers",
				 pf->path);
			return -1;
		}
		argv[(*argc)++] = store + *used;
		*used += (size_t)l + 1;
	}
	return 0;
}

/* One link's port: queues queue pairs, started. A memif client whose
 * server is not there yet does not start: the watchdog retries. */
static int link_setup(uint16_t port, uint16_t queues, struct rte_mempool *pool,
		      const struct qr_profile *pf, char *err, size_t n)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	int rc = rte_eth_dev_configure(port, queues, queues, &conf);
	uint16_t rxd = pf->rx_desc, txd = pf->tx_desc;
	if (!rc)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(port);
	for (uint16_t q = 0; q < queues && !rc; q++) {
		rc = rte_eth_rx_queue_setup(port, q, rxd,
					    (unsigned)QR_MAX(socket, 0), NULL,
					    pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(
				port, q, txd, (unsigned)QR_MAX(socket, 0),
				NULL);
	}
	if (rc) {
		snprintf(err, n, "mesh port %u: setup of %u queues: %s", port,
			 queues, rte_strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_start(port);
	if (rc)
		fprintf(stderr,
			"quorated: mesh port %u: not connected yet (%s): "
			"retried while down\n",
			port, rte_strerror(-rc));
	rte_eth_promiscuous_enable(port);
	return 0;
}

static struct qr_bell_board *g_board; /* [loop] doorbell */

/* [loop] doorbell: expand the prefix, map the board. 0 or -1 (err). */
static int doorbell_open(const struct qr_profile *pf,
			 const struct qr_profile_vars *v, char *err, size_t n)
{
	char prefix[QR_BELL_PREFIX_MAX + 1];
	if (!pf->doorbell[0])
		return 0;
	if ((!v->run || !v->run[0]) && strstr(pf->doorbell, "{run}")) {
		/* A node started by hand without --run-dir: nothing to share
		 * a board in. It runs, without doorbells (said, not silent). */
		fprintf(stderr, "quorated: [loop] doorbell %s: no --run-dir, "
				"so no doorbells (memif and shards fed over "
				"rte_rings nap instead of blocking)\n",
			pf->doorbell);
		return 0;
	}
	if (qr_profile_expand(pf->doorbell, v, prefix, sizeof(prefix), err, n))
		return -1;
	char why[160];
	if (qr_bell_board_open(prefix, &g_board, why, sizeof(why))) {
		snprintf(err, n, "%s: [loop] doorbell: %s", pf->path, why);
		return -1;
	}
	return 0;
}

struct qr_bell_board *qr_mesh_doorbells(void)
{
	return g_board;
}

int qr_mesh_ports_setup(const struct qr_profile *pf,
			const struct qr_cluster *cl,
			const struct qr_profile_vars *base, unsigned me,
			uint16_t queues, struct rte_mempool *pool,
			struct qr_shard_link *links, uint16_t *nlinks,
			char *err, size_t n)
{
	*nlinks = 0;
	if (doorbell_open(pf, base, err, n))
		return -1;
	if (!pf->mesh_vdev[0])
		return 0;
	for (unsigned j = 0; j < cl->nodes; j++) {
		char vd[VDEV_BYTES], name[RTE_ETH_NAME_MAX_LEN];
		uint16_t port;
		if (j == me)
			continue;
		if (link_vdev(pf, base, me, j, vd, sizeof(vd), err, n))
			return -1;
		vdev_name(vd, name, sizeof(name));
		if (rte_eth_dev_get_port_by_name(name, &port) != 0 ||
		    port == 0) {
			snprintf(err, n,
				 "%s: [mesh] vdev: no port %s for node %u "
				 "(device names must differ per peer: use "
				 "{peer} in the name)",
				 pf->path, name, j);
			return -1;
		}
		if (link_setup(port, queues, pool, pf, err, n))
			return -1;
		qr_link_state_init(&g_state[*nlinks], queues);
		links[*nlinks] = (struct qr_shard_link){
			.node = (uint16_t)j,
			.port_id = port,
			.memif_client = strstr(vd, "role=client") != NULL,
			.state = &g_state[*nlinks],
		};
		(*nlinks)++;
	}
	return 0;
}

void qr_mesh_ports_close(const struct qr_shard_link *links, uint16_t nlinks)
{
	for (uint16_t k = 0; k < nlinks; k++) {
		(void)rte_eth_dev_stop(links[k].port_id);
		(void)rte_eth_dev_close(links[k].port_id);
	}
	qr_bell_board_close(g_board);
	g_board = NULL;
}
