/* Pieces every API handler shares: authorisation, JSON bodies, survey loading, store errors. Each
 * function that returns false (or NULL) has already queued the error reply. */
#ifndef SURVEYD_API_H
#define SURVEYD_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "app.h"
#include "http.h"
#include "store.h"
#include "survey.h"
#include "validate.h"

static inline struct app *api_app(struct http_request *req)
{
    return req->app;
}

/* The roles the request's bearer token carries (0 without one). */
struct auth_result api_auth(struct http_request *req);

/* For anonymous submissions: takes a token from the client's bucket, or replies 429 rate_limited
 * with Retry-After and returns false. */
bool api_rate_limit(struct http_request *req);

/* The same without a reply: true when a token was taken (or there is no limit), else false with
 * *retry_after in seconds, for callers whose refusal is not JSON (the hosted page). */
bool api_rate_limit_take(struct http_request *req, unsigned *retry_after);

/* Replies 401 (no or unknown token) or 403 (a known token without the right). */
void api_reply_denied(struct http_request *req, struct auth_result auth);

/* True when the request may go on; otherwise replies 401/403. may() is auth_may_read and the like. */
bool api_require(struct http_request *req, bool (*may)(unsigned roles));

/* Checks the Content-Type (application/json; text/plain too when allowed), then the body as strict
 * JSON, and parses it. Replies 415, 400 invalid_json or 422 (a NUL in a string) and returns NULL. */
cJSON *api_parse_body(struct http_request *req, bool allow_text_plain);

/* 422 validation_failed with every collected error; frees errors. */
void api_reply_invalid(struct http_request *req, struct validate_errors *errors);

/* One-field 422. */
void api_reply_invalid_field(struct http_request *req, const char *field, const char *message);

/* 204 when a deletion committed, else the store failure's reply. */
void api_reply_deleted(struct http_request *req, enum store_status status);

/* The reply for a store failure: 503 (with Retry-After), 404, or 500. */
void api_reply_store_error(struct http_request *req, enum store_status status);

/* For callers allowed to know which surveys exist: 404 survey_not_found naming the id when status
 * is STORE_NOT_FOUND, else the store failure's reply. Callers without that right must get
 * api_reply_denied() instead, so ids can't be probed. */
void api_reply_survey_error(struct http_request *req, const char *id, enum store_status status);

/* Reads and parses a stored survey. STORE_OK fills *survey (and *row when given; free both).
 * With a cache, an unchanged definition is not parsed again. */
enum store_status api_load_survey(struct store_conn *conn, const char *id, struct survey *survey,
                                  struct store_survey_row *row);
enum store_status api_load_survey_cached(struct survey_cache *cache, struct store_conn *conn, const char *id,
                                         struct survey *survey, struct store_survey_row *row);
/* The same for a request thread, from the cache without a database read while no survey write has
 * committed since it was read (survey_cache_get_current). Never inside the writer's transaction:
 * that one must see its own uncommitted writes. */
enum store_status api_load_survey_current(struct survey_cache *cache, struct store_conn *conn, const char *id,
                                          struct survey *survey, struct store_survey_row *row);

/* The stored definition as served: id, definition fields, created_at, updated_at. */
cJSON *api_render_survey(const struct store_survey_row *row);

/* A stored response in the shape every endpoint uses. */
cJSON *api_render_response(const struct store_response_row *row);

/* A write that may change one survey's metrics. Route jobs embed it first. */
struct api_job {
    struct writer_job job;              /* first: the writer hands this pointer back */
    writer_apply_fn apply;              /* the route's work, inside the transaction */
    struct app *app;
    char survey[SURVEY_ID_MAX + 1];     /* whose data versions to bump; "" for every survey */
    char context_id[SURVEY_ID_MAX + 1]; /* what the job is about, for jobs that need no more */
    writer_committed_fn after_commit;   /* optional, after the commit and the version bump */
    size_t webhook_events;              /* webhook events apply logged (webhook_events.h): when any,
                                         * the sender is woken once they committed */
};

/* Hands job to the writer and suspends the request; the handler runs again once the job's
 * transaction committed (or failed), with job->job.status set. When the writer's queue is full the
 * status is STORE_UNAVAILABLE at once. job->apply and job->survey must be set. The survey's data
 * version is bumped inside the transaction and again after its commit (see versions.h). */
enum http_next api_submit(struct http_request *req, struct api_job *job);

/* The same for a write that changes no survey's data (webhook subscriptions and their outbox):
 * no data version is bumped, so no cached metrics or ETag go stale for it. job->apply must be set;
 * job->after_commit runs after the commit as with api_submit. */
enum http_next api_submit_unversioned(struct http_request *req, struct api_job *job);

/* Adds an RFC 3339 timestamp member. */
void api_add_time(cJSON *object, const char *name, int64_t ms);

#endif
