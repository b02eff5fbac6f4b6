/*
 * api.c — the door of the api layer: routes a request document to its
 * endpoint, and turns every outcome into one JSON document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_LIMIT ((size_t)1 << 25) /* 33,554,432 */
/* 256 MiB: a (4096, 1000) /loss gradient is bounded at 102 MB as JSON, 10^6
 * indices at 25 MB; the answer is also held against the memory budget. */
#define DEFAULT_MAX_OUTPUT ((size_t)256 << 20)

bl_api_limits bl_api_limits_default(void)
{
    bl_api_limits l = {DEFAULT_LIMIT, DEFAULT_LIMIT, DEFAULT_LIMIT, DEFAULT_MAX_OUTPUT};
    return l;
}

bl_api_config bl_api_config_default(void)
{
    bl_api_config c = {bl_api_limits_default(), NULL, NULL, 0};
    return c;
}

/* The one table of endpoints: a row per bl_api_endpoint (api.h). */
static const struct {
    const char *name;
    api_handler handler;
} endpoints[] = {
    [BL_API_EP_WEIGHTS] = {"weights", api_weights},
    [BL_API_EP_SAMPLE] = {"sample", api_sample},
    [BL_API_EP_LOSS] = {"loss", api_loss},
};
_Static_assert(sizeof endpoints / sizeof endpoints[0] == BL_API_EP_COUNT,
               "a row of endpoints[] for every bl_api_endpoint");

const char *bl_api_endpoint_name(int ep)
{
    return ep >= 0 && ep < BL_API_EP_COUNT ? endpoints[ep].name : NULL;
}

/* The handler of the endpoint named name, or NULL. */
static api_handler find_endpoint(const char *name)
{
    for (int i = 0; i < BL_API_EP_COUNT; i++)
        if (name && strcmp(endpoints[i].name, name) == 0)
            return endpoints[i].handler;
    return NULL;
}

int bl_api_has_endpoint(const char *endpoint) { return find_endpoint(endpoint) != NULL; }

char *bl_api_error_body(const char *code, const char *message, const char *field, size_t *len)
{
    jw w;
    jw_init(&w);
    jw_lit(&w, "{\"error\":{");
    jw_key(&w, "code");
    jw_str(&w, code);
    jw_key(&w, "message");
    jw_str(&w, message);
    if (field && *field) {
        jw_key(&w, "field");
        jw_str(&w, field);
    }
    jw_lit(&w, "}}\n");
    return jw_take(&w, len);
}

static bl_api_code finish_error(bl_api_result *res, const api_err *e)
{
    res->code = e->code;
    snprintf(res->content_type, sizeof res->content_type, "application/json");
    snprintf(res->error_code, sizeof res->error_code, "%s", bl_api_code_name(e->code));
    snprintf(res->error_field, sizeof res->error_field, "%s", e->field);
    res->body = bl_api_error_body(bl_api_code_name(e->code), e->message, e->field, &res->len);
    if (!res->body) {
        res->code = BL_API_UNAVAILABLE;
        res->len = 0;
    }
    return res->code;
}

bl_api_code bl_api_handle(const bl_api_config *cfg, const char *endpoint, const bl_api_request *req,
                          bl_api_result *res)
{
    api_err e = {BL_API_OK, "", ""};
    memset(res, 0, sizeof *res);
    api_handler handler = find_endpoint(endpoint);
    if (!handler) {
        api_fail(&e, BL_API_NOT_FOUND, NULL, "no endpoint named \"%.80s\"", endpoint);
        return finish_error(res, &e);
    }
    /* With parts, the document is the "request" part (or the body), and
     * may be absent: {}. */
    const char *json = req->json;
    size_t json_len = req->json_len;
    for (size_t i = 0; i < req->nparts; i++)
        if (strcmp(req->parts[i].name, "request") == 0) {
            if (json && json_len) {
                api_fail(&e, BL_API_INVALID_ARGUMENT, "request",
                         "the request document is given twice");
                return finish_error(res, &e);
            }
            json = req->parts[i].data;
            json_len = req->parts[i].len;
        }
    if (req->nparts && (!json || !json_len)) {
        json = "{}";
        json_len = 2;
    }
    api_arrays fa;
    memset(&fa, 0, sizeof fa);
    api_request r = {api_parse_request(json ? json : "", json ? json_len : 0, &fa, &e), req->parts,
                     req->nparts, &fa};
    if (!r.doc) {
        api_arrays_free(&fa);
        if (e.code == BL_API_INVALID_JSON) /* a form or a .npy file: say what to send */
            api_explain_body(json ? json : "", json ? json_len : 0, &e);
        return finish_error(res, &e);
    }
    api_out out;
    memset(&out, 0, sizeof out);
    out.format = req->format;
    out.primary = -1;
    out.res = res;
    out.max_output = cfg->limits.max_output;
    jw_init(&out.w);
    bl_api_code code = handler(cfg, &r, &out, &e);
    json_decref(r.doc);
    api_arrays_free(&fa);
    if (code == BL_API_OK) {
        res->body = jw_take(&out.w, &res->len);
        if (res->body)
            return res->code = BL_API_OK;
        api_fail(&e, BL_API_UNAVAILABLE, NULL, "out of memory while writing the response");
    }
    jw_free(&out.w);
    res->nmeta = 0;
    return finish_error(res, &e);
}

bl_api_code bl_api_call(const bl_api_config *cfg, const char *endpoint, const char *body,
                        size_t len, bl_api_result *res)
{
    bl_api_request req = {body, len, NULL, 0, BL_API_JSON};
    return bl_api_handle(cfg, endpoint, &req, res);
}

const char *bl_api_version(void) { return BL_VERSION; }

const char *bl_api_jansson_version(void) { return jansson_version_str(); }
