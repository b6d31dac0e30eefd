#!/bin/bash
# SPDX-License-Identifier: MIT
# The memif mesh (issue 11 item 4): 3 nodes of 2 shards on the memif
# profile, every node pair on its own memif ({run}/mesh-i-j.sock, one
# queue pair per shard), qr-vswitch only between the host's clients and
# the nodes. Checks:
#  1. each node reports 2 direct links, and both its shards block when
#     idle on their doorbells (shard 1 is fed over an rte_ring by shard
#     0, which rings it: src/shard/doorbell.h); 40 QUORUM writes read back at
#     QUORUM; every node sent and received frames on its links
#     (packets.mesh_tx / mesh_rx), and qr-vswitch forwarded no unicast
#     frame from one node to another (vswitch.stats node_to_node 0) while
#     it did carry the clients' (host_to_node > 0);
#  2. node 0 (the memif server of both its links) SIGKILLed: QUORUM writes
#     go on; restarted, its peers' client ends reconnect (mesh_reconnects)
#     and writes at ALL (every replica) succeed;
#  3. node 2 (the client end of both its links) likewise; every key reads
#     back at ALL, and still no node-to-node frame went through the switch;
#     while node 0 was dead, node 1 dropped frames to it as LINK_DOWN and
#     none as TX_FULL (no tx wait on a dead peer); vswitch.stats has
#     tx_full;
#  4. tools/cluster delay is refused on the mesh, and with a state whose
#     profile is gone (not let through by a failing grep);
#  5. no switch at all (issue 11 item 4): `tools/cluster switch stop`, and
#     quorate-bench --transport dpdk --memif-direct serves every node's
#     client memif itself (the nodes' client ports reconnect to it):
#     QUORUM puts and gets for 1 s, none failed; it exits, `switch start`,
#     and the kernel's clients reach every node again through qr-vswitch
#     (a put coordinated by each; client_reconnects counted the
#     restarts), the bench's keys read back at ALL;
#  6. through all of it no node made a burst call on a stopped port (a
#     restart whose start failed: DPDK's dummy bursts log it).
# Usage: test_mesh.sh QUORATED QUORATE_CLI QUORATE_BENCH (root, QR_VSWITCH
# set; ~25 s)
set -uo pipefail
[ $# = 3 ] || { echo "usage: $0 QUORATED CLI BENCH"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
bench=$(realpath "$3")
QR_TEST_TIMEOUT_S=120
. "$(dirname "$0")/lib.sh"
[ -n "${QR_VSWITCH:-}" ] || qr_fail "QR_VSWITCH not set (meson sets it)"
export QUORATED_ARGS="--wal-mode none"
qr_cluster_up 3 --profile memif --shards 2
q() { timeout 10 "$cli" --cluster "$QR_CLUSTER_FILE" --json "$@"; }
up_all() { # every node sees both peers UP
	local i st
	for i in 0 1 2; do
		st=$(timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node $i --json) || return 1
		grep -q '"state":"\(DOWN\|SUSPECT\)"' <<<"$st" && return 1
	done
	return 0
}
counter() { # NODE NAME: a packets counter of that node
	timeout 5 "$cli" --cluster "$QR_CLUSTER_FILE" stat --node "$1" --json |
		grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
}
switch_count() { # NAME: a qr-vswitch counter (vswitch.stats)
	sleep 0.25 # rewritten within 100 ms of a change
	awk -v k="$1" '$1 == k {print $2}' "$QR_RUN/vswitch.stats"
}
puts() { # LEVEL PREFIX N
	local k out
	for k in $(seq 1 "$3"); do
		out=$(q -C "$1" put "$2-$k" "v-$2-$k")
		grep -q '"ok":true' <<<"$out" || qr_fail "put $2-$k at $1: $out"
	done
}
gets() { # LEVEL PREFIX N
	local k out
	for k in $(seq 1 "$3"); do
		out=$(q -C "$1" get "$2-$k")
		grep -q "v-$2-$k" <<<"$out" || qr_fail "get $2-$k at $1: $out"
	done
}

for i in 0 1 2; do
	grep -q "node $i ready: .* 2 direct link(s)" "$QR_RUN/n$i.log" ||
		qr_fail "node $i: no '2 direct link(s)' in its ready line"
	n=$(grep -c "idle = interrupt: blocking on rx and WAL events, and its doorbell" \
		"$QR_RUN/n$i.log")
	[ "$n" = 2 ] || qr_fail "node $i: $n of its 2 shards block on a doorbell"
done
qr_wait 20 "every node to see its peers UP" up_all
puts quorum a 40
gets quorum a 40
for i in 0 1 2; do
	tx=$(counter $i mesh_tx) rx=$(counter $i mesh_rx)
	[ "${tx:-0}" -gt 0 ] && [ "${rx:-0}" -gt 0 ] ||
		qr_fail "node $i: mesh_tx ${tx:-?} mesh_rx ${rx:-?}: its links carry nothing"
done
n2n=$(switch_count node_to_node) h2n=$(switch_count host_to_node)
[ "${h2n:-0}" -gt 0 ] || qr_fail "qr-vswitch carried no client frame (host_to_node ${h2n:-?})"
[ "$n2n" = 0 ] || qr_fail "qr-vswitch forwarded $n2n frames from node to node"
qr_log "1. 40 QUORUM writes and reads on the links; switch: node_to_node 0, host_to_node $h2n"

for victim in 0 2; do
	full0=$(counter 1 TX_FULL)
	qr_cluster kill $victim >/dev/null || qr_fail "kill $victim"
	puts quorum "k$victim" 10
	# Counted while the victim was dead, before its restart (which may
	# count TX_FULL: its link connects before its shards poll it).
	full=$(( $(counter 1 TX_FULL) - ${full0:-0} )) ldown=$(counter 1 LINK_DOWN)
	qr_cluster start $victim >/dev/null || qr_fail "start $victim"
	qr_wait 20 "node $victim's links back (every peer UP)" up_all
	qr_wait 10 "writes at ALL after node $victim's restart" q -C all put "all-$victim" x
	puts all "r$victim" 10
	qr_log "node $victim killed and restarted: QUORUM writes while down, ALL after"
	[ "$victim" = 0 ] || continue
	# frames to the dead node 0 were dropped as LINK_DOWN at once (its
	# link read when a burst took nothing), not waited for and counted
	# TX_FULL.
	[ "$full" = 0 ] && [ "${ldown:-0}" -gt 0 ] ||
		qr_fail "node 1 after node 0's death: TX_FULL ${full:-?} LINK_DOWN ${ldown:-?}"
done
[ "$(( $(counter 1 mesh_reconnects) + $(counter 2 mesh_reconnects) ))" -gt 0 ] ||
	qr_fail "no client end of a link restarted (mesh_reconnects 0 on nodes 1, 2)"
[ -n "$(switch_count tx_full)" ] || qr_fail "vswitch.stats has no tx_full counter"
gets all a 40
gets all k0 10
gets all k2 10
gets all r0 10
gets all r2 10
n2n=$(switch_count node_to_node)
[ "$n2n" = 0 ] || qr_fail "qr-vswitch forwarded $n2n frames from node to node"
# delay acts in the switch: refused on the mesh, and refused (not let
# through) when the cluster's profile can no longer be read
out=$(qr_cluster delay 1 5 2>&1) && qr_fail "delay accepted on the mesh: $out"
grep -q "memif-switch" <<<"$out" || qr_fail "delay on the mesh: $out"
fake="$QR_TEST_TMP/fake-run"
mkdir -p "$fake" && touch "$fake/vswitch.pid" &&
	printf 'NODES=2\nPROFILE=%s\n' "$fake/gone.ini" >"$fake/state"
out=$("$QR_CLUSTER" --run-dir "$fake" delay 1 5 2>&1) &&
	qr_fail "delay accepted with a missing profile: $out"
grep -q "not readable" <<<"$out" || qr_fail "delay, missing profile: $out"
qr_log "4. delay refused on the mesh"

# 5. The generator in the switch's place.
swpid=$(cat "$QR_RUN/vswitch.pid")
qr_cluster switch stop >/dev/null || qr_fail "switch stop"
! kill -0 "$swpid" 2>/dev/null || qr_fail "switch stop: qr-vswitch ($swpid) still runs"
out=$(timeout 60 "$bench" --cluster "$QR_CLUSTER_FILE" --transport dpdk \
	--profile "$(dirname "$0")/../../drivers-conf/memif.ini" --memif-direct \
	--gen-ip 10.77.0.200 --run-dir "$QR_RUN" --threads 1 --outstanding 8 \
	--keys 50 --key-bytes 8 --mix 50,50,0 --populate --warmup 0 \
	--duration 1 --consistency-get quorum --consistency-put quorum 2>&1)
rc=$?
[ $rc = 0 ] || qr_fail "quorate-bench --memif-direct: exit $rc: $(tail -n 5 <<<"$out")"
grep -q "memif-direct: a port per node, no switch, doorbells" <<<"$out" ||
	qr_fail "the bench did not say it runs direct with doorbells: $(head -n 5 <<<"$out")"
ok=$(grep -o 'throughput [0-9]* ops/s ok ([0-9]* ok' <<<"$out" | awk '{print $5}' | tr -d '(')
[ "${ok:-0}" -gt 100 ] || qr_fail "memif-direct: ${ok:-no} ok replies: $(grep throughput <<<"$out")"
grep -q "errors: none" <<<"$out" || qr_fail "memif-direct: errors: $(grep -A2 'errors' <<<"$out" | head -n 3)"
qr_log "5. quorate-bench --memif-direct: $ok QUORUM puts and gets in 1 s, no switch, no error"
for i in 0 1 2; do
	rc0[$i]=$(counter $i client_reconnects)
done
qr_cluster switch start >/dev/null || qr_fail "switch start"
# Every node's client port again (an ALL write reaches the others over
# the mesh, not their client ports): a put coordinated by each.
seen=""
for k in $(seq 1 60); do
	out=$(q --coordinator random put "after-direct-$k" x 2>/dev/null)
	c=$(grep -o '"coordinator":[0-9]*' <<<"$out" | cut -d: -f2)
	grep -q '"ok":true' <<<"$out" && [ -n "$c" ] && seen="$seen $c"
	grep -qw 0 <<<"$seen" && grep -qw 1 <<<"$seen" && grep -qw 2 <<<"$seen" && break
	sleep 0.2
done
for i in 0 1 2; do
	grep -qw "$i" <<<"$seen" || qr_fail "after switch start: no put coordinated by node $i (coordinators:$seen)"
	n=$(counter $i client_reconnects)
	# (restarts are counted tried or not: this checks the counter;
	# the put above checks the port)
	[ "${n:-0}" -gt "${rc0[$i]:-0}" ] ||
		qr_fail "node $i: client_reconnects ${rc0[$i]:-?} -> ${n:-?}: its restarts are not counted"
done
# The bench's keys ("k" + 7 digits, --key-bytes 8) at ALL (every replica
# answers).
for k in 0 7 49; do
	out=$(q -C all get "$(printf 'k%07d' $k)")
	grep -q '"ok":true' <<<"$out" || qr_fail "bench key $k at ALL: $out"
done
qr_log "5. switch back: kernel clients through qr-vswitch, every node's client port restarted"
# 6. No burst call reached a stopped port (a link or client port whose
# restart failed while its peer was gone): DPDK's dummy burst logs this.
if grep -l "for not ready port" "$QR_RUN"/n*.log >/dev/null 2>&1; then
	qr_fail "a burst on a stopped port: $(grep -h -m1 'for not ready port' "$QR_RUN"/n*.log)"
fi
qr_pass "mesh: links carry the peers, the switch only clients; kill+restart of a server and a client end; a generator in the switch's place"
