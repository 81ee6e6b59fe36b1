#include "survey_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256 /* direct-mapped: a busy deployment has a handful of live surveys */

struct slot {
    char *definition;
    struct survey survey;
};

struct survey_cache {
    pthread_mutex_t lock;
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
    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
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

void survey_cache_put(struct survey_cache *cache, const char *definition, const struct survey *survey)
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
    pthread_mutex_unlock(&cache->lock);
}
