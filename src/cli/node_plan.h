/* SPDX-License-Identifier: MIT */
/*
 * A membership plan kept between commands (Riak's `cluster plan` and
 * `cluster commit`; docs/operations.md, "Adding, removing and replacing
 * nodes"): `quorate node plan add|remove|replace ...` stages changes,
 * `quorate node plan` shows the members before and after and what each
 * node would hold, `quorate node commit` runs them as one change (one
 * decision, one stream, one hand-over: node_cmd.c), and `quorate node
 * plan clear` drops it. This file keeps the plan; node_cmd.c checks and
 * runs it.
 *
 * The plan lives on the operator's machine, in $QUORATE_PLAN or else
 * next to the cluster file (CLUSTER.plan), one JSON object written whole
 * (a unique temporary file renamed over it), so an interrupted write
 * leaves the old plan or the new one.
 *
 * Invariants:
 *  PL1. A plan records its base: the register's value (epoch, owners)
 *       when its first change was staged. More is staged only while the
 *       register holds that base; a commit runs only from it, resumes
 *       only the change it began (register at base + 1, pending = the
 *       plan's members), or finds it done (owners = the plan's members,
 *       then the running nodes are caught up); anything else (another
 *       operator's change) is refused, nothing sent.
 *  PL2. At most one replace per plan: its dead node is a member of the
 *       base, not of the plan's members, and the one node the change's
 *       steps do without (N1 of node_cmd.c).
 *  PL3. A plan is checked like a cluster file, when loaded and before it
 *       is saved: its cluster id is the file's, its members are slots of
 *       it, at least rf remain, every field parses whole.
 *  PL4. Staging (load, change, save), clearing and committing hold an
 *       exclusive lock (flock on PLAN.lock): two commands at once do not
 *       lose a staged change, and a commit drops only the plan it ran.
 */
#ifndef QR_CLI_NODE_PLAN_H
#define QR_CLI_NODE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/cluster.h"

struct qr_node_plan {
	uint64_t base_epoch;
	uint64_t base_owners;
	uint64_t to;	/* the members after the change */
	int dead;	/* a replaced dead member, or -1 (PL2) */
};

/* The plan file for cluster_file: $QUORATE_PLAN, or cluster_file".plan".
 * 0, or QR_EINVAL when it does not fit in n. */
int qr_node_plan_path(const char *cluster_file, char *buf, size_t n);

/* 0 and *p; QR_ENOTFOUND when there is no plan; QR_ECONFIG and a message
 * when the file is not a plan of this cluster (PL3). */
int qr_node_plan_load(const char *path, const struct qr_cluster *c,
		      struct qr_node_plan *p, char *msg, size_t n);

/* 0; QR_EINVAL and a message when p is not a valid plan of c (PL3); QR_EIO
 * and a message when it cannot be written (written whole or not at all). */
int qr_node_plan_save(const char *path, const struct qr_cluster *c,
		      const struct qr_node_plan *p, char *msg, size_t n);

/* 0 (removed, or there was none), or QR_EIO. */
int qr_node_plan_clear(const char *path);

/* PL4: an fd holding the exclusive lock of path's plan (close it to
 * release), or -1 (errno). */
int qr_node_plan_lock(const char *path);

/* "0,1,3" for a member mask (empty for none), truncated to n. */
void qr_cli_members_str(uint64_t m, char *buf, size_t n);
/* [0,1,3] for a member mask (a new reference). */
json_t *qr_cli_members_json(uint64_t m);

struct cli;
/* `quorate node plan` (argc 1: show the plan and what each node would
 * hold) and `quorate node plan clear` (argc 2); neither asks a node. An
 * exit status (cli.h). */
int qr_node_plan_cmd(struct cli *cl, int argc);

#endif
