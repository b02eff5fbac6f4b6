/*
 * bench_util.h — what the in-process benchmarks (bench_core.c,
 * bench_numparse.c, bench_dtoa.c) share: a clock, the comparison that sorts
 * times for their median, and the random numbers their inputs are made of.
 * Header-only (static functions).
 */
#ifndef BALLAST_BENCH_UTIL_H
#define BALLAST_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

/* Seconds on clk: CLOCK_MONOTONIC (wall), or CLOCK_THREAD_CPUTIME_ID, where
 * the time a shared machine spends on others is not counted. */
static inline double bench_clock(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* qsort's comparison of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* SplitMix64 from a fixed seed: every run measures the same inputs. */
static uint64_t bench_rng_state = 42;
static inline uint64_t bench_rnd(void)
{
    uint64_t z = (bench_rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A double in [0, 1) from the top 53 bits of one output. */
static inline double bench_unit(void) { return (double)(bench_rnd() >> 11) / 9007199254740992.0; }

#endif
