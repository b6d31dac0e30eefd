/* SPDX-License-Identifier: MIT */
/*
 * Heartbeat failure detector: per peer UP -> SUSPECT -> DOWN by the time since
 * we last heard anything from it; any message counts as a heartbeat. Peers
 * start UP (optimistic) so a fresh node sends requests at once.
 */
#ifndef QR_CORE_DETECTOR_H
#define QR_CORE_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/placement.h"

enum qr_peer_state {
	QR_PEER_UP = 0,
	QR_PEER_SUSPECT = 1,
	QR_PEER_DOWN = 2,
};

struct qr_peer_health {
	uint64_t last_heard_us; /* monotonic time of the last message */
	uint8_t state;          /* enum qr_peer_state */
	uint32_t transitions;   /* state changes, for stats */
	bool writes_refused;    /* its last HEARTBEAT said its WAL refuses
				 * writes (QR_MSGF_NO_WRITES): UP for reads,
				 * not for W (docs/operations.md, "A full
				 * disk") */
};

struct qr_detector {
	uint16_t nodes;
	uint16_t self;
	uint64_t suspect_after_us;
	uint64_t down_after_us;
	struct qr_peer_health peers[QR_NODES_MAX];
};

void qr_detector_init(struct qr_detector *d, uint16_t nodes, uint16_t self,
		      uint64_t suspect_after_us, uint64_t down_after_us,
		      uint64_t now_us);
/* Anything from peer: it is UP now. */
void qr_detector_heard(struct qr_detector *d, uint16_t peer, uint64_t now_us);
/* Re-evaluate every peer's state. */
void qr_detector_tick(struct qr_detector *d, uint64_t now_us);
const char *qr_peer_state_name(enum qr_peer_state s);
/* A peer's HEARTBEAT said whether it takes writes. */
static inline void qr_detector_writes(struct qr_detector *d, uint16_t peer,
				      bool refused)
{
	d->peers[peer].writes_refused = refused;
}

static inline enum qr_peer_state qr_detector_state(const struct qr_detector *d,
						   uint16_t peer)
{
	return (enum qr_peer_state)d->peers[peer].state;
}

#endif
