#include "ops.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store.h"

#define HEALTHCHECK_TIMEOUT_MS 3000

static void print_difference(const char *line, void *arg)
{
    (void)arg;
    printf("%s\n", line);
}

/* The rollups against the raw rows. Safe while surveyd runs (WAL readers). */
int ops_verify(const struct config *config)
{
    char err[512];
    uint64_t differences, responses;
    struct store_options options = {config->data_dir, config->durability};
    /* Read-only: verify runs beside a serving surveyd and must never touch its WAL. */
    struct store *store = store_open_read_only(&options, err, sizeof err);

    if (store == NULL) {
        fprintf(stderr, "surveyd verify: %s\n", err);
        return 2;
    }
    enum store_status status = store_verify(store, print_difference, NULL, &differences, &responses);
    store_close(store);
    if (status != STORE_OK) {
        fprintf(stderr, "surveyd verify: the database could not be read completely\n");
        return 2;
    }
    if (differences > 0) {
        printf("verify: %llu rollup difference%s over %llu responses\n", (unsigned long long)differences,
               differences == 1 ? "" : "s", (unsigned long long)responses);
        return 1;
    }
    printf("verify: rollups consistent with %llu responses\n", (unsigned long long)responses);
    return 0;
}

/* A consistent copy of the live database (SQLite's online backup: one read snapshot, ingest goes on). */
int ops_backup(const struct config *config)
{
    char err[512];

    if (config->backup_dest == NULL) {
        fprintf(stderr, "surveyd backup: give the destination file: surveyd backup DEST [--data-dir DIR]\n");
        return 2;
    }
    if (store_backup(config->data_dir, config->backup_dest, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "surveyd backup: %s\n", err);
        return 1;
    }
    printf("backup: %s written and checked\n", config->backup_dest);
    return 0;
}

/* Splits "ADDR:PORT" / "[ADDR]:PORT"; a wildcard address is probed on loopback. */
static bool probe_address(const char *listen, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return false;
        snprintf(host, host_size, "%.*s", (int)(close - listen - 1), listen + 1);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return false;
        snprintf(host, host_size, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, port_size, "%s", colon + 1);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        snprintf(host, host_size, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, host_size, "::1");
    return true;
}

static bool wait_for(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, HEALTHCHECK_TIMEOUT_MS) == 1 && (p.revents & events);
}

/* GET /readyz on the configured address: for container HEALTHCHECKs, which have no curl. */
int ops_healthcheck(const struct config *config)
{
    char host[256], port[16], reply[64] = "";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found = NULL;
    static const char request[] = "GET /readyz HTTP/1.0\r\nHost: localhost\r\nUser-Agent: surveyd-healthcheck\r\n\r\n";
    int fd = -1, status = 1;

    if (!probe_address(config->listen, host, sizeof host, port, sizeof port) ||
        getaddrinfo(host, port, &hints, &found) != 0) {
        fprintf(stderr, "surveyd healthcheck: bad address %s\n", config->listen);
        return 1;
    }
    fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto done;
    if (connect(fd, found->ai_addr, found->ai_addrlen) != 0 && (errno != EINPROGRESS || !wait_for(fd, POLLOUT)))
        goto done;
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1) || !wait_for(fd, POLLIN))
        goto done;
    ssize_t n = read(fd, reply, sizeof reply - 1);
    if (n > 0) {
        reply[n] = '\0';
        status = strncmp(reply, "HTTP/1.1 200", 12) == 0 || strncmp(reply, "HTTP/1.0 200", 12) == 0 ? 0 : 1;
    }
done:
    if (status != 0)
        fprintf(stderr, "surveyd healthcheck: %s:%s is not ready%s%.12s\n", host, port, reply[0] ? ": " : "",
                reply);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(found);
    return status;
}
