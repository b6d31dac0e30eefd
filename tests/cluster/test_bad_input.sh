#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input: for 10 s a raw-socket sender blasts random, truncated,
# bit-flipped and wrong-cluster frames, and raw frames with broken IPv4/UDP
# headers, at node 0 while a workload runs. The node keeps serving, counts
# drops by reason, and no stored value changes.
# Usage: test_bad_input.sh QUORATED QUORATE_CLI QUORATE_LOAD
set -uo pipefail
[ $# = 3 ] || { echo "usage: $0 QUORATED CLI LOAD"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
load=$(realpath "$3")
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# One local cluster per host (fixed names qrbr0, qr-n*): take the lock the
# other cluster tests take (tests/cluster/lib.sh), so a run started by hand
# or from another build tree waits instead of tearing this one down.
mkdir -p /run/lock
exec 9>/run/lock/quorate-cluster-tests.lock
flock -w 300 9 || { echo "FAIL: another cluster test holds the lock for 300 s"; exit 1; }
run=$(mktemp -d /tmp/qr-bad.XXXXXX)
export QUORATE_RUN_DIR=$run
trap 'tools/cluster --run-dir "$run" down >/dev/null 2>&1; rm -rf "$run"' \
	EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

tools/cluster --run-dir "$run" up 3 --profile af_packet >"$run/up.log" 2>&1 ||
	{ cat "$run/up.log"; exit 1; }
cluster=$(tail -n 1 "$run/up.log")
q() { timeout 20 "$cli" --cluster "$cluster" --json "$@"; }
for t in $(seq 1 100); do
	q stat --node 0 >/dev/null 2>&1 && q stat --node 2 >/dev/null 2>&1 &&
		break
	sleep 0.2
done

# Values that must not change.
# What is stored (value and version), not how it was served (watermark,
# lag, coordinator).
stored_part() { grep -o '"value":"[^"]*","value_len":[0-9]*,"version":"[^"]*"'; }
declare -A before
for i in $(seq 1 10); do
	q put "keep-$i" "value-$i" --consistency all >/dev/null || fail "put keep-$i"
	before[$i]=$(q get "keep-$i" --consistency all | stored_part)
	[ -n "${before[$i]}" ] || fail "get keep-$i before the blast"
done

ip=$(sed -n '/^\[node.0\]/,/^\[/s/^ip *= *//p' "$cluster" | head -n 1)
mac=$(sed -n '/^\[node.0\]/,/^\[/s/^mac *= *//p' "$cluster" | head -n 1)
id=$(sed -n 's/^id *= *//p' "$cluster" | head -n 1)
timeout 60 "$load" --cluster "$cluster" --threads 2 --seconds 10 --keys 30 \
	>"$run/load.out" 2>&1 &
lp=$!
timeout 30 python3 tests/cluster/blast.py "$ip" 7400 "$id" qrbr0 "$mac" 10 ||
	fail "blaster"
wait $lp
lrc=$?
cat "$run/load.out"
[ $lrc = 0 ] || fail "workload during the blast: exit $lrc"

stat=$(q stat --node 0) || fail "node 0 stat after the blast"
echo "$stat" | tr ',' '\n' | grep -E '"(PARSE|WIRE|NOT_FOR_US|BAD_PORT)"'
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$stat"; }
[ "$(num WIRE)" -gt 0 ] 2>/dev/null || fail "no WIRE drops counted"
[ "$(num PARSE)" -gt 0 ] 2>/dev/null || fail "no PARSE drops counted"
for i in $(seq 1 10); do
	after=$(q get "keep-$i" --consistency all | stored_part)
	[ "$after" = "${before[$i]}" ] ||
		fail "keep-$i changed: ${before[$i]} -> $after"
done
q put after-blast ok --consistency all >/dev/null || fail "ALL put after blast"

if [ $fails -ne 0 ]; then
	tail -n 5 "$run"/n*.log
	echo "test_bad_input: $fails check(s) failed"
	exit 1
fi
echo "test_bad_input: node kept serving, drops counted, values unchanged"
