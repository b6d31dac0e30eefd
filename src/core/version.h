/* SPDX-License-Identifier: MIT */
/*
 * A value's version: (hlc, origin node). Total order, highest wins
 * (last-writer-wins). DESIGN.md section 3 "Version order".
 */
#ifndef QR_CORE_VERSION_H
#define QR_CORE_VERSION_H

#include <stdbool.h>
#include <stdint.h>

struct qr_version {
	uint64_t hlc; /* hybrid logical clock when the coordinator stamped it */
	uint16_t node; /* coordinator that stamped it: breaks hlc ties */
};

#define QR_VERSION_NONE ((struct qr_version){0, 0})

/* <0, 0, >0 like memcmp. */
static inline int qr_version_cmp(struct qr_version a, struct qr_version b)
{
	if (a.hlc != b.hlc)
		return a.hlc < b.hlc ? -1 : 1;
	if (a.node != b.node)
		return a.node < b.node ? -1 : 1;
	return 0;
}

static inline bool qr_version_is_none(struct qr_version v)
{
	return v.hlc == 0 && v.node == 0;
}

#endif
