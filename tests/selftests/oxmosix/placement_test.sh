#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# placement_test: placement at exec time (issue 15). Node 1 runs a batch of 40 short CPU-bound
# programs (`crunch`, started with a real execve: busybox runs its applets without one, so an
# awk would never pass the exec hook; 1, 2 or 3 s of CPU each), four at a time (four worker
# shells, each starting its ten one after the other), twice: first with `stay` (nothing leaves
# node 1), then with `exec_place` 1, where each program may start on node 2 (node 3 blocks
# guests: two nodes, as the issue asks). With placement the batch must end in at most 0.60 of
# the time it took with `stay` (issue 15; 0.50 is the ideal on two equal nodes, and under TCG the
# two busy nodes share the host's two cores with QEMU's own threads: a CPU-bound program runs
# 3-10 % slower on node 1 while node 2 is busy too), with the same output, and node 1 must have
# placed at least 10 programs (`balance_exec` in /proc/hpc/info/migration).
# KTAP output; runs on node 1 of 3 (skips otherwise); after balance_test.
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=2
. "$here/ktap.sh"

# job K N: prints "K checksum" after N iterations (the balance_test formula, in C).
job() { "$here/crunch" "$1" "$2"; }
# batch TAG: the 40 programs, four at a time; worker W writes /tmp/place.TAG.W.
batch() {
	for w in 1 2 3 4; do
		(
			: > "/tmp/place.$1.$w"
			k=$w
			while [ $k -le 40 ]; do
				job $k $((N * (1 + k % 3))) >> "/tmp/place.$1.$w"
				k=$((k + 4))
			done
		) &
	done
	wait
}
counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/hpc/info/migration; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

on 1 nostay || log "node 1: nostay failed"
on 2 nostay || log "node 2: nostay failed"
on 2 noblock || log "node 2: noblock failed"
on 3 block || log "node 3: block failed"
mosctl exec-place 0

# Calibrate: N iterations for about 1 s of CPU here.
t0=$(now)
job 1 100000000 > /dev/null
t1=$(now)
N=$(awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.05) d = 0.05; printf "%d", 100000000 / d }')
log "calibration: 100000000 iterations in $(secs "$t0" "$t1") s; N=$N for 1 s"

on 1 stay || log "node 1: stay failed"
t0=$(now)
batch stay
t1=$(now)
on 1 nostay || log "node 1: nostay failed"
mosctl exec-place 1 || log "exec-place 1 failed"
sleep 2 # a load report from every node without the first batch
placed0=$(counter balance_exec)
t2=$(now)
batch place
t3=$(now)
placed=$(($(counter balance_exec) - placed0))
mosctl exec-place 0
on 3 noblock || log "node 3: noblock failed"

ref=$(secs "$t0" "$t1")
got=$(secs "$t2" "$t3")
sort /tmp/place.stay.* > /tmp/place.stay
sort /tmp/place.place.* > /tmp/place.place
lines=$(wc -l < /tmp/place.place)
log "40 programs, four at a time: $ref s with stay, $got s with exec_place 1 ($placed placed on node 2)"
if [ "$lines" = 40 ] && cmp -s /tmp/place.stay /tmp/place.place && [ "$placed" -ge 10 ]; then
	ok "placement at exec: $placed of 40 programs started on node 2, outputs identical"
else
	bad "placement at exec: $lines outputs, identical: $(cmp -s /tmp/place.stay /tmp/place.place && echo yes || echo no), $placed placed"
	diff /tmp/place.stay /tmp/place.place | head -5 | sed 's/^/# /'
	migration_log 1 | sed 's/^/# /'
fi
ratio=$(awk -v a="$ref" -v b="$got" 'BEGIN { printf "%.2f", b / a }')
if awk -v r="$ratio" 'BEGIN { exit !(r <= 0.60) }'; then
	ok "placement at exec: the batch took $ratio of its time with stay ($got s / $ref s)"
else
	bad "placement at exec: the batch took $ratio of its time with stay ($got s / $ref s), more than 0.60"
fi
rm -f /tmp/place.*
ktap_end
