/*
 * bench_dtoa.c — how fast api/dtoa.c prints doubles, side by side in one run
 * with the printers it replaced: snprintf("%.17g") (always 17 digits, not the
 * shortest) and the old jw.c loop (%.15g, %.16g, %.17g until strtod reads the
 * value back). One thread; each printer appends every value of a set of 10^6
 * doubles into one buffer, as the JSON writer does. Prints the median of
 * --reps timed runs (after one warm-up) as doubles/s and MB/s of text, and
 * the JSON writer itself (jw_doubles: commas, buffer growth, the lot; and
 * into an already grown buffer, which leaves out allocation and page faults). Times
 * are the thread's CPU time (a shared machine's other load is not counted);
 * the wall-clock median per double is printed beside.
 *
 *   build/bench_dtoa [--n N] [--reps R]
 *
 * The sets: uniform in [0, 1) (what normalised weights look like), 1/n for
 * random n (class weights), random bit patterns (every exponent), short
 * decimals (0.1, 2.5, 1e-3: numbers a person typed), integral values.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "bench_util.h"

typedef size_t (*printer)(char *out, double v);

static size_t p_dtoa(char *out, double v) { return dtoa_shortest(out, v); }

static size_t p_printf17(char *out, double v) { return (size_t)snprintf(out, 32, "%.17g", v); }

/* The loop jw.c used before dtoa.c. */
static size_t p_old(char *out, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* Appends every value to buf; returns the bytes written. */
static size_t run(printer p, const double *v, size_t n, char *buf)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += p(buf + len, v[i]);
        buf[len++] = ',';
    }
    return len;
}

/* A fresh writer each run: the buffer grows from 256 bytes by doubling, and
 * its new pages fault in, as a response's do. */
static size_t run_jw(const double *v, size_t n)
{
    jw w;
    jw_init(&w);
    jw_doubles(&w, v, n);
    size_t len;
    char *s = jw_take(&w, &len);
    free(s);
    return len;
}

/* The same writer every run, emptied: the printing and the writer's own
 * per-number work without the allocation and page faults. */
static jw warm;
static size_t run_jw_warm(const double *v, size_t n)
{
    warm.len = 0;
    jw_doubles(&warm, v, n);
    return warm.len;
}

typedef struct {
    double ns_per, mbps, wall_ns_per;
} result;

static result measure(printer p, int kind, const double *v, size_t n, char *buf, int reps)
{
    double t[64], wt[64];
    size_t bytes = 0;
    for (int r = -1; r < reps; r++) {
        /* CPU time of this thread: on a shared machine, time spent descheduled
         * is not the printer's. The wall-clock median is printed beside it. */
        double a = bench_clock(CLOCK_THREAD_CPUTIME_ID), wa = bench_clock(CLOCK_MONOTONIC);
        bytes = p ? run(p, v, n, buf) : kind ? run_jw_warm(v, n) : run_jw(v, n);
        double dt = bench_clock(CLOCK_THREAD_CPUTIME_ID) - a,
               wdt = bench_clock(CLOCK_MONOTONIC) - wa;
        if (r >= 0) {
            t[r] = dt;
            wt[r] = wdt;
        }
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
    qsort(wt, (size_t)reps, sizeof wt[0], bench_cmp_double);
    double med = t[reps / 2];
    result res = {med / (double)n * 1e9, (double)bytes / med / 1e6, wt[reps / 2] / (double)n * 1e9};
    return res;
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int reps = 9;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--n N] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64 || n == 0) {
        fprintf(stderr, "--reps 1..64, --n > 0\n");
        return 2;
    }
    static const char *const sets[] = {"uniform [0,1)", "1/n", "random bits", "short decimals",
                                       "integral"};
    double *v = malloc(n * sizeof *v);
    char *buf = malloc(n * 33);
    if (!v || !buf)
        return 1;
    printf("%zu doubles a set, median of %d runs, one thread\n", n, reps);
    printf("%-15s %-22s %10s %12s %9s %10s\n", "set", "printer", "ns/double", "Mdoubles/s", "MB/s",
           "wall ns");
    for (int s = 0; s < 5; s++) {
        for (size_t i = 0; i < n; i++) {
            uint64_t b;
            switch (s) {
            case 0:
                v[i] = bench_unit();
                break;
            case 1:
                v[i] = 1.0 / (double)(1 + bench_rnd() % 1000000);
                break;
            case 2:
                do
                    b = bench_rnd();
                while (((b >> 52) & 0x7ff) == 0x7ff);
                memcpy(&v[i], &b, sizeof b);
                break;
            case 3:
                v[i] = (double)(bench_rnd() % 100000) / 1000.0;
                break;
            default:
                v[i] = (double)(bench_rnd() % 1000000);
                break;
            }
        }
        static const char *const names[] = {"dtoa_shortest", "snprintf %.17g",
                                            "old %.15g/16/17+strtod", "jw_doubles (writer)",
                                            "jw_doubles warm buffer"};
        printer ps[] = {p_dtoa, p_printf17, p_old, NULL, NULL};
        for (int k = 0; k < 5; k++) {
            result r = measure(ps[k], k == 4, v, n, buf, reps);
            printf("%-15s %-22s %10.1f %12.2f %9.0f %10.1f\n", sets[s], names[k], r.ns_per,
                   1e3 / r.ns_per, r.mbps, r.wall_ns_per);
        }
    }
    jw_free(&warm);
    free(v);
    free(buf);
    return 0;
}
