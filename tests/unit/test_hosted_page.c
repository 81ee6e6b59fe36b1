/*
 * Unit tests for the hosted survey page's pure parts: the HTML renderer (server/api/page_html.c),
 * automated-visit detection (server/domain/visit.c) and form decoding (server/http/http_form.c).
 * The page end to end (storage, CSRF, the 24 h window) is tested over HTTP in
 * tests/api/test_hosted_page.py and in Chromium in tests/browser/hosted-page.test.mjs.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "http_form.h"
#include "page_html.h"
#include "validate.h"
#include "visit.h"

#define NOW_MS INT64_C(1795000000000)
#define CHROME_UA "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

static struct survey parse_survey(const char *json)
{
    struct survey survey;
    struct validate_errors errors;
    cJSON *body = cJSON_Parse(json);
    ck_assert_ptr_nonnull(body);
    validate_errors_init(&errors);
    bool valid = validate_definition("support", body, &survey, &errors);
    char *why = cJSON_PrintUnformatted(errors.list);
    ck_assert_msg(valid, "definition refused: %s", why);
    free(why);
    validate_errors_free(&errors);
    cJSON_Delete(body);
    return survey;
}

static const char *SURVEY_JSON =
    "{\"title\": \"Tell us <how> we did\", \"questions\": ["
    "{\"id\": \"nps\", \"type\": \"nps\", \"required\": true},"
    "{\"id\": \"solved\", \"type\": \"yes_no\"},"
    "{\"id\": \"topic\", \"type\": \"choice\", \"options\": [\"Billing\", \"A \\\"quoted\\\" one\"], \"allow_other\": true},"
    "{\"id\": \"comment\", \"type\": \"text\", \"text\": \"Anything & everything?\"}]}";

static char *render(struct page_form *form)
{
    size_t len = 0;
    char *html = page_html_form(form, &len);
    ck_assert_ptr_nonnull(html);
    ck_assert_uint_eq(strlen(html), len);
    return html;
}

static struct page_form base_form(const struct survey *survey)
{
    return (struct page_form){.survey = survey, .action = "tok", .form_key = "k3y", .css_version = "c1",
                              .js_version = "j1"};
}

static int occurrences(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(test_form_is_accessible_markup)
{
    struct survey survey = parse_survey(SURVEY_JSON);
    struct page_form form = base_form(&survey);
    char *html = render(&form);

    ck_assert_ptr_nonnull(strstr(html, "<html lang=\"en\">"));
    ck_assert_ptr_nonnull(strstr(html, "<title>Tell us &lt;how&gt; we did</title>"));
    ck_assert_ptr_nonnull(strstr(html, "name=\"viewport\""));
    /* One fieldset and legend per question; every radio has a label for it. */
    ck_assert_int_eq(occurrences(html, "<fieldset"), 4);
    ck_assert_int_eq(occurrences(html, "<legend"), 4);
    ck_assert_int_eq(occurrences(html, "type=\"radio\""), 11 + 2 + 3);
    ck_assert_int_eq(occurrences(html, "<label class=\"sd-opt\" for=\"q-"), 11 + 2 + 3);
    ck_assert_ptr_nonnull(strstr(html, "for=\"q-nps-9\"><input type=\"radio\" name=\"nps\" id=\"q-nps-9\" value=\"9\">"));
    ck_assert_ptr_nonnull(strstr(html, "value=\"A &quot;quoted&quot; one\""));
    ck_assert_ptr_nonnull(strstr(html, "name=\"topic.other\""));
    ck_assert_ptr_nonnull(strstr(html, "Anything &amp; everything?"));
    ck_assert_ptr_nonnull(strstr(html, "<input type=\"hidden\" name=\"form_key\" value=\"k3y\">"));
    /* A scale is described by its end labels, as in the widget. */
    ck_assert_ptr_nonnull(strstr(html, "aria-describedby=\"q-nps-ends\">"));
    ck_assert_ptr_nonnull(strstr(html, "<div class=\"sd-ends\" id=\"q-nps-ends\"><span>Not likely</span>"));
    ck_assert_ptr_nonnull(strstr(html, "<form method=\"post\" action=\"tok\""));
    ck_assert_ptr_nonnull(strstr(html, "href=\"page.css?v=c1\""));
    ck_assert_ptr_nonnull(strstr(html, "src=\"page.js?v=j1\""));
    ck_assert_ptr_null(strstr(html, " checked"));
    ck_assert_ptr_null(strstr(html, "data-capture"));
    ck_assert_ptr_null(strstr(html, "style="));   /* the CSP allows no inline style */
    ck_assert_ptr_null(strstr(html, "<script>")); /* nor inline script */
    free(html);
    survey_free(&survey);
}
END_TEST

START_TEST(test_form_preselects_hides_and_shows_errors)
{
    struct survey survey = parse_survey(SURVEY_JSON);
    struct page_form form = base_form(&survey);
    form.capture_question = "nps";
    form.questions[0].value = "9";
    form.questions[1].hidden = true;
    form.questions[3].error = "must be at most 10 characters";
    form.questions[3].value = "<b>x</b>";
    char *html = render(&form);

    ck_assert_ptr_nonnull(strstr(html, "id=\"q-nps-9\" value=\"9\" checked>"));
    ck_assert_int_eq(occurrences(html, " checked"), 1);
    ck_assert_ptr_nonnull(strstr(html, "data-capture=\"nps\""));
    ck_assert_ptr_null(strstr(html, "name=\"solved\""));
    ck_assert_ptr_nonnull(strstr(html, "role=\"alert\""));
    ck_assert_ptr_nonnull(strstr(html, "<p class=\"sd-qerr\" id=\"q-comment-err\">must be at most 10 characters</p>"));
    ck_assert_ptr_nonnull(strstr(html, "aria-invalid=\"true\" aria-describedby=\"q-comment-err\""));
    ck_assert_ptr_nonnull(strstr(html, "&lt;b&gt;x&lt;/b&gt;</textarea>"));
    free(html);
    survey_free(&survey);
}
END_TEST

START_TEST(test_messages)
{
    size_t len = 0;
    for (int which = PAGE_THANKS; which <= PAGE_ERROR; which++) {
        char *html = page_html_message((enum page_message)which, "A & B", "c1", &len);
        ck_assert_ptr_nonnull(html);
        ck_assert_ptr_nonnull(strstr(html, "<html lang=\"en\">"));
        ck_assert_ptr_nonnull(strstr(html, "<title>A &amp; B</title>"));
        ck_assert_ptr_nonnull(strstr(html, "<h1"));
        ck_assert_ptr_null(strstr(html, "<script"));
        free(html);
    }
    char *html = page_html_message(PAGE_NOT_FOUND, NULL, "c1", &len);
    ck_assert_ptr_nonnull(strstr(html, "<title>Survey not found</title>"));
    free(html);
}
END_TEST

START_TEST(test_choice_values)
{
    struct survey survey = parse_survey(
        "{\"title\": \"T\", \"questions\": [{\"id\": \"n\", \"type\": \"nps\"}, {\"id\": \"c\", \"type\": \"csat\", \"scale\": 2},"
        "{\"id\": \"y\", \"type\": \"yes_no\"}, {\"id\": \"o\", \"type\": \"choice\", \"options\": [\"A\"]},"
        "{\"id\": \"t\", \"type\": \"text\"}]}");
    char buf[16];
    ck_assert_str_eq(page_html_choice_value(&survey.questions[0], "9", buf, sizeof buf), "9");
    ck_assert_str_eq(page_html_choice_value(&survey.questions[0], "0", buf, sizeof buf), "0");
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[0], "11", buf, sizeof buf));
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[0], "9x", buf, sizeof buf));
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[0], "", buf, sizeof buf));
    ck_assert_str_eq(page_html_choice_value(&survey.questions[1], "good", buf, sizeof buf), "2");
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[1], "3", buf, sizeof buf));
    ck_assert_str_eq(page_html_choice_value(&survey.questions[2], "yes", buf, sizeof buf), "true");
    ck_assert_str_eq(page_html_choice_value(&survey.questions[2], "false", buf, sizeof buf), "false");
    ck_assert_str_eq(page_html_choice_value(&survey.questions[3], "A", buf, sizeof buf), "A");
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[3], "B", buf, sizeof buf));
    ck_assert_ptr_null(page_html_choice_value(&survey.questions[4], "A", buf, sizeof buf));
    survey_free(&survey);
}
END_TEST

static struct visit_request person(void)
{
    return (struct visit_request){.method = "GET", .user_agent = CHROME_UA, .now_ms = NOW_MS};
}

START_TEST(test_visit_kinds)
{
    struct visit_request r = person();
    ck_assert_int_eq(visit_classify(&r), VISIT_PERSON);
    r.method = "HEAD";
    ck_assert_int_eq(visit_classify(&r), VISIT_HEAD);
    r = person();
    r.purpose = "prefetch";
    ck_assert_int_eq(visit_classify(&r), VISIT_PREFETCH);
    r = person();
    r.sec_purpose = "prefetch;prerender";
    ck_assert_int_eq(visit_classify(&r), VISIT_PREFETCH);
    r = person();
    r.x_purpose = "preview";
    ck_assert_int_eq(visit_classify(&r), VISIT_PREFETCH);
    r = person();
    r.x_moz = "prefetch";
    ck_assert_int_eq(visit_classify(&r), VISIT_PREFETCH);
    r = person();
    r.user_agent = NULL;
    ck_assert_int_eq(visit_classify(&r), VISIT_SCANNER);
    static const char *const scanners[] = {
        "Mozilla/5.0 (compatible; Barracuda Sentinel)", "Mimecast-URL-Protect", "Proofpoint URL Defense",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)", "Mozilla/5.0 (compatible; bingbot/2.0)",
        "Symantec MessageLabs", "Cisco IronPort", "TrendMicro", "Sophos", "Zscaler", "Googlebot/2.1",
        "Slackbot-LinkExpanding 1.0", "facebookexternalhit/1.1", "python-requests/2.31",
        "Mozilla/5.0 HeadlessChrome/120.0", "SafeLinks", "some Crawler", "a SPIDER", "LinkPreview/1"};
    for (size_t i = 0; i < sizeof scanners / sizeof scanners[0]; i++) {
        r = person();
        r.user_agent = scanners[i];
        ck_assert_msg(visit_classify(&r) == VISIT_SCANNER, "not a scanner: %s", scanners[i]);
    }
    static const char *const browsers[] = {
        CHROME_UA, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"};
    for (size_t i = 0; i < sizeof browsers / sizeof browsers[0]; i++)
        ck_assert_msg(!visit_scanner_agent(browsers[i]), "a browser taken for a scanner: %s", browsers[i]);
    ck_assert_str_eq(visit_kind_name(VISIT_BURST), "burst");
}
END_TEST

START_TEST(test_visit_burst)
{
    struct visit_request r = person();
    r.value = "9";
    ck_assert_int_eq(visit_classify(&r), VISIT_PERSON);  /* no earlier visit */
    r.last_visit_at = NOW_MS - 2000;
    r.last_visit_value = "8";
    ck_assert_int_eq(visit_classify(&r), VISIT_BURST);   /* another value 2 s later */
    r.last_visit_value = "9";
    ck_assert_int_eq(visit_classify(&r), VISIT_PERSON);  /* the same link again */
    r.last_visit_value = "8";
    r.last_visit_at = NOW_MS - VISIT_BURST_MS;
    ck_assert_int_eq(visit_classify(&r), VISIT_PERSON);  /* long enough apart */
    r.last_visit_at = NOW_MS - VISIT_BURST_MS + 1;
    ck_assert_int_eq(visit_classify(&r), VISIT_BURST);
    r.value = NULL;
    ck_assert_int_eq(visit_classify(&r), VISIT_PERSON);  /* the page without a value */
}
END_TEST

START_TEST(test_form_decoding)
{
    struct http_form form;
    const char *body = "form_key=abc&nps=9&comment=caf%C3%A9+%26+more%21&empty=&flag&&nps=3&bad=%zz%4";
    ck_assert_int_eq(http_form_parse(body, strlen(body), &form), HTTP_FORM_OK);
    ck_assert_int_eq(form.count, 7);
    ck_assert_str_eq(http_form_get(&form, "nps"), "9");
    ck_assert_int_eq(http_form_count(&form, "nps"), 2);
    ck_assert_str_eq(http_form_get(&form, "comment"), "caf\xc3\xa9 & more!");
    ck_assert_str_eq(http_form_get(&form, "empty"), "");
    ck_assert_str_eq(http_form_get(&form, "flag"), "");
    ck_assert_str_eq(http_form_get(&form, "bad"), "%zz%4");
    ck_assert_ptr_null(http_form_get(&form, "missing"));
    http_form_free(&form);

    ck_assert_int_eq(http_form_parse("a=%FF", 5, &form), HTTP_FORM_BAD_UTF8);
    http_form_free(&form);
    ck_assert_int_eq(http_form_parse("a=%00", 5, &form), HTTP_FORM_BAD_UTF8);
    http_form_free(&form);
    ck_assert_int_eq(http_form_parse("a=%ED%A0%80", 11, &form), HTTP_FORM_BAD_UTF8); /* a surrogate */
    http_form_free(&form);
    ck_assert_int_eq(http_form_parse("", 0, &form), HTTP_FORM_OK);
    ck_assert_int_eq(form.count, 0);
    http_form_free(&form);

    char many[HTTP_FORM_MAX_FIELDS * 4 + 8] = "";
    for (int i = 0; i <= HTTP_FORM_MAX_FIELDS; i++)
        strcat(many, "a=1&");
    ck_assert_int_eq(http_form_parse(many, strlen(many), &form), HTTP_FORM_TOO_MANY);
    http_form_free(&form);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("hosted_page");
    TCase *html = tcase_create("html");
    TCase *visits = tcase_create("visits");
    TCase *forms = tcase_create("forms");

    tcase_add_test(html, test_form_is_accessible_markup);
    tcase_add_test(html, test_form_preselects_hides_and_shows_errors);
    tcase_add_test(html, test_messages);
    tcase_add_test(html, test_choice_values);
    tcase_add_test(visits, test_visit_kinds);
    tcase_add_test(visits, test_visit_burst);
    tcase_add_test(forms, test_form_decoding);
    suite_add_tcase(suite, html);
    suite_add_tcase(suite, visits);
    suite_add_tcase(suite, forms);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
