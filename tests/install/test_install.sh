#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `meson install --destdir` into a temporary root, then a client program
# built from that root with pkg-config alone (issue 16 item 4; ~5 s):
#  - the daemon, the CLI, libquorate shared and static, its headers,
#    libquorate.pc, the DPDK profiles and the systemd units are installed;
#  - `pkg-config --cflags --libs libquorate` names no DPDK directory or
#    library, and the installed headers include no rte_*.h;
#  - tests/install/replicas.c builds against the shared library and the
#    static one, runs, and prints what the in-tree build of the same
#    program prints (placement of 50 keys on a 5-node RF 3 cluster file);
#  - neither binary nor libquorate.so needs a librte_* library or symbol,
#    and the installed CLI links no librte_* either.
# Usage: test_install.sh BUILD_DIR PREFIX LIBDIR SOURCE.c REFERENCE_BINARY
set -euo pipefail
[ $# = 5 ] || { echo "usage: $0 BUILD PREFIX LIBDIR SOURCE REF" >&2; exit 1; }
build=$1 prefix=$2 libdir=$3 src=$4 ref=$5
fail() { echo "FAIL: $*" >&2; exit 1; }
t=$(mktemp -d /tmp/qr-install.XXXXXX)
trap 'rm -rf "$t"' EXIT
root=$t/root
case $libdir in /*) lib=$root$libdir ;; *) lib=$root$prefix/$libdir ;; esac

meson install -C "$build" --no-rebuild --destdir "$root" --quiet >"$t/install.log" 2>&1 ||
	{ tail -n 20 "$t/install.log" >&2; fail "meson install --destdir"; }

for f in "$root$prefix/bin/quorated" "$root$prefix/bin/quorate" \
	"$root$prefix/include/quorate/client.h" \
	"$root$prefix/include/quorate/err.h" \
	"$root$prefix/include/quorate/limits.h" \
	"$lib/libquorate.a" "$lib/libquorate.so" "$lib/pkgconfig/libquorate.pc" \
	"$root$prefix/share/quorate/drivers-conf/af_packet.ini" \
	"$root$prefix/share/doc/quorate/operations.md"; do
	[ -e "$f" ] || fail "not installed: ${f#"$root"}"
done
units=$(find "$root" -name 'quorated@.service' -o -name 'quorate-gw.service' | wc -l)
[ "$units" = 2 ] || fail "systemd units installed: $units of 2"
grep -q "ExecStart=$prefix/bin/quorated " "$(find "$root" -name 'quorated@.service')" ||
	fail "quorated@.service does not run $prefix/bin/quorated"
"$root$prefix/bin/quorated" --help | grep -q "$prefix/share/quorate/drivers-conf" ||
	fail "quorated does not look for profiles in $prefix/share/quorate/drivers-conf"
! grep -l 'rte_' "$root$prefix/include/quorate/"*.h ||
	fail "an installed header mentions rte_"

export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs libquorate) || fail "pkg-config libquorate"
echo "pkg-config --cflags --libs libquorate: $flags"
case $flags in *dpdk* | *rte_* | *jemalloc*) fail "flags name DPDK or jemalloc: $flags" ;; esac
cc=${CC:-cc}
# shellcheck disable=SC2086 # pkg-config output is a word list
$cc -std=c11 -Wall -Wextra -Werror "$src" $flags -o "$t/replicas" ||
	fail "building the client against the shared libquorate"
static_libs=$(pkg-config --static --libs libquorate | sed 's/-lquorate\b/-l:libquorate.a/')
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror "$src" $(pkg-config --cflags libquorate) \
	$static_libs -o "$t/replicas-static" ||
	fail "building the client against the static libquorate"

cat >"$t/cluster.ini" <<INI
[cluster]
id = 7
replication_factor = 3
auth = none
[node.0]
ip = 10.9.0.1
[node.1]
ip = 10.9.0.2
[node.2]
ip = 10.9.0.3
[node.3]
ip = 10.9.0.4
[node.4]
ip = 10.9.0.5
INI
keys=$(seq -f 'user:%g' 1 50)
# shellcheck disable=SC2086
"$ref" "$t/cluster.ini" $keys >"$t/want" || fail "in-tree reference run"
# shellcheck disable=SC2086
LD_LIBRARY_PATH=$lib "$t/replicas" "$t/cluster.ini" $keys >"$t/got" ||
	fail "installed client (shared) run"
# shellcheck disable=SC2086
"$t/replicas-static" "$t/cluster.ini" $keys >"$t/got-static" ||
	fail "installed client (static) run"
[ "$(wc -l <"$t/want")" = 50 ] || fail "reference printed $(wc -l <"$t/want") lines"
cmp -s "$t/want" "$t/got" || fail "shared client disagrees with the in-tree build"
cmp -s "$t/want" "$t/got-static" || fail "static client disagrees"
grep -q '^user:1 partition=[0-9]* replicas=[0-4],[0-4],[0-4]$' "$t/got" ||
	fail "unexpected output: $(head -n 1 "$t/got")"

for b in "$t/replicas" "$t/replicas-static" "$root$prefix/bin/quorate"; do
	if LD_LIBRARY_PATH=$lib ldd "$b" | grep -q 'librte_'; then
		fail "$(basename "$b") links a DPDK library"
	fi
done
if nm -D --undefined-only "$lib/libquorate.so" | grep -q ' rte_'; then
	fail "libquorate.so needs rte_ symbols"
fi
if nm --undefined-only "$lib/libquorate.a" 2>/dev/null | grep -q ' rte_'; then
	fail "libquorate.a needs rte_ symbols"
fi
echo "PASS: installed into $root; a client built with pkg-config alone, no DPDK"
