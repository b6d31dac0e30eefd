#!/bin/bash
# SPDX-License-Identifier: MIT
# A node whose WAL directory is full (issue 12 item 5), on a 3-node cluster
# (RF 3, af_packet). Node 2's data directory is an 80 MiB tmpfs: its first
# 64 MiB segment fits, the next one cannot be preallocated (ENOSPC). Then:
#  - node 2 logs it once with the errno, and its `quorate stat` says
#    wal_state.serving_writes false, error NO_SPACE, errno 28;
#  - nodes 0 and 1 report peer 2 UP with "writes":false;
#  - QUORUM writes succeed (a client retries another coordinator when node
#    2 answers NO_SPACE); an ALL write is answered NO_SPACE; reads at
#    QUORUM and ALL are served, node 2 included (its replica reads count);
#  - the tmpfs grows (space returns): within seconds node 2 logs that it
#    serves writes again, every stat says so, an ALL write succeeds;
#  - every write acknowledged during the test reads back at ALL.
# Usage: test_wal_full.sh QUORATED QUORATE_CLI (root; < 60 s; removes
# everything it made, the tmpfs included)
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED CLI"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
QR_TEST_TIMEOUT_S=60
. "$(dirname "$0")/lib.sh"
qr_test_init
mnt=""
untmpfs() { [ -z "$mnt" ] || umount "$mnt" 2>/dev/null; }
trap 'rc=$?; untmpfs; (exit $rc); qr_teardown' EXIT

qr_cluster_up 3 --no-start
data="$QR_RUN/n2/data"
mkdir -p "$data"
mount -t tmpfs -o size=80m,mode=0700 qr-wal-full "$data" ||
	qr_skip "cannot mount a tmpfs on $data"
mnt=$data
for i in 0 1 2; do qr_cluster start $i >/dev/null || qr_fail "start $i"; done
for i in 0 1 2; do qr_wait_mgmt $i 20; done

q() { timeout 10 "$cli" --cluster "$QR_CLUSTER_FILE" --json "$@"; }
stat_of() { timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node "$1" --json; }
refusing() { stat_of 2 | grep -q '"serving_writes":false,"error":"NO_SPACE","errno":28'; }
peer2_refused() { stat_of "$1" | grep -q '"node":2,"state":"UP"[^}]*"writes":false'; }
serving() { stat_of "$1" | grep -q '"serving_writes":true'; }
peer2_writes() { stat_of "$1" | grep -q '"node":2,"state":"UP"[^}]*"writes":true'; }

qr_wait_log 2 'WAL NO_SPACE: No space left on device \(errno 28' 20
n=$(grep -c 'WAL NO_SPACE' "$QR_RUN/n2.log")
[ "$n" = 1 ] || qr_fail "node 2 logged the WAL error $n times, not once"
qr_wait 10 "node 2's stat to say it does not serve writes" refusing
qr_wait 10 "node 0 to report node 2 not taking writes" peer2_refused 0
qr_wait 10 "node 1 to report node 2 not taking writes" peer2_refused 1
qr_log "node 2 refuses writes; its peers report it UP, writes:false"

declare -A acked
put_retry() { # KEY VALUE: QUORUM, another coordinator on NO_SPACE
	local t out
	for ((t = 0; t < 8; t++)); do
		out=$(q --coordinator random put "$1" "$2") &&
			grep -q '"ok":true' <<<"$out" && { acked[$1]=$2; return 0; }
		grep -q '"error":"NO_SPACE"' <<<"$out" ||
			qr_fail "put $1 answered neither OK nor NO_SPACE: $out"
	done
	qr_fail "put $1: no coordinator took it in 8 tries: $out"
}
for k in $(seq 1 20); do put_retry "wf-$k" "during-$k"; done
out=$(q -C all put wf-all x)
grep -q '"error":"NO_SPACE"' <<<"$out" || qr_fail "ALL put while node 2 is full: $out"
reads0=$(stat_of 2 | grep -o '"reads":[0-9]*' | head -1 | cut -d: -f2)
for k in $(seq 1 20); do
	out=$(q --coordinator random get "wf-$k")
	grep -q "\"value\":\"during-$k\"" <<<"$out" || qr_fail "get wf-$k: $out"
done
out=$(q -C all get wf-1)
grep -q '"value":"during-1"' <<<"$out" || qr_fail "ALL get while node 2 is full: $out"
reads1=$(stat_of 2 | grep -o '"reads":[0-9]*' | head -1 | cut -d: -f2)
[ "${reads1:-0}" -gt "${reads0:-0}" ] || qr_fail "node 2 served no reads ($reads0 -> $reads1)"
qr_log "QUORUM writes OK via the others, ALL NO_SPACE, reads served (node 2: $reads0 -> $reads1)"

mount -o remount,size=300m "$data" || qr_fail "remount the tmpfs larger"
qr_wait_log 2 'WAL recovered: serving writes again' 10
qr_wait 10 "node 2's stat to say it serves writes" serving 2
qr_wait 10 "node 0 to report node 2 taking writes" peer2_writes 0
qr_wait 10 "node 1 to report node 2 taking writes" peer2_writes 1
for k in 1 2 3; do
	out=$(q -C all put "wf-after-$k" "after-$k")
	grep -q '"ok":true' <<<"$out" || qr_fail "ALL put after space returned: $out"
	acked[wf-after-$k]=after-$k
done
for k in "${!acked[@]}"; do
	out=$(q -C all get "$k")
	grep -q "\"value\":\"${acked[$k]}\"" <<<"$out" ||
		qr_fail "acknowledged $k=${acked[$k]} not read back at ALL: $out"
done
qr_pass "WAL full: refused and announced, reads served, recovered; ${#acked[@]} acknowledged writes read back at ALL"
