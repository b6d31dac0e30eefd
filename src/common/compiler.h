/* SPDX-License-Identifier: MIT */
/*
 * Small compiler helpers and the project's assertions.
 * QR_ASSERT always runs (invariants are documentation that is checked);
 * QR_DASSERT is for the hottest loops and compiles out unless QR_DEBUG.
 */
#ifndef QR_COMMON_COMPILER_H
#define QR_COMMON_COMPILER_H

#include <stdio.h>
#include <stdlib.h>

#define qr_likely(x)	__builtin_expect(!!(x), 1)
#define qr_unlikely(x)	__builtin_expect(!!(x), 0)
#define QR_CACHE_LINE	64
#define QR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define QR_MIN(a, b)	((a) < (b) ? (a) : (b))
#define QR_MAX(a, b)	((a) > (b) ? (a) : (b))
#define QR_IS_POW2(x)	((x) != 0 && ((x) & ((x)-1)) == 0)

#define QR_ASSERT(cond)                                                        \
	do {                                                                   \
		if (qr_unlikely(!(cond))) {                                    \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#ifdef QR_DEBUG
#define QR_DASSERT(cond) QR_ASSERT(cond)
#else
#define QR_DASSERT(cond) ((void)0)
#endif

/*
 * Bug injection, for proving that the simulator's checkers bite. Only the
 * `quorate_core_buggy` library is built with QR_BUG_INJECTION; production
 * code never links it. QR_BUG(X) is a compile-time 0 everywhere else.
 */
enum qr_bug {
	QR_BUG_ACK_BEFORE_WAL = 1u << 0,   /* replica acks before WAL durable */
	QR_BUG_SKIP_READ_REPAIR = 1u << 1, /* reads never repair replicas */
	QR_BUG_APPLY_OLDER = 1u << 2,	   /* store applies older over newer */
	QR_BUG_SKIP_ANTI_ENTROPY = 1u << 3, /* no digest is ever sent */
	QR_BUG_SERVE_BELOW_WATERMARK = 1u << 8, /* a replica claims to be
						 * current for any token */
	QR_BUG_GC_EARLY = 1u << 4, /* tombstones collected after the grace
				    * without waiting for every replica */
	QR_BUG_FORGET_PROMISE = 1u << 5, /* CASPaxos acceptor ignores promises */
};
#ifdef QR_BUG_INJECTION
extern unsigned qr_bugs; /* set by the simulator from --inject-bug */
#define QR_BUG(name) (qr_unlikely(qr_bugs & QR_BUG_##name))
#else
#define QR_BUG(name) 0
#endif

#endif
