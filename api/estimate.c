/*
 * estimate.c — how much memory a request will take, before it is parsed.
 *
 * A server with a memory budget reserves this much before a computation
 * starts (server/budget.c). Most of what the api layer and libballast
 * allocate can be refused when the budget runs out, and is answered as any
 * allocation failure; jansson's tree cannot (jansson 2.14 does not survive
 * a refused allocation while parsing), so its size must be known ahead.
 * One pass over the document counts its tokens and prices each at what
 * jansson 2.14 allocates for it, measured with counting allocators on
 * documents made of that token alone (tests/unit/test_api.c checks the
 * estimate against such a count):
 *
 *   number        ~35 bytes (a 32-byte json_t, its slot in a growing array)
 *   true/false/null   ~16 (shared singletons: the slot)
 *   string        ~75 plus its length, up to 3x while the lexer copies it
 *   [             ~123 (the array and its first table)
 *   {             ~219 (the object and its hashtable)
 *   key: value    ~100 more per member
 *
 * Prices below carry headroom over those figures. Numbers are also priced
 * for what follows the parse: the decoded array of doubles, the
 * computation's arrays of the same length and the answer's text.
 */
#include <string.h>

#include "internal.h"

#define PRICE_NUMBER 48
#define PRICE_LITERAL 16
#define PRICE_STRING 96
#define PRICE_ARRAY 160
#define PRICE_OBJECT 256
#define PRICE_MEMBER 128
#define STRING_COPIES 3
/* After the parse, per number: its double, three arrays of the same length
 * (gradients, keys, alias tables, sorted copies) and its answer text. */
#define PRICE_DECODED (8 * 4 + 25)
/* .npy elements: their doubles, the same arrays, the answer. */
#define PRICE_NPY_ELEMENT (8 * 4 + 25)
/* Whatever the request: tables, messages, the error document. */
#define BASE_COST ((size_t)256 << 10)

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t sat_mul(size_t a, size_t b) { return a && b > SIZE_MAX / a ? SIZE_MAX : a * b; }

/* The end of the string token whose opening quote is at p (past the
 * closing quote, or end). */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t bs = 0;
        while (q - (ptrdiff_t)bs - 1 >= p && q[-(ptrdiff_t)bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q;
    }
    return end;
}

/* Whether s (NUL-terminated) occurs in p[0..len). */
static int contains(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (const char *q = p; len >= n && q <= p + len - n; q++) {
        q = memchr(q, s[0], (size_t)(p + len - n + 1 - q));
        if (!q)
            return 0;
        if (memcmp(q, s, n) == 0)
            return 1;
    }
    return 0;
}

static int is_number_start(char c) { return (c >= '0' && c <= '9') || c == '-'; }

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The value of an integer literal (saturating), 0 for a real. */
static size_t integer_value(const char *p, const char *end)
{
    size_t v = 0;
    if (p < end && *p == '-')
        p++;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        size_t d = (size_t)(*p - '0');
        v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
    }
    return v;
}

/* jansson's price of a JSON text, plus what its numbers cost decoded; the
 * work bound grows to the count of numbers and to every integer's value
 * (a count such as num_samples bounds the work it asks for). A document
 * that names the stream "continued" asks for a replay of epoch times
 * num_samples (or items) draws before its own: the work bound grows to the
 * product of its two largest integers, and of the largest and the count of
 * numbers (README, "Continued streams and windows"). */
static size_t json_cost(const char *p, size_t len, size_t *work)
{
    const char *doc = p, *end = p + len;
    size_t cost = 0, numbers = 0, top1 = 0, top2 = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            const char *q = skip_string(p, end);
            cost = sat_add(cost, PRICE_STRING + STRING_COPIES * (size_t)(q - p));
            p = q;
        } else if (is_number_start(c)) {
            const char *start = p;
            while (p < end && is_number_char(*p))
                p++;
            cost = sat_add(cost, PRICE_NUMBER + PRICE_DECODED);
            numbers++;
            size_t v = integer_value(start, p);
            if (v > *work)
                *work = v;
            if (v > top1) {
                top2 = top1;
                top1 = v;
            } else if (v > top2) {
                top2 = v;
            }
        } else {
            switch (c) {
            case '[':
                cost = sat_add(cost, PRICE_ARRAY);
                break;
            case '{':
                cost = sat_add(cost, PRICE_OBJECT);
                break;
            case ':':
                cost = sat_add(cost, PRICE_MEMBER);
                break;
            case 't':
            case 'f':
            case 'n':
                cost = sat_add(cost, PRICE_LITERAL);
                break;
            default:
                break;
            }
            p++;
        }
    }
    if (numbers > *work)
        *work = numbers;
    if (contains(doc, len, "\"continued\"")) {
        size_t replay = sat_mul(top1, top2 > numbers ? top2 : numbers);
        if (replay > *work)
            *work = replay;
    }
    return cost;
}

size_t bl_api_estimate(const char *endpoint, const bl_api_request *req, size_t *work)
{
    (void)endpoint; /* every endpoint's work is linear in its arrays and counts */
    size_t cost = BASE_COST, w = 0;
    if (req->json)
        cost = sat_add(cost, json_cost(req->json, req->json_len, &w));
    for (size_t i = 0; i < req->nparts; i++) {
        const bl_api_part *part = &req->parts[i];
        if (strcmp(part->name, "request") == 0) {
            cost = sat_add(cost, json_cost(part->data, part->len, &w));
            continue;
        }
        /* Priced by its elements; a part that is no valid .npy is refused
         * before anything is decoded, so its bytes are price enough. */
        npy_view v;
        api_err e;
        if (npy_parse(part->data, part->len, part->name, &v, &e) == BL_API_OK) {
            cost = sat_add(cost, sat_mul(v.count, PRICE_NPY_ELEMENT));
            w = v.count > w ? v.count : w;
        } else {
            cost = sat_add(cost, part->len);
        }
    }
    if (work)
        *work = w;
    return cost;
}
