#!/usr/bin/env bash
# Build the oxmosix kernel: Debian's linux-source-6.12 + patches/series, tinyconfig + config/oxmosix.config,
# bzImage + Module.symvers, then the bindgen layout check. Cached under $OXMOSIX_CACHE/kernel-<key>, where
# <key> hashes every input (source version, patches, fragment, toolchain versions, this script): unchanged
# inputs reuse the finished tree, changed inputs build a new one from scratch.
. "$(dirname "$0")/lib.sh"

kernel_env
if [ -f "$KBUILD_DIR/.done" ]; then
	log "kernel up to date: $KIMAGE"
	exit 0
fi

log "building kernel into $KBUILD_DIR (inputs changed or first build)"
rm -rf "$KBUILD_DIR"
mkdir -p "$KBUILD_DIR"

unpack() {
	tar -C "$KBUILD_DIR" -xf "$KSRC_TARBALL"
	mv "$KBUILD_DIR/linux-source-6.12" "$KSRC"
}

apply_patches() {
	local p n=0
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		n=$((n + 1))
		if ! patch -d "$KSRC" -p1 --forward --batch --dry-run -s < "$TOP/patches/$p" >/tmp/oxmosix-patch.$$ 2>&1; then
			cat /tmp/oxmosix-patch.$$ >&2
			rm -f /tmp/oxmosix-patch.$$
			die "patch $p (#$n in patches/series) does not apply to $(basename "$KSRC_TARBALL"); kernel build stopped"
		fi
		patch -d "$KSRC" -p1 --forward --batch -s < "$TOP/patches/$p"
		log "applied $p"
	done < "$TOP/patches/series"
	rm -f /tmp/oxmosix-patch.$$
}

configure() {
	kmake -s tinyconfig
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KSRC" "$KSRC/.config" "$TOP/config/oxmosix.config" >/dev/null
	kmake -s olddefconfig
	# Every option of the fragment must have taken effect (Kconfig silently drops unmet dependencies).
	local line sym bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF "$line" "$KSRC/.config" || { echo "config: wanted '$line', got '$(grep "^${line%%=*}=" "$KSRC/.config" || echo unset)'" >&2; bad=1; } ;;
		'# CONFIG_'*' is not set')
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$KSRC/.config" || { echo "config: wanted $sym unset, got $(grep "^$sym=" "$KSRC/.config")" >&2; bad=1; } ;;
		esac
	done < "$TOP/config/oxmosix.config"
	[ $bad = 0 ] || die "config/oxmosix.config did not take effect (see above)"
	kmake -s rustavailable >/dev/null
}

build() {
	kmake -s -j"$JOBS" bzImage modules
}

stage unpack unpack
stage patch apply_patches
stage configure configure
stage build build
stage layout bash "$TOP/scripts/layoutcheck.sh" "$KSRC"
touch "$KBUILD_DIR/.done"

# Keep only the two newest finished kernel trees (each is ~2.5 GB).
ls -1dt "$CACHE"/kernel-* 2>/dev/null | tail -n +3 | while read -r old; do
	[ "$old" = "$KBUILD_DIR" ] || { log "pruning old kernel cache $old"; rm -rf "$old"; }
done
log "kernel ready: $KIMAGE"
