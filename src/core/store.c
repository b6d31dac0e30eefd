/* SPDX-License-Identifier: MIT */
/*
 * Per-shard key-value table; the contract is core/store.h.
 *
 * Index: an open-addressing table (linear probing) of 16-byte slots, each
 * the 64-bit qr_store_key_hash() of a user key and the head of the chain of
 * entries with that hash. The chain is walked comparing full keys, so a
 * 64-bit collision costs a compare, never a wrong answer; chains longer than
 * one entry are rare enough that only tests (store_pvt.h) make them. Why not
 * rte_hash (used until 2026-12): a lookup there reads a bucket, then the
 * key's slot in a separate key store, then the entry: three dependent cache
 * misses once the table is past the cache, about a fifth of a quorum write
 * in perf/core-bench. Here the slot holds the whole index key and the entry
 * pointer, so a lookup reads one line (rarely two: a probe run crossing a
 * line) before the entry.
 *
 * The table has a power of two of slots, at least 4/3 of entries_max, so it
 * is at most 3/4 full and a probe always ends at an empty slot: entries_max
 * keys always fit (the fill test). A removal shifts the rest of its probe
 * run back (Knuth's algorithm R), so no tombstones: a lookup never walks
 * past slots that were once used.
 *
 * Entries: one allocation each (header, key, value) from the store's jemalloc
 * arena, bypassing the thread cache (a tcache bin hands back regions filled
 * from whichever arena, which would defeat the per-core arena). An update
 * that fits the allocation's size class is written in place; one that grows,
 * or shrinks below half of it, moves to a new allocation that is linked in
 * before the old one is freed, so a failed allocation changes nothing. Each
 * entry is also on its partition's list (an hlist: one pointer per head,
 * O(1) unlink) for iteration by partition.
 *
 * Invariants (qr_store_check() verifies them all):
 *  - bytes is the sum of key_len + value_len over the entries (what a
 *    store byte limit counts: qr_store_bytes; qr_store_check verifies it).
 *  - count <= entries_max; the same count entries are on the partition lists
 *    and on the index's chains;
 *  - a chain is never empty (its index key goes with its last entry) and its
 *    entries have distinct keys;
 *  - index_used slots are in use, fewer than there are slots; every used
 *    slot is reached from its home slot (key_hash & index_mask) without
 *    crossing an empty one, and no two hold the same key hash;
 *  - an entry never changes partition (the partition is a function of the
 *    key) and is on that partition's list;
 *  - a tombstone's value_len is 0; value_len <= value_max (the config's
 *    value_bytes_max, at most QR_VALUE_BYTES_MAX); the entry fits its
 *    allocation, whose usable size is alloc_dec(alloc) (exact below
 *    32 KiB, never above the real one);
 *  - an entry's version only grows, unless QR_BUG(APPLY_OLDER) is injected.
 *
 * Cost: past the cache a get is two dependent misses (the slot's line, then
 * the entry); a new key or a move adds an arena allocation.
 */
#include "core/store.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <rte_malloc.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "core/placement.h"
#include "core/store_pvt.h"
#include "core/wire.h"
#include "quorate/err.h"

#define INDEX_SLOTS_MIN	  8	    /* the smallest table: two lines */
#define STORE_ENTRIES_MAX (1u << 30) /* rte_hash's limit, kept */

/*
 * The header is 52 bytes whatever the value size (a small entry costs what
 * it did when values were at most 1 KiB): the fields that grew for values
 * up to QR_VALUE_BYTES_MAX share words with fields that use few bits.
 * Byte-aligned bit-fields, so a read is a load and a mask at most.
 */
struct store_entry {
	struct store_entry *chain_next;	 /* next entry with the same key hash */
	struct store_entry *part_next;	 /* next on the partition's list */
	struct store_entry **part_pprev; /* the link that points at us */
	uint64_t hlc;			 /* version.hlc */
	uint64_t lsn;			 /* WAL position of this version */
	uint32_t partition : 24;	 /* < partitions; never changes */
	uint32_t key_len : 8;		 /* 1..QR_KEY_BYTES_MAX */
	uint16_t node;			 /* version.node */
	uint16_t alloc;			 /* sallocx() of this entry, encoded:
					  * alloc_enc() */
	uint32_t value_len : 24;	 /* 0 for a tombstone */
	uint32_t tombstone : 8;		 /* 0 or 1 */
	uint8_t data[];			 /* key_len key bytes, then value */
};

#define ENTRY_HDR_BYTES offsetof(struct store_entry, data)
#define ENTRY_BYTES_MAX                                                        \
	(ENTRY_HDR_BYTES + QR_KEY_BYTES_MAX + QR_VALUE_BYTES_MAX)

/* A get reads the header and compares the key: a key of up to 12 bytes
 * shares the header's cache line (allocations are 16-byte aligned and the
 * 64-byte size class is line-aligned). */
_Static_assert(ENTRY_HDR_BYTES == 52, "entry header grew: keep it small");
_Static_assert(QR_PARTITIONS_MAX <= 1u << 24, "partition is 24 bits");
_Static_assert(QR_KEY_BYTES_MAX <= UINT8_MAX, "key_len is 8 bits");
_Static_assert(QR_VALUE_BYTES_MAX < 1u << 24, "value_len is 24 bits");

/*
 * alloc: the usable size of the entry's allocation in 16 bits. Below 32 KiB
 * it is exact; above, in 512-byte units (jemalloc's size classes there
 * are multiples of 4 KiB, so still exact). A size that did not encode
 * exactly would round down: an entry then uses less of its allocation than
 * it could, never more; qr_store_check() checks that every one is exact.
 */
#define ALLOC_UNIT_SHIFT 9u
#define ALLOC_BIG	 0x8000u
/* jemalloc's size classes are at most 25% above the request here. */
_Static_assert(ENTRY_BYTES_MAX + ENTRY_BYTES_MAX / 4 <=
		       (size_t)(ALLOC_BIG - 1) << ALLOC_UNIT_SHIFT,
	       "alloc encodes the largest entry's size class");

static inline uint16_t alloc_enc(size_t usable)
{
	if (usable < ALLOC_BIG)
		return (uint16_t)usable;
	return (uint16_t)(ALLOC_BIG |
			  QR_MIN(usable >> ALLOC_UNIT_SHIFT, ALLOC_BIG - 1));
}

static inline size_t alloc_dec(uint16_t a)
{
	return a & ALLOC_BIG ? (size_t)(a & ~ALLOC_BIG) << ALLOC_UNIT_SHIFT
			     : a;
}

/* An index slot: a key hash and its chain; head == NULL: empty. */
struct index_slot {
	uint64_t key_hash;
	struct store_entry *head;
};

_Static_assert(sizeof(struct index_slot) == 16, "four slots per line");

struct qr_store {
	/* Read by every operation: the first cache line. */
	struct index_slot *slots;	 /* [index_mask + 1], line-aligned */
	uint64_t index_mask;		 /* slots - 1 (a power of two) */
	struct store_entry **part_heads; /* [partitions] */
	uint32_t count;			 /* entries, tombstones included */
	uint32_t index_used;		 /* slots in use (chains) */
	uint64_t bytes;			 /* sum of key_len + value_len */
	uint32_t entries_max;
	uint32_t partitions;
	uint32_t value_max; /* cfg.value_bytes_max, 0 resolved */
	int alloc_flags; /* mallocx(): our arena, no tcache */
};

/* Free an entry or the store itself: jemalloc finds the arena. */
#define STORE_FREE_FLAGS MALLOCX_TCACHE_NONE

/*
 * ---- Key hash ----
 *
 * A multiply-fold hash in the style of wyhash (Wang Yi) and mum-hash
 * (Makarov): 16 key bytes a round, each round a 64x64->128-bit multiply whose
 * halves are xored. Every key byte and the length reach the result, so keys
 * only collide by chance (and then share a chain). Not crc32c: placement
 * hashes keys with crc32c, and keys of one shard would share its low bits.
 * ~3 ns for a 16-byte key. Constants: splitmix64's (Steele et al. 2014).
 */
#define HASH_K0 0x9e3779b97f4a7c15ull
#define HASH_K1 0xbf58476d1ce4e5b9ull
#define HASH_K2 0x94d049bb133111ebull

static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t qr_store_key_hash(const void *key, uint8_t key_len)
{
	const uint8_t *p = key;
	size_t n = key_len;
	uint64_t seed = HASH_K0;
	uint64_t a, b;

	if (qr_likely(n <= 16)) {
		/* Two loads that together cover every byte. */
		if (n >= 8) {
			a = load64(p);
			b = load64(p + n - 8);
		} else if (n >= 4) {
			a = load32(p);
			b = load32(p + n - 4);
		} else if (n > 0) {
			a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 |
			    p[n - 1];
			b = 0;
		} else {
			a = 0;
			b = 0;
		}
	} else {
		while (n > 16) {
			seed = mul_fold(load64(p) ^ HASH_K1,
					load64(p + 8) ^ seed);
			p += 16;
			n -= 16;
		}
		/* The last 1..16 bytes, read as the 16 that end the key. */
		a = load64(p + n - 16);
		b = load64(p + n - 8);
	}
	return mul_fold(mul_fold(a ^ HASH_K1, b ^ seed) ^ HASH_K2,
			key_len ^ HASH_K1);
}

/* ---- Entries and lists ---- */

static inline bool entry_has_key(const struct store_entry *e, const void *key,
				 uint8_t key_len)
{
	return e->key_len == key_len && memcmp(e->data, key, key_len) == 0;
}

/* The slot holding key_hash, or the empty slot that ends its probe run
 * (where it would go). Ends: at least one slot is always empty. */
static inline struct index_slot *index_find(const struct qr_store *s,
					    uint64_t key_hash)
{
	uint64_t i = key_hash & s->index_mask;
	struct index_slot *sl;

	while ((sl = &s->slots[i])->head != NULL && sl->key_hash != key_hash)
		i = (i + 1) & s->index_mask;
	return sl;
}

/* An empty slot found by index_find() takes key_hash with its chain. */
static inline void index_fill(struct qr_store *s, struct index_slot *sl,
			      uint64_t key_hash, struct store_entry *head)
{
	QR_DASSERT(sl->head == NULL && head != NULL);
	QR_ASSERT(s->index_used < s->index_mask); /* one stays empty */
	sl->key_hash = key_hash;
	sl->head = head;
	s->index_used++;
}

/*
 * Empty a slot whose chain is gone, then close the gap: a later slot of the
 * probe run moves into the hole when the hole lies between its home and it
 * (cyclically), so every key stays reachable from its home without an empty
 * slot on the way (Knuth, TAOCP vol. 3, 6.4, algorithm R).
 */
static void index_clear(struct qr_store *s, struct index_slot *hole)
{
	uint64_t mask = s->index_mask;
	uint64_t i = (uint64_t)(hole - s->slots), j = i;

	for (;;) {
		j = (j + 1) & mask;
		struct index_slot *sj = &s->slots[j];

		if (sj->head == NULL)
			break;
		uint64_t home = sj->key_hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slots[i] = *sj;
			i = j;
		}
	}
	s->slots[i] = (struct index_slot){0, NULL};
	s->index_used--;
}

/* The link in a chain that points at key's entry, or the chain's final
 * (NULL) link. */
static inline struct store_entry **chain_find(struct store_entry **pp,
					      const void *key, uint8_t key_len)
{
	struct store_entry *e;

	while ((e = *pp) != NULL && !entry_has_key(e, key, key_len))
		pp = &e->chain_next;
	return pp;
}

static inline void part_link(struct store_entry **head, struct store_entry *e)
{
	e->part_next = *head;
	e->part_pprev = head;
	if (e->part_next)
		e->part_next->part_pprev = &e->part_next;
	*head = e;
}

static inline void part_unlink(struct store_entry *e)
{
	*e->part_pprev = e->part_next;
	if (e->part_next)
		e->part_next->part_pprev = e->part_pprev;
}

/* n takes e's place on e's partition list. */
static inline void part_replace(struct store_entry *e, struct store_entry *n)
{
	n->part_next = e->part_next;
	n->part_pprev = e->part_pprev;
	*n->part_pprev = n;
	if (n->part_next)
		n->part_next->part_pprev = &n->part_next;
}

static struct store_entry *entry_alloc(const struct qr_store *s, size_t bytes)
{
	struct store_entry *e = mallocx(bytes, s->alloc_flags);
	size_t usable;

	if (qr_unlikely(e == NULL))
		return NULL;
	usable = sallocx(e, 0);
	QR_ASSERT(usable >= bytes && usable <= ENTRY_BYTES_MAX * 2);
	e->alloc = alloc_enc(usable);
	QR_DASSERT(alloc_dec(e->alloc) >= bytes);
	return e;
}

/* Version, flags and value from w; the key is already there. memmove: w's
 * value may be a view of this very entry. */
static inline void entry_set(struct store_entry *e,
			     const struct qr_store_write *w)
{
	e->hlc = w->version.hlc;
	e->node = w->version.node;
	e->lsn = w->lsn;
	e->tombstone = w->tombstone;
	e->value_len = w->value_len; /* <= value_max < 2^24: write_check */
	if (w->value_len)
		memmove(e->data + e->key_len, w->value, w->value_len);
}

static inline void view_of(const struct store_entry *e, struct qr_store_view *v)
{
	v->partition = e->partition;
	v->version.hlc = e->hlc;
	v->version.node = e->node;
	v->tombstone = e->tombstone;
	v->key = e->data;
	v->key_len = e->key_len;
	v->value = e->data + e->key_len;
	v->value_len = e->value_len;
	v->lsn = e->lsn;
}

/* ---- Create, destroy ---- */

/* Slots for entries_max keys: a power of two, at least 4/3 of it (the
 * table stays at most 3/4 full, so probe runs stay short). */
static uint64_t index_slots_for(uint32_t entries_max)
{
	uint64_t want = (uint64_t)entries_max + entries_max / 3 + 1;
	uint64_t n = INDEX_SLOTS_MIN;

	while (n < want)
		n <<= 1;
	return n;
}

int qr_store_create(const struct qr_store_config *cfg, struct qr_store **out)
{
	struct qr_store *s;
	uint64_t slots;
	size_t len;
	unsigned narenas;
	int flags;

	if (cfg == NULL || out == NULL || cfg->name == NULL ||
	    cfg->name[0] == '\0')
		return QR_EINVAL;
	if (cfg->entries_max == 0 || cfg->entries_max > STORE_ENTRIES_MAX)
		return QR_EINVAL;
	if (cfg->partitions == 0 || cfg->partitions > QR_PARTITIONS_MAX)
		return QR_EINVAL;
	if (cfg->value_bytes_max > QR_VALUE_BYTES_MAX)
		return QR_EINVAL;
	/* jemalloc does not check MALLOCX_ARENA's index: we do. */
	len = sizeof(narenas);
	if (mallctl("arenas.narenas", &narenas, &len, NULL, 0) != 0 ||
	    cfg->arena >= narenas)
		return QR_EINVAL;

	flags = MALLOCX_ARENA(cfg->arena) | MALLOCX_TCACHE_NONE;
	s = mallocx(sizeof(*s),
		    flags | MALLOCX_ALIGN(QR_CACHE_LINE) | MALLOCX_ZERO);
	if (s == NULL)
		return QR_ENOMEM;
	s->entries_max = cfg->entries_max;
	s->partitions = cfg->partitions;
	s->value_max = cfg->value_bytes_max ? cfg->value_bytes_max
					    : QR_VALUE_BYTES_MAX;
	s->alloc_flags = flags;
	s->part_heads = mallocx(cfg->partitions * sizeof(*s->part_heads),
				flags | MALLOCX_ZERO);
	if (s->part_heads == NULL) {
		dallocx(s, STORE_FREE_FLAGS);
		return QR_ENOMEM;
	}
	/* DPDK memory on the shard's socket (hugepages where the node has
	 * them: fewer TLB misses on a random slot), zeroed, so written once
	 * here and never first touched on the data path. Chained keys share
	 * a slot, so entries_max keys always fit. */
	slots = index_slots_for(cfg->entries_max);
	s->slots = rte_zmalloc_socket(cfg->name, slots * sizeof(*s->slots),
				      QR_CACHE_LINE, cfg->socket_id);
	if (s->slots == NULL) {
		dallocx(s->part_heads, STORE_FREE_FLAGS);
		dallocx(s, STORE_FREE_FLAGS);
		return QR_ENOMEM;
	}
	s->index_mask = slots - 1;
	*out = s;
	return 0;
}

void qr_store_destroy(struct qr_store *s)
{
	uint32_t freed = 0;

	if (s == NULL)
		return;
	for (uint32_t p = 0; p < s->partitions; p++) {
		struct store_entry *e = s->part_heads[p], *next;

		for (; e != NULL; e = next) {
			next = e->part_next;
			dallocx(e, STORE_FREE_FLAGS);
			freed++;
		}
	}
	QR_ASSERT(freed == s->count);
	rte_free(s->slots);
	dallocx(s->part_heads, STORE_FREE_FLAGS);
	dallocx(s, STORE_FREE_FLAGS);
}

/* ---- Operations ---- */

int qr_store_get_hashed(const struct qr_store *s, const void *key,
			uint8_t key_len, uint64_t key_hash,
			struct qr_store_view *out)
{
	const struct store_entry *e = index_find(s, key_hash)->head;

	while (e != NULL && !entry_has_key(e, key, key_len))
		e = e->chain_next;
	if (e == NULL)
		return QR_ENOTFOUND;
	view_of(e, out);
	return 0;
}

const void *qr_store_prefetch(const struct qr_store *s, const void *key,
			      uint8_t key_len)
{
	uint64_t key_hash = qr_store_key_hash(key, key_len);
	const struct index_slot *sl = &s->slots[key_hash & s->index_mask];

	__builtin_prefetch(sl);
	return sl;
}

/* The ticket is the key's home slot. Its chain is usually the key's (or
 * empty); when it is another key's, a wrong line is loaded: only time is
 * lost, and a hint needs no probing. */
void qr_store_prefetch_entry(const void *ticket, uint8_t key_len,
			     uint32_t bytes)
{
	const char *e = (const char *)((const struct index_slot *)ticket)->head;

	if (e == NULL)
		return;
	size_t end = ENTRY_HDR_BYTES + key_len + QR_MIN(bytes, 2u * 64);
	for (size_t off = 0; off < end; off += 64)
		__builtin_prefetch(e + off);
	__builtin_prefetch(e + end - 1);
}

int qr_store_get(const struct qr_store *s, const void *key, uint8_t key_len,
		 struct qr_store_view *out)
{
	return qr_store_get_hashed(s, key, key_len,
				   qr_store_key_hash(key, key_len), out);
}

static int write_check(const struct qr_store *s, const struct qr_store_write *w)
{
	_Static_assert(QR_KEY_BYTES_MAX == UINT8_MAX,
		       "key_len's type is the key limit: check key_len "
		       "against QR_KEY_BYTES_MAX if the limit drops");

	if (w->key_len == 0)
		return QR_EINVAL;
	if (w->value_len > s->value_max)
		return QR_ETOOLARGE;
	if (w->tombstone && w->value_len != 0)
		return QR_EINVAL;
	if (w->partition >= s->partitions)
		return QR_EINVAL;
	QR_DASSERT(w->key != NULL && (w->value != NULL || w->value_len == 0));
	return 0;
}

/* A key the store does not have: append it to its chain (tail is the
 * chain's final link), or give it one in slot sl (tail == &sl->head, an
 * empty slot: the store is not full, so the index has room). */
static int apply_insert(struct qr_store *s, const struct qr_store_write *w,
			uint64_t key_hash, struct index_slot *sl,
			struct store_entry **tail, struct qr_store_view *cur)
{
	struct store_entry *e;

	if (s->count >= s->entries_max)
		return QR_ENOSPC;
	e = entry_alloc(s, ENTRY_HDR_BYTES + w->key_len + w->value_len);
	if (e == NULL)
		return QR_ENOMEM;
	e->chain_next = NULL;
	e->partition = w->partition;
	e->key_len = w->key_len;
	memcpy(e->data, w->key, w->key_len);
	entry_set(e, w);
	if (tail != &sl->head)
		*tail = e; /* after a colliding key: the index is unchanged */
	else
		index_fill(s, sl, key_hash, e);
	part_link(&s->part_heads[w->partition], e);
	s->count++;
	s->bytes += (uint64_t)w->key_len + w->value_len;
	if (cur)
		view_of(e, cur);
	return QR_APPLY_NEWER;
}

int qr_store_apply_hashed(struct qr_store *s, const struct qr_store_write *w,
			  uint64_t key_hash, struct qr_store_view *cur)
{
	struct store_entry *e, *n, **pp;
	struct index_slot *sl;
	size_t need, have;
	int rc, cmp;

	rc = write_check(s, w);
	if (rc)
		return rc;
	sl = index_find(s, key_hash);
	pp = chain_find(&sl->head, w->key, w->key_len);
	e = *pp;
	if (e == NULL)
		return apply_insert(s, w, key_hash, sl, pp, cur);

	QR_ASSERT(e->partition == w->partition);
	cmp = qr_version_cmp(w->version, (struct qr_version){e->hlc, e->node});
	if (cmp == 0) {
		rc = QR_APPLY_SAME;
		goto done;
	}
	if (cmp < 0 && !QR_BUG(APPLY_OLDER)) {
		rc = QR_APPLY_OLDER;
		goto done;
	}

	rc = QR_APPLY_NEWER;
	s->bytes += w->value_len; /* e still has its old value_len below */
	s->bytes -= e->value_len;
	need = ENTRY_HDR_BYTES + e->key_len + w->value_len;
	have = alloc_dec(e->alloc);
	if (need <= have && 2 * need > have) {
		entry_set(e, w); /* fits its size class: in place */
		goto done;
	}
	n = entry_alloc(s, need);
	if (n == NULL) {
		if (need > have) {
			s->bytes += e->value_len; /* e untouched: undo */
			s->bytes -= w->value_len;
			return QR_ENOMEM;
		}
		entry_set(e, w);	  /* could not shrink: keep the room */
		goto done;
	}
	/* Fill n completely (w's value may point into e), then link n where
	 * e was on both lists (the chain's first link is the slot's head),
	 * then free e. */
	n->partition = e->partition;
	n->key_len = e->key_len;
	memcpy(n->data, e->data, e->key_len);
	entry_set(n, w);
	n->chain_next = e->chain_next;
	*pp = n;
	part_replace(e, n);
	dallocx(e, STORE_FREE_FLAGS);
	e = n;
done:
	if (cur)
		view_of(e, cur);
	return rc;
}

int qr_store_apply(struct qr_store *s, const struct qr_store_write *w,
		   struct qr_store_view *cur)
{
	uint64_t key_hash = qr_store_key_hash(w->key, w->key_len);

	return qr_store_apply_hashed(s, w, key_hash, cur);
}

int qr_store_set_lsn(struct qr_store *s, const void *key, uint8_t key_len,
		     struct qr_version v, uint64_t lsn)
{
	uint64_t key_hash = qr_store_key_hash(key, key_len);
	struct store_entry *e = index_find(s, key_hash)->head;

	while (e != NULL && !entry_has_key(e, key, key_len))
		e = e->chain_next;
	if (e == NULL ||
	    qr_version_cmp(v, (struct qr_version){e->hlc, e->node}) != 0)
		return QR_ENOTFOUND;
	e->lsn = lsn;
	return 0;
}

int qr_store_remove_hashed(struct qr_store *s, const void *key, uint8_t key_len,
			   uint64_t key_hash)
{
	struct index_slot *sl = index_find(s, key_hash);
	struct store_entry *e, **pp;

	pp = chain_find(&sl->head, key, key_len);
	e = *pp;
	if (e == NULL)
		return QR_ENOTFOUND;
	*pp = e->chain_next;
	if (sl->head == NULL)
		index_clear(s, sl); /* its last entry: the key hash goes */
	part_unlink(e);
	QR_ASSERT(s->count > 0);
	s->count--;
	QR_ASSERT(s->bytes >= (uint64_t)e->key_len + e->value_len);
	s->bytes -= (uint64_t)e->key_len + e->value_len;
	dallocx(e, STORE_FREE_FLAGS);
	return 0;
}

int qr_store_remove(struct qr_store *s, const void *key, uint8_t key_len)
{
	return qr_store_remove_hashed(s, key, key_len,
				      qr_store_key_hash(key, key_len));
}

uint32_t qr_store_count(const struct qr_store *s)
{
	return s->count;
}

uint64_t qr_store_bytes(const struct qr_store *s)
{
	return s->bytes;
}

bool qr_store_partition_empty(const struct qr_store *s, uint32_t partition)
{
	QR_ASSERT(partition < s->partitions);
	return s->part_heads[partition] == NULL;
}

/* A partition out of range is QR_EINVAL: store.h leaves it open, and a
 * callback that wants its result told apart returns a positive value. */
int qr_store_for_each_in_partition(const struct qr_store *s, uint32_t partition,
				   int (*fn)(void *arg,
					     const struct qr_store_view *v),
				   void *arg)
{
	const struct store_entry *e, *next;
	struct qr_store_view v;
	int rc;

	if (partition >= s->partitions)
		return QR_EINVAL;
	for (e = s->part_heads[partition]; e != NULL; e = next) {
		next = e->part_next;
		/* A list walk misses the cache once per entry: overlap the
		 * next miss with fn's work on this one. */
		if (next)
			__builtin_prefetch(next);
		view_of(e, &v);
		rc = fn(arg, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- Self-check (tests, tools) ---- */

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: store check failed: %s\n",     \
				__FILE__, __LINE__, #cond);                    \
			return QR_ECORRUPT;                                    \
		}                                                              \
	} while (0)

/* The index's invariants, and its chains: *chained counts their entries. */
static int index_check(const struct qr_store *s, uint64_t *chained)
{
	const struct store_entry *e, *o;
	uint64_t used = 0;

	for (uint64_t i = 0; i <= s->index_mask; i++) {
		const struct index_slot *sl = &s->slots[i];

		if (sl->head == NULL)
			continue;
		used++;
		/* Reached from its home, and the first slot with its hash. */
		CHECK(index_find(s, sl->key_hash) == sl);
		for (e = sl->head; e != NULL; e = e->chain_next) {
			CHECK(++*chained <= s->count); /* and no cycle */
			CHECK(*e->part_pprev == e);    /* on a partition list */
			for (o = e->chain_next; o != NULL; o = o->chain_next)
				CHECK(!entry_has_key(o, e->data, e->key_len));
		}
	}
	CHECK(used == s->index_used);
	CHECK(used <= s->count && used < s->index_mask + 1);
	return 0;
}

int qr_store_check(const struct qr_store *s)
{
	const struct store_entry *e;
	uint64_t listed = 0, chained = 0, bytes = 0;
	int rc;

	CHECK(s->count <= s->entries_max);
	for (uint32_t p = 0; p < s->partitions; p++) {
		struct store_entry *const *link = &s->part_heads[p];

		for (e = *link; e != NULL; e = e->part_next) {
			CHECK(++listed <= s->count); /* and no cycle */
			CHECK(e->part_pprev == link);
			CHECK(e->partition == p);
			CHECK(e->key_len >= 1);
			CHECK(e->tombstone <= 1);
			CHECK(!e->tombstone || e->value_len == 0);
			CHECK(e->value_len <= s->value_max);
			CHECK(ENTRY_HDR_BYTES + e->key_len + e->value_len <=
			      alloc_dec(e->alloc));
			CHECK(alloc_dec(e->alloc) == sallocx(e, 0));
			bytes += (uint64_t)e->key_len + e->value_len;
			link = &e->part_next;
		}
	}
	CHECK(listed == s->count);
	CHECK(bytes == s->bytes);

	rc = index_check(s, &chained);
	if (rc)
		return rc;
	CHECK(chained == s->count);
	return 0;
}
