/* SPDX-License-Identifier: MIT */
/*
 * `quorate ring`: see ring.h. Invariant: the answer is the placement the
 * cluster itself computes (the same function, the same cluster file), so
 * it can be trusted to say where a key lives; nothing is asked of a node.
 */
#include "cli/ring.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cluster.h"
#include "core/placement.h"
#include "quorate/limits.h"

static const char *ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = {.s_addr = ip};
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static json_t *node_json(const struct qr_cluster *cl, uint16_t n)
{
	char ip[INET_ADDRSTRLEN];
	return json_pack("{s:i, s:s, s:s}", "node", n, "ip",
			 ip_str(cl->node[n].ip, ip), "zone", cl->node[n].zone);
}

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

static void ring_key(const struct qr_cluster *cl, const struct qr_placement *pl,
		     const char *key, bool json)
{
	uint32_t part = qr_placement_partition(pl, key, strlen(key));
	const uint8_t *r = qr_placement_replicas(pl, part);
	if (json) {
		json_t *reps = json_array();
		for (unsigned i = 0; i < pl->rf; i++)
			json_array_append_new(reps, node_json(cl, r[i]));
		print_json(json_pack("{s:b, s:i, s:i, s:o}", "ok", 1,
				     "partition", part, "shard",
				     qr_placement_shard(pl, part), "replicas",
				     reps));
		return;
	}
	printf("partition %u, shard %u; replicas (coordinator order):\n", part,
	       qr_placement_shard(pl, part));
	for (unsigned i = 0; i < pl->rf; i++) {
		char ip[INET_ADDRSTRLEN];
		printf("  node %u  %s  zone %s\n", r[i],
		       ip_str(cl->node[r[i]].ip, ip),
		       cl->node[r[i]].zone[0] ? cl->node[r[i]].zone : "-");
	}
}

static void ring_all(const struct qr_cluster *cl, const struct qr_placement *pl,
		     bool json)
{
	static uint32_t held[QR_NODES_MAX], first[QR_NODES_MAX];
	for (uint32_t p = 0; p < pl->partitions; p++) {
		const uint8_t *r = qr_placement_replicas(pl, p);
		first[r[0]]++;
		for (unsigned i = 0; i < pl->rf; i++)
			held[r[i]]++;
	}
	json_t *nodes = json_array();
	if (!json)
		printf("%u partitions, rf %u, %u zone(s); nodes not in the "
		       "cluster file's members are slots ('quorate node')\n"
		       "node  ip               zone        replica of  first "
		       "for\n",
		       pl->partitions, pl->rf, pl->zones);
	for (uint16_t n = 0; n < cl->nodes; n++) {
		char ip[INET_ADDRSTRLEN];
		if (!json) {
			printf("%-4u  %-15s  %-10s  %10u  %9u%s\n", n,
			       ip_str(cl->node[n].ip, ip),
			       cl->node[n].zone[0] ? cl->node[n].zone : "-",
			       held[n], first[n],
			       cl->members >> n & 1 ? "" : "  (slot)");
			continue;
		}
		json_t *o = node_json(cl, n);
		json_object_set_new(o, "replica_of", json_integer(held[n]));
		json_object_set_new(o, "first_for", json_integer(first[n]));
		json_object_set_new(o, "member",
				    json_boolean(cl->members >> n & 1));
		json_array_append_new(nodes, o);
	}
	if (json)
		print_json(json_pack("{s:b, s:i, s:i, s:i, s:o}", "ok", 1,
				     "partitions", pl->partitions, "rf", pl->rf,
				     "zones", pl->zones, "nodes", nodes));
	else
		json_decref(nodes);
}

int qr_cli_ring(const char *cluster_file, const char *key, bool json,
		char *err, size_t err_len)
{
	if (key && (!*key || strlen(key) > QR_KEY_BYTES_MAX)) {
		snprintf(err, err_len, "key: 1..%d bytes", QR_KEY_BYTES_MAX);
		return -1;
	}
	struct qr_cluster *cl = malloc(sizeof(*cl));
	if (!cl) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	struct qr_placement pl;
	int rc = qr_cluster_load(cluster_file, cl, err, err_len);
	if (!rc && qr_placement_init_cluster(&pl, cl)) {
		snprintf(err, err_len, "%s: cannot build the placement table",
			 cluster_file);
		rc = -1;
	}
	if (!rc) {
		if (key)
			ring_key(cl, &pl, key, json);
		else
			ring_all(cl, &pl, json);
		qr_placement_fini(&pl);
	}
	free(cl);
	return rc ? -1 : 0;
}
