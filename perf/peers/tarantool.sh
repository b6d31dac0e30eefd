#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Tarantool as a peer benchmark (perf/peers/, issue 5): three instances on
# 127.0.0.1 in one replica set, instance 1 writable, 2 and 3 read-only; space
# "kv" (id 512, memtx, TREE primary key on the key string) is synchronous
# (is_sync = true) and wal_mode = 'fsync' on every instance (Tarantool's
# default is 'write': write(2) without fsync; fsync matches quorate's durable
# setting). A write is an iproto REPLACE to instance 1, answered once the
# transaction is in the WAL of replication_synchro_quorum instances (the
# master counts itself) and the master has written its CONFIRM; a replica
# acknowledges after its own WAL write, fsync included. Reads are iproto
# SELECT on instance 1.
#
# Topology (TARANTOOL_SYNC), because of a bug in Debian 12's package
# (tarantool 2.6.0-1.2+b1, upstream 2.6.0-0-g47aa4e01e), perf/README.md:
#   chain (default)  quorum 2 of 3: replicas 2 follows 1, replica 3 follows
#                    2 (joined through 1, then switched), so 1's only
#                    acknowledger is 2. A write is fsynced on 2 instances
#                    (1 and 2), like etcd's majority; 3 gets it from 2.
#   all              star (2 and 3 follow 1), quorum 3 of 3: every write is
#                    fsynced on all three instances. Stricter than chain.
#   star             star, quorum 2 of 3: what the issue asks for, and what
#                    2.6.0 cannot run: the second replica's acknowledgement
#                    of an already confirmed transaction writes a second
#                    CONFIRM, and txn_limbo_ack() then wakes fibers still
#                    waiting for their own WAL write; such a transaction
#                    gets LSN 0 in the limbo and is never confirmed: every
#                    write stalls for replication_synchro_timeout and is
#                    rolled back. Kept to reproduce it.
#
# Usage: perf/peers/tarantool.sh up|down|bench [--keys K] [--key-bytes N]
#        [--value-bytes V] [--clients C] [--seconds D]
# Ports: QR_PEER_PORT (default 33311) and the next two. State directory:
# /tmp/quorate-peer-tarantool (QR_PEER_TMP moves it). Environment:
# TARANTOOL_SYNC (chain, all or star; default chain), TARANTOOL_WAL_MODE
# (default fsync) to measure 'write'.
set -euo pipefail

peer=tarantool
peer_pkgs="tarantool"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port0=${QR_PEER_PORT:-33311}
ports=("$port0" $((port0 + 1)) $((port0 + 2)))
wal_mode=${TARANTOOL_WAL_MODE:-fsync}
sync=${TARANTOOL_SYNC:-chain}
case "$sync" in
chain | star) quorum=2 ;;
all) quorum=3 ;;
*) echo "tarantool: TARANTOOL_SYNC must be chain, all or star" >&2; exit 1 ;;
esac

# One script for the three instances; arguments: index (1..3), the three
# ports, wal_mode, topology, quorum.
write_init_lua() {
	cat >"$dir/instance.lua" <<'LUA'
-- perf/peers/tarantool.sh: one instance of the benchmark replica set.
local fio = require('fio')
local fiber = require('fiber')
local idx = tonumber(arg[1])
local ports = { tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]) }
local wal_mode, topology, quorum = arg[5], arg[6], tonumber(arg[7])
local function uri(i) return 'replicator:peers@127.0.0.1:' .. ports[i] end
-- Every replica joins through instance 1: registering a replica (_cluster)
-- needs the writable instance. In the chain, 3 then follows 2 instead.
local replication = nil
if idx ~= 1 then
	replication = { uri(1) }
end
box.cfg{
	listen = '127.0.0.1:' .. ports[idx],
	work_dir = fio.cwd(),
	replication = replication,
	read_only = idx ~= 1,
	replication_synchro_quorum = quorum,
	replication_synchro_timeout = 5,
	wal_mode = wal_mode,
	memtx_memory = 256 * 1024 * 1024,
	checkpoint_interval = 0,
	log_level = 5,
}
if idx == 3 and topology == 'chain' then
	box.cfg{ replication = { uri(2) } }
end
-- admin console, for debugging: tarantoolctl connect <dir>/tN/admin.sock
require('console').listen('unix/:' .. fio.pathjoin(fio.cwd(), 'admin.sock'))
if idx == 1 then
	box.once('peers-schema', function()
		box.schema.user.create('replicator', { password = 'peers' })
		box.schema.user.grant('replicator', 'replication')
		local s = box.schema.space.create('kv',
			{ id = 512, is_sync = true })
		s:create_index('pk', { type = 'tree', parts = { 1, 'string' } })
		box.schema.user.grant('guest', 'read,write', 'space', 'kv')
	end)
end
-- Ready (a file 'ready' in the working directory) once this instance's
-- links are up: 1 has its followers (chain: 2; star: 2 and 3), 2 and 3
-- follow their upstream.
local function links_up()
	if idx == 1 then
		local n = 0
		for _, r in pairs(box.info.replication) do
			if r.downstream and r.downstream.status == 'follow' then
				n = n + 1
			end
		end
		return n >= (topology == 'chain' and 1 or 2)
	end
	local up = ':' .. ports[topology == 'chain' and idx == 3 and 2 or 1]
	for _, r in pairs(box.info.replication) do
		if r.upstream and r.upstream.status == 'follow' and
		   r.upstream.peer:sub(-#up) == up then
			return true
		end
	end
	return false
end
fiber.create(function()
	while not links_up() do
		fiber.sleep(0.1)
	end
	local f = fio.open(fio.pathjoin(fio.cwd(), 'ready'),
		{ 'O_CREAT', 'O_WRONLY' }, tonumber('644', 8))
	f:close()
end)
LUA
}

all_ready() {
	test -e "$dir/t1/ready" && test -e "$dir/t2/ready" &&
		test -e "$dir/t3/ready"
}

peer_up() {
	need_cmds tarantool
	ports_free "${ports[@]}"
	write_init_lua
	local i
	for i in 1 2 3; do
		mkdir "$dir/t$i"
		daemon "t$i" "$dir/t$i" tarantool "$dir/instance.lua" "$i" \
			"${ports[@]}" "$wal_mode" "$sync" "$quorum"
	done
	wait_until "$READY_WAIT_S" "3 instances, replication $sync" all_ready
	note "sync=$sync quorum=$quorum wal_mode=$wal_mode"
}

peer_bench_args() {
	echo --proto tarantool --endpoints "127.0.0.1:${ports[0]}" --space-id 512
}

main "$@"
