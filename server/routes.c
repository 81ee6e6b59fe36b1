#include "routes.h"

#include "assets.h"
#include "customers.h"
#include "health.h"
#include "metrics.h"
#include "prometheus.h"
#include "responses.h"
#include "surveys.h"

const struct http_route routes_table[] = {
    {"GET", "/healthz", health_live},
    {"GET", "/widget.js", assets_serve},
    {"GET", "/dashboard", assets_serve},
    {"GET", "/readyz", health_ready},
    {"GET", "/metrics", prometheus_metrics},
    {"GET", "/v1/surveys", surveys_list},
    {"GET", "/v1/surveys/*", surveys_get},
    {"PUT", "/v1/surveys/*", surveys_put},
    {"DELETE", "/v1/surveys/*", surveys_delete},
    {"POST", "/v1/surveys/*/responses", responses_post},
    {"GET", "/v1/surveys/*/responses", responses_list},
    {"GET", "/v1/responses/*", responses_get},
    {"PATCH", "/v1/responses/*", responses_patch},
    {"DELETE", "/v1/responses/*", responses_delete},
    {"GET", "/v1/customers/**/responses", customers_history},
    {"DELETE", "/v1/customers/**", customers_erase},
    {"GET", "/v1/surveys/*/metrics", metrics_survey},
    {"GET", "/v1/metrics", metrics_overview},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
