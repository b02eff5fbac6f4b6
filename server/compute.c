/*
 * compute.c — a complete body's way to its answer: split into parts
 * (multipart.c), its work's estimate reserved from the memory budget, the
 * api called with this thread's allocations bound to the budget, and
 * server-side errors (over the budget, overloaded) put in place of the
 * api's answer. A provably tiny request is computed on the I/O thread; any
 * other is handed to the compute pool (pool.c) with its connection
 * suspended, and answered when the worker resumes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

/* After a computation that held this much, freed heap pages go back to
 * the system at once (glibc keeps small freed blocks otherwise). */
#define TRIM_AFTER ((ptrdiff_t)16 << 20)
/* Requests answered on the I/O thread (see tiny()). */
#define TINY_BODY 2048
#define TINY_WORK 1024
#define TINY_MEMORY ((size_t)1 << 20)

/* Puts an error document of the server's own in place of r->res. */
static void set_error(request *r, bl_api_code code, const char *field, const char *msg)
{
    free(r->res.body);
    memset(&r->res, 0, sizeof r->res);
    r->res.code = code;
    r->res.body = bl_api_error_body(bl_api_code_name(code), msg, field, &r->res.len);
    snprintf(r->res.error_code, sizeof r->res.error_code, "%s", bl_api_code_name(code));
    snprintf(r->res.error_field, sizeof r->res.error_field, "%s", field ? field : "");
    snprintf(r->res.content_type, sizeof r->res.content_type, "application/json");
}

/* The api request of a complete body: the document, or its parts. 0 on
 * success; otherwise the error is in r->res. */
static int split_parts(request *r, bl_api_part *parts, size_t *nparts)
{
    *nparts = 0;
    if (!r->multipart)
        return 0;
    multipart_part mp[MAX_PARTS];
    char bad[MP_BAD_SIZE] = "";
    multipart_status st = multipart_parse(r->body ? r->body : "", r->len, r->boundary, mp,
                                          MAX_PARTS, nparts, bad, sizeof bad);
    if (st != MP_OK) {
        char buf[BL_API_MESSAGE_MAX];
        set_error(r, BL_API_INVALID_ARGUMENT, st == MP_DUPLICATE ? bad : NULL,
                  multipart_message(st, bad, MAX_PARTS, buf, sizeof buf));
        return -1;
    }
    for (size_t i = 0; i < *nparts; i++) {
        strcpy(r->part_names[i], mp[i].name);
        parts[i].name = r->part_names[i];
        parts[i].data = mp[i].data;
        parts[i].len = mp[i].len;
    }
    return 0;
}

static void fail(request *r, bl_api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(request *r, bl_api_code code, const char *fmt, ...)
{
    char msg[BL_API_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(r, code, NULL, msg);
}

/* Computes the answer into r->res: reserves the work's estimate (waiting
 * up to `wait` seconds for it), then calls the api with this thread's
 * allocations bound to the budget. Frees the body. */
static void compute_now(request *r, double wait)
{
    server *s = r->s;
    bl_api_part parts[MAX_PARTS];
    size_t nparts = 0;
    if (split_parts(r, parts, &nparts) == 0) {
        bl_api_request req = {r->multipart ? NULL : (r->body ? r->body : ""),
                              r->multipart ? 0 : r->len, parts, nparts, r->format};
        const char *endpoint = bl_api_endpoint_name(routes[r->route].endpoint);
        size_t need = r->need ? r->need : bl_api_estimate(endpoint, &req, NULL);
        budget_status st = budget_reserve_wait(need, wait);
        if (st == BUDGET_NEVER)
            fail(r, BL_API_LIMIT_EXCEEDED,
                 "this request needs about %zu bytes of memory, more than the server's "
                 "memory budget of %llu bytes (--memory-budget); send less at once",
                 need, (unsigned long long)s->cfg.memory_budget);
        else if (st == BUDGET_BUSY)
            fail(r, BL_API_OVERLOADED,
                 "the server's memory budget is taken by other requests; retry later");
        else {
            r->work_reserved = need;
            budget_account acct;
            budget_bind(&acct);
            bl_api_handle(&s->api, endpoint, &req, &r->res);
            budget_unbind();
            if (acct.never_fits)
                fail(r, BL_API_LIMIT_EXCEEDED,
                     "this request needs more memory than the server's memory budget of %llu "
                     "bytes (--memory-budget); send less at once",
                     (unsigned long long)s->cfg.memory_budget);
            else if (acct.refused && r->res.code == BL_API_UNAVAILABLE)
                fail(r, BL_API_OVERLOADED,
                     "the server's memory budget is taken by other requests; retry later");
            if (acct.peak > TRIM_AFTER) {
                free_body(r);
                budget_trim();
            }
        }
    }
    free_body(r);
}

/* A compute thread's job: compute, then resume the connection. */
static void compute(void *arg)
{
    request *r = arg;
    compute_now(r, (double)r->s->cfg.queue_wait);
    r->done = 1;
    MHD_resume_connection(r->conn);
}

/* True when the request's work is provably tiny: a small JSON body whose
 * every number is small, so no count in it can ask for much (api.h,
 * bl_api_estimate). Such a request costs less than a hand-over to a
 * compute thread and back (a suspend, two thread wake-ups and a resume),
 * so it is answered on the I/O thread; it cannot hold that thread longer
 * than a few microseconds. */
static int tiny(request *r)
{
    if (r->multipart || r->len > TINY_BODY)
        return 0;
    bl_api_request req = {r->body ? r->body : "", r->len, NULL, 0, r->format};
    size_t work = 0;
    r->need = bl_api_estimate(bl_api_endpoint_name(routes[r->route].endpoint), &req,
                              &work); /* kept for compute_now */
    return work <= TINY_WORK && r->need <= TINY_MEMORY;
}

/* The worker is done: answer with its result. */
enum MHD_Result answer_computed(struct MHD_Connection *c, request *r)
{
    r->suspended = 0;
    if (!r->res.body)
        return reply_error(c, r, BL_API_OVERLOADED, NULL, "out of memory");
    /* Every 503 of a computation counts as overloaded: "overloaded" (the
     * budget) and "unavailable" (out of memory, no randomness) alike. */
    if (bl_api_code_status(r->res.code) == MHD_HTTP_SERVICE_UNAVAILABLE)
        metrics_event(r->s->metrics, METRIC_OVERLOADED);
    enum MHD_Result ret = reply_result(c, r, &r->res);
    r->res.body = NULL;
    return ret;
}

/*
 * The body is in: hand the request to the pool, suspended until done.
 *
 * Not on the first final call, but on the next: libmicrohttpd 0.9.75 keeps
 * a suspended connection's event-loop state as it was (READ, for the first
 * request of a connection), and after the resume it reads the socket
 * before it calls http_handle() again; a client that half-closed after sending
 * (shutdown(SHUT_WR), or the last of pipelined requests) then reads as
 * gone, and the connection is closed unanswered. Returning once without a
 * response moves the state to BLOCK first; the next loop pass (no waiting)
 * calls http_handle() again, and only then is the connection suspended.
 */
enum MHD_Result dispatch(server *s, struct MHD_Connection *c, request *r)
{
    if (r->deferred)
        goto suspend;
    if (r->body_state == BODY_TOO_LARGE)
        return reply_error(c, r, BL_API_PAYLOAD_TOO_LARGE, NULL,
                           "the body is larger than the server's max-body limit of %llu bytes "
                           "or its memory budget of %llu bytes",
                           (unsigned long long)s->cfg.max_body,
                           (unsigned long long)s->cfg.memory_budget);
    if (r->body_state == BODY_BUSY) {
        metrics_event(s->metrics, METRIC_OVERLOADED);
        return reply_error(c, r, BL_API_OVERLOADED, NULL,
                           "the server's memory budget is taken by other requests; retry later");
    }
    if (tiny(r)) {
        compute_now(r, 0);
        return answer_computed(c, r);
    }
    r->deferred = 1;
    return MHD_YES;
suspend:
    r->suspended = 1;
    MHD_suspend_connection(c);
    if (pool_submit(s->pool, compute, r, !r->multipart && r->len <= SMALL_BODY) != 0) {
        r->suspended = 0;
        MHD_resume_connection(c);
        free_body(r);
        metrics_event(s->metrics, METRIC_OVERLOADED);
        return reply_error(c, r, BL_API_OVERLOADED, NULL,
                           "every compute thread is busy and %u requests wait; retry later",
                           s->cfg.queue);
    }
    return MHD_YES;
}
