/* Handlers of /v1/surveys/{survey}/topics (README "Topics", docs/search.md "Topics"): saved queries
 * that tag the survey's responses, and the topic= filter of the metrics. Admin token to write,
 * read token to read. */
#ifndef SURVEYD_TOPICS_H
#define SURVEYD_TOPICS_H

#include <stdbool.h>

#include "http.h"

enum http_next topics_list(struct http_request *req);
enum http_next topics_get(struct http_request *req);
enum http_next topics_put(struct http_request *req);
enum http_next topics_delete(struct http_request *req);

/* For a metrics request with topic=: false when a reply was queued (501 topics_unavailable on a
 * backend without topics, 404 topic_not_found when the survey has no such topic). */
bool topics_check_filter(struct http_request *req, const char *survey, const char *topic);

/* For a metrics request with group_by=topic: false when a reply was queued (501 topics_unavailable
 * on a backend without topics or without grouping by them). */
bool topics_check_grouping(struct http_request *req);

#endif
