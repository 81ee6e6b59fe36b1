/* Unit tests of survey definitions, response validation and time parsing (validate.c, timefmt.c):
 * every rule at its boundary, accepted and refused, with the exact field each error names. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"
#include "validate.h"

/* ---- helpers ---- */

static bool has_field(const struct validate_errors *errors, const char *field)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors->list)
    {
        if (strcmp(cJSON_GetObjectItem(e, "field")->valuestring, field) == 0)
            return true;
    }
    return false;
}

/* Parses text as a definition; returns whether it is valid and leaves the errors for inspection. */
static bool definition(const char *text, struct survey *out, struct validate_errors *errors)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    validate_errors_init(errors);
    bool ok = validate_definition("s1", json, out, errors);
    cJSON_Delete(json);
    return ok;
}

static void expect_definition_error(const char *text, const char *field)
{
    struct survey survey;
    struct validate_errors errors;
    ck_assert_msg(!definition(text, &survey, &errors), "accepted: %s", text);
    ck_assert_msg(has_field(&errors, field), "no error on %s for %s", field, text);
    validate_errors_free(&errors);
}

static void expect_definition_ok(const char *text)
{
    struct survey survey;
    struct validate_errors errors;
    ck_assert_msg(definition(text, &survey, &errors), "refused: %s", text);
    ck_assert_int_eq(errors.count, 0);
    survey_free(&survey);
    validate_errors_free(&errors);
}

#define Q(body) "{\"title\":\"T\",\"questions\":[" body "]}"

/* The survey the response tests validate against. */
static const char survey_text[] =
    "{\"title\":\"Support\",\"questions\":["
    "{\"id\":\"rec\",\"type\":\"nps\",\"required\":true},"
    "{\"id\":\"sat\",\"type\":\"csat\",\"scale\":2},"
    "{\"id\":\"sat5\",\"type\":\"csat\"},"
    "{\"id\":\"easy\",\"type\":\"ces\",\"scale\":5},"
    "{\"id\":\"fixed\",\"type\":\"yes_no\"},"
    "{\"id\":\"why\",\"type\":\"choice\",\"options\":[\"price\",\"speed\"],\"allow_other\":true},"
    "{\"id\":\"pick\",\"type\":\"choice\",\"options\":[\"a\"]},"
    "{\"id\":\"note\",\"type\":\"text\",\"max_length\":3}]}";

#define NOW_MS INT64_C(1795000000000) /* 2026-11-18T... */

static bool response(const char *text, struct response *out, struct validate_errors *errors)
{
    struct survey survey;
    struct validate_errors survey_errors;
    ck_assert(definition(survey_text, &survey, &survey_errors));
    validate_errors_free(&survey_errors);
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    validate_errors_init(errors);
    bool ok = validate_response(&survey, json, NOW_MS, out, errors);
    cJSON_Delete(json);
    survey_free(&survey);
    return ok;
}

static void expect_response_error(const char *text, const char *field)
{
    struct response r;
    struct validate_errors errors;
    ck_assert_msg(!response(text, &r, &errors), "accepted: %s", text);
    ck_assert_msg(has_field(&errors, field), "no error on %s for %s", field, text);
    validate_errors_free(&errors);
}

/* Validates and returns the stored answers JSON (caller frees). */
static char *stored_answers(const char *text)
{
    struct response r;
    struct validate_errors errors;
    ck_assert_msg(response(text, &r, &errors), "refused: %s", text);
    char *answers = strdup(r.answers_json);
    survey_response_free(&r);
    validate_errors_free(&errors);
    return answers;
}

static void expect_answers(const char *text, const char *expected)
{
    char *answers = stored_answers(text);
    ck_assert_str_eq(answers, expected);
    free(answers);
}

/* ---- definitions ---- */

START_TEST(test_definition_defaults)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert(definition(Q("{\"id\":\"a\",\"type\":\"csat\"},{\"id\":\"b\",\"type\":\"ces\"},"
                           "{\"id\":\"c\",\"type\":\"text\"},{\"id\":\"d\",\"type\":\"nps\"}"),
                         &s, &errors));
    ck_assert(!s.is_public);
    ck_assert_int_eq(s.questions[0].scale, 5);
    ck_assert_int_eq(s.questions[1].scale, 7);
    ck_assert_int_eq(s.questions[2].max_length, 2000);
    ck_assert(!s.questions[3].required);
    cJSON *normal = validate_definition_to_json(&s);
    char *text = cJSON_PrintUnformatted(normal);
    /* The normalised form validates again to the same normalised form. */
    struct survey again;
    struct validate_errors errors2;
    ck_assert(definition(text, &again, &errors2));
    cJSON *normal2 = validate_definition_to_json(&again);
    char *text2 = cJSON_PrintUnformatted(normal2);
    ck_assert_str_eq(text, text2);
    free(text);
    free(text2);
    cJSON_Delete(normal);
    cJSON_Delete(normal2);
    survey_free(&s);
    survey_free(&again);
    validate_errors_free(&errors);
    validate_errors_free(&errors2);
}
END_TEST

START_TEST(test_definition_ids)
{
    expect_definition_ok(Q("{\"id\":\"a\",\"type\":\"nps\"}"));
    expect_definition_ok(Q("{\"id\":\"9_x-y\",\"type\":\"nps\"}"));
    expect_definition_ok(Q("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"type\":\"nps\"}"));
    expect_definition_error(Q("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"type\":\"nps\"}"),
                            "questions[0].id");
    expect_definition_error(Q("{\"id\":\"_a\",\"type\":\"nps\"}"), "questions[0].id");
    expect_definition_error(Q("{\"id\":\"A\",\"type\":\"nps\"}"), "questions[0].id");
    expect_definition_error(Q("{\"id\":\"\",\"type\":\"nps\"}"), "questions[0].id");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"nps\"},{\"id\":\"a\",\"type\":\"ces\"}"), "questions[1].id");
}
END_TEST

START_TEST(test_definition_scales_and_types)
{
    static const int csat_ok[] = {2, 3, 4, 5, 6, 7, 10};
    char text[256];
    for (size_t i = 0; i < sizeof csat_ok / sizeof csat_ok[0]; i++) {
        snprintf(text, sizeof text, Q("{\"id\":\"a\",\"type\":\"csat\",\"scale\":%d}"), csat_ok[i]);
        expect_definition_ok(text);
    }
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"csat\",\"scale\":8}"), "questions[0].scale");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"csat\",\"scale\":1}"), "questions[0].scale");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"csat\",\"scale\":5.5}"), "questions[0].scale");
    expect_definition_ok(Q("{\"id\":\"a\",\"type\":\"ces\",\"scale\":5}"));
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"ces\",\"scale\":6}"), "questions[0].scale");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"nps\",\"scale\":10}"), "questions[0].scale");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"stars\"}"), "questions[0].type");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"text\",\"max_length\":10001}"), "questions[0].max_length");
    expect_definition_ok(Q("{\"id\":\"a\",\"type\":\"text\",\"max_length\":10000}"));
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"text\",\"max_length\":0}"), "questions[0].max_length");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"yes_no\",\"required\":\"yes\"}"), "questions[0].required");
}
END_TEST

START_TEST(test_definition_choice)
{
    expect_definition_ok(Q("{\"id\":\"a\",\"type\":\"choice\",\"options\":[\"x\"],\"allow_other\":true}"));
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"choice\",\"options\":[]}"), "questions[0].options");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"choice\"}"), "questions[0].options");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"choice\",\"options\":[\"x\",\"x\"]}"),
                            "questions[0].options[1]");
    expect_definition_error(Q("{\"id\":\"a\",\"type\":\"choice\",\"options\":[\"x\",\"\"]}"),
                            "questions[0].options[1]");
    /* 51 options */
    char text[1024] = "{\"title\":\"T\",\"questions\":[{\"id\":\"a\",\"type\":\"choice\",\"options\":[";
    for (int i = 0; i < 51; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\"o%d\"", i ? "," : "", i);
    strcat(text, "]}]}");
    expect_definition_error(text, "questions[0].options");
}
END_TEST

START_TEST(test_definition_body_rules)
{
    expect_definition_error("{\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "title");
    expect_definition_error("{\"title\":\"\",\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "title");
    expect_definition_error("{\"title\":\"T\",\"questions\":[]}", "questions");
    expect_definition_error("{\"title\":\"T\",\"public\":1,\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "public");
    expect_definition_error("{\"title\":\"T\",\"colour\":1,\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "colour");
    expect_definition_error("{\"title\":\"T\",\"title\":\"U\",\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "title");
    expect_definition_error("{\"title\":\"T\",\"id\":\"other\",\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}", "id");
    expect_definition_ok("{\"title\":\"T\",\"id\":\"s1\",\"created_at\":\"x\",\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}");
    expect_definition_ok("{\"title\":\"T\",\"allowed_origins\":[\"https://a.example\",\"http://localhost:8080\"],"
                         "\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}");
    expect_definition_error("{\"title\":\"T\",\"allowed_origins\":[\"https://a.example/path\"],"
                            "\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}",
                            "allowed_origins[0]");
    expect_definition_error("{\"title\":\"T\",\"allowed_origins\":[\"ftp://a\"],\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}",
                            "allowed_origins[0]");
    /* Every problem, not just the first. */
    struct survey s;
    struct validate_errors errors;
    ck_assert(!definition("{\"title\":5,\"public\":\"no\",\"questions\":[{\"id\":\"A\",\"type\":\"nps\"},"
                          "{\"id\":\"b\",\"type\":\"csat\",\"scale\":9}]}",
                          &s, &errors));
    ck_assert_int_eq(errors.count, 4);
    ck_assert(has_field(&errors, "title") && has_field(&errors, "public") && has_field(&errors, "questions[0].id") &&
              has_field(&errors, "questions[1].scale"));
    validate_errors_free(&errors);
}
END_TEST

/* ---- responses ---- */

/* throttle_days (0..365 days, or absent/null: the server's --throttle-days) and sample_rate (0..1,
 * 1 by default), at their boundaries, and how they are served back. */
static char *normalised_text(const char *text)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert_msg(definition(text, &s, &errors), "refused: %s", text);
    cJSON *normal = validate_definition_to_json(&s);
    char *out = cJSON_PrintUnformatted(normal);
    cJSON_Delete(normal);
    survey_free(&s);
    validate_errors_free(&errors);
    return out;
}

#define POLICY(fields) "{\"title\":\"T\"," fields "\"questions\":[{\"id\":\"a\",\"type\":\"nps\"}]}"

START_TEST(test_definition_invitation_policy)
{
    struct survey s;
    struct validate_errors errors;

    ck_assert(definition(POLICY(""), &s, &errors));
    ck_assert_int_eq(s.throttle_days, SURVEY_THROTTLE_DEFAULT);
    ck_assert(s.sample_rate == 1.0);
    survey_free(&s);
    validate_errors_free(&errors);
    ck_assert(definition(POLICY("\"throttle_days\":365,\"sample_rate\":0.25,"), &s, &errors));
    ck_assert_int_eq(s.throttle_days, 365);
    ck_assert(s.sample_rate == 0.25);
    survey_free(&s);
    validate_errors_free(&errors);

    expect_definition_ok(POLICY("\"throttle_days\":0,"));
    expect_definition_ok(POLICY("\"throttle_days\":7.0,"));
    expect_definition_ok(POLICY("\"throttle_days\":null,"));
    expect_definition_ok(POLICY("\"sample_rate\":0,"));
    expect_definition_ok(POLICY("\"sample_rate\":1,"));
    expect_definition_error(POLICY("\"throttle_days\":366,"), "throttle_days");
    expect_definition_error(POLICY("\"throttle_days\":-1,"), "throttle_days");
    expect_definition_error(POLICY("\"throttle_days\":1.5,"), "throttle_days");
    expect_definition_error(POLICY("\"throttle_days\":\"7\","), "throttle_days");
    expect_definition_error(POLICY("\"sample_rate\":1.0001,"), "sample_rate");
    expect_definition_error(POLICY("\"sample_rate\":-0.1,"), "sample_rate");
    expect_definition_error(POLICY("\"sample_rate\":null,"), "sample_rate");
    expect_definition_error(POLICY("\"sample_rate\":\"0.5\","), "sample_rate");
    expect_definition_error(POLICY("\"sample_rate\":1e400,"), "sample_rate");

    /* Served back: sample_rate always (its default filled in), throttle_days only when chosen, so
     * that a definition without it keeps following the server's default. */
    char *text = normalised_text(POLICY(""));
    ck_assert_ptr_nonnull(strstr(text, "\"sample_rate\":1"));
    ck_assert_ptr_null(strstr(text, "throttle_days"));
    free(text);
    text = normalised_text(POLICY("\"throttle_days\":0,\"sample_rate\":0.5,"));
    ck_assert_ptr_nonnull(strstr(text, "\"throttle_days\":0,\"sample_rate\":0.5"));
    free(text);
    text = normalised_text(POLICY("\"sample_rate\":-0,"));
    ck_assert_ptr_nonnull(strstr(text, "\"sample_rate\":0}"));
    free(text);
}
END_TEST

START_TEST(test_response_values_normalised)
{
    expect_answers("{\"answers\":{\"rec\":9}}", "{\"rec\":9}");
    expect_answers("{\"answers\":{\"rec\":9.0,\"sat\":\"good\"}}", "{\"rec\":9,\"sat\":2}");
    expect_answers("{\"answers\":{\"rec\":-0,\"sat\":\"bad\"}}", "{\"rec\":0,\"sat\":1}");
    expect_answers("{\"answers\":{\"note\":\"abc\",\"rec\":10}}", "{\"rec\":10,\"note\":\"abc\"}");
    expect_answers("{\"answers\":{\"rec\":1,\"why\":{\"other\":\"x\"},\"fixed\":false}}",
                   "{\"rec\":1,\"fixed\":false,\"why\":{\"other\":\"x\"}}");
    expect_answers("{\"answers\":{\"rec\":1,\"note\":\"\"}}", "{\"rec\":1}");    /* empty text is skipped */
    expect_answers("{\"answers\":{\"rec\":1,\"sat5\":null}}", "{\"rec\":1}");    /* null is skipped */
    expect_answers("{\"answers\":{\"rec\":1,\"note\":\"\u00e9\u00e9\u00e9\"}}", "{\"rec\":1,\"note\":\"\u00e9\u00e9\u00e9\"}");
}
END_TEST

START_TEST(test_response_ranges)
{
    expect_response_error("{\"answers\":{\"rec\":11}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":-1}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":9.5}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":1e400}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":1e20}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":\"9\"}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":1,\"sat\":3}}", "answers.sat");
    expect_response_error("{\"answers\":{\"rec\":1,\"sat\":\"great\"}}", "answers.sat");
    expect_response_error("{\"answers\":{\"rec\":1,\"sat5\":\"good\"}}", "answers.sat5");
    expect_response_error("{\"answers\":{\"rec\":1,\"sat5\":0}}", "answers.sat5");
    expect_response_error("{\"answers\":{\"rec\":1,\"easy\":6}}", "answers.easy");
    expect_response_error("{\"answers\":{\"rec\":1,\"fixed\":1}}", "answers.fixed");
    expect_response_error("{\"answers\":{\"rec\":1,\"why\":\"colour\"}}", "answers.why");
    expect_response_error("{\"answers\":{\"rec\":1,\"pick\":{\"other\":\"x\"}}}", "answers.pick");
    expect_response_error("{\"answers\":{\"rec\":1,\"why\":{\"other\":\"\"}}}", "answers.why");
    expect_response_error("{\"answers\":{\"rec\":1,\"note\":\"abcd\"}}", "answers.note");
    expect_response_error("{\"answers\":{\"rec\":1,\"note\":\"\u00e9\u00e9\u00e9\u00e9\"}}", "answers.note");
}
END_TEST

START_TEST(test_response_structure)
{
    expect_response_error("{\"answers\":{\"sat5\":4}}", "answers.rec");               /* required */
    expect_response_error("{\"answers\":{\"rec\":null}}", "answers.rec");
    expect_response_error("{\"answers\":{\"rec\":1,\"nope\":1}}", "answers.nope");
    expect_response_error("{\"answers\":{\"rec\":1,\"rec\":2}}", "answers.rec");       /* duplicate */
    expect_response_error("{\"answers\":[]}", "answers");
    expect_response_error("{}", "answers");
    expect_response_error("{\"answers\":{\"rec\":1},\"extra\":1}", "extra");
    expect_response_error("[1]", "");
}
END_TEST

START_TEST(test_response_metadata)
{
    struct response r;
    struct validate_errors errors;
    ck_assert(response("{\"answers\":{\"rec\":1},\"channel\":\"chat\",\"customer\":\"c\",\"agent\":\"a\","
                       "\"interaction\":\"t-1\",\"submitted_at\":\"2026-11-18T08:00:00+01:00\","
                       "\"properties\":{\"plan\":\"pro\"}}",
                       &r, &errors));
    ck_assert_str_eq(r.channel, "chat");
    ck_assert_str_eq(r.interaction, "t-1");
    ck_assert_str_eq(r.properties_json, "{\"plan\":\"pro\"}");
    int64_t expected;
    ck_assert(timefmt_parse_rfc3339("2026-11-18T07:00:00Z", &expected));
    ck_assert_int_eq(r.submitted_at, expected);
    ck_assert_int_eq(r.received_at, NOW_MS);
    survey_response_free(&r);
    validate_errors_free(&errors);

    ck_assert(response("{\"answers\":{\"rec\":1}}", &r, &errors));
    ck_assert_int_eq(r.submitted_at, NOW_MS); /* default now */
    ck_assert_ptr_null(r.channel);
    ck_assert_ptr_null(r.properties_json);
    survey_response_free(&r);
    validate_errors_free(&errors);

    expect_response_error("{\"answers\":{\"rec\":1},\"channel\":\"Chat\"}", "channel");
    expect_response_error("{\"answers\":{\"rec\":1},\"channel\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "channel");
    expect_response_error("{\"answers\":{\"rec\":1},\"customer\":\"\"}", "customer");
    expect_response_error("{\"answers\":{\"rec\":1},\"agent\":5}", "agent");
    expect_response_error("{\"answers\":{\"rec\":1},\"submitted_at\":\"yesterday\"}", "submitted_at");
    expect_response_error("{\"answers\":{\"rec\":1},\"properties\":{\"k\":1}}", "properties.k");
    expect_response_error("{\"answers\":{\"rec\":1},\"properties\":[]}", "properties");
}
END_TEST

START_TEST(test_response_future_bound)
{
    char text[160], when[TIMEFMT_BUFSIZE];
    struct response r;
    struct validate_errors errors;
    timefmt_format_ms(NOW_MS + 5 * 60 * 1000, when); /* exactly 5 minutes ahead: allowed */
    snprintf(text, sizeof text, "{\"answers\":{\"rec\":1},\"submitted_at\":\"%s\"}", when);
    ck_assert_msg(response(text, &r, &errors), "%s", text);
    survey_response_free(&r);
    validate_errors_free(&errors);
    timefmt_format_ms(NOW_MS + 5 * 60 * 1000 + 1, when);
    snprintf(text, sizeof text, "{\"answers\":{\"rec\":1},\"submitted_at\":\"%s\"}", when);
    expect_response_error(text, "submitted_at");
}
END_TEST

START_TEST(test_utf8_cut)
{
    ck_assert_int_eq(validate_utf8_cut("abc", 10), 3);
    ck_assert_int_eq(validate_utf8_cut("abc", 2), 2);
    ck_assert_int_eq(validate_utf8_cut("a\xc3\xa9", 2), 1); /* never splits é */
    ck_assert_int_eq(validate_utf8_cut("a\xc3\xa9", 3), 3);
    ck_assert_int_eq(validate_utf8_cut("\xe2\x82\xac\xe2\x82\xac", 4), 3);
}
END_TEST

/* ---- time ---- */

START_TEST(test_rfc3339)
{
    int64_t ms;
    ck_assert(timefmt_parse_rfc3339("1970-01-01T00:00:00Z", &ms) && ms == 0);
    ck_assert(timefmt_parse_rfc3339("1970-01-01t00:00:01.5z", &ms) && ms == 1500);
    ck_assert(timefmt_parse_rfc3339("1970-01-01T01:00:00+01:00", &ms) && ms == 0);
    ck_assert(timefmt_parse_rfc3339("2024-02-29T12:00:00.123456Z", &ms));
    char out[TIMEFMT_BUFSIZE];
    timefmt_format_ms(ms, out);
    ck_assert_str_eq(out, "2024-02-29T12:00:00.123Z");
    ck_assert(!timefmt_parse_rfc3339("2023-02-29T12:00:00Z", &ms));
    ck_assert(!timefmt_parse_rfc3339("2026-11-02T24:00:00Z", &ms));
    ck_assert(!timefmt_parse_rfc3339("2026-11-02T23:59:60Z", &ms)); /* leap seconds are not orderable */
    ck_assert(!timefmt_parse_rfc3339("2026-11-02T10:00:00", &ms));  /* no offset */
    ck_assert(!timefmt_parse_rfc3339("2026-11-02 10:00:00Z", &ms));
    ck_assert(!timefmt_parse_rfc3339("2026-11-02T10:00:00.Z", &ms));
    ck_assert(!timefmt_parse_rfc3339("2026-11-02T10:00:00Zjunk", &ms));
    ck_assert(timefmt_parse_date("2026-11-02", &ms));
    ck_assert(timefmt_parse_rfc3339("2026-11-02T00:00:00Z", &(int64_t){0}));
    int64_t midnight;
    timefmt_parse_rfc3339("2026-11-02T00:00:00Z", &midnight);
    ck_assert_int_eq(ms, midnight);
    timefmt_format_ms(-1, out);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_civil_days_round_trip)
{
    int64_t first = timefmt_days_from_civil(1, 1, 1), last = timefmt_days_from_civil(9999, 12, 31);
    int64_t year;
    unsigned month, day;
    for (int64_t d = first; d <= last; d++) {
        timefmt_civil_from_days(d, &year, &month, &day);
        ck_assert_int_eq(timefmt_days_from_civil(year, month, day), d);
    }
    ck_assert_int_eq(timefmt_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(timefmt_days_from_civil(2000, 3, 1), 11017);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("definitions");
    TCase *defs = tcase_create("definitions");
    TCase *responses = tcase_create("responses");
    TCase *time = tcase_create("time");

    tcase_add_test(defs, test_definition_defaults);
    tcase_add_test(defs, test_definition_ids);
    tcase_add_test(defs, test_definition_scales_and_types);
    tcase_add_test(defs, test_definition_choice);
    tcase_add_test(defs, test_definition_body_rules);
    tcase_add_test(defs, test_definition_invitation_policy);
    tcase_add_test(responses, test_response_values_normalised);
    tcase_add_test(responses, test_response_ranges);
    tcase_add_test(responses, test_response_structure);
    tcase_add_test(responses, test_response_metadata);
    tcase_add_test(responses, test_response_future_bound);
    tcase_add_test(responses, test_utf8_cut);
    tcase_add_test(time, test_rfc3339);
    tcase_add_test(time, test_civil_days_round_trip);
    tcase_set_timeout(time, 60);
    suite_add_tcase(suite, defs);
    suite_add_tcase(suite, responses);
    suite_add_tcase(suite, time);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
