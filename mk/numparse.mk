# mk/numparse.mk — the number parser's benchmark (never part of `make test`).
#   make bench-numparse   build $(BUILD)/bench_numparse and run it: api/numparse.c against
#                         glibc's strtod and the whole request decoder, MB/s per core
#                         (the thread's CPU time) medians side by side (10^6 numbers an
#                         array, 9 runs of at least 50 ms). Knobs: NUMPARSE_ARGS
#                         (e.g. "--n 200000 --reps 5 --min-ms 20").
# The correctness test is tests/unit/test_numparse.c, part of `make test`.

.PHONY: bench-numparse

NUMPARSE_ARGS ?=

$(BUILD)/bench_numparse: bench/bench_numparse.c bench/bench_util.h $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(LINK_LIBS)

bench-numparse: $(BUILD)/bench_numparse
	$(BUILD)/bench_numparse $(NUMPARSE_ARGS)
