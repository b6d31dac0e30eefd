/* SPDX-License-Identifier: MIT */
/*
 * Neighbour table (see arp.h for the entry kinds and the probing rule).
 *
 * Invariants:
 * - Each IP is in at most one slot, inside the QR_ARP_PROBE_MAX-slot window
 *   that starts at its hash, and before the first EMPTY slot of that window.
 *   Holds because slots never go back to EMPTY and a new IP is only put in
 *   the first EMPTY slot or over a non-static entry of its window, after the
 *   whole window up to that point was searched for it.
 * - Static entries are only created and changed by qr_arp_add_static().
 * - An EMPTY slot is all zeroes.
 */
#include "net/arp.h"

#include <string.h>

#include "common/compiler.h"
#include "quorate/err.h"

#define NO_SLOT UINT32_MAX

_Static_assert(QR_IS_POW2(QR_ARP_SLOTS_DEFAULT), "slots: a power of two");
_Static_assert(QR_ARP_SLOTS_DEFAULT >= QR_ARP_PROBE_MAX, "window fits");

static uint32_t hash_ip(uint32_t ip)
{
	/* murmur3's fmix32: every input bit moves the low bits we keep (in a
	 * cluster, IPs differ mostly in their last byte). */
	ip ^= ip >> 16;
	ip *= 0x85ebca6bu;
	ip ^= ip >> 13;
	ip *= 0xc2b2ae35u;
	ip ^= ip >> 16;
	return ip;
}

static uint64_t age(uint64_t now_us, uint64_t then_us)
{
	return now_us > then_us ? now_us - then_us : 0;
}

static uint64_t last_use(const struct qr_arp_entry *e)
{
	uint64_t t = e->state == QR_ARP_DYNAMIC ? e->seen_us : 0;

	return e->asked && e->asked_us > t ? e->asked_us : t;
}

/*
 * Search ip's window. Returns its slot index, or NO_SLOT with *place set to
 * where a new entry for ip goes: the first EMPTY slot, else the least
 * recently used non-static slot, else NO_SLOT (all static).
 */
static uint32_t probe(const struct qr_arp_table *t, uint32_t ip,
		      uint32_t *place)
{
	uint32_t h = hash_ip(ip), victim = NO_SLOT;

	for (uint32_t i = 0; i < QR_ARP_PROBE_MAX; i++) {
		uint32_t k = (h + i) & t->mask;
		const struct qr_arp_entry *e = &t->slots[k];

		if (e->state == QR_ARP_EMPTY) {
			*place = k;
			return NO_SLOT;
		}
		if (e->ip == ip)
			return k;
		if (e->state != QR_ARP_STATIC &&
		    (victim == NO_SLOT ||
		     last_use(e) < last_use(&t->slots[victim])))
			victim = k;
	}
	*place = victim;
	return NO_SLOT;
}

static bool mac_ok(const uint8_t mac[QR_ETH_ADDR_BYTES])
{
	static const uint8_t zero[QR_ETH_ADDR_BYTES];

	return !qr_eth_is_group(mac) &&
	       memcmp(mac, zero, QR_ETH_ADDR_BYTES) != 0;
}

int qr_arp_init(struct qr_arp_table *t, struct qr_arp_entry *slots,
		uint32_t n_slots, uint64_t age_us, uint64_t request_gap_us)
{
	if (!slots || !QR_IS_POW2(n_slots) || n_slots < QR_ARP_PROBE_MAX ||
	    age_us == 0)
		return QR_EINVAL;
	memset(t, 0, sizeof(*t));
	memset(slots, 0, sizeof(*slots) * n_slots);
	t->slots = slots;
	t->mask = n_slots - 1;
	t->age_us = age_us;
	t->request_gap_us = request_gap_us;
	return 0;
}

/* Take slot k (EMPTY or a victim) for a new ip. */
static struct qr_arp_entry *claim(struct qr_arp_table *t, uint32_t k,
				  uint32_t ip)
{
	struct qr_arp_entry *e = &t->slots[k];

	QR_ASSERT(e->state != QR_ARP_STATIC);
	if (e->state != QR_ARP_EMPTY)
		t->stats.evicted++;
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	return e;
}

int qr_arp_learn(struct qr_arp_table *t, uint32_t ip,
		 const uint8_t mac[QR_ETH_ADDR_BYTES], uint64_t now_us)
{
	uint32_t place = NO_SLOT;

	if (!qr_ipv4_is_unicast(ip) || !mac_ok(mac))
		return QR_EINVAL;
	uint32_t k = probe(t, ip, &place);
	struct qr_arp_entry *e;
	if (k != NO_SLOT) {
		e = &t->slots[k];
		if (e->state == QR_ARP_STATIC)
			return 0; /* config wins over the network */
		if (e->state == QR_ARP_DYNAMIC) {
			if (memcmp(e->mac, mac, QR_ETH_ADDR_BYTES) != 0)
				t->stats.changed++;
		} else {
			t->stats.learned++; /* a pending request answered */
		}
	} else if (place == NO_SLOT) {
		t->stats.full++;
		return QR_EFULL;
	} else {
		e = claim(t, place, ip);
		t->stats.learned++;
	}
	memcpy(e->mac, mac, QR_ETH_ADDR_BYTES);
	e->state = QR_ARP_DYNAMIC;
	e->seen_us = now_us;
	e->proven = true;
	return 0;
}

int qr_arp_learn_unproven(struct qr_arp_table *t, uint32_t ip,
			  const uint8_t mac[QR_ETH_ADDR_BYTES],
			  uint64_t now_us)
{
	uint32_t place = NO_SLOT;

	if (!qr_ipv4_is_unicast(ip) || !mac_ok(mac))
		return QR_EINVAL;
	uint32_t k = probe(t, ip, &place);
	struct qr_arp_entry *e = k == NO_SLOT ? NULL : &t->slots[k];
	bool expired = e && e->state == QR_ARP_DYNAMIC &&
		       now_us > e->seen_us && now_us - e->seen_us >= t->age_us;
	if (!e || e->state == QR_ARP_STATIC || e->state == QR_ARP_EMPTY ||
	    (e->state == QR_ARP_DYNAMIC && e->proven && !expired)) {
		t->stats.refused++;
		return QR_EPRECONDITION;
	}
	if (e->state == QR_ARP_PENDING)
		t->stats.learned++; /* our request answered */
	else if (memcmp(e->mac, mac, QR_ETH_ADDR_BYTES) != 0)
		t->stats.changed++;
	memcpy(e->mac, mac, QR_ETH_ADDR_BYTES);
	e->state = QR_ARP_DYNAMIC;
	e->seen_us = now_us;
	e->proven = false;
	return 0;
}

int qr_arp_add_static(struct qr_arp_table *t, uint32_t ip,
		      const uint8_t mac[QR_ETH_ADDR_BYTES])
{
	uint32_t place = NO_SLOT;

	if (!qr_ipv4_is_unicast(ip) || !mac_ok(mac))
		return QR_EINVAL;
	uint32_t k = probe(t, ip, &place);
	struct qr_arp_entry *e;
	if (k != NO_SLOT) {
		e = &t->slots[k];
	} else if (place == NO_SLOT) {
		t->stats.full++;
		return QR_EFULL;
	} else {
		e = claim(t, place, ip);
	}
	memcpy(e->mac, mac, QR_ETH_ADDR_BYTES);
	e->state = QR_ARP_STATIC;
	e->asked = false;
	return 0;
}

static bool valid(const struct qr_arp_table *t, const struct qr_arp_entry *e,
		  uint64_t now_us)
{
	return e->state == QR_ARP_STATIC ||
	       (e->state == QR_ARP_DYNAMIC &&
		age(now_us, e->seen_us) < t->age_us);
}

int qr_arp_lookup(const struct qr_arp_table *t, uint32_t ip,
		  uint8_t mac_out[QR_ETH_ADDR_BYTES], uint64_t now_us)
{
	uint32_t place = NO_SLOT;
	uint32_t k = probe(t, ip, &place);

	if (k == NO_SLOT || !valid(t, &t->slots[k], now_us))
		return QR_ENOTFOUND;
	memcpy(mac_out, t->slots[k].mac, QR_ETH_ADDR_BYTES);
	return 0;
}

bool qr_arp_need_request(struct qr_arp_table *t, uint32_t ip, uint64_t now_us)
{
	uint32_t place = NO_SLOT;

	if (!qr_ipv4_is_unicast(ip))
		return false;
	uint32_t k = probe(t, ip, &place);
	struct qr_arp_entry *e;
	if (k != NO_SLOT) {
		e = &t->slots[k];
		if (valid(t, e, now_us))
			return false;
		if (e->asked && age(now_us, e->asked_us) < t->request_gap_us)
			return false;
	} else if (place == NO_SLOT) {
		t->stats.full++;
		return false;
	} else {
		e = claim(t, place, ip);
		e->state = QR_ARP_PENDING;
	}
	e->asked = true;
	e->asked_us = now_us;
	t->stats.requests++;
	return true;
}
