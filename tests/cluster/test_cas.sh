#!/bin/bash
# SPDX-License-Identifier: MIT
# Linearizable operations (CASPaxos) on a 3-node af_packet cluster, through
# the CLI:
#  1. the username registration race: 9 clients (3 per coordinator node)
#     race `put --if-absent` on the same keys at once. Per key exactly one
#     winner (OK), the one a linearizable read names; every other answer is
#     PRECONDITION_FAILED (exit 6) with the current version. A client whose
#     answer was UNAVAILABLE (two proposers duelled: the outcome is unknown
#     to it, as in CASPaxos) asks with a linearizable read, as a real
#     registration client would, and counts as winner or loser by what it
#     reads; such answers are counted and must stay rare;
#  2. compare-and-set on the version: the stale version loses;
#  3. partition 0 / 1,2: requests coordinated by node 0 (the minority)
#     answer UNAVAILABLE; the majority still decides (one winner, then
#     PRECONDITION_FAILED); after heal node 0 sees the majority's decision.
# Usage: test_cas.sh QUORATED QUORATE_CLI  (root; bounded; removes what it
# made). Only one local cluster can exist per host: waits (up to 10 min)
# for another test's bridge to go away, and never touches a cluster it did
# not bring up.
set -uo pipefail
[ $# = 2 ] || { echo "usage: $0 QUORATED CLI"; exit 1; }
export QUORATED=$(realpath "$1")
cli=$(realpath "$2")
QR_TEST_TIMEOUT_S=${QR_TEST_TIMEOUT_S:-780}
. "$(dirname "$0")/lib.sh"
qr_require_root
qr_test_init
cd "$QR_ROOT" || exit 1

# Someone else's cluster (another test, another worktree) may hold the
# fixed names: wait for it to go (up to 10 minutes), and try again when
# another test takes the slot between our look and our 'up' ('up' then
# refuses before it creates anything). QR_UP is set only once OUR 'up'
# succeeded, so teardown never runs 'down' on somebody else's cluster
# ('down' removes everything by name).
QR_RUN="$QR_TEST_TMP/run"
for ((t = 0; t < 600 && QR_UP == 0; t++)); do
	if ! ip link show qrbr0 >/dev/null 2>&1 &&
		! ip netns list 2>/dev/null | grep -q '^qr-n'; then
		# Not qr_cluster_up: its $(...) would wait for the daemons,
		# which keep the captured stdout open.
		if "$QR_CLUSTER" up 3 --profile af_packet --run-dir "$QR_RUN" \
			>"$QR_TEST_TMP/up.log" 2>&1; then
			QR_UP=1
			break
		fi
		grep -q "already up\|already routed" "$QR_TEST_TMP/up.log" ||
			qr_fail "tools/cluster up 3: $(tail -n 3 "$QR_TEST_TMP/up.log")"
	fi
	[ $((t % 30)) = 0 ] && qr_log "waiting for another cluster (qrbr0) to go"
	sleep 1
done
[ "$QR_UP" = 1 ] || qr_skip "the cluster slot stayed taken for 10 minutes"
c=$(tail -n 1 "$QR_TEST_TMP/up.log")
[ -f "$c" ] || qr_fail "no cluster file at '$c'"
out=$QR_TEST_TMP/out
mkdir -p "$out"
fails=0
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then
		qr_log "ok: $what"
	else
		qr_log "FAIL: $what"
		fails=$((fails + 1))
	fi
}
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
q() { timeout 20 "$cli" --cluster "$c" --json "$@"; }

# Every node answers stat and sees both peers UP.
ready() {
	local i st
	for i in 0 1 2; do
		st=$(timeout 5 "$cli" --cluster "$c" stat --node $i --json \
			2>/dev/null) || return 1
		grep -q '"state":"\(DOWN\|SUSPECT\)"' <<<"$st" && return 1
	done
	return 0
}
qr_wait 60 "every node up and seeing its peers" ready

# ---- 1. the registration race ---------------------------------------------
keys=6
clients=9
race_client() { # ID: put --if-absent on every key, one line per answer
	local id=$1 k o rc
	for ((k = 0; k < keys; k++)); do
		o=$(q --coordinator random --deadline-ms 3000 put --if-absent \
			"user-$k" "client-$id")
		rc=$?
		# An unknown outcome (a duel cut our accept short): what a
		# registration client does, ask who holds the name now.
		r=""
		if [ "$rc" = 4 ] || [ "$rc" = 5 ]; then
			r=$(q get --linearizable "user-$k" | json_field value)
		fi
		echo "$k $rc resolved=$r $o"
	done >"$out/race-$id"
}
pids=()
for ((i = 0; i < clients; i++)); do
	race_client "$i" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the watchdog is a child too
unknown=0
for ((k = 0; k < keys; k++)); do
	final=$(q get --linearizable "user-$k")
	val=$(json_field value <<<"$final")
	fver=$(json_field version <<<"$final")
	winner=${val#client-}
	# won: OK, or an unknown outcome that a linearizable read resolved
	# as ours; lost: PRECONDITION_FAILED, or resolved as someone else's.
	won=0 lost=0 unav=0 other=0 winner_rc=x prever_ok=1 winners=""
	for ((i = 0; i < clients; i++)); do
		line=$(grep "^$k " "$out/race-$i")
		rc=$(cut -d' ' -f2 <<<"$line")
		res=$(cut -d' ' -f3 <<<"$line")
		res=${res#resolved=}
		[ "$i" = "$winner" ] && winner_rc=$rc
		case $rc in
		0) won=$((won + 1)) winners="$winners $i" ;;
		6) lost=$((lost + 1))
		   # the loser learns the current version
		   v=$(json_field hlc <<<"$line")
		   [ -n "$v" ] && [ "$v" != 0 ] || prever_ok=0 ;;
		4 | 5) unav=$((unav + 1))
		   if [ "$res" = "client-$i" ]; then
			   won=$((won + 1)) winners="$winners $i"
		   elif [ -n "$res" ]; then
			   lost=$((lost + 1))
		   else
			   other=$((other + 1))
		   fi ;;
		*) other=$((other + 1)) ;;
		esac
	done
	unknown=$((unknown + unav))
	check "user-$k: a linearizable read names a racer ($val, $fver)" \
		test -n "$val" -a "$val" != "${val#client-}"
	check "user-$k: exactly one winner ($winners ), the one the read names ($winner, rc $winner_rc)" \
		test "$won" = 1 -a "$winners" = " $winner"
	check "user-$k: every other client lost: PRECONDITION_FAILED (lost=$lost, of which $unav first unknown; other=$other)" \
		test "$other" = 0 -a "$lost" = $((clients - 1))
	check "user-$k: PRECONDITION_FAILED carries the current version" \
		test "$prever_ok" = 1
done
qr_log "race: $((keys * clients)) answers, $unknown with an unknown outcome"
# With three coordinators contending, conflicts are rare: most keys must
# have had a plain OK winner and 8 PRECONDITION_FAILED.
check "race: unknown outcomes are the exception ($unknown of $((keys * clients)))" \
	test "$unknown" -le $((keys * clients / 4))

# ---- 2. compare-and-set ----------------------------------------------------
# (plain ops still work with the longer CLIENT_REQ)
o=$(q put plain-k pv); rc=$?
check "plain put ($rc)" test "$rc" = 0
o=$(q get plain-k)
check "plain get sees it ($o)" grep -q '"value":"pv"' <<<"$o"
o=$(q put --if-absent cas-k v1); rc=$?
v1=$(json_field version <<<"$o")
check "cas-k created ($rc, $v1)" test "$rc" = 0 -a -n "$v1"
o=$(q put --if-version "$v1" cas-k v2); rc=$?
v2=$(json_field version <<<"$o")
check "put --if-version with the current version wins ($rc, $v2)" \
	test "$rc" = 0 -a -n "$v2" -a "$v2" != "$v1"
o=$(q put --if-version "$v1" cas-k v3); rc=$?
cur=$(json_field version <<<"$o")
check "the stale version loses: PRECONDITION_FAILED, exit 6 ($rc, current $cur)" \
	test "$rc" = 6 -a -n "$cur"
o=$(q get --linearizable cas-k)
check "linearizable get sees v2 ($o)" grep -q '"value":"v2"' <<<"$o"
# plain output and exit code of the CLI on a failed precondition
msg=$(timeout 20 "$cli" --cluster "$c" put --if-absent cas-k x 2>&1); rc=$?
check "plain CLI: exit 6 and the current version on stderr ($msg)" \
	bash -c "[ $rc = 6 ] && grep -q 'PRECONDITION_FAILED (current version [0-9]*\.[0-9]*)' <<<'$msg'"
o=$(q del --if-version "$cur" cas-k); rc=$?
check "del --if-version with the current version ($rc)" test "$rc" = 0
o=$(q get --linearizable cas-k); rc=$?
check "deleted: NOT_FOUND (exit 3)" test "$rc" = 3

# ---- 3. partition: the minority answers UNAVAILABLE -------------------------
qr_cluster partition 0/1,2 >/dev/null 2>&1 || qr_fail "partition 0/1,2"
# Let node 0's detector see its peers DOWN (fail fast), and the others it.
sleep 1.5
min_unav=0 min_other=0 maj_ok=0 maj_pre=0 maj_other=0 winner=""
for ((t = 0; t < 40; t++)); do
	o=$(q --coordinator random --retries 0 --deadline-ms 1500 \
		put --if-absent part-k "try-$t")
	rc=$?
	coord=$(json_field coordinator <<<"$o")
	case "$coord:$rc" in
	0:4) min_unav=$((min_unav + 1)) ;;
	0:*) min_other=$((min_other + 1)) ;;
	[12]:0) maj_ok=$((maj_ok + 1)) winner="try-$t" ;;
	[12]:6) maj_pre=$((maj_pre + 1)) ;;
	*) maj_other=$((maj_other + 1)) ;;
	esac
done
qr_log "partition: node 0 answered UNAVAILABLE $min_unav times, else" \
	"$min_other; nodes 1,2: OK $maj_ok, PRECONDITION $maj_pre, else $maj_other"
check "the minority (node 0) coordinated some requests" test "$min_unav" -gt 0
check "the minority only answers UNAVAILABLE" test "$min_other" = 0
check "the majority decided once: one OK" test "$maj_ok" = 1
check "the majority: every later try PRECONDITION_FAILED" \
	test "$maj_pre" -gt 0 -a "$maj_other" = 0
# The majority reads its decision (a read coordinated by node 0 answers
# UNAVAILABLE: try until node 1 or 2 coordinates one).
maj_read=""
for ((t = 0; t < 40; t++)); do
	o=$(q --coordinator random --retries 0 --deadline-ms 1500 \
		get --linearizable part-k)
	case $(json_field coordinator <<<"$o") in
	1 | 2) maj_read=$(json_field value <<<"$o"); break ;;
	esac
done
check "the majority reads its winner ($maj_read = ${winner:-none})" \
	test -n "$maj_read" -a "$maj_read" = "${winner:-none}"
qr_cluster heal >/dev/null 2>&1 || qr_fail "heal"
qr_wait 30 "every node up again after heal" ready
seen="" last0="(node 0 coordinated none)"
for ((t = 0; t < 40; t++)); do
	[ -z "$seen" ] || break
	o=$(q --coordinator random --retries 0 get --linearizable part-k)
	[ "$(json_field coordinator <<<"$o")" = 0 ] || continue
	last0=$o
	seen=$(json_field value <<<"$o")
	[ -n "$seen" ] || sleep 0.2
done
check "after heal node 0 reads the majority's winner ($seen = $winner; $last0)" \
	test -n "$seen" -a "$seen" = "$winner"

[ "$fails" = 0 ] || qr_fail "$fails check(s) failed"
qr_pass "registration race, compare-and-set, minority UNAVAILABLE"
