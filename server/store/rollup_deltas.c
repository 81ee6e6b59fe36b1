#include "rollup_deltas.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct entry {
    struct entry *next;         /* in its bucket */
    struct entry *all_next;     /* in the list of every entry: iteration costs what was touched */
    uint64_t hash;
    struct rollup_cell cell;    /* its strings point into text */
    char text[];
};

struct rollup_deltas {
    struct entry *buckets[BUCKETS];
    struct entry *all;
    size_t count;
};

static uint64_t mix(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

static uint64_t hash_cell(const struct rollup_cell *c)
{
    uint64_t h = mix(1469598103934665603u, &c->table, sizeof c->table);
    /* Each string is hashed with its terminator, so ("ab", "c") and ("a", "bc") differ. */
    h = mix(h, c->survey, strlen(c->survey) + 1);
    h = mix(h, c->channel, strlen(c->channel) + 1);
    h = mix(h, c->agent, strlen(c->agent) + 1);
    h = mix(h, c->question, strlen(c->question) + 1);
    h = mix(h, &c->day, sizeof c->day);
    h = mix(h, &c->value_is_text, sizeof c->value_is_text);
    return c->value_is_text ? mix(h, c->value_text, strlen(c->value_text) + 1) : mix(h, &c->value, sizeof c->value);
}

static bool same_key(const struct rollup_cell *a, const struct rollup_cell *b)
{
    return a->table == b->table && a->day == b->day && a->value_is_text == b->value_is_text &&
           (a->value_is_text ? strcmp(a->value_text, b->value_text) == 0 : a->value == b->value) &&
           strcmp(a->survey, b->survey) == 0 && strcmp(a->channel, b->channel) == 0 &&
           strcmp(a->agent, b->agent) == 0 && strcmp(a->question, b->question) == 0;
}

struct rollup_deltas *rollup_deltas_new(void)
{
    return calloc(1, sizeof(struct rollup_deltas));
}

void rollup_deltas_clear(struct rollup_deltas *deltas)
{
    for (struct entry *e = deltas->all, *next; e; e = next) {
        next = e->all_next;
        deltas->buckets[e->hash % BUCKETS] = NULL;
        free(e);
    }
    deltas->all = NULL;
    deltas->count = 0;
}

void rollup_deltas_free(struct rollup_deltas *deltas)
{
    if (deltas == NULL)
        return;
    rollup_deltas_clear(deltas);
    free(deltas);
}

/* A new entry holding copies of the cell's strings. */
static struct entry *entry_new(const struct rollup_cell *c, uint64_t hash)
{
    const char *parts[5] = {c->survey, c->channel, c->agent, c->question, c->value_is_text ? c->value_text : ""};
    size_t lens[5], total = 0;
    for (int i = 0; i < 5; i++)
        total += (lens[i] = strlen(parts[i]) + 1);
    struct entry *e = malloc(sizeof *e + total);
    if (e == NULL)
        return NULL;
    e->hash = hash;
    e->cell = *c;
    char *p = e->text;
    const char **fields[5] = {&e->cell.survey, &e->cell.channel, &e->cell.agent, &e->cell.question,
                              &e->cell.value_text};
    for (int i = 0; i < 5; i++) {
        memcpy(p, parts[i], lens[i]);
        *fields[i] = p;
        p += lens[i];
    }
    if (!c->value_is_text)
        e->cell.value_text = NULL;
    return e;
}

bool rollup_deltas_add(struct rollup_deltas *deltas, const struct rollup_cell *cell)
{
    uint64_t hash = hash_cell(cell);
    struct entry **bucket = &deltas->buckets[hash % BUCKETS];
    for (struct entry *e = *bucket; e; e = e->next) {
        if (e->hash == hash && same_key(&e->cell, cell)) {
            e->cell.delta += cell->delta;
            return true;
        }
    }
    struct entry *e = entry_new(cell, hash);
    if (e == NULL)
        return false;
    e->next = *bucket;
    *bucket = e;
    e->all_next = deltas->all;
    deltas->all = e;
    deltas->count++;
    return true;
}

bool rollup_deltas_merge(struct rollup_deltas *into, struct rollup_deltas *from)
{
    bool ok = true;
    for (struct entry *e = from->all; e && ok; e = e->all_next)
        ok = rollup_deltas_add(into, &e->cell);
    rollup_deltas_clear(from);
    return ok;
}

/* Zeroed rather than unlinked: cells with no change are skipped when written, and a survey created
 * again later in the same batch simply starts from zero. */
void rollup_deltas_forget_survey(struct rollup_deltas *deltas, const char *survey)
{
    for (struct entry *e = deltas->all; e; e = e->all_next) {
        if (strcmp(e->cell.survey, survey) == 0)
            e->cell.delta = 0;
    }
}

int64_t rollup_deltas_answered(const struct rollup_deltas *deltas, const char *survey, const char *question)
{
    struct rollup_cell key = {ROLLUP_ANSWERED, survey, "", "", question, 0, false, 0, NULL, 0};
    uint64_t hash = hash_cell(&key);
    for (const struct entry *e = deltas->buckets[hash % BUCKETS]; e; e = e->next) {
        if (e->hash == hash && same_key(&e->cell, &key))
            return e->cell.delta;
    }
    return 0;
}

bool rollup_deltas_each(const struct rollup_deltas *deltas, bool (*each)(const struct rollup_cell *cell, void *arg),
                        void *arg)
{
    for (const struct entry *e = deltas->all; e; e = e->all_next) {
        if (e->cell.delta != 0 && !each(&e->cell, arg))
            return false;
    }
    return true;
}
