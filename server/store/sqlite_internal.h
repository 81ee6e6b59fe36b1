/* The SQLite backend's shared internals (sqlite*.c only; see backend.h for the contract).
 *
 * sqlite.c: connections, schema migrations, statement helpers, transactions, the backend table;
 * sqlite_responses.c: surveys, responses, listing and export; sqlite_changes.c: updates and
 * deletions with their rollups, idempotency records, edit tokens; sqlite_invitations.c: invitations
 * (their erasure and retention are in sqlite_changes.c); sqlite_webhooks.c: webhook subscriptions,
 * their outbox and the event log (erasure likewise); sqlite_metrics.c: the metrics
 * scan; sqlite_verify.c: `surveyd verify`; sqlite_maintenance.c: WAL checkpoints, erasure purge,
 * backup, health; sqlite_checkpointer.c: the background checkpointer thread. */
#ifndef SURVEYD_STORE_SQLITE_INTERNAL_H
#define SURVEYD_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_GET_SURVEY,
    STMT_SURVEY_IS,
    STMT_LIST_SURVEYS,
    STMT_INSERT_SURVEY,
    STMT_UPDATE_SURVEY,
    STMT_DELETE_SURVEY,
    STMT_DELETE_SURVEY_RESPONSES,
    STMT_DELETE_SURVEY_IDEMPOTENCY,
    STMT_ANSWER_COUNT,
    STMT_GET_RESPONSE,
    STMT_INSERT_RESPONSE,
    STMT_FIND_INTERACTION,
    STMT_FACTS_OF,
    STMT_RESPONSE_CELL_OF,
    STMT_UPSERT_ANSWERS,
    STMT_UPSERT_ANSWERS_AGENT,
    STMT_UPSERT_RESPONSES,
    STMT_UPSERT_RESPONSES_AGENT,
    STMT_UPSERT_ANSWERED,
    STMT_UPSERT_ANSWERS_MONTH,
    STMT_UPSERT_RESPONSES_MONTH,
    STMT_UPSERT_ANSWERS_HOUR,
    STMT_UPSERT_RESPONSES_HOUR,
    STMT_CLEAR_QUESTIONS,
    STMT_SET_QUESTIONS,
    STMT_SCAN_ANSWERS,
    STMT_SCAN_ANSWERS_AGENT,
    STMT_SCAN_ANSWERS_ALL_AGENTS,
    STMT_SCAN_RESPONSES,
    STMT_SCAN_RESPONSES_AGENT,
    STMT_SCAN_RESPONSES_ALL_AGENTS,
    STMT_SCAN_ANSWERS_MONTH,
    STMT_SCAN_RESPONSES_MONTH,
    STMT_SCAN_ANSWERS_HOUR,
    STMT_SCAN_RESPONSES_HOUR,
    STMT_SCAN_RAW_ANSWERS,
    STMT_SCAN_RAW_RESPONSES,
    STMT_DAY_SPAN,
    STMT_FIND_IDEMPOTENCY,
    STMT_SAVE_IDEMPOTENCY,
    STMT_GET_EDIT_TOKEN,
    STMT_LIST,
    STMT_LIST_CUSTOMER,
    STMT_TEXT_MATCHES,
    STMT_LIST_SEQS,
    STMT_LIST_CUSTOMER_SEQS,
    STMT_TEXT_IN_RANGE,
    STMT_RESPONSE_BY_SEQ,
    STMT_LIST_TEXT_WALK,
    STMT_LIST_CUSTOMER_TEXT_WALK,
    STMT_LIST_TEXT_DRIVE,
    STMT_LIST_TEXT_RANK,
    STMT_TEXT_FEED,
    STMT_TEXT_CLEAR,
    STMT_TEXT_PENDING,
    STMT_TEXT_PUT,
    STMT_SEQ_OF,
    STMT_UPDATE_ANSWERS,
    STMT_DELETE_RESPONSE,
    STMT_DELETE_RESPONSE_IDEMPOTENCY,
    STMT_CUSTOMER_SEQS,
    STMT_DELETE_CUSTOMER_IDEMPOTENCY,
    STMT_OLD_SEQS,
    STMT_PROBE_WRITE,
    STMT_PING,
    STMT_INSERT_INVITATION,
    STMT_GET_INVITATION,
    STMT_FIND_INVITATION_TOKEN,
    STMT_UPDATE_INVITATION,
    STMT_LAST_CONTACT,
    STMT_SCAN_INVITATIONS,
    STMT_SCAN_INVITATION_DAYS,
    STMT_DELETE_CUSTOMER_INVITATIONS,
    STMT_DELETE_OLD_INVITATION_REPLIES,
    STMT_DELETE_OLD_INVITATIONS,
    STMT_WEBHOOK_EXISTS,
    STMT_INSERT_WEBHOOK,
    STMT_UPDATE_WEBHOOK,
    STMT_GET_WEBHOOK,
    STMT_LIST_WEBHOOKS,
    STMT_DELETE_WEBHOOK,
    STMT_DISABLE_WEBHOOK,
    STMT_INSERT_DELIVERY,
    STMT_CLAIM_DELIVERIES,
    STMT_FINISH_DELIVERY,
    STMT_REQUEUE_SENDING,
    STMT_GET_DELIVERY,
    STMT_LIST_DELIVERIES,
    STMT_LIST_DELIVERIES_STATE,
    STMT_DELIVERY_STATE,
    STMT_RETRY_DELIVERY,
    STMT_REPLAY_DELIVERIES,
    STMT_DELIVERY_BACKLOG,
    STMT_PRUNE_DELIVERIES,
    STMT_DELETE_CUSTOMER_DELIVERIES,
    STMT_WEBHOOKS_ANY,
    STMT_APPEND_EVENT,
    STMT_LIST_EVENTS,
    STMT_COUNT_EVENTS,
    STMT_WEBHOOK_CURSOR,
    STMT_SET_WEBHOOK_CURSOR,
    STMT_NEWEST_EVENT,
    STMT_NTH_NEWEST_EVENT,
    STMT_COUNT_EVENTS_TO,
    STMT_PRUNE_EVENTS,
    STMT_IMPORT_EVENT,
    STMT_DELETE_CUSTOMER_EVENTS,
    STMT_EVENT_SEQ_PAST,
    STMT_EVENT_SEQ_FIRST,
    STMT_TOPICS_ANY,
    STMT_TOPIC_PENDING,
    STMT_SURVEY_TOPICS,
    STMT_UNTAG_RESPONSE,
    STMT_TAG_RESPONSE,
    STMT_GET_TOPIC,
    STMT_LIST_TOPICS,
    STMT_PUT_TOPIC,
    STMT_DELETE_TOPIC,
    STMT_COUNT_TOPICS,
    STMT_UNTAG_TOPIC,
    STMT_SURVEY_DOCUMENTS,
    STMT_COUNT_SURVEY_RESPONSES,
    STMT_SCAN_RAW_ANSWERS_TOPIC,
    STMT_SCAN_RAW_RESPONSES_TOPIC,
    STMT_SCAN_RAW_ANSWERS_BY_TOPIC,
    STMT_SCAN_RAW_RESPONSES_BY_TOPIC,
    STMT_SCAN_TOPIC_ANSWERS,
    STMT_SCAN_TOPIC_RESPONSES,
    STMT_SCAN_TOPIC_ANSWERS_ALL,
    STMT_SCAN_TOPIC_RESPONSES_ALL,
    STMT_SCAN_TOPIC_ANSWERS_MONTH,
    STMT_SCAN_TOPIC_RESPONSES_MONTH,
    STMT_SCAN_TOPIC_ANSWERS_MONTH_ALL,
    STMT_SCAN_TOPIC_RESPONSES_MONTH_ALL,
    STMT_BACKFILL_NEXT_TOPIC,
    STMT_BACKFILL_DOCUMENTS,
    STMT_SURVEY_LAST_SEQ,
    STMT_BACKFILL_MOVE,
    STMT_CLEAR_TOPIC_ROLLUPS,
    STMT_CLEAR_TOPIC_RESPONSES,
    STMT_COUNT
};

/* Each statement's SQL, indexed by enum stmt_id (sqlite.c). */
extern const char *const sqlite_stmt_sql[STMT_COUNT];

struct sqlite_conn {
    struct store_conn base;         /* the writer's rollup changes live there (backend.h) */
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    struct sqlite_conn *next;       /* in store.readers, so sqlite_close can find them all */
    struct wal_checkpointer *checkpointer; /* the writer's: serialises its own checkpoints with it */
    enum text_language text_language;   /* how documents are stemmed for the index (sqlite_text.c) */
};

struct sqlite_store {
    struct store base;
    char *path;
    enum store_durability durability;
    enum text_language text_language;
    bool read_only;
    struct sqlite_conn *writer;
    pthread_key_t reader_key;
    pthread_mutex_t readers_lock;
    struct sqlite_conn *readers;
    struct wal_checkpointer *checkpointer; /* NULL when read-only */
};

/* ---- sqlite.c: connections and helpers ---- */

/* A connection of the store, prepared for a reader or (writer) the writer: pragmas, deltas. */
struct sqlite_conn *sqlite_conn_open(const struct sqlite_store *store, bool writer, char *err, size_t err_size);
void sqlite_conn_close(struct sqlite_conn *conn);
bool sqlite_conn_exec(sqlite3 *db, const char *sql, char *err, size_t err_size);
void sqlite_leave_wal_alone(sqlite3 *db);

/* The connection's prepared statement id (prepared on first use), or NULL after logging why. */
sqlite3_stmt *sqlite_stmt(struct sqlite_conn *conn, enum stmt_id id);
/* Steps a statement without rows to its end and resets it: STORE_OK or the error's status. */
enum store_status sqlite_run(struct sqlite_conn *conn, sqlite3_stmt *s);
enum store_status sqlite_status_of(int rc);
int sqlite_bind_text(sqlite3_stmt *s, int index, const char *text);
bool sqlite_row_read_whole(sqlite3_stmt *s);
char *sqlite_column_text(sqlite3_stmt *s, int column);
void sqlite_copy_column(sqlite3_stmt *s, int column, char *out, size_t size);
void sqlite_done_with(sqlite3_stmt *s);

/* ---- the backend's entries (store_backend_sqlite in sqlite.c) ---- */

struct store_conn *sqlite_reader(struct store *base_store);
struct store_conn *sqlite_writer(struct store *base_store);
const char *sqlite_last_error(struct store_conn *base_conn);
struct store *sqlite_open(const char *data_dir, const struct store_options *options, bool read_only,
                          char *err, size_t err_size);
void sqlite_close(struct store *base_store);
enum store_status sqlite_begin(struct store_conn *base_conn);
enum store_status sqlite_commit(struct store_conn *base_conn, const struct rollup_deltas *deltas);
void sqlite_rollback(struct store_conn *base_conn);
enum store_status sqlite_savepoint(struct store_conn *base_conn);
void sqlite_release(struct store_conn *base_conn);
void sqlite_rollback_to(struct store_conn *base_conn);
enum store_status sqlite_get_survey(struct store_conn *base_conn, const char *id, struct store_survey_row *out);
enum store_status sqlite_survey_unchanged(struct store_conn *base_conn, const char *id,
                                          const char *definition, bool *unchanged);
enum store_status sqlite_list_surveys(struct store_conn *base_conn,
                                      void (*each)(const struct store_survey_row *, void *), void *arg);
enum store_status sqlite_put_survey(struct store_conn *base_conn, const char *id, const char *definition,
                                    int64_t now_ms, bool *created);
enum store_status sqlite_delete_survey(struct store_conn *base_conn, const char *id);
enum store_status sqlite_answer_count(struct store_conn *base_conn, const char *survey, const char *question,
                                      int64_t *count);
enum store_status sqlite_get_response(struct store_conn *base_conn, const char *id, struct store_response_row *out);
enum store_status sqlite_insert_response(struct store_conn *base_conn, const struct response *r,
                                         const struct store_edit_token *token, char existing_id[32]);
enum store_status sqlite_list_responses(struct store_conn *base_conn, const struct store_list_query *q,
                                        void (*each)(const struct store_response_row *row, void *arg), void *arg);
struct store_iter *sqlite_iter_open(struct store *base_store, const struct store_list_query *q, char *err,
                                    size_t err_size);
enum store_status sqlite_iter_next(struct store_iter *base_it, struct store_response_row *row);
void sqlite_iter_pause(struct store_iter *base_it);
void sqlite_iter_close(struct store_iter *base_it);
enum store_status sqlite_update_answers(struct store_conn *base_conn, const char *id, const char *answers_json);
enum store_status sqlite_delete_response(struct store_conn *base_conn, const char *id);
enum store_status sqlite_erase_customer(struct store_conn *base_conn, const char *customer, int64_t *deleted);
enum store_status sqlite_delete_before(struct store_conn *base_conn, int64_t cutoff_ms, int64_t max,
                                       int64_t *deleted);
enum store_status sqlite_customer_traces(struct store_conn *base_conn, const char *customer, char ***ids, int *count);
enum store_status sqlite_get_idempotency(struct store_conn *base_conn, const char *scope, const char *key,
                                         struct store_idempotency_row *row);
enum store_status sqlite_save_idempotency(struct store_conn *base_conn,
                                          const struct store_idempotency *request, int status, const char *reply, const char *response_id, const char *customer, int64_t now_ms);
enum store_status sqlite_get_edit_token(struct store_conn *base_conn, const char *response_id,
                                        unsigned char *hash, size_t hash_len, int64_t *expires_at);
enum store_status sqlite_metrics_begin(struct store_conn *base_conn, bool *began);
enum store_status sqlite_metrics_end(struct store_conn *base_conn, bool began, enum store_status status);
enum store_status sqlite_metrics_range(struct store_conn *base_conn, const struct store_metrics_query *q,
                                       enum store_scan_source source, int64_t lo, int64_t hi, store_metrics_fn each,
                                       void *arg);
enum store_status sqlite_day_span(struct store_conn *base_conn, const char *survey, int64_t *first_day,
                                  int64_t *last_day);
void sqlite_between_batches(struct store_conn *base_conn);
/* Copies the WAL into the database and truncates it. Outside a transaction only. */
enum store_status sqlite_checkpoint(struct sqlite_conn *conn);
enum store_status sqlite_purge(struct store_conn *base_conn, char *const *needles, int count, bool *vacuumed);
enum store_status sqlite_data_version(struct store_conn *conn, const char *survey, int64_t *version);
enum store_status sqlite_backup(struct store *base_store, const char *dest, char *err, size_t err_size);
uint64_t sqlite_size_bytes(struct store *base_store);
enum store_status sqlite_probe_write(struct store_conn *base_conn, int64_t now_ms);
bool sqlite_ping(struct store_conn *base_conn);
enum store_status sqlite_verify(struct store *base_store, void (*report)(const char *line, void *arg),
                                void *arg, uint64_t *differences, uint64_t *responses);
enum store_status sqlite_each_answers(struct store *base_store, store_answers_fn each, void *arg);
/* sqlite_invitations.c */
enum store_status sqlite_insert_invitation(struct store_conn *base_conn, const struct store_invitation_row *row);
enum store_status sqlite_get_invitation(struct store_conn *base_conn, const char *id,
                                        struct store_invitation_row *out);
enum store_status sqlite_find_invitation_by_token(struct store_conn *base_conn,
                                                  const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                                  struct store_invitation_row *out);
enum store_status sqlite_update_invitation(struct store_conn *base_conn, const struct store_invitation_row *row);
enum store_status sqlite_last_contact(struct store_conn *base_conn, const char *survey, const char *customer,
                                      int64_t *last_ms);
enum store_status sqlite_invitation_range(struct store_conn *base_conn, const struct store_metrics_query *q,
                                          bool from_rollup, int64_t lo, int64_t hi,
                                          void (*each)(const struct store_invitation_cell *cell, void *arg),
                                         void *arg);
/* One row of SQLITE_INVITATION_COLUMNS into out (malloc'd strings: store_invitation_row_free). */
enum store_status sqlite_read_invitation(sqlite3_stmt *s, struct store_invitation_row *out);
/* The columns every invitation query reads, in the order sqlite_read_invitation expects. */
#define SQLITE_INVITATION_COLUMNS \
    "id, survey, customer, channel, agent, interaction, properties, outcome, token_hash, form_key, created_at," \
    " expires_at, opened_at, responded_at, response_id, automated_visits, last_visit_at, last_visit_value, captured"

/* sqlite_webhooks.c: subscriptions and their outbox (store.h, "webhooks"; schema/010_webhooks.sql). */
enum store_status sqlite_put_webhook(struct store_conn *base_conn, const struct store_webhook_row *row, bool *created);
enum store_status sqlite_get_webhook(struct store_conn *base_conn, const char *id, struct store_webhook_row *out);
enum store_status sqlite_list_webhooks(struct store_conn *base_conn,
                                       void (*each)(const struct store_webhook_row *row, void *arg), void *arg);
enum store_status sqlite_delete_webhook(struct store_conn *base_conn, const char *id);
enum store_status sqlite_disable_webhook(struct store_conn *base_conn, const char *id, int64_t now_ms,
                                         const char *reason);
enum store_status sqlite_insert_delivery(struct store_conn *base_conn, const struct store_delivery_row *row);
enum store_status sqlite_claim_deliveries(struct store_conn *base_conn, const char *webhook, int64_t now_ms,
                                          int64_t lease_until, int max, struct store_delivery_row **rows,
                                          int *count);
enum store_status sqlite_finish_delivery(struct store_conn *base_conn, const struct store_delivery_outcome *outcome);
enum store_status sqlite_requeue_sending(struct store_conn *base_conn, int64_t now_ms, int64_t *requeued);
enum store_status sqlite_get_delivery(struct store_conn *base_conn, const char *id, struct store_delivery_row *out);
enum store_status sqlite_list_deliveries(struct store_conn *base_conn, const struct store_delivery_query *query,
                                         void (*each)(const struct store_delivery_row *row, void *arg), void *arg);
enum store_status sqlite_retry_delivery(struct store_conn *base_conn, const char *webhook, const char *id,
                                        int64_t now_ms);
enum store_status sqlite_replay_deliveries(struct store_conn *base_conn, const char *webhook, int64_t from_ms,
                                           int64_t to_ms, int64_t now_ms, int64_t *count);
enum store_status sqlite_delivery_backlog(struct store_conn *base_conn, const char *webhook, int64_t *depth,
                                          int64_t *oldest_ms);
enum store_status sqlite_prune_deliveries(struct store_conn *base_conn, int64_t cutoff_ms, int64_t max,
                                          int64_t *deleted);
/* The event log (store.h, "the event log"; schema/011_webhook_events.sql). */
enum store_status sqlite_webhooks_exist(struct store_conn *base_conn, bool *any);
enum store_status sqlite_append_event(struct store_conn *base_conn, const struct store_event_row *row);
enum store_status sqlite_list_events(struct store_conn *base_conn, int64_t after_seq, int64_t limit,
                                     void (*each)(const struct store_event_row *row, void *arg), void *arg);
enum store_status sqlite_count_events(struct store_conn *base_conn, int64_t after_seq, int64_t *count,
                                      int64_t *oldest_ms);
enum store_status sqlite_lock_webhook_cursor(struct store_conn *base_conn, const char *webhook, int64_t *cursor,
                                             bool *locked);
enum store_status sqlite_set_webhook_cursor(struct store_conn *base_conn, const char *webhook, int64_t cursor);
enum store_status sqlite_trim_webhook_backlog(struct store_conn *base_conn, const char *webhook, int64_t keep,
                                              int64_t *skipped);
enum store_status sqlite_prune_events(struct store_conn *base_conn, int64_t max, int64_t *deleted);
enum store_status sqlite_import_event(struct store_conn *base_conn, const struct store_event_row *row);
enum store_status sqlite_event_seq_past(struct store_conn *base_conn, int64_t seq);
/* One row of SQLITE_WEBHOOK_COLUMNS / SQLITE_DELIVERY_COLUMNS / SQLITE_EVENT_COLUMNS into out (malloc'd strings: the
 * store.h _free functions). */
enum store_status sqlite_read_webhook(sqlite3_stmt *s, struct store_webhook_row *out);
enum store_status sqlite_read_delivery(sqlite3_stmt *s, struct store_delivery_row *out);
enum store_status sqlite_read_event(sqlite3_stmt *s, struct store_event_row *out);
#define SQLITE_EVENT_COLUMNS "seq, id, type, survey, subject, customer, object, created_at"
/* Every column a put writes (?1 to ?13); reads add the cursor, which only the event log's calls move. */
#define SQLITE_WEBHOOK_FIELDS \
    "id, url, events, surveys, filter, format, secret, old_secret, old_secret_until, disabled_at, disabled_reason," \
    " created_at, updated_at"
#define SQLITE_WEBHOOK_COLUMNS SQLITE_WEBHOOK_FIELDS ", cursor"
/* Every column but seq, in the order an insert binds them (?1 to ?18). */
#define SQLITE_DELIVERY_FIELDS \
    "id, webhook, event_id, type, survey, subject, customer, payload, state, attempts, last_status, last_error," \
    " created_at, window_start, next_attempt_at, lease_until, last_attempt_at, delivered_at"
#define SQLITE_DELIVERY_COLUMNS SQLITE_DELIVERY_FIELDS ", seq"

/* sqlite_migrate.c: store_dump, surveyd migrate's source. */
enum store_status sqlite_dump(struct store *base_store, const struct store_dump_sink *sink, void *arg, char *err,
                              size_t err_size);

/* ---- sqlite_topics.c: topics and their tags (schema/014, docs/search.md "Topics") ---- */

/* Writer, at commit, before sqlite_text_flush: tags the batch's new and edited documents (read from
 * text_pending) with the topics of their survey whose query they match. */
enum store_status sqlite_topics_tag_pending(struct sqlite_conn *conn);
enum store_status sqlite_topic_backfill(struct store_conn *conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                       bool *more);
enum store_status sqlite_put_topic(struct store_conn *conn, struct store_topic_row *row, bool query_changed,
                                  bool *created);
enum store_status sqlite_get_topic(struct store_conn *conn, const char *survey, const char *id,
                                   struct store_topic_row *out);
enum store_status sqlite_list_topics(struct store_conn *conn, const char *survey,
                                     void (*each)(const struct store_topic_row *row, void *arg), void *arg);
enum store_status sqlite_delete_topic(struct store_conn *conn, const char *survey, const char *id);
enum store_status sqlite_count_topics(struct store_conn *conn, const char *survey, int64_t *count);

/* ---- sqlite_text.c: the full-text index (schema/012, docs/search.md) ---- */

/* The writer's pending document changes into the index; in the caller's transaction. */
enum store_status sqlite_text_flush(struct sqlite_conn *conn);

/* At open (writable stores): when the index was built with another language than the store's,
 * re-indexes every document with it, in one transaction. */
bool sqlite_text_sync_language(struct sqlite_conn *writer, char *err, size_t err_size);

#endif
