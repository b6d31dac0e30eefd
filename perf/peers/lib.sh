# SPDX-License-Identifier: MIT
# Shared by perf/peers/<peer>.sh (sourced, not run). Each peer script sets
# $peer before sourcing this file and defines peer_up, peer_bench_args and
# the command lists below; lib.sh gives it the state directory, daemon
# start and stop, readiness waits, the load generator build and the
# `up|down|bench` command line.
#
# State: everything a peer script starts lives in one directory,
# $QR_PEER_TMP/quorate-peer-<peer> (QR_PEER_TMP defaults to /tmp): data,
# logs, one <name>.pid per daemon, and the peer-load binary. Every daemon is
# started with its working directory inside it, so `down` finds our
# processes even without their pid files (/proc/PID/cwd under the state
# directory) and never touches anything else. `down` is idempotent.

peers_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${QR_PEER_TMP:-/tmp}/quorate-peer-$peer
TERM_WAIT_S=5   # SIGTERM grace before SIGKILL at `down`
READY_WAIT_S=30 # a cluster that is not ready by then fails `up`

# bench defaults: the issue's parameters
keys=1000
key_bytes=16
value_bytes=64
clients=16
seconds=10

die() { echo "$peer: $*" >&2; exit 1; }
note() { echo "$peer: $*" >&2; }

need_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null ||
			die "$c not found (Debian 12: apt-get install $peer_pkgs)"
	done
}

# Fails if something already listens on one of the TCP ports given.
ports_free() {
	local p
	for p in "$@"; do
		if ss -Htln "sport = :$p" | grep -q .; then
			die "port $p on loopback is in use (QR_PEER_PORT moves ours)"
		fi
	done
}

# daemon NAME CWD CMD...: start CMD in the background, working directory
# CWD (inside $dir), output to $dir/NAME.log, pid to $dir/NAME.pid.
daemon() {
	local name=$1 cwd=$2
	shift 2
	(cd "$cwd" && exec "$@") >"$dir/$name.log" 2>&1 </dev/null &
	echo $! >"$dir/$name.pid"
}

# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 5; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	note "not ready after ${limit}s: $what; logs:"
	tail -n 5 "$dir"/*.log >&2 || true
	return 1
}

# Our processes: pids from the pid files whose cwd is still under $dir,
# plus any process whose cwd is under $dir (a lost pid file).
our_pids() {
	local f pid cwd
	{
		for f in "$dir"/*.pid; do
			[ -f "$f" ] && cat "$f"
		done
		for f in /proc/[0-9]*; do
			echo "${f#/proc/}"
		done
	} | sort -un | while read -r pid; do
		cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
		case "$cwd" in
		"$dir" | "$dir"/* | "$dir (deleted)" | "$dir"/*" (deleted)")
			[ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] && echo "$pid"
			;;
		esac
	done
}

cmd_down() {
	local pids i
	pids=$(our_pids)
	if [ -n "$pids" ]; then
		kill -TERM $pids 2>/dev/null || true
		for ((i = 0; i < TERM_WAIT_S * 10; i++)); do
			pids=$(our_pids)
			[ -z "$pids" ] && break
			sleep 0.1
		done
		if [ -n "$pids" ]; then
			note "SIGKILL to $pids after ${TERM_WAIT_S}s"
			kill -KILL $pids 2>/dev/null || true
			sleep 0.2
		fi
	fi
	rm -rf "$dir"
}

cmd_up() {
	[ -d "$dir" ] && die "$dir exists: run '$0 down' first"
	mkdir -p "$dir"
	if ! peer_up; then
		cmd_down
		die "up failed"
	fi
	note "up in $dir"
}

# The load generator, built into $dir (cc from gcc or clang).
peer_load() {
	local bin=$dir/peer-load
	if [ ! -x "$bin" ] || [ "$peers_src/peer_load.c" -nt "$bin" ]; then
		${CC:-cc} -O2 -Wall -Wextra -pthread -I "$peers_src/../../src" \
			-o "$bin" "$peers_src/peer_load.c" ||
			die "cannot build peer-load"
	fi
	# a hard bound on top of peer-load's own (socket timeouts)
	timeout --foreground --kill-after=5 $((${seconds%.*} + 60)) "$bin" "$@"
}

usage_bench() {
	cat >&2 <<EOF
Usage: $0 bench [--keys K] [--key-bytes N] [--value-bytes V] [--clients C]
                [--seconds D]
Preloads K keys, then runs D seconds of durable writes and D seconds of
reads with C closed-loop clients; prints one key=value line per workload.
Defaults: $keys keys, $key_bytes B keys, $value_bytes B values, $clients
clients, $seconds s.
EOF
	exit 1
}

cmd_bench() {
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || usage_bench
		case "$1" in
		--keys) keys=$2 ;;
		--key-bytes) key_bytes=$2 ;;
		--value-bytes) value_bytes=$2 ;;
		--clients) clients=$2 ;;
		--seconds) seconds=$2 ;;
		*) usage_bench ;;
		esac
		shift 2
	done
	[ -d "$dir" ] || die "not up: run '$0 up' first"
	local common=(--peer "$peer" --keys "$keys" --key-bytes "$key_bytes"
		--value-bytes "$value_bytes" --clients "$clients"
		--seconds "$seconds" $(peer_bench_args))
	# a failed preload leaves reads finding no key: reported, not fatal
	peer_load "${common[@]}" --op preload ||
		note "preload failed: read errors will include missing keys"
	peer_load "${common[@]}" --op write
	peer_load "${common[@]}" --op read
}

main() {
	case "${1:-}" in
	up) cmd_up ;;
	down) cmd_down ;;
	bench) shift; cmd_bench "$@" ;;
	*)
		echo "Usage: $0 up|down|bench [bench options; $0 bench --help]" >&2
		exit 1
		;;
	esac
}
