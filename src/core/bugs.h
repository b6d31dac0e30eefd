/* SPDX-License-Identifier: MIT */
/*
 * Injectable protocol bugs, for proving that the simulator's checkers bite
 * (tests/sim/meson.build: sim-catches-* and sim-mutation-campaign). Part
 * of the core, not of src/common: only the protocol code has bugs to
 * inject.
 */
#ifndef QR_CORE_BUGS_H
#define QR_CORE_BUGS_H

#include <stdint.h>

#include "common/compiler.h" /* qr_unlikely */

/*
 * Bug injection, for proving that the simulator's checkers bite. Only the
 * `quorate_core_buggy` library is built with QR_BUG_INJECTION; production
 * code never links it. QR_BUG(X) is a compile-time 0 everywhere else.
 *
 * X(NAME, bit, "cli-name", "area", "what the bug does"). The first nine
 * are the gross injected bugs (sim-catches-*); the others are the
 * mutation campaign's one-line mutations (issue 13 item 4;
 * tests/sim/mutation-campaign runs each, docs/architecture.md lists where
 * each lives). An assertion that would catch a mutation at once is
 * relaxed under it (`|| QR_BUG(X)`), so that a simulator checker must.
 */
#define QR_BUG_LIST(X)                                                         \
	X(ACK_BEFORE_WAL, 0, "ack-before-wal", "durability",                   \
	  "replica acks before its WAL record is durable")                     \
	X(SKIP_READ_REPAIR, 1, "skip-read-repair", "repair",                   \
	  "reads never repair replicas")                                       \
	X(APPLY_OLDER, 2, "apply-older", "store",                              \
	  "store applies an older version over a newer one")                   \
	X(SKIP_ANTI_ENTROPY, 3, "no-anti-entropy", "anti-entropy",             \
	  "no digest is ever sent")                                            \
	X(GC_EARLY, 4, "gc-early", "anti-entropy",                             \
	  "tombstones collected after the grace without every replica")        \
	X(FORGET_PROMISE, 5, "forget-promise", "cas",                          \
	  "CASPaxos acceptor ignores promises")                                \
	X(SERVE_BELOW_WATERMARK, 8, "serve-below-watermark", "closed-ts",      \
	  "a replica claims to be current for any token")                      \
	X(CLOCK_GUARD_OFF, 6, "clock-guard-off", "clock",                      \
	  "wall clock jumps go into the HLC and are served (issue 13 bug 6)")  \
	X(STAMP_BELOW_TOKEN, 9, "stamp-below-token", "write",                  \
	  "a write token a lease ahead is ignored (issue 13 bug 1)")           \
	/* durability waits */                                                 \
	X(ACCEPTED_BEFORE_WAL, 10, "accepted-before-wal", "durability",        \
	  "ACCEPTED sent before the accepted state is durable")                \
	X(PROMISE_BEFORE_WAL, 11, "promise-before-wal", "durability",          \
	  "PROMISE sent before its promise record and ceiling are durable")    \
	X(READ_REPLY_BEFORE_WAL, 12, "read-reply-before-wal", "durability",    \
	  "READ_REPLY carries an entry whose record is not durable")           \
	X(ANY_BEFORE_WAL, 13, "any-before-hints-durable", "durability",        \
	  "level ANY answered before its hints are durable")                   \
	X(ACK_WAITS_NEXT_LSN, 14, "ack-waits-next-lsn", "durability",          \
	  "a queued ack waits for the next lsn, not its entry's")              \
	X(ACK_HELD_AT_ONCE, 15, "ack-held-at-once", "durability",              \
	  "an equal or older write is acked before what is held is durable")   \
	/* repair */                                                           \
	X(NO_BLOCKING_REPAIR_QUORUM, 16, "no-blocking-repair-quorum",          \
	  "repair", "R = quorum reads answer without blocking repair")         \
	X(NO_BLOCKING_REPAIR_ALL, 17, "no-blocking-repair-all", "repair",      \
	  "ALL reads answer without blocking repair")                          \
	X(REPLY_HOLDS_OLDER, 18, "reply-holds-older", "repair",                \
	  "a read reply with an older version counts as holding the best")     \
	X(REPAIR_ACK_ANY_VERSION, 19, "repair-ack-any-version", "repair",      \
	  "a repair ack of an older best counts as holding the new best")      \
	X(NO_BACKGROUND_REPAIR, 20, "no-background-repair", "repair",          \
	  "reads below quorum repair nothing")                                 \
	/* closed-timestamp bounds */                                          \
	X(CLAIM_INFLIGHT_PLUS_ONE, 21, "claim-inflight-plus-one", "closed-ts", \
	  "a write in flight bounds the claim at version + 1")                 \
	X(CLAIM_SKIPS_PARKED, 22, "claim-skips-parked", "closed-ts",           \
	  "writes parked for the HLC ceiling hold back no claim")              \
	X(CLAIM_SKIPS_HINTS, 23, "claim-skips-hints", "closed-ts",             \
	  "hints hold back no claim")                                          \
	X(CAS_CLAIM_FROM_ACCEPT, 24, "cas-claim-from-accept", "closed-ts",     \
	  "CAS ballots hold claims only from ACCEPT (issue 13 bug 2a)")        \
	X(CLAIM_SKIPS_ORPHAN_FLOOR, 25, "claim-skips-orphan-floor",            \
	  "closed-ts", "claims pass the floor while our hand-off runs")        \
	X(CLAIM_ABOVE_CEILING, 26, "claim-above-ceiling", "closed-ts",         \
	  "claims not capped by the durable ceiling (issue 13 bug 3)")         \
	X(WATERMARK_SKIPS_LAST, 27, "watermark-skips-last", "closed-ts",       \
	  "the watermark's minimum skips the last node's claim")               \
	X(TOKEN_SERVE_AT_EQUAL, 28, "token-serve-at-equal", "closed-ts",       \
	  "a watermark equal to the token counts as current")                  \
	X(FLOOR_LOGS_HLC, 29, "floor-logs-hlc", "closed-ts",                   \
	  "the clock record logs our HLC as the closed floor")                 \
	/* CAS phases */                                                       \
	X(PREPARE_IGNORES_PROMISE, 30, "prepare-ignores-promise", "cas",       \
	  "the promise vote grants a ballot below the promise")                \
	X(ACCEPT_IGNORES_PROMISE, 31, "accept-ignores-promise", "cas",         \
	  "the accept vote takes a ballot below the promise")                  \
	X(CAS_PROMISE_QUORUM_MINUS_ONE, 32, "cas-promise-quorum-minus-one",    \
	  "cas", "the proposer decides on one promise fewer than a quorum")    \
	X(CAS_ACCEPT_QUORUM_MINUS_ONE, 33, "cas-accept-quorum-minus-one",      \
	  "cas", "the proposer answers on one ACCEPTED fewer than a quorum")   \
	X(CAS_STATE_FIRST_PROMISE, 34, "cas-state-first-promise", "cas",       \
	  "the current state is the first promise's, not the highest")         \
	X(CAS_SHORTCUT_NOT_UNANIMOUS, 35, "cas-shortcut-not-unanimous", "cas", \
	  "no-accept shortcut from promises that disagree")                    \
	X(CAS_IGNORE_UNSURE, 36, "cas-ignore-unsure", "cas",                   \
	  "UNSURE promises do not break the shortcut")                         \
	X(CAS_OWN_ANY_LATER, 37, "cas-own-any-later", "cas",                   \
	  "any state later than our accept counts as our own")                 \
	X(CAS_RETRY_NO_HINT, 38, "cas-retry-no-hint", "cas",                   \
	  "a refused accept leaves no hints (issue 13 bug 2b)")                \
	X(CAS_FORGET_FIRST_ACCEPT, 39, "cas-forget-first-accept", "cas",       \
	  "a retry forgets the first accepted ballot (issue 13 bug 4)")        \
	X(CAS_SAME_GENERATION, 40, "cas-same-generation", "cas",               \
	  "a new round keeps the op_id generation: late answers count")        \
	X(CAS_REUSE_BALLOT, 41, "cas-reuse-ballot", "cas",                     \
	  "a new round keeps the previous round's ballot")                     \
	/* hints and hand-off */                                               \
	X(HINT_MISSING_SKIPS_FIRST, 42, "hint-missing-skips-first", "hints",   \
	  "the first replica that did not ack gets no hint")                   \
	X(HINT_EXPIRY_NO_HANDOFF, 43, "hint-expiry-no-handoff", "hints",       \
	  "an expired write hint is not handed off afresh")                    \
	X(ORPHAN_SCAN_ASKER_ONLY, 44, "orphan-scan-asker-only", "hand-off",    \
	  "the hand-off scan skips later writes that may supersede the "       \
	  "asker's (P3)")                                                      \
	X(ORPHAN_REQ_EMPTY_RANGE, 45, "orphan-req-empty-range", "hand-off",    \
	  "ORPHAN_REQ asks from the end of the range (empty)")                 \
	X(ORPHAN_DONE_EARLY, 46, "orphan-done-early", "hand-off",              \
	  "ORPHAN_DONE before the hand-off's hints are acknowledged")          \
	X(ORPHAN_DONE_ANY_RANGE, 47, "orphan-done-any-range", "hand-off",      \
	  "an ORPHAN_DONE for another range counts")                           \
	X(ORPHAN_DONE_SKIPS_DOWN, 51, "orphan-done-skips-down", "hand-off",    \
	  "a DOWN node counts as done: the hand-off does not wait for it")     \
	/* write and read quorums, dedupe */                                   \
	X(WRITE_QUORUM_MINUS_ONE, 48, "write-quorum-minus-one", "write",       \
	  "a write is answered on one ack fewer than W")                       \
	X(READ_QUORUM_MINUS_ONE, 49, "read-quorum-minus-one", "read",          \
	  "a read is answered on one reply fewer than R")                      \
	X(RETRY_RESTAMPS, 50, "retry-restamps", "write",                       \
	  "a retry after UNAVAILABLE stamps a new version")                    \
	/* issue 12: a full disk; issue 11: no retransmission after answer */  \
	X(ACK_WAL_REFUSED, 52, "ack-wal-refused", "durability",                \
	  "a node whose WAL refuses writes keeps acking them, unannounced")    \
	X(LINGER_NO_HINT, 53, "linger-no-hint", "hints",                       \
	  "an answered write's linger ends without hinting silent replicas")   \
	X(HANDOFF_HINT_CLAIMS_VERSION, 54, "handoff-hint-claims-version",      \
	  "hand-off",                                                          \
	  "a hint of our own hand-off holds the claim at its "                 \
	  "version, not at the hand-off's from (N5)")                          \
	X(SNAPSHOT_DROPS_HINTS, 55, "snapshot-drops-hints", "hints",           \
	  "a snapshot holds store entries only, not the live hints "           \
	  "(issue 13 bug 5, N4)")                                              \
	/* issue 14: levels by zone */                                         \
	X(EACH_QUORUM_ONE_ZONE, 60, "each-quorum-one-zone", "zones",           \
	  "EACH_QUORUM is answered on the first zone's quorum alone")          \
	/* issue 13 item 3: a node rebuilding after a lost disk */             \
	X(REBUILD_IGNORED, 61, "rebuild-ignored", "rebuild",                   \
	  "a node started on an empty disk to rebuild rejoins as a full "      \
	  "replica at once, as --init alone did (recover.c RB1-RB3)")         \
	/* issue 15: long values */                                            \
	X(HINT_SHARES_LONG_VALUE, 62, "hint-shares-long-value", "long",        \
	  "a hint of a long value points at its request's pool buffer "       \
	  "instead of holding its own (long.h V1)")                           \
	X(LONG_HINTS_UNCAPPED, 63, "long-hints-uncapped", "long",              \
	  "long hints are re-sent with no cap on those in flight to a "       \
	  "target (hints.c HINT_LONG_IN_FLIGHT)")                             \
	X(NACK_KEPT_OVERWRITTEN, 56, "nack-kept-overwritten", "long",          \
	  "a FRAG_NACK is answered from a kept message whose bytes newer "    \
	  "messages overwrote in the ring (long.h V5)")                       \
	/* issue 14: topology changes */                                      \
	X(PENDING_COUNTS_TOWARD_W, 57, "pending-counts-toward-w", "topology",  \
	  "during a change a request needs no more answers from the union "   \
	  "than from one set, so the new member counts toward W too early "   \
	  "(topology.c T1)")                                                   \
	X(STREAM_FROM_ONE, 58, "stream-from-one", "topology",                  \
	  "a gainer is filled once one old owner's digest equalled its own, " \
	  "not a majority's (topology.c T3)")                                  \
	X(EPOCH_UNFENCED, 59, "epoch-unfenced", "topology",                    \
	  "peer frames are taken whatever their epoch, and a node that "      \
	  "heard it is behind still takes clients: one restarted with an "    \
	  "older topology coordinates with it (topology.c T6)")               \
	/* issue 14: the membership register (mreg.c R1-R3) */                 \
	X(REG_ACCEPT_BELOW_PROMISE, 64, "reg-accept-below-promise",            \
	  "register", "an acceptor accepts a ballot below its promise (R1)")   \
	X(REG_MINORITY, 65, "reg-minority", "register",                        \
	  "a proposer counts half the acceptors, rounded down, as a "         \
	  "majority (R2)")                                                     \
	X(REG_BASE_FIRST, 66, "reg-base-first", "register",                    \
	  "a proposer builds on the first promise's value, not the highest "  \
	  "accepted ballot's (R3)")                                            \
	X(REG_LOSS_FORGETS, 67, "reg-loss-forgets", "register",               \
	  "an acceptor that lost its state answers as a new one (ballot "     \
	  "0.0), granting what it may have refused before (R5)")              \
	X(ORPHAN_SCAN_OWNED_ONLY, 69, "orphan-scan-owned-only", "topology",   \
	  "a restarted node hands off only its writes of the partitions it "  \
	  "owns now, not those of partitions it lost while down (orphan.c)")  \
	X(NEWS_WHILE_BUSY, 68, "news-while-busy", "topology",                 \
	  "a peer's newer topology is installed while requests placed with "  \
	  "the older one are still in flight (topology.c T7)")                \
	X(ORPHAN_SCAN_WHILE_BEHIND, 70, "orphan-scan-while-behind",           \
	  "topology",                                                          \
	  "a restarted node's hand-off scans while it knows it is behind: "   \
	  "it hints the replica sets of its old topology (orphan.c P4)")      \
	/* issue 11: retransmission on evidence of loss */                     \
	X(RTO_WAITS_FOR_EVIDENCE, 7, "rto-waits-for-evidence", "write",        \
	  "an unanswered write is resent only on evidence of loss, never "    \
	  "after its second timeout (write.c W6)")                            \
	X(PROBE_UNLIMITED, 71, "probe-unlimited", "write",                     \
	  "every write's second timeout resends to every missing replica, "   \
	  "not one probe per replica per RTO (write.c W7)")                   \
	X(PROBE_NO_EVIDENCE, 72, "probe-no-evidence", "write",                 \
	  "a replica's answer to a probe is not evidence for the writes "     \
	  "sent before it: what it lost while cut off comes back one write "  \
	  "per RTO (write.c W7)")

enum qr_bug {
#define QR_BUG_ENUM_(name, bit, cli, area, what) QR_BUG_BIT_##name = bit,
	QR_BUG_LIST(QR_BUG_ENUM_)
#undef QR_BUG_ENUM_
};
/* Bits 0..127: two words (the 64 of the first filled up with issue 14). */
#define QR_BUG_WORDS 2
#define QR_BUG_WORD_OF(bit) ((bit) >> 6)
#define QR_BUG_MASK_OF(bit) (1ull << ((bit) & 63))

#ifdef QR_BUG_INJECTION
/* set by the simulator from --inject-bug, by unit tests with qr_bug_set */
extern uint64_t qr_bugs[QR_BUG_WORDS];
#define QR_BUG(name)                                                           \
	(qr_unlikely(qr_bugs[QR_BUG_WORD_OF(QR_BUG_BIT_##name)] &              \
		     QR_BUG_MASK_OF(QR_BUG_BIT_##name)))
/* Only bug `bit` on (the unit tests' should_fail variants). */
static inline void qr_bug_only(unsigned bit)
{
	for (unsigned w = 0; w < QR_BUG_WORDS; w++)
		qr_bugs[w] = 0;
	qr_bugs[QR_BUG_WORD_OF(bit)] = QR_BUG_MASK_OF(bit);
}
#else
#define QR_BUG(name) 0
#endif

#endif
