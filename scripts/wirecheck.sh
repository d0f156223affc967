#!/usr/bin/env bash
# What crosses the wire: runs tests/selftests/oxmosix/wire_test.sh on a 2-node cluster with each
# node's traffic captured (scripts/cluster --capture), then looks for the test's markers in the
# capture. The marker of the sealed phase (a migrated process's memory and its forwarded write)
# must not appear; the marker of the plaintext control phase must (so the capture did see the
# traffic). Prints one "ok -"/"not ok -" line per check; exits 1 if any failed.
. "$(dirname "$0")/lib.sh"
out=$BUILD/check/wire
rm -rf "$out"
mkdir -p "$out"
rc=0
"$TOP/scripts/cluster" run --nodes 2 --timeout 400 --capture "$out" \
	"$TOP/tests/selftests/oxmosix/wire_test.sh" > "$out/run.txt" 2> "$out/cluster.log" || rc=$?
sed 's/^/    /' "$out/run.txt"
bytes=$(cat "$out"/net*.pcap 2>/dev/null | wc -c)
sealed=$(sed -n 's/^marker sealed //p' "$out/run.txt")
plain=$(sed -n 's/^marker plain //p' "$out/run.txt")
fail=0
check() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fail=1; fi; }
check "$rc" "wire: cluster run (exit $rc, build/check/wire/cluster.log)"
found() { grep -q "$1" "$out/run.txt" && echo 0 || echo 1; }
count() { { cat "$out"/net*.pcap | grep -a -o -F "$1" || true; } | wc -l; }
check "$(found '^phase sealed ok')" "wire: sealed phase ran (migration and forwarded write)"
check "$(found '^phase plain ok')" "wire: plaintext control phase ran"
if [ -n "$sealed" ]; then
	n=$(count "$sealed")
	check "$([ "$n" = 0 ] && echo 0 || echo 1)" "wire: sealed marker absent from $bytes captured bytes (found $n times)"
else
	check 1 "wire: sealed marker missing from the test's output"
fi
if [ -n "$plain" ]; then
	n=$(count "$plain")
	check "$([ "$n" -gt 0 ] && echo 0 || echo 1)" "wire: plaintext control marker present in the capture (found $n times)"
else
	check 1 "wire: plaintext marker missing from the test's output"
fi
rm -f "$out"/net*.pcap
exit $fail
