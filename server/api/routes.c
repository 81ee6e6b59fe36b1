#include "routes.h"

#include "admission.h"
#include "assets.h"
#include "customers.h"
#include "health.h"
#include "hosted_page.h"
#include "invitations.h"
#include "metrics.h"
#include "terms.h"
#include "prometheus.h"
#include "responses.h"
#include "surveys.h"
#include "topics.h"
#include "webhooks.h"

/* The last field: the check made before the body of a client waiting for "100 Continue". */
const struct http_route routes_table[] = {
    {"GET", "/healthz", health_live, NULL},
    {"GET", "/widget.js", assets_serve, NULL},
    {"GET", "/dashboard", assets_serve, NULL},
    {"GET", "/favicon.ico", assets_serve, NULL},
    /* The hosted survey page of invitation links; its style and script are served beside it, so
     * that the page's relative URLs work behind any path prefix (literal paths win over '*'). */
    {"GET", "/s/page.css", assets_serve, NULL},
    {"GET", "/s/page.js", assets_serve, NULL},
    {"GET", "/s/*", hosted_page_get, NULL},
    {"POST", "/s/*", hosted_page_post, NULL},
    {"GET", "/readyz", health_ready, NULL},
    {"GET", "/metrics", prometheus_metrics, NULL},
    {"GET", "/v1/surveys", surveys_list, NULL},
    {"GET", "/v1/surveys/*", surveys_get, NULL},
    {"PUT", "/v1/surveys/*", surveys_put, admission_admin},
    {"DELETE", "/v1/surveys/*", surveys_delete, NULL},
    {"POST", "/v1/surveys/*/responses", responses_post, admission_submit},
    {"GET", "/v1/surveys/*/responses", responses_list, NULL},
    {"POST", "/v1/surveys/*/invitations", invitations_post, admission_ingest},
    {"GET", "/v1/invitations/*", invitations_get, NULL},
    {"GET", "/v1/responses/*", responses_get, NULL},
    {"PATCH", "/v1/responses/*", responses_patch, NULL},
    {"DELETE", "/v1/responses/*", responses_delete, NULL},
    {"GET", "/v1/customers/**/responses", customers_history, NULL},
    {"DELETE", "/v1/customers/**", customers_erase, NULL},
    {"GET", "/v1/surveys/*/metrics", metrics_survey, NULL},
    {"GET", "/v1/surveys/*/terms", terms_survey, NULL},
    {"GET", "/v1/surveys/*/topics", topics_list, NULL},
    {"GET", "/v1/surveys/*/topics/*", topics_get, NULL},
    {"PUT", "/v1/surveys/*/topics/*", topics_put, admission_admin},
    {"DELETE", "/v1/surveys/*/topics/*", topics_delete, NULL},
    {"GET", "/v1/metrics", metrics_overview, NULL},
    {"GET", "/v1/webhooks", webhooks_list, NULL},
    {"GET", "/v1/webhooks/*", webhooks_get, NULL},
    {"PUT", "/v1/webhooks/*", webhooks_put, admission_admin},
    {"DELETE", "/v1/webhooks/*", webhooks_delete, NULL},
    {"POST", "/v1/webhooks/*/rotate-secret", webhooks_rotate_secret, admission_admin},
    {"GET", "/v1/webhooks/*/deliveries", webhooks_deliveries, NULL},
    {"GET", "/v1/webhooks/*/deliveries/*", webhooks_delivery, NULL},
    {"POST", "/v1/webhooks/*/deliveries/*/retry", webhooks_retry, admission_admin},
    {"POST", "/v1/webhooks/*/replay", webhooks_replay, admission_admin},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
