/* Parsed survey definitions, so a submission does not re-parse and re-validate its survey's JSON.
 * Entries are keyed by survey id and checked against the stored definition text on every use: the
 * database stays the only truth, and a replaced definition is seen at once. */
#ifndef SURVEYD_SURVEY_CACHE_H
#define SURVEYD_SURVEY_CACHE_H

#include <stdbool.h>

#include "survey.h"

struct survey_cache;

struct survey_cache *survey_cache_new(void);
void survey_cache_free(struct survey_cache *cache);

/* A copy of the cached survey parsed from exactly this definition text, or false. */
bool survey_cache_get(struct survey_cache *cache, const char *id, const char *definition, struct survey *out);

/* Remembers survey as parsed from definition (copied). */
void survey_cache_put(struct survey_cache *cache, const char *definition, const struct survey *survey);

#endif
