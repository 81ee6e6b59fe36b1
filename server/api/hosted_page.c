/* GET/HEAD/POST /s/{token}: the page an invitation's link opens.
 *
 * A GET or HEAD never records an answer: mail scanners open every link of a message. It records the
 * visit only: a visit that looks automated (visit.h) is counted, the first other one sets opened_at.
 * Answers come only from a POST of the page's own form (or page.js, once a person interacted with
 * the page), carrying the invitation's form_key from a same-origin page. The first POST creates
 * the invitation's one response, with the invitation's customer, channel, agent, interaction and
 * properties; later POSTs within HOSTED_PAGE_UPDATE_WINDOW_MS add to it, as a PATCH would.
 *
 * Every reply is an HTML page (page_html.c), errors included. */
#include "hosted_page.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "assets.h"
#include "edit_token.h"
#include "http_form.h"
#include "ids.h"
#include "log.h"
#include "oom.h"
#include "page_html.h"
#include "timefmt.h"
#include "visit.h"
#include "webhook_events.h"

/* The page runs only page.js and page.css from this server, posts only to itself, and is never
 * framed (clickjacking a score). Referrers only to itself: the page's URL holds the invitation's
 * token, which no other site may learn. (Not "no-referrer": under it Chromium sends "Origin: null"
 * with the page's own form, which could then not be told from a sandboxed frame's post.) */
#define PAGE_CSP                                                                                               \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "      \
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

#define VISIT_VALUE_MAX 800     /* bytes of an ?a= value kept: a choice option's 200 characters */

struct page_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    bool is_post;
    struct store_invitation_row row;    /* as read on arrival */
    struct survey survey;
    bool have_survey;
    int64_t now;
    /* a visit */
    struct visit_request visit;         /* the request's headers: alive as long as the request */
    enum visit_kind kind;               /* as decided in the writer, against the row as it was then */
    bool burst_first;                   /* the burst's first visit, first taken for a person's, too */
    char value[VISIT_VALUE_MAX + 1];    /* the ?a= value as kept (visit_value) */
    /* a submission */
    struct http_form form;
    cJSON *answers;                     /* the form's answers as JSON values */
    const char *capture;                /* "submit" or "interaction" */
    struct validate_errors errors;      /* the answers broke a rule */
    bool answered_elsewhere;            /* the (survey, interaction) already has a response */
    bool window_over;                   /* the first answer is older than the update window */
    bool inserted;
    char *stored_answers;               /* the response's answers after (or, on failure, before) */
};

static void page_job_free(void *state)
{
    struct page_job *page = state;
    store_invitation_row_free(&page->row);
    if (page->have_survey)
        survey_free(&page->survey);
    http_form_free(&page->form);
    cJSON_Delete(page->answers);
    validate_errors_free(&page->errors);
    free(page->stored_answers);
    free(page);
}

/* ---- replies ---- */

static const char *asset_version(const char *path)
{
    for (int i = 0; i < asset_count; i++) {
        if (strcmp(assets[i].path, path) == 0)
            return assets[i].version;
    }
    return "";
}

static void reply_html(struct http_request *req, unsigned status, char *html, size_t len)
{
    if (html == NULL) {
        http_reply_out_of_memory(req);
        return;
    }
    http_add_header(req, "Content-Security-Policy", PAGE_CSP);
    http_add_header(req, "Referrer-Policy", "same-origin");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "X-Frame-Options", "DENY");
    http_add_header(req, "X-Robots-Tag", "noindex, nofollow");
    http_reply_body(req, status, html, len, "text/html; charset=utf-8");
}

static void reply_message(struct http_request *req, unsigned status, enum page_message which, const char *title)
{
    size_t len = 0;
    char *html = page_html_message(which, title, asset_version("/s/page.css"), &len);
    reply_html(req, status, html, len);
}

static void reply_store_error(struct http_request *req, enum store_status status, const char *title)
{
    if (status == STORE_UNAVAILABLE || status == STORE_RETRY || status == STORE_UNKNOWN) {
        http_add_header(req, "Retry-After", "1");
        reply_message(req, 503, PAGE_UNAVAILABLE, title);
    } else {
        reply_message(req, 500, PAGE_ERROR, title);
    }
}

/* ---- the invitation and its survey ---- */

/* The invitation the path's token names, read on a reader; replies 404 (none), 410 (expired and
 * never answered: an answered one stays open for its update window) or 503 and returns false. */
static bool load_invitation(struct http_request *req, struct page_job *page)
{
    unsigned char hash[EDIT_TOKEN_HASH_LEN];
    struct store_conn *conn = store_reader(api_app(req)->store);
    enum store_status status = STORE_NOT_FOUND;

    /* The link's token is hashed as edit tokens are (SHA-256 of its text); only the hash is stored. */
    if (req->params[0][0] != '\0' && edit_token_hash(req->params[0], hash))
        status = conn ? store_find_invitation_by_token(conn, hash, &page->row) : STORE_UNAVAILABLE;
    if (status == STORE_NOT_FOUND) {
        reply_message(req, 404, PAGE_NOT_FOUND, NULL);
        return false;
    }
    if (status != STORE_OK) {
        reply_store_error(req, status, NULL);
        return false;
    }
    if (page->row.responded_at == 0 && page->row.expires_at != 0 && page->now >= page->row.expires_at) {
        reply_message(req, 410, PAGE_EXPIRED, NULL);
        return false;
    }
    status = api_load_survey_current(api_app(req)->surveys, conn, page->row.survey, &page->survey, NULL);
    if (status == STORE_OK) {
        page->have_survey = true;
        return true;
    }
    /* The survey was deleted with its invitations after the read above: the link is gone. */
    if (status == STORE_NOT_FOUND)
        reply_message(req, 404, PAGE_NOT_FOUND, NULL);
    else
        reply_store_error(req, status, NULL);
    return false;
}

static bool window_over(const struct store_invitation_row *row, int64_t now)
{
    return row->responded_at != 0 && now - row->responded_at >= HOSTED_PAGE_UPDATE_WINDOW_MS;
}

/* The stored answers of the invitation's response (JSON text), NULL when none or unreadable. */
static char *response_answers(struct store_conn *conn, const char *response_id)
{
    struct store_response_row row;
    if (response_id[0] == '\0' || conn == NULL || store_get_response(conn, response_id, &row) != STORE_OK)
        return NULL;
    char *answers = row.answers;
    row.answers = NULL;
    store_response_row_free(&row);
    return answers;
}

/* ---- rendering the form ---- */

struct form_view {
    const char *answered;           /* JSON object of the stored answers: those questions are not shown */
    const struct http_form *form;   /* values to show again (a refused submission), or NULL */
    const char *preselect;          /* ?a=: the first question's value, or NULL */
    bool capture;                   /* page.js may record the preselected value */
    const char *notice;
};

/* The message of each answer error, by question; an error about anything else goes to the top. */
static void place_errors(struct page_form *pf, const struct validate_errors *errors)
{
    const cJSON *list = errors ? errors->list : NULL, *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "field"));
        const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "message"));
        int index = -1;
        if (field && strncmp(field, "answers.", 8) == 0)
            survey_find_question(pf->survey, field + 8, &index);
        if (message && strcmp(message, "is required") == 0)
            message = "Please answer this question."; /* as the widget says it */
        if (index >= 0 && pf->questions[index].error == NULL)
            pf->questions[index].error = message;
        else if (index < 0 && pf->error == NULL)
            pf->error = message && strcmp(message, "at least one answer is required") == 0
                            ? "Please answer at least one question."
                            : message;
    }
}

static void render_form(struct http_request *req, unsigned status, struct page_job *page, const struct form_view *v)
{
    struct page_form pf = {
        .survey = &page->survey,
        .action = req->params[0],
        .form_key = page->row.form_key,
        .css_version = asset_version("/s/page.css"),
        .js_version = asset_version("/s/page.js"),
        .notice = v->notice,
    };
    char other_names[SURVEY_MAX_QUESTIONS][SURVEY_ID_MAX + 8];
    char chosen[16];
    cJSON *answered = v->answered ? cJSON_Parse(v->answered) : NULL;
    int shown = 0;

    for (int i = 0; i < page->survey.question_count; i++) {
        const struct question *q = &page->survey.questions[i];
        struct page_question_state *st = &pf.questions[i];
        st->hidden = cJSON_GetObjectItemCaseSensitive(answered, q->id) != NULL;
        shown += !st->hidden;
        if (v->form) {
            snprintf(other_names[i], sizeof other_names[i], "%s.other", q->id);
            st->value = http_form_get(v->form, q->id);
            st->other = http_form_get(v->form, other_names[i]);
        } else if (i == 0 && !st->hidden && v->preselect) {
            st->value = page_html_choice_value(q, v->preselect, chosen, sizeof chosen);
            if (st->value && v->capture)
                pf.capture_question = q->id;
        }
    }
    place_errors(&pf, &page->errors);
    if (shown == 0) {
        cJSON_Delete(answered);
        reply_message(req, status == 422 ? 422 : 200, PAGE_THANKS, page->survey.title);
        return;
    }
    size_t len = 0;
    char *html = page_html_form(&pf, &len);
    cJSON_Delete(answered);
    reply_html(req, status, html, len);
}

/* The invitation as it is now, read after taking the (survey, customer) lock that
 * store_last_contact holds until the transaction ends: instances sharing a PostgreSQL database
 * then change one invitation one job at a time (READ COMMITTED reads what the lock's previous
 * holder committed), so two first submits never make two responses. On SQLite the one writer
 * already serialises them. */
static enum store_status read_invitation_locked(struct store_conn *conn, const struct store_invitation_row *row,
                                                struct store_invitation_row *fresh)
{
    int64_t last_contact;
    enum store_status status = store_last_contact(conn, row->survey, row->customer, &last_contact);
    if (status != STORE_OK && status != STORE_NOT_FOUND)
        return status;
    return store_get_invitation(conn, row->id, fresh);
}

/* ---- GET and HEAD: show the page, record the visit ---- */

static enum store_status apply_visit(struct store_conn *conn, struct writer_job *job)
{
    struct page_job *page = (struct page_job *)job;
    struct store_invitation_row fresh;
    page->burst_first = false; /* the writer may run a job again (STORE_RETRY): nothing carried over */
    enum store_status status = read_invitation_locked(conn, &page->row, &fresh);
    if (status != STORE_OK)
        return status;
    /* Decided again here against the row as it is in this transaction: two visits racing each
     * other must see each other's value, or a burst of parallel requests would go unnoticed. */
    struct visit_request visit = page->visit;
    visit.last_visit_at = fresh.last_visit_at;
    visit.last_visit_value = fresh.last_visit_value;
    page->kind = visit_classify(&visit);
    /* A scanner trying every link: its first visit looked like a person's and may have set
     * opened_at. It was not one; it counts as automated now. */
    if (page->kind == VISIT_BURST && fresh.opened_at != 0 && fresh.opened_at == fresh.last_visit_at &&
        fresh.responded_at == 0) {
        fresh.opened_at = 0;
        fresh.automated_visits++;
        page->burst_first = true;
    }
    if (page->kind != VISIT_PERSON)
        fresh.automated_visits++;
    else if (fresh.opened_at == 0)
        fresh.opened_at = page->now;
    if (page->visit.value) {
        char *value = strdup(page->visit.value);
        if (value == NULL) {
            store_invitation_row_free(&fresh);
            return STORE_ERROR;
        }
        free(fresh.last_visit_value);
        fresh.last_visit_value = value;
        fresh.last_visit_at = page->now;
    }
    status = store_update_invitation(conn, &fresh);
    store_invitation_row_free(&fresh);
    return status;
}

static void count_visit(struct writer_job *job)
{
    struct page_job *page = (struct page_job *)job;
    struct visit_stats *stats = page->job.app->visits;
    if (stats && page->kind != VISIT_PERSON)
        atomic_fetch_add(&stats->automated[page->kind], page->burst_first ? 2 : 1);
}

static enum http_next finish_get(struct http_request *req, struct page_job *page)
{
    if (page->job.job.status != STORE_OK)
        log_warn("hosted page: the visit to invitation %s was not recorded: %s", page->row.id,
                 page->job.job.status == STORE_UNAVAILABLE ? "unavailable" : "store error");
    if (window_over(&page->row, page->now)) {
        reply_message(req, 200, PAGE_ANSWERED, page->survey.title);
        return HTTP_DONE;
    }
    char *answered = response_answers(store_reader(api_app(req)->store), page->row.response_id);
    struct form_view view = {
        .answered = answered,
        .preselect = page->visit.value,
        .capture = page->kind == VISIT_PERSON,
        .notice = page->row.responded_at ? "Thank you! Your answers so far have been saved." : NULL,
    };
    render_form(req, 200, page, &view);
    free(answered);
    return HTTP_DONE;
}

/* Anonymous requests that write (a visit to record, a submission) take from the address's bucket. */
static bool rate_limited(struct http_request *req, const char *title)
{
    unsigned retry_after = 1;
    char retry[16];
    if (api_rate_limit_take(req, &retry_after))
        return false;
    snprintf(retry, sizeof retry, "%u", retry_after);
    http_add_header(req, "Retry-After", retry);
    reply_message(req, 429, PAGE_RATE_LIMITED, title);
    return true;
}

static struct page_job *page_job_new(struct http_request *req)
{
    struct page_job *page = calloc(1, sizeof *page);
    if (page == NULL) {
        http_reply_out_of_memory(req);
        return NULL;
    }
    validate_errors_init(&page->errors);
    page->now = timefmt_now_ms();
    req->state = page;
    req->state_free = page_job_free;
    return page;
}

/* The ?a= value as kept in the invitation (last_visit_value) and compared for bursts: at most
 * VISIT_VALUE_MAX bytes cut on a character boundary; a value that is not UTF-8 (a database text
 * column refuses it) is kept as "?", still unlike every real value. NULL when absent or empty. */
static const char *visit_value(const char *value, char *buf, size_t size)
{
    if (value == NULL || *value == '\0')
        return NULL;
    if (!http_form_utf8_valid(value, strlen(value)))
        return "?";
    snprintf(buf, size, "%.*s", validate_utf8_cut(value, VISIT_VALUE_MAX), value);
    return buf;
}

enum http_next hosted_page_get(struct http_request *req)
{
    struct page_job *page = req->state;
    if (page)
        return finish_get(req, page);
    if ((page = page_job_new(req)) == NULL || !load_invitation(req, page))
        return HTTP_DONE;
    const char *value = visit_value(http_query(req, "a"), page->value, sizeof page->value);
    page->visit = (struct visit_request){
        .method = req->method,
        .user_agent = http_header(req, "User-Agent"),
        .purpose = http_header(req, "Purpose"),
        .sec_purpose = http_header(req, "Sec-Purpose"),
        .x_purpose = http_header(req, "X-Purpose"),
        .x_moz = http_header(req, "X-Moz"),
        .value = value,
        .now_ms = page->now,
        .last_visit_at = page->row.last_visit_at,
        .last_visit_value = page->row.last_visit_value,
    };
    page->kind = visit_classify(&page->visit);
    /* Nothing to record: a person's visit once the page was opened, without a value from a link. */
    if (page->kind == VISIT_PERSON && page->row.opened_at != 0 && page->visit.value == NULL)
        return finish_get(req, page);
    if (rate_limited(req, page->survey.title))
        return HTTP_DONE;
    page->job.apply = apply_visit;
    page->job.after_commit = count_visit;
    snprintf(page->job.survey, sizeof page->job.survey, "%s", page->row.survey);
    return api_submit(req, &page->job);
}

/* ---- POST: record the answers ---- */

static bool all_digits(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 3 && s[n] == '\0';
}

/* One question's form value as the JSON API's answer, or NULL when the form left it unanswered.
 * Values that fit no rule go on as strings so that validate.c words the error as for the API. */
static cJSON *form_value(const struct question *q, const char *value, const char *other)
{
    bool given = value && *value;
    switch (q->type) {
    case QUESTION_NPS:
    case QUESTION_CSAT:
    case QUESTION_CES:
        if (!given)
            return NULL;
        return all_digits(value) ? cJSON_CreateNumber(atoi(value)) : cJSON_CreateString(value);
    case QUESTION_YES_NO:
        if (!given)
            return NULL;
        if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0)
            return cJSON_CreateTrue();
        if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0)
            return cJSON_CreateFalse();
        return cJSON_CreateString(value);
    case QUESTION_CHOICE:
        for (int i = 0; given && i < q->option_count; i++) {
            if (strcmp(q->options[i], value) == 0)
                return cJSON_CreateString(value);
        }
        if (other && *other) {
            cJSON *write_in = cJSON_CreateObject();
            cJSON_AddStringToObject(write_in, "other", other);
            return write_in;
        }
        return given ? cJSON_CreateString(value) : NULL;
    case QUESTION_TEXT:
        return given ? cJSON_CreateString(value) : NULL;
    }
    return NULL;
}

/* The form's answers, by question id; fields naming no question (a form rendered before the
 * definition changed) are left out, the anti-forgery and capture fields are not answers. */
static cJSON *form_answers(const struct survey *survey, const struct http_form *form)
{
    cJSON *answers = cJSON_CreateObject();
    char other_name[SURVEY_ID_MAX + 8];
    for (int i = 0; answers && i < survey->question_count; i++) {
        const struct question *q = &survey->questions[i];
        snprintf(other_name, sizeof other_name, "%s.other", q->id);
        cJSON *value = form_value(q, http_form_get(form, q->id), http_form_get(form, other_name));
        if (value)
            oom_add_item(answers, q->id, value);
    }
    return answers;
}

/* Question id -> how its answer was captured, for every answer this POST changed; an answer sent
 * again unchanged keeps how it was first captured. */
static char *merge_captured(const char *captured, const cJSON *before, const cJSON *sent, const char *how)
{
    cJSON *merged = captured ? cJSON_Parse(captured) : NULL;
    if (!cJSON_IsObject(merged)) {
        cJSON_Delete(merged);
        merged = cJSON_CreateObject();
    }
    for (const cJSON *item = sent ? sent->child : NULL; item; item = item->next) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(before, item->string);
        if (old && cJSON_Compare(old, item, true) && cJSON_GetObjectItemCaseSensitive(merged, item->string))
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(merged, item->string);
        oom_add_item(merged, item->string, cJSON_CreateString(how));
    }
    char *text = cJSON_PrintUnformatted(merged);
    cJSON_Delete(merged);
    return text;
}

/* The first answer: a new response with the invitation's fields. */
static enum store_status insert_response(struct store_conn *conn, struct page_job *page,
                                         const struct store_invitation_row *inv, const struct survey *survey)
{
    struct response response;
    char existing[32];
    cJSON *body = cJSON_CreateObject();

    oom_add_item(body, "answers", cJSON_Duplicate(page->answers, true));
    if (inv->channel)
        cJSON_AddStringToObject(body, "channel", inv->channel);
    cJSON_AddStringToObject(body, "customer", inv->customer);
    if (inv->agent)
        cJSON_AddStringToObject(body, "agent", inv->agent);
    if (inv->interaction)
        cJSON_AddStringToObject(body, "interaction", inv->interaction);
    if (inv->properties)
        oom_add_item(body, "properties", cJSON_Parse(inv->properties));
    bool valid = validate_response(survey, body, page->now, &response, &page->errors);
    cJSON_Delete(body);
    if (!valid)
        return page->errors.count > 0 ? STORE_CONFLICT : STORE_ERROR;
    enum store_status status = ids_new_response_id(response.id, page->now) ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK)
        status = store_insert_response(conn, survey, &response, NULL, existing);
    if (status == STORE_CONFLICT)
        page->answered_elsewhere = true;
    if (status == STORE_OK) {
        page->inserted = true;
        snprintf(page->row.response_id, sizeof page->row.response_id, "%s", response.id);
        page->stored_answers = strdup(response.answers_json);
        status = page->stored_answers ? STORE_OK : STORE_ERROR;
    }
    survey_response_free(&response);
    return status;
}

/* A later answer: added to the response, as a PATCH would, and validated as a whole. */
static enum store_status update_response(struct store_conn *conn, struct page_job *page, const char *id,
                                         const cJSON *stored, const struct survey *survey)
{
    struct response merged;
    cJSON *answers = cJSON_Duplicate(stored, true);
    cJSON *body = cJSON_CreateObject();

    for (const cJSON *item = page->answers->child; answers && item; item = item->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(answers, item->string);
        oom_add_item(answers, item->string, cJSON_Duplicate(item, true));
    }
    oom_add_item(body, "answers", answers);
    bool valid = validate_response(survey, body, page->now, &merged, &page->errors);
    cJSON_Delete(body);
    if (!valid)
        return page->errors.count > 0 ? STORE_CONFLICT : STORE_ERROR;
    enum store_status status = store_update_answers(conn, id, merged.answers_json);
    if (status == STORE_OK)
        status = (page->stored_answers = strdup(merged.answers_json)) ? STORE_OK : STORE_ERROR;
    survey_response_free(&merged);
    return status;
}

/* Inside the writer's transaction, against the invitation and its response as they are now: two
 * submits racing each other make one response, and the second adds to it. */
static enum store_status record_answers(struct store_conn *conn, struct page_job *page,
                                        struct store_invitation_row *inv, const struct survey *survey)
{
    cJSON *before = NULL;
    enum store_status status;

    if (inv->response_id[0] == '\0') {
        status = insert_response(conn, page, inv, survey);
    } else {
        struct store_response_row response;
        status = store_get_response(conn, inv->response_id, &response);
        /* Erased or deleted since: the invitation was answered; nothing is made up again. */
        if (status == STORE_NOT_FOUND) {
            page->answered_elsewhere = true;
            return STORE_CONFLICT;
        }
        if (status != STORE_OK)
            return status;
        before = cJSON_Parse(response.answers);
        page->stored_answers = response.answers;
        response.answers = NULL;
        store_response_row_free(&response);
        if (before == NULL)
            return STORE_ERROR;
        if (page->answers->child == NULL) {
            cJSON_Delete(before);
            return STORE_OK; /* nothing new: the page shows what is left */
        }
        free(page->stored_answers);
        page->stored_answers = NULL;
        status = update_response(conn, page, inv->response_id, before, survey);
        if (status == STORE_CONFLICT && page->stored_answers == NULL)
            page->stored_answers = cJSON_PrintUnformatted(before);
    }
    if (status != STORE_OK) {
        cJSON_Delete(before);
        return status;
    }
    char *captured = merge_captured(inv->captured, before, page->answers, page->capture);
    cJSON_Delete(before);
    if (captured == NULL)
        return STORE_ERROR;
    free(inv->captured);
    inv->captured = captured;
    if (inv->response_id[0] == '\0')
        snprintf(inv->response_id, sizeof inv->response_id, "%s", page->row.response_id);
    if (inv->responded_at == 0)
        inv->responded_at = page->now;
    if (inv->opened_at == 0)
        inv->opened_at = page->now;
    if ((status = store_update_invitation(conn, inv)) != STORE_OK)
        return status;
    /* The first submit created the response, a later one changed it: the same events as a POST
     * and a PATCH. */
    return webhook_events_response_queued(conn, page->job.app->webhooks,
                                          page->inserted ? WEBHOOK_RESPONSE_CREATED : WEBHOOK_RESPONSE_UPDATED,
                                          inv->response_id, page->now, &page->job.webhook_events);
}

static enum store_status apply_answers(struct store_conn *conn, struct writer_job *job)
{
    struct page_job *page = (struct page_job *)job;
    struct store_invitation_row inv;
    struct survey survey;

    /* The writer may run a job again (STORE_RETRY): what a try found is forgotten first. */
    page->window_over = page->answered_elsewhere = page->inserted = false;
    free(page->stored_answers);
    page->stored_answers = NULL;
    validate_errors_free(&page->errors); /* and empty again */
    enum store_status status = read_invitation_locked(conn, &page->row, &inv);
    if (status != STORE_OK)
        return status;
    if (window_over(&inv, page->now)) {
        page->window_over = true;
        store_invitation_row_free(&inv);
        return STORE_CONFLICT;
    }
    /* Validated against the definition as it is in this transaction: a PUT may have committed
     * since the request arrived. */
    status = api_load_survey_cached(page->job.app->surveys, conn, inv.survey, &survey, NULL);
    if (status == STORE_OK) {
        status = record_answers(conn, page, &inv, &survey);
        survey_free(&survey);
    }
    store_invitation_row_free(&inv);
    return status;
}

static void count_answers(struct writer_job *job)
{
    struct page_job *page = (struct page_job *)job;
    if (page->inserted)
        versions_count_ingested(page->job.app->versions, page->job.survey);
}

static enum http_next finish_post(struct http_request *req, struct page_job *page)
{
    const char *title = page->survey.title;
    enum store_status status = page->job.job.status;

    if (status == STORE_OK) {
        struct form_view view = {.answered = page->stored_answers,
                                 .notice = "Thank you! Your answers have been saved. You may answer the questions "
                                           "below too, or close this page."};
        render_form(req, 200, page, &view);
    } else if (status == STORE_CONFLICT && (page->window_over || page->answered_elsewhere)) {
        reply_message(req, 409, PAGE_ANSWERED, title);
    } else if (status == STORE_CONFLICT) {
        struct form_view view = {.answered = page->stored_answers, .form = &page->form};
        render_form(req, 422, page, &view);
    } else {
        reply_store_error(req, status, title);
    }
    return HTTP_DONE;
}

/* The scheme and host of Origin match the Host the request was sent to. */
static bool same_origin(struct http_request *req, const char *origin)
{
    const char *host = http_header(req, "Host");
    const char *rest = strstr(origin, "://");
    return host && rest && strcasecmp(rest + 3, host) == 0;
}

/* Origin is the origin of the configured public base (--public-url), whose links open this page:
 * behind a reverse proxy that does not pass the Host through, that is the page's own origin. */
static bool public_origin(const char *public_url, const char *origin)
{
    const char *host = public_url ? strstr(public_url, "://") : NULL;
    if (host == NULL)
        return false;
    size_t len = (size_t)(host + 3 - public_url) + strcspn(host + 3, "/");
    return strlen(origin) == len && strncasecmp(origin, public_url, len) == 0;
}

/* A submission must come from this page, in a browser that says so: another site's page may not
 * answer in its visitor's name. The form_key proves the poster read the page (it is in no link);
 * Origin and Sec-Fetch-Site, which a page cannot forge, refuse cross-site posts outright. */
static bool forged(struct http_request *req, const struct page_job *page)
{
    const char *origin = http_header(req, "Origin");
    const char *fetch_site = http_header(req, "Sec-Fetch-Site");
    const char *key = http_form_get(&page->form, "form_key");
    size_t stored = strlen(page->row.form_key);

    if (fetch_site && strcasecmp(fetch_site, "cross-site") == 0)
        return true;
    if (origin && !same_origin(req, origin) && !public_origin(api_app(req)->public_url, origin))
        return true;
    return stored == 0 || key == NULL || strlen(key) != stored || http_form_count(&page->form, "form_key") != 1 ||
           CRYPTO_memcmp(key, page->row.form_key, stored) != 0;
}

/* Parses the body as a form; replies 415 (not a form) or 422 (not UTF-8, too many fields). */
static bool read_form(struct http_request *req, struct page_job *page)
{
    char media[64];
    if (strcmp(http_media_type(req, media, sizeof media), "application/x-www-form-urlencoded") != 0) {
        reply_message(req, 415, PAGE_UNSUPPORTED, page->survey.title);
        return false;
    }
    switch (http_form_parse(req->body ? req->body : "", req->body_len, &page->form)) {
    case HTTP_FORM_OK:
        return true;
    case HTTP_FORM_NO_MEMORY:
        http_reply_out_of_memory(req);
        return false;
    default:
        reply_message(req, 422, PAGE_UNSUPPORTED, page->survey.title);
        return false;
    }
}

enum http_next hosted_page_post(struct http_request *req)
{
    struct page_job *page = req->state;
    if (page)
        return finish_post(req, page);
    if ((page = page_job_new(req)) == NULL || !load_invitation(req, page))
        return HTTP_DONE;
    const char *title = page->survey.title;
    if (!read_form(req, page))
        return HTTP_DONE;
    if (forged(req, page)) {
        reply_message(req, 403, PAGE_FORBIDDEN, title);
        return HTTP_DONE;
    }
    if (window_over(&page->row, page->now)) {
        reply_message(req, 409, PAGE_ANSWERED, title);
        return HTTP_DONE;
    }
    if (rate_limited(req, title))
        return HTTP_DONE;
    const char *capture = http_form_get(&page->form, "capture");
    page->capture = capture && strcmp(capture, "interaction") == 0 ? "interaction" : "submit";
    if ((page->answers = form_answers(&page->survey, &page->form)) == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    page->job.apply = apply_answers;
    page->job.after_commit = count_answers;
    snprintf(page->job.survey, sizeof page->job.survey, "%s", page->row.survey);
    return api_submit(req, &page->job);
}
