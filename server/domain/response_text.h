/* What search, topics and terms read of a response: its text answers and "other" write-ins, in the
 * order of the survey's questions, joined by "\n" (one document per response, on every backend).
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

/* The same from a stored response's answers (the parsed `answers` JSON object: a text question's
 * value is a string, a choice's write-in is {"other": "..."}), for back-fills, edits and verify.
 * Answers to questions the survey no longer has, or of another type now, are left out. */
bool response_text_stored(const struct survey *survey, const cJSON *answers, char **out, size_t *len);

#endif
