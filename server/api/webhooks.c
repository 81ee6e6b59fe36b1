/* /v1/webhooks: subscriptions, their signing secrets, and their outbox of deliveries.
 *
 * Every write goes through the writer (api_submit_unversioned: no survey's data changes) and wakes
 * the sender after its commit, so a re-enabled subscription, a retry or a replay is sent at once
 * rather than at the next poll. The SSRF check resolves the URL's host here, in the request's
 * thread, before the job: the writer never waits for DNS. */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "oom.h"
#include "timefmt.h"
#include "webhook_events.h"
#include "webhook_sender.h"
#include "webhook_sign.h"
#include "webhook_spec.h"
#include "webhook_target.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)
#define OVERLAP_DEFAULT_HOURS 24
#define OVERLAP_MAX_HOURS 168
#define REPLAY_MAX_DAYS 90
#define DELIVERIES_LIMIT_DEFAULT 100
#define DELIVERIES_LIMIT_MAX 1000
#define DELIVERY_ID_MAX 31

static const char *const state_names[] = {
    [STORE_DELIVERY_PENDING] = "pending", [STORE_DELIVERY_SENDING] = "sending",
    [STORE_DELIVERY_DELIVERED] = "delivered", [STORE_DELIVERY_DEAD] = "dead",
};

/* ---- replies ---- */

static void reply_webhook_not_found(struct http_request *req, const char *id)
{
    char detail[160];
    snprintf(detail, sizeof detail, "no webhook subscription '%.64s'", id);
    http_reply_problem(req, 404, "webhook_not_found", detail, NULL);
}

static void reply_delivery_not_found(struct http_request *req, const char *webhook, const char *id)
{
    char detail[200];
    snprintf(detail, sizeof detail, "no delivery '%.31s' of webhook subscription '%.64s'", id, webhook);
    http_reply_problem(req, 404, "delivery_not_found", detail, NULL);
}

/* 422 invalid_webhook with every field error, as validation_failed carries them elsewhere. */
static void reply_invalid_webhook(struct http_request *req, struct validate_errors *errors)
{
    cJSON *extra = cJSON_CreateObject();
    char detail[96];
    snprintf(detail, sizeof detail, "%d field%s did not validate; see errors", errors->count,
             errors->count == 1 ? "" : "s");
    cJSON *list = errors->list ? errors->list : cJSON_CreateArray();
    if (!cJSON_AddItemToObject(extra, "errors", list)) {
        cJSON_Delete(list);
        oom_note();
    }
    errors->list = NULL;
    validate_errors_free(errors);
    http_reply_problem(req, 422, "invalid_webhook", detail, extra);
}

/* ---- rendering ---- */

static void add_time_or_null(cJSON *object, const char *name, int64_t ms)
{
    if (ms > 0)
        api_add_time(object, name, ms);
    else
        cJSON_AddNullToObject(object, name);
}

static void add_string_or_null(cJSON *object, const char *name, const char *value)
{
    if (value)
        cJSON_AddStringToObject(object, name, value);
    else
        cJSON_AddNullToObject(object, name);
}

/* A stored JSON text inline (null when absent or, for a corrupt row, unparseable). */
static void add_json_or_null(cJSON *object, const char *name, const char *text)
{
    cJSON *json = text ? cJSON_Parse(text) : NULL;
    if (json)
        oom_add_item(object, name, json);
    else
        cJSON_AddNullToObject(object, name);
}

struct backlog {
    int64_t pending, oldest_ms;
};

/* The subscription as GET shows it: never a secret. secret_rotated_until only while an old secret
 * still signs. */
static cJSON *render_webhook(const struct store_webhook_row *row, const struct backlog *backlog, int64_t now_ms)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", row->id);
    cJSON_AddStringToObject(out, "url", row->url);
    add_json_or_null(out, "events", row->events);
    add_json_or_null(out, "surveys", row->surveys);
    add_json_or_null(out, "filter", row->filter);
    cJSON_AddStringToObject(out, "format", row->format);
    cJSON_AddBoolToObject(out, "enabled", row->disabled_at == 0);
    add_time_or_null(out, "disabled_at", row->disabled_at);
    add_string_or_null(out, "disabled_reason", row->disabled_at ? row->disabled_reason : NULL);
    api_add_time(out, "created_at", row->created_at);
    api_add_time(out, "updated_at", row->updated_at);
    bool rotating = row->old_secret != NULL && row->old_secret_until > now_ms;
    add_time_or_null(out, "secret_rotated_until", rotating ? row->old_secret_until : 0);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "pending", (double)backlog->pending);
    add_time_or_null(b, "oldest_at", backlog->oldest_ms);
    oom_add_item(out, "backlog", b);
    return out;
}

static cJSON *render_delivery(const struct store_delivery_row *row, bool with_payload)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", row->id);
    cJSON_AddStringToObject(out, "event_id", row->event_id);
    cJSON_AddStringToObject(out, "type", row->type);
    add_string_or_null(out, "survey", row->survey);
    add_string_or_null(out, "subject", row->subject);
    bool known = (unsigned)row->state < sizeof state_names / sizeof state_names[0];
    cJSON_AddStringToObject(out, "status", known ? state_names[row->state] : "unknown");
    cJSON_AddNumberToObject(out, "attempts", (double)row->attempts);
    if (row->last_status > 0)
        cJSON_AddNumberToObject(out, "last_status", row->last_status);
    else
        cJSON_AddNullToObject(out, "last_status");
    add_string_or_null(out, "last_error", row->last_error);
    api_add_time(out, "created_at", row->created_at);
    add_time_or_null(out, "next_attempt_at", row->state == STORE_DELIVERY_PENDING ? row->next_attempt_at : 0);
    add_time_or_null(out, "last_attempt_at", row->last_attempt_at);
    add_time_or_null(out, "delivered_at", row->state == STORE_DELIVERY_DELIVERED ? row->delivered_at : 0);
    if (with_payload)
        add_json_or_null(out, "payload", row->payload);
    return out;
}

/* The backlog: open deliveries (pending or sending) plus the logged events after the cursor, not
 * prepared yet. The events are an upper bound (some will not match, some will be passed over), the
 * price of not matching them at ingest; the same sum is the queue-depth gauge
 * (docs/webhook-delivery.md). */
static enum store_status count_backlog(struct store_conn *conn, const struct store_webhook_row *row,
                                       struct backlog *backlog)
{
    int64_t events = 0, oldest_event = 0;
    enum store_status status = store_delivery_backlog(conn, row->id, &backlog->pending, &backlog->oldest_ms);
    if (status == STORE_OK)
        status = store_count_events(conn, row->cursor, &events, &oldest_event);
    backlog->pending += events;
    if (oldest_event != 0 && (backlog->oldest_ms == 0 || oldest_event < backlog->oldest_ms))
        backlog->oldest_ms = oldest_event;
    return status;
}

/* Reads the subscription and its backlog and renders them (NULL with *status set otherwise). */
static cJSON *load_webhook(struct store_conn *conn, const char *id, int64_t now_ms, enum store_status *status)
{
    struct store_webhook_row row;
    struct backlog backlog = {0, 0};
    *status = conn ? store_get_webhook(conn, id, &row) : STORE_UNAVAILABLE;
    if (*status != STORE_OK)
        return NULL;
    *status = count_backlog(conn, &row, &backlog);
    cJSON *out = *status == STORE_OK ? render_webhook(&row, &backlog, now_ms) : NULL;
    store_webhook_row_free(&row);
    return out;
}

/* ---- jobs ---- */

/* Every write of this file: a subscription, perhaps one delivery of it, and the reply decided in
 * the transaction. */
struct webhook_job {
    struct api_job job;                     /* first: the writer hands this pointer back */
    char webhook[STORE_WEBHOOK_ID_MAX + 1];
    char delivery[DELIVERY_ID_MAX + 1];
    int64_t now_ms;
    bool webhook_missing;                   /* 404 webhook_not_found rather than delivery_not_found */
    /* PUT */
    struct webhook_spec spec;
    struct webhook_spec_texts texts;
    bool created;
    /* PUT (a new one) and rotate-secret: the secret the reply shows, once */
    char secret[WEBHOOK_SECRET_MAX];
    bool show_secret;
    int64_t overlap_ms;
    /* replay */
    int64_t from_ms, to_ms, replayed;
    cJSON *reply;                           /* rendered inside the transaction, as committed */
};

static void webhook_job_free(void *state)
{
    struct webhook_job *job = state;
    webhook_spec_free(&job->spec);
    webhook_spec_texts_free(&job->texts);
    cJSON_Delete(job->reply);
    /* The secret is shown once and kept nowhere else in this process. */
    memset(job->secret, 0, sizeof job->secret);
    free(job);
}

static void wake_sender(struct writer_job *job)
{
    webhook_sender_wake(((struct api_job *)job)->app->webhooks);
}

/* Allocates the job for a subscription id that is a slug (the caller checked). */
static struct webhook_job *new_job(struct http_request *req, const char *webhook, writer_apply_fn apply)
{
    struct webhook_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        http_reply_out_of_memory(req);
        return NULL;
    }
    snprintf(job->webhook, sizeof job->webhook, "%.64s", webhook);
    job->now_ms = timefmt_now_ms();
    job->job.apply = apply;
    job->job.after_commit = wake_sender;
    return job;
}

static enum http_next submit(struct http_request *req, struct webhook_job *job)
{
    req->state = job;
    req->state_free = webhook_job_free;
    return api_submit_unversioned(req, &job->job);
}

/* Renders the subscription as it stands in the job's transaction into job->reply. */
static enum store_status render_into_job(struct store_conn *conn, struct webhook_job *job)
{
    enum store_status status;
    cJSON_Delete(job->reply);   /* from an earlier run of a job the writer ran again */
    job->reply = load_webhook(conn, job->webhook, job->now_ms, &status);
    if (status == STORE_OK && job->show_secret)
        cJSON_AddStringToObject(job->reply, "secret", job->secret);
    return status;
}

/* ---- PUT /v1/webhooks/{id} ---- */

/* What a PUT sets on a row: enabled:true clears a disable (a 410's included); enabled:false keeps
 * an earlier disable as it was, or pauses now. */
static void put_disabled(const struct webhook_job *put, const struct store_webhook_row *old, bool exists,
                         struct store_webhook_row *row)
{
    if (put->spec.enabled) {
        row->disabled_at = 0;
        row->disabled_reason = NULL;
    } else if (exists && old->disabled_at != 0) {
        row->disabled_at = old->disabled_at;
        row->disabled_reason = old->disabled_reason;
    } else {
        row->disabled_at = put->now_ms;
        row->disabled_reason = "paused";
    }
}

/* A disabled subscription enabled again: first the log is settled as the disabled one is owed
 * it (events before disabled_at become deliveries, later ones are passed over), or the sender,
 * which does that about once a second, might not have come to them, and what happened during the
 * pause would be sent. A few pages at most per PUT (the writer is held meanwhile); should more
 * remain (a pause of many thousand events, resumed within a second), the rest are prepared as for
 * the enabled subscription. */
static enum store_status settle_paused(struct store_conn *conn, const char *webhook, int64_t now_ms)
{
    enum store_status status = STORE_OK;
    for (int page = 0; page < 16 && status == STORE_OK; page++) {
        int64_t cursor_before, left = 0, oldest;
        struct store_webhook_row row;
        if ((status = store_get_webhook(conn, webhook, &row)) != STORE_OK)
            break;
        cursor_before = row.cursor;
        store_webhook_row_free(&row);
        if ((status = store_count_events(conn, cursor_before, &left, &oldest)) != STORE_OK || left == 0)
            break;
        int prepared;
        if ((status = webhook_events_prepare(conn, webhook, 0, now_ms, &prepared)) != STORE_OK)
            break;
        if ((status = store_get_webhook(conn, webhook, &row)) != STORE_OK)
            break;
        bool moved = row.cursor > cursor_before;
        store_webhook_row_free(&row);
        if (!moved)
            break; /* another instance prepares for it now */
    }
    return status;
}

static enum store_status apply_put(struct store_conn *conn, struct writer_job *writer_job)
{
    struct webhook_job *put = (struct webhook_job *)writer_job;
    struct store_webhook_row old, row;
    memset(&old, 0, sizeof old);
    memset(&row, 0, sizeof row);
    enum store_status status = store_get_webhook(conn, put->webhook, &old);
    bool exists = status == STORE_OK;
    if (!exists && status != STORE_NOT_FOUND)
        return status;
    if (exists && old.disabled_at != 0 && put->spec.enabled &&
        (status = settle_paused(conn, put->webhook, put->now_ms)) != STORE_OK) {
        store_webhook_row_free(&old);
        return status;
    }

    snprintf(row.id, sizeof row.id, "%s", put->webhook);
    row.url = put->spec.url;
    row.events = put->texts.events;
    row.surveys = put->texts.surveys;
    row.filter = put->texts.filter;
    row.format = (char *)put->texts.format;
    /* A replaced subscription keeps its secrets (and a rotation in progress); only a new one gets
     * a secret, and only its creation's reply shows it. */
    row.secret = exists ? old.secret : put->secret;
    row.old_secret = exists ? old.old_secret : NULL;
    row.old_secret_until = exists ? old.old_secret_until : 0;
    put_disabled(put, &old, exists, &row);
    row.created_at = exists ? old.created_at : put->now_ms;
    row.updated_at = put->now_ms;
    status = store_put_webhook(conn, &row, &put->created);
    if (exists)
        store_webhook_row_free(&old);
    if (status != STORE_OK)
        return status;
    put->show_secret = !exists;
    return render_into_job(conn, put);
}

static enum http_next finish_put(struct http_request *req, struct webhook_job *put)
{
    if (put->job.job.status != STORE_OK) {
        api_reply_store_error(req, put->job.job.status);
        return HTTP_DONE;
    }
    if (put->created) {
        char location[128];
        snprintf(location, sizeof location, "/v1/webhooks/%s", put->webhook);
        http_add_header(req, "Location", location);
    }
    http_reply_json(req, put->created ? 201 : 200, put->reply);
    put->reply = NULL;
    return HTTP_DONE;
}

/* The SSRF guard at save time: every address the host resolves to now must be allowed. */
static bool check_target(struct http_request *req, const char *url)
{
    char why[256];
    switch (webhook_target_check(url, api_app(req)->webhook_allow_private, why, sizeof why)) {
    case WEBHOOK_TARGET_OK:
        return true;
    case WEBHOOK_TARGET_FORBIDDEN:
        http_reply_problem(req, 422, "webhook_url_forbidden", why, NULL);
        return false;
    case WEBHOOK_TARGET_UNRESOLVED:
        http_reply_problem(req, 422, "webhook_url_unresolved", why, NULL);
        return false;
    case WEBHOOK_TARGET_INVALID:
        break;
    }
    api_reply_invalid_field(req, "url", why);
    return false;
}

/* Parses and checks the body into put; false when a reply was queued. */
static bool prepare_put(struct http_request *req, struct webhook_job *put)
{
    cJSON *body = api_parse_body(req, false);
    if (body == NULL)
        return false;
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool valid = webhook_spec_parse(body, &put->spec, &errors);
    cJSON_Delete(body);
    if (!valid) {
        reply_invalid_webhook(req, &errors);
        return false;
    }
    if (!check_target(req, put->spec.url))
        return false;
    if (!webhook_spec_to_stored(&put->spec, &put->texts) || !webhook_sign_new_secret(put->secret)) {
        http_reply_problem(req, 500, "internal", "could not prepare the subscription; nothing was stored", NULL);
        return false;
    }
    return true;
}

enum http_next webhooks_put(struct http_request *req)
{
    if (req->state)
        return finish_put(req, req->state);
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        struct validate_errors errors;
        validate_errors_init(&errors);
        validate_error(&errors, "id", "webhook ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a "
                                      "letter or digit");
        reply_invalid_webhook(req, &errors);
        return HTTP_DONE;
    }
    struct webhook_job *put = new_job(req, req->params[0], apply_put);
    if (put == NULL)
        return HTTP_DONE;
    if (!prepare_put(req, put)) {
        webhook_job_free(put);
        return HTTP_DONE;
    }
    return submit(req, put);
}

/* ---- GET /v1/webhooks, GET /v1/webhooks/{id} ---- */

struct id_list {
    char (*ids)[STORE_WEBHOOK_ID_MAX + 1];
    size_t count, size;
    bool failed;
};

static void collect_id(const struct store_webhook_row *row, void *arg)
{
    struct id_list *list = arg;
    if (list->count == list->size) {
        size_t size = list->size ? list->size * 2 : 16;
        void *grown = realloc(list->ids, size * sizeof *list->ids);
        if (grown == NULL) {
            oom_note();
            list->failed = true;
            return;
        }
        list->ids = grown;
        list->size = size;
    }
    snprintf(list->ids[list->count++], sizeof list->ids[0], "%s", row->id);
}

/* Ids first, then each subscription with its backlog: no second query runs while the list's
 * statement is still open on the connection. A subscription deleted in between is left out. */
static cJSON *list_webhooks(struct store_conn *conn, enum store_status *status)
{
    struct id_list ids = {NULL, 0, 0, false};
    *status = conn ? store_list_webhooks(conn, collect_id, &ids) : STORE_UNAVAILABLE;
    if (*status == STORE_OK && ids.failed)
        *status = STORE_ERROR;
    cJSON *list = *status == STORE_OK ? cJSON_CreateArray() : NULL;
    int64_t now_ms = timefmt_now_ms();
    for (size_t i = 0; list && i < ids.count; i++) {
        cJSON *one = load_webhook(conn, ids.ids[i], now_ms, status);
        if (*status == STORE_NOT_FOUND) {
            *status = STORE_OK;
            continue;
        }
        if (*status != STORE_OK) {
            cJSON_Delete(list);
            free(ids.ids);
            return NULL;
        }
        oom_append_item(list, one);
    }
    free(ids.ids);
    return list;
}

enum http_next webhooks_list(struct http_request *req)
{
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    enum store_status status;
    cJSON *list = list_webhooks(store_reader(api_app(req)->store), &status);
    if (list == NULL) {
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    cJSON *reply = cJSON_CreateObject();
    oom_add_item(reply, "webhooks", list);
    http_reply_json(req, 200, reply);
    return HTTP_DONE;
}

enum http_next webhooks_get(struct http_request *req)
{
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    enum store_status status = STORE_NOT_FOUND;
    cJSON *one = NULL;
    if (ids_valid_slug(req->params[0]))
        one = load_webhook(store_reader(api_app(req)->store), req->params[0], timefmt_now_ms(), &status);
    if (status == STORE_NOT_FOUND)
        reply_webhook_not_found(req, req->params[0]);
    else if (one == NULL)
        api_reply_store_error(req, status);
    else
        http_reply_json(req, 200, one);
    return HTTP_DONE;
}

/* ---- DELETE /v1/webhooks/{id} ---- */

static enum store_status apply_delete(struct store_conn *conn, struct writer_job *writer_job)
{
    return store_delete_webhook(conn, ((struct webhook_job *)writer_job)->webhook);
}

enum http_next webhooks_delete(struct http_request *req)
{
    struct webhook_job *del = req->state;
    if (del) {
        if (del->job.job.status == STORE_NOT_FOUND)
            reply_webhook_not_found(req, del->webhook);
        else
            api_reply_deleted(req, del->job.job.status);
        return HTTP_DONE;
    }
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        reply_webhook_not_found(req, req->params[0]);
        return HTTP_DONE;
    }
    if ((del = new_job(req, req->params[0], apply_delete)) == NULL)
        return HTTP_DONE;
    return submit(req, del);
}

/* ---- POST /v1/webhooks/{id}/rotate-secret ---- */

/* The old secret goes on signing (beside the new one) until now + overlap, so receivers can switch
 * without dropping a delivery; with overlap 0 it stops at once. A second rotation within the
 * overlap drops the first secret: only the last two ever sign. */
static enum store_status apply_rotate(struct store_conn *conn, struct writer_job *writer_job)
{
    struct webhook_job *rot = (struct webhook_job *)writer_job;
    struct store_webhook_row row;
    enum store_status status = store_get_webhook(conn, rot->webhook, &row);
    if (status != STORE_OK)
        return status;
    char *previous_old = row.old_secret;
    char *previous = row.secret;
    row.secret = rot->secret;
    row.old_secret = rot->overlap_ms > 0 ? previous : NULL;
    row.old_secret_until = rot->overlap_ms > 0 ? rot->now_ms + rot->overlap_ms : 0;
    row.updated_at = rot->now_ms;
    rot->show_secret = true;
    bool created;
    status = store_put_webhook(conn, &row, &created);
    /* Back to the row's own strings before freeing it. */
    row.secret = previous;
    row.old_secret = previous_old;
    store_webhook_row_free(&row);
    return status == STORE_OK ? render_into_job(conn, rot) : status;
}

/* {"overlap_hours": n}, optional (an empty body too); false when a reply was queued. */
static bool parse_overlap(struct http_request *req, int64_t *overlap_ms)
{
    *overlap_ms = OVERLAP_DEFAULT_HOURS * HOUR_MS;
    if (req->body_len == 0)
        return true;
    cJSON *body = api_parse_body(req, false);
    if (body == NULL)
        return false;
    struct validate_errors errors;
    validate_errors_init(&errors);
    if (!cJSON_IsObject(body)) {
        validate_error(&errors, "", "the body must be a JSON object such as {\"overlap_hours\": 24}");
    } else {
        for (const cJSON *item = body->child; item; item = item->next) {
            if (strcmp(item->string, "overlap_hours") != 0)
                validate_error(&errors, item->string, "unknown field");
        }
        const cJSON *hours = cJSON_GetObjectItemCaseSensitive(body, "overlap_hours");
        if (hours && !(cJSON_IsNumber(hours) && hours->valuedouble >= 0 && hours->valuedouble <= OVERLAP_MAX_HOURS &&
                       hours->valuedouble == (double)(int)hours->valuedouble))
            validate_error(&errors, "overlap_hours", "must be an integer from 0 to %d", OVERLAP_MAX_HOURS);
        else if (hours)
            *overlap_ms = (int64_t)hours->valuedouble * HOUR_MS;
    }
    cJSON_Delete(body);
    if (errors.count == 0)
        return true;
    api_reply_invalid(req, &errors);
    return false;
}

static enum http_next finish_rotate(struct http_request *req, struct webhook_job *rot)
{
    if (rot->job.job.status == STORE_NOT_FOUND) {
        reply_webhook_not_found(req, rot->webhook);
    } else if (rot->job.job.status != STORE_OK) {
        api_reply_store_error(req, rot->job.job.status);
    } else {
        http_reply_json(req, 200, rot->reply);
        rot->reply = NULL;
    }
    return HTTP_DONE;
}

enum http_next webhooks_rotate_secret(struct http_request *req)
{
    if (req->state)
        return finish_rotate(req, req->state);
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    int64_t overlap_ms;
    if (!parse_overlap(req, &overlap_ms))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        reply_webhook_not_found(req, req->params[0]);
        return HTTP_DONE;
    }
    struct webhook_job *rot = new_job(req, req->params[0], apply_rotate);
    if (rot == NULL)
        return HTTP_DONE;
    rot->overlap_ms = overlap_ms;
    if (!webhook_sign_new_secret(rot->secret)) {
        webhook_job_free(rot);
        http_reply_problem(req, 500, "internal", "could not make a new secret; nothing was changed", NULL);
        return HTTP_DONE;
    }
    return submit(req, rot);
}

/* ---- GET /v1/webhooks/{id}/deliveries ---- */

struct deliveries_query {
    bool has_state;
    enum store_delivery_state state;
    int64_t limit;
    const char *before;         /* a delivery id: the last row of the previous page */
    int seen[3];                /* each parameter at most once */
    struct validate_errors errors;
};

static bool parse_state(const char *text, enum store_delivery_state *out)
{
    for (size_t i = 0; text && i < sizeof state_names / sizeof state_names[0]; i++) {
        if (strcmp(text, state_names[i]) == 0) {
            *out = (enum store_delivery_state)i;
            return true;
        }
    }
    return false;
}

static bool parse_limit(const char *text, int64_t *out)
{
    if (text == NULL || *text == '\0' || strlen(text) > 4)
        return false;
    int64_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return n >= 1 && n <= DELIVERIES_LIMIT_MAX;
}

static void collect_delivery_param(const char *name, const char *value, void *arg)
{
    struct deliveries_query *q = arg;
    static const char *const known[] = {"status", "limit", "before"};
    int which = -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, known[i]) == 0)
            which = i;
    }
    if (which < 0) {
        validate_error(&q->errors, name, "unknown parameter (known: status, limit, before)");
        return;
    }
    if (q->seen[which]++) {
        validate_error(&q->errors, name, "given more than once");
        return;
    }
    if (which == 0 && !(q->has_state = parse_state(value, &q->state)))
        validate_error(&q->errors, name, "must be pending, sending, delivered or dead");
    if (which == 1 && !parse_limit(value, &q->limit))
        validate_error(&q->errors, name, "must be an integer from 1 to %d", DELIVERIES_LIMIT_MAX);
    if (which == 2 && (value == NULL || strncmp(value, "dlv_", 4) != 0 || strlen(value) > DELIVERY_ID_MAX))
        validate_error(&q->errors, name, "must be a delivery id (the next of a previous page)");
    else if (which == 2)
        q->before = value;
}

struct delivery_page {
    cJSON *list;
    int64_t limit, seen;
    char last[DELIVERY_ID_MAX + 1];
};

static void add_to_page(const struct store_delivery_row *row, void *arg)
{
    struct delivery_page *page = arg;
    if (++page->seen > page->limit)
        return;                 /* the one more that says there is a next page */
    oom_append_item(page->list, render_delivery(row, false));
    snprintf(page->last, sizeof page->last, "%s", row->id);
}

/* The cursor's seq: the before delivery must be one of this subscription's. */
static enum store_status cursor_seq(struct store_conn *conn, const char *webhook, const char *before, int64_t *seq)
{
    struct store_delivery_row row;
    *seq = INT64_MAX;
    if (before == NULL)
        return STORE_OK;
    enum store_status status = store_get_delivery(conn, before, &row);
    if (status != STORE_OK)
        return status;
    bool ours = strcmp(row.webhook, webhook) == 0;
    *seq = row.seq;
    store_delivery_row_free(&row);
    return ours ? STORE_OK : STORE_NOT_FOUND;
}

static cJSON *deliveries_page(struct store_conn *conn, const char *webhook, const struct deliveries_query *q,
                              enum store_status *status)
{
    struct store_delivery_query query = {webhook, q->has_state ? &q->state : NULL, INT64_MAX, q->limit + 1};
    struct delivery_page page = {cJSON_CreateArray(), q->limit, 0, ""};
    *status = cursor_seq(conn, webhook, q->before, &query.before_seq);
    if (*status == STORE_OK)
        *status = store_list_deliveries(conn, &query, add_to_page, &page);
    if (*status != STORE_OK) {
        cJSON_Delete(page.list);
        return NULL;
    }
    cJSON *reply = cJSON_CreateObject();
    oom_add_item(reply, "deliveries", page.list);
    add_string_or_null(reply, "next", page.seen > page.limit ? page.last : NULL);
    return reply;
}

/* The subscription must exist (404 webhook_not_found); false when a reply was queued. */
static bool require_webhook(struct http_request *req, struct store_conn *conn, const char *id)
{
    struct store_webhook_row row;
    enum store_status status = STORE_NOT_FOUND;
    if (ids_valid_slug(id))
        status = conn ? store_get_webhook(conn, id, &row) : STORE_UNAVAILABLE;
    if (status == STORE_OK) {
        store_webhook_row_free(&row);
        return true;
    }
    if (status == STORE_NOT_FOUND)
        reply_webhook_not_found(req, id);
    else
        api_reply_store_error(req, status);
    return false;
}

enum http_next webhooks_deliveries(struct http_request *req)
{
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    struct deliveries_query q = {.limit = DELIVERIES_LIMIT_DEFAULT};
    validate_errors_init(&q.errors);
    http_each_query(req, collect_delivery_param, &q);
    if (q.errors.count > 0) {
        api_reply_invalid(req, &q.errors);
        return HTTP_DONE;
    }
    struct store_conn *conn = store_reader(api_app(req)->store);
    if (!require_webhook(req, conn, req->params[0]))
        return HTTP_DONE;
    enum store_status status;
    cJSON *reply = deliveries_page(conn, req->params[0], &q, &status);
    if (reply != NULL)
        http_reply_json(req, 200, reply);
    else if (status == STORE_NOT_FOUND)
        api_reply_invalid_field(req, "before", "no such delivery of this subscription (pass next back unchanged)");
    else
        api_reply_store_error(req, status);
    return HTTP_DONE;
}

/* ---- GET /v1/webhooks/{id}/deliveries/{delivery} ---- */

enum http_next webhooks_delivery(struct http_request *req)
{
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    if (!require_webhook(req, conn, req->params[0]))
        return HTTP_DONE;
    struct store_delivery_row row;
    enum store_status status = STORE_NOT_FOUND;
    if (strlen(req->params[1]) <= DELIVERY_ID_MAX)
        status = store_get_delivery(conn, req->params[1], &row);
    if (status == STORE_OK && strcmp(row.webhook, req->params[0]) != 0) {
        store_delivery_row_free(&row);
        status = STORE_NOT_FOUND;
    }
    if (status == STORE_OK) {
        http_reply_json(req, 200, render_delivery(&row, true));
        store_delivery_row_free(&row);
    } else if (status == STORE_NOT_FOUND) {
        reply_delivery_not_found(req, req->params[0], req->params[1]);
    } else {
        api_reply_store_error(req, status);
    }
    return HTTP_DONE;
}

/* ---- POST /v1/webhooks/{id}/deliveries/{delivery}/retry ---- */

/* STORE_NOT_FOUND with webhook_missing set when the subscription itself is gone. */
static enum store_status webhook_exists(struct store_conn *conn, struct webhook_job *job)
{
    struct store_webhook_row row;
    enum store_status status = store_get_webhook(conn, job->webhook, &row);
    if (status == STORE_OK)
        store_webhook_row_free(&row);
    job->webhook_missing = status == STORE_NOT_FOUND;
    return status;
}

static enum store_status apply_retry(struct store_conn *conn, struct writer_job *writer_job)
{
    struct webhook_job *retry = (struct webhook_job *)writer_job;
    enum store_status status = webhook_exists(conn, retry);
    if (status == STORE_OK)
        status = store_retry_delivery(conn, retry->webhook, retry->delivery, retry->now_ms);
    if (status != STORE_OK)
        return status;
    struct store_delivery_row row;
    if ((status = store_get_delivery(conn, retry->delivery, &row)) != STORE_OK)
        return status;
    cJSON_Delete(retry->reply);
    retry->reply = render_delivery(&row, false);
    store_delivery_row_free(&row);
    return STORE_OK;
}

static enum http_next finish_retry(struct http_request *req, struct webhook_job *retry)
{
    switch (retry->job.job.status) {
    case STORE_OK:
        http_reply_json(req, 200, retry->reply);
        retry->reply = NULL;
        break;
    case STORE_NOT_FOUND:
        if (retry->webhook_missing)
            reply_webhook_not_found(req, retry->webhook);
        else
            reply_delivery_not_found(req, retry->webhook, retry->delivery);
        break;
    case STORE_CONFLICT:
        http_reply_problem(req, 409, "delivery_in_flight",
                           "the delivery is being sent right now; retry it once this attempt has an outcome", NULL);
        break;
    default:
        api_reply_store_error(req, retry->job.job.status);
        break;
    }
    return HTTP_DONE;
}

enum http_next webhooks_retry(struct http_request *req)
{
    if (req->state)
        return finish_retry(req, req->state);
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        reply_webhook_not_found(req, req->params[0]);
        return HTTP_DONE;
    }
    if (strlen(req->params[1]) > DELIVERY_ID_MAX) {
        reply_delivery_not_found(req, req->params[0], req->params[1]);
        return HTTP_DONE;
    }
    struct webhook_job *retry = new_job(req, req->params[0], apply_retry);
    if (retry == NULL)
        return HTTP_DONE;
    snprintf(retry->delivery, sizeof retry->delivery, "%.31s", req->params[1]);
    return submit(req, retry);
}

/* ---- POST /v1/webhooks/{id}/replay ---- */

static void parse_instant(const cJSON *body, const char *name, int64_t *out, struct validate_errors *errors)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);
    if (item == NULL)
        validate_error(errors, name, "is required");
    else if (!cJSON_IsString(item) || !timefmt_parse_instant(item->valuestring, out))
        validate_error(errors, name, "must be a date (2026-11-02) or an RFC 3339 date-time (2026-11-02T14:00:00Z)");
}

/* {"from": time, "to": time}: to after from, at most 90 days apart. False when a reply was queued. */
static bool parse_replay(struct http_request *req, struct webhook_job *replay)
{
    cJSON *body = api_parse_body(req, false);
    if (body == NULL)
        return false;
    struct validate_errors errors;
    validate_errors_init(&errors);
    if (!cJSON_IsObject(body)) {
        validate_error(&errors, "", "the body must be a JSON object such as {\"from\": \"2026-11-01\", \"to\": \"2026-11-02\"}");
    } else {
        for (const cJSON *item = body->child; item; item = item->next) {
            if (strcmp(item->string, "from") != 0 && strcmp(item->string, "to") != 0)
                validate_error(&errors, item->string, "unknown field");
        }
        int before = errors.count;
        parse_instant(body, "from", &replay->from_ms, &errors);
        parse_instant(body, "to", &replay->to_ms, &errors);
        if (errors.count == before && replay->to_ms <= replay->from_ms)
            validate_error(&errors, "to", "must be later than from");
        else if (errors.count == before && replay->to_ms - replay->from_ms > REPLAY_MAX_DAYS * DAY_MS)
            validate_error(&errors, "to", "must be at most %d days after from", REPLAY_MAX_DAYS);
    }
    cJSON_Delete(body);
    if (errors.count == 0)
        return true;
    api_reply_invalid(req, &errors);
    return false;
}

static enum store_status apply_replay(struct store_conn *conn, struct writer_job *writer_job)
{
    struct webhook_job *replay = (struct webhook_job *)writer_job;
    enum store_status status = webhook_exists(conn, replay);
    if (status != STORE_OK)
        return status;
    return store_replay_deliveries(conn, replay->webhook, replay->from_ms, replay->to_ms, replay->now_ms,
                                   &replay->replayed);
}

static enum http_next finish_replay(struct http_request *req, struct webhook_job *replay)
{
    if (replay->job.job.status == STORE_NOT_FOUND) {
        reply_webhook_not_found(req, replay->webhook);
    } else if (replay->job.job.status != STORE_OK) {
        api_reply_store_error(req, replay->job.job.status);
    } else {
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddNumberToObject(reply, "replayed", (double)replay->replayed);
        http_reply_json(req, 200, reply);
    }
    return HTTP_DONE;
}

enum http_next webhooks_replay(struct http_request *req)
{
    if (req->state)
        return finish_replay(req, req->state);
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        reply_webhook_not_found(req, req->params[0]);
        return HTTP_DONE;
    }
    struct webhook_job *replay = new_job(req, req->params[0], apply_replay);
    if (replay == NULL)
        return HTTP_DONE;
    if (!parse_replay(req, replay)) {
        webhook_job_free(replay);
        return HTTP_DONE;
    }
    return submit(req, replay);
}
