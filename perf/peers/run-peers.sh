#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Peer benchmarks side by side (issue 5): for each run and each peer, start
# the peer's cluster on loopback, run its bench (durable writes, then reads,
# same keys, sizes and concurrency for every peer), stop it; then print the
# raw key=value lines, a table of medians over the runs and, with --quorate,
# quorate's figures as ratios to each peer's. Only one peer's processes are
# up at a time. Every cluster is stopped and every temp dir removed on any
# exit (trap), including Ctrl-C.
#
# Usage: perf/peers/run-peers.sh [--peers etcd,redis,tarantool] [--runs N]
#        [--keys K] [--key-bytes N] [--value-bytes V] [--clients C]
#        [--seconds D] [--quorate FILE] [--out FILE]
#
# Defaults: etcd, redis and tarantool, 1 run, 1,000 keys, 16 B keys, 64 B
# values, 16 clients, 10 s of writes and 10 s of reads per peer (about 25 s
# a peer). Tarantool runs in tarantool.sh's default topology (chain, quorum
# 2; TARANTOOL_SYNC picks another: Debian 12's 2.6.0 stalls in the star
# with quorum 2, perf/README.md). --quorate FILE: key=value lines in
# the same format (peer=quorate op=write|read ops_per_s= p50_us= p99_us=
# ...), e.g. from quorate-bench; medians are taken per op.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers=etcd,redis,tarantool
runs=1
quorate=""
out=""
bench_args=()

usage() {
	sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 1
}

while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--peers) peers=$2 ;;
	--runs) runs=$2 ;;
	--quorate) quorate=$2 ;;
	--out) out=$2 ;;
	--keys | --key-bytes | --value-bytes | --clients | --seconds)
		bench_args+=("$1" "$2") ;;
	*) usage ;;
	esac
	shift 2
done
IFS=, read -r -a peer_list <<<"$peers"
for p in "${peer_list[@]}"; do
	[ -x "$here/$p.sh" ] || { echo "run-peers: no peer '$p'" >&2; exit 1; }
done
[ -z "$quorate" ] || [ -r "$quorate" ] ||
	{ echo "run-peers: cannot read $quorate" >&2; exit 1; }

work=$(mktemp -d /tmp/quorate-run-peers.XXXXXX)
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${peer_list[@]}"; do
		"$here/$p.sh" down 2>/dev/null || true
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

results=$work/results
: >"$results"
for ((r = 1; r <= runs; r++)); do
	for p in "${peer_list[@]}"; do
		"$here/$p.sh" down 2>/dev/null || true # a stale cluster
		if ! "$here/$p.sh" up 2>"$work/up.err"; then
			cat "$work/up.err" >&2
			echo "peer=$p op=up run=$r failed=1" | tee -a "$results"
			continue
		fi
		"$here/$p.sh" bench "${bench_args[@]}" | sed "s/\$/ run=$r/" |
			tee -a "$results" || true
		"$here/$p.sh" down
	done
done
[ -z "$out" ] || cp "$results" "$out"

# Medians per (peer, op) of each field, over the runs (and over quorate's
# lines). Input: key=value lines; output: "peer op field median" lines.
medians() {
	awk '
	{
		delete f
		for (i = 1; i <= NF; i++) {
			eq = index($i, "=")
			if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
		}
		if (!("ops_per_s" in f)) next
		k = f["peer"] " " f["op"]
		if (!(k in n)) order[++nk] = k
		n[k]++
		split("clients ops_per_s p50_us p90_us p99_us p999_us errors", names)
		for (j in names) v[k, names[j], n[k]] = f[names[j]] + 0
	}
	END {
		split("clients ops_per_s p50_us p90_us p99_us p999_us errors", names)
		for (o = 1; o <= nk; o++) {
			k = order[o]
			for (j = 1; j <= 7; j++) {
				m = n[k]
				for (i = 1; i <= m; i++) a[i] = v[k, names[j], i]
				# insertion sort: m is small (runs)
				for (i = 2; i <= m; i++) {
					x = a[i]
					for (l = i - 1; l >= 1 && a[l] > x; l--)
						a[l + 1] = a[l]
					a[l + 1] = x
				}
				med = m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
				print k, names[j], med, m
			}
		}
	}' "$@"
}

echo
echo "Medians over $runs run(s); durable writes, then reads; latency in us:"
printf '%-10s %-6s %8s %10s %8s %8s %8s %8s %7s\n' peer op clients ops/s \
	p50 p90 p99 p99.9 errors
medians "$results" | awk '
	{ k = $1 " " $2; val[k, $3] = $4; if (!(k in seen)) { seen[k]; ord[++n] = k } }
	END {
		for (i = 1; i <= n; i++) {
			split(ord[i], kk, " ")
			printf "%-10s %-6s %8d %10.0f %8.0f %8.0f %8.0f %8.0f %7.0f\n",
				kk[1], kk[2], val[ord[i], "clients"],
				val[ord[i], "ops_per_s"], val[ord[i], "p50_us"],
				val[ord[i], "p90_us"], val[ord[i], "p99_us"],
				val[ord[i], "p999_us"], val[ord[i], "errors"]
		}
	}'
if grep -q 'failed=1' "$results"; then
	echo "(cluster start failed: $(grep 'failed=1' "$results" |
		sed 's/.*peer=\([^ ]*\).*/\1/' | sort -u | tr '\n' ' '))"
fi

if [ -n "$quorate" ]; then
	echo
	echo "quorate / peer (ops/s: >1 is quorate faster; latency: <1 is" \
		"quorate faster):"
	printf '%-10s %-6s %10s %8s %8s\n' peer op ops/s p50 p99
	{
		medians "$quorate" | sed 's/^[^ ]* /quorate /'
		medians "$results"
	} | awk '
	{ val[$1, $2, $3] = $4; if ($1 != "quorate" && !(($1, $2) in seen)) { seen[$1, $2]; ord[++n] = $1 " " $2 } }
	function ratio(q, p) { return p > 0 ? sprintf("%.2f", q / p) : "-" }
	END {
		for (i = 1; i <= n; i++) {
			split(ord[i], kk, " ")
			p = kk[1]; o = kk[2]
			if (!(("quorate", o, "ops_per_s") in val)) continue
			printf "%-10s %-6s %10s %8s %8s\n", p, o,
				ratio(val["quorate", o, "ops_per_s"], val[p, o, "ops_per_s"]),
				ratio(val["quorate", o, "p50_us"], val[p, o, "p50_us"]),
				ratio(val["quorate", o, "p99_us"], val[p, o, "p99_us"])
		}
	}'
fi
