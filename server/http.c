/*
 * http.c — ballastd's HTTP front on libmicrohttpd.
 *
 * One internal polling thread per worker (a thread pool of --threads) with
 * epoll. A POST body is accumulated across handler calls into one buffer
 * capped at --max-body: a Content-Length over the cap is refused (413)
 * before any of the body is read, and a chunked body is counted as it
 * arrives. The complete body goes to the api layer, whose JSON answer goes
 * back with the status that its code maps to.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/*
 * Slow clients. libmicrohttpd's --timeout closes a connection only after
 * that long without any byte, so a client trickling one byte a second could
 * hold a connection (and a worker's attention) for ever. Each connection is
 * therefore registered here while it is open, with the time its current
 * request began to arrive (the connection's start, or the end of its
 * previous request); a watchdog thread shuts down the socket of any
 * connection still receiving a request --timeout seconds later. A request
 * being computed or answered is never cut. The registry's lock orders the
 * watchdog's shutdown() before libmicrohttpd closes and reuses the fd.
 */
typedef struct conn_state {
    int fd;
    int receiving;          /* the request is still arriving */
    int cut;                /* already shut down by the watchdog */
    struct timespec since;  /* when the current request began to arrive */
    struct conn_state *prev, *next;
} conn_state;

struct server {
    server_config cfg;
    pthread_mutex_t conns_lock;
    conn_state *conns;      /* open connections, under conns_lock */
    pthread_t watchdog;
    int watchdog_running;
    atomic_int stopping;
    bl_api_config api;
    struct MHD_Daemon *daemon;
    atomic_int draining;
    atomic_uint inflight;
    atomic_ullong next_id;
    char id_prefix[9];
    metrics *metrics;
};

typedef enum {
    R_NONE = -1,
    R_WEIGHTS,
    R_SAMPLE,
    R_LOSS,
    R_HEALTHZ,
    R_READYZ,
    R_VERSION,
    R_OPENAPI,
    R_METRICS,
} route_id;

static const struct {
    const char *path;
    route_id id;
    int post; /* 1: POST; 0: GET (and HEAD) */
    const char *endpoint;
} routes[] = {
    {"/weights", R_WEIGHTS, 1, "weights"},
    {"/sample", R_SAMPLE, 1, "sample"},
    {"/loss", R_LOSS, 1, "loss"},
    {"/healthz", R_HEALTHZ, 0, NULL},
    {"/readyz", R_READYZ, 0, NULL},
    {"/version", R_VERSION, 0, NULL},
    {"/openapi.yaml", R_OPENAPI, 0, NULL},
    {"/metrics", R_METRICS, 0, NULL},
};
static const char *const route_names[] = {"weights", "sample", "loss", "healthz",
                                          "readyz", "version", "openapi", "metrics"};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Per-request state, owned by libmicrohttpd's *con_cls slot. */
#define MAX_PARTS 16

typedef struct {
    int route; /* index into routes, or -1 */
    char *body;
    size_t len, cap;
    int too_large;  /* the body passed --max-body; the rest is discarded */
    int responded;  /* a response was queued already */
    int counted;    /* counted in inflight */
    unsigned err_status;  /* a refusal decided on the first call, or 0 */
    const char *err_code;
    char err_msg[320];
    char request_id[80];
    /* For the access log and metrics. */
    struct timespec start;
    unsigned status;
    uint64_t bytes_in, bytes_out;
    char method[12];
    char path[96];
    /* A multipart/form-data body is accumulated like any other and split
     * into parts in place (multipart.c); the parts go to the api layer as
     * .npy arrays. */
    int multipart;
    char boundary[72];
    uint64_t expect; /* Content-Length, when sent: the body buffer's size */
    char part_names[MAX_PARTS][MP_NAME_MAX];
    bl_api_format format;
} request;

/* ---- connections ----------------------------------------------------------- */

static conn_state *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_state *)ci->socket_context : NULL;
}

/* A request has fully arrived (receiving 0), or a new one may start (1). */
static void conn_mark(server *s, struct MHD_Connection *c, int receiving)
{
    conn_state *cs = conn_of(c);
    if (!cs)
        return;
    pthread_mutex_lock(&s->conns_lock);
    cs->receiving = receiving;
    clock_gettime(CLOCK_MONOTONIC, &cs->since);
    pthread_mutex_unlock(&s->conns_lock);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_state *cs = calloc(1, sizeof *cs);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!cs || !ci) { /* untracked: only libmicrohttpd's idle timeout applies */
            free(cs);
            *socket_context = NULL;
            return;
        }
        cs->fd = ci->connect_fd;
        cs->receiving = 1;
        clock_gettime(CLOCK_MONOTONIC, &cs->since);
        pthread_mutex_lock(&s->conns_lock);
        cs->next = s->conns;
        if (s->conns)
            s->conns->prev = cs;
        s->conns = cs;
        pthread_mutex_unlock(&s->conns_lock);
        *socket_context = cs;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_state *cs = *socket_context;
        if (!cs)
            return;
        pthread_mutex_lock(&s->conns_lock);
        if (cs->prev)
            cs->prev->next = cs->next;
        else
            s->conns = cs->next;
        if (cs->next)
            cs->next->prev = cs->prev;
        pthread_mutex_unlock(&s->conns_lock);
        free(cs);
        *socket_context = NULL;
    }
}

static void *watchdog(void *arg)
{
    server *s = arg;
    const struct timespec nap = {0, 200 * 1000 * 1000};
    while (!atomic_load(&s->stopping)) {
        nanosleep(&nap, NULL);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&s->conns_lock);
        for (conn_state *cs = s->conns; cs; cs = cs->next) {
            double age = (double)(now.tv_sec - cs->since.tv_sec) +
                         (double)(now.tv_nsec - cs->since.tv_nsec) / 1e9;
            if (cs->receiving && !cs->cut && age > (double)s->cfg.timeout) {
                shutdown(cs->fd, SHUT_RDWR);
                cs->cut = 1;
                metrics_slow_client(s->metrics);
            }
        }
        pthread_mutex_unlock(&s->conns_lock);
    }
    return NULL;
}

/* ---- responses -------------------------------------------------------- */

static int status_of(bl_api_code code)
{
    switch (code) {
    case BL_API_OK: return MHD_HTTP_OK;
    case BL_API_INVALID_JSON:
    case BL_API_INVALID_ARGUMENT:
    case BL_API_LIMIT_EXCEEDED: return MHD_HTTP_BAD_REQUEST;
    case BL_API_NOT_FOUND: return MHD_HTTP_NOT_FOUND;
    case BL_API_NOT_ACCEPTABLE: return MHD_HTTP_NOT_ACCEPTABLE;
    case BL_API_UNAVAILABLE: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case BL_API_INTERNAL: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Adds the headers every answer carries (Content-Type, X-Request-Id,
 * nosniff, no-store unless cacheable, and Allow or WWW-Authenticate where
 * the status wants them), queues resp and records the answer for the log
 * and the metrics. Takes resp over. */
static enum MHD_Result queue(struct MHD_Connection *c, request *r, unsigned status,
                             struct MHD_Response *resp, size_t len, const char *type,
                             int cacheable)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!cacheable)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->route >= 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                routes[r->route].post ? "POST" : "GET, HEAD");
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
static enum MHD_Result reply(struct MHD_Connection *c, request *r, unsigned status, char *body,
                             size_t len, const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                        body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    return queue(c, r, status, resp, len, type, 0);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, request *r, unsigned status,
                                  char *body, size_t len)
{
    return reply(c, r, status, body, len, "application/json");
}

/* An api result: its content type, and its metadata as Ballast-* headers
 * ("num_samples" becomes Ballast-Num-Samples). */
static enum MHD_Result reply_result(struct MHD_Connection *c, request *r, bl_api_result *res)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(res->body);
        return MHD_NO;
    }
    for (size_t i = 0; i < res->nmeta; i++) {
        char name[64] = "Ballast-";
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
    return queue(c, r, (unsigned)status_of(res->code), resp, res->len, res->content_type, 0);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, request *r, unsigned status,
                                   const char *code, const char *field, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = bl_api_error_body(code, msg, field, &len);
    return reply_json(c, r, status, body, len);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, request *r, unsigned status,
                                  const char *text, const char *type)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy)
        return MHD_NO;
    memcpy(copy, text, len + 1);
    return reply(c, r, status, copy, len, type);
}

/* ---- request checks ---------------------------------------------------------------- */

static int is_multipart(const char *type)
{
    return type && strncasecmp(type, "multipart/form-data", 19) == 0 &&
           (type[19] == '\0' || type[19] == ';' || type[19] == ' ');
}

/* application/json, no type, or application/x-www-form-urlencoded (what
 * curl -d sends), each with any parameters; multipart/form-data for .npy
 * parts (see README, "Bulk data"). */
static int acceptable_type(const char *type)
{
    if (!type || !*type || is_multipart(type))
        return 1;
    static const char *const ok[] = {"application/json", "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(type, ok[i], n) == 0 && (type[n] == '\0' || type[n] == ';' || type[n] == ' '))
            return 1;
    }
    return 0;
}

/* A client's X-Request-Id is echoed when it is 1..64 visible ASCII
 * characters; otherwise one is made up. */
static void set_request_id(server *s, struct MHD_Connection *c, request *r)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = id ? strlen(id) : 0;
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) /* visible ASCII, nothing to escape in a log */
        ok = id[i] > 0x20 && id[i] < 0x7f && id[i] != '"' && id[i] != '\\';
    if (ok)
        memcpy(r->request_id, id, n + 1);
    else
        snprintf(r->request_id, sizeof r->request_id, "%s-%012llx", s->id_prefix,
                 (unsigned long long)atomic_fetch_add(&s->next_id, 1));
}

/* Constant-time comparison of the bearer token. */
static int authorized(server *s, struct MHD_Connection *c)
{
    if (!s->cfg.auth_token[0])
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *got = h + 7;
    const char *want = s->cfg.auth_token;
    size_t gl = strlen(got), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

/* The response format from Accept: of application/json,
 * application/x-npy and multipart/form-data, the one with the highest
 * q-value (the first named on a tie); media ranges with q=0 are refused
 * ones, and anything else (*\/\*, no Accept) means JSON. */
static bl_api_format wanted_format(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    static const struct {
        const char *type;
        bl_api_format f;
    } kinds[] = {{"application/json", BL_API_JSON},
                 {"application/x-npy", BL_API_NPY},
                 {"multipart/form-data", BL_API_MULTIPART}};
    bl_api_format best = BL_API_JSON;
    double best_q = 0;
    while (a && *a) {
        const char *end = strchr(a, ',');
        size_t len = end ? (size_t)(end - a) : strlen(a);
        while (len && (*a == ' ' || *a == '\t'))
            a++, len--;
        size_t tlen = 0;
        while (tlen < len && a[tlen] != ';' && a[tlen] != ' ' && a[tlen] != '\t')
            tlen++;
        double q = 1;
        for (size_t i = tlen; i + 2 < len; i++)
            if ((a[i] == 'q' || a[i] == 'Q') && a[i + 1] == '=' &&
                (i == 0 || a[i - 1] == ';' || a[i - 1] == ' '))
                q = strtod(a + i + 2, NULL);
        for (size_t k = 0; k < 3; k++)
            if (tlen == strlen(kinds[k].type) && strncasecmp(a, kinds[k].type, tlen) == 0 &&
                q > best_q) {
                best = kinds[k].f;
                best_q = q;
            }
        a = end ? end + 1 : NULL;
    }
    return best;
}

/* ---- GET routes ---------------------------------------------------------------------- */

static enum MHD_Result serve_get(server *s, struct MHD_Connection *c, request *r)
{
    char buf[256];
    switch (routes[r->route].id) {
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
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, (void *)doc, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        return queue(c, r, MHD_HTTP_OK, resp, len, "application/yaml", 1);
    }
    case R_METRICS: {
        size_t len;
        char *text = metrics_render(s->metrics, &len);
        if (!text)
            return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
                               "out of memory");
        return reply(c, r, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
    }
    default:
        break;
    }
    return reply_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "unrouted GET");
}

/* ---- the access handler ------------------------------------------------------------------------ */

/* Records a refusal, answered by answer_refusal(). Returns MHD_YES. */
static enum MHD_Result refuse(request *r, unsigned status, const char *code, const char *fmt, ...)
{
    r->err_status = status;
    r->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
    va_end(ap);
    return MHD_YES;
}

static enum MHD_Result answer_refusal(struct MHD_Connection *c, request *r)
{
    return reply_error(c, r, r->err_status, r->err_code, NULL, "%s", r->err_msg);
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

/* First call for a request: route it and decide what can be refused before
 * the body is read (recorded in r->err_*). */
static enum MHD_Result begin(server *s, struct MHD_Connection *c, request *r, const char *url,
                             const char *method)
{
    r->route = -1;
    for (size_t i = 0; i < NROUTES; i++)
        if (strcmp(url, routes[i].path) == 0)
            r->route = (int)i;
    if (r->route < 0)
        return refuse(r, MHD_HTTP_NOT_FOUND, "not_found",
                           "no route %.100s; see GET /openapi.yaml", url);
    int post = routes[r->route].post;
    int method_ok = post ? strcmp(method, "POST") == 0
                         : (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
    if (!method_ok)
        return refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                           "%s takes %s, not %.20s", url, post ? "POST" : "GET", method);
    route_id id = routes[r->route].id;
    if (id != R_HEALTHZ && id != R_READYZ && !authorized(s, c))
        return refuse(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                           "this server needs the header Authorization: Bearer <token>");
    if (!post)
        return MHD_YES;
    if (atomic_load(&s->draining))
        return refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "the server is draining for shutdown; retry on another replica");
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!acceptable_type(type))
        return refuse(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                           "Content-Type %.80s is not accepted; send application/json", type);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        errno = 0;
        unsigned long long n = strtoull(cl, NULL, 10);
        if (errno != ERANGE && n <= s->cfg.max_body)
            r->expect = n;
        if (errno == ERANGE || n > s->cfg.max_body)
            return refuse(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                               "the body (%.24s bytes) is larger than the server's max-body "
                               "limit of %llu bytes",
                               cl, (unsigned long long)s->cfg.max_body);
    }
    if (is_multipart(type)) {
        r->multipart = 1;
        if (multipart_boundary(type, r->boundary, sizeof r->boundary) != 0)
            return refuse(r, MHD_HTTP_BAD_REQUEST, "invalid_argument",
                          "a multipart/form-data body needs a boundary parameter (1 to 70 "
                          "characters)");
    }
    r->format = wanted_format(c);
    atomic_fetch_add(&s->inflight, 1);
    r->counted = 1;
    return MHD_YES;
}

/* Appends a piece of the body; past --max-body the rest is discarded. */
static void accumulate(server *s, request *r, const char *data, size_t n)
{
    r->bytes_in += n;
    if (r->too_large)
        return;

    if (n > s->cfg.max_body - r->len) {
        r->too_large = 1;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return;
    }
    if (r->cap - r->len < n) {
        /* The announced length exactly (it is within max-body), but no
         * more than 1 MiB before that much has arrived, so that clients
         * announcing large bodies and sending nothing reserve little;
         * without a length, doubling from 4 KiB. */
        size_t cap = r->cap ? r->cap * 2 : 4096;
        if (r->expect) {
            size_t want = (size_t)r->expect;
            cap = r->cap ? want : (want > (1u << 20) ? (size_t)(1u << 20) : want);
        }
        while (cap - r->len < n)
            cap *= 2;
        if (cap > s->cfg.max_body)
            cap = (size_t)s->cfg.max_body;
        char *b = realloc(r->body, cap);
        if (!b) {
            /* Out of memory: answered 503 at the end of the body. */
            r->too_large = -1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        metrics_inflight(s->metrics, 1);
        set_request_id(s, c, r);
        begin(s, c, r, url, method);
        if (r->err_status && has_body(c)) {
            conn_mark(s, c, 0);
            return answer_refusal(c, r);
        }
        return MHD_YES;
    }
    if (r->responded) { /* refused early: drop whatever body still comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->err_status || !routes[r->route].post)
            r->bytes_in += *upload_data_size;
        else
            accumulate(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    conn_mark(s, c, 0); /* the request is in: no longer a slow client's */
    if (r->err_status)
        return answer_refusal(c, r);
    if (!routes[r->route].post)
        return serve_get(s, c, r);
    if (r->too_large > 0)
        return reply_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", NULL,
                           "the body is larger than the server's max-body limit of %llu bytes",
                           (unsigned long long)s->cfg.max_body);
    if (r->too_large < 0)
        return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
                           "out of memory while reading the body");
    bl_api_part parts[MAX_PARTS];
    size_t nparts = 0;
    if (r->multipart) {
        multipart_part mp[MAX_PARTS];
        char bad[64] = "";
        multipart_status st = multipart_parse(r->body ? r->body : "", r->len, r->boundary, mp,
                                              MAX_PARTS, &nparts, bad, sizeof bad);
        if (st != MP_OK) {
            free(r->body);
            r->body = NULL;
            switch (st) {
            case MP_DUPLICATE:
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", bad,
                                   "part \"%s\" is given twice", bad);
            case MP_TOO_MANY:
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", NULL,
                                   "too many parts (at most %d) or a part name of %d bytes or more",
                                   MAX_PARTS, MP_NAME_MAX);
            case MP_NAMELESS:
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", NULL,
                                   "a part has no name (Content-Disposition: form-data; name=...)");
            case MP_NO_PARTS:
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", NULL,
                                   "the multipart/form-data body has no parts (is its boundary "
                                   "the one in Content-Type?)");
            default:
                return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", NULL,
                                   "malformed multipart/form-data body");
            }
        }
        for (size_t i = 0; i < nparts; i++) {
            strcpy(r->part_names[i], mp[i].name);
            parts[i].name = r->part_names[i];
            parts[i].data = mp[i].data;
            parts[i].len = mp[i].len;
        }
    }
    bl_api_request req = {r->multipart ? NULL : (r->body ? r->body : ""),
                          r->multipart ? 0 : r->len, parts, nparts, r->format};
    bl_api_result res;
    bl_api_handle(&s->api, routes[r->route].endpoint, &req, &res);
    free(r->body);
    r->body = NULL;
    if (!res.body)
        return reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
                           "out of memory");
    return reply_result(c, r, &res);
}

/* Log-safe copy: printable ASCII, no quotes or backslashes. */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = (src[i] > 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\') ? src[i] : '?';
    dst[i] = '\0';
}

/* One access-log line per request, to stderr. */
static void log_request(server *s, request *r, double seconds, enum MHD_RequestTerminationCode toe)
{
    if (s->cfg.log_off)
        return;
    char path[96], method[12], when[32];
    sanitize(path, sizeof path, r->path);
    sanitize(method, sizeof method, r->method);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    const char *outcome = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted";
    if (s->cfg.log_json)
        fprintf(stderr,
                "{\"time\":\"%s.%03ldZ\",\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                "\"status\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                "\"outcome\":\"%s\"}\n",
                when, now.tv_nsec / 1000000, r->request_id, method, path, r->status,
                (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, seconds * 1e3,
                outcome);
    else
        fprintf(stderr, "%s.%03ldZ %s %s %s %u in=%llu out=%llu %.3fms %s\n", when,
                now.tv_nsec / 1000000, r->request_id, method, path, r->status,
                (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, seconds * 1e3,
                outcome);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
    conn_mark(s, c, 1);
    metrics_record(s->metrics, r->route, r->status, seconds, r->bytes_in, r->bytes_out);
    metrics_inflight(s->metrics, -1);
    log_request(s, r, seconds, toe);
    if (r->counted)
        atomic_fetch_sub(&s->inflight, 1);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

server *server_start(const server_config *cfg)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "ballastd: out of memory\n");
        return NULL;
    }
    s->cfg = *cfg;
    s->api = bl_api_config_default();
    s->api.limits = cfg->limits;
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)time(NULL);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%08x", rnd);
    pthread_mutex_init(&s->conns_lock, NULL);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    s->metrics = metrics_new(route_names, NROUTES, (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
    if (!s->metrics) {
        fprintf(stderr, "ballastd: out of memory\n");
        free(s);
        return NULL;
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "ballastd: --bind %s is not an IPv4 or IPv6 address\n", cfg->bind);
        metrics_free(s->metrics);
        free(s);
        return NULL;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else
        flags |= MHD_USE_POLL;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
        /* Per connection, libmicrohttpd's own buffers (request line,
         * headers, read and write buffers) live in a pool of this size; the
         * body is ours, bounded by --max-body. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        /* One worker needs no pool (and libmicrohttpd warns about one of 1). */
        {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)cfg->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handle, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "ballastd: cannot listen on %s port %u: %s\n", cfg->bind, cfg->port,
                strerror(errno));
        metrics_free(s->metrics);
        free(s);
        return NULL;
    }
    s->watchdog_running = pthread_create(&s->watchdog, NULL, watchdog, s) == 0;
    if (!s->watchdog_running)
        fprintf(stderr, "ballastd: no watchdog thread: slow clients are cut only when idle\n");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        s->cfg.port = info->port;
    fprintf(stderr, "ballastd %s listening on %s port %u (%u threads)\n", bl_api_version(),
            cfg->bind, s->cfg.port, cfg->threads);
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

void server_stop(server *s)
{
    atomic_store(&s->stopping, 1);
    if (s->watchdog_running)
        pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->conns_lock);
    metrics_free(s->metrics);
    free(s);
}
