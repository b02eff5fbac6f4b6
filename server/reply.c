/*
 * reply.c — the HTTP front's answers: every response gets the same headers
 * here (content type, request id, nosniff, no-store, Allow,
 * WWW-Authenticate, Retry-After, CORS); and the request headers that say
 * who asks: X-Request-Id and Authorization. Content-Type and Accept are
 * negotiate.c's.
 */
#define _GNU_SOURCE /* strcasestr */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front.h"

/* ---- responses -------------------------------------------------------- */

/*
 * CORS (--cors-origin): a request whose Origin is the configured one (or
 * any, with "*") may read the answer in a browser; a preflight (OPTIONS)
 * learns the route's methods and the headers a client may send. Other
 * origins get no CORS header, so their browser keeps the answer from them.
 */
static void cors(struct MHD_Connection *c, const request *r, struct MHD_Response *resp)
{
    const char *allowed = r->s->cfg.cors_origin;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!allowed[0] || !origin || (strcmp(allowed, "*") != 0 && strcmp(allowed, origin) != 0))
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            strcmp(allowed, "*") ? origin : "*");
    MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "*");
    if (!r->preflight)
        return;
    MHD_add_response_header(
        resp, "Access-Control-Allow-Methods",
        route_methods_text[route_is_post(r->route) ? TAKES_POST : TAKES_GET].cors);
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Content-Type, Authorization, Accept, X-Request-Id");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
}

/* Adds the headers every answer carries (Content-Type, X-Request-Id,
 * nosniff, no-store unless cacheable, and Allow or WWW-Authenticate where
 * the status wants them), queues resp and records the answer for the log
 * and the metrics. Takes resp over. */
static enum MHD_Result queue(struct MHD_Connection *c, request *r, unsigned status,
                             struct MHD_Response *resp, size_t len, const char *type, int cacheable)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!cacheable)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == MHD_HTTP_FOUND)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/docs");
    if (r->route == R_DOCS)
        /* Everything the page needs is served here; nothing else may load. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    cors(c, r, resp);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->route >= 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                route_methods_text[routes[r->route].methods].allow);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ballast\"");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = status;
    r->bytes_out = len;
    return ret;
}

/* Queues body (malloc'd, taken over; NULL for an empty body). */
enum MHD_Result reply(struct MHD_Connection *c, request *r, unsigned status, char *body, size_t len,
                      const char *type)
{
    /* free is ballastd's counting free (budget.c): libmicrohttpd's own
     * MHD_RESPMEM_MUST_FREE would free past the counter. */
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer_with_free_callback(len, body, free)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    return queue(c, r, status, resp, len, type, 0);
}

enum MHD_Result reply_static(struct MHD_Connection *c, request *r, unsigned status,
                             const char *body, size_t len, const char *type, int cacheable)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    return queue(c, r, status, resp, len, type, cacheable);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, request *r, unsigned status, char *body,
                                  size_t len)
{
    return reply(c, r, status, body, len, "application/json");
}

/* An api result: its content type, and its metadata as Ballast-* headers
 * ("num_samples" becomes Ballast-Num-Samples). */
enum MHD_Result reply_result(struct MHD_Connection *c, request *r, bl_api_result *res)
{
    if (res->code != BL_API_OK) {
        snprintf(r->log_code, sizeof r->log_code, "%s", res->error_code);
        snprintf(r->log_field, sizeof r->log_field, "%s", res->error_field);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(res->len, res->body, free);
    if (!resp) {
        free(res->body);
        return MHD_NO;
    }
    for (size_t i = 0; i < res->nmeta; i++) {
        char name[sizeof "Ballast-" + BL_API_META_NAME_MAX] = "Ballast-";
        size_t n = strlen(name);
        int up = 1;
        for (const char *p = res->meta[i].name; *p && n < sizeof name - 1; p++) {
            if (*p == '_') {
                name[n++] = '-';
                up = 1;
            } else {
                name[n++] = up ? (char)toupper((unsigned char)*p) : *p;
                up = 0;
            }
        }
        name[n] = '\0';
        MHD_add_response_header(resp, name, res->meta[i].value);
    }
    return queue(c, r, bl_api_code_status(res->code), resp, res->len, res->content_type, 0);
}

enum MHD_Result reply_error(struct MHD_Connection *c, request *r, bl_api_code code,
                            const char *field, const char *fmt, ...)
{
    char msg[BL_API_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = bl_api_error_body(bl_api_code_name(code), msg, field, &len);
    snprintf(r->log_code, sizeof r->log_code, "%s", bl_api_code_name(code));
    snprintf(r->log_field, sizeof r->log_field, "%s", field ? field : "");
    return reply_json(c, r, bl_api_code_status(code), body, len);
}

enum MHD_Result reply_text(struct MHD_Connection *c, request *r, unsigned status, const char *text,
                           const char *type)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy)
        return MHD_NO;
    memcpy(copy, text, len + 1);
    return reply(c, r, status, copy, len, type);
}

/* ---- request checks ---------------------------------------------------------------- */

/* A client's X-Request-Id is echoed when it is 1..CLIENT_ID_MAX visible ASCII
 * characters; otherwise one is made up. */
void set_request_id(server *s, struct MHD_Connection *c, request *r)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = id ? strlen(id) : 0;
    int ok = n > 0 && n <= CLIENT_ID_MAX;
    for (size_t i = 0; ok && i < n; i++) /* visible ASCII, nothing to escape in a log */
        ok = id[i] > 0x20 && id[i] < 0x7f && id[i] != '"' && id[i] != '\\';
    if (ok)
        memcpy(r->request_id, id, n + 1);
    else
        snprintf(r->request_id, sizeof r->request_id, "%s-%012llx", s->id_prefix,
                 (unsigned long long)atomic_fetch_add(&s->next_id, 1));
}

/* Constant-time comparison of the bearer token. */
int authorized(server *s, struct MHD_Connection *c)
{
    if (!s->cfg.auth_token[0])
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", strlen("Bearer ")) != 0)
        return 0;
    const char *got = h + strlen("Bearer ");
    const char *want = s->cfg.auth_token;
    size_t gl = strlen(got), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}
