/* The storage interface (store.h) against every backend, with the same cases, through store.h alone.
 *
 *   test_store sqlite     a fresh store in a temporary folder for every case
 *   test_store postgres   a fresh database for every case, created on the server that
 *                         SURVEYD_TEST_POSTGRES names (a libpq URI of a database this test may run
 *                         CREATE DATABASE from, e.g. postgresql:///postgres?host=/tmp/pg&user=postgres);
 *                         without it the run reports itself skipped (exit 77)
 *
 * Writes go through the writer's calls the way writer.c makes them (begin, a savepoint per job,
 * release, commit). Figures are checked against a model the test keeps of what it stored, so a
 * backend that counts a bucket wrong, lists a row twice or misses one fails here. Dates are fixed. */
#include <check.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edit_token.h"
#include "store.h"
#include "timefmt.h"
#include "validate.h"

#define DAY_MS INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)

/* ---- the backend under test ---- */

static const char *backend;     /* "sqlite" or "postgresql" */
static const char *pg_admin;    /* SURVEYD_TEST_POSTGRES */
static char location[4096];     /* this case's store */
static char case_name[128];     /* its folder or database */
static struct store *store;

/* The fixed "now" of every case: 2026-11-01T00:00:00Z. Responses are dated before it. */
static int64_t now_ms;

static PGconn *admin_connect(void)
{
    PGconn *db = PQconnectdb(pg_admin);
    ck_assert_msg(PQstatus(db) == CONNECTION_OK, "SURVEYD_TEST_POSTGRES: %s", PQerrorMessage(db));
    return db;
}

static void admin_exec(const char *sql)
{
    PGconn *db = admin_connect();
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(db);
}

/* Appends text to out percent-encoded, as a URI's query value. */
static void uri_append(char *out, size_t size, const char *text)
{
    size_t len = strlen(out);
    for (const unsigned char *p = (const unsigned char *)text; *p && len + 4 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            out[len++] = (char)*p;
        else
            len += (size_t)snprintf(out + len, size - len, "%%%02X", *p);
    }
    out[len] = '\0';
}

/* The admin URI's every setting, with dbname replaced: the location of this case's database. */
static void pg_location(const char *dbname)
{
    char *err = NULL;
    PQconninfoOption *options = PQconninfoParse(pg_admin, &err);
    ck_assert_msg(options != NULL, "SURVEYD_TEST_POSTGRES does not parse: %s", err ? err : "out of memory");
    snprintf(location, sizeof location, "postgresql:///%s?", dbname);
    for (PQconninfoOption *o = options; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "dbname") == 0)
            continue;
        uri_append(location, sizeof location, o->keyword);
        strncat(location, "=", sizeof location - strlen(location) - 1);
        uri_append(location, sizeof location, o->val);
        strncat(location, "&", sizeof location - strlen(location) - 1);
    }
    PQconninfoFree(options);
}

static const char *tmp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && tmp[0] ? tmp : "/tmp";
}

static void setup(void)
{
    static int cases;
    char err[512];

    now_ms = timefmt_days_from_civil(2026, 11, 1) * DAY_MS;
    if (strcmp(backend, "sqlite") == 0) {
        /* Named by the run too: a case that fails ends before its teardown, and the run removes
         * what it left. */
        snprintf(case_name, sizeof case_name, "%s/test_store.%ld.XXXXXX", tmp_dir(), (long)getppid());
        ck_assert_ptr_nonnull(mkdtemp(case_name));
        snprintf(location, sizeof location, "sqlite:%s", case_name);
    } else {
        /* Named by the run (the parent's pid) and the case, so that the run can drop what a crashed
         * case left behind. */
        char sql[256];
        snprintf(case_name, sizeof case_name, "surveyd_test_%ld_%ld_%d", (long)getppid(), (long)getpid(), ++cases);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", case_name);
        admin_exec(sql);
        pg_location(case_name);
    }
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    store = store_open(&options, err, sizeof err);
    ck_assert_msg(store != NULL, "store_open: %s", err);
}

static void teardown(void)
{
    char cmd[512];

    store_close(store);
    store = NULL;
    if (strcmp(backend, "sqlite") == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", case_name);
        ck_assert_int_eq(system(cmd), 0);
    } else {
        snprintf(cmd, sizeof cmd, "DROP DATABASE IF EXISTS %s WITH (FORCE)", case_name);
        admin_exec(cmd);
    }
}

/* ---- writing the way the writer does ---- */

static struct store_conn *writer_begin(void)
{
    struct store_conn *w = store_writer(store);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(store_begin(w), STORE_OK);
    ck_assert_int_eq(store_savepoint(w), STORE_OK);
    return w;
}

/* Ends the job (kept) and commits the batch. */
static void writer_commit(struct store_conn *w)
{
    store_release(w);
    ck_assert_msg(store_commit(w) == STORE_OK, "commit: %s", store_last_error(w));
}

/* ---- surveys ---- */

/* Choice options spelled "1" and "-1" must never meet the number 1 or the "other" bucket. */
static const char definition_text[] =
    "{\"title\":\"Support\",\"questions\":["
    "{\"id\":\"rec\",\"type\":\"nps\"},"
    "{\"id\":\"ch\",\"type\":\"choice\",\"options\":[\"a\",\"1\",\"-1\"],\"allow_other\":true},"
    "{\"id\":\"yes\",\"type\":\"yes_no\"},"
    "{\"id\":\"note\",\"type\":\"text\"}]}";

static struct survey surveys[2];

/* Stores the test survey as id (slot 0 or 1), the normalised definition as the API would. */
static void put_survey(int slot, const char *id)
{
    struct validate_errors errors;
    cJSON *body = cJSON_Parse(definition_text);
    validate_errors_init(&errors);
    ck_assert(validate_definition(id, body, &surveys[slot], &errors));
    validate_errors_free(&errors);
    cJSON_Delete(body);

    cJSON *normal = validate_definition_to_json(&surveys[slot]);
    char *text = cJSON_PrintUnformatted(normal);
    bool created;
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_put_survey(w, id, text, now_ms - 100 * DAY_MS, &created), STORE_OK);
    ck_assert(created);
    writer_commit(w);
    free(text);
    cJSON_Delete(normal);
}

static void free_surveys(void)
{
    for (int i = 0; i < 2; i++)
        survey_free(&surveys[i]);
    memset(surveys, 0, sizeof surveys);
}

/* ---- responses and the model of what is stored ---- */

struct spec {
    int survey;                 /* slot */
    int64_t at;                 /* submitted_at, ms */
    const char *channel, *agent, *customer, *interaction;
    int rec;                    /* -1: not answered */
    const char *ch;             /* an option, "*..." an "other" write-in, NULL not answered */
    int yes;                    /* 0, 1, or -1: not answered */
    const char *note;           /* NULL: not answered */
};

#define MAX_RESPONSES 1500
static struct stored {
    struct spec spec;
    char id[32];
    bool live;
} stored[MAX_RESPONSES];
static int stored_count;

/* The answers object of a spec, as the API receives it. */
static cJSON *answers_json(const struct spec *s)
{
    cJSON *a = cJSON_CreateObject();
    if (s->rec >= 0)
        cJSON_AddNumberToObject(a, "rec", s->rec);
    if (s->ch && s->ch[0] == '*') {
        cJSON *other = cJSON_AddObjectToObject(a, "ch");
        cJSON_AddStringToObject(other, "other", s->ch + 1);
    } else if (s->ch) {
        cJSON_AddStringToObject(a, "ch", s->ch);
    }
    if (s->yes >= 0)
        cJSON_AddBoolToObject(a, "yes", s->yes);
    if (s->note)
        cJSON_AddStringToObject(a, "note", s->note);
    return a;
}

static cJSON *body_json(const struct spec *s)
{
    char at[TIMEFMT_BUFSIZE];
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "answers", answers_json(s));
    timefmt_format_ms(s->at, at);
    cJSON_AddStringToObject(body, "submitted_at", at);
    if (s->channel)
        cJSON_AddStringToObject(body, "channel", s->channel);
    if (s->agent)
        cJSON_AddStringToObject(body, "agent", s->agent);
    if (s->customer)
        cJSON_AddStringToObject(body, "customer", s->customer);
    if (s->interaction)
        cJSON_AddStringToObject(body, "interaction", s->interaction);
    return body;
}

/* Ids sort like the backends' own (26 characters of a-z, 2-7), increasing with n. */
static void make_id(int n, char id[32])
{
    snprintf(id, 32, "r%025d", n);
    for (char *p = id + 1; *p; p++)
        *p = (char)('a' + (*p - '0'));
}

/* Inserts s in the caller's transaction; on STORE_OK it joins the model. */
static enum store_status insert_in(struct store_conn *w, const struct spec *s, const struct store_edit_token *token,
                                   char id[32], char existing_id[32])
{
    struct validate_errors errors;
    struct response r;
    cJSON *body = body_json(s);

    validate_errors_init(&errors);
    ck_assert_msg(validate_response(&surveys[s->survey], body, now_ms, &r, &errors), "test response refused");
    validate_errors_free(&errors);
    cJSON_Delete(body);
    make_id(stored_count, r.id);
    snprintf(id, 32, "%s", r.id);
    enum store_status status = store_insert_response(w, &surveys[s->survey], &r, token, existing_id);
    survey_response_free(&r);
    if (status == STORE_OK) {
        ck_assert_int_lt(stored_count, MAX_RESPONSES);
        stored[stored_count].spec = *s;
        snprintf(stored[stored_count].id, 32, "%s", id);
        stored[stored_count].live = true;
    }
    stored_count++; /* a refused one still used its id */
    return status;
}

/* One response in a batch of its own. */
static enum store_status insert(const struct spec *s, char id[32], char existing_id[32])
{
    struct store_conn *w = writer_begin();
    enum store_status status = insert_in(w, s, NULL, id, existing_id);
    if (status == STORE_OK) {
        writer_commit(w);
    } else {
        store_rollback_to(w);
        store_rollback(w);
    }
    return status;
}

static struct stored *model_find(const char *id)
{
    for (int i = 0; i < stored_count; i++) {
        if (stored[i].live && strcmp(stored[i].id, id) == 0)
            return &stored[i];
    }
    return NULL;
}

/* A fixed pseudo-random sequence (the same on every run). */
static unsigned rng_state;
static unsigned rng(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % n;
}

static const char *const channels[] = {NULL, "web", "email"};
static const char *const agents[] = {NULL, "ann", "bob", "cy"};
static const char *const choices[] = {NULL, "a", "1", "-1", "*other text"};

/* A response somewhere in the 100 days before now, in slot survey. */
static struct spec random_spec(int survey)
{
    struct spec s = {
        .survey = survey,
        .at = now_ms - 100 * DAY_MS + (int64_t)rng(100 * 24) * HOUR_MS + rng(3600) * 1000 + rng(1000),
        .channel = channels[rng(3)],
        .agent = agents[rng(4)],
        .rec = (int)rng(12) - 1,
        .ch = choices[rng(5)],
        .yes = (int)rng(3) - 1,
        .note = rng(2) ? "a note of some length" : NULL,
    };
    if (s.rec < 0 && !s.ch && s.yes < 0 && !s.note)
        s.rec = 7; /* at least one answer */
    return s;
}

/* n random responses in one batch (as group commit would store them). */
static void insert_random(int survey, int n)
{
    char id[32], existing[32];
    struct store_conn *w = writer_begin();
    for (int i = 0; i < n; i++) {
        struct spec s = random_spec(survey);
        store_release(w);
        ck_assert_int_eq(store_savepoint(w), STORE_OK);
        ck_assert_int_eq(insert_in(w, &s, NULL, id, existing), STORE_OK);
    }
    writer_commit(w);
}

/* ---- metrics against the model ---- */

/* Cells added up by key: "<survey> responses", "<q> n=<value>" or "<q> t=<text>", with the day and
 * agent in front when the query groups by them. */
#define TALLY_MAX 4096
struct tally {
    char keys[TALLY_MAX][96];
    int64_t counts[TALLY_MAX];
    int used;
};

static void tally_add(struct tally *t, const char *key, int64_t count)
{
    for (int i = 0; i < t->used; i++) {
        if (strcmp(t->keys[i], key) == 0) {
            t->counts[i] += count;
            return;
        }
    }
    ck_assert_int_lt(t->used, TALLY_MAX);
    snprintf(t->keys[t->used], sizeof t->keys[0], "%s", key);
    t->counts[t->used++] = count;
}

/* The tally as sorted "key=count" lines, zero counts left out: what two tallies compare by. */
static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *tally_text(const struct tally *t)
{
    static char *lines[TALLY_MAX];
    char *out = calloc((size_t)t->used + 1, 128);
    int n = 0;
    for (int i = 0; i < t->used; i++) {
        if (t->counts[i] == 0)
            continue;
        lines[n] = malloc(128);
        snprintf(lines[n], 128, "%s=%lld\n", t->keys[i], (long long)t->counts[i]);
        n++;
    }
    qsort(lines, (size_t)n, sizeof lines[0], cmp_lines);
    for (int i = 0; i < n; i++) {
        strcat(out, lines[i]);
        free(lines[i]);
    }
    return out;
}

struct scan_arg {
    struct tally *tally;
    const struct store_metrics_query *q;
};

static void prefix(char *key, size_t size, const struct store_metrics_query *q, int64_t day, const char *agent)
{
    key[0] = '\0';
    if (q->by_day)
        snprintf(key, size, "d%lld ", (long long)day);
    if (q->by_agent)
        snprintf(key + strlen(key), size - strlen(key), "a:%s ", agent);
}

static void scan_cell(const struct store_metrics_cell *c, void *arg)
{
    struct scan_arg *a = arg;
    char key[96];
    prefix(key, sizeof key, a->q, c->day, c->agent);
    size_t len = strlen(key);
    if (c->question == NULL)
        snprintf(key + len, sizeof key - len, "responses");
    else if (c->value_is_text)
        snprintf(key + len, sizeof key - len, "%s t=%s", c->question, c->value_text);
    else
        snprintf(key + len, sizeof key - len, "%s n=%lld", c->question, (long long)c->value);
    tally_add(a->tally, key, c->count);
}

static bool model_matches(const struct spec *s, const char *survey, const struct store_metrics_query *q)
{
    const char *agent = s->agent ? s->agent : "";
    const char *channel = s->channel ? s->channel : "";
    return strcmp(surveys[s->survey].id, survey) == 0 && s->at >= q->from_ms && s->at < q->to_ms &&
           (!q->channel || strcmp(q->channel, channel) == 0) && (!q->agent || strcmp(q->agent, agent) == 0);
}

static void model_tally(const struct store_metrics_query *q, struct tally *t)
{
    char key[96], base[64];
    for (int i = 0; i < stored_count; i++) {
        const struct spec *s = &stored[i].spec;
        if (!stored[i].live || !model_matches(s, q->survey, q))
            continue;
        prefix(base, sizeof base, q, s->at / DAY_MS, s->agent ? s->agent : "");
        snprintf(key, sizeof key, "%sresponses", base);
        tally_add(t, key, 1);
        if (s->rec >= 0) {
            snprintf(key, sizeof key, "%srec n=%d", base, s->rec);
            tally_add(t, key, 1);
        }
        if (s->ch) {
            if (s->ch[0] == '*')
                snprintf(key, sizeof key, "%sch n=-1", base);
            else
                snprintf(key, sizeof key, "%sch t=%s", base, s->ch);
            tally_add(t, key, 1);
        }
        if (s->yes >= 0) {
            snprintf(key, sizeof key, "%syes n=%d", base, s->yes);
            tally_add(t, key, 1);
        }
        if (s->note) {
            snprintf(key, sizeof key, "%snote n=0", base);
            tally_add(t, key, 1);
        }
    }
}

/* metrics_scan's cells added up equal the model's, for q. */
static void check_metrics(const struct store_metrics_query *q)
{
    static struct tally got, want;
    struct scan_arg arg = {&got, q};
    memset(&got, 0, sizeof got);
    memset(&want, 0, sizeof want);
    ck_assert_int_eq(store_metrics_scan(store_reader(store), q, scan_cell, &arg), STORE_OK);
    model_tally(q, &want);
    char *g = tally_text(&got), *w = tally_text(&want);
    ck_assert_msg(strcmp(g, w) == 0, "metrics of %s [%lld, %lld) channel %s agent %s by_agent %d by_day %d:\n"
                  "got:\n%s\nwant:\n%s", q->survey, (long long)q->from_ms, (long long)q->to_ms,
                  q->channel ? q->channel : "-", q->agent ? q->agent : "-", q->by_agent, q->by_day, g, w);
    free(g);
    free(w);
}

/* Every kind of window and filter the metrics endpoints use. */
static void check_all_metrics(const char *survey)
{
    int64_t day = now_ms / DAY_MS;
    struct store_metrics_query open = {survey, INT64_MIN, INT64_MAX, NULL, NULL, false, false, NULL, false};
    struct store_metrics_query q = open;

    check_metrics(&q);                                          /* months, whole */
    q.by_day = true;
    check_metrics(&q);                                          /* every day on its own */
    q = open;
    for (int i = 0; i < 6; i++) {                               /* partial days: hours and raw rows */
        q.from_ms = (day - 90 + 13 * i) * DAY_MS + (5 * i % 24) * HOUR_MS + 777 * i + 1234;
        q.to_ms = q.from_ms + (1 + 11 * i) * DAY_MS + (7 * i % 24) * HOUR_MS + 13 * i;
        check_metrics(&q);
    }
    q.from_ms = (day - 40) * DAY_MS + 3 * HOUR_MS + 10;         /* inside one day */
    q.to_ms = (day - 40) * DAY_MS + 20 * HOUR_MS + 999;
    check_metrics(&q);
    q.from_ms = (day - 50) * DAY_MS;                            /* whole days, open end */
    q.to_ms = INT64_MAX;
    check_metrics(&q);
    q = open;
    q.channel = "web";
    check_metrics(&q);
    q = open;
    q.agent = "bob";
    q.from_ms = (day - 60) * DAY_MS + 7 * HOUR_MS;
    check_metrics(&q);
    q = open;
    q.by_agent = true;
    check_metrics(&q);
    q.from_ms = (day - 30) * DAY_MS + 11 * HOUR_MS + 5;
    q.channel = "email";
    check_metrics(&q);
}

/* ---- listing against the model ---- */

struct list_arg {
    char ids[MAX_RESPONSES][32];
    int64_t times[MAX_RESPONSES];
    int count;
};

static void list_row(const struct store_response_row *row, void *arg)
{
    struct list_arg *l = arg;
    ck_assert_int_lt(l->count, MAX_RESPONSES);
    snprintf(l->ids[l->count], 32, "%s", row->id);
    l->times[l->count++] = row->submitted_at;
}

static bool list_matches(const struct stored *r, const struct store_list_query *q)
{
    const struct spec *s = &r->spec;
    if (!r->live)
        return false;
    if (q->survey && strcmp(surveys[s->survey].id, q->survey) != 0)
        return false;
    if (s->at < q->from_ms || s->at > q->before_ms || (s->at == q->before_ms && strcmp(r->id, q->before_id) >= 0))
        return false;
#define SAME(field) (!q->field || (s->field && strcmp(q->field, s->field) == 0))
    return SAME(channel) && SAME(agent) && SAME(customer) && SAME(interaction);
#undef SAME
}

static int newest_first(const void *a, const void *b)
{
    const struct stored *x = *(const struct stored *const *)a, *y = *(const struct stored *const *)b;
    if (x->spec.at != y->spec.at)
        return x->spec.at > y->spec.at ? -1 : 1;
    return -strcmp(x->id, y->id);
}

/* The ids q must list, newest first by (submitted_at, id). */
static void model_list(const struct store_list_query *q, struct list_arg *want)
{
    static const struct stored *rows[MAX_RESPONSES];
    int n = 0;
    for (int i = 0; i < stored_count; i++) {
        if (list_matches(&stored[i], q))
            rows[n++] = &stored[i];
    }
    qsort(rows, (size_t)n, sizeof rows[0], newest_first);
    want->count = 0;
    for (int i = 0; i < n && (q->limit < 0 || i < q->limit); i++) {
        snprintf(want->ids[want->count], 32, "%s", rows[i]->id);
        want->times[want->count++] = rows[i]->spec.at;
    }
}

static void assert_same_list(const struct list_arg *got, const struct list_arg *want, const char *what)
{
    ck_assert_msg(got->count == want->count, "%s: %d rows, want %d", what, got->count, want->count);
    for (int i = 0; i < got->count; i++)
        ck_assert_msg(strcmp(got->ids[i], want->ids[i]) == 0, "%s: row %d is %s, want %s", what, i, got->ids[i],
                      want->ids[i]);
}

static void check_list(const struct store_list_query *q)
{
    static struct list_arg got, want;
    got.count = 0;
    ck_assert_int_eq(store_list_responses(store_reader(store), q, list_row, &got), STORE_OK);
    model_list(q, &want);
    assert_same_list(&got, &want, "list");
}

/* The export cursor gives the same rows, pausing every `pause_every` rows (0: never). */
static void check_iter(const struct store_list_query *q, int pause_every)
{
    static struct list_arg got, want;
    struct store_response_row row;
    char err[256];
    enum store_status status;

    struct store_iter *it = store_iter_open(store, q, err, sizeof err);
    ck_assert_msg(it != NULL, "store_iter_open: %s", err);
    got.count = 0;
    while ((status = store_iter_next(it, &row)) == STORE_OK) {
        list_row(&row, &got);
        store_response_row_free(&row);
        if (pause_every && got.count % pause_every == 0)
            store_iter_pause(it);
    }
    ck_assert_int_eq(status, STORE_NOT_FOUND);
    store_iter_close(it);
    model_list(q, &want);
    assert_same_list(&got, &want, "iter");
}

static struct store_list_query all_of(const char *survey)
{
    return (struct store_list_query){.survey = survey, .before_ms = INT64_MAX, .before_id = "",
                                     .from_ms = INT64_MIN, .limit = -1};
}

/* ---- verify ---- */

static void count_line(const char *line, void *arg)
{
    fprintf(stderr, "verify: %s\n", line);
    (*(int *)arg)++;
}

static void count_answers(const char *survey, const char *definition, const char *id, const char *answers, void *arg)
{
    ck_assert_ptr_nonnull(definition);
    ck_assert_ptr_nonnull(model_find(id));
    ck_assert_ptr_nonnull(answers);
    (void)survey;
    (*(int *)arg)++;
}

static int live_count(void)
{
    int n = 0;
    for (int i = 0; i < stored_count; i++)
        n += stored[i].live;
    return n;
}

static void check_verify(void)
{
    uint64_t differences, responses;
    int lines = 0, answers = 0;
    ck_assert_int_eq(store_verify(store, count_line, &lines, &differences, &responses), STORE_OK);
    ck_assert_int_eq(differences, 0);
    ck_assert_int_eq(lines, 0);
    ck_assert_int_eq(responses, live_count());
    ck_assert_int_eq(store_each_answers(store, count_answers, &answers), STORE_OK);
    ck_assert_int_eq(answers, live_count());
}

static void reset_model(void)
{
    stored_count = 0;
    rng_state = 42;
    free_surveys();
}

/* ---- the cases ---- */

START_TEST(test_open)
{
    reset_model();
    ck_assert_str_eq(store_kind(store), backend);
    ck_assert_str_eq(store_backend_name(location), backend);
    ck_assert_ptr_nonnull(store_reader(store));
    ck_assert(store_ping(store_reader(store)));
    ck_assert_int_gt(store_size_bytes(store), 0);
    ck_assert_int_eq(store_probe_write(store_writer(store), now_ms), STORE_OK);
    check_verify(); /* an empty store is consistent */
}
END_TEST

static void collect_survey(const struct store_survey_row *row, void *arg)
{
    char *ids = arg;
    strcat(ids, row->id);
    strcat(ids, " ");
}

START_TEST(test_surveys)
{
    struct store_survey_row row;
    bool created, unchanged;
    char ids[256] = "";

    reset_model();
    put_survey(1, "zeta");
    put_survey(0, "alpha");
    ck_assert_int_eq(store_get_survey(store_reader(store), "alpha", &row), STORE_OK);
    ck_assert_str_eq(row.id, "alpha");
    ck_assert_int_eq(row.created_at, now_ms - 100 * DAY_MS);
    char *definition = strdup(row.definition);
    store_survey_row_free(&row);
    ck_assert_int_eq(store_get_survey(store_reader(store), "nope", &row), STORE_NOT_FOUND);

    ck_assert_int_eq(store_list_surveys(store_reader(store), collect_survey, ids), STORE_OK);
    ck_assert_str_eq(ids, "alpha zeta ");

    /* Replacing keeps created_at and moves updated_at. */
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_survey_unchanged(w, "alpha", definition, &unchanged), STORE_OK);
    ck_assert(unchanged);
    ck_assert_int_eq(store_survey_unchanged(w, "alpha", "{}", &unchanged), STORE_OK);
    ck_assert(!unchanged);
    ck_assert_int_eq(store_survey_unchanged(w, "nope", "{}", &unchanged), STORE_NOT_FOUND);
    ck_assert_int_eq(store_put_survey(w, "alpha", definition, now_ms, &created), STORE_OK);
    ck_assert(!created);
    writer_commit(w);
    ck_assert_int_eq(store_get_survey(store_reader(store), "alpha", &row), STORE_OK);
    ck_assert_int_eq(row.created_at, now_ms - 100 * DAY_MS);
    ck_assert_int_eq(row.updated_at, now_ms);
    ck_assert_str_eq(row.definition, definition);
    store_survey_row_free(&row);

    /* Deleting takes its responses and rollups along. */
    insert_random(1, 20);
    w = writer_begin();
    ck_assert_int_eq(store_delete_survey(w, "zeta"), STORE_OK);
    ck_assert_int_eq(store_delete_survey(w, "never"), STORE_NOT_FOUND);
    writer_commit(w);
    for (int i = 0; i < stored_count; i++)
        stored[i].live = false;
    ck_assert_int_eq(store_get_survey(store_reader(store), "zeta", &row), STORE_NOT_FOUND);
    ids[0] = '\0';
    ck_assert_int_eq(store_list_surveys(store_reader(store), collect_survey, ids), STORE_OK);
    ck_assert_str_eq(ids, "alpha ");
    check_verify();
    free(definition);
}
END_TEST

START_TEST(test_insert_get_conflict)
{
    char id[32], again[32], existing[32];
    struct store_response_row row;
    struct spec s = {0, now_ms - 3 * DAY_MS + 1234, "web", "ann", "cust-1", "ticket-9", 9, "1", 1, "fine"};
    int64_t count;

    reset_model();
    put_survey(0, "s1");
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    ck_assert_str_eq(existing, "");

    ck_assert_int_eq(store_get_response(store_reader(store), id, &row), STORE_OK);
    ck_assert_str_eq(row.id, id);
    ck_assert_str_eq(row.survey, "s1");
    ck_assert_int_eq(row.submitted_at, s.at);
    ck_assert_int_eq(row.received_at, now_ms);
    ck_assert_str_eq(row.channel, "web");
    ck_assert_str_eq(row.agent, "ann");
    ck_assert_str_eq(row.customer, "cust-1");
    ck_assert_str_eq(row.interaction, "ticket-9");
    ck_assert_ptr_null(row.properties);
    cJSON *answers = cJSON_Parse(row.answers);
    ck_assert_int_eq(cJSON_GetObjectItem(answers, "rec")->valueint, 9);
    ck_assert_str_eq(cJSON_GetObjectItem(answers, "ch")->valuestring, "1");
    cJSON_Delete(answers);
    store_response_row_free(&row);
    ck_assert_int_eq(store_get_response(store_reader(store), "nosuchid", &row), STORE_NOT_FOUND);

    /* The same interaction again: a conflict naming the stored response, and nothing stored. */
    s.rec = 2;
    ck_assert_int_eq(insert(&s, again, existing), STORE_CONFLICT);
    ck_assert_str_eq(existing, id);
    ck_assert_int_eq(store_get_response(store_reader(store), again, &row), STORE_NOT_FOUND);
    /* Another interaction, or none, is fine. */
    s.interaction = "ticket-10";
    ck_assert_int_eq(insert(&s, again, existing), STORE_OK);
    s.interaction = NULL;
    ck_assert_int_eq(insert(&s, again, existing), STORE_OK);

    ck_assert_int_eq(store_answer_count(store_reader(store), "s1", "rec", &count), STORE_OK);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(store_answer_count(store_reader(store), "s1", "ghost", &count), STORE_OK);
    ck_assert_int_eq(count, 0);
    check_all_metrics("s1");
    check_verify();
}
END_TEST

START_TEST(test_list_and_iter)
{
    char id[32], existing[32];
    reset_model();
    put_survey(0, "s1");
    put_survey(1, "s2");
    /* More rows than a PostgreSQL listing chunk (1024) or export stretch (256). */
    insert_random(0, 1100);
    insert_random(1, 60);
    /* Ties on submitted_at are ordered by id, newest first; a customer across both surveys. */
    struct spec tie = {0, now_ms - 5 * DAY_MS, "web", "ann", "carol", NULL, 5, NULL, -1, NULL};
    for (int i = 0; i < 3; i++) {
        tie.survey = i % 2;
        ck_assert_int_eq(insert(&tie, id, existing), STORE_OK);
    }

    struct store_list_query q = all_of("s1");
    check_list(&q);
    check_iter(&q, 0);
    check_iter(&q, 1);
    check_iter(&q, 100);
    q.limit = 7;
    check_list(&q);
    check_iter(&q, 3);
    q.limit = 600;
    check_list(&q);
    check_iter(&q, 256);

    /* Pages: each starts strictly after the last row of the one before. */
    static struct list_arg page;
    q = all_of("s1");
    q.limit = 101;
    int seen = 0;
    char last_id[32];
    for (;;) {
        page.count = 0;
        ck_assert_int_eq(store_list_responses(store_reader(store), &q, list_row, &page), STORE_OK);
        check_list(&q);
        seen += page.count;
        if (page.count < q.limit)
            break;
        q.before_ms = page.times[page.count - 1];
        snprintf(last_id, sizeof last_id, "%s", page.ids[page.count - 1]);
        q.before_id = last_id;
    }
    ck_assert_int_eq(seen, 1102);

    /* Windows [from, before) and filters. */
    q = all_of("s1");
    q.from_ms = now_ms - 40 * DAY_MS + 17;
    q.before_ms = now_ms - 5 * DAY_MS;
    check_list(&q);
    check_iter(&q, 50);
    q.channel = "email";
    q.agent = "cy";
    check_list(&q);
    check_iter(&q, 0);
    q = all_of(NULL);
    q.customer = "carol";
    check_list(&q);
    check_iter(&q, 1);
    q.survey = "s2";
    check_list(&q);
    q = all_of("s2");
    q.interaction = "none-such";
    check_list(&q);
    check_iter(&q, 0);
}
END_TEST

START_TEST(test_iter_pause_sees_later_changes)
{
    struct store_response_row row;
    char err[256];

    reset_model();
    put_survey(0, "s1");
    insert_random(0, 600);
    struct store_list_query q = all_of("s1");
    static struct list_arg want;
    model_list(&q, &want);

    /* Read 10 rows, pause, delete the 20th in the writer: the export does not show it. */
    struct store_iter *it = store_iter_open(store, &q, err, sizeof err);
    ck_assert_ptr_nonnull(it);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(store_iter_next(it, &row), STORE_OK);
        ck_assert_str_eq(row.id, want.ids[i]);
        store_response_row_free(&row);
    }
    store_iter_pause(it);
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_delete_response(w, want.ids[19]), STORE_OK);
    writer_commit(w);
    model_find(want.ids[19])->live = false;
    int n = 10;
    while (store_iter_next(it, &row) == STORE_OK) {
        ck_assert_str_ne(row.id, want.ids[19]);
        store_response_row_free(&row);
        n++;
    }
    store_iter_close(it);
    ck_assert_int_eq(n, 599);
}
END_TEST

START_TEST(test_update_delete_keep_metrics)
{
    reset_model();
    put_survey(0, "s1");
    put_survey(1, "s2");
    insert_random(0, 1000);
    insert_random(1, 50);
    check_all_metrics("s1");

    /* Change a third of s1's answers, delete a fifth (in one batch, a job each). */
    struct store_conn *w = writer_begin();
    for (int i = 0; i < 1000; i++) {
        if (i % 3 == 0) {
            struct spec s = random_spec(0);
            stored[i].spec.rec = s.rec;
            stored[i].spec.ch = s.ch;
            stored[i].spec.yes = s.yes;
            stored[i].spec.note = s.note;
            cJSON *answers = answers_json(&stored[i].spec);
            char *text = cJSON_PrintUnformatted(answers);
            store_release(w);
            ck_assert_int_eq(store_savepoint(w), STORE_OK);
            ck_assert_int_eq(store_update_answers(w, stored[i].id, text), STORE_OK);
            free(text);
            cJSON_Delete(answers);
        } else if (i % 5 == 1) {
            store_release(w);
            ck_assert_int_eq(store_savepoint(w), STORE_OK);
            ck_assert_int_eq(store_delete_response(w, stored[i].id), STORE_OK);
            stored[i].live = false;
        }
    }
    ck_assert_int_eq(store_delete_response(w, "nosuchid"), STORE_NOT_FOUND);
    writer_commit(w);
    check_all_metrics("s1");
    check_all_metrics("s2");

    /* A job rolled back leaves nothing behind, in rows or rollups. */
    w = writer_begin();
    struct spec s = random_spec(0);
    char id[32], existing[32];
    store_release(w);
    ck_assert_int_eq(store_savepoint(w), STORE_OK);
    ck_assert_int_eq(store_delete_response(w, stored[2].id), STORE_OK);
    int before = stored_count;
    ck_assert_int_eq(insert_in(w, &s, NULL, id, existing), STORE_OK);
    stored[before].live = false;
    store_rollback_to(w);
    ck_assert_int_eq(store_savepoint(w), STORE_OK);
    writer_commit(w);
    check_all_metrics("s1");

    /* Retention: everything before a cutoff, in bounded steps. */
    int64_t cutoff = now_ms - 50 * DAY_MS, deleted, total = 0;
    int expected = 0;
    for (int i = 0; i < stored_count; i++) {
        if (stored[i].live && stored[i].spec.at < cutoff) {
            stored[i].live = false;
            expected++;
        }
    }
    do {
        w = writer_begin();
        ck_assert_int_eq(store_delete_before(w, cutoff, 40, &deleted), STORE_OK);
        ck_assert_int_le(deleted, 40);
        writer_commit(w);
        total += deleted;
    } while (deleted > 0);
    ck_assert_int_eq(total, expected);
    check_all_metrics("s1");
    check_all_metrics("s2");
    check_verify();
}
END_TEST

START_TEST(test_erase_customer)
{
    char id[32], existing[32];
    struct store_replay replay;
    struct spec s = {0, now_ms - 9 * DAY_MS, "web", NULL, "dora", NULL, 3, "*her own words", 0, "dora's note"};

    reset_model();
    put_survey(0, "s1");
    put_survey(1, "s2");
    insert_random(0, 40);
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    s.survey = 1;
    s.at += HOUR_MS;
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    s.customer = "ed";
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);

    struct store_idempotency key = {"scope-a", "s2", "k-dora", "body", 4};
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_save_idempotency(w, &key, 201, "{}", id, "dora", now_ms), STORE_OK);
    writer_commit(w);

    char **traces;
    int trace_count;
    ck_assert_int_eq(store_customer_traces(store_reader(store), "dora", &traces, &trace_count), STORE_OK);
    ck_assert_int_ge(trace_count, 2); /* the two ids at least */
    for (int i = 0; i < trace_count; i++)
        free(traces[i]);
    free(traces);

    int64_t deleted;
    w = writer_begin();
    ck_assert_int_eq(store_erase_customer(w, "dora", &deleted), STORE_OK);
    writer_commit(w);
    ck_assert_int_eq(deleted, 2);
    for (int i = 0; i < stored_count; i++) {
        if (stored[i].spec.customer && strcmp(stored[i].spec.customer, "dora") == 0)
            stored[i].live = false;
    }
    bool rewrote;
    ck_assert_int_eq(store_purge(store_writer(store), NULL, 0, &rewrote), STORE_OK);

    struct store_list_query q = all_of(NULL);
    q.customer = "dora";
    check_list(&q);
    q.customer = "ed";
    check_list(&q);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &key, &replay), STORE_NOT_FOUND);
    check_all_metrics("s1");
    check_all_metrics("s2");
    check_verify();
}
END_TEST

START_TEST(test_idempotency)
{
    struct store_replay replay;
    struct store_idempotency key = {"POST s1", "s1", "key-1", "{\"a\":1}", 7};
    struct store_idempotency other_body = key, other_key = key, other_scope = key;
    other_body.body = "{\"a\":2}";
    other_key.key = "key-2";
    other_scope.scope = "POST s2";

    reset_model();
    put_survey(0, "s1");
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &key, &replay), STORE_NOT_FOUND);
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_save_idempotency(w, &key, 201, "{\"id\":\"x\"}", "x", NULL, now_ms), STORE_OK);
    writer_commit(w);

    ck_assert_int_eq(store_find_idempotency(store_reader(store), &key, &replay), STORE_REPLAY);
    ck_assert_int_eq(replay.status, 201);
    ck_assert_str_eq(replay.reply, "{\"id\":\"x\"}");
    ck_assert_str_eq(replay.response_id, "x");
    store_replay_free(&replay);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &other_body, &replay), STORE_KEY_REUSED);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &other_key, &replay), STORE_NOT_FOUND);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &other_scope, &replay), STORE_NOT_FOUND);

    /* The same key saved twice (another instance came first): a conflict, the first one stays. */
    w = writer_begin();
    ck_assert_int_eq(store_save_idempotency(w, &key, 200, "{}", NULL, NULL, now_ms), STORE_CONFLICT);
    store_rollback_to(w);
    store_rollback(w);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &key, &replay), STORE_REPLAY);
    ck_assert_int_eq(replay.status, 201);
    store_replay_free(&replay);

    /* Records belong to their survey and go with it. */
    w = writer_begin();
    ck_assert_int_eq(store_delete_survey(w, "s1"), STORE_OK);
    writer_commit(w);
    ck_assert_int_eq(store_find_idempotency(store_reader(store), &key, &replay), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_edit_tokens)
{
    unsigned char hash[EDIT_TOKEN_HASH_LEN], got[EDIT_TOKEN_HASH_LEN];
    struct store_edit_token token = {hash, sizeof hash, now_ms + EDIT_TOKEN_LIFETIME_MS};
    char with[32], without[32], existing[32];
    int64_t expires;
    struct spec s = {0, now_ms - DAY_MS, NULL, NULL, NULL, NULL, 4, NULL, -1, NULL};

    reset_model();
    put_survey(0, "s1");
    for (size_t i = 0; i < sizeof hash; i++)
        hash[i] = (unsigned char)(i * 37 + 1); /* low and high bytes, and a zero: binary, not text */
    hash[5] = 0;
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(insert_in(w, &s, &token, with, existing), STORE_OK);
    store_release(w);
    ck_assert_int_eq(store_savepoint(w), STORE_OK);
    ck_assert_int_eq(insert_in(w, &s, NULL, without, existing), STORE_OK);
    writer_commit(w);

    ck_assert_int_eq(store_get_edit_token(store_reader(store), with, got, sizeof got, &expires), STORE_OK);
    ck_assert_mem_eq(got, hash, sizeof hash);
    ck_assert_int_eq(expires, token.expires_at);
    ck_assert_int_eq(store_get_edit_token(store_reader(store), without, got, sizeof got, &expires), STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_edit_token(store_reader(store), "nosuchid", got, sizeof got, &expires),
                     STORE_NOT_FOUND);
    /* The token goes with its response. */
    w = writer_begin();
    ck_assert_int_eq(store_delete_response(w, with), STORE_OK);
    writer_commit(w);
    ck_assert_int_eq(store_get_edit_token(store_reader(store), with, got, sizeof got, &expires), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_data_version_and_day_span)
{
    int64_t v0, v1, all0, all1, other0, other1, first, last;
    char id[32], existing[32];
    struct spec s = {0, now_ms - 20 * DAY_MS + 5, NULL, NULL, NULL, NULL, 10, NULL, -1, NULL};
    struct store_conn *r;

    reset_model();
    put_survey(0, "s1");
    put_survey(1, "s2");
    r = store_reader(store);
    ck_assert_int_eq(store_day_span(r, "s1", &first, &last), STORE_NOT_FOUND);
    ck_assert_int_eq(store_data_version(r, "s1", &v0), STORE_OK);
    ck_assert_int_eq(store_data_version(r, NULL, &all0), STORE_OK);
    ck_assert_int_eq(store_data_version(r, "s2", &other0), STORE_OK);
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    s.at = now_ms - 2 * DAY_MS - 1;
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    ck_assert_int_eq(store_data_version(r, "s1", &v1), STORE_OK);
    ck_assert_int_eq(store_data_version(r, NULL, &all1), STORE_OK);
    ck_assert_int_eq(store_data_version(r, "s2", &other1), STORE_OK);
    if (strcmp(backend, "sqlite") == 0) {
        /* One process owns the file: nothing to compare with. */
        ck_assert(v0 == 0 && v1 == 0 && all0 == 0 && all1 == 0 && other0 == 0 && other1 == 0);
    } else {
        ck_assert_int_gt(v1, v0);
        ck_assert_int_gt(all1, all0);
        ck_assert_int_ge(other1, other0);
    }
    ck_assert_int_eq(store_day_span(r, "s1", &first, &last), STORE_OK);
    ck_assert_int_eq(first, now_ms / DAY_MS - 20);
    ck_assert_int_eq(last, now_ms / DAY_MS - 3);
    ck_assert_int_eq(store_day_span(r, "s2", &first, &last), STORE_NOT_FOUND);
    ck_assert_int_eq(store_day_span(r, "none", &first, &last), STORE_NOT_FOUND);
}
END_TEST

/* Every connection the store has to its database closed by the server (as a restart or an idle
 * timeout would) while an export waits between stretches: the next reads connect again by
 * themselves, and the export goes on after its last row, none twice, none missed. PostgreSQL only:
 * an SQLite store has no server. */
START_TEST(test_reads_survive_lost_connections)
{
    struct store_response_row row;
    static struct list_arg got, want;
    char err[256], sql[256];

    reset_model();
    if (strcmp(backend, "sqlite") == 0)
        return;
    put_survey(0, "s1");
    insert_random(0, 700);
    struct store_list_query q = all_of("s1");
    model_list(&q, &want);
    struct store_iter *it = store_iter_open(store, &q, err, sizeof err);
    ck_assert_ptr_nonnull(it);
    got.count = 0;
    for (int i = 0; i < 300; i++) { /* into the second stretch */
        ck_assert_int_eq(store_iter_next(it, &row), STORE_OK);
        list_row(&row, &got);
        store_response_row_free(&row);
    }
    store_iter_pause(it);
    check_list(&q);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
             case_name);
    PGconn *admin = admin_connect();
    PGresult *r = PQexec(admin, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_ge(PQntuples(r), 3); /* the writer, this thread's reader and the export's */
    PQclear(r);
    PQfinish(admin);

    while (store_iter_next(it, &row) == STORE_OK) {
        list_row(&row, &got);
        store_response_row_free(&row);
    }
    store_iter_close(it);
    assert_same_list(&got, &want, "iter across a lost connection");
    check_list(&q);
    check_all_metrics("s1");
}
END_TEST

/* `surveyd verify` opens the store read-only beside the serving daemon: the same answers. */
START_TEST(test_read_only_beside)
{
    char err[512];
    uint64_t differences, responses;
    int lines = 0;

    reset_model();
    put_survey(0, "s1");
    insert_random(0, 80);
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *ro = store_open_read_only(&options, err, sizeof err);
    ck_assert_msg(ro != NULL, "store_open_read_only: %s", err);
    ck_assert_int_eq(store_verify(ro, count_line, &lines, &differences, &responses), STORE_OK);
    ck_assert_int_eq(differences, 0);
    ck_assert_int_eq(responses, 80);
    struct store *kept = store;
    store = ro; /* the checks below read through `store` */
    struct store_list_query q = all_of("s1");
    check_list(&q);
    check_iter(&q, 7);
    check_all_metrics("s1");
    store = kept;
    store_close(ro);
}
END_TEST

/* ---- invitations ---- */

/* An invitation of survey id to customer at `at`: sent ones get a token hash made from n (binary,
 * with a zero byte), suppressed ones none. */
static struct store_invitation_row invitation(int n, const char *survey, const char *customer, int64_t at,
                                              enum store_invitation_outcome outcome)
{
    struct store_invitation_row row = {.customer = (char *)customer, .outcome = outcome, .created_at = at};
    snprintf(row.id, sizeof row.id, "i%025d", n);
    snprintf(row.survey, sizeof row.survey, "%s", survey);
    if (outcome == STORE_INVITATION_SENT) {
        row.has_token = true;
        for (int i = 0; i < STORE_INVITATION_HASH_LEN; i++)
            row.token_hash[i] = (unsigned char)(n * 31 + i * 57);
        row.token_hash[3] = 0;
        row.expires_at = at + 30 * DAY_MS;
        snprintf(row.form_key, sizeof row.form_key, "fk%d", n);
    }
    return row;
}

static enum store_status insert_invitation(const struct store_invitation_row *row)
{
    struct store_conn *w = writer_begin();
    enum store_status status = store_insert_invitation(w, row);
    if (status == STORE_OK) {
        writer_commit(w);
    } else {
        store_rollback_to(w);
        store_rollback(w);
    }
    return status;
}

static void assert_text_eq(const char *got, const char *want)
{
    if (want == NULL || want[0] == '\0')
        ck_assert_msg(got == NULL || got[0] == '\0', "want none, got \"%s\"", got);
    else
        ck_assert_str_eq(got, want);
}

static void assert_same_invitation(const struct store_invitation_row *got, const struct store_invitation_row *want)
{
    ck_assert_str_eq(got->id, want->id);
    ck_assert_str_eq(got->survey, want->survey);
    ck_assert_str_eq(got->customer, want->customer);
    assert_text_eq(got->channel, want->channel);
    assert_text_eq(got->agent, want->agent);
    assert_text_eq(got->interaction, want->interaction);
    assert_text_eq(got->properties, want->properties);
    ck_assert_int_eq(got->outcome, want->outcome);
    ck_assert_int_eq(got->has_token, want->has_token);
    if (want->has_token)
        ck_assert_mem_eq(got->token_hash, want->token_hash, STORE_INVITATION_HASH_LEN);
    ck_assert_str_eq(got->form_key, want->form_key);
    ck_assert_int_eq(got->created_at, want->created_at);
    ck_assert_int_eq(got->expires_at, want->expires_at);
    ck_assert_int_eq(got->opened_at, want->opened_at);
    ck_assert_int_eq(got->responded_at, want->responded_at);
    ck_assert_str_eq(got->response_id, want->response_id);
    ck_assert_int_eq(got->automated_visits, want->automated_visits);
    ck_assert_int_eq(got->last_visit_at, want->last_visit_at);
    assert_text_eq(got->last_visit_value, want->last_visit_value);
    assert_text_eq(got->captured, want->captured);
}

static int64_t data_version_of(const char *survey)
{
    int64_t version;
    ck_assert_int_eq(store_data_version(store_reader(store), survey, &version), STORE_OK);
    return version;
}

START_TEST(test_invitation_rows)
{
    struct store_invitation_row got;
    struct store_invitation_row sent = invitation(1, "s1", "dora", now_ms - DAY_MS, STORE_INVITATION_SENT);
    struct store_invitation_row throttled = invitation(2, "s1", "dora", now_ms - DAY_MS + 5, STORE_INVITATION_THROTTLED);
    bool shared = strcmp(backend, "postgresql") == 0;

    reset_model();
    put_survey(0, "s1");
    sent.channel = "email";
    sent.agent = "ann";
    sent.interaction = "ticket-7";
    sent.properties = "{\"plan\":\"gold\",\"n\":1}";
    int64_t v0 = data_version_of("s1");
    ck_assert_int_eq(insert_invitation(&sent), STORE_OK);
    ck_assert_int_eq(insert_invitation(&throttled), STORE_OK);
    int64_t v1 = data_version_of("s1");
    if (shared)
        ck_assert_int_gt(v1, v0); /* cached metrics of every instance learn of it */

    ck_assert_int_eq(store_get_invitation(store_reader(store), sent.id, &got), STORE_OK);
    assert_same_invitation(&got, &sent);
    store_invitation_row_free(&got);
    ck_assert_int_eq(store_get_invitation(store_reader(store), throttled.id, &got), STORE_OK);
    assert_same_invitation(&got, &throttled);
    ck_assert(!got.has_token);
    store_invitation_row_free(&got);
    ck_assert_int_eq(store_get_invitation(store_reader(store), "i-none", &got), STORE_NOT_FOUND);

    /* The page finds a sent one by its token's hash, nothing else. */
    ck_assert_int_eq(store_find_invitation_by_token(store_reader(store), sent.token_hash, &got), STORE_OK);
    assert_same_invitation(&got, &sent);
    store_invitation_row_free(&got);
    unsigned char other[STORE_INVITATION_HASH_LEN];
    memcpy(other, sent.token_hash, sizeof other);
    other[STORE_INVITATION_HASH_LEN - 1] ^= 1;
    ck_assert_int_eq(store_find_invitation_by_token(store_reader(store), other, &got), STORE_NOT_FOUND);
    ck_assert_int_eq(store_find_invitation_by_token(store_reader(store), throttled.token_hash, &got),
                     STORE_NOT_FOUND);

    /* What happened since: every field of it is stored, and only for that id. */
    sent.opened_at = now_ms - DAY_MS + HOUR_MS;
    sent.responded_at = now_ms - DAY_MS + 2 * HOUR_MS;
    snprintf(sent.response_id, sizeof sent.response_id, "r-from-page");
    sent.automated_visits = 3;
    sent.last_visit_at = now_ms - DAY_MS + 2 * HOUR_MS - 7;
    sent.last_visit_value = "9";
    sent.captured = "{\"rec\":\"submit\",\"ch\":\"interaction\"}";
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_update_invitation(w, &sent), STORE_OK);
    writer_commit(w);
    if (shared)
        ck_assert_int_gt(data_version_of("s1"), v1);
    ck_assert_int_eq(store_get_invitation(store_reader(store), sent.id, &got), STORE_OK);
    assert_same_invitation(&got, &sent);
    store_invitation_row_free(&got);
    ck_assert_int_eq(store_get_invitation(store_reader(store), throttled.id, &got), STORE_OK);
    assert_same_invitation(&got, &throttled);
    store_invitation_row_free(&got);
    struct store_invitation_row unknown = invitation(9, "s1", "dora", now_ms, STORE_INVITATION_SENT);
    w = writer_begin();
    ck_assert_int_eq(store_update_invitation(w, &unknown), STORE_NOT_FOUND);
    store_rollback_to(w);
    store_rollback(w);

    /* A taken id or token hash is a conflict; a survey that is not there, not found. */
    struct store_invitation_row again = invitation(1, "s1", "ed", now_ms, STORE_INVITATION_THROTTLED);
    ck_assert_int_eq(insert_invitation(&again), STORE_CONFLICT);
    again = invitation(1, "s1", "ed", now_ms, STORE_INVITATION_SENT);
    snprintf(again.id, sizeof again.id, "i-same-token");
    ck_assert_int_eq(insert_invitation(&again), STORE_CONFLICT);
    again = invitation(3, "nosuch", "ed", now_ms, STORE_INVITATION_SENT);
    ck_assert_int_eq(insert_invitation(&again), STORE_NOT_FOUND);
    /* Suppressed ones have no token: many of them never collide. */
    for (int i = 10; i < 13; i++) {
        again = invitation(i, "s1", "ed", now_ms, STORE_INVITATION_SAMPLED_OUT);
        ck_assert_int_eq(insert_invitation(&again), STORE_OK);
    }
}
END_TEST

static void last_contact_is(const char *survey, const char *customer, enum store_status want_status, int64_t want)
{
    int64_t last = -1;
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_last_contact(w, survey, customer, &last), want_status);
    if (want_status == STORE_OK)
        ck_assert_int_eq(last, want);
    writer_commit(w);
}

START_TEST(test_last_contact)
{
    char id[32], existing[32];
    int64_t t0 = now_ms - 40 * DAY_MS;

    reset_model();
    put_survey(0, "s1");
    put_survey(1, "s2");
    last_contact_is("s1", "dora", STORE_NOT_FOUND, 0);
    /* Suppressed invitations are no contact. */
    struct store_invitation_row row = invitation(1, "s1", "dora", t0, STORE_INVITATION_THROTTLED);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    row = invitation(2, "s1", "dora", t0 + 1, STORE_INVITATION_SAMPLED_OUT);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    last_contact_is("s1", "dora", STORE_NOT_FOUND, 0);
    row = invitation(3, "s1", "dora", t0 + DAY_MS, STORE_INVITATION_SENT);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    last_contact_is("s1", "dora", STORE_OK, t0 + DAY_MS);
    /* A later response counts; one of another customer or survey does not, nor a later
     * suppressed invitation, nor another survey's invitation. */
    struct spec s = {0, t0 + 3 * DAY_MS, NULL, NULL, "dora", NULL, 5, NULL, -1, NULL};
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    s.at = t0 + 9 * DAY_MS;
    s.customer = "ed";
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    s.survey = 1;
    s.customer = "dora";
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);
    row = invitation(4, "s1", "dora", t0 + 8 * DAY_MS, STORE_INVITATION_THROTTLED);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    row = invitation(5, "s2", "dora", t0 + 10 * DAY_MS, STORE_INVITATION_SENT);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    last_contact_is("s1", "dora", STORE_OK, t0 + 3 * DAY_MS);
    last_contact_is("s2", "dora", STORE_OK, t0 + 10 * DAY_MS);
    last_contact_is("s1", "ed", STORE_OK, t0 + 9 * DAY_MS);
    last_contact_is("s1", "fay", STORE_NOT_FOUND, 0);
    /* A sent invitation after the response: the later one again. */
    row = invitation(6, "s1", "dora", t0 + 5 * DAY_MS, STORE_INVITATION_SENT);
    ck_assert_int_eq(insert_invitation(&row), STORE_OK);
    last_contact_is("s1", "dora", STORE_OK, t0 + 5 * DAY_MS);
}
END_TEST

/* ---- the scan, against a model ---- */

#define MAX_INVITATIONS 400
static struct store_invitation_row invited[MAX_INVITATIONS];
static bool invited_live[MAX_INVITATIONS];
static int invited_count;

static const char *const customers[] = {"dora", "ed", "fay", "gus"};

/* Invitations spread over 30 days before now (some at exact midnights), of every outcome, some
 * opened, some answered, some answered without a recorded opening (the page's first visit
 * looked automated). */
static void insert_random_invitations(const char *survey, int n)
{
    struct store_conn *w = writer_begin();
    for (int i = 0; i < n; i++) {
        ck_assert_int_lt(invited_count, MAX_INVITATIONS);
        int64_t at = now_ms - 30 * DAY_MS + (int64_t)rng(30) * DAY_MS + (rng(4) ? (int64_t)rng(24 * 3600) * 1000 : 0);
        unsigned kind = rng(10);
        struct store_invitation_row row =
            invitation(invited_count, survey, customers[rng(4)], at,
                       kind < 7 ? STORE_INVITATION_SENT : kind < 9 ? STORE_INVITATION_THROTTLED
                                                                    : STORE_INVITATION_SAMPLED_OUT);
        row.channel = (char *)channels[rng(3)];
        row.agent = (char *)agents[rng(4)];
        if (row.outcome == STORE_INVITATION_SENT) {
            unsigned fate = rng(4); /* nothing, opened, opened and answered, answered only */
            row.opened_at = fate == 1 || fate == 2 ? at + HOUR_MS : 0;
            row.responded_at = fate >= 2 ? at + 2 * HOUR_MS : 0;
        }
        ck_assert_int_eq(store_insert_invitation(w, &row), STORE_OK);
        invited[invited_count] = row;
        invited_live[invited_count++] = true;
    }
    writer_commit(w);
}

#define MAX_CELLS 1024
struct inv_cells {
    int count;
    struct {
        int64_t day;
        char channel[16], agent[16];
        int64_t sent, suppressed, opened, responded;
    } cell[MAX_CELLS];
};

static void add_inv_cell(struct inv_cells *cells, const struct store_invitation_cell *c)
{
    int i;
    for (i = 0; i < cells->count; i++) {
        if (cells->cell[i].day == c->day && strcmp(cells->cell[i].channel, c->channel) == 0 &&
            strcmp(cells->cell[i].agent, c->agent) == 0)
            break;
    }
    if (i == cells->count) {
        ck_assert_int_lt(cells->count, MAX_CELLS);
        memset(&cells->cell[i], 0, sizeof cells->cell[i]);
        cells->cell[i].day = c->day;
        snprintf(cells->cell[i].channel, sizeof cells->cell[i].channel, "%s", c->channel);
        snprintf(cells->cell[i].agent, sizeof cells->cell[i].agent, "%s", c->agent);
        cells->count++;
    }
    cells->cell[i].sent += c->sent;
    cells->cell[i].suppressed += c->suppressed;
    cells->cell[i].opened += c->opened;
    cells->cell[i].responded += c->responded;
}

static void collect_inv_cell(const struct store_invitation_cell *c, void *arg)
{
    add_inv_cell(arg, c);
}

static void model_inv_cells(const struct store_metrics_query *q, struct inv_cells *cells)
{
    bool agent = q->by_agent || q->agent;
    cells->count = 0;
    for (int i = 0; i < invited_count; i++) {
        const struct store_invitation_row *r = &invited[i];
        const char *channel = r->channel ? r->channel : "", *ag = r->agent ? r->agent : "";
        if (!invited_live[i] || strcmp(r->survey, q->survey) != 0 || r->created_at < q->from_ms ||
            r->created_at >= q->to_ms || (q->channel && strcmp(channel, q->channel) != 0) ||
            (q->agent && strcmp(ag, q->agent) != 0))
            continue;
        bool sent = r->outcome == STORE_INVITATION_SENT;
        struct store_invitation_cell c = {
            .day = r->created_at / DAY_MS,
            .channel = channel,
            .agent = agent ? ag : "",
            .sent = sent,
            .suppressed = !sent,
            .opened = sent && (r->opened_at > 0 || r->responded_at > 0),
            .responded = sent && r->responded_at > 0,
        };
        add_inv_cell(cells, &c);
    }
}

static void check_inv_scan(const struct store_metrics_query *q)
{
    static struct inv_cells got, want;
    got.count = 0;
    ck_assert_int_eq(store_invitation_scan(store_reader(store), q, collect_inv_cell, &got), STORE_OK);
    model_inv_cells(q, &want);
    ck_assert_int_eq(got.count, want.count);
    for (int i = 0; i < want.count; i++) {
        int j;
        for (j = 0; j < got.count; j++) {
            if (got.cell[j].day == want.cell[i].day && strcmp(got.cell[j].channel, want.cell[i].channel) == 0 &&
                strcmp(got.cell[j].agent, want.cell[i].agent) == 0)
                break;
        }
        ck_assert_msg(j < got.count, "cell day %lld channel '%s' agent '%s' missing", (long long)want.cell[i].day,
                      want.cell[i].channel, want.cell[i].agent);
        ck_assert_int_eq(got.cell[j].sent, want.cell[i].sent);
        ck_assert_int_eq(got.cell[j].suppressed, want.cell[i].suppressed);
        ck_assert_int_eq(got.cell[j].opened, want.cell[i].opened);
        ck_assert_int_eq(got.cell[j].responded, want.cell[i].responded);
    }
}

/* Every filter and grouping over a few windows, the edges of each exact to the millisecond. */
static void check_all_inv_scans(const char *survey)
{
    const int64_t edges[][2] = {
        {INT64_MIN, INT64_MAX},
        {now_ms - 20 * DAY_MS, now_ms - 10 * DAY_MS},
        {now_ms - 20 * DAY_MS + 1, now_ms - 10 * DAY_MS + 1},
        {invited[5].created_at, invited[9].created_at},
        {invited[9].created_at, invited[5].created_at + 1},
        {now_ms - 15 * DAY_MS + 5 * HOUR_MS, INT64_MAX},
        /* Whole days from the rollup, partial ones at either edge from the raw rows. */
        {now_ms - 25 * DAY_MS + 3 * HOUR_MS, now_ms - 5 * DAY_MS},
        {now_ms - 25 * DAY_MS, now_ms - 5 * DAY_MS - 1},
        {now_ms - 25 * DAY_MS - 1, now_ms - 5 * DAY_MS + 1},
        {now_ms - 20 * DAY_MS + 5 * HOUR_MS, now_ms - 20 * DAY_MS + 9 * HOUR_MS}, /* inside one day */
        {now_ms - 20 * DAY_MS + 5 * HOUR_MS, now_ms - 19 * DAY_MS + 9 * HOUR_MS}, /* no whole day */
        {now_ms - 20 * DAY_MS, now_ms - 19 * DAY_MS},                             /* exactly one */
        {INT64_MIN, now_ms - 12 * DAY_MS + 1},
        {0, DAY_MS},
        {1, INT64_MAX},
    };
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        for (int f = 0; f < 6; f++) {
            struct store_metrics_query q = {
                .survey = survey,
                .from_ms = edges[e][0],
                .to_ms = edges[e][1],
                .channel = f == 1 ? "web" : f == 5 ? "email" : NULL,
                .agent = f == 2 || f == 5 ? "ann" : NULL,
                .by_agent = f == 3 || f == 5,
                .by_day = f == 4,
            };
            check_inv_scan(&q);
        }
    }
}

START_TEST(test_invitation_scan)
{
    reset_model();
    invited_count = 0;
    put_survey(0, "s1");
    put_survey(1, "s2");
    insert_random_invitations("s1", 200);
    insert_random_invitations("s2", 30);
    /* One at the epoch's edge: days count from 1970-01-01 as the responses' do. */
    struct store_invitation_row early = invitation(invited_count, "s1", "hal", DAY_MS - 1, STORE_INVITATION_SENT);
    ck_assert_int_eq(insert_invitation(&early), STORE_OK);
    invited[invited_count] = early;
    invited_live[invited_count++] = true;
    check_all_inv_scans("s1");
    check_all_inv_scans("s2");
    struct store_metrics_query none = {.survey = "nosuch", .from_ms = INT64_MIN, .to_ms = INT64_MAX};
    check_inv_scan(&none);

    /* Opened and answered later: the scan counts what became of them. */
    struct store_conn *w = writer_begin();
    for (int i = 0; i < 40; i++) {
        struct store_invitation_row *r = &invited[i];
        if (r->outcome != STORE_INVITATION_SENT || r->responded_at > 0)
            continue;
        r->responded_at = r->created_at + 3 * DAY_MS;
        ck_assert_int_eq(store_update_invitation(w, r), STORE_OK);
    }
    writer_commit(w);
    check_all_inv_scans("s1");
    check_verify();

    /* A burst of automated visits clears opened_at: opened goes down again, unless the invitation
     * was answered (opened counts those too); others are opened only now. The rollup follows each
     * transition, both ways. */
    w = writer_begin();
    for (int i = 40; i < invited_count; i++) {
        struct store_invitation_row *r = &invited[i];
        if (r->outcome != STORE_INVITATION_SENT)
            continue;
        if (r->opened_at > 0)
            r->opened_at = 0;
        else if (i % 3 == 0)
            r->opened_at = r->created_at + 5 * HOUR_MS;
        else
            continue;
        ck_assert_int_eq(store_update_invitation(w, r), STORE_OK);
    }
    writer_commit(w);
    check_all_inv_scans("s1");
    check_all_inv_scans("s2");
    check_verify();
}
END_TEST

static bool has_trace(char **traces, int count, const char *text)
{
    for (int i = 0; i < count; i++)
        if (strcmp(traces[i], text) == 0)
            return true;
    return false;
}

static void check_invitations_stored(void)
{
    struct store_invitation_row got;
    for (int i = 0; i < invited_count; i++) {
        enum store_status status = store_get_invitation(store_reader(store), invited[i].id, &got);
        ck_assert_msg(status == (invited_live[i] ? STORE_OK : STORE_NOT_FOUND), "invitation %d: status %d", i,
                      (int)status);
        if (status == STORE_OK)
            store_invitation_row_free(&got);
    }
}

START_TEST(test_invitations_go_with_their_data)
{
    char id[32], existing[32];
    int64_t deleted;

    reset_model();
    invited_count = 0;
    put_survey(0, "s1");
    put_survey(1, "s2");
    insert_random_invitations("s1", 150);
    insert_random_invitations("s2", 60);
    struct spec s = {0, now_ms - 5 * DAY_MS, NULL, NULL, "dora", NULL, 5, NULL, -1, NULL};
    ck_assert_int_eq(insert(&s, id, existing), STORE_OK);

    /* Erasure: the customer's invitations are among the traces, and go; *deleted counts their
     * responses only. */
    char **traces;
    int trace_count;
    ck_assert_int_eq(store_customer_traces(store_reader(store), "dora", &traces, &trace_count), STORE_OK);
    int dora = 0;
    for (int i = 0; i < invited_count; i++) {
        if (strcmp(invited[i].customer, "dora") == 0) {
            ck_assert_msg(has_trace(traces, trace_count, invited[i].id), "no trace of %s", invited[i].id);
            dora++;
        }
    }
    ck_assert_int_gt(dora, 0);
    ck_assert(has_trace(traces, trace_count, id));
    for (int i = 0; i < trace_count; i++)
        free(traces[i]);
    free(traces);
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_erase_customer(w, "dora", &deleted), STORE_OK);
    writer_commit(w);
    ck_assert_int_eq(deleted, 1);
    stored[0].live = false;
    for (int i = 0; i < invited_count; i++)
        if (strcmp(invited[i].customer, "dora") == 0)
            invited_live[i] = false;
    check_invitations_stored();
    check_all_inv_scans("s1");
    last_contact_is("s1", "dora", STORE_NOT_FOUND, 0);

    /* Retention: invitations created before the cutoff, at most max of them a batch besides the
     * responses; *deleted counts both. */
    int64_t cutoff = now_ms - 12 * DAY_MS + 7, total = 0;
    int expected = 0;
    for (int i = 0; i < invited_count; i++) {
        if (invited_live[i] && invited[i].created_at < cutoff) {
            invited_live[i] = false;
            expected++;
        }
    }
    ck_assert_int_gt(expected, 20);
    do {
        w = writer_begin();
        ck_assert_int_eq(store_delete_before(w, cutoff, 20, &deleted), STORE_OK);
        ck_assert_int_le(deleted, 40);
        writer_commit(w);
        total += deleted;
    } while (deleted > 0);
    ck_assert_int_eq(total, expected);
    check_invitations_stored();
    check_all_inv_scans("s1");
    check_all_inv_scans("s2");

    /* Survey deletion: all of its invitations, none of another's. */
    w = writer_begin();
    ck_assert_int_eq(store_delete_survey(w, "s2"), STORE_OK);
    writer_commit(w);
    for (int i = 0; i < invited_count; i++)
        if (strcmp(invited[i].survey, "s2") == 0)
            invited_live[i] = false;
    check_invitations_stored();
    check_all_inv_scans("s1");
    check_all_inv_scans("s2");
    check_verify();
}
END_TEST

/* ---- PostgreSQL: instances decide one invitation at a time ---- */

/* Advisory locks in this case's database, granted or waiting. */
static int advisory_locks(bool granted)
{
    char sql[512];
    PGconn *db = admin_connect();
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database"
             " WHERE l.locktype = 'advisory' AND d.datname = '%s' AND l.granted = %s",
             case_name, granted ? "true" : "false");
    PGresult *r = PQexec(db, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int count = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(db);
    return count;
}

struct contact_call {
    struct store *store;
    const char *survey, *customer;
    enum store_status status;
    int64_t last;
};

/* Another instance's writer: the same decision in a transaction of its own. */
static void *other_instance_contact(void *arg)
{
    struct contact_call *call = arg;
    struct store_conn *w = store_writer(call->store);
    call->status = STORE_ERROR;
    if (w == NULL || store_begin(w) != STORE_OK)
        return NULL;
    call->status = store_last_contact(w, call->survey, call->customer, &call->last);
    if (store_commit(w) != STORE_OK)
        call->status = STORE_ERROR;
    return NULL;
}

START_TEST(test_last_contact_lock)
{
    char err[512];

    if (strcmp(backend, "postgresql") != 0)
        return; /* SQLite: one writer in one process already serialises every decision */
    reset_model();
    put_survey(0, "s1");
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *other = store_open(&options, err, sizeof err);
    ck_assert_msg(other != NULL, "store_open: %s", err);

    /* The lock is held until the transaction ends. */
    int64_t last;
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_last_contact(w, "s1", "dora", &last), STORE_NOT_FOUND);
    ck_assert_int_eq(advisory_locks(true), 1);

    /* Another instance deciding for the same pair waits, then sees this one's invitation. */
    struct contact_call call = {other, "s1", "dora", STORE_ERROR, 0};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, other_instance_contact, &call), 0);
    for (int tries = 0; advisory_locks(false) == 0; tries++) {
        ck_assert_msg(tries < 2000, "the other instance never waited for the lock");
        usleep(5000); /* polling for the waiter to show up in pg_locks */
    }
    struct store_invitation_row row = invitation(1, "s1", "dora", now_ms - HOUR_MS, STORE_INVITATION_SENT);
    ck_assert_int_eq(store_insert_invitation(w, &row), STORE_OK);
    writer_commit(w);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(call.status, STORE_OK);
    ck_assert_int_eq(call.last, now_ms - HOUR_MS);
    ck_assert_int_eq(advisory_locks(true), 0);

    /* Other pairs do not wait: both instances hold one at once. */
    w = writer_begin();
    ck_assert_int_eq(store_last_contact(w, "s1", "ed", &last), STORE_NOT_FOUND);
    call = (struct contact_call){other, "s1", "fay", STORE_ERROR, 0};
    struct store_conn *w2 = store_writer(other);
    ck_assert_int_eq(store_begin(w2), STORE_OK);
    ck_assert_int_eq(store_last_contact(w2, "s1", "fay", &last), STORE_NOT_FOUND);
    ck_assert_int_eq(advisory_locks(true), 2);
    ck_assert_int_eq(store_commit(w2), STORE_OK);
    writer_commit(w);
    store_close(other);
}
END_TEST

/* ---- PostgreSQL: instances adding to one invitation_days row ---- */

/* Locks in this case's database that someone waits for. */
static int waiting_locks(void)
{
    char sql[512];
    PGconn *db = admin_connect();
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database"
             " WHERE d.datname = '%s' AND NOT l.granted UNION ALL"
             " SELECT count(*) FROM pg_locks AS l WHERE l.locktype = 'transactionid' AND NOT l.granted",
             case_name);
    PGresult *r = PQexec(db, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int count = atoi(PQgetvalue(r, 0, 0)) + atoi(PQgetvalue(r, 1, 0));
    PQclear(r);
    PQfinish(db);
    return count;
}

struct insert_call {
    struct store *store;
    const struct store_invitation_row *row;
    enum store_status status;
};

static void *other_instance_insert(void *arg)
{
    struct insert_call *call = arg;
    struct store_conn *w = store_writer(call->store);
    call->status = STORE_ERROR;
    if (w == NULL || store_begin(w) != STORE_OK)
        return NULL;
    call->status = store_insert_invitation(w, call->row);
    if (store_commit(w) != STORE_OK)
        call->status = STORE_ERROR;
    return NULL;
}

/* Two instances invite on the same day, channel and agent at once: the second's trigger finds the
 * first's new rollup row uncommitted, waits for it (ON CONFLICT), then adds to it; neither fails
 * and both count. A plain INSERT would fail the second with a unique violation. */
START_TEST(test_invitation_days_two_instances)
{
    char err[512];

    if (strcmp(backend, "postgresql") != 0)
        return; /* SQLite: one writer */
    reset_model();
    invited_count = 0;
    put_survey(0, "s1");
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *other = store_open(&options, err, sizeof err);
    ck_assert_msg(other != NULL, "store_open: %s", err);

    for (int round = 0; round < 2; round++) { /* a new row, then an existing one */
        struct store_invitation_row mine = invitation(invited_count, "s1", "dora", now_ms - 3 * DAY_MS + round,
                                                      STORE_INVITATION_SENT);
        struct store_invitation_row theirs = invitation(invited_count + 1, "s1", "ed", now_ms - 3 * DAY_MS + 7,
                                                        round ? STORE_INVITATION_THROTTLED : STORE_INVITATION_SENT);
        mine.channel = theirs.channel = (char *)"web";
        mine.agent = theirs.agent = (char *)"ann";
        struct store_conn *w = writer_begin();
        ck_assert_int_eq(store_insert_invitation(w, &mine), STORE_OK);
        struct insert_call call = {other, &theirs, STORE_ERROR};
        pthread_t thread;
        ck_assert_int_eq(pthread_create(&thread, NULL, other_instance_insert, &call), 0);
        for (int tries = 0; waiting_locks() == 0; tries++) {
            ck_assert_msg(tries < 2000, "the other instance never waited for the rollup row");
            usleep(5000); /* polling for the waiter to show up in pg_locks */
        }
        writer_commit(w);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        ck_assert_int_eq(call.status, STORE_OK);
        invited[invited_count] = mine;
        invited_live[invited_count++] = true;
        invited[invited_count] = theirs;
        invited_live[invited_count++] = true;
    }
    check_all_inv_scans("s1");
    check_verify();
    store_close(other);
}
END_TEST

/* ---- webhooks: subscriptions and their outbox ---- */

static struct store_webhook_row webhook(const char *id, const char *url)
{
    struct store_webhook_row row = {
        .url = (char *)url,
        .events = (char *)"[\"response.created\",\"customer.erased\"]",
        .surveys = (char *)"[\"s1\"]",
        .filter = (char *)"{\"question\":\"rec\",\"max\":6}",
        .format = (char *)"standard",
        .secret = (char *)"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
        .created_at = now_ms - DAY_MS,
        .updated_at = now_ms - DAY_MS,
    };
    snprintf(row.id, sizeof row.id, "%s", id);
    return row;
}

/* Ends a writer job begun by W (writer_begin) with its status: committed when STORE_OK, rolled back
 * otherwise. WRITE(store_x(W, ...)) is one job. */
static enum store_status write_done(enum store_status status)
{
    struct store_conn *w = store_writer(store);
    if (status == STORE_OK) {
        writer_commit(w);
    } else {
        store_rollback_to(w);
        store_rollback(w);
    }
    return status;
}
#define WRITE(call) write_done(call)
#define W writer_begin()

static void put_webhook_ok(const struct store_webhook_row *row, bool want_created)
{
    bool created = !want_created;
    ck_assert_int_eq(WRITE(store_put_webhook(W, row, &created)), STORE_OK);
    ck_assert(created == want_created);
}

static void assert_same_webhook(const struct store_webhook_row *got, const struct store_webhook_row *want)
{
    ck_assert_str_eq(got->id, want->id);
    ck_assert_str_eq(got->url, want->url);
    ck_assert_str_eq(got->events, want->events);
    assert_text_eq(got->surveys, want->surveys);
    assert_text_eq(got->filter, want->filter);
    ck_assert_str_eq(got->format, want->format);
    ck_assert_str_eq(got->secret, want->secret);
    assert_text_eq(got->old_secret, want->old_secret);
    ck_assert_int_eq(got->old_secret_until, want->old_secret_until);
    ck_assert_int_eq(got->disabled_at, want->disabled_at);
    assert_text_eq(got->disabled_reason, want->disabled_reason);
    ck_assert_int_eq(got->created_at, want->created_at);
    ck_assert_int_eq(got->updated_at, want->updated_at);
    ck_assert_int_eq(got->cursor, want->cursor);
}

/* Delivery n of webhook: subject and customer as given (NULL: none), created at `at`, due at `due`. */
static struct store_delivery_row delivery(int n, const char *hook, const char *type, const char *subject,
                                          const char *customer, int64_t at, int64_t due)
{
    struct store_delivery_row row = {
        .type = (char *)type,
        .survey = (char *)"s1",
        .subject = (char *)subject,
        .customer = (char *)customer,
        .payload = (char *)"{\"type\":\"x\",\"data\":{\"customer\":\"dora\"}}",
        .created_at = at,
        .window_start = at,
        .next_attempt_at = due,
    };
    snprintf(row.id, sizeof row.id, "dlv_%026d", n);
    snprintf(row.webhook, sizeof row.webhook, "%s", hook);
    snprintf(row.event_id, sizeof row.event_id, "msg_%026d", n / 2); /* two deliveries share an event */
    return row;
}

static void insert_delivery_ok(const struct store_delivery_row *row)
{
    ck_assert_int_eq(WRITE(store_insert_delivery(W, row)), STORE_OK);
}

static void add_delivery(struct store_delivery_row row)
{
    insert_delivery_ok(&row);
}

static void add_webhook(struct store_webhook_row row)
{
    put_webhook_ok(&row, true);
}

static const char *delivery_id(int n)
{
    static char ids[8][32];
    static int next;
    char *id = ids[next++ % 8];
    snprintf(id, 32, "dlv_%026d", n);
    return id;
}

/* What one claim took: the ids in the order each() gave them, and the rows' claimed fields. */
struct claimed {
    int count;
    char ids[16][32];
    int64_t seq[16], attempts[16], lease_until[16];
    enum store_delivery_state state[16];
};

static void collect_claimed(const struct store_delivery_row *row, void *arg)
{
    struct claimed *c = arg;
    ck_assert_int_lt(c->count, 16);
    snprintf(c->ids[c->count], 32, "%s", row->id);
    c->seq[c->count] = row->seq;
    c->attempts[c->count] = row->attempts;
    c->lease_until[c->count] = row->lease_until;
    c->state[c->count] = row->state;
    c->count++;
}

static struct claimed claim_on(struct store_conn *w, const char *hook, int64_t at, int64_t lease, int max)
{
    struct claimed c = {0};
    ck_assert_int_eq(store_claim_deliveries(w, hook, at, lease, max, collect_claimed, &c), STORE_OK);
    for (int i = 1; i < c.count; i++)
        ck_assert_int_lt(c.seq[i - 1], c.seq[i]); /* oldest first */
    return c;
}

static struct claimed claim(const char *hook, int64_t at, int64_t lease, int max)
{
    struct store_conn *w = writer_begin();
    struct claimed c = claim_on(w, hook, at, lease, max);
    writer_commit(w);
    return c;
}

/* The claim took exactly these deliveries (by n), in this order. */
static void claimed_are(const struct claimed *c, int count, const int *ns)
{
    ck_assert_msg(c->count == count, "claimed %d, want %d", c->count, count);
    for (int i = 0; i < count; i++)
        ck_assert_str_eq(c->ids[i], delivery_id(ns[i]));
}

static struct store_delivery_row get_delivery_ok(int n)
{
    struct store_delivery_row row;
    ck_assert_int_eq(store_get_delivery(store_reader(store), delivery_id(n), &row), STORE_OK);
    return row;
}

static enum store_status finish(int n, enum store_delivery_state state, int http, const char *error, int64_t at,
                                int64_t next)
{
    struct store_delivery_outcome o = {
        .id = delivery_id(n),
        .state = state,
        .last_status = http,
        .last_error = error,
        .attempted_at = at,
        .next_attempt_at = next,
        .delivered_at = state == STORE_DELIVERY_DELIVERED ? at + 5 : 0,
    };
    return WRITE(store_finish_delivery(W, &o));
}

static void collect_webhook_id(const struct store_webhook_row *row, void *arg)
{
    char *ids = arg;
    strcat(ids, row->id);
    strcat(ids, " ");
}

START_TEST(test_webhook_rows)
{
    struct store_webhook_row a = webhook("b-hook", "https://example.com/a"), got;
    char ids[128] = "";


    put_webhook_ok(&a, true);
    ck_assert_int_eq(store_get_webhook(store_reader(store), "b-hook", &got), STORE_OK);
    assert_same_webhook(&got, &a);
    store_webhook_row_free(&got);

    /* A replace sets every field, created_at too (the caller keeps it). */
    a.url = (char *)"http://127.0.0.1:9/x";
    a.surveys = NULL;
    a.filter = NULL;
    a.format = (char *)"slack";
    a.old_secret = (char *)"whsec_b2xk";
    a.old_secret_until = now_ms + HOUR_MS;
    a.updated_at = now_ms;
    put_webhook_ok(&a, false);
    ck_assert_int_eq(store_get_webhook(store_reader(store), "b-hook", &got), STORE_OK);
    assert_same_webhook(&got, &a);
    store_webhook_row_free(&got);

    struct store_webhook_row b = webhook("a-hook", "https://example.com/b");
    put_webhook_ok(&b, true);
    ck_assert_int_eq(store_list_webhooks(store_reader(store), collect_webhook_id, ids), STORE_OK);
    ck_assert_str_eq(ids, "a-hook b-hook ");

    /* Disabling keeps the first time and reason; an unknown subscription is not found. */
    ck_assert_int_eq(WRITE(store_disable_webhook(W, "a-hook", now_ms, "gone")), STORE_OK);
    ck_assert_int_eq(WRITE(store_disable_webhook(W, "a-hook", now_ms + 5, "again")), STORE_OK);
    ck_assert_int_eq(WRITE(store_disable_webhook(W, "nope", now_ms, "gone")), STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_webhook(store_reader(store), "a-hook", &got), STORE_OK);
    b.disabled_at = now_ms;
    b.disabled_reason = (char *)"gone";
    assert_same_webhook(&got, &b);
    store_webhook_row_free(&got);
    /* A PUT enables it again. */
    b.disabled_at = 0;
    b.disabled_reason = NULL;
    put_webhook_ok(&b, false);
    ck_assert_int_eq(store_get_webhook(store_reader(store), "a-hook", &got), STORE_OK);
    assert_same_webhook(&got, &b);
    store_webhook_row_free(&got);

    /* Deliveries belong to a subscription that exists; ids are unique. */
    struct store_delivery_row d = delivery(1, "a-hook", "response.created", "r1", "dora", now_ms, now_ms);
    insert_delivery_ok(&d);
    ck_assert_int_eq(WRITE(store_insert_delivery(W, &d)), STORE_CONFLICT);
    struct store_delivery_row orphan = delivery(2, "nope", "response.created", "r1", NULL, now_ms, now_ms);
    ck_assert_int_eq(WRITE(store_insert_delivery(W, &orphan)), STORE_NOT_FOUND);
    struct store_delivery_row other = delivery(3, "b-hook", "survey.updated", "s1", NULL, now_ms, now_ms);
    insert_delivery_ok(&other);

    /* A new delivery is PENDING with nothing attempted, whatever the row said. */
    struct store_delivery_row row = get_delivery_ok(1);
    ck_assert_int_eq(row.state, STORE_DELIVERY_PENDING);
    ck_assert_int_eq(row.attempts, 0);
    ck_assert_str_eq(row.webhook, "a-hook");
    ck_assert_str_eq(row.event_id, d.event_id);
    ck_assert_str_eq(row.type, "response.created");
    ck_assert_str_eq(row.survey, "s1");
    ck_assert_str_eq(row.subject, "r1");
    ck_assert_str_eq(row.customer, "dora");
    ck_assert_str_eq(row.payload, d.payload);
    ck_assert_ptr_null(row.last_error);
    ck_assert_int_eq(row.created_at, now_ms);
    ck_assert_int_eq(row.window_start, now_ms);
    ck_assert_int_eq(row.next_attempt_at, now_ms);
    store_delivery_row_free(&row);

    /* Deleting a subscription deletes its deliveries, and no other's. */
    ck_assert_int_eq(WRITE(store_delete_webhook(W, "a-hook")), STORE_OK);
    ck_assert_int_eq(WRITE(store_delete_webhook(W, "a-hook")), STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_webhook(store_reader(store), "a-hook", &got), STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_delivery(store_reader(store), delivery_id(1), &row), STORE_NOT_FOUND);
    row = get_delivery_ok(3);
    store_delivery_row_free(&row);

}
END_TEST


struct listed {
    int count;
    char ids[16][32];
    int64_t seq[16];
};

static void collect_listed(const struct store_delivery_row *row, void *arg)
{
    struct listed *l = arg;
    ck_assert_int_lt(l->count, 16);
    snprintf(l->ids[l->count], 32, "%s", row->id);
    l->seq[l->count++] = row->seq;
}

static struct listed list_deliveries(const char *hook, const enum store_delivery_state *state, int64_t before,
                                     int64_t limit)
{
    struct listed l = {0};
    struct store_delivery_query q = {hook, state, before, limit};
    ck_assert_int_eq(store_list_deliveries(store_reader(store), &q, collect_listed, &l), STORE_OK);
    return l;
}

/* The backlog the store keeps (a count kept by triggers) is the number of PENDING and SENDING rows
 * its listing shows, with the oldest of their events. */
static void check_backlog(const char *hook)
{
    static const enum store_delivery_state open_states[] = {STORE_DELIVERY_PENDING, STORE_DELIVERY_SENDING};
    int64_t depth, oldest, want_oldest = 0;
    int want = 0;

    for (int i = 0; i < 2; i++) {
        struct listed l = list_deliveries(hook, &open_states[i], INT64_MAX, -1);
        want += l.count;
        for (int k = 0; k < l.count; k++) {
            struct store_delivery_row row;
            ck_assert_int_eq(store_get_delivery(store_reader(store), l.ids[k], &row), STORE_OK);
            if (want_oldest == 0 || row.created_at < want_oldest)
                want_oldest = row.created_at;
            store_delivery_row_free(&row);
        }
    }
    ck_assert_int_eq(store_delivery_backlog(store_reader(store), hook, &depth, &oldest), STORE_OK);
    ck_assert_msg(depth == want, "backlog of %s: %lld, want %d", hook, (long long)depth, want);
    ck_assert_int_eq(oldest, want_oldest);
}

static void listed_are(const struct listed *l, int count, const int *ns)
{
    ck_assert_msg(l->count == count, "listed %d, want %d", l->count, count);
    for (int i = 0; i < count; i++)
        ck_assert_str_eq(l->ids[i], delivery_id(ns[i]));
}

/* Due time, max, oldest first, the ordering rule (per subject), leases, disabled subscriptions. */
START_TEST(test_delivery_claim)
{
    struct store_webhook_row hook = webhook("w", "https://example.com/w");
    struct store_webhook_row other = webhook("v", "https://example.com/v");
    const int64_t t0 = now_ms, lease = 60000, at = now_ms - 10;
    struct store_delivery_row row;
    struct claimed c;

    put_webhook_ok(&hook, true);
    put_webhook_ok(&other, true);
    /* r1's update after its creation; r3's creation waits in a backoff, its update is due. */
    add_delivery(delivery(10, "w", "response.created", "r1", NULL, at, at));
    add_delivery(delivery(11, "w", "response.updated", "r1", NULL, at, at));
    add_delivery(delivery(12, "w", "response.created", "r2", NULL, at, at));
    add_delivery(delivery(13, "w", "customer.erased", NULL, NULL, at, at));
    add_delivery(delivery(14, "w", "response.created", "r3", NULL, at, t0 + 1000));
    add_delivery(delivery(15, "w", "response.updated", "r3", NULL, at, at));
    add_delivery(delivery(16, "v", "response.created", "r1", NULL, at, at));

    c = claim("w", t0, t0 + lease, 2); /* max */
    claimed_are(&c, 2, (int[]){10, 12});
    ck_assert_int_eq(c.state[0], STORE_DELIVERY_SENDING);
    ck_assert_int_eq(c.attempts[0], 1);
    ck_assert_int_eq(c.lease_until[0], t0 + lease);
    row = get_delivery_ok(10);
    ck_assert_int_eq(row.state, STORE_DELIVERY_SENDING);
    ck_assert_int_eq(row.attempts, 1);
    ck_assert_int_eq(row.lease_until, t0 + lease);
    store_delivery_row_free(&row);
    /* 11 waits for 10 (SENDING), 14 is not due, 15 waits for 14 (PENDING): only 13. */
    c = claim("w", t0, t0 + lease, 10);
    claimed_are(&c, 1, (int[]){13});
    c = claim("w", t0, t0 + lease, 10);
    claimed_are(&c, 0, NULL);

    /* 10 delivered: its update goes next. */
    ck_assert_int_eq(finish(10, STORE_DELIVERY_DELIVERED, 204, NULL, t0 + 1, 0), STORE_OK);
    c = claim("w", t0 + 2, t0 + 2 + lease, 10);
    claimed_are(&c, 1, (int[]){11});
    /* 14 becomes due; 15 still waits for it. */
    c = claim("w", t0 + 1000, t0 + 1000 + lease, 10);
    claimed_are(&c, 1, (int[]){14});

    /* A lease ends strictly after lease_until: then another sender may take the row over. */
    c = claim("w", t0 + lease, t0 + 2 * lease, 10);
    claimed_are(&c, 0, NULL);
    c = claim("w", t0 + lease + 1, t0 + 2 * lease + 1, 10);
    claimed_are(&c, 2, (int[]){12, 13});
    ck_assert_int_eq(c.attempts[0], 2);

    /* Nothing is claimed from a disabled subscription; a PUT enables it again. */
    ck_assert_int_eq(finish(14, STORE_DELIVERY_PENDING, 503, "HTTP 503", t0 + 1001, t0 + 2000), STORE_OK);
    ck_assert_int_eq(WRITE(store_disable_webhook(W, "w", t0 + 1002, "gone")), STORE_OK);
    c = claim("w", t0 + 100000, t0 + 200000, 10);
    claimed_are(&c, 0, NULL);
    put_webhook_ok(&hook, false);
    c = claim("w", t0 + 100000, t0 + 200000, 10);
    claimed_are(&c, 2, (int[]){11, 14}); /* 11's lease ran out; 15 waits for 14 */

    /* Another subscription's deliveries are its own. */
    c = claim("v", t0, t0 + lease, 10);
    claimed_are(&c, 1, (int[]){16});
    c = claim("nope", t0, t0 + lease, 10);
    claimed_are(&c, 0, NULL);

    /* More claimable than max: the earliest due go first (a retry due later waits behind a new
     * event due now), and each() gets the claimed ones in seq order. */
    add_webhook(webhook("u", "https://example.com/u"));
    add_delivery(delivery(80, "u", "survey.updated", NULL, NULL, at, t0 + 5));
    add_delivery(delivery(81, "u", "survey.updated", NULL, NULL, at, t0 + 1));
    add_delivery(delivery(82, "u", "survey.updated", NULL, NULL, at, t0 + 3));
    c = claim("u", t0 + 10, t0 + lease, 2);
    claimed_are(&c, 2, (int[]){81, 82});
    c = claim("u", t0 + 10, t0 + lease, 2);
    claimed_are(&c, 1, (int[]){80});
    check_backlog("u");
    check_backlog("w");
    check_backlog("v");
}
END_TEST

/* finish (every outcome; only while SENDING), requeue, retry, backlog. */
START_TEST(test_delivery_outcomes)
{
    struct store_webhook_row hook = webhook("w", "https://example.com/w");
    const int64_t t0 = now_ms, base = now_ms - HOUR_MS;
    struct store_delivery_row row;
    struct claimed c;
    int64_t depth, oldest, requeued;

    put_webhook_ok(&hook, true);
    add_webhook(webhook("v", "https://example.com/v"));
    add_delivery(delivery(20, "w", "response.created", "r1", "dora", base + 20, t0));
    add_delivery(delivery(21, "w", "customer.erased", NULL, NULL, base + 21, t0));
    add_delivery(delivery(22, "w", "response.created", "r2", NULL, base + 22, t0));
    add_delivery(delivery(23, "w", "response.created", "r3", NULL, base + 23, t0));
    ck_assert_int_eq(store_delivery_backlog(store_reader(store), "w", &depth, &oldest), STORE_OK);
    ck_assert_int_eq(depth, 4);
    ck_assert_int_eq(oldest, base + 20);
    ck_assert_int_eq(finish(20, STORE_DELIVERY_DELIVERED, 200, NULL, t0, 0), STORE_NOT_FOUND); /* not SENDING */
    c = claim("w", t0, t0 + 60000, 10);
    claimed_are(&c, 4, (int[]){20, 21, 22, 23});

    /* A failure: PENDING again, due at next_attempt_at, with what went wrong. */
    ck_assert_int_eq(finish(20, STORE_DELIVERY_PENDING, 500, "HTTP 500", t0 + 1, t0 + 5000), STORE_OK);
    row = get_delivery_ok(20);
    ck_assert_int_eq(row.state, STORE_DELIVERY_PENDING);
    ck_assert_int_eq(row.last_status, 500);
    ck_assert_str_eq(row.last_error, "HTTP 500");
    ck_assert_int_eq(row.last_attempt_at, t0 + 1);
    ck_assert_int_eq(row.next_attempt_at, t0 + 5000);
    ck_assert_int_eq(row.lease_until, 0);
    ck_assert_int_eq(row.attempts, 1);
    ck_assert_int_eq(row.delivered_at, 0);
    ck_assert_str_eq(row.customer, "dora");
    store_delivery_row_free(&row);
    ck_assert_int_eq(finish(20, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 2, 0), STORE_NOT_FOUND);

    /* Delivered: a customer.erased event keeps no payload (the erased id) once told. */
    ck_assert_int_eq(finish(21, STORE_DELIVERY_DELIVERED, 204, NULL, t0 + 3, 0), STORE_OK);
    row = get_delivery_ok(21);
    ck_assert_int_eq(row.state, STORE_DELIVERY_DELIVERED);
    ck_assert_int_eq(row.delivered_at, t0 + 8);
    ck_assert_int_eq(row.last_status, 204);
    ck_assert_ptr_null(row.last_error);
    ck_assert_str_eq(row.payload, "{}");
    store_delivery_row_free(&row);

    /* Dead: no more attempts; another type keeps its payload (a replay may send it again). */
    ck_assert_int_eq(finish(22, STORE_DELIVERY_DEAD, 0, "timeout", t0 + 4, 0), STORE_OK);
    check_backlog("w"); /* 20 pending again, 21 delivered, 22 dead, 23 sending */
    row = get_delivery_ok(22);
    ck_assert_int_eq(row.state, STORE_DELIVERY_DEAD);
    ck_assert_int_eq(row.last_status, 0);
    ck_assert_str_eq(row.last_error, "timeout");
    ck_assert_str_ne(row.payload, "{}");
    store_delivery_row_free(&row);
    struct store_delivery_outcome bad = {.id = delivery_id(23), .state = STORE_DELIVERY_SENDING};
    ck_assert_int_eq(WRITE(store_finish_delivery(W, &bad)), STORE_ERROR);
    bad = (struct store_delivery_outcome){.id = "dlv_nope", .state = STORE_DELIVERY_DELIVERED};
    ck_assert_int_eq(WRITE(store_finish_delivery(W, &bad)), STORE_NOT_FOUND);

    /* A restart sends again what was being sent, with the same ids. */
    ck_assert_int_eq(WRITE(store_requeue_sending(W, t0 + 10, &requeued)), STORE_OK);
    ck_assert_int_eq(requeued, 1);
    row = get_delivery_ok(23);
    ck_assert_int_eq(row.state, STORE_DELIVERY_PENDING);
    ck_assert_int_eq(row.next_attempt_at, t0 + 10);
    ck_assert_int_eq(row.lease_until, 0);
    store_delivery_row_free(&row);
    ck_assert_int_eq(WRITE(store_requeue_sending(W, t0 + 10, &requeued)), STORE_OK);
    ck_assert_int_eq(requeued, 0);

    /* A manual retry: not while SENDING; a new window from now; attempts keep counting. */
    c = claim("w", t0 + 10, t0 + 60000, 10);
    claimed_are(&c, 1, (int[]){23});
    ck_assert_int_eq(WRITE(store_retry_delivery(W, "w", delivery_id(23), t0 + 20)), STORE_CONFLICT);
    ck_assert_int_eq(WRITE(store_retry_delivery(W, "v", delivery_id(22), t0 + 20)), STORE_NOT_FOUND);
    ck_assert_int_eq(WRITE(store_retry_delivery(W, "w", "dlv_nope", t0 + 20)), STORE_NOT_FOUND);
    ck_assert_int_eq(WRITE(store_retry_delivery(W, "w", delivery_id(22), t0 + 20)), STORE_OK);
    row = get_delivery_ok(22);
    ck_assert_int_eq(row.state, STORE_DELIVERY_PENDING);
    ck_assert_int_eq(row.window_start, t0 + 20);
    ck_assert_int_eq(row.next_attempt_at, t0 + 20);
    ck_assert_int_eq(row.attempts, 1);
    store_delivery_row_free(&row);

    /* The backlog: PENDING (20, 22) and SENDING (23), the oldest event's time. */
    ck_assert_int_eq(store_delivery_backlog(store_reader(store), "w", &depth, &oldest), STORE_OK);
    ck_assert_int_eq(depth, 3);
    ck_assert_int_eq(oldest, base + 20);
    ck_assert_int_eq(store_delivery_backlog(store_reader(store), "v", &depth, &oldest), STORE_OK);
    check_backlog("w");
    ck_assert_int_eq(depth, 0);
    ck_assert_int_eq(oldest, 0);
}
END_TEST

/* Listing (newest first, by state, paged), replay's window edges, pruning. */
START_TEST(test_delivery_history)
{
    const int64_t t0 = now_ms, T = now_ms - 2 * DAY_MS;
    const enum store_delivery_state delivered = STORE_DELIVERY_DELIVERED, pending = STORE_DELIVERY_PENDING;
    struct store_delivery_row row;
    struct claimed c;
    struct listed l;
    int64_t count, deleted;

    add_webhook(webhook("r", "https://example.com/r"));
    for (int n = 30; n < 33; n++)
        add_delivery(delivery(n, "r", "survey.updated", NULL, NULL, T + n - 30, T));
    c = claim("r", t0, t0 + 60000, 10);
    claimed_are(&c, 3, (int[]){30, 31, 32});
    add_delivery(delivery(33, "r", "survey.updated", NULL, NULL, T + 3, t0 + DAY_MS));
    ck_assert_int_eq(finish(30, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 1, 0), STORE_OK);
    ck_assert_int_eq(finish(31, STORE_DELIVERY_DEAD, 500, "HTTP 500", t0 + 1, 0), STORE_OK);
    ck_assert_int_eq(finish(32, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 1, 0), STORE_OK);

    l = list_deliveries("r", NULL, INT64_MAX, -1);
    listed_are(&l, 4, (int[]){33, 32, 31, 30});
    l = list_deliveries("r", &delivered, INT64_MAX, -1);
    listed_are(&l, 2, (int[]){32, 30});
    l = list_deliveries("r", NULL, INT64_MAX, 2);
    listed_are(&l, 2, (int[]){33, 32});
    l = list_deliveries("r", NULL, l.seq[1], 1); /* the next page */
    listed_are(&l, 1, (int[]){31});
    l = list_deliveries("r", NULL, INT64_MAX, 0);
    listed_are(&l, 0, NULL);
    l = list_deliveries("nope", NULL, INT64_MAX, -1);
    listed_are(&l, 0, NULL);

    /* Replay: DELIVERED or DEAD events in [from, to), by when they happened. */
    ck_assert_int_eq(WRITE(store_replay_deliveries(W, "r", T + 1, T + 2, t0 + 50, &count)), STORE_OK);
    ck_assert_int_eq(count, 1);
    row = get_delivery_ok(31);
    ck_assert_int_eq(row.state, STORE_DELIVERY_PENDING);
    ck_assert_int_eq(row.window_start, t0 + 50);
    ck_assert_int_eq(row.next_attempt_at, t0 + 50);
    ck_assert_int_eq(row.attempts, 1);
    store_delivery_row_free(&row);
    ck_assert_int_eq(WRITE(store_replay_deliveries(W, "r", T + 1, T + 2, t0 + 50, &count)), STORE_OK);
    ck_assert_int_eq(count, 0); /* already pending */
    ck_assert_int_eq(WRITE(store_replay_deliveries(W, "r", T + 3, T + 3, t0 + 50, &count)), STORE_OK);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(WRITE(store_replay_deliveries(W, "nope", T, T + 10, t0 + 50, &count)), STORE_OK);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(WRITE(store_replay_deliveries(W, "r", T, T + 4, t0 + 50, &count)), STORE_OK);
    ck_assert_int_eq(count, 2); /* 30 and 32; 33 was never sent */
    check_backlog("r");
    l = list_deliveries("r", &pending, INT64_MAX, -1);
    listed_are(&l, 4, (int[]){33, 32, 31, 30});

    /* Pruning: DELIVERED or DEAD ones created before the cutoff, at most max at a time. */
    c = claim("r", t0 + 50, t0 + 60000, 10);
    claimed_are(&c, 3, (int[]){30, 31, 32});
    for (int n = 30; n < 33; n++)
        ck_assert_int_eq(finish(n, n == 31 ? STORE_DELIVERY_DEAD : STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 60, 0),
                         STORE_OK);
    ck_assert_int_eq(WRITE(store_prune_deliveries(W, T + 2, 1, &deleted)), STORE_OK);
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(WRITE(store_prune_deliveries(W, T + 2, 10, &deleted)), STORE_OK);
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(WRITE(store_prune_deliveries(W, T + 2, 10, &deleted)), STORE_OK);
    ck_assert_int_eq(deleted, 0);
    l = list_deliveries("r", NULL, INT64_MAX, -1);
    listed_are(&l, 2, (int[]){33, 32}); /* 32 is not older than the cutoff, 33 not done */
    ck_assert_int_eq(WRITE(store_prune_deliveries(W, t0 + DAY_MS, 10, &deleted)), STORE_OK);
    ck_assert_int_eq(deleted, 1);
    check_backlog("r");
}
END_TEST

/* Erasure: every delivery that holds the customer's data, in any state, is a trace and goes. */
START_TEST(test_deliveries_erased)
{
    const int64_t t0 = now_ms;
    struct store_delivery_row row;
    char **traces;
    int trace_count;
    int64_t deleted;

    add_webhook(webhook("w", "https://example.com/w"));
    add_delivery(delivery(50, "w", "response.created", "r1", "dora", t0, t0));
    add_delivery(delivery(51, "w", "response.updated", "r1", "dora", t0, t0));
    add_delivery(delivery(52, "w", "response.created", "r2", "ed", t0, t0));
    add_delivery(delivery(53, "w", "customer.erased", NULL, NULL, t0, t0));
    struct claimed c = claim("w", t0, t0 + 60000, 1);
    claimed_are(&c, 1, (int[]){50});
    ck_assert_int_eq(finish(50, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 1, 0), STORE_OK);

    ck_assert_int_eq(store_customer_traces(store_reader(store), "dora", &traces, &trace_count), STORE_OK);
    ck_assert(has_trace(traces, trace_count, delivery_id(50)));
    ck_assert(has_trace(traces, trace_count, delivery_id(51)));
    ck_assert(!has_trace(traces, trace_count, delivery_id(52)));
    for (int i = 0; i < trace_count; i++)
        free(traces[i]);
    free(traces);
    ck_assert_int_eq(WRITE(store_erase_customer(W, "dora", &deleted)), STORE_OK);
    ck_assert_int_eq(deleted, 0); /* responses only */
    ck_assert_int_eq(store_get_delivery(store_reader(store), delivery_id(50), &row), STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_delivery(store_reader(store), delivery_id(51), &row), STORE_NOT_FOUND);
    check_backlog("w");
    row = get_delivery_ok(52);
    store_delivery_row_free(&row);
    row = get_delivery_ok(53);
    store_delivery_row_free(&row);

    /* A survey's deletion leaves the deliveries about it: a receiver is still owed them. */
    reset_model();
    put_survey(0, "s1");
    ck_assert_int_eq(WRITE(store_delete_survey(W, "s1")), STORE_OK);
    row = get_delivery_ok(52);
    ck_assert_str_eq(row.survey, "s1");
    store_delivery_row_free(&row);
    free_surveys();
}
END_TEST

/* ---- the event log ---- */

/* Event n: "msg_" and n; survey, subject, customer and object as given (NULL: none). */
static struct store_event_row event(int n, const char *type, const char *survey, const char *subject,
                                    const char *customer, const char *object, int64_t at)
{
    struct store_event_row row = {
        .type = (char *)type,
        .survey = (char *)survey,
        .subject = (char *)subject,
        .customer = (char *)customer,
        .object = (char *)object,
        .created_at = at,
    };
    snprintf(row.id, sizeof row.id, "msg_%026d", n);
    return row;
}

static void append_ok(struct store_event_row row)
{
    ck_assert_int_eq(WRITE(store_append_event(W, &row)), STORE_OK);
}

/* What a listing gave: seqs and ids in the order each() gave them, and the first row in full. */
struct events_seen {
    int count;
    int64_t seq[64];
    char ids[64][32];
    char first[512];
};

static void collect_event(const struct store_event_row *row, void *arg)
{
    struct events_seen *e = arg;
    ck_assert_int_lt(e->count, 64);
    if (e->count == 0)
        snprintf(e->first, sizeof e->first, "%s|%s|%s|%s|%s|%s|%lld", row->id, row->type,
                 row->survey ? row->survey : "-", row->subject ? row->subject : "-",
                 row->customer ? row->customer : "-", row->object ? row->object : "-", (long long)row->created_at);
    e->seq[e->count] = row->seq;
    snprintf(e->ids[e->count++], 32, "%s", row->id);
}

static struct events_seen events_after(struct store_conn *conn, int64_t after, int64_t limit)
{
    struct events_seen e = {0};
    ck_assert_int_eq(store_list_events(conn, after, limit, collect_event, &e), STORE_OK);
    for (int i = 1; i < e.count; i++)
        ck_assert_int_lt(e.seq[i - 1], e.seq[i]); /* seq order */
    return e;
}

static const char *event_id(int n)
{
    static char ids[8][32];
    static int next;
    char *id = ids[next++ % 8];
    snprintf(id, 32, "msg_%026d", n);
    return id;
}

static void events_are(const struct events_seen *e, int count, const int *ns)
{
    ck_assert_msg(e->count == count, "listed %d events, want %d", e->count, count);
    for (int i = 0; i < count; i++)
        ck_assert_str_eq(e->ids[i], event_id(ns[i]));
}

static int64_t cursor_of(const char *hook)
{
    struct store_webhook_row row;
    ck_assert_int_eq(store_get_webhook(store_reader(store), hook, &row), STORE_OK);
    int64_t cursor = row.cursor;
    store_webhook_row_free(&row);
    return cursor;
}

static bool webhooks_exist(void)
{
    bool any = true;
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_webhooks_exist(w, &any), STORE_OK);
    writer_commit(w);
    return any;
}

static int64_t prune_events(int64_t max)
{
    int64_t deleted = -1;
    ck_assert_int_eq(WRITE(store_prune_events(W, max, &deleted)), STORE_OK);
    return deleted;
}

/* Appending, listing and counting in seq order; whether any subscription exists; where a new
 * subscription's cursor starts, and that a replaced one keeps it; moving a cursor (never back). */
START_TEST(test_event_log)
{
    const int64_t t0 = now_ms;
    int64_t count, oldest, cursor = -1;
    bool locked = false;

    ck_assert(!webhooks_exist());
    append_ok(event(1, "response.created", NULL, "r1", NULL, NULL, t0));
    append_ok(event(2, "response.deleted", "s1", "r2", "dora", "{\"id\":\"r2\",\"answers\":{\"note\":\"caf\\u00e9\"}}",
                    t0 + 1));
    append_ok(event(3, "survey.updated", "s1", "s1", NULL, NULL, t0 + 2));
    struct events_seen e = events_after(store_reader(store), 0, 100);
    events_are(&e, 3, (int[]){1, 2, 3});
    ck_assert_str_eq(e.first, "msg_00000000000000000000000001|response.created|-|r1|-|-|1793491200000");
    e = events_after(store_reader(store), e.seq[0], 100);
    events_are(&e, 2, (int[]){2, 3});
    ck_assert_str_eq(e.first, "msg_00000000000000000000000002|response.deleted|s1|r2|dora|"
                              "{\"id\":\"r2\",\"answers\":{\"note\":\"caf\\u00e9\"}}|1793491200001");
    int64_t seq2 = e.seq[0], seq3 = e.seq[1];
    events_are((struct events_seen[]){events_after(store_reader(store), 0, 2)}, 2, (int[]){1, 2});
    events_are((struct events_seen[]){events_after(store_reader(store), seq3, 100)}, 0, NULL);
    ck_assert_int_eq(store_count_events(store_reader(store), 0, &count, &oldest), STORE_OK);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(oldest, t0);
    ck_assert_int_eq(store_count_events(store_reader(store), seq2, &count, &oldest), STORE_OK);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(oldest, t0 + 2);
    ck_assert_int_eq(store_count_events(store_reader(store), seq3, &count, &oldest), STORE_OK);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(oldest, 0);
    /* An event needs its id and type. */
    struct store_event_row bad = event(9, "response.created", NULL, NULL, NULL, NULL, t0);
    bad.type = NULL;
    ck_assert_int_eq(WRITE(store_append_event(W, &bad)), STORE_ERROR);

    /* A new subscription is owed only what happens after it exists. */
    struct store_webhook_row a = webhook("a", "https://example.com/a");
    put_webhook_ok(&a, true);
    ck_assert(webhooks_exist());
    ck_assert_int_eq(cursor_of("a"), seq3);
    append_ok(event(4, "response.updated", NULL, "r1", NULL, NULL, t0 + 3));
    append_ok(event(5, "response.created", NULL, "r5", NULL, NULL, t0 + 4));
    e = events_after(store_reader(store), seq3, 100);
    events_are(&e, 2, (int[]){4, 5});
    int64_t seq4 = e.seq[0], seq5 = e.seq[1];
    a.url = (char *)"https://example.com/a2";
    put_webhook_ok(&a, false); /* replaced: keeps its cursor */
    ck_assert_int_eq(cursor_of("a"), seq3);
    put_webhook_ok((struct store_webhook_row[]){webhook("b", "https://example.com/b")}, true);
    ck_assert_int_eq(cursor_of("b"), seq5);

    /* Forward only; an unknown subscription is not found. */
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "a", seq4)), STORE_OK);
    ck_assert_int_eq(cursor_of("a"), seq4);
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "a", seq2)), STORE_OK);
    ck_assert_int_eq(cursor_of("a"), seq4);
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "nope", seq5)), STORE_NOT_FOUND);
    ck_assert_int_eq(WRITE(store_lock_webhook_cursor(W, "a", &cursor, &locked)), STORE_OK);
    ck_assert_int_eq(cursor, seq4);
    ck_assert(locked);
    ck_assert_int_eq(WRITE(store_lock_webhook_cursor(W, "nope", &cursor, &locked)), STORE_NOT_FOUND);
    /* Listing a subscription shows its cursor too. */
    char ids[64] = "";
    ck_assert_int_eq(store_list_webhooks(store_reader(store), collect_webhook_id, ids), STORE_OK);
    ck_assert_str_eq(ids, "a b ");
}
END_TEST

/* Pruning deletes what every cursor has passed, in batches of max, and every event once no
 * subscription is left; a seq is never handed out twice, even once the newest rows are gone (a
 * reused seq at or below a cursor would be passed over: lost). */
START_TEST(test_event_prune)
{
    const int64_t t0 = now_ms;

    for (int n = 1; n <= 3; n++)
        append_ok(event(n, "response.created", NULL, "r", NULL, NULL, t0 + n));
    ck_assert_int_eq(prune_events(100), 3); /* no subscription: all of them */
    add_webhook(webhook("a", "https://example.com/a"));
    add_webhook(webhook("b", "https://example.com/b"));
    for (int n = 4; n <= 9; n++)
        append_ok(event(n, "response.created", NULL, "r", NULL, NULL, t0 + n));
    struct events_seen e = events_after(store_reader(store), 0, 100);
    events_are(&e, 6, (int[]){4, 5, 6, 7, 8, 9});
    ck_assert_int_gt(e.seq[0], 3); /* after the pruned ones, on both backends */
    ck_assert_int_eq(prune_events(100), 0); /* neither cursor has passed one */
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "a", e.seq[4])), STORE_OK);
    ck_assert_int_eq(prune_events(100), 0); /* b has not */
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "b", e.seq[3])), STORE_OK);
    ck_assert_int_eq(prune_events(3), 3);
    ck_assert_int_eq(prune_events(3), 1);
    ck_assert_int_eq(prune_events(3), 0);
    events_are((struct events_seen[]){events_after(store_reader(store), 0, 100)}, 2, (int[]){8, 9});

    /* The newest rows deleted, then another: its seq is past theirs. */
    int64_t newest = e.seq[5];
    ck_assert_int_eq(WRITE(store_delete_webhook(W, "a")), STORE_OK);
    ck_assert_int_eq(WRITE(store_delete_webhook(W, "b")), STORE_OK);
    ck_assert(!webhooks_exist());
    ck_assert_int_eq(prune_events(100), 2);
    events_are((struct events_seen[]){events_after(store_reader(store), 0, 100)}, 0, NULL);
    append_ok(event(10, "response.created", NULL, "r", NULL, NULL, t0 + 10));
    e = events_after(store_reader(store), 0, 100);
    events_are(&e, 1, (int[]){10});
    ck_assert_int_gt(e.seq[0], newest);
    ck_assert_int_eq(prune_events(0), 0); /* max 0: nothing */
}
END_TEST

/* The cap: the cursor moves so that at most keep events remain after it, the oldest passed over,
 * counting the events it passed (not seqs: erasure leaves gaps). */
START_TEST(test_event_trim)
{
    const int64_t t0 = now_ms;
    int64_t skipped = -1, count, oldest, deleted;

    add_webhook(webhook("a", "https://example.com/a"));
    add_webhook(webhook("b", "https://example.com/b"));
    for (int n = 1; n <= 8; n++)
        append_ok(event(n, n % 3 == 0 ? "response.deleted" : "response.created", NULL, "r",
                        n % 3 == 0 ? "dora" : NULL, n % 3 == 0 ? "{}" : NULL, t0 + n));
    ck_assert_int_eq(WRITE(store_erase_customer(W, "dora", &deleted)), STORE_OK); /* 3 and 6 go */
    struct events_seen e = events_after(store_reader(store), 0, 100);
    events_are(&e, 6, (int[]){1, 2, 4, 5, 7, 8});

    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "a", 10, &skipped)), STORE_OK);
    ck_assert_int_eq(skipped, 0);
    ck_assert_int_eq(cursor_of("a"), 0);
    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "a", 6, &skipped)), STORE_OK);
    ck_assert_int_eq(skipped, 0);
    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "a", 3, &skipped)), STORE_OK);
    ck_assert_int_eq(skipped, 3); /* 1, 2, 4: the newest three stay */
    ck_assert_int_eq(cursor_of("a"), e.seq[2]);
    ck_assert_int_eq(store_count_events(store_reader(store), cursor_of("a"), &count, &oldest), STORE_OK);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(oldest, t0 + 5);
    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "a", 3, &skipped)), STORE_OK);
    ck_assert_int_eq(skipped, 0);
    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "a", 0, &skipped)), STORE_OK);
    ck_assert_int_eq(skipped, 3);
    ck_assert_int_eq(cursor_of("a"), e.seq[5]);
    ck_assert_int_eq(cursor_of("b"), 0); /* its own cursor only */
    ck_assert_int_eq(WRITE(store_trim_webhook_backlog(W, "nope", 3, &skipped)), STORE_NOT_FOUND);
}
END_TEST

/* Erasure deletes the logged events that hold the customer's data, and their ids are traces. */
START_TEST(test_events_erased)
{
    const int64_t t0 = now_ms;
    char **traces;
    int trace_count;
    int64_t deleted;

    add_webhook(webhook("w", "https://example.com/w"));
    append_ok(event(1, "response.created", NULL, "r1", NULL, NULL, t0));
    append_ok(event(2, "response.deleted", "s1", "r1", "dora", "{\"id\":\"r1\"}", t0 + 1));
    append_ok(event(3, "response.deleted", "s1", "r2", "ed", "{\"id\":\"r2\"}", t0 + 2));
    append_ok(event(4, "customer.erased", NULL, NULL, NULL, "{\"customer\":\"fay\",\"deleted_responses\":0}", t0 + 3));
    ck_assert_int_eq(store_customer_traces(store_reader(store), "dora", &traces, &trace_count), STORE_OK);
    ck_assert(has_trace(traces, trace_count, event_id(2)));
    ck_assert(!has_trace(traces, trace_count, event_id(1)));
    ck_assert(!has_trace(traces, trace_count, event_id(3)));
    for (int i = 0; i < trace_count; i++)
        free(traces[i]);
    free(traces);
    ck_assert_int_eq(WRITE(store_erase_customer(W, "dora", &deleted)), STORE_OK);
    events_are((struct events_seen[]){events_after(store_reader(store), 0, 100)}, 3, (int[]){1, 3, 4});
}
END_TEST

/* What ingest pays: 10 000 appends in one transaction, each after the probe ingest makes first
 * (printed, each part on its own; the report quotes them). */
START_TEST(test_event_append_cost)
{
    enum { N = 10000 };
    struct timespec a, b, c;
    double exist_us = 0, append_us = 0;
    struct store_conn *w = writer_begin();
    bool any;

    for (int n = 0; n < N; n++) {
        struct store_event_row row = event(n, "response.created", NULL, "r_0123456789abcdef", NULL, NULL, now_ms + n);
        clock_gettime(CLOCK_MONOTONIC, &a);
        ck_assert_int_eq(store_webhooks_exist(w, &any), STORE_OK);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ck_assert_int_eq(store_append_event(w, &row), STORE_OK);
        clock_gettime(CLOCK_MONOTONIC, &c);
        exist_us += (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
        append_us += (double)(c.tv_sec - b.tv_sec) * 1e6 + (double)(c.tv_nsec - b.tv_nsec) / 1e3;
    }
    writer_commit(w);
    fprintf(stderr, "%s: store_append_event %.2f us, store_webhooks_exist %.2f us per event (%d in one transaction)\n",
            backend, append_us / N, exist_us / N, N);
    ck_assert_int_eq(events_after(store_reader(store), 0, 5).count, 5);
}
END_TEST

/* ---- webhooks through surveyd migrate's dump and import ---- */

struct copy {
    struct store_conn *target;
    struct store_dump_counts counts;
    int webhooks, deliveries, events;
    int64_t last_seq;               /* the events come in seq order */
};

static enum store_status copy_begin(const struct store_dump_counts *counts, void *arg)
{
    ((struct copy *)arg)->counts = *counts;
    return STORE_OK;
}

static enum store_status copy_none_survey(const struct store_survey_row *row, void *arg)
{
    (void)row, (void)arg;
    return STORE_ERROR;
}

static enum store_status copy_none_response(const struct store_stored_response *row, void *arg)
{
    (void)row, (void)arg;
    return STORE_ERROR;
}

static enum store_status copy_none_record(const struct store_idempotency_record *record, void *arg)
{
    (void)record, (void)arg;
    return STORE_ERROR;
}

static enum store_status copy_webhook(const struct store_webhook_row *row, void *arg)
{
    struct copy *c = arg;
    c->webhooks++;
    return store_import_webhook(c->target, row);
}

static enum store_status copy_delivery(const struct store_delivery_row *row, void *arg)
{
    struct copy *c = arg;
    c->deliveries++;
    return store_import_delivery(c->target, row);
}

static enum store_status copy_event(const struct store_event_row *row, void *arg)
{
    struct copy *c = arg;
    ck_assert_int_gt(row->seq, c->last_seq);
    c->last_seq = row->seq;
    c->events++;
    return store_import_event(c->target, row);
}

static void assert_same_delivery(const struct store_delivery_row *got, const struct store_delivery_row *want)
{
    ck_assert_str_eq(got->id, want->id);
    ck_assert_str_eq(got->webhook, want->webhook);
    ck_assert_str_eq(got->event_id, want->event_id);
    ck_assert_str_eq(got->type, want->type);
    assert_text_eq(got->survey, want->survey);
    assert_text_eq(got->subject, want->subject);
    assert_text_eq(got->customer, want->customer);
    ck_assert_str_eq(got->payload, want->payload);
    ck_assert_int_eq(got->state, want->state);
    ck_assert_int_eq(got->attempts, want->attempts);
    ck_assert_int_eq(got->last_status, want->last_status);
    assert_text_eq(got->last_error, want->last_error);
    ck_assert_int_eq(got->created_at, want->created_at);
    ck_assert_int_eq(got->window_start, want->window_start);
    ck_assert_int_eq(got->next_attempt_at, want->next_attempt_at);
    ck_assert_int_eq(got->lease_until, want->lease_until);
    ck_assert_int_eq(got->last_attempt_at, want->last_attempt_at);
    ck_assert_int_eq(got->delivered_at, want->delivered_at);
}

/* A SQLite store's subscriptions (secrets included) and deliveries (every state, every field) come
 * out of store_dump and go into this case's store as they were, in seq order. */
START_TEST(test_webhooks_dump_import)
{
    char dir[256], source_location[300], err[512], cmd[300];
    const int64_t t0 = now_ms;

    snprintf(dir, sizeof dir, "%s/test_store.%ld.XXXXXX", tmp_dir(), (long)getppid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(source_location, sizeof source_location, "sqlite:%s", dir);
    struct store_options options = {source_location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *source = store_open(&options, err, sizeof err);
    ck_assert_msg(source != NULL, "store_open: %s", err);
    struct store *target = store;
    store = source; /* the helpers write through `store` */

    struct store_webhook_row a = webhook("a", "https://example.com/a"), b = webhook("b", "http://127.0.0.1:1/b");
    a.old_secret = (char *)"whsec_b2xk";
    a.old_secret_until = t0 + HOUR_MS;
    b.surveys = b.filter = NULL;
    b.format = (char *)"slack";
    put_webhook_ok(&a, true);
    put_webhook_ok(&b, true);
    ck_assert_int_eq(WRITE(store_disable_webhook(W, "b", t0, "gone")), STORE_OK);
    /* Deliveries inserted in an order their ids do not follow, so that seq order shows. */
    static const int order[] = {66, 61, 65, 60, 64, 62, 63};
    for (int i = 0; i < 7; i++)
        add_delivery(
            delivery(order[i], i % 3 ? "a" : "b", "response.created", i % 2 ? "r1" : NULL, i % 2 ? "dora" : NULL,
                     t0 - i, t0));
    struct claimed c = claim("a", t0, t0 + 60000, 10);
    ck_assert_int_ge(c.count, 2);
    ck_assert_int_eq(finish(61, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 1, 0), STORE_OK);
    ck_assert_int_eq(finish(65, STORE_DELIVERY_PENDING, 500, "HTTP 500", t0 + 1, t0 + 999), STORE_OK);
    /* The log with a gap (an erased customer's event) and a cursor part-way through it. */
    for (int n = 1; n <= 5; n++)
        append_ok(event(n, n == 2 ? "response.deleted" : "response.created", n == 2 ? "s1" : NULL, "r1",
                        n % 2 ? NULL : n == 2 ? "gus" : "dora", n % 2 ? NULL : "{\"id\":\"r1\"}", t0 + n));
    int64_t deleted;
    ck_assert_int_eq(WRITE(store_erase_customer(W, "gus", &deleted)), STORE_OK);
    struct events_seen source_events = events_after(store_reader(source), 0, 100);
    events_are(&source_events, 4, (int[]){1, 3, 4, 5});
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "a", source_events.seq[1])), STORE_OK);
    /* b's cursor past every event that is left: the newest one went with its customer. */
    append_ok(event(7, "response.deleted", "s1", "r7", "hal", "{\"id\":\"r7\"}", t0 + 7));
    int64_t passed = events_after(store_reader(source), source_events.seq[3], 1).seq[0];
    ck_assert_int_eq(WRITE(store_set_webhook_cursor(W, "b", passed)), STORE_OK);
    ck_assert_int_eq(WRITE(store_erase_customer(W, "hal", &deleted)), STORE_OK);
    store = target;

    struct copy copy = {.target = store_writer(target)};
    struct store_dump_sink sink = {
        .begin = copy_begin,
        .survey = copy_none_survey,
        .response = copy_none_response,
        .record = copy_none_record,
        .webhook = copy_webhook,
        .delivery = copy_delivery,
        .event = copy_event,
    };
    ck_assert_int_eq(store_begin(copy.target), STORE_OK);
    ck_assert_msg(store_dump(source, &sink, &copy, err, sizeof err) == STORE_OK, "dump: %s", err);
    ck_assert_int_eq(store_import_end(copy.target, true), STORE_OK);
    ck_assert_int_eq(store_commit(copy.target), STORE_OK);
    ck_assert_int_eq(copy.counts.webhooks, 2);
    ck_assert_int_eq(copy.counts.deliveries, 7);
    ck_assert_int_eq(copy.webhooks, 2);
    ck_assert_int_eq(copy.deliveries, 7);
    ck_assert_int_eq(copy.counts.events, 4);
    ck_assert_int_eq(copy.events, 4);
    /* The same events with the same seqs (the cursors point into them), every field; the target's
     * own next event comes after them. */
    struct events_seen copied = events_after(store_reader(target), 0, 100);
    events_are(&copied, 4, (int[]){1, 3, 4, 5});
    for (int i = 0; i < 4; i++) {
        struct events_seen one = events_after(store_reader(source), i ? source_events.seq[i - 1] : 0, 1);
        struct events_seen mine = events_after(store_reader(target), i ? source_events.seq[i - 1] : 0, 1);
        ck_assert_int_eq(mine.seq[0], one.seq[0]);
        ck_assert_str_eq(mine.first, one.first);
    }
    ck_assert_int_eq(cursor_of("b"), passed);
    append_ok(event(6, "survey.updated", "s1", "s1", NULL, NULL, t0 + 6));
    struct events_seen next = events_after(store_reader(target), passed, 100); /* b is owed it */
    events_are(&next, 1, (int[]){6});

    for (int h = 0; h < 2; h++) {
        struct store_webhook_row want, got;
        const char *id = h ? "b" : "a";
        ck_assert_int_eq(store_get_webhook(store_reader(source), id, &want), STORE_OK);
        ck_assert_int_eq(store_get_webhook(store_reader(target), id, &got), STORE_OK);
        assert_same_webhook(&got, &want);
        store_webhook_row_free(&want);
        store_webhook_row_free(&got);
        struct listed l_want = {0}, l_got = {0};
        struct store_delivery_query q = {id, NULL, INT64_MAX, -1};
        ck_assert_int_eq(store_list_deliveries(store_reader(source), &q, collect_listed, &l_want), STORE_OK);
        ck_assert_int_eq(store_list_deliveries(store_reader(target), &q, collect_listed, &l_got), STORE_OK);
        ck_assert_int_eq(l_got.count, l_want.count);
        for (int i = 0; i < l_want.count; i++) {
            struct store_delivery_row dw, dg;
            ck_assert_str_eq(l_got.ids[i], l_want.ids[i]); /* the same order */
            ck_assert_int_eq(store_get_delivery(store_reader(source), l_want.ids[i], &dw), STORE_OK);
            ck_assert_int_eq(store_get_delivery(store_reader(target), l_want.ids[i], &dg), STORE_OK);
            assert_same_delivery(&dg, &dw);
            store_delivery_row_free(&dw);
            store_delivery_row_free(&dg);
        }
        check_backlog(id);
    }
    /* A subscription the target already has is a conflict (migrate wants an empty target). */
    struct store_conn *w = writer_begin();
    ck_assert_int_eq(store_import_webhook(w, &a), STORE_CONFLICT);
    store_rollback_to(w);
    store_rollback(w);

    store_close(source);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- PostgreSQL: instances claim from one outbox ---- */

/* Two instances claim at once, the first's transaction still open: SKIP LOCKED makes the second
 * pass over the rows the first holds without waiting, and the ordering rule keeps it off the
 * deliveries queued behind them (in its snapshot the first's rows are still PENDING). No row is
 * claimed twice. */
START_TEST(test_claim_two_instances)
{
    char err[512];
    const int64_t t0 = now_ms;

    if (strcmp(backend, "postgresql") != 0)
        return; /* SQLite: one writer */
    add_webhook(webhook("w", "https://example.com/w"));
    add_delivery(delivery(70, "w", "response.created", "r1", NULL, t0, t0));
    add_delivery(delivery(71, "w", "response.updated", "r1", NULL, t0, t0));
    add_delivery(delivery(72, "w", "response.created", "r2", NULL, t0, t0));
    add_delivery(delivery(73, "w", "survey.updated", NULL, NULL, t0, t0));
    add_delivery(delivery(74, "w", "survey.updated", NULL, NULL, t0, t0));
    add_delivery(delivery(75, "w", "response.updated", "r2", NULL, t0, t0));
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *other = store_open(&options, err, sizeof err);
    ck_assert_msg(other != NULL, "store_open: %s", err);

    struct store_conn *mine = store_writer(store), *theirs = store_writer(other);
    ck_assert_int_eq(store_begin(mine), STORE_OK);
    struct claimed a = claim_on(mine, "w", t0, t0 + 60000, 2);
    claimed_are(&a, 2, (int[]){70, 72});
    ck_assert_int_eq(store_begin(theirs), STORE_OK);
    struct claimed b = claim_on(theirs, "w", t0, t0 + 60000, 10); /* would hang without SKIP LOCKED */
    claimed_are(&b, 2, (int[]){73, 74});
    ck_assert_int_eq(store_commit(mine), STORE_OK);
    ck_assert_int_eq(store_commit(theirs), STORE_OK);

    /* Committed: 71 and 75 still wait for their subjects' first deliveries. */
    ck_assert_int_eq(store_begin(theirs), STORE_OK);
    b = claim_on(theirs, "w", t0 + 1, t0 + 60000, 10);
    claimed_are(&b, 0, NULL);
    ck_assert_int_eq(store_commit(theirs), STORE_OK);
    ck_assert_int_eq(finish(70, STORE_DELIVERY_DELIVERED, 200, NULL, t0 + 2, 0), STORE_OK);
    ck_assert_int_eq(store_begin(theirs), STORE_OK);
    b = claim_on(theirs, "w", t0 + 3, t0 + 60000, 10);
    claimed_are(&b, 1, (int[]){71});
    ck_assert_int_eq(store_commit(theirs), STORE_OK);
    store_close(other);
}
END_TEST

/* ---- PostgreSQL: instances share the event log ---- */

/* One instance prepares for a subscription at a time: while the first's transaction holds its
 * cursor, the second is told so at once (locked false) instead of waiting, and its trim passes
 * too; an unknown subscription is still not found. */
START_TEST(test_event_cursor_lock)
{
    char err[512];
    int64_t cursor = -1, skipped = -1;
    bool locked = false;

    if (strcmp(backend, "postgresql") != 0)
        return; /* SQLite: one writer */
    add_webhook(webhook("w", "https://example.com/w"));
    for (int n = 1; n <= 3; n++)
        append_ok(event(n, "response.created", NULL, "r", NULL, NULL, now_ms + n));
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *other = store_open(&options, err, sizeof err);
    ck_assert_msg(other != NULL, "store_open: %s", err);
    struct store_conn *mine = store_writer(store), *theirs = store_writer(other);

    ck_assert_int_eq(store_begin(mine), STORE_OK);
    ck_assert_int_eq(store_lock_webhook_cursor(mine, "w", &cursor, &locked), STORE_OK);
    ck_assert(locked);
    ck_assert_int_eq(cursor, 0);
    ck_assert_int_eq(store_begin(theirs), STORE_OK);
    cursor = -1;
    ck_assert_int_eq(store_lock_webhook_cursor(theirs, "w", &cursor, &locked), STORE_OK); /* no wait */
    ck_assert(!locked);
    ck_assert_int_eq(cursor, -1);
    ck_assert_int_eq(store_trim_webhook_backlog(theirs, "w", 1, &skipped), STORE_OK);
    ck_assert_int_eq(skipped, 0);
    ck_assert_int_eq(store_lock_webhook_cursor(theirs, "nope", &cursor, &locked), STORE_NOT_FOUND);
    ck_assert_int_eq(store_commit(theirs), STORE_OK);
    ck_assert_int_eq(store_set_webhook_cursor(mine, "w", 2), STORE_OK);
    ck_assert_int_eq(store_commit(mine), STORE_OK);

    /* Released: the other instance gets it, with the first's cursor. */
    ck_assert_int_eq(store_begin(theirs), STORE_OK);
    ck_assert_int_eq(store_lock_webhook_cursor(theirs, "w", &cursor, &locked), STORE_OK);
    ck_assert(locked);
    ck_assert_int_eq(cursor, 2);
    ck_assert_int_eq(store_trim_webhook_backlog(theirs, "w", 0, &skipped), STORE_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_int_eq(store_commit(theirs), STORE_OK);
    store_close(other);
}
END_TEST

struct appender {
    struct store_conn *conn;
    struct store_event_row row;
    enum store_status status;
};

static void *append_in_thread(void *arg)
{
    struct appender *a = arg;
    a->status = store_append_event(a->conn, &a->row);
    return NULL;
}

/* Whether some session waits for an advisory lock (the event log's), polled for up to 30 s. */
static bool advisory_lock_awaited(void)
{
    PGconn *db = admin_connect();
    bool waiting = false;
    for (int i = 0; i < 3000 && !waiting; i++) {
        PGresult *r = PQexec(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        waiting = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
        PQclear(r);
        if (!waiting)
            usleep(10000);
    }
    PQfinish(db);
    return waiting;
}

/* seq order is commit order: instance A logs an event and keeps its transaction open; instance B's
 * append waits for A's commit (the log's advisory lock) before it draws a seq, so neither commits
 * first with a seq above one still to commit. A reader that moves a cursor through what it can see meanwhile never passes an event
 * still to commit: it sees A's, then B's, in seq order, none skipped. */
START_TEST(test_event_appends_commit_in_order)
{
    char err[512];
    pthread_t thread;

    if (strcmp(backend, "postgresql") != 0)
        return; /* SQLite: one writer commits in order */
    add_webhook(webhook("w", "https://example.com/w"));
    struct store_options options = {location, STORE_DURABILITY_FULL, TEXT_LANGUAGE_NONE};
    struct store *other = store_open(&options, err, sizeof err);
    ck_assert_msg(other != NULL, "store_open: %s", err);
    struct store_conn *a = store_writer(store);
    struct appender b = {.conn = store_writer(other), .row = event(2, "response.created", NULL, "r2", NULL, NULL, now_ms)};
    struct store_event_row first = event(1, "response.created", NULL, "r1", NULL, NULL, now_ms);
    int64_t cursor = 0;

    ck_assert_int_eq(store_begin(a), STORE_OK);
    ck_assert_int_eq(store_append_event(a, &first), STORE_OK);
    ck_assert_int_eq(store_begin(b.conn), STORE_OK);
    ck_assert_int_eq(pthread_create(&thread, NULL, append_in_thread, &b), 0);
    ck_assert_msg(advisory_lock_awaited(), "B's append did not wait for A's transaction");
    /* A logs another event while B waits: B's seq must not have been drawn before its wait (it
     * would fall between A's two, behind the cursor a reader moves once A commits). */
    struct store_event_row third = event(3, "response.updated", NULL, "r1", NULL, NULL, now_ms);
    ck_assert_int_eq(store_append_event(a, &third), STORE_OK);
    /* Nothing committed yet: the reader's cursor stays. */
    events_are((struct events_seen[]){events_after(store_reader(store), cursor, 100)}, 0, NULL);
    ck_assert_int_eq(store_commit(a), STORE_OK);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(b.status, STORE_OK);
    struct events_seen e = events_after(store_reader(store), cursor, 100);
    events_are(&e, 2, (int[]){1, 3});
    cursor = e.seq[1];
    ck_assert_int_eq(store_commit(b.conn), STORE_OK);
    e = events_after(store_reader(store), cursor, 100);
    events_are(&e, 1, (int[]){2});
    ck_assert_int_gt(e.seq[0], cursor);
    store_close(other);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create(backend);
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_open);
    tcase_add_test(tc, test_surveys);
    tcase_add_test(tc, test_insert_get_conflict);
    tcase_add_test(tc, test_list_and_iter);
    tcase_add_test(tc, test_iter_pause_sees_later_changes);
    tcase_add_test(tc, test_update_delete_keep_metrics);
    tcase_add_test(tc, test_erase_customer);
    tcase_add_test(tc, test_idempotency);
    tcase_add_test(tc, test_edit_tokens);
    tcase_add_test(tc, test_data_version_and_day_span);
    tcase_add_test(tc, test_read_only_beside);
    tcase_add_test(tc, test_reads_survive_lost_connections);
    tcase_add_test(tc, test_invitation_rows);
    tcase_add_test(tc, test_last_contact);
    tcase_add_test(tc, test_invitation_scan);
    tcase_add_test(tc, test_invitations_go_with_their_data);
    tcase_add_test(tc, test_last_contact_lock);
    tcase_add_test(tc, test_invitation_days_two_instances);
    tcase_add_test(tc, test_webhook_rows);
    tcase_add_test(tc, test_delivery_claim);
    tcase_add_test(tc, test_delivery_outcomes);
    tcase_add_test(tc, test_delivery_history);
    tcase_add_test(tc, test_deliveries_erased);
    tcase_add_test(tc, test_webhooks_dump_import);
    tcase_add_test(tc, test_claim_two_instances);
    tcase_add_test(tc, test_event_log);
    tcase_add_test(tc, test_event_prune);
    tcase_add_test(tc, test_event_trim);
    tcase_add_test(tc, test_events_erased);
    tcase_add_test(tc, test_event_append_cost);
    tcase_add_test(tc, test_event_cursor_lock);
    tcase_add_test(tc, test_event_appends_commit_in_order);
    suite_add_tcase(s, tc);
    return s;
}

/* Folders a case could not remove (it crashed or failed before its teardown). */
static void remove_leftover_folders(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/test_store.%ld.*", tmp_dir(), (long)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove the cases' folders: %s\n", cmd);
}

/* Databases a case could not drop (it crashed or failed before its teardown). */
static void drop_leftovers(void)
{
    char sql[256];
    PGconn *db = PQconnectdb(pg_admin);
    snprintf(sql, sizeof sql, "SELECT datname FROM pg_database WHERE datname LIKE 'surveyd\\_test\\_%ld\\_%%'",
             (long)getpid());
    PGresult *r = PQexec(db, sql);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", PQgetvalue(r, i, 0));
        PQclear(PQexec(db, sql));
    }
    PQclear(r);
    PQfinish(db);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "sqlite") != 0 && strcmp(argv[1], "postgres") != 0)) {
        fprintf(stderr, "usage: test_store sqlite|postgres\n");
        return 2;
    }
    backend = strcmp(argv[1], "sqlite") == 0 ? "sqlite" : "postgresql";
    if (strcmp(backend, "postgresql") == 0) {
        pg_admin = getenv("SURVEYD_TEST_POSTGRES");
        if (pg_admin == NULL || pg_admin[0] == '\0') {
            printf("SKIP: SURVEYD_TEST_POSTGRES is not set (a libpq URI of a database on a PostgreSQL server\n"
                   "where this test may create databases): the PostgreSQL cases did not run\n");
            return 77;
        }
    }
    if (!edit_token_init())
        return 1;
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (pg_admin)
        drop_leftovers();
    else
        remove_leftover_folders();
    edit_token_cleanup();
    return failed == 0 ? 0 : 1;
}
