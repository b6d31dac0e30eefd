# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared helpers for the cluster tests (tests/cluster/test_*.sh). Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   qr_require_root
#   qr_cluster_up 3                 # tools/cluster up, teardown on any exit
#   qr_wait_mgmt 0 30               # node 0's management socket accepts
#   ...
#   qr_pass "what was checked"
#
# Every test gets its own run dir under $QR_TEST_TMP; the whole test is bounded
# by QR_TEST_TIMEOUT_S (a watchdog kills it and teardown still runs). Only one
# local cluster can exist per host (fixed names qrbr0, qr-n*): tests take a
# lock, and meson runs the suite with is_parallel: false.
# Exit codes: 0 pass, 1 fail, 77 skip (with the reason on stderr).

QR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QR_CLUSTER="$QR_ROOT/tools/cluster"
QR_TEST_NAME=$(basename "$0" .sh)
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-100}
QR_LOCK=/run/lock/quorate-cluster-tests.lock
QR_RUN=""        # run dir of the cluster this test brought up
QR_UP=0

qr_log() { echo "[$QR_TEST_NAME] $*" >&2; }
qr_fail() { qr_log "FAIL: $*"; exit 1; }
qr_skip() { qr_log "SKIP: $*"; exit 77; }
qr_pass() { qr_log "PASS: $*"; exit 0; }

qr_require_root() {
	[ "$(id -u)" -eq 0 ] || qr_skip "needs root (network namespaces)"
}

qr_require_cmd() { # CMD PACKAGE
	command -v "$1" >/dev/null ||
		qr_fail "'$1' not found: install package $2 (tools/setup)"
}

# Tear down whatever this test brought up; runs on every exit.
qr_teardown() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "${QR_WATCHDOG_PID:-}" ] || kill "$QR_WATCHDOG_PID" 2>/dev/null || true
	if [ "$QR_UP" = 1 ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$QR_RUN" ]; then
			qr_dump_logs
		fi
		"$QR_CLUSTER" --run-dir "$QR_RUN" down >/dev/null 2>&1 ||
			qr_log "teardown: tools/cluster down failed"
		QR_UP=0
	fi
	[ -z "${QR_TEST_TMP:-}" ] || [ "${QR_KEEP:-0}" = 1 ] || rm -rf "$QR_TEST_TMP"
	exit "$rc"
}

qr_dump_logs() {
	local f
	for f in "$QR_RUN"/n*.log; do
		[ -f "$f" ] || continue
		qr_log "--- last lines of $f"
		tail -n 20 "$f" >&2
	done
}

# Start of every test: lock, temp dir, traps, watchdog.
qr_test_init() {
	qr_require_root
	qr_require_cmd ip iproute2
	mkdir -p "$(dirname "$QR_LOCK")"
	exec 9>"$QR_LOCK"
	flock -w 60 9 || qr_fail "another cluster test holds $QR_LOCK for 60 s"
	QR_TEST_TMP=$(mktemp -d "/tmp/qr-$QR_TEST_NAME.XXXXXX")
	trap qr_teardown EXIT
	trap 'qr_log "interrupted"; exit 1' INT TERM
	# Watchdog: SIGTERM the test after the bound; the trap tears down.
	# Its sleep dies with it, so no orphan holds meson's output pipe open.
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$QR_TEST_TIMEOUT_S" &
		sp=$!
		wait "$sp"
		qr_log "timeout after ${QR_TEST_TIMEOUT_S}s"
		kill -TERM $$
	) &
	QR_WATCHDOG_PID=$!
}

# qr_cluster_up N [tools/cluster up options]: bring a cluster up in this
# test's run dir; sets QR_RUN and QR_CLUSTER_FILE.
qr_cluster_up() {
	[ -n "${QR_TEST_TMP:-}" ] || qr_test_init
	QR_RUN="$QR_TEST_TMP/run"
	local out
	QR_UP=1 # from now on teardown runs 'down', even if 'up' fails halfway
	out=$("$QR_CLUSTER" up "$@" --run-dir "$QR_RUN") ||
		qr_fail "tools/cluster up $* failed"
	QR_CLUSTER_FILE=$(tail -n 1 <<<"$out")
	[ -f "$QR_CLUSTER_FILE" ] || qr_fail "no cluster file at '$QR_CLUSTER_FILE'"
}

qr_cluster() { # tools/cluster on this test's cluster
	"$QR_CLUSTER" --run-dir "$QR_RUN" "$@"
}

# qr_wait TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.1 s until it
# succeeds; fail naming DESCRIPTION after TIMEOUT_S.
qr_wait() {
	local timeout_s=$1 what=$2 t
	shift 2
	for ((t = 0; t < timeout_s * 10; t++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	qr_fail "timed out after ${timeout_s}s waiting for $what"
}

# A unix socket accepts connections (the management endpoint).
qr_unix_accepts() {
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(1)
s.connect(sys.argv[1])' "$1"
}

# qr_wait_mgmt ID TIMEOUT_S: node ID's management socket accepts.
qr_wait_mgmt() {
	qr_wait "$2" "node $1's management socket $QR_RUN/n$1.sock" \
		qr_unix_accepts "$QR_RUN/n$1.sock"
}

# qr_wait_log ID REGEX TIMEOUT_S: node ID's log has a line matching REGEX.
qr_wait_log() {
	qr_wait "$3" "node $1's log to match '$2'" grep -Eq "$2" "$QR_RUN/n$1.log"
}

# qr_wait_udp IP PORT TIMEOUT_S: something answers on IP:PORT over UDP
# (the data plane is DPDK: no kernel socket to look for). Sends an empty
# datagram and waits for any reply or an ICMP error that says nothing
# listens; succeeds only on a reply.
qr_udp_replies() {
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(bytes.fromhex(sys.argv[3]) if len(sys.argv) > 3 else b"")
s.recv(2048)' "$@"
}

qr_wait_udp() { # IP PORT TIMEOUT_S [HEX_PAYLOAD]
	qr_wait "$3" "a UDP reply from $1:$2" qr_udp_replies "$1" "$2" ${4:+"$4"}
}

# qr_netns_ping FROM_NETNS|host IP: one ICMP echo, 1 s.
qr_ping() {
	if [ "$1" = host ]; then
		ping -c 1 -W 1 "$2" >/dev/null 2>&1
	else
		ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1
	fi
}
