/*
 * intake.c — a POST's body: its admission before any of it is read (the
 * server draining, the compute queue, Content-Type, --max-body and the
 * memory budget, a multipart boundary), then its bytes, accumulated in a
 * buffer whose every byte is reserved from the budget first (budget.c).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

/* A chunked body's first buffer, doubled as it fills. */
#define CHUNKED_FIRST 4096

/* Admission of a POST before its body is read: the queue, the budget. */
enum MHD_Result admit_post(server *s, struct MHD_Connection *c, request *r)
{
    if (atomic_load(&s->draining))
        return refuse(r, BL_API_UNAVAILABLE,
                      "the server is draining for shutdown; retry on another replica");
    const char *type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    /* The lane it will take (pool.c); a chunked body counts as large. */
    int large = !(r->expect && r->expect <= SMALL_BODY && !is_multipart(type));
    if (pool_queued(s->pool, large) >= s->cfg.queue)
        return refuse(r, BL_API_OVERLOADED,
                      "every compute thread is busy and %u requests wait; retry later",
                      s->cfg.queue);
    if (!acceptable_type(type)) {
        if (binary_type(type))
            return refuse(r, BL_API_UNSUPPORTED_MEDIA_TYPE,
                          "Content-Type %.80s is not accepted: send arrays as .npy parts of a "
                          "multipart/form-data body (curl -F logits=@x.npy; README \"Bulk "
                          "data\"), the other fields as JSON",
                          type);
        return refuse(r, BL_API_UNSUPPORTED_MEDIA_TYPE,
                      "Content-Type %.80s is not accepted; send application/json", type);
    }
    if (r->expect > s->cfg.max_body)
        return refuse(r, BL_API_PAYLOAD_TOO_LARGE,
                      "the body (%llu bytes) is larger than the server's max-body limit of %llu "
                      "bytes",
                      (unsigned long long)r->expect, (unsigned long long)s->cfg.max_body);
    if (r->expect) {
        budget_status st = budget_reserve((size_t)r->expect);
        if (st == BUDGET_NEVER)
            return refuse(r, BL_API_PAYLOAD_TOO_LARGE,
                          "the body (%llu bytes) is larger than the server's memory budget of "
                          "%llu bytes",
                          (unsigned long long)r->expect, (unsigned long long)s->cfg.memory_budget);
        if (st == BUDGET_BUSY)
            return refuse(r, BL_API_OVERLOADED,
                          "the server's memory budget is taken by other requests; retry later");
        r->body_reserved = (size_t)r->expect;
    }
    if (is_multipart(type)) {
        r->multipart = 1;
        if (multipart_boundary(type, r->boundary, sizeof r->boundary) != 0)
            return refuse(r, BL_API_INVALID_ARGUMENT,
                          "a multipart/form-data body needs a boundary parameter (1 to 70 "
                          "characters)");
    }
    r->format = wanted_format(c);
    atomic_fetch_add(&s->inflight, 1);
    r->counted = 1;
    return MHD_YES;
}

void free_body(request *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    budget_release(r->body_reserved);
    r->body_reserved = 0;
}

/* Stops keeping the body: the rest is counted and dropped. */
static void discard(request *r, body_state why)
{
    free_body(r);
    r->body_state = why;
}

/* Appends a piece of the body. Invariant: len <= cap <= body_reserved
 * (when the budget is on), and len <= --max-body. With Content-Length the
 * buffer is that size (reserved in admit_post) from the first piece on;
 * a chunked body doubles from CHUNKED_FIRST, each step reserved first. */
void accumulate(server *s, request *r, const char *data, size_t n)
{
    r->bytes_in += n;
    if (r->body_state != BODY_OK)
        return;
    assert(r->len <= r->cap);
    if (n > s->cfg.max_body - r->len) {
        discard(r, BODY_TOO_LARGE);
        return;
    }
    size_t need = r->len + n;
    if (need > r->cap) {
        size_t cap = r->expect > need ? (size_t)r->expect : (r->cap ? r->cap : CHUNKED_FIRST);
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > s->cfg.max_body)
            cap = (size_t)s->cfg.max_body; /* >= need: checked above */
        if (cap > r->body_reserved) {
            budget_status st = budget_reserve(cap - r->body_reserved);
            if (st != BUDGET_OK) {
                discard(r, st == BUDGET_NEVER ? BODY_TOO_LARGE : BODY_BUSY);
                return;
            }
            r->body_reserved = cap;
        }
        char *b = realloc(r->body, cap);
        if (!b) {
            discard(r, BODY_BUSY);
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    assert(r->len <= r->cap);
}
