/* SPDX-License-Identifier: MIT */
/* The membership register's proposer for `quorate node`: see node_reg.h
 * (G1-G3). */
#include "cli/node_reg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/json_view.h"
#include "quorate/err.h"

#define REG_ASK_MS 2000 /* a node answers within its 1 s budget */
#define REG_TRIES  8	/* rounds before giving up (G1) */

void reg_init(struct reg_round *r, const struct qr_cluster *c,
	      const char *what)
{
	*r = (struct reg_round){.c = c, .what = what};
	if (getrandom(&r->id, sizeof(r->id), 0) != sizeof(r->id))
		r->id = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	r->id |= 1; /* R4: nonzero */
}

enum ask_result {
	ASK_NONE = -1,	  /* no answer (msg) */
	ASK_STALE = 0,	  /* refused: a higher ballot (*b) */
	ASK_OK = 1,	  /* *b its accepted ballot, *v its value */
	ASK_REFUSED = -2, /* refused otherwise (*code, msg): an invalid
			   * value, a failed save, lost state, another
			   * slot count */
};

/* One register command to slot id (G4: req ends with the slot count). */
static enum ask_result reg_ask(const struct reg_round *r, int id,
			       const char *req, struct qr_mreg_ballot *b,
			       struct qr_mreg_value *v, int *code, char *msg,
			       size_t n)
{
	char *text = NULL;
	size_t len = 0;
	if (qr_cli_mgmt_ask(r->c->node[id].mgmt, req, REG_ASK_MS, &text, &len,
			    msg, n))
		return ASK_NONE;
	json_t *o = json_loadb(text, len, 0, NULL);
	free(text);
	bool ok = json_is_true(json_object_get(o, "ok"));
	const char *err = json_string_value(json_object_get(o, "error"));
	const char *bs = json_string_value(
		json_object_get(o, ok ? "accepted" : "promised"));
	json_t *who = json_object_get(o, "node");
	enum ask_result rc = ASK_NONE;
	if (who && json_integer_value(who) != id) {
		/* Two slots naming one socket would count one acceptor twice
		 * (R2). */
		snprintf(msg, n, "answered as node %" JSON_INTEGER_FORMAT
			 ": check [node.%d] mgmt", json_integer_value(who), id);
		*code = QR_ECONFIG;
		rc = ASK_REFUSED;
	} else if (bs && qr_mreg_ballot_parse(bs, b) &&
		   (ok || (err && !strcmp(err, qr_strerror(QR_ESTALE))))) {
		rc = ok ? ASK_OK : ASK_STALE;
		v->epoch = (uint64_t)json_integer_value(
			json_object_get(o, "epoch"));
		v->owners = qr_json_view_hex(o, "owners");
		v->pending = qr_json_view_hex(o, "pending");
	} else {
		const char *m = json_string_value(json_object_get(o, "message"));
		snprintf(msg, n, "%s", m ? m : "not a register answer");
		if (err) { /* it answered, and refused for another reason */
			*code = (int)json_integer_value(
				json_object_get(o, "code"));
			rc = ASK_REFUSED;
		}
	}
	json_decref(o);
	return rc;
}

/* The first refusal for another reason than a ballot, kept for the
 * report. */
static void note_refusal(struct reg_round *r, int id, int code,
			 const char *msg)
{
	if (r->refusal[0])
		return;
	r->refusal_code = code ? code : QR_EINVAL;
	snprintf(r->refusal, sizeof(r->refusal), "node %d: %s", id, msg);
}

/* One phase (G1): req to every slot, each answer to the proposer; the
 * phase reached. */
static enum qr_mreg_phase ask_all(struct reg_round *r, const char *req,
				  bool accepts)
{
	char msg[256];
	r->answered = 0;
	for (int id = 0; id < r->c->nodes; id++) {
		struct qr_mreg_ballot got;
		struct qr_mreg_value v;
		int code = 0;
		enum ask_result a = reg_ask(r, id, req, &got, &v, &code, msg,
					    sizeof(msg));
		if (a == ASK_REFUSED)
			note_refusal(r, id, code, msg);
		if (a != ASK_OK && a != ASK_STALE)
			continue;
		r->answered++;
		if (accepts)
			qr_mreg_on_accepted(&r->p, (uint16_t)id, a == ASK_OK,
					    got);
		else
			qr_mreg_on_promise(&r->p, (uint16_t)id, a == ASK_OK,
					   got, &v);
	}
	return r->p.phase;
}

/* "register VERB BALLOT EPOCH OWNERS PENDING SLOTS" for value v. */
static void value_req(const struct reg_round *r, const char *verb,
		      struct qr_mreg_ballot bal, const struct qr_mreg_value *v,
		      char *req, size_t n)
{
	char b[48];
	qr_mreg_ballot_str(bal, b, sizeof(b));
	snprintf(req, n, "register %s %s %" PRIu64 " %" PRIx64 " %" PRIx64
		 " %u\n", verb, b, v->epoch, v->owners, v->pending,
		 r->c->nodes);
}

static enum qr_mreg_phase prepare_all(struct reg_round *r)
{
	char req[96], b[48];
	qr_mreg_ballot_str(r->p.ballot, b, sizeof(b));
	snprintf(req, sizeof(req), "register prepare %s %u\n", b,
		 r->c->nodes);
	return ask_all(r, req, false);
}

static enum qr_mreg_phase accept_all(struct reg_round *r)
{
	char req[192];
	value_req(r, "accept", r->p.ballot, &r->p.proposal, req, sizeof(req));
	return ask_all(r, req, true);
}

/* Too few OK answers and nothing to retry above: the refusal that
 * explains it, or the slots that did not answer. */
static int no_majority(const struct reg_round *r)
{
	if (r->refusal[0])
		return fail(exit_code_of(r->refusal_code), r->refusal_code,
			    r->what, "the membership register: %s",
			    r->refusal);
	return fail(EXIT_UNAVAILABLE, QR_EUNAVAILABLE, r->what,
		    "the membership register needs a majority of the %u "
		    "slots of the cluster file (%u) to answer; %d did: "
		    "start the nodes that are down", r->c->nodes,
		    r->c->nodes / 2u + 1u, r->answered);
}

/* The phase a round ended in: 1 to begin again above a refusal, 0 when
 * it went on (READ or CHOSEN), or the exit code (reported). */
static int outcome(struct reg_round *r, enum qr_mreg_phase ph)
{
	if (ph == QR_MREG_READ || ph == QR_MREG_CHOSEN)
		return 0;
	/* Short of a majority with refusals among the answers: another
	 * command holds a higher ballot, so retry above it (G1). */
	if (ph == QR_MREG_RETRY || r->p.refused)
		return 1;
	return no_majority(r);
}

int reg_decide(struct reg_round *r, reg_change_fn f, void *arg)
{
	for (int t = 0; t < REG_TRIES; t++) {
		if (t) /* G1: 20..150 ms, so two commands stop colliding */
			usleep((useconds_t)(20000 + (r->id >> 8) % 130000 *
						     (unsigned)t / REG_TRIES));
		/* R4: above every ballot this command used or saw refused,
		 * so two decisions never share one. */
		qr_mreg_begin(&r->p, r->c->nodes, qr_mreg_next_round(&r->p),
			      r->id);
		r->refusal[0] = '\0';
		int rc = outcome(r, prepare_all(r));
		if (rc == 1)
			continue;
		if (rc)
			return rc;
		struct qr_mreg_value cur = qr_mreg_base(&r->p), next;
		if ((rc = f(&cur, &next, arg)))
			return rc;
		qr_mreg_propose(&r->p, &next);
		rc = outcome(r, accept_all(r));
		if (rc == 1)
			continue;
		if (rc)
			return rc;
		r->ballot = r->p.ballot;
		r->chosen = next;
		return 0;
	}
	return fail(EXIT_PRECONDITION, QR_EPRECONDITION, r->what,
		    "the membership register was taken by a higher ballot %d "
		    "times (another `quorate node` running?): rerun",
		    REG_TRIES);
}

int reg_learn(struct reg_round *r, int id, char *msg, size_t n)
{
	char req[192];
	struct qr_mreg_ballot got;
	struct qr_mreg_value v;
	int code = 0;
	value_req(r, "learn", r->ballot, &r->chosen, req, sizeof(req));
	enum ask_result a = reg_ask(r, id, req, &got, &v, &code, msg, n);
	if (a == ASK_OK || (a == ASK_STALE && qr_mreg_value_eq(&v, &r->chosen)))
		return 0; /* it holds the value (re-chosen at a higher ballot) */
	if (a == ASK_STALE) {
		snprintf(msg, n, "the register promised a higher ballot (%"
			 PRIu64 ") meanwhile: another `quorate node` is "
			 "deciding", got.round);
		return QR_EPRECONDITION;
	}
	return a == ASK_REFUSED ? code : QR_EUNAVAILABLE;
}
