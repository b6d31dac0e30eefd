#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Each node's HTTP endpoint and readiness (issue 16, items 2 and 6), on a
# real 3-node af_packet cluster (~15 s):
#  - `tools/cluster up` returns only once every node is ready, so the first
#    put right after it succeeds, and `quorate ready` exits 0 at once;
#  - GET /metrics on every node parses with Prometheus' own text parser
#    (python3-prometheus-client), has the families operators need, its
#    histograms are cumulative with +Inf == _count, and the requests the
#    test made show up (requests, OK replies, WAL commits, latencies);
#  - GET /ready is 200 with {"ready":true}; after two of three nodes are
#    killed node 0's /ready is 503 with a JSON reason, `quorate ready
#    --node 0` exits 4 (UNAVAILABLE), /metrics says quorate_ready 0; once
#    one node is back it is ready again;
#  - an unknown path is 404, a POST is 405, both with a JSON body.
# Usage: test_metrics.sh QUORATED QUORATE_CLI (root)
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED CLI"; exit 1; }
export QUORATED=$(realpath "$1")
export QUORATE_CLI=$(realpath "$2")
cli=$QUORATE_CLI
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-90}
. "$(dirname "$0")/lib.sh"
qr_require_root
qr_require_cmd curl curl
PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null ||
	qr_fail "python3-prometheus-client missing (tools/setup installs it)"
qr_cluster_up 3 --profile af_packet
c=$QR_CLUSTER_FILE
q() { timeout 20 "$cli" --cluster "$c" "$@"; }
http() { # NODE PATH [curl args]: status line + body on stdout
	local n=$1 p=$2
	shift 2
	ip netns exec "qr-n$n" curl -s -m 5 -o "$QR_TEST_TMP/body" \
		-w '%{http_code}' "$@" "http://127.0.0.1:$((9470 + n))$p"
}

# 'up' waited: the very first request succeeds, ready exits 0 at once.
q put first v >/dev/null || qr_fail "first put after 'up' failed"
q ready >/dev/null || qr_fail "quorate ready after 'up': not ready"
for i in 1 2 3 4 5 6 7 8 9 10; do
	q put "k$i" "v$i" >/dev/null || qr_fail "put k$i"
	q get "k$i" >/dev/null || qr_fail "get k$i"
done

for n in 0 1 2; do
	code=$(http $n /metrics) || qr_fail "node $n: curl /metrics"
	[ "$code" = 200 ] || qr_fail "node $n: /metrics answered $code"
	cp "$QR_TEST_TMP/body" "$QR_TEST_TMP/metrics.$n"
done
$PY - "$QR_TEST_TMP"/metrics.{0,1,2} <<'PYEOF' || qr_fail "/metrics checks"
import sys
from prometheus_client.parser import text_string_to_metric_families as parse
need = ["quorate_node_info", "quorate_ready", "quorate_requests",
        "quorate_replies", "quorate_request_duration_seconds",
        "quorate_drops", "quorate_wal_batches", "quorate_wal_fsyncs",
        "quorate_wal_commit_duration_seconds", "quorate_hints",
        "quorate_peer_watermark_lag_seconds", "quorate_anti_entropy",
        "quorate_peer_up"]
total = {"put": 0, "get": 0, "ok": 0, "lat": 0, "wal": 0}
for path in sys.argv[1:]:
    fams = {f.name: f for f in parse(open(path).read())}
    for n in need:
        assert n in fams, f"{path}: no family {n}"
    assert fams["quorate_ready"].samples[0].value == 1, path
    for s in fams["quorate_requests"].samples:
        if s.labels["op"] in ("put", "get"):
            total[s.labels["op"]] += s.value
    for s in fams["quorate_replies"].samples:
        if s.labels["code"] == "OK":
            total["ok"] += s.value
    for h in ("quorate_request_duration_seconds",
              "quorate_wal_commit_duration_seconds"):
        series = {}
        for s in fams[h].samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items()
                               if k != "le"))
            series.setdefault(key, []).append(s)
        for key, ss in series.items():
            b = [s for s in ss if s.name.endswith("_bucket")]
            cnt = [s.value for s in ss if s.name.endswith("_count")][0]
            vals = [s.value for s in b]
            assert vals == sorted(vals), f"{h}{key}: not cumulative"
            assert b[-1].labels["le"] == "+Inf" and vals[-1] == cnt, key
            if h.startswith("quorate_wal"):
                total["wal"] += cnt
            else:
                total["lat"] += cnt
    peers = [s for s in fams["quorate_peer_up"].samples]
    assert len(peers) == 2 and all(s.value == 1 for s in peers), path
# 11 puts and 10 gets were coordinated somewhere in the cluster.
assert total["put"] >= 11 and total["get"] >= 10, total
assert total["ok"] >= 21 and total["lat"] >= 21, total
assert total["wal"] >= 11, total
print("metrics ok", total)
PYEOF

code=$(http 0 /ready)
[ "$code" = 200 ] && grep -q '"ready":true' "$QR_TEST_TMP/body" ||
	qr_fail "/ready: $code $(cat "$QR_TEST_TMP/body")"
code=$(http 0 /nope)
[ "$code" = 404 ] && grep -q '"error"' "$QR_TEST_TMP/body" ||
	qr_fail "/nope answered $code"
code=$(http 0 /metrics -X POST)
[ "$code" = 405 ] || qr_fail "POST /metrics answered $code"

# Two of three down: node 0 sees no majority within the detector's
# down time, and says so.
qr_cluster kill 1 >/dev/null
qr_cluster kill 2 >/dev/null
notready() {
	[ "$(http 0 /ready)" = 503 ] && grep -q '"ready":false' "$QR_TEST_TMP/body"
}
qr_wait 15 "node 0 /ready 503 with two nodes down" notready
grep -q '"reason":"1 of 3 nodes up' "$QR_TEST_TMP/body" ||
	qr_fail "503 body names no reason: $(cat "$QR_TEST_TMP/body")"
rc=0
q ready --node 0 >"$QR_TEST_TMP/ready.out" 2>&1 || rc=$?
[ "$rc" = 4 ] || qr_fail "quorate ready --node 0 exit $rc (want 4)"
grep -q "not ready: 1 of 3 nodes up" "$QR_TEST_TMP/ready.out" ||
	qr_fail "quorate ready says: $(cat "$QR_TEST_TMP/ready.out")"
http 0 /metrics >/dev/null
grep -q '^quorate_ready 0$' "$QR_TEST_TMP/body" ||
	qr_fail "/metrics: quorate_ready is not 0 with two nodes down"

# One back: a majority again, node 0 ready (quorate ready --wait).
qr_cluster start 1 >/dev/null
q ready --node 0 --wait 20 >/dev/null || qr_fail "node 0 not ready again"
qr_pass "/metrics parses on 3 nodes, /ready and quorate ready follow the quorum"
