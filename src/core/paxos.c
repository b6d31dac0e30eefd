/* SPDX-License-Identifier: MIT */
/*
 * CASPaxos acceptor rules and promise table; see paxos.h. No allocation
 * after qr_paxos_table_init(); every call is O(1).
 */
#include "core/paxos.h"

#include <stdlib.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "core/wire.h"
#include "quorate/err.h"

int qr_paxos_table_init(struct qr_paxos_table *t, uint32_t keys_max)
{
	uint32_t n = 1024;
	while (n < keys_max && n < (1u << 18))
		n <<= 1;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return QR_ENOMEM;
	t->mask = n - 1;
	t->floor = QR_VERSION_NONE;
	t->taint_floor = QR_VERSION_NONE;
	t->promised_max = QR_VERSION_NONE;
	return 0;
}

void qr_paxos_table_fini(struct qr_paxos_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

struct qr_paxos_slot *qr_paxos_slot_of(struct qr_paxos_table *t,
				       const void *key, uint8_t key_len)
{
	const uint8_t *k = key;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a mix */
	for (uint8_t i = 0; i < key_len; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return &t->slots[h & t->mask];
}

static inline struct qr_version vmax(struct qr_version a, struct qr_version b)
{
	return qr_version_cmp(a, b) >= 0 ? a : b;
}

struct qr_version qr_paxos_promised(const struct qr_paxos_table *t,
				    const struct qr_paxos_slot *s)
{
	if (QR_BUG(FORGET_PROMISE))
		return QR_VERSION_NONE; /* injected: promises are ignored */
	return vmax(s->promised, t->floor);
}

void qr_paxos_promise(struct qr_paxos_table *t, struct qr_paxos_slot *s,
		      struct qr_version ballot)
{
	s->promised = ballot;
	t->promised_max = vmax(t->promised_max, ballot);
}

void qr_paxos_recover(struct qr_paxos_table *t, const void *key,
		      uint8_t key_len, struct qr_version ballot)
{
	struct qr_paxos_slot *s = qr_paxos_slot_of(t, key, key_len);
	if (qr_version_cmp(ballot, s->promised) > 0) {
		qr_paxos_promise(t, s, ballot);
		s->lsn = 0; /* durable: recovery only replays durable records */
	}
}

void qr_paxos_raise_floor(struct qr_paxos_table *t, struct qr_version v)
{
	t->floor = vmax(t->floor, v);
	t->promised_max = vmax(t->promised_max, v);
}

void qr_paxos_install(struct qr_paxos_table *t, struct qr_paxos_slot *s,
		      struct qr_version v)
{
	if (qr_version_cmp(v, qr_paxos_promised(t, s)) < 0)
		s->taint = vmax(s->taint, v);
}

void qr_paxos_install_key(struct qr_paxos_table *t, const void *key,
			  uint8_t key_len, struct qr_version v)
{
	if (qr_version_cmp(v, t->promised_max) >= 0)
		return; /* below no promise (the common case: no table read) */
	qr_paxos_install(t, qr_paxos_slot_of(t, key, key_len), v);
}

void qr_paxos_taint_all(struct qr_paxos_table *t, struct qr_version v)
{
	t->taint_floor = vmax(t->taint_floor, v);
}

bool qr_paxos_unsure(const struct qr_paxos_table *t,
		     const struct qr_paxos_slot *s, struct qr_version v)
{
	return qr_version_cmp(v, s->taint) <= 0 ||
	       qr_version_cmp(v, t->taint_floor) <= 0;
}

enum qr_paxos_vote qr_paxos_prepare_vote(const struct qr_paxos_table *t,
					 const struct qr_paxos_slot *s,
					 struct qr_version ballot,
					 struct qr_version entry_version,
					 struct qr_version *beat)
{
	struct qr_version p = qr_paxos_promised(t, s);
	int cp = qr_version_cmp(ballot, p);
	if ((cp < 0 && !QR_BUG(PREPARE_IGNORES_PROMISE)) ||
	    qr_version_cmp(ballot, entry_version) <= 0) {
		*beat = vmax(p, entry_version);
		return QR_PAXOS_REJECT;
	}
	return cp == 0 ? QR_PAXOS_AGAIN : QR_PAXOS_GRANT;
}

enum qr_paxos_vote qr_paxos_accept_vote(const struct qr_paxos_table *t,
					const struct qr_paxos_slot *s,
					struct qr_version ballot,
					struct qr_version entry_version,
					struct qr_version *beat)
{
	struct qr_version p = qr_paxos_promised(t, s);
	if ((qr_version_cmp(ballot, p) < 0 &&
	     !QR_BUG(ACCEPT_IGNORES_PROMISE)) ||
	    qr_version_cmp(ballot, entry_version) < 0) {
		*beat = vmax(p, entry_version);
		return QR_PAXOS_REJECT;
	}
	return QR_PAXOS_GRANT;
}

int qr_paxos_change(uint8_t op, struct qr_version expected, bool exists,
		    struct qr_version version)
{
	switch (op) {
	case QR_OP_LIN_GET:
		return exists ? 0 : QR_ENOTFOUND;
	case QR_OP_PUT_IF_ABSENT:
		return exists ? QR_EPRECONDITION : 1;
	case QR_OP_PUT_IF_VERSION:
	case QR_OP_DELETE_IF_VERSION:
		return exists && qr_version_cmp(version, expected) == 0
			       ? 1
			       : QR_EPRECONDITION;
	}
	QR_ASSERT(0 && "not a CASPaxos op");
	return QR_EINVAL;
}
