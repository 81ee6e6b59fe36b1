/* Which web origins may call surveyd from a browser: SURVEYD_CORS_ORIGINS (comma-separated, or *)
 * for every endpoint, plus each survey's allowed_origins for that survey's endpoints. */
#ifndef SURVEYD_CORS_H
#define SURVEYD_CORS_H

#include <stdbool.h>

#include "http.h"

struct cors;

/* list: "https://a.example,https://b.example" or "*"; NULL or "" allows no cross-origin calls
 * beyond each survey's own list. Returns NULL with err set when an entry is not an origin. */
struct cors *cors_new(const char *list, char *err, size_t err_size);
void cors_free(struct cors *cors);

/* The http layer's question: may this request's Origin read the reply? Same-origin requests
 * (Origin matching Host) always may. */
bool cors_allowed(struct http_request *req, const char *origin);

#endif
