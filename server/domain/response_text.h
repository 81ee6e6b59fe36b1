/* What search, topics and terms read of a response: its text answers and "other" write-ins, in the
 * order they are stored (the survey's question order when they were given), joined by "\n": one
 * document per response, on every backend (SQLite's schema/012 view builds the same text).
 * A query's words may match in different answers of a response; a phrase that runs from the end of
 * one answer into the start of the next matches too (docs/search.md). Pure: no I/O. */
#ifndef SURVEYD_RESPONSE_TEXT_H
#define SURVEYD_RESPONSE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "survey.h"

/* The searchable text of a validated response into *out (malloc'd, NUL-terminated; its length in
 * *len when len is not NULL), or *out = NULL when the response has no text answer. False when out
 * of memory. */
bool response_text(const struct survey *survey, const struct response *response, char **out, size_t *len);

/* The same from a stored response's answers (the parsed `answers` JSON object, in its stored
 * order: a text question's value is a string, a choice's write-in is {"other": "..."}). Answers
 * to questions the survey does not have, or whose value does not fit the question's type, are
 * left out. */
bool response_text_stored(const struct survey *survey, const cJSON *answers, char **out, size_t *len);

#endif
