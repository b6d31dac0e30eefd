/* SPDX-License-Identifier: MIT */
/* The bug-injection switch word (only in quorate_core_buggy). */
#include "common/compiler.h"
#include "core/bugs.h"

unsigned qr_bugs;
