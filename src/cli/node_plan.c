/* SPDX-License-Identifier: MIT */
/*
 * The membership plan's file (node_plan.h: PL1-PL4). JSON by jansson:
 * {"cluster_id": N, "base_epoch": E, "base_owners": "hex", "to": "hex",
 *  "dead": -1 | id}. Members are hex bit masks as in `topology` answers,
 * parsed strictly: a plan is hostile input like a cluster file. A save
 * writes a unique temporary file and renames it over the plan.
 */
#include "cli/node_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
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
#include "quorate/limits.h"

int qr_node_plan_path(const char *cluster_file, char *buf, size_t n)
{
	const char *env = getenv("QUORATE_PLAN");
	int w = env && *env ? snprintf(buf, n, "%s", env)
			    : snprintf(buf, n, "%s.plan", cluster_file);
	return w < 0 || (size_t)w >= n ? QR_EINVAL : 0;
}

/* PL3 (and PL2's dead node): NULL, or why p is not a plan of c. */
static const char *plan_check(const struct qr_cluster *c,
			      const struct qr_node_plan *p)
{
	uint64_t slots = c->nodes >= 64 ? UINT64_MAX : (1ull << c->nodes) - 1;
	if (!p->base_epoch || !p->base_owners || (p->to & ~slots) ||
	    (p->base_owners & ~slots))
		return "its epoch or members are not of this cluster file";
	if (__builtin_popcountll(p->to) < c->rf)
		return "it leaves fewer members than replication_factor";
	if (p->dead < -1 || p->dead >= (int)c->nodes ||
	    (p->dead >= 0 && (!(p->base_owners >> p->dead & 1) ||
			      (p->to >> p->dead & 1))))
		return "its replaced node is not a member it removes";
	return NULL;
}

/* A hex member mask, the whole string (strict: a plan is checked like a
 * cluster file, PL3). */
static bool hex_of(json_t *o, const char *key, uint64_t *v)
{
	const char *s = json_string_value(json_object_get(o, key));
	char *end;
	if (!s || !*s || strlen(s) > 16)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 16);
	return !*end && !errno;
}

int qr_node_plan_load(const char *path, const struct qr_cluster *c,
		      struct qr_node_plan *p, char *msg, size_t n)
{
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return QR_ENOTFOUND;
	json_error_t jerr;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		snprintf(msg, n, "%s: not a plan (%s)", path, jerr.text);
		json_decref(o);
		return QR_ECONFIG;
	}
	json_t *id = json_object_get(o, "cluster_id");
	json_t *epoch = json_object_get(o, "base_epoch");
	json_t *dead = json_object_get(o, "dead");
	const char *why = NULL;
	*p = (struct qr_node_plan){.dead = -1};
	if (!json_is_integer(id) || json_integer_value(id) != (json_int_t)c->id)
		why = "it is another cluster's (cluster_id)";
	else if (!json_is_integer(epoch) || json_integer_value(epoch) < 1 ||
		 !json_is_integer(dead) || json_integer_value(dead) < -1 ||
		 json_integer_value(dead) >= QR_NODES_MAX ||
		 !hex_of(o, "base_owners", &p->base_owners) ||
		 !hex_of(o, "to", &p->to))
		why = "a field is missing or out of range";
	if (!why) {
		p->base_epoch = (uint64_t)json_integer_value(epoch);
		p->dead = (int)json_integer_value(dead);
		why = plan_check(c, p);
	}
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
	const char *why = plan_check(c, p);
	if (why) {
		snprintf(msg, n, "the plan would be invalid: %s", why);
		return QR_EINVAL;
	}
	char tmp[4096], base[32], to[32];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(msg, n, "%s: path too long", path);
		return QR_EIO;
	}
	snprintf(base, sizeof(base), "%" PRIx64, p->base_owners);
	snprintf(to, sizeof(to), "%" PRIx64, p->to);
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:i}", "cluster_id",
			      (json_int_t)c->id, "base_epoch",
			      (json_int_t)p->base_epoch, "base_owners", base,
			      "to", to, "dead", p->dead);
	int fd = o ? mkstemp(tmp) : -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f && json_dumpf(o, f, JSON_COMPACT) == 0 &&
		  fputc('\n', f) != EOF && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	int err = errno;
	if (f ? fclose(f) != 0 : (fd >= 0 && close(fd) != 0))
		ok = false;
	json_decref(o);
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			err = errno;
		snprintf(msg, n, "%s: cannot write the plan: %s (set "
			 "QUORATE_PLAN to a writable path)", path,
			 strerror(err));
		if (fd >= 0)
			unlink(tmp);
		return QR_EIO;
	}
	return 0;
}

int qr_node_plan_lock(const char *path)
{
	char lk[4096];
	if (snprintf(lk, sizeof(lk), "%s.lock", path) >= (int)sizeof(lk))
		return -1;
	int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return -1;
	}
	return fd;
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

json_t *qr_cli_members_json(uint64_t m)
{
	json_t *a = json_array();
	for (int id = 0; a && id < 64; id++)
		if (m >> id & 1)
			json_array_append_new(a, json_integer(id));
	return a;
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
	if (cl->zone)
		return fail(EXIT_USAGE, QR_EINVAL, "node plan",
			    "--zone goes with node add and node replace (and "
			    "node plan add, node plan replace)");
	if (qr_cluster_load(cl->cluster, &c, msg, sizeof(msg)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "node plan", "%s", msg);
	if (qr_node_plan_path(cl->cluster, path, sizeof(path)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "node plan",
			    "plan path too long");
	if (!show) {
		int lk = qr_node_plan_lock(path); /* PL4 */
		int rc = qr_node_plan_clear(path);
		int err = errno;
		if (lk >= 0)
			close(lk);
		if (rc)
			return fail(EXIT_OTHER, QR_EIO, "node plan clear",
				    "%s: %s", path, strerror(err));
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
				  json_pack("{sbs{sIsososi}}", "ok", 1, "plan",
					    "base_epoch",
					    (json_int_t)p.base_epoch, "from",
					    qr_cli_members_json(p.base_owners),
					    "to", qr_cli_members_json(p.to),
					    "dead", p.dead));
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
