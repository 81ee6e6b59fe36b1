#include "health.h"

#include <string.h>

#include "api.h"

enum http_next health_live(struct http_request *req)
{
    http_reply_json_text(req, 200, strdup("{\"status\":\"ok\"}"));
    return HTTP_DONE;
}

enum http_next health_ready(struct http_request *req)
{
    struct app *app = api_app(req);
    if (!writer_healthy(app->writer) || !store_ping(store_reader(app->store))) {
        http_add_header(req, "Retry-After", "1");
        http_reply_problem(req, 503, "unavailable", "the database is not writable or the writer is not running",
                           NULL);
        return HTTP_DONE;
    }
    http_reply_json_text(req, 200, strdup("{\"status\":\"ready\"}"));
    return HTTP_DONE;
}
