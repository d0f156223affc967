#!/usr/bin/env bash
# make demo: "fork and forget" on a 3-node cluster (OXMOSIX_DEMO_NODES to change the count).
#
# From an ordinary shell on node 1 the demo starts a batch of six real, unmodified programs nobody
# here wrote, all at once and in the background: Debian's xz and bzip2 compressing two inputs
# each, busybox sha256sum of a large file and a busybox awk number cruncher. Nobody tells them
# where to run. It runs the batch twice:
#   1. with `mosctl stay` on node 1: nothing leaves node 1, the six share its one CPU. This is
#      the reference (unmigrated) run and its time the baseline;
#   2. with the balancers free: node 1's balancer moves processes to idle nodes while they run
#      (a live view every 2 s shows the loads and where each job runs).
# Then it compares every output with the reference run byte for byte (checksums), shows how often
# each job moved, both makespans and each node's balancer counters. Exit status 1 if a job failed
# or an output differs. Takes about 3-4 minutes after the build (the two runs ~2 min of that).
. "$(dirname "$0")/lib.sh"
NODES=${OXMOSIX_DEMO_NODES:-3}
case "$NODES" in ''|*[!0-9]*) die "OXMOSIX_DEMO_NODES must be a number" ;; esac
[ "$NODES" -ge 2 ] || die "the demo needs at least 2 nodes (OXMOSIX_DEMO_NODES=$NODES)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The part that runs on node 1 (busybox sh). OXNODE, OXNODES and OXNET come from the node's init.
cat > "$tmp/demo.sh" <<'EOS'
# shellcheck shell=sh disable=SC2034,SC2154 # variables set and read through eval (P1, cell1...)
# Sizes, chosen for QEMU TCG (one emulated CPU per node, roughly 10x slower than the host) so
# that each job takes about 10-25 s of CPU alone; the final table shows what each one took in
# the reference run ("cpu s"): scale a size if its job is far off. The inputs (~185 MiB with
# these sizes) and outputs live in /tmp, a tmpfs of at most half the node's 512 MiB.
BASE_KIB=1024     # awk-generated text every input is made from (~10 s to generate)
XZ_PARTS=3        # each xz -2 input: this many 1 MiB variants of the text (~15 s)
BZ_PARTS=10       # each bzip2 -9 input: this many variants (~14 s)
SHA_COPIES=6      # sha256sum input: all four compressor inputs, this many times over (~10 s)
CRUNCH=1000000    # iterations of the awk number cruncher (~15 s)

export PATH="/opt/oxmosix/bin:$PATH"
D=/tmp/demo
IN=$D/in
NODELIST=$(seq 1 "$OXNODES")
mkdir -p "$IN" || exit 1
cd "$D" || exit 1

# Node K's /proc/hpc/PATH, fetched from its test agent (HTTP on port 8000).
remote() {
	printf 'GET /cgi-bin/hpc?%s HTTP/1.0\r\n\r\n' "$2" | nc "$OXNET.$1" 8000 2>/dev/null | sed '1,/^\r*$/d'
}
# now: seconds since boot (10 ms resolution) into $NOW, without a fork.
now() { read -r NOW _ < /proc/uptime; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------------ the cluster
sleep 2
echo "oxmosix cluster: $OXNODES nodes on $OXNET.0/24, seen from node $OXNODE ($(mosctl version))"
printf '%-5s %-12s %-22s %5s %6s %10s\n' node address "status (node 1's view)" load speed "avail MiB"
for k in $NODELIST; do
	[ -n "$(remote "$k" admin/version | head -1)" ] || { echo "node $k did not answer"; exit 1; }
	printf '%-5s %-12s %-22s %5s %6s %10s\n' "$k" "$OXNET.$k" "$(cat "/proc/hpc/nodes/$k/status")" \
		"$(cat "/proc/hpc/nodes/$k/load")" "$(cat "/proc/hpc/nodes/$k/speed")" \
		"$(($(cat "/proc/hpc/nodes/$k/mem") / 1024))"
done
echo

# ------------------------------------------------------------------ inputs
# Deterministic text: lines of 6-14 common English words and a number, from a Park-Miller
# generator (exact in awk's doubles). Each input is a concatenation of "variants" of it: variant
# V has its letters rotated by V (lower case for V < 26, upper case after) and its digits by V,
# so no variant repeats another byte for byte (xz would find the repeats and have nothing to do).
now; t0=$NOW
awk -v seed=11 -v bytes=$((BASE_KIB * 1024)) 'BEGIN {
	nw = split("the a of and to in is it that for on with as was at by an be this from or are have " \
		"not but had they which one you were her all she there would their we him been has when " \
		"who will more no if out so said what up its about into than them can only other new " \
		"some could time these two may then do first any my now such like our over man me even " \
		"most made after also did many before must through back years where much your way well " \
		"down should because each just those people how too little state good very make world " \
		"still own see men work long get here between both life being under never day same " \
		"another know while last might us great old year off come since against go came right " \
		"used take three", w, " ")
	s = seed
	for (out = 0; out < bytes; out += length(line) + 1) {
		line = ""
		for (n = 6 + s % 9; n > 0; n--) { s = (s * 16807) % 2147483647; line = line w[1 + s % nw] " " }
		s = (s * 16807) % 2147483647
		line = line s
		print line
	}
}' > "$IN/text" || exit 1
rot() { awk -v s="$1" -v n="$2" 'BEGIN { n %= length(s); print substr(s, n + 1) substr(s, 1, n) }'; }
variant() {
	if [ "$1" -lt 26 ]; then to=$(rot abcdefghijklmnopqrstuvwxyz "$1"); else to=$(rot ABCDEFGHIJKLMNOPQRSTUVWXYZ "$1"); fi
	tr 'a-z0-9' "$to$(rot 0123456789 "$1")" < "$IN/text"
}
# mkinput NAME PARTS: the next PARTS variants into $IN/NAME.
v=0
mkinput() {
	: > "$IN/$1"
	i=0
	while [ $i -lt "$2" ]; do variant $v >> "$IN/$1"; v=$((v + 1)); i=$((i + 1)); done
}
[ $((2 * XZ_PARTS + 2 * BZ_PARTS)) -le 52 ] || { echo "demo: at most 52 variants (XZ_PARTS, BZ_PARTS)"; exit 1; }
mkinput xz-a "$XZ_PARTS"
mkinput xz-b "$XZ_PARTS"
mkinput bz2-a "$BZ_PARTS"
mkinput bz2-b "$BZ_PARTS"
i=0
while [ $i -lt "$SHA_COPIES" ]; do cat "$IN/xz-a" "$IN/xz-b" "$IN/bz2-a" "$IN/bz2-b"; i=$((i + 1)); done > "$IN/big"
now
mib() { echo $(($(wc -c < "$1") / 1048576)); }
echo "inputs (made in $(sub "$t0" "$NOW") s from $BASE_KIB KiB of awk-generated text): xz-a, xz-b $(mib "$IN/xz-a") MiB;" \
	"bz2-a, bz2-b $(mib "$IN/bz2-a") MiB; big $(mib "$IN/big") MiB;" \
	"node 1 has $(($(cat /proc/hpc/nodes/1/mem) / 1024)) MiB available"

# ------------------------------------------------------------------ the batch
JOBS="xz-a xz-b bz2-a bz2-b sha256 awk"
NJOBS=6
CRUNCH_AWK='BEGIN { s = 7; for (i = 1; i <= n; i++) s = (s * 31 + i * 7) % 1000003; print s }'
# start DIR: start the six jobs in the background, each writing its output to DIR/JOB (and its
# errors to DIR/JOB.err); their pids in P1..P6, the start time in T_START. Debian's xz and bzip2
# by full path: /bin/xz and /bin/bzip2 are busybox applets (and busybox xz only decompresses).
start() {
	mkdir -p "$1"
	now; T_START=$NOW
	/usr/bin/xz -2 -c "$IN/xz-a" > "$1/xz-a" 2> "$1/xz-a.err" & P1=$!
	/usr/bin/xz -2 -c "$IN/xz-b" > "$1/xz-b" 2> "$1/xz-b.err" & P2=$!
	/usr/bin/bzip2 -9 -c "$IN/bz2-a" > "$1/bz2-a" 2> "$1/bz2-a.err" & P3=$!
	/usr/bin/bzip2 -9 -c "$IN/bz2-b" > "$1/bz2-b" 2> "$1/bz2-b.err" & P4=$!
	sha256sum "$IN/big" > "$1/sha256" 2> "$1/sha256.err" & P5=$!
	awk -v n="$CRUNCH" "$CRUNCH_AWK" > "$1/awk" 2> "$1/awk.err" & P6=$!
}
# monitor DIR EVERY: every 2 s, until every job has ended, note where each job runs and how often
# it has migrated (mosctl procinfo: where, nmigs); every EVERY-th sample also prints the live view. Leaves "JOB MOVES CPU"
# lines in DIR/moves (CPU: its CPU seconds as last seen at home, sampled every 2 s: meaningful
# only for a job that never left node 1).
monitor() {
	mdir=$1
	every=$2
	printf '%6s |' time
	for k in $NODELIST; do printf ' %5s' "load$k"; done
	printf ' |'
	for j in $JOBS; do printf ' %-7s' "$j"; done
	echo
	tick=0
	while :; do
		now
		loads=
		for k in $NODELIST; do
			read -r l < "/proc/hpc/nodes/$k/load"
			loads="$loads $l"
		done
		alive=0
		i=1
		while [ $i -le $NJOBS ]; do
			eval "p=\$P$i last=\$last$i"
			st=Z
			read -r _ _ st _ _ _ _ _ _ _ _ _ _ ut stt _ 2>/dev/null < "/proc/$p/stat"
			if [ "$st" != Z ] && info=$(mosctl procinfo "$p" 2>/dev/null); then
				alive=1
				# "pid P home_pid H state S home N where W nmigs M ...": W is the 10th
				# word, M (its migrations so far, also those between two samples) the 12th.
				# shellcheck disable=SC2086 # split into words on purpose
				set -- $info
				w=${10}
				eval "moves$i=\${12}"
				cell=$w
				if [ -n "$last" ] && [ "$w" != "$last" ]; then
					cell="$w*"
				fi
				eval "last$i=\$w cpu$i=\$((ut + stt)) cell$i=\$cell"
			else
				eval "cell$i=-"
			fi
			i=$((i + 1))
		done
		if [ $((tick % every)) = 0 ] || [ $alive = 0 ]; then
			printf '%5ss |' $((${NOW%.*} - ${T_START%.*}))
			for l in $loads; do printf ' %5s' "$l"; done
			printf ' |'
			printf ' %-7s' "$cell1" "$cell2" "$cell3" "$cell4" "$cell5" "$cell6"
			echo
		fi
		[ $alive = 1 ] || break
		tick=$((tick + 1))
		sleep 2
	done
	i=1
	for j in $JOBS; do
		eval "m=\${moves$i:-0} c=\${cpu$i:-0}"
		echo "$j $m $(((c + 50) / 100))"
		i=$((i + 1))
	done > "$mdir/moves"
}
# batch DIR EVERY: run the batch, watch it, wait for it; sets MAKESPAN and RC1..RC6.
batch() {
	start "$1"
	( monitor "$1" "$2" ) &
	mon=$!
	i=1
	for j in $JOBS; do
		eval "p=\$P$i"
		wait "$p"
		eval "RC$i=\$?"
		i=$((i + 1))
	done
	now
	MAKESPAN=$(sub "$T_START" "$NOW")
	wait "$mon"
}

echo
echo "1. Reference run: 'mosctl stay' on node 1, so nothing leaves it; the six jobs share its CPU"
echo "   (live view every 10 s; load 100 = one busy CPU; a job's column is the node it runs on)"
mosctl stay || { echo "mosctl stay failed"; exit 1; }
batch "$D/ref" 5
REF_MAKESPAN=$MAKESPAN
i=1
for j in $JOBS; do eval "REF_RC$i=\$RC$i"; i=$((i + 1)); done
echo "   all six ended after $REF_MAKESPAN s"
mosctl nostay || { echo "mosctl nostay failed"; exit 1; }
sleep 5   # let node 1's load average decay

echo
echo "2. Fork and forget: the same six jobs started on node 1 again, now with the balancers free"
echo "   (every 2 s; * = it moved since the line before, - = it has ended)"
batch "$D/bal" 1
echo "   all six ended after $MAKESPAN s"

# ------------------------------------------------------------------ results
echo
printf '%-7s %4s  %-16s  %-16s  %-9s  %5s  %s\n' job exit "output sha256" "reference run" compared moves "cpu s (reference run)"
fail=0
i=1
for j in $JOBS; do
	eval "rc=\$RC$i refrc=\$REF_RC$i"
	out=$(sha256sum < "$D/bal/$j" | cut -c1-16)
	ref=$(sha256sum < "$D/ref/$j" | cut -c1-16)
	if [ "$out" = "$ref" ]; then same=same; else same=DIFFERENT; fail=1; fi
	[ "$rc" = 0 ] && [ "$refrc" = 0 ] || fail=1
	exitcol=$rc
	[ "$refrc" = 0 ] || exitcol="$rc (reference: $refrc)"
	moves=$(awk -v j="$j" '$1 == j { print $2 }' "$D/bal/moves")
	cpu=$(awk -v j="$j" '$1 == j { print $3 }' "$D/ref/moves")
	printf '%-7s %4s  %-16s  %-16s  %-9s  %5s  %s\n' "$j" "$exitcol" "$out" "$ref" "$same" "$moves" "$cpu"
	for r in bal ref; do
		[ -s "$D/$r/$j.err" ] && sed "s/^/        $j ($r run): /" "$D/$r/$j.err" | head -3
	done
	i=$((i + 1))
done
echo
echo "makespan with stay on node 1 (everything on node 1): $REF_MAKESPAN s"
echo "makespan balanced (fork and forget):                 $MAKESPAN s"
echo "ratio balanced/stay: $(awk -v a="$MAKESPAN" -v b="$REF_MAKESPAN" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
echo
echo "balancer counters (/proc/hpc/info/migration of each node):"
KEYS="balance_load balance_memory balance_io balance_failed out home"
printf '  %-5s' node
for key in $KEYS; do printf ' %14s' "$key"; done
echo
for k in $NODELIST; do
	if [ "$k" = "$OXNODE" ]; then cat /proc/hpc/info/migration; else remote "$k" info/migration; fi > "$D/counters.$k"
	printf '  %-5s' "$k"
	for key in $KEYS; do printf ' %14s' "$(awk -v k="$key" '$1 == k { v = $2 } END { print (v == "" ? "?" : v) }' "$D/counters.$k")"; done
	echo
done
echo
if [ $fail = 0 ]; then
	echo "every job succeeded, and every output is identical to the unmigrated run"
else
	echo "demo FAILED: a job failed or its output differs from the unmigrated run"
fi
exit $fail
EOS
"$TOP/scripts/cluster" run --nodes "$NODES" --timeout 900 "$tmp/demo.sh"
