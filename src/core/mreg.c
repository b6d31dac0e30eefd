/* SPDX-License-Identifier: MIT */
/* The membership register, CASPaxos over one value: see mreg.h (R1-R4). */
#include "core/mreg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/bugs.h"
#include "quorate/err.h"

#define TEXT_HEADER                                                           \
	"# quorate membership register: written by quorated "                \
	"(docs/topology.md)\n"

int qr_mreg_ballot_cmp(struct qr_mreg_ballot a, struct qr_mreg_ballot b)
{
	if (a.round != b.round)
		return a.round < b.round ? -1 : 1;
	if (a.id != b.id)
		return a.id < b.id ? -1 : 1;
	return 0;
}

bool qr_mreg_value_eq(const struct qr_mreg_value *a,
		      const struct qr_mreg_value *b)
{
	return a->epoch == b->epoch && a->owners == b->owners &&
	       a->pending == b->pending;
}

/* Among values of ballot 0 (R3): (epoch, owners, pending) in that order. */
static bool value_above(const struct qr_mreg_value *a,
			const struct qr_mreg_value *b)
{
	if (a->epoch != b->epoch)
		return a->epoch > b->epoch;
	if (a->owners != b->owners)
		return a->owners > b->owners;
	return a->pending > b->pending;
}

bool qr_mreg_is_lost(const struct qr_mreg_acceptor *a)
{
	return !qr_mreg_ballot_cmp(a->promised, QR_MREG_LOST);
}

int qr_mreg_prepare(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b)
{
	if (qr_mreg_is_lost(a))
		return QR_EUNAVAILABLE; /* R5 */
	/* At or above: the same proposer's resent prepare is answered
	 * again (R4: no other proposer has this ballot). */
	if (qr_mreg_ballot_cmp(b, a->promised) < 0)
		return QR_ESTALE;
	a->promised = b;
	return 0;
}

int qr_mreg_accept(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b,
		   const struct qr_mreg_value *v)
{
	if (qr_mreg_is_lost(a))
		return QR_EUNAVAILABLE; /* R5 */
	if (qr_mreg_ballot_cmp(b, a->promised) < 0 &&
	    !QR_BUG(REG_ACCEPT_BELOW_PROMISE))
		return QR_ESTALE;
	/* R1: one value per ballot. A proposer never sends two, but a
	 * driver that reused its ballot for its next decision would tie
	 * two values at it, and R3 could build on the older one. */
	if (!qr_mreg_ballot_cmp(b, a->accepted) && (b.round || b.id) &&
	    !qr_mreg_value_eq(v, &a->value))
		return QR_ESTALE;
	if (qr_mreg_ballot_cmp(b, a->promised) > 0)
		a->promised = b;
	a->accepted = b;
	a->value = *v;
	return 0;
}

int qr_mreg_learn(struct qr_mreg_acceptor *a, struct qr_mreg_ballot b,
		  const struct qr_mreg_value *v)
{
	if (!qr_mreg_is_lost(a))
		return qr_mreg_accept(a, b, v);
	*a = (struct qr_mreg_acceptor){
		.promised = {b.round + QR_MREG_REJOIN_ROUNDS, 0},
		.accepted = b,
		.value = *v,
	};
	return 0;
}

void qr_mreg_lose(struct qr_mreg_acceptor *a, const struct qr_mreg_value *v)
{
	*a = (struct qr_mreg_acceptor){
		.promised = QR_BUG(REG_LOSS_FORGETS) ? (struct qr_mreg_ballot){0}
						     : QR_MREG_LOST,
		.value = *v,
	};
}

/* ---- the proposer ---------------------------------------------------- */

static unsigned majority(const struct qr_mreg_proposer *p)
{
	return QR_BUG(REG_MINORITY) ? p->acceptors / 2u
				    : p->acceptors / 2u + 1u;
}

void qr_mreg_begin(struct qr_mreg_proposer *p, uint16_t acceptors,
		   uint64_t round, uint64_t id)
{
	struct qr_mreg_ballot highest = p->highest;
	*p = (struct qr_mreg_proposer){
		.ballot = {round, id},
		.acceptors = acceptors,
		.phase = QR_MREG_PREPARING,
		.highest = highest,
	};
}

uint64_t qr_mreg_next_round(const struct qr_mreg_proposer *p)
{
	uint64_t r = p->ballot.round > p->highest.round ? p->ballot.round
							: p->highest.round;
	return r + 1;
}

/* A refusal: remember the promise that beat us; RETRY once a majority
 * can no longer answer OK. */
static void refused(struct qr_mreg_proposer *p, uint16_t i,
		    struct qr_mreg_ballot promised)
{
	p->refused |= 1ull << i;
	if (qr_mreg_ballot_cmp(promised, p->highest) > 0)
		p->highest = promised;
	if ((unsigned)__builtin_popcountll(p->refused) >
	    p->acceptors - majority(p))
		p->phase = QR_MREG_RETRY;
}

static bool answered(const struct qr_mreg_proposer *p, uint16_t i)
{
	return i >= p->acceptors || ((p->ok | p->refused) >> i & 1);
}

enum qr_mreg_phase qr_mreg_on_promise(struct qr_mreg_proposer *p, uint16_t i,
				      bool ok, struct qr_mreg_ballot b,
				      const struct qr_mreg_value *v)
{
	/* Promises still count once a majority promised (READ), until the
	 * proposal: a synchronous driver asks every slot, and the newest
	 * ballot-0 value may be on the slots that answer last. */
	if ((p->phase != QR_MREG_PREPARING && p->phase != QR_MREG_READ) ||
	    answered(p, i))
		return p->phase;
	if (!ok) {
		refused(p, i, b);
		return p->phase;
	}
	p->ok |= 1ull << i;
	int c = qr_mreg_ballot_cmp(b, p->best);
	bool first = !p->have;
	/* R3: the highest accepted ballot; ballot 0 values by their own
	 * order (no proposer ever accepted them). */
	if (first ||
	    (!QR_BUG(REG_BASE_FIRST) &&
	     (c > 0 || (c == 0 && b.round == 0 && b.id == 0 &&
			value_above(v, &p->base))))) {
		p->best = b;
		p->base = *v;
		p->have = true;
	}
	if ((unsigned)__builtin_popcountll(p->ok) >= majority(p))
		p->phase = QR_MREG_READ;
	return p->phase;
}

struct qr_mreg_value qr_mreg_base(const struct qr_mreg_proposer *p)
{
	return p->base;
}

void qr_mreg_propose(struct qr_mreg_proposer *p, const struct qr_mreg_value *v)
{
	p->proposal = *v;
	p->ok = p->refused = 0;
	p->phase = QR_MREG_ACCEPTING;
}

enum qr_mreg_phase qr_mreg_on_accepted(struct qr_mreg_proposer *p,
				       uint16_t i, bool ok,
				       struct qr_mreg_ballot promised)
{
	if (p->phase != QR_MREG_ACCEPTING || answered(p, i))
		return p->phase;
	if (!ok) {
		refused(p, i, promised);
		return p->phase;
	}
	p->ok |= 1ull << i;
	if ((unsigned)__builtin_popcountll(p->ok) >= majority(p))
		p->phase = QR_MREG_CHOSEN;
	return p->phase;
}

/* ---- text ------------------------------------------------------------ */

int qr_mreg_ballot_str(struct qr_mreg_ballot b, char *buf, size_t cap)
{
	return snprintf(buf, cap, "%" PRIu64 ".%016" PRIx64, b.round, b.id);
}

bool qr_mreg_ballot_parse(const char *s, struct qr_mreg_ballot *b)
{
	struct qr_mreg_ballot v;
	int used = 0;
	char canon[48];
	if (*s < '0' || *s > '9' ||
	    sscanf(s, "%" SCNu64 ".%16" SCNx64 "%n", &v.round, &v.id,
		   &used) != 2 ||
	    s[used] != '\0')
		return false;
	/* Exactly the canonical form: no sign, spaces or short hex. */
	if (qr_mreg_ballot_str(v, canon, sizeof(canon)) != used ||
	    memcmp(canon, s, (size_t)used))
		return false;
	*b = v;
	return true;
}

int qr_mreg_encode(const struct qr_mreg_acceptor *a, char *buf, size_t cap)
{
	char p[48], c[48];
	qr_mreg_ballot_str(a->promised, p, sizeof(p));
	qr_mreg_ballot_str(a->accepted, c, sizeof(c));
	return snprintf(buf, cap,
			TEXT_HEADER "promised = %s\naccepted = %s\nepoch = %"
			PRIu64 "\nowners = 0x%" PRIx64 "\npending = 0x%"
			PRIx64 "\n",
			p, c, a->value.epoch, a->value.owners,
			a->value.pending);
}

bool qr_mreg_decode(const char *in, size_t n, struct qr_mreg_acceptor *a)
{
	char p[48], c[48], canon[512], text[512];
	struct qr_mreg_acceptor v = {0};
	int used = 0;
	/* A terminated copy: sscanf must not read past n. */
	if (n >= sizeof(text) || memchr(in, '\0', n))
		return false;
	memcpy(text, in, n);
	text[n] = '\0';
	if (sscanf(text,
		   TEXT_HEADER "promised = %47s\naccepted = %47s\nepoch = %"
		   SCNu64 "\nowners = 0x%" SCNx64 "\npending = 0x%" SCNx64
		   "\n%n",
		   p, c, &v.value.epoch, &v.value.owners, &v.value.pending,
		   &used) != 5 ||
	    !qr_mreg_ballot_parse(p, &v.promised) ||
	    !qr_mreg_ballot_parse(c, &v.accepted))
		return false;
	int len = qr_mreg_encode(&v, canon, sizeof(canon));
	if (len != used || (size_t)len != n || memcmp(canon, text, n))
		return false;
	*a = v;
	return true;
}
