/* SPDX-License-Identifier: MIT */
/*
 * quorate: the command-line client (docs/client.md).
 *
 *   quorate [--cluster FILE] [options] put KEY VALUE|-
 *   quorate [--cluster FILE] [options] get KEY
 *   quorate [--cluster FILE] [options] del KEY
 *   quorate [--cluster FILE] stat [replication] [--node ID] [--json]
 *
 * Contract for scripts: with --json, exactly one JSON object (for `stat`
 * without --node: one array) is written to stdout for every outcome,
 * errors included, and the exit status names the outcome (EXIT_* below,
 * the same table as `quorate --help` and docs/client.md). Keys and values
 * are escaped as JSON strings; bytes that are not UTF-8 become \u00XX.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/json_view.h"
#include "cli/ring.h"
#include "common/clock.h"
#include "common/cluster.h"
#include "common/compiler.h"
#include "quorate/client.h"
#include "quorate/err.h"
#include "qr_config.h"

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

#define STAT_BYTES_MAX (1u << 20) /* a node's stat answer, at most */

static const char usage_text[] =
	"usage: quorate [--cluster FILE] [options] put KEY VALUE   (VALUE '-': "
	"stdin)\n"
	"       quorate [--cluster FILE] [options] get KEY\n"
	"       quorate [--cluster FILE] [options] del KEY\n"
	"       quorate [--cluster FILE] stat [replication] [--node ID] "
	"[--json]\n"
	"       quorate [--cluster FILE] repair [--node ID] [--json]\n"
	"       quorate [--cluster FILE] ring [KEY] [--json]   (who owns "
	"what)\n"
	"\n"
	"options:\n"
	"  -c, --cluster FILE        cluster file (default: $QUORATE_CLUSTER)\n"
	"  -k, --key-file FILE       client key file (default: $QUORATE_KEY_FILE,"
	"\n                            else the cluster file's client_key_file;"
	"\n                            $QUORATE_CLIENT_ID picks its line)\n"
	"  -C, --consistency LEVEL   one | quorum | all | r=N (get) | w=N "
	"(put, del)\n"
	"                            | any (put, del: a hint counts)\n"
	"                            | local_one | local_quorum | "
	"each_quorum (zones:\n"
	"                            local = $QUORATE_ZONE's); default "
	"quorum\n"
	"  -d, --deadline-ms N       deadline of the request (default 1000)\n"
	"  -r, --retries N           resends within the deadline (default 3)\n"
	"  -m, --min-version V       session token: an HLC, or HLC.NODE as "
	"printed\n"
	"      --on-stale wait|error|quorum  get with a token that no "
	"replica is\n"
	"                            current for: wait (default), STALE at "
	"once, or\n"
	"                            read a quorum\n"
	"      --coordinator first|random   which replica coordinates\n"
	"      --linearizable        get: linearizable read (CASPaxos)\n"
	"      --if-absent           put: only if the key has no value\n"
	"      --if-version V        put, del: only if the version is V "
	"(HLC.NODE);\n"
	"                            else PRECONDITION_FAILED (exit 6) and "
	"the\n"
	"                            current version\n"
	"  -n, --node ID             stat: only this node\n"
	"  -j, --json                one JSON object on stdout, errors "
	"included\n"
	"  -v, --verbose             get: version and replicas on stderr\n"
	"  -h, --help                this text\n"
	"  -V, --version             the version\n"
	"\n"
	"output: put/del print 'OK version=HLC.NODE replicas=N'; get prints "
	"the "
	"value\n"
	"(and a newline) on stdout. Errors go to stderr (or the JSON object).\n"
	"\n"
	"exit status:\n"
	"  0  OK                      5  TIMEOUT (no node answered in time)\n"
	"  1  usage error             6  PRECONDITION_FAILED\n"
	"  2  config error            7  TOO_LARGE\n"
	"  3  NOT_FOUND               8  STALE\n"
	"  4  UNAVAILABLE             9  any other error (BUSY, "
	"INVALID_ARGUMENT, ...)\n";

static bool json_mode;

static int exit_code_of(int err)
{
	switch (err) {
	case QR_OK:
		return EXIT_OK;
	case QR_ENOTFOUND:
		return EXIT_NOT_FOUND;
	case QR_EUNAVAILABLE:
		return EXIT_UNAVAILABLE;
	case QR_ETIMEOUT:
		return EXIT_TIMEOUT;
	case QR_EPRECONDITION:
		return EXIT_PRECONDITION;
	case QR_ETOOLARGE:
		return EXIT_TOO_LARGE;
	case QR_ESTALE:
		return EXIT_STALE;
	case QR_ECONFIG:
		return EXIT_CONFIG;
	default:
		return EXIT_OTHER;
	}
}

/* ---- JSON output ------------------------------------------------------ */

/* {"ok":false,...,"error":NAME,"code":N,"message":...} for errors that
 * happen before any request is made (usage, config, I/O). */
static int fail(int exit_code, int err, const char *op, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_mode) {
		printf("{\"ok\":false");
		if (op)
			printf(",\"op\":\"%s\"", op);
		printf(",\"error\":\"%s\",\"code\":%d,\"message\":",
		       exit_code == EXIT_USAGE ? "USAGE" : qr_strerror(err),
		       err);
		qr_json_view_str(stdout, msg, strlen(msg));
		printf("}\n");
	}
	fprintf(stderr, "quorate: %s\n", msg);
	if (exit_code == EXIT_USAGE)
		fprintf(stderr, "Try 'quorate --help'.\n");
	return exit_code;
}

/* ---- options ---------------------------------------------------------- */

struct cli {
	const char *cluster;
	const char *key_file; /* --key-file; NULL: libquorate's default */
	struct qr_req_opts ro;
	bool consistency_set;
	char consistency_rw; /* 'r' or 'w' with QR_CONSISTENCY_RW */
	uint32_t retries;
	bool retries_set;
	enum qr_client_coordinator coordinator;
	long node; /* stat --node, -1: all */
	bool verbose;
	/* linearizable ops (CASPaxos) */
	bool linearizable; /* get --linearizable */
	bool if_absent;	   /* put --if-absent */
	bool if_version;   /* put / del --if-version V */
	uint64_t exp_hlc;  /* V */
	uint16_t exp_node;
};

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_consistency(struct cli *cl, const char *s)
{
	uint64_t n;
	cl->consistency_set = true;
	if (!strcmp(s, "one"))
		cl->ro.consistency = QR_CONSISTENCY_ONE;
	else if (!strcmp(s, "quorum"))
		cl->ro.consistency = QR_CONSISTENCY_QUORUM;
	else if (!strcmp(s, "all"))
		cl->ro.consistency = QR_CONSISTENCY_ALL;
	else if (!strcmp(s, "local_one"))
		cl->ro.consistency = QR_CONSISTENCY_LOCAL_ONE;
	else if (!strcmp(s, "local_quorum"))
		cl->ro.consistency = QR_CONSISTENCY_LOCAL_QUORUM;
	else if (!strcmp(s, "each_quorum"))
		cl->ro.consistency = QR_CONSISTENCY_EACH_QUORUM;
	else if (!strcmp(s, "any")) {
		cl->ro.consistency = QR_CONSISTENCY_ANY;
		cl->consistency_rw = 'w'; /* writes only */
	} else if ((s[0] == 'r' || s[0] == 'w') && s[1] == '=' &&
		   !parse_u64(s + 2, 7, &n) && n >= 1) {
		cl->ro.consistency = QR_CONSISTENCY_RW;
		cl->consistency_rw = s[0];
		if (s[0] == 'r')
			cl->ro.r = (uint8_t)n;
		else
			cl->ro.w = (uint8_t)n;
	} else {
		return -1;
	}
	return 0;
}

/* "HLC" or "HLC.NODE" (the printed form of a version). */
static int parse_version(const char *s, uint64_t *hlc)
{
	char buf[64];
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s);
	uint64_t node;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_u64(buf, UINT64_MAX, hlc))
		return -1;
	if (dot && parse_u64(dot + 1, 0xffff, &node))
		return -1;
	return 0;
}

/* "HLC.NODE" exactly (a version as printed), for --if-version. */
static int parse_full_version(const char *s, uint64_t *hlc, uint16_t *node)
{
	const char *dot = strchr(s, '.');
	uint64_t n;
	if (!dot || parse_version(s, hlc) || parse_u64(dot + 1, 0xffff, &n) ||
	    *hlc == 0)
		return -1;
	*node = (uint16_t)n;
	return 0;
}

/* ---- put / get / del -------------------------------------------------- */

static int read_stdin(uint8_t *buf, size_t cap, size_t *len)
{
	/* Never more than cap bytes into buf (issue 12: cap + 1 was read
	 * into it); one byte more, read aside, means too large. */
	size_t n = 0;
	uint8_t extra;
	while (n < cap) {
		size_t got = fread(buf + n, 1, cap - n, stdin);
		if (got == 0)
			break;
		n += got;
	}
	if (ferror(stdin))
		return QR_EIO;
	if (n == cap && fread(&extra, 1, 1, stdin) == 1)
		return QR_ETOOLARGE;
	*len = n;
	return 0;
}

static void print_version(FILE *f, const struct qr_result *r)
{
	fprintf(f, "%" PRIu64 ".%u", r->hlc, r->node);
}

/* --json: one object per request (docs/client.md lists the fields). */
static int report_json(const char *op, const char *key,
		       const struct qr_result *r)
{
	bool is_get = !strcmp(op, "get");
	printf("{\"ok\":%s,\"op\":\"%s\",\"key\":",
	       r->status ? "false" : "true", op);
	qr_json_view_str(stdout, key, strlen(key));
	if (r->status)
		printf(",\"error\":\"%s\",\"code\":%d", qr_strerror(r->status),
		       r->status);
	if (is_get && !r->status) {
		printf(",\"value\":");
		qr_json_view_str(stdout, r->value, r->value_len);
	}
	if (r->hlc) {
		printf(",\"version\":\"");
		print_version(stdout, r);
		printf("\",\"hlc\":%" PRIu64 ",\"node\":%u", r->hlc, r->node);
	}
	if (r->tombstone)
		printf(",\"tombstone\":true");
	if (is_get && r->coordinator != 0xffff) {
		printf(",\"closed_ts\":%" PRIu64 ",\"lag_ms\":", r->closed_ts);
		if (r->lag_ms == UINT32_MAX)
			printf("null");
		else
			printf("%u", r->lag_ms);
	}
	if (r->coordinator != 0xffff)
		printf(",\"replicas\":%u,\"replica_mask\":%" PRIu64
		       ",\"coordinator\":%u",
		       r->answered, r->replica_mask, r->coordinator);
	printf(",\"attempts\":%u}\n", r->attempts);
	return exit_code_of(r->status);
}

/* An error on stderr, with the version that explains it. */
static int report_error(const char *op, const char *key,
			const struct qr_result *r)
{
	fprintf(stderr, "quorate: %s %s: %s", op, key, qr_strerror(r->status));
	if (r->status == QR_EPRECONDITION) {
		fprintf(stderr, " (current version ");
		if (r->hlc)
			print_version(stderr, r);
		else
			fprintf(stderr, "none");
		fprintf(stderr, ")");
	}
	if (r->status == QR_ENOTFOUND && r->tombstone) {
		fprintf(stderr, " (deleted at version ");
		print_version(stderr, r);
		fprintf(stderr, ")");
	}
	fprintf(stderr, "\n");
	return exit_code_of(r->status);
}

static int report(const char *op, const char *key, const struct qr_result *r,
		  bool verbose)
{
	if (json_mode)
		return report_json(op, key, r);
	if (r->status)
		return report_error(op, key, r);
	if (!strcmp(op, "get")) {
		fwrite(r->value, 1, r->value_len, stdout);
		fputc('\n', stdout);
		if (verbose) {
			fprintf(stderr, "version=");
			print_version(stderr, r);
			fprintf(stderr, " replicas=%u", r->answered);
			if (r->lag_ms != UINT32_MAX)
				fprintf(stderr, " lag_ms=%u", r->lag_ms);
			fprintf(stderr, "\n");
		}
	} else {
		printf("OK version=");
		print_version(stdout, r);
		printf(" replicas=%u\n", r->answered);
	}
	return EXIT_OK;
}

/* The options that make no sense for this op: a usage error, or 0. */
static int kv_check_options(const struct cli *cl, const char *op)
{
	bool get = !strcmp(op, "get"), put = !strcmp(op, "put");
	const char *why = NULL;
	if (cl->node >= 0)
		why = "--node is for stat (a key's node comes from placement)";
	else if (cl->consistency_rw == 'r' && !get)
		why = "--consistency r=N is for get; use w=N for put and del";
	else if (cl->consistency_rw == 'w' && get)
		why = cl->ro.consistency == QR_CONSISTENCY_ANY
			      ? "--consistency any is for put and del"
			      : "--consistency w=N is for put and del";
	else if (cl->linearizable && !get)
		why = "--linearizable is for get";
	else if (cl->if_absent && !put)
		why = "--if-absent is for put";
	else if (cl->if_version && get)
		why = "--if-version is for put and del";
	else if (cl->if_absent && cl->if_version)
		why = "--if-absent and --if-version exclude each other";
	else if ((cl->linearizable || cl->if_absent || cl->if_version) &&
		 cl->consistency_set &&
		 cl->ro.consistency != QR_CONSISTENCY_QUORUM)
		why = "linearizable operations always use a quorum";
	return why ? fail(EXIT_USAGE, QR_EINVAL, op, "%s", why) : 0;
}

/* put's value, from the argument or from stdin ("-"): 0 or the exit. */
static int kv_value(const char *op, const char *arg, uint8_t *value, size_t cap,
		    size_t *len)
{
	if (!strcmp(arg, "-")) {
		int rc = read_stdin(value, cap, len);
		if (rc)
			return fail(exit_code_of(rc), rc, op,
				    "value from stdin: %s",
				    rc == QR_ETOOLARGE
					    ? "longer than 1024 bytes"
					    : strerror(errno));
		return 0;
	}
	*len = strlen(arg);
	if (*len > cap)
		return fail(EXIT_TOO_LARGE, QR_ETOOLARGE, op,
			    "value: %zu bytes, at most %d", *len,
			    QR_CLIENT_VALUE_BYTES_MAX);
	memcpy(value, arg, *len);
	return 0;
}

/* The request itself, through libquorate. */
static void kv_run(struct qr_client *c, const struct cli *cl, const char *op,
		   const char *key, const uint8_t *value, size_t value_len,
		   struct qr_result *r)
{
	size_t kl = strlen(key);
	if (!strcmp(op, "put") && cl->if_absent)
		qr_client_put_if_absent(c, key, kl, value, value_len, &cl->ro,
					r);
	else if (!strcmp(op, "put") && cl->if_version)
		qr_client_put_if_version(c, key, kl, value, value_len,
					 cl->exp_hlc, cl->exp_node, &cl->ro, r);
	else if (!strcmp(op, "put"))
		qr_client_put(c, key, kl, value, value_len, &cl->ro, r);
	else if (!strcmp(op, "get") && cl->linearizable)
		qr_client_get_linearizable(c, key, kl, &cl->ro, r);
	else if (!strcmp(op, "get"))
		qr_client_get(c, key, kl, &cl->ro, r);
	else if (cl->if_version)
		qr_client_del_if_version(c, key, kl, cl->exp_hlc, cl->exp_node,
					 &cl->ro, r);
	else
		qr_client_del(c, key, kl, &cl->ro, r);
}

static int do_kv(struct cli *cl, const char *op, int argc, char **argv)
{
	int want = !strcmp(op, "put") ? 2 : 1;
	if (argc != want)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "%s takes %s, got %d argument(s)", op,
			    want == 2 ? "KEY VALUE" : "KEY", argc);
	const char *key = argv[0];
	int rc = kv_check_options(cl, op);
	if (rc)
		return rc;
	static uint8_t value[QR_CLIENT_VALUE_BYTES_MAX];
	size_t value_len = 0;
	if (want == 2 &&
	    (rc = kv_value(op, argv[1], value, sizeof(value), &value_len)))
		return rc;
	if (strlen(key) > QR_CLIENT_KEY_BYTES_MAX)
		return fail(EXIT_TOO_LARGE, QR_ETOOLARGE, op,
			    "key: %zu bytes, at most %d", strlen(key),
			    QR_CLIENT_KEY_BYTES_MAX);
	if (!*key)
		return fail(EXIT_USAGE, QR_EINVAL, op, "empty key");
	char err[512];
	struct qr_cluster *check = malloc(sizeof(*check));
	if (!check)
		return fail(EXIT_OTHER, QR_ENOMEM, op, "out of memory");
	rc = qr_cluster_load(cl->cluster, check, err, sizeof(err));
	free(check);
	if (rc)
		return fail(EXIT_CONFIG, QR_ECONFIG, op, "%s", err);
	struct qr_client_options o;
	qr_client_options_default(&o);
	if (cl->retries_set)
		o.retries = cl->retries;
	o.coordinator = cl->coordinator;
	o.key_file = cl->key_file;
	struct qr_client *c = qr_client_open(cl->cluster, &o, err, sizeof(err));
	if (!c)
		return fail(EXIT_OTHER, QR_EIO, op, "%s", err);
	static struct qr_result r;
	kv_run(c, cl, op, key, value, value_len, &r);
	qr_client_close(c);
	return report(op, key, &r, cl->verbose);
}

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
static int stat_fetch(const char *path, const char *req, uint32_t deadline_ms,
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

static int do_stat(struct cli *cl, const char *op, int argc, char **argv)
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
		int rc = stat_fetch(path, req, deadline_ms, &text, &len, msg,
				    sizeof(msg));
		if (rc && code == EXIT_OK)
			code = exit_code_of(rc);
		if (json_mode) {
			if (array && id > first)
				printf(",");
			if (!rc) {
				fwrite(text, 1, len, stdout);
			} else {
				printf("{\"ok\":false,\"op\":\"%s\",\"node\":"
				       "%d,\"error\":\"%s\",\"code\":%d,"
				       "\"message\":",
				       op, id, qr_strerror(rc), rc);
				qr_json_view_str(stdout, msg, strlen(msg));
				printf("}");
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

/* ---- main ------------------------------------------------------------- */

enum {
	OPT_COORDINATOR = 256,
	OPT_ON_STALE,
	OPT_LINEARIZABLE,
	OPT_IF_ABSENT,
	OPT_IF_VERSION,
};

#define OPT_NEXT (-1) /* an option parsed: go on */

/* Options that choose how a request reads or writes: OPT_NEXT, or the
 * exit status of a refusal (reported). */
static int opt_request(struct cli *cl, int opt, const char *arg)
{
	switch (opt) {
	case 'C':
		if (parse_consistency(cl, arg))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--consistency '%s': expected one, "
				    "quorum, all, any, local_one, "
				    "local_quorum, each_quorum, r=N or w=N "
				    "(N 1..7)",
				    arg);
		return OPT_NEXT;
	case 'm':
		if (parse_version(arg, &cl->ro.min_version))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--min-version '%s': expected HLC or "
				    "HLC.NODE",
				    arg);
		return OPT_NEXT;
	case OPT_ON_STALE:
		if (!strcmp(arg, "wait"))
			cl->ro.on_stale = QR_ON_STALE_WAIT;
		else if (!strcmp(arg, "error"))
			cl->ro.on_stale = QR_ON_STALE_ERROR;
		else if (!strcmp(arg, "quorum"))
			cl->ro.on_stale = QR_ON_STALE_QUORUM;
		else
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--on-stale '%s': expected wait, error "
				    "or quorum",
				    arg);
		return OPT_NEXT;
	case OPT_IF_VERSION:
		if (parse_full_version(arg, &cl->exp_hlc, &cl->exp_node))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--if-version '%s': expected HLC.NODE as "
				    "printed",
				    arg);
		cl->if_version = true;
		return OPT_NEXT;
	}
	QR_ASSERT(!"opt_request: not a request option");
	return EXIT_OTHER;
}

/* Options that choose where and how long: OPT_NEXT or a refusal. */
static int opt_routing(struct cli *cl, int opt, const char *arg)
{
	uint64_t v;
	switch (opt) {
	case 'd':
		if (parse_u64(arg, 3600000, &v) || !v)
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--deadline-ms '%s': expected 1..3600000",
				    arg);
		cl->ro.deadline_ms = (uint32_t)v;
		return OPT_NEXT;
	case 'r':
		if (parse_u64(arg, 63, &v))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--retries '%s': expected 0..63", arg);
		cl->retries = (uint32_t)v;
		cl->retries_set = true;
		return OPT_NEXT;
	case OPT_COORDINATOR:
		if (!strcmp(arg, "first"))
			cl->coordinator = QR_COORD_FIRST;
		else if (!strcmp(arg, "random"))
			cl->coordinator = QR_COORD_RANDOM;
		else
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--coordinator '%s': expected first or "
				    "random",
				    arg);
		return OPT_NEXT;
	case 'n':
		if (parse_u64(arg, QR_CLUSTER_NODES_MAX - 1, &v))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--node '%s': expected a node id", arg);
		cl->node = (long)v;
		return OPT_NEXT;
	}
	QR_ASSERT(!"opt_routing: not a routing option");
	return EXIT_OTHER;
}

/* One getopt result: OPT_NEXT, or the exit status to return now. */
static int opt_one(struct cli *cl, int opt, char **argv)
{
	switch (opt) {
	case 'c':
		cl->cluster = optarg;
		return OPT_NEXT;
	case 'k':
		cl->key_file = optarg;
		return OPT_NEXT;
	case 'C':
	case 'm':
	case OPT_ON_STALE:
	case OPT_IF_VERSION:
		return opt_request(cl, opt, optarg);
	case 'd':
	case 'r':
	case OPT_COORDINATOR:
	case 'n':
		return opt_routing(cl, opt, optarg);
	case OPT_LINEARIZABLE:
		cl->linearizable = true;
		return OPT_NEXT;
	case OPT_IF_ABSENT:
		cl->if_absent = true;
		return OPT_NEXT;
	case 'j':
		json_mode = true;
		return OPT_NEXT;
	case 'v':
		cl->verbose = true;
		return OPT_NEXT;
	case 'h':
		fputs(usage_text, stdout);
		return EXIT_OK;
	case 'V':
		printf("quorate %s\n", QR_VERSION);
		return EXIT_OK;
	case ':':
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "option '%s' needs a value", argv[optind - 1]);
	default:
		return fail(EXIT_USAGE, QR_EINVAL, NULL, "unknown option '%s'",
			    argv[optind - 1]);
	}
}

static int do_ring(struct cli *cl, int argc, char **argv)
{
	char err[512];
	if (argc > 1)
		return fail(EXIT_USAGE, QR_EINVAL, "ring",
			    "ring takes [KEY], got %d arguments", argc);
	if (qr_cli_ring(cl->cluster, argc ? argv[0] : NULL, json_mode, err,
			sizeof(err)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "ring", "%s", err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cluster", required_argument, NULL, 'c'},
		{"key-file", required_argument, NULL, 'k'},
		{"consistency", required_argument, NULL, 'C'},
		{"deadline-ms", required_argument, NULL, 'd'},
		{"retries", required_argument, NULL, 'r'},
		{"min-version", required_argument, NULL, 'm'},
		{"coordinator", required_argument, NULL, OPT_COORDINATOR},
		{"on-stale", required_argument, NULL, OPT_ON_STALE},
		{"linearizable", no_argument, NULL, OPT_LINEARIZABLE},
		{"if-absent", no_argument, NULL, OPT_IF_ABSENT},
		{"if-version", required_argument, NULL, OPT_IF_VERSION},
		{"node", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli cl = {.node = -1};
	/* --json decides the format of every outcome, usage errors too. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json_mode = true;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":c:k:C:d:r:m:n:jvhV", longopts,
				  NULL)) != -1) {
		int code = opt_one(&cl, opt, argv);
		if (code != OPT_NEXT)
			return code;
	}
	if (optind >= argc)
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "no command (put, get, del, stat, repair or "
			    "ring)");
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	bool kv = !strcmp(cmd, "put") || !strcmp(cmd, "get") ||
		  !strcmp(cmd, "del");
	bool ring = !strcmp(cmd, "ring");
	if (!kv && !ring && strcmp(cmd, "stat") && strcmp(cmd, "repair"))
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "unknown command '%s' (put, get, del, stat, "
			    "repair or ring)",
			    cmd);
	if (!cl.cluster)
		cl.cluster = getenv("QUORATE_CLUSTER");
	if (!cl.cluster || !*cl.cluster)
		return fail(EXIT_USAGE, QR_EINVAL, cmd,
			    "no cluster file: give --cluster FILE or set "
			    "QUORATE_CLUSTER");
	int code = kv	  ? do_kv(&cl, cmd, nargs, args)
		   : ring ? do_ring(&cl, nargs, args)
			  : do_stat(&cl, cmd, nargs, args);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "quorate: writing stdout: %s\n",
			strerror(errno));
		return code ? code : EXIT_OTHER;
	}
	return code;
}
