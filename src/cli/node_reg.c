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

static uint64_t hex_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strtoull(s, NULL, 16) : 0;
}

/* One register command to slot id. 1: it answered OK; 0: refused STALE
 * (*b its promise); -2: refused otherwise (an invalid value: msg); -1: no
 * answer (msg). On 1, *b is its accepted ballot and *v its value. */
static int reg_ask(const struct reg_round *r, int id, const char *req,
		   struct qr_mreg_ballot *b, struct qr_mreg_value *v,
		   char *msg, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	if (qr_cli_mgmt_ask(r->c->node[id].mgmt, req, REG_ASK_MS, &text, &len,
			    msg, n))
		return -1;
	json_t *o = json_loadb(text, len, 0, NULL);
	free(text);
	bool ok = json_is_true(json_object_get(o, "ok"));
	const char *err = json_string_value(json_object_get(o, "error"));
	const char *key = ok ? "accepted" : "promised";
	const char *bs = json_string_value(json_object_get(o, key));
	int rc = -1;
	if (bs && qr_mreg_ballot_parse(bs, b) &&
	    (ok || (err && !strcmp(err, qr_strerror(QR_ESTALE))))) {
		rc = ok ? 1 : 0;
		v->epoch = (uint64_t)json_integer_value(
			json_object_get(o, "epoch"));
		v->owners = hex_of(o, "owners");
		v->pending = hex_of(o, "pending");
	} else {
		const char *m = json_string_value(json_object_get(o, "message"));
		snprintf(msg, n, "%s", m ? m : "not a register answer");
		if (err) /* it answered, and refused the value itself */
			rc = -2;
	}
	json_decref(o);
	return rc;
}

/* Phase 1 to every slot; the phase reached. */
static enum qr_mreg_phase prepare_all(struct reg_round *r,
				      struct qr_mreg_proposer *p)
{
	char req[96], b[48], msg[256];
	qr_mreg_ballot_str(p->ballot, b, sizeof(b));
	snprintf(req, sizeof(req), "register prepare %s\n", b);
	r->answered = 0;
	for (int id = 0; id < r->c->nodes; id++) {
		struct qr_mreg_ballot got;
		struct qr_mreg_value v;
		int a = reg_ask(r, id, req, &got, &v, msg, sizeof(msg));
		if (a >= 0) {
			r->answered++;
			qr_mreg_on_promise(p, (uint16_t)id, a == 1, got, &v);
		}
	}
	return p->phase;
}

/* Phase 2 to every slot; the phase reached. */
static enum qr_mreg_phase accept_all(struct reg_round *r,
				     struct qr_mreg_proposer *p)
{
	char msg[256];
	r->answered = 0;
	for (int id = 0; id < r->c->nodes; id++) {
		struct qr_mreg_ballot got;
		struct qr_mreg_value v;
		char req[160], b[48];
		qr_mreg_ballot_str(p->ballot, b, sizeof(b));
		snprintf(req, sizeof(req), "register accept %s %" PRIu64
			 " %" PRIx64 " %" PRIx64 "\n", b, p->proposal.epoch,
			 p->proposal.owners, p->proposal.pending);
		int a = reg_ask(r, id, req, &got, &v, msg, sizeof(msg));
		if (a >= 0) {
			r->answered++;
			qr_mreg_on_accepted(p, (uint16_t)id, a == 1, got);
		} else if (a == -2 && !r->refusal[0]) {
			snprintf(r->refusal, sizeof(r->refusal), "node %d: %s",
				 id, msg);
		}
	}
	return p->phase;
}

/* Not a majority answering at all: nothing can be decided. */
static int no_majority(const struct reg_round *r)
{
	return fail(EXIT_UNAVAILABLE, QR_EUNAVAILABLE, r->what,
		    "the membership register needs a majority of the %u "
		    "slots of the cluster file (%u) to answer; %d did: "
		    "start the nodes that are down", r->c->nodes,
		    r->c->nodes / 2u + 1u, r->answered);
}

int reg_decide(struct reg_round *r, reg_change_fn f, void *arg)
{
	struct qr_mreg_proposer p = {0};
	uint64_t round = 1;
	for (int t = 0; t < REG_TRIES; t++) {
		if (t) /* G1: 20..150 ms, so two commands stop colliding */
			usleep((useconds_t)(20000 + (r->id >> 8) % 130000 *
						     (unsigned)t / REG_TRIES));
		qr_mreg_begin(&p, r->c->nodes, round, r->id);
		r->refusal[0] = '\0';
		enum qr_mreg_phase ph = prepare_all(r, &p);
		if (ph == QR_MREG_PREPARING)
			return no_majority(r);
		if (ph == QR_MREG_READ) {
			struct qr_mreg_value cur = qr_mreg_base(&p), next;
			int rc = f(&cur, &next, arg);
			if (rc)
				return rc;
			qr_mreg_propose(&p, &next);
			ph = accept_all(r, &p);
			if (ph == QR_MREG_CHOSEN) {
				r->ballot = p.ballot;
				r->chosen = next;
				return 0;
			}
			if (ph == QR_MREG_ACCEPTING && r->refusal[0])
				return fail(EXIT_PRECONDITION, QR_EINVAL,
					    r->what, "the value was refused: "
					    "%s", r->refusal);
			if (ph == QR_MREG_ACCEPTING)
				return no_majority(r);
		}
		round = qr_mreg_next_round(&p); /* RETRY */
	}
	return fail(EXIT_PRECONDITION, QR_EPRECONDITION, r->what,
		    "the membership register was taken by a higher ballot %d "
		    "times (another `quorate node` running?): rerun",
		    REG_TRIES);
}

int reg_learn(struct reg_round *r, int id, char *msg, size_t n)
{
	char req[160], b[48];
	struct qr_mreg_ballot got;
	struct qr_mreg_value v;
	qr_mreg_ballot_str(r->ballot, b, sizeof(b));
	snprintf(req, sizeof(req), "register accept %s %" PRIu64 " %" PRIx64
		 " %" PRIx64 "\n", b, r->chosen.epoch, r->chosen.owners,
		 r->chosen.pending);
	int a = reg_ask(r, id, req, &got, &v, msg, n);
	if (a == 1 || (a == 0 && qr_mreg_value_eq(&v, &r->chosen)))
		return 0; /* it holds the value (re-chosen at a higher ballot) */
	if (a == 0)
		snprintf(msg, n, "the register promised a higher ballot (%"
			 PRIu64 ") meanwhile: another `quorate node` is "
			 "deciding", got.round);
	return a == 0 ? QR_EPRECONDITION : QR_EUNAVAILABLE;
}
