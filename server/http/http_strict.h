/* Request hygiene (RFC 9112 §6, §5): what a proxy in front of surveyd could read differently from
 * surveyd is refused before routing, so both always agree on where a request ends, what it asks
 * for and who sends it. Part of the HTTP layer; knows nothing about surveys. */
#ifndef SURVEYD_HTTP_STRICT_H
#define SURVEYD_HTTP_STRICT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* Why a request is refused: status, stable problem code, detail. */
struct http_strict_verdict {
    unsigned status;
    const char *code;
    const char *detail;
};

/* The raw request target as it came on the wire (before libmicrohttpd decodes it): no bytes
 * below 0x21 or 0x7f, every '%' followed by two hex digits, and no escape of a control character
 * (%00-%1F, %7F) in the path. Query strings are the parameters' parsers' business. */
bool http_strict_target(const char *raw_target, struct http_strict_verdict *verdict);

/* Decodes one raw path parameter into out (at most out_size - 1 bytes). An encoded '/' is refused
 * unless allow_slash (an opaque id matched by '**' may hold slashes). Returns false with the
 * verdict set (or, for a decoded value too long, with verdict->status 404). */
bool http_strict_decode_param(const char *raw, bool allow_slash, char *out, size_t out_size,
                              struct http_strict_verdict *verdict);

/* The header block: names are tokens, values hold no control characters (HTAB aside) and no NUL
 * (which libmicrohttpd would silently cut the value at), at most one Content-Length, never with
 * Transfer-Encoding, and no transfer coding but a single "chunked" (501 otherwise). */
bool http_strict_headers(struct MHD_Connection *conn, const char *method, const char *version,
                         struct http_strict_verdict *verdict);

#endif
