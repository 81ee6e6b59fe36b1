/* The SQLite backend: the metrics scan over rollups and raw rows (see sqlite_internal.h). */
#include "sqlite_internal.h"

#include <stdint.h>

/* ---- metrics ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Runs one scan statement over [lo, hi), passing each row to each(). */
static enum store_status scan(struct sqlite_conn *conn, enum stmt_id id, const struct store_metrics_query *q,
                              int64_t lo, int64_t hi, store_metrics_fn each, void *arg)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    struct store_metrics_cell cell;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, q->survey);
    sqlite3_bind_int64(s, 2, lo);
    sqlite3_bind_int64(s, 3, hi);
    sqlite_bind_text(s, 4, q->channel);
    sqlite_bind_text(s, 5, q->agent);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cell.day = sqlite3_column_int64(s, 0);
        cell.channel = (const char *)sqlite3_column_text(s, 1);
        cell.agent = (const char *)sqlite3_column_text(s, 2);
        cell.question = (const char *)sqlite3_column_text(s, 3);
        cell.value_is_text = sqlite3_column_type(s, 4) == SQLITE_TEXT;
        cell.value = sqlite3_column_int64(s, 4);
        cell.value_text = cell.value_is_text ? (const char *)sqlite3_column_text(s, 4) : NULL;
        cell.count = sqlite3_column_int64(s, 5);
        if (!sqlite_row_read_whole(s)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (cell.count != 0)
            each(&cell, arg);
    }
    sqlite_done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* The statements of one query, by time granularity: its filters decide which tables can answer. */
struct scan_plan {
    struct sqlite_conn *conn;
    const struct store_metrics_query *q;
    store_metrics_fn each;
    void *arg;
    enum stmt_id answers, responses;        /* whole days */
    bool coarse;                            /* no agent in play: month and hour tables can answer */
    enum store_status status;
};

static void scan_pair(struct scan_plan *p, enum stmt_id answers, enum stmt_id responses, int64_t lo, int64_t hi)
{
    if (p->status != STORE_OK || lo >= hi)
        return;
    p->status = scan(p->conn, answers, p->q, lo, hi, p->each, p->arg);
    if (p->status == STORE_OK)
        p->status = scan(p->conn, responses, p->q, lo, hi, p->each, p->arg);
}

/* The first day of the first month starting at or after day. */
static int64_t month_ceil(int64_t day)
{
    int64_t month = store_backend_month_of_day(day);
    return month == day ? day : store_backend_month_of_day(month + 31); /* month + 31 lies in the next month */
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
        scan_pair(p, p->answers, p->responses, first_day, end_day);
        return;
    }
    scan_pair(p, p->answers, p->responses, first_day, first_month);
    scan_pair(p, STMT_SCAN_ANSWERS_MONTH, STMT_SCAN_RESPONSES_MONTH, first_month, end_month);
    scan_pair(p, p->answers, p->responses, end_month, end_day);
}

/* A partial day [lo_ms, hi_ms): whole hours from the hour tables when they can answer, the rest
 * (at most two partial hours) from raw rows. */
static void scan_edge(struct scan_plan *p, int64_t lo_ms, int64_t hi_ms)
{
    int64_t first_hour = floor_div(lo_ms + STORE_MS_PER_HOUR - 1, STORE_MS_PER_HOUR);
    int64_t end_hour = floor_div(hi_ms, STORE_MS_PER_HOUR);
    if (!p->coarse || first_hour >= end_hour) {
        scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, lo_ms, hi_ms);
        return;
    }
    scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, lo_ms, first_hour * STORE_MS_PER_HOUR);
    scan_pair(p, STMT_SCAN_ANSWERS_HOUR, STMT_SCAN_RESPONSES_HOUR, first_hour, end_hour);
    scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, end_hour * STORE_MS_PER_HOUR, hi_ms);
}

enum store_status sqlite_metrics_scan(struct store_conn *base_conn, const struct store_metrics_query *q,
                                     store_metrics_fn each, void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct scan_plan p = {
        .conn = conn, .q = q, .each = each, .arg = arg,
        .answers = STMT_SCAN_ANSWERS,
        .responses = STMT_SCAN_RESPONSES,
        .coarse = !q->agent && !q->by_agent,
        .status = STORE_OK,
    };
    if (q->agent) {
        p.answers = STMT_SCAN_ANSWERS_AGENT;
        p.responses = STMT_SCAN_RESPONSES_AGENT;
    } else if (q->by_agent) {
        p.answers = STMT_SCAN_ANSWERS_ALL_AGENTS;
        p.responses = STMT_SCAN_RESPONSES_ALL_AGENTS;
    }
    /* Whole days from the rollups; the partial days at either edge from hours and raw rows, which
     * costs at most two days' hours and two partial hours' responses, whatever the window. */
    int64_t first_day = q->from_ms == INT64_MIN ? INT64_MIN : floor_div(q->from_ms + STORE_MS_PER_DAY - 1, STORE_MS_PER_DAY);
    int64_t end_day = q->to_ms == INT64_MAX ? INT64_MAX : floor_div(q->to_ms, STORE_MS_PER_DAY);
    if (first_day >= end_day) { /* no whole day inside: both bounds are given */
        scan_edge(&p, q->from_ms, q->to_ms);
        return p.status;
    }
    scan_days(&p, first_day, end_day);
    /* The edges exist only for a given bound; their day products are formed only then (the open
     * bounds are INT64_MIN / INT64_MAX days, whose products would overflow). */
    if (q->from_ms != INT64_MIN)
        scan_edge(&p, q->from_ms, first_day * STORE_MS_PER_DAY);
    if (q->to_ms != INT64_MAX)
        scan_edge(&p, end_day * STORE_MS_PER_DAY, q->to_ms);
    return p.status;
}

enum store_status sqlite_day_span(struct store_conn *base_conn, const char *survey, int64_t *first_day, int64_t *last_day)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DAY_SPAN);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *first_day = sqlite3_column_int64(s, 0);
        *last_day = sqlite3_column_int64(s, 1);
        status = STORE_OK;
    } else if (rc != SQLITE_ROW) {
        status = sqlite_status_of(rc);
    }
    sqlite_done_with(s);
    return status;
}
