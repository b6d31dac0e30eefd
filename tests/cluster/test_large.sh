#!/bin/bash
# SPDX-License-Identifier: MIT
# Large values end to end (issue 15), on a 3-node cluster of each profile
# given (af_packet and memif-switch in the suite), through the CLI:
#  1. values of 1 B, 1 KiB, 64 KiB and 1 MiB are written and read back
#     byte for byte at ONE, QUORUM and ALL (the 64 KiB and 1 MiB ones travel
#     as fragments both ways: request, REPLICATE, READ_REPLY, reply);
#  2. a value of value_bytes_max + 1 is TOO_LARGE (exit status of the
#     error) and nothing is stored: the key reads NOT_FOUND at ALL;
#  3. kill -9 of the coordinator in the middle of a 1 MiB QUORUM write,
#     three times at different moments: after a restart, a read at ALL
#     returns either the whole value (required when the write was
#     acknowledged) or NOT_FOUND (allowed only when it was not), never a
#     truncated or mixed one;
#  4. (memif-switch) with 1% of the frames to every node lost, 1 MiB values are
#     written and read back at ALL, and the nodes resent chunks for NACKs.
# Usage: test_large.sh QUORATED QUORATE_CLI PROFILE...  (root; bounded:
# about 20 s per profile; removes what it made; takes the cluster-test lock
# of tests/cluster/lib.sh)
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 QUORATED CLI PROFILE..."; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
mkdir -p /run/lock
exec 9>/run/lock/quorate-cluster-tests.lock
flock -w 300 9 || { echo "FAIL: another cluster test holds the lock for 300 s"; exit 1; }
run=$(mktemp -d /tmp/qr-large.XXXXXX)
export QUORATE_RUN_DIR=$run
trap 'tools/cluster --run-dir "$run" down >/dev/null 2>&1; rm -rf "$run"' EXIT INT TERM
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

sizes="1 1024 65536 1048576"
for s in $sizes 1048577; do
	head -c "$s" /dev/urandom >"$run/v$s"
done

for profile in "$@"; do
	echo "== profile $profile"
	tools/cluster --run-dir "$run" up 3 --profile "$profile" \
		>"$run/up.log" 2>&1 || { cat "$run/up.log"; exit 1; }
	c=$run/cluster.ini
	q() { timeout 30 "$cli" --cluster "$c" --deadline-ms 5000 "$@"; }

	# 1. every size at every level, read back at the same level.
	for s in $sizes; do
		for lvl in one quorum all; do
			k="$profile-$s-$lvl"
			if ! q -C "$lvl" put "$k" - <"$run/v$s" >"$run/put.out" 2>&1; then
				fail "$profile: put $s B at $lvl: $(cat "$run/put.out")"
				continue
			fi
			rm -f "$run/got"
			if ! q -C "$lvl" get "$k" -o "$run/got" 2>"$run/get.err"; then
				fail "$profile: get $s B at $lvl: $(cat "$run/get.err")"
			elif ! cmp -s "$run/got" "$run/v$s"; then
				fail "$profile: $s B at $lvl read back different bytes ($(stat -c %s "$run/got") B)"
			else
				ok
			fi
		done
	done
	# A 1 MiB value written at ONE is on every replica after a moment
	# (the background REPLICATEs are fragments too): read it at ALL.
	sleep 1
	rm -f "$run/got"
	if q -C all get "$profile-1048576-one" -o "$run/got" 2>/dev/null &&
		cmp -s "$run/got" "$run/v1048576"; then ok; else
		fail "$profile: the 1 MiB ONE write is not whole at ALL"
	fi

	# 2. over the limit: TOO_LARGE, nothing stored.
	if q put "$profile-over" - <"$run/v1048577" >"$run/over.out" 2>&1; then
		fail "$profile: a value of 1 MiB + 1 was accepted"
	elif ! grep -q TOO_LARGE "$run/over.out"; then
		fail "$profile: over the limit said: $(cat "$run/over.out")"
	else
		ok
	fi
	out=$(q -C all get "$profile-over" 2>&1)
	if grep -q NOT_FOUND <<<"$out"; then ok; else
		fail "$profile: the refused value's key reads: ${out:0:80}"
	fi

	# 3. kill the coordinator (--coordinator first: the key's first
	# replica, which `quorate ring KEY` names) in the middle of the write.
	for delay in 0.002 0.006 0.015; do
		k="$profile-kill-$delay"
		co=$("$cli" --cluster "$c" ring "$k" |
			sed -n 's/^  node \([0-9]*\).*/\1/p' | head -n 1)
		q put "$k" - --coordinator first <"$run/v1048576" \
			>"$run/kill.out" 2>&1 &
		wp=$!
		sleep "$delay"
		tools/cluster --run-dir "$run" kill "$co" >/dev/null 2>&1
		wait $wp
		acked=$?
		tools/cluster --run-dir "$run" start "$co" >/dev/null 2>&1 ||
			fail "$profile: node $co did not restart"
		"$cli" --cluster "$c" ready --wait 20 >/dev/null 2>&1 ||
			fail "$profile: not ready after restarting node $co"
		rm -f "$run/got"
		q -C all get "$k" -o "$run/got" >/dev/null 2>"$run/kget.err"
		got=$?
		if [ -s "$run/got" ] && cmp -s "$run/got" "$run/v1048576"; then
			ok # whole
		elif [ $acked != 0 ] && grep -q NOT_FOUND "$run/kget.err"; then
			ok # not acknowledged, not there
		else
			fail "$profile: kill after ${delay}s: put exit $acked ($(head -c 100 "$run/kill.out")), get exit $got ($(head -c 100 "$run/kget.err")), $(stat -c %s "$run/got" 2>/dev/null || echo 0) B"
		fi
		echo "kill node $co after ${delay}s: put exit $acked, read back: $( [ -s "$run/got" ] && echo whole || echo absent)"
	done
	# 4. memif-switch: lossy links (qr-vswitch loses 1% of the frames to every
	# node, from nodes and from the client). A 1 MiB request, REPLICATE
	# or READ_REPLY is ~760 fragments: whole only 0.05% of the time, so
	# every write and read at ALL below completes only through selective
	# resend (FRAG_NACK, answered by nodes and by libquorate:
	# docs/large-values.md), and the nodes must say they resent chunks.
	if [ "$profile" = memif-switch ]; then
		for n in 0 1 2; do
			tools/cluster --run-dir "$run" loss $n 10000 >/dev/null ||
				fail "$profile: tools/cluster loss $n failed"
		done
		sleep 0.3 # the switch re-reads its settings every 100 ms
		for i in 1 2 3; do
			k="$profile-lossy-$i"
			rm -f "$run/got"
			if ! q -C all put "$k" - <"$run/v1048576" >"$run/put.out" 2>&1; then
				fail "$profile: 1 MiB put at ALL over 1% loss: $(head -c 100 "$run/put.out")"
			elif ! q -C all get "$k" -o "$run/got" 2>"$run/get.err"; then
				fail "$profile: 1 MiB get at ALL over 1% loss: $(head -c 100 "$run/get.err")"
			elif ! cmp -s "$run/got" "$run/v1048576"; then
				fail "$profile: 1 MiB over 1% loss read back different bytes"
			else
				ok
			fi
		done
		resent=0 corrupt=0
		for n in 0 1 2; do
			st=$("$cli" --cluster "$c" stat --node $n --json 2>/dev/null)
			for v in $(grep -o '"frags_resent":[0-9]*' <<<"$st" | cut -d: -f2); do
				resent=$((resent + v))
			done
			for v in $(grep -o '"corrupt":[0-9]*' <<<"$st" | cut -d: -f2); do
				corrupt=$((corrupt + v))
			done
		done
		echo "over 1% loss: $resent chunks resent for NACKs, $corrupt corrupt"
		if [ "$resent" -gt 0 ] && [ "$corrupt" = 0 ]; then ok; else
			fail "$profile: over 1% loss $resent chunks resent, $corrupt corrupt"
		fi
		for n in 0 1 2; do
			tools/cluster --run-dir "$run" loss $n 0 >/dev/null
		done
	fi
	tools/cluster --run-dir "$run" down >/dev/null 2>&1
done
echo "$checks checks passed, $fails failed"
[ $fails = 0 ] && [ $checks -gt 0 ]
