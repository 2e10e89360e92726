# Convenience wrapper: `make` builds everything into build/, `make test` runs the suite,
# `make install PREFIX=/usr/local` installs the CLI and the preload library.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)

.PHONY: all test install clean demo
all:
	@cmake --preset release >/dev/null
	@cmake --build build -j $(JOBS)

test: all
	cd build && ctest --output-on-failure -j $(JOBS)

install: all
	cmake --install build --prefix $(PREFIX)

demo: all
	build/bin/memscope run -o build/demo.mstrace -- build/bin/ms-demo
	build/bin/memscope report build/demo.mstrace

clean:
	rm -rf build
