/*
 * http.c — ballastd's access handler on libmicrohttpd: the calls it makes
 * for each request (its line, its first call, every piece of the body, the
 * final call, completion), who answers at each step, and the access log.
 *
 * I/O threads never compute. libmicrohttpd's threads (--threads, poll)
 * read, route, negotiate and write; GET routes are answered on them at
 * once (routes.c). A POST whose body is in is suspended and handed to the
 * compute pool (compute.c, pool.c); the worker resumes it with the answer.
 * Every byte is budgeted (budget.c): a body's announced length is reserved
 * before it is read (intake.c), a computation's estimate before it starts,
 * and both are held until the request ends. Where the rest lives:
 * routes.c (the route table, the checks before the body, GET answers),
 * framing.c, negotiate.c (Content-Type, Accept), intake.c (the body),
 * compute.c, reply.c (answers), daemon.c (start and stop), conns.c
 * (connection slots and the slow-client watchdog).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front.h"

conn_state *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_state *)ci->socket_context : NULL;
}

/* Records a refusal, answered by answer_refusal(). Returns MHD_YES. */
enum MHD_Result refuse(request *r, bl_api_code code, const char *fmt, ...)
{
    r->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
    va_end(ap);
    return MHD_YES;
}

static enum MHD_Result answer_refusal(struct MHD_Connection *c, request *r)
{
    if (r->err_code == BL_API_OVERLOADED)
        metrics_event(r->s->metrics, METRIC_OVERLOADED);
    return reply_error(c, r, r->err_code, NULL, "%s", r->err_msg);
}

/* True when the request announces a body (which a refusal leaves unread,
 * so it is answered at once and the connection closed after it). */
static int has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strcmp(cl, "0") != 0)
        return 1;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

/*
 * Whether a refused request with a body is answered before its body is
 * read, or after it has been read and dropped. A client that sent
 * "Expect: 100-continue" waits for the answer (and sends nothing more); a
 * body past --max-body or with untrusted framing is not worth reading (the
 * connection closes after the answer). Any other body is read and dropped
 * as it comes — nothing of it is kept — so that a client that writes its
 * whole body before it reads, as most do, gets the answer instead of a
 * reset (nginx's lingering close, bounded here by --timeout).
 */
static int answer_before_body(struct MHD_Connection *c, const request *r)
{
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return 1;
    return r->close || r->err_code == BL_API_PAYLOAD_TOO_LARGE;
}

static request *new_request(server *s, struct MHD_Connection *c)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->conn = c;
    r->route = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    return r;
}

/* Called by libmicrohttpd with a request's line, before its headers: the
 * record made here reaches http_completed() even when libmicrohttpd refuses
 * the request itself and http_handle() never sees it. */
void *http_uri_logged(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)uri;
    return new_request(cls, c);
}

enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    request *r = *con_cls;
    if (!r) { /* http_uri_logged() could not allocate */
        r = new_request(s, c);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->handled) {
        r->handled = 1;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        metrics_inflight(s->metrics, 1);
        set_request_id(s, c, r);
        conns_phase(&s->conns, conn_of(c), PHASE_BODY);
        begin(s, c, r, url, method);
        if (r->err_code && has_body(c) && answer_before_body(c, r)) {
            conns_phase(&s->conns, conn_of(c), PHASE_BUSY);
            return answer_refusal(c, r);
        }
        return MHD_YES;
    }
    if (r->done)
        return answer_computed(c, r);
    if (r->responded) { /* refused early: drop whatever body still comes */
        r->bytes_in += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->err_code || !route_is_post(r->route))
            r->bytes_in += *upload_data_size;
        else
            accumulate(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->suspended)
        return MHD_YES;
    conns_phase(&s->conns, conn_of(c), PHASE_BUSY); /* no longer a slow client's */
    if (r->err_code)
        return answer_refusal(c, r);
    if (r->preflight)
        return reply_static(c, r, MHD_HTTP_NO_CONTENT, "", 0, "text/plain", 0);
    if (!route_is_post(r->route))
        return serve_get(s, c, r);
    return dispatch(s, c, r);
}

/* Log-safe copy: printable ASCII, no quotes or backslashes. */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = (src[i] > 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\') ? src[i] : '?';
    dst[i] = '\0';
}

/* One access-log line per request, to stderr; answers of 400 and above
 * carry their error code and field. */
static void log_request(server *s, request *r, double seconds, enum MHD_RequestTerminationCode toe)
{
    if (s->cfg.log_off)
        return;
    char path[PATH_LOG_MAX], method[METHOD_LOG_MAX], when[LOG_TIME_MAX], code[BL_API_CODE_MAX];
    char field[BL_API_FIELD_MAX], err[BL_API_CODE_MAX + BL_API_FIELD_MAX + 32] = "";
    sanitize(path, sizeof path, r->path);
    sanitize(method, sizeof method, r->method);
    sanitize(code, sizeof code, r->log_code);
    sanitize(field, sizeof field, r->log_field);
    log_time(when, sizeof when);
    const char *outcome = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted";
    if (s->cfg.log_json) {
        if (r->status >= 400 && code[0])
            snprintf(err, sizeof err, ",\"code\":\"%s\"%s%s%s", code,
                     field[0] ? ",\"field\":\"" : "", field, field[0] ? "\"" : "");
        fprintf(stderr,
                "{\"time\":\"%s\",\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                "\"status\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                "\"outcome\":\"%s\"%s}\n",
                when, r->request_id, method, path, r->status, (unsigned long long)r->bytes_in,
                (unsigned long long)r->bytes_out, seconds * 1e3, outcome, err);
    } else {
        if (r->status >= 400 && code[0])
            snprintf(err, sizeof err, " code=%s%s%s", code, field[0] ? " field=" : "", field);
        fprintf(stderr, "%s %s %s %s %u in=%llu out=%llu %.3fms %s%s\n", when, r->request_id,
                method, path, r->status, (unsigned long long)r->bytes_in,
                (unsigned long long)r->bytes_out, seconds * 1e3, outcome, err);
    }
}

void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    if (!r->handled) {
        /* libmicrohttpd answered (or dropped) a request it did not hand
         * to http_handle(): a malformed request line or headers, headers past
         * its pool (431), a URI too long (414), an unknown version (505),
         * a malformed Content-Length (400). */
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || toe == MHD_REQUEST_TERMINATED_WITH_ERROR)
            metrics_event(s->metrics, METRIC_MHD_ANSWERED);
        free(r);
        *con_cls = NULL;
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds =
        (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
    conns_phase(&s->conns, conn_of(c), PHASE_HEADERS);
    metrics_record(s->metrics, r->route, r->status, seconds, r->bytes_in, r->bytes_out);
    metrics_inflight(s->metrics, -1);
    log_request(s, r, seconds, toe);
    if (r->counted)
        atomic_fetch_sub(&s->inflight, 1);
    free_body(r);
    free(r->res.body);
    budget_release(r->work_reserved);
    free(r);
    *con_cls = NULL;
}
