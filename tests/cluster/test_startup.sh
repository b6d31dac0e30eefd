#!/bin/bash
# SPDX-License-Identifier: MIT
# quorated refuses to start, with a message naming what is wrong, on: a
# missing or invalid cluster key, an unknown profile, a port that cannot be
# opened, an unwritable data directory, a data directory path too long. Usage: test_startup.sh QUORATED
set -uo pipefail
qd=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/qr-startup.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

(umask 077; printf '1 %064d\n' 7 >"$tmp/secret")
cluster() { # $1: extra [node.0] lines, $2: [cluster] id line
	cat >"$tmp/c.ini" <<EOC
[cluster]
${2-id = 5}
replication_factor = 1
secret_file = secret
[node.0]
ip = 10.77.99.1
iface = qr-does-not-exist
data_dir = $tmp/data
$1
EOC
}

# expect EXIT_CODE PATTERN -- quorated args...
expect() {
	local code=$1 pat=$2
	shift 3
	local out
	out=$(timeout 30 "$qd" "$@" 2>&1)
	local rc=$?
	if [ "$rc" -ne "$code" ] || ! grep -qE "$pat" <<<"$out"; then
		echo "FAIL: quorated $*: exit $rc (want $code), output:"
		sed 's/^/    /' <<<"$out" | tail -n 8
		echo "    (wanted a line matching: $pat)"
		fails=$((fails + 1))
	else
		echo "ok: exit $rc: $(grep -E "$pat" <<<"$out" | head -n 1)"
	fi
}

prof="$root/drivers-conf/af_packet.ini"

cluster "" "" # no id
expect 2 "c.ini: \[cluster\] id: " -- --config "$tmp/c.ini" --node 0 --profile "$prof"

cluster "" "id = banana"
expect 2 "c.ini: \[cluster\] id: .*banana" -- --config "$tmp/c.ini" --node 0 --profile "$prof"

cluster "colour = blue"
expect 2 "c.ini: \[node.0\] colour: .*unknown" -- --config "$tmp/c.ini" --node 0 --profile "$prof"

cluster ""
chmod 644 "$tmp/secret"
expect 2 "secret: mode 0644: group or others" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
chmod 600 "$tmp/secret"
mv "$tmp/secret" "$tmp/secret.x"
expect 2 "secret: cannot open" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
mv "$tmp/secret.x" "$tmp/secret"

cluster ""
expect 2 "no-such-profile.ini: cannot read" -- --config "$tmp/c.ini" --node 0 --profile "$tmp/no-such-profile.ini"

printf '[profile]\nname = x\n[port]\nsteering = telepathy\n' >"$tmp/bad.ini"
expect 2 "bad.ini: \[port\] steering: " -- --config "$tmp/c.ini" --node 0 --profile "$tmp/bad.ini"

expect 2 "node 3: .*nodes 0..0|--node 3" -- --config "$tmp/c.ini" --node 3 --profile "$prof"

cluster ""
expect 2 "data directory /dev/null/qr: cannot create" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --data-dir /dev/null/qr

# A data directory whose file names would not fit QR_PATH_BYTES_MAX (4096):
# refused by name, never cut short (include/quorate/limits.h L4).
long=$tmp/$(printf 'd%.0s' $(seq 1 4100))
expect 2 "data directory: path too long" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --data-dir "$long"

# The interface does not exist: the af_packet port cannot open.
cluster ""
expect 3 "no DPDK port opened|EAL init failed" -- --config "$tmp/c.ini" --node 0 --profile "$prof"

if [ "$fails" -ne 0 ]; then
	echo "test_startup: $fails case(s) failed"
	exit 1
fi
echo "test_startup: all cases refused with a clear message"
