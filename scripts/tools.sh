#!/usr/bin/env bash
# Build the tools/ workspace (statically linked, see tools/.cargo/config.toml) for the nodes.
. "$(dirname "$0")/lib.sh"
cd "$TOP/tools"
cargo build -q --release --locked --target-dir "$TARGETS/tools"
# The process a guest runs in on a remote node (no libc; see tools/shell/oxmosix-shell.c).
mkdir -p "$BUILD/shell"
gcc -static -nostdlib -Os -fno-asynchronous-unwind-tables -Wall -Werror \
	-o "$BUILD/shell/oxmosix-shell" "$TOP/tools/shell/oxmosix-shell.c"
