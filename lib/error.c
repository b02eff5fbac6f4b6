/* error.c — the error record every libballast function fills on failure. */
#include <stdarg.h>
#include <stdio.h>

#include "ballast.h"

void bl_error_clear(bl_error *err)
{
    if (!err)
        return;
    err->code = BL_OK;
    err->arg = NULL;
    err->index = -1;
    err->message[0] = '\0';
}

bl_status bl_error_set(bl_error *err, bl_status code, const char *arg, int64_t index,
                       const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->arg = arg;
    err->index = index;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}
