#!/usr/bin/env bash
# Build oxmosix.ko from src/ and rust/ against the cached kernel (top-level Kbuild, M=$TOP).
#   module.sh          normal build; Rust warnings are errors
#   module.sh lint     the same build through clippy (CLIPPY=1), warnings are errors
. "$(dirname "$0")/lib.sh"
kernel_env
[ -f "$KBUILD_DIR/.done" ] || die "kernel for the current inputs is not built: make kernel"
extra=()
if [ "${1:-}" = lint ]; then
	# Force a rebuild of the crate so clippy sees it.
	rm -f "$TOP/src/oxmosix.o"
	extra=(CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver)
fi
kmake -s M="$TOP" KRUSTFLAGS=-Dwarnings "${extra[@]}" modules
[ "${1:-}" != lint ] || log "clippy: module clean"
