#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# soak_test: processes migrating at random between 3 nodes while links flap. For SECS seconds
# (120; `oxsoak=SECS` on the kernel command line sets another, `make soak` runs 600) node 1 keeps
# six self-checking migrants running (each fills 4 MiB with a pattern and checks it and its
# registers continuously; exit 0 only if all stayed intact), moves a random one to a random node
# (or home) every ~0.7 s, and every 8-15 s either takes node 2's or node 3's link down for 2 s
# (shorter than the node timeout; TCP rides it out) or arms node 1's fault injection to cut its link
# for 2 s at the next commit or move home (the connection closes: frames are sent again on the
# next one). Checks: every `migrate` returns (none hangs past 60 s); every migrant
# ends within its time plus 60 s, with exit 0 (or SIGKILL, counted and reported: a defined outcome,
# never a wrong result); no record is left on any node; every node's MemFree and Slab are back
# near their levels before the soak. KTAP output; runs on node 1 of 3 (skips with fewer nodes).
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=5
. "$here/ktap.sh"

SECS=$(sed -n 's/.*oxsoak=\([0-9]*\).*/\1/p' /proc/cmdline)
SECS=${SECS:-120}
for k in $(seq 1 "$nodes"); do on "$k" stay || log "node $k: stay not set"; done

# mem K: "MemFree Slab" of node K in KiB.
mem() {
	if [ "$1" = 1 ]; then cat /proc/meminfo; else agent "$1" meminfo; fi |
		awk '$1 == "MemFree:" { f = $2 } $1 == "Slab:" { s = $2 } END { print f, s }'
}
# rand N: a random number in 0..N-1.
rand() { awk -v n="$1" -v s="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN { srand(s); print int(rand() * n) }'; }

# A first round trip per node, so that caches the module fills once are in the baseline.
migrant -q -m 4 -t 30 -p > /dev/null 2>&1 &
w=$!
sleep 0.3
for k in 2 3 home; do migrate "$w" "$k" > /dev/null 2>&1 || log "warm-up move to $k failed"; done
kill "$w"; wait "$w" 2>/dev/null
sleep 3
for k in 1 2 3; do eval "base$k=\"$(mem $k)\""; done
log "soak for $SECS s; baseline (MemFree Slab KiB): node 1 $base1, node 2 $base2, node 3 $base3"

# Link flaps, in the background until the soak ends.
end=$(awk -v t="$(now)" -v s="$SECS" 'BEGIN { printf "%d", t + s }')
(
	flaps=0
	while [ "$(now | cut -d. -f1)" -lt "$end" ]; do
		sleep $((8 + $(rand 8)))
		[ "$(now | cut -d. -f1)" -lt "$end" ] || break
		k=$((2 + $(rand 2)))
		case $((flaps % 4)) in
		1) echo "commit 2" > /proc/hpc/admin/fault && flaps=$((flaps + 1)) ;;
		3) echo "answered 2" > /proc/hpc/admin/fault && flaps=$((flaps + 1)) ;;
		*) agent "$k" "cut?2" > /dev/null && flaps=$((flaps + 1)) ;;
		esac
	done
	echo off > /proc/hpc/admin/fault
	echo "$flaps" > /tmp/soak.flaps
) &
flapper=$!

# Jobs: file /tmp/soak.jobs has "PID DEADLINE" lines (deadline: its run time plus 60 s); $running
# the pids of those not seen ended yet.
: > /tmp/soak.jobs
running=
spawn() {
	t=$((10 + $(rand 20)))
	migrant -q -m 4 -t "$t" -p > /dev/null 2>&1 &
	running="$running $!"
	echo "$! $(awk -v t="$(now)" -v r="$t" 'BEGIN { printf "%d", t + r + 60 }')" >> /tmp/soak.jobs
}
# alive PID: whether the job still runs (a zombie not yet reaped counts as ended).
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null; }
# live: prunes $running to the jobs still running.
live() {
	l=
	for p in $running; do alive "$p" && l="$l $p"; done
	running=$l
}

calls=0 okmoves=0 hung=0 slowest=0
while [ "$(now | cut -d. -f1)" -lt "$end" ]; do
	live
	set -- $running
	while [ $# -lt 6 ]; do spawn; set -- $running; done
	p=$(eval echo "\${$(( $(rand $#) + 1 ))}")
	case $(rand 3) in 0) to=home ;; 1) to=2 ;; *) to=3 ;; esac
	t0=$(now)
	timeout 60 migrate "$p" "$to" > /dev/null 2>&1
	rc=$?
	d=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%d", b - a + 0.5 }')
	calls=$((calls + 1))
	[ "$rc" = 0 ] && okmoves=$((okmoves + 1))
	[ "$rc" = 124 ] && { hung=$((hung + 1)); log "migrate $p $to did not return within 60 s"; }
	[ "$d" -gt "$slowest" ] && slowest=$d
	sleep 0.$((3 + $(rand 5)))
done
wait "$flapper"
log "node 1 link counters: $(grep -E '^(connects|reconnects|resent|queued|delivery_duplicates|delivery_gaps|ring_full) ' /proc/hpc/info/counters | tr '\n' ' ')"
if [ "$hung" = 0 ]; then
	ok "$calls migrate calls during $SECS s of flapping links ($(cat /tmp/soak.flaps) flaps) all returned ($okmoves moved, slowest $slowest s)"
else
	bad "$hung of $calls migrate calls hung"
fi

# Every job ends by its deadline, and its exit status is collected.
late=0
: > /tmp/soak.status
while read -r p dl; do
	while alive "$p" && [ "$(now | cut -d. -f1)" -lt "$dl" ]; do sleep 0.5; done
	if alive "$p"; then
		late=$((late + 1))
		log "migrant $p still runs past its deadline: $(proc_state "$p")"
		kill -9 "$p"
	fi
	wait "$p"
	echo "$?" >> /tmp/soak.status
done < /tmp/soak.jobs
jobs=$(wc -l < /tmp/soak.jobs)
good=$(grep -cx 0 /tmp/soak.status)
killed=$(grep -cx 137 /tmp/soak.status)
wrong=$(grep -cvxE '0|137' /tmp/soak.status)
if [ "$late" = 0 ]; then ok "all $jobs migrants ended by their deadline"; else bad "$late migrants hung"; fi
if [ "$wrong" = 0 ] && [ "$good" -gt 0 ]; then
	ok "$good migrants completed with memory and registers intact, $killed ended by SIGKILL, none wrong"
else
	log "exit statuses: $(sort /tmp/soak.status | uniq -c | tr '\n' ' ')"
	bad "$wrong migrants ended wrong"
fi

# Nothing left behind: no record on any node, memory back near the baseline.
for i in $(seq 1 100); do grep -q '^up' /proc/hpc/nodes/2/status && grep -q '^up' /proc/hpc/nodes/3/status && break; sleep 0.2; done
sleep 5
stale=0
for k in 1 2 3; do
	if [ "$k" = 1 ]; then l=$(cat /proc/hpc/procs); else l=$(agent "$k" "hpc?procs"); fi
	left=$(printf '%s\n' "$l" | awk '$NF == "migrant" && ($6 == "deputy" || $6 == "guest" || $6 == "migrating")' | wc -l)
	[ "$left" = 0 ] || { stale=1; log "node $k still lists: $(printf '%s\n' "$l" | grep migrant | tr '\n' '|')"; }
done
if [ "$stale" = 0 ]; then ok "no record left on any node"; else bad "stale records"; fi
grew=0
for k in 1 2 3; do
	eval "b=\$base$k"
	set -- $b $(mem $k)
	log "node $k: MemFree $1 -> $3 KiB ($(($3 - $1))), Slab $2 -> $4 KiB (+$(($4 - $2)))"
	# 8 MiB of free memory and 2 MiB of slab are the slack for page cache and logs.
	[ $(($1 - $3)) -le 8192 ] && [ $(($4 - $2)) -le 2048 ] || grew=1
done
if [ "$grew" = 0 ]; then ok "MemFree and Slab back near the baseline on every node"; else bad "memory not back to baseline"; fi
ktap_end
