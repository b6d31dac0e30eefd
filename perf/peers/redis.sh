#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Redis as a peer benchmark (perf/peers/, issue 5): one primary and two
# replicas on 127.0.0.1, every instance with appendonly yes and appendfsync
# always (the AOF is fsynced before a write command's reply). A durable
# write is SET followed by WAIT 1 0 on the same connection: the primary has
# fsynced its AOF and at least one replica has acknowledged the replication
# offset, i.e. has *received* the write (WAIT does not wait for a replica's
# fsync; Redis 7.0 has no WAITAOF). Reads are GET on the primary.
#
# Usage: perf/peers/redis.sh up|down|bench [--keys K] [--key-bytes N]
#        [--value-bytes V] [--clients C] [--seconds D]
# Ports: QR_PEER_PORT (default 26391) and the next two. State directory:
# /tmp/quorate-peer-redis (QR_PEER_TMP moves it).
set -euo pipefail

peer=redis
peer_pkgs="redis-server redis-tools"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port0=${QR_PEER_PORT:-26391}
ports=("$port0" $((port0 + 1)) $((port0 + 2)))

replicas_online() {
	local info
	info=$(redis-cli -h 127.0.0.1 -p "${ports[0]}" info replication)
	[ "$(grep -c 'state=online' <<<"$info")" -ge 2 ]
}

peer_up() {
	need_cmds redis-server redis-cli
	ports_free "${ports[@]}"
	local i args
	for i in 0 1 2; do
		mkdir "$dir/r$i"
		args=(--port "${ports[$i]}" --bind 127.0.0.1 --protected-mode yes
			--dir "$dir/r$i" --daemonize no --save "" --repl-diskless-sync-delay 0
			--appendonly yes --appendfsync always --logfile "")
		[ "$i" -gt 0 ] && args+=(--replicaof 127.0.0.1 "${ports[0]}")
		daemon "r$i" "$dir/r$i" redis-server "${args[@]}"
	done
	wait_until "$READY_WAIT_S" "primary with 2 online replicas" \
		replicas_online
}

peer_bench_args() {
	echo --proto redis --endpoints "127.0.0.1:${ports[0]}"
}

main "$@"
