/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench: shared definitions of the load generator (main.c parses
 * options, runs phases and writes the outputs; engine.c is the per-thread
 * asynchronous request engine; transport_*.c move datagrams).
 */
#ifndef QR_BENCH_BENCH_H
#define QR_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/cluster.h"
#include "common/histogram.h"
#include "common/rng.h"
#include "core/placement.h"
#include "transport.h"
#include "vsize.h"
#include "zipf.h"

#define BENCH_THREADS_MAX 64
#define BENCH_ERR_SLOTS	  32 /* by -status: every enum qr_err fits */

/* Consistency of one operation kind, as sent on the wire. */
struct bench_level {
	uint8_t level; /* enum qr_level */
	uint8_t r, w;  /* with QR_LEVEL_RW */
};

struct bench_config {
	struct qr_cluster cluster;
	struct qr_placement pl;
	const struct bench_transport_ops *tp;
	unsigned threads;
	unsigned outstanding; /* closed loop: in flight per thread; open loop:
			       * the table's size (a cap, not a target) */
	double rate;	      /* open loop: offered ops/s, all threads; 0:
			       * closed loop */
	unsigned mix[3];      /* percent of get, put, del; sums to 100 */
	uint64_t keys;
	bool zipf;
	struct bench_zipf zipf_gen;
	unsigned key_bytes;
	struct bench_vsizes vsize; /* PUT value sizes (--value-size) */
	struct bench_level get, put; /* del uses put's */
	double warmup_s, duration_s;
	uint32_t timeout_us; /* per request; the node gets 90% of it */
	bool coord_random;   /* random replica coordinates (else the first) */
	bool busy_poll;	     /* spin instead of sleeping in the transport */
	bool populate;	     /* this phase writes every key once */
	uint64_t seed;
};

/* Errors by kind: a node's status or the generator's own verdict. */
enum bench_local_err {
	BENCH_SEND_FAILED, /* a frame the socket would not take (its requests
			    * then time out) */
	BENCH_LATE_REPLY,  /* a reply to a request already timed out */
	BENCH_BAD_REPLY,   /* a datagram that is no reply of ours */
	BENCH_NOT_SENT,	   /* open loop: an arrival in the window the sender
			    * never got to (it was that far behind) */
	BENCH_REASM_DROP,  /* a long reply's fragment the handle dropped (no
			    * free reassembly buffer, bad, CRC) or a long
			    * reply not whole in time */
	BENCH_LOCAL_ERRS,
};

struct bench_stats {
	struct qr_hist all;	 /* successful ops (NOT_FOUND included) */
	struct qr_hist by_op[3]; /* get, put, del */
	uint64_t ok;		 /* measured ops answered OK or NOT_FOUND */
	uint64_t ok_by_op[3];
	uint64_t bytes;	       /* value bytes of measured ok ops (PUT: sent,
				* GET: received) */
	uint64_t bytes_by_op[3];
	uint64_t not_found;
	uint64_t err[BENCH_ERR_SLOTS]; /* by -status; TIMEOUT: no answer */
	uint64_t local[BENCH_LOCAL_ERRS];
	uint64_t issued;     /* measured requests issued */
	uint64_t frames;     /* datagrams sent (all phases) */
	uint64_t msgs;	     /* requests in them */
	uint64_t table_full; /* open loop: loop turns with arrivals due
			      * but no free slot */
	uint64_t lag_max_ns; /* open loop: most behind schedule */
};

/* What a worker shows the progress printer (under lock). */
struct bench_progress {
	pthread_mutex_t lock;
	uint64_t done;	 /* requests finished, warm-up included */
	uint64_t errors; /* of which errors */
	struct qr_hist all;
};

struct bench_worker {
	pthread_t thread;
	unsigned id;
	const struct bench_config *cfg;
	uint64_t start_ns;   /* common start of the phase */
	int rc;		     /* 0, or -1 with err set */
	atomic_int finished; /* set by the worker as it returns */
	char err[160];
	struct bench_stats st;
	struct bench_progress pub;
};

/* Thread body: runs one phase (populate or measure); fills w->st. */
void *bench_worker_main(void *arg);
/* Merge a into acc (histograms and counters). */
void bench_stats_merge(struct bench_stats *acc, const struct bench_stats *a);
void bench_stats_init(struct bench_stats *s);
/* Format key number k into buf (key_bytes long): "k0000000042". */
void bench_key(char *buf, unsigned key_bytes, uint64_t k);

#endif
