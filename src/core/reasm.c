/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of multi-frame messages: see reasm.h for the invariants
 * (A1..A6). Layout choices, and why:
 *  - A slot is found by a linear scan of the open list. The pool is small
 *    by construction (slots x bytes_max is real memory: 64 x 1 MiB = 64 MiB
 *    per shard), the scan reads only the compact open list and one key per
 *    open slot, and it costs nothing when no large message is in flight;
 *    a hash would only pay off at hundreds of concurrent large messages.
 *  - A chunk bitmap per slot (bytes_max / QR_REASM_CHUNK_MIN bits) makes
 *    duplicates exact (A5) and completion a counter compare.
 *  - The CRC of the whole message is checked once, at completion (A1): it
 *    catches a fragment of another message that reused an id (a sender
 *    restarted without bumping its incarnation) or a corrupt chunk.
 */
#include "core/reasm.h"

#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "quorate/err.h"

enum slot_state { SLOT_FREE = 0, SLOT_OPEN = 1, SLOT_DONE = 2 };

struct qr_reasm_slot {
	uint64_t src, msg_id, first_ns, last_ns; /* first, latest chunk */
	uint32_t incarnation, total, chunk, crc;
	uint32_t chunks, have;	 /* chunks in the message, chunks held */
	uint32_t bytes_have;
	uint32_t open_pos;	 /* index in open_list while OPEN or DONE */
	uint64_t nack_ns;	 /* last A8 report (0: none) */
	uint8_t nacks;		 /* A8 reports without progress since */
	uint8_t state;
};

static uint32_t div_up(uint32_t a, uint32_t b)
{
	return (uint32_t)(((uint64_t)a + b - 1) / b);
}

int qr_reasm_init(struct qr_reasm *r, const struct qr_reasm_config *cfg)
{
	memset(r, 0, sizeof(*r));
	if (!cfg || cfg->slots == 0 || cfg->bytes_max < QR_REASM_CHUNK_MIN ||
	    cfg->per_src_max == 0 || cfg->per_src_max > cfg->slots ||
	    cfg->timeout_ns == 0 || cfg->slots > (1u << 20))
		return QR_EINVAL;
	r->cfg = *cfg;
	uint32_t bits = div_up(cfg->bytes_max, QR_REASM_CHUNK_MIN);
	r->words_per_slot = div_up(bits, 64);
	r->slot = calloc(cfg->slots, sizeof(*r->slot));
	r->bytes = malloc((size_t)cfg->slots * cfg->bytes_max);
	r->bits = calloc((size_t)cfg->slots * r->words_per_slot, 8);
	r->free_stack = calloc(cfg->slots, sizeof(uint32_t));
	r->open_list = calloc(cfg->slots, sizeof(uint32_t));
	if (!r->slot || !r->bytes || !r->bits || !r->free_stack ||
	    !r->open_list) {
		qr_reasm_fini(r);
		return QR_ENOMEM;
	}
	for (uint32_t i = 0; i < cfg->slots; i++)
		r->free_stack[i] = cfg->slots - 1 - i; /* pop 0 first */
	r->free_top = cfg->slots;
	return 0;
}

void qr_reasm_fini(struct qr_reasm *r)
{
	free(r->slot);
	free(r->bytes);
	free(r->bits);
	free(r->free_stack);
	free(r->open_list);
	memset(r, 0, sizeof(*r));
}

static uint64_t *slot_bits(struct qr_reasm *r, uint32_t i)
{
	return r->bits + (size_t)i * r->words_per_slot;
}

static uint8_t *slot_bytes(struct qr_reasm *r, uint32_t i)
{
	return r->bytes + (size_t)i * r->cfg.bytes_max;
}

/* Back to the free stack; the open list stays dense (swap with last). */
static void slot_free(struct qr_reasm *r, uint32_t i)
{
	struct qr_reasm_slot *s = &r->slot[i];
	uint32_t pos = s->open_pos, last = r->open_list[r->open_n - 1];
	r->open_list[pos] = last;
	r->slot[last].open_pos = pos;
	r->open_n--;
	if (s->state == SLOT_OPEN)
		r->st.held_bytes -= s->bytes_have;
	memset(slot_bits(r, i), 0, (size_t)r->words_per_slot * 8);
	s->state = SLOT_FREE;
	r->free_stack[r->free_top++] = i;
	r->st.open = r->open_n;
}

/* The open slot of f's message, or UINT32_MAX; *src_held: open slots of
 * f's sender, *oldest: the one of them still assembling that began first,
 * or UINT32_MAX (for A3). */
static uint32_t slot_find(const struct qr_reasm *r, const struct qr_frag *f,
			  uint32_t *src_held, uint32_t *oldest)
{
	uint32_t found = UINT32_MAX;
	*src_held = 0;
	*oldest = UINT32_MAX;
	for (uint32_t k = 0; k < r->open_n; k++) {
		uint32_t i = r->open_list[k];
		const struct qr_reasm_slot *s = &r->slot[i];
		if (s->src != f->src)
			continue;
		(*src_held)++;
		if (s->msg_id == f->msg_id && s->incarnation == f->incarnation)
			found = i;
		if (s->state == SLOT_OPEN &&
		    (*oldest == UINT32_MAX ||
		     s->first_ns < r->slot[*oldest].first_ns))
			*oldest = i;
	}
	return found;
}

/* A fragment consistent in itself (before any slot is looked at). */
static bool frag_valid(const struct qr_frag *f)
{
	if (f->total == 0 || f->chunk < QR_REASM_CHUNK_MIN || !f->data)
		return false;
	if (f->offset >= f->total || f->offset % f->chunk)
		return false;
	uint32_t want = f->total - f->offset;
	return f->len == (want < f->chunk ? want : f->chunk);
}

static uint32_t slot_open(struct qr_reasm *r, const struct qr_frag *f,
			  uint64_t now_ns)
{
	uint32_t i = r->free_stack[--r->free_top];
	struct qr_reasm_slot *s = &r->slot[i];
	s->src = f->src;
	s->msg_id = f->msg_id;
	s->incarnation = f->incarnation;
	s->first_ns = now_ns;
	s->last_ns = now_ns;
	s->total = f->total;
	s->chunk = f->chunk;
	s->crc = f->crc;
	s->chunks = div_up(f->total, f->chunk);
	s->have = 0;
	s->bytes_have = 0;
	s->nack_ns = 0;
	s->nacks = 0;
	s->state = SLOT_OPEN;
	s->open_pos = r->open_n;
	r->open_list[r->open_n++] = i;
	r->st.open = r->open_n;
	return i;
}

static int drop(uint64_t *counter, int err)
{
	(*counter)++;
	return err;
}

/* Store f's chunk in slot i; 1 when the message is now complete. */
static int slot_fill(struct qr_reasm *r, uint32_t i, const struct qr_frag *f,
		     struct qr_reasm_msg *out)
{
	struct qr_reasm_slot *s = &r->slot[i];
	uint32_t c = f->offset / f->chunk;
	uint64_t *bits = slot_bits(r, i), bit = 1ull << (c % 64);
	if (bits[c / 64] & bit) {
		r->st.dup++;
		return 0;
	}
	bits[c / 64] |= bit;
	memcpy(slot_bytes(r, i) + f->offset, f->data, f->len);
	s->have++;
	s->bytes_have += f->len;
	r->st.held_bytes += f->len;
	if (s->have < s->chunks)
		return 0;
	if (qr_crc32c(0, slot_bytes(r, i), s->total) != s->crc) {
		slot_free(r, i);
		return drop(&r->st.drop_crc, QR_ECORRUPT);
	}
	r->st.held_bytes -= s->bytes_have;
	s->state = SLOT_DONE;
	r->st.complete++;
	*out = (struct qr_reasm_msg){.src = s->src,
				     .incarnation = s->incarnation,
				     .msg_id = s->msg_id,
				     .data = slot_bytes(r, i),
				     .len = s->total,
				     .slot = i};
	return 1;
}

/* The open slot without its first chunk that grew last longest ago, or
 * UINT32_MAX (A7). */
static uint32_t headless_idlest(struct qr_reasm *r)
{
	uint32_t best = UINT32_MAX;
	for (uint32_t k = 0; k < r->open_n; k++) {
		uint32_t i = r->open_list[k];
		const struct qr_reasm_slot *s = &r->slot[i];
		if (s->state != SLOT_OPEN || (slot_bits(r, i)[0] & 1))
			continue;
		if (best == UINT32_MAX || s->last_ns < r->slot[best].last_ns)
			best = i;
	}
	return best;
}

int qr_reasm_add(struct qr_reasm *r, const struct qr_frag *f, uint64_t now_ns,
		 struct qr_reasm_msg *out)
{
	r->st.frags++;
	if (!frag_valid(f))
		return drop(&r->st.drop_bad, QR_EWIRE_FIELD);
	if (f->total > r->cfg.bytes_max)
		return drop(&r->st.drop_large, QR_ETOOLARGE);
	uint32_t held, oldest;
	uint32_t i = slot_find(r, f, &held, &oldest);
	if (i != UINT32_MAX) {
		const struct qr_reasm_slot *s = &r->slot[i];
		if (s->state == SLOT_DONE) { /* late duplicate of a message
					      * being consumed */
			r->st.dup++;
			return 0;
		}
		if (s->total != f->total || s->chunk != f->chunk ||
		    s->crc != f->crc) {
			slot_free(r, i);
			return drop(&r->st.drop_bad, QR_EWIRE_FIELD);
		}
		r->slot[i].last_ns = now_ns;
		return slot_fill(r, i, f, out);
	}
	bool at_share = held >= r->cfg.per_src_max;
	/* A7: under pressure only a first chunk opens a slot. Decided
	 * before A3 evicts anything, counting the slot it would free: a
	 * chunk that is dropped anyway must not cost the sender a message
	 * still assembling (and maybe being repaired by A8). */
	if (f->offset != 0 &&
	    r->free_top + (at_share && oldest != UINT32_MAX) <
		    div_up(r->cfg.slots, 4))
		return drop(&r->st.drop_headless, QR_EFULL);
	if (at_share) {
		/* A3: a sender sends its messages one after the other, so a
		 * new one while it holds its share means an older one lost a
		 * fragment: that one gives way (its retransmission comes
		 * whole). Slots being consumed never do. */
		if (oldest == UINT32_MAX)
			return drop(&r->st.drop_src, QR_EFULL);
		slot_free(r, oldest);
		r->st.evicted++;
	}
	if (r->free_top == 0) {
		uint32_t victim = headless_idlest(r);
		if (victim == UINT32_MAX)
			return drop(&r->st.drop_full, QR_EFULL);
		slot_free(r, victim); /* A7 */
		r->st.evicted++;
	}
	return slot_fill(r, slot_open(r, f, now_ns), f, out);
}

void qr_reasm_release(struct qr_reasm *r, const struct qr_reasm_msg *m)
{
	if (m->slot < r->cfg.slots && r->slot[m->slot].state == SLOT_DONE &&
	    r->slot[m->slot].msg_id == m->msg_id)
		slot_free(r, m->slot);
}

unsigned qr_reasm_expire(struct qr_reasm *r, uint64_t now_ns)
{
	unsigned n = 0;
	for (uint32_t k = 0; k < r->open_n;) {
		uint32_t i = r->open_list[k];
		const struct qr_reasm_slot *s = &r->slot[i];
		if (s->state == SLOT_OPEN &&
		    (now_ns - s->first_ns >= r->cfg.timeout_ns ||
		     (r->cfg.idle_ns && now_ns - s->last_ns >= r->cfg.idle_ns))) {
			slot_free(r, i); /* moves the last open slot to k */
			r->st.expired++;
			n++;
			continue;
		}
		k++;
	}
	return n;
}

/* Slot i's missing chunks from its first missing one, into g (A8). */
static void gap_fill(struct qr_reasm *r, uint32_t i, struct qr_reasm_gap *g)
{
	const struct qr_reasm_slot *s = &r->slot[i];
	const uint64_t *bits = slot_bits(r, i);
	uint32_t c = 0;
	while (c < s->chunks && (bits[c / 64] & (1ull << (c % 64))))
		c++;
	*g = (struct qr_reasm_gap){.src = s->src,
				   .msg_id = s->msg_id,
				   .incarnation = s->incarnation,
				   .total = s->total,
				   .chunk = s->chunk,
				   .crc = s->crc,
				   .first = c};
	for (uint32_t k = 0; k < QR_REASM_NACK_BYTES * 8 && c + k < s->chunks;
	     k++) {
		uint32_t x = c + k;
		if (!(bits[x / 64] & (1ull << (x % 64)))) {
			g->missing[k / 8] |= (uint8_t)(1u << (k % 8));
			g->nbytes = k / 8 + 1;
		}
	}
}

uint32_t qr_reasm_stalled(struct qr_reasm *r, uint64_t now_ns, uint64_t gap_ns,
			  uint32_t nacks_max, struct qr_reasm_gap *out,
			  uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < r->open_n && n < max; k++) {
		uint32_t i = r->open_list[k];
		struct qr_reasm_slot *s = &r->slot[i];
		if (s->state != SLOT_OPEN)
			continue;
		/* nacks_max bounds the reports that brought nothing: one
		 * that was answered (a chunk came since) does not count, so
		 * a message with gaps over more than one report's bitmap
		 * gets them all repaired while it makes progress (A4 still
		 * bounds its time). */
		if (s->nacks && s->last_ns > s->nack_ns)
			s->nacks = 0;
		uint64_t since = s->nack_ns > s->last_ns ? s->nack_ns
							 : s->last_ns;
		if (s->nacks >= nacks_max || now_ns - since < gap_ns)
			continue;
		s->nack_ns = now_ns;
		s->nacks++;
		gap_fill(r, i, &out[n++]);
		r->st.stalled++;
	}
	return n;
}

uint32_t qr_frag_cut(struct qr_frag *f, const uint8_t *msg, uint32_t total,
		     uint32_t chunk, uint32_t i)
{
	if (total == 0 || chunk == 0)
		return 0;
	uint32_t n = div_up(total, chunk);
	if (i >= n)
		return 0;
	f->total = total;
	f->chunk = chunk;
	f->offset = i * chunk;
	f->data = msg + f->offset;
	f->len = total - f->offset < chunk ? total - f->offset : chunk;
	return n;
}
