/* The narrow storage interface. SQLite (sqlite.c) is the embedded default; a PostgreSQL backend
 * would implement the same functions. Plain C types only: no HTTP, no JSON trees.
 *
 * Connections: every thread that reads takes its own connection from store_reader(); all writes go
 * through the one connection from store_writer(), used by the writer thread alone (writer.c), which
 * also brackets them in transactions. */
#ifndef SURVEYD_STORE_H
#define SURVEYD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "survey.h"
#include "text_stem.h"

struct store;
struct store_conn;

enum store_status {
    STORE_OK,
    STORE_NOT_FOUND,
    STORE_CONFLICT,         /* a unique rule would break: (survey, interaction), an answered question */
    STORE_REPLAY,           /* an idempotency record with the same body exists: replay its reply */
    STORE_KEY_REUSED,       /* an idempotency record with another body exists */
    STORE_UNAVAILABLE,      /* disk full, I/O error, database locked or unreachable: try again later */
    STORE_UNKNOWN,          /* the connection broke during COMMIT and its outcome could not be
                             * learned: it may have been stored (retry with the same key) */
    STORE_RETRY,            /* another writer's transaction got in the way (PostgreSQL's serialization
                             * failure or deadlock): the same job may simply be run again */
    STORE_ERROR,            /* anything else: a bug or corruption */
};

enum store_durability { STORE_DURABILITY_FULL, STORE_DURABILITY_NORMAL };

struct store_options {
    /* Where the data lives: "postgresql://..." or "postgres://..." (a libpq connection URI), or
     * "sqlite:" followed by the folder of the embedded store. */
    const char *database;
    enum store_durability durability;   /* SQLite only: PostgreSQL commits are always durable */
    /* How the text index stems words (--text-language). A SQLite store re-indexes every document
     * when it opens with another language than its index was built with; PostgreSQL refuses any but
     * TEXT_LANGUAGE_NONE for now. */
    enum text_language text_language;
};

/* Which backend a location names ("sqlite", "postgresql"), or NULL when none does. */
const char *store_backend_name(const char *database);

/* Opens (creating if needed) the store and brings its schema up to date. On failure returns NULL
 * with a message for the operator in err (never holding a password). */
struct store *store_open(const struct store_options *options, char *err, size_t err_size);

/* For tools that run beside a serving surveyd (verify, backup, migrate's source): opens the existing
 * store without changing it, migrating nothing, and never disturbing the serving daemon. Needs the
 * schema version this binary was built for. */
struct store *store_open_read_only(const struct store_options *options, char *err, size_t err_size);

/* Closes every connection. Call after all threads that used it stopped. */
void store_close(struct store *store);

/* "sqlite" or "postgresql". */
const char *store_kind(const struct store *store);

/* Whether other processes (surveyd instances) may write the same data, as on PostgreSQL: what a
 * process remembers of committed state must then be checked against the store before it is
 * trusted. */
bool store_shared(const struct store_conn *conn);

struct store_conn *store_reader(struct store *store);
struct store_conn *store_writer(struct store *store);

/* The database's message for the last failure on conn, for logs. */
const char *store_last_error(struct store_conn *conn);

/* ---- transactions (writer only) ---- */
enum store_status store_begin(struct store_conn *conn);
enum store_status store_commit(struct store_conn *conn);
void store_rollback(struct store_conn *conn);
enum store_status store_savepoint(struct store_conn *conn);
void store_release(struct store_conn *conn);
void store_rollback_to(struct store_conn *conn);
/* Housekeeping the backend does on the writer's connection between batches, once their replies went
 * out, so that it never delays a reply (what, if anything: backend.h). */
void store_between_batches(struct store_conn *conn);

/* ---- surveys ---- */
struct store_survey_row {
    char id[SURVEY_ID_MAX + 1];
    char *definition;       /* normalised JSON text */
    int64_t created_at, updated_at;
};

void store_survey_row_free(struct store_survey_row *row);

enum store_status store_get_survey(struct store_conn *conn, const char *id, struct store_survey_row *out);

/* Whether the survey's stored definition is still exactly this text (STORE_NOT_FOUND when the survey
 * is gone): in the writer, whether what a request was validated against is still current. */
enum store_status store_survey_unchanged(struct store_conn *conn, const char *id, const char *definition,
                                         bool *unchanged);

/* Calls each(row, arg) for every survey in id order; rows are freed after each call. */
enum store_status store_list_surveys(struct store_conn *conn, void (*each)(const struct store_survey_row *, void *),
                                     void *arg);

/* Inserts or replaces; *created says which. created_at is kept on replace. */
enum store_status store_put_survey(struct store_conn *conn, const char *id, const char *definition, int64_t now_ms,
                                   bool *created);

/* Removes the survey, its responses, their idempotency records and its invitations. Webhook
 * deliveries about it stay (a receiver is still owed them). */
enum store_status store_delete_survey(struct store_conn *conn, const char *id);

/* Number of stored answers of one question (0 when none). */
enum store_status store_answer_count(struct store_conn *conn, const char *survey, const char *question,
                                     int64_t *count);

/* ---- responses ---- */
struct store_response_row {
    char id[32];
    char survey[SURVEY_ID_MAX + 1];
    int64_t submitted_at, received_at;
    char *channel, *customer, *agent, *interaction; /* NULL when absent */
    char *answers;                                  /* JSON object text */
    char *properties;                               /* JSON object text or NULL */
};

void store_response_row_free(struct store_response_row *row);

enum store_status store_get_response(struct store_conn *conn, const char *id, struct store_response_row *out);

/* The hash of a response's follow-up edit token (the token itself is never stored) and its expiry. */
struct store_edit_token {
    const unsigned char *hash;
    size_t hash_len;
    int64_t expires_at;
};

/* Inserts a response validated against survey (id filled in) with its edit token (NULL: none) and
 * adds it to the rollups, in the caller's transaction; survey must be the stored definition (its
 * question types decide the rollup cells). Deleting the response deletes the token. On
 * STORE_CONFLICT, existing_id holds the id of the response already stored for the same (survey,
 * interaction). */
enum store_status store_insert_response(struct store_conn *conn, const struct survey *survey,
                                        const struct response *response, const struct store_edit_token *token,
                                        char existing_id[32]);

/* ---- listing and export ---- */

/* The order of a listing. Newest first pages by (before_ms, before_id); by relevance (only with a
 * text query) pages by offset, ties newest first, and ranks the newest STORE_RELEVANCE_WINDOW
 * matches that pass the other filters (the most recently stored), so that a word found in millions
 * of answers costs a bounded number of scores. */
#define STORE_RELEVANCE_WINDOW 10000
enum store_list_order {
    STORE_ORDER_NEWEST,
    STORE_ORDER_RELEVANCE,
};

struct text_query;

struct store_list_query {
    const char *survey;         /* NULL: across surveys (customer must then be set) */
    int64_t before_ms;          /* rows strictly before (before_ms, before_id), newest first */
    const char *before_id;      /* "" with before_ms = the window's end: everything before it */
    int64_t from_ms;            /* rows at or after; INT64_MIN when open */
    const char *channel, *agent, *customer, *interaction;   /* exact matches, or NULL */
    int64_t limit;              /* -1 for all */
    /* q=: only responses whose searchable text (response_text.h) matches; NULL: no text filter.
     * Each backend translates it (text_query_fts5, text_query_tsquery); it is never raw SQL. */
    const struct text_query *text;
    enum store_list_order order;    /* STORE_ORDER_RELEVANCE needs text */
    int64_t offset;                 /* STORE_ORDER_RELEVANCE: rows to skip (0 for the first page) */
};

/* Whether this store can answer a text query (store_list_query.text); without, it must not be set. */
bool store_can_search(const struct store *store);

enum store_status store_list_responses(struct store_conn *conn, const struct store_list_query *query,
                                       void (*each)(const struct store_response_row *row, void *arg), void *arg);

/* A streaming cursor over the same rows on a connection of its own, for exports of any size. */
struct store_iter;
struct store_iter *store_iter_open(struct store *store, const struct store_list_query *query, char *err,
                                   size_t err_size);
/* STORE_OK with *row filled (free it), STORE_NOT_FOUND at the end, or an error. */
enum store_status store_iter_next(struct store_iter *iter, struct store_response_row *row);

/* Ends the current stretch's read transaction; the next row continues after the last one returned.
 * Call before waiting on anything (such as a slow client). */
void store_iter_pause(struct store_iter *iter);
void store_iter_close(struct store_iter *iter);

/* ---- changing and deleting responses (writer only; each keeps the rollups exact) ---- */

enum store_status store_update_answers(struct store_conn *conn, const char *id, const char *answers_json);
enum store_status store_delete_response(struct store_conn *conn, const char *id);

/* Deletes every response of a customer, every idempotency record that names them, their
 * invitations, and every webhook delivery whose payload holds their data (customer = theirs), in
 * any state, and every logged event whose object holds their data (webhook_events.customer): an
 * erased customer's data is neither sent nor kept in the outbox. (Their responses' created and
 * updated events hold only the response id; preparing skips them once the response is gone.) */
enum store_status store_erase_customer(struct store_conn *conn, const char *customer, int64_t *deleted);

/* Deletes up to max responses submitted before cutoff_ms, and up to max invitations created before
 * it (*deleted counts both). */
enum store_status store_delete_before(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);

/* After an erasure has committed: removes what the database itself still keeps of the deleted rows
 * where the backend can reach it, using the needles (store_customer_traces) where it can search
 * for them; *rewrote says whether it rewrote storage to do so. How each backend does it, and what
 * stays the operator's to handle: backend.h, docs/SECURITY.md.
 * *rewrote says whether a rewrite was needed. Writer only, outside a transaction. */
enum store_status store_purge(struct store_conn *conn, char *const *needles, int count, bool *rewrote);

/* What identifies a customer's data on disk, for store_purge: their response, invitation and
 * webhook delivery ids,
 * their free-text answers of 8 bytes or more, and the customer id itself when it is at least 6 bytes (shorter ones
 * would match by chance). A malloc'd array of malloc'd strings. */
enum store_status store_customer_traces(struct store_conn *conn, const char *customer, char ***traces, int *count);

/* ---- idempotency ---- */
struct store_idempotency {
    const char *scope;      /* the caller's name for what the key applies to: opaque here */
    const char *survey;     /* the survey the record belongs to, deleted with it; NULL for none */
    const char *key;
    const void *body;
    size_t body_len;
};

struct store_replay {
    int status;
    char *reply;            /* the reply body as first sent */
    char *response_id;
};

void store_replay_free(struct store_replay *replay);

/* STORE_NOT_FOUND, STORE_REPLAY (with *replay filled) or STORE_KEY_REUSED. */
enum store_status store_find_idempotency(struct store_conn *conn, const struct store_idempotency *request,
                                         struct store_replay *replay);

enum store_status store_save_idempotency(struct store_conn *conn, const struct store_idempotency *request,
                                         int status, const char *reply, const char *response_id,
                                         const char *customer, int64_t now_ms);

/* ---- edit tokens ---- */

/* The stored hash (hash_len bytes) and expiry of a response's edit token; STORE_NOT_FOUND when the
 * response has none (unknown, or stored before edit tokens existed). */
enum store_status store_get_edit_token(struct store_conn *conn, const char *response_id, unsigned char *hash,
                                       size_t hash_len, int64_t *expires_at);

/* ---- metrics ---- */

/* One histogram cell: `count` answers of `question` with bucket value (value, or value_text for
 * choice options) on `day`, channel and agent ("" when none). question is NULL for a cell that
 * counts responses rather than answers. Buckets: nps/csat/ces the answer, yes_no 1/0, choice the
 * option's text or -1 for "other", text 0. */
struct store_metrics_cell {
    int64_t day;            /* days since 1970-01-01 UTC */
    const char *channel;
    const char *agent;      /* "" unless the query filters or groups by agent */
    const char *question;
    bool value_is_text;
    int64_t value;
    const char *value_text;
    int64_t count;
    const char *topic;      /* the topic the cell counts for when the query is by_topic; else NULL */
};

typedef void (*store_metrics_fn)(const struct store_metrics_cell *cell, void *arg);

struct store_metrics_query {
    const char *survey;
    int64_t from_ms, to_ms;     /* [from, to) by submitted_at; INT64_MIN / INT64_MAX when open */
    const char *channel;        /* exact match, or NULL */
    const char *agent;          /* exact match, or NULL */
    bool by_agent;              /* cells must carry their agent */
    bool by_day;                /* cells must carry their own day (group_by=day or week); otherwise a
                                 * cell may cover a whole month and carry its first day */
    const char *topic;          /* only the responses tagged with this topic of the survey, or NULL */
    bool by_topic;              /* a cell per topic of the survey its responses are tagged with (a
                                 * response with k topics counts k times; untagged ones not at all) */
};

/* Calls each() for every cell in the window. Cells of the same key may come more than once (whole
 * months and days from rollups, partial edge days from hours and raw rows): callers add them up. */
enum store_status store_metrics_scan(struct store_conn *conn, const struct store_metrics_query *query,
                                     store_metrics_fn each, void *arg);

/* A number that grows with every committed write to the survey's data (survey NULL: to any
 * survey's), from any instance sharing the database, and never repeats across the database's
 * lifetime: a cached reply and its ETag are labelled with it, so neither is ever older than a
 * write another instance acknowledged before the request arrived. Writes that may touch every
 * survey (erasure, retention) count for each. SQLite (one process owns the file: versions.c
 * suffices) always gives 0. */
enum store_status store_data_version(struct store_conn *conn, const char *survey, int64_t *version);

/* First and last day with responses; STORE_NOT_FOUND when there are none. */
enum store_status store_day_span(struct store_conn *conn, const char *survey, int64_t *first_day, int64_t *last_day);

/* ---- invitations (email/SMS links to the hosted survey page) ---- */

#define STORE_INVITATION_HASH_LEN 32    /* SHA-256 of the link's token: the token itself is never stored */

enum store_invitation_outcome {
    STORE_INVITATION_SENT,          /* a link was made */
    STORE_INVITATION_THROTTLED,     /* suppressed: the customer was contacted too recently */
    STORE_INVITATION_SAMPLED_OUT,   /* suppressed: the customer is outside the survey's sample */
};

/* One invitation as stored. A suppressed one is kept too (it is counted) but has no token, no
 * expiry and no page. Times are ms since the epoch; 0 means "not yet" / "none". */
struct store_invitation_row {
    char id[32];
    char survey[SURVEY_ID_MAX + 1];
    char *customer;                         /* always set */
    char *channel, *agent, *interaction;    /* NULL when absent */
    char *properties;                       /* JSON object text, or NULL */
    enum store_invitation_outcome outcome;
    bool has_token;
    unsigned char token_hash[STORE_INVITATION_HASH_LEN];
    char form_key[33];                      /* the hosted page's anti-forgery field value ("" if none) */
    int64_t created_at, expires_at;
    /* What happened since; changed with store_update_invitation. */
    int64_t opened_at;                      /* first visit that did not look automated */
    int64_t responded_at;                   /* first answer recorded through the page */
    char response_id[32];                   /* "" until then */
    int64_t automated_visits;               /* visits that looked like a scanner's */
    int64_t last_visit_at;                  /* for telling bursts of different values apart */
    char *last_visit_value;                 /* the ?a= value of that visit, or NULL */
    char *captured;                         /* JSON object: question id -> "submit" | "interaction", or NULL */
};

void store_invitation_row_free(struct store_invitation_row *row);

/* Writer only, in the caller's transaction. id, survey, customer and created_at must be set. */
enum store_status store_insert_invitation(struct store_conn *conn, const struct store_invitation_row *row);

enum store_status store_get_invitation(struct store_conn *conn, const char *id, struct store_invitation_row *out);

/* The invitation whose token hashes to hash; STORE_NOT_FOUND when none (never a suppressed one). */
enum store_status store_find_invitation_by_token(struct store_conn *conn,
                                                 const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                                 struct store_invitation_row *out);

/* Writer only: stores row's "what happened since" fields (opened_at .. captured) for row->id. */
enum store_status store_update_invitation(struct store_conn *conn, const struct store_invitation_row *row);

/* Writer only, in the caller's transaction: when the customer was last contacted about the survey,
 * the later of their last invitation that was sent (not suppressed) and their last response's
 * submitted_at; STORE_NOT_FOUND when never. Also takes a lock on (survey, customer) held until the
 * transaction ends, so that instances sharing the database decide one invitation at a time. */
enum store_status store_last_contact(struct store_conn *conn, const char *survey, const char *customer,
                                     int64_t *last_ms);

/* One group of invitations created on `day` (channel and agent "" when none; agent "" unless the
 * query groups or filters by agent), by what became of them. responded counts those whose page
 * recorded an answer (whenever it did); opened those opened by a visit that did not look automated,
 * responded ones included. */
struct store_invitation_cell {
    int64_t day;
    const char *channel, *agent;
    int64_t sent, suppressed, opened, responded;
};

/* Calls each() for every cell of the survey's invitations created in [from_ms, to_ms), with the
 * query's channel/agent filters; cells of one key may come more than once (callers add them up). */
enum store_status store_invitation_scan(struct store_conn *conn, const struct store_metrics_query *query,
                                        void (*each)(const struct store_invitation_cell *cell, void *arg),
                                        void *arg);

/* ---- topics: saved queries that tag responses (docs/search.md "Topics") ----
 *
 * A response is tagged with each topic of its survey whose query (text_query.h) its document
 * (response_text.h) matches: new and edited responses in the writer's transaction, the survey's
 * earlier ones when a topic is created or its query changes: by the PUT's transaction, or (a
 * backend with store_topic_backfill) by a back-fill in batches after it. Tags go with their
 * response and with their topic. Backends without them: store_can_topics false. */

#define STORE_TOPICS_MAX 50     /* per survey */
#define STORE_TOPIC_ID_MAX 64

struct store_topic_row {
    char survey[SURVEY_ID_MAX + 1];
    char id[STORE_TOPIC_ID_MAX + 1];
    char *title, *query;
    int64_t created_at, updated_at;
    int64_t scanned, total;     /* back-fill: responses looked at, of the survey's when it started */
    int64_t tagged;             /* responses tagged now (read only) */
    bool running;               /* its back-fill has not reached the end yet (read only) */
};

void store_topic_row_free(struct store_topic_row *row);

bool store_can_topics(const struct store *store);

/* Writer only: creates or replaces the topic; when it is new or its query changed, re-tags every
 * response of the survey (row's scanned/total are set from that). *created: it was new. */
enum store_status store_put_topic(struct store_conn *conn, struct store_topic_row *row, bool query_changed,
                                  bool *created);
enum store_status store_get_topic(struct store_conn *conn, const char *survey, const char *id,
                                  struct store_topic_row *out);
enum store_status store_list_topics(struct store_conn *conn, const char *survey,
                                    void (*each)(const struct store_topic_row *row, void *arg), void *arg);
/* Writer only; STORE_NOT_FOUND when there was none. Its tags go with it. */
enum store_status store_delete_topic(struct store_conn *conn, const char *survey, const char *id);
enum store_status store_count_topics(struct store_conn *conn, const char *survey, int64_t *count);

/* Whether metrics can group by topic (store_metrics_query.by_topic; false: 501 for now). */
bool store_can_group_by_topic(const struct store *store);

/* Whether PUT leaves the back-fill to store_topic_backfill (false: done in the PUT). */
bool store_topics_backfill_later(const struct store *store);

/* Writer only, a writer job of its own: one batch of the back-fill of the first topic (by survey
 * and id) whose back-fill runs: looks at up to `batch` stored responses after its cursor (SQLite:
 * by seq, whatever their survey, so that a batch costs `batch` rows), tags those of its survey
 * that its query matches and moves the cursor; done when fewer were left. survey: that topic's
 * survey ("" when none runs); *more: whether a back-fill may still run after this one. */
enum store_status store_topic_backfill(struct store_conn *conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                       bool *more);

/* ---- webhooks: subscriptions, the event log, and the deliveries made from it ----
 *
 * An event (a response created, updated or deleted, a survey updated, a customer erased) is one
 * narrow row appended to the event log in the same transaction as the change that caused it, so it
 * is never lost and never sent for a change that rolled back; it is logged only while at least one
 * subscription exists. Each subscription reads the log through its own cursor: the sender
 * (outbound/webhook_sender.c) "prepares" the next events after the cursor (matches them against the
 * subscription, renders the body, stores a PENDING delivery) only as fast as it has room to send
 * them, then claims due deliveries, posts them, and records the outcome, all through the writer.
 * Why a log and cursors rather than one delivery row per event and subscription written at ingest:
 * that row (seven b-trees, a trigger, the rendered body) cost ingest 23 % with a receiver that
 * sleeps (docs/benchmarks.md); an appended narrow row costs it next to nothing, and a receiver that
 * holds its slots stops the preparing, not the ingest. Times are ms since the epoch; 0 means
 * "none" / "not yet". */

#define STORE_WEBHOOK_ID_MAX 64     /* ids are slugs, as survey ids are */

struct store_webhook_row {
    char id[STORE_WEBHOOK_ID_MAX + 1];
    char *url;                      /* http(s) URL the deliveries are posted to */
    char *events;                   /* JSON array text of event types */
    char *surveys;                  /* JSON array text of survey ids; NULL: every survey */
    char *filter;                   /* JSON object text (domain/webhook_spec.h); NULL: none */
    char *format;                   /* "standard" | "slack" */
    char *secret;                   /* "whsec_..." signing secret: kept in clear, it signs */
    char *old_secret;               /* the secret before the last rotation, or NULL */
    int64_t old_secret_until;       /* deliveries are signed with old_secret too until then */
    int64_t disabled_at;            /* 0: enabled; set when a receiver answered 410 Gone */
    char *disabled_reason;          /* NULL when enabled */
    int64_t created_at, updated_at;
    int64_t cursor;                 /* seq of the last logged event prepared (or passed) for it */
};

void store_webhook_row_free(struct store_webhook_row *row);

/* Writer only. Inserts or replaces every field of row (created_at too: the caller keeps it) except
 * cursor: a new subscription's cursor is the newest logged event's seq (it is owed only events
 * that happen after it exists); a replaced one keeps its cursor. *created says which. */
enum store_status store_put_webhook(struct store_conn *conn, const struct store_webhook_row *row, bool *created);

enum store_status store_get_webhook(struct store_conn *conn, const char *id, struct store_webhook_row *out);

/* Calls each(row, arg) for every subscription in id order; rows are freed after each call. */
enum store_status store_list_webhooks(struct store_conn *conn,
                                      void (*each)(const struct store_webhook_row *row, void *arg), void *arg);

/* Writer only: removes the subscription and every delivery of it. STORE_NOT_FOUND when none. */
enum store_status store_delete_webhook(struct store_conn *conn, const char *id);

/* Writer only: marks the subscription disabled (a 410 Gone) unless it already is; its deliveries
 * stay as they are and none is claimed until a PUT enables it again (disabled_at 0). */
enum store_status store_disable_webhook(struct store_conn *conn, const char *id, int64_t now_ms, const char *reason);

enum store_delivery_state {
    STORE_DELIVERY_PENDING,         /* waiting for next_attempt_at */
    STORE_DELIVERY_SENDING,         /* claimed by a sender until lease_until */
    STORE_DELIVERY_DELIVERED,       /* a receiver answered 2xx */
    STORE_DELIVERY_DEAD,            /* retried for the whole retry window in vain: no more attempts */
};

/* One event for one subscription. The event id ("msg_..."; the webhook-id header) is the same for
 * every subscription the event went to and for every attempt, retry and replay: receivers
 * de-duplicate on it. */
struct store_delivery_row {
    char id[32];                    /* "dlv_..." */
    char webhook[STORE_WEBHOOK_ID_MAX + 1];
    char event_id[32];
    char *type;                     /* "response.created", ... */
    char *survey;                   /* the survey the event is about, or NULL */
    char *subject;                  /* what its order is kept for (a response id), or NULL */
    char *customer;                 /* whose data the payload holds (erasure removes it), or NULL */
    char *payload;                  /* the exact body posted (JSON text) */
    int64_t seq;                    /* order of insertion, given by the store */
    enum store_delivery_state state;
    int64_t attempts;
    int last_status;                /* HTTP status of the last attempt; 0 when none came back */
    char *last_error;               /* why the last attempt failed, or NULL */
    int64_t created_at;             /* when the event happened */
    int64_t window_start;           /* retries stop (dead) retry window after this; a manual retry
                                     * or a replay starts a new window */
    int64_t next_attempt_at;        /* PENDING: not before then */
    int64_t lease_until;            /* SENDING: another sender may take it over after then */
    int64_t last_attempt_at, delivered_at;
};

void store_delivery_row_free(struct store_delivery_row *row);

/* Writer only, in the caller's transaction (the sender's prepare job): stores a new PENDING
 * delivery. id, webhook, event_id, type, payload, created_at, window_start and next_attempt_at
 * must be set; seq is assigned. */
enum store_status store_insert_delivery(struct store_conn *conn, const struct store_delivery_row *row);

/* Writer only: claims up to max deliveries of one enabled subscription, earliest due first (seq
 * breaking ties: new events are due when they happen, so they go in the order they were stored;
 * picking by seq alone made a claim scan a whole backlog), and calls each() with every claimed
 * row in seq order (state SENDING, attempts counting this one, lease_until set). A
 * delivery is claimable when it is PENDING with next_attempt_at <= now_ms, or SENDING with
 * lease_until < now_ms (its sender died), and no delivery of the same subscription and subject
 * with a smaller seq is PENDING or SENDING (so a response's updates never overtake its creation).
 * On a shared backend concurrent claimers never take the same row (FOR UPDATE SKIP LOCKED).
 * Nothing is claimed from a disabled subscription. */
enum store_status store_claim_deliveries(struct store_conn *conn, const char *webhook, int64_t now_ms,
                                         int64_t lease_until, int max,
                                         void (*each)(const struct store_delivery_row *row, void *arg), void *arg);

/* What one attempt came to: state DELIVERED (delivered_at = when), PENDING (a retry at
 * next_attempt_at) or DEAD. */
struct store_delivery_outcome {
    const char *id;
    enum store_delivery_state state;
    int last_status;
    const char *last_error;         /* NULL when none */
    int64_t attempted_at, next_attempt_at, delivered_at;
};

/* Writer only: records the outcome of an attempt on a SENDING delivery. STORE_NOT_FOUND (nothing
 * changed) when it is no longer SENDING (deleted, erased, or reset by a manual retry meanwhile).
 * A customer.erased delivery that becomes DELIVERED or DEAD has its payload replaced by "{}": the
 * erased customer's id it carried is kept no longer than it takes to tell the receiver. */
enum store_status store_finish_delivery(struct store_conn *conn, const struct store_delivery_outcome *outcome);

/* Writer only: every SENDING delivery becomes PENDING, due now. For a process that owns its store
 * alone (SQLite) at start-up: what it was sending when it died is sent again, with the same ids. */
enum store_status store_requeue_sending(struct store_conn *conn, int64_t now_ms, int64_t *requeued);

enum store_status store_get_delivery(struct store_conn *conn, const char *id, struct store_delivery_row *out);

/* A subscription's deliveries, newest first (seq descending), those with seq < before_seq
 * (INT64_MAX: from the newest), only those in *state when state is not NULL, at most limit. */
struct store_delivery_query {
    const char *webhook;
    const enum store_delivery_state *state;
    int64_t before_seq;
    int64_t limit;
};
enum store_status store_list_deliveries(struct store_conn *conn, const struct store_delivery_query *query,
                                        void (*each)(const struct store_delivery_row *row, void *arg), void *arg);

/* Writer only: a delivery of webhook that is not SENDING becomes PENDING, due at now_ms, with a new
 * retry window from now_ms (attempts keep counting). STORE_NOT_FOUND when no such delivery of that
 * subscription; STORE_CONFLICT when it is SENDING. */
enum store_status store_retry_delivery(struct store_conn *conn, const char *webhook, const char *id, int64_t now_ms);

/* Writer only: every DELIVERED or DEAD delivery of webhook whose event happened in [from_ms, to_ms)
 * becomes PENDING again as store_retry_delivery does (same ids); *count says how many. */
enum store_status store_replay_deliveries(struct store_conn *conn, const char *webhook, int64_t from_ms,
                                          int64_t to_ms, int64_t now_ms, int64_t *count);

/* PENDING and SENDING deliveries of one subscription (the outbox's depth, bounded per subscription),
 * and the created_at of the oldest of them (0 when none). */
enum store_status store_delivery_backlog(struct store_conn *conn, const char *webhook, int64_t *depth,
                                         int64_t *oldest_ms);

/* Writer only: deletes up to max DELIVERED or DEAD deliveries created before cutoff_ms (the history
 * a replay can reach). */
enum store_status store_prune_deliveries(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted);

/* ---- the event log ----
 *
 * Tables (both backends): webhook_events (seq, id, type, survey, subject, customer, object,
 * created_at) with no index but its primary key and a partial one on customer (rows that hold a
 * customer's data are rare: response.deleted), so that appending costs one narrow row; and
 * webhooks.cursor. seq order is commit order on both backends: on SQLite one writer commits in
 * order; on PostgreSQL store_append_event first takes a transaction-scoped advisory lock
 * (pg_advisory_xact_lock, one key for the log) and the seq is drawn under it, so no transaction
 * can commit a smaller seq than one a reader has already seen, and a cursor never passes an event
 * that is still to commit. (The price: on PostgreSQL, instances' transactions that log events
 * commit one at a time; a writer batch holds the lock from its first event to its commit.) */

struct store_event_row {
    int64_t seq;                    /* the log's order, assigned by store_append_event */
    char id[32];                    /* "msg_...": every delivery of it, to any subscription, has it */
    char *type;                     /* "response.created", ... */
    char *survey;                   /* survey.updated: the survey; response.deleted: the response's
                                     * survey; NULL for response.created/updated (found when
                                     * prepared) and customer.erased */
    char *subject;                  /* response.*: the response id; survey.updated: the survey id;
                                     * customer.erased: NULL */
    char *customer;                 /* whose data object holds (erasure deletes the row), or NULL */
    char *object;                   /* JSON text of what the event is about when it will be gone by
                                     * the time the event is prepared: response.deleted (the response
                                     * as GET showed it), customer.erased ({customer,
                                     * deleted_responses}); NULL: read and rendered when prepared */
    int64_t created_at;             /* when the change happened */
};

void store_event_row_free(struct store_event_row *row);

/* Writer only, in the caller's transaction: whether any subscription exists, enabled or not (an
 * event is logged only then: a paused or disabled subscription is still owed what happens while it
 * is, up to its cap). One indexed probe. */
enum store_status store_webhooks_exist(struct store_conn *conn, bool *any);

/* Writer only, in the caller's transaction: appends an event (id, type, created_at set; the rest
 * may be NULL); row->seq is ignored, the store assigns it (PostgreSQL: under the log's lock). */
enum store_status store_append_event(struct store_conn *conn, const struct store_event_row *row);

/* Calls each() with up to limit events with seq > after_seq, in seq order (rows freed after each
 * call). */
enum store_status store_list_events(struct store_conn *conn, int64_t after_seq, int64_t limit,
                                    void (*each)(const struct store_event_row *row, void *arg), void *arg);

/* How many events have seq > after_seq, and the created_at of the first of them (0 when none). */
enum store_status store_count_events(struct store_conn *conn, int64_t after_seq, int64_t *count,
                                     int64_t *oldest_ms);

/* Writer only: reads a subscription's cursor for preparing. On PostgreSQL it locks the
 * subscription's row until the transaction ends (FOR UPDATE SKIP LOCKED): *locked is false (and
 * *cursor untouched) when another instance is preparing for it now; on SQLite *locked is true.
 * STORE_NOT_FOUND when no such subscription. */
enum store_status store_lock_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t *cursor,
                                            bool *locked);

/* Writer only: sets the cursor (never backwards: a smaller value leaves it as it is). */
enum store_status store_set_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t cursor);

/* Writer only: the outbox's cap. Moves the cursor forward so that at most keep events remain after
 * it; *skipped says how many it passed (0 when it was within the cap). */
enum store_status store_trim_webhook_backlog(struct store_conn *conn, const char *webhook, int64_t keep,
                                             int64_t *skipped);

/* Writer only: deletes up to max events that every subscription's cursor has passed (every event
 * when no subscription exists). */
enum store_status store_prune_events(struct store_conn *conn, int64_t max, int64_t *deleted);

/* ---- consistency ---- */

/* Recomputes every rollup from the raw responses, in one read transaction, and calls report() with
 * a line per difference. *differences counts them. */
enum store_status store_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                               uint64_t *differences, uint64_t *responses);

/* Calls each() for every stored response with its survey's current definition, all from one read
 * snapshot: for checking that every stored answer fits its question (surveyd verify). */
typedef void (*store_answers_fn)(const char *survey, const char *definition, const char *id, const char *answers,
                                 void *arg);
enum store_status store_each_answers(struct store *store, store_answers_fn each, void *arg);

/* Copies the store to the file dest from one read snapshot, writers never blocked (SQLite: written
 * as dest.tmp, checked with integrity_check, then renamed). A PostgreSQL store is backed up with
 * PostgreSQL's own tools: STORE_ERROR with err saying so. */
enum store_status store_backup(struct store *store, const char *dest, char *err, size_t err_size);

/* ---- health ---- */

/* Bytes the store takes on disk. */
uint64_t store_size_bytes(struct store *store);

/* Commits a tiny real write (the health row): proves the disk takes writes again. Writer only. */
enum store_status store_probe_write(struct store_conn *conn, int64_t now_ms);

/* A cheap read that proves the database answers. */
bool store_ping(struct store_conn *conn);

/* ---- copying a store into another (surveyd migrate) ---- */

/* A response with everything the store keeps of it: the row, and its edit token's hash and expiry
 * (token.hash NULL: none). */
struct store_stored_response {
    struct store_response_row row;
    struct store_edit_token token;
};

/* An idempotency record as stored: the request it answered (scope, survey, key, body) and the reply. */
struct store_idempotency_record {
    struct store_idempotency request;
    int status;
    const char *reply;
    const char *response_id, *customer;     /* NULL when absent */
    int64_t created_at;
};

/* How many rows a dump holds, for progress and the final check. */
struct store_dump_counts {
    int64_t surveys, responses, records;
    int64_t invitations;
    int64_t webhooks, deliveries, events;
    int64_t topics;
};

/* What store_dump hands the rows to. Each returns STORE_OK to go on; anything else ends the dump
 * with that status. Rows (and their strings) are valid during the call only. */
struct store_dump_sink {
    enum store_status (*begin)(const struct store_dump_counts *counts, void *arg);
    enum store_status (*survey)(const struct store_survey_row *row, void *arg);
    enum store_status (*response)(const struct store_stored_response *row, void *arg);
    enum store_status (*record)(const struct store_idempotency_record *record, void *arg);
    /* NULL: the dump skips invitations. */
    enum store_status (*invitation)(const struct store_invitation_row *row, void *arg);
    /* NULL: the dump skips webhooks; their deliveries (every state, in seq order) likewise. */
    enum store_status (*webhook)(const struct store_webhook_row *row, void *arg);
    enum store_status (*delivery)(const struct store_delivery_row *row, void *arg);
    /* The event log in seq order; skipped with webhook. Subscriptions carry their cursors. */
    enum store_status (*event)(const struct store_event_row *row, void *arg);
    /* Topics (title, query, times; no tags: the target tags its own copies), after the responses.
     * NULL: the dump skips them. */
    enum store_status (*topic)(const struct store_topic_row *row, void *arg);
};

/* Reads the whole store from one read snapshot, in constant memory: the counts, every survey (by
 * id), every response (in the order they were stored), every invitation (likewise), every
 * idempotency record. Made for a store
 * opened with store_open_read_only, beside a serving surveyd, whose writes it never blocks. A
 * backend that cannot be a source answers STORE_ERROR with err saying so; err also holds the
 * reason of a read that failed. */
enum store_status store_dump(struct store *store, const struct store_dump_sink *sink, void *arg, char *err,
                             size_t err_size);

/* Writer only, in the caller's transaction: rows as another store's dump gave them, stored as they
 * are (times, ids, texts, token hashes). A survey keeps its created_at and updated_at. A response
 * is added to the rollups as it counts under survey (its survey's stored definition, parsed), by
 * the rules of the answer_facts view, so that `surveyd verify` finds them consistent; the rollup
 * cells are written when the transaction commits. */
enum store_status store_import_survey(struct store_conn *conn, const struct store_survey_row *row);
enum store_status store_import_response(struct store_conn *conn, const struct survey *survey,
                                        const struct store_stored_response *row);
enum store_status store_import_idempotency(struct store_conn *conn, const struct store_idempotency_record *record);
/* An invitation as another store's dump gave it, every field as it is (tokens stay valid). */
enum store_status store_import_invitation(struct store_conn *conn, const struct store_invitation_row *row);
/* A subscription (secrets included) and a delivery, every field as it is (seq order is kept). */
enum store_status store_import_webhook(struct store_conn *conn, const struct store_webhook_row *row);
enum store_status store_import_delivery(struct store_conn *conn, const struct store_delivery_row *row);
/* A logged event with its seq as it is; an imported subscription keeps its cursor. After the
 * import the target's own seq source continues past the largest imported seq. */
enum store_status store_import_event(struct store_conn *conn, const struct store_event_row *row);

/* A topic with its title, query and times; the target tags the responses it holds (the responses
 * must be stored first: after store_import_end and a commit, on a target that streams them). */
enum store_status store_import_topic(struct store_conn *conn, const struct store_topic_row *row);

/* Responses may be streamed (PostgreSQL: COPY) and only checked here: call it before store_commit
 * (keep true: its status says whether every row went in) and before store_rollback (keep false). */
enum store_status store_import_end(struct store_conn *conn, bool keep);

#endif
