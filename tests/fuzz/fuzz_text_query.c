/*
 * libFuzzer harness: the search query language (server/domain/text_query.h).
 *
 * The input is the query. The first byte, when there is one, also sets the snippet length (0..255);
 * the whole input is the text that matches and snippets are taken from.
 *
 * Invariants (abort() when broken): a failed parse has a code, a message and a position within the
 * query (in code points); a parsed one has 1..32 terms of non-empty tokens, a well-formed tree, and
 * an FTS5 translation that a real FTS5 table accepts as MATCH syntax; matches are sorted, disjoint,
 * inside the text, and agree in bytes and code points; a snippet is at most its length and its
 * matches name the same text as the originals.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_query.h"

static sqlite3 *db;

static size_t chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static void check_node(const struct text_query_node *node)
{
    if (node->kind == TEXT_QUERY_TERM) {
        if (node->term.ntokens < 1)
            abort();
        for (size_t i = 0; i < node->term.ntokens; i++)
            if (node->term.tokens[i][0] == '\0')
                abort();
        return;
    }
    if (node->kind == TEXT_QUERY_AND ? node->nchildren < 1 : node->nchildren < 2 || node->nexcluded != 0)
        abort();
    for (size_t i = 0; i < node->nchildren; i++)
        check_node(node->children[i]);
    for (size_t i = 0; i < node->nexcluded; i++)
        check_node(node->excluded[i]);
}

static void check_fts5(const struct text_query *q)
{
    char *match = text_query_fts5(q);
    char *ts = text_query_tsquery(q);
    if (match == NULL || ts == NULL)
        abort();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?", -1, &st, NULL) != SQLITE_OK)
        abort();
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        abort(); /* FTS5 refused the syntax */
    sqlite3_finalize(st);
    free(match);
    free(ts);
}

static void check_matches(const struct text_query *q, const char *text, size_t len, size_t max_chars)
{
    struct text_query_match *m;
    size_t n;
    if (!text_query_matches(q, text, len, &m, &n))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (m[i].byte_length == 0 || m[i].byte_start + m[i].byte_length > len)
            abort();
        if (i > 0 && m[i].byte_start < m[i - 1].byte_start + m[i - 1].byte_length)
            abort();
        if (chars(text, m[i].byte_start) != m[i].char_start
            || chars(text + m[i].byte_start, m[i].byte_length) != m[i].char_length)
            abort();
    }
    struct text_query_snippet s;
    if (!text_query_snippet(text, len, m, n, max_chars, &s))
        abort();
    if (chars(s.text, s.length) > max_chars || strlen(s.text) != s.length)
        abort();
    for (size_t i = 0; i < s.nmatches; i++) {
        const struct text_query_match *x = &s.matches[i];
        if (x->byte_start + x->byte_length > s.length || chars(s.text, x->byte_start) != x->char_start)
            abort();
    }
    text_query_snippet_free(&s);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (db == NULL) {
        if (sqlite3_open(":memory:", &db) != SQLITE_OK
            || sqlite3_exec(db,
                            "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = '" TEXT_QUERY_FTS5_TOKENIZE "');"
                            "INSERT INTO t VALUES ('refund via paypal'), ('money back'), ('e-mail crème');",
                            NULL, NULL, NULL) != SQLITE_OK)
            abort();
    }
    const char *text = (const char *)data;
    struct text_query *q;
    struct text_query_error error;
    enum text_query_status status = text_query_parse(text, size, &q, &error);
    if (status != TEXT_QUERY_OK) {
        if (q != NULL || error.code == NULL || error.message[0] == '\0' || error.position > size)
            abort();
        return 0;
    }
    if (q->nterms < 1 || q->nterms > TEXT_QUERY_MAX_TERMS || size > TEXT_QUERY_MAX_BYTES)
        abort();
    check_node(q->root);
    check_fts5(q);
    check_matches(q, text, size, size ? data[0] : 0);
    text_query_free(q);
    return 0;
}
