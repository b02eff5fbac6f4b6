/*
 * config.c — ballastd's options, from flags and BALLAST_* variables.
 * Every option is one row of the table below; a flag overrides its
 * environment variable, which overrides the default.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

typedef enum { OPT_UINT, OPT_SIZE, OPT_STRING, OPT_LOGFMT, OPT_FLAG } opt_kind;

typedef struct {
    const char *name; /* flag without "--"; env BALLAST_<NAME> with - → _ */
    opt_kind kind;
    size_t offset;
    uint64_t min, max;
    const char *help;
} option;

#define OFF(m) offsetof(server_config, m)
static const option options[] = {
    {"port", OPT_UINT, OFF(port), 0, 65535, "TCP port to listen on (0: any free port)"},
    {"bind", OPT_STRING, OFF(bind), 0, 0, "address to bind, IPv4 or IPv6"},
    {"threads", OPT_UINT, OFF(threads), 1, 1024,
     "I/O threads that read, route and write (default: number of cores)"},
    {"workers", OPT_UINT, OFF(workers), 1, 1024, "compute threads (default: number of cores)"},
    {"queue", OPT_UINT, OFF(queue), 1, 1000000,
     "requests that may wait for a compute thread; more are answered 503 overloaded"},
    {"queue-wait", OPT_UINT, OFF(queue_wait), 0, 3600,
     "seconds a request may wait for memory before 503 overloaded"},
    {"memory-budget", OPT_SIZE, OFF(memory_budget), 16u << 20, UINT64_MAX / 2,
     "bytes that requests may hold at once (default: half the cgroup limit, else min(RAM/4, 1G))"},
    {"max-output", OPT_SIZE, OFF(limits.max_output), 1024, SIZE_MAX / 16,
     "largest response body in bytes"},
    {"max-body", OPT_SIZE, OFF(max_body), 1, UINT64_MAX / 2,
     "largest request body in bytes (K, M, G suffixes)"},
    {"max-items", OPT_SIZE, OFF(limits.max_items), 1, SIZE_MAX / 16,
     "most items in /sample, classes or labels in /weights"},
    {"max-samples", OPT_SIZE, OFF(limits.max_samples), 1, SIZE_MAX / 16,
     "most indices one /sample request may draw"},
    {"max-elements", OPT_SIZE, OFF(limits.max_elements), 1, SIZE_MAX / 16,
     "most input elements in one /loss request"},
    {"timeout", OPT_UINT, OFF(timeout), 1, 86400,
     "seconds a request may take to arrive in full; also the idle limit of a client that stops reading"},
    {"header-timeout", OPT_UINT, OFF(header_timeout), 0, 86400,
     "seconds a request's headers may take to arrive, idle keep-alive time included (0, the default: min(10, --timeout))"},
    {"max-connections", OPT_UINT, OFF(max_connections), 1, 1000000,
     "most simultaneous connections; more are answered 503"},
    {"max-connections-per-ip", OPT_UINT, OFF(max_per_ip), 1, 1000000,
     "most simultaneous connections from one address"},
    {"drain-timeout", OPT_UINT, OFF(drain_timeout), 0, 3600,
     "seconds SIGTERM waits for requests in flight"},
    {"log-format", OPT_LOGFMT, 0, 0, 0, "access log to stderr: text, json or none"},
    {"auth-token", OPT_STRING, OFF(auth_token), 0, 0, "require Authorization: Bearer <token>"},
    {"cors-origin", OPT_STRING, OFF(cors_origin), 0, 0,
     "let browser pages from this origin (or *) call the API; OPTIONS preflights are answered"},
    {"metrics-open", OPT_FLAG, OFF(metrics_open), 0, 0,
     "serve /metrics without the bearer token (for a scraper inside the cluster)"},
    {"healthcheck", OPT_FLAG, OFF(healthcheck), 0, 0,
     "ask the server at --bind:--port for /healthz; exit 0 if healthy"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ballastd [options]\n\n"
            "ballast: class weights, weighted sampling and PyTorch-exact losses over HTTP/JSON.\n\n"
            "options (each also an environment variable BALLAST_<NAME>, e.g. BALLAST_MAX_BODY):\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        fprintf(f, "  --%-16s %s\n", options[i].name, options[i].help);
    fprintf(f, "  --%-16s %s\n  --%-16s %s\n", "help", "this text", "version", "print the version");
}

/* "64M" → 67108864. Returns 0 on success. */
static int parse_number(const char *s, int sized, uint64_t *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mult = 1;
    if (sized && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mult = 1ull << 10;
            break;
        case 'M':
            mult = 1ull << 20;
            break;
        case 'G':
            mult = 1ull << 30;
            break;
        default:
            return -1;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (*end || (v && mult > UINT64_MAX / v))
        return -1;
    *out = v * mult;
    return 0;
}

static int set_option(server_config *cfg, const option *o, const char *value, const char *from)
{
    char *p = (char *)cfg + o->offset;
    uint64_t v;
    switch (o->kind) {
    case OPT_UINT:
    case OPT_SIZE:
        if (parse_number(value, o->kind == OPT_SIZE, &v) || v < o->min || v > o->max) {
            slog(LOG_ERROR, "%s: --%s must be %s in [%llu, %llu], not \"%s\"", from, o->name,
                 o->kind == OPT_SIZE ? "a size" : "an integer", (unsigned long long)o->min,
                 (unsigned long long)o->max, value);
            return -1;
        }
        if (o->kind == OPT_UINT)
            *(unsigned *)p = (unsigned)v;
        else if (o->offset == OFF(max_body) || o->offset == OFF(memory_budget))
            *(uint64_t *)p = v;
        else
            *(size_t *)p = (size_t)v;
        return 0;
    case OPT_STRING:
        if (strlen(value) >= (o->offset == OFF(bind)          ? sizeof cfg->bind
                              : o->offset == OFF(cors_origin) ? sizeof cfg->cors_origin
                                                              : sizeof cfg->auth_token)) {
            slog(LOG_ERROR, "%s: --%s is too long", from, o->name);
            return -1;
        }
        strcpy(p, value);
        return 0;
    case OPT_LOGFMT:
        if (strcmp(value, "text") && strcmp(value, "json") && strcmp(value, "none")) {
            slog(LOG_ERROR, "%s: --log-format must be text, json or none, not \"%s\"", from, value);
            return -1;
        }
        cfg->log_json = strcmp(value, "json") == 0;
        cfg->log_off = strcmp(value, "none") == 0;
        return 0;
    case OPT_FLAG:
        if (strcmp(value, "1") && strcmp(value, "true") && strcmp(value, "0") &&
            strcmp(value, "false")) {
            slog(LOG_ERROR, "%s: %s takes no value (or 1/0 in the environment)", from, o->name);
            return -1;
        }
        *(int *)p = value[0] == '1' || value[0] == 't';
        return 0;
    }
    return -1;
}

/* Variables of ballast's clients and test suites, not options: a
 * BALLAST_* variable that is neither is an error, so that a misspelt
 * option (BALLAST_MAX_BODDY) is never silently ignored. */
static const char *const not_options[] = {
    "BALLAST_URL",
    "BALLAST_TOKEN",
    "BALLAST_AUTH_URL",
    "BALLAST_CONTRACT_LOG",
    "BALLAST_CONTRACT_REEXEC",
    "BALLAST_EXAMPLES_REEXEC",
    "BALLAST_QUICK",
    "BALLAST_FIXTURES",
    "BALLAST_SANITIZE",
    "BALLAST_SANITIZE_FLAGS",
    "BALLAST_API_CASES",
    "BALLAST_FUZZ_REGRESSIONS",
    "BALLAST_TEST_PIDS",
    NULL,
};

static void env_name(const char *option, char *env, size_t size)
{
    size_t n = (size_t)snprintf(env, size, "BALLAST_");
    for (const char *s = option; *s && n + 1 < size; s++)
        env[n++] = *s == '-' ? '_' : (char)toupper((unsigned char)*s);
    env[n] = '\0';
}

/* The longest names compared for "did you mean" (NUL included), and the
 * room for an option's BALLAST_* variable name. */
#define NAME_CMP_MAX 96
#define ENV_NAME_MAX 64

/* Levenshtein distance of a and b (both short), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[NAME_CMP_MAX];
    if (la >= NAME_CMP_MAX || lb >= NAME_CMP_MAX)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Refuses a BALLAST_* variable that names no option, naming the nearest. */
static int check_environment(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "BALLAST_", strlen("BALLAST_")) != 0)
            continue;
        char name[NAME_CMP_MAX];
        size_t len = strcspn(*e, "=");
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, *e, len);
        name[len] = '\0';
        int known = 0;
        for (const char *const *n = not_options; *n && !known; n++)
            known = strcmp(*n, name) == 0;
        char env[ENV_NAME_MAX], best[ENV_NAME_MAX] = "";
        size_t best_d = (size_t)-1;
        for (size_t i = 0; i < NOPTIONS && !known; i++) {
            env_name(options[i].name, env, sizeof env);
            size_t d = distance(name, env);
            known = d == 0;
            if (d < best_d) {
                best_d = d;
                snprintf(best, sizeof best, "%s", env);
            }
        }
        if (!known) {
            slog(LOG_ERROR, "unknown environment variable %s; did you mean %s? (see --help)", name,
                 best);
            return -1;
        }
    }
    return 0;
}

/* --log-format json, wherever it is given, makes even the errors about the
 * other options JSON lines: looked for before anything is parsed. */
static void prescan_log_format(int argc, char **argv)
{
    const char *v = getenv("BALLAST_LOG_FORMAT");
    int json = v && strcmp(v, "json") == 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--log-format=json") == 0)
            json = 1;
        else if (strncmp(argv[a], "--log-format", strlen("--log-format")) == 0)
            json = (argv[a][strlen("--log-format")] == '\0' && a + 1 < argc &&
                    strcmp(argv[a + 1], "json") == 0);
    }
    log_use_json(json);
}

int config_load(server_config *cfg, int argc, char **argv)
{
    prescan_log_format(argc, argv);
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 8080;
    strcpy(cfg->bind, "127.0.0.1");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores > 0 ? (unsigned)cores : 1;
    cfg->workers = cfg->threads;
    cfg->queue = 64;
    cfg->queue_wait = 5;
    cfg->header_timeout = 0;
    cfg->max_per_ip = 256;
    cfg->memory_budget = budget_default(&cfg->cgroup_limit);
    cfg->max_body = 64ull << 20;
    cfg->limits = bl_api_limits_default();
    cfg->timeout = 30;
    cfg->max_connections = 1024;
    cfg->drain_timeout = 30;

    for (size_t i = 0; i < NOPTIONS; i++) {
        char env[ENV_NAME_MAX];
        env_name(options[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && *v && set_option(cfg, &options[i], v, env))
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("ballastd %s\n", bl_api_version());
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            slog(LOG_ERROR, "unexpected argument \"%s\" (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const option *o = NULL;
        for (size_t i = 0; i < NOPTIONS; i++)
            if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
                o = &options[i];
        if (!o) {
            slog(LOG_ERROR, "unknown option \"%s\" (see --help)", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (o->kind == OPT_FLAG) {
            if (value) {
                slog(LOG_ERROR, "--%s takes no value", o->name);
                return -1;
            }
            value = "1";
        } else if (!value) {
            if (a + 1 >= argc) {
                slog(LOG_ERROR, "--%s needs a value", o->name);
                return -1;
            }
            value = argv[++a];
        }
        if (set_option(cfg, o, value, "command line"))
            return -1;
    }
    if (cfg->header_timeout == 0)
        cfg->header_timeout = cfg->timeout < 10 ? cfg->timeout : 10;
    if (!cfg->healthcheck && check_environment() != 0)
        return -1;
    return 0;
}

int config_address(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    /* A name ("localhost"): its first address, IPv4 before IPv6 as the
     * resolver orders them. */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    int rc = -1;
    for (struct addrinfo *a = res; a && rc != 0; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        memcpy(ss, a->ai_addr, a->ai_addrlen);
        *len = (socklen_t)a->ai_addrlen;
        if (a->ai_family == AF_INET)
            v4->sin_port = htons((uint16_t)port);
        else
            v6->sin6_port = htons((uint16_t)port);
        rc = 0;
    }
    freeaddrinfo(res);
    return rc;
}
