/* SPDX-License-Identifier: MIT */
/*
 * Injectable protocol bugs, for proving that the simulator's checkers bite
 * (tests/sim/meson.build: sim-catches-*). Part of the core, not of
 * src/common: only the protocol code has bugs to inject.
 */
#ifndef QR_CORE_BUGS_H
#define QR_CORE_BUGS_H

#include "common/compiler.h" /* qr_unlikely */

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
	QR_BUG_STAMP_BELOW_TOKEN = 1u << 9, /* a write token a lease ahead is
					     * ignored (issue 13 bug 1) */
	QR_BUG_ACK_WAL_REFUSED = 1u << 10, /* a node whose WAL refuses writes
					    * keeps taking and acking them
					    * (applied, never logged), and
					    * does not announce it (issue 12
					    * item 5) */
	QR_BUG_LINGER_NO_HINT = 1u << 11, /* an answered write's linger ends
					  * without hinting the replicas that
					  * did not acknowledge it */
};
#ifdef QR_BUG_INJECTION
extern unsigned qr_bugs; /* set by the simulator from --inject-bug */
#define QR_BUG(name) (qr_unlikely(qr_bugs & QR_BUG_##name))
#else
#define QR_BUG(name) 0
#endif

#endif
