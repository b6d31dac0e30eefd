/* SPDX-License-Identifier: MIT */
/*
 * Corruption test: copies of a log (several segments, one durable batch at
 * a time, so every batch records its predecessor as synced) are truncated,
 * bit-flipped, overwritten or zeroed at random offsets, then recovered.
 * Recovery must never crash, and:
 *  - damage to a batch that is not the last one: refused (QR_ECORRUPT, a
 *    message "<file>: offset N: ...") or harmless (all records back);
 *  - damage to the last batch or after it (or random bytes that spill from
 *    the batch before into the last one): a torn tail, cut, with every
 *    earlier batch back;
 *  - whatever it returns is intact (CRC-checked, compared byte for byte)
 *    and contiguous from lsn 1; after a cut, recovery is clean;
 *  - truncate_corrupt turns a refusal into a cut at the named offset.
 *   test_wal_corrupt [--cases N] [--seed S]
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "quorate/err.h"
#include "common/compiler.h"
#include "wal/wal_format.h"
#include "wal_test.h"

#define KEYS 1000u
#define VMAX 300u
#define TOTAL 3000u

struct extent {
	int file;
	uint64_t off, len;
	uint64_t first, last;
};

static char names[64][256]; /* d_name is at most 256 bytes */
static int nfiles;
static struct extent ext[4096];
static int next_ext;

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void list_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	nfiles = 0;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".seg") && nfiles < 64)
			snprintf(names[nfiles++], sizeof(names[0]), "%s",
				 e->d_name);
	closedir(d);
	qsort(names, (size_t)nfiles, sizeof(names[0]), cmpstr);
}

static uint8_t *slurp(const char *path, uint64_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	uint8_t *p = malloc((size_t)st.st_size + 1);
	*len = (uint64_t)pread(fd, p, (size_t)st.st_size, 0);
	close(fd);
	return p;
}

static void spit(const char *path, const uint8_t *p, uint64_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (pwrite(fd, p, len, 0) != (ssize_t)len)
		abort();
	close(fd);
}

/* Batch extents of the pristine log (trusted: we just wrote it). */
static void map_extents(const char *dir)
{
	next_ext = 0;
	for (int f = 0; f < nfiles; f++) {
		char path[QR_PATH_BYTES_MAX];
		uint64_t len;
		wt_path(path, sizeof(path), dir, names[f]);
		uint8_t *p = slurp(path, &len);
		for (uint64_t pos = 4096; pos + 4096 <= len;) {
			struct qr_wal_batch_hdr h;
			memcpy(&h, p + pos, sizeof(h));
			if (h.magic != QR_WAL_BATCH_MAGIC)
				break;
			ext[next_ext++] = (struct extent){ f, pos,
				h.padded_bytes, h.first_lsn, h.last_lsn };
			pos += h.padded_bytes;
		}
		free(p);
	}
}

/* Index of the batch holding (file, off), or -1 (outside data). */
static int extent_at(int f, uint64_t off)
{
	for (int i = 0; i < next_ext; i++)
		if (ext[i].file == f && off >= ext[i].off &&
		    off < ext[i].off + ext[i].len)
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	uint32_t cases = 400;
	uint64_t seed = (uint64_t)time(NULL);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cases"))
			cases = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
	}
	printf("wal-corrupt: %u cases, seed %llu\n", cases,
	       (unsigned long long)seed);
	uint64_t x = seed * 2654435761u + 1;

	/* The pristine log: one durable batch of 1..40 records at a time. */
	char *base = wt_tmpdir();
	struct qr_wal_config cfg;
	struct qr_wal *w;
	qr_wal_config_defaults(&cfg);
	cfg.dir = base;
	cfg.segment_bytes = 64 << 10;
	cfg.value_bytes_max = QR_VALUE_INLINE_MAX;
	cfg.batch_bytes_max = 16 << 10;
	cfg.batches_inflight_max = 1;
	if (qr_wal_open(&cfg, &w))
		return 1;
	for (uint64_t l = 1; l <= TOTAL;) {
		uint64_t n = 1 + rnd(&x) % 40;
		if (l + n - 1 > TOTAL)
			n = TOTAL - l + 1;
		if (wt_append_range(w, l, l + n - 1, KEYS, VMAX, NULL))
			return 1;
		l += n;
	}
	if (qr_wal_close(w, NULL))
		return 1;
	list_segments(base);
	map_extents(base);
	printf("wal-corrupt: %d segments, %d batches\n", nfiles, next_ext);

	char *work = wt_tmpdir();
	uint64_t refused = 0, torn = 0, harmless = 0, failures = 0;
	for (uint32_t c = 0; c < cases && failures < 5; c++) {
		/* Fresh copy. */
		char path[QR_PATH_BYTES_MAX], victim[QR_PATH_BYTES_MAX];
		for (int f = 0; f < nfiles; f++) {
			uint64_t len;
			wt_path(path, sizeof(path), base, names[f]);
			uint8_t *p = slurp(path, &len);
			wt_path(path, sizeof(path), work, names[f]);
			spit(path, p, len);
			free(p);
		}
		int f = (int)(rnd(&x) % (uint64_t)nfiles);
		uint64_t len;
		wt_path(victim, sizeof(victim), work, names[f]);
		uint8_t *p = slurp(victim, &len);
		/* Aim at data most of the time: damage near the extents. */
		uint64_t span = len;
		for (int i = next_ext - 1; i >= 0; i--)
			if (ext[i].file == f) {
				span = ext[i].off + ext[i].len + 4096;
				break;
			}
		if (rnd(&x) % 4 == 0 || span > len)
			span = len;
		uint64_t off = rnd(&x) % span, mlen = 1;
		int kind = (int)(rnd(&x) % 4);
		switch (kind) {
		case 0: /* truncate */
			mlen = len - off;
			break;
		case 1: /* flip 1..8 bits in one byte */
			p[off] ^= (uint8_t)(1 + rnd(&x) % 255);
			break;
		case 2: /* random bytes */
			mlen = QR_MIN(1 + rnd(&x) % 600, len - off);
			for (uint64_t i = 0; i < mlen; i++)
				p[off + i] = (uint8_t)rnd(&x);
			break;
		default: /* zero a block */
			off &= ~4095ull;
			mlen = QR_MIN(4096u, len - off);
			memset(p + off, 0, mlen);
		}
		spit(victim, p, kind == 0 ? off : len);
		free(p);

		int e = extent_at(f, off);
		/* The first batch the damage can reach (a truncation cuts
		 * everything after it in that file too). */
		if (e < 0 && kind == 0) {
			for (int i = 0; i < next_ext; i++)
				if (ext[i].file == f && ext[i].off >= off) {
					e = i;
					break;
				}
		}
		if (e < 0 && off < 4096)
			for (int i = 0; i < next_ext; i++)
				if (ext[i].file == f) {
					e = i; /* the segment header */
					break;
				}
		uint64_t keep_min = e < 0 ? TOTAL : ext[e].first - 1;
		/* A truncation of the last file removes every batch after
		 * the cut too: that is a tail. */
		bool last = e == next_ext - 1 ||
			    (kind == 0 && ext[next_ext - 1].file == f) ||
			    extent_at(f, off + mlen - 1) == next_ext - 1;

		struct wt_table t;
		struct qr_wal_recover_stats st;
		wt_table_init(&t, KEYS, VMAX);
		int rc = qr_wal_recover(work, 0, NULL, wt_table_recover, &t,
					&st);
		bool bad = false;
		if (rc != 0 && rc != QR_ECORRUPT)
			bad = true;
		if (t.bad)
			bad = true;
		if (rc == 0 && st.records != st.last_lsn)
			bad = true; /* not contiguous from 1 */
		if (rc == 0 && st.last_lsn < keep_min)
			bad = true; /* lost a batch before the damage */
		if (rc == 0 && e >= 0 && !last && st.last_lsn != TOTAL)
			bad = true; /* mid-log damage must be refused */
		if (rc == QR_ECORRUPT && (e < 0 || last))
			bad = true; /* tail damage is a tear */
		if (rc == QR_ECORRUPT &&
		    (!strstr(st.message, work) ||
		     !strstr(st.message, ": offset ")))
			bad = true;
		if (bad) {
			fprintf(stderr, "case %u: kind %d file %s off %llu "
				"batch %d/%d: rc %s last %llu records %llu "
				"bad %llu: %s\n", c, kind, names[f],
				(unsigned long long)off, e, next_ext,
				qr_strerror(rc),
				(unsigned long long)st.last_lsn,
				(unsigned long long)st.records,
				(unsigned long long)t.bad, st.message);
			failures++;
		}
		if (rc == QR_ECORRUPT) {
			refused++;
			struct qr_wal_recover_options o = {
				.truncate_corrupt = true };
			wt_table_free(&t);
			wt_table_init(&t, KEYS, VMAX);
			rc = qr_wal_recover(work, 0, &o, wt_table_recover, &t,
					    &st);
			if (rc || !st.corrupt_truncated || t.bad) {
				fprintf(stderr, "case %u: truncate_corrupt "
					"failed: %s\n", c, st.message);
				failures++;
			}
		} else if (st.torn_tail_truncated) {
			torn++;
		} else {
			harmless++;
		}
		/* After any cut, the log is clean. */
		uint64_t last_lsn = st.last_lsn;
		wt_table_free(&t);
		wt_table_init(&t, KEYS, VMAX);
		rc = qr_wal_recover(work, 0, NULL, wt_table_recover, &t, &st);
		if (rc || st.torn_tail_truncated || st.last_lsn != last_lsn) {
			fprintf(stderr, "case %u: second recovery not clean: "
				"%s %s\n", c, qr_strerror(rc), st.message);
			failures++;
		}
		wt_table_free(&t);
		/* Empty the work dir for the next case. */
		DIR *d = opendir(work);
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			wt_path(path, sizeof(path), work, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	printf("wal-corrupt: %s: %llu refused, %llu torn tails cut, %llu "
	       "harmless\n", failures ? "FAILED" : "ok",
	       (unsigned long long)refused, (unsigned long long)torn,
	       (unsigned long long)harmless);
	wt_rmdir(work);
	wt_rmdir(base);
	return failures ? 1 : 0;
}
