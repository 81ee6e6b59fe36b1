/* Query-string parameters of the read endpoints, parsed and checked. Pure: no I/O.
 * Each endpoint says which parameters it takes; anything else is a 422 naming the parameter. */
#ifndef SURVEYD_QUERY_H
#define SURVEYD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

enum query_group_by { GROUP_NONE, GROUP_DAY, GROUP_WEEK, GROUP_MONTH, GROUP_CHANNEL, GROUP_AGENT, GROUP_TOPIC };
enum query_format { FORMAT_DEFAULT, FORMAT_JSON, FORMAT_CSV, FORMAT_NDJSON };

enum query_param_bit {
    QUERY_FROM = 1 << 0,
    QUERY_TO = 1 << 1,
    QUERY_CHANNEL = 1 << 2,
    QUERY_AGENT = 1 << 3,
    QUERY_CUSTOMER = 1 << 4,
    QUERY_INTERACTION = 1 << 5,
    QUERY_GROUP_BY = 1 << 6,
    QUERY_COMPARE = 1 << 7,
    QUERY_LIMIT = 1 << 8,
    QUERY_CURSOR = 1 << 9,
    QUERY_FORMAT = 1 << 10,
    QUERY_TEXT = 1 << 11,       /* q= (docs/search.md) */
    QUERY_SORT = 1 << 12,       /* sort=newest|relevance; relevance needs q */
    QUERY_TOPIC = 1 << 13,      /* topic= (docs/search.md "Topics") */
};

#define QUERY_LIMIT_DEFAULT 100
#define QUERY_LIMIT_MAX 1000

struct query {
    bool has_from, has_to;
    int64_t from_ms, to_ms;     /* INT64_MIN / INT64_MAX when absent */
    const char *channel;        /* borrowed from the request, NULL when absent */
    const char *agent;
    const char *customer;
    const char *interaction;
    enum query_group_by group_by;
    bool compare_previous;
    bool has_limit;
    int64_t limit;              /* QUERY_LIMIT_DEFAULT when absent */
    bool has_cursor;
    int64_t cursor_ms;          /* the last row of the previous page */
    char cursor_id[32];
    bool has_offset_cursor;     /* a sort=relevance page's cursor: rows before this page */
    int64_t cursor_offset;
    const char *text;           /* q=, unparsed (the API parses it: its errors carry a position) */
    bool sort_relevance;
    const char *topic;          /* topic=: a topic id of the survey (a slug), NULL when absent */
    enum query_format format;
};

/* One query-string parameter, as the HTTP layer hands them over. */
struct query_param {
    const char *name;
    const char *value;          /* NULL for "?flag" without '=' */
};

/* Fills *query from the parameters, accepting those in `allowed` (QUERY_* bits); every problem goes
 * to errors with the parameter's name as the field. Returns true when there was none. */
bool query_parse(const struct query_param *params, int count, unsigned allowed, struct query *query,
                 struct validate_errors *errors);

/* A canonical text of the query, for cache keys: every field length-prefixed, never truncated, so
 * two different queries never share a key. Malloc'd (the caller frees it); NULL when out of memory. */
char *query_key(const char *survey, const struct query *query);

/* The opaque pagination cursor of a row: base64url of "<ms>.<id>". out needs 64 bytes. */
void query_cursor_encode(int64_t submitted_at, const char *id, char *out, size_t size);

/* The cursor of a sort=relevance page: the number of rows before the next page. */
void query_offset_cursor_encode(int64_t offset, char *out, size_t size);
bool query_offset_cursor_decode(const char *cursor, int64_t *offset);

/* Decodes a cursor; false when it is not one this server made. */
bool query_cursor_decode(const char *cursor, int64_t *submitted_at, char id[32]);

#endif
