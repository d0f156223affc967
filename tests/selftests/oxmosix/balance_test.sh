#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# balance_test: automatic load balancing, "fork and forget". CPU-bound jobs (busybox awk number
# crunchers nobody here wrote) are started on node 1 and nothing else is done: the balancers must
# spread them over the cluster, keep their output identical to an unmigrated run, and obey every
# policy knob (stay, block, lock, expel, bring) while they run. An I/O job stays home; a process
# that pushes node 1 below its memory ushering threshold is moved to a node with room.
# KTAP output; runs on node 1 of 3 (skips otherwise). Must run before transparency_test (which
# kills node 2 at its end).
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=9
. "$here/ktap.sh"

# Every node balances, accepts guests, and has the default ushering threshold.
for k in $(seq 1 "$nodes"); do
	on "$k" nostay || log "node $k: nostay failed"
	on "$k" noblock || log "node $k: noblock failed"
done
mosctl setusher 32768

# job K N: a CPU-bound number cruncher; prints "K checksum". It execs awk, so started with `&`
# its pid ($!) is the awk process itself; in the foreground run it in a subshell.
job() {
	exec awk -v k="$1" -v n="$2" 'BEGIN { s = k; for (i = 1; i <= n; i++) s = (s * 31 + i * k) % 1000003; print k, s }'
}

# watch FILE PID...: every 0.5 s appends "PID NODE" for each live PID to FILE, until all ended.
watch() {
	f=$1
	shift
	: > "$f"
	while :; do
		alive=0
		for p in "$@"; do
			# Ended (a zombie until the shell's wait reaps it) or gone.
			grep -q '^State:.*[ZX]' "/proc/$p/status" 2>/dev/null && continue
			w=$(mosctl where "$p" 2>/dev/null) || continue
			alive=1
			echo "$p $w $(now)" >> "$f"
		done
		[ $alive = 1 ] || break
		sleep 0.5
	done
}
# moves_log FILE: for each job, where it was seen and since when ("pid: 1@0.0 2@3.4 ...", seconds
# since the first line).
moves_log() {
	awk 'NR == 1 { t0 = $3 } { if (!($1 in last) || last[$1] != $2) { s[$1] = s[$1] " " $2 "@" sprintf("%.1f", $3 - t0); last[$1] = $2 } }
		END { for (p in s) print "# " p ":" s[p] }' "$1"
}
# node_log K: node K's balancer decisions (its kernel log through the agent).
node_log() { agent "$1" dmesg | grep 'balance' | tail -20 | sed "s/^/# node $1: /"; }
# nodes_seen FILE: the sorted set of nodes any job was seen on.
nodes_seen() { awk '{ print $2 }' "$1" | sort -u | tr '\n' ' '; }
# max_moves FILE: most changes of node seen for one job.
max_moves() {
	awk '{ if ($1 in last && last[$1] != $2) m[$1]++; last[$1] = $2 } END { x = 0; for (p in m) if (m[p] > x) x = m[p]; print x }' "$1"
}

# Calibrate: N iterations for about 5 s of CPU here (alone, nothing moves a lone job).
t0=$(now)
(job 1 100000) > /dev/null
t1=$(now)
N=$(awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.05) d = 0.05; printf "%d", 100000 * 5 / d }')
log "calibration: 100000 iterations in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s; N=$N"

# 1. Fork and forget: 6 jobs started on node 1 spread over all three nodes, with the same output
# as unmigrated runs (made first, with stay), and no job moves more than 3 times.
on 1 stay
t0=$(now)
for k in 1 2 3 4 5 6; do job $k "$N" > "/tmp/bal$k.ref" & done
wait
t1=$(now)
on 1 nostay || log "node 1: nostay failed (stay may still be set)"
pids=
for k in 1 2 3 4 5 6; do
	job $k "$N" > "/tmp/bal$k.out" &
	pids="$pids $!"
done
t2=$(now)
watch /tmp/bal.where $pids
wait
t3=$(now)
same=0
for k in 1 2 3 4 5 6; do cmp -s "/tmp/bal$k.ref" "/tmp/bal$k.out" && same=$((same + 1)); done
seen=$(nodes_seen /tmp/bal.where)
moves=$(max_moves /tmp/bal.where)
ref=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
bal=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.1f", b - a }')
log "6 jobs: nodes seen: $seen; identical outputs: $same/6; most moves of one job: $moves; makespan $bal s balanced, $ref s with stay"
if [ "$seen" = "1 2 3 " ] && [ $same = 6 ] && [ "$moves" -le 3 ]; then
	ok "fork and forget: 6 jobs from node 1 ran on nodes $seen, outputs identical, at most $moves moves each"
else
	bad "fork and forget"
fi
moves_log /tmp/bal.where
for k in 1 2 3; do node_log $k; done

# 2. stay on node 1: nothing leaves it.
on 1 stay
before=$(awk '$1 == "balance_load" { print $2 }' /proc/hpc/info/migration)
pids=
for k in 1 2 3; do job $k $((N / 2)) > /dev/null & pids="$pids $!"; done
watch /tmp/stay.where $pids
wait
after=$(awk '$1 == "balance_load" { print $2 }' /proc/hpc/info/migration)
on 1 nostay || log "node 1: nostay failed (stay may still be set)"
if [ "$(nodes_seen /tmp/stay.where)" = "1 " ] && [ "$before" = "$after" ]; then
	ok "stay: 3 jobs stayed on node 1"
else
	log "nodes seen: $(nodes_seen /tmp/stay.where); balancer moves $before -> $after"
	bad "stay"
fi

# 3. block on node 3: guests go to node 2 only.
on 3 block || log "node 3: block failed"
pids=
for k in 1 2 3 4; do job $k $((N / 2)) > /dev/null & pids="$pids $!"; done
watch /tmp/block.where $pids
wait
on 3 noblock
seen=$(nodes_seen /tmp/block.where)
if [ "$seen" = "1 2 " ]; then ok "block on node 3: 4 jobs ran on nodes $seen only"; else log "nodes seen: $seen; node 1 admin/stay $(cat /proc/hpc/admin/stay)"; node_log 1; bad "block"; fi

# 4. lock keeps one process home while others move.
job 9 "$N" > /dev/null &
locked=$!
mosctl lock "$locked"
pids=
for k in 1 2 3; do job $k $((N / 2)) > /dev/null & pids="$pids $!"; done
watch /tmp/lock.where $locked $pids
wait
lseen=$(awk -v p="$locked" '$1 == p { print $2 }' /tmp/lock.where | sort -u | tr '\n' ' ')
seen=$(nodes_seen /tmp/lock.where)
if [ "$lseen" = "1 " ] && [ "$seen" != "1 " ]; then
	ok "lock: the locked job stayed home, the others ran on nodes $seen"
else
	log "locked job seen on: $lseen; all jobs: $seen"
	bad "lock"
fi

# 5. expel on node 2 and bring on node 1 work while the balancers run: every job node 2 hosted
# comes home (the balancer may send it out again later), and after bring every job is home.
pids=
for k in 1 2 3 4; do job $k $((N * 2)) > /dev/null & pids="$pids $!"; done
on2=
for i in $(seq 1 60); do
	for p in $pids; do [ "$(mosctl where "$p" 2>/dev/null)" = 2 ] && on2="$on2 $p"; done
	[ -n "$on2" ] && break
	sleep 0.5
done
on 2 expel
ex=0
for p in $on2; do
	back=1
	for i in $(seq 1 50); do [ "$(mosctl where "$p" 2>/dev/null)" = 1 ] && { back=0; break; }; sleep 0.1; done
	[ $back = 0 ] || ex=1
done
# Bring: every job away when it is asked comes home. The balancer runs on, so a job may leave
# again right after bring returned: then it has moved at least twice more (home, out again), or
# it is leaving right now (state migrating: `where` names the target before the commit). Each
# look is one PROCINFO (where, state and nmigs of one moment).
look() { mosctl procinfo "$1" 2>/dev/null | awk '{ v[$1] = $2 } END { print v["where"], v["state"], v["nmigs"] }'; }
away=
for p in $pids; do
	set -- $(look "$p")
	[ "$2" = deputy ] && away="$away $p:$3"
done
mosctl bring
br=0
for pm in $away; do
	p=${pm%%:*}
	m0=${pm#*:}
	kill -0 "$p" 2>/dev/null || { log "pid $p ended meanwhile"; continue; }
	set -- $(look "$p")
	w=$1 s=$2 m=$3
	if [ "$w" != 1 ] && [ "$s" != migrating ] && [ "${m:-0}" -lt $((${m0:-0} + 2)) ]; then
		br=1
		log "after bring: pid $p on node '$w' ($s), nmigs $m0 -> $m"
	fi
done
kill $pids 2>/dev/null
wait
if [ -n "$on2" ] && [ $ex = 0 ] && [ $br = 0 ]; then
	ok "expel: the jobs on node 2 (pids$on2) came home; bring: the jobs away (pid:nmigs${away:- none}) came home"
else
	log "jobs on node 2 before expel:${on2:- none}; one did not come home: $ex; away after bring: $br"
	bad "expel/bring"
fi

# 6. An I/O job (reading a home file in 4 KiB reads) stays home among CPU jobs that move.
head -c 4194304 /dev/urandom > /tmp/io.dat
migrant -r /tmp/io.dat -t 15 > /tmp/io.out 2>&1 &
io=$!
pids=
for k in 1 2 3; do job $k "$N" > /dev/null & pids="$pids $!"; done
watch /tmp/io.where $io $pids
wait $io
iorc=$?
wait
ioseen=$(awk -v p="$io" '$1 == p { print $2 }' /tmp/io.where | sort -u | tr '\n' ' ')
seen=$(nodes_seen /tmp/io.where)
if [ "$ioseen" = "1 " ] && [ "$seen" != "1 " ] && [ $iorc = 0 ]; then
	ok "I/O job stayed home ($(cat /tmp/io.out)); CPU jobs ran on nodes $seen"
else
	log "I/O job seen on: $ioseen (exit $iorc); all: $seen"
	bad "I/O job"
fi

# 7. Memory ushering: with the threshold 100 MiB below what node 1 has available, a process
# filling 160 MiB is moved to a node with room and finishes correctly.
avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
mosctl setusher $((avail - 102400))
migrant -q -m 160 -t 25 > /tmp/usher.out 2>&1 &
big=$!
watch /tmp/usher.where $big
wait $big
rc=$?
mosctl setusher 32768
useen=$(nodes_seen /tmp/usher.where)
if [ $rc = 0 ] && [ "$useen" != "1 " ]; then
	ok "memory ushering: a 160 MiB process moved away from node 1 (seen on $useen) and finished correctly"
else
	log "exit $rc, seen on: $useen; $(tail -2 /tmp/usher.out)"
	bad "memory ushering"
	node_log 1
fi

# 8. migrate PID balance places one process now (stay on node 1 keeps the balancer out of it).
on 1 stay
job 1 "$N" > /dev/null &
a=$!
job 2 "$N" > /dev/null &
b=$!
sleep 1
out=$(migrate "$a" balance)
rc=$?
w=$(mosctl where "$a")
kill $a $b 2>/dev/null
wait
on 1 nostay || log "node 1: nostay failed (stay may still be set)"
if [ $rc = 0 ] && [ "$out" = "$a: node $w" ] && [ "$w" != 1 ]; then
	ok "migrate PID balance: '$out'"
else
	log "migrate balance exit $rc, said '$out', where $w"
	bad "migrate PID balance"
fi

# 9. The balancer's moves are counted and no node logged a failed move.
moves=$(awk '$1 == "balance_load" { print $2 }' /proc/hpc/info/migration)
failed=$(awk '$1 == "balance_failed" { print $2 }' /proc/hpc/info/migration)
usher=$(awk '$1 == "balance_memory" { print $2 }' /proc/hpc/info/migration)
# (A chosen move fails legitimately when the job ends just then.)
if [ "${moves:-0}" -gt 0 ] && [ "${usher:-0}" -gt 0 ]; then
	ok "counters: $moves load moves, $usher memory moves, $failed failed on node 1"
else
	log "balance_load=$moves balance_memory=$usher balance_failed=$failed"
	bad "counters"
fi

for k in $(seq 1 "$nodes"); do on "$k" stay; done
ktap_end
