/*
 * suggest.c — errors that teach: the valid name nearest to a wrong one,
 * and what a body that is not JSON seems to be.
 *
 * Names are compared folded: lower case, without '_', '-', '.' and ' ',
 * so "num-samples" and "NumSamples" are num_samples, and a trailing "loss"
 * may be dropped ("CrossEntropyLoss" is cross_entropy). Then the aliases
 * below: what PyTorch, Keras, NumPy and scikit-learn call the same thing
 * (input → logits, NLLLoss → nll, random_state → seed). Then the edit
 * distance (Damerau–Levenshtein, optimal string alignment) within a bound
 * that grows with the name's length: "weight" → weights, "balanse" →
 * balanced. A suggestion is always one of the names offered, so an alias
 * whose target is not among them says nothing.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The bytes of a form-encoded body quoted in the message about it. */
#define FORM_QUOTE_MAX 40

#define FOLD_MAX 64 /* longer names are compared by their first 63 folded characters */

/* Where an alias applies: the endpoint (for field names) or the enum
 * field (for its values), NULL for everywhere. `from` is folded. */
static const struct {
    const char *scope, *from, *to;
} aliases[] = {
    /* field names: PyTorch's F.cross_entropy(input, target, weight), Keras
     * (y_true, y_pred), NumPy's choice(p, replace, size), scikit-learn's
     * compute_class_weight(class_weight, y), DistributedSampler */
    {"loss", "input", "logits"},
    {"loss", "ypred", "logits"},
    {"loss", "preds", "logits"},
    {"loss", "predictions", "logits"},
    {"loss", "outputs", "logits"},
    {"loss", "output", "logits"},
    {"loss", "scores", "logits"},
    {"loss", "logprob", "log_probs"},
    {"loss", "logprobabilities", "log_probs"},
    {"loss", "target", "targets"},
    {"loss", "ytrue", "targets"},
    {"loss", "labels", "targets"},
    {"loss", "label", "targets"},
    {"loss", "y", "targets"},
    {"loss", "classweight", "weights"},
    {"loss", "classweights", "weights"},
    {"loss", "posweights", "pos_weight"},
    {"loss", "reduce", "reduction"},
    {"loss", "sizeaverage", "reduction"},
    {"loss", "smoothing", "label_smoothing"},
    {"loss", "ignore", "ignore_index"},
    {"loss", "ignorelabel", "ignore_index"},
    {"loss", "criterion", "loss"},
    {"loss", "lossfn", "loss"},
    {"loss", "lossfunction", "loss"},
    {"loss", "gradient", "grad"},
    {"loss", "returngrad", "grad"},
    /* the long-tail losses: LDAMLoss(cls_num_list, max_m, s), logit adjustment's tau */
    {"loss", "clsnumlist", "class_counts"},
    {"loss", "samplesperclass", "class_counts"},
    {"loss", "priors", "class_priors"},
    {"loss", "tau", "logit_adjustment"},
    {"loss", "maxm", "max_margin"},
    {"loss", "s", "scale"},
    {"sample", "p", "weights"},
    {"sample", "probabilities", "weights"},
    {"sample", "probs", "weights"},
    {"sample", "sampleweights", "weights"},
    {"sample", "classweight", "class_weights"},
    {"sample", "replace", "replacement"},
    {"sample", "withreplacement", "replacement"},
    {"sample", "n", "num_samples"},
    {"sample", "k", "num_samples"},
    {"sample", "size", "num_samples"},
    {"sample", "samples", "num_samples"},
    {"sample", "numreplicas", "world_size"},
    {"sample", "y", "labels"},
    {"sample", "targets", "labels"},
    {"weights", "y", "labels"},
    {"weights", "targets", "labels"},
    {"weights", "samplespercls", "counts"},
    {"weights", "samplesperclass", "counts"},
    {"weights", "classcounts", "counts"},
    {"weights", "classes", "num_classes"},
    {"weights", "classweight", "scheme"},
    {"weights", "method", "scheme"},
    {"weights", "mode", "scheme"},
    {"weights", "strategy", "scheme"},
    {"weights", "normalise", "normalize"},
    {"weights", "normalization", "normalize"},
    {"weights", "normalisation", "normalize"},
    {NULL, "randomstate", "seed"},
    {NULL, "randomseed", "seed"},
    {NULL, "manualseed", "seed"},
    {NULL, "rng", "generator"},
    /* values of loss: torch.nn class names fold to ours; Keras's names */
    {"loss", "ce", "cross_entropy"},
    {"loss", "categoricalcrossentropy", "cross_entropy"},
    {"loss", "sparsecategoricalcrossentropy", "cross_entropy"},
    {"loss", "softmaxcrossentropy", "cross_entropy"},
    {"loss", "negativeloglikelihood", "nll"},
    {"loss", "bce", "bce_with_logits"},
    {"loss", "binarycrossentropy", "bce_with_logits"},
    {"loss", "binarycrossentropywithlogits", "bce_with_logits"},
    {"loss", "sigmoidcrossentropy", "bce_with_logits"},
    {"loss", "binaryfocalcrossentropy", "sigmoid_focal"},
    {"loss", "categoricalfocalcrossentropy", "focal"},
    /* reduction: PyTorch's old "elementwise_mean", Keras's names */
    {"reduction", "elementwisemean", "mean"},
    {"reduction", "sumoverbatchsize", "mean"},
    {"reduction", "avg", "mean"},
    {"reduction", "average", "mean"},
    {"reduction", "no", "none"},
    {"reduction", "unreduced", "none"},
    /* scheme */
    {"scheme", "inversefrequency", "inverse"},
    {"scheme", "invfreq", "inverse"},
    {"scheme", "reciprocal", "inverse"},
    {"scheme", "sqrt", "inverse_sqrt"},
    {"scheme", "invsqrt", "inverse_sqrt"},
    {"scheme", "inversesquareroot", "inverse_sqrt"},
    {"scheme", "classbalanced", "effective_number"},
    {"scheme", "effective", "effective_number"},
    {"scheme", "effectivenumberofsamples", "effective_number"},
    {"scheme", "ens", "effective_number"},
    {"scheme", "medianfreq", "median_frequency"},
    {"scheme", "medianfrequencybalancing", "median_frequency"},
    /* normalize, zero_counts, generator */
    {"normalize", "l1", "sum"},
    {"normalize", "average", "mean"},
    {"normalize", "no", "none"},
    {"zero_counts", "ignore", "zero"},
    {"zero_counts", "skip", "zero"},
    {"zero_counts", "allow", "zero"},
    {"zero_counts", "raise", "error"},
    {"generator", "pytorch", "torch"},
    {"generator", "multinomial", "torch"},
    {"generator", "torchmultinomial", "torch"},
    {"generator", "mt19937", "torch"},
    {"generator", "default", "fast"},
    {"generator", "xoshiro256", "fast"},
};

/* s folded into out (FOLD_MAX bytes); returns its length. */
static size_t fold(const char *s, char *out)
{
    size_t n = 0;
    for (; *s && n + 1 < FOLD_MAX; s++) {
        char c = *s;
        if (c == '_' || c == '-' || c == '.' || c == ' ')
            continue;
        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

/* The optimal string alignment distance of a and b (each < FOLD_MAX):
 * rows i - 2, i - 1 and i of the table, in turn. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[3][FOLD_MAX + 1];
    for (size_t j = 0; j <= nb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t *up2 = rows[(i + 1) % 3], *up = rows[(i - 1) % 3], *row = rows[i % 3];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = up[j - 1] + (a[i - 1] != b[j - 1]);
            if (up[j] + 1 < best)
                best = up[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                up2[j - 2] + 1 < best)
                best = up2[j - 2] + 1;
            row[j] = best;
        }
    }
    return rows[na % 3][nb];
}

/* How many edits a name of n folded characters may be away: none for one
 * or two ("c"), then one per four characters, at most three. */
static size_t edit_bound(size_t n) { return n <= 2 ? 0 : n <= 4 ? 1 : n <= 8 ? 2 : 3; }

static const char *offered(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return names[i];
    return NULL;
}

const char *api_suggest(const char *got, const char *const *names, size_t n, const char *scope)
{
    char g[FOLD_MAX], bare[FOLD_MAX], c[FOLD_MAX];
    size_t ng = fold(got, g), nbare = ng;
    if (ng == 0)
        return NULL;
    memcpy(bare, g, ng + 1);
    if (ng > 4 && strcmp(g + ng - 4, "loss") == 0) /* "NLLLoss": nll */
        bare[nbare = ng - 4] = '\0';
    for (size_t i = 0; i < n; i++) {
        fold(names[i], c);
        if (strcmp(c, g) == 0 || strcmp(c, bare) == 0)
            return names[i];
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if ((!aliases[i].scope || (scope && strcmp(aliases[i].scope, scope) == 0)) &&
            (strcmp(aliases[i].from, g) == 0 || strcmp(aliases[i].from, bare) == 0) &&
            offered(aliases[i].to, names, n))
            return offered(aliases[i].to, names, n);
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t nc = fold(names[i], c);
        size_t d = edit_distance(g, ng, c, nc), dbare = edit_distance(bare, nbare, c, nc);
        d = dbare < d ? dbare : d;
        if (d <= edit_bound(nc) && d < best_d) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* ---- a body that is not JSON ---------------------------------------------------- */

/* key=value&key=value..., as an HTML form or Python's requests.post(url,
 * data={...}) sends it: a name first (so JSON fails at once), then
 * printable ASCII without spaces, with an '='; trailing whitespace aside. */
static int looks_form_encoded(const char *body, size_t len)
{
    while (len && strchr(" \t\r\n", body[len - 1]) && body[len - 1])
        len--;
    if (!len || !((body[0] >= 'a' && body[0] <= 'z') || (body[0] >= 'A' && body[0] <= 'Z') ||
                  body[0] == '_'))
        return 0;
    int eq = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '{' || ch == '"')
            return 0;
        eq |= ch == '=';
    }
    return eq;
}

void api_explain_body(const char *body, size_t len, api_err *e)
{
    if (len >= 6 && memcmp(body, "\x93NUMPY", 6) == 0) {
        api_fail(e, BL_API_INVALID_JSON, NULL,
                 "the body is a NumPy .npy file, not JSON: send arrays as .npy parts of a "
                 "multipart/form-data request, the other fields as JSON in a part named "
                 "\"request\" (curl -F weights=@weights.npy -F 'request={\"seed\": 7}'; Python "
                 "requests: files={\"weights\": npy_bytes, \"request\": (None, '{\"seed\": 7}')}); "
                 "see README \"Bulk data\"");
        return;
    }
    if (!looks_form_encoded(body, len))
        return;
    while (len && strchr(" \t\r\n", body[len - 1]) && body[len - 1])
        len--;
    char start[FORM_QUOTE_MAX + 1];
    size_t n = len < FORM_QUOTE_MAX ? len : FORM_QUOTE_MAX, key = 0;
    memcpy(start, body, n);
    start[n] = '\0';
    while (key < n && start[key] != '=' && start[key] != '&')
        key++;
    api_fail(e, BL_API_INVALID_JSON, NULL,
             "the body is form-encoded (\"%s%s\"), not JSON: send the fields as one JSON "
             "object, e.g. {\"%.*s\": ...}; with Python requests use json={...}, not "
             "data={...}",
             start, len > FORM_QUOTE_MAX ? "..." : "", (int)key, start);
}
