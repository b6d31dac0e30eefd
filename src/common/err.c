/* SPDX-License-Identifier: MIT */
/* String table for enum qr_err, generated from the same X-macro list. */
#include "quorate/err.h"

const char *qr_strerror(int err)
{
	switch (err) {
#define QR_ERR_CASE(name, value, text)                                         \
	case value:                                                            \
		return text;
		QR_ERR_LIST(QR_ERR_CASE)
#undef QR_ERR_CASE
	}
	return "UNKNOWN_ERROR";
}
