#include "assets.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"

/* The dashboard runs only its own inline code and talks only to this origin. */
#define DASHBOARD_CSP                                                                                           \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; "        \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

enum http_next assets_serve(struct http_request *req)
{
    const struct asset *asset = NULL;
    for (int i = 0; i < asset_count; i++) {
        if (strcmp(assets[i].path, req->path) == 0)
            asset = &assets[i];
    }
    if (asset == NULL) {
        api_reply_store_error(req, STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    http_add_header(req, "ETag", asset->etag);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    if (strcmp(asset->path, "/dashboard") == 0) {
        http_add_header(req, "Cache-Control", "no-cache");
        http_add_header(req, "Content-Security-Policy", DASHBOARD_CSP);
        http_add_header(req, "Referrer-Policy", "no-referrer");
    } else {
        /* Embedding pages load the widget on every visit: let browsers keep it a few minutes. */
        http_add_header(req, "Cache-Control", "public, max-age=300");
        http_add_header(req, "Cross-Origin-Resource-Policy", "cross-origin");
    }
    const char *if_none_match = http_header(req, "If-None-Match");
    if (if_none_match && strstr(if_none_match, asset->etag)) {
        http_reply_empty(req, 304);
        return HTTP_DONE;
    }
    char *body = malloc(asset->size + 1);
    if (body == NULL)
        return HTTP_DONE;
    memcpy(body, asset->data, asset->size);
    http_reply_body(req, 200, body, asset->size, asset->content_type);
    return HTTP_DONE;
}
