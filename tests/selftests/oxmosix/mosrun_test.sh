#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mosrun and runhome (Documentation/migration.md, Run modes), on node 1 of 3 nodes: each option
# does what it says, children inherit it, runhome never leaves. The program is `forker burn S`
# (forker.c: prints "burn PID start", spins S s of wall time, prints "burned"). Where a process
# runs is read with `mosctl where`; every node is set to `stay` (no automatic moves) except in the
# -b check, where node 1 is busy with two locked CPU hogs and free to place.
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=12
. "$here/ktap.sh"

for k in 1 2 3; do on "$k" stay || log "node $k: stay not set"; done
# Runs `mosrun ARGS forker burn S` in the background; waits until it started its program; sets
# $p (its pid) and $out (its output file).
start() {
	out=/tmp/mosrun-$n.out
	s=$1
	shift
	mosrun "$@" "$here/forker" burn "$s" > "$out" 2>&1 &
	p=$!
	for i in $(seq 1 100); do grep -q "burn $p start" "$out" 2>/dev/null && return 0; sleep 0.1; done
	log "no start: $(cat "$out")"
	return 1
}
finish() { wait "$p"; rc=$?; [ $rc = 0 ] && grep -q burned "$out"; }

start 4 -r 2 && w=$(mosctl where "$p") && finish && [ "$w" = 2 ] &&
	ok "mosrun -r 2: the program started on node 2 and ended well" ||
	bad "mosrun -r 2 (where ${w:-?}, exit ${rc:-?})"

start 4 -j 3 && w=$(mosctl where "$p") && finish && [ "$w" = 3 ] &&
	ok "mosrun -j 3: on node 3" || bad "mosrun -j 3 (where ${w:-?})"

start 4 -j 2-3 && w=$(mosctl where "$p") && finish && { [ "$w" = 2 ] || [ "$w" = 3 ]; } &&
	ok "mosrun -j 2-3: on node $w of the list" || bad "mosrun -j 2-3 (where ${w:-?})"

if start 6 -l -r 2; then
	w=$(mosctl where "$p")
	migrate "$p" home 2> /tmp/mosrun-err
	m=$?
	w2=$(mosctl where "$p")
	finish
	if [ "$w" = 2 ] && [ $m != 0 ] && [ "$w2" = 2 ] && [ $rc = 0 ]; then
		ok "mosrun -l -r 2: locked on node 2 ($(cat /tmp/mosrun-err))"
	else
		bad "mosrun -l -r 2 (where $w, then $w2, migrate exit $m)"
	fi
else
	bad "mosrun -l -r 2 did not start"
fi

# runhome: the shell and the program it forks and executes are locked at home.
out=/tmp/mosrun-home.out
runhome sh -c "$here/forker burn 6; echo shell done" > "$out" 2>&1 &
sh=$!
for i in $(seq 1 100); do grep -q "burn .* start" "$out" && break; sleep 0.1; done
child=$(sed -n 's/^burn \([0-9]*\) start/\1/p' "$out")
lk=$(mosctl procinfo "$child" 2>/dev/null | awk '$1 == "lock" { print $2 }')
migrate "$child" 2 2> /tmp/mosrun-err
m=$?
migrate "$sh" 2 2>> /tmp/mosrun-err
m2=$?
w=$(mosctl where "$child")
wait "$sh"
rc=$?
if [ -n "$child" ] && [ "$lk" = 1 ] && [ $m != 0 ] && [ $m2 != 0 ] && [ "$w" = 1 ] && [ $rc = 0 ] &&
	grep -q "shell done" "$out"; then
	ok "runhome: shell and child locked at home, migrate refused ($(head -1 /tmp/mosrun-err))"
else
	bad "runhome (child ${child:-?} lock ${lk:-?}, migrate exits $m $m2, where ${w:-?}, exit $rc)"
fi

# A shell started on node 2 forks two programs: they run on node 2 too, and `mps --children`
# at home shows the three of them there, the programs under the shell.
out=/tmp/mosrun-tree.out
mosrun -r 2 sh -c "$here/forker burn 6 & $here/forker burn 6 & wait; echo tree done" > "$out" 2>&1 &
sh=$!
for i in $(seq 1 100); do [ "$(grep -c "burn .* start" "$out")" = 2 ] && break; sleep 0.1; done
mps --children "$sh" > /tmp/mosrun-mps.txt 2>&1
mps --children "$sh" --json > /tmp/mosrun-mps.json 2>&1
wait "$sh"
rc=$?
kids=$(awk -v s="$sh" '$2 == s && $3 == 2 && $4 == 1 && /\\_ .*forker burn 6/' /tmp/mosrun-mps.txt | wc -l)
there=$(grep -o '"where":2' /tmp/mosrun-mps.json | wc -l)
if [ "$kids" = 2 ] && [ "$there" = 3 ] && grep -q '"depth":1' /tmp/mosrun-mps.json && [ $rc = 0 ] &&
	grep -q "tree done" "$out"; then
	ok "mosrun -r 2 sh: the shell's two children run on node 2 (mps --children)"
else
	bad "mosrun -r 2 sh (children on node 2 in mps: ${kids:-?}, where 2 in JSON: $there, exit $rc)"
	sed 's/^/# /' /tmp/mosrun-mps.txt
fi

mosrun -F -r 9 "$here/forker" burn 1 > /tmp/mosrun-f.out 2>&1
rf=$?
mosrun -r 9 "$here/forker" burn 1 > /tmp/mosrun-nf.out 2>&1
rn=$?
if [ $rf = 1 ] && ! grep -q burned /tmp/mosrun-f.out && [ $rn = 0 ] && grep -q burned /tmp/mosrun-nf.out; then
	ok "mosrun -F -r 9 fails ($(head -1 /tmp/mosrun-f.out)); without -F it runs here"
else
	bad "mosrun -F (exit $rf: $(cat /tmp/mosrun-f.out); without -F exit $rn)"
fi

# -b: node 1 busy with two CPU hogs locked at home, placement otherwise off.
runhome "$here/forker" burn 30 > /dev/null 2>&1 &
h1=$!
runhome "$here/forker" burn 30 > /dev/null 2>&1 &
h2=$!
on 1 nostay || log "node 1: nostay failed"
sleep 3
start 4 -b && w=$(mosctl where "$p") && finish && { [ "$w" = 2 ] || [ "$w" = 3 ]; } &&
	ok "mosrun -b: a busy node 1 started it on node $w (exec_place $(cat /proc/hpc/admin/exec_place))" ||
	bad "mosrun -b (where ${w:-?}; $(migration_log 1))"

# -L: no automatic moves while the balancer is free and node 1 busy.
start 8 -L && sleep 6 && w=$(mosctl where "$p") && finish && [ "$w" = 1 ] &&
	ok "mosrun -L: stayed on busy node 1 for 6 s with the balancer free" ||
	bad "mosrun -L (where ${w:-?}; $(migration_log 1))"
kill "$h1" "$h2" 2> /dev/null
wait "$h1" "$h2" 2> /dev/null
on 1 stay

# The files a program maps travel by name (Documentation/migration.md, Files an image maps):
# `crunch` (a static program of about 190 pages) placed on node 2, which holds the same file,
# is mapped there, not sent; a copy only node 1 has (its /tmp) travels with its pages. Either way
# the output is the one at home.
counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/hpc/info/migration; }
snap() { echo "$(counter files_named) $(counter files_held) $(counter pages_mapped) $(counter pages_out)"; }
delta() { echo "$2" | awk -v a="$1" '{ split(a, x, " "); printf "%d %d %d %d", $1 - x[1], $2 - x[2], $3 - x[3], $4 - x[4] }'; }
"$here/crunch" 3 30000000 > /tmp/mosrun-crunch.home
s0=$(snap)
mosrun -r 2 "$here/crunch" 3 30000000 > /tmp/mosrun-crunch.away
d=$(delta "$s0" "$(snap)")
set -- $d
if [ "$1" -ge 1 ] && [ "$2" = "$1" ] && [ "$3" -ge 100 ] && [ "$4" -le 40 ] &&
	cmp -s /tmp/mosrun-crunch.home /tmp/mosrun-crunch.away; then
	ok "a program node 2 holds: $3 pages mapped there, $4 sent, output identical"
else
	bad "a program node 2 holds (named, held, mapped, sent: $d; output $(cat /tmp/mosrun-crunch.away))"
fi
cp "$here/crunch" /tmp/mosrun-crunch
s0=$(snap)
mosrun -r 2 /tmp/mosrun-crunch 3 30000000 > /tmp/mosrun-crunch.copy
d=$(delta "$s0" "$(snap)")
set -- $d
if [ "$1" -ge 1 ] && [ "$2" = 0 ] && [ "$4" -ge 100 ] &&
	cmp -s /tmp/mosrun-crunch.home /tmp/mosrun-crunch.copy; then
	ok "a program only node 1 holds: named, not held by node 2, its $4 pages sent, output identical"
else
	bad "a program only node 1 holds (named, held, mapped, sent: $d; output $(cat /tmp/mosrun-crunch.copy))"
fi
rm -f /tmp/mosrun-crunch*
# Coming home, the same in the other direction: node 2 names the files of a program placed there.
snap2() {
	agent 2 "hpc?info/migration" |
		awk '{ v[$1] = $2 } END { printf "%d %d %d %d", v["files_named"], v["files_held"], v["pages_mapped"], v["pages_out"] }'
}
if start 8 -r 2; then
	s0=$(snap2)
	migrate "$p" home 2> /tmp/mosrun-err
	m=$?
	d=$(delta "$s0" "$(snap2)")
	w=$(mosctl where "$p")
	finish
	set -- $d
	if [ $m = 0 ] && [ "$w" = 1 ] && [ $rc = 0 ] && [ "$1" -ge 1 ] && [ "$2" = "$1" ] && [ "$3" -ge 100 ]; then
		ok "coming home from node 2: $3 pages mapped at home, $4 sent, the program ended well"
	else
		bad "coming home (migrate $m, where ${w:-?}, exit ${rc:-?}; node 2 named, held, mapped, sent: $d)"
	fi
else
	bad "coming home: the program did not start"
fi
ktap_end
