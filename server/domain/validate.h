/* Turns parsed JSON into typed survey structs, or a list of every field error. No I/O.
 *
 * Numbers: JSON has one number type, so an integer field accepts any number whose value is an
 * integer in range: 9, 9.0 and 9e0 are all 9, and -0 is 0. 9.5, 1e400 (infinite once parsed) and
 * huge integers are out of range, never undefined behaviour. */
#ifndef SURVEYD_VALIDATE_H
#define SURVEYD_VALIDATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "survey.h"

/* Accumulates {"field", "message"} objects so a client sees every problem at once. */
struct validate_errors {
    cJSON *list;
    int count;
};

void validate_errors_init(struct validate_errors *errors);
void validate_errors_free(struct validate_errors *errors);
void validate_error(struct validate_errors *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Code points in a valid UTF-8 string. */
size_t validate_utf8_length(const char *s);

/* The length in bytes of s's longest prefix of at most max bytes that ends on a character
 * boundary: for cutting user text into messages without splitting a UTF-8 sequence. */
int validate_utf8_cut(const char *s, size_t max);

/* Parses a survey definition body for survey `id` into *out (zeroed first). Returns true when valid;
 * otherwise every problem is in *errors and *out holds nothing to free. */
bool validate_definition(const char *id, const cJSON *body, struct survey *out, struct validate_errors *errors);

/* The normalised definition with every default filled in, as stored and as served (without id and
 * timestamps, which the caller adds). */
cJSON *validate_definition_to_json(const struct survey *survey);

/* Validates a response body against its survey. now_ms is the receive time: it becomes received_at
 * and bounds submitted_at (at most 5 minutes ahead). The id is left empty for the caller. */
bool validate_response(const struct survey *survey, const cJSON *body, int64_t now_ms, struct response *out,
                       struct validate_errors *errors);

/* Validates an invitation body (customer, channel, agent, interaction and properties by the rules
 * of a response's; expires_in in seconds; send.email a plain address). */
bool validate_invitation(const cJSON *body, struct invitation_request *out, struct validate_errors *errors);

/* A plain email address: local@domain in printable ASCII, no spaces, quotes, angle brackets or
 * other characters that would need quoting in a header, at most 254 bytes. */
bool validate_email_address(const char *address);

/* Checks a stored response's answers (the parsed `answers` column; NULL when it does not parse) by
 * the rules of validate_response's "answers", with the same errors, without building the stored
 * form: for `surveyd verify`. */
bool validate_stored_answers(const struct survey *survey, const cJSON *answers, struct validate_errors *errors);

#endif
