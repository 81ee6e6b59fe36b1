/* The bodies a webhook delivery posts (README "Webhooks", docs/webhooks.md). Pure: JSON in, text
 * out; the caller (api/webhook_events.c) reads the objects and stores the result.
 *
 * Standard: {"type": "response.created", "timestamp": "<RFC 3339 UTC, ms>", "data": {...}} where data
 * is {"response": <GET /v1/responses/{id}>}, {"survey": <GET /v1/surveys/{id}>} or
 * {"customer": id, "deleted_responses": n}.
 *
 * Slack (and Mattermost) incoming webhooks: {"text": "..."} and nothing else, one line a person reads
 * in a channel: "Detractor (3) on support via chat, agent-7: \"the comment\" (response <id>)". Text
 * that came from respondents or backends (comments, channels, agents) has Slack's control
 * characters escaped (& < > as &amp; &lt; &gt;), so a comment can't mention @channel or forge a link. */
#ifndef SURVEYD_WEBHOOK_PAYLOAD_H
#define SURVEYD_WEBHOOK_PAYLOAD_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "survey.h"
#include "webhook_spec.h"

/* The first text answer is cut to this many characters (code points), with "…" after it. */
#define WEBHOOK_PAYLOAD_COMMENT_MAX 300

/* The Standard body around data (owned from here on, even on failure). malloc'd; NULL when out of
 * memory. */
char *webhook_payload_standard(enum webhook_event type, int64_t at_ms, cJSON *data);

/* {"customer": customer, "deleted_responses": deleted}: the whole of a customer.erased event's data. */
cJSON *webhook_payload_erased_data(const char *customer, int64_t deleted);

/* Slack bodies. response is the object GET /v1/responses/{id} returns (as it was before a
 * deletion); survey its definition for the question types and scales (NULL: no score is named).
 * malloc'd; NULL when out of memory. */
char *webhook_payload_slack_response(enum webhook_event type, const cJSON *response, const struct survey *survey);
char *webhook_payload_slack_survey(const char *survey);
char *webhook_payload_slack_erased(int64_t deleted);

/* The Slack line alone, without the JSON around it (for tests and logs). */
char *webhook_payload_slack_response_text(enum webhook_event type, const cJSON *response,
                                          const struct survey *survey);

#endif
