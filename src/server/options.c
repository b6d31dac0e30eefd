/* SPDX-License-Identifier: MIT */
/* quorated's command line: see options.h. */
#include "server/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/compiler.h"
#include "qr_config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: quorated --config CLUSTER.ini --node ID "
		"--profile drivers-conf/X.ini\n"
		"                [--run-dir DIR] [--data-dir DIR] "
		"[--wal-mode fsync|async|none]\n"
		"                [--keys-max N] [--store-bytes-max BYTES]\n"
		"                [--snapshot-every RECORDS] "
		"[--truncate-corrupt] [--init] [--rebuild]\n"
		"                [--cpus A-B]\n"
		"                [--metrics-listen IPV4:PORT|off]\n"
		"  --config FILE        the cluster file (docs/operations.md)\n"
		"  --node ID            this node's id in it\n"
		"  --profile FILE       DPDK profile (drivers-conf/*.ini; a "
		"bare name is looked up\n"
		"                       in " QR_DRIVERS_CONF_DIR ")\n"
		"  --run-dir DIR        {run} in the profile's [eal] args "
		"(DPDK runtime files)\n"
		"  --data-dir DIR       WAL directory (default: the node's "
		"data_dir)\n"
		"  --wal-mode M         fsync (default), async or none\n"
		"  --keys-max N         store slots per shard (default "
		"1048576)\n"
		"  --store-bytes-max B  key+value bytes per shard (0: no "
		"limit)\n"
		"  --snapshot-every N   WAL records between snapshots "
		"(default 1000000; 0: off)\n"
		"  --truncate-corrupt   recovery: cut the log at mid-log "
		"corruption\n"
		"  --cpus A-B           pin shard i to CPU A+i (B-A+1 >= "
		"shards; default: the\n"
		"                       shards float over every CPU)\n"
		"  --init               a new node: its data directory may be "
		"empty (without it\n"
		"                       an empty data directory is refused: "
		"a wiped disk)\n"
		"  --rebuild            the node lost its data (a replaced "
		"disk): as --init, and\n"
		"                       it answers no read or CAS vote until "
		"its peers refilled it\n"
		"                       (docs/operations.md)\n"
		"  --metrics-listen A   HTTP /metrics and /ready (default: "
		"the node's metrics_listen,\n"
		"                       else 127.0.0.1:(metrics_port + "
		"id), 9470 + id)\n"
		"exit status: 0 stopped cleanly, 1 usage, 2 configuration, "
		"3 DPDK port, 4 WAL recovery\n");
}

static int parse_wal_mode(const char *arg, enum qr_wal_mode *mode)
{
	if (!strcmp(arg, "fsync"))
		*mode = QR_WAL_MODE_FSYNC;
	else if (!strcmp(arg, "async"))
		*mode = QR_WAL_MODE_ASYNC;
	else if (!strcmp(arg, "none"))
		*mode = QR_WAL_MODE_NONE;
	else {
		fprintf(stderr, "quorated: --wal-mode: "
				"expected fsync, async or none\n");
		return 1;
	}
	return 0;
}

/* The options that take a number: 0, or 1 with a message. */
static int parse_number(int c, const char *arg, struct options *o)
{
	char *end;
	switch (c) {
	case 'n':
		o->node = (int)strtol(arg, &end, 10);
		if (*end || o->node < 0) {
			fprintf(stderr,
				"quorated: --node: '%s' is not a "
				"node id\n",
				arg);
			return 1;
		}
		return 0;
	case 'k':
		o->keys_max = (uint32_t)strtoul(arg, &end, 10);
		if (*end || o->keys_max < 16) {
			fprintf(stderr, "quorated: --keys-max: at least 16\n");
			return 1;
		}
		return 0;
	case 'b':
		o->store_bytes_max = strtoull(arg, &end, 10);
		if (*end || arg[0] == '-' ||
		    (o->store_bytes_max && o->store_bytes_max < 4096)) {
			fprintf(stderr, "quorated: --store-bytes-max: 0 (no "
					"limit) or at least 4096\n");
			return 1;
		}
		return 0;
	case 's':
		o->snapshot_every = strtoull(arg, &end, 10);
		if (*end) {
			fprintf(stderr, "quorated: --snapshot-every: "
					"a number of records\n");
			return 1;
		}
		return 0;
	}
	QR_ASSERT(!"parse_number: not a numeric option");
	return 1;
}

/* One getopt result: 0, or 1 (usage printed or a message). */
static int parse_opt(int c, const char *arg, struct options *o)
{
	switch (c) {
	case 'c':
		o->config = arg;
		return 0;
	case 'p':
		o->profile = arg;
		return 0;
	case 'r':
		o->run_dir = arg;
		return 0;
	case 'd':
		o->data_dir = arg;
		return 0;
	case 'w':
		return parse_wal_mode(arg, &o->wal_mode);
	case 'n':
	case 'k':
	case 'b':
	case 's':
		return parse_number(c, arg, o);
	case 't':
		o->truncate_corrupt = true;
		return 0;
	case 'i':
		o->init = true;
		return 0;
	case 'R':
		o->rebuild = true;
		return 0;
	case 'O': {
		char *end;
		long long ms = strtoll(arg, &end, 10);
		if (*end || !*arg || ms < -86400000LL || ms > 86400000LL) {
			fprintf(stderr, "quorated: --clock-offset-ms: '%s' is "
					"not a number of ms within a day\n",
				arg);
			return 1;
		}
		o->clock_offset_ms = ms;
		o->clock_offset_set = true;
		return 0;
	}
	case 'm':
		o->metrics_listen = arg;
		return 0;
	case 'u': {
		char *end;
		long a = strtol(arg, &end, 10), b = a;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (*end || a < 0 || b < a || b > 4095) {
			fprintf(stderr, "quorated: --cpus: '%s' is not a CPU "
					"range A-B\n", arg);
			return 1;
		}
		o->cpu_first = (int)a;
		o->cpu_last = (int)b;
		return 0;
	}
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return 1;
	}
}

int qr_options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"node", required_argument, NULL, 'n'},
		{"profile", required_argument, NULL, 'p'},
		{"run-dir", required_argument, NULL, 'r'},
		{"data-dir", required_argument, NULL, 'd'},
		{"wal-mode", required_argument, NULL, 'w'},
		{"keys-max", required_argument, NULL, 'k'},
		{"store-bytes-max", required_argument, NULL, 'b'},
		{"snapshot-every", required_argument, NULL, 's'},
		{"truncate-corrupt", no_argument, NULL, 't'},
		{"init", no_argument, NULL, 'i'},
		{"rebuild", no_argument, NULL, 'R'},
		/* A test hook, not in --help: tests/cluster/nemesis skews a
		 * node's clock (shard.c env_wall_ms). */
		{"clock-offset-ms", required_argument, NULL, 'O'},
		{"metrics-listen", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->node = -1;
	o->keys_max = 1u << 20;
	o->snapshot_every = 1000000;
	o->cpu_first = o->cpu_last = -1;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (parse_opt(c, optarg, o))
			return 1;
	if (optind != argc || !o->config || !o->profile || o->node < 0) {
		usage(stderr);
		return 1;
	}
	return 0;
}

const char *qr_options_profile_path(const char *name, char *buf, size_t cap)
{
	if (strchr(name, '/') || access(name, F_OK) == 0)
		return name;
	size_t n = strlen(name);
	bool ext = n > 4 && strcmp(name + n - 4, ".ini") == 0;
	int w = snprintf(buf, cap, "%s/%s%s", QR_DRIVERS_CONF_DIR, name,
			 ext ? "" : ".ini");
	if (w < 0 || (size_t)w >= cap || access(buf, F_OK) != 0)
		return name; /* the loader names the missing file */
	return buf;
}
