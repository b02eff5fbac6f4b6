/*
 * http.c — ballastd's HTTP front on libmicrohttpd: routing, body intake,
 * hand-over to the compute pool, and the lifecycle.
 *
 * I/O threads never compute. libmicrohttpd's threads (--threads, poll)
 * read, route, negotiate and write; GET routes (/healthz, /readyz,
 * /metrics, /version, /openapi.yaml) are answered on them at once. A POST
 * whose body is in is suspended and handed to the compute pool (pool.c,
 * --workers threads behind a queue of --queue); the worker resumes it
 * with the answer. Every byte is budgeted (budget.c): a body's announced
 * length is reserved before it is read, a computation's estimate before it
 * starts, and both are held until the request ends.
 *
 * Framing is checked before any of a body is read: Content-Length with
 * Transfer-Encoding, differing Content-Lengths, a malformed
 * Content-Length and any Transfer-Encoding but chunked are refused, each
 * with one JSON error, and the connection is closed after it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front.h"

const route routes[R_COUNT] = {
    [R_WEIGHTS] = {"/weights", 1, "weights", 0},
    [R_SAMPLE] = {"/sample", 1, "sample", 0},
    [R_LOSS] = {"/loss", 1, "loss", 0},
    [R_HEALTHZ] = {"/healthz", 0, "healthz", 1},
    [R_READYZ] = {"/readyz", 0, "readyz", 1},
    [R_VERSION] = {"/version", 0, "version", 0},
    [R_OPENAPI] = {"/openapi.yaml", 0, "openapi", 0},
    [R_METRICS] = {"/metrics", 0, "metrics", 0},
    [R_DOCS] = {"/docs", 0, "docs", 1, 1},
    [R_ROOT] = {"/", 0, "root", 1},
};

/* libmicrohttpd accepts this many connections beyond --max-connections,
 * so that those are answered 503 instead of closed unanswered. */
#define SLOT_HEADROOM 64
/* libmicrohttpd's per-connection pool: request line, headers, buffers.
 * 0.9.75 zeroes it for every request, so its size is paid per request:
 * 32 KiB (nginx's largest header buffers are 4 x 8 KiB) costs ~2 us less
 * than 64 KiB on a small /loss. */
#define CONNECTION_POOL (32 * 1024)
/* After a computation that held this much, freed heap pages go back to
 * the system at once (glibc keeps small freed blocks otherwise). */
#define TRIM_AFTER ((ptrdiff_t)16 << 20)
/* Requests answered on the I/O thread (see tiny()). */
#define TINY_BODY 2048
#define TINY_WORK 1024
#define TINY_MEMORY ((size_t)1 << 20)
/* Requests that take the pool's small-jobs lane (pool.c). */
#define SMALL_BODY (16 * 1024)

static enum MHD_Result refuse(request *r, bl_api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static conn_state *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_state *)ci->socket_context : NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? conns_open(&s->conns, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conns_close(&s->conns, *socket_context);
        *socket_context = NULL;
    }
}

/*
 * libmicrohttpd's unescaping of the path and query, done here so that a
 * %00 is seen: the path would otherwise end at it, and "/weights%00junk"
 * route to /weights. Decodes %XX in place; a NUL marks the connection's
 * current request, which begin() refuses.
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    char *out = s;
    int nul = 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            char v = (char)strtol(hex, NULL, 16);
            nul |= v == '\0';
            *out++ = v ? v : '?';
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    conn_state *cs = conn_of(c);
    if (cs && nul)
        cs->bad_path = 1;
    return (size_t)(out - s);
}

/* ---- GET routes ---------------------------------------------------------------------- */

/* The gauges of the pool and the budget, for /metrics. */
static void gauges(server *s, char *buf, size_t size)
{
    budget_stats b = budget_get_stats();
    snprintf(buf, size,
             "# HELP ballast_build_info The versions of ballast and its libraries.\n"
             "# TYPE ballast_build_info gauge\n"
             "ballast_build_info{version=\"%s\",libmicrohttpd=\"%s\",jansson=\"%s\"} 1\n"
             "# HELP ballast_queue_depth Requests waiting for a compute thread.\n"
             "# TYPE ballast_queue_depth gauge\nballast_queue_depth %u\n"
             "# HELP ballast_workers_busy Compute threads running a request.\n"
             "# TYPE ballast_workers_busy gauge\nballast_workers_busy %u\n"
             "# HELP ballast_workers Compute threads (--workers).\n"
             "# TYPE ballast_workers gauge\nballast_workers %u\n"
             "# HELP ballast_memory_budget_bytes The memory budget (--memory-budget).\n"
             "# TYPE ballast_memory_budget_bytes gauge\nballast_memory_budget_bytes %llu\n"
             "# HELP ballast_memory_reserved_bytes Budget reserved by bodies being read and work admitted.\n"
             "# TYPE ballast_memory_reserved_bytes gauge\nballast_memory_reserved_bytes %llu\n"
             "# HELP ballast_memory_used_bytes Bytes allocated by ballastd's own code now.\n"
             "# TYPE ballast_memory_used_bytes gauge\nballast_memory_used_bytes %llu\n"
             "# HELP ballast_memory_used_peak_bytes The most ballast_memory_used_bytes has been.\n"
             "# TYPE ballast_memory_used_peak_bytes gauge\nballast_memory_used_peak_bytes %llu\n"
             "# HELP ballast_allocations_refused_total Allocations refused because the budget was spent.\n"
             "# TYPE ballast_allocations_refused_total counter\nballast_allocations_refused_total %llu\n"
             "# HELP ballast_connections_open Connections open now.\n"
             "# TYPE ballast_connections_open gauge\nballast_connections_open %u\n",
             bl_api_version(), MHD_get_version(), bl_api_jansson_version(),
             pool_queued(s->pool, -1), pool_busy(s->pool), s->cfg.workers,
             (unsigned long long)b.limit, (unsigned long long)b.reserved,
             (unsigned long long)b.used, (unsigned long long)b.peak, b.refused,
             conns_open_count(&s->conns));
}

static enum MHD_Result serve_get(server *s, struct MHD_Connection *c, request *r)
{
    char buf[4096]; /* the gauges take about 1.5 KiB */
    switch ((route_id)r->route) {
    case R_HEALTHZ:
        return reply_text(c, r, MHD_HTTP_OK, "{\"status\":\"ok\"}\n", "application/json");
    case R_READYZ:
        if (atomic_load(&s->draining))
            return reply_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"status\":\"draining\"}\n",
                              "application/json");
        return reply_text(c, r, MHD_HTTP_OK, "{\"status\":\"ready\"}\n", "application/json");
    case R_VERSION:
        snprintf(buf, sizeof buf,
                 "{\"version\":\"%s\",\"libmicrohttpd\":\"%s\",\"jansson\":\"%s\"}\n",
                 bl_api_version(), MHD_get_version(), bl_api_jansson_version());
        return reply_text(c, r, MHD_HTTP_OK, buf, "application/json");
    case R_OPENAPI: {
        size_t len;
        const char *doc = bl_api_openapi(&len);
        return reply_static(c, r, MHD_HTTP_OK, doc, len, "application/yaml", 1);
    }
    case R_DOCS: {
        const char *data, *type;
        size_t len;
        if (!docs_find(r->path, &data, &len, &type))
            return reply_error(c, r, BL_API_NOT_FOUND, NULL,
                               "no page %.80s under /docs", r->path);
        return reply_static(c, r, MHD_HTTP_OK, data, len, type, 1);
    }
    case R_ROOT:
        return reply_text(c, r, MHD_HTTP_FOUND,
                          "{\"docs\":\"/docs\",\"openapi\":\"/openapi.yaml\"}\n",
                          "application/json");
    case R_METRICS: {
        size_t len;
        gauges(s, buf, sizeof buf);
        char *text = metrics_render(s->metrics, buf, &len);
        if (!text)
            return reply_error(c, r, BL_API_UNAVAILABLE, NULL,
                               "out of memory");
        return reply(c, r, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
    }
    default:
        break;
    }
    return reply_error(c, r, BL_API_INTERNAL, NULL, "unrouted GET");
}

/* ---- framing ------------------------------------------------------------------------- */

typedef struct {
    int bad_name;           /* a header name with whitespace (RFC 9112 5.1) */
    unsigned cl, te;        /* Content-Length and Transfer-Encoding headers seen */
    const char *cl_first;   /* the first Content-Length */
    int cl_differ;          /* a later one differs from it */
    const char *te_value;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!*key || strpbrk(key, " \t"))
        f->bad_name = 1;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->cl++ == 0)
            f->cl_first = value ? value : "";
        else if (strcmp(f->cl_first, value ? value : "") != 0)
            f->cl_differ = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te++;
        f->te_value = value ? value : "";
    }
    return MHD_YES;
}

/* 1..19 digits and nothing else (RFC 9110 8.6: Content-Length = 1*DIGIT). */
static int valid_length(const char *v, uint64_t *n)
{
    size_t len = strlen(v);
    if (len == 0 || len > 19)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *n = x;
    return 1;
}

/* Refuses framings a proxy and ballastd could read differently (RFC 9112
 * 6.1, 6.3): the request smuggling family. */
static int check_framing(request *r, struct MHD_Connection *c)
{
    framing f = {0, 0, 0, NULL, 0, NULL};
    r->close = 1; /* until the framing is known good */
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.bad_name)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "a header name contains whitespace (\"Name : value\" is refused)"), 1;
    if (f.cl && f.te)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "Content-Length and Transfer-Encoding together are refused; send one"), 1;
    if (f.te > 1 || (f.te && strcasecmp(f.te_value, "chunked") != 0))
        return refuse(r, BL_API_NOT_IMPLEMENTED,
                      "Transfer-Encoding %.40s is not supported; send Content-Length or "
                      "Transfer-Encoding: chunked",
                      f.te_value), 1;
    if (f.cl_differ)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "the request has differing Content-Length headers"), 1;
    if (f.cl && !valid_length(f.cl_first, &r->expect))
        return refuse(r, BL_API_INVALID_REQUEST,
                      "Content-Length must be a decimal number of at most 19 digits"), 1;
    r->close = 0;
    return 0;
}

/* ---- the access handler ------------------------------------------------------------------------ */

/* Records a refusal, answered by answer_refusal(). Returns MHD_YES. */
static enum MHD_Result refuse(request *r, bl_api_code code, const char *fmt, ...)
{
    r->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
    va_end(ap);
    return MHD_YES;
}

static enum MHD_Result answer_refusal(struct MHD_Connection *c, request *r)
{
    if (r->err_code == BL_API_OVERLOADED)
        metrics_event(r->s->metrics, METRIC_OVERLOADED);
    return reply_error(c, r, r->err_code, NULL, "%s", r->err_msg);
}

/* True when the request announces a body (which a refusal leaves unread,
 * so it is answered at once and the connection closed after it). */
static int has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strcmp(cl, "0") != 0)
        return 1;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/*
 * Whether a refused request with a body is answered before its body is
 * read, or after it has been read and dropped. A client that sent
 * "Expect: 100-continue" waits for the answer (and sends nothing more); a
 * body past --max-body or with untrusted framing is not worth reading (the
 * connection closes after the answer). Any other body is read and dropped
 * as it comes — nothing of it is kept — so that a client that writes its
 * whole body before it reads, as most do, gets the answer instead of a
 * reset (nginx's lingering close, bounded here by --timeout).
 */
static int answer_before_body(struct MHD_Connection *c, const request *r)
{
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return 1;
    return r->close || r->err_code == BL_API_PAYLOAD_TOO_LARGE;
}

static int find_route(const char *url)
{
    for (int i = 0; i < R_COUNT; i++) {
        size_t n = strlen(routes[i].path);
        if (strcmp(url, routes[i].path) == 0 ||
            (routes[i].prefix && strncmp(url, routes[i].path, n) == 0 && url[n] == '/'))
            return i;
    }
    return -1;
}

/* A raw binary body (a .npy file sent as is), which belongs in a part. */
static int binary_type(const char *type)
{
    return type && (strncasecmp(type, "application/x-npy", 17) == 0 ||
                    strncasecmp(type, "application/octet-stream", 24) == 0);
}

/* Admission of a POST before its body is read: the queue, the budget. */
static enum MHD_Result admit_post(server *s, struct MHD_Connection *c, request *r)
{
    if (atomic_load(&s->draining))
        return refuse(r, BL_API_UNAVAILABLE,
                      "the server is draining for shutdown; retry on another replica");
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    /* The lane it will take (pool.c); a chunked body counts as large. */
    int large = !(r->expect && r->expect <= SMALL_BODY && !is_multipart(type));
    if (pool_queued(s->pool, large) >= s->cfg.queue)
        return refuse(r, BL_API_OVERLOADED,
                      "every compute thread is busy and %u requests wait; retry later",
                      s->cfg.queue);
    if (!acceptable_type(type)) {
        if (binary_type(type))
            return refuse(r, BL_API_UNSUPPORTED_MEDIA_TYPE,
                          "Content-Type %.80s is not accepted: send arrays as .npy parts of a "
                          "multipart/form-data body (curl -F logits=@x.npy; README \"Bulk "
                          "data\"), the other fields as JSON",
                          type);
        return refuse(r, BL_API_UNSUPPORTED_MEDIA_TYPE,
                      "Content-Type %.80s is not accepted; send application/json", type);
    }
    if (r->expect > s->cfg.max_body)
        return refuse(r, BL_API_PAYLOAD_TOO_LARGE,
                      "the body (%llu bytes) is larger than the server's max-body limit of %llu "
                      "bytes",
                      (unsigned long long)r->expect, (unsigned long long)s->cfg.max_body);
    if (r->expect) {
        budget_status st = budget_reserve((size_t)r->expect);
        if (st == BUDGET_NEVER)
            return refuse(r, BL_API_PAYLOAD_TOO_LARGE,
                          "the body (%llu bytes) is larger than the server's memory budget of "
                          "%llu bytes",
                          (unsigned long long)r->expect,
                          (unsigned long long)s->cfg.memory_budget);
        if (st == BUDGET_BUSY)
            return refuse(r, BL_API_OVERLOADED,
                          "the server's memory budget is taken by other requests; retry later");
        r->body_reserved = (size_t)r->expect;
    }
    if (is_multipart(type)) {
        r->multipart = 1;
        if (multipart_boundary(type, r->boundary, sizeof r->boundary) != 0)
            return refuse(r, BL_API_INVALID_ARGUMENT,
                          "a multipart/form-data body needs a boundary parameter (1 to 70 "
                          "characters)");
    }
    r->format = wanted_format(c);
    atomic_fetch_add(&s->inflight, 1);
    r->counted = 1;
    return MHD_YES;
}

/* First call for a request: route it and decide what can be refused before
 * the body is read (recorded in r->err_*). */
static enum MHD_Result begin(server *s, struct MHD_Connection *c, request *r, const char *url,
                             const char *method)
{
    conn_state *cs = conn_of(c);
    if (cs && cs->over_limit) {
        metrics_event(s->metrics, METRIC_SLOTS_FULL);
        r->close = 1;
        return refuse(r, BL_API_OVERLOADED,
                      "every connection slot (%u) is taken; retry later", s->cfg.max_connections);
    }
    if (check_framing(r, c))
        return MHD_YES;
    if (cs && cs->bad_path) {
        cs->bad_path = 0;
        r->close = 1;
        return refuse(r, BL_API_INVALID_REQUEST,
                      "the path contains an encoded NUL (%%00)");
    }
    r->route = find_route(url);
    if (r->route < 0)
        return refuse(r, BL_API_NOT_FOUND, "no route %.100s; see GET /openapi.yaml",
                      url);
    int post = routes[r->route].post;
    if (s->cfg.cors_origin[0] && strcmp(method, "OPTIONS") == 0) {
        r->preflight = 1; /* answered 204 with the CORS headers, no token needed */
        return MHD_YES;
    }
    int method_ok = post ? strcmp(method, "POST") == 0
                         : (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
    if (!method_ok)
        return refuse(r, BL_API_METHOD_NOT_ALLOWED, "%s takes %s, not %.20s",
                      url, post ? "POST" : "GET", method);
    int open = routes[r->route].open || (r->route == R_METRICS && s->cfg.metrics_open);
    if (!open && !authorized(s, c))
        return refuse(r, BL_API_UNAUTHORIZED,
                      "this server needs the header Authorization: Bearer <token>");
    return post ? admit_post(s, c, r) : MHD_YES;
}

/* ---- body intake ------------------------------------------------------------------------ */

static void free_body(request *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    budget_release(r->body_reserved);
    r->body_reserved = 0;
}

/* Stops keeping the body: the rest is counted and dropped. */
static void discard(request *r, body_state why)
{
    free_body(r);
    r->body_state = why;
}

/* Appends a piece of the body. Invariant: len <= cap <= body_reserved
 * (when the budget is on), and len <= --max-body. With Content-Length the
 * buffer is that size (reserved in admit_post) from the first piece on;
 * a chunked body doubles from 4 KiB, each step reserved first. */
static void accumulate(server *s, request *r, const char *data, size_t n)
{
    r->bytes_in += n;
    if (r->body_state != BODY_OK)
        return;
    assert(r->len <= r->cap);
    if (n > s->cfg.max_body - r->len) {
        discard(r, BODY_TOO_LARGE);
        return;
    }
    size_t need = r->len + n;
    if (need > r->cap) {
        size_t cap = r->expect > need ? (size_t)r->expect : (r->cap ? r->cap : 4096);
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > s->cfg.max_body)
            cap = (size_t)s->cfg.max_body; /* >= need: checked above */
        if (cap > r->body_reserved) {
            budget_status st = budget_reserve(cap - r->body_reserved);
            if (st != BUDGET_OK) {
                discard(r, st == BUDGET_NEVER ? BODY_TOO_LARGE : BODY_BUSY);
                return;
            }
            r->body_reserved = cap;
        }
        char *b = realloc(r->body, cap);
        if (!b) {
            discard(r, BODY_BUSY);
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    assert(r->len <= r->cap);
}

/* ---- computation ------------------------------------------------------------------------ */

/* Puts an error document of the server's own in place of r->res. */
static void set_error(request *r, bl_api_code code, const char *field, const char *msg)
{
    free(r->res.body);
    memset(&r->res, 0, sizeof r->res);
    r->res.code = code;
    r->res.body = bl_api_error_body(bl_api_code_name(code), msg, field, &r->res.len);
    snprintf(r->res.error_code, sizeof r->res.error_code, "%s", bl_api_code_name(code));
    snprintf(r->res.error_field, sizeof r->res.error_field, "%s", field ? field : "");
    snprintf(r->res.content_type, sizeof r->res.content_type, "application/json");
}

/* The api request of a complete body: the document, or its parts. 0 on
 * success; otherwise the error is in r->res. */
static int split_parts(request *r, bl_api_part *parts, size_t *nparts)
{
    *nparts = 0;
    if (!r->multipart)
        return 0;
    multipart_part mp[MAX_PARTS];
    char bad[64] = "";
    multipart_status st = multipart_parse(r->body ? r->body : "", r->len, r->boundary, mp,
                                          MAX_PARTS, nparts, bad, sizeof bad);
    if (st != MP_OK) {
        char buf[256];
        set_error(r, BL_API_INVALID_ARGUMENT, st == MP_DUPLICATE ? bad : NULL,
                  multipart_message(st, bad, MAX_PARTS, buf, sizeof buf));
        return -1;
    }
    for (size_t i = 0; i < *nparts; i++) {
        strcpy(r->part_names[i], mp[i].name);
        parts[i].name = r->part_names[i];
        parts[i].data = mp[i].data;
        parts[i].len = mp[i].len;
    }
    return 0;
}

static void fail(request *r, bl_api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(request *r, bl_api_code code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(r, code, NULL, msg);
}

/* Computes the answer into r->res: reserves the work's estimate (waiting
 * up to `wait` seconds for it), then calls the api with this thread's
 * allocations bound to the budget. Frees the body. */
static void compute_now(request *r, double wait)
{
    server *s = r->s;
    bl_api_part parts[MAX_PARTS];
    size_t nparts = 0;
    if (split_parts(r, parts, &nparts) == 0) {
        bl_api_request req = {r->multipart ? NULL : (r->body ? r->body : ""),
                              r->multipart ? 0 : r->len, parts, nparts, r->format};
        const char *endpoint = routes[r->route].endpoint;
        size_t need = r->need ? r->need : bl_api_estimate(endpoint, &req, NULL);
        budget_status st = budget_reserve_wait(need, wait);
        if (st == BUDGET_NEVER)
            fail(r, BL_API_LIMIT_EXCEEDED,
                 "this request needs about %zu bytes of memory, more than the server's "
                 "memory budget of %llu bytes (--memory-budget); send less at once",
                 need, (unsigned long long)s->cfg.memory_budget);
        else if (st == BUDGET_BUSY)
            fail(r, BL_API_OVERLOADED,
                 "the server's memory budget is taken by other requests; retry later");
        else {
            r->work_reserved = need;
            budget_account acct;
            budget_bind(&acct);
            bl_api_handle(&s->api, endpoint, &req, &r->res);
            budget_unbind();
            if (acct.never_fits)
                fail(r, BL_API_LIMIT_EXCEEDED,
                     "this request needs more memory than the server's memory budget of %llu "
                     "bytes (--memory-budget); send less at once",
                     (unsigned long long)s->cfg.memory_budget);
            else if (acct.refused && r->res.code == BL_API_UNAVAILABLE)
                fail(r, BL_API_OVERLOADED,
                     "the server's memory budget is taken by other requests; retry later");
            if (acct.peak > TRIM_AFTER) {
                free_body(r);
                budget_trim();
            }
        }
    }
    free_body(r);
}

/* A compute thread's job: compute, then resume the connection. */
static void compute(void *arg)
{
    request *r = arg;
    compute_now(r, (double)r->s->cfg.queue_wait);
    r->done = 1;
    MHD_resume_connection(r->conn);
}

/* True when the request's work is provably tiny: a small JSON body whose
 * every number is small, so no count in it can ask for much (api.h,
 * bl_api_estimate). Such a request costs less than a hand-over to a
 * compute thread and back (a suspend, two thread wake-ups and a resume),
 * so it is answered on the I/O thread; it cannot hold that thread longer
 * than a few microseconds. */
static int tiny(request *r)
{
    if (r->multipart || r->len > TINY_BODY)
        return 0;
    bl_api_request req = {r->body ? r->body : "", r->len, NULL, 0, r->format};
    size_t work = 0;
    r->need = bl_api_estimate(routes[r->route].endpoint, &req, &work); /* kept for compute_now */
    return work <= TINY_WORK && r->need <= TINY_MEMORY;
}

/* The worker is done: answer with its result. */
static enum MHD_Result answer_computed(struct MHD_Connection *c, request *r)
{
    r->suspended = 0;
    if (!r->res.body)
        return reply_error(c, r, BL_API_OVERLOADED, NULL,
                           "out of memory");
    /* Every 503 of a computation counts as overloaded: "overloaded" (the
     * budget) and "unavailable" (out of memory, no randomness) alike. */
    if (bl_api_code_status(r->res.code) == MHD_HTTP_SERVICE_UNAVAILABLE)
        metrics_event(r->s->metrics, METRIC_OVERLOADED);
    enum MHD_Result ret = reply_result(c, r, &r->res);
    r->res.body = NULL;
    return ret;
}

/*
 * The body is in: hand the request to the pool, suspended until done.
 *
 * Not on the first final call, but on the next: libmicrohttpd 0.9.75 keeps
 * a suspended connection's event-loop state as it was (READ, for the first
 * request of a connection), and after the resume it reads the socket
 * before it calls handle() again; a client that half-closed after sending
 * (shutdown(SHUT_WR), or the last of pipelined requests) then reads as
 * gone, and the connection is closed unanswered. Returning once without a
 * response moves the state to BLOCK first; the next loop pass (no waiting)
 * calls handle() again, and only then is the connection suspended.
 */
static enum MHD_Result dispatch(server *s, struct MHD_Connection *c, request *r)
{
    if (r->deferred)
        goto suspend;
    if (r->body_state == BODY_TOO_LARGE)
        return reply_error(c, r, BL_API_PAYLOAD_TOO_LARGE, NULL,
                           "the body is larger than the server's max-body limit of %llu bytes "
                           "or its memory budget of %llu bytes",
                           (unsigned long long)s->cfg.max_body,
                           (unsigned long long)s->cfg.memory_budget);
    if (r->body_state == BODY_BUSY) {
        metrics_event(s->metrics, METRIC_OVERLOADED);
        return reply_error(c, r, BL_API_OVERLOADED, NULL,
                           "the server's memory budget is taken by other requests; retry later");
    }
    if (tiny(r)) {
        compute_now(r, 0);
        return answer_computed(c, r);
    }
    r->deferred = 1;
    return MHD_YES;
suspend:
    r->suspended = 1;
    MHD_suspend_connection(c);
    if (pool_submit(s->pool, compute, r, !r->multipart && r->len <= SMALL_BODY) != 0) {
        r->suspended = 0;
        MHD_resume_connection(c);
        free_body(r);
        metrics_event(s->metrics, METRIC_OVERLOADED);
        return reply_error(c, r, BL_API_OVERLOADED, NULL,
                           "every compute thread is busy and %u requests wait; retry later",
                           s->cfg.queue);
    }
    return MHD_YES;
}

static request *new_request(server *s, struct MHD_Connection *c)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->conn = c;
    r->route = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    return r;
}

/* Called by libmicrohttpd with a request's line, before its headers: the
 * record made here reaches completed() even when libmicrohttpd refuses
 * the request itself and handle() never sees it. */
static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)uri;
    return new_request(cls, c);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    request *r = *con_cls;
    if (!r) { /* uri_logged() could not allocate */
        r = new_request(s, c);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->handled) {
        r->handled = 1;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        metrics_inflight(s->metrics, 1);
        set_request_id(s, c, r);
        conns_phase(&s->conns, conn_of(c), PHASE_BODY);
        begin(s, c, r, url, method);
        if (r->err_code && has_body(c) && answer_before_body(c, r)) {
            conns_phase(&s->conns, conn_of(c), PHASE_BUSY);
            return answer_refusal(c, r);
        }
        return MHD_YES;
    }
    if (r->done)
        return answer_computed(c, r);
    if (r->responded) { /* refused early: drop whatever body still comes */
        r->bytes_in += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->err_code || !routes[r->route].post)
            r->bytes_in += *upload_data_size;
        else
            accumulate(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->suspended)
        return MHD_YES;
    conns_phase(&s->conns, conn_of(c), PHASE_BUSY); /* no longer a slow client's */
    if (r->err_code)
        return answer_refusal(c, r);
    if (r->preflight)
        return reply_static(c, r, MHD_HTTP_NO_CONTENT, "", 0, "text/plain", 0);
    if (!routes[r->route].post)
        return serve_get(s, c, r);
    return dispatch(s, c, r);
}

/* Log-safe copy: printable ASCII, no quotes or backslashes. */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = (src[i] > 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\') ? src[i] : '?';
    dst[i] = '\0';
}

/* One access-log line per request, to stderr; answers of 400 and above
 * carry their error code and field. */
static void log_request(server *s, request *r, double seconds, enum MHD_RequestTerminationCode toe)
{
    if (s->cfg.log_off)
        return;
    char path[96], method[12], when[40], code[32], field[160], err[224] = "";
    sanitize(path, sizeof path, r->path);
    sanitize(method, sizeof method, r->method);
    sanitize(code, sizeof code, r->log_code);
    sanitize(field, sizeof field, r->log_field);
    log_time(when, sizeof when);
    const char *outcome = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted";
    if (s->cfg.log_json) {
        if (r->status >= 400 && code[0])
            snprintf(err, sizeof err, ",\"code\":\"%s\"%s%s%s", code, field[0] ? ",\"field\":\"" : "",
                     field, field[0] ? "\"" : "");
        fprintf(stderr,
                "{\"time\":\"%s\",\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                "\"status\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                "\"outcome\":\"%s\"%s}\n",
                when, r->request_id, method, path, r->status, (unsigned long long)r->bytes_in,
                (unsigned long long)r->bytes_out, seconds * 1e3, outcome, err);
    } else {
        if (r->status >= 400 && code[0])
            snprintf(err, sizeof err, " code=%s%s%s", code, field[0] ? " field=" : "", field);
        fprintf(stderr, "%s %s %s %s %u in=%llu out=%llu %.3fms %s%s\n", when, r->request_id,
                method, path, r->status, (unsigned long long)r->bytes_in,
                (unsigned long long)r->bytes_out, seconds * 1e3, outcome, err);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    if (!r->handled) {
        /* libmicrohttpd answered (or dropped) a request it did not hand
         * to handle(): a malformed request line or headers, headers past
         * its pool (431), a URI too long (414), an unknown version (505),
         * a malformed Content-Length (400). */
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || toe == MHD_REQUEST_TERMINATED_WITH_ERROR)
            metrics_event(s->metrics, METRIC_MHD_ANSWERED);
        free(r);
        *con_cls = NULL;
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
    conns_phase(&s->conns, conn_of(c), PHASE_HEADERS);
    metrics_record(s->metrics, r->route, r->status, seconds, r->bytes_in, r->bytes_out);
    metrics_inflight(s->metrics, -1);
    log_request(s, r, seconds, toe);
    if (r->counted)
        atomic_fetch_sub(&s->inflight, 1);
    free_body(r);
    free(r->res.body);
    budget_release(r->work_reserved);
    free(r);
    *con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

static int listen_address(const server_config *cfg, struct sockaddr_storage *ss, unsigned *flags)
{
    socklen_t len;
    if (config_address(cfg->bind, cfg->port, ss, &len) != 0) {
        slog(LOG_ERROR, "--bind %s is not an IPv4 or IPv6 address or a name that resolves",
             cfg->bind);
        return -1;
    }
    if (ss->ss_family == AF_INET6)
        *flags |= MHD_USE_IPv6;
    return 0;
}

/* libmicrohttpd's own messages, in ballastd's log format. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    vslog(LOG_WARN, fmt, ap);
}

static struct MHD_Daemon *start_daemon(server *s, const server_config *cfg)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (listen_address(cfg, &ss, &flags))
        return NULL;
    /* poll, not epoll: libmicrohttpd 0.9.75's epoll is edge-triggered and
     * reads a request once, so a FIN that came with it (a client that
     * half-closed after sending) is never seen, and the connection stays
     * open until a timeout; poll sees it and closes after the answer. The
     * cost is a scan of each thread's connections per wake-up. */
    flags |= MHD_USE_POLL;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logged, s},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, s},
        /* Idle seconds: what closes a client that stops reading an answer. */
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections + SLOT_HEADROOM, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_per_ip, NULL},
        /* Refuse what RFC 9112 lets a server refuse: whitespace before a
         * header's colon, bare CR or LF line ends, and the like. */
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        /* Per connection, libmicrohttpd's own buffers (request line,
         * headers, read and write buffers) live in a pool of this size; the
         * body is ours, bounded by --max-body and the budget. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_POOL, NULL},
        /* One thread needs no pool (and libmicrohttpd warns about one of 1). */
        {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)cfg->threads,
         NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: a port in use is an error, not
     * a second server silently sharing it. */
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handle, s,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        slog(LOG_ERROR, "cannot listen on %s port %u (is another server using the port?)",
             cfg->bind, cfg->port);
    return d;
}

static void free_server(server *s)
{
    if (s->pool)
        pool_stop(s->pool, 0);
    conns_destroy(&s->conns);
    metrics_free(s->metrics);
    free(s);
}

server *server_start(const server_config *cfg)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        slog(LOG_ERROR, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->api = bl_api_config_default();
    s->api.limits = cfg->limits;
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)time(NULL);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%08x", rnd);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    static const char *route_names[R_COUNT];
    for (int i = 0; i < R_COUNT; i++)
        route_names[i] = routes[i].endpoint;
    s->metrics = metrics_new(route_names, R_COUNT, (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
    if (!s->metrics || conns_init(&s->conns, cfg->max_connections, cfg->header_timeout,
                                  cfg->timeout, s->metrics) != 0) {
        slog(LOG_ERROR, "out of memory");
        metrics_free(s->metrics);
        free(s);
        return NULL;
    }
    s->pool = pool_new(cfg->workers, cfg->queue);
    if (!s->pool) {
        slog(LOG_ERROR, "cannot start %u compute threads", cfg->workers);
        free_server(s);
        return NULL;
    }
    s->daemon = start_daemon(s, cfg);
    if (!s->daemon) {
        free_server(s);
        return NULL;
    }
    if (conns_watch(&s->conns) != 0)
        slog(LOG_WARN, "no watchdog thread: slow clients are cut only when idle");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        s->cfg.port = info->port;
    slog(LOG_INFO,
         "%s listening on %s port %u (%u I/O threads, %u workers, memory budget %llu bytes%s)",
         bl_api_version(), cfg->bind, s->cfg.port, cfg->threads, cfg->workers,
         (unsigned long long)cfg->memory_budget, cfg->cgroup_limit ? ", half the cgroup limit" : "");
    return s;
}

void server_drain(server *s)
{
    atomic_store(&s->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

unsigned server_inflight(const server *s) { return atomic_load(&((server *)s)->inflight); }

int server_stop(server *s, double seconds)
{
    /* Workers first: each resumes its connection, which libmicrohttpd
     * must see before it stops. A computation still running after the
     * drain's time is left to die with the process. */
    if (pool_stop(s->pool, seconds) != 0)
        return -1;
    s->pool = NULL;
    MHD_stop_daemon(s->daemon);
    free_server(s);
    return 0;
}
