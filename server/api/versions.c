#include "versions.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define BUCKETS 1024

struct version_entry {
    struct version_entry *next;
    uint64_t version;
    uint64_t ingested;
    char survey[];
};

struct versions {
    pthread_mutex_t lock;
    uint64_t global;
    uint64_t unlisted;  /* the version of every survey without an entry: raised when an entry could
                         * not be added (out of memory), so that no cached reply outlives the write */
    int64_t epoch;
    struct version_entry *buckets[BUCKETS];
};

static unsigned hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

struct versions *versions_new(void)
{
    struct versions *versions = calloc(1, sizeof *versions);
    if (versions == NULL)
        return NULL;
    pthread_mutex_init(&versions->lock, NULL);
    versions->epoch = timefmt_now_ms();
    return versions;
}

void versions_free(struct versions *versions)
{
    if (versions == NULL)
        return;
    for (int i = 0; i < BUCKETS; i++) {
        for (struct version_entry *e = versions->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&versions->lock);
    free(versions);
}

/* Finds (or, when create, adds) the entry of a survey. Called with the lock held. */
static struct version_entry *find(struct versions *versions, const char *survey, bool create)
{
    unsigned b = hash(survey);
    for (struct version_entry *e = versions->buckets[b]; e; e = e->next) {
        if (strcmp(e->survey, survey) == 0)
            return e;
    }
    if (!create)
        return NULL;
    size_t len = strlen(survey) + 1;
    struct version_entry *e = calloc(1, sizeof *e + len);
    if (e == NULL)
        return NULL;
    memcpy(e->survey, survey, len);
    e->next = versions->buckets[b];
    versions->buckets[b] = e;
    return e;
}

void versions_bump(struct versions *versions, const char *survey)
{
    pthread_mutex_lock(&versions->lock);
    struct version_entry *e = find(versions, survey, true);
    versions->global++;
    if (e)
        e->version = versions->global;
    else
        versions->unlisted = versions->global;
    pthread_mutex_unlock(&versions->lock);
}

/* The same as a response's bump: an invitation is part of the survey's metrics. A name of its own
 * so that every invitation writer is found by one search, and the day invitations get a version
 * of their own (a reply that reads them alone) there is one place to change. */
void versions_bump_invitation(struct versions *versions, const char *survey)
{
    versions_bump(versions, survey);
}

void versions_bump_all(struct versions *versions)
{
    pthread_mutex_lock(&versions->lock);
    versions->global++;
    versions->unlisted = versions->global;
    for (int i = 0; i < BUCKETS; i++) {
        for (struct version_entry *e = versions->buckets[i]; e; e = e->next)
            e->version = versions->global;
    }
    pthread_mutex_unlock(&versions->lock);
}

uint64_t versions_get(struct versions *versions, const char *survey)
{
    pthread_mutex_lock(&versions->lock);
    struct version_entry *e = find(versions, survey, false);
    uint64_t version = e ? e->version : versions->unlisted;
    pthread_mutex_unlock(&versions->lock);
    return version;
}

void versions_count_ingested(struct versions *versions, const char *survey)
{
    pthread_mutex_lock(&versions->lock);
    struct version_entry *e = find(versions, survey, true);
    if (e)
        e->ingested++;
    pthread_mutex_unlock(&versions->lock);
}

void versions_each_ingested(struct versions *versions, void (*each)(const char *survey, uint64_t count, void *arg),
                            void *arg)
{
    pthread_mutex_lock(&versions->lock);
    for (int i = 0; i < BUCKETS; i++) {
        for (struct version_entry *e = versions->buckets[i]; e; e = e->next) {
            if (e->ingested)
                each(e->survey, e->ingested, arg);
        }
    }
    pthread_mutex_unlock(&versions->lock);
}

uint64_t versions_global(struct versions *versions)
{
    pthread_mutex_lock(&versions->lock);
    uint64_t version = versions->global;
    pthread_mutex_unlock(&versions->lock);
    return version;
}

int64_t versions_epoch(const struct versions *versions)
{
    return versions->epoch;
}
