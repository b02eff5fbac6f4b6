/*
 * bench_core.c — times libballast and the api layer in-process, without HTTP:
 * medians of repeated runs, printed as "name median_ms".
 *
 *   build/bench_core            all benchmarks
 *   build/bench_core NAME...    only those
 *   --reps N                    timed runs per benchmark (default: 11 core, 5 api), each
 *                               after one untimed warm-up run
 *   --dump-loss-json FILE       also write the api_loss_json_4096x1000 body to FILE (the
 *                               exact bytes bench/run.py sends over HTTP)
 *   --interactive               for bench/run.py, which alternates these runs with HTTP requests
 *                               and PyTorch: after the setup, each line read from stdin runs the
 *                               benchmark once and prints that run's ms; EOF ends it (name one
 *                               benchmark)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ballast.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);

static int reps_override; /* --reps N; 0: each benchmark's default */
static int interactive;   /* --interactive */

static double median_ms(bench_fn f, void *ctx, int reps)
{
    double t[64];
    if (interactive) {
        char line[64];
        while (fgets(line, sizeof line, stdin)) {
            double a = now();
            f(ctx);
            printf("%.6f\n", (now() - a) * 1e3);
            fflush(stdout);
        }
        return NAN;
    }
    if (reps_override > 0)
        reps = reps_override;
    if (reps > 64)
        reps = 64;
    f(ctx); /* warm-up: page faults, caches; not timed */
    for (int i = 0; i < reps; i++) {
        double a = now();
        f(ctx);
        t[i] = (now() - a) * 1e3;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    return t[reps / 2];
}

/* Deterministic pseudo-random numbers for the inputs. */
static uint64_t lcg = 88172645463325252ull;
static double urand(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) * 0x1p-53;
}

typedef struct {
    double *w;
    size_t n, k;
    int replacement;
    bl_generator gen;
    int64_t *out;
} sample_ctx;

static void run_sample(void *p)
{
    sample_ctx *c = p;
    bl_error e;
    if (bl_sample(c->w, c->n, c->k, c->replacement, c->gen, 1, 0, c->out, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.message);
        exit(1);
    }
}

typedef struct {
    bl_loss_args a;
    double *per, *grad;
} loss_ctx;

static void run_loss(void *p)
{
    loss_ctx *c = p;
    bl_loss_result r = {0, 0, c->per, c->grad};
    bl_error e;
    if (bl_loss(&c->a, &r, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.message);
        exit(1);
    }
}

typedef struct {
    const char *endpoint;
    char *body;
    size_t len;
} api_ctx;

static void run_api(void *p)
{
    api_ctx *c = p;
    bl_api_config cfg = bl_api_config_default();
    bl_api_result r;
    if (bl_api_call(&cfg, c->endpoint, c->body, c->len, &r) != BL_API_OK) {
        fprintf(stderr, "%s\n", r.body);
        exit(1);
    }
    free(r.body);
}

/* A /loss JSON document for (n, c) logits. */
static char *loss_json(size_t n, size_t cls, size_t *len)
{
    size_t cap = n * cls * 24 + n * 8 + 64, l = 0;
    char *b = malloc(cap);
    l += (size_t)sprintf(b + l, "{\"logits\":[");
    for (size_t i = 0; i < n; i++) {
        b[l++] = i ? ',' : '[';
        if (i)
            b[l++] = '[';
        for (size_t j = 0; j < cls; j++)
            l += (size_t)sprintf(b + l, "%s%.17g", j ? "," : "", urand() * 8 - 4);
        b[l++] = ']';
    }
    l += (size_t)sprintf(b + l, "],\"targets\":[");
    for (size_t i = 0; i < n; i++)
        l += (size_t)sprintf(b + l, "%s%zu", i ? "," : "", (size_t)(urand() * (double)cls));
    l += (size_t)sprintf(b + l, "]}");
    *len = l;
    return b;
}

static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dump = NULL;
    /* Options first; what remains are benchmark names. */
    int k = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps_override = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dump-loss-json") == 0 && i + 1 < argc)
            dump = argv[++i];
        else if (strcmp(argv[i], "--interactive") == 0)
            interactive = 1;
        else
            argv[k++] = argv[i];
    }
    argc = k;
    size_t n = 1000000;
    double *w = malloc(n * sizeof *w);
    int64_t *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        w[i] = urand();
    struct {
        const char *name;
        bl_generator gen;
        int repl;
    } sb[] = {{"sample_fast_1e6_repl", BL_GENERATOR_FAST, 1},
              {"sample_torch_1e6_repl", BL_GENERATOR_TORCH, 1},
              {"sample_fast_1e6_norepl_k1e5", BL_GENERATOR_FAST, 0},
              {"sample_torch_1e6_norepl_k1e5", BL_GENERATOR_TORCH, 0}};
    for (size_t i = 0; i < 4; i++) {
        if (!wanted(argc, argv, sb[i].name))
            continue;
        sample_ctx c = {w, n, sb[i].repl ? n : 100000, sb[i].repl, sb[i].gen, out};
        printf("%s %.3f\n", sb[i].name, median_ms(run_sample, &c, 11));
    }

    struct {
        const char *name;
        size_t n, c;
        int grad;
    } lb[] = {{"loss_ce_4096x1000", 4096, 1000, 0},
              {"loss_ce_4096x1000_grad", 4096, 1000, 1},
              {"loss_ce_100000x10", 100000, 10, 0}};
    for (size_t i = 0; i < 3; i++) {
        if (!wanted(argc, argv, lb[i].name))
            continue;
        size_t m = lb[i].n * lb[i].c;
        loss_ctx c;
        c.a = bl_loss_args_default();
        double *x = malloc(m * sizeof *x);
        int64_t *y = malloc(lb[i].n * sizeof *y);
        for (size_t j = 0; j < m; j++)
            x[j] = urand() * 8 - 4;
        for (size_t j = 0; j < lb[i].n; j++)
            y[j] = (int64_t)(urand() * (double)lb[i].c);
        c.a.input = x;
        c.a.ndim = 2;
        c.a.shape[0] = lb[i].n;
        c.a.shape[1] = lb[i].c;
        c.a.target_index = y;
        c.per = NULL;
        c.grad = lb[i].grad ? malloc(m * sizeof *c.grad) : NULL;
        printf("%s %.3f\n", lb[i].name, median_ms(run_loss, &c, 11));
        free(x);
        free(y);
        free(c.grad);
    }

    if (wanted(argc, argv, "api_loss_json_4096x1000")) {
        api_ctx c = {"loss", NULL, 0};
        c.body = loss_json(4096, 1000, &c.len);
        if (dump) {
            FILE *f = fopen(dump, "wb");
            if (!f || fwrite(c.body, 1, c.len, f) != c.len || fclose(f) != 0) {
                perror(dump);
                return 1;
            }
        }
        printf("api_loss_json_4096x1000 %.3f\n", median_ms(run_api, &c, 5));
        free(c.body);
    }
    if (wanted(argc, argv, "api_sample_json_1e6")) {
        size_t cap = n * 24 + 64, l = 0;
        char *b = malloc(cap);
        l += (size_t)sprintf(b, "{\"seed\":1,\"weights\":[");
        for (size_t i = 0; i < n; i++)
            l += (size_t)sprintf(b + l, "%s%.17g", i ? "," : "", w[i]);
        l += (size_t)sprintf(b + l, "]}");
        api_ctx c = {"sample", b, l};
        printf("api_sample_json_1e6 %.3f\n", median_ms(run_api, &c, 5));
        free(b);
    }
    free(w);
    free(out);
    return 0;
}
