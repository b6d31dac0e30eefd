/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of a membership change (issue 14; docs/topology.md,
 * "Driving a change"): the node's installed topology (epoch, owners,
 * pending, streaming), kept in <data_dir>/topology (common/topo_file.h),
 * installed on every shard core at start and changed at run time by the
 * management commands
 *
 *   topology                       -> the topology, per-shard epochs and
 *                                     partitions left to stream (JSON)
 *   topology set EPOCH OWNERS PENDING   (hex masks; PENDING 0: none)
 *   topology stream                -> step 2: every shard streams
 *
 * which `quorate node add|remove|replace` sends to every node in turn.
 *
 * Invariants:
 *  C1. A topology is persisted (F2) before any shard is handed it, so a
 *      restart never runs an older one than a shard ran.
 *  C2. Epochs only grow: `set` with an epoch at or below the node's is
 *      refused STALE, unless it is the very topology installed (then it
 *      is answered OK again: the CLI may resend a step).
 *  C3. A topology is checked whole (F3, and the core's T5: at most
 *      QR_RF_MAX + 1 replicas in a partition's union) before it is saved,
 *      so a shard refuses none that the file holds.
 *  C4. Every placement and request handed to a shard lives until
 *      qr_topo_ctl_close() (after the shards are destroyed): no shard
 *      ever reads freed memory; a change's three steps cost five
 *      replica tables (partitions x RF bytes each).
 *  C5. Only the management thread calls in after qr_topo_ctl_open(); the
 *      shards see requests through qr_shard_topo_request() alone.
 *  C6. The node is an acceptor of the membership register (core/mreg.h,
 *      R1-R4), its state in <data_dir>/register, saved (F2) before every
 *      answer that changed it; absent on a new node (no topology file
 *      either), it starts at ballot 0.0 with the installed topology.
 *      `topology set` installs only the value its acceptor holds (the CLI
 *      gives it only chosen ones: node_reg.h G3).
 *  C7. An acceptor that lost its state (started with --rebuild and no
 *      register file) promises and accepts nothing (mreg.h R5): it could
 *      grant a ballot below one it promised before. It takes part again
 *      from a `register learn` of a chosen value, which the CLI sends
 *      once a majority of the others chose it (`quorate node sync`).
 *  C8. Every register command names the slot count of its cluster file;
 *      another count than this node's is refused CONFIG (two majorities
 *      of different slot sets need not meet). Ballot id 0 is refused (R4).
 *  C9. A settled topology a peer sent (core/topology.c T7) is installed
 *      without the register, once every shard's core has it and no
 *      request in flight (qr_topo_ctl_news); the acceptor is untouched
 *      (a lost one still waits for its learn, C7).
 *
 *   register                       -> the acceptor (JSON)
 *   register prepare ROUND.ID SLOTS -> promise, or STALE with the promise
 *   register accept ROUND.ID EPOCH OWNERS PENDING SLOTS
 *   register learn ROUND.ID EPOCH OWNERS PENDING SLOTS   (G3, C7)
 */
#ifndef QR_SERVER_TOPO_CTL_H
#define QR_SERVER_TOPO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cluster.h"
#include "shard/shard.h"

struct qr_topo_ctl;

/* Load <data_dir>/topology (absent: the cluster file's members at epoch 1,
 * saved) and <data_dir>/register (C6, C7: rebuild, the node lost its
 * data), check them, build the topology's placements. 0, or QR_ECORRUPT / QR_EINVAL /
 * QR_EIO / QR_ENOMEM with a message naming the file in err. */
int qr_topo_ctl_open(const struct qr_cluster *cl, const char *data_dir,
		     bool rebuild, struct qr_topo_ctl **out, char *err,
		     size_t err_len);
/* What every shard installs at creation (shard.h, cfg->topo), and the
 * placement its core is configured with (the owners of that topology). */
const struct qr_shard_topo *qr_topo_ctl_initial(const struct qr_topo_ctl *t);
/* Once the shards exist: this node's id and the shards the commands
 * drive. */
void qr_topo_ctl_attach(struct qr_topo_ctl *t, uint16_t node,
			struct qr_shard **shards, uint16_t nshards);
/* One "topology ..." command line (args: what follows "topology", "" for
 * none): the JSON answer into out, its length (0: did not fit). */
size_t qr_topo_ctl_command(struct qr_topo_ctl *t, const char *args,
			   char *out, size_t cap);
/* One "register ..." command line (args: what follows "register", "" for
 * none), answered as qr_topo_ctl_command is (C6). */
size_t qr_topo_ctl_register(struct qr_topo_ctl *t, const char *args,
			    char *out, size_t cap);
/* C9 (core/topology.c T7): once every shard's core has news of a settled
 * topology above the installed one (a peer ahead sent it; each core
 * publishes it only with no request of its own in flight), install the
 * oldest of those as `quorate node sync` would: saved (C1), handed to
 * every shard. Not through the register (C6): news comes only in peer
 * frames authenticated by the cluster key (auth = mac), and every node
 * installs only chosen values, so news is one. The management thread
 * calls it between commands. */
void qr_topo_ctl_news(struct qr_topo_ctl *t);
/* After the shards are destroyed: free every placement (C4). */
void qr_topo_ctl_close(struct qr_topo_ctl *t);

#endif
