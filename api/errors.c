/*
 * errors.c — the api layer's errors: api_fail fills an api_err (code,
 * field, message), api_path writes a field path name[i][j]..., and
 * api_from_lib turns a libballast error into an api error at that path.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

bl_api_code api_fail(api_err *e, bl_api_code code, const char *field, const char *fmt, ...)
{
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void api_path(char *buf, size_t size, const char *name, int64_t flat, const size_t *shape,
              size_t ndim)
{
    int n = snprintf(buf, size, "%s", name);
    if (flat < 0 || n < 0 || (size_t)n >= size)
        return;
    if (!shape) {
        snprintf(buf + n, size - (size_t)n, "[%" PRId64 "]", flat);
        return;
    }
    size_t idx[BL_MAX_DIMS];
    uint64_t rest = (uint64_t)flat;
    for (size_t d = ndim; d-- > 0;) {
        idx[d] = shape[d] ? rest % shape[d] : 0;
        rest = shape[d] ? rest / shape[d] : 0;
    }
    for (size_t d = 0; d < ndim && (size_t)n < size; d++) {
        int m = snprintf(buf + n, size - (size_t)n, "[%zu]", idx[d]);
        if (m < 0)
            return;
        n += m;
    }
}

bl_api_code api_from_lib(api_err *e, const bl_error *le, const size_t *shape, size_t ndim)
{
    bl_api_code code = le->code == BL_ENOMEM   ? BL_API_UNAVAILABLE
                       : le->code == BL_ELIMIT ? BL_API_LIMIT_EXCEEDED
                                               : BL_API_INVALID_ARGUMENT;
    char field[BL_API_FIELD_MAX] = "";
    if (le->arg)
        api_path(field, sizeof field, le->arg, le->index, shape, ndim);
    return api_fail(e, code, le->arg ? field : NULL, "%s", le->message);
}
