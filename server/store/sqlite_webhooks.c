/* The SQLite backend: webhook subscriptions, their outbox of deliveries and the event log they are
 * made from (store.h, "webhooks" and "the event log"; schema/010_webhooks.sql,
 * schema/011_webhook_events.sql). The statements are in sqlite.c's table.
 *
 * SQLite has one writer, the writer thread's connection, and one process owns the file: a claim
 * needs no row locks, its reads and its update are one statement of the only writer, and the log's
 * seq order is commit order (one writer commits in order), so a cursor never passes an event still
 * to commit. Erasure of deliveries and events is in sqlite_changes.c; a subscription's deliveries
 * go with it by the foreign key. */
#include "sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "oom.h"

/* Columns as SQLITE_WEBHOOK_COLUMNS lists them. A text that could not be read (out of memory) makes
 * the whole row fail rather than come back with a hole. */
enum store_status sqlite_read_webhook(sqlite3_stmt *s, struct store_webhook_row *out)
{
    sqlite_copy_column(s, 0, out->id, sizeof out->id);
    out->url = sqlite_column_text(s, 1);
    out->events = sqlite_column_text(s, 2);
    out->surveys = sqlite_column_text(s, 3);
    out->filter = sqlite_column_text(s, 4);
    out->format = sqlite_column_text(s, 5);
    out->secret = sqlite_column_text(s, 6);
    out->old_secret = sqlite_column_text(s, 7);
    out->old_secret_until = sqlite3_column_int64(s, 8);
    out->disabled_at = sqlite3_column_int64(s, 9);
    out->disabled_reason = sqlite_column_text(s, 10);
    out->created_at = sqlite3_column_int64(s, 11);
    out->updated_at = sqlite3_column_int64(s, 12);
    out->cursor = sqlite3_column_int64(s, 13);
    if (out->url == NULL || out->events == NULL || out->format == NULL || out->secret == NULL ||
        (out->surveys == NULL) != (sqlite3_column_type(s, 3) == SQLITE_NULL) ||
        (out->filter == NULL) != (sqlite3_column_type(s, 4) == SQLITE_NULL) ||
        (out->old_secret == NULL) != (sqlite3_column_type(s, 7) == SQLITE_NULL) ||
        (out->disabled_reason == NULL) != (sqlite3_column_type(s, 10) == SQLITE_NULL) || !sqlite_row_read_whole(s)) {
        store_webhook_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* A nullable text column; *whole becomes false when a value that is there could not be copied. */
static char *nullable_text(sqlite3_stmt *s, int column, bool *whole)
{
    char *text = sqlite_column_text(s, column);
    if (text == NULL && sqlite3_column_type(s, column) != SQLITE_NULL)
        *whole = false;
    return text;
}

/* Columns as SQLITE_DELIVERY_COLUMNS lists them. */
enum store_status sqlite_read_delivery(sqlite3_stmt *s, struct store_delivery_row *out)
{
    bool whole = true;

    sqlite_copy_column(s, 0, out->id, sizeof out->id);
    sqlite_copy_column(s, 1, out->webhook, sizeof out->webhook);
    sqlite_copy_column(s, 2, out->event_id, sizeof out->event_id);
    out->type = nullable_text(s, 3, &whole);
    out->survey = nullable_text(s, 4, &whole);
    out->subject = nullable_text(s, 5, &whole);
    out->customer = nullable_text(s, 6, &whole);
    out->payload = nullable_text(s, 7, &whole);
    out->state = (enum store_delivery_state)sqlite3_column_int(s, 8);
    out->attempts = sqlite3_column_int64(s, 9);
    out->last_status = sqlite3_column_int(s, 10);
    out->last_error = nullable_text(s, 11, &whole);
    out->created_at = sqlite3_column_int64(s, 12);
    out->window_start = sqlite3_column_int64(s, 13);
    out->next_attempt_at = sqlite3_column_int64(s, 14);
    out->lease_until = sqlite3_column_int64(s, 15);
    out->last_attempt_at = sqlite3_column_int64(s, 16);
    out->delivered_at = sqlite3_column_int64(s, 17);
    out->seq = sqlite3_column_int64(s, 18);
    if (!whole || out->type == NULL || out->payload == NULL || !sqlite_row_read_whole(s)) {
        oom_note();
        store_delivery_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* ---- subscriptions ---- */

static void bind_webhook(sqlite3_stmt *s, const struct store_webhook_row *row)
{
    sqlite_bind_text(s, 1, row->id);
    sqlite_bind_text(s, 2, row->url);
    sqlite_bind_text(s, 3, row->events);
    sqlite_bind_text(s, 4, row->surveys);
    sqlite_bind_text(s, 5, row->filter);
    sqlite_bind_text(s, 6, row->format);
    sqlite_bind_text(s, 7, row->secret);
    sqlite_bind_text(s, 8, row->old_secret);
    sqlite3_bind_int64(s, 9, row->old_secret_until);
    sqlite3_bind_int64(s, 10, row->disabled_at);
    sqlite_bind_text(s, 11, row->disabled_reason);
    sqlite3_bind_int64(s, 12, row->created_at);
    sqlite3_bind_int64(s, 13, row->updated_at);
}

/* Whether the lookup s (its parameters bound) finds a row. */
static enum store_status exists(sqlite3_stmt *s, bool *found)
{
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    sqlite_done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* The lookup and the write that follows it are one writer's, in one transaction: nothing comes in
 * between. */
enum store_status sqlite_put_webhook(struct store_conn *base_conn, const struct store_webhook_row *row, bool *created)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_WEBHOOK_EXISTS);
    enum store_status status;
    bool found = false;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, row->id);
    if ((status = exists(s, &found)) != STORE_OK)
        return status;
    s = sqlite_stmt(conn, found ? STMT_UPDATE_WEBHOOK : STMT_INSERT_WEBHOOK);
    if (s == NULL)
        return STORE_ERROR;
    bind_webhook(s, row);
    status = sqlite_run(conn, s);
    *created = status == STORE_OK && !found;
    return status;
}

enum store_status sqlite_get_webhook(struct store_conn *base_conn, const char *id, struct store_webhook_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_GET_WEBHOOK);
    enum store_status status;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    rc = sqlite3_step(s);
    status = rc == SQLITE_ROW ? sqlite_read_webhook(s, out) : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_list_webhooks(struct store_conn *base_conn,
                                       void (*each)(const struct store_webhook_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_LIST_WEBHOOKS);
    enum store_status status = STORE_OK;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_webhook_row row = {0};
        if ((status = sqlite_read_webhook(s, &row)) != STORE_OK)
            break;
        each(&row, arg);
        store_webhook_row_free(&row);
    }
    sqlite_done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    return status;
}

enum store_status sqlite_delete_webhook(struct store_conn *base_conn, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELETE_WEBHOOK);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    /* Its deliveries go by the foreign key (ON DELETE CASCADE; foreign_keys is on for every
     * connection), in the same statement. */
    status = sqlite_run(conn, s);
    if (status == STORE_OK && sqlite3_changes(conn->db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}

enum store_status sqlite_disable_webhook(struct store_conn *base_conn, const char *id, int64_t now_ms,
                                         const char *reason)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DISABLE_WEBHOOK);
    enum store_status status;
    bool found = false;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite_bind_text(s, 3, reason);
    status = sqlite_run(conn, s);
    if (status != STORE_OK || sqlite3_changes(conn->db) > 0)
        return status;
    /* Nothing changed: already disabled (its first reason and time stay), or no such subscription. */
    if ((s = sqlite_stmt(conn, STMT_WEBHOOK_EXISTS)) == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    status = exists(s, &found);
    return status == STORE_OK && !found ? STORE_NOT_FOUND : status;
}

/* ---- deliveries ---- */

enum store_status sqlite_insert_delivery(struct store_conn *base_conn, const struct store_delivery_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_INSERT_DELIVERY);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, row->id);
    sqlite_bind_text(s, 2, row->webhook);
    sqlite_bind_text(s, 3, row->event_id);
    sqlite_bind_text(s, 4, row->type);
    sqlite_bind_text(s, 5, row->survey);
    sqlite_bind_text(s, 6, row->subject);
    sqlite_bind_text(s, 7, row->customer);
    sqlite_bind_text(s, 8, row->payload);
    sqlite3_bind_int(s, 9, (int)row->state);
    sqlite3_bind_int64(s, 10, row->attempts);
    sqlite3_bind_int(s, 11, row->last_status);
    sqlite_bind_text(s, 12, row->last_error);
    sqlite3_bind_int64(s, 13, row->created_at);
    sqlite3_bind_int64(s, 14, row->window_start);
    sqlite3_bind_int64(s, 15, row->next_attempt_at);
    sqlite3_bind_int64(s, 16, row->lease_until);
    sqlite3_bind_int64(s, 17, row->last_attempt_at);
    sqlite3_bind_int64(s, 18, row->delivered_at);
    status = sqlite_run(conn, s);
    /* As PostgreSQL answers: a subscription that is gone is STORE_NOT_FOUND, a taken id
     * STORE_CONFLICT. */
    if (status == STORE_CONFLICT && sqlite3_extended_errcode(conn->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        status = STORE_NOT_FOUND;
    return status;
}

/* Steps s to its end, appending every row it returns to *rows. */
static enum store_status collect(sqlite3_stmt *s, struct store_delivery_row **rows, int *count)
{
    enum store_status status = STORE_OK;
    int cap = 0, rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            struct store_delivery_row *grown = realloc(*rows, (size_t)cap * sizeof *grown);
            if (grown == NULL) {
                status = STORE_UNAVAILABLE;
                break;
            }
            *rows = grown;
        }
        memset(&(*rows)[*count], 0, sizeof **rows);
        if ((status = sqlite_read_delivery(s, &(*rows)[*count])) != STORE_OK)
            break;
        (*count)++;
    }
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

/* The update is done by the first step (RETURNING hands the rows out afterwards). A claim that
 * failed half-way through reading them returns the error: the caller's transaction rolls back, so
 * no row stays SENDING without a sender knowing it. */
enum store_status sqlite_claim_deliveries(struct store_conn *base_conn, const char *webhook, int64_t now_ms,
                                          int64_t lease_until, int max, struct store_delivery_row **rows,
                                          int *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_CLAIM_DELIVERIES);

    *rows = NULL;
    *count = 0;
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, lease_until);
    sqlite3_bind_int(s, 4, max);
    return collect(s, rows, count);
}

enum store_status sqlite_finish_delivery(struct store_conn *base_conn, const struct store_delivery_outcome *outcome)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_FINISH_DELIVERY);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, outcome->id);
    sqlite3_bind_int(s, 2, (int)outcome->state);
    sqlite3_bind_int(s, 3, outcome->last_status);
    sqlite_bind_text(s, 4, outcome->last_error);
    sqlite3_bind_int64(s, 5, outcome->attempted_at);
    sqlite3_bind_int64(s, 6, outcome->next_attempt_at);
    sqlite3_bind_int64(s, 7, outcome->delivered_at);
    status = sqlite_run(conn, s);
    if (status == STORE_OK && sqlite3_changes(conn->db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}

enum store_status sqlite_requeue_sending(struct store_conn *base_conn, int64_t now_ms, int64_t *requeued)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_REQUEUE_SENDING);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, now_ms);
    if ((status = sqlite_run(conn, s)) == STORE_OK)
        *requeued = sqlite3_changes64(conn->db);
    return status;
}

enum store_status sqlite_get_delivery(struct store_conn *base_conn, const char *id, struct store_delivery_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_GET_DELIVERY);
    enum store_status status;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    rc = sqlite3_step(s);
    status = rc == SQLITE_ROW ? sqlite_read_delivery(s, out) : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_list_deliveries(struct store_conn *base_conn, const struct store_delivery_query *query,
                                         void (*each)(const struct store_delivery_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, query->state ? STMT_LIST_DELIVERIES_STATE : STMT_LIST_DELIVERIES);
    enum store_status status = STORE_OK;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, query->webhook);
    sqlite3_bind_int64(s, 2, query->before_seq);
    sqlite3_bind_int64(s, 3, query->limit < 0 ? -1 : query->limit); /* SQLite: a negative LIMIT is none */
    if (query->state)
        sqlite3_bind_int(s, 4, (int)*query->state);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_delivery_row row = {0};
        if ((status = sqlite_read_delivery(s, &row)) != STORE_OK)
            break;
        each(&row, arg);
        store_delivery_row_free(&row);
    }
    sqlite_done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    return status;
}

enum store_status sqlite_retry_delivery(struct store_conn *base_conn, const char *webhook, const char *id,
                                        int64_t now_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_RETRY_DELIVERY);
    enum store_status status;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    sqlite_bind_text(s, 2, id);
    sqlite3_bind_int64(s, 3, now_ms);
    status = sqlite_run(conn, s);
    if (status != STORE_OK || sqlite3_changes(conn->db) > 0)
        return status;
    /* Nothing changed: it is SENDING (a sender holds it), or no such delivery of that subscription. */
    if ((s = sqlite_stmt(conn, STMT_DELIVERY_STATE)) == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    sqlite_bind_text(s, 2, id);
    rc = sqlite3_step(s);
    status = rc == SQLITE_ROW ? STORE_CONFLICT : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_replay_deliveries(struct store_conn *base_conn, const char *webhook, int64_t from_ms,
                                           int64_t to_ms, int64_t now_ms, int64_t *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_REPLAY_DELIVERIES);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    sqlite3_bind_int64(s, 2, from_ms);
    sqlite3_bind_int64(s, 3, to_ms);
    sqlite3_bind_int64(s, 4, now_ms);
    if ((status = sqlite_run(conn, s)) == STORE_OK)
        *count = sqlite3_changes64(conn->db);
    return status;
}

enum store_status sqlite_delivery_backlog(struct store_conn *base_conn, const char *webhook, int64_t *depth,
                                          int64_t *oldest_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELIVERY_BACKLOG);
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *depth = sqlite3_column_int64(s, 0);
        *oldest_ms = sqlite3_column_int64(s, 1);
    }
    sqlite_done_with(s);
    /* No such subscription: an empty backlog, as the count of its rows would say. */
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

enum store_status sqlite_prune_deliveries(struct store_conn *base_conn, int64_t cutoff_ms, int64_t max,
                                          int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_PRUNE_DELIVERIES);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, cutoff_ms);
    sqlite3_bind_int64(s, 2, max);
    if ((status = sqlite_run(conn, s)) == STORE_OK)
        *deleted = sqlite3_changes64(conn->db);
    return status;
}

/* ---- the event log ---- */

/* Columns as SQLITE_EVENT_COLUMNS lists them. */
enum store_status sqlite_read_event(sqlite3_stmt *s, struct store_event_row *out)
{
    bool whole = true;

    out->seq = sqlite3_column_int64(s, 0);
    sqlite_copy_column(s, 1, out->id, sizeof out->id);
    out->type = nullable_text(s, 2, &whole);
    out->survey = nullable_text(s, 3, &whole);
    out->subject = nullable_text(s, 4, &whole);
    out->customer = nullable_text(s, 5, &whole);
    out->object = nullable_text(s, 6, &whole);
    out->created_at = sqlite3_column_int64(s, 7);
    if (!whole || out->type == NULL || !sqlite_row_read_whole(s)) {
        oom_note();
        store_event_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* Steps the single-row query s (its parameters bound): *found, and its first column in *value. */
static enum store_status one_int(sqlite3_stmt *s, bool *found, int64_t *value)
{
    int rc = sqlite3_step(s);

    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(s, 0);
    sqlite_done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

enum store_status sqlite_webhooks_exist(struct store_conn *base_conn, bool *any)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_WEBHOOKS_ANY);
    int64_t value = 0;
    bool found;
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    status = one_int(s, &found, &value);
    *any = status == STORE_OK && value != 0;
    return status;
}

static void bind_event(sqlite3_stmt *s, int first, const struct store_event_row *row)
{
    sqlite_bind_text(s, first, row->id);
    sqlite_bind_text(s, first + 1, row->type);
    sqlite_bind_text(s, first + 2, row->survey);
    sqlite_bind_text(s, first + 3, row->subject);
    sqlite_bind_text(s, first + 4, row->customer);
    sqlite_bind_text(s, first + 5, row->object);
    sqlite3_bind_int64(s, first + 6, row->created_at);
}

/* One narrow row in the table's b-tree (and the customer index when it names one): this is all an
 * ingest pays for webhooks. */
enum store_status sqlite_append_event(struct store_conn *base_conn, const struct store_event_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_APPEND_EVENT);

    if (s == NULL)
        return STORE_ERROR;
    bind_event(s, 1, row);
    return sqlite_run(conn, s);
}

enum store_status sqlite_import_event(struct store_conn *base_conn, const struct store_event_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_IMPORT_EVENT);

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, row->seq);
    bind_event(s, 2, row);
    return sqlite_run(conn, s);
}

enum store_status sqlite_list_events(struct store_conn *base_conn, int64_t after_seq, int64_t limit,
                                     void (*each)(const struct store_event_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_LIST_EVENTS);
    enum store_status status = STORE_OK;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, after_seq);
    sqlite3_bind_int64(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_event_row row = {0};
        if ((status = sqlite_read_event(s, &row)) != STORE_OK)
            break;
        each(&row, arg);
        store_event_row_free(&row);
    }
    sqlite_done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    return status;
}

enum store_status sqlite_count_events(struct store_conn *base_conn, int64_t after_seq, int64_t *count,
                                      int64_t *oldest_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_COUNT_EVENTS);
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, after_seq);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(s, 0);
        *oldest_ms = sqlite3_column_int64(s, 1);
    }
    sqlite_done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : sqlite_status_of(rc);
}

/* One process writes a SQLite store, through one writer: nobody else can be preparing. */
enum store_status sqlite_lock_webhook_cursor(struct store_conn *base_conn, const char *webhook, int64_t *cursor,
                                             bool *locked)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_WEBHOOK_CURSOR);
    enum store_status status;
    int64_t value = 0;
    bool found = false;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    if ((status = one_int(s, &found, &value)) != STORE_OK)
        return status;
    if (!found)
        return STORE_NOT_FOUND;
    *cursor = value;
    *locked = true;
    return STORE_OK;
}

enum store_status sqlite_set_webhook_cursor(struct store_conn *base_conn, const char *webhook, int64_t cursor)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_SET_WEBHOOK_CURSOR);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, webhook);
    sqlite3_bind_int64(s, 2, cursor);
    status = sqlite_run(conn, s);
    if (status == STORE_OK && sqlite3_changes(conn->db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}

/* One of the one-number queries below, with its (up to two) integer parameters. */
static enum store_status query_int(struct sqlite_conn *conn, enum stmt_id id, int64_t a, int64_t b, bool *found,
                                   int64_t *value)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);

    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, b);
    return one_int(s, found, value);
}

/* Each step along the primary key. The common case (within the cap) costs two lookups: the cursor
 * and the newest seq, whose difference bounds the events after the cursor from above (seqs have
 * gaps, never duplicates). Only a subscription past its cap walks keep entries back from the newest
 * to find where its cursor goes, and counts what it passes. */
enum store_status sqlite_trim_webhook_backlog(struct store_conn *base_conn, const char *webhook, int64_t keep,
                                              int64_t *skipped)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    int64_t cursor = 0, newest = 0, to = 0;
    bool locked, found;
    enum store_status status = sqlite_lock_webhook_cursor(base_conn, webhook, &cursor, &locked);

    if (status == STORE_OK)
        status = query_int(conn, STMT_NEWEST_EVENT, 0, 0, &found, &newest);
    if (status != STORE_OK || newest - cursor <= keep)
        return status;
    if ((status = query_int(conn, STMT_NTH_NEWEST_EVENT, cursor, keep, &found, &to)) != STORE_OK || !found)
        return status;
    if ((status = query_int(conn, STMT_COUNT_EVENTS_TO, cursor, to, &found, skipped)) != STORE_OK)
        return status;
    return sqlite_set_webhook_cursor(base_conn, webhook, to);
}

enum store_status sqlite_prune_events(struct store_conn *base_conn, int64_t max, int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_PRUNE_EVENTS);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, max);
    if ((status = sqlite_run(conn, s)) == STORE_OK)
        *deleted = sqlite3_changes64(conn->db);
    return status;
}

enum store_status sqlite_event_seq_past(struct store_conn *base_conn, int64_t seq)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    static const enum stmt_id steps[] = {STMT_EVENT_SEQ_PAST, STMT_EVENT_SEQ_FIRST};
    enum store_status status = STORE_OK;

    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && status == STORE_OK; i++) {
        sqlite3_stmt *s = sqlite_stmt(conn, steps[i]);
        if (s == NULL)
            return STORE_ERROR;
        sqlite3_bind_int64(s, 1, seq);
        status = sqlite_run(conn, s);
    }
    return status;
}
