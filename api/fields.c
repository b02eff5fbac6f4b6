/*
 * fields.c — a request decoded by its endpoint's form: a table of fields,
 * one row each, and a table of rules between them (see internal.h).
 *
 * Defaults are written first, so that a handler never sets one. Then each
 * member of the document (and each binary part) is decoded by its row:
 * unknown names (with the nearest valid one, suggest.c), types, ranges and
 * the error's `field` come from one place. Then, each in table order: the
 * rules between fields (exactly one of, needs, excludes), which values of
 * an enum field each field applies to ("beta applies only to scheme
 * effective_number"), and the required fields. A new option is one row;
 * tests/http/test_fields.py checks every row against api/openapi.yaml.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MAX_FIELDS 64 /* bits of the mask of fields sent */
/* Room for the texts of the messages: a range ("in (0, 1]"), a list of
 * an enum's names, a list of a form's field names. */
#define RANGE_TEXT_MAX 96
#define CHOICES_TEXT_MAX 256
#define FIELDS_TEXT_MAX 400

/* "a"/"an" for api_type_name(v). */
static const char *article(json_t *v) { return strchr("aeiou", api_type_name(v)[0]) ? "n" : ""; }

/* Writes names[i] for each i with bit i of set (all when set is ~0),
 * joined by ", " and before the last by `last` (", " or " or "), quoted
 * when quote. Never writes past size. */
static void join_names(char *buf, size_t size, const char *const *names, uint64_t set,
                       const char *last, int quote)
{
    size_t n = 0, k = 0, total = 0;
    for (size_t i = 0; names[i] && i < 64; i++)
        total += (set >> i) & 1;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && i < 64 && n < size; i++) {
        if (!((set >> i) & 1))
            continue;
        const char *sep = k == 0 ? "" : k + 1 == total ? last : ", ";
        int w = snprintf(buf + n, size - n, quote ? "%s\"%s\"" : "%s%s", sep, names[i]);
        n += w < 0 ? size : (size_t)w;
        k++;
    }
}

/* The field names of a form, NULL-terminated, for join_names and
 * api_suggest. */
static size_t field_names(const field_spec *spec, const char **names)
{
    size_t n = 0;
    for (; spec[n].name && n < MAX_FIELDS; n++)
        names[n] = spec[n].name;
    names[n] = NULL;
    return n;
}

static int find_field(const field_spec *spec, const char *name)
{
    for (int i = 0; spec[i].name; i++)
        if (strcmp(spec[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- one value ------------------------------------------------------------ */

/* s[0..len), decimal digits, as a uint64: 1 ok, 0 not only digits (or
 * empty), -1 2^64 or more. */
static int decimal_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t u = 0;
    int big = 0;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10)
            big = 1;
        else if (!big)
            u = u * 10 + d;
    }
    if (big)
        return -1;
    *out = u;
    return 1;
}

/* Exactly an unsigned 64-bit JSON integer: 1 ok, 0 not an integer, -1 out
 * of range. */
static int api_uint64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return -1;
        *out = (uint64_t)i;
        return 1;
    }
    const char *s = api_big_integer(v);
    if (!s)
        return 0;
    return *s == '-' ? -1 : decimal_u64(s, strlen(s), out) == 1 ? 1 : -1;
}

static void range_text(const field_range *r, char *buf, size_t size)
{
    int n;
    if (isinf(r->max))
        n = snprintf(buf, size, "%s %.17g", r->min_open ? ">" : ">=", r->min);
    else
        n = snprintf(buf, size, "in %c%.17g, %.17g%c", r->min_open ? '(' : '[', r->min, r->max,
                     r->max_open ? ')' : ']');
    if (r->has_also && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " or %.17g", r->also);
}

static int in_range(const field_range *r, double v)
{
    if (!r->ranged || (r->has_also && v == r->also))
        return 1;
    if (r->min_open ? !(v > r->min) : !(v >= r->min))
        return 0;
    if (r->max_open ? !(v < r->max) : !(v <= r->max))
        return 0;
    return 1;
}

static bl_api_code decode_int(const field_spec *f, json_t *v, int64_t *out, api_err *e)
{
    char range[RANGE_TEXT_MAX];
    /* the digits of an integer beyond int64; one within is exact */
    const char *big = api_int64_exact(v, out) < 0 ? api_big_integer(v) : NULL;
    if (!api_integer(v, out))
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be an integer, not %s%s",
                        f->name,
                        json_is_real(v) ? "the real "
                        : article(v)[0] ? "an "
                                        : "a ",
                        json_is_real(v) ? "number" : api_type_name(v));
    if (big && !f->range.ranged)
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                        "%s must be a 64-bit integer; got %.40s", f->name, big);
    if (f->range.ranged && (big || !in_range(&f->range, (double)*out))) {
        range_text(&f->range, range, sizeof range);
        if (big)
            return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                            "%s must be an integer %s; got %.40s", f->name, range, big);
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                        "%s must be an integer %s; got %" PRId64, f->name, range, *out);
    }
    return BL_API_OK;
}

/* A JSON integer in [0, 2^64), or with decimal_string a string of decimal
 * digits worth one ("4306993152355900400": JavaScript's numbers stop at
 * 2^53); *as_string tells which. */
static bl_api_code decode_uint64(const field_spec *f, json_t *v, uint64_t *out, int *as_string,
                                 api_err *e)
{
    if (f->decimal_string && json_is_string(v) && !api_is_placeholder(v)) {
        const char *s = json_string_value(v);
        int r = decimal_u64(s, json_string_length(v), out);
        *as_string = 1;
        if (r > 0)
            return BL_API_OK;
        if (r < 0)
            return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                            "%s \"%.40s\" is too large: it must be an integer in [0, 2^64), at "
                            "most \"18446744073709551615\"",
                            f->name, s);
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                        "%s \"%.40s\" must hold decimal digits only: an integer in [0, 2^64) as "
                        "a string, e.g. \"4306993152355900400\"",
                        f->name, s);
    }
    int r = api_uint64(v, out);
    if (r == 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be an integer%s, not a%s %s",
                        f->name, f->decimal_string ? " (or a string of decimal digits)" : "",
                        article(v), api_type_name(v));
    if (r < 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be an integer in [0, 2^64)",
                        f->name);
    return BL_API_OK;
}

static bl_api_code decode_number(const field_spec *f, json_t *v, double *out, api_err *e)
{
    char range[RANGE_TEXT_MAX];
    if (!api_number(v, out))
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be a number, not a%s %s",
                        f->name, article(v), api_type_name(v));
    if (!isfinite(*out) || !in_range(&f->range, *out)) {
        range_text(&f->range, range, sizeof range);
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be a number %s; got %.17g",
                        f->name, f->range.ranged ? range : "that is finite", *out);
    }
    return BL_API_OK;
}

/* One of f->choices; a wrong name gets the nearest one. */
static bl_api_code decode_enum(const field_spec *f, json_t *v, int *out, api_err *e)
{
    int is_string = json_is_string(v) && !api_is_placeholder(v);
    size_t n = 0;
    for (; f->choices[n]; n++)
        if (is_string && strcmp(json_string_value(v), f->choices[n]) == 0 &&
            json_string_length(v) == strlen(f->choices[n])) {
            *out = (int)n;
            return BL_API_OK;
        }
    char list[CHOICES_TEXT_MAX];
    join_names(list, sizeof list, f->choices, ~(uint64_t)0, ", ", 1);
    if (!is_string)
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s must be a string, one of %s",
                        f->name, list);
    const char *near = api_suggest(json_string_value(v), f->choices, n, f->name);
    if (near)
        return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                        "%s \"%.60s\" is not one of %s; did you mean \"%s\"?", f->name,
                        json_string_value(v), list, near);
    return api_fail(e, BL_API_INVALID_ARGUMENT, f->name, "%s \"%.60s\" is not one of %s", f->name,
                    json_string_value(v), list);
}

/* Decodes v into f's destination; *given becomes FIELD_GIVEN or
 * FIELD_GIVEN_AS_STRING. */
static bl_api_code decode_one(const field_spec *f, json_t *v, void *dst, int *given, api_err *e)
{
    char *p = (char *)dst + f->offset;
    int as_string = 0;
    bl_api_code c = BL_API_OK;
    *given = FIELD_GIVEN;
    switch (f->type) {
    case FT_BOOL:
        if (!json_is_boolean(v))
            return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                            "%s must be true or false, not a%s %s", f->name, article(v),
                            api_type_name(v));
        *(int *)p = json_is_true(v);
        return BL_API_OK;
    case FT_INT:
        return decode_int(f, v, (int64_t *)(void *)p, e);
    case FT_UINT64:
        c = decode_uint64(f, v, (uint64_t *)(void *)p, &as_string, e);
        *given = as_string ? FIELD_GIVEN_AS_STRING : FIELD_GIVEN;
        return c;
    case FT_NUMBER:
        return decode_number(f, v, (double *)(void *)p, e);
    case FT_ENUM:
        return decode_enum(f, v, (int *)(void *)p, e);
    case FT_ARRAY: { /* the value itself; read by the handler (api_doubles, ...) */
        api_value *a = (api_value *)(void *)p;
        a->json = v;
        a->part = NULL;
        return BL_API_OK;
    }
    }
    return api_fail(e, BL_API_INTERNAL, f->name, "field table entry of unknown type");
}

/* ---- the whole request ---------------------------------------------------- */

static void apply_defaults(const field_spec *spec, void *dst)
{
    for (const field_spec *f = spec; f->name; f++) {
        char *p = (char *)dst + f->offset;
        switch (f->type) {
        case FT_BOOL:
        case FT_ENUM:
            *(int *)(void *)p = (int)f->def.i;
            break;
        case FT_INT:
            *(int64_t *)(void *)p = f->def.i;
            break;
        case FT_UINT64:
            *(uint64_t *)(void *)p = f->def.u;
            break;
        case FT_NUMBER:
            *(double *)(void *)p = f->def.d;
            break;
        case FT_ARRAY:
            memset(p, 0, sizeof(api_value));
            break;
        }
        if (f->given)
            *(int *)(void *)((char *)dst + f->given - 1) = FIELD_ABSENT;
    }
}

static void mark_given(const field_spec *f, void *dst, int how)
{
    if (f->given)
        *(int *)(void *)((char *)dst + f->given - 1) = how;
}

/* "unknown field" (or part), with the nearest name of the form when one is
 * near enough. */
static bl_api_code unknown_name(const api_form *form, const char *what, const char *name,
                                api_err *e)
{
    const char *names[MAX_FIELDS + 1];
    size_t n = field_names(form->fields, names);
    const char *near = api_suggest(name, names, n, form->endpoint);
    char list[FIELDS_TEXT_MAX];
    join_names(list, sizeof list, names, ~(uint64_t)0, ", ", 0);
    if (near)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "unknown %s \"%.80s\"; did you mean \"%s\"? Expected %s", what, name, near,
                        list);
    if (strcmp(what, "part") == 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "unknown part \"%.80s\"", name);
    return api_fail(e, BL_API_INVALID_ARGUMENT, name, "unknown field \"%.80s\"; expected %s", name,
                    list);
}

static bl_api_code decode_members(const api_request *req, const api_form *form, void *dst,
                                  uint64_t *seen, api_err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(req->doc, key, v)
    {
        int i = find_field(form->fields, key);
        if (i < 0)
            return unknown_name(form, "field", key, e);
        const field_spec *f = &form->fields[i];
        int given;
        bl_api_code c = decode_one(f, v, dst, &given, e);
        if (c != BL_API_OK)
            return c;
        if (f->type == FT_ARRAY)
            ((api_value *)(void *)((char *)dst + f->offset))->fa = req->fa;
        mark_given(f, dst, given);
        *seen |= (uint64_t)1 << i;
    }
    return BL_API_OK;
}

/* The binary parts: each an array field not sent in the document. */
static bl_api_code decode_parts(const api_request *req, const api_form *form, void *dst,
                                uint64_t *seen, api_err *e)
{
    for (size_t p = 0; p < req->nparts; p++) {
        const char *name = req->parts[p].name;
        if (strcmp(name, "request") == 0)
            continue;
        int i = find_field(form->fields, name);
        if (i < 0)
            return unknown_name(form, "part", name, e);
        const field_spec *f = &form->fields[i];
        if (f->type != FT_ARRAY || f->json_only)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s cannot be sent as a .npy part%s%s; put it in the \"request\" JSON "
                            "part",
                            name, f->json_only ? ": " : "", f->json_only ? f->json_only : "");
        if ((*seen >> i) & 1)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s is given twice (as JSON and as a part, or in two parts)", name);
        api_value *a = (api_value *)(void *)((char *)dst + f->offset);
        a->json = NULL;
        a->part = &req->parts[p];
        a->fa = NULL;
        mark_given(f, dst, FIELD_GIVEN);
        *seen |= (uint64_t)1 << i;
    }
    return BL_API_OK;
}

/* A field is set when it was sent, and a boolean when it is also true. */
static int is_set(const field_spec *spec, const char *name, const void *dst, uint64_t seen)
{
    int i = find_field(spec, name);
    if (i < 0 || !((seen >> i) & 1))
        return 0;
    return spec[i].type != FT_BOOL ||
           *(const int *)(const void *)((const char *)dst + spec[i].offset);
}

/* The rules between fields, in table order. */
static bl_api_code check_rules(const api_form *form, const void *dst, uint64_t seen, api_err *e)
{
    for (const field_rule *r = form->rules; r && r->a; r++) {
        int a = is_set(form->fields, r->a, dst, seen), b = is_set(form->fields, r->b, dst, seen);
        const char *later = r->b; /* the field of "two are set" */
        switch (r->kind) {
        case RULE_ONE_OF:
            for (const field_rule *o = form->rules; o->a; o++)
                if (o->kind == RULE_ONE_OF_ALSO && strcmp(o->a, r->a) == 0 &&
                    is_set(form->fields, o->b, dst, seen)) {
                    later = a + b ? o->b : later;
                    b += 1;
                }
            if (a + b > 1)
                return api_fail(e, BL_API_INVALID_ARGUMENT, later, "%s", r->message);
            if (!a && !b)
                return api_fail(e, BL_API_INVALID_ARGUMENT, NULL, "%s", r->message_none);
            break;
        case RULE_NEEDS:
            if (a && !b)
                return api_fail(e, BL_API_INVALID_ARGUMENT, r->a, "%s", r->message);
            break;
        case RULE_EXCLUDES:
            if (a && b)
                return api_fail(e, BL_API_INVALID_ARGUMENT, r->b, "%s", r->message);
            break;
        case RULE_ONE_OF_ALSO: /* with its RULE_ONE_OF */
            break;
        }
    }
    return BL_API_OK;
}

/* Whether f applies given the decoded value of the field it depends on;
 * *ctl gets that field's index. */
static int applies(const field_spec *spec, const field_spec *f, const void *dst, int *ctl)
{
    *ctl = -1;
    if (!f->only.field)
        return 1;
    *ctl = find_field(spec, f->only.field);
    assert(*ctl >= 0 && spec[*ctl].type == FT_ENUM);
    int v = *(const int *)(const void *)((const char *)dst + spec[*ctl].offset);
    return (f->only.values >> v) & 1;
}

/* "gamma applies only to loss "focal" or "sigmoid_focal", not to loss
 * "cross_entropy" (the default)", and the row's hint. */
static bl_api_code not_applicable(const field_spec *spec, const field_spec *f, int ctl,
                                  const void *dst, uint64_t seen, api_err *e)
{
    const field_spec *c = &spec[ctl];
    int v = *(const int *)(const void *)((const char *)dst + c->offset);
    char values[CHOICES_TEXT_MAX];
    join_names(values, sizeof values, c->choices, f->only.values, " or ", 1);
    return api_fail(e, BL_API_INVALID_ARGUMENT, f->name,
                    "%s applies only to %s %s, not to %s \"%s\"%s%s%s", f->name, c->name, values,
                    c->name, c->choices[v], (seen >> ctl) & 1 ? "" : " (the default)",
                    f->only.hint ? "; " : "", f->only.hint ? f->only.hint : "");
}

/* Every field sent applies to the values of the enum fields it depends
 * on; every required field that applies is sent. */
static bl_api_code check_fields(const api_form *form, const void *dst, uint64_t seen, api_err *e)
{
    const field_spec *spec = form->fields;
    int ctl;
    for (int i = 0; spec[i].name; i++)
        if (((seen >> i) & 1) && !applies(spec, &spec[i], dst, &ctl))
            return not_applicable(spec, &spec[i], ctl, dst, seen, e);
    for (int i = 0; spec[i].name; i++)
        if (spec[i].required && !((seen >> i) & 1) && applies(spec, &spec[i], dst, &ctl))
            return api_fail(e, BL_API_INVALID_ARGUMENT, spec[i].name, "%s is required",
                            spec[i].name);
    return BL_API_OK;
}

bl_api_code api_decode_fields(const api_request *req, const api_form *form, void *dst, api_err *e)
{
    uint64_t seen = 0;
    size_t rows = 0;
    while (form->fields[rows].name)
        rows++;
    assert(rows <= MAX_FIELDS);
    (void)rows;
    apply_defaults(form->fields, dst);
    bl_api_code c = decode_members(req, form, dst, &seen, e);
    if (c == BL_API_OK)
        c = decode_parts(req, form, dst, &seen, e);
    if (c == BL_API_OK)
        c = check_rules(form, dst, seen, e);
    if (c == BL_API_OK)
        c = check_fields(form, dst, seen, e);
    return c;
}
