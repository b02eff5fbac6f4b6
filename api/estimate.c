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
 * documents made of that token alone (tests/unit/test_estimate.c checks
 * the estimate against such a count):
 *
 *   number        ~35 bytes (a 32-byte json_t, its slot in a growing array)
 *   true/false/null   ~16 (shared singletons: the slot)
 *   string        ~75 plus its length, up to 3x while the lexer copies it
 *   [             ~123 (the array and its first table)
 *   {             ~219 (the object and its hashtable)
 *   key: value    ~100 more per member
 *
 * The prices (API_PRICE_*, internal.h) carry headroom over those figures.
 * Numbers are also priced for what follows the parse: the decoded array of
 * doubles, the computation's arrays of the same length and the answer's
 * text.
 */
#include <string.h>

#include "internal.h"

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

/* What the scan does at each byte outside strings (an ASCII table). */
enum {
    C_OTHER,   /* whitespace, ',', ']', '}', anything else: nothing */
    C_DIGIT,   /* starts a number */
    C_MINUS,   /* starts a number */
    C_NUMBER,  /* '+', '.', 'e', 'E': inside a number only */
    C_QUOTE,   /* a string */
    C_ARRAY,   /* '[' */
    C_OBJECT,  /* '{' */
    C_MEMBER,  /* ':' */
    C_LITERAL, /* 't', 'f', 'n' */
};

static const unsigned char byte_class[256] = {
    ['0'] = C_DIGIT,   ['1'] = C_DIGIT,   ['2'] = C_DIGIT,  ['3'] = C_DIGIT,  ['4'] = C_DIGIT,
    ['5'] = C_DIGIT,   ['6'] = C_DIGIT,   ['7'] = C_DIGIT,  ['8'] = C_DIGIT,  ['9'] = C_DIGIT,
    ['-'] = C_MINUS,   ['+'] = C_NUMBER,  ['.'] = C_NUMBER, ['e'] = C_NUMBER, ['E'] = C_NUMBER,
    ['"'] = C_QUOTE,   ['['] = C_ARRAY,   ['{'] = C_OBJECT, [':'] = C_MEMBER, ['t'] = C_LITERAL,
    ['f'] = C_LITERAL, ['n'] = C_LITERAL,
};

static int is_digit(char c) { return (unsigned)(c - '0') < 10; }

/* Whether c continues a number token: a digit, '-', '+', '.', 'e' or 'E'. */
static int is_number_char(char c)
{
    unsigned char k = byte_class[(unsigned char)c];
    return k == C_DIGIT || k == C_MINUS || k == C_NUMBER;
}

/* The end of the run of ASCII digits at p, eight bytes at a time where the
 * byte order allows (api_first_nondigit, as numparse.c's read_digits). */
static const char *skip_digits(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t chunk;
        memcpy(&chunk, p, sizeof chunk);
        uint64_t nondigit = api_first_nondigit(chunk);
        if (nondigit)
            return p + (__builtin_ctzll(nondigit) >> 3);
        p += 8;
    }
#endif
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* The value of the digits [p, q), saturating at SIZE_MAX. */
static size_t digits_value(const char *p, const char *q)
{
    size_t v = 0;
    if (q - p < 20) { /* below 10^19 < 2^64: no overflow where size_t is 64 bits */
        for (; p < q; p++)
            v = v * 10 + (size_t)(*p - '0');
        if (sizeof(size_t) >= 8)
            return v;
        v = 0;
    }
    for (; p < q; p++) {
        size_t d = (size_t)(*p - '0');
        v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
    }
    return v;
}

/* The number token at p (a digit or '-'): it runs while number characters
 * follow; sets *end_out past it and returns its value when it is an
 * integer literal (an optional leading '-', then digits only; saturating),
 * 0 otherwise. */
static size_t number_token(const char *p, const char *end, const char **end_out)
{
    const char *digits = p + (*p == '-');
    const char *q = skip_digits(digits, end);
    if (q < end && is_number_char(*q)) { /* not an integer: find the end */
        do
            q = is_digit(*q) ? skip_digits(q, end) : q + 1;
        while (q < end && is_number_char(*q));
        *end_out = q;
        return 0;
    }
    *end_out = q;
    return digits_value(digits, q);
}

/* What the scan counts: tokens by kind, the strings' price, the two
 * largest integers. */
typedef struct {
    size_t numbers, arrays, objects, members, literals, strings;
    size_t top1, top2;
} tally;

/* Where the scan stands between two steps: whether the byte before is a
 * number character (m), and whether it is one outside any number token
 * ("+", ".", "e" or "E" before any digit or "-" of its run: lone). */
typedef struct {
    int m, lone;
} scan_state;

/* One step of the scan at p, outside strings and number tokens: a number
 * token, a string or one byte. Returns where the next step starts. */
static const char *scan_step(const char *p, const char *end, tally *t, scan_state *st)
{
    unsigned char k = byte_class[(unsigned char)*p];
    switch (k) {
    case C_DIGIT:
    case C_MINUS: {
        size_t v = number_token(p, end, &p);
        t->numbers++;
        if (v > t->top2) {
            t->top2 = v > t->top1 ? t->top1 : v;
            t->top1 = v > t->top1 ? v : t->top1;
        }
        st->m = 1;
        st->lone = 0;
        return p;
    }
    case C_QUOTE: {
        const char *q = skip_string(p, end);
        t->strings =
            sat_add(t->strings, API_PRICE_STRING + API_PRICE_STRING_COPIES * (size_t)(q - p));
        st->m = st->lone = 0;
        return q;
    }
    case C_ARRAY:
        t->arrays++;
        break;
    case C_OBJECT:
        t->objects++;
        break;
    case C_MEMBER:
        t->members++;
        break;
    case C_LITERAL:
        t->literals++;
        break;
    default:
        break;
    }
    st->m = st->lone = k == C_NUMBER;
    return p + 1;
}

/* The steps from p until stop (or past it: a token or a string may run
 * on), p being where the scan stands in state *st: the rest of a counted
 * number token first. */
static const char *scan_until(const char *p, const char *end, const char *stop, tally *t,
                              scan_state *st)
{
    if (st->m && !st->lone)
        while (p < end && is_number_char(*p))
            p++;
    while (p < stop)
        p = scan_step(p, end, t, st);
    return p;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* The counts of '[', '{', ':' and literals' first letters over blocks, in
 * byte lanes: each block adds at most 4 to a lane, so they are summed
 * into the tally every 63 blocks. */
typedef struct {
    __m128i array, object, member, literal;
    int blocks;
} lane_counts;

static size_t lane_sum(__m128i v)
{
    __m128i s = _mm_sad_epu8(v, _mm_setzero_si128());
    return (size_t)_mm_cvtsi128_si32(s) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(s, 8));
}

static void lanes_flush(lane_counts *k, tally *t)
{
    t->arrays += lane_sum(k->array);
    t->objects += lane_sum(k->object);
    t->members += lane_sum(k->member);
    t->literals += lane_sum(k->literal);
    k->array = k->object = k->member = k->literal = _mm_setzero_si128();
    k->blocks = 0;
}

static __m128i eq(__m128i x, char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); }

/* The 64 bytes at p when none is a quote (else 0): the masks (bit i for
 * byte i) of the digits and '-' (start) and of '+', '.', 'e' and 'E'
 * (other), and the lanes counted. */
static int classify(const char *p, uint64_t *start, uint64_t *other, lane_counts *k)
{
    __m128i x[4];
    for (int i = 0; i < 4; i++)
        x[i] = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
    __m128i quote = _mm_or_si128(_mm_or_si128(eq(x[0], '"'), eq(x[1], '"')),
                                 _mm_or_si128(eq(x[2], '"'), eq(x[3], '"')));
    if (_mm_movemask_epi8(quote))
        return 0;
    *start = *other = 0;
    for (int i = 0; i < 4; i++) {
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x[i], _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(x[i], _mm_set1_epi8('9' + 1)));
        __m128i e = eq(_mm_or_si128(x[i], _mm_set1_epi8(0x20)), 'e'); /* 'e' and 'E' */
        __m128i oth = _mm_or_si128(_mm_or_si128(eq(x[i], '+'), eq(x[i], '.')), e);
        *start |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(digit, eq(x[i], '-')))
                  << (16 * i);
        *other |= (uint64_t)(unsigned)_mm_movemask_epi8(oth) << (16 * i);
        /* a match is -1: subtracting it counts it */
        k->array = _mm_sub_epi8(k->array, eq(x[i], '['));
        k->object = _mm_sub_epi8(k->object, eq(x[i], '{'));
        k->member = _mm_sub_epi8(k->member, eq(x[i], ':'));
        k->literal = _mm_sub_epi8(
            k->literal, _mm_or_si128(_mm_or_si128(eq(x[i], 't'), eq(x[i], 'f')), eq(x[i], 'n')));
    }
    return 1;
}

static size_t popcount(uint64_t x) { return x ? (size_t)__builtin_popcountll(x) : 0; }

/* The number tokens of a block of 64 bytes without a string. A number
 * token starts at the first digit or '-' of each run of number characters
 * (the "+", ".", "e" and "E" before it are lone bytes), so a run counts
 * once when it starts with one, or when the lone bytes it starts with are
 * followed by one: adding the lone stretches' first bits to the mask of
 * such bytes carries each to the byte after its stretch. */
static void count_numbers(uint64_t start, uint64_t other, tally *t, scan_state *st)
{
    uint64_t m = start | other;
    uint64_t run_start = m & ~(m << 1 | (uint64_t)st->m);
    uint64_t lone = (run_start & other) | (st->lone ? other & 1 : 0);
    uint64_t sum = other + lone;
    uint64_t landed = sum & ~other & start;
    t->numbers +=
        popcount(run_start & start) + popcount(landed) + (size_t)(st->lone && (start & 1));
    st->m = (int)(m >> 63);
    st->lone = sum < other; /* a lone stretch runs on into the next block */
}
#endif

/* The tokens of [p, end): 64 bytes at a time where SSE2 is there and a
 * block holds no quote, one step at a time otherwise. */
static void scan_tokens(const char *p, const char *end, tally *t)
{
    scan_state st = {0, 0};
#if defined(__SSE2__)
    lane_counts k = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(),
                     _mm_setzero_si128(), 0};
    while (end - p >= 64) {
        uint64_t start, other;
        if (!classify(p, &start, &other, &k)) {
            p = scan_until(p, end, p + 64, t, &st);
            continue;
        }
        count_numbers(start, other, t, &st);
        p += 64;
        if (++k.blocks == 63)
            lanes_flush(&k, t);
    }
    lanes_flush(&k, t);
#endif
    scan_until(p, end, end, t, &st);
}

/* jansson's price of a JSON text, plus what its numbers cost decoded; with
 * work, the work bound grows to the count of numbers and to every
 * integer's value (a count such as num_samples bounds the work it asks
 * for). A document that names the stream "continued" asks for a replay of
 * epoch times num_samples (or items) draws before its own: the work bound
 * grows to the product of its two largest integers, and of the largest and
 * the count of numbers (README, "Continued streams and windows"). Without
 * work, blocks of 64 bytes are counted at once; with it, every integer is
 * read. */
static size_t json_cost(const char *p, size_t len, size_t *work)
{
    tally t = {0};
    if (work) {
        scan_state st = {0, 0};
        scan_until(p, p + len, p + len, &t, &st);
    } else {
        scan_tokens(p, p + len, &t);
    }
    /* Priced per kind, saturating: the same min(SIZE_MAX, total) as a sum
     * in document order. */
    size_t cost = t.strings;
    cost = sat_add(cost, sat_mul(t.numbers, API_PRICE_NUMBER + API_PRICE_DECODED));
    cost = sat_add(cost, sat_mul(t.arrays, API_PRICE_ARRAY));
    cost = sat_add(cost, sat_mul(t.objects, API_PRICE_OBJECT));
    cost = sat_add(cost, sat_mul(t.members, API_PRICE_MEMBER));
    cost = sat_add(cost, sat_mul(t.literals, API_PRICE_LITERAL));
    if (!work)
        return cost;
    if (t.top1 > *work)
        *work = t.top1;
    if (t.numbers > *work)
        *work = t.numbers;
    if (contains(p, len, "\"continued\"")) {
        size_t replay = sat_mul(t.top1, t.top2 > t.numbers ? t.top2 : t.numbers);
        if (replay > *work)
            *work = replay;
    }
    return cost;
}

size_t bl_api_estimate(const char *endpoint, const bl_api_request *req, size_t *work)
{
    (void)endpoint; /* every endpoint's work is linear in its arrays and counts */
    size_t cost = API_PRICE_BASE_COST, w = 0, *wp = work ? &w : NULL;
    if (req->json)
        cost = sat_add(cost, json_cost(req->json, req->json_len, wp));
    for (size_t i = 0; i < req->nparts; i++) {
        const bl_api_part *part = &req->parts[i];
        if (strcmp(part->name, "request") == 0) {
            cost = sat_add(cost, json_cost(part->data, part->len, wp));
            continue;
        }
        /* Priced by its elements; a part that is no valid .npy is refused
         * before anything is decoded, so its bytes are price enough. */
        npy_view v;
        api_err e;
        if (npy_parse(part->data, part->len, part->name, &v, &e) == BL_API_OK) {
            cost = sat_add(cost, sat_mul(v.count, API_PRICE_NPY_ELEMENT));
            w = v.count > w ? v.count : w;
        } else {
            cost = sat_add(cost, part->len);
        }
    }
    if (work)
        *work = w;
    return cost;
}
