/*
 * server.h — ballastd's internals: configuration and the HTTP front.
 * The server knows bytes, routes and status codes; formulas live in lib/ and
 * the JSON contract in api/.
 */
#ifndef BALLAST_SERVER_H
#define BALLAST_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

typedef struct {
    unsigned port;
    char bind[64];
    unsigned threads;
    uint64_t max_body;
    bl_api_limits limits;
    unsigned timeout;         /* idle connection seconds */
    unsigned max_connections; /* 0: libmicrohttpd's default */
    unsigned drain_timeout;   /* seconds SIGTERM waits for requests in flight */
    int log_json;             /* --log-format json */
    int log_off;              /* --log-format none */
    char auth_token[256];     /* empty: no authentication */
    int healthcheck;          /* --healthcheck: client mode */
} server_config;

/* Fills *cfg from defaults, then BALLAST_* variables, then argv. Returns 0
 * to run, 1 when it printed help or the version (exit 0), -1 on a usage
 * error (printed to stderr; exit 2). */
int config_load(server_config *cfg, int argc, char **argv);

typedef struct server server;

/* Starts serving (listening socket and worker threads). NULL on failure,
 * with the reason on stderr. */
server *server_start(const server_config *cfg);
/* Stops taking new work: /readyz turns 503, the listening socket closes,
 * requests already running finish. Can't fail. */
void server_drain(server *s);
/* Requests being handled right now. */
unsigned server_inflight(const server *s);
/* Closes every connection and frees s. */
void server_stop(server *s);

/* ---- multipart.c: multipart/form-data bodies, parsed in place ---- */

#define MP_NAME_MAX 48

typedef struct {
    char name[MP_NAME_MAX];
    const char *data; /* into the body */
    size_t len;
} multipart_part;

typedef enum {
    MP_OK = 0,
    MP_MALFORMED, /* no delimiter after a part, or headers without an end */
    MP_NO_PARTS,  /* the boundary never occurs, or no part before the close */
    MP_NAMELESS,  /* a part without name= */
    MP_DUPLICATE, /* two parts of one name (bad_name says which) */
    MP_TOO_MANY,  /* more than max_parts parts, or a name of MP_NAME_MAX bytes or more */
} multipart_status;

/* The boundary parameter of a multipart Content-Type (quoted or not, 1 to
 * 70 characters) into out. 0 on success, -1 if there is none. */
int multipart_boundary(const char *content_type, char *out, size_t size);

/* Splits body into its parts (pointers into body). */
multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *nparts,
                                 char *bad_name, size_t bad_size);

/* ---- metrics.c: counters for GET /metrics ---- */

typedef struct metrics metrics;

/* Counters for nroutes named routes (plus "other"). NULL without memory. */
metrics *metrics_new(const char *const *route_names, size_t nroutes, double start_time);
void metrics_free(metrics *m);
/* Records one answered request; route -1 counts as "other". Lock-free. */
void metrics_record(metrics *m, int route, unsigned status, double seconds, uint64_t bytes_in,
                    uint64_t bytes_out);
void metrics_inflight(metrics *m, int delta);
/* Counts a connection cut for being too slow to send its request. */
void metrics_slow_client(metrics *m);
/* The Prometheus text exposition (format 0.0.4), malloc'd; NULL without memory. */
char *metrics_render(metrics *m, size_t *len);

#endif
