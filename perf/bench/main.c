/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench: the load generator of the perf suite (perf/README.md,
 * "quorate-bench"). It parses the options, builds the placement from the
 * cluster file, runs phases (populate, then a closed- or open-loop
 * measurement, or one open-loop run per rate of a sweep) on T worker
 * threads with an asynchronous engine each (engine.c), merges the
 * per-thread histograms and writes a human summary, JSON, an HdrHistogram
 * percentile distribution and the sweep CSV. It reports numbers and
 * asserts no speed: the exit status is 0 when the runs completed, whatever
 * the latencies and errors were (2: bad usage or set-up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bench.h"
#include "common/cluster.h"
#include "core/wire.h"
#include "net/packet.h"
#include "quorate/err.h"
#include "quorate/limits.h"

#define SWEEP_RATES_MAX 64

static const char *const op_name[3] = {"get", "put", "del"};
static const char *const local_name[BENCH_LOCAL_ERRS] = {
	"SEND_FAILED", "LATE_REPLY", "BAD_REPLY", "NOT_SENT", "REASM_DROP"};

struct options {
	const char *cluster_file;
	const char *profile, *iface, *pci, *run_dir; /* --transport dpdk */
	const char *gen_ip, *gen_mac;
	uint16_t gen_port;
	bool memif_direct;
	const char *json_file, *hdr_file, *csv_file;
	bool progress;
	unsigned nrates;
	double rates[SWEEP_RATES_MAX];
	double zipf_theta;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: quorate-bench --cluster FILE [options]\n"
		"  --transport udp|dpdk   kernel UDP sockets (udp), or a "
		"DPDK port (dpdk)\n"
		"  dpdk: --profile drivers-conf/X.ini --gen-ip A.B.C.D\n"
		"        [--iface IFACE] [--gen-mac MAC] [--gen-port P "
		"(47000)]\n"
		"        [--pci ADDR] [--run-dir DIR (the cluster file's)]\n"
		"        [--memif-direct: serve each node's client memif in "
		"qr-vswitch's place]\n"
		"  --threads T            worker threads = generator cores "
		"(1)\n"
		"  --outstanding N        closed loop: requests in flight per "
		"thread (16);\n"
		"                         open loop: the cap of the table "
		"(4096)\n"
		"  --rate R               open loop: offered ops/s in total "
		"(Poisson)\n"
		"  --sweep R1,R2,...      open loop at each rate; CSV of "
		"offered/achieved/p50/p99/p99.9\n"
		"  --mix G,P,D            percent get,put,del (50,40,10)\n"
		"  --keys K               key count (10000)\n"
		"  --dist uniform|zipf:THETA\n"
		"  --key-bytes B (16)\n"
		"  --value-size SPEC      PUT value sizes (64): SIZE, or "
		"SIZE@WEIGHT,... with\n"
		"                         K/M suffixes, e.g. 64@90,64K@9,1M@1 "
		"(up to 8M;\n"
		"                         --value-bytes is the same option)\n"
		"  --consistency-get one|quorum|all|r=N   (quorum)\n"
		"  --consistency-put one|quorum|all|w=N   (quorum; del too)\n"
		"  --coordinator random|first             (random)\n"
		"  --timeout-ms MS        per request (1000), no resends\n"
		"  --warmup S (1)  --duration S (5)\n"
		"  --populate             write every key once first\n"
		"  --progress             a line per second on stderr\n"
		"  --json FILE  --hdr FILE  --csv FILE  (sweep: "
		"FILE-RATE.hdr)\n"
		"  --busy-poll            spin instead of sleeping when idle\n"
		"  --seed N\n");
}

static int bad(const char *what, const char *v)
{
	fprintf(stderr, "quorate-bench: bad %s '%s'\n", what, v ? v : "");
	usage(stderr);
	return 2;
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || !(v <= max))
		return -1;
	*out = v;
	return 0;
}

/* one|quorum|all|<rw>=N */
static int parse_level(const char *s, char rw, struct bench_level *lv)
{
	*lv = (struct bench_level){0};
	if (!strcmp(s, "one"))
		lv->level = QR_LEVEL_ONE;
	else if (!strcmp(s, "quorum"))
		lv->level = QR_LEVEL_QUORUM;
	else if (!strcmp(s, "all"))
		lv->level = QR_LEVEL_ALL;
	else if (s[0] == rw && s[1] == '=') {
		uint64_t n;
		if (parse_uint(s + 2, 1, QR_RF_MAX, &n))
			return -1;
		lv->level = QR_LEVEL_RW;
		if (rw == 'r')
			lv->r = (uint8_t)n;
		else
			lv->w = (uint8_t)n;
	} else
		return -1;
	return 0;
}

static const char *level_str(const struct bench_level *lv, char *buf,
			     size_t len)
{
	switch (lv->level) {
	case QR_LEVEL_ONE:
		return "one";
	case QR_LEVEL_QUORUM:
		return "quorum";
	case QR_LEVEL_ALL:
		return "all";
	}
	snprintf(buf, len, "%c=%u", lv->r ? 'r' : 'w', lv->r ? lv->r : lv->w);
	return buf;
}

/* ---- a phase: T workers, progress, merged stats ---- */

static void progress_line(struct bench_worker *w, unsigned n, double t_s,
			  uint64_t *last_done, double warmup_s,
			  struct qr_hist *scratch)
{
	uint64_t done = 0, errors = 0;
	qr_hist_init(scratch);
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(&w[i].pub.lock);
		done += w[i].pub.done;
		errors += w[i].pub.errors;
		qr_hist_merge(scratch, &w[i].pub.all);
		pthread_mutex_unlock(&w[i].pub.lock);
	}
	fprintf(stderr,
		"[%6.1f s] %10.0f ok/s  p99 %10.1f us  errors %" PRIu64 "%s\n",
		t_s, (double)(done - errors - *last_done), /* over ~1 s */
		(double)qr_hist_value_at_percentile(scratch, 99) / 1000.0,
		errors,
		warmup_s > 1e17	  ? "  (populate)"
		: t_s <= warmup_s ? "  (warm-up)"
				  : "");
	*last_done = done - errors;
}

/* Run one phase; st receives the merged stats. 0 or 2 (set-up failed). */
static int run_phase(const struct bench_config *cfg, bool progress,
		     struct bench_stats *st)
{
	struct bench_worker *w = calloc(cfg->threads, sizeof(*w));
	struct qr_hist *scratch = malloc(sizeof(*scratch));
	if (!w || !scratch) {
		fprintf(stderr, "quorate-bench: out of memory\n");
		return 2;
	}
	uint64_t start = qr_clock_mono_ns() + 20000000ull; /* threads ready */
	for (unsigned i = 0; i < cfg->threads; i++) {
		w[i].id = i;
		w[i].cfg = cfg;
		w[i].start_ns = start;
		bench_stats_init(&w[i].st);
		qr_hist_init(&w[i].pub.all);
		pthread_mutex_init(&w[i].pub.lock, NULL);
		if (cfg->tp->launch
			    ? cfg->tp->launch(i, bench_worker_main, &w[i])
			    : pthread_create(&w[i].thread, NULL,
					     bench_worker_main, &w[i])) {
			fprintf(stderr,
				"quorate-bench: cannot start worker "
				"%u\n",
				i);
			exit(2);
		}
	}
	if (progress) {
		/* The main thread only prints; workers run to their end. */
		uint64_t last_done = 0, stop = start;
		if (!cfg->populate)
			stop += (uint64_t)((cfg->warmup_s + cfg->duration_s) *
					   1e9);
		for (unsigned tick = 1;; tick++) {
			uint64_t at = start + tick * 1000000000ull;
			if (!cfg->populate && at > stop)
				break;
			uint64_t now = qr_clock_mono_ns();
			if (at > now) {
				struct timespec ts = {
					(time_t)((at - now) / 1000000000u),
					(long)((at - now) % 1000000000u)};
				nanosleep(&ts, NULL);
			}
			progress_line(w, cfg->threads, tick, &last_done,
				      cfg->populate ? 1e18 : cfg->warmup_s,
				      scratch);
			unsigned fin = 0;
			for (unsigned i = 0; i < cfg->threads; i++)
				fin += (unsigned)atomic_load(&w[i].finished);
			if (fin == cfg->threads)
				break;
		}
	}
	int rc = 0;
	bench_stats_init(st);
	for (unsigned i = 0; i < cfg->threads; i++) {
		if (cfg->tp->join)
			cfg->tp->join(i);
		else
			pthread_join(w[i].thread, NULL);
		if (w[i].rc) {
			fprintf(stderr, "quorate-bench: thread %u: %s\n", i,
				w[i].err);
			rc = 2;
		}
		bench_stats_merge(st, &w[i].st);
		pthread_mutex_destroy(&w[i].pub.lock);
	}
	free(w);
	free(scratch);
	return rc;
}

/* ---- outputs ---- */

static uint64_t errors_total(const struct bench_stats *st)
{
	uint64_t n = st->local[BENCH_NOT_SENT];
	for (int i = 1; i < BENCH_ERR_SLOTS; i++)
		n += st->err[i];
	return n + st->err[0];
}

static void describe(const struct bench_config *c, const struct options *o,
		     char *buf, size_t len)
{
	char g[8], p[8];
	int n;
	if (c->rate > 0)
		n = snprintf(buf, len,
			     "%s, open loop %.0f ops/s offered (Poisson), "
			     "%u threads (table %u each)",
			     c->tp->name, c->rate, c->threads, c->outstanding);
	else
		n = snprintf(buf, len,
			     "%s, closed loop, %u threads x %u outstanding",
			     c->tp->name, c->threads, c->outstanding);
	if (n < 0 || (size_t)n >= len)
		return;
	char dist[32], vs[160];
	bench_vsizes_format(&c->vsize, vs, sizeof(vs));
	if (c->zipf)
		snprintf(dist, sizeof(dist), "zipf %.2f", o->zipf_theta);
	else
		snprintf(dist, sizeof(dist), "uniform");
	snprintf(buf + n, len - (size_t)n,
		 ", %" PRIu64 " keys %s, %u B keys, %s B values, "
		 "get/put/del %u/%u/%u, get %s, put/del %s, coordinator %s, "
		 "timeout %u ms",
		 c->keys, dist, c->key_bytes, vs, c->mix[0],
		 c->mix[1], c->mix[2], level_str(&c->get, g, sizeof(g)),
		 level_str(&c->put, p, sizeof(p)),
		 c->coord_random ? "random" : "first", c->timeout_us / 1000);
}

static void print_lat(const char *label, const struct qr_hist *h)
{
	printf("  %-5s us  p50 %9.1f  p90 %9.1f  p99 %9.1f  p99.9 %9.1f  "
	       "p99.99 %9.1f  max %9.1f  (mean %.1f, n %" PRIu64 ")\n",
	       label, (double)qr_hist_value_at_percentile(h, 50) / 1e3,
	       (double)qr_hist_value_at_percentile(h, 90) / 1e3,
	       (double)qr_hist_value_at_percentile(h, 99) / 1e3,
	       (double)qr_hist_value_at_percentile(h, 99.9) / 1e3,
	       (double)qr_hist_value_at_percentile(h, 99.99) / 1e3,
	       (double)qr_hist_max(h) / 1e3, qr_hist_mean(h) / 1e3, h->count);
}

static void print_summary(const struct bench_config *c, const struct options *o,
			  const struct bench_stats *st)
{
	char d[512];
	describe(c, o, d, sizeof(d));
	double sec = c->duration_s;
	printf("quorate-bench: %s\n", d);
	printf("  generator: %u cores (threads), warm-up %.1f s, measured "
	       "%.1f s\n",
	       c->threads, c->warmup_s, sec);
	printf("  throughput %.0f ops/s ok (%" PRIu64 " ok, %" PRIu64
	       " NOT_FOUND among them, %" PRIu64 " errors, %" PRIu64 " issued)",
	       (double)st->ok / sec, st->ok, st->not_found, errors_total(st),
	       st->issued);
	if (c->rate > 0)
		printf(", offered %.0f ops/s", c->rate);
	printf("\n  values %.2f MB/s\n", (double)st->bytes / 1e6 / sec);
	for (int i = 0; i < 3; i++)
		if (st->ok_by_op[i])
			printf("  %s %.0f ops/s %.2f MB/s", op_name[i],
			       (double)st->ok_by_op[i] / sec,
			       (double)st->bytes_by_op[i] / 1e6 / sec);
	printf("\n");
	print_lat("all", &st->all);
	for (int i = 0; i < 3; i++)
		if (st->by_op[i].count)
			print_lat(op_name[i], &st->by_op[i]);
	printf("  errors:");
	bool any = false;
	for (int i = 0; i < BENCH_ERR_SLOTS; i++)
		if (st->err[i]) {
			printf(" %s %" PRIu64, i ? qr_strerror(-i) : "OTHER",
			       st->err[i]);
			any = true;
		}
	for (int i = 0; i < BENCH_LOCAL_ERRS; i++)
		if (st->local[i]) {
			printf(" %s %" PRIu64, local_name[i], st->local[i]);
			any = true;
		}
	printf("%s\n", any ? "" : " none");
	printf("  frames sent %" PRIu64 " (%.2f requests per frame)",
	       st->frames, st->frames ? (double)st->msgs / st->frames : 0.0);
	if (c->rate > 0)
		printf(", sender behind schedule by up to %.1f us, table full "
		       "%" PRIu64 " times",
		       (double)st->lag_max_ns / 1e3, st->table_full);
	printf("\n");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void write_json_run(FILE *f, const struct bench_config *c,
			   const struct options *o,
			   const struct bench_stats *st)
{
	char d[512], g[8], p[8], vs[160];
	describe(c, o, d, sizeof(d));
	bench_vsizes_format(&c->vsize, vs, sizeof(vs));
	fprintf(f, "{\"description\":");
	json_str(f, d);
	fprintf(f,
		",\"transport\":\"%s\",\"mode\":\"%s\",\"threads\":%u,"
		"\"generator_cores\":%u,\"outstanding\":%u,"
		"\"offered_ops\":%.1f,\"keys\":%" PRIu64
		",\"dist\":\"%s\",\"zipf_theta\":%.4f,\"key_bytes\":%u,"
		"\"value_bytes\":%.0f,\"value_sizes\":\"%s\","
		"\"mix\":{\"get\":%u,\"put\":%u,"
		"\"del\":%u},\"consistency_get\":\"%s\","
		"\"consistency_put\":\"%s\",\"timeout_ms\":%u,"
		"\"warmup_s\":%.3f,\"duration_s\":%.3f,",
		c->tp->name, c->rate > 0 ? "open" : "closed", c->threads,
		c->threads, c->outstanding, c->rate, c->keys,
		c->zipf ? "zipf" : "uniform", c->zipf ? o->zipf_theta : 0.0,
		c->key_bytes, bench_vsizes_mean(&c->vsize), vs, c->mix[0],
		c->mix[1], c->mix[2],
		level_str(&c->get, g, sizeof(g)),
		level_str(&c->put, p, sizeof(p)), c->timeout_us / 1000,
		c->warmup_s, c->duration_s);
	fprintf(f,
		"\"throughput_ops\":%.1f,\"throughput_mbs\":%.3f,"
		"\"ok\":%" PRIu64
		",\"not_found\":%" PRIu64 ",\"issued\":%" PRIu64
		",\"frames\":%" PRIu64 ",\"requests_per_frame\":%.3f,"
		"\"lag_max_ns\":%" PRIu64 ",\"errors\":{",
		(double)st->ok / c->duration_s,
		(double)st->bytes / 1e6 / c->duration_s, st->ok, st->not_found,
		st->issued, st->frames,
		st->frames ? (double)st->msgs / st->frames : 0.0,
		st->lag_max_ns);
	const char *sep = "";
	for (int i = 0; i < BENCH_ERR_SLOTS; i++)
		if (st->err[i]) {
			fprintf(f, "%s\"%s\":%" PRIu64, sep,
				i ? qr_strerror(-i) : "OTHER", st->err[i]);
			sep = ",";
		}
	for (int i = 0; i < BENCH_LOCAL_ERRS; i++)
		if (st->local[i]) {
			fprintf(f, "%s\"%s\":%" PRIu64, sep, local_name[i],
				st->local[i]);
			sep = ",";
		}
	fprintf(f, "},\"errors_total\":%" PRIu64 ",\"latency\":",
		errors_total(st));
	qr_hist_write_json(&st->all, f);
	for (int i = 0; i < 3; i++) {
		fprintf(f,
			",\"%s\":{\"throughput_ops\":%.1f,"
			"\"throughput_mbs\":%.3f,\"latency\":",
			op_name[i], (double)st->ok_by_op[i] / c->duration_s,
			(double)st->bytes_by_op[i] / 1e6 / c->duration_s);
		qr_hist_write_json(&st->by_op[i], f);
		fprintf(f, "}");
	}
	fprintf(f, "}");
}

static int write_hdr(const char *path, const struct qr_hist *h)
{
	FILE *f = fopen(path, "w");
	if (!f || qr_hist_write_hdr(h, f, 1000.0, 5, 3)) {
		fprintf(stderr, "quorate-bench: %s: %s\n", path,
			strerror(errno));
		if (f)
			fclose(f);
		return 2;
	}
	return fclose(f) ? 2 : 0;
}

/* ---- options ---- */

enum {
	OPT_CLUSTER = 256,
	OPT_TRANSPORT,
	OPT_THREADS,
	OPT_OUTSTANDING,
	OPT_RATE,
	OPT_SWEEP,
	OPT_MIX,
	OPT_KEYS,
	OPT_DIST,
	OPT_KEY_BYTES,
	OPT_VALUE_BYTES,
	OPT_CGET,
	OPT_CPUT,
	OPT_COORD,
	OPT_TIMEOUT,
	OPT_WARMUP,
	OPT_DURATION,
	OPT_POPULATE,
	OPT_PROGRESS,
	OPT_JSON,
	OPT_HDR,
	OPT_CSV,
	OPT_BUSY,
	OPT_SEED,
	OPT_PROFILE,
	OPT_IFACE,
	OPT_PCI,
	OPT_RUN_DIR,
	OPT_GEN_IP,
	OPT_GEN_MAC,
	OPT_GEN_PORT,
	OPT_MEMIF_DIRECT,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"cluster", required_argument, NULL, OPT_CLUSTER},
	{"transport", required_argument, NULL, OPT_TRANSPORT},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"outstanding", required_argument, NULL, OPT_OUTSTANDING},
	{"rate", required_argument, NULL, OPT_RATE},
	{"sweep", required_argument, NULL, OPT_SWEEP},
	{"mix", required_argument, NULL, OPT_MIX},
	{"keys", required_argument, NULL, OPT_KEYS},
	{"dist", required_argument, NULL, OPT_DIST},
	{"key-bytes", required_argument, NULL, OPT_KEY_BYTES},
	{"value-bytes", required_argument, NULL, OPT_VALUE_BYTES},
	{"value-size", required_argument, NULL, OPT_VALUE_BYTES},
	{"consistency-get", required_argument, NULL, OPT_CGET},
	{"consistency-put", required_argument, NULL, OPT_CPUT},
	{"coordinator", required_argument, NULL, OPT_COORD},
	{"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"populate", no_argument, NULL, OPT_POPULATE},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"json", required_argument, NULL, OPT_JSON},
	{"hdr", required_argument, NULL, OPT_HDR},
	{"csv", required_argument, NULL, OPT_CSV},
	{"busy-poll", no_argument, NULL, OPT_BUSY},
	{"seed", required_argument, NULL, OPT_SEED},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"iface", required_argument, NULL, OPT_IFACE},
	{"pci", required_argument, NULL, OPT_PCI},
	{"run-dir", required_argument, NULL, OPT_RUN_DIR},
	{"gen-ip", required_argument, NULL, OPT_GEN_IP},
	{"gen-mac", required_argument, NULL, OPT_GEN_MAC},
	{"gen-port", required_argument, NULL, OPT_GEN_PORT},
	{"memif-direct", no_argument, NULL, OPT_MEMIF_DIRECT},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int parse_rates(const char *s, struct options *o)
{
	char buf[1024];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	o->nrates = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (o->nrates == SWEEP_RATES_MAX ||
		    parse_double(t, 1, 1e9, &o->rates[o->nrates]))
			return -1;
		o->nrates++;
	}
	return o->nrates ? 0 : -1;
}

static int run_all(struct bench_config *cfgp, const struct options *op,
		   bool populate, bool outstanding_set);

/* --transport dpdk: check its options, open the port; the device may
 * lower cfg->threads. 0, or 2. */
static int transport_setup(struct bench_config *cfg, const struct options *o,
			   char *err, size_t err_len)
{
	struct bench_transport_setup s = {
		.cluster = &cfg->cluster,
		.profile = o->profile,
		.iface = o->iface,
		.pci = o->pci,
		.run_dir = o->run_dir,
		.gen_port = o->gen_port ? o->gen_port : 47000,
		.busy_poll = cfg->busy_poll,
		.memif_direct = o->memif_direct,
		.threads = cfg->threads,
	};
	if (!o->profile)
		return bad("--transport dpdk without --profile", "");
	if (!o->gen_ip || inet_pton(AF_INET, o->gen_ip, &s.gen_ip) != 1 ||
	    !qr_ipv4_is_unicast(s.gen_ip))
		return bad("--gen-ip (needed with --transport dpdk)",
			   o->gen_ip);
	for (unsigned i = 0; i < cfg->cluster.nodes; i++)
		if (cfg->cluster.node[i].ip == s.gen_ip)
			return bad("--gen-ip (a node's address)", o->gen_ip);
	if (o->gen_mac) {
		if (qr_parse_mac(o->gen_mac, s.gen_mac) ||
		    qr_eth_is_group(s.gen_mac))
			return bad("--gen-mac", o->gen_mac);
		s.has_gen_mac = true;
	}
	/* {run}: tools/cluster keeps cluster.ini in its run dir. */
	char dir[sizeof(cfg->cluster.path)]; /* a prefix of it */
	if (!s.run_dir) {
		snprintf(dir, sizeof(dir), "%s", cfg->cluster.path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
		s.run_dir = dir;
	}
	if (cfg->tp->setup(&s, err, err_len)) {
		fprintf(stderr, "quorate-bench: %s\n", err);
		if (cfg->tp->teardown)
			cfg->tp->teardown();
		return 2;
	}
	cfg->threads = s.threads;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench_config cfg;
	struct options o = {0};
	struct bench_level get_lv = {QR_LEVEL_QUORUM, 0, 0};
	struct bench_level put_lv = {QR_LEVEL_QUORUM, 0, 0};
	const char *get_s = "quorum", *put_s = "quorum";
	bool outstanding_set = false;
	uint64_t u;
	cfg.tp = &bench_transport_udp;
	cfg.threads = 1;
	cfg.outstanding = 16;
	cfg.mix[0] = 50;
	cfg.mix[1] = 40;
	cfg.mix[2] = 10;
	cfg.keys = 10000;
	cfg.key_bytes = 16;
	bench_vsizes_parse("64", QR_VALUE_BYTES_MAX, &cfg.vsize);
	cfg.warmup_s = 1;
	cfg.duration_s = 5;
	cfg.timeout_us = 1000000;
	cfg.coord_random = true;
	bool populate = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		const char *v = optarg;
		switch (c) {
		case OPT_CLUSTER:
			o.cluster_file = v;
			break;
		case OPT_TRANSPORT:
			if (!strcmp(v, "dpdk"))
				cfg.tp = &bench_transport_dpdk;
			else if (!strcmp(v, "udp"))
				cfg.tp = &bench_transport_udp;
			else
				return bad("--transport", v);
			break;
		case OPT_THREADS:
			if (parse_uint(v, 1, BENCH_THREADS_MAX, &u))
				return bad("--threads", v);
			cfg.threads = (unsigned)u;
			break;
		case OPT_OUTSTANDING:
			if (parse_uint(v, 1, 1u << 20, &u))
				return bad("--outstanding", v);
			cfg.outstanding = (unsigned)u;
			outstanding_set = true;
			break;
		case OPT_RATE:
			if (parse_double(v, 1, 1e9, &cfg.rate))
				return bad("--rate", v);
			break;
		case OPT_SWEEP:
			if (parse_rates(v, &o))
				return bad("--sweep", v);
			break;
		case OPT_MIX: {
			unsigned g, p, d;
			char tail;
			if (sscanf(v, "%u,%u,%u%c", &g, &p, &d, &tail) != 3 ||
			    g + p + d != 100)
				return bad("--mix (G,P,D summing to 100)", v);
			cfg.mix[0] = g;
			cfg.mix[1] = p;
			cfg.mix[2] = d;
			break;
		}
		case OPT_KEYS:
			if (parse_uint(v, 1, 1000000000000ull, &cfg.keys))
				return bad("--keys", v);
			break;
		case OPT_DIST:
			if (!strcmp(v, "uniform"))
				cfg.zipf = false;
			else if (!strncmp(v, "zipf:", 5) &&
				 !parse_double(v + 5, 1e-6, 100, &o.zipf_theta))
				cfg.zipf = true;
			else
				return bad("--dist", v);
			break;
		case OPT_KEY_BYTES:
			if (parse_uint(v, 2, QR_KEY_BYTES_MAX, &u))
				return bad("--key-bytes", v);
			cfg.key_bytes = (unsigned)u;
			break;
		case OPT_VALUE_BYTES:
			if (bench_vsizes_parse(v, QR_VALUE_BYTES_MAX,
					       &cfg.vsize))
				return bad("--value-size", v);
			break;
		case OPT_CGET:
			if (parse_level(v, 'r', &get_lv))
				return bad("--consistency-get", v);
			get_s = v;
			break;
		case OPT_CPUT:
			if (parse_level(v, 'w', &put_lv))
				return bad("--consistency-put", v);
			put_s = v;
			break;
		case OPT_COORD:
			if (strcmp(v, "random") && strcmp(v, "first"))
				return bad("--coordinator", v);
			cfg.coord_random = !strcmp(v, "random");
			break;
		case OPT_TIMEOUT:
			if (parse_uint(v, 1, 60000, &u))
				return bad("--timeout-ms", v);
			cfg.timeout_us = (uint32_t)u * 1000;
			break;
		case OPT_WARMUP:
			if (parse_double(v, 0, 3600, &cfg.warmup_s))
				return bad("--warmup", v);
			break;
		case OPT_DURATION:
			if (parse_double(v, 0, 86400, &cfg.duration_s))
				return bad("--duration", v);
			break;
		case OPT_POPULATE:
			populate = true;
			break;
		case OPT_PROGRESS:
			o.progress = true;
			break;
		case OPT_JSON:
			o.json_file = v;
			break;
		case OPT_HDR:
			o.hdr_file = v;
			break;
		case OPT_CSV:
			o.csv_file = v;
			break;
		case OPT_BUSY:
			cfg.busy_poll = true;
			break;
		case OPT_SEED:
			if (parse_uint(v, 0, UINT64_MAX, &cfg.seed))
				return bad("--seed", v);
			break;
		case OPT_PROFILE:
			o.profile = v;
			break;
		case OPT_IFACE:
			o.iface = v;
			break;
		case OPT_PCI:
			o.pci = v;
			break;
		case OPT_RUN_DIR:
			o.run_dir = v;
			break;
		case OPT_GEN_IP:
			o.gen_ip = v;
			break;
		case OPT_GEN_MAC:
			o.gen_mac = v;
			break;
		case OPT_GEN_PORT:
			if (parse_uint(v, 1024, 65535 - 1024, &u))
				return bad("--gen-port", v);
			o.gen_port = (uint16_t)u;
			break;
		case OPT_MEMIF_DIRECT:
			o.memif_direct = true;
			break;
		case OPT_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (!o.cluster_file)
		o.cluster_file = getenv("QUORATE_CLUSTER");
	if (!o.cluster_file) {
		fprintf(stderr, "quorate-bench: no cluster file (--cluster or "
				"$QUORATE_CLUSTER)\n");
		return 2;
	}
	char err[512];
	if (qr_cluster_load(o.cluster_file, &cfg.cluster, err, sizeof(err))) {
		fprintf(stderr, "quorate-bench: %s\n", err);
		return 2;
	}
	if (qr_placement_init(&cfg.pl, cfg.cluster.partitions,
			      cfg.cluster.nodes, cfg.cluster.rf,
			      cfg.cluster.shards)) {
		fprintf(stderr, "quorate-bench: placement\n");
		return 2;
	}
	if ((get_lv.r > cfg.pl.rf) || (put_lv.w > cfg.pl.rf))
		return bad("consistency (N above the replication factor)",
			   get_lv.r > cfg.pl.rf ? get_s : put_s);
	cfg.get = get_lv;
	cfg.put = put_lv;
	/* "k" + the key number in key_bytes - 1 decimal digits. */
	if (cfg.key_bytes - 1 < 20 &&
	    pow(10, cfg.key_bytes - 1) < (double)cfg.keys)
		return bad("--key-bytes (too short for --keys)", "");
	if (cfg.zipf && bench_zipf_init(&cfg.zipf_gen, cfg.keys, o.zipf_theta))
		return bad("--dist", "zipf");
	if (o.nrates && cfg.rate > 0)
		return bad("--rate with --sweep", "");
	if (o.memif_direct && cfg.tp != &bench_transport_dpdk)
		return bad("--memif-direct without --transport dpdk", "");
	if (!cfg.seed && getrandom(&cfg.seed, sizeof(cfg.seed), 0) < 0)
		cfg.seed = (uint64_t)time(NULL);

	if (cfg.tp->setup) {
		int rc = transport_setup(&cfg, &o, err, sizeof(err));
		if (rc)
			return rc;
	}
	int rc = run_all(&cfg, &o, populate, outstanding_set);
	if (cfg.tp->teardown)
		cfg.tp->teardown();
	qr_placement_fini(&cfg.pl);
	return rc;
}

/* The phases: populate, then one run or a sweep. 0, or 2. */
static int run_all(struct bench_config *cfgp, const struct options *op,
		   bool populate, bool outstanding_set)
{
	struct bench_config cfg = *cfgp;
	const struct options o = *op;
	static struct bench_stats st;
	if (populate) {
		struct bench_config pc = cfg;
		pc.populate = true;
		pc.rate = 0;
		pc.outstanding = outstanding_set ? cfg.outstanding : 64;
		uint64_t t0 = qr_clock_mono_ns();
		if (run_phase(&pc, o.progress, &st))
			return 2;
		double s = (double)(qr_clock_mono_ns() - t0) / 1e9;
		uint64_t e = 0;
		for (int i = 0; i < BENCH_ERR_SLOTS; i++)
			e += st.err[i];
		printf("quorate-bench: populated %" PRIu64 " keys in %.2f s "
		       "(%.0f puts/s), %" PRIu64 " errors\n",
		       cfg.keys, s, (double)cfg.keys / s, e);
	}
	if (!(cfg.duration_s > 0))
		return 0;

	if (!o.nrates) {
		if (cfg.rate > 0 && !outstanding_set)
			cfg.outstanding = 4096;
		if (run_phase(&cfg, o.progress, &st))
			return 2;
		print_summary(&cfg, &o, &st);
		if (o.hdr_file && write_hdr(o.hdr_file, &st.all))
			return 2;
		if (o.json_file) {
			FILE *f = fopen(o.json_file, "w");
			if (!f) {
				fprintf(stderr, "quorate-bench: %s: %s\n",
					o.json_file, strerror(errno));
				return 2;
			}
			write_json_run(f, &cfg, &o, &st);
			fputc('\n', f);
			if (fclose(f))
				return 2;
		}
		return 0;
	}

	/* Sweep: one open-loop run per offered rate. */
	if (!outstanding_set)
		cfg.outstanding = 4096;
	FILE *csv = stdout, *json = NULL;
	if (o.csv_file && !(csv = fopen(o.csv_file, "w"))) {
		fprintf(stderr, "quorate-bench: %s: %s\n", o.csv_file,
			strerror(errno));
		return 2;
	}
	if (o.json_file && !(json = fopen(o.json_file, "w"))) {
		fprintf(stderr, "quorate-bench: %s: %s\n", o.json_file,
			strerror(errno));
		return 2;
	}
	fprintf(csv, "offered_ops,achieved_ops,p50_us,p90_us,p99_us,p99_9_us,"
		     "max_us,errors\n");
	if (json)
		fprintf(json, "[");
	for (unsigned i = 0; i < o.nrates; i++) {
		cfg.rate = o.rates[i];
		if (run_phase(&cfg, o.progress, &st))
			return 2;
		print_summary(&cfg, &o, &st);
		const struct qr_hist *h = &st.all;
		fprintf(csv, "%.0f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%" PRIu64 "\n",
			cfg.rate, (double)st.ok / cfg.duration_s,
			(double)qr_hist_value_at_percentile(h, 50) / 1e3,
			(double)qr_hist_value_at_percentile(h, 90) / 1e3,
			(double)qr_hist_value_at_percentile(h, 99) / 1e3,
			(double)qr_hist_value_at_percentile(h, 99.9) / 1e3,
			(double)qr_hist_max(h) / 1e3, errors_total(&st));
		fflush(csv);
		if (json) {
			fprintf(json, "%s", i ? ",\n" : "");
			write_json_run(json, &cfg, &o, &st);
		}
		if (o.hdr_file) {
			char path[QR_PATH_BYTES_MAX];
			int l = snprintf(path, sizeof(path), "%s-%.0f.hdr",
					 o.hdr_file, cfg.rate);
			if (l < 0 || (size_t)l >= sizeof(path)) {
				fprintf(stderr, "quorate-bench: --hdr %s: "
						"path too long\n",
					o.hdr_file);
				return 2;
			}
			if (write_hdr(path, h))
				return 2;
		}
	}
	if (json) {
		fprintf(json, "]\n");
		fclose(json);
	}
	if (csv != stdout)
		fclose(csv);
	return 0;
}
