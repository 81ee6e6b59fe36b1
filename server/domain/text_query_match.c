/* Where a query's terms occur in an answer, and an excerpt around them: what a listing shows next
 * to a response found by q=. Tokens are compared folded (text_fold.h), whole or by prefix, and
 * stemmed first when the query was (text_query_stem), as the index stems them. */
#include "text_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_fold.h"

struct token {
    struct text_query_match at;
    char *folded;
};

struct tokens {
    struct token *list;
    size_t n;
};

static void tokens_free(struct tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->list[i].folded);
    free(t->list);
}

static bool tokenize(const char *text, size_t len, enum text_language language, struct tokens *out)
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    size_t cap = 0;
    int more;
    *out = (struct tokens){0};
    text_fold_cursor_init(&cursor, text, len);
    while ((more = text_fold_next(&cursor, &token)) == 1) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            struct token *grown = realloc(out->list, cap * sizeof *grown);
            if (grown == NULL)
                goto fail;
            out->list = grown;
        }
        char *folded = text_stem(language, token.folded, token.folded_length); /* a copy when not stemming */
        if (folded == NULL)
            goto fail;
        out->list[out->n++] = (struct token){
            {token.byte_start, token.byte_length, token.char_start, token.char_length}, folded};
    }
    text_fold_cursor_free(&cursor);
    if (more == 0)
        return true;
fail:
    text_fold_cursor_free(&cursor);
    tokens_free(out);
    return false;
}

static bool token_matches(const char *token, const char *want, bool prefix)
{
    return prefix ? strncmp(token, want, strlen(want)) == 0 : strcmp(token, want) == 0;
}

/* Does term match the tokens from i on? */
static bool term_at(const struct text_query_term *term, const struct tokens *t, size_t i)
{
    if (t->n - i < term->ntokens)
        return false;
    for (size_t k = 0; k < term->ntokens; k++) {
        bool last = k + 1 == term->ntokens;
        if (!token_matches(t->list[i + k].folded, term->tokens[k], last && term->prefix))
            return false;
    }
    return true;
}

static int by_start(const void *a, const void *b)
{
    const struct text_query_match *x = a, *y = b;
    if (x->byte_start != y->byte_start)
        return x->byte_start < y->byte_start ? -1 : 1;
    return x->byte_length < y->byte_length ? 1 : x->byte_length > y->byte_length ? -1 : 0;
}

/* Sorted, overlapping stretches (a word inside a matching phrase) become one. */
static size_t merge(struct text_query_match *m, size_t n)
{
    if (n == 0)
        return 0;
    qsort(m, n, sizeof *m, by_start);
    size_t kept = 0;
    for (size_t i = 1; i < n; i++) {
        struct text_query_match *last = &m[kept];
        size_t last_end = last->byte_start + last->byte_length;
        if (m[i].byte_start < last_end) {
            size_t end = m[i].byte_start + m[i].byte_length;
            size_t char_end = m[i].char_start + m[i].char_length;
            if (end > last_end) {
                last->byte_length = end - last->byte_start;
                last->char_length = char_end - last->char_start;
            }
        } else {
            m[++kept] = m[i];
        }
    }
    return kept + 1;
}

bool text_query_matches(const struct text_query *query, const char *text, size_t len,
                        struct text_query_match **out, size_t *count)
{
    const struct text_query_term *terms[TEXT_QUERY_MAX_TERMS];
    size_t nterms = text_query_terms(query, terms);
    struct tokens t;
    struct text_query_match *found = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *count = 0;
    if (!tokenize(text, len, query->language, &t))
        return false;
    for (size_t i = 0; i < t.n; i++) {
        for (size_t k = 0; k < nterms; k++) {
            if (!term_at(terms[k], &t, i))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct text_query_match *grown = realloc(found, cap * sizeof *grown);
                if (grown == NULL)
                    goto fail;
                found = grown;
            }
            const struct text_query_match *first = &t.list[i].at;
            const struct text_query_match *last = &t.list[i + terms[k]->ntokens - 1].at;
            found[n++] = (struct text_query_match){
                first->byte_start, last->byte_start + last->byte_length - first->byte_start,
                first->char_start, last->char_start + last->char_length - first->char_start};
        }
    }
    tokens_free(&t);
    *count = merge(found, n);
    *out = found;
    return true;
fail:
    tokens_free(&t);
    free(found);
    return false;
}

static bool node_eval(const struct text_query_node *node, const struct tokens *t)
{
    switch (node->kind) {
    case TEXT_QUERY_TERM:
        for (size_t i = 0; i < t->n; i++)
            if (term_at(&node->term, t, i))
                return true;
        return false;
    case TEXT_QUERY_AND:
        for (size_t i = 0; i < node->nchildren; i++)
            if (!node_eval(node->children[i], t))
                return false;
        for (size_t i = 0; i < node->nexcluded; i++)
            if (node_eval(node->excluded[i], t))
                return false;
        return true;
    case TEXT_QUERY_OR:
        for (size_t i = 0; i < node->nchildren; i++)
            if (node_eval(node->children[i], t))
                return true;
        return false;
    }
    return false;
}

int text_query_eval(const struct text_query *query, const char *text, size_t len)
{
    struct tokens t;
    if (!tokenize(text, len, query->language, &t)) /* stemmed as the query is (text_query_stem) */
        return -1;
    bool match = query->root != NULL && node_eval(query->root, &t);
    tokens_free(&t);
    return match ? 1 : 0;
}

/* The byte offset of every code point of text, and of its end: offsets[total] == len. Ill-formed
 * bytes count as one character each, as in text_fold_next. */
static size_t *char_offsets(const char *text, size_t len, size_t *total)
{
    size_t *offsets = malloc((len + 1) * sizeof *offsets);
    if (offsets == NULL)
        return NULL;
    size_t n = 0;
    for (size_t at = 0; at < len;) {
        uint32_t c;
        size_t step = text_fold_decode(text + at, len - at, &c);
        offsets[n++] = at;
        at += step ? step : 1;
    }
    offsets[n] = len;
    *total = n;
    return offsets;
}

static uint32_t char_at(const char *text, const size_t *offsets, size_t i)
{
    uint32_t c;
    if (text_fold_decode(text + offsets[i], offsets[i + 1] - offsets[i], &c) == 0)
        c = 0xFFFD;
    return c;
}

static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0xA0 || c == 0x3000;
}

/* [*start, *end) in code points: the window of at most max_chars ("…" included) from a little before
 * the first match, then moved off the middle of words and off spaces at its edges. */
static void choose_window(const char *text, const size_t *offsets, size_t total, const struct text_query_match *first,
                          size_t max_chars, size_t *start, size_t *end)
{
    size_t anchor = first ? first->char_start : 0;
    size_t anchor_end = first ? first->char_start + first->char_length : 0;
    if (max_chars < 3) {
        /* No room for "…" at both ends: the start of the text, then "…". */
        *start = 0;
        *end = max_chars - 1;
        return;
    }
    size_t lead = max_chars / 4;
    size_t s = anchor > lead ? anchor - lead : 0;
    size_t room = max_chars - (s > 0);
    if (s + room < total)
        room--;
    size_t e = s + room < total ? s + room : total;
    if (e == total && s > 0) {
        /* The end of the text is in view: spend the room on what comes before instead. */
        s = total - (max_chars - 1);
        e = total;
    }
    /* Cut between words, not inside one, unless that would lose the first match. */
    while (s > 0 && s < anchor && text_fold_starts_token(char_at(text, offsets, s - 1))
           && text_fold_continues_token(char_at(text, offsets, s)))
        s++;
    while (s < anchor && is_space(char_at(text, offsets, s)))
        s++;
    while (e < total && e > anchor_end && e > s && text_fold_continues_token(char_at(text, offsets, e))
           && text_fold_continues_token(char_at(text, offsets, e - 1)))
        e--;
    while (e < total && e > anchor_end && e > s && is_space(char_at(text, offsets, e - 1)))
        e--;
    *start = s;
    *end = e;
}

static const char ellipsis[] = "\xE2\x80\xA6"; /* … U+2026 */

bool text_query_snippet(const char *text, size_t len, const struct text_query_match *matches, size_t nmatches,
                        size_t max_chars, struct text_query_snippet *out)
{
    size_t total, s = 0, e;
    *out = (struct text_query_snippet){0};
    size_t *offsets = char_offsets(text, len, &total);
    if (offsets == NULL)
        return false;
    e = total;
    if (total > max_chars) {
        if (max_chars == 0)
            e = 0;
        else
            choose_window(text, offsets, total, nmatches ? &matches[0] : NULL, max_chars, &s, &e);
    }
    bool lead = s > 0, trail = e < total;
    size_t body = offsets[e] - offsets[s];
    out->text = malloc(body + 2 * (sizeof ellipsis - 1) + 1);
    out->matches = malloc((nmatches ? nmatches : 1) * sizeof *out->matches);
    if (out->text == NULL || out->matches == NULL)
        goto fail;
    char *w = out->text;
    if (lead) {
        memcpy(w, ellipsis, sizeof ellipsis - 1);
        w += sizeof ellipsis - 1;
    }
    memcpy(w, text + offsets[s], body);
    w += body;
    if (trail && max_chars > 0) {
        memcpy(w, ellipsis, sizeof ellipsis - 1);
        w += sizeof ellipsis - 1;
    }
    *w = '\0';
    out->length = (size_t)(w - out->text);
    for (size_t i = 0; i < nmatches; i++) {
        const struct text_query_match *m = &matches[i];
        if (m->char_start < s || m->char_start + m->char_length > e)
            continue;
        out->matches[out->nmatches++] = (struct text_query_match){
            m->byte_start - offsets[s] + (lead ? sizeof ellipsis - 1 : 0), m->byte_length,
            m->char_start - s + lead, m->char_length};
    }
    free(offsets);
    return true;
fail:
    free(offsets);
    text_query_snippet_free(out);
    return false;
}

void text_query_snippet_free(struct text_query_snippet *snippet)
{
    free(snippet->text);
    free(snippet->matches);
    *snippet = (struct text_query_snippet){0};
}
