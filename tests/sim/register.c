/* SPDX-License-Identifier: MIT */
/*
 * The membership register under faults: see register.h. Invariants: the
 * model delivers a message at most as often as the network drew it (loss,
 * duplicates), never changes an acceptor except through qr_mreg_prepare /
 * qr_mreg_accept, and a proposer acts only on answers to its current
 * ballot (mreg.h); everything drawn comes from this file's own stream.
 */
#include "sim/register.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"
#include "common/rng.h"
#include "core/mreg.h"
#include "quorate/err.h"

#define REG_SALT     0x726567697374ull
#define ACC_MAX	     7
#define PROP_MAX     3
#define MSG_MAX	     4096
#define EVENTS_MAX   8192
#define PROPOSALS_MAX 2048
#define OPS_PER	     5
#define TRIES_MAX    12
#define END_US	     20000000ull /* 20 simulated seconds at most */

enum mtype { M_PREPARE, M_ACCEPT, M_LEARN, M_PROMISE, M_ACCEPTED };

struct msg {
	uint64_t at;
	uint8_t type, prop, acc;
	bool ok;
	struct qr_mreg_ballot b;   /* the request's ballot */
	struct qr_mreg_ballot got; /* answers: accepted (ok) or promised */
	struct qr_mreg_value v;
};

struct prop {
	struct qr_mreg_proposer p;
	bool busy, read; /* a decision under way; it is a read */
	int ops_left, tries;
	uint64_t wake; /* the next start, or this round's timeout */
};

struct proposal { /* what a ballot proposed, and on what */
	struct qr_mreg_ballot b, base_b;
	struct qr_mreg_value base, next;
};

struct accept_ev {
	struct qr_mreg_ballot b;
	struct qr_mreg_value v;
	uint8_t acc;
};

struct rs {
	struct qr_rng rng;
	struct reg_sim_result *res;
	int n, np;
	uint64_t now;
	uint32_t loss_pct, dup_pct, delay_us;
	struct qr_mreg_acceptor acc[ACC_MAX];
	uint64_t down_until[ACC_MAX];
	uint64_t cut[PROP_MAX], cut_until[PROP_MAX]; /* acceptor bits */
	struct prop prop[PROP_MAX];
	struct msg q[MSG_MAX];
	int nq;
	struct proposal pr[PROPOSALS_MAX];
	int npr;
	struct accept_ev ev[EVENTS_MAX];
	int nev;
	struct qr_mreg_ballot claimed[PROPOSALS_MAX]; /* proposers' CHOSEN */
	int nclaimed;
	struct qr_mreg_value newest0; /* the newest ballot-0 value */
	bool overflow; /* a record dropped: the checks would be blind */
};

static uint64_t draw(struct rs *s, uint64_t n)
{
	return n ? qr_rng_next(&s->rng) % n : 0;
}

static bool reachable(const struct rs *s, int prop, int acc)
{
	return s->now >= s->down_until[acc] &&
	       !(s->now < s->cut_until[prop] && (s->cut[prop] >> acc & 1));
}

/* The network: lost, delayed, sometimes twice. */
static void send(struct rs *s, const struct msg *m)
{
	int copies = draw(s, 100) < s->dup_pct ? 2 : 1;
	for (int c = 0; c < copies; c++) {
		if (draw(s, 100) < s->loss_pct || s->nq == MSG_MAX)
			continue;
		s->q[s->nq] = *m;
		s->q[s->nq++].at = s->now + 50 + draw(s, s->delay_us);
	}
}

static void to_all(struct rs *s, int k, uint8_t type)
{
	struct prop *pp = &s->prop[k];
	for (int a = 0; a < s->n; a++)
		send(s, &(struct msg){.type = type, .prop = (uint8_t)k,
				      .acc = (uint8_t)a, .b = pp->p.ballot,
				      .v = pp->p.proposal});
}

/* A round (again) at a new ballot; give up after TRIES_MAX. */
static void begin_round(struct rs *s, int k, uint64_t round)
{
	struct prop *pp = &s->prop[k];
	if (pp->busy && ++pp->tries > TRIES_MAX) {
		pp->busy = false;
		pp->ops_left--;
		s->res->gave_up++;
		pp->wake = s->now + draw(s, 20000);
		return;
	}
	if (pp->tries)
		s->res->retries++;
	qr_mreg_begin(&pp->p, (uint16_t)s->n, round, pp->p.ballot.id);
	pp->wake = s->now + 20000 + draw(s, 30000); /* this round's timeout */
	to_all(s, k, M_PREPARE);
}

static void start_op(struct rs *s, int k)
{
	struct prop *pp = &s->prop[k];
	pp->busy = true;
	pp->tries = 0;
	pp->read = draw(s, 4) == 0;
	begin_round(s, k, qr_mreg_next_round(&pp->p));
}

/* READ: build on the base (R3) and send the accepts. */
static void propose(struct rs *s, int k)
{
	struct prop *pp = &s->prop[k];
	struct qr_mreg_value base = qr_mreg_base(&pp->p), next = base;
	if (!pp->read) {
		next.epoch = base.epoch + 1;
		next.owners = 1 + draw(s, 127);
		next.pending = draw(s, 2) ? 1 + draw(s, 127) : 0;
	}
	if (s->npr < PROPOSALS_MAX)
		s->pr[s->npr++] = (struct proposal){pp->p.ballot, pp->p.best,
						    base, next};
	else
		s->overflow = true;
	qr_mreg_propose(&pp->p, &next);
	to_all(s, k, M_ACCEPT);
}

static void record_accept(struct rs *s, const struct msg *m)
{
	if (s->nev == EVENTS_MAX)
		s->overflow = true;
	else
		s->ev[s->nev++] = (struct accept_ev){m->b, m->v, m->acc};
}

static void at_acceptor(struct rs *s, const struct msg *m)
{
	if (!reachable(s, m->prop, m->acc))
		return;
	struct qr_mreg_acceptor *a = &s->acc[m->acc];
	struct msg r = {.prop = m->prop, .acc = m->acc, .b = m->b};
	int rc;
	if (m->type == M_LEARN) { /* no answer: the proposer is done */
		if (qr_mreg_learn(a, m->b, &m->v) == 0)
			record_accept(s, m);
		return;
	}
	if (m->type == M_PREPARE) {
		r.type = M_PROMISE;
		rc = qr_mreg_prepare(a, m->b);
		r.ok = rc == 0;
		r.got = r.ok ? a->accepted : a->promised;
		r.v = a->value;
	} else {
		r.type = M_ACCEPTED;
		rc = qr_mreg_accept(a, m->b, &m->v);
		r.ok = rc == 0;
		r.got = a->promised;
		if (r.ok)
			record_accept(s, m);
	}
	if (rc && rc != QR_ESTALE)
		return; /* lost (R5): it answers an error, counted nowhere */
	/* Saved before the answer (R1): a crash after this keeps it. */
	send(s, &r);
}

static void at_proposer(struct rs *s, const struct msg *m)
{
	struct prop *pp = &s->prop[m->prop];
	if (!pp->busy || !reachable(s, m->prop, m->acc) ||
	    qr_mreg_ballot_cmp(m->b, pp->p.ballot))
		return; /* an answer to an older round */
	enum qr_mreg_phase ph;
	if (m->type == M_PROMISE) {
		ph = qr_mreg_on_promise(&pp->p, m->acc, m->ok, m->got, &m->v);
		if (ph == QR_MREG_READ)
			propose(s, m->prop);
	} else {
		ph = qr_mreg_on_accepted(&pp->p, m->acc, m->ok, m->got);
		if (ph == QR_MREG_CHOSEN) {
			if (s->nclaimed < PROPOSALS_MAX)
				s->claimed[s->nclaimed++] = pp->p.ballot;
			else
				s->overflow = true;
			/* The CLI's catch-up: every acceptor is given the
			 * chosen value (a lost one rejoins by it, R5). */
			to_all(s, m->prop, M_LEARN);
			s->res->decided++;
			pp->busy = false;
			pp->ops_left--;
			pp->wake = s->now + draw(s, 30000);
			return;
		}
	}
	if (ph == QR_MREG_RETRY) /* after a pause, above what refused it */
		pp->wake = s->now + 1000 + draw(s, 20000);
}

/* Acceptors that lost their state now. */
static int lost_count(const struct rs *s)
{
	int k = 0;
	for (int a = 0; a < s->n; a++)
		k += qr_mreg_is_lost(&s->acc[a]);
	return k;
}

/* Faults drawn at each step: a crash, a cut, a lost disk (a minority at
 * most at a time: a majority lost would stop every decision). */
static void faults(struct rs *s)
{
	if (draw(s, 1500) == 0 && 2 * (lost_count(s) + 1) < s->n) {
		int a = (int)draw(s, (uint64_t)s->n);
		qr_mreg_lose(&s->acc[a], &s->acc[a].value);
		s->res->lost++;
	}
	if (draw(s, 400) == 0) {
		int a = (int)draw(s, (uint64_t)s->n);
		s->down_until[a] = s->now + 5000 + draw(s, 60000);
	}
	if (draw(s, 400) == 0) {
		int k = (int)draw(s, (uint64_t)s->np);
		s->cut[k] = draw(s, 1ull << s->n);
		s->cut_until[k] = s->now + 10000 + draw(s, 80000);
	}
}

/* The earliest message, or -1. */
static int next_msg(const struct rs *s)
{
	int best = -1;
	for (int i = 0; i < s->nq; i++)
		if (best < 0 || s->q[i].at < s->q[best].at)
			best = i;
	return best;
}

/* One step: the earliest of a message and a proposer's wake. false when
 * nothing is left. */
static bool step(struct rs *s)
{
	int mi = next_msg(s), k = -1;
	for (int i = 0; i < s->np; i++)
		if ((s->prop[i].busy || s->prop[i].ops_left) &&
		    (k < 0 || s->prop[i].wake < s->prop[k].wake))
			k = i;
	if (mi < 0 && k < 0)
		return false;
	if (mi >= 0 && (k < 0 || s->q[mi].at <= s->prop[k].wake)) {
		struct msg m = s->q[mi];
		s->q[mi] = s->q[--s->nq];
		s->now = m.at;
		faults(s);
		if (m.type == M_PREPARE || m.type == M_ACCEPT)
			at_acceptor(s, &m);
		else
			at_proposer(s, &m);
		return true;
	}
	struct prop *pp = &s->prop[k];
	s->now = pp->wake > s->now ? pp->wake : s->now;
	if (!pp->busy)
		start_op(s, k);
	else /* timed out, or refused: a higher round */
		begin_round(s, k, qr_mreg_next_round(&pp->p));
	return true;
}

static void setup(struct rs *s, uint64_t seed)
{
	qr_rng_seed(&s->rng, seed ^ REG_SALT);
	s->n = 3 + (int)draw(s, ACC_MAX - 2);
	s->np = 2 + (int)draw(s, PROP_MAX - 1);
	static const uint32_t loss[] = {0, 5, 15, 30};
	s->loss_pct = loss[draw(s, 4)];
	s->dup_pct = (uint32_t)draw(s, 10);
	s->delay_us = 200 + (uint32_t)draw(s, 5000);
	/* Before the register: a majority at epoch 2, the rest behind (a
	 * node that missed a step), all at ballot 0.0. */
	s->newest0 = (struct qr_mreg_value){2, 0xf, 0};
	for (int a = 0; a < s->n; a++)
		s->acc[a].value = a < s->n / 2 ? (struct qr_mreg_value){1, 0x7, 0}
					       : s->newest0;
	for (int k = 0; k < s->np; k++) {
		s->prop[k].p.ballot.id = qr_rng_next(&s->rng) | 1; /* R4 */
		s->prop[k].ops_left = OPS_PER;
		s->prop[k].wake = draw(s, 5000);
	}
}

static bool fail(struct rs *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool fail(struct rs *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	s->res->ok = false;
	snprintf(s->res->checker, sizeof(s->res->checker), "(r)");
	vsnprintf(s->res->detail, sizeof(s->res->detail), fmt, ap);
	va_end(ap);
	return false;
}

/* Acceptors that accepted ballot b (distinct), and its value. */
static int accepts_of(const struct rs *s, struct qr_mreg_ballot b,
		      struct qr_mreg_value *v)
{
	uint64_t who = 0;
	for (int i = 0; i < s->nev; i++)
		if (!qr_mreg_ballot_cmp(s->ev[i].b, b)) {
			who |= 1ull << s->ev[i].acc;
			*v = s->ev[i].v;
		}
	return __builtin_popcountll(who);
}

static const struct proposal *proposal_of(const struct rs *s,
					  struct qr_mreg_ballot b)
{
	for (int i = 0; i < s->npr; i++)
		if (!qr_mreg_ballot_cmp(s->pr[i].b, b))
			return &s->pr[i];
	return NULL;
}

/* One value per ballot; claims are real majorities; ballot-0 bases are
 * the newest. */
static bool check_ballots(struct rs *s)
{
	for (int i = 0; i < s->nev; i++) {
		const struct proposal *p = proposal_of(s, s->ev[i].b);
		if (!p || !qr_mreg_value_eq(&p->next, &s->ev[i].v))
			return fail(s, "acceptor %u accepted at ballot %" PRIu64
				    " a value its proposer did not propose",
				    s->ev[i].acc, s->ev[i].b.round);
	}
	for (int i = 0; i < s->nclaimed; i++) {
		struct qr_mreg_value v;
		int got = accepts_of(s, s->claimed[i], &v);
		if (got < s->n / 2 + 1)
			return fail(s, "a proposer saw ballot %" PRIu64 " chosen "
				    "with %d of %d acceptors (R2)",
				    s->claimed[i].round, got, s->n);
	}
	for (int i = 0; i < s->npr; i++)
		if (!s->pr[i].base_b.round && !s->pr[i].base_b.id &&
		    !qr_mreg_value_eq(&s->pr[i].base, &s->newest0))
			return fail(s, "ballot %" PRIu64 " built on epoch %"
				    PRIu64 " from before the register, not on "
				    "the newest (epoch %" PRIu64 ") (R3)",
				    s->pr[i].b.round, s->pr[i].base.epoch,
				    s->newest0.epoch);
	return true;
}

/* Every chosen ballot is on the history of the highest chosen one. */
static bool check_history(struct rs *s)
{
	struct qr_mreg_ballot last = {0, 0};
	struct qr_mreg_value v;
	for (int i = 0; i < s->npr; i++)
		if (accepts_of(s, s->pr[i].b, &v) >= s->n / 2 + 1 &&
		    qr_mreg_ballot_cmp(s->pr[i].b, last) > 0)
			last = s->pr[i].b;
	for (int i = 0; i < s->npr; i++) {
		if (accepts_of(s, s->pr[i].b, &v) < s->n / 2 + 1)
			continue;
		struct qr_mreg_ballot b = last;
		const struct proposal *p;
		while (qr_mreg_ballot_cmp(b, s->pr[i].b) &&
		       (p = proposal_of(s, b)))
			b = p->base_b;
		if (qr_mreg_ballot_cmp(b, s->pr[i].b))
			return fail(s, "the value chosen at ballot %" PRIu64
				    " (epoch %" PRIu64 ") is not in the history "
				    "of the last chosen, ballot %" PRIu64
				    " (epoch %" PRIu64 "): a decided change was "
				    "lost (R3)", s->pr[i].b.round,
				    s->pr[i].next.epoch, last.round,
				    proposal_of(s, last)->next.epoch);
	}
	return true;
}

void reg_sim_run(uint64_t seed, struct reg_sim_result *res)
{
	static struct rs s; /* ~300 KiB: not on the stack */
	memset(&s, 0, sizeof(s));
	*res = (struct reg_sim_result){.ok = true};
	s.res = res;
	setup(&s, seed);
	while (s.now < END_US && step(&s))
		;
	if (s.overflow)
		fail(&s, "the model's records overflowed: raise its limits");
	else if (check_ballots(&s))
		check_history(&s);
}
