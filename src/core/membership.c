/* SPDX-License-Identifier: MIT */
/*
 * Cluster membership as a value: see membership.h (M1..M5). The encoding
 * (little-endian, explicit offsets like wire.c, never a struct image):
 *
 *   0  magic u32 "QRMB" | 4 format u8 | 5 zones u8 | 6 n u8 | 7 0 u8
 *   8  epoch u64 | 16 rf u16 | 18 0 u16 | 20 0 u32
 *   24 zones x (len u8, name[len])          len 0..QR_ZONE_NAME_MAX
 *   .. n x (id u16, state u8, zone u8, ip 4 bytes (network order),
 *           port u16, 0 u16)                12 bytes each, ids ascending
 *   .. crc32c u32 of every byte before it
 */
#include "core/membership.h"

#include <string.h>

#include "common/crc32c.h"
#include "common/le.h"
#include "quorate/err.h"

#define HDR_BYTES    24
#define MEMBER_BYTES 12

_Static_assert(QR_MEMBERSHIP_BYTES_MAX <= QR_VALUE_INLINE_MAX,
	       "a membership fits a CASPaxos register's value");

static int counts(const struct qr_membership *ms, unsigned *old_owners,
		  unsigned *new_owners)
{
	*old_owners = *new_owners = 0;
	for (unsigned i = 0; i < ms->n; i++) {
		uint8_t st = ms->m[i].state;
		*old_owners += st != QR_MEMBER_JOINING;
		*new_owners += st != QR_MEMBER_LEAVING;
	}
	return 0;
}

int qr_membership_check(const struct qr_membership *ms)
{
	if (!ms || ms->epoch == 0 || ms->rf < 1 || ms->rf > QR_RF_MAX ||
	    ms->zones < 1 || ms->zones > QR_ZONES_MAX || ms->n > QR_NODES_MAX)
		return QR_EINVAL;
	for (unsigned z = 0; z < ms->zones; z++) {
		if (memchr(ms->zone_name[z], 0, QR_ZONE_NAME_MAX + 1) == NULL)
			return QR_EINVAL;
		for (unsigned y = 0; y < z; y++)
			if (!strcmp(ms->zone_name[y], ms->zone_name[z]))
				return QR_EINVAL;
	}
	for (unsigned i = 0; i < ms->n; i++) {
		const struct qr_member *m = &ms->m[i];
		if (m->id >= QR_NODES_MAX || (i && m->id <= ms->m[i - 1].id) ||
		    m->state < QR_MEMBER_ACTIVE ||
		    m->state > QR_MEMBER_REPLACING || m->zone >= ms->zones ||
		    m->ip == 0 || m->port == 0)
			return QR_EINVAL;
	}
	unsigned o, n; /* M3 */
	counts(ms, &o, &n);
	return o >= ms->rf && n >= ms->rf ? 0 : QR_EINVAL;
}


int qr_membership_encode(const struct qr_membership *ms, uint8_t *buf,
			 size_t cap, size_t *len)
{
	if (qr_membership_check(ms))
		return QR_EINVAL;
	size_t need = HDR_BYTES + 4 + (size_t)ms->n * MEMBER_BYTES;
	for (unsigned z = 0; z < ms->zones; z++)
		need += 1 + strlen(ms->zone_name[z]);
	if (need > cap)
		return QR_EFULL;
	memset(buf, 0, HDR_BYTES);
	qr_st32(buf, QR_MEMBERSHIP_MAGIC);
	buf[4] = QR_MEMBERSHIP_FORMAT;
	buf[5] = ms->zones;
	buf[6] = ms->n;
	qr_st32(buf + 8, (uint32_t)ms->epoch);
	qr_st32(buf + 12, (uint32_t)(ms->epoch >> 32));
	qr_st16(buf + 16, ms->rf);
	size_t off = HDR_BYTES;
	for (unsigned z = 0; z < ms->zones; z++) {
		size_t l = strlen(ms->zone_name[z]);
		buf[off++] = (uint8_t)l;
		memcpy(buf + off, ms->zone_name[z], l);
		off += l;
	}
	for (unsigned i = 0; i < ms->n; i++, off += MEMBER_BYTES) {
		const struct qr_member *m = &ms->m[i];
		qr_st16(buf + off, m->id);
		buf[off + 2] = m->state;
		buf[off + 3] = m->zone;
		memcpy(buf + off + 4, &m->ip, 4);
		qr_st16(buf + off + 8, m->port);
		qr_st16(buf + off + 10, 0);
	}
	qr_st32(buf + off, qr_crc32c(0, buf, off));
	*len = off + 4;
	return 0;
}

/* The layout of [buf, buf+len) into *ms (not yet checked by the rules). */
static int decode_fields(const uint8_t *buf, size_t len,
			 struct qr_membership *ms)
{
	if (qr_ld32(buf) != QR_MEMBERSHIP_MAGIC ||
	    buf[4] != QR_MEMBERSHIP_FORMAT || buf[7] || qr_ld16(buf + 18) ||
	    qr_ld32(buf + 20))
		return QR_EMALFORMED;
	memset(ms, 0, sizeof(*ms));
	ms->zones = buf[5];
	ms->n = buf[6];
	ms->epoch = qr_ld32(buf + 8) | (uint64_t)qr_ld32(buf + 12) << 32;
	ms->rf = qr_ld16(buf + 16);
	if (ms->zones > QR_ZONES_MAX || ms->n > QR_NODES_MAX)
		return QR_EMALFORMED;
	size_t off = HDR_BYTES, end = len - 4;
	for (unsigned z = 0; z < ms->zones; z++) {
		if (off >= end || buf[off] > QR_ZONE_NAME_MAX ||
		    end - off - 1 < buf[off])
			return QR_EMALFORMED;
		memcpy(ms->zone_name[z], buf + off + 1, buf[off]);
		if (memchr(ms->zone_name[z], 0, buf[off]))
			return QR_EMALFORMED; /* a NUL inside a name */
		off += 1 + (size_t)buf[off];
	}
	if (end - off != (size_t)ms->n * MEMBER_BYTES)
		return QR_EMALFORMED;
	for (unsigned i = 0; i < ms->n; i++, off += MEMBER_BYTES) {
		struct qr_member *m = &ms->m[i];
		m->id = qr_ld16(buf + off);
		m->state = buf[off + 2];
		m->zone = buf[off + 3];
		memcpy(&m->ip, buf + off + 4, 4);
		m->port = qr_ld16(buf + off + 8);
		if (qr_ld16(buf + off + 10))
			return QR_EMALFORMED;
	}
	return 0;
}

int qr_membership_decode(const uint8_t *buf, size_t len,
			 struct qr_membership *out)
{
	if (!buf || len < HDR_BYTES + 4 || len > QR_MEMBERSHIP_BYTES_MAX)
		return QR_EMALFORMED;
	if (qr_crc32c(0, buf, len - 4) != qr_ld32(buf + len - 4))
		return QR_ECORRUPT;
	struct qr_membership ms;
	int rc = decode_fields(buf, len, &ms);
	if (rc)
		return rc;
	if (qr_membership_check(&ms))
		return QR_EINVAL;
	*out = ms;
	return 0;
}

static int find(const struct qr_membership *ms, uint16_t id)
{
	for (unsigned i = 0; i < ms->n; i++)
		if (ms->m[i].id == id)
			return (int)i;
	return -1;
}

/* Commit a candidate: epoch + 1, the rules checked, then copied out. */
static int commit(const struct qr_membership *cur, struct qr_membership *c,
		  struct qr_membership *next)
{
	c->epoch = cur->epoch + 1;
	if (qr_membership_check(c))
		return QR_EINVAL;
	*next = *c;
	return 0;
}

int qr_membership_add(const struct qr_membership *cur, uint16_t id,
		      uint32_t ip, uint16_t port, const char *zone,
		      struct qr_membership *next)
{
	if (qr_membership_check(cur) || id >= QR_NODES_MAX ||
	    find(cur, id) >= 0 || cur->n >= QR_NODES_MAX || !zone ||
	    strlen(zone) > QR_ZONE_NAME_MAX)
		return QR_EINVAL;
	struct qr_membership c = *cur;
	unsigned z = 0;
	while (z < c.zones && strcmp(c.zone_name[z], zone))
		z++;
	if (z == c.zones) {
		if (c.zones == QR_ZONES_MAX)
			return QR_EINVAL;
		memset(c.zone_name[z], 0, sizeof(c.zone_name[z]));
		memcpy(c.zone_name[z], zone, strlen(zone));
		c.zones++;
	}
	unsigned at = 0;
	while (at < c.n && c.m[at].id < id)
		at++;
	memmove(&c.m[at + 1], &c.m[at], (c.n - at) * sizeof(c.m[0]));
	c.m[at] = (struct qr_member){.id = id,
				     .state = QR_MEMBER_JOINING,
				     .zone = (uint8_t)z,
				     .ip = ip,
				     .port = port};
	c.n++;
	return commit(cur, &c, next);
}

/* One member's step from state `from` to `to` (0: leaves the set). */
static int step(const struct qr_membership *cur, uint16_t id, uint8_t from,
		uint8_t to, struct qr_membership *next)
{
	int i = qr_membership_check(cur) ? -1 : find(cur, id);
	if (i < 0 || cur->m[i].state != from)
		return QR_EINVAL;
	struct qr_membership c = *cur;
	if (to) {
		c.m[i].state = to;
	} else {
		memmove(&c.m[i], &c.m[i + 1],
			(c.n - (unsigned)i - 1) * sizeof(c.m[0]));
		c.n--;
	}
	return commit(cur, &c, next);
}

int qr_membership_remove(const struct qr_membership *cur, uint16_t id,
			 struct qr_membership *next)
{
	return step(cur, id, QR_MEMBER_ACTIVE, QR_MEMBER_LEAVING, next);
}

int qr_membership_replace(const struct qr_membership *cur, uint16_t id,
			  uint32_t ip, uint16_t port,
			  struct qr_membership *next)
{
	int i = qr_membership_check(cur) ? -1 : find(cur, id);
	if (i < 0 || cur->m[i].state != QR_MEMBER_ACTIVE || !ip || !port)
		return QR_EINVAL;
	struct qr_membership c = *cur;
	c.m[i].state = QR_MEMBER_REPLACING;
	c.m[i].ip = ip;
	c.m[i].port = port;
	return commit(cur, &c, next);
}

int qr_membership_finish(const struct qr_membership *cur, uint16_t id,
			 struct qr_membership *next)
{
	int i = qr_membership_check(cur) ? -1 : find(cur, id);
	if (i < 0)
		return QR_EINVAL;
	switch (cur->m[i].state) {
	case QR_MEMBER_JOINING:
		return step(cur, id, QR_MEMBER_JOINING, QR_MEMBER_ACTIVE, next);
	case QR_MEMBER_REPLACING:
		return step(cur, id, QR_MEMBER_REPLACING, QR_MEMBER_ACTIVE,
			    next);
	case QR_MEMBER_LEAVING:
		return step(cur, id, QR_MEMBER_LEAVING, 0, next);
	}
	return QR_EINVAL;
}

int qr_membership_placement(const struct qr_membership *ms, int new_owners,
			    uint32_t partitions, uint16_t shards,
			    struct qr_placement *out)
{
	if (qr_membership_check(ms))
		return QR_EINVAL;
	uint64_t members = 0;
	uint8_t zone[QR_NODES_MAX] = {0};
	for (unsigned i = 0; i < ms->n; i++) {
		uint8_t st = ms->m[i].state;
		if (st == (new_owners ? QR_MEMBER_LEAVING : QR_MEMBER_JOINING))
			continue;
		members |= 1ull << ms->m[i].id;
		zone[ms->m[i].id] = ms->m[i].zone;
	}
	return qr_placement_init_members(out, partitions, members, ms->rf,
					 shards, zone);
}
