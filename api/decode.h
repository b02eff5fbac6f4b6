/*
 * decode.h — shared by the request decoder's modules only: parse.c (the
 * envelope), fastarray.c (long number arrays), arrays.c (flat array
 * fields) and tensor.c (nested ones). What the rest of the api layer
 * calls is in internal.h.
 */
#ifndef BALLAST_API_DECODE_H
#define BALLAST_API_DECODE_H

#include "internal.h"

/* An array of at least this many plain numbers is taken by fastarray.c;
 * shorter ones are jansson's. */
#define FAST_MIN 16

/* parse.c: the bytes of the JSON string literal at p (p[0] == '"') through
 * its closing quote, or to end when it is unterminated (jansson reports
 * that). *nul, when nul is not NULL, is set if the string holds a \u0000
 * escape. */
size_t api_string_span(const char *p, const char *end, int *nul);

/* fastarray.c: the body with long number arrays replaced by placeholders
 * and their numbers in fa; NULL without memory. Placeholders are never
 * longer than the arrays they replace. */
char *api_extract_arrays(const char *body, size_t len, api_arrays *fa, size_t *outlen);
/* The fast array behind a placeholder, or NULL (also when fa is NULL). */
const struct fast_array *api_fast_of(const api_arrays *fa, json_t *v);
/* A fast array's shape: its length, or its nested shape (ndim entries). */
const size_t *api_fast_shape(const api_arrays *fa, const struct fast_array *f);

/* arrays.c: limit_exceeded for name's n entries beyond max. */
bl_api_code api_over_limit(api_err *e, const char *name, size_t n, const char *limit_name,
                           size_t max);
/* The message for a bad element x at path, which must be `what`. */
bl_api_code api_bad_element(api_err *e, const char *path, json_t *x, const char *what);

#endif
