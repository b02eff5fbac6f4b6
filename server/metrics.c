/*
 * metrics.c — counters for GET /metrics, in Prometheus text format 0.0.4.
 *
 * Fixed tables of atomics, indexed by route and by a small set of statuses,
 * so recording a request takes no lock and no allocation. Unknown paths
 * count under the route label "other".
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

/* The statuses counted one by one under their own "code" label: every
 * status of the error-code table (api/codes.c, 200 included) and these,
 * which libmicrohttpd answers alone (malformed request line or headers,
 * URI too long, headers too large, unknown HTTP version); any other status
 * counts as "other". */
static const unsigned mhd_statuses[] = {400, 413, 414, 431, 505};
#define MAX_STATUSES (BL_API_CODE_COUNT + sizeof mhd_statuses / sizeof mhd_statuses[0])
/* Latency bucket upper bounds, seconds. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
/* The first buffer of the text, doubled as it fills. */
#define RENDER_FIRST 8192
/* Room for /proc/self/stat's one line. */
#define PROC_LINE_MAX 1024

struct metrics {
    unsigned statuses[MAX_STATUSES]; /* ascending, each once */
    size_t nstatus, nslots;          /* slots: nstatus + 1, the last for any other status */
    size_t nroutes;
    const char *const *names;
    double start_time;
    atomic_ullong *requests; /* [route][status slot] */
    atomic_ullong *latency;  /* [route][bucket]; bucket NBUCKETS: above the last bound */
    atomic_ullong *latency_sum_us;
    atomic_ullong *bytes_in, *bytes_out; /* [route] */
    atomic_llong inflight;
    atomic_ullong slow_clients, slow_headers;
    atomic_ullong events[METRIC_EVENTS];
};

static const struct {
    const char *name, *help;
} event_info[METRIC_EVENTS] = {
    [METRIC_OVERLOADED] = {"ballast_overloaded_total",
                           "Requests answered 503 overloaded (queue full, or memory budget busy)."},
    [METRIC_SLOTS_FULL] = {"ballast_connections_refused_total",
                           "Connections answered 503 because every connection slot was taken."},
    [METRIC_MHD_ANSWERED] =
        {"ballast_protocol_errors_total",
         "Requests that libmicrohttpd refused itself before ballastd saw them "
         "(malformed request line or headers, headers too large: 400, 413, 414, "
         "431, 505)."},
};

/* Adds status to the ascending list of m's statuses, once. */
static void add_status(metrics *m, unsigned status)
{
    size_t i = 0;
    while (i < m->nstatus && m->statuses[i] < status)
        i++;
    if (i < m->nstatus && m->statuses[i] == status)
        return;
    memmove(m->statuses + i + 1, m->statuses + i, (m->nstatus - i) * sizeof m->statuses[0]);
    m->statuses[i] = status;
    m->nstatus++;
}

metrics *metrics_new(const char *const *route_names, size_t nroutes, double start_time)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    for (int code = 0; code < BL_API_CODE_COUNT; code++)
        add_status(m, bl_api_code_status((bl_api_code)code));
    for (size_t i = 0; i < sizeof mhd_statuses / sizeof mhd_statuses[0]; i++)
        add_status(m, mhd_statuses[i]);
    m->nslots = m->nstatus + 1;
    m->nroutes = nroutes + 1;
    m->names = route_names;
    m->start_time = start_time;
    m->requests = calloc(m->nroutes * m->nslots, sizeof *m->requests);
    m->latency = calloc(m->nroutes * (NBUCKETS + 1), sizeof *m->latency);
    m->latency_sum_us = calloc(m->nroutes, sizeof *m->latency_sum_us);
    m->bytes_in = calloc(m->nroutes, sizeof *m->bytes_in);
    m->bytes_out = calloc(m->nroutes, sizeof *m->bytes_out);
    if (!m->requests || !m->latency || !m->latency_sum_us || !m->bytes_in || !m->bytes_out) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    free(m->requests);
    free(m->latency);
    free(m->latency_sum_us);
    free(m->bytes_in);
    free(m->bytes_out);
    free(m);
}

void metrics_inflight(metrics *m, int delta) { atomic_fetch_add(&m->inflight, delta); }

void metrics_slow_client(metrics *m, int in_headers)
{
    atomic_fetch_add(in_headers ? &m->slow_headers : &m->slow_clients, 1);
}

void metrics_event(metrics *m, metric_event e) { atomic_fetch_add(&m->events[e], 1); }

void metrics_record(metrics *m, int route, unsigned status, double seconds, uint64_t in,
                    uint64_t out)
{
    size_t r = route >= 0 && (size_t)route < m->nroutes - 1 ? (size_t)route : m->nroutes - 1;
    size_t s = 0;
    while (s < m->nstatus && m->statuses[s] != status)
        s++;
    atomic_fetch_add(&m->requests[r * m->nslots + s], 1);
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add(&m->latency[r * (NBUCKETS + 1) + b], 1); /* b == NBUCKETS: overflow */
    atomic_fetch_add(&m->latency_sum_us[r], (unsigned long long)(seconds * 1e6));
    atomic_fetch_add(&m->bytes_in[r], in);
    atomic_fetch_add(&m->bytes_out[r], out);
}

static const char *route_name(const metrics *m, size_t r)
{
    return r < m->nroutes - 1 ? m->names[r] : "other";
}

/* Appends printf output to a growing buffer; returns -1 without memory. */
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return 0;
        }
        char *b = realloc(*buf, *cap * 2 + (size_t)n);
        if (!b)
            return -1;
        *buf = b;
        *cap = *cap * 2 + (size_t)n;
    }
}

/* Body bytes in and out, by route. */
static int bytes_block(metrics *m, char **b, size_t *len, size_t *cap)
{
    static const char *const what[2][2] = {
        {"ballast_request_bytes_total", "Request body bytes received, by route."},
        {"ballast_response_bytes_total", "Response body bytes sent, by route."}};
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        bad |= put(b, len, cap, "# HELP %s %s\n# TYPE %s counter\n", what[k][0], what[k][1],
                   what[k][0]);
        for (size_t r = 0; r < m->nroutes; r++) {
            unsigned long long v = atomic_load(k ? &m->bytes_out[r] : &m->bytes_in[r]);
            if (v)
                bad |= put(b, len, cap, "%s{route=\"%s\"} %llu\n", what[k][0], route_name(m, r), v);
        }
    }
    return bad;
}

/* The standard process metrics of Prometheus' client libraries, from
 * /proc/self: CPU seconds, resident memory, open file descriptors. */
static int process_block(char **b, size_t *len, size_t *cap)
{
    double cpu = 0, rss = 0;
    unsigned long fds = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        unsigned long utime = 0, stime = 0;
        long pages = 0;
        /* Fields 14, 15 (utime, stime in ticks) and 24 (rss in pages);
         * the command name (field 2) is skipped up to its last ')'. */
        char line[PROC_LINE_MAX];
        if (fgets(line, sizeof line, f)) {
            char *p = strrchr(line, ')');
            if (p && sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
                            "%*d %*d %*d %*d %*u %*u %ld",
                            &utime, &stime, &pages) == 3) {
                long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
                cpu = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
                rss = (double)pages * (double)(page > 0 ? page : 4096);
            }
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            fds += e->d_name[0] != '.';
        fds = fds ? fds - 1 : 0; /* the directory's own descriptor */
        closedir(d);
    }
    return put(b, len, cap,
               "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
               "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %.0f\n"
               "# HELP process_open_fds Number of open file descriptors.\n"
               "# TYPE process_open_fds gauge\nprocess_open_fds %lu\n",
               cpu, rss, fds);
}

/* Requests answered, by route and status. */
static int requests_block(metrics *m, char **b, size_t *len, size_t *cap)
{
    int bad =
        put(b, len, cap,
            "# HELP ballast_requests_total HTTP requests answered, by route and status code.\n"
            "# TYPE ballast_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes; r++)
        for (size_t s = 0; s < m->nslots; s++) {
            unsigned long long v = atomic_load(&m->requests[r * m->nslots + s]);
            if (!v)
                continue;
            if (s < m->nstatus)
                bad |= put(b, len, cap, "ballast_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                           route_name(m, r), m->statuses[s], v);
            else
                bad |=
                    put(b, len, cap, "ballast_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                        route_name(m, r), v);
        }
    return bad;
}

/* The latency histogram, by route. */
static int latency_block(metrics *m, char **b, size_t *len, size_t *cap)
{
    int bad = put(
        b, len, cap,
        "# HELP ballast_request_duration_seconds Time from the request's first byte to its answer.\n"
        "# TYPE ballast_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        /* Every figure of a route's histogram comes from one read of its
         * buckets, so +Inf and _count always equal the last cumulative
         * bucket, whatever requests are recorded meanwhile. */
        unsigned long long cum = 0, counts[NBUCKETS + 1];
        for (size_t k = 0; k <= NBUCKETS; k++)
            counts[k] = atomic_load(&m->latency[r * (NBUCKETS + 1) + k]);
        unsigned long long count = 0;
        for (size_t k = 0; k <= NBUCKETS; k++)
            count += counts[k];
        if (!count)
            continue;
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += counts[k];
            bad |= put(b, len, cap,
                       "ballast_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                       route_name(m, r), buckets[k], cum);
        }
        bad |= put(b, len, cap,
                   "ballast_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                   "ballast_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                   "ballast_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   route_name(m, r), count, route_name(m, r),
                   (double)atomic_load(&m->latency_sum_us[r]) / 1e6, route_name(m, r), count);
    }
    return bad;
}

char *metrics_render(metrics *m, const char *extra, size_t *out_len)
{
    size_t len = 0, cap = RENDER_FIRST;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    b[0] = '\0';
    int bad = 0;
    bad |= requests_block(m, &b, &len, &cap);
    bad |= latency_block(m, &b, &len, &cap);
    bad |= put(
        &b, &len, &cap,
        "# HELP ballast_requests_in_flight Requests being handled now.\n"
        "# TYPE ballast_requests_in_flight gauge\n"
        "ballast_requests_in_flight %lld\n"
        "# HELP ballast_slow_clients_total Connections cut because a request was still arriving after --timeout seconds.\n"
        "# TYPE ballast_slow_clients_total counter\n"
        "ballast_slow_clients_total %llu\n"
        "# HELP ballast_header_timeouts_total Connections cut because no complete request headers came within --header-timeout seconds (idle keep-alive connections included).\n"
        "# TYPE ballast_header_timeouts_total counter\n"
        "ballast_header_timeouts_total %llu\n"
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %.3f\n",
        (long long)atomic_load(&m->inflight), (unsigned long long)atomic_load(&m->slow_clients),
        (unsigned long long)atomic_load(&m->slow_headers), m->start_time);
    bad |= bytes_block(m, &b, &len, &cap);
    bad |= process_block(&b, &len, &cap);
    for (size_t e = 0; e < METRIC_EVENTS; e++)
        bad |= put(&b, &len, &cap, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", event_info[e].name,
                   event_info[e].help, event_info[e].name, event_info[e].name,
                   (unsigned long long)atomic_load(&m->events[e]));
    if (extra)
        bad |= put(&b, &len, &cap, "%s", extra);
    if (bad) {
        free(b);
        return NULL;
    }
    *out_len = len;
    return b;
}
