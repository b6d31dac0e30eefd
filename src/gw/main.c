/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw: an HTTP/1.1 gateway to a quorate cluster (docs/http.md).
 * main: options, one client handle and one event loop per --loops, the
 * replication-view poller, then it waits for SIGINT/SIGTERM and stops
 * everything in order (loops drain their waiting requests first).
 *
 * Invariants: signals are blocked in every thread and taken only by
 * sigwait here, so no loop is interrupted mid-call; nothing listens before
 * every client handle opened (a bad cluster file or key fails at start,
 * --http-keys included).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cluster.h"
#include "gw/gw.h"
#include "gw/status.h"

static void *open_client(const struct gw_options *o, unsigned id, char *err,
			 size_t err_len)
{
	struct qr_client_options co;
	qr_client_options_default(&co);
	co.deadline_ms = o->deadline_ms;
	co.retries = o->retries;
	co.coordinator = o->coordinator;
	/* One handle serves many HTTP users: its own session token would mix
	 * theirs, so each request carries its user's X-Min-Version. */
	co.session = false;
	co.key_file = o->key_file;
	co.client_id = o->client_id;
	co.zone = o->zone;
	co.max_inflight = o->max_inflight;
	co.batch = o->batch;
	co.value_bytes_max = o->value_bytes_max;
	co.large_replies = o->large_bodies; /* a reply needs a body anyway */
	co.seed = 0;
	(void)id;
	return qr_client_open(o->cluster_file, &co, err, err_len);
}

static int start_loops(const struct gw_options *o, struct gw_loop *loops,
		       struct gw_status *st)
{
	char err[512];
	for (unsigned i = 0; i < o->loops; i++) {
		void *c = open_client(o, i, err, sizeof(err));
		loops[i].all = loops;
		loops[i].nloops = o->loops;
		loops[i].status = st;
		if (!c || gw_loop_init(&loops[i], i, o, &gw_client_ops, c, err,
				       sizeof(err))) {
			fprintf(stderr, "quorate-gw: %s\n", err);
			return -1;
		}
	}
	for (unsigned i = 0; i < o->loops; i++)
		if (gw_loop_start(&loops[i])) {
			fprintf(stderr, "quorate-gw: cannot start thread\n");
			return -1;
		}
	return 0;
}

/* --http-keys: loaded once, before anything listens (a bad file is a
 * refusal to start, never an open gateway); the loops only read it. */
static int load_http_keys(struct gw_options *o)
{
	static struct qr_client_keys keys;
	char err[512];
	if (!o->http_keys_file)
		return 0;
	if (qr_client_keys_load(o->http_keys_file, &keys, err, sizeof(err))) {
		fprintf(stderr, "quorate-gw: --http-keys: %s\n", err);
		return -1;
	}
	o->http_keys = &keys;
	if (!o->quiet)
		fprintf(stderr, "quorate-gw: %u HTTP client key(s) from %s\n",
			keys.count, o->http_keys_file);
	return 0;
}

int main(int argc, char **argv)
{
	static struct gw_options o;
	static struct qr_cluster c;
	static struct gw_loop loops[GW_LOOPS_MAX];
	char err[512];
	int rc = gw_options_parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (qr_cluster_load(o.cluster_file, &c, err, sizeof(err))) {
		fprintf(stderr, "quorate-gw: %s\n", err);
		return 1;
	}
	if (!o.value_bytes_max) /* not given: the cluster's limit */
		o.value_bytes_max = c.value_bytes_max;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (load_http_keys(&o))
		return 1;
	struct gw_status *st = gw_status_start(&c, o.status_interval_ms);
	if (!st || start_loops(&o, loops, st))
		return 1;
	if (!o.quiet)
		fprintf(stderr, "quorate-gw: %u loop(s), cluster %s\n", o.loops,
			o.cluster_file);
	printf("listening on %s:%u\n", o.listen_addr, gw_loop_port(&loops[0]));
	fflush(stdout);
	int sig = 0;
	do
		sigwait(&sigs, &sig);
	while (sig == SIGPIPE);
	for (unsigned i = 0; i < o.loops; i++)
		gw_loop_stop(&loops[i]);
	gw_status_stop(st);
	return 0;
}
