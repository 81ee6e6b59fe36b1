/* The benchmark's baseline: a bare libmicrohttpd server in exactly surveyd's threading mode, doing
 * no work. Every GET gets a fixed small JSON object (200); every other method reads its whole body
 * and gets a fixed 202. Nothing is stored, parsed or logged.
 *
 * Same as surveyd (server/http.c): its own non-blocking listen socket (SO_REUSEADDR, backlog 4096)
 * handed over with MHD_OPTION_LISTEN_SOCKET; MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
 * MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG; a thread pool of one thread per online core (or
 * --threads N); connection timeout 30 s, connection limit 4096, a completion callback that frees the
 * per-request state. And, as in surveyd, the reply is queued only from the final call of the access
 * handler (upload_data_size == 0 after the headers), never from the first: queueing in the first
 * call makes libmicrohttpd close keep-alive connections that carry a body.
 *
 *   cc -O2 -std=c17 tests/bench/baseline.c $(pkg-config --cflags --libs libmicrohttpd) -o baseline
 *   ./baseline [--listen 127.0.0.1:0] [--threads N]      # prints "listening on 127.0.0.1:PORT"
 *
 * SIGTERM or SIGINT stops it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char get_body[] = "{\"status\":\"ok\",\"responses\":1234,\"score\":42.3}";
static const char post_body[] = "{\"status\":\"accepted\"}";

struct request {
    size_t body_bytes;      /* read and dropped */
};

static struct MHD_Response *get_reply, *post_reply;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct request *req = *con_cls;
    (void)cls, (void)url, (void)version, (void)upload_data;

    if (req == NULL) { /* first call: headers only; never reply here */
        req = calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* a piece of the body: consume it */
        req->body_bytes += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* final call: the whole request is in */
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return MHD_queue_response(conn, MHD_HTTP_OK, get_reply);
    return MHD_queue_response(conn, MHD_HTTP_ACCEPTED, post_reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static int listen_on(const char *address, char *bound, size_t bound_size)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    struct sockaddr_in addr = {.sin_family = AF_INET};
    int one = 1;

    if (colon == NULL || (size_t)(colon - address) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4096) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
    snprintf(bound, bound_size, "%s:%u", host, ntohs(addr.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1:0";
    unsigned threads = 0;
    char bound[96];
    sigset_t signals;
    int signal_number;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--listen ADDR:PORT] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    get_reply = MHD_create_response_from_buffer(sizeof get_body - 1, (void *)get_body, MHD_RESPMEM_PERSISTENT);
    post_reply = MHD_create_response_from_buffer(sizeof post_body - 1, (void *)post_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(get_reply, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(post_reply, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");

    int fd = listen_on(address, bound, sizeof bound);
    if (fd < 0) {
        fprintf(stderr, "baseline: cannot listen on %s: %s\n", address, strerror(errno));
        return 1;
    }
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "baseline: libmicrohttpd failed to start\n");
        return 1;
    }
    fprintf(stderr, "baseline listening on %s (%u threads)\n", bound, threads);
    sigwait(&signals, &signal_number);
    MHD_stop_daemon(daemon);
    close(fd);
    MHD_destroy_response(get_reply);
    MHD_destroy_response(post_reply);
    return 0;
}
