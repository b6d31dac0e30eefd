#!/bin/bash
# SPDX-License-Identifier: MIT
# A 3-node cluster (RF 3) over one profile, through the CLI and libquorate:
#  - put / get / del at ONE, QUORUM and ALL; versions returned and rising;
#  - one node killed: QUORUM works, ALL answers UNAVAILABLE;
#  - two killed: QUORUM answers UNAVAILABLE within its deadline (the CP
#    answer), ONE still answers from the survivor (the AP answer);
#  - both restarted: every write acknowledged at QUORUM is there (WAL
#    recovery), and ALL reads repair the stale replicas.
# Usage: test_smoke.sh PROFILE QUORATED QUORATE_CLI QUORATE_LOAD
# With QR_SHARDS > 1 on af_packet, every shard says it blocks on its
# doorbell. (root; bounded in time; removes everything it made)
set -uo pipefail
[ $# = 4 ] || { echo "usage: $0 PROFILE QUORATED CLI LOAD"; exit 1; }
profile=$1
export QUORATED=$(realpath "$2")
cli=$(realpath "$3")
load=$(realpath "$4")
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# One local cluster per host (fixed names qrbr0, qr-n*): take the lock the
# other cluster tests take (tests/cluster/lib.sh), so a run started by hand
# or from another build tree waits instead of tearing this one down.
mkdir -p /run/lock
exec 9>/run/lock/quorate-cluster-tests.lock
flock -w 300 9 || { echo "FAIL: another cluster test holds the lock for 300 s"; exit 1; }
run=$(mktemp -d /tmp/qr-smoke.XXXXXX)
export QUORATE_RUN_DIR=$run
fails=0
cleanup() {
	tools/cluster --run-dir "$run" down >/dev/null 2>&1
	rm -rf "$run"
}
trap cleanup EXIT INT TERM

check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fails=$((fails + 1))
	fi
}

q() { timeout 20 "$cli" --cluster "$cluster" --json "$@"; }

# Every node's management endpoint answers (a killed node's stale socket
# refuses connections until the new process binds it).
wait_ready() { # run nodes seconds
	local i t
	for ((t = 0; t < $3 * 5; t++)); do
		local up=0
		for ((i = 0; i < $2; i++)); do
			# answers, and sees every peer UP
			st=$(timeout 5 "$cli" --cluster "$1/cluster.ini" stat \
				--node $i --json 2>/dev/null) || continue
			grep -q '"state":"\(DOWN\|SUSPECT\)"' <<<"$st" ||
				up=$((up + 1))
		done
		[ $up = "$2" ] && return 0
		sleep 0.2
	done
	echo "FAIL: nodes not ready after $3 s"
	return 1
}
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

tools/cluster --run-dir "$run" up 3 --profile "$profile" \
	--shards "${QR_SHARDS:-1}" >"$run/up.log" 2>&1 ||
	{ cat "$run/up.log"; echo "FAIL: cluster up"; exit 1; }
cluster=$(tail -n 1 "$run/up.log")
wait_ready "$run" 3 30 || { tail -n 5 "$run"/n*.log; exit 1; }
# Several shards on af_packet: shards fed over rte_rings block on their
# doorbells (src/shard/doorbell.h) rather than nap, every one of them.
if [ "${QR_SHARDS:-1}" -gt 1 ] && [ "$profile" = af_packet ]; then
	for i in 0 1 2; do
		n=$(grep -c "idle = interrupt: blocking on rx and WAL events, and its doorbell" \
			"$run/n$i.log")
		check "node $i: all ${QR_SHARDS} shards block on a doorbell ($n)" \
			test "$n" = "$QR_SHARDS"
	done
fi

# 1. every level, versions increasing
for lvl in one quorum all; do
	out1=$(q put "k-$lvl" "v1-$lvl" --consistency "$lvl"); rc1=$?
	out2=$(q put "k-$lvl" "v2-$lvl" --consistency "$lvl"); rc2=$?
	h1=$(json_field hlc <<<"$out1") h2=$(json_field hlc <<<"$out2")
	check "put at $lvl twice: ok, versions rise ($h1 < $h2)" \
		test "$rc1" = 0 -a "$rc2" = 0 -a -n "$h1" -a -n "$h2"
	[ -n "$h1" ] && [ -n "$h2" ] && check "version order at $lvl" \
		test "$h1" -lt "$h2"
	out=$(q get "k-$lvl" --consistency "$lvl"); rc=$?
	check "get at $lvl sees v2 ($out)" \
		bash -c "[ $rc = 0 ] && grep -q '\"value\":\"v2-$lvl\"' <<<'$out'"
	q del "k-$lvl" --consistency "$lvl" >/dev/null
	check "del at $lvl" test $? = 0
	q get "k-$lvl" --consistency "$lvl" >/dev/null
	check "get after del at $lvl: NOT_FOUND (exit 3)" test $? = 3
done

# 2. libquorate under a short mixed workload
check "libquorate workload: every request answered" \
	timeout 60 "$load" --cluster "$cluster" --threads 2 --ops 400 --keys 50

# 2b. the same counters as DPDK telemetry (/quorate/stats on node 0)
id=$(sed -n 's/^id *= *//p' "$cluster" | head -n 1)
tel=$(timeout 10 python3 - "/var/run/dpdk/qr${id}n0/dpdk_telemetry.v2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(4096)                       # the greeting
s.send(b"/quorate/stats")
print(json.dumps(json.loads(s.recv(65536))["/quorate/stats"]))
PY
)
okn=$(sed -n 's/.*"replies_ok": \([0-9]*\).*/\1/p' <<<"$tel")
check "telemetry /quorate/stats on node 0 counts replies (replies_ok=$okn)" \
	test "${okn:-0}" -gt 0

# 3. acknowledged QUORUM writes before the failures
for i in $(seq 1 20); do
	q put "durable-$i" "value-$i" --consistency quorum >/dev/null ||
		{ echo "FAIL: setup put durable-$i"; fails=$((fails + 1)); }
done

# 4. one node down
tools/cluster --run-dir "$run" kill 2 >/dev/null
q put after-kill-1 x --consistency quorum >/dev/null
check "one down: QUORUM put works" test $? = 0
q get durable-1 --consistency quorum >/dev/null
check "one down: QUORUM get works" test $? = 0
q put after-kill-1 y --consistency all --deadline-ms 1500 >/dev/null
check "one down: ALL put answers UNAVAILABLE (exit 4)" test $? = 4

# 5. two nodes down: CP and AP answers
tools/cluster --run-dir "$run" kill 1 >/dev/null
t0=$(date +%s%N)
q put cp-test z --consistency quorum --deadline-ms 1000 >/dev/null
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "two down: QUORUM put UNAVAILABLE (exit 4, got $rc)" test $rc = 4
check "two down: ... within its deadline (+ process start slack): ${ms} ms" \
	test $ms -lt 2500
out=$(q get durable-1 --consistency one); rc=$?
check "two down: ONE get answers from the survivor ($out)" \
	bash -c "[ $rc = 0 ] && grep -q '\"value\":\"value-1\"' <<<'$out'"

# 6. restart both: recovery and repair
tools/cluster --run-dir "$run" start 1 >/dev/null
tools/cluster --run-dir "$run" start 2 >/dev/null
wait_ready "$run" 3 30 || fails=$((fails + 1))
sleep 1 # failure detectors see them UP again
missing=0
for i in $(seq 1 20); do
	out=$(q get "durable-$i" --consistency all --deadline-ms 3000)
	grep -q "\"value\":\"value-$i\"" <<<"$out" || {
		missing=$((missing + 1))
		echo "  durable-$i: $out"
	}
done
check "after restart: all 20 acknowledged QUORUM writes read at ALL" \
	test $missing = 0
# node 2 missed after-kill-1; the ALL read above repaired durable-*; ask
# node 2's stats for the repairs it received.
out=$(q get after-kill-1 --consistency all --deadline-ms 3000); rc=$?
check "ALL read of a write node 2 missed: ok" test $rc = 0
stat=$(timeout 10 "$cli" --cluster "$cluster" stat --node 2 --json)
applied=$(json_field applied <<<"$stat")
check "node 2 applied repairs after restart (applied=$applied)" \
	test "${applied:-0}" -gt 0

if [ $fails -ne 0 ]; then
	echo "test_smoke ($profile): $fails check(s) failed; node logs:"
	tail -n 5 "$run"/n*.log
	exit 1
fi
echo "test_smoke ($profile): all checks passed"
