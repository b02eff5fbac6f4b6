# mk/dtoa.mk — the number printer's benchmark (never part of `make test`).
#   make bench-dtoa   build $(BUILD)/bench_dtoa and run it: api/dtoa.c's shortest printer against
#                     snprintf("%.17g") and the old %.15g/16/17 + strtod loop, and the JSON writer
#                     (jw_doubles), doubles/s and MB/s medians side by side (10^6 doubles a set,
#                     9 runs, one thread). Knobs: DTOA_ARGS (e.g. "--n 200000 --reps 5").
# The correctness test is tests/unit/test_dtoa.c, part of `make test`; the table in api/dtoa.c
# comes from tools/gen_pow10_table.py (--write api/dtoa.c regenerates it, --check verifies it).

.PHONY: bench-dtoa

DTOA_ARGS ?=

$(BUILD)/bench_dtoa: bench/bench_dtoa.c bench/bench_util.h $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(LINK_LIBS)

bench-dtoa: $(BUILD)/bench_dtoa
	$(BUILD)/bench_dtoa $(DTOA_ARGS)
