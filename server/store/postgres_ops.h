/* What the PostgreSQL backend's own files give each other (postgres.c builds the backend table from
 * them). Each does what the backend.h entry of the same name says. */
#ifndef SURVEYD_STORE_POSTGRES_OPS_H
#define SURVEYD_STORE_POSTGRES_OPS_H

#include "postgres_internal.h"

/* postgres.c: the name of sql's statement prepared on conn (preparing it now if needed); false with
 * *status when that failed. */
bool pg_prepare(struct pg_conn *conn, const char *sql, char name[16], enum store_status *status);

/* postgres_schema.c: brings the schema up to date (under the migration lock), or checks that it
 * is this binary's without changing anything (read-only stores). False with err set. */
bool pg_schema_migrate(PGconn *db, char *err, size_t err_size);
bool pg_schema_check(PGconn *db, char *err, size_t err_size);

/* postgres_txn.c */
enum store_status pg_begin(struct store_conn *conn);
enum store_status pg_commit(struct store_conn *conn, const struct rollup_deltas *deltas);
void pg_rollback(struct store_conn *conn);
enum store_status pg_savepoint(struct store_conn *conn);
void pg_release(struct store_conn *conn);
void pg_rollback_to(struct store_conn *conn);

/* postgres_write.c: surveys, responses, deletions, idempotency records, edit tokens. */
enum store_status pg_get_survey(struct store_conn *conn, const char *id, struct store_survey_row *out);
enum store_status pg_survey_unchanged(struct store_conn *conn, const char *id, const char *definition,
                                      bool *unchanged);
enum store_status pg_list_surveys(struct store_conn *conn, void (*each)(const struct store_survey_row *, void *),
                                  void *arg);
enum store_status pg_put_survey(struct store_conn *conn, const char *id, const char *definition, int64_t now_ms,
                                bool *created);
enum store_status pg_delete_survey(struct store_conn *conn, const char *id);
enum store_status pg_answer_count(struct store_conn *conn, const char *survey, const char *question, int64_t *count);
enum store_status pg_get_response(struct store_conn *conn, const char *id, struct store_response_row *out);
enum store_status pg_insert_response(struct store_conn *conn, const struct response *response,
                                     const struct store_edit_token *token, char existing_id[32]);
enum store_status pg_update_answers(struct store_conn *conn, const char *id, const char *answers_json);
enum store_status pg_delete_response(struct store_conn *conn, const char *id);
enum store_status pg_erase_customer(struct store_conn *conn, const char *customer, int64_t *deleted);
enum store_status pg_delete_before(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);
enum store_status pg_purge(struct store_conn *conn, char *const *needles, int count, bool *rewrote);
enum store_status pg_customer_traces(struct store_conn *conn, const char *customer, char ***traces, int *count);
enum store_status pg_get_idempotency(struct store_conn *conn, const char *scope, const char *key,
                                     struct store_idempotency_row *row);
enum store_status pg_save_idempotency(struct store_conn *conn, const struct store_idempotency *request, int status,
                                      const char *reply, const char *response_id, const char *customer,
                                      int64_t now_ms);
enum store_status pg_get_edit_token(struct store_conn *conn, const char *response_id, unsigned char *hash,
                                    size_t hash_len, int64_t *expires_at);

/* postgres_invitations.c */
enum store_status pg_insert_invitation(struct store_conn *conn, const struct store_invitation_row *row);
enum store_status pg_get_invitation(struct store_conn *conn, const char *id, struct store_invitation_row *out);
enum store_status pg_find_invitation_by_token(struct store_conn *conn,
                                              const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                              struct store_invitation_row *out);
enum store_status pg_update_invitation(struct store_conn *conn, const struct store_invitation_row *row);
enum store_status pg_last_contact(struct store_conn *conn, const char *survey, const char *customer,
                                  int64_t *last_ms);
enum store_status pg_invitation_range(struct store_conn *conn, const struct store_metrics_query *query, bool from_rollup,
                                      int64_t lo, int64_t hi,
                                      void (*each)(const struct store_invitation_cell *cell, void *arg), void *arg);

/* postgres_webhooks.c */
enum store_status pg_put_webhook(struct store_conn *conn, const struct store_webhook_row *row, bool *created);
enum store_status pg_get_webhook(struct store_conn *conn, const char *id, struct store_webhook_row *out);
enum store_status pg_list_webhooks(struct store_conn *conn,
                                   void (*each)(const struct store_webhook_row *row, void *arg), void *arg);
enum store_status pg_delete_webhook(struct store_conn *conn, const char *id);
enum store_status pg_disable_webhook(struct store_conn *conn, const char *id, int64_t now_ms, const char *reason);
enum store_status pg_insert_delivery(struct store_conn *conn, const struct store_delivery_row *row);
enum store_status pg_claim_deliveries(struct store_conn *conn, const char *webhook, int64_t now_ms, int64_t lease_until,
                                      int max, struct store_delivery_row **rows, int *count);
enum store_status pg_finish_delivery(struct store_conn *conn, const struct store_delivery_outcome *outcome);
enum store_status pg_requeue_sending(struct store_conn *conn, int64_t now_ms, int64_t *requeued);
enum store_status pg_get_delivery(struct store_conn *conn, const char *id, struct store_delivery_row *out);
enum store_status pg_list_deliveries(struct store_conn *conn, const struct store_delivery_query *query,
                                     void (*each)(const struct store_delivery_row *row, void *arg), void *arg);
enum store_status pg_retry_delivery(struct store_conn *conn, const char *webhook, const char *id, int64_t now_ms);
enum store_status pg_replay_deliveries(struct store_conn *conn, const char *webhook, int64_t from_ms, int64_t to_ms,
                                       int64_t now_ms, int64_t *count);
enum store_status pg_delivery_backlog(struct store_conn *conn, const char *webhook, int64_t *depth, int64_t *oldest_ms);
enum store_status pg_prune_deliveries(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);
enum store_status pg_webhooks_exist(struct store_conn *conn, bool *any);
enum store_status pg_append_event(struct store_conn *conn, const struct store_event_row *row);
enum store_status pg_list_events(struct store_conn *conn, int64_t after_seq, int64_t limit,
                                 void (*each)(const struct store_event_row *row, void *arg), void *arg);
enum store_status pg_count_events(struct store_conn *conn, int64_t after_seq, int64_t *count, int64_t *oldest_ms);
enum store_status pg_lock_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t *cursor, bool *locked);
enum store_status pg_set_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t cursor);
enum store_status pg_trim_webhook_backlog(struct store_conn *conn, const char *webhook, int64_t keep,
                                          int64_t *skipped);
enum store_status pg_prune_events(struct store_conn *conn, int64_t max, int64_t *deleted);
enum store_status pg_import_event(struct store_conn *conn, const struct store_event_row *row);
enum store_status pg_event_seq_past(struct store_conn *conn, int64_t seq);

#endif
