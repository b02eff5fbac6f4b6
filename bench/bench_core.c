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
 *   --cpu                       time with the thread's CPU time (CLOCK_THREAD_CPUTIME_ID)
 *                               instead of the wall clock: steadier on a shared machine
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ballast.h"
#include "bench_util.h"

static int cpu_time; /* --cpu */

static double now(void)
{
    return bench_clock(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC);
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
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
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

/* The fast stream's version 2 (bl_sample_opts' default), with replacement. */
static void run_sample_v2(void *p)
{
    sample_ctx *c = p;
    bl_error e;
    bl_sample_opts o = bl_sample_opts_default();
    o.seed = 1;
    if (bl_sample_window(c->w, c->n, c->k, &o, c->out, NULL, &e) != BL_OK) {
        fprintf(stderr, "%s\n", e.message);
        exit(1);
    }
}

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

/* A bulk request: .npy parts, answered as format; with writable parts
 * (as ballastd gives them), restored from `pristine` before each run (the
 * copy is timed too: 8 MB, about 1 ms). */
typedef struct {
    const char *endpoint;
    bl_api_part parts[3];
    size_t nparts;
    bl_api_format format;
    unsigned char *pristine, *work; /* of parts[0] when writable */
    size_t len;
} npy_ctx;

static void run_npy(void *p)
{
    npy_ctx *c = p;
    bl_api_config cfg = bl_api_config_default();
    if (c->work) {
        memcpy(c->work, c->pristine, c->len);
        cfg.parts_writable = 1;
    }
    bl_api_request req = {NULL, 0, c->parts, c->nparts, c->format};
    bl_api_result r;
    if (bl_api_handle(&cfg, c->endpoint, &req, &r) != BL_API_OK) {
        fprintf(stderr, "%s\n", r.body);
        exit(1);
    }
    free(r.body);
}

/* A version 1.0 .npy of `bytes` bytes of data, its header 128 bytes. */
static unsigned char *npy_file(const char *descr, const char *shape, const void *data, size_t bytes,
                               size_t *len)
{
    char h[118];
    memset(h, ' ', sizeof h);
    int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                     shape);
    h[k] = ' ';
    h[117] = '\n';
    unsigned char *b = malloc(128 + bytes);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = 118;
    b[9] = 0;
    memcpy(b + 10, h, sizeof h);
    memcpy(b + 128, data, bytes);
    *len = 128 + bytes;
    return b;
}

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
        else if (strcmp(argv[i], "--cpu") == 0)
            cpu_time = 1;
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

    if (wanted(argc, argv, "sample_fast_v2_1e6_repl")) {
        sample_ctx c = {w, n, n, 1, BL_GENERATOR_FAST, out};
        printf("sample_fast_v2_1e6_repl %.3f\n", median_ms(run_sample_v2, &c, 11));
    }
    if (wanted(argc, argv, "api_sample_npy_1e6")) {
        /* bulk /sample as ballastd serves it: the weights' part writable,
         * the indices answered as .npy */
        npy_ctx c = {"sample", {{0}}, 2, BL_API_NPY, NULL, NULL, 0};
        c.pristine = npy_file("<f8", "(1000000,)", w, n * sizeof *w, &c.len);
        c.work = malloc(c.len);
        memcpy(c.work, c.pristine, c.len);
        c.parts[0] = (bl_api_part){"weights", c.work, c.len};
        c.parts[1] = (bl_api_part){"request", "{\"seed\":1}", 10};
        printf("api_sample_npy_1e6 %.3f\n", median_ms(run_npy, &c, 5));
        free(c.pristine);
        free(c.work);
    }
    if (wanted(argc, argv, "loss_ce_100000x10_f32") ||
        wanted(argc, argv, "api_loss_npy_f32_100000x10")) {
        /* (100000, 10) float32 logits: read as float32 by the core, and the
         * bulk request with them as a float32 .npy part */
        size_t N = 100000, C = 10;
        float *xf = malloc(N * C * sizeof *xf);
        int64_t *y = malloc(N * sizeof *y);
        for (size_t j = 0; j < N * C; j++)
            xf[j] = (float)(urand() * 8 - 4);
        for (size_t j = 0; j < N; j++)
            y[j] = (int64_t)(urand() * (double)C);
        if (wanted(argc, argv, "loss_ce_100000x10_f32")) {
            loss_ctx c;
            c.a = bl_loss_args_default();
            c.a.input_f32 = xf;
            c.a.ndim = 2;
            c.a.shape[0] = N;
            c.a.shape[1] = C;
            c.a.target_index = y;
            c.per = c.grad = NULL;
            printf("loss_ce_100000x10_f32 %.3f\n", median_ms(run_loss, &c, 11));
        }
        if (wanted(argc, argv, "api_loss_npy_f32_100000x10")) {
            npy_ctx c = {"loss", {{0}}, 2, BL_API_JSON, NULL, NULL, 0};
            size_t lx, ly;
            unsigned char *px = npy_file("<f4", "(100000, 10)", xf, N * C * sizeof *xf, &lx);
            unsigned char *py = npy_file("<i8", "(100000,)", y, N * sizeof *y, &ly);
            c.parts[0] = (bl_api_part){"logits", px, lx};
            c.parts[1] = (bl_api_part){"targets", py, ly};
            printf("api_loss_npy_f32_100000x10 %.3f\n", median_ms(run_npy, &c, 11));
            free(px);
            free(py);
        }
        free(xf);
        free(y);
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
