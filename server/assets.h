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
};

extern const struct asset assets[];
extern const int asset_count;

/* GET /widget.js and GET /dashboard. */
enum http_next assets_serve(struct http_request *req);

#endif
