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

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int reps = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 99 || n < 1) {
        fprintf(stderr, "usage: bench_numparse [--n COUNT] [--reps 1..99]\n");
        return 2;
    }
    printf("%zu numbers per array; MB/s of array text, median of %d runs [min-max]\n", n, reps);
    printf("%-9s %8s  %-22s %-22s %-22s %s\n", "array", "MB", "num_parse", "strtod",
           "api_parse_request", "num_parse/strtod");
    for (int kind = 0; kind < NKINDS; kind++) {
        size_t len;
        const char *arr;
        char *body = make_body(kind, n, &len, &arr);
        const char *arr_end = body + len - 2; /* before "]}" */
        double mb = (double)(size_t)(arr_end - arr) / 1e6;
        double t[3][99];
        for (int r = -1; r < reps; r++) {
            /* The three alternate within a repetition, so that a busy
             * moment on the machine hits all of them. */
            double a = bench_clock(CLOCK_MONOTONIC);
            run_numparse(arr, arr_end, n);
            double b = bench_clock(CLOCK_MONOTONIC);
            run_strtod(arr, n);
            double c = bench_clock(CLOCK_MONOTONIC);
            run_decoder(body, len);
            double d = bench_clock(CLOCK_MONOTONIC);
            if (r >= 0) {
                t[0][r] = mb / (b - a);
                t[1][r] = mb / (c - b);
                t[2][r] = (double)len / 1e6 / (d - c);
            }
        }
        char col[3][32];
        for (int j = 0; j < 3; j++) {
            qsort(t[j], (size_t)reps, sizeof t[j][0], bench_cmp_double);
            snprintf(col[j], sizeof col[j], "%.0f [%.0f-%.0f]", t[j][reps / 2], t[j][0],
                     t[j][reps - 1]);
        }
        printf("%-9s %8.1f  %-22s %-22s %-22s %.1fx\n", kind_name[kind], mb, col[0], col[1], col[2],
               t[0][reps / 2] / t[1][reps / 2]);
        fflush(stdout);
        free(body);
    }
    return 0;
}
