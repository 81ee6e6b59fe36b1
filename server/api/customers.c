#include "customers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "oom.h"
#include "query.h"
#include "responses.h"
#include "search.h"
#include "timefmt.h"
#include "webhook_events.h"

#define CUSTOMER_MAX 128

static bool customer_valid(const char *customer)
{
    size_t len = validate_utf8_length(customer);
    return len >= 1 && len <= CUSTOMER_MAX;
}

/* ---- GET /v1/customers/{customer}/responses ---- */

/* Per survey: how many responses, and the newest nps, csat and ces answer. Rows come newest first,
 * so the first answer seen of each kind is the latest. */
struct summary {
    struct store_conn *conn;
    struct survey *surveys;     /* loaded once each */
    int survey_count, survey_cap;
    cJSON *by_survey;
};

static const struct survey *summary_survey(struct summary *summary, const char *id)
{
    for (int i = 0; i < summary->survey_count; i++) {
        if (strcmp(summary->surveys[i].id, id) == 0)
            return &summary->surveys[i];
    }
    if (summary->survey_count == summary->survey_cap) {
        int cap = summary->survey_cap ? summary->survey_cap * 2 : 8;
        struct survey *grown = realloc(summary->surveys, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        summary->surveys = grown;
        summary->survey_cap = cap;
    }
    if (api_load_survey(summary->conn, id, &summary->surveys[summary->survey_count], NULL) != STORE_OK)
        return NULL;
    return &summary->surveys[summary->survey_count++];
}

static const struct survey *history_survey(const char *id, void *arg)
{
    return summary_survey(arg, id);
}

static void note_latest(cJSON *entry, const struct survey *survey, const cJSON *answers,
                        const struct store_response_row *row)
{
    for (int i = 0; i < survey->question_count; i++) {
        const struct question *q = &survey->questions[i];
        if (q->type != QUESTION_NPS && q->type != QUESTION_CSAT && q->type != QUESTION_CES)
            continue;
        const char *kind = survey_question_type_name(q->type);
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(answers, q->id);
        if (value == NULL || !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(entry, kind)))
            continue;
        cJSON *latest = cJSON_CreateObject();
        cJSON_AddStringToObject(latest, "question", q->id);
        oom_add_item(latest, "value", cJSON_Duplicate(value, true));
        if (q->type != QUESTION_NPS)
            cJSON_AddNumberToObject(latest, "scale", q->scale);
        cJSON_AddStringToObject(latest, "response", row->id);
        api_add_time(latest, "submitted_at", row->submitted_at);
        /* Like cJSON_AddItemToObject, this leaves a replacement it could not place (the key's copy
         * failed) to the caller. */
        if (!cJSON_ReplaceItemInObjectCaseSensitive(entry, kind, latest)) {
            cJSON_Delete(latest);
            oom_note();
        }
    }
}

static void free_surveys(struct summary *summary)
{
    for (int i = 0; i < summary->survey_count; i++)
        survey_free(&summary->surveys[i]);
    free(summary->surveys);
    summary->surveys = NULL;
    summary->survey_count = summary->survey_cap = 0;
}

static void add_to_summary(const struct store_response_row *row, void *arg)
{
    struct summary *summary = arg;
    cJSON *entry = cJSON_GetObjectItemCaseSensitive(summary->by_survey, row->survey);

    if (entry == NULL) {
        entry = cJSON_AddObjectToObject(summary->by_survey, row->survey);
        cJSON_AddNumberToObject(entry, "responses", 0);
        cJSON_AddNullToObject(entry, "nps");
        cJSON_AddNullToObject(entry, "csat");
        cJSON_AddNullToObject(entry, "ces");
    }
    cJSON *count = cJSON_GetObjectItemCaseSensitive(entry, "responses");
    cJSON_SetNumberValue(count, count->valuedouble + 1);
    const struct survey *survey = summary_survey(summary, row->survey);
    cJSON *answers = cJSON_Parse(row->answers);
    if (survey && answers)
        note_latest(entry, survey, answers, row);
    cJSON_Delete(answers);
}

enum http_next customers_history(struct http_request *req)
{
    struct query query;
    struct store_list_query list;
    struct summary summary = {0};
    enum store_status status;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    const char *customer = req->params[0];
    if (!customer_valid(customer)) {
        api_reply_store_error(req, STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    if (!responses_parse_query(req, QUERY_LIMIT | QUERY_CURSOR | QUERY_TEXT | QUERY_SORT, &query))
        return HTTP_DONE;
    summary.conn = store_reader(api_app(req)->store);
    responses_list_query(&query, &list);
    list.customer = customer;
    struct text_query *text = NULL;
    if (!search_prepare(req, &query, &list, &text))
        return HTTP_DONE;
    struct responses_search search = {text, query.sort_relevance, history_survey, &summary};
    cJSON *reply = responses_page(summary.conn, &list, query.limit, text ? &search : NULL, &status);
    text_query_free(text);
    if (reply == NULL) {
        free_surveys(&summary);
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    /* The summary covers every response of theirs, not just this page. A customer's history is
     * small; the customer index makes this one range scan. */
    struct store_list_query all = {.before_ms = INT64_MAX, .before_id = "", .from_ms = INT64_MIN,
                                   .customer = customer, .limit = -1};
    summary.by_survey = cJSON_CreateObject();
    status = store_list_responses(summary.conn, &all, add_to_summary, &summary);
    free_surveys(&summary);
    if (status != STORE_OK) {
        cJSON_Delete(summary.by_survey);
        cJSON_Delete(reply);
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    oom_add_item(reply, "summary", summary.by_survey);
    cJSON_AddStringToObject(reply, "customer", customer);
    http_reply_json(req, 200, reply);
    return HTTP_DONE;
}

/* ---- DELETE /v1/customers/{customer} ---- */

struct erase_job {
    struct api_job job;             /* first */
    char customer[4 * CUSTOMER_MAX + 1];
    int64_t deleted;
    char **ids;                     /* traces of the erased responses: what must not stay on disk */
    int id_count;
    bool *logged;                   /* per trace: still in the webhook event log, by design */
};

static void erase_job_free(void *state)
{
    struct erase_job *erase = state;
    for (int i = 0; i < erase->id_count; i++)
        free(erase->ids[i]);
    free(erase->ids);
    free(erase->logged);
    free(erase);
}

/* ---- traces the event log keeps by design ---- */

#define LOG_PAGE 1000

struct log_scan {
    struct erase_job *erase;
    int64_t last_seq;
    int64_t rows;
};

static void mark_logged(const struct store_event_row *row, void *arg)
{
    struct log_scan *scan = arg;
    struct erase_job *erase = scan->erase;
    scan->last_seq = row->seq;
    scan->rows++;
    if (row->subject == NULL)
        return;
    for (int i = 0; i < erase->id_count; i++) {
        if (!erase->logged[i] && strcmp(erase->ids[i], row->subject) == 0)
            erase->logged[i] = true;
    }
}

/* Their responses' created and updated events stay in the log after the erasure, holding the
 * response id alone (store.h: preparing passes them over, since the responses are gone; they go
 * when the log is pruned). Those ids are then no stale trace of their rows: the purge would find
 * them, rewrite the whole database for them at every erasure, and find them there again. Every
 * other trace (their texts, invitations, deliveries, the ids no event names) is still searched. */
static enum store_status find_logged_traces(struct store_conn *conn, struct erase_job *erase)
{
    struct log_scan scan = {.erase = erase};
    free(erase->logged);
    erase->logged = calloc(erase->id_count ? (size_t)erase->id_count : 1, sizeof *erase->logged);
    if (erase->logged == NULL)
        return STORE_ERROR;
    enum store_status status;
    do {
        scan.rows = 0;
        status = store_list_events(conn, scan.last_seq, LOG_PAGE, mark_logged, &scan);
    } while (status == STORE_OK && scan.rows == LOG_PAGE);
    return status;
}

static enum store_status apply_erase(struct store_conn *conn, struct writer_job *job)
{
    struct erase_job *erase = (struct erase_job *)job;
    enum store_status status = store_customer_traces(conn, erase->customer, &erase->ids, &erase->id_count);
    if (status == STORE_OK)
        status = store_erase_customer(conn, erase->customer, &erase->deleted);
    if (status == STORE_OK)
        status = find_logged_traces(conn, erase);
    if (status != STORE_OK)
        return status;
    /* After the erasure, which removed every delivery of theirs: this one only says that it happened. */
    return webhook_events_customer_erased_queued(conn, erase->job.app->webhooks, erase->customer,
                                                 erase->deleted, timefmt_now_ms(), &erase->job.webhook_events);
}

/* A queued customer.erased event names the customer until it is delivered (docs/webhook-events.md):
 * their id is then no stale trace to search the files for. Every other trace (their responses'
 * ids and texts, invitations, deliveries) still is, and finds any stale copy of their rows. */
static void keep_erased_event(struct erase_job *erase)
{
    int kept = 0;
    for (int i = 0; i < erase->id_count; i++) {
        if ((erase->job.webhook_events > 0 && strcmp(erase->ids[i], erase->customer) == 0) ||
            (erase->logged && erase->logged[i]))
            free(erase->ids[i]);
        else
            erase->ids[kept++] = erase->ids[i];
    }
    erase->id_count = kept;
}

/* Nothing of theirs may stay readable on disk where the store can reach it: the steps are the
 * backend's (store_purge: SQLite truncates its WAL and rewrites the file only when a trace is still
 * in it; PostgreSQL vacuums the tables that held them). */
static void scrub_after_erase(struct writer_job *job)
{
    struct erase_job *erase = (struct erase_job *)job;
    bool rewrote;
    keep_erased_event(erase);
    if (store_purge(store_writer(erase->job.app->store), erase->ids, erase->id_count, &rewrote) != STORE_OK)
        log_warn("erasure: the database could not be purged yet; old pages go at the next checkpoint or vacuum");
    else if (rewrote)
        log_info("erasure: the store vacuumed what held the customer's data (SQLite: only when stale copies were found)");
}

enum http_next customers_erase(struct http_request *req)
{
    struct erase_job *erase = req->state;

    if (erase) {
        if (erase->job.job.status != STORE_OK) {
            api_reply_store_error(req, erase->job.job.status);
        } else {
            cJSON *reply = cJSON_CreateObject();
            cJSON_AddNumberToObject(reply, "deleted", (double)erase->deleted);
            http_reply_json(req, 200, reply);
        }
        return HTTP_DONE;
    }
    if (!api_require(req, auth_may_admin))
        return HTTP_DONE;
    if (!customer_valid(req->params[0])) {
        api_reply_store_error(req, STORE_NOT_FOUND);
        return HTTP_DONE;
    }
    if ((erase = calloc(1, sizeof *erase)) == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    snprintf(erase->customer, sizeof erase->customer, "%s", req->params[0]);
    erase->job.apply = apply_erase;
    erase->job.after_commit = scrub_after_erase;
    erase->job.survey[0] = '\0'; /* any survey's metrics may change */
    req->state = erase;
    req->state_free = erase_job_free;
    return api_submit(req, &erase->job);
}
