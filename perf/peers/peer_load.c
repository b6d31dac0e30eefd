/* SPDX-License-Identifier: MIT */
/*
 * peer-load: the closed-loop load generator for the peer benchmarks
 * (perf/peers/, issue 5). One binary speaks the three peers' wire protocols
 * with nothing but libc, so the client side costs the same kind of CPU for
 * each peer and for quorate-load (one blocking thread per client, one request
 * outstanding, latency from send to full reply on CLOCK_MONOTONIC):
 *
 *   etcd       HTTP/1.1 + JSON to the v3 gRPC gateway, persistent
 *              connections: POST /v3/kv/put (write), POST /v3/kv/range
 *              (read, linearizable: the gateway's default).
 *   redis      RESP: SET key value, then WAIT 1 0 on the same connection
 *              (both sent in one write: redis runs them in order, and the
 *              write counts as done when WAIT says one replica has it);
 *              GET for reads.
 *   tarantool  iproto (msgpack): REPLACE into a synchronous space (write),
 *              SELECT by primary key (read).
 *
 * Clients are spread round-robin over --endpoints. Each op picks a key
 * uniformly from K keys of exactly --key-bytes bytes; values are
 * --value-bytes bytes. --op preload writes every key once (untimed, prints
 * nothing) so that reads find their keys.
 *
 * Output, one line: peer= op= clients= keys= key_bytes= value_bytes=
 * seconds= ops= ops_per_s= p50_us= p90_us= p99_us= p999_us= max_us= errors=
 * Percentiles are nearest-rank over every successful request's latency.
 * An error is a failed request: an error reply, a missing key on read, a
 * WAIT that returned 0 replicas, a timeout (SOCK_TIMEOUT_S) or a broken
 * connection (the client reconnects, at most RECONNECTS_MAX times).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define CLIENTS_MAX	256		      /* threads, one connection each */
#define ENDPOINTS_MAX	8		      /* --endpoints list length */
#define KEY_BYTES_MAX	512		      /* --key-bytes */
#define VALUE_BYTES_MAX (1 << 20)	      /* --value-bytes (issue 15) */
#define SAMPLES_MAX	(1u << 21)	      /* latencies kept per client */
#define REQ_BYTES_MAX	(4 * VALUE_BYTES_MAX) /* one encoded request */
#define RBUF_BYTES	(4 * VALUE_BYTES_MAX) /* receive buffer per client */
#define SOCK_TIMEOUT_S	5   /* a request slower than this is an error */
#define RECONNECTS_MAX	100 /* per client, then it gives up */

enum proto { P_ETCD, P_REDIS, P_TARANTOOL };
enum op { OP_WRITE, OP_READ, OP_PRELOAD };

struct endpoint {
	char host[64];
	int port;
};

struct client {
	pthread_t t;
	int id;
	int fd;
	const struct endpoint *ep;
	uint32_t sync; /* iproto request id */
	uint64_t ops, errors, reconnects;
	uint64_t t_last_ns; /* completion of the last request */
	uint32_t *lat_ns;   /* successful requests, saturating */
	uint32_t nlat, lat_dropped;
	char *rbuf; /* received, not yet parsed: [rpos, rlen) */
	size_t rpos, rlen;
	char *req; /* request being built */
	char key[KEY_BYTES_MAX + 1];
	char err[160]; /* first error seen, for stderr */
};

static enum proto proto;
static enum op op = OP_WRITE;
static const char *peer_name;
static struct endpoint eps[ENDPOINTS_MAX];
static int n_eps;
static int clients = 16, keys = 1000, key_bytes = 16, value_bytes = 64;
static double seconds = 10;
static int space_id = 512; /* tarantool */
static char value[VALUE_BYTES_MAX];
static char value_b64[VALUE_BYTES_MAX * 4 / 3 + 8];
static uint64_t t_start_ns, t_end_ns;
static pthread_barrier_t start_barrier;

static int fail(struct client *c, const char *why)
{
	if (!c->err[0])
		snprintf(c->err, sizeof(c->err), "%s", why);
	return -1;
}

/* --- connection and buffered reads -------------------------------------- */

static int conn_open(struct client *c)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM},
			*ai;
	char port[16];
	snprintf(port, sizeof(port), "%d", c->ep->port);
	if (getaddrinfo(c->ep->host, port, &hints, &ai) != 0)
		return fail(c, "getaddrinfo failed");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return fail(c, "socket failed");
	}
	int one = 1;
	struct timeval tv = {.tv_sec = SOCK_TIMEOUT_S};
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0) {
		close(fd);
		return fail(c, "connect failed");
	}
	c->fd = fd;
	c->rpos = c->rlen = 0;
	return 0;
}

static void conn_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_all(struct client *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(c, "send failed or timed out");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make at least n unparsed bytes available at c->rbuf + c->rpos. */
static int need(struct client *c, size_t n)
{
	if (n > RBUF_BYTES)
		return fail(c, "reply larger than the receive buffer");
	if (c->rlen - c->rpos >= n)
		return 0;
	if (c->rpos) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	while (c->rlen < n) {
		ssize_t r =
			recv(c->fd, c->rbuf + c->rlen, RBUF_BYTES - c->rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(c, r == 0 ? "connection closed by peer"
					      : "recv failed or timed out");
		c->rlen += (size_t)r;
	}
	return 0;
}

/* A line ending in CRLF; returns its length without the CRLF, or -1. */
static long read_line(struct client *c, const char **line)
{
	size_t scanned = 0;
	for (;;) {
		const char *p = c->rbuf + c->rpos;
		size_t have = c->rlen - c->rpos;
		for (size_t i = scanned ? scanned - 1 : 0; i + 1 < have; i++)
			if (p[i] == '\r' && p[i + 1] == '\n') {
				*line = p;
				c->rpos += i + 2;
				return (long)i;
			}
		scanned = have;
		if (need(c, have + 1) != 0)
			return -1;
	}
}

/* --- keys and encodings ------------------------------------------------- */

/* Key number k as exactly key_bytes bytes: "k" then zero-padded digits. */
static void make_key(char *out, uint64_t k)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, k);
	int pad = key_bytes - n;
	if (pad < 1) { /* too short for the number: use its last digits */
		memcpy(out, digits + n - key_bytes, (size_t)key_bytes);
	} else {
		out[0] = 'k';
		memset(out + 1, '0', (size_t)pad - 1);
		memcpy(out + pad, digits, (size_t)n);
	}
	out[key_bytes] = '\0';
}

static size_t b64(char *out, const char *in, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
		"wxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16 |
			     (uint32_t)(unsigned char)in[i + 1] << 8 |
			     (unsigned char)in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = t[v >> 6 & 63];
		out[o++] = t[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16 |
			     (uint32_t)(unsigned char)in[i + 1] << 8;
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = t[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* --- etcd: HTTP/1.1 to the gRPC gateway ---------------------------------- */

/*
 * Reads one response; *status gets the HTTP status. Handles Content-Length
 * and chunked bodies; the body is left at c->rbuf + *body_off, *body_len
 * bytes (chunked bodies are only checked, not reassembled: *body_len 0).
 */
static int http_response(struct client *c, int *status, size_t *body_off,
			 size_t *body_len)
{
	const char *line;
	long n = read_line(c, &line);
	if (n < 12 || sscanf(line, "HTTP/1.%*d %d", status) != 1)
		return fail(c, "bad HTTP status line");
	long content_length = -1;
	int chunked = 0, closing = 0;
	while ((n = read_line(c, &line)) > 0) {
		if (!strncasecmp(line, "Content-Length:", 15))
			content_length = strtol(line + 15, NULL, 10);
		else if (!strncasecmp(line, "Transfer-Encoding:", 18) &&
			 memmem(line, (size_t)n, "chunked", 7))
			chunked = 1;
		else if (!strncasecmp(line, "Connection:", 11) &&
			 memmem(line, (size_t)n, "close", 5))
			closing = 1;
	}
	if (n < 0)
		return -1;
	*body_len = 0;
	if (chunked) {
		for (;;) {
			if ((n = read_line(c, &line)) < 0)
				return -1;
			size_t sz = strtoul(line, NULL, 16);
			if (need(c, sz + 2) != 0)
				return -1;
			c->rpos += sz + 2;
			if (sz == 0)
				break;
		}
	} else if (content_length >= 0) {
		if (need(c, (size_t)content_length) != 0)
			return -1;
		*body_off = c->rpos;
		*body_len = (size_t)content_length;
		c->rpos += (size_t)content_length;
	} else {
		return fail(c, "HTTP response without length");
	}
	if (closing)
		conn_close(c);
	return 0;
}

static int etcd_do(struct client *c, int is_write)
{
	char key_b64[KEY_BYTES_MAX * 4 / 3 + 8];
	char body[sizeof(value_b64) + sizeof(key_b64) + 64];
	b64(key_b64, c->key, (size_t)key_bytes);
	int bl = is_write ? snprintf(body, sizeof(body),
				     "{\"key\":\"%s\",\"value\":\"%s\"}",
				     key_b64, value_b64)
			  : snprintf(body, sizeof(body), "{\"key\":\"%s\"}",
				     key_b64);
	int hl = snprintf(c->req, REQ_BYTES_MAX,
			  "POST /v3/kv/%s HTTP/1.1\r\nHost: %s:%d\r\n"
			  "Content-Type: application/json\r\n"
			  "Content-Length: %d\r\n\r\n%s",
			  is_write ? "put" : "range", c->ep->host, c->ep->port,
			  bl, body);
	if (send_all(c, c->req, (size_t)hl) != 0)
		return -1;
	int status;
	size_t off = 0, len = 0;
	if (http_response(c, &status, &off, &len) != 0)
		return -1;
	if (status != 200)
		return fail(c, "HTTP status not 200");
	if (!is_write && !memmem(c->rbuf + off, len, "\"kvs\"", 5))
		return fail(c, "etcd range: key not found");
	return 1;
}

/* --- redis: RESP --------------------------------------------------------- */

static size_t resp_bulk(char *out, const char *s, size_t n)
{
	size_t o = (size_t)sprintf(out, "$%zu\r\n", n);
	memcpy(out + o, s, n);
	memcpy(out + o + n, "\r\n", 2);
	return o + n + 2;
}

/* One reply; *integer gets an integer reply's value, *nil 1 for a nil bulk. */
static int resp_reply(struct client *c, long long *integer, int *nil)
{
	const char *line;
	long n = read_line(c, &line);
	if (n < 1)
		return fail(c, "bad RESP reply");
	*nil = 0;
	switch (line[0]) {
	case '+':
		return 0;
	case ':':
		*integer = strtoll(line + 1, NULL, 10);
		return 0;
	case '$': {
		long len = strtol(line + 1, NULL, 10);
		if (len < 0) {
			*nil = 1;
			return 0;
		}
		if (need(c, (size_t)len + 2) != 0)
			return -1;
		c->rpos += (size_t)len + 2;
		return 0;
	}
	case '-':
		return fail(c, "redis error reply");
	default:
		return fail(c, "unexpected RESP reply type");
	}
}

static int redis_do(struct client *c, int is_write)
{
	size_t o = 0;
	long long integer = -1;
	int nil;
	if (is_write) {
		o += (size_t)sprintf(c->req, "*3\r\n$3\r\nSET\r\n");
		o += resp_bulk(c->req + o, c->key, (size_t)key_bytes);
		o += resp_bulk(c->req + o, value, (size_t)value_bytes);
		static const char wait_cmd[] =
			"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n";
		memcpy(c->req + o, wait_cmd, sizeof(wait_cmd) - 1);
		o += sizeof(wait_cmd) - 1;
	} else {
		o += (size_t)sprintf(c->req, "*2\r\n$3\r\nGET\r\n");
		o += resp_bulk(c->req + o, c->key, (size_t)key_bytes);
	}
	if (send_all(c, c->req, o) != 0)
		return -1;
	if (is_write) {
		int set_ok = resp_reply(c, &integer, &nil) == 0;
		if (resp_reply(c, &integer, &nil) != 0) /* WAIT */
			return -1;
		if (!set_ok)
			return -2; /* SET failed; the stream is still in sync */
		if (integer < 1)
			return fail(c, "WAIT: no replica acknowledged");
		return 1;
	}
	if (resp_reply(c, &integer, &nil) != 0)
		return -1;
	if (nil)
		return fail(c, "redis GET: key not found");
	return 1;
}

/* --- tarantool: iproto --------------------------------------------------- */

#define IPROTO_REQUEST_TYPE   0x00
#define IPROTO_SYNC	      0x01
#define IPROTO_SPACE_ID	      0x10
#define IPROTO_INDEX_ID	      0x11
#define IPROTO_LIMIT	      0x12
#define IPROTO_OFFSET	      0x13
#define IPROTO_ITERATOR	      0x14
#define IPROTO_KEY	      0x20
#define IPROTO_TUPLE	      0x21
#define IPROTO_DATA	      0x30
#define IPROTO_ERROR_24	      0x31
#define IPROTO_SELECT	      0x01
#define IPROTO_REPLACE	      0x03
#define IPROTO_GREETING_BYTES 128

static size_t mp_uint(char *out, uint64_t v)
{
	if (v < 128) {
		out[0] = (char)v;
		return 1;
	}
	if (v <= 0xffff) {
		out[0] = (char)0xcd;
		out[1] = (char)(v >> 8);
		out[2] = (char)v;
		return 3;
	}
	out[0] = (char)0xce;
	for (int i = 0; i < 4; i++)
		out[1 + i] = (char)(v >> (24 - 8 * i));
	return 5;
}

static size_t mp_str(char *out, const char *s, size_t n)
{
	size_t o;
	if (n < 32) {
		out[0] = (char)(0xa0 | n);
		o = 1;
	} else if (n < 256) {
		out[0] = (char)0xd9;
		out[1] = (char)n;
		o = 2;
	} else {
		out[0] = (char)0xda;
		out[1] = (char)(n >> 8);
		out[2] = (char)n;
		o = 3;
	}
	memcpy(out + o, s, n);
	return o + n;
}

/* An unsigned msgpack integer at *p (advanced); -1 if it is not one. */
static int64_t mp_read_uint(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *q = *p;
	if (q >= end)
		return -1;
	int n;
	if (q[0] < 0x80) {
		*p = q + 1;
		return q[0];
	}
	switch (q[0]) {
	case 0xcc:
		n = 1;
		break;
	case 0xcd:
		n = 2;
		break;
	case 0xce:
		n = 4;
		break;
	case 0xcf:
		n = 8;
		break;
	default:
		return -1;
	}
	if (q + 1 + n > end)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | q[1 + i];
	*p = q + 1 + n;
	return (int64_t)(v & INT64_MAX);
}

static int tarantool_do(struct client *c, int is_write)
{
	char *b = c->req + 5; /* after the 5-byte length prefix */
	size_t o = 0;
	b[o++] = (char)0x82; /* header: {type, sync} */
	b[o++] = IPROTO_REQUEST_TYPE;
	b[o++] = is_write ? IPROTO_REPLACE : IPROTO_SELECT;
	b[o++] = IPROTO_SYNC;
	o += mp_uint(b + o, ++c->sync);
	if (is_write) {
		b[o++] = (char)0x82; /* {space, tuple: [key, value]} */
		b[o++] = IPROTO_SPACE_ID;
		o += mp_uint(b + o, (uint64_t)space_id);
		b[o++] = IPROTO_TUPLE;
		b[o++] = (char)0x92;
		o += mp_str(b + o, c->key, (size_t)key_bytes);
		o += mp_str(b + o, value, (size_t)value_bytes);
	} else {
		b[o++] =
			(char)0x86; /* {space, index, limit, offset, it, key} */
		b[o++] = IPROTO_SPACE_ID;
		o += mp_uint(b + o, (uint64_t)space_id);
		b[o++] = IPROTO_INDEX_ID;
		b[o++] = 0;
		b[o++] = IPROTO_LIMIT;
		b[o++] = 1;
		b[o++] = IPROTO_OFFSET;
		b[o++] = 0;
		b[o++] = IPROTO_ITERATOR;
		b[o++] = 0; /* EQ */
		b[o++] = IPROTO_KEY;
		b[o++] = (char)0x91;
		o += mp_str(b + o, c->key, (size_t)key_bytes);
	}
	c->req[0] = (char)0xce;
	for (int i = 0; i < 4; i++)
		c->req[1 + i] = (char)(o >> (24 - 8 * i));
	if (send_all(c, c->req, o + 5) != 0)
		return -1;

	/* Reply: 0xce len32, header map, body map. */
	if (need(c, 5) != 0)
		return -1;
	const unsigned char *p = (const unsigned char *)c->rbuf + c->rpos;
	const unsigned char *end = p + 5;
	int64_t len = mp_read_uint(&p, end);
	if (len < 0)
		return fail(c, "bad iproto length");
	c->rpos += 5;
	if (need(c, (size_t)len) != 0)
		return -1;
	p = (const unsigned char *)c->rbuf + c->rpos;
	end = p + len;
	c->rpos += (size_t)len;
	if (p >= end || (p[0] & 0xf0) != 0x80)
		return fail(c, "bad iproto header");
	int pairs = p[0] & 0x0f;
	p++;
	int64_t code = -1, sync = -1;
	for (int i = 0; i < pairs; i++) {
		int64_t k = mp_read_uint(&p, end);
		int64_t v = mp_read_uint(&p, end);
		if (k < 0 || v < 0)
			return fail(c, "bad iproto header field");
		if (k == IPROTO_REQUEST_TYPE)
			code = v;
		else if (k == IPROTO_SYNC)
			sync = v;
	}
	if (sync != c->sync)
		return fail(c, "iproto reply for another request");
	if (code != 0) {
		/* body {IPROTO_ERROR_24: str, ...}: keep the message */
		char msg[128] = "tarantool error reply";
		if (end - p > 3 && (p[0] & 0xf0) == 0x80 &&
		    p[1] == IPROTO_ERROR_24) {
			size_t n = 0, h = 0;
			if ((p[2] & 0xe0) == 0xa0)
				n = p[2] & 0x1f, h = 1;
			else if (p[2] == 0xd9 && end - p > 4)
				n = p[3], h = 2;
			if (h && p + 2 + h + n <= end)
				snprintf(msg, sizeof(msg), "tarantool: %.*s",
					 (int)n, (const char *)p + 2 + h);
		}
		fail(c, msg);
		return -2; /* the stream is still in sync */
	}
	if (!is_write) {
		/* body {IPROTO_DATA: [tuple]}: an empty array means no key */
		if (end - p < 3 || p[0] != 0x81 || p[1] != IPROTO_DATA)
			return fail(c, "bad iproto select body");
		if (p[2] == 0x90)
			return fail(c, "tarantool select: key not found");
	}
	return 1;
}

static int tarantool_greeting(struct client *c)
{
	if (need(c, IPROTO_GREETING_BYTES) != 0)
		return -1;
	if (memcmp(c->rbuf, "Tarantool", 9) != 0)
		return fail(c, "not a tarantool greeting");
	c->rpos += IPROTO_GREETING_BYTES;
	return 0;
}

/* --- the closed loop ----------------------------------------------------- */

/*
 * One request: 1 done, -1 connection lost or out of sync (reconnect), -2 an
 * error reply with the connection still usable.
 */
static int do_op(struct client *c, int is_write)
{
	switch (proto) {
	case P_ETCD:
		return etcd_do(c, is_write);
	case P_REDIS:
		return redis_do(c, is_write);
	case P_TARANTOOL:
		return tarantool_do(c, is_write);
	}
	return -1;
}

static int connect_client(struct client *c)
{
	if (conn_open(c) != 0)
		return -1;
	if (proto == P_TARANTOOL && tarantool_greeting(c) != 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

static void *run(void *arg)
{
	struct client *c = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(c->id + 1);
	int connected = connect_client(c) == 0;
	pthread_barrier_wait(&start_barrier);
	if (op == OP_PRELOAD) {
		for (int k = c->id; k < keys && connected; k += clients) {
			make_key(c->key, (uint64_t)k);
			int rc = do_op(c, 1);
			c->ops++;
			if (rc < 0)
				c->errors++;
			if (rc == -1)
				break;
		}
		conn_close(c);
		return NULL;
	}
	int is_write = op == OP_WRITE;
	while (qr_clock_mono_ns() < t_end_ns) {
		if (c->fd < 0) {
			if (c->reconnects++ >= RECONNECTS_MAX)
				break;
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
			if (connect_client(c) != 0) {
				c->errors++;
				continue;
			}
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		make_key(c->key, x % (uint64_t)keys);
		uint64_t t0 = qr_clock_mono_ns();
		int rc = do_op(c, is_write);
		uint64_t t1 = qr_clock_mono_ns();
		c->ops++;
		c->t_last_ns = t1;
		if (rc == 1) {
			uint64_t d = t1 - t0;
			if (c->nlat < SAMPLES_MAX)
				c->lat_ns[c->nlat++] = d > UINT32_MAX
							       ? UINT32_MAX
							       : (uint32_t)d;
			else
				c->lat_dropped++;
		} else {
			c->errors++;
			if (rc == -1)
				conn_close(c);
		}
	}
	conn_close(c);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct_us(const uint32_t *s, uint64_t n, double p)
{
	if (!n)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)n + 0.999999999);
	if (rank < 1)
		rank = 1;
	return (double)s[rank - 1] / 1000.0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: peer-load --proto etcd|redis|tarantool --endpoints "
		"HOST:PORT[,HOST:PORT...]\n"
		"                 [--op write|read|preload] [--peer NAME] "
		"[--clients C] [--seconds D]\n"
		"                 [--keys K] [--key-bytes N] [--value-bytes V] "
		"[--space-id ID]\n");
	return 1;
}

static int parse_endpoints(const char *s)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		if (!colon || n_eps == ENDPOINTS_MAX)
			return -1;
		*colon = '\0';
		snprintf(eps[n_eps].host, sizeof(eps[n_eps].host), "%s", tok);
		eps[n_eps].port = atoi(colon + 1);
		if (eps[n_eps].port <= 0)
			return -1;
		n_eps++;
	}
	return n_eps ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *proto_s = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--proto"))
			proto_s = v;
		else if (!strcmp(a, "--endpoints")) {
			if (parse_endpoints(v) != 0)
				return usage();
		} else if (!strcmp(a, "--op")) {
			if (!strcmp(v, "write"))
				op = OP_WRITE;
			else if (!strcmp(v, "read"))
				op = OP_READ;
			else if (!strcmp(v, "preload"))
				op = OP_PRELOAD;
			else
				return usage();
		} else if (!strcmp(a, "--peer"))
			peer_name = v;
		else if (!strcmp(a, "--clients"))
			clients = atoi(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--keys"))
			keys = atoi(v);
		else if (!strcmp(a, "--key-bytes"))
			key_bytes = atoi(v);
		else if (!strcmp(a, "--value-bytes"))
			value_bytes = atoi(v);
		else if (!strcmp(a, "--space-id"))
			space_id = atoi(v);
		else
			return usage();
	}
	if (!proto_s)
		return usage();
	if (!strcmp(proto_s, "etcd"))
		proto = P_ETCD;
	else if (!strcmp(proto_s, "redis"))
		proto = P_REDIS;
	else if (!strcmp(proto_s, "tarantool"))
		proto = P_TARANTOOL;
	else
		return usage();
	if (!peer_name)
		peer_name = proto_s;
	if (!n_eps || clients < 1 || clients > CLIENTS_MAX || keys < 1 ||
	    key_bytes < 1 || key_bytes > KEY_BYTES_MAX || value_bytes < 0 ||
	    value_bytes > VALUE_BYTES_MAX || seconds <= 0)
		return usage();
	for (int i = 0; i < value_bytes; i++)
		value[i] = (char)('a' + i % 26);
	b64(value_b64, value, (size_t)value_bytes);

	static struct client cs[CLIENTS_MAX];
	for (int i = 0; i < clients; i++) {
		cs[i].id = i;
		cs[i].fd = -1;
		cs[i].ep = &eps[i % n_eps];
		cs[i].lat_ns = malloc(SAMPLES_MAX * sizeof(uint32_t));
		cs[i].rbuf = malloc(RBUF_BYTES);
		cs[i].req = malloc(REQ_BYTES_MAX);
		if (!cs[i].lat_ns || !cs[i].rbuf || !cs[i].req) {
			fprintf(stderr, "peer-load: out of memory\n");
			return 2;
		}
	}
	pthread_barrier_init(&start_barrier, NULL, (unsigned)clients + 1);
	for (int i = 0; i < clients; i++)
		pthread_create(&cs[i].t, NULL, run, &cs[i]);
	t_start_ns = qr_clock_mono_ns();
	t_end_ns = t_start_ns + (uint64_t)(seconds * 1e9);
	pthread_barrier_wait(&start_barrier);
	/* the barrier may release after t_start_ns: measure from here */
	t_start_ns = qr_clock_mono_ns();
	t_end_ns = t_start_ns + (uint64_t)(seconds * 1e9);
	for (int i = 0; i < clients; i++)
		pthread_join(cs[i].t, NULL);

	uint64_t ops = 0, errors = 0, nlat = 0, dropped = 0,
		 t_last = t_start_ns;
	const char *first_err = NULL;
	for (int i = 0; i < clients; i++) {
		ops += cs[i].ops;
		errors += cs[i].errors;
		nlat += cs[i].nlat;
		dropped += cs[i].lat_dropped;
		if (cs[i].t_last_ns > t_last)
			t_last = cs[i].t_last_ns;
		if (!first_err && cs[i].err[0])
			first_err = cs[i].err;
	}
	if (first_err)
		fprintf(stderr, "peer-load: %s: first error: %s\n", peer_name,
			first_err);
	if (op == OP_PRELOAD) {
		if (errors || ops != (uint64_t)keys) {
			fprintf(stderr,
				"peer-load: %s: preload wrote %" PRIu64
				" of %d keys, %" PRIu64 " errors\n",
				peer_name, ops - errors, keys, errors);
			return 3;
		}
		return 0;
	}
	uint32_t *all = malloc((nlat + 1) * sizeof(uint32_t));
	if (!all)
		return 2;
	uint64_t k = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + k, cs[i].lat_ns, cs[i].nlat * sizeof(uint32_t));
		k += cs[i].nlat;
	}
	qsort(all, nlat, sizeof(uint32_t), cmp_u32);
	/* elapsed: to the last completion (requests started before the end) */
	double el = (double)(t_last - t_start_ns) / 1e9;
	if (el <= 0)
		el = seconds;
	printf("peer=%s op=%s clients=%d keys=%d key_bytes=%d value_bytes=%d "
	       "seconds=%.2f ops=%" PRIu64 " ops_per_s=%.0f p50_us=%.0f "
	       "p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f "
	       "errors=%" PRIu64 "\n",
	       peer_name, op == OP_WRITE ? "write" : "read", clients, keys,
	       key_bytes, value_bytes, el, nlat, (double)nlat / el,
	       pct_us(all, nlat, 0.50), pct_us(all, nlat, 0.90),
	       pct_us(all, nlat, 0.99), pct_us(all, nlat, 0.999),
	       nlat ? (double)all[nlat - 1] / 1000.0 : 0, errors);
	if (dropped)
		fprintf(stderr,
			"peer-load: %s: %" PRIu64
			" latencies not kept (SAMPLES_MAX)\n",
			peer_name, dropped);
	for (int i = 0; i < clients; i++) {
		free(cs[i].lat_ns);
		free(cs[i].rbuf);
		free(cs[i].req);
	}
	free(all);
	return 0;
}
