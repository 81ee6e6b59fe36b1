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

/* Surveys as last committed, so that a submission needs no database read to find its survey.
 * The generation counts survey writes: read it before reading a survey from the database, and put
 * what was read with it; an entry serves only while no survey write committed since. Writes to the
 * surveys table call survey_cache_surveys_changed after their commit and before their reply, so a
 * client that saw a PUT or DELETE succeed never gets the definition from before it. (The writer
 * still checks each submission's definition against the database inside its transaction.) */
unsigned long long survey_cache_generation(struct survey_cache *cache);
void survey_cache_surveys_changed(struct survey_cache *cache);
void survey_cache_put_current(struct survey_cache *cache, unsigned long long generation, const char *definition,
                              const struct survey *survey);

/* A copy of survey id as last committed, and of its definition text (malloc'ed), or false. */
bool survey_cache_get_current(struct survey_cache *cache, const char *id, struct survey *out, char **definition);

#endif
