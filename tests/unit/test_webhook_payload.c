/*
 * Unit tests for server/domain/webhook_payload.c: the Standard Webhooks body around an event's data,
 * and the Slack line a person reads (score bands, CSAT/CES, the first comment quoted, escaped and cut
 * on a character boundary, what is left out when a response lacks it).
 *
 * Expected lines are written out in full: a renderer that drifts in any character fails.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "webhook_payload.h"

/* 2026-11-18T02:30:00.000Z */
#define MS_2026_11_18_0230 INT64_C(1794969000000)

/* A survey with every scored type and two text questions (the first one is quoted). */
static const char *const definition =
    "{\"title\": \"Support\", \"questions\": ["
    "{\"id\": \"rec\", \"type\": \"nps\"},"
    "{\"id\": \"sat\", \"type\": \"csat\", \"scale\": 5},"
    "{\"id\": \"effort\", \"type\": \"ces\", \"scale\": 7},"
    "{\"id\": \"fixed\", \"type\": \"yes_no\"},"
    "{\"id\": \"why\", \"type\": \"text\"},"
    "{\"id\": \"more\", \"type\": \"text\"}]}";

static struct survey load(const char *text)
{
    struct survey survey;
    struct validate_errors errors;
    cJSON *body = cJSON_Parse(text);
    validate_errors_init(&errors);
    ck_assert_msg(validate_definition("support", body, &survey, &errors), "the test definition is invalid");
    validate_errors_free(&errors);
    cJSON_Delete(body);
    return survey;
}

/* A response as GET /v1/responses/{id} shows it, with answers (JSON text) and optional fields. */
static cJSON *response(const char *answers, const char *channel, const char *agent)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", "abcdefghijklmnopqrstuvwxyz");
    cJSON_AddStringToObject(r, "survey", "support");
    cJSON_AddItemToObject(r, "answers", cJSON_Parse(answers));
    if (channel)
        cJSON_AddStringToObject(r, "channel", channel);
    else
        cJSON_AddNullToObject(r, "channel");
    if (agent)
        cJSON_AddStringToObject(r, "agent", agent);
    else
        cJSON_AddNullToObject(r, "agent");
    cJSON_AddNullToObject(r, "customer");
    return r;
}

static void expect_line(enum webhook_event type, const char *answers, const char *channel, const char *agent,
                        const char *expected)
{
    struct survey survey = load(definition);
    cJSON *r = response(answers, channel, agent);
    char *line = webhook_payload_slack_response_text(type, r, &survey);
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line, expected);
    free(line);
    cJSON_Delete(r);
    survey_free(&survey);
}

/* The text member of a Slack body, which must hold nothing else. */
static char *slack_text(char *body)
{
    ck_assert_ptr_nonnull(body);
    cJSON *json = cJSON_Parse(body);
    ck_assert_ptr_nonnull(json);
    ck_assert_int_eq(cJSON_GetArraySize(json), 1);
    cJSON *text = cJSON_GetObjectItemCaseSensitive(json, "text");
    ck_assert(cJSON_IsString(text));
    char *out = strdup(text->valuestring);
    cJSON_Delete(json);
    free(body);
    return out;
}

START_TEST(test_standard_body)
{
    cJSON *data = cJSON_CreateObject();
    cJSON_AddItemToObject(data, "response", response("{\"rec\": 3}", "chat", NULL));
    char *body = webhook_payload_standard(WEBHOOK_RESPONSE_CREATED, MS_2026_11_18_0230, data);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body, "{\"type\":\"response.created\",\"timestamp\":\"2026-11-18T02:30:00.000Z\","
                           "\"data\":{\"response\":{\"id\":\"abcdefghijklmnopqrstuvwxyz\",\"survey\":\"support\","
                           "\"answers\":{\"rec\":3},\"channel\":\"chat\",\"agent\":null,\"customer\":null}}}");
    free(body);
}
END_TEST

START_TEST(test_standard_every_type_name)
{
    static const struct {
        enum webhook_event type;
        const char *name;
    } types[] = {{WEBHOOK_RESPONSE_CREATED, "response.created"}, {WEBHOOK_RESPONSE_UPDATED, "response.updated"},
                 {WEBHOOK_RESPONSE_DELETED, "response.deleted"}, {WEBHOOK_SURVEY_UPDATED, "survey.updated"},
                 {WEBHOOK_CUSTOMER_ERASED, "customer.erased"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char *body = webhook_payload_standard(types[i].type, 0, cJSON_CreateObject());
        cJSON *json = cJSON_Parse(body);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(json, "type")->valuestring, types[i].name);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(json, "timestamp")->valuestring, "1970-01-01T00:00:00.000Z");
        cJSON_Delete(json);
        free(body);
    }
}
END_TEST

START_TEST(test_standard_without_data)
{
    /* A body without its data must never be stored, and sent, as if it were whole. */
    ck_assert_ptr_null(webhook_payload_standard(WEBHOOK_RESPONSE_CREATED, 0, NULL));
}
END_TEST

START_TEST(test_erased_data_only_documented_fields)
{
    cJSON *data = webhook_payload_erased_data("cust-\"42\"", 3);
    char *body = webhook_payload_standard(WEBHOOK_CUSTOMER_ERASED, MS_2026_11_18_0230, data);
    ck_assert_str_eq(body, "{\"type\":\"customer.erased\",\"timestamp\":\"2026-11-18T02:30:00.000Z\","
                           "\"data\":{\"customer\":\"cust-\\\"42\\\"\",\"deleted_responses\":3}}");
    free(body);
}
END_TEST

START_TEST(test_nps_every_band)
{
    static const char *const expected[11] = {"Detractor", "Detractor", "Detractor", "Detractor", "Detractor",
                                             "Detractor", "Detractor", "Passive",   "Passive",   "Promoter",
                                             "Promoter"};
    for (int score = 0; score <= 10; score++) {
        char answers[32], line[160];
        snprintf(answers, sizeof answers, "{\"rec\": %d}", score);
        snprintf(line, sizeof line, "%s (%d) on support via chat, agent-7 (response abcdefghijklmnopqrstuvwxyz)",
                 expected[score], score);
        expect_line(WEBHOOK_RESPONSE_CREATED, answers, "chat", "agent-7", line);
    }
}
END_TEST

START_TEST(test_example_with_comment)
{
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"rec\": 3, \"why\": \"the comment\", \"more\": \"not this one\"}",
                "chat", "agent-7",
                "Detractor (3) on support via chat, agent-7: \"the comment\" (response abcdefghijklmnopqrstuvwxyz)");
}
END_TEST

START_TEST(test_csat_and_ces)
{
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"sat\": 2}", "email", NULL,
                "CSAT 2/5 on support via email (response abcdefghijklmnopqrstuvwxyz)");
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"effort\": 6}", NULL, NULL,
                "CES 6/7 on support (response abcdefghijklmnopqrstuvwxyz)");
    /* The first score in definition order is the one named. */
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"effort\": 6, \"sat\": 4}", NULL, NULL,
                "CSAT 4/5 on support (response abcdefghijklmnopqrstuvwxyz)");
}
END_TEST

START_TEST(test_without_score)
{
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"fixed\": true, \"more\": \"only the second text\"}", NULL, NULL,
                "Response on support: \"only the second text\" (response abcdefghijklmnopqrstuvwxyz)");
}
END_TEST

START_TEST(test_missing_channel_or_agent)
{
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"rec\": 9}", NULL, "agent-7",
                "Promoter (9) on support, agent-7 (response abcdefghijklmnopqrstuvwxyz)");
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"rec\": 9}", "", "",
                "Promoter (9) on support (response abcdefghijklmnopqrstuvwxyz)");
}
END_TEST

START_TEST(test_without_survey_definition)
{
    cJSON *r = response("{\"rec\": 3, \"why\": \"hm\"}", "chat", NULL);
    char *line = webhook_payload_slack_response_text(WEBHOOK_RESPONSE_CREATED, r, NULL);
    ck_assert_str_eq(line, "Response on support via chat (response abcdefghijklmnopqrstuvwxyz)");
    free(line);
    cJSON_Delete(r);
}
END_TEST

START_TEST(test_updated_and_deleted)
{
    expect_line(WEBHOOK_RESPONSE_UPDATED, "{\"rec\": 7}", "chat", NULL,
                "Updated: Passive (7) on support via chat (response abcdefghijklmnopqrstuvwxyz)");
    expect_line(WEBHOOK_RESPONSE_DELETED, "{\"rec\": 7, \"why\": \"private\"}", "chat", "agent-7",
                "Response abcdefghijklmnopqrstuvwxyz deleted on support");
}
END_TEST

START_TEST(test_slack_escaping)
{
    /* Slack's markup characters are escaped in everything respondents or backends wrote; JSON's
     * own escaping (quotes, backslashes, newlines) is cJSON's and round-trips. */
    expect_line(WEBHOOK_RESPONSE_CREATED, "{\"rec\": 0, \"why\": \"<!channel> & <http://x|y> \\\"q\\\"\\n\\\\\"}",
                "a<b", "c&d",
                "Detractor (0) on support via a&lt;b, c&amp;d: \"&lt;!channel&gt; &amp; &lt;http://x|y&gt; \"q\"\n\\\""
                " (response abcdefghijklmnopqrstuvwxyz)");
    struct survey survey = load(definition);
    cJSON *r = response("{\"rec\": 0, \"why\": \"\\\"quoted\\\"\\n\\u0001\"}", NULL, NULL);
    char *text = slack_text(webhook_payload_slack_response(WEBHOOK_RESPONSE_CREATED, r, &survey));
    ck_assert_str_eq(text, "Detractor (0) on support: \"\"quoted\"\n\001\" (response abcdefghijklmnopqrstuvwxyz)");
    free(text);
    cJSON_Delete(r);
    survey_free(&survey);
}
END_TEST

/* n copies of a UTF-8 character. */
static char *repeat(const char *ch, int n)
{
    size_t len = strlen(ch);
    char *out = malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(out + len * (size_t)i, ch, len);
    out[len * (size_t)n] = '\0';
    return out;
}

static void expect_cut(const char *ch, int given, int kept)
{
    char *comment = repeat(ch, given), *expected_comment = repeat(ch, kept);
    char answers[4096], expected[4096];
    snprintf(answers, sizeof answers, "{\"why\": \"%s\"}", comment);
    snprintf(expected, sizeof expected, "Response on support: \"%s%s\" (response abcdefghijklmnopqrstuvwxyz)",
             expected_comment, given > kept ? "…" : "");
    expect_line(WEBHOOK_RESPONSE_CREATED, answers, NULL, NULL, expected);
    free(comment);
    free(expected_comment);
}

START_TEST(test_comment_cut_on_characters)
{
    expect_cut("a", 300, 300);
    expect_cut("a", 301, 300);
    /* 2-, 3- and 4-byte characters: cut after 300 of them, never inside one. */
    expect_cut("é", 300, 300);
    expect_cut("é", 400, 300);
    expect_cut("€", 301, 300);
    expect_cut("😀", 500, 300);
}
END_TEST

START_TEST(test_survey_and_erased_bodies)
{
    char *text = slack_text(webhook_payload_slack_survey("support"));
    ck_assert_str_eq(text, "Survey support updated");
    free(text);
    text = slack_text(webhook_payload_slack_erased(3));
    ck_assert_str_eq(text, "Customer erased (3 responses)");
    free(text);
    text = slack_text(webhook_payload_slack_erased(1));
    ck_assert_str_eq(text, "Customer erased (1 response)");
    free(text);
    text = slack_text(webhook_payload_slack_erased(0));
    ck_assert_str_eq(text, "Customer erased (0 responses)");
    free(text);
}
END_TEST

START_TEST(test_slack_response_body_shape)
{
    struct survey survey = load(definition);
    cJSON *r = response("{\"rec\": 10}", "chat", "agent-7");
    char *text = slack_text(webhook_payload_slack_response(WEBHOOK_RESPONSE_CREATED, r, &survey));
    ck_assert_str_eq(text, "Promoter (10) on support via chat, agent-7 (response abcdefghijklmnopqrstuvwxyz)");
    free(text);
    cJSON_Delete(r);
    survey_free(&survey);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("webhook_payload");
    TCase *standard = tcase_create("standard");
    TCase *slack = tcase_create("slack");

    tcase_add_test(standard, test_standard_body);
    tcase_add_test(standard, test_standard_every_type_name);
    tcase_add_test(standard, test_standard_without_data);
    tcase_add_test(standard, test_erased_data_only_documented_fields);
    tcase_add_test(slack, test_nps_every_band);
    tcase_add_test(slack, test_example_with_comment);
    tcase_add_test(slack, test_csat_and_ces);
    tcase_add_test(slack, test_without_score);
    tcase_add_test(slack, test_missing_channel_or_agent);
    tcase_add_test(slack, test_without_survey_definition);
    tcase_add_test(slack, test_updated_and_deleted);
    tcase_add_test(slack, test_slack_escaping);
    tcase_add_test(slack, test_comment_cut_on_characters);
    tcase_add_test(slack, test_survey_and_erased_bodies);
    tcase_add_test(slack, test_slack_response_body_shape);
    suite_add_tcase(suite, standard);
    suite_add_tcase(suite, slack);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
