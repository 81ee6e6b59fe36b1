/*
 * Unit tests for server/domain/topic_spec.c: topic bodies (every field problem, bad queries with
 * their code and position) and the pooled two-proportion z-test of the group_by=topic reply, against
 * figures computed in Python (math.erfc) from the formula in topic_spec.h.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "topic_matcher.h"
#include "topic_spec.h"

static enum topic_spec_status parse(const char *json, struct topic_spec *out, struct validate_errors *errors,
                                    struct text_query_error *qe)
{
    cJSON *body = cJSON_Parse(json);
    ck_assert_ptr_nonnull(body);
    validate_errors_init(errors);
    enum topic_spec_status status = topic_spec_parse(body, out, errors, qe);
    cJSON_Delete(body);
    return status;
}

static const char *first_field(const struct validate_errors *errors)
{
    const cJSON *first = cJSON_GetArrayItem(errors->list, 0);
    return cJSON_GetObjectItemCaseSensitive(first, "field")->valuestring;
}

START_TEST(valid_bodies)
{
    struct topic_spec spec;
    struct validate_errors errors;
    struct text_query_error qe;
    ck_assert_int_eq(parse("{\"title\": \"Refunds\", \"query\": \"refund OR \\\"money back\\\"\"}", &spec, &errors,
                           &qe),
                     TOPIC_SPEC_OK);
    ck_assert_str_eq(spec.title, "Refunds");
    ck_assert_str_eq(spec.query, "refund OR \"money back\"");
    ck_assert_ptr_nonnull(spec.parsed);
    const char *doc = "I want my Money-Back";
    ck_assert_int_eq(text_query_eval(spec.parsed, doc, strlen(doc)), 1);
    doc = "money, then back";
    ck_assert_int_eq(text_query_eval(spec.parsed, doc, strlen(doc)), 0);
    topic_spec_free(&spec);
    validate_errors_free(&errors);

    /* 200 code points of multi-byte text is within the limit. */
    char body[1024] = "{\"title\": \"";
    for (int i = 0; i < TOPIC_TITLE_MAX; i++)
        strcat(body, "\xC3\xA9");
    strcat(body, "\", \"query\": \"late\"}");
    ck_assert_int_eq(parse(body, &spec, &errors, &qe), TOPIC_SPEC_OK);
    topic_spec_free(&spec);
    validate_errors_free(&errors);
}
END_TEST

static void expect_invalid(const char *json, const char *field)
{
    struct topic_spec spec;
    struct validate_errors errors;
    struct text_query_error qe;
    ck_assert_msg(parse(json, &spec, &errors, &qe) == TOPIC_SPEC_INVALID, "%s was accepted", json);
    ck_assert_int_ge(errors.count, 1);
    ck_assert_str_eq(first_field(&errors), field);
    ck_assert_ptr_null(spec.title);
    ck_assert_ptr_null(spec.parsed);
    validate_errors_free(&errors);
}

START_TEST(invalid_bodies)
{
    expect_invalid("[]", "");
    expect_invalid("{\"query\": \"late\"}", "title");
    expect_invalid("{\"title\": \"Late\"}", "query");
    expect_invalid("{\"title\": 3, \"query\": \"late\"}", "title");
    expect_invalid("{\"title\": \"\", \"query\": \"late\"}", "title");
    expect_invalid("{\"title\": \"a\\nb\", \"query\": \"late\"}", "title");
    expect_invalid("{\"title\": \"Late\", \"query\": [\"late\"]}", "query");
    expect_invalid("{\"title\": \"Late\", \"query\": \"late\", \"colour\": \"red\"}", "colour");
    expect_invalid("{\"title\": \"Late\", \"query\": \"late\", \"title\": \"Again\"}", "title");
    char body[1024] = "{\"title\": \"";
    for (int i = 0; i <= TOPIC_TITLE_MAX; i++)
        strcat(body, "x");
    strcat(body, "\", \"query\": \"late\"}");
    expect_invalid(body, "title");
    /* Shape problems win over a bad query. */
    expect_invalid("{\"title\": 1, \"query\": \"(late\"}", "title");
}
END_TEST

static void expect_bad_query(const char *json, const char *code, size_t position)
{
    struct topic_spec spec;
    struct validate_errors errors;
    struct text_query_error qe;
    ck_assert_int_eq(parse(json, &spec, &errors, &qe), TOPIC_SPEC_BAD_QUERY);
    ck_assert_str_eq(qe.code, code);
    ck_assert_uint_eq(qe.position, position);
    ck_assert_int_eq(errors.count, 0);
    ck_assert_ptr_null(spec.parsed);
    validate_errors_free(&errors);
}

START_TEST(bad_queries)
{
    expect_bad_query("{\"title\": \"T\", \"query\": \"(late\"}", "invalid_query", 0);
    expect_bad_query("{\"title\": \"T\", \"query\": \"été OR\"}", "invalid_query", 4);
    expect_bad_query("{\"title\": \"T\", \"query\": \"\"}", "invalid_query", 0);
    char body[2048] = "{\"title\": \"T\", \"query\": \"";
    for (int i = 0; i <= TEXT_QUERY_MAX_TERMS; i++)
        strcat(body, "w ");
    strcat(body, "\"}");
    struct topic_spec spec;
    struct validate_errors errors;
    struct text_query_error qe;
    ck_assert_int_eq(parse(body, &spec, &errors, &qe), TOPIC_SPEC_BAD_QUERY);
    ck_assert_str_eq(qe.code, "query_too_complex");
    validate_errors_free(&errors);
}
END_TEST

static void expect_z(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double z, double p)
{
    double got_z, got_p;
    ck_assert(topic_z_test(k1, n1, k2, n2, &got_z, &got_p));
    ck_assert_msg(fabs(got_z - z) <= 1e-12 * fmax(1.0, fabs(z)), "z %.17g, expected %.17g", got_z, z);
    ck_assert_msg(fabs(got_p - p) <= 1e-9 * p, "p %.17g, expected %.17g", got_p, p);
}

START_TEST(z_test)
{
    expect_z(30, 100, 10, 120, 4.148850800277465, 3.341484949764089e-05);
    expect_z(5, 40, 5, 40, 0.0, 1.0);
    expect_z(1, 3, 0, 7, 1.6101529717988265, 0.10736446520661458);
    expect_z(250, 1000, 100, 2000, 16.086022125333272, 3.19731530366447e-58);
    /* Fewer among detractors: z is negative, the p-value the same as the mirror case. */
    expect_z(10, 120, 30, 100, -4.148850800277465, 3.341484949764089e-05);
    double z, p;
    ck_assert(!topic_z_test(0, 10, 0, 20, &z, &p));     /* nobody mentions it */
    ck_assert(!topic_z_test(10, 10, 20, 20, &z, &p));   /* everybody does */
    ck_assert(!topic_z_test(0, 0, 3, 20, &z, &p));      /* no detractors */
    ck_assert(!topic_z_test(3, 20, 0, 0, &z, &p));      /* no promoters */
    ck_assert(!topic_z_test(5, 4, 1, 20, &z, &p));      /* more mentions than responses */
}
END_TEST

/* The matcher every backend tags with: a query that no longer parses is left out (that topic tags
 * nothing), the others match as text_query_eval says, stemmed for the language given. */
START_TEST(matcher)
{
    struct topic_matcher m = {0};
    ck_assert(topic_matcher_add(&m, "refunds", "refund* OR \"money back\"", TEXT_LANGUAGE_NONE));
    ck_assert(topic_matcher_add(&m, "broken", "(refund", TEXT_LANGUAGE_NONE));
    ck_assert(topic_matcher_add(&m, "late", "late NOT apology", TEXT_LANGUAGE_NONE));
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.ids[0], "refunds");
    ck_assert_str_eq(m.ids[1], "late");
    static const struct {
        const char *doc;
        bool refunds, late;
    } cases[] = {
        {"I want my Refunds now", true, false},
        {"money\nback please, it came late", true, true},
        {"late, and no apology", false, false},
        {"back money", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool matched[2] = {true, true};
        ck_assert(topic_matcher_match(&m, cases[i].doc, strlen(cases[i].doc), matched));
        ck_assert_msg(matched[0] == cases[i].refunds && matched[1] == cases[i].late, "%s", cases[i].doc);
    }
    topic_matcher_free(&m);
    ck_assert_uint_eq(m.n, 0);

    /* Stemmed for English, "refunded" matches a topic about "refunding". */
    ck_assert(topic_matcher_add(&m, "r", "refunding", TEXT_LANGUAGE_ENGLISH));
    bool hit = false;
    ck_assert(topic_matcher_match(&m, "they refunded it", 16, &hit));
    ck_assert(hit);
    topic_matcher_free(&m);
}
END_TEST

static Suite *topic_spec_suite(void)
{
    Suite *s = suite_create("topic_spec");
    TCase *tc = tcase_create("topic_spec");
    tcase_add_test(tc, valid_bodies);
    tcase_add_test(tc, invalid_bodies);
    tcase_add_test(tc, bad_queries);
    tcase_add_test(tc, z_test);
    tcase_add_test(tc, matcher);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(topic_spec_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
