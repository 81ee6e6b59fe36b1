#include "assets.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http_gzip.h"

/* The dashboard runs only its own inline code and talks only to this origin. */
#define DASHBOARD_CSP                                                                                           \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; "        \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The bytes one reply sends: the asset as built, or its gzip-coded copy. */
struct variant {
    const unsigned char *data;
    size_t size;
    const char *etag;
    bool gzip;
};

static struct variant choose_variant(struct http_request *req, const struct asset *asset)
{
    if (asset->gz_data && http_gzip_accepted(http_header(req, "Accept-Encoding")))
        return (struct variant){asset->gz_data, asset->gz_size, asset->gz_etag, true};
    return (struct variant){asset->data, asset->size, asset->etag, false};
}

/* Embedding pages load the widget on every visit. Under its plain URL a browser keeps it for good but
 * asks each time whether it changed (a 304 of a few hundred bytes), so a new release reaches every
 * visitor at once. Under the URL of one exact build, /widget.js?v=VERSION, it cannot change: a year,
 * without asking. A stale or made-up version gets the current script, never cached blindly. */
static void add_cache_headers(struct http_request *req, const struct asset *asset)
{
    const char *version = http_query(req, "v");

    if (strcmp(asset->path, "/dashboard") == 0) {
        http_add_header(req, "Cache-Control", "no-cache");
        http_add_header(req, "Content-Security-Policy", DASHBOARD_CSP);
        http_add_header(req, "Referrer-Policy", "no-referrer");
    } else if (strcmp(asset->path, "/favicon.ico") == 0) {
        http_add_header(req, "Cache-Control", "public, max-age=86400");
    } else {
        if (version && strcmp(version, asset->version) == 0)
            http_add_header(req, "Cache-Control", "public, max-age=31536000, immutable");
        else
            http_add_header(req, "Cache-Control", "public, no-cache");
        http_add_header(req, "Cross-Origin-Resource-Policy", "cross-origin");
    }
}

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
    struct variant variant = choose_variant(req, asset);
    http_add_header(req, "ETag", variant.etag);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    add_cache_headers(req, asset);
    /* The 304 names the representation this client would get now: a copy of the other coding
     * (it changed its Accept-Encoding) is not the one it should keep. */
    const char *if_none_match = http_header(req, "If-None-Match");
    if (if_none_match && strstr(if_none_match, variant.etag)) {
        http_reply_empty(req, 304);
        return HTTP_DONE;
    }
    if (variant.gzip)
        http_add_header(req, "Content-Encoding", "gzip");
    char *body = malloc(variant.size + 1);
    if (body == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    memcpy(body, variant.data, variant.size);
    http_reply_body(req, 200, body, variant.size, asset->content_type);
    return HTTP_DONE;
}
