#!/usr/bin/env bash
# Coverage-guided fuzzing of the wire-protocol decoder with libFuzzer (libfuzzer-sys from
# crates.io), for a bounded time. Built with the same SanitizerCoverage instrumentation cargo-fuzz
# uses, on the stable toolchain.  Usage: fuzz.sh [SECONDS]   (default 30)
. "$(dirname "$0")/lib.sh"
secs=${1:-30}
cd "$TOP/tests/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
cargo build -q --release --locked --bin decode_frame --target x86_64-unknown-linux-gnu --target-dir "$TARGETS/fuzz"
corpus=$TOP/build/fuzz-corpus
mkdir -p "$corpus"
cp -n "$TOP"/tests/fuzz/seeds/* "$corpus/" 2>/dev/null || true
rc=0
"$TARGETS/fuzz/x86_64-unknown-linux-gnu/release/decode_frame" -max_total_time="$secs" -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$TOP/build/" "$corpus" > "$TOP/build/fuzz.log" 2>&1 || rc=$?
grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE|ERROR|panicked|SUMMARY|^artifact' "$TOP/build/fuzz.log" || true
[ $rc = 0 ] || { tail -30 "$TOP/build/fuzz.log"; die "fuzzer found a crash (exit $rc), see build/fuzz.log"; }
