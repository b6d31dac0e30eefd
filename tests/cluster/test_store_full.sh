#!/bin/bash
# SPDX-License-Identifier: MIT
# A full store (issue 12 item 4 and "Must show"): a 3-node cluster whose
# nodes hold at most 16 keys (--keys-max 16). 16 keys written at ALL; a
# 17th is answered NO_SPACE (refused before the WAL append) and an
# existing key can still be overwritten; node 0 is SIGKILLed and restarted
# from its WAL (which holds no record its store cannot take): it starts,
# and every key reads back at ALL with its last value.
# Usage: test_store_full.sh QUORATED QUORATE_CLI (root; < 60 s)
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED CLI"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
QR_TEST_TIMEOUT_S=60
. "$(dirname "$0")/lib.sh"
export QUORATED_ARGS="--keys-max 16"
qr_cluster_up 3
for i in 0 1 2; do qr_wait_mgmt $i 20; done
q() { timeout 10 "$cli" --cluster "$QR_CLUSTER_FILE" --json "$@"; }
up_all() { # every node sees both peers UP
	local i st
	for i in 0 1 2; do
		st=$(timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node $i --json) || return 1
		grep -q '"state":"\(DOWN\|SUSPECT\)"' <<<"$st" && return 1
	done
	return 0
}
qr_wait 20 "every node to see its peers UP" up_all
for k in $(seq 1 16); do
	out=$(q -C all put "sf-$k" "v-$k")
	grep -q '"ok":true' <<<"$out" || qr_fail "put sf-$k: $out"
done
out=$(q -C all put sf-17 v-17)
grep -q '"error":"NO_SPACE"' <<<"$out" || qr_fail "17th key on a 16-key store: $out"
out=$(q -C all put sf-1 v-1b)
grep -q '"ok":true' <<<"$out" || qr_fail "overwrite of a stored key: $out"
qr_log "16 keys stored, the 17th answered NO_SPACE, overwrites work"
qr_cluster kill 0 >/dev/null || qr_fail "kill 0"
qr_cluster start 0 >/dev/null || qr_fail "start 0 after SIGKILL"
# Before issue 12, recovery stopped with NO_SPACE here and quorated exited
# 4: its management socket never came back.
qr_wait_mgmt 0 20
qr_wait 20 "every node to see its peers UP after the restart" up_all
for k in $(seq 1 16); do
	want=v-$k
	[ "$k" = 1 ] && want=v-1b
	out=$(q -C all get "sf-$k")
	grep -q "\"value\":\"$want\"" <<<"$out" || qr_fail "get sf-$k after the restart: $out"
done
out=$(q -C one get sf-17)
grep -q '"error":"NOT_FOUND"' <<<"$out" || qr_fail "the refused key exists: $out"
qr_pass "store full: NO_SPACE, SIGKILL, restart, every key read back at ALL"
