# The two set-up commands are `make run` and `make test`; both install missing Debian
# packages first (scripts/install-deps), then build with CMake into build/.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
PORT    ?= 8000
ARGS    ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps check-test-deps build run test test-release test-asan test-tsan test-clang \
        test-fuzz fuzz build-fuzz coverage conformance bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/inferd --http-port $(PORT) --model-repository models $(ARGS)

# The dependency contract first (fails fast when a test uses a package install-deps lacks), then
# clang -Werror, the sanitizer builds, and the plain build last, so the output ends in ctest's
# summary line. docs/testing.md says what each step checks.
test: deps check-test-deps test-clang test-asan test-tsan test-fuzz test-release

check-test-deps: deps
	scripts/check-test-deps

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

# clang beside gcc: the whole tree at -Werror, then the fast unit tests.
test-clang:
	CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_WERROR=ON >/dev/null
	cmake --build build-clang -j $(JOBS)
	cd build-clang && ctest --output-on-failure -j $(JOBS) -L unit -LE slow

# gcov/lcov: every test (slow ones included) on an unoptimised instrumented build, then the
# line and function coverage of src/ (HTML in build-coverage/html). Needs install-deps --dev.
# COVERAGE_CTEST_ARGS='-LE slow' skips the slow reference cases.
coverage:
	scripts/install-deps --dev
	cmake -S . -B build-coverage -DCMAKE_BUILD_TYPE=Debug -DINFERD_COVERAGE=ON >/dev/null
	cmake --build build-coverage -j $(JOBS)
	lcov --quiet --zerocounters --directory build-coverage
	rc=0; (cd build-coverage && ctest --output-on-failure -j $(JOBS) $(COVERAGE_CTEST_ARGS)) || rc=$$?; \
	lcov --quiet --capture --directory build-coverage --output-file build-coverage/all.info && \
	lcov --quiet --extract build-coverage/all.info '$(CURDIR)/src/*' \
	     --output-file build-coverage/src.info && \
	genhtml --quiet --output-directory build-coverage/html build-coverage/src.info >/dev/null && \
	lcov --summary build-coverage/src.info && exit $$rc

# libFuzzer targets (tests/fuzz, clang only) in build-fuzz. `make fuzz` fuzzes each target
# for FUZZ_SECONDS; `make test-fuzz` (part of `make test`) replays every seed through ctest,
# then runs the same 500,000 inputs per target on every machine (fixed seed, fresh work
# corpus), so a regression that crashes on the corpus fails and CI tries what a run here tried.
build-fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_WERROR=ON -DINFERD_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

fuzz: build-fuzz
	tests/fuzz/run-fuzz build-fuzz $(FUZZ_SECONDS)

test-fuzz: build-fuzz
	cd build-fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz
	FUZZ_SEED=1 FUZZ_RUNS=500000 tests/fuzz/run-fuzz build-fuzz 120

conformance: build
	$(BUILD)/bin/inferd-conformance /usr/share/libonnx-testdata/data

bench: build
	scripts/install-deps --bench
	bench/run-all

clean:
	rm -rf $(BUILD) build-asan build-tsan build-clang build-coverage build-fuzz
