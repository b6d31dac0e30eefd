/* SPDX-License-Identifier: MIT */
/* Checker (i): per-key linearizability of CASPaxos ops; see lincheck.h. */
#include "sim/lincheck.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "core/wire.h"
#include "quorate/err.h"

struct model {
	bool exists;
	uint64_t val;
	struct qr_version ver;
};

#define SET_WORDS ((LIN_OPS_MAX + 63) / 64)

struct search {
	const struct lin_key *k;
	uint64_t set[SET_WORDS];
	uint64_t *memo; /* open addressing of fingerprints; 0: empty */
	size_t memo_mask;
	size_t memo_used;
	uint64_t steps;
	bool out_of_budget;
	int deepest; /* most ops linearized on any path: for the report */
	/* version -> value id, from the answers that name both */
	struct qr_version *vv;
	uint64_t *vval;
	int nvv;
};

void lin_init(struct lincheck *l, int nkeys)
{
	memset(l, 0, sizeof(*l));
	l->nkeys = nkeys;
	if (nkeys) {
		l->keys = calloc((size_t)nkeys, sizeof(*l->keys));
		QR_ASSERT(l->keys);
	}
}

void lin_fini(struct lincheck *l)
{
	free(l->keys);
	l->keys = NULL;
}

bool lin_full(const struct lincheck *l, int key)
{
	return l->keys[key].n >= LIN_OPS_MAX;
}

int lin_begin(struct lincheck *l, int key, uint8_t op, uint64_t val,
	      struct qr_version expected, uint64_t now_us)
{
	struct lin_key *k = &l->keys[key];
	QR_ASSERT(k->n < LIN_OPS_MAX && qr_op_is_cas(op));
	struct lin_op *o = &k->ops[k->n];
	memset(o, 0, sizeof(*o));
	o->op = op;
	o->val = val;
	o->expected = expected;
	o->begin_us = now_us;
	o->status = LIN_UNKNOWN;
	return k->n++;
}

void lin_end(struct lincheck *l, int key, int idx, uint64_t now_us, int status,
	     uint64_t ret_val, struct qr_version ret_ver)
{
	struct lin_op *o = &l->keys[key].ops[idx];
	bool known = status == 0 || status == QR_EPRECONDITION ||
		     (status == QR_ENOTFOUND && o->op == QR_OP_LIN_GET);
	if (!known)
		return; /* stays pending: may or may not have taken effect */
	o->done = true;
	o->end_us = now_us;
	o->status = status;
	o->ret_val = ret_val;
	o->ret_ver = ret_ver;
}

static bool vlookup(const struct search *s, struct qr_version v, uint64_t *val)
{
	for (int i = 0; i < s->nvv; i++)
		if (qr_version_cmp(s->vv[i], v) == 0) {
			*val = s->vval[i];
			return true;
		}
	return false;
}

/* Does a state hold at version e (exactly, or with the value that an
 * answer reported at e)? */
static bool at_version(const struct search *s, const struct model *m,
		       struct qr_version e)
{
	uint64_t val;
	if (!m->exists)
		return false;
	if (qr_version_cmp(m->ver, e) == 0)
		return true;
	return vlookup(s, e, &val) && val == m->val;
}

/*
 * The op applied to m: false if its answer is impossible in m. An op of
 * unknown outcome is only tried as taking effect (not taking effect is not
 * linearizing it at all); one whose precondition fails would not change
 * anything, so it is not tried either.
 */
static bool step(const struct search *s, const struct lin_op *o,
		 const struct model *m, struct model *next)
{
	*next = *m;
	bool unknown = !o->done;
	bool is_if_version = o->op == QR_OP_PUT_IF_VERSION ||
			     o->op == QR_OP_DELETE_IF_VERSION;
	bool pre = o->op == QR_OP_PUT_IF_ABSENT ? !m->exists
		   : is_if_version		? at_version(s, m, o->expected)
						: true;
	if (unknown) {
		if (o->op == QR_OP_LIN_GET || !pre)
			return false;
		next->exists = o->op != QR_OP_DELETE_IF_VERSION;
		next->val = next->exists ? o->val : 0;
		next->ver = QR_VERSION_NONE; /* not known */
		return true;
	}
	switch (o->op) {
	case QR_OP_LIN_GET:
		if (o->status == QR_ENOTFOUND) {
			if (m->exists)
				return false;
		} else if (!m->exists || m->val != o->ret_val) {
			return false;
		}
		next->ver = o->ret_ver;
		return true;
	default:
		if (o->status == QR_EPRECONDITION) {
			/* A version precondition may also fail on a state
			 * another proposer accepted again meanwhile (same
			 * value, the version it reports is not e). */
			if (o->op == QR_OP_PUT_IF_ABSENT ? !m->exists
			    : is_if_version
				    ? m->exists &&
					      qr_version_cmp(m->ver,
							     o->expected) ==
						      0 &&
					      qr_version_cmp(o->ret_ver,
							     o->expected) == 0
				    : true)
				return false;
			next->ver = o->ret_ver;
			return true;
		}
		if (!pre)
			return false;
		next->exists = o->op != QR_OP_DELETE_IF_VERSION;
		next->val = next->exists ? o->val : 0;
		next->ver = o->ret_ver;
		return true;
	}
}

static uint64_t fingerprint(const struct search *s, const struct model *m)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < SET_WORDS; i++) {
		h ^= s->set[i];
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	h ^= m->val + (m->exists ? 0x1234567ull : 0);
	h *= 0x94d049bb133111ebull;
	h ^= m->ver.hlc ^ ((uint64_t)m->ver.node << 48);
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h ? h : 1;
}

/* true if (set, m) was seen before; else remembers it. */
static bool memo_seen(struct search *s, const struct model *m)
{
	if (s->memo_used * 2 >= s->memo_mask) {
		size_t old_n = s->memo_mask + 1;
		uint64_t *old = s->memo;
		s->memo_mask = old_n * 2 - 1;
		s->memo = calloc(old_n * 2, sizeof(*s->memo));
		QR_ASSERT(s->memo);
		for (size_t i = 0; i < old_n; i++) {
			if (!old[i])
				continue;
			size_t j = old[i] & s->memo_mask;
			while (s->memo[j])
				j = (j + 1) & s->memo_mask;
			s->memo[j] = old[i];
		}
		free(old);
	}
	uint64_t f = fingerprint(s, m);
	size_t j = f & s->memo_mask;
	while (s->memo[j]) {
		if (s->memo[j] == f)
			return true;
		j = (j + 1) & s->memo_mask;
	}
	s->memo[j] = f;
	s->memo_used++;
	return false;
}

static inline bool in_set(const struct search *s, int i)
{
	return (s->set[i / 64] >> (i % 64)) & 1;
}

static bool dfs(struct search *s, const struct model *m, int depth)
{
	const struct lin_key *k = s->k;
	if (++s->steps > LIN_BUDGET) {
		s->out_of_budget = true;
		return true; /* give up: not a verdict */
	}
	if (depth > s->deepest)
		s->deepest = depth;
	uint64_t min_end = UINT64_MAX;
	bool all_done = true;
	for (int i = 0; i < k->n; i++)
		if (!in_set(s, i) && k->ops[i].done) {
			all_done = false;
			min_end = QR_MIN(min_end, k->ops[i].end_us);
		}
	if (all_done)
		return true;
	if (memo_seen(s, m))
		return false;
	for (int i = 0; i < k->n; i++) {
		const struct lin_op *o = &k->ops[i];
		if (in_set(s, i) || o->begin_us > min_end)
			continue;
		struct model next;
		if (!step(s, o, m, &next))
			continue;
		s->set[i / 64] |= 1ull << (i % 64);
		bool ok = dfs(s, &next, depth + 1);
		s->set[i / 64] &= ~(1ull << (i % 64));
		if (ok)
			return true;
	}
	return false;
}

static const char *op_name(uint8_t op)
{
	switch (op) {
	case QR_OP_LIN_GET:
		return "lin-get";
	case QR_OP_PUT_IF_ABSENT:
		return "put-if-absent";
	case QR_OP_PUT_IF_VERSION:
		return "put-if-version";
	case QR_OP_DELETE_IF_VERSION:
		return "delete-if-version";
	}
	return "?";
}

bool lin_check_key(struct lincheck *l, int key, char *detail, size_t len)
{
	const struct lin_key *k = &l->keys[key];
	struct search s = {.k = k};
	s.memo_mask = 4095;
	s.memo = calloc(s.memo_mask + 1, sizeof(*s.memo));
	s.vv = calloc((size_t)k->n + 1, sizeof(*s.vv));
	s.vval = calloc((size_t)k->n + 1, sizeof(*s.vval));
	QR_ASSERT(s.memo && s.vv && s.vval);
	bool ok = true;
	/* version -> value, and no two writes answer with one version */
	for (int i = 0; i < k->n && ok; i++) {
		const struct lin_op *o = &k->ops[i];
		if (!o->done || o->status != 0 ||
		    o->op == QR_OP_DELETE_IF_VERSION)
			continue;
		uint64_t val = o->op == QR_OP_LIN_GET ? o->ret_val : o->val;
		uint64_t had;
		if (vlookup(&s, o->ret_ver, &had)) {
			if (had != val) {
				snprintf(detail, len,
					 "version %" PRIu64 ".%u names two "
					 "values (%" PRIx64 ", %" PRIx64 ")",
					 o->ret_ver.hlc, o->ret_ver.node, had,
					 val);
				ok = false;
			}
			continue;
		}
		s.vv[s.nvv] = o->ret_ver;
		s.vval[s.nvv++] = val;
	}
	if (ok) {
		struct model m0 = {false, 0, QR_VERSION_NONE};
		ok = dfs(&s, &m0, 0);
		l->searched += s.steps;
		if (s.out_of_budget) {
			l->inconclusive++;
			ok = true;
		}
		if (!ok && getenv("QR_LIN_DUMP")) {
			for (int i = 0; i < k->n; i++) {
				const struct lin_op *o = &k->ops[i];
				fprintf(stderr,
					"op %d [%" PRIu64 "-%" PRIu64 "] %s "
					"val %" PRIx64 " exp %" PRIu64 ".%u -> "
					"%s val %" PRIx64 " ver %" PRIu64
					".%u\n",
					i, o->begin_us, o->end_us,
					op_name(o->op), o->val, o->expected.hlc,
					o->expected.node,
					o->done ? qr_strerror(o->status) : "?",
					o->ret_val, o->ret_ver.hlc,
					o->ret_ver.node);
			}
		}
		if (!ok) {
			int w = snprintf(detail, len,
					 "key %d: %d CAS ops not linearizable "
					 "(at most %d of them in order):",
					 key, k->n, s.deepest);
			for (int i = 0; i < k->n && w < (int)len - 80; i++) {
				const struct lin_op *o = &k->ops[i];
				w += snprintf(
					detail + w, len - (size_t)w,
					" [%" PRIu64 "-%" PRIu64 " %s %s]",
					o->begin_us, o->done ? o->end_us : 0,
					op_name(o->op),
					o->done ? qr_strerror(o->status) : "?");
			}
		}
	}
	free(s.memo);
	free(s.vv);
	free(s.vval);
	return ok;
}
