#!/bin/bash
# SPDX-License-Identifier: MIT
# The replication-lag view and session reads against a slowed replica: a
# memif cluster under a write workload; node 2's links are delayed 300 ms
# (qr-vswitch, as netem would). `quorate stat replication` on the
# coordinators shows writes to node 2 unacknowledged and growing old, then
# kept as hints; node 2's watermark falls behind by the delay. Meanwhile a
# session writes at QUORUM and reads at ONE through random coordinators,
# node 2 included, with its token: no read may go back in time. With the
# delay removed the backlog, the hints and the watermark lag drain.
# Usage: test_lag.sh QUORATED QUORATE_CLI QUORATE_LOAD SESSION_READS
#        (QR_VSWITCH set)
set -uo pipefail
[ $# = 4 ] || { echo "usage: $0 QUORATED CLI LOAD SESSION_READS"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
load=$(realpath "$3")
sess=$(realpath "$4")
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# One local cluster per host (fixed names qrbr0, qr-n*): take the lock the
# other cluster tests take (tests/cluster/lib.sh), so a run started by hand
# or from another build tree waits instead of tearing this one down.
mkdir -p /run/lock
exec 9>/run/lock/quorate-cluster-tests.lock
flock -w 300 9 || { echo "FAIL: another cluster test holds the lock for 300 s"; exit 1; }
run=$(mktemp -d /tmp/qr-lag.XXXXXX)
export QUORATE_RUN_DIR=$run
trap 'kill $lp $sp 2>/dev/null; tools/cluster --run-dir "$run" down >/dev/null 2>&1; rm -rf "$run"' EXIT INT TERM
lp="" sp=""
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

tools/cluster --run-dir "$run" up 3 --profile memif-switch >"$run/up.log" 2>&1 ||
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
# Hints kept for node 2 on nodes 0 and 1; node 2's watermark lag (ms).
hints_for_2() {
	local h=0 i st n
	for i in 0 1; do
		st=$("$cli" --cluster "$c" stat replication --node $i --json) || continue
		n=$(grep -o '"node":2,[^}]*' <<<"$st" | sed -n 's/.*"hint_records":\([0-9]*\).*/\1/p')
		h=$((h + ${n:-0}))
	done
	echo $h
}
wm_lag_2() {
	"$cli" --cluster "$c" stat replication --node 2 --json |
		sed -n 's/^{"node":2,"watermark_lag_ms":\([0-9]*\).*/\1/p'
}
l0=$(wm_lag_2)
echo "no delay: node 2 watermark lag ${l0:-?} ms"
tools/cluster --run-dir "$run" delay 2 300 >/dev/null
"$sess" "$c" 5 2 >"$run/sess.out" 2>&1 &
sp=$!
max_u=0 max_o=0 max_h=0 max_l=0
# A coordinator tracks a write until its answer plus a linger (one maximum
# RTO, 100 ms), so ages seen here stay below ~100 ms: sample densely.
for k in $(seq 1 25); do
	sleep 0.1
	read -r u o <<<"$(backlog)"
	[ $((k % 5)) = 0 ] && echo "delay 300 ms, sample $k: unacked=$u oldest_ms=$o"
	[ "$u" -gt $max_u ] && max_u=$u
	[ "$o" -gt $max_o ] && max_o=$o
	if [ $((k % 5)) = 0 ]; then
		hh=$(hints_for_2) ll=$(wm_lag_2)
		echo "  hints for node 2: $hh, node 2 watermark lag: ${ll:-?} ms"
		[ "$hh" -gt $max_h ] && max_h=$hh
		[ "${ll:-0}" -gt $max_l ] && max_l=${ll:-0}
	fi
done
echo "while lagging: max unacked=$max_u, max oldest_ms=$max_o, max hints=$max_h, max watermark lag=$max_l ms"
[ $max_u -gt 0 ] || fail "no unacknowledged writes to node 2 while its link lagged"
[ $max_o -ge 50 ] || fail "the oldest unacknowledged write never aged (max ${max_o} ms)"
[ $max_o -gt "$o0" ] || fail "the lag did not grow ($o0 -> $max_o ms)"
[ $max_h -gt 0 ] || fail "no hints were kept for node 2 while it lagged"
[ $max_l -ge 200 ] || fail "node 2's watermark lag did not grow (max ${max_l} ms)"
wait $sp
src=$?
sp=""
cat "$run/sess.out"
[ $src = 0 ] || fail "session reads went back in time, or none was served via node 2"
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
h2=$(hints_for_2) l2=$(wm_lag_2)
echo "idle: hints for node 2: $h2, node 2 watermark lag: ${l2:-?} ms"
[ "$h2" = 0 ] || fail "hints for node 2 not drained: $h2"
[ "${l2:-999}" -lt 150 ] || fail "node 2's watermark lag did not drain (${l2:-?} ms)"
if [ $fails -ne 0 ]; then
	echo "test_lag: $fails check(s) failed"
	exit 1
fi
echo "test_lag: the lag grew while node 2 lagged and drained after"
