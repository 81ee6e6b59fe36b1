/* store.h, once for every backend (backend.h): picks the backend from the location, and holds what
 * is the same whatever the database. A writer batch's rollup changes are kept here across the
 * jobs' savepoints and handed to the backend at commit; a new response's rollup cells are
 * computed here from its validated answers; idempotency records are compared here. Backends only
 * speak their database. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response_text.h"
#include "timefmt.h"


static const char sqlite_prefix[] = "sqlite:";

static const struct store_backend *backend_of(const char *database, const char **location)
{
    if (database == NULL)
        return NULL;
    if (strncmp(database, sqlite_prefix, sizeof sqlite_prefix - 1) == 0) {
        *location = database + sizeof sqlite_prefix - 1;
        return &store_backend_sqlite;
    }
    if (strncmp(database, "postgresql://", 13) == 0 || strncmp(database, "postgres://", 11) == 0) {
        *location = database;
        return &store_backend_postgres;
    }
    return NULL;
}

const char *store_backend_name(const char *database)
{
    const char *location;
    const struct store_backend *backend = backend_of(database, &location);
    return backend ? backend->name : NULL;
}

static struct store *open_store(const struct store_options *options, bool read_only, char *err, size_t err_size)
{
    const char *location = NULL;
    const struct store_backend *backend = backend_of(options->database, &location);
    if (backend == NULL) {
        snprintf(err, err_size, "unknown database location (want postgresql://... or a data directory)");
        return NULL;
    }
    return backend->open(location, options, read_only, err, err_size);
}

struct store *store_open(const struct store_options *options, char *err, size_t err_size)
{
    return open_store(options, false, err, err_size);
}

struct store *store_open_read_only(const struct store_options *options, char *err, size_t err_size)
{
    return open_store(options, true, err, err_size);
}

void store_close(struct store *store)
{
    if (store)
        store->backend->close(store);
}

const char *store_kind(const struct store *store)
{
    return store->backend->name;
}

bool store_shared(const struct store_conn *conn)
{
    return conn->backend->shared;
}

struct store_conn *store_reader(struct store *store)
{
    return store->backend->reader(store);
}

struct store_conn *store_writer(struct store *store)
{
    return store->backend->writer(store);
}

const char *store_last_error(struct store_conn *conn)
{
    return conn->backend->last_error(conn);
}

/* ---- the writer's rollup changes, kept across savepoints ---- */

bool store_backend_conn_init_writer(struct store_conn *conn, const struct store_backend *backend)
{
    conn->backend = backend;
    conn->job_deltas = rollup_deltas_new();
    conn->batch_deltas = rollup_deltas_new();
    return conn->job_deltas && conn->batch_deltas;
}

void store_backend_conn_free_deltas(struct store_conn *conn)
{
    rollup_deltas_free(conn->job_deltas);
    rollup_deltas_free(conn->batch_deltas);
    conn->job_deltas = conn->batch_deltas = NULL;
}

static void forget_deltas(struct store_conn *conn)
{
    if (conn->batch_deltas) {
        rollup_deltas_clear(conn->job_deltas);
        rollup_deltas_clear(conn->batch_deltas);
    }
    conn->deltas_lost = false;
    conn->job_forgot_batch = false;
}

enum store_status store_begin(struct store_conn *conn)
{
    forget_deltas(conn);
    return conn->backend->begin(conn);
}

/* The raw rows and their rollups land in the same transaction, or neither does. */
enum store_status store_commit(struct store_conn *conn)
{
    enum store_status status;
    if (conn->deltas_lost || conn->batch_deltas == NULL) {
        conn->backend->rollback(conn);
        status = STORE_ERROR;
    } else {
        status = conn->backend->commit(conn, conn->batch_deltas);
    }
    forget_deltas(conn);
    return status;
}

void store_rollback(struct store_conn *conn)
{
    forget_deltas(conn);
    conn->backend->rollback(conn);
}

enum store_status store_savepoint(struct store_conn *conn)
{
    conn->job_forgot_batch = false;
    if (conn->job_deltas)
        rollup_deltas_clear(conn->job_deltas);
    return conn->backend->savepoint(conn);
}

void store_release(struct store_conn *conn)
{
    conn->backend->release(conn);
    if (conn->job_deltas && !rollup_deltas_merge(conn->batch_deltas, conn->job_deltas))
        conn->deltas_lost = true;
}

void store_rollback_to(struct store_conn *conn)
{
    if (conn->job_deltas)
        rollup_deltas_clear(conn->job_deltas);
    /* The deletion it undoes had dropped other jobs' deltas, which cannot be recovered: rather than
     * commit rollups that disagree with the rows, the whole batch fails (and is retried by clients). */
    if (conn->job_forgot_batch)
        conn->deltas_lost = true;
    conn->backend->rollback_to(conn);
}

void store_between_batches(struct store_conn *conn)
{
    conn->backend->between_batches(conn);
}

/* ---- rollup cells ---- */

/* The first day of the UTC month holding day (days since 1970-01-01): the month tables' key. */
int64_t store_backend_month_of_day(int64_t day)
{
    int64_t year;
    unsigned month, mday;
    timefmt_civil_from_days(day, &year, &month, &mday);
    return day - (int64_t)(mday - 1);
}

static void add_cell(struct store_conn *conn, const struct rollup_cell *cell)
{
    if (!rollup_deltas_add(conn->job_deltas, cell))
        conn->deltas_lost = true;
}

/* Adds one fact to every rollup cell it counts in: day with and without the agent, month and hour
 * without (see schema/006 for why). Times are divided truncating toward zero, as SQLite divides in
 * the answer_facts view. */
void store_backend_add_fact(struct store_conn *conn, const struct store_fact *f, int delta)
{
    bool answer = f->question != NULL;
    int64_t day = f->submitted_at / STORE_MS_PER_DAY;
    struct rollup_cell cell = {
        .survey = f->survey,
        .channel = f->channel,
        .question = answer ? f->question : "",
        .value_is_text = f->value_is_text,
        .value = f->value,
        .value_text = f->value_text,
        .delta = delta,
    };
    static const struct {
        enum rollup_table answers, responses;
        bool agent;
        char time;  /* 'd'ay, 'm'onth or 'h'our */
    } tables[] = {
        {ROLLUP_ANSWERS, ROLLUP_RESPONSES, false, 'd'},
        {ROLLUP_ANSWERS_AGENT, ROLLUP_RESPONSES_AGENT, true, 'd'},
        {ROLLUP_ANSWERS_MONTH, ROLLUP_RESPONSES_MONTH, false, 'm'},
        {ROLLUP_ANSWERS_HOUR, ROLLUP_RESPONSES_HOUR, false, 'h'},
    };
    int64_t month = store_backend_month_of_day(day), hour = f->submitted_at / STORE_MS_PER_HOUR;

    if (conn->job_deltas == NULL) {
        conn->deltas_lost = true; /* not the writer: nothing may change */
        return;
    }
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        cell.table = answer ? tables[i].answers : tables[i].responses;
        cell.agent = tables[i].agent ? f->agent : "";
        cell.day = tables[i].time == 'd' ? day : tables[i].time == 'm' ? month : hour;
        add_cell(conn, &cell);
    }
    if (answer)
        add_cell(conn, &(struct rollup_cell){.table = ROLLUP_ANSWERED, .survey = f->survey, .channel = "",
                                             .agent = "", .question = f->question, .delta = delta});
}

/* A new response's rollup facts from its validated answers, without reading anything back: the C
 * twin of the answer_facts view (schema/002_rollups.sql), which stays the definition `surveyd
 * verify` checks against. nps, csat, ces: the answer; yes_no: 1 yes, 0 no; choice: the option's
 * text, or -1 for an "other" write-in; text: 0. */
static enum store_status add_response_facts(struct store_conn *conn, const struct survey *survey,
                                            const struct response *r)
{
    struct store_fact f = {
        .survey = r->survey,
        .channel = r->channel ? r->channel : "",
        .agent = r->agent ? r->agent : "",
        .submitted_at = r->submitted_at,
    };

    store_backend_add_fact(conn, &f, +1);
    for (int i = 0; i < r->answer_count; i++) {
        const struct answer *a = &r->answers[i];
        const struct question *q = &survey->questions[a->question];
        f.question = q->id;
        f.value_is_text = q->type == QUESTION_CHOICE && a->number >= 0;
        f.value_text = f.value_is_text ? q->options[a->number] : NULL;
        f.value = q->type == QUESTION_TEXT ? 0 : a->number;
        store_backend_add_fact(conn, &f, +1);
    }
    return conn->deltas_lost ? STORE_ERROR : STORE_OK;
}

/* ---- surveys ---- */

void store_survey_row_free(struct store_survey_row *row)
{
    free(row->definition);
    row->definition = NULL;
}

enum store_status store_get_survey(struct store_conn *conn, const char *id, struct store_survey_row *out)
{
    return conn->backend->get_survey(conn, id, out);
}

enum store_status store_survey_unchanged(struct store_conn *conn, const char *id, const char *definition,
                                         bool *unchanged)
{
    return conn->backend->survey_unchanged(conn, id, definition, unchanged);
}

enum store_status store_list_surveys(struct store_conn *conn, void (*each)(const struct store_survey_row *, void *),
                                     void *arg)
{
    return conn->backend->list_surveys(conn, each, arg);
}

enum store_status store_put_survey(struct store_conn *conn, const char *id, const char *definition, int64_t now_ms,
                                   bool *created)
{
    return conn->backend->put_survey(conn, id, definition, now_ms, created);
}

enum store_status store_delete_survey(struct store_conn *conn, const char *id)
{
    enum store_status status = conn->backend->delete_survey(conn, id);
    /* Its rollups went with it: so must this batch's unwritten changes to them. */
    if (status == STORE_OK && conn->batch_deltas) {
        rollup_deltas_forget_survey(conn->batch_deltas, id);
        rollup_deltas_forget_survey(conn->job_deltas, id);
        conn->job_forgot_batch = true;
    }
    return status;
}

enum store_status store_answer_count(struct store_conn *conn, const char *survey, const char *question,
                                     int64_t *count)
{
    enum store_status status = conn->backend->answer_count(conn, survey, question, count);
    /* In the writer, answers of this batch are not in the table yet. */
    if (status == STORE_OK && conn->batch_deltas)
        *count += rollup_deltas_answered(conn->batch_deltas, survey, question) +
                  rollup_deltas_answered(conn->job_deltas, survey, question);
    return status;
}

/* ---- responses ---- */

void store_response_row_free(struct store_response_row *row)
{
    free(row->channel);
    free(row->customer);
    free(row->agent);
    free(row->interaction);
    free(row->answers);
    free(row->properties);
    memset(row, 0, sizeof *row);
}

enum store_status store_get_response(struct store_conn *conn, const char *id, struct store_response_row *out)
{
    memset(out, 0, sizeof *out);
    return conn->backend->get_response(conn, id, out);
}

/* A new response's document to a backend that indexes it in C (backend.h index_text). */
static enum store_status index_response_text(struct store_conn *conn, const struct survey *survey,
                                             const struct response *response)
{
    char *text = NULL;
    if (conn->backend->index_text == NULL)
        return STORE_OK;
    if (!response_text(survey, response, &text, NULL))
        return STORE_UNAVAILABLE; /* out of memory */
    enum store_status status = conn->backend->index_text(conn, response->id, text);
    free(text);
    return status;
}

enum store_status store_insert_response(struct store_conn *conn, const struct survey *survey,
                                        const struct response *response, const struct store_edit_token *token,
                                        char existing_id[32])
{
    existing_id[0] = '\0';
    if (conn->job_deltas == NULL)
        return STORE_ERROR;
    enum store_status status = conn->backend->insert_response(conn, response, token, existing_id);
    if (status == STORE_OK && existing_id[0] == '\0')
        status = index_response_text(conn, survey, response);
    return status == STORE_OK ? add_response_facts(conn, survey, response) : status;
}

bool store_can_search(const struct store *store)
{
    return store->backend->text_search;
}

enum store_status store_list_responses(struct store_conn *conn, const struct store_list_query *query,
                                       void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    return conn->backend->list_responses(conn, query, each, arg);
}

struct store_iter *store_iter_open(struct store *store, const struct store_list_query *query, char *err,
                                   size_t err_size)
{
    return store->backend->iter_open(store, query, err, err_size);
}

enum store_status store_iter_next(struct store_iter *iter, struct store_response_row *row)
{
    memset(row, 0, sizeof *row);
    return iter->backend->iter_next(iter, row);
}

void store_iter_pause(struct store_iter *iter)
{
    iter->backend->iter_pause(iter);
}

void store_iter_close(struct store_iter *iter)
{
    if (iter)
        iter->backend->iter_close(iter);
}

enum store_status store_update_answers(struct store_conn *conn, const char *id, const char *answers_json)
{
    return conn->backend->update_answers(conn, id, answers_json);
}

enum store_status store_delete_response(struct store_conn *conn, const char *id)
{
    return conn->backend->delete_response(conn, id);
}

enum store_status store_erase_customer(struct store_conn *conn, const char *customer, int64_t *deleted)
{
    return conn->backend->erase_customer(conn, customer, deleted);
}

enum store_status store_delete_before(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    return conn->backend->delete_before(conn, cutoff_ms, max, deleted);
}

enum store_status store_purge(struct store_conn *conn, char *const *needles, int count, bool *rewrote)
{
    *rewrote = false;
    return conn->backend->purge(conn, needles, count, rewrote);
}

enum store_status store_customer_traces(struct store_conn *conn, const char *customer, char ***traces, int *count)
{
    *traces = NULL;
    *count = 0;
    return conn->backend->customer_traces(conn, customer, traces, count);
}

/* ---- idempotency ---- */

void store_replay_free(struct store_replay *replay)
{
    free(replay->reply);
    free(replay->response_id);
    memset(replay, 0, sizeof *replay);
}

/* The same key with the same body replays the first reply; with another body it is a misuse. */
enum store_status store_find_idempotency(struct store_conn *conn, const struct store_idempotency *request,
                                         struct store_replay *replay)
{
    struct store_idempotency_row row = {0};
    enum store_status status;

    memset(replay, 0, sizeof *replay);
    status = conn->backend->get_idempotency(conn, request->scope, request->key, &row);
    if (status == STORE_OK) {
        if (row.body_len == request->body_len &&
            (row.body_len == 0 || memcmp(row.body, request->body, row.body_len) == 0)) {
            replay->status = row.status;
            replay->reply = row.reply;
            replay->response_id = row.response_id;
            row.reply = row.response_id = NULL;
            status = STORE_REPLAY;
        } else {
            status = STORE_KEY_REUSED;
        }
    }
    free(row.body);
    free(row.reply);
    free(row.response_id);
    return status;
}

enum store_status store_save_idempotency(struct store_conn *conn, const struct store_idempotency *request,
                                         int status, const char *reply, const char *response_id,
                                         const char *customer, int64_t now_ms)
{
    return conn->backend->save_idempotency(conn, request, status, reply, response_id, customer, now_ms);
}

enum store_status store_get_edit_token(struct store_conn *conn, const char *response_id, unsigned char *hash,
                                       size_t hash_len, int64_t *expires_at)
{
    return conn->backend->get_edit_token(conn, response_id, hash, hash_len, expires_at);
}

/* ---- metrics ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The first day of the first month starting at or after day. */
static int64_t month_ceil(int64_t day)
{
    int64_t month = store_backend_month_of_day(day);
    return month == day ? day : store_backend_month_of_day(month + 31); /* month + 31 lies in the next month */
}

/* One metrics window's reads, in the order planned. */
struct scan_plan {
    struct store_conn *conn;
    const struct store_metrics_query *q;
    store_metrics_fn each;
    void *arg;
    bool coarse;                /* no agent in play: month and hour tables can answer */
    bool topics;                /* topic= or by_topic: whole months and days from the topics' month
                                 * and day tables, the rest from raw rows (they have no hour tables) */
    enum store_status status;
};

static void scan_range(struct scan_plan *p, enum store_scan_source source, int64_t lo, int64_t hi)
{
    if (p->status == STORE_OK && lo < hi)
        p->status = p->conn->backend->metrics_range(p->conn, p->q, source, lo, hi, p->each, p->arg);
}

/* Whole days [first_day, end_day) (either open: INT64_MIN / INT64_MAX): the months they cover
 * entirely from the month tables, the days before and after from the day tables. Groupings by
 * day or week need every cell's own day, and agent queries have no month tables: day cells
 * throughout. */
static void scan_days(struct scan_plan *p, int64_t first_day, int64_t end_day)
{
    int64_t first_month = first_day == INT64_MIN ? INT64_MIN : month_ceil(first_day);
    int64_t end_month = end_day == INT64_MAX ? INT64_MAX : store_backend_month_of_day(end_day);
    if (p->q->by_day || !p->coarse || first_month >= end_month) {
        scan_range(p, STORE_SCAN_DAYS, first_day, end_day);
        return;
    }
    scan_range(p, STORE_SCAN_DAYS, first_day, first_month);
    scan_range(p, STORE_SCAN_MONTHS, first_month, end_month);
    scan_range(p, STORE_SCAN_DAYS, end_month, end_day);
}

/* A partial day [lo_ms, hi_ms): whole hours from the hour tables when they can answer, the rest
 * (at most two partial hours) from raw rows. */
static void scan_edge(struct scan_plan *p, int64_t lo_ms, int64_t hi_ms)
{
    int64_t first_hour = floor_div(lo_ms + STORE_MS_PER_HOUR - 1, STORE_MS_PER_HOUR);
    int64_t end_hour = floor_div(hi_ms, STORE_MS_PER_HOUR);
    if (!p->coarse || p->topics || first_hour >= end_hour) {
        scan_range(p, STORE_SCAN_RAW, lo_ms, hi_ms);
        return;
    }
    scan_range(p, STORE_SCAN_RAW, lo_ms, first_hour * STORE_MS_PER_HOUR);
    scan_range(p, STORE_SCAN_HOURS, first_hour, end_hour);
    scan_range(p, STORE_SCAN_RAW, end_hour * STORE_MS_PER_HOUR, hi_ms);
}

/* Whole days from the rollups; the partial days at either edge from hours and raw rows, which costs
 * at most two days' hours and two partial hours' responses, whatever the window. */
static void scan_window(struct scan_plan *p)
{
    const struct store_metrics_query *q = p->q;
    int64_t first_day =
        q->from_ms == INT64_MIN ? INT64_MIN : floor_div(q->from_ms + STORE_MS_PER_DAY - 1, STORE_MS_PER_DAY);
    int64_t end_day = q->to_ms == INT64_MAX ? INT64_MAX : floor_div(q->to_ms, STORE_MS_PER_DAY);
    if (first_day >= end_day) { /* no whole day inside: both bounds are given */
        scan_edge(p, q->from_ms, q->to_ms);
        return;
    }
    scan_days(p, first_day, end_day);
    /* The edges exist only for a given bound; their day products are formed only then (the open
     * bounds are INT64_MIN / INT64_MAX days, whose products would overflow). */
    if (q->from_ms != INT64_MIN)
        scan_edge(p, q->from_ms, first_day * STORE_MS_PER_DAY);
    if (q->to_ms != INT64_MAX)
        scan_edge(p, end_day * STORE_MS_PER_DAY, q->to_ms);
}

/* The plan is the same for every backend; each only reads one kind of source over one range. */
enum store_status store_metrics_scan(struct store_conn *conn, const struct store_metrics_query *query,
                                     store_metrics_fn each, void *arg)
{
    bool topics = query->topic != NULL || query->by_topic;
    struct scan_plan p = {conn, query, each, arg, !query->agent && !query->by_agent, topics, STORE_OK};
    bool began = false;

    p.status = conn->backend->metrics_begin ? conn->backend->metrics_begin(conn, &began) : STORE_OK;
    /* The topics' day tables have no agent: with an agent filter or grouping (or on a backend
     * without them) a topic's responses are read from the raw rows over the whole window. */
    if (p.status == STORE_OK && topics && (!p.coarse || !conn->backend->topic_rollups))
        scan_range(&p, STORE_SCAN_RAW, query->from_ms, query->to_ms);
    else if (p.status == STORE_OK)
        scan_window(&p);
    return conn->backend->metrics_end ? conn->backend->metrics_end(conn, began, p.status) : p.status;
}

enum store_status store_data_version(struct store_conn *conn, const char *survey, int64_t *version)
{
    *version = 0;
    return conn->backend->data_version(conn, survey, version);
}

enum store_status store_day_span(struct store_conn *conn, const char *survey, int64_t *first_day, int64_t *last_day)
{
    return conn->backend->day_span(conn, survey, first_day, last_day);
}

/* ---- invitations ---- */

void store_invitation_row_free(struct store_invitation_row *row)
{
    free(row->customer);
    free(row->channel);
    free(row->agent);
    free(row->interaction);
    free(row->properties);
    free(row->last_visit_value);
    free(row->captured);
    memset(row, 0, sizeof *row);
}

enum store_status store_insert_invitation(struct store_conn *conn, const struct store_invitation_row *row)
{
    if (row->customer == NULL || row->id[0] == '\0' || row->survey[0] == '\0')
        return STORE_ERROR;
    return conn->backend->insert_invitation(conn, row);
}

enum store_status store_get_invitation(struct store_conn *conn, const char *id, struct store_invitation_row *out)
{
    memset(out, 0, sizeof *out);
    return conn->backend->get_invitation(conn, id, out);
}

enum store_status store_find_invitation_by_token(struct store_conn *conn,
                                                 const unsigned char hash[STORE_INVITATION_HASH_LEN],
                                                 struct store_invitation_row *out)
{
    memset(out, 0, sizeof *out);
    return conn->backend->find_invitation_by_token(conn, hash, out);
}

enum store_status store_update_invitation(struct store_conn *conn, const struct store_invitation_row *row)
{
    return conn->backend->update_invitation(conn, row);
}

enum store_status store_last_contact(struct store_conn *conn, const char *survey, const char *customer,
                                     int64_t *last_ms)
{
    *last_ms = 0;
    return conn->backend->last_contact(conn, survey, customer, last_ms);
}

/* The whole days inside [from_ms, to_ms) come from the invitation_days rollup, the partial days at
 * its edges from the raw rows. Days before 1970 are left to the raw rows: created_at / 86400000
 * truncates toward zero, so day 0 would also hold the last day before the epoch. */
void store_invitation_plan(int64_t from_ms, int64_t to_ms, struct store_invitation_plan *plan)
{
    int64_t first = from_ms <= 0 ? 0 : from_ms / STORE_MS_PER_DAY + (from_ms % STORE_MS_PER_DAY != 0);
    int64_t end = to_ms <= 0 ? 0 : to_ms / STORE_MS_PER_DAY;

    if (end <= first) { /* no whole day: all raw */
        *plan = (struct store_invitation_plan){.first_day = 0, .end_day = 0, .head_end = to_ms, .tail_start = to_ms};
        return;
    }
    plan->first_day = first;
    plan->end_day = end;
    plan->head_end = first * STORE_MS_PER_DAY;
    plan->tail_start = end * STORE_MS_PER_DAY;
}

enum store_status store_invitation_scan(struct store_conn *conn, const struct store_metrics_query *query,
                                        void (*each)(const struct store_invitation_cell *cell, void *arg),
                                        void *arg)
{
    const struct store_backend *b = conn->backend;
    struct store_invitation_plan plan;
    bool began = false;
    enum store_status status;

    store_invitation_plan(query->from_ms, query->to_ms, &plan);
    /* One snapshot for the three reads, as for the responses' plan. */
    status = b->metrics_begin ? b->metrics_begin(conn, &began) : STORE_OK;
    if (status == STORE_OK && query->from_ms < plan.head_end)
        status = b->invitation_range(conn, query, false, query->from_ms, plan.head_end, each, arg);
    if (status == STORE_OK && plan.first_day < plan.end_day)
        status = b->invitation_range(conn, query, true, plan.first_day, plan.end_day, each, arg);
    if (status == STORE_OK && plan.tail_start < query->to_ms)
        status = b->invitation_range(conn, query, false, plan.tail_start, query->to_ms, each, arg);
    return b->metrics_end ? b->metrics_end(conn, began, status) : status;
}

/* ---- consistency, backup, health ---- */

enum store_status store_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                               uint64_t *differences, uint64_t *responses)
{
    return store->backend->verify(store, report, arg, differences, responses);
}

enum store_status store_each_answers(struct store *store, store_answers_fn each, void *arg)
{
    return store->backend->each_answers(store, each, arg);
}

enum store_status store_backup(struct store *store, const char *dest, char *err, size_t err_size)
{
    return store->backend->backup(store, dest, err, err_size);
}

uint64_t store_size_bytes(struct store *store)
{
    return store->backend->size_bytes(store);
}

enum store_status store_probe_write(struct store_conn *conn, int64_t now_ms)
{
    return conn->backend->probe_write(conn, now_ms);
}

bool store_ping(struct store_conn *conn)
{
    return conn != NULL && conn->backend->ping(conn);
}
