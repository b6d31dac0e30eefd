/* SPDX-License-Identifier: MIT */
/*
 * The clocks every part of quorate reads outside the protocol core: one
 * copy instead of one per file. Header-only (static inline) and libc-only,
 * so the client library, the tools and the tests use it without DPDK.
 *
 * Invariants:
 *  C1. mono_* read CLOCK_MONOTONIC: never goes back, meaningless across
 *      processes; use them for durations, deadlines and timeouts.
 *  C2. wall_* read CLOCK_REALTIME (Unix epoch): may jump either way; use
 *      them only for what must agree across nodes (HLC physical part,
 *      ages shown to people), never for a timeout.
 *  C3. The unit is the last part of each name; values truncate (never
 *      round up) to it.
 *
 * The protocol core takes time only through struct qr_env (core/env.h), so
 * the simulator can drive it: do not call these from src/core, except
 * hlc.c's default wall source (used only when its driver gives none).
 * Cost: one vDSO clock_gettime, ~20 ns.
 */
#ifndef QR_COMMON_CLOCK_H
#define QR_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t qr_clock_ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC (C1). */
static inline uint64_t qr_clock_mono_ns(void)
{
	return qr_clock_ns_of(CLOCK_MONOTONIC);
}

static inline uint64_t qr_clock_mono_us(void)
{
	return qr_clock_mono_ns() / 1000u;
}

static inline uint64_t qr_clock_mono_ms(void)
{
	return qr_clock_mono_ns() / 1000000u;
}

/* Seconds with a fraction, for reports (C1). */
static inline double qr_clock_mono_s(void)
{
	return (double)qr_clock_mono_ns() / 1e9;
}

/* CLOCK_REALTIME, since the Unix epoch (C2). */
static inline uint64_t qr_clock_wall_us(void)
{
	return qr_clock_ns_of(CLOCK_REALTIME) / 1000u;
}

static inline uint64_t qr_clock_wall_ms(void)
{
	return qr_clock_ns_of(CLOCK_REALTIME) / 1000000u;
}

/* CPU time this process has used, for cost measurements. */
static inline uint64_t qr_clock_cpu_ns(void)
{
	return qr_clock_ns_of(CLOCK_PROCESS_CPUTIME_ID);
}

#endif
