/*
 * server.h — ballastd's internals: configuration and the HTTP front.
 * The server knows bytes, routes and status codes; formulas live in lib/ and
 * the JSON contract in api/.
 */
#ifndef BALLAST_SERVER_H
#define BALLAST_SERVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "api.h"

/* Room for the text options (NUL included); longer values are refused. */
#define BIND_MAX 64
#define AUTH_TOKEN_MAX 256
#define CORS_ORIGIN_MAX 256

typedef struct {
    unsigned port;
    char bind[BIND_MAX];
    unsigned threads;
    uint64_t max_body;
    bl_api_limits limits;
    unsigned timeout;                /* seconds a request (headers and body) may take to arrive */
    unsigned header_timeout;         /* seconds a request's headers may take, idle time included */
    unsigned max_connections;        /* open connections; more are answered 503 */
    unsigned max_per_ip;             /* open connections from one address */
    unsigned workers;                /* compute threads */
    unsigned queue;                  /* requests waiting for a compute thread */
    unsigned queue_wait;             /* seconds a request may wait for memory */
    uint64_t memory_budget;          /* bytes; see budget.c */
    uint64_t cgroup_limit;           /* the cgroup's memory limit, 0 if none (for the log) */
    unsigned drain_timeout;          /* seconds SIGTERM waits for requests in flight */
    int log_json;                    /* --log-format json */
    int log_off;                     /* --log-format none */
    char auth_token[AUTH_TOKEN_MAX]; /* empty: no authentication */
    int metrics_open;                /* /metrics needs no token */
    char cors_origin[CORS_ORIGIN_MAX]; /* empty: no CORS headers */
    int healthcheck;                   /* --healthcheck: client mode */
} server_config;

/* Fills *cfg from defaults, then BALLAST_* variables, then argv. Returns 0
 * to run, 1 when it printed help or the version (exit 0), -1 on a usage
 * error (printed to stderr; exit 2). */
int config_load(server_config *cfg, int argc, char **argv);

/* host (an IPv4 or IPv6 address, or a name such as localhost: its first
 * address) and port as a socket address. 0 on success, -1 if host is
 * neither. */
int config_address(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len);

typedef struct server server;

/* Starts serving (listening socket and worker threads). NULL on failure,
 * with the reason on stderr. */
server *server_start(const server_config *cfg);
/* Stops taking new work: /readyz turns 503, the listening socket closes,
 * requests already running finish. Can't fail. */
void server_drain(server *s);
/* Requests being handled right now. */
unsigned server_inflight(const server *s);
/* Stops the compute threads (waiting up to `seconds` for a running
 * computation), closes every connection and frees s. -1, with nothing
 * freed, when a computation was still running: the caller exits anyway. */
int server_stop(server *s, double seconds);

/* ---- log.c: ballastd's own log lines, text or JSON (see log.c) ---- */

typedef enum { LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Under --log-format json every line is a JSON object; call before
 * starting threads. */
void log_use_json(int on);
void slog(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vslog(log_level level, const char *fmt, va_list ap);
/* "2026-12-02T08:04:41.123Z", now; buf of LOG_TIME_MAX bytes holds it. */
void log_time(char *buf, size_t size);
#define LOG_TIME_MAX 40
/* A log line's message is cut at this many bytes (NUL included). */
#define LOG_LINE_MAX 1024

/* ---- budget.c: the memory budget (see the comment at its top) ---- */

typedef enum {
    BUDGET_OK = 0,
    BUDGET_BUSY,  /* not now: other work holds the budget */
    BUDGET_NEVER, /* more than the whole budget */
} budget_status;

/* One computation's allocations, while bound to its worker thread. */
typedef struct {
    ptrdiff_t used, peak; /* net bytes allocated while bound, and the most */
    int refused;          /* an allocation was refused: the budget was busy */
    int never_fits;       /* an allocation was refused that alone passed the budget */
    int unlimited;        /* count only, never refuse */
} budget_account;

typedef struct {
    uint64_t limit, used, peak, reserved;
    unsigned long long refused;
} budget_stats;

/* The default budget: half the cgroup's memory limit when there is one
 * (*cgroup set to it), else a quarter of RAM, at most 1 GiB. */
uint64_t budget_default(uint64_t *cgroup);
/* Sets the limit (0: count, never refuse), pins glibc's mmap threshold and
 * routes jansson's allocations through the counter. Call once, first. */
void budget_init(uint64_t limit);
/* Claims n bytes of the budget. Lock-free; can't block. */
budget_status budget_reserve(size_t n);
/* The same, waiting up to `seconds` for other work to release enough. */
budget_status budget_reserve_wait(size_t n, double seconds);
void budget_release(size_t n);
/* Binds a (zeroed here) to the calling thread: its allocations are counted
 * in it and refused past the limit; NULL or budget_unbind() unbinds. */
void budget_bind(budget_account *a);
void budget_unbind(void);
budget_stats budget_get_stats(void);
/* Returns freed heap pages to the system (after work that made many small
 * allocations, such as a large JSON document). */
void budget_trim(void);

/* ---- pool.c: the compute threads ---- */

typedef struct pool pool;
typedef void (*pool_fn)(void *arg);

/* workers threads serving two FIFOs (small and large jobs) of at most
 * queue_max waiting jobs each. NULL on failure. */
pool *pool_new(unsigned workers, unsigned queue_max);
/* Queues fn(arg), in the small jobs' lane when small (taken first, see
 * pool.c); -1 when the queue is full or the pool is stopping. */
int pool_submit(pool *p, pool_fn fn, void *arg, int small);
/* Waiting jobs: in the small lane (lane 0), the large one (1), or both
 * (-1); and workers running one. */
unsigned pool_queued(pool *p, int lane);
unsigned pool_busy(pool *p);
/* Stops the workers once the queue is empty and joins them; returns -1
 * without joining when a job is still running after `seconds` (the caller
 * then exits without freeing). */
int pool_stop(pool *p, double seconds);

/* ---- docs.c: the files of GET /docs, compiled in ---- */

/* The page or asset at path ("/docs", "/docs/swagger-ui.css", ...): 1 and
 * its bytes and media type, or 0. Can't fail otherwise. */
int docs_find(const char *path, const char **data, size_t *len, const char **type);

/* ---- multipart.c: multipart/form-data bodies, parsed in place ---- */

#define MP_NAME_MAX 48
#define MP_MAX_PARTS 16     /* parts ballastd accepts in one body */
#define MP_BOUNDARY_SIZE 72 /* a boundary of 1 to 70 characters, and its NUL */
#define MP_BAD_SIZE 64      /* multipart_parse's bad_name: a part's name, or what was wrong */

typedef struct {
    char name[MP_NAME_MAX];
    const char *data; /* into the body */
    size_t len;
} multipart_part;

typedef enum {
    MP_OK = 0,
    MP_MALFORMED,       /* no delimiter after a part, or headers without an end */
    MP_NO_PARTS,        /* the boundary never occurs, or no part before the close */
    MP_NAMELESS,        /* a part without name= */
    MP_DUPLICATE,       /* two parts of one name (bad_name says which) */
    MP_TOO_MANY,        /* more than max_parts parts, or a name of MP_NAME_MAX bytes or more */
    MP_BAD_DISPOSITION, /* a Content-Disposition that is not form-data; name=... by the
                           grammar of RFC 7578 §4.2 / RFC 6266 §4.1, or two of them in
                           one part (bad_name says what was wrong, < 64 bytes) */
} multipart_status;

/* The boundary parameter of a multipart Content-Type into out (unquoted,
 * NUL-terminated): a real parameter after the media type, as a token or a
 * quoted-string, of 1 to 70 RFC 2046 bchars. 0 on success; -1 when there
 * is none, two, one that does not fit in size bytes or is not a valid
 * boundary, or the Content-Type is not media-type *( ";" parameter ). */
int multipart_boundary(const char *content_type, char *out, size_t size);

/* Splits body into its parts (pointers into body). Each part's name is the
 * name parameter of its one Content-Disposition header; bad_name receives
 * the name or the reason named in the status's comment. */
multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *nparts,
                                 char *bad_name, size_t bad_size);

/* What to tell a client whose body multipart_parse refused with st (bad:
 * its bad_name; max_parts as passed to it): a sentence written into buf,
 * or a constant one. Can't fail. */
const char *multipart_message(multipart_status st, const char *bad, size_t max_parts, char *buf,
                              size_t size);

/* ---- metrics.c: counters for GET /metrics ---- */

typedef struct metrics metrics;

/* Counters for nroutes named routes (plus "other"). NULL without memory. */
metrics *metrics_new(const char *const *route_names, size_t nroutes, double start_time);
void metrics_free(metrics *m);
/* Records one answered request; route -1 counts as "other". Lock-free. */
void metrics_record(metrics *m, int route, unsigned status, double seconds, uint64_t bytes_in,
                    uint64_t bytes_out);
void metrics_inflight(metrics *m, int delta);
/* Counts a connection cut for being too slow to send its request's
 * headers (in_headers) or its body. */
void metrics_slow_client(metrics *m, int in_headers);

typedef enum {
    METRIC_OVERLOADED,   /* 503 overloaded */
    METRIC_SLOTS_FULL,   /* a connection past --max-connections, answered 503 */
    METRIC_MHD_ANSWERED, /* a request libmicrohttpd refused by itself */
    METRIC_EVENTS
} metric_event;
void metrics_event(metrics *m, metric_event e);
/* The Prometheus text exposition (format 0.0.4), with extra (gauges the
 * caller renders, may be NULL) appended; malloc'd, NULL without memory. */
char *metrics_render(metrics *m, const char *extra, size_t *len);

#endif
