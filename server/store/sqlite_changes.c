/* The SQLite backend: changing and deleting responses with their rollups, idempotency records and
 * edit tokens (see sqlite_internal.h). */
#include "sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- changing and deleting responses (writer only) ---- */

/* Adds (delta +1) or removes (-1) one stored response's contribution to every rollup: read through
 * the view now, while the row is as it is, and accumulated for the commit (see rollup_deltas.h).
 * Updates and deletions take this path (they are rare); inserts compute the same facts in C from
 * the validated answers (store.c), and test_metrics checks the two agree. */
static enum store_status adjust_rollups(struct sqlite_conn *conn, int64_t seq, int delta)
{
    sqlite3_stmt *s = conn->base.job_deltas ? sqlite_stmt(conn, STMT_FACTS_OF) : NULL; /* writer only */
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_fact f = {
            .survey = (const char *)sqlite3_column_text(s, 0),
            .submitted_at = sqlite3_column_int64(s, 1),
            .channel = (const char *)sqlite3_column_text(s, 2),
            .agent = (const char *)sqlite3_column_text(s, 3),
            .question = (const char *)sqlite3_column_text(s, 4),
            .value_is_text = sqlite3_column_type(s, 5) == SQLITE_TEXT,
            .value = sqlite3_column_int64(s, 5),
            .value_text = (const char *)sqlite3_column_text(s, 5),
        };
        if (!sqlite_row_read_whole(s)) {
            rc = SQLITE_NOMEM; /* a cell without its text: the job fails rather than miscount */
            break;
        }
        store_backend_add_fact(&conn->base, &f, delta);
    }
    sqlite_done_with(s);
    if (rc != SQLITE_DONE)
        return sqlite_status_of(rc);

    s = sqlite_stmt(conn, STMT_RESPONSE_CELL_OF);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_fact f = {
            .survey = (const char *)sqlite3_column_text(s, 0),
            .submitted_at = sqlite3_column_int64(s, 1),
            .channel = (const char *)sqlite3_column_text(s, 2),
            .agent = (const char *)sqlite3_column_text(s, 3),
        };
        if (!sqlite_row_read_whole(s))
            rc = SQLITE_NOMEM;
        else
            store_backend_add_fact(&conn->base, &f, delta);
    }
    sqlite_done_with(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_status_of(rc);
    return conn->base.deltas_lost ? STORE_ERROR : STORE_OK;
}

static enum store_status seq_of(struct sqlite_conn *conn, const char *id, int64_t *seq)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_SEQ_OF);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite_done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
}

static enum store_status run_with_seq(struct sqlite_conn *conn, enum stmt_id id, int64_t seq)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    return sqlite_run(conn, s);
}

enum store_status sqlite_update_answers(struct store_conn *base_conn, const char *id, const char *answers_json)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    int64_t seq = 0; /* set by seq_of on STORE_OK; initialised for -O3's flow analysis */
    enum store_status status = seq_of(conn, id, &seq);
    if (status != STORE_OK)
        return status;
    /* Out of the rollups as it was, back in as it is. */
    if ((status = adjust_rollups(conn, seq, -1)) != STORE_OK)
        return status;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_UPDATE_ANSWERS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    sqlite_bind_text(s, 2, answers_json);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    return adjust_rollups(conn, seq, +1);
}

/* Removes one response, its rollup contributions and the idempotency records naming it. */
static enum store_status delete_seq(struct sqlite_conn *conn, int64_t seq)
{
    enum store_status status = adjust_rollups(conn, seq, -1);
    if (status == STORE_OK)
        status = run_with_seq(conn, STMT_DELETE_RESPONSE_IDEMPOTENCY, seq);
    if (status == STORE_OK)
        status = run_with_seq(conn, STMT_DELETE_RESPONSE, seq);
    return status;
}

enum store_status sqlite_delete_response(struct store_conn *base_conn, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    int64_t seq = 0; /* set by seq_of on STORE_OK; initialised for -O3's flow analysis */
    enum store_status status = seq_of(conn, id, &seq);
    return status == STORE_OK ? delete_seq(conn, seq) : status;
}

/* Collects up to max seqs from a query taking one text or integer parameter, then deletes them:
 * deleting while stepping the same table's query would be undefined. */
static enum store_status delete_selected(struct sqlite_conn *conn, enum stmt_id select, const char *text,
                                         int64_t number, int64_t max, int64_t *deleted)
{
    sqlite3_stmt *s = sqlite_stmt(conn, select);
    int64_t *seqs = NULL;
    size_t count = 0, cap = 0;
    enum store_status status = STORE_OK;
    int rc;

    *deleted = 0;
    if (s == NULL)
        return STORE_ERROR;
    if (text)
        sqlite_bind_text(s, 1, text);
    else
        sqlite3_bind_int64(s, 1, number);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *grown = realloc(seqs, cap * sizeof *seqs);
            if (grown == NULL) {
                status = STORE_ERROR;
                break;
            }
            seqs = grown;
        }
        seqs[count++] = sqlite3_column_int64(s, 0);
    }
    sqlite_done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = delete_seq(conn, seqs[i]);
    free(seqs);
    if (status == STORE_OK)
        *deleted = (int64_t)count;
    return status;
}

enum store_status sqlite_erase_customer(struct store_conn *base_conn, const char *customer, int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum store_status status = delete_selected(conn, STMT_CUSTOMER_SEQS, customer, 0, 0, deleted);
    if (status != STORE_OK)
        return status;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELETE_CUSTOMER_IDEMPOTENCY);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, customer);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    /* Their invitations too; *deleted keeps counting responses only (the erasure's reply says how
     * many responses went). */
    s = sqlite_stmt(conn, STMT_DELETE_CUSTOMER_INVITATIONS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, customer);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    /* And every webhook delivery whose payload holds their data, in any state: an undelivered one
     * is never sent, a delivered one is not kept (a replay cannot send it again). */
    s = sqlite_stmt(conn, STMT_DELETE_CUSTOMER_DELIVERIES);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, customer);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    /* And every logged event whose object holds their data (response.deleted), prepared or not:
     * an event not yet prepared never becomes a delivery. Their responses' created and updated
     * events name only the response id; preparing passes over them once the response is gone. */
    s = sqlite_stmt(conn, STMT_DELETE_CUSTOMER_EVENTS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, customer);
    return sqlite_run(conn, s);
}

/* Up to max responses and up to max invitations: *deleted counts both, so a sweep that loops
 * while a batch deleted max goes on until neither has old rows left. */
enum store_status sqlite_delete_before(struct store_conn *base_conn, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum store_status status = delete_selected(conn, STMT_OLD_SEQS, NULL, cutoff_ms, max, deleted);
    if (status != STORE_OK)
        return status;
    sqlite3_stmt *replies = sqlite_stmt(conn, STMT_DELETE_OLD_INVITATION_REPLIES);
    if (replies == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(replies, 1, cutoff_ms);
    sqlite3_bind_int64(replies, 2, max);
    if ((status = sqlite_run(conn, replies)) != STORE_OK)
        return status;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELETE_OLD_INVITATIONS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, cutoff_ms);
    sqlite3_bind_int64(s, 2, max);
    if ((status = sqlite_run(conn, s)) == STORE_OK)
        *deleted += sqlite3_changes64(conn->db);
    return status;
}


enum store_status sqlite_customer_traces(struct store_conn *base_conn, const char *customer, char ***ids, int *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = NULL;
    int cap = 0, rc;

    *ids = NULL;
    *count = 0;
    static const char sql[] =
        "SELECT id FROM responses WHERE customer = ?1"
        " UNION SELECT a.value FROM responses AS r, json_each(r.answers) AS a"
        "  WHERE r.customer = ?1 AND a.type = 'text' AND length(CAST(a.value AS BLOB)) >= 8"
        " UNION SELECT id FROM invitations WHERE customer = ?1"
        " UNION SELECT id FROM webhook_deliveries WHERE customer = ?1"
        " UNION SELECT id FROM webhook_events WHERE customer = ?1"
        " UNION SELECT ?1 WHERE length(CAST(?1 AS BLOB)) >= 6";
    if (sqlite3_prepare_v2(conn->db, sql, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, customer);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(*ids, (size_t)cap * sizeof *grown);
            if (grown == NULL) {
                rc = SQLITE_NOMEM; /* a partial list would let the scrub miss traces */
                break;
            }
            *ids = grown;
        }
        if (((*ids)[*count] = sqlite_column_text(s, 0)) == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*count)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* ---- idempotency ---- */

enum store_status sqlite_get_idempotency(struct store_conn *base_conn, const char *scope, const char *key,
                                                struct store_idempotency_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_FIND_IDEMPOTENCY);
    enum store_status status = STORE_NOT_FOUND;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, scope);
    sqlite_bind_text(s, 2, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t body_len = (size_t)sqlite3_column_bytes(s, 0);
        row->body = malloc(body_len ? body_len : 1);
        row->body_len = body_len;
        if (row->body && body_len)
            memcpy(row->body, sqlite3_column_blob(s, 0), body_len);
        row->status = sqlite3_column_int(s, 1);
        row->reply = sqlite_column_text(s, 2);
        row->response_id = sqlite_column_text(s, 3);
        status = row->body && sqlite_row_read_whole(s) ? STORE_OK : STORE_ERROR;
    } else if (rc != SQLITE_DONE) {
        status = sqlite_status_of(rc);
    }
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_save_idempotency(struct store_conn *base_conn, const struct store_idempotency *request,
                                         int status, const char *reply, const char *response_id,
                                         const char *customer, int64_t now_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_SAVE_IDEMPOTENCY);

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, request->scope);
    sqlite_bind_text(s, 2, request->key);
    sqlite3_bind_blob(s, 3, request->body_len ? request->body : "", (int)request->body_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, status);
    sqlite_bind_text(s, 5, reply);
    sqlite_bind_text(s, 6, response_id);
    sqlite_bind_text(s, 7, customer);
    sqlite3_bind_int64(s, 8, now_ms);
    sqlite_bind_text(s, 9, request->survey);
    return sqlite_run(conn, s);
}

/* ---- edit tokens (follow-up capabilities; only their hashes are stored) ---- */

enum store_status sqlite_get_edit_token(struct store_conn *base_conn, const char *response_id, unsigned char *hash,
                                       size_t hash_len, int64_t *expires_at)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_GET_EDIT_TOKEN);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, response_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        /* A stored hash of another length (never written by this code) grants nothing. */
        if ((size_t)sqlite3_column_bytes(s, 0) == hash_len) {
            memcpy(hash, sqlite3_column_blob(s, 0), hash_len);
            *expires_at = sqlite3_column_int64(s, 1);
            status = STORE_OK;
        }
    } else if (rc != SQLITE_DONE) {
        status = sqlite_status_of(rc);
    }
    sqlite_done_with(s);
    return status;
}
