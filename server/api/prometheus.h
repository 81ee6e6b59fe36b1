/* GET /metrics: the service's own health in Prometheus text format (exposition format 0.0.4). */
#ifndef SURVEYD_PROMETHEUS_H
#define SURVEYD_PROMETHEUS_H

#include "http.h"

enum http_next prometheus_metrics(struct http_request *req);

#endif
