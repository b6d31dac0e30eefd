/* SPDX-License-Identifier: MIT */
/*
 * The cluster file loader: a valid file loads with its defaults, and every
 * kind of error is refused with QR_ECONFIG, a message naming the file,
 * section and key, and the output left untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/cluster.h"
#include "core/placement.h"
#include "quorate/err.h"
#include "unit.h"

static char path[64];

static void write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/qr-test-cluster-%d.ini",
		 (int)getpid());
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

#define NODES3                                                                 \
	"[node.0]\nip = 10.0.0.1\n"                                            \
	"[node.1]\nip = 10.0.0.2\n"                                            \
	"[node.2]\nip = 10.0.0.3\n"

/* Load text; expect QR_ECONFIG, a message containing want, out untouched. */
static void expect_error(const char *text, const char *want)
{
	static struct qr_cluster c;
	memset(&c, 0xa5, sizeof(c));
	char err[512];
	write_file(text);
	int rc = qr_cluster_load(path, &c, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, QR_ECONFIG);
	if (!strstr(err, want) || strncmp(err, path, strlen(path)))
		fprintf(stderr, "\n  want '%s' in '%s'\n", want, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL(strncmp(err, path, strlen(path)), 0);
	const uint8_t *b = (const uint8_t *)&c;
	bool untouched = true;
	for (size_t i = 0; i < sizeof(c); i++)
		untouched &= b[i] == 0xa5;
	CU_ASSERT(untouched);
	unlink(path);
}

static void valid_file_loads_every_field(void)
{
	write_file("; a comment\n"
		   "[cluster]\n"
		   "id = 81 ; trailing comment\n"
		   "partitions = 1024\n"
		   "replication_factor = 2\n"
		   "shards = 4\n"
		   "base_port = 9000\n"
		   "tombstone_grace_ms = 30000\n"
		   "hints_max = 100\n"
		   "hint_delay_ms = 5\n"
		   "value_bytes_max = 2097152\n"
		   "peer_frame_bytes = 8972\n"
		   "anti_entropy_entries_per_s = 5000\n"
		   "\n"
		   "[node.1]\n"
		   "ip = 10.77.0.2\n"
		   "[node.0]\n"
		   "ip = 10.77.0.1\n"
		   "mac = 02:51:52:00:00:aB\n"
		   "iface = qr0-n\n"
		   "data_dir = /var/lib/quorate/n0\n"
		   "mgmt = /run/quorate/n0.sock\n");
	struct qr_cluster c;
	char err[256] = "x";
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(c.path, path);
	CU_ASSERT_EQUAL(c.id, 81);
	CU_ASSERT_EQUAL(c.partitions, 1024);
	CU_ASSERT_EQUAL(c.rf, 2);
	CU_ASSERT_EQUAL(c.shards, 4);
	CU_ASSERT_EQUAL(c.base_port, 9000);
	CU_ASSERT_EQUAL(c.tombstone_grace_ms, 30000);
	CU_ASSERT_EQUAL(c.hints_max, 100);
	CU_ASSERT_EQUAL(c.hint_delay_ms, 5);
	CU_ASSERT_EQUAL(c.value_bytes_max, 2097152);
	CU_ASSERT_EQUAL(c.peer_frame_bytes, QR_FRAME_JUMBO_MAX);
	CU_ASSERT_EQUAL(c.ae_entries_per_s, 5000);
	CU_ASSERT_EQUAL(c.nodes, 2);
	CU_ASSERT_EQUAL(c.node[0].id, 0);
	CU_ASSERT_EQUAL(c.node[1].id, 1);
	CU_ASSERT_EQUAL(c.node[0].ip, inet_addr("10.77.0.1"));
	CU_ASSERT_EQUAL(c.node[1].ip, inet_addr("10.77.0.2"));
	CU_ASSERT(c.node[0].has_mac);
	CU_ASSERT_FALSE(c.node[1].has_mac);
	const uint8_t mac[6] = {0x02, 0x51, 0x52, 0x00, 0x00, 0xab};
	CU_ASSERT_EQUAL(memcmp(c.node[0].mac, mac, 6), 0);
	CU_ASSERT_STRING_EQUAL(c.node[0].iface, "qr0-n");
	CU_ASSERT_STRING_EQUAL(c.node[0].data_dir, "/var/lib/quorate/n0");
	CU_ASSERT_STRING_EQUAL(c.node[0].mgmt, "/run/quorate/n0.sock");
	CU_ASSERT_STRING_EQUAL(c.node[1].iface, "");
	CU_ASSERT_STRING_EQUAL(c.node[1].mgmt, "");
	unlink(path);
}

static void defaults_apply_and_rf_caps_at_nodes(void)
{
	struct qr_cluster c;
	write_file("[cluster]\nid = 0\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.partitions, 4096);
	CU_ASSERT_EQUAL(c.rf, 3);
	CU_ASSERT_EQUAL(c.shards, 1);
	CU_ASSERT_EQUAL(c.base_port, 7400);
	CU_ASSERT_EQUAL(c.tombstone_grace_ms, 10000);
	CU_ASSERT_EQUAL(c.hints_max, 4096);
	CU_ASSERT_EQUAL(c.hint_delay_ms, 0);
	CU_ASSERT_EQUAL(c.value_bytes_max, QR_VALUE_BYTES_DEFAULT);
	CU_ASSERT_EQUAL(c.peer_frame_bytes, QR_FRAME_BYTES_MAX);
	CU_ASSERT_EQUAL(c.ae_entries_per_s, 100000);
	CU_ASSERT_EQUAL(c.nodes, 3);

	/* Fewer nodes than the default RF: RF = nodes. */
	write_file("[cluster]\nid = 5\n[node.0]\nip = 10.0.0.9\n");
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.rf, 1);
	CU_ASSERT_EQUAL(c.nodes, 1);
	unlink(path);
}

static void unreadable_file_names_errno(void)
{
	struct qr_cluster c;
	char err[256];
	CU_ASSERT_EQUAL(
		qr_cluster_load("/nonexistent/q.ini", &c, err, sizeof(err)),
		QR_ECONFIG);
	CU_ASSERT_STRING_EQUAL(
		err,
		"/nonexistent/q.ini: cannot read: No such file or directory");
}

static void syntax_errors_name_the_line(void)
{
	expect_error("[cluster]\nid = 1\nbogus line\n" NODES3,
		     ": line 3: expected 'key = value'");
	expect_error("[cluster\nid = 1\n", ": line 1: bad section header");
	expect_error("id = 1\n[cluster]\n", ": line 1: 'id = 1' is outside");
	expect_error("[cluster]\nid =\n" NODES3, ": line 2: id: empty value");
}

static void missing_and_unknown_sections(void)
{
	expect_error(NODES3, ": [cluster]: missing");
	expect_error("[cluster]\nid = 1\n", ": [node.0]: missing");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "[node.2]\nip = 10.0.0.3\n",
		     ": [node.1]: missing (node ids must be 0..2 with no gap)");
	expect_error("[cluster]\nid = 1\n" NODES3 "[nodes.3]\nip = 1.2.3.4\n",
		     ": [nodes.3]: unknown section");
	expect_error("[cluster]\nid = 1\n[node.01]\nip = 10.0.0.1\n",
		     ": [node.01]: unknown section");
	expect_error("[cluster]\nid = 1\n[node.64]\nip = 10.0.0.1\n",
		     ": [node.64]: node ids are 0..63");
	expect_error("[cluster]\nid = 1\n" NODES3 "[cluster]\nid = 2\n",
		     ": [cluster]: given twice");
	expect_error("[cluster]\nid = 1\n" NODES3 "[node.1]\nip = 10.0.0.5\n",
		     ": [node.1]: given twice");
}

static void unknown_or_repeated_keys(void)
{
	expect_error("[cluster]\nid = 1\nreplication_factr = 2\n" NODES3,
		     ": [cluster] replication_factr: unknown key");
	expect_error("[cluster]\nid = 1\n" NODES3 "ipv4 = 1.2.3.4\n",
		     ": [node.2] ipv4: unknown key");
	expect_error("[cluster]\nid = 1\nid = 2\n" NODES3,
		     ": [cluster] id: given twice");
}

static void cluster_values_are_range_checked(void)
{
	expect_error("[cluster]\npartitions = 8\n" NODES3,
		     ": [cluster] id: missing (required)");
	expect_error("[cluster]\nid = -1\n" NODES3,
		     ": [cluster] id: '-1' is not an integer in 0..4294967295");
	expect_error("[cluster]\nid = 4294967296\n" NODES3,
		     ": [cluster] id: '4294967296' is not an integer");
	expect_error("[cluster]\nid = 12abc\n" NODES3,
		     ": [cluster] id: '12abc' is not an integer");
	expect_error("[cluster]\nid = 1\npartitions = 1000\n" NODES3,
		     ": [cluster] partitions: 1000 is not a power of two");
	expect_error("[cluster]\nid = 1\npartitions = 0\n" NODES3,
		     ": [cluster] partitions: '0' is not an integer in 1..");
	expect_error("[cluster]\nid = 1\nreplication_factor = 4\n" NODES3,
		     ": [cluster] replication_factor: '4' is not an integer "
		     "in 1..3");
	expect_error("[cluster]\nid = 1\nreplication_factor = 0\n" NODES3,
		     ": [cluster] replication_factor: '0'");
	expect_error("[cluster]\nid = 1\nshards = 129\n" NODES3,
		     ": [cluster] shards: '129' is not an integer in 1..128");
	expect_error("[cluster]\nid = 1\nshards = 0\n" NODES3,
		     ": [cluster] shards: '0'");
	expect_error(
		"[cluster]\nid = 1\nshards = 16\nbase_port = 65520\n" NODES3,
		": [cluster] base_port: '65520' is not an integer in "
		"1..65519");
	expect_error("[cluster]\nid = 1\nbase_port = 0\n" NODES3,
		     ": [cluster] base_port: '0'");
	expect_error("[cluster]\nid = 1\ntombstone_grace_ms = 500\n" NODES3,
		     ": [cluster] tombstone_grace_ms: 500 is below 2000");
	expect_error("[cluster]\nid = 1\nhints_max = 1\n" NODES3,
		     ": [cluster] hints_max: '1'");
	/* a value limit that fits a frame, or over the 8 MiB ceiling */
	expect_error("[cluster]\nid = 1\nanti_entropy_entries_per_s = 99\n"
		     NODES3, ": [cluster] anti_entropy_entries_per_s: '99'");
	expect_error("[cluster]\nid = 1\nvalue_bytes_max = 1024\n" NODES3,
		     ": [cluster] value_bytes_max: '1024'");
	expect_error("[cluster]\nid = 1\nvalue_bytes_max = 8388609\n" NODES3,
		     ": [cluster] value_bytes_max: '8388609'");
	/* peer frames: 1472..8972 (limits.h L6), never cut to fit */
	expect_error("[cluster]\nid = 1\npeer_frame_bytes = 1471\n" NODES3,
		     ": [cluster] peer_frame_bytes: '1471' is not an integer "
		     "in 1472..8972");
	expect_error("[cluster]\nid = 1\npeer_frame_bytes = 8973\n" NODES3,
		     ": [cluster] peer_frame_bytes: '8973'");
}

/* Issue 16: each node's HTTP endpoint (/metrics, /ready): loopback at
 * metrics_port + id by default, metrics_listen per node, off. */
static void metrics_endpoints(void)
{
	write_file("[cluster]\nid = 1\n"
		   "[node.0]\nip = 10.0.0.1\n"
		   "[node.1]\nip = 10.0.0.2\nmetrics_listen = 0.0.0.0:8000\n"
		   "[node.2]\nip = 10.0.0.3\nmetrics_listen = off\n");
	static struct qr_cluster c;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.metrics_port, 9470);
	CU_ASSERT_EQUAL(c.node[0].metrics_ip, htonl(0x7f000001));
	CU_ASSERT_EQUAL(c.node[0].metrics_port, 9470);
	CU_ASSERT_EQUAL(c.node[1].metrics_ip, 0);
	CU_ASSERT_EQUAL(c.node[1].metrics_port, 8000);
	CU_ASSERT_EQUAL(c.node[2].metrics_port, 0);
	unlink(path);
	write_file("[cluster]\nid = 1\nmetrics_port = 0\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.node[1].metrics_port, 0); /* off by default */
	unlink(path);
	write_file("[cluster]\nid = 1\nmetrics_port = 9100\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.node[2].metrics_port, 9102);
	unlink(path);
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "metrics_listen = localhost:80\n",
		     ": [node.0] metrics_listen: 'localhost:80' is not "
		     "IPV4:PORT (port 1..65535) or off");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "metrics_listen = 127.0.0.1:0\n",
		     ": [node.0] metrics_listen: '127.0.0.1:0'");
	expect_error("[cluster]\nid = 1\nmetrics_port = 65500\n" NODES3,
		     ": [cluster] metrics_port: '65500' is not an integer in "
		     "0..65471");
	uint32_t ip;
	uint16_t port;
	CU_ASSERT_EQUAL(qr_parse_listen("10.1.2.3:9", &ip, &port), 0);
	CU_ASSERT_EQUAL(port, 9);
	CU_ASSERT_EQUAL(qr_parse_listen("10.1.2.3", &ip, &port), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_listen(":9", &ip, &port), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_listen("10.1.2.3:9x", &ip, &port), QR_EINVAL);
}

static void node_values_are_checked(void)
{
	expect_error("[cluster]\nid = 1\n[node.0]\nmac = 02:00:00:00:00:01\n",
		     ": [node.0] ip: missing (required)");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0\n",
		     ": [node.0] ip: '10.0.0' is not an IPv4 address");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.256\n",
		     ": [node.0] ip: '10.0.0.256' is not an IPv4 address");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = ::1\n",
		     ": [node.0] ip: '::1' is not an IPv4 address");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 0.0.0.0\n",
		     ": [node.0] ip: '0.0.0.0' is not a unicast address");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "mac = 02:00:00:00:00\n",
		     ": [node.0] mac: '02:00:00:00:00' is not a MAC address");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "iface = abcdefghijabcdefghijabcdefghij-too-long\n",
		     ": [node.0] iface: longer than 31 bytes");
	expect_error(
		"[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\nmgmt = "
		"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
		": [node.0] mgmt: longer than 107 bytes");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "[node.1]\nip = 10.0.0.1\n",
		     ": [node.1] ip: 10.0.0.1 is also [node.0]'s");
	expect_error(
		"[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\ndata_dir = /d\n"
		"[node.1]\nip = 10.0.0.2\ndata_dir = /d\n",
		": [node.1] data_dir: '/d' is also [node.0]'s");
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\nmgmt = /s\n"
		     "[node.1]\nip = 10.0.0.2\nmgmt = /s\n",
		     ": [node.1] mgmt: '/s' is also [node.0]'s");
}

static void sixty_four_nodes_load(void)
{
	char *text = malloc(8192);
	CU_ASSERT_FATAL(text != NULL);
	int n = snprintf(text, 8192,
			 "[cluster]\nid = 3\nreplication_factor = 7\n");
	for (int i = 0; i < QR_CLUSTER_NODES_MAX; i++)
		n += snprintf(text + n, 8192 - (size_t)n,
			      "[node.%d]\nip = 10.1.%d.%d\n", i, i / 200,
			      i % 200 + 1);
	write_file(text);
	free(text);
	struct qr_cluster c;
	char err[256];
	CU_ASSERT_EQUAL(qr_cluster_load(path, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.nodes, QR_CLUSTER_NODES_MAX);
	CU_ASSERT_EQUAL(c.rf, 7);
	unlink(path);
}

static void parse_mac_is_strict(void)
{
	uint8_t m[6] = {0};
	CU_ASSERT_EQUAL(qr_parse_mac("ff:FF:00:01:a0:0b", m), 0);
	CU_ASSERT_EQUAL(m[0], 0xff);
	CU_ASSERT_EQUAL(m[5], 0x0b);
	CU_ASSERT_EQUAL(qr_parse_mac("ff:ff:00:01:a0", m), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_mac("ff:ff:00:01:a0:0b:", m), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_mac("ff-ff-00-01-a0-0b", m), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_mac("f:ff:00:01:a0:0b", m), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_mac("gg:ff:00:01:a0:0b", m), QR_EINVAL);
	CU_ASSERT_EQUAL(qr_parse_mac("", m), QR_EINVAL);
	CU_ASSERT_EQUAL(m[0], 0xff); /* unchanged on error */
}

/* Zones: indexes by first appearance, no `zone` = one zone, and the
 * placement built from the file spreads replicas over them. */
static void zones_are_indexed_and_placed(void)
{
	static struct qr_cluster c;
	write_file("[cluster]\nid = 1\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.zones, 1);
	write_file("[cluster]\nid = 1\npartitions = 256\n"
		   "[node.0]\nip = 10.0.0.1\nzone = b\n"
		   "[node.1]\nip = 10.0.0.2\nzone = a\n"
		   "[node.2]\nip = 10.0.0.3\nzone = b\n"
		   "[node.3]\nip = 10.0.0.4\nzone = a\n"
		   "[node.4]\nip = 10.0.0.5\n");
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.zones, 3);
	CU_ASSERT_STRING_EQUAL(c.node[1].zone, "a");
	CU_ASSERT_EQUAL(c.node[0].zone_idx, 0);
	CU_ASSERT_EQUAL(c.node[1].zone_idx, 1);
	CU_ASSERT_EQUAL(c.node[2].zone_idx, 0);
	CU_ASSERT_EQUAL(c.node[3].zone_idx, 1);
	CU_ASSERT_EQUAL(c.node[4].zone_idx, 2);
	struct qr_placement pl;
	CU_ASSERT_EQUAL_FATAL(qr_placement_init_cluster(&pl, &c), 0);
	for (uint32_t p = 0; p < pl.partitions; p++) {
		const uint8_t *r = qr_placement_replicas(&pl, p);
		uint8_t z0 = c.node[r[0]].zone_idx, z1 = c.node[r[1]].zone_idx,
			z2 = c.node[r[2]].zone_idx;
		CU_ASSERT(z0 != z1 && z1 != z2 && z0 != z2);
	}
	qr_placement_fini(&pl);
	expect_error("[cluster]\nid = 1\n[node.0]\nip = 10.0.0.1\n"
		     "zone = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		     "[node.0] zone: longer than 31 bytes");
	unlink(path);
}

/* members (issue 14): the initial members among the node slots; absent,
 * every node; the placement built from the file uses members only. */
static void members_name_initial_members(void)
{
	static struct qr_cluster c;
	write_file("[cluster]\nid = 1\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.members, 0x7u);
	write_file("[cluster]\nid = 1\nreplication_factor = 2\n"
		   "members = 2, 0\n" NODES3);
	CU_ASSERT_EQUAL_FATAL(qr_cluster_load(path, &c, NULL, 0), 0);
	CU_ASSERT_EQUAL(c.members, 0x5u);
	CU_ASSERT_EQUAL(c.nodes, 3);
	struct qr_placement pl;
	CU_ASSERT_EQUAL_FATAL(qr_placement_init_cluster(&pl, &c), 0);
	CU_ASSERT_EQUAL(pl.members, 0x5u);
	for (uint32_t p = 0; p < pl.partitions; p++)
		CU_ASSERT_EQUAL(qr_placement_replica_index(&pl, p, 1), -1);
	qr_placement_fini(&pl);
	expect_error("[cluster]\nid = 1\nmembers = 0,1,3\n" NODES3,
		     "[cluster] members: '0,1,3': expected node ids 0..2");
	expect_error("[cluster]\nid = 1\nmembers = 0,x\n" NODES3,
		     "[cluster] members: '0,x': expected node ids");
	expect_error("[cluster]\nid = 1\nmembers = 0,1,1\n" NODES3,
		     "[cluster] members: node 1 given twice");
	expect_error("[cluster]\nid = 1\nmembers = 0 1\n" NODES3,
		     "[cluster] members: '0 1': expected ',' after 0");
	expect_error("[cluster]\nid = 1\nmembers = 0,1,\n" NODES3,
		     "[cluster] members: '0,1,': expected node ids");
	expect_error("[cluster]\nid = 1\nmembers = 0,1\n" NODES3,
		     "[cluster] members: 2 node(s), fewer than "
		     "replication_factor 3");
	unlink(path);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"valid_file_loads_every_field", valid_file_loads_every_field},
		{"defaults_apply_and_rf_caps_at_nodes",
		 defaults_apply_and_rf_caps_at_nodes},
		{"unreadable_file_names_errno", unreadable_file_names_errno},
		{"syntax_errors_name_the_line", syntax_errors_name_the_line},
		{"missing_and_unknown_sections", missing_and_unknown_sections},
		{"unknown_or_repeated_keys", unknown_or_repeated_keys},
		{"cluster_values_are_range_checked",
		 cluster_values_are_range_checked},
		{"node_values_are_checked", node_values_are_checked},
		{"metrics_endpoints", metrics_endpoints},
		{"sixty_four_nodes_load", sixty_four_nodes_load},
		{"parse_mac_is_strict", parse_mac_is_strict},
		{"zones_are_indexed_and_placed", zones_are_indexed_and_placed},
		{"members_name_initial_members", members_name_initial_members},
		{NULL, NULL},
	};
	return qr_unit_main("cluster", cases);
}
