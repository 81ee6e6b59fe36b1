/*
 * Strict RFC 8259 validator, see json_strict.h.
 *
 * The scanner is iterative: nesting is tracked in a bit stack (one bit per
 * level: array or object) so hostile input like 100000 '[' cannot exhaust the
 * C stack, and the depth limit is enforced before anything is pushed.
 *
 * Every read is guarded by a comparison against the end pointer because
 * request bodies are not NUL-terminated; pointers are never formed past end.
 */
#include "json_strict.h"

#include <stdint.h>
#include <string.h>

struct scanner {
    const unsigned char *start;
    const unsigned char *p;
    const unsigned char *end;
    size_t error_offset;
    const char *error;
    bool too_deep;
    bool has_nul_escape;
};

enum scan_state {
    EXPECT_VALUE,
    EXPECT_KEY,
    AFTER_VALUE,
};

/* Always returns false so callers can write `return fail(...)`. Only the
 * first error is kept; later ones would just be consequences of it. */
static bool fail(struct scanner *s, const unsigned char *at, const char *message)
{
    if (!s->error) {
        s->error = message;
        s->error_offset = (size_t)(at - s->start);
    }
    return false;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 8259 whitespace is exactly these four; form feed, vertical tab, NBSP
 * and friends are deliberately not whitespace. */
static inline void skip_ws(struct scanner *s)
{
    const unsigned char *p = s->p;

    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    s->p = p;
}

/* A more useful message than "unexpected character" for the mistakes clients
 * actually make. */
static const char *unexpected_message(const struct scanner *s, const unsigned char *at)
{
    unsigned char c = *at;

    if (c == '\0')
        return "NUL byte outside string";
    if (c == 0xEF && at == s->start)
        return "byte order mark not allowed";
    if (c == '\f' || c == '\v')
        return "invalid whitespace character";
    if (c >= 0x80)
        return "non-ASCII byte outside string";
    return "unexpected character";
}

static bool scan_literal(struct scanner *s, const char *word, size_t word_len)
{
    size_t avail = (size_t)(s->end - s->p);

    if (avail < word_len || memcmp(s->p, word, word_len) != 0)
        return fail(s, s->p, "invalid literal");
    s->p += word_len;
    return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  Only the grammar is
 * checked; magnitude (1e400) is left to whoever converts the number. */
static bool scan_number(struct scanner *s)
{
    const unsigned char *p = s->p;
    const unsigned char *end = s->end;

    if (*p == '-')
        p++;
    if (p == end || !is_digit(*p))
        return fail(s, p, "expected digit in number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail(s, p, "leading zero in number");
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return fail(s, p, "expected digit after decimal point");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return fail(s, p, "expected digit in exponent");
        while (p < end && is_digit(*p))
            p++;
    }
    s->p = p;
    return true;
}

/* Reads the four hex digits at q; q may equal end. */
static bool read_hex4(struct scanner *s, const unsigned char *q, unsigned *out)
{
    unsigned value = 0;

    for (int i = 0; i < 4; i++) {
        if (q == s->end)
            return fail(s, q, "unterminated \\u escape");
        int digit = hex_value(*q);
        if (digit < 0)
            return fail(s, q, "invalid hex digit in \\u escape");
        value = (value << 4) | (unsigned)digit;
        q++;
    }
    *out = value;
    return true;
}

/* *pp points at a backslash inside a string. Surrogate escapes must come as
 * a high/low pair because a lone one cannot be turned into UTF-8, and
 * downstream code (SQLite, responses) must only ever see valid UTF-8. */
static bool scan_escape(struct scanner *s, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    const unsigned char *end = s->end;
    unsigned cp, low;

    if (end - p < 2)
        return fail(s, end, "unterminated escape sequence");
    switch (p[1]) {
    case '"': case '\\': case '/':
    case 'b': case 'f': case 'n': case 'r': case 't':
        *pp = p + 2;
        return true;
    case 'u':
        break;
    default:
        return fail(s, p + 1, "invalid escape character");
    }

    if (!read_hex4(s, p + 2, &cp))
        return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(s, p, "unpaired low surrogate escape");
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
            return fail(s, p, "high surrogate escape not followed by low surrogate");
        if (!read_hex4(s, p + 2, &low))
            return false;
        if (low < 0xDC00 || low > 0xDFFF)
            return fail(s, p, "high surrogate escape not followed by low surrogate");
        p += 6;
    }
    if (cp == 0)
        s->has_nul_escape = true;
    *pp = p;
    return true;
}

/* *pp points at a byte >= 0x80 inside a string. Ranges follow the
 * well-formed byte sequence table of Unicode 15 (table 3-7), which rules out
 * overlongs, UTF-8 encoded surrogates and code points above U+10FFFF by
 * constraining the second byte only. */
static bool scan_utf8(struct scanner *s, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    size_t avail = (size_t)(s->end - p);
    unsigned char lead = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    const char *range_error = "invalid UTF-8 continuation byte";
    size_t need;

    if (lead < 0xC0)
        return fail(s, p, "unexpected UTF-8 continuation byte");
    if (lead < 0xC2)
        return fail(s, p, "overlong UTF-8 sequence");
    if (lead < 0xE0) {
        need = 1;
    } else if (lead < 0xF0) {
        need = 2;
        if (lead == 0xE0) {
            lo = 0xA0;
            range_error = "overlong UTF-8 sequence";
        } else if (lead == 0xED) {
            hi = 0x9F;
            range_error = "UTF-8 encoded surrogate";
        }
    } else if (lead < 0xF5) {
        need = 3;
        if (lead == 0xF0) {
            lo = 0x90;
            range_error = "overlong UTF-8 sequence";
        } else if (lead == 0xF4) {
            hi = 0x8F;
            range_error = "UTF-8 code point above U+10FFFF";
        }
    } else if (lead < 0xF8) {
        return fail(s, p, "UTF-8 code point above U+10FFFF");
    } else {
        return fail(s, p, "invalid UTF-8 byte");
    }

    for (size_t i = 1; i <= need; i++) {
        if (i >= avail)
            return fail(s, s->end, "truncated UTF-8 sequence");
        unsigned char c = p[i];
        if (i == 1 && (c >= 0x80 && c <= 0xBF) && (c < lo || c > hi))
            return fail(s, p, range_error);
        if (c < 0x80 || c > 0xBF)
            return fail(s, p + i, "invalid UTF-8 continuation byte");
    }
    *pp = p + need + 1;
    return true;
}

/* s->p points at the opening quote. */
static bool scan_string(struct scanner *s)
{
    const unsigned char *p = s->p + 1;
    const unsigned char *end = s->end;

    for (;;) {
        /* Fast path: the bulk of real bodies is printable ASCII. */
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p == end)
            return fail(s, end, "unterminated string");

        unsigned char c = *p;
        if (c == '"') {
            s->p = p + 1;
            return true;
        }
        if (c == '\\') {
            if (!scan_escape(s, &p))
                return false;
        } else if (c < 0x20) {
            return fail(s, p, c == '\0' ? "NUL byte in string"
                                        : "unescaped control character in string");
        } else if (!scan_utf8(s, &p)) {
            return false;
        }
    }
}

/* One bit per nesting level: set for object, clear for array. The first
 * level of each byte overwrites the whole byte, so the array never needs
 * clearing up front and no indeterminate bits are ever read. */
static inline void stack_set(uint8_t *stack, int level, bool is_object)
{
    uint8_t mask = (uint8_t)(1u << (level & 7));

    if ((level & 7) == 0)
        stack[level >> 3] = is_object ? mask : 0;
    else if (is_object)
        stack[level >> 3] |= mask;
    else
        stack[level >> 3] &= (uint8_t)~mask;
}

static inline bool stack_is_object(const uint8_t *stack, int level)
{
    return (stack[level >> 3] >> (level & 7)) & 1u;
}

static bool scan(struct scanner *s, int max_depth)
{
    uint8_t stack[JSON_STRICT_DEPTH_LIMIT / 8];
    int depth = 0;
    enum scan_state state = EXPECT_VALUE;

    skip_ws(s);
    if (s->p == s->end)
        return fail(s, s->end, "empty input");

    for (;;) {
        switch (state) {
        case EXPECT_VALUE: {
            skip_ws(s);
            if (s->p == s->end)
                return fail(s, s->end, "unexpected end of input, expected value");

            unsigned char c = *s->p;
            switch (c) {
            case '[':
            case '{': {
                bool is_object = c == '{';
                if (depth >= max_depth) {
                    s->too_deep = true;
                    return fail(s, s->p, "nesting too deep");
                }
                stack_set(stack, depth++, is_object);
                s->p++;
                skip_ws(s);
                if (s->p < s->end && *s->p == (is_object ? '}' : ']')) {
                    s->p++;
                    depth--;
                    state = AFTER_VALUE;
                } else {
                    state = is_object ? EXPECT_KEY : EXPECT_VALUE;
                }
                continue;
            }
            case '"':
                if (!scan_string(s))
                    return false;
                break;
            case '-':
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                if (!scan_number(s))
                    return false;
                break;
            case 't':
                if (!scan_literal(s, "true", 4))
                    return false;
                break;
            case 'f':
                if (!scan_literal(s, "false", 5))
                    return false;
                break;
            case 'n':
                if (!scan_literal(s, "null", 4))
                    return false;
                break;
            default:
                return fail(s, s->p, unexpected_message(s, s->p));
            }
            state = AFTER_VALUE;
            continue;
        }

        case EXPECT_KEY:
            skip_ws(s);
            if (s->p == s->end)
                return fail(s, s->end, "unexpected end of input, expected object key");
            if (*s->p != '"')
                return fail(s, s->p, "expected string as object key");
            if (!scan_string(s))
                return false;
            skip_ws(s);
            if (s->p == s->end)
                return fail(s, s->end, "unexpected end of input, expected ':'");
            if (*s->p != ':')
                return fail(s, s->p, "expected ':' after object key");
            s->p++;
            state = EXPECT_VALUE;
            continue;

        case AFTER_VALUE: {
            skip_ws(s);
            if (depth == 0) {
                if (s->p != s->end)
                    return fail(s, s->p, "trailing characters after JSON value");
                return true;
            }

            bool in_object = stack_is_object(stack, depth - 1);
            if (s->p == s->end)
                return fail(s, s->end, in_object ? "unterminated object" : "unterminated array");

            unsigned char c = *s->p;
            if (c == ',') {
                s->p++;
                state = in_object ? EXPECT_KEY : EXPECT_VALUE;
            } else if (c == (in_object ? '}' : ']')) {
                s->p++;
                depth--;
            } else {
                return fail(s, s->p, in_object ? "expected ',' or '}' in object"
                                               : "expected ',' or ']' in array");
            }
            continue;
        }
        }
    }
}

bool json_strict_check(const char *buf, size_t len, int max_depth, struct json_strict_result *res)
{
    const unsigned char *start = (const unsigned char *)buf;
    struct scanner s = { .start = start, .p = start };
    bool ok;

    if (max_depth < 0)
        max_depth = 0;
    if (max_depth > JSON_STRICT_DEPTH_LIMIT)
        max_depth = JSON_STRICT_DEPTH_LIMIT;

    /* Handled up front because buf may be NULL here, and arithmetic or
     * ordering comparisons on a null pointer are undefined behaviour. */
    if (len == 0) {
        s.error = "empty input";
        ok = false;
    } else {
        s.end = start + len;
        ok = scan(&s, max_depth);
    }

    if (res) {
        res->offset = ok ? 0 : s.error_offset;
        res->message = ok ? NULL : s.error;
        res->too_deep = !ok && s.too_deep;
        res->has_nul_escape = ok && s.has_nul_escape;
    }
    return ok;
}
