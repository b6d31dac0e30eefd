/* SPDX-License-Identifier: MIT */
/*
 * Driver profiles (the .ini files in drivers-conf/): how a node opens its DPDK
 * port. Strings may hold placeholders that quorated fills per node: {iface},
 * {node}, {cluster}, {run}, {pci}, and {framesz}, {blocksz} (a driver's
 * packet buffer and ring block for the cluster's peer_frame_bytes); in
 * [mesh] vdev also {peer}, {lo}, {hi} (the pair's lower and higher node
 * id) and {role} (server on the lower id, client on the higher).
 * docs/operations.md lists every key.
 */
#ifndef QR_SERVER_PROFILE_H
#define QR_SERVER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qr_steering {
	QR_STEER_SOFTWARE = 0, /* shard 0 receives, forwards over rte_ring */
	QR_STEER_RTE_FLOW = 1, /* the NIC steers UDP port -> queue */
};

struct qr_profile {
	char path[256];
	char name[64];
	char eal_args[512]; /* [eal] args, placeholders unexpanded */
	char vdev[256];	    /* [eal] vdev, may be empty (PCI devices) */
	char mesh_vdev[256]; /* [mesh] vdev: a direct link per peer node
			      * (src/server/mesh.c); empty: none */
	uint16_t rx_desc, tx_desc;
	uint32_t mbufs, mbuf_cache;
	enum qr_steering steering;
	bool tx_checksum_offload;
	bool idle_poll; /* [loop] idle = poll: never sleep */
	bool idle_interrupt; /* [loop] idle = interrupt: block on events */
	uint32_t spin_us;    /* [loop] spin_us: the longest spin after work
			      * (shard/idle_spin.h); 0: nap or block at once */
	char doorbell[128];  /* [loop] doorbell: path prefix of the local
			      * cluster's doorbells (shard/doorbell.h),
			      * placeholders unexpanded; empty: none */
};

/* Its client port (the [eal] vdev) is a memif client: one queue pair
 * (qr-vswitch serves one), which quorated restarts while it is down
 * (shard/ports.h). */
bool qr_profile_memif_client(const struct qr_profile *p);

/* Load and validate. 0, or QR_ECONFIG with "FILE: [section] key: what" in
 * err (a missing file, an unknown key, a bad value). */
int qr_profile_load(const char *path, struct qr_profile *p, char *err,
		    size_t err_len);

struct qr_profile_vars {
	const char *iface, *run, *pci;
	unsigned node, cluster;
	unsigned framesz; /* qr_profile_framesz(peer_frame_bytes) */
	bool mesh;	  /* expanding [mesh] vdev: the fields below are set */
	unsigned peer, lo, hi;
	const char *role; /* "server" (lo) or "client" (hi) */
};

/* A driver's buffer for one packet carrying a peer frame of peer_frame
 * bytes: the Ethernet frame (+ 42 B of Ethernet, IPv4 and UDP headers) and
 * room for the driver's own header (af_packet's tpacket header), in 2 KiB
 * steps: 2048 for 1472 B frames, 10240 for 8972 B. {blocksz} is the
 * smallest multiple of it and of a 4 KiB page (af_packet's rule). */
unsigned qr_profile_framesz(unsigned peer_frame);

/* An expanded vdev whose packet buffers are too small for peer frames of
 * peer_frame bytes: net_af_packet's framesz below the Ethernet frame plus
 * 128 B (its tpacket header), net_memif's bsize below the Ethernet frame
 * (measured: 8972 B frames do not get through bsize 2048). Both drivers'
 * defaults are 2048. 0, or QR_ECONFIG with err naming the key (a
 * hand-edited profile; the shipped ones use {framesz}). */
int qr_profile_vdev_fits(const char *vdev, unsigned peer_frame, char *err,
			 size_t err_len);

/* Expand placeholders of in into out: 0, or QR_ECONFIG (unknown
 * placeholder, or one whose value is empty; err says which). */
int qr_profile_expand(const char *in, const struct qr_profile_vars *v,
		      char *out, size_t out_len, char *err, size_t err_len);

#endif
