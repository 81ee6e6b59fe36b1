/* Admission before the body: the checks a route can make from the request line and headers alone,
 * run for clients that wait for "100 Continue" (see http_route.admit). Each refuses exactly what
 * its handler would refuse, with the same reply, and nothing else. */
#ifndef SURVEYD_ADMISSION_H
#define SURVEYD_ADMISSION_H

#include <stdbool.h>

#include "http.h"

/* Admin token required (PUT /v1/surveys/{survey}). */
bool admission_admin(struct http_request *req);

/* An ingest or admin token (POST /v1/surveys/{survey}/invitations). */
bool admission_ingest(struct http_request *req);

/* A submission: an ingest or admin token, or anyone when the survey is public. */
bool admission_submit(struct http_request *req);

#endif
