/* Handlers of survey responses: submission and reading. */
#ifndef SURVEYD_RESPONSES_H
#define SURVEYD_RESPONSES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "store.h"

enum http_next responses_post(struct http_request *req);
enum http_next responses_get(struct http_request *req);
enum http_next responses_list(struct http_request *req);
enum http_next responses_patch(struct http_request *req);
enum http_next responses_delete(struct http_request *req);

/* Shared with the customer endpoints. */
struct query;

/* The store query for a parsed listing query (limit -1; the caller sets survey and limit). */
void responses_list_query(const struct query *query, struct store_list_query *out);

/* A listing with q=: each row gets its snippets (search.h), from the definition of its survey. */
struct text_query;
struct survey;
struct responses_search {
    const struct text_query *text;
    bool relevance;                                                 /* pages by offset */
    const struct survey *(*survey_of)(const char *id, void *arg);   /* NULL: no snippets for the row */
    void *arg;
};

/* One page: {"responses": [...], "next_cursor": "..." | null}; NULL with *status on failure. search:
 * NULL without q=. */
cJSON *responses_page(struct store_conn *conn, struct store_list_query *query, int64_t limit,
                      const struct responses_search *search, enum store_status *status);

/* Parses the query string, accepting the QUERY_* bits in allowed; replies 422 and returns false. */
bool responses_parse_query(struct http_request *req, unsigned allowed, struct query *query);

#endif
