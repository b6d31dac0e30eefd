/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock, after Kulkarni et al., "Logical Physical Clocks and
 * Consistent Snapshots in Globally Distributed Databases" (2014), Fig. 5.
 *
 * A timestamp is 64 bits: 48-bit wall milliseconds << 16 | 16-bit logical.
 * Invariants:
 *  - qr_hlc_now() and qr_hlc_observe() never return a value <= one they
 *    returned before (strictly increasing), even if the wall clock jumps back;
 *  - a remote timestamp more than max_offset_ms ahead of our wall clock is
 *    rejected (QR_ECLOCK) and counted, and leaves the clock unchanged;
 *  - when the logical part would overflow, the clock waits (through the
 *    source's pause hook) until the wall clock passes the current
 *    millisecond; a remote time that would overflow soon is refused
 *    (QR_ECLOCK) instead, so no input makes the clock wait.
 * The wall clock and a fixed offset are injectable so tests can skew clocks.
 * One qr_hlc per shard core: it is not thread-safe.
 */
#ifndef QR_CORE_HLC_H
#define QR_CORE_HLC_H

#include <stdint.h>

#define QR_HLC_LOGICAL_BITS 16
#define QR_HLC_LOGICAL_MAX 0xffffu
#define QR_HLC_MS(t) ((t) >> QR_HLC_LOGICAL_BITS)
#define QR_HLC_LOGICAL(t) ((t)&QR_HLC_LOGICAL_MAX)
#define QR_HLC_MAKE(ms, logical)                                               \
	(((uint64_t)(ms) << QR_HLC_LOGICAL_BITS) | (uint64_t)(logical))
#define QR_HLC_MAX_OFFSET_MS_DEFAULT 500
/* observe() refuses a remote time ahead of the wall clock and of ours
 * whose logical part is above QR_HLC_LOGICAL_MAX - this: it would leave
 * fewer local events than this before a logical overflow, which waits for
 * the wall clock (a stall on input). */
#define QR_HLC_REMOTE_HEADROOM 0x4000u

struct qr_hlc_source {
	/* Wall-clock milliseconds since the Unix epoch. */
	uint64_t (*wall_ms)(void *ctx);
	/* Called while waiting for the next millisecond on logical overflow;
	 * a simulated clock advances here. NULL: a CPU pause. */
	void (*pause)(void *ctx);
	void *ctx;
};

struct qr_hlc {
	uint64_t last;          /* last timestamp issued or observed */
	uint64_t max_offset_ms; /* reject remote time further ahead than this */
	int64_t offset_ms;      /* added to the wall clock (tests skew clocks) */
	struct qr_hlc_source src;
	uint64_t rejected;        /* remote timestamps refused as too far ahead */
	uint64_t wall_went_back;  /* reads where the wall clock was behind last */
	uint64_t overflow_waits;  /* logical overflows that waited for a tick */
	uint64_t overflow_refused; /* remote times refused: would overflow */
};

/* src NULL: CLOCK_REALTIME. max_offset_ms 0: the default (500 ms). */
void qr_hlc_init(struct qr_hlc *h, const struct qr_hlc_source *src,
		 uint64_t max_offset_ms);
void qr_hlc_set_offset(struct qr_hlc *h, int64_t offset_ms);
/* Wall clock as the HLC sees it (source + offset), in ms. */
uint64_t qr_hlc_wall_ms(struct qr_hlc *h);
/* Local or send event: a fresh timestamp greater than any before. */
uint64_t qr_hlc_now(struct qr_hlc *h);
/*
 * Receive event with a remote timestamp. On success returns 0 and, if out is
 * not NULL, the new local timestamp (> remote and > last). Returns QR_ECLOCK,
 * changing nothing but the counter, if remote is too far ahead.
 */
int qr_hlc_observe(struct qr_hlc *h, uint64_t remote, uint64_t *out);
/* Recovery: make sure future timestamps exceed t (no offset check). */
void qr_hlc_raise(struct qr_hlc *h, uint64_t t);

#endif
