/* Webhook events: logged with the change, prepared into deliveries later (webhook_events.h).
 *
 * Logging runs inside every ingest's writer transaction, so it does as little as it can: one probe
 * (does any subscription exist?) and one narrow appended row. What a subscription gets (matching,
 * rendering, the delivery row) is decided when the sender prepares the event, at the pace the
 * receiver takes deliveries: a receiver that holds every slot then costs ingest nothing more
 * (docs/benchmarks.md).
 *
 * The consequence, documented in docs/webhook-events.md: a response event is rendered from the
 * response as it is when prepared, not as it was when logged. A created event prepared after an
 * update shows the updated answers (the updated event still follows it); one whose response is gone
 * by then is passed over. Only response.deleted and customer.erased carry their object in the log,
 * because nothing would be left to read. */
#include "webhook_events.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "log.h"
#include "webhook_payload.h"

#define PREPARE_PAGE 256            /* events read per call: one writer job stays short */

/* ---- logging ---- */

/* Appends one event when any subscription exists; *queued = 1 when it did. */
static enum store_status log_event(struct store_conn *conn, const struct store_event_row *event, size_t *queued)
{
    struct store_event_row row = *event;
    char suffix[IDS_RESPONSE_LEN + 1];

    if (!ids_new_response_id(suffix, row.created_at))
        return STORE_ERROR;
    snprintf(row.id, sizeof row.id, "msg_%s", suffix);
    enum store_status status = store_append_event(conn, &row);
    *queued = status == STORE_OK;
    return status;
}

/* Whether to log. When the sender's last count saw a subscription, the probe is skipped: on
 * PostgreSQL it is a round trip of its own, and with it a change that logs would pay two statements
 * where a change without subscriptions pays one (docs/benchmarks.md, "Webhooks"). The hint errs
 * only towards logging an event nobody reads (for up to a second after the last subscription was
 * deleted), which the pruning removes; "none" is always asked of the transaction, which alone
 * sees a subscription another instance created a moment ago. */
static enum store_status any_subscription(struct store_conn *conn, struct webhook_sender *sender, bool *any)
{
    *any = webhook_sender_saw_subscriptions(sender);
    return *any ? STORE_OK : store_webhooks_exist(conn, any);
}

/* response.deleted: the response as GET showed it, rendered now (it is gone once the job commits). */
static enum store_status log_deleted(struct store_conn *conn, const char *response_id, int64_t now_ms,
                                     size_t *queued)
{
    struct store_response_row row;
    enum store_status status = store_get_response(conn, response_id, &row);
    if (status != STORE_OK)
        return status;
    cJSON *object = api_render_response(&row);
    char *text = object ? cJSON_PrintUnformatted(object) : NULL;
    struct store_event_row event = {
        .type = (char *)webhook_event_name(WEBHOOK_RESPONSE_DELETED),
        .survey = row.survey,
        .subject = row.id,
        .customer = row.customer,
        .object = text,
        .created_at = now_ms,
    };
    status = text ? log_event(conn, &event, queued) : STORE_ERROR;
    free(text);
    cJSON_Delete(object);
    store_response_row_free(&row);
    return status;
}

enum store_status webhook_events_response(struct store_conn *conn, struct webhook_sender *sender,
                                          enum webhook_event type, const char *response_id, int64_t now_ms)
{
    size_t queued;
    return webhook_events_response_queued(conn, sender, type, response_id, now_ms, &queued);
}

enum store_status webhook_events_response_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                 enum webhook_event type, const char *response_id, int64_t now_ms,
                                                 size_t *queued)
{
    bool any;
    *queued = 0;
    enum store_status status = any_subscription(conn, sender, &any);
    if (status != STORE_OK || !any)
        return status;
    if (type == WEBHOOK_RESPONSE_DELETED)
        return log_deleted(conn, response_id, now_ms, queued);
    /* Only the id: the response is read (and matched, and rendered) when the event is prepared. */
    struct store_event_row event = {
        .type = (char *)webhook_event_name(type),
        .subject = (char *)response_id,
        .created_at = now_ms,
    };
    return log_event(conn, &event, queued);
}

enum store_status webhook_events_survey(struct store_conn *conn, struct webhook_sender *sender, const char *survey,
                                        int64_t now_ms)
{
    size_t queued;
    return webhook_events_survey_queued(conn, sender, survey, now_ms, &queued);
}

enum store_status webhook_events_survey_queued(struct store_conn *conn, struct webhook_sender *sender,
                                               const char *survey, int64_t now_ms, size_t *queued)
{
    bool any;
    *queued = 0;
    enum store_status status = any_subscription(conn, sender, &any);
    if (status != STORE_OK || !any)
        return status;
    struct store_event_row event = {
        .type = (char *)webhook_event_name(WEBHOOK_SURVEY_UPDATED),
        .survey = (char *)survey,
        .subject = (char *)survey,
        .created_at = now_ms,
    };
    return log_event(conn, &event, queued);
}

/* Whether any subscription, enabled or not, takes customer.erased. */
struct erased_wanted {
    bool any;
};

static void wants_erased(const struct store_webhook_row *row, void *arg)
{
    struct erased_wanted *w = arg;
    struct webhook_spec spec;
    if (w->any || !webhook_spec_from_stored(row->url, row->events, row->surveys, row->filter, row->format, &spec))
        return;
    w->any = (spec.events & WEBHOOK_CUSTOMER_ERASED) != 0;
    webhook_spec_free(&spec);
}

enum store_status webhook_events_customer_erased(struct store_conn *conn, struct webhook_sender *sender,
                                                 const char *customer, int64_t deleted, int64_t now_ms)
{
    size_t queued;
    return webhook_events_customer_erased_queued(conn, sender, customer, deleted, now_ms, &queued);
}

enum store_status webhook_events_customer_erased_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                        const char *customer, int64_t deleted, int64_t now_ms,
                                                        size_t *queued)
{
    struct erased_wanted wanted = {false};
    (void)sender;
    *queued = 0;
    /* The one event whose row holds a customer's id by design: logged only when some subscription
     * takes it, or their id would stay on disk (until the log is pruned) for nobody. Erasures are
     * rare, so listing the subscriptions here costs ingest nothing. */
    enum store_status status = store_list_webhooks(conn, wants_erased, &wanted);
    if (status != STORE_OK || !wanted.any)
        return status;
    cJSON *data = webhook_payload_erased_data(customer, deleted);
    char *text = data ? cJSON_PrintUnformatted(data) : NULL;
    /* No survey, subject or customer column: the row must not look like the erased customer's
     * data, which the next erasure would remove. The id is in the object alone; the purge that
     * follows this erasure knows it is there by design (api/customers.c, keep_erased_event), and
     * it leaves the disk when the log is pruned and its deliveries were delivered (the store blanks
     * a delivered customer.erased body: store_finish_delivery). */
    struct store_event_row event = {
        .type = (char *)webhook_event_name(WEBHOOK_CUSTOMER_ERASED),
        .object = text,
        .created_at = now_ms,
    };
    status = text ? log_event(conn, &event, queued) : STORE_ERROR;
    free(text);
    cJSON_Delete(data);
    return status;
}

/* ---- preparing ---- */

/* One page of the log, copied out of the store's callback: each event is then read, matched and
 * stored with the connection free for other statements. */
struct page {
    struct store_event_row *rows;
    size_t n, cap;
    bool failed;
};

static void page_free(struct page *page)
{
    for (size_t i = 0; i < page->n; i++)
        store_event_row_free(&page->rows[i]);
    free(page->rows);
}

static char *dup_or_null(const char *s, bool *failed)
{
    char *copy = s ? strdup(s) : NULL;
    if (s && copy == NULL)
        *failed = true;
    return copy;
}

static void page_add(const struct store_event_row *row, void *arg)
{
    struct page *page = arg;
    if (page->failed)
        return;
    if (page->n == page->cap) {
        size_t cap = page->cap ? page->cap * 2 : 32;
        struct store_event_row *grown = realloc(page->rows, cap * sizeof *grown);
        if (grown == NULL) {
            page->failed = true;
            return;
        }
        page->rows = grown;
        page->cap = cap;
    }
    struct store_event_row *copy = &page->rows[page->n++];
    *copy = *row;
    copy->type = dup_or_null(row->type, &page->failed);
    copy->survey = dup_or_null(row->survey, &page->failed);
    copy->subject = dup_or_null(row->subject, &page->failed);
    copy->customer = dup_or_null(row->customer, &page->failed);
    copy->object = dup_or_null(row->object, &page->failed);
}

/* What one event is about, as preparing finds it. */
struct subject {
    enum webhook_event type;
    const struct store_event_row *event;
    const char *survey;             /* for the subscription's surveys, and the delivery's column */
    const char *customer;           /* whose data the body holds: the delivery's column */
    cJSON *object;                  /* the response or survey as GET shows it now; the logged
                                     * object for response.deleted and customer.erased */
    struct store_response_row response;
    bool have_response;
};

static void subject_free(struct subject *s)
{
    cJSON_Delete(s->object);
    if (s->have_response)
        store_response_row_free(&s->response);
}

/* Reads what the event is about. STORE_NOT_FOUND: it is gone, the event is passed over. */
static enum store_status read_subject(struct store_conn *conn, const struct store_event_row *event,
                                      struct subject *s)
{
    memset(s, 0, sizeof *s);
    s->event = event;
    if (event->type == NULL || !webhook_event_parse(event->type, &s->type))
        return STORE_NOT_FOUND; /* a type this version does not know: nothing to send */
    if (s->type == WEBHOOK_RESPONSE_CREATED || s->type == WEBHOOK_RESPONSE_UPDATED) {
        enum store_status status = event->subject ? store_get_response(conn, event->subject, &s->response)
                                                  : STORE_NOT_FOUND;
        if (status != STORE_OK)
            return status;
        s->have_response = true;
        s->survey = s->response.survey;
        s->customer = s->response.customer;
        s->object = api_render_response(&s->response);
    } else if (s->type == WEBHOOK_SURVEY_UPDATED) {
        struct store_survey_row row;
        enum store_status status = event->subject ? store_get_survey(conn, event->subject, &row) : STORE_NOT_FOUND;
        if (status != STORE_OK)
            return status;
        s->survey = event->subject;
        s->object = api_render_survey(&row);
        store_survey_row_free(&row);
    } else {
        s->survey = event->survey;
        s->customer = event->customer;
        s->object = event->object ? cJSON_Parse(event->object) : NULL;
        if (s->object == NULL) {
            log_warn("webhooks: event %s holds no readable object; it is passed over", event->id);
            return STORE_NOT_FOUND;
        }
    }
    return s->object ? STORE_OK : STORE_ERROR;
}

/* The Slack line of a response names its score by the definition's question types. */
static char *slack_response(struct store_conn *conn, const struct subject *s)
{
    struct survey survey;
    bool loaded = s->survey && api_load_survey(conn, s->survey, &survey, NULL) == STORE_OK;
    char *body = webhook_payload_slack_response(s->type, s->object, loaded ? &survey : NULL);
    if (loaded)
        survey_free(&survey);
    return body;
}

static char *render_standard(const struct subject *s)
{
    cJSON *data;
    if (s->type == WEBHOOK_CUSTOMER_ERASED) {
        data = cJSON_Duplicate(s->object, true);
    } else {
        data = cJSON_CreateObject();
        cJSON *copy = cJSON_Duplicate(s->object, true);
        const char *name = s->type == WEBHOOK_SURVEY_UPDATED ? "survey" : "response";
        if (data == NULL || copy == NULL || !cJSON_AddItemToObject(data, name, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(data);
            return NULL;
        }
    }
    /* The event's time, not the preparing's: the body says when the change happened. */
    return data ? webhook_payload_standard(s->type, s->event->created_at, data) : NULL;
}

static char *render(struct store_conn *conn, const struct subject *s, enum webhook_format format)
{
    if (format == WEBHOOK_FORMAT_STANDARD)
        return render_standard(s);
    switch (s->type) {
    case WEBHOOK_SURVEY_UPDATED:
        return webhook_payload_slack_survey(s->survey);
    case WEBHOOK_CUSTOMER_ERASED: {
        const cJSON *deleted = cJSON_GetObjectItemCaseSensitive(s->object, "deleted_responses");
        return webhook_payload_slack_erased(cJSON_IsNumber(deleted) ? (int64_t)deleted->valuedouble : 0);
    }
    default:
        return slack_response(conn, s);
    }
}

/* Stores the delivery. Its created_at, window_start and first due time are the event's: the retry
 * window counts from the change (docs/webhook-delivery.md), however late the event was prepared;
 * an event prepared late still gets its attempt, and its retries end when they would have. */
static enum store_status insert(struct store_conn *conn, const char *webhook, const struct subject *s,
                                enum webhook_format format)
{
    struct store_delivery_row row = {0};
    char suffix[IDS_RESPONSE_LEN + 1];
    char *body = render(conn, s, format);
    enum store_status status = STORE_ERROR;

    if (body == NULL || !ids_new_response_id(suffix, s->event->created_at))
        goto done;
    snprintf(row.id, sizeof row.id, "dlv_%s", suffix);
    snprintf(row.webhook, sizeof row.webhook, "%s", webhook);
    snprintf(row.event_id, sizeof row.event_id, "%s", s->event->id);
    row.type = s->event->type;
    row.survey = (char *)s->survey;
    row.subject = s->type == WEBHOOK_CUSTOMER_ERASED ? NULL : s->event->subject;
    row.customer = (char *)s->customer;
    row.payload = body;
    row.state = STORE_DELIVERY_PENDING;
    row.created_at = row.window_start = row.next_attempt_at = s->event->created_at;
    status = store_insert_delivery(conn, &row);
done:
    free(body);
    return status;
}

/* One event for one subscription: *stored says whether a delivery was made of it. */
static enum store_status prepare_one(struct store_conn *conn, const struct store_webhook_row *hook,
                                     const struct webhook_spec *spec, const struct store_event_row *event,
                                     bool *stored)
{
    struct subject s;
    *stored = false;
    /* Paused (or disabled by a 410): owed only what happened before; later events are passed over
     * (docs/webhooks.md: "no event is recorded for it while paused"). */
    if (hook->disabled_at != 0 && event->created_at >= hook->disabled_at)
        return STORE_OK;
    enum store_status status = read_subject(conn, event, &s);
    if (status == STORE_NOT_FOUND) {
        subject_free(&s);
        return STORE_OK; /* gone: nothing left to tell, and nothing of an erased customer is sent */
    }
    if (status == STORE_OK &&
        webhook_spec_matches(spec, s.type, s.survey, cJSON_GetObjectItemCaseSensitive(s.object, "answers"))) {
        status = insert(conn, hook->id, &s, spec->format);
        *stored = status == STORE_OK;
    }
    subject_free(&s);
    return status;
}

enum store_status webhook_events_prepare(struct store_conn *conn, const char *webhook, int max, int64_t now_ms,
                                         int *prepared)
{
    struct store_webhook_row hook;
    struct webhook_spec spec;
    struct page page = {0};
    int64_t cursor = 0, last;
    bool locked = false;
    (void)now_ms;

    *prepared = 0;
    enum store_status status = store_lock_webhook_cursor(conn, webhook, &cursor, &locked);
    if (status != STORE_OK || !locked)
        return status; /* gone, or another instance prepares for it now */
    if ((status = store_get_webhook(conn, webhook, &hook)) != STORE_OK)
        return status;
    bool disabled = hook.disabled_at != 0;
    if (!disabled && max <= 0)
        goto done;
    if (!webhook_spec_from_stored(hook.url, hook.events, hook.surveys, hook.filter, hook.format, &spec)) {
        /* One unreadable row must not stop the others: it gets nothing, and says so. */
        log_warn("webhooks: subscription '%s' is stored in a form that does not parse; no events go to it", webhook);
        goto done;
    }
    spec.enabled = true; /* a disabled one is owed its events from before (prepare_one) */
    status = store_list_events(conn, cursor, PREPARE_PAGE, page_add, &page);
    if (status == STORE_OK && page.failed)
        status = STORE_ERROR;
    last = cursor;
    for (size_t i = 0; status == STORE_OK && i < page.n; i++) {
        /* An enabled subscription gets as many as it has room to send; a disabled one sends
         * nothing now, so what it is owed is all stored, and the rest passed over. */
        if (!disabled && *prepared >= max)
            break;
        bool stored;
        status = prepare_one(conn, &hook, &spec, &page.rows[i], &stored);
        *prepared += stored;
        last = page.rows[i].seq;
    }
    if (status == STORE_OK && last > cursor)
        status = store_set_webhook_cursor(conn, webhook, last);
    page_free(&page);
    webhook_spec_free(&spec);
done:
    store_webhook_row_free(&hook);
    return status;
}
