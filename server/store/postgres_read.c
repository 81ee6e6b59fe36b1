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

#include <pthread.h>

#include "oom.h"
#include "text_query.h"

/* Rows per statement when a listing wants more than that (or all): each chunk is a complete
 * result in memory, handed to the caller only once it is read (the caller may use the same
 * connection from its callback, as a customer's summary does to load a survey). A page of the API
 * (at most 1000 rows, plus one to learn whether there is another) is one statement. */
#define LIST_CHUNK 1024

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
    /* pg_query reconnects by itself when a connection broke while it looked idle: a statement that
     * ran on a new connection ran outside the snapshot, and what the call read may disagree. */
    if (status == STORE_OK && (conn->db == NULL || PQtransactionStatus(conn->db) != PQTRANS_INTRANS)) {
        snprintf(conn->error, sizeof conn->error, "the connection to PostgreSQL was lost during a read");
        status = STORE_UNAVAILABLE;
    }
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
    LIST_COLUMNS " WHERE survey = $1::text AND (submitted_at, id) < ($2::bigint, $3::text)"
    " AND submitted_at >= $4::bigint"
    " AND ($5::text IS NULL OR channel = $5) AND ($6::text IS NULL OR agent = $6)"
    " AND ($7::text IS NULL OR customer = $7) AND ($8::text IS NULL OR interaction = $8)"
    " ORDER BY submitted_at DESC, id DESC LIMIT $9::bigint";
/* Across surveys: a customer's history through the (customer, submitted_at, id) index. */
static const char list_customer_sql[] =
    LIST_COLUMNS " WHERE customer = $7::text AND (submitted_at, id) < ($2::bigint, $3::text)"
    " AND submitted_at >= $4::bigint"
    " AND ($1::text IS NULL OR survey = $1) AND ($5::text IS NULL OR channel = $5)"
    " AND ($6::text IS NULL OR agent = $6) AND ($8::text IS NULL OR interaction = $8)"
    " ORDER BY submitted_at DESC, id DESC LIMIT $9::bigint";

/* q= (docs/search.md "PostgreSQL"): $10 is text_query_tsquery's text cast with ::tsquery (folded
 * tokens taken as they are, never re-parsed by a text search configuration). Three plans, as on
 * SQLite (sqlite_responses.c):
 *   DRIVE: every match from the GIN index, materialized so that the planner cannot turn it into a
 *          walk, then filtered and sorted: for queries that match few rows anywhere.
 *   WALK:  the survey's (or the customer's) rows newest first along the listing's own index, each
 *          one's tsvector checked by its primary key: for common words, it stops after limit
 *          matches; and a customer's history, which is a few rows.
 *   RANK:  sort=relevance: ts_rank_cd among the newest $12 matches (by seq: latest stored first,
 *          as FTS5 reads its doclists) that pass the filters, ties newest first, paged by offset
 *          $11. */
#define SEARCH_COLUMNS "SELECT r.id, r.survey, r.submitted_at, r.received_at, r.channel, r.customer, r.agent," \
    " r.interaction, r.answers, r.properties"
#define SEARCH_FILTERS " AND (r.submitted_at, r.id) < ($2::bigint, $3::text) AND r.submitted_at >= $4::bigint" \
    " AND ($5::text IS NULL OR r.channel = $5) AND ($6::text IS NULL OR r.agent = $6)" \
    " AND ($8::text IS NULL OR r.interaction = $8)"
#define SEARCH_SURVEY_FILTER " WHERE r.survey = $1::text AND ($7::text IS NULL OR r.customer = $7)" SEARCH_FILTERS
#define SEARCH_CUSTOMER_FILTER " WHERE r.customer = $7::text AND ($1::text IS NULL OR r.survey = $1)" SEARCH_FILTERS
#define SEARCH_NEWEST " ORDER BY r.submitted_at DESC, r.id DESC LIMIT $9::bigint"
#define SEARCH_DRIVE(filter) "WITH m AS MATERIALIZED (SELECT seq FROM text_answers WHERE tsv @@ $10::tsquery) " \
    SEARCH_COLUMNS " FROM m JOIN responses r ON r.seq = m.seq" filter SEARCH_NEWEST
#define SEARCH_WALK(filter) SEARCH_COLUMNS " FROM responses r" filter \
    " AND (SELECT t.tsv @@ $10::tsquery FROM text_answers t WHERE t.seq = r.seq)" SEARCH_NEWEST
#define SEARCH_RANK(filter) "WITH m AS MATERIALIZED (SELECT t.seq FROM text_answers t JOIN responses r ON r.seq = t.seq" \
    filter " AND t.tsv @@ $10::tsquery ORDER BY t.seq DESC LIMIT $12::bigint) " \
    SEARCH_COLUMNS " FROM m JOIN text_answers t ON t.seq = m.seq JOIN responses r ON r.seq = m.seq" \
    " ORDER BY ts_rank_cd(t.tsv, $10::tsquery, 2) DESC, r.submitted_at DESC, r.id DESC" \
    " LIMIT $9::bigint OFFSET $11::bigint"

enum list_plan { PLAN_PLAIN, PLAN_DRIVE, PLAN_WALK, PLAN_RANK };

/* [customer history][plan] */
static const char *const search_sql[2][4] = {
    {NULL, SEARCH_DRIVE(SEARCH_SURVEY_FILTER), SEARCH_WALK(SEARCH_SURVEY_FILTER), SEARCH_RANK(SEARCH_SURVEY_FILTER)},
    {NULL, SEARCH_DRIVE(SEARCH_CUSTOMER_FILTER), SEARCH_WALK(SEARCH_CUSTOMER_FILTER),
     SEARCH_RANK(SEARCH_CUSTOMER_FILTER)},
};

/* Newest first with q=: the matches drive when there are fewer than this many anywhere (counted in
 * the GIN index, stopping there); otherwise the walk finds a page of them sooner.
 * SURVEYD_SEARCH_DRIVE_MAX and SURVEYD_SEARCH_RELEVANCE_WINDOW override it and
 * STORE_RELEVANCE_WINDOW, as on SQLite: the tests run every query through both plans, and show the
 * window's cut without storing 10 000 matches. */
#define SEARCH_DRIVE_MAX_DEFAULT 8000
static int64_t drive_max, relevance_window;
static pthread_once_t search_env_once = PTHREAD_ONCE_INIT;

static int64_t env_count(const char *name, int64_t fallback)
{
    const char *env = getenv(name);
    char *end = NULL;
    long long n = env ? strtoll(env, &end, 10) : 0;
    return env && *env && *end == '\0' && n >= 0 ? n : fallback;
}

static void read_search_env(void)
{
    drive_max = env_count("SURVEYD_SEARCH_DRIVE_MAX", SEARCH_DRIVE_MAX_DEFAULT);
    relevance_window = env_count("SURVEYD_SEARCH_RELEVANCE_WINDOW", STORE_RELEVANCE_WINDOW);
}

static const char count_matches_sql[] =
    "SELECT count(*) FROM (SELECT 1 FROM text_answers WHERE tsv @@ $1::tsquery LIMIT $2::bigint) m";

/* The plan for q (tsq: its tsquery text, or NULL), counting the matches on db when it matters. */
static enum store_status choose_plan(PGconn *db, struct pg_conn *conn, const struct store_list_query *q,
                                     const char *tsq, enum list_plan *plan)
{
    pthread_once(&search_env_once, read_search_env);
    *plan = tsq == NULL                          ? PLAN_PLAIN
            : q->order == STORE_ORDER_RELEVANCE ? PLAN_RANK
            : q->survey == NULL                 ? PLAN_WALK /* a customer's history: their few rows, each checked */
                                                 : PLAN_DRIVE;
    if (*plan != PLAN_DRIVE)
        return STORE_OK;
    char limit[24];
    const char *values[] = {tsq, pg_int_text(limit, drive_max)};
    enum store_status status;
    PGresult *r;
    if (db == NULL) {
        r = pg_query_planned(conn, count_matches_sql, 2, values, &status);
        if (r == NULL)
            return status;
    } else {
        r = PQexecParams(db, count_matches_sql, 2, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            status = pg_status_of(conn, r);
            PQclear(r);
            return status;
        }
    }
    if (pg_int(r, 0, 0) >= drive_max)
        *plan = PLAN_WALK;
    PQclear(r);
    return STORE_OK;
}

/* The parameters of q's statement, at most limit rows (> 0, or -1 for all); numbers go into bufs.
 * The number of parameters. */
static int list_params(const struct store_list_query *q, enum list_plan plan, const char *tsq, int64_t limit,
                       char bufs[5][24], const char *values[12])
{
    values[0] = q->survey;
    values[1] = pg_int_text(bufs[0], q->before_ms);
    values[2] = q->before_id ? q->before_id : "";
    values[3] = pg_int_text(bufs[1], q->from_ms);
    values[4] = q->channel;
    values[5] = q->agent;
    values[6] = q->customer;
    values[7] = q->interaction;
    values[8] = limit < 0 ? NULL : pg_int_text(bufs[2], limit);
    values[9] = tsq;
    values[10] = pg_int_text(bufs[3], q->offset > 0 ? q->offset : 0);
    values[11] = pg_int_text(bufs[4], relevance_window);
    return plan == PLAN_PLAIN ? 9 : plan == PLAN_RANK ? 12 : 10;
}

static const char *list_statement(const struct store_list_query *q, enum list_plan plan)
{
    if (plan != PLAN_PLAIN)
        return search_sql[q->survey == NULL][plan];
    return q->survey ? list_sql : list_customer_sql;
}

/* One chunk of a listing: at most `want` rows from q's cursor on (-1: all). *got is how many came;
 * the last row's key moves q's cursor (q->before_id then points into last_id). */
static enum store_status list_chunk(struct pg_conn *conn, struct store_list_query *q, enum list_plan plan,
                                    const char *tsq, int64_t want,
                                    void (*each)(const struct store_response_row *, void *), void *arg,
                                    int64_t *got, char last_id[32])
{
    char bufs[5][24];
    const char *values[12];
    enum store_status status;
    struct store_response_row row;

    int n = list_params(q, plan, tsq, want, bufs, values);
    /* A search planned for its own values every time: a generic plan of the walk, blind to how
     * many rows match, sorted a whole survey instead of walking it (390 ms against 0.5 ms at
     * 200 k responses). */
    PGresult *r = plan == PLAN_PLAIN ? pg_query(conn, list_statement(q, plan), n, values, &status)
                                     : pg_query_planned(conn, list_statement(q, plan), n, values, &status);
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
    enum list_plan plan = PLAN_PLAIN;
    char *tsq = NULL;

    if (query->text != NULL && (tsq = text_query_tsquery(query->text)) == NULL) {
        snprintf(conn->error, sizeof conn->error, "out of memory");
        return STORE_UNAVAILABLE;
    }
    /* A page (limit + 1 rows) is one statement; more than a chunk is read in chunks that share
     * one snapshot, so that a row is neither seen twice nor missed however writes interleave.
     * A ranked listing is one statement whatever its size: offset paging has no key to go on from. */
    if (remaining < 0 || remaining > LIST_CHUNK)
        status = read_begin(conn, &began);
    if (status == STORE_OK)
        status = choose_plan(NULL, conn, query, tsq, &plan);
    while (status == STORE_OK && remaining != 0) {
        int64_t want = plan == PLAN_RANK ? remaining
                       : remaining < 0 || remaining > LIST_CHUNK ? LIST_CHUNK
                                                                  : remaining;
        status = list_chunk(conn, &q, plan, tsq, want, each, arg, &got, last_id);
        if (status != STORE_OK || got < want || plan == PLAN_RANK)
            break;
        if (remaining > 0)
            remaining -= got;
    }
    free(tsq);
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
    char *tsq;                  /* q='s tsquery text (owned; NULL without q=) and its plan */
    enum list_plan plan;
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

/* Copies of the query's strings: an export outlives the request handler that built the query. */
static bool own_query(struct pg_iter *it, const struct store_list_query *q)
{
    const char *given[6] = {q->survey, q->before_id, q->channel, q->agent, q->customer, q->interaction};

    it->query = *q;
    it->query.survey = own(it, 0, q->survey);
    it->query.before_id = own(it, 1, q->before_id);
    it->query.channel = own(it, 2, q->channel);
    it->query.agent = own(it, 3, q->agent);
    it->query.customer = own(it, 4, q->customer);
    it->query.interaction = own(it, 5, q->interaction);
    for (int i = 0; i < 6; i++) {
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
    /* An export is newest first: its plan, once (the matches' count may only grow past the drive
     * limit meanwhile, and the drive stays right, only slower). */
    it->query.text = NULL; /* the request's: freed before the export ends */
    if (query->text != NULL && (it->tsq = text_query_tsquery(query->text)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (choose_plan(it->conn.db, &it->conn, query, it->tsq, &it->plan) != STORE_OK) {
        snprintf(err, err_size, "%s", it->conn.error);
        goto fail;
    }
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
    char bufs[5][24];
    const char *values[12];
    PGconn *db = iter_db(it);

    if (db == NULL)
        return STORE_UNAVAILABLE;
    if (it->started) {
        q.before_ms = it->last_ms;
        q.before_id = it->last_id;
    }
    it->stretch_limit = it->remaining < 0 || it->remaining > ITER_STRETCH ? ITER_STRETCH : it->remaining;
    it->stretch_rows = 0;
    int n = list_params(&q, it->plan, it->tsq, it->stretch_limit, bufs, values);
    if (!PQsendQueryParams(db, list_statement(&q, it->plan), n, NULL, values, NULL, NULL, 0) ||
        !PQsetSingleRowMode(db)) {
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

/* Whether a stretch that failed before its first row may be sent again on a new connection: the
 * old one broke while the export waited (the server restarted, or closed an idle connection), and
 * nothing of the stretch reached the caller, so nothing can come twice. Once per stretch. */
static bool iter_may_retry(struct pg_iter *it, enum store_status status, bool *retried)
{
    if (status != STORE_UNAVAILABLE || it->stretch_rows > 0 || *retried)
        return false;
    if (it->conn.db != NULL && PQstatus(it->conn.db) == CONNECTION_OK)
        return false;
    *retried = true;
    return true;
}

enum store_status pg_iter_next(struct store_iter *iter, struct store_response_row *row)
{
    struct pg_iter *it = iter_of(iter);
    bool retried = false;

    for (;;) {
        if (it->remaining == 0 || it->exhausted)
            return STORE_NOT_FOUND;
        if (!it->running) {
            enum store_status status = iter_start(it);
            if (status != STORE_OK && iter_may_retry(it, status, &retried))
                continue;
            if (status != STORE_OK)
                return status;
        }
        enum store_status status = iter_read(it, row);
        if (iter_may_retry(it, status, &retried))
            continue;
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
    free(it->tsq);
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

/* The same for the responses tagged with topic $6 (store.c reads a topic's window from raw rows). */
#define TAGGED " AND seq IN (SELECT seq FROM response_topics WHERE survey = $1 AND topic = $6::text)"
static const char scan_raw_answers_topic_sql[] = "SELECT day, channel, agent, question, is_text, value, value_text,"
    " count(*) FROM answer_facts WHERE survey = $1::text AND submitted_at >= $2::bigint AND submitted_at < $3::bigint"
    SCAN_FILTERS TAGGED " GROUP BY 1, 2, 3, 4, 5, 6, 7";
static const char scan_raw_responses_topic_sql[] = "SELECT submitted_at / 86400000, coalesce(channel, ''),"
    " coalesce(agent, ''), NULL::text, false, 0::bigint, NULL::text, count(*) FROM responses"
    " WHERE survey = $1::text AND submitted_at >= $2::bigint AND submitted_at < $3::bigint"
    SCAN_FILTERS TAGGED " GROUP BY 1, 2, 3";

/* group_by=topic from the raw rows: a cell per topic a response is tagged with (column 8). */
static const char scan_raw_answers_by_topic_sql[] = "SELECT f.day, f.channel, f.agent, f.question, f.is_text,"
    " f.value, f.value_text, count(*), t.topic FROM answer_facts AS f JOIN response_topics AS t ON t.seq = f.seq"
    " WHERE f.survey = $1::text AND f.submitted_at >= $2::bigint AND f.submitted_at < $3::bigint"
    " AND ($4::text IS NULL OR f.channel = $4) AND ($5::text IS NULL OR f.agent = $5)"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 9";
static const char scan_raw_responses_by_topic_sql[] = "SELECT r.submitted_at / 86400000, coalesce(r.channel, ''),"
    " coalesce(r.agent, ''), NULL::text, false, 0::bigint, NULL::text, count(*), t.topic"
    " FROM responses AS r JOIN response_topics AS t ON t.seq = r.seq"
    " WHERE r.survey = $1::text AND r.submitted_at >= $2::bigint AND r.submitted_at < $3::bigint"
    " AND ($4::text IS NULL OR r.channel = $4) AND ($5::text IS NULL OR r.agent = $5)"
    " GROUP BY 1, 2, 3, 9";
/* Whole days [$2, $3) of one topic ($6) or of every topic of the survey (schema/postgres/008);
 * store.c never asks them with an agent. */
static const char scan_topic_answers_sql[] = "SELECT day, channel, '', " BUCKET ", topic FROM rollup_topic_answers"
    " WHERE survey = $1::text AND topic = $6::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
static const char scan_topic_responses_sql[] = "SELECT day, channel, '', " NO_BUCKET ", topic"
    " FROM rollup_topic_responses"
    " WHERE survey = $1::text AND topic = $6::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
static const char scan_topic_answers_all_sql[] = "SELECT day, channel, '', " BUCKET ", topic"
    " FROM rollup_topic_answers WHERE survey = $1::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
static const char scan_topic_responses_all_sql[] = "SELECT day, channel, '', " NO_BUCKET ", topic"
    " FROM rollup_topic_responses WHERE survey = $1::text AND day >= $2::bigint AND day < $3::bigint" NO_AGENT;
/* Whole months [$2, $3) (their first days) of one topic or of every topic (schema/postgres/009). */
static const char scan_topic_answers_month_sql[] = "SELECT month, channel, '', " BUCKET ", topic"
    " FROM rollup_topic_answers_month"
    " WHERE survey = $1::text AND topic = $6::text AND month >= $2::bigint AND month < $3::bigint" NO_AGENT;
static const char scan_topic_responses_month_sql[] = "SELECT month, channel, '', " NO_BUCKET ", topic"
    " FROM rollup_topic_responses_month"
    " WHERE survey = $1::text AND topic = $6::text AND month >= $2::bigint AND month < $3::bigint" NO_AGENT;
static const char scan_topic_answers_month_all_sql[] = "SELECT month, channel, '', " BUCKET ", topic"
    " FROM rollup_topic_answers_month WHERE survey = $1::text AND month >= $2::bigint AND month < $3::bigint"
    NO_AGENT;
static const char scan_topic_responses_month_all_sql[] = "SELECT month, channel, '', " NO_BUCKET ", topic"
    " FROM rollup_topic_responses_month WHERE survey = $1::text AND month >= $2::bigint AND month < $3::bigint"
    NO_AGENT;

static void emit_cells(const PGresult *r, bool by_topic, store_metrics_fn each, void *arg)
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
        cell.topic = by_topic ? PQgetvalue(r, i, 8) : NULL;
        if (cell.count != 0)
            each(&cell, arg);
    }
}

/* Runs one scan statement over [lo, hi), passing each row to each(). */
static enum store_status scan(struct pg_conn *conn, const char *sql, const struct store_metrics_query *q, int64_t lo,
                              int64_t hi, store_metrics_fn each, void *arg)
{
    char lo_text[24], hi_text[24];
    const char *values[6] = {q->survey, pg_int_text(lo_text, lo), pg_int_text(hi_text, hi), q->channel, q->agent,
                             q->topic};
    enum store_status status;
    /* $6 (the topic) only where the statement takes it: PostgreSQL counts a prepared statement's
     * parameters from its text. */
    PGresult *r = pg_query(conn, sql, strstr(sql, "$6") ? 6 : 5, values, &status);

    if (r == NULL)
        return status;
    emit_cells(r, q->by_topic, each, arg);
    PQclear(r);
    return STORE_OK;
}

/* The statements that read one kind of source: answers, then responses. Day cells come from the
 * agent-keyed tables when an agent is in play (filtered: its own range; grouped: every agent's). */
static void statements_for(const struct store_metrics_query *q, enum store_scan_source source, const char *sql[2])
{
    switch (source) {
    case STORE_SCAN_DAYS:
        if (q->topic || q->by_topic) {
            sql[0] = q->by_topic ? scan_topic_answers_all_sql : scan_topic_answers_sql;
            sql[1] = q->by_topic ? scan_topic_responses_all_sql : scan_topic_responses_sql;
            break;
        }
        sql[0] = q->agent ? scan_answers_agent_sql : q->by_agent ? scan_answers_all_agents_sql : scan_answers_sql;
        sql[1] = q->agent      ? scan_responses_agent_sql
                 : q->by_agent ? scan_responses_all_agents_sql
                               : scan_responses_sql;
        break;
    case STORE_SCAN_MONTHS:
        if (q->topic || q->by_topic) {
            sql[0] = q->by_topic ? scan_topic_answers_month_all_sql : scan_topic_answers_month_sql;
            sql[1] = q->by_topic ? scan_topic_responses_month_all_sql : scan_topic_responses_month_sql;
            break;
        }
        sql[0] = scan_answers_month_sql;
        sql[1] = scan_responses_month_sql;
        break;
    case STORE_SCAN_HOURS:
        sql[0] = scan_answers_hour_sql;
        sql[1] = scan_responses_hour_sql;
        break;
    case STORE_SCAN_RAW:
        sql[0] = q->by_topic ? scan_raw_answers_by_topic_sql
                 : q->topic  ? scan_raw_answers_topic_sql
                             : scan_raw_answers_sql;
        sql[1] = q->by_topic ? scan_raw_responses_by_topic_sql
                 : q->topic  ? scan_raw_responses_topic_sql
                             : scan_raw_responses_sql;
        break;
    }
}

/* The cells come from several tables: one snapshot, so that a batch another instance commits
 * meanwhile counts in all of them or in none (its raw rows and rollups commit together). */
enum store_status pg_metrics_begin(struct store_conn *store_conn, bool *began)
{
    return read_begin(pg_conn_of(store_conn), began);
}

enum store_status pg_metrics_end(struct store_conn *store_conn, bool began, enum store_status status)
{
    return read_end(pg_conn_of(store_conn), began, status);
}

/* One kind of source over one range (store.c plans which: store_metrics_scan). */
enum store_status pg_metrics_range(struct store_conn *store_conn, const struct store_metrics_query *q,
                                   enum store_scan_source source, int64_t lo, int64_t hi, store_metrics_fn each,
                                   void *arg)
{
    struct pg_conn *conn = pg_conn_of(store_conn);
    const char *sql[2] = {scan_raw_answers_sql, scan_raw_responses_sql};
    statements_for(q, source, sql);
    enum store_status status = scan(conn, sql[0], q, lo, hi, each, arg);
    return status == STORE_OK ? scan(conn, sql[1], q, lo, hi, each, arg) : status;
}

static const char day_span_sql[] =
    "SELECT min(day), max(day) FROM rollup_responses WHERE survey = $1::text AND count > 0";

enum store_status pg_day_span(struct store_conn *store_conn, const char *survey, int64_t *first_day,
                              int64_t *last_day)
{
    struct pg_conn *conn = pg_conn_of(store_conn);
    const char *values[1] = {survey};
    enum store_status status;
    PGresult *r = pg_query(conn, day_span_sql, 1, values, &status);

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
