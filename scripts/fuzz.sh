#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (libfuzzer-sys from crates.io), for a bounded time per
# target, built with the same SanitizerCoverage instrumentation cargo-fuzz uses, on the stable
# toolchain. Targets (tests/fuzz/fuzz_targets): decode_frame (the wire decoder), handshake (both
# roles of the link handshake fed forged frames), link_rx (the receive state machine of an
# established link: opener, then decoder, frames up to the maximum size).
#   Usage: fuzz.sh [SECONDS [TARGET...]]   (default 30 s each, all targets)
# Prints each target's executed-unit count; fails on any crash.
. "$(dirname "$0")/lib.sh"
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_frame handshake link_rx)
cd "$TOP/tests/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build -q --release --locked "${bins[@]}" --target x86_64-unknown-linux-gnu --target-dir "$TARGETS/fuzz"
rc=0
for t in "${targets[@]}"; do
	corpus=$TOP/build/fuzz-corpus/$t
	mkdir -p "$corpus"
	[ "$t" != decode_frame ] || cp -n "$TOP"/tests/fuzz/seeds/* "$corpus/" 2>/dev/null || true
	max=4096
	[ "$t" != link_rx ] || max=140000
	r=0
	"$TARGETS/fuzz/x86_64-unknown-linux-gnu/release/$t" -max_total_time="$secs" -max_len=$max \
		-print_final_stats=1 -artifact_prefix="$TOP/build/fuzz-$t-" "$corpus" > "$TOP/build/fuzz-$t.log" 2>&1 || r=$?
	echo "$t: $(grep -E '^stat::number_of_executed_units' "$TOP/build/fuzz-$t.log" | awk '{print $2}') executions in $secs s"
	grep -E 'ERROR|panicked|SUMMARY|^artifact' "$TOP/build/fuzz-$t.log" || true
	if [ $r != 0 ]; then
		tail -30 "$TOP/build/fuzz-$t.log"
		echo "fuzzer found a crash in $t (exit $r), see build/fuzz-$t.log"
		rc=1
	fi
done
[ $rc = 0 ] || die "fuzzing failed"
