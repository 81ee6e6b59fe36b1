/* GET /v1/surveys/{survey}/metrics and GET /v1/metrics: scores from rolled-up histograms. */
#ifndef SURVEYD_METRICS_H
#define SURVEYD_METRICS_H

#include <stdint.h>

#include "http.h"
#include "store.h"

enum http_next metrics_survey(struct http_request *req);
enum http_next metrics_overview(struct http_request *req);

/* Answers from the ETag or the cache when it can; otherwise calls produce, caches its body and
 * replies. key identifies the query (cache keys of different endpoints must differ); local is
 * this process's data version of the survey (versions.c; survey NULL: of all), read before the
 * data. Also for other computed read-only replies (api/terms.c). */
void metrics_reply_cached(struct http_request *req, const char *key, const char *survey, uint64_t local,
                          enum store_status (*produce)(struct http_request *req, void *arg, char **body), void *arg);

#endif
