/*
 * front.h — the HTTP front's private types and functions: the server, its
 * route table and the per-request record, shared by http.c (the access
 * handler), routes.c, framing.c, negotiate.c, intake.c, compute.c,
 * reply.c and daemon.c (see http.c for what lives where).
 */
#ifndef BALLAST_FRONT_H
#define BALLAST_FRONT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "conns.h"
#include "server.h"

typedef enum {
    R_WEIGHTS,
    R_SAMPLE,
    R_LOSS,
    R_HEALTHZ,
    R_READYZ,
    R_VERSION,
    R_OPENAPI,
    R_METRICS,
    R_DOCS, /* /docs and /docs/... */
    R_ROOT, /* / : points to /docs */
    R_COUNT
} route_id;

/* The methods a route takes: POST, or GET and HEAD. */
typedef enum { TAKES_GET, TAKES_POST } route_methods;

/* How a set of methods is written: the word of a 405's message, the Allow
 * header of a 405, a CORS preflight's Access-Control-Allow-Methods. */
typedef struct {
    const char *name;
    const char *allow;
    const char *cors;
} methods_text;

extern const methods_text route_methods_text[2];

/* One row a route: its path, the methods it takes, the api endpoint it
 * calls, whether it needs the bearer token and its metrics label. The one
 * list of routes (routes.c); everything else reads it. */
typedef struct {
    const char *path;
    route_methods methods;
    int endpoint;        /* TAKES_POST: the bl_api_endpoint it calls; else -1 */
    int open;            /* answered without the bearer token (probes, static pages) */
    const char *metrics; /* the route="..." label of its metrics */
    int prefix;          /* path and everything under path/ */
} route;

extern const route routes[R_COUNT];

/* True when route id (an index of routes[], or -1) takes a POST body. */
int route_is_post(int id);
/* True when route id takes method (GET also takes HEAD). */
int route_takes(int id, const char *method);

/* A process's request id prefix: 8 hex digits and a NUL. */
#define ID_PREFIX_SIZE 9

struct server {
    server_config cfg;
    bl_api_config api;
    struct MHD_Daemon *daemon;
    pool *pool;
    conns conns;
    atomic_int draining;
    atomic_uint inflight;
    atomic_ullong next_id;
    char id_prefix[ID_PREFIX_SIZE];
    metrics *metrics;
    const char *route_labels[R_COUNT]; /* routes[].metrics, as metrics_new takes them */
};

#define MAX_PARTS MP_MAX_PARTS
#define PATH_LOG_MAX 96   /* bytes of the path kept for the access log */
#define METHOD_LOG_MAX 12 /* and of the method */
#define REQUEST_ID_MAX 80
#define CLIENT_ID_MAX 64 /* the longest X-Request-Id of a client that is echoed */

typedef enum {
    BODY_OK,        /* accumulating */
    BODY_TOO_LARGE, /* past --max-body, or more than the whole budget: 413 */
    BODY_BUSY,      /* the budget could not hold it now: 503 overloaded */
} body_state;

/* Per-request state, owned by libmicrohttpd's *con_cls slot. */
typedef struct {
    server *s;
    struct MHD_Connection *conn;
    int handled; /* handle() has seen it (else libmicrohttpd refused it alone) */
    int route;   /* index into routes, or -1 */
    /* The body: len <= cap <= body_reserved (the budget's share). */
    char *body;
    size_t len, cap;
    size_t body_reserved;
    body_state body_state;
    uint64_t expect;      /* Content-Length, when sent */
    int responded;        /* a response was queued already */
    int close;            /* answer with Connection: close (the framing is not trusted) */
    int preflight;        /* a CORS preflight (OPTIONS with --cors-origin) */
    int counted;          /* counted in inflight */
    bl_api_code err_code; /* a refusal decided on the first call, or BL_API_OK */
    char err_msg[BL_API_MESSAGE_MAX];
    char request_id[REQUEST_ID_MAX];
    /* The computation (pool.c), handed over while the connection is
     * suspended: done is set by the worker before it resumes it. */
    int suspended;
    int deferred; /* dispatch() passed once without suspending (see there) */
    int done;
    bl_api_result res;
    size_t need;          /* bl_api_estimate of the request, 0 until computed */
    size_t work_reserved; /* the estimate, held until the request ends */
    /* For the access log and metrics. */
    struct timespec start;
    unsigned status;
    uint64_t bytes_in, bytes_out;
    char method[METHOD_LOG_MAX];
    char path[PATH_LOG_MAX];
    char log_code[BL_API_CODE_MAX];   /* an error answer's code, for the access log */
    char log_field[BL_API_FIELD_MAX]; /* and its field */
    /* multipart/form-data: the body is split into parts in place. */
    int multipart;
    char boundary[MP_BOUNDARY_SIZE];
    char part_names[MAX_PARTS][MP_NAME_MAX];
    bl_api_format format;
} request;

/* Requests that take the pool's small-jobs lane (pool.c): a JSON body of
 * at most this many bytes. */
#define SMALL_BODY (16 * 1024)

/* ---- http.c: the access handler (libmicrohttpd's callbacks) ---- */

/* libmicrohttpd's access handler, request-line logger (which makes the
 * request record) and completion callback, for daemon.c. */
enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls);
void *http_uri_logged(void *cls, const char *uri, struct MHD_Connection *c);
void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe);
/* The connection's slot (conns.c), or NULL. */
conn_state *conn_of(struct MHD_Connection *c);
/* Records a refusal decided before the body is read (r->err_code and
 * r->err_msg), answered once the request may be answered. Returns MHD_YES. */
enum MHD_Result refuse(request *r, bl_api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- routes.c ---- */

/* A request's first call: route it and decide what can be refused before
 * the body is read (recorded with refuse()). */
enum MHD_Result begin(server *s, struct MHD_Connection *c, request *r, const char *url,
                      const char *method);
/* The answer of a GET route. */
enum MHD_Result serve_get(server *s, struct MHD_Connection *c, request *r);

/* ---- framing.c ---- */

/* libmicrohttpd's unescape callback: %XX decoded in place; an encoded NUL
 * marks the connection (conn_state.bad_path). */
size_t http_unescape(void *cls, struct MHD_Connection *c, char *s);
/* Refuses framings that two parsers could read differently; 1 when it
 * refused (r->close set), else 0 with r->expect the Content-Length. */
int check_framing(request *r, struct MHD_Connection *c);

/* ---- negotiate.c ---- */

int is_multipart(const char *type);
/* The Content-Types a POST may have (JSON, a form, multipart). */
int acceptable_type(const char *type);
/* A raw .npy (or octet-stream) body, which belongs in a multipart part. */
int binary_type(const char *type);
/* The response format Accept asks for. */
bl_api_format wanted_format(struct MHD_Connection *c);

/* ---- intake.c ---- */

/* Admission of a POST before its body is read: draining, the queue, the
 * Content-Type, --max-body, the budget, a multipart boundary. */
enum MHD_Result admit_post(server *s, struct MHD_Connection *c, request *r);
/* Appends a piece of the body (or counts and drops it, once refused). */
void accumulate(server *s, request *r, const char *data, size_t n);
/* Frees the body and gives its reservation back to the budget. */
void free_body(request *r);

/* ---- compute.c ---- */

/* The body is in: compute now (tiny requests) or hand over to the pool. */
enum MHD_Result dispatch(server *s, struct MHD_Connection *c, request *r);
/* The computation is done: answer with its result. */
enum MHD_Result answer_computed(struct MHD_Connection *c, request *r);

/* ---- reply.c ---- */

/* Queue an answer (the body malloc'd and taken over; NULL for empty). */
enum MHD_Result reply(struct MHD_Connection *c, request *r, unsigned status, char *body, size_t len,
                      const char *type);
enum MHD_Result reply_static(struct MHD_Connection *c, request *r, unsigned status,
                             const char *body, size_t len, const char *type, int cacheable);
/* An error document for code (its status from api/codes.c). */
enum MHD_Result reply_error(struct MHD_Connection *c, request *r, bl_api_code code,
                            const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum MHD_Result reply_text(struct MHD_Connection *c, request *r, unsigned status, const char *text,
                           const char *type);
enum MHD_Result reply_result(struct MHD_Connection *c, request *r, bl_api_result *res);
void set_request_id(server *s, struct MHD_Connection *c, request *r);
int authorized(server *s, struct MHD_Connection *c);

#endif
