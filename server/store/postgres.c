/* The PostgreSQL backend: connections, the statement helpers of postgres_internal.h, opening and
 * closing the store, and the backend table.
 *
 * One write connection (the writer thread's) and one read connection per reading thread, found
 * through a pthread key, as in sqlite.c. Every connection reconnects by itself on its next use
 * after the server went away, except in the middle of a transaction: that transaction died with
 * the connection, and the caller learns it from STORE_UNAVAILABLE until it rolls back. Statements
 * are prepared once per connection, named by their index in the connection's list. */
#include "postgres_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "oom.h"
#include "postgres_ops.h"

/* ---- connecting ---- */

/* libpq prints the server's notices ("there is no transaction in progress") on stderr unless told
 * otherwise; none of them is worth a log line. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Copies a libpq message without its trailing newline. */
static void set_error(char *err, size_t err_size, const char *prefix, const char *message)
{
    size_t len = message ? strlen(message) : 0;
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    snprintf(err, err_size, "%s%.*s", prefix, (int)len, message ? message : "");
}

static bool session_set(PGconn *db, const char *sql, char *err, size_t err_size)
{
    PGresult *result = PQexec(db, sql);
    bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    if (!ok)
        set_error(err, err_size, "cannot configure the PostgreSQL session: ",
                  result ? PQresultErrorMessage(result) : PQerrorMessage(db));
    PQclear(result);
    return ok;
}

PGconn *pg_connect(struct pg_store *store, char *err, size_t err_size)
{
    /* Entries before dbname are defaults the URI may override; those after it override the URI:
     * JSON text must travel as UTF-8 whatever the server's default. A server that does not answer
     * must not hold a request thread for libpq's default of forever. */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", "client_encoding",
                                       NULL};
    const char *values[] = {"5", "surveyd", store->uri, "UTF8", NULL};
    PGconn *db = PQconnectdbParams(keys, values, 1);

    if (db == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    /* The message names the host or socket, never the password (the URI itself is never logged). */
    if (PQstatus(db) != CONNECTION_OK) {
        set_error(err, err_size, "cannot connect to PostgreSQL: ", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeProcessor(db, ignore_notice, NULL);
    if (store->read_only && !session_set(db, "SET default_transaction_read_only = on", err, err_size)) {
        PQfinish(db);
        return NULL;
    }
    return db;
}

/* Forgets the connection and what was prepared on it. */
static void drop_db(struct pg_conn *conn)
{
    PQfinish(conn->db);
    conn->db = NULL;
    conn->prepared_count = 0;
}

/* What every new connection of this kind needs. The writer commits with synchronous_commit on
 * whatever the server's or role's default: a 201 means the response is on disk (and on a
 * synchronous standby, where the operator configured one). */
static bool conn_setup(struct pg_conn *conn)
{
    if (conn != conn->store->writer || conn->store->read_only)
        return true;
    return session_set(conn->db, "SET synchronous_commit = on", conn->error, sizeof conn->error);
}

PGconn *pg_db(struct pg_conn *conn)
{
    if (conn->suspect && !conn->in_transaction) {
        drop_db(conn);
        conn->suspect = false;
    }
    if (conn->db != NULL && PQstatus(conn->db) == CONNECTION_OK)
        return conn->db;
    if (conn->in_transaction) {
        snprintf(conn->error, sizeof conn->error, "the connection to PostgreSQL was lost, and the transaction with it");
        return NULL;
    }
    bool was_connected = conn->db != NULL;
    drop_db(conn);
    conn->db = pg_connect(conn->store, conn->error, sizeof conn->error);
    if (conn->db != NULL && !conn_setup(conn))
        drop_db(conn);
    if (conn->db != NULL && was_connected)
        log_info("store: reconnected to PostgreSQL");
    return conn->db;
}

/* ---- results and statements ---- */

static bool sqlstate_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

enum store_status pg_status_of(struct pg_conn *conn, const PGresult *result)
{
    ExecStatusType rc = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (rc == PGRES_COMMAND_OK || rc == PGRES_TUPLES_OK || rc == PGRES_PIPELINE_SYNC)
        return STORE_OK;

    const char *message = result ? PQresultErrorMessage(result) : "";
    if (message[0] == '\0' && conn->db != NULL)
        message = PQerrorMessage(conn->db);
    set_error(conn->error, sizeof conn->error, "", message[0] ? message : "connection lost or out of memory");

    const char *state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    /* No SQLSTATE: libpq's own failure (a broken connection, no memory), never the server's verdict. */
    if (state == NULL || conn->db == NULL || PQstatus(conn->db) != CONNECTION_OK) {
        /* Not the server's verdict: libpq's own failure, after which its state is not to be trusted. */
        if (rc != PGRES_PIPELINE_ABORTED && conn->db != NULL)
            conn->suspect = true;
        return rc == PGRES_PIPELINE_ABORTED ? STORE_ERROR : STORE_UNAVAILABLE;
    }
    if (strcmp(state, "23505") == 0)
        return STORE_CONFLICT;
    if (strcmp(state, "23503") == 0)
        return STORE_NOT_FOUND;
    /* Another instance's transaction in the way: the writer runs the job again (its savepoint went
     * back, its rollup changes with it, so nothing counts twice). */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return STORE_RETRY;
    /* 25006: a write reached a server that became a read-only standby (a failover under way). */
    if (sqlstate_is(state, "53") ||
        sqlstate_is(state, "57P0") || sqlstate_is(state, "08") || strcmp(state, "25006") == 0)
        return STORE_UNAVAILABLE;
    return STORE_ERROR;
}

/* The name of sql's prepared statement on conn, preparing it first if needed. False with *result
 * (the failure, or NULL when out of memory) otherwise. */
static bool prepared_name(struct pg_conn *conn, PGconn *db, const char *sql, char name[16], PGresult **result)
{
    int i;
    for (i = 0; i < conn->prepared_count; i++) {
        if (conn->prepared[i] == sql)
            break;
    }
    if (i < conn->prepared_count) {
        snprintf(name, 16, "s%d", conn->prepared_ids[i]);
        return true;
    }
    if (conn->prepared_count == conn->prepared_cap) {
        int cap = conn->prepared_cap ? conn->prepared_cap * 2 : 64;
        const char **grown = realloc(conn->prepared, (size_t)cap * sizeof *grown);
        if (grown != NULL)
            conn->prepared = grown;
        int *grown_ids = grown ? realloc(conn->prepared_ids, (size_t)cap * sizeof *grown_ids) : NULL;
        if (grown_ids == NULL) {
            *result = NULL;
            return false;
        }
        conn->prepared_ids = grown_ids;
        conn->prepared_cap = cap;
    }
    int id = conn->prepare_attempts++;
    snprintf(name, 16, "s%d", id);
    /* No parameter types given: the server infers them from the columns they meet. */
    PGresult *prepared = PQprepare(db, name, sql, 0, NULL);
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
        *result = prepared;
        return false;
    }
    PQclear(prepared);
    conn->prepared_ids[conn->prepared_count] = id;
    conn->prepared[conn->prepared_count++] = sql;
    return true;
}

bool pg_prepare(struct pg_conn *conn, const char *sql, char name[16], enum store_status *status)
{
    PGconn *db = pg_db(conn);
    PGresult *result = NULL;

    *status = STORE_UNAVAILABLE;
    if (db == NULL)
        return false;
    if (prepared_name(conn, db, sql, name, &result)) {
        *status = STORE_OK;
        return true;
    }
    *status = pg_status_of(conn, result);
    PQclear(result);
    return false;
}

/* pg_query_binary, and pg_query_planned when prepare is false. */
static PGresult *query(struct pg_conn *conn, const char *sql, int n, const char *const *values, const int *lengths,
                       const int *formats, bool prepare, enum store_status *status)
{
    for (int attempt = 0;; attempt++) {
        PGconn *db = pg_db(conn);
        PGresult *result = NULL;
        char name[16];

        if (db == NULL) {
            *status = STORE_UNAVAILABLE;
            return NULL;
        }
        if (!prepare)
            result = PQexecParams(db, sql, n, NULL, values, lengths, formats, 0);
        else if (prepared_name(conn, db, sql, name, &result))
            result = PQexecPrepared(db, name, n, values, lengths, formats, 0);
        ExecStatusType rc = PQresultStatus(result);
        if (result != NULL && (rc == PGRES_TUPLES_OK || rc == PGRES_COMMAND_OK)) {
            *status = STORE_OK;
            return result;
        }
        *status = pg_status_of(conn, result);
        PQclear(result);
        /* A connection that broke while idle (the server restarted since the last statement) costs
         * no request: outside a transaction nothing was lost, so connect again and retry once. */
        if (attempt == 0 && !conn->in_transaction && PQstatus(db) != CONNECTION_OK)
            continue;
        if (*status == STORE_ERROR || *status == STORE_UNAVAILABLE)
            log_error("store: %s", conn->error);
        return NULL;
    }
}

PGresult *pg_query_binary(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                          const int *lengths, const int *formats, enum store_status *status)
{
    return query(conn, sql, n, values, lengths, formats, true, status);
}

PGresult *pg_query(struct pg_conn *conn, const char *sql, int n, const char *const *values, enum store_status *status)
{
    return query(conn, sql, n, values, NULL, NULL, true, status);
}

PGresult *pg_query_planned(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                           enum store_status *status)
{
    return query(conn, sql, n, values, NULL, NULL, false, status);
}

enum store_status pg_exec(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                          int64_t *affected)
{
    enum store_status status;
    PGresult *result = pg_query(conn, sql, n, values, &status);
    if (result == NULL)
        return status;
    if (affected)
        *affected = strtoll(PQcmdTuples(result), NULL, 10);
    PQclear(result);
    return STORE_OK;
}

char *pg_text(const PGresult *result, int row, int column)
{
    if (PQgetisnull(result, row, column))
        return NULL;
    char *copy = strdup(PQgetvalue(result, row, column));
    if (copy == NULL)
        oom_note(); /* the request fails rather than answer as if the column were empty (oom.h) */
    return copy;
}

char *pg_text_whole(const PGresult *result, int row, int column, bool *whole)
{
    if (PQgetisnull(result, row, column))
        return NULL;
    char *copy = pg_text(result, row, column);
    if (copy == NULL)
        *whole = false;
    return copy;
}

void pg_copy_text(const PGresult *result, int row, int column, char *out, size_t size)
{
    snprintf(out, size, "%s", PQgetisnull(result, row, column) ? "" : PQgetvalue(result, row, column));
}

int64_t pg_int(const PGresult *result, int row, int column)
{
    return PQgetisnull(result, row, column) ? 0 : strtoll(PQgetvalue(result, row, column), NULL, 10);
}

const char *pg_int_text(char *buf, int64_t n)
{
    snprintf(buf, 24, "%" PRId64, n);
    return buf;
}

/* ---- the store and its connections ---- */

static struct pg_conn *conn_new(struct pg_store *store, bool writer)
{
    struct pg_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return NULL;
    conn->base.backend = &store_backend_postgres;
    conn->store = store;
    if (writer && !store_backend_conn_init_writer(&conn->base, &store_backend_postgres)) {
        store_backend_conn_free_deltas(&conn->base);
        free(conn);
        return NULL;
    }
    return conn;
}

static void conn_free(struct pg_conn *conn)
{
    if (conn == NULL)
        return;
    drop_db(conn);
    store_backend_conn_free_deltas(&conn->base);
    pg_touched_clear(conn);
    pg_text_pending_free(conn);
    free(conn->touched);
    free(conn->prepared);
    free(conn->prepared_ids);
    pg_topic_cache_free(conn->topic_cache);
    free(conn);
}

static void reader_release(void *arg)
{
    (void)arg; /* readers are closed by pg_close; a thread's exit only forgets its pointer */
}

static void pg_close(struct store *base)
{
    struct pg_store *store = (struct pg_store *)base;
    if (store == NULL)
        return;
    pthread_mutex_lock(&store->readers_lock);
    while (store->readers) {
        struct pg_conn *next = store->readers->next;
        conn_free(store->readers);
        store->readers = next;
    }
    pthread_mutex_unlock(&store->readers_lock);
    conn_free(store->writer);
    pthread_key_delete(store->reader_key);
    pthread_mutex_destroy(&store->readers_lock);
    free(store->uri);
    free(store);
}

static struct store *pg_open(const char *location, const struct store_options *options, bool read_only, char *err,
                             size_t err_size)
{
    /* durability: PostgreSQL commits are always synchronous (see conn_setup). */
    struct pg_store *store = calloc(1, sizeof *store);

    if (store == NULL || (store->uri = strdup(location)) == NULL) {
        free(store);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    store->base.backend = &store_backend_postgres;
    store->read_only = read_only;
    store->text_language = options->text_language;
    pthread_mutex_init(&store->readers_lock, NULL);
    pthread_key_create(&store->reader_key, reader_release);

    if ((store->writer = conn_new(store, !read_only)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    /* Connected before migrating, so that the writer's session settings apply from the start. */
    PGconn *db = pg_db(store->writer);
    if (db == NULL) {
        snprintf(err, err_size, "%s", store->writer->error);
        goto fail;
    }
    if (!(read_only ? pg_schema_check(db, err, err_size) : pg_schema_migrate(db, err, err_size)))
        goto fail;
    /* The text index is built in C (the documents need the surveys' definitions parsed): at the
     * first open at schema 7, and again for another --text-language. */
    if (!read_only && !pg_text_sync(db, options->text_language, err, err_size))
        goto fail;
    return &store->base;
fail:
    pg_close(&store->base);
    return NULL;
}

static struct pg_conn *reader_of(struct pg_store *store)
{
    struct pg_conn *conn = pthread_getspecific(store->reader_key);
    if (conn != NULL)
        return conn;
    /* Not connected yet: the first statement connects, and a server that is down then is only
     * a STORE_UNAVAILABLE, like one that goes down later. */
    if ((conn = conn_new(store, false)) == NULL) {
        log_error("store: cannot open a read connection: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&store->readers_lock);
    conn->next = store->readers;
    store->readers = conn;
    pthread_mutex_unlock(&store->readers_lock);
    pthread_setspecific(store->reader_key, conn);
    return conn;
}

static struct store_conn *pg_reader(struct store *base)
{
    struct pg_conn *conn = reader_of((struct pg_store *)base);
    return conn ? &conn->base : NULL;
}

static struct store_conn *pg_writer(struct store *base)
{
    return &((struct pg_store *)base)->writer->base;
}

static const char *pg_last_error(struct store_conn *conn)
{
    return pg_conn_of(conn)->error;
}

/* ---- health, versions, backups ---- */

/* A survey's version counts its own writes and those that may touch every survey (the '' row). */
static enum store_status pg_data_version(struct store_conn *conn, const char *survey, int64_t *version)
{
    enum store_status status;
    const char *values[] = {survey};
    PGresult *result = survey ? pg_query(pg_conn_of(conn),
                                         "SELECT coalesce(sum(version), 0) FROM data_versions"
                                         " WHERE survey = $1 OR survey = ''",
                                         1, values, &status)
                              : pg_query(pg_conn_of(conn), "SELECT coalesce(sum(version), 0) FROM data_versions", 0,
                                         NULL, &status);

    *version = 0;
    if (result == NULL)
        return status;
    if (PQntuples(result) == 1)
        *version = pg_int(result, 0, 0);
    else
        status = STORE_ERROR;
    PQclear(result);
    return status;
}

static uint64_t pg_size_bytes(struct store *base)
{
    struct pg_conn *conn = reader_of((struct pg_store *)base);
    enum store_status status;
    PGresult *result = conn ? pg_query(conn, "SELECT pg_database_size(current_database())", 0, NULL, &status) : NULL;
    uint64_t size = result && PQntuples(result) == 1 ? (uint64_t)pg_int(result, 0, 0) : 0;
    PQclear(result);
    return size;
}

/* One upsert of the health row, committed on its own (or with the writer's transaction when one
 * is open): proves the server takes writes again. */
static enum store_status pg_probe_write(struct store_conn *conn, int64_t now_ms)
{
    char now[24];
    const char *values[] = {pg_int_text(now, now_ms)};
    pg_end_stray_transaction(pg_conn_of(conn)); /* the batch that failed may have left one */
    return pg_exec(pg_conn_of(conn),
                   "INSERT INTO health (id, checked_at) VALUES (1, $1)"
                   " ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at",
                   1, values, NULL);
}

static bool pg_ping(struct store_conn *conn)
{
    enum store_status status;
    PGresult *result = conn ? pg_query(pg_conn_of(conn), "SELECT 1", 0, NULL, &status) : NULL;
    PQclear(result);
    return result != NULL;
}

static enum store_status pg_backup(struct store *base, const char *dest, char *err, size_t err_size)
{
    (void)base;
    (void)dest;
    snprintf(err, err_size, "a PostgreSQL store is backed up with pg_dump (or the operator's base backups)");
    return STORE_ERROR;
}

static void pg_between_batches(struct store_conn *conn)
{
    (void)conn; /* nothing to do: PostgreSQL checkpoints by itself */
}

const struct store_backend store_backend_postgres = {
    .name = "postgresql",
    .shared = true, /* several instances may write one database */
    .open = pg_open,
    .close = pg_close,
    .reader = pg_reader,
    .writer = pg_writer,
    .last_error = pg_last_error,

    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .between_batches = pg_between_batches,

    .get_survey = pg_get_survey,
    .survey_unchanged = pg_survey_unchanged,
    .list_surveys = pg_list_surveys,
    .put_survey = pg_put_survey,
    .delete_survey = pg_delete_survey,
    .answer_count = pg_answer_count,

    .get_response = pg_get_response,
    .insert_response = pg_insert_response,
    .index_text = pg_index_text,

    .text_search = true,
    .list_responses = pg_list_responses,
    .iter_open = pg_iter_open,
    .iter_next = pg_iter_next,
    .iter_pause = pg_iter_pause,
    .iter_close = pg_iter_close,

    .update_answers = pg_update_answers,
    .delete_response = pg_delete_response,
    .erase_customer = pg_erase_customer,
    .delete_before = pg_delete_before,
    .purge = pg_purge,
    .customer_traces = pg_customer_traces,

    .get_idempotency = pg_get_idempotency,
    .save_idempotency = pg_save_idempotency,
    .get_edit_token = pg_get_edit_token,

    .metrics_begin = pg_metrics_begin,
    .metrics_end = pg_metrics_end,
    .metrics_range = pg_metrics_range,
    .day_span = pg_day_span,
    .data_version = pg_data_version,
    .insert_invitation = pg_insert_invitation,
    .get_invitation = pg_get_invitation,
    .find_invitation_by_token = pg_find_invitation_by_token,
    .update_invitation = pg_update_invitation,
    .last_contact = pg_last_contact,
    .invitation_range = pg_invitation_range,
    .put_webhook = pg_put_webhook,
    .get_webhook = pg_get_webhook,
    .list_webhooks = pg_list_webhooks,
    .delete_webhook = pg_delete_webhook,
    .disable_webhook = pg_disable_webhook,
    .insert_delivery = pg_insert_delivery,
    .claim_deliveries = pg_claim_deliveries,
    .finish_delivery = pg_finish_delivery,
    .requeue_sending = pg_requeue_sending,
    .get_delivery = pg_get_delivery,
    .list_deliveries = pg_list_deliveries,
    .retry_delivery = pg_retry_delivery,
    .replay_deliveries = pg_replay_deliveries,
    .delivery_backlog = pg_delivery_backlog,
    .prune_deliveries = pg_prune_deliveries,
    .webhooks_exist = pg_webhooks_exist,
    .append_event = pg_append_event,
    .list_events = pg_list_events,
    .count_events = pg_count_events,
    .lock_webhook_cursor = pg_lock_webhook_cursor,
    .set_webhook_cursor = pg_set_webhook_cursor,
    .trim_webhook_backlog = pg_trim_webhook_backlog,
    .prune_events = pg_prune_events,
    .import_event = pg_import_event,
    .event_seq_past = pg_event_seq_past,

    .topic_rollups = true,
    .put_topic = pg_put_topic,
    .get_topic = pg_get_topic,
    .list_topics = pg_list_topics,
    .delete_topic = pg_delete_topic,
    .count_topics = pg_count_topics,
    .topic_backfill = pg_topic_backfill,
    .verify = pg_verify,
    .each_answers = pg_each_answers,
    .backup = pg_backup,
    .import_response = pg_import_response,
    .import_end = pg_import_end,

    .size_bytes = pg_size_bytes,
    .probe_write = pg_probe_write,
    .ping = pg_ping,
};
