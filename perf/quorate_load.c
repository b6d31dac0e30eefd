/* SPDX-License-Identifier: MIT */
/*
 * quorate-load: a short closed-loop workload through libquorate, for the
 * README's main job and smoke tests: T threads, each with its own client
 * handle and one request outstanding, run a GET/PUT/DELETE mix over K keys
 * for D seconds (or N operations), then print throughput, latency
 * percentiles and errors by kind. The full load generator with open loop,
 * histograms and plots is quorate-bench (perf suite, issue 5).
 *
 * Usage: quorate-load --cluster FILE [--threads T] [--seconds D | --ops N]
 *        [--keys K] [--value-bytes B] [--mix get,put,del percentages]
 *        [--consistency one|quorum|all|local_one|local_quorum|each_quorum]
 * (zoned levels: the client's zone is $QUORATE_ZONE) [--session on|off]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "quorate/client.h"
#include "quorate/err.h"

#define THREADS_MAX 64
#define LAT_MAX	    (1u << 20)

struct worker {
	pthread_t t;
	int id;
	struct qr_client *c;
	uint64_t ops, ok, err_by[32];
	uint32_t *lat_us; /* successful ops */
	uint32_t nlat;
};

static const char *cluster;
static int threads = 4, keys = 1000, value_bytes = 64;
static int mix_get = 50, mix_put = 40;
static double seconds = 5;
static uint64_t ops_max;
static enum qr_consistency level = QR_CONSISTENCY_QUORUM;
static bool session = true; /* --session off: no session token */
static volatile int stop;

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	char value[1024];
	uint8_t got[1024]; /* values written here are at most 1024 B */
	memset(value, 'a' + w->id % 26, sizeof(value));
	struct qr_req_opts o = {.consistency = level};
	struct qr_result r;
	uint64_t per =
		ops_max ? (ops_max + (uint64_t)threads - 1) / (uint64_t)threads
			: UINT64_MAX;
	while (!stop && w->ops < per) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		char key[32];
		int kl = snprintf(key, sizeof(key), "load-%" PRIu64,
				  x % (uint64_t)keys);
		int pick = (int)((x >> 32) % 100);
		uint64_t t0 = qr_clock_mono_ns();
		int rc;
		if (pick < mix_get)
			rc = qr_client_get(w->c, key, (size_t)kl, got,
					   sizeof(got), &o, &r);
		else if (pick < mix_get + mix_put)
			rc = qr_client_put(w->c, key, (size_t)kl, value,
					   (size_t)value_bytes, &o, &r);
		else
			rc = qr_client_del(w->c, key, (size_t)kl, &o, &r);
		uint64_t us = (qr_clock_mono_ns() - t0) / 1000;
		w->ops++;
		if (rc == 0 || rc == QR_ENOTFOUND) {
			w->ok++;
			if (w->nlat < LAT_MAX)
				w->lat_us[w->nlat++] = (uint32_t)us;
		} else {
			w->err_by[(unsigned)-rc & 31]++;
		}
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: quorate-load --cluster FILE [--threads T] "
		"[--seconds D | --ops N] [--keys K]\n"
		"                    [--value-bytes B] [--mix GET,PUT,DEL] "
		"[--consistency one|quorum|all|local_one|local_quorum|"
		"each_quorum]\n"
		"                    [--session on|off]\n");
	return 1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--cluster"))
			cluster = v;
		else if (!strcmp(a, "--threads"))
			threads = atoi(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--ops"))
			ops_max = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--keys"))
			keys = atoi(v);
		else if (!strcmp(a, "--session"))
			session = strcmp(v, "off") != 0;
		else if (!strcmp(a, "--value-bytes"))
			value_bytes = atoi(v);
		else if (!strcmp(a, "--mix")) {
			int g, p, d;
			if (sscanf(v, "%d,%d,%d", &g, &p, &d) != 3 ||
			    g + p + d != 100 || g < 0 || p < 0 || d < 0)
				return usage();
			mix_get = g;
			mix_put = p;
		} else if (!strcmp(a, "--consistency")) {
			if (!strcmp(v, "one"))
				level = QR_CONSISTENCY_ONE;
			else if (!strcmp(v, "quorum"))
				level = QR_CONSISTENCY_QUORUM;
			else if (!strcmp(v, "all"))
				level = QR_CONSISTENCY_ALL;
			else if (!strcmp(v, "local_one"))
				level = QR_CONSISTENCY_LOCAL_ONE;
			else if (!strcmp(v, "local_quorum"))
				level = QR_CONSISTENCY_LOCAL_QUORUM;
			else if (!strcmp(v, "each_quorum"))
				level = QR_CONSISTENCY_EACH_QUORUM;
			else
				return usage();
		} else
			return usage();
	}
	if (!cluster)
		cluster = getenv("QUORATE_CLUSTER");
	if (!cluster || threads < 1 || threads > THREADS_MAX || keys < 1 ||
	    value_bytes < 0 || value_bytes > 1024)
		return usage();
	static struct worker w[THREADS_MAX];
	for (int i = 0; i < threads; i++) {
		char err[256];
		struct qr_client_options co;
		qr_client_options_default(&co);
		co.coordinator = QR_COORD_RANDOM;
		co.session = session;
		w[i].id = i;
		w[i].c = qr_client_open(cluster, &co, err, sizeof(err));
		w[i].lat_us = malloc(LAT_MAX * sizeof(uint32_t));
		if (!w[i].c || !w[i].lat_us) {
			fprintf(stderr, "quorate-load: %s\n", err);
			return 2;
		}
	}
	uint64_t t0 = qr_clock_mono_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&w[i].t, NULL, run, &w[i]);
	if (!ops_max) {
		struct timespec ts = {
			(time_t)seconds,
			(long)((seconds - (time_t)seconds) * 1e9)};
		nanosleep(&ts, NULL);
		stop = 1;
	}
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].t, NULL);
	double el = (double)(qr_clock_mono_ns() - t0) / 1e9;
	uint64_t ops = 0, ok = 0, nlat = 0, err_by[32] = {0};
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		ok += w[i].ok;
		nlat += w[i].nlat;
		for (int e = 0; e < 32; e++)
			err_by[e] += w[i].err_by[e];
	}
	uint32_t *all = malloc((nlat + 1) * sizeof(uint32_t));
	uint64_t k = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + k, w[i].lat_us, w[i].nlat * sizeof(uint32_t));
		k += w[i].nlat;
	}
	qsort(all, nlat, sizeof(uint32_t), cmp_u32);
#define PCT(p) (nlat ? all[(uint64_t)((double)(nlat - 1) * (p))] : 0)
	printf("quorate-load: %d threads x 1 outstanding, %d keys, %d B "
	       "values, mix get/put/del %d/%d/%d, consistency %s\n",
	       threads, keys, value_bytes, mix_get, mix_put,
	       100 - mix_get - mix_put,
	       level == QR_CONSISTENCY_ONE		? "ONE"
	       : level == QR_CONSISTENCY_ALL		? "ALL"
	       : level == QR_CONSISTENCY_LOCAL_ONE	? "LOCAL_ONE"
	       : level == QR_CONSISTENCY_LOCAL_QUORUM ? "LOCAL_QUORUM"
	       : level == QR_CONSISTENCY_EACH_QUORUM	? "EACH_QUORUM"
						: "QUORUM");
	printf("  %" PRIu64 " ops in %.2f s: %.0f ops/s, %" PRIu64
	       " ok (NOT_FOUND counts as ok)\n",
	       ops, el, (double)ops / el, ok);
	printf("  latency us: p50 %u  p90 %u  p99 %u  p99.9 %u  max %u\n",
	       PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999),
	       nlat ? all[nlat - 1] : 0);
	for (int e = 1; e < 32; e++)
		if (err_by[e])
			printf("  errors %s: %" PRIu64 "\n", qr_strerror(-e),
			       err_by[e]);
	for (int i = 0; i < threads; i++) {
		qr_client_close(w[i].c);
		free(w[i].lat_us);
	}
	free(all);
	return ok == ops ? 0 : 3;
}
