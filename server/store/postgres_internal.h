/* The PostgreSQL backend's shared internals (postgres*.c only; see backend.h for the contract).
 *
 * Schema (schema/postgres/NNN_*.sql, embedded, applied under an advisory lock so that instances
 * starting together migrate once; the applied version lives in schema_version): the SQLite
 * schema's tables and columns with the same names, times as bigint milliseconds, JSON kept as the
 * exact text it was stored with (text, never jsonb: replies must give back the same bytes), the
 * edit token hash as bytea. A rollup bucket is three columns, because a choice option spelled "1"
 * or "-1" must never meet the number 1 or the "other" bucket: is_text boolean, value bigint (0 when
 * is_text), value_text text ('' unless is_text). */
#ifndef SURVEYD_STORE_POSTGRES_INTERNAL_H
#define SURVEYD_STORE_POSTGRES_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "text_stem.h"

struct pg_conn;

struct pg_store {
    struct store base;
    char *uri;                  /* the connection URI: never logged (it may hold a password) */
    bool read_only;
    struct pg_conn *writer;
    pthread_key_t reader_key;
    pthread_mutex_t readers_lock;
    struct pg_conn *readers;    /* every reader, for closing */
    enum text_language text_language;   /* how topic queries are stemmed and the text index built */
};

struct pg_conn {
    struct store_conn base;
    struct pg_store *store;
    PGconn *db;                 /* NULL while disconnected: reconnected on the next use */
    char error[256];            /* the last failure's message, for store_last_error */
    struct pg_conn *next;       /* in store->readers */
    /* Added by postgres.c (h-pg-core): the statements prepared on db, by their SQL text's address
     * (their names are "s<number>"), forgotten when db is dropped. */
    const char **prepared;
    int *prepared_ids;          /* the number in each one's name */
    int prepared_count, prepared_cap;
    /* Every PQprepare takes a new name: one whose success was lost (libpq out of memory reading
     * the answer) left its name taken on the server, and reusing it would fail forever. */
    int prepare_attempts;
    /* BEGIN sent and no COMMIT or ROLLBACK yet: a connection lost now lost the transaction, so
     * pg_db does not reconnect until the rollback says the caller knows. */
    bool in_transaction;
    int64_t xid;                /* the writer's transaction's id (txid_current), 0 outside one */
    /* A failure on this side (out of memory in libpq, a pipeline that stopped answering) may have
     * left the protocol's state unknown: results unread, a transaction open. The connection is
     * replaced at the next chance instead of being trusted again (pg_db). */
    bool suspect;
    /* The surveys this transaction wrote to beyond its rollup cells (a definition, a deletion),
     * and whether it may have touched every survey (erasure, retention): their data versions are
     * bumped at commit (pg_touch). */
    char **touched;
    int touched_count, touched_cap;
    bool touched_all;
    /* postgres_text.c: documents handed over while migrate's COPY runs, written once it has ended
     * (no other statement may run during a COPY): response ids and their tsvector literals. */
    char **pending_ids, **pending_tsv;
    int pending_count, pending_cap;
    /* The surveys' topics as the writer last parsed them (postgres_topics.c); NULL until needed. */
    struct pg_topic_cache *topic_cache;
};

/* Notes that the writer's transaction changed survey's data (NULL: maybe every survey's). */
void pg_touch(struct pg_conn *conn, const char *survey);
void pg_touched_clear(struct pg_conn *conn);

/* Rolls back a transaction the server holds open on conn while this side thinks none is. */
void pg_end_stray_transaction(struct pg_conn *conn);

static inline struct pg_conn *pg_conn_of(struct store_conn *conn)
{
    return (struct pg_conn *)conn;
}

/* The connection's PGconn, connecting (again) when it has none or lost it; NULL when the server
 * cannot be reached (the caller answers STORE_UNAVAILABLE). Never inside a transaction that was
 * under way when the connection broke: that transaction is gone, and the caller's status says so. */
PGconn *pg_db(struct pg_conn *conn);

/* A result's status as store.h's: 23505 unique violation → STORE_CONFLICT, 23503 foreign key →
 * STORE_NOT_FOUND, 40001/40P01 (serialization, deadlock) → STORE_RETRY, 53xxx (resources), 57P0x
 * (shutdown), 25006 (read-only standby) and 08xxx or a broken connection → STORE_UNAVAILABLE,
 * anything else → STORE_ERROR. Keeps the
 * message in conn->error. A NULL result is a broken connection. */
enum store_status pg_status_of(struct pg_conn *conn, const PGresult *result);

/* Runs a statement with text parameters (NULL for SQL NULL) and returns its result (PQclear it),
 * or NULL with conn->error set and *status filled. Statements are prepared once per connection
 * under their SQL text's address, so pass string literals or other static SQL. */
PGresult *pg_query(struct pg_conn *conn, const char *sql, int n, const char *const *values, enum store_status *status);

/* pg_query without a prepared statement: planned for these values every time. For statements whose
 * best plan depends on them (the search plans, postgres_read.c): a prepared statement's generic
 * plan, which PostgreSQL may switch to after five runs, cannot see how selective a tsquery is. */
PGresult *pg_query_planned(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                           enum store_status *status);

/* pg_query with lengths and formats per parameter (1: binary, for bytea; NULL: all text). */
PGresult *pg_query_binary(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                          const int *lengths, const int *formats, enum store_status *status);

/* The same for a statement without rows: STORE_OK or the error's status; *affected (may be NULL)
 * gets the number of rows it changed. */
enum store_status pg_exec(struct pg_conn *conn, const char *sql, int n, const char *const *values,
                          int64_t *affected);

/* Text of a column, or NULL for SQL NULL (malloc'd; NULL also when out of memory: check
 * PQgetisnull to tell). */
char *pg_text(const PGresult *result, int row, int column);
/* pg_text for a row read into several fields: *whole becomes false when a copy failed. */
char *pg_text_whole(const PGresult *result, int row, int column, bool *whole);
/* A column copied into a fixed buffer ("" for SQL NULL), cut to size. */
void pg_copy_text(const PGresult *result, int row, int column, char *out, size_t size);
int64_t pg_int(const PGresult *result, int row, int column);

/* Decimal text of n in buf (at least 24 bytes), for parameters. */
const char *pg_int_text(char *buf, int64_t n);

/* postgres_read.c: listing, export cursors, metrics and the day span. */
enum store_status pg_list_responses(struct store_conn *conn, const struct store_list_query *query,
                                    void (*each)(const struct store_response_row *row, void *arg), void *arg);
struct store_iter *pg_iter_open(struct store *store, const struct store_list_query *query, char *err,
                                size_t err_size);
enum store_status pg_iter_next(struct store_iter *iter, struct store_response_row *row);
void pg_iter_pause(struct store_iter *iter);
void pg_iter_close(struct store_iter *iter);
enum store_status pg_metrics_begin(struct store_conn *conn, bool *began);
enum store_status pg_metrics_end(struct store_conn *conn, bool began, enum store_status status);
enum store_status pg_metrics_range(struct store_conn *conn, const struct store_metrics_query *query,
                                   enum store_scan_source source, int64_t lo, int64_t hi, store_metrics_fn each,
                                   void *arg);
enum store_status pg_day_span(struct store_conn *conn, const char *survey, int64_t *first_day, int64_t *last_day);

/* postgres_topics.c: topics (store.h) and the tags of responses as they are stored or edited. */
enum store_status pg_put_topic(struct store_conn *conn, struct store_topic_row *row, bool query_changed,
                               bool *created);
enum store_status pg_get_topic(struct store_conn *conn, const char *survey, const char *id,
                               struct store_topic_row *out);
enum store_status pg_list_topics(struct store_conn *conn, const char *survey,
                                 void (*each)(const struct store_topic_row *row, void *arg), void *arg);
enum store_status pg_delete_topic(struct store_conn *conn, const char *survey, const char *id);
enum store_status pg_count_topics(struct store_conn *conn, const char *survey, int64_t *count);
void pg_topic_cache_free(struct pg_topic_cache *cache);
/* One batch of the first running topic's back-fill (store.h's store_topic_backfill). */
enum store_status pg_topic_backfill(struct store_conn *conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                    bool *more);
/* Tags the new response seq (decimal text) of survey with every topic its answers match. */
enum store_status pg_topics_tag(struct pg_conn *conn, const char *seq, const char *survey, const char *answers_json);
/* Drops the tags of the responses in seqs (array text, "{1,2}"): before they are deleted or their
 * answers change, so that the topic rollups' trigger takes away what the tags counted. */
enum store_status pg_topics_untag(struct pg_conn *conn, const char *seqs);
/* Drops the tags of the responses in seqs and tags them afresh from their answers as they are now
 * (an edit, after pg_topics_untag and the change). */
enum store_status pg_topics_retag(struct pg_conn *conn, const char *seqs);
/* The problems of the tags in the snapshot of db, reported as sqlite_verify's lines. */
enum store_status pg_verify_topics(PGconn *db, enum text_language language, void (*report)(const char *line, void *arg),
                                   void *arg, uint64_t *differences);

/* postgres_verify.c: `surveyd verify`. */
enum store_status pg_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                            uint64_t *differences, uint64_t *responses);
enum store_status pg_each_answers(struct store *store, store_answers_fn each, void *arg);

/* postgres_migrate.c: migrate's responses streamed with COPY (backend.h's import_response and
 * import_end). */
enum store_status pg_import_response(struct store_conn *conn, const struct store_stored_response *row);
enum store_status pg_import_end(struct store_conn *conn, bool keep);

/* postgres_text.c: the full-text index (schema/postgres/007_text_index.sql). */
enum store_status pg_index_text(struct store_conn *conn, const char *id, const char *text);
/* After an edit, in its transaction: the documents of the responses whose seqs are in the array
 * text seqs again, from their answers and their survey's stored definition. */
enum store_status pg_text_reindex(struct pg_conn *conn, const char *seqs);
enum store_status pg_text_flush_pending(struct pg_conn *conn);
void pg_text_pending_free(struct pg_conn *conn);
/* The writer at open: builds the index when it never was, or was for another language. */
bool pg_text_sync(PGconn *db, enum text_language language, char *err, size_t err_size);
/* `surveyd verify` (in its snapshot on db): every response's row against its text's tsvector,
 * one line per difference. False with err set when it could not tell. */
bool pg_text_verify(PGconn *db, void (*report)(const char *line, void *arg), void *arg, uint64_t *differences,
                    char *err, size_t err_size);
/* The tsvector literal of a document (malloc'd; "" when it has no token), NULL when out of memory. */
char *pg_text_tsvector(enum text_language language, const char *text);
/* The tsvector literal of stored answers (*tsv NULL when they have no token); false when out of
 * memory. */
bool pg_text_stored_tsvector(enum text_language language, const struct survey *survey, const char *answers_json,
                             char **tsv);

/* A fresh connection of its own (for an export cursor or verify), or NULL with err set. */
PGconn *pg_connect(struct pg_store *store, char *err, size_t err_size);

#endif
