#!/bin/bash
# SPDX-License-Identifier: MIT
# Zones (issue 14 item 5 and "Must show"): 4 nodes in 2 zones (z0: nodes 0
# and 2, z1: nodes 1 and 3), RF 3, so every key has replicas in both zones
# (placement Z1) and 2 of them in one. With zone z1 cut off from z0 and the
# host, a client in z0 (QUORATE_ZONE=z0):
#  - LOCAL_QUORUM puts and gets answer OK for every key;
#  - EACH_QUORUM puts answer UNAVAILABLE for every key;
#  - QUORUM behaves as without zones: OK exactly for the keys with 2
#    replicas in z0, UNAVAILABLE for the others (`quorate ring` says which).
# After the cut heals, EACH_QUORUM puts answer OK, and every LOCAL_QUORUM
# write reads back at ALL. Usage: test_zones.sh QUORATED CLI (root; < 60 s)
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED CLI"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
QR_TEST_TIMEOUT_S=80
. "$(dirname "$0")/lib.sh"
qr_require_root
qr_cluster_up 4 --zones 2 --rf 3
for i in 0 1 2 3; do qr_wait_mgmt $i 20; done
export QUORATE_ZONE=z0
q() { timeout 10 "$cli" --cluster "$QR_CLUSTER_FILE" --json "$@"; }
peer_states() { # NODE: the peers' states it reports, one word each
	timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node "$1" --json |
		grep -o '"state":"[A-Z]*"' | cut -d'"' -f4 | sort | uniq -c | tr -s ' '
}
all_up() {
	local i
	for i in 0 1 2 3; do
		peer_states $i | grep -q 'DOWN\|SUSPECT' && return 1
	done
	return 0
}
z1_down() { # nodes 0 and 2 see nodes 1 and 3 DOWN
	local i
	for i in 0 2; do
		[ "$(peer_states $i | grep -c DOWN)" = 1 ] || return 1
		peer_states $i | grep -q ' 2 DOWN' || return 1
	done
	return 0
}
qr_wait 30 "every node to see its peers UP" all_up
keys=$(seq -f 'zk-%g' 1 12)
for k in $keys; do
	out=$(q put "$k" v0) && grep -q '"ok":true' <<<"$out" ||
		qr_fail "QUORUM put $k with every node up: $out"
done
qr_cluster partition 0,2,host/1,3 >/dev/null || qr_fail "partition"
qr_wait 20 "nodes 0 and 2 to see nodes 1 and 3 DOWN" z1_down
local_ok=0 each_unavail=0 quorum_ok=0 quorum_unavail=0 two_local=0
for k in $keys; do
	out=$(q -C local_quorum put "$k" "l-$k")
	grep -q '"ok":true' <<<"$out" || qr_fail "LOCAL_QUORUM put $k, z1 cut off: $out"
	out=$(q -C local_quorum get "$k")
	grep -q "\"value\":\"l-$k\"" <<<"$out" || qr_fail "LOCAL_QUORUM get $k: $out"
	local_ok=$((local_ok + 1))
	out=$(q -C each_quorum put "$k" "e-$k")
	grep -q '"error":"UNAVAILABLE"' <<<"$out" ||
		qr_fail "EACH_QUORUM put $k, z1 cut off: want UNAVAILABLE: $out"
	each_unavail=$((each_unavail + 1))
	in_z0=$(q ring "$k" | grep -o '"zone":"z0"' | wc -l)
	out=$(q put "$k" "q-$k")
	if [ "$in_z0" -ge 2 ]; then
		two_local=$((two_local + 1))
		grep -q '"ok":true' <<<"$out" ||
			qr_fail "QUORUM put $k (2 replicas in z0): $out"
		quorum_ok=$((quorum_ok + 1))
	else
		grep -q '"error":"UNAVAILABLE"' <<<"$out" ||
			qr_fail "QUORUM put $k (1 replica in z0): want UNAVAILABLE: $out"
		quorum_unavail=$((quorum_unavail + 1))
	fi
done
qr_log "z1 cut off: LOCAL_QUORUM ok $local_ok/12, EACH_QUORUM UNAVAILABLE" \
	"$each_unavail/12, QUORUM ok $quorum_ok (keys with 2 replicas in z0:" \
	"$two_local), UNAVAILABLE $quorum_unavail"
[ "$two_local" -gt 0 ] && [ "$two_local" -lt 12 ] ||
	qr_fail "the 12 keys should include both shapes (2+1 either way)"
qr_cluster heal >/dev/null || qr_fail "heal"
qr_wait 30 "every node to see its peers UP after the heal" all_up
for k in $keys; do
	out=$(q -C each_quorum put "$k" "e2-$k")
	grep -q '"ok":true' <<<"$out" || qr_fail "EACH_QUORUM put $k after heal: $out"
	out=$(q -C all get "$k")
	grep -q "\"value\":\"e2-$k\"" <<<"$out" || qr_fail "ALL get $k after heal: $out"
done
qr_pass "zones: LOCAL_QUORUM serves while the other zone is cut off," \
	"EACH_QUORUM refuses, QUORUM as before; all back after the heal"
