/* A survey's topics as tagging needs them (issue 18, docs/search.md "Topics"): each topic's id and
 * its stored query, parsed and stemmed for the store's language, and which of them a response's
 * document (response_text.h) matches. Every backend tags through this, so that a topic tags the
 * same responses on SQLite and PostgreSQL. Pure: no I/O. */
#ifndef SURVEYD_TOPIC_MATCHER_H
#define SURVEYD_TOPIC_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "text_stem.h"

struct text_query;

struct topic_matcher {
    char **ids;
    struct text_query **queries;
    size_t n;
};

/* Adds the topic id with its stored query text. A query that no longer parses (it did when it was
 * stored: a later version's stricter rules) is left out, so that topic tags nothing. False only
 * when out of memory: then no response may be stored or back-filled without the tag it should
 * have, so the caller fails. */
bool topic_matcher_add(struct topic_matcher *m, const char *id, const char *query, enum text_language language);

/* matched[i] (i < m->n): whether the document of len bytes matches the i-th topic. False when out
 * of memory. */
bool topic_matcher_match(const struct topic_matcher *m, const char *doc, size_t len, bool *matched);

void topic_matcher_free(struct topic_matcher *m);

#endif
