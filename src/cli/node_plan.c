/* SPDX-License-Identifier: MIT */
/*
 * The membership plan's file (node_plan.h: PL1-PL3). JSON by jansson:
 * {"cluster_id": N, "base_epoch": E, "base_owners": "hex", "to": "hex",
 *  "dead": -1 | id}. Members are hex bit masks as in `topology` answers.
 */
#include "cli/node_plan.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/json_view.h"
#include "cli/ring.h"
#include "quorate/err.h"

int qr_node_plan_path(const char *cluster_file, char *buf, size_t n)
{
	const char *env = getenv("QUORATE_PLAN");
	int w = env && *env ? snprintf(buf, n, "%s", env)
			    : snprintf(buf, n, "%s.plan", cluster_file);
	return w < 0 || (size_t)w >= n ? QR_EINVAL : 0;
}

int qr_node_plan_load(const char *path, const struct qr_cluster *c,
		      struct qr_node_plan *p, char *msg, size_t n)
{
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return QR_ENOTFOUND;
	json_error_t jerr;
	json_t *o = json_load_file(path, 0, &jerr);
	if (!json_is_object(o)) {
		snprintf(msg, n, "%s: not a plan (%s)", path, jerr.text);
		json_decref(o);
		return QR_ECONFIG;
	}
	json_t *id = json_object_get(o, "cluster_id");
	json_t *dead = json_object_get(o, "dead");
	*p = (struct qr_node_plan){
		.base_epoch = (uint64_t)json_integer_value(
			json_object_get(o, "base_epoch")),
		.base_owners = qr_json_view_hex(o, "base_owners"),
		.to = qr_json_view_hex(o, "to"),
		.dead = json_is_integer(dead) ? (int)json_integer_value(dead)
					      : -1,
	};
	uint64_t slots = c->nodes >= 64 ? UINT64_MAX
					: (1ull << c->nodes) - 1;
	const char *why = NULL;
	if (!json_is_integer(id) ||
	    (uint64_t)json_integer_value(id) != c->id)
		why = "it is another cluster's (cluster_id)";
	else if (!p->base_epoch || !p->base_owners || (p->to & ~slots) ||
		 (p->base_owners & ~slots))
		why = "its epoch or members are not of this cluster file";
	else if (__builtin_popcountll(p->to) < c->rf)
		why = "it leaves fewer members than replication_factor";
	else if (p->dead < -1 || p->dead >= (int)c->nodes ||
		 (p->dead >= 0 && (!(p->base_owners >> p->dead & 1) ||
				   (p->to >> p->dead & 1))))
		why = "its replaced node is not a member it removes";
	json_decref(o);
	if (why) {
		snprintf(msg, n, "%s: not a plan of this cluster: %s "
			 "(`quorate node plan clear` drops it)", path, why);
		return QR_ECONFIG;
	}
	return 0;
}

int qr_node_plan_save(const char *path, const struct qr_cluster *c,
		      const struct qr_node_plan *p, char *msg, size_t n)
{
	char tmp[4096], base[32], to[32];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(msg, n, "%s: path too long", path);
		return QR_EIO;
	}
	snprintf(base, sizeof(base), "%" PRIx64, p->base_owners);
	snprintf(to, sizeof(to), "%" PRIx64, p->to);
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:i}", "cluster_id",
			      (json_int_t)c->id, "base_epoch",
			      (json_int_t)p->base_epoch, "base_owners", base,
			      "to", to, "dead", p->dead);
	FILE *f = o ? fopen(tmp, "w") : NULL;
	bool ok = f && json_dumpf(o, f, JSON_COMPACT) == 0 &&
		  fputc('\n', f) != EOF && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	if (f && fclose(f) != 0)
		ok = false;
	json_decref(o);
	if (!ok || rename(tmp, path) != 0) {
		snprintf(msg, n, "%s: cannot write the plan: %s", path,
			 strerror(errno));
		unlink(tmp);
		return QR_EIO;
	}
	return 0;
}

int qr_node_plan_clear(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT ? 0 : QR_EIO;
}

void qr_cli_members_str(uint64_t m, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int id = 0; id < 64 && used < n; id++)
		if (m >> id & 1)
			used += (size_t)snprintf(buf + used, n - used, "%s%d",
						 used ? "," : "", id);
}

/* `node plan` (show, with what each node would hold) and `node plan
 * clear`; neither asks a node. */
int qr_node_plan_cmd(struct cli *cl, int argc)
{
	static struct qr_cluster c;
	char path[4096], msg[512];
	struct qr_node_plan p;
	bool show = argc == 1;
	if (!show && argc != 2)
		return fail(EXIT_USAGE, QR_EINVAL, "node plan clear",
			    "usage: node plan clear");
	if (qr_cluster_load(cl->cluster, &c, msg, sizeof(msg)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "node plan", "%s", msg);
	if (qr_node_plan_path(cl->cluster, path, sizeof(path)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "node plan",
			    "plan path too long");
	if (!show) {
		if (qr_node_plan_clear(path))
			return fail(EXIT_OTHER, QR_EIO, "node plan clear",
				    "%s: %s", path, strerror(errno));
		if (json_mode)
			qr_json_view_emit(stdout, json_pack("{sb}", "ok", 1));
		else
			printf("node plan clear: no plan (%s)\n", path);
		return EXIT_OK;
	}
	int rc = qr_node_plan_load(path, &c, &p, msg, sizeof(msg));
	if (rc == QR_ENOTFOUND) {
		if (json_mode)
			qr_json_view_emit(stdout, json_pack("{sbsn}", "ok", 1,
							    "plan"));
		else
			printf("node plan: no plan (%s)\n", path);
		return EXIT_OK;
	}
	if (rc)
		return fail(EXIT_CONFIG, rc, "node plan", "%s", msg);
	char b[256], t[256];
	qr_cli_members_str(p.base_owners, b, sizeof(b));
	qr_cli_members_str(p.to, t, sizeof(t));
	if (json_mode) {
		qr_json_view_emit(stdout,
				  json_pack("{sbs{sIsssssi}}", "ok", 1, "plan",
					    "base_epoch",
					    (json_int_t)p.base_epoch, "from", b,
					    "to", t, "dead", p.dead));
		return EXIT_OK;
	}
	printf("node plan (%s): members %s -> %s, from epoch %" PRIu64,
	       path, b, t, p.base_epoch);
	if (p.dead >= 0)
		printf(", node %d replaced (dead: not asked)", p.dead);
	printf("\n");
	if (qr_cli_ring_moves(&c, p.base_owners, p.to, msg, sizeof(msg)))
		return fail(EXIT_OTHER, QR_EIO, "node plan", "%s", msg);
	printf("`quorate node commit` runs it (if the register still holds "
	       "epoch %" PRIu64 ")\n", p.base_epoch);
	return EXIT_OK;
}
