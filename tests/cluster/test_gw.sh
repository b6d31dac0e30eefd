#!/bin/bash
# SPDX-License-Identifier: MIT
# quorate-gw (docs/http.md) against real 3-node clusters, through curl and
# Python's http.client (gw_checks.py):
#  1. af_packet cluster: every status code and header of the contract
#     (curl table here, the full set in gw_checks.py contract), malformed
#     requests (bad headers, huge headers, bad keys, oversized bodies) get
#     4xx, never reach the cluster and change nothing; /metrics parsed by
#     prometheus_client's text parser; the username-registration race
#     (8 concurrent clients POST the same names: exactly one 201 each);
#     a third gateway with --http-keys: 401 (no, wrong or unknown
#     credential), 403 (ro client writing, rw client outside its prefix),
#     2xx inside the rules, and the refused writes changed nothing;
#  2. the status page rendered by headless Chromium: a real PNG, and the
#     DOM names every node and draws a bar per peer;
#  3. partition 0/1/2: QUORUM writes 503 + Retry-After, outcome unknown;
#     the host cut from every node: 504 at the deadline, /ready 503, and
#     429 + Retry-After from a gateway with --max-inflight 2;
#  4. memif cluster, node 2's links delayed 300 ms: a session reading at
#     ONE with X-Min-Version always reads its own writes (some via node 2).
# Usage: test_gw.sh QUORATED QUORATE_GW  (root, QR_VSWITCH set; ~60 s).
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED QUORATE_GW"; exit 1; }
export QUORATED=$(realpath "$1")
gw=$(realpath "$2")
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-85}
. "$(dirname "$0")/lib.sh"
qr_require_root
qr_require_cmd curl curl
qr_require_cmd chromium chromium
py=/usr/bin/python3 # Debian's, with python3-prometheus-client
$py -c 'import prometheus_client' 2>/dev/null ||
	qr_fail "python3-prometheus-client missing (tools/setup)"
qr_test_init
cd "$QR_ROOT" || exit 1
checks=$(dirname "$0")/gw_checks.py
# Three free TCP ports (the kernel picks them; nothing else binds them in
# the instant between this and the gateways' start).
read -r P1 P2 P3 < <($py -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
gw_pids=()
fails=0
t0=$SECONDS
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then qr_log "ok: $what"; else
		qr_log "FAIL: $what"
		fails=$((fails + 1))
	fi
}
up() { # tools/cluster up 3 ARGS, output to a file (the daemons keep $(...) open)
	QR_RUN="$QR_TEST_TMP/run"
	rm -rf "$QR_RUN"
	QR_UP=1
	"$QR_CLUSTER" up 3 "$@" --run-dir "$QR_RUN" >"$QR_TEST_TMP/up.log" 2>&1 ||
		qr_fail "tools/cluster up 3 $*: $(tail -n 3 "$QR_TEST_TMP/up.log")"
	QR_CLUSTER_FILE=$QR_RUN/cluster.ini
}
start_gw() { # PORT ARGS...
	local port=$1
	shift
	"$gw" --cluster "$QR_CLUSTER_FILE" --port "$port" --quiet "$@" \
		>"$QR_TEST_TMP/gw-$port.log" 2>&1 &
	gw_pids+=($!)
}
stop_gws() {
	local p
	for p in "${gw_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${gw_pids[@]}"; do wait "$p" 2>/dev/null; done
	gw_pids=()
}
trap 'rc=$?; stop_gws; (exit $rc); qr_teardown' EXIT
ready() { curl -sf -m 2 "localhost:$1/ready" >/dev/null; }
# cx CODE HEADER-REGEX CURL-ARGS...: curl answers CODE with a header
# matching the regex (case-insensitive; '' for none to check).
cx() {
	local want=$1 hre=$2
	shift 2
	local code
	code=$(curl -s -m 10 -o "$QR_TEST_TMP/body" -D "$QR_TEST_TMP/hdrs" \
		-w '%{http_code}' "$@")
	[ "$code" = "$want" ] || { qr_log "  got $code: $(head -c 200 "$QR_TEST_TMP/body")"; return 1; }
	[ -z "$hre" ] || grep -Eiq "$hre" "$QR_TEST_TMP/hdrs" ||
		{ qr_log "  no header /$hre/ in: $(tr '\r\n' '  ' <"$QR_TEST_TMP/hdrs")"; return 1; }
}
etag() { sed -n 's/^ETag: *\("[^"]*"\).*/\1/Ip' "$QR_TEST_TMP/hdrs" | tr -d '\r'; }

# ---- 1. the contract over curl and http.client --------------------------
up --profile af_packet
start_gw $P1 --loops 2 # two loops share the port (SO_REUSEPORT)
start_gw $P2 --max-inflight 2
qr_wait 30 "the gateway's /ready (a QUORUM read through it)" ready $P1
qr_log "cluster and gateway ready after $((SECONDS - t0)) s"
U=localhost:$P1/v1/kv
check "curl PUT: 204, ETag, X-Write-Version, X-Quorate-Node, X-Replicas" \
	cx 204 '^X-Replicas: [0-9]/3' -X PUT --data-binary v1 $U/c1
grep -Eiq '^X-Write-Version: [0-9]+\.[0-9]+' "$QR_TEST_TMP/hdrs" &&
	grep -Eiq '^X-Quorate-Node: [0-9]' "$QR_TEST_TMP/hdrs" ||
	check "curl PUT headers" false
v1=$(etag)
check "curl GET: 200, X-Data-Version, X-Replication-Lag-Ms" \
	cx 200 '^X-Replication-Lag-Ms: [0-9]+' $U/c1
check "curl GET body is the value" grep -qx v1 "$QR_TEST_TMP/body"
check "curl GET If-None-Match: 304" cx 304 '^ETag: "' -H "If-None-Match: $v1" $U/c1
check "curl PUT If-Match current: 204" cx 204 '^X-Write-Version' -X PUT -H "If-Match: $v1" --data-binary v2 $U/c1
check "curl PUT If-Match stale: 412 + current ETag" cx 412 '^ETag: "[0-9]+\.[0-9]+"' -X PUT -H "If-Match: $v1" --data-binary v3 $U/c1
check "curl POST new: 201 + Location" cx 201 '^Location: /v1/kv/c-user' -X POST --data-binary me $U/c-user
check "curl POST taken: 409 + ETag" cx 409 '^ETag: "' -X POST --data-binary you $U/c-user
check "curl DELETE: 204" cx 204 '^X-Write-Version' -X DELETE $U/c1
check "curl GET deleted: 404 + tombstone ETag" cx 404 '^ETag: "' $U/c1
check "curl GET missing: 404" cx 404 '' $U/never-written
check "curl bad X-Consistency: 400" cx 400 '' -H 'X-Consistency: most' $U/c1
# Values over one frame (issue 15) go through; one over the cluster's
# value_bytes_max (1 MiB) is refused before the cluster is asked.
head -c 70000 /dev/urandom >"$QR_TEST_TMP/v70k"
head -c 1048577 /dev/zero | tr '\0' x >"$QR_TEST_TMP/v1m1"
check "curl 70 KB body: 204" cx 204 '^X-Write-Version' -X PUT --data-binary @"$QR_TEST_TMP/v70k" $U/c3
check "curl GET of the 70 KB value: the same bytes" sh -c \
	"curl -s -m 10 -H 'X-Consistency: all' $U/c3 | cmp -s - '$QR_TEST_TMP/v70k'"
check "curl oversized body (1 MiB + 1): 413" cx 413 '' -X PUT --data-binary @"$QR_TEST_TMP/v1m1" $U/c2
check "curl 300-byte key: 414" cx 414 '' "$U/$(head -c 300 /dev/zero | tr '\0' k)"
big_header() {
	local code
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' \
		-H "X-Big: $(head -c 20000 /dev/zero | tr '\0' b)" $U/c2)
	[ "$code" = 431 ]
}
check "curl huge header: 431" big_header
check "curl PATCH: 405 + Allow" cx 405 '^Allow: GET' -X PATCH $U/c1
check "curl: c2 was never written by the refused requests" cx 404 '' -H 'X-Consistency: all' $U/c2
check "http.client: the contract (gw_checks.py contract)" \
	$py "$checks" contract $P1
check "http.client: the registration race (gw_checks.py race)" \
	$py "$checks" race $P1
qr_log "contract done at $((SECONDS - t0)) s"

# ---- 1b. --http-keys: HTTP client authentication (~1 s) ------------------
hexkey() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
K5=$(hexkey) K6=$(hexkey)
keys=$QR_TEST_TMP/http.keys
(umask 077 && printf '# HTTP clients\n5 rw app/ %s\n6 ro app/ %s\n' "$K5" "$K6" >"$keys")
start_gw $P3 --http-keys "$keys"
qr_wait 10 "the authenticating gateway's /ready (open)" ready $P3
A=localhost:$P3/v1/kv
rw=(-H "Authorization: Bearer 5.$K5")
ro=(-H "Authorization: Bearer 6.$K6")
check "auth: no credential: 401 + WWW-Authenticate" \
	cx 401 '^WWW-Authenticate: Bearer realm="quorate"' $A/app/a
check "auth: 401 body names UNAUTHORIZED" grep -q '"error":"UNAUTHORIZED"' "$QR_TEST_TMP/body"
check "auth: wrong key: 401" cx 401 '' -H "Authorization: Bearer 5.$K6" $A/app/a
check "auth: unknown client: 401" cx 401 '' -H "Authorization: Bearer 7.$K5" $A/app/a
check "auth: rw client in its prefix: PUT 204" cx 204 '^X-Write-Version' "${rw[@]}" -X PUT --data-binary a1 $A/app/a
check "auth: ro client GET in its prefix: 200" cx 200 '' "${ro[@]}" $A/app/a
check "auth: ro GET body is the value" grep -qx a1 "$QR_TEST_TMP/body"
check "auth: ro client PUT: 403" cx 403 '' "${ro[@]}" -X PUT --data-binary ro $A/app/a
check "auth: 403 body names FORBIDDEN" grep -q '"error":"FORBIDDEN"' "$QR_TEST_TMP/body"
check "auth: ro client DELETE: 403" cx 403 '' "${ro[@]}" -X DELETE $A/app/a
check "auth: rw client outside its prefix: 403" cx 403 '' "${rw[@]}" -X PUT --data-binary x $A/other/b
check "auth: unauthenticated PUT: 401" cx 401 '' -X PUT --data-binary x $A/app/c
check "auth: app/a unchanged by the refused writes (read at ALL)" \
	cx 200 '' -H 'X-Consistency: all' localhost:$P1/v1/kv/app/a
check "auth: app/a still holds a1" grep -qx a1 "$QR_TEST_TMP/body"
check "auth: other/b and app/c never written" bash -c \
	"[ \$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Consistency: all' localhost:$P1/v1/kv/other/b) = 404 ] &&
	[ \$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Consistency: all' localhost:$P1/v1/kv/app/c) = 404 ]"
check "auth: /metrics open, counts 401 and 403" bash -c \
	"curl -sf -m 5 localhost:$P3/metrics >'$QR_TEST_TMP/m3' &&
	grep -q 'method=\"GET\",code=\"401\"} 3' '$QR_TEST_TMP/m3' &&
	grep -q 'method=\"PUT\",code=\"403\"} 2' '$QR_TEST_TMP/m3'"
cp "$keys" "$keys.644" && chmod 644 "$keys.644"
check "auth: a key file others may read stops the gateway at start" bash -c \
	"! timeout 5 '$gw' --cluster '$QR_CLUSTER_FILE' --port 0 --http-keys '$keys.644' >'$QR_TEST_TMP/gw644' 2>&1 &&
	grep -q 'http-keys: .*mode 0644' '$QR_TEST_TMP/gw644'"
qr_log "auth done at $((SECONDS - t0)) s"

# ---- 2. the status page in headless Chromium ------------------------------
shot=$QR_TEST_TMP/status.png
chrome() {
	timeout 40 chromium --headless --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --hide-scrollbars --user-data-dir="$QR_TEST_TMP/chrome" "$@" \
		2>>"$QR_TEST_TMP/chrome.log"
}
chrome --window-size=900,560 --screenshot="$shot" "http://127.0.0.1:$P1/status" >/dev/null
png_ok() { # a PNG of real content: signature, size, not one flat colour
	[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
		[ "$(stat -c %s "$1")" -gt 8000 ]
}
check "Chromium: the status page screenshot is a non-trivial PNG ($(stat -c %s "$shot" 2>/dev/null) B)" png_ok "$shot"
[ -z "${QR_GW_SHOT:-}" ] || cp "$shot" "$QR_GW_SHOT"
chrome --dump-dom "http://127.0.0.1:$P1/status" >"$QR_TEST_TMP/dom.html"
for i in 0 1 2; do
	check "Chromium DOM: node $i row and its two peer bars" \
		bash -c "grep -q 'id=\"node-$i\"' '$QR_TEST_TMP/dom.html' &&
		[ \$(grep -o 'class=\"peer\" data-node=\"$i\"' '$QR_TEST_TMP/dom.html' | wc -l) = 2 ]"
done
qr_log "chromium done at $((SECONDS - t0)) s"

# ---- 3. partitions ----------------------------------------------------------
qr_cluster partition 0/1/2 >/dev/null || qr_fail "partition 0/1/2"
sleep 1.5 # the detectors see their peers DOWN: UNAVAILABLE at once
check "curl partitioned QUORUM PUT: 503 + Retry-After" \
	cx 503 '^Retry-After: 1' -X PUT --data-binary x $U/p1
check "503 body: the write's outcome is unknown" grep -q '"outcome":"unknown"' "$QR_TEST_TMP/body"
check "http.client: partitioned (gw_checks.py split)" $py "$checks" split $P1
qr_cluster partition 0,1,2/host >/dev/null || qr_fail "partition host"
check "curl no node reachable: 504" cx 504 '' -X PUT -H 'X-Deadline-Ms: 300' --data-binary x $U/p2
check "http.client: cut off (gw_checks.py cutoff)" $py "$checks" cutoff $P1 $P2
qr_cluster heal >/dev/null || qr_fail "heal"
stop_gws
"$QR_CLUSTER" --run-dir "$QR_RUN" down >/dev/null 2>&1
QR_UP=0
qr_log "partitions done at $((SECONDS - t0)) s"

# ---- 4. read-your-writes with a slowed replica (memif) ---------------------
[ -n "${QR_VSWITCH:-}" ] || qr_fail "QR_VSWITCH not set (meson sets it)"
up --profile memif-switch
start_gw $P1 --coordinator random
qr_wait 30 "the gateway's /ready on the memif cluster" ready $P1
qr_cluster delay 2 300 >/dev/null || qr_fail "delay 2 300"
sleep 0.3
check "http.client: read-your-writes via X-Min-Version (gw_checks.py ryw)" \
	$py "$checks" ryw $P1
qr_cluster delay 2 0 >/dev/null
qr_log "total $((SECONDS - t0)) s"
[ "$fails" = 0 ] || qr_fail "$fails check(s) failed"
qr_pass "gateway contract, race, status page, partitions, read-your-writes"
