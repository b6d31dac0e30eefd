/* SPDX-License-Identifier: MIT */
/*
 * Cluster membership as a value (issue 14, docs/topology.md): an epoch and
 * its members, each with a stable node id, an address, a zone and a state.
 * The cluster decides the next value (a CASPaxos register, docs/topology.md
 * says how); this module is the value, its wire form and the rules of a
 * change, with no I/O, so the daemon, the client and the simulator share
 * one definition.
 *
 * Invariants:
 *  M1. Epochs only grow: every change gives epoch + 1; a member's id never
 *      changes and is never reused by another node in a later epoch while
 *      the old one may still hold data (a replacement keeps the dead
 *      node's id on purpose: it takes over its role).
 *  M2. States: JOINING (gets every request of the partitions it will
 *      own and streams the old data; a request of the change needs one
 *      answer more for it, topology.c T1, so it never counts in place of
 *      an old owner), ACTIVE, LEAVING (still a replica of the partitions
 *      it owned until its data is streamed to the new owners), and
 *      REPLACING (a new, empty node in a dead node's id
 *      and role: in both placements, so no other data moves, but counted
 *      for no quorum until it is filled). A change moves one member one
 *      step: add -> JOINING, JOINING or REPLACING -> ACTIVE (finish),
 *      ACTIVE -> LEAVING (remove), LEAVING -> gone (finish), ACTIVE ->
 *      REPLACING at a new address (replace).
 *  M3. At least RF members are ACTIVE or LEAVING in every epoch (the old
 *      placement always has its replicas), and at least RF will be once
 *      every pending change finishes (the new placement too).
 *  M4. The encoding is canonical and checked: decode accepts exactly what
 *      encode writes (magic, version, lengths, a CRC32C over all), and any
 *      other input is a named error with the output untouched.
 *  M5. Placements: the "old" one ranks ACTIVE, LEAVING and REPLACING
 *      members, the "new" one ACTIVE, JOINING and REPLACING members, both
 *      by zone-aware rendezvous hashing over node ids (placement.h). A
 *      change runs in the core as owners = old, pending = new
 *      (core.h qr_core_set_topology; topology.c T1: requests go to the
 *      union and meet their level in both).
 */
#ifndef QR_CORE_MEMBERSHIP_H
#define QR_CORE_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include "core/placement.h"
#include "quorate/limits.h"

#define QR_ZONES_MAX	     8	/* distinct zones in a membership */
#define QR_ZONE_NAME_MAX     15 /* bytes of a zone name (NUL not counted) */
#define QR_MEMBERSHIP_MAGIC  0x424d5251u /* "QRMB" little-endian */
#define QR_MEMBERSHIP_FORMAT 1
/* Largest encoding: it fits a value, so a CASPaxos register can hold it. */
#define QR_MEMBERSHIP_BYTES_MAX                                                \
	(24 + QR_ZONES_MAX * (QR_ZONE_NAME_MAX + 1) + QR_NODES_MAX * 12 + 4)

enum qr_member_state {
	QR_MEMBER_ACTIVE = 1,
	QR_MEMBER_JOINING = 2,
	QR_MEMBER_LEAVING = 3,
	QR_MEMBER_REPLACING = 4,
};

struct qr_member {
	uint16_t id;   /* < QR_NODES_MAX */
	uint8_t state; /* enum qr_member_state */
	uint8_t zone;  /* index into zone_name */
	uint32_t ip;   /* IPv4, network byte order */
	uint16_t port; /* base UDP port */
};

struct qr_membership {
	uint64_t epoch;
	uint16_t rf;
	uint8_t zones;
	uint8_t n; /* members, sorted by id */
	char zone_name[QR_ZONES_MAX][QR_ZONE_NAME_MAX + 1];
	struct qr_member m[QR_NODES_MAX];
};

/* The rules M1..M3 hold: 0, or QR_EINVAL. */
int qr_membership_check(const struct qr_membership *ms);

/* M4. encode: bytes written to *len, or QR_EFULL (cap too small) /
 * QR_EINVAL (ms breaks M1..M3). decode: 0, or QR_EMALFORMED (layout,
 * lengths, field ranges), QR_ECORRUPT (CRC), QR_EINVAL (rules); *out is
 * untouched on error. */
int qr_membership_encode(const struct qr_membership *ms, uint8_t *buf,
			 size_t cap, size_t *len);
int qr_membership_decode(const uint8_t *buf, size_t len,
			 struct qr_membership *out);

/* Changes (M2): each writes the next epoch's value into *next (which may
 * alias cur) and returns 0, or QR_EINVAL (no such member, wrong state,
 * the id is taken, M3 would break, too many zones) with *next untouched. */
int qr_membership_add(const struct qr_membership *cur, uint16_t id,
		      uint32_t ip, uint16_t port, const char *zone,
		      struct qr_membership *next);
int qr_membership_remove(const struct qr_membership *cur, uint16_t id,
			 struct qr_membership *next);
int qr_membership_replace(const struct qr_membership *cur, uint16_t id,
			  uint32_t ip, uint16_t port,
			  struct qr_membership *next);
int qr_membership_finish(const struct qr_membership *cur, uint16_t id,
			 struct qr_membership *next);

/* M5: the placement of the old owners (ACTIVE, LEAVING, REPLACING) or of
 * the new ones (ACTIVE, JOINING, REPLACING). 0 or placement's errors. */
int qr_membership_placement(const struct qr_membership *ms, int new_owners,
			    uint32_t partitions, uint16_t shards,
			    struct qr_placement *out);

#endif
