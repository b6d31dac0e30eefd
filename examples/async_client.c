/* SPDX-License-Identifier: MIT */
/*
 * libquorate's asynchronous API in one page (docs/client.md, "Asynchronous
 * API"): write N keys with up to 64 requests in flight, batched per
 * destination, then read them back from an event loop of our own (poll(2)
 * on the handle's socket and timer). Exits 0 when every key reads back.
 *
 *   async-client CLUSTER_FILE
 *
 * Built by meson and run by tests/unit/test_client.c, so it cannot rot.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "quorate/client.h"
#include "quorate/err.h"

#define N 200

static char keys[N][16];
static char vals[N][8]; /* each GET's value lands in its own buffer */
static unsigned ok, failed;

static void count(const struct qr_completion *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct qr_result *r = &d[i].result;
		const char *key = d[i].user; /* what we passed at submit */
		if (r->status == 0 &&
		    (d[i].op != QR_CLIENT_GET ||
		     (r->value_len == 5 && !memcmp(r->value, "hello", 5)))) {
			ok++;
			continue;
		}
		fprintf(stderr, "%s: %s\n", key, qr_strerror(r->status));
		failed++;
	}
}

/* Submit op on every key, polling whenever the table is full. Poll sends
 * the batched datagrams, resends what is due and waits for completions. */
static int run_all(struct qr_client *c, enum qr_client_op op)
{
	static struct qr_completion done[32];
	unsigned next = 0;
	ok = failed = 0;
	while (ok + failed < N) {
		for (; next < N; next++) {
			struct qr_request rq = {
				.op = op,
				.key = keys[next],
				.key_len = strlen(keys[next]),
				.value = "hello",
				.value_len = op == QR_CLIENT_PUT ? 5 : 0,
				.user = keys[next],
				.buf = vals[next],
				.buf_cap = sizeof(vals[next]),
			};
			int rc = qr_client_submit(c, &rq);
			if (rc == QR_EBUSY)
				break; /* max_inflight in flight: poll first */
			if (rc)
				return rc;
		}
		int n = qr_client_poll(c, done, 32, -1);
		if (n < 0)
			return n;
		count(done, (unsigned)n);
	}
	return 0;
}

/* The same, driven by poll(2): what an epoll-based server would do. */
static int read_all_from_own_loop(struct qr_client *c)
{
	static struct qr_completion done[32];
	unsigned next = 0;
	ok = failed = 0;
	while (next < N || qr_client_inflight(c)) {
		for (; next < N; next++) {
			struct qr_request rq = {.op = QR_CLIENT_GET,
						.key = keys[next],
						.key_len = strlen(keys[next]),
						.user = keys[next],
						.buf = vals[next],
						.buf_cap = sizeof(vals[next])};
			int rc = qr_client_submit(c, &rq);
			if (rc == QR_EBUSY)
				break;
			if (rc)
				return rc;
		}
		qr_client_flush(c); /* batch mode: send before we sleep */
		struct pollfd p = {.fd = qr_client_fd(c), .events = POLLIN};
		poll(&p, 1, qr_client_timeout_ms(c)); /* readable or due */
		int n = qr_client_poll(c, done, 32, 0);
		if (n < 0)
			return n;
		count(done, (unsigned)n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CLUSTER_FILE\n", argv[0]);
		return 2;
	}
	struct qr_client_options o;
	qr_client_options_default(&o);
	o.max_inflight = 64;
	o.batch = true; /* one datagram per (node, shard) per turn */
	char err[256];
	struct qr_client *c = qr_client_open(argv[1], &o, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "example-%u", i);
	int rc = run_all(c, QR_CLIENT_PUT);
	printf("put: %u ok, %u failed\n", ok, failed);
	if (!rc && !failed)
		rc = read_all_from_own_loop(c);
	printf("get: %u ok, %u failed\n", ok, failed);
	const struct qr_client_stats *s = qr_client_stats(c);
	printf("%llu requests in %llu datagrams\n",
	       (unsigned long long)s->sends, (unsigned long long)s->datagrams);
	qr_client_close(c);
	return rc || failed ? 1 : 0;
}
