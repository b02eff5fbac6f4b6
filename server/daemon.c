/*
 * daemon.c — ballastd's lifecycle: the libmicrohttpd daemon and its
 * options (connection limits, per-connection pool, poll), the compute
 * pool, the metrics and the connection watchdog started together, and the
 * drain and stop that SIGTERM runs (main.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front.h"

/* libmicrohttpd accepts this many connections beyond --max-connections,
 * so that those are answered 503 instead of closed unanswered. */
#define SLOT_HEADROOM 64
/* libmicrohttpd's per-connection pool: request line, headers, buffers.
 * 0.9.75 zeroes it for every request, so its size is paid per request:
 * 32 KiB (nginx's largest header buffers are 4 x 8 KiB) costs ~2 us less
 * than 64 KiB on a small /loss. */
#define CONNECTION_POOL (32 * 1024)

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
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_logged, s},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_unescape, s},
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
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, http_handle, s,
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
    s->api.parts_writable = 1; /* the request body is ours, freed after the call */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)time(NULL);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%08x", rnd);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    for (int i = 0; i < R_COUNT; i++)
        s->route_labels[i] = routes[i].metrics;
    s->metrics =
        metrics_new(s->route_labels, R_COUNT, (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
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
         (unsigned long long)cfg->memory_budget,
         cfg->cgroup_limit ? ", half the cgroup limit" : "");
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
