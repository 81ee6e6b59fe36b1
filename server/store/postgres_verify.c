/* `surveyd verify` on PostgreSQL: every rollup recomputed from the raw rows and compared with the
 * stored cells, and every stored answer handed out with its survey's definition.
 *
 * Unlike sqlite_verify.c, nothing is walked day by day in C: PostgreSQL groups and joins on its
 * own, spilling to disk past work_mem, so one statement does it in bounded memory on both sides.
 * It reads the raw rows once (answer_facts, the one definition of a cell, and the responses),
 * recomputes every rollup table from that, and FULL JOINs each with its stored cells on the key; a
 * row comes back only where the counts differ, so the client reads the differences and nothing
 * else, one row at a time. That is the `expected EXCEPT stored` and its reverse of the SQLite
 * backend in one pass, with the same lines: "<table>: missing or wrong row <key> <count>" for a
 * recomputed cell that is not stored as it is, "<table>: unexpected row <key> <count>" for a stored
 * one that was not recomputed. A bucket prints as one column, as SQLite stores it: the option's
 * text for a choice, else the number. */
#include "postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The first day of a day's UTC month, in days since 1970-01-01 (the month tables' key). The date
 * is cast to a timestamp without time zone, so the session's TimeZone plays no part. */
#define MONTH_OF(day) "(date_trunc('month', (DATE '1970-01-01' + (" day ")::int)::timestamp)::date" \
    " - DATE '1970-01-01')::bigint"

/* The raw rows, read once for every table: each answer's cell at its finest (agent, day and hour
 * together) in `facts`, each response's in `resp`; every table's expected cells are sums of these.
 * Reading answer_facts (the answers' JSON) once instead of once per table is most of verify's time:
 * at 100 k responses, one such pass took 3.6-4.6 s against 0.08 s for a pass over the rows alone. */
#define SOURCES "WITH facts AS MATERIALIZED (SELECT survey, agent, day, submitted_at / 3600000 AS hour, channel," \
    " question, is_text, value, coalesce(value_text, '') AS value_text, count(*) AS n FROM answer_facts" \
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9)," \
    " resp AS MATERIALIZED (SELECT survey, coalesce(agent, '') AS agent, submitted_at / 86400000 AS day," \
    " submitted_at / 3600000 AS hour, coalesce(channel, '') AS channel, count(*) AS n FROM responses" \
    " GROUP BY 1, 2, 3, 4, 5)," \
    " inv AS MATERIALIZED (SELECT survey, created_at / 86400000 AS day, coalesce(channel, '') AS channel," \
    " coalesce(agent, '') AS agent, count(*) FILTER (WHERE outcome = 0) AS sent," \
    " count(*) FILTER (WHERE outcome <> 0) AS suppressed," \
    " count(*) FILTER (WHERE outcome = 0 AND (opened_at > 0 OR responded_at > 0)) AS opened," \
    " count(*) FILTER (WHERE outcome = 0 AND responded_at > 0) AS responded FROM invitations GROUP BY 1, 2, 3, 4) "

/* A bucket as a difference line prints it: one column, as SQLite stores it. */
#define BUCKET_TEXT "CASE WHEN is_text THEN value_text ELSE value::text END"
#define BUCKET_KEYS "is_text, value, value_text"

struct rollup_check {
    const char *table;
    const char *keys;       /* the key columns the two sides are joined on */
    const char *printed;    /* the key as a line prints it: " a b c" */
    const char *expected;   /* the table recomputed from facts or resp: keys, then the count */
    const char *stored;     /* its stored cells (a zero count is no cell): keys, then the count */
};

#define INVITATION_CHECK(count) \
    {"invitation_days", "survey, day, channel, agent", \
     "' ' || survey || ' ' || day || ' ' || channel || ' ' || agent || ' " count "'", \
     "SELECT survey, day, channel, agent, " count " FROM inv WHERE " count " <> 0", \
     "SELECT survey, day, channel, agent, " count " FROM invitation_days WHERE " count " <> 0"}

static const struct rollup_check checks[] = {
    {"rollup_answers", "survey, day, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || day || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT survey, day, channel, question, " BUCKET_KEYS ", sum(n) FROM facts GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, day, channel, question, " BUCKET_KEYS ", count FROM rollup_answers WHERE count <> 0"},
    {"rollup_answers_agent", "survey, agent, day, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || agent || ' ' || day || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT survey, agent, day, channel, question, " BUCKET_KEYS ", sum(n) FROM facts GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
     "SELECT survey, agent, day, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_agent WHERE count <> 0"},
    {"rollup_responses", "survey, day, channel", "' ' || survey || ' ' || day || ' ' || channel",
     "SELECT survey, day, channel, sum(n) FROM resp GROUP BY 1, 2, 3",
     "SELECT survey, day, channel, count FROM rollup_responses WHERE count <> 0"},
    {"rollup_responses_agent", "survey, agent, day, channel",
     "' ' || survey || ' ' || agent || ' ' || day || ' ' || channel",
     "SELECT survey, agent, day, channel, sum(n) FROM resp GROUP BY 1, 2, 3, 4",
     "SELECT survey, agent, day, channel, count FROM rollup_responses_agent WHERE count <> 0"},
    {"answered_questions", "survey, question", "' ' || survey || ' ' || question",
     "SELECT survey, question, sum(n) FROM facts GROUP BY 1, 2",
     "SELECT survey, question, answers FROM answered_questions WHERE answers <> 0"},
    {"rollup_answers_month", "survey, month, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || month || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT survey, " MONTH_OF("day") ", channel, question, " BUCKET_KEYS ", sum(n) FROM facts"
     " GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, month, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_month WHERE count <> 0"},
    {"rollup_responses_month", "survey, month, channel", "' ' || survey || ' ' || month || ' ' || channel",
     "SELECT survey, " MONTH_OF("day") ", channel, sum(n) FROM resp GROUP BY 1, 2, 3",
     "SELECT survey, month, channel, count FROM rollup_responses_month WHERE count <> 0"},
    {"rollup_answers_hour", "survey, hour, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || hour || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT survey, hour, channel, question, " BUCKET_KEYS ", sum(n) FROM facts GROUP BY 1, 2, 3, 4, 5, 6, 7",
     "SELECT survey, hour, channel, question, " BUCKET_KEYS ", count FROM rollup_answers_hour WHERE count <> 0"},
    {"rollup_responses_hour", "survey, hour, channel", "' ' || survey || ' ' || hour || ' ' || channel",
     "SELECT survey, hour, channel, sum(n) FROM resp GROUP BY 1, 2, 3",
     "SELECT survey, hour, channel, count FROM rollup_responses_hour WHERE count <> 0"},
    /* The topics' day rollups (schema/postgres/008), recomputed from the tags (the tags themselves
     * are checked against the topics' queries by pg_verify_topics). */
    {"rollup_topic_answers", "survey, topic, day, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || topic || ' ' || day || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT t.survey, t.topic, f.day, f.channel, f.question, f.is_text, f.value, coalesce(f.value_text, ''),"
     " count(*) FROM response_topics AS t JOIN answer_facts AS f ON f.seq = t.seq GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
     "SELECT survey, topic, day, channel, question, " BUCKET_KEYS ", count FROM rollup_topic_answers WHERE count <> 0"},
    {"rollup_topic_responses", "survey, topic, day, channel",
     "' ' || survey || ' ' || topic || ' ' || day || ' ' || channel",
     "SELECT t.survey, t.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), count(*)"
     " FROM response_topics AS t JOIN responses AS r ON r.seq = t.seq GROUP BY 1, 2, 3, 4",
     "SELECT survey, topic, day, channel, count FROM rollup_topic_responses WHERE count <> 0"},
    /* Their month tables (schema/postgres/009), as the sums of their day cells. */
    {"rollup_topic_answers_month", "survey, topic, month, channel, question, " BUCKET_KEYS,
     "' ' || survey || ' ' || topic || ' ' || month || ' ' || channel || ' ' || question || ' ' || " BUCKET_TEXT,
     "SELECT survey, topic, " MONTH_OF("day") ", channel, question, " BUCKET_KEYS ", sum(count)"
     " FROM rollup_topic_answers GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
     "SELECT survey, topic, month, channel, question, " BUCKET_KEYS ", count FROM rollup_topic_answers_month"
     " WHERE count <> 0"},
    {"rollup_topic_responses_month", "survey, topic, month, channel",
     "' ' || survey || ' ' || topic || ' ' || month || ' ' || channel",
     "SELECT survey, topic, " MONTH_OF("day") ", channel, sum(count) FROM rollup_topic_responses GROUP BY 1, 2, 3, 4",
     "SELECT survey, topic, month, channel, count FROM rollup_topic_responses_month WHERE count <> 0"},
    /* The invitations' rollup (schema/postgres/003): one check per count, the count's name the key's
     * last word ("invitation_days: unexpected row s1 20000 email ana opened 3"). */
    INVITATION_CHECK("sent"),
    INVITATION_CHECK("suppressed"),
    INVITATION_CHECK("opened"),
    INVITATION_CHECK("responded"),
    /* The webhooks' backlog count (schema/postgres/004's triggers), as on SQLite. */
    {"webhooks", "webhook", "' ' || webhook || ' backlog'",
     "SELECT webhook, count(*) FROM webhook_deliveries WHERE state IN (0, 1) GROUP BY 1",
     "SELECT id, backlog FROM webhooks WHERE backlog <> 0"},
};
#define CHECKS (sizeof checks / sizeof checks[0])

/* ---- reading rows one at a time on a connection of its own ---- */

typedef void (*row_fn)(const PGresult *row, void *arg);

/* Runs sql with n text parameters and calls each() for every row as it arrives (single-row mode):
 * memory holds one row, however many the statement returns. */
static enum store_status stream_params(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                                       row_fn each, void *arg)
{
    enum store_status status = STORE_OK;
    PGresult *r;

    if (!PQsendQueryParams(conn->db, sql, n, NULL, values, NULL, NULL, 0) || !PQsetSingleRowMode(conn->db)) {
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

static enum store_status stream(struct pg_conn *conn, const char *sql, row_fn each, void *arg)
{
    return stream_params(conn, sql, 0, NULL, each, arg);
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
    if ((conn->db = pg_connect(store, err, sizeof err)) == NULL) {
        snprintf(conn->error, sizeof conn->error, "%s", err);
        return STORE_UNAVAILABLE;
    }
    return run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

/* Ends the snapshot; a failure is logged with the server's reason (the caller only sees a status). */
static enum store_status close_snapshot(struct pg_conn *conn, enum store_status status)
{
    if (status != STORE_OK)
        log_error("store: %s", conn->error[0] ? conn->error : "out of memory");
    if (conn->db != NULL && PQtransactionStatus(conn->db) != PQTRANS_IDLE)
        run(conn, "ROLLBACK");
    PQfinish(conn->db);
    conn->db = NULL;
    return status;
}

/* ---- the rollup checks ---- */

struct report_state {
    void (*report)(const char *line, void *arg);
    void *arg;
    uint64_t *differences;
};

/* One differing cell: table, printed key, the recomputed count (NULL: none) and the stored one
 * (NULL: none). A count that differs gives both lines, as EXCEPT both ways would. */
static void report_difference(const PGresult *r, void *arg)
{
    struct report_state *st = arg;
    char line[1024];

    for (int side = 0; side < 2; side++) {
        if (PQgetisnull(r, 0, 3 + side))
            continue;
        snprintf(line, sizeof line, "%s: %s row%s %s", PQgetvalue(r, 0, 1),
                 side == 0 ? "missing or wrong" : "unexpected", PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3 + side));
        st->report(line, st->arg);
        (*st->differences)++;
    }
}

/* Appends check i's differing cells (check number, table, printed key, both counts) to sql. */
static bool append_check(char *sql, size_t size, size_t *len, size_t i)
{
    const struct rollup_check *c = &checks[i];
    int n = snprintf(sql + *len, size - *len,
                     "%sSELECT %zu, '%s', %s, e.n::bigint, s.n FROM (%s) AS e (%s, n) FULL JOIN (%s) AS s (%s, n)"
                     " USING (%s) WHERE e.n IS DISTINCT FROM s.n",
                     i == 0 ? "" : " UNION ALL ", i, c->table, c->printed, c->expected, c->keys, c->stored, c->keys,
                     c->keys);
    if (n < 0 || (size_t)n >= size - *len)
        return false;
    *len += (size_t)n;
    return true;
}

/* Every table's differing cells, from one statement over one read of the raw rows. */
#define CHECKS_SQL_MAX 16384

static enum store_status run_checks(struct pg_conn *conn, struct report_state *st)
{
    enum store_status status = STORE_ERROR;
    char *sql = malloc(CHECKS_SQL_MAX);
    size_t len;

    if (sql == NULL)
        return STORE_UNAVAILABLE;
    len = (size_t)snprintf(sql, CHECKS_SQL_MAX, "%s", SOURCES);
    for (size_t i = 0; i < CHECKS; i++) {
        if (!append_check(sql, CHECKS_SQL_MAX, &len, i))
            goto done;
    }
    if (len + 16 >= CHECKS_SQL_MAX)
        goto done;
    strcat(sql, " ORDER BY 1, 3");
    status = stream(conn, sql, report_difference, st);
done:
    if (status == STORE_ERROR && conn->error[0] == '\0')
        snprintf(conn->error, sizeof conn->error, "verify's statement is longer than %d bytes", CHECKS_SQL_MAX);
    free(sql);
    return status;
}

static void count_responses(const PGresult *r, void *arg)
{
    *(uint64_t *)arg = (uint64_t)pg_int(r, 0, 0);
}

enum store_status pg_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                            uint64_t *differences, uint64_t *responses)
{
    struct pg_conn conn;
    struct report_state st = {report, arg, differences};

    *differences = *responses = 0;
    enum store_status status = open_snapshot((struct pg_store *)store, &conn);
    if (status == STORE_OK)
        status = stream(&conn, "SELECT count(*) FROM responses", count_responses, responses);
    /* The checks group a few hundred thousand cells per million responses, and the default 4 MB of
     * work_mem sends each grouping to disk: 32 MB halved verify's time at 100 k responses. For this
     * transaction only, and never lowered below what the operator set. */
    if (status == STORE_OK)
        status = run(&conn, "SELECT set_config('work_mem', '32MB', true) FROM pg_settings"
                            " WHERE name = 'work_mem' AND setting::bigint < 32768");
    if (status == STORE_OK)
        status = run_checks(&conn, &st);
    if (status == STORE_OK)
        status = pg_verify_topics(conn.db, ((struct pg_store *)store)->text_language, report, arg, differences);
    if (status == STORE_OK && !pg_text_verify(conn.db, report, arg, differences, conn.error, sizeof conn.error))
        status = STORE_ERROR;
    return close_snapshot(&conn, status);
}

/* ---- stored answers with their definitions ---- */

struct answers_state {
    store_answers_fn each;
    void *arg;
    const char *survey, *definition;    /* the survey whose responses are being read */
};

static void pass_answers(const PGresult *r, void *arg)
{
    struct answers_state *st = arg;
    st->each(st->survey, st->definition, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), st->arg);
}

/* Survey by survey, inside one snapshot: the definitions first (a small table, read whole), then
 * each survey's responses streamed through the (survey, ...) index. Joining every response with
 * its definition would send the definition's text once per response, and ordering a join by
 * survey could sort the whole table. (At 100 k responses of one survey the two ways took the same
 * time, the rollup statement beside it being the longer: this is for bigger stores, unmeasured.) */
enum store_status pg_each_answers(struct store *store, store_answers_fn each, void *arg)
{
    struct pg_conn conn;
    struct answers_state st = {each, arg, NULL, NULL};
    PGresult *surveys = NULL;

    enum store_status status = open_snapshot((struct pg_store *)store, &conn);
    if (status == STORE_OK) {
        surveys = PQexec(conn.db, "SELECT id, definition FROM surveys ORDER BY id");
        if (PQresultStatus(surveys) != PGRES_TUPLES_OK)
            status = surveys ? pg_status_of(&conn, surveys) : STORE_UNAVAILABLE;
    }
    for (int i = 0; status == STORE_OK && i < PQntuples(surveys); i++) {
        st.survey = PQgetvalue(surveys, i, 0);
        st.definition = PQgetvalue(surveys, i, 1);
        status = stream_params(&conn, "SELECT id, answers FROM responses WHERE survey = $1", 1, &st.survey,
                               pass_answers, &st);
    }
    PQclear(surveys);
    return close_snapshot(&conn, status);
}
