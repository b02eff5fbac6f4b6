/*
 * routes.c — the one route table (path, methods, api endpoint,
 * credentials, metrics name) and what is decided from it on a request's first
 * call, before any of its body is read: connection slots, framing, route
 * (404), method (405), credentials (401), then a POST's admission
 * (intake.c), in the order api/openapi.yaml gives; and the GET routes'
 * answers, made on the I/O thread.
 */
#include <stdio.h>
#include <string.h>

#include "front.h"

const route routes[R_COUNT] = {
    [R_WEIGHTS] = {"/weights", TAKES_POST, BL_API_EP_WEIGHTS, 0, "weights"},
    [R_SAMPLE] = {"/sample", TAKES_POST, BL_API_EP_SAMPLE, 0, "sample"},
    [R_LOSS] = {"/loss", TAKES_POST, BL_API_EP_LOSS, 0, "loss"},
    [R_HEALTHZ] = {"/healthz", TAKES_GET, -1, 1, "healthz"},
    [R_READYZ] = {"/readyz", TAKES_GET, -1, 1, "readyz"},
    [R_VERSION] = {"/version", TAKES_GET, -1, 0, "version"},
    [R_OPENAPI] = {"/openapi.yaml", TAKES_GET, -1, 0, "openapi"},
    [R_METRICS] = {"/metrics", TAKES_GET, -1, 0, "metrics"},
    [R_DOCS] = {"/docs", TAKES_GET, -1, 1, "docs", 1},
    [R_ROOT] = {"/", TAKES_GET, -1, 1, "root"},
};

const methods_text route_methods_text[2] = {
    [TAKES_GET] = {"GET", "GET, HEAD", "GET, HEAD, OPTIONS"},
    [TAKES_POST] = {"POST", "POST", "POST, OPTIONS"},
};

int route_is_post(int id) { return id >= 0 && id < R_COUNT && routes[id].methods == TAKES_POST; }

int route_takes(int id, const char *method)
{
    if (route_is_post(id))
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
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

/* First call for a request: route it and decide what can be refused before
 * the body is read (recorded by refuse()). */
enum MHD_Result begin(server *s, struct MHD_Connection *c, request *r, const char *url,
                      const char *method)
{
    conn_state *cs = conn_of(c);
    if (cs && cs->over_limit) {
        metrics_event(s->metrics, METRIC_SLOTS_FULL);
        r->close = 1;
        return refuse(r, BL_API_OVERLOADED, "every connection slot (%u) is taken; retry later",
                      s->cfg.max_connections);
    }
    if (check_framing(r, c))
        return MHD_YES;
    if (cs && cs->bad_path) {
        cs->bad_path = 0;
        r->close = 1;
        return refuse(r, BL_API_INVALID_REQUEST, "the path contains an encoded NUL (%%00)");
    }
    r->route = find_route(url);
    if (r->route < 0)
        return refuse(r, BL_API_NOT_FOUND, "no route %.100s; see GET /openapi.yaml", url);
    if (s->cfg.cors_origin[0] && strcmp(method, "OPTIONS") == 0) {
        r->preflight = 1; /* answered 204 with the CORS headers, no token needed */
        return MHD_YES;
    }
    if (!route_takes(r->route, method))
        return refuse(r, BL_API_METHOD_NOT_ALLOWED, "%s takes %s, not %.20s", url,
                      route_methods_text[routes[r->route].methods].name, method);
    int open = routes[r->route].open || (r->route == R_METRICS && s->cfg.metrics_open);
    if (!open && !authorized(s, c))
        return refuse(r, BL_API_UNAUTHORIZED,
                      "this server needs the header Authorization: Bearer <token>");
    return route_is_post(r->route) ? admit_post(s, c, r) : MHD_YES;
}

/* Room for the text of /version or of the gauges (about 1.5 KiB). */
#define GET_TEXT_MAX 4096

/* The gauges of the pool and the budget, for /metrics. */
static void gauges(server *s, char *buf, size_t size)
{
    budget_stats b = budget_get_stats();
    snprintf(
        buf, size,
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
        bl_api_version(), MHD_get_version(), bl_api_jansson_version(), pool_queued(s->pool, -1),
        pool_busy(s->pool), s->cfg.workers, (unsigned long long)b.limit,
        (unsigned long long)b.reserved, (unsigned long long)b.used, (unsigned long long)b.peak,
        b.refused, conns_open_count(&s->conns));
}

enum MHD_Result serve_get(server *s, struct MHD_Connection *c, request *r)
{
    char buf[GET_TEXT_MAX];
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
            return reply_error(c, r, BL_API_NOT_FOUND, NULL, "no page %.80s under /docs", r->path);
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
            return reply_error(c, r, BL_API_UNAVAILABLE, NULL, "out of memory");
        return reply(c, r, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
    }
    default:
        break;
    }
    return reply_error(c, r, BL_API_INTERNAL, NULL, "unrouted GET");
}
