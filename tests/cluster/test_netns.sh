#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tools/cluster's network, without any daemon: 'up 3 --no-start' creates the
# bridge, namespaces and veths with the cluster file's addresses and MACs;
# 'partition 0/1' cuts node 0 <-> node 1 (and only that); 'heal' restores
# it; 'down' leaves nothing behind and is idempotent.
# Nothing answers in the namespaces without a daemon, so the test puts the
# nodes' addresses on the namespace interfaces (the kernel answers ping)
# and removes them before 'down'.
set -euo pipefail
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-90}
. "$(dirname "$0")/lib.sh"

qr_test_init
qr_require_cmd ping iputils-ping
qr_require_cmd nft nftables

# A cluster from an earlier crashed run would make 'up' refuse: say so.
if ip link show qrbr0 >/dev/null 2>&1 || ip netns list | grep -q '^qr-n'; then
	qr_fail "a local cluster is already up (qrbr0 / qr-n*): run tools/cluster down"
fi

qr_cluster_up 3 --no-start

# 1. What 'up' made.
for i in 0 1 2; do
	ip netns list | grep -q "^qr-n$i\b" || qr_fail "namespace qr-n$i missing"
	ip link show "qr${i}h" | grep -q "master qrbr0" ||
		qr_fail "qr${i}h is not on bridge qrbr0"
	ip link show "qr${i}h" | grep -q "state UP" || qr_fail "qr${i}h is not up"
	mac=$(printf '02:51:52:00:00:%02x' $((i + 1)))
	ip netns exec "qr-n$i" ip link show "qr${i}n" | grep -q "link/ether $mac" ||
		qr_fail "qr${i}n in qr-n$i does not have MAC $mac"
	ip netns exec "qr-n$i" ip -4 addr show "qr${i}n" | grep -q inet &&
		qr_fail "qr${i}n has an IPv4 address: the kernel would answer for the node"
	grep -q "^iface = qr${i}n$" "$QR_CLUSTER_FILE" ||
		qr_fail "cluster file has no 'iface = qr${i}n'"
	grep -q "^mac = $mac$" "$QR_CLUSTER_FILE" ||
		qr_fail "cluster file has no 'mac = $mac'"
	grep -q "^ip = 10.77.0.$((i + 1))$" "$QR_CLUSTER_FILE" ||
		qr_fail "cluster file has no 'ip = 10.77.0.$((i + 1))'"
done
ip -4 addr show qrbr0 | grep -q "10.77.0.254/24" || qr_fail "qrbr0 lacks 10.77.0.254/24"
grep -q '^replication_factor = 3$' "$QR_CLUSTER_FILE" || qr_fail "rf is not 3"
qr_cluster status >/dev/null || qr_fail "status failed"

# 2. Temporary node addresses, reachable from the host and between nodes.
for i in 0 1 2; do
	ip netns exec "qr-n$i" ip addr add "10.77.0.$((i + 1))/24" dev "qr${i}n"
done
qr_wait 10 "host -> node 1 ping" qr_ping host 10.77.0.2
qr_ping qr-n0 10.77.0.2 || qr_fail "node 0 -> node 1 ping fails before partition"
qr_ping qr-n0 10.77.0.3 || qr_fail "node 0 -> node 2 ping fails before partition"

# 3. partition 0/1: node 0 and node 1 cut; node 2 and the host unaffected.
qr_cluster partition 0/1 2>/dev/null || qr_fail "partition 0/1 failed"
qr_ping qr-n0 10.77.0.2 && qr_fail "node 0 -> node 1 ping passes during partition 0/1"
qr_ping qr-n1 10.77.0.1 && qr_fail "node 1 -> node 0 ping passes during partition 0/1"
qr_ping qr-n0 10.77.0.3 || qr_fail "node 0 -> node 2 cut by partition 0/1"
qr_ping host 10.77.0.2 || qr_fail "host -> node 1 cut by partition 0/1"

# 4. The host can be put in a group.
qr_cluster partition 0,host/1,2 2>/dev/null || qr_fail "partition 0,host/1,2 failed"
qr_ping host 10.77.0.2 && qr_fail "host -> node 1 passes during partition 0,host/1,2"
qr_ping host 10.77.0.1 || qr_fail "host -> node 0 cut during partition 0,host/1,2"
qr_ping qr-n1 10.77.0.3 || qr_fail "node 1 -> node 2 cut during partition 0,host/1,2"
qr_ping qr-n0 10.77.0.2 && qr_fail "node 0 -> node 1 passes during partition 0,host/1,2"

# 5. heal restores everything.
qr_cluster heal 2>/dev/null || qr_fail "heal failed"
qr_ping qr-n0 10.77.0.2 || qr_fail "node 0 -> node 1 ping fails after heal"
qr_ping host 10.77.0.2 || qr_fail "host -> node 1 ping fails after heal"
nft list table bridge quorate >/dev/null 2>&1 && qr_fail "nft table left after heal"

# 6. down leaves nothing, twice.
for i in 0 1 2; do
	ip netns exec "qr-n$i" ip addr flush dev "qr${i}n"
done
qr_cluster down 2>/dev/null || qr_fail "down failed"
# shellcheck disable=SC2034 # read by qr_teardown: already down
QR_UP=0
qr_cluster down 2>/dev/null || qr_fail "second down failed (not idempotent)"
ip netns list | grep -q '^qr-n' && qr_fail "namespaces left: $(ip netns list | grep '^qr-n')"
ip -o link show | grep -qE ': qr[0-9]+[hn]|: qrbr0' &&
	qr_fail "links left: $(ip -o link show | grep -oE 'qr[0-9a-z]+' | sort -u)"
nft list table bridge quorate >/dev/null 2>&1 && qr_fail "nft table left after down"
ip -4 route show 10.77.0.0/24 | grep -q . && qr_fail "route to 10.77.0.0/24 left"
ls "$QR_RUN"/*.pid "$QR_RUN"/state >/dev/null 2>&1 && qr_fail "pid/state files left in $QR_RUN"

qr_pass "up/partition/heal/down on 3 namespaces"
