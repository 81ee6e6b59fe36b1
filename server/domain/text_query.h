/* The search query language of q= and of topics (docs/search.md "Query language"): parsed once into a
 * tree, then translated for the index (an FTS5 MATCH expression, a PostgreSQL tsquery) and used to
 * find the matches in an answer for highlighting. Pure: no I/O, no SQL executed here.
 *
 *   refund OR "money back"        e-mail NOT (spam OR phishing)        deliv* AND (late OR slow)
 *
 * Words are tokenised and folded exactly as FTS5's unicode61 tokenizer with remove_diacritics 2 does
 * (text_fold.h), so the index must use that tokenizer (TEXT_QUERY_FTS5_TOKENIZE). The user's text never
 * reaches FTS5 or PostgreSQL as syntax: every token is quoted by the translations. Matches are
 * exact folded tokens and prefixes; with text_query_stem, exact stems (text_stem.h). */
#ifndef SURVEYD_TEXT_QUERY_H
#define SURVEYD_TEXT_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "text_stem.h"

/* The FTS5 tokenize option a table searched with text_query_fts5 must be created with. */
#define TEXT_QUERY_FTS5_TOKENIZE "unicode61 remove_diacritics 2"

/* Limits: longer or bigger queries are rejected with query_too_complex. A term is one word, phrase
 * or prefix; depth counts nested parentheses. */
#define TEXT_QUERY_MAX_BYTES 512
#define TEXT_QUERY_MAX_TERMS 32
#define TEXT_QUERY_MAX_DEPTH 8

enum text_query_status {
    TEXT_QUERY_OK,
    TEXT_QUERY_INVALID,         /* code "invalid_query" */
    TEXT_QUERY_TOO_COMPLEX,     /* code "query_too_complex" */
    TEXT_QUERY_NO_MEMORY,       /* code NULL */
};

struct text_query_error {
    const char *code;           /* "invalid_query", "query_too_complex"; NULL when out of memory */
    char message[160];          /* one English sentence for a person, without the position */
    size_t position;            /* where: code points (not bytes) from the start of the query */
};

/* A word ("refund": one token), a phrase ("money back", or a word with separators inside such as
 * e-mail: its tokens in order) or a prefix (deliv*: the last token is a prefix). */
struct text_query_term {
    char **tokens;              /* folded, NUL-terminated UTF-8; never empty strings */
    size_t ntokens;             /* >= 1 */
    bool prefix;                /* the last token matches any token that starts with it */
    size_t position;            /* code points from the start of the query */
};

enum text_query_kind {
    TEXT_QUERY_TERM,
    TEXT_QUERY_AND,             /* every child matches and no excluded one does */
    TEXT_QUERY_OR,              /* some child matches */
};

struct text_query_node {
    enum text_query_kind kind;
    struct text_query_term term;            /* TERM */
    struct text_query_node **children;      /* AND (>= 1), OR (>= 2) */
    size_t nchildren;
    struct text_query_node **excluded;      /* AND: the operands of its NOTs (may be 0) */
    size_t nexcluded;
};

/* A parsed query; read-only for callers (walk root to evaluate it some other way). */
struct text_query {
    struct text_query_node *root;
    size_t nterms;
    enum text_language language;    /* set by text_query_stem: its tokens are stems */
};

/* Parses query[0..len). On success *out is the tree (text_query_free); otherwise *out is NULL and
 * *error says what and where. */
enum text_query_status text_query_parse(const char *query, size_t len, struct text_query **out,
                                        struct text_query_error *error);

void text_query_free(struct text_query *query);

/* Stems the query's tokens for an index built with language (text_stem.h): every token of a word or
 * phrase, and of a prefix all but the prefix itself (deliv* matches the stems that start with
 * deliv). text_query_matches then stems the answer's tokens too. Nothing to do for
 * TEXT_LANGUAGE_NONE. False when out of memory (the query is then unusable: free it). */
bool text_query_stem(struct text_query *query, enum text_language language);

/* An FTS5 MATCH expression: every token double-quoted, "tok" * for a prefix, "a" + "b" for a phrase,
 * AND / OR / NOT and parentheses spelled out. malloc'd; NULL when out of memory. */
char *text_query_fts5(const struct text_query *query);

/* PostgreSQL tsquery text for to_tsquery(config, ...) or ::tsquery: 'tok' single-quoted and
 * escaped, 'tok':* for a prefix, ('a' <-> 'b') for a phrase, & | ! and parentheses. malloc'd; NULL
 * when out of memory. With a config that stems or drops stop words, PostgreSQL applies it to each
 * lexeme (to_tsquery); ::tsquery takes the folded tokens as they are. */
char *text_query_tsquery(const struct text_query *query);

/* The distinct terms that count for a match (highlighting, topics): those under an even number of
 * NOTs, in the order they appear. Pointers into query, at most TEXT_QUERY_MAX_TERMS; the count. */
size_t text_query_terms(const struct text_query *query, const struct text_query_term *out[TEXT_QUERY_MAX_TERMS]);

/* Does text[0..len) (a response's document, response_text.h) match the query, as FTS5 would decide
 * with the translation of text_query_fts5 over a table of that one document: a word matches a
 * folded token, a prefix any token that starts with it, a phrase its tokens in a row; AND needs every
 * child and none of its NOT operands, OR any child. What topics tag responses with, so that every
 * backend tags alike without an index. 1: matches, 0: does not, -1: out of memory. */
int text_query_eval(const struct text_query *query, const char *text, size_t len);

/* A stretch of a text: in bytes and in code points. */
struct text_query_match {
    size_t byte_start, byte_length;
    size_t char_start, char_length;
};

/* Where the terms of text_query_terms occur in text[0..len): each matching token (a phrase: its whole
 * run of tokens, from the first one's start to the last one's end), overlapping stretches merged,
 * ascending. *out is malloc'd (NULL when there are none), *count its length. False when out of
 * memory. */
bool text_query_matches(const struct text_query *query, const char *text, size_t len,
                        struct text_query_match **out, size_t *count);

struct text_query_snippet {
    char *text;                             /* malloc'd, NUL-terminated; no markup */
    size_t length;                          /* bytes */
    struct text_query_match *matches;       /* those wholly inside, offsets within text */
    size_t nmatches;
};

/* An excerpt of text[0..len) of at most max_chars code points ("…" included) around the first
 * matches: the whole text when it fits, otherwise from a little before the first match, cut between
 * words where it can, with "…" where text was cut. matches as text_query_matches gives them. False
 * when out of memory. */
bool text_query_snippet(const char *text, size_t len, const struct text_query_match *matches, size_t nmatches,
                        size_t max_chars, struct text_query_snippet *out);

void text_query_snippet_free(struct text_query_snippet *snippet);

#endif
