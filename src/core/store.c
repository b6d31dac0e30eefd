/* SPDX-License-Identifier: MIT */
/*
 * Per-shard key-value table; the contract is core/store.h.
 *
 * Index: an rte_hash whose 8-byte key is qr_store_key_hash() of the user key
 * and whose data is the head of a chain of the entries with that hash. The
 * chain is walked comparing full keys, so a 64-bit collision costs a compare,
 * never a wrong answer; chains longer than one entry are rare enough that
 * only tests (store_pvt.h) make them. The table is created with extendable
 * buckets (RTE_HASH_EXTRA_FLAGS_EXT_TABLE): plain cuckoo hashing refuses
 * some inserts before the table is full, and the contract promises
 * entries_max keys (the fill test fails without the flag).
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
 *  - an entry never changes partition (the partition is a function of the
 *    key) and is on that partition's list;
 *  - a tombstone's value_len is 0; value_len <= value_max (the config's
 *    value_bytes_max, at most QR_VALUE_BYTES_MAX); the entry fits its
 *    allocation, whose usable size is alloc_dec(alloc) (exact below
 *    32 KiB, never above the real one);
 *  - an entry's version only grows, unless QR_BUG(APPLY_OLDER) is injected.
 *
 * Cost, measured on a 2-vCPU AMD EPYC VM with DPDK on 4 KiB pages, 16-byte
 * keys, 100-byte values: the key hash ~2 ns; get ~13 ns on a hot key and
 * ~36 ns at random over 10k keys; apply of a newer version in place ~17 and
 * ~43 ns (an older one costs a get). A new key or a move adds an arena
 * allocation and an index write: ~150-220 ns. Past the cache a get is 3-4
 * dependent misses (bucket, index key, entry): ~160 ns at 100k keys.
 */
#include "core/store.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_ring_core.h>

#include "common/compiler.h"
#include "core/bugs.h"
#include "core/placement.h"
#include "core/store_pvt.h"
#include "core/wire.h"
#include "quorate/err.h"

/*
 * rte_hash names its rings "HT_<name>" and "HT_EXT_<name>" in
 * RTE_RING_NAMESIZE bytes and silently cuts longer names, so two long names
 * could collide there: refuse them instead.
 */
#define STORE_NAME_BYTES_MAX (RTE_RING_NAMESIZE - sizeof("HT_EXT_"))
#define INDEX_ENTRIES_MIN    8 /* rte_hash's bucket size, its minimum table */

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

struct qr_store {
	/* Read by every operation: the first cache line. */
	struct rte_hash *index;		 /* key hash -> chain head */
	struct store_entry **part_heads; /* [partitions] */
	uint32_t count;			 /* entries, tombstones included */
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

/*
 * The rte_hash signature of an index key. The index keys are hashes already,
 * so the signature only folds them; index_hash_func() is the same fold for
 * rte_hash, which therefore agrees with the signatures we pass to the
 * *_with_hash calls (computed inline: no indirect call per operation).
 */
static inline hash_sig_t index_sig(uint64_t key_hash)
{
	return (hash_sig_t)(key_hash ^ key_hash >> 32);
}

static uint32_t index_hash_func(const void *key, uint32_t key_len,
				uint32_t init_val)
{
	uint64_t h;

	(void)key_len;
	(void)init_val;
	memcpy(&h, key, sizeof(h));
	return index_sig(h);
}

/* rte_hash compares index keys with memcmp() by default for 8-byte keys. */
static int index_key_cmp(const void *a, const void *b, size_t len)
{
	uint64_t x, y;

	(void)len;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x != y;
}

/* ---- Entries and lists ---- */

static inline bool entry_has_key(const struct store_entry *e, const void *key,
				 uint8_t key_len)
{
	return e->key_len == key_len && memcmp(e->data, key, key_len) == 0;
}

/* The chain for an index key, or NULL. */
static inline struct store_entry *
chain_of(const struct qr_store *s, const uint64_t *key_hash, hash_sig_t sig)
{
	void *data;

	if (rte_hash_lookup_with_hash_data(s->index, key_hash, sig, &data) < 0)
		return NULL;
	QR_DASSERT(data != NULL);
	return data;
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

/* The chain's head changed from what the index holds: tell the index. */
static void index_set_head(struct qr_store *s, const uint64_t *key_hash,
			   hash_sig_t sig, struct store_entry *head)
{
	int rc;

	if (head)
		/* The key is there, so this only updates its data: it takes
		 * no slot and cannot fail. */
		rc = rte_hash_add_key_with_hash_data(s->index, key_hash, sig,
						     head);
	else
		rc = rte_hash_del_key_with_hash(s->index, key_hash, sig);
	QR_ASSERT(rc >= 0);
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

int qr_store_create(const struct qr_store_config *cfg, struct qr_store **out)
{
	struct rte_hash_parameters hp;
	struct qr_store *s;
	size_t name_len, len;
	unsigned narenas;
	int flags, err;

	if (cfg == NULL || out == NULL || cfg->name == NULL)
		return QR_EINVAL;
	name_len = strnlen(cfg->name, STORE_NAME_BYTES_MAX + 1);
	if (name_len == 0 || name_len > STORE_NAME_BYTES_MAX)
		return QR_EINVAL;
	if (cfg->entries_max == 0 || cfg->entries_max > RTE_HASH_ENTRIES_MAX)
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
	if (rte_hash_find_existing(cfg->name) != NULL)
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

	/* One writer, no concurrent readers: no locks, no RCU. Chained
	 * keys share an index key, so entries_max index keys always do. */
	memset(&hp, 0, sizeof(hp));
	hp.name = cfg->name;
	hp.entries = QR_MAX(cfg->entries_max, INDEX_ENTRIES_MIN);
	hp.key_len = sizeof(uint64_t);
	hp.hash_func = index_hash_func;
	hp.hash_func_init_val = 0;
	hp.socket_id = cfg->socket_id;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
	rte_errno = 0;
	s->index = rte_hash_create(&hp);
	if (s->index == NULL) {
		err = rte_errno;
		dallocx(s->part_heads, STORE_FREE_FLAGS);
		dallocx(s, STORE_FREE_FLAGS);
		return err == EINVAL || err == EEXIST || err == ENAMETOOLONG
			       ? QR_EINVAL
			       : QR_ENOMEM;
	}
	rte_hash_set_cmp_func(s->index, index_key_cmp);
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
	rte_hash_free(s->index);
	dallocx(s->part_heads, STORE_FREE_FLAGS);
	dallocx(s, STORE_FREE_FLAGS);
}

/* ---- Operations ---- */

int qr_store_get_hashed(const struct qr_store *s, const void *key,
			uint8_t key_len, uint64_t key_hash,
			struct qr_store_view *out)
{
	const struct store_entry *e;

	e = chain_of(s, &key_hash, index_sig(key_hash));
	while (e != NULL && !entry_has_key(e, key, key_len))
		e = e->chain_next;
	if (e == NULL)
		return QR_ENOTFOUND;
	view_of(e, out);
	return 0;
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

/* A key the store does not have: append it to its chain, or give it one. */
static int apply_insert(struct qr_store *s, const struct qr_store_write *w,
			const uint64_t *key_hash, hash_sig_t sig,
			struct store_entry **head, struct store_entry **tail,
			struct qr_store_view *cur)
{
	struct store_entry *e;
	int rc;

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
	if (tail != head) {
		*tail = e; /* after a colliding key: the index is unchanged */
	} else {
		rc = rte_hash_add_key_with_hash_data(s->index, key_hash, sig,
						     e);
		if (rc < 0) {
			/* The index holds at least entries_max keys
			 * (extendable buckets), so this does not happen; if
			 * it did, refuse the write. */
			dallocx(e, STORE_FREE_FLAGS);
			return QR_ENOSPC;
		}
	}
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
	hash_sig_t sig = index_sig(key_hash);
	struct store_entry *head, *e, *n, **pp;
	size_t need, have;
	int rc, cmp;

	rc = write_check(s, w);
	if (rc)
		return rc;
	head = chain_of(s, &key_hash, sig);
	pp = chain_find(&head, w->key, w->key_len);
	e = *pp;
	if (e == NULL)
		return apply_insert(s, w, &key_hash, sig, &head, pp, cur);

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
	 * e was on both lists, then free e. */
	n->partition = e->partition;
	n->key_len = e->key_len;
	memcpy(n->data, e->data, e->key_len);
	entry_set(n, w);
	n->chain_next = e->chain_next;
	*pp = n;
	part_replace(e, n);
	if (pp == &head)
		index_set_head(s, &key_hash, sig, head);
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
	struct store_entry *e = chain_of(s, &key_hash, index_sig(key_hash));

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
	hash_sig_t sig = index_sig(key_hash);
	struct store_entry *head, *e, **pp;

	head = chain_of(s, &key_hash, sig);
	pp = chain_find(&head, key, key_len);
	e = *pp;
	if (e == NULL)
		return QR_ENOTFOUND;
	*pp = e->chain_next;
	if (pp == &head)
		index_set_head(s, &key_hash, sig, head);
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

int qr_store_check(const struct qr_store *s)
{
	const struct store_entry *e, *o;
	uint64_t listed = 0, chained = 0, bytes = 0;
	const void *index_key;
	uint32_t iter = 0;
	void *data;

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

	while (rte_hash_iterate(s->index, &index_key, &data, &iter) >= 0) {
		CHECK(data != NULL);
		for (e = data; e != NULL; e = e->chain_next) {
			CHECK(++chained <= s->count); /* and no cycle */
			CHECK(*e->part_pprev == e);   /* on a partition list */
			for (o = e->chain_next; o != NULL; o = o->chain_next)
				CHECK(!entry_has_key(o, e->data, e->key_len));
		}
	}
	CHECK(chained == s->count);
	CHECK((uint32_t)rte_hash_count(s->index) <= s->count);
	return 0;
}
