# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Sourced by the shell selftests (balance_test, transparency_test) after they set `here` (their
# directory) and TOTAL (their plan): puts the tools in PATH, works in /tmp, reads this node's
# place in the cluster from the kernel command line (node, nodes, net), prints the KTAP header
# and plan (or skips, exit 4, unless this is node 1 of at least 3 nodes), and defines:
#   ok TEXT / bad TEXT   the next result, passed or failed (counted in n and fails)
#   log TEXT             diagnostics, every line prefixed "# " (make check shows them on failure)
#   now                  seconds since boot
#   agent K QUERY        a request to node K's HTTP agent (/cgi-bin/QUERY), its body on stdout
#   on K VERB            mosctl VERB on node K through its agent; fails unless mosctl exited 0
#   migration_log K      node K's last 5 migration/balance kernel messages on one line, "|" between
#   proc_state PID       `mosctl procinfo PID` and the task's State line here, on one line
#   ktap_end             checks the count of results against the plan; the exit status
export PATH=/opt/oxmosix/bin:$here:$PATH
cd /tmp || exit 1
node=$(sed -n 's/.*oxnode=\([0-9]*\).*/\1/p' /proc/cmdline)
nodes=$(sed -n 's/.*oxnodes=\([0-9]*\).*/\1/p' /proc/cmdline)
net=$(sed -n 's/.*oxnet=\([0-9.]*\).*/\1/p' /proc/cmdline)
net=${net:-10.77.0}
echo "TAP version 13"
if [ "${nodes:-0}" -lt 3 ] || [ "$node" != 1 ]; then
	echo "1..0 # SKIP needs node 1 of a cluster of at least 3 nodes"
	exit 4
fi
echo "1..$TOTAL"
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
log() { echo "$*" | sed 's/^/# /'; }
now() { awk '{ print $1 }' /proc/uptime; }
agent() { printf 'GET /cgi-bin/%s HTTP/1.0\r\n\r\n' "$2" | nc "$net.$1" 8000 2>/dev/null | sed '1,/^\r*$/d'; }
on() { agent "$1" "mosctl?$2" | grep -q '^exit 0'; }
migration_log() {
	if [ "$1" = "$node" ]; then dmesg; else agent "$1" dmesg; fi | grep -E 'migration|balance' | tail -5 | tr '\n' '|'
}
proc_state() { echo "$(mosctl procinfo "$1" 2>&1 | tr '\n' ' '); $(grep State "/proc/$1/status" 2>/dev/null)"; }
ktap_end() {
	[ "$n" = "$TOTAL" ] || echo "# bug: $n results for a plan of $TOTAL"
	[ "$fails" = 0 ]
}
