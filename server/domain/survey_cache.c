#include "survey_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256 /* direct-mapped: a busy deployment has a handful of live surveys */

struct slot {
    char *definition;
    struct survey survey;
    unsigned long long generation; /* 0: not known to be the committed definition */
};

struct survey_cache {
    pthread_mutex_t lock;
    unsigned long long generation; /* survey writes committed, plus one; guarded by lock */
    struct slot slots[SLOTS];
};

static size_t slot_of(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % SLOTS;
}

struct survey_cache *survey_cache_new(void)
{
    struct survey_cache *cache = calloc(1, sizeof *cache);
    if (cache) {
        pthread_mutex_init(&cache->lock, NULL);
        cache->generation = 1;
    }
    return cache;
}

void survey_cache_free(struct survey_cache *cache)
{
    if (cache == NULL)
        return;
    for (int i = 0; i < SLOTS; i++) {
        free(cache->slots[i].definition);
        survey_free(&cache->slots[i].survey);
    }
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

bool survey_cache_get(struct survey_cache *cache, const char *id, const char *definition, struct survey *out)
{
    bool hit = false;
    pthread_mutex_lock(&cache->lock);
    struct slot *slot = &cache->slots[slot_of(id)];
    if (slot->definition && strcmp(slot->survey.id, id) == 0 && strcmp(slot->definition, definition) == 0)
        hit = survey_copy(&slot->survey, out);
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

/* The writer puts definitions it read inside its transaction, maybe never committed: generation 0. */
static void put(struct survey_cache *cache, unsigned long long generation, const char *definition,
                const struct survey *survey)
{
    struct survey copy;
    char *text = strdup(definition);
    if (text == NULL || !survey_copy(survey, &copy)) {
        free(text);
        return;
    }
    pthread_mutex_lock(&cache->lock);
    struct slot *slot = &cache->slots[slot_of(survey->id)];
    free(slot->definition);
    survey_free(&slot->survey);
    slot->definition = text;
    slot->survey = copy;
    slot->generation = generation;
    pthread_mutex_unlock(&cache->lock);
}

void survey_cache_put(struct survey_cache *cache, const char *definition, const struct survey *survey)
{
    put(cache, 0, definition, survey);
}

void survey_cache_put_current(struct survey_cache *cache, unsigned long long generation, const char *definition,
                              const struct survey *survey)
{
    put(cache, generation, definition, survey);
}

unsigned long long survey_cache_generation(struct survey_cache *cache)
{
    pthread_mutex_lock(&cache->lock);
    unsigned long long generation = cache->generation;
    pthread_mutex_unlock(&cache->lock);
    return generation;
}

void survey_cache_surveys_changed(struct survey_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_lock(&cache->lock);
    cache->generation++;
    pthread_mutex_unlock(&cache->lock);
}

bool survey_cache_get_current(struct survey_cache *cache, const char *id, struct survey *out, char **definition)
{
    bool hit = false;
    pthread_mutex_lock(&cache->lock);
    struct slot *slot = &cache->slots[slot_of(id)];
    if (slot->definition && slot->generation == cache->generation && strcmp(slot->survey.id, id) == 0 &&
        (*definition = strdup(slot->definition)) != NULL) {
        hit = survey_copy(&slot->survey, out);
        if (!hit) {
            free(*definition);
            *definition = NULL;
        }
    }
    pthread_mutex_unlock(&cache->lock);
    return hit;
}
