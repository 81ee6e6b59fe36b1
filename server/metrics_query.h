/* Parsing and checking the metrics query string. Pure: no I/O. */
#ifndef SURVEYD_METRICS_QUERY_H
#define SURVEYD_METRICS_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "validate.h"

enum metrics_group_by { GROUP_NONE, GROUP_DAY, GROUP_WEEK, GROUP_MONTH, GROUP_CHANNEL, GROUP_AGENT };

struct metrics_query {
    bool has_from, has_to;
    int64_t from_ms, to_ms;     /* INT64_MIN / INT64_MAX when absent */
    const char *channel;        /* borrowed from the request */
    const char *agent;
    enum metrics_group_by group_by;
    bool compare_previous;
};

/* One query-string parameter, as the HTTP layer hands them over. */
struct metrics_param {
    const char *name;
    const char *value;          /* NULL for "?flag" without '=' */
};

/* Fills *query from the parameters; every problem goes to errors with the parameter's name as the
 * field. Returns true when there was none. */
bool metrics_query_parse(const struct metrics_param *params, int count, struct metrics_query *query,
                         struct validate_errors *errors);

/* A canonical text of the query, for cache keys. */
void metrics_query_key(const char *survey, const struct metrics_query *query, char *out, size_t size);

const char *metrics_group_by_name(enum metrics_group_by group_by);

#endif
