/* POST /v1/surveys/{survey}/responses and GET /v1/responses/{id}.
 *
 * A submission goes: authorise → parse strictly → replay an Idempotency-Key → validate against the
 * definition → hand to the writer → 201 once committed. */
#include "responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "edit_token.h"
#include "idempotency.h"
#include "export.h"
#include "ids.h"
#include "oom.h"
#include "query.h"
#include "search.h"
#include "timefmt.h"
#include "webhook_events.h"

/* How far from now an anonymous submitted_at may be: imports of old responses need a token. */
#define ANONYMOUS_CLOCK_SKEW_MS (5 * 60 * 1000LL)

struct post_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    struct survey survey;
    char *definition;                   /* the stored text survey was parsed from */
    struct response response;
    struct validate_errors errors;      /* the definition changed and the response no longer fits */
    const char *body;                   /* the request's, alive as long as the request */
    size_t body_len;
    struct idempotency idem;
    char *reply;                        /* the 201 body, also kept for replays */
    char existing_id[32];               /* on conflict */
    struct store_replay replay;         /* when the writer found the key already used */
    bool trusted;                       /* an ingest or admin token: may learn an existing id */
    char edit_token[EDIT_TOKEN_LEN + 1];            /* in the 201, never stored */
    unsigned char edit_hash[EDIT_TOKEN_HASH_LEN];   /* what is stored */
};

static void post_job_free(void *state)
{
    struct post_job *post = state;
    survey_free(&post->survey);
    free(post->definition);
    survey_response_free(&post->response);
    validate_errors_free(&post->errors);
    store_replay_free(&post->replay);
    free(post->reply);
    free(post);
}

/* The response was validated against the definition of its moment; a PUT may have committed since,
 * or come earlier in this very batch. Stored answers must fit the definition they are stored under,
 * so when it changed the response is validated again against the current one, as if it had arrived
 * now: still valid, it is stored as that definition reads it; otherwise it is refused with the 422
 * it would get now (STORE_CONFLICT with post->errors filled). */
static enum store_status revalidate(struct store_conn *conn, struct post_job *post)
{
    struct survey current;
    struct response fresh;
    bool unchanged;
    enum store_status status = store_survey_unchanged(conn, post->survey.id, post->definition, &unchanged);

    if (status != STORE_OK || unchanged)
        return status;
    status = api_load_survey_cached(post->job.app->surveys, conn, post->survey.id, &current, NULL);
    if (status != STORE_OK)
        return status;
    cJSON *body = cJSON_ParseWithLength(post->body, post->body_len);
    bool valid = body && validate_response(&current, body, post->response.received_at, &fresh, &post->errors);
    cJSON_Delete(body);
    if (!valid) {
        survey_free(&current);
        return body && post->errors.count > 0 ? STORE_CONFLICT : STORE_ERROR;
    }
    memcpy(fresh.id, post->response.id, sizeof fresh.id);
    survey_response_free(&post->response);
    post->response = fresh;
    /* The rollups read the answers by the definition they were validated against (question
     * indexes, types, option texts): from now on, the current one. */
    survey_free(&post->survey);
    post->survey = current;
    return STORE_OK;
}

static enum store_status apply_post(struct store_conn *conn, struct writer_job *job)
{
    struct post_job *post = (struct post_job *)job;
    enum store_status status;

    /* Checked again here, in the transaction: two retries racing each other both missed the record
     * before validation, and only the first may insert. */
    if (post->idem.key) {
        status = store_find_idempotency(conn, &post->idem.record, &post->replay);
        if (status != STORE_NOT_FOUND)
            return status;
    }
    if ((status = revalidate(conn, post)) != STORE_OK)
        return status;
    struct store_edit_token token = {post->edit_hash, sizeof post->edit_hash,
                                     post->response.received_at + EDIT_TOKEN_LIFETIME_MS};
    status = store_insert_response(conn, &post->survey, &post->response, &token, post->existing_id);
    /* The idempotency record keeps the 201 as sent, edit token included: a retry must get the same
     * token back, and nothing else could give it (only its hash is kept). See docs/SECURITY.md. */
    if (status == STORE_OK && post->idem.key)
        status = store_save_idempotency(conn, &post->idem.record, 201, post->reply, post->response.id,
                                        post->response.customer, post->response.received_at);
    if (status != STORE_OK)
        return status;
    return webhook_events_response_queued(conn, post->job.app->webhooks, WEBHOOK_RESPONSE_CREATED,
                                          post->response.id, timefmt_now_ms(), &post->job.webhook_events);
}

static void count_ingested(struct writer_job *job)
{
    struct api_job *post = (struct api_job *)job;
    versions_count_ingested(post->app->versions, post->survey);
}

static void reply_created(struct http_request *req, int status, char *body, const char *id)
{
    char location[64];
    snprintf(location, sizeof location, "/v1/responses/%s", id);
    http_add_header(req, "Location", location);
    http_reply_json_text(req, (unsigned)status, body);
}

/* Several instances on one database: another one may have stored the same Idempotency-Key (or its
 * interaction) after this one looked, and its commit then made ours conflict. The retry is then
 * answered as any retry is: with that first reply, now committed and readable. */
static bool replayed_after_race(struct http_request *req, struct post_job *post)
{
    return idempotency_replied(req, store_reader(api_app(req)->store), &post->idem, reply_created);
}

static enum http_next finish_post(struct http_request *req, struct post_job *post)
{
    if (post->errors.count > 0) {
        api_reply_invalid(req, &post->errors);
        return HTTP_DONE;
    }
    switch (post->job.job.status) {
    case STORE_OK:
        reply_created(req, 201, post->reply, post->response.id);
        post->reply = NULL;
        break;
    case STORE_REPLAY:
        idempotency_reply_replay(req, &post->replay, reply_created);
        break;
    case STORE_KEY_REUSED:
        idempotency_reply_key_reused(req);
        break;
    case STORE_CONFLICT: {
        if (post->idem.key && replayed_after_race(req, post))
            break;
        /* Only a trusted backend learns the existing id: to anyone else it would be the key to
         * someone else's response (ticket numbers are often sequential). */
        cJSON *extra = NULL;
        if (post->trusted) {
            extra = cJSON_CreateObject();
            cJSON_AddStringToObject(extra, "id", post->existing_id);
        }
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
static bool authorise(struct http_request *req, struct store_conn *conn, struct survey *survey, char **definition)
{
    struct auth_result auth = api_auth(req);
    struct store_survey_row row;
    enum store_status status = STORE_NOT_FOUND;

    if (ids_valid_slug(req->params[0]))
        status = api_load_survey_current(api_app(req)->surveys, conn, req->params[0], survey, &row);
    if (status == STORE_OK) {
        *definition = row.definition; /* what it was validated against, for the writer's check */
        row.definition = NULL;
    }
    if (status == STORE_OK && (survey->is_public || auth_may_ingest(auth.roles)))
        return true;
    if (status == STORE_OK) {
        survey_free(survey);
        api_reply_denied(req, auth);
    } else if (status == STORE_NOT_FOUND && !auth_may_ingest(auth.roles)) {
        api_reply_denied(req, auth);
    } else {
        api_reply_survey_error(req, req->params[0], status);
    }
    return false;
}

/* A page of another site may not write to a public survey in its visitor's name: a browser's POST or
 * PATCH from an origin that is not allowed is refused (CORS alone would let the write happen and only
 * hide the reply). Replies and returns true when refused. */
static bool origin_refused(struct http_request *req, const struct survey *survey)
{
    if (!survey->is_public || !http_origin_refused(req))
        return false;
    http_reply_problem(req, 403, "forbidden", "submissions from this web origin are not allowed for this survey",
                       NULL);
    return true;
}

/* The doors a public survey opens to anyone: anonymous writes are rate-limited per client address
 * (ingest tokens are not), and the origin is checked. Replies and returns true when refused. */
static bool public_write_refused(struct http_request *req, const struct survey *survey)
{
    if (survey->is_public && !auth_may_ingest(api_auth(req).roles) && !api_rate_limit(req))
        return true;
    return origin_refused(req, survey);
}

static char *created_body(const struct response *response, const char *edit_token)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "id", response->id);
    cJSON_AddStringToObject(body, "survey", response->survey);
    api_add_time(body, "submitted_at", response->submitted_at);
    api_add_time(body, "received_at", response->received_at);
    cJSON_AddStringToObject(body, "edit_token", edit_token);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

/* Without an ingest or admin token, submitted_at must be about now (validation already refuses more
 * than 5 minutes ahead): an anonymous visitor may not file answers into periods already reported on.
 * Replies 422 and returns false otherwise. */
static bool submitted_recently(struct http_request *req, const struct response *response, int64_t now_ms)
{
    if (response->submitted_at >= now_ms - ANONYMOUS_CLOCK_SKEW_MS)
        return true;
    api_reply_invalid_field(req, "submitted_at",
                            "without an ingest or admin token, must be within 5 minutes of now (omit it to mean now)");
    return false;
}

enum http_next responses_post(struct http_request *req)
{
    if (req->state)
        return finish_post(req, req->state);

    struct store_conn *conn = store_reader(api_app(req)->store);
    struct post_job *post = calloc(1, sizeof *post);
    struct validate_errors errors;
    cJSON *body = NULL;

    if (post == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    req->state = post;
    req->state_free = post_job_free;
    post->trusted = auth_may_ingest(api_auth(req).roles);
    if (!authorise(req, conn, &post->survey, &post->definition) || public_write_refused(req, &post->survey))
        return HTTP_DONE;
    if ((body = api_parse_body(req, true)) == NULL)
        return HTTP_DONE;

    if (!idempotency_read(req, &post->idem, post->survey.id, "POST /v1/surveys/%s/responses", post->survey.id) ||
        idempotency_replied(req, conn, &post->idem, reply_created))
        goto done;

    int64_t now_ms = timefmt_now_ms();
    validate_errors_init(&errors);
    if (!validate_response(&post->survey, body, now_ms, &post->response, &errors)) {
        api_reply_invalid(req, &errors);
        goto done;
    }
    if (!post->trusted && !submitted_recently(req, &post->response, now_ms))
        goto done;
    if (!ids_new_response_id(post->response.id, now_ms) || !edit_token_new(post->edit_token, post->edit_hash)) {
        api_reply_store_error(req, STORE_ERROR);
        goto done;
    }
    post->reply = created_body(&post->response, post->edit_token);
    post->body = req->body;
    post->body_len = req->body_len;
    post->job.apply = apply_post;
    post->job.after_commit = count_ingested;
    snprintf(post->job.survey, sizeof post->job.survey, "%s", post->survey.id);
    cJSON_Delete(body);
    return api_submit(req, &post->job);
done:
    cJSON_Delete(body);
    return HTTP_DONE;
}

/* The response named by the path, or a reply (404, 503) and false. */
static bool load_response(struct http_request *req, struct store_response_row *row)
{
    struct store_conn *conn = store_reader(api_app(req)->store);
    enum store_status status = conn ? store_get_response(conn, req->params[0], row) : STORE_UNAVAILABLE;
    if (status == STORE_OK)
        return true;
    api_reply_store_error(req, status);
    return false;
}

enum http_next responses_get(struct http_request *req)
{
    struct store_response_row row;

    if (!api_require(req, auth_may_read) || !load_response(req, &row))
        return HTTP_DONE;
    http_reply_json(req, 200, api_render_response(&row));
    store_response_row_free(&row);
    return HTTP_DONE;
}

/* ---- GET /v1/surveys/{survey}/responses: pages, or an export ---- */

struct page {
    cJSON *list;
    int64_t limit, seen;
    char next_cursor[80];
    const struct responses_search *search;
    int64_t offset;             /* sort=relevance: rows before this page */
    bool failed;                /* a snippet could not be made (out of memory) */
};

static void add_to_page(const struct store_response_row *row, void *arg)
{
    struct page *page = arg;
    /* One row more than the limit is read only to learn whether another page exists. */
    if (++page->seen > page->limit)
        return;
    cJSON *rendered = api_render_response(row);
    if (page->search) {
        const struct survey *survey = page->search->survey_of(row->survey, page->search->arg);
        cJSON *snippets = survey ? search_snippets(page->search->text, survey, row->answers) : cJSON_CreateArray();
        page->failed |= snippets == NULL || !oom_add_item(rendered, "snippets", snippets);
    }
    oom_append_item(page->list, rendered);
    if (page->seen < page->limit)
        return;
    if (page->search && page->search->relevance)
        query_offset_cursor_encode(page->offset + page->limit, page->next_cursor, sizeof page->next_cursor);
    else
        query_cursor_encode(row->submitted_at, row->id, page->next_cursor, sizeof page->next_cursor);
}

cJSON *responses_page(struct store_conn *conn, struct store_list_query *query, int64_t limit,
                      const struct responses_search *search, enum store_status *status)
{
    struct page page = {cJSON_CreateArray(), limit, 0, "", search, query->offset, false};

    query->limit = limit + 1;
    *status = conn ? store_list_responses(conn, query, add_to_page, &page) : STORE_UNAVAILABLE;
    if (*status == STORE_OK && page.failed)
        *status = STORE_ERROR;
    if (*status != STORE_OK) {
        cJSON_Delete(page.list);
        return NULL;
    }
    cJSON *reply = cJSON_CreateObject();
    oom_add_item(reply, "responses", page.list);
    if (page.seen > limit)
        cJSON_AddStringToObject(reply, "next_cursor", page.next_cursor);
    else
        cJSON_AddNullToObject(reply, "next_cursor");
    return reply;
}

void responses_list_query(const struct query *q, struct store_list_query *out)
{
    *out = (struct store_list_query){
        .before_ms = q->to_ms,
        .before_id = "",
        .from_ms = q->from_ms,
        .channel = q->channel,
        .agent = q->agent,
        .customer = q->customer,
        .interaction = q->interaction,
        .limit = -1,
    };
    /* The page starts after the cursor's row, or at the window's end if that comes first. */
    if (q->has_cursor && q->cursor_ms < q->to_ms) {
        out->before_ms = q->cursor_ms;
        out->before_id = q->cursor_id;
    }
}

struct param_list {
    struct query_param params[16];
    int count;
    bool too_many;
};

static void collect_param(const char *name, const char *value, void *arg)
{
    struct param_list *list = arg;
    if (list->count == 16)
        list->too_many = true;
    else
        list->params[list->count++] = (struct query_param){name, value};
}

bool responses_parse_query(struct http_request *req, unsigned allowed, struct query *query)
{
    struct param_list params = {0};
    struct validate_errors errors;

    http_each_query(req, collect_param, &params);
    validate_errors_init(&errors);
    if (params.too_many)
        validate_error(&errors, "", "too many query parameters");
    if (!query_parse(params.params, params.count, allowed, query, &errors) || params.too_many) {
        api_reply_invalid(req, &errors);
        return false;
    }
    return true;
}

/* format= wins; otherwise the Accept header chooses. */
static enum query_format negotiate(struct http_request *req, enum query_format format)
{
    const char *accept = http_header(req, "Accept");
    if (format != FORMAT_DEFAULT)
        return format;
    if (accept && strstr(accept, "text/csv"))
        return FORMAT_CSV;
    if (accept && strstr(accept, "application/x-ndjson"))
        return FORMAT_NDJSON;
    return FORMAT_JSON;
}

/* The listing's one survey, for its snippets. */
static const struct survey *the_survey(const char *id, void *arg)
{
    const struct survey *survey = arg;
    return strcmp(survey->id, id) == 0 ? survey : NULL;
}

enum http_next responses_list(struct http_request *req)
{
    struct app *app = api_app(req);
    struct survey survey;
    struct query query;
    struct store_list_query list;
    struct text_query *text = NULL;
    enum store_status status = STORE_NOT_FOUND;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(app->store);
    if (ids_valid_slug(req->params[0]))
        status = api_load_survey(conn, req->params[0], &survey, NULL);
    if (status != STORE_OK) {
        api_reply_survey_error(req, req->params[0], status);
        return HTTP_DONE;
    }
    unsigned allowed = QUERY_FROM | QUERY_TO | QUERY_CHANNEL | QUERY_AGENT | QUERY_CUSTOMER | QUERY_INTERACTION |
                       QUERY_LIMIT | QUERY_CURSOR | QUERY_FORMAT | QUERY_TEXT | QUERY_SORT;
    if (!responses_parse_query(req, allowed, &query))
        goto done;
    responses_list_query(&query, &list);
    list.survey = survey.id;
    if (!search_prepare(req, &query, &list, &text))
        goto done;
    enum query_format format = negotiate(req, query.format);
    if (format == FORMAT_CSV || format == FORMAT_NDJSON) {
        /* An export streams in stretches that each restart after the last row sent: only an order
         * with a key to restart from (newest first) can be exported. */
        if (query.sort_relevance) {
            api_reply_invalid_field(req, "sort", "an export (csv, ndjson) is newest first; sort=relevance is for pages");
            goto done;
        }
        list.limit = query.has_limit ? query.limit : -1;
        export_reply(req, app->store, &survey, &list, format); /* binds its own copies */
        goto done;
    }
    struct responses_search search = {text, query.sort_relevance, the_survey, &survey};
    cJSON *reply = responses_page(conn, &list, query.limit, text ? &search : NULL, &status);
    if (reply == NULL)
        api_reply_store_error(req, status);
    else
        http_reply_json(req, 200, reply);
done:
    text_query_free(text);
    survey_free(&survey);
    return HTTP_DONE;
}

/* ---- PATCH /v1/responses/{id}: follow-up answers ---- */

struct patch_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    struct survey survey;
    char id[32];
    cJSON *patch;                       /* the "answers" object sent */
    struct idempotency idem;
    struct store_replay replay;
    struct validate_errors errors;      /* the merged answers broke a rule */
    char *reply;
    bool full_reply;                    /* the caller may read responses: the whole one in the reply */
};

static void patch_job_free(void *state)
{
    struct patch_job *patch = state;
    survey_free(&patch->survey);
    cJSON_Delete(patch->patch);
    store_replay_free(&patch->replay);
    validate_errors_free(&patch->errors);
    free(patch->reply);
    free(patch);
}

/* The stored answers with the patch applied: a value adds or replaces, null removes. */
static cJSON *merge_answers(const char *stored, const cJSON *patch)
{
    cJSON *merged = cJSON_Parse(stored);
    if (merged == NULL)
        merged = cJSON_CreateObject();
    for (const cJSON *item = patch->child; item; item = item->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(merged, item->string);
        if (!cJSON_IsNull(item))
            oom_add_item(merged, item->string, cJSON_Duplicate(item, true));
    }
    return merged;
}

/* Merging and validating happen here, inside the transaction, against the row as it is now: two
 * follow-ups racing each other both land, neither overwrites the other's answer. */
static enum store_status apply_patch(struct store_conn *conn, struct writer_job *job)
{
    struct patch_job *patch = (struct patch_job *)job;
    struct store_response_row row;
    struct response merged;
    enum store_status status;

    if (patch->idem.key) {
        status = store_find_idempotency(conn, &patch->idem.record, &patch->replay);
        if (status != STORE_NOT_FOUND)
            return status;
    }
    if ((status = store_get_response(conn, patch->id, &row)) != STORE_OK)
        return status;
    /* Validated against the definition as it is in this transaction, not as it was when the request
     * arrived: a PUT in between may have changed a question's type. */
    struct survey current;
    status = api_load_survey_cached(patch->job.app->surveys, conn, row.survey, &current, NULL);
    if (status != STORE_OK) {
        store_response_row_free(&row);
        return status;
    }
    survey_free(&patch->survey);
    patch->survey = current;
    cJSON *body = cJSON_CreateObject();
    oom_add_item(body, "answers", merge_answers(row.answers, patch->patch));
    bool valid = validate_response(&patch->survey, body, timefmt_now_ms(), &merged, &patch->errors);
    cJSON_Delete(body);
    store_response_row_free(&row);
    if (!valid)
        return STORE_CONFLICT;
    status = store_update_answers(conn, patch->id, merged.answers_json);
    survey_response_free(&merged);
    if (status == STORE_OK)
        status = store_get_response(conn, patch->id, &row);
    if (status != STORE_OK)
        return status;
    cJSON *rendered = api_render_response(&row);
    patch->reply = cJSON_PrintUnformatted(rendered);
    cJSON_Delete(rendered);
    if (patch->idem.key)
        status = store_save_idempotency(conn, &patch->idem.record, 200, patch->reply, patch->id, row.customer,
                                        timefmt_now_ms());
    store_response_row_free(&row);
    if (status != STORE_OK)
        return status;
    return webhook_events_response_queued(conn, patch->job.app->webhooks, WEBHOOK_RESPONSE_UPDATED, patch->id,
                                          timefmt_now_ms(), &patch->job.webhook_events);
}

/* What a caller without the right to read responses sees of one: what they sent and where it went,
 * never the customer, agent, interaction or properties a backend attached. */
static char *visible_reply(char *full, bool full_reply)
{
    static const char *const visible[] = {"id", "survey", "submitted_at", "answers"};

    if (full_reply || full == NULL)
        return full;
    cJSON *parsed = cJSON_Parse(full);
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; parsed && i < sizeof visible / sizeof *visible; i++) {
        cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(parsed, visible[i]);
        if (item)
            oom_add_item(out, visible[i], item);
    }
    char *text = parsed ? cJSON_PrintUnformatted(out) : NULL;
    cJSON_Delete(parsed);
    cJSON_Delete(out);
    free(full);
    return text;
}

static enum http_next finish_patch(struct http_request *req, struct patch_job *patch)
{
    char *text;

    switch (patch->job.job.status) {
    case STORE_OK:
        text = visible_reply(patch->reply, patch->full_reply);
        patch->reply = NULL;
        if (text)
            http_reply_json_text(req, 200, text);
        else
            api_reply_store_error(req, STORE_ERROR);
        break;
    case STORE_REPLAY:
        http_add_header(req, "Idempotent-Replayed", "true");
        text = visible_reply(patch->replay.reply, patch->full_reply);
        patch->replay.reply = NULL;
        if (text)
            http_reply_json_text(req, (unsigned)patch->replay.status, text);
        else
            api_reply_store_error(req, STORE_ERROR);
        break;
    case STORE_KEY_REUSED:
        idempotency_reply_key_reused(req);
        break;
    case STORE_CONFLICT:
        api_reply_invalid(req, &patch->errors);
        break;
    default:
        api_reply_store_error(req, patch->job.job.status);
        break;
    }
    return HTTP_DONE;
}

/* 401 for a follow-up without a usable token. The same reply whether the id exists or not, and
 * whether the edit token is wrong or belongs to another response: ids cannot be probed. */
static void reply_follow_up_unauthorised(struct http_request *req, bool presented)
{
    http_add_header(req, "WWW-Authenticate",
                    presented ? "Bearer realm=\"surveyd\", error=\"invalid_token\"" : "Bearer realm=\"surveyd\"");
    http_reply_problem(req, 401, "unauthorized",
                       presented ? "the bearer token is not valid for this response"
                                 : "a bearer token is required: an ingest token, or the response's edit_token",
                       NULL);
}

/* Checks before anything is looked up, for a caller without the ingest right: a known token of
 * another role (read) is 403 as before; no token is 401; then the anonymous rate limit applies. */
static bool follow_up_may_try(struct http_request *req, struct auth_result auth)
{
    if (auth.roles != 0) {
        api_reply_denied(req, auth);
        return false;
    }
    if (!auth.presented) {
        reply_follow_up_unauthorised(req, false);
        return false;
    }
    return api_rate_limit(req);
}

/* Whether the bearer token is the edit token of response `id`, still valid. The presented token is
 * hashed whether or not the id has one, so a miss costs the same either way. */
static bool edit_token_granted(struct http_request *req, const char *id)
{
    static const unsigned char none[EDIT_TOKEN_HASH_LEN];
    char token[EDIT_TOKEN_LEN + 1] = "";
    unsigned char stored[EDIT_TOKEN_HASH_LEN];
    int64_t expires_at = 0;
    struct store_conn *conn = store_reader(api_app(req)->store);

    bool shaped = edit_token_from_authorization(http_header(req, "Authorization"), token);
    enum store_status status = conn ? store_get_edit_token(conn, id, stored, sizeof stored, &expires_at)
                                    : STORE_UNAVAILABLE;
    bool matches = edit_token_matches(token, status == STORE_OK ? stored : none) && shaped && status == STORE_OK;
    if (status != STORE_OK && status != STORE_NOT_FOUND) {
        api_reply_store_error(req, status);
        return false;
    }
    if (!matches) {
        reply_follow_up_unauthorised(req, true);
        return false;
    }
    if (timefmt_now_ms() <= expires_at)
        return true;
    /* Only the token's holder gets here, so saying why reveals nothing to anyone else. */
    http_reply_problem(req, 403, "forbidden",
                       "the edit token has expired (24 hours after the response was created); use an ingest token",
                       NULL);
    return false;
}

/* An edit token works only while its survey is public: making a survey private closes the door. */
static bool survey_takes_anonymous_follow_ups(struct http_request *req, const struct survey *survey)
{
    if (survey->is_public)
        return true;
    http_reply_problem(req, 403, "forbidden", "this survey takes follow-up answers with an ingest token only", NULL);
    return false;
}

/* Checks the body's keys, reporting each by name: the fields set at creation can't change (a
 * follow-up amends what was said, not who said it, where, or when). Returns the number of "answers"
 * keys seen. */
static int patch_keys(const cJSON *body, struct validate_errors *errors)
{
    static const char *const fixed[] = {"channel", "customer", "agent", "interaction", "submitted_at", "properties"};
    char field[160];
    int answers = 0;

    for (const cJSON *item = body->child; item; item = item->next) {
        snprintf(field, sizeof field, "%.*s", validate_utf8_cut(item->string, 100), item->string);
        bool is_fixed = false;
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            is_fixed |= strcmp(item->string, fixed[i]) == 0;
        if (strcmp(item->string, "answers") == 0)
            answers++;
        else if (is_fixed)
            validate_error(errors, field, "can't be changed after the response was created; a PATCH changes answers only");
        else
            validate_error(errors, field, "unknown field; a PATCH body is {\"answers\": {...}}");
    }
    return answers;
}

/* The body is {"answers": {...}}: each key a question of the survey, null to remove an answer. */
static cJSON *patch_answers(struct http_request *req, const struct survey *survey)
{
    cJSON *body = api_parse_body(req, true);
    struct validate_errors errors;
    char field[160];

    if (body == NULL)
        return NULL;
    validate_errors_init(&errors);
    cJSON *answers = cJSON_GetObjectItemCaseSensitive(body, "answers");
    int answers_keys = cJSON_IsObject(body) ? patch_keys(body, &errors) : 0;
    if (!cJSON_IsObject(body)) {
        validate_error(&errors, "", "the body must be a JSON object {\"answers\": {...}}");
    } else if (answers_keys == 0) {
        validate_error(&errors, "answers", "is required");
    } else if (answers_keys > 1) {
        validate_error(&errors, "answers", "duplicate field");
    } else if (!cJSON_IsObject(answers) || answers->child == NULL) {
        validate_error(&errors, "answers", "must be an object with at least one answer");
    } else {
        for (const cJSON *item = answers->child; item; item = item->next) {
            snprintf(field, sizeof field, "answers.%.*s", validate_utf8_cut(item->string, 100), item->string);
            bool repeated = false;
            for (const cJSON *before = answers->child; before != item; before = before->next)
                repeated |= strcmp(before->string, item->string) == 0;
            if (repeated)
                validate_error(&errors, field, "duplicate answer");
            else if (survey_find_question(survey, item->string, NULL) == NULL)
                validate_error(&errors, field, "no such question in survey '%s'", survey->id);
        }
    }
    if (errors.count > 0) {
        cJSON_Delete(body);
        api_reply_invalid(req, &errors);
        return NULL;
    }
    cJSON *detached = cJSON_DetachItemFromObjectCaseSensitive(body, "answers");
    cJSON_Delete(body);
    return detached;
}

/* Who may follow a response up. An ingest or admin token: any response (404 for an unknown id).
 * Anyone else: only with the response's edit token (from the 201 of its submission) as the bearer
 * token, within 24 hours, on a public survey; the id alone grants nothing, and whether it exists is
 * never told before the token proved to be its own. */
enum http_next responses_patch(struct http_request *req)
{
    struct store_response_row row;
    struct patch_job *patch;

    if (req->state)
        return finish_patch(req, req->state);
    struct auth_result auth = api_auth(req);
    bool trusted = auth_may_ingest(auth.roles);
    if (!trusted && (!follow_up_may_try(req, auth) || !edit_token_granted(req, req->params[0])))
        return HTTP_DONE;
    if (!load_response(req, &row))
        return HTTP_DONE;
    if ((patch = calloc(1, sizeof *patch)) == NULL) {
        store_response_row_free(&row);
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    req->state = patch;
    req->state_free = patch_job_free;
    patch->full_reply = auth_may_read(auth.roles);
    enum store_status status =
        api_load_survey_cached(api_app(req)->surveys, store_reader(api_app(req)->store), row.survey, &patch->survey, NULL);
    store_response_row_free(&row);
    if (status != STORE_OK) {
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    if ((!trusted && !survey_takes_anonymous_follow_ups(req, &patch->survey)) || origin_refused(req, &patch->survey) ||
        (patch->patch = patch_answers(req, &patch->survey)) == NULL)
        return HTTP_DONE;

    snprintf(patch->id, sizeof patch->id, "%.31s", req->params[0]);
    if (!idempotency_read(req, &patch->idem, patch->survey.id, "PATCH /v1/responses/%s", patch->id))
        return HTTP_DONE;
    validate_errors_init(&patch->errors);
    patch->job.apply = apply_patch;
    snprintf(patch->job.survey, sizeof patch->job.survey, "%s", patch->survey.id);
    return api_submit(req, &patch->job);
}

/* ---- DELETE /v1/responses/{id} ---- */

/* The event is rendered first: its payload is the response as it was. Should the delete then fail,
 * the savepoint takes the event back with it. */
static enum store_status apply_delete(struct store_conn *conn, struct writer_job *job)
{
    struct api_job *del = (struct api_job *)job;
    enum store_status status = webhook_events_response_queued(conn, del->app->webhooks, WEBHOOK_RESPONSE_DELETED,
                                                              del->context_id, timefmt_now_ms(),
                                                              &del->webhook_events);
    return status == STORE_OK ? store_delete_response(conn, del->context_id) : status;
}

enum http_next responses_delete(struct http_request *req)
{
    struct api_job *del = req->state;
    struct store_response_row row;

    if (del) {
        api_reply_deleted(req, del->job.status);
        return HTTP_DONE;
    }
    if (!api_require(req, auth_may_admin) || !load_response(req, &row))
        return HTTP_DONE;
    if ((del = calloc(1, sizeof *del)) == NULL) {
        store_response_row_free(&row);
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    snprintf(del->survey, sizeof del->survey, "%s", row.survey);
    snprintf(del->context_id, sizeof del->context_id, "%s", row.id);
    store_response_row_free(&row);
    del->apply = apply_delete;
    req->state = del;
    req->state_free = free;
    return api_submit(req, del);
}
