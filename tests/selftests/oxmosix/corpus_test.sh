#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# corpus_test: every kind of process state survives migration. Each case of `corpus` (this
# directory; `corpus list` names them) sets up one kind of state (memory, descriptors, timers,
# signals, identity, CPU time, ...) and checks it twice when asked. Each case runs twice on node
# 1: unmigrated (both checks at home), then migrated 1 -> 2 -> 3, checked on node 3, brought home
# and checked again. While it is away its /proc/PID/cmdline at home must still be its own.
# Cases whose check makes a call that runs at home (the corpus marks them "home": getpriority,
# prctl, getsockname, POSIX timers) must be at home after that check, having come home for it.
# Cases the corpus marks as refused (a documented `cantmove` reason) must be refused with that
# reason, stay home, and pass both checks there. KTAP output, one result per case; runs on node 1
# of 3 (skips with fewer nodes).
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=$("$here/corpus" list | wc -l)
. "$here/ktap.sh"

for k in $(seq 1 "$nodes"); do on "$k" stay || log "node $k: stay not set"; done

# waitline FILE TEXT: waits (at most 120 s) until FILE has a line starting with TEXT.
waitline() {
	for i in $(seq 1 1200); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# move PID NODE: migrates PID to NODE (a node id or home) and checks where it runs then.
move() {
	want=$2
	[ "$2" = home ] && want=$node
	out=$(migrate "$1" "$2" 2>&1) || { log "migrate $1 $2: $out"; return 1; }
	w=$(mosctl where "$1" 2>/dev/null)
	[ "$w" = "$want" ] || { log "pid $1 on node '$w' after migrate $1 $2"; return 1; }
}

# stop PID: ends a case that went wrong.
stop() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# run_case NAME EXPECT
run_case() {
	name=$1
	expect=$2
	base=/tmp/corpus/$name
	rm -rf "$base"
	mkdir -p "$base/plain" "$base/moved"
	# Unmigrated.
	d=$base/plain
	corpus run "$name" "$d" > "$d/out" 2>&1 &
	p=$!
	waitline "$d/out" ready && touch "$d/go1" && waitline "$d/out" "check 1" && touch "$d/go2"
	wait "$p"
	rc=$?
	if [ $rc != 0 ]; then
		log "$name unmigrated: exit $rc: $(tr '\n' '|' < "$d/out")"
		bad "$name: fails unmigrated"
		return
	fi
	# Migrated, or refused.
	d=$base/moved
	corpus run "$name" "$d" > "$d/out" 2>&1 &
	p=$!
	if ! waitline "$d/out" ready; then
		log "$name: not ready: $(tr '\n' '|' < "$d/out")"
		stop "$p"
		bad "$name: did not start"
		return
	fi
	how=
	if [ "$expect" = - ] || [ "$expect" = home ]; then
		if ! move "$p" 2 || ! move "$p" 3; then
			stop "$p"
			bad "$name: did not move 1 -> 2 -> 3"
			return
		fi
		cmd=$(tr '\0' ' ' < "/proc/$p/cmdline")
		if [ "$cmd" != "corpus run $name $d " ]; then
			log "$name: /proc/$p/cmdline at home reads '$cmd' while away"
			stop "$p"
			bad "$name: /proc/PID/cmdline at home"
			return
		fi
		touch "$d/go1"
		waitline "$d/out" "check 1"
		w=$(mosctl where "$p" 2>/dev/null)
		if [ "$expect" = home ]; then
			# Its check made a call that runs at home: it came home for it.
			[ "$w" = "$node" ] || how="on node '$w' after a check whose calls go home; "
			how="${how}moved 1 -> 2 -> 3, its check's calls brought it home"
		else
			[ "$w" = 3 ] || how="checked on node '$w', not 3; "
			move "$p" home || how="${how}did not come home; "
			how="${how}moved 1 -> 2 -> 3 -> home"
		fi
	else
		out=$(migrate "$p" 2 2>&1)
		mrc=$?
		w=$(mosctl where "$p" 2>/dev/null)
		case "$out" in
		*"$expect"*) [ $mrc != 0 ] && [ "$w" = "$node" ] && how="refused: $expect" ;;
		esac
		[ -n "$how" ] || how="not refused as expected ('$expect'): exit $mrc, '$out', on node '$w'; "
		touch "$d/go1"
		waitline "$d/out" "check 1"
	fi
	touch "$d/go2"
	wait "$p"
	rc=$?
	case "$how" in
	*"; "*) ;;
	*) if [ $rc = 0 ] && grep -q "^check 1 ok" "$d/out" && grep -q "^check 2 ok" "$d/out"; then
		ok "$name: passes unmigrated and $how"
		return
	fi ;;
	esac
	log "$name: $how exit $rc: $(tr '\n' '|' < "$d/out")"
	log "node 1: $(migration_log 1)"
	bad "$name"
}

t0=$(now)
"$here/corpus" list > /tmp/corpus.list
while IFS='	' read -r name expect; do
	run_case "$name" "$expect"
done < /tmp/corpus.list
log "$TOTAL cases in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"
ktap_end
