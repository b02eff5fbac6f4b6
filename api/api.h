/*
 * api.h — the JSON contract of ballast (see api/openapi.yaml).
 *
 * Turns a request document into libballast calls and the results back into
 * a response document. It knows JSON and the contract's error codes, not
 * HTTP: the server maps bl_api_code to a status. Thread-safe; no globals
 * besides constant tables.
 */
#ifndef BALLAST_API_H
#define BALLAST_API_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BL_API_OK = 0,
    BL_API_INVALID_JSON,      /* 400 */
    BL_API_INVALID_ARGUMENT,  /* 400 */
    BL_API_LIMIT_EXCEEDED,    /* 400 */
    BL_API_NOT_FOUND,         /* 404 */
    BL_API_UNAVAILABLE,       /* 503: out of memory, draining, overloaded */
    BL_API_INTERNAL,          /* 500: a bug */
} bl_api_code;

/* The work one request may ask for; 0 means "no limit". */
typedef struct {
    size_t max_items;    /* /sample items, /weights classes and labels */
    size_t max_samples;  /* /sample num_samples */
    size_t max_elements; /* /loss input elements */
} bl_api_limits;

/* Defaults of the limits (see README "Limits"). Can't fail. */
bl_api_limits bl_api_limits_default(void);

typedef struct {
    bl_api_limits limits;
    /* Source of seeds for /sample requests without one; NULL uses the OS
     * (getrandom). Returns 0 on success. */
    int (*entropy)(void *ctx, uint64_t *out);
    void *entropy_ctx;
} bl_api_config;

/* Default configuration: default limits, OS entropy. Can't fail. */
bl_api_config bl_api_config_default(void);

typedef struct {
    bl_api_code code;
    char *body; /* malloc'd JSON document (the response, or an error); NUL-terminated */
    size_t len; /* strlen(body) */
} bl_api_result;

/*
 * Handles one request document for `endpoint` ("weights", "sample", "loss").
 * Always fills *res with a JSON body, the response or the error document
 * {"error": {"code", "message", "field"}}; the caller frees res->body.
 * Returns res->code. Only when even the error document cannot be allocated
 * is res->body NULL (code BL_API_UNAVAILABLE).
 */
bl_api_code bl_api_call(const bl_api_config *cfg, const char *endpoint, const char *body,
                        size_t len, bl_api_result *res);

/* True when endpoint names a route that bl_api_call serves. Can't fail. */
int bl_api_has_endpoint(const char *endpoint);

/* The contract's name of a code: "invalid_json", "not_found", ... */
const char *bl_api_code_name(bl_api_code code);

/* An error document for code, message and field (NULL for none), as
 * bl_api_call writes them; for errors that arise outside the api layer
 * (404, 405, 413, ...). Returns a malloc'd string, or NULL without memory. */
char *bl_api_error_body(const char *code, const char *message, const char *field, size_t *len);

/* The OpenAPI 3 document (api/openapi.yaml), compiled in. Can't fail. */
const char *bl_api_openapi(size_t *len);

/* The versions of the library and of jansson, for /version. */
const char *bl_api_version(void);
const char *bl_api_jansson_version(void);

#endif /* BALLAST_API_H */
