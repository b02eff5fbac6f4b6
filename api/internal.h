/*
 * internal.h — shared by the api layer's modules, not part of its door
 * (api.h). A growable JSON writer, the field-table decoder and the array
 * decoders that every endpoint uses.
 */
#ifndef BALLAST_API_INTERNAL_H
#define BALLAST_API_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "ballast.h"

/* ---- errors ----------------------------------------------------------- */

typedef struct {
    bl_api_code code;
    char field[BL_API_FIELD_MAX]; /* JSON-path-like pointer, "" for none */
    char message[BL_API_MESSAGE_MAX];
} api_err;

/* Sets *e and returns code. field may be NULL. */
bl_api_code api_fail(api_err *e, bl_api_code code, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Turns a libballast error into an api error: the argument name becomes the
 * field, and a flat index becomes [i] (or [i][j]... given a shape). */
bl_api_code api_from_lib(api_err *e, const bl_error *le, const size_t *shape, size_t ndim);

/* Writes name[i][j]... for the flat index of an array of the given shape. */
void api_path(char *buf, size_t size, const char *name, int64_t flat, const size_t *shape,
              size_t ndim);

/* ---- numbers to text (dtoa.c) ------------------------------------------------ */

/* Room that dtoa_shortest, dtoa_u64 and dtoa_i64 need at out: they may use
 * all of it as scratch, and the text they return is at most 24 bytes (no
 * NUL). None of them can fail. */
#define DTOA_BUF 40

/* Writes v as Python's repr(float) does and returns the length: the shortest
 * decimal that reads back as v (among the shortest, the closest to v; ties to
 * an even last digit), in fixed notation when the decimal exponent is in
 * -4..15, with ".0" after an integral value ("1000000000000000.0", "0.0001",
 * "-0.0"), scientific otherwise ("1e-05", "1e+16", "1.5e+300", "5e-324");
 * "nan", "inf" and "-inf" when v is not finite. */
size_t dtoa_shortest(char *out, double v);
/* The decimal behind dtoa_shortest for a finite v: |v| is the double nearest
 * to digits * 10^exp10; digits < 10^17 has no trailing zero (0 for ±0). */
void dtoa_decimal(double v, uint64_t *digits, int *exp10);
/* v in decimal; returns the length. */
size_t dtoa_u64(char *out, uint64_t v);
size_t dtoa_i64(char *out, int64_t v);

/* ---- the JSON writer ----------------------------------------------------- */

/* A growable output buffer. Once an allocation fails, every later call is a
 * no-op and oom stays set, so callers check once at the end. The same holds
 * for an optional limit on the output: a write that would take len past it
 * writes nothing and sets over, and nothing is written after it. */
typedef struct {
    char *buf;
    size_t len, cap; /* len <= cap; len <= limit when limit != 0 */
    int oom;
    size_t nonfinite; /* non-finite reals written as null */
    size_t limit;     /* output bytes allowed (the final NUL not counted); 0: no limit */
    int over;         /* a write was refused by limit; jw_take then returns NULL */
} jw;

void jw_init(jw *w);
void jw_free(jw *w);
/* Hands the buffer over (NUL-terminated) and resets w; NULL after oom or
 * over. */
char *jw_take(jw *w, size_t *len);
void jw_raw(jw *w, const char *s, size_t n);
/* Appends n bytes for the caller to fill, and returns where they start:
 * valid until the next write. NULL (nothing appended) after oom or over. */
char *jw_reserve(jw *w, size_t n);
void jw_lit(jw *w, const char *s);
void jw_str(jw *w, const char *s);
/* Writes "key": with a leading comma unless it opens the object. */
void jw_key(jw *w, const char *key);
/* The shortest decimal that parses back to v; null (counted) if not finite. */
void jw_double(jw *w, double v);
void jw_int(jw *w, int64_t v);
void jw_uint(jw *w, uint64_t v);
/* A count: integral values below 2^53 as integers, others as reals. */
void jw_count(jw *w, double v);
void jw_doubles(jw *w, const double *v, size_t n);
void jw_int64s(jw *w, const int64_t *v, size_t n);
/* A nested array of the given shape (ndim 0: a single number). */
void jw_tensor(jw *w, const double *v, const size_t *shape, size_t ndim);
/* An object {"k1": v[0], ...} whose keys are those of obj, in order. */
void jw_keyed(jw *w, json_t *keys, const double *v, int counts);

/* ---- .npy (npy.c) --------------------------------------------------------------- */

typedef enum { NPY_F8, NPY_F4, NPY_I8, NPY_I4, NPY_U1 } npy_dtype;

typedef struct {
    npy_dtype dtype;
    size_t shape[BL_MAX_DIMS];
    size_t ndim;
    size_t count;
    const unsigned char *data; /* count items, little-endian, maybe unaligned */
} npy_view;

/* Validates a .npy buffer (versions 1.0-3.0, little-endian f4/f8/i4/i8/u1,
 * C order, data length matching the shape). The header must be the Python
 * dict literal numpy writes, with exactly the keys 'descr', 'fortran_order'
 * and 'shape'. name is the field, for errors. Knows no limit: callers bound
 * v->count and npy_nodes(v). */
bl_api_code npy_parse(const void *buf, size_t len, const char *name, npy_view *v, api_err *e);
/* How many JSON values (nested arrays and numbers, the outermost array not
 * counted) the array's JSON form holds: d0 + d0*d1 + ... + d0*...*d(n-1),
 * 1 for a scalar; saturates at SIZE_MAX. A zero dimension makes count 0
 * but not this: (N, 0) is N empty arrays. Can't fail. */
size_t npy_nodes(const npy_view *v);
size_t npy_itemsize(npy_dtype t);
int npy_is_integer(const npy_view *v);
void npy_to_doubles(const npy_view *v, double *out);
/* Integer dtypes only. */
void npy_to_int64(const npy_view *v, int64_t *out);
/* Writes a version 1.0 .npy of float64 (NPY_F8) or int64 (NPY_I8) data. */
void npy_write(jw *w, npy_dtype t, const void *data, const size_t *shape, size_t ndim);
/* Its header alone: the data may follow (padded so that it starts 64
 * bytes past a multiple of 64 from the header's start). */
void npy_write_header(jw *w, npy_dtype t, const size_t *shape, size_t ndim);

/* ---- numbers (numparse.c) ------------------------------------------------- */

/* ---- estimate.c's prices ---------------------------------------------- */

/* What bl_api_estimate reserves per token of a JSON body, per .npy element
 * and per request (estimate.c's header gives the reasons); here so that
 * tests/unit/test_estimate.c checks the same figures. */
#define API_PRICE_NUMBER 48
#define API_PRICE_LITERAL 16
#define API_PRICE_STRING 96
#define API_PRICE_ARRAY 160
#define API_PRICE_OBJECT 256
#define API_PRICE_MEMBER 128
#define API_PRICE_STRING_COPIES 3
/* After the parse, per number: its double, three arrays of the same length
 * (gradients, keys, alias tables, sorted copies) and its answer text. */
#define API_PRICE_DECODED (8 * 4 + 25)
/* .npy elements: their doubles, the same arrays, the answer. */
#define API_PRICE_NPY_ELEMENT (8 * 4 + 25)
/* Whatever the request: tables, messages, the error document. */
#define API_PRICE_BASE_COST ((size_t)256 << 10)

/* Bit 7 of the lowest byte of the eight bytes in chunk (loaded
 * little-endian) that is no ASCII digit, and maybe of bytes above it (a
 * borrow or carry only runs upwards); 0 when all eight are digits. Its
 * lowest set bit, __builtin_ctzll / 8, is the length of the digit run:
 * numparse.c's read_digits and estimate.c's skip_digits. */
static inline uint64_t api_first_nondigit(uint64_t chunk)
{
    return ((chunk - UINT64_C(0x3030303030303030)) | (chunk + UINT64_C(0x4646464646464646))) &
           UINT64_C(0x8080808080808080);
}

/* A JSON number literal, read by num_parse. */
typedef struct {
    double value;           /* nearest double, ties to even (glibc strtod's answer);
                               +-inf beyond the range; "-0" is -0.0 */
    uint64_t mag;           /* |literal| exactly, when fits64 */
    unsigned char neg;      /* it starts with '-' */
    unsigned char integral; /* no fraction and no exponent part ("2.0", "2e0" are not) */
    unsigned char fits64;   /* integral and |literal| < 2^64 */
} num_value;

/* Reads the JSON number -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? that
 * starts at p (end excluded). Returns the bytes it spans, or 0 when p does
 * not start one; what follows is not looked at ("01" reads "0", "1.e5"
 * and "-" read nothing). Any number of digits; no allocation, can't fail. */
size_t num_parse(const char *p, const char *end, num_value *v);
/* num_parse without its first try (num_parse_short, numshort.h), for a
 * caller that made it: the same answer for every literal. */
size_t num_parse_long(const char *p, const char *end, num_value *v);
/* The literal as an int64: 1 when integral and in [-2^63, 2^63), else 0. */
int num_int64(const num_value *v, int64_t *out);
/* The literal as a uint64: 1 when integral and in [0, 2^64), else 0. */
int num_uint64(const num_value *v, uint64_t *out);

/* ---- decoding -------------------------------------------------------------- */

/* The request decoder: parse.c (the envelope), fastarray.c (long number
 * arrays), arrays.c (flat array fields), tensor.c (nested ones); errors.c
 * (api_fail and friends, above). */

/* Long arrays of plain numbers, flat or nested (rectangular), parsed
 * straight into doubles before the rest of the document goes to jansson
 * (see fastarray.c). */
typedef struct {
    double *vals;
    size_t nvals, cap;
    struct fast_array {
        size_t off, len; /* len: the numbers, all dimensions together */
        int all_integers;
        size_t first_real;   /* index of the first non-integer literal, if any */
        size_t ndim;         /* 1 for a flat array, at most BL_MAX_DIMS */
        size_t dims;         /* ndim > 1: its shape is ndim entries of the dims below, from here */
        size_t src, src_len; /* the bytes of the body it spans, '[' to ']' */
    } * arr;
    size_t narr, arr_cap;
    size_t *dims; /* the shapes of nested arrays */
    size_t ndims, dims_cap;
    int flat_only; /* set by the caller: take flat arrays only, as before
                      nested ones were (tests compare the two) */
} api_arrays;

void api_arrays_free(api_arrays *fa);

/* A request: the parsed document and the binary parts beside it. */
typedef struct {
    json_t *doc;
    const bl_api_part *parts;
    size_t nparts;
    const api_arrays *fa; /* may be NULL */
} api_request;

/* An array field's value: JSON, or a .npy part (exactly one is set). */
typedef struct {
    json_t *json;
    const bl_api_part *part;
    const api_arrays *fa; /* resolves fast-array placeholders in json */
} api_value;

/* Parses a request body into an object; big integers beyond 64 bits are
 * kept exactly (see parse.c). Returns NULL and fills *e on failure. */
json_t *api_parse(const char *body, size_t len, api_err *e);
/* The same for a request whose long number arrays go to *fa (fa must be
 * zeroed; free it with api_arrays_free after the document). */
json_t *api_parse_request(const char *body, size_t len, api_arrays *fa, api_err *e);

/* A JSON number (or a big-integer placeholder) as a double. 0 if not one. */
int api_number(json_t *v, double *out);
/* A JSON integer as int64 (saturating beyond 64 bits). 0 if not an integer. */
int api_integer(json_t *v, int64_t *out);

/* ---- exact integers (int64s.c) --------------------------------------------- */

/* A JSON integer (or big-integer placeholder) exactly: 1 when it is one in
 * [-2^63, 2^63), -1 when it is an integer beyond (*out saturated), 0 when v
 * is no integer. Can't fail. */
int api_int64_exact(json_t *v, int64_t *out);
/* An integer held as a double (a fast array's or a .npy's, exact up to
 * 2^53) as int64, saturated at the ends. Can't fail. */
int64_t api_int64_of_double(double x);

/* A flat array of numbers; each >= 0 when nonneg. *out is malloc'd (NULL
 * for an empty array). max 0: no limit, else more than max entries is
 * limit_exceeded naming limit_name. */
bl_api_code api_doubles(const api_value *v, const char *name, int nonneg, size_t max,
                        const char *limit_name, double **out, size_t *n, api_err *e);
/* api_doubles for a handler that may overwrite the values: a 1-D float64
 * .npy part's own bytes (moved onto an 8-byte boundary within the part)
 * when cfg->parts_writable, *owned 0 (the part's, not to be freed);
 * otherwise api_doubles' malloc'd copy, *owned 1. The same checks and
 * errors as api_doubles. */
bl_api_code api_doubles_scratch(const bl_api_config *cfg, const api_value *v, const char *name,
                                int nonneg, size_t max, const char *limit_name, double **out,
                                size_t *n, int *owned, api_err *e);
/* A flat array of integers (JSON integers, or an integer .npy). */
bl_api_code api_int64s(const api_value *v, const char *name, size_t max, const char *limit_name,
                       int64_t **out, size_t *n, api_err *e);

/* A list of lists of integers, each list of any length (label_sets): the
 * lists' entries one after the other in *ids, list i being
 * ids[offsets[i]] .. ids[offsets[i + 1] - 1] (offsets: *n + 1 entries).
 * JSON only: a .npy part is refused. max bounds both the number of lists
 * and of entries. On error *ids and *offsets may be allocated: the caller
 * frees them. */
bl_api_code api_int64_lists(const api_value *v, const char *name, size_t max,
                            const char *limit_name, int64_t **ids, size_t **offsets, size_t *n,
                            api_err *e);
/* The number of dimensions of an array field as sent: a .npy part's (1 when
 * it is no valid .npy, which the decoders then report), or the depth of
 * JSON arrays along the first elements. Can't fail. */
size_t api_array_ndim(const api_value *v);

/* A rectangular nested array of numbers (a scalar is ndim 0). */
typedef struct {
    double *data; /* malloc'd, count entries (at least one slot) */
    size_t shape[BL_MAX_DIMS];
    size_t ndim;
    size_t count;
    int all_integers; /* every leaf was a JSON integer */
} api_tensor;

bl_api_code api_tensor_decode(const api_value *v, const char *name, size_t max,
                              const char *limit_name, api_tensor *t, api_err *e);
void api_tensor_free(api_tensor *t);

/* The values of a tensor of integers decoded from av (t->all_integers set)
 * as int64 exactly, t->count of them into out: from the JSON integers
 * themselves or an integer .npy, never through t's doubles (which hold
 * integers exactly only up to 2^53). An integer beyond int64 is refused,
 * naming its path in name. (int64s.c) */
bl_api_code api_int64_tensor(const api_value *av, const api_tensor *t, const char *name,
                             int64_t *out, api_err *e);

/* ---- request fields (fields.c, suggest.c) ---------------------------------- */

/* Every endpoint declares its request as a form: a table of fields, one row
 * each, and a table of rules between fields. api_decode_fields decodes a
 * request by it, so that a handler reads decoded values only: it sets no
 * default and checks no presence or combination itself. A new option is a
 * new row; tests/http/test_fields.py checks every row and rule against
 * api/openapi.yaml. */

typedef enum {
    FT_BOOL,   /* int, 0 or 1 */
    FT_INT,    /* int64_t, a JSON integer (within the range, if any) */
    FT_UINT64, /* uint64_t, a JSON integer in [0, 2^64) (or see decimal_string) */
    FT_NUMBER, /* double, integer or real, finite, within the range (if any) */
    FT_ENUM,   /* int, the index of the name in choices */
    FT_ARRAY,  /* api_value: JSON, or a .npy part of the same name */
} field_type;

/* What a field's `given` flag holds once decoded. */
enum { FIELD_ABSENT = 0, FIELD_GIVEN = 1, FIELD_GIVEN_AS_STRING = 2 };

typedef struct {
    double min, max;                  /* max INFINITY: no upper bound */
    unsigned char min_open, max_open; /* (min, ...) and (..., max) */
    unsigned char ranged;             /* 0: any value of the type */
    unsigned char has_also;           /* also, outside [min, max], is allowed too */
    double also;                      /* (alpha's -1: no weighting) */
} field_range;

/* clang-format off */
#define RANGE(lo, hi) {.min = (lo), .max = (hi), .ranged = 1} /* [lo, hi] */
#define RANGE_BELOW(lo, hi) {.min = (lo), .max = (hi), .max_open = 1, .ranged = 1} /* [lo, hi) */
#define AT_LEAST(lo) {.min = (lo), .max = INFINITY, .ranged = 1}                   /* [lo, inf) */
#define ABOVE(lo) {.min = (lo), .max = INFINITY, .min_open = 1, .ranged = 1}        /* (lo, inf) */
/* clang-format on */

/* Defaults, written before decoding: DEFAULT_INT for FT_BOOL, FT_INT and
 * FT_ENUM (the index), DEFAULT_UINT for FT_UINT64, DEFAULT_NUMBER. A row
 * without one gets 0 (and the handler a `given` flag when it must know). */
typedef union {
    int64_t i;
    uint64_t u;
    double d;
} field_value;
#define DEFAULT_INT(v) .def = {.i = (v)}, .has_default = 1
#define DEFAULT_UINT(v) .def = {.u = (v)}, .has_default = 1
#define DEFAULT_NUMBER(v) .def = {.d = (v)}, .has_default = 1

/* The enum value v in an "only with" set. */
#define CHOICE(v) (UINT32_C(1) << (v))

/* `given`: where the handler learns whether the field was sent, an int of
 * the request struct (1 + its offset; 0 for none). */
#define FIELD_GIVEN_AT(type, member) (offsetof(type, member) + 1)

typedef struct {
    const char *name; /* NULL ends the table */
    field_type type;
    size_t offset;                /* of the destination in the request struct */
    field_value def;              /* see DEFAULT_INT */
    unsigned char has_default;    /* def is the contract's default */
    unsigned char required;       /* must be sent, whenever it applies (see only) */
    unsigned char decimal_string; /* FT_UINT64: a string of digits too, exact to 2^64 - 1 */
    const char *json_only;        /* FT_ARRAY: NULL, or why it cannot be a .npy part */
    field_range range;            /* FT_INT, FT_NUMBER */
    const char *const *choices;   /* FT_ENUM: names, NULL-terminated (libballast's tables) */
    struct {
        const char *field; /* an FT_ENUM field of the table; NULL: applies always */
        uint32_t values;   /* CHOICE(v) for every value of it this field applies to */
        const char *hint;  /* said after the refusal, or NULL */
    } only;
    size_t given;    /* FIELD_GIVEN_AT(...), or 0 */
    const char *doc; /* one line */
} field_spec;

#define FIELD_END                                                                                  \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* A field is set when it is sent (a boolean: sent as true). */
typedef enum {
    RULE_ONE_OF,      /* exactly one of a and b (and of the b of every RULE_ONE_OF_ALSO of
                         the same a): message when two are set (field: the later one),
                         message_none when none (no field) */
    RULE_NEEDS,       /* a set needs b set: message, field a */
    RULE_EXCLUDES,    /* a and b are not both set: message, field b */
    RULE_ONE_OF_ALSO, /* b is one more choice of the RULE_ONE_OF of the same a */
} rule_kind;

typedef struct {
    rule_kind kind;
    const char *a, *b; /* names of fields of the table; a NULL ends it */
    const char *message, *message_none;
} field_rule;

#define RULE_END                                                                                   \
    {                                                                                              \
        .a = NULL                                                                                  \
    }

typedef struct {
    const char *endpoint;     /* "weights", ... (also the scope of api_suggest's aliases) */
    const field_spec *fields; /* at most 64 */
    const field_rule *rules;
} api_form;

/* The forms of the endpoints (weights.c, sample.c, loss.c). */
extern const api_form api_weights_form, api_sample_form, api_loss_form;

/* Decodes the request into dst by the form: writes every default, then
 * decodes each member and part by its row (unknown names, with the nearest
 * valid one, wrong types and ranges, an array sent twice are errors), sets
 * the `given` flags, then checks, each in table order, the rules, that
 * every field sent applies to the values of the enum field it depends on,
 * and that every required field that applies was sent. Fills *e and
 * returns its code on the first failure. */
bl_api_code api_decode_fields(const api_request *req, const api_form *form, void *dst, api_err *e);

/* Whether an array field was sent (as JSON or as a part). */
static inline int api_sent(const api_value *v) { return v->json != NULL || v->part != NULL; }

/* The name of names[0..n) nearest to got (folded case and separators, the
 * aliases of PyTorch, Keras, NumPy and scikit-learn names in scope, an
 * edit distance), or NULL when none is near. scope: the endpoint for field
 * names, the field for enum values. Can't fail. */
const char *api_suggest(const char *got, const char *const *names, size_t n, const char *scope);

/* When body is not JSON but recognisably something else (a form-encoded
 * body, a raw .npy file), replaces *e with a message that says what to
 * send instead; otherwise leaves it. */
void api_explain_body(const char *body, size_t len, api_err *e);

/* parse.c's view of a parsed value, for fields.c: its JSON type's name
 * ("integer" for a big integer, "array" for a long number array); the
 * digits of an integer beyond 64 bits, or NULL; whether it is one of those
 * placeholders (not a client's string). */
const char *api_type_name(json_t *v);
const char *api_big_integer(json_t *v);
int api_is_placeholder(json_t *v);

/* ---- responses (emit.c) --------------------------------------------------- */

typedef enum {
    OV_STRING, /* s */
    OV_UINT,   /* u */
    OV_DOUBLE, /* d; null (and a warning) when not finite */
    OV_TENSOR, /* dv with shape[ndim]; ndim 0 is one number */
    OV_INT64S, /* iv[shape[0]] */
    OV_COUNTS, /* dv[shape[0]], integral values written as integers */
    OV_KEYED,  /* dv as an object keyed like `keys`; counts when keyed_counts */
} ov_kind;

typedef struct {
    const char *name;
    ov_kind kind;
    const char *s;
    uint64_t u;
    double d;
    const double *dv;
    const int64_t *iv;
    size_t shape[BL_MAX_DIMS];
    size_t ndim;
    json_t *keys;
    int keyed_counts;
    int direct; /* OV_INT64S already written in the .npy answer (out_int64s_direct) */
} api_field_out;

#define API_MAX_OUT 16

/* An answer under construction: its fields in order, then written in the
 * asked-for format by api_emit. The arrays stay the handler's until then. */
typedef struct {
    bl_api_format format;
    api_field_out f[API_MAX_OUT];
    size_t n;
    int primary;         /* the one array of a BL_API_NPY answer, or -1 */
    const char *warning; /* said when a real is not finite */
    size_t max_output;   /* bytes the answer may take, 0: no limit */
    jw w;                /* the serialised answer */
    bl_api_result *res;  /* where metadata and the content type go */
} api_out;

void out_string(api_out *o, const char *name, const char *s);
void out_uint(api_out *o, const char *name, uint64_t u);
void out_double(api_out *o, const char *name, double d);
void out_tensor(api_out *o, const char *name, const double *v, const size_t *shape, size_t ndim);
void out_doubles(api_out *o, const char *name, const double *v, size_t n);
void out_int64s(api_out *o, const char *name, const int64_t *v, size_t n);
/* A .npy answer's one array of n int64s, filled in place: as out_int64s
 * then out_primary, but the array is the answer's own bytes (its .npy
 * header is written into o->w now), which the handler fills through the
 * pointer returned, writing nothing else into o->w before api_emit. NULL
 * (and nothing added) when o->format is not BL_API_NPY, fields were added
 * before, or the answer would pass max_output or memory: the handler then
 * makes its own array for out_int64s. */
int64_t *out_int64s_direct(api_out *o, const char *name, size_t n);
void out_counts(api_out *o, const char *name, const double *v, size_t n);
void out_keyed(api_out *o, const char *name, json_t *keys, const double *v, int counts);
/* Marks the last field added as the answer's one array (for BL_API_NPY). */
void out_primary(api_out *o);

/* Before the arrays of an answer are made: refuses (limit_exceeded) when the
 * fields added so far and `numbers` more numbers could not fit max_output
 * in o->format (a .npy answer: the numbers of its one array). api_emit
 * still bounds the finished answer. */
bl_api_code api_answer_room(const api_out *o, size_t numbers, api_err *e);

/* Serialises the answer into o->w in o->format. Fails only for a .npy
 * answer without a single array (BL_API_NOT_ACCEPTABLE). */
bl_api_code api_emit(api_out *o, api_err *e);

/* ---- endpoints ------------------------------------------------------------ */

typedef bl_api_code (*api_handler)(const bl_api_config *cfg, const api_request *req, api_out *out,
                                   api_err *e);

bl_api_code api_weights(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e);
bl_api_code api_sample(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e);
bl_api_code api_loss(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e);

#endif
