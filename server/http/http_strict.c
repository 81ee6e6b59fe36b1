#include "http_strict.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define MAX_CHECKED_HEADERS 128

static bool refuse(struct http_strict_verdict *verdict, unsigned status, const char *code, const char *detail)
{
    *verdict = (struct http_strict_verdict){status, code, detail};
    return false;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte a "%HH" at p stands for, or -1 when p does not start a valid escape. */
static int escaped_byte(const char *p)
{
    if (p[0] != '%')
        return -1;
    int high = hex_value(p[1]);
    int low = high < 0 ? -1 : hex_value(p[2]);
    return low < 0 ? -1 : high * 16 + low;
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* ---- the request target ---- */

bool http_strict_target(const char *raw_target, struct http_strict_verdict *verdict)
{
    size_t path_len = strcspn(raw_target, "?");

    for (size_t i = 0; raw_target[i]; i++) {
        unsigned char c = (unsigned char)raw_target[i];
        if (c <= 0x20 || c == 0x7f)
            return refuse(verdict, 400, "invalid_path", "the request target holds a space or a control character");
        if (c != '%' || i >= path_len)
            continue;
        int byte = escaped_byte(raw_target + i);
        if (byte < 0)
            return refuse(verdict, 400, "invalid_path", "a '%' in the path is not followed by two hex digits");
        /* %00 would end the path for C code behind us ("/metrics%00" read as "/metrics"). */
        if (is_control((unsigned char)byte))
            return refuse(verdict, 400, "invalid_path", "the path holds an encoded NUL or control character");
    }
    return true;
}

bool http_strict_decode_param(const char *raw, bool allow_slash, char *out, size_t out_size,
                              struct http_strict_verdict *verdict)
{
    size_t o = 0;
    for (size_t i = 0; raw[i]; i++) {
        char c = raw[i];
        if (c == '%') {
            int byte = escaped_byte(raw + i); /* valid: http_strict_target checked every escape */
            if (byte < 0 || is_control((unsigned char)byte))
                return refuse(verdict, 400, "invalid_path", "the path holds an invalid escape");
            /* Routing splits the path at raw slashes; a proxy does the same. An id that decodes
             * to "a/b" would be read as two segments by one and as one by the other. */
            if (byte == '/' && !allow_slash)
                return refuse(verdict, 400, "invalid_path", "a path segment holds an encoded '/' (%2F)");
            c = (char)byte;
            i += 2;
        }
        if (o + 1 >= out_size)
            return refuse(verdict, 404, "not_found", "no such resource");
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* ---- headers ---- */

struct header_span {
    const char *key, *value;
    size_t key_len, value_len;
};

struct header_scan {
    struct header_span spans[MAX_CHECKED_HEADERS];
    size_t count;
    bool too_many;
    unsigned content_lengths, transfer_encodings;
    const char *transfer_encoding;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
    struct header_scan *scan = cls;
    (void)kind;
    if (scan->count == MAX_CHECKED_HEADERS) {
        scan->too_many = true;
        return MHD_NO;
    }
    scan->spans[scan->count++] = (struct header_span){key, value ? value : "", key_size, value ? value_size : 0};
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        scan->content_lengths++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        scan->transfer_encodings++;
        scan->transfer_encoding = value;
    }
    return MHD_YES;
}

/* RFC 9110 §5.6.2 token characters: a name with a space before its colon, or any other separator,
 * is one that proxies disagree about. */
static bool is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == '\0' || strchr(extra, c) == NULL))
            return false;
    }
    return true;
}

static bool value_clean(const struct header_span *h)
{
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char c = (unsigned char)h->value[i];
        if (is_control(c) && c != '\t')
            return false;
    }
    return true;
}

/* True when from..to (exclusive) is between min and max bytes, all NUL. */
static bool nul_gap(const char *from, const char *to, size_t min, size_t max)
{
    uintptr_t a = (uintptr_t)from, b = (uintptr_t)to;
    if (b < a || b - a < min || b - a > max)
        return false;
    for (; from < to; from++) {
        if (*from != '\0')
            return false;
    }
    return true;
}

/* True when from..to (exclusive) is the NUL libmicrohttpd wrote over the colon, then only spaces
 * and tabs (the whitespace it skipped before the value). */
static bool colon_gap(const char *from, const char *to)
{
    uintptr_t a = (uintptr_t)from, b = (uintptr_t)to;
    if (b <= a || b - a > 4096 || *from != '\0')
        return false;
    for (from++; from < to; from++) {
        if (*from != ' ' && *from != '\t')
            return false;
    }
    return true;
}

/* libmicrohttpd 0.9.75 hands header values over as C strings measured with strlen(), so
 * "Authorization: Bearer adm\0junk" arrives as "Bearer adm": the NUL itself can't be seen. But the
 * header block stays in its read buffer, in order, with each CR and LF overwritten by a NUL and
 * each colon by a NUL: so between the end of one value and the start of the next name there must
 * be one or two NULs and nothing else (and two to four before the end of the block). Anything else
 * there (what followed an embedded NUL, or a folded continuation line) refuses the request. */
static bool layout_exact(struct MHD_Connection *conn, const char *method, const char *version,
                         const struct header_scan *scan)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (info == NULL || version == NULL || version[0] == '\0')
        return true; /* nothing to measure against (HTTP/0.9 has no headers) */
    const char *end = method + info->header_size;
    const char *previous_end = version + strlen(version);

    for (size_t i = 0; i < scan->count; i++) {
        const struct header_span *h = &scan->spans[i];
        if (!nul_gap(previous_end, h->key, 1, 2) || !colon_gap(h->key + h->key_len, h->value))
            return false;
        previous_end = h->value + h->value_len;
    }
    return nul_gap(previous_end, end, 2, 4);
}

/* Every coding of a Transfer-Encoding list: only "chunked", once. */
static bool transfer_coding_known(const char *value, bool *only_chunked_once)
{
    unsigned chunked = 0;
    bool known = true;
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == 7 && strncasecmp(p, "chunked", 7) == 0)
            chunked++;
        else if (trimmed > 0)
            known = false;
        p += len;
    }
    *only_chunked_once = chunked == 1;
    return known;
}

static bool framing_clear(const struct header_scan *scan, const char *version, struct http_strict_verdict *verdict)
{
    if (scan->content_lengths > 1)
        return refuse(verdict, 400, "ambiguous_framing", "more than one Content-Length header");
    if (scan->transfer_encodings == 0)
        return true;
    if (scan->content_lengths > 0)
        return refuse(verdict, 400, "ambiguous_framing", "both Content-Length and Transfer-Encoding");
    if (scan->transfer_encodings > 1)
        return refuse(verdict, 400, "ambiguous_framing", "more than one Transfer-Encoding header");
    if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0)
        return refuse(verdict, 400, "ambiguous_framing", "Transfer-Encoding in a request older than HTTP/1.1");
    bool only_chunked_once = false;
    if (!transfer_coding_known(scan->transfer_encoding, &only_chunked_once))
        return refuse(verdict, 501, "unsupported_transfer_coding", "only the chunked transfer coding is supported");
    if (!only_chunked_once)
        return refuse(verdict, 400, "ambiguous_framing", "Transfer-Encoding must be exactly 'chunked'");
    return true;
}

bool http_strict_headers(struct MHD_Connection *conn, const char *method, const char *version,
                         struct http_strict_verdict *verdict)
{
    struct header_scan scan = {0};

    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect, &scan);
    if (scan.too_many)
        return refuse(verdict, 400, "invalid_header", "more than 128 header fields");
    for (size_t i = 0; i < scan.count; i++) {
        if (!is_token(scan.spans[i].key, scan.spans[i].key_len))
            return refuse(verdict, 400, "invalid_header", "a header name is not a token (RFC 9110 §5.6.2)");
        if (!value_clean(&scan.spans[i]))
            return refuse(verdict, 400, "invalid_header", "a header value holds a control character");
    }
    if (!layout_exact(conn, method, version, &scan))
        return refuse(verdict, 400, "invalid_header",
                      "a header value holds a NUL character, or a header line is folded (obs-fold)");
    return framing_clear(&scan, version, verdict);
}
