/* SPDX-License-Identifier: MIT */
/*
 * Crash test: a child process recovers the WAL, then appends in fsync mode
 * (taking snapshots now and then) and reports every durable lsn to its
 * parent through a pipe; the parent kills it with SIGKILL at a random
 * moment (also during recovery and snapshots), then recovers read-only and
 * checks that every acknowledged write is there and intact: for each key,
 * the recovered version is at least the newest acknowledged one, every
 * record read matches its generator byte for byte, and recovery never
 * refuses (a crash leaves a torn tail, never "corruption").
 *
 *   test_wal_crash [--rounds N] [--seed S] [--dir D]
 * CI runs 50 rounds; tools/wal-soak runs thousands.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "common/rng.h"
#include "quorate/err.h"
#include "wal_test.h"

#define KEYS 500u
#define VMAX 200u

static void child(const char *dir, int fd, uint32_t round)
{
	struct wt_table t;
	struct qr_wal_recover_stats st;
	wt_table_init(&t, KEYS, VMAX);
	int rc = qr_wal_recover(dir, 0, NULL, wt_table_recover, &t, &st);
	if (rc || t.bad) {
		fprintf(stderr, "child: recovery failed: %d %s\n", rc,
			st.message);
		_exit(2);
	}
	struct qr_wal_config cfg;
	struct qr_wal *w;
	qr_wal_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.next_lsn = st.last_lsn + 1;
	cfg.segment_bytes = 256 << 10;
	cfg.value_bytes_max = QR_VALUE_INLINE_MAX;
	cfg.batch_bytes_max = 32 << 10;
	cfg.snapshot_buffer_bytes = 16 << 10;
	cfg.batches_inflight_max = 1 + round % 6;
	cfg.sync = round % 2 ? QR_WAL_SYNC_FDATASYNC : QR_WAL_SYNC_DSYNC;
	cfg.batch_wait_us_max = round % 3 ? 0 : 200;
	rc = qr_wal_open(&cfg, &w);
	if (rc) {
		fprintf(stderr, "child: open: %s\n", qr_strerror(rc));
		_exit(2);
	}
	struct qr_wal_snapshot_source src;
	wt_table_source(&t, &src);
	uint64_t next = cfg.next_lsn, reported = st.last_lsn, x = next;
	for (;;) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t n = 1 + (uint32_t)(x >> 58);
		for (uint32_t i = 0; i < n; i++) {
			struct wt_rec g;
			wt_gen(&g, next, KEYS, VMAX);
			rc = qr_wal_append(w, &g.r);
			if (rc == QR_EBUSY)
				break;
			if (rc) {
				fprintf(stderr, "child: append: %d\n", rc);
				_exit(2);
			}
			wt_table_apply(&t, &g.r, wt_key_of(next, KEYS));
			next++;
		}
		uint64_t d = qr_wal_poll(w, qr_clock_mono_us());
		if (qr_wal_error(w)) {
			fprintf(stderr, "child: wal error\n");
			_exit(2);
		}
		if (d > reported) {
			if (write(fd, &d, sizeof(d)) != sizeof(d))
				_exit(3);
			reported = d;
		}
		if (!qr_wal_snapshot_active(w) && (x >> 20) % 3000 == 0)
			qr_wal_snapshot_begin(w, &src);
		if (qr_wal_snapshot_active(w) &&
		    qr_wal_snapshot_step(w, 64) < 0) {
			fprintf(stderr, "child: snapshot failed\n");
			_exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	uint32_t rounds = 50;
	uint64_t seed = (uint64_t)time(NULL);
	char *dir = NULL;
	bool own_dir = true;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rounds"))
			rounds = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--dir")) {
			dir = strdup(argv[i + 1]);
			own_dir = false;
		}
	}
	if (!dir)
		dir = wt_tmpdir();
	printf("wal-crash: %u rounds, seed %llu, dir %s\n", rounds,
	       (unsigned long long)seed, dir);
	uint64_t x = seed | 1, acked = 0, torn = 0, snaps = 0, failures = 0;
	uint64_t *key_acked = calloc(KEYS, sizeof(uint64_t));

	for (uint32_t r = 0; r < rounds && !failures; r++) {
		int p[2];
		if (pipe(p)) {
			perror("pipe");
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], r);
		}
		close(p[1]);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t delay_us = 3000 + (x >> 33) % 120000;
		uint64_t t0 = qr_clock_mono_us(), got = acked;
		uint8_t buf[4096];
		size_t have = 0;
		bool dead = false;
		for (;;) {
			uint64_t now = qr_clock_mono_us();
			if (!dead && now - t0 >= delay_us) {
				kill(pid, SIGKILL);
				dead = true;
			}
			struct pollfd pf = { p[0], POLLIN, 0 };
			int to = dead ? 1000 :
				(int)((delay_us - (now - t0)) / 1000) + 1;
			if (poll(&pf, 1, to) <= 0 && !dead)
				continue;
			ssize_t k = read(p[0], buf + have, sizeof(buf) - have);
			if (k <= 0)
				break; /* EOF: the child is gone */
			have += (size_t)k;
			size_t used = have / 8 * 8;
			for (size_t o = 0; o < used; o += 8) {
				uint64_t d;
				memcpy(&d, buf + o, 8);
				if (d > got)
					got = d;
			}
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		close(p[0]);
		int status;
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "round %u: child exited %d\n", r,
				WEXITSTATUS(status));
			failures++;
			break;
		}
		/* Everything up to got was acknowledged. */
		for (uint64_t l = acked + 1; l <= got; l++)
			key_acked[wt_key_of(l, KEYS)] = l;
		acked = got;

		struct wt_table t;
		struct qr_wal_recover_stats st;
		struct qr_wal_recover_options o = { .read_only = true };
		wt_table_init(&t, KEYS, VMAX);
		int rc = qr_wal_recover(dir, 0, &o, wt_table_recover, &t, &st);
		if (rc) {
			fprintf(stderr, "round %u: recovery refused: %s: %s\n",
				r, qr_strerror(rc), st.message);
			failures++;
		}
		if (t.bad) {
			fprintf(stderr, "round %u: %llu records damaged\n", r,
				(unsigned long long)t.bad);
			failures++;
		}
		if (st.last_lsn < acked) {
			fprintf(stderr, "round %u: acked %llu, recovered only "
				"up to %llu\n", r, (unsigned long long)acked,
				(unsigned long long)st.last_lsn);
			failures++;
		}
		for (uint32_t k = 0; k < KEYS; k++)
			if (key_acked[k] && t.hlc[k] < key_acked[k] * 4) {
				fprintf(stderr, "round %u: key %u: acked lsn "
					"%llu lost (have version of lsn "
					"%llu)\n", r, k,
					(unsigned long long)key_acked[k],
					(unsigned long long)t.hlc[k] / 4);
				failures++;
				break;
			}
		torn += st.torn_tail_truncated;
		snaps += st.snapshot_lsn != 0;
		wt_table_free(&t);
	}
	printf("wal-crash: %s: %llu writes acknowledged, %llu recoveries cut "
	       "a torn tail, %llu recovered from a snapshot\n",
	       failures ? "FAILED" : "ok", (unsigned long long)acked,
	       (unsigned long long)torn, (unsigned long long)snaps);
	if (!failures && own_dir)
		wt_rmdir(dir);
	else if (failures)
		fprintf(stderr, "data kept in %s (seed %llu)\n", dir,
			(unsigned long long)seed);
	free(key_acked);
	return failures ? 1 : 0;
}
