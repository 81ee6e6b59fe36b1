/* The PostgreSQL backend: invitations (store.h, "invitations"; schema/postgres/002_invitations.sql).
 * Each statement as in sqlite_invitations.c, with PostgreSQL's answers to several instances sharing
 * the database: every write bumps its survey's data version (pg_touch), and store_last_contact
 * takes a transaction-scoped advisory lock on (survey, customer) before it reads. Erasure,
 * retention and traces are in postgres_write.c; a survey's invitations go with it by the foreign key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "postgres_ops.h"

#define INVITATION_COLUMNS                                                                                     \
    "id, survey, customer, channel, agent, interaction, properties, outcome, token_hash, form_key, created_at," \
    " expires_at, opened_at, responded_at, response_id, automated_visits, last_visit_at, last_visit_value, captured"

/* The advisory lock class of (survey, customer) pairs: "invi". The idempotency keys' is another
 * (postgres_write.c), so the two never wait on each other. */
#define CONTACT_LOCK_CLASS "1768846953"

/* Columns as INVITATION_COLUMNS lists them (text format; the hash as bytea's hex text). */
static enum store_status read_invitation(const PGresult *r, struct store_invitation_row *out)
{
    bool whole = true;

    pg_copy_text(r, 0, 0, out->id, sizeof out->id);
    pg_copy_text(r, 0, 1, out->survey, sizeof out->survey);
    out->customer = pg_text_whole(r, 0, 2, &whole);
    out->channel = pg_text_whole(r, 0, 3, &whole);
    out->agent = pg_text_whole(r, 0, 4, &whole);
    out->interaction = pg_text_whole(r, 0, 5, &whole);
    out->properties = pg_text_whole(r, 0, 6, &whole);
    out->outcome = (enum store_invitation_outcome)pg_int(r, 0, 7);
    if (!PQgetisnull(r, 0, 8)) {
        size_t len = 0;
        unsigned char *hash = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 8), &len);
        if (hash == NULL)
            whole = false;
        /* A stored hash of another length (never written by this code) opens nothing. */
        out->has_token = hash != NULL && len == STORE_INVITATION_HASH_LEN;
        if (out->has_token)
            memcpy(out->token_hash, hash, STORE_INVITATION_HASH_LEN);
        PQfreemem(hash);
    }
    pg_copy_text(r, 0, 9, out->form_key, sizeof out->form_key);
    out->created_at = pg_int(r, 0, 10);
    out->expires_at = pg_int(r, 0, 11);
    out->opened_at = pg_int(r, 0, 12);
    out->responded_at = pg_int(r, 0, 13);
    pg_copy_text(r, 0, 14, out->response_id, sizeof out->response_id);
    out->automated_visits = pg_int(r, 0, 15);
    out->last_visit_at = pg_int(r, 0, 16);
    out->last_visit_value = pg_text_whole(r, 0, 17, &whole);
    out->captured = pg_text_whole(r, 0, 18, &whole);
    if (!whole || out->customer == NULL) {
        oom_note();
        store_invitation_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* A query for at most one invitation, its parameters as given. */
static enum store_status read_one(struct pg_conn *conn, const char *sql, const char *const *values,
                                  const int *lengths, const int *formats, struct store_invitation_row *out)
{
    enum store_status status;
    PGresult *result = pg_query_binary(conn, sql, 1, values, lengths, formats, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? read_invitation(result, out) : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

static const char *text_or_null(const char *text)
{
    return text && text[0] ? text : NULL;
}

enum store_status pg_insert_invitation(struct store_conn *base, const struct store_invitation_row *row)
{
    struct pg_conn *conn = pg_conn_of(base);
    char outcome[24], created[24], expires[24], opened[24], responded[24], automated[24], visited[24];
    const char *values[] = {
        row->id, row->survey, row->customer, row->channel, row->agent, row->interaction, row->properties,
        pg_int_text(outcome, (int64_t)row->outcome), row->has_token ? (const char *)row->token_hash : NULL,
        text_or_null(row->form_key), pg_int_text(created, row->created_at), pg_int_text(expires, row->expires_at),
        pg_int_text(opened, row->opened_at), pg_int_text(responded, row->responded_at),
        text_or_null(row->response_id), pg_int_text(automated, row->automated_visits),
        pg_int_text(visited, row->last_visit_at), row->last_visit_value, row->captured,
    };
    int lengths[19] = {0}, formats[19] = {0};
    enum store_status status;

    lengths[8] = STORE_INVITATION_HASH_LEN;
    formats[8] = 1; /* the hash as raw bytes */
    pg_touch(conn, row->survey);
    PGresult *result = pg_query_binary(conn,
                                       "INSERT INTO invitations (" INVITATION_COLUMNS ") VALUES ($1, $2, $3, $4, $5,"
                                       " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                                       19, values, lengths, formats, &status);
    /* pg_status_of: a survey that is gone (foreign key) is STORE_NOT_FOUND, a taken id or token
     * hash STORE_CONFLICT, as sqlite_invitations.c answers. */
    PQclear(result);
    return status;
}

enum store_status pg_get_invitation(struct store_conn *base, const char *id, struct store_invitation_row *out)
{
    const char *values[] = {id};
    return read_one(pg_conn_of(base), "SELECT " INVITATION_COLUMNS " FROM invitations WHERE id = $1", values, NULL,
                    NULL, out);
}

enum store_status pg_find_invitation_by_token(struct store_conn *base,
                                              const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                              struct store_invitation_row *out)
{
    const char *values[] = {(const char *)hash};
    const int lengths[] = {STORE_INVITATION_HASH_LEN}, formats[] = {1};
    return read_one(pg_conn_of(base),
                    "SELECT " INVITATION_COLUMNS " FROM invitations WHERE token_hash = $1 AND outcome = 0", values,
                    lengths, formats, out);
}

enum store_status pg_update_invitation(struct store_conn *base, const struct store_invitation_row *row)
{
    struct pg_conn *conn = pg_conn_of(base);
    char opened[24], responded[24], automated[24], visited[24];
    const char *values[] = {
        row->id, pg_int_text(opened, row->opened_at), pg_int_text(responded, row->responded_at),
        text_or_null(row->response_id), pg_int_text(automated, row->automated_visits),
        pg_int_text(visited, row->last_visit_at), row->last_visit_value, row->captured,
    };
    enum store_status status;
    /* RETURNING the survey: its data version is bumped whatever survey the caller's row names. */
    PGresult *result = pg_query(conn,
                                "UPDATE invitations SET opened_at = $2, responded_at = $3, response_id = $4,"
                                " automated_visits = $5, last_visit_at = $6, last_visit_value = $7, captured = $8"
                                " WHERE id = $1 RETURNING survey",
                                8, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK)
        pg_touch(conn, PQgetvalue(result, 0, 0));
    PQclear(result);
    return status;
}

/* The lock comes first and on its own: READ COMMITTED takes a snapshot per statement, so the read
 * that follows the wait sees what the instance that held the lock committed (its invitation), and
 * decides after it. Within one statement the snapshot would predate the wait. Two pairs that hash
 * alike only wait for each other. */
enum store_status pg_last_contact(struct store_conn *base, const char *survey, const char *customer,
                                  int64_t *last_ms)
{
    struct pg_conn *conn = pg_conn_of(base);
    const char *values[] = {survey, customer};
    enum store_status status = pg_exec(conn,
                                       "SELECT pg_advisory_xact_lock(" CONTACT_LOCK_CLASS ","
                                       " hashtext($1 || E'\\n' || $2))",
                                       2, values, NULL);
    if (status != STORE_OK)
        return status;
    PGresult *result = pg_query(conn,
                                "SELECT (SELECT max(created_at) FROM invitations"
                                "         WHERE survey = $1 AND customer = $2 AND outcome = 0),"
                                " (SELECT max(submitted_at) FROM responses WHERE customer = $2 AND survey = $1)",
                                2, values, &status);
    if (result == NULL)
        return status;
    status = STORE_NOT_FOUND;
    for (int column = 0; column < 2 && PQntuples(result) == 1; column++) {
        if (PQgetisnull(result, 0, column))
            continue;
        int64_t at = pg_int(result, 0, column);
        if (status == STORE_NOT_FOUND || at > *last_ms)
            *last_ms = at;
        status = STORE_OK;
    }
    PQclear(result);
    return status;
}

/* Days as the responses' (submitted_at / 86400000: bigint division truncates, as SQLite's does).
 * Both statements take the same parameters ($2, $3: days or milliseconds) and return the same
 * columns; the rollup (schema/postgres/003_invitation_days.sql) holds no all-zero row. */
static const char scan_raw_sql[] =
    "SELECT created_at / 86400000, coalesce(channel, ''),"
    " CASE WHEN $6::boolean THEN coalesce(agent, '') ELSE '' END,"
    " count(*) FILTER (WHERE outcome = 0), count(*) FILTER (WHERE outcome <> 0),"
    " count(*) FILTER (WHERE outcome = 0 AND (opened_at > 0 OR responded_at > 0)),"
    " count(*) FILTER (WHERE outcome = 0 AND responded_at > 0) FROM invitations"
    " WHERE survey = $1 AND created_at >= $2 AND created_at < $3"
    " AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR agent = $5)"
    " GROUP BY 1, 2, 3";
static const char scan_days_sql[] =
    "SELECT day, channel, CASE WHEN $6::boolean THEN agent ELSE '' END,"
    " sum(sent), sum(suppressed), sum(opened), sum(responded) FROM invitation_days"
    " WHERE survey = $1 AND day >= $2 AND day < $3"
    " AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR agent = $5)"
    " GROUP BY 1, 2, 3";

enum store_status pg_invitation_range(struct store_conn *base, const struct store_metrics_query *q, bool from_rollup,
                                      int64_t lo, int64_t hi,
                                      void (*each)(const struct store_invitation_cell *cell, void *arg), void *arg)
{
    char from[24], to[24];
    const char *values[] = {
        q->survey, pg_int_text(from, lo), pg_int_text(to, hi), q->channel, q->agent,
        q->by_agent || q->agent ? "true" : "false",
    };
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base), from_rollup ? scan_days_sql : scan_raw_sql, 6, values, &status);

    if (result == NULL)
        return status;
    for (int i = 0; i < PQntuples(result); i++) {
        struct store_invitation_cell cell = {
            .day = pg_int(result, i, 0),
            .channel = PQgetvalue(result, i, 1),
            .agent = PQgetvalue(result, i, 2),
            .sent = pg_int(result, i, 3),
            .suppressed = pg_int(result, i, 4),
            .opened = pg_int(result, i, 5),
            .responded = pg_int(result, i, 6),
        };
        each(&cell, arg);
    }
    PQclear(result);
    return STORE_OK;
}
