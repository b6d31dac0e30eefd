/* SPDX-License-Identifier: MIT */
/*
 * Shared CUnit runner for tests/unit: each test program lists its cases in a
 * NULL-terminated array and calls qr_unit_main(). Exit status is the number
 * of failed assertions (0: all passed), so meson sees failures.
 */
#ifndef QR_TESTS_UNIT_H
#define QR_TESTS_UNIT_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

struct qr_unit_case {
	const char *name;
	void (*fn)(void);
};

static inline int qr_unit_main(const char *suite_name,
			       const struct qr_unit_case *cases)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite(suite_name, NULL, NULL);
	if (!s)
		return 1;
	for (const struct qr_unit_case *c = cases; c->name; c++)
		if (!CU_add_test(s, c->name, c->fn))
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (ran == 0)
		return 1; /* a suite that ran nothing is a failure */
	return failed ? 1 : 0;
}

#endif
