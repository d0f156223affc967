# shellcheck shell=bash
# Common settings for the oxmosix build scripts. Sourced, never executed.
#
# OXMOSIX_CACHE   where heavy, input-keyed builds live (default ~/.cache/oxmosix)
# JOBS            parallel make jobs (default: number of CPUs)

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${OXMOSIX_CACHE:-$HOME/.cache/oxmosix}
JOBS=${JOBS:-$(nproc)}
BUILD=$TOP/build                      # per-clone artifacts (gitignored)

# Kernel Rust must be built with Debian's rustc-web: rustup's rustc has no library source.
KRUSTC=/usr/bin/rustc
BINDGEN_VERSION=0.73.2
BINDGEN=$CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz

# Cargo target directories live in the cache too (cargo's fingerprints keep them correct), so a
# fresh clone does not rebuild every crate: one per workspace.
TARGETS=$CACHE/cargo-target
TOOLS_BIN=$TARGETS/tools/x86_64-unknown-linux-gnu/release

mkdir -p "$CACHE" "$BUILD"

log() { printf '%s\n' "oxmosix: $*" >&2; }
die() { printf '%s\n' "oxmosix: error: $*" >&2; exit 1; }

# stage NAME CMD...: run CMD and print its wall-clock duration.
stage() {
	local name=$1 t0 ms rc=0
	shift
	t0=$(date +%s%N)
	"$@" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf 'oxmosix: stage %-10s %4d.%01ds %s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100)) \
		"$([ $rc = 0 ] && echo ok || echo "FAILED (rc=$rc)")" >&2
	return $rc
}

# kernel_key: hash of every input of the kernel build. Changing any of them means a new build dir.
kernel_key() {
	{
		echo "src $(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)"
		stat -c '%s %Y' "$KSRC_TARBALL" 2>/dev/null || true
		echo "rustc $($KRUSTC --version 2>/dev/null)"
		echo "clang $(clang --version 2>/dev/null | head -1)"
		echo "ld.lld $(ld.lld --version 2>/dev/null | head -1)"
		echo "bindgen $BINDGEN_VERSION"
		# The patches' diffs, in series order (their commit messages do not affect the build).
		while read -r p; do
			case "$p" in ''|'#'*) continue ;; esac
			echo "patch $p"
			sed -n '/^---$/,$p' "$TOP/patches/$p"
		done < "$TOP/patches/series"
		cat "$TOP/config/oxmosix.config"
		cat "$TOP/scripts/kernel.sh"
	} | sha256sum | cut -c1-16
}

KDIR_FOR_KEY() { echo "$CACHE/kernel-$1"; }

# kmake ARGS...: make in the cached kernel tree with the project's toolchain.
kmake() {
	make -C "$KSRC" LLVM=1 RUSTC="$KRUSTC" BINDGEN="$BINDGEN" "$@"
}

# Locate the cached, finished kernel build for the current inputs (sets KSRC, KIMAGE).
kernel_env() {
	local key
	key=$(kernel_key)
	KBUILD_DIR=$(KDIR_FOR_KEY "$key")
	KSRC=$KBUILD_DIR/linux
	KIMAGE=$KSRC/arch/x86/boot/bzImage
}
