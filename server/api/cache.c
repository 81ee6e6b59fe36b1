#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cache_slot {
    char *key;
    char *body;
    uint64_t version;
};

struct cache {
    pthread_mutex_t lock;
    size_t count;
    struct cache_slot *slots;
    size_t bytes, max_bytes, max_entry;
    size_t hand;                /* the next slot to evict when over budget (a clock) */
};

#define CACHE_MIN_ENTRY (64 * 1024)

static size_t slot_bytes(const struct cache_slot *slot)
{
    return slot->key ? strlen(slot->key) + strlen(slot->body) + 2 : 0;
}

static void slot_clear(struct cache *cache, struct cache_slot *slot)
{
    cache->bytes -= slot_bytes(slot);
    free(slot->key);
    free(slot->body);
    *slot = (struct cache_slot){NULL, NULL, 0};
}

static size_t slot_of(const struct cache *cache, const char *key)
{
    uint64_t h = 1469598103934665603u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211u;
    return (size_t)(h % cache->count);
}

struct cache *cache_new(size_t slots, size_t max_bytes)
{
    struct cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL || (cache->slots = calloc(slots, sizeof *cache->slots)) == NULL) {
        free(cache);
        return NULL;
    }
    cache->count = slots;
    cache->max_bytes = max_bytes;
    cache->max_entry = max_bytes / slots > CACHE_MIN_ENTRY ? max_bytes / slots : CACHE_MIN_ENTRY;
    pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void cache_free(struct cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < cache->count; i++) {
        free(cache->slots[i].key);
        free(cache->slots[i].body);
    }
    free(cache->slots);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

char *cache_get(struct cache *cache, const char *key, uint64_t version)
{
    char *body = NULL;
    pthread_mutex_lock(&cache->lock);
    struct cache_slot *slot = &cache->slots[slot_of(cache, key)];
    if (slot->key && slot->version == version && strcmp(slot->key, key) == 0)
        body = strdup(slot->body);
    pthread_mutex_unlock(&cache->lock);
    return body;
}

void cache_put(struct cache *cache, const char *key, uint64_t version, const char *body)
{
    size_t bytes = strlen(key) + strlen(body) + 2;
    if (bytes > cache->max_entry || bytes > cache->max_bytes)
        return;
    char *key_copy = strdup(key), *body_copy = strdup(body);
    if (key_copy == NULL || body_copy == NULL) {
        free(key_copy);
        free(body_copy);
        return;
    }
    pthread_mutex_lock(&cache->lock);
    struct cache_slot *slot = &cache->slots[slot_of(cache, key)];
    slot_clear(cache, slot);
    while (cache->bytes + bytes > cache->max_bytes) {
        slot_clear(cache, &cache->slots[cache->hand]);
        cache->hand = (cache->hand + 1) % cache->count;
    }
    *slot = (struct cache_slot){key_copy, body_copy, version};
    cache->bytes += bytes;
    pthread_mutex_unlock(&cache->lock);
}
