/* SPDX-License-Identifier: MIT */
/*
 * Session reads against a lagging replica (tests/cluster/test_lag.sh).
 * One session, two handles sharing its token: a writer whose keys are
 * coordinated by a node that is not lagging (QUORUM puts of an increasing
 * counter), and a reader that coordinates its ONE gets on a random replica,
 * the lagging one included. Every read carries the session token, so it
 * must return the last value written or a later one: never an older one
 * (read-your-writes), never less than an earlier read (monotonic reads).
 * STALE answers are allowed (the replica could not catch up in time) and
 * counted; a read that goes back in time fails the run.
 *
 * Usage: session_reads CLUSTER_FILE SECONDS LAGGING_NODE
 * Prints one line of counts; exit 0, or 1 on a violation or no reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "quorate/client.h"
#include "quorate/err.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s CLUSTER SECONDS LAGGING_NODE\n",
			argv[0]);
		return 2;
	}
	double seconds = atof(argv[2]);
	int lagging = atoi(argv[3]);
	char err[256];
	struct qr_client_options wo, ro;
	qr_client_options_default(&wo);
	qr_client_options_default(&ro);
	ro.coordinator = QR_COORD_RANDOM;
	/* No resends to another node: a read sent to the lagging node is
	 * answered by it (it waits for its watermark, or asks the others). */
	ro.retries = 0;
	ro.deadline_ms = 3000;
	struct qr_client *w = qr_client_open(argv[1], &wo, err, sizeof(err));
	struct qr_client *r = w ? qr_client_open(argv[1], &ro, err,
						 sizeof(err))
				: NULL;
	if (!w || !r) {
		fprintf(stderr, "session_reads: %s\n", err);
		return 2;
	}
	/* Keys the writer coordinates on a node that does not lag. */
	char keys[8][32];
	int nkeys = 0;
	for (int i = 0; nkeys < 8 && i < 10000; i++) {
		char k[32];
		uint16_t nodes[8];
		snprintf(k, sizeof(k), "sess-%d", i);
		if (qr_client_replicas(w, k, strlen(k), NULL, nodes) < 0)
			return 2;
		if (nodes[0] != lagging)
			snprintf(keys[nkeys++], sizeof(keys[0]), "%s", k);
	}
	uint64_t last_written[8] = {0}, last_read[8] = {0};
	uint64_t puts = 0, reads = 0, at_lagging = 0, stale = 0, errs = 0;
	uint64_t violations = 0;
	uint32_t max_lag = 0;
	struct qr_req_opts put_o = {.consistency = QR_CONSISTENCY_QUORUM};
	struct qr_req_opts get_o = {.consistency = QR_CONSISTENCY_ONE};
	static struct qr_result res;
	double end = qr_clock_mono_s() + seconds;
	for (uint64_t n = 1; qr_clock_mono_s() < end; n++) {
		int k = (int)(n % (uint64_t)nkeys);
		char val[32];
		snprintf(val, sizeof(val), "%" PRIu64, n);
		if (qr_client_put(w, keys[k], strlen(keys[k]), val, strlen(val),
				  &put_o, &res) == 0) {
			puts++;
			last_written[k] = n;
		}
		/* The reader belongs to the same session. */
		qr_client_session_observe(r, qr_client_session(w));
		for (int j = 0; j < 3; j++) {
			static char vbuf[64];
			int rc = qr_client_get(r, keys[k], strlen(keys[k]),
					       vbuf, sizeof(vbuf), &get_o, &res);
			qr_client_session_observe(w, qr_client_session(r));
			if (rc == QR_ESTALE) {
				stale++;
				continue;
			}
			if (rc != 0) {
				errs++;
				continue;
			}
			reads++;
			char text[32] = {0};
			memcpy(text, res.value,
			       res.value_len < 31 ? res.value_len : 31);
			uint64_t got = strtoull(text, NULL, 10);
			if (res.coordinator == lagging) {
				at_lagging++;
				if (res.lag_ms != UINT32_MAX &&
				    res.lag_ms > max_lag)
					max_lag = res.lag_ms;
			}
			if (got < last_written[k] || got < last_read[k]) {
				violations++;
				fprintf(stderr,
					"session_reads: %s read %" PRIu64
					" via node %u after writing %" PRIu64
					" and reading %" PRIu64 "\n",
					keys[k], got, res.coordinator,
					last_written[k], last_read[k]);
			}
			if (got > last_read[k])
				last_read[k] = got;
		}
	}
	printf("session_reads: puts=%" PRIu64 " reads=%" PRIu64
	       " via_lagging=%" PRIu64 " stale=%" PRIu64 " errors=%" PRIu64
	       " went_back=%" PRIu64 " max_lag_ms_at_lagging=%u\n",
	       puts, reads, at_lagging, stale, errs, violations, max_lag);
	qr_client_close(r);
	qr_client_close(w);
	return violations || reads == 0 || at_lagging == 0 ? 1 : 0;
}
