/* SPDX-License-Identifier: MIT */
/* The bug-injection switch word (only in quorate_core_buggy). */
#include "common/compiler.h"
#include "core/bugs.h"

uint64_t qr_bugs[QR_BUG_WORDS];
