/* SPDX-License-Identifier: MIT */
/* Reassembly (src/core/reasm.c): in order, out of order and duplicated
 * fragments; fragments of two writes that share an id never make a mixed
 * value; a truncated or inconsistent fragment is dropped; a slow message
 * does not block others; per-sender and pool limits; expiry; a message
 * missing its first chunk gives way under pressure (A7); and a random
 * model check (several senders, shuffle, duplicates, loss, corruption). */
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/rng.h"
#include "core/reasm.h"
#include "quorate/err.h"
#include "unit.h"

#define MS 1000000ull

static struct qr_reasm R;

static void setup(uint32_t slots, uint32_t bytes_max, uint32_t per_src)
{
	struct qr_reasm_config c = {.slots = slots,
				    .bytes_max = bytes_max,
				    .per_src_max = per_src,
				    .timeout_ns = 100 * MS};
	CU_ASSERT_FATAL(qr_reasm_init(&R, &c) == 0);
}

static void fill(uint8_t *b, uint32_t n, uint8_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* Fragment i of msg with the identity given. */
static struct qr_frag frag(uint64_t src, uint64_t id, const uint8_t *msg,
			   uint32_t total, uint32_t chunk, uint32_t i)
{
	struct qr_frag f = {.src = src, .incarnation = 1, .msg_id = id};
	CU_ASSERT(qr_frag_cut(&f, msg, total, chunk, i) > 0);
	f.crc = qr_crc32c(0, msg, total);
	return f;
}

static void test_config_refused(void)
{
	struct qr_reasm r;
	struct qr_reasm_config c = {.slots = 0, .bytes_max = 4096,
				    .per_src_max = 1, .timeout_ns = 1};
	CU_ASSERT_EQUAL(qr_reasm_init(&r, &c), QR_EINVAL);
	c.slots = 2;
	c.per_src_max = 3;
	CU_ASSERT_EQUAL(qr_reasm_init(&r, &c), QR_EINVAL);
	c.per_src_max = 2;
	c.bytes_max = 100;
	CU_ASSERT_EQUAL(qr_reasm_init(&r, &c), QR_EINVAL);
	c.bytes_max = 4096;
	c.timeout_ns = 0;
	CU_ASSERT_EQUAL(qr_reasm_init(&r, &c), QR_EINVAL);
}

static void test_reverse_order_and_duplicates(void)
{
	setup(4, 1 << 16, 2);
	static uint8_t m[10000];
	fill(m, sizeof(m), 3);
	uint32_t n = qr_frag_cut(&(struct qr_frag){0}, m, sizeof(m), 1000, 0);
	CU_ASSERT_EQUAL(n, 10);
	struct qr_reasm_msg out;
	for (uint32_t k = n; k-- > 1;) {
		struct qr_frag f = frag(7, 42, m, sizeof(m), 1000, k);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0); /* dup */
	}
	CU_ASSERT_EQUAL(R.st.dup, n - 1);
	CU_ASSERT_EQUAL(R.st.held_bytes, sizeof(m) - 1000);
	struct qr_frag f0 = frag(7, 42, m, sizeof(m), 1000, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f0, 0, &out), 1);
	CU_ASSERT_EQUAL(out.len, sizeof(m));
	CU_ASSERT_EQUAL(out.src, 7);
	CU_ASSERT(memcmp(out.data, m, sizeof(m)) == 0);
	CU_ASSERT_EQUAL(R.st.held_bytes, 0);
	/* a late duplicate while the message is consumed: ignored */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f0, 0, &out), 0);
	qr_reasm_release(&R, &out);
	CU_ASSERT_EQUAL(R.st.open, 0);
	qr_reasm_fini(&R);
}

/* Two writes under one id (a sender that reused it): whichever order the
 * fragments come in, the only message handed out is A or B exactly. */
static void test_two_writes_never_mix(void)
{
	static uint8_t a[3000], b[3000];
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 99);
	for (unsigned pattern = 0; pattern < 8; pattern++) {
		setup(4, 1 << 14, 4);
		struct qr_reasm_msg out;
		int completed = 0;
		for (uint32_t k = 0; k < 3; k++) {
			const uint8_t *src = (pattern >> k) & 1 ? b : a;
			struct qr_frag f = frag(1, 5, src, 3000, 1000, k);
			int rc = qr_reasm_add(&R, &f, 0, &out);
			CU_ASSERT(rc == 0 || rc == 1 || rc == QR_EWIRE_FIELD);
			if (rc == 1) {
				completed++;
				CU_ASSERT(memcmp(out.data, a, 3000) == 0 ||
					  memcmp(out.data, b, 3000) == 0);
				qr_reasm_release(&R, &out);
			}
		}
		/* mixed patterns complete nothing; pure ones complete once */
		CU_ASSERT_EQUAL(completed, pattern == 0 || pattern == 7);
		qr_reasm_fini(&R);
	}
	/* Same total, chunk and crc but other bytes (a forged or corrupt
	 * chunk): caught by the CRC at completion. */
	setup(2, 1 << 14, 2);
	struct qr_reasm_msg out;
	struct qr_frag f = frag(1, 9, a, 3000, 1000, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
	f = frag(1, 9, b, 3000, 1000, 1);
	f.crc = qr_crc32c(0, a, 3000);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
	f = frag(1, 9, a, 3000, 1000, 2);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_ECORRUPT);
	CU_ASSERT_EQUAL(R.st.drop_crc, 1);
	CU_ASSERT_EQUAL(R.st.open, 0);
	qr_reasm_fini(&R);
}

static void test_truncated_and_bad_fragments(void)
{
	setup(2, 8192, 2);
	static uint8_t m[5000];
	fill(m, sizeof(m), 5);
	struct qr_reasm_msg out;
	struct qr_frag f = frag(2, 1, m, sizeof(m), 1024, 4);
	f.len -= 1; /* a short last chunk: the value would be truncated */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_EWIRE_FIELD);
	f = frag(2, 1, m, sizeof(m), 1024, 1);
	f.offset += 1; /* not a chunk boundary */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_EWIRE_FIELD);
	f = frag(2, 1, m, sizeof(m), 1024, 1);
	f.chunk = 100; /* below the minimum */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_EWIRE_FIELD);
	CU_ASSERT_EQUAL(R.st.drop_bad, 3);
	CU_ASSERT_EQUAL(R.st.open, 0);
	/* a message over bytes_max */
	static uint8_t big[9000];
	f = frag(2, 2, big, sizeof(big), 1024, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_ETOOLARGE);
	/* a fragment whose total disagrees with its slot discards it */
	f = frag(2, 3, m, sizeof(m), 1024, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
	f = frag(2, 3, m, sizeof(m) - 1, 1024, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), QR_EWIRE_FIELD);
	CU_ASSERT_EQUAL(R.st.open, 0);
	CU_ASSERT_EQUAL(R.st.held_bytes, 0);
	CU_ASSERT_EQUAL(R.st.complete, 0);
	qr_reasm_fini(&R);
}

/* A message missing a chunk holds one slot until it expires; others from
 * the same and other senders complete meanwhile. */
static void test_slow_message_blocks_nothing(void)
{
	setup(3, 4096, 2);
	static uint8_t m[2048];
	fill(m, sizeof(m), 8);
	struct qr_reasm_msg out;
	struct qr_frag f = frag(1, 100, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0); /* never ends */
	for (uint64_t id = 0; id < 50; id++) {
		for (uint32_t k = 0; k < 4; k++) {
			f = frag(1 + id % 2, id, m, sizeof(m), 512, k);
			int rc = qr_reasm_add(&R, &f, id * MS, &out);
			CU_ASSERT_EQUAL(rc, k == 3);
		}
		CU_ASSERT(memcmp(out.data, m, sizeof(m)) == 0);
		qr_reasm_release(&R, &out);
	}
	CU_ASSERT_EQUAL(R.st.complete, 50);
	CU_ASSERT_EQUAL(R.st.open, 1);
	CU_ASSERT_EQUAL(qr_reasm_expire(&R, 99 * MS), 0);
	CU_ASSERT_EQUAL(qr_reasm_expire(&R, 100 * MS), 1);
	CU_ASSERT_EQUAL(R.st.open, 0);
	CU_ASSERT_EQUAL(R.st.held_bytes, 0);
	qr_reasm_fini(&R);
}

/* A4: a slot that stops growing is freed after idle_ns, long before the
 * whole-time bound; one that keeps growing is not. */
static void test_idle_slot_expires(void)
{
	struct qr_reasm_config c = {.slots = 2, .bytes_max = 4096,
				    .per_src_max = 2, .timeout_ns = 100 * MS,
				    .idle_ns = 10 * MS};
	CU_ASSERT_EQUAL_FATAL(qr_reasm_init(&R, &c), 0);
	static uint8_t m[2048];
	fill(m, sizeof(m), 5);
	struct qr_reasm_msg out;
	struct qr_frag a = frag(1, 1, m, sizeof(m), 512, 0);
	struct qr_frag b = frag(2, 1, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &a, 0, &out), 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &b, 0, &out), 0);
	b = frag(2, 1, m, sizeof(m), 512, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &b, 8 * MS, &out), 0);
	/* at 12 ms sender 1's slot is idle for 12 ms, sender 2's for 4 */
	CU_ASSERT_EQUAL(qr_reasm_expire(&R, 12 * MS), 1);
	CU_ASSERT_EQUAL(R.st.open, 1);
	b = frag(2, 1, m, sizeof(m), 512, 2);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &b, 17 * MS, &out), 0);
	b = frag(2, 1, m, sizeof(m), 512, 3);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &b, 26 * MS, &out), 1);
	CU_ASSERT(memcmp(out.data, m, sizeof(m)) == 0);
	qr_reasm_release(&R, &out);
	CU_ASSERT_EQUAL(R.st.expired, 1);
	qr_reasm_fini(&R);
}

static void test_sender_and_pool_limits(void)
{
	setup(3, 4096, 2);
	static uint8_t m[1024];
	struct qr_reasm_msg out;
	/* Sender 1's third message evicts its oldest incomplete one (A3). */
	for (uint64_t id = 0; id < 3; id++) {
		struct qr_frag f = frag(1, id, m, sizeof(m), 512, 0);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, id, &out), 0);
	}
	CU_ASSERT_EQUAL(R.st.evicted, 1);
	CU_ASSERT_EQUAL(R.st.drop_src, 0);
	CU_ASSERT_EQUAL(R.st.open, 2);
	struct qr_frag f = frag(1, 2, m, sizeof(m), 512, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 3, &out), 1); /* id 2 whole */
	/* A message being consumed (id 2, not yet released) is never
	 * evicted: the next new message of sender 1 evicts id 1. */
	struct qr_reasm_msg other;
	f = frag(1, 3, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 4, &other), 0);
	CU_ASSERT_EQUAL(R.st.evicted, 2);
	CU_ASSERT_EQUAL(out.msg_id, 2);
	/* ... and with only a consumed one and id 3 held, id 4 evicts 3. */
	f = frag(1, 4, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 5, &other), 0);
	CU_ASSERT_EQUAL(R.st.evicted, 3);
	qr_reasm_release(&R, &out);
	/* The pool (3 slots): sender 1 holds one, senders 2 and 3 one each,
	 * sender 4 finds none. */
	f = frag(2, 0, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 6, &other), 0);
	f = frag(3, 0, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 7, &other), 0);
	f = frag(4, 0, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 8, &other), QR_EFULL);
	CU_ASSERT_EQUAL(R.st.drop_full, 1);
	CU_ASSERT_EQUAL(R.st.drop_src, 0);
	qr_reasm_fini(&R);
}

/* A7: with fewer than a quarter of the slots free, a later chunk of a
 * message without a slot is refused, and a first chunk finding the pool
 * full evicts the message missing its first chunk that grew last longest
 * ago; a message that has its first chunk is never evicted by that rule. */
static void test_headless_under_pressure(void)
{
	setup(8, 4096, 8); /* a quarter: 2 slots */
	static uint8_t m[1024];
	fill(m, sizeof(m), 9);
	struct qr_reasm_msg out;
	struct qr_frag f;
	/* Messages 0..6 from sender 1 lost their first chunk: 6 of them open
	 * slots while 3 or more are free, the 7th with 2 free too. */
	for (uint64_t id = 0; id < 7; id++) {
		f = frag(1, id, m, sizeof(m), 512, 1);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, id * MS, &out), 0);
	}
	CU_ASSERT_EQUAL(R.st.open, 7);
	/* One slot free, fewer than a quarter: message 7's later chunk is
	 * refused, its first chunk is not. */
	f = frag(2, 7, m, sizeof(m), 512, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 8 * MS, &out), QR_EFULL);
	CU_ASSERT_EQUAL(R.st.drop_headless, 1);
	f = frag(2, 8, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 9 * MS, &out), 0);
	CU_ASSERT_EQUAL(R.st.open, 8);
	/* Full: message 9's first chunk evicts message 0 (the idlest
	 * headless one); message 0's first chunk then opens it anew. */
	f = frag(3, 9, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 10 * MS, &out), 0);
	CU_ASSERT_EQUAL(R.st.evicted, 1);
	CU_ASSERT_EQUAL(R.st.drop_full, 0);
	f = frag(1, 1, m, sizeof(m), 512, 0); /* message 1 completes */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 11 * MS, &out), 1);
	CU_ASSERT(out.msg_id == 1 && memcmp(out.data, m, sizeof(m)) == 0);
	qr_reasm_release(&R, &out);
	f = frag(1, 0, m, sizeof(m), 512, 0); /* message 0 starts over */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 12 * MS, &out), 0);
	f = frag(1, 0, m, sizeof(m), 512, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 13 * MS, &out), 1);
	qr_reasm_release(&R, &out);
	/* Messages 8 and 9 hold their first chunk: with 2..6 headless gone
	 * by expiry, a full pool of headed messages drops a new first chunk. */
	CU_ASSERT_EQUAL(qr_reasm_expire(&R, 200 * MS), 7);
	CU_ASSERT_EQUAL(R.st.open, 0);
	for (uint64_t id = 20; id < 28; id++) {
		f = frag(4, id, m, sizeof(m), 512, 0);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 300 * MS, &out), 0);
	}
	f = frag(5, 30, m, sizeof(m), 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 301 * MS, &out), QR_EFULL);
	CU_ASSERT_EQUAL(R.st.drop_full, 1);
	CU_ASSERT_EQUAL(R.st.evicted, 1);
	qr_reasm_fini(&R);
}

/* A7 before A3: a later chunk dropped under pressure does not first evict
 * its sender's message still assembling. */
static void test_headless_drop_evicts_nothing(void)
{
	setup(8, 4096, 2); /* a quarter: 2 slots; 2 per sender */
	static uint8_t m[1024];
	fill(m, sizeof(m), 4);
	struct qr_reasm_msg out;
	struct qr_frag f;
	for (uint64_t src = 1; src <= 4; src++)
		for (uint64_t id = 0; id < 2; id++) {
			f = frag(src, id, m, sizeof(m), 512, 0);
			CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
		}
	f = frag(1, 9, m, sizeof(m), 512, 1); /* sender 1 at its share */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 1, &out), QR_EFULL);
	CU_ASSERT_EQUAL(R.st.drop_headless, 1);
	CU_ASSERT_EQUAL(R.st.evicted, 0);
	CU_ASSERT_EQUAL(R.st.open, 8);
	f = frag(1, 0, m, sizeof(m), 512, 1); /* message 0 still completes */
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 2, &out), 1);
	qr_reasm_release(&R, &out);
	qr_reasm_fini(&R);
}

/* A8: a message that got nothing for gap_ns is reported with exactly the
 * chunks it lacks, once per gap and at most nacks_max times without
 * progress; a complete or freshly grown one is not. */
static void test_stalled_reports_missing(void)
{
	setup(4, 8192, 4);
	static uint8_t m[10 * 512];
	fill(m, sizeof(m), 3);
	struct qr_reasm_msg out;
	struct qr_reasm_gap g[4];
	struct qr_frag f;
	/* message 1: chunks 0, 1, 4, 9 of 10; message 2: chunk 0 of 2 */
	const uint32_t have[] = {0, 1, 4, 9};
	for (int i = 0; i < 4; i++) {
		f = frag(1, 1, m, sizeof(m), 512, have[i]);
		CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 0, &out), 0);
	}
	f = frag(2, 2, m, 1024, 512, 0);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 5 * MS, &out), 0);
	CU_ASSERT_EQUAL(qr_reasm_stalled(&R, 8 * MS, 10 * MS, 2, g, 4), 0);
	CU_ASSERT_EQUAL_FATAL(qr_reasm_stalled(&R, 10 * MS, 10 * MS, 2, g, 4),
			      1);
	/* first missing: chunk 2; bits from there: 2 3 5 6 7 8 missing */
	CU_ASSERT(g[0].src == 1 && g[0].msg_id == 1 && g[0].total == sizeof(m) &&
		  g[0].chunk == 512 && g[0].first == 2 && g[0].nbytes == 1 &&
		  g[0].missing[0] == 0x7b);
	CU_ASSERT_EQUAL(qr_reasm_stalled(&R, 15 * MS, 10 * MS, 2, g, 4), 1);
	CU_ASSERT_EQUAL(g[0].src, 2); /* message 1 was reported at 10 ms */
	CU_ASSERT_EQUAL(qr_reasm_stalled(&R, 20 * MS, 10 * MS, 2, g, 4), 1);
	CU_ASSERT_EQUAL(qr_reasm_stalled(&R, 40 * MS, 10 * MS, 2, g, 4), 1);
	/* both at nacks_max now */
	CU_ASSERT_EQUAL(qr_reasm_stalled(&R, 90 * MS, 10 * MS, 2, g, 4), 0);
	CU_ASSERT_EQUAL(R.st.stalled, 4);
	/* a NACK answered (chunk 2 of message 1 came) does not count: it is
	 * reported again, from chunk 3 */
	f = frag(1, 1, m, sizeof(m), 512, 2);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 91 * MS, &out), 0);
	CU_ASSERT_EQUAL_FATAL(qr_reasm_stalled(&R, 101 * MS, 10 * MS, 2, g, 4),
			      1);
	CU_ASSERT(g[0].src == 1 && g[0].first == 3 && g[0].missing[0] == 0x3d);
	/* the resent chunks complete message 2 */
	f = frag(2, 2, m, 1024, 512, 1);
	CU_ASSERT_EQUAL(qr_reasm_add(&R, &f, 102 * MS, &out), 1);
	qr_reasm_release(&R, &out);
	qr_reasm_fini(&R);
}

/* Random model: messages from 4 senders, fragments shuffled, some
 * duplicated, some lost, some corrupted. Every message handed out is the
 * original of its identity, byte for byte; a message is complete iff all
 * its chunks came and none was corrupted (a duplicate may complete it
 * again after release). */
#define NMSG 64
static void test_random_model(void)
{
	struct qr_rng rng;
	qr_rng_seed(&rng, 1234);
	static uint8_t msg[NMSG][20000];
	static uint32_t len[NMSG];
	static bool lost[NMSG], bad[NMSG], done[NMSG];
	static struct qr_frag fr[NMSG * 80 * 2];
	uint32_t nf = 0;
	setup(2 * NMSG, 20000, NMSG); /* never under A7 pressure */
	for (uint32_t i = 0; i < NMSG; i++) {
		len[i] = 1 + (uint32_t)(qr_rng_next(&rng) % 20000);
		fill(msg[i], len[i], (uint8_t)i);
		uint32_t chunk = 256 + (uint32_t)(qr_rng_next(&rng) % 1200);
		uint32_t n = qr_frag_cut(&(struct qr_frag){0}, msg[i], len[i],
					 chunk, 0);
		uint32_t drop_k = qr_rng_next(&rng) % 8 == 0 ?
					  (uint32_t)(qr_rng_next(&rng) % n) :
					  UINT32_MAX;
		lost[i] = drop_k != UINT32_MAX;
		for (uint32_t k = 0; k < n; k++) {
			if (k == drop_k)
				continue;
			fr[nf++] = frag(i % 4, i, msg[i], len[i], chunk, k);
			if (qr_rng_next(&rng) % 4 == 0) {
				fr[nf] = fr[nf - 1];
				nf++;
			}
		}
	}
	for (uint32_t k = nf; k > 1; k--) { /* shuffle */
		uint32_t j = (uint32_t)(qr_rng_next(&rng) % k);
		struct qr_frag t = fr[k - 1];
		fr[k - 1] = fr[j];
		fr[j] = t;
	}
	static uint8_t junk[2000];
	static uint64_t seen[NMSG][2]; /* chunk c of message i arrived */
	for (uint32_t k = 0; k < nf; k++) {
		uint64_t i = fr[k].msg_id, c = fr[k].offset / fr[k].chunk;
		bool first = !(seen[i][c / 64] & (1ull << (c % 64)));
		seen[i][c / 64] |= 1ull << (c % 64);
		/* corrupt a few chunks; only a first arrival is kept (a
		 * later one is a duplicate, ignored) */
		if (qr_rng_next(&rng) % 97 == 0) {
			memcpy(junk, fr[k].data, fr[k].len);
			junk[0] ^= 0x5a;
			fr[k].data = junk; /* used below only before next k */
			bad[i] |= first;
		}
		struct qr_reasm_msg out;
		int rc = qr_reasm_add(&R, &fr[k], 0, &out);
		CU_ASSERT(rc == 0 || rc == 1 || rc == QR_ECORRUPT);
		if (rc == 1) {
			CU_ASSERT_EQUAL(out.msg_id, i);
			CU_ASSERT(!lost[i] && !bad[i]);
			CU_ASSERT_EQUAL(out.len, len[i]);
			done[i] = true;
			CU_ASSERT(memcmp(out.data, msg[i], len[i]) == 0);
			qr_reasm_release(&R, &out);
		}
		fr[k].data = NULL; /* junk is reused */
	}
	/* A duplicate that arrives after its message was handed out and
	 * released starts a new slot (a one-chunk message then completes
	 * twice): the layers above take whole duplicate messages already
	 * (the network duplicates frames), so only "each good message at
	 * least once, nothing else" is required. */
	uint32_t want = 0;
	for (uint32_t i = 0; i < NMSG; i++) {
		want += !lost[i] && !bad[i];
		CU_ASSERT_EQUAL(done[i], !lost[i] && !bad[i]);
	}
	CU_ASSERT(R.st.complete >= want);
	CU_ASSERT(want > NMSG / 2);
	qr_reasm_expire(&R, 1000 * MS);
	CU_ASSERT_EQUAL(R.st.open, 0);
	CU_ASSERT_EQUAL(R.st.held_bytes, 0);
	qr_reasm_fini(&R);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"config refused", test_config_refused},
		{"reverse order and duplicates",
		 test_reverse_order_and_duplicates},
		{"two writes never mix", test_two_writes_never_mix},
		{"truncated and bad fragments",
		 test_truncated_and_bad_fragments},
		{"slow message blocks nothing",
		 test_slow_message_blocks_nothing},
		{"idle slot expires", test_idle_slot_expires},
		{"sender and pool limits", test_sender_and_pool_limits},
		{"headless under pressure", test_headless_under_pressure},
		{"headless drop evicts nothing",
		 test_headless_drop_evicts_nothing},
		{"stalled reports missing", test_stalled_reports_missing},
		{"random model", test_random_model},
		{NULL, NULL},
	};
	return qr_unit_main("reasm", cases);
}
