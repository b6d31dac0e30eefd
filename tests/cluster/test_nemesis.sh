#!/bin/bash
# SPDX-License-Identifier: MIT
# The black-box fault runner (issue 13 item 5) on a 3-node af_packet
# cluster: tests/cluster/nemesis runs a workload of QUORUM writes, session
# reads with tokens at ONE and put-if-absent races while it kills -9 and
# restarts nodes, partitions one node from the others (and from the
# clients) and skews one node's clock (within max_offset, and once beyond
# it and back: the clock guard must stop it serving and let it serve
# again; the nodes run with the test hook --clock-offset-ms), then checks
# every acknowledged write at ALL, the races'
# winners by linearizable reads and the session reads; then kills every
# node at once, restarts them from their WALs and checks again.
# Usage: test_nemesis.sh QUORATED QUORATE_CLI [nemesis options]
# (root; bounded; removes what it made). NEMESIS_DURATION_S: the faults'
# length (default 30; the whole test then takes ~70 s); a longer soak:
# NEMESIS_DURATION_S=600 (and QR_TEST_TIMEOUT_S=1500: the checks of a
# 10-minute run take two times ~3 minutes on a loaded 2-core machine).
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 QUORATED CLI [nemesis options]"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
shift 2
dur=${NEMESIS_DURATION_S:-30}
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-$((dur + 200))}
. "$(dirname "$0")/lib.sh"
qr_require_root
qr_test_init
cd "$QR_ROOT" || exit 1

# Another cluster (another test, another worktree) may hold the fixed
# names: wait for it to go (up to 2 minutes). QR_UP is set only once OUR
# 'up' succeeded, so teardown never runs 'down' on somebody else's.
QR_RUN="$QR_TEST_TMP/run"
# The clock test hook (quorated --clock-offset-ms; recorded by 'up' for
# every later 'start'): nemesis --skew sets the offset over the
# management socket.
export QUORATED_ARGS="${QUORATED_ARGS:-} --clock-offset-ms 0"
for ((t = 0; t < 120 && QR_UP == 0; t++)); do
	if ! ip link show qrbr0 >/dev/null 2>&1 &&
		! ip netns list 2>/dev/null | grep -q '^qr-n'; then
		if "$QR_CLUSTER" up 3 --profile af_packet --run-dir "$QR_RUN" \
			>"$QR_TEST_TMP/up.log" 2>&1; then
			QR_UP=1
			break
		fi
		grep -q "already up\|already routed" "$QR_TEST_TMP/up.log" ||
			qr_fail "tools/cluster up 3: $(tail -n 3 "$QR_TEST_TMP/up.log")"
	fi
	sleep 1
done
[ "$QR_UP" = 1 ] || qr_skip "the cluster slot stayed taken for 2 minutes"
c=$(tail -n 1 "$QR_TEST_TMP/up.log")
[ -f "$c" ] || qr_fail "no cluster file at '$c'"
python3 "$QR_ROOT/tests/cluster/nemesis" --run-dir "$QR_RUN" --cluster "$c" \
	--cli "$cli" --duration "$dur" --skew "$@" ||
	qr_fail "nemesis: a check failed (above)"
qr_pass "nemesis: every check held"
