/* SPDX-License-Identifier: MIT */
/*
 * Checker (g) on its own: tiny histories it must accept and reject, so that
 * a checker that says yes to everything cannot pass the simulator suite.
 */
#include <stdio.h>
#include <string.h>

#include "core/wire.h"
#include "quorate/err.h"
#include "sim/lincheck.h"

static int failures;

#define EXPECT(cond, what)                                                     \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s\n", what);                    \
			failures++;                                            \
		} else {                                                       \
			printf("ok   %s\n", what);                             \
		}                                                              \
	} while (0)

static const struct qr_version none = {0, 0};

static void op(struct lincheck *l, uint8_t o, uint64_t val,
	       struct qr_version exp, uint64_t b, uint64_t e, int status,
	       uint64_t ret_val, struct qr_version ret_ver)
{
	int i = lin_begin(l, 0, o, val, exp, b);
	if (e)
		lin_end(l, 0, i, e, status, ret_val, ret_ver);
}

static bool verdict(struct lincheck *l)
{
	char d[512];
	bool ok = lin_check_key(l, 0, d, sizeof(d));
	if (!ok)
		printf("     (%s)\n", d);
	return ok;
}

int main(void)
{
	struct lincheck l;
	struct qr_version v1 = {100, 1}, v2 = {200, 2}, v3 = {300, 1};

	/* Two overlapping registrations, one wins: linearizable. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 10, 0, 0, v1);
	op(&l, QR_OP_PUT_IF_ABSENT, 22, none, 5, 15, QR_EPRECONDITION, 0, v1);
	op(&l, QR_OP_LIN_GET, 0, none, 20, 30, 0, 11, v1);
	EXPECT(verdict(&l), "one winner of put-if-absent is accepted");
	lin_fini(&l);

	/* Two winners of put-if-absent: rejected. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 10, 0, 0, v1);
	op(&l, QR_OP_PUT_IF_ABSENT, 22, none, 5, 15, 0, 0, v2);
	EXPECT(!verdict(&l), "two winners of put-if-absent are rejected");
	lin_fini(&l);

	/* A read after a completed write that misses it: rejected. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 10, 0, 0, v1);
	op(&l, QR_OP_LIN_GET, 0, none, 20, 30, QR_ENOTFOUND, 0, none);
	EXPECT(!verdict(&l), "a stale linearizable read is rejected");
	lin_fini(&l);

	/* ... but it may miss a write that is concurrent with it. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 30, 0, 0, v1);
	op(&l, QR_OP_LIN_GET, 0, none, 10, 20, QR_ENOTFOUND, 0, none);
	EXPECT(verdict(&l), "a read concurrent with a write may miss it");
	lin_fini(&l);

	/* Two compare-and-sets from the same version: only one may win. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 10, 0, 0, v1);
	op(&l, QR_OP_PUT_IF_VERSION, 22, v1, 20, 40, 0, 0, v2);
	op(&l, QR_OP_PUT_IF_VERSION, 33, v1, 25, 45, 0, 0, v3);
	EXPECT(!verdict(&l), "two CAS winners from one version are rejected");
	lin_fini(&l);

	/* An op with an unknown outcome may explain a later read... */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 0, 0, 0, none);
	op(&l, QR_OP_LIN_GET, 0, none, 50, 60, 0, 11, v1);
	op(&l, QR_OP_PUT_IF_VERSION, 22, v1, 70, 80, 0, 0, v2);
	EXPECT(verdict(&l), "an unanswered write may have taken effect");
	lin_fini(&l);

	/* ... or not have happened at all, but a value nobody wrote is
	 * never explained. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 0, 0, 0, none);
	op(&l, QR_OP_LIN_GET, 0, none, 50, 60, QR_ENOTFOUND, 0, none);
	op(&l, QR_OP_LIN_GET, 0, none, 70, 80, 0, 99, v1);
	EXPECT(!verdict(&l), "a value nobody wrote is rejected");
	lin_fini(&l);

	/* A precondition that fails although the state is at the version
	 * the op names (and the answer says so): rejected. */
	lin_init(&l, 1);
	op(&l, QR_OP_PUT_IF_ABSENT, 11, none, 0, 10, 0, 0, v1);
	op(&l, QR_OP_PUT_IF_VERSION, 22, v1, 20, 30, QR_EPRECONDITION, 0, v1);
	EXPECT(!verdict(&l), "a wrongly failed CAS is rejected");
	lin_fini(&l);

	return failures ? 1 : 0;
}
