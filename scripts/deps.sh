#!/usr/bin/env bash
# Install everything oxmosix needs to build, boot and test, from Debian packages and crates.io only.
# Idempotent: a no-op in seconds when everything is present.
. "$(dirname "$0")/lib.sh"

PKGS=(
	linux-source-6.12            # the kernel we patch
	rustc-web rust-web-src cargo-web rust-web-clippy rustfmt-web  # kernel Rust (/usr/bin/rustc)
	clang lld llvm libclang-dev  # LLVM=1 kernel build, bindgen's libclang
	make gcc libc6-dev flex bison bc libelf-dev libssl-dev cpio xz-utils kmod python3 dwarves
	qemu-system-x86 qemu-utils   # TCG guests (qemu-utils: 7.2 replaces the preinstalled one)
	busybox-static               # guest userland
	bzip2                        # a dynamically linked program the transparency tests migrate (with xz)
	iproute2 socat               # cluster segment (netns, bridge, taps); interactive node shells
	perl                         # the kernel's checkpatch.pl on patches/
	groff-base man-db bsdextrautils  # the tools' manual pages checked (groff, man -l, col)
	coreutils procps
)

missing=()
for p in "${PKGS[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

test -f "$($KRUSTC --print sysroot)/lib/rustlib/src/rust/library/core/src/lib.rs" ||
	die "rust-web-src missing under $($KRUSTC --print sysroot)/lib/rustlib/src"

if ! { [ -x "$BINDGEN" ] && "$BINDGEN" --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; }; then
	log "installing bindgen-cli $BINDGEN_VERSION into $(dirname "$(dirname "$BINDGEN")")"
	RUSTC=$KRUSTC /usr/bin/cargo install -q --locked --root "$(dirname "$(dirname "$BINDGEN")")" \
		"bindgen-cli@$BINDGEN_VERSION"
fi

# Host-side Rust (tools, host tests) uses the machine's rustup toolchain; it must exist.
command -v cargo >/dev/null || die "no host cargo in PATH (rustup toolchain expected)"
exit 0
