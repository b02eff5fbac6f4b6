/*
 * pool.c — the compute threads: a bounded FIFO of jobs and --workers
 * threads that run them.
 *
 * libmicrohttpd's threads only read, route and write; a request whose body
 * is in is suspended and handed here, so that /healthz, /readyz and
 * /metrics are answered at once however long a computation takes. The
 * queue is bounded: a full one is answered 503 `overloaded` by the caller,
 * never by a silently growing backlog.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "server.h"

typedef struct job {
    pool_fn fn;
    void *arg;
    struct job *next;
} job;

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a job was queued, or stopping */
    pthread_cond_t idle;  /* a worker finished a job */
    job *head, *tail;     /* FIFO, queued jobs only */
    unsigned queued;      /* jobs in the FIFO, <= queue_max */
    unsigned busy;        /* workers running a job */
    unsigned queue_max;
    unsigned nthreads;    /* started threads in threads[] */
    int stopping;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        if (!p->head)
            break; /* stopping, and nothing left */
        job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&p->lock);
        p->busy--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pool *pool_new(unsigned workers, unsigned queue_max)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc(workers, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    p->queue_max = queue_max;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (; p->nthreads < workers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break;
    if (p->nthreads == 0) {
        pool_stop(p, 0);
        return NULL;
    }
    return p;
}

int pool_submit(pool *p, pool_fn fn, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->queued >= p->queue_max) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return -1;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

unsigned pool_queued(pool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned pool_busy(pool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->busy;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int pool_stop(pool *p, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)seconds + 1;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    while (p->head || p->busy)
        if (pthread_cond_timedwait(&p->idle, &p->lock, &until) != 0)
            break;
    int stuck = p->head || p->busy;
    pthread_mutex_unlock(&p->lock);
    if (stuck)
        return -1;
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
    return 0;
}
