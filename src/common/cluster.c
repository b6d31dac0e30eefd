/* SPDX-License-Identifier: MIT */
/*
 * The cluster file loader (contract: src/common/cluster.h).
 *
 * Steps, each of which may fail with QR_ECONFIG and a message of the form
 * "FILE: [section] key: what is wrong":
 *   1. a line scan of our own, so a syntax error names its line and a line
 *      too long is refused rather than split; it keeps every section and
 *      entry in a table (no DPDK: libquorate reads this file too, and a
 *      client must build without DPDK);
 *      than split;
 *   2. every section and key is checked against the known ones: an unknown
 *      section or key, or one given twice, is an error (a typo such as
 *      "replication_factr" must not fall back to a default silently);
 *   3. values are parsed strictly (decimal, whole string, in range);
 *   4. cross-checks: nodes 0..n-1 all present, rf <= nodes, distinct IPs,
 *      `members` (the initial members among the node slots: ids below n,
 *      none twice, at least rf of them; absent: every node)
 *      (and distinct data_dir / mgmt paths where given: two daemons sharing
 *      a WAL directory or a socket would corrupt each other).
 * The result is built in a private copy and written to *out only when all
 * of it is valid, so a caller's previous config survives a bad reload.
 */
#include "common/cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorate/err.h"
#include "quorate/limits.h" /* QR_PARTITIONS_MAX, QR_SHARDS_MAX, QR_RF_MAX */

#define CLUSTER_SECTION "cluster"
#define NODE_PREFIX	"node."
/* The syntax and limits are those of DPDK's rte_cfgfile, which read this
 * file before issue 16, so every file it took is still taken as it was. */
#define CFG_NAME_LEN	64  /* section and key names, NUL included */
#define CFG_VALUE_LEN	256 /* values, NUL included */
#define LINE_BYTES_MAX	(CFG_NAME_LEN + CFG_VALUE_LEN + 4)
#define SECTIONS_MAX	(QR_CLUSTER_NODES_MAX + 1)
#define ENTRIES_MAX	32 /* per section; more is an error (unknown keys) */

#define PARTITIONS_DEFAULT 4096
#define RF_DEFAULT	   3
#define SHARDS_DEFAULT	   1
#define BASE_PORT_DEFAULT  7400
#define GRACE_MS_DEFAULT   10000
#define GRACE_MS_MIN	   2000 /* above a request's life (deadline + RTO) */
#define HINTS_MAX_DEFAULT  4096
#define AE_RATE_DEFAULT	   100000 /* the core's own default */
#define METRICS_PORT_DEFAULT 9470 /* node i: 127.0.0.1:9470+i */

static const char *const cluster_keys[] = {
	"id",	       "partitions",	  "replication_factor",
	"shards",      "base_port",	  "tombstone_grace_ms",
	"hints_max",   "hint_delay_ms",	  "auth",
	"secret_file", "client_key_file", "metrics_port",
	"value_bytes_max", "peer_frame_bytes", "members",
	"anti_entropy_entries_per_s",
	NULL,
};
static const char *const node_keys[] = {
	"ip",	      "mac", "iface", "data_dir", "mgmt",
	"mgmt_group", "pci", "zone",  "metrics_listen", NULL,
};

struct ini_entry {
	char name[CFG_NAME_LEN];
	char value[CFG_VALUE_LEN];
};

/* One [section] header as it appeared (a name given twice is two of
 * them: step 2 refuses it), and its entries in file order. */
struct ini_section {
	char name[CFG_NAME_LEN];
	unsigned first, count; /* entries [first, first + count) */
};

struct loader {
	const char *path;
	char *err;
	size_t err_len;
	struct ini_section *sec; /* [nsec], grown while reading */
	unsigned nsec, sec_cap;
	struct ini_entry *ent; /* [nent] */
	unsigned nent, ent_cap;
};

__attribute__((format(printf, 2, 3))) static int fail(struct loader *l,
						      const char *fmt, ...)
{
	if (l->err && l->err_len) {
		int n = snprintf(l->err, l->err_len, "%s: ", l->path);
		if (n >= 0 && (size_t)n < l->err_len) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(l->err + n, l->err_len - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return QR_ECONFIG;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		     s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Grow an array to hold one more (doubling); false: out of memory. */
static bool grow(void **arr, unsigned *cap, unsigned n, size_t size)
{
	if (n < *cap)
		return true;
	unsigned ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static int add_section(struct loader *l, const char *name, size_t len)
{
	if (!grow((void **)&l->sec, &l->sec_cap, l->nsec, sizeof(*l->sec)))
		return fail(l, "out of memory");
	struct ini_section *s = &l->sec[l->nsec++];
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	s->first = l->nent;
	s->count = 0;
	return 0;
}

static int add_entry(struct loader *l, const char *name, const char *value)
{
	if (!grow((void **)&l->ent, &l->ent_cap, l->nent, sizeof(*l->ent)))
		return fail(l, "out of memory");
	struct ini_entry *e = &l->ent[l->nent++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->value, sizeof(e->value), "%s", value);
	l->sec[l->nsec - 1].count++;
	return 0;
}

/* The value of key in the first section of that name, or NULL. */
static const char *get_entry(const struct loader *l, const char *section,
			     const char *key)
{
	for (unsigned i = 0; i < l->nsec; i++) {
		if (strcmp(l->sec[i].name, section))
			continue;
		const struct ini_section *s = &l->sec[i];
		for (unsigned k = s->first; k < s->first + s->count; k++)
			if (!strcmp(l->ent[k].name, key))
				return l->ent[k].value;
		return NULL;
	}
	return NULL;
}

/* Step 1: the syntax, checked line by line so the message can name the
 * line: `[section]`, `key = value` (both trimmed), `;` starts a comment,
 * blank lines are skipped. Sections and entries go into the tables. */
static int scan_lines(struct loader *l)
{
	FILE *f = fopen(l->path, "r");
	if (!f)
		return fail(l, "cannot read: %s", strerror(errno));
	char line[LINE_BYTES_MAX + 2];
	unsigned lineno = 0;
	bool in_section = false;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(f)) {
			rc = fail(l, "line %u: longer than %d bytes", lineno,
				  LINE_BYTES_MAX);
			break;
		}
		char *semi = strchr(line, ';');
		if (semi)
			*semi = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			size_t n = strlen(s);
			if (s[n - 1] != ']' || n < 3) {
				rc = fail(l, "line %u: bad section header '%s'",
					  lineno, s);
				break;
			}
			if (n - 2 >= CFG_NAME_LEN) {
				rc = fail(l, "line %u: section name too long",
					  lineno);
				break;
			}
			if ((rc = add_section(l, s + 1, n - 2)))
				break;
			in_section = true;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = fail(l,
				  "line %u: expected 'key = value', got '%s'",
				  lineno, s);
			break;
		}
		if (!in_section) {
			rc = fail(l, "line %u: '%s' is outside any [section]",
				  lineno, s);
			break;
		}
		*eq = '\0';
		char *name = trim(s), *value = trim(eq + 1);
		if (!*name) {
			rc = fail(l, "line %u: entry without a key", lineno);
			break;
		}
		if (!*value) {
			rc = fail(l, "line %u: %s: empty value", lineno, name);
			break;
		}
		if (strlen(name) >= CFG_NAME_LEN ||
		    strlen(value) >= CFG_VALUE_LEN) {
			rc = fail(l, "line %u: %s: key or value too long",
				  lineno, name);
			break;
		}
		if ((rc = add_entry(l, name, value)))
			break;
	}
	if (!rc && ferror(f))
		rc = fail(l, "cannot read: %s", strerror(EIO));
	fclose(f);
	return rc;
}

/* Decimal, whole string, no sign, within [lo, hi]. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A numeric key of [cluster]: 0 (and *out), 1 if absent, QR_ECONFIG. */
static int get_num(struct loader *l, const char *key, uint64_t lo, uint64_t hi,
		   uint64_t *out)
{
	const char *v = get_entry(l, CLUSTER_SECTION, key);
	if (!v)
		return 1;
	if (parse_u64(v, lo, hi, out))
		return fail(l,
			    "[" CLUSTER_SECTION "] %s: '%s' is not an integer "
			    "in %llu..%llu",
			    key, v, (unsigned long long)lo,
			    (unsigned long long)hi);
	return 0;
}

static bool known(const char *const *keys, const char *name)
{
	for (; *keys; keys++)
		if (!strcmp(*keys, name))
			return true;
	return false;
}

/* Every key of the section is known and given once. */
static int check_keys(struct loader *l, int index, const char *section,
		      const char *const *keys)
{
	const struct ini_section *s = &l->sec[index];
	const struct ini_entry *e = l->ent ? &l->ent[s->first] : NULL;
	int n = (int)s->count;
	if (n > ENTRIES_MAX)
		return fail(l, "[%s]: %d keys, more than any valid section has",
			    section, n);
	for (int i = 0; i < n; i++) {
		if (!known(keys, e[i].name))
			return fail(l, "[%s] %s: unknown key", section,
				    e[i].name);
		for (int j = 0; j < i; j++)
			if (!strcmp(e[i].name, e[j].name))
				return fail(l, "[%s] %s: given twice", section,
					    e[i].name);
	}
	return 0;
}

/* "node.N" with N decimal, no leading zero: N, else -1. */
static int node_section_id(const char *name)
{
	size_t plen = strlen(NODE_PREFIX);
	if (strncmp(name, NODE_PREFIX, plen))
		return -1;
	const char *d = name + plen;
	if (!*d || (d[0] == '0' && d[1]))
		return -1;
	uint64_t v;
	if (parse_u64(d, 0, QR_CLUSTER_NODES_MAX - 1, &v))
		return -2; /* looks like a node, id out of range */
	return (int)v;
}

static int copy_str(struct loader *l, const char *section, const char *key,
		    char *dst, size_t cap)
{
	const char *v = get_entry(l, section, key);
	if (!v) {
		dst[0] = '\0';
		return 0;
	}
	size_t n = strlen(v);
	if (n >= cap)
		return fail(l, "[%s] %s: longer than %zu bytes", section, key,
			    cap - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

static int load_node(struct loader *l, const char *section,
		     struct qr_cluster_node *nd)
{
	const char *ip = get_entry(l, section, "ip");
	if (!ip)
		return fail(l, "[%s] ip: missing (required)", section);
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return fail(l, "[%s] ip: '%s' is not an IPv4 address", section,
			    ip);
	if (a.s_addr == 0 || a.s_addr == 0xffffffffu)
		return fail(l, "[%s] ip: '%s' is not a unicast address",
			    section, ip);
	nd->ip = a.s_addr;
	const char *mac = get_entry(l, section, "mac");
	if (mac) {
		if (qr_parse_mac(mac, nd->mac))
			return fail(l,
				    "[%s] mac: '%s' is not a MAC address "
				    "(aa:bb:cc:dd:ee:ff)",
				    section, mac);
		nd->has_mac = true;
	}
	int rc = copy_str(l, section, "iface", nd->iface, sizeof(nd->iface));
	if (!rc)
		rc = copy_str(l, section, "data_dir", nd->data_dir,
			      sizeof(nd->data_dir));
	if (!rc)
		rc = copy_str(l, section, "mgmt", nd->mgmt, sizeof(nd->mgmt));
	if (!rc)
		rc = copy_str(l, section, "mgmt_group", nd->mgmt_group,
			      sizeof(nd->mgmt_group));
	if (rc == 0)
		rc = copy_str(l, section, "pci", nd->pci, sizeof(nd->pci));
	if (rc == 0)
		rc = copy_str(l, section, "zone", nd->zone, sizeof(nd->zone));
	return rc;
}

/* [node.N] metrics_listen = ADDR:PORT | off; absent: loopback at the
 * cluster's metrics_port + N (0 there: off). */
static int load_metrics(struct loader *l, const char *section,
			const struct qr_cluster *c, struct qr_cluster_node *nd)
{
	const char *v = get_entry(l, section, "metrics_listen");
	nd->metrics_ip = htonl(0x7f000001); /* 127.0.0.1 */
	nd->metrics_port = 0;
	if (!v) {
		if (c->metrics_port)
			nd->metrics_port = (uint16_t)(c->metrics_port + nd->id);
		return 0;
	}
	if (!strcmp(v, "off"))
		return 0;
	if (qr_parse_listen(v, &nd->metrics_ip, &nd->metrics_port))
		return fail(l,
			    "[%s] metrics_listen: '%s' is not IPV4:PORT "
			    "(port 1..65535) or off",
			    section, v);
	return 0;
}

int qr_parse_listen(const char *s, uint32_t *ip, uint16_t *port)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return QR_EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	struct in_addr a;
	uint64_t p;
	if (inet_pton(AF_INET, host, &a) != 1 ||
	    parse_u64(colon + 1, 1, 65535, &p))
		return QR_EINVAL;
	*ip = a.s_addr;
	*port = (uint16_t)p;
	return 0;
}

/* Zone indexes by first appearance in node order (node 0's zone is 0); a
 * node without `zone` is in the zone named "" (so a file without zones is
 * one zone, as before zones existed). */
static void assign_zones(struct qr_cluster *c)
{
	c->zones = 0;
	for (int i = 0; i < c->nodes; i++) {
		int z = 0;
		while (z < c->zones &&
		       strcmp(c->node[c->zone_first[z]].zone, c->node[i].zone))
			z++;
		if (z == c->zones)
			c->zone_first[c->zones++] = (uint8_t)i;
		c->node[i].zone_idx = (uint8_t)z;
	}
}

/* Step 3: the sections ([cluster], [node.0..n-1], nothing else, none
 * twice) and their keys; sets c->nodes. */
static int load_sections(struct loader *l, struct qr_cluster *c)
{
	int nsec = (int)l->nsec;
	if (nsec > SECTIONS_MAX)
		return fail(l,
			    "%d sections: at most one [cluster] and %d nodes",
			    nsec, QR_CLUSTER_NODES_MAX);
	int node_index[QR_CLUSTER_NODES_MAX];
	int cluster_index = -1, max_id = -1;
	for (int i = 0; i < QR_CLUSTER_NODES_MAX; i++)
		node_index[i] = -1;
	for (int i = 0; i < nsec; i++) {
		const char *name = l->sec[i].name;
		int id = node_section_id(name);
		int *slot;
		if (!strcmp(name, CLUSTER_SECTION))
			slot = &cluster_index;
		else if (id >= 0)
			slot = &node_index[id];
		else if (id == -2)
			return fail(l, "[%s]: node ids are 0..%d", name,
				    QR_CLUSTER_NODES_MAX - 1);
		else
			return fail(l,
				    "[%s]: unknown section (expected [cluster] "
				    "or [node.N])",
				    name);
		if (*slot >= 0)
			return fail(l, "[%s]: given twice", name);
		*slot = i;
		int rc = check_keys(l, i, name,
				    id >= 0 ? node_keys : cluster_keys);
		if (rc)
			return rc;
		if (id > max_id)
			max_id = id;
	}
	if (cluster_index < 0)
		return fail(l, "[" CLUSTER_SECTION "]: missing");
	if (max_id < 0)
		return fail(l, "[node.0]: missing (no [node.N] section)");
	for (int i = 0; i <= max_id; i++)
		if (node_index[i] < 0)
			return fail(l,
				    "[node.%d]: missing (node ids must be "
				    "0..%d with no gap)",
				    i, max_id);
	c->nodes = (uint16_t)(max_id + 1);

	return 0;
}

/* A [cluster] file name, resolved against the cluster file's directory
 * (out: 256 bytes; empty if not set). */
static int file_path(struct loader *l, const char *key, char out[256])
{
	char f[256];
	int rc = copy_str(l, CLUSTER_SECTION, key, f, sizeof(f));
	if (rc)
		return rc;
	if (!f[0] || f[0] == '/') {
		memcpy(out, f, sizeof(f));
		return 0;
	}
	const char *slash = strrchr(l->path, '/');
	int dir_len = slash ? (int)(slash - l->path) : 1;
	int n = snprintf(out, 256, "%.*s/%s", dir_len, slash ? l->path : ".",
			 f);
	if (n < 0 || n >= 256)
		return fail(l,
			    "[" CLUSTER_SECTION "] %s: path longer than 255 "
			    "bytes",
			    key);
	return 0;
}

/* auth = mac | none, and where the secret is (read by quorated only:
 * clients need not be able to read it). */
static int load_auth(struct loader *l, struct qr_cluster *c)
{
	const char *a = get_entry(l, CLUSTER_SECTION, "auth");
	if (!a || !strcmp(a, "mac"))
		c->auth = 0;
	else if (!strcmp(a, "none"))
		c->auth = 1;
	else
		return fail(l,
			    "[" CLUSTER_SECTION "] auth: '%s' is not mac or "
			    "none",
			    a);
	int rc = file_path(l, "secret_file", c->secret_file);
	if (!rc)
		rc = file_path(l, "client_key_file", c->client_key_file);
	return rc;
}

/* Step 4: the [cluster] keys, each strict and in range. */
static int load_cluster_keys(struct loader *l, struct qr_cluster *c)
{
	uint64_t v;
	int rc = get_num(l, "id", 0, UINT32_MAX, &v);
	if (rc == 1)
		return fail(l, "[" CLUSTER_SECTION "] id: missing (required)");
	if (rc)
		return rc;
	c->id = (uint32_t)v;

	v = PARTITIONS_DEFAULT;
	if ((rc = get_num(l, "partitions", 1, QR_PARTITIONS_MAX, &v)) < 0)
		return rc;
	if (v & (v - 1))
		return fail(l,
			    "[" CLUSTER_SECTION "] partitions: %llu is not a "
			    "power of two",
			    (unsigned long long)v);
	c->partitions = (uint32_t)v;

	v = SHARDS_DEFAULT;
	if ((rc = get_num(l, "shards", 1, QR_SHARDS_MAX, &v)) < 0)
		return rc;
	c->shards = (uint16_t)v;

	v = BASE_PORT_DEFAULT;
	if ((rc = get_num(l, "base_port", 1, 65535 - c->shards, &v)) < 0)
		return rc;
	c->base_port = (uint16_t)v;

	v = GRACE_MS_DEFAULT;
	if ((rc = get_num(l, "tombstone_grace_ms", 0, 86400000, &v)) < 0)
		return rc;
	if (v && v < GRACE_MS_MIN)
		return fail(l,
			    "[" CLUSTER_SECTION "] tombstone_grace_ms: %llu is "
			    "below %d (a write's whole life must fit in it); "
			    "0 turns collection off",
			    (unsigned long long)v, GRACE_MS_MIN);
	c->tombstone_grace_ms = (uint32_t)v;

	v = HINTS_MAX_DEFAULT;
	if ((rc = get_num(l, "hints_max", 16, 1u << 20, &v)) < 0)
		return rc;
	c->hints_max = (uint32_t)v;

	v = 0;
	if ((rc = get_num(l, "hint_delay_ms", 0, 60000, &v)) < 0)
		return rc;
	c->hint_delay_ms = (uint32_t)v;

	/* Anti-entropy's per-peer budget (core anti_entropy.c A3), which
	 * also throttles a membership change's stream: what one peer may
	 * make this node scan and push a second (issue 14). */
	v = AE_RATE_DEFAULT;
	if ((rc = get_num(l, "anti_entropy_entries_per_s", 100, 10000000,
			  &v)) < 0)
		return rc;
	c->ae_entries_per_s = (uint32_t)v;

	/* Values over one frame travel as fragments (issue 15): the limit
	 * is the cluster's, so every node and client agrees on it. */
	v = QR_VALUE_BYTES_DEFAULT;
	if ((rc = get_num(l, "value_bytes_max", QR_VALUE_INLINE_MAX + 1,
			  QR_VALUE_BYTES_MAX, &v)) < 0)
		return rc;
	c->value_bytes_max = (uint32_t)v;

	/* Frames between nodes (jumbo where every port's MTU allows it):
	 * cluster-wide, since a receiver refuses a longer frame. */
	v = QR_FRAME_BYTES_MAX;
	if ((rc = get_num(l, "peer_frame_bytes", QR_FRAME_BYTES_MAX,
			  QR_FRAME_JUMBO_MAX, &v)) < 0)
		return rc;
	c->peer_frame_bytes = (uint16_t)v;

	if ((rc = load_auth(l, c)))
		return rc;

	v = METRICS_PORT_DEFAULT;
	if ((rc = get_num(l, "metrics_port", 0, 65535 - QR_CLUSTER_NODES_MAX,
			  &v)) < 0)
		return rc;
	c->metrics_port = (uint16_t)v;

	uint64_t rf_max = c->nodes < QR_RF_MAX ? c->nodes : QR_RF_MAX;
	v = RF_DEFAULT < rf_max ? RF_DEFAULT : rf_max;
	if ((rc = get_num(l, "replication_factor", 1, rf_max, &v)) < 0)
		return rc;
	c->rf = (uint16_t)v;

	return 0;
}

/* Steps 4 and 5 for [node.N]: its keys, and distinct IPs, data_dir and
 * mgmt paths across nodes. */
static int load_nodes(struct loader *l, struct qr_cluster *c)
{
	int rc;
	for (int i = 0; i < c->nodes; i++) {
		char section[CFG_NAME_LEN];
		snprintf(section, sizeof(section), NODE_PREFIX "%d", i);
		struct qr_cluster_node *nd = &c->node[i];
		nd->id = (uint16_t)i;
		if ((rc = load_node(l, section, nd)) ||
		    (rc = load_metrics(l, section, c, nd)))
			return rc;
		for (int j = 0; j < i; j++) {
			const struct qr_cluster_node *o = &c->node[j];
			if (o->ip == nd->ip)
				return fail(l,
					    "[%s] ip: %s is also [node.%d]'s",
					    section,
					    get_entry(l, section, "ip"), j);
			if (nd->data_dir[0] &&
			    !strcmp(o->data_dir, nd->data_dir))
				return fail(l,
					    "[%s] data_dir: '%s' is also "
					    "[node.%d]'s",
					    section, nd->data_dir, j);
			if (nd->mgmt[0] && !strcmp(o->mgmt, nd->mgmt))
				return fail(l,
					    "[%s] mgmt: '%s' is also "
					    "[node.%d]'s",
					    section, nd->mgmt, j);
		}
	}
	assign_zones(c);
	return 0;
}

/* [cluster] members = 0,1,2: the initial members among the node slots
 * (issue 14; docs/topology.md). Absent: every node, as before it existed.
 * Each id once, below the node count; at least rf of them. */
static int load_members(struct loader *l, struct qr_cluster *c)
{
	const char *s = get_entry(l, CLUSTER_SECTION, "members");
	c->members = c->nodes == 64 ? ~0ull : (1ull << c->nodes) - 1;
	if (!s)
		return 0;
	uint64_t m = 0;
	const char *p = s;
	for (;;) {
		while (*p == ' ')
			p++;
		char *end;
		errno = 0;
		unsigned long id = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10)
							  : ULONG_MAX;
		if (id == ULONG_MAX || errno || id >= c->nodes)
			return fail(l,
				    "[" CLUSTER_SECTION "] members: '%s': "
				    "expected node ids 0..%u separated by "
				    "commas",
				    s, c->nodes - 1u);
		if (m >> id & 1)
			return fail(l,
				    "[" CLUSTER_SECTION "] members: node %lu "
				    "given twice",
				    id);
		m |= 1ull << id;
		for (p = end; *p == ' '; p++)
			;
		if (!*p)
			break;
		if (*p++ != ',')
			return fail(l,
				    "[" CLUSTER_SECTION "] members: '%s': "
				    "expected ',' after %lu",
				    s, id);
	}
	if (__builtin_popcountll(m) < c->rf)
		return fail(l,
			    "[" CLUSTER_SECTION "] members: %d node(s), fewer "
			    "than replication_factor %u",
			    __builtin_popcountll(m), c->rf);
	c->members = m;
	return 0;
}

static int load(struct loader *l, struct qr_cluster *c)
{
	if (strlen(l->path) >= sizeof(c->path))
		return fail(l, "path longer than %zu bytes",
			    sizeof(c->path) - 1);
	snprintf(c->path, sizeof(c->path), "%s", l->path);
	int rc = load_sections(l, c);
	if (!rc)
		rc = load_cluster_keys(l, c);
	if (!rc)
		rc = load_members(l, c);
	if (!rc)
		rc = load_nodes(l, c);
	return rc;
}

int qr_cluster_load(const char *path, struct qr_cluster *out, char *err,
		    size_t err_len)
{
	struct loader l = {
		.path = path ? path : "(null)",
		.err = err,
		.err_len = err_len,
	};
	if (err && err_len)
		err[0] = '\0';
	if (!path || !out)
		return fail(&l, "no file or no output given");
	int rc = scan_lines(&l);
	struct qr_cluster *c = rc ? NULL : calloc(1, sizeof(*c));
	if (!rc && !c)
		rc = fail(&l, "out of memory");
	if (!rc)
		rc = load(&l, c);
	if (!rc)
		memcpy(out, c, sizeof(*c));
	free(c);
	free(l.sec);
	free(l.ent);
	return rc;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int qr_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	if (!s)
		return QR_EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
		if (hi < 0 || lo < 0)
			return QR_EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return QR_EINVAL;
	}
	if (*s)
		return QR_EINVAL;
	memcpy(mac, m, 6);
	return 0;
}
