/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's command line: defaults, --help (the complete reference of
 * the options; docs/http.md explains them) and checks.
 *
 * Invariant: every option is checked against its range and a bad one is
 * refused with a message naming it (exit 2), never clamped or ignored.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw/gw.h"
#include "qr_config.h"

static const char usage[] =
	"usage: quorate-gw [options]\n"
	"An HTTP/1.1 gateway to a quorate cluster (docs/http.md).\n"
	"\n"
	"  -c, --cluster FILE       cluster file (default $QUORATE_CLUSTER)\n"
	"  -l, --listen ADDR[:PORT] IPv4 address (and port) to listen on\n"
	"                           (0.0.0.0)\n"
	"  -p, --port N             TCP port (8080; 0: any, printed)\n"
	"  -t, --loops N            event-loop threads, one client handle "
	"each\n"
	"                           (1; they share the port by SO_REUSEPORT)\n"
	"      --connections N      open connections per loop (1024)\n"
	"      --idle-timeout-s N   close a connection idle this long (30)\n"
	"      --header-bytes N     memory per connection for the request "
	"line\n"
	"                           and headers (16384): larger ones get 431\n"
	"      --max-inflight N     requests in flight per loop (1024); more\n"
	"                           get 429 with Retry-After\n"
	"  -d, --deadline-ms N      default request deadline (1000); a "
	"request\n"
	"                           may set its own with X-Deadline-Ms\n"
	"      --retries N          resends within the deadline (3)\n"
	"      --coordinator C      first | random (first: writes dedupe on\n"
	"                           one coordinator per key)\n"
	"      --no-batch           one datagram per request (default: packs\n"
	"                           requests bound for one node per turn)\n"
	"      --key-file FILE      client key (default: as libquorate finds\n"
	"                           it: $QUORATE_KEY_FILE, the cluster file)\n"
	"      --client-id N        which client key line\n"
	"      --http-keys FILE     authenticate HTTP clients: /v1/kv needs\n"
	"                           'Authorization: Bearer ID.KEYHEX', a line\n"
	"                           of FILE (client-key format, mode 0600);\n"
	"                           default: none (the network is trusted)\n"
	"      --zone NAME          the gateway's zone: LOCAL_ONE / "
	"LOCAL_QUORUM\n"
	"                           count replicas there, requests go there\n"
	"                           first (default $QUORATE_ZONE, else none)\n"
	"      --value-bytes-max N  longest value (default: the cluster file's\n"
	"                           value_bytes_max, 1048576 unless set; at\n"
	"                           most 8388608): a longer body gets 413\n"
	"      --large-bodies N     per loop, buffers of value-bytes-max for\n"
	"                           values over 1024 bytes (16): when all are\n"
	"                           in use, such a request gets 429\n"
	"      --status-interval-ms N  how often the replication view asks\n"
	"                           the nodes' management sockets (1000)\n"
	"  -q, --quiet              no log lines\n"
	"  -h, --help               this text\n"
	"  -V, --version            the version\n"
	"\n"
	"Endpoints: /v1/kv/{key} (GET HEAD PUT POST DELETE), /status (HTML),\n"
	"/v1/status/replication (JSON), /metrics (Prometheus), /ready.\n";

void gw_options_default(struct gw_options *o)
{
	*o = (struct gw_options){
		.cluster_file = getenv("QUORATE_CLUSTER"),
		.listen_addr = "0.0.0.0",
		.port = 8080,
		.loops = 1,
		.connections = 1024,
		.conn_timeout_s = 30,
		.conn_memory = 16384,
		.max_inflight = 1024,
		.deadline_ms = QR_CLIENT_DEADLINE_MS_DEFAULT,
		.retries = QR_CLIENT_RETRIES_DEFAULT,
		.coordinator = QR_COORD_FIRST,
		.batch = true,
		.status_interval_ms = 1000,
		.value_bytes_max = 0, /* main: the cluster file's */
		.large_bodies = 16,
	};
}

static int num_opt(const char *name, const char *s, unsigned long min,
		   unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "quorate-gw: --%s %s: want %lu..%lu\n", name, s,
			min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static const struct option longopts[] = {
	{"cluster", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"port", required_argument, NULL, 'p'},
	{"loops", required_argument, NULL, 't'},
	{"connections", required_argument, NULL, 1},
	{"idle-timeout-s", required_argument, NULL, 2},
	{"header-bytes", required_argument, NULL, 3},
	{"max-inflight", required_argument, NULL, 4},
	{"deadline-ms", required_argument, NULL, 'd'},
	{"retries", required_argument, NULL, 5},
	{"coordinator", required_argument, NULL, 6},
	{"no-batch", no_argument, NULL, 7},
	{"key-file", required_argument, NULL, 8},
	{"client-id", required_argument, NULL, 9},
	{"status-interval-ms", required_argument, NULL, 10},
	{"zone", required_argument, NULL, 11},
	{"http-keys", required_argument, NULL, 12},
	{"value-bytes-max", required_argument, NULL, 13},
	{"large-bodies", required_argument, NULL, 14},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* --listen ADDR or ADDR:PORT (the systemd unit's form). */
static int listen_opt(const char *arg, struct gw_options *o)
{
	static char addr[64];
	const char *colon = strchr(arg, ':');
	unsigned long v;
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
	if (n == 0 || n >= sizeof(addr)) {
		fprintf(stderr, "quorate-gw: --listen %s: want ADDR[:PORT]\n",
			arg);
		return -1;
	}
	memcpy(addr, arg, n);
	addr[n] = '\0';
	o->listen_addr = addr;
	if (colon && num_opt("listen PORT", colon + 1, 0, 65535, &v))
		return -1;
	if (colon)
		o->port = (uint16_t)v;
	return 0;
}

/* The numeric options: which field, its range (every one is checked). */
#define NUM(ch, name, min, max, field)                                         \
	{                                                                      \
		ch, name, min, max, offsetof(struct gw_options, field),        \
			sizeof(((struct gw_options *)0)->field)                \
	}
static const struct num_spec {
	int ch;
	const char *name;
	unsigned long min, max;
	size_t off, size; /* the field: 2 or 4 bytes */
} num_specs[] = {
	NUM('p', "port", 0, 65535, port),
	NUM('t', "loops", 1, GW_LOOPS_MAX, loops),
	NUM(1, "connections", 1, 65536, connections),
	NUM(2, "idle-timeout-s", 1, 3600, conn_timeout_s),
	NUM(3, "header-bytes", 4096, 1 << 20, conn_memory),
	NUM(4, "max-inflight", 1, 65536, max_inflight),
	NUM('d', "deadline-ms", 1, GW_DEADLINE_MS_MAX, deadline_ms),
	NUM(5, "retries", 0, 100, retries),
	NUM(9, "client-id", 1, 65535, client_id),
	NUM(10, "status-interval-ms", 50, 600000, status_interval_ms),
	NUM(13, "value-bytes-max", QR_VALUE_INLINE_MAX, QR_VALUE_BYTES_MAX,
	    value_bytes_max),
	NUM(14, "large-bodies", 1, 4096, large_bodies),
};

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "fields are 2 or 4 B");

/* A numeric option: 0 or -1 (refused); 1 if ch is not one. */
static int numeric_opt(int ch, const char *arg, struct gw_options *o)
{
	for (size_t i = 0; i < sizeof(num_specs) / sizeof(num_specs[0]); i++) {
		const struct num_spec *n = &num_specs[i];
		unsigned long v;
		if (n->ch != ch)
			continue;
		if (num_opt(n->name, arg, n->min, n->max, &v))
			return -1;
		char *field = (char *)o + n->off;
		if (n->size == sizeof(uint16_t))
			*(uint16_t *)(void *)field = (uint16_t)v;
		else
			*(uint32_t *)(void *)field = (uint32_t)v;
		return 0;
	}
	return 1;
}

/* One option: 0, -1 (refused, reported), or 1 (help/version: exit 0). */
static int one_opt(int ch, const char *arg, struct gw_options *o)
{
	int rc = numeric_opt(ch, arg, o);
	if (rc <= 0)
		return rc;
	switch (ch) {
	case 'c':
		o->cluster_file = arg;
		return 0;
	case 'l':
		return listen_opt(arg, o);
	case 6:
		if (!strcasecmp(arg, "first"))
			o->coordinator = QR_COORD_FIRST;
		else if (!strcasecmp(arg, "random"))
			o->coordinator = QR_COORD_RANDOM;
		else {
			fprintf(stderr,
				"quorate-gw: --coordinator: first | random\n");
			return -1;
		}
		return 0;
	case 7:
		o->batch = false;
		return 0;
	case 8:
		o->key_file = arg;
		return 0;
	case 11:
		o->zone = arg;
		return 0;
	case 12:
		o->http_keys_file = arg;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'h':
		fputs(usage, stdout);
		return 1;
	case 'V':
		printf("quorate-gw %s\n", QR_VERSION);
		return 1;
	default:
		fputs(usage, stderr);
		return -1;
	}
}

int gw_options_parse(int argc, char **argv, struct gw_options *o)
{
	int ch;
	gw_options_default(o);
	while ((ch = getopt_long(argc, argv, "c:l:p:t:d:qhV", longopts,
				 NULL)) != -1) {
		int rc = one_opt(ch, optarg, o);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "quorate-gw: unexpected argument '%s'\n%s",
			argv[optind], usage);
		return -1;
	}
	if (!o->cluster_file) {
		fprintf(stderr, "quorate-gw: no cluster file: --cluster FILE "
				"or $QUORATE_CLUSTER\n");
		return -1;
	}
	if (o->loops > 1 && o->port == 0) {
		fprintf(stderr, "quorate-gw: --port 0 needs --loops 1\n");
		return -1;
	}
	return 0;
}
