/* libmicrohttpd glue: knows HTTP, nothing about surveys. Accumulates request bodies within a limit,
 * routes from one table, writes JSON and problem+json replies, logs every request.
 *
 * A handler runs once the whole request has arrived, and must either queue a reply (http_reply_*)
 * and return HTTP_DONE, or call http_suspend() and return HTTP_SUSPENDED; after another thread calls
 * http_resume(), the same handler runs again and must then reply. Replies are only ever queued from
 * this final call: queueing earlier makes libmicrohttpd close keep-alive connections. */
#ifndef SURVEYD_HTTP_H
#define SURVEYD_HTTP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_PARAMS 4
#define HTTP_PARAM_MAX 512    /* 128 code points of 4-byte UTF-8 */
#define HTTP_REQUEST_ID_MAX 128

enum http_next { HTTP_DONE, HTTP_SUSPENDED };

struct http_request;
typedef enum http_next (*http_handler_fn)(struct http_request *req);

struct http_route {
    const char *method;     /* GET also answers HEAD */
    const char *pattern;    /* "/v1/surveys/ * /responses": '*' (no spaces) matches one segment;
                             * a final '**' (literal segments may follow) matches one or more,
                             * slashes included, for opaque ids such as customers' */
    http_handler_fn handler;
    /* Optional. For a client that sends "Expect: 100-continue", called before its body is read;
     * refuses by queuing the reply (401, 403...) and returning false. It must only refuse what
     * the handler would refuse anyway. */
    bool (*admit)(struct http_request *req);
};

struct http_request {
    void *app;                                  /* the server's application context */
    const char *method;
    const char *path;                           /* as sent (still percent-encoded), without the query */
    char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1]; /* the segments '*' matched, in order, decoded */
    const char *body;                           /* NUL-terminated for convenience; may hold NULs */
    size_t body_len;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    void *state;                                /* the handler's, kept across suspension */
    void (*state_free)(void *state);            /* called when the request ends */
    struct http_internal *internal;
};

struct http_server_options {
    int listen_fd;              /* bound and listening */
    unsigned threads;
    size_t max_body;
    unsigned max_connections;           /* in all */
    unsigned max_connections_per_ip;
    unsigned request_timeout_s;         /* to receive a whole request, and idle keep-alive */
    const struct http_route *routes;
    size_t route_count;
    void *app;
    /* May a browser page of this Origin read replies to this request? Asked at most once a request. */
    bool (*cors_allowed)(struct http_request *req, const char *origin);
};

struct http_server;

struct http_server *http_server_start(const struct http_server_options *options, char *err, size_t err_size);

/* Stops accepting new connections; requests in progress go on. */
void http_server_quiesce(struct http_server *server);

/* Waits until no request is in progress, at most timeout_ms. */
void http_server_drain(struct http_server *server, int timeout_ms);

/* Answers 503 (and closes) to every request that would reach a handler from now on, and waits
 * until no handler runs and no request waits suspended. Afterwards no handler touches the
 * application again: once http_server_stop() returns, what handlers use (the writer) may go. */
void http_server_refuse(struct http_server *server);

/* Closes every connection, including those still sending a request, and frees the server. */
void http_server_stop(struct http_server *server);

/* Binds and listens on "ADDR:PORT" ("[v6]:PORT" for IPv6). Returns the socket or -1 with err set;
 * *port_out is the bound port (useful with port 0). */
int http_listen(const char *address, char *err, size_t err_size, char *bound, size_t bound_size);

/* ---- reading the request ---- */
const char *http_header(struct http_request *req, const char *name);
const char *http_query(struct http_request *req, const char *name);

/* Calls each(name, value, arg) for every query-string parameter, in order; value is NULL for a
 * parameter without '='. */
void http_each_query(struct http_request *req, void (*each)(const char *name, const char *value, void *arg),
                     void *arg);

/* The socket peer's address as text ("" if unknown). */
void http_peer_address(struct http_request *req, char *out, size_t size);

/* The media type of the body without parameters, lower-cased into buf; "" when absent. */
const char *http_media_type(struct http_request *req, char *buf, size_t size);

/* ---- replies (from the final handler call only) ---- */

/* Adds a header to the reply about to be queued (copied). */
void http_add_header(struct http_request *req, const char *name, const char *value);

void http_reply_json(struct http_request *req, unsigned status, cJSON *body);            /* takes body */
void http_reply_json_text(struct http_request *req, unsigned status, char *text);       /* takes text */
void http_reply_empty(struct http_request *req, unsigned status);

/* 500 internal "out of memory", from a static body: for when what the reply needs cannot be allocated.
 * Staged headers are not sent with it. */
void http_reply_out_of_memory(struct http_request *req);
void http_reply_body(struct http_request *req, unsigned status, char *body, size_t len,
                     const char *content_type); /* takes body (malloc'd) */

/* A body of unknown length, sent chunked as fill() produces it: fill writes up to max bytes into buf
 * and returns how many, 0 at the end, or -1 on an error (the connection is then cut, so the client
 * sees an incomplete chunked body rather than a silently short one). release(arg) runs when the
 * reply is done or abandoned. Memory stays constant whatever the size. */
typedef long (*http_fill_fn)(void *arg, char *buf, size_t max);
void http_reply_stream(struct http_request *req, unsigned status, const char *content_type, http_fill_fn fill,
                       void *arg, void (*release)(void *arg));

/* Closes this connection once it has been idle (nothing read from the client, nothing taken by its
 * socket) for `seconds`, instead of after the server-wide request timeout: for streamed replies
 * whose client stops reading. */
void http_set_idle_timeout(struct http_request *req, unsigned seconds);

/* RFC 9457 problem details: {"type", "title", "status", "detail", "code"} plus the members of extra
 * (taken, may be NULL), e.g. "errors" or "id". */
void http_reply_problem(struct http_request *req, unsigned status, const char *code, const char *detail,
                        cJSON *extra);

/* True when the request carries an Origin header that cors_allowed refused. */
bool http_origin_refused(struct http_request *req);

/* ---- statistics, for /metrics ---- */

#define HTTP_STATUS_SLOTS 18
#define HTTP_DURATION_BUCKETS 12

extern const unsigned http_tracked_statuses[HTTP_STATUS_SLOTS];  /* the last slot counts any other */
extern const double http_duration_bounds[HTTP_DURATION_BUCKETS]; /* seconds, upper bounds (le) */

struct http_route_metrics {
    const char *method;         /* NULL for requests that matched no route */
    const char *pattern;
    uint64_t by_status[HTTP_STATUS_SLOTS];
    uint64_t duration_buckets[HTTP_DURATION_BUCKETS]; /* cumulative counts per bound */
    uint64_t count;
    double duration_sum;        /* seconds */
};

/* Calls each() for every route (and once for unmatched requests) with a snapshot of its counters. */
void http_each_route_metrics(struct http_request *req, void (*each)(const struct http_route_metrics *m, void *arg),
                             void *arg);

/* ---- suspension ---- */
void http_suspend(struct http_request *req);
void http_resume(struct http_request *req);     /* any thread */

#endif
