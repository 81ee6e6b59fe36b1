/*
 * Unit tests for server/json_strict.c.
 *
 * Every input is copied into an exact-size heap buffer before it is checked,
 * so under -fsanitize=address any read past buf + len is caught; the
 * validator must never rely on a NUL terminator.
 *
 * The JSONTestSuite corpus is read from $JSON_TEST_SUITE_DIR (default
 * ../shared/testdata/JSONTestSuite/test_parsing). A missing or empty corpus
 * is a failure, not a skip.
 */
#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/json_strict.h"

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

    TCase *corpus = tcase_create("JSONTestSuite");
    /* Sanitizer builds read ~300 files; give them room. */
    tcase_set_timeout(corpus, 60);
    tcase_add_test(corpus, test_json_test_suite);
    suite_add_tcase(s, corpus);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_strict_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
