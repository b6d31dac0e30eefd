/* SPDX-License-Identifier: MIT */
/*
 * Neighbour (ARP) table of one shard: IPv4 address -> MAC, fixed size, no
 * allocation after qr_arp_init() (the caller owns the slot array: static,
 * or rte_zmalloc_socket() on the shard's NUMA node; it must outlive the
 * table). Not thread-safe: one table per shard core.
 *
 * Entries:
 * - static: from the cluster config; never expire, never evicted, never
 *   overwritten by learning.
 * - dynamic: learned from received frames (the source of an authenticated
 *   UDP frame: proven; an ARP sender we asked about: unproven); valid
 *   for age_us after the last qr_arp_learn() of that IP, then looked up as
 *   QR_ENOTFOUND (the slot stays until it is reused).
 * - pending: an IP the shard asked about (qr_arp_need_request()) with no
 *   answer yet; holds the time of the last request for the rate limit.
 *
 * Layout: open addressing with linear probing in a window of
 * QR_ARP_PROBE_MAX slots from the IP's hash, so every operation touches at
 * most that many slots (a bounded loop). Slots are never emptied again, so an
 * IP, if present, is in its window before the first empty slot. When a
 * window holds no empty slot a new IP replaces the least recently used
 * non-static entry in it (LRU by last learn or request); if all are static,
 * QR_EFULL.
 *
 * Times are caller-supplied microseconds (a monotonic clock); a time earlier
 * than an entry's counts as age 0.
 */
#ifndef QR_NET_ARP_H
#define QR_NET_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "net/packet.h"

#define QR_ARP_SLOTS_DEFAULT  256
#define QR_ARP_PROBE_MAX      16	   /* slots one lookup may touch */
#define QR_ARP_AGE_US_DEFAULT 300000000ull /* 5 min, like Linux gc */
/* At most one ARP request per IP per 100 ms. */
#define QR_ARP_REQUEST_GAP_US_DEFAULT 100000ull

enum qr_arp_state {
	QR_ARP_EMPTY = 0,
	QR_ARP_PENDING,
	QR_ARP_DYNAMIC,
	QR_ARP_STATIC,
};

struct qr_arp_entry {
	uint32_t ip; /* network order */
	uint8_t mac[QR_ETH_ADDR_BYTES];
	uint8_t state;	   /* enum qr_arp_state */
	bool asked;	   /* asked_us is set */
	bool proven;	   /* learned from an authenticated frame */
	uint64_t seen_us;  /* last learn (DYNAMIC) */
	uint64_t asked_us; /* last request allowed by need_request */
};

struct qr_arp_stats {
	uint64_t learned;  /* new IPs learned (not refreshes) */
	uint64_t changed;  /* a dynamic entry's MAC changed */
	uint64_t evicted;  /* entries replaced to make room */
	uint64_t full;	   /* QR_EFULL returns */
	uint64_t requests; /* need_request() returned true */
	uint64_t refused;  /* learn_unproven() calls refused */
};

struct qr_arp_table {
	struct qr_arp_entry *slots; /* caller's array of `mask + 1` entries */
	uint32_t mask;		    /* slots - 1 (a power of two) */
	uint64_t age_us;	    /* dynamic entries expire after this */
	uint64_t request_gap_us;    /* min time between requests for an IP */
	struct qr_arp_stats stats;
};

/*
 * Set up t over `slots` (n_slots a power of two, >= QR_ARP_PROBE_MAX; the
 * array is zeroed here). age_us > 0. Returns 0 or QR_EINVAL.
 */
int qr_arp_init(struct qr_arp_table *t, struct qr_arp_entry *slots,
		uint32_t n_slots, uint64_t age_us, uint64_t request_gap_us);

/*
 * Learn ip -> mac at now_us from an authenticated frame (the shard calls it
 * from the core's env->authentic hook): a new entry or a refresh, the MAC
 * may change, and the entry is proven (learn_unproven cannot move it).
 * 0; QR_EINVAL if ip is not unicast (qr_ipv4_is_unicast()) or mac is a
 * group or all-zero address; QR_EFULL if the window is all static. A static
 * entry for ip is left as it is (0 returned). Cost: one hash and a probe of
 * usually one slot: fine for every received frame.
 */
int qr_arp_learn(struct qr_arp_table *t, uint32_t ip,
		 const uint8_t mac[QR_ETH_ADDR_BYTES], uint64_t now_us);

/*
 * Learn from an unauthenticated source (an ARP packet: anyone on the link
 * can send one). Issue 12 item 4: accepted only as the answer to our own
 * request (ip PENDING) or to refresh an entry no authenticated frame has
 * proven (or one that expired); never for an IP we did not ask about (no
 * slot is taken, nothing evicted), never over a static or proven entry.
 * 0, QR_EINVAL (as learn), or QR_EPRECONDITION (refused: stats.refused).
 */
int qr_arp_learn_unproven(struct qr_arp_table *t, uint32_t ip,
			  const uint8_t mac[QR_ETH_ADDR_BYTES],
			  uint64_t now_us);

/* Add or replace a static entry. 0, QR_EINVAL (as learn) or QR_EFULL. */
int qr_arp_add_static(struct qr_arp_table *t, uint32_t ip,
		      const uint8_t mac[QR_ETH_ADDR_BYTES]);

/*
 * Copy ip's MAC into mac_out: 0 for a static entry or a dynamic one learned
 * less than age_us before now_us, else QR_ENOTFOUND (mac_out untouched).
 */
int qr_arp_lookup(const struct qr_arp_table *t, uint32_t ip,
		  uint8_t mac_out[QR_ETH_ADDR_BYTES], uint64_t now_us);

/*
 * Should the caller send an ARP request for ip now? True (and the time is
 * recorded) if ip has no valid entry and no request was allowed for it in
 * the last request_gap_us; false otherwise, also when ip is not unicast or
 * the table cannot track it (window all static: counted in stats.full).
 * Call it whenever qr_arp_lookup() says QR_ENOTFOUND: it does the flood
 * control.
 */
bool qr_arp_need_request(struct qr_arp_table *t, uint32_t ip, uint64_t now_us);

#endif
