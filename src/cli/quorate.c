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

#include "common/cluster.h"
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
#define JSON_DEPTH_MAX 64

static const char usage_text[] =
	"usage: quorate [--cluster FILE] [options] put KEY VALUE   (VALUE '-': "
	"stdin)\n"
	"       quorate [--cluster FILE] [options] get KEY\n"
	"       quorate [--cluster FILE] [options] del KEY\n"
	"       quorate [--cluster FILE] stat [replication] [--node ID] [--json]\n"
	"       quorate [--cluster FILE] repair [--node ID] [--json]\n"
	"\n"
	"options:\n"
	"  -c, --cluster FILE        cluster file (default: $QUORATE_CLUSTER)\n"
	"  -C, --consistency LEVEL   one | quorum | all | r=N (get) | w=N "
	"(put, del)\n"
	"                            | any (put, del: a hint counts); "
	"default quorum\n"
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

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t b = s[0];
	size_t len;
	uint32_t cp, min;
	if (b < 0x80)
		return 1;
	if ((b & 0xe0) == 0xc0)
		len = 2, cp = b & 0x1f, min = 0x80;
	else if ((b & 0xf0) == 0xe0)
		len = 3, cp = b & 0x0f, min = 0x800;
	else if ((b & 0xf8) == 0xf0)
		len = 4, cp = b & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string: UTF-8 passes through, control characters and every byte
 * that is not part of valid UTF-8 become escapes (\u00XX: the byte). */
static void json_str(FILE *f, const void *buf, size_t n)
{
	const uint8_t *s = buf;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		size_t len = utf8_len(s + i, n - i);
		if (len > 1) {
			fwrite(s + i, 1, len, f);
			i += len;
			continue;
		}
		i++;
		switch (b) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		default:
			if (b < 0x20 || b >= 0x7f)
				fprintf(f, "\\u%04x", b);
			else
				fputc(b, f);
		}
	}
	fputc('"', f);
}

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
		json_str(stdout, msg, strlen(msg));
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
	struct qr_req_opts ro;
	bool consistency_set;
	char consistency_rw; /* 'r' or 'w' with QR_CONSISTENCY_RW */
	uint32_t retries;
	bool retries_set;
	enum qr_client_coordinator coordinator;
	long node; /* stat --node, -1: all */
	bool verbose;
	/* linearizable ops (CASPaxos) */
	bool linearizable;	  /* get --linearizable */
	bool if_absent;		  /* put --if-absent */
	bool if_version;	  /* put / del --if-version V */
	uint64_t exp_hlc;	  /* V */
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
	else if (!strcmp(s, "any")) {
		cl->ro.consistency = QR_CONSISTENCY_ANY;
		cl->consistency_rw = 'w'; /* writes only */
	}
	else if ((s[0] == 'r' || s[0] == 'w') && s[1] == '=' &&
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

static int report(const char *op, const char *key, const struct qr_result *r,
		  bool verbose)
{
	bool is_get = !strcmp(op, "get");
	if (json_mode) {
		printf("{\"ok\":%s,\"op\":\"%s\",\"key\":",
		       r->status ? "false" : "true", op);
		json_str(stdout, key, strlen(key));
		if (r->status)
			printf(",\"error\":\"%s\",\"code\":%d",
			       qr_strerror(r->status), r->status);
		if (is_get && !r->status) {
			printf(",\"value\":");
			json_str(stdout, r->value, r->value_len);
		}
		if (r->hlc) {
			printf(",\"version\":\"");
			print_version(stdout, r);
			printf("\",\"hlc\":%" PRIu64 ",\"node\":%u", r->hlc,
			       r->node);
		}
		if (r->tombstone)
			printf(",\"tombstone\":true");
		if (is_get && r->coordinator != 0xffff) {
			printf(",\"closed_ts\":%" PRIu64 ",\"lag_ms\":",
			       r->closed_ts);
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
	if (r->status) {
		fprintf(stderr, "quorate: %s %s: %s", op, key,
			qr_strerror(r->status));
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
	if (is_get) {
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

static int do_kv(struct cli *cl, const char *op, int argc, char **argv)
{
	int want = !strcmp(op, "put") ? 2 : 1;
	if (argc != want)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "%s takes %s, got %d argument(s)", op,
			    want == 2 ? "KEY VALUE" : "KEY", argc);
	const char *key = argv[0];
	if (cl->node >= 0)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--node is for stat (a key's node comes from "
			    "placement)");
	if (cl->consistency_rw == 'r' && strcmp(op, "get"))
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--consistency r=N is for get; use w=N for %s", op);
	if (cl->consistency_rw == 'w' && !strcmp(op, "get"))
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--consistency %s is for put and del",
			    cl->ro.consistency == QR_CONSISTENCY_ANY ? "any"
								      : "w=N");
	if (cl->linearizable && strcmp(op, "get"))
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--linearizable is for get");
	if (cl->if_absent && strcmp(op, "put"))
		return fail(EXIT_USAGE, QR_EINVAL, op, "--if-absent is for put");
	if (cl->if_version && !strcmp(op, "get"))
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--if-version is for put and del");
	if (cl->if_absent && cl->if_version)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "--if-absent and --if-version exclude each other");
	if ((cl->linearizable || cl->if_absent || cl->if_version) &&
	    cl->consistency_set &&
	    cl->ro.consistency != QR_CONSISTENCY_QUORUM)
		return fail(EXIT_USAGE, QR_EINVAL, op,
			    "linearizable operations always use a quorum");
	static uint8_t value[QR_CLIENT_VALUE_BYTES_MAX];
	size_t value_len = 0;
	if (want == 2) {
		if (!strcmp(argv[1], "-")) {
			int rc = read_stdin(value, sizeof(value), &value_len);
			if (rc)
				return fail(exit_code_of(rc), rc, op,
					    "value from stdin: %s",
					    rc == QR_ETOOLARGE
						    ? "longer than 1024 bytes"
						    : strerror(errno));
		} else {
			value_len = strlen(argv[1]);
			if (value_len > sizeof(value))
				return fail(EXIT_TOO_LARGE, QR_ETOOLARGE, op,
					    "value: %zu bytes, at most %d",
					    value_len,
					    QR_CLIENT_VALUE_BYTES_MAX);
			memcpy(value, argv[1], value_len);
		}
	}
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
	int rc = qr_cluster_load(cl->cluster, check, err, sizeof(err));
	free(check);
	if (rc)
		return fail(EXIT_CONFIG, QR_ECONFIG, op, "%s", err);
	struct qr_client_options o;
	qr_client_options_default(&o);
	if (cl->retries_set)
		o.retries = cl->retries;
	o.coordinator = cl->coordinator;
	struct qr_client *c = qr_client_open(cl->cluster, &o, err, sizeof(err));
	if (!c)
		return fail(EXIT_OTHER, QR_EIO, op, "%s", err);
	static struct qr_result r;
	if (!strcmp(op, "put") && cl->if_absent)
		qr_client_put_if_absent(c, key, strlen(key), value, value_len,
					&cl->ro, &r);
	else if (!strcmp(op, "put") && cl->if_version)
		qr_client_put_if_version(c, key, strlen(key), value, value_len,
					 cl->exp_hlc, cl->exp_node, &cl->ro,
					 &r);
	else if (!strcmp(op, "put"))
		qr_client_put(c, key, strlen(key), value, value_len, &cl->ro,
			      &r);
	else if (!strcmp(op, "get") && cl->linearizable)
		qr_client_get_linearizable(c, key, strlen(key), &cl->ro, &r);
	else if (!strcmp(op, "get"))
		qr_client_get(c, key, strlen(key), &cl->ro, &r);
	else if (cl->if_version)
		qr_client_del_if_version(c, key, strlen(key), cl->exp_hlc,
					 cl->exp_node, &cl->ro, &r);
	else
		qr_client_del(c, key, strlen(key), &cl->ro, &r);
	qr_client_close(c);
	return report(op, key, &r, cl->verbose);
}

/* ---- JSON reading (stat) ---------------------------------------------- */

/*
 * A small recursive-descent JSON reader over the daemon's stat text. With
 * out == NULL it only validates; else it renders the value readably:
 * objects as "key: value" lines indented two spaces per level, arrays as
 * "- value" lines. Strings are shown as they are written (escapes kept).
 */
struct jr {
	const char *s;
	size_t n, i;
	FILE *out;
};

static void jr_ws(struct jr *j)
{
	while (j->i < j->n && strchr(" \t\r\n", j->s[j->i]))
		j->i++;
}

static int jr_string(struct jr *j, bool print)
{
	size_t start = ++j->i; /* after the quote */
	while (j->i < j->n && j->s[j->i] != '"') {
		if ((unsigned char)j->s[j->i] < 0x20)
			return -1;
		if (j->s[j->i] == '\\') {
			j->i++;
			if (j->i >= j->n || !strchr("\"\\/bfnrtu", j->s[j->i]))
				return -1;
		}
		j->i++;
	}
	if (j->i >= j->n)
		return -1;
	if (print && j->out)
		fwrite(j->s + start, 1, j->i - start, j->out);
	j->i++;
	return 0;
}

static void jr_indent(struct jr *j, int depth)
{
	if (j->out)
		for (int k = 0; k < depth; k++)
			fputs("  ", j->out);
}

static int jr_value(struct jr *j, int depth);

/* A value after "key:" or "-": scalars on the same line, containers on
 * the next lines, one level deeper. */
static int jr_member_value(struct jr *j, int depth)
{
	jr_ws(j);
	if (j->i < j->n && (j->s[j->i] == '{' || j->s[j->i] == '[')) {
		char close = j->s[j->i] == '{' ? '}' : ']';
		size_t save = j->i + 1;
		while (save < j->n && strchr(" \t\r\n", j->s[save]))
			save++;
		if (save < j->n && j->s[save] == close) {
			if (j->out)
				fprintf(j->out, " %s\n",
					close == '}' ? "{}" : "[]");
			j->i = save + 1;
			return 0;
		}
		if (j->out)
			fputc('\n', j->out);
		return jr_value(j, depth + 1);
	}
	if (j->out)
		fputc(' ', j->out);
	int rc = jr_value(j, depth);
	if (!rc && j->out)
		fputc('\n', j->out);
	return rc;
}

static int jr_value(struct jr *j, int depth)
{
	if (depth > JSON_DEPTH_MAX)
		return -1;
	jr_ws(j);
	if (j->i >= j->n)
		return -1;
	char ch = j->s[j->i];
	if (ch == '{' || ch == '[') {
		bool obj = ch == '{';
		j->i++;
		jr_ws(j);
		if (j->i < j->n && j->s[j->i] == (obj ? '}' : ']')) {
			j->i++;
			return 0;
		}
		for (;;) {
			jr_ws(j);
			jr_indent(j, depth);
			if (obj) {
				if (j->i >= j->n || j->s[j->i] != '"' ||
				    jr_string(j, true))
					return -1;
				jr_ws(j);
				if (j->i >= j->n || j->s[j->i] != ':')
					return -1;
				j->i++;
				if (j->out)
					fputc(':', j->out);
			} else if (j->out) {
				fputc('-', j->out);
			}
			if (jr_member_value(j, depth))
				return -1;
			jr_ws(j);
			if (j->i < j->n && j->s[j->i] == ',') {
				j->i++;
				continue;
			}
			if (j->i < j->n && j->s[j->i] == (obj ? '}' : ']')) {
				j->i++;
				return 0;
			}
			return -1;
		}
	}
	if (ch == '"')
		return jr_string(j, true);
	size_t start = j->i;
	while (j->i < j->n && strchr("+-0123456789.eEtruefalsn", j->s[j->i]))
		j->i++;
	size_t len = j->i - start;
	const char *t = j->s + start;
	bool ok = (len == 4 && !strncmp(t, "true", 4)) ||
		  (len == 5 && !strncmp(t, "false", 5)) ||
		  (len == 4 && !strncmp(t, "null", 4));
	if (!ok && len) {
		char num[64];
		if (len >= sizeof(num))
			return -1;
		memcpy(num, t, len);
		num[len] = '\0';
		char *end;
		(void)strtod(num, &end);
		ok = *end == '\0' &&
		     (num[0] == '-' || (num[0] >= '0' && num[0] <= '9'));
	}
	if (!ok)
		return -1;
	if (j->out)
		fwrite(t, 1, len, j->out);
	return 0;
}

/* The whole text is one JSON object (and only whitespace after it). */
static bool json_valid_object(const char *s, size_t n)
{
	struct jr j = {.s = s, .n = n};
	jr_ws(&j);
	if (j.i >= n || s[j.i] != '{' || jr_value(&j, 0))
		return false;
	jr_ws(&j);
	return j.i == n;
}

/* ---- stat ------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Ask one node: 0 and a malloc'd text, or an enum qr_err and a message. */
static int stat_fetch(const char *path, const char *req,
		      uint32_t deadline_ms, char **text, size_t *len,
		      char *msg, size_t msg_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!*path) {
		snprintf(msg, msg_len, "no mgmt path in the cluster file");
		return QR_ECONFIG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
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
	uint64_t end = mono_ms() + deadline_ms;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		close(fd);
		snprintf(msg, msg_len, "out of memory");
		return QR_ENOMEM;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) !=
	    (ssize_t)strlen(req)) {
		snprintf(msg, msg_len, "send to %s: %s", path, strerror(errno));
		rc = QR_EUNAVAILABLE;
		goto out;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= end) {
			snprintf(msg, msg_len,
				 "%s: no complete answer in %u ms", path,
				 deadline_ms);
			rc = QR_ETIMEOUT;
			goto out;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)(end - now));
		if (pr < 0 && errno != EINTR) {
			snprintf(msg, msg_len, "poll: %s", strerror(errno));
			rc = QR_EIO;
			goto out;
		}
		if (pr <= 0)
			continue;
		if (n + 1 >= cap) {
			if (cap >= STAT_BYTES_MAX) {
				snprintf(msg, msg_len,
					 "%s: answer longer than %u bytes",
					 path, STAT_BYTES_MAX);
				rc = QR_ETOOLARGE;
				goto out;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(msg, msg_len, "out of memory");
				rc = QR_ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(msg, msg_len, "read %s: %s", path,
				 strerror(errno));
			rc = QR_EUNAVAILABLE;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (!json_valid_object(buf, n)) {
		snprintf(msg, msg_len, "%s: the answer is not one JSON object",
			 path);
		rc = QR_EMALFORMED;
		goto out;
	}
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = '\0';
	*text = buf;
	*len = n;
	close(fd);
	return 0;
out:
	free(buf);
	close(fd);
	return rc;
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
				json_str(stdout, msg, strlen(msg));
				printf("}");
			}
		} else if (!rc) {
			printf("node %d (%s):\n", id, path);
			struct jr j = {.s = text, .n = len, .out = stdout};
			jr_ws(&j);
			(void)jr_value(&j, 1);
		} else {
			fprintf(stderr, "quorate: %s node %d: %s: %s\n", op,
				id, qr_strerror(rc), msg);
		}
		free(text);
	}
	if (json_mode)
		printf(array ? "]\n" : "\n");
	return code;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
	enum {
		OPT_COORDINATOR = 256,
		OPT_ON_STALE,
		OPT_LINEARIZABLE,
		OPT_IF_ABSENT,
		OPT_IF_VERSION,
	};
	static const struct option longopts[] = {
		{"cluster", required_argument, NULL, 'c'},
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
	uint64_t v;
	while ((opt = getopt_long(argc, argv, ":c:C:d:r:m:n:jvhV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'c':
			cl.cluster = optarg;
			break;
		case 'C':
			if (parse_consistency(&cl, optarg))
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--consistency '%s': expected one, "
					    "quorum, all, any, r=N or w=N (N "
					    "1..7)",
					    optarg);
			break;
		case 'd':
			if (parse_u64(optarg, 3600000, &v) || !v)
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--deadline-ms '%s': expected "
					    "1..3600000",
					    optarg);
			cl.ro.deadline_ms = (uint32_t)v;
			break;
		case 'r':
			if (parse_u64(optarg, 63, &v))
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--retries '%s': expected 0..63",
					    optarg);
			cl.retries = (uint32_t)v;
			cl.retries_set = true;
			break;
		case 'm':
			if (parse_version(optarg, &cl.ro.min_version))
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--min-version '%s': expected HLC "
					    "or HLC.NODE",
					    optarg);
			break;
		case OPT_ON_STALE:
			if (!strcmp(optarg, "wait"))
				cl.ro.on_stale = QR_ON_STALE_WAIT;
			else if (!strcmp(optarg, "error"))
				cl.ro.on_stale = QR_ON_STALE_ERROR;
			else if (!strcmp(optarg, "quorum"))
				cl.ro.on_stale = QR_ON_STALE_QUORUM;
			else
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--on-stale '%s': expected wait, "
					    "error or quorum",
					    optarg);
			break;
		case OPT_LINEARIZABLE:
			cl.linearizable = true;
			break;
		case OPT_IF_ABSENT:
			cl.if_absent = true;
			break;
		case OPT_IF_VERSION:
			if (parse_full_version(optarg, &cl.exp_hlc,
					       &cl.exp_node))
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--if-version '%s': expected "
					    "HLC.NODE as printed",
					    optarg);
			cl.if_version = true;
			break;
		case OPT_COORDINATOR:
			if (!strcmp(optarg, "first"))
				cl.coordinator = QR_COORD_FIRST;
			else if (!strcmp(optarg, "random"))
				cl.coordinator = QR_COORD_RANDOM;
			else
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--coordinator '%s': expected "
					    "first or random",
					    optarg);
			break;
		case 'n':
			if (parse_u64(optarg, QR_CLUSTER_NODES_MAX - 1, &v))
				return fail(EXIT_USAGE, QR_EINVAL, NULL,
					    "--node '%s': expected a node id",
					    optarg);
			cl.node = (long)v;
			break;
		case 'j':
			json_mode = true;
			break;
		case 'v':
			cl.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			printf("quorate %s\n", QR_VERSION);
			return EXIT_OK;
		case ':':
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "option '%s' needs a value",
				    argv[optind - 1]);
		default:
			return fail(EXIT_USAGE, QR_EINVAL, NULL,
				    "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "no command (put, get, del, stat or repair)");
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	bool kv = !strcmp(cmd, "put") || !strcmp(cmd, "get") ||
		  !strcmp(cmd, "del");
	if (!kv && strcmp(cmd, "stat") && strcmp(cmd, "repair"))
		return fail(EXIT_USAGE, QR_EINVAL, NULL,
			    "unknown command '%s' (put, get, del, stat or "
			    "repair)",
			    cmd);
	if (!cl.cluster)
		cl.cluster = getenv("QUORATE_CLUSTER");
	if (!cl.cluster || !*cl.cluster)
		return fail(EXIT_USAGE, QR_EINVAL, cmd,
			    "no cluster file: give --cluster FILE or set "
			    "QUORATE_CLUSTER");
	int code =
		kv ? do_kv(&cl, cmd, nargs, args) : do_stat(&cl, cmd, nargs, args);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "quorate: writing stdout: %s\n",
			strerror(errno));
		return code ? code : EXIT_OTHER;
	}
	return code;
}
