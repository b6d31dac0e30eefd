/* SPDX-License-Identifier: MIT */
/*
 * `quorate ring`: see ring.h. Invariants: the placement shown is the one
 * the cluster itself computes (the same function over the same members:
 * the highest-epoch topology a node holds, else the cluster file's), so
 * it can be trusted to say where a key lives; a node that does not answer
 * its management socket is shown down and never waited on for more than
 * RING_ASK_MS; nothing is changed on any node.
 */
#include "cli/ring.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cluster.h"
#include "core/placement.h"
#include "quorate/limits.h"

#define RING_ASK_MS 500 /* per node: a running node answers at once */
#define BAR_WIDTH   24

/* What the nodes say (topo_ctl.c's `topology` answer), and the topology
 * shown: the highest epoch any of them holds, else the file's members. */
struct live {
	int answered, from; /* from: the node whose topology; -1: the file */
	uint64_t epoch, owners, pending;
	struct {
		bool up, streaming;
		uint64_t epoch, left;
	} n[QR_CLUSTER_NODES_MAX];
};

static void survey(const struct qr_cluster *cl, struct live *lv)
{
	memset(lv, 0, sizeof(*lv));
	lv->from = -1;
	lv->owners = cl->members;
	for (uint16_t id = 0; id < cl->nodes; id++) {
		char *text = NULL, msg[256];
		size_t len = 0;
		if (!cl->node[id].mgmt[0] ||
		    qr_cli_mgmt_ask(cl->node[id].mgmt, "topology\n", RING_ASK_MS,
				    &text, &len, msg, sizeof(msg)))
			continue;
		json_t *o = json_loadb(text, len, 0, NULL);
		free(text);
		if (json_is_true(json_object_get(o, "ok"))) {
			const char *ow = json_string_value(
				json_object_get(o, "owners"));
			const char *pe = json_string_value(
				json_object_get(o, "pending"));
			lv->n[id].up = true;
			lv->n[id].epoch = (uint64_t)json_integer_value(
				json_object_get(o, "epoch"));
			lv->n[id].streaming =
				json_is_true(json_object_get(o, "streaming"));
			lv->n[id].left = (uint64_t)json_integer_value(
				json_object_get(o, "stream_left"));
			lv->answered++;
			if (ow && (lv->from < 0 || lv->n[id].epoch > lv->epoch)) {
				lv->from = id;
				lv->epoch = lv->n[id].epoch;
				lv->owners = strtoull(ow, NULL, 16);
				lv->pending = pe ? strtoull(pe, NULL, 16) : 0;
			}
		}
		json_decref(o);
	}
}

/* The placement over members, as nodes build it (topo_ctl.c). */
static int build(struct qr_placement *pl, const struct qr_cluster *cl,
		 uint64_t members)
{
	struct qr_cluster *c = malloc(sizeof(*c));
	if (!c)
		return -1;
	*c = *cl;
	c->members = members;
	int rc = qr_placement_init_cluster(pl, c);
	free(c);
	return rc;
}

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

static void members_str(uint64_t m, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int id = 0; id < 64 && k + 4 < n; id++)
		if (m >> id & 1)
			k += (size_t)snprintf(buf + k, n - k, "%s%d", k ? "," : "",
					      id);
}

static json_t *replicas_json(const struct qr_cluster *cl,
			     const struct qr_placement *pl, uint32_t part)
{
	json_t *reps = json_array();
	const uint8_t *r = qr_placement_replicas(pl, part);
	for (unsigned i = 0; i < pl->rf; i++)
		json_array_append_new(reps, node_json(cl, r[i]));
	return reps;
}

static void print_replicas(const struct qr_cluster *cl,
			   const struct qr_placement *pl, uint32_t part)
{
	const uint8_t *r = qr_placement_replicas(pl, part);
	for (unsigned i = 0; i < pl->rf; i++) {
		char ip[INET_ADDRSTRLEN];
		printf("  node %u  %s  zone %s\n", r[i],
		       ip_str(cl->node[r[i]].ip, ip),
		       cl->node[r[i]].zone[0] ? cl->node[r[i]].zone : "-");
	}
}

static void ring_key(const struct qr_cluster *cl, const struct qr_placement *pl,
		     const struct qr_placement *next, const char *key, bool json)
{
	uint32_t part = qr_placement_partition(pl, key, strlen(key));
	if (json) {
		json_t *o = json_pack("{s:b, s:i, s:i, s:o}", "ok", 1,
				      "partition", part, "shard",
				      qr_placement_shard(pl, part), "replicas",
				      replicas_json(cl, pl, part));
		if (next)
			json_object_set_new(o, "replicas_after",
					    replicas_json(cl, next, part));
		print_json(o);
		return;
	}
	printf("partition %u, shard %u; replicas (coordinator order):\n", part,
	       qr_placement_shard(pl, part));
	print_replicas(cl, pl, part);
	if (next) {
		printf("after the change in progress:\n");
		print_replicas(cl, next, part);
	}
}

/* Per node: replica of, first for (owners), replica of after the change,
 * and the partitions it gains (in the new sets, not the old). */
struct counts {
	uint32_t held[QR_NODES_MAX], first[QR_NODES_MAX];
	uint32_t after[QR_NODES_MAX], gains[QR_NODES_MAX];
};

static void count(const struct qr_placement *pl,
		  const struct qr_placement *next, struct counts *k)
{
	memset(k, 0, sizeof(*k));
	for (uint32_t p = 0; p < pl->partitions; p++) {
		const uint8_t *r = qr_placement_replicas(pl, p);
		k->first[r[0]]++;
		for (unsigned i = 0; i < pl->rf; i++)
			k->held[r[i]]++;
		const uint8_t *nr = next ? qr_placement_replicas(next, p) : NULL;
		for (unsigned i = 0; nr && i < next->rf; i++) {
			k->after[nr[i]]++;
			k->gains[nr[i]] +=
				qr_placement_replica_index(pl, p, nr[i]) < 0;
		}
	}
}

/* "[#######.....]  60%  325 of 812 left" in a terminal, else the counts. */
static void progress(uint32_t gains, uint64_t left, bool tty)
{
	uint64_t done = left < gains ? gains - left : 0;
	if (!tty) {
		printf("  stream %" PRIu64 " of %u left", left, gains);
		return;
	}
	unsigned fill = (unsigned)(done * BAR_WIDTH / gains);
	printf("  [");
	for (unsigned i = 0; i < BAR_WIDTH; i++)
		putchar(i < fill ? '#' : '.');
	printf("] %3u%%  %" PRIu64 " of %u left", (unsigned)(done * 100 / gains),
	       left, gains);
}

static void node_state(const struct live *lv, const struct counts *k,
		       uint16_t n, bool tty)
{
	if (!lv->n[n].up) {
		printf("  down");
		return;
	}
	printf("  up, epoch %" PRIu64, lv->n[n].epoch);
	if (!lv->pending || !k->gains[n])
		return;
	if (lv->n[n].streaming)
		progress(k->gains[n], lv->n[n].left, tty);
	else
		printf("  gains %u (stream not begun)", k->gains[n]);
}

static void header(const struct qr_cluster *cl, const struct qr_placement *pl,
		   const struct live *lv)
{
	char m[256], p[256];
	members_str(lv->owners, m, sizeof(m));
	if (lv->from < 0)
		printf("members %s, from the cluster file (no node answered)\n",
		       m);
	else
		printf("epoch %" PRIu64 ", members %s (node %d's topology; %d of "
		       "%u nodes answered)\n",
		       lv->epoch, m, lv->from, lv->answered, cl->nodes);
	if (lv->pending) {
		members_str(lv->pending, p, sizeof(p));
		printf("change in progress: to members %s\n", p);
	}
	printf("%u partitions, rf %u, %u zone(s)\n"
	       "node  ip               zone        replica of  first for%s\n",
	       pl->partitions, pl->rf, pl->zones,
	       lv->pending ? "  after" : "");
}

static void ring_text(const struct qr_cluster *cl,
		      const struct qr_placement *pl, const struct live *lv,
		      const struct counts *k)
{
	bool tty = isatty(STDOUT_FILENO);
	header(cl, pl, lv);
	for (uint16_t n = 0; n < cl->nodes; n++) {
		char ip[INET_ADDRSTRLEN];
		printf("%-4u  %-15s  %-10s  %10u  %9u", n,
		       ip_str(cl->node[n].ip, ip),
		       cl->node[n].zone[0] ? cl->node[n].zone : "-",
		       k->held[n], k->first[n]);
		if (lv->pending)
			printf("  %5u", k->after[n]);
		if (!((lv->owners | lv->pending) >> n & 1))
			printf("  (slot)");
		node_state(lv, k, n, tty);
		putchar('\n');
	}
}

static void ring_json(const struct qr_cluster *cl,
		      const struct qr_placement *pl, const struct live *lv,
		      const struct counts *k)
{
	char hex[2][24];
	json_t *nodes = json_array();
	for (uint16_t n = 0; n < cl->nodes; n++) {
		json_t *o = node_json(cl, n);
		json_object_set_new(o, "replica_of", json_integer(k->held[n]));
		json_object_set_new(o, "first_for", json_integer(k->first[n]));
		json_object_set_new(o, "member",
				    json_boolean(lv->owners >> n & 1));
		json_object_set_new(o, "up", json_boolean(lv->n[n].up));
		if (lv->n[n].up)
			json_object_set_new(o, "epoch",
					    json_integer((json_int_t)lv->n[n].epoch));
		if (lv->pending) {
			json_object_set_new(o, "replica_of_after",
					    json_integer(k->after[n]));
			json_object_set_new(o, "gains", json_integer(k->gains[n]));
			json_object_set_new(o, "streaming",
					    json_boolean(lv->n[n].streaming));
			json_object_set_new(
				o, "stream_left",
				json_integer((json_int_t)lv->n[n].left));
		}
		json_array_append_new(nodes, o);
	}
	snprintf(hex[0], sizeof(hex[0]), "0x%" PRIx64, lv->owners);
	snprintf(hex[1], sizeof(hex[1]), "0x%" PRIx64, lv->pending);
	print_json(json_pack("{s:b, s:s, s:I, s:s, s:s, s:i, s:i, s:i, s:i, "
			     "s:o}",
			     "ok", 1, "source", lv->from < 0 ? "file" : "nodes",
			     "epoch", (json_int_t)lv->epoch, "owners", hex[0],
			     "pending", hex[1], "answered", lv->answered,
			     "partitions", pl->partitions, "rf", pl->rf,
			     "zones", pl->zones, "nodes", nodes));
}

static int show(const struct qr_cluster *cl, const char *key, bool json,
		char *err, size_t err_len)
{
	static struct live lv;
	struct qr_placement pl, next;
	survey(cl, &lv);
	if (build(&pl, cl, lv.owners)) {
		snprintf(err, err_len, "cannot build the placement table");
		return -1;
	}
	if (lv.pending && build(&next, cl, lv.pending)) {
		qr_placement_fini(&pl);
		snprintf(err, err_len, "cannot build the pending placement");
		return -1;
	}
	const struct qr_placement *np = lv.pending ? &next : NULL;
	if (key) {
		ring_key(cl, &pl, np, key, json);
	} else {
		static struct counts k;
		count(&pl, np, &k);
		if (json)
			ring_json(cl, &pl, &lv, &k);
		else
			ring_text(cl, &pl, &lv, &k);
	}
	qr_placement_fini(&pl);
	if (np)
		qr_placement_fini(&next);
	return 0;
}

int qr_cli_ring_moves(const struct qr_cluster *cl, uint64_t from, uint64_t to,
		      char *err, size_t err_len)
{
	struct qr_placement pl, next;
	if (build(&pl, cl, from)) {
		snprintf(err, err_len, "cannot build the placement table");
		return -1;
	}
	if (build(&next, cl, to)) {
		qr_placement_fini(&pl);
		snprintf(err, err_len, "cannot build the planned placement");
		return -1;
	}
	static struct counts k;
	count(&pl, &next, &k);
	uint64_t moved = 0;
	printf("node  ip               zone        replica of  after  gains  "
	       "loses\n");
	for (uint16_t n = 0; n < cl->nodes; n++) {
		if (!((from | to) >> n & 1))
			continue;
		char ip[INET_ADDRSTRLEN];
		uint32_t kept = k.after[n] - k.gains[n];
		printf("%-4u  %-15s  %-10s  %10u  %5u  %5u  %5u%s\n", n,
		       ip_str(cl->node[n].ip, ip),
		       cl->node[n].zone[0] ? cl->node[n].zone : "-",
		       k.held[n], k.after[n], k.gains[n], k.held[n] - kept,
		       !(to >> n & 1) ? "  (leaves)"
		       : !(from >> n & 1) ? "  (joins)" : "");
		moved += k.gains[n];
	}
	uint64_t all = (uint64_t)pl.partitions * pl.rf;
	printf("%" PRIu64 " of %" PRIu64 " partition replicas move (%.1f%%), "
	       "%u partitions, rf %u\n",
	       moved, all, all ? 100.0 * (double)moved / (double)all : 0.0,
	       pl.partitions, pl.rf);
	qr_placement_fini(&pl);
	qr_placement_fini(&next);
	return 0;
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
	int rc = qr_cluster_load(cluster_file, cl, err, err_len);
	if (!rc)
		rc = show(cl, key, json, err, err_len);
	free(cl);
	return rc ? -1 : 0;
}
