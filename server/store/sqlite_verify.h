/* `surveyd verify`'s rollup checks inside the SQLite backend (not part of store.h: SQLite types).
 *
 * Each rollup table has a check: how to recompute its rows from the raw responses (through the
 * answer_facts view, the one definition of a cell), and how to read what is stored. A check is run in
 * one of three ways:
 *  - per day (day_expected set): the day-level tables hold tens of millions of cells at 10 M
 *    responses, so they are compared one (survey, day) at a time: the day's stored rows into a hash
 *    of cells, the day's recomputed rows (one per answer, unsorted) counted into the same cells.
 *    Memory holds one day's cells, whatever the size of the database; SQLite sorts nothing;
 *    A coarser day table may take its recomputed rows from a finer one's (derived_from) with
 *    its own choice of the key columns (key_columns), so that each day's answers are read once;
 *  - as a per-survey sum of a per-day check's recomputed rows (sum_of set): answered_questions, so
 *    it costs no second pass over the answers' JSON;
 *  - with one `expected EXCEPT stored` and its reverse (neither set): for small tables, such as
 *    coarser rollups derived from the day tables.
 * The line printed for a difference is the same in every way: "<table>: missing or wrong row <cols>"
 * for a recomputed row that is not stored, "<table>: unexpected row <cols>" for a stored one that was
 * not recomputed. */
#ifndef SURVEYD_STORE_VERIFY_H
#define SURVEYD_STORE_VERIFY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct rollup_check {
    const char *table;
    const char *expected;   /* the whole rollup recomputed from raw rows */
    const char *stored;     /* the whole rollup as stored (rows with a zero count left out) */
    /* Per-day checks. Parameters: ?1 survey, ?2 day, ?3 and ?4 submitted_at bounds that hold the
     * whole day (for the index on responses), ?5 a JSON array of every agent the survey's stored
     * agent rollups name. Both return the columns of `expected`: the key, then a count (the
     * recomputed side may return a row per answer with count 1: rows of one key are added up). */
    const char *day_expected;
    const char *day_stored;
    /* Stored rows on no day the walk visits (days with responses, a rollup_responses or a
     * rollup_answers row) or of a survey that does not exist; run only when the walk saw fewer
     * stored rows than the table holds. */
    const char *unvisited;
    /* Day checks that take their recomputed rows from another's day_expected (derived_from), so that
     * each day's answers are read through answer_facts once for every table derived from them. */
    const char *derived_from;
    /* The key columns of the day_expected rows (the source's, for a derived check) this check's cells
     * are keyed by, in its own column order, ending with -1: rollup_answers takes
     * rollup_answers_agent's rows without the agent, rollup_answers_hour takes the hour column instead
     * of the day. NULL: every column but the last (the count). */
    const int *key_columns;
    /* Per-survey sums: the day check (with day_expected) whose recomputed rows are summed, grouped
     * by its column sum_column; day_stored then reads one survey's rows (?1). */
    const char *sum_of;
    int sum_column;
};

typedef void (*store_verify_report_fn)(const char *line, void *arg);

/* Runs the streamed checks among checks[0..count) inside the caller's read transaction. */
enum store_status sqlite_verify_streamed(sqlite3 *db, const struct rollup_check *checks, size_t count,
                                        store_verify_report_fn report, void *arg, uint64_t *differences);

/* Reports the current row of s as one difference line of table. */
void sqlite_verify_report_row(sqlite3_stmt *s, const char *table, bool expected_side, store_verify_report_fn report,
                             void *arg);

#endif
