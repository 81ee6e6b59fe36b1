/* The SQLite backend: invitations (store.h, "invitations"; schema/008_invitations.sql). Their
 * erasure and retention are in sqlite_changes.c; a survey's go with it by the foreign key. Their
 * rollup, invitation_days, is kept by the schema's triggers (schema/009_invitation_days.sql).
 *
 * SQLite has one writer, the writer thread's connection: store_last_contact needs no lock of its
 * own, its reads and the insert that follows them are already serialised. */
#include "sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* Columns as SQLITE_INVITATION_COLUMNS lists them (also migrate's dump). A text that could not be read (out of memory)
 * makes the whole row fail rather than come back with a hole. */
enum store_status sqlite_read_invitation(sqlite3_stmt *s, struct store_invitation_row *out)
{
    sqlite_copy_column(s, 0, out->id, sizeof out->id);
    sqlite_copy_column(s, 1, out->survey, sizeof out->survey);
    out->customer = sqlite_column_text(s, 2);
    out->channel = sqlite_column_text(s, 3);
    out->agent = sqlite_column_text(s, 4);
    out->interaction = sqlite_column_text(s, 5);
    out->properties = sqlite_column_text(s, 6);
    out->outcome = (enum store_invitation_outcome)sqlite3_column_int(s, 7);
    /* A stored hash of another length (never written by this code) opens nothing. */
    out->has_token = sqlite3_column_bytes(s, 8) == STORE_INVITATION_HASH_LEN;
    if (out->has_token)
        memcpy(out->token_hash, sqlite3_column_blob(s, 8), STORE_INVITATION_HASH_LEN);
    sqlite_copy_column(s, 9, out->form_key, sizeof out->form_key);
    out->created_at = sqlite3_column_int64(s, 10);
    out->expires_at = sqlite3_column_int64(s, 11);
    out->opened_at = sqlite3_column_int64(s, 12);
    out->responded_at = sqlite3_column_int64(s, 13);
    sqlite_copy_column(s, 14, out->response_id, sizeof out->response_id);
    out->automated_visits = sqlite3_column_int64(s, 15);
    out->last_visit_at = sqlite3_column_int64(s, 16);
    out->last_visit_value = sqlite_column_text(s, 17);
    out->captured = sqlite_column_text(s, 18);
    if (out->customer == NULL || !sqlite_row_read_whole(s)) {
        store_invitation_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* Steps a prepared lookup (parameters bound) to its one row. */
static enum store_status read_one(sqlite3_stmt *s, struct store_invitation_row *out)
{
    int rc = sqlite3_step(s);
    enum store_status status = rc == SQLITE_ROW    ? sqlite_read_invitation(s, out)
                               : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                                   : sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

static void bind_text_or_null(sqlite3_stmt *s, int index, const char *text)
{
    sqlite_bind_text(s, index, text && text[0] ? text : NULL);
}

enum store_status sqlite_insert_invitation(struct store_conn *base_conn, const struct store_invitation_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_INSERT_INVITATION);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, row->id);
    sqlite_bind_text(s, 2, row->survey);
    sqlite_bind_text(s, 3, row->customer);
    sqlite_bind_text(s, 4, row->channel);
    sqlite_bind_text(s, 5, row->agent);
    sqlite_bind_text(s, 6, row->interaction);
    sqlite_bind_text(s, 7, row->properties);
    sqlite3_bind_int(s, 8, (int)row->outcome);
    if (row->has_token)
        sqlite3_bind_blob(s, 9, row->token_hash, STORE_INVITATION_HASH_LEN, SQLITE_STATIC);
    bind_text_or_null(s, 10, row->form_key);
    sqlite3_bind_int64(s, 11, row->created_at);
    sqlite3_bind_int64(s, 12, row->expires_at);
    sqlite3_bind_int64(s, 13, row->opened_at);
    sqlite3_bind_int64(s, 14, row->responded_at);
    bind_text_or_null(s, 15, row->response_id);
    sqlite3_bind_int64(s, 16, row->automated_visits);
    sqlite3_bind_int64(s, 17, row->last_visit_at);
    sqlite_bind_text(s, 18, row->last_visit_value);
    sqlite_bind_text(s, 19, row->captured);
    status = sqlite_run(conn, s);
    /* As PostgreSQL answers: a survey that is gone is STORE_NOT_FOUND, a taken id or token hash
     * STORE_CONFLICT. */
    if (status == STORE_CONFLICT && sqlite3_extended_errcode(conn->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        status = STORE_NOT_FOUND;
    return status;
}

enum store_status sqlite_get_invitation(struct store_conn *base_conn, const char *id,
                                        struct store_invitation_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_GET_INVITATION);

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    return read_one(s, out);
}

enum store_status sqlite_find_invitation_by_token(struct store_conn *base_conn,
                                                  const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                                  struct store_invitation_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_FIND_INVITATION_TOKEN);

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(s, 1, hash, STORE_INVITATION_HASH_LEN, SQLITE_STATIC);
    return read_one(s, out);
}

enum store_status sqlite_update_invitation(struct store_conn *base_conn, const struct store_invitation_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_UPDATE_INVITATION);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, row->id);
    sqlite3_bind_int64(s, 2, row->opened_at);
    sqlite3_bind_int64(s, 3, row->responded_at);
    bind_text_or_null(s, 4, row->response_id);
    sqlite3_bind_int64(s, 5, row->automated_visits);
    sqlite3_bind_int64(s, 6, row->last_visit_at);
    sqlite_bind_text(s, 7, row->last_visit_value);
    sqlite_bind_text(s, 8, row->captured);
    status = sqlite_run(conn, s);
    if (status == STORE_OK && sqlite3_changes(conn->db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}

enum store_status sqlite_last_contact(struct store_conn *base_conn, const char *survey, const char *customer,
                                      int64_t *last_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_LAST_CONTACT);
    enum store_status status = STORE_NOT_FOUND;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, customer);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        for (int column = 0; column < 2; column++) {
            if (sqlite3_column_type(s, column) == SQLITE_NULL)
                continue;
            int64_t at = sqlite3_column_int64(s, column);
            if (status == STORE_NOT_FOUND || at > *last_ms)
                *last_ms = at;
            status = STORE_OK;
        }
    } else {
        status = sqlite_status_of(rc);
    }
    sqlite_done_with(s);
    return status;
}

/* Both statements take the same parameters (?2, ?3: days or milliseconds) and return the same
 * columns; the rollup has only the cells of days with invitations (no all-zero row). */
enum store_status sqlite_invitation_range(struct store_conn *base_conn, const struct store_metrics_query *q,
                                          bool from_rollup, int64_t lo, int64_t hi,
                                          void (*each)(const struct store_invitation_cell *cell, void *arg),
                                          void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, from_rollup ? STMT_SCAN_INVITATION_DAYS : STMT_SCAN_INVITATIONS);
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, q->survey);
    sqlite3_bind_int64(s, 2, lo);
    sqlite3_bind_int64(s, 3, hi);
    sqlite_bind_text(s, 4, q->channel);
    sqlite_bind_text(s, 5, q->agent);
    sqlite3_bind_int(s, 6, q->by_agent || q->agent != NULL);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_invitation_cell cell = {
            .day = sqlite3_column_int64(s, 0),
            .channel = (const char *)sqlite3_column_text(s, 1),
            .agent = (const char *)sqlite3_column_text(s, 2),
            .sent = sqlite3_column_int64(s, 3),
            .suppressed = sqlite3_column_int64(s, 4),
            .opened = sqlite3_column_int64(s, 5),
            .responded = sqlite3_column_int64(s, 6),
        };
        if (cell.channel == NULL || cell.agent == NULL || !sqlite_row_read_whole(s)) {
            rc = SQLITE_NOMEM; /* a cell without its key: the request fails rather than miscount */
            break;
        }
        each(&cell, arg);
    }
    sqlite_done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}
