/* response_text: the document search, topics and terms read, from a validated response and from its
 * stored answers; both forms must give the same text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response_text.h"
#include "validate.h"

static const char *definition =
    "{\"title\":\"t\",\"questions\":["
    "{\"id\":\"nps\",\"type\":\"nps\"},"
    "{\"id\":\"why\",\"type\":\"text\"},"
    "{\"id\":\"via\",\"type\":\"choice\",\"options\":[\"web\",\"app\"],\"allow_other\":true},"
    "{\"id\":\"more\",\"type\":\"text\"}]}";

static void load_survey(struct survey *survey)
{
    cJSON *body = cJSON_Parse(definition);
    struct validate_errors errors;
    validate_errors_init(&errors);
    ck_assert(validate_definition("s", body, survey, &errors));
    validate_errors_free(&errors);
    cJSON_Delete(body);
}

/* Both forms of answers_json's text; *stored_out and *direct_out malloc'd or NULL. */
static void both_forms(const char *answers, char **direct_out, char **stored_out)
{
    struct survey survey;
    load_survey(&survey);
    char body_text[1024];
    snprintf(body_text, sizeof body_text, "{\"answers\":%s}", answers);
    cJSON *body = cJSON_Parse(body_text);
    ck_assert_ptr_nonnull(body);
    struct validate_errors errors;
    validate_errors_init(&errors);
    struct response response;
    ck_assert(validate_response(&survey, body, 1700000000000, &response, &errors));
    validate_errors_free(&errors);

    size_t direct_len = 99, stored_len = 99;
    ck_assert(response_text(&survey, &response, direct_out, &direct_len));
    cJSON *stored = cJSON_Parse(response.answers_json);
    ck_assert(response_text_stored(&survey, stored, stored_out, &stored_len));
    ck_assert_uint_eq(direct_len, *direct_out ? strlen(*direct_out) : 0);
    ck_assert_uint_eq(stored_len, *stored_out ? strlen(*stored_out) : 0);
    cJSON_Delete(stored);
    survey_response_free(&response);
    cJSON_Delete(body);
    survey_free(&survey);
}

START_TEST(question_order_and_write_ins)
{
    char *direct, *stored;
    /* Given out of order: the document follows the survey's questions, write-in included. */
    both_forms("{\"more\":\"Second part\",\"nps\":3,\"via\":{\"other\":\"the phone\"},\"why\":\"Crème brûlée\"}",
               &direct, &stored);
    ck_assert_str_eq(direct, "Crème brûlée\nthe phone\nSecond part");
    ck_assert_str_eq(stored, direct);
    free(direct);
    free(stored);
}
END_TEST

START_TEST(no_text_is_null)
{
    char *direct, *stored;
    both_forms("{\"nps\":9,\"via\":\"app\"}", &direct, &stored);
    ck_assert_ptr_null(direct);
    ck_assert_ptr_null(stored);
}
END_TEST

START_TEST(stored_answers_of_other_types_are_left_out)
{
    struct survey survey;
    load_survey(&survey);
    /* "why" stored as a number (a question whose type changed) and an unknown question: no text. */
    cJSON *answers = cJSON_Parse("{\"why\":4,\"gone\":\"old text\",\"via\":{\"other\":\"fax\"}}");
    char *text;
    ck_assert(response_text_stored(&survey, answers, &text, NULL));
    ck_assert_str_eq(text, "fax");
    free(text);
    cJSON_Delete(answers);
    survey_free(&survey);
}
END_TEST

static Suite *response_text_suite(void)
{
    Suite *s = suite_create("response_text");
    TCase *tc = tcase_create("document");
    tcase_add_test(tc, question_order_and_write_ins);
    tcase_add_test(tc, no_text_is_null);
    tcase_add_test(tc, stored_answers_of_other_types_are_left_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(response_text_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
