/* SPDX-License-Identifier: MIT */
/*
 * WAL record/batch encoding and the total parsers for segments and
 * snapshots (docs/wal.md). No I/O here: recovery, the tests and the fuzz
 * target hand in bytes.
 *
 * Parser invariants: every length is checked against the bytes that remain
 * before it is used; a batch is delivered only once all of its records are
 * valid (a batch is the unit of acknowledgement, so a half-valid batch was
 * never acknowledged); nothing after the first hole in the lsn sequence is
 * delivered.
 *
 * Tear or corruption: when the sequence breaks at lsn H (garbage, a
 * missing batch, a segment that does not continue), every later valid
 * batch is checked: a crash can only leave batches that were submitted
 * while H was not yet on disk, i.e. with synced_lsn < H. A later batch with
 * synced_lsn >= H proves H had been durable: that is corruption, refused.
 * Otherwise it is a torn tail, cut at the hole.
 *
 * Numbered invariants, each checked on write (QR_ASSERT: an internal bug)
 * and on read (a named error: the bytes may be hostile, never an abort):
 *  F1. a record is well formed: type in 1..QR_WAL_TYPE_MAX, key_len >= 1,
 *      value_len <= QR_VALUE_BYTES_MAX, the length field of the other
 *      format is 0, a tombstone has no value, len = header + key + value.
 *      Write: asserted in header_of (the appender refused anything else).
 *      Read: check_records, "inconsistent record", by the layout of the
 *      batch's format (1 or 2: wal_format.h).
 *  F2. a batch header is consistent: first..last holds exactly records lsns
 *      (or none: the snapshot end marker), data fits the padded extent, the
 *      extent is whole blocks. Write: asserted in qr_wal_batch_hdr_seal.
 *      Read: check_batch_header, "inconsistent batch header".
 *  F3. only a batch whose header and every record checked is delivered,
 *      record by record within its data (deliver asserts it walks exactly
 *      data_bytes and records); read side of F1 and F2.
 *  F4. delivered lsns are contiguous from the log's first: a batch is
 *      delivered only when it starts at the expected lsn (asserted in
 *      deliver_batch), and last_lsn follows it.
 *  F5. a message names its file in full: message buffers hold two paths
 *      and a reason (QR_WAL_MESSAGE_BYTES), asserted in say().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"
#include "common/crc32c.h"
#include "quorate/err.h"
#include "wal/wal_format.h"

#define HDR_CRC(h) qr_crc32c(0, (const uint8_t *)(h) + 4, sizeof(*(h)) - 4)

/* The header fields of rec in format 2 (CRC left to the caller); F1 on
 * the write side. Returns len. */
static uint32_t header_of(struct qr_wal_rec_hdr *h,
			  const struct qr_wal_record *rec)
{
	QR_ASSERT(rec->type >= QR_WAL_PUT && rec->type <= QR_WAL_TYPE_MAX &&
		  rec->key_len >= 1 && rec->value_len <= QR_VALUE_BYTES_MAX &&
		  !(rec->type == QR_WAL_TOMBSTONE && rec->value_len)); /* F1 */
	uint32_t len = (uint32_t)sizeof(*h) + rec->key_len + rec->value_len;
	*h = (struct qr_wal_rec_hdr){
		.len = len,
		.lsn = rec->lsn,
		.hlc = rec->version.hlc,
		.partition = rec->partition,
		.node = rec->version.node,
		.value_len16 = 0,
		.type = rec->type,
		.key_len = rec->key_len,
		.aux = rec->aux,
		.value_len = rec->value_len,
	};
	return len;
}

uint32_t qr_wal_record_encode(void *dst, const struct qr_wal_record *rec)
{
	struct qr_wal_rec_hdr *h = dst;
	uint32_t len = header_of(h, rec);
	uint32_t bytes = (uint32_t)qr_wal_record_bytes(rec->key_len,
						       rec->value_len);
	uint8_t *p = (uint8_t *)(h + 1);

	memcpy(p, rec->key, rec->key_len);
	if (rec->value_len)
		memcpy(p + rec->key_len, rec->value, rec->value_len);
	memset(p + rec->key_len + rec->value_len, 0, bytes - len);
	h->crc = qr_crc32c(0, (const uint8_t *)h + 4, len - 4);
	return bytes;
}

uint32_t qr_wal_record_encode_header(struct qr_wal_rec_hdr *dst,
				     const struct qr_wal_record *rec)
{
	header_of(dst, rec);
	/* CRC32C continues over pieces: the same value as over the record
	 * laid out whole. */
	uint32_t crc = qr_crc32c(0, (const uint8_t *)dst + 4,
				 sizeof(*dst) - 4);
	crc = qr_crc32c(crc, rec->key, rec->key_len);
	if (rec->value_len)
		crc = qr_crc32c(crc, rec->value, rec->value_len);
	dst->crc = crc;
	return (uint32_t)qr_wal_record_bytes(rec->key_len, rec->value_len);
}

void qr_wal_batch_hdr_seal(struct qr_wal_batch_hdr *h)
{
	/* F2: what check_batch_header() demands of it on the way back. */
	QR_ASSERT(h->padded_bytes && h->padded_bytes % QR_WAL_BLOCK_BYTES == 0);
	QR_ASSERT(h->data_bytes <= h->padded_bytes - sizeof(*h) &&
		  h->data_bytes % QR_WAL_RECORD_ALIGN == 0);
	QR_ASSERT(h->records ? h->first_lsn &&
				       h->last_lsn - h->first_lsn + 1 ==
					       h->records :
			       h->magic == QR_WAL_SNAP_END_MAGIC);
	h->crc = HDR_CRC(h);
}

void qr_wal_seg_hdr_seal(struct qr_wal_seg_hdr *h)
{
	h->crc = HDR_CRC(h);
}

void qr_wal_snap_hdr_seal(struct qr_wal_snap_hdr *h)
{
	h->crc = HDR_CRC(h);
}

/* A record's value length, by the layout of its batch's format. */
static inline uint32_t rec_value_len(const struct qr_wal_rec_hdr *r,
				     uint16_t format)
{
	return format == QR_WAL_FORMAT_V1 ? r->value_len16 : r->value_len;
}

/* The field the other format uses is 0 (F1): format 1 had reserved = 0
 * where format 2 keeps value_len, and format 2 writes 0 where format 1
 * kept it. */
static inline bool rec_spare_zero(const struct qr_wal_rec_hdr *r,
				  uint16_t format)
{
	return format == QR_WAL_FORMAT_V1 ? r->value_len == 0
					  : r->value_len16 == 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

enum batch_check {
	BATCH_VALID,   /* header and every record good */
	BATCH_ZERO,    /* an all-zero header: no data here */
	BATCH_GARBAGE, /* not a batch header */
	BATCH_TORN,    /* good header, bad records: skip its extent */
};

struct batch_view {
	struct qr_wal_batch_hdr h;
	const uint8_t *data; /* records */
	const char *why;     /* reason when not valid */
	bool checked;        /* header and every record valid (F3) */
};

/* Whether the reader knows format f of a segment or batch; want is the
 * format required (a snapshot's batches), 0 for either. */
static inline bool format_ok(uint32_t f, uint16_t want)
{
	if (want)
		return f == want;
	return f == QR_WAL_FORMAT_VERSION || f == QR_WAL_FORMAT_V1;
}

/* The header of the batch at img[pos] (F2, read side). */
static enum batch_check check_batch_header(const struct qr_wal_image *img,
					   uint64_t pos, uint32_t magic,
					   uint64_t seq, uint16_t shard,
					   uint16_t format,
					   struct batch_view *b)
{
	const uint64_t hb = sizeof(struct qr_wal_batch_hdr);

	if (pos > img->len || img->len - pos < hb) {
		b->why = "short batch header";
		return BATCH_GARBAGE;
	}
	memcpy(&b->h, img->data + pos, hb);
	if (all_zero(img->data + pos, hb)) {
		/* A block with no header but data is a torn write. */
		uint64_t blk = QR_MIN(img->len - pos, QR_WAL_BLOCK_BYTES);
		if (all_zero(img->data + pos + hb, blk - hb)) {
			b->why = "no data";
			return BATCH_ZERO;
		}
		b->why = "data without a batch header";
		return BATCH_GARBAGE;
	}
	if (b->h.crc != HDR_CRC(&b->h)) {
		b->why = "bad batch header checksum";
		return BATCH_GARBAGE;
	}
	if (b->h.magic != magic || !format_ok(b->h.format, format) ||
	    b->h.shard != shard || b->h.seq != seq) {
		b->why = "batch header from another file or format";
		return BATCH_GARBAGE;
	}
	uint64_t padded = b->h.padded_bytes;
	if (padded == 0 || padded % QR_WAL_BLOCK_BYTES ||
	    b->h.data_bytes > padded - hb || b->h.data_bytes % 8 ||
	    b->h.records == 0 || b->h.last_lsn < b->h.first_lsn ||
	    b->h.last_lsn - b->h.first_lsn != b->h.records - 1ull ||
	    b->h.first_lsn == 0) {
		b->why = "inconsistent batch header";
		return BATCH_GARBAGE;
	}
	if (img->len - pos < padded) {
		b->why = "batch extends beyond the end of the file";
		return BATCH_GARBAGE;
	}
	return BATCH_VALID;
}

/* The records of a batch whose header checked (F1, read side). */
static enum batch_check check_records(struct batch_view *b, bool lsn_check)
{
	uint64_t off = 0, n = 0;
	while (off < b->h.data_bytes) {
		struct qr_wal_rec_hdr r;
		uint64_t left = b->h.data_bytes - off;
		if (left < sizeof(r)) {
			b->why = "short record header";
			return BATCH_TORN;
		}
		memcpy(&r, b->data + off, sizeof(r));
		if (r.len < sizeof(r) || r.len > left) {
			b->why = "bad record length";
			return BATCH_TORN;
		}
		if (qr_crc32c(0, b->data + off + 4, r.len - 4) != r.crc) {
			b->why = "bad record checksum";
			return BATCH_TORN;
		}
		uint64_t vlen = rec_value_len(&r, b->h.format);
		if (r.type < QR_WAL_PUT || r.type > QR_WAL_TYPE_MAX ||
		    r.key_len == 0 || vlen > QR_VALUE_BYTES_MAX ||
		    !rec_spare_zero(&r, b->h.format) ||
		    r.len != sizeof(r) + r.key_len + vlen ||
		    (r.type == QR_WAL_TOMBSTONE && vlen) ||
		    (lsn_check && r.lsn != b->h.first_lsn + n)) {
			b->why = "inconsistent record";
			return BATCH_TORN;
		}
		off += qr_wal_align_up(r.len, QR_WAL_RECORD_ALIGN);
		n++;
	}
	if (off != b->h.data_bytes || n != b->h.records) {
		b->why = "record count does not match the batch header";
		return BATCH_TORN;
	}
	return BATCH_VALID;
}

/*
 * Check the batch at img[pos]. magic is the batch magic expected; seq the
 * value its seq field must have; format the one required (0: either);
 * lsn_check: record lsns must run first_lsn.. (log) or are free
 * (snapshot).
 */
static enum batch_check check_batch(const struct qr_wal_image *img,
				    uint64_t pos, uint32_t magic, uint64_t seq,
				    uint16_t shard, uint16_t format,
				    bool lsn_check, struct batch_view *b)
{
	b->why = NULL;
	enum batch_check c = check_batch_header(img, pos, magic, seq, shard,
						format, b);
	if (c != BATCH_VALID)
		return c;
	/* From here the header is trusted: its extent is its own. */
	b->data = img->data + pos + sizeof(struct qr_wal_batch_hdr);
	b->checked = check_records(b, lsn_check) == BATCH_VALID;
	return b->checked ? BATCH_VALID : BATCH_TORN;
}

static int deliver(const struct batch_view *b, uint64_t lsn_min,
		   qr_wal_record_fn fn, void *arg, uint64_t *delivered,
		   uint64_t *skipped)
{
	uint64_t off = 0, n = 0;
	QR_ASSERT(b->checked); /* F3: only what check_batch passed */
	while (off < b->h.data_bytes) {
		struct qr_wal_rec_hdr r;
		memcpy(&r, b->data + off, sizeof(r));
		QR_ASSERT(r.len >= sizeof(r) && r.len <= b->h.data_bytes - off);
		const uint8_t *p = b->data + off + sizeof(r);
		struct qr_wal_record rec = {
			.lsn = r.lsn,
			.type = r.type,
			.partition = r.partition,
			.version = { .hlc = r.hlc, .node = r.node },
			.key = p,
			.key_len = r.key_len,
			.value = p + r.key_len,
			.value_len = rec_value_len(&r, b->h.format),
			.aux = r.aux,
		};
		off += qr_wal_align_up(r.len, QR_WAL_RECORD_ALIGN);
		n++;
		if (r.lsn < lsn_min) {
			(*skipped)++;
			continue;
		}
		if (fn) {
			int rc = fn(arg, &rec);
			if (rc)
				return rc;
		}
		(*delivered)++;
	}
	QR_ASSERT(off == b->h.data_bytes && n == b->h.records); /* F3 */
	return 0;
}

static void say(char *msg, size_t n, const char *name, uint64_t off,
		const char *fmt, ...)
{
	int k = snprintf(msg, n, "%s: offset %llu: ", name ? name : "?",
			 (unsigned long long)off);
	QR_ASSERT(k >= 0 && (size_t)k < n); /* F5: names are paths */
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(msg + k, n - (size_t)k, fmt, ap);
	va_end(ap);
	QR_ASSERT(r >= 0 && (size_t)r < n - (size_t)k); /* F5: never cut */
}

/* Parser state over the sequence of images. */
struct log_parse {
	const struct qr_wal_image *imgs;
	uint64_t expected;    /* next lsn the sequence needs */
	uint64_t lsn_min;     /* deliver from here (snapshot begin) */
	/* position right after the last delivered batch */
	uint32_t end_img;
	uint64_t end_off;
	/* first garbage since the last delivered batch */
	bool garbage;
	uint32_t garbage_img;
	uint64_t garbage_off;
	const char *garbage_why;
	/* the hole, once the sequence broke */
	bool hole;
	uint64_t hole_lsn;
	uint32_t hole_img;
	uint64_t hole_off;
	char hole_why[160];
	bool violation;       /* a batch after the hole had synced >= hole */
	uint32_t violation_img;
	uint64_t violation_off;
	uint32_t foreign_format; /* a valid segment header of a format this
				  * build does not read (0: none) */
	uint32_t foreign_img;
};

static void open_hole(struct log_parse *p, const char *why_fmt,
		      unsigned long long a, unsigned long long b)
{
	p->hole = true;
	p->hole_lsn = p->expected;
	if (p->garbage) {
		p->hole_img = p->garbage_img;
		p->hole_off = p->garbage_off;
		snprintf(p->hole_why, sizeof(p->hole_why), "%s",
			 p->garbage_why);
	} else {
		p->hole_img = p->end_img;
		p->hole_off = p->end_off;
		snprintf(p->hole_why, sizeof(p->hole_why), why_fmt, a, b);
	}
}

static void note_garbage(struct log_parse *p, uint32_t i, uint64_t off,
			 const char *why)
{
	if (p->hole || p->garbage)
		return;
	p->garbage = true;
	p->garbage_img = i;
	p->garbage_off = off;
	p->garbage_why = why;
}

/* Image i's segment header: notes garbage, and whether the file is a
 * recycled one (old content past the new data is no data). */
static bool image_header(struct log_parse *p, uint32_t i, uint16_t shard,
			 struct qr_wal_parse_result *res)
{
	const struct qr_wal_image *img = &p->imgs[i];
	const uint64_t B = QR_WAL_BLOCK_BYTES;
	struct qr_wal_seg_hdr sh;
	bool sh_ok = false, recycled = false;

	if (img->len >= B) {
		memcpy(&sh, img->data, sizeof(sh));
		bool sh_crc = sh.crc == HDR_CRC(&sh) &&
			sh.magic == QR_WAL_SEG_MAGIC &&
			sh.shard == shard && sh.first_lsn != 0;
		if (sh_crc && !format_ok(sh.format, 0) && sh.seq == img->seq &&
		    !p->foreign_format) {
			/* Written on purpose by another build: refused,
			 * never cut as a tear (a downgrade would lose it). */
			p->foreign_format = sh.format;
			p->foreign_img = i;
		}
		sh_crc = sh_crc && format_ok(sh.format, 0);
		sh_ok = sh_crc && sh.seq == img->seq;
		/* Recycled: new header, or renamed and not yet
		 * written (the header of its earlier life). */
		recycled = (sh_ok && (sh.flags & QR_WAL_SEG_RECYCLED)) ||
			   (sh_crc && sh.seq < img->seq);
		if (!sh_ok && !recycled && !all_zero(img->data, B))
			note_garbage(p, i, 0, "bad segment header");
	} else if (img->len && !all_zero(img->data, img->len)) {
		note_garbage(p, i, 0, "file shorter than a header");
	}
	/* The first segment may straddle the snapshot lsn. */
	if (i == 0 && sh_ok && sh.first_lsn < p->expected) {
		p->expected = sh.first_lsn;
		res->last_lsn = p->expected - 1;
	}
	return recycled;
}

/* A valid batch at imgs[i] + pos that continues the sequence: deliver. */
static int deliver_batch(struct log_parse *p, uint32_t i, uint64_t pos,
			 const struct batch_view *b, qr_wal_record_fn fn,
			 void *arg, struct qr_wal_parse_result *res)
{
	QR_ASSERT(!p->hole && b->h.first_lsn == p->expected); /* F4 */
	int rc = deliver(b, p->lsn_min, fn, arg, &res->records,
			 &res->records_skipped);
	if (rc)
		return rc;
	if (p->garbage)
		res->garbage_ignored++;
	p->garbage = false;
	p->expected = b->h.last_lsn + 1;
	res->last_lsn = b->h.last_lsn;
	p->end_img = i;
	p->end_off = pos + b->h.padded_bytes;
	res->has_data = true;
	res->last_data_image = i;
	return 0;
}

/* A valid batch that does not continue the sequence: the hole opens (or
 * is there already); a batch submitted after the hole was durable is the
 * proof of corruption. */
static void after_hole(struct log_parse *p, uint32_t i, uint64_t pos,
		       const struct batch_view *b,
		       struct qr_wal_parse_result *res)
{
	if (!p->hole)
		open_hole(p, b->h.first_lsn > p->expected ?
			  "missing records from lsn %llu (next batch starts "
			  "at %llu)" :
			  "lsn goes back: expected %llu, batch starts at %llu",
			  (unsigned long long)p->expected,
			  (unsigned long long)b->h.first_lsn);
	res->dropped_batches++;
	if (b->h.synced_lsn >= p->hole_lsn && !p->violation) {
		p->violation = true;
		p->violation_img = i;
		p->violation_off = pos;
	}
}

/* Every batch of image i, in file order. */
static int parse_image(struct log_parse *p, uint32_t i, uint16_t shard,
		       qr_wal_record_fn fn, void *arg,
		       struct qr_wal_parse_result *res)
{
	const struct qr_wal_image *img = &p->imgs[i];
	const uint64_t B = QR_WAL_BLOCK_BYTES;
	bool recycled = image_header(p, i, shard, res);
	uint64_t pos = B;

	while (img->len >= B && pos <= img->len - B) {
		struct batch_view b;
		enum batch_check c = check_batch(img, pos, QR_WAL_BATCH_MAGIC,
						 img->seq, shard, 0, true, &b);
		if (c == BATCH_ZERO || (c == BATCH_GARBAGE && recycled)) {
			/* zeros, or a recycled file's old content: not a
			 * batch of this segment. A tear there still shows
			 * as a hole in the lsns. */
			pos += B;
			continue;
		}
		if (c == BATCH_GARBAGE || c == BATCH_TORN) {
			note_garbage(p, i, pos, b.why);
			pos += c == BATCH_TORN ? b.h.padded_bytes : B;
			continue;
		}
		if (!p->hole && b.h.first_lsn == p->expected) {
			int rc = deliver_batch(p, i, pos, &b, fn, arg, res);
			if (rc)
				return rc;
		} else {
			after_hole(p, i, pos, &b, res);
		}
		pos += b.h.padded_bytes;
	}
	return 0;
}

/* Where the log ends, and whether that is a tear or corruption. */
static int parse_verdict(struct log_parse *p, struct qr_wal_parse_result *res)
{
	const struct qr_wal_image *imgs = p->imgs;

	if (!p->hole && p->garbage) {
		/* Junk after the last batch with nothing valid after: torn. */
		p->hole = true;
		p->hole_img = p->garbage_img;
		p->hole_off = p->garbage_off;
		snprintf(p->hole_why, sizeof(p->hole_why), "%s",
			 p->garbage_why);
	}
	if (!p->hole) {
		res->cut_image = res->last_data_image;
		res->cut_offset = p->end_off;
		return 0;
	}
	res->cut_image = p->hole_img;
	res->cut_offset = p->hole_off;
	if (p->violation) {
		res->corrupt = true;
		say(res->message, sizeof(res->message),
		    imgs[p->hole_img].name, p->hole_off,
		    "%s; lsn %llu is missing but %s offset %llu was "
		    "written after it was durable",
		    p->hole_why, (unsigned long long)p->hole_lsn,
		    imgs[p->violation_img].name,
		    (unsigned long long)p->violation_off);
		return QR_ECORRUPT;
	}
	res->torn = true;
	say(res->message, sizeof(res->message), imgs[p->hole_img].name,
	    p->hole_off, "torn tail: %s (%llu unacknowledged batches after it)",
	    p->hole_why, (unsigned long long)res->dropped_batches);
	return 0;
}

int qr_wal_parse_log(const struct qr_wal_image *imgs, uint32_t n,
		     uint16_t shard, uint64_t snapshot_lsn, qr_wal_record_fn fn,
		     void *arg, struct qr_wal_parse_result *res)
{
	struct log_parse p = { .imgs = imgs };

	memset(res, 0, sizeof(*res));
	p.expected = snapshot_lsn ? snapshot_lsn : 1;
	p.lsn_min = p.expected;
	res->last_lsn = p.expected - 1;
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		int rc = parse_image(&p, i, shard, fn, arg, res);
		if (rc)
			return rc;
	}
	QR_ASSERT(res->last_lsn + 1 == p.expected); /* F4 */
	if (p.foreign_format) {
		say(res->message, sizeof(res->message),
		    imgs[p.foreign_img].name, 0, "segment format %u: this "
		    "build reads formats %u and %u (written by a newer "
		    "quorated?)", p.foreign_format, QR_WAL_FORMAT_V1,
		    QR_WAL_FORMAT_VERSION);
		return QR_EDATADIR;
	}
	return parse_verdict(&p, res);
}

/* The snapshot's header into *sh and info, then its clock ceiling (if one
 * was logged) to fn. 0, QR_ECORRUPT or fn's value. */
static int snap_header(const struct qr_wal_image *img, uint16_t shard,
		       qr_wal_record_fn fn, void *arg,
		       struct qr_wal_snap_info *info, struct qr_wal_snap_hdr *out)
{
	const uint64_t B = QR_WAL_BLOCK_BYTES;
	struct qr_wal_snap_hdr sh;

	if (img->len < B) {
		say(info->message, sizeof(info->message), img->name, 0,
		    "snapshot shorter than its header");
		return QR_ECORRUPT;
	}
	memcpy(&sh, img->data, sizeof(sh));
	if (sh.crc == HDR_CRC(&sh) && sh.magic == QR_WAL_SNAP_MAGIC &&
	    sh.format > QR_WAL_SNAP_FORMAT_VERSION) {
		say(info->message, sizeof(info->message), img->name, 0,
		    "snapshot format %u: this build reads formats %u and %u "
		    "(written by a newer quorated?)", sh.format,
		    QR_WAL_SNAP_FORMAT_V2, QR_WAL_SNAP_FORMAT_VERSION);
		return QR_EDATADIR;
	}
	if (sh.crc != HDR_CRC(&sh) || sh.magic != QR_WAL_SNAP_MAGIC ||
	    (sh.format != QR_WAL_SNAP_FORMAT_VERSION &&
	     sh.format != QR_WAL_SNAP_FORMAT_V2) || sh.shard != shard ||
	    sh.begin_lsn == 0 || (sh.clock_hlc && sh.clock_lsn == 0) ||
	    sh.clock_lsn >= sh.begin_lsn) {
		say(info->message, sizeof(info->message), img->name, 0,
		    "bad snapshot header");
		return QR_ECORRUPT;
	}
	info->begin_lsn = sh.begin_lsn;
	info->partitions = sh.partitions;
	info->clock = (struct qr_wal_clock){ .hlc = sh.clock_hlc,
		.lsn = sh.clock_lsn, .node = sh.clock_node };
	if (sh.clock_hlc && fn) {
		/* The ceiling first: the segments that held its record may
		 * be gone (the snapshot deleted them). */
		static const uint8_t clock_key = 0;
		struct qr_wal_record rec = {
			.lsn = sh.clock_lsn,
			.type = QR_WAL_CLOCK,
			.version = { .hlc = sh.clock_hlc,
				     .node = sh.clock_node },
			.key = &clock_key,
			.key_len = 1,
		};
		int rc = fn(arg, &rec);
		if (rc)
			return rc;
	}
	*out = sh;
	return 0;
}

int qr_wal_parse_snapshot(const struct qr_wal_image *img, uint16_t shard,
			  qr_wal_record_fn fn, void *arg,
			  struct qr_wal_snap_info *info)
{
	const uint64_t B = QR_WAL_BLOCK_BYTES;
	struct qr_wal_snap_hdr sh;
	uint64_t pos, next = 1, delivered = 0, skipped = 0;

	memset(info, 0, sizeof(*info));
	int rc = snap_header(img, shard, fn, arg, info, &sh);
	if (rc)
		return rc;
	/* Snapshot format 3 holds format-2 batches, 2 format-1 ones. */
	uint16_t bf = sh.format == QR_WAL_SNAP_FORMAT_VERSION ?
		QR_WAL_FORMAT_VERSION : QR_WAL_FORMAT_V1;
	for (pos = B; pos <= img->len - B;) {
		struct batch_view b;
		enum batch_check c = check_batch(img, pos,
			QR_WAL_SNAP_BATCH_MAGIC, sh.begin_lsn, shard, bf,
			false, &b);
		if (c != BATCH_VALID) {
			/* The end marker has no records: check it here. */
			struct qr_wal_batch_hdr e;
			memcpy(&e, img->data + pos, sizeof(e));
			if (e.crc == HDR_CRC(&e) &&
			    e.magic == QR_WAL_SNAP_END_MAGIC &&
			    e.records == 0 && e.seq == sh.begin_lsn &&
			    e.format == bf &&
			    e.shard == shard && e.first_lsn == next - 1) {
				info->entries = e.first_lsn;
				info->end_lsn = e.last_lsn;
				return 0;
			}
			say(info->message, sizeof(info->message), img->name,
			    pos, "snapshot: %s", c == BATCH_ZERO ?
			    "ends before its end marker" : b.why);
			return QR_ECORRUPT;
		}
		if (b.h.first_lsn != next) {
			say(info->message, sizeof(info->message), img->name,
			    pos, "snapshot: batch out of order");
			return QR_ECORRUPT;
		}
		rc = deliver(&b, 0, fn, arg, &delivered, &skipped);
		if (rc)
			return rc;
		next = b.h.last_lsn + 1;
		pos += b.h.padded_bytes;
	}
	say(info->message, sizeof(info->message), img->name, pos,
	    "snapshot: no end marker");
	return QR_ECORRUPT;
}
