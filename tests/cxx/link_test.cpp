// link_test.cpp — ballast's two public headers, lib/ballast.h and api/api.h,
// compiled as C++ and linked against libballast.a and libballast_api.a: the
// extern "C" guards must give C linkage to every declaration (a missing
// guard is an undefined reference to a C++-mangled name at link time), and
// the headers must be valid C++11. A few calls check that what links also
// runs. Prints a Check-style summary line for tests/run.sh.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "api.h"
#include "ballast.h"

static int checks = 0, failures = 0;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            std::printf("%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);                         \
        }                                                                                          \
    } while (0)

static void test_weights()
{
    const double counts[] = {100000, 100, 10};
    double w[3];
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    EXPECT(bl_class_weights(counts, 3, &o, w, &err) == BL_OK);
    EXPECT(w[0] == 1 && w[1] == 1000 && w[2] == 10000);

    std::vector<int64_t> labels = {0, 2, 2};
    double c[3];
    size_t classes = 0;
    EXPECT(bl_count_labels(labels.data(), labels.size(), 3, c, &err) == BL_OK && c[2] == 2);
    EXPECT(bl_label_classes(labels.data(), labels.size(), 0, &classes, &err) == BL_OK &&
           classes == 3);

    bl_scheme s = BL_SCHEME_MAX_OVER_COUNT;
    EXPECT(bl_scheme_from_name("balanced", &s, &err) == BL_OK && s == BL_SCHEME_BALANCED);
    EXPECT(std::strcmp(bl_scheme_name(BL_SCHEME_ENET), "enet") == 0);
    EXPECT(bl_scheme_names[BL_SCHEME_COUNT] == nullptr);
    o.scheme = static_cast<bl_scheme>(99);
    EXPECT(bl_class_weights(counts, 3, &o, w, &err) == BL_EINVAL && err.arg &&
           std::strcmp(err.arg, "scheme") == 0);
    bl_normalize nm = BL_NORMALIZE_NONE;
    EXPECT(bl_normalize_from_name("mean", &nm, &err) == BL_OK && nm == BL_NORMALIZE_MEAN);
}

static void test_sample()
{
    const double w[] = {100000, 100, 10};
    int64_t out[3], share[3];
    bl_error err;
    EXPECT(bl_sample(w, 3, 3, 0, BL_GENERATOR_TORCH, 0, 0, out, &err) == BL_OK);
    EXPECT(out[0] == 0 && out[1] == 1 && out[2] == 2); // README's torch replay
    size_t m = 0;
    EXPECT(bl_shard(out, 3, 2, 1, share, &m, &err) == BL_OK && m == 2 && share[0] == 1 &&
           share[1] == 0);
    EXPECT(bl_shard(out, 3, 0, 0, share, &m, &err) == BL_EINVAL);
    bl_generator g = BL_GENERATOR_FAST;
    EXPECT(bl_generator_from_name("torch", &g, &err) == BL_OK && g == BL_GENERATOR_TORCH);
    EXPECT(bl_generator_from_name("Torch", &g, &err) == BL_EINVAL);
    bl_mt19937 mt;
    bl_mt19937_seed(&mt, 5489);
    EXPECT(bl_mt19937_next(&mt) == 3499211612u); // MT19937's reference first output
    bl_xoshiro x;
    bl_xoshiro_seed(&x, 1, 0);
    double u = bl_xoshiro_uniform(&x);
    EXPECT(u >= 0 && u < 1);
}

static void test_loss()
{
    const double z[] = {1, 2, 1, 3, 1, 3};
    const int64_t y[] = {0, 1, 1};
    const double cw[] = {1, 2};
    bl_loss_args a = bl_loss_args_default();
    a.input = z;
    a.ndim = 2;
    a.shape[0] = 3;
    a.shape[1] = 2;
    a.target_index = y;
    a.weights = cw;
    a.weights_len = 2;
    bl_loss_result r = {};
    bl_error err;
    EXPECT(bl_loss(&a, &r, &err) == BL_OK);
    EXPECT(std::fabs(r.value - 0.36419474633802257) < 1e-15 && r.total_weight == 5); // README
    EXPECT(bl_loss_positions(&a) == 3 && bl_loss_elements(&a) == 6);
    bl_reduction red = BL_REDUCTION_MEAN;
    EXPECT(bl_reduction_from_name("none", &red, &err) == BL_OK && red == BL_REDUCTION_NONE);
    bl_loss_kind k = BL_LOSS_NLL;
    EXPECT(bl_loss_from_name("focal", &k, &err) == BL_OK && k == BL_LOSS_FOCAL);
    EXPECT(std::strcmp(bl_loss_name(BL_LOSS_SIGMOID_FOCAL), "sigmoid_focal") == 0);
    EXPECT(bl_error_set(&err, BL_ELIMIT, "x", 3, "%d", 7) == BL_ELIMIT &&
           std::strcmp(err.message, "7") == 0);
    bl_error_clear(&err);
    EXPECT(err.code == BL_OK);
}

static void test_api()
{
    bl_api_config cfg = bl_api_config_default();
    const char body[] = "{\"counts\": [100000, 100, 10]}";
    bl_api_result res;
    EXPECT(bl_api_call(&cfg, "weights", body, std::strlen(body), &res) == BL_API_OK);
    EXPECT(res.body && std::strstr(res.body, "\"weights\":[1.0,1000.0,10000.0]") != nullptr);
    std::free(res.body);
    EXPECT(bl_api_has_endpoint("loss") && !bl_api_has_endpoint("nope"));
    EXPECT(std::strcmp(bl_api_code_name(BL_API_NOT_FOUND), "not_found") == 0);
    EXPECT(bl_api_version() != nullptr);
}

int main()
{
    test_weights();
    test_sample();
    test_loss();
    test_api();
    int passed = checks - failures;
    std::printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n", checks ? 100 * passed / checks : 0,
                checks, failures);
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
