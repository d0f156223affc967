#!/usr/bin/env bash
# The layering rules of Documentation/architecture.md ("Rules"), checked on the source tree.
#   architecture.sh [TOP]     exit 0 when every rule holds; otherwise prints each violation
# 1. src/cluster/ never names migrate or balance; src/migrate/ never names balance.
# 2. The pure modules never name kernel types or rust/ abstractions, and are host-tested.
# 3. The crate denies unsafe code (#![deny(unsafe_code)] at its root); only mod kapi (rust/) allows it.
# 4. No file under src/ is longer than 700 lines, no function longer than 100.
set -uo pipefail
TOP=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 2
bad=0
fail() {
	echo "architecture: $*"
	bad=1
}

# code FILE...: the lines of FILE that are code (comments and doc comments dropped), as
# FILE:LINE:TEXT.
code() {
	grep -nH '' "$@" | sed -E 's#^([^:]+:[0-9]+:)(.*)$#\1\2#' |
		grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' | sed -E 's#([^:])//.*$#\1#'
}

# forbid DIR WHAT REGEX: no code line under DIR matches REGEX.
forbid() {
	local dir=$1 what=$2 re=$3 hits
	hits=$(code $(find "$dir" -name '*.rs' | sort) | grep -E "$re" || true)
	[ -z "$hits" ] || fail "$dir names $what:"$'\n'"$hits"
}

# 1. Floors: the transport knows no feature, migration knows no balancer.
forbid src/cluster "migration or balancing" '\b(crate|super)::(migrate|balance)\b|\b(migrate|balance)::'
forbid src/migrate "balancing" '\b(crate|super)::balance\b|\bbalance::'

# 2. Pure modules: no kernel crate, no kapi, no kernel allocation types or log macros.
kernel_re='\bkernel::|\bkapi\b|\bbindings::|\bK(V)?Vec\b|\bKBox\b|\bpr_(info|warn|err|debug)!|\bCondVar\b|\bMutex<'
for pure in src/proto src/load src/balance/decide.rs src/syscalls.rs src/uapi.rs src/map.rs src/counters.rs; do
	forbid "$pure" "kernel types" "$kernel_re"
done
# ... and each is compiled on the host (tests/host, tools/uapi).
for p in src/proto/mod.rs src/load/mod.rs src/balance/decide.rs src/syscalls.rs; do
	grep -q "\"../../../$p\"" tests/host/src/lib.rs || fail "$p is not compiled by tests/host/src/lib.rs"
done
for p in src/uapi.rs src/map.rs; do
	grep -q "\"../../../$p\"" tools/uapi/src/lib.rs || fail "$p is not compiled by tools/uapi"
done

# 3. The crate root denies unsafe code; the one allow is on mod kapi (rust/).
grep -q '^#!\[deny(unsafe_code)\]' src/oxmosix.rs || fail "src/oxmosix.rs lacks #![deny(unsafe_code)]"
allows=$(grep -rn 'allow(unsafe_code)' src --include='*.rs' | grep -v '^[^:]*:[0-9]*:[[:space:]]*//' || true)
[ "$allows" = "src/oxmosix.rs:$(grep -n 'allow(unsafe_code)' src/oxmosix.rs | cut -d: -f1):#[allow(unsafe_code)]" ] &&
	grep -A2 'allow(unsafe_code)' src/oxmosix.rs | grep -q '^mod kapi;' ||
	fail "unsafe code is allowed outside mod kapi:"$'\n'"$allows"

# 4. Sizes: files and functions.
for f in $(find src -name '*.rs' | sort); do
	n=$(wc -l < "$f")
	[ "$n" -le 700 ] || fail "$f has $n lines (at most 700: a longer file holds two concerns)"
done
long=$(awk '
	FNR == 1 { infn = 0 }
	!infn && /^[[:space:]]*(pub(\([a-z]+\))? )?(const )?fn [a-z_0-9]+/ && !/;[[:space:]]*$/ && !/\{.*\}[[:space:]]*$/ {
		match($0, /^[[:space:]]*/); ind = RLENGTH; start = FNR; name = $0; infn = 1; next
	}
	infn && /^[[:space:]]*}[[:space:]]*$/ {
		match($0, /^[[:space:]]*/)
		if (RLENGTH == ind) {
			if (FNR - start + 1 > 100) { sub(/^[[:space:]]*/, "", name); printf "%s:%d: %d lines: %s\n", FILENAME, start, FNR - start + 1, name }
			infn = 0
		}
	}' $(find src -name '*.rs' | sort))
[ -z "$long" ] || fail "functions longer than 100 lines:"$'\n'"$long"

[ "$bad" = 0 ] && echo "architecture: every rule holds"
exit $bad
