#include "idempotency.h"

#include <stdarg.h>
#include <stdio.h>

#include "api.h"

static bool key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++) {
        if (n >= IDEMPOTENCY_KEY_MAX || key[n] < 0x20 || key[n] > 0x7e)
            return false;
    }
    return n > 0;
}

bool idempotency_read(struct http_request *req, struct idempotency *idem, const char *survey, const char *scope_fmt, ...)
{
    va_list ap;

    idem->key = http_header(req, "Idempotency-Key");
    if (idem->key == NULL)
        return true;
    if (!key_valid(idem->key)) {
        api_reply_invalid_field(req, "Idempotency-Key", IDEMPOTENCY_KEY_RULE);
        return false;
    }
    va_start(ap, scope_fmt);
    vsnprintf(idem->scope, sizeof idem->scope, scope_fmt, ap);
    va_end(ap);
    idem->record = (struct store_idempotency){idem->scope, survey, idem->key, req->body, req->body_len};
    return true;
}

void idempotency_reply_replay(struct http_request *req, struct store_replay *replay, idempotency_reply_fn reply)
{
    http_add_header(req, "Idempotent-Replayed", "true");
    reply(req, replay->status, replay->reply, replay->response_id ? replay->response_id : "");
    replay->reply = NULL;
}

void idempotency_reply_key_reused(struct http_request *req)
{
    http_reply_problem(req, 422, "idempotency_key_reused", "this Idempotency-Key was already used with a different body",
                       NULL);
}

bool idempotency_replied(struct http_request *req, struct store_conn *conn, const struct idempotency *idem,
                         idempotency_reply_fn reply)
{
    struct store_replay replay;

    if (idem->key == NULL || conn == NULL)
        return false;
    enum store_status status = store_find_idempotency(conn, &idem->record, &replay);
    if (status == STORE_REPLAY) {
        idempotency_reply_replay(req, &replay, reply);
        store_replay_free(&replay);
        return true;
    }
    if (status == STORE_KEY_REUSED) {
        idempotency_reply_key_reused(req);
        return true;
    }
    return false;
}
