#include "topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "oom.h"
#include "text_query.h"
#include "timefmt.h"
#include "topic_backfill.h"
#include "topic_spec.h"
#include "validate.h"

static void reply_topic_not_found(struct http_request *req, const char *survey, const char *id)
{
    char detail[192];
    snprintf(detail, sizeof detail, "survey '%.64s' has no topic '%.64s'", survey, id);
    http_reply_problem(req, 404, "topic_not_found", detail, NULL);
}

/* False (and a 501 queued) on a backend without topics. */
static bool require_topics(struct http_request *req)
{
    if (store_can_topics(api_app(req)->store))
        return true;
    http_reply_problem(req, 501, "topics_unavailable",
                       "topics are not available on this storage backend yet (docs/search.md \"Topics\")", NULL);
    return false;
}

static cJSON *render_topic(const struct store_topic_row *row)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", row->id);
    cJSON_AddStringToObject(out, "survey", row->survey);
    cJSON_AddStringToObject(out, "title", row->title);
    cJSON_AddStringToObject(out, "query", row->query);
    cJSON_AddNumberToObject(out, "responses", (double)row->tagged);
    api_add_time(out, "created_at", row->created_at);
    api_add_time(out, "updated_at", row->updated_at);
    cJSON *backfill = cJSON_AddObjectToObject(out, "backfill");
    cJSON_AddStringToObject(backfill, "state", row->running ? "running" : "done");
    cJSON_AddNumberToObject(backfill, "scanned", (double)row->scanned);
    cJSON_AddNumberToObject(backfill, "total", (double)row->total);
    return out;
}

/* ---- GET /v1/surveys/{survey}/topics and /topics/{topic} ---- */

/* The survey must exist: 404 survey_not_found otherwise. False when a reply was queued. */
static bool survey_exists(struct http_request *req, struct store_conn *conn, const char *survey)
{
    struct store_survey_row row;
    enum store_status status = ids_valid_slug(survey) ? store_get_survey(conn, survey, &row) : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        store_survey_row_free(&row);
        return true;
    }
    api_reply_survey_error(req, survey, status);
    return false;
}

static void add_listed(const struct store_topic_row *row, void *arg)
{
    oom_append_item(arg, render_topic(row));
}

enum http_next topics_list(struct http_request *req)
{
    if (!api_require(req, auth_may_read) || !require_topics(req))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    if (!survey_exists(req, conn, req->params[0]))
        return HTTP_DONE;
    cJSON *list = cJSON_CreateArray();
    enum store_status status = store_list_topics(conn, req->params[0], add_listed, list);
    if (status != STORE_OK) {
        cJSON_Delete(list);
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddStringToObject(reply, "survey", req->params[0]);
    oom_add_item(reply, "topics", list);
    http_reply_json(req, 200, reply);
    return HTTP_DONE;
}

enum http_next topics_get(struct http_request *req)
{
    if (!api_require(req, auth_may_read) || !require_topics(req))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    if (!survey_exists(req, conn, req->params[0]))
        return HTTP_DONE;
    struct store_topic_row row;
    enum store_status status =
        ids_valid_slug(req->params[1]) ? store_get_topic(conn, req->params[0], req->params[1], &row) : STORE_NOT_FOUND;
    if (status == STORE_NOT_FOUND) {
        reply_topic_not_found(req, req->params[0], req->params[1]);
    } else if (status != STORE_OK) {
        api_reply_store_error(req, status);
    } else {
        http_reply_json(req, 200, render_topic(&row));
        store_topic_row_free(&row);
    }
    return HTTP_DONE;
}

bool topics_check_grouping(struct http_request *req)
{
    if (!require_topics(req))
        return false;
    if (store_can_group_by_topic(api_app(req)->store))
        return true;
    http_reply_problem(req, 501, "topics_unavailable",
                       "group_by=topic is not available on this storage backend yet; ask topic= per topic", NULL);
    return false;
}

bool topics_check_filter(struct http_request *req, const char *survey, const char *topic)
{
    if (!require_topics(req))
        return false;
    struct store_topic_row row;
    enum store_status status = store_get_topic(store_reader(api_app(req)->store), survey, topic, &row);
    if (status == STORE_OK) {
        store_topic_row_free(&row);
        return true;
    }
    if (status == STORE_NOT_FOUND)
        reply_topic_not_found(req, survey, topic);
    else
        api_reply_store_error(req, status);
    return false;
}

/* ---- PUT and DELETE: writer jobs ---- */

struct topic_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    char topic[STORE_TOPIC_ID_MAX + 1];
    char *title, *query;
    int64_t now_ms;
    bool created, survey_missing, too_many;
    cJSON *reply;                       /* rendered inside the transaction, as committed */
};

static void topic_job_free(void *state)
{
    struct topic_job *job = state;
    free(job->title);
    free(job->query);
    cJSON_Delete(job->reply);
    free(job);
}

static struct topic_job *new_job(struct http_request *req, writer_apply_fn apply)
{
    struct topic_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        http_reply_out_of_memory(req);
        return NULL;
    }
    snprintf(job->job.survey, sizeof job->job.survey, "%.64s", req->params[0]);
    snprintf(job->topic, sizeof job->topic, "%.64s", req->params[1]);
    job->now_ms = timefmt_now_ms();
    job->job.apply = apply;
    req->state = job;
    req->state_free = topic_job_free;
    return job;
}

/* The topic's survey, in the job's transaction; STORE_NOT_FOUND marks survey_missing. */
static enum store_status check_survey(struct store_conn *conn, struct topic_job *job)
{
    struct store_survey_row row;
    enum store_status status = store_get_survey(conn, job->job.survey, &row);
    if (status == STORE_OK)
        store_survey_row_free(&row);
    job->survey_missing = status == STORE_NOT_FOUND;
    return status;
}

static enum store_status apply_put(struct store_conn *conn, struct writer_job *writer_job)
{
    struct topic_job *put = (struct topic_job *)writer_job;
    enum store_status status = check_survey(conn, put);
    if (status != STORE_OK)
        return status;
    struct store_topic_row old;
    status = store_get_topic(conn, put->job.survey, put->topic, &old);
    bool exists = status == STORE_OK;
    if (!exists && status != STORE_NOT_FOUND)
        return status;
    bool query_changed = !exists || strcmp(old.query, put->query) != 0;
    if (exists)
        store_topic_row_free(&old);
    int64_t count;
    if (!exists && (status = store_count_topics(conn, put->job.survey, &count)) != STORE_OK)
        return status;
    if (!exists && count >= TOPICS_PER_SURVEY_MAX) {
        put->too_many = true;
        return STORE_CONFLICT;
    }
    struct store_topic_row row = {.title = put->title, .query = put->query, .created_at = put->now_ms,
                                  .updated_at = put->now_ms};
    snprintf(row.survey, sizeof row.survey, "%s", put->job.survey);
    snprintf(row.id, sizeof row.id, "%s", put->topic);
    if ((status = store_put_topic(conn, &row, query_changed, &put->created)) != STORE_OK)
        return status;
    struct store_topic_row now;
    if ((status = store_get_topic(conn, put->job.survey, put->topic, &now)) != STORE_OK)
        return status;
    cJSON_Delete(put->reply); /* from an earlier run of a job the writer ran again */
    put->reply = render_topic(&now);
    store_topic_row_free(&now);
    return STORE_OK;
}

static void reply_bad_query(struct http_request *req, enum text_query_status status,
                            const struct text_query_error *error)
{
    if (status == TEXT_QUERY_NO_MEMORY) {
        http_reply_out_of_memory(req);
        return;
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "parameter", "query");
    cJSON_AddNumberToObject(extra, "position", (double)error->position);
    char detail[224];
    snprintf(detail, sizeof detail, "query: %s (at character %zu)", error->message, error->position);
    http_reply_problem(req, 422, error->code, detail, extra);
}

/* {"title": "...", "query": "..."} (topic_spec.h): false when a reply was queued. */
static bool parse_put(struct http_request *req, struct topic_job *put)
{
    cJSON *body = api_parse_body(req, false);
    if (body == NULL)
        return false;
    struct validate_errors errors;
    struct text_query_error query_error;
    struct topic_spec spec;
    validate_errors_init(&errors);
    enum topic_spec_status status = topic_spec_parse(body, &spec, &errors, &query_error);
    cJSON_Delete(body);
    if (status != TOPIC_SPEC_INVALID)
        validate_errors_free(&errors);
    switch (status) {
    case TOPIC_SPEC_OK:
        break;
    case TOPIC_SPEC_INVALID:
        api_reply_invalid(req, &errors);
        return false;
    case TOPIC_SPEC_BAD_QUERY:
        reply_bad_query(req, TEXT_QUERY_INVALID, &query_error);
        return false;
    case TOPIC_SPEC_NO_MEMORY:
        http_reply_out_of_memory(req);
        return false;
    }
    /* The job keeps the texts; the parsed tree is parsed again where it is used (stemmed there). */
    put->title = spec.title;
    put->query = spec.query;
    spec.title = spec.query = NULL;
    topic_spec_free(&spec);
    return true;
}

static enum http_next finish_put(struct http_request *req, struct topic_job *put)
{
    if (put->survey_missing) {
        api_reply_survey_error(req, put->job.survey, STORE_NOT_FOUND);
    } else if (put->too_many) {
        char detail[160];
        snprintf(detail, sizeof detail, "a survey has at most %d topics: delete one first", TOPICS_PER_SURVEY_MAX);
        http_reply_problem(req, 422, "too_many_topics", detail, NULL);
    } else if (put->job.job.status != STORE_OK) {
        api_reply_store_error(req, put->job.job.status);
    } else {
        if (put->created) {
            char location[192];
            snprintf(location, sizeof location, "/v1/surveys/%s/topics/%s", put->job.survey, put->topic);
            http_add_header(req, "Location", location);
        }
        http_reply_json(req, put->created ? 201 : 200, put->reply);
        put->reply = NULL;
        topic_backfill_wake(api_app(req)->topic_backfill);
    }
    return HTTP_DONE;
}

enum http_next topics_put(struct http_request *req)
{
    if (req->state)
        return finish_put(req, req->state);
    if (!api_require(req, auth_may_admin) || !require_topics(req))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        api_reply_survey_error(req, req->params[0], STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    if (!ids_valid_slug(req->params[1])) {
        api_reply_invalid_field(req, "topic", "a topic id is 1-64 characters of a-z, 0-9, '_' and '-', "
                                              "starting with a letter or digit");
        return HTTP_DONE;
    }
    struct topic_job *put = new_job(req, apply_put);
    if (put == NULL || !parse_put(req, put))
        return HTTP_DONE;
    /* Versioned: the survey's cached metrics (topic=) must not outlive the tags they counted. */
    return api_submit(req, &put->job);
}

static enum store_status apply_delete(struct store_conn *conn, struct writer_job *writer_job)
{
    struct topic_job *del = (struct topic_job *)writer_job;
    enum store_status status = check_survey(conn, del);
    return status == STORE_OK ? store_delete_topic(conn, del->job.survey, del->topic) : status;
}

enum http_next topics_delete(struct http_request *req)
{
    struct topic_job *del = req->state;
    if (del) {
        if (del->survey_missing)
            api_reply_survey_error(req, del->job.survey, STORE_NOT_FOUND);
        else if (del->job.job.status == STORE_NOT_FOUND)
            reply_topic_not_found(req, del->job.survey, del->topic);
        else
            api_reply_deleted(req, del->job.job.status);
        return HTTP_DONE;
    }
    if (!api_require(req, auth_may_admin) || !require_topics(req))
        return HTTP_DONE;
    if (!ids_valid_slug(req->params[0])) {
        api_reply_survey_error(req, req->params[0], STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    if (!ids_valid_slug(req->params[1])) {
        reply_topic_not_found(req, req->params[0], req->params[1]);
        return HTTP_DONE;
    }
    if ((del = new_job(req, apply_delete)) == NULL)
        return HTTP_DONE;
    return api_submit(req, &del->job);
}
