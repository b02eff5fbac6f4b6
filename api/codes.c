/*
 * codes.c — the one table of the contract's error codes: each code's name,
 * the HTTP status a server answers it with, and its meaning in one line
 * (api/openapi.yaml, the table "status | code | when", says the same at
 * length; tests/unit/test_codes.c checks that the two agree). The api
 * layer, ballastd (server/reply.c, server/metrics.c) and the CLI name codes
 * through it; no code's name is written anywhere else.
 */
#include "api.h"

static const struct {
    const char *name;
    unsigned status;
    const char *meaning;
} codes[] = {
    [BL_API_OK] = {"ok", 200, "success"},
    [BL_API_INVALID_JSON] = {"invalid_json", 400, "the body is not valid JSON, or is empty"},
    [BL_API_INVALID_ARGUMENT] = {"invalid_argument", 400,
                                 "wrong type, shape, range or combination of fields"},
    [BL_API_LIMIT_EXCEEDED] = {"limit_exceeded", 400,
                               "the request asks for more work than the server's limits allow"},
    [BL_API_NOT_FOUND] = {"not_found", 404, "unknown path"},
    [BL_API_NOT_ACCEPTABLE] = {"not_acceptable", 406,
                               "the format asked for by Accept cannot hold the answer"},
    [BL_API_UNAVAILABLE] = {"unavailable", 503,
                            "out of memory, draining for shutdown, or no randomness"},
    [BL_API_INTERNAL] = {"internal", 500, "a bug; never for bad input"},
    [BL_API_INVALID_REQUEST] = {"invalid_request", 400,
                                "framing that two parsers could read differently"},
    [BL_API_UNAUTHORIZED] = {"unauthorized", 401, "the bearer token is missing or wrong"},
    [BL_API_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "wrong method for the path"},
    [BL_API_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413,
                                  "the body is larger than --max-body or the memory budget"},
    [BL_API_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                       "a Content-Type the server does not read"},
    [BL_API_NOT_IMPLEMENTED] = {"not_implemented", 501, "a Transfer-Encoding other than chunked"},
    [BL_API_OVERLOADED] = {"overloaded", 503,
                           "busy now (queue, connection slots or memory budget); retry later"},
};

_Static_assert(sizeof codes / sizeof codes[0] == BL_API_CODE_COUNT,
               "every bl_api_code has a row in codes[]");

/* An unknown code reads as the row of BL_API_INTERNAL. */
static unsigned row(bl_api_code code)
{
    return (unsigned)code < BL_API_CODE_COUNT && codes[code].name ? (unsigned)code
                                                                  : (unsigned)BL_API_INTERNAL;
}

const char *bl_api_code_name(bl_api_code code) { return codes[row(code)].name; }

unsigned bl_api_code_status(bl_api_code code) { return codes[row(code)].status; }

const char *bl_api_code_meaning(bl_api_code code) { return codes[row(code)].meaning; }
