#include "text_fold.h"

#include <stdlib.h>
#include <string.h>

#include "text_fold_tables.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool in_ranges(const uint32_t (*ranges)[2], size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < ranges[mid][0])
            hi = mid;
        else if (c > ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool text_fold_starts_token(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return in_ranges(text_fold_token_ranges, COUNT(text_fold_token_ranges), c);
}

bool text_fold_continues_token(uint32_t c)
{
    return text_fold_starts_token(c)
        || in_ranges(text_fold_continue_ranges, COUNT(text_fold_continue_ranges), c);
}

uint32_t text_fold_char(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    size_t lo = 0, hi = COUNT(text_fold_pairs);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < text_fold_pairs[mid][0])
            hi = mid;
        else if (c > text_fold_pairs[mid][0])
            lo = mid + 1;
        else
            return text_fold_pairs[mid][1];
    }
    return c;
}

size_t text_fold_decode(const char *text, size_t len, uint32_t *c)
{
    const unsigned char *s = (const unsigned char *)text;
    if (len == 0)
        return 0;
    if (s[0] < 0x80) {
        *c = s[0];
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, v = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, v = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *c = v;
    return n;
}

size_t text_fold_encode(uint32_t c, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* The code point at text[at]; an ill-formed byte reads as one U+FFFD (a separator) of one byte. */
static size_t read_char(const char *text, size_t len, size_t at, uint32_t *c)
{
    size_t n = text_fold_decode(text + at, len - at, c);
    if (n == 0) {
        *c = 0xFFFD;
        n = 1;
    }
    return n;
}

char *text_fold(const char *text, size_t len, size_t *out_len)
{
    /* A folded character can take more bytes than the original (Ⱥ U+023A, 2 bytes → ⱥ U+2C65, 3),
     * never more than twice as many (ASCII folds to ASCII). */
    char *out = malloc(len * 2 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    bool in_token = false;
    for (size_t at = 0; at < len;) {
        uint32_t c;
        size_t n = text_fold_decode(text + at, len - at, &c);
        if (n == 0) {
            out[o++] = text[at++];
            in_token = false;
            continue;
        }
        in_token = in_token ? text_fold_continues_token(c) : text_fold_starts_token(c);
        if (in_token) {
            uint32_t f = text_fold_char(c);
            if (f)
                o += text_fold_encode(f, out + o);
        } else {
            memcpy(out + o, text + at, n);
            o += n;
        }
        at += n;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

void text_fold_cursor_init(struct text_fold_cursor *cursor, const char *text, size_t len)
{
    *cursor = (struct text_fold_cursor){.text = text, .len = len};
}

static bool reserve(struct text_fold_cursor *cursor, size_t need)
{
    if (need <= cursor->cap)
        return true;
    size_t cap = cursor->cap ? cursor->cap : 64;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(cursor->buf, cap);
    if (grown == NULL)
        return false;
    cursor->buf = grown;
    cursor->cap = cap;
    return true;
}

int text_fold_next(struct text_fold_cursor *cursor, struct text_fold_token *token)
{
    uint32_t c = 0;
    size_t n = 0;
    /* Separators first, then the token; as in fts5UnicodeTokenize, a diacritic can't start one. */
    while (cursor->at < cursor->len) {
        n = read_char(cursor->text, cursor->len, cursor->at, &c);
        if (text_fold_starts_token(c))
            break;
        cursor->at += n;
        cursor->chars++;
    }
    if (cursor->at >= cursor->len)
        return 0;
    token->byte_start = cursor->at;
    token->char_start = cursor->chars;
    size_t o = 0;
    do {
        if (!reserve(cursor, o + 5))
            return -1;
        uint32_t f = text_fold_char(c);
        if (f)
            o += text_fold_encode(f, cursor->buf + o);
        cursor->at += n;
        cursor->chars++;
        if (cursor->at >= cursor->len)
            break;
        n = read_char(cursor->text, cursor->len, cursor->at, &c);
    } while (text_fold_continues_token(c));
    cursor->buf[o] = '\0';
    token->byte_length = cursor->at - token->byte_start;
    token->char_length = cursor->chars - token->char_start;
    token->folded = cursor->buf;
    token->folded_length = o;
    return 1;
}

void text_fold_cursor_free(struct text_fold_cursor *cursor)
{
    free(cursor->buf);
    cursor->buf = NULL;
    cursor->cap = 0;
}
