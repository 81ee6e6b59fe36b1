/* Handlers of /v1/webhooks: subscriptions (README "Webhooks", docs/webhooks.md), their secrets,
 * and their outbox of deliveries (list, one, retry, replay). Admin token for all of it. */
#ifndef SURVEYD_WEBHOOKS_H
#define SURVEYD_WEBHOOKS_H

#include "http.h"

enum http_next webhooks_list(struct http_request *req);
enum http_next webhooks_get(struct http_request *req);
enum http_next webhooks_put(struct http_request *req);
enum http_next webhooks_delete(struct http_request *req);
enum http_next webhooks_rotate_secret(struct http_request *req);
enum http_next webhooks_deliveries(struct http_request *req);
enum http_next webhooks_delivery(struct http_request *req);
enum http_next webhooks_retry(struct http_request *req);
enum http_next webhooks_replay(struct http_request *req);

#endif
