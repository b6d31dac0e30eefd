/* SPDX-License-Identifier: MIT */
/*
 * The CLI's JSON, all through jansson: parsing the daemon's answers (a
 * maintained parser: the daemon's text is input like any other), a
 * readable rendering of them for people, and the CLI's own --json output
 * (built as jansson objects, keys and values of any bytes included).
 * docs/client.md shows the output.
 */
#ifndef QR_CLI_JSON_VIEW_H
#define QR_CLI_JSON_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The whole text is one JSON object (nothing but whitespace after it). */
bool qr_json_view_is_object(const char *text, size_t len);

/*
 * Render a JSON text readably: objects as "key: value" lines indented two
 * spaces per level from `depth`, arrays as "- value" lines, strings
 * unquoted. 0, or -1 if the text is not valid JSON (nothing printed).
 */
int qr_json_view_print(FILE *out, const char *text, size_t len, int depth);

/* buf as a JSON string (new reference; NULL: out of memory): valid UTF-8
 * passes through, every byte that is not part of valid UTF-8 becomes the
 * code point U+00XX (the byte), so any key or value can be written. */
json_t *qr_json_view_bytes(const void *buf, size_t n);

/* Write o compact, keys in insertion order, no newline; takes o's
 * reference. 0, or -1 (o NULL or a write error). */
int qr_json_view_emit(FILE *out, json_t *o);
/* The hex string at key ("0x1c": a member mask in a node's answer); 0
 * when absent. */
uint64_t qr_json_view_hex(json_t *o, const char *key);

#endif
