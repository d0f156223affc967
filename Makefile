# SPDX-License-Identifier: GPL-2.0
# oxmosix top-level Makefile (user entry points; the kernel build reads ./Kbuild instead).
#
#   make demo      build everything (installing what is missing) and show a 3-node cluster
#   make check     build everything and run all tests: host tests, lints, layout check, kselftests
#   make soak      10 minutes of random migrations under flapping links on a 3-node cluster
#   make man       the tools' manual pages in build/man (from their argument definitions), checked
#   make deps | kernel | module | tools | selftests | image | lint | host-test | kselftest | clean
#
# Heavy builds are cached in $(OXMOSIX_CACHE) (default ~/.cache/oxmosix), keyed by their inputs.

S := scripts/stage

.PHONY: man soak bench all deps kernel module tools selftests image demo check lint host-test kselftest layoutcheck clean

all: image

deps:
	@$(S) deps bash scripts/deps.sh

kernel: deps
	@$(S) kernel bash scripts/kernel.sh

module: kernel
	@$(S) module bash scripts/module.sh

tools: deps
	@$(S) tools bash scripts/tools.sh

selftests: kernel
	@$(S) selftests bash scripts/selftests.sh

image: module tools selftests
	@$(S) image bash scripts/image.sh

man: deps
	@bash scripts/man.sh --check

demo: image
	@bash scripts/demo.sh

check: image
	@bash scripts/check.sh

bench: image
	@bash scripts/bench.sh

soak: image
	@bash scripts/check.sh soak

lint: module tools
	@bash scripts/check.sh lint

host-test: deps
	@bash scripts/check.sh host

kselftest: image
	@bash scripts/check.sh kselftest

layoutcheck: kernel
	@bash scripts/check.sh layout

clean:
	-@bash -c '. scripts/lib.sh; kernel_env; [ -d "$$KSRC" ] && make -C "$$KSRC" M=$$PWD clean >/dev/null || true'
	rm -rf build tools/target tests/host/target tests/fuzz/target
