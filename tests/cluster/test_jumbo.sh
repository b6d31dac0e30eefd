#!/bin/bash
# SPDX-License-Identifier: MIT
# Jumbo peer frames (issue 15 item 2): a 3-node cluster with
# peer_frame_bytes = 8972 (tools/cluster up --peer-frame 8972: 9000 B MTU on
# the bridge and veths) over each profile given (af_packet and memif in the
# suite):
#  1. a 1 MiB value written at ALL reads back byte for byte at ALL, and so do
#     small values (1 B, 300 B, 1 KiB) written in the same run;
#  2. the peer frames really are jumbo: the long messages the 1 MiB ALL
#     write makes (its REPLICATE to two peers, and any retransmission of
#     it) go out in 119 FRAGs each (8,880 B chunks), where 1,472 B frames
#     need 763 (1,376 B chunks); from `quorate stat`'s long_messages (out,
#     frags_out), summed over the nodes;
#  3. af_packet only: with node 0's interface back at MTU 1500, quorated
#     refuses to start and names peer_frame_bytes (never a silent cut).
# Usage: test_jumbo.sh QUORATED QUORATE_CLI PROFILE... (root; ~15 s a
# profile; takes the cluster-test lock of lib.sh)
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 QUORATED CLI PROFILE..."; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
shift 2
QR_TEST_TIMEOUT_S=90
. "$(dirname "$0")/lib.sh"
qr_test_init
qr_require_cmd jq jq

# "LONG_OUT FRAGS_OUT": long_messages.out and .frags_out summed over nodes.
long_out() {
	local i st lo=0 fo=0
	for i in 0 1 2; do
		st=$(timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node $i \
			--json) || return 1
		lo=$((lo + $(jq '.long_messages.out' <<<"$st")))
		fo=$((fo + $(jq '.long_messages.frags_out' <<<"$st")))
	done
	echo "$lo $fo"
}

for s in 1 300 1024 1048576; do
	head -c "$s" /dev/urandom >"$QR_TEST_TMP/v$s"
done

for profile in "$@"; do
	# A run dir per profile; teardown downs the last one.
	QR_RUN="$QR_TEST_TMP/$profile"
	QR_UP=1
	out=$("$QR_CLUSTER" up 3 --profile "$profile" --peer-frame 8972 \
		--run-dir "$QR_RUN") || qr_fail "$profile: up --peer-frame 8972 failed"
	QR_CLUSTER_FILE=$(tail -n 1 <<<"$out")
	grep -q '^peer_frame_bytes = 8972$' "$QR_CLUSTER_FILE" ||
		qr_fail "$profile: no peer_frame_bytes in the cluster file"
	mtu=$(ip netns exec qr-n0 cat /sys/class/net/qr0n/mtu)
	[ "$mtu" = 9000 ] || qr_fail "$profile: qr0n has MTU $mtu, not 9000"
	q() { timeout 20 "$cli" --cluster "$QR_CLUSTER_FILE" --deadline-ms 5000 "$@"; }

	read -r l0 f0 <<<"$(long_out)" || qr_fail "$profile: stat"
	q -C all put "jumbo-big" - <"$QR_TEST_TMP/v1048576" >/dev/null ||
		qr_fail "$profile: put 1 MiB at ALL"
	read -r l1 f1 <<<"$(long_out)" || qr_fail "$profile: stat"
	msgs=$((l1 - l0)) frags=$((f1 - f0))
	qr_log "$profile: the 1 MiB ALL write sent $msgs long messages in $frags FRAGs (1472 B frames: 763 each)"
	[ "$msgs" -ge 2 ] && [ "$frags" -eq $((msgs * 119)) ] ||
		qr_fail "$profile: $msgs long messages in $frags FRAGs: not 8972 B frames"
	rm -f "$QR_TEST_TMP/got"
	q -C all get "jumbo-big" -o "$QR_TEST_TMP/got" ||
		qr_fail "$profile: get 1 MiB at ALL"
	cmp -s "$QR_TEST_TMP/got" "$QR_TEST_TMP/v1048576" ||
		qr_fail "$profile: the 1 MiB value read back different bytes"
	for s in 1 300 1024; do
		q -C all put "jumbo-$s" - <"$QR_TEST_TMP/v$s" >/dev/null ||
			qr_fail "$profile: put $s B at ALL"
		rm -f "$QR_TEST_TMP/got"
		q -C all get "jumbo-$s" -o "$QR_TEST_TMP/got" ||
			qr_fail "$profile: get $s B at ALL"
		cmp -s "$QR_TEST_TMP/got" "$QR_TEST_TMP/v$s" ||
			qr_fail "$profile: $s B read back different bytes"
	done
	qr_log "$profile: 1 MiB, 1 B, 300 B, 1 KiB at ALL read back whole"

	if [ "$profile" = af_packet ]; then
		qr_cluster kill 0 >/dev/null || qr_fail "kill 0"
		ip netns exec qr-n0 ip link set qr0n mtu 1500
		ip netns exec qr-n0 timeout 20 "$QUORATED" --config "$QR_CLUSTER_FILE" \
			--node 0 --profile "$QR_ROOT/drivers-conf/af_packet.ini" \
			--run-dir "$QR_RUN" >"$QR_TEST_TMP/mtu.log" 2>&1
		rc=$?
		[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] ||
			qr_fail "quorated started (exit $rc) with peer frames over its MTU"
		grep -q "peer_frame_bytes 8972" "$QR_TEST_TMP/mtu.log" ||
			qr_fail "the MTU refusal does not name peer_frame_bytes: $(tail -n 2 "$QR_TEST_TMP/mtu.log")"
		qr_log "af_packet: MTU 1500 under peer_frame_bytes 8972 refused at start"
	fi
	"$QR_CLUSTER" --run-dir "$QR_RUN" down >/dev/null 2>&1 ||
		qr_fail "$profile: down"
	QR_UP=0
done
qr_pass "jumbo peer frames over $*: 1 MiB in 8972 B frames, small values, MTU checked"
