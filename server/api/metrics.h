/* GET /v1/surveys/{survey}/metrics and GET /v1/metrics: scores from rolled-up histograms. */
#ifndef SURVEYD_METRICS_H
#define SURVEYD_METRICS_H

#include "http.h"

enum http_next metrics_survey(struct http_request *req);
enum http_next metrics_overview(struct http_request *req);

#endif
