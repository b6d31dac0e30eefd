/* SPDX-License-Identifier: MIT */
/*
 * Tombstone GC bookkeeping; the contract and the reasons are in core/gc.h
 * and docs/protocol.md ("Tombstone collection").
 */
#include "core/gc.h"

#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "quorate/err.h"

_Static_assert((QR_GC_GONE_SLOTS & (QR_GC_GONE_SLOTS - 1)) == 0,
	       "QR_GC_GONE_SLOTS is a power of two");

static struct qr_gc_part *part_of(const struct qr_gc *g, uint32_t p)
{
	uint32_t i = g->slot[p];
	if (i == QR_GC_NONE)
		return NULL;
	return (struct qr_gc_part *)(g->parts + (size_t)i * g->part_bytes);
}

int qr_gc_init(struct qr_gc *g, const struct qr_placement *pl, uint16_t node,
	       uint16_t shard, uint64_t hold_us)
{
	memset(g, 0, sizeof(*g));
	if (!pl || pl->rf == 0 || pl->rf > QR_RF_MAX)
		return QR_EINVAL;
	g->rf = (uint16_t)pl->rf;
	g->hold_us = hold_us;
	g->part_bytes = (uint32_t)(sizeof(struct qr_gc_part) +
				   g->rf * sizeof(struct qr_gc_rec));
	g->slot = malloc((size_t)pl->partitions * sizeof(*g->slot));
	g->gone = calloc(QR_GC_GONE_SLOTS, sizeof(*g->gone));
	if (!g->slot || !g->gone)
		goto nomem;
	for (uint32_t p = 0; p < pl->partitions; p++) {
		bool mine = qr_placement_shard(pl, p) == shard &&
			    qr_placement_replica_index(pl, p, node) >= 0;
		g->slot[p] = mine ? g->mine++ : QR_GC_NONE;
	}
	g->parts = calloc(g->mine ? g->mine : 1, g->part_bytes);
	if (!g->parts)
		goto nomem;
	return 0;
nomem:
	qr_gc_fini(g);
	return QR_ENOMEM;
}

void qr_gc_fini(struct qr_gc *g)
{
	free(g->slot);
	free(g->parts);
	free(g->gone);
	memset(g, 0, sizeof(*g));
}

/* A pending record hold_us old becomes the aged one. */
static void rec_promote(const struct qr_gc *g, struct qr_gc_rec *r,
			uint64_t now_us)
{
	if (r->fresh_us && now_us >= r->fresh_us + g->hold_us) {
		r->aged_lsn = QR_MAX(r->aged_lsn, r->fresh_lsn);
		r->fresh_us = 0;
	}
}

void qr_gc_matched(struct qr_gc *g, uint32_t p, int idx, uint64_t lsn,
		   uint64_t now_us)
{
	struct qr_gc_part *s = part_of(g, p);
	if (!s || idx < 0 || idx >= g->rf)
		return;
	struct qr_gc_rec *r = &s->rec[idx];
	rec_promote(g, r, now_us);
	/* Keep a pending record until it ages: replacing it with every new
	 * match would keep it young forever. now_us 0 is "none": use 1. */
	if (!r->fresh_us) {
		r->fresh_lsn = lsn;
		r->fresh_us = now_us ? now_us : 1;
	}
}

uint64_t qr_gc_safe_lsn(struct qr_gc *g, uint32_t p, int self_idx,
			uint64_t now_us)
{
	struct qr_gc_part *s = part_of(g, p);
	if (!s)
		return 0;
	uint64_t safe = UINT64_MAX;
	for (int i = 0; i < g->rf; i++) {
		if (i == self_idx)
			continue;
		rec_promote(g, &s->rec[i], now_us);
		safe = QR_MIN(safe, s->rec[i].aged_lsn);
	}
	return safe == UINT64_MAX ? 0 : safe;
}

uint64_t qr_gc_delta(const struct qr_gc *g, uint32_t p, uint32_t *n)
{
	const struct qr_gc_part *s = part_of(g, p);
	*n = s ? s->delta_n : 0;
	return s ? s->delta : 0;
}

static struct qr_gc_gone *gone_slot(const struct qr_gc *g, uint64_t h)
{
	uint64_t x = h ^ h >> 33;
	return &g->gone[x & (QR_GC_GONE_SLOTS - 1)];
}

void qr_gc_collected(struct qr_gc *g, uint32_t p, uint64_t h)
{
	struct qr_gc_part *s = part_of(g, p);
	if (!s)
		return;
	s->delta ^= h;
	s->delta_n++;
	/* Evicting another partition's hash only costs that one a push. */
	*gone_slot(g, h) = (struct qr_gc_gone){h, p, s->gen};
}

void qr_gc_inserted(struct qr_gc *g, uint32_t p, uint64_t h)
{
	struct qr_gc_part *s = part_of(g, p);
	if (!s || !s->delta_n)
		return;
	struct qr_gc_gone *e = gone_slot(g, h);
	if (e->hash != h || e->partition != p || e->gen != s->gen)
		return;
	s->delta ^= h;
	s->delta_n--;
	memset(e, 0, sizeof(*e));
}

void qr_gc_forget(struct qr_gc *g, uint32_t p)
{
	struct qr_gc_part *s = part_of(g, p);
	if (!s || !s->delta_n)
		return;
	s->delta = 0;
	s->delta_n = 0;
	s->gen++; /* cache entries of the old delta no longer count */
}
