#!/bin/sh
# Runs the oxmosix selftests on a node and prints one KTAP stream, like the kernel's
# tools/testing/selftests/kselftest/runner.sh: a top-level plan, each program's own KTAP output
# indented with "# ", then "ok N selftests: oxmosix: NAME" or "not ok ...". Exit code 4 is a skip.
# Each program gets ${KSFT_TIMEOUT:-300} seconds unless the file `timeouts` ("NAME SECONDS" lines)
# gives it another limit.
# Usage: run_ktap.sh [TEST...]   (default: every test program in this directory)
cd "$(dirname "$0")" || exit 1
tests=${*:-$(cat tests.list)}
n=0
for t in $tests; do n=$((n + 1)); done
echo "TAP version 13"
echo "1..$n"
i=0
for t in $tests; do
	i=$((i + 1))
	echo "# selftests: oxmosix: $t"
	limit=$(awk -v t="$t" '$1 == t { print $2 }' timeouts 2>/dev/null)
	limit=${limit:-${KSFT_TIMEOUT:-300}}
	timeout "$limit" "./$t" > "/tmp/ksft-$t.out" 2>&1
	rc=$?
	sed 's/^/# /' "/tmp/ksft-$t.out"
	case $rc in
	0) echo "ok $i selftests: oxmosix: $t" ;;
	4) echo "ok $i selftests: oxmosix: $t # SKIP" ;;
	124|143) echo "not ok $i selftests: oxmosix: $t # TIMEOUT $limit seconds" ;; # 143: busybox timeout
	*) echo "not ok $i selftests: oxmosix: $t # exit=$rc" ;;
	esac
done
