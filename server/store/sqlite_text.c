/* The SQLite backend: feeding the full-text index (schema/012_text_index.sql, docs/search.md).
 *
 * Triggers queue every change of a response's document in text_pending; the writer feeds the queue
 * to FTS5 right before it commits a batch (sqlite_commit). Without stemming one INSERT ... SELECT
 * does it. With --text-language, each document goes through text_stem_document first: the index
 * then holds stems, which FTS5's unicode61 tokenizer reads back as they are, and a 'delete' must
 * send the same stems, which the same function makes again from the same text. */
#include "sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* One queued change, stemmed, into the index. */
static enum store_status put_stemmed(struct sqlite_conn *conn, int64_t seq, int remove, const char *body, int len)
{
    char *stems = text_stem_document(conn->text_language, body, (size_t)len);
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TEXT_PUT);
    enum store_status status = STORE_UNAVAILABLE; /* out of memory */
    if (stems != NULL && s != NULL) {
        sqlite3_bind_int64(s, 1, seq);
        sqlite3_bind_int(s, 2, remove);
        sqlite3_bind_text(s, 3, stems, -1, SQLITE_STATIC);
        status = sqlite_run(conn, s);
    } else if (s == NULL) {
        status = STORE_ERROR;
    }
    free(stems);
    return status;
}

static enum store_status feed_stemmed(struct sqlite_conn *conn)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TEXT_PENDING);
    enum store_status status = STORE_OK;
    int rc;
    if (s == NULL)
        return STORE_ERROR;
    while (status == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        status = put_stemmed(conn, sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1),
                             (const char *)sqlite3_column_text(s, 2), sqlite3_column_bytes(s, 2));
    sqlite_done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    return status;
}

/* Outside any savepoint: one new FTS5 segment per commit instead of one per request. */
enum store_status sqlite_text_flush(struct sqlite_conn *conn)
{
    enum store_status status;
    if (conn->text_language == TEXT_LANGUAGE_NONE) {
        status = sqlite_run(conn, sqlite_stmt(conn, STMT_TEXT_FEED));
        if (status != STORE_OK || sqlite3_changes(conn->db) == 0)
            return status;
    } else if ((status = feed_stemmed(conn)) != STORE_OK) {
        return status;
    }
    return sqlite_run(conn, sqlite_stmt(conn, STMT_TEXT_CLEAR));
}

static bool stored_language(sqlite3 *db, enum text_language *out, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "SELECT language FROM text_index_settings", -1, &s, NULL) == SQLITE_OK &&
              sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL &&
              text_language_parse((const char *)sqlite3_column_text(s, 0), out);
    if (!ok)
        snprintf(err, err_size, "cannot read the text index's language: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return ok;
}

/* Every document into the (emptied) index, stemmed for the writer's language. */
static bool reindex(struct sqlite_conn *writer, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    enum store_status status = STORE_OK;
    int rc = sqlite3_prepare_v2(writer->db, "SELECT seq, body FROM response_documents WHERE body IS NOT NULL",
                                -1, &s, NULL);
    if (rc == SQLITE_OK)
        while (status == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
            status = put_stemmed(writer, sqlite3_column_int64(s, 0), 0, (const char *)sqlite3_column_text(s, 1),
                                 sqlite3_column_bytes(s, 1));
    bool ok = status == STORE_OK && rc == SQLITE_DONE;
    if (!ok)
        snprintf(err, err_size, "re-indexing the text answers failed: %s", sqlite3_errmsg(writer->db));
    sqlite3_finalize(s);
    return ok;
}

bool sqlite_text_sync_language(struct sqlite_conn *writer, char *err, size_t err_size)
{
    enum text_language built;
    char sql[96];
    if (!stored_language(writer->db, &built, err, err_size))
        return false;
    if (built == writer->text_language)
        return true;
    log_info("store: re-indexing the text answers for --text-language %s (the index was built for %s)",
             text_language_name(writer->text_language), text_language_name(built));
    snprintf(sql, sizeof sql, "UPDATE text_index_settings SET language = '%s'", text_language_name(writer->text_language));
    if (!sqlite_conn_exec(writer->db, "BEGIN IMMEDIATE", err, err_size))
        return false;
    if (!sqlite_conn_exec(writer->db, "INSERT INTO response_text_index (response_text_index) VALUES ('delete-all')",
                          err, err_size) ||
        !reindex(writer, err, err_size) || !sqlite_conn_exec(writer->db, sql, err, err_size)) {
        sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    if (!sqlite_conn_exec(writer->db, "COMMIT", err, err_size))
        return false;
    log_info("store: re-indexed the text answers");
    return true;
}
