/*
 * negotiate.c — content negotiation: the request bodies a POST may carry
 * (Content-Type: JSON, a form, multipart/form-data with .npy parts; a raw
 * .npy body is pointed to multipart) and the response format a client asks
 * for (Accept: JSON, .npy or multipart, by q-value).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front.h"

int is_multipart(const char *type)
{
    size_t n = strlen("multipart/form-data");
    return type && strncasecmp(type, "multipart/form-data", n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

/* application/json, no type, or application/x-www-form-urlencoded (what
 * curl -d sends), each with any parameters; multipart/form-data for .npy
 * parts (see README, "Bulk data"). */
int acceptable_type(const char *type)
{
    if (!type || !*type || is_multipart(type))
        return 1;
    static const char *const ok[] = {"application/json", "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(type, ok[i], n) == 0 &&
            (type[n] == '\0' || type[n] == ';' || type[n] == ' '))
            return 1;
    }
    return 0;
}

/* The response format from Accept: of application/json,
 * application/x-npy and multipart/form-data, the one with the highest
 * q-value (the first named on a tie); media ranges with q=0 are refused
 * ones, and anything else (*\/\*, no Accept) means JSON. */
bl_api_format wanted_format(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    static const struct {
        const char *type;
        bl_api_format f;
    } kinds[] = {{"application/json", BL_API_JSON},
                 {"application/x-npy", BL_API_NPY},
                 {"multipart/form-data", BL_API_MULTIPART}};
    bl_api_format best = BL_API_JSON;
    double best_q = 0;
    while (a && *a) {
        const char *end = strchr(a, ',');
        size_t len = end ? (size_t)(end - a) : strlen(a);
        while (len && (*a == ' ' || *a == '\t'))
            a++, len--;
        size_t tlen = 0;
        while (tlen < len && a[tlen] != ';' && a[tlen] != ' ' && a[tlen] != '\t')
            tlen++;
        double q = 1;
        for (size_t i = tlen; i + 2 < len; i++)
            if ((a[i] == 'q' || a[i] == 'Q') && a[i + 1] == '=' &&
                (i == 0 || a[i - 1] == ';' || a[i - 1] == ' '))
                q = strtod(a + i + 2, NULL);
        for (size_t k = 0; k < 3; k++)
            if (tlen == strlen(kinds[k].type) && strncasecmp(a, kinds[k].type, tlen) == 0 &&
                q > best_q) {
                best = kinds[k].f;
                best_q = q;
            }
        a = end ? end + 1 : NULL;
    }
    return best;
}

/* A raw binary body (a .npy file sent as is), which belongs in a part. */
int binary_type(const char *type)
{
    return type && (strncasecmp(type, "application/x-npy", 17) == 0 ||
                    strncasecmp(type, "application/octet-stream", 24) == 0);
}
