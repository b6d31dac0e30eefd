/* SPDX-License-Identifier: MIT */
/*
 * A version as people read it and as scripts keep it. The raw form is
 * HLC.NODE (the 64-bit hybrid logical clock, then the writing node id):
 *   117738601281945600.1
 * The readable form is the HLC's wall-clock time (UTC, milliseconds), its
 * logical counter and the node:
 *   2026-12-06T09:14:41.123Z+0.1
 * Both are printed (docs/client.md) and both are accepted wherever a
 * version is given (--min-version, --if-version); they name the same
 * version exactly (the HLC is milliseconds << 16 | logical).
 */
#ifndef QR_CLI_VERSION_H
#define QR_CLI_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "2026-12-06T09:14:41.123Z+0" (node < 0: no ".NODE"); bytes written. */
int qr_cli_version_readable(uint64_t hlc, int node, char *buf, size_t cap);

/* Raw "HLC[.NODE]" or readable "TIME+LOGICAL[.NODE]" (logical may be
 * left out: +0). 0 and *hlc (*node, *has_node), or -1. */
int qr_cli_version_parse(const char *s, uint64_t *hlc, uint16_t *node,
			 bool *has_node);

#endif
