/* The parser of the query language: the query is checked as UTF-8, cut into lexemes (terms,
 * operators, parentheses), its parentheses matched, then read by recursive descent with NOT above
 * AND above OR. The translations are in text_query_sql.c, highlighting in text_query_match.c. */
#include "text_query.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_fold.h"

enum lex_kind { LEX_TERM, LEX_AND, LEX_OR, LEX_NOT, LEX_OPEN, LEX_CLOSE, LEX_END };

struct lexeme {
    enum lex_kind kind;
    size_t position;
    struct text_query_term term;    /* LEX_TERM; moved into the tree when parsed */
};

struct parser {
    const char *query;
    size_t len;
    struct lexeme *lex;
    size_t nlex, next, nterms;
    enum text_query_status status;
    struct text_query_error *error;
};

static bool fail(struct parser *p, enum text_query_status status, size_t position, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail(struct parser *p, enum text_query_status status, size_t position, const char *fmt, ...)
{
    p->status = status;
    p->error->code = status == TEXT_QUERY_INVALID ? "invalid_query"
                   : status == TEXT_QUERY_TOO_COMPLEX ? "query_too_complex" : NULL;
    p->error->position = position;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error->message, sizeof p->error->message, fmt, ap);
    va_end(ap);
    return false;
}

static bool out_of_memory(struct parser *p)
{
    return fail(p, TEXT_QUERY_NO_MEMORY, 0, "out of memory");
}

static void term_free(struct text_query_term *term)
{
    for (size_t i = 0; i < term->ntokens; i++)
        free(term->tokens[i]);
    free(term->tokens);
    term->tokens = NULL;
    term->ntokens = 0;
}

static void node_free(struct text_query_node *node)
{
    if (node == NULL)
        return;
    term_free(&node->term);
    for (size_t i = 0; i < node->nchildren; i++)
        node_free(node->children[i]);
    for (size_t i = 0; i < node->nexcluded; i++)
        node_free(node->excluded[i]);
    free(node->children);
    free(node->excluded);
    free(node);
}

void text_query_free(struct text_query *query)
{
    if (query == NULL)
        return;
    node_free(query->root);
    free(query);
}

static bool term_stem(struct text_query_term *term, enum text_language language)
{
    size_t stemmed = term->prefix ? term->ntokens - 1 : term->ntokens;
    for (size_t i = 0; i < stemmed; i++) {
        char *stem = text_stem(language, term->tokens[i], strlen(term->tokens[i]));
        if (stem == NULL)
            return false;
        free(term->tokens[i]);
        term->tokens[i] = stem;
    }
    return true;
}

static bool node_stem(struct text_query_node *node, enum text_language language)
{
    if (node->kind == TEXT_QUERY_TERM)
        return term_stem(&node->term, language);
    for (size_t i = 0; i < node->nchildren; i++)
        if (!node_stem(node->children[i], language))
            return false;
    for (size_t i = 0; i < node->nexcluded; i++)
        if (!node_stem(node->excluded[i], language))
            return false;
    return true;
}

bool text_query_stem(struct text_query *query, enum text_language language)
{
    if (language == TEXT_LANGUAGE_NONE || query->language == language)
        return true;
    query->language = language;
    return node_stem(query->root, language);
}

/* Unicode White_Space: what separates words and operators in a query. */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
        || c == 0x3000;
}

static bool is_special(uint32_t c)
{
    return c == '"' || c == '(' || c == ')' || c == '*';
}

/* Limits and encoding before anything else, so no later step sees what it can't handle. */
static bool check_bytes(struct parser *p)
{
    size_t chars = 0;
    for (size_t at = 0; at < p->len; chars++) {
        if (at >= TEXT_QUERY_MAX_BYTES)
            return fail(p, TEXT_QUERY_TOO_COMPLEX, chars, "the query is longer than %d bytes",
                        TEXT_QUERY_MAX_BYTES);
        uint32_t c;
        size_t n = text_fold_decode(p->query + at, p->len - at, &c);
        if (n == 0)
            return fail(p, TEXT_QUERY_INVALID, chars, "the query is not valid UTF-8");
        if (c == 0)
            return fail(p, TEXT_QUERY_INVALID, chars, "the query contains a NUL character");
        at += n;
    }
    return true;
}

static struct lexeme *push_lexeme(struct parser *p, enum lex_kind kind, size_t position)
{
    /* Never more lexemes than bytes, plus the end: sized once in lex(). */
    struct lexeme *l = &p->lex[p->nlex++];
    *l = (struct lexeme){.kind = kind, .position = position};
    return l;
}

/* The folded tokens of text[0..len) into term; false only when out of memory. */
static bool tokenize(const char *text, size_t len, struct text_query_term *term)
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    int more;
    text_fold_cursor_init(&cursor, text, len);
    while ((more = text_fold_next(&cursor, &token)) == 1) {
        if (token.folded_length == 0)
            continue;
        char **grown = realloc(term->tokens, (term->ntokens + 1) * sizeof *grown);
        if (grown == NULL)
            goto fail;
        term->tokens = grown;
        term->tokens[term->ntokens] = strdup(token.folded);
        if (term->tokens[term->ntokens] == NULL)
            goto fail;
        term->ntokens++;
    }
    if (more < 0)
        goto fail;
    text_fold_cursor_free(&cursor);
    return true;
fail:
    text_fold_cursor_free(&cursor);
    term_free(term);
    return false;
}

static size_t count_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

/* A term lexeme from its tokens; a term with no tokens at all (a word of punctuation) is dropped. */
static bool add_term(struct parser *p, struct text_query_term *term)
{
    if (term->ntokens == 0)
        return true;
    if (++p->nterms > TEXT_QUERY_MAX_TERMS) {
        term_free(term);
        return fail(p, TEXT_QUERY_TOO_COMPLEX, term->position, "the query has more than %d terms",
                    TEXT_QUERY_MAX_TERMS);
    }
    push_lexeme(p, LEX_TERM, term->position)->term = *term;
    return true;
}

/* "...": *at is the opening quote; on success *at and *chars are moved past the closing one. */
static bool lex_phrase(struct parser *p, size_t *at, size_t *chars)
{
    size_t position = *chars;
    const char *close = memchr(p->query + *at + 1, '"', p->len - *at - 1);
    if (close == NULL)
        return fail(p, TEXT_QUERY_INVALID, position, "this \" starts a phrase that is never closed");
    size_t start = *at + 1, end = (size_t)(close - p->query);
    struct text_query_term term = {.position = position};
    if (!tokenize(p->query + start, end - start, &term))
        return out_of_memory(p);
    if (term.ntokens == 0)
        return fail(p, TEXT_QUERY_INVALID, position, "this phrase has no words in it");
    *chars += count_chars(p->query + *at, end + 1 - *at);
    *at = end + 1;
    if (*at < p->len && p->query[*at] == '*') {
        term_free(&term);
        return fail(p, TEXT_QUERY_INVALID, *chars, "a * can only end a word (prefix*), not a phrase");
    }
    return add_term(p, &term);
}

static bool is_operator(const char *word, size_t n, const char *op)
{
    return n == strlen(op) && memcmp(word, op, n) == 0;
}

/* A run of anything but spaces, quotes, parentheses and *: an operator, or a term (a word, or a
 * phrase when it holds separators, as e-mail does), or nothing when it holds no token at all. */
static bool lex_word(struct parser *p, size_t *at, size_t *chars)
{
    size_t start = *at, position = *chars;
    uint32_t c = 0;
    while (*at < p->len) {
        size_t n = text_fold_decode(p->query + *at, p->len - *at, &c);
        if (is_space(c) || is_special(c))
            break;
        *at += n;
        ++*chars;
    }
    size_t n = *at - start;
    bool prefix = *at < p->len && c == '*';
    /* Upper case only: "and", "or" and "not" are words people search for. */
    enum lex_kind op = is_operator(p->query + start, n, "AND") ? LEX_AND
                     : is_operator(p->query + start, n, "OR") ? LEX_OR
                     : is_operator(p->query + start, n, "NOT") ? LEX_NOT : LEX_TERM;
    if (op != LEX_TERM && !prefix) {
        push_lexeme(p, op, position);
        return true;
    }
    struct text_query_term term = {.position = position, .prefix = prefix};
    if (!tokenize(p->query + start, n, &term))
        return out_of_memory(p);
    if (prefix) {
        size_t star = *chars;
        ++*at;
        ++*chars;
        if (*at < p->len) {
            text_fold_decode(p->query + *at, p->len - *at, &c);
            if (!is_space(c) && c != ')' && c != '(') {
                term_free(&term);
                return fail(p, TEXT_QUERY_INVALID, star, "a * can only end a word (prefix*)");
            }
        }
        const char *last = term.ntokens ? term.tokens[term.ntokens - 1] : "";
        if (count_chars(last, strlen(last)) < 2) {
            term_free(&term);
            return fail(p, TEXT_QUERY_INVALID, position, "a prefix needs at least 2 characters before the *");
        }
    }
    return add_term(p, &term);
}

static bool lex(struct parser *p)
{
    p->lex = calloc(p->len + 1, sizeof *p->lex);
    if (p->lex == NULL)
        return out_of_memory(p);
    size_t at = 0, chars = 0;
    while (at < p->len) {
        uint32_t c;
        size_t n = text_fold_decode(p->query + at, p->len - at, &c);
        bool ok = true;
        if (is_space(c)) {
            at += n, chars++;
        } else if (c == '(' || c == ')') {
            push_lexeme(p, c == '(' ? LEX_OPEN : LEX_CLOSE, chars);
            at++, chars++;
        } else if (c == '"') {
            ok = lex_phrase(p, &at, &chars);
        } else if (c == '*') {
            ok = fail(p, TEXT_QUERY_INVALID, chars, "a * can only end a word (prefix*)");
        } else {
            ok = lex_word(p, &at, &chars);
        }
        if (!ok)
            return false;
    }
    push_lexeme(p, LEX_END, chars);
    return true;
}

/* Every ( closed, every ) closing one, no deeper than the limit: checked before the grammar so that
 * these errors point at the parenthesis itself. */
static bool match_parentheses(struct parser *p)
{
    size_t open[TEXT_QUERY_MAX_DEPTH];
    size_t depth = 0;
    for (size_t i = 0; i < p->nlex; i++) {
        const struct lexeme *l = &p->lex[i];
        if (l->kind == LEX_OPEN) {
            if (depth == TEXT_QUERY_MAX_DEPTH)
                return fail(p, TEXT_QUERY_TOO_COMPLEX, l->position,
                            "parentheses are nested more than %d deep", TEXT_QUERY_MAX_DEPTH);
            open[depth++] = l->position;
        } else if (l->kind == LEX_CLOSE) {
            if (depth == 0)
                return fail(p, TEXT_QUERY_INVALID, l->position, "this ) has no ( to close");
            depth--;
        }
    }
    if (depth > 0)
        return fail(p, TEXT_QUERY_INVALID, open[depth - 1], "this ( is never closed");
    return true;
}

static const char *lex_name(enum lex_kind kind)
{
    return kind == LEX_AND ? "AND" : kind == LEX_OR ? "OR" : "NOT";
}

static const struct lexeme *peek(const struct parser *p)
{
    return &p->lex[p->next];
}

static bool starts_primary(enum lex_kind kind)
{
    return kind == LEX_TERM || kind == LEX_OPEN;
}

static bool starts_operand(enum lex_kind kind)
{
    return starts_primary(kind) || kind == LEX_NOT;
}

static struct text_query_node *new_node(struct parser *p, enum text_query_kind kind)
{
    struct text_query_node *node = calloc(1, sizeof *node);
    if (node == NULL)
        out_of_memory(p);
    else
        node->kind = kind;
    return node;
}

static bool append(struct parser *p, struct text_query_node ***list, size_t *n, struct text_query_node *child)
{
    struct text_query_node **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (grown == NULL) {
        node_free(child);
        return out_of_memory(p);
    }
    *list = grown;
    grown[(*n)++] = child;
    return true;
}

static struct text_query_node *parse_or(struct parser *p);

/* A term, or a parenthesised query. */
static struct text_query_node *parse_primary(struct parser *p)
{
    struct lexeme *l = &p->lex[p->next++];
    if (l->kind == LEX_TERM) {
        struct text_query_node *node = new_node(p, TEXT_QUERY_TERM);
        if (node) {
            node->term = l->term;
            l->term = (struct text_query_term){0};
        }
        return node;
    }
    /* LEX_OPEN: match_parentheses saw its ). */
    if (peek(p)->kind == LEX_CLOSE) {
        fail(p, TEXT_QUERY_INVALID, l->position, "these parentheses have nothing in them");
        return NULL;
    }
    struct text_query_node *node = parse_or(p);
    if (node && peek(p)->kind != LEX_CLOSE) {
        fail(p, TEXT_QUERY_INVALID, peek(p)->position, "expected ) to close the ( at %zu", l->position);
        node_free(node);
        return NULL;
    }
    p->next++;
    return node;
}

/* One operand of an AND group: a primary, or NOT and a primary (into *negated). */
static struct text_query_node *parse_operand(struct parser *p, bool *negated, size_t *not_position)
{
    *negated = false;
    if (peek(p)->kind == LEX_NOT) {
        const struct lexeme *op = &p->lex[p->next++];
        if (!starts_primary(peek(p)->kind)) {
            fail(p, TEXT_QUERY_INVALID, op->position, "NOT needs a word, phrase or ( after it");
            return NULL;
        }
        *negated = true;
        *not_position = op->position;
    }
    return parse_primary(p);
}

static struct text_query_node *single_child(struct text_query_node *node)
{
    if (node->nchildren != 1 || node->nexcluded != 0)
        return node;
    struct text_query_node *child = node->children[0];
    node->nchildren = 0;
    node_free(node);
    return child;
}

/* Operands side by side or joined by AND; FTS5's rule that a NOT only takes away from something
 * holds per group: at least one operand is not negated. */
static struct text_query_node *parse_and(struct parser *p)
{
    const struct lexeme *first = peek(p);
    if (first->kind == LEX_AND || first->kind == LEX_OR) {
        fail(p, TEXT_QUERY_INVALID, first->position, "%s needs a word, phrase or ( before it", lex_name(first->kind));
        return NULL;
    }
    struct text_query_node *node = new_node(p, TEXT_QUERY_AND);
    size_t first_not = 0;
    bool any_not = false;
    while (node) {
        bool negated;
        size_t not_position = 0;
        struct text_query_node *operand = parse_operand(p, &negated, &not_position);
        if (operand == NULL)
            goto fail;
        if (negated && !any_not)
            first_not = not_position, any_not = true;
        if (!(negated ? append(p, &node->excluded, &node->nexcluded, operand)
                      : append(p, &node->children, &node->nchildren, operand)))
            goto fail;
        if (peek(p)->kind == LEX_AND) {
            const struct lexeme *op = &p->lex[p->next++];
            if (!starts_operand(peek(p)->kind)) {
                fail(p, TEXT_QUERY_INVALID, op->position, "AND needs a word, phrase or ( after it");
                goto fail;
            }
        } else if (!starts_operand(peek(p)->kind)) {
            break;
        }
    }
    if (node == NULL)
        return NULL;
    if (node->nchildren == 0) {
        fail(p, TEXT_QUERY_INVALID, first_not, "a NOT needs something to exclude from: write a NOT b");
        goto fail;
    }
    return single_child(node);
fail:
    node_free(node);
    return NULL;
}

static struct text_query_node *parse_or(struct parser *p)
{
    struct text_query_node *node = new_node(p, TEXT_QUERY_OR);
    while (node) {
        struct text_query_node *alternative = parse_and(p);
        if (alternative == NULL || !append(p, &node->children, &node->nchildren, alternative))
            goto fail;
        if (peek(p)->kind != LEX_OR)
            break;
        const struct lexeme *op = &p->lex[p->next++];
        if (!starts_operand(peek(p)->kind)) {
            fail(p, TEXT_QUERY_INVALID, op->position, "OR needs a word, phrase or ( after it");
            goto fail;
        }
    }
    return node ? single_child(node) : NULL;
fail:
    node_free(node);
    return NULL;
}

static struct text_query_node *parse_query(struct parser *p)
{
    if (p->nlex == 1) {
        fail(p, TEXT_QUERY_INVALID, 0, "the query has no words to search for");
        return NULL;
    }
    struct text_query_node *root = parse_or(p);
    if (root && peek(p)->kind != LEX_END) {
        /* Only a ) can stop parse_or early, and match_parentheses caught a stray one; kept as a
         * guard so that no lexeme is ever silently ignored. */
        fail(p, TEXT_QUERY_INVALID, peek(p)->position, "unexpected %s", lex_name(peek(p)->kind));
        node_free(root);
        return NULL;
    }
    return root;
}

enum text_query_status text_query_parse(const char *query, size_t len, struct text_query **out,
                                        struct text_query_error *error)
{
    struct parser p = {.query = query, .len = len, .status = TEXT_QUERY_OK, .error = error};
    struct text_query_node *root = NULL;
    *out = NULL;
    *error = (struct text_query_error){0};
    if (!check_bytes(&p) || !lex(&p) || !match_parentheses(&p))
        goto done;
    root = parse_query(&p);
    if (root == NULL)
        goto done;
    *out = malloc(sizeof **out);
    if (*out == NULL) {
        out_of_memory(&p);
        node_free(root);
        goto done;
    }
    (*out)->root = root;
    (*out)->nterms = p.nterms;
done:
    for (size_t i = 0; p.lex && i < p.nlex; i++)
        term_free(&p.lex[i].term);
    free(p.lex);
    return p.status;
}

static bool same_term(const struct text_query_term *a, const struct text_query_term *b)
{
    if (a->ntokens != b->ntokens || a->prefix != b->prefix)
        return false;
    for (size_t i = 0; i < a->ntokens; i++)
        if (strcmp(a->tokens[i], b->tokens[i]) != 0)
            return false;
    return true;
}

static void collect_terms(const struct text_query_node *node, bool positive,
                          const struct text_query_term *out[TEXT_QUERY_MAX_TERMS], size_t *n)
{
    if (node->kind == TEXT_QUERY_TERM) {
        if (!positive)
            return;
        for (size_t i = 0; i < *n; i++)
            if (same_term(out[i], &node->term))
                return;
        if (*n < TEXT_QUERY_MAX_TERMS)
            out[(*n)++] = &node->term;
        return;
    }
    for (size_t i = 0; i < node->nchildren; i++)
        collect_terms(node->children[i], positive, out, n);
    for (size_t i = 0; i < node->nexcluded; i++)
        collect_terms(node->excluded[i], !positive, out, n);
}

size_t text_query_terms(const struct text_query *query, const struct text_query_term *out[TEXT_QUERY_MAX_TERMS])
{
    size_t n = 0;
    collect_terms(query->root, true, out, &n);
    /* In the order of the query: the tree holds a group's NOT operands apart from the others. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1]->position > out[j]->position; j--) {
            const struct text_query_term *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}
