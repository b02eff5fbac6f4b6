/*
 * bench_numparse.c — api/numparse.c against glibc's strtod on the number
 * arrays clients send, side by side in one run: MB/s of array text, the
 * median of --reps timed passes (default 9) after one untimed warm-up.
 *
 *   build/bench_numparse [--n COUNT] [--reps N]
 *
 * Each array is COUNT numbers (default 10^6) joined by ", ":
 *   logits17   uniform in [-10, 10), printed with %.17g (round-trip digits)
 *   bits17     doubles of uniformly random bits (all exponents), %.17g
 *   short      uniform in [0, 1) printed as 0.123 (%.3f)
 *   probs      uniform in [0, 1), shortest round-trip form (%.15g..%.17g)
 *   labels     integers in [0, 1000)
 * and for each: num_parse, strtod, and api_parse_request on the body
 * {"x": [...]} (the whole decoder: the fast-array extraction and jansson
 * for the envelope).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "bench_util.h"

enum { LOGITS17, BITS17, SHORT, PROBS, LABELS, NKINDS };
static const char *const kind_name[] = {"logits17", "bits17", "short", "probs", "labels"};

/* The body {"x": [v, v, ...]}; *arr points at the array's first number. */
static char *make_body(int kind, size_t n, size_t *len, const char **arr)
{
    size_t cap = n * 26 + 64, k = 0;
    char *b = malloc(cap);
    if (!b)
        exit(1);
    k += (size_t)sprintf(b, "{\"x\": [");
    *arr = b + k;
    for (size_t i = 0; i < n; i++) {
        double d;
        switch (kind) {
        case LOGITS17:
            k += (size_t)sprintf(b + k, "%.17g", bench_unit() * 20 - 10);
            break;
        case BITS17: {
            uint64_t u = bench_rnd();
            memcpy(&d, &u, sizeof d);
            if (!isfinite(d))
                d = 1.5;
            k += (size_t)sprintf(b + k, "%.17g", d);
            break;
        }
        case SHORT:
            k += (size_t)sprintf(b + k, "%.3f", bench_unit());
            break;
        case PROBS: {
            d = bench_unit();
            int prec = 15;
            char tmp[32];
            do
                snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            while (strtod(tmp, NULL) != d && ++prec < 17);
            k += (size_t)sprintf(b + k, "%.*g", prec, d);
            break;
        }
        default:
            k += (size_t)sprintf(b + k, "%u", (unsigned)(bench_rnd() % 1000));
        }
        if (i + 1 < n) {
            b[k++] = ',';
            b[k++] = ' ';
        }
    }
    k += (size_t)sprintf(b + k, "]}");
    *len = k;
    return b;
}

static volatile double sink;

/* Parses the n numbers at p (", "-separated) with num_parse. */
static void run_numparse(const char *p, const char *end, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        num_value v;
        size_t k = num_parse(p, end, &v);
        if (!k) {
            fprintf(stderr, "num_parse failed at %.20s\n", p);
            exit(1);
        }
        s += v.value;
        p += k + 2;
    }
    sink = s;
}

static void run_strtod(const char *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        char *q;
        s += strtod(p, &q);
        p = q + 2;
    }
    sink = s;
}

static void run_decoder(const char *body, size_t len)
{
    api_arrays fa = {0};
    api_err e;
    json_t *doc = api_parse_request(body, len, &fa, &e);
    if (!doc) {
        fprintf(stderr, "api_parse_request: %s\n", e.message);
        exit(1);
    }
    json_decref(doc);
    api_arrays_free(&fa);
}

/* What one column runs: one pass over the array. */
typedef struct {
    int col; /* 0 num_parse, 1 strtod, 2 api_parse_request */
    const char *body, *arr, *arr_end;
    size_t len, n;
} pass;

static void run_pass(const pass *ps)
{
    if (ps->col == 0)
        run_numparse(ps->arr, ps->arr_end, ps->n);
    else if (ps->col == 1)
        run_strtod(ps->arr, ps->n);
    else
        run_decoder(ps->body, ps->len);
}

/* One run of `times` passes: its thread CPU time and wall time, seconds. */
static void timed_run(const pass *ps, int times, double *cpu, double *wall)
{
    double a = bench_clock(CLOCK_THREAD_CPUTIME_ID), wa = bench_clock(CLOCK_MONOTONIC);
    for (int i = 0; i < times; i++)
        run_pass(ps);
    *cpu = bench_clock(CLOCK_THREAD_CPUTIME_ID) - a;
    *wall = bench_clock(CLOCK_MONOTONIC) - wa;
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int reps = 9, min_ms = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--min-ms") == 0)
            min_ms = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 99 || n < 1 || min_ms < 0 || min_ms > 10000) {
        fprintf(stderr, "usage: bench_numparse [--n COUNT] [--reps 1..99] [--min-ms 0..10000]\n");
        return 2;
    }
    printf("%zu numbers per array; MB/s of array text per core (the thread's CPU time), median of "
           "%d runs [min-max], a run >= %d ms; wall-clock medians at the right\n",
           n, reps, min_ms);
    printf("%-9s %8s  %-22s %-22s %-22s %-17s %s\n", "array", "MB", "num_parse", "strtod",
           "api_parse_request", "num_parse/strtod", "wall: num_parse strtod api");
    for (int kind = 0; kind < NKINDS; kind++) {
        size_t len;
        const char *arr;
        char *body = make_body(kind, n, &len, &arr);
        const char *arr_end = body + len - 2; /* before "]}" */
        double mb = (double)(size_t)(arr_end - arr) / 1e6;
        double t[3][99], w[3][99], cpu, wall;
        pass ps[3];
        int times[3];
        for (int j = 0; j < 3; j++) {
            ps[j] = (pass){j, body, arr, arr_end, len, n};
            timed_run(&ps[j], 1, &cpu, &wall); /* the warm-up, and how long a pass takes */
            times[j] =
                cpu * 1e3 >= min_ms ? 1 : (int)(min_ms / 1e3 / (cpu > 1e-6 ? cpu : 1e-6)) + 1;
        }
        for (int r = 0; r < reps; r++) {
            /* The three alternate within a repetition, so that a busy
             * moment on the machine hits all of them. */
            for (int j = 0; j < 3; j++) {
                timed_run(&ps[j], times[j], &cpu, &wall);
                double bytes = (j == 2 ? (double)len / 1e6 : mb) * times[j];
                t[j][r] = bytes / cpu;
                w[j][r] = bytes / wall;
            }
        }
        char col[3][32];
        for (int j = 0; j < 3; j++) {
            qsort(t[j], (size_t)reps, sizeof t[j][0], bench_cmp_double);
            qsort(w[j], (size_t)reps, sizeof w[j][0], bench_cmp_double);
            snprintf(col[j], sizeof col[j], "%.0f [%.0f-%.0f]", t[j][reps / 2], t[j][0],
                     t[j][reps - 1]);
        }
        char ratio[16];
        snprintf(ratio, sizeof ratio, "%.1fx", t[0][reps / 2] / t[1][reps / 2]);
        printf("%-9s %8.1f  %-22s %-22s %-22s %-17s %.0f %.0f %.0f\n", kind_name[kind], mb, col[0],
               col[1], col[2], ratio, w[0][reps / 2], w[1][reps / 2], w[2][reps / 2]);
        fflush(stdout);
        free(body);
    }
    return 0;
}
