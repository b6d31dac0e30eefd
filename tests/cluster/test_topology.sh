#!/bin/bash
# SPDX-License-Identifier: MIT
# Membership changes online (issue 14 "Must show"; docs/topology.md,
# docs/operations.md "Adding, removing and replacing nodes"). 6 node
# slots, members 0,1,2, RF 3, one client (topo_load) putting and getting
# at QUORUM all along and recording every answer:
#   quorate node add 3, tools/cluster grow (3 -> 5 members; grow takes
#                                          the lowest free running slot, 4)
#   quorate node remove 0                 (decommission; node 0 keeps
#                                          running as a non-member)
#   node 1 killed, quorate node replace 1 ADDR (node 5's address)
# Then: every node that runs reports the same final topology (epoch 9,
# members 2,3,4,5); with node 2 (a replica of every key from the start)
# down, every acknowledged write reads back at QUORUM from the nodes that
# streamed it; node 2 restarted reads its topology back from its data dir;
# the load's client (libquorate) refreshed its placement to epoch 9 from
# the replies' epochs, never restarted; every acknowledged write reads
# back at ALL with its last acknowledged
# value (or a later attempted one); no get during the changes returned
# less than the last acknowledged put (R + W > N across epochs); puts and
# gets failed only UNAVAILABLE or TIMEOUT, at most 2% of them (the client
# sends to its first replica first: node 1's keys wait for a resend once
# it is killed). Last, with the load stopped: tools/cluster shrink 5, and
# every running node reports members 2,3,4 and node 5's quorated is gone;
# grow and shrink refuse, changing nothing, a member grown again, an
# unknown zone, a non-member shrunk and a shrink below RF. QR_SHARDS=2:
# two shard cores per node (every step is handed to each shard).
# Then the membership register: every node's acceptor holds epoch 11, a
# topology typed by hand that it did not decide is refused; node 5
# started again, `node add 0` and `node add 5` race and exactly one gets
# in (epoch 13), the other refused by name; the winner is removed, and
# `node plan add 0`, `node plan add 5` (nothing installed) and `node
# commit` add both in one change (epoch 17). Node 3 is replaced
# under its own id (killed, data directory emptied, started with
# --rebuild, `node sync`), and every acknowledged write reads back at ALL
# once its rebuild ends. Then `quorate ring` shows the nodes' topology
# (epoch 17), not the cluster file's. Usage: test_topology.sh QUORATED CLI TOPO_LOAD (root; ~40 s)
set -uo pipefail
[ $# = 3 ] || { echo "usage: $0 QUORATED CLI TOPO_LOAD"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
load=$(realpath "$3")
QR_TEST_TIMEOUT_S=140
. "$(dirname "$0")/lib.sh"
qr_require_root
t0=$(date +%s)
# tombstone_grace_ms 2000 caps a request's deadline at 1 s: what
# `quorate node` waits between step 1 and the stream.
qr_cluster_up 6 --members 3 --rf 3 --grace-ms 2000 --shards "${QR_SHARDS:-1}"
grep -q '^members = 0,1,2$' "$QR_CLUSTER_FILE" || qr_fail "no members line"
unset QUORATE_PLAN # the plan goes next to the test's cluster file
q() { timeout 120 "$cli" --cluster "$QR_CLUSTER_FILE" "$@"; }
mgmt() { # NODE LINE: the node's answer to a management command
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())' "$QR_RUN/n$1.sock" "$2"
}
topo() { mgmt "$1" topology; }
qr_log "$(($(date +%s) - t0)) s: 6 nodes up"
stop="$QR_TEST_TMP/stop" acks="$QR_TEST_TMP/acks"
"$load" run "$QR_CLUSTER_FILE" "$stop" "$acks" >"$QR_TEST_TMP/load.out" \
	2>"$QR_TEST_TMP/load.err" &
load_pid=$!
sleep 2
change() { # what the CLI prints, and its exit status
	local out t=$SECONDS
	out=$(q "$@" 2>"$QR_TEST_TMP/node.err") ||
		{ cat "$QR_TEST_TMP/node.err" >&2; qr_fail "quorate $*: $out"; }
	qr_log "quorate $*: $(head -n 1 <<<"$out") in $((SECONDS - t)) s" \
		"($(grep -c 'streaming:' "$QR_TEST_TMP/node.err") progress lines)"
}
change node add 3
# tools/cluster grow: the members from the nodes (0..3), not the file's
# line (0,1,2); the lowest running slot that is not a member is 4.
tc() { # tools/cluster grow|shrink ARGS; output in $QR_TEST_TMP/grow.out
	local t=$SECONDS
	qr_cluster "$@" >"$QR_TEST_TMP/grow.out" 2>&1 ||
		{ cat "$QR_TEST_TMP/grow.out" >&2; qr_fail "tools/cluster $*"; }
	qr_log "tools/cluster $*: $(grep -E '^node (add|remove) ' \
		"$QR_TEST_TMP/grow.out") in $((SECONDS - t)) s"
}
tc grow
grep -q '^node add 4: epoch 5, members 0,1,2,3,4$' "$QR_TEST_TMP/grow.out" ||
	{ cat "$QR_TEST_TMP/grow.out" >&2; qr_fail "grow did not add node 4"; }
refused() { # EXIT REGEX tools/cluster ARGS: refused so, naming the cause
	local want=$1 re=$2 out rc
	shift 2
	out=$(qr_cluster "$@" 2>&1); rc=$?
	[ "$rc" = "$want" ] && grep -Eq "$re" <<<"$out" ||
		qr_fail "tools/cluster $*: exit $rc (want $want): $out"
}
refused 1 'node 3 is a member already \(epoch 5, members 0,1,2,3,4\)' grow 3
refused 1 "unknown zone 'z1' \(the cluster file's zones: none\)" grow --zone z1
change node remove 0
qr_cluster kill 1 >/dev/null 2>&1 || qr_fail "kill node 1"
sleep 1
# Node 5 named by its address (the ip of its [node.5]).
ip5=$(awk '/^\[node\.5\]/ { s = 1; next } /^\[/ { s = 0 }
	s && $1 == "ip" { print $3 }' "$QR_CLUSTER_FILE")
[ -n "$ip5" ] || qr_fail "no ip for node 5 in $QR_CLUSTER_FILE"
change node replace 1 "$ip5"
out=$(q node add 3 2>/dev/null) && grep -q 'members 2,3,4,5' <<<"$out" ||
	qr_fail "a member added again should change nothing: $out"
# Refusals, named, changing nothing: no such slot, a replacement by
# itself, a stale epoch at a node.
out=$(q node add 9 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "expected a node id of the cluster file (0..5)" <<<"$out" ||
	qr_fail "node add 9: exit $rc: $out"
out=$(q node replace 2 2 2>&1); rc=$?
[ "$rc" = 6 ] && grep -q "must differ" <<<"$out" ||
	qr_fail "node replace 2 2: exit $rc: $out"
out=$(mgmt 2 "topology set 5 3c 0")
grep -q '"error":"STALE".*epoch 5 is not above this node.s epoch 9' <<<"$out" ||
	qr_fail "a stale epoch at node 2: $out"
out=$(q node sync 2>/dev/null) && grep -q 'epoch 9, members 2,3,4,5' <<<"$out" ||
	qr_fail "node sync: $out"
sleep 2 # the load's client refreshes at most once a second
touch "$stop"
wait "$load_pid"
load_rc=$?
cat "$QR_TEST_TMP/load.out" >&2
[ "$load_rc" = 0 ] || { cat "$QR_TEST_TMP/load.err" >&2; qr_fail "load: rc $load_rc"; }
# The load's client learnt every change from the replies' epochs and
# routed with the nodes' members, never restarted (docs/client.md).
grep -Eq '^topo_load: epoch=9 refreshes=[1-9]' "$QR_TEST_TMP/load.out" ||
	qr_fail "the load's client did not refresh to epoch 9"
for i in 0 2 3 4 5; do
	a=$(topo $i)
	grep -q '"epoch":9,"owners":"0x3c","pending":"0x0"' <<<"$a" ||
		qr_fail "node $i's topology: $a"
done
# Node 2 was a replica of every key from the start: with it down, a
# QUORUM read needs the two other replicas, both of which got the key by
# streaming (nodes 3, 4, 5): it shows the streams, where read repair by
# the ALL read below would hide a gap.
sed 's/^members = .*/members = 2,3,4,5/' "$QR_CLUSTER_FILE" >"$QR_TEST_TMP/after.ini"
qr_cluster kill 2 >/dev/null 2>&1 || qr_fail "kill node 2"
"$load" verify "$QR_TEST_TMP/after.ini" "$acks" quorum >&2 ||
	qr_fail "verify at QUORUM without node 2"
qr_log "$(($(date +%s) - t0)) s: verified at QUORUM"
qr_cluster start 2 >/dev/null 2>&1 || qr_fail "restart node 2"
qr_wait_mgmt 2 20
a=$(topo 2)
grep -q '"epoch":9,"owners":"0x3c","pending":"0x0"' <<<"$a" &&
	grep -q '"shards":\[{"shard":0,"epoch":9' <<<"$a" ||
	qr_fail "node 2 after a restart: $a"
# Clients read members from the cluster file (docs/client.md).
qr_wait 20 "node 2 to serve again" timeout 5 "$cli" --cluster \
	"$QR_TEST_TMP/after.ini" -C all get topo-000
"$load" verify "$QR_TEST_TMP/after.ini" "$acks" all >&2 || qr_fail "verify at ALL"
puts=$(sed -n 's/^topo_load: puts://p' "$QR_TEST_TMP/load.out")
gets=$(sed -n 's/^topo_load: gets://p' "$QR_TEST_TMP/load.out")
python3 - "$puts" "$gets" <<'PY' || qr_fail "failures beyond the documented ones"
import sys
for what, line in (("puts", sys.argv[1]), ("gets", sys.argv[2])):
    c = dict(kv.split("=") for kv in line.split())
    c = {k: int(v) for k, v in c.items()}
    total = sum(c.values())
    bad = {k: v for k, v in c.items() if k not in ("OK", "NOT_FOUND", "UNAVAILABLE", "TIMEOUT")}
    failed = c.get("UNAVAILABLE", 0) + c.get("TIMEOUT", 0)
    print(f"[test_topology] {what}: {total} sent, failed {failed} "
          f"({100.0 * failed / max(total, 1):.2f}%): {c}", file=sys.stderr)
    assert total >= 1000, f"{what}: only {total}"
    assert not bad, f"{what}: unexpected statuses {bad}"
    assert failed * 50 <= total, f"{what}: more than 2% failed"
PY
# tools/cluster shrink: the members change on every running node and the
# removed node's quorated stops; refusals change nothing.
refused 1 'node 0 is not a member \(epoch 9, members 2,3,4,5\)' shrink 0
pid5=$(cat "$QR_RUN/n5.pid")
tc shrink 5
kill -0 "$pid5" 2>/dev/null && qr_fail "node 5 (pid $pid5) still runs after shrink"
refused 6 'fewer members than replication_factor would be left' shrink 2
for i in 0 2 3 4; do
	a=$(topo $i)
	grep -q '"epoch":11,"owners":"0x1c","pending":"0x0"' <<<"$a" ||
		qr_fail "node $i's topology after shrink 5: $a"
done
qr_log "$(($(date +%s) - t0)) s: shrunk to members 2,3,4; node 5 (pid $pid5) stopped"
# The membership register (docs/topology.md, "The register"): every
# running node's acceptor holds the last decided step, and a topology
# typed by hand that the register did not decide is refused (C6).
for i in 0 2 3 4; do
	a=$(mgmt $i register)
	grep -q '"epoch":11,"owners":"0x1c","pending":"0x0"' <<<"$a" ||
		qr_fail "node $i's register after shrink 5: $a"
done
out=$(mgmt 2 "topology set 12 1d 0")
grep -q '"error":"PRECONDITION_FAILED".*not the membership register' <<<"$out" ||
	qr_fail "a topology the register did not decide, at node 2: $out"
# Two operators at once: node 5 back (a running non-member again), `node
# add 0` and `node add 5` race; the register lets exactly one change in,
# the other is refused by name.
qr_cluster start 5 >/dev/null 2>&1 || qr_fail "restart node 5"
qr_wait_mgmt 5 20
q node add 0 >"$QR_TEST_TMP/race0.out" 2>&1 & r0=$!
q node add 5 >"$QR_TEST_TMP/race5.out" 2>&1 & r5=$!
wait $r0; rc0=$?
wait $r5; rc5=$?
race=$(cat "$QR_TEST_TMP/race0.out" "$QR_TEST_TMP/race5.out")
case "$rc0/$rc5" in
0/6) won=0 members=0x1d ;;
6/0) won=5 members=0x3c ;;
*) qr_fail "racing node add 0 / node add 5: exits $rc0/$rc5: $race" ;;
esac
grep -Eq 'in progress|decided first|higher ballot' <<<"$race" ||
	qr_fail "the race's loser did not say why: $race"
for i in 0 2 3 4 5; do
	a=$(topo $i)
	grep -q "\"epoch\":13,\"owners\":\"$members\",\"pending\":\"0x0\"" <<<"$a" ||
		qr_fail "node $i after the race (node $won won): $a"
done
qr_log "racing node add 0 / node add 5: node $won won (exits $rc0/$rc5)"
# Several members in one change (one decision, one stream): the winner
# removed, then both slots planned (nothing installed), and committed as
# one change.
change node remove $won
{ q node plan add 0 && q node plan add 5; } >"$QR_TEST_TMP/plan.out" 2>&1 ||
	{ cat "$QR_TEST_TMP/plan.out" >&2; qr_fail "node plan add 0, 5"; }
grep -q 'members 2,3,4 -> 0,2,3,4,5' "$QR_TEST_TMP/plan.out" ||
	{ cat "$QR_TEST_TMP/plan.out" >&2; qr_fail "the plan's members"; }
grep -q '"epoch":15,' <<<"$(topo 2)" || qr_fail "a plan installed: $(topo 2)"
change node commit
[ ! -e "$QR_CLUSTER_FILE.plan" ] || qr_fail "the plan stays after commit"
members=0x3d
for i in 0 2 3 4 5; do
	a=$(topo $i)
	grep -q '"epoch":17,"owners":"0x3d","pending":"0x0"' <<<"$a" ||
		qr_fail "node $i after node commit (plan add 0, 5): $a"
done
# Replace keeping the id (docs/operations.md, "Adding, removing and
# replacing nodes"): node 3's disk is lost (killed, its data directory
# emptied) and a new machine takes its slot: started with --rebuild, it
# holds neither topology nor register (epoch 1, the file's members, so
# the others fence it: T6); they tell it their settled topology (T7),
# which it installs by itself, no command run ("caught_up":1), while its
# acceptor stays lost until `quorate node sync` gives it the register's
# value (C7); its hand-off from every member refills it, and every
# acknowledged write reads back at ALL (node 3 answers no read until
# then: recover.c RB1).
qr_cluster kill 3 >/dev/null 2>&1 || qr_fail "kill node 3"
rm -rf "${QR_RUN:?}/n3/data/"*
sleep 1 # RB3: down for longer than max_offset + hlc_lease
qr_cluster start 3 --rebuild >/dev/null 2>&1 || qr_fail "start node 3 --rebuild"
qr_wait_mgmt 3 20
caught_up() {
	grep -q '"epoch":17,"owners":"0x3d","pending":"0x0",.*"caught_up":1,' \
		<<<"$(topo 3)"
}
qr_wait 10 "node 3 to catch up by itself (T7)" caught_up
qr_log "$(($(date +%s) - t0)) s: node 3 (rebuilt, epoch 1) caught up to" \
	"epoch 17 from its peers' news"
# Its acceptor lost its promises: it takes part in no decision (C7)
grep -q '"lost":true' <<<"$(mgmt 3 register)" ||
	qr_fail "node 3's register after --rebuild: $(mgmt 3 register)"
out=$(q node sync 2>/dev/null) && grep -q 'epoch 17, members 0,2,3,4,5' <<<"$out" ||
	qr_fail "node sync after node 3's rebuild: $out"
grep -q '"epoch":17,"owners":"0x3d","pending":"0x0"' <<<"$(topo 3)" ||
	qr_fail "node 3 after node sync: $(topo 3)"
grep -q '"epoch":17,"owners":"0x3d","pending":"0x0","lost":false' \
	<<<"$(mgmt 3 register)" ||
	qr_fail "node 3's register after node sync: $(mgmt 3 register)"
rebuilt() {
	q --json stat --node 3 2>/dev/null | python3 -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if not d.get("rebuilding", 1) else 1)'
}
qr_wait 60 "node 3's rebuild to end" rebuilt
"$load" verify "$QR_TEST_TMP/after.ini" "$acks" all >&2 ||
	qr_fail "verify at ALL after node 3's rebuild"
qr_log "$(($(date +%s) - t0)) s: node 3 replaced under its id (rebuilt)"
# quorate ring reads the nodes' topology, not the file's members 0,1,2.
r=$(q --json ring)
grep -q "\"source\":\"nodes\",\"epoch\":17,\"owners\":\"$members\",\"pending\":\"0x0\"" \
	<<<"$r" || qr_fail "quorate ring after the changes: $r"
qr_pass "3 -> 5 members, a decommission, a replacement under load in" \
	"$(($(date +%s) - t0)) s: every acknowledged write read back at ALL;" \
	"grow and shrink; two racing changes, one let in; a replace" \
	"keeping the id"
