/* A parsed query as the search engines' own syntax: an FTS5 MATCH expression and a PostgreSQL
 * tsquery. Every token goes out quoted, and every group in parentheses, so that neither engine's
 * precedence rules nor any character the user typed can change what is searched for. */
#include "text_query.h"

#include <string.h>

#include "text_buffer.h"

/* FTS5 strings are "..." with " doubled. Tokens hold letters and digits only (text_fold.h), but the
 * escaping doesn't rely on that. */
static void fts5_token(struct text_buffer *out, const char *token)
{
    text_buffer_put(out, "\"");
    for (const char *c = token; *c; c++) {
        if (*c == '"')
            text_buffer_put(out, "\"\"");
        else
            text_buffer_append(out, c, 1);
    }
    text_buffer_put(out, "\"");
}

static void fts5_term(struct text_buffer *out, const struct text_query_term *term)
{
    for (size_t i = 0; i < term->ntokens; i++) {
        if (i > 0)
            text_buffer_put(out, " + ");
        fts5_token(out, term->tokens[i]);
    }
    if (term->prefix)
        text_buffer_put(out, " *");
}

static void fts5_node(struct text_buffer *out, const struct text_query_node *node);

static void fts5_list(struct text_buffer *out, struct text_query_node *const *nodes, size_t n, const char *op)
{
    if (n > 1)
        text_buffer_put(out, "(");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            text_buffer_put(out, op);
        fts5_node(out, nodes[i]);
    }
    if (n > 1)
        text_buffer_put(out, ")");
}

/* FTS5's NOT is binary (a NOT b): a group's excluded operands come off its positive ones at once,
 * (p1 AND p2) NOT (e1 OR e2). */
static void fts5_node(struct text_buffer *out, const struct text_query_node *node)
{
    switch (node->kind) {
    case TEXT_QUERY_TERM:
        fts5_term(out, &node->term);
        break;
    case TEXT_QUERY_OR:
        fts5_list(out, node->children, node->nchildren, " OR ");
        break;
    case TEXT_QUERY_AND:
        if (node->nexcluded > 0)
            text_buffer_put(out, "(");
        fts5_list(out, node->children, node->nchildren, " AND ");
        if (node->nexcluded > 0) {
            text_buffer_put(out, " NOT ");
            fts5_list(out, node->excluded, node->nexcluded, " OR ");
            text_buffer_put(out, ")");
        }
        break;
    }
}

char *text_query_fts5(const struct text_query *query)
{
    struct text_buffer out = {0};
    fts5_node(&out, query->root);
    return text_buffer_finish(&out, NULL);
}

/* tsquery lexemes are '...' with ' doubled and \ escaped. */
static void ts_token(struct text_buffer *out, const char *token)
{
    text_buffer_put(out, "'");
    for (const char *c = token; *c; c++) {
        if (*c == '\'')
            text_buffer_put(out, "''");
        else if (*c == '\\')
            text_buffer_put(out, "\\\\");
        else
            text_buffer_append(out, c, 1);
    }
    text_buffer_put(out, "'");
}

static void ts_term(struct text_buffer *out, const struct text_query_term *term)
{
    if (term->ntokens > 1)
        text_buffer_put(out, "(");
    for (size_t i = 0; i < term->ntokens; i++) {
        if (i > 0)
            text_buffer_put(out, " <-> ");
        ts_token(out, term->tokens[i]);
    }
    if (term->prefix)
        text_buffer_put(out, ":*");
    if (term->ntokens > 1)
        text_buffer_put(out, ")");
}

static void ts_node(struct text_buffer *out, const struct text_query_node *node)
{
    if (node->kind == TEXT_QUERY_TERM) {
        ts_term(out, &node->term);
        return;
    }
    const char *op = node->kind == TEXT_QUERY_OR ? " | " : " & ";
    size_t n = node->nchildren + node->nexcluded;
    if (n > 1)
        text_buffer_put(out, "(");
    for (size_t i = 0; i < node->nchildren; i++) {
        if (i > 0)
            text_buffer_put(out, op);
        ts_node(out, node->children[i]);
    }
    for (size_t i = 0; i < node->nexcluded; i++) {
        text_buffer_put(out, " & !");
        ts_node(out, node->excluded[i]);
    }
    if (n > 1)
        text_buffer_put(out, ")");
}

char *text_query_tsquery(const struct text_query *query)
{
    struct text_buffer out = {0};
    ts_node(&out, query->root);
    return text_buffer_finish(&out, NULL);
}
