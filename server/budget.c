/*
 * budget.c — ballastd's memory budget: every byte its own code allocates is
 * counted, and admission is decided against one limit.
 *
 * Two numbers, both process-wide:
 *
 *   reserved  what admitted work has claimed: the announced bodies being
 *             read, and each computation's estimate (api's bl_api_estimate)
 *             from the moment a worker starts it until its response is
 *             freed. Admission (budget_reserve) never lets it pass limit.
 *   used      the bytes live right now in allocations of ballastd's own
 *             code: the server, the api layer and libballast (linked with
 *             -Wl,--wrap=malloc,... so that every call lands here) and
 *             jansson (through json_set_alloc_funcs).
 *
 * The hard rule: while a worker computes (a budget_account is bound to its
 * thread), an allocation that would take `used` past the limit fails, and
 * the api layer answers that as it answers any allocation failure (its
 * chaos test fails every allocation in turn). jansson's allocations are
 * counted but never refused: jansson 2.14 does not survive a failure while
 * parsing (akheron/jansson#362), so what it may take is reserved ahead by
 * the estimate instead. Allocations made on libmicrohttpd's threads (body
 * buffers, request records) are counted and never refused; bodies are
 * reserved before they are read.
 *
 * What is not counted, and makes the documented margin (README, "Memory
 * budget"): libmicrohttpd's per-connection pools (32 KiB each), thread
 * stacks, the binary, and glibc's own bookkeeping. Freed memory that glibc
 * keeps for reuse is bounded by the peak of `used` in its few arenas
 * (M_ARENA_MAX), and given back after every computation that held more
 * than TRIM_AFTER (server/compute.c). glibc's own mmap threshold is left
 * alone: pinning it low made every large array a fresh mapping whose pages
 * fault in again on each request (+50% on a bulk /loss).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);

static atomic_size_t g_used;     /* live bytes of counted allocations */
static atomic_size_t g_peak;     /* the largest g_used seen */
static atomic_size_t g_reserved; /* admitted claims, <= g_limit */
static size_t g_limit;           /* 0 until budget_init: nothing refused */
static atomic_ullong g_refused;  /* allocations refused by the hard rule */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_freed = PTHREAD_COND_INITIALIZER;
static _Thread_local budget_account *tl_account;

/* ---- counting ------------------------------------------------------------------- */

static void count_up(size_t n)
{
    size_t now = atomic_fetch_add(&g_used, n) + n;
    size_t peak = atomic_load(&g_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now))
        ;
    if (tl_account) {
        tl_account->used += (ptrdiff_t)n;
        if (tl_account->used > tl_account->peak)
            tl_account->peak = tl_account->used;
    }
}

static void count_down(size_t n)
{
    atomic_fetch_sub(&g_used, n);
    if (tl_account)
        tl_account->used -= (ptrdiff_t)n;
}

/* Whether an allocation of n more bytes may go ahead on this thread. A
 * refusal records whether the request alone could never have had it. */
static int admit(size_t n)
{
    if (!tl_account || !g_limit || tl_account->unlimited)
        return 1;
    if (atomic_load(&g_used) + n <= g_limit)
        return 1;
    atomic_fetch_add(&g_refused, 1);
    if (tl_account->used + (ptrdiff_t)n > (ptrdiff_t)g_limit)
        tl_account->never_fits = 1;
    else
        tl_account->refused = 1;
    return 0;
}

void *__wrap_malloc(size_t n)
{
    if (!admit(n))
        return NULL;
    void *p = __real_malloc(n);
    if (p)
        count_up(malloc_usable_size(p));
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    if (!admit(n * size))
        return NULL;
    void *p = __real_calloc(n, size);
    if (p)
        count_up(malloc_usable_size(p));
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    if (n > old && !admit(n - old))
        return NULL;
    void *q = __real_realloc(p, n);
    if (!q)
        return n ? NULL : q; /* realloc(p, 0) may free p and return NULL */
    size_t now = malloc_usable_size(q);
    if (now >= old)
        count_up(now - old);
    else
        count_down(old - now);
    return q;
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void __wrap_free(void *p)
{
    if (!p)
        return;
    count_down(malloc_usable_size(p));
    __real_free(p);
}

/* jansson's allocations: counted, never refused (see the top). */
static void *json_counted_malloc(size_t n)
{
    void *p = __real_malloc(n);
    if (p)
        count_up(malloc_usable_size(p));
    return p;
}

static void json_counted_free(void *p) { __wrap_free(p); }

/* ---- the limit ------------------------------------------------------------------ */

/* The memory limit of this process's cgroup (v2, then v1), 0 if none. */
static uint64_t cgroup_limit(void)
{
    static const char *const files[] = {"/sys/fs/cgroup/memory.max",
                                        "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        unsigned long long v = 0;
        int ok = fscanf(f, "%llu", &v) == 1;
        fclose(f);
        /* "max", or v1's "no limit" (a page-rounded LLONG_MAX). */
        if (ok && v > 0 && v < (1ull << 50))
            return v;
    }
    return 0;
}

uint64_t budget_default(uint64_t *cgroup)
{
    uint64_t cg = cgroup_limit();
    if (cgroup)
        *cgroup = cg;
    if (cg)
        return cg / 2; /* the other half: the margin, and headroom for the page cache */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    uint64_t d = 1ull << 30;
    if (ram && ram / 4 < d)
        d = ram / 4;
    return d;
}

void budget_init(uint64_t limit)
{
    /* Few arenas: what each keeps free after its peak is bounded by that
     * peak, so fewer arenas keep less. */
    mallopt(M_ARENA_MAX, 4);
    json_set_alloc_funcs(json_counted_malloc, json_counted_free);
    g_limit = (size_t)limit;
}

/* ---- reservations ------------------------------------------------------------------ */

budget_status budget_reserve(size_t n)
{
    if (!g_limit)
        return BUDGET_OK;
    if (n > g_limit)
        return BUDGET_NEVER;
    size_t cur = atomic_load(&g_reserved);
    do {
        if (n > g_limit - cur)
            return BUDGET_BUSY;
    } while (!atomic_compare_exchange_weak(&g_reserved, &cur, cur + n));
    return BUDGET_OK;
}

budget_status budget_reserve_wait(size_t n, double seconds)
{
    budget_status st = budget_reserve(n);
    if (st != BUDGET_BUSY || seconds <= 0)
        return st;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_lock);
    while ((st = budget_reserve(n)) == BUDGET_BUSY)
        if (pthread_cond_timedwait(&g_freed, &g_lock, &until) != 0) {
            st = budget_reserve(n);
            break;
        }
    pthread_mutex_unlock(&g_lock);
    return st;
}

void budget_release(size_t n)
{
    if (!g_limit || !n)
        return;
    atomic_fetch_sub(&g_reserved, n);
    pthread_mutex_lock(&g_lock);
    pthread_cond_broadcast(&g_freed);
    pthread_mutex_unlock(&g_lock);
}

void budget_bind(budget_account *a)
{
    if (a)
        memset(a, 0, sizeof *a);
    tl_account = a;
}

void budget_unbind(void) { tl_account = NULL; }

budget_stats budget_get_stats(void)
{
    budget_stats s = {g_limit, atomic_load(&g_used), atomic_load(&g_peak), atomic_load(&g_reserved),
                      atomic_load(&g_refused)};
    return s;
}

void budget_trim(void) { malloc_trim(0); }
