/* SPDX-License-Identifier: MIT */
/* The daemon's side of a membership change: see topo_ctl.h (C1-C8). */
#include "server/topo_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/topo_file.h"
#include "core/core.h"
#include "core/mreg.h"
#include "quorate/err.h"
#include "quorate/limits.h"
#include "server/mgmt_stats.h"

#define INSTALL_WAIT_MS 600 /* within the mgmt socket's 1 s per client */

/* One topology handed to the shards, with its placements (C4). */
struct topo_gen {
	struct topo_gen *prev; /* older generations, freed at close */
	struct qr_topo_state st;
	struct qr_placement owners, pending;
	struct qr_shard_topo req; /* points into this generation */
};

struct qr_topo_ctl {
	const struct qr_cluster *cl;
	char dir[QR_PATH_BYTES_MAX];
	struct topo_gen *cur; /* the installed one, newest first */
	struct qr_shard **shards;
	uint16_t nshards;
	uint16_t node; /* this node's id (answers name it) */
	uint64_t caught_up; /* topologies installed from peers' news (C9) */
	uint64_t news_failed;	/* the news epoch install_rc() refused last */
	uint64_t news_retry_ms; /* ... tried again from then (monotonic) */
	struct qr_mreg_acceptor reg; /* the register's acceptor (C6, C7) */
};

static int placement_of(const struct qr_cluster *cl, uint64_t members,
			struct qr_placement *p)
{
	uint8_t zone[QR_NODES_MAX] = {0};
	for (uint16_t n = 0; n < cl->nodes && n < QR_NODES_MAX; n++)
		zone[n] = cl->node[n].zone_idx;
	return qr_placement_init_members(p, cl->partitions, members, cl->rf,
					 cl->shards, zone);
}

static void gen_free(struct topo_gen *g)
{
	qr_placement_fini(&g->owners);
	qr_placement_fini(&g->pending);
	free(g);
}

/* A generation for st, checked whole (C3): NULL with err set. */
static struct topo_gen *gen_build(const struct qr_cluster *cl,
				  const struct qr_topo_state *st, char *err,
				  size_t err_len)
{
	if (qr_topo_state_check(st, cl->nodes, cl->rf, err, err_len))
		return NULL;
	struct topo_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	g->st = *st;
	if (placement_of(cl, st->owners, &g->owners) ||
	    (st->pending && placement_of(cl, st->pending, &g->pending))) {
		snprintf(err, err_len, "cannot build the placements");
		gen_free(g);
		return NULL;
	}
	if (st->pending && !qr_topology_union_fits(&g->owners, &g->pending)) {
		snprintf(err, err_len,
			 "a partition would have more than %d replicas "
			 "during the change: change fewer members at once",
			 QR_RF_MAX + 1);
		gen_free(g);
		return NULL;
	}
	g->req = (struct qr_shard_topo){
		.epoch = st->epoch,
		.owners = &g->owners,
		.pending = st->pending ? &g->pending : NULL,
		.stream = st->streaming,
	};
	return g;
}

/* <data_dir>/register, or (absent: a new node, or one from before the
 * register) its installed topology at ballot 0.0 (R3); with --rebuild
 * and no file, lost (C7). Saved either way, so a restart keeps it. */
static int reg_load(struct qr_topo_ctl *t, bool rebuild, char *err,
		    size_t err_len)
{
	char text[512];
	size_t n = 0;
	int rc = qr_small_file_load(t->dir, QR_MREG_FILE_NAME, text,
				    sizeof(text), &n, err, err_len);
	if (!rc && !qr_mreg_decode(text, n, &t->reg)) {
		snprintf(err, err_len, "%s/%s: corrupt (not the register "
			 "quorated wrote): see docs/operations.md, \"A node "
			 "that lost its data directory\"",
			 t->dir, QR_MREG_FILE_NAME);
		return QR_ECORRUPT;
	}
	if (rc != QR_ENOTFOUND)
		return rc;
	const struct qr_topo_state *st = &t->cur->st;
	struct qr_mreg_value v = {st->epoch, st->owners, st->pending};
	t->reg = (struct qr_mreg_acceptor){.value = v};
	if (rebuild)
		qr_mreg_lose(&t->reg, &v);
	n = (size_t)qr_mreg_encode(&t->reg, text, sizeof(text));
	return qr_small_file_save(t->dir, QR_MREG_FILE_NAME, text, n, err,
				  err_len);
}

int qr_topo_ctl_open(const struct qr_cluster *cl, const char *data_dir,
		     bool rebuild, struct qr_topo_ctl **out, char *err,
		     size_t err_len)
{
	struct qr_topo_state st = {.epoch = 1, .owners = cl->members};
	char why[256];
	int rc = qr_topo_file_load(data_dir, &st, err, err_len);
	bool fresh = rc == QR_ENOTFOUND;
	if (rc && !fresh)
		return rc;
	struct qr_topo_ctl *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "out of memory");
		return QR_ENOMEM;
	}
	t->cl = cl;
	snprintf(t->dir, sizeof(t->dir), "%s", data_dir);
	t->cur = gen_build(cl, &st, why, sizeof(why));
	if (!t->cur) {
		snprintf(err, err_len, "%s/%s: %s (against %s: %u node slots, "
			 "replication_factor %u)", data_dir,
			 fresh ? "(cluster file members)" : QR_TOPO_FILE_NAME,
			 why, cl->path, cl->nodes, cl->rf);
		free(t);
		return QR_EINVAL;
	}
	if ((fresh && (rc = qr_topo_file_save(data_dir, &st, err, err_len))) ||
	    (rc = reg_load(t, rebuild, err, err_len))) {
		qr_topo_ctl_close(t);
		return rc;
	}
	fprintf(stderr, "quorated: topology: epoch %" PRIu64 ", owners 0x%"
		PRIx64 ", pending 0x%" PRIx64 "%s (%s)\n", st.epoch, st.owners,
		st.pending, st.streaming ? ", streaming again" : "",
		fresh ? "the cluster file's members, saved" : "its file");
	*out = t;
	return 0;
}

const struct qr_shard_topo *qr_topo_ctl_initial(const struct qr_topo_ctl *t)
{
	return &t->cur->req;
}

void qr_topo_ctl_attach(struct qr_topo_ctl *t, uint16_t node,
			struct qr_shard **shards, uint16_t nshards)
{
	t->node = node;
	t->shards = shards;
	t->nshards = nshards;
}

void qr_topo_ctl_close(struct qr_topo_ctl *t)
{
	if (!t)
		return;
	while (t->cur) {
		struct topo_gen *g = t->cur;
		t->cur = g->prev;
		gen_free(g);
	}
	free(t);
}

/* ---- commands ------------------------------------------------------- */

static void mask_str(uint64_t m, char *buf, size_t n)
{
	snprintf(buf, n, "0x%" PRIx64, m);
}

static size_t answer_error(const struct qr_topo_ctl *t, int rc,
			   const char *msg, char *out, size_t cap)
{
	return qr_mgmt_dump(json_pack("{sbsIsssiss}", "ok", 0, "node",
				      (json_int_t)t->node,
				      "error", qr_strerror(rc), "code", rc,
				      "message", msg),
			    out, cap);
}

/* "topology": the installed topology and what each shard runs. */
static size_t show(const struct qr_topo_ctl *t, char *out, size_t cap)
{
	const struct qr_topo_state *st = &t->cur->st;
	json_t *shards = json_array();
	uint64_t left = 0;
	for (uint16_t i = 0; i < t->nshards; i++) {
		const struct qr_core_stats *cs =
			qr_core_stats(qr_shard_core(t->shards[i]));
		left += cs->stream_left;
		json_array_append_new(
			shards, json_pack("{sIsIsI}", "shard", (json_int_t)i,
					  "epoch", (json_int_t)cs->epoch,
					  "stream_left",
					  (json_int_t)cs->stream_left));
	}
	char o[24], p[24];
	mask_str(st->owners, o, sizeof(o));
	mask_str(st->pending, p, sizeof(p));
	return qr_mgmt_dump(
		json_pack("{sbsIsIsssssbsIsIsbso}", "ok", 1, "node",
			  (json_int_t)t->node, "epoch", (json_int_t)st->epoch,
			  "owners", o, "pending", p, "streaming",
			  st->streaming, "stream_left", (json_int_t)left,
			  "caught_up", (json_int_t)t->caught_up,
			  "register_lost", qr_mreg_is_lost(&t->reg), "shards",
			  shards),
		out, cap);
}

/* Hand g to every shard and wait (bounded) until each installed it. 0, or
 * the error with msg set. */
static int hand_over(struct qr_topo_ctl *t, const struct topo_gen *g,
		     const struct qr_shard_topo *req, char *msg, size_t n)
{
	for (uint16_t i = 0; i < t->nshards; i++)
		qr_shard_topo_request(t->shards[i], req);
	uint64_t end = qr_clock_mono_ms() + INSTALL_WAIT_MS;
	for (uint16_t i = 0; i < t->nshards;) {
		int rc;
		if (qr_shard_topo_installed(t->shards[i], req, &rc)) {
			if (rc) {
				snprintf(msg, n, "shard %u refused epoch %"
					 PRIu64 ": %s", i, g->st.epoch,
					 qr_strerror(rc));
				return rc;
			}
			i++;
			continue;
		}
		if (qr_clock_mono_ms() >= end) {
			snprintf(msg, n, "shard %u has not installed epoch %"
				 PRIu64 " in %d ms (saved: resend the "
				 "command)", i, g->st.epoch, INSTALL_WAIT_MS);
			return QR_ETIMEOUT;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return 0;
}

/* Make st the installed topology: build (C3), save (C1), hand over. 0,
 * or the error with msg set (saved but not handed over: a resend of the
 * same topology hands it over again). */
static int install_rc(struct qr_topo_ctl *t, const struct qr_topo_state *st,
		      char *msg, size_t n)
{
	struct topo_gen *g = gen_build(t->cl, st, msg, n);
	if (!g)
		return QR_EINVAL;
	int rc = qr_topo_file_save(t->dir, st, msg, n);
	if (rc) {
		gen_free(g);
		return rc;
	}
	g->prev = t->cur;
	t->cur = g;
	return hand_over(t, g, &g->req, msg, n);
}

static size_t install(struct qr_topo_ctl *t, const struct qr_topo_state *st,
		      char *out, size_t cap)
{
	char msg[512];
	int rc = install_rc(t, st, msg, sizeof(msg));
	return rc ? answer_error(t, rc, msg, out, cap) : show(t, out, cap);
}

static bool parse_u64(const char *s, int base, uint64_t *v)
{
	char *end;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, base);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

/* "topology set EPOCH OWNERS PENDING" (C2). */
static size_t cmd_set(struct qr_topo_ctl *t, const char *args, char *out,
		      size_t cap)
{
	char e[32], o[32], p[32], extra[2], msg[256];
	struct qr_topo_state st = {0};
	if (sscanf(args, "%31s %31s %31s %1s", e, o, p, extra) != 3 ||
	    !parse_u64(e, 10, &st.epoch) || !parse_u64(o, 16, &st.owners) ||
	    !parse_u64(p, 16, &st.pending))
		return answer_error(t, QR_EINVAL,
				    "usage: topology set EPOCH OWNERS PENDING "
				    "(decimal epoch, hex member masks, "
				    "PENDING 0: none)",
				    out, cap);
	const struct qr_topo_state *cur = &t->cur->st;
	if (st.epoch == cur->epoch && st.owners == cur->owners &&
	    st.pending == cur->pending) {
		int rc = hand_over(t, t->cur, &t->cur->req, msg, sizeof(msg));
		return rc ? answer_error(t, rc, msg, out, cap)
			  : show(t, out, cap);
	}
	if (st.epoch <= cur->epoch) {
		snprintf(msg, sizeof(msg),
			 "epoch %" PRIu64 " is not above this node's epoch %"
			 PRIu64, st.epoch, cur->epoch);
		return answer_error(t, QR_ESTALE, msg, out, cap);
	}
	const struct qr_mreg_value *rv = &t->reg.value;
	if (st.epoch != rv->epoch || st.owners != rv->owners ||
	    st.pending != rv->pending) {
		/* C6: only what the register holds (a change decided by the
		 * cluster; the CLI gives every node it installs on the value
		 * it decided first), never a topology typed by hand. */
		snprintf(msg, sizeof(msg),
			 "not the membership register's value (epoch %" PRIu64
			 ", owners 0x%" PRIx64 ", pending 0x%" PRIx64 "): "
			 "changes are decided through the register (quorate "
			 "node)", rv->epoch, rv->owners, rv->pending);
		return answer_error(t, QR_EPRECONDITION, msg, out, cap);
	}
	return install(t, &st, out, cap);
}

void qr_topo_ctl_news(struct qr_topo_ctl *t)
{
	uint64_t epoch = UINT64_MAX, owners = 0;
	for (uint16_t i = 0; i < t->nshards; i++) {
		uint64_t e, o;
		if (!qr_shard_topo_news(t->shards[i], &e, &o))
			return; /* that core still has requests in flight */
		if (e < epoch) {
			epoch = e;
			owners = o;
		} else if (e == epoch && o != owners) {
			return; /* two peers disagree: a cluster key misused */
		}
	}
	/* Saved but not handed over last time (a shard slow to take it):
	 * hand it over again. */
	bool again = epoch == t->news_failed && epoch == t->cur->st.epoch;
	if (!t->nshards || (epoch <= t->cur->st.epoch && !again) ||
	    (epoch == t->news_failed && qr_clock_mono_ms() < t->news_retry_ms))
		return;
	struct qr_topo_state st = {.epoch = epoch, .owners = owners};
	char msg[512];
	int rc = again ? hand_over(t, t->cur, &t->cur->req, msg, sizeof(msg))
		       : install_rc(t, &st, msg, sizeof(msg));
	if (rc) { /* a full disk, a shard slow to take it: again in 5 s */
		if (epoch != t->news_failed)
			fprintf(stderr, "quorated: node %u: a peer's topology "
				"(epoch %" PRIu64 ", owners 0x%" PRIx64 ") not "
				"installed: %s: %s (trying again every 5 s)\n",
				t->node, epoch, owners, qr_strerror(rc), msg);
		t->news_failed = epoch;
		t->news_retry_ms = qr_clock_mono_ms() + 5000;
		return;
	}
	t->news_failed = 0;
	t->caught_up++;
	fprintf(stderr, "quorated: node %u: caught up to epoch %" PRIu64
		" (owners 0x%" PRIx64 ") from a peer's news\n", t->node, epoch,
		owners);
}

/* "topology stream": step 2 of the change in progress. */
static size_t cmd_stream(struct qr_topo_ctl *t, char *out, size_t cap)
{
	char msg[256];
	struct qr_topo_state st = t->cur->st;
	if (!st.pending)
		return answer_error(t, QR_EPRECONDITION,
				    "no change in progress (pending 0)", out,
				    cap);
	if (st.streaming) {
		int rc = hand_over(t, t->cur, &t->cur->req, msg, sizeof(msg));
		return rc ? answer_error(t, rc, msg, out, cap)
			  : show(t, out, cap);
	}
	st.streaming = true;
	return install(t, &st, out, cap);
}

/* ---- the membership register's acceptor (C6) ------------------------ */

/* The acceptor's state; ok false with STALE when it refused. */
static size_t reg_show(const struct qr_topo_ctl *t, int rc, char *out,
		       size_t cap)
{
	char p[48], a[48], o[24], pe[24];
	qr_mreg_ballot_str(t->reg.promised, p, sizeof(p));
	qr_mreg_ballot_str(t->reg.accepted, a, sizeof(a));
	mask_str(t->reg.value.owners, o, sizeof(o));
	mask_str(t->reg.value.pending, pe, sizeof(pe));
	json_t *j = json_pack("{sbsIsssssIsssssb}", "ok", !rc, "node",
			      (json_int_t)t->node, "promised", p, "accepted",
			      a, "epoch", (json_int_t)t->reg.value.epoch,
			      "owners", o, "pending", pe, "lost",
			      qr_mreg_is_lost(&t->reg));
	if (rc) {
		json_object_set_new(j, "error", json_string(qr_strerror(rc)));
		json_object_set_new(j, "code", json_integer(rc));
		json_object_set_new(j, "message",
				    json_string("a higher ballot is promised"));
	}
	return qr_mgmt_dump(j, out, cap);
}

/* Persist the acceptor (R1: before the answer); on failure put back the
 * state it had, so that nothing unsaved is ever answered. */
static int reg_save(struct qr_topo_ctl *t, const struct qr_mreg_acceptor *was,
		    char *msg, size_t n)
{
	char text[512];
	int len = qr_mreg_encode(&t->reg, text, sizeof(text));
	int rc = qr_small_file_save(t->dir, QR_MREG_FILE_NAME, text,
				    (size_t)len, msg, n);
	if (rc)
		t->reg = *was;
	return rc;
}

struct reg_req {
	enum { REG_PREPARE, REG_ACCEPT, REG_LEARN } verb;
	struct qr_mreg_ballot b;
	struct qr_mreg_value v;
};

/* "prepare ROUND.ID SLOTS" or "accept|learn ROUND.ID EPOCH OWNERS PENDING
 * SLOTS", checked whole (C3, C8): 0, or the error with msg set. */
static int reg_parse(const struct qr_topo_ctl *t, const char *args,
		     struct reg_req *r, char *msg, size_t n)
{
	char verb[8], b[48], e[32], o[32], p[32], sl[16], extra[2];
	struct qr_topo_state st = {0};
	uint64_t slots = 0;
	int k = sscanf(args, "%7s %47s %31s %31s %31s %15s %1s", verb, b, e,
		       o, p, sl, extra);
	bool prep = k == 3 && !strcmp(verb, "prepare");
	r->verb = prep ? REG_PREPARE : !strcmp(verb, "accept") ? REG_ACCEPT
								: REG_LEARN;
	if ((!prep && (k != 6 || (strcmp(verb, "accept") &&
				  strcmp(verb, "learn")))) ||
	    !qr_mreg_ballot_parse(b, &r->b) || !r->b.id ||
	    !parse_u64(prep ? e : sl, 10, &slots) ||
	    (!prep && (!parse_u64(e, 10, &st.epoch) ||
		       !parse_u64(o, 16, &st.owners) ||
		       !parse_u64(p, 16, &st.pending)))) {
		snprintf(msg, n, "usage: register | register prepare ROUND.ID "
			 "SLOTS | register accept|learn ROUND.ID EPOCH OWNERS "
			 "PENDING SLOTS (ROUND.ID: decimal, 16 hex digits, id "
			 "not 0)");
		return QR_EINVAL;
	}
	if (slots != t->cl->nodes) {
		snprintf(msg, n, "the command's cluster file has %" PRIu64
			 " node slots, this node's %u: the register's "
			 "majorities need one slot set (C8)", slots,
			 t->cl->nodes);
		return QR_ECONFIG;
	}
	if (prep)
		return 0;
	/* A value no node could install is refused whole (C3): it would
	 * stay in the register, a change nobody can run. */
	struct topo_gen *g = gen_build(t->cl, &st, msg, n);
	if (!g)
		return QR_EINVAL;
	gen_free(g);
	r->v = (struct qr_mreg_value){st.epoch, st.owners, st.pending};
	return 0;
}

/* "register", "register prepare|accept|learn ..." (C6-C8). */
size_t qr_topo_ctl_register(struct qr_topo_ctl *t, const char *args,
			    char *out, size_t cap)
{
	char msg[512];
	struct reg_req r;
	struct qr_mreg_acceptor was = t->reg;
	if (!*args)
		return reg_show(t, 0, out, cap);
	int rc = reg_parse(t, args, &r, msg, sizeof(msg));
	if (rc)
		return answer_error(t, rc, msg, out, cap);
	rc = r.verb == REG_PREPARE  ? qr_mreg_prepare(&t->reg, r.b)
	     : r.verb == REG_ACCEPT ? qr_mreg_accept(&t->reg, r.b, &r.v)
				    : qr_mreg_learn(&t->reg, r.b, &r.v);
	if (rc == QR_EUNAVAILABLE)
		return answer_error(t, rc,
				    "this node lost its register state (it "
				    "started with --rebuild): it promises and "
				    "accepts nothing until `quorate node sync` "
				    "(C7)",
				    out, cap);
	if (!rc && (rc = reg_save(t, &was, msg, sizeof(msg))))
		return answer_error(t, rc, msg, out, cap);
	return reg_show(t, rc, out, cap);
}

size_t qr_topo_ctl_command(struct qr_topo_ctl *t, const char *args,
			   char *out, size_t cap)
{
	if (!*args)
		return show(t, out, cap);
	if (!strncmp(args, "set ", 4))
		return cmd_set(t, args + 4, out, cap);
	if (!strcmp(args, "stream"))
		return cmd_stream(t, out, cap);
	return answer_error(t, QR_EINVAL,
			    "usage: topology | topology set EPOCH OWNERS "
			    "PENDING | topology stream",
			    out, cap);
}
