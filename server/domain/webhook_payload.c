#include "webhook_payload.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_buffer.h"
#include "timefmt.h"

char *webhook_payload_standard(enum webhook_event type, int64_t at_ms, cJSON *data)
{
    char when[TIMEFMT_BUFSIZE];
    cJSON *body = cJSON_CreateObject();
    const char *name = webhook_event_name(type);
    char *text = NULL;

    timefmt_format_ms(at_ms, when);
    /* Each member is checked: a body missing its data would still print, and be sent. */
    if (body == NULL || data == NULL || name == NULL || !cJSON_AddStringToObject(body, "type", name) ||
        !cJSON_AddStringToObject(body, "timestamp", when))
        goto done;
    if (!cJSON_AddItemToObject(body, "data", data))
        goto done;
    data = NULL;
    text = cJSON_PrintUnformatted(body);
done:
    cJSON_Delete(data);
    cJSON_Delete(body);
    return text;
}

cJSON *webhook_payload_erased_data(const char *customer, int64_t deleted)
{
    cJSON *data = cJSON_CreateObject();
    if (data == NULL || !cJSON_AddStringToObject(data, "customer", customer) ||
        !cJSON_AddNumberToObject(data, "deleted_responses", (double)deleted)) {
        cJSON_Delete(data);
        return NULL;
    }
    return data;
}

/* {"text": text}, taking text. */
static char *slack_body(char *text)
{
    cJSON *body = cJSON_CreateObject();
    char *out = NULL;

    if (text && body && cJSON_AddStringToObject(body, "text", text))
        out = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    free(text);
    return out;
}

/* Slack reads &, < and > as markup (<!channel>, <url|label>); everything else is plain text. */
static void put_slack(struct text_buffer *t, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : NULL;
        if (entity == NULL)
            continue;
        text_buffer_append(t, s + start, i - start);
        text_buffer_put(t, entity);
        start = i + 1;
    }
    text_buffer_append(t, s + start, n - start);
}

/* Bytes in the first max code points of s (valid UTF-8, as every stored text is). */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t i = 0, points = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && points++ == max)
            break;
    }
    return i;
}

static const char *string_member(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) && item->valuestring[0] ? item->valuestring : NULL;
}

static const char *nps_band(int64_t value)
{
    return value <= 6 ? "Detractor" : value <= 8 ? "Passive" : "Promoter";
}

/* The first score answered, in definition order: "Detractor (3)", "CSAT 2/5", "CES 6/7"; else
 * "Response". */
static void put_score(struct text_buffer *t, const cJSON *answers, const struct survey *survey)
{
    for (int i = 0; survey && i < survey->question_count; i++) {
        const struct question *q = &survey->questions[i];
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(answers, q->id);
        if (!cJSON_IsNumber(value) || (q->type != QUESTION_NPS && q->type != QUESTION_CSAT && q->type != QUESTION_CES))
            continue;
        int64_t n = (int64_t)value->valuedouble;
        if (q->type == QUESTION_NPS)
            text_buffer_printf(t, "%s (%" PRId64 ")", nps_band(n), n);
        else
            text_buffer_printf(t, "%s %" PRId64 "/%d", q->type == QUESTION_CSAT ? "CSAT" : "CES", n, q->scale);
        return;
    }
    text_buffer_put(t, "Response");
}

/* The first text answer, quoted and cut: what a person in the channel wants to read. */
static void put_comment(struct text_buffer *t, const cJSON *answers, const struct survey *survey)
{
    for (int i = 0; survey && i < survey->question_count; i++) {
        const struct question *q = &survey->questions[i];
        const char *text = q->type == QUESTION_TEXT ? string_member(answers, q->id) : NULL;
        if (text == NULL)
            continue;
        size_t n = utf8_prefix(text, WEBHOOK_PAYLOAD_COMMENT_MAX);
        text_buffer_put(t, ": \"");
        put_slack(t, text, n);
        text_buffer_put(t, text[n] ? "…\"" : "\"");
        return;
    }
}

char *webhook_payload_slack_response_text(enum webhook_event type, const cJSON *response,
                                          const struct survey *survey)
{
    struct text_buffer t = {0};
    const char *id = string_member(response, "id");
    const char *survey_id = string_member(response, "survey");
    const char *channel = string_member(response, "channel");
    const char *agent = string_member(response, "agent");
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(response, "answers");

    if (id == NULL || survey_id == NULL)
        return NULL;
    if (type == WEBHOOK_RESPONSE_DELETED) {
        text_buffer_put(&t, "Response ");
        put_slack(&t, id, strlen(id));
        text_buffer_put(&t, " deleted on ");
        put_slack(&t, survey_id, strlen(survey_id));
        return text_buffer_finish(&t, NULL);
    }
    if (type == WEBHOOK_RESPONSE_UPDATED)
        text_buffer_put(&t, "Updated: ");
    put_score(&t, answers, survey);
    text_buffer_put(&t, " on ");
    put_slack(&t, survey_id, strlen(survey_id));
    if (channel) {
        text_buffer_put(&t, " via ");
        put_slack(&t, channel, strlen(channel));
    }
    if (agent) {
        text_buffer_put(&t, ", ");
        put_slack(&t, agent, strlen(agent));
    }
    put_comment(&t, answers, survey);
    text_buffer_put(&t, " (response ");
    put_slack(&t, id, strlen(id));
    text_buffer_put(&t, ")");
    return text_buffer_finish(&t, NULL);
}

char *webhook_payload_slack_response(enum webhook_event type, const cJSON *response, const struct survey *survey)
{
    return slack_body(webhook_payload_slack_response_text(type, response, survey));
}

char *webhook_payload_slack_survey(const char *survey)
{
    struct text_buffer t = {0};
    text_buffer_put(&t, "Survey ");
    put_slack(&t, survey, strlen(survey));
    text_buffer_put(&t, " updated");
    return slack_body(text_buffer_finish(&t, NULL));
}

char *webhook_payload_slack_erased(int64_t deleted)
{
    struct text_buffer t = {0};
    text_buffer_printf(&t, "Customer erased (%" PRId64 " response%s)", deleted, deleted == 1 ? "" : "s");
    return slack_body(text_buffer_finish(&t, NULL));
}
