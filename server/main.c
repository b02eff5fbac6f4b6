/*
 * main.c — ballastd: options, signals and the drain on SIGTERM.
 *
 * SIGTERM and SIGINT are blocked in every thread and taken here with
 * sigwait, so no handler runs in an arbitrary thread. On either signal the
 * server drains (/readyz 503, no new connections), waits up to
 * --drain-timeout seconds for requests in flight, stops and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

int healthcheck(const server_config *cfg);

int main(int argc, char **argv)
{
    server_config cfg;
    int rc = config_load(&cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (cfg.healthcheck)
        return healthcheck(&cfg);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    server *s = server_start(&cfg);
    if (!s)
        return 1;
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "ballastd: %s: draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_drain(s);
    struct timespec start, now, nap = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        unsigned busy = server_inflight(s);
        if (busy == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)cfg.drain_timeout) {
            fprintf(stderr, "ballastd: %u requests still running after %us; stopping\n", busy,
                    cfg.drain_timeout);
            break;
        }
        nanosleep(&nap, NULL);
    }
    server_stop(s);
    fprintf(stderr, "ballastd: stopped\n");
    return 0;
}
