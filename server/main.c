/*
 * main.c — ballastd: options, signals and the drain on SIGTERM.
 *
 * Every signal ballastd acts on is blocked in every thread and taken here
 * with sigwait, so no handler runs in an arbitrary thread. SIGHUP, SIGUSR1
 * and SIGUSR2 are noted and ignored (a daemon must not die of a stray
 * reload signal; the log goes to stderr, so there is nothing to reopen).
 * On SIGTERM or SIGINT the server drains (/readyz 503, no new
 * connections), waits up to --drain-timeout seconds for requests in
 * flight, and exits 0 — at the deadline even if a computation is still
 * running, which then dies with the process.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

int healthcheck(const server_config *cfg);

static double elapsed(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void drain(server *s, const server_config *cfg)
{
    server_drain(s);
    struct timespec start, nap = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned busy;
    while ((busy = server_inflight(s)) != 0 && elapsed(&start) < (double)cfg->drain_timeout)
        nanosleep(&nap, NULL);
    if (busy)
        slog(LOG_WARN, "%u requests still running after %us; stopping", busy, cfg->drain_timeout);
    double left = (double)cfg->drain_timeout - elapsed(&start);
    if (server_stop(s, left > 0 ? left : 0) != 0) {
        slog(LOG_WARN, "a computation is still running; exiting without it");
        fflush(stderr);
        _exit(0);
    }
}

int main(int argc, char **argv)
{
    server_config cfg;
    int rc = config_load(&cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (cfg.healthcheck)
        return healthcheck(&cfg);
    budget_init(cfg.memory_budget);
    log_use_json(cfg.log_json);

    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *s = server_start(&cfg);
    if (!s)
        return 1;
    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        slog(LOG_INFO, "%s ignored", strsignal(sig));
    }
    slog(LOG_INFO, "%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    drain(s, &cfg);
    slog(LOG_INFO, "stopped");
    return 0;
}
