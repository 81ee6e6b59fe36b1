#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "json_strict.h"
#include "oom.h"
#include "timefmt.h"
#include "webhook_sender.h"

struct auth_result api_auth(struct http_request *req)
{
    return auth_check(api_app(req)->auth, http_header(req, "Authorization"));
}

bool api_rate_limit_take(struct http_request *req, unsigned *retry_after)
{
    struct app *app = api_app(req);
    char address[64];

    if (app->ratelimit == NULL)
        return true;
    client_address(req, app->proxies, address, sizeof address);
    return ratelimit_take(app->ratelimit, address, retry_after);
}

bool api_rate_limit(struct http_request *req)
{
    char retry[16];
    unsigned retry_after = 1;

    if (api_rate_limit_take(req, &retry_after))
        return true;
    snprintf(retry, sizeof retry, "%u", retry_after);
    http_add_header(req, "Retry-After", retry);
    http_reply_problem(req, 429, "rate_limited", "too many submissions from this address; retry later", NULL);
    return false;
}

void api_reply_denied(struct http_request *req, struct auth_result auth)
{
    if (!auth.presented) {
        /* A header that is there but not "Bearer <token>" (Basic auth, a bare token) is the common
         * mistake: say how to send the token rather than that none came. */
        const char *detail = http_header(req, "Authorization")
                                 ? "the Authorization header must be 'Bearer <token>'; other schemes and bare tokens are not accepted"
                                 : "a token is required: send it as 'Authorization: Bearer <token>'";
        http_add_header(req, "WWW-Authenticate", "Bearer realm=\"surveyd\"");
        http_reply_problem(req, 401, "unauthorized", detail, NULL);
    } else if (auth.roles == 0) {
        http_add_header(req, "WWW-Authenticate", "Bearer realm=\"surveyd\", error=\"invalid_token\"");
        http_reply_problem(req, 401, "unauthorized", "the bearer token is not valid", NULL);
    } else {
        http_reply_problem(req, 403, "forbidden", "the token does not allow this", NULL);
    }
}

bool api_require(struct http_request *req, bool (*may)(unsigned roles))
{
    struct auth_result auth = api_auth(req);
    if (may(auth.roles))
        return true;
    api_reply_denied(req, auth);
    return false;
}

cJSON *api_parse_body(struct http_request *req, bool allow_text_plain)
{
    char media[64];
    struct json_strict_result check;
    char detail[160];

    http_media_type(req, media, sizeof media);
    if (strcmp(media, "application/json") != 0 && !(allow_text_plain && strcmp(media, "text/plain") == 0)) {
        http_reply_problem(req, 415, "unsupported_media_type",
                           allow_text_plain ? "send the body as application/json (or text/plain holding JSON)"
                                            : "send the body as application/json",
                           NULL);
        return NULL;
    }
    if (!json_strict_check(req->body, req->body_len, JSON_STRICT_MAX_DEPTH, &check)) {
        snprintf(detail, sizeof detail, "the body is not valid JSON: %s at byte %zu", check.message, check.offset);
        http_reply_problem(req, 400, "invalid_json", detail, NULL);
        return NULL;
    }
    /* \u0000 is valid JSON, so this is a rule of ours (C strings, SQLite text), not a syntax error. */
    if (check.has_nul_escape) {
        api_reply_invalid_field(req, "", "strings must not contain the NUL character (\\u0000)");
        return NULL;
    }
    cJSON *json = cJSON_ParseWithLength(req->body, req->body_len);
    if (json == NULL)
        http_reply_problem(req, 400, "invalid_json", "the body is not valid JSON", NULL);
    return json;
}

void api_reply_invalid(struct http_request *req, struct validate_errors *errors)
{
    cJSON *extra = cJSON_CreateObject();
    char detail[96];

    snprintf(detail, sizeof detail, "%d field%s did not validate; see errors", errors->count,
             errors->count == 1 ? "" : "s");
    cJSON *list = errors->list ? errors->list : cJSON_CreateArray();
    if (!cJSON_AddItemToObject(extra, "errors", list)) {
        cJSON_Delete(list);
        oom_note(); /* a 422 without its errors would be no answer: http.c makes it a 500 */
    }
    errors->list = NULL;
    validate_errors_free(errors);
    http_reply_problem(req, 422, "validation_failed", detail, extra);
}

void api_reply_invalid_field(struct http_request *req, const char *field, const char *message)
{
    struct validate_errors errors;
    validate_errors_init(&errors);
    validate_error(&errors, field, "%s", message);
    api_reply_invalid(req, &errors);
}

void api_reply_deleted(struct http_request *req, enum store_status status)
{
    if (status == STORE_OK)
        http_reply_empty(req, 204);
    else
        api_reply_store_error(req, status);
}

void api_reply_store_error(struct http_request *req, enum store_status status)
{
    switch (status) {
    case STORE_NOT_FOUND:
        http_reply_problem(req, 404, "not_found", "no such resource", NULL);
        break;
    case STORE_UNKNOWN:
        http_add_header(req, "Retry-After", "1");
        http_reply_problem(req, 503, "unavailable",
                           "the connection to the database broke while storing this, and whether it was stored is"
                           " unknown; retry with the same Idempotency-Key to store it exactly once",
                           NULL);
        break;
    case STORE_UNAVAILABLE:
    case STORE_RETRY: /* the writer retried already */
        http_add_header(req, "Retry-After", "1");
        http_reply_problem(req, 503, "unavailable", "storage is unavailable right now; nothing was stored; retry",
                           NULL);
        break;
    default:
        http_reply_problem(req, 500, "internal", "an internal error occurred; nothing was stored", NULL);
        break;
    }
}

void api_reply_survey_error(struct http_request *req, const char *id, enum store_status status)
{
    char detail[160];

    if (status != STORE_NOT_FOUND) {
        api_reply_store_error(req, status);
        return;
    }
    /* A malformed id is not echoed: it can be anything up to the route's 256 bytes. */
    if (ids_valid_slug(id))
        snprintf(detail, sizeof detail, "no survey '%s'", id);
    else
        snprintf(detail, sizeof detail,
                 "no survey with that id (survey ids are 1-64 characters of a-z, 0-9, '_' and '-')");
    http_reply_problem(req, 404, "survey_not_found", detail, NULL);
}

enum store_status api_load_survey(struct store_conn *conn, const char *id, struct survey *survey,
                                  struct store_survey_row *row)
{
    return api_load_survey_cached(NULL, conn, id, survey, row);
}

enum store_status api_load_survey_cached(struct survey_cache *cache, struct store_conn *conn, const char *id,
                                         struct survey *survey, struct store_survey_row *row)
{
    struct store_survey_row local;
    struct store_survey_row *r = row ? row : &local;
    struct validate_errors errors;

    if (conn == NULL)
        return STORE_UNAVAILABLE;
    enum store_status status = store_get_survey(conn, id, r);
    if (status != STORE_OK)
        return status;
    bool ok = cache && survey_cache_get(cache, id, r->definition, survey);
    if (!ok) {
        cJSON *json = cJSON_Parse(r->definition);
        validate_errors_init(&errors);
        ok = validate_definition(id, json, survey, &errors);
        validate_errors_free(&errors);
        cJSON_Delete(json);
        if (ok && cache)
            survey_cache_put(cache, r->definition, survey);
    }
    if (ok) {
        survey->created_at = r->created_at;
        survey->updated_at = r->updated_at;
    }
    if (r == &local || !ok)
        store_survey_row_free(r);
    return ok ? STORE_OK : STORE_ERROR;
}

enum store_status api_load_survey_current(struct survey_cache *cache, struct store_conn *conn, const char *id,
                                          struct survey *survey, struct store_survey_row *row)
{
    struct store_survey_row local;
    struct store_survey_row *r = row ? row : &local;

    /* Another instance's PUT or DELETE never bumps this process's generation: with a shared store
     * every use reads the stored definition (one primary-key read) and checks the parse against it. */
    if (cache == NULL || (conn != NULL && store_shared(conn)))
        return api_load_survey_cached(cache, conn, id, survey, row);
    if (survey_cache_get_current(cache, id, survey, &r->definition)) {
        snprintf(r->id, sizeof r->id, "%s", id);
        r->created_at = survey->created_at;
        r->updated_at = survey->updated_at;
        if (r == &local)
            store_survey_row_free(r);
        return STORE_OK;
    }
    /* Read before the database: a write committing meanwhile leaves this entry outdated at once. */
    unsigned long long generation = survey_cache_generation(cache);
    enum store_status status = api_load_survey_cached(cache, conn, id, survey, r);
    if (status == STORE_OK) {
        survey_cache_put_current(cache, generation, r->definition, survey);
        if (r == &local)
            store_survey_row_free(r);
    }
    return status;
}

static void resume_request(struct writer_job *job)
{
    http_resume(job->context);
}

static void bump(struct api_job *job)
{
    if (job->survey[0])
        versions_bump(job->app->versions, job->survey);
    else
        versions_bump_all(job->app->versions);
}

/* A job whose work saw an allocation fail (a merge short of answers, a reply short of members) is
 * rolled back rather than stored (the writer runs it under its own savepoint), and any outcome it
 * decided then (a conflict, a validation failure) is not trusted either. */
static enum store_status apply_versioned(struct store_conn *conn, struct writer_job *job)
{
    bump((struct api_job *)job);
    oom_clear();
    enum store_status status = ((struct api_job *)job)->apply(conn, job);
    return oom_failed() && status != STORE_UNAVAILABLE ? STORE_ERROR : status;
}

static void bump_committed(struct writer_job *job)
{
    struct api_job *versioned = (struct api_job *)job;
    bump(versioned);
    /* Only now: a sender woken before the commit could look for the deliveries and miss them. */
    if (versioned->webhook_events > 0)
        webhook_sender_wake(versioned->app->webhooks);
    if (versioned->after_commit)
        versioned->after_commit(job);
}

static enum store_status apply_unversioned(struct store_conn *conn, struct writer_job *job)
{
    oom_clear();
    enum store_status status = ((struct api_job *)job)->apply(conn, job);
    return oom_failed() && status != STORE_UNAVAILABLE ? STORE_ERROR : status;
}

static void unversioned_committed(struct writer_job *job)
{
    struct api_job *plain = (struct api_job *)job;
    if (plain->after_commit)
        plain->after_commit(job);
}

static enum http_next submit(struct http_request *req, struct api_job *job, writer_apply_fn apply,
                             writer_committed_fn committed)
{
    job->app = api_app(req);
    job->job.apply = apply;
    job->job.committed = committed;
    job->job.context = req;
    job->job.done = resume_request;
    /* A job prepared while an allocation failed (a definition or reply text missing, members
     * dropped) must not reach the database. */
    if (oom_failed()) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    /* Suspend before submitting: the writer may finish before this function returns, and a resume
     * must never come before its suspend. */
    http_suspend(req);
    if (!writer_submit(api_app(req)->writer, &job->job)) {
        job->job.status = STORE_UNAVAILABLE;
        http_resume(req);
    }
    return HTTP_SUSPENDED;
}

enum http_next api_submit(struct http_request *req, struct api_job *job)
{
    return submit(req, job, apply_versioned, bump_committed);
}

enum http_next api_submit_unversioned(struct http_request *req, struct api_job *job)
{
    return submit(req, job, apply_unversioned, unversioned_committed);
}

void api_add_time(cJSON *object, const char *name, int64_t ms)
{
    char text[TIMEFMT_BUFSIZE];
    timefmt_format_ms(ms, text);
    cJSON_AddStringToObject(object, name, text);
}

cJSON *api_render_survey(const struct store_survey_row *row)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *definition = cJSON_Parse(row->definition);

    cJSON_AddStringToObject(out, "id", row->id);
    while (definition && definition->child) {
        cJSON *item = cJSON_DetachItemViaPointer(definition, definition->child);
        oom_add_item(out, item->string, item);
    }
    cJSON_Delete(definition);
    api_add_time(out, "created_at", row->created_at);
    api_add_time(out, "updated_at", row->updated_at);
    return out;
}

static void add_nullable(cJSON *object, const char *name, const char *value)
{
    if (value)
        cJSON_AddStringToObject(object, name, value);
    else
        cJSON_AddNullToObject(object, name);
}

cJSON *api_render_response(const struct store_response_row *row)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *answers = cJSON_Parse(row->answers);
    cJSON *properties = row->properties ? cJSON_Parse(row->properties) : NULL;

    cJSON_AddStringToObject(out, "id", row->id);
    cJSON_AddStringToObject(out, "survey", row->survey);
    oom_add_item(out, "answers", answers ? answers : cJSON_CreateObject());
    add_nullable(out, "channel", row->channel);
    add_nullable(out, "customer", row->customer);
    add_nullable(out, "agent", row->agent);
    add_nullable(out, "interaction", row->interaction);
    oom_add_item(out, "properties", properties ? properties : cJSON_CreateNull());
    api_add_time(out, "submitted_at", row->submitted_at);
    api_add_time(out, "received_at", row->received_at);
    return out;
}
