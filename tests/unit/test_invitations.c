/* Unit tests of invitations' pure parts: the throttling/sampling policy (invitation_policy.c),
 * the invitation body's validation, the email/SMS rendering (invitation_message.c) and the MIME
 * message (outbound/mail.c). */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit_token.h"
#include "invitation_message.h"
#include "invitation_policy.h"
#include "mail.h"
#include "validate.h"

#define DAY INVITATION_DAY_MS
#define NOW (1000 * DAY)

/* ---- policy ---- */

START_TEST(test_throttle)
{
    struct invitation_policy p = {7, 1.0};
    struct invitation_decision d = invitation_policy_decide(&p, 0.5, false, 0, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SEND);
    ck_assert_int_eq(d.eligible_at, 0);
    /* Contacted 7 days minus 1 ms ago: still throttled, eligible 1 ms from now. */
    d = invitation_policy_decide(&p, 0.5, true, NOW - 7 * DAY + 1, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_THROTTLED);
    ck_assert_int_eq(d.eligible_at, NOW + 1);
    /* Exactly 7 days: eligible again. */
    d = invitation_policy_decide(&p, 0.5, true, NOW - 7 * DAY, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SEND);
    /* 0 days: never throttled. */
    p.throttle_days = 0;
    d = invitation_policy_decide(&p, 0.5, true, NOW, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SEND);
    ck_assert_int_eq(invitation_policy_throttle_days(SURVEY_THROTTLE_DEFAULT, 7), 7);
    ck_assert_int_eq(invitation_policy_throttle_days(0, 7), 0);
    ck_assert_int_eq(invitation_policy_throttle_days(30, 7), 30);
}
END_TEST

START_TEST(test_sampling)
{
    struct invitation_policy p = {7, 0.5};
    struct invitation_decision d = invitation_policy_decide(&p, 0.5, false, 0, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SAMPLED_OUT);
    ck_assert_int_eq(d.eligible_at, 0);
    d = invitation_policy_decide(&p, 0.4999, false, 0, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SEND);
    /* Sampled out wins over throttled: such a customer is never eligible. */
    d = invitation_policy_decide(&p, 0.9, true, NOW, NOW);
    ck_assert_int_eq(d.verdict, INVITATION_SAMPLED_OUT);
    ck_assert_int_eq(d.eligible_at, 0);
    p.sample_rate = 0;
    ck_assert_int_eq(invitation_policy_decide(&p, 0.0, false, 0, NOW).verdict, INVITATION_SAMPLED_OUT);
    p.sample_rate = 1;
    ck_assert_int_eq(invitation_policy_decide(&p, 0.9999999999, false, 0, NOW).verdict, INVITATION_SEND);
}
END_TEST

/* The point is SHA-256("survey\0customer")'s first 53 bits over 2^53: the value below is
 * python3 -c 'import hashlib; h=hashlib.sha256(b"support\0ada").digest();
 *            print(int.from_bytes(h[:8],"big")>>11)'. */
START_TEST(test_sample_point)
{
    unsigned char hash[32];
    double point, again, other;
    ck_assert(edit_token_sha256("support\0ada", 11, hash));
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | hash[i];
    ck_assert(invitation_policy_sample_point("support", "ada", &point));
    ck_assert(point == (double)(v >> 11) / 9007199254740992.0);
    ck_assert(invitation_policy_sample_point("support", "ada", &again));
    ck_assert(point == again);
    ck_assert(point >= 0 && point < 1);
    /* The separator: ("support", "ada") is not ("suppor", "tada"). */
    ck_assert(invitation_policy_sample_point("suppor", "tada", &other));
    ck_assert(point != other);
    /* Roughly uniform: of 2000 customers, a rate of 0.3 takes about 600. */
    int in = 0;
    char customer[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(customer, sizeof customer, "c%d", i);
        ck_assert(invitation_policy_sample_point("s", customer, &point));
        in += point < 0.3;
    }
    ck_assert_msg(in > 520 && in < 680, "%d of 2000 in a 0.3 sample", in);
}
END_TEST

/* ---- the body ---- */

static bool invitation(const char *text, struct invitation_request *out, struct validate_errors *errors)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    validate_errors_init(errors);
    bool ok = validate_invitation(json, out, errors);
    cJSON_Delete(json);
    return ok;
}

static void expect_invitation_error(const char *text, const char *field)
{
    struct invitation_request r;
    struct validate_errors errors;
    ck_assert_msg(!invitation(text, &r, &errors), "accepted: %s", text);
    bool found = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, errors.list)
    {
        found |= strcmp(cJSON_GetObjectItem(e, "field")->valuestring, field) == 0;
    }
    ck_assert_msg(found, "no error on %s for %s", field, text);
    validate_errors_free(&errors);
}

START_TEST(test_body)
{
    struct invitation_request r;
    struct validate_errors errors;
    ck_assert(invitation("{\"customer\":\"c1\"}", &r, &errors));
    ck_assert_str_eq(r.customer, "c1");
    ck_assert_int_eq(r.expires_in_s, 7 * 86400);
    ck_assert_ptr_null(r.email);
    ck_assert_ptr_null(r.channel);
    survey_invitation_request_free(&r);
    validate_errors_free(&errors);
    ck_assert(invitation("{\"customer\":\"c1\",\"channel\":\"email\",\"agent\":\"a\",\"interaction\":\"t-1\","
                         "\"properties\":{\"k\":\"v\"},\"expires_in\":7776000,\"send\":{\"email\":\"ada@example.com\"}}",
                         &r, &errors));
    ck_assert_str_eq(r.channel, "email");
    ck_assert_str_eq(r.properties_json, "{\"k\":\"v\"}");
    ck_assert_int_eq(r.expires_in_s, 7776000);
    ck_assert_str_eq(r.email, "ada@example.com");
    survey_invitation_request_free(&r);
    validate_errors_free(&errors);

    expect_invitation_error("{}", "customer");
    expect_invitation_error("{\"customer\":\"\"}", "customer");
    expect_invitation_error("{\"customer\":5}", "customer");
    expect_invitation_error("{\"customer\":\"c\",\"expires_in\":59}", "expires_in");
    expect_invitation_error("{\"customer\":\"c\",\"expires_in\":7776001}", "expires_in");
    expect_invitation_error("{\"customer\":\"c\",\"expires_in\":60.5}", "expires_in");
    expect_invitation_error("{\"customer\":\"c\",\"channel\":\"E-mail\"}", "channel");
    expect_invitation_error("{\"customer\":\"c\",\"properties\":[]}", "properties");
    expect_invitation_error("{\"customer\":\"c\",\"send\":\"ada@example.com\"}", "send");
    expect_invitation_error("{\"customer\":\"c\",\"send\":{}}", "send.email");
    expect_invitation_error("{\"customer\":\"c\",\"send\":{\"email\":\"x\",\"cc\":1}}", "send.cc");
    expect_invitation_error("{\"customer\":\"c\",\"extra\":1}", "extra");
    expect_invitation_error("[]", "");
    ck_assert(validate_email_address("a.b+c@example.co.uk"));
    ck_assert(!validate_email_address("ada"));
    ck_assert(!validate_email_address("@example.com"));
    ck_assert(!validate_email_address("ada@"));
    ck_assert(!validate_email_address("ada@@example.com"));
    ck_assert(!validate_email_address("ada lovelace@example.com"));
    ck_assert(!validate_email_address("ada@example.com\r\nBcc: x@y.z"));
    ck_assert(!validate_email_address("<ada@example.com>"));
    ck_assert(!validate_email_address("ad\xc3\xa9@example.com"));
}
END_TEST

/* ---- rendering ---- */

static struct survey one_question(enum question_type type, int scale, const char *text)
{
    static char *options[] = {"Fast & friendly", "Slow"};
    static struct question q;
    struct survey s = {.title = "Support <team> & \"you\""};
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "q");
    q.type = type;
    q.scale = scale;
    q.text = (char *)text;
    if (type == QUESTION_CHOICE) {
        q.options = options;
        q.option_count = 2;
    }
    s.questions = &q;
    s.question_count = 1;
    return s;
}

static int count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

#define URL "https://s.example.com/s/abc"

START_TEST(test_html_nps)
{
    struct survey s = one_question(QUESTION_NPS, 10, "How <likely>?");
    char *html = invitation_message_html(&s, URL);
    ck_assert_ptr_nonnull(html);
    for (int v = 0; v <= 10; v++) {
        char link[80];
        snprintf(link, sizeof link, "href=\"" URL "?a=%d\"", v);
        ck_assert_msg(count(html, link) == 1, "link %d: %s", v, html);
    }
    ck_assert_int_eq(count(html, "?a="), 11);
    ck_assert_ptr_nonnull(strstr(html, "Support &lt;team&gt; &amp; &quot;you&quot;"));
    ck_assert_ptr_nonnull(strstr(html, "How &lt;likely&gt;?"));
    ck_assert_ptr_nonnull(strstr(html, "aria-label=\"0 (Not likely)\""));
    ck_assert_ptr_nonnull(strstr(html, "aria-label=\"10 (Very likely)\""));
    ck_assert_ptr_nonnull(strstr(html, ">10</a>"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<style"));
    ck_assert_ptr_null(strstr(html, "<link"));
    ck_assert_ptr_null(strstr(html, "class="));
    free(html);
}
END_TEST

START_TEST(test_html_scales_and_choices)
{
    struct survey s = one_question(QUESTION_CSAT, 5, NULL);
    char *html = invitation_message_html(&s, URL);
    ck_assert_int_eq(count(html, "?a="), 5);
    ck_assert_ptr_nonnull(strstr(html, "?a=1\""));
    ck_assert_ptr_nonnull(strstr(html, "?a=5\""));
    ck_assert_ptr_null(strstr(html, "?a=0\""));
    ck_assert_ptr_nonnull(strstr(html, "How satisfied are you?"));
    free(html);
    s = one_question(QUESTION_CES, 7, NULL);
    html = invitation_message_html(&s, URL);
    ck_assert_int_eq(count(html, "?a="), 7);
    free(html);
    s = one_question(QUESTION_YES_NO, 0, "Solved?");
    html = invitation_message_html(&s, URL);
    ck_assert_int_eq(count(html, "?a="), 2);
    ck_assert_ptr_nonnull(strstr(html, "?a=yes\""));
    ck_assert_ptr_nonnull(strstr(html, "?a=no\""));
    free(html);
    s = one_question(QUESTION_CHOICE, 0, "Why?");
    html = invitation_message_html(&s, URL);
    ck_assert_int_eq(count(html, "?a="), 2);
    ck_assert_ptr_nonnull(strstr(html, "?a=Fast%20%26%20friendly\""));
    ck_assert_ptr_nonnull(strstr(html, ">Fast &amp; friendly</a>"));
    free(html);
    s = one_question(QUESTION_TEXT, 0, NULL);
    html = invitation_message_html(&s, URL);
    ck_assert_int_eq(count(html, "?a="), 0);
    ck_assert_ptr_nonnull(strstr(html, "href=\"" URL "\""));
    ck_assert_ptr_nonnull(strstr(html, ">Answer</a>"));
    free(html);
}
END_TEST

START_TEST(test_text)
{
    struct survey s = one_question(QUESTION_NPS, 10, NULL);
    char *text = invitation_message_text(&s, URL);
    ck_assert_str_eq(text, "Support <team> & \"you\"\nHow likely are you to recommend us to a friend or colleague?\n" URL "\n");
    free(text);
}
END_TEST

/* ---- the MIME message ---- */

START_TEST(test_mail)
{
    struct mail m = {"surveys@example.com", "ada@example.org", "Caf\xc3\xa9 survey", "hello\n", "<p>hi</p>", "inv1",
                     1764500000000LL};
    size_t len = 0;
    char *msg = mail_compose(&m, &len);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(len, strlen(msg));
    ck_assert_ptr_nonnull(strstr(msg, "Date: Sun, 30 Nov 2025 10:53:20 +0000\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "From: surveys@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "To: ada@example.org\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "Subject: =?UTF-8?B?Q2Fmw6kgc3VydmV5?=\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "Message-ID: <inv1."));
    ck_assert_ptr_nonnull(strstr(msg, "@example.com>\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "MIME-Version: 1.0\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: multipart/alternative; boundary=\"surveyd-"));
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/plain; charset=UTF-8"));
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/html; charset=UTF-8"));
    ck_assert_ptr_nonnull(strstr(msg, "aGVsbG8K\r\n")); /* "hello\n" */
    /* Every line CRLF-terminated and at most 78 characters. */
    for (const char *line = msg; *line;) {
        const char *end = strstr(line, "\r\n");
        ck_assert_ptr_nonnull(end);
        ck_assert_msg(end - line <= 78, "a line of %d characters", (int)(end - line));
        ck_assert_ptr_null(memchr(line, '\n', (size_t)(end - line)));
        line = end + 2;
    }
    free(msg);

    /* A long title: several encoded words, none splitting a character (é is 2 bytes). */
    char title[401];
    for (int i = 0; i < 200; i++)
        memcpy(title + 2 * i, "\xc3\xa9", 2);
    title[400] = '\0';
    m.subject = title;
    msg = mail_compose(&m, &len);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_ge(count(msg, "=?UTF-8?B?"), 9);
    for (const char *line = msg; *line;) {
        const char *end = strstr(line, "\r\n");
        ck_assert_msg(end - line <= 78, "a line of %d characters", (int)(end - line));
        line = end + 2;
    }
    free(msg);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("invitations");
    TCase *policy = tcase_create("policy");
    TCase *message = tcase_create("message");

    if (!edit_token_init())
        return 1;
    tcase_add_test(policy, test_throttle);
    tcase_add_test(policy, test_sampling);
    tcase_add_test(policy, test_sample_point);
    tcase_add_test(policy, test_body);
    tcase_add_test(message, test_html_nps);
    tcase_add_test(message, test_html_scales_and_choices);
    tcase_add_test(message, test_text);
    tcase_add_test(message, test_mail);
    suite_add_tcase(suite, policy);
    suite_add_tcase(suite, message);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    edit_token_cleanup();
    return failed == 0 ? 0 : 1;
}
