/* Terms: every response of the window with text is read (the listing's rows, on either backend),
 * its document (response_text.h) tokenized as the text index does it (term_tally.h), and each term
 * counted once per response, in the segment and in all. Exact by construction, for any window of
 * instants; replies are cached per data version as metrics replies are.
 *
 * Figures are rounded half up from their exact fractions, with integer arithmetic so that a model
 * can reproduce them exactly: share and all_share to 4 decimals, lift to 2. */
#include "terms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "metrics.h"
#include "oom.h"
#include "query.h"
#include "response_text.h"
#include "term_tally.h"

#define MAX_PARAMS 16
#define TERMS_LIMIT_DEFAULT 20
#define TERMS_LIMIT_MAX 200
#define SHARE_SCALE 10000u      /* share and all_share: 4 decimals */
#define LIFT_SCALE 100u         /* lift: 2 decimals */

enum segment { SEGMENT_ALL, SEGMENT_DETRACTORS, SEGMENT_PASSIVES, SEGMENT_PROMOTERS };

static const char *const segment_names[] = {
    [SEGMENT_ALL] = "all", [SEGMENT_DETRACTORS] = "detractors",
    [SEGMENT_PASSIVES] = "passives", [SEGMENT_PROMOTERS] = "promoters",
};

struct terms_request {
    struct survey survey;
    struct query window;        /* from and to only */
    enum segment segment;
    int64_t limit;
    const struct question *nps; /* the question that decides the segment; NULL when none */
};

/* ---- parameters ---- */

struct param_list {
    struct query_param window[MAX_PARAMS]; /* from and to, for query_parse */
    int window_count;
    const char *segment, *limit, *question;
    int count;
    struct validate_errors *errors;
};

static void set_once(const char **slot, const char *name, const char *value, struct validate_errors *errors)
{
    if (*slot != NULL)
        validate_error(errors, name, "given more than once");
    else
        *slot = value ? value : "";
}

static void collect_param(const char *name, const char *value, void *arg)
{
    struct param_list *list = arg;

    if (++list->count > MAX_PARAMS)
        return;
    if (strcmp(name, "from") == 0 || strcmp(name, "to") == 0)
        list->window[list->window_count++] = (struct query_param){name, value};
    else if (strcmp(name, "segment") == 0)
        set_once(&list->segment, name, value, list->errors);
    else if (strcmp(name, "limit") == 0)
        set_once(&list->limit, name, value, list->errors);
    else if (strcmp(name, "question") == 0)
        set_once(&list->question, name, value, list->errors);
    else {
        char field[80];
        snprintf(field, sizeof field, "%.*s", validate_utf8_cut(name, 64), name);
        validate_error(list->errors, field, "unknown parameter (known: from, to, segment, limit, question)");
    }
}

static void parse_segment(const char *v, struct terms_request *t, struct validate_errors *errors)
{
    t->segment = SEGMENT_DETRACTORS;
    if (v == NULL)
        return;
    for (int s = SEGMENT_ALL; s <= SEGMENT_PROMOTERS; s++) {
        if (strcmp(v, segment_names[s]) == 0) {
            t->segment = (enum segment)s;
            return;
        }
    }
    validate_error(errors, "segment", "must be one of detractors, passives, promoters, all");
}

static void parse_limit(const char *v, struct terms_request *t, struct validate_errors *errors)
{
    int64_t n = 0;
    size_t len = v ? strlen(v) : 0;
    bool ok = len >= 1 && len <= 3;

    t->limit = TERMS_LIMIT_DEFAULT;
    if (v == NULL)
        return;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (v[i] - '0');
    }
    if (!ok || n < 1 || n > TERMS_LIMIT_MAX)
        validate_error(errors, "limit", "must be an integer from 1 to %d", TERMS_LIMIT_MAX);
    else
        t->limit = n;
}

/* question=: one of the survey's NPS questions; without it, the first NPS question (or none). */
static void pick_question(const char *v, struct terms_request *t, struct validate_errors *errors)
{
    t->nps = NULL;
    if (v == NULL) {
        for (int q = 0; q < t->survey.question_count && t->nps == NULL; q++)
            if (t->survey.questions[q].type == QUESTION_NPS)
                t->nps = &t->survey.questions[q];
        return;
    }
    const struct question *q = survey_find_question(&t->survey, v, NULL);
    if (q == NULL || q->type != QUESTION_NPS)
        validate_error(errors, "question", "must be the id of one of the survey's nps questions");
    else
        t->nps = q;
}

static bool parse_request(struct http_request *req, struct terms_request *t, struct validate_errors *errors)
{
    struct param_list params = {.errors = errors};

    http_each_query(req, collect_param, &params);
    if (params.count > MAX_PARAMS) {
        validate_error(errors, "", "too many query parameters");
        return false;
    }
    query_parse(params.window, params.window_count, QUERY_FROM | QUERY_TO, &t->window, errors);
    parse_segment(params.segment, t, errors);
    parse_limit(params.limit, t, errors);
    pick_question(params.question, t, errors);
    return errors->count == 0;
}

/* ---- counting ---- */

struct scan {
    const struct terms_request *request;
    struct term_tally *tally;
    bool failed;
};

static bool in_segment(const struct terms_request *t, const cJSON *answers)
{
    if (t->segment == SEGMENT_ALL)
        return true;
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(answers, t->nps->id);
    if (!cJSON_IsNumber(score))
        return false;
    double v = score->valuedouble;
    switch (t->segment) {
    case SEGMENT_DETRACTORS:
        return v <= 6;
    case SEGMENT_PASSIVES:
        return v >= 7 && v <= 8;
    case SEGMENT_PROMOTERS:
        return v >= 9;
    case SEGMENT_ALL:
        break;
    }
    return true;
}

static void count_row(const struct store_response_row *row, void *arg)
{
    struct scan *scan = arg;
    char *doc = NULL;
    size_t len = 0;

    if (scan->failed)
        return;
    cJSON *answers = cJSON_Parse(row->answers);
    if (answers == NULL || !response_text_stored(&scan->request->survey, answers, &doc, &len))
        scan->failed = true;
    else if (doc != NULL && !term_tally_add(scan->tally, doc, len, in_segment(scan->request, answers)))
        scan->failed = true;
    free(doc);
    cJSON_Delete(answers);
}

/* ---- rendering ---- */

/* num / den rounded half up to 1/scale, as a number of 1/scale units. */
static uint64_t round_units(uint64_t num, uint64_t den, uint64_t scale)
{
    return (2 * num * scale + den) / (2 * den);
}

static cJSON *render_term(const struct term_count *c, uint64_t segment_total, uint64_t all_total)
{
    cJSON *term = cJSON_CreateObject();
    cJSON_AddStringToObject(term, "term", c->term);
    cJSON_AddNumberToObject(term, "responses", (double)c->segment);
    cJSON_AddNumberToObject(term, "share", (double)round_units(c->segment, segment_total, SHARE_SCALE) / SHARE_SCALE);
    cJSON_AddNumberToObject(term, "all_responses", (double)c->all);
    cJSON_AddNumberToObject(term, "all_share", (double)round_units(c->all, all_total, SHARE_SCALE) / SHARE_SCALE);
    /* lift = (segment / segment_total) / (all / all_total), from the exact fractions. */
    cJSON_AddNumberToObject(term, "lift",
                            (double)round_units(c->segment * all_total, segment_total * c->all, LIFT_SCALE) /
                                LIFT_SCALE);
    return term;
}

static void add_time_or_null(cJSON *object, const char *name, bool present, int64_t ms)
{
    if (present)
        api_add_time(object, name, ms);
    else
        cJSON_AddNullToObject(object, name);
}

static cJSON *render(const struct terms_request *t, const struct term_tally *tally, const struct term_count *top,
                     size_t n)
{
    cJSON *reply = cJSON_CreateObject();
    uint64_t segment_total = term_tally_segment_responses(tally), all_total = term_tally_responses(tally);

    cJSON_AddStringToObject(reply, "survey", t->survey.id);
    add_time_or_null(reply, "from", t->window.has_from, t->window.from_ms);
    add_time_or_null(reply, "to", t->window.has_to, t->window.to_ms);
    cJSON_AddStringToObject(reply, "segment", segment_names[t->segment]);
    if (t->nps)
        cJSON_AddStringToObject(reply, "question", t->nps->id);
    else
        cJSON_AddNullToObject(reply, "question");
    cJSON_AddNumberToObject(reply, "responses", (double)segment_total);
    cJSON_AddNumberToObject(reply, "all_responses", (double)all_total);
    cJSON *list = cJSON_AddArrayToObject(reply, "terms");
    for (size_t i = 0; list && i < n; i++)
        cJSON_AddItemToArray(list, render_term(&top[i], segment_total, all_total));
    return reply;
}

static enum store_status produce(struct http_request *req, void *arg, char **body)
{
    struct terms_request *t = arg;
    struct app *app = api_app(req);
    struct store_conn *conn = store_reader(app->store);
    struct scan scan = {t, term_tally_new(app->stop_words), false};
    struct term_count *top = calloc((size_t)t->limit, sizeof *top);
    enum store_status status = STORE_ERROR;
    size_t n = 0;

    *body = NULL;
    if (conn == NULL) {
        status = STORE_UNAVAILABLE;
        goto done;
    }
    if (scan.tally == NULL || top == NULL)
        goto done;
    struct store_list_query list = {
        .survey = t->survey.id,
        .before_ms = t->window.to_ms,
        .before_id = "",
        .from_ms = t->window.from_ms,
        .limit = -1,
    };
    status = store_list_responses(conn, &list, count_row, &scan);
    if (status != STORE_OK)
        goto done;
    if (scan.failed || !term_tally_top(scan.tally, top, (size_t)t->limit, &n)) {
        status = STORE_ERROR;
        goto done;
    }
    cJSON *reply = render(t, scan.tally, top, n);
    *body = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
done:
    free(top);
    term_tally_free(scan.tally);
    return status;
}

/* Everything the reply depends on besides the data: window, segment, question, limit. */
static char *cache_key(const struct terms_request *t)
{
    char *window = query_key(t->survey.id, &t->window);
    size_t size = window ? strlen(window) + SURVEY_ID_MAX + 64 : 0;
    char *key = window ? malloc(size) : NULL;

    if (key)
        snprintf(key, size, "\x03terms|%s|%d|%s|%lld", window, (int)t->segment, t->nps ? t->nps->id : "-",
                 (long long)t->limit);
    free(window);
    return key;
}

enum http_next terms_survey(struct http_request *req)
{
    struct app *app = api_app(req);
    struct terms_request t;
    struct validate_errors errors;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    /* Read before the data: a write landing in between only makes the reply's version older. */
    uint64_t version = versions_get(app->versions, req->params[0]);
    enum store_status status = STORE_NOT_FOUND;
    if (ids_valid_slug(req->params[0]))
        status = api_load_survey_cached(app->surveys, store_reader(app->store), req->params[0], &t.survey, NULL);
    if (status != STORE_OK) {
        api_reply_survey_error(req, req->params[0], status);
        return HTTP_DONE;
    }
    validate_errors_init(&errors);
    if (!parse_request(req, &t, &errors)) {
        api_reply_invalid(req, &errors);
    } else if (t.nps == NULL && t.segment != SEGMENT_ALL) {
        http_reply_problem(req, 422, "no_nps_question",
                           "the survey has no nps question to tell detractors, passives and promoters apart; "
                           "use segment=all",
                           NULL);
    } else {
        char *key = cache_key(&t);
        if (key == NULL)
            api_reply_store_error(req, STORE_UNAVAILABLE);
        else
            metrics_reply_cached(req, key, t.survey.id, version, produce, &t);
        free(key);
    }
    survey_free(&t.survey);
    return HTTP_DONE;
}
