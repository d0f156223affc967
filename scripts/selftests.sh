#!/usr/bin/env bash
# Build the kselftest programs of tests/selftests/oxmosix into build/selftests/oxmosix, against the
# kselftest harness headers of the cached kernel tree.
. "$(dirname "$0")/lib.sh"
kernel_env
make -s -C "$TOP/tests/selftests/oxmosix" KSFT_DIR="$KSRC/tools/testing/selftests" O="$BUILD/selftests/oxmosix"
