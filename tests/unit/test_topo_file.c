/* SPDX-License-Identifier: MIT */
/*
 * The topology file (src/common/topo_file.h): a save loads back the same
 * values, no file is NOT_FOUND, any changed byte or a non-canonical text
 * is CORRUPT with the path in the message (F1), and the validity check
 * refuses each bad shape by name (F3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/topo_file.h"
#include "quorate/err.h"
#include "unit.h"

static char dir[64], file[96];

static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/qr-test-topo-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(file, sizeof(file), "%s/topology", dir);
	unlink(file);
}

static void put_text(const char *text, size_t n)
{
	FILE *f = fopen(file, "w");
	CU_ASSERT_FATAL(f != NULL);
	fwrite(text, 1, n, f);
	fclose(f);
}

static size_t get_text(char *buf, size_t cap)
{
	FILE *f = fopen(file, "r");
	CU_ASSERT_FATAL(f != NULL);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	return n;
}

static void save_then_load(void)
{
	setup_dir();
	struct qr_topo_state t = {0}, in = {7, 0x7, 0x1e, true};
	char err[512];
	CU_ASSERT_EQUAL(qr_topo_file_load(dir, &t, err, sizeof(err)),
			QR_ENOTFOUND);
	CU_ASSERT_EQUAL(qr_topo_file_save(dir, &in, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(qr_topo_file_load(dir, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.epoch, 7);
	CU_ASSERT_EQUAL(t.owners, 0x7);
	CU_ASSERT_EQUAL(t.pending, 0x1e);
	CU_ASSERT(t.streaming);
	in = (struct qr_topo_state){UINT64_MAX, ~0ull, 0, false};
	CU_ASSERT_EQUAL(qr_topo_file_save(dir, &in, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(qr_topo_file_load(dir, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.epoch, UINT64_MAX);
	CU_ASSERT_EQUAL(t.owners, ~0ull);
	CU_ASSERT_EQUAL(t.pending, 0);
	CU_ASSERT(!t.streaming);
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s/topology.tmp", dir);
	CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0); /* renamed away */
}

static void expect_corrupt(const char *what)
{
	struct qr_topo_state t = {0};
	char err[512];
	int rc = qr_topo_file_load(dir, &t, err, sizeof(err));
	if (rc != QR_ECORRUPT)
		fprintf(stderr, "\n  %s: rc %d\n", what, rc);
	CU_ASSERT_EQUAL(rc, QR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, file));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "corrupt"));
	CU_ASSERT_EQUAL(t.epoch, 0); /* nothing loaded */
}

/* Every single byte changed (F1), a cut, a tail, an empty file. */
static void any_change_is_corrupt(void)
{
	setup_dir();
	struct qr_topo_state in = {3, 0x7, 0xf, false};
	char err[512], good[512], bad[512];
	CU_ASSERT_EQUAL_FATAL(qr_topo_file_save(dir, &in, err, sizeof(err)), 0);
	size_t n = get_text(good, sizeof(good));
	CU_ASSERT_FATAL(n > 100);
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, good, n);
		bad[i] ^= 0x01;
		put_text(bad, n);
		expect_corrupt("a flipped bit");
	}
	put_text(good, n - 1);
	expect_corrupt("cut short");
	memcpy(bad, good, n);
	memcpy(bad + n, "x\n", 2);
	put_text(bad, n + 2);
	expect_corrupt("a tail");
	put_text("", 0);
	expect_corrupt("empty");
	put_text(good, n);
	struct qr_topo_state t;
	CU_ASSERT_EQUAL(qr_topo_file_load(dir, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.pending, 0xf);
	unlink(file);
	rmdir(dir);
}

static void expect_invalid(struct qr_topo_state t, const char *want)
{
	char err[256] = "";
	CU_ASSERT_EQUAL(qr_topo_state_check(&t, 6, 3, err, sizeof(err)),
			QR_EINVAL);
	if (!strstr(err, want))
		fprintf(stderr, "\n  want '%s' in '%s'\n", want, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void check_names_each_problem(void)
{
	char err[256];
	struct qr_topo_state ok = {1, 0x7, 0, false};
	CU_ASSERT_EQUAL(qr_topo_state_check(&ok, 6, 3, err, sizeof(err)), 0);
	ok = (struct qr_topo_state){2, 0x7, 0xf, true};
	CU_ASSERT_EQUAL(qr_topo_state_check(&ok, 6, 3, err, sizeof(err)), 0);
	expect_invalid((struct qr_topo_state){0, 0x7, 0, false}, "epoch 0");
	expect_invalid((struct qr_topo_state){1, 0x47, 0, false},
		       "beyond the cluster file's node slots");
	expect_invalid((struct qr_topo_state){1, 0x7, 0x40, false},
		       "beyond the cluster file's node slots");
	expect_invalid((struct qr_topo_state){1, 0x3, 0, false},
		       "fewer owners");
	expect_invalid((struct qr_topo_state){1, 0x7, 0x3, false},
		       "fewer pending");
	expect_invalid((struct qr_topo_state){1, 0x7, 0x7, false},
		       "no change");
	expect_invalid((struct qr_topo_state){1, 0x7, 0, true},
		       "streaming without");
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"save_then_load", save_then_load},
		{"any_change_is_corrupt", any_change_is_corrupt},
		{"check_names_each_problem", check_names_each_problem},
		{NULL, NULL},
	};
	return qr_unit_main("topo_file", cases);
}
