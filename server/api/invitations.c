/* POST /v1/surveys/{survey}/invitations and GET /v1/invitations/{id}.
 *
 * An invitation goes: authorise (ingest or admin) → parse strictly → replay an Idempotency-Key →
 * make the link (a fresh token, only its hash kept) and its messages → the writer decides, under a
 * lock on (survey, customer), whether it goes out (throttling, sampling: invitation_policy.c) and
 * stores it either way → 201 with the link, or 200 "suppressed" → optionally the email, from the
 * sender thread, before the reply. */
#include "invitations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "edit_token.h"
#include "idempotency.h"
#include "ids.h"
#include "invitation_message.h"
#include "invitation_policy.h"
#include "mail.h"
#include "oom.h"
#include "smtp.h"
#include "timefmt.h"

#define URL_MAX 640     /* --public-url is at most 512 bytes, then "/s/" and the token */

enum post_phase { PHASE_WRITING, PHASE_SENDING };

struct invitation_job {
    struct api_job job;                 /* first: the writer hands this pointer back */
    enum post_phase phase;
    struct survey survey;
    char *definition;                   /* the stored text survey was parsed from */
    struct invitation_request request;
    int64_t now_ms;
    char id[32];
    char token[EDIT_TOKEN_LEN + 1];     /* in the link, never stored */
    unsigned char token_hash[EDIT_TOKEN_HASH_LEN];
    char form_key[33];
    char url[URL_MAX];
    char *email_html, *text;            /* rendered before the writer: they need only the link */
    /* Decided by the writer. */
    struct invitation_decision decision;
    struct idempotency idem;
    struct store_replay replay;
    int reply_status;
    char *reply;
    /* The email, when asked for and the invitation went out. */
    struct smtp_job mail;
    char *message;
};

static void invitation_job_free(void *state)
{
    struct invitation_job *inv = state;
    survey_free(&inv->survey);
    free(inv->definition);
    survey_invitation_request_free(&inv->request);
    free(inv->email_html);
    free(inv->text);
    store_replay_free(&inv->replay);
    free(inv->reply);
    free(inv->message);
    free(inv);
}

/* ---- the writer's part ---- */

/* The policy in force now: a PUT may have changed the survey since the request read it, and a
 * DELETE removed it (STORE_NOT_FOUND: nothing is stored for a survey that is gone). */
static enum store_status current_policy(struct store_conn *conn, struct invitation_job *inv,
                                        struct invitation_policy *policy)
{
    bool unchanged;
    struct survey current;
    enum store_status status = store_survey_unchanged(conn, inv->survey.id, inv->definition, &unchanged);
    const struct survey *s = &inv->survey;

    if (status != STORE_OK)
        return status;
    if (!unchanged) {
        status = api_load_survey_cached(inv->job.app->surveys, conn, inv->survey.id, &current, NULL);
        if (status != STORE_OK)
            return status;
        s = &current;
    }
    policy->throttle_days = invitation_policy_throttle_days(s->throttle_days, inv->job.app->throttle_days);
    policy->sample_rate = s->sample_rate;
    if (s == &current)
        survey_free(&current);
    return STORE_OK;
}

static const char *reason_name(enum invitation_verdict verdict)
{
    return verdict == INVITATION_THROTTLED ? "throttled" : "sampled_out";
}

static char *reply_body(const struct invitation_job *inv)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "id", inv->id);
    if (inv->decision.verdict == INVITATION_SEND) {
        cJSON_AddStringToObject(body, "url", inv->url);
        api_add_time(body, "expires_at", inv->now_ms + inv->request.expires_in_s * 1000);
        cJSON_AddStringToObject(body, "email_html", inv->email_html);
        cJSON_AddStringToObject(body, "text", inv->text);
    } else {
        cJSON_AddBoolToObject(body, "suppressed", true);
        cJSON_AddStringToObject(body, "reason", reason_name(inv->decision.verdict));
        if (inv->decision.eligible_at)
            api_add_time(body, "eligible_at", inv->decision.eligible_at);
        else
            cJSON_AddNullToObject(body, "eligible_at");
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

static void fill_row(const struct invitation_job *inv, struct store_invitation_row *row)
{
    static const enum store_invitation_outcome outcomes[] = {
        [INVITATION_SEND] = STORE_INVITATION_SENT,
        [INVITATION_THROTTLED] = STORE_INVITATION_THROTTLED,
        [INVITATION_SAMPLED_OUT] = STORE_INVITATION_SAMPLED_OUT,
    };
    bool sent = inv->decision.verdict == INVITATION_SEND;

    memset(row, 0, sizeof *row);
    memcpy(row->id, inv->id, sizeof row->id);
    memcpy(row->survey, inv->survey.id, sizeof row->survey);
    row->customer = inv->request.customer;
    row->channel = inv->request.channel;
    row->agent = inv->request.agent;
    row->interaction = inv->request.interaction;
    row->properties = inv->request.properties_json;
    row->outcome = outcomes[inv->decision.verdict];
    row->created_at = inv->now_ms;
    /* A suppressed invitation has no link: no token, no form key, no expiry. */
    row->has_token = sent;
    if (sent) {
        memcpy(row->token_hash, inv->token_hash, sizeof row->token_hash);
        memcpy(row->form_key, inv->form_key, sizeof row->form_key);
        row->expires_at = inv->now_ms + inv->request.expires_in_s * 1000;
    }
}

static enum store_status apply_invitation(struct store_conn *conn, struct writer_job *job)
{
    struct invitation_job *inv = (struct invitation_job *)job;
    struct invitation_policy policy;
    struct store_invitation_row row;
    int64_t last = 0;
    double point;
    enum store_status status;

    /* Checked again in the transaction: two retries racing each other both missed the record. */
    if (inv->idem.key) {
        status = store_find_idempotency(conn, &inv->idem.record, &inv->replay);
        if (status != STORE_NOT_FOUND)
            return status;
    }
    if ((status = current_policy(conn, inv, &policy)) != STORE_OK)
        return status;
    /* Takes the (survey, customer) lock until the commit: instances sharing the database decide
     * one invitation of a customer at a time, so two triggers at once invite once. */
    status = store_last_contact(conn, inv->survey.id, inv->request.customer, &last);
    if (status != STORE_OK && status != STORE_NOT_FOUND)
        return status;
    if (!invitation_policy_sample_point(inv->survey.id, inv->request.customer, &point))
        return STORE_ERROR;
    inv->decision = invitation_policy_decide(&policy, point, status == STORE_OK, last, inv->now_ms);
    fill_row(inv, &row);
    if ((status = store_insert_invitation(conn, &row)) != STORE_OK)
        return status;
    free(inv->reply);
    inv->reply = reply_body(inv);
    inv->reply_status = inv->decision.verdict == INVITATION_SEND ? 201 : 200;
    if (inv->reply == NULL)
        return STORE_ERROR;
    if (!inv->idem.key)
        return STORE_OK;
    return store_save_idempotency(conn, &inv->idem.record, inv->reply_status, inv->reply, inv->id,
                                  inv->request.customer, inv->now_ms);
}

static void count_outcome(struct writer_job *job)
{
    struct invitation_job *inv = (struct invitation_job *)job;
    struct invitation_stats *stats = inv->job.app->invitation_stats;
    if (stats == NULL)
        return;
    if (inv->decision.verdict == INVITATION_SEND)
        atomic_fetch_add(&stats->sent, 1);
    else if (inv->decision.verdict == INVITATION_THROTTLED)
        atomic_fetch_add(&stats->throttled, 1);
    else
        atomic_fetch_add(&stats->sampled_out, 1);
}

/* ---- replies ---- */

static void reply_invitation(struct http_request *req, int status, char *body, const char *id)
{
    char location[64];
    if (status == 201) {
        snprintf(location, sizeof location, "/v1/invitations/%s", id);
        http_add_header(req, "Location", location);
    }
    http_reply_json_text(req, (unsigned)status, body);
}

/* The 201 with what became of the email: {"sent": true}, or {"sent": false, "error": "..."}. The
 * invitation stands either way; the caller may send the link another way. */
static void reply_with_email(struct http_request *req, struct invitation_job *inv)
{
    cJSON *body = cJSON_Parse(inv->reply);
    cJSON *email = cJSON_CreateObject();
    cJSON_AddBoolToObject(email, "sent", inv->mail.sent);
    if (!inv->mail.sent)
        cJSON_AddStringToObject(email, "error", inv->mail.error);
    if (body == NULL || !cJSON_AddItemToObject(body, "email", email)) {
        cJSON_Delete(email);
        oom_note();
    }
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    reply_invitation(req, 201, text, inv->id);
}

static void mail_done(struct smtp_job *job)
{
    struct invitation_job *inv = job->context;
    struct invitation_stats *stats = inv->job.app->invitation_stats;
    if (stats)
        atomic_fetch_add(job->sent ? &stats->emails_sent : &stats->emails_failed, 1);
    http_resume(inv->job.job.context);
}

static void count_email_failed(struct http_request *req)
{
    struct invitation_stats *stats = api_app(req)->invitation_stats;
    if (stats)
        atomic_fetch_add(&stats->emails_failed, 1);
}

/* Hands the email to the sender thread and suspends again: the handler runs once more when the
 * sender is done with it (or at once when it could not be queued) and replies then. */
static enum http_next send_email(struct http_request *req, struct invitation_job *inv)
{
    struct mail mail = {api_app(req)->smtp_from, inv->request.email, inv->survey.title, inv->text,
                        inv->email_html, inv->id, inv->now_ms};
    size_t len = 0;

    inv->message = mail_compose(&mail, &len);
    inv->mail = (struct smtp_job){.to = inv->request.email, .message = inv->message, .message_len = len,
                                  .done = mail_done, .context = inv};
    inv->phase = PHASE_SENDING;
    if (inv->message == NULL) {
        snprintf(inv->mail.error, sizeof inv->mail.error, "out of memory composing the message");
        count_email_failed(req);
        reply_with_email(req, inv);
        return HTTP_DONE;
    }
    /* Suspend before submitting: the sender may be done before smtp_submit returns. */
    http_suspend(req);
    if (!smtp_submit(api_app(req)->smtp, &inv->mail)) {
        snprintf(inv->mail.error, sizeof inv->mail.error, "too many emails waiting to be sent; not queued");
        count_email_failed(req);
        http_resume(req);
    }
    return HTTP_SUSPENDED;
}

static bool replayed_after_race(struct http_request *req, struct invitation_job *inv)
{
    return idempotency_replied(req, store_reader(api_app(req)->store), &inv->idem, reply_invitation);
}

static enum http_next finish_post(struct http_request *req, struct invitation_job *inv)
{
    if (inv->phase == PHASE_SENDING) {
        reply_with_email(req, inv);
        return HTTP_DONE;
    }
    switch (inv->job.job.status) {
    case STORE_OK:
        if (inv->reply_status == 201 && inv->request.email)
            return send_email(req, inv);
        reply_invitation(req, inv->reply_status, inv->reply, inv->id);
        inv->reply = NULL;
        break;
    case STORE_REPLAY:
        idempotency_reply_replay(req, &inv->replay, reply_invitation);
        break;
    case STORE_KEY_REUSED:
        idempotency_reply_key_reused(req);
        break;
    case STORE_NOT_FOUND:
        api_reply_survey_error(req, inv->survey.id, STORE_NOT_FOUND); /* deleted meanwhile */
        break;
    case STORE_CONFLICT:
        /* Another instance stored the same Idempotency-Key after this one looked: the retry gets
         * that first reply, now committed. */
        if (inv->idem.key && replayed_after_race(req, inv))
            break;
        http_reply_problem(req, 409, "conflict", "this invitation conflicts with one stored meanwhile; retry", NULL);
        break;
    default:
        api_reply_store_error(req, inv->job.job.status);
        break;
    }
    return HTTP_DONE;
}

/* ---- the request's part ---- */

/* Ingest or admin only: an invitation is made by a backend (a helpdesk trigger), never by a
 * visitor. Those may learn which surveys exist. */
static bool authorise(struct http_request *req, struct store_conn *conn, struct invitation_job *inv)
{
    struct store_survey_row row;
    enum store_status status = STORE_NOT_FOUND;

    if (!api_require(req, auth_may_ingest))
        return false;
    if (ids_valid_slug(req->params[0]))
        status = api_load_survey_current(api_app(req)->surveys, conn, req->params[0], &inv->survey, &row);
    if (status != STORE_OK) {
        api_reply_survey_error(req, req->params[0], status);
        return false;
    }
    inv->definition = row.definition;
    return true;
}

/* Links are built from --public-url alone: never from the request's Host header, which whoever
 * calls could set to their own site and so have customers' answers sent there. */
static bool public_url_configured(struct http_request *req)
{
    if (api_app(req)->public_url)
        return true;
    http_add_header(req, "Retry-After", "60");
    http_reply_problem(req, 503, "public_url_not_configured",
                       "invitation links need the address customers reach this server at: start surveyd with "
                       "--public-url (or SURVEYD_PUBLIC_URL), e.g. https://surveys.example.com",
                       NULL);
    return false;
}

static bool email_possible(struct http_request *req, const struct invitation_request *request)
{
    if (request->email == NULL || api_app(req)->smtp)
        return true;
    http_reply_problem(req, 409, "email_not_configured",
                       "this server sends no email: start it with --smtp-url and --smtp-from, or leave out "
                       "\"send\" and deliver email_html or text yourself; nothing was stored",
                       NULL);
    return false;
}

/* "Idempotency-Key": a helpdesk trigger that retries gets the first reply again (link included)
 * instead of a second invitation, which the throttle would suppress. Replies and returns false when
 * refused or already answered. */
static bool idempotency_checked(struct http_request *req, struct store_conn *conn, struct invitation_job *inv)
{
    return idempotency_read(req, &inv->idem, inv->survey.id, "POST /v1/surveys/%s/invitations", inv->survey.id) &&
           !idempotency_replied(req, conn, &inv->idem, reply_invitation);
}

/* The link and what it says, made before the writer decides: they need nothing it knows. */
static bool make_link(struct http_request *req, struct invitation_job *inv)
{
    const char *base = api_app(req)->public_url;
    size_t base_len = strlen(base);

    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;
    if (!ids_new_response_id(inv->id, inv->now_ms) || !edit_token_new(inv->token, inv->token_hash) ||
        !ids_random_hex(inv->form_key, 16))
        return false;
    snprintf(inv->url, sizeof inv->url, "%.*s/s/%s", (int)base_len, base, inv->token);
    inv->email_html = invitation_message_html(&inv->survey, inv->url);
    inv->text = invitation_message_text(&inv->survey, inv->url);
    return inv->email_html && inv->text;
}

enum http_next invitations_post(struct http_request *req)
{
    if (req->state)
        return finish_post(req, req->state);

    struct store_conn *conn = store_reader(api_app(req)->store);
    struct invitation_job *inv = calloc(1, sizeof *inv);
    struct validate_errors errors;
    cJSON *body = NULL;

    if (inv == NULL) {
        http_reply_out_of_memory(req);
        return HTTP_DONE;
    }
    req->state = inv;
    req->state_free = invitation_job_free;
    if (!authorise(req, conn, inv) || !public_url_configured(req))
        return HTTP_DONE;
    if ((body = api_parse_body(req, false)) == NULL)
        return HTTP_DONE;
    if (!idempotency_checked(req, conn, inv))
        goto done;
    validate_errors_init(&errors);
    if (!validate_invitation(body, &inv->request, &errors)) {
        api_reply_invalid(req, &errors);
        goto done;
    }
    if (!email_possible(req, &inv->request))
        goto done;
    inv->now_ms = timefmt_now_ms();
    if (!make_link(req, inv)) {
        api_reply_store_error(req, STORE_ERROR);
        goto done;
    }
    inv->job.apply = apply_invitation;
    inv->job.after_commit = count_outcome;
    snprintf(inv->job.survey, sizeof inv->job.survey, "%s", inv->survey.id);
    cJSON_Delete(body);
    return api_submit(req, &inv->job);
done:
    cJSON_Delete(body);
    return HTTP_DONE;
}

/* ---- GET /v1/invitations/{id} ---- */

/* responded wins over expired: an answer given in time stays the outcome. */
static const char *state_name(const struct store_invitation_row *row, int64_t now_ms)
{
    if (row->outcome != STORE_INVITATION_SENT)
        return "suppressed";
    if (row->responded_at)
        return "responded";
    if (row->expires_at && row->expires_at <= now_ms)
        return "expired";
    return row->opened_at ? "opened" : "sent";
}

static void add_string_or_null(cJSON *out, const char *name, const char *value)
{
    if (value && *value)
        cJSON_AddStringToObject(out, name, value);
    else
        cJSON_AddNullToObject(out, name);
}

static void add_time_or_null(cJSON *out, const char *name, int64_t ms)
{
    if (ms)
        api_add_time(out, name, ms);
    else
        cJSON_AddNullToObject(out, name);
}

static void add_json_or_null(cJSON *out, const char *name, const char *text)
{
    cJSON *value = text ? cJSON_Parse(text) : NULL;
    oom_add_item(out, name, value ? value : cJSON_CreateNull());
}

/* Never the token, its hash or the form key: the id is not a capability to answer. */
static cJSON *render_invitation(const struct store_invitation_row *row, int64_t now_ms)
{
    static const char *const reasons[] = {
        [STORE_INVITATION_SENT] = NULL,
        [STORE_INVITATION_THROTTLED] = "throttled",
        [STORE_INVITATION_SAMPLED_OUT] = "sampled_out",
    };
    cJSON *out = cJSON_CreateObject();

    cJSON_AddStringToObject(out, "id", row->id);
    cJSON_AddStringToObject(out, "survey", row->survey);
    cJSON_AddStringToObject(out, "customer", row->customer);
    add_string_or_null(out, "channel", row->channel);
    add_string_or_null(out, "agent", row->agent);
    add_string_or_null(out, "interaction", row->interaction);
    add_json_or_null(out, "properties", row->properties);
    cJSON_AddStringToObject(out, "state", state_name(row, now_ms));
    add_string_or_null(out, "reason", reasons[row->outcome]);
    api_add_time(out, "created_at", row->created_at);
    add_time_or_null(out, "expires_at", row->expires_at);
    add_time_or_null(out, "opened_at", row->opened_at);
    add_time_or_null(out, "responded_at", row->responded_at);
    add_string_or_null(out, "response_id", row->response_id);
    cJSON_AddNumberToObject(out, "automated_visits", (double)row->automated_visits);
    add_json_or_null(out, "captured", row->captured);
    return out;
}

enum http_next invitations_get(struct http_request *req)
{
    struct store_invitation_row row;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    struct store_conn *conn = store_reader(api_app(req)->store);
    enum store_status status = conn ? store_get_invitation(conn, req->params[0], &row) : STORE_UNAVAILABLE;
    if (status != STORE_OK) {
        api_reply_store_error(req, status);
        return HTTP_DONE;
    }
    http_reply_json(req, 200, render_invitation(&row, timefmt_now_ms()));
    store_invitation_row_free(&row);
    return HTTP_DONE;
}
