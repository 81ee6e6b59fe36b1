/* The hosted survey page of an invitation's link: GET/HEAD /s/{token} shows the survey as an HTML
 * form and records nothing but the visit; POST /s/{token} records the answers (one response per
 * invitation). Every reply is an HTML page, errors included: a person reads them, not a program. */
#ifndef SURVEYD_HOSTED_PAGE_H
#define SURVEYD_HOSTED_PAGE_H

#include "http.h"

/* How long after the first answer a later submit still changes the same response; afterwards the
 * page says the survey was answered. */
#define HOSTED_PAGE_UPDATE_WINDOW_MS (24 * 3600 * 1000LL)

enum http_next hosted_page_get(struct http_request *req);   /* GET and HEAD */
enum http_next hosted_page_post(struct http_request *req);

#endif
