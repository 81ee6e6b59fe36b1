/* What a storage backend implements (sqlite*.c, postgres*.c), and what store.c gives them.
 *
 * store.c implements store.h once for every backend: it picks the backend from the location,
 * keeps a writer batch's rollup changes (rollup_deltas.h) across savepoints, computes a new
 * response's rollup cells from its validated answers, applies the idempotency rules, and forgets
 * a deleted survey's pending cells. A backend only speaks its database: each entry below does what
 * the store.h function of the same name says, minus that shared part, and says where it differs.
 *
 * Every backend struct starts with the matching base struct below, so store.c can pass the base
 * pointer and the backend can cast it back. Readers have no deltas (NULL). */
#ifndef SURVEYD_STORE_BACKEND_H
#define SURVEYD_STORE_BACKEND_H

#include "rollup_deltas.h"
#include "store.h"

struct store_backend;

struct store {
    const struct store_backend *backend;
};

struct store_conn {
    const struct store_backend *backend;
    struct rollup_deltas *job_deltas, *batch_deltas; /* the writer's; NULL on readers */
    bool deltas_lost;           /* out of memory while keeping them: the batch must not commit */
    bool job_forgot_batch;      /* this job dropped batch deltas (a survey deletion) */
};

struct store_iter {
    const struct store_backend *backend;
};

/* Where a part of a metrics window is read from, and the unit of its [lo, hi) range. */
enum store_scan_source {
    STORE_SCAN_DAYS,        /* day tables (the agent ones when the query filters or groups by agent; the
                             * topics' ones, schema/015, for topic= or by_topic: only on a backend
                             * with topic_rollups, never with an agent); days */
    STORE_SCAN_MONTHS,      /* month tables (no agent; the topics' ones, schema/016, for topic= or
                             * by_topic); days, each a month's first */
    STORE_SCAN_HOURS,       /* hour tables (no agent); hours since the epoch */
    STORE_SCAN_RAW,         /* the responses themselves, through answer_facts; milliseconds */
};

/* A stored idempotency record, as the backend read it (strings and body malloc'd). */
struct store_idempotency_row {
    void *body;
    size_t body_len;
    int status;
    char *reply;
    char *response_id;
};

/* One answer as the bucket it counts in (question NULL: the response itself), with the response it
 * belongs to. Backends that read a stored response's buckets back (updates, deletions) hand each
 * one to store_backend_add_fact. */
struct store_fact {
    const char *survey, *channel, *agent;   /* "" for no channel or agent */
    int64_t submitted_at;
    const char *question;
    bool value_is_text;
    int64_t value;
    const char *value_text;
};

#define STORE_MS_PER_DAY INT64_C(86400000)
#define STORE_MS_PER_HOUR INT64_C(3600000)

/* The first day of the UTC month holding day (days since 1970-01-01): the month tables' key. */
int64_t store_backend_month_of_day(int64_t day);

/* store_invitation_scan's plan of [from_ms, to_ms): raw rows in [from_ms, head_end), the rollup's
 * whole days [first_day, end_day), raw rows in [tail_start, to_ms). No whole day: first_day ==
 * end_day and head_end == tail_start == to_ms. */
struct store_invitation_plan {
    int64_t head_end, first_day, end_day, tail_start;
};
void store_invitation_plan(int64_t from_ms, int64_t to_ms, struct store_invitation_plan *plan);

/* Adds (delta +1) or removes (-1) one fact to the job's rollup cells: day with and without the
 * agent, month and hour, and the answered count. Sets conn->deltas_lost when out of memory. */
void store_backend_add_fact(struct store_conn *conn, const struct store_fact *fact, int delta);

/* For the writer connection: allocates its deltas (false when out of memory). */
bool store_backend_conn_init_writer(struct store_conn *conn, const struct store_backend *backend);
void store_backend_conn_free_deltas(struct store_conn *conn);

struct store_backend {
    const char *name;           /* "sqlite", "postgresql": for logs and `surveyd version` */
    bool shared;                /* other processes may write the same data (store_shared) */

    /* location: what follows the scheme ("sqlite:" → the folder; PostgreSQL: the whole URI). */
    struct store *(*open)(const char *location, const struct store_options *options, bool read_only, char *err,
                          size_t err_size);
    void (*close)(struct store *store);
    struct store_conn *(*reader)(struct store *store);
    struct store_conn *(*writer)(struct store *store);
    const char *(*last_error)(struct store_conn *conn);

    enum store_status (*begin)(struct store_conn *conn);
    /* Writes every cell of deltas with a non-zero delta, then commits. rollup_deltas_each gives
     * them in the order they were first touched: a backend shared by several writers sorts them
     * first, so that all take the cells' row locks in one order and never deadlock. */
    enum store_status (*commit)(struct store_conn *conn, const struct rollup_deltas *deltas);
    void (*rollback)(struct store_conn *conn);
    enum store_status (*savepoint)(struct store_conn *conn);
    void (*release)(struct store_conn *conn);
    void (*rollback_to)(struct store_conn *conn);
    /* SQLite: finishes a WAL checkpoint the background checkpointer started. */
    void (*between_batches)(struct store_conn *conn);

    enum store_status (*get_survey)(struct store_conn *conn, const char *id, struct store_survey_row *out);
    enum store_status (*survey_unchanged)(struct store_conn *conn, const char *id, const char *definition,
                                          bool *unchanged);
    enum store_status (*list_surveys)(struct store_conn *conn,
                                      void (*each)(const struct store_survey_row *, void *), void *arg);
    enum store_status (*put_survey)(struct store_conn *conn, const char *id, const char *definition,
                                    int64_t now_ms, bool *created);
    /* Deletes the survey, its responses, rollups and idempotency records (store.c drops its pending
     * cells). STORE_NOT_FOUND when there was none. */
    enum store_status (*delete_survey)(struct store_conn *conn, const char *id);
    /* The committed count only: store.c adds the batch's pending changes. */
    enum store_status (*answer_count)(struct store_conn *conn, const char *survey, const char *question,
                                      int64_t *count);

    enum store_status (*get_response)(struct store_conn *conn, const char *id, struct store_response_row *out);
    /* The row alone: store.c adds its rollup cells after STORE_OK. */
    enum store_status (*insert_response)(struct store_conn *conn, const struct response *response,
                                         const struct store_edit_token *token, char existing_id[32]);
    /* The document (response_text.h; NULL: none) of a response insert_response or import_response
     * has just stored, for a backend that indexes it in C (PostgreSQL: postgres_text.c); NULL for
     * one whose index follows its rows by itself (SQLite's triggers), and then store.c does not
     * even build the document. */
    enum store_status (*index_text)(struct store_conn *conn, const char *id, const char *text);

    /* Whether metrics_range reads a topic query's STORE_SCAN_DAYS and _MONTHS from per-topic rollups
     * (without them a topic's figures come from raw rows over the whole window: store.c), and
     * honours by_topic (group_by=topic) in every source: store_can_group_by_topic. */
    bool topic_rollups;
    /* Whether list_responses and iter_open honour store_list_query.text (q=). */
    bool text_search;
    enum store_status (*list_responses)(struct store_conn *conn, const struct store_list_query *query,
                                        void (*each)(const struct store_response_row *row, void *arg), void *arg);
    struct store_iter *(*iter_open)(struct store *store, const struct store_list_query *query, char *err,
                                    size_t err_size);
    enum store_status (*iter_next)(struct store_iter *iter, struct store_response_row *row);
    void (*iter_pause)(struct store_iter *iter);
    void (*iter_close)(struct store_iter *iter);

    /* These three keep the rollups exact through store_backend_add_fact (-1 for the row as it was,
     * +1 for the row as it is). */
    enum store_status (*update_answers)(struct store_conn *conn, const char *id, const char *answers_json);
    enum store_status (*delete_response)(struct store_conn *conn, const char *id);
    enum store_status (*erase_customer)(struct store_conn *conn, const char *customer, int64_t *deleted);
    enum store_status (*delete_before)(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);
    /* SQLite truncates its WAL and, only if a needle is still found in the file (stale copies in
     * free space), VACUUMs; PostgreSQL VACUUMs the tables that held the data every time (its WAL,
     * replicas and base backups are the operator's). */
    enum store_status (*purge)(struct store_conn *conn, char *const *needles, int count, bool *rewrote);
    enum store_status (*customer_traces)(struct store_conn *conn, const char *customer, char ***traces,
                                         int *count);

    /* STORE_OK with *row filled, or STORE_NOT_FOUND: store.c compares the bodies. */
    enum store_status (*get_idempotency)(struct store_conn *conn, const char *scope, const char *key,
                                         struct store_idempotency_row *row);
    enum store_status (*save_idempotency)(struct store_conn *conn, const struct store_idempotency *request,
                                          int status, const char *reply, const char *response_id,
                                          const char *customer, int64_t now_ms);
    enum store_status (*get_edit_token)(struct store_conn *conn, const char *response_id, unsigned char *hash,
                                        size_t hash_len, int64_t *expires_at);

    /* A metrics window is read from several kinds of rollup; store.c plans which kind covers which
     * part of it (whole months, whole days, whole hours, raw rows at the edges). These open and
     * close what that plan's reads share (PostgreSQL: one snapshot, so that a batch another
     * instance commits meanwhile counts everywhere or nowhere); *began says whether there was
     * anything to open, and metrics_end returns status or the failure of closing it. */
    enum store_status (*metrics_begin)(struct store_conn *conn, bool *began);
    enum store_status (*metrics_end)(struct store_conn *conn, bool began, enum store_status status);
    /* Calls each() for every answer cell and response cell of source in [lo, hi), with the query's
     * channel and agent filters. */
    enum store_status (*metrics_range)(struct store_conn *conn, const struct store_metrics_query *query,
                                       enum store_scan_source source, int64_t lo, int64_t hi,
                                       store_metrics_fn each, void *arg);
    enum store_status (*day_span)(struct store_conn *conn, const char *survey, int64_t *first_day,
                                  int64_t *last_day);
    enum store_status (*data_version)(struct store_conn *conn, const char *survey, int64_t *version);

    /* Invitations: each does what the store.h function of the same name says (store.c clears the
     * row an entry fills first). Their writes keep the invitation_days rollup (the schema's
     * triggers, in the same statement); a shared backend bumps the invitation's survey's data
     * version itself. Erasure, retention and survey deletion above
     * delete invitations too. */
    enum store_status (*insert_invitation)(struct store_conn *conn, const struct store_invitation_row *row);
    enum store_status (*get_invitation)(struct store_conn *conn, const char *id, struct store_invitation_row *out);
    enum store_status (*find_invitation_by_token)(struct store_conn *conn,
                                                  const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                                  struct store_invitation_row *out);
    enum store_status (*update_invitation)(struct store_conn *conn, const struct store_invitation_row *row);
    enum store_status (*last_contact)(struct store_conn *conn, const char *survey, const char *customer,
                                      int64_t *last_ms);
    /* store_invitation_scan's parts, as store.c plans them (inside metrics_begin/metrics_end): the
     * query's cells from the invitation_days rollup over whole days [lo, hi) (from_rollup), or from
     * the raw invitations created in [lo, hi) ms (the partial days at a window's edges). */
    enum store_status (*invitation_range)(struct store_conn *conn, const struct store_metrics_query *query,
                                          bool from_rollup, int64_t lo, int64_t hi,
                                          void (*each)(const struct store_invitation_cell *cell, void *arg),
                                          void *arg);

    /* Webhooks (store.h, "webhooks"): each does what the store.h function of the same name says
     * (store.c clears the row an entry fills first). They change no metrics: a shared backend bumps
     * no data version for them. insert_delivery stores every field of row as given but seq (store.c
     * sets a new delivery's state and counters; migrate's import keeps them as they were).
     * claim_deliveries hands back the rows it claimed as a malloc'd array (*rows, *count; each row's
     * strings malloc'd), in any order: store.c calls each() in seq order and frees them. */
    /* Topics (store.h): NULL on a backend without them (store_can_topics). */
    enum store_status (*put_topic)(struct store_conn *conn, struct store_topic_row *row, bool query_changed,
                                   bool *created);
    enum store_status (*get_topic)(struct store_conn *conn, const char *survey, const char *id,
                                   struct store_topic_row *out);
    enum store_status (*list_topics)(struct store_conn *conn, const char *survey,
                                     void (*each)(const struct store_topic_row *row, void *arg), void *arg);
    enum store_status (*delete_topic)(struct store_conn *conn, const char *survey, const char *id);
    enum store_status (*count_topics)(struct store_conn *conn, const char *survey, int64_t *count);
    /* NULL when put_topic back-fills in its own transaction. */
    enum store_status (*topic_backfill)(struct store_conn *conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                        bool *more);
    enum store_status (*put_webhook)(struct store_conn *conn, const struct store_webhook_row *row, bool *created);
    enum store_status (*get_webhook)(struct store_conn *conn, const char *id, struct store_webhook_row *out);
    enum store_status (*list_webhooks)(struct store_conn *conn,
                                       void (*each)(const struct store_webhook_row *row, void *arg), void *arg);
    enum store_status (*delete_webhook)(struct store_conn *conn, const char *id);
    enum store_status (*disable_webhook)(struct store_conn *conn, const char *id, int64_t now_ms, const char *reason);
    enum store_status (*insert_delivery)(struct store_conn *conn, const struct store_delivery_row *row);
    enum store_status (*claim_deliveries)(struct store_conn *conn, const char *webhook, int64_t now_ms,
                                          int64_t lease_until, int max, struct store_delivery_row **rows,
                                          int *count);
    enum store_status (*finish_delivery)(struct store_conn *conn, const struct store_delivery_outcome *outcome);
    enum store_status (*requeue_sending)(struct store_conn *conn, int64_t now_ms, int64_t *requeued);
    enum store_status (*get_delivery)(struct store_conn *conn, const char *id, struct store_delivery_row *out);
    enum store_status (*list_deliveries)(struct store_conn *conn, const struct store_delivery_query *query,
                                         void (*each)(const struct store_delivery_row *row, void *arg), void *arg);
    enum store_status (*retry_delivery)(struct store_conn *conn, const char *webhook, const char *id, int64_t now_ms);
    enum store_status (*replay_deliveries)(struct store_conn *conn, const char *webhook, int64_t from_ms,
                                           int64_t to_ms, int64_t now_ms, int64_t *count);
    enum store_status (*delivery_backlog)(struct store_conn *conn, const char *webhook, int64_t *depth,
                                          int64_t *oldest_ms);
    enum store_status (*prune_deliveries)(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);
    /* The event log (store.h, "the event log"), likewise; store.c sets the outputs to their "none"
     * first. import_event stores the row with its seq as given, and the backend's seq source then
     * continues past it. */
    enum store_status (*webhooks_exist)(struct store_conn *conn, bool *any);
    enum store_status (*append_event)(struct store_conn *conn, const struct store_event_row *row);
    enum store_status (*list_events)(struct store_conn *conn, int64_t after_seq, int64_t limit,
                                     void (*each)(const struct store_event_row *row, void *arg), void *arg);
    enum store_status (*count_events)(struct store_conn *conn, int64_t after_seq, int64_t *count, int64_t *oldest_ms);
    enum store_status (*lock_webhook_cursor)(struct store_conn *conn, const char *webhook, int64_t *cursor,
                                             bool *locked);
    enum store_status (*set_webhook_cursor)(struct store_conn *conn, const char *webhook, int64_t cursor);
    enum store_status (*trim_webhook_backlog)(struct store_conn *conn, const char *webhook, int64_t keep,
                                              int64_t *skipped);
    enum store_status (*prune_events)(struct store_conn *conn, int64_t max, int64_t *deleted);
    enum store_status (*import_event)(struct store_conn *conn, const struct store_event_row *row);
    /* migrate's target: the seq source continues after seq at least (never moved back). An
     * imported subscription's cursor may be past every imported event (it passed events that were
     * pruned or erased since): a new event must never get a seq at or below it. */
    enum store_status (*event_seq_past)(struct store_conn *conn, int64_t seq);

    enum store_status (*verify)(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                                uint64_t *differences, uint64_t *responses);
    enum store_status (*each_answers)(struct store *store, store_answers_fn each, void *arg);
    enum store_status (*backup)(struct store *store, const char *dest, char *err, size_t err_size);

    /* store_dump (surveyd migrate's source); NULL for a backend that cannot be one. */
    enum store_status (*dump)(struct store *store, const struct store_dump_sink *sink, void *arg, char *err,
                              size_t err_size);
    /* A bulk path for migrate's responses, optional (NULL: store_import_response inserts each row
     * through insert_response, one statement and round trip a row). import_response sends one
     * stored row as it is (store.c adds its rollup facts); import_end finishes what was sent (keep
     * false: throws it away, the transaction is rolled back next) and comes before any other
     * statement on the connection, the commit included. */
    enum store_status (*import_response)(struct store_conn *conn, const struct store_stored_response *row);
    enum store_status (*import_end)(struct store_conn *conn, bool keep);

    /* SQLite: the file and its WAL; PostgreSQL: pg_database_size. */
    uint64_t (*size_bytes)(struct store *store);
    enum store_status (*probe_write)(struct store_conn *conn, int64_t now_ms);
    bool (*ping)(struct store_conn *conn);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_postgres;

#endif
