/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's request table: slots, their generations, duplicate
 * suppression of client writes, the adaptive retransmission timeout, and
 * when a slot is finished.
 *
 * State of a request slot:
 *
 *   FREE --client req--> ACTIVE --quorum met--> ANSWERED --all done--> FREE
 *                          |  \                    \--linger over--> FREE
 *                          |   \--deadline--> (UNAVAILABLE) --> FREE
 *                          \--fast fail (too many DOWN)--> FREE
 *
 *   transition                  function
 *   FREE -> ACTIVE              qc_req_alloc (intake.c)
 *   ACTIVE -> ANSWERED          qc_req_answer (write.c, read.c, cas.c)
 *   ANSWERED -> FREE            qc_req_maybe_done, or the linger timer
 *   ACTIVE -> FREE (deadline)   qc_req_timer
 *
 * Invariants:
 *  T1. A slot is named on the wire by op_id = generation << 32 | index
 *      (generation 31 bits, never 0): a reply for a recycled slot has the
 *      wrong generation and is dropped (qc_req_by_op_id).
 *  T2. req_busy has a bit set exactly for the slots in use (kind !=
 *      REQ_FREE): the periodic scans visit only those.
 *  T3. A client is answered at most once per slot (asserted in
 *      qc_req_answer).
 *  T4. A write slot freed with replicas that did not acknowledge it leaves
 *      a hint for each (qc_req_free -> qc_hint_missing).
 *  T5. Dedupe: a retried client write (same client, req_id) is not stamped
 *      twice while its entry lives (docs/protocol.md).
 */
#include "core/core_pvt.h"

#include <stdlib.h>
#include <string.h>

/* R or W a request needs; 0 if the level asks for more than RF. */
uint8_t qc_level_count(uint8_t level, uint8_t r_or_w, uint8_t rf)
{
	switch (level) {
	case QR_LEVEL_ONE:
		return 1;
	case QR_LEVEL_QUORUM:
		return qc_quorum_of(rf);
	case QR_LEVEL_ALL:
		return rf;
	case QR_LEVEL_RW:
		return r_or_w >= 1 && r_or_w <= rf ? r_or_w : 0;
	case QR_LEVEL_ANY:
		return 1;
	}
	return 0;
}

struct req *qc_req_by_op_id(struct qr_core *c, uint64_t op_id)
{
	uint32_t idx = (uint32_t)op_id;
	if (idx >= c->cfg.requests_max)
		return NULL;
	struct req *q = &c->reqs[idx];
	if (q->kind == REQ_FREE || q->gen != (uint32_t)(op_id >> 32))
		return NULL;
	return q;
}

/* The sizes the docs quote (docs/architecture.md "What exists", and
 * docs/operations.md for hints): a change here must change them too. */
_Static_assert(sizeof(struct req) == 2704, "request slot: update the docs");
_Static_assert(sizeof(struct hint) == 1368, "hint slot: update the docs");
_Static_assert(sizeof(struct loop_slot) == 1456,
	       "loopback slot: update the docs");

struct req *qc_req_alloc(struct qr_core *c)
{
	if (c->free_count == 0)
		return NULL;
	struct req *q = &c->reqs[c->free_reqs[--c->free_count]];
	uint32_t k = (uint32_t)(q - c->reqs);
	QR_ASSERT(q->kind == REQ_FREE && !q->parked);		/* T2 */
	QR_ASSERT(!(c->req_busy[k / 64] & (1ull << (k % 64)))); /* T2 */
	uint32_t gen = (q->gen + 1) & GEN_MASK;
	memset(q, 0, offsetof(struct req, key));
	q->gen = gen ? gen : 1; /* T1: never 0 */
	c->req_busy[k / 64] |= 1ull << (k % 64);
	return q;
}

void qc_req_free(struct qr_core *c, struct req *q)
{
	QR_ASSERT(q->kind != REQ_WRITE || q->token_wait ||
		  !qr_version_is_none(q->version)); /* W4: stamped or waiting */
	if ((q->kind == REQ_WRITE && !q->token_wait) ||
	    (q->kind == REQ_CAS && q->phase == CAS_ACCEPT))
		qc_hint_missing(c, q);
	qr_timer_cancel(&c->wheel, &q->timer);
	if (q->parked) {
		QR_ASSERT(c->parked > 0); /* H3 */
		q->parked = false;
		c->parked--;
	}
	uint32_t k = (uint32_t)(q - c->reqs);
	QR_ASSERT(q->kind != REQ_FREE);			     /* T2 */
	QR_ASSERT(c->req_busy[k / 64] & (1ull << (k % 64))); /* T2 */
	QR_ASSERT(c->free_count < c->cfg.requests_max);
	q->kind = REQ_FREE;
	qc_value_release(c, &q->value_ref); /* long.h V1 */
	qc_value_release(c, &q->st_value_ref);
	c->req_busy[k / 64] &= ~(1ull << (k % 64));
	c->free_reqs[c->free_count++] = k;
}

/*
 * The dedupe table (T5). A lookup of a new write, the common case, finds
 * nothing: it reads the set's 16-byte dedup_tags and no entry (the tags of
 * all sets, 4 x requests_max x 4 bytes, stay in the cache better than the
 * entries, 64 bytes each, did with one line per set and way; a random set
 * was a miss per client write). A tag can match another request's entry
 * (1 in 65,536 per way): the entry's client and req_id decide.
 *
 * Eviction is by insertion order within the set (dedup_tags.order), which
 * is all the victim choice compares: free way, else the oldest finished
 * entry (dedup_tags.done), else the oldest. So a new write reads no entry
 * at all: it writes its own, one line.
 */
#define DEDUP_ORDER_INIT 0xe4 /* ways 0, 1, 2, 3: oldest first */
_Static_assert(sizeof(struct dedup) == 64, "a dedupe entry is one line");
_Static_assert(sizeof(struct dedup_tags) == 16, "four sets per line");
_Static_assert(DEDUP_WAYS == 4, "dedup_tags.order holds four ways");

/* Mixes (client, req_id): the tag from the top 16 bits. */
static uint64_t dedup_mix(uint64_t client, uint64_t req_id)
{
	uint64_t x = client * 0x9e3779b97f4a7c15ull ^ req_id;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return x;
}

/* The set: a client's own offset, plus its req_id's low bits (a run of
 * `sets` consecutive ids), plus a hash of the rest (tests/unit/test_core.c
 * mirrors it). Clients number their requests in sequence, so a client's
 * next write lands in the set after its last one: the entries and tags a
 * coordinator writes stream through memory, which the hardware prefetcher
 * follows, instead of one random line each (a cache miss per client write
 * in perf/core-bench, ~8% of its profile). The hash of the high bits keeps
 * ids that differ only there (a counter above a fixed thread number, say)
 * from all falling into one set of 4 ways; a plain client id + req_id
 * would put them there. */
static uint32_t dedup_set(const struct qr_core *c, uint64_t client,
			  uint64_t req_id)
{
	uint64_t base = client * 0x9e3779b97f4a7c15ull;
	uint64_t high = (req_id >> c->dedup_sets_shift) * 0xbf58476d1ce4e5b9ull;
	return (uint32_t)((base ^ base >> 32) + req_id + (high >> 32)) &
	       c->dedup_sets_mask;
}

static uint16_t dedup_tag(uint64_t x)
{
	uint16_t t = (uint16_t)(x >> 48);
	return t ? t : 1; /* 0 marks a free way */
}

/* Tables written once here (no first touch on the data path), the entries
 * line-aligned. 0 or QR_ENOMEM. */
int qc_dedup_alloc(struct qr_core *c, uint32_t entries)
{
	uint32_t sets = 16;
	c->dedup_sets_shift = 4;
	while (sets * DEDUP_WAYS < entries) {
		sets <<= 1;
		c->dedup_sets_shift++;
	}
	size_t eb = (size_t)sets * DEDUP_WAYS * sizeof(*c->dedup);
	size_t tb = (size_t)sets * sizeof(*c->dedup_tags);
	c->dedup = aligned_alloc(QR_CACHE_LINE, eb);
	c->dedup_tags = aligned_alloc(QR_CACHE_LINE, tb);
	if (!c->dedup || !c->dedup_tags)
		return QR_ENOMEM;
	memset(c->dedup, 0, eb);
	memset(c->dedup_tags, 0, tb);
	for (uint32_t i = 0; i < sets; i++)
		c->dedup_tags[i].order = DEDUP_ORDER_INIT;
	c->dedup_sets_mask = sets - 1;
	return 0;
}

void qc_dedup_free(struct qr_core *c)
{
	free(c->dedup);
	free(c->dedup_tags);
}

void qc_dedup_prefetch(struct qr_core *c, uint64_t client, uint64_t req_id)
{
	__builtin_prefetch(&c->dedup_tags[dedup_set(c, client, req_id)]);
}

struct dedup *qc_dedup_find(struct qr_core *c, uint64_t client, uint64_t req_id)
{
	uint64_t x = dedup_mix(client, req_id);
	uint32_t set = dedup_set(c, client, req_id);
	const struct dedup_tags *t = &c->dedup_tags[set];
	uint16_t tag = dedup_tag(x);
	for (int i = 0; i < DEDUP_WAYS; i++) {
		struct dedup *e = &c->dedup[set * DEDUP_WAYS + i];
		if (t->tag[i] == tag && e->client == client &&
		    e->req_id == req_id)
			return e;
	}
	return NULL;
}

/* Way w becomes the newest of its set. */
static uint8_t order_newest(uint8_t order, unsigned w)
{
	unsigned out = 0, n = 0;
	for (unsigned p = 0; p < DEDUP_WAYS; p++) {
		unsigned v = (order >> (2 * p)) & 3u;
		if (v != w)
			out |= v << (2 * n++);
	}
	return (uint8_t)(out | w << (2 * (DEDUP_WAYS - 1)));
}

/* A new entry for (client, req_id), in flight as op_id. */
static struct dedup *dedup_insert(struct qr_core *c, uint64_t client,
				  uint64_t req_id, uint64_t op_id)
{
	uint64_t x = dedup_mix(client, req_id);
	uint32_t set = dedup_set(c, client, req_id);
	struct dedup_tags *t = &c->dedup_tags[set];
	struct dedup *ways = &c->dedup[set * DEDUP_WAYS];
	/* A free way, else the oldest finished entry, else (all in flight)
	 * the oldest: an entry in flight is evicted only as a last resort.
	 * From the tags alone: the victim's entry is only written. */
	int victim = -1;
	for (int i = 0; i < DEDUP_WAYS && victim < 0; i++)
		if (!t->tag[i])
			victim = i;
	for (unsigned p = 0; p < DEDUP_WAYS && victim < 0; p++) {
		unsigned w = (t->order >> (2 * p)) & 3u;
		QR_DASSERT(((t->done >> w) & 1u) == (ways[w].op_id == 0));
		if (t->done & (1u << w))
			victim = (int)w;
	}
	if (victim < 0)
		victim = t->order & 3;
	ways[victim] = (struct dedup){
		.client = client, .req_id = req_id, .op_id = op_id};
	t->tag[victim] = dedup_tag(x);
	t->order = order_newest(t->order, (unsigned)victim);
	t->done &= (uint8_t)~(1u << victim);
	return &ways[victim];
}

struct dedup *qc_dedup_start(struct qr_core *c, struct dedup *retry,
			     uint64_t client, uint64_t req_id, uint64_t op_id)
{
	QR_ASSERT(op_id != 0);
	if (!retry)
		return dedup_insert(c, client, req_id, op_id);
	uint32_t i = (uint32_t)(retry - c->dedup);
	retry->op_id = op_id;
	c->dedup_tags[i / DEDUP_WAYS].done &= (uint8_t)~(1u << (i % DEDUP_WAYS));
	return retry;
}

/* The entry's write is finished (op_id 0). */
static void dedup_done(struct qr_core *c, struct dedup *d)
{
	uint32_t i = (uint32_t)(d - c->dedup);
	d->op_id = 0;
	c->dedup_tags[i / DEDUP_WAYS].done |= (uint8_t)(1u << (i % DEDUP_WAYS));
}

/* Forget an entry (its way becomes free). */
static void dedup_clear(struct qr_core *c, struct dedup *d)
{
	uint32_t i = (uint32_t)(d - c->dedup);
	c->dedup_tags[i / DEDUP_WAYS].tag[i % DEDUP_WAYS] = 0;
}

void qc_req_answer(struct qr_core *c, struct req *q, int status)
{
	QR_ASSERT(!q->answered);
	q->answered = true;
	if (q->kind == REQ_WRITE || q->kind == REQ_CAS) {
		struct dedup *d = qc_dedup_find(c, q->client, q->req_id);
		if (d && d->op_id == qc_op_id_of(c, q) &&
		    status == QR_ECLOCK) {
			dedup_clear(c, d); /* W4: nothing stamped */
		} else if (d && d->op_id == qc_op_id_of(c, q)) {
			dedup_done(c, d);
			d->status = (int16_t)status;
			d->version = q->version;
			d->first = q->kind == REQ_CAS ? q->mine_first
						      : QR_VERSION_NONE;
		}
	}
	qc_send_client_reply(c, q, status);
	/* Stragglers get a short window, not the whole deadline. */
	q->linger_us = qc_now_us(c) + c->cfg.rto_us_max;
}

/* Slot finished? Frees it and returns true. */
bool qc_req_maybe_done(struct qr_core *c, struct req *q)
{
	if (!q->answered)
		return false;
	uint8_t all = RF_BITS(q->rf);
	/* DOWN replicas are not waited for once the client has its answer,
	 * nor, for a write, replicas that take no writes (they get hints). */
	for (int i = 0; i < q->rf; i++)
		if ((q->replicas[i] != c->cfg.node_id &&
		     qr_detector_state(&c->det, q->replicas[i]) ==
			     QR_PEER_DOWN) ||
		    (q->kind == REQ_WRITE && !qc_writable(c, q->replicas[i])))
			all &= (uint8_t) ~(1u << i);
	bool done = (q->done_mask & all) == all;
	if (q->kind == REQ_READ)
		done = done && q->repair_mask == 0;
	if (done)
		qc_req_free(c, q);
	return done;
}

uint8_t qc_live_mask(struct qr_core *c, const uint8_t *replicas, uint8_t rf)
{
	uint8_t mask = 0;
	for (int i = 0; i < rf; i++)
		if (replicas[i] == c->cfg.node_id ||
		    qr_detector_state(&c->det, replicas[i]) != QR_PEER_DOWN)
			mask |= (uint8_t)(1u << i);
	return mask;
}

uint8_t qc_writable_mask(const struct qr_core *c, const uint8_t *replicas,
			 uint8_t rf)
{
	uint8_t mask = 0;
	for (int i = 0; i < rf; i++)
		if (qc_writable(c, replicas[i]))
			mask |= (uint8_t)(1u << i);
	return mask;
}

uint8_t qc_writable_count(const struct qr_core *c, const uint8_t *replicas,
			  uint8_t rf)
{
	uint8_t n = 0;
	for (int i = 0; i < rf; i++)
		n += qc_writable(c, replicas[i]);
	return n;
}

void qc_req_arm(struct qr_core *c, struct req *q)
{
	uint64_t end = q->answered ? q->linger_us : q->deadline_us;
	uint64_t at = QR_MIN(end, qc_now_us(c) + q->rto_us);
	qr_timer_arm(&c->wheel, &q->timer, at);
}

/*
 * Round-trip estimate over first-transmission answers (Karn's rule), after
 * Jacobson/Karels (RFC 6298): a write's answer includes the replica's WAL
 * sync, so the RTO adapts to the disk as well as the network. A fixed 2 ms
 * RTO retransmitted most writes on a disk whose fsync takes longer.
 */
void qc_rtt_sample(struct qr_core *c, struct req *q, uint16_t from)
{
	if (q->retransmitted || from == c->cfg.node_id || !q->sent_us)
		return;
	uint64_t r = qc_now_us(c) - q->sent_us;
	if (!c->srtt_us) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
		return;
	}
	uint64_t d = r > c->srtt_us ? r - c->srtt_us : c->srtt_us - r;
	c->rttvar_us = (3 * c->rttvar_us + d) / 4;
	c->srtt_us = (7 * c->srtt_us + r) / 8;
}

uint64_t qc_rto_initial(const struct qr_core *c)
{
	uint64_t rto = c->srtt_us + 4 * c->rttvar_us;
	return QR_MIN(QR_MAX(rto, c->cfg.rto_us_min), c->cfg.rto_us_max);
}

bool qc_all_live_answered(struct qr_core *c, const struct req *q)
{
	for (int i = 0; i < q->rf; i++)
		if (!(q->done_mask & (1u << i)) &&
		    (q->replicas[i] == c->cfg.node_id ||
		     qr_detector_state(&c->det, q->replicas[i]) !=
			     QR_PEER_DOWN))
			return false;
	return true;
}

/* A request's timer: its deadline, the end of its linger, or a
 * retransmission (write.c, read.c, cas.c). */
void qc_req_timer(struct qr_core *c, struct req *q)
{
	uint64_t now = qc_now_us(c);
	QR_ASSERT(q->kind != REQ_FREE); /* a free slot's timer is cancelled */
	if (!q->answered && now >= q->deadline_us) {
		/* Not enough replicas in time. A write may be applied on
		 * fewer than W replicas (docs/protocol.md); the replicas it
		 * missed get hints. A read answered, but by no replica
		 * current for its token, is STALE. */
		int st = QR_EUNAVAILABLE;
		if (q->kind == REQ_WRITE && q->token_wait)
			st = QR_ECLOCK; /* W4: never stamped, never sent */
		if (q->kind == REQ_READ && !q->valid_mask &&
		    qc_met(&q->grp, q->heard_mask, 0)) {
			st = QR_ESTALE;
			c->stats.stale_answers++;
		}
		qc_req_answer(c, q, st);
		qc_req_free(c, q);
		return;
	}
	if (q->answered && (now >= q->linger_us || qc_req_maybe_done(c, q))) {
		if (q->kind != REQ_FREE) {
			if (QR_BUG(LINGER_NO_HINT) && q->kind == REQ_WRITE)
				q->done_mask = RF_BITS(q->rf); /* forgets */
			qc_req_free(c, q); /* T4: hints for the missing */
		}
		return;
	}
	if (q->kind == REQ_CAS)
		qc_cas_timer(c, q);
	else if (q->kind == REQ_WRITE)
		qc_write_timer(c, q);
	else
		qc_read_timer(c, q);
}
