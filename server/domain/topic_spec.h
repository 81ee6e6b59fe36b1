/* A topic (issue 18): a saved query whose matching responses form a group of the metrics. What a
 * PUT /v1/surveys/{survey}/topics/{topic} body says, checked; and the significance test the
 * group_by=topic reply gives for each topic's share among detractors vs promoters. Pure: no I/O.
 * Which responses a topic tags is text_query_eval's answer on response_text's document. */
#ifndef SURVEYD_TOPIC_SPEC_H
#define SURVEYD_TOPIC_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "text_query.h"
#include "validate.h"

#define TOPIC_TITLE_MAX 200             /* code points */
#define TOPICS_PER_SURVEY_MAX 50        /* more is 422 too_many_topics */

struct topic_spec {
    char *title;                        /* malloc'd; 1..TOPIC_TITLE_MAX code points, no control characters */
    char *query;                        /* malloc'd; as given (shown back as it was typed) */
    struct text_query *parsed;          /* the query's tree */
};

enum topic_spec_status {
    TOPIC_SPEC_OK,
    TOPIC_SPEC_INVALID,                 /* *errors says what: 422 validation_failed */
    TOPIC_SPEC_BAD_QUERY,               /* *query_error says what and where: 422 invalid_query or
                                         * query_too_complex */
    TOPIC_SPEC_NO_MEMORY,
};

/* Parses a PUT body into *out (zeroed first). The shape (an object with exactly "title" and "query",
 * both strings) is checked before the query is parsed, so a body with both kinds of problems is
 * reported as validation_failed. On anything but TOPIC_SPEC_OK *out holds nothing to free. */
enum topic_spec_status topic_spec_parse(const cJSON *body, struct topic_spec *out, struct validate_errors *errors,
                                        struct text_query_error *query_error);

void topic_spec_free(struct topic_spec *spec);

/* Two-proportion z-test, pooled, two-sided: is a topic's share among detractors (k1 of n1) different
 * from its share among promoters (k2 of n2)? z = (k1/n1 - k2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with
 * p = (k1 + k2) / (n1 + n2); p_value = erfc(|z| / sqrt 2). False (no test: the reply says null) when
 * a group is empty or p is 0 or 1. */
bool topic_z_test(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double *z, double *p_value);

#endif
