/* The PostgreSQL backend as surveyd migrate's target: responses streamed with COPY.
 *
 * One INSERT per response waits for a round trip each: about 800 rows a second measured here,
 * hours for a store of millions. COPY streams a batch's rows in one statement instead: the rows
 * go out as PQputCopyData lines, and the statement ends (and reports any error: a duplicate id or
 * interaction, a missing survey) at import_end, which migrate calls before the commit. The rows'
 * rollup cells are store.c's business (store_backend_add_fact), as for every other insert, and
 * need nothing from the connection meanwhile.
 *
 * Whether a COPY is under way is libpq's own state: PQTRANS_ACTIVE (a command sent and not yet
 * finished) is only ever a COPY on the writer's connection, whose other statements all complete
 * before their call returns. */
#include "postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_COPY "COPY responses (id, survey, submitted_at, received_at, channel, customer, agent, interaction," \
    " answers, properties, edit_token_hash, edit_token_expires_at) FROM STDIN"

/* One COPY line being built (text format). */
struct line {
    char *data;
    size_t len, cap;
    bool failed;                /* out of memory */
};

static void line_reserve(struct line *line, size_t more)
{
    if (line->failed || line->len + more <= line->cap)
        return;
    size_t cap = line->cap ? line->cap : 1024;
    while (cap < line->len + more)
        cap *= 2;
    char *grown = realloc(line->data, cap);
    if (grown == NULL) {
        line->failed = true;
        return;
    }
    line->data = grown;
    line->cap = cap;
}

static void line_raw(struct line *line, const char *text, size_t len)
{
    line_reserve(line, len);
    if (line->failed)
        return;
    memcpy(line->data + line->len, text, len);
    line->len += len;
}

/* A field, with the separator before it unless first: \N for NULL, else the text with COPY's
 * escapes for the characters that would end the field or the line. */
static void line_text(struct line *line, const char *text, bool first)
{
    if (!first)
        line_raw(line, "\t", 1);
    if (text == NULL) {
        line_raw(line, "\\N", 2);
        return;
    }
    line_reserve(line, 2 * strlen(text));
    for (const char *p = text; *p && !line->failed; p++) {
        const char *escaped = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
        if (escaped)
            line_raw(line, escaped, 2);
        else
            line_raw(line, p, 1);
    }
}

static void line_int(struct line *line, int64_t n)
{
    char buf[24];
    line_text(line, pg_int_text(buf, n), false);
}

/* bytea in hex form, \x..., its backslash doubled for COPY. */
static void line_bytes(struct line *line, const unsigned char *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    line_raw(line, "\t\\\\x", 4);
    line_reserve(line, 2 * len);
    for (size_t i = 0; i < len && !line->failed; i++) {
        char pair[2] = {hex[bytes[i] >> 4], hex[bytes[i] & 15]};
        line_raw(line, pair, 2);
    }
}

static void format_row(struct line *line, const struct store_stored_response *stored)
{
    const struct store_response_row *row = &stored->row;

    line_text(line, row->id, true);
    line_text(line, row->survey, false);
    line_int(line, row->submitted_at);
    line_int(line, row->received_at);
    line_text(line, row->channel, false);
    line_text(line, row->customer, false);
    line_text(line, row->agent, false);
    line_text(line, row->interaction, false);
    line_text(line, row->answers, false);
    line_text(line, row->properties, false);
    if (stored->token.hash) {
        line_bytes(line, stored->token.hash, stored->token.hash_len);
        line_int(line, stored->token.expires_at);
    } else {
        line_text(line, NULL, false);
        line_text(line, NULL, false);
    }
    line_raw(line, "\n", 1);
}

static enum store_status start_copy(struct pg_conn *conn, PGconn *db)
{
    PGresult *result = PQexec(db, RESPONSE_COPY);
    enum store_status status = PQresultStatus(result) == PGRES_COPY_IN ? STORE_OK : pg_status_of(conn, result);

    PQclear(result);
    return status;
}

enum store_status pg_import_response(struct store_conn *base, const struct store_stored_response *row)
{
    struct pg_conn *conn = pg_conn_of(base);
    PGconn *db = pg_db(conn);
    struct line line = {0};
    enum store_status status = STORE_OK;

    if (db == NULL)
        return STORE_UNAVAILABLE;
    if (PQtransactionStatus(db) != PQTRANS_ACTIVE && (status = start_copy(conn, db)) != STORE_OK)
        return status;
    format_row(&line, row);
    if (line.failed) {
        snprintf(conn->error, sizeof conn->error, "out of memory");
        status = STORE_ERROR;
    } else if (PQputCopyData(db, line.data, (int)line.len) != 1) {
        snprintf(conn->error, sizeof conn->error, "%s", PQerrorMessage(db));
        status = STORE_UNAVAILABLE;
    }
    free(line.data);
    return status;
}

/* Ends the COPY under way, if any: keep false aborts it (the transaction is then rolled back). */
enum store_status pg_import_end(struct store_conn *base, bool keep)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status = STORE_OK;
    PGresult *result;

    if (conn->db == NULL || PQtransactionStatus(conn->db) != PQTRANS_ACTIVE)
        return STORE_OK;
    if (PQputCopyEnd(conn->db, keep ? NULL : "surveyd migrate gave up this batch") != 1) {
        snprintf(conn->error, sizeof conn->error, "%s", PQerrorMessage(conn->db));
        status = STORE_UNAVAILABLE;
    }
    /* The COPY's own result, then NULL: every result must be read before the next statement. */
    while ((result = PQgetResult(conn->db)) != NULL) {
        if (status == STORE_OK && PQresultStatus(result) != PGRES_COMMAND_OK)
            status = pg_status_of(conn, result);
        PQclear(result);
    }
    /* The documents handed over during the COPY, now that statements may run again. */
    if (keep && status == STORE_OK)
        return pg_text_flush_pending(conn);
    pg_text_pending_free(conn);
    return keep ? status : STORE_OK;
}
