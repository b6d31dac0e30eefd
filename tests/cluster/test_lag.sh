#!/bin/bash
# SPDX-License-Identifier: MIT
# The replication-lag view: a memif cluster under a write workload; node
# 2's links are delayed 300 ms (qr-vswitch, as netem would), and
# `quorate stat replication` on the coordinators shows writes to node 2
# unacknowledged and growing old; with the delay removed the backlog drains.
# Usage: test_lag.sh QUORATED QUORATE_CLI QUORATE_LOAD   (QR_VSWITCH set)
set -uo pipefail
[ $# = 3 ] || { echo "usage: $0 QUORATED CLI LOAD"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
load=$(realpath "$3")
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
run=$(mktemp -d /tmp/qr-lag.XXXXXX)
export QUORATE_RUN_DIR=$run
trap 'kill $lp 2>/dev/null; tools/cluster --run-dir "$run" down >/dev/null 2>&1; rm -rf "$run"' EXIT INT TERM
lp=""
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

tools/cluster --run-dir "$run" up 3 --profile memif >"$run/up.log" 2>&1 ||
	{ cat "$run/up.log"; exit 1; }
c=$run/cluster.ini
for t in $(seq 1 150); do
	ok=0
	for i in 0 1 2; do
		st=$("$cli" --cluster "$c" stat --node $i --json 2>/dev/null) || continue
		grep -q '"state":"\(DOWN\|SUSPECT\)"' <<<"$st" || ok=$((ok + 1))
	done
	[ $ok = 3 ] && break
	sleep 0.2
done

# Writes to node 2 not yet acked, and the oldest age, seen by nodes 0 and 1.
backlog() { # prints "UNACKED OLDEST_MS"
	local u=0 o=0 i st nu no
	for i in 0 1; do
		st=$("$cli" --cluster "$c" stat replication --node $i --json) || continue
		nu=$(grep -o '"node":2,[^}]*' <<<"$st" | sed -n 's/.*"unacked_writes":\([0-9]*\).*/\1/p')
		no=$(grep -o '"node":2,[^}]*' <<<"$st" | sed -n 's/.*"oldest_unacked_ms":\([0-9]*\).*/\1/p')
		u=$((u + ${nu:-0}))
		[ "${no:-0}" -gt $o ] && o=${no:-0}
	done
	echo "$u $o"
}

"$load" --cluster "$c" --threads 2 --seconds 9 --keys 200 --mix 0,100,0 \
	>"$run/load.out" 2>&1 &
lp=$!
sleep 1.5
read -r u0 o0 <<<"$(backlog)"
echo "no delay: unacked=$u0 oldest_ms=$o0"
tools/cluster --run-dir "$run" delay 2 300 >/dev/null
max_u=0 max_o=0
# A coordinator tracks a write until its answer plus a linger (one maximum
# RTO, 100 ms), so ages seen here stay below ~100 ms: sample densely.
for k in $(seq 1 25); do
	sleep 0.1
	read -r u o <<<"$(backlog)"
	[ $((k % 5)) = 0 ] && echo "delay 300 ms, sample $k: unacked=$u oldest_ms=$o"
	[ "$u" -gt $max_u ] && max_u=$u
	[ "$o" -gt $max_o ] && max_o=$o
done
echo "while lagging: max unacked=$max_u, max oldest_ms=$max_o"
[ $max_u -gt 0 ] || fail "no unacknowledged writes to node 2 while its link lagged"
[ $max_o -ge 50 ] || fail "the oldest unacknowledged write never aged (max ${max_o} ms)"
[ $max_o -gt "$o0" ] || fail "the lag did not grow ($o0 -> $max_o ms)"
tools/cluster --run-dir "$run" delay 2 0 >/dev/null
sleep 2
read -r u1 o1 <<<"$(backlog)"
echo "delay removed: unacked=$u1 oldest_ms=$o1"
[ "$o1" -lt 50 ] || fail "the backlog did not drain (oldest ${o1} ms)"
wait $lp
lrc=$?
lp=""
cat "$run/load.out"
[ $lrc = 0 ] || fail "QUORUM writes failed while one replica lagged"
sleep 1
read -r u2 o2 <<<"$(backlog)"
echo "idle: unacked=$u2 oldest_ms=$o2"
[ "$u2" = 0 ] || fail "writes still unacknowledged when idle: $u2"
if [ $fails -ne 0 ]; then
	echo "test_lag: $fails check(s) failed"
	exit 1
fi
echo "test_lag: the lag grew while node 2 lagged and drained after"
