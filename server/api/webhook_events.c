/* Events into the outbox, inside the writer transaction of the change (webhook_events.h).
 *
 * The subscriptions are read on the writer's own connection, in the same transaction as the change:
 * on PostgreSQL another instance may have created, changed or deleted one a moment ago, and the
 * transaction's own reading is the only one that is right for it. No copy is kept in this process
 * (README "Webhooks": what an ingest pays for subscriptions, measured). */
#include "webhook_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "log.h"
#include "webhook_payload.h"

/* One event as every subscription gets it; a body is rendered once per format, when first needed. */
struct event {
    enum webhook_event type;
    int64_t at_ms;
    const char *survey;             /* what it is about, for the surveys a subscription lists; or NULL */
    const char *subject;            /* whose order is kept (webhook_sender.h), or NULL */
    const char *customer;           /* whose data the body holds (erasure removes it), or NULL */
    const cJSON *answers;           /* response.*: for the filters */
    const cJSON *object;            /* the response or survey as GET shows it; NULL for customer.erased */
    const char *erased;             /* customer.erased: the customer */
    int64_t deleted;                /* customer.erased: responses deleted */
    struct store_conn *conn;        /* for the survey definition a Slack line names scores from */
    char *bodies[2];                /* by enum webhook_format */
};

/* The subscriptions an event goes to. */
struct target {
    char id[STORE_WEBHOOK_ID_MAX + 1];
    enum webhook_format format;
};

struct targets {
    const struct event *event;
    struct target *list;
    size_t count, cap;
    bool failed;
};

static void collect(const struct store_webhook_row *row, void *arg)
{
    struct targets *targets = arg;
    const struct event *event = targets->event;
    struct webhook_spec spec;

    if (targets->failed)
        return;
    if (!webhook_spec_from_stored(row->url, row->events, row->surveys, row->filter, row->format, &spec)) {
        /* One unreadable row must not stop every ingest: it gets nothing, and says so. */
        log_warn("webhooks: subscription '%s' is stored in a form that does not parse; no events go to it", row->id);
        return;
    }
    spec.enabled = row->disabled_at == 0;
    bool matches = webhook_spec_matches(&spec, event->type, event->survey, event->answers);
    enum webhook_format format = spec.format;
    webhook_spec_free(&spec);
    if (!matches)
        return;
    if (targets->count == targets->cap) {
        size_t cap = targets->cap ? targets->cap * 2 : 4;
        struct target *grown = realloc(targets->list, cap * sizeof *grown);
        if (grown == NULL) {
            targets->failed = true;
            return;
        }
        targets->list = grown;
        targets->cap = cap;
    }
    struct target *target = &targets->list[targets->count++];
    snprintf(target->id, sizeof target->id, "%s", row->id);
    target->format = format;
}

/* The Slack line of a response names its score by the definition's question types. */
static char *slack_response(const struct event *event)
{
    struct survey survey;
    bool loaded = api_load_survey(event->conn, event->survey, &survey, NULL) == STORE_OK;
    char *body = webhook_payload_slack_response(event->type, event->object, loaded ? &survey : NULL);
    if (loaded)
        survey_free(&survey);
    return body;
}

static char *render_standard(const struct event *event)
{
    cJSON *data;
    if (event->type == WEBHOOK_CUSTOMER_ERASED) {
        data = webhook_payload_erased_data(event->erased, event->deleted);
    } else {
        data = cJSON_CreateObject();
        cJSON *copy = cJSON_Duplicate(event->object, true);
        const char *name = event->type == WEBHOOK_SURVEY_UPDATED ? "survey" : "response";
        if (data == NULL || copy == NULL || !cJSON_AddItemToObject(data, name, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(data);
            return NULL;
        }
    }
    return webhook_payload_standard(event->type, event->at_ms, data);
}

static char *render(const struct event *event, enum webhook_format format)
{
    if (format == WEBHOOK_FORMAT_STANDARD)
        return render_standard(event);
    switch (event->type) {
    case WEBHOOK_SURVEY_UPDATED:
        return webhook_payload_slack_survey(event->survey);
    case WEBHOOK_CUSTOMER_ERASED:
        return webhook_payload_slack_erased(event->deleted);
    default:
        return slack_response(event);
    }
}

static enum store_status insert(struct store_conn *conn, struct event *event, const struct target *target,
                                const char *event_id)
{
    struct store_delivery_row row = {0};
    char suffix[IDS_RESPONSE_LEN + 1];
    unsigned f = target->format == WEBHOOK_FORMAT_SLACK ? 1 : 0;

    if (event->bodies[f] == NULL && (event->bodies[f] = render(event, target->format)) == NULL)
        return STORE_ERROR;
    if (!ids_new_response_id(suffix, event->at_ms))
        return STORE_ERROR;
    snprintf(row.id, sizeof row.id, "dlv_%s", suffix);
    snprintf(row.webhook, sizeof row.webhook, "%s", target->id);
    snprintf(row.event_id, sizeof row.event_id, "%s", event_id);
    row.type = (char *)webhook_event_name(event->type);
    row.survey = (char *)event->survey;
    row.subject = (char *)event->subject;
    row.customer = (char *)event->customer;
    row.payload = event->bodies[f];
    row.state = STORE_DELIVERY_PENDING;
    row.created_at = row.window_start = row.next_attempt_at = event->at_ms;
    return store_insert_delivery(conn, &row);
}

/* Lists, matches, renders and stores: one delivery per subscription, one event id for all. */
static enum store_status emit(struct store_conn *conn, struct webhook_sender *sender, struct event *event,
                              size_t *queued)
{
    struct targets targets = {.event = event};
    char suffix[IDS_RESPONSE_LEN + 1], event_id[32];

    event->conn = conn;
    *queued = 0;
    enum store_status status = store_list_webhooks(conn, collect, &targets);
    if (status == STORE_OK && targets.failed)
        status = STORE_ERROR;
    if (status == STORE_OK && targets.count > 0) {
        status = ids_new_response_id(suffix, event->at_ms) ? STORE_OK : STORE_ERROR;
        snprintf(event_id, sizeof event_id, "msg_%s", suffix);
    }
    for (size_t i = 0; status == STORE_OK && i < targets.count; i++) {
        /* At the cap the event is dropped for this subscription alone: the change itself stands. */
        if (webhook_sender_full(sender, targets.list[i].id)) {
            webhook_sender_count_dropped(sender, targets.list[i].id);
            continue;
        }
        status = insert(conn, event, &targets.list[i], event_id);
        *queued += status == STORE_OK;
    }
    free(targets.list);
    free(event->bodies[0]);
    free(event->bodies[1]);
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
    struct store_response_row row;
    *queued = 0;
    enum store_status status = store_get_response(conn, response_id, &row);

    if (status != STORE_OK)
        return status;
    /* Exactly what GET /v1/responses/{id} shows, from the same function. */
    cJSON *object = api_render_response(&row);
    struct event event = {
        .type = type,
        .at_ms = now_ms,
        .survey = row.survey,
        .subject = row.id,
        .customer = row.customer,
        .answers = cJSON_GetObjectItemCaseSensitive(object, "answers"),
        .object = object,
    };
    status = object ? emit(conn, sender, &event, queued) : STORE_ERROR;
    cJSON_Delete(object);
    store_response_row_free(&row);
    return status;
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
    struct store_survey_row row;
    *queued = 0;
    enum store_status status = store_get_survey(conn, survey, &row);

    if (status != STORE_OK)
        return status;
    cJSON *object = api_render_survey(&row);
    struct event event = {
        .type = WEBHOOK_SURVEY_UPDATED,
        .at_ms = now_ms,
        .survey = row.id,
        .subject = row.id,
        .object = object,
    };
    status = object ? emit(conn, sender, &event, queued) : STORE_ERROR;
    cJSON_Delete(object);
    store_survey_row_free(&row);
    return status;
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
    /* No survey, subject or customer column: the row must not look like the erased customer's
     * data, which the next erasure would remove; the id is in the body alone, and the store blanks
     * it once the event was delivered (store_finish_delivery). */
    struct event event = {
        .type = WEBHOOK_CUSTOMER_ERASED,
        .at_ms = now_ms,
        .erased = customer,
        .deleted = deleted,
    };
    return emit(conn, sender, &event, queued);
}
