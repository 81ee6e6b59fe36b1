/* A webhook subscription: what a PUT /v1/webhooks/{id} body says, checked and normalised, and
 * whether an event goes to it. Pure: no I/O (whether the URL's host may be reached is
 * outbound/webhook_target.h's question). */
#ifndef SURVEYD_WEBHOOK_SPEC_H
#define SURVEYD_WEBHOOK_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "survey.h"
#include "validate.h"

/* Event types, as bits of a subscription's set. */
enum webhook_event {
    WEBHOOK_RESPONSE_CREATED = 1u << 0,
    WEBHOOK_RESPONSE_UPDATED = 1u << 1,
    WEBHOOK_RESPONSE_DELETED = 1u << 2,
    WEBHOOK_SURVEY_UPDATED = 1u << 3,
    WEBHOOK_CUSTOMER_ERASED = 1u << 4,
};
#define WEBHOOK_EVENTS_ALL 0x1fu

enum webhook_format { WEBHOOK_FORMAT_STANDARD, WEBHOOK_FORMAT_SLACK };

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SURVEYS_MAX 100

/* {"question": id, "min": n, "max": n}: only responses whose numeric answer (nps, csat, ces;
 * yes_no as 1/0) to question lies within [min, max] (either bound may be left out) match; a
 * response that skipped the question does not. Applies to response.* events; others always match. */
struct webhook_filter {
    bool set;
    char question[SURVEY_ID_MAX + 1];
    bool has_min, has_max;
    double min, max;
};

struct webhook_spec {
    char *url;                  /* http:// or https://, a host, no user info, no fragment */
    unsigned events;            /* enum webhook_event bits; at least one */
    char **surveys;             /* survey ids; NULL with survey_count 0: every survey */
    size_t survey_count;
    struct webhook_filter filter;
    enum webhook_format format;
    bool enabled;               /* "enabled": false pauses; true (the default) also re-enables one
                                 * that a 410 disabled */
};

void webhook_spec_free(struct webhook_spec *spec);

/* "response.created" ... and back; NULL / false for an unknown name. */
const char *webhook_event_name(enum webhook_event event);
bool webhook_event_parse(const char *name, enum webhook_event *out);

/* Parses a PUT body into *out (zeroed first). Returns true when valid; otherwise every problem is
 * in *errors (field + message, as validate.h's) and *out holds nothing to free. */
bool webhook_spec_parse(const cJSON *body, struct webhook_spec *out, struct validate_errors *errors);

/* From a stored row's texts (store_webhook_row's url, events, surveys, filter, format); false when
 * they do not parse (a corrupt row). */
bool webhook_spec_from_stored(const char *url, const char *events, const char *surveys, const char *filter,
                              const char *format, struct webhook_spec *out);

/* The normalised texts a row stores: events and surveys as JSON arrays (surveys NULL when every
 * survey), filter as a JSON object (NULL when none), format's name. malloc'd; false when out of
 * memory (nothing to free then). */
struct webhook_spec_texts {
    char *events, *surveys, *filter;
    const char *format;
};
bool webhook_spec_to_stored(const struct webhook_spec *spec, struct webhook_spec_texts *out);
void webhook_spec_texts_free(struct webhook_spec_texts *texts);

/* Whether an event of this type about survey (NULL: none, e.g. customer.erased) goes to the
 * subscription: it is enabled, the type is among its events, the survey among its surveys (or it
 * lists none), and for response.* events the filter holds on answers (the response's answers
 * object as stored; for response.deleted, as they were before the deletion). */
bool webhook_spec_matches(const struct webhook_spec *spec, enum webhook_event type, const char *survey,
                          const cJSON *answers);

#endif
