#!/usr/bin/env bash
# Build the node image build/node.cpio.gz: busybox, /init, oxmosix.ko, the tools and the selftests.
# Every node boots the same image; its identity comes from the kernel command line (scripts/cluster).
. "$(dirname "$0")/lib.sh"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,lib/modules,opt/oxmosix/bin,opt/oxmosix/selftests}

install -m 755 /bin/busybox "$root/bin/busybox"
install -m 755 "$TOP/scripts/node/init" "$root/init"
install -m 644 "$TOP/scripts/node/profile" "$root/etc/profile"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
# The cluster key every node of the test cluster shares (fresh for each image; mode 600 as an
# administrator would keep it), and a second one that cluster_test uses as a stranger's.
mkdir -p "$root/etc/oxmosix"
head -c 32 /dev/urandom > "$root/etc/oxmosix/cluster.key"
head -c 32 /dev/urandom > "$root/etc/oxmosix/other.key"
chmod 600 "$root/etc/oxmosix/cluster.key" "$root/etc/oxmosix/other.key"

[ -f "$TOP/oxmosix.ko" ] || die "oxmosix.ko missing: make module"
install -m 644 "$TOP/oxmosix.ko" "$root/lib/modules/oxmosix.ko"
for t in mosctl migrate mps mosrun runhome; do
	[ -x "$TOOLS_BIN/$t" ] || die "$TOOLS_BIN/$t missing: make tools"
	install -m 755 "$TOOLS_BIN/$t" "$root/opt/oxmosix/bin/$t"
done
# Dynamically linked Debian programs (with their libraries and loader) for the transparency tests.
for prog in /usr/bin/xz /usr/bin/bzip2; do
	[ -x "$prog" ] || die "$prog missing: make deps"
	install -m 755 "$prog" "$root/usr/bin/${prog##*/}"
	for lib in $(ldd "$prog" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
[ -x "$BUILD/shell/oxmosix-shell" ] || die "oxmosix-shell missing: make tools"
install -m 755 "$BUILD/shell/oxmosix-shell" "$root/sbin/oxmosix-shell"
[ -d "$BUILD/selftests/oxmosix" ] || die "selftests missing: make selftests"
cp -a "$BUILD/selftests/oxmosix" "$root/opt/oxmosix/selftests/"

(cd "$root" && find . | cpio -o -H newc --owner=0:0 --quiet | gzip -6) > "$BUILD/node.cpio.gz.tmp"
mv "$BUILD/node.cpio.gz.tmp" "$BUILD/node.cpio.gz"
log "node image $BUILD/node.cpio.gz ($(du -h "$BUILD/node.cpio.gz" | cut -f1))"
