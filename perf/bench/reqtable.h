/* SPDX-License-Identifier: MIT */
/*
 * quorate-bench's table of outstanding requests: a fixed array of slots
 * (a power of two, sized at start), a free stack, and a doubly linked list
 * of the slots in flight in the order they were sent, so that the oldest
 * request is the first to time out (every request has the same timeout).
 *
 * A request id is (seq << slot_bits) | slot with seq counting up from a
 * random base per table: a reply finds its slot with a mask, and a late
 * reply to a slot since reused does not match (its seq differs). seq is
 * never 0, so an id is never 0. All operations are O(1); nothing
 * allocates after bench_reqtable_init().
 *
 * Invariants: used == slots in the list == cap - free_top; a slot is in the
 * list iff its req_id != 0; sent_ns is non-decreasing from head to tail.
 */
#ifndef QR_BENCH_REQTABLE_H
#define QR_BENCH_REQTABLE_H

#include <stdint.h>
#include <stdlib.h>

#include "common/compiler.h"

#define BENCH_NIL UINT32_MAX

struct bench_req {
	uint64_t req_id;   /* 0: free */
	uint64_t start_ns; /* latency origin: intended (open loop) or issue
			    * (closed loop) time */
	uint64_t sent_ns;  /* when it was handed to the transport */
	uint32_t prev;	   /* in-flight list, by sent_ns */
	uint32_t next;
	uint16_t node;	  /* coordinator it was sent to */
	uint8_t op;	  /* enum qr_op */
	uint8_t measured; /* started inside the measured window */
};

struct bench_reqtable {
	uint32_t cap;  /* slots, a power of two */
	uint32_t bits; /* log2(cap) */
	uint32_t used; /* in flight */
	uint32_t head; /* oldest in flight, or BENCH_NIL */
	uint32_t tail; /* newest in flight, or BENCH_NIL */
	uint32_t free_top;
	uint64_t seq;	     /* of the next request id */
	uint32_t *free_slot; /* stack of free slot numbers */
	struct bench_req *req;
};

static inline void bench_reqtable_fini(struct bench_reqtable *t)
{
	free(t->req);
	free(t->free_slot);
	t->req = NULL;
	t->free_slot = NULL;
}

/* cap_min rounded up to a power of two (at most 2^20). 0 or -1 (memory;
 * the table is then empty and full: alloc returns NULL). */
static inline int bench_reqtable_init(struct bench_reqtable *t,
				      uint32_t cap_min, uint64_t seed)
{
	uint32_t bits = 0;
	while ((1u << bits) < cap_min && bits < 20)
		bits++;
	t->cap = 1u << bits;
	t->bits = bits;
	t->used = 0;
	t->head = t->tail = BENCH_NIL;
	t->seq = (seed & ((1ull << 40) - 1)) | 1;
	t->free_top = 0; /* every field set even on failure: a full table */
	t->req = calloc(t->cap, sizeof(*t->req));
	t->free_slot = calloc(t->cap, sizeof(*t->free_slot));
	if (!t->req || !t->free_slot) {
		bench_reqtable_fini(t);
		return -1;
	}
	for (uint32_t i = 0; i < t->cap; i++)
		t->free_slot[i] = t->cap - 1 - i; /* slot 0 on top */
	t->free_top = t->cap;
	return 0;
}

/* A fresh request at the tail of the in-flight list; NULL when full. */
static inline struct bench_req *bench_reqtable_alloc(struct bench_reqtable *t,
						     uint64_t sent_ns)
{
	if (!t->free_top)
		return NULL;
	uint32_t slot = t->free_slot[--t->free_top];
	struct bench_req *r = &t->req[slot];
	QR_DASSERT(r->req_id == 0);
	uint64_t seq = t->seq++;
	if (!(seq & ((1ull << (64 - t->bits)) - 1)))
		seq = t->seq++; /* wrapped to 0: skip it */
	r->req_id = (seq << t->bits) | slot;
	r->sent_ns = sent_ns;
	r->prev = t->tail;
	r->next = BENCH_NIL;
	if (t->tail != BENCH_NIL)
		t->req[t->tail].next = slot;
	else
		t->head = slot;
	t->tail = slot;
	t->used++;
	return r;
}

/* The request with this id, or NULL (unknown, late or already done). */
static inline struct bench_req *bench_reqtable_find(struct bench_reqtable *t,
						    uint64_t req_id)
{
	struct bench_req *r = &t->req[req_id & (t->cap - 1)];
	return req_id && r->req_id == req_id ? r : NULL;
}

static inline void bench_reqtable_release(struct bench_reqtable *t,
					  struct bench_req *r)
{
	uint32_t slot = (uint32_t)(r - t->req);
	QR_ASSERT(slot < t->cap && r->req_id != 0);
	if (r->prev != BENCH_NIL)
		t->req[r->prev].next = r->next;
	else
		t->head = r->next;
	if (r->next != BENCH_NIL)
		t->req[r->next].prev = r->prev;
	else
		t->tail = r->prev;
	r->req_id = 0;
	t->free_slot[t->free_top++] = slot;
	t->used--;
}

/* The request sent longest ago, or NULL. */
static inline struct bench_req *bench_reqtable_oldest(struct bench_reqtable *t)
{
	return t->head == BENCH_NIL ? NULL : &t->req[t->head];
}

#endif
