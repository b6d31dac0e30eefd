/* SPDX-License-Identifier: MIT */
/*
 * qr-sim: run the deterministic simulator over one seed or a range.
 *
 *   qr-sim --seed S [-v]              one seed, prints its trace hash
 *   qr-sim --seeds N [--start S0]     N seeds from S0 (default 1)
 *   --nodes K                         fix the cluster size (3..7)
 *   --shards S                        fix the shards per node (1..4;
 *                                     default: 2 in a third of the seeds)
 *   --peer-frame B                    peer_frame_bytes of every node
 *                                     (1472..8972; default 1472)
 *   --membership                      every seed changes its membership
 *                                     (a join, leave or replace in the faults;
 *                                     default: a quarter of the seeds)
 *   --register                        only the membership register's model
 *                                     (tests/sim/register.h, checker (r)),
 *                                     which every seed also runs after its
 *                                     cluster
 *   --check-replay                    run each seed twice, hashes must match
 *   --inject-bug NAME[,NAME]          (qr-sim-buggy only) a bug or mutation
 *                                     of src/core/bugs.h (--list-bugs)
 *   --list-bugs                       print "name area what" for each one
 *   --no-oracles                      ignore checkers (j), (k), (l), (o), (t)
 *                                     and (d) at the WAL (tests/sim/oracle.h)
 *   --expect-fail                     succeed iff some seed fails (for the
 *                                     test that proves the checkers bite)
 * A failing seed prints the one-line command that replays it; so does a
 * seed that trips an assertion (abort), as "FAIL seed=N (assert)".
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "common/eal_local.h"
#include "quorate/limits.h" /* --peer-frame range */
#include "sim/register.h"
#include "sim/sim.h"

static const struct {
	const char *name, *area, *what;
	unsigned bit;
} bug_names[] = {
#define BUG_NAME_(name, bit, cli, area, what) {cli, area, what, bit},
	QR_BUG_LIST(BUG_NAME_)
#undef BUG_NAME_
};

/* The seed being run, for the abort handler: an assertion that fires
 * names its seed (the mutation campaign counts it as caught). */
static volatile uint64_t running_seed;

static void on_abort(int sig)
{
	char buf[64] = "FAIL seed=";
	size_t n = 10;
	char digits[24];
	int k = 0;
	uint64_t s = running_seed;
	do {
		digits[k++] = (char)('0' + s % 10);
		s /= 10;
	} while (s);
	while (k)
		buf[n++] = digits[--k];
	memcpy(buf + n, " (assert)\n", 10);
	n += 10;
	ssize_t w = write(STDOUT_FILENO, buf, n);
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seed S | --seeds N [--start S0]] [--nodes K]\n"
		"          [--shards S] [--peer-frame B] [--membership]"
		" [--register]\n"
		"          [--check-replay] [--inject-bug NAME[,NAME]]"
		" [--expect-fail] [-v]\n",
		prog);
	return 2;
}

/* The bits named in arg into words[] (QR_BUG_WORDS of them). */
static void parse_bugs(const char *arg, uint64_t *words)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		size_t i = 0;
		while (i < QR_ARRAY_LEN(bug_names) &&
		       strcmp(tok, bug_names[i].name) != 0)
			i++;
		if (i == QR_ARRAY_LEN(bug_names)) {
			fprintf(stderr, "qr-sim: unknown bug '%s'\n", tok);
			exit(2);
		}
		words[bug_names[i].bit >> 6] |= 1ull << (bug_names[i].bit & 63);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, count = 1;
	int nodes = 0, shards = 0;
	bool single = false, verbose = false, expect_fail = false;
	bool check_replay = false, no_oracles = false, membership = false;
	bool register_only = false;
	int peer_frame = 0;
	const char *bugs = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seed") && v) {
			seed = strtoull(v, NULL, 0);
			count = 1;
			single = true;
			i++;
		} else if (!strcmp(a, "--seeds") && v) {
			count = strtoull(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--start") && v) {
			seed = strtoull(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--nodes") && v) {
			nodes = atoi(v);
			i++;
			if (nodes < 3 || nodes > 7)
				return usage(argv[0]);
		} else if (!strcmp(a, "--shards") && v) {
			shards = atoi(v);
			i++;
			if (shards < 1 || shards > 4)
				return usage(argv[0]);
		} else if (!strcmp(a, "--peer-frame") && v) {
			peer_frame = atoi(v);
			i++;
			if (peer_frame < QR_FRAME_BYTES_MAX ||
			    peer_frame > QR_FRAME_JUMBO_MAX)
				return usage(argv[0]);
		} else if (!strcmp(a, "--inject-bug") && v) {
			bugs = v;
			i++;
		} else if (!strcmp(a, "--list-bugs")) {
			for (size_t b = 0; b < QR_ARRAY_LEN(bug_names); b++)
				printf("%s %s %s\n", bug_names[b].name,
				       bug_names[b].area, bug_names[b].what);
			return 0;
		} else if (!strcmp(a, "--membership")) {
			membership = true;
		} else if (!strcmp(a, "--register")) {
			register_only = true;
		} else if (!strcmp(a, "--no-oracles")) {
			no_oracles = true;
		} else if (!strcmp(a, "--expect-fail")) {
			expect_fail = true;
		} else if (!strcmp(a, "--check-replay")) {
			check_replay = true;
		} else if (!strcmp(a, "-v")) {
			verbose = true;
		} else {
			return usage(argv[0]);
		}
	}
	if (bugs) {
#ifdef QR_BUG_INJECTION
		parse_bugs(bugs, qr_bugs);
#else
		(void)parse_bugs;
		fprintf(stderr, "qr-sim: built without bug injection; use "
				"qr-sim-buggy\n");
		return 2;
#endif
	}
	if (qr_eal_init_local(argv[0], 256) != 0) {
		fprintf(stderr, "qr-sim: DPDK EAL init failed\n");
		return 1;
	}
	fflush(stdout);
	signal(SIGABRT, on_abort);
	uint64_t passed = 0, failed = 0, combined = 0, reg_decided = 0;
	uint64_t reg_lost = 0;
	struct sim_result tot = {0};
	for (uint64_t k = 0; k < count; k++) {
		struct sim_options opt = {
			.seed = seed + k,
			.nodes = nodes,
			.shards = shards,
			.peer_frame = (uint16_t)peer_frame,
			.verbose = verbose,
			.no_oracles = no_oracles,
			.membership = membership,
		};
		struct sim_result r;
		running_seed = opt.seed;
		if (register_only)
			r = (struct sim_result){.ok = true};
		else
			sim_run(&opt, &r);
		if (check_replay && r.ok) {
			struct sim_result again;
			sim_run(&opt, &again);
			if (again.trace_hash != r.trace_hash) {
				r.ok = false;
				snprintf(r.checker, sizeof(r.checker),
					 "replay");
				snprintf(r.detail, sizeof(r.detail),
					 "trace %016" PRIx64 " then %016" PRIx64
					 ": the run is not deterministic",
					 r.trace_hash, again.trace_hash);
			}
		}
		/* The membership register's model (checker (r)), on a
		 * stream of its own: the trace above is untouched. */
		struct reg_sim_result rr;
		reg_sim_run(opt.seed, &rr);
		reg_decided += rr.decided;
		reg_lost += rr.lost;
		if (r.ok && !rr.ok) {
			r.ok = false;
			memcpy(r.checker, rr.checker, sizeof(r.checker));
			memcpy(r.detail, rr.detail, sizeof(r.detail));
		}
		combined = combined * 31 + r.trace_hash;
		tot.ops += r.ops;
		tot.ops_ok += r.ops_ok;
		tot.ops_unavailable += r.ops_unavailable;
		tot.ops_timeout += r.ops_timeout;
		tot.ops_other_err += r.ops_other_err;
		tot.crashes += r.crashes;
		tot.partitions += r.partitions;
		tot.frames += r.frames;
		tot.dropped_frames += r.dropped_frames;
		tot.tombstones_collected += r.tombstones_collected;
		tot.snapshots += r.snapshots;
		tot.wipes += r.wipes;
		tot.changes += r.changes;
		tot.changes_finished += r.changes_finished;
		tot.replaces += r.replaces;
		tot.aborts += r.aborts;
		tot.caught_up += r.caught_up;
		tot.caught_up_late += r.caught_up_late;
		tot.cas_ops += r.cas_ops;
		tot.cas_ok += r.cas_ok;
		tot.lin_inconclusive += r.lin_inconclusive;
		if (single || verbose)
			printf("seed %" PRIu64 ": %s trace=%016" PRIx64
			       " nodes=%u shards=%u rf=%u keys=%u clients=%u ops=%" PRIu64
			       " ok=%" PRIu64 " unavailable=%" PRIu64
			       " timeout=%" PRIu64 " crashes=%" PRIu64
			       " partitions=%" PRIu64 " frames=%" PRIu64
			       " dropped=%" PRIu64 " changes=%" PRIu64
			       " changes_finished=%" PRIu64
			       " latency-us p50=%" PRIu64
			       " p99=%" PRIu64 " max=%" PRIu64 "\n",
			       opt.seed, r.ok ? "ok" : "FAIL", r.trace_hash,
			       r.nodes, r.shards, r.rf, r.keys, r.clients, r.ops,
			       r.ops_ok, r.ops_unavailable, r.ops_timeout,
			       r.crashes, r.partitions, r.frames,
			       r.dropped_frames, r.changes, r.changes_finished,
			       r.lat_p50_us, r.lat_p99_us,
			       r.lat_max_us);
		if (r.ok) {
			passed++;
			continue;
		}
		failed++;
		printf("FAIL seed=%" PRIu64 " %s %s\n", opt.seed, r.checker,
		       r.detail);
		printf("  replay: %s --seed %" PRIu64 "%s%s", argv[0], opt.seed,
		       bugs ? " --inject-bug " : "", bugs ? bugs : "");
		if (nodes)
			printf(" --nodes %d", nodes);
		if (shards)
			printf(" --shards %d", shards);
		if (membership)
			printf(" --membership");
		if (register_only)
			printf(" --register");
		if (no_oracles)
			printf(" --no-oracles");
		if (peer_frame)
			printf(" --peer-frame %d", peer_frame);
		printf(" -v\n");
		if (expect_fail)
			break; /* the checkers bit: that is all we wanted */
	}
	printf("sim: %" PRIu64 " seeds from %" PRIu64 ": %" PRIu64
	       " passed, %" PRIu64 " failed; ops=%" PRIu64 " ok=%" PRIu64
	       " unavailable=%" PRIu64 " timeout=%" PRIu64 " other=%" PRIu64
	       " crashes=%" PRIu64 " partitions=%" PRIu64 " frames=%" PRIu64
	       " dropped=%" PRIu64 " collected=%" PRIu64
	       " snapshots=%" PRIu64 " wipes=%" PRIu64 " changes=%" PRIu64
	       " changes_finished=%" PRIu64 " replaces=%" PRIu64
	       " aborts=%" PRIu64 " caught-up=%" PRIu64 " (late %" PRIu64 ")"
	       " cas-ops=%" PRIu64
	       " cas-decided=%" PRIu64 " lin-inconclusive=%" PRIu64
	       " register-decided=%" PRIu64 " register-lost=%" PRIu64
	       " combined-trace=%016" PRIx64 "\n",
	       passed + failed, seed, passed, failed, tot.ops, tot.ops_ok,
	       tot.ops_unavailable, tot.ops_timeout, tot.ops_other_err,
	       tot.crashes, tot.partitions, tot.frames, tot.dropped_frames,
	       tot.tombstones_collected, tot.snapshots, tot.wipes, tot.changes,
	       tot.changes_finished, tot.replaces, tot.aborts, tot.caught_up,
	       tot.caught_up_late,
	       tot.cas_ops,
	       tot.cas_ok,
	       tot.lin_inconclusive, reg_decided, reg_lost, combined);
	if (expect_fail) {
		if (failed)
			printf("sim: the injected bug was caught, as "
			       "expected\n");
		else
			printf("sim: the injected bug went UNDETECTED\n");
		return failed ? 0 : 1;
	}
	return failed ? 1 : 0;
}
