/* The PostgreSQL backend's transactions: the writer's batch (BEGIN ... COMMIT), a savepoint per
 * job, and the rollup flush at commit.
 *
 * After an error inside a job, PostgreSQL refuses every statement until ROLLBACK TO SAVEPOINT:
 * store.c and the writer roll a job back whenever it returns a status other than STORE_OK, so the
 * functions here only report the status. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "postgres_ops.h"

/* Pipelined statements between two syncs. The server answers each upsert with a few dozen bytes,
 * so 512 of them never fill a socket buffer while libpq is still sending (which would deadlock a
 * blocking connection); the usual batch has fewer cells and takes one sync. */
#define PIPELINE_CHUNK 512

/* One upsert per rollup table: count = the stored count + the batch's delta. Cells that reach
 * 0 are kept, as SQLite keeps them: metrics add counts, and a 0 adds nothing. */
#define UPSERT_ANSWERS(table, time)                                                                          \
    "INSERT INTO " table " (survey, " time ", channel, question, is_text, value, value_text, count)"           \
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"                                                               \
    " ON CONFLICT (survey, " time ", channel, question, is_text, value, value_text)"                          \
    " DO UPDATE SET count = " table ".count + EXCLUDED.count"
#define UPSERT_RESPONSES(table, time)                                                                        \
    "INSERT INTO " table " (survey, " time ", channel, count) VALUES ($1, $2, $3, $4)"                          \
    " ON CONFLICT (survey, " time ", channel) DO UPDATE SET count = " table ".count + EXCLUDED.count"

static const char *const upserts[] = {
    [ROLLUP_ANSWERS] = UPSERT_ANSWERS("rollup_answers", "day"),
    [ROLLUP_ANSWERS_AGENT] =
        "INSERT INTO rollup_answers_agent (survey, day, channel, question, is_text, value, value_text, count, agent)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (survey, agent, day, channel, question, is_text, value, value_text)"
        " DO UPDATE SET count = rollup_answers_agent.count + EXCLUDED.count",
    [ROLLUP_RESPONSES] = UPSERT_RESPONSES("rollup_responses", "day"),
    [ROLLUP_RESPONSES_AGENT] =
        "INSERT INTO rollup_responses_agent (survey, day, channel, count, agent) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (survey, agent, day, channel) DO UPDATE SET count = rollup_responses_agent.count + EXCLUDED.count",
    [ROLLUP_ANSWERED] = "INSERT INTO answered_questions (survey, question, answers) VALUES ($1, $2, $3)"
                        " ON CONFLICT (survey, question) DO UPDATE SET answers = answered_questions.answers + EXCLUDED.answers",
    [ROLLUP_ANSWERS_MONTH] = UPSERT_ANSWERS("rollup_answers_month", "month"),
    [ROLLUP_RESPONSES_MONTH] = UPSERT_RESPONSES("rollup_responses_month", "month"),
    [ROLLUP_ANSWERS_HOUR] = UPSERT_ANSWERS("rollup_answers_hour", "hour"),
    [ROLLUP_RESPONSES_HOUR] = UPSERT_RESPONSES("rollup_responses_hour", "hour"),
};

/* Every write transaction moves the versions of the surveys it touched, which other instances
 * compare their caches with. */
static const char bump_version[] = "INSERT INTO data_versions (survey, version) VALUES ($1, 1)"
                                   " ON CONFLICT (survey) DO UPDATE SET version = data_versions.version + 1";
static const char release_job[] = "RELEASE SAVEPOINT job";

/* ---- BEGIN, savepoints, ROLLBACK ---- */

/* A transaction the server still holds open although this side took it for over: a COMMIT or
 * ROLLBACK that never left the client (out of memory in libpq), or a failure between BEGIN and
 * the flag. Every later statement would fail with "current transaction is aborted". */
void pg_end_stray_transaction(struct pg_conn *conn)
{
    if (conn->db == NULL || PQstatus(conn->db) != CONNECTION_OK)
        return;
    if (conn->suspect) { /* its transaction goes with it: the server rolls it back */
        PQfinish(conn->db);
        conn->db = NULL;
        conn->prepared_count = 0;
        conn->in_transaction = false;
        return;
    }
    /* Left in pipeline mode with results unread (out of memory while reading them): no ordinary
     * statement can run on it again, so it is given up, and its transaction with it. */
    if (PQpipelineStatus(conn->db) != PQ_PIPELINE_OFF && !PQexitPipelineMode(conn->db)) {
        PQfinish(conn->db);
        conn->db = NULL;
        conn->prepared_count = 0;
        conn->in_transaction = false;
        return;
    }
    PGTransactionStatusType state = PQtransactionStatus(conn->db);
    if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
        PGresult *result = PQexec(conn->db, "ROLLBACK");
        PQclear(result);
    }
}

/* BEGIN and the transaction's id in one round trip: should the connection break during COMMIT,
 * the id tells afterwards whether the commit happened (txid_status), so that a reply never says
 * "nothing was stored" of a batch that was. An idle connection the server dropped meanwhile (a
 * restart) is noticed here: connect again and try once more, nothing is lost yet. */
enum store_status pg_begin(struct store_conn *base)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status = STORE_UNAVAILABLE;

    pg_end_stray_transaction(conn);
    conn->in_transaction = false;
    conn->xid = 0;
    pg_touched_clear(conn);
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *db = pg_db(conn);
        if (db == NULL)
            return STORE_UNAVAILABLE;
        PGresult *result = PQexec(db, "BEGIN; SELECT txid_current()");
        status = pg_status_of(conn, result);
        if (status == STORE_OK && PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1) {
            conn->xid = pg_int(result, 0, 0);
            conn->in_transaction = true;
        } else if (status == STORE_OK) {
            status = STORE_ERROR;
        }
        PQclear(result);
        if (status == STORE_OK || PQstatus(db) == CONNECTION_OK)
            break;
    }
    return status;
}

void pg_rollback(struct store_conn *base)
{
    struct pg_conn *conn = pg_conn_of(base);
    pg_touched_clear(conn);
    pg_end_stray_transaction(conn);
    if (conn->in_transaction && conn->db != NULL && PQstatus(conn->db) == CONNECTION_OK)
        pg_exec(conn, "ROLLBACK", 0, NULL, NULL);
    /* From here on a lost connection may be replaced: the caller knows its transaction is gone. */
    conn->in_transaction = false;
}

/* One round trip each. Sending SAVEPOINT and RELEASE in a pipeline with the job's first statement
 * was faster (262 → 367 req/s in one A/B), but a pipeline whose results could not all be read (out
 * of memory in libpq) left the next read waiting forever: test_oom hung the writer. */
enum store_status pg_savepoint(struct store_conn *base)
{
    return pg_exec(pg_conn_of(base), "SAVEPOINT job", 0, NULL, NULL);
}

void pg_release(struct store_conn *base)
{
    pg_exec(pg_conn_of(base), release_job, 0, NULL, NULL);
}

void pg_rollback_to(struct store_conn *base)
{
    struct pg_conn *conn = pg_conn_of(base);
    if (!conn->in_transaction)
        return;
    /* Released as well, as sqlite.c does, so that savepoints never pile up in a long batch. */
    if (pg_exec(conn, "ROLLBACK TO SAVEPOINT job", 0, NULL, NULL) == STORE_OK)
        pg_exec(conn, "RELEASE SAVEPOINT job", 0, NULL, NULL);
}

/* ---- the rollup flush, pipelined ---- */

struct pipeline {
    struct pg_conn *conn;
    PGconn *db;
    int sent;                   /* statements since the last sync */
    enum store_status status;   /* the first failure's */
};

/* How long a pipeline's next result may take before the connection is given up. Far beyond any
 * flush's time; what it guards against is a wait that would never end: after libpq ran out of
 * memory reading a result, it may wait for one that already came. */
#define PIPELINE_WAIT_MS 10000

/* The next result, or NULL with *stuck set when none arrived within PIPELINE_WAIT_MS. */
static PGresult *next_result_within(PGconn *db, bool *stuck)
{
    while (PQisBusy(db)) {
        struct pollfd ready = {.fd = PQsocket(db), .events = POLLIN};
        if (ready.fd < 0 || poll(&ready, 1, PIPELINE_WAIT_MS) <= 0 || !PQconsumeInput(db)) {
            *stuck = true;
            return NULL;
        }
    }
    return PQgetResult(db);
}

/* Reads the results of everything sent since the last sync, up to the sync's own. A statement's
 * results end with a NULL; two NULLs in a row mean nothing more will come (a broken connection). */
static void pipeline_sync(struct pipeline *p)
{
    bool stuck = false;
    int nulls = 0;

    if (!PQpipelineSync(p->db)) {
        if (p->status == STORE_OK)
            p->status = pg_status_of(p->conn, NULL);
        return;
    }
    while (nulls < 2) {
        PGresult *result = next_result_within(p->db, &stuck);
        if (stuck) {
            p->conn->suspect = true;
            snprintf(p->conn->error, sizeof p->conn->error, "PostgreSQL's answers to a pipeline stopped coming");
            p->status = STORE_UNAVAILABLE;
            return;
        }
        if (result == NULL) {
            nulls++;
            continue;
        }
        nulls = 0;
        ExecStatusType rc = PQresultStatus(result);
        if (rc == PGRES_PIPELINE_SYNC) {
            PQclear(result);
            p->sent = 0;
            return;
        }
        if (rc != PGRES_COMMAND_OK && p->status == STORE_OK)
            p->status = pg_status_of(p->conn, result);
        PQclear(result);
    }
    if (p->status == STORE_OK)
        p->status = pg_status_of(p->conn, NULL);
}

static void pipeline_send(struct pipeline *p, const char *sql, int n, const char *const *values)
{
    char name[16];
    enum store_status status;

    if (!pg_prepare(p->conn, sql, name, &status)) {
        p->status = status;
        return;
    }
    if (!PQsendQueryPrepared(p->db, name, n, values, NULL, NULL, 0)) {
        p->status = pg_status_of(p->conn, NULL);
        return;
    }
    if (++p->sent == PIPELINE_CHUNK)
        pipeline_sync(p);
}

/* The cell's parameters in its statement's order (see upserts). */
static int cell_values(const struct rollup_cell *c, const char *values[9], char day[24], char value[24],
                       char delta[24])
{
    pg_int_text(day, c->day);
    pg_int_text(value, c->value_is_text ? 0 : c->value);
    pg_int_text(delta, c->delta);
    switch (c->table) {
    case ROLLUP_ANSWERED:
        values[0] = c->survey, values[1] = c->question, values[2] = delta;
        return 3;
    case ROLLUP_RESPONSES:
    case ROLLUP_RESPONSES_MONTH:
    case ROLLUP_RESPONSES_HOUR:
    case ROLLUP_RESPONSES_AGENT:
        values[0] = c->survey, values[1] = day, values[2] = c->channel, values[3] = delta, values[4] = c->agent;
        return c->table == ROLLUP_RESPONSES_AGENT ? 5 : 4;
    default:
        values[0] = c->survey, values[1] = day, values[2] = c->channel, values[3] = c->question;
        values[4] = c->value_is_text ? "t" : "f", values[5] = value;
        values[6] = c->value_is_text ? c->value_text : "", values[7] = delta, values[8] = c->agent;
        return c->table == ROLLUP_ANSWERS_AGENT ? 9 : 8;
    }
}

static void send_cell(struct pipeline *p, const struct rollup_cell *cell)
{
    const char *values[9];
    char day[24], value[24], delta[24];
    int n = cell_values(cell, values, day, value, delta);

    pipeline_send(p, upserts[cell->table], n, values);
}

/* ---- the cells in one order for every instance ---- */

struct cell_list {
    const struct rollup_cell **cells;
    size_t count, cap;
};

static bool collect_cell(const struct rollup_cell *cell, void *arg)
{
    struct cell_list *list = arg;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        const struct rollup_cell **grown = realloc(list->cells, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        list->cells = grown;
        list->cap = cap;
    }
    list->cells[list->count++] = cell;
    return true;
}

static int compare_int(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

/* Any total order over the cells' keys will do, as long as every instance uses the same one: the
 * table, then the primary key's columns, strings bytewise. */
static int compare_cells(const void *pa, const void *pb)
{
    const struct rollup_cell *a = *(const struct rollup_cell *const *)pa, *b = *(const struct rollup_cell *const *)pb;
    int c;
    if ((c = compare_int(a->table, b->table)) || (c = strcmp(a->survey, b->survey)) ||
        (c = strcmp(a->agent, b->agent)) || (c = compare_int(a->day, b->day)) ||
        (c = strcmp(a->channel, b->channel)) || (c = strcmp(a->question, b->question)) ||
        (c = compare_int(a->value_is_text, b->value_is_text)))
        return c;
    return a->value_is_text ? strcmp(a->value_text, b->value_text) : compare_int(a->value, b->value);
}

/* The batch's cells sorted (rollup_deltas_each gives them in the order they were first touched,
 * which differs between instances): two instances upserting the same cells then lock them in the
 * same order, and wait for each other instead of deadlocking. */
static bool sorted_cells(const struct rollup_deltas *deltas, struct cell_list *list)
{
    *list = (struct cell_list){0};
    if (deltas != NULL && !rollup_deltas_each(deltas, collect_cell, list)) {
        free(list->cells);
        return false;
    }
    if (list->count > 1)
        qsort(list->cells, list->count, sizeof *list->cells, compare_cells);
    return true;
}

/* Prepares every statement the flush sends: PQprepare cannot run in pipeline mode. */
static enum store_status prepare_flush(struct pg_conn *conn)
{
    char name[16];
    enum store_status status = STORE_OK;
    for (size_t i = 0; i < sizeof upserts / sizeof upserts[0] && status == STORE_OK; i++)
        pg_prepare(conn, upserts[i], name, &status);
    if (status == STORE_OK)
        pg_prepare(conn, bump_version, name, &status);
    return status;
}

void pg_touch(struct pg_conn *conn, const char *survey)
{
    if (survey == NULL || conn->touched_all) {
        conn->touched_all = true;
        return;
    }
    for (int i = 0; i < conn->touched_count; i++) {
        if (strcmp(conn->touched[i], survey) == 0)
            return;
    }
    if (conn->touched_count == conn->touched_cap) {
        int cap = conn->touched_cap ? conn->touched_cap * 2 : 8;
        char **grown = realloc(conn->touched, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            conn->touched_all = true; /* bumping every survey's version is always safe */
            return;
        }
        conn->touched = grown;
        conn->touched_cap = cap;
    }
    if ((conn->touched[conn->touched_count] = strdup(survey)) == NULL)
        conn->touched_all = true;
    else
        conn->touched_count++;
}

void pg_touched_clear(struct pg_conn *conn)
{
    for (int i = 0; i < conn->touched_count; i++)
        free(conn->touched[i]);
    conn->touched_count = 0;
    conn->touched_all = false;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The surveys whose versions this commit bumps, sorted (two instances bump shared rows in one
 * order): every survey a cell or pg_touch named, or only '' when every survey may have changed. */
static void bump_versions(struct pipeline *p, struct pg_conn *conn, const struct cell_list *cells)
{
    if (conn->touched_all) {
        const char *values[] = {""};
        pipeline_send(p, bump_version, 1, values);
        return;
    }
    for (size_t i = 0; i < cells->count; i++)
        pg_touch(conn, cells->cells[i]->survey);
    if (conn->touched_all) { /* out of memory while noting them */
        bump_versions(p, conn, cells);
        return;
    }
    if (conn->touched_count > 1) /* qsort wants a non-NULL base even for nothing */
        qsort(conn->touched, (size_t)conn->touched_count, sizeof *conn->touched, compare_strings);
    for (int i = 0; i < conn->touched_count && p->status == STORE_OK; i++) {
        const char *values[] = {conn->touched[i]};
        pipeline_send(p, bump_version, 1, values);
    }
}

/* Every cell in sorted order, then the data version, in one round trip per chunk. */
static enum store_status flush(struct pg_conn *conn, const struct rollup_deltas *deltas)
{
    struct cell_list list;
    enum store_status status = prepare_flush(conn);
    if (status != STORE_OK)
        return status;
    if (!sorted_cells(deltas, &list)) {
        snprintf(conn->error, sizeof conn->error, "out of memory");
        return STORE_ERROR;
    }
    struct pipeline p = {.conn = conn, .db = pg_db(conn), .status = STORE_OK};
    if (p.db == NULL || !PQenterPipelineMode(p.db)) {
        free(list.cells);
        return p.db ? pg_status_of(conn, NULL) : STORE_UNAVAILABLE;
    }
    for (size_t i = 0; i < list.count && p.status == STORE_OK; i++)
        send_cell(&p, list.cells[i]);
    if (p.status == STORE_OK)
        bump_versions(&p, conn, &list);
    free(list.cells);
    if (p.sent > 0 || p.status != STORE_OK)
        pipeline_sync(&p);
    if (!PQexitPipelineMode(p.db) && p.status == STORE_OK)
        p.status = pg_status_of(conn, NULL);
    return p.status;
}

/* The connection broke while COMMIT was under way: whether it committed is the server's to say,
 * once it can be reached again. A server restarting takes a moment; meanwhile the writer waits
 * (every other request is refused anyway while the database is away). */
static enum store_status commit_outcome(struct pg_conn *conn, enum store_status status, bool lost)
{
    char xid[24];
    const char *values[] = {pg_int_text(xid, conn->xid)};

    /* With the connection still there (COMMIT's answer lost to out of memory), one question. */
    for (int attempt = 0; attempt < (lost ? 50 : 1); attempt++) {
        if (pg_db(conn) != NULL) {
            enum store_status asked;
            PGresult *result = pg_query(conn, "SELECT txid_status($1::bigint)", 1, values, &asked);
            if (result != NULL && PQntuples(result) == 1) {
                const char *outcome = PQgetisnull(result, 0, 0) ? "" : PQgetvalue(result, 0, 0);
                bool committed = strcmp(outcome, "committed") == 0;
                bool aborted = strcmp(outcome, "aborted") == 0;
                PQclear(result);
                if (committed)
                    log_warn("store: the connection broke during COMMIT; the transaction had committed");
                return committed ? STORE_OK : aborted ? status : STORE_UNKNOWN;
            }
            PQclear(result);
        }
        if (lost) {
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    return STORE_UNKNOWN;
}

enum store_status pg_commit(struct store_conn *base, const struct rollup_deltas *deltas)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status = flush(conn, deltas);
    pg_touched_clear(conn);
    if (status != STORE_OK)
        return status; /* the writer rolls back */

    PGresult *result = pg_query(conn, "COMMIT", 0, NULL, &status);
    if (result != NULL && strcmp(PQcmdStatus(result), "COMMIT") != 0) {
        /* COMMIT of a transaction that had failed rolls it back and says so only in its tag. */
        snprintf(conn->error, sizeof conn->error, "the transaction had failed and was rolled back");
        status = STORE_ERROR;
    }
    bool lost = conn->db == NULL || PQstatus(conn->db) != CONNECTION_OK;
    bool answered = result != NULL || (!lost && conn->error[0] != '\0' && strstr(conn->error, "ERROR") != NULL);
    PQclear(result);
    /* Answered or not, the transaction is over: committed, refused (rolled back), or lost with the
     * connection, when the server is asked how it ended. */
    conn->in_transaction = false;
    if (status != STORE_OK && !answered && conn->xid != 0)
        status = commit_outcome(conn, status, lost);
    conn->xid = 0;
    return status;
}
