/* Rollup changes accumulated in memory during the writer's batch (SQLite backend internals).
 *
 * Group commit puts many responses in one transaction, and responses of one survey, day and channel
 * touch the same rollup cells. Instead of one upsert per response and cell, each job's changes are
 * gathered here, kept when its savepoint is released (dropped when it is rolled back), and every
 * distinct cell is written once, just before COMMIT, in the same transaction. */
#ifndef SURVEYD_ROLLUP_DELTAS_H
#define SURVEYD_ROLLUP_DELTAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rollup_table {
    ROLLUP_ANSWERS,             /* survey, day, channel, question, value */
    ROLLUP_ANSWERS_AGENT,       /* survey, agent, day, channel, question, value */
    ROLLUP_RESPONSES,           /* survey, day, channel */
    ROLLUP_RESPONSES_AGENT,     /* survey, agent, day, channel */
    ROLLUP_ANSWERED,            /* survey, question */
    ROLLUP_ANSWERS_MONTH,       /* survey, month, channel, question, value */
    ROLLUP_RESPONSES_MONTH,     /* survey, month, channel */
    ROLLUP_ANSWERS_HOUR,        /* survey, hour, channel, question, value */
    ROLLUP_RESPONSES_HOUR,      /* survey, hour, channel */
};

struct rollup_cell {
    enum rollup_table table;
    const char *survey, *channel, *agent, *question; /* "" where the table has no such column */
    int64_t day;                /* the table's time key: day, month (its first day) or hour */
    bool value_is_text;
    int64_t value;
    const char *value_text;
    int64_t delta;
};

struct rollup_deltas;

struct rollup_deltas *rollup_deltas_new(void);
void rollup_deltas_free(struct rollup_deltas *deltas);

/* Adds cell->delta to the cell with the same key (strings are copied). False when out of memory. */
bool rollup_deltas_add(struct rollup_deltas *deltas, const struct rollup_cell *cell);

/* Adds every cell of from into into, then empties from. */
bool rollup_deltas_merge(struct rollup_deltas *into, struct rollup_deltas *from);

void rollup_deltas_clear(struct rollup_deltas *deltas);

/* Drops every cell of one survey (it is being deleted, rollups and all). */
void rollup_deltas_forget_survey(struct rollup_deltas *deltas, const char *survey);

/* The pending delta of one ROLLUP_ANSWERED cell. */
int64_t rollup_deltas_answered(const struct rollup_deltas *deltas, const char *survey, const char *question);

/* Calls each() for every cell with a non-zero delta; stops at the first false. */
bool rollup_deltas_each(const struct rollup_deltas *deltas, bool (*each)(const struct rollup_cell *cell, void *arg),
                        void *arg);

#endif
