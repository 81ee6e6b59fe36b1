/* q= on the listings, the export and a customer's history (docs/search.md): the query parsed for
 * the store, its errors as replies, and the snippets each listed response carries. */
#ifndef SURVEYD_SEARCH_H
#define SURVEYD_SEARCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "http.h"
#include "query.h"
#include "store.h"
#include "survey.h"
#include "text_query.h"

/* query's q= parsed into *out (text_query_free), or NULL without one, and list's text, order and
 * offset set from it. On a query that does not parse, replies 422 (invalid_query or
 * query_too_complex, with "position" in code points and "parameter": "q") and returns false. */
bool search_prepare(struct http_request *req, const struct query *query, struct store_list_query *list,
                    struct text_query **out);

/* The snippets of one listed response: for each of its text answers and "other" write-ins (in
 * stored order) that holds a match, {"question", "text", "matches": [{"start", "length"}]}, the
 * offsets in code points within "text". survey: the response's. NULL when out of memory. */
cJSON *search_snippets(const struct text_query *text, const struct survey *survey, const char *answers_json);

#endif
