/* GET /v1/surveys/{survey}/terms: what a segment of the respondents (detractors, passives,
 * promoters, or all) writes about, as the terms its responses use most, with their lift against
 * all responses of the window (README "Terms", docs/search.md). */
#ifndef SURVEYD_TERMS_H
#define SURVEYD_TERMS_H

#include "http.h"

enum http_next terms_survey(struct http_request *req);

#endif
