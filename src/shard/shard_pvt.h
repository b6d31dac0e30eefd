/* SPDX-License-Identifier: MIT */
/*
 * The shard loop's state, shared by its files: shard.c (rx, tx, the core's
 * environment, the loop, lifecycle) and shard_idle.c (what the loop does
 * when it has nothing to do). Invariants are shard.c's: one struct per
 * lcore, touched by no other lcore except through the rte_rings and the
 * lock-free stats and request words noted below.
 */
#ifndef QR_SHARD_SHARD_PVT_H
#define QR_SHARD_SHARD_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>

#include "net/arp.h"
#include "net/packet.h"
#include "shard/doorbell.h"
#include "shard/idle_spin.h"
#include "shard/ports.h"
#include "shard/shard.h"

#define BURST		      32
#define SNAPSHOT_STEP_ENTRIES 512
#define ARP_ENTRIES	      256
#define ARP_AGE_US	      (300ull * 1000 * 1000)

struct qr_shard {
	struct qr_shard_config cfg;
	struct qr_core *core;
	struct qr_wal *wal;
	struct qr_wal_snapshot_source snap_src;	 /* store + hints */
	struct qr_wal_snapshot_source store_src; /* the store's entries */
	uint64_t snap_last_lsn; /* appended lsn when the last one began */
	struct qr_arp_table arp;
	struct qr_arp_entry arp_slots[ARP_ENTRIES];
	uint32_t rx_ip;		      /* the frame in qr_core_on_frame: */
	uint8_t rx_mac[6];	      /* its source (env_authentic) */
	struct qr_pkt_endpoint self; /* our MAC, IP, base_port + shard */
	uint64_t now_us;	     /* this iteration's clocks */
	uint64_t wall_ms;	     /* valid if wall_read */
	bool wall_read;		     /* wall_ms read in this iteration */
	uint64_t last_work_us;	     /* the TSC at the end of the last busy
				      * iteration (idle_spin.h S2) */
	uint64_t tsc_per_us; /* rte_get_tsc_hz() / 1e6, once at create */
	uint64_t next_tick_us;
	uint16_t ip_id;
	struct qr_ports ports; /* the client port and direct links */
	bool work;	      /* something happened this iteration */
	uint32_t ae_requests; /* bumped by qr_shard_ae_request (any thread) */
	uint32_t ae_seen;     /* the loop's copy: a difference is a request */
	/* qr_shard_topo_request: the latest request (any thread stores it),
	 * the one installed and its result (the loop stores rc, then done) */
	const struct qr_shard_topo *topo_req, *topo_done;
	int topo_rc;
	/* T7 news for the management thread: owners stored, then epoch
	 * (release); read epoch, owners, epoch again (qr_shard_topo_news) */
	uint64_t news_epoch, news_owners;
	struct qr_wal_recover_stats rec;
	struct qr_shard_stats stats;
	struct qr_idle_wait *iw; /* idle = interrupt where it works */
	struct qr_idle_spin spin; /* the spin after work (idle_spin.h) */
	bool idled; /* an idle iteration since the last work (S2) */
	/* Doorbells (doorbell.h): ours, where we block on one; the ringer
	 * socket (the targets are the ports', ports.h). */
	struct qr_bell bell;
	int bell_fd;
	bool steered; /* this iteration: frames went to other shards */
	int wal_health; /* qr_wal_health at the last iteration: a change is
			 * logged once and handed to the core */
};

/* The TSC in microseconds (the loop's clock, read_clocks). */
static inline uint64_t qr_shard_tsc_us(const struct qr_shard *s)
{
	return rte_get_tsc_cycles() / s->tsc_per_us;
}

/* shard_idle.c */
/* idle = interrupt: set up blocking if this shard can (logged). */
void qr_shard_idle_setup(struct qr_shard *s);
/* After every iteration: adapt the spin, or spin, nap or block. */
void qr_shard_loop_idle(struct qr_shard *s, uint32_t *idle);
/* The ringer socket and the ports' bell targets (none without a board). */
int qr_shard_bells_init(struct qr_shard *s, char *err, size_t err_len);

#endif /* QR_SHARD_SHARD_PVT_H */
