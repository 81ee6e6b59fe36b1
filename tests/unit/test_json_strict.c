/*
 * Unit tests for server/json_strict.c.
 *
 * Every input is copied into an exact-size heap buffer before it is checked,
 * so under -fsanitize=address any read past buf + len is caught; the
 * validator must never rely on a NUL terminator.
 *
 * Run without arguments: the hand-written cases, including one per input
 * class of the JSONTestSuite corpus, so a plain clone tests everything.
 * Run as "test_json_strict corpus": the corpus itself, read from
 * $JSON_TEST_SUITE_DIR (default ../shared/testdata/JSONTestSuite/test_parsing,
 * which lives outside the repository). Where that directory is missing the
 * run says so and exits 77, meson's code for a skipped test; a directory
 * that exists but lacks y_/n_/i_ files is still a failure.
 */
#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"

#define DEFAULT_CORPUS_DIR "../shared/testdata/JSONTestSuite/test_parsing"

static bool run_check(const void *data, size_t len, int max_depth, struct json_strict_result *res)
{
    unsigned char *copy = malloc(len ? len : 1);
    bool ok;

    ck_assert_ptr_nonnull(copy);
    if (len)
        memcpy(copy, data, len);
    memset(res, 0xA5, sizeof(*res)); /* every field must be written */
    ok = json_strict_check((const char *)copy, len, max_depth, res);
    free(copy);

    if (ok) {
        ck_assert_ptr_null(res->message);
        ck_assert(!res->too_deep);
    } else {
        ck_assert_ptr_nonnull(res->message);
        ck_assert_uint_le(res->offset, len);
        ck_assert(!res->has_nul_escape);
    }
    return ok;
}

static void expect_accept(const char *data, size_t len, int max_depth, int line)
{
    struct json_strict_result res;

    ck_assert_msg(run_check(data, len, max_depth, &res),
                  "line %d: expected accept, got \"%s\" at offset %zu",
                  line, res.message, res.offset);
}

static void expect_reject(const char *data, size_t len, int max_depth, int line,
                          struct json_strict_result *res)
{
    ck_assert_msg(!run_check(data, len, max_depth, res), "line %d: expected reject", line);
}

/* Literals rather than strlen so inputs may contain NUL bytes. */
#define ACCEPT(lit) expect_accept((lit), sizeof(lit) - 1, JSON_STRICT_MAX_DEPTH, __LINE__)

#define REJECT(lit)                                                                     \
    do {                                                                                \
        struct json_strict_result r_;                                                   \
        expect_reject((lit), sizeof(lit) - 1, JSON_STRICT_MAX_DEPTH, __LINE__, &r_);    \
    } while (0)

#define REJECT_AT(lit, off, msg)                                                        \
    do {                                                                                \
        struct json_strict_result r_;                                                   \
        expect_reject((lit), sizeof(lit) - 1, JSON_STRICT_MAX_DEPTH, __LINE__, &r_);    \
        ck_assert_uint_eq(r_.offset, (off));                                            \
        ck_assert_str_eq(r_.message, (msg));                                            \
        ck_assert(!r_.too_deep);                                                        \
    } while (0)

/* ---- numbers ---------------------------------------------------------- */

START_TEST(test_numbers_valid)
{
    ACCEPT("0");
    ACCEPT("-0");
    ACCEPT("-0.0");
    ACCEPT("1");
    ACCEPT("-1");
    ACCEPT("10");
    ACCEPT("1234567890");
    ACCEPT("0.5");
    ACCEPT("1.0001");
    ACCEPT("1e5");
    ACCEPT("1E5");
    ACCEPT("1e+5");
    ACCEPT("1e-5");
    ACCEPT("0e0");
    ACCEPT("1.5e10");
    ACCEPT("-1.5E-007");
    ACCEPT("1e400");
    ACCEPT("-1e-400");
    ACCEPT("123456789012345678901234567890123456789");
    ACCEPT("[0,-0,1.5,2e3]");
}
END_TEST

START_TEST(test_numbers_invalid)
{
    REJECT_AT("01", 1, "leading zero in number");
    REJECT_AT("-01", 2, "leading zero in number");
    REJECT_AT("00", 1, "leading zero in number");
    REJECT_AT("[012]", 2, "leading zero in number");
    REJECT_AT("1.", 2, "expected digit after decimal point");
    REJECT_AT("2.e3", 2, "expected digit after decimal point");
    REJECT_AT("[1.]", 3, "expected digit after decimal point");
    REJECT_AT("-", 1, "expected digit in number");
    REJECT_AT("-a", 1, "expected digit in number");
    REJECT_AT("- 1", 1, "expected digit in number");
    REJECT_AT("1e", 2, "expected digit in exponent");
    REJECT_AT("1e+", 3, "expected digit in exponent");
    REJECT_AT("1E-x", 3, "expected digit in exponent");
    REJECT_AT(".5", 0, "unexpected character");
    REJECT_AT("+1", 0, "unexpected character");
    REJECT_AT("0x1", 1, "trailing characters after JSON value");
    REJECT_AT("1.5.3", 3, "trailing characters after JSON value");
    REJECT_AT("1 2", 2, "trailing characters after JSON value");
    REJECT("Infinity");
    REJECT("-Infinity");
    REJECT("NaN");
    REJECT("1e5e5");
}
END_TEST

/* ---- literals --------------------------------------------------------- */

START_TEST(test_literals)
{
    ACCEPT("true");
    ACCEPT("false");
    ACCEPT("null");
    ACCEPT("[true,false,null]");
    REJECT_AT("tru", 0, "invalid literal");
    REJECT_AT("nul", 0, "invalid literal");
    REJECT_AT("True", 0, "unexpected character");
    REJECT_AT("nULL", 0, "invalid literal");
    REJECT_AT("truee", 4, "trailing characters after JSON value");
    REJECT_AT("nulll", 4, "trailing characters after JSON value");
    REJECT_AT("[fals]", 1, "invalid literal");
    REJECT("t");
    REJECT("undefined");
}
END_TEST

/* ---- strings and escapes --------------------------------------------- */

START_TEST(test_strings_valid)
{
    struct json_strict_result res;

    ACCEPT("\"\"");
    ACCEPT("\"abc\"");
    ACCEPT("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"");
    ACCEPT("\"\\u0041\\u00e9\\uABCD\\uffff\"");
    ACCEPT("\"\\uD834\\uDD1E\"");
    ACCEPT("\"\\ud834\\udd1e\"");
    ACCEPT("\"\\uDBFF\\uDFFF\"");
    ACCEPT("\"\\uD7FF\\uE000\"");
    ACCEPT("\"\x7f\""); /* DEL is not a control character in JSON */
    ACCEPT("\"/\"");

    /* \u0000 is valid JSON; the flag lets the caller reject it. */
    ck_assert(run_check("\"\\u0000\"", 8, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(res.has_nul_escape);
    ck_assert(run_check("{\"a\\u0000b\":1}", 14, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(res.has_nul_escape);
    ck_assert(run_check("[1,{\"k\":[\"x\\u0000\"]}]", 21, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(res.has_nul_escape);
    /* An escaped backslash followed by "u0000" is not a NUL. */
    ck_assert(run_check("\"\\\\u0000\"", 9, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(!res.has_nul_escape);
    ck_assert(run_check("\"\\u0001\\u0100\"", 14, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(!res.has_nul_escape);
}
END_TEST

START_TEST(test_strings_invalid)
{
    REJECT_AT("\"abc", 4, "unterminated string");
    REJECT_AT("\"", 1, "unterminated string");
    REJECT_AT("\"a\\", 3, "unterminated escape sequence");
    REJECT_AT("\"\\x\"", 2, "invalid escape character");
    REJECT_AT("\"\\'\"", 2, "invalid escape character");
    REJECT_AT("\"\\a\"", 2, "invalid escape character");
    REJECT_AT("\"\\U0041\"", 2, "invalid escape character");
    REJECT_AT("\"\\u12\"", 5, "invalid hex digit in \\u escape");
    REJECT_AT("\"\\u12G4\"", 5, "invalid hex digit in \\u escape");
    REJECT_AT("\"\\u12", 5, "unterminated \\u escape");
    REJECT_AT("\"\\u", 3, "unterminated \\u escape");

    /* Surrogate escapes must come as a high/low pair. */
    REJECT_AT("\"\\uD834\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD800\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834x\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834\\n\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834\\u0041\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834\\uD834\"", 7, "high surrogate escape not followed by low surrogate");
    REJECT_AT("\"\\uD834\\uDD\"", 11, "invalid hex digit in \\u escape");
    REJECT_AT("\"\\uDC00\"", 1, "unpaired low surrogate escape");
    REJECT_AT("\"\\uDFFF\"", 1, "unpaired low surrogate escape");
    REJECT_AT("\"\\uDD1E\\uD834\"", 1, "unpaired low surrogate escape");

    /* Raw control characters. */
    REJECT_AT("\"a\tb\"", 2, "unescaped control character in string");
    REJECT_AT("\"\n\"", 1, "unescaped control character in string");
    REJECT_AT("\"\x1f\"", 1, "unescaped control character in string");
    REJECT_AT("\"\x01\"", 1, "unescaped control character in string");
    REJECT_AT("\"a\0b\"", 2, "NUL byte in string");
}
END_TEST

/* ---- UTF-8 ------------------------------------------------------------ */

START_TEST(test_utf8_valid)
{
    ACCEPT("\"\xC2\x80\"");                 /* U+0080 */
    ACCEPT("\"\xDF\xBF\"");                 /* U+07FF */
    ACCEPT("\"\xE0\xA0\x80\"");             /* U+0800 */
    ACCEPT("\"\xE2\x82\xAC\"");             /* U+20AC */
    ACCEPT("\"\xED\x9F\xBF\"");             /* U+D7FF, last before surrogates */
    ACCEPT("\"\xEE\x80\x80\"");             /* U+E000, first after surrogates */
    ACCEPT("\"\xEF\xBF\xBF\"");             /* U+FFFF */
    ACCEPT("\"\xF0\x90\x80\x80\"");         /* U+10000 */
    ACCEPT("\"\xF0\x9D\x84\x9E\"");         /* U+1D11E */
    ACCEPT("\"\xF4\x8F\xBF\xBF\"");         /* U+10FFFF */
    ACCEPT("{\"\xC3\xA9t\xC3\xA9\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}");
}
END_TEST

START_TEST(test_utf8_invalid)
{
    REJECT_AT("\"\xC0\xAF\"", 1, "overlong UTF-8 sequence");
    REJECT_AT("\"\xC1\xBF\"", 1, "overlong UTF-8 sequence");
    REJECT_AT("\"\xE0\x9F\xBF\"", 1, "overlong UTF-8 sequence");
    REJECT_AT("\"\xE0\x80\xAF\"", 1, "overlong UTF-8 sequence");
    REJECT_AT("\"\xF0\x8F\xBF\xBF\"", 1, "overlong UTF-8 sequence");
    REJECT_AT("\"\xED\xA0\x80\"", 1, "UTF-8 encoded surrogate");
    REJECT_AT("\"\xED\xBF\xBF\"", 1, "UTF-8 encoded surrogate");
    REJECT_AT("\"\xF4\x90\x80\x80\"", 1, "UTF-8 code point above U+10FFFF");
    REJECT_AT("\"\xF5\x80\x80\x80\"", 1, "UTF-8 code point above U+10FFFF");
    REJECT_AT("\"\xF7\xBF\xBF\xBF\"", 1, "UTF-8 code point above U+10FFFF");
    REJECT_AT("\"\xFF\"", 1, "invalid UTF-8 byte");
    REJECT_AT("\"\xF8\x88\x80\x80\x80\"", 1, "invalid UTF-8 byte");
    REJECT_AT("\"\x80\"", 1, "unexpected UTF-8 continuation byte");
    REJECT_AT("\"\xBF\"", 1, "unexpected UTF-8 continuation byte");
    REJECT_AT("\"\xC3\"", 2, "invalid UTF-8 continuation byte");
    REJECT_AT("\"\xE2\x82\"", 3, "invalid UTF-8 continuation byte");
    REJECT_AT("\"\xF0\x9D\x84" "a\"", 4, "invalid UTF-8 continuation byte");
    REJECT_AT("\"\xC3\xA9\xC3", 4, "truncated UTF-8 sequence");
    REJECT_AT("\"\xF0\x9D\x84", 4, "truncated UTF-8 sequence");
    REJECT_AT("\xC3\xA9", 0, "non-ASCII byte outside string");
}
END_TEST

/* ---- whitespace and stray bytes -------------------------------------- */

START_TEST(test_whitespace)
{
    ACCEPT(" \t\n\r1 \t\n\r");
    ACCEPT("[ 1 , 2 ]");
    ACCEPT("{ \"a\" : 1 , \"b\" : [ ] }");
    ACCEPT("\r\n{}\r\n");

    REJECT_AT("", 0, "empty input");
    REJECT_AT("   ", 3, "empty input");
    REJECT_AT(" \t\r\n", 4, "empty input");
    REJECT_AT("\f1", 0, "invalid whitespace character");
    REJECT_AT("[1,\f2]", 3, "invalid whitespace character");
    REJECT_AT("1\f", 1, "trailing characters after JSON value");
    REJECT_AT("\v1", 0, "invalid whitespace character");
    REJECT_AT("\xC2\xA0" "1", 0, "non-ASCII byte outside string");   /* NBSP */
    REJECT_AT("\xEF\xBB\xBF{}", 0, "byte order mark not allowed");
    REJECT_AT("\xEF\xBB\xBF", 0, "byte order mark not allowed");
    REJECT_AT("\0", 0, "NUL byte outside string");
    REJECT_AT("1\0", 1, "trailing characters after JSON value");
    REJECT_AT("[1,\0" "2]", 3, "NUL byte outside string");
    REJECT_AT("[\0]", 1, "NUL byte outside string");
}
END_TEST

/* ---- structure -------------------------------------------------------- */

START_TEST(test_structure_valid)
{
    ACCEPT("[]");
    ACCEPT("{}");
    ACCEPT("[[]]");
    ACCEPT("[{}]");
    ACCEPT("[1,2,3]");
    ACCEPT("{\"a\":1}");
    ACCEPT("{\"a\":1,\"a\":2}"); /* duplicates are the caller's business */
    ACCEPT("{\"\":\"\"}");
    ACCEPT("{\"a\":[1,{\"b\":null}],\"c\":{\"d\":[true,false]}}");
    ACCEPT("\"top-level string\"");
    ACCEPT("[[[],[]],[[{}]]]");
}
END_TEST

START_TEST(test_structure_invalid)
{
    REJECT_AT("[", 1, "unexpected end of input, expected value");
    REJECT_AT("{", 1, "unexpected end of input, expected object key");
    REJECT_AT("[1", 2, "unterminated array");
    REJECT_AT("{\"a\":1", 6, "unterminated object");
    REJECT_AT("{\"a\"", 4, "unexpected end of input, expected ':'");
    REJECT_AT("{\"a\":", 5, "unexpected end of input, expected value");
    REJECT_AT("[1,]", 3, "unexpected character");
    REJECT_AT("[,1]", 1, "unexpected character");
    REJECT_AT("[1,,2]", 3, "unexpected character");
    REJECT_AT("[1 2]", 3, "expected ',' or ']' in array");
    REJECT_AT("[1}", 2, "expected ',' or ']' in array");
    REJECT_AT("{\"a\":1]", 6, "expected ',' or '}' in object");
    REJECT_AT("{\"a\":1,}", 7, "expected string as object key");
    REJECT_AT("{a:1}", 1, "expected string as object key");
    REJECT_AT("{1:1}", 1, "expected string as object key");
    REJECT_AT("{\"a\" 1}", 5, "expected ':' after object key");
    REJECT_AT("{\"a\"}", 4, "expected ':' after object key");
    REJECT_AT("{\"a\"=1}", 4, "expected ':' after object key");
    REJECT_AT("{\"a\":}", 5, "unexpected character");
    REJECT_AT("]", 0, "unexpected character");
    REJECT_AT("}", 0, "unexpected character");
    REJECT_AT("[]]", 2, "trailing characters after JSON value");
    REJECT_AT("{}{}", 2, "trailing characters after JSON value");
    REJECT_AT("[] x", 3, "trailing characters after JSON value");
    REJECT_AT("1,", 1, "trailing characters after JSON value");
    REJECT_AT("'a'", 0, "unexpected character");
}
END_TEST

/* ---- depth ------------------------------------------------------------ */

/* Writes depth nested arrays (or objects) around a 1 into buf. */
static size_t make_nested(char *buf, size_t cap, int depth, bool objects)
{
    size_t n = 0;

    for (int i = 0; i < depth; i++) {
        const char *open = objects ? "{\"k\":" : "[";
        size_t l = strlen(open);
        ck_assert_uint_lt(n + l, cap);
        memcpy(buf + n, open, l);
        n += l;
    }
    ck_assert_uint_lt(n + 1, cap);
    buf[n++] = '1';
    for (int i = 0; i < depth; i++) {
        ck_assert_uint_lt(n + 1, cap);
        buf[n++] = objects ? '}' : ']';
    }
    return n;
}

START_TEST(test_depth)
{
    static char buf[16384];
    struct json_strict_result res;
    size_t n;

    for (int objects = 0; objects <= 1; objects++) {
        n = make_nested(buf, sizeof(buf), JSON_STRICT_MAX_DEPTH, objects);
        ck_assert(run_check(buf, n, JSON_STRICT_MAX_DEPTH, &res));

        n = make_nested(buf, sizeof(buf), JSON_STRICT_MAX_DEPTH + 1, objects);
        ck_assert(!run_check(buf, n, JSON_STRICT_MAX_DEPTH, &res));
        ck_assert(res.too_deep);
        ck_assert_str_eq(res.message, "nesting too deep");
        ck_assert_uint_eq(res.offset, objects ? 5 * JSON_STRICT_MAX_DEPTH : JSON_STRICT_MAX_DEPTH);
    }

    /* Mixed nesting: each container counts once, top level is depth 1. */
    ck_assert(run_check("[{\"a\":[]}]", 10, 3, &res));
    ck_assert(!run_check("[{\"a\":[]}]", 10, 2, &res));
    ck_assert(res.too_deep);
    ck_assert(run_check("[[],[],[[]]]", 12, 3, &res));
    ck_assert(!run_check("[[],[],[[]]]", 12, 2, &res));
    ck_assert(res.too_deep);
    ck_assert_uint_eq(res.offset, 8);

    /* Depth 0 accepts only scalars; negative depths behave like 0. */
    ck_assert(run_check("1", 1, 0, &res));
    ck_assert(run_check("\"s\"", 3, -5, &res));
    ck_assert(!run_check("[]", 2, 0, &res));
    ck_assert(res.too_deep);
    ck_assert(!run_check("{}", 2, -1, &res));
    ck_assert(res.too_deep);

    /* Larger limits work, including the bit stack crossing byte boundaries. */
    n = make_nested(buf, sizeof(buf), 1000, false);
    ck_assert(run_check(buf, n, 1000, &res));
    ck_assert(!run_check(buf, n, 999, &res));
    ck_assert(res.too_deep);
    n = make_nested(buf, sizeof(buf), 1000, true);
    ck_assert(run_check(buf, n, 1000, &res));

    /* Limits above the hard cap are clamped rather than overflowing. */
    n = make_nested(buf, sizeof(buf), 100, false);
    ck_assert(run_check(buf, n, 1 << 30, &res));

    /* Other errors never claim too_deep. */
    ck_assert(!run_check("[[1,]]", 6, 1, &res));
    ck_assert(res.too_deep); /* the depth error comes first */
    ck_assert(!run_check("[[1,]]", 6, 2, &res));
    ck_assert(!res.too_deep);
}
END_TEST

/* Closing brackets must match the opener at every level, including across
 * byte boundaries of the bit stack (levels 8, 16, 24). */
START_TEST(test_bracket_matching_deep)
{
    static char buf[256];
    struct json_strict_result res;

    for (int depth = 1; depth <= JSON_STRICT_MAX_DEPTH; depth++) {
        for (int flip = 0; flip < depth; flip++) {
            size_t n = 0;
            char closers[JSON_STRICT_MAX_DEPTH];

            for (int i = 0; i < depth; i++) {
                bool obj = ((i * 7 + depth) % 3) == 0;
                if (obj) {
                    memcpy(buf + n, "{\"k\":", 5);
                    n += 5;
                } else {
                    buf[n++] = '[';
                }
                closers[i] = obj ? '}' : ']';
            }
            buf[n++] = '0';
            for (int i = depth - 1; i >= 0; i--)
                buf[n++] = closers[i];
            ck_assert(run_check(buf, n, JSON_STRICT_MAX_DEPTH, &res));

            /* Swap one closer for the wrong kind. */
            size_t pos = n - 1 - (size_t)flip;
            buf[pos] = buf[pos] == '}' ? ']' : '}';
            ck_assert(!run_check(buf, n, JSON_STRICT_MAX_DEPTH, &res));
            ck_assert_uint_eq(res.offset, pos);
            ck_assert(!res.too_deep);
        }
    }
}
END_TEST

/* ---- buffer handling -------------------------------------------------- */

START_TEST(test_not_nul_terminated)
{
    static const char doc[] =
        "{\"a\":[1,-2.5e3,true,false,null,\"\\u00e9\\uD834\\uDD1E \xC3\xA9\xF0\x9D\x84\x9E\"],"
        "\"b\":{\"c\":\"\"}}";
    const size_t len = sizeof(doc) - 1;
    struct json_strict_result res;

    ck_assert(run_check(doc, len, JSON_STRICT_MAX_DEPTH, &res));

    /* Every proper prefix of a container is incomplete. run_check copies
     * into an exact-size allocation, so an over-read at any cut point is
     * an ASan error. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_msg(!run_check(doc, cut, JSON_STRICT_MAX_DEPTH, &res),
                      "prefix of length %zu accepted", cut);

    /* The JSON sits at the very end of an exact-size allocation. */
    char *heap = malloc(4);
    ck_assert_ptr_nonnull(heap);
    memcpy(heap, "[1]]", 4);
    ck_assert(json_strict_check(heap, 3, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(!json_strict_check(heap, 4, JSON_STRICT_MAX_DEPTH, &res));
    memcpy(heap, "1234", 4);
    ck_assert(json_strict_check(heap, 2, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(json_strict_check(heap + 2, 2, JSON_STRICT_MAX_DEPTH, &res));
    memcpy(heap, "tru", 3);
    ck_assert(!json_strict_check(heap, 3, JSON_STRICT_MAX_DEPTH, &res));
    free(heap);

    /* Empty and NULL buffers, and a NULL result. */
    ck_assert(!json_strict_check(NULL, 0, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert_str_eq(res.message, "empty input");
    ck_assert_uint_eq(res.offset, 0);
    ck_assert(!json_strict_check(NULL, 0, JSON_STRICT_MAX_DEPTH, NULL));
    ck_assert(json_strict_check("[]", 2, JSON_STRICT_MAX_DEPTH, NULL));
    ck_assert(!json_strict_check("[", 1, JSON_STRICT_MAX_DEPTH, NULL));
}
END_TEST

/* ---- every input class of the JSONTestSuite corpus, in our own cases ---
 *
 * The corpus (nst/JSONTestSuite) is not part of this repository, so its
 * test runs only where it is found (see test_json_test_suite). These cases
 * keep each of its classes covered on a plain clone: y_ (must accept),
 * n_ (must reject) and i_ (implementation-defined: the row states our
 * decision, so changing it is a visible, deliberate act). Labels name the
 * class; inputs are written here, not copied from the corpus files.
 */

struct corpus_case {
    const char *label;
    const char *data;
    size_t len;
    bool valid;
};

#define Y(label, lit) { label, (lit), sizeof(lit) - 1, true }
#define N(label, lit) { label, (lit), sizeof(lit) - 1, false }

static const struct corpus_case corpus_cases[] = {
    /* y_array_* */
    Y("array: spaces inside", "[[]   ]"),
    Y("array: empty string", "[\"\"]"),
    Y("array: empty", "[]"),
    Y("array: ending with newline", "[\"b\"]\n"),
    Y("array: false", "[false]"),
    Y("array: heterogeneous", "[null, 2, \"c\", {}]"),
    Y("array: null", "[null]"),
    Y("array: one and newline", "[7\n]"),
    Y("array: leading space", " [3]"),
    Y("array: several null", "[2, null, null, null, 5]"),
    Y("array: trailing space", "[4] "),
    /* n_array_* */
    N("array: missing comma", "[2 false]"),
    N("array: invalid UTF-8 element", "[\xAB]"),
    N("array: colon instead of comma", "[\"q\": 2]"),
    N("array: comma after close", "[\"\"],"),
    N("array: comma and number", "[,2]"),
    N("array: double comma", "[2,,3]"),
    N("array: double extra comma", "[\"y\",,]"),
    N("array: extra close", "[\"y\"]]"),
    N("array: extra comma", "[\"\",]"),
    N("array: incomplete", "[\"q\""),
    N("array: incomplete invalid value", "[y"),
    N("array: inner array without comma", "[4[5]]"),
    N("array: invalid UTF-8 after value", "[2\xFF]"),
    N("array: semicolon separator", "[2;3]"),
    N("array: just comma", "[,]"),
    N("array: just minus", "[-]"),
    N("array: missing value", "[   , \"\"]"),
    N("array: newlines, unclosed", "[\"b\",\n5\n,2,"),
    N("array: number and comma", "[2,]"),
    N("array: number and several commas", "[2,,]"),
    N("array: vertical tab and form feed", "[\"\x0b" "b\"\\f]"),
    N("array: star inside", "[*]"),
    N("array: unclosed", "[\"\""),
    N("array: unclosed, trailing comma", "[2,"),
    N("array: unclosed with newlines", "[2,\n2\n,2"),
    N("array: unclosed with object inside", "[{}"),
    /* n_incomplete_* */
    N("literal: incomplete false", "[fals]"),
    N("literal: incomplete null", "[nul]"),
    N("literal: incomplete true", "[tru]"),
    /* y_number_* */
    Y("number: real with exponent", "[456e78]"),
    Y("number: 0e+1", "[0e+2]"),
    Y("number: 0e1", "[0e3]"),
    Y("number: after space", "[ 5]"),
    Y("number: close to zero", "[-0.000000000000000000000000000000000000000000000000000000000000000000000000000002]"),
    Y("number: int with exponent", "[30E2]"),
    Y("number: minus zero", "[-0]"),
    Y("number: negative int", "[-234]"),
    Y("number: negative one", "[-1]"),
    Y("number: negative zero", "[-0]"),
    Y("number: capital E", "[2E33]"),
    Y("number: capital E, negative exponent", "[2E-3]"),
    Y("number: capital E, positive exponent", "[2E+3]"),
    Y("number: real exponent", "[234e56]"),
    Y("number: fraction and exponent", "[234.567e89]"),
    Y("number: negative exponent", "[2e-3]"),
    Y("number: positive exponent", "[2e+3]"),
    Y("number: simple int", "[234]"),
    Y("number: simple real", "[234.5678901]"),
    /* n_number_* */
    N("number: ++", "[++5]"),
    N("number: +1", "[+2]"),
    N("number: +Inf", "[+Inf]"),
    N("number: -01", "[-02]"),
    N("number: -1.0.", "[-2.0.]"),
    N("number: -2.", "[-3.]"),
    N("number: -NaN", "[-NaN]"),
    N("number: .-1", "[.-2]"),
    N("number: .2e-3", "[.3e-4]"),
    N("number: 0.1.2", "[0.2.3]"),
    N("number: 0.3e+", "[0.4e+]"),
    N("number: 0.3e", "[0.4e]"),
    N("number: 0.e1", "[0.e2]"),
    N("number: 0E+", "[0E+]"),
    N("number: 0E", "[0E]"),
    N("number: 0e+", "[0e+]"),
    N("number: 0e", "[0e]"),
    N("number: 1.0e+", "[2.0e+]"),
    N("number: 1.0e-", "[2.0e-]"),
    N("number: 1.0e", "[2.0e]"),
    N("number: digit groups", "[2 000]"),
    N("number: 1_000", "[2_000]"),
    N("number: 1eE2", "[2eE3]"),
    N("number: 2.e+3", "[3.e+4]"),
    N("number: 2.e-3", "[3.e-4]"),
    N("number: 2.e3", "[3.e4]"),
    N("number: 9.e+", "[8.e+]"),
    N("number: Inf", "[Inf]"),
    N("number: NaN", "[NaN]"),
    N("number: fullwidth digit", "[\xEF\xBC\x92]"),
    N("number: expression", "[2+3]"),
    N("number: hex, one digit", "[0x2]"),
    N("number: hex, two digits", "[0x3F]"),
    N("number: Infinity", "[Infinity]"),
    N("number: +-", "[0e+-2]"),
    N("number: invalid negative real", "[-234.567foo]"),
    N("number: invalid UTF-8 in big int", "[234\xE6]"),
    N("number: invalid UTF-8 in exponent", "[2e2\xE6]"),
    N("number: invalid UTF-8 in int", "[1\xE6]"),
    N("number: -Infinity", "[-Infinity]"),
    N("number: minus with garbage", "[-bar]"),
    N("number: minus, space, digit", "[- 2]"),
    N("number: negative int with leading zero", "[-013]"),
    N("number: negative real without int part", "[-.234]"),
    N("number: negative with garbage at end", "[-2x]"),
    N("number: garbage after e", "[2ea]"),
    N("number: invalid UTF-8 after e", "[2e\xE6]"),
    N("number: real without fraction", "[2.]"),
    N("number: starting with dot", "[.234]"),
    N("number: with letter", "[2.8011670033376514H-308]"),
    N("number: with letter in the middle", "[2.3a-4]"),
    N("number: leading zero", "[013]"),
    N("number: multidigit then 00", "234\x00"),
    /* i_number_*: syntactically valid; the meaning is validation's business (422, not 400) */
    Y("i_number: huge negative exponent", "[234.567e-891]"),
    Y("i_number: huge exponent", "[0.5e00779999999999999999999999999999999999999999999999999999999999999]"),
    Y("i_number: negative int, huge exponent", "[-2e+8888]"),
    Y("i_number: double, huge exponent", "[2.5e+8888]"),
    Y("i_number: negative overflow", "[-234234e88888]"),
    Y("i_number: positive overflow", "[234234e88888]"),
    Y("i_number: underflow", "[234e-88888888]"),
    Y("i_number: too big negative int", "[-234234234234234234234234234234234234234234234234234]"),
    Y("i_number: too big positive int", "[200000000000000000000]"),
    Y("i_number: very big negative int", "[-3374623746732768942798327498324234983249329]"),
    /* y_object_* */
    Y("object: with key", "{\"bcd\":\"efg\"}"),
    Y("object: several keys", "{\"b\":[], \"c\":\"d\"}"),
    Y("object: duplicated key", "{\"b\":\"c\",\"b\":\"d\"}"),
    Y("object: duplicated key and value", "{\"b\":\"c\",\"b\":\"c\"}"),
    Y("object: empty", "{}"),
    Y("object: empty key", "{\"\":1}"),
    Y("object: escaped NUL in key", "{\"bar\\u0000baz\": 43}"),
    Y("object: extreme numbers", "{ \"min\": -1.0e+28, \"max\": 1.0e+28 }"),
    Y("object: long strings", "{\"a\":[{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]}"),
    Y("object: simple", "{\"b\":[]}"),
    Y("object: unicode escape in string", "{\"name\":\"\\u0433\\u043E\\u0434\\u0438\\u0449\\u0435\"}"),
    Y("object: with newlines", "{\n\"b\": \"c\"\n}"),
    /* n_object_* */
    N("object: bad value", "[\"a\", truth]"),
    N("object: bracket key", "{[: \"y\"}"),
    N("object: comma instead of colon", "{\"y\", null}"),
    N("object: double colon", "{\"y\"::\"c\"}"),
    N("object: emoji key", "{\xF0\x9F\x87\xA8\xF0\x9F\x87\xAD}"),
    N("object: garbage at end", "{\"b\":\"b\" 234}"),
    N("object: single-quoted key", "{key: 'value'}"),
    N("object: lone continuation byte in key, trailing comma", "{\"\xB9\":\"0\",}"),
    N("object: missing colon", "{\"b\" c}"),
    N("object: missing key", "{:\"c\"}"),
    N("object: missing separator", "{\"b\" \"c\"}"),
    N("object: missing value", "{\"b\":"),
    N("object: no colon", "{\"b\""),
    N("object: number as key", "{2:2}"),
    N("object: huge number as key", "{9999E9999:2}"),
    N("object: null keys", "{null:null,null:null}"),
    N("object: several trailing commas", "{\"id\":0,,,,,}"),
    N("object: single quotes", "{'b':0}"),
    N("object: trailing comma", "{\"id\":0,}"),
    N("object: trailing comment", "{\"b\":\"c\"}/**/"),
    N("object: trailing open comment", "{\"b\":\"c\"}/**//"),
    N("object: trailing slash-slash comment", "{\"b\":\"c\"}//"),
    N("object: trailing slash", "{\"b\":\"c\"}/"),
    N("object: two commas in a row", "{\"b\":\"c\",,\"d\":\"e\"}"),
    N("object: unquoted key", "{b: \"c\"}"),
    N("object: unterminated value", "{\"b\":\"b"),
    N("object: key without value", "{ \"bar\" : \"baz\", \"b\" }"),
    N("object: trailing garbage", "{\"b\": true} \"y\""),
    /* y_string_* */
    Y("string: 1-, 2-, 3-byte UTF-8", "[\"\\u0061\\u01AB\\u2345\"]"),
    Y("string: surrogate pair", "[\"\\uD801\\udc37\"]"),
    Y("string: surrogate pairs", "[\"\\ud83d\\ude39\\ud83d\\udc8d\"]"),
    Y("string: allowed escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"),
    Y("string: backslash and escaped zero", "[\"\\\\u0000\"]"),
    Y("string: escaped double quote", "[\"\\\"\"]"),
    Y("string: comment-like content", "[\"b/*c*/d\"]"),
    Y("string: escaped backslash then a", "[\"\\\\b\"]"),
    Y("string: escaped backslash then n", "[\"\\\\n\"]"),
    Y("string: escaped control character", "[\"\\u0013\"]"),
    Y("string: escaped noncharacter", "[\"\\uFFFF\"]"),
    Y("string: in array", "[\"bsd\"]"),
    Y("string: in array with leading space", "[ \"bsd\"]"),
    Y("string: last surrogates", "[\"\\uDBFF\\uDFFF\"]"),
    Y("string: escaped NBSP", "[\"new\\u00A0line\"]"),
    Y("string: U+10FFFF raw", "[\"\xF4\x8F\xBF\xBF\"]"),
    Y("string: U+FFFF raw", "[\"\xEF\xBF\xBF\"]"),
    Y("string: NUL escape", "[\"\\u0000\"]"),
    Y("string: one-byte escape", "[\"\\u002c\"]"),
    Y("string: pi", "[\"\xCF\x80\"]"),
    Y("string: reserved U+1BFFF raw", "[\"\xF0\x9B\xBF\xBF\"]"),
    Y("string: simple ASCII", "[\"bsd \"]"),
    Y("string: space", "\" \""),
    Y("string: surrogates for U+1D11E", "[\"\\uD834\\uDd1e\"]"),
    Y("string: three-byte escape", "[\"\\u0821\"]"),
    Y("string: two-byte escape", "[\"\\u0123\"]"),
    Y("string: U+2028 raw", "[\"\xE2\x80\xA8\"]"),
    Y("string: U+2029 raw", "[\"\xE2\x80\xA9\"]"),
    Y("string: escape", "[\"\\u0061\\u30af\\u30EA\\u30b9\"]"),
    Y("string: escaped newline", "[\"new\\u000Aline\"]"),
    Y("string: DEL raw", "[\"\x7f\"]"),
    Y("string: unicode", "[\"\\uA66D\"]"),
    Y("string: escaped backslash via \\u", "[\"\\u005C\"]"),
    Y("string: unicode 2", "[\"\xE2\x8D\x82\xE3\x88\xB4\xE2\x8D\x82\"]"),
    Y("string: noncharacter U+10FFFE escaped", "[\"\\uDBFF\\uDFFE\"]"),
    Y("string: noncharacter U+1FFFE escaped", "[\"\\uD83F\\uDFFE\"]"),
    Y("string: noncharacter U+FDD0", "[\"\\uFDD0\"]"),
    Y("string: noncharacter U+FFFE", "[\"\\uFFFE\"]"),
    Y("string: zero width space", "[\"\\u200B\"]"),
    Y("string: invisible plus", "[\"\\u2064\"]"),
    Y("string: escaped double quote via \\u", "[\"\\u0022\"]"),
    Y("string: UTF-8", "[\"\xE2\x82\xAC\xF0\x9D\x84\x9E\"]"),
    Y("string: with DEL", "[\"b\x7f" "b\"]"),
    /* n_string_* */
    N("string: high surrogate then escape", "[\"\\uD800\\\"]"),
    N("string: high surrogate then \\u", "[\"\\uD800\\u\"]"),
    N("string: high surrogate then \\u1", "[\"\\uD800\\u1\"]"),
    N("string: high surrogate then \\u1x", "[\"\\uD800\\u1x\"]"),
    N("string: unquoted accented", "[\xC3\xA9]"),
    N("string: backslash NUL", "[\"\\\x00\"]"),
    N("string: \\x escape", "[\"\\x00\"]"),
    N("string: escaped backslash, bad", "[\"\\\\\\\"]"),
    N("string: escaped raw tab", "[\"\\\t\"]"),
    N("string: escaped emoji", "[\"\\\xF0\x9F\x8C\x80\"]"),
    N("string: incomplete escape", "[\"\\\"]"),
    N("string: incomplete \\u", "[\"\\u00A\"]"),
    N("string: incomplete surrogate", "[\"\\uD834\\uDd\"]"),
    N("string: incomplete surrogate, bad escape", "[\"\\uD800\\uD800\\x\"]"),
    N("string: invalid UTF-8 in escape", "[\"\\u\xE5\"]"),
    N("string: invalid backslash escape", "[\"\\b\\a\"]"),
    N("string: invalid \\u escape", "[\"\\uqqqq\"]"),
    N("string: invalid UTF-8 after escape", "[\"\\\xE5\"]"),
    N("string: escaped thin space outside", "[\\u0020\"bsd\"]"),
    N("string: bad escape without quotes", "[\\n]"),
    N("string: single double quote", "\""),
    N("string: single quotes", "['single quote']"),
    N("string: no double quotes", "bbc"),
    N("string: unclosed escape", "[\"\\"),
    N("string: raw control character", "[\"b\x00" "b\"]"),
    N("string: raw newline", "[\"new\nline\"]"),
    N("string: raw tab", "[\"\t\"]"),
    N("string: \\U escape", "\"\\UA66D\""),
    N("string: trailing garbage", "\"\"y"),
    /* i_string_*: invalid UTF-8, lone surrogates and UTF-16 are refused */
    N("i_string: lone low surrogate in key", "{\"\\uDFAB\":0}"),
    N("i_string: high surrogate, no low", "[\"\\uDADB\"]"),
    N("i_string: high surrogate, non-surrogate after", "[\"\\uD888\\u1235\"]"),
    N("i_string: UTF-16LE with BOM", "\xFF\xFE[\x00\"\x00\xE9\x00\"\x00]\x00"),
    N("i_string: invalid UTF-8 sequence", "[\"\xE6\x97\xA5\xD1\x88\xFA\"]"),
    N("i_string: UTF-8 encoded surrogate", "[\"\xED\xA0\x81\"]"),
    N("i_string: lone surrogate then valid escape", "[\"\\uD801\\n\"]"),
    N("i_string: incomplete surrogate pair", "[\"\\uDd1eb\"]"),
    N("i_string: two high surrogates then escape", "[\"\\uD801\\uD801\\n\"]"),
    N("i_string: lonely surrogate", "[\"\\ud801\"]"),
    N("i_string: surrogate then text", "[\"\\ud801bcd\"]"),
    N("i_string: invalid UTF-8 byte", "[\"\xFE\"]"),
    N("i_string: inverted surrogates", "[\"\\uDd1e\\uD834\"]"),
    N("i_string: ISO Latin-1", "[\"\xE9\"]"),
    N("i_string: lone second surrogate", "[\"\\uDFAB\"]"),
    N("i_string: lone continuation byte", "[\"\x82\"]"),
    N("i_string: above U+10FFFF", "[\"\xF4\xBF\xBF\xBF\"]"),
    N("i_string: overlong, 2 bytes", "[\"\xC0\xAE\"]"),
    N("i_string: overlong, 6 bytes", "[\"\xFC\x83\xBF\xBF\xBF\xBF\"]"),
    N("i_string: overlong NUL, 6 bytes", "[\"\xFC\x80\x80\x80\x80\x80\"]"),
    N("i_string: truncated UTF-8", "[\"\xE0\xFF\"]"),
    N("i_string: UTF-16BE without BOM", "\x00[\x00\"\x00\xE9\x00\"\x00]"),
    N("i_string: UTF-16LE without BOM", "[\x00\"\x00\xE9\x00\"\x00]\x00"),
    /* y_structure_* */
    Y("structure: lonely false", "false"),
    Y("structure: lonely int", "43"),
    Y("structure: lonely negative real", "-0.2"),
    Y("structure: lonely null", "null"),
    Y("structure: lonely string", "\"bsd\""),
    Y("structure: lonely true", "true"),
    Y("structure: empty string", "\"\""),
    Y("structure: trailing newline", "[\"b\"]\n"),
    Y("structure: true in array", "[true]"),
    Y("structure: whitespace around array", " [] "),
    /* n_structure_* and n_single_space */
    N("structure: single space", " "),
    N("structure: U+2060 word joiner", "[\xE2\x81\xA0]"),
    N("structure: BOM without data", "\xEF\xBB\xBF"),
    N("structure: angle bracket dot", "<.>"),
    N("structure: angle bracket null", "[<null>]"),
    N("structure: array, trailing garbage", "[2]y"),
    N("structure: array, extra close", "[2]]"),
    N("structure: array with unclosed string", "[\"bsd]"),
    N("structure: ASCII and unicode identifier", "b\xC3\xA5"),
    N("structure: capitalised True", "[True]"),
    N("structure: close unopened array", "2]"),
    N("structure: comma instead of closing brace", "{\"y\": true,"),
    N("structure: two arrays", "[][]"),
    N("structure: end array", "]"),
    N("structure: incomplete BOM", "\xEF\xBB{}"),
    N("structure: lone invalid UTF-8", "\xE5"),
    N("structure: lone open bracket", "["),
    N("structure: no data", ""),
    N("structure: NUL outside string", "[\x00]"),
    N("structure: number with trailing garbage", "3@"),
    N("structure: object then closing brace", "{}}"),
    N("structure: object unclosed, no value", "{\"\":"),
    N("structure: object with comment", "{\"b\":/*comment*/\"c\"}"),
    N("structure: object with trailing garbage", "{\"b\": true} \"y\""),
    N("structure: open array, apostrophe", "['"),
    N("structure: open array, comma", "[,"),
    N("structure: open array, object", "[{\"\":[{\"\":[{\"\":"),
    N("structure: open array, open object", "[{"),
    N("structure: open array, open string", "[\"b"),
    N("structure: open array, string", "[\"b\""),
    N("structure: open object", "{"),
    N("structure: open object, close array", "{]"),
    N("structure: open object, comma", "{,"),
    N("structure: open object, open array", "{["),
    N("structure: open object, open string", "{\"b"),
    N("structure: open object, apostrophes", "{'b'"),
    N("structure: open open", "[\"\\{[\"\\{[\"\\{[\"\\{"),
    N("structure: single e acute", "\xC3\xA9"),
    N("structure: single star", "*"),
    N("structure: trailing #", "{\"b\":\"c\"}#{}"),
    N("structure: escaped LF before string", "[\\u000A\"\"]"),
    N("structure: unclosed array", "[2"),
    N("structure: unclosed array, partial null", "[ false, nul"),
    N("structure: unclosed array, unfinished false", "[ true, fals"),
    N("structure: unclosed array, unfinished true", "[ false, tru"),
    N("structure: unclosed object", "{\"bsd\":\"bsd\""),
    N("structure: unicode identifier", "\xC3\xA5"),
    N("structure: word joiner as whitespace", "[\xE2\x81\xA0]"),
    N("structure: form feed as whitespace", "[\f]"),
    /* i_structure_*: a BOM is refused */
    N("i_structure: UTF-8 BOM, empty object", "\xEF\xBB\xBF{}"),
};

#undef Y
#undef N

START_TEST(test_corpus_classes)
{
    const struct corpus_case *c = &corpus_cases[_i];
    struct json_strict_result res;
    bool ok = run_check(c->data, c->len, JSON_STRICT_MAX_DEPTH, &res);

    ck_assert_msg(ok == c->valid, "%s: expected %s, got %s (%s at %zu)", c->label,
                  c->valid ? "accept" : "reject", ok ? "accept" : "reject",
                  ok ? "-" : res.message, ok ? (size_t)0 : res.offset);
}
END_TEST

/* n_structure_100000_opening_arrays and i_structure_500_nested_arrays:
 * unclosed and closed nesting far past the limit stop at the limit. */
START_TEST(test_corpus_deep_nesting)
{
    static char buf[100000];
    struct json_strict_result res;
    size_t n;

    memset(buf, '[', sizeof(buf));
    ck_assert(!run_check(buf, sizeof(buf), JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(res.too_deep);
    ck_assert_uint_eq(res.offset, JSON_STRICT_MAX_DEPTH);

    n = make_nested(buf, sizeof(buf), 500, false);
    ck_assert(!run_check(buf, n, JSON_STRICT_MAX_DEPTH, &res));
    ck_assert(res.too_deep);
}
END_TEST

/* ---- JSONTestSuite corpus --------------------------------------------- */

static const char *corpus_dir(void)
{
    const char *dir = getenv("JSON_TEST_SUITE_DIR");

    return dir && *dir ? dir : DEFAULT_CORPUS_DIR;
}

static unsigned char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t len = 0, cap = 0;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *grown = realloc(data, cap);
            ck_assert_ptr_nonnull(grown);
            data = grown;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    ck_assert_msg(!ferror(f), "error reading %s", path);
    fclose(f);

    /* Shrink to the exact size so ASan sees reads past the end. */
    unsigned char *exact = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(exact);
    if (len)
        memcpy(exact, data, len);
    free(data);
    *len_out = len;
    return exact;
}

static void append_name(char *list, size_t cap, const char *name)
{
    size_t used = strlen(list);

    if (used + strlen(name) + 2 < cap) {
        list[used] = ' ';
        strcpy(list + used + 1, name);
    }
}

START_TEST(test_json_test_suite)
{
    const char *dir = corpus_dir();
    DIR *d = opendir(dir);
    struct dirent *ent;
    unsigned n_yes = 0, n_no = 0, n_impl = 0;
    char wrong_reject[4096] = "", wrong_accept[4096] = "", cjson_fail[4096] = "";
    char path[4096];

    ck_assert_msg(d != NULL,
                  "cannot open JSONTestSuite directory '%s' (set JSON_TEST_SUITE_DIR)", dir);

    while ((ent = readdir(d)) != NULL) {
        const char *name = ent->d_name;
        size_t name_len = strlen(name);
        struct json_strict_result res;
        size_t len;
        bool ok;

        if (name_len < 7 || strcmp(name + name_len - 5, ".json") != 0 || name[1] != '_')
            continue;

        ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name), (int)sizeof(path));
        unsigned char *data = read_file(path, &len);
        ok = run_check(data, len, JSON_STRICT_MAX_DEPTH, &res);

        switch (name[0]) {
        case 'y': {
            n_yes++;
            if (!ok)
                append_name(wrong_reject, sizeof(wrong_reject), name);
            /* Anything we accept must be parseable by cJSON. */
            cJSON *tree = cJSON_ParseWithLength((const char *)data, len);
            if (!tree)
                append_name(cjson_fail, sizeof(cjson_fail), name);
            cJSON_Delete(tree);
            break;
        }
        case 'n':
            n_no++;
            if (ok)
                append_name(wrong_accept, sizeof(wrong_accept), name);
            break;
        case 'i':
            n_impl++; /* either answer is fine; run_check proved it didn't crash */
            break;
        default:
            break;
        }
        free(data);
    }
    closedir(d);

    ck_assert_msg(n_yes > 0, "no y_*.json files in %s", dir);
    ck_assert_msg(n_no > 0, "no n_*.json files in %s", dir);
    ck_assert_msg(n_impl > 0, "no i_*.json files in %s", dir);
    ck_assert_msg(wrong_reject[0] == '\0', "valid documents rejected:%s", wrong_reject);
    ck_assert_msg(wrong_accept[0] == '\0', "invalid documents accepted:%s", wrong_accept);
    ck_assert_msg(cjson_fail[0] == '\0', "cJSON failed to parse:%s", cjson_fail);
}
END_TEST

static Suite *json_strict_suite(void)
{
    Suite *s = suite_create("json_strict");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_numbers_valid);
    tcase_add_test(tc, test_numbers_invalid);
    tcase_add_test(tc, test_literals);
    tcase_add_test(tc, test_strings_valid);
    tcase_add_test(tc, test_strings_invalid);
    tcase_add_test(tc, test_utf8_valid);
    tcase_add_test(tc, test_utf8_invalid);
    tcase_add_test(tc, test_whitespace);
    tcase_add_test(tc, test_structure_valid);
    tcase_add_test(tc, test_structure_invalid);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_bracket_matching_deep);
    tcase_add_test(tc, test_not_nul_terminated);
    suite_add_tcase(s, tc);

    TCase *classes = tcase_create("corpus classes");
    tcase_add_loop_test(classes, test_corpus_classes, 0,
                        (int)(sizeof(corpus_cases) / sizeof(corpus_cases[0])));
    tcase_add_test(classes, test_corpus_deep_nesting);
    suite_add_tcase(s, classes);

    return s;
}

static Suite *json_test_suite_corpus_suite(void)
{
    Suite *s = suite_create("json_strict_corpus");
    TCase *corpus = tcase_create("JSONTestSuite");

    /* Sanitizer builds read ~300 files; give them room. */
    tcase_set_timeout(corpus, 60);
    tcase_add_test(corpus, test_json_test_suite);
    suite_add_tcase(s, corpus);
    return s;
}

/* The corpus is optional (it is not in the repository): absent means
 * skipped, with the reason on stdout for meson's log. */
static bool corpus_present(void)
{
    DIR *d = opendir(corpus_dir());

    if (!d) {
        printf("SKIP: JSONTestSuite corpus not found at '%s' (set JSON_TEST_SUITE_DIR to its "
               "test_parsing directory to run it); the corpus classes in the default run "
               "still cover every kind of input it holds\n", corpus_dir());
        return false;
    }
    closedir(d);
    return true;
}

int main(int argc, char **argv)
{
    bool corpus = argc > 1 && strcmp(argv[1], "corpus") == 0;
    SRunner *sr;
    int failed;

    if (argc > 1 && !corpus) {
        fprintf(stderr, "usage: %s [corpus]\n", argv[0]);
        return 2;
    }
    if (corpus && !corpus_present())
        return 77;
    sr = srunner_create(corpus ? json_test_suite_corpus_suite() : json_strict_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
