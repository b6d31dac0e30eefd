#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Tarantool as a peer benchmark (perf/peers/, issue 5): three instances on
# 127.0.0.1 in one replica set, instance 1 writable, 2 and 3 read-only
# replicas of it; space "kv" (id 512, memtx, TREE primary key on the key
# string) is synchronous (is_sync = true) with replication_synchro_quorum = 2
# and wal_mode = 'fsync' on every instance (Tarantool's default is 'write':
# write(2) without fsync; fsync matches quorate's durable setting). A write
# is an iproto REPLACE to instance 1, answered after the transaction is in
# instance 1's WAL and one replica has acknowledged it (the master counts
# itself: 2 of 3); a replica acknowledges after its own WAL write, fsync
# included with wal_mode 'fsync'. Reads are iproto SELECT on instance 1.
#
# KNOWN BROKEN with Debian 12's package (tarantool 2.6.0-1.2+b1, upstream
# 2.6.0-0-g47aa4e01e, a 2.6 alpha): after a few writes (2 to 41 here, one
# client or sixteen, wal_mode fsync or write, star or full mesh) a
# synchronous write is never confirmed, although box.info.replication on the
# master shows both replicas' vclocks at its LSN; it waits for
# replication_synchro_timeout and is rolled back with every write queued
# behind it. The bench then reports errors and meaningless figures, which is
# why run-peers.sh leaves tarantool out unless asked (perf/README.md, Peers).
#
# Usage: perf/peers/tarantool.sh up|down|bench [--keys K] [--key-bytes N]
#        [--value-bytes V] [--clients C] [--seconds D]
# Ports: QR_PEER_PORT (default 33311) and the next two. State directory:
# /tmp/quorate-peer-tarantool (QR_PEER_TMP moves it). Environment:
# TARANTOOL_WAL_MODE (default fsync) to measure 'write'.
set -euo pipefail

peer=tarantool
peer_pkgs="tarantool"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port0=${QR_PEER_PORT:-33311}
ports=("$port0" $((port0 + 1)) $((port0 + 2)))
wal_mode=${TARANTOOL_WAL_MODE:-fsync}

# One script for the three instances; arguments: index (1..3), port list.
write_init_lua() {
	cat >"$dir/instance.lua" <<'LUA'
-- perf/peers/tarantool.sh: one instance of the benchmark replica set.
local fio = require('fio')
local fiber = require('fiber')
local idx = tonumber(arg[1])
local ports = { tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]) }
local wal_mode = arg[5]
-- Star, not full mesh: the replicas replicate from instance 1 and send
-- their acknowledgements on that connection. (With a full mesh, Tarantool
-- 2.6.0 stopped collecting the quorum a few writes after the master's own
-- appliers subscribed: every later write timed out.)
local replication = nil
if idx ~= 1 then
	replication = { 'replicator:peers@127.0.0.1:' .. ports[1] }
end
box.cfg{
	listen = '127.0.0.1:' .. ports[idx],
	work_dir = fio.cwd(),
	replication = replication,
	read_only = idx ~= 1,
	replication_synchro_quorum = 2,
	replication_synchro_timeout = 5,
	wal_mode = wal_mode,
	memtx_memory = 256 * 1024 * 1024,
	checkpoint_interval = 0,
	log_level = 5,
}
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
	-- ready once both replicas follow us
	fiber.create(function()
		while true do
			local n = 0
			for _, r in pairs(box.info.replication) do
				if r.downstream and r.downstream.status == 'follow' then
					n = n + 1
				end
			end
			if n >= 2 then
				local f = fio.open(fio.pathjoin(fio.cwd(), 'ready'),
					{ 'O_CREAT', 'O_WRONLY' }, tonumber('644', 8))
				f:close()
				return
			end
			fiber.sleep(0.1)
		end
	end)
end
LUA
}

peer_up() {
	need_cmds tarantool
	ports_free "${ports[@]}"
	write_init_lua
	local i
	for i in 1 2 3; do
		mkdir "$dir/t$i"
		daemon "t$i" "$dir/t$i" tarantool "$dir/instance.lua" "$i" \
			"${ports[@]}" "$wal_mode"
	done
	wait_until "$READY_WAIT_S" "master with 2 following replicas" \
		test -e "$dir/t1/ready"
}

peer_bench_args() {
	echo --proto tarantool --endpoints "127.0.0.1:${ports[0]}" --space-id 512
}

main "$@"
