/* SPDX-License-Identifier: MIT */
/*
 * The CLI's management commands: `stat`, `stat replication`, `repair` and
 * `ready` send one line to each node's management socket (the cluster
 * file's mgmt path) and show the JSON answer, raw with --json or readably.
 * Each node's answer is bounded (STAT_BYTES_MAX) and awaited at most the
 * deadline. `ready --wait S` polls every node until all are ready.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/json_view.h"
#include "common/clock.h"
#include "common/cluster.h"
#include "quorate/err.h"

#define STAT_BYTES_MAX (1u << 20) /* a node's stat answer, at most */

/* ---- stat ------------------------------------------------------------- */

/* A connected socket to a node's management endpoint, or -(enum qr_err). */
static int stat_connect(const char *path, char *msg, size_t msg_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!*path) {
		snprintf(msg, msg_len, "no mgmt path in the cluster file");
		return QR_ECONFIG;
	}
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
	    sizeof(sa.sun_path)) {
		snprintf(msg, msg_len, "mgmt path longer than %zu bytes",
			 sizeof(sa.sun_path) - 1);
		return QR_ECONFIG;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, msg_len, "socket: %s", strerror(errno));
		return QR_EIO;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(msg, msg_len, "connect %s: %s", path, strerror(errno));
		close(fd);
		return QR_EUNAVAILABLE;
	}
	return fd;
}

/* Grow *buf (capacity *cap) so one more byte and a NUL fit after n. */
static int stat_grow(char **buf, size_t *cap, size_t n, const char *path,
		     char *msg, size_t msg_len)
{
	if (n + 1 < *cap)
		return 0;
	if (*cap >= STAT_BYTES_MAX) {
		snprintf(msg, msg_len, "%s: answer longer than %u bytes", path,
			 STAT_BYTES_MAX);
		return QR_ETOOLARGE;
	}
	char *nb = realloc(*buf, *cap * 2);
	if (!nb) {
		snprintf(msg, msg_len, "out of memory");
		return QR_ENOMEM;
	}
	*buf = nb;
	*cap *= 2;
	return 0;
}

/* Read the whole answer (the node closes after it) within the deadline. */
static int stat_read_all(int fd, const char *path, uint32_t deadline_ms,
			 char **buf, size_t *n, char *msg, size_t msg_len)
{
	uint64_t end = qr_clock_mono_ms() + deadline_ms;
	size_t cap = 4096;
	*n = 0;
	if (!(*buf = malloc(cap))) {
		snprintf(msg, msg_len, "out of memory");
		return QR_ENOMEM;
	}
	for (;;) {
		uint64_t now = qr_clock_mono_ms();
		if (now >= end) {
			snprintf(msg, msg_len,
				 "%s: no complete answer in %u ms", path,
				 deadline_ms);
			return QR_ETIMEOUT;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)(end - now));
		if (pr < 0 && errno != EINTR) {
			snprintf(msg, msg_len, "poll: %s", strerror(errno));
			return QR_EIO;
		}
		if (pr <= 0)
			continue;
		int rc = stat_grow(buf, &cap, *n, path, msg, msg_len);
		if (rc)
			return rc;
		ssize_t got = read(fd, *buf + *n, cap - 1 - *n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			snprintf(msg, msg_len, "read %s: %s", path,
				 strerror(errno));
			return QR_EUNAVAILABLE;
		}
		if (got == 0)
			break;
		*n += (size_t)got;
	}
	(*buf)[*n] = '\0';
	return 0;
}

/* Ask one node: 0 and a malloc'd text, or an enum qr_err and a message. */
int qr_cli_mgmt_ask(const char *path, const char *req, uint32_t deadline_ms,
		      char **text, size_t *len, char *msg, size_t msg_len)
{
	int fd = stat_connect(path, msg, msg_len);
	if (fd < 0)
		return fd;
	char *buf = NULL;
	size_t n = 0;
	int rc = 0;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		snprintf(msg, msg_len, "send to %s: %s", path, strerror(errno));
		rc = QR_EUNAVAILABLE;
	} else {
		shutdown(fd, SHUT_WR);
		rc = stat_read_all(fd, path, deadline_ms, &buf, &n, msg,
				   msg_len);
	}
	close(fd);
	if (!rc && !qr_json_view_is_object(buf, n)) {
		snprintf(msg, msg_len, "%s: the answer is not one JSON object",
			 path);
		rc = QR_EMALFORMED;
	}
	if (rc) {
		free(buf);
		return rc;
	}
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* --json: a node that could not be asked, as one object in the output. */
static void node_error(const char *op, int id, int rc, const char *msg)
{
	qr_json_view_emit(stdout,
			  json_pack("{sbsssisssiso}", "ok", 0, "op", op, "node",
				    id, "error", qr_strerror(rc), "code", rc,
				    "message",
				    qr_json_view_bytes(msg, strlen(msg))));
}

int do_stat(struct cli *cl, const char *op, int argc, char **argv)
{
	/* stat: the node's counters; stat replication: per-peer lag;
	 * repair: every shard of the node runs an anti-entropy pass now. */
	const char *req = "stat\n";
	if (!strcmp(op, "repair")) {
		req = "repair\n";
		if (argc)
			return fail(EXIT_USAGE, QR_EINVAL, op,
				    "usage: repair [--node ID]");
	} else if (argc == 1 && !strcmp(argv[0], "replication"))
		req = "stat replication\n";
	else if (argc)
		return fail(EXIT_USAGE, QR_EINVAL, "stat",
			    "usage: stat [replication] [--node ID]");
	static struct qr_cluster c;
	char err[512];
	if (qr_cluster_load(cl->cluster, &c, err, sizeof(err)))
		return fail(EXIT_CONFIG, QR_ECONFIG, op, "%s", err);
	if (cl->node >= c.nodes)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--node %ld: the cluster has nodes 0..%u", cl->node,
			    c.nodes - 1u);
	uint32_t deadline_ms = cl->ro.deadline_ms
				       ? cl->ro.deadline_ms
				       : QR_CLIENT_DEADLINE_MS_DEFAULT;
	int first = cl->node >= 0 ? (int)cl->node : 0;
	int last = cl->node >= 0 ? (int)cl->node : c.nodes - 1;
	bool array = cl->node < 0;
	int code = EXIT_OK;
	if (json_mode && array)
		printf("[");
	for (int id = first; id <= last; id++) {
		char *text = NULL, msg[512];
		size_t len = 0;
		const char *path = c.node[id].mgmt;
		int rc = qr_cli_mgmt_ask(path, req, deadline_ms, &text, &len, msg,
				    sizeof(msg));
		if (rc && code == EXIT_OK)
			code = exit_code_of(rc);
		if (json_mode) {
			if (array && id > first)
				printf(",");
			if (!rc) {
				fwrite(text, 1, len, stdout);
			} else {
				node_error(op, id, rc, msg);
			}
		} else if (!rc) {
			printf("node %d (%s):\n", id, path);
			if (qr_json_view_print(stdout, text, len, 1) != 0)
				fprintf(stderr,
					"quorate: %s node %d: "
					"not JSON\n",
					op, id);
		} else {
			fprintf(stderr, "quorate: %s node %d: %s: %s\n", op, id,
				qr_strerror(rc), msg);
		}
		free(text);
	}
	if (json_mode)
		printf(array ? "]\n" : "\n");
	return code;
}

/* The "ready" field of a node's answer: 1 ready, 0 not, -1 malformed;
 * the reason (or "") into why. */
static int ready_of(const char *text, size_t len, char *why, size_t n)
{
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *r = o ? json_object_get(o, "ready") : NULL;
	int rc = json_is_boolean(r) ? json_is_true(r) : -1;
	const char *reason = json_string_value(json_object_get(o, "reason"));
	snprintf(why, n, "%s", reason ? reason : "");
	json_decref(o);
	return rc;
}

/* One round over the nodes: how many are ready; the last answers kept
 * in texts[] (malloc'd) and errors in rcs[]. */
static int ready_round(const struct qr_cluster *c, int first, int last,
		       uint32_t deadline_ms, char **texts, size_t *lens,
		       int *rcs, char (*msgs)[512])
{
	int ready = 0;
	for (int id = first; id <= last; id++) {
		free(texts[id]);
		texts[id] = NULL;
		rcs[id] = qr_cli_mgmt_ask(c->node[id].mgmt, "ready\n", deadline_ms,
				     &texts[id], &lens[id], msgs[id],
				     sizeof(msgs[id]));
		char why[256];
		if (!rcs[id] &&
		    ready_of(texts[id], lens[id], why, sizeof(why)) == 1)
			ready++;
	}
	return ready;
}

/* Print each node's readiness; the exit status: 0 all ready, 4 not. */
static int ready_report(const struct qr_cluster *c, int first, int last,
			char **texts, size_t *lens, const int *rcs,
			char (*msgs)[512], bool array)
{
	int code = EXIT_OK;
	if (json_mode && array)
		printf("[");
	for (int id = first; id <= last; id++) {
		char why[256] = "";
		int r = rcs[id] ? -1
				: ready_of(texts[id], lens[id], why,
					   sizeof(why));
		if (r != 1)
			code = rcs[id] ? exit_code_of(rcs[id])
				       : EXIT_UNAVAILABLE;
		if (json_mode && array && id > first)
			printf(",");
		if (json_mode && !rcs[id]) {
			fwrite(texts[id], 1, lens[id], stdout);
		} else if (json_mode) {
			node_error("ready", id, rcs[id], msgs[id]);
		} else if (rcs[id]) {
			printf("node %d: not ready: %s: %s\n", id,
			       qr_strerror(rcs[id]), msgs[id]);
		} else {
			printf("node %d: %s%s%s\n", id,
			       r == 1 ? "ready" : "not ready",
			       why[0] ? ": " : "", why);
		}
	}
	if (json_mode)
		printf(array ? "]\n" : "\n");
	(void)c;
	return code;
}

int do_ready(struct cli *cl, int argc, char **argv)
{
	(void)argv;
	if (argc)
		return fail(EXIT_USAGE, QR_EINVAL, "ready",
			    "usage: ready [--node ID] [--wait SECONDS]");
	static struct qr_cluster c;
	char err[512];
	if (qr_cluster_load(cl->cluster, &c, err, sizeof(err)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "ready", "%s", err);
	if (cl->node >= c.nodes)
		return fail(EXIT_USAGE, QR_EINVAL, "ready",
			    "--node %ld: the cluster has nodes 0..%u", cl->node,
			    c.nodes - 1u);
	uint32_t deadline_ms = cl->ro.deadline_ms
				       ? cl->ro.deadline_ms
				       : QR_CLIENT_DEADLINE_MS_DEFAULT;
	int first = cl->node >= 0 ? (int)cl->node : 0;
	int last = cl->node >= 0 ? (int)cl->node : c.nodes - 1;
	static char *texts[QR_CLUSTER_NODES_MAX];
	static size_t lens[QR_CLUSTER_NODES_MAX];
	static int rcs[QR_CLUSTER_NODES_MAX];
	static char msgs[QR_CLUSTER_NODES_MAX][512];
	uint64_t end = qr_clock_mono_ms() + (uint64_t)cl->wait_s * 1000;
	while (ready_round(&c, first, last, deadline_ms, texts, lens, rcs,
			   msgs) < last - first + 1 &&
	       qr_clock_mono_ms() < end)
		usleep(200 * 1000);
	int code = ready_report(&c, first, last, texts, lens, rcs, msgs,
				cl->node < 0);
	for (int id = first; id <= last; id++)
		free(texts[id]);
	return code;
}
