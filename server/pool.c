/*
 * pool.c — the compute threads: a bounded FIFO of jobs and --workers
 * threads that run them.
 *
 * libmicrohttpd's threads only read, route and write; a request whose body
 * is in is suspended and handed here, so that /healthz, /readyz and
 * /metrics are answered at once however long a computation takes. The
 * queue is bounded: a full one is answered 503 `overloaded` by the caller,
 * never by a silently growing backlog.
 *
 * Two lanes, each bounded by queue_max: small jobs (a few KiB of request) are taken
 * before large ones, so that a light request does not wait behind a
 * queue of heavy ones; after FAIR_SKIPS small jobs in a row have passed a
 * waiting large one, the large one goes next, so neither lane starves.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "server.h"

#define FAIR_SKIPS 8

typedef struct job {
    pool_fn fn;
    void *arg;
    struct job *next;
} job;

typedef struct {
    job *head, *tail; /* FIFO */
    unsigned n;       /* jobs in it, <= queue_max */
} lane;

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stopping */
    pthread_cond_t idle; /* a worker finished a job */
    lane lanes[2];       /* [0] small jobs, [1] large; queued jobs only */
    unsigned skips;      /* small jobs taken in a row while a large one waited */
    unsigned queued;     /* jobs in both lanes */
    unsigned busy;       /* workers running a job */
    unsigned queue_max;
    unsigned nthreads; /* started threads in threads[] */
    int stopping;
    pthread_t *threads;
};

/* The next job, under the lock; NULL when both lanes are empty. */
static job *take(pool *p)
{
    lane *small = &p->lanes[0], *large = &p->lanes[1];
    lane *from = small->head ? small : large;
    if (small->head && large->head && p->skips >= FAIR_SKIPS)
        from = large;
    if (!from->head)
        return NULL;
    if (from == small && large->head)
        p->skips++;
    else
        p->skips = 0;
    job *j = from->head;
    from->n--;
    from->head = j->next;
    if (!from->head)
        from->tail = NULL;
    return j;
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        job *j;
        while (!(j = take(p)) && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        if (!j)
            break; /* stopping, and nothing left */
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

int pool_submit(pool *p, pool_fn fn, void *arg, int small)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    lane *l = &p->lanes[small ? 0 : 1];
    pthread_mutex_lock(&p->lock);
    if (p->stopping || l->n >= p->queue_max) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return -1;
    }
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
    p->queued++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

unsigned pool_queued(pool *p, int lane)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = lane < 0 ? p->queued : p->lanes[lane ? 1 : 0].n;
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
    while (p->queued || p->busy)
        if (pthread_cond_timedwait(&p->idle, &p->lock, &until) != 0)
            break;
    int stuck = p->queued || p->busy;
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
