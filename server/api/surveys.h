/* Handlers of /v1/surveys and /v1/surveys/{survey}. */
#ifndef SURVEYD_SURVEYS_H
#define SURVEYD_SURVEYS_H

#include "http.h"

enum http_next surveys_list(struct http_request *req);
enum http_next surveys_get(struct http_request *req);
enum http_next surveys_put(struct http_request *req);
enum http_next surveys_delete(struct http_request *req);

#endif
