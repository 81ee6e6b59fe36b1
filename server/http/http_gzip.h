/* gzip content coding for replies (RFC 9110 §8.4.1, §12.5.3): whether a client accepts it, and
 * compressing a whole reply body with zlib. Knows HTTP header syntax, nothing about surveys. */
#ifndef SURVEYD_HTTP_GZIP_H
#define SURVEYD_HTTP_GZIP_H

#include <stdbool.h>
#include <stddef.h>

/* Bodies shorter than this go as they are: gzip's 18 bytes of framing and the CPU would buy little. */
#define HTTP_GZIP_MIN_SIZE 1024

/* True when an Accept-Encoding value (may be NULL) accepts gzip: "gzip" or "x-gzip" with a q-value
 * above 0, or, when neither is named, "*" with a q-value above 0. */
bool http_gzip_accepted(const char *accept_encoding);

/* True for media types worth compressing: JSON, problem+json, JavaScript, text, SVG. */
bool http_gzip_compressible(const char *content_type);

/* One gzip member holding data[0..len), in a new malloc'd buffer; NULL when zlib or the allocation
 * fails, or when the result would not be smaller (the caller then sends the body as it is). */
char *http_gzip_compress(const char *data, size_t len, size_t *out_len);

#endif
