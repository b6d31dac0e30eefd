#!/bin/bash
# SPDX-License-Identifier: MIT
#
# etcd as a peer benchmark (perf/peers/, issue 5): three members on
# 127.0.0.1 with etcd's defaults (every member fsyncs its raft WAL before it
# acknowledges an entry; the leader commits once a majority, 2 of 3, have
# it). A durable write is a v3 Put through the HTTP/JSON gRPC gateway
# (POST /v3/kv/put), answered after the entry is committed and applied. A
# read is a v3 Range (POST /v3/kv/range) with etcd's default, linearizable
# consistency (a ReadIndex round to the leader; not serializable). The
# clients are spread round-robin over the three members, as etcd's own
# benchmark does with several endpoints; followers forward to the leader.
#
# Usage: perf/peers/etcd.sh up|down|bench [--keys K] [--key-bytes N]
#        [--value-bytes V] [--clients C] [--seconds D]
# Ports: QR_PEER_PORT (default 23791) and the next two for clients, +100
# for raft peers. State directory: /tmp/quorate-peer-etcd (QR_PEER_TMP).
set -euo pipefail

peer=etcd
peer_pkgs="etcd-server etcd-client"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port0=${QR_PEER_PORT:-23791}
client_ports=("$port0" $((port0 + 1)) $((port0 + 2)))
peer_ports=($((port0 + 100)) $((port0 + 101)) $((port0 + 102)))

endpoints() {
	local IFS=,
	echo "${client_ports[*]/#/127.0.0.1:}"
}

healthy() {
	ETCDCTL_API=3 etcdctl --endpoints "$(endpoints)" \
		--dial-timeout 1s --command-timeout 2s endpoint health
}

peer_up() {
	need_cmds etcd etcdctl
	ports_free "${client_ports[@]}" "${peer_ports[@]}"
	local i cluster=""
	for i in 0 1 2; do
		cluster+="${cluster:+,}m$i=http://127.0.0.1:${peer_ports[$i]}"
	done
	for i in 0 1 2; do
		mkdir "$dir/m$i"
		daemon "m$i" "$dir/m$i" etcd --name "m$i" \
			--data-dir "$dir/m$i/data" \
			--listen-client-urls "http://127.0.0.1:${client_ports[$i]}" \
			--advertise-client-urls "http://127.0.0.1:${client_ports[$i]}" \
			--listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
			--initial-advertise-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
			--initial-cluster "$cluster" \
			--initial-cluster-token quorate-peers \
			--initial-cluster-state new \
			--logger zap --log-level warn
	done
	wait_until "$READY_WAIT_S" "3 healthy members" healthy
}

peer_bench_args() {
	echo --proto etcd --endpoints "$(endpoints)"
}

main "$@"
