/* The PostgreSQL backend's reads: listing, export cursors, metrics scans and the day span.
 *
 * Each function has exactly the semantics of its SQLite twin in sqlite.c (store.h says what they
 * are); this file only says how PostgreSQL is asked. Listing and metrics run on the calling thread's
 * reader connection through pg_query (prepared once per connection); an export runs on a connection
 * of its own (pg_connect), in keyset stretches read one row at a time. */
#include "postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"

#define MS_PER_DAY STORE_MS_PER_DAY
#define MS_PER_HOUR STORE_MS_PER_HOUR

/* Rows per statement when a listing wants more than that (or all): each stretch is a complete
 * result in memory, handed to the caller only once it is read (the caller may use the same
 * connection from its callback, as a customer's summary does to load a survey). */
#define LIST_CHUNK 500

/* Rows per export stretch: the export layer pauses after 256 rows (ROWS_PER_STRETCH in export.c),
 * so a stretch is usually read to its end before the pause. */
#define ITER_STRETCH 256

/* ---- shared helpers ---- */

/* A text column as a malloc'd copy (NULL for SQL NULL). A copy that failed is noted, so that the
 * request fails instead of answering as if the column were empty (see oom.h). */
static char *text_of(const PGresult *r, int row, int column)
{
    if (PQgetisnull(r, row, column))
        return NULL;
    char *copy = pg_text(r, row, column);
    if (copy == NULL)
        oom_note();
    return copy;
}

static void copy_text(const PGresult *r, int row, int column, char *out, size_t size)
{
    snprintf(out, size, "%s", PQgetisnull(r, row, column) ? "" : PQgetvalue(r, row, column));
}

/* Columns in the order of every response query: id, survey, submitted_at, received_at, channel,
 * customer, agent, interaction, answers, properties. */
static void read_response_row(const PGresult *r, int row, struct store_response_row *out)
{
    memset(out, 0, sizeof *out);
    copy_text(r, row, 0, out->id, sizeof out->id);
    copy_text(r, row, 1, out->survey, sizeof out->survey);
    out->submitted_at = pg_int(r, row, 2);
    out->received_at = pg_int(r, row, 3);
    out->channel = text_of(r, row, 4);
    out->customer = text_of(r, row, 5);
    out->agent = text_of(r, row, 6);
    out->interaction = text_of(r, row, 7);
    out->answers = text_of(r, row, 8);
    out->properties = text_of(r, row, 9);
}

/* Several statements that must agree (a listing read in chunks, a metrics scan read from several
 * tables) share one snapshot: a REPEATABLE READ READ ONLY transaction, begun only when the
 * connection is not already in one (a callback of an outer read may call in here). */
static enum store_status read_begin(struct pg_conn *conn, bool *began)
{
    PGconn *db = pg_db(conn);

    *began = false;
    if (db == NULL)
        return STORE_UNAVAILABLE;
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        return STORE_OK;
    enum store_status status = pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL);
    *began = status == STORE_OK;
    return status;
}

/* Ends what read_begin began; a transaction that failed part way is rolled back, never left open
 * on the reader connection (its next statement would fail with "transaction is aborted"). */
static enum store_status read_end(struct pg_conn *conn, bool began, enum store_status status)
{
    if (!began)
        return status;
    enum store_status ended = pg_exec(conn, status == STORE_OK ? "COMMIT" : "ROLLBACK", 0, NULL, NULL);
    return status == STORE_OK ? ended : status;
}

/* ---- listing ---- */

/* Keyset pagination, newest first: rows strictly before ($2 ms, $3 id), at or after $4 ms. The bound
 * is a row value, so the (survey, submitted_at, id) index range starts right at the cursor. Every
 * parameter is cast: a filter that is NULL still needs a type, and the bounds may be INT64_MIN/MAX. */
#define LIST_COLUMNS "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction," \
    " answers, properties FROM responses"
static const char list_sql[] =
    LIST_COLUMNS " WHERE survey = $1::text AND (submitted_at, id) < ($2::bigint, $3::text) AND submitted_at >= $4::bigint"
    " AND ($5::text IS NULL OR channel = $5) AND ($6::text IS NULL OR agent = $6)"
    " AND ($7::text IS NULL OR customer = $7) AND ($8::text IS NULL OR interaction = $8)"
    " ORDER BY submitted_at DESC, id DESC LIMIT $9::bigint";
/* Across surveys: a customer's history through the (customer, submitted_at, id) index. */
static const char list_customer_sql[] =
    LIST_COLUMNS " WHERE customer = $7::text AND (submitted_at, id) < ($2::bigint, $3::text) AND submitted_at >= $4::bigint"
    " AND ($1::text IS NULL OR survey = $1) AND ($5::text IS NULL OR channel = $5)"
    " AND ($6::text IS NULL OR agent = $6) AND ($8::text IS NULL OR interaction = $8)"
    " ORDER BY submitted_at DESC, id DESC LIMIT $9::bigint";

/* The nine parameters of list_sql for q, at most limit rows (> 0); numbers go into bufs. */
static void list_params(const struct store_list_query *q, int64_t limit, char bufs[3][24], const char *values[9])
{
    values[0] = q->survey;
    values[1] = pg_int_text(bufs[0], q->before_ms);
    values[2] = q->before_id ? q->before_id : "";
    values[3] = pg_int_text(bufs[1], q->from_ms);
    values[4] = q->channel;
    values[5] = q->agent;
    values[6] = q->customer;
    values[7] = q->interaction;
    values[8] = pg_int_text(bufs[2], limit);
}

static const char *list_statement(const struct store_list_query *q)
{
    return q->survey ? list_sql : list_customer_sql;
}

/* One chunk of a listing: at most `want` rows from q's cursor on. *got is how many came; the last
 * row's key moves q's cursor (q->before_id then points into last_id). */
static enum store_status list_chunk(struct pg_conn *conn, struct store_list_query *q, int64_t want,
                                    void (*each)(const struct store_response_row *, void *), void *arg,
                                    int64_t *got, char last_id[32])
{
    char bufs[3][24];
    const char *values[9];
    enum store_status status;
    struct store_response_row row;

    list_params(q, want, bufs, values);
    PGresult *r = pg_query(conn, list_statement(q), 9, values, &status);
    if (r == NULL)
        return status;
    *got = PQntuples(r);
    for (int i = 0; i < *got; i++) {
        read_response_row(r, i, &row);
        each(&row, arg);
        if (i == *got - 1) {
            q->before_ms = row.submitted_at;
            snprintf(last_id, 32, "%s", row.id);
            q->before_id = last_id;
        }
        store_response_row_free(&row);
    }
    PQclear(r);
    return STORE_OK;
}

enum store_status pg_list_responses(struct store_conn *store_conn, const struct store_list_query *query,
                                    void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    struct pg_conn *conn = pg_conn_of(store_conn);
    struct store_list_query q = *query;
    char last_id[32];
    int64_t remaining = query->limit, got = 0;
    bool began = false;
    enum store_status status = STORE_OK;

    /* A page (limit + 1 rows) is one statement; more than a chunk is read in chunks that share
     * one snapshot, so that a row is neither seen twice nor missed however writes interleave. */
    if (remaining < 0 || remaining > LIST_CHUNK)
        status = read_begin(conn, &began);
    while (status == STORE_OK && remaining != 0) {
        int64_t want = remaining < 0 || remaining > LIST_CHUNK ? LIST_CHUNK : remaining;
        status = list_chunk(conn, &q, want, each, arg, &got, last_id);
        if (status != STORE_OK || got < want)
            break;
        if (remaining > 0)
            remaining -= got;
    }
    return read_end(conn, began, status);
}

/* ---- export cursors ---- */

/* An export reads in short stretches, like the SQLite one: each stretch is one statement of at most
 * ITER_STRETCH rows from the last row returned, read one row at a time (libpq's single-row mode), so
 * memory holds one row whatever the export's size. Between store_iter_pause() and the next row no
 * statement runs on the connection: no snapshot is held while the export waits on a slow client
 * (VACUUM can clean behind it, an erased customer's rows are not read after their erasure). A lost
 * connection is opened again at the next stretch. */
struct pg_iter {
    struct store_iter base;
    struct pg_store *store;
    struct pg_conn conn;        /* its own: db from pg_connect, never a reader's */
    struct store_list_query query;
    char *texts[6];             /* the query's strings, owned */
    int64_t remaining;          /* rows still wanted; -1 for all */
    bool running;               /* a stretch's statement is being read */
    bool exhausted;             /* a stretch ended short: there is nothing more */
    int64_t stretch_rows, stretch_limit;
    bool started;
    int64_t last_ms;            /* the last row returned */
    char last_id[32];
};

static struct pg_iter *iter_of(struct store_iter *iter)
{
    return (struct pg_iter *)iter;
}

static char *own(struct pg_iter *it, int slot, const char *text)
{
    if (text == NULL)
        return NULL;
    if ((it->texts[slot] = strdup(text)) == NULL)
        oom_note();
    return it->texts[slot];
}

static bool own_query(struct pg_iter *it, const struct store_list_query *q)
{
    it->query = *q;
    it->query.survey = own(it, 0, q->survey);
    it->query.before_id = own(it, 1, q->before_id);
    it->query.channel = own(it, 2, q->channel);
    it->query.agent = own(it, 3, q->agent);
    it->query.customer = own(it, 4, q->customer);
    it->query.interaction = own(it, 5, q->interaction);
    for (int i = 0; i < 6; i++) {
        const char *given[] = {q->survey, q->before_id, q->channel, q->agent, q->customer, q->interaction};
        if (given[i] != NULL && it->texts[i] == NULL)
            return false;
    }
    return true;
}

struct store_iter *pg_iter_open(struct store *store, const struct store_list_query *query, char *err,
                                size_t err_size)
{
    struct pg_iter *it = calloc(1, sizeof *it);

    if (it == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    it->base.backend = store->backend;
    it->store = (struct pg_store *)store;
    it->conn.base.backend = store->backend;
    it->conn.store = it->store;
    it->remaining = query->limit;
    if (!own_query(it, query)) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    /* Connected now, so that an export that cannot start fails before its reply does. */
    if ((it->conn.db = pg_connect(it->store, err, err_size)) == NULL)
        goto fail;
    return &it->base;

fail:
    pg_iter_close(&it->base);
    return NULL;
}

/* The connection for the next stretch: the one it has, or a new one if that broke. */
static PGconn *iter_db(struct pg_iter *it)
{
    char err[256];

    if (it->conn.db != NULL && PQstatus(it->conn.db) == CONNECTION_OK)
        return it->conn.db;
    PQfinish(it->conn.db);
    if ((it->conn.db = pg_connect(it->store, err, sizeof err)) == NULL)
        snprintf(it->conn.error, sizeof it->conn.error, "%s", err);
    return it->conn.db;
}

/* Sends the next stretch's statement: rows after the last one returned, at most ITER_STRETCH. */
static enum store_status iter_start(struct pg_iter *it)
{
    struct store_list_query q = it->query;
    char bufs[3][24];
    const char *values[9];
    PGconn *db = iter_db(it);

    if (db == NULL)
        return STORE_UNAVAILABLE;
    if (it->started) {
        q.before_ms = it->last_ms;
        q.before_id = it->last_id;
    }
    it->stretch_limit = it->remaining < 0 || it->remaining > ITER_STRETCH ? ITER_STRETCH : it->remaining;
    it->stretch_rows = 0;
    list_params(&q, it->stretch_limit, bufs, values);
    if (!PQsendQueryParams(db, list_statement(&q), 9, NULL, values, NULL, NULL, 0) || !PQsetSingleRowMode(db)) {
        /* Nothing was sent (the connection broke), or single-row mode was refused: read whatever
         * came back and fail; the next stretch connects again. */
        PGresult *r;
        snprintf(it->conn.error, sizeof it->conn.error, "%s", PQerrorMessage(db));
        while ((r = PQgetResult(db)) != NULL)
            PQclear(r);
        return STORE_UNAVAILABLE;
    }
    it->running = true;
    return STORE_OK;
}

/* Reads what is left of a running stretch and throws it away: at most ITER_STRETCH rows. Finding
 * none left when fewer than the stretch's limit came means there is nothing more. */
static void iter_drain(struct pg_iter *it)
{
    PGresult *r;
    int64_t dropped = 0;
    bool complete = false;

    while ((r = PQgetResult(it->conn.db)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        dropped += s == PGRES_SINGLE_TUPLE;
        complete |= s == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (complete && dropped == 0 && it->stretch_rows < it->stretch_limit)
        it->exhausted = true;
    it->running = false;
}

/* The next row of the running stretch: STORE_OK with *row, STORE_NOT_FOUND at its end. */
static enum store_status iter_read(struct pg_iter *it, struct store_response_row *row)
{
    PGresult *r = PQgetResult(it->conn.db);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

    if (s == PGRES_SINGLE_TUPLE) {
        read_response_row(r, 0, row);
        PQclear(r);
        it->started = true;
        it->last_ms = row->submitted_at;
        snprintf(it->last_id, sizeof it->last_id, "%s", row->id);
        it->stretch_rows++;
        if (it->remaining > 0)
            it->remaining--;
        return STORE_OK;
    }
    enum store_status status = s == PGRES_TUPLES_OK ? STORE_NOT_FOUND : pg_status_of(&it->conn, r);
    PQclear(r);
    if (r != NULL)
        iter_drain(it); /* the NULL that ends the statement (and nothing more: a stretch is one) */
    it->running = false;
    if (status == STORE_NOT_FOUND && it->stretch_rows < it->stretch_limit)
        it->exhausted = true;
    return status;
}

enum store_status pg_iter_next(struct store_iter *iter, struct store_response_row *row)
{
    struct pg_iter *it = iter_of(iter);

    for (;;) {
        if (it->remaining == 0 || it->exhausted)
            return STORE_NOT_FOUND;
        if (!it->running) {
            enum store_status status = iter_start(it);
            if (status != STORE_OK)
                return status;
        }
        enum store_status status = iter_read(it, row);
        if (status != STORE_NOT_FOUND)
            return status;
        /* A stretch read to its end at its limit: the next one continues after its last row. */
    }
}

void pg_iter_pause(struct store_iter *iter)
{
    struct pg_iter *it = iter_of(iter);

    if (it->running)
        iter_drain(it);
}

void pg_iter_close(struct store_iter *iter)
{
    struct pg_iter *it = iter_of(iter);

    if (it == NULL)
        return;
    if (it->running)
        iter_drain(it);
    PQfinish(it->conn.db);
    for (int i = 0; i < 6; i++)
        free(it->texts[i]);
    free(it);
}

/* ---- metrics ---- */

/* Every scan statement returns: day, channel, agent, question (NULL for a response cell), is_text,
 * value, value_text, count; and takes $1 survey, $2 and $3 the range [lo, hi) in the statement's
 * unit, $4 channel and $5 agent (NULL: no filter). Every parameter is referenced (PostgreSQL must
 * know each one's type), even where the plan guarantees it is NULL. */
#define SCAN_FILTERS " AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR agent = $5)"
#define NO_AGENT " AND ($4::text IS NULL OR channel = $4) AND $5::text IS NULL"
#define BUCKET "question, is_text, value, value_text, count"
#define NO_BUCKET "NULL::text, false, 0::bigint, NULL::text, count"

/* group_by=agent: every agent's own range of the agent-first table, one index seek each, instead of
 * the whole survey's cells with the time filter applied to each: the survey's agents listed one
 * seek at a time (a skip-scan) from the smaller agent-keyed table. */
#define EACH_AGENT "WITH RECURSIVE agents (agent) AS (SELECT min(agent) FROM rollup_responses_agent" \
    " WHERE survey = $1::text UNION ALL SELECT (SELECT min(r.agent) FROM rollup_responses_agent AS r" \
    " WHERE r.survey = $1 AND r.agent > agents.agent) FROM agents WHERE agents.agent IS NOT NULL) "

/* Whole days [$2, $3). */
static const char scan_answers_sql[] = "SELECT day, channel, '', " BUCKET " FROM rollup_answers"
    " WHERE survey = $1::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
static const char scan_responses_sql[] = "SELECT day, channel, '', " NO_BUCKET " FROM rollup_responses"
    " WHERE survey = $1::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
static const char scan_answers_agent_sql[] = "SELECT day, channel, agent, " BUCKET " FROM rollup_answers_agent"
    " WHERE survey = $1::text AND agent = $5::text AND day >= $2::bigint AND day < $3::bigint"
    " AND ($4::text IS NULL OR channel = $4)";
static const char scan_responses_agent_sql[] = "SELECT day, channel, agent, " NO_BUCKET " FROM rollup_responses_agent"
    " WHERE survey = $1::text AND agent = $5::text AND day >= $2::bigint AND day < $3::bigint"
    " AND ($4::text IS NULL OR channel = $4)";
static const char scan_answers_all_agents_sql[] = EACH_AGENT
    "SELECT r.day, r.channel, r.agent, r.question, r.is_text, r.value, r.value_text, r.count"
    " FROM agents JOIN rollup_answers_agent AS r ON r.survey = $1 AND r.agent = agents.agent"
    " WHERE r.day >= $2::bigint AND r.day < $3::bigint AND ($4::text IS NULL OR r.channel = $4) AND $5::text IS NULL";
static const char scan_responses_all_agents_sql[] = EACH_AGENT
    "SELECT r.day, r.channel, r.agent, NULL::text, false, 0::bigint, NULL::text, r.count"
    " FROM agents JOIN rollup_responses_agent AS r ON r.survey = $1 AND r.agent = agents.agent"
    " WHERE r.day >= $2::bigint AND r.day < $3::bigint AND ($4::text IS NULL OR r.channel = $4) AND $5::text IS NULL";
/* Whole months (their first days) [$2, $3). */
static const char scan_answers_month_sql[] = "SELECT month, channel, '', " BUCKET " FROM rollup_answers_month"
    " WHERE survey = $1::text AND month >= $2::bigint AND month < $3::bigint" NO_AGENT;
static const char scan_responses_month_sql[] = "SELECT month, channel, '', " NO_BUCKET " FROM rollup_responses_month"
    " WHERE survey = $1::text AND month >= $2::bigint AND month < $3::bigint" NO_AGENT;
/* Whole hours [$2, $3) of a window's partial edge days (no agent filter or grouping). */
static const char scan_answers_hour_sql[] = "SELECT hour / 24, channel, '', " BUCKET " FROM rollup_answers_hour"
    " WHERE survey = $1::text AND hour >= $2::bigint AND hour < $3::bigint" NO_AGENT;
static const char scan_responses_hour_sql[] = "SELECT hour / 24, channel, '', " NO_BUCKET " FROM rollup_responses_hour"
    " WHERE survey = $1::text AND hour >= $2::bigint AND hour < $3::bigint" NO_AGENT;
/* Partial days at a window's edges, from the raw rows: times [$2, $3) in milliseconds. */
static const char scan_raw_answers_sql[] = "SELECT day, channel, agent, question, is_text, value, value_text,"
    " count(*) FROM answer_facts WHERE survey = $1::text AND submitted_at >= $2::bigint AND submitted_at < $3::bigint"
    SCAN_FILTERS " GROUP BY 1, 2, 3, 4, 5, 6, 7";
static const char scan_raw_responses_sql[] = "SELECT submitted_at / 86400000, coalesce(channel, ''),"
    " coalesce(agent, ''), NULL::text, false, 0::bigint, NULL::text, count(*) FROM responses"
    " WHERE survey = $1::text AND submitted_at >= $2::bigint AND submitted_at < $3::bigint"
    SCAN_FILTERS " GROUP BY 1, 2, 3";

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The first day of the first month starting at or after day. */
static int64_t month_ceil(int64_t day)
{
    int64_t month = store_backend_month_of_day(day);
    return month == day ? day : store_backend_month_of_day(month + 31); /* month + 31 lies in the next month */
}

static void emit_cells(const PGresult *r, store_metrics_fn each, void *arg)
{
    struct store_metrics_cell cell;

    for (int i = 0; i < PQntuples(r); i++) {
        cell.day = pg_int(r, i, 0);
        cell.channel = PQgetvalue(r, i, 1);
        cell.agent = PQgetvalue(r, i, 2);
        cell.question = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
        cell.value_is_text = PQgetvalue(r, i, 4)[0] == 't';
        cell.value = pg_int(r, i, 5);
        cell.value_text = cell.value_is_text ? PQgetvalue(r, i, 6) : NULL;
        cell.count = pg_int(r, i, 7);
        if (cell.count != 0)
            each(&cell, arg);
    }
}

/* Runs one scan statement over [lo, hi), passing each row to each(). */
static enum store_status scan(struct pg_conn *conn, const char *sql, const struct store_metrics_query *q, int64_t lo,
                              int64_t hi, store_metrics_fn each, void *arg)
{
    char lo_text[24], hi_text[24];
    const char *values[5] = {q->survey, pg_int_text(lo_text, lo), pg_int_text(hi_text, hi), q->channel, q->agent};
    enum store_status status;
    PGresult *r = pg_query(conn, sql, 5, values, &status);

    if (r == NULL)
        return status;
    emit_cells(r, each, arg);
    PQclear(r);
    return STORE_OK;
}

/* The statements of one query, by time granularity: its filters decide which tables can answer. */
struct scan_plan {
    struct pg_conn *conn;
    const struct store_metrics_query *q;
    store_metrics_fn each;
    void *arg;
    const char *answers, *responses;        /* whole days */
    bool coarse;                            /* no agent in play: month and hour tables can answer */
    enum store_status status;
};

static void scan_pair(struct scan_plan *p, const char *answers, const char *responses, int64_t lo, int64_t hi)
{
    if (p->status != STORE_OK || lo >= hi)
        return;
    p->status = scan(p->conn, answers, p->q, lo, hi, p->each, p->arg);
    if (p->status == STORE_OK)
        p->status = scan(p->conn, responses, p->q, lo, hi, p->each, p->arg);
}

/* Whole days [first_day, end_day) (either open: INT64_MIN / INT64_MAX): the months they cover
 * entirely from the month tables, the days before and after from the day tables. Groupings by
 * day or week need every cell's own day, and agent queries have no month tables: day cells
 * throughout. */
static void scan_days(struct scan_plan *p, int64_t first_day, int64_t end_day)
{
    int64_t first_month = first_day == INT64_MIN ? INT64_MIN : month_ceil(first_day);
    int64_t end_month = end_day == INT64_MAX ? INT64_MAX : store_backend_month_of_day(end_day);
    if (p->q->by_day || !p->coarse || first_month >= end_month) {
        scan_pair(p, p->answers, p->responses, first_day, end_day);
        return;
    }
    scan_pair(p, p->answers, p->responses, first_day, first_month);
    scan_pair(p, scan_answers_month_sql, scan_responses_month_sql, first_month, end_month);
    scan_pair(p, p->answers, p->responses, end_month, end_day);
}

/* A partial day [lo_ms, hi_ms): whole hours from the hour tables when they can answer, the rest
 * (at most two partial hours) from raw rows. */
static void scan_edge(struct scan_plan *p, int64_t lo_ms, int64_t hi_ms)
{
    int64_t first_hour = floor_div(lo_ms + MS_PER_HOUR - 1, MS_PER_HOUR), end_hour = floor_div(hi_ms, MS_PER_HOUR);
    if (!p->coarse || first_hour >= end_hour) {
        scan_pair(p, scan_raw_answers_sql, scan_raw_responses_sql, lo_ms, hi_ms);
        return;
    }
    scan_pair(p, scan_raw_answers_sql, scan_raw_responses_sql, lo_ms, first_hour * MS_PER_HOUR);
    scan_pair(p, scan_answers_hour_sql, scan_responses_hour_sql, first_hour, end_hour);
    scan_pair(p, scan_raw_answers_sql, scan_raw_responses_sql, end_hour * MS_PER_HOUR, hi_ms);
}

static void scan_window(struct scan_plan *p)
{
    const struct store_metrics_query *q = p->q;
    /* Whole days from the rollups; the partial days at either edge from hours and raw rows, which
     * costs at most two days' hours and two partial hours' responses, whatever the window. */
    int64_t first_day = q->from_ms == INT64_MIN ? INT64_MIN : floor_div(q->from_ms + MS_PER_DAY - 1, MS_PER_DAY);
    int64_t end_day = q->to_ms == INT64_MAX ? INT64_MAX : floor_div(q->to_ms, MS_PER_DAY);
    if (first_day >= end_day) { /* no whole day inside: both bounds are given */
        scan_edge(p, q->from_ms, q->to_ms);
        return;
    }
    scan_days(p, first_day, end_day);
    /* The edges exist only for a given bound; their day products are formed only then (the open
     * bounds are INT64_MIN / INT64_MAX days, whose products would overflow). */
    if (q->from_ms != INT64_MIN)
        scan_edge(p, q->from_ms, first_day * MS_PER_DAY);
    if (q->to_ms != INT64_MAX)
        scan_edge(p, end_day * MS_PER_DAY, q->to_ms);
}

enum store_status pg_metrics_scan(struct store_conn *store_conn, const struct store_metrics_query *q,
                                  store_metrics_fn each, void *arg)
{
    struct scan_plan p = {
        .conn = pg_conn_of(store_conn), .q = q, .each = each, .arg = arg,
        .answers = scan_answers_sql,
        .responses = scan_responses_sql,
        .coarse = !q->agent && !q->by_agent,
        .status = STORE_OK,
    };
    bool began;

    if (q->agent) {
        p.answers = scan_answers_agent_sql;
        p.responses = scan_responses_agent_sql;
    } else if (q->by_agent) {
        p.answers = scan_answers_all_agents_sql;
        p.responses = scan_responses_all_agents_sql;
    }
    /* The cells come from several tables: one snapshot, so that a batch another instance commits
     * meanwhile counts in all of them or in none (its raw rows and rollups commit together). */
    p.status = read_begin(p.conn, &began);
    if (p.status == STORE_OK)
        scan_window(&p);
    return read_end(p.conn, began, p.status);
}

enum store_status pg_day_span(struct store_conn *store_conn, const char *survey, int64_t *first_day,
                              int64_t *last_day)
{
    struct pg_conn *conn = pg_conn_of(store_conn);
    const char *values[1] = {survey};
    enum store_status status;
    PGresult *r = pg_query(conn, "SELECT min(day), max(day) FROM rollup_responses WHERE survey = $1::text AND count > 0",
                           1, values, &status);

    if (r == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        *first_day = pg_int(r, 0, 0);
        *last_day = pg_int(r, 0, 1);
        status = STORE_OK;
    }
    PQclear(r);
    return status;
}
