#!/bin/bash
# SPDX-License-Identifier: MIT
# Bounded libFuzzer run: run-fuzz.sh FUZZER SECONDS SEED_CORPUS_DIR
# New inputs go to a scratch corpus that is removed afterwards, so the seed
# corpus in the tree never changes. Exit status: non-zero on a crash, a leak,
# a sanitizer report or a slow input.
set -u
fuzzer=$(realpath "$1") seconds=$2 seeds=$(realpath "$3")
work=$(mktemp -d "${TMPDIR:-/tmp}/qr-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work" || exit 1
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/" "$seeds" \
	>"$work/log" 2>&1
status=$?
tail -n 25 "$work/log"
for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
	[ -e "$a" ] || continue
	echo "fuzz: artifact $(basename "$a"):"
	od -A d -t x1 "$a" | head -n 20
	exit 1
done
if ! grep -q "Done [0-9]* runs" "$work/log"; then
	echo "fuzz: the fuzzer did not finish its run"
	exit 1
fi
exit $status
