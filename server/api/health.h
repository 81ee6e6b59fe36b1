/* /healthz (the process answers) and /readyz (it can store responses). */
#ifndef SURVEYD_HEALTH_H
#define SURVEYD_HEALTH_H

#include "http.h"

enum http_next health_live(struct http_request *req);
enum http_next health_ready(struct http_request *req);

#endif
