#!/usr/bin/env bash
# make check: every test of oxmosix, ending with one line "N passed, N failed".
#   check.sh [all|host|lint|layout|kselftest|soak]
# host: cargo tests of tools/ and of the module's pure-Rust parts (tests/host), and a bounded
#       libFuzzer run on the wire-protocol decoder
# lint: rustfmt, clippy (tools and module), layering rules (architecture.sh), unsafe confined to rust/, checkpatch on patches/
# layout: bindgen layout check of the cached kernel
# kselftest: tests/selftests/oxmosix on a 3-node cluster (migrate_test only there), the network and
#            cluster tests again on 5 nodes
# soak: soak_test alone for OXMOSIX_SOAK_SECS (600) seconds on a 3-node cluster (`make soak`)
. "$(dirname "$0")/lib.sh"
what=${1:-all}
OUT=$BUILD/check
rm -rf "$OUT"
mkdir -p "$OUT"
PASS=0
FAIL=0
declare -a FAILED=()

ok() { PASS=$((PASS + $1)); }
bad() { FAIL=$((FAIL + $1)); FAILED+=("$2"); }
# single NAME CMD...: one check that passes when CMD succeeds (output kept in build/check/NAME.log).
single() {
	local name=$1
	shift
	if "$@" > "$OUT/$name.log" 2>&1; then
		ok 1
		echo "ok - $name"
	else
		bad 1 "$name"
		echo "not ok - $name (build/check/$name.log):"
		tail -20 "$OUT/$name.log" | sed 's/^/    /'
	fi
}

# cargo_tests NAME DIR: run a crate's tests, add its test cases to the totals.
cargo_tests() {
	local name=$1 dir=$2 log=$OUT/$1.log p f
	(cd "$dir" && cargo test --release --locked --workspace --target-dir "$TARGETS/${dir##*/}" -- --nocapture) > "$log" 2>&1 || true
	if ! grep -q '^test result:' "$log"; then
		echo "$name did not run (build/check/$name.log):"; tail -20 "$log"
		bad 1 "$name: build"
		return
	fi
	p=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s += $1} END {print s + 0}')
	f=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s += $1} END {print s + 0}')
	ok "${p:-0}"
	[ "${f:-0}" = 0 ] || { bad "$f" "$name"; grep -E '^test .* FAILED|panicked' "$log" | head -20; }
	echo "$name: ${p:-0} passed, ${f:-0} failed"
}

host_tests() {
	cargo_tests host-tools "$TOP/tools"
	cargo_tests host-module "$TOP/tests/host"
	# The gossip simulation prints its measurements.
	grep -E '^gossip \(push-pull|^ +N +log2|^ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9]+$' "$OUT/host-module.log" | sed 's/^/    /'
	single syscalls-doc bash "$TOP/scripts/syscalls-doc.sh" --check
	single man bash "$TOP/scripts/man.sh" --check
	single fuzz bash "$TOP/scripts/fuzz.sh" "${OXMOSIX_FUZZ_SECONDS:-30}"
	grep ' executions in ' "$OUT/fuzz.log" | sed 's/^/    /' || true
}

unsafe_confined() {
	# src/ is safe Rust: every `unsafe` lives in rust/ (the kapi abstractions).
	! grep -rnw --include='*.rs' 'unsafe' "$TOP/src" | grep -vE '^[^:]+:[0-9]+:\s*//'
}

checkpatch() {
	kernel_env
	local p rc=0
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		# Run outside our git work tree: inside one, checkpatch lints the .patch file as a source file.
		(cd "$KSRC" && perl scripts/checkpatch.pl --no-tree --no-signoff -q "$TOP/patches/$p") || rc=1
	done < "$TOP/patches/series"
	return $rc
}

lints() {
	single rustfmt bash -c "rustfmt --edition 2021 --check '$TOP/src/oxmosix.rs' && cd '$TOP/tools' && cargo fmt --check && cd '$TOP/tests/host' && cargo fmt --check && cd '$TOP/tests/fuzz' && cargo fmt --check"
	single clippy-tools bash -c "cd '$TOP/tools' && cargo clippy -q --release --locked --workspace --all-targets --target-dir '$TARGETS/tools' -- -D warnings && cd '$TOP/tests/host' && cargo clippy -q --release --locked --all-targets --target-dir '$TARGETS/host' -- -D warnings"
	single clippy-module bash "$TOP/scripts/module.sh" lint
	single architecture bash "$TOP/scripts/architecture.sh"
	single unsafe-confined unsafe_confined
	single checkpatch checkpatch
}

layout() {
	kernel_env
	single layoutcheck bash "$TOP/scripts/layoutcheck.sh" "$KSRC"
}

# ktap_count FILE: add the KTAP results of FILE (leaf tests of every program, plus each program
# that failed as a whole) to the totals; a missing or short plan is a failure.
ktap_count() {
	local f=$1 plan got p nf
	plan=$(grep -m1 -E '^1\.\.[0-9]+$' "$f" | cut -d. -f3)
	got=$(grep -cE '^(not )?ok [0-9]+ ' "$f" || true)
	p=$(grep -E '^# ok [0-9]+ ' "$f" | grep -vc '# SKIP' || true)
	nf=$(grep -cE '^# not ok [0-9]+ |^not ok [0-9]+ ' "$f" || true)
	ok "$p"
	[ "$nf" = 0 ] || bad "$nf" "kselftest $(basename "$f")"
	if [ -z "$plan" ] || [ "$got" != "$plan" ]; then
		bad 1 "kselftest $(basename "$f"): plan ${plan:-missing}, $got results"
	fi
	# Results, and for each failed test the diagnostics it printed since the previous result.
	awk '/^# (not )?ok [0-9]+ |^(not )?ok [0-9]+ / {
		if ($0 ~ /not ok/) printf "%s", diag
		diag = ""; print "    " $0; next
	}
	/^# # / { diag = diag "        " $0 "\n" }' "$f"
}

# cluster_ktap NAME NODES TESTS [TIMEOUT]: run the selftests TESTS on node 1 of an NODES-node
# cluster (with the CPU hog of cluster_test waiting on node 2), within TIMEOUT seconds (900).
cluster_ktap() {
	local name=$1 nodes=$2 tests=$3 limit=${4:-900} rc=0
	printf '#!/bin/sh\nexec sh /opt/oxmosix/selftests/oxmosix/run_ktap.sh %s\n' "$tests" > "$OUT/$name.sh"
	echo "kselftests on $nodes nodes: $tests"
	stage "boot+test" "$TOP/scripts/cluster" run --nodes "$nodes" --timeout "$limit" \
		--on "2:$TOP/tests/selftests/oxmosix/hog.sh" "$OUT/$name.sh" \
		> "$OUT/$name.ktap" 2> "$OUT/$name.cluster.log" || rc=$?
	sed 's/^/    cluster: /' "$OUT/$name.cluster.log" | grep -v 'stage ' || true
	ktap_count "$OUT/$name.ktap"
	if [ "$rc" != 0 ]; then
		bad 1 "cluster run $name (exit $rc)"
		echo "not ok - cluster run on $nodes nodes exited $rc"
	fi
}

# The wire test (scripts/wirecheck.sh): its ok / not ok lines count as tests.
wire() {
	local log=$OUT/wire.log p f
	bash "$TOP/scripts/wirecheck.sh" > "$log" 2>&1 || true
	grep -E '^(not )?ok - ' "$log" | sed 's/^/    /'
	p=$(grep -c '^ok - ' "$log" || true)
	f=$(grep -c '^not ok - ' "$log" || true)
	ok "$p"
	[ "$f" = 0 ] || bad "$f" "wire test (build/check/wire.log)"
	[ "$p" -gt 0 ] || bad 1 "wire test did not run (build/check/wire.log)"
}

kselftests() {
	stage wire wire
	# All tests on 3 nodes but cluster_test, which runs on 5 (migrate_test alone may take up to
	# its 1500 s limit when things hang; transparency_test ends by killing node 2).
	cluster_ktap ktap-3nodes 3 "$(grep -vx cluster_test "$TOP/tests/selftests/oxmosix/tests.list" | tr '\n' ' ')" 3300
	cluster_ktap ktap-5nodes 5 "net_test cluster_test"
}

case "$what" in
all)
	stage host host_tests
	stage lint lints
	stage layout layout
	stage tests kselftests
	;;
host) stage host host_tests ;;
lint) stage lint lints ;;
layout) stage layout layout ;;
kselftest) stage tests kselftests ;;
soak)
	# The soak of the kselftests (2 minutes in `make check`) for 10 minutes, on its own cluster.
	OXMOSIX_APPEND="oxsoak=${OXMOSIX_SOAK_SECS:-600} ${OXMOSIX_APPEND:-}" \
		stage tests cluster_ktap soak-3nodes 3 soak_test 1800
	;;
*) die "usage: check.sh [all|host|lint|layout|kselftest|soak]" ;;
esac

[ ${#FAILED[@]} = 0 ] || printf 'failed: %s\n' "${FAILED[@]}"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
