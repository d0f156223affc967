#!/usr/bin/env bash
# Manual pages of the tools, made from their own argument definitions: each tool prints its page
# with `--man-page` (tools/dev/src/lib.rs, clap_mangen). Writes build/man/TOOL.1; with --check,
# also renders each with groff (all warnings on) and `man -l`, and fails on any warning or a page
# without its sections.
#   man.sh [--check]
. "$(dirname "$0")/lib.sh"
cd "$TOP/tools"
cargo build -q --release --locked --target-dir "$TARGETS/tools"
bin=$(find "$TARGETS/tools" -path '*/release/mosctl' -type f | head -1)
bin=${bin%/mosctl}
mkdir -p "$BUILD/man"
rc=0
for t in mosctl migrate mps mosrun runhome; do
	"$bin/$t" --man-page > "$BUILD/man/$t.1" || { echo "$t: --man-page failed"; rc=1; continue; }
	[ "${1:-}" = --check ] || continue
	w=$(groff -man -ww -z -Tutf8 "$BUILD/man/$t.1" 2>&1)
	[ -z "$w" ] || { echo "$t.1: groff warnings:"; echo "$w"; rc=1; }
	text=$(MANWIDTH=80 man -l "$BUILD/man/$t.1" 2>&1 | col -b)
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' 'SEE ALSO'; do
		grep -q "^$s" <<< "$text" || { echo "$t.1: no $s section"; rc=1; }
	done
	echo "$t.1: $(wc -l <<< "$text") lines rendered"
done
exit $rc
