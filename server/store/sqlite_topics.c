/* The SQLite backend: topics and their tags (schema/014, docs/search.md "Topics"). The tags are
 * computed in C with text_query_eval (which agrees with FTS5's MATCH, tests/unit/test_text_query.c)
 * on the same documents the index holds (response_documents), stemmed as the index is. */
#include "sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic_matcher.h"

static enum store_status load_topics(struct sqlite_conn *conn, const char *survey, struct topic_matcher *out)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_SURVEY_TOPICS);
    int rc;
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!topic_matcher_add(out, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                               conn->text_language)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite_done_with(s);
    if (rc != SQLITE_DONE)
        topic_matcher_free(out);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

static enum store_status tag(struct sqlite_conn *conn, int64_t seq, const char *survey, const char *topic)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TAG_RESPONSE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    sqlite_bind_text(s, 2, survey);
    sqlite_bind_text(s, 3, topic);
    return sqlite_run(conn, s);
}

/* Tags seq with every topic of topics its document body matches. */
static enum store_status tag_document(struct sqlite_conn *conn, int64_t seq, const char *survey,
                                      const struct topic_matcher *topics, const char *body, size_t len)
{
    bool matched[STORE_TOPICS_MAX];
    if (topics->n > STORE_TOPICS_MAX || !topic_matcher_match(topics, body, len, matched))
        return STORE_ERROR;
    for (size_t i = 0; i < topics->n; i++) {
        enum store_status status = matched[i] ? tag(conn, seq, survey, topics->ids[i]) : STORE_OK;
        if (status != STORE_OK)
            return status;
    }
    return STORE_OK;
}

static enum store_status untag_response(struct sqlite_conn *conn, int64_t seq)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_UNTAG_RESPONSE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    return sqlite_run(conn, s);
}

static enum store_status any_topics(struct sqlite_conn *conn, bool *any)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TOPICS_ANY);
    if (s == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(s);
    *any = rc == SQLITE_ROW;
    sqlite_done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* text_pending holds, in order, a removal of the old document and an addition of the new one for
 * every edit, an addition for every new response and a removal for every deletion: a removal drops
 * the response's tags, an addition tags it afresh. The survey's topics are parsed once per run of
 * rows of the same survey. */
enum store_status sqlite_topics_tag_pending(struct sqlite_conn *conn)
{
    bool any;
    enum store_status status = any_topics(conn, &any);
    if (status != STORE_OK || !any)
        return status;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TOPIC_PENDING);
    if (s == NULL)
        return STORE_ERROR;
    struct topic_matcher topics = {0};
    char *loaded = NULL;
    int rc;
    while (status == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        const char *survey = (const char *)sqlite3_column_text(s, 3);
        if (sqlite3_column_int(s, 1) != 0 || survey == NULL) {
            status = untag_response(conn, seq);
            continue;
        }
        if (loaded == NULL || strcmp(loaded, survey) != 0) {
            topic_matcher_free(&topics);
            free(loaded);
            loaded = strdup(survey);
            status = loaded ? load_topics(conn, survey, &topics) : STORE_ERROR;
            if (status != STORE_OK)
                break;
        }
        status = tag_document(conn, seq, survey, &topics, (const char *)sqlite3_column_text(s, 2),
                              (size_t)sqlite3_column_bytes(s, 2));
    }
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    sqlite_done_with(s);
    topic_matcher_free(&topics);
    free(loaded);
    return status;
}

static enum store_status count_of(struct sqlite_conn *conn, enum stmt_id id, const char *survey, int64_t *count)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    int rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite_done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : sqlite_status_of(rc);
}

enum store_status sqlite_count_topics(struct store_conn *base_conn, const char *survey, int64_t *count)
{
    return count_of((struct sqlite_conn *)base_conn, STMT_COUNT_TOPICS, survey, count);
}

static enum store_status run_topic_stmt(struct sqlite_conn *conn, enum stmt_id id, const char *survey,
                                        const char *topic)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, topic);
    return sqlite_run(conn, s);
}

/* Drops the topic's tags (its query changed): its cells first, so that the tags' trigger
 * (schema/015) has nothing left to take away from. The back-fill then tags afresh. */
static enum store_status untag_topic(struct sqlite_conn *conn, const struct store_topic_row *row)
{
    static const enum stmt_id steps[] = {STMT_CLEAR_TOPIC_ROLLUPS, STMT_CLEAR_TOPIC_RESPONSES, STMT_UNTAG_TOPIC};
    enum store_status status = STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < sizeof steps / sizeof steps[0]; i++)
        status = run_topic_stmt(conn, steps[i], row->survey, row->id);
    return status;
}

/* The topic that the next back-fill batch is for; STORE_NOT_FOUND when none runs. */
static enum store_status backfill_topic(struct sqlite_conn *conn, struct store_topic_row *topic, int64_t *cursor,
                                        int64_t *end)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_BACKFILL_NEXT_TOPIC);
    if (s == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(s);
    enum store_status status = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
    if (status == STORE_OK) {
        memset(topic, 0, sizeof *topic);
        snprintf(topic->survey, sizeof topic->survey, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(topic->id, sizeof topic->id, "%s", (const char *)sqlite3_column_text(s, 1));
        topic->query = strdup((const char *)sqlite3_column_text(s, 2));
        *cursor = sqlite3_column_int64(s, 3);
        *end = sqlite3_column_type(s, 4) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(s, 4);
        if (topic->query == NULL)
            status = STORE_ERROR;
    }
    sqlite_done_with(s);
    return status;
}

/* Looks at up to batch responses after *cursor (of any survey: see STMT_BACKFILL_DOCUMENTS);
 * *cursor becomes the last seq looked at, *visited how many there were, *seen how many of them are
 * the topic's survey's. */
static enum store_status backfill_documents(struct sqlite_conn *conn, const struct store_topic_row *topic,
                                            const struct topic_matcher *one, int64_t batch, int64_t end,
                                            int64_t *cursor, int64_t *visited, int64_t *seen)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_BACKFILL_DOCUMENTS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, topic->survey);
    sqlite3_bind_int64(s, 2, *cursor);
    sqlite3_bind_int64(s, 3, batch);
    sqlite3_bind_int64(s, 4, end);
    enum store_status status = STORE_OK;
    int rc;
    *visited = *seen = 0;
    while (status == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *cursor = sqlite3_column_int64(s, 0);
        (*visited)++;
        if (sqlite3_column_int(s, 1) == 0)
            continue; /* another survey's */
        (*seen)++;
        /* INSERT OR IGNORE: a response stored since the PUT was tagged as it committed. */
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            status = tag_document(conn, *cursor, topic->survey, one, (const char *)sqlite3_column_text(s, 2),
                                  (size_t)sqlite3_column_bytes(s, 2));
    }
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

static enum store_status backfill_move(struct sqlite_conn *conn, const struct store_topic_row *topic, bool done,
                                       int64_t cursor, int64_t seen)
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_BACKFILL_MOVE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, topic->survey);
    sqlite_bind_text(s, 2, topic->id);
    if (done)
        sqlite3_bind_null(s, 3);
    else
        sqlite3_bind_int64(s, 3, cursor);
    sqlite3_bind_int64(s, 4, seen);
    return sqlite_run(conn, s);
}

enum store_status sqlite_topic_backfill(struct store_conn *base_conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                        bool *more)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct store_topic_row topic;
    int64_t cursor = 0, end = 0, visited = 0, seen = 0;
    enum store_status status = backfill_topic(conn, &topic, &cursor, &end);
    if (status == STORE_NOT_FOUND)
        return STORE_OK;
    if (status != STORE_OK)
        return status;
    snprintf(survey, SURVEY_ID_MAX + 1, "%s", topic.survey);
    struct topic_matcher one = {0};
    if (!topic_matcher_add(&one, topic.id, topic.query, conn->text_language))
        status = STORE_ERROR;
    /* A query that no longer parses tags nothing (the matcher left it out): its back-fill ends at
     * once. */
    if (status == STORE_OK && one.n > 0)
        status = backfill_documents(conn, &topic, &one, batch, end, &cursor, &visited, &seen);
    bool done = one.n == 0 || visited < batch || cursor >= end;
    if (status == STORE_OK)
        status = backfill_move(conn, &topic, done, cursor, seen);
    topic_matcher_free(&one);
    store_topic_row_free(&topic);
    /* Another topic may be waiting, or this one has more: the caller asks again. */
    *more = status == STORE_OK;
    return status;
}

enum store_status sqlite_put_topic(struct store_conn *base_conn, struct store_topic_row *row, bool query_changed,
                                   bool *created)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct store_topic_row old;
    enum store_status status = sqlite_get_topic(base_conn, row->survey, row->id, &old);
    if (status != STORE_OK && status != STORE_NOT_FOUND)
        return status;
    *created = status == STORE_NOT_FOUND;
    if (!*created) {
        row->created_at = old.created_at;
        if (!query_changed)
            row->scanned = old.scanned, row->total = old.total;
        store_topic_row_free(&old);
    }
    bool backfill = *created || query_changed;
    int64_t end = 0;
    if (backfill) {
        if ((status = count_of(conn, STMT_COUNT_SURVEY_RESPONSES, row->survey, &row->total)) != STORE_OK ||
            (status = count_of(conn, STMT_SURVEY_LAST_SEQ, row->survey, &end)) != STORE_OK)
            return status;
        row->scanned = 0;
        if (!*created && (status = untag_topic(conn, row)) != STORE_OK)
            return status;
    }
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_PUT_TOPIC);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, row->survey);
    sqlite_bind_text(s, 2, row->id);
    sqlite_bind_text(s, 3, row->title);
    sqlite_bind_text(s, 4, row->query);
    sqlite3_bind_int64(s, 5, row->created_at);
    sqlite3_bind_int64(s, 6, row->updated_at);
    sqlite3_bind_int64(s, 7, row->scanned);
    sqlite3_bind_int64(s, 8, row->total);
    /* A back-fill starts from the survey's first response (sqlite_topic_backfill); an unchanged
     * query keeps its back-fill where it was. */
    /* A survey without responses has nothing to back-fill: done at once. */
    if (end > 0)
        sqlite3_bind_int64(s, 9, 0);
    else
        sqlite3_bind_null(s, 9);
    sqlite3_bind_int(s, 10, backfill);
    sqlite3_bind_int64(s, 11, end);
    return sqlite_run(conn, s);
}

static enum store_status read_topic(sqlite3_stmt *s, struct store_topic_row *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->survey, sizeof out->survey, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(s, 1));
    out->title = strdup((const char *)sqlite3_column_text(s, 2));
    out->query = strdup((const char *)sqlite3_column_text(s, 3));
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    out->scanned = sqlite3_column_int64(s, 6);
    out->total = sqlite3_column_int64(s, 7);
    out->tagged = sqlite3_column_int64(s, 8);
    out->running = sqlite3_column_int(s, 9) != 0;
    if (out->title == NULL || out->query == NULL) {
        store_topic_row_free(out);
        return STORE_ERROR;
    }
    return STORE_OK;
}

enum store_status sqlite_get_topic(struct store_conn *base_conn, const char *survey, const char *id,
                                   struct store_topic_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_GET_TOPIC);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, id);
    int rc = sqlite3_step(s);
    enum store_status status =
        rc == SQLITE_ROW ? read_topic(s, out) : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_list_topics(struct store_conn *base_conn, const char *survey,
                                     void (*each)(const struct store_topic_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_LIST_TOPICS);
    enum store_status status = STORE_OK;
    int rc;
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    while (status == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_topic_row row;
        if ((status = read_topic(s, &row)) == STORE_OK) {
            each(&row, arg);
            store_topic_row_free(&row);
        }
    }
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    sqlite_done_with(s);
    return status;
}

enum store_status sqlite_delete_topic(struct store_conn *base_conn, const char *survey, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELETE_TOPIC);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, id);
    /* Its tags go by the foreign key (ON DELETE CASCADE), in the same statement. */
    enum store_status status = sqlite_run(conn, s);
    if (status == STORE_OK && sqlite3_changes(conn->db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}
