# mk/bench.mk — benchmarks (never part of `make test`).
#   make bench   build everything and bench/run.sh: ballastd (HTTP/JSON and .npy; keep-alive and
#                curl -F clients), the core and api in-process (build/bench_core), Python + PyTorch
#                in one process (one thread) and nginx returning a fixed body, side by side in one
#                run, then number parsing and printing (build/bench_numparse, build/bench_dtoa:
#                mk/numparse.mk, mk/dtoa.mk); writes bench/RESULTS.md, every figure beside its
#                target in the Summary. About 10 minutes; waits (up to BENCH_MAX_WAIT s, default
#                180) for the load to drop. Knobs: BENCH_REPS (9), BENCH_WRK_REPS (5),
#                BENCH_WRK_SECONDS (10), BENCH_OUT, BENCH_NUMPARSE_ARGS (default --reps
#                BENCH_REPS), BENCH_DTOA_ARGS (default --reps min(BENCH_REPS, 5)), BENCH_TIMEOUT.
# Missing tools (wrk, nginx, Debian's python3-torch and python3-numpy) are installed from Debian
# by `make bench-deps` (bench/install-deps.sh), which `make bench` runs first.

.PHONY: bench bench-deps

BENCH_PYTHON ?= /usr/bin/python3

bench-deps:
	@{ command -v wrk && { command -v nginx || test -x /usr/sbin/nginx; } && \
	   $(BENCH_PYTHON) -c 'import torch, numpy'; } >/dev/null 2>&1 || bench/install-deps.sh

# The benchmark programs (here, mk/numparse.mk, mk/dtoa.mk): the product's
# standard and warnings, optimised, without its debugging flags.
BENCH_CFLAGS = $(CSTD) $(WARN) -O2 -Ilib -Iapi

$(BUILD)/bench_core: bench/bench_core.c bench/bench_util.h $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(LINK_LIBS)

bench: all $(BUILD)/ballastd $(BALLAST_LIBS) $(BUILD)/bench_core \
		$(BUILD)/bench_numparse $(BUILD)/bench_dtoa | bench-deps
	BENCH_PYTHON=$(BENCH_PYTHON) bench/run.sh $(BUILD)

# The long overload run (bench/overload.py → bench/OVERLOAD.md): the mix of
# tests/http/test_overload.py for BENCH_OVERLOAD_SECONDS (default 120).
.PHONY: bench-overload
BENCH_OVERLOAD_SECONDS ?= 120
bench-overload: $(BUILD)/ballastd
	$(BENCH_PYTHON) bench/overload.py --build $(BUILD) --seconds $(BENCH_OVERLOAD_SECONDS)
