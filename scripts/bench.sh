#!/usr/bin/env bash
# make bench: migration benchmarks on 2 QEMU nodes (1 GiB each), reported as ratios to raw
# in-kernel transfers between the same nodes measured in the same run (tests/bench/migbench.c).
# Separate from the tests: nothing here passes or fails on a number. Output also goes to
# build/bench.txt.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -static -O2 -Wall -Werror -o "$tmp/migbench" "$TOP/tests/bench/migbench.c"
cat > "$tmp/bench.sh" <<'EOS'
export PATH=/opt/extra:/opt/oxmosix/selftests/oxmosix:$PATH
echo "migbench on $OXNODES nodes ($(nproc) CPU each, QEMU TCG), $(date -u)"
migbench
echo "node 1 migration counters after the run:"; sed 's/^/  /' /proc/hpc/info/migration
EOS
OXMOSIX_MEM=${OXMOSIX_MEM:-1024} "$TOP/scripts/cluster" run --nodes 2 --timeout 900 \
	--add "$tmp/migbench" "$tmp/bench.sh" | tee "$BUILD/bench.txt"
exit "${PIPESTATUS[0]}"
