/*
 * ballast.c — the command-line face of ballast: one request document in
 * (a file or standard input), the response document out.
 *
 *   ballast weights|sample|loss [FILE|-]
 *
 * Everything between the bytes read and the bytes written is bl_api_call,
 * the very function behind ballastd's POST /weights, /sample and /loss, with
 * the api layer's default limits. So for the same request document the CLI
 * prints byte for byte the body that the daemon answers (tests/http/
 * test_cli.py holds the two side by side); only the transport differs.
 *
 * Exit status (documented in man/ballast.1 and --help):
 *   0  the response document is on stdout;
 *   1  the request was refused (invalid_json, invalid_argument,
 *      limit_exceeded, payload_too_large): the JSON error document that the
 *      daemon would send with a 4xx is on stderr;
 *   2  usage error: bad command line, or the input cannot be read;
 *   3  the request could not be served (unavailable: out of memory;
 *      internal: a bug) or stdout could not be written: the 5xx class,
 *      worth a retry or a bug report, not an edit of the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"

/* The largest request document the CLI reads: 1 GiB. ballastd's --max-body
 * defaults to 64 MiB; a local file may well be larger, but past 1 GiB the
 * api limits (2^25 items or elements) are exceeded anyway. */
#define CLI_MAX_INPUT ((size_t)1 << 30)

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

static void usage(FILE *f)
{
    fprintf(f, "usage: ballast weights|sample|loss [FILE|-]\n"
               "       ballast --help | --version\n"
               "\n"
               "Reads one JSON request document from FILE (standard input when FILE is - or\n"
               "absent) and prints the response document of ballastd's POST /weights, /sample\n"
               "or /loss to standard output: the same api layer, byte for byte the same\n"
               "answer, with the default limits (33554432 items, samples and loss elements)\n"
               "and at most 1 GiB of input. Errors are the same JSON error documents, on\n"
               "standard error.\n"
               "\n"
               "  weights   class counts (or labels) in, class weights out\n"
               "  sample    per-item weights in, sampled indices out\n"
               "  loss      logits, targets and weights in, loss (and gradient) out\n"
               "\n"
               "options:\n"
               "  -h, --help     this text\n"
               "  --version      print the version\n"
               "  --             end of options (for a FILE named like an option)\n"
               "\n"
               "exit status: 0 ok; 1 the request was refused (JSON error on stderr);\n"
               "2 usage error or unreadable input; 3 out of memory, internal error, or\n"
               "standard output could not be written.\n"
               "\n"
               "example:\n"
               "  echo '{\"counts\": [100000, 100, 10]}' | ballast weights\n");
}

/* Prints "ballast: <message>" and a pointer to --help; returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ballast: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see ballast --help)\n", stderr);
    return EXIT_USAGE;
}

/* Writes an error document of the contract to stderr (as bl_api_call would
 * write it) and returns status. Without memory for the document, a plain
 * line says what happened. */
static int fail_doc(int status, bl_api_code code, const char *message)
{
    size_t len = 0;
    char *doc = bl_api_error_body(bl_api_code_name(code), message, NULL, &len);
    if (doc) {
        fwrite(doc, 1, len, stderr);
        free(doc);
    } else {
        fprintf(stderr, "ballast: %s: %s\n", bl_api_code_name(code), message);
    }
    return status;
}

/*
 * Reads everything from fd into a malloc'd buffer (NUL-terminated, which
 * the api layer does not need but a debugger likes), at most max bytes.
 * Returns 0 with *out and *len set, or -1 with errno: EFBIG when the input
 * is longer than max, ENOMEM, or the error of read(2). Nothing is left
 * allocated on failure.
 */
static int read_all(int fd, size_t max, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 1 << 16;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > max) {
            errno = EFBIG;
            return -1;
        }
        cap = (size_t)st.st_size + 1; /* + 1: the read that finds the end */
    }
    char *buf = malloc(cap + 1);
    size_t n = 0;
    if (!buf)
        return -1;
    for (;;) {
        if (n == cap) {
            if (cap > max) { /* already read max + 1 bytes */
                free(buf);
                errno = EFBIG;
                return -1;
            }
            size_t grown = cap > max / 2 ? max + 1 : cap * 2;
            char *b = realloc(buf, grown + 1);
            if (!b) {
                free(buf);
                errno = ENOMEM;
                return -1;
            }
            buf = b;
            cap = grown;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Room for the list of commands (about 25 bytes for three). */
#define COMMANDS_TEXT_MAX 128

/* The commands, the api's endpoints (bl_api_endpoint): "weights, sample or
 * loss". */
static const char *commands(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < BL_API_EP_COUNT; i++) {
        const char *sep = i == 0 ? "" : i + 1 == BL_API_EP_COUNT ? " or " : ", ";
        int w = snprintf(buf + n, size - n, "%s%s", sep, bl_api_endpoint_name(i));
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* The exit status for an api code: see the top of the file. Written as a
 * rule on classes rather than a switch over the codes, so that a code added
 * to the api layer (a 4xx, the request's fault, unless it is one of these
 * two) needs no change here. */
static int exit_status(bl_api_code code)
{
    if (code == BL_API_OK)
        return EXIT_OK;
    if (code == BL_API_UNAVAILABLE || code == BL_API_INTERNAL)
        return EXIT_UNAVAILABLE;
    return EXIT_REFUSED;
}

int main(int argc, char **argv)
{
    const char *command = NULL, *file = NULL;
    int positional = 0, options_done = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--") == 0) {
                options_done = 1;
            } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                usage(stdout);
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_UNAVAILABLE;
            } else if (strcmp(arg, "--version") == 0) {
                printf("ballast %s\n", bl_api_version());
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_UNAVAILABLE;
            } else {
                return usage_error("unknown option \"%s\"", arg);
            }
            continue;
        }
        if (positional == 0)
            command = arg;
        else if (positional == 1)
            file = arg;
        else
            return usage_error("too many arguments: \"%s\" after the file \"%s\"", arg, file);
        positional++;
    }
    char names[COMMANDS_TEXT_MAX];
    if (!command)
        return usage_error("missing command: %s", commands(names, sizeof names));
    if (!bl_api_has_endpoint(command))
        return usage_error("unknown command \"%s\": expected %s", command,
                           commands(names, sizeof names));

    int fd = 0;
    const char *name = "standard input";
    if (file && strcmp(file, "-") != 0) {
        name = file;
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "ballast: cannot open %s: %s\n", file, strerror(errno));
            return EXIT_USAGE;
        }
    }
    char *body = NULL;
    size_t len = 0;
    int rc = read_all(fd, CLI_MAX_INPUT, &body, &len);
    int read_errno = errno;
    if (fd != 0)
        close(fd);
    if (rc != 0) {
        char msg[BL_API_MESSAGE_MAX];
        switch (read_errno) {
        case EFBIG:
            snprintf(msg, sizeof msg, "the request is larger than the CLI's limit of %zu bytes",
                     CLI_MAX_INPUT);
            return fail_doc(EXIT_REFUSED, BL_API_PAYLOAD_TOO_LARGE, msg);
        case ENOMEM:
            return fail_doc(EXIT_UNAVAILABLE, BL_API_UNAVAILABLE,
                            "out of memory while reading the request");
        default:
            fprintf(stderr, "ballast: cannot read %s: %s\n", name, strerror(read_errno));
            return EXIT_USAGE;
        }
    }

    bl_api_config cfg = bl_api_config_default();
    cfg.limits = bl_api_limits_default();
    bl_api_result res;
    bl_api_code code = bl_api_call(&cfg, command, body, len, &res);
    free(body);
    if (!res.body)
        return fail_doc(EXIT_UNAVAILABLE, BL_API_UNAVAILABLE, "out of memory");

    /* The api layer ends every document with a newline; the check keeps the
     * CLI's promise of one even if that ever changed. */
    int newline = res.len == 0 || res.body[res.len - 1] != '\n';
    FILE *to = code == BL_API_OK ? stdout : stderr;
    fwrite(res.body, 1, res.len, to);
    if (newline)
        fputc('\n', to);
    free(res.body);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ballast: cannot write the response: %s\n", strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    return exit_status(code);
}
