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
    /* Writes every cell of deltas (each with a non-zero delta, in rollup_deltas_each's order: sorted,
     * so that concurrent writers take row locks in one order), then commits. */
    enum store_status (*commit)(struct store_conn *conn, const struct rollup_deltas *deltas);
    void (*rollback)(struct store_conn *conn);
    enum store_status (*savepoint)(struct store_conn *conn);
    void (*release)(struct store_conn *conn);
    void (*rollback_to)(struct store_conn *conn);
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

    enum store_status (*metrics_scan)(struct store_conn *conn, const struct store_metrics_query *query,
                                      store_metrics_fn each, void *arg);
    enum store_status (*day_span)(struct store_conn *conn, const char *survey, int64_t *first_day,
                                  int64_t *last_day);
    enum store_status (*data_version)(struct store_conn *conn, const char *survey, int64_t *version);

    enum store_status (*verify)(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                                uint64_t *differences, uint64_t *responses);
    enum store_status (*each_answers)(struct store *store, store_answers_fn each, void *arg);
    enum store_status (*backup)(struct store *store, const char *dest, char *err, size_t err_size);

    uint64_t (*size_bytes)(struct store *store);
    enum store_status (*probe_write)(struct store_conn *conn, int64_t now_ms);
    bool (*ping)(struct store_conn *conn);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_postgres;

#endif
