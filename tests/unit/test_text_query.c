/*
 * Unit tests for server/domain/text_query*.c and text_fold.c: the query language (every construct,
 * every error with its position, the limits), folding and tokenising checked against SQLite's own
 * FTS5 unicode61 tokenizer, the FTS5 translation run against a real in-memory FTS5 table and compared
 * with a reference evaluation written here, the tsquery strings, and matches and snippets in
 * multi-byte text.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_fold.h"
#include "text_query.h"

static struct text_query *parse_ok(const char *q)
{
    struct text_query *query;
    struct text_query_error error;
    enum text_query_status status = text_query_parse(q, strlen(q), &query, &error);
    ck_assert_msg(status == TEXT_QUERY_OK, "%s: %s at %zu", q, error.message, error.position);
    ck_assert_ptr_nonnull(query);
    return query;
}

static void expect_fts5(const char *q, const char *expected)
{
    struct text_query *query = parse_ok(q);
    char *fts5 = text_query_fts5(query);
    ck_assert_msg(strcmp(fts5, expected) == 0, "%s: got %s, expected %s", q, fts5, expected);
    free(fts5);
    text_query_free(query);
}

static void expect_tsquery(const char *q, const char *expected)
{
    struct text_query *query = parse_ok(q);
    char *ts = text_query_tsquery(query);
    ck_assert_msg(strcmp(ts, expected) == 0, "%s: got %s, expected %s", q, ts, expected);
    free(ts);
    text_query_free(query);
}

static void expect_error_n(const char *q, size_t len, enum text_query_status status, size_t position,
                           const char *message_part)
{
    struct text_query *query = (void *)1;
    struct text_query_error error;
    enum text_query_status got = text_query_parse(q, len, &query, &error);
    ck_assert_msg(got == status, "%s: status %d, expected %d (%s)", q, got, status, error.message);
    ck_assert_ptr_null(query);
    ck_assert_str_eq(error.code, status == TEXT_QUERY_INVALID ? "invalid_query" : "query_too_complex");
    ck_assert_msg(error.position == position, "%s: position %zu, expected %zu (%s)", q, error.position, position,
                  error.message);
    ck_assert_msg(strstr(error.message, message_part) != NULL, "%s: message '%s' lacks '%s'", q, error.message,
                  message_part);
}

static void expect_error(const char *q, enum text_query_status status, size_t position, const char *message_part)
{
    expect_error_n(q, strlen(q), status, position, message_part);
}

/* ---- the language ---- */

START_TEST(words_phrases_prefixes)
{
    expect_fts5("refund", "\"refund\"");
    expect_fts5("  Refund\t", "\"refund\"");
    expect_fts5("\"money back\"", "\"money\" + \"back\"");
    expect_fts5("\"refund\"", "\"refund\"");
    expect_fts5("\"  Money,  BACK! \"", "\"money\" + \"back\"");
    expect_fts5("deliv*", "\"deliv\" *");
    expect_fts5("AND*", "\"and\" *");
    expect_fts5("(deliv*)", "\"deliv\" *");
    /* A word with separators inside is a phrase of its tokens, as FTS5 would index it. */
    expect_fts5("e-mail", "\"e\" + \"mail\"");
    expect_fts5("it's", "\"it\" + \"s\"");
    expect_fts5("3.5", "\"3\" + \"5\"");
    expect_fts5("user@example.com", "\"user\" + \"example\" + \"com\"");
    expect_fts5("e-ma*", "\"e\" + \"ma\" *");
    /* Punctuation alone is no term; a quote ends a word. */
    expect_fts5("refund - paypal", "(\"refund\" AND \"paypal\")");
    expect_fts5("a\"b c\"d", "(\"a\" AND \"b\" + \"c\" AND \"d\")");
    /* Folded. */
    expect_fts5("Crème BRÛLÉE", "(\"creme\" AND \"brulee\")");
    expect_fts5("Straße ĐẠI", "(\"straße\" AND \"đai\")");
    expect_fts5("ΣΟΦΊΑ Москва", "(\"σοφία\" AND \"москва\")");
    /* Unicode spaces separate words and operators. */
    expect_fts5("a\xC2\xA0OR\xE3\x80\x80" "b", "(\"a\" OR \"b\")");
}
END_TEST

START_TEST(operators_and_precedence)
{
    expect_fts5("refund paypal", "(\"refund\" AND \"paypal\")");
    expect_fts5("refund AND paypal", "(\"refund\" AND \"paypal\")");
    expect_fts5("refund OR paypal", "(\"refund\" OR \"paypal\")");
    expect_fts5("refund NOT paypal", "(\"refund\" NOT \"paypal\")");
    expect_fts5("NOT paypal refund", "(\"refund\" NOT \"paypal\")");
    expect_fts5("a NOT b NOT c", "(\"a\" NOT (\"b\" OR \"c\"))");
    expect_fts5("a NOT b AND c", "((\"a\" AND \"c\") NOT \"b\")");
    /* Lower case is a word. */
    expect_fts5("this and that or not", "(\"this\" AND \"and\" AND \"that\" AND \"or\" AND \"not\")");
    expect_fts5("And Or", "(\"and\" AND \"or\")");
    /* NOT > AND > OR. */
    expect_fts5("a b OR c", "((\"a\" AND \"b\") OR \"c\")");
    expect_fts5("a OR b c", "(\"a\" OR (\"b\" AND \"c\"))");
    expect_fts5("a OR b AND c OR d", "(\"a\" OR (\"b\" AND \"c\") OR \"d\")");
    expect_fts5("a NOT b OR c", "((\"a\" NOT \"b\") OR \"c\")");
    expect_fts5("a OR b NOT c", "(\"a\" OR (\"b\" NOT \"c\"))");
    /* Parentheses. */
    expect_fts5("(a OR b) c", "((\"a\" OR \"b\") AND \"c\")");
    expect_fts5("a NOT (b OR c)", "(\"a\" NOT (\"b\" OR \"c\"))");
    expect_fts5("((a))", "\"a\"");
    expect_fts5("(a)(b)", "(\"a\" AND \"b\")");
    expect_fts5("a NOT (b NOT c)", "(\"a\" NOT (\"b\" NOT \"c\"))");
    expect_fts5("refund OR \"money back\"", "(\"refund\" OR \"money\" + \"back\")");
}
END_TEST

START_TEST(tree_shape)
{
    struct text_query *q = parse_ok("a NOT b OR c dd*");
    ck_assert_int_eq(q->nterms, 4);
    ck_assert_int_eq(q->root->kind, TEXT_QUERY_OR);
    ck_assert_int_eq(q->root->nchildren, 2);
    const struct text_query_node *left = q->root->children[0], *right = q->root->children[1];
    ck_assert_int_eq(left->kind, TEXT_QUERY_AND);
    ck_assert_int_eq(left->nchildren, 1);
    ck_assert_int_eq(left->nexcluded, 1);
    ck_assert_str_eq(left->excluded[0]->term.tokens[0], "b");
    ck_assert_int_eq(left->excluded[0]->term.position, 6);
    ck_assert_int_eq(right->kind, TEXT_QUERY_AND);
    ck_assert_int_eq(right->nchildren, 2);
    ck_assert(right->children[1]->term.prefix);
    ck_assert_int_eq(right->children[1]->term.position, 13);
    text_query_free(q);
}
END_TEST

START_TEST(errors_with_positions)
{
    const enum text_query_status I = TEXT_QUERY_INVALID;
    expect_error("", I, 0, "no words");
    expect_error(" \t\n ", I, 0, "no words");
    expect_error("- ! ,", I, 0, "no words");
    /* Parentheses: the one that is never closed, the one that closes nothing. */
    expect_error("(a OR b", I, 0, "( is never closed");
    expect_error("(a (b) c", I, 0, "( is never closed");
    expect_error("a (b (c)", I, 2, "( is never closed");
    expect_error("a OR b)", I, 6, ") has no (");
    expect_error(") a (", I, 0, ") has no (");
    expect_error("()", I, 0, "nothing in them");
    expect_error("a ( - )", I, 2, "nothing in them");
    /* Positions are in code points: é and ü take two bytes, 日 three. */
    expect_error("é (a", I, 2, "( is never closed");
    expect_error("日本 ü)", I, 4, ") has no (");
    expect_error("a\xE3\x80\x80\xC2\xA0(", I, 3, "( is never closed"); /* ideographic space, NBSP */
    expect_error("\xE2\x80\x83OR a", I, 1, "OR needs");                /* em space */
    /* Phrases. */
    expect_error("\"money back", I, 0, "never closed");
    expect_error("ü \"b", I, 2, "never closed");
    expect_error("a \"b\" \"c", I, 6, "never closed");
    expect_error("\"\"", I, 0, "no words");
    expect_error("a \" - \"", I, 2, "no words");
    /* Operators with nothing on one side. */
    expect_error("a OR", I, 2, "OR needs");
    expect_error("OR a", I, 0, "OR needs");
    expect_error("a OR OR b", I, 2, "OR needs");
    expect_error("a AND", I, 2, "AND needs");
    expect_error("AND a", I, 0, "AND needs");
    expect_error("a AND OR b", I, 2, "AND needs");
    expect_error("(a OR) b", I, 3, "OR needs");
    expect_error("(OR a)", I, 1, "OR needs");
    expect_error("a NOT", I, 2, "NOT needs");
    expect_error("a NOT NOT b", I, 2, "NOT needs");
    expect_error("(a NOT)", I, 3, "NOT needs");
    /* A NOT alone in its group. */
    expect_error("NOT paypal", I, 0, "a NOT needs something to exclude from");
    expect_error("a OR NOT b", I, 5, "a NOT needs something to exclude from");
    expect_error("a (NOT b)", I, 3, "a NOT needs something to exclude from");
    expect_error("a OR NOT b NOT c", I, 5, "a NOT needs something to exclude from");
    /* Prefixes. */
    expect_error("*", I, 0, "* can only end a word");
    expect_error("a *", I, 2, "* can only end a word");
    expect_error("ab*c", I, 2, "* can only end a word");
    expect_error("ab**", I, 2, "* can only end a word");
    expect_error("\"ab cd\"*", I, 7, "not a phrase");
    expect_error("a*", I, 0, "at least 2 characters");
    expect_error("x é*", I, 2, "at least 2 characters");
    expect_error("e-m*", I, 0, "at least 2 characters");
    expect_error("-*", I, 0, "at least 2 characters");
    /* Encoding. */
    expect_error("ab\xC3(", I, 2, "UTF-8");
    expect_error("\xC0\xAF", I, 0, "UTF-8");
    expect_error("\xED\xA0\x80", I, 0, "UTF-8");
    expect_error("é\xFF", I, 1, "UTF-8");
    expect_error("\xF4\x90\x80\x80", I, 0, "UTF-8");
    expect_error_n("a\0b", 3, I, 1, "NUL");

    /* The examples of docs/search.md "Errors", as written there. */
    expect_error("(late OR slow", I, 0, "this ( is never closed");
    expect_error("late OR slow)", I, 12, "this ) has no ( to close");
    expect_error("refund ()", I, 7, "these parentheses have nothing in them");
    expect_error("\"money back", I, 0, "this \" starts a phrase that is never closed");
    expect_error("refund \"\"", I, 7, "this phrase has no words in it");
    expect_error("refund OR", I, 7, "OR needs a word, phrase or ( after it");
    expect_error("OR refund", I, 0, "OR needs a word, phrase or ( before it");
    expect_error("refund AND OR late", I, 7, "AND needs a word, phrase or ( after it");
    expect_error("refund NOT", I, 7, "NOT needs a word, phrase or ( after it");
    expect_error("NOT paypal", I, 0, "a NOT needs something to exclude from: write a NOT b");
    expect_error("refund OR NOT paypal", I, 10, "a NOT needs something to exclude from: write a NOT b");
    expect_error("d*", I, 0, "a prefix needs at least 2 characters before the *");
    expect_error("refund *", I, 7, "a * can only end a word (prefix*)");
    expect_error("\"money back\"*", I, 12, "a * can only end a word (prefix*), not a phrase");
    expect_error("crème (", I, 6, "this ( is never closed");
}
END_TEST

START_TEST(limits)
{
    char q[1200];
    /* 32 terms are fine, the 33rd is not: its position is reported. */
    q[0] = '\0';
    for (int i = 0; i < 32; i++)
        strcat(q, "ab ");
    struct text_query *ok = parse_ok(q);
    ck_assert_int_eq(ok->nterms, 32);
    text_query_free(ok);
    strcat(q, "\"cd ef\"");
    expect_error(q, TEXT_QUERY_TOO_COMPLEX, 96, "more than 32 terms");
    /* Punctuation that makes no term does not count. */
    q[0] = '\0';
    for (int i = 0; i < 32; i++)
        strcat(q, "ab - ");
    text_query_free(parse_ok(q));

    /* 8 nested parentheses are fine, the 9th is not. */
    text_query_free(parse_ok("((((((((a))))))))"));
    expect_error("(((((((((a)))))))))", TEXT_QUERY_TOO_COMPLEX, 8, "nested more than 8");
    expect_error("(a) (b (c (d (e (f (g (h (i (j)))))))))", TEXT_QUERY_TOO_COMPLEX, 28, "nested more than 8");

    /* 512 bytes are fine, 513 are not; the position is in code points. */
    memset(q, 'a', 512);
    q[512] = '\0';
    text_query_free(parse_ok(q));
    q[512] = 'b';
    q[513] = '\0';
    expect_error(q, TEXT_QUERY_TOO_COMPLEX, 512, "longer than 512 bytes");
    q[0] = '\0';
    for (int i = 0; i < 300; i++)
        strcat(q, "é");
    expect_error(q, TEXT_QUERY_TOO_COMPLEX, 256, "longer than 512 bytes");
}
END_TEST

/* ---- translations ---- */

START_TEST(tsquery_strings)
{
    expect_tsquery("refund", "'refund'");
    expect_tsquery("Refund*", "'refund':*");
    expect_tsquery("\"money back\"", "('money' <-> 'back')");
    expect_tsquery("e-ma*", "('e' <-> 'ma':*)");
    expect_tsquery("a b", "('a' & 'b')");
    expect_tsquery("a OR b", "('a' | 'b')");
    expect_tsquery("a NOT b", "('a' & !'b')");
    expect_tsquery("a NOT b NOT \"c d\"", "('a' & !'b' & !('c' <-> 'd'))");
    expect_tsquery("a NOT (b OR c) OR d", "(('a' & !('b' | 'c')) | 'd')");
    expect_tsquery("(a OR b) (c OR dd*)", "(('a' | 'b') & ('c' | 'dd':*))");
    expect_tsquery("Crème d'Ávila", "('creme' & ('d' <-> 'avila'))");
    expect_tsquery("it's", "('it' <-> 's')");
}
END_TEST

START_TEST(distinct_terms)
{
    const struct text_query_term *terms[TEXT_QUERY_MAX_TERMS];
    struct text_query *q = parse_ok("refund OR \"money back\" OR Refund OR refund* OR REFUND");
    ck_assert_int_eq(text_query_terms(q, terms), 3);
    ck_assert_int_eq(terms[0]->ntokens, 1);
    ck_assert_str_eq(terms[0]->tokens[0], "refund");
    ck_assert(!terms[0]->prefix);
    ck_assert_int_eq(terms[1]->ntokens, 2);
    ck_assert_str_eq(terms[1]->tokens[0], "money");
    ck_assert_str_eq(terms[1]->tokens[1], "back");
    ck_assert_str_eq(terms[2]->tokens[0], "refund");
    ck_assert(terms[2]->prefix);
    text_query_free(q);

    /* Excluded terms don't count; a term excluded from an excluded group does. In query order. */
    q = parse_ok("NOT (x NOT late) a NOT b c");
    ck_assert_int_eq(text_query_terms(q, terms), 3);
    ck_assert_str_eq(terms[0]->tokens[0], "late");
    ck_assert_str_eq(terms[1]->tokens[0], "a");
    ck_assert_str_eq(terms[2]->tokens[0], "c");
    text_query_free(q);
}
END_TEST

/* ---- folding and tokenising, against SQLite ---- */

static sqlite3 *open_fts5(void)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = '" TEXT_QUERY_FTS5_TOKENIZE "');"
                                  "CREATE VIRTUAL TABLE v USING fts5vocab(t, instance);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void insert(sqlite3 *db, int64_t rowid, const char *body, size_t len)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO t(rowid, body) VALUES (?, ?)", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, body, (int)len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* "x<c>x <c>y": does c join two letters, and into what; can it start a token? */
static void document(uint32_t c, char doc[16])
{
    size_t n = 0;
    doc[n++] = 'x';
    n += text_fold_encode(c, doc + n);
    doc[n++] = 'x';
    doc[n++] = ' ';
    n += text_fold_encode(c, doc + n);
    doc[n++] = 'y';
    doc[n] = '\0';
}

static void our_tokens(const char *doc, char out[64])
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    out[0] = '\0';
    text_fold_cursor_init(&cursor, doc, strlen(doc));
    while (text_fold_next(&cursor, &token) == 1) {
        if (out[0])
            strcat(out, " ");
        strcat(out, token.folded);
    }
    text_fold_cursor_free(&cursor);
}

/* Our tokens of every document, joined by spaces, must be FTS5's: every code point of the listed
 * ranges between two letters (does it join them, and to what does it fold?) and at the start of a
 * token (can it start one?), and every 61st code point of all the rest. */
START_TEST(tokens_agree_with_fts5)
{
    static const uint32_t ranges[][2] = {
        {0x01, 0x7F},     /* ASCII */
        {0x80, 0xFF},     /* Latin-1 Supplement */
        {0x100, 0x17F},   /* Latin Extended-A */
        {0x180, 0x24F},   /* Latin Extended-B */
        {0x250, 0x36F},   /* IPA, modifiers, combining diacritics */
        {0x370, 0x3FF},   /* Greek */
        {0x400, 0x52F},   /* Cyrillic */
        {0x1E00, 0x1FFF}, /* Latin Extended Additional, Greek Extended */
        {0x2000, 0x206F}, /* punctuation */
        {0xFF00, 0xFFEF}, /* full width */
    };
    sqlite3 *db = open_fts5();
    static uint32_t points[0x10000];
    size_t docs = 0;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (uint32_t c = 1; c <= 0x10FFFF; c++) {
        bool listed = false;
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
            listed |= c >= ranges[r][0] && c <= ranges[r][1];
        if ((c >= 0xD800 && c <= 0xDFFF) || (!listed && c % 61 != 0))
            continue;
        char doc[16];
        document(c, doc);
        insert(db, c, doc, strlen(doc));
        ck_assert_uint_lt(docs, sizeof points / sizeof points[0]);
        points[docs++] = c;
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    ck_assert_int_eq(docs, 20385);

    /* FTS5's tokens of all documents in one pass, in the order of the rowids (the code points). */
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT doc, term FROM v ORDER BY doc, offset", -1, &st, NULL),
                     SQLITE_OK);
    int rc = sqlite3_step(st);
    size_t checked = 0;
    for (size_t i = 0; i < docs; i++) {
        char theirs[64] = "", ours[64] = "", doc[16];
        while (rc == SQLITE_ROW && (uint32_t)sqlite3_column_int64(st, 0) == points[i]) {
            if (theirs[0])
                strcat(theirs, " ");
            strcat(theirs, (const char *)sqlite3_column_text(st, 1));
            rc = sqlite3_step(st);
        }
        document(points[i], doc);
        our_tokens(doc, ours);
        ck_assert_msg(strcmp(ours, theirs) == 0, "U+%04X: ours '%s', FTS5's '%s'", (unsigned)points[i], ours,
                      theirs);
        checked++;
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(checked, docs);
    sqlite3_close(db);
}
END_TEST

/* A folded token goes to FTS5 quoted, and FTS5 tokenises and folds it again: that must give it back
 * unchanged, for every code point there is. */
START_TEST(folding_is_closed_and_idempotent)
{
    for (uint32_t c = 1; c <= 0x10FFFF; c++) {
        if (!text_fold_starts_token(c))
            continue;
        uint32_t f = text_fold_char(c);
        ck_assert_msg(f != 0 && text_fold_starts_token(f) && text_fold_char(f) == f, "U+%04X folds to U+%04X",
                      (unsigned)c, (unsigned)f);
    }
}
END_TEST

static void expect_fold(const char *in, const char *expected)
{
    size_t n;
    char *out = text_fold(in, strlen(in), &n);
    ck_assert_str_eq(out, expected);
    ck_assert_int_eq(n, strlen(expected));
    free(out);
}

START_TEST(fold_strings)
{
    expect_fold("Crème Brûlée, s'il vous plaît!", "creme brulee, s'il vous plait!");
    expect_fold("ÀÁÂÃÄÅ àáâãäå Ç ÈÉÊË ÌÍÎÏ Ñ ÒÓÔÕÖØ ÙÚÛÜ Ý ÿ", "aaaaaa aaaaaa c eeee iiii n oooooø uuuu y y");
    /* ø, ł, đ, æ, œ and ı are letters of their own to FTS5: lower-cased, not stripped. */
    expect_fold("Łódź Ćma Ęż Šťŕ Őű Ğış", "łodz cma ez str ou gıs");
    expect_fold("Straße STRAẞE", "straße straße");                  /* never ss, as in FTS5 */
    expect_fold("ǅ Ǆ ǆ Ơ Ư Ǎ", "ǆ ǆ ǆ o u a");
    expect_fold("ΑΒΓ Ωμέγα ΆΈ", "αβγ ωμέγα άέ");                     /* Greek accents stay */
    expect_fold("ПРИВЕТ Ёлка ЇЖАК", "привет ёлка їжак");
    expect_fold("e\xCC\x81t\xC3\xA9", "ete");                       /* e + combining acute */
    expect_fold("\xCC\x81" "a", "\xCC\x81" "a");                  /* a diacritic starts no token */
    expect_fold("Ⱥ", "ⱥ");                                          /* 2 bytes folded to 3 */
    expect_fold("\xFF" "A", "\xFF" "a");
}
END_TEST

static size_t rowids(sqlite3 *db, const char *match, int64_t *out, size_t max)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ck_assert_uint_lt(n, max);
        out[n++] = sqlite3_column_int64(st, 0);
    }
    ck_assert_msg(rc == SQLITE_DONE, "%s: %s", match, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return n;
}

/* A query typed with or without diacritics, in any case, finds the document that holds the word
 * in any other spelling of it, as FTS5 itself decides. */
START_TEST(diacritics_find_the_document)
{
    static const char *const pairs[][2] = {
        {"crème", "CREME"}, {"creme", "Crème"}, {"naïve", "naive"}, {"Ångström", "angstrom"},
        {"façade", "FAÇADE"}, {"jalapeño", "jalapeno"}, {"Øresund", "øresund"}, {"São", "sao"},
        {"Dvořák", "dvorak"}, {"Łódź", "łodz"}, {"Ærø", "ærø"}, {"Straße", "STRAẞE"},
        {"Ελλάδα", "ΕΛΛΆΔΑ"}, {"Ёлка", "ёлка"}, {"İstanbul", "istanbul"}, {"œuvre", "Œuvre"},
    };
    sqlite3 *db = open_fts5();
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "filler %s filler", pairs[i][0]);
        insert(db, (int64_t)i + 1, doc, strlen(doc));
        insert(db, (int64_t)i + 1001, "filler only", 11);
    }
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int way = 0; way < 2; way++) {
            struct text_query *q = parse_ok(pairs[i][way]);
            char *match = text_query_fts5(q);
            int64_t found[4];
            size_t n = rowids(db, match, found, 4);
            bool has = false;
            for (size_t k = 0; k < n; k++)
                has |= found[k] == (int64_t)i + 1;
            ck_assert_msg(has, "%s (%s) did not find document %zu", pairs[i][way], match, i + 1);
            /* And the raw word, quoted as FTS5 takes it, finds the same: our folding is FTS5's. */
            char raw[64];
            snprintf(raw, sizeof raw, "\"%s\"", pairs[i][way]);
            int64_t theirs[4];
            size_t m = rowids(db, raw, theirs, 4);
            ck_assert_int_eq(m, n);
            for (size_t k = 0; k < n; k++)
                ck_assert_int_eq(theirs[k], found[k]);
            free(match);
            text_query_free(q);
        }
    }
    /* Turkish dotless ı folds to itself and i to i, so they stay apart (as in FTS5). */
    struct text_query *q = parse_ok("ıstanbul");
    char *match = text_query_fts5(q);
    int64_t found[4];
    ck_assert_int_eq(rowids(db, match, found, 4), 0);
    free(match);
    text_query_free(q);
    sqlite3_close(db);
}
END_TEST

/* ---- the FTS5 translation against a reference evaluation ---- */

static const char *const corpus[] = {
    "The refund arrived late, but it arrived.",
    "No refund yet. I paid with PayPal!",
    "Money back guarantee? I want my money-back now",
    "Delivery was delivered late; undelivered parcels",
    "Great service, fast delivery",
    "Crème brûlée was cold",
    "creme brulee hot",
    "E-mail support never answered my e-mail",
    "email support answered in 3.5 hours",
    "not good and not bad, or so",
    "Refund requested via email, PayPal refused",
    "late late late",
    "the agent was rude and slow",
    "slow refund, rude agent, no money back",
    "Über schnell, sehr gut",
    "uber fast",
    "",
    "paypal",
};
#define NDOCS (sizeof corpus / sizeof corpus[0])

/* The reference: its own tokeniser (ASCII letters and digits, lower-cased, with the few accented
 * letters the corpus and queries use folded by hand) and its own evaluation of the tree. */
struct ref_doc {
    char tokens[32][24];
    size_t n;
};

static const char *ref_fold_accent(const unsigned char *s, size_t *len)
{
    static const char *const map[][2] = {
        {"\xC3\xA8", "e"}, {"\xC3\xA9", "e"}, {"\xC3\xBB", "u"}, {"\xC3\x9C", "u"}, {"\xC3\xBC", "u"},
        {"\xC3\x88", "e"}, {"\xC3\x89", "e"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (memcmp(s, map[i][0], 2) == 0) {
            *len = 2;
            return map[i][1];
        }
    return NULL;
}

static void ref_tokenize(const char *text, struct ref_doc *doc)
{
    const unsigned char *s = (const unsigned char *)text;
    doc->n = 0;
    size_t len = 0;
    bool in = false;
    while (true) {
        size_t step = 1;
        const char *letter = NULL;
        char ascii[2] = {0};
        if (*s && (s[0] < 0x80) && (s[0] >= '0' && s[0] <= '9')) {
            ascii[0] = (char)s[0];
            letter = ascii;
        } else if (*s && s[0] < 0x80 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
            ascii[0] = (char)(s[0] | 0x20);
            letter = ascii;
        } else if (*s >= 0x80) {
            letter = ref_fold_accent(s, &step);
            ck_assert_ptr_nonnull(letter);
        }
        if (letter) {
            if (!in)
                doc->n++, len = 0, in = true;
            doc->tokens[doc->n - 1][len++] = letter[0];
            doc->tokens[doc->n - 1][len] = '\0';
        } else {
            in = false;
        }
        if (!*s)
            break;
        s += step;
    }
}

static bool ref_term(const struct text_query_term *term, const struct ref_doc *doc)
{
    for (size_t i = 0; i + term->ntokens <= doc->n; i++) {
        bool all = true;
        for (size_t k = 0; k < term->ntokens && all; k++) {
            const char *want = term->tokens[k], *have = doc->tokens[i + k];
            bool last = k + 1 == term->ntokens;
            all = last && term->prefix ? strncmp(have, want, strlen(want)) == 0 : strcmp(have, want) == 0;
        }
        if (all)
            return true;
    }
    return false;
}

static bool ref_eval(const struct text_query_node *node, const struct ref_doc *doc)
{
    switch (node->kind) {
    case TEXT_QUERY_TERM:
        return ref_term(&node->term, doc);
    case TEXT_QUERY_OR:
        for (size_t i = 0; i < node->nchildren; i++)
            if (ref_eval(node->children[i], doc))
                return true;
        return false;
    case TEXT_QUERY_AND:
        for (size_t i = 0; i < node->nchildren; i++)
            if (!ref_eval(node->children[i], doc))
                return false;
        for (size_t i = 0; i < node->nexcluded; i++)
            if (ref_eval(node->excluded[i], doc))
                return false;
        return true;
    }
    return false;
}

START_TEST(fts5_equals_reference)
{
    static const char *const queries[] = {
        "refund", "REFUND", "refund paypal", "refund AND paypal", "refund OR paypal", "refund NOT paypal",
        "\"money back\"", "money-back", "\"back money\"", "money NOT \"money back\"", "deliv*", "undeliv*",
        "deliv* NOT late", "late OR slow refund", "(late OR slow) refund", "refund NOT (paypal OR slow)",
        "e-mail", "email OR e-mail", "\"e mail\" support", "3.5", "\"3 5\" hours", "creme", "Crème Brûlée",
        "\"creme brulee\" NOT cold", "uber", "über*", "not good", "and OR or", "rude agent NOT money",
        "a NOT (b NOT c) OR paypal", "paypal NOT (refund NOT refused)", "re*", "the NOT arrived",
        "(((refund)))", "refund OR \"money back\"", "slow NOT (rude NOT agent)", "fast delivery OR uber fast",
        "refus* OR request*", "money-ba*", "\"e mai\" OR e-ma*", "late late", "\"late late late\"",
        "\"late late late late\"", "zz*",
    };
    sqlite3 *db = open_fts5();
    struct ref_doc docs[NDOCS];
    for (size_t i = 0; i < NDOCS; i++) {
        insert(db, (int64_t)i + 1, corpus[i], strlen(corpus[i]));
        ref_tokenize(corpus[i], &docs[i]);
    }
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
        struct text_query *q = parse_ok(queries[qi]);
        char *match = text_query_fts5(q);
        int64_t got[NDOCS];
        size_t n = rowids(db, match, got, NDOCS);
        char got_s[256] = "", want_s[256] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(got_s + strlen(got_s), sizeof got_s - strlen(got_s), "%lld ", (long long)got[i]);
        for (size_t i = 0; i < NDOCS; i++)
            if (ref_eval(q->root, &docs[i]))
                snprintf(want_s + strlen(want_s), sizeof want_s - strlen(want_s), "%zu ", i + 1);
        ck_assert_msg(strcmp(got_s, want_s) == 0, "%s (%s): FTS5 found [%s], the reference [%s]", queries[qi],
                      match, got_s, want_s);
        free(match);
        text_query_free(q);
    }
    sqlite3_close(db);
}
END_TEST

/* ---- text_query_eval (topics) against FTS5 on random documents and queries ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(uint32_t below)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % below);
}

static const char *const eval_words[] = {
    "refund", "Refunds", "money", "BACK", "late", "delivery", "delivered", "undelivered", "Crème", "creme",
    "brûlée", "e-mail", "email", "PayPal", "slow", "rude", "agent", "Über", "uber", "fast", "not", "and",
    "or", "3.5", "money-back", "ñandú", "Ёлка", "日本",
};
#define NEVAL_WORDS (sizeof eval_words / sizeof eval_words[0])
static const char *const eval_seps[] = {" ", ", ", ". ", "\n", "; ", " - ", "!\n", "  "};
static const char *const eval_prefixes[] = {"ref*", "del*", "cr*", "e-ma*", "üb*", "mon*", "re*", "de*", "pay*",
                                            "undeliv*", "ёл*", "money-ba*", "zz*"};

static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", s);
}

static void random_document(char *buf, size_t cap)
{
    buf[0] = '\0';
    uint32_t n = rng(12);
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0)
            append(buf, cap, eval_seps[rng(sizeof eval_seps / sizeof eval_seps[0])]);
        append(buf, cap, eval_words[rng(NEVAL_WORDS)]);
    }
}

static void random_unit(char *buf, size_t cap, int depth, size_t *terms);

static void random_expr(char *buf, size_t cap, int depth, size_t *terms)
{
    uint32_t ors = rng(3);
    for (uint32_t o = 0; o <= ors; o++) {
        if (o > 0)
            append(buf, cap, " OR ");
        uint32_t ands = rng(3);
        for (uint32_t a = 0; a <= ands; a++) {
            if (a > 0) {
                static const char *const ops[] = {" ", " AND ", " NOT "};
                append(buf, cap, ops[rng(3)]);
            }
            random_unit(buf, cap, depth, terms);
        }
    }
}

static void random_unit(char *buf, size_t cap, int depth, size_t *terms)
{
    uint32_t kind = rng(depth < 3 ? 5 : 4);
    if (*terms > 20)
        kind = 0;
    (*terms)++;
    switch (kind) {
    case 0:
    case 1:
        append(buf, cap, eval_words[rng(NEVAL_WORDS)]);
        break;
    case 2:
        append(buf, cap, eval_prefixes[rng(sizeof eval_prefixes / sizeof eval_prefixes[0])]);
        break;
    case 3:
        append(buf, cap, "\"");
        append(buf, cap, eval_words[rng(NEVAL_WORDS)]);
        append(buf, cap, " ");
        append(buf, cap, eval_words[rng(NEVAL_WORDS)]);
        append(buf, cap, "\"");
        break;
    default:
        append(buf, cap, "(");
        random_expr(buf, cap, depth + 1, terms);
        append(buf, cap, ")");
        break;
    }
}

START_TEST(eval_equals_fts5)
{
    enum { NRANDOM_DOCS = 300, NRANDOM_QUERIES = 1500 };
    static char docs[NRANDOM_DOCS][512];
    sqlite3 *db = open_fts5();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < NRANDOM_DOCS; i++) {
        random_document(docs[i], sizeof docs[i]);
        insert(db, (int64_t)i + 1, docs[i], strlen(docs[i]));
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    size_t parsed = 0, nonempty = 0, partial = 0;
    for (size_t qi = 0; qi < NRANDOM_QUERIES; qi++) {
        char q[TEXT_QUERY_MAX_BYTES * 2] = "";
        size_t terms = 0;
        random_expr(q, sizeof q, 0, &terms);
        struct text_query *query;
        struct text_query_error error;
        if (text_query_parse(q, strlen(q), &query, &error) != TEXT_QUERY_OK) {
            if (getenv("EVAL_DEBUG"))
                fprintf(stderr, "%s: %s\n", q, error.message);
            continue;
        }
        parsed++;
        char *match = text_query_fts5(query);
        static int64_t found[NRANDOM_DOCS];
        size_t n = rowids(db, match, found, NRANDOM_DOCS), k = 0, ours = 0;
        for (size_t i = 0; i < NRANDOM_DOCS; i++) {
            bool theirs = k < n && found[k] == (int64_t)i + 1;
            k += theirs;
            int mine = text_query_eval(query, docs[i], strlen(docs[i]));
            ck_assert_int_ge(mine, 0);
            ours += mine == 1;
            ck_assert_msg((mine == 1) == theirs, "%s (%s) on \"%s\": eval %d, FTS5 %d", q, match, docs[i], mine,
                          theirs);
        }
        nonempty += ours > 0;
        partial += ours > 0 && ours < NRANDOM_DOCS;
        free(match);
        text_query_free(query);
    }
    /* The generator must exercise the language: most queries parse, many match some documents only. */
    ck_assert_uint_gt(parsed, NRANDOM_QUERIES * 9 / 10);
    ck_assert_uint_gt(partial, parsed / 4);
    ck_assert_uint_lt(nonempty, parsed);
    sqlite3_close(db);
}
END_TEST

/* ---- matches and snippets ---- */

static struct text_query_match *matches_of(const char *q, const char *text, size_t *n)
{
    struct text_query *query = parse_ok(q);
    struct text_query_match *m;
    ck_assert(text_query_matches(query, text, strlen(text), &m, n));
    text_query_free(query);
    return m;
}

/* The stretch a match names, by bytes; and its length in code points agrees. */
static void expect_at(const char *text, const struct text_query_match *m, const char *expected)
{
    ck_assert_int_eq(m->byte_length, strlen(expected));
    ck_assert_msg(memcmp(text + m->byte_start, expected, m->byte_length) == 0, "expected %s at byte %zu", expected,
                  m->byte_start);
    size_t chars = 0, before = 0;
    for (size_t i = 0; i < m->byte_start; i++)
        before += ((unsigned char)text[i] & 0xC0) != 0x80;
    for (size_t i = 0; i < m->byte_length; i++)
        chars += ((unsigned char)text[m->byte_start + i] & 0xC0) != 0x80;
    ck_assert_int_eq(m->char_start, before);
    ck_assert_int_eq(m->char_length, chars);
}

START_TEST(matches_in_multibyte_text)
{
    const char *text = "Crème brûlée, CRÈME fraîche; cremes";
    size_t n;
    struct text_query_match *m = matches_of("creme", text, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(m[0].byte_start, 0);
    ck_assert_int_eq(m[0].byte_length, 6);
    ck_assert_int_eq(m[0].char_start, 0);
    ck_assert_int_eq(m[0].char_length, 5);
    ck_assert_int_eq(m[1].byte_start, 17);
    ck_assert_int_eq(m[1].byte_length, 6);
    ck_assert_int_eq(m[1].char_start, 14);
    ck_assert_int_eq(m[1].char_length, 5);
    free(m);

    m = matches_of("crem* OR BRULEE", text, &n);
    ck_assert_int_eq(n, 4);
    expect_at(text, &m[0], "Crème");
    expect_at(text, &m[1], "brûlée");
    expect_at(text, &m[2], "CRÈME");
    expect_at(text, &m[3], "cremes");
    free(m);

    /* A phrase is its whole run, separators included; a word inside it merges into it. */
    text = "Ich will mein Geld zurück — Money-Back! money back, MONEY";
    m = matches_of("\"money back\" OR money", text, &n);
    ck_assert_int_eq(n, 3);
    expect_at(text, &m[0], "Money-Back");
    expect_at(text, &m[1], "money back");
    expect_at(text, &m[2], "MONEY");
    free(m);

    /* Prefixes match at the start of a token only; excluded terms are not shown. */
    text = "Delivery: delivered late, undelivered; paypal refund";
    m = matches_of("deliv* refund NOT paypal", text, &n);
    ck_assert_int_eq(n, 3);
    expect_at(text, &m[0], "Delivery");
    expect_at(text, &m[1], "delivered");
    expect_at(text, &m[2], "refund");
    free(m);

    /* Combining diacritics belong to the token; CJK and Cyrillic. */
    text = "cafe\xCC\x81 日本 Ёлка";
    m = matches_of("CAFÉ OR ёлка", text, &n);
    ck_assert_int_eq(n, 2);
    expect_at(text, &m[0], "cafe\xCC\x81");
    expect_at(text, &m[1], "Ёлка");
    ck_assert_int_eq(m[1].char_start, 9);
    free(m);

    m = matches_of("nothing", text, &n);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(m);
}
END_TEST

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void snippet_of(const char *q, const char *text, size_t max_chars, struct text_query_snippet *out)
{
    size_t n;
    struct text_query_match *m = matches_of(q, text, &n);
    ck_assert(text_query_snippet(text, strlen(text), m, n, max_chars, out));
    free(m);
    ck_assert_msg(utf8_chars(out->text) <= max_chars, "'%s' is longer than %zu", out->text, max_chars);
    ck_assert_int_eq(out->length, strlen(out->text));
}

START_TEST(snippets)
{
    struct text_query_snippet s;

    /* It fits: all of it, offsets unchanged. */
    snippet_of("refund", "No refund yet", 20, &s);
    ck_assert_str_eq(s.text, "No refund yet");
    ck_assert_int_eq(s.nmatches, 1);
    expect_at(s.text, &s.matches[0], "refund");
    text_query_snippet_free(&s);

    /* Cut on both sides, between words, with the match re-based after the "…". */
    const char *text = "Wir haben sehr lange gewartet, und dann kam die Rückerstattung für die Bestellung "
                       "doch noch, aber viel zu spät für uns alle.";
    snippet_of("rückerstattung OR spät", text, 40, &s);
    ck_assert_str_eq(s.text, "…kam die Rückerstattung für die…");
    ck_assert_int_eq(s.nmatches, 1);
    expect_at(s.text, &s.matches[0], "Rückerstattung");
    ck_assert_int_eq(s.matches[0].char_start, 9);
    text_query_snippet_free(&s);

    /* Near the end: the room goes before it. */
    snippet_of("alle", text, 30, &s);
    ck_assert_str_eq(s.text, "…viel zu spät für uns alle.");
    expect_at(s.text, &s.matches[0], "alle");
    text_query_snippet_free(&s);

    /* No match: the start. */
    snippet_of("nothing", text, 25, &s);
    ck_assert_str_eq(s.text, "Wir haben sehr lange…");
    ck_assert_int_eq(s.nmatches, 0);
    text_query_snippet_free(&s);

    /* A match longer than the room is cut, and left out of the offsets. */
    snippet_of("\"wir haben sehr lange gewartet\"", text, 10, &s);
    ck_assert_int_eq(s.nmatches, 0);
    text_query_snippet_free(&s);

    /* Tiny budgets. */
    snippet_of("wir", text, 2, &s);
    ck_assert_str_eq(s.text, "W…");
    text_query_snippet_free(&s);
    snippet_of("wir", text, 1, &s);
    ck_assert_str_eq(s.text, "…");
    text_query_snippet_free(&s);
    snippet_of("wir", text, 0, &s);
    ck_assert_str_eq(s.text, "");
    text_query_snippet_free(&s);

    /* Every budget, every match: never longer, and every offset names the word. */
    const char *multi = "日本語のテキスト: Ünïcödé wörds ünd mörë wörds, ending with wörds";
    for (size_t max = 1; max < 70; max++) {
        snippet_of("wörds OR ünd", multi, max, &s);
        for (size_t i = 0; i < s.nmatches; i++) {
            const struct text_query_match *m = &s.matches[i];
            const char *word = m->byte_length == strlen("ünd") ? "ünd" : "wörds";
            expect_at(s.text, m, word);
        }
        text_query_snippet_free(&s);
    }
}
END_TEST

static Suite *text_query_suite(void)
{
    Suite *s = suite_create("text_query");
    TCase *language = tcase_create("language");
    tcase_add_test(language, words_phrases_prefixes);
    tcase_add_test(language, operators_and_precedence);
    tcase_add_test(language, tree_shape);
    tcase_add_test(language, errors_with_positions);
    tcase_add_test(language, limits);
    suite_add_tcase(s, language);

    TCase *translations = tcase_create("translations");
    tcase_add_test(translations, tsquery_strings);
    tcase_add_test(translations, distinct_terms);
    tcase_add_test(translations, fts5_equals_reference);
    tcase_set_timeout(translations, 60);
    tcase_add_test(translations, eval_equals_fts5);
    suite_add_tcase(s, translations);

    TCase *folding = tcase_create("folding");
    tcase_set_timeout(folding, 60);
    tcase_add_test(folding, tokens_agree_with_fts5);
    tcase_add_test(folding, folding_is_closed_and_idempotent);
    tcase_add_test(folding, fold_strings);
    tcase_add_test(folding, diacritics_find_the_document);
    suite_add_tcase(s, folding);

    TCase *highlighting = tcase_create("highlighting");
    tcase_add_test(highlighting, matches_in_multibyte_text);
    tcase_add_test(highlighting, snippets);
    suite_add_tcase(s, highlighting);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(text_query_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
