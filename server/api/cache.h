/* A small, bounded cache of computed replies keyed by query, valid for one data version: dashboards
 * polling the same query between two writes are answered without touching the database. */
#ifndef SURVEYD_CACHE_H
#define SURVEYD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

/* slots: how many replies it holds at most (direct-mapped: a newer key may evict an older one);
 * max_bytes: what their keys and bodies may take together. A reply larger than a slot's share
 * (max_bytes / slots, at least 64 KiB) is not kept; when a new one would pass max_bytes, others are
 * evicted first. Slots alone did not bound it: a year grouped by day is a reply of ~100 KB, and
 * 1024 of them took more memory than the whole daemon is meant to. */
struct cache *cache_new(size_t slots, size_t max_bytes);
void cache_free(struct cache *cache);

/* A copy of the reply stored for key at exactly this version, or NULL. */
char *cache_get(struct cache *cache, const char *key, uint64_t version);

void cache_put(struct cache *cache, const char *key, uint64_t version, const char *body);

#endif
