#!/usr/bin/env bash
# make bench: benchmarks on QEMU nodes, separate from the tests: nothing here passes or fails on a
# number (the exit status is not 0 only if a cluster run fails). Output also goes to
# build/bench.txt. Three cluster runs, about 6 minutes in all:
#   1. migration (2 nodes, 1 GiB each, ~3 min): reported as ratios to raw in-kernel transfers
#      between the same nodes measured in the same run (tests/bench/migbench.c); then the 16 and
#      256 MiB migrations and the forwarded getppid() again over plaintext links (the bench-only
#      switch): the cost of sealing every frame, as sealed/plain ratios (goal <= 1.10); and
#      process trees: fork + exit + wait and fork + exec + wait (busybox true) in a process
#      migrated to node 2 against the same at home, 100 rounds each;
#   2. load balancing, makespan (2 nodes, ~2.5 min): 4 CPU-bound jobs of ~20 s started at once on
#      node 1, with `mosctl stay` on node 1 (all four share its CPU) and then with the balancers
#      free; the ratio balanced/stay (goal <= 0.60, ideal 0.50) and each job's moves;
#   3. load balancing, reaction time (3 nodes, ~1.5 min; up to 4 if the jobs never spread): the time from the start of 6 CPU-bound
#      jobs on node 1 until every node runs at least one, in seconds and in gossip intervals,
#      3 times, and the median.
#   4. placement at exec time against the balancer alone (3 nodes, node 3 blocking guests, ~4
#      min): placement_test's batch of 40 crunch programs with stay, with the balancer alone and
#      with exec_place 1; the three times and their ratios.
# The jobs are busybox awk number crunchers (crunch in run 4), calibrated on the node at run time.
# OXMOSIX_BENCH=placement runs only the fourth.
# OXMOSIX_BENCH=migration runs only the first (migration and the cost of sealing).
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -static -O2 -Wall -Werror -o "$tmp/migbench" "$TOP/tests/bench/migbench.c"
cat > "$tmp/bench.sh" <<'EOS'
export PATH=/opt/extra:/opt/oxmosix/selftests/oxmosix:$PATH
echo "migbench on $OXNODES nodes ($(nproc) CPU each, QEMU TCG), $(date -u)"
# Processes move only by hand here: the balancers would send the benchmark's I/O-bound guests
# (the getppid loop, the remote cat and dd) home in the middle of their measurement.
mosctl stay || exit 1
for k in $(seq 2 "$OXNODES"); do
	printf 'GET /cgi-bin/mosctl?stay HTTP/1.0\r\n\r\n' | nc "$OXNET.$k" 8000 2>/dev/null | grep -q '^exit 0' ||
		{ echo "node $k: stay not set"; exit 1; }
done
migbench | tee /tmp/sealed.txt
echo "node 1 migration counters after the run:"; sed 's/^/  /' /proc/hpc/info/migration
# The cost of security: the same migrations and forwarded calls over plaintext links (the
# bench-only switch on both nodes, links made anew under another key), in this same run.
agent() { printf 'GET /cgi-bin/%s HTTP/1.0\r\n\r\n' "$2" | nc "$OXNET.$1" 8000 2>/dev/null; }
mosctl set-plaintext 1 && agent 2 "mosctl?set-plaintext+1" | grep -q '^exit 0' || { echo "plaintext switch failed"; exit 1; }
mosctl setkey --retire /etc/oxmosix/other.key && agent 2 "setkey?other+retire" | grep -q '^ok' || { echo "rekey failed"; exit 1; }
i=0
while [ $i -lt 100 ] && ! grep -q connected /proc/hpc/nodes/2/status; do sleep 0.2; i=$((i + 1)); done
sleep 1
echo "over plaintext links (bench only):"
migbench security | sed 's/^bench /plain /; s/^ratio /plain_ratio /' | tee /tmp/plain.txt
awk 'FNR == NR && $1 == "bench" { s[$2] = $3 } FNR != NR && $1 == "plain" { p[$2] = $3 }
	END { n = split("migrate_16mib_away migrate_256mib_away forwarded_getppid", k, " ")
		for (i = 1; i <= n; i++) if (s[k[i]] > 0 && p[k[i]] > 0)
			printf "ratio sealed_vs_plain_%s %.2f (%s sealed, %s plain)\n", k[i], s[k[i]] / p[k[i]], s[k[i]], p[k[i]] }' \
	/tmp/sealed.txt /tmp/plain.txt
EOS

# Helpers shared by the two balancing runs (busybox sh on node 1), put in front of each script.
cat > "$tmp/common.sh" <<'EOS'
# shellcheck shell=sh disable=SC2086 # $PIDS is a list of pids
export PATH="/opt/oxmosix/bin:$PATH"
cd /tmp || exit 1
NODELIST=$(seq 1 "$OXNODES")
# now: seconds since boot (10 ms resolution) into $NOW, without a fork.
now() { read -r NOW _ < /proc/uptime; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# The job: a CPU-bound number cruncher (busybox awk), "awk -v k=K -v n=N "$CRUNCH"".
CRUNCH='BEGIN { s = k; for (i = 1; i <= n; i++) s = (s * 31 + i * k) % 1000003; print k, s }'
# calibrate SECONDS: N iterations for about SECONDS of CPU here, measured alone (call with stay
# on this node).
calibrate() {
	now; a=$NOW
	awk -v k=1 -v n=100000 "$CRUNCH" > /dev/null
	now; b=$NOW
	N=$(awk -v a="$a" -v b="$b" -v s="$1" 'BEGIN { d = b - a; if (d < 0.05) d = 0.05; printf "%d", 100000 * s / d }')
	echo "calibration: 100000 iterations in $(sub "$a" "$b") s alone on node $OXNODE: N=$N for about $1 s"
}
# gone PID: the process has ended (no longer there, or a zombie not yet reaped).
gone() {
	st=Z
	read -r _ _ st _ 2>/dev/null < "/proc/$1/stat"
	[ "$st" = Z ]
}
# start COUNT N: COUNT crunchers of N iterations in the background; their pids in $PIDS, the
# start time in $T0.
start() {
	PIDS=
	now; T0=$NOW
	k=1
	while [ "$k" -le "$1" ]; do
		awk -v k="$k" -v n="$2" "$CRUNCH" > "/tmp/job$k.out" &
		PIDS="$PIDS $!"
		k=$((k + 1))
	done
}
# counters: the balancer counters of every node (node 1's own, the others' via their agents).
counters() {
	for k in $NODELIST; do
		if [ "$k" = "$OXNODE" ]; then
			cat /proc/hpc/info/migration
		else
			printf 'GET /cgi-bin/hpc?info/migration HTTP/1.0\r\n\r\n' | nc "$OXNET.$k" 8000 2>/dev/null | sed '1,/^\r*$/d'
		fi | awk -v k="$k" '$1 ~ /^(balance_load|balance_memory|balance_io|balance_failed|out|home)$/ { s = s " " $1 " " $2 }
			END { print "  node " k ":" s }'
	done
}
EOS

# 2. Makespan of 4 jobs on 2 nodes, stay against balanced.
cat "$tmp/common.sh" - > "$tmp/makespan.sh" <<'EOS'
JOB_S=20   # CPU seconds of each job
echo
echo "balancing makespan on $OXNODES nodes ($(nproc) CPU each, QEMU TCG), $(date -u): 4 jobs of ~${JOB_S} s started at once on node 1"
# watch FILE PID...: every second, "PID NODE" for each running job to FILE, until all ended.
watch() {
	f=$1
	shift
	: > "$f"
	while :; do
		alive=0
		for p in "$@"; do
			gone "$p" && continue
			w=$(mosctl where "$p" 2>/dev/null) || continue
			alive=1
			echo "$p $w" >> "$f"
		done
		[ $alive = 1 ] || break
		sleep 1
	done
}
# batch FILE: the 4 jobs, watched into FILE; sets MAKESPAN and MOVES (one count per job).
batch() {
	start 4 "$N"
	( watch "$1" $PIDS ) &
	wpid=$!
	for p in $PIDS; do wait "$p" || echo "job $p failed"; done
	now
	MAKESPAN=$(sub "$T0" "$NOW")
	wait "$wpid"
	MOVES=
	for p in $PIDS; do
		MOVES="$MOVES $(awk -v p="$p" '$1 == p { if (n++ && $2 != last) m++; last = $2 } END { print m + 0 }' "$1")"
	done
	SEEN=$(awk '{ print $2 }' "$1" | sort -u | tr '\n' ' ')
}
mosctl stay || exit 1
calibrate "$JOB_S"
batch /tmp/stay.where
STAY=$MAKESPAN
echo "bench balance_stay_4jobs ${STAY} s makespan (stay on node 1: the 4 jobs share its CPU; moves per job:$MOVES)"
mosctl nostay || exit 1
sleep 5   # let node 1's load average decay
batch /tmp/auto.where
echo "bench balance_auto_4jobs ${MAKESPAN} s makespan (balancers free; moves per job:$MOVES; nodes seen: $SEEN)"
echo "ratio balance_auto_vs_stay $(awk -v a="$MAKESPAN" -v b="$STAY" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (goal <= 0.60, ideal 0.50)"
echo "balancer counters after the runs:"
counters
EOS

# 3. Time until 6 jobs started on node 1 reach every node of 3.
cat "$tmp/common.sh" - > "$tmp/spread.sh" <<'EOS'
JOB_S=10     # CPU seconds of each job
GIVE_UP=60   # seconds without every node reached before a repetition counts as "never"
gi=$(cat /proc/hpc/admin/gossip_interval)
echo
echo "balancing reaction on $OXNODES nodes ($(nproc) CPU each, QEMU TCG), $(date -u): 6 jobs of ~${JOB_S} s started at once on node 1," \
	"time until every node runs one (gossip interval $gi ms)"
mosctl stay || exit 1
calibrate "$JOB_S"
mosctl nostay || exit 1
sleep 5
times=
for r in 1 2 3; do
	start 6 "$N"
	polls=0
	spread=never
	while :; do
		seen=" "
		for p in $PIDS; do
			w=$(mosctl where "$p" 2>/dev/null) && seen="$seen$w "
		done
		polls=$((polls + 1))
		now
		all=1
		for k in $NODELIST; do
			case "$seen" in *" $k "*) ;; *) all=0 ;; esac
		done
		if [ $all = 1 ]; then spread=$(sub "$T0" "$NOW"); break; fi
		[ $((${NOW%.*} - ${T0%.*})) -lt "$GIVE_UP" ] || break
		sleep 0.1
	done
	period=$(awk -v a="$T0" -v b="$NOW" -v n="$polls" 'BEGIN { printf "%.2f", (b - a) / n }')
	# (the shell reports each job's end by SIGTERM on stderr: not wanted here)
	{ kill $PIDS; for p in $PIDS; do wait "$p"; done; } 2>/dev/null
	if [ "$spread" = never ]; then
		echo "bench balance_spread_run$r never: not every node ran a job within $GIVE_UP s (last seen on:$seen)"
		times="$times 999999"
	else
		echo "bench balance_spread_run$r $spread s = $(awk -v s="$spread" -v g="$gi" 'BEGIN { printf "%.1f", s * 1000 / g }') gossip intervals" \
			"($polls polls of the 6 jobs, one per $period s; jobs on nodes:$seen)"
		times="$times $spread"
	fi
	sleep 5   # the killed jobs' load decays
done
med=$(for t in $times; do echo "$t"; done | sort -n | sed -n 2p)
if [ "$med" = 999999 ]; then
	echo "bench balance_spread_median never"
else
	echo "bench balance_spread_median $med s = $(awk -v s="$med" -v g="$gi" 'BEGIN { printf "%.1f", s * 1000 / g }') gossip intervals"
fi
echo "balancer counters after the runs:"
counters
EOS

# 4. Placement at exec time against the balancer alone (3 nodes, node 3 blocking guests: two
# nodes, as placement_test): the 40 short crunch programs of placement_test, four at a time, with
# `stay` on node 1, with the balancer free and exec_place 0, and with exec_place 1.
cat > "$tmp/placement.sh" <<'EOS'
export PATH=/opt/oxmosix/bin:$PATH
cd /tmp || exit 1
crunch=/opt/oxmosix/selftests/oxmosix/crunch
agent() { printf 'GET /cgi-bin/%s HTTP/1.0\r\n\r\n' "$2" | nc "$OXNET.$1" 8000 2>/dev/null | sed '1,/^\r*$/d'; }
on() { agent "$1" "mosctl?$2" | grep -q '^exit 0' || echo "node $1: mosctl $2 failed"; }
now() { awk '{ print $1 }' /proc/uptime; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
batch() {
	for w in 1 2 3 4; do
		( k=$w; : > "/tmp/b.$1.$w"
		  while [ $k -le 40 ]; do "$crunch" $k $((N * (1 + k % 3))) >> "/tmp/b.$1.$w"; k=$((k + 4)); done ) &
	done
	wait
}
echo
echo "placement at exec against the balancer alone, $(date -u): 40 programs of 1-3 s, four at a time, node 3 blocking guests"
on 1 nostay; on 2 nostay; on 2 noblock; on 3 block
mosctl exec-place 0
t0=$(now); "$crunch" 1 100000000 > /dev/null; t1=$(now)
N=$(awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.05) d = 0.05; printf "%d", 100000000 / d }')
on 1 stay
t0=$(now); batch stay; t1=$(now)
on 1 nostay
sleep 5
t2=$(now); batch balancer; t3=$(now)
mosctl exec-place 1
sleep 5
t4=$(now); batch place; t5=$(now)
mosctl exec-place 0
on 3 noblock
for b in stay balancer place; do sort /tmp/b.$b.* > /tmp/b.$b; done
cmp -s /tmp/b.stay /tmp/b.balancer && cmp -s /tmp/b.stay /tmp/b.place && same=yes || same=no
st=$(secs "$t0" "$t1"); ba=$(secs "$t2" "$t3"); pl=$(secs "$t4" "$t5")
echo "bench placement_batch stay $st s, balancer alone $ba s, placement at exec $pl s (outputs identical: $same)"
awk -v s="$st" -v b="$ba" -v p="$pl" 'BEGIN {
	printf "ratio batch_balancer_vs_stay %.2f\nratio batch_placement_vs_stay %.2f\nratio batch_placement_vs_balancer %.2f\n", b / s, p / s, p / b }'
EOS

rc=0
if [ "${OXMOSIX_BENCH:-all}" = placement ]; then
	"$TOP/scripts/cluster" run --nodes 3 --timeout 900 "$tmp/placement.sh" | tee "$BUILD/bench.txt" || rc=$?
	exit "$rc"
fi
OXMOSIX_MEM=${OXMOSIX_MEM:-1024} "$TOP/scripts/cluster" run --nodes 2 --timeout 900 \
	--add "$tmp/migbench" "$tmp/bench.sh" | tee "$BUILD/bench.txt" || rc=$?
[ "${OXMOSIX_BENCH:-all}" = migration ] && "$TOP/scripts/cluster" run --nodes 3 --timeout 900 "$tmp/placement.sh" | tee -a "$BUILD/bench.txt" || rc=$?
exit "$rc"
"$TOP/scripts/cluster" run --nodes 2 --timeout 600 "$tmp/makespan.sh" | tee -a "$BUILD/bench.txt" || rc=$?
"$TOP/scripts/cluster" run --nodes 3 --timeout 600 "$tmp/spread.sh" | tee -a "$BUILD/bench.txt" || rc=$?
"$TOP/scripts/cluster" run --nodes 3 --timeout 900 "$tmp/placement.sh" | tee -a "$BUILD/bench.txt" || rc=$?
exit "$rc"
