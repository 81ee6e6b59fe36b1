/* /v1/surveys: survey definitions. */
#include "surveys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "oom.h"
#include "timefmt.h"
#include "webhook_events.h"

/* ---- PUT /v1/surveys/{survey} ---- */

struct put_job {
    struct api_job job;             /* first: the writer hands this pointer back */
    struct survey survey;
    char *definition;
    int64_t now_ms;
    bool created;
    char conflict[256];
    struct store_survey_row stored; /* the row as it stands after the write */
};

static void put_job_free(void *state)
{
    struct put_job *put = state;
    survey_free(&put->survey);
    free(put->definition);
    store_survey_row_free(&put->stored);
    free(put);
}

/* Stored answers must never be reinterpreted: a question that has answers keeps its type and scale,
 * keeps its options, and stays. */
static enum store_status check_answered(struct store_conn *conn, const struct survey *old, const struct survey *new,
                                        char *conflict, size_t size)
{
    for (int i = 0; i < old->question_count; i++) {
        const struct question *before = &old->questions[i];
        int64_t answers;
        enum store_status status = store_answer_count(conn, old->id, before->id, &answers);
        if (status != STORE_OK)
            return status;
        if (answers == 0)
            continue;
        const struct question *after = survey_find_question(new, before->id, NULL);
        const char *problem = NULL;
        if (after == NULL)
            problem = "cannot be removed";
        else if (after->type != before->type)
            problem = "cannot change type";
        else if (after->scale != before->scale)
            problem = "cannot change scale";
        for (int o = 0; after && !problem && o < before->option_count; o++) {
            bool kept = false;
            for (int n = 0; n < after->option_count; n++)
                kept |= strcmp(before->options[o], after->options[n]) == 0;
            if (!kept)
                problem = "cannot drop an option";
        }
        if (problem) {
            snprintf(conflict, size, "question '%s' has %lld stored answer%s and %s; create a new question instead",
                     before->id, (long long)answers, answers == 1 ? "" : "s", problem);
            return STORE_CONFLICT;
        }
    }
    return STORE_OK;
}

/* After the commit, before the reply: submissions stop using the definition from before. */
static void surveys_changed(struct writer_job *job)
{
    survey_cache_surveys_changed(((struct api_job *)job)->app->surveys);
}

static enum store_status apply_put(struct store_conn *conn, struct writer_job *job)
{
    struct put_job *put = (struct put_job *)job;
    struct survey old;
    enum store_status status = api_load_survey(conn, put->survey.id, &old, NULL);

    if (status == STORE_OK) {
        status = check_answered(conn, &old, &put->survey, put->conflict, sizeof put->conflict);
        survey_free(&old);
    } else if (status == STORE_NOT_FOUND) {
        status = STORE_OK;
    }
    if (status != STORE_OK)
        return status;
    status = store_put_survey(conn, put->survey.id, put->definition, put->now_ms, &put->created);
    if (status != STORE_OK)
        return status;
    /* A retried job (STORE_RETRY) reads the row again. */
    store_survey_row_free(&put->stored);
    if ((status = store_get_survey(conn, put->survey.id, &put->stored)) != STORE_OK)
        return status;
    /* Created or replaced alike: a receiver gets the definition as GET shows it now. */
    return webhook_events_survey_queued(conn, put->job.app->webhooks, put->survey.id, put->now_ms,
                                        &put->job.webhook_events);
}

static enum http_next finish_put(struct http_request *req, struct put_job *put)
{
    switch (put->job.job.status) {
    case STORE_OK:
        if (put->created) {
            char location[128];
            snprintf(location, sizeof location, "/v1/surveys/%s", put->survey.id);
            http_add_header(req, "Location", location);
        }
        http_reply_json(req, put->created ? 201 : 200, api_render_survey(&put->stored));
        break;
    case STORE_CONFLICT:
        http_reply_problem(req, 409, "conflict", put->conflict, NULL);
        break;
    default:
        api_reply_store_error(req, put->job.job.status);
        break;
    }
    return HTTP_DONE;
}

enum http_next surveys_put(struct http_request *req)
{
    if (req->state)
        return finish_put(req, req->state);
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    const char *id = req->params[0];
    if (!ids_valid_slug(id)) {
        api_reply_invalid_field(req, "survey",
                                "survey ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit");
        return HTTP_DONE;
    }
    cJSON *body = api_parse_body(req, false);
    if (body == NULL)
        return HTTP_DONE;

    struct put_job *put = calloc(1, sizeof *put);
    struct validate_errors errors;
    if (put == NULL) {
        cJSON_Delete(body);
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    validate_errors_init(&errors);
    if (!validate_definition(id, body, &put->survey, &errors)) {
        cJSON_Delete(body);
        free(put);
        api_reply_invalid(req, &errors);
        return HTTP_DONE;
    }
    cJSON_Delete(body);
    cJSON *normalised = validate_definition_to_json(&put->survey);
    put->definition = cJSON_PrintUnformatted(normalised);
    cJSON_Delete(normalised);
    put->now_ms = timefmt_now_ms();
    put->job.apply = apply_put;
    put->job.after_commit = surveys_changed;
    snprintf(put->job.survey, sizeof put->job.survey, "%s", put->survey.id);
    req->state = put;
    req->state_free = put_job_free;
    return api_submit(req, &put->job);
}

/* ---- DELETE /v1/surveys/{survey} ---- */


static enum store_status apply_delete(struct store_conn *conn, struct writer_job *job)
{
    return store_delete_survey(conn, ((struct api_job *)job)->survey);
}

enum http_next surveys_delete(struct http_request *req)
{
    struct api_job *del = req->state;

    if (del) {
        if (del->job.status == STORE_NOT_FOUND)
            api_reply_survey_error(req, req->params[0], STORE_NOT_FOUND);
        else
            api_reply_deleted(req, del->job.status);
        return HTTP_DONE;
    }
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        api_reply_survey_error(req, req->params[0], STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    if ((del = calloc(1, sizeof *del)) == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    snprintf(del->survey, sizeof del->survey, "%.64s", req->params[0]);
    del->apply = apply_delete;
    del->after_commit = surveys_changed;
    req->state = del;
    req->state_free = free;
    return api_submit(req, del);
}

/* ---- GET /v1/surveys, GET /v1/surveys/{survey} ---- */

static void add_listed(const struct store_survey_row *row, void *arg)
{
    oom_append_item(arg, api_render_survey(row));
}

enum http_next surveys_list(struct http_request *req)
{
    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    cJSON *list = cJSON_CreateArray();
    enum store_status status = conn ? store_list_surveys(conn, add_listed, list) : STORE_UNAVAILABLE;
    if (status != STORE_OK) {
        cJSON_Delete(list);
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    cJSON *reply = cJSON_CreateObject();
    oom_add_item(reply, "surveys", list);
    http_reply_json(req, 200, reply);
    return HTTP_DONE;
}

enum http_next surveys_get(struct http_request *req)
{
    struct auth_result auth = api_auth(req);
    struct store_survey_row row;
    struct survey survey;
    enum store_status status = STORE_NOT_FOUND;

    if (ids_valid_slug(req->params[0]))
        status = api_load_survey(store_reader(api_app(req)->store), req->params[0], &survey, &row);
    if (status == STORE_OK) {
        bool visible = survey.is_public || auth_may_read(auth.roles);
        survey_free(&survey);
        if (visible)
            http_reply_json(req, 200, api_render_survey(&row));
        else
            api_reply_denied(req, auth);
        store_survey_row_free(&row);
    } else if (status == STORE_NOT_FOUND && !auth_may_read(auth.roles)) {
        /* Without the right to read, a missing survey looks like a private one: ids don't leak. */
        api_reply_denied(req, auth);
    } else {
        api_reply_survey_error(req, req->params[0], status);
    }
    return HTTP_DONE;
}
