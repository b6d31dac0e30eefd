#!/bin/bash
# SPDX-License-Identifier: MIT
# quorated refuses to start, with a message naming what is wrong, on: a
# missing or invalid cluster key, an unknown profile, a port that cannot be
# opened, an unwritable data directory, a data directory path too long, an
# empty data directory without --init, something
# other than a socket at the management socket path, driver buffers too
# small for peer_frame_bytes, a corrupt or invalid topology file, a [loop]
# doorbell naming a placeholder other than {run}. Usage: test_startup.sh QUORATED
set -uo pipefail
qd=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/qr-startup.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

(umask 077; printf '1 %064d\n' 7 >"$tmp/secret"; printf '1 rw * %064d\n' 9 >"$tmp/clients.keys")
cluster() { # $1: extra [node.0] lines, $2: [cluster] id line
	cat >"$tmp/c.ini" <<EOC
[cluster]
${2-id = 5}
replication_factor = 1
secret_file = secret
client_key_file = clients.keys
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

# (--init: the data directory is empty; the keys are checked after it.)
cluster ""
chmod 644 "$tmp/secret"
expect 2 "secret: mode 0644: group or others" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init
chmod 600 "$tmp/secret"
mv "$tmp/secret" "$tmp/secret.x"
expect 2 "secret: cannot open" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init
mv "$tmp/secret.x" "$tmp/secret"

# Client keys (issue 12 item 2): the same checks as the secret, and a bad
# line named.
chmod 640 "$tmp/clients.keys"
expect 2 "clients.keys: mode 0640: group or others" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init
chmod 600 "$tmp/clients.keys"
printf '1 admin * %064d\n' 9 >"$tmp/clients.keys"
expect 2 "clients.keys: line 1: want: <client id 1..65535> <ro\|rw>" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init
printf '1 rw * %064d\n' 9 >"$tmp/clients.keys"
sed -i '/^client_key_file/d' "$tmp/c.ini"
expect 2 "client_key_file.*not set \(auth = mac needs it\)" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init

cluster ""
expect 2 "no-such-profile.ini: cannot read" -- --config "$tmp/c.ini" --node 0 --profile "$tmp/no-such-profile.ini"

printf '[profile]\nname = x\n[port]\nsteering = telepathy\n' >"$tmp/bad.ini"
expect 2 "bad.ini: \[port\] steering: " -- --config "$tmp/c.ini" --node 0 --profile "$tmp/bad.ini"
# a doorbell per node would split the cluster's board: only {run} allowed
printf '[profile]\nname = x\n[loop]\ndoorbell = {run}/bell-{node}\n' >"$tmp/bad.ini"
expect 2 "bad.ini: \[loop\] doorbell: only \{run\} may be used" -- --config "$tmp/c.ini" --node 0 --profile "$tmp/bad.ini"

expect 2 "node 3: .*nodes 0..0|--node 3" -- --config "$tmp/c.ini" --node 3 --profile "$prof"

cluster ""
expect 2 "data directory /dev/null/qr: cannot create" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --data-dir /dev/null/qr

# A data directory whose file names would not fit QR_PATH_BYTES_MAX (4096):
# refused by name, never cut short (include/quorate/limits.h L4).
long=$tmp/$(printf 'd%.0s' $(seq 1 4100))
expect 2 "data directory: path too long" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --data-dir "$long"

# A regular file where the management socket goes: refused by name, and
# the file is still there, unchanged (issue 12 item 6: lstat, never unlink
# what is not a socket).
echo precious >"$tmp/n0.sock"
cluster "mgmt = $tmp/n0.sock"
expect 2 "mgmt socket .*n0.sock: exists and is not a socket \(a regular file\)" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
if [ "$(cat "$tmp/n0.sock" 2>/dev/null)" != precious ]; then
	echo "FAIL: the regular file at the mgmt path was changed or removed"
	fails=$((fails + 1))
fi
ln -s "$tmp/n0.sock" "$tmp/link.sock"
cluster "mgmt = $tmp/link.sock"
expect 2 "mgmt socket .*link.sock: exists and is not a socket \(a symlink\)" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
[ -L "$tmp/link.sock" ] || { echo "FAIL: symlink removed"; fails=$((fails + 1)); }

# An empty data directory (a new node, or one that lost its disk: nothing
# tells them apart) is refused unless --init says the node is new (issue
# 13 bug 6: a node restarted on an empty disk rejoined as a full replica
# and QUORUM reads over it answered NOT_FOUND for acknowledged writes).
cluster ""
rm -rf "$tmp/data"
expect 2 "data directory .*/data is empty: a new node is started once with --init" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
[ ! -e "$tmp/data/IDENTITY" ] || { echo "FAIL: IDENTITY written without --init"; fails=$((fails + 1)); }

# The interface does not exist: the af_packet port cannot open. --init
# binds the empty directory first; then it is no longer empty.
expect 3 "no DPDK port opened|EAL init failed" -- --config "$tmp/c.ini" --node 0 --profile "$prof" --init
[ -s "$tmp/data/IDENTITY" ] || { echo "FAIL: --init wrote no IDENTITY"; fails=$((fails + 1)); }
expect 3 "no DPDK port opened|EAL init failed" -- --config "$tmp/c.ini" --node 0 --profile "$prof"

# The installed topology (<data_dir>/topology, written at the first start
# above; src/common/topo_file.h F1, F3): a corrupt one, and one with a
# valid CRC but a member beyond the cluster file's slots, are refused by
# name before the EAL starts; nothing else is read.
grep -q '^epoch = 1$' "$tmp/data/topology" ||
	{ echo "FAIL: no topology file written at the first start"; fails=$((fails + 1)); }
sed -i 's/^epoch = 1$/epoch = 2/' "$tmp/data/topology"
expect 2 "topology: .*data/topology: corrupt" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
python3 - "$tmp/data/topology" <<'PY'
import sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
body = ("# quorate topology: written by quorated (docs/topology.md)\n"
        "epoch = 3\nowners = 0x3\npending = 0x0\nstreaming = 0\n")
open(sys.argv[1], "w").write(body + "crc32c = 0x%08x\n" % crc32c(body.encode()))
PY
expect 2 "topology: .*data/topology: a member beyond the cluster file's node slots" -- --config "$tmp/c.ini" --node 0 --profile "$prof"
rm -f "$tmp/data/topology"

# Jumbo peer frames (peer_frame_bytes) with a hand-edited profile whose
# driver buffers are the old 2048 B: refused by name before the EAL
# starts, never a port that drops every long frame.
cluster "" "id = 5
peer_frame_bytes = 8972"
sed 's/framesz={framesz}/framesz=2048/' "$prof" >"$tmp/afp2048.ini"
expect 2 "peer_frame_bytes 8972 needs framesz=9142 or more .*it has 2048" -- --config "$tmp/c.ini" --node 0 --profile "$tmp/afp2048.ini"
sed 's/bsize={framesz}/bsize=2048/' "$root/drivers-conf/memif.ini" >"$tmp/memif2048.ini"
expect 2 "peer_frame_bytes 8972 needs bsize=9014 or more .*it has 2048" -- --config "$tmp/c.ini" --node 0 --profile "$tmp/memif2048.ini" --run-dir "$tmp"

if [ "$fails" -ne 0 ]; then
	echo "test_startup: $fails case(s) failed"
	exit 1
fi
echo "test_startup: all cases refused with a clear message"
