/*
 * Unit tests for server/validate.c: survey definitions and responses, every rule at its boundary,
 * accepted and refused, with the exact set of error field paths in errors.list.
 *
 * JSON in this file is written with single quotes for readability: every ' becomes " before parsing
 * (so test JSON never contains a literal apostrophe; \u0027 would spell one).
 *
 * Error checks are exact: DEF_BAD, RESP_BAD and assert_fields list every field the errors must name,
 * as a multiset (order is not part of the contract; multiplicity and the total count are).
 *
 * The "regressions" case holds the tests that found bugs in parse_answers (an earlier error hid
 * or skipped "at least one answer is required"); they pass since the fix.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "survey.h"
#include "validate.h"

#define E_ACUTE "\xc3\xa9"            /* é: 1 code point, 2 bytes */
#define EMOJI "\xf0\x9f\x98\x80"       /* U+1F600: 1 code point, 4 bytes */

#define NOW_MS INT64_C(1795000000000) /* 2026-11-18T11:06:40Z */

/* ---- general helpers ---- */

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int len = vsnprintf(NULL, 0, format, ap);
    va_end(ap);
    ck_assert_int_ge(len, 0);
    char *out = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(out);
    va_start(ap, format);
    vsnprintf(out, (size_t)len + 1, format, ap);
    va_end(ap);
    return out;
}

/* unit repeated n times (caller frees). */
static char *repeat(const char *unit, int n)
{
    size_t len = strlen(unit);
    char *out = malloc(len * (size_t)n + 1);
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i < n; i++)
        memcpy(out + len * (size_t)i, unit, len);
    out[len * (size_t)n] = '\0';
    return out;
}

/* Parses single-quoted test JSON; a typo in a test is a test failure, not a NULL body. */
static cJSON *parse_sq(const char *text, int line)
{
    char *copy = strdup(text);
    ck_assert_ptr_nonnull(copy);
    for (char *p = copy; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    cJSON *json = cJSON_Parse(copy);
    ck_assert_msg(json != NULL, "line %d: test JSON does not parse: %s", line, copy);
    free(copy);
    return json;
}

/* "[a, b, c]" of the fields in errors, for failure messages (static buffer: one use per message). */
static const char *fields_text(const struct validate_errors *errors)
{
    static char buf[2048];
    size_t used = 0;
    const cJSON *e;

    buf[0] = '\0';
    used += (size_t)snprintf(buf, sizeof buf, "[");
    cJSON_ArrayForEach(e, errors->list)
    {
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(e, "field");
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (used < sizeof buf)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s'%s': %s", e == errors->list->child ? "" : ", ",
                                     cJSON_IsString(field) ? field->valuestring : "?",
                                     cJSON_IsString(message) ? message->valuestring : "?");
    }
    if (used < sizeof buf)
        snprintf(buf + used, sizeof buf - used, "]");
    return buf;
}

/* Every error is {"field": string, "message": non-empty string} and count matches the list. */
static void check_error_shape(const struct validate_errors *errors, int line)
{
    if (errors->count == 0) {
        ck_assert_msg(errors->list == NULL || cJSON_GetArraySize(errors->list) == 0, "line %d: list without count",
                      line);
        return;
    }
    ck_assert_msg(cJSON_IsArray(errors->list), "line %d: errors.list is not an array", line);
    ck_assert_msg(cJSON_GetArraySize(errors->list) == errors->count, "line %d: count %d but %d listed", line,
                  errors->count, cJSON_GetArraySize(errors->list));
    const cJSON *e;
    cJSON_ArrayForEach(e, errors->list)
    {
        ck_assert_msg(cJSON_IsObject(e), "line %d: error is not an object", line);
        ck_assert_msg(cJSON_GetArraySize(e) == 2, "line %d: error has %d members", line, cJSON_GetArraySize(e));
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(e, "field");
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(e, "message");
        ck_assert_msg(cJSON_IsString(field), "line %d: error without field", line);
        ck_assert_msg(cJSON_IsString(message) && message->valuestring[0] != '\0', "line %d: error without message",
                      line);
    }
}

/* The errors name exactly these fields (a multiset: order free, count exact). */
static void assert_fields(const struct validate_errors *errors, const char *const *expected, const char *input,
                          int line)
{
    check_error_shape(errors, line);
    int n_expected = 0;
    while (expected[n_expected])
        n_expected++;
    ck_assert_msg(errors->count == n_expected, "line %d: %d errors, expected %d, for %s\n  got %s", line,
                  errors->count, n_expected, input, fields_text(errors));

    bool used[256] = {false};
    ck_assert_int_lt(errors->count, 256);
    for (int i = 0; i < n_expected; i++) {
        bool found = false;
        int j = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, errors->list)
        {
            if (!used[j] && strcmp(cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring, expected[i]) == 0) {
                used[j] = true;
                found = true;
                break;
            }
            j++;
        }
        ck_assert_msg(found, "line %d: no error on '%s' for %s\n  got %s", line, expected[i], input,
                      fields_text(errors));
    }
}

/* Some error on field has a message containing text. */
static void assert_message(const struct validate_errors *errors, const char *field, const char *text, int line)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors->list)
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring, field) == 0 &&
            strstr(cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring, text) != NULL)
            return;
    }
    ck_abort_msg("line %d: no error on '%s' saying \"%s\"; got %s", line, field, text, fields_text(errors));
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_FIELDS ((const char *const[]){NULL})

/* ---- definition helpers ---- */

static bool run_definition(const char *id, const char *text, struct survey *out, struct validate_errors *errors,
                           int line)
{
    cJSON *json = parse_sq(text, line);
    validate_errors_init(errors);
    memset(out, 0xA5, sizeof *out); /* validate_definition must set every field */
    bool ok = validate_definition(id, json, out, errors);
    cJSON_Delete(json);
    return ok;
}

/* After a refusal the survey holds nothing to free. */
static void assert_survey_empty(const struct survey *s, int line)
{
    ck_assert_msg(s->title == NULL && s->questions == NULL && s->question_count == 0 && s->allowed_origins == NULL &&
                      s->origin_count == 0,
                  "line %d: refused definition left data behind", line);
}

static void def_ok(const char *text, int line)
{
    struct survey s;
    struct validate_errors errors;
    bool ok = run_definition("s1", text, &s, &errors, line);
    ck_assert_msg(ok, "line %d: refused %s\n  errors %s", line, text, fields_text(&errors));
    check_error_shape(&errors, line);
    ck_assert_msg(errors.count == 0, "line %d: accepted with errors", line);
    ck_assert_str_eq(s.id, "s1");
    survey_free(&s);
    validate_errors_free(&errors);
}

static void def_bad(const char *text, const char *const *fields, int line)
{
    struct survey s;
    struct validate_errors errors;
    bool ok = run_definition("s1", text, &s, &errors, line);
    ck_assert_msg(!ok, "line %d: accepted %s", line, text);
    assert_survey_empty(&s, line);
    assert_fields(&errors, fields, text, line);
    validate_errors_free(&errors);
}

#define DEF_OK(text) def_ok((text), __LINE__)
#define DEF_BAD(text, ...) def_bad((text), FIELDS(__VA_ARGS__), __LINE__)

/* A definition with a single question. */
#define Q1(question) "{'title':'T','questions':[" question "]}"

/* Validates, then checks the normalised JSON equals expected (as JSON values, member order free). */
static void assert_normalised(const char *text, const char *expected, int line)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert_msg(run_definition("s1", text, &s, &errors, line), "line %d: refused %s: %s", line, text,
                  fields_text(&errors));
    cJSON *normal = validate_definition_to_json(&s);
    cJSON *want = parse_sq(expected, line);
    char *got_text = cJSON_PrintUnformatted(normal);
    char *want_text = cJSON_PrintUnformatted(want);
    bool same = cJSON_Compare(normal, want, true);
    cJSON_Delete(normal);
    cJSON_Delete(want);
    survey_free(&s);
    validate_errors_free(&errors);
    if (!same)
        ck_abort_msg("line %d: normalised\n  got  %s\n  want %s", line, got_text, want_text);
    free(got_text);
    free(want_text);
}

#define NORMALISED(text, expected) assert_normalised((text), (expected), __LINE__)

/* n valid nps questions q0..q(n-1). */
static char *definition_with_questions(int n)
{
    char *text = strdup("{'title':'T','questions':[");
    for (int i = 0; i < n; i++) {
        char *next = fmt("%s%s{'id':'q%d','type':'nps'}", text, i ? "," : "", i);
        free(text);
        text = next;
    }
    char *done = fmt("%s]}", text);
    free(text);
    return done;
}

/* A JSON array body (without brackets) of n strings prefix0..prefix(n-1). */
static char *string_list(const char *prefix, int n)
{
    char *text = strdup("");
    for (int i = 0; i < n; i++) {
        char *next = fmt("%s%s'%s%d'", text, i ? "," : "", prefix, i);
        free(text);
        text = next;
    }
    return text;
}

/* ---- response helpers ---- */

static const char main_survey[] =
    "{'title':'Support','questions':["
    "{'id':'rec','type':'nps','required':true},"                                       /* 0 */
    "{'id':'sat','type':'csat','scale':2},"                                            /* 1 */
    "{'id':'sat5','type':'csat'},"                                                     /* 2 */
    "{'id':'sat10','type':'csat','scale':10},"                                         /* 3 */
    "{'id':'easy','type':'ces','scale':5},"                                            /* 4 */
    "{'id':'effort','type':'ces'},"                                                    /* 5 */
    "{'id':'fixed','type':'yes_no'},"                                                  /* 6 */
    "{'id':'why','type':'choice','options':['price','speed','other stuff'],'allow_other':true}," /* 7 */
    "{'id':'pick','type':'choice','options':['a','b']},"                               /* 8 */
    "{'id':'note','type':'text','max_length':3},"                                      /* 9 */
    "{'id':'essay','type':'text'}]}";                                                  /* 10 */

/* Nothing required. */
static const char optional_survey[] =
    "{'title':'Optional','questions':[{'id':'a','type':'nps'},{'id':'t','type':'text'}]}";

/* A required text question. */
static const char required_text_survey[] =
    "{'title':'Req','questions':[{'id':'a','type':'nps'},{'id':'why','type':'text','required':true}]}";

static void load_survey(const char *text, struct survey *s, int line)
{
    struct validate_errors errors;
    ck_assert_msg(run_definition("s1", text, s, &errors, line), "line %d: fixture refused: %s", line,
                  fields_text(&errors));
    validate_errors_free(&errors);
}

static bool run_response(const char *survey_text, const char *body, int64_t now, struct response *out,
                         struct validate_errors *errors, int line)
{
    struct survey survey;
    load_survey(survey_text, &survey, line);
    cJSON *json = parse_sq(body, line);
    validate_errors_init(errors);
    memset(out, 0xA5, sizeof *out);
    bool ok = validate_response(&survey, json, now, out, errors);
    cJSON_Delete(json);
    survey_free(&survey);
    return ok;
}

static void assert_response_empty(const struct response *r, int line)
{
    ck_assert_msg(r->answers == NULL && r->answer_count == 0 && r->answers_json == NULL && r->properties_json == NULL &&
                      r->channel == NULL && r->customer == NULL && r->agent == NULL && r->interaction == NULL,
                  "line %d: refused response left data behind", line);
}

/* Accepted, with answers_json exactly expected (single-quoted). Returns nothing: frees all. */
static void resp_ok(const char *survey_text, const char *body, const char *expected, int line)
{
    struct response r;
    struct validate_errors errors;
    bool ok = run_response(survey_text, body, NOW_MS, &r, &errors, line);
    ck_assert_msg(ok, "line %d: refused %s\n  errors %s", line, body, fields_text(&errors));
    ck_assert_msg(errors.count == 0 && errors.list == NULL, "line %d: accepted with errors", line);
    char *want = strdup(expected);
    for (char *p = want; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    ck_assert_msg(r.answers_json != NULL && strcmp(r.answers_json, want) == 0,
                  "line %d: %s\n  stored %s\n  want   %s", line, body, r.answers_json, want);
    ck_assert_str_eq(r.survey, "s1");
    ck_assert_int_eq(r.received_at, NOW_MS);
    free(want);
    survey_response_free(&r);
    validate_errors_free(&errors);
}

static void resp_bad(const char *survey_text, const char *body, const char *const *fields, int line)
{
    struct response r;
    struct validate_errors errors;
    bool ok = run_response(survey_text, body, NOW_MS, &r, &errors, line);
    ck_assert_msg(!ok, "line %d: accepted %s", line, body);
    assert_response_empty(&r, line);
    assert_fields(&errors, fields, body, line);
    validate_errors_free(&errors);
}

#define RESP_OK(survey, body, answers) resp_ok((survey), (body), (answers), __LINE__)
#define RESP_BAD(survey, body, ...) resp_bad((survey), (body), FIELDS(__VA_ARGS__), __LINE__)
#define MAIN_OK(body, answers) RESP_OK(main_survey, (body), (answers))
#define MAIN_BAD(body, ...) RESP_BAD(main_survey, (body), __VA_ARGS__)

/* Accepted against main_survey; the last stored answer is for question `question` with number
 * `number` (and text `text`, NULL for none). */
static void answer_ok(const char *body, const char *expected, int question, int64_t number, const char *text,
                      int line)
{
    struct response r;
    struct validate_errors errors;
    resp_ok(main_survey, body, expected, line);
    ck_assert(run_response(main_survey, body, NOW_MS, &r, &errors, line));
    ck_assert_int_ge(r.answer_count, 1);
    const struct answer *last = &r.answers[r.answer_count - 1];
    ck_assert_msg(last->question == question, "line %d: last answer is for question %d, expected %d", line,
                  last->question, question);
    ck_assert_msg(last->number == number, "line %d: %s: number %lld, expected %lld", line, body,
                  (long long)last->number, (long long)number);
    if (text == NULL)
        ck_assert_msg(last->text == NULL, "line %d: unexpected text \"%s\"", line, last->text);
    else
        ck_assert_msg(last->text != NULL && strcmp(last->text, text) == 0, "line %d: text \"%s\", expected \"%s\"",
                      line, last->text ? last->text : "(null)", text);
    survey_response_free(&r);
    validate_errors_free(&errors);
}

#define ANSWER_OK(body, answers, question, number) answer_ok((body), (answers), (question), (number), NULL, __LINE__)
#define ANSWER_TEXT_OK(body, answers, question, number, text) \
    answer_ok((body), (answers), (question), (number), (text), __LINE__)

/* ====================================================================== */
/* definitions                                                            */
/* ====================================================================== */

START_TEST(test_def_minimal_defaults)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert(run_definition("s1", Q1("{'id':'q','type':'nps'}"), &s, &errors, __LINE__));
    ck_assert_int_eq(errors.count, 0);
    ck_assert_str_eq(s.id, "s1");
    ck_assert_str_eq(s.title, "T");
    ck_assert(!s.is_public);
    ck_assert_int_eq(s.origin_count, 0);
    ck_assert_int_eq(s.question_count, 1);
    ck_assert_str_eq(s.questions[0].id, "q");
    ck_assert_int_eq(s.questions[0].type, QUESTION_NPS);
    ck_assert_int_eq(s.questions[0].scale, 10);
    ck_assert(!s.questions[0].required);
    ck_assert_ptr_null(s.questions[0].text);
    ck_assert_int_eq(s.questions[0].option_count, 0);
    ck_assert_int_eq(s.created_at, 0);
    ck_assert_int_eq(s.updated_at, 0);
    survey_free(&s);
    validate_errors_free(&errors);

    NORMALISED(Q1("{'id':'q','type':'nps'}"),
               "{'title':'T','public':false,'allowed_origins':[],"
               "'questions':[{'id':'q','type':'nps','required':false}],'sample_rate':1}");
}
END_TEST

START_TEST(test_def_type_defaults)
{
    struct survey s;
    struct validate_errors errors;
    const char *text = "{'title':'T','questions':[{'id':'a','type':'csat'},{'id':'b','type':'ces'},"
                       "{'id':'c','type':'text'},{'id':'d','type':'choice','options':['x']},"
                       "{'id':'e','type':'yes_no'}]}";
    ck_assert(run_definition("s1", text, &s, &errors, __LINE__));
    ck_assert_int_eq(s.question_count, 5);
    ck_assert_int_eq(s.questions[0].type, QUESTION_CSAT);
    ck_assert_int_eq(s.questions[0].scale, 5);
    ck_assert_int_eq(s.questions[1].type, QUESTION_CES);
    ck_assert_int_eq(s.questions[1].scale, 7);
    ck_assert_int_eq(s.questions[2].type, QUESTION_TEXT);
    ck_assert_int_eq(s.questions[2].max_length, 2000);
    ck_assert_int_eq(s.questions[3].type, QUESTION_CHOICE);
    ck_assert(!s.questions[3].allow_other);
    ck_assert_int_eq(s.questions[3].option_count, 1);
    ck_assert_str_eq(s.questions[3].options[0], "x");
    ck_assert_int_eq(s.questions[4].type, QUESTION_YES_NO);
    for (int i = 0; i < 5; i++)
        ck_assert(!s.questions[i].required);
    survey_free(&s);
    validate_errors_free(&errors);

    NORMALISED(text, "{'title':'T','public':false,'allowed_origins':[],'questions':["
                     "{'id':'a','type':'csat','required':false,'scale':5},"
                     "{'id':'b','type':'ces','required':false,'scale':7},"
                     "{'id':'c','type':'text','required':false,'max_length':2000},"
                     "{'id':'d','type':'choice','required':false,'options':['x'],'allow_other':false},"
                     "{'id':'e','type':'yes_no','required':false}],'sample_rate':1}");
}
END_TEST

START_TEST(test_def_all_fields_parsed)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert(run_definition("s1",
                             "{'title':'Support " E_ACUTE "','public':true,"
                             "'allowed_origins':['https://a.example','http://localhost:8080'],'questions':["
                             "{'id':'rec','type':'nps','text':'How likely?','required':true},"
                             "{'id':'sat','type':'csat','scale':10,'required':false},"
                             "{'id':'easy','type':'ces','scale':5},"
                             "{'id':'why','type':'choice','options':['price','speed'],'allow_other':true},"
                             "{'id':'note','type':'text','max_length':1}]}",
                             &s, &errors, __LINE__));
    ck_assert_str_eq(s.title, "Support " E_ACUTE);
    ck_assert(s.is_public);
    ck_assert_int_eq(s.origin_count, 2);
    ck_assert_str_eq(s.allowed_origins[0], "https://a.example");
    ck_assert_str_eq(s.allowed_origins[1], "http://localhost:8080");
    ck_assert_int_eq(s.question_count, 5);
    ck_assert_str_eq(s.questions[0].text, "How likely?");
    ck_assert(s.questions[0].required);
    ck_assert(!s.questions[1].required);
    ck_assert_int_eq(s.questions[1].scale, 10);
    ck_assert_int_eq(s.questions[2].scale, 5);
    ck_assert(s.questions[3].allow_other);
    ck_assert_int_eq(s.questions[3].option_count, 2);
    ck_assert_str_eq(s.questions[3].options[0], "price");
    ck_assert_str_eq(s.questions[3].options[1], "speed");
    ck_assert_int_eq(s.questions[4].max_length, 1);
    ck_assert_str_eq(s.questions[4].id, "note");
    survey_free(&s);
    validate_errors_free(&errors);

    /* The URL id is what the survey gets. */
    ck_assert(run_definition("other-id", Q1("{'id':'q','type':'nps'}"), &s, &errors, __LINE__));
    ck_assert_str_eq(s.id, "other-id");
    survey_free(&s);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_def_not_an_object)
{
    DEF_BAD("[]", "");
    DEF_BAD("null", "");
    DEF_BAD("'title'", "");
    DEF_BAD("5", "");
    DEF_BAD("[{'title':'T','questions':[{'id':'q','type':'nps'}]}]", "");

    struct survey s;
    struct validate_errors errors;
    validate_errors_init(&errors);
    ck_assert(!validate_definition("s1", NULL, &s, &errors));
    assert_survey_empty(&s, __LINE__);
    assert_fields(&errors, FIELDS(""), "NULL body", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_def_title)
{
    DEF_OK("{'title':'T','questions':[{'id':'q','type':'nps'}]}");
    DEF_BAD("{'questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':null,'questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':'','questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':5,'questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':true,'questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':['T'],'questions':[{'id':'q','type':'nps'}]}", "title");

    /* 1 to 200 code points, not bytes. */
    static const char *const units[] = {"x", E_ACUTE, EMOJI};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        char *title = repeat(units[u], 200);
        char *text = fmt("{'title':'%s','questions':[{'id':'q','type':'nps'}]}", title);
        DEF_OK(text);
        free(text);
        free(title);
        title = repeat(units[u], 201);
        text = fmt("{'title':'%s','questions':[{'id':'q','type':'nps'}]}", title);
        DEF_BAD(text, "title");
        free(text);
        free(title);
    }
}
END_TEST

START_TEST(test_def_public)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert(run_definition("s1", "{'title':'T','public':true,'questions':[{'id':'q','type':'nps'}]}", &s, &errors,
                             __LINE__));
    ck_assert(s.is_public);
    survey_free(&s);
    validate_errors_free(&errors);
    ck_assert(run_definition("s1", "{'title':'T','public':false,'questions':[{'id':'q','type':'nps'}]}", &s,
                             &errors, __LINE__));
    ck_assert(!s.is_public);
    survey_free(&s);
    validate_errors_free(&errors);

    DEF_BAD("{'title':'T','public':'true','questions':[{'id':'q','type':'nps'}]}", "public");
    DEF_BAD("{'title':'T','public':1,'questions':[{'id':'q','type':'nps'}]}", "public");
    DEF_BAD("{'title':'T','public':0,'questions':[{'id':'q','type':'nps'}]}", "public");
    DEF_BAD("{'title':'T','public':{},'questions':[{'id':'q','type':'nps'}]}", "public");
}
END_TEST

START_TEST(test_def_echoed_and_unknown_keys)
{
    /* What GET adds may be PUT back. */
    DEF_OK("{'id':'s1','title':'T','questions':[{'id':'q','type':'nps'}]}");
    DEF_OK("{'title':'T','created_at':'2026-01-01T00:00:00Z','updated_at':'2026-01-02T00:00:00Z',"
           "'questions':[{'id':'q','type':'nps'}]}");
    DEF_OK("{'title':'T','created_at':1795000000000,'updated_at':null,'questions':[{'id':'q','type':'nps'}]}");
    DEF_BAD("{'id':'s2','title':'T','questions':[{'id':'q','type':'nps'}]}", "id");
    DEF_BAD("{'id':'S1','title':'T','questions':[{'id':'q','type':'nps'}]}", "id");
    DEF_BAD("{'id':'s1x','title':'T','questions':[{'id':'q','type':'nps'}]}", "id");
    DEF_BAD("{'id':5,'title':'T','questions':[{'id':'q','type':'nps'}]}", "id");

    /* Unknown keys, case-sensitive. */
    DEF_BAD("{'title':'T','colour':'red','questions':[{'id':'q','type':'nps'}]}", "colour");
    DEF_BAD("{'title':'T','Public':true,'questions':[{'id':'q','type':'nps'}]}", "Public");
    DEF_BAD("{'Title':'T','questions':[{'id':'q','type':'nps'}]}", "Title", "title");
    DEF_BAD("{'title':'T','a':1,'b':2,'questions':[{'id':'q','type':'nps'}]}", "a", "b");
    DEF_BAD("{'title':'T','':1,'questions':[{'id':'q','type':'nps'}]}", "");

    struct survey s;
    struct validate_errors errors;
    ck_assert(!run_definition("s1", "{'title':'T','colour':'red','questions':[{'id':'q','type':'nps'}]}", &s,
                              &errors, __LINE__));
    assert_message(&errors, "colour", "unknown field", __LINE__);
    validate_errors_free(&errors);

    /* Duplicate keys: valid JSON, but ambiguous. */
    DEF_BAD("{'title':'T','title':'U','questions':[{'id':'q','type':'nps'}]}", "title");
    DEF_BAD("{'title':'T','public':true,'public':false,'questions':[{'id':'q','type':'nps'}]}", "public");
    DEF_BAD("{'title':'T','questions':[{'id':'q','type':'nps'}],'questions':[{'id':'q','type':'nps'}]}", "questions");
    DEF_BAD("{'title':'T','title':'U','title':'V','questions':[{'id':'q','type':'nps'}]}", "title", "title");
    ck_assert(!run_definition("s1", "{'title':'T','title':'U','questions':[{'id':'q','type':'nps'}]}", &s, &errors,
                              __LINE__));
    assert_message(&errors, "title", "duplicate field", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_def_questions_array)
{
    DEF_BAD("{'title':'T'}", "questions");
    DEF_BAD("{'title':'T','questions':[]}", "questions");
    DEF_BAD("{'title':'T','questions':null}", "questions");
    DEF_BAD("{'title':'T','questions':{'id':'q','type':'nps'}}", "questions");
    DEF_BAD("{'title':'T','questions':'nps'}", "questions");

    char *text = definition_with_questions(1);
    DEF_OK(text);
    free(text);
    text = definition_with_questions(50);
    DEF_OK(text);
    free(text);
    text = definition_with_questions(51);
    DEF_BAD(text, "questions");
    free(text);

    DEF_BAD(Q1("5"), "questions[0]");
    DEF_BAD(Q1("'nps'"), "questions[0]");
    DEF_BAD(Q1("null"), "questions[0]");
    DEF_BAD(Q1("[]"), "questions[0]");
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'b','type':'nps'},['x']"), "questions[2]");
}
END_TEST

START_TEST(test_def_question_ids)
{
    DEF_OK(Q1("{'id':'a','type':'nps'}"));
    DEF_OK(Q1("{'id':'0','type':'nps'}"));
    DEF_OK(Q1("{'id':'z9','type':'nps'}"));
    DEF_OK(Q1("{'id':'9_x-y','type':'nps'}"));
    DEF_OK(Q1("{'id':'a-','type':'nps'}"));
    DEF_OK(Q1("{'id':'a_','type':'nps'}"));

    char *id = repeat("a", 64);
    char *text = fmt(Q1("{'id':'%s','type':'nps'}"), id);
    DEF_OK(text);
    free(text);
    free(id);
    id = repeat("a", 65);
    text = fmt(Q1("{'id':'%s','type':'nps'}"), id);
    DEF_BAD(text, "questions[0].id");
    free(text);
    free(id);

    DEF_BAD(Q1("{'id':'','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'_a','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'-a','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'A','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'aB','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'a b','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'a.b','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'a/b','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'" E_ACUTE "','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':5,'type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':null,'type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'type':'nps'}"), "questions[0].id");

    /* Unique within the survey; the later one is named. */
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'a','type':'ces'}"), "questions[1].id");
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'b','type':'nps'},{'id':'a','type':'yes_no'}"), "questions[2].id");
    DEF_OK(Q1("{'id':'a','type':'nps'},{'id':'a-','type':'nps'},{'id':'a_','type':'nps'}"));
    struct survey s;
    struct validate_errors errors;
    ck_assert(!run_definition("s1", Q1("{'id':'a','type':'nps'},{'id':'a','type':'ces'}"), &s, &errors, __LINE__));
    assert_message(&errors, "questions[1].id", "duplicate", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_def_question_types)
{
    static const struct {
        const char *name;
        enum question_type type;
    } types[] = {
        {"nps", QUESTION_NPS},       {"csat", QUESTION_CSAT},     {"ces", QUESTION_CES},
        {"yes_no", QUESTION_YES_NO}, {"choice", QUESTION_CHOICE}, {"text", QUESTION_TEXT},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct survey s;
        struct validate_errors errors;
        char *text = fmt(Q1("{'id':'q','type':'%s'%s}"), types[i].name,
                         types[i].type == QUESTION_CHOICE ? ",'options':['x']" : "");
        ck_assert_msg(run_definition("s1", text, &s, &errors, __LINE__), "type %s refused", types[i].name);
        ck_assert_int_eq(s.questions[0].type, types[i].type);
        ck_assert_str_eq(survey_question_type_name(s.questions[0].type), types[i].name);
        survey_free(&s);
        validate_errors_free(&errors);
        free(text);
    }

    DEF_BAD(Q1("{'id':'q'}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':'NPS'}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':'stars'}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':'yes-no'}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':''}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':0}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':null}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','type':['nps']}"), "questions[0].type");
}
END_TEST

START_TEST(test_def_question_common_keys)
{
    /* text: 1 to 1000 code points. */
    char *prompt = repeat(E_ACUTE, 1000);
    char *text = fmt(Q1("{'id':'q','type':'nps','text':'%s'}"), prompt);
    DEF_OK(text);
    free(text);
    free(prompt);
    prompt = repeat(E_ACUTE, 1001);
    text = fmt(Q1("{'id':'q','type':'nps','text':'%s'}"), prompt);
    DEF_BAD(text, "questions[0].text");
    free(text);
    free(prompt);
    DEF_OK(Q1("{'id':'q','type':'nps','text':'x'}"));
    DEF_BAD(Q1("{'id':'q','type':'nps','text':''}"), "questions[0].text");
    DEF_BAD(Q1("{'id':'q','type':'nps','text':5}"), "questions[0].text");
    DEF_BAD(Q1("{'id':'q','type':'nps','text':['x']}"), "questions[0].text");
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'q','type':'yes_no','text':''}"), "questions[1].text");

    /* required: a boolean. */
    DEF_OK(Q1("{'id':'q','type':'nps','required':true}"));
    DEF_OK(Q1("{'id':'q','type':'nps','required':false}"));
    DEF_BAD(Q1("{'id':'q','type':'nps','required':'yes'}"), "questions[0].required");
    DEF_BAD(Q1("{'id':'q','type':'nps','required':1}"), "questions[0].required");
    DEF_BAD(Q1("{'id':'q','type':'text','required':'true'}"), "questions[0].required");

    /* Unknown and duplicate keys, with the question's path. */
    DEF_BAD(Q1("{'id':'q','type':'nps','label':'x'}"), "questions[0].label");
    DEF_BAD(Q1("{'id':'q','type':'nps','Text':'x'}"), "questions[0].Text");
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'q','type':'nps','label':'x','hint':'y'}"), "questions[1].label",
            "questions[1].hint");
    DEF_BAD(Q1("{'id':'q','type':'nps','type':'nps'}"), "questions[0].type");
    DEF_BAD(Q1("{'id':'q','id':'r','type':'nps'}"), "questions[0].id");
    DEF_BAD(Q1("{'id':'q','type':'nps','required':true,'required':false}"), "questions[0].required");

    struct survey s;
    struct validate_errors errors;
    ck_assert(!run_definition("s1", Q1("{'id':'q','type':'nps','label':'x','type':'nps'}"), &s, &errors, __LINE__));
    assert_message(&errors, "questions[0].label", "unknown field", __LINE__);
    assert_message(&errors, "questions[0].type", "duplicate field", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_def_scales)
{
    static const int csat_ok[] = {2, 3, 4, 5, 6, 7, 10};
    for (size_t i = 0; i < sizeof csat_ok / sizeof csat_ok[0]; i++) {
        struct survey s;
        struct validate_errors errors;
        char *text = fmt(Q1("{'id':'q','type':'csat','scale':%d}"), csat_ok[i]);
        ck_assert_msg(run_definition("s1", text, &s, &errors, __LINE__), "csat scale %d refused", csat_ok[i]);
        ck_assert_int_eq(s.questions[0].scale, csat_ok[i]);
        survey_free(&s);
        validate_errors_free(&errors);
        free(text);
    }
    static const char *const csat_bad[] = {"0", "1", "8", "9", "11", "-5", "5.5", "1e400", "'5'", "true", "null",
                                           "[5]"};
    for (size_t i = 0; i < sizeof csat_bad / sizeof csat_bad[0]; i++) {
        char *text = fmt(Q1("{'id':'q','type':'csat','scale':%s}"), csat_bad[i]);
        DEF_BAD(text, "questions[0].scale");
        free(text);
    }
    /* An integral number is an integer. */
    struct survey s;
    struct validate_errors errors;
    ck_assert(run_definition("s1", Q1("{'id':'q','type':'csat','scale':7.0}"), &s, &errors, __LINE__));
    ck_assert_int_eq(s.questions[0].scale, 7);
    survey_free(&s);
    validate_errors_free(&errors);
    ck_assert(run_definition("s1", Q1("{'id':'q','type':'csat','scale':1e1}"), &s, &errors, __LINE__));
    ck_assert_int_eq(s.questions[0].scale, 10);
    survey_free(&s);
    validate_errors_free(&errors);

    /* ces: 5 or 7. */
    ck_assert(run_definition("s1", Q1("{'id':'q','type':'ces','scale':5}"), &s, &errors, __LINE__));
    ck_assert_int_eq(s.questions[0].scale, 5);
    survey_free(&s);
    validate_errors_free(&errors);
    ck_assert(run_definition("s1", Q1("{'id':'q','type':'ces','scale':7}"), &s, &errors, __LINE__));
    ck_assert_int_eq(s.questions[0].scale, 7);
    survey_free(&s);
    validate_errors_free(&errors);
    static const char *const ces_bad[] = {"3", "4", "6", "8", "10", "2", "0", "5.5", "'7'", "false", "null"};
    for (size_t i = 0; i < sizeof ces_bad / sizeof ces_bad[0]; i++) {
        char *text = fmt(Q1("{'id':'q','type':'ces','scale':%s}"), ces_bad[i]);
        DEF_BAD(text, "questions[0].scale");
        free(text);
    }

    /* scale belongs to csat and ces only. */
    DEF_BAD(Q1("{'id':'q','type':'nps','scale':10}"), "questions[0].scale");
    DEF_BAD(Q1("{'id':'q','type':'yes_no','scale':2}"), "questions[0].scale");
    DEF_BAD(Q1("{'id':'q','type':'text','scale':5}"), "questions[0].scale");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['x'],'scale':5}"), "questions[0].scale");
    ck_assert(!run_definition("s1", Q1("{'id':'q','type':'nps','scale':10}"), &s, &errors, __LINE__));
    assert_message(&errors, "questions[0].scale", "unknown field", __LINE__);
    validate_errors_free(&errors);
    DEF_BAD(Q1("{'id':'q','type':'csat','max_length':5}"), "questions[0].max_length");
    DEF_BAD(Q1("{'id':'q','type':'ces','options':['x']}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'csat','allow_other':true}"), "questions[0].allow_other");
}
END_TEST

START_TEST(test_def_choice)
{
    DEF_OK(Q1("{'id':'q','type':'choice','options':['x']}"));
    DEF_OK(Q1("{'id':'q','type':'choice','options':['x'],'allow_other':true}"));
    DEF_OK(Q1("{'id':'q','type':'choice','options':['x'],'allow_other':false}"));
    DEF_OK(Q1("{'id':'q','type':'choice','options':['a','A']}")); /* distinct: case matters */

    char *list = string_list("o", 50);
    char *text = fmt(Q1("{'id':'q','type':'choice','options':[%s]}"), list);
    DEF_OK(text);
    free(text);
    free(list);
    list = string_list("o", 51);
    text = fmt(Q1("{'id':'q','type':'choice','options':[%s]}"), list);
    DEF_BAD(text, "questions[0].options");
    free(text);
    free(list);

    DEF_BAD(Q1("{'id':'q','type':'choice'}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':[]}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':null}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':'x'}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':{'x':'y'}}"), "questions[0].options");

    /* Each option: a string of 1 to 200 code points, distinct. */
    char *option = repeat(E_ACUTE, 200);
    text = fmt(Q1("{'id':'q','type':'choice','options':['%s']}"), option);
    DEF_OK(text);
    free(text);
    free(option);
    option = repeat(E_ACUTE, 201);
    text = fmt(Q1("{'id':'q','type':'choice','options':['a','%s']}"), option);
    DEF_BAD(text, "questions[0].options[1]");
    free(text);
    free(option);
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['']}"), "questions[0].options[0]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['a','']}"), "questions[0].options[1]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':[5]}"), "questions[0].options[0]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['a',null]}"), "questions[0].options[1]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['a','b','a']}"), "questions[0].options[2]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['a','a','a']}"), "questions[0].options[1]",
            "questions[0].options[2]");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['a',5,'a','']}"), "questions[0].options[1]",
            "questions[0].options[2]", "questions[0].options[3]");
    DEF_BAD(Q1("{'id':'a','type':'nps'},{'id':'q','type':'choice','options':['x','x']}"), "questions[1].options[1]");
    struct survey s;
    struct validate_errors errors;
    ck_assert(!run_definition("s1", Q1("{'id':'q','type':'choice','options':['a','a']}"), &s, &errors, __LINE__));
    assert_message(&errors, "questions[0].options[1]", "duplicate", __LINE__);
    validate_errors_free(&errors);

    DEF_BAD(Q1("{'id':'q','type':'choice','options':['x'],'allow_other':'yes'}"), "questions[0].allow_other");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['x'],'allow_other':1}"), "questions[0].allow_other");

    /* Choice keys on other types. */
    DEF_BAD(Q1("{'id':'q','type':'yes_no','options':['x']}"), "questions[0].options");
    DEF_BAD(Q1("{'id':'q','type':'text','allow_other':true}"), "questions[0].allow_other");
    DEF_BAD(Q1("{'id':'q','type':'nps','options':['x'],'allow_other':false}"), "questions[0].options",
            "questions[0].allow_other");
    DEF_BAD(Q1("{'id':'q','type':'choice','options':['x'],'max_length':5}"), "questions[0].max_length");
}
END_TEST

START_TEST(test_def_text_max_length)
{
    static const int ok[] = {1, 2, 2000, 9999, 10000};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct survey s;
        struct validate_errors errors;
        char *text = fmt(Q1("{'id':'q','type':'text','max_length':%d}"), ok[i]);
        ck_assert_msg(run_definition("s1", text, &s, &errors, __LINE__), "max_length %d refused", ok[i]);
        ck_assert_int_eq(s.questions[0].max_length, ok[i]);
        survey_free(&s);
        validate_errors_free(&errors);
        free(text);
    }
    static const char *const bad[] = {"0", "-1", "10001", "1e400", "2.5", "'100'", "true", "null", "1e20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = fmt(Q1("{'id':'q','type':'text','max_length':%s}"), bad[i]);
        DEF_BAD(text, "questions[0].max_length");
        free(text);
    }
    DEF_OK(Q1("{'id':'q','type':'text','max_length':10000.0}"));
    DEF_BAD(Q1("{'id':'q','type':'nps','max_length':10}"), "questions[0].max_length");
    DEF_BAD(Q1("{'id':'q','type':'yes_no','max_length':10}"), "questions[0].max_length");
}
END_TEST

START_TEST(test_def_allowed_origins)
{
    struct survey s;
    struct validate_errors errors;
    ck_assert(run_definition("s1",
                             "{'title':'T','allowed_origins':['https://a.example','http://localhost:8080',"
                             "'https://sub.a.example:8443','http://127.0.0.1:3000','http://[::1]:8080'],"
                             "'questions':[{'id':'q','type':'nps'}]}",
                             &s, &errors, __LINE__));
    ck_assert_int_eq(s.origin_count, 5);
    ck_assert_str_eq(s.allowed_origins[0], "https://a.example");
    ck_assert_str_eq(s.allowed_origins[1], "http://localhost:8080");
    ck_assert_str_eq(s.allowed_origins[4], "http://[::1]:8080");
    survey_free(&s);
    validate_errors_free(&errors);

    DEF_OK("{'title':'T','allowed_origins':[],'questions':[{'id':'q','type':'nps'}]}");
    DEF_OK("{'title':'T','allowed_origins':null,'questions':[{'id':'q','type':'nps'}]}");

    char *list = string_list("https://a.example:", 50);
    char *text = fmt("{'title':'T','allowed_origins':[%s],'questions':[{'id':'q','type':'nps'}]}", list);
    DEF_OK(text);
    free(text);
    free(list);
    list = string_list("https://a.example:", 51);
    text = fmt("{'title':'T','allowed_origins':[%s],'questions':[{'id':'q','type':'nps'}]}", list);
    DEF_BAD(text, "allowed_origins");
    free(text);
    free(list);

    DEF_BAD("{'title':'T','allowed_origins':'https://a.example','questions':[{'id':'q','type':'nps'}]}",
            "allowed_origins");
    DEF_BAD("{'title':'T','allowed_origins':{'o':'https://a.example'},'questions':[{'id':'q','type':'nps'}]}",
            "allowed_origins");
    DEF_BAD("{'title':'T','allowed_origins':true,'questions':[{'id':'q','type':'nps'}]}", "allowed_origins");

    static const char *const bad[] = {
        "https://a.example/",      "https://a.example/path", "https://a.example?q=1", "https://a.example#f",
        "ftp://a.example",         "a.example",              "//a.example",           "https://",
        "http://",                 "https://user@a.example", "https://a .example",    "",
        "ws://a.example",          "https:/a.example",       "https://a.example/\t",  " https://a.example",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = fmt("{'title':'T','allowed_origins':['https://ok.example','%s'],'questions':[{'id':'q','type':'nps'}]}",
                   bad[i]);
        DEF_BAD(text, "allowed_origins[1]");
        free(text);
    }
    DEF_BAD("{'title':'T','allowed_origins':[5],'questions':[{'id':'q','type':'nps'}]}", "allowed_origins[0]");
    DEF_BAD("{'title':'T','allowed_origins':[null],'questions':[{'id':'q','type':'nps'}]}", "allowed_origins[0]");
    DEF_BAD("{'title':'T','allowed_origins':['https://a.example','ftp://b','http://c.example/x'],"
            "'questions':[{'id':'q','type':'nps'}]}",
            "allowed_origins[1]", "allowed_origins[2]");
}
END_TEST

/* Several problems at once: every one reported, each under its own path. */
START_TEST(test_def_every_problem_reported)
{
    DEF_BAD("{'title':'','public':'no','colour':1,'allowed_origins':['ftp://x'],'questions':["
            "{'id':'A','type':'nps','scale':3},"
            "{'id':'b','type':'csat','scale':9},"
            "{'id':'c','type':'choice','options':['x','x']},"
            "{'id':'d','type':'text','max_length':0,'required':'y'},"
            "{'id':'b','type':'yes_no'}]}",
            "title", "public", "colour", "allowed_origins[0]", "questions[0].id", "questions[0].scale",
            "questions[1].scale", "questions[2].options[1]", "questions[3].max_length", "questions[3].required",
            "questions[4].id");
    DEF_BAD("{'id':'nope','questions':[{'id':'q','type':'stars'},{'id':'','type':'ces','scale':6}]}", "id", "title",
            "questions[0].type", "questions[1].id", "questions[1].scale");
}
END_TEST

/* Errors accumulate across calls; the result is about this call's problems only. */
START_TEST(test_def_errors_accumulate)
{
    struct survey s;
    struct validate_errors errors;
    validate_errors_init(&errors);
    ck_assert_ptr_null(errors.list);
    ck_assert_int_eq(errors.count, 0);

    cJSON *bad = parse_sq("{'title':'','questions':[{'id':'q','type':'nps'}]}", __LINE__);
    cJSON *good = parse_sq("{'title':'T','questions':[{'id':'q','type':'nps'}]}", __LINE__);
    ck_assert(!validate_definition("s1", bad, &s, &errors));
    ck_assert_int_eq(errors.count, 1);
    ck_assert(validate_definition("s1", good, &s, &errors));
    ck_assert_int_eq(errors.count, 1);
    survey_free(&s);
    ck_assert(!validate_definition("s1", bad, &s, &errors));
    ck_assert_int_eq(errors.count, 2);
    assert_fields(&errors, FIELDS("title", "title"), "two bad definitions", __LINE__);
    cJSON_Delete(bad);
    cJSON_Delete(good);
    validate_errors_free(&errors);
    ck_assert_ptr_null(errors.list);
    ck_assert_int_eq(errors.count, 0);

    /* validate_error itself formats its message. */
    validate_error(&errors, "x.y", "must be %d to %s", 1, "two");
    ck_assert_int_eq(errors.count, 1);
    assert_message(&errors, "x.y", "must be 1 to two", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

/* The normalised definition validates again to the same normalised definition. */
static void assert_round_trip(const char *text, int line)
{
    struct survey s1, s2, s3;
    struct validate_errors e1, e2, e3;
    ck_assert_msg(run_definition("s1", text, &s1, &e1, line), "line %d: refused %s: %s", line, text,
                  fields_text(&e1));
    cJSON *n1 = validate_definition_to_json(&s1);
    char *t1 = cJSON_PrintUnformatted(n1);

    validate_errors_init(&e2);
    ck_assert_msg(validate_definition("s1", n1, &s2, &e2), "line %d: normalised form refused: %s\n  %s", line,
                  fields_text(&e2), t1);
    cJSON *n2 = validate_definition_to_json(&s2);
    char *t2 = cJSON_PrintUnformatted(n2);
    ck_assert_msg(cJSON_Compare(n1, n2, true), "line %d: not stable\n  %s\n  %s", line, t1, t2);
    ck_assert_str_eq(t1, t2);

    /* As served by GET: with the id and timestamps added. Still the same definition. */
    cJSON_AddStringToObject(n2, "id", "s1");
    cJSON_AddStringToObject(n2, "created_at", "2026-11-18T11:06:40.000Z");
    cJSON_AddStringToObject(n2, "updated_at", "2026-11-18T11:06:40.000Z");
    validate_errors_init(&e3);
    ck_assert_msg(validate_definition("s1", n2, &s3, &e3), "line %d: served form refused: %s", line,
                  fields_text(&e3));
    cJSON *n3 = validate_definition_to_json(&s3);
    ck_assert_msg(cJSON_Compare(n1, n3, true), "line %d: served form normalises differently", line);

    free(t1);
    free(t2);
    cJSON_Delete(n1);
    cJSON_Delete(n2);
    cJSON_Delete(n3);
    survey_free(&s1);
    survey_free(&s2);
    survey_free(&s3);
    validate_errors_free(&e1);
    validate_errors_free(&e2);
    validate_errors_free(&e3);
}

START_TEST(test_def_normalised_round_trip)
{
    static const char rich[] =
        "{'title':'Support " E_ACUTE " " EMOJI "','public':true,"
        "'allowed_origins':['https://a.example','http://localhost:8080'],'questions':["
        "{'id':'rec','type':'nps','text':'How likely?','required':true},"
        "{'id':'sat','type':'csat','scale':2},"
        "{'id':'sat5','type':'csat'},"
        "{'id':'easy','type':'ces'},"
        "{'id':'fixed','type':'yes_no','required':false},"
        "{'id':'why','type':'choice','options':['price','speed'],'allow_other':true},"
        "{'id':'pick','type':'choice','options':['a']},"
        "{'id':'note','type':'text','max_length':3,'text':'Anything else?'},"
        "{'id':'essay','type':'text'}],"
        "'created_at':'2026-01-01T00:00:00Z','id':'s1'}";
    NORMALISED(rich, "{'title':'Support " E_ACUTE " " EMOJI "','public':true,"
                     "'allowed_origins':['https://a.example','http://localhost:8080'],'questions':["
                     "{'id':'rec','type':'nps','text':'How likely?','required':true},"
                     "{'id':'sat','type':'csat','required':false,'scale':2},"
                     "{'id':'sat5','type':'csat','required':false,'scale':5},"
                     "{'id':'easy','type':'ces','required':false,'scale':7},"
                     "{'id':'fixed','type':'yes_no','required':false},"
                     "{'id':'why','type':'choice','required':false,'options':['price','speed'],'allow_other':true},"
                     "{'id':'pick','type':'choice','required':false,'options':['a'],'allow_other':false},"
                     "{'id':'note','type':'text','text':'Anything else?','required':false,'max_length':3},"
                     "{'id':'essay','type':'text','required':false,'max_length':2000}],'sample_rate':1}");
    assert_round_trip(rich, __LINE__);
    assert_round_trip(Q1("{'id':'q','type':'nps'}"), __LINE__);
    assert_round_trip(main_survey, __LINE__);
    char *text = definition_with_questions(50);
    assert_round_trip(text, __LINE__);
    free(text);
}
END_TEST

/* ====================================================================== */
/* responses                                                              */
/* ====================================================================== */

START_TEST(test_resp_nps)
{
    ANSWER_OK("{'answers':{'rec':0}}", "{'rec':0}", 0, 0);
    ANSWER_OK("{'answers':{'rec':10}}", "{'rec':10}", 0, 10);
    ANSWER_OK("{'answers':{'rec':7}}", "{'rec':7}", 0, 7);
    /* Any JSON number with an integral value. */
    ANSWER_OK("{'answers':{'rec':9.0}}", "{'rec':9}", 0, 9);
    ANSWER_OK("{'answers':{'rec':9e0}}", "{'rec':9}", 0, 9);
    ANSWER_OK("{'answers':{'rec':0.9e1}}", "{'rec':9}", 0, 9);
    ANSWER_OK("{'answers':{'rec':900e-2}}", "{'rec':9}", 0, 9);
    ANSWER_OK("{'answers':{'rec':1E1}}", "{'rec':10}", 0, 10);
    ANSWER_OK("{'answers':{'rec':-0}}", "{'rec':0}", 0, 0);
    ANSWER_OK("{'answers':{'rec':-0.0}}", "{'rec':0}", 0, 0);
    ANSWER_OK("{'answers':{'rec':0e5}}", "{'rec':0}", 0, 0);

    static const char *const bad[] = {"-1",     "11",   "9.5",   "10.000001",          "-0.5", "0.1",
                                      "1e400",  "-1e400", "1e20", "-1e20", "9223372036854775808", "1e-320"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *body = fmt("{'answers':{'rec':%s}}", bad[i]);
        MAIN_BAD(body, "answers.rec");
        free(body);
    }
    MAIN_BAD("{'answers':{'rec':'9'}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':true}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':[9]}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':{'value':9}}}", "answers.rec");

    struct response r;
    struct validate_errors errors;
    ck_assert(!run_response(main_survey, "{'answers':{'rec':11}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.rec", "0 to 10", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_resp_csat)
{
    /* Default scale 5. */
    ANSWER_OK("{'answers':{'rec':0,'sat5':1}}", "{'rec':0,'sat5':1}", 2, 1);
    ANSWER_OK("{'answers':{'rec':0,'sat5':5}}", "{'rec':0,'sat5':5}", 2, 5);
    ANSWER_OK("{'answers':{'rec':0,'sat5':3.0}}", "{'rec':0,'sat5':3}", 2, 3);
    MAIN_BAD("{'answers':{'rec':0,'sat5':0}}", "answers.sat5");
    MAIN_BAD("{'answers':{'rec':0,'sat5':6}}", "answers.sat5");
    MAIN_BAD("{'answers':{'rec':0,'sat5':2.5}}", "answers.sat5");
    MAIN_BAD("{'answers':{'rec':0,'sat5':'good'}}", "answers.sat5"); /* words only on scale 2 */
    MAIN_BAD("{'answers':{'rec':0,'sat5':'bad'}}", "answers.sat5");
    MAIN_BAD("{'answers':{'rec':0,'sat5':'3'}}", "answers.sat5");

    /* Scale 2: 1, 2, "bad" and "good". */
    ANSWER_OK("{'answers':{'rec':0,'sat':1}}", "{'rec':0,'sat':1}", 1, 1);
    ANSWER_OK("{'answers':{'rec':0,'sat':2}}", "{'rec':0,'sat':2}", 1, 2);
    ANSWER_OK("{'answers':{'rec':0,'sat':'bad'}}", "{'rec':0,'sat':1}", 1, 1);
    ANSWER_OK("{'answers':{'rec':0,'sat':'good'}}", "{'rec':0,'sat':2}", 1, 2);
    static const char *const sat2_bad[] = {"0", "3", "'Good'", "'GOOD'", "'neutral'", "''", "' good'", "'good '",
                                           "true", "1.5", "'1'"};
    for (size_t i = 0; i < sizeof sat2_bad / sizeof sat2_bad[0]; i++) {
        char *body = fmt("{'answers':{'rec':0,'sat':%s}}", sat2_bad[i]);
        MAIN_BAD(body, "answers.sat");
        free(body);
    }

    /* Scale 10. */
    ANSWER_OK("{'answers':{'rec':0,'sat10':10}}", "{'rec':0,'sat10':10}", 3, 10);
    ANSWER_OK("{'answers':{'rec':0,'sat10':1}}", "{'rec':0,'sat10':1}", 3, 1);
    MAIN_BAD("{'answers':{'rec':0,'sat10':11}}", "answers.sat10");
    MAIN_BAD("{'answers':{'rec':0,'sat10':0}}", "answers.sat10");
}
END_TEST

START_TEST(test_resp_ces)
{
    ANSWER_OK("{'answers':{'rec':0,'easy':1}}", "{'rec':0,'easy':1}", 4, 1);
    ANSWER_OK("{'answers':{'rec':0,'easy':5}}", "{'rec':0,'easy':5}", 4, 5);
    MAIN_BAD("{'answers':{'rec':0,'easy':0}}", "answers.easy");
    MAIN_BAD("{'answers':{'rec':0,'easy':6}}", "answers.easy");
    MAIN_BAD("{'answers':{'rec':0,'easy':7}}", "answers.easy");
    MAIN_BAD("{'answers':{'rec':0,'easy':'good'}}", "answers.easy");
    MAIN_BAD("{'answers':{'rec':0,'easy':4.5}}", "answers.easy");
    /* Default scale 7. */
    ANSWER_OK("{'answers':{'rec':0,'effort':7}}", "{'rec':0,'effort':7}", 5, 7);
    ANSWER_OK("{'answers':{'rec':0,'effort':1}}", "{'rec':0,'effort':1}", 5, 1);
    MAIN_BAD("{'answers':{'rec':0,'effort':8}}", "answers.effort");
    MAIN_BAD("{'answers':{'rec':0,'effort':0}}", "answers.effort");
    MAIN_BAD("{'answers':{'rec':0,'effort':-1}}", "answers.effort");
}
END_TEST

START_TEST(test_resp_yes_no)
{
    ANSWER_OK("{'answers':{'rec':0,'fixed':true}}", "{'rec':0,'fixed':true}", 6, 1);
    ANSWER_OK("{'answers':{'rec':0,'fixed':false}}", "{'rec':0,'fixed':false}", 6, 0);
    MAIN_OK("{'answers':{'rec':0,'fixed':null}}", "{'rec':0}");
    static const char *const bad[] = {"1", "0", "'true'", "'yes'", "'false'", "[]", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *body = fmt("{'answers':{'rec':0,'fixed':%s}}", bad[i]);
        MAIN_BAD(body, "answers.fixed");
        free(body);
    }
}
END_TEST

START_TEST(test_resp_choice)
{
    ANSWER_OK("{'answers':{'rec':0,'why':'price'}}", "{'rec':0,'why':'price'}", 7, 0);
    ANSWER_OK("{'answers':{'rec':0,'why':'speed'}}", "{'rec':0,'why':'speed'}", 7, 1);
    ANSWER_OK("{'answers':{'rec':0,'why':'other stuff'}}", "{'rec':0,'why':'other stuff'}", 7, 2);
    ANSWER_TEXT_OK("{'answers':{'rec':0,'why':{'other':'colour'}}}", "{'rec':0,'why':{'other':'colour'}}", 7, -1,
                   "colour");
    ANSWER_OK("{'answers':{'rec':0,'pick':'a'}}", "{'rec':0,'pick':'a'}", 8, 0);
    ANSWER_OK("{'answers':{'rec':0,'pick':'b'}}", "{'rec':0,'pick':'b'}", 8, 1);

    /* The write-in: 1 to 2000 code points. */
    char *other = repeat(E_ACUTE, 2000);
    char *body = fmt("{'answers':{'rec':0,'why':{'other':'%s'}}}", other);
    char *stored = fmt("{'rec':0,'why':{'other':'%s'}}", other);
    ANSWER_TEXT_OK(body, stored, 7, -1, other);
    free(body);
    free(stored);
    free(other);
    other = repeat(E_ACUTE, 2001);
    body = fmt("{'answers':{'rec':0,'why':{'other':'%s'}}}", other);
    MAIN_BAD(body, "answers.why");
    free(body);
    free(other);
    other = repeat("x", 2001);
    body = fmt("{'answers':{'rec':0,'why':{'other':'%s'}}}", other);
    MAIN_BAD(body, "answers.why");
    free(body);
    free(other);

    static const char *const why_bad[] = {
        "'Price'",         "'price '",       "''",          "0",                       "1",
        "['price']",       "true",           "{'other':''}", "{'other':5}",             "{'other':null}",
        "{'other':'x','more':'y'}", "{}",    "{'Other':'x'}", "{'other':['x']}",        "{'choice':'price'}",
    };
    for (size_t i = 0; i < sizeof why_bad / sizeof why_bad[0]; i++) {
        body = fmt("{'answers':{'rec':0,'why':%s}}", why_bad[i]);
        MAIN_BAD(body, "answers.why");
        free(body);
    }
    /* Without allow_other, no write-in. */
    MAIN_BAD("{'answers':{'rec':0,'pick':{'other':'x'}}}", "answers.pick");
    MAIN_BAD("{'answers':{'rec':0,'pick':'c'}}", "answers.pick");
    MAIN_BAD("{'answers':{'rec':0,'pick':'A'}}", "answers.pick");
    MAIN_BAD("{'answers':{'rec':0,'pick':0}}", "answers.pick");

    struct response r;
    struct validate_errors errors;
    ck_assert(!run_response(main_survey, "{'answers':{'rec':0,'why':{'other':''}}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.why", "other", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_resp_text)
{
    ANSWER_TEXT_OK("{'answers':{'rec':0,'note':'abc'}}", "{'rec':0,'note':'abc'}", 9, 0, "abc");
    ANSWER_TEXT_OK("{'answers':{'rec':0,'note':'a'}}", "{'rec':0,'note':'a'}", 9, 0, "a");
    ANSWER_TEXT_OK("{'answers':{'rec':0,'note':' '}}", "{'rec':0,'note':' '}", 9, 0, " ");
    /* Code points, not bytes. */
    ANSWER_TEXT_OK("{'answers':{'rec':0,'note':'" E_ACUTE E_ACUTE E_ACUTE "'}}",
                   "{'rec':0,'note':'" E_ACUTE E_ACUTE E_ACUTE "'}", 9, 0, E_ACUTE E_ACUTE E_ACUTE);
    ANSWER_TEXT_OK("{'answers':{'rec':0,'note':'" EMOJI EMOJI EMOJI "'}}", "{'rec':0,'note':'" EMOJI EMOJI EMOJI "'}",
                   9, 0, EMOJI EMOJI EMOJI);
    MAIN_BAD("{'answers':{'rec':0,'note':'abcd'}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':'" E_ACUTE E_ACUTE E_ACUTE E_ACUTE "'}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':'" EMOJI EMOJI EMOJI "x'}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':5}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':true}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':['a']}}", "answers.note");
    MAIN_BAD("{'answers':{'rec':0,'note':{'other':'a'}}}", "answers.note");

    /* An empty text is a skipped question: not stored, not an error. */
    MAIN_OK("{'answers':{'rec':0,'note':''}}", "{'rec':0}");
    MAIN_OK("{'answers':{'rec':0,'note':'','essay':''}}", "{'rec':0}");
    MAIN_OK("{'answers':{'rec':0,'note':null}}", "{'rec':0}");

    /* Default max_length 2000. */
    static const char *const units[] = {"x", E_ACUTE};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        char *essay = repeat(units[u], 2000);
        char *body = fmt("{'answers':{'rec':0,'essay':'%s'}}", essay);
        char *stored = fmt("{'rec':0,'essay':'%s'}", essay);
        ANSWER_TEXT_OK(body, stored, 10, 0, essay);
        free(body);
        free(stored);
        free(essay);
        essay = repeat(units[u], 2001);
        body = fmt("{'answers':{'rec':0,'essay':'%s'}}", essay);
        MAIN_BAD(body, "answers.essay");
        free(body);
        free(essay);
    }
}
END_TEST

START_TEST(test_resp_required)
{
    MAIN_BAD("{'answers':{'sat5':4}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':null,'sat5':4}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':null}}", "answers.rec");
    /* An invalid answer to a required question is one problem, not two. */
    MAIN_BAD("{'answers':{'rec':11}}", "answers.rec");
    struct response r;
    struct validate_errors errors;
    ck_assert(!run_response(main_survey, "{'answers':{'sat5':4}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.rec", "is required", __LINE__);
    validate_errors_free(&errors);

    /* An empty text does not satisfy required. */
    RESP_OK(required_text_survey, "{'answers':{'why':'x'}}", "{'why':'x'}");
    RESP_OK(required_text_survey, "{'answers':{'a':1,'why':'x'}}", "{'a':1,'why':'x'}");
    RESP_BAD(required_text_survey, "{'answers':{'a':1}}", "answers.why");
    RESP_BAD(required_text_survey, "{'answers':{'a':1,'why':''}}", "answers.why");
    RESP_BAD(required_text_survey, "{'answers':{'a':1,'why':null}}", "answers.why");
    ck_assert(!run_response(required_text_survey, "{'answers':{'a':1,'why':''}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.why", "is required", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_resp_at_least_one_answer)
{
    RESP_BAD(optional_survey, "{'answers':{}}", "answers");
    RESP_BAD(optional_survey, "{'answers':{'a':null}}", "answers");
    RESP_BAD(optional_survey, "{'answers':{'t':''}}", "answers");
    RESP_BAD(optional_survey, "{'answers':{'a':null,'t':''}}", "answers");
    RESP_OK(optional_survey, "{'answers':{'a':null,'t':'x'}}", "{'t':'x'}");
    RESP_OK(optional_survey, "{'answers':{'a':0}}", "{'a':0}");
    RESP_OK(optional_survey, "{'answers':{'t':'x','a':null}}", "{'t':'x'}");
    /* An invalid only answer is reported as itself. */
    RESP_BAD(optional_survey, "{'answers':{'a':11}}", "answers.a");
}
END_TEST

START_TEST(test_resp_answers_structure)
{
    MAIN_BAD("{'answers':{'rec':1,'nope':1}}", "answers.nope");
    MAIN_BAD("{'answers':{'rec':1,'Rec':1}}", "answers.Rec");
    MAIN_BAD("{'answers':{'rec':1,'a':1,'b':2}}", "answers.a", "answers.b");
    MAIN_BAD("{'answers':{'rec':1,'':1}}", "answers.");
    struct response r;
    struct validate_errors errors;
    ck_assert(!run_response(main_survey, "{'answers':{'rec':1,'nope':1}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.nope", "no such question", __LINE__);
    validate_errors_free(&errors);

    /* Duplicate answer keys. */
    MAIN_BAD("{'answers':{'rec':1,'rec':2}}", "answers.rec");
    MAIN_BAD("{'answers':{'rec':1,'sat5':2,'sat5':3}}", "answers.sat5");
    MAIN_BAD("{'answers':{'rec':1,'sat5':2,'sat5':2}}", "answers.sat5");
    ck_assert(!run_response(main_survey, "{'answers':{'rec':1,'rec':2}}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers.rec", "duplicate", __LINE__);
    validate_errors_free(&errors);

    /* answers itself. */
    MAIN_BAD("{}", "answers");
    MAIN_BAD("{'channel':'web'}", "answers");
    MAIN_BAD("{'answers':null}", "answers");
    MAIN_BAD("{'answers':[]}", "answers");
    MAIN_BAD("{'answers':[{'rec':1}]}", "answers");
    MAIN_BAD("{'answers':'rec'}", "answers");
    MAIN_BAD("{'answers':5}", "answers");
    ck_assert(!run_response(main_survey, "{}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "answers", "is required", __LINE__);
    validate_errors_free(&errors);
    MAIN_BAD("{'answers':{'rec':1},'answers':{'rec':2}}", "answers");

    /* The body itself. */
    MAIN_BAD("[1]", "");
    MAIN_BAD("null", "");
    MAIN_BAD("'answers'", "");
    MAIN_BAD("[{'answers':{'rec':1}}]", "");
    struct survey survey;
    load_survey(main_survey, &survey, __LINE__);
    validate_errors_init(&errors);
    ck_assert(!validate_response(&survey, NULL, NOW_MS, &r, &errors));
    assert_response_empty(&r, __LINE__);
    assert_fields(&errors, FIELDS(""), "NULL body", __LINE__);
    validate_errors_free(&errors);
    survey_free(&survey);
}
END_TEST

START_TEST(test_resp_canonical_order)
{
    struct response r;
    struct validate_errors errors;
    ck_assert(run_response(main_survey,
                           "{'answers':{'essay':'hi','why':{'other':'w'},'fixed':true,'rec':9,'sat':'good'}}",
                           NOW_MS, &r, &errors, __LINE__));
    ck_assert_str_eq(r.answers_json, "{\"rec\":9,\"sat\":2,\"fixed\":true,\"why\":{\"other\":\"w\"},\"essay\":\"hi\"}");
    ck_assert_int_eq(r.answer_count, 5);
    static const int questions[] = {0, 1, 6, 7, 10};
    static const int64_t numbers[] = {9, 2, 1, -1};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(r.answers[i].question, questions[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r.answers[i].number, numbers[i]);
    ck_assert_ptr_null(r.answers[0].text);
    ck_assert_ptr_null(r.answers[1].text);
    ck_assert_ptr_null(r.answers[2].text);
    ck_assert_str_eq(r.answers[3].text, "w");
    ck_assert_str_eq(r.answers[4].text, "hi");
    ck_assert_str_eq(r.survey, "s1");
    ck_assert_str_eq(r.id, "");
    ck_assert_int_eq(r.received_at, NOW_MS);
    ck_assert_int_eq(r.submitted_at, NOW_MS);
    ck_assert_ptr_null(r.channel);
    ck_assert_ptr_null(r.customer);
    ck_assert_ptr_null(r.agent);
    ck_assert_ptr_null(r.interaction);
    ck_assert_ptr_null(r.properties_json);
    survey_response_free(&r);
    validate_errors_free(&errors);

    /* Any input order gives the same stored form. */
    MAIN_OK("{'answers':{'sat':2,'rec':9}}", "{'rec':9,'sat':2}");
    MAIN_OK("{'answers':{'rec':9,'sat':2}}", "{'rec':9,'sat':2}");
    MAIN_OK("{'answers':{'note':'abc','rec':10}}", "{'rec':10,'note':'abc'}");
}
END_TEST

START_TEST(test_resp_channel)
{
    struct response r;
    struct validate_errors errors;
    ck_assert(run_response(main_survey, "{'answers':{'rec':1},'channel':'chat'}", NOW_MS, &r, &errors, __LINE__));
    ck_assert_str_eq(r.channel, "chat");
    survey_response_free(&r);
    validate_errors_free(&errors);
    ck_assert(run_response(main_survey, "{'answers':{'rec':1},'channel':null}", NOW_MS, &r, &errors, __LINE__));
    ck_assert_ptr_null(r.channel);
    survey_response_free(&r);
    validate_errors_free(&errors);

    static const char *const ok[] = {"a", "0", "web", "in-app", "e_mail", "_x", "-", "chat2"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *body = fmt("{'answers':{'rec':1},'channel':'%s'}", ok[i]);
        ck_assert_msg(run_response(main_survey, body, NOW_MS, &r, &errors, __LINE__), "channel %s refused", ok[i]);
        ck_assert_str_eq(r.channel, ok[i]);
        survey_response_free(&r);
        validate_errors_free(&errors);
        free(body);
    }
    char *channel = repeat("a", 32);
    char *body = fmt("{'answers':{'rec':1},'channel':'%s'}", channel);
    MAIN_OK(body, "{'rec':1}");
    free(body);
    free(channel);
    channel = repeat("a", 33);
    body = fmt("{'answers':{'rec':1},'channel':'%s'}", channel);
    MAIN_BAD(body, "channel");
    free(body);
    free(channel);

    static const char *const bad[] = {"''", "'Chat'", "'web chat'", "'chat!'", "'ch" E_ACUTE "t'", "'a.b'",
                                      "'a/b'", "5", "true", "{}", "['web']"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = fmt("{'answers':{'rec':1},'channel':%s}", bad[i]);
        MAIN_BAD(body, "channel");
        free(body);
    }
}
END_TEST

START_TEST(test_resp_opaque_ids)
{
    static const char *const names[] = {"customer", "agent", "interaction"};
    for (size_t n = 0; n < 3; n++) {
        struct response r;
        struct validate_errors errors;
        static const char *const units[] = {"x", E_ACUTE, EMOJI};
        for (size_t u = 0; u < 3; u++) {
            char *value = repeat(units[u], 128);
            char *body = fmt("{'answers':{'rec':1},'%s':'%s'}", names[n], value);
            ck_assert_msg(run_response(main_survey, body, NOW_MS, &r, &errors, __LINE__), "%s", body);
            const char *got = n == 0 ? r.customer : n == 1 ? r.agent : r.interaction;
            ck_assert_str_eq(got, value);
            /* Only that one is set. */
            ck_assert_int_eq((r.customer != NULL) + (r.agent != NULL) + (r.interaction != NULL), 1);
            survey_response_free(&r);
            validate_errors_free(&errors);
            free(body);
            free(value);

            value = repeat(units[u], 129);
            body = fmt("{'answers':{'rec':1},'%s':'%s'}", names[n], value);
            RESP_BAD(main_survey, body, names[n]);
            free(body);
            free(value);
        }
        char *body = fmt("{'answers':{'rec':1},'%s':null}", names[n]);
        ck_assert(run_response(main_survey, body, NOW_MS, &r, &errors, __LINE__));
        ck_assert(r.customer == NULL && r.agent == NULL && r.interaction == NULL);
        survey_response_free(&r);
        validate_errors_free(&errors);
        free(body);

        static const char *const bad[] = {"''", "5", "true", "{}", "['c']"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            body = fmt("{'answers':{'rec':1},'%s':%s}", names[n], bad[i]);
            RESP_BAD(main_survey, body, names[n]);
            free(body);
        }
    }
    struct response r;
    struct validate_errors errors;
    ck_assert(run_response(main_survey, "{'answers':{'rec':1},'customer':'c-1','agent':'Ann B','interaction':'t/1'}",
                           NOW_MS, &r, &errors, __LINE__));
    ck_assert_str_eq(r.customer, "c-1");
    ck_assert_str_eq(r.agent, "Ann B");
    ck_assert_str_eq(r.interaction, "t/1");
    survey_response_free(&r);
    validate_errors_free(&errors);
    MAIN_BAD("{'answers':{'rec':1},'customer':'','agent':'','interaction':''}", "customer", "agent", "interaction");
}
END_TEST

static void submitted_ok(const char *value, int64_t expected, int line)
{
    struct response r;
    struct validate_errors errors;
    char *body = fmt("{'answers':{'rec':1},'submitted_at':%s}", value);
    ck_assert_msg(run_response(main_survey, body, NOW_MS, &r, &errors, line), "line %d: refused %s: %s", line, body,
                  fields_text(&errors));
    ck_assert_msg(r.submitted_at == expected, "line %d: %s: submitted_at %lld, expected %lld", line, value,
                  (long long)r.submitted_at, (long long)expected);
    ck_assert_int_eq(r.received_at, NOW_MS);
    survey_response_free(&r);
    validate_errors_free(&errors);
    free(body);
}

static void submitted_bad(const char *value, const char *message, int line)
{
    struct response r;
    struct validate_errors errors;
    char *body = fmt("{'answers':{'rec':1},'submitted_at':%s}", value);
    ck_assert_msg(!run_response(main_survey, body, NOW_MS, &r, &errors, line), "line %d: accepted %s", line, body);
    assert_response_empty(&r, line);
    assert_fields(&errors, FIELDS("submitted_at"), body, line);
    if (message)
        assert_message(&errors, "submitted_at", message, line);
    validate_errors_free(&errors);
    free(body);
}

#define SUBMITTED_OK(value, ms) submitted_ok((value), (ms), __LINE__)
#define SUBMITTED_BAD(value, message) submitted_bad((value), (message), __LINE__)

START_TEST(test_resp_submitted_at)
{
    struct response r;
    struct validate_errors errors;
    ck_assert(run_response(main_survey, "{'answers':{'rec':1}}", NOW_MS, &r, &errors, __LINE__));
    ck_assert_int_eq(r.submitted_at, NOW_MS); /* default: now */
    ck_assert_int_eq(r.received_at, NOW_MS);
    survey_response_free(&r);
    validate_errors_free(&errors);
    SUBMITTED_OK("null", NOW_MS);

    SUBMITTED_OK("'2026-11-18T08:00:00+01:00'", INT64_C(1794985200000));
    SUBMITTED_OK("'2026-11-18T07:00:00Z'", INT64_C(1794985200000));
    SUBMITTED_OK("'2026-11-18t11:06:40z'", NOW_MS);
    SUBMITTED_OK("'2026-11-18T11:06:40.5Z'", NOW_MS + 500);
    /* At most 5 minutes ahead of now (2026-11-18T11:06:40Z). */
    SUBMITTED_OK("'2026-11-18T11:11:40Z'", NOW_MS + 5 * 60 * 1000);
    SUBMITTED_OK("'2026-11-18T12:11:40+01:00'", NOW_MS + 5 * 60 * 1000);
    SUBMITTED_OK("'2026-11-18T11:11:39.999Z'", NOW_MS + 5 * 60 * 1000 - 1);
    SUBMITTED_BAD("'2026-11-18T11:11:40.001Z'", "future");
    SUBMITTED_BAD("'2026-11-18T11:11:41Z'", "future");
    SUBMITTED_BAD("'2026-11-18T06:11:41-05:00'", "future");
    SUBMITTED_BAD("'2027-01-01T00:00:00Z'", "future");
    /* 1970 or later. */
    SUBMITTED_OK("'1970-01-01T00:00:00Z'", 0);
    SUBMITTED_OK("'1970-01-01T01:00:00+01:00'", 0);
    SUBMITTED_OK("'1970-01-01T00:00:00.001Z'", 1);
    SUBMITTED_BAD("'1969-12-31T23:59:59.999Z'", NULL);
    SUBMITTED_BAD("'1970-01-01T00:30:00+01:00'", NULL);
    SUBMITTED_BAD("'0001-01-01T00:00:00Z'", NULL);
    /* RFC 3339 date-times only. */
    SUBMITTED_BAD("'2026-11-18'", NULL);
    SUBMITTED_BAD("'yesterday'", NULL);
    SUBMITTED_BAD("''", NULL);
    SUBMITTED_BAD("'2026-11-18T10:00:00'", NULL);
    SUBMITTED_BAD("'2026-11-18 10:00:00Z'", NULL);
    SUBMITTED_BAD("'2026-11-18T23:59:60Z'", NULL);
    SUBMITTED_BAD("1795000000000", NULL);
    SUBMITTED_BAD("true", NULL);
    SUBMITTED_BAD("{}", NULL);

    /* The bound moves with now. */
    ck_assert(run_response(main_survey, "{'answers':{'rec':1},'submitted_at':'2026-11-18T11:11:41Z'}",
                           NOW_MS + 1000, &r, &errors, __LINE__));
    ck_assert_int_eq(r.received_at, NOW_MS + 1000);
    ck_assert_int_eq(r.submitted_at, NOW_MS + 5 * 60 * 1000 + 1000);
    survey_response_free(&r);
    validate_errors_free(&errors);
}
END_TEST

static void properties_ok(const char *value, const char *expected, int line)
{
    struct response r;
    struct validate_errors errors;
    char *body = fmt("{'answers':{'rec':1},'properties':%s}", value);
    ck_assert_msg(run_response(main_survey, body, NOW_MS, &r, &errors, line), "line %d: refused %s: %s", line, body,
                  fields_text(&errors));
    if (expected == NULL) {
        ck_assert_msg(r.properties_json == NULL, "line %d: properties_json %s, expected NULL", line,
                      r.properties_json);
    } else {
        char *want = strdup(expected);
        for (char *p = want; *p; p++) {
            if (*p == '\'')
                *p = '"';
        }
        ck_assert_msg(r.properties_json != NULL && strcmp(r.properties_json, want) == 0,
                      "line %d: properties_json %s, expected %s", line,
                      r.properties_json ? r.properties_json : "NULL", want);
        free(want);
    }
    survey_response_free(&r);
    validate_errors_free(&errors);
    free(body);
}

#define PROPS_OK(value, expected) properties_ok((value), (expected), __LINE__)

START_TEST(test_resp_properties)
{
    struct response r;
    struct validate_errors errors;
    ck_assert(run_response(main_survey, "{'answers':{'rec':1}}", NOW_MS, &r, &errors, __LINE__));
    ck_assert_ptr_null(r.properties_json);
    survey_response_free(&r);
    validate_errors_free(&errors);

    PROPS_OK("{'plan':'pro'}", "{'plan':'pro'}");
    PROPS_OK("{'b':'2','a':'1'}", "{'b':'2','a':'1'}");
    PROPS_OK("{'k':''}", "{'k':''}");
    PROPS_OK("null", NULL);
    PROPS_OK("{}", NULL);

    /* (The 20-entry limit: test_resp_properties_count.) Keys: 1 to 64 code points; values: strings of at most 256. */
    static const char *const units[] = {"k", E_ACUTE};
    for (size_t u = 0; u < 2; u++) {
        char *key = repeat(units[u], 64);
        char *value = fmt("{'%s':'v'}", key);
        PROPS_OK(value, value);
        free(value);
        free(key);
        value = repeat(units[u], 256);
        char *props = fmt("{'k':'%s'}", value);
        PROPS_OK(props, props);
        free(props);
        free(value);
        value = repeat(units[u], 257);
        props = fmt("{'answers':{'rec':1},'properties':{'k':'%s'}}", value);
        MAIN_BAD(props, "properties.k");
        free(props);
        free(value);
    }
    char *key = repeat("k", 65);
    char *body = fmt("{'answers':{'rec':1},'properties':{'%s':'v'}}", key);
    char *field = fmt("properties.%s", key);
    MAIN_BAD(body, field);
    free(field);
    free(body);
    free(key);
    MAIN_BAD("{'answers':{'rec':1},'properties':{'':'v'}}", "properties.");

    static const char *const bad_values[] = {"5", "null", "true", "{}", "['v']"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        body = fmt("{'answers':{'rec':1},'properties':{'k':%s}}", bad_values[i]);
        MAIN_BAD(body, "properties.k");
        free(body);
    }
    MAIN_BAD("{'answers':{'rec':1},'properties':{'a':1,'b':'ok','c':false}}", "properties.a", "properties.c");
    MAIN_BAD("{'answers':{'rec':1},'properties':{'k':'a','k':'b'}}", "properties.k");
    ck_assert(!run_response(main_survey, "{'answers':{'rec':1},'properties':{'k':'a','k':'b'}}", NOW_MS, &r, &errors,
                            __LINE__));
    assert_message(&errors, "properties.k", "duplicate", __LINE__);
    validate_errors_free(&errors);

    MAIN_BAD("{'answers':{'rec':1},'properties':[]}", "properties");
    MAIN_BAD("{'answers':{'rec':1},'properties':[['k','v']]}", "properties");
    MAIN_BAD("{'answers':{'rec':1},'properties':'k=v'}", "properties");
    MAIN_BAD("{'answers':{'rec':1},'properties':5}", "properties");
}
END_TEST

START_TEST(test_resp_properties_count)
{
    char *entries = strdup("");
    for (int i = 0; i < 20; i++) {
        char *next = fmt("%s%s'k%d':'v'", entries, i ? "," : "", i);
        free(entries);
        entries = next;
    }
    char *twenty = fmt("{%s}", entries);
    PROPS_OK(twenty, twenty);
    char *twenty_one = fmt("{%s,'k20':'v'}", entries);
    char *body = fmt("{'answers':{'rec':1},'properties':%s}", twenty_one);
    MAIN_BAD(body, "properties");
    free(body);
    free(twenty_one);
    free(twenty);
    free(entries);
}
END_TEST

START_TEST(test_resp_unknown_top_level_keys)
{
    MAIN_BAD("{'answers':{'rec':1},'extra':1}", "extra");
    MAIN_BAD("{'answers':{'rec':1},'Answers':{'rec':1}}", "Answers");
    MAIN_BAD("{'answers':{'rec':1},'id':'r1'}", "id");
    MAIN_BAD("{'answers':{'rec':1},'received_at':'2026-11-18T11:06:40Z'}", "received_at");
    MAIN_BAD("{'answers':{'rec':1},'x':1,'y':2}", "x", "y");
    MAIN_BAD("{'answers':{'rec':1},'channel':'web','channel':'chat'}", "channel");
    MAIN_BAD("{'answers':{'rec':1},'customer':'a','customer':'a'}", "customer");
    struct response r;
    struct validate_errors errors;
    ck_assert(!run_response(main_survey, "{'answers':{'rec':1},'extra':1}", NOW_MS, &r, &errors, __LINE__));
    assert_message(&errors, "extra", "unknown field", __LINE__);
    validate_errors_free(&errors);
    ck_assert(!run_response(main_survey, "{'answers':{'rec':1},'channel':'web','channel':'chat'}", NOW_MS, &r,
                            &errors, __LINE__));
    assert_message(&errors, "channel", "duplicate field", __LINE__);
    validate_errors_free(&errors);
}
END_TEST

START_TEST(test_resp_every_problem_reported)
{
    MAIN_BAD("{'answers':{'rec':11,'sat':3,'nope':1,'note':'abcd'},'channel':'X','customer':'',"
             "'submitted_at':'soon','properties':{'k':1},'extra':true}",
             "extra", "answers.nope", "answers.rec", "answers.sat", "answers.note", "channel", "customer",
             "submitted_at", "properties.k");
    MAIN_BAD("{'answers':{'sat5':9},'agent':5,'interaction':'','submitted_at':'2030-01-01T00:00:00Z',"
             "'properties':[]}",
             "answers.rec", "answers.sat5", "agent", "interaction", "submitted_at", "properties");
}
END_TEST

/* Errors accumulate across calls; the result is about this call's problems only. */
START_TEST(test_resp_errors_accumulate)
{
    struct survey survey;
    struct response r;
    struct validate_errors errors;
    load_survey(main_survey, &survey, __LINE__);
    validate_errors_init(&errors);
    validate_error(&errors, "earlier", "an earlier problem");

    cJSON *bad = parse_sq("{'answers':{'rec':11}}", __LINE__);
    cJSON *good = parse_sq("{'answers':{'rec':1}}", __LINE__);
    ck_assert(!validate_response(&survey, bad, NOW_MS, &r, &errors));
    assert_fields(&errors, FIELDS("earlier", "answers.rec"), "bad after an earlier error", __LINE__);
    ck_assert(validate_response(&survey, good, NOW_MS, &r, &errors));
    ck_assert_int_eq(errors.count, 2);
    ck_assert_str_eq(r.answers_json, "{\"rec\":1}");
    survey_response_free(&r);
    cJSON_Delete(bad);
    cJSON_Delete(good);
    validate_errors_free(&errors);
    survey_free(&survey);
}
END_TEST

START_TEST(test_utf8_length)
{
    ck_assert_uint_eq(validate_utf8_length(""), 0);
    ck_assert_uint_eq(validate_utf8_length("abc"), 3);
    ck_assert_uint_eq(validate_utf8_length(E_ACUTE), 1);
    ck_assert_uint_eq(validate_utf8_length("\xe2\x82\xac"), 1); /* € */
    ck_assert_uint_eq(validate_utf8_length(EMOJI), 1);
    ck_assert_uint_eq(validate_utf8_length("a" E_ACUTE "\xe2\x82\xac" EMOJI "z"), 5);
}
END_TEST

/* ====================================================================== */
/* regressions: bugs these tests found in parse_answers, now fixed          */
/* ====================================================================== */

/* Was a bug (parse_answers): "at least one answer is required" was only reported when
 * errors->count == 0, i.e. when no error at all has been recorded yet. An unknown top-level key is
 * checked (check_keys) before the answers, so {"answers":{},"extra":1} reports only "extra" and the
 * empty answers go unreported, contrary to "every problem is reported". */
START_TEST(test_bug_empty_answers_hidden_by_unknown_key)
{
    struct response r;
    struct validate_errors errors;
    bool ok = run_response(optional_survey, "{'answers':{},'extra':1}", NOW_MS, &r, &errors, __LINE__);
    char got[2048];
    snprintf(got, sizeof got, "%s", fields_text(&errors));
    int count = errors.count;
    bool has_answers = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, errors.list)
    {
        has_answers |= strcmp(cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring, "answers") == 0;
    }
    if (ok)
        survey_response_free(&r);
    validate_errors_free(&errors);
    ck_assert(!ok);
    ck_assert_msg(count == 2 && has_answers,
                  "parse_answers: {\"answers\":{},\"extra\":1} should name 'extra' and "
                  "'answers', got %s",
                  got);
}
END_TEST

/* Was a bug (parse_answers): the same errors->count == 0 test (instead of comparing with
 * the count on entry, as validate_response itself does) means that when the caller's errors already
 * hold an error, a response with no answers at all is ACCEPTED: validate_response returns true with
 * answer_count 0 and answers_json "{}". */
START_TEST(test_bug_empty_answers_accepted_after_earlier_error)
{
    struct survey survey;
    struct response r;
    struct validate_errors errors;
    load_survey(optional_survey, &survey, __LINE__);
    validate_errors_init(&errors);
    validate_error(&errors, "earlier", "an earlier problem");
    cJSON *body = parse_sq("{'answers':{}}", __LINE__);
    bool ok = validate_response(&survey, body, NOW_MS, &r, &errors);
    int count = errors.count;
    int answer_count = ok ? r.answer_count : -1;
    if (ok)
        survey_response_free(&r);
    cJSON_Delete(body);
    validate_errors_free(&errors);
    survey_free(&survey);
    ck_assert_msg(!ok && count == 2,
                  "parse_answers: {\"answers\":{}} after an earlier error: returned %s with %d "
                  "answers and %d errors (expected false, 2 errors)",
                  ok ? "true" : "false", answer_count, count);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("validate");
    TCase *defs = tcase_create("definitions");
    TCase *responses = tcase_create("responses");
    TCase *bugs = tcase_create("regressions");

    tcase_add_test(defs, test_def_minimal_defaults);
    tcase_add_test(defs, test_def_type_defaults);
    tcase_add_test(defs, test_def_all_fields_parsed);
    tcase_add_test(defs, test_def_not_an_object);
    tcase_add_test(defs, test_def_title);
    tcase_add_test(defs, test_def_public);
    tcase_add_test(defs, test_def_echoed_and_unknown_keys);
    tcase_add_test(defs, test_def_questions_array);
    tcase_add_test(defs, test_def_question_ids);
    tcase_add_test(defs, test_def_question_types);
    tcase_add_test(defs, test_def_question_common_keys);
    tcase_add_test(defs, test_def_scales);
    tcase_add_test(defs, test_def_choice);
    tcase_add_test(defs, test_def_text_max_length);
    tcase_add_test(defs, test_def_allowed_origins);
    tcase_add_test(defs, test_def_every_problem_reported);
    tcase_add_test(defs, test_def_errors_accumulate);
    tcase_add_test(defs, test_def_normalised_round_trip);

    tcase_add_test(responses, test_resp_nps);
    tcase_add_test(responses, test_resp_csat);
    tcase_add_test(responses, test_resp_ces);
    tcase_add_test(responses, test_resp_yes_no);
    tcase_add_test(responses, test_resp_choice);
    tcase_add_test(responses, test_resp_text);
    tcase_add_test(responses, test_resp_required);
    tcase_add_test(responses, test_resp_at_least_one_answer);
    tcase_add_test(responses, test_resp_answers_structure);
    tcase_add_test(responses, test_resp_canonical_order);
    tcase_add_test(responses, test_resp_channel);
    tcase_add_test(responses, test_resp_opaque_ids);
    tcase_add_test(responses, test_resp_submitted_at);
    tcase_add_test(responses, test_resp_properties);
    tcase_add_test(responses, test_resp_properties_count);
    tcase_add_test(responses, test_resp_unknown_top_level_keys);
    tcase_add_test(responses, test_resp_every_problem_reported);
    tcase_add_test(responses, test_resp_errors_accumulate);
    tcase_add_test(responses, test_utf8_length);

    tcase_add_test(bugs, test_bug_empty_answers_hidden_by_unknown_key);
    tcase_add_test(bugs, test_bug_empty_answers_accepted_after_earlier_error);

    /* Sanitizer builds are several times slower. */
    tcase_set_timeout(defs, 60);
    tcase_set_timeout(responses, 60);
    suite_add_tcase(suite, defs);
    suite_add_tcase(suite, responses);
    suite_add_tcase(suite, bugs);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
