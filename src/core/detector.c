/* SPDX-License-Identifier: MIT */
/*
 * Heartbeat failure detector: a peer's state is a function of how long ago we
 * last heard from it (any message counts), evaluated on tick():
 *
 *   elapsed <  suspect_after_us                  UP
 *   suspect_after_us <= elapsed < down_after_us  SUSPECT
 *   down_after_us <= elapsed                     DOWN   (wins if the two
 *                                                        thresholds cross)
 *   heard()                                      UP at once, from any state
 *
 * With fixed timeouts it is an unreliable detector in the sense of Chandra &
 * Toueg, "Unreliable Failure Detectors for Reliable Distributed Systems"
 * (JACM 1996): it may suspect a live peer (a slow network) and it trusts the
 * peer again as soon as it is heard from. Nothing here decides safety; the
 * coordinator uses it only to pick replicas and to fail fast.
 *
 * Invariants: self is always UP and never transitions; `transitions` counts
 * every state change; times are monotonic microseconds, and a now_us older
 * than last_heard_us reads as "just heard" rather than wrapping to DOWN.
 */
#include "core/detector.h"

#include "common/compiler.h"

void qr_detector_init(struct qr_detector *d, uint16_t nodes, uint16_t self,
		      uint64_t suspect_after_us, uint64_t down_after_us,
		      uint64_t now_us)
{
	QR_ASSERT(nodes >= 1 && nodes <= QR_NODES_MAX);
	QR_ASSERT(self < nodes);
	*d = (struct qr_detector){
		.nodes = nodes,
		.self = self,
		.suspect_after_us = suspect_after_us,
		.down_after_us = down_after_us,
	};
	for (uint16_t i = 0; i < nodes; i++) {
		d->peers[i].last_heard_us = now_us;
		d->peers[i].state = QR_PEER_UP;
	}
}

static inline void set_state(struct qr_peer_health *ph, enum qr_peer_state s)
{
	if (ph->state != s) {
		ph->state = (uint8_t)s;
		ph->transitions++;
	}
}

void qr_detector_heard(struct qr_detector *d, uint16_t peer, uint64_t now_us)
{
	QR_ASSERT(peer < d->nodes);

	struct qr_peer_health *ph = &d->peers[peer];

	/* Events of one batch may carry slightly older times than a tick run
	 * in between: never move last_heard backwards. */
	if (now_us > ph->last_heard_us)
		ph->last_heard_us = now_us;
	set_state(ph, QR_PEER_UP);
}

void qr_detector_tick(struct qr_detector *d, uint64_t now_us)
{
	for (uint16_t i = 0; i < d->nodes; i++) {
		struct qr_peer_health *ph = &d->peers[i];
		uint64_t elapsed;
		enum qr_peer_state s;

		if (i == d->self)
			continue;
		elapsed = now_us > ph->last_heard_us
				  ? now_us - ph->last_heard_us
				  : 0;
		if (elapsed >= d->down_after_us)
			s = QR_PEER_DOWN;
		else if (elapsed >= d->suspect_after_us)
			s = QR_PEER_SUSPECT;
		else
			s = QR_PEER_UP;
		set_state(ph, s);
	}
}

const char *qr_peer_state_name(enum qr_peer_state s)
{
	switch (s) {
	case QR_PEER_UP:
		return "UP";
	case QR_PEER_SUSPECT:
		return "SUSPECT";
	case QR_PEER_DOWN:
		return "DOWN";
	}
	return "UNKNOWN";
}
