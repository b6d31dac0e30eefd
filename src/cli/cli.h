/* SPDX-License-Identifier: MIT */
/*
 * What the quorate CLI's files share (quorate.c: options, put/get/del;
 * mgmt_cmd.c: stat, repair, ready over the management socket): the exit
 * statuses (a stable table: `quorate --help`, docs/client.md), the parsed
 * options, and the error reporter that keeps --json's one-object contract.
 */
#ifndef QR_CLI_CLI_H
#define QR_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorate/client.h"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_CONFIG = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_UNAVAILABLE = 4,
	EXIT_TIMEOUT = 5,
	EXIT_PRECONDITION = 6,
	EXIT_TOO_LARGE = 7,
	EXIT_STALE = 8,
	EXIT_OTHER = 9,
};

struct cli {
	const char *cluster;
	const char *key_file; /* --key-file; NULL: libquorate's default */
	struct qr_req_opts ro;
	bool consistency_set;
	char consistency_rw; /* 'r' or 'w' with QR_CONSISTENCY_RW */
	uint32_t retries;
	bool retries_set;
	enum qr_client_coordinator coordinator;
	long node;	 /* stat --node, -1: all */
	uint32_t wait_s; /* ready --wait: poll this long (0: ask once) */
	const char *zone; /* node add / replace --zone */
	bool help;	 /* --help: the command's help, or all of it */
	bool verbose;
	const char *in_file;  /* put -f FILE: the value ("-": stdin) */
	const char *out_file; /* get -o FILE: the value goes there */
	/* linearizable ops (CASPaxos) */
	bool linearizable; /* get --linearizable */
	bool if_absent;	   /* put --if-absent */
	bool if_version;   /* put / del --if-version V */
	uint64_t exp_hlc;  /* V */
	uint16_t exp_node;
};

extern bool json_mode; /* --json given */

/* The exit status for an enum qr_err. */
int exit_code_of(int err);
/* Report an error that happened before any request ({"ok":false,...}
 * with --json, a line on stderr always); returns exit_code. */
int fail(int exit_code, int err, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* stat [replication], repair, ready: one node or all (mgmt_cmd.c). */
int do_stat(struct cli *cl, const char *op, int argc, char **argv);
/* ready [--node ID] [--wait S]: 0 when every node asked is ready, else
 * EXIT_UNAVAILABLE (or the error's status) after S seconds of polling. */
int do_ready(struct cli *cl, int argc, char **argv);

/* One command line to a node's management socket (path): 0 and its JSON
 * answer (one object, malloc'd, *len bytes), or an enum qr_err and a
 * message, within deadline_ms (mgmt_cmd.c). */
int qr_cli_mgmt_ask(const char *path, const char *req, uint32_t deadline_ms,
		    char **text, size_t *len, char *msg, size_t msg_len);

/* node add ID | node remove ID | node replace DEAD NEW | node sync: a
 * membership change driven over every node's management socket (node_cmd.c). */
int do_node(struct cli *cl, int argc, char **argv);
#define QR_CLI_NODE_HELP                                                       \
	"usage: quorate [--cluster FILE] node add SLOT [SLOT...] |\n"          \
	"       node add --zone Z | node remove ID [ID...] |\n"               \
	"       node replace DEAD_ID SLOT | node replace DEAD_ID --zone Z |\n" \
	"       node sync | node abort   [--wait SECONDS]\n"                   \
	"       node plan add|remove|replace ... | node plan [clear] |\n"    \
	"       node commit   [--wait SECONDS]\n"                             \
	"A SLOT is a node id of the cluster file or its address (the ip of\n"  \
	"its [node.N]); --zone Z checks every SLOT is in zone Z, or with no\n" \
	"SLOT picks the lowest running slot of zone Z that is no member.\n"   \
	"Change the members online (docs/topology.md, docs/operations.md): "  \
	"every\nrunning node of the cluster file is given the change, the "   \
	"new owners\nstream, then own. IDs are the cluster file's [node.N]; " \
	"rerun the same\ncommand to resume one that stopped. --wait bounds " \
	"the stream (300 s). Several IDs: one change\n(every member moves at "\
	"once; the register decides it whole).\n`node sync` gives running "  \
	"nodes the newest "                                                    \
	"topology (after\none lost its data directory) and changes nothing.\n"\
	"`node abort` takes the change in progress back to its old members\n"\
	"(one of its new members died before the hand-over).\n"              \
	"`node plan add|remove|replace ...` stages changes without running\n"\
	"them (in $QUORATE_PLAN, default CLUSTER.plan); `node plan` shows the\n"\
	"members before and after and what each node gains and loses;\n"     \
	"`node commit` runs the plan as one change, `node plan clear` drops\n"\
	"it. A plan is refused once the cluster changed since it was made.\n"

#endif
