/*
 * api.h — the JSON contract of ballast (see api/openapi.yaml).
 *
 * Turns a request document into libballast calls and the results back into
 * a response document. It knows JSON and the contract's error codes, not
 * HTTP beyond each code's status (bl_api_code_status). Thread-safe; no globals
 * besides constant tables.
 */
#ifndef BALLAST_API_H
#define BALLAST_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The contract's error codes (api/openapi.yaml, "status | code | when").
 * Their names, HTTP statuses and meanings are one table, api/codes.c. The
 * api layer answers the first eight; the rest are a server's own (refused
 * before the api is called, or about the server's resources). */
typedef enum {
    BL_API_OK = 0,
    BL_API_INVALID_JSON,
    BL_API_INVALID_ARGUMENT,
    BL_API_LIMIT_EXCEEDED,
    BL_API_NOT_FOUND,
    BL_API_NOT_ACCEPTABLE, /* the asked-for response format cannot hold the answer */
    BL_API_UNAVAILABLE,    /* out of memory, draining, no entropy */
    BL_API_INTERNAL,       /* a bug */
    /* A server's own codes. */
    BL_API_INVALID_REQUEST, /* framing that two parsers could read differently */
    BL_API_UNAUTHORIZED,
    BL_API_METHOD_NOT_ALLOWED,
    BL_API_PAYLOAD_TOO_LARGE,
    BL_API_UNSUPPORTED_MEDIA_TYPE,
    BL_API_NOT_IMPLEMENTED,
    BL_API_OVERLOADED, /* busy now: queue, connection slots or memory budget */
    BL_API_CODE_COUNT  /* not a code: the number of codes */
} bl_api_code;

/* The work one request may ask for; 0 means "no limit". */
typedef struct {
    size_t max_items;    /* /sample items, /weights classes and labels */
    size_t max_samples;  /* /sample num_samples */
    size_t max_elements; /* /loss input elements */
    size_t max_output;   /* bytes of one response, bounded before it is written */
} bl_api_limits;

/* Defaults of the limits (see README "Limits"). Can't fail. */
bl_api_limits bl_api_limits_default(void);

typedef struct {
    bl_api_limits limits;
    /* Source of seeds for /sample requests without one; NULL uses the OS
     * (getrandom). Returns 0 on success. */
    int (*entropy)(void *ctx, uint64_t *out);
    void *entropy_ctx;
    /* 1: the caller owns the bytes of a request's parts (bl_api_part.data)
     * and discards them after the call, so a handler may overwrite them: a
     * .npy part is then worked on in place instead of copied (e.g. /sample
     * builds its alias table in the weights' own memory). 0 (default): the
     * parts are left as they are. */
    int parts_writable;
} bl_api_config;

/* Default configuration: default limits, OS entropy. Can't fail. */
bl_api_config bl_api_config_default(void);

/* The format of a response (errors are always JSON). */
typedef enum {
    BL_API_JSON = 0,  /* application/json */
    BL_API_NPY,       /* application/x-npy: the one array of the answer; the
                         scalar fields come back as metadata */
    BL_API_MULTIPART, /* multipart/form-data: a "response" JSON part and one
                         .npy part per array */
} bl_api_format;

/* One named binary part of a request: a NumPy .npy array for an array
 * field, or "request", the JSON document of the other fields. */
typedef struct {
    const char *name;
    const void *data;
    size_t len;
} bl_api_part;

typedef struct {
    const char *json; /* the request document; NULL or "" with parts: {} */
    size_t json_len;
    const bl_api_part *parts; /* array fields as .npy, may be NULL */
    size_t nparts;
    bl_api_format format; /* of the response */
} bl_api_request;

#define BL_API_MAX_META 12

/* Sizes of bl_api_result's texts and of an error's message, the NUL
 * included; longer text is cut. */
#define BL_API_CONTENT_TYPE_MAX 96 /* a media type, with a multipart boundary */
#define BL_API_CODE_MAX 32         /* an error code's name */
#define BL_API_FIELD_MAX 160       /* an error's field path, e.g. logits[3][1] */
#define BL_API_MESSAGE_MAX 400     /* an error's message */
#define BL_API_META_NAME_MAX 32    /* a scalar answer field's name */
#define BL_API_META_VALUE_MAX 96   /* and its value as text */

typedef struct {
    bl_api_code code;
    char *body; /* malloc'd response (JSON, .npy or multipart) or JSON error; NUL-terminated */
    size_t len; /* bytes in body, without the terminating NUL */
    char content_type[BL_API_CONTENT_TYPE_MAX];
    /* An error's code name and field ("" for none), as in the body. */
    char error_code[BL_API_CODE_MAX];
    char error_field[BL_API_FIELD_MAX];
    /* With BL_API_NPY: the answer's scalar fields, name and value as text
     * (e.g. "num_samples", "100"). */
    struct {
        char name[BL_API_META_NAME_MAX];
        char value[BL_API_META_VALUE_MAX];
    } meta[BL_API_MAX_META];
    size_t nmeta;
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

/*
 * The general form of bl_api_call: the document may come with binary parts
 * (each array field at most once, as JSON or as .npy), and the response may
 * be asked for as .npy or multipart. Same ownership rules as bl_api_call.
 */
bl_api_code bl_api_handle(const bl_api_config *cfg, const char *endpoint, const bl_api_request *req,
                          bl_api_result *res);

/*
 * An upper estimate of the bytes that handling req allocates beyond the
 * request's own bytes, before its answer (whose size is checked against
 * limits.max_output when it is known): jansson's tree of the document (a
 * count of its tokens, priced at what jansson 2.14 allocates for each),
 * the decoded arrays and the computation's scratch. A server reserves it
 * from its memory budget before the work starts. *work (may be NULL) gets
 * a bound of the elements the request can make the core touch: the count
 * of its numbers, or the largest integer in it (a num_samples, a label),
 * whichever is larger. Can't fail; linear in the size of req, with no
 * allocation.
 */
size_t bl_api_estimate(const char *endpoint, const bl_api_request *req, size_t *work);

/* The endpoints bl_api_call serves, one enum; their names ("weights",
 * "sample", "loss") are one table in api.c, tied to it by a
 * _Static_assert. ballastd's route table names its POST routes' endpoints
 * by this enum. */
typedef enum {
    BL_API_EP_WEIGHTS,
    BL_API_EP_SAMPLE,
    BL_API_EP_LOSS,
    BL_API_EP_COUNT
} bl_api_endpoint;

/* The name of an endpoint, as bl_api_call takes it; NULL when ep is not a
 * bl_api_endpoint. Can't fail. */
const char *bl_api_endpoint_name(int ep);

/* True when endpoint names a route that bl_api_call serves. Can't fail. */
int bl_api_has_endpoint(const char *endpoint);

/* The contract's name of a code: "invalid_json", "not_found", ...; an
 * unknown code is "internal". Can't fail. */
const char *bl_api_code_name(bl_api_code code);
/* The HTTP status a server answers code with (200 for BL_API_OK; 500 for an
 * unknown code). Can't fail. */
unsigned bl_api_code_status(bl_api_code code);
/* The code's meaning in one line (for documentation and logs). Can't fail. */
const char *bl_api_code_meaning(bl_api_code code);

/* An error document for code, message and field (NULL for none), as
 * bl_api_call writes them; for errors that arise outside the api layer
 * (404, 405, 413, ...). Returns a malloc'd string, or NULL without memory. */
char *bl_api_error_body(const char *code, const char *message, const char *field, size_t *len);

/* The OpenAPI 3 document (api/openapi.yaml), compiled in. Can't fail. */
const char *bl_api_openapi(size_t *len);

/* The versions of the library and of jansson, for /version. */
const char *bl_api_version(void);
const char *bl_api_jansson_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BALLAST_API_H */
