/* store.h's "webhooks" and "the event log" sections, once for every backend (backend.h): argument
 * checks, clearing the rows an entry fills, what a new delivery starts as, the claim's order, and
 * what migrate's import keeps (seqs, cursors). The backends (sqlite_webhooks.c,
 * postgres_webhooks.c) only speak their database. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

void store_webhook_row_free(struct store_webhook_row *row)
{
    free(row->url);
    free(row->events);
    free(row->surveys);
    free(row->filter);
    free(row->format);
    free(row->secret);
    free(row->old_secret);
    free(row->disabled_reason);
    memset(row, 0, sizeof *row);
}

void store_delivery_row_free(struct store_delivery_row *row)
{
    free(row->type);
    free(row->survey);
    free(row->subject);
    free(row->customer);
    free(row->payload);
    free(row->last_error);
    memset(row, 0, sizeof *row);
}

static bool valid_state(enum store_delivery_state state)
{
    return state == STORE_DELIVERY_PENDING || state == STORE_DELIVERY_SENDING || state == STORE_DELIVERY_DELIVERED ||
           state == STORE_DELIVERY_DEAD;
}

/* A row every backend can store: the NOT NULL columns are there. */
static bool webhook_complete(const struct store_webhook_row *row)
{
    return row->id[0] != '\0' && row->url != NULL && row->events != NULL && row->format != NULL &&
           row->secret != NULL;
}

static bool delivery_complete(const struct store_delivery_row *row)
{
    return row->id[0] != '\0' && row->webhook[0] != '\0' && row->event_id[0] != '\0' && row->type != NULL &&
           row->payload != NULL && valid_state(row->state);
}

enum store_status store_put_webhook(struct store_conn *conn, const struct store_webhook_row *row, bool *created)
{
    *created = false;
    if (!webhook_complete(row))
        return STORE_ERROR;
    return conn->backend->put_webhook(conn, row, created);
}

enum store_status store_get_webhook(struct store_conn *conn, const char *id, struct store_webhook_row *out)
{
    memset(out, 0, sizeof *out);
    return conn->backend->get_webhook(conn, id, out);
}

enum store_status store_list_webhooks(struct store_conn *conn,
                                      void (*each)(const struct store_webhook_row *row, void *arg), void *arg)
{
    return conn->backend->list_webhooks(conn, each, arg);
}

enum store_status store_delete_webhook(struct store_conn *conn, const char *id)
{
    return conn->backend->delete_webhook(conn, id);
}

enum store_status store_disable_webhook(struct store_conn *conn, const char *id, int64_t now_ms, const char *reason)
{
    return conn->backend->disable_webhook(conn, id, now_ms, reason ? reason : "disabled");
}

/* A new delivery starts PENDING with nothing attempted, whatever else the caller's row holds. */
enum store_status store_insert_delivery(struct store_conn *conn, const struct store_delivery_row *row)
{
    struct store_delivery_row fresh = *row;

    fresh.state = STORE_DELIVERY_PENDING;
    fresh.attempts = 0;
    fresh.last_status = 0;
    fresh.last_error = NULL;
    fresh.lease_until = 0;
    fresh.last_attempt_at = 0;
    fresh.delivered_at = 0;
    if (!delivery_complete(&fresh))
        return STORE_ERROR;
    return conn->backend->insert_delivery(conn, &fresh);
}

static int by_seq(const void *a, const void *b)
{
    const struct store_delivery_row *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The backends claim in one statement whose returned rows come in no set order (SQLite's and
 * PostgreSQL's RETURNING); the sender posts them in the order each() gives, so they are sorted
 * here: oldest first. */
enum store_status store_claim_deliveries(struct store_conn *conn, const char *webhook, int64_t now_ms,
                                         int64_t lease_until, int max,
                                         void (*each)(const struct store_delivery_row *row, void *arg), void *arg)
{
    struct store_delivery_row *rows = NULL;
    int count = 0;
    enum store_status status;

    if (max <= 0)
        return STORE_OK;
    status = conn->backend->claim_deliveries(conn, webhook, now_ms, lease_until, max, &rows, &count);
    if (status == STORE_OK && count > 1)
        qsort(rows, (size_t)count, sizeof *rows, by_seq);
    for (int i = 0; i < count; i++) {
        if (status == STORE_OK)
            each(&rows[i], arg);
        store_delivery_row_free(&rows[i]);
    }
    free(rows);
    return status;
}

enum store_status store_finish_delivery(struct store_conn *conn, const struct store_delivery_outcome *outcome)
{
    /* SENDING is what an attempt leaves, not what it comes to. */
    if (outcome->id == NULL || !valid_state(outcome->state) || outcome->state == STORE_DELIVERY_SENDING)
        return STORE_ERROR;
    return conn->backend->finish_delivery(conn, outcome);
}

enum store_status store_requeue_sending(struct store_conn *conn, int64_t now_ms, int64_t *requeued)
{
    *requeued = 0;
    return conn->backend->requeue_sending(conn, now_ms, requeued);
}

enum store_status store_get_delivery(struct store_conn *conn, const char *id, struct store_delivery_row *out)
{
    memset(out, 0, sizeof *out);
    return conn->backend->get_delivery(conn, id, out);
}

enum store_status store_list_deliveries(struct store_conn *conn, const struct store_delivery_query *query,
                                        void (*each)(const struct store_delivery_row *row, void *arg), void *arg)
{
    if (query->webhook == NULL || (query->state != NULL && !valid_state(*query->state)))
        return STORE_ERROR;
    if (query->limit == 0)
        return STORE_OK;
    return conn->backend->list_deliveries(conn, query, each, arg);
}

enum store_status store_retry_delivery(struct store_conn *conn, const char *webhook, const char *id, int64_t now_ms)
{
    return conn->backend->retry_delivery(conn, webhook, id, now_ms);
}

enum store_status store_replay_deliveries(struct store_conn *conn, const char *webhook, int64_t from_ms,
                                          int64_t to_ms, int64_t now_ms, int64_t *count)
{
    *count = 0;
    if (from_ms >= to_ms)
        return STORE_OK;
    return conn->backend->replay_deliveries(conn, webhook, from_ms, to_ms, now_ms, count);
}

enum store_status store_delivery_backlog(struct store_conn *conn, const char *webhook, int64_t *depth,
                                         int64_t *oldest_ms)
{
    *depth = 0;
    *oldest_ms = 0;
    return conn->backend->delivery_backlog(conn, webhook, depth, oldest_ms);
}

enum store_status store_prune_deliveries(struct store_conn *conn, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    *deleted = 0;
    if (max <= 0)
        return STORE_OK;
    return conn->backend->prune_deliveries(conn, cutoff_ms, max, deleted);
}

/* ---- the event log ---- */

void store_event_row_free(struct store_event_row *row)
{
    free(row->type);
    free(row->survey);
    free(row->subject);
    free(row->customer);
    free(row->object);
    memset(row, 0, sizeof *row);
}

static bool event_complete(const struct store_event_row *row)
{
    return row->id[0] != '\0' && row->type != NULL;
}

enum store_status store_webhooks_exist(struct store_conn *conn, bool *any)
{
    *any = false;
    return conn->backend->webhooks_exist(conn, any);
}

enum store_status store_append_event(struct store_conn *conn, const struct store_event_row *row)
{
    if (!event_complete(row))
        return STORE_ERROR;
    return conn->backend->append_event(conn, row);
}

enum store_status store_list_events(struct store_conn *conn, int64_t after_seq, int64_t limit,
                                    void (*each)(const struct store_event_row *row, void *arg), void *arg)
{
    if (limit <= 0)
        return STORE_OK;
    return conn->backend->list_events(conn, after_seq, limit, each, arg);
}

enum store_status store_count_events(struct store_conn *conn, int64_t after_seq, int64_t *count,
                                     int64_t *oldest_ms)
{
    *count = 0;
    *oldest_ms = 0;
    return conn->backend->count_events(conn, after_seq, count, oldest_ms);
}

enum store_status store_lock_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t *cursor,
                                            bool *locked)
{
    *locked = false;
    return conn->backend->lock_webhook_cursor(conn, webhook, cursor, locked);
}

enum store_status store_set_webhook_cursor(struct store_conn *conn, const char *webhook, int64_t cursor)
{
    return conn->backend->set_webhook_cursor(conn, webhook, cursor);
}

enum store_status store_trim_webhook_backlog(struct store_conn *conn, const char *webhook, int64_t keep,
                                             int64_t *skipped)
{
    *skipped = 0;
    if (keep < 0)
        keep = 0;
    return conn->backend->trim_webhook_backlog(conn, webhook, keep, skipped);
}

enum store_status store_prune_events(struct store_conn *conn, int64_t max, int64_t *deleted)
{
    *deleted = 0;
    if (max <= 0)
        return STORE_OK;
    return conn->backend->prune_events(conn, max, deleted);
}

/* ---- migrate's target ---- */

/* A subscription as another store's dump gave it; one the target already has is a conflict (the
 * caller promised an empty target), as for surveys. */
enum store_status store_import_webhook(struct store_conn *conn, const struct store_webhook_row *row)
{
    bool created = false;
    enum store_status status = store_import_end(conn, true);

    if (status == STORE_OK)
        status = store_put_webhook(conn, row, &created);
    if (status == STORE_OK && !created)
        status = STORE_CONFLICT;
    /* A new subscription starts at the target's newest seq (none yet: the dump gives the events
     * after the subscriptions); it keeps the cursor it had instead, and the target's own events
     * come after it even where the events it passed are gone (pruned, erased) and not imported. */
    if (status == STORE_OK)
        status = store_set_webhook_cursor(conn, row->id, row->cursor);
    if (status == STORE_OK && row->cursor > 0)
        status = conn->backend->event_seq_past(conn, row->cursor);
    return status;
}

/* Every field as it was (state, attempts, leases, payload); seq is the target's own, and since the
 * dump gives deliveries in seq order, their order is kept. */
enum store_status store_import_delivery(struct store_conn *conn, const struct store_delivery_row *row)
{
    enum store_status status = store_import_end(conn, true);

    if (status != STORE_OK)
        return status;
    if (!delivery_complete(row))
        return STORE_ERROR;
    return conn->backend->insert_delivery(conn, row);
}

/* Its seq as it was: subscriptions' cursors (imported as they were) point into the same order. */
enum store_status store_import_event(struct store_conn *conn, const struct store_event_row *row)
{
    enum store_status status = store_import_end(conn, true);

    if (status != STORE_OK)
        return status;
    if (!event_complete(row) || row->seq <= 0)
        return STORE_ERROR;
    return conn->backend->import_event(conn, row);
}
