/*
 * log.c — ballastd's own log lines (start-up, signals, drain, errors,
 * libmicrohttpd's messages) on stderr, in the access log's format: text
 * ("ballastd: message") or, under --log-format json, one JSON object a line
 * ({"time", "level", "message"}), so that a log collector never sees a line
 * it cannot parse. --log-format none silences access lines only; these
 * stay, as text.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server.h"

static atomic_int json_lines; /* set once by main, before any thread starts */

void log_use_json(int on) { atomic_store(&json_lines, on); }

static const char *level_name(log_level l)
{
    return l == LOG_ERROR ? "error" : l == LOG_WARN ? "warning" : "info";
}

/* Appends s to out as the inside of a JSON string. */
static size_t json_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c; /* messages are ASCII or already valid UTF-8 */
        }
    }
    out[n] = '\0';
    return n;
}

void log_time(char *buf, size_t size)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char when[LOG_TIME_MAX];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03ldZ", when, now.tv_nsec / 1000000);
}

void vslog(log_level level, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (!atomic_load(&json_lines)) {
        fprintf(stderr, "ballastd: %s\n", msg);
        return;
    }
    char when[LOG_TIME_MAX], esc[6 * sizeof msg + 8];
    log_time(when, sizeof when);
    json_escape(esc, sizeof esc, msg);
    fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":\"%s\"}\n", when,
            level_name(level), esc);
}

void slog(log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vslog(level, fmt, ap);
    va_end(ap);
}
