/* SPDX-License-Identifier: MIT */
/*
 * The load of tests/cluster/test_topology.sh: one client, QUORUM puts and
 * gets while the members change, every answer recorded.
 *
 *   topo_load run CLUSTER STOP_FILE OUT_FILE
 *     first puts COLD keys once (only the streams can bring them to new
 *     members), then until STOP_FILE exists: put seq n under hot key
 *     n % HOT (value "n"), then get hot key (n + HOT/2) % HOT. A get must return at least the
 *     key's last acknowledged put and at most its last attempted one
 *     (R + W > N across the change: one client, in order); anything else
 *     is a violation. Writes OUT_FILE: "key last_acked last_attempted"
 *     per key, and prints the counts by status.
 *   topo_load verify CLUSTER OUT_FILE all|quorum
 *     get every key at that level: its value must be the last
 *     acknowledged put or a later attempted one (a put that timed out
 *     may have been applied); prints the counts.
 * Exit 0, 1 on a violation or a verify read that fails, 2 on misuse.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quorate/client.h"
#include "quorate/err.h"

#define HOT  200		/* keys 0..HOT-1: rewritten all along */
#define KEYS (HOT + 500) /* the others: written once, at the start */

static uint64_t acked[KEYS], tried[KEYS];
static uint64_t put_st[64], get_st[64]; /* by -status */

static void key_of(int k, char *buf, size_t n)
{
	snprintf(buf, n, "topo-%03d", k);
}

static uint64_t value_of(const struct qr_result *r)
{
	char text[32] = {0};
	memcpy(text, r->value, r->value_len < 31 ? r->value_len : 31);
	return strtoull(text, NULL, 10);
}

static void counts(const char *what, const uint64_t *st)
{
	printf("%s:", what);
	for (int e = 0; e < 64; e++)
		if (st[e])
			printf(" %s=%" PRIu64, qr_strerror(-e), st[e]);
	printf("\n");
}

/* One get during the load: 1 if it broke R + W > N. */
static int load_get(struct qr_client *c, int k)
{
	static char buf[64];
	static struct qr_result res;
	char key[32];
	key_of(k, key, sizeof(key));
	uint64_t lo = acked[k], hi = tried[k];
	struct qr_req_opts o = {.consistency = QR_CONSISTENCY_QUORUM};
	int rc = qr_client_get(c, key, strlen(key), buf, sizeof(buf), &o, &res);
	get_st[-rc < 64 ? -rc : 63]++;
	uint64_t got = rc == 0 ? value_of(&res) : 0;
	if ((rc == 0 || rc == QR_ENOTFOUND) && (got < lo || got > hi)) {
		fprintf(stderr, "topo_load: %s read %" PRIu64 " (node %u): "
			"acked %" PRIu64 ", tried %" PRIu64 "\n", key, got,
			res.coordinator, lo, hi);
		return 1;
	}
	return 0;
}

static int run(struct qr_client *c, const char *stop, const char *out)
{
	static struct qr_result res;
	struct qr_req_opts o = {.consistency = QR_CONSISTENCY_QUORUM};
	uint64_t violations = 0, n = 1;
	for (int k = HOT; k < KEYS; k++, n++) {
		char key[32], val[32];
		key_of(k, key, sizeof(key));
		snprintf(val, sizeof(val), "%" PRIu64, n);
		tried[k] = n;
		int rc = qr_client_put(c, key, strlen(key), val, strlen(val),
				       &o, &res);
		put_st[-rc < 64 ? -rc : 63]++;
		acked[k] = rc == 0 ? n : 0;
	}
	for (; access(stop, F_OK) != 0; n++) {
		int k = (int)(n % HOT);
		char key[32], val[32];
		key_of(k, key, sizeof(key));
		snprintf(val, sizeof(val), "%" PRIu64, n);
		tried[k] = n;
		int rc = qr_client_put(c, key, strlen(key), val, strlen(val),
				       &o, &res);
		put_st[-rc < 64 ? -rc : 63]++;
		if (rc == 0)
			acked[k] = n;
		violations += (uint64_t)load_get(c, (k + HOT / 2) % HOT);
	}
	FILE *f = fopen(out, "w");
	if (!f)
		return 2;
	for (int k = 0; k < KEYS; k++)
		fprintf(f, "%d %" PRIu64 " %" PRIu64 "\n", k, acked[k],
			tried[k]);
	fclose(f);
	counts("topo_load: puts", put_st);
	counts("topo_load: gets", get_st);
	printf("topo_load: violations=%" PRIu64 "\n", violations);
	/* The epoch its placement was refreshed to, without a restart
	 * (qr_client_refresh, from the replies' epochs). */
	printf("topo_load: epoch=%" PRIu64 " refreshes=%" PRIu64 "\n",
	       qr_client_epoch(c), qr_client_stats(c)->refreshes);
	return violations ? 1 : 0;
}

static int verify(struct qr_client *c, const char *in, bool all)
{
	static char buf[64];
	static struct qr_result res;
	FILE *f = fopen(in, "r");
	if (!f)
		return 2;
	int k, bad = 0, ok = 0, later = 0;
	uint64_t a, t;
	struct qr_req_opts o = {.consistency = all ? QR_CONSISTENCY_ALL
						    : QR_CONSISTENCY_QUORUM};
	while (fscanf(f, "%d %" SCNu64 " %" SCNu64, &k, &a, &t) == 3) {
		char key[32];
		key_of(k, key, sizeof(key));
		int rc = qr_client_get(c, key, strlen(key), buf, sizeof(buf), &o,
				       &res);
		uint64_t got = rc == 0 ? value_of(&res) : 0;
		if ((rc != 0 && !(rc == QR_ENOTFOUND && a == 0)) || got < a ||
		    got > t) {
			fprintf(stderr, "topo_load: verify %s: %s, value %" PRIu64
				", acked %" PRIu64 ", tried %" PRIu64 "\n", key,
				qr_strerror(rc), got, a, t);
			bad++;
		} else {
			ok++;
			later += got > a;
		}
	}
	fclose(f);
	printf("topo_load: verify at %s: %d keys hold their last acknowledged "
	       "value (%d a later unacknowledged one), %d do not\n",
	       all ? "ALL" : "QUORUM", ok, later, bad);
	return bad || ok != KEYS ? 1 : 0;
}

int main(int argc, char **argv)
{
	bool is_run = argc == 5 && !strcmp(argv[1], "run");
	bool all = argc == 5 && !strcmp(argv[4], "all");
	if (!is_run && !(argc == 5 && !strcmp(argv[1], "verify") &&
			 (all || !strcmp(argv[4], "quorum")))) {
		fprintf(stderr, "usage: %s run CLUSTER STOP_FILE OUT_FILE | "
			"verify CLUSTER OUT_FILE all|quorum\n", argv[0]);
		return 2;
	}
	char err[256];
	struct qr_client_options opt;
	qr_client_options_default(&opt);
	/* verify: a resend every 50 ms (reads move to the next replica at
	 * once), so keys whose first replica is down cost 50 ms, not 250 */
	if (!is_run)
		opt.retries = 19;
	struct qr_client *c = qr_client_open(argv[2], &opt, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "topo_load: %s\n", err);
		return 2;
	}
	int rc = is_run ? run(c, argv[3], argv[4]) : verify(c, argv[3], all);
	qr_client_close(c);
	return rc;
}
