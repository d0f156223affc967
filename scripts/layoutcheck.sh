#!/usr/bin/env bash
# Bindgen layout check: re-run the kernel's own bindgen command for rust/bindings with layout tests enabled,
# then let rustc const-evaluate every size/alignment/offset assertion. A struct whose Rust layout differs
# from C's fails the check unless it is listed, with the reason, in config/layout-allow.txt.
#
# Why: bindgen silently drops __aligned__ on empty structs; with CONFIG_SCHEDSTATS=n this made Rust's
# struct task_struct 64 bytes short and every field after sched_statistics wrong, with no warning.
# Usage: layoutcheck.sh KSRC
. "$(dirname "$0")/lib.sh"
KSRC=${1:?usage: layoutcheck.sh KSRC}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

cmdfile=$KSRC/rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmdfile" ] || die "layoutcheck: $cmdfile missing (kernel not built?)"
cmd=$(sed -n 's/^savedcmd_rust\/bindings\/bindings_generated.rs := //p' "$cmdfile" |
	sed -e 's/--no-layout-tests//' -e 's/--rust-target 1\.[0-9]*/--rust-target 1.78/' \
		-e "s#-o rust/bindings/bindings_generated.rs#-o $W/b.rs#" -e 's#-Wp,-MMD,[^ ]*##')
(cd "$KSRC" && eval "$cmd")
cat > "$W/lib.rs" <<'EOR'
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, improper_ctypes, dead_code)]
#![allow(unnecessary_transmutes, unknown_lints, clippy::all)]
mod ffi { pub use core::ffi::*; }
pub type __kernel_size_t = usize;
pub type __kernel_ssize_t = isize;
pub type __kernel_ptrdiff_t = isize;
include!("b.rs");
EOR
n=$(grep -c 'Size of\|Alignment of\|Offset of' "$W/b.rs" || true)
[ "$n" -gt 1000 ] || die "layoutcheck: only $n layout assertions generated; bindgen command changed?"
if "$KRUSTC" --edition 2021 --crate-type lib --emit metadata -o "$W/x.rmeta" "$W/lib.rs" >"$W/check.log" 2>&1; then
	echo "layoutcheck: OK, $n layout assertions hold"
	exit 0
fi
allow=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/config/layout-allow.txt" | awk '{print $1}')
bad=$(grep -A4 '^error\[E0080' "$W/check.log" | grep -oE '"(Size|Alignment|Offset) of[^"]*"' | sort -u || true)
other=$(grep '^error' "$W/check.log" | grep -vc 'E0080\|aborting' || true)
real=$bad
for a in $allow; do
	real=$(printf '%s\n' "$real" | grep -vE "(of|of field:) ${a}(::|\")" || true)
done
real=$(printf '%s\n' "$real" | sed '/^$/d')
if [ -z "$real" ] && [ "$other" = 0 ]; then
	echo "layoutcheck: OK, $n layout assertions hold (allow-listed: $(echo $allow))"
	exit 0
fi
echo "layoutcheck: FAILED: Rust layout differs from C for:" >&2
printf '  %s\n' $real >&2
[ "$other" = 0 ] || { echo "layoutcheck: $other other compile errors:" >&2; grep '^error' "$W/check.log" | head -20 >&2; }
exit 1
