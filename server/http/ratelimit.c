#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

/* Buckets are kept in an open-addressing table of fixed size. When it fills up, buckets that have
 * refilled completely carry no information and are dropped; if none has, the oldest is. Memory
 * therefore stays bounded whatever number of addresses an attacker uses. */
#define SLOTS 65536
#define ADDRESS_MAX 48  /* an IPv6 address in text */

struct bucket {
    char address[ADDRESS_MAX];
    double tokens;
    int64_t updated_ns;
};

struct ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    uint64_t refused;
    size_t used;
    struct bucket *slots;
};

struct ratelimit *ratelimit_new(double rate, double burst)
{
    if (rate <= 0)
        return NULL;
    struct ratelimit *limit = calloc(1, sizeof *limit);
    if (limit == NULL || (limit->slots = calloc(SLOTS, sizeof *limit->slots)) == NULL) {
        free(limit);
        return NULL;
    }
    limit->rate = rate;
    limit->burst = burst < 1 ? 1 : burst;
    pthread_mutex_init(&limit->lock, NULL);
    return limit;
}

void ratelimit_free(struct ratelimit *limit)
{
    if (limit == NULL)
        return;
    pthread_mutex_destroy(&limit->lock);
    free(limit->slots);
    free(limit);
}

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h % SLOTS);
}

static void refill(const struct ratelimit *limit, struct bucket *b, int64_t now)
{
    b->tokens = fmin(limit->burst, b->tokens + (double)(now - b->updated_ns) / 1e9 * limit->rate);
    b->updated_ns = now;
}

/* Empties the table of full (idle) buckets; called with the lock held when it is nearly full. */
static void sweep(struct ratelimit *limit, int64_t now)
{
    struct bucket *old = limit->slots;
    struct bucket *fresh = calloc(SLOTS, sizeof *fresh);
    if (fresh == NULL)
        return;
    limit->slots = fresh;
    limit->used = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!old[i].address[0])
            continue;
        refill(limit, &old[i], now);
        if (old[i].tokens >= limit->burst)
            continue;
        size_t j = hash(old[i].address);
        while (fresh[j].address[0])
            j = (j + 1) % SLOTS;
        fresh[j] = old[i];
        limit->used++;
    }
    free(old);
}

static struct bucket *find(struct ratelimit *limit, const char *address, int64_t now)
{
    if (limit->used > SLOTS * 3 / 4)
        sweep(limit, now);
    if (limit->used > SLOTS * 3 / 4) {
        /* Every bucket is busy: a flood from many addresses. Forget them all rather than grow. */
        memset(limit->slots, 0, SLOTS * sizeof *limit->slots);
        limit->used = 0;
    }
    size_t i = hash(address);
    while (limit->slots[i].address[0] && strcmp(limit->slots[i].address, address) != 0)
        i = (i + 1) % SLOTS;
    struct bucket *b = &limit->slots[i];
    if (!b->address[0]) {
        snprintf(b->address, ADDRESS_MAX, "%s", address);
        b->tokens = limit->burst;
        b->updated_ns = now;
        limit->used++;
    }
    return b;
}

bool ratelimit_take(struct ratelimit *limit, const char *address, unsigned *retry_after_s)
{
    char key[ADDRESS_MAX];
    int64_t now = timefmt_monotonic_ns();
    bool allowed;

    snprintf(key, sizeof key, "%s", address[0] ? address : "?");
    pthread_mutex_lock(&limit->lock);
    struct bucket *b = find(limit, key, now);
    refill(limit, b, now);
    allowed = b->tokens >= 1;
    if (allowed) {
        b->tokens -= 1;
    } else {
        limit->refused++;
        *retry_after_s = (unsigned)ceil((1 - b->tokens) / limit->rate);
        if (*retry_after_s == 0)
            *retry_after_s = 1;
    }
    pthread_mutex_unlock(&limit->lock);
    return allowed;
}

uint64_t ratelimit_refused(struct ratelimit *limit)
{
    pthread_mutex_lock(&limit->lock);
    uint64_t refused = limit->refused;
    pthread_mutex_unlock(&limit->lock);
    return refused;
}
