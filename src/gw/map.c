/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's request mapping (map.h has the invariants M1..M4; the
 * tables are in docs/http.md). Nothing here allocates or does I/O.
 */
#include "gw/map.h"

#include "cli/version.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[GW_M_COUNT] = {
	"GET", "HEAD", "PUT", "POST", "DELETE", "OTHER",
};

enum gw_method gw_method_of(const char *s)
{
	for (int m = 0; m < GW_M_OTHER; m++)
		if (!strcmp(s, method_names[m]))
			return (enum gw_method)m;
	return GW_M_OTHER;
}

const char *gw_method_name(enum gw_method m)
{
	return m < GW_M_COUNT ? method_names[m] : "OTHER";
}

/* A decimal number of n bytes, no sign, no leading '+'/space: 0 or -1. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* The readable form "2026-12-06T09:14:41.123Z+0.1" (the CLI prints it;
 * src/cli/version.c parses it for both). */
static int parse_readable(const char *s, size_t n, bool need_node,
			  struct gw_version *v)
{
	char buf[64];
	bool has_node = false;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (qr_cli_version_parse(buf, &v->hlc, &v->node, &has_node) ||
	    v->hlc == 0 || (need_node && !has_node))
		return -1;
	if (!has_node)
		v->node = 0;
	return 0;
}

int gw_version_parse(const char *s, size_t n, bool need_node,
		     struct gw_version *v)
{
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	const char *dot = memchr(s, '.', n);
	uint64_t hlc, node = 0;
	size_t hn = dot ? (size_t)(dot - s) : n;
	if (memchr(s, '+', n))
		return parse_readable(s, n, need_node, v);
	if (parse_dec(s, hn, UINT64_MAX, &hlc) || hlc == 0)
		return -1;
	if (dot && parse_dec(dot + 1, n - hn - 1, 0xffff, &node))
		return -1;
	if (!dot && need_node)
		return -1;
	v->hlc = hlc;
	v->node = (uint16_t)node;
	return 0;
}

int gw_version_format(char *buf, size_t len, uint64_t hlc, uint16_t node)
{
	return snprintf(buf, len, "%" PRIu64 ".%u", hlc, node);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int gw_key_decode(const char *raw, size_t raw_len, uint8_t *key,
		  size_t *key_len, const char **why)
{
	size_t n = 0;
	for (size_t i = 0; i < raw_len; i++) {
		int c = (unsigned char)raw[i];
		if (c == '%') {
			if (raw_len - i < 3 || hexval(raw[i + 1]) < 0 ||
			    hexval(raw[i + 2]) < 0) {
				*why = "bad %XX escape in the key";
				return 400;
			}
			c = hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]);
			i += 2;
		}
		if (n == QR_CLIENT_KEY_BYTES_MAX) {
			*why = "key longer than 255 bytes";
			return 414;
		}
		key[n++] = (uint8_t)c;
	}
	if (n == 0) {
		*why = "empty key";
		return 400;
	}
	*key_len = n;
	return 0;
}

/* X-Consistency: one|quorum|all|any|local_one|local_quorum|each_quorum|
 * linearizable|r=N|w=N|r=N,w=N. */
static int parse_consistency(const char *s, struct gw_kv *kv)
{
	static const struct {
		const char *name;
		enum qr_consistency c;
	} levels[] = {
		{"one", QR_CONSISTENCY_ONE},
		{"quorum", QR_CONSISTENCY_QUORUM},
		{"all", QR_CONSISTENCY_ALL},
		{"any", QR_CONSISTENCY_ANY},
		{"local_one", QR_CONSISTENCY_LOCAL_ONE},
		{"local_quorum", QR_CONSISTENCY_LOCAL_QUORUM},
		{"each_quorum", QR_CONSISTENCY_EACH_QUORUM},
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(s, levels[i].name)) {
			kv->opts.consistency = levels[i].c;
			return 0;
		}
	if (!strcasecmp(s, "linearizable")) {
		if (kv->method != GW_M_GET && kv->method != GW_M_HEAD)
			return -1;
		kv->op = QR_CLIENT_GET_LINEARIZABLE;
		return 0;
	}
	/* r=N, w=N, or both separated by ',' */
	kv->opts.consistency = QR_CONSISTENCY_RW;
	const char *p = s;
	bool any = false;
	while (*p) {
		char which = (char)(*p | 0x20);
		if ((which != 'r' && which != 'w') || p[1] != '=')
			return -1;
		const char *end = strchr(p + 2, ',');
		size_t n = end ? (size_t)(end - p - 2) : strlen(p + 2);
		uint64_t v;
		if (parse_dec(p + 2, n, QR_RF_MAX, &v) || v == 0)
			return -1;
		if (which == 'r')
			kv->opts.r = (uint8_t)v;
		else
			kv->opts.w = (uint8_t)v;
		any = true;
		p = end ? end + 1 : p + 2 + n;
		if (end && !*p)
			return -1;
	}
	return any ? 0 : -1;
}

static int parse_stale(const char *s, enum qr_on_stale *o)
{
	if (!strcasecmp(s, "wait"))
		*o = QR_ON_STALE_WAIT;
	else if (!strcasecmp(s, "error"))
		*o = QR_ON_STALE_ERROR;
	else if (!strcasecmp(s, "quorum"))
		*o = QR_ON_STALE_QUORUM;
	else
		return -1;
	return 0;
}

/* If-None-Match on GET: "*" or a list of strong entity tags. */
static int parse_inm_list(const char *s, struct gw_kv *kv)
{
	if (!strcmp(s, "*")) {
		kv->inm_any = true;
		return 0;
	}
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"')
			return -1; /* weak (W/) or unquoted tags: refused */
		const char *q = strchr(p + 1, '"');
		if (!q || kv->inm_n == GW_INM_TAGS_MAX ||
		    gw_version_parse(p, (size_t)(q - p + 1), true,
				     &kv->inm[kv->inm_n]))
			return -1;
		kv->inm_n++;
		p = q + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* If-Match / If-None-Match: which conditional operation (M2). */
static int map_conditions(const struct gw_hdrs *h, struct gw_kv *kv,
			  const char **why)
{
	bool get = kv->method == GW_M_GET || kv->method == GW_M_HEAD;
	if (h->if_match && h->if_none_match) {
		*why = "If-Match and If-None-Match exclude each other";
		return 400;
	}
	if (h->if_match) {
		struct gw_version v;
		if (kv->method != GW_M_PUT && kv->method != GW_M_DELETE) {
			*why = "If-Match applies to PUT and DELETE";
			return 400;
		}
		if (gw_version_parse(h->if_match, strlen(h->if_match), true,
				     &v) ||
		    h->if_match[0] != '"') {
			*why = "If-Match must be one strong ETag \"HLC.NODE\"";
			return 400;
		}
		kv->op = kv->method == GW_M_PUT ? QR_CLIENT_PUT_IF_VERSION
						: QR_CLIENT_DEL_IF_VERSION;
		kv->if_hlc = v.hlc;
		kv->if_node = v.node;
	} else if (h->if_none_match && get) {
		if (parse_inm_list(h->if_none_match, kv)) {
			*why = "If-None-Match must be * or strong ETags "
			       "\"HLC.NODE\"";
			return 400;
		}
	} else if (h->if_none_match) {
		if (kv->method != GW_M_PUT || strcmp(h->if_none_match, "*")) {
			*why = "If-None-Match on a write must be * on PUT";
			return 400;
		}
		kv->op = QR_CLIENT_PUT_IF_ABSENT;
	}
	return 0;
}

static int map_op(enum gw_method m, struct gw_kv *kv, const char **why)
{
	switch (m) {
	case GW_M_GET:
	case GW_M_HEAD:
		kv->op = QR_CLIENT_GET;
		return 0;
	case GW_M_PUT:
		kv->op = QR_CLIENT_PUT;
		return 0;
	case GW_M_POST:
		kv->op = QR_CLIENT_PUT_IF_ABSENT;
		kv->create = true;
		return 0;
	case GW_M_DELETE:
		kv->op = QR_CLIENT_DEL;
		return 0;
	default:
		*why = "method not allowed on /v1/kv/{key}";
		return 405;
	}
}

static bool op_is_cas(enum qr_client_op op)
{
	return op == QR_CLIENT_GET_LINEARIZABLE ||
	       op == QR_CLIENT_PUT_IF_ABSENT ||
	       op == QR_CLIENT_PUT_IF_VERSION || op == QR_CLIENT_DEL_IF_VERSION;
}

/* The options headers (M1). */
static int map_opts(const struct gw_hdrs *h, struct gw_kv *kv, const char **why)
{
	uint64_t v;
	struct gw_version mv;
	if (h->consistency && parse_consistency(h->consistency, kv)) {
		*why = "X-Consistency: one|quorum|all|any|r=N|w=N|local_one|"
		       "local_quorum|each_quorum|linearizable (GET)";
		return 400;
	}
	if (h->min_version) {
		if (gw_version_parse(h->min_version, strlen(h->min_version),
				     false, &mv)) {
			*why = "X-Min-Version must be a version HLC.NODE or "
			       "an HLC";
			return 400;
		}
		kv->opts.min_version = mv.hlc;
	}
	if (h->stale_policy &&
	    parse_stale(h->stale_policy, &kv->opts.on_stale)) {
		*why = "X-Stale-Policy: wait|error|quorum";
		return 400;
	}
	if (h->deadline_ms) {
		if (parse_dec(h->deadline_ms, strlen(h->deadline_ms),
			      GW_DEADLINE_MS_MAX, &v) ||
		    v == 0) {
			*why = "X-Deadline-Ms must be 1..60000";
			return 400;
		}
		kv->opts.deadline_ms = (uint32_t)v;
	}
	return 0;
}

int gw_map_kv(enum gw_method m, const struct gw_hdrs *h, struct gw_kv *out,
	      const char **why)
{
	memset(out, 0, sizeof(*out));
	out->method = m;
	int st = map_op(m, out, why);
	if (!st)
		st = map_opts(h, out, why);
	if (!st)
		st = map_conditions(h, out, why);
	if (st)
		return st;
	if (op_is_cas(out->op) &&
	    out->opts.consistency != QR_CONSISTENCY_DEFAULT &&
	    out->opts.consistency != QR_CONSISTENCY_QUORUM) {
		*why = "conditional and linearizable requests run CASPaxos "
		       "on a majority: X-Consistency must be quorum or absent";
		return 400;
	}
	return 0;
}

unsigned gw_status_of_err(int err)
{
	switch (err) {
	case QR_OK:
		return 200;
	case QR_ENOTFOUND:
		return 404;
	case QR_EUNAVAILABLE:
	case QR_ENOMEM:
		return 503;
	case QR_ETIMEOUT:
		return 504;
	case QR_EPRECONDITION:
	case QR_ESTALE:
	case QR_ECLOCK:
		return 412;
	case QR_ETOOLARGE:
		return 413;
	case QR_EMALFORMED:
	case QR_EINVAL:
		return 400;
	case QR_EBUSY:
		return 429;
	case QR_ENOSPC:
	case QR_EFULL:
		return 507;
	default: /* EIO, EUNAUTHORIZED (the gateway's key), wire errors */
		return 502;
	}
}

static const char *message_of(const struct gw_kv *kv, int err, bool write)
{
	switch (err) {
	case QR_ENOTFOUND:
		return "no such key (if it was deleted: ETag is the "
		       "tombstone's version)";
	case QR_EUNAVAILABLE:
		return write ? "too few replicas reachable: the write's "
			       "outcome is unknown (it may have reached fewer "
			       "than W replicas and may still spread); retry "
			       "or read it back"
			     : "too few replicas reachable for this level";
	case QR_ETIMEOUT:
		return write ? "deadline passed: the write's outcome is "
			       "unknown (it may have been applied)"
			     : "deadline passed before enough replicas "
			       "answered";
	case QR_EPRECONDITION:
		return kv->create ? "the key exists (its version is in ETag)"
				  : "precondition failed (the current version "
				    "is in ETag)";
	case QR_ESTALE:
		return "no replica has applied X-Min-Version yet";
	case QR_ECLOCK:
		return "X-Min-Version is ahead of the coordinator's clock";
	case QR_EBUSY:
		return "overloaded: retry after Retry-After seconds";
	case QR_ETOOLARGE:
		return "key or value too large";
	case QR_EUNAUTHORIZED:
		return "the cluster refused the gateway's client key";
	default:
		return NULL;
	}
}

void gw_map_result(const struct gw_kv *kv, const struct qr_result *r,
		   struct gw_reply *out)
{
	bool get =
		kv->op == QR_CLIENT_GET || kv->op == QR_CLIENT_GET_LINEARIZABLE;
	int err = r->status;
	memset(out, 0, sizeof(*out));
	out->version = r->hlc != 0;
	if (err == QR_OK) {
		if (!get) {
			out->status =
				kv->create || kv->op == QR_CLIENT_PUT_IF_ABSENT
					? 201
					: 204;
			return;
		}
		bool match = kv->inm_any;
		for (unsigned i = 0; i < kv->inm_n && !match; i++)
			match = kv->inm[i].hlc == r->hlc &&
				kv->inm[i].node == r->node;
		out->status = match ? 304 : 200;
		out->value = !match;
		return;
	}
	out->status = gw_status_of_err(err);
	if (err == QR_EPRECONDITION && kv->create)
		out->status = 409;
	out->error = qr_strerror(err);
	out->message = message_of(kv, err, !get);
	out->retry_after = out->status == 429 || out->status == 503;
	out->unknown = !get && (err == QR_EUNAVAILABLE || err == QR_ETIMEOUT);
}
