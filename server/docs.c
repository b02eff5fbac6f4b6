/*
 * docs.c — GET /docs: an interactive page on the served document (Swagger UI
 * from the swagger-ui-dist npm package, server/docs/swagger-ui/, its version in
 * VERSION and its files' checksums in SHA256SUMS), shipped inside the binary so
 * that no request leaves the machine. The files are assembled in with .incbin
 * (paths relative to the repository root, where make runs the compiler).
 */
#include <string.h>

#include "server.h"

#define EMBED(sym, path)                                                                           \
    __asm__(".pushsection .rodata\n"                                                               \
            ".balign 16\n"                                                                         \
            ".global " #sym "\n" #sym ":\n"                                                        \
            ".incbin \"" path "\"\n"                                                               \
            ".global " #sym "_end\n" #sym "_end:\n"                                                \
            ".byte 0\n"                                                                            \
            ".popsection\n");                                                                      \
    extern const char sym[], sym##_end[]

EMBED(bl_docs_index, "server/docs/index.html");
EMBED(bl_docs_init, "server/docs/init.js");
EMBED(bl_docs_bundle, "server/docs/swagger-ui/swagger-ui-bundle.js");
EMBED(bl_docs_css, "server/docs/swagger-ui/swagger-ui.css");
EMBED(bl_docs_license, "server/docs/swagger-ui/LICENSE");

static const struct {
    const char *path, *type;
    const char *start, *end;
} files[] = {
    {"/docs", "text/html; charset=utf-8", bl_docs_index, bl_docs_index_end},
    {"/docs/", "text/html; charset=utf-8", bl_docs_index, bl_docs_index_end},
    {"/docs/init.js", "text/javascript; charset=utf-8", bl_docs_init, bl_docs_init_end},
    {"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", bl_docs_bundle,
     bl_docs_bundle_end},
    {"/docs/swagger-ui.css", "text/css; charset=utf-8", bl_docs_css, bl_docs_css_end},
    {"/docs/LICENSE", "text/plain; charset=utf-8", bl_docs_license, bl_docs_license_end},
};

int docs_find(const char *path, const char **data, size_t *len, const char **type)
{
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (strcmp(path, files[i].path) == 0) {
            *data = files[i].start;
            *len = (size_t)(files[i].end - files[i].start);
            *type = files[i].type;
            return 1;
        }
    return 0;
}
