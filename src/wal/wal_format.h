/* SPDX-License-Identifier: MIT */
/*
 * The WAL's on-disk formats (docs/wal.md is the reference) and the
 * in-memory parsers that recovery, the tests and the fuzz target share.
 * Everything is little-endian (x86-64 and arm64 both are; asserted).
 *
 * Segment file  "wal-<shard %04u>-<seq %016x>.seg", preallocated:
 *   block 0      struct qr_wal_seg_hdr, rest of the block zero
 *   block 1...   batches, each 4096-aligned: struct qr_wal_batch_hdr,
 *                records (8-aligned), zero padding to the next block
 *   then zeros (fallocate) up to the segment size
 * Snapshot file "snap-<shard %04u>-<begin lsn %016x>.snap":
 *   block 0      struct qr_wal_snap_hdr
 *   block 1...   batches as above, numbered by entry ordinal instead of lsn
 *   last         a batch header with magic QR_WAL_SNAP_END_MAGIC and no
 *                records: entries in first_lsn, end lsn in last_lsn
 *
 * Formats: the writer writes format 2 (records carry a 32-bit value_len,
 * values up to QR_VALUE_BYTES_MAX) and snapshot format 3 (whose batches are
 * format 2). The reader also reads format 1 (16-bit value_len) and snapshot
 * format 2 (format-1 batches), so a node upgraded in place restarts from
 * its WAL; each batch header names its format, and its records are read by
 * that layout.
 *
 * Invariants checked on write and on read: every header and record has a
 * CRC32C; batch lsns are contiguous and match the records'; each batch
 * records the writer's synced lsn at submit time, which is how recovery
 * tells a crash tear (only unsynced batches follow the hole) from
 * corruption of durable data (a later batch was submitted after the hole's
 * data was known durable).
 */
#ifndef QR_WAL_FORMAT_H
#define QR_WAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "quorate/limits.h"
#include "wal/wal.h" /* struct qr_wal_clock */

#define QR_WAL_FORMAT_VERSION 2u      /* segments and batches written: 2
				       * moves value_len to 32 bits */
#define QR_WAL_FORMAT_V1 1u           /* read only: 16-bit value_len */
#define QR_WAL_SNAP_FORMAT_VERSION 3u /* snapshot header written: 3 holds
				       * format-2 batches (2 added the clock,
				       * with format-1 batches; still read) */
#define QR_WAL_SNAP_FORMAT_V2 2u      /* read only */
#define QR_WAL_BLOCK_BYTES 4096u /* alignment of batches (O_DIRECT) */
#define QR_WAL_SEG_MAGIC 0x4745534c41575251ull  /* "QRWALSEG" */
#define QR_WAL_SNAP_MAGIC 0x50414e534c415751ull /* "QWLSNAP" + 'P' */
#define QR_WAL_BATCH_MAGIC 0x42574c51u          /* "QLWB" */
#define QR_WAL_SNAP_BATCH_MAGIC 0x53574c51u     /* "QLWS" */
#define QR_WAL_SNAP_END_MAGIC 0x45574c51u       /* "QLWE" */
#define QR_WAL_RECORD_ALIGN 8u
#define QR_WAL_SEGMENT_BYTES_MAX (1ull << 32)   /* 4 GiB */
#define QR_WAL_SNAPSHOT_BYTES_MAX (1ull << 40)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the WAL formats are little-endian");

struct qr_wal_seg_hdr {
	uint32_t crc;           /* CRC32C of bytes [4, sizeof) */
	uint32_t format;        /* QR_WAL_FORMAT_VERSION */
	uint64_t magic;         /* QR_WAL_SEG_MAGIC */
	uint64_t seq;           /* segment sequence number, as in the name */
	uint64_t first_lsn;     /* lsn of the first record in the segment */
	uint64_t segment_bytes; /* preallocated size */
	uint16_t shard;
	uint16_t reserved16;    /* 0 */
	uint32_t flags;         /* QR_WAL_SEG_* */
};
_Static_assert(sizeof(struct qr_wal_seg_hdr) == 48, "segment header");

/* The file held an older segment of this run (recycled after a snapshot
 * instead of zeroed): past the new data it holds old batches (another seq)
 * and pieces of them, which are old content, not damage. */
#define QR_WAL_SEG_RECYCLED 0x1u

struct qr_wal_batch_hdr {
	uint32_t crc;          /* CRC32C of bytes [4, sizeof) */
	uint32_t magic;        /* QR_WAL_BATCH_MAGIC / _SNAP_ / _SNAP_END_ */
	uint64_t first_lsn;    /* first record's lsn (snapshot: ordinal) */
	uint64_t last_lsn;     /* first_lsn + records - 1 */
	uint64_t synced_lsn;   /* writer's lsn known on disk at submit */
	uint64_t seq;          /* segment seq (snapshot: begin lsn) */
	uint32_t records;      /* >= 1 (0 only in a snapshot end marker) */
	uint32_t data_bytes;   /* record bytes after this header */
	uint32_t padded_bytes; /* whole batch, multiple of the block */
	uint16_t shard;
	uint16_t format;       /* QR_WAL_FORMAT_VERSION */
	uint64_t reserved;     /* 0 */
};
_Static_assert(sizeof(struct qr_wal_batch_hdr) == 64, "batch header");

/* The record header, format 2. Format 1 had the value length in the u16
 * at offset 30 (value_len16) and the u32 at offset 36 reserved (0); format
 * 2 keeps the 40 bytes and the offsets of every other field, so the only
 * difference is where value_len lives. */
struct qr_wal_rec_hdr {
	uint32_t crc;       /* CRC32C of bytes [4, len) */
	uint32_t len;       /* header + key + value (+ type-specific) */
	uint64_t lsn;
	uint64_t hlc;       /* version */
	uint32_t partition;
	uint16_t node;      /* version */
	uint16_t value_len16; /* format 1: value_len; format 2: 0 */
	uint8_t type;       /* enum qr_wal_type */
	uint8_t key_len;    /* >= 1 */
	uint16_t aux;       /* type-specific (QR_WAL_HINT: target node) */
	uint32_t value_len; /* format 2: <= QR_VALUE_BYTES_MAX; format 1: 0 */
	/* key, value, zero padding to QR_WAL_RECORD_ALIGN */
};
_Static_assert(sizeof(struct qr_wal_rec_hdr) == 40, "record header");
_Static_assert(offsetof(struct qr_wal_rec_hdr, value_len16) == 30 &&
	       offsetof(struct qr_wal_rec_hdr, value_len) == 36,
	       "format 1 and 2 share every other offset");

struct qr_wal_snap_hdr {
	uint32_t crc;       /* CRC32C of bytes [4, sizeof) */
	uint32_t format;    /* QR_WAL_SNAP_FORMAT_VERSION */
	uint64_t magic;     /* QR_WAL_SNAP_MAGIC */
	uint64_t begin_lsn; /* replay the log from here */
	uint32_t partitions;
	uint16_t shard;
	uint16_t clock_node; /* version node of the clock ceiling */
	uint64_t clock_hlc; /* highest QR_WAL_CLOCK ceiling logged below
			     * begin_lsn (0: none); recovery hands it back as
			     * a QR_WAL_CLOCK record before the entries */
	uint64_t clock_lsn; /* lsn of the record that logged it */
	uint64_t reserved;  /* 0 */
};
_Static_assert(sizeof(struct qr_wal_snap_hdr) == 56, "snapshot header");

static inline uint64_t qr_wal_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Bytes a record takes in a batch. 64-bit: no vlen can wrap it (a caller
 * checks vlen against its limit, this never lies about a hostile one). */
static inline uint64_t qr_wal_record_bytes(uint8_t key_len, uint32_t vlen)
{
	return qr_wal_align_up(sizeof(struct qr_wal_rec_hdr) + key_len +
			       (uint64_t)vlen, QR_WAL_RECORD_ALIGN);
}

/* The largest record: the longest key and a value of QR_VALUE_BYTES_MAX. */
#define QR_WAL_RECORD_BYTES_MAX                                                \
	(((uint64_t)sizeof(struct qr_wal_rec_hdr) + QR_KEY_BYTES_MAX +         \
	  QR_VALUE_BYTES_MAX + QR_WAL_RECORD_ALIGN - 1) &                      \
	 ~(uint64_t)(QR_WAL_RECORD_ALIGN - 1))

/* Encode rec at dst (qr_wal_record_bytes() of room) in the format written;
 * returns the bytes. rec->value_len <= QR_VALUE_BYTES_MAX (asserted). */
uint32_t qr_wal_record_encode(void *dst, const struct qr_wal_record *rec);
/*
 * Encode only rec's header (the 40 bytes, CRC included) at dst, for a
 * writer that copies the key and value itself in pieces (a snapshot entry
 * larger than a snapshot buffer); the CRC covers the key and value read
 * from rec. Returns qr_wal_record_bytes(); the record's zero padding is
 * the caller's.
 */
uint32_t qr_wal_record_encode_header(struct qr_wal_rec_hdr *dst,
				     const struct qr_wal_record *rec);
/* Finish a batch header (computes the CRC). */
void qr_wal_batch_hdr_seal(struct qr_wal_batch_hdr *h);
void qr_wal_seg_hdr_seal(struct qr_wal_seg_hdr *h);
void qr_wal_snap_hdr_seal(struct qr_wal_snap_hdr *h);

/* One file's bytes, for the parsers. */
struct qr_wal_image {
	const char *name;   /* for messages: a path (< QR_PATH_BYTES_MAX) */
	uint64_t seq;       /* from the file name */
	const uint8_t *data;
	uint64_t len;
};

typedef int (*qr_wal_record_fn)(void *arg, const struct qr_wal_record *rec);

struct qr_wal_parse_result {
	uint64_t records;         /* delivered */
	uint64_t records_skipped; /* valid, below snapshot_lsn */
	uint64_t last_lsn;        /* last valid lsn (snapshot_lsn - 1 min) */
	bool torn;                /* a tail to cut (no durable data after) */
	bool corrupt;             /* a hole with durable data after it */
	uint32_t cut_image;       /* where the log ends: cut here */
	uint64_t cut_offset;
	uint32_t last_data_image; /* images after it hold nothing valid */
	bool has_data;            /* some image holds a delivered batch */
	uint64_t dropped_batches; /* valid batches after the hole */
	uint64_t garbage_ignored; /* junk outside the data sequence */
	char message[QR_WAL_MESSAGE_BYTES]; /* "<file>: offset N: <reason>" */
};

/*
 * Parse log segments (in seq order) of shard, delivering every valid
 * record with lsn >= snapshot_lsn (0: no snapshot; then the log must start
 * at lsn 1) to fn, in lsn order. Total: any bytes give a result, never a
 * crash. Returns 0 (clean or torn tail: see res), QR_ECORRUPT (res->message
 * says where), QR_EDATADIR (a valid segment header of a format this build
 * does not read: never cut as a tear), or fn's non-zero value.
 */
int qr_wal_parse_log(const struct qr_wal_image *imgs, uint32_t n,
		     uint16_t shard, uint64_t snapshot_lsn, qr_wal_record_fn fn,
		     void *arg, struct qr_wal_parse_result *res);

struct qr_wal_snap_info {
	uint64_t begin_lsn;
	struct qr_wal_clock clock; /* the header's clock ceiling */
	uint64_t end_lsn;
	uint64_t entries;
	uint32_t partitions;
	char message[QR_WAL_MESSAGE_BYTES];
};
/* Parse a snapshot file, delivering its clock ceiling (if any, as a
 * QR_WAL_CLOCK record with key "\0") and then its entries. 0, QR_ECORRUPT (message
 * names file and offset), QR_EDATADIR (a newer snapshot format) or fn's
 * value. Total like qr_wal_parse_log(). */
int qr_wal_parse_snapshot(const struct qr_wal_image *img, uint16_t shard,
			  qr_wal_record_fn fn, void *arg,
			  struct qr_wal_snap_info *info);

#endif
