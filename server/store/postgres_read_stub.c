/* TEMPORARY (h-pg-core's branch only, deleted before it is finished): h-pg-read's
 * postgres_read.c and postgres_verify.c are not merged yet; these stand in so that the daemon
 * links. Every one answers STORE_ERROR. */
#include "postgres_internal.h"

#include <stdio.h>

enum store_status pg_list_responses(struct store_conn *conn, const struct store_list_query *query,
                                    void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    return STORE_ERROR;
}

struct store_iter *pg_iter_open(struct store *store, const struct store_list_query *query, char *err,
                                size_t err_size)
{
    snprintf(err, err_size, "not implemented yet");
    return NULL;
}

enum store_status pg_iter_next(struct store_iter *iter, struct store_response_row *row)
{
    return STORE_ERROR;
}

void pg_iter_pause(struct store_iter *iter)
{
}

void pg_iter_close(struct store_iter *iter)
{
}

enum store_status pg_metrics_scan(struct store_conn *conn, const struct store_metrics_query *query,
                                  store_metrics_fn each, void *arg)
{
    return STORE_ERROR;
}

enum store_status pg_day_span(struct store_conn *conn, const char *survey, int64_t *first_day, int64_t *last_day)
{
    return STORE_NOT_FOUND;
}

enum store_status pg_verify(struct store *store, void (*report)(const char *line, void *arg), void *arg,
                            uint64_t *differences, uint64_t *responses)
{
    return STORE_ERROR;
}

enum store_status pg_each_answers(struct store *store, store_answers_fn each, void *arg)
{
    return STORE_ERROR;
}
