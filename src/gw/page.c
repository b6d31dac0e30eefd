/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's status page: plain HTML with inline SVG bars, drawn from
 * the replication view (status.c's JSON), for people who would rather
 * look than read. No script, no framework, no external resource: the page
 * refreshes itself every 2 s (meta refresh) and renders in any browser
 * (tests/cluster/test_gw.sh renders it in headless Chromium).
 *
 * Invariants: P1. Every text that comes from a node or the cluster file
 * is HTML-escaped. P2. Bars are scaled to the largest value shown (at
 * least 1 s of lag, 10 hints) so a calm cluster looks calm.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/status.h"

#define BAR_W 420 /* px for the largest value */
#define ROW_H 26

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static json_int_t num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "?";
}

static const char *color_of(const char *state)
{
	if (!strcmp(state, "UP"))
		return "#2e8b57";
	if (!strcmp(state, "SUSPECT"))
		return "#e69500";
	return "#c0392b";
}

static void head(FILE *f, const json_t *st)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	      "charset=\"utf-8\">"
	      "<meta http-equiv=\"refresh\" content=\"2\">"
	      "<title>quorate cluster status</title><style>"
	      "body{font-family:sans-serif;margin:1.5em;color:#222}"
	      "table{border-collapse:collapse;margin-bottom:1em}"
	      "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
	      "th{background:#f3f3f3}.bad{color:#c0392b}"
	      "svg text{font-size:12px;font-family:sans-serif}"
	      "</style></head><body>\n<h1>quorate cluster status</h1>\n",
	      f);
	fprintf(f,
		"<p>%zu nodes, RF %lld. Data from the nodes' management "
		"sockets, %lld ms old (polled every %lld ms). JSON: "
		"<a href=\"/v1/status/replication\">/v1/status/replication"
		"</a>, metrics: <a href=\"/metrics\">/metrics</a>.</p>\n",
		json_array_size(json_object_get(st, "nodes")),
		(long long)num(st, "rf"), (long long)num(st, "age_ms"),
		(long long)num(st, "interval_ms"));
}

static void node_table(FILE *f, const json_t *nodes)
{
	size_t i;
	const json_t *n;
	fputs("<table id=\"nodes\"><tr><th>node</th><th>reachable</th>"
	      "<th>watermark lag (ms)</th><th>hints kept</th>"
	      "<th>handoff running</th></tr>\n",
	      f);
	json_array_foreach(nodes, i, n)
	{
		bool up = json_is_true(json_object_get(n, "reachable"));
		fprintf(f, "<tr id=\"node-%lld\"><td>node %lld</td>",
			(long long)num(n, "node"), (long long)num(n, "node"));
		if (!up) {
			fputs("<td class=\"bad\" colspan=\"4\">no: ", f);
			esc(f, str(n, "error"));
			fputs("</td></tr>\n", f);
			continue;
		}
		json_int_t wl = num(n, "watermark_lag_ms");
		fprintf(f,
			"<td>yes</td><td>%s%lld</td><td>%lld</td><td>%s</td>"
			"</tr>\n",
			wl < 0 ? "unknown " : "", (long long)(wl < 0 ? 0 : wl),
			(long long)num(n, "hints"),
			json_is_true(json_object_get(n, "handoff_running"))
				? "yes"
				: "no");
	}
	fputs("</table>\n", f);
}

/* Largest peer lag and hint count shown (P2). */
static void scales(const json_t *nodes, double *lag_max, double *hint_max)
{
	size_t i, k;
	const json_t *n, *p;
	*lag_max = 1000;
	*hint_max = 10;
	json_array_foreach(nodes, i, n)
	{
		json_array_foreach(json_object_get(n, "peers"), k, p)
		{
			double l = (double)num(p, "watermark_lag_ms");
			double h = (double)num(p, "hint_records");
			if (l > *lag_max)
				*lag_max = l;
			if (h > *hint_max)
				*hint_max = h;
		}
	}
}

static void peer_bar(FILE *f, const json_t *n, const json_t *p, int y,
		     double lag_max, double hint_max)
{
	json_int_t lag = num(p, "watermark_lag_ms");
	json_int_t hints = num(p, "hint_records");
	const char *state = str(p, "state");
	int lw = lag > 0 ? (int)((double)lag / lag_max * BAR_W) : 0;
	int hw = hints > 0 ? (int)((double)hints / hint_max * BAR_W) : 0;
	fprintf(f,
		"<g class=\"peer\" data-node=\"%lld\" data-peer=\"%lld\">"
		"<text x=\"0\" y=\"%d\">node %lld &#8594; %lld (",
		(long long)num(n, "node"), (long long)num(p, "node"), y + 13,
		(long long)num(n, "node"), (long long)num(p, "node"));
	esc(f, state);
	fprintf(f,
		")</text><rect x=\"150\" y=\"%d\" width=\"%d\" height=\"12\" "
		"fill=\"%s\"/><rect x=\"150\" y=\"%d\" width=\"%d\" "
		"height=\"5\" fill=\"#5b6fd6\"/>"
		"<text x=\"%d\" y=\"%d\">%s%lld ms lag, %lld hints, %lld "
		"unacked</text></g>\n",
		y + 2, lw > 1 ? lw : 1, color_of(state), y + 15, hw,
		150 + (lw > 1 ? lw : 1) + 6, y + 13, lag < 0 ? "? " : "",
		(long long)(lag < 0 ? 0 : lag),
		(long long)(hints < 0 ? 0 : hints),
		(long long)num(p, "unacked_writes"));
}

static void bars(FILE *f, const json_t *nodes)
{
	size_t i, k, rows = 0;
	const json_t *n, *p;
	double lag_max, hint_max;
	scales(nodes, &lag_max, &hint_max);
	json_array_foreach(nodes, i, n) rows +=
		json_array_size(json_object_get(n, "peers"));
	fprintf(f,
		"<h2>Replication lag per peer</h2>\n<p>Bar: how far the "
		"closed timestamp a peer last sent is behind the wall clock "
		"(scale %.0f ms); thin blue bar: hints kept for it (scale "
		"%.0f).</p>\n<svg id=\"lag\" "
		"xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%zu\">\n",
		lag_max, hint_max, 150 + BAR_W + 260, rows * ROW_H + 4);
	int y = 0;
	json_array_foreach(nodes, i, n)
	{
		json_array_foreach(json_object_get(n, "peers"), k, p)
		{
			peer_bar(f, n, p, y, lag_max, hint_max);
			y += ROW_H;
		}
	}
	fputs("</svg>\n", f);
}

char *gw_page_render(const json_t *st, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	const json_t *nodes = json_object_get(st, "nodes");
	head(f, st);
	node_table(f, nodes);
	bars(f, nodes);
	fputs("</body></html>\n", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
