/* `surveyd verify` on PostgreSQL: every rollup recomputed from the raw rows and compared with the
 * stored cells, and every stored answer handed out with its survey's definition.
 *
 * Unlike sqlite_verify.c, nothing is walked day by day in C: PostgreSQL groups and joins on its
 * own, spilling to disk past work_mem, so one statement per rollup table does it in bounded
 * memory on both sides. Each recomputes the table from the raw rows (answer_facts, the one
 * definition of a cell) and FULL JOINs it with the stored cells on the key; a row comes back only
 * where the counts differ, so the client reads the differences and nothing else. That is the
 * `expected EXCEPT stored` and its reverse of the SQLite backend in one pass, with the same lines:
 * "<table>: missing or wrong row <key> <count>" for a recomputed cell that is not stored as it is,
 * "<table>: unexpected row <key> <count>" for a stored one that was not recomputed. A bucket prints
 * as one column, as SQLite stores it: the option's text for a choice, else the number. */
#include "postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first day of a day's UTC month, in days since 1970-01-01 (the month tables' key). The date
 * is cast to a timestamp without time zone, so the session's TimeZone plays no part. */
#define MONTH_OF(day) "(date_trunc('month', (DATE '1970-01-01' + (" day ")::int)::timestamp)::date" \
    " - DATE '1970-01-01')::bigint"

/* A bucket's three columns; value_text is '' unless is_text (postgres_internal.h). */
#define FACT_BUCKET "is_text, value, coalesce(value_text, '')"
#define BUCKET_KEYS "is_text, value, value_text"

struct rollup_check {
    const char *table;
    const char *keys;       /* the key columns, in the order a difference line prints them */
    int bucket;             /* the index of is_text among them (value, value_text follow), or -1 */
    const char *expected;   /* the table recomputed from raw rows: keys, then n */
    const char *stored;     /* its stored cells (a zero count is no cell): keys, then n */
};

static const struct rollup_check checks[] = {
    {"rollup_answers", "survey, day, channel, question, " BUCKET_KEYS, 4,
     "SELECT survey, day, channel, question, " FACT_BUCKET ", count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, day, channel, question, " BUCKET_KEYS ", count FROM rollup_answers WHERE count <> 0"},
    {"rollup_answers_agent", "survey, agent, day, channel, question, " BUCKET_KEYS, 5,
     "SELECT survey, agent, day, channel, question, " FACT_BUCKET ", count(*) FROM answer_facts"
     " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
     "SELECT survey, agent, day, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_agent WHERE count <> 0"},
    {"rollup_responses", "survey, day, channel", -1,
     "SELECT survey, submitted_at / 86400000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     "SELECT survey, day, channel, count FROM rollup_responses WHERE count <> 0"},
    {"rollup_responses_agent", "survey, agent, day, channel", -1,
     "SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''), count(*) FROM responses"
     " GROUP BY 1, 2, 3, 4",
     "SELECT survey, agent, day, channel, count FROM rollup_responses_agent WHERE count <> 0"},
    {"answered_questions", "survey, question", -1,
     "SELECT survey, question, count(*) FROM answer_facts GROUP BY 1, 2",
     "SELECT survey, question, answers FROM answered_questions WHERE answers <> 0"},
    {"rollup_answers_month", "survey, month, channel, question, " BUCKET_KEYS, 4,
     "SELECT survey, " MONTH_OF("day") ", channel, question, " FACT_BUCKET ", count(*) FROM answer_facts"
     " GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, month, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_month WHERE count <> 0"},
    {"rollup_responses_month", "survey, month, channel", -1,
     "SELECT survey, " MONTH_OF("submitted_at / 86400000") ", coalesce(channel, ''), count(*) FROM responses"
     " GROUP BY 1, 2, 3",
     "SELECT survey, month, channel, count FROM rollup_responses_month WHERE count <> 0"},
    {"rollup_answers_hour", "survey, hour, channel, question, " BUCKET_KEYS, 4,
     "SELECT survey, submitted_at / 3600000, channel, question, " FACT_BUCKET ", count(*) FROM answer_facts"
     " GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, hour, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_hour WHERE count <> 0"},
    {"rollup_responses_hour", "survey, hour, channel", -1,
     "SELECT survey, submitted_at / 3600000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     "SELECT survey, hour, channel, count FROM rollup_responses_hour WHERE count <> 0"},
};
#define CHECKS (sizeof checks / sizeof checks[0])

/* ---- reading rows one at a time on a connection of its own ---- */

typedef void (*row_fn)(const PGresult *row, void *arg);

/* Runs sql (no parameters) and calls each() for every row as it arrives (single-row mode): memory
 * holds one row, however many the statement returns. */
static enum store_status stream(struct pg_conn *conn, const char *sql, row_fn each, void *arg)
{
    enum store_status status = STORE_OK;
    PGresult *r;

    if (!PQsendQueryParams(conn->db, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQsetSingleRowMode(conn->db)) {
        snprintf(conn->error, sizeof conn->error, "%s", PQerrorMessage(conn->db));
        status = STORE_UNAVAILABLE;
    }
    while ((r = PQgetResult(conn->db)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_SINGLE_TUPLE && status == STORE_OK)
            each(r, arg);
        else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && status == STORE_OK)
            status = pg_status_of(conn, r);
        PQclear(r);
    }
    return status;
}

static enum store_status run(struct pg_conn *conn, const char *sql)
{
    PGresult *r = PQexec(conn->db, sql);
    enum store_status status = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                                   ? STORE_OK
                                   : r ? pg_status_of(conn, r) : STORE_UNAVAILABLE;
    PQclear(r);
    return status;
}

/* A connection of its own, in one REPEATABLE READ READ ONLY snapshot: every check sees the same
 * rows, while surveyd goes on writing. */
static enum store_status open_snapshot(struct pg_store *store, struct pg_conn *conn)
{
    char err[256];

    memset(conn, 0, sizeof *conn);
    conn->base.backend = store->base.backend;
    conn->store = store;
    if ((conn->db = pg_connect(store, err, sizeof err)) == NULL)
        return STORE_UNAVAILABLE;
    return run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

static void close_snapshot(struct pg_conn *conn)
{
    if (conn->db != NULL && PQtransactionStatus(conn->db) != PQTRANS_IDLE)
        run(conn, "ROLLBACK");
    PQfinish(conn->db);
    conn->db = NULL;
}

/* ---- the rollup checks ---- */

struct report_state {
    const struct rollup_check *check;
    void (*report)(const char *line, void *arg);
    void *arg;
    uint64_t *differences;
};

/* The key columns of a difference row as a line prints them: a bucket as one column. */
static size_t key_text(const PGresult *r, int bucket, int keys, char *line, size_t len, size_t size)
{
    for (int c = 0; c < keys && len < size; c++) {
        if (c == bucket) {
            bool is_text = PQgetvalue(r, 0, c)[0] == 't';
            len += (size_t)snprintf(line + len, size - len, " %s", PQgetvalue(r, 0, c + (is_text ? 2 : 1)));
            c += 2;
            continue;
        }
        len += (size_t)snprintf(line + len, size - len, " %s", PQgetisnull(r, 0, c) ? "NULL" : PQgetvalue(r, 0, c));
    }
    return len;
}

/* One row of a check: its key, the recomputed count (NULL: none) and the stored one (NULL: none). */
static void report_difference(const PGresult *r, void *arg)
{
    struct report_state *st = arg;
    int keys = PQnfields(r) - 2;
    char line[1024];

    for (int side = 0; side < 2; side++) {
        if (PQgetisnull(r, 0, keys + side))
            continue;
        size_t len = (size_t)snprintf(line, sizeof line, "%s: %s row", st->check->table,
                                      side == 0 ? "missing or wrong" : "unexpected");
        len = key_text(r, st->check->bucket, keys, line, len, sizeof line);
        if (len < sizeof line)
            snprintf(line + len, sizeof line - len, " %s", PQgetvalue(r, 0, keys + side));
        st->report(line, st->arg);
        (*st->differences)++;
    }
}

/* The cells whose recomputed and stored counts differ (either may be missing), in key order. */
static enum store_status run_check(struct pg_conn *conn, const struct rollup_check *check, struct report_state *st)
{
    char sql[4096];
    int len = snprintf(sql, sizeof sql,
                       "SELECT %s, e.n, s.n FROM (SELECT * FROM (%s) AS x (%s, n)) AS e"
                       " FULL JOIN (SELECT * FROM (%s) AS y (%s, n)) AS s USING (%s)"
                       " WHERE e.n IS DISTINCT FROM s.n ORDER BY %s",
                       check->keys, check->expected, check->keys, check->stored, check->keys, check->keys,
                       check->keys);
    if (len < 0 || (size_t)len >= sizeof sql)
        return STORE_ERROR;
    st->check = check;
    return stream(conn, sql, report_difference, st);
}

static void count_responses(const PGresult *r, void *arg)
{
    *(uint64_t *)arg = (uint64_t)pg_int(r, 0, 0);
}

enum store_status pg_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                            uint64_t *differences, uint64_t *responses)
{
    struct pg_conn conn;
    struct report_state st = {.report = report, .arg = arg, .differences = differences};

    *differences = *responses = 0;
    enum store_status status = open_snapshot((struct pg_store *)store, &conn);
    if (status == STORE_OK)
        status = stream(&conn, "SELECT count(*) FROM responses", count_responses, responses);
    for (size_t i = 0; status == STORE_OK && i < CHECKS; i++)
        status = run_check(&conn, &checks[i], &st);
    close_snapshot(&conn);
    return status;
}

/* ---- stored answers with their definitions ---- */

struct answers_state {
    store_answers_fn each;
    void *arg;
};

static void pass_answers(const PGresult *r, void *arg)
{
    struct answers_state *st = arg;
    st->each(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), st->arg);
}

enum store_status pg_each_answers(struct store *store, store_answers_fn each, void *arg)
{
    struct pg_conn conn;
    struct answers_state st = {each, arg};

    /* One statement reads one snapshot: a definition and the answers stored under it agree. */
    enum store_status status = open_snapshot((struct pg_store *)store, &conn);
    if (status == STORE_OK)
        status = stream(&conn,
                        "SELECT r.survey, s.definition, r.id, r.answers FROM responses AS r"
                        " JOIN surveys AS s ON s.id = r.survey ORDER BY r.survey",
                        pass_answers, &st);
    close_snapshot(&conn);
    return status;
}
