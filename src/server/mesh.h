/* SPDX-License-Identifier: MIT */
/*
 * The direct links of a node (issue 11 item 4): with a profile that has a
 * [mesh] vdev (drivers-conf/memif.ini), one DPDK port per peer node, so
 * node-to-node frames need no switch. Node pair (i, j), i < j: i is the
 * memif server, j the client, on the socket the template names (the
 * shipped one: {run}/mesh-i-j.sock); both ends open one queue pair per
 * shard, and shard s uses queue s (src/shard/ports.h).
 *
 * Invariants: the profile's own vdev stays port 0 (the client port); each
 * link's port is found by its vdev name, never by its probe order. A
 * server socket file left by a crashed run is removed before the EAL
 * binds it (only sockets, only this node's server ends). A link whose peer
 * is not up yet starts down and connects later (ports.c's watchdog).
 */
#ifndef QR_SERVER_MESH_H
#define QR_SERVER_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "common/cluster.h"
#include "server/profile.h"
#include "shard/doorbell.h"
#include "shard/shard.h"

struct rte_mempool;

/* Append one --vdev per peer to argv (at *argc, below argc_max), the
 * strings kept in store (*used bytes of store_len taken). base: the
 * node's placeholders. 0, or -1 with err set. Nothing without [mesh]. */
int qr_mesh_eal_args(const struct qr_profile *pf, const struct qr_cluster *cl,
		     const struct qr_profile_vars *base, unsigned me,
		     char **argv, int *argc, int argc_max, char *store,
		     size_t *used, size_t store_len, char *err, size_t n);

/* After the EAL: configure and start every link's port with `queues`
 * queue pairs on pool; links[] (nlinks) say which port reaches which
 * node; map the doorbell board ([loop] doorbell). 0, or -1 with err
 * set. */
int qr_mesh_ports_setup(const struct qr_profile *pf,
			const struct qr_cluster *cl,
			const struct qr_profile_vars *base, unsigned me,
			uint16_t queues, struct rte_mempool *pool,
			struct qr_shard_link *links, uint16_t *nlinks,
			char *err, size_t n);

/* The doorbell board of [loop] doorbell (shard/doorbell.h), mapped by
 * qr_mesh_ports_setup (with or without [mesh]); NULL: none. */
struct qr_bell_board *qr_mesh_doorbells(void);

/* Stop and close the links' ports; unmap the doorbell board. */
void qr_mesh_ports_close(const struct qr_shard_link *links, uint16_t nlinks);

#endif
