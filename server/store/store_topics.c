/* store.h's "topics" section, once for every backend (backend.h): a backend without topics leaves
 * its entries NULL and store_can_topics says so before any of these is called. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

void store_topic_row_free(struct store_topic_row *row)
{
    free(row->title);
    free(row->query);
    memset(row, 0, sizeof *row);
}

bool store_can_topics(const struct store *store)
{
    return store->backend->put_topic != NULL;
}

enum store_status store_put_topic(struct store_conn *conn, struct store_topic_row *row, bool query_changed,
                                  bool *created)
{
    *created = false;
    if (conn->backend->put_topic == NULL || row->title == NULL || row->query == NULL)
        return STORE_ERROR;
    return conn->backend->put_topic(conn, row, query_changed, created);
}

enum store_status store_get_topic(struct store_conn *conn, const char *survey, const char *id,
                                  struct store_topic_row *out)
{
    memset(out, 0, sizeof *out);
    if (conn->backend->get_topic == NULL)
        return STORE_ERROR;
    return conn->backend->get_topic(conn, survey, id, out);
}

enum store_status store_list_topics(struct store_conn *conn, const char *survey,
                                    void (*each)(const struct store_topic_row *row, void *arg), void *arg)
{
    if (conn->backend->list_topics == NULL)
        return STORE_ERROR;
    return conn->backend->list_topics(conn, survey, each, arg);
}

enum store_status store_delete_topic(struct store_conn *conn, const char *survey, const char *id)
{
    if (conn->backend->delete_topic == NULL)
        return STORE_ERROR;
    return conn->backend->delete_topic(conn, survey, id);
}

enum store_status store_count_topics(struct store_conn *conn, const char *survey, int64_t *count)
{
    *count = 0;
    if (conn->backend->count_topics == NULL)
        return STORE_ERROR;
    return conn->backend->count_topics(conn, survey, count);
}

bool store_can_group_by_topic(const struct store *store)
{
    return store->backend->topic_rollups;
}

bool store_topics_backfill_later(const struct store *store)
{
    return store->backend->topic_backfill != NULL;
}

enum store_status store_topic_backfill(struct store_conn *conn, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                       bool *more)
{
    survey[0] = '\0';
    *more = false;
    if (conn->backend->topic_backfill == NULL || batch < 1)
        return STORE_OK;
    return conn->backend->topic_backfill(conn, batch, survey, more);
}
