#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_gzip.h"
#include "http_strict.h"
#include "ids.h"
#include "log.h"
#include "oom.h"
#include "timefmt.h"

struct reply_header {
    char *name, *value;
};

/* Per-request bookkeeping that handlers never touch. */
struct http_internal {
    struct MHD_Connection *conn;
    struct http_server *server;
    const struct http_route *route;
    const char *pattern;            /* the pattern that matched the path (also for a 405) */
    char allow[64];                 /* methods of the matched path, for a 405 */
    char *raw_path;                 /* as sent, still percent-encoded, without the query */
    char raw_params[HTTP_MAX_PARAMS][3 * HTTP_PARAM_MAX + 1]; /* what each '*' matched, encoded */
    bool started;                   /* the access handler has been called */
    bool close;                     /* refused for its framing: close after the reply */
    struct http_strict_verdict refusal; /* status 0: none */
    char *body;
    size_t body_cap;
    bool body_too_large;
    bool body_lost;                 /* no memory to keep it: the reply is a 500, not a 413 */
    bool replied;
    bool suspended;
    bool handler_started;
    bool handling;                  /* counted in server->handling: in a handler or suspended */
    int cors;                       /* 0 not asked yet, 1 allowed, -1 refused, 2 no Origin */
    unsigned status;
    uint64_t reply_bytes;
    int64_t started_ns;
    struct reply_header *headers;   /* staged by http_add_header, grown as needed */
    int header_count, header_cap;
    bool header_lost;               /* one could not be staged: the reply would be incomplete */
};

const unsigned http_tracked_statuses[HTTP_STATUS_SLOTS] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                                                          406, 409, 413, 415, 422, 429, 500, 503, 0};
const double http_duration_bounds[HTTP_DURATION_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,   0.1,   0.25,   0.5,   1,    2.5};

/* Lock-free counters: every request end adds to them from whichever thread served it. */
struct route_counters {
    atomic_ullong by_status[HTTP_STATUS_SLOTS];
    atomic_ullong duration_buckets[HTTP_DURATION_BUCKETS];
    atomic_ullong count;
    atomic_ullong duration_ns;
};

/* Slow clients. libmicrohttpd's timeout counts inactivity, so a client sending a byte every few
 * seconds would hold a connection forever. Each connection therefore has a deadline by which the
 * request it is sending must have arrived whole (headers and body); a reaper thread shuts down the
 * sockets that miss it. While a reply is being produced or sent there is no deadline (exports may
 * stream for minutes; a stalled reader is libmicrohttpd's inactivity timeout's to catch). */
struct conn_tracker {
    struct conn_tracker *prev, *next;
    int fd;
    int64_t deadline_ns;        /* 0 while replying */
};

struct http_server {
    struct MHD_Daemon *daemon;
    int listen_fd;
    size_t max_body;
    const struct http_route *routes;
    size_t route_count;
    void *app;
    bool (*cors_allowed)(struct http_request *req, const char *origin);
    atomic_int active;              /* requests from their request line to completion */
    atomic_bool closing;            /* stopping: refuse new connections, close kept-alive ones */
    atomic_bool refusing;           /* stopping: no handler starts any more (503) */
    atomic_int handling;            /* requests in a handler or suspended waiting for one to resume */
    struct route_counters *counters; /* one per route, then one for unmatched requests */
    int64_t request_timeout_ns;
    pthread_mutex_t trackers_lock;
    struct conn_tracker *trackers;
    pthread_t reaper;
    bool reaper_running, stopping;
    pthread_cond_t reaper_wake;
};

static const char *reason_phrase(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* ---- listening ---- */

int http_listen(const char *address, char *err, size_t err_size, char *bound, size_t bound_size)
{
    char host[256];
    const char *port;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *found = NULL;
    int fd = -1;

    if (address[0] == '[') {
        const char *close_bracket = strchr(address, ']');
        if (close_bracket == NULL || close_bracket[1] != ':' || (size_t)(close_bracket - address) >= sizeof host)
            goto bad_address;
        snprintf(host, sizeof host, "%.*s", (int)(close_bracket - address - 1), address + 1);
        port = close_bracket + 2;
    } else {
        const char *colon = strrchr(address, ':');
        if (colon == NULL || (size_t)(colon - address) >= sizeof host)
            goto bad_address;
        snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
        port = colon + 1;
    }
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) > 65535)
        goto bad_address;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &found);
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve %s: %s", address, gai_strerror(rc));
        return -1;
    }
    fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(found);
        return -1;
    }
    freeaddrinfo(found);

    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned bound_port = 0;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
        bound_port = ntohs(a6->sin6_port);
        snprintf(bound, bound_size, "[%s]:%u", ip, bound_port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
        bound_port = ntohs(a4->sin_port);
        snprintf(bound, bound_size, "%s:%u", ip, bound_port);
    }
    return fd;

bad_address:
    snprintf(err, err_size, "bad listen address '%s' (expected ADDR:PORT or [ADDR]:PORT)", address);
    return -1;
}

/* ---- routing ---- */

/* '**': the rest of the pattern is literal and must end the path; what lies between is the
 * parameter (slashes included, never empty). */
#define RAW_PARAM_MAX (3 * HTTP_PARAM_MAX) /* every byte percent-encoded */

static bool match_rest(const char *pattern, const char *path, struct http_request *req, int param)
{
    size_t tail = strlen(pattern), len = strlen(path);
    if (param >= HTTP_MAX_PARAMS || len <= tail || len - tail > RAW_PARAM_MAX ||
        strcmp(path + len - tail, pattern) != 0)
        return false;
    memcpy(req->internal->raw_params[param], path, len - tail);
    req->internal->raw_params[param][len - tail] = '\0';
    return true;
}

/* Matches the raw (still percent-encoded) path against pattern segment by segment, copying what
 * each '*' matched. Routing on the raw path means "%2F" can never split or join segments. */
static bool route_matches(const char *pattern, const char *path, struct http_request *req)
{
    int param = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        if (pattern[0] == '*' && pattern[1] == '*')
            return match_rest(pattern + 2, path, req, param);
        size_t seg = strcspn(path, "/");
        if (*pattern == '*') {
            if (seg == 0 || seg > RAW_PARAM_MAX || param >= HTTP_MAX_PARAMS)
                return false;
            memcpy(req->internal->raw_params[param], path, seg);
            req->internal->raw_params[param][seg] = '\0';
            param++;
            pattern++;
        } else {
            size_t pseg = strcspn(pattern, "/");
            if (pseg != seg || strncmp(pattern, path, seg) != 0)
                return false;
            pattern += pseg;
        }
        path += seg;
    }
    return *pattern == '\0' && *path == '\0';
}

/* When several patterns match a path (a '**' can swallow what another pattern spells out, as
 * "/v1/customers/ ** /responses" against "/v1/customers/ **"), only the most specific — the longest
 * pattern — routes it and names the allowed methods. */
static size_t best_match_length(struct http_server *server, struct http_request *req)
{
    size_t best = 0;
    for (size_t i = 0; i < server->route_count; i++) {
        size_t len = strlen(server->routes[i].pattern);
        if (len > best && route_matches(server->routes[i].pattern, req->path, req))
            best = len;
    }
    return best;
}

static void route_request(struct http_server *server, struct http_request *req)
{
    struct http_internal *in = req->internal;
    bool is_head = strcmp(req->method, "HEAD") == 0;
    size_t best = best_match_length(server, req);

    for (size_t i = 0; i < server->route_count; i++) {
        const struct http_route *route = &server->routes[i];
        if (strlen(route->pattern) != best || !route_matches(route->pattern, req->path, req))
            continue;
        in->pattern = route->pattern;
        if (strcmp(route->method, req->method) == 0 || (is_head && strcmp(route->method, "GET") == 0)) {
            in->route = route;
            return;
        }
        size_t used = strlen(in->allow);
        snprintf(in->allow + used, sizeof in->allow - used, "%s%s", used ? ", " : "", route->method);
    }
}

/* Decodes the parameters of the matched pattern into req->params: '**' may hold an encoded '/',
 * '*' may not. */
static bool decode_params(struct http_request *req, struct http_strict_verdict *verdict)
{
    const char *p = req->internal->pattern;
    int param = 0;
    while (p && (p = strchr(p, '*')) != NULL && param < HTTP_MAX_PARAMS) {
        bool rest = p[1] == '*';
        if (!http_strict_decode_param(req->internal->raw_params[param], rest, req->params[param],
                                      sizeof req->params[param], verdict))
            return false;
        param++;
        p += rest ? 2 : 1;
    }
    return true;
}

/* ---- request accessors ---- */

const char *http_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->internal->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->internal->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_iteration {
    void (*each)(const char *name, const char *value, void *arg);
    void *arg;
};

static enum MHD_Result each_query_value(void *cls, enum MHD_ValueKind kind, const char *name, const char *value)
{
    struct query_iteration *it = cls;
    it->each(name, value, it->arg);
    return MHD_YES;
}

void http_each_query(struct http_request *req, void (*each)(const char *name, const char *value, void *arg),
                     void *arg)
{
    struct query_iteration it = {each, arg};
    MHD_get_connection_values(req->internal->conn, MHD_GET_ARGUMENT_KIND, each_query_value, &it);
}

void http_peer_address(struct http_request *req, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->internal->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (info == NULL || info->client_addr == NULL)
        return;
    if (info->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)info->client_addr)->sin_addr, out,
                  (socklen_t)size);
    else if (info->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)info->client_addr)->sin6_addr, out,
                  (socklen_t)size);
}

const char *http_media_type(struct http_request *req, char *buf, size_t size)
{
    const char *value = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = 0;

    if (value) {
        while (*value == ' ')
            value++;
        for (; value[n] && value[n] != ';' && value[n] != ' ' && n + 1 < size; n++)
            buf[n] = (char)tolower((unsigned char)value[n]);
    }
    buf[n] = '\0';
    return buf;
}

/* ---- replies ---- */

/* Never drops a header silently: a reply without its Location, Retry-After or WWW-Authenticate
 * would mislead the client, so when one cannot be kept the reply becomes a 500 (queue_checked). */
void http_add_header(struct http_request *req, const char *name, const char *value)
{
    struct http_internal *in = req->internal;
    if (in->header_count == in->header_cap) {
        int cap = in->header_cap ? in->header_cap * 2 : 8;
        struct reply_header *grown = realloc(in->headers, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            in->header_lost = true;
            return;
        }
        in->headers = grown;
        in->header_cap = cap;
    }
    char *name_copy = strdup(name), *value_copy = strdup(value);
    if (name_copy == NULL || value_copy == NULL) {
        free(name_copy);
        free(value_copy);
        in->header_lost = true;
        return;
    }
    in->headers[in->header_count++] = (struct reply_header){name_copy, value_copy};
}

/* Asks the application once per request, and remembers. */
static int cors_state(struct http_request *req)
{
    struct http_internal *in = req->internal;
    if (in->cors == 0) {
        const char *origin = http_header(req, "Origin");
        if (origin == NULL)
            in->cors = 2;
        else
            in->cors = in->server->cors_allowed && in->server->cors_allowed(req, origin) ? 1 : -1;
    }
    return in->cors;
}

bool http_origin_refused(struct http_request *req)
{
    return cors_state(req) == -1;
}

#define CORS_ALLOW_HEADERS "Content-Type, Authorization, Idempotency-Key, If-None-Match, X-Request-Id"
#define CORS_EXPOSE_HEADERS "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed"

static void add_cors_headers(struct http_request *req, struct MHD_Response *response)
{
    int state = cors_state(req);
    if (state != 1)
        return;
    MHD_add_response_header(response, "Access-Control-Allow-Origin", http_header(req, "Origin"));
    MHD_add_response_header(response, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

/* The reply of last resort when the one meant could not be built whole (out of memory): static, so
 * it needs no allocation but libmicrohttpd's own. The staged headers belong to the reply that failed. */
static const char out_of_memory_problem[] =
    "{\"type\":\"urn:surveyd:problem:internal\",\"title\":\"Internal Server Error\",\"status\":500,"
    "\"detail\":\"the server ran out of memory; retry later\",\"code\":\"internal\"}";

static void queue_out_of_memory(struct http_request *req);

/* Adds the common and staged headers; false when one of them could not be added. */
static bool add_headers(struct http_request *req, struct MHD_Response *response, const char *content_type)
{
    struct http_internal *in = req->internal;
    bool ok = true;

    if (content_type)
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES;
    ok &= MHD_add_response_header(response, "X-Request-Id", req->request_id) == MHD_YES;
    ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
    if (in->close || atomic_load(&in->server->closing))
        ok &= MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    /* Every reply may differ by Accept-Encoding (http_gzip), and by Origin once the request had one. */
    ok &= MHD_add_response_header(response, "Vary", cors_state(req) == 2 ? "Accept-Encoding"
                                                                         : "Origin, Accept-Encoding") == MHD_YES;
    add_cors_headers(req, response);
    for (int i = 0; i < in->header_count; i++) {
        if (strcasecmp(in->headers[i].name, MHD_HTTP_HEADER_CACHE_CONTROL) == 0)
            MHD_del_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ok &= MHD_add_response_header(response, in->headers[i].name, in->headers[i].value) == MHD_YES;
    }
    return ok;
}

/* Adds the common and staged headers and queues the reply; one that lost a header is replaced by
 * the static 500. */
static void queue_response(struct http_request *req, unsigned status, struct MHD_Response *response, uint64_t len,
                           const char *content_type)
{
    struct http_internal *in = req->internal;

    if (!add_headers(req, response, content_type)) {
        MHD_destroy_response(response);
        queue_out_of_memory(req);
        return;
    }
    if (MHD_queue_response(in->conn, status, response) == MHD_YES) {
        in->replied = true;
        in->status = status;
        in->reply_bytes = len;
    } else {
        log_error("http: could not queue a %u reply for %s %s", status, req->method, req->path);
    }
    MHD_destroy_response(response);
}

static void queue_out_of_memory(struct http_request *req)
{
    struct http_internal *in = req->internal;
    struct MHD_Response *response = MHD_create_response_from_buffer(
        sizeof out_of_memory_problem - 1, (void *)out_of_memory_problem, MHD_RESPMEM_PERSISTENT);

    if (response == NULL)
        return; /* nothing queued: on_request closes the connection */
    bool ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json") == MHD_YES;
    MHD_add_response_header(response, "X-Request-Id", req->request_id);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok && MHD_queue_response(in->conn, 500, response) == MHD_YES) {
        in->replied = true;
        in->status = 500;
        in->reply_bytes = sizeof out_of_memory_problem - 1;
    }
    MHD_destroy_response(response);
}

void http_reply_out_of_memory(struct http_request *req)
{
    queue_out_of_memory(req);
}

/* A reply decided after an allocation failed on this thread may be wrong (a valid body "not JSON",
 * a definition "not found", an object missing members), and one that lost a staged header is
 * incomplete: either becomes the static 500. Server errors stand as decided. */
static bool reply_tainted(struct http_request *req, unsigned status)
{
    return req->internal->header_lost || (status < 500 && oom_failed());
}

static const char *staged_header(const struct http_internal *in, const char *name)
{
    for (int i = 0; i < in->header_count; i++) {
        if (strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value;
    }
    return NULL;
}

/* gzip for a client that accepts it, when the body is worth it. Not for a reply that is already
 * coded (assets come compressed from the build), nor for one with a strong ETag: a strong
 * validator names one exact byte sequence, and the handler compares If-None-Match against the
 * uncompressed one. A weak ETag (metrics) holds for both codings: they are semantically the same.
 * When zlib cannot (out of memory), the reply goes uncompressed, which is as correct. */
static void maybe_compress(struct http_request *req, char **body, size_t *len, const char *content_type)
{
    struct http_internal *in = req->internal;
    const char *etag = staged_header(in, "ETag");
    size_t packed_len = 0;

    if (*body == NULL || *len < HTTP_GZIP_MIN_SIZE || !http_gzip_compressible(content_type) ||
        staged_header(in, "Content-Encoding") || (etag && strncmp(etag, "W/", 2) != 0) ||
        !http_gzip_accepted(http_header(req, "Accept-Encoding")))
        return;
    char *packed = http_gzip_compress(*body, *len, &packed_len);
    if (packed == NULL)
        return;
    http_add_header(req, "Content-Encoding", "gzip");
    if (in->header_lost) { /* the header could not be staged: send the body as it was */
        in->header_lost = false;
        free(packed);
        return;
    }
    free(*body);
    *body = packed;
    *len = packed_len;
}

static void queue(struct http_request *req, unsigned status, char *body, size_t len, const char *content_type)
{
    if (reply_tainted(req, status)) {
        free(body);
        queue_out_of_memory(req);
        return;
    }
    maybe_compress(req, &body, &len, content_type);
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);

    if (response == NULL) {
        free(body);
        queue_out_of_memory(req);
        return;
    }
    queue_response(req, status, response, len, content_type);
}

struct stream {
    http_fill_fn fill;
    void (*release)(void *arg);
    void *arg;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *stream = cls;
    /* Rows rendered with an allocation failing would be short of fields: cut the stream instead,
     * so the client sees an incomplete body rather than a silently wrong one. */
    oom_clear();
    long n = stream->fill(stream->arg, buf, max);
    if (n < 0 || oom_failed())
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *stream = cls;
    stream->release(stream->arg);
    free(stream);
}

void http_reply_stream(struct http_request *req, unsigned status, const char *content_type, http_fill_fn fill,
                       void *arg, void (*release)(void *arg))
{
    struct stream *stream = reply_tainted(req, status) ? NULL : malloc(sizeof *stream);
    struct MHD_Response *response = NULL;

    if (stream == NULL) {
        release(arg);
        queue_out_of_memory(req);
        return;
    }
    *stream = (struct stream){fill, release, arg};
    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, stream, stream_free);
    if (response == NULL) {
        stream_free(stream);
        queue_out_of_memory(req);
        return;
    }
    queue_response(req, status, response, 0, content_type);
}

void http_set_idle_timeout(struct http_request *req, unsigned seconds)
{
    /* libmicrohttpd's per-connection inactivity timeout: it counts from the last byte the socket
     * took, so a client that reads nothing of a streamed reply is closed after `seconds`. */
    MHD_set_connection_option(req->internal->conn, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

void http_reply_json_text(struct http_request *req, unsigned status, char *text)
{
    if (text == NULL) /* the text could not be produced */
        queue_out_of_memory(req);
    else
        queue(req, status, text, strlen(text), "application/json");
}

void http_reply_json(struct http_request *req, unsigned status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    http_reply_json_text(req, status, text);
}

void http_reply_body(struct http_request *req, unsigned status, char *body, size_t len, const char *content_type)
{
    if (body == NULL) /* the body could not be produced */
        queue_out_of_memory(req);
    else
        queue(req, status, body, len, content_type);
}

void http_reply_empty(struct http_request *req, unsigned status)
{
    queue(req, status, NULL, 0, NULL);
}

void http_reply_problem(struct http_request *req, unsigned status, const char *code, const char *detail,
                        cJSON *extra)
{
    /* Whether this problem was built whole is judged alone: a 5xx decided after an earlier failure
     * stands, but not with members missing. */
    bool failed_before = oom_failed();
    oom_clear();
    cJSON *problem = cJSON_CreateObject();
    char type[96];

    /* A stable, dereference-free type URI per code; clients should switch on "code". */
    snprintf(type, sizeof type, "urn:surveyd:problem:%s", code);
    cJSON_AddStringToObject(problem, "type", type);
    cJSON_AddStringToObject(problem, "title", reason_phrase(status));
    cJSON_AddNumberToObject(problem, "status", status);
    cJSON_AddStringToObject(problem, "detail", detail);
    cJSON_AddStringToObject(problem, "code", code);
    if (extra) {
        while (extra->child) {
            cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
            if (!cJSON_AddItemToObject(problem, item->string, item))
                cJSON_Delete(item);
        }
        cJSON_Delete(extra);
    }
    char *text = cJSON_PrintUnformatted(problem);
    cJSON_Delete(problem);
    bool built = !oom_failed() && text != NULL;
    if (failed_before)
        oom_note();
    if (!built) {
        free(text);
        queue_out_of_memory(req);
        return;
    }
    queue(req, status, text, strlen(text), "application/problem+json");
}

/* ---- suspension ---- */

void http_suspend(struct http_request *req)
{
    req->internal->suspended = true;
    MHD_suspend_connection(req->internal->conn);
}

void http_resume(struct http_request *req)
{
    MHD_resume_connection(req->internal->conn);
}

/* ---- the libmicrohttpd callbacks ---- */

static bool request_id_acceptable(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        if (n >= HTTP_REQUEST_ID_MAX || id[n] < 0x21 || id[n] > 0x7e)
            return false;
    }
    return n > 0;
}

/* A request and its internals in one allocation. The parameter buffers (8 KiB of the 8.5) are not
 * zeroed: they are written before they are read (an empty string until a pattern matches), and
 * clearing them was a third of the cost of starting a request. */
struct request_block {
    struct http_request req;
    struct http_internal in;
};

/* Each thread keeps the block of its last finished request for its next one. At 8.5 KiB a block is
 * a large-bin allocation, and glibc consolidates the thread's small freed chunks (cJSON's, by the
 * hundred per request) on every such malloc: 1.4% of surveyd's CPU under ingest went there. One
 * block per thread (freed when the thread ends) keeps memory bounded by threads, not connections. */
static pthread_key_t spare_block_key;
static pthread_once_t spare_block_once = PTHREAD_ONCE_INIT;
static bool spare_block_usable;

static void spare_block_init(void)
{
    spare_block_usable = pthread_key_create(&spare_block_key, free) == 0;
}

static struct request_block *request_block_alloc(void)
{
    pthread_once(&spare_block_once, spare_block_init);
    struct request_block *b = spare_block_usable ? pthread_getspecific(spare_block_key) : NULL;
    if (b == NULL)
        return malloc(sizeof *b);
    pthread_setspecific(spare_block_key, NULL);
    return b;
}

static void request_block_release(struct request_block *b)
{
    if (spare_block_usable && pthread_getspecific(spare_block_key) == NULL &&
        pthread_setspecific(spare_block_key, b) == 0)
        return;
    free(b);
}

static struct request_block *request_block_new(void)
{
    struct request_block *b = request_block_alloc();

    if (b == NULL)
        return NULL;
    size_t req_end = offsetof(struct http_request, params) + sizeof b->req.params;
    size_t in_end = offsetof(struct http_internal, raw_params) + sizeof b->in.raw_params;

    memset(&b->req, 0, offsetof(struct http_request, params));
    memset((char *)&b->req + req_end, 0, sizeof b->req - req_end);
    memset(&b->in, 0, offsetof(struct http_internal, raw_params));
    memset((char *)&b->in + in_end, 0, sizeof b->in - in_end);
    for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
        b->req.params[i][0] = '\0';
        b->in.raw_params[i][0] = '\0';
    }
    return b;
}

/* libmicrohttpd's URI callback: the only moment the request target is seen as sent, before the
 * path is percent-decoded in place (where "%00" would end it and "%2F" would become a separator).
 * The request is allocated here and completed by the first access-handler call. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *server = cls;
    struct request_block *block = request_block_new();
    size_t path_len = strcspn(uri, "?");

    if (block == NULL || (block->in.raw_path = strndup(uri, path_len)) == NULL) {
        request_block_release(block);
        return NULL;
    }
    struct http_request *req = &block->req;
    struct http_internal *in = &block->in;
    req->internal = in;
    req->app = server->app;
    req->path = in->raw_path;
    req->body = "";
    in->conn = conn;
    in->server = server;
    in->started_ns = timefmt_monotonic_ns();
    if (!http_strict_target(uri, &in->refusal))
        in->close = true;
    /* In progress from its request line on: a graceful stop waits for a request whose headers are
     * still arriving, not only for one whose body is. */
    atomic_fetch_add(&server->active, 1);
    return req;
}

static void request_begin(struct http_request *req, const char *method)
{
    struct http_internal *in = req->internal;
    const char *given_id = MHD_lookup_connection_value(in->conn, MHD_HEADER_KIND, "X-Request-Id");

    in->started = true;
    req->method = method;
    if (given_id && request_id_acceptable(given_id))
        snprintf(req->request_id, sizeof req->request_id, "%s", given_id);
    else if (!ids_random_hex(req->request_id, 8))
        snprintf(req->request_id, sizeof req->request_id, "%llx", (unsigned long long)in->started_ns);
    route_request(in->server, req);
}

static void request_free(struct http_request *req)
{
    struct http_internal *in = req->internal;
    if (req->state_free && req->state)
        req->state_free(req->state);
    for (int i = 0; i < in->header_count; i++) {
        free(in->headers[i].name);
        free(in->headers[i].value);
    }
    free(in->headers);
    free(in->body);
    free(in->raw_path);
    request_block_release((struct request_block *)req); /* req is the block's first member */
}

/* Content-Length over the limit is refused before a byte of the body is read. */
static bool declared_too_large(struct http_server *server, struct MHD_Connection *conn)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long declared = strtoull(length, &end, 10);
    return errno != 0 || declared > server->max_body;
}

/* Keeps what fits under the limit; past it, the rest of the body is read and dropped (a chunked
 * upload cannot be refused mid-stream with libmicrohttpd without dropping the connection). */
static void accumulate(struct http_server *server, struct http_request *req, const char *data, size_t size)
{
    struct http_internal *in = req->internal;

    if (in->body_too_large)
        return;
    if (req->body_len + size > server->max_body) {
        in->body_too_large = true;
        return;
    }
    if (req->body_len + size + 1 > in->body_cap) {
        size_t cap = in->body_cap ? in->body_cap : 1024;
        while (cap < req->body_len + size + 1)
            cap *= 2;
        char *grown = realloc(in->body, cap);
        if (grown == NULL) {
            in->body_too_large = in->body_lost = true; /* the rest is read and dropped */
            return;
        }
        in->body = grown;
        in->body_cap = cap;
    }
    memcpy(in->body + req->body_len, data, size);
    req->body_len += size;
    in->body[req->body_len] = '\0';
    req->body = in->body;
}

/* OPTIONS on a known path: a CORS preflight from a browser, or a curl asking what is allowed. */
static void reply_preflight(struct http_request *req)
{
    struct http_internal *in = req->internal;
    char methods[80];

    snprintf(methods, sizeof methods, "%s, OPTIONS", in->allow);
    http_add_header(req, "Allow", methods);
    if (cors_state(req) == -1) {
        http_reply_problem(req, 403, "forbidden", "this origin may not call this endpoint", NULL);
        return;
    }
    if (cors_state(req) == 1) {
        http_add_header(req, "Access-Control-Allow-Methods", methods);
        http_add_header(req, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        http_add_header(req, "Access-Control-Max-Age", "600");
    }
    http_reply_empty(req, 204);
}

static void reply_routing_error(struct http_request *req)
{
    struct http_internal *in = req->internal;
    char detail[256];

    if (in->allow[0]) {
        http_add_header(req, "Allow", in->allow);
        snprintf(detail, sizeof detail, "%s is not allowed here; allowed: %s", req->method, in->allow);
        http_reply_problem(req, 405, "method_not_allowed", detail, NULL);
    } else {
        http_reply_problem(req, 404, "not_found", "no such resource", NULL);
    }
}

static void reply_too_large(struct http_request *req, size_t max_body)
{
    char detail[128];
    snprintf(detail, sizeof detail, "the request body is larger than %zu bytes", max_body);
    http_reply_problem(req, 413, "payload_too_large", detail, NULL);
}

static struct conn_tracker *tracker_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_deadline(struct http_server *server, struct MHD_Connection *conn, bool receiving)
{
    struct conn_tracker *t = tracker_of(conn);
    if (t == NULL)
        return;
    pthread_mutex_lock(&server->trackers_lock);
    t->deadline_ns = receiving ? timefmt_monotonic_ns() + server->request_timeout_ns : 0;
    pthread_mutex_unlock(&server->trackers_lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *server = cls;
    struct conn_tracker *t = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t = calloc(1, sizeof *t);
        if (t == NULL || info == NULL) {
            free(t);
            return;
        }
        t->fd = info->connect_fd;
        t->deadline_ns = timefmt_monotonic_ns() + server->request_timeout_ns;
        pthread_mutex_lock(&server->trackers_lock);
        t->next = server->trackers;
        if (server->trackers)
            server->trackers->prev = t;
        server->trackers = t;
        pthread_mutex_unlock(&server->trackers_lock);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && t) {
        /* Removed before libmicrohttpd closes the socket, so the reaper never touches a reused fd. */
        pthread_mutex_lock(&server->trackers_lock);
        if (t->prev)
            t->prev->next = t->next;
        else
            server->trackers = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&server->trackers_lock);
        free(t);
        *socket_context = NULL;
    }
}

static void *reaper_main(void *arg)
{
    struct http_server *server = arg;
    pthread_setname_np(pthread_self(), "reaper");
    pthread_mutex_lock(&server->trackers_lock);
    while (!server->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&server->reaper_wake, &server->trackers_lock, &until);
        int64_t now = timefmt_monotonic_ns();
        for (struct conn_tracker *t = server->trackers; t; t = t->next) {
            if (t->deadline_ns && now > t->deadline_ns) {
                shutdown(t->fd, SHUT_RDWR);
                t->deadline_ns = 0;
            }
        }
    }
    pthread_mutex_unlock(&server->trackers_lock);
    return NULL;
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_server *server = cls;
    return atomic_load(&server->closing) ? MHD_NO : MHD_YES;
}

/* A final call that could not queue any reply, not even the static 500 (libmicrohttpd itself out of
 * memory), closes the connection: left alone, libmicrohttpd would call the handler again and again. */
static enum MHD_Result replied_or_close(const struct http_internal *in)
{
    return in->replied ? MHD_YES : MHD_NO;
}

/* Shutdown must know when no handler can touch the application any more. A request counts from
 * the moment its handler is entered until it returns HTTP_DONE, suspensions included (a suspended
 * request waits for the writer, and libmicrohttpd refuses to stop with suspended connections). The
 * count is raised before `refusing` is read, and http_server_refuse() sets `refusing` before reading
 * the count (both sequentially consistent), so either the request sees the refusal or shutdown
 * sees the request. */
static bool handler_enter(struct http_server *server, struct http_internal *in)
{
    if (in->handling)
        return true;
    atomic_fetch_add(&server->handling, 1);
    in->handling = true;
    if (!atomic_load(&server->refusing))
        return true;
    atomic_fetch_sub(&server->handling, 1);
    in->handling = false;
    return false;
}

static void handler_leave(struct http_server *server, struct http_internal *in)
{
    if (!in->handling)
        return;
    in->handling = false;
    atomic_fetch_sub(&server->handling, 1);
}

static void reply_stopping(struct http_request *req)
{
    http_add_header(req, "Retry-After", "1");
    http_reply_problem(req, 503, "unavailable", "the server is stopping; nothing was stored, retry", NULL);
}

static void reply_refusal(struct http_request *req)
{
    const struct http_strict_verdict *v = &req->internal->refusal;
    http_reply_problem(req, v->status, v->code, v->detail, NULL);
}

static bool expects_continue(struct http_request *req, const char *version)
{
    const char *expect = http_header(req, MHD_HTTP_HEADER_EXPECT);
    return expect && strcasecmp(expect, "100-continue") == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
}

/* A client sending "Expect: 100-continue" waits for a go-ahead before sending its body; whatever
 * refuses the request without reading the body answers now instead, so "100 Continue" is never
 * promised to a request that is then refused (the route's admit hook checks credentials). */
static void admit_early(struct http_server *server, struct http_request *req)
{
    struct http_internal *in = req->internal;

    if (in->route == NULL) {
        if (strcmp(req->method, "OPTIONS") == 0 && in->allow[0])
            reply_preflight(req);
        else
            reply_routing_error(req);
        return;
    }
    if (in->route->admit == NULL)
        return;
    if (!handler_enter(server, in)) {
        reply_stopping(req);
        return;
    }
    in->route->admit(req);
    handler_leave(server, in);
}

/* Everything that can be decided from the request line and the headers is decided in the first
 * access-handler call, before a byte of the body is read. A reply queued here makes
 * libmicrohttpd close the connection after it, which is what must happen anyway: the unread body
 * (or a body whose end is ambiguous) is still on the wire. */
static void first_call(struct http_server *server, struct http_request *req, const char *version)
{
    struct http_internal *in = req->internal;
    struct http_strict_verdict *v = &in->refusal;

    if (v->status == 0 && !http_strict_headers(in->conn, req->method, version, v))
        in->close = true;
    if (v->status == 0 && in->pattern && !decode_params(req, v))
        in->close = true;
    if (v->status != 0) {
        reply_refusal(req);
    } else if (declared_too_large(server, in->conn)) {
        reply_too_large(req, server->max_body);
    } else if (expects_continue(req, version)) {
        admit_early(server, req);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *server = cls;
    struct http_request *req = *con_cls;

    if (req == NULL)
        return MHD_NO; /* the URI callback could not allocate it: close */
    if (!req->internal->started) {
        request_begin(req, method);
        set_deadline(server, conn, true); /* the body, if any, must arrive within the same deadline */
        first_call(server, req, version);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        accumulate(server, req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct http_internal *in = req->internal;
    if (in->replied)
        return MHD_YES;
    set_deadline(server, conn, false); /* received whole: replying has no deadline */
    oom_clear(); /* what this call replies depends only on what fails from here on */
    if (in->suspended) {
        in->suspended = false; /* resumed: the handler finishes */
    } else if (in->body_lost) {
        http_reply_out_of_memory(req);
        return replied_or_close(in);
    } else if (in->body_too_large) {
        reply_too_large(req, server->max_body);
        return replied_or_close(in);
    } else if (in->route == NULL && strcmp(req->method, "OPTIONS") == 0 && in->allow[0]) {
        reply_preflight(req);
        return replied_or_close(in);
    } else if (in->route == NULL) {
        reply_routing_error(req);
        return replied_or_close(in);
    } else if (!handler_enter(server, in)) {
        reply_stopping(req);
        return replied_or_close(in);
    }
    enum http_next next = in->route->handler(req);
    if (next == HTTP_DONE && !in->replied)
        http_reply_problem(req, 500, "internal", "the request could not be answered", NULL);
    if (next == HTTP_DONE)
        handler_leave(server, in);
    return next == HTTP_DONE ? replied_or_close(in) : MHD_YES;
}

static void count_request(struct http_server *server, const struct http_internal *in, int64_t duration_ns)
{
    size_t index = in->route ? (size_t)(in->route - server->routes) : server->route_count;
    struct route_counters *c = &server->counters[index];
    int slot = HTTP_STATUS_SLOTS - 1;
    for (int i = 0; i < HTTP_STATUS_SLOTS - 1; i++) {
        if (http_tracked_statuses[i] == in->status)
            slot = i;
    }
    atomic_fetch_add(&c->by_status[slot], 1);
    atomic_fetch_add(&c->count, 1);
    atomic_fetch_add(&c->duration_ns, (unsigned long long)duration_ns);
    for (int b = 0; b < HTTP_DURATION_BUCKETS; b++) {
        if ((double)duration_ns / 1e9 <= http_duration_bounds[b])
            atomic_fetch_add(&c->duration_buckets[b], 1);
    }
}

void http_each_route_metrics(struct http_request *req, void (*each)(const struct http_route_metrics *m, void *arg),
                             void *arg)
{
    struct http_server *server = req->internal->server;
    for (size_t r = 0; r <= server->route_count; r++) {
        struct route_counters *c = &server->counters[r];
        struct http_route_metrics m = {
            .method = r < server->route_count ? server->routes[r].method : NULL,
            .pattern = r < server->route_count ? server->routes[r].pattern : NULL,
            .count = atomic_load(&c->count),
            .duration_sum = (double)atomic_load(&c->duration_ns) / 1e9,
        };
        for (int i = 0; i < HTTP_STATUS_SLOTS; i++)
            m.by_status[i] = atomic_load(&c->by_status[i]);
        for (int b = 0; b < HTTP_DURATION_BUCKETS; b++)
            m.duration_buckets[b] = atomic_load(&c->duration_buckets[b]);
        each(&m, arg);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_server *server = cls;
    struct http_request *req = *con_cls;

    if (req == NULL)
        return;
    struct http_internal *in = req->internal;
    if (!in->started) { /* its header block never arrived whole, or libmicrohttpd refused it */
        request_free(req);
        *con_cls = NULL;
        atomic_fetch_sub(&server->active, 1);
        return;
    }
    int64_t duration_ns = timefmt_monotonic_ns() - in->started_ns;
    struct log_request entry = {
        .method = req->method,
        .path = req->path,
        .status = in->replied ? in->status : 0,
        .bytes = in->reply_bytes,
        .duration_ms = (double)duration_ns / 1e6,
        .request_id = req->request_id,
    };
    log_request(&entry);
    handler_leave(server, in); /* a resumed connection can close before its handler runs again */
    count_request(server, in, duration_ns);
    set_deadline(server, conn, true); /* the next request on this connection */
    request_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&server->active, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    message[strcspn(message, "\n")] = '\0';
    log_warn("http: %s", message);
}

struct http_server *http_server_start(const struct http_server_options *options, char *err, size_t err_size)
{
    struct http_server *server = calloc(1, sizeof *server);
    unsigned threads = options->threads;

    if (server == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    server->listen_fd = options->listen_fd;
    server->max_body = options->max_body;
    server->routes = options->routes;
    server->route_count = options->route_count;
    server->app = options->app;
    server->cors_allowed = options->cors_allowed;
    atomic_init(&server->active, 0);
    atomic_init(&server->closing, false);
    atomic_init(&server->refusing, false);
    atomic_init(&server->handling, 0);
    server->request_timeout_ns = (int64_t)options->request_timeout_s * 1000000000;
    pthread_mutex_init(&server->trackers_lock, NULL);
    pthread_cond_init(&server->reaper_wake, NULL);
    server->counters = calloc(options->route_count + 1, sizeof *server->counters);
    if (server->counters == NULL) {
        snprintf(err, err_size, "out of memory");
        free(server);
        return NULL;
    }

    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, on_accept,
        server, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        options->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, server,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, server, MHD_OPTION_CONNECTION_TIMEOUT, options->request_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, options->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        options->max_connections_per_ip,
        /* Bounds the request line and headers (a larger header block is refused with 431). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(err, err_size, "libmicrohttpd failed to start");
        free(server->counters);
        free(server);
        return NULL;
    }
    server->listen_fd = -1; /* libmicrohttpd owns it now and closes it when stopped */
    server->reaper_running = pthread_create(&server->reaper, NULL, reaper_main, server) == 0;
    return server;
}

/* Not MHD_quiesce_daemon(): with a pool of epoll workers, libmicrohttpd 0.9.75 can race removing
 * the listen socket from a worker's epoll set and abort the process ("Failed to remove listen FD
 * from epoll set", seen in our tests). Refusing connections in the accept policy and closing kept-
 * alive ones after their reply stops new work just as well. */
void http_server_quiesce(struct http_server *server)
{
    atomic_store(&server->closing, true);
}

void http_server_drain(struct http_server *server, int timeout_ms)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int waited = 0; waited < timeout_ms && atomic_load(&server->active) > 0; waited += 10)
        nanosleep(&pause, NULL);
}

void http_server_refuse(struct http_server *server)
{
    struct timespec pause = {0, 1000 * 1000};
    atomic_store(&server->closing, true);
    atomic_store(&server->refusing, true);
    /* No timeout: what is counted is either running a handler (bounded work) or waiting for the
     * writer, which is still running and resumes every job it was given. */
    while (atomic_load(&server->handling) > 0)
        nanosleep(&pause, NULL);
}

void http_server_stop(struct http_server *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    pthread_mutex_lock(&server->trackers_lock);
    server->stopping = true;
    pthread_cond_signal(&server->reaper_wake);
    pthread_mutex_unlock(&server->trackers_lock);
    if (server->reaper_running)
        pthread_join(server->reaper, NULL);
    pthread_cond_destroy(&server->reaper_wake);
    pthread_mutex_destroy(&server->trackers_lock);
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    free(server->counters);
    free(server);
}
