/* The browser clients, embedded at build time (server/web/embed.py): no files to deploy. */
#ifndef SURVEYD_ASSETS_H
#define SURVEYD_ASSETS_H

#include <stddef.h>

#include "http.h"

struct asset {
    const char *path;           /* "/widget.js" */
    const char *content_type;
    const unsigned char *data;
    size_t size;
    const char *etag;           /* strong, from the content */
    const char *version;        /* the ETag's value without quotes: "?v=" of the immutable URL */
    const unsigned char *gz_data; /* the same, gzip-coded at build time; NULL when that is no smaller */
    size_t gz_size;
    const char *gz_etag;        /* strong, of the gzip-coded bytes */
};

extern const struct asset assets[];
extern const int asset_count;

/* GET /widget.js, GET /dashboard and GET /favicon.ico: gzip-coded for a client that accepts it.
 * /widget.js?v=VERSION (the current version) may be cached for a year; every other URL revalidates. */
enum http_next assets_serve(struct http_request *req);

#endif
