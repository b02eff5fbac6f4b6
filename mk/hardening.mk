# mk/hardening.mk — production hardening: fuzzing, sanitizers, valgrind,
# allocation-failure injection.
#   make fuzz              build/fuzz/fuzz_api (libFuzzer + ASan + UBSan, clang; the api
#                          layer and server/multipart.c) and its seed corpus build/fuzz/corpus
#                          (from the conformance, api, hostile and multipart-parser cases)
#   make fuzz-run          fuzz for FUZZ_SECONDS (default 60) in one process, corpus kept
#                          between runs; crashes land in build/fuzz/artifacts/ — copy each to
#                          tests/fuzz-regressions/ (replayed by make test)
#   make check-sanitize    everything built with ASan + UBSan into build-sanitize/, then the
#                          whole suite (tests/run.sh build-sanitize), leaks detected
#   make check-valgrind    every Check program of $(BUILD)/tests under valgrind (CK_FORK=no)
# make test also runs, through EXTRA_TEST_BINS:
#   $(BUILD)/tests/test_chaos            the n-th allocation fails, for every n (tests/chaos/)
#   $(BUILD)/tests/test_fuzz_regressions tests/fuzz-regressions/* through the fuzz checks
# Missing tools (clang, libclang-rt, valgrind) are installed from Debian by `make hardening-deps`,
# which fuzz, check-sanitize and check-valgrind run first; make test needs none of them.

.PHONY: fuzz fuzz-run check-sanitize check-valgrind hardening-deps

HARDENING_PKGS := clang libclang-rt-14-dev valgrind
hardening-deps:
	@{ command -v clang && command -v valgrind && \
	   ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a; } >/dev/null 2>&1 || \
	 { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	   $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(HARDENING_PKGS); }

# ---- allocation-failure injection ------------------------------------------------------
# The api and lib objects are linked with malloc, calloc, realloc, strdup and
# free wrapped, so that the test decides which allocation fails; jansson's
# allocations come through json_set_alloc_funcs.
CHAOS_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=free
$(BUILD)/tests/test_chaos: tests/chaos/test_chaos.c $(API_OBJ) $(BUILD)/obj/gen/openapi.o \
		$(LIB_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(API_OBJ) $(BUILD)/obj/gen/openapi.o $(LIB_OBJ) $(CHAOS_WRAP) \
		$(SYSTEM_LIBS) $(CHECK_LIBS)

# ---- fuzzing ------------------------------------------------------------------------------
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := $(CSTD) $(WARN) -g -O1 -fno-omit-frame-pointer -Ilib -Iapi -Iserver -Ifuzz \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# server/multipart.c: the multipart modes (fuzz/fuzz_api.c) split bodies as
# ballastd does; it needs server/server.h (and api.h) only.
FUZZ_SRC     := fuzz/fuzz_api.c server/multipart.c $(LIB_SRC) $(API_SRC) $(BUILD)/gen/openapi.c

fuzz: $(FUZZ_DIR)/fuzz_api $(FUZZ_DIR)/corpus/.stamp

$(FUZZ_DIR)/fuzz_api: $(FUZZ_SRC) fuzz/fuzz_api.h server/server.h $(wildcard lib/*.h api/*.h) \
		| hardening-deps deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRC) $(SYSTEM_LIBS)

$(FUZZ_DIR)/corpus/.stamp: fuzz/make_corpus.py tests/hostile/cases.json tests/cases/api_cases.json \
		tests/http/npy_parts.py $(wildcard tests/conformance/*_cases.json)
	$(PYTHON) fuzz/make_corpus.py $(FUZZ_DIR)/corpus
	@touch $@

# One process (-workers=0 -jobs=0), so that a 2-core machine keeps a core for
# everything else. The corpus directory collects what the run finds.
fuzz-run: fuzz
	@mkdir -p $(FUZZ_DIR)/artifacts
	$(FUZZ_DIR)/fuzz_api -dict=fuzz/json.dict -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
		-rss_limit_mb=2048 -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus

# The regressions: every file of tests/fuzz-regressions/ through the same
# checks, without libFuzzer (gcc, part of make test).
$(BUILD)/tests/test_fuzz_regressions: tests/fuzz/test_fuzz_regressions.c fuzz/fuzz_api.c \
		fuzz/fuzz_api.h server/server.h $(BUILD)/obj/server/multipart.o $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iserver -Ifuzz -DFUZZ_NO_MAIN -o $@ $< fuzz/fuzz_api.c \
		$(BUILD)/obj/server/multipart.o $(LINK_LIBS) $(CHECK_LIBS)

EXTRA_TEST_BINS += $(BUILD)/tests/test_chaos $(BUILD)/tests/test_fuzz_regressions

# ---- sanitizers -----------------------------------------------------------------------------
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined
# gcc: its ASan runtime is a shared library, so the shared libballast
# (mk/install.mk, linked with --no-undefined) links as well as the programs.
SANITIZE_CC    ?= gcc
SANITIZE_OPT   := -O1 -g $(SANITIZE_FLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=all
# BALLAST_SANITIZE(_FLAGS) tell suites that compile programs of their own
# against the build (tests/http/test_install.py, test_readme.py) that the
# libraries need the sanitizer runtimes.
SANITIZE_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	BALLAST_SANITIZE=1 BALLAST_SANITIZE_FLAGS="$(SANITIZE_FLAGS)"

check-sanitize: | hardening-deps
	$(SANITIZE_ENV) $(MAKE) BUILD=$(SANITIZE_BUILD) CC=$(SANITIZE_CC) OPT="$(SANITIZE_OPT)" test

# ---- valgrind --------------------------------------------------------------------------------
VALGRIND := valgrind --leak-check=full --error-exitcode=1 \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect

check-valgrind: all $(UNIT_TESTS) $(EXTRA_TEST_BINS) | hardening-deps
	@failed=""; for t in $(BUILD)/tests/test_*; do \
	    [ -x "$$t" ] || continue; \
	    echo "== valgrind $$t"; \
	    CK_FORK=no $(VALGRIND) "$$t" > $(BUILD)/valgrind-$$(basename $$t).log 2>&1; rc=$$?; \
	    grep -E '^[0-9]+%: Checks|^==[0-9]+== (ERROR SUMMARY|.*(definitely|indirectly) lost)' \
	        $(BUILD)/valgrind-$$(basename $$t).log | tail -n 3; \
	    if [ $$rc -ne 0 ]; then failed="$$failed $$t"; \
	        echo "FAILED under valgrind (exit $$rc): $(BUILD)/valgrind-$$(basename $$t).log"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "valgrind: failures in$$failed"; exit 1; fi; \
	echo "valgrind: every Check program clean"
