/* The SQLite backend: the metrics scan over rollups and raw rows (see sqlite_internal.h). */
#include "sqlite_internal.h"

#include <stdint.h>

/* ---- metrics ---- */

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
    if (q->topic)
        sqlite_bind_text(s, 6, q->topic);
    cell.topic = NULL;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cell.day = sqlite3_column_int64(s, 0);
        cell.channel = (const char *)sqlite3_column_text(s, 1);
        cell.agent = (const char *)sqlite3_column_text(s, 2);
        cell.question = (const char *)sqlite3_column_text(s, 3);
        cell.value_is_text = sqlite3_column_type(s, 4) == SQLITE_TEXT;
        cell.value = sqlite3_column_int64(s, 4);
        cell.value_text = cell.value_is_text ? (const char *)sqlite3_column_text(s, 4) : NULL;
        cell.count = sqlite3_column_int64(s, 5);
        if (q->by_topic)
            cell.topic = (const char *)sqlite3_column_text(s, 6);
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

/* The statements that read one kind of source: answers, then responses. Day cells come from the
 * agent-keyed tables when an agent is in play (filtered: its own range; grouped: every agent's). */
static void statements_for(const struct store_metrics_query *q, enum store_scan_source source, enum stmt_id ids[2])
{
    switch (source) {
    case STORE_SCAN_DAYS:
        if (q->topic || q->by_topic) { /* store.c asks only without an agent */
            ids[0] = q->by_topic ? STMT_SCAN_TOPIC_ANSWERS_ALL : STMT_SCAN_TOPIC_ANSWERS;
            ids[1] = q->by_topic ? STMT_SCAN_TOPIC_RESPONSES_ALL : STMT_SCAN_TOPIC_RESPONSES;
            break;
        }
        ids[0] = q->agent ? STMT_SCAN_ANSWERS_AGENT : q->by_agent ? STMT_SCAN_ANSWERS_ALL_AGENTS : STMT_SCAN_ANSWERS;
        ids[1] = q->agent      ? STMT_SCAN_RESPONSES_AGENT
                 : q->by_agent ? STMT_SCAN_RESPONSES_ALL_AGENTS
                               : STMT_SCAN_RESPONSES;
        break;
    case STORE_SCAN_MONTHS:
        if (q->topic || q->by_topic) {
            ids[0] = q->by_topic ? STMT_SCAN_TOPIC_ANSWERS_MONTH_ALL : STMT_SCAN_TOPIC_ANSWERS_MONTH;
            ids[1] = q->by_topic ? STMT_SCAN_TOPIC_RESPONSES_MONTH_ALL : STMT_SCAN_TOPIC_RESPONSES_MONTH;
            break;
        }
        ids[0] = STMT_SCAN_ANSWERS_MONTH;
        ids[1] = STMT_SCAN_RESPONSES_MONTH;
        break;
    case STORE_SCAN_HOURS:
        ids[0] = STMT_SCAN_ANSWERS_HOUR;
        ids[1] = STMT_SCAN_RESPONSES_HOUR;
        break;
    case STORE_SCAN_RAW:
        ids[0] = q->by_topic ? STMT_SCAN_RAW_ANSWERS_BY_TOPIC
                 : q->topic  ? STMT_SCAN_RAW_ANSWERS_TOPIC
                             : STMT_SCAN_RAW_ANSWERS;
        ids[1] = q->by_topic ? STMT_SCAN_RAW_RESPONSES_BY_TOPIC
                 : q->topic  ? STMT_SCAN_RAW_RESPONSES_TOPIC
                             : STMT_SCAN_RAW_RESPONSES;
        break;
    }
}

/* The plan's statements read one snapshot: a batch the writer commits meanwhile counts in all of
 * them or in none (its raw rows and rollups commit together). */
enum store_status sqlite_metrics_begin(struct store_conn *base_conn, bool *began)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    *began = false;
    if (!sqlite3_get_autocommit(conn->db))
        return STORE_OK; /* already inside one */
    int rc = sqlite3_exec(conn->db, "BEGIN", NULL, NULL, NULL);
    *began = rc == SQLITE_OK;
    return sqlite_status_of(rc);
}

enum store_status sqlite_metrics_end(struct store_conn *base_conn, bool began, enum store_status status)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    if (began && !sqlite3_get_autocommit(conn->db)) {
        int rc = sqlite3_exec(conn->db, "COMMIT", NULL, NULL, NULL);
        if (status == STORE_OK)
            status = sqlite_status_of(rc);
    }
    return status;
}

/* One kind of source over one range (store.c plans which: store_metrics_scan). */
enum store_status sqlite_metrics_range(struct store_conn *base_conn, const struct store_metrics_query *q,
                                       enum store_scan_source source, int64_t lo, int64_t hi, store_metrics_fn each,
                                       void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum stmt_id ids[2] = {STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES};
    statements_for(q, source, ids);
    enum store_status status = scan(conn, ids[0], q, lo, hi, each, arg);
    return status == STORE_OK ? scan(conn, ids[1], q, lo, hi, each, arg) : status;
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
