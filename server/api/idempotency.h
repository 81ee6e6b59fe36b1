/* Idempotency-Key on requests that create or change something (POST a response, PATCH one, POST an
 * invitation): a retry with the same key and body gets its first reply again; the same key with
 * another body is refused. The writer job looks the record up again and saves it in the transaction
 * that made the change (store_find_idempotency / store_save_idempotency); this is the request's
 * side: reading the header, and replying from a record. */
#ifndef SURVEYD_IDEMPOTENCY_H
#define SURVEYD_IDEMPOTENCY_H

#include <stdbool.h>

#include "http.h"
#include "store.h"

/* 1-255 printable ASCII characters, 0x20-0x7e: space is allowed (keys like "retry 2" exist in the
 * wild and harm nothing). The rule is stated in these words in the 422, README.md and the OpenAPI
 * document; tests/api/test_openapi.py checks that the three agree. */
#define IDEMPOTENCY_KEY_MAX 255
#define IDEMPOTENCY_KEY_RULE "must be 1 to 255 printable ASCII characters (space included)"

struct idempotency {
    const char *key;            /* the request's header (alive as long as the request); NULL: none */
    char scope[128];            /* what the key applies to, e.g. "POST /v1/surveys/s/responses" */
    struct store_idempotency record;
};

/* Sends a reply again as the first one went out (with its Location, say); takes body. */
typedef void (*idempotency_reply_fn)(struct http_request *req, int status, char *body, const char *id);

/* Reads the request's Idempotency-Key, if any, into idem: for the survey the record belongs to, and
 * the scope printed from scope_fmt. False when the key breaks the rule: replied 422. */
bool idempotency_read(struct http_request *req, struct idempotency *idem, const char *survey, const char *scope_fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* With a key: looks for its record on conn and, when there is one, replies from it (a replay, or
 * 422 for a key used with another body) and returns true. Made before validating (the definition
 * may have changed since, and the first reply must still be replayed), and again after a race with
 * another instance that stored the same key first. */
bool idempotency_replied(struct http_request *req, struct store_conn *conn, const struct idempotency *idem,
                         idempotency_reply_fn reply);

/* A record with the same body: its reply again, marked Idempotent-Replayed; takes replay->reply. */
void idempotency_reply_replay(struct http_request *req, struct store_replay *replay, idempotency_reply_fn reply);

void idempotency_reply_key_reused(struct http_request *req);

#endif
