#!/usr/bin/env bash
# Build the tools/ workspace (statically linked, see tools/.cargo/config.toml) for the nodes.
. "$(dirname "$0")/lib.sh"
cd "$TOP/tools"
cargo build -q --release --locked --target-dir "$TARGETS/tools"
