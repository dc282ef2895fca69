# The two set-up commands are `make run` and `make test`; both install missing Debian
# packages first (scripts/install-deps), then build with CMake into build/.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
PORT    ?= 8000
ARGS    ?=

.PHONY: all deps build run test test-release test-asan test-tsan conformance bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/inferd --http-port $(PORT) --model-repository models $(ARGS)

# Sanitizer builds first, the plain build last, so the output ends in ctest's summary line.
test: deps test-asan test-tsan test-release

test-release:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DINFERD_WERROR=ON -DINFERD_SANITIZE=address >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow

test-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_WERROR=ON -DINFERD_SANITIZE=thread >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L tsan

conformance: build
	$(BUILD)/bin/inferd-conformance /usr/share/libonnx-testdata/data

bench: build
	scripts/install-deps --bench
	bench/run-all

clean:
	rm -rf $(BUILD) build-asan build-tsan
