/* SPDX-License-Identifier: MIT */
/*
 * The cluster file: one INI file (cluster.c reads it, no DPDK) that every
 * node, client and tool reads alike. Example (docs/operations.md has all
 * keys):
 *
 *   [cluster]
 *   id = 81                 ; frames of another cluster are dropped
 *   partitions = 4096       ; power of two
 *   replication_factor = 3
 *   shards = 1              ; shard cores per node (same on every node)
 *   base_port = 7400        ; UDP port of shard c is base_port + c
 *   tombstone_grace_ms = 10000 ; tombstone GC grace (0: never collect)
 *   hints_max = 4096        ; hinted-handoff slots per shard
 *   hint_delay_ms = 0       ; a hint's first delivery waits this long
 *   auth = mac              ; mac (default): peer frames authenticated;
 *                           ; none: trusted network only
 *   secret_file = cluster.secret ; 0600, common/secret.h (relative paths
 *                           ; are to the cluster file's directory)
 *   client_key_file = clients.keys ; 0600, client keys and roles
 *                           ; (common/secret.h); needed with auth = mac
 *   metrics_port = 9470     ; node i's /metrics default port is this + i
 *                           ; (on 127.0.0.1); 0: none unless a node
 *                           ; sets metrics_listen
 *   peer_frame_bytes = 1472 ; UDP payload of node-to-node frames, up to
 *                           ; 8972 (9000 MTU): every port must carry it
 *                           ; (docs/operations.md, "Jumbo frames")
 *   anti_entropy_entries_per_s = 100000 ; entries one peer may make a
 *                           ; node scan and push a second: throttles
 *                           ; anti-entropy and a membership change's
 *                           ; stream (100 .. 10,000,000)
 *   members = 0,1,2         ; the initial members (default: every node);
 *                           ; the other [node.N] are slots a membership
 *                           ; change may add (docs/topology.md)
 *
 *   [node.0]
 *   ip = 10.77.0.1          ; the node's data-plane IPv4 address
 *   mac = 02:51:52:00:00:01 ; optional: else learned by ARP
 *   iface = qr0-n           ; kernel interface for af_packet / af_xdp
 *   data_dir = /var/lib/quorate/n0
 *   mgmt = /run/quorate/n0.sock ; management endpoint (unix socket, 0600)
 *   mgmt_group = quorate    ; optional: socket 0660, this group may use it
 *   pci = 0000:3b:00.0      ; optional: {pci} in bare-metal profiles
 *   metrics_listen = 127.0.0.1:9470 ; HTTP /metrics and /ready (or off);
 *                           ; default 127.0.0.1:(metrics_port + id)
 *   zone = dc1              ; optional: failure domain; replicas of a
 *                           ; partition spread over zones (placement.h)
 *
 * Node ids are 0..n-1, every one present (each a slot: an address a
 * member may take). Errors name the file, the section,
 * the key and what is wrong, and load nothing.
 */
#ifndef QR_COMMON_CLUSTER_H
#define QR_COMMON_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_CLUSTER_NODES_MAX 64

struct qr_cluster_node {
	uint16_t id;
	uint32_t ip;      /* IPv4, network byte order */
	uint8_t mac[6];
	bool has_mac;
	char iface[32];   /* may be empty (memif, real NICs) */
	char data_dir[256];
	char mgmt[108];   /* unix socket path of the management endpoint */
	char mgmt_group[32]; /* may be empty: socket 0600, else 0660 */
	char pci[32];     /* PCI address for bare-metal profiles; may be empty */
	uint32_t metrics_ip;   /* HTTP /metrics, /ready: IPv4, network order */
	uint16_t metrics_port; /* 0: no HTTP endpoint */
	char zone[32];    /* failure domain (data centre, rack); may be empty */
	uint8_t zone_idx; /* index of zone among the cluster's zones */
};

struct qr_cluster {
	char path[256];
	uint32_t id;
	uint32_t partitions;
	uint16_t rf;
	uint16_t shards;
	uint16_t base_port;
	uint16_t nodes;
	uint32_t tombstone_grace_ms;
	uint32_t hints_max;
	uint32_t hint_delay_ms;
	uint32_t value_bytes_max; /* longest value (issue 15): 1 MiB default */
	uint32_t ae_entries_per_s; /* anti-entropy and stream throttle */
	uint16_t peer_frame_bytes; /* node-to-node frames: 1472 (default) ..
				    * 8972 (QR_FRAME_JUMBO_MAX) */
	uint8_t auth;		/* enum qr_auth_mode: 0 mac, 1 none */
	uint16_t metrics_port;	/* base: node i defaults to this + i */
	char secret_file[256];	/* resolved; may be empty with auth = none */
	char client_key_file[256]; /* resolved; client keys (secret.h);
				    * quorated needs it with auth = mac */
	uint64_t members;	/* bit n: node n is an initial member (the
				 * `members` key; default every node). A
				 * running node's own members: its topology
				 * file (docs/topology.md) */
	uint8_t zones;		/* distinct node zones, >= 1 */
	uint8_t zone_first[QR_CLUSTER_NODES_MAX]; /* a node of each zone */
	struct qr_cluster_node node[QR_CLUSTER_NODES_MAX];
};

/*
 * Load and validate a cluster file. 0, or QR_ECONFIG with a message like
 * "cluster.ini: [node.1] ip: '10.0.0' is not an IPv4 address" in err.
 * Does not need the DPDK EAL.
 */
int qr_cluster_load(const char *path, struct qr_cluster *out, char *err,
		    size_t err_len);

/* Parse "IPV4:PORT" (port 1..65535): 0, or QR_EINVAL. */
int qr_parse_listen(const char *s, uint32_t *ip, uint16_t *port);

/* Parse "aa:bb:cc:dd:ee:ff": 0 or QR_EINVAL. */
int qr_parse_mac(const char *s, uint8_t mac[6]);

#endif
