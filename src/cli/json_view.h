/* SPDX-License-Identifier: MIT */
/*
 * The CLI's view of the daemon's JSON (`quorate stat`): parsing by jansson
 * (a maintained parser: the daemon's text is input like any other), and a
 * readable rendering for people. docs/client.md shows the output.
 */
#ifndef QR_CLI_JSON_VIEW_H
#define QR_CLI_JSON_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The whole text is one JSON object (nothing but whitespace after it). */
bool qr_json_view_is_object(const char *text, size_t len);

/*
 * Render a JSON text readably: objects as "key: value" lines indented two
 * spaces per level from `depth`, arrays as "- value" lines, strings
 * unquoted. 0, or -1 if the text is not valid JSON (nothing printed).
 */
int qr_json_view_print(FILE *out, const char *text, size_t len, int depth);

/* Write buf as a JSON string: valid UTF-8 passes through; control
 * characters and bytes that are not valid UTF-8 become escapes (\u00XX:
 * the byte), so any key or value can be printed. */
void qr_json_view_str(FILE *f, const void *buf, size_t n);

#endif
