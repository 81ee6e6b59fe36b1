/* A small, bounded cache of computed replies keyed by query, valid for one data version: dashboards
 * polling the same query between two writes are answered without touching the database. */
#ifndef SURVEYD_CACHE_H
#define SURVEYD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

/* slots: how many replies it holds at most (direct-mapped: a newer key may evict an older one). */
struct cache *cache_new(size_t slots);
void cache_free(struct cache *cache);

/* A copy of the reply stored for key at exactly this version, or NULL. */
char *cache_get(struct cache *cache, const char *key, uint64_t version);

void cache_put(struct cache *cache, const char *key, uint64_t version, const char *body);

#endif
