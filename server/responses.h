/* Handlers of survey responses: submission and reading. */
#ifndef SURVEYD_RESPONSES_H
#define SURVEYD_RESPONSES_H

#include "http.h"

enum http_next responses_post(struct http_request *req);
enum http_next responses_get(struct http_request *req);

#endif
