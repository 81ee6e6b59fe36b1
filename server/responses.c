/* POST /v1/surveys/{survey}/responses and GET /v1/responses/{id}.
 *
 * A submission goes: authorise → parse strictly → replay an Idempotency-Key → validate against the
 * definition → hand to the writer → 201 once committed. */
#include "responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "timefmt.h"

#define IDEMPOTENCY_KEY_MAX 255

struct post_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    struct survey survey;
    struct response response;
    char scope[96];
    const char *idempotency_key;        /* the request's header, alive as long as the request */
    struct store_idempotency idempotency;
    char *reply;                        /* the 201 body, also kept for replays */
    char existing_id[32];               /* on conflict */
    struct store_replay replay;         /* when the writer found the key already used */
};

static void post_job_free(void *state)
{
    struct post_job *post = state;
    survey_free(&post->survey);
    survey_response_free(&post->response);
    store_replay_free(&post->replay);
    free(post->reply);
    free(post);
}

static enum store_status apply_post(struct store_conn *conn, struct writer_job *job)
{
    struct post_job *post = (struct post_job *)job;
    enum store_status status;

    /* Checked again here, in the transaction: two retries racing each other both missed the record
     * before validation, and only the first may insert. */
    if (post->idempotency_key) {
        status = store_find_idempotency(conn, &post->idempotency, &post->replay);
        if (status != STORE_NOT_FOUND)
            return status;
    }
    status = store_insert_response(conn, &post->response, post->existing_id);
    if (status != STORE_OK || !post->idempotency_key)
        return status;
    return store_save_idempotency(conn, &post->idempotency, 201, post->reply, post->response.id,
                                  post->response.customer, post->response.received_at);
}

static void reply_created(struct http_request *req, int status, char *body, const char *id)
{
    char location[64];
    snprintf(location, sizeof location, "/v1/responses/%s", id);
    http_add_header(req, "Location", location);
    http_reply_json_text(req, (unsigned)status, body);
}

static void reply_key_reused(struct http_request *req)
{
    http_reply_problem(req, 422, "idempotency_key_reused",
                       "this Idempotency-Key was already used with a different body", NULL);
}

static void reply_replay(struct http_request *req, struct store_replay *replay)
{
    http_add_header(req, "Idempotent-Replayed", "true");
    reply_created(req, replay->status, replay->reply, replay->response_id ? replay->response_id : "");
    replay->reply = NULL;
}

static enum http_next finish_post(struct http_request *req, struct post_job *post)
{
    switch (post->job.job.status) {
    case STORE_OK:
        reply_created(req, 201, post->reply, post->response.id);
        post->reply = NULL;
        break;
    case STORE_REPLAY:
        reply_replay(req, &post->replay);
        break;
    case STORE_KEY_REUSED:
        reply_key_reused(req);
        break;
    case STORE_CONFLICT: {
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddStringToObject(extra, "id", post->existing_id);
        http_reply_problem(req, 409, "conflict", "a response for this interaction already exists", extra);
        break;
    }
    default:
        api_reply_store_error(req, post->job.job.status);
        break;
    }
    return HTTP_DONE;
}

/* Loads the survey and decides who may submit: anyone to a public survey, else ingest or admin.
 * A missing survey looks private to those without the right, so ids don't leak. */
static bool authorise(struct http_request *req, struct store_conn *conn, struct survey *survey)
{
    struct auth_result auth = api_auth(req);
    enum store_status status = STORE_NOT_FOUND;

    if (ids_valid_slug(req->params[0]))
        status = api_load_survey(conn, req->params[0], survey, NULL);
    if (status == STORE_OK && (survey->is_public || auth_may_ingest(auth.roles)))
        return true;
    if (status == STORE_OK) {
        survey_free(survey);
        api_reply_denied(req, auth);
    } else if (status == STORE_NOT_FOUND && !auth_may_ingest(auth.roles)) {
        api_reply_denied(req, auth);
    } else {
        api_reply_store_error(req, status);
    }
    return false;
}

/* Up to 255 visible ASCII characters. */
static bool idempotency_key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++) {
        if (n >= IDEMPOTENCY_KEY_MAX || key[n] < 0x20 || key[n] > 0x7e)
            return false;
    }
    return n > 0;
}

/* A first look for the key on a read connection: a retry is answered without validating again (the
 * definition may have changed since, and the original answer must still be replayed). */
static bool replayed_early(struct http_request *req, struct store_conn *conn, struct post_job *post)
{
    struct store_replay replay;
    enum store_status status = store_find_idempotency(conn, &post->idempotency, &replay);

    if (status == STORE_REPLAY) {
        reply_replay(req, &replay);
        store_replay_free(&replay);
        return true;
    }
    if (status == STORE_KEY_REUSED) {
        reply_key_reused(req);
        return true;
    }
    return false;
}

static char *created_body(const struct response *response)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "id", response->id);
    cJSON_AddStringToObject(body, "survey", response->survey);
    api_add_time(body, "submitted_at", response->submitted_at);
    api_add_time(body, "received_at", response->received_at);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

enum http_next responses_post(struct http_request *req)
{
    if (req->state)
        return finish_post(req, req->state);

    struct store_conn *conn = store_reader(api_app(req)->store);
    struct post_job *post = calloc(1, sizeof *post);
    struct validate_errors errors;
    cJSON *body = NULL;

    if (post == NULL)
        return HTTP_DONE;
    req->state = post;
    req->state_free = post_job_free;
    if (!authorise(req, conn, &post->survey))
        return HTTP_DONE;
    if ((body = api_parse_body(req, true)) == NULL)
        return HTTP_DONE;

    post->idempotency_key = http_header(req, "Idempotency-Key");
    if (post->idempotency_key) {
        if (!idempotency_key_valid(post->idempotency_key)) {
            api_reply_invalid_field(req, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
            goto done;
        }
        snprintf(post->scope, sizeof post->scope, "POST /v1/surveys/%s/responses", post->survey.id);
        post->idempotency = (struct store_idempotency){post->scope, post->idempotency_key, req->body, req->body_len};
        if (replayed_early(req, conn, post))
            goto done;
    }

    validate_errors_init(&errors);
    if (!validate_response(&post->survey, body, timefmt_now_ms(), &post->response, &errors)) {
        api_reply_invalid(req, &errors);
        goto done;
    }
    if (!ids_new_response_id(post->response.id)) {
        api_reply_store_error(req, STORE_ERROR);
        goto done;
    }
    post->reply = created_body(&post->response);
    post->job.apply = apply_post;
    snprintf(post->job.survey, sizeof post->job.survey, "%s", post->survey.id);
    cJSON_Delete(body);
    return api_submit(req, &post->job);
done:
    cJSON_Delete(body);
    return HTTP_DONE;
}

enum http_next responses_get(struct http_request *req)
{
    struct store_response_row row;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    enum store_status status = conn ? store_get_response(conn, req->params[0], &row) : STORE_UNAVAILABLE;
    if (status != STORE_OK) {
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    http_reply_json(req, 200, api_render_response(&row));
    store_response_row_free(&row);
    return HTTP_DONE;
}
