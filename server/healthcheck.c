/*
 * healthcheck.c — `ballastd --healthcheck`: a tiny HTTP client for container
 * HEALTHCHECKs on images without curl. It asks GET /healthz of the server at
 * --bind (0.0.0.0 and :: mean the loopback) and --port, and exits 0 on a
 * 200 answer within 3 seconds, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server.h"

/* Room for the answer's status line, all that is read of it. */
#define STATUS_LINE_MAX 64

int healthcheck(const server_config *cfg);

int healthcheck(const server_config *cfg)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *host = cfg->bind;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    if (strcmp(host, "::") == 0)
        host = "::1";
    if (config_address(host, cfg->port, &ss, &len) != 0) {
        fprintf(stderr, "ballastd: healthcheck: bad address %s\n", host);
        return 1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return 1;
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "ballastd: healthcheck: cannot connect to %s port %u\n", host, cfg->port);
        close(fd);
        return 1;
    }
    char req[sizeof "GET /healthz HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n" + BIND_MAX];
    int n = snprintf(req, sizeof req,
                     "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return 1;
    }
    char buf[STATUS_LINE_MAX] = "";
    ssize_t got = 0, r;
    while (got < (ssize_t)sizeof buf - 1 &&
           (r = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += r;
    close(fd);
    buf[got > 0 ? got : 0] = '\0';
    size_t n200 = strlen("HTTP/1.1 200");
    int ok = strncmp(buf, "HTTP/1.1 200", n200) == 0 || strncmp(buf, "HTTP/1.0 200", n200) == 0;
    if (!ok)
        fprintf(stderr, "ballastd: healthcheck: unhealthy answer: %.40s\n", buf);
    return ok ? 0 : 1;
}
