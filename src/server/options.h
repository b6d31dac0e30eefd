/* SPDX-License-Identifier: MIT */
/*
 * quorated's command line: every option, its default and its check, and
 * the --help text (which is complete: docs/operations.md points to it).
 * A bad value is a message naming the option and exit status 1.
 */
#ifndef QR_SERVER_OPTIONS_H
#define QR_SERVER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wal/wal.h"

struct options {
	const char *config, *profile, *run_dir, *data_dir;
	int node;
	enum qr_wal_mode wal_mode;
	uint32_t keys_max;
	uint64_t store_bytes_max; /* per shard; 0: keys_max only */
	uint64_t snapshot_every;
	bool truncate_corrupt;
	bool init; /* a new node: an empty data directory is bound */
	bool rebuild; /* the node lost its data: bound like --init, and it
		       * rejoins as a rebuilding replica (core recover.c RB1) */
	int64_t clock_offset_ms; /* --clock-offset-ms: a test hook (shard.c) */
	bool clock_offset_set;	 /* given: the mgmt command may change it */
	int cpu_first, cpu_last; /* --cpus A-B: shard i on CPU A + i (each its
				  * own core); -1: lcores float over all */
	const char *metrics_listen; /* NULL: the cluster file's */
};

/* 0, or 1 (usage or a message printed). --help prints and exits 0. */
int qr_options_parse(int argc, char **argv, struct options *o);

/*
 * The profile file to load: `name` itself if it exists or has a '/';
 * else QR_DRIVERS_CONF_DIR/name (".ini" added if missing) when that
 * exists, so an installed quorated takes `--profile af_packet`.
 */
const char *qr_options_profile_path(const char *name, char *buf, size_t cap);

#endif
