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

#endif
