/*
 * conns.h — the connection registry and its watchdog (conns.c); private
 * to the server's HTTP front.
 */
#ifndef BALLAST_CONNS_H
#define BALLAST_CONNS_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "server.h"

typedef enum {
    PHASE_HEADERS, /* waiting for a request's headers (or idle between requests) */
    PHASE_BODY,    /* the body is arriving */
    PHASE_BUSY,    /* computed or answered: not a slow client's */
} conn_phase;

typedef struct conn_state {
    int fd;
    conn_phase phase;
    struct timespec since; /* when the phase's clock started */
    int cut;               /* shut down by the watchdog */
    int over_limit;        /* opened past --max-connections: answered 503 */
    int bad_path;          /* the current request's path decoded to a NUL */
    struct conn_state *prev, *next;
} conn_state;

typedef struct {
    pthread_mutex_t lock;
    conn_state *head; /* open connections, under lock */
    unsigned open;    /* their number */
    unsigned max_open;
    unsigned header_timeout, body_timeout;
    metrics *metrics;
    pthread_t thread;
    int watching;
    atomic_int stopping;
} conns;

int conns_init(conns *cs, unsigned max_open, unsigned header_timeout, unsigned body_timeout,
               metrics *m);
/* Registers a new connection; NULL without memory (it is then untracked). */
conn_state *conns_open(conns *cs, int fd);
void conns_close(conns *cs, conn_state *c);
void conns_phase(conns *cs, conn_state *c, conn_phase phase);
unsigned conns_open_count(conns *cs);
/* Starts the watchdog thread; -1 if it could not. */
int conns_watch(conns *cs);
void conns_destroy(conns *cs);

#endif
