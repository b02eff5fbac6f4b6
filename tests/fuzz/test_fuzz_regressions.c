/*
 * test_fuzz_regressions.c — replays tests/fuzz-regressions/: every input
 * that once broke an invariant of fuzz/fuzz_api.c (a crash, a leak, a
 * response that is not JSON, ...) and a few that guard paths the fuzzer
 * found hard to reach. Each file is one libFuzzer input (first byte:
 * endpoint and mode, see fuzz/fuzz_api.c) and one Check test, run through
 * the same fuzz_api_check as the fuzzer, without libFuzzer. Leaks and
 * memory errors show under make check-sanitize and make check-valgrind.
 *
 * A new regression is a new file: copy build/fuzz/artifacts/crash-* here
 * under a name that says what it broke.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../unit/check_main.h"
#include "fuzz_api.h"
#include "server.h" /* multipart_parse */

#define MAX_FILES 4096

static char *files[MAX_FILES];
static int nfiles;
static const char *dir;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_files(void)
{
    dir = getenv("BALLAST_FUZZ_REGRESSIONS");
    if (!dir)
        dir = "tests/fuzz-regressions";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) && nfiles < MAX_FILES) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0 || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue; /* pending/: open bugs, not replayed (see its README) */
        files[nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, (size_t)nfiles, sizeof *files, by_name);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

START_TEST(replay)
{
    char path[1024], why[2048];
    snprintf(path, sizeof path, "%s/%s", dir, files[_i]);
    size_t len;
    unsigned char *data = slurp(path, &len);
    ck_assert_msg(data != NULL, "cannot read %s", path);
    int bad = fuzz_api_check(data, len, why, sizeof why);
    free(data);
    ck_assert_msg(!bad, "%s: %s", files[_i], why);
}
END_TEST

/* Sizes that overflow size_t when multiplied by 8, with the limits off
 * (0 is "no limit" in api.h): a refusal, not a heap overflow (found by
 * hand while fuzzing; api/weights.c and api/sample.c now use calloc). And
 * an empty .npy whose other dimensions are huge (count 0 passes every
 * limit): a refusal too, whatever is tried on the way. */
static size_t empty_npy(unsigned char *buf, const char *shape)
{
    char h[200];
    int hl =
        snprintf(h, sizeof h, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
    size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64, n = (size_t)hl + pad + 1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(n & 0xff);
    buf[9] = (unsigned char)(n >> 8);
    memcpy(buf + 10, h, (size_t)hl);
    memset(buf + 10 + hl, ' ', pad);
    buf[10 + n - 1] = '\n';
    return 10 + n;
}

START_TEST(huge_sizes_are_refused)
{
    static const struct {
        const char *endpoint, *body;
    } unlimited[] = {
        {"weights", "{\"labels\": [0], \"num_classes\": 2305843009213693952}"},
        {"weights", "{\"labels\": [0, 9223372036854775807]}"},
        {"sample", "{\"weights\": [1], \"num_samples\": 2305843009213693952, \"seed\": 1}"},
        {"sample", "{\"weights\": [1], \"num_samples\": 4611686018427387905, \"seed\": 1, "
                   "\"world_size\": 2}"},
    };
    bl_api_config cfg = bl_api_config_default();
    memset(&cfg.limits, 0, sizeof cfg.limits);
    for (size_t i = 0; i < sizeof unlimited / sizeof unlimited[0]; i++) {
        bl_api_result res;
        bl_api_call(&cfg, unlimited[i].endpoint, unlimited[i].body, strlen(unlimited[i].body),
                    &res);
        ck_assert_msg(res.code == BL_API_UNAVAILABLE || res.code == BL_API_LIMIT_EXCEEDED,
                      "%s: code %s: %s", unlimited[i].body, bl_api_code_name(res.code),
                      res.body ? res.body : "(null)");
        free(res.body);
    }
    unsigned char logits[256], targets[256];
    static const char *const shapes[] = {"(1, 0, 100000000000)", "(1, 0, 2305843009213693952)",
                                         "(4611686018427387904, 0)"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        bl_api_part parts[3] = {{"logits", logits, empty_npy(logits, shapes[i])},
                                {"targets", targets, empty_npy(targets, shapes[i])},
                                {"request", "{\"reduction\": \"none\", \"grad\": true}", 35}};
        bl_api_request req = {NULL, 0, parts, 3, BL_API_JSON};
        bl_api_result res;
        cfg = bl_api_config_default();
        bl_api_handle(&cfg, "loss", &req, &res);
        ck_assert_msg(res.code != BL_API_OK && res.body, "shape %s: code %s", shapes[i],
                      bl_api_code_name(res.code));
        free(res.body);
    }
}
END_TEST

/* multipart_parse with a boundary multipart_boundary never gives (empty,
 * or longer than its 80-byte delimiter buffer holds): a refusal, not a
 * read past that buffer (found while reading server/multipart.c for the
 * multipart modes of the fuzz target). */
START_TEST(multipart_bad_boundary_refused)
{
    char longb[200];
    memset(longb, 'x', sizeof longb - 1);
    longb[sizeof longb - 1] = '\0';
    char body[512];
    int n =
        snprintf(body, sizeof body,
                 "--%s\r\nContent-Disposition: form-data; name=\"counts\"\r\n\r\n1\r\n--%s--\r\n",
                 longb, longb);
    multipart_part parts[4];
    size_t nparts = 9;
    char bad[64] = "";
    ck_assert_int_eq(multipart_parse(body, (size_t)n, longb, parts, 4, &nparts, bad, sizeof bad),
                     MP_MALFORMED);
    ck_assert_uint_eq(nparts, 0);
    ck_assert_int_eq(multipart_parse(body, (size_t)n, "", parts, 4, &nparts, bad, sizeof bad),
                     MP_MALFORMED);
}
END_TEST

/* Under ASan (make check-sanitize), an allocation that cannot be made
 * returns NULL as in production instead of stopping the program. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

START_TEST(corpus_present)
{
    ck_assert_msg(nfiles > 0, "no inputs in %s (run from the repository root)", dir);
}
END_TEST

int main(void)
{
    list_files();
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, corpus_present);
    tcase_add_test(tc, huge_sizes_are_refused);
    tcase_add_test(tc, multipart_bad_boundary_refused);
    tcase_add_loop_test(tc, replay, 0, nfiles);
    suite_add_tcase(s, tc);
    int rc = check_run(s);
    printf("fuzz regressions: %d inputs replayed from %s\n", nfiles, dir);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    return rc;
}
