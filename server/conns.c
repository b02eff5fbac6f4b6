/*
 * conns.c — ballastd's connections: slots, and the watchdog that cuts slow
 * clients.
 *
 * libmicrohttpd's --timeout closes a connection only after that long
 * without any byte, so a client trickling one byte a second could hold a
 * connection for ever. Each connection is therefore registered here while
 * it is open, with its phase and when the phase began:
 *
 *   HEADERS  from the connection's start, or the end of its previous
 *            request, until the request's headers are in: cut after
 *            --header-timeout seconds (nginx's client_header_timeout;
 *            an idle keep-alive connection is in this phase too);
 *   BODY     until the body is in: cut --timeout seconds after the
 *            request began;
 *   BUSY     being computed or answered: never cut here (libmicrohttpd's
 *            idle timeout still closes a client that stops reading).
 *
 * The watchdog shuts the socket down; libmicrohttpd then closes it. The
 * registry's lock orders that shutdown() before libmicrohttpd closes and
 * reuses the fd. A connection past --max-connections (libmicrohttpd takes
 * a few more, see daemon.c) is marked over_limit and its request answered
 * 503 at once.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "conns.h"

static double since(const struct timespec *t, const struct timespec *now)
{
    return (double)(now->tv_sec - t->tv_sec) + (double)(now->tv_nsec - t->tv_nsec) / 1e9;
}

int conns_init(conns *cs, unsigned max_open, unsigned header_timeout, unsigned body_timeout,
               metrics *m)
{
    memset(cs, 0, sizeof *cs);
    cs->max_open = max_open;
    cs->header_timeout = header_timeout;
    cs->body_timeout = body_timeout;
    cs->metrics = m;
    return pthread_mutex_init(&cs->lock, NULL) == 0 ? 0 : -1;
}

conn_state *conns_open(conns *cs, int fd)
{
    conn_state *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = PHASE_HEADERS;
    clock_gettime(CLOCK_MONOTONIC, &c->since);
    pthread_mutex_lock(&cs->lock);
    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    cs->open++;
    c->over_limit = cs->open > cs->max_open;
    pthread_mutex_unlock(&cs->lock);
    return c;
}

void conns_close(conns *cs, conn_state *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->open--;
    pthread_mutex_unlock(&cs->lock);
    free(c);
}

void conns_phase(conns *cs, conn_state *c, conn_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->lock);
    /* BODY keeps the time the request began (its headers' arrival), so
     * --timeout bounds the whole request. */
    if (phase != PHASE_BODY || c->phase != PHASE_HEADERS)
        clock_gettime(CLOCK_MONOTONIC, &c->since);
    c->phase = phase;
    pthread_mutex_unlock(&cs->lock);
}

unsigned conns_open_count(conns *cs)
{
    pthread_mutex_lock(&cs->lock);
    unsigned n = cs->open;
    pthread_mutex_unlock(&cs->lock);
    return n;
}

/* One sweep: cuts every connection past its phase's deadline. */
static void sweep(conns *cs)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&cs->lock);
    for (conn_state *c = cs->head; c; c = c->next) {
        if (c->cut || c->phase == PHASE_BUSY)
            continue;
        unsigned limit = c->phase == PHASE_HEADERS ? cs->header_timeout : cs->body_timeout;
        if (since(&c->since, &now) > (double)limit) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
            metrics_slow_client(cs->metrics, c->phase == PHASE_HEADERS);
        }
    }
    pthread_mutex_unlock(&cs->lock);
}

static void *watchdog(void *arg)
{
    conns *cs = arg;
    const struct timespec nap = {0, 100 * 1000 * 1000};
    while (!atomic_load(&cs->stopping)) {
        nanosleep(&nap, NULL);
        sweep(cs);
    }
    return NULL;
}

int conns_watch(conns *cs)
{
    cs->watching = pthread_create(&cs->thread, NULL, watchdog, cs) == 0;
    return cs->watching ? 0 : -1;
}

void conns_destroy(conns *cs)
{
    atomic_store(&cs->stopping, 1);
    if (cs->watching)
        pthread_join(cs->thread, NULL);
    pthread_mutex_destroy(&cs->lock);
}
