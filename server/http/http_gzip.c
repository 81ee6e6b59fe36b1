#include "http_gzip.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Level 5: most of level 9's ratio on JSON at about three times its speed; replies are compressed
 * per request on the hot path (a cached metrics reply too), on machines of two cores. */
#define GZIP_LEVEL 5
#define GZIP_FRAMING 16 /* added to windowBits: gzip framing rather than zlib's */

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The q-value of one list member's parameters ("; q=0.5"): 1 when absent. Only "is it zero"
 * matters here, and a malformed weight counts as acceptance, as most servers read it. */
static bool weight_is_zero(const char *params, size_t len)
{
    const char *p = params, *end = params + len;

    while (p < end) {
        p = skip_space(p);
        if (p + 2 <= end && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p >= end || *p != '0')
                return false;
            for (p++; p < end && (*p == '.' || *p == '0'); p++)
                ;
            p = skip_space(p);
            return p >= end || *p == ';';
        }
        const char *semi = memchr(p, ';', (size_t)(end - p));
        p = semi ? semi + 1 : end;
    }
    return false;
}

static bool token_is(const char *p, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

bool http_gzip_accepted(const char *accept_encoding)
{
    int gzip = -1, star = -1; /* -1 not named, 0 refused (q=0), 1 accepted */
    const char *p = accept_encoding;

    while (p && *p) {
        p = skip_space(p);
        size_t member = strcspn(p, ",");
        size_t coding = strcspn(p, ",; \t");
        if (coding > member)
            coding = member;
        const char *params = memchr(p, ';', member);
        bool zero = params ? weight_is_zero(params + 1, member - (size_t)(params + 1 - p)) : false;
        if (token_is(p, coding, "gzip") || token_is(p, coding, "x-gzip"))
            gzip = zero ? (gzip == 1 ? 1 : 0) : 1;
        else if (token_is(p, coding, "*"))
            star = zero ? 0 : 1;
        p += member;
        if (*p == ',')
            p++;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

bool http_gzip_compressible(const char *content_type)
{
    static const char *const types[] = {"application/json", "application/problem+json", "application/javascript",
                                        "text/", "image/svg+xml"};
    if (content_type == NULL)
        return false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strncasecmp(content_type, types[i], strlen(types[i])) == 0)
            return true;
    }
    return false;
}

char *http_gzip_compress(const char *data, size_t len, size_t *out_len)
{
    z_stream z = {0};
    char *out = NULL;

    if (len > (size_t)UINT32_MAX / 2) /* zlib counts in uInt: a reply never gets near this */
        return NULL;
    /* A window no larger than the body, and a hash table to match: zlib's state for a 4 KiB reply is
     * then 48 KiB instead of 256 KiB, allocated and freed per reply, for about the same ratio. */
    int window_bits = 9;
    while (window_bits < 15 && ((size_t)1 << window_bits) < len)
        window_bits++;
    int mem_level = window_bits - 6 < 8 ? window_bits - 6 : 8;
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, window_bits + GZIP_FRAMING, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    /* deflateBound is a true bound for gzip framing too, so one deflate(Z_FINISH) always ends it. */
    size_t cap = deflateBound(&z, (uLong)len);
    out = malloc(cap);
    if (out == NULL)
        goto fail;
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= len)
        goto fail;
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;

fail:
    free(out);
    deflateEnd(&z);
    return NULL;
}
