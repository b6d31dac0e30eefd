/* SPDX-License-Identifier: MIT */
/*
 * Checkers (j) and (k): see oracle.h. A table version -> key (and, per
 * node, its durable promise and hint records), the highest durable
 * version of each key per node, and per key every version durable
 * anywhere, sorted (a watermark check is a binary search per key: it
 * runs at every heartbeat a node takes in).
 */
#include "sim/oracle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/le.h"
#include "core/hlc.h"
#include "core/wire.h"
#include "quorate/err.h"

#define OR_NODES  7
#define OR_SHARDS 4
#define OR_KEYS	  24
#define PREP_RING 128 /* PREPAREs remembered per (acceptor, proposer) */

struct vent {
	uint64_t hlc;
	uint16_t node;
	uint16_t shard; /* of the key: shards stamp versions independently */
	bool used;
	bool anywhere;	      /* in gver[key]: durable on some node */
	int8_t key;	      /* -1: not a key's record (none seen yet) */
	uint8_t promise_mask; /* nodes whose promise record of it is durable */
	uint8_t hints[OR_NODES]; /* durable hint records of it, per node */
	uint64_t prep_op; /* the round (op_id) that PREPAREd it; 0: none */
	bool has_state;	  /* a durable PUT or TOMBSTONE record seen: */
	uint64_t state;	  /* ... a hash of its value (or delete) */
	uint8_t holders;  /* nodes with a durable PUT / TOMBSTONE of it */
	bool observed;	  /* a client was answered with it */
};

struct vlist {
	struct qr_version *v;
	size_t len, cap;
};

/* A PREPARE or ACCEPT a node received, and the highest ballot it had
 * promised for the key (by a PROMISE it sent) when it arrived. */
struct prep {
	uint64_t op_id;
	uint16_t shard; /* of the frame (op_ids are a core's own) */
	uint8_t type;
	int8_t key;
	struct qr_version ballot;
	struct qr_version promised;
};

struct oracle {
	int nodes, nkeys;
	const struct qr_placement *pl;
	const char (*keys)[40];
	const uint8_t *key_len;
	uint8_t reps[OR_KEYS][QR_RF_MAX];
	uint16_t kshard[OR_KEYS]; /* the shard owning each key */
	/* (k) judges node n for key k iff bit n: a replica of k in every
	 * placement of the run (oracle_set_next). */
	uint64_t judged[OR_KEYS];
	struct vent *tab;
	size_t cap, len;
	struct qr_version maxdur[OR_NODES][OR_KEYS];
	/* What a node whose disk just died held durably before (oracle_wipe):
	 * an ack it sent then was true, and an answer or a hint freed on it
	 * may come just after the death. Until oracle_wipe_forget. */
	struct qr_version wiped[OR_NODES][OR_KEYS];
	uint64_t ceil_ms[OR_NODES][OR_SHARDS]; /* a ceiling per shard core */
	struct vlist gver[OR_KEYS];
	struct prep prep[OR_NODES][OR_NODES][PREP_RING];
	unsigned prep_n[OR_NODES][OR_NODES];
	uint64_t wm_checked[OR_NODES][OR_SHARDS];
	struct qr_version promised[OR_NODES][OR_KEYS]; /* PROMISEs sent */
};


static size_t vhash(struct qr_version v, uint16_t shard, size_t cap)
{
	uint64_t x = v.hlc * 0x9e3779b97f4a7c15ull ^ v.node ^
		     (uint64_t)shard << 16;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (size_t)x & (cap - 1);
}

/* Versions are unique per shard, not per node: two shards of a node stamp
 * with clocks of their own, so (hlc, node) may name a write of each. A
 * version is looked up with its shard (the key's, or the frame's: peers
 * talk shard to shard). */
static struct vent *vfind(const struct oracle *o, struct qr_version v,
			  uint16_t shard)
{
	for (size_t i = vhash(v, shard, o->cap);;
	     i = (i + 1) & (o->cap - 1)) {
		struct vent *e = &o->tab[i];
		if (!e->used)
			return NULL;
		if (e->hlc == v.hlc && e->node == v.node && e->shard == shard)
			return e;
	}
}

static struct vent *vget(struct oracle *o, struct qr_version v,
			 uint16_t shard)
{
	struct vent *e = vfind(o, v, shard);
	if (e)
		return e;
	if (2 * (o->len + 1) > o->cap) {
		struct vent *old = o->tab;
		size_t oldcap = o->cap;
		o->cap *= 2;
		o->tab = calloc(o->cap, sizeof(*o->tab));
		QR_ASSERT(o->tab);
		for (size_t i = 0; i < oldcap; i++) {
			if (!old[i].used)
				continue;
			struct qr_version ov = {old[i].hlc, old[i].node};
			size_t j = vhash(ov, old[i].shard, o->cap);
			while (o->tab[j].used)
				j = (j + 1) & (o->cap - 1);
			o->tab[j] = old[i];
		}
		free(old);
	}
	size_t i = vhash(v, shard, o->cap);
	while (o->tab[i].used)
		i = (i + 1) & (o->cap - 1);
	e = &o->tab[i];
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->hlc = v.hlc;
	e->node = v.node;
	e->shard = shard;
	e->key = -1;
	o->len++;
	return e;
}

struct oracle *oracle_new(int nodes, const struct qr_placement *pl, int nkeys,
			  const char (*keys)[40], const uint8_t *key_len)
{
	QR_ASSERT(nodes <= OR_NODES && nkeys <= OR_KEYS &&
		  pl->shards <= OR_SHARDS);
	struct oracle *o = calloc(1, sizeof(*o));
	QR_ASSERT(o);
	o->nodes = nodes;
	o->nkeys = nkeys;
	o->pl = pl;
	o->keys = keys;
	o->key_len = key_len;
	o->cap = 1024;
	o->tab = calloc(o->cap, sizeof(*o->tab));
	QR_ASSERT(o->tab);
	for (int k = 0; k < nkeys; k++) {
		uint32_t p = qr_placement_partition(pl, keys[k], key_len[k]);
		memcpy(o->reps[k], qr_placement_replicas(pl, p), pl->rf);
		o->kshard[k] = qr_placement_shard(pl, p);
		for (int i = 0; i < pl->rf; i++)
			o->judged[k] |= 1ull << o->reps[k][i];
	}
	return o;
}

void oracle_free(struct oracle *o)
{
	if (!o)
		return;
	for (int k = 0; k < o->nkeys; k++)
		free(o->gver[k].v);
	free(o->tab);
	free(o);
}

static int key_of(const struct oracle *o, const struct qr_wal_record *rec)
{
	for (int k = 0; k < o->nkeys; k++)
		if (rec->key_len == o->key_len[k] &&
		    memcmp(rec->key, o->keys[k], rec->key_len) == 0)
			return k;
	return -1;
}

void oracle_logged(struct oracle *o, int node, const struct qr_wal_record *rec)
{
	(void)node;
	if (rec->type == QR_WAL_CLOCK)
		return;
	int k = key_of(o, rec);
	if (k >= 0)
		vget(o, rec->version, o->kshard[k])->key = (int8_t)k;
}

uint64_t oracle_value_hash(const uint8_t *value, uint16_t len, bool tombstone)
{
	uint64_t h = tombstone ? 0x7b : 0xcbf29ce484222325ull;
	for (uint16_t i = 0; !tombstone && i < len; i++)
		h = (h ^ value[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t state_hash(const struct qr_wal_record *rec)
{
	return oracle_value_hash(rec->value, rec->value_len,
				 rec->type == QR_WAL_TOMBSTONE);
}

bool oracle_state(const struct oracle *o, int key, struct qr_version v,
		  uint64_t *hash)
{
	const struct vent *e = vfind(o, v, o->kshard[key]);
	if (!e || !e->has_state)
		return false;
	*hash = e->state;
	return true;
}

bool oracle_durable(struct oracle *o, int node, int shard,
		    const struct qr_wal_record *rec, char *detail, size_t dlen)
{
	if (rec->type == QR_WAL_CLOCK) {
		uint64_t *c = &o->ceil_ms[node][shard];
		*c = QR_MAX(*c, QR_HLC_MS(rec->version.hlc));
		return true;
	}
	int k = key_of(o, rec);
	if (k < 0)
		return true;
	struct vent *e = vget(o, rec->version, o->kshard[k]);
	e->key = (int8_t)k;
	if (rec->type == QR_WAL_PROMISE) {
		e->promise_mask |= (uint8_t)(1u << node);
		return true;
	}
	if (rec->type == QR_WAL_HINT) {
		if (e->hints[node] < UINT8_MAX)
			e->hints[node]++;
		return true;
	}
	/* (d) at the WAL: a version names one state of one key. */
	uint64_t h = state_hash(rec);
	if (e->has_state && e->state != h) {
		snprintf(detail, dlen,
			 "version %" PRIu64 ".%u of key %d names two states "
			 "(node %d logged another one)",
			 rec->version.hlc, rec->version.node, k, node);
		return false;
	}
	e->has_state = true;
	e->state = h;
	e->holders |= (uint8_t)(1u << node);
	if (qr_version_cmp(rec->version, o->maxdur[node][k]) > 0)
		o->maxdur[node][k] = rec->version;
	if (!e->anywhere) {
		e->anywhere = true;
		struct vlist *l = &o->gver[k];
		if (l->len == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 64;
			l->v = realloc(l->v, l->cap * sizeof(*l->v));
			QR_ASSERT(l->v);
		}
		/* Kept sorted: records become durable nearly in version
		 * order, so the insertion moves few. */
		size_t i = l->len++;
		while (i > 0 && qr_version_cmp(l->v[i - 1], rec->version) > 0) {
			l->v[i] = l->v[i - 1];
			i--;
		}
		l->v[i] = rec->version;
	}
	return true;
}

/* Walks the messages of frame f: each at f + off, mlen bytes long. */
#define FOR_EACH_MSG(f, len, off, mlen)                                        \
	for (size_t off = 24, k_ = 0, mlen = 0;                                \
	     (len) >= 24 && k_ < (f)[3] && off + 4 <= (len) &&                 \
	     (mlen = qr_ld16((f) + off + 2)) >= 4 && off + mlen <= (len);         \
	     off += mlen, k_++)

void oracle_frame_in(struct oracle *o, int node, const uint8_t *f, size_t len)
{
	if (len < 24)
		return;
	uint16_t src = qr_ld16(f + 8), shard = qr_ld16(f + 12);
	if (src >= o->nodes)
		return;
	FOR_EACH_MSG(f, len, off, mlen)
	{
		uint8_t type = f[off];
		/* key_len and key: at 26, 27 in PREPARE; 28, 29 in ACCEPT */
		size_t kl = type == QR_MSG_PREPARE  ? 26
			    : type == QR_MSG_ACCEPT ? 28
						    : 0;
		if (!kl || mlen < kl + 1 || kl + 1 + f[off + kl] > mlen)
			continue;
		struct qr_wal_record key = {.key = f + off + kl + 1,
					    .key_len = f[off + kl]};
		int k = key_of(o, &key);
		struct prep *p =
			&o->prep[node][src][o->prep_n[node][src]++ % PREP_RING];
		p->op_id = qr_ld64(f + off + 4);
		p->shard = shard;
		p->type = type;
		p->key = (int8_t)k;
		p->ballot.hlc = qr_ld64(f + off + 16);
		p->ballot.node = qr_ld16(f + off + 24);
		p->promised = k >= 0 ? o->promised[node][k] : QR_VERSION_NONE;
	}
}

/* The PREPARE or ACCEPT (type) from src that a PROMISE or ACCEPTED of
 * node answers; of copies (a duplicated frame), the one that arrived
 * first: the vote saw the least promised then. */
static const struct prep *prep_find(const struct oracle *o, int node, int src,
				    uint16_t shard, uint8_t type,
				    uint64_t op_id)
{
	unsigned n = o->prep_n[node][src];
	const struct prep *found = NULL;
	for (unsigned i = 0; i < PREP_RING && i < n; i++) {
		const struct prep *p =
			&o->prep[node][src][(n - 1 - i) % PREP_RING];
		if (p->op_id == op_id && p->type == type && p->shard == shard)
			found = p;
	}
	return found;
}

static const char *msg_name(uint8_t type)
{
	switch (type) {
	case QR_MSG_REPLICATE_ACK:
		return "REPLICATE_ACK";
	case QR_MSG_READ_REPLY:
		return "READ_REPLY";
	case QR_MSG_PROMISE:
		return "PROMISE";
	case QR_MSG_ACCEPTED:
		return "ACCEPTED";
	}
	return "?";
}

bool oracle_frame_out(struct oracle *o, int node, int dst, const uint8_t *f,
		      size_t len, char *detail, size_t dlen)
{
	uint16_t shard = len >= 24 ? qr_ld16(f + 12) : 0;
	if (shard >= OR_SHARDS)
		return true;
	uint64_t ceil = QR_HLC_MAKE(o->ceil_ms[node][shard], 0);
	FOR_EACH_MSG(f, len, off, mlen)
	{
		uint8_t type = f[off];
		if (type == QR_MSG_HEARTBEAT && mlen >= 12 &&
		    qr_ld64(f + off + 4) > ceil) {
			/* (k) S4: no claim above the durable ceiling (the
			 * sending shard's: each logs its own). */
			snprintf(detail, dlen,
				 "(k) node %d shard %u claimed %" PRIu64
				 " to node %d above its durable HLC ceiling "
				 "%" PRIu64,
				 node, shard, qr_ld64(f + off + 4), dst, ceil);
			return false;
		}
		if (type == QR_MSG_PREPARE && mlen >= 26) {
			/* (l) X1: each round has a ballot of its own. */
			struct qr_version b = {qr_ld64(f + off + 16),
					       qr_ld16(f + off + 24)};
			uint64_t op_id = qr_ld64(f + off + 4);
			struct vent *e = vget(o, b, shard);
			if (e->prep_op && e->prep_op != op_id) {
				snprintf(detail, dlen,
					 "(l) node %d started two CAS rounds "
					 "with ballot %" PRIu64 ".%u",
					 node, b.hlc, b.node);
				return false;
			}
			e->prep_op = op_id;
			continue;
		}
		if ((type != QR_MSG_REPLICATE_ACK && type != QR_MSG_ACCEPTED &&
		     type != QR_MSG_READ_REPLY && type != QR_MSG_PROMISE) ||
		    mlen < 28)
			continue;
		int16_t status = (int16_t)qr_ld16(f + off + 26);
		struct qr_version v = {qr_ld64(f + off + 16), qr_ld16(f + off + 24)};
		if ((type == QR_MSG_PROMISE &&
		     (status == 0 || status == QR_ENOTFOUND)) ||
		    (type == QR_MSG_ACCEPTED && status == 0)) {
			/* (l) the acceptor rules: a ballot is granted only
			 * at or above every ballot promised for the key
			 * before its PREPARE or ACCEPT arrived. */
			const struct prep *p = prep_find(
				o, node, dst, shard,
				type == QR_MSG_PROMISE ? QR_MSG_PREPARE
						       : QR_MSG_ACCEPT,
				qr_ld64(f + off + 4));
			if (p && p->key >= 0 &&
			    qr_version_cmp(p->ballot, p->promised) < 0) {
				snprintf(detail, dlen,
					 "(l) node %d granted %s of ballot "
					 "%" PRIu64 ".%u of key %d to node %d "
					 "below its promise %" PRIu64 ".%u",
					 node, msg_name(type), p->ballot.hlc,
					 p->ballot.node, p->key, dst,
					 p->promised.hlc, p->promised.node);
				return false;
			}
			if (p && p->key >= 0 && type == QR_MSG_PROMISE &&
			    qr_version_cmp(p->ballot,
					   o->promised[node][p->key]) > 0)
				o->promised[node][p->key] = p->ballot;
		}
		if (type == QR_MSG_PROMISE &&
		    (status == 0 || status == QR_ENOTFOUND)) {
			/* Y1: the promise record and a ceiling above the
			 * ballot are durable before the PROMISE leaves. */
			const struct prep *p =
				prep_find(o, node, dst, shard, QR_MSG_PREPARE,
					  qr_ld64(f + off + 4));
			const struct vent *b =
				p ? vfind(o, p->ballot, shard) : NULL;
			if (p && (!b || !(b->promise_mask & (1u << node)) ||
				  o->ceil_ms[node][shard] <=
					  QR_HLC_MS(p->ballot.hlc))) {
				snprintf(detail, dlen,
					 "(j) node %d sent PROMISE of ballot "
					 "%" PRIu64 ".%u to node %d before "
					 "its %s was durable",
					 node, p->ballot.hlc, p->ballot.node,
					 dst,
					 !b || !(b->promise_mask & (1u << node))
						 ? "promise record"
						 : "HLC ceiling");
				return false;
			}
		}
		if (status != 0)
			continue;
		/* R1: "I hold v" only once v's record is durable here. */
		const struct vent *e = vfind(o, v, shard);
		int k = e ? e->key : -1;
		if (k < 0 || qr_version_cmp(o->maxdur[node][k], v) < 0) {
			snprintf(
				detail, dlen,
				"(j) node %d sent %s of key %d version %" PRIu64
				".%u to node %d before its WAL record was "
				"durable",
				node, msg_name(type), k, v.hlc, v.node, dst);
			return false;
		}
	}
	return true;
}

/* Does node durably hold key k at v or newer (or did it until its disk
 * died just now)? */
static bool held(const struct oracle *o, int node, int k, struct qr_version v)
{
	return qr_version_cmp(o->maxdur[node][k], v) >= 0 ||
	       qr_version_cmp(o->wiped[node][k], v) >= 0;
}

/*
 * A membership change (sim/membership.h) moves some keys' replica sets:
 * (k) then judges a node's watermark only for the keys it replicates
 * before and after. Sound (it only drops judgements), and exact for what
 * it keeps: such a node receives every write of the key all along (writes
 * go to the union of both sets meanwhile), so its closed timestamps mean
 * what they meant. A node that gains the key holds the writes before the
 * change only once its stream filled the partition, which is topology.c's
 * rule (T3) and not the closed-timestamp one; one that loses it stops
 * receiving writes. Whether a watermark serves a session read right across
 * the change is judged end to end by (g).
 */
void oracle_set_next(struct oracle *o, const struct qr_placement *next)
{
	for (int k = 0; k < o->nkeys; k++) {
		uint32_t p = qr_placement_partition(next, o->keys[k],
						    o->key_len[k]);
		const uint8_t *r = qr_placement_replicas(next, p);
		uint64_t in_next = 0;
		for (int i = 0; i < next->rf; i++)
			in_next |= 1ull << r[i];
		o->judged[k] &= in_next;
	}
}

int oracle_holders_pl(const struct oracle *o, const struct qr_placement *pl,
		      int key, struct qr_version v)
{
	uint32_t p = qr_placement_partition(pl, o->keys[key], o->key_len[key]);
	const uint8_t *r = qr_placement_replicas(pl, p);
	int n = 0;
	for (int i = 0; i < pl->rf; i++)
		if (held(o, r[i], key, v))
			n++;
	return n;
}

int oracle_holders(const struct oracle *o, int key, struct qr_version v)
{
	int n = 0;
	for (int i = 0; i < o->pl->rf; i++)
		if (held(o, o->reps[key][i], key, v))
			n++;
	return n;
}

bool oracle_held(const struct oracle *o, int node, int key,
		 struct qr_version v)
{
	return held(o, node, key, v);
}

bool oracle_holds(const struct oracle *o, int node,
		  const struct qr_wal_record *rec)
{
	int k = key_of(o, rec);
	return k >= 0 && node >= 0 && node < o->nodes &&
	       held(o, node, k, rec->version);
}

int oracle_hints(const struct oracle *o, int node, int key,
		 struct qr_version v)
{
	const struct vent *e = vfind(o, v, o->kshard[key]);
	return e ? e->hints[node] : 0;
}

bool oracle_watermark(struct oracle *o, int node, int shard, uint64_t wm,
		      uint64_t collectable_ms, char *detail, size_t dlen)
{
	if (wm == o->wm_checked[node][shard])
		return true;
	o->wm_checked[node][shard] = wm;
	for (int k = 0; k < o->nkeys; k++) {
		if (o->kshard[k] != shard)
			continue; /* another shard's watermark covers it */
		if (!(o->judged[k] >> node & 1))
			continue; /* not its replica (all along: above) */
		/* The highest version stamped below wm: the last one with
		 * hlc < wm of the sorted list (binary search). */
		const struct vlist *l = &o->gver[k];
		size_t lo = 0, hi = l->len;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (l->v[mid].hlc < wm)
				lo = mid + 1;
			else
				hi = mid;
		}
		struct qr_version best = lo ? l->v[lo - 1] : QR_VERSION_NONE;
		/* A tombstone the GC may have collected (older than the
		 * grace) reads as absent: lacking it is holding it. A node
		 * that lost its disk is refilled from stores some of which
		 * collected it already, others not yet. */
		const struct vent *be = vfind(o, best, o->kshard[k]);
		if (be && be->has_state &&
		    be->state == oracle_value_hash(NULL, 0, true) &&
		    QR_HLC_MS(best.hlc) < collectable_ms)
			continue;
		if (qr_version_cmp(o->maxdur[node][k], best) < 0) {
			snprintf(detail, dlen,
				 "node %d's watermark %" PRIu64 " passes "
				 "version %" PRIu64 ".%u of key %d, durable "
				 "elsewhere, while it durably holds %" PRIu64
				 ".%u",
				 node, wm, best.hlc, best.node, k,
				 o->maxdur[node][k].hlc,
				 o->maxdur[node][k].node);
			return false;
		}
	}
	return true;
}

void oracle_observed(struct oracle *o, int key, struct qr_version v)
{
	struct vent *e = vfind(o, v, o->kshard[key]);
	if (e)
		e->observed = true;
}

/* Does node alone hold e? Another node's hint does not keep a write: a
 * hint may be lost (expired, no slot, no value buffer), and the hand-off
 * that covers a lost hint copies from stores. Only a write held in no
 * store lives in hints (level ANY). */
static bool unique_to(const struct oracle *o, const struct vent *e, int node)
{
	uint8_t me = (uint8_t)(1u << node);
	uint8_t hinted = 0;
	for (int n = 0; n < o->nodes; n++)
		if (e->hints[n])
			hinted |= (uint8_t)(1u << n);
	return e->holders == me || (e->holders == 0 && hinted == me);
}

bool oracle_unique_to(const struct oracle *o, int node)
{
	for (size_t i = 0; i < o->cap; i++) {
		const struct vent *e = &o->tab[i];
		if (e->used && e->observed && unique_to(o, e, node))
			return true;
	}
	return false;
}

void oracle_each_unique(const struct oracle *o, int node,
			void (*fn)(void *arg, int key, struct qr_version v),
			void *arg)
{
	for (size_t i = 0; i < o->cap; i++) {
		const struct vent *e = &o->tab[i];
		if (e->used && e->key >= 0 && unique_to(o, e, node))
			fn(arg, e->key, (struct qr_version){e->hlc, e->node});
	}
}

/* Drop version i of key k's list of versions durable anywhere. */
static void gver_drop(struct oracle *o, int k, struct qr_version v)
{
	struct vlist *l = &o->gver[k];
	for (size_t i = 0; i < l->len; i++)
		if (qr_version_cmp(l->v[i], v) == 0) {
			memmove(&l->v[i], &l->v[i + 1],
				(l->len - i - 1) * sizeof(*l->v));
			l->len--;
			return;
		}
}

void oracle_wipe(struct oracle *o, int node)
{
	uint8_t me = (uint8_t)(1u << node);
	for (size_t i = 0; i < o->cap; i++) {
		struct vent *e = &o->tab[i];
		if (!e->used)
			continue;
		e->promise_mask &= (uint8_t)~me;
		e->hints[node] = 0;
		if (!(e->holders & me))
			continue;
		e->holders &= (uint8_t)~me;
		if (!e->holders && e->anywhere && e->key >= 0) {
			e->anywhere = false; /* durable nowhere now */
			gver_drop(o, e->key, (struct qr_version){e->hlc, e->node});
		}
	}
	for (int k = 0; k < o->nkeys; k++) {
		o->wiped[node][k] = o->maxdur[node][k];
		o->maxdur[node][k] = QR_VERSION_NONE;
	}
	memset(o->ceil_ms[node], 0, sizeof(o->ceil_ms[node]));
}

void oracle_wipe_forget(struct oracle *o)
{
	memset(o->wiped, 0, sizeof(o->wiped));
}
