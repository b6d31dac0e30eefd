/* SPDX-License-Identifier: MIT */
/*
 * quorate: the command-line client (docs/client.md).
 *
 *   quorate [--cluster FILE] [options] put KEY VALUE|-
 *   quorate [--cluster FILE] [options] put KEY -f FILE|-
 *   quorate [--cluster FILE] [options] get KEY [-o FILE]
 *   quorate [--cluster FILE] [options] del KEY
 *   quorate [--cluster FILE] stat [replication] [--node ID] [--json]
 *
 * Contract for scripts: with --json, exactly one JSON object (for `stat`
 * without --node: one array) is written to stdout for every outcome,
 * errors included, and the exit status names the outcome (EXIT_* below,
 * the same table as `quorate --help` and docs/client.md). Keys and values
 * are JSON strings (jansson); bytes that are not UTF-8 become U+00XX.
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

#include "cli/cli.h"
#include "cli/json_view.h"
#include "cli/version.h"
#include "cli/ring.h"
#include "common/clock.h"
#include "common/cluster.h"
#include "common/compiler.h"
#include "quorate/client.h"
#include "quorate/err.h"
#include "qr_config.h"

static const char usage_text[] =
	"usage: quorate [--cluster FILE] [options] put KEY VALUE   (VALUE '-': "
	"stdin)\n"
	"       quorate [--cluster FILE] [options] put KEY -f FILE  (FILE '-': "
	"stdin)\n"
	"       quorate [--cluster FILE] [options] get KEY [-o FILE]\n"
	"       quorate [--cluster FILE] [options] del KEY\n"
	"       quorate [--cluster FILE] stat [replication] [--node ID] "
	"[--json]\n"
	"       quorate [--cluster FILE] repair [--node ID] [--json]\n"
	"       quorate [--cluster FILE] ready [--node ID] [--wait SECONDS] "
	"[--json]\n"
	"       quorate [--cluster FILE] ring [KEY] [--json]   (who owns "
	"what)\n"
	"       quorate [--cluster FILE] node add ID | remove ID | replace "
	"DEAD_ID NEW_ID\n"
	"\n"
	"options:\n"
	"  -c, --cluster FILE        cluster file (default: $QUORATE_CLUSTER)\n"
	"  -k, --key-file FILE       client key file (default: "
	"$QUORATE_KEY_FILE,"
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
	"  -m, --min-version V       session token: a version as printed "
	"(HLC.NODE, or\n"
	"                            TIME+LOGICAL.NODE), or a bare HLC\n"
	"      --on-stale wait|error|quorum  get with a token that no "
	"replica is\n"
	"                            current for: wait (default), STALE at "
	"once, or\n"
	"                            read a quorum\n"
	"      --coordinator first|random   which replica coordinates\n"
	"      --linearizable        get: linearizable read (CASPaxos)\n"
	"      --if-absent           put: only if the key has no value\n"
	"      --if-version V        put, del: only if the version is V "
	"(either form);\n"
	"                            else PRECONDITION_FAILED (exit 6) and "
	"the\n"
	"                            current version\n"
	"  -n, --node ID             stat, repair, ready: only this node\n"
	"      --wait SECONDS        ready: poll until ready or this long\n"
	"  -j, --json                one JSON object on stdout, errors "
	"included\n"
	"  -v, --verbose             get: version and replicas on stderr\n"
	"  -f, --file FILE           put: the value is FILE's bytes ('-': "
	"stdin)\n"
	"  -o, --output FILE         get: write the value to FILE (no "
	"newline added)\n"
	"values: at most the cluster file's value_bytes_max (1 MiB unless "
	"set);\nlonger: TOO_LARGE (exit 7), nothing sent\n"
	"  -h, --help                this text\n"
	"  -V, --version             the version\n"
	"\n"
	"output: put/del print 'OK version=HLC.NODE (TIME+LOGICAL.NODE) "
	"replicas=N';\nget prints "
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

bool json_mode;

int exit_code_of(int err)
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
int fail(int exit_code, int err, const char *op, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_mode) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_false());
		if (op)
			json_object_set_new(o, "op", json_string(op));
		json_object_set_new(o, "error", json_string(qr_strerror(err)));
		json_object_set_new(o, "code", json_integer(err));
		json_object_set_new(o, "message",
				    qr_json_view_bytes(msg, strlen(msg)));
		qr_json_view_emit(stdout, o);
		printf("\n");
	}
	fprintf(stderr, "quorate: %s\n", msg);
	if (exit_code == EXIT_USAGE)
		fprintf(stderr, "Try 'quorate --help'.\n");
	return exit_code;
}

/* ---- options ---------------------------------------------------------- */

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

/* A session token: a version in either printed form (cli/version.h),
 * the node optional. */
static int parse_version(const char *s, uint64_t *hlc)
{
	uint16_t node;
	bool has_node;
	return qr_cli_version_parse(s, hlc, &node, &has_node);
}

/* A whole version (HLC.NODE or TIME+LOGICAL.NODE), for --if-version. */
static int parse_full_version(const char *s, uint64_t *hlc, uint16_t *node)
{
	bool has_node;
	if (qr_cli_version_parse(s, hlc, node, &has_node) || !has_node ||
	    *hlc == 0)
		return -1;
	return 0;
}

/* ---- put / get / del -------------------------------------------------- */

static int read_stream(FILE *in, uint8_t *buf, size_t cap, size_t *len)
{
	/* Never more than cap bytes into buf (issue 12: cap + 1 was read
	 * into it); one byte more, read aside, means too large. */
	size_t n = 0;
	uint8_t extra;
	while (n < cap) {
		size_t got = fread(buf + n, 1, cap - n, in);
		if (got == 0)
			break;
		n += got;
	}
	if (ferror(in))
		return QR_EIO;
	if (n == cap && fread(&extra, 1, 1, in) == 1)
		return QR_ETOOLARGE;
	*len = n;
	return 0;
}

static void print_version(FILE *f, const struct qr_result *r)
{
	fprintf(f, "%" PRIu64 ".%u", r->hlc, r->node);
}

/* Plain output: "version=HLC.NODE (TIME+LOGICAL.NODE)". */
static void print_versions(FILE *f, const struct qr_result *r)
{
	char rd[64];
	qr_cli_version_readable(r->hlc, r->node, rd, sizeof(rd));
	fprintf(f, "version=");
	print_version(f, r);
	fprintf(f, " (%s)", rd);
}

static const char *out_file; /* get -o FILE (report's view of cli) */
static uint32_t value_limit;  /* the cluster file's value_bytes_max */

#define SET(o, k, v) json_object_set_new(o, k, v)
#define U64(v)	     json_integer((json_int_t)(v))

/* --json: one object per request (docs/client.md lists the fields). */
static int report_json(const char *op, const char *key,
		       const struct qr_result *r)
{
	bool is_get = !strcmp(op, "get");
	json_t *o = json_object();
	SET(o, "ok", json_boolean(!r->status));
	SET(o, "op", json_string(op));
	SET(o, "key", qr_json_view_bytes(key, strlen(key)));
	if (r->status) {
		SET(o, "error", json_string(qr_strerror(r->status)));
		SET(o, "code", json_integer(r->status));
	}
	if (is_get && !r->status && out_file)
		SET(o, "output", json_string(out_file));
	else if (is_get && !r->status)
		SET(o, "value", qr_json_view_bytes(r->value, r->value_len));
	if (is_get && !r->status)
		SET(o, "value_len", U64(r->value_len));
	if (r->hlc) {
		char raw[48], rd[64];
		snprintf(raw, sizeof(raw), "%" PRIu64 ".%u", r->hlc, r->node);
		qr_cli_version_readable(r->hlc, r->node, rd, sizeof(rd));
		SET(o, "version", json_string(raw));
		SET(o, "version_time", json_string(rd));
		SET(o, "hlc", U64(r->hlc));
		SET(o, "node", U64(r->node));
	}
	if (r->tombstone)
		SET(o, "tombstone", json_true());
	if (is_get && r->coordinator != 0xffff) {
		SET(o, "closed_ts", U64(r->closed_ts));
		SET(o, "lag_ms",
		    r->lag_ms == UINT32_MAX ? json_null() : U64(r->lag_ms));
	}
	if (r->coordinator != 0xffff) {
		SET(o, "replicas", U64(r->answered));
		SET(o, "replica_mask", U64(r->replica_mask));
		SET(o, "coordinator", U64(r->coordinator));
	}
	SET(o, "attempts", U64(r->attempts));
	qr_json_view_emit(stdout, o);
	printf("\n");
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
	if (r->status == QR_ETOOLARGE)
		fprintf(stderr, " (values are limited to %u bytes)",
			value_limit);
	if (r->status == QR_ENOTFOUND && r->tombstone) {
		fprintf(stderr, " (deleted at version ");
		print_version(stderr, r);
		fprintf(stderr, ")");
	}
	fprintf(stderr, "\n");
	return exit_code_of(r->status);
}

/* get -o FILE: the value, exactly (created or truncated): 0 or the exit
 * status of the failure (reported). */
static int write_file(const char *path, const uint8_t *v, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && (!len || fwrite(v, 1, len, f) == len);
	if (f && fclose(f))
		ok = false;
	if (!ok)
		return fail(EXIT_OTHER, QR_EIO, "get", "-o %s: %s", path,
			    strerror(errno));
	return 0;
}

static int report(const char *op, const char *key, const struct qr_result *r,
		  bool verbose)
{
	bool get = !strcmp(op, "get");
	if (get && !r->status && out_file) {
		int rc = write_file(out_file, r->value, r->value_len);
		if (rc)
			return rc;
	}
	if (json_mode)
		return report_json(op, key, r);
	if (r->status)
		return report_error(op, key, r);
	if (get && !out_file) {
		if (r->value_len)
			fwrite(r->value, 1, r->value_len, stdout);
		fputc('\n', stdout);
	}
	if (get) {
		if (verbose) {
			print_versions(stderr, r);
			fprintf(stderr, " replicas=%u", r->answered);
			if (r->lag_ms != UINT32_MAX)
				fprintf(stderr, " lag_ms=%u", r->lag_ms);
			fprintf(stderr, "\n");
		}
	} else {
		printf("OK ");
		print_versions(stdout, r);
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
	else if (cl->in_file && !put)
		why = "--file is for put";
	else if (cl->out_file && !get)
		why = "--output is for get";
	else if (cl->if_absent && cl->if_version)
		why = "--if-absent and --if-version exclude each other";
	else if ((cl->linearizable || cl->if_absent || cl->if_version) &&
		 cl->consistency_set &&
		 cl->ro.consistency != QR_CONSISTENCY_QUORUM)
		why = "linearizable operations always use a quorum";
	return why ? fail(EXIT_USAGE, QR_EINVAL, op, "%s", why) : 0;
}

/* put's value: from the argument, or from stdin ("-"), or from
 * -f FILE ("-": stdin), at most cap bytes: 0 or the exit status. */
static int kv_value(const char *op, const char *arg, const char *file,
		    uint8_t *value, size_t cap, size_t *len)
{
	const char *src = file ? file : arg;
	if (file || !strcmp(arg, "-")) {
		bool in = !strcmp(src, "-");
		FILE *f = in ? stdin : fopen(src, "rb");
		int rc = f ? read_stream(f, value, cap, len) : QR_EIO;
		int e = errno;
		if (f && !in)
			fclose(f);
		if (rc == QR_ETOOLARGE)
			return fail(EXIT_TOO_LARGE, rc, op,
				    "value from %s: TOO_LARGE: longer than %zu "
				    "bytes (the cluster's value_bytes_max)",
				    in ? "stdin" : src, cap);
		if (rc)
			return fail(EXIT_OTHER, rc, op, "value from %s: %s",
				    in ? "stdin" : src, strerror(e));
		return 0;
	}
	*len = strlen(arg);
	if (*len > cap)
		return fail(EXIT_TOO_LARGE, QR_ETOOLARGE, op,
			    "value: TOO_LARGE: %zu bytes, at most %zu", *len,
			    cap);
	memcpy(value, arg, *len);
	return 0;
}

/* The request itself, through libquorate: a put's value is
 * buf[0..value_len), a get's lands in buf (cap bytes). */
static void kv_run(struct qr_client *c, const struct cli *cl, const char *op,
		   const char *key, uint8_t *buf, size_t value_len, size_t cap,
		   struct qr_result *r)
{
	const uint8_t *value = buf;
	uint8_t *got = buf;
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
		qr_client_get_linearizable(c, key, kl, got, cap, &cl->ro, r);
	else if (!strcmp(op, "get"))
		qr_client_get(c, key, kl, got, cap, &cl->ro, r);
	else if (cl->if_version)
		qr_client_del_if_version(c, key, kl, cl->exp_hlc, cl->exp_node,
					 &cl->ro, r);
	else
		qr_client_del(c, key, kl, &cl->ro, r);
}

/* The cluster file, checked (a config error before any value is read),
 * and its value limit: 0, or the exit status (reported). */
static int kv_limit(const struct cli *cl, const char *op, uint32_t *limit)
{
	char err[512];
	struct qr_cluster *check = malloc(sizeof(*check));
	if (!check)
		return fail(EXIT_OTHER, QR_ENOMEM, op, "out of memory");
	int rc = qr_cluster_load(cl->cluster, check, err, sizeof(err));
	*limit = check->value_bytes_max ? check->value_bytes_max
					: QR_VALUE_BYTES_DEFAULT;
	free(check);
	return rc ? fail(EXIT_CONFIG, QR_ECONFIG, op, "%s", err) : 0;
}

/* Open the handle and run the request: the exit status. buf holds a
 * put's value, or receives a get's (cap bytes: the cluster's limit). */
static int kv_open_run(const struct cli *cl, const char *op, const char *key,
		       uint8_t *buf, size_t value_len, size_t cap)
{
	char err[512];
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
	kv_run(c, cl, op, key, buf, value_len, cap, &r);
	qr_client_close(c);
	return report(op, key, &r, cl->verbose);
}

static int do_kv(struct cli *cl, const char *op, int argc, char **argv)
{
	int want = !strcmp(op, "put") && !cl->in_file ? 2 : 1;
	if (argc != want)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "%s takes %s, got %d argument(s)", op,
			    want == 2 ? "KEY VALUE" : "KEY", argc);
	const char *key = argv[0];
	int rc = kv_check_options(cl, op);
	if (rc)
		return rc;
	if (strlen(key) > QR_CLIENT_KEY_BYTES_MAX)
		return fail(EXIT_TOO_LARGE, QR_ETOOLARGE, op,
			    "key: %zu bytes, at most %d", strlen(key),
			    QR_CLIENT_KEY_BYTES_MAX);
	if (!*key)
		return fail(EXIT_USAGE, QR_EINVAL, op, "empty key");
	if ((rc = kv_limit(cl, op, &value_limit)))
		return rc;
	/* One buffer of the limit: a put's value, or a get's. */
	uint8_t *buf = malloc(value_limit);
	if (!buf)
		return fail(EXIT_OTHER, QR_ENOMEM, op, "out of memory");
	size_t value_len = 0;
	out_file = cl->out_file;
	if (!strcmp(op, "put"))
		rc = kv_value(op, want == 2 ? argv[1] : NULL, cl->in_file, buf,
			      value_limit, &value_len);
	if (!rc)
		rc = kv_open_run(cl, op, key, buf, value_len, value_limit);
	free(buf);
	return rc;
}

/* ---- main ------------------------------------------------------------- */

enum {
	OPT_COORDINATOR = 256,
	OPT_ON_STALE,
	OPT_LINEARIZABLE,
	OPT_IF_ABSENT,
	OPT_IF_VERSION,
	OPT_WAIT,
	OPT_ZONE,
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
	case OPT_WAIT:
		if (parse_u64(arg, 3600, &v))
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "--wait '%s': expected 0..3600 seconds",
				    arg);
		cl->wait_s = (uint32_t)v;
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
	case OPT_WAIT:
	case 'n':
		return opt_routing(cl, opt, optarg);
	case OPT_ZONE: /* checked by do_node (node_cmd.c) */
		cl->zone = optarg;
		return OPT_NEXT;
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
	case 'f':
		cl->in_file = optarg;
		return OPT_NEXT;
	case 'o':
		cl->out_file = optarg;
		return OPT_NEXT;
	case 'h':
		cl->help = true; /* after the loop: the command's help */
		return OPT_NEXT;
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

#define COMMANDS "put, get, del, stat, repair, ready, ring or node"

/* `quorate CMD --help`: that command's usage; else the whole text. */
static int help(const char *cmd)
{
	static const char *const text[][2] = {
		{"put",
		 "usage: quorate [--cluster FILE] [options] put KEY "
		 "VALUE|-|-f FILE\n"
		 "Write VALUE (or stdin with '-', or FILE's bytes) under "
		 "KEY; prints\n'OK version=V replicas=N'. Values up to the "
		 "cluster's value_bytes_max;\nlonger: TOO_LARGE (exit 7).\n"
		 "options: -C one|quorum|all|any|w=N, --deadline-ms N, "
		 "--retries N,\n"
		 "         --if-absent, --if-version V, --min-version V, "
		 "--json\n"},
		{"get", "usage: quorate [--cluster FILE] [options] get KEY "
			"[-o FILE]\n"
			"Print KEY's value (exit 3 NOT_FOUND if none), or "
			"write it to FILE.\n"
			"options: -C one|quorum|all|r=N, --linearizable, "
			"--min-version V,\n"
			"         --on-stale wait|error|quorum, --verbose, "
			"--deadline-ms N, --json\n"},
		{"del", "usage: quorate [--cluster FILE] [options] del KEY\n"
			"Delete KEY (a tombstone with a version).\n"
			"options: -C one|quorum|all|any|w=N, --if-version V, "
			"--deadline-ms N, --json\n"},
		{"stat", "usage: quorate [--cluster FILE] stat [replication] "
			 "[--node ID] [--json]\n"
			 "Each node's counters (or, with 'replication', lag "
			 "per peer) from its\n"
			 "management socket (docs/operations.md).\n"},
		{"repair", "usage: quorate [--cluster FILE] repair [--node ID] "
			   "[--json]\n"
			   "Ask the node(s) for an anti-entropy pass now.\n"},
		{"ready", "usage: quorate [--cluster FILE] ready [--node ID] "
			  "[--wait SECONDS] [--json]\n"
			  "Exit 0 when every node asked is ready (WAL "
			  "recovered, loops running, a\n"
			  "majority of nodes up), else 4 (UNAVAILABLE) with "
			  "each node's reason;\n"
			  "--wait polls that long first (systemd, scripts).\n"},
		{"ring", "usage: quorate [--cluster FILE] ring [KEY] [--json]\n"
			 "Who owns what, over the members the nodes hold (the "
			 "highest epoch; the\n"
			 "cluster file's when no node answers): a key's "
			 "partition, shard and\n"
			 "replicas, or the epoch, the change in progress and "
			 "each node's\n"
			 "partitions, state and stream progress.\n"},
		{"node", QR_CLI_NODE_HELP},
	};
	for (size_t i = 0; cmd && i < sizeof(text) / sizeof(text[0]); i++)
		if (!strcmp(cmd, text[i][0])) {
			fputs(text[i][1], stdout);
			printf("Every option and exit status: quorate "
			       "--help\n");
			return EXIT_OK;
		}
	fputs(usage_text, stdout);
	return EXIT_OK;
}

/* The command and its argument count, then the cluster file: OPT_NEXT
 * or the exit status of the refusal (reported). A missing key is named
 * before a missing cluster file: it is the first thing to fix. */
static int command_check(struct cli *cl, const char *cmd, int nargs)
{
	int want = !strcmp(cmd, "put")				? 2 - !!cl->in_file
		   : !strcmp(cmd, "get") || !strcmp(cmd, "del") ? 1
								: -1;
	if (want < 0 && strcmp(cmd, "stat") && strcmp(cmd, "repair") &&
	    strcmp(cmd, "ready") && strcmp(cmd, "ring") && strcmp(cmd, "node"))
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "unknown command '%s' (" COMMANDS ")", cmd);
	if (want > 0 && nargs != want)
		return fail(EXIT_USAGE, QR_EINVAL, cmd,
			    "%s takes %s, got %d argument(s); see 'quorate "
			    "%s --help'",
			    cmd, want == 2 ? "KEY VALUE" : "KEY", nargs, cmd);
	if (!cl->cluster)
		cl->cluster = getenv("QUORATE_CLUSTER");
	if (!cl->cluster || !*cl->cluster)
		return fail(EXIT_USAGE, QR_EINVAL, cmd,
			    "no cluster file: give --cluster FILE or set "
			    "QUORATE_CLUSTER");
	return OPT_NEXT;
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
		{"wait", required_argument, NULL, OPT_WAIT},
		{"zone", required_argument, NULL, OPT_ZONE},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"file", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
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
	while ((opt = getopt_long(argc, argv, ":c:k:C:d:r:m:n:f:o:jvhV", longopts,
				  NULL)) != -1) {
		int code = opt_one(&cl, opt, argv);
		if (code != OPT_NEXT)
			return code;
	}
	if (cl.help)
		return help(optind < argc ? argv[optind] : NULL);
	if (optind >= argc)
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "no command (" COMMANDS ")");
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	int code = command_check(&cl, cmd, nargs);
	if (code != OPT_NEXT)
		return code;
	if (cl.zone && strcmp(cmd, "node")) /* placing a new member only */
		return fail(EXIT_USAGE, QR_EINVAL, cmd,
			    "--zone goes with node add and node replace");
	if (!strcmp(cmd, "put") || !strcmp(cmd, "get") || !strcmp(cmd, "del"))
		code = do_kv(&cl, cmd, nargs, args);
	else if (!strcmp(cmd, "ready"))
		code = do_ready(&cl, nargs, args);
	else if (!strcmp(cmd, "ring"))
		code = do_ring(&cl, nargs, args);
	else if (!strcmp(cmd, "node"))
		code = do_node(&cl, nargs, args);
	else
		code = do_stat(&cl, cmd, nargs, args);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "quorate: writing stdout: %s\n",
			strerror(errno));
		return code ? code : EXIT_OTHER;
	}
	return code;
}
