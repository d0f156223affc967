#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Wire test, run on node 1 of a 2-node cluster whose network scripts/wirecheck.sh captures.
# Phase "sealed": a migrant holding a fresh random marker in 256 KiB of its memory migrates to
# node 2 and, from there, writes the marker into a file at home (a forwarded write). Phase
# "plain", the control: the same over links made anew with the bench-only plaintext switch on
# both nodes. Prints "marker PHASE TEXT" and "phase PHASE ok|failed ..." lines; the host then
# looks for each marker in the capture: the sealed one must not be there, the plain one must.
T=/opt/oxmosix/selftests/oxmosix
NET=${OXNET:-10.77.0}
PATH=/opt/oxmosix/bin:$PATH

# GET /cgi-bin/QUERY from node $1's test agent.
agent() { printf 'GET /cgi-bin/%s HTTP/1.0\r\n\r\n' "$2" | nc "$NET.$1" 8000 | tail -n +4; }
rand() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
connected() { grep -q connected /proc/hpc/nodes/2/status 2>/dev/null; }
wait_connected() {
	i=0
	while ! connected && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	connected
}

phase() {
	mark="OXMWIRE-$1-$(rand)"
	echo "marker $1 $mark"
	rm -f "/tmp/wire-$1"
	"$T/migrant" -q -m 2 -t 6 -w "/tmp/wire-$1" -k "$mark" > "/tmp/wire-$1.log" 2>&1 &
	pid=$!
	i=0
	while ! grep -q ready "/tmp/wire-$1.log" && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
	if ! migrate "$pid" 2; then
		echo "phase $1 failed: migrate"
		kill -9 "$pid"
		return
	fi
	wait "$pid"
	rc=$?
	if [ $rc = 0 ] && grep -qx "$mark" "/tmp/wire-$1"; then
		echo "phase $1 ok: migrated to node 2, wrote the marker home, exited 0"
	else
		echo "phase $1 failed: exit $rc, file: $(cat "/tmp/wire-$1" 2>&1)"
		cat "/tmp/wire-$1.log"
	fi
}

wait_connected || echo "phase setup failed: node 2 not connected"
phase sealed
# The control: both nodes ask for plaintext links, then retire the cluster key for another one,
# which closes the sealed link; it is made again, unencrypted.
mosctl set-plaintext 1
agent 2 "mosctl?set-plaintext+1" | grep -q "exit 0" || echo "phase setup failed: node 2 plaintext"
mosctl setkey --retire /etc/oxmosix/other.key
agent 2 "setkey?other+retire" | grep -q ok || echo "phase setup failed: node 2 key"
sleep 1
wait_connected || echo "phase setup failed: node 2 not connected again"
phase plain
grep -E '^(rekeyed|frame_auth_failures|plaintext_mismatch) ' /proc/hpc/info/counters
