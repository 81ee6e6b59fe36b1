/* Unit tests of webhooks' pure parts and the save-time SSRF guard: the subscription body
 * (webhook_spec.c), which addresses are private (net_address.c), and the URL check
 * (outbound/webhook_target.c, with literal addresses and "localhost" only: no other DNS). */
#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_address.h"
#include "validate.h"
#include "webhook_spec.h"
#include "webhook_target.h"

/* ---- helpers ---- */

/* Parses body text; returns the error list printed (caller frees) or NULL when valid. */
static char *parse_errors(const char *text, struct webhook_spec *spec)
{
    cJSON *body = cJSON_Parse(text);
    ck_assert_msg(body != NULL, "test body does not parse: %s", text);
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool ok = webhook_spec_parse(body, spec, &errors);
    cJSON_Delete(body);
    char *printed = NULL;
    if (!ok) {
        ck_assert_int_gt(errors.count, 0);
        printed = cJSON_PrintUnformatted(errors.list);
    } else {
        ck_assert_int_eq(errors.count, 0);
    }
    validate_errors_free(&errors);
    return printed;
}

/* Asserts the body is refused with an error on field (and the message containing what, if given). */
static void assert_refused(const char *text, const char *field, const char *what)
{
    struct webhook_spec spec;
    char *printed = parse_errors(text, &spec);
    ck_assert_msg(printed != NULL, "accepted: %s", text);
    char needle[200];
    snprintf(needle, sizeof needle, "\"field\":\"%s\"", field);
    ck_assert_msg(strstr(printed, needle) != NULL, "no error on %s for %s: %s", field, text, printed);
    if (what)
        ck_assert_msg(strstr(printed, what) != NULL, "no '%s' for %s: %s", what, text, printed);
    ck_assert_ptr_null(spec.url);
    ck_assert_ptr_null(spec.surveys);
    free(printed);
}

static void assert_accepted(const char *text, struct webhook_spec *spec)
{
    char *printed = parse_errors(text, spec);
    ck_assert_msg(printed == NULL, "refused: %s: %s", text, printed ? printed : "");
}

#define OK_URL "\"url\": \"https://hooks.example.com/in\""

/* ---- webhook_spec ---- */

START_TEST(test_event_names)
{
    enum webhook_event e;
    ck_assert(webhook_event_parse("response.created", &e));
    ck_assert_int_eq(e, WEBHOOK_RESPONSE_CREATED);
    ck_assert(webhook_event_parse("customer.erased", &e));
    ck_assert_int_eq(e, WEBHOOK_CUSTOMER_ERASED);
    ck_assert(!webhook_event_parse("response.*", &e));
    ck_assert(!webhook_event_parse("Response.created", &e));
    ck_assert(!webhook_event_parse(NULL, &e));
    for (unsigned bit = 1; bit <= WEBHOOK_CUSTOMER_ERASED; bit <<= 1) {
        const char *name = webhook_event_name((enum webhook_event)bit);
        ck_assert_ptr_nonnull(name);
        ck_assert(webhook_event_parse(name, &e));
        ck_assert_uint_eq((unsigned)e, bit);
    }
    ck_assert_ptr_null(webhook_event_name((enum webhook_event)0));
    ck_assert_ptr_null(webhook_event_name((enum webhook_event)3));
}
END_TEST

START_TEST(test_parse_minimal_and_defaults)
{
    struct webhook_spec spec;
    assert_accepted("{" OK_URL ", \"events\": [\"response.created\"]}", &spec);
    ck_assert_str_eq(spec.url, "https://hooks.example.com/in");
    ck_assert_uint_eq(spec.events, WEBHOOK_RESPONSE_CREATED);
    ck_assert_ptr_null(spec.surveys);
    ck_assert_uint_eq(spec.survey_count, 0);
    ck_assert(!spec.filter.set);
    ck_assert_int_eq(spec.format, WEBHOOK_FORMAT_STANDARD);
    ck_assert(spec.enabled);
    webhook_spec_free(&spec);

    assert_accepted("{\"url\": \"http://[2001:db8::1]:8080/x?a=b\", \"events\": [\"survey.updated\"], "
                    "\"format\": \"slack\", \"enabled\": false, \"surveys\": null, \"filter\": null}", &spec);
    ck_assert_int_eq(spec.format, WEBHOOK_FORMAT_SLACK);
    ck_assert(!spec.enabled);
    webhook_spec_free(&spec);
}
END_TEST

START_TEST(test_parse_normalises)
{
    struct webhook_spec spec;
    assert_accepted("{" OK_URL ", \"events\": [\"survey.updated\", \"response.created\", \"survey.updated\"], "
                    "\"surveys\": [\"support\", \"checkout\", \"support\", \"billing\"]}", &spec);
    ck_assert_uint_eq(spec.events, WEBHOOK_SURVEY_UPDATED | WEBHOOK_RESPONSE_CREATED);
    ck_assert_uint_eq(spec.survey_count, 3);
    ck_assert_str_eq(spec.surveys[0], "billing");
    ck_assert_str_eq(spec.surveys[1], "checkout");
    ck_assert_str_eq(spec.surveys[2], "support");

    struct webhook_spec_texts texts;
    ck_assert(webhook_spec_to_stored(&spec, &texts));
    ck_assert_str_eq(texts.events, "[\"response.created\",\"survey.updated\"]");
    ck_assert_str_eq(texts.surveys, "[\"billing\",\"checkout\",\"support\"]");
    ck_assert_ptr_null(texts.filter);
    ck_assert_str_eq(texts.format, "standard");
    webhook_spec_texts_free(&texts);
    webhook_spec_free(&spec);

    /* Every event, listed in any order, stores alphabetically. */
    assert_accepted("{" OK_URL ", \"events\": [\"survey.updated\", \"response.updated\", \"response.deleted\", "
                    "\"customer.erased\", \"response.created\"]}", &spec);
    ck_assert_uint_eq(spec.events, WEBHOOK_EVENTS_ALL);
    ck_assert(webhook_spec_to_stored(&spec, &texts));
    ck_assert_str_eq(texts.events, "[\"customer.erased\",\"response.created\",\"response.deleted\","
                                   "\"response.updated\",\"survey.updated\"]");
    ck_assert_ptr_null(texts.surveys);
    webhook_spec_texts_free(&texts);
    webhook_spec_free(&spec);
}
END_TEST

START_TEST(test_parse_url_errors)
{
    assert_refused("{\"events\": [\"response.created\"]}", "url", "is required");
    assert_refused("{\"url\": 7, \"events\": [\"response.created\"]}", "url", "must be a string");
    assert_refused("{\"url\": \"\", \"events\": [\"response.created\"]}", "url", NULL);
    assert_refused("{\"url\": \"ftp://example.com/\", \"events\": [\"response.created\"]}", "url", "http");
    assert_refused("{\"url\": \"javascript:alert(1)\", \"events\": [\"response.created\"]}", "url", "http");
    assert_refused("{\"url\": \"HTTPS//example.com\", \"events\": [\"response.created\"]}", "url", "http");
    assert_refused("{\"url\": \"https://\", \"events\": [\"response.created\"]}", "url", "host");
    assert_refused("{\"url\": \"https:///path\", \"events\": [\"response.created\"]}", "url", "host");
    assert_refused("{\"url\": \"https://user:pw@example.com/\", \"events\": [\"response.created\"]}", "url",
                   "password");
    assert_refused("{\"url\": \"https://user@example.com/\", \"events\": [\"response.created\"]}", "url", "user");
    assert_refused("{\"url\": \"https://example.com/#frag\", \"events\": [\"response.created\"]}", "url",
                   "fragment");
    assert_refused("{\"url\": \"https://example.com/a b\", \"events\": [\"response.created\"]}", "url", "spaces");
    assert_refused("{\"url\": \"https://exa mple.com/\", \"events\": [\"response.created\"]}", "url", NULL);
    assert_refused("{\"url\": \"https://ex\\u00e9.com/\", \"events\": [\"response.created\"]}", "url", NULL);
    assert_refused("{\"url\": \"https://example.com:0/\", \"events\": [\"response.created\"]}", "url", "port");
    assert_refused("{\"url\": \"https://example.com:65536/\", \"events\": [\"response.created\"]}", "url", "port");
    assert_refused("{\"url\": \"https://example.com:/\", \"events\": [\"response.created\"]}", "url", "port");
    assert_refused("{\"url\": \"https://example.com:8a/\", \"events\": [\"response.created\"]}", "url", "port");
    assert_refused("{\"url\": \"https://[::1/\", \"events\": [\"response.created\"]}", "url", "IPv6");
    assert_refused("{\"url\": \"https://[nothex]/\", \"events\": [\"response.created\"]}", "url", "IPv6");
    assert_refused("{\"url\": \"https://[]/\", \"events\": [\"response.created\"]}", "url", "IPv6");

    /* 2048 characters pass, 2049 do not. */
    char *body = malloc(4096);
    char url[WEBHOOK_URL_MAX + 2];
    strcpy(url, "https://example.com/");
    memset(url + strlen(url), 'a', WEBHOOK_URL_MAX - strlen(url));
    url[WEBHOOK_URL_MAX] = '\0';
    snprintf(body, 4096, "{\"url\": \"%s\", \"events\": [\"response.created\"]}", url);
    struct webhook_spec spec;
    assert_accepted(body, &spec);
    webhook_spec_free(&spec);
    strcat(url, "a");
    snprintf(body, 4096, "{\"url\": \"%s\", \"events\": [\"response.created\"]}", url);
    assert_refused(body, "url", "2048");
    free(body);

    assert_accepted("{\"url\": \"http://127.0.0.1:9/hook\", \"events\": [\"response.created\"]}", &spec);
    webhook_spec_free(&spec);
    assert_accepted("{\"url\": \"https://example.com?x=1\", \"events\": [\"response.created\"]}", &spec);
    webhook_spec_free(&spec);
}
END_TEST

START_TEST(test_parse_other_errors)
{
    assert_refused("{" OK_URL "}", "events", "is required");
    assert_refused("{" OK_URL ", \"events\": []}", "events", "non-empty");
    assert_refused("{" OK_URL ", \"events\": \"response.created\"}", "events", "non-empty");
    assert_refused("{" OK_URL ", \"events\": [\"response.created\", \"response.exploded\"]}", "events[1]",
                   "must be one of");
    assert_refused("{" OK_URL ", \"events\": [3]}", "events[0]", NULL);

    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"surveys\": []}", "surveys", "1 to 100");
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"surveys\": \"support\"}", "surveys", NULL);
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"surveys\": [\"ok\", \"Not A Slug\"]}",
                   "surveys[1]", "survey id");
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"surveys\": [1]}", "surveys[0]", NULL);
    /* 101 surveys are too many (100 pass). */
    char body[4096];
    int n = snprintf(body, sizeof body, "{" OK_URL ", \"events\": [\"response.created\"], \"surveys\": [");
    for (int i = 0; i < 101; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s\"s%d\"", i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    assert_refused(body, "surveys", "1 to 100");
    char *cut = strstr(body, ",\"s100\"");
    memmove(cut, "]}", 3);
    struct webhook_spec spec;
    assert_accepted(body, &spec);
    ck_assert_uint_eq(spec.survey_count, 100);
    webhook_spec_free(&spec);

    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"format\": \"teams\"}", "format",
                   "standard or slack");
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"format\": 1}", "format", NULL);
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"enabled\": \"yes\"}", "enabled",
                   "true or false");
    assert_refused("{" OK_URL ", \"events\": [\"response.created\"], \"secret\": \"whsec_x\"}", "secret",
                   "unknown field");
    assert_refused("{" OK_URL ", " OK_URL ", \"events\": [\"response.created\"]}", "url", "duplicate field");
    assert_refused("[1]", "", "JSON object");
}
END_TEST

START_TEST(test_parse_filter)
{
    struct webhook_spec spec;
    assert_accepted("{" OK_URL ", \"events\": [\"response.created\"], "
                    "\"filter\": {\"question\": \"nps\", \"max\": 6}}", &spec);
    ck_assert(spec.filter.set);
    ck_assert_str_eq(spec.filter.question, "nps");
    ck_assert(!spec.filter.has_min);
    ck_assert(spec.filter.has_max);
    ck_assert(spec.filter.max == 6);
    webhook_spec_free(&spec);
    assert_accepted("{" OK_URL ", \"events\": [\"response.created\"], "
                    "\"filter\": {\"question\": \"q\", \"min\": 2.5, \"max\": 2.5}}", &spec);
    webhook_spec_free(&spec);

    const char *prefix = "{" OK_URL ", \"events\": [\"response.created\"], \"filter\": ";
    char body[512];
#define FILTER(f) (snprintf(body, sizeof body, "%s%s}", prefix, f), body)
    assert_refused(FILTER("[]"), "filter", "must be an object");
    assert_refused(FILTER("{\"max\": 6}"), "filter.question", "is required");
    assert_refused(FILTER("{\"question\": \"Bad Id\", \"max\": 6}"), "filter.question", "question id");
    assert_refused(FILTER("{\"question\": \"nps\"}"), "filter", "min, max or both");
    assert_refused(FILTER("{\"question\": \"nps\", \"min\": 7, \"max\": 6}"), "filter.min", "greater than max");
    assert_refused(FILTER("{\"question\": \"nps\", \"min\": \"7\"}"), "filter.min", "number");
    assert_refused(FILTER("{\"question\": \"nps\", \"max\": true}"), "filter.max", "number");
    assert_refused(FILTER("{\"question\": \"nps\", \"max\": 6, \"equals\": 3}"), "filter.equals", "unknown field");
#undef FILTER
}
END_TEST

START_TEST(test_every_error_at_once)
{
    struct webhook_spec spec;
    char *printed = parse_errors("{\"url\": \"gopher://x\", \"events\": [], \"surveys\": [\"A\"], "
                                 "\"filter\": {\"question\": \"nps\", \"min\": 9, \"max\": 1}, "
                                 "\"format\": \"x\", \"enabled\": 0, \"extra\": 1}", &spec);
    ck_assert_ptr_nonnull(printed);
    const char *fields[] = {"\"url\"", "\"events\"", "\"surveys[0]\"", "\"filter.min\"", "\"format\"",
                            "\"enabled\"", "\"extra\""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(strstr(printed, fields[i]) != NULL, "missing %s in %s", fields[i], printed);
    free(printed);
}
END_TEST

START_TEST(test_stored_round_trip)
{
    struct webhook_spec spec, back;
    struct webhook_spec_texts texts, again;
    assert_accepted("{\"url\": \"https://hooks.slack.com/services/T/B/x\", \"events\": [\"response.updated\", "
                    "\"response.created\"], \"surveys\": [\"support\", \"billing\"], "
                    "\"filter\": {\"question\": \"nps\", \"min\": 0, \"max\": 6.5}, \"format\": \"slack\"}", &spec);
    ck_assert(webhook_spec_to_stored(&spec, &texts));
    ck_assert_str_eq(texts.filter, "{\"question\":\"nps\",\"min\":0,\"max\":6.5}");
    ck_assert_str_eq(texts.format, "slack");
    ck_assert(webhook_spec_from_stored(spec.url, texts.events, texts.surveys, texts.filter, texts.format, &back));
    ck_assert_str_eq(back.url, spec.url);
    ck_assert_uint_eq(back.events, spec.events);
    ck_assert_uint_eq(back.survey_count, 2);
    ck_assert_str_eq(back.surveys[0], "billing");
    ck_assert(back.filter.set && back.filter.has_min && back.filter.has_max);
    ck_assert(back.filter.min == 0 && back.filter.max == 6.5);
    ck_assert_int_eq(back.format, WEBHOOK_FORMAT_SLACK);
    ck_assert(back.enabled);
    ck_assert(webhook_spec_to_stored(&back, &again));
    ck_assert_str_eq(again.events, texts.events);
    ck_assert_str_eq(again.surveys, texts.surveys);
    ck_assert_str_eq(again.filter, texts.filter);
    webhook_spec_texts_free(&again);
    webhook_spec_free(&back);
    webhook_spec_texts_free(&texts);
    webhook_spec_free(&spec);

    /* No surveys, no filter: NULL texts, and back. */
    ck_assert(webhook_spec_from_stored("http://example.com/", "[\"survey.updated\"]", NULL, NULL, "standard", &back));
    ck_assert_uint_eq(back.events, WEBHOOK_SURVEY_UPDATED);
    ck_assert_ptr_null(back.surveys);
    ck_assert(!back.filter.set);
    webhook_spec_free(&back);

    /* Corrupt rows. */
    ck_assert(!webhook_spec_from_stored("http://example.com/", "[\"survey.updated\"", NULL, NULL, "standard", &back));
    ck_assert(!webhook_spec_from_stored("http://example.com/", "[\"nope\"]", NULL, NULL, "standard", &back));
    ck_assert(!webhook_spec_from_stored("http://example.com/", "[\"survey.updated\"]", "{", NULL, "standard", &back));
    ck_assert(!webhook_spec_from_stored("http://example.com/", "[\"survey.updated\"]", NULL, "{}", "standard", &back));
    ck_assert(!webhook_spec_from_stored("http://example.com/", "[\"survey.updated\"]", NULL, NULL, "xml", &back));
    ck_assert(!webhook_spec_from_stored("nope", "[\"survey.updated\"]", NULL, NULL, "standard", &back));
    ck_assert(!webhook_spec_from_stored(NULL, "[\"survey.updated\"]", NULL, NULL, "standard", &back));
    ck_assert_ptr_null(back.url);
}
END_TEST

static bool matches_answers(const struct webhook_spec *spec, enum webhook_event type, const char *survey,
                            const char *answers_text)
{
    cJSON *answers = answers_text ? cJSON_Parse(answers_text) : NULL;
    bool m = webhook_spec_matches(spec, type, survey, answers);
    cJSON_Delete(answers);
    return m;
}

START_TEST(test_matches)
{
    struct webhook_spec spec;
    assert_accepted("{" OK_URL ", \"events\": [\"response.created\", \"response.deleted\", \"customer.erased\"], "
                    "\"surveys\": [\"support\", \"billing\"], \"filter\": {\"question\": \"nps\", \"max\": 6}}",
                    &spec);
    /* type */
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": 3}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_UPDATED, "support", "{\"nps\": 3}"));
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_DELETED, "support", "{\"nps\": 3}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_SURVEY_UPDATED, "support", NULL));
    /* survey */
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "billing", "{\"nps\": 3}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "checkout", "{\"nps\": 3}"));
    /* customer.erased is about no survey: it goes to every subscription to it, survey list or not
     * (a receiver holding that customer's responses must hear of it), and no filter applies. */
    ck_assert(matches_answers(&spec, WEBHOOK_CUSTOMER_ERASED, NULL, NULL));
    /* filter: bounds inclusive, a skipped or non-numeric answer does not match */
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": 6}"));
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": 0}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": 7}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"comment\": \"bad\"}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": \"3\"}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": null}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", NULL));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "[3]"));
    /* disabled: nothing matches */
    spec.enabled = false;
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "support", "{\"nps\": 3}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_CUSTOMER_ERASED, NULL, NULL));
    webhook_spec_free(&spec);

    /* every survey, min only, yes_no as 1/0 */
    assert_accepted("{" OK_URL ", \"events\": [\"response.updated\", \"survey.updated\"], "
                    "\"filter\": {\"question\": \"ok\", \"min\": 1}}", &spec);
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_UPDATED, "anything", "{\"ok\": true}"));
    ck_assert(!matches_answers(&spec, WEBHOOK_RESPONSE_UPDATED, "anything", "{\"ok\": false}"));
    ck_assert(matches_answers(&spec, WEBHOOK_SURVEY_UPDATED, "anything", NULL));
    ck_assert(!matches_answers(&spec, WEBHOOK_CUSTOMER_ERASED, NULL, NULL));
    webhook_spec_free(&spec);

    /* no filter: any answers */
    assert_accepted("{" OK_URL ", \"events\": [\"response.created\"]}", &spec);
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "x", "{}"));
    ck_assert(matches_answers(&spec, WEBHOOK_RESPONSE_CREATED, "x", NULL));
    webhook_spec_free(&spec);
}
END_TEST

/* ---- net_address ---- */

static enum net_address_class classify(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        ck_assert_msg(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1, "bad test address %s", text);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        ck_assert_msg(inet_pton(AF_INET, text, &in->sin_addr) == 1, "bad test address %s", text);
    }
    return net_address_classify((const struct sockaddr *)&ss);
}

static bool allowed(const char *text, bool allow_private)
{
    (void)classify(text);       /* asserts it parses */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        ss.ss_family = AF_INET6;
        inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    } else {
        ss.ss_family = AF_INET;
        inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr);
    }
    return net_address_allowed((const struct sockaddr *)&ss, allow_private);
}

struct class_case {
    const char *address;
    enum net_address_class cls;
};

static const struct class_case class_cases[] = {
    /* IPv4 */
    {"8.8.8.8", NET_ADDRESS_PUBLIC},
    {"1.1.1.1", NET_ADDRESS_PUBLIC},
    {"93.184.216.34", NET_ADDRESS_PUBLIC},
    {"0.0.0.0", NET_ADDRESS_OTHER},
    {"0.255.255.255", NET_ADDRESS_OTHER},
    {"127.0.0.1", NET_ADDRESS_LOOPBACK},
    {"127.255.255.254", NET_ADDRESS_LOOPBACK},
    {"10.0.0.1", NET_ADDRESS_PRIVATE},
    {"10.255.255.255", NET_ADDRESS_PRIVATE},
    {"11.0.0.1", NET_ADDRESS_PUBLIC},
    {"100.64.0.1", NET_ADDRESS_PRIVATE},
    {"100.127.255.255", NET_ADDRESS_PRIVATE},
    {"100.63.255.255", NET_ADDRESS_PUBLIC},
    {"100.128.0.0", NET_ADDRESS_PUBLIC},
    {"169.254.169.254", NET_ADDRESS_LINK_LOCAL},
    {"169.254.0.1", NET_ADDRESS_LINK_LOCAL},
    {"169.255.0.1", NET_ADDRESS_PUBLIC},
    {"172.16.0.1", NET_ADDRESS_PRIVATE},
    {"172.31.255.255", NET_ADDRESS_PRIVATE},
    {"172.15.255.255", NET_ADDRESS_PUBLIC},
    {"172.32.0.0", NET_ADDRESS_PUBLIC},
    {"192.0.0.8", NET_ADDRESS_OTHER},
    {"192.0.2.1", NET_ADDRESS_OTHER},
    {"192.88.99.1", NET_ADDRESS_OTHER},
    {"192.168.1.1", NET_ADDRESS_PRIVATE},
    {"192.169.0.1", NET_ADDRESS_PUBLIC},
    {"198.18.0.1", NET_ADDRESS_OTHER},
    {"198.19.255.255", NET_ADDRESS_OTHER},
    {"198.20.0.1", NET_ADDRESS_PUBLIC},
    {"198.51.100.7", NET_ADDRESS_OTHER},
    {"203.0.113.9", NET_ADDRESS_OTHER},
    {"224.0.0.1", NET_ADDRESS_OTHER},
    {"239.255.255.250", NET_ADDRESS_OTHER},
    {"240.0.0.1", NET_ADDRESS_OTHER},
    {"255.255.255.255", NET_ADDRESS_OTHER},
    {"223.255.255.255", NET_ADDRESS_PUBLIC},
    /* IPv6 */
    {"2606:4700:4700::1111", NET_ADDRESS_PUBLIC},
    {"2a00:1450:4001::200e", NET_ADDRESS_PUBLIC},
    {"::", NET_ADDRESS_OTHER},
    {"::1", NET_ADDRESS_LOOPBACK},
    {"fc00::1", NET_ADDRESS_PRIVATE},
    {"fd12:3456::1", NET_ADDRESS_PRIVATE},
    {"fec0::1", NET_ADDRESS_PRIVATE},
    {"fe80::1", NET_ADDRESS_LINK_LOCAL},
    {"febf::1", NET_ADDRESS_LINK_LOCAL},
    {"ff02::1", NET_ADDRESS_OTHER},
    {"100::1", NET_ADDRESS_OTHER},
    {"2001::1", NET_ADDRESS_OTHER},
    {"2001:db8::1", NET_ADDRESS_OTHER},
    {"3fff::1", NET_ADDRESS_OTHER},
    {"5f00::1", NET_ADDRESS_OTHER},
    {"4000::1", NET_ADDRESS_OTHER},
    {"::2", NET_ADDRESS_OTHER},
    {"64:ff9b:1::1", NET_ADDRESS_PRIVATE},
    /* IPv4 written as IPv6 */
    {"::ffff:127.0.0.1", NET_ADDRESS_LOOPBACK},
    {"::ffff:10.1.2.3", NET_ADDRESS_PRIVATE},
    {"::ffff:169.254.169.254", NET_ADDRESS_LINK_LOCAL},
    {"::ffff:8.8.8.8", NET_ADDRESS_PUBLIC},
    {"::ffff:0:127.0.0.1", NET_ADDRESS_LOOPBACK},
    {"::127.0.0.1", NET_ADDRESS_LOOPBACK},
    {"64:ff9b::7f00:1", NET_ADDRESS_LOOPBACK},
    {"64:ff9b::a9fe:a9fe", NET_ADDRESS_LINK_LOCAL},
    {"64:ff9b::808:808", NET_ADDRESS_PUBLIC},
    {"2002:7f00:1::", NET_ADDRESS_LOOPBACK},
    {"2002:c0a8:101::1", NET_ADDRESS_PRIVATE},
    {"2002:a9fe:a9fe::", NET_ADDRESS_LINK_LOCAL},
    {"2002:808:808::1", NET_ADDRESS_PUBLIC},
};

START_TEST(test_classify)
{
    const struct class_case *c = &class_cases[_i];
    ck_assert_msg(classify(c->address) == c->cls, "%s: class %d, expected %d", c->address, classify(c->address),
                  c->cls);
    bool is_public = c->cls == NET_ADDRESS_PUBLIC;
    ck_assert_msg(allowed(c->address, false) == is_public, "%s allowed without the flag", c->address);
    ck_assert_msg(allowed(c->address, true), "%s refused with the flag", c->address);
}
END_TEST

START_TEST(test_class_names_and_other_families)
{
    ck_assert_str_eq(net_address_class_name(NET_ADDRESS_PUBLIC), "public");
    ck_assert_str_eq(net_address_class_name(NET_ADDRESS_LOOPBACK), "loopback");
    ck_assert_str_eq(net_address_class_name(NET_ADDRESS_PRIVATE), "private");
    ck_assert_str_eq(net_address_class_name(NET_ADDRESS_LINK_LOCAL), "link-local");
    ck_assert_str_eq(net_address_class_name(NET_ADDRESS_OTHER), "reserved");
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    ck_assert_int_eq(net_address_classify((const struct sockaddr *)&ss), NET_ADDRESS_OTHER);
    ck_assert(!net_address_allowed((const struct sockaddr *)&ss, false));
    ck_assert(!net_address_allowed((const struct sockaddr *)&ss, true));
    ck_assert_int_eq(net_address_classify(NULL), NET_ADDRESS_OTHER);
}
END_TEST

/* ---- webhook_target ---- */

static enum webhook_target_result target(const char *url, bool allow, char *why, size_t size)
{
    return webhook_target_check(url, allow, why, size);
}

START_TEST(test_target)
{
    char why[256];
    const char *forbidden[] = {
        "http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
        "https://127.0.0.1:8443/x?y=1", "http://[fe80::1]:80/", "http://192.168.0.1", "http://2130706433/",
    };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        ck_assert_msg(target(forbidden[i], false, why, sizeof why) == WEBHOOK_TARGET_FORBIDDEN, "%s: %s",
                      forbidden[i], why);
        ck_assert_msg(strstr(why, "--webhook-allow-private") != NULL, "%s", why);
        ck_assert_msg(target(forbidden[i], true, why, sizeof why) == WEBHOOK_TARGET_OK, "%s with the flag: %s",
                      forbidden[i], why);
        ck_assert_str_eq(why, "");
    }
    ck_assert_int_eq(target("http://127.0.0.1/", false, why, sizeof why), WEBHOOK_TARGET_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(why, "loopback"));
    ck_assert_int_eq(target("http://169.254.169.254/", false, why, sizeof why), WEBHOOK_TARGET_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(why, "link-local"));
    ck_assert_int_eq(target("http://10.0.0.1/", false, why, sizeof why), WEBHOOK_TARGET_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(why, "private"));

    /* Public literals pass without the flag (nothing is connected to). */
    ck_assert_int_eq(target("https://93.184.216.34/hook", false, why, sizeof why), WEBHOOK_TARGET_OK);
    ck_assert_int_eq(target("https://[2606:4700:4700::1111]:443/", false, why, sizeof why), WEBHOOK_TARGET_OK);

    /* .invalid never resolves (RFC 6761). */
    ck_assert_int_eq(target("https://no-such-host.invalid/", true, why, sizeof why), WEBHOOK_TARGET_UNRESOLVED);
    ck_assert_ptr_nonnull(strstr(why, "no-such-host.invalid"));

    ck_assert_int_eq(target("ftp://127.0.0.1/", true, why, sizeof why), WEBHOOK_TARGET_INVALID);
    ck_assert_int_eq(target("http:///x", true, why, sizeof why), WEBHOOK_TARGET_INVALID);
    ck_assert_int_eq(target("http://[::1/", true, why, sizeof why), WEBHOOK_TARGET_INVALID);
    ck_assert_int_eq(target("http://u@127.0.0.1/", true, why, sizeof why), WEBHOOK_TARGET_INVALID);
    ck_assert_int_eq(target(NULL, true, why, sizeof why), WEBHOOK_TARGET_INVALID);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("webhooks");
    TCase *spec = tcase_create("spec");
    TCase *address = tcase_create("net_address");
    TCase *tgt = tcase_create("target");

    tcase_add_test(spec, test_event_names);
    tcase_add_test(spec, test_parse_minimal_and_defaults);
    tcase_add_test(spec, test_parse_normalises);
    tcase_add_test(spec, test_parse_url_errors);
    tcase_add_test(spec, test_parse_other_errors);
    tcase_add_test(spec, test_parse_filter);
    tcase_add_test(spec, test_every_error_at_once);
    tcase_add_test(spec, test_stored_round_trip);
    tcase_add_test(spec, test_matches);
    tcase_add_loop_test(address, test_classify, 0, (int)(sizeof class_cases / sizeof class_cases[0]));
    tcase_add_test(address, test_class_names_and_other_families);
    tcase_add_test(tgt, test_target);
    tcase_set_timeout(tgt, 30);
    suite_add_tcase(suite, spec);
    suite_add_tcase(suite, address);
    suite_add_tcase(suite, tgt);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
