/* SPDX-License-Identifier: MIT */
/*
 * JSON for people: jansson parses (depth-limited, duplicate keys refused),
 * this file only walks the tree. Invariants:
 *  J1. Nothing is printed for a text jansson refuses (parse first, then
 *      render), so a half-printed value never reaches the terminal.
 *  J2. Keys are shown in the daemon's order (jansson keeps insertion order
 *      since 2.8; Debian 12 ships 2.14).
 */
#include "cli/json_view.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t b = s[0];
	size_t len;
	uint32_t cp, min;
	if (b < 0x80)
		return 1;
	if ((b & 0xe0) == 0xc0)
		len = 2, cp = b & 0x1f, min = 0x80;
	else if ((b & 0xf0) == 0xe0)
		len = 3, cp = b & 0x0f, min = 0x800;
	else if ((b & 0xf8) == 0xf0)
		len = 4, cp = b & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of any bytes: valid UTF-8 as is, every other byte b as
 * the code point U+00b (two bytes of UTF-8), so jansson, which takes only
 * UTF-8, can hold any key or value and a reader gets each byte back as a
 * Latin-1 character. */
json_t *qr_json_view_bytes(const void *buf, size_t n)
{
	const uint8_t *s = buf;
	uint8_t *u = malloc(2 * n + 1);
	if (!u)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(s + i, n - i);
		if (len >= 1 && !(len == 1 && s[i] >= 0x80)) {
			memcpy(u + o, s + i, len);
			o += len;
			i += len;
			continue;
		}
		u[o++] = (uint8_t)(0xc0 | s[i] >> 6);
		u[o++] = (uint8_t)(0x80 | (s[i] & 0x3f));
		i++;
	}
	json_t *j = json_stringn((const char *)u, o);
	free(u);
	return j;
}

int qr_json_view_emit(FILE *out, json_t *o)
{
	int rc =
		o ? json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
	json_decref(o);
	return rc;
}

static json_t *parse(const char *text, size_t len)
{
	json_error_t err;
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
}

bool qr_json_view_is_object(const char *text, size_t len)
{
	json_t *v = parse(text, len);
	bool ok = v && json_is_object(v);
	json_decref(v);
	return ok;
}

static void indent(FILE *out, int depth)
{
	for (int k = 0; k < depth; k++)
		fputs("  ", out);
}

static void scalar(FILE *out, const json_t *v)
{
	if (json_is_string(v)) {
		fwrite(json_string_value(v), 1, json_string_length(v), out);
		return;
	}
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	if (s)
		fputs(s, out);
	free(s);
}

static void value(FILE *out, const json_t *v, int depth);

/* After "key:" or "-": a scalar on the same line, an empty container as
 * {} or [], a container's members on the next lines, one level deeper. */
static void member(FILE *out, const json_t *v, int depth)
{
	if (json_is_object(v) || json_is_array(v)) {
		bool empty = json_is_object(v) ? json_object_size(v) == 0
					       : json_array_size(v) == 0;
		if (empty) {
			fprintf(out, " %s\n", json_is_object(v) ? "{}" : "[]");
			return;
		}
		fputc('\n', out);
		value(out, v, depth + 1);
		return;
	}
	fputc(' ', out);
	scalar(out, v);
	fputc('\n', out);
}

static void value(FILE *out, const json_t *v, int depth)
{
	if (json_is_object(v)) {
		const char *key;
		json_t *m;
		json_object_foreach((json_t *)v, key, m)
		{
			indent(out, depth);
			fprintf(out, "%s:", key);
			member(out, m, depth);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m)
		{
			indent(out, depth);
			fputc('-', out);
			member(out, m, depth);
		}
	} else {
		indent(out, depth);
		scalar(out, v);
		fputc('\n', out);
	}
}

int qr_json_view_print(FILE *out, const char *text, size_t len, int depth)
{
	json_t *v = parse(text, len);
	if (!v)
		return -1; /* J1 */
	value(out, v, depth);
	json_decref(v);
	return 0;
}

uint64_t qr_json_view_hex(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strtoull(s, NULL, 16) : 0;
}
