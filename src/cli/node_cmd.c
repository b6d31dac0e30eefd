/* SPDX-License-Identifier: MIT */
/*
 * `quorate node add SLOT... | remove ID... | replace DEAD SLOT | sync |
 * abort | plan [add|remove|replace ...|clear] | commit`: a
 * membership change (several members at once: one change)
 * driven from the CLI over every node's management socket (issue 14;
 * docs/topology.md, "Driving a change"; the node side is
 * src/server/topo_ctl.h). The nodes of the cluster file are slots; the
 * members are what the nodes' installed topologies say. A SLOT is named
 * by its id or by its data-plane address (the `ip` of its [node.N]);
 * `--zone Z` checks that every slot added is in zone Z, or, with no SLOT
 * given, picks the lowest running slot of zone Z that is not a member.
 * `node plan add|remove|replace` stages the same changes in a plan file
 * (node_plan.h) instead of running them, `node commit` runs the plan's
 * members as one change (its base checked against the register: PL1).
 *
 *   survey  ask every slot's `topology` (who runs, at which epoch)
 *   read    the membership register's value, made chosen (node_reg.h):
 *           it is the cluster's state
 *   catch up  a running node below it (it missed a step 3, or lost its
 *           data directory) is given that state when no change is in
 *           progress (`node sync` does this alone)
 *   step 1  decided in the register (E -> E+1 with N pending), then
 *           `topology set E+1 O N` on every running node (O the owners,
 *           N the new members): requests go to the union of both
 *   wait    the longest request deadline (tombstone_grace_ms / 2, the
 *           core's cap; 2 s without a grace), so that no request of O
 *           alone still runs anywhere
 *   step 2  `topology stream` everywhere, then poll until no node has a
 *           partition left to fill (progress on stderr)
 *   step 3  decided in the register, then `topology set E+2 N 0`
 *           everywhere
 *
 * Invariants:
 *  N1. Every member of O or N but a replaced (dead) node must answer each
 *      step, or the command stops with the step it reached: rerunning it
 *      resumes (a node answers OK to the topology it has; epochs only
 *      grow, so a step is never applied twice).
 *  N2. A change in progress is resumed only by the command that began it
 *      (its N must equal the one the nodes hold); any other is refused.
 *  N3. Step 3 is sent only once every running node of N reports 0
 *      partitions left while it streams this change (core.h, T3).
 *  N4. Every running slot, member or not (slots not yet added, a removed
 *      node still up), must take every step, or the command stops: one
 *      left behind would coordinate with a stale placement while gainers
 *      stream. The slots are asked again before the stream and before
 *      the hand-over, and one started since is caught up (and waited
 *      out). Nodes holding different topologies at one epoch (two
 *      commands raced) stop the command before anything is sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "cli/cli.h"
#include "cli/json_view.h"
#include "cli/node_plan.h"
#include "cli/node_reg.h"
#include "cli/ring.h"
#include "common/clock.h"
#include "common/compiler.h"
#include "common/cluster.h"
#include "common/topo_file.h"
#include "quorate/err.h"

#define ASK_MS		 2000 /* a node answers within its 1 s budget */
#define POLL_MS		 200
#define STREAM_WAIT_S	 300 /* default bound on the stream (--wait) */
#define DEADLINE_DEFAULT 1000 /* ms: the core's deadline_us_default */

struct view {
	bool up;
	bool lost; /* its register acceptor lost its state (topo_ctl.h C7) */
	struct qr_topo_state st;
	uint64_t left; /* partitions left to stream, all shards */
};

struct change {
	const struct qr_cluster *c;
	char what[160]; /* "node add 3", "node add 10.77.0.4 --zone dc2" */
	uint64_t from, to;
	int dead; /* replace: the dead node (skipped), else -1 */
	int rc;	  /* survey(): the exit code it reported, when -2 */
	int sent; /* step(): nodes given the step */
	struct reg_round reg; /* the register: what it chose (node_reg.h) */
	struct view v[QR_CLUSTER_NODES_MAX];
};

static int code_of(const char *name)
{
	for (int e = 0; name && e >= QR_ERR_MIN; e--)
		if (!strcmp(qr_strerror(e), name))
			return e;
	return QR_EUNAVAILABLE;
}

/* One command to node id; on OK its topology into ch->v[id]. */
static int ask(struct change *ch, int id, const char *req, char *msg,
	       size_t n)
{
	char *text = NULL;
	size_t len = 0;
	int rc = qr_cli_mgmt_ask(ch->c->node[id].mgmt, req, ASK_MS, &text,
				 &len, msg, n);
	if (rc)
		return rc;
	json_t *o = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_true(json_object_get(o, "ok"))) {
		const char *m = json_string_value(json_object_get(o, "message"));
		snprintf(msg, n, "%s", m ? m : "no message");
		rc = code_of(json_string_value(json_object_get(o, "error")));
		json_decref(o);
		return rc;
	}
	json_t *who = json_object_get(o, "node");
	if (who && json_integer_value(who) != id) {
		/* Two slots' mgmt paths naming one socket: a step would go
		 * to the wrong node (and its "0 left" be taken for this
		 * one's). */
		snprintf(msg, n, "answered as node %" JSON_INTEGER_FORMAT
			 ": check [node.%d] mgmt in the cluster file",
			 json_integer_value(who), id);
		json_decref(o);
		return QR_ECONFIG;
	}
	struct view *v = &ch->v[id];
	v->up = true;
	v->st.epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
	v->st.owners = qr_json_view_hex(o, "owners");
	v->st.pending = qr_json_view_hex(o, "pending");
	v->st.streaming = json_is_true(json_object_get(o, "streaming"));
	v->lost = json_is_true(json_object_get(o, "register_lost"));
	v->left = (uint64_t)json_integer_value(json_object_get(o, "stream_left"));
	json_decref(o);
	return 0;
}

static bool required(const struct change *ch, int id)
{
	return ((ch->from | ch->to) >> id & 1) && id != ch->dead;
}

static bool same_state(const struct qr_topo_state *a,
		       const struct qr_topo_state *b)
{
	return a->epoch == b->epoch && a->owners == b->owners &&
	       a->pending == b->pending;
}

/* Every slot's topology; the index of one with the highest epoch, or -1
 * (none answered), or -2 (two nodes hold different topologies at that
 * epoch: two commands raced; reported). Down slots get a note on
 * stderr. */
static int survey(struct change *ch)
{
	int best = -1;
	for (int id = 0; id < ch->c->nodes; id++) {
		char msg[512];
		ch->v[id] = (struct view){0};
		int rc = ask(ch, id, "topology\n", msg, sizeof(msg));
		if (rc == QR_ECONFIG) {
			ch->rc = fail(EXIT_CONFIG, rc, ch->what, "node %d: %s",
				      id, msg);
			return -2;
		}
		if (rc)
			fprintf(stderr, "quorate: node %d: not running (%s: "
				"%s): skipped\n", id, qr_strerror(rc), msg);
		else if (best < 0 || ch->v[id].st.epoch > ch->v[best].st.epoch)
			best = id;
	}
	for (int id = 0; best >= 0 && id < ch->c->nodes; id++)
		if (ch->v[id].up && ch->v[id].st.epoch == ch->v[best].st.epoch &&
		    !same_state(&ch->v[id].st, &ch->v[best].st)) {
			ch->rc = fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				      ch->what, "nodes %d and %d hold "
				      "different topologies at epoch %" PRIu64
				      " (two commands raced?): nothing sent; "
				      "see `quorate stat` of each",
				      best, id, ch->v[best].st.epoch);
			return -2;
		}
	return best;
}

/* `topology set E O P` on every running node below epoch E (N1). */
static int step(struct change *ch, uint64_t e, uint64_t owners,
		uint64_t pending)
{
	char req[128];
	snprintf(req, sizeof(req), "topology set %" PRIu64 " %" PRIx64
		 " %" PRIx64 "\n", e, owners, pending);
	for (int id = 0; id < ch->c->nodes; id++) {
		char msg[512];
		if (!ch->v[id].up || ch->v[id].st.epoch > e)
			continue; /* run() checked the change's members */
		if (ch->v[id].st.epoch == e) {
			if (ch->v[id].st.owners == owners &&
			    ch->v[id].st.pending == pending) {
				/* Has it (a peer's news, T7, may have given
				 * it), but an acceptor that lost its state
				 * still needs the chosen value (C7). */
				int rc = ch->v[id].lost
						 ? reg_learn(&ch->reg, id, msg,
							     sizeof(msg))
						 : 0;
				if (rc)
					return fail(exit_code_of(rc), rc,
						    ch->what, "node %d: register "
						    "learn: %s", id, msg);
				continue;
			}
			return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				    ch->what, "node %d holds another topology "
				    "at epoch %" PRIu64 " (two commands "
				    "raced?)", id, e);
		}
		/* Every running node, member or not, takes every step: one
		 * left behind would coordinate with the older placement
		 * while gainers stream (a write it has acknowledged after
		 * they compared would be missing from them). It is given
		 * the register's chosen value first (G3, C6). */
		QR_ASSERT(ch->reg.chosen.epoch == e &&
			  ch->reg.chosen.owners == owners &&
			  ch->reg.chosen.pending == pending);
		int rc = reg_learn(&ch->reg, id, msg, sizeof(msg));
		if (!rc)
			rc = ask(ch, id, req, msg, sizeof(msg));
		if (rc)
			return fail(exit_code_of(rc), rc, ch->what,
				    "node %d: epoch %" PRIu64 ": %s (stop it, "
				    "or rerun the command to resume)", id, e,
				    msg);
		ch->sent++;
	}
	return 0;
}

/* The members after the command (ch->to) from ch->from: add and remove
 * take one slot or several (one change: Riak's plan and commit in one
 * command), replace a dead id and a new slot; ids are slots_of()'s. 0,
 * or a refusal (reported). */
static int target(struct change *ch, const char *op, int argc,
		  const long *ids)
{
	const struct qr_cluster *c = ch->c;
	uint64_t o = ch->from, named = 0;
	const char *why = NULL;
	for (int i = 0; i < argc; i++)
		named |= 1ull << ids[i];
	if (!strcmp(op, "sync")) {
		ch->to = o; /* the catch up alone */
	} else if (!strcmp(op, "add")) {
		ch->to = o | named;
	} else if (!strcmp(op, "remove")) {
		ch->to = o & ~named;
		if (ch->to != o && __builtin_popcountll(ch->to) < c->rf)
			why = "fewer members than replication_factor would be left";
	} else {
		long a = ids[0], b = ids[1];
		ch->dead = (int)a;
		ch->to = (o & ~(1ull << a)) | 1ull << b;
		if (a == b)
			why = "DEAD_ID and NEW_ID must differ";
		else if (!(o >> a & 1) && (o >> b & 1))
			ch->to = o; /* done already */
		else if (!(o >> a & 1))
			why = "DEAD_ID is not a member";
		else if (o >> b & 1)
			why = "NEW_ID is a member already";
	}
	return why ? fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch->what, "%s",
			  why)
		   : 0;
}

/* Step 2: every running node streams; poll until none has a partition
 * left (N3) or wait_s passes. */
static int stream(struct change *ch, uint64_t e1, uint32_t wait_s)
{
	int rc = 0;
	char msg[512];
	for (int id = 0; id < ch->c->nodes; id++)
		if (ch->v[id].up &&
		    (rc = ask(ch, id, "topology stream\n", msg, sizeof(msg))) &&
		    required(ch, id))
			return fail(exit_code_of(rc), rc, ch->what,
				    "node %d: stream: %s (rerun the command "
				    "to resume)", id, msg);
	uint64_t start = qr_clock_mono_ms(), last = UINT64_MAX, said = 0;
	for (;;) {
		uint64_t left = 0;
		int nodes = 0;
		for (int id = 0; id < ch->c->nodes; id++) {
			if (!required(ch, id))
				continue;
			if ((rc = ask(ch, id, "topology\n", msg, sizeof(msg))))
				return fail(exit_code_of(rc), rc, ch->what,
					    "node %d: %s (rerun the command "
					    "to resume)", id, msg);
			/* Its "0 left" counts only while it streams this
			 * change (a restart without its data directory
			 * would say 0 too). */
			if (ch->v[id].st.epoch != e1 || !ch->v[id].st.streaming)
				return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
					    ch->what, "node %d left the stream "
					    "of epoch %" PRIu64 " (restarted?): "
					    "rerun the command to resume", id,
					    e1);
			left += ch->v[id].left;
			nodes += ch->v[id].left > 0;
		}
		uint64_t now = qr_clock_mono_ms();
		if (left != last && (now - said >= 1000 || !left)) {
			fprintf(stderr, "quorate: %s: streaming: %" PRIu64
				" partition(s) left on %d node(s), %.1f s\n",
				ch->what, left, nodes, (now - start) / 1000.0);
			last = left;
			said = now;
		}
		if (!left)
			return 0;
		if (now - start > (uint64_t)wait_s * 1000)
			return fail(EXIT_TIMEOUT, QR_ETIMEOUT, ch->what,
				    "%" PRIu64 " partition(s) still to stream "
				    "after %u s (rerun the command to resume)",
				    left, wait_s);
		usleep(POLL_MS * 1000);
	}
}

static void report(const struct change *ch, uint64_t epoch)
{
	char m[256];
	qr_cli_members_str(ch->to, m, sizeof(m));
	if (json_mode) {
		qr_json_view_emit(stdout,
				  json_pack("{sbsssIso}", "ok", 1, "op",
					    ch->what, "epoch", (json_int_t)epoch,
					    "members",
					    qr_cli_members_json(ch->to)));
		return;
	}
	printf("%s: epoch %" PRIu64 ", members %s\n", ch->what, epoch, m);
	printf("clients read members from the cluster file: set 'members = "
	       "%s' in [cluster]\n", m);
}

/* The longest a request may live on a node: the core caps a deadline at
 * tombstone_grace_ms / 2; without a grace, twice the default deadline. */
static uint64_t settle_ms(const struct qr_cluster *c)
{
	return (c->tombstone_grace_ms ? c->tombstone_grace_ms / 2
				      : 2 * DEADLINE_DEFAULT) +
	       100;
}

/* Before the stream and before the hand-over: ask every slot again, and
 * give step 1 to one that started since (it loaded an older topology from
 * its data directory); then wait out the requests it may have begun with
 * the older placement. 0 or the exit code (reported). */
static int resync(struct change *ch, uint64_t e1)
{
	int best = survey(ch);
	if (best == -2)
		return ch->rc;
	if (best < 0 || ch->v[best].st.epoch != e1)
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch->what,
			    "the nodes' topology moved past epoch %" PRIu64
			    " meanwhile (another command?)", e1);
	ch->sent = 0;
	int rc = step(ch, e1, ch->from, ch->to);
	if (!rc && ch->sent) {
		fprintf(stderr, "quorate: %s: %d node(s) caught up: waiting "
			"%" PRIu64 " ms again\n", ch->what, ch->sent,
			settle_ms(ch->c));
		usleep((useconds_t)(settle_ms(ch->c) * 1000));
	}
	return rc;
}

/* G2 for a read: the register's value as it is, unless a running node
 * has installed a newer epoch. Installed values are chosen ones, so only
 * a read that missed the newest node (after an upgrade every slot's
 * value is at ballot 0 and every slot must answer) gets here; it must
 * not be made chosen, or that node's epoch could never win again. */
static int keep(const struct qr_mreg_value *cur, struct qr_mreg_value *next,
		void *arg)
{
	const struct change *ch = arg;
	for (int id = 0; id < ch->c->nodes; id++)
		if (ch->v[id].up && ch->v[id].st.epoch > cur->epoch)
			return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				    ch->what, "node %d runs epoch %" PRIu64
				    ", above the register's %" PRIu64 ": "
				    "start every slot and rerun (docs/"
				    "topology.md, \"The register\")", id,
				    ch->v[id].st.epoch, cur->epoch);
	*next = *cur;
	return 0;
}

/* G2 for a step: from exactly `from` (the value this command read and
 * installed) to `to`; anything else means another command decided in
 * between. */
struct cas {
	struct change *ch;
	struct qr_mreg_value from, to;
};

static int cas_step(const struct qr_mreg_value *cur, struct qr_mreg_value *next,
		    void *arg)
{
	const struct cas *x = arg;
	if (qr_mreg_value_eq(cur, &x->to)) { /* chosen by our last try */
		*next = *cur;
		return 0;
	}
	if (!qr_mreg_value_eq(cur, &x->from))
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, x->ch->what,
			    "the membership register moved to epoch %" PRIu64
			    " (owners 0x%" PRIx64 ", pending 0x%" PRIx64 ") "
			    "meanwhile: another `quorate node` decided first",
			    cur->epoch, cur->owners, cur->pending);
	*next = x->to;
	return 0;
}

/* Decide the step from (e, o, p) to (e + 1, o2, p2) (G1). */
static int decide(struct change *ch, uint64_t e, uint64_t o, uint64_t p,
		  uint64_t o2, uint64_t p2)
{
	struct cas x = {ch, {e, o, p}, {e + 1, o2, p2}};
	return reg_decide(&ch->reg, cas_step, &x);
}

/* Every node of the change answers (N1), but a replaced one: 0, or the
 * exit code (reported). Checked before a change is decided too, so that
 * a command that cannot finish leaves none in the register. */
static int all_up(const struct change *ch)
{
	for (int id = 0; id < ch->c->nodes; id++)
		if (required(ch, id) && !ch->v[id].up)
			return fail(EXIT_UNAVAILABLE, QR_EUNAVAILABLE, ch->what,
				    "node %d takes part in the change and does "
				    "not answer: start it (a dead member: node "
				    "replace)", id);
	return 0;
}

/* Steps 1 to 3 from epoch e1 (a resumed change: the nodes' own). */
static int run(struct change *ch, uint64_t e1, uint32_t wait_s)
{
	char o[256], n[256];
	qr_cli_members_str(ch->from, o, sizeof(o));
	qr_cli_members_str(ch->to, n, sizeof(n));
	bool streaming = true; /* every member already streams: waited */
	int rc = all_up(ch);
	if (rc)
		return rc;
	for (int id = 0; id < ch->c->nodes; id++)
		if (required(ch, id) &&
		    (ch->v[id].st.epoch != e1 || !ch->v[id].st.streaming))
			streaming = false;
	fprintf(stderr, "quorate: %s: step 1/3: epoch %" PRIu64 ": members "
		"%s -> %s\n", ch->what, e1, o, n);
	if ((rc = step(ch, e1, ch->from, ch->to)))
		return rc;
	if (!streaming) {
		uint64_t ms = settle_ms(ch->c);
		fprintf(stderr, "quorate: %s: waiting %" PRIu64 " ms (the "
			"longest request deadline)\n", ch->what, ms);
		usleep((useconds_t)(ms * 1000));
	}
	fprintf(stderr, "quorate: %s: step 2/3: stream\n", ch->what);
	if ((rc = resync(ch, e1)) ||
	    (rc = stream(ch, e1, wait_s ? wait_s : STREAM_WAIT_S)) ||
	    (rc = resync(ch, e1)))
		return rc;
	fprintf(stderr, "quorate: %s: step 3/3: epoch %" PRIu64 ": members "
		"%s\n", ch->what, e1 + 1, n);
	if ((rc = decide(ch, e1, ch->from, ch->to, ch->to, 0)) ||
	    (rc = step(ch, e1 + 1, ch->to, 0)))
		return rc;
	report(ch, e1 + 1);
	return EXIT_OK;
}

/* `node abort`: the change in progress (E, O, N) decided back to (E + 1,
 * O, none) and installed. Safe at any point before the hand-over: every
 * request of the union met O's level (T1), and the stream only copies
 * to gainers, so O still holds everything. Needs every member of O, not
 * the new ones (one may be dead: the reason to abort). */
static int abort_change(struct change *ch, const struct qr_topo_state *cur)
{
	ch->to = cur->owners;
	if (!cur->pending) {
		fprintf(stderr, "quorate: %s: no change in progress\n",
			ch->what);
		report(ch, cur->epoch);
		return EXIT_OK;
	}
	int rc = all_up(ch);
	if (rc || (rc = decide(ch, cur->epoch, cur->owners, cur->pending,
			       cur->owners, 0)) ||
	    (rc = step(ch, cur->epoch + 1, cur->owners, 0)))
		return rc;
	report(ch, cur->epoch + 1);
	return EXIT_OK;
}

/* `node commit`: the plan's members as one change, from the register's
 * value it was made against (PL1); a change it began and that stopped is
 * resumed (N2). The plan is dropped once its change is done. */
static int commit_plan(struct change *ch, const struct qr_topo_state *cur,
		       const struct qr_node_plan *p, const char *path,
		       uint32_t wait_s)
{
	char b[256], t[256], now[256];
	int rc = EXIT_OK;
	qr_cli_members_str(p->base_owners, b, sizeof(b));
	qr_cli_members_str(p->to, t, sizeof(t));
	qr_cli_members_str(cur->owners, now, sizeof(now));
	ch->to = p->to;
	ch->dead = p->dead;
	if (!cur->pending && cur->owners == p->to &&
	    cur->epoch >= p->base_epoch) {
		/* Done (a commit stopped after its step 3 was decided):
		 * the running nodes are caught up first, as a rerun of any
		 * command does (N1). */
		rc = step(ch, cur->epoch, cur->owners, 0);
		if (rc)
			return rc;
		fprintf(stderr, "quorate: %s: members are %s already: plan "
			"done\n", ch->what, t);
		report(ch, cur->epoch);
	} else if (cur->pending) {
		if (cur->pending != p->to || cur->owners != p->base_owners ||
		    cur->epoch != p->base_epoch + 1) {
			char pe[256];
			qr_cli_members_str(cur->pending, pe, sizeof(pe));
			return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				    ch->what, "a change from %s to %s is in "
				    "progress (epoch %" PRIu64 "), not this "
				    "plan's: rerun the command that began it",
				    now, pe, cur->epoch);
		}
		rc = run(ch, cur->epoch, wait_s);
	} else if (cur->epoch != p->base_epoch ||
		   cur->owners != p->base_owners) {
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch->what,
			    "the cluster changed since the plan was made "
			    "(epoch %" PRIu64 ", members %s; now epoch %"
			    PRIu64 ", members %s): nothing sent; see "
			    "`quorate node plan`, then `quorate node plan "
			    "clear`", p->base_epoch, b, cur->epoch, now);
	} else if ((rc = step(ch, cur->epoch, cur->owners, 0)) == 0 &&
		   (rc = all_up(ch)) == 0 &&
		   (rc = decide(ch, cur->epoch, cur->owners, 0, cur->owners,
				ch->to)) == 0) {
		rc = run(ch, cur->epoch + 1, wait_s);
	}
	if (rc == EXIT_OK && qr_node_plan_clear(path))
		fprintf(stderr, "quorate: %s: done, but %s stays: %s\n",
			ch->what, path, strerror(errno));
	return rc;
}

/* `node plan add|remove|replace ...`: the change target() computed from
 * the plan's members so far (or the register's), saved, not run. */
static int stage_plan(struct change *ch, const struct qr_topo_state *cur,
		      struct qr_node_plan *p, bool had, const char *path)
{
	char msg[512];
	if (cur->pending)
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch->what,
			    "a change is in progress (epoch %" PRIu64 "): "
			    "finish or abort it before planning another",
			    cur->epoch);
	uint64_t prev = had ? p->to : cur->owners;
	if (ch->dead >= 0 && (!(cur->owners >> ch->dead & 1) ||
			      !(prev >> ch->dead & 1) || ch->to == prev))
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch->what,
			    "node %d is not a member of the plan: only a "
			    "member can be replaced (PL2)", ch->dead);
	if (ch->to == prev) {
		fprintf(stderr, "quorate: %s: nothing to change: the plan "
			"stays as it was\n", ch->what);
		return EXIT_OK;
	}
	if (!had)
		*p = (struct qr_node_plan){.base_epoch = cur->epoch,
					   .base_owners = cur->owners,
					   .dead = -1};
	p->to = ch->to;
	if (ch->dead >= 0)
		p->dead = ch->dead;
	int rc = qr_node_plan_save(path, ch->c, p, msg, sizeof(msg));
	if (rc)
		return fail(rc == QR_EINVAL ? EXIT_PRECONDITION : EXIT_OTHER,
			    rc == QR_EINVAL ? QR_EPRECONDITION : rc, ch->what,
			    "%s: not saved", msg);
	char b[256], t[256];
	qr_cli_members_str(p->base_owners, b, sizeof(b));
	qr_cli_members_str(p->to, t, sizeof(t));
	if (json_mode) {
		qr_json_view_emit(stdout,
				  json_pack("{sbsssIsosos}", "ok", 1, "op",
					    ch->what, "base_epoch",
					    (json_int_t)p->base_epoch, "from",
					    qr_cli_members_json(p->base_owners),
					    "to", qr_cli_members_json(p->to),
					    "dead", json_integer(p->dead)));
		return EXIT_OK;
	}
	printf("%s: planned: members %s -> %s (from epoch %" PRIu64 ")\n",
	       ch->what, b, t, p->base_epoch);
	if (qr_cli_ring_moves(ch->c, p->base_owners, p->to, msg, sizeof(msg)))
		fprintf(stderr, "quorate: %s: saved; the moves cannot be "
			"shown: %s\n", ch->what, msg);
	printf("run it with `quorate node commit`\n");
	return EXIT_OK;
}

static long id_arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno ? v : -2;
}

/* ids[i] for argv[i]: a node id, or a slot's data-plane address (the
 * `ip` of its [node.N]: the machine an operator has in mind); with
 * --zone Z, every slot but a replace's dead one must be in zone Z
 * (zones, like addresses, come from the cluster file). 0, or the exit
 * code (reported); nothing has been asked yet. */
static int slots_of(struct change *ch, const char *zone, bool rep, int argc,
		    char **argv, long *ids)
{
	const struct qr_cluster *c = ch->c;
	for (int i = 0; i < argc; i++) {
		struct in_addr a;
		long id = id_arg(argv[i]);
		if (id < 0 && inet_pton(AF_INET, argv[i], &a) == 1) {
			for (int n = 0; n < c->nodes && id < 0; n++)
				if (c->node[n].ip == a.s_addr)
					id = n;
			if (id < 0)
				return fail(EXIT_USAGE, QR_EINVAL, ch->what,
					    "no slot of the cluster file has "
					    "address %s: give the machine a "
					    "[node.N] section in every cluster "
					    "file and restart the nodes first "
					    "(docs/operations.md, \"Adding, "
					    "removing and replacing nodes\")",
					    argv[i]);
		}
		if (id < 0 || id >= c->nodes)
			return fail(EXIT_USAGE, QR_EINVAL, ch->what,
				    "'%s': expected a node id of the cluster "
				    "file (0..%u) or a slot's address",
				    argv[i], c->nodes - 1u);
		if (zone && !(rep && i == 0) && strcmp(c->node[id].zone, zone))
			return fail(EXIT_USAGE, QR_EINVAL, ch->what,
				    "node %ld is in zone '%s', not '%s' (the "
				    "cluster file's [node.%ld] zone)", id,
				    c->node[id].zone, zone, id);
		ids[i] = id;
	}
	return 0;
}

static bool zone_known(const struct qr_cluster *c, const char *zone)
{
	for (int n = 0; n < c->nodes; n++)
		if (!strcmp(c->node[n].zone, zone))
			return true;
	return false;
}

/* --zone Z with no slot named: the lowest running slot of zone Z that
 * is not an owner, one already joining (a change in progress: its
 * command resumed) first. 0 with *id, or the exit code (reported). */
static int pick_in_zone(struct change *ch, const char *zone,
			const struct qr_topo_state *cur, long *id)
{
	const struct qr_cluster *c = ch->c;
	long best = -1;
	for (int n = c->nodes - 1; n >= 0; n--)
		if (ch->v[n].up && !strcmp(c->node[n].zone, zone) &&
		    !(cur->owners >> n & 1) &&
		    (best < 0 || !(cur->pending >> best & 1) ||
		     (cur->pending >> n & 1)))
			best = n;
	if (best < 0)
		return fail(EXIT_UNAVAILABLE, QR_EUNAVAILABLE, ch->what,
			    "no running slot in zone '%s' that is not a "
			    "member: start one (its quorated, --init on an "
			    "empty data directory)", zone);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &c->node[best].ip, ip, sizeof(ip));
	fprintf(stderr, "quorate: %s: slot %ld (%s) in zone '%s'\n", ch->what,
		best, ip, zone);
	*id = best;
	return 0;
}

int do_node(struct cli *cl, int argc, char **argv)
{
	static struct qr_cluster c;
	static struct change ch;
	const char *op = argc ? argv[0] : "";
	const char *zone = cl->zone;
	bool plan = !strcmp(op, "plan"), commit = !strcmp(op, "commit");
	if (plan && (argc == 1 || !strcmp(argv[1], "clear")))
		return qr_node_plan_cmd(cl, argc);
	if (plan) { /* node plan add|remove|replace ...: staged */
		argc--;
		argv++;
		op = argv[0];
	}
	bool rep = !strcmp(op, "replace"), sync = !strcmp(op, "sync");
	bool abort_op = !strcmp(op, "abort"), add = !strcmp(op, "add");
	bool many = add || !strcmp(op, "remove");
	/* --zone Z lets add and replace leave their new slot out. */
	int nmin = 2 + rep - (zone && (add || rep));
	if ((!many && !rep && !sync && !abort_op && !commit) ||
	    (plan && (sync || abort_op)) ||
	    (rep ? argc < nmin || argc > 3
	     : sync || abort_op || commit ? argc != 1
					  : argc < nmin || argc > 9))
		return fail(EXIT_USAGE, QR_EINVAL, "node",
			    "usage: node add SLOT [SLOT...] | node add --zone Z "
			    "| node remove ID [ID...] | node replace DEAD_ID "
			    "SLOT | node replace DEAD_ID --zone Z | node sync | "
			    "node abort | node plan [add|remove|replace ...] | "
			    "node plan clear | node commit (a SLOT: a node id "
			    "or its address)");
	if (zone && !add && !rep)
		return fail(EXIT_USAGE, QR_EINVAL, "node",
			    "--zone goes with node add and node replace");
	char err[512];
	if (qr_cluster_load(cl->cluster, &c, err, sizeof(err)))
		return fail(EXIT_CONFIG, QR_ECONFIG, "node", "%s", err);
	ch = (struct change){.c = &c, .dead = -1};
	char path[4096], msg[512];
	struct qr_node_plan pl;
	bool had = false;
	if (plan || commit) {
		const char *pop = plan ? "node plan" : "node commit";
		if (qr_node_plan_path(cl->cluster, path, sizeof(path)))
			return fail(EXIT_CONFIG, QR_ECONFIG, pop,
				    "plan path too long");
		/* PL4: held until the command exits (its fd closes then) */
		if (qr_node_plan_lock(path) < 0)
			return fail(EXIT_OTHER, QR_EIO, pop, "%s.lock: %s (set "
				    "QUORATE_PLAN to a writable path)", path,
				    strerror(errno));
		int prc = qr_node_plan_load(path, &c, &pl, msg, sizeof(msg));
		if (prc && prc != QR_ENOTFOUND)
			return fail(EXIT_CONFIG, prc, pop, "%s", msg);
		had = prc == 0;
		if (commit && !had)
			return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				    "node commit", "no plan in %s (`quorate "
				    "node plan add|remove|replace ...` makes "
				    "one)", path);
		if (plan && had && rep && pl.dead >= 0)
			return fail(EXIT_PRECONDITION, QR_EPRECONDITION,
				    "node plan", "the plan replaces node %d "
				    "already: one replace per plan", pl.dead);
	}
	size_t w = (size_t)snprintf(ch.what, sizeof(ch.what), "node %s%s",
				    plan ? "plan " : "", op);
	for (int i = 1; i < argc && w < sizeof(ch.what); i++)
		w += (size_t)snprintf(ch.what + w, sizeof(ch.what) - w, " %.15s",
				      argv[i]);
	if (zone && w < sizeof(ch.what))
		snprintf(ch.what + w, sizeof(ch.what) - w, " --zone %.31s",
			 zone);
	if (zone && (!*zone || !zone_known(&c, zone)))
		return fail(EXIT_USAGE, QR_EINVAL, ch.what, "no slot of the "
			    "cluster file is in zone '%s' (zones are each "
			    "[node.N]'s `zone`)", zone);
	long ids[9];
	int nids = argc - 1;
	int rc = slots_of(&ch, zone, rep, nids, argv + 1, ids);
	if (rc)
		return rc;
	int best = survey(&ch);
	if (best == -2)
		return ch.rc;
	if (best < 0)
		return fail(EXIT_UNAVAILABLE, QR_EUNAVAILABLE, ch.what,
			    "no node answers on its management socket");
	if (!c.tombstone_grace_ms && !sync)
		return fail(EXIT_CONFIG, QR_ECONFIG, ch.what,
			    "tombstone_grace_ms = 0: request deadlines have "
			    "no bound, so no wait before the stream is long "
			    "enough; set a grace (docs/topology.md)");
	/* The register's value, made chosen and given to every running
	 * slot (a read: G2); the nodes' topologies follow it. */
	reg_init(&ch.reg, &c, ch.what);
	rc = reg_decide(&ch.reg, keep, &ch);
	if (rc)
		return rc;
	struct qr_topo_state cur = {.epoch = ch.reg.chosen.epoch,
				    .owners = ch.reg.chosen.owners,
				    .pending = ch.reg.chosen.pending};
	ch.from = cur.owners;
	if (abort_op)
		return abort_change(&ch, &cur);
	if (commit)
		return commit_plan(&ch, &cur, &pl, path, cl->wait_s);
	if (plan && had && (cur.epoch != pl.base_epoch ||
			    cur.owners != pl.base_owners))
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch.what,
			    "the cluster changed since the plan was made "
			    "(epoch %" PRIu64 "; now %" PRIu64 "): see `quorate "
			    "node plan`, then `quorate node plan clear`",
			    pl.base_epoch, cur.epoch);
	struct qr_topo_state pc = cur; /* members a --zone pick skips */
	if (plan && had) {
		ch.from = pl.to; /* built on the plan so far */
		/* nor a slot the plan removes, nor its dead node */
		pc.owners = pl.to | cur.owners |
			    (pl.dead >= 0 ? 1ull << pl.dead : 0);
	}
	if (zone && nids < 1 + rep &&
	    (rc = pick_in_zone(&ch, zone, &pc, &ids[nids++])))
		return rc;
	rc = target(&ch, op, nids, ids);
	if (rc)
		return rc;
	if (plan)
		return stage_plan(&ch, &cur, &pl, had, path);
	if (cur.pending && ch.to != cur.pending) {
		char o[256], p[256];
		qr_cli_members_str(cur.owners, o, sizeof(o));
		qr_cli_members_str(cur.pending, p, sizeof(p));
		return fail(EXIT_PRECONDITION, QR_EPRECONDITION, ch.what,
			    "a change from %s to %s is in progress (epoch %"
			    PRIu64 "): rerun the command that began it", o, p,
			    cur.epoch);
	}
	if (cur.pending)
		return run(&ch, cur.epoch, cl->wait_s);
	if ((rc = step(&ch, cur.epoch, cur.owners, 0))) /* catch up */
		return rc;
	if (ch.to == cur.owners) {
		fprintf(stderr, "quorate: %s: nothing to change\n", ch.what);
		report(&ch, cur.epoch);
		return EXIT_OK;
	}
	if ((rc = all_up(&ch)) ||
	    (rc = decide(&ch, cur.epoch, cur.owners, 0, cur.owners, ch.to)))
		return rc;
	return run(&ch, cur.epoch + 1, cl->wait_s);
}
