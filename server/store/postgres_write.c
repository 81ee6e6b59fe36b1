/* The PostgreSQL backend's surveys, responses and what is kept beside them (idempotency records,
 * edit tokens): each statement as in sqlite.c, with PostgreSQL's answers to running several
 * instances on one database. Rows a change reads back to correct the rollups are locked first
 * (FOR UPDATE), so that two instances deleting or editing the same response never both subtract
 * it; a new response's interaction conflict waits for the other instance's transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "oom.h"
#include "postgres_ops.h"

#define RESPONSE_COLUMNS "id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties"

/* ---- surveys ---- */

static void read_survey_row(const PGresult *result, int row, struct store_survey_row *out)
{
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(result, row, 0));
    out->definition = pg_text(result, row, 1);
    out->created_at = pg_int(result, row, 2);
    out->updated_at = pg_int(result, row, 3);
}

enum store_status pg_get_survey(struct store_conn *base, const char *id, struct store_survey_row *out)
{
    enum store_status status;
    const char *values[] = {id};
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT id, definition, created_at, updated_at FROM surveys WHERE id = $1", 1, values,
                                &status);

    memset(out, 0, sizeof *out);
    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1) {
        read_survey_row(result, 0, out);
        /* The column is NOT NULL: a NULL here is a copy that ran out of memory. */
        status = out->definition ? STORE_OK : STORE_UNAVAILABLE;
    }
    PQclear(result);
    return status;
}

enum store_status pg_survey_unchanged(struct store_conn *base, const char *id, const char *definition,
                                      bool *unchanged)
{
    enum store_status status;
    const char *values[] = {id, definition};
    PGresult *result = pg_query(pg_conn_of(base), "SELECT definition = $2 FROM surveys WHERE id = $1", 2, values,
                                &status);

    *unchanged = false;
    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK)
        *unchanged = PQgetvalue(result, 0, 0)[0] == 't';
    PQclear(result);
    return status;
}

enum store_status pg_list_surveys(struct store_conn *base, void (*each)(const struct store_survey_row *, void *),
                                  void *arg)
{
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT id, definition, created_at, updated_at FROM surveys ORDER BY id", 0, NULL,
                                &status);

    if (result == NULL)
        return status;
    for (int i = 0; i < PQntuples(result) && status == STORE_OK; i++) {
        struct store_survey_row row;
        read_survey_row(result, i, &row);
        if (row.definition == NULL)
            status = STORE_UNAVAILABLE; /* out of memory, as in pg_get_survey */
        else
            each(&row, arg);
        store_survey_row_free(&row);
    }
    PQclear(result);
    return status;
}

enum store_status pg_put_survey(struct store_conn *base, const char *id, const char *definition, int64_t now_ms,
                                bool *created)
{
    struct pg_conn *conn = pg_conn_of(base);
    char now[24];
    const char *values[] = {id, definition, pg_int_text(now, now_ms)};
    int64_t inserted = 0;
    enum store_status status;

    *created = false;
    pg_touch(conn, id);
    status = pg_exec(conn,
                     "INSERT INTO surveys (id, definition, created_at, updated_at) VALUES ($1, $2, $3, $3)"
                     " ON CONFLICT (id) DO NOTHING",
                     3, values, &inserted);
    if (status != STORE_OK)
        return status;
    *created = inserted == 1;
    if (!*created && (status = pg_exec(conn, "UPDATE surveys SET definition = $2, updated_at = $3 WHERE id = $1", 3,
                                       values, NULL)) != STORE_OK)
        return status;
    /* survey_questions mirrors the definition's question types for the answer_facts view. */
    if ((status = pg_exec(conn, "DELETE FROM survey_questions WHERE survey = $1", 1, values, NULL)) != STORE_OK)
        return status;
    return pg_exec(conn,
                   "INSERT INTO survey_questions (survey, question, type)"
                   " SELECT $1, q ->> 'id', q ->> 'type' FROM json_array_elements($2::json -> 'questions') AS q",
                   2, values, NULL);
}

/* Its responses, rollups and question types go with it (foreign keys, ON DELETE CASCADE); store.c
 * forgets the batch's pending cells. */
enum store_status pg_delete_survey(struct store_conn *base, const char *id)
{
    struct pg_conn *conn = pg_conn_of(base);
    const char *values[] = {id};
    int64_t deleted = 0;
    enum store_status status = pg_exec(conn, "DELETE FROM surveys WHERE id = $1", 1, values, &deleted);

    if (status != STORE_OK)
        return status;
    if (deleted == 0)
        return STORE_NOT_FOUND;
    pg_touch(conn, id);
    return pg_exec(conn, "DELETE FROM idempotency WHERE survey = $1", 1, values, NULL);
}

enum store_status pg_answer_count(struct store_conn *base, const char *survey, const char *question, int64_t *count)
{
    enum store_status status;
    const char *values[] = {survey, question};
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT answers FROM answered_questions WHERE survey = $1 AND question = $2", 2,
                                values, &status);

    *count = 0;
    if (result == NULL)
        return status;
    if (PQntuples(result) == 1)
        *count = pg_int(result, 0, 0);
    PQclear(result);
    return STORE_OK;
}

/* ---- responses ---- */

/* Columns in RESPONSE_COLUMNS' order. False when a copy ran out of memory. */
static bool read_response_row(const PGresult *result, int row, struct store_response_row *out)
{
    static const int columns[] = {4, 5, 6, 7, 8, 9};
    char **texts[] = {&out->channel, &out->customer, &out->agent, &out->interaction, &out->answers, &out->properties};
    bool whole = true;

    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(result, row, 0));
    snprintf(out->survey, sizeof out->survey, "%s", PQgetvalue(result, row, 1));
    out->submitted_at = pg_int(result, row, 2);
    out->received_at = pg_int(result, row, 3);
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        *texts[i] = pg_text(result, row, columns[i]);
        whole &= *texts[i] != NULL || PQgetisnull(result, row, columns[i]);
    }
    return whole;
}

enum store_status pg_get_response(struct store_conn *base, const char *id, struct store_response_row *out)
{
    enum store_status status;
    const char *values[] = {id};
    PGresult *result = pg_query(pg_conn_of(base), "SELECT " RESPONSE_COLUMNS " FROM responses WHERE id = $1", 1,
                                values, &status);

    memset(out, 0, sizeof *out);
    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1)
        status = read_response_row(result, 0, out) ? STORE_OK : STORE_UNAVAILABLE;
    PQclear(result);
    return status;
}

/* The response already stored for (survey, interaction): STORE_CONFLICT with its id. */
static enum store_status find_interaction(struct pg_conn *conn, const char *survey, const char *interaction,
                                          char existing_id[32])
{
    enum store_status status;
    const char *values[] = {survey, interaction};
    PGresult *result = pg_query(conn, "SELECT id FROM responses WHERE survey = $1 AND interaction = $2", 2, values,
                                &status);

    if (result == NULL)
        return status;
    /* None: it was deleted between our insert and this look-up; the client may simply retry. */
    status = STORE_UNAVAILABLE;
    if (PQntuples(result) == 1) {
        snprintf(existing_id, 32, "%s", PQgetvalue(result, 0, 0));
        status = STORE_CONFLICT;
    }
    PQclear(result);
    return status;
}

enum store_status pg_insert_response(struct store_conn *base, const struct response *r,
                                     const struct store_edit_token *token, char existing_id[32])
{
    struct pg_conn *conn = pg_conn_of(base);
    char submitted[24], received[24], expires[24];
    const char *values[] = {
        r->id, r->survey, pg_int_text(submitted, r->submitted_at), pg_int_text(received, r->received_at),
        r->channel, r->customer, r->agent, r->interaction, r->answers_json, r->properties_json,
        token ? (const char *)token->hash : NULL, token ? pg_int_text(expires, token->expires_at) : NULL,
    };
    const int lengths[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, token ? (int)token->hash_len : 0, 0};
    const int formats[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}; /* the hash as raw bytes */
    enum store_status status;

    existing_id[0] = '\0';
    /* Inserted first, looked up only on a conflict. DO NOTHING also waits for another instance's
     * uncommitted insert of the same interaction, and then finds its row. */
    PGresult *result = pg_query_binary(
        conn,
        "INSERT INTO responses (" RESPONSE_COLUMNS ", edit_token_hash, edit_token_expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (survey, interaction) WHERE interaction IS NOT NULL DO NOTHING RETURNING seq",
        12, values, lengths, formats, &status);
    if (result == NULL) /* foreign key: the survey is gone; unique id: a collision. Both 404, as in sqlite.c */
        return status == STORE_CONFLICT ? STORE_NOT_FOUND : status;
    int rows = PQntuples(result);
    if (rows == 1) { /* tagged with the survey's topics in the same transaction (postgres_topics.c) */
        status = pg_topics_tag(conn, PQgetvalue(result, 0, 0), r->survey, r->answers_json);
        PQclear(result);
        return status;
    }
    PQclear(result);
    return r->interaction ? find_interaction(conn, r->survey, r->interaction, existing_id) : STORE_ERROR;
}

/* ---- changing and deleting responses ---- */

/* Hands every rollup fact of the responses whose seqs are in the array text seqs (e.g. "{1,2}") to
 * store_backend_add_fact: their answers through the answer_facts view, then the responses
 * themselves (question NULL). */
static enum store_status adjust_rollups(struct pg_conn *conn, const char *seqs, int delta)
{
    enum store_status status;
    const char *values[] = {seqs};
    PGresult *result = pg_query(conn,
                                "SELECT survey, submitted_at, channel, agent, question, is_text, value, value_text"
                                " FROM answer_facts WHERE seq = ANY ($1::bigint[])"
                                " UNION ALL SELECT survey, submitted_at, coalesce(channel, ''), coalesce(agent, ''),"
                                " NULL, false, 0, '' FROM responses WHERE seq = ANY ($1::bigint[])",
                                1, values, &status);

    if (result == NULL)
        return status;
    for (int i = 0; i < PQntuples(result); i++) {
        struct store_fact fact = {
            .survey = PQgetvalue(result, i, 0),
            .submitted_at = pg_int(result, i, 1),
            .channel = PQgetvalue(result, i, 2),
            .agent = PQgetvalue(result, i, 3),
            .question = PQgetisnull(result, i, 4) ? NULL : PQgetvalue(result, i, 4),
            .value_is_text = PQgetvalue(result, i, 5)[0] == 't',
            .value = pg_int(result, i, 6),
            .value_text = PQgetvalue(result, i, 7),
        };
        store_backend_add_fact(&conn->base, &fact, delta);
    }
    PQclear(result);
    return conn->base.deltas_lost ? STORE_ERROR : STORE_OK;
}

/* A list of seqs as PostgreSQL array text, "{1,2,3}" (malloc'd; NULL when out of memory). */
static char *seq_array(const PGresult *result)
{
    int rows = PQntuples(result);
    size_t size = 3 + (size_t)rows * 21, used = 0;
    char *text = malloc(size);

    if (text == NULL)
        return NULL;
    text[used++] = '{';
    for (int i = 0; i < rows; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%s", i ? "," : "", PQgetvalue(result, i, 0));
    snprintf(text + used, size - used, "}");
    return text;
}

/* Removes the responses of seqs, their rollup contributions and the idempotency records naming them. */
static enum store_status delete_seqs(struct pg_conn *conn, const char *seqs)
{
    const char *values[] = {seqs};
    enum store_status status = adjust_rollups(conn, seqs, -1);
    /* The tags first, while the topic rollups' trigger still sees what they counted. */
    if (status == STORE_OK)
        status = pg_topics_untag(conn, seqs);
    if (status == STORE_OK)
        status = pg_exec(conn,
                         "DELETE FROM idempotency WHERE response_id IN"
                         " (SELECT id FROM responses WHERE seq = ANY ($1::bigint[]))",
                         1, values, NULL);
    if (status == STORE_OK)
        status = pg_exec(conn, "DELETE FROM responses WHERE seq = ANY ($1::bigint[])", 1, values, NULL);
    return status;
}

/* Selects and locks seqs with sql (one or two parameters), then deletes them: *deleted of them. */
static enum store_status delete_selected(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                                         int64_t *deleted)
{
    enum store_status status;
    PGresult *result = pg_query(conn, sql, n, values, &status);
    char *seqs;

    *deleted = 0;
    if (result == NULL)
        return status;
    int rows = PQntuples(result);
    seqs = rows ? seq_array(result) : NULL;
    PQclear(result);
    if (rows == 0)
        return STORE_OK;
    if (seqs == NULL) {
        oom_note();
        return STORE_ERROR;
    }
    status = delete_seqs(conn, seqs);
    free(seqs);
    if (status == STORE_OK)
        *deleted = rows;
    return status;
}

/* The response's seq as array text, its row locked until the transaction ends. */
static enum store_status lock_response(struct pg_conn *conn, const char *id, char seqs[32])
{
    enum store_status status;
    const char *values[] = {id};
    PGresult *result = pg_query(conn, "SELECT seq FROM responses WHERE id = $1 FOR UPDATE", 1, values, &status);

    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1) {
        snprintf(seqs, 32, "{%s}", PQgetvalue(result, 0, 0));
        status = STORE_OK;
    }
    PQclear(result);
    return status;
}

enum store_status pg_update_answers(struct store_conn *base, const char *id, const char *answers_json)
{
    struct pg_conn *conn = pg_conn_of(base);
    char seqs[32];
    const char *values[] = {seqs, answers_json};
    enum store_status status = lock_response(conn, id, seqs);

    /* Out of the rollups as it was, back in as it is; the same for its tags (and so the topic
     * rollups): dropped before the answers change, given afresh after. */
    if (status == STORE_OK)
        status = adjust_rollups(conn, seqs, -1);
    if (status == STORE_OK)
        status = pg_topics_untag(conn, seqs);
    if (status == STORE_OK)
        status = pg_exec(conn, "UPDATE responses SET answers = $2 WHERE seq = ANY ($1::bigint[])", 2, values, NULL);
    if (status == STORE_OK) /* the text index (postgres_text.c) */
        status = pg_text_reindex(conn, seqs);
    if (status == STORE_OK)
        status = adjust_rollups(conn, seqs, +1);
    if (status == STORE_OK)
        status = pg_topics_retag(conn, seqs);
    return status;
}

enum store_status pg_delete_response(struct store_conn *base, const char *id)
{
    struct pg_conn *conn = pg_conn_of(base);
    char seqs[32];
    enum store_status status = lock_response(conn, id, seqs);
    return status == STORE_OK ? delete_seqs(conn, seqs) : status;
}

enum store_status pg_erase_customer(struct store_conn *base, const char *customer, int64_t *deleted)
{
    struct pg_conn *conn = pg_conn_of(base);
    const char *values[] = {customer};
    pg_touch(conn, NULL);
    enum store_status status =
        delete_selected(conn, "SELECT seq FROM responses WHERE customer = $1 FOR UPDATE", 1, values, deleted);
    if (status != STORE_OK)
        return status;
    if ((status = pg_exec(conn, "DELETE FROM idempotency WHERE customer = $1", 1, values, NULL)) != STORE_OK)
        return status;
    /* Their invitations too; *deleted keeps counting responses only, as on SQLite. */
    if ((status = pg_exec(conn, "DELETE FROM invitations WHERE customer = $1", 1, values, NULL)) != STORE_OK)
        return status;
    /* And every webhook delivery whose payload holds their data, in any state: a SENDING one too
     * (a sender is posting it), whose finish then finds it gone (STORE_NOT_FOUND). */
    if ((status = pg_exec(conn, "DELETE FROM webhook_deliveries WHERE customer = $1", 1, values, NULL)) != STORE_OK)
        return status;
    /* And every logged event whose object holds their data (response.deleted), prepared or not. */
    return pg_exec(conn, "DELETE FROM webhook_events WHERE customer = $1", 1, values, NULL);
}

/* SKIP LOCKED: two instances sweeping at once take different rows instead of waiting on each other. */
enum store_status pg_delete_before(struct store_conn *base, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    char cutoff[24], limit[24];
    const char *values[] = {pg_int_text(cutoff, cutoff_ms), pg_int_text(limit, max)};
    int64_t invitations = 0;
    pg_touch(pg_conn_of(base), NULL);
    enum store_status status =
        delete_selected(pg_conn_of(base),
                        "SELECT seq FROM responses WHERE submitted_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED", 2, values,
                        deleted);
    /* And up to max invitations, with the idempotency records whose stored reply holds their link:
     * *deleted counts both kinds of row, as on SQLite. */
    if (status == STORE_OK) {
        PGresult *result = pg_query(pg_conn_of(base),
                                    "WITH gone AS (DELETE FROM invitations WHERE seq IN"
                                    "  (SELECT seq FROM invitations WHERE created_at < $1 LIMIT $2"
                                    "   FOR UPDATE SKIP LOCKED) RETURNING id),"
                                    " replies AS (DELETE FROM idempotency WHERE response_id IN (SELECT id FROM gone))"
                                    " SELECT count(*) FROM gone",
                                    2, values, &status);
        if (status == STORE_OK)
            invitations = pg_int(result, 0, 0);
        PQclear(result);
    }
    if (status == STORE_OK)
        *deleted += invitations;
    return status;
}

/* ---- erasure's traces ---- */

/* PostgreSQL's files cannot be searched from here, so the needles are not looked for: the tables
 * that held a customer's data are vacuumed every time, so that their dead rows' space is marked
 * free and their index entries go (what PostgreSQL still keeps: docs/SECURITY.md). VACUUM refuses
 * to run in a transaction block, hence a plain one-statement query. */
enum store_status pg_purge(struct store_conn *base, char *const *needles, int count, bool *rewrote)
{
    struct pg_conn *conn = pg_conn_of(base);
    PGconn *db = pg_db(conn);
    enum store_status status = STORE_UNAVAILABLE;

    (void)needles;
    (void)count;
    *rewrote = false;
    if (db == NULL)
        return status;
    PGresult *result = PQexec(db, "VACUUM responses, text_answers, idempotency, invitations, webhook_deliveries, webhook_events");
    status = pg_status_of(conn, result);
    PQclear(result);
    if (status != STORE_OK)
        log_error("store: VACUUM after an erasure failed: %s", conn->error);
    *rewrote = status == STORE_OK;
    return status;
}

enum store_status pg_customer_traces(struct store_conn *base, const char *customer, char ***traces, int *count)
{
    enum store_status status;
    const char *values[] = {customer};
    /* As sqlite_changes.c: the response, invitation, delivery and logged event ids, every string answer of 8 bytes or more, the customer id from 6 bytes. */
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT id FROM responses WHERE customer = $1::text"
                                " UNION SELECT (a.value #>> '{}') COLLATE \"C\" FROM responses AS r"
                                "  CROSS JOIN LATERAL json_each(r.answers::json) AS a"
                                "  WHERE r.customer = $1::text AND json_typeof(a.value) = 'string'"
                                "  AND octet_length(a.value #>> '{}') >= 8"
                                " UNION SELECT id FROM invitations WHERE customer = $1::text"
                                " UNION SELECT id FROM webhook_deliveries WHERE customer = $1::text"
                                " UNION SELECT id FROM webhook_events WHERE customer = $1::text"
                                " UNION SELECT $1::text COLLATE \"C\" WHERE octet_length($1::text) >= 6",
                                1, values, &status);

    *traces = NULL;
    *count = 0;
    if (result == NULL)
        return status;
    int rows = PQntuples(result);
    if (rows > 0 && (*traces = calloc((size_t)rows, sizeof **traces)) == NULL)
        status = STORE_ERROR; /* a partial list would let the purge miss traces */
    for (int i = 0; i < rows && status == STORE_OK; i++) {
        if (((*traces)[i] = pg_text(result, i, 0)) == NULL)
            status = STORE_ERROR;
        else
            *count = i + 1;
    }
    PQclear(result);
    return status;
}

/* ---- idempotency records and edit tokens ---- */

/* A bytea column (text format, hex) as malloc'd bytes. */
static void *bytea_of(const PGresult *result, int row, int column, size_t *len)
{
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(result, row, column), len);
    void *copy = raw ? malloc(*len ? *len : 1) : NULL;
    if (copy)
        memcpy(copy, raw, *len);
    PQfreemem(raw);
    return copy;
}

/* In the writer's transaction, the key is locked before it is looked up, until the transaction
 * ends: another instance saving the same key right now has taken that lock first, so this look-up
 * waits for its commit and then finds its record (the replay), instead of missing the uncommitted
 * record and losing the race at the insert. A job rolled back releases the lock with its savepoint.
 * Two keys that hash alike only wait for each other. */
static enum store_status lock_key(struct pg_conn *conn, const char *const values[2])
{
    return pg_exec(conn, "SELECT pg_advisory_xact_lock(1937076854, hashtext($1 || E'\\n' || $2))", 2, values, NULL);
}

enum store_status pg_get_idempotency(struct store_conn *base, const char *scope, const char *key,
                                     struct store_idempotency_row *row)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    const char *values[] = {scope, key};

    memset(row, 0, sizeof *row);
    if (conn->in_transaction && (status = lock_key(conn, values)) != STORE_OK)
        return status;
    PGresult *result = pg_query(conn,
                                "SELECT body, status, reply, response_id FROM idempotency WHERE scope = $1 AND key = $2",
                                2, values, &status);
    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1) {
        row->body = bytea_of(result, 0, 0, &row->body_len);
        row->status = (int)pg_int(result, 0, 1);
        row->reply = pg_text(result, 0, 2);
        row->response_id = pg_text(result, 0, 3);
        status = STORE_OK;
        if (row->body == NULL || row->reply == NULL || (row->response_id == NULL && !PQgetisnull(result, 0, 3))) {
            oom_note();
            status = STORE_UNAVAILABLE;
        }
    }
    PQclear(result);
    return status;
}

/* A unique violation means another instance saved the same key first: STORE_CONFLICT (with
 * lock_key, only when the look-up was not made in this transaction). */
enum store_status pg_save_idempotency(struct store_conn *base, const struct store_idempotency *request, int status,
                                      const char *reply, const char *response_id, const char *customer,
                                      int64_t now_ms)
{
    char code[24], now[24];
    const char *values[] = {
        request->scope, request->key, request->body_len ? (const char *)request->body : "",
        pg_int_text(code, status), reply, response_id, customer, request->survey, pg_int_text(now, now_ms),
    };
    const int lengths[] = {0, 0, (int)request->body_len, 0, 0, 0, 0, 0, 0};
    const int formats[] = {0, 0, 1, 0, 0, 0, 0, 0, 0}; /* the body as raw bytes */
    enum store_status result_status;
    PGresult *result = pg_query_binary(pg_conn_of(base),
                                       "INSERT INTO idempotency (scope, key, body, status, reply, response_id,"
                                       " customer, survey, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                       9, values, lengths, formats, &result_status);
    PQclear(result);
    return result_status;
}

enum store_status pg_get_edit_token(struct store_conn *base, const char *response_id, unsigned char *hash,
                                    size_t hash_len, int64_t *expires_at)
{
    enum store_status status;
    const char *values[] = {response_id};
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT edit_token_hash, edit_token_expires_at FROM responses"
                                " WHERE id = $1 AND edit_token_hash IS NOT NULL",
                                1, values, &status);

    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1) {
        size_t len = 0;
        unsigned char *stored = bytea_of(result, 0, 0, &len);
        /* A stored hash of another length (never written by this code) grants nothing. */
        if (stored == NULL) {
            status = STORE_UNAVAILABLE;
        } else if (len == hash_len) {
            memcpy(hash, stored, hash_len);
            *expires_at = pg_int(result, 0, 1);
            status = STORE_OK;
        }
        free(stored);
    }
    PQclear(result);
    return status;
}
