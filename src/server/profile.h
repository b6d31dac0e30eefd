/* SPDX-License-Identifier: MIT */
/*
 * Driver profiles (the .ini files in drivers-conf/): how a node opens its DPDK
 * port. Strings may hold placeholders that quorated fills per node: {iface},
 * {node}, {cluster}, {run}, {pci}. docs/operations.md lists every key.
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
	uint16_t rx_desc, tx_desc;
	uint32_t mbufs, mbuf_cache;
	enum qr_steering steering;
	bool tx_checksum_offload;
	bool idle_poll; /* [loop] idle = poll: never sleep */
};

/* Load and validate. 0, or QR_ECONFIG with "FILE: [section] key: what" in
 * err (a missing file, an unknown key, a bad value). */
int qr_profile_load(const char *path, struct qr_profile *p, char *err,
		    size_t err_len);

struct qr_profile_vars {
	const char *iface, *run, *pci;
	unsigned node, cluster;
};

/* Expand placeholders of in into out: 0, or QR_ECONFIG (unknown
 * placeholder, or one whose value is empty; err says which). */
int qr_profile_expand(const char *in, const struct qr_profile_vars *v,
		      char *out, size_t out_len, char *err, size_t err_len);

#endif
