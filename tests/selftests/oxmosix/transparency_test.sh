#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# transparency_test: real programs nobody here wrote run remote unchanged. Each program is started
# on node 1, migrated to node 2 while it runs, and its output compared byte for byte with an
# unmigrated run; pipelines, a remote reader of a home pipe, a terminal, signals and node
# failures (link cut, then node 2's QEMU killed: this must be the last program of its run) are
# checked the same way, and so are the clocks of a process that moves across nodes booted at
# different times. KTAP output; runs on node 1 of 3 (skips with fewer nodes).
# Programs: busybox sha256sum, gzip/gunzip, awk, sort, cat (static); /usr/bin/xz and
# /usr/bin/bzip2 from Debian (dynamically linked, with their libraries in the image); sigcheck and
# migrant, clockcheck (this directory).
here=$(cd "$(dirname "$0")" && pwd)
TOTAL=19
. "$here/ktap.sh"

# Processes move by hand here: no automatic moves on any node.
for k in $(seq 1 "$nodes"); do on "$k" stay || log "node $k: stay not set"; done

# Migrates pid $1 to node 2 and checks that it runs there; prints what happened.
to2() {
	t0=$(now)
	if migrate "$1" 2; then
		w=$(mosctl where "$1" 2>/dev/null)
		log "pid $1 ($2) migrated in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }') s, now on node $w"
		[ "$w" = 2 ] && return 0
		log "$(proc_state "$1")"
		log "node 1: $(migration_log 1)"
		log "node 2: $(migration_log 2)"
		return 1
	else
		log "migrate $1 ($2) failed"
		return 1
	fi
}

# ended PID: waits (at most 20 s) until the process has ended (gone, or a zombie not yet reaped).
ended() {
	for i in $(seq 1 200); do
		if ! kill -0 "$1" 2>/dev/null || grep -q "^State:.*Z" "/proc/$1/status" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# compare NAME PROG CMD: runs CMD once at home into a reference file, then again with the
# process named PROG migrated to node 2 mid-run; the outputs must be identical.
compare() {
	name=$1
	prog=$2
	shift 2
	sh -c "$*" > "/tmp/$name.ref" 2>&1
	sh -c "$*" > "/tmp/$name.out" 2>&1 &
	s=$!
	p=
	for i in $(seq 1 50); do
		p=$(pidof "$prog" | awk '{ print $NF }')
		[ -n "$p" ] && break
		sleep 0.05
	done
	sleep 0.2
	moved=1
	[ -n "$p" ] && { to2 "$p" "$name"; moved=$?; }
	wait "$s"
	rc=$?
	if [ $moved = 0 ] && [ $rc = 0 ] && cmp -s "/tmp/$name.ref" "/tmp/$name.out"; then
		ok "$name: $prog migrated mid-run, output identical ($(wc -c < "/tmp/$name.out") bytes)"
	else
		log "moved=$moved exit=$rc; ref: $(head -c 200 "/tmp/$name.ref"); out: $(head -c 200 "/tmp/$name.out")"
		bad "$name"
	fi
}

dd if=/dev/urandom of=/tmp/big bs=1M count=64 2>/dev/null
head -c 4194304 /tmp/big > /tmp/med
head -c 1048576 /tmp/big > /tmp/small
awk 'BEGIN { srand(7); for (i = 0; i < 120000; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' > /tmp/lines
log "inputs: 64 MiB, 4 MiB and 1 MiB random, $(wc -c < /tmp/lines)-byte text"

compare sha256sum sha256sum "sha256sum /tmp/big"
compare gzip_gunzip gzip "gzip -9 -c /tmp/med | gunzip -c | sha256sum"
compare awk awk "awk 'BEGIN { s = 0; for (i = 1; i <= 2000000; i++) s = (s * 31 + i % 97) % 1000003; print s }'"
compare sort sort "sort /tmp/lines"
compare xz xz "/usr/bin/xz -3 -c /tmp/small | sha256sum"
compare bzip2 bzip2 "/usr/bin/bzip2 -9 -c /tmp/med | sha256sum"

# A pipeline whose both ends are remote: cat | sha256sum.
head -c 16777216 /tmp/big > /tmp/p16
sha256sum < /tmp/p16 > /tmp/pipe.ref
( cat /tmp/p16 | sha256sum > /tmp/pipe.out ) &
for i in $(seq 1 50); do [ -n "$(pidof cat)" ] && [ -n "$(pidof sha256sum)" ] && break; sleep 0.05; done
both=0
for p in $(pidof cat) $(pidof sha256sum); do to2 "$p" pipeline || both=1; done
wait
if [ $both = 0 ] && cmp -s /tmp/pipe.ref /tmp/pipe.out; then ok "pipeline cat | sha256sum, both ends remote"; else bad "pipeline both remote"; fi

# A remote process reading its stdin from a pipe at home, fed slowly.
( for i in 1 2 3 4 5 6; do sleep 0.5; echo "chunk $i"; done ) | sort -r > /tmp/stdin.out &
sleep 0.2
p=$(pidof sort)
to2 "$p" "sort reading a home pipe"
moved=$?
wait
if [ $moved = 0 ] && [ "$(head -1 /tmp/stdin.out)" = "chunk 6" ] && [ "$(wc -l < /tmp/stdin.out)" = 6 ]; then
	ok "remote reader of a pipe at home"
else
	bad "remote reader of a pipe at home"
fi

# A remote process writing to a terminal (a pseudo-terminal it opened at home: isatty, tcgetattr,
# write to the slave and read back from the master, all forwarded).
sigcheck tty > /tmp/tty.out 2>&1 &
p=$!
sleep 0.3
to2 "$p" sigcheck-tty
moved=$?
sleep 1
kill -USR1 "$p"
wait "$p"
rc=$?
if [ $moved = 0 ] && [ $rc = 7 ] && grep -q "tty ok" /tmp/tty.out; then ok "remote process writes to a terminal"; else log "$(cat /tmp/tty.out) exit $rc"; bad "terminal"; fi

# Signals: a handler runs remotely on SIGUSR1 sent at home; EINTR on a blocked forwarded read.
rm -f /tmp/ff
mkfifo /tmp/ff
sigcheck read < /tmp/ff > /tmp/sig.out 2>&1 &
p=$!
exec 7> /tmp/ff
sleep 0.3
to2 "$p" sigcheck-read
moved=$?
waitfor() { for i in $(seq 1 100); do grep -q "$1" "$2" && return 0; sleep 0.1; done; return 1; }
waitfor "waiting for" /tmp/sig.out
kill -USR1 "$p"
waitfor "reading" /tmp/sig.out
sleep 1
kill -USR1 "$p"
sleep 1
exec 7>&-
wait "$p"
rc=$?
if [ $moved = 0 ] && [ $rc = 7 ] && grep -q "handler got 10" /tmp/sig.out && grep -q "read=-1 errno=4 got=10" /tmp/sig.out; then
	ok "signals: SIGUSR1 handler runs remotely; a blocked forwarded read returns EINTR"
else
	log "$(cat /tmp/sig.out)"
	log "exit $rc; node 1: $(migration_log 1)"
	log "node 2: $(migration_log 2)"
	bad "signals: handler and EINTR"
fi

# A fatal signal raised remotely (SIGSEGV) is what the parent's wait() sees; SIGINT ends it too.
sigcheck segv > /tmp/segv.out 2>&1 &
p=$!
sleep 0.3
to2 "$p" sigcheck-segv
moved=$?
sleep 2
kill -USR1 "$p"
wait "$p"
rc=$?
sigcheck > /dev/null 2>&1 &
p2=$!
sleep 0.3
to2 "$p2" sigcheck-int
moved2=$?
sleep 1
kill -INT "$p2"
wait "$p2"
rc2=$?
if [ $moved = 0 ] && [ $rc = 139 ] && [ $moved2 = 0 ] && [ $rc2 = 130 ]; then
	ok "remote SIGSEGV seen as WIFSIGNALED/SIGSEGV (139); SIGINT from home ends it (130)"
else
	bad "fatal signals (segv exit $rc, int exit $rc2)"
fi

# Job control: SIGSTOP at home stops the remote process too, SIGCONT continues it; SIGTSTP at its
# default action stops the process (deputy and guest) as it would at home (sigcheck runs in a
# process group of its own under this shell, which is not orphaned).
state_home() { awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
state_2() { agent 2 ps | awk '$NF == "migrant" { print substr($2, 1, 1) }' | head -1; }
waitstate() { for i in $(seq 1 40); do [ "$($1 "$2")" = "$3" ] && return 0; sleep 0.1; done; return 1; }
# waitrun STATE PID: waits until the process is seen in a state other than stopped (T).
waitrun() { for i in $(seq 1 40); do st=$($1 "$2"); [ -n "$st" ] && [ "$st" != T ] && return 0; sleep 0.1; done; log "still $st"; return 1; }
migrant -q -m 4 -t 12 > /tmp/stop.out 2>&1 &
p=$!
sleep 0.3
to2 "$p" migrant-stop
moved=$?
kill -STOP "$p"
waitstate state_2 "$p" T
s1=$?
kill -CONT "$p"
waitrun state_2 "$p"
s2=$?
# It must stay running: a stop reported late by the remote would stop it again.
sleep 1
waitrun state_2 "$p"
s2b=$?
waitrun state_home "$p"
s2h=$?
if [ $moved = 0 ] && [ $s1 = 0 ] && [ $s2 = 0 ] && [ $s2b = 0 ] && [ $s2h = 0 ]; then
	ok "SIGSTOP at home stops the remote process; SIGCONT continues it (both sides, 1 s later)"
else
	log "moved=$moved stop seen: $s1, continue seen: $s2, still running 1 s later: remote $s2b, home $s2h"
	bad "SIGSTOP/SIGCONT"
fi
wait "$p"
rc0=$?
sigcheck newpgrp > /tmp/tstp.out 2>&1 &
p=$!
sleep 0.3
to2 "$p" sigcheck-tstp
state_2s() { agent 2 ps | awk '$NF == "sigcheck" { print substr($2, 1, 1) }' | head -1; }
kill -TSTP "$p"
waitstate state_home "$p" T
s3=$?
waitstate state_2s "$p" T
s3r=$?
kill -CONT "$p"
sleep 0.5
kill -USR1 "$p"
wait "$p"
rc=$?
if [ $rc0 = 0 ] && [ $s3 = 0 ] && [ $s3r = 0 ] && [ $rc = 7 ]; then ok "SIGTSTP stops the process at home and remotely; SIGCONT continues it and it finishes correctly"; else log "migrant exit $rc0; tstp seen at home: $s3, remote: $s3r; sigcheck exit $rc"; bad "SIGTSTP"; fi

# Clocks: the nodes booted seconds apart (the cluster runner staggers them), so each has its own
# CLOCK_MONOTONIC and CLOCK_BOOTTIME. A process moved 1 -> 2 -> 3 -> home must see both go on
# without a step back or a jump (clockcheck watches every read, vDSO and system call), and read
# about home's time wherever it runs: its CLOCK_BOOTTIME when it gets SIGUSR1 minus home's
# /proc/uptime just before (the signal's trip and the lag the moves add make it a little later
# or earlier; a node's own clock would be off by its boot-time difference, seconds).
# skew PID: prints that difference, in seconds.
skew() {
	before=$(grep -c '^boot ' /tmp/clock.out)
	h=$(now)
	kill -USR1 "$1"
	for i in $(seq 1 50); do [ "$(grep -c '^boot ' /tmp/clock.out)" -gt "$before" ] && break; sleep 0.1; done
	awk -v h="$h" '/^boot / { b = $2 } END { if (b == "") print "none"; else printf "%.2f", b - h }' /tmp/clock.out
}
inband() { awk -v s="$1" 'BEGIN { exit !(s != "none" && s >= -0.3 && s <= 1.0) }'; }
for k in 2 3; do log "node $k's uptime minus node 1's: $(awk -v h="$(now)" -v r="$(agent $k uptime | head -1 | cut -d' ' -f1)" 'BEGIN { printf "%.2f", r - h }') s"; done
clockcheck -t 15 > /tmp/clock.out 2>&1 &
p=$!
sleep 0.5
to2 "$p" clockcheck
moved=$?
sleep 0.5
k2=$(skew "$p")
migrate "$p" 3 || log "migrate $p to node 3 failed"
w3=$(mosctl where "$p" 2>&1)
sleep 0.5
k3=$(skew "$p")
migrate "$p" home || log "migrate $p home failed"
wh=$(mosctl where "$p" 2>&1)
sleep 0.5
kh=$(skew "$p")
wait "$p"
rc=$?
res=$(grep '^clockcheck:' /tmp/clock.out)
step=$(echo "$res" | awk '{ print ($7 > $8 ? $7 : $8) / 1e9 }')
log "on node 2: $k2 s, on node 3 ($w3): $k3 s, at home ($wh): $kh s; $res; exit $rc"
if [ $moved = 0 ] && [ "$w3" = 3 ] && [ "$wh" = 1 ] && inband "$k2" && inband "$k3" && inband "$kh" &&
	[ $rc = 0 ] && awk -v s="$step" 'BEGIN { exit !(s < 3) }'; then
	ok "clocks continue across nodes booted at different times: no step back, longest step $step s, off home's by $k2/$k3/$kh s"
else
	bad "clocks of a process moved 1 -> 2 -> 3 -> home"
fi

# A link blip shorter than the node timeout loses nothing: cat on node 2 reads a home pipe fed for
# 8 s and writes to a home pipe (every read and write forwarded) while node 2's link is down for 3 s
# (from 1 s after the move); its output is byte for byte what the feed sent.
head -c 655360 /tmp/big > /tmp/feed
sha256sum < /tmp/feed > /tmp/blip.ref
( for i in $(seq 0 19); do dd if=/tmp/feed bs=32768 skip="$i" count=1 2>/dev/null; sleep 0.4; done ) |
	cat | sha256sum > /tmp/blip.out &
s=$!
for i in $(seq 1 50); do p=$(pidof cat); [ -n "$p" ] && break; sleep 0.05; done
to2 "$p" "cat reading a home pipe"
moved=$?
agent 2 "cut?3" > /dev/null
t0=$(now)
wait "$s"
rc=$?
secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
if [ $moved = 0 ] && [ $rc = 0 ] && cmp -s /tmp/blip.ref /tmp/blip.out && [ "${secs%.*}" -ge 4 ]; then
	ok "link blip of 3 s under forwarded reads and writes: output identical (done $secs s after the cut request)"
else
	log "moved=$moved exit=$rc after $secs s; ref $(cat /tmp/blip.ref); out $(cat /tmp/blip.out)"
	log "node 1: $(migration_log 1)"
	bad "link blip under forwarded I/O"
fi
for i in $(seq 1 100); do grep -q '^up' /proc/hpc/nodes/2/status && break; sleep 0.1; done

# Connections replaced under forwarded I/O lose nothing: dd on node 2 copies a 2 MiB home file in
# 512-byte blocks into a home pipe (every read and write forwarded, frames always in flight) while the cluster key
# is rotated three times (each retirement closes every link and makes it again with the other
# key): what was in flight when a connection closed is sent again on the next one and taken once.
# Output identical; frames sent again are reported (nodes 1 and 2).
counters_sum() {
	{ cat /proc/hpc/info/counters; agent 2 "hpc?info/counters"; } |
		awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'
}
resent0=$(counters_sum resent)
dups0=$(counters_sum delivery_duplicates)
head -c 2097152 /tmp/big > /tmp/b16
dd if=/tmp/b16 bs=512 2>/dev/null | sha256sum > /tmp/rekey.out &
s=$!
for i in $(seq 1 50); do p=$(pidof dd); [ -n "$p" ] && break; sleep 0.05; done
to2 "$p" "dd copying a home file"
moved=$?
t0=$(now)
rekey() { for k in 1 2 3; do agent "$k" "setkey?$1" | grep -q '^ok' || log "node $k: setkey $1 failed"; done; }
( sleep 120; kill -9 "$p" 2>/dev/null ) &
dog=$!
for key in other cluster other; do
	rekey "$key"; rekey "$key+retire"
	sleep 1
	[ -d "/proc/$p" ] || log "dd ended before the rotation to $key was done ($(now) s)"
done
wait "$s"
rc=$?
log "dd done $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s after its move"
kill "$dog" 2>/dev/null
rekey cluster; rekey cluster+retire
for i in $(seq 1 100); do grep -q '^up' /proc/hpc/nodes/2/status && break; sleep 0.1; done
resent=$(($(counters_sum resent) - resent0))
dups=$(($(counters_sum delivery_duplicates) - dups0))
sha256sum < /tmp/b16 > /tmp/rekey.ref
if [ $moved = 0 ] && [ $rc = 0 ] && cmp -s /tmp/rekey.ref /tmp/rekey.out; then
	ok "links remade 3 times under a remote dd of 2 MiB: output identical ($resent frames sent again, $dups copies dropped)"
else
	log "moved=$moved exit=$rc; ref $(cat /tmp/rekey.ref); out $(cat /tmp/rekey.out); resent $resent, copies dropped $dups"
	log "node 1: $(migration_log 1)"
	bad "links remade under forwarded I/O"
fi

# Failure: node 2's link is cut while it hosts a guest. The process must end at home within the
# documented bound (node timeout 5 s + one gossip interval); nothing may stay behind on either node.
migrant -q -m 8 -t 120 > /dev/null 2>&1 &
p=$!
sleep 0.5
to2 "$p" migrant-failure
moved=$?
agent 2 "cut?15" > /dev/null
t0=$(now)
ended "$p"
gone=$?
wait "$p"
rc=$?
t1=$(now)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
stale=$(grep -c migrant /proc/hpc/procs)
if [ $moved = 0 ] && [ $gone = 0 ] && [ $rc = 137 ] && [ "$stale" = 0 ] && awk -v s="$secs" 'BEGIN { exit !(s <= 10) }'; then
	ok "node 2 cut off: the process ended at home after $secs s with SIGKILL, no stale record"
else
	log "moved=$moved gone=$gone exit=$rc after $secs s, stale records $stale"
	bad "failure of the remote node"
fi
# Node 2 comes back (link restored after 15 s) and must have dropped its guest.
left=1
for i in $(seq 1 60); do
	if agent 2 "hpc?procs" > /tmp/p2.out && [ -n "$(agent 2 "hpc?admin/version")" ]; then
		grep -q migrant /tmp/p2.out || { left=0; break; }
	fi
	sleep 0.5
done
if [ $left = 0 ] && ! agent 2 ps | grep -q migrant; then ok "node 2 dropped the guest whose home it lost"; else bad "stale guest on node 2"; fi

# Failure, for real: node 2's QEMU is killed (SIGKILL, by the cluster runner on the host, asked
# through the control channel) while it hosts a guest. The process must end at home within the
# documented bound with SIGKILL; node 1 stays healthy (a new process migrates to node 3 and
# finishes; mps --away shows nothing stale). Node 2 is gone for good after this: it is the last check of the last program.
for i in $(seq 1 100); do grep -q '^up' /proc/hpc/nodes/2/status && break; sleep 0.1; done
migrant -q -m 8 -t 120 > /dev/null 2>&1 &
p=$!
sleep 0.5
to2 "$p" migrant-qemu-kill
moved=$?
printf '\nOXMOSIX-KILL 2\n' > /dev/ttyS1
t0=$(now)
ended "$p"
gone=$?
wait "$p"
rc=$?
t1=$(now)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
stale=$(mps --away 2>/dev/null | grep -c migrant)
log "node 2 status now: $(cat /proc/hpc/nodes/2/status)"
# Healthy: a new process still migrates (to node 3) and finishes correctly.
migrant -q -m 2 -t 6 > /dev/null 2>&1 &
p=$!
sleep 0.3
hm=0
t0=$(now)
migrate "$p" 3 || hm=$?
hw=$(mosctl where "$p" 2>&1)
ht=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
[ "$hw" = 3 ] || log "$(proc_state "$p"); node 3: $(migration_log 3)"
wait "$p"
hrc=$?
healthy=1
[ $hm = 0 ] && [ "$hw" = 3 ] && [ $hrc = 0 ] && healthy=0
[ $healthy = 0 ] || log "healthy: migrate to node 3 exit $hm in $ht s, where '$hw', exit $hrc; node 3 status $(cat /proc/hpc/nodes/3/status); $(dmesg | tail -5 | tr '\n' '|')"
if [ $moved = 0 ] && [ $gone = 0 ] && [ $rc = 137 ] && [ "$stale" = 0 ] && [ $healthy = 0 ] &&
	awk -v s="$secs" 'BEGIN { exit !(s <= 10) }'; then
	ok "QEMU of node 2 killed: the process ended at home after $secs s with SIGKILL; mps clean; node 1 healthy"
else
	log "moved=$moved gone=$gone exit=$rc after $secs s, stale in mps --away $stale, healthy: $healthy"
	bad "QEMU of the remote node killed"
fi

ktap_end
