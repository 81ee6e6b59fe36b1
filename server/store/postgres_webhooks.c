/* The PostgreSQL backend: webhook subscriptions and their outbox of deliveries (store.h,
 * "webhooks"; schema/postgres/004_webhooks.sql). Each statement as in sqlite_webhooks.c, with
 * PostgreSQL's answer to several instances sharing the outbox: a claim locks the rows it takes
 * (FOR UPDATE SKIP LOCKED), so that two instances never send the same delivery at once. Webhook
 * writes change no metrics: they bump no data version (pg_touch). Erasure and traces are in
 * postgres_write.c; a subscription's deliveries go with it by the foreign key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "postgres_ops.h"

#define WEBHOOK_COLUMNS                                                                                         \
    "id, url, events, surveys, filter, format, secret, old_secret, old_secret_until, disabled_at, disabled_reason," \
    " created_at, updated_at"
/* Every column but seq, in the order an insert binds them ($1 to $18); reads add seq last. */
#define DELIVERY_FIELDS                                                                                            \
    "id, webhook, event_id, type, survey, subject, customer, payload, state, attempts, last_status, last_error," \
    " created_at, window_start, next_attempt_at, lease_until, last_attempt_at, delivered_at"
#define DELIVERY_COLUMNS DELIVERY_FIELDS ", seq"

/* Columns as WEBHOOK_COLUMNS lists them. */
static enum store_status read_webhook(const PGresult *r, int i, struct store_webhook_row *out)
{
    bool whole = true;

    pg_copy_text(r, i, 0, out->id, sizeof out->id);
    out->url = pg_text_whole(r, i, 1, &whole);
    out->events = pg_text_whole(r, i, 2, &whole);
    out->surveys = pg_text_whole(r, i, 3, &whole);
    out->filter = pg_text_whole(r, i, 4, &whole);
    out->format = pg_text_whole(r, i, 5, &whole);
    out->secret = pg_text_whole(r, i, 6, &whole);
    out->old_secret = pg_text_whole(r, i, 7, &whole);
    out->old_secret_until = pg_int(r, i, 8);
    out->disabled_at = pg_int(r, i, 9);
    out->disabled_reason = pg_text_whole(r, i, 10, &whole);
    out->created_at = pg_int(r, i, 11);
    out->updated_at = pg_int(r, i, 12);
    if (!whole || out->url == NULL || out->events == NULL || out->format == NULL || out->secret == NULL) {
        oom_note();
        store_webhook_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* Columns as DELIVERY_COLUMNS lists them. */
static enum store_status read_delivery(const PGresult *r, int i, struct store_delivery_row *out)
{
    bool whole = true;

    pg_copy_text(r, i, 0, out->id, sizeof out->id);
    pg_copy_text(r, i, 1, out->webhook, sizeof out->webhook);
    pg_copy_text(r, i, 2, out->event_id, sizeof out->event_id);
    out->type = pg_text_whole(r, i, 3, &whole);
    out->survey = pg_text_whole(r, i, 4, &whole);
    out->subject = pg_text_whole(r, i, 5, &whole);
    out->customer = pg_text_whole(r, i, 6, &whole);
    out->payload = pg_text_whole(r, i, 7, &whole);
    out->state = (enum store_delivery_state)pg_int(r, i, 8);
    out->attempts = pg_int(r, i, 9);
    out->last_status = (int)pg_int(r, i, 10);
    out->last_error = pg_text_whole(r, i, 11, &whole);
    out->created_at = pg_int(r, i, 12);
    out->window_start = pg_int(r, i, 13);
    out->next_attempt_at = pg_int(r, i, 14);
    out->lease_until = pg_int(r, i, 15);
    out->last_attempt_at = pg_int(r, i, 16);
    out->delivered_at = pg_int(r, i, 17);
    out->seq = pg_int(r, i, 18);
    if (!whole || out->type == NULL || out->payload == NULL) {
        oom_note();
        store_delivery_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* ---- subscriptions ---- */

/* One statement: xmax is 0 on a row this statement inserted, and the id of the updating
 * transaction on one it replaced (ON CONFLICT ... DO UPDATE). Two instances putting the same id at
 * once: the second waits on the first's row lock, then replaces it. */
enum store_status pg_put_webhook(struct store_conn *base, const struct store_webhook_row *row, bool *created)
{
    struct pg_conn *conn = pg_conn_of(base);
    char old_until[24], disabled[24], created_at[24], updated[24];
    const char *values[] = {
        row->id, row->url, row->events, row->surveys, row->filter, row->format, row->secret, row->old_secret,
        pg_int_text(old_until, row->old_secret_until), pg_int_text(disabled, row->disabled_at), row->disabled_reason,
        pg_int_text(created_at, row->created_at), pg_int_text(updated, row->updated_at),
    };
    enum store_status status;
    PGresult *result = pg_query(conn,
                                "INSERT INTO webhooks (" WEBHOOK_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                                " $10, $11, $12, $13) ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
                                " events = EXCLUDED.events, surveys = EXCLUDED.surveys, filter = EXCLUDED.filter,"
                                " format = EXCLUDED.format, secret = EXCLUDED.secret, old_secret = EXCLUDED.old_secret,"
                                " old_secret_until = EXCLUDED.old_secret_until, disabled_at = EXCLUDED.disabled_at,"
                                " disabled_reason = EXCLUDED.disabled_reason, created_at = EXCLUDED.created_at,"
                                " updated_at = EXCLUDED.updated_at RETURNING xmax = 0",
                                13, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_ERROR;
    *created = status == STORE_OK && strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    return status;
}

enum store_status pg_get_webhook(struct store_conn *base, const char *id, struct store_webhook_row *out)
{
    const char *values[] = {id};
    enum store_status status;
    PGresult *result =
        pg_query(pg_conn_of(base), "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = $1", 1, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? read_webhook(result, 0, out) : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

/* Subscriptions are few (an admin makes each): one result holds them all. */
enum store_status pg_list_webhooks(struct store_conn *base,
                                   void (*each)(const struct store_webhook_row *row, void *arg), void *arg)
{
    enum store_status status;
    PGresult *result =
        pg_query(pg_conn_of(base), "SELECT " WEBHOOK_COLUMNS " FROM webhooks ORDER BY id", 0, NULL, &status);

    if (result == NULL)
        return status;
    status = STORE_OK;
    for (int i = 0; i < PQntuples(result) && status == STORE_OK; i++) {
        struct store_webhook_row row = {0};
        if ((status = read_webhook(result, i, &row)) == STORE_OK) {
            each(&row, arg);
            store_webhook_row_free(&row);
        }
    }
    PQclear(result);
    return status;
}

/* Its deliveries go by the foreign key (ON DELETE CASCADE), in the same statement. */
enum store_status pg_delete_webhook(struct store_conn *base, const char *id)
{
    const char *values[] = {id};
    int64_t deleted = 0;
    enum store_status status = pg_exec(pg_conn_of(base), "DELETE FROM webhooks WHERE id = $1", 1, values, &deleted);

    return status == STORE_OK && deleted == 0 ? STORE_NOT_FOUND : status;
}

/* Already disabled: its first time and reason stay (STORE_OK); no such subscription: NOT_FOUND. */
enum store_status pg_disable_webhook(struct store_conn *base, const char *id, int64_t now_ms, const char *reason)
{
    struct pg_conn *conn = pg_conn_of(base);
    char now[24];
    const char *values[] = {id, pg_int_text(now, now_ms), reason};
    enum store_status status;
    PGresult *result = pg_query(conn,
                                "WITH changed AS (UPDATE webhooks SET disabled_at = $2, disabled_reason = $3"
                                " WHERE id = $1 AND disabled_at = 0 RETURNING 1)"
                                " SELECT EXISTS (SELECT 1 FROM changed) OR EXISTS (SELECT 1 FROM webhooks WHERE id = $1)",
                                3, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 && strcmp(PQgetvalue(result, 0, 0), "t") == 0 ? STORE_OK : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

/* ---- deliveries ---- */

/* pg_status_of: a subscription that is gone (foreign key) is STORE_NOT_FOUND, a taken id
 * STORE_CONFLICT, as on SQLite. */
enum store_status pg_insert_delivery(struct store_conn *base, const struct store_delivery_row *row)
{
    char state[24], attempts[24], last_status[24], created[24], window[24], next[24], lease[24], attempted[24],
        delivered[24];
    const char *values[] = {
        row->id, row->webhook, row->event_id, row->type, row->survey, row->subject, row->customer, row->payload,
        pg_int_text(state, (int64_t)row->state), pg_int_text(attempts, row->attempts),
        pg_int_text(last_status, row->last_status), row->last_error, pg_int_text(created, row->created_at),
        pg_int_text(window, row->window_start), pg_int_text(next, row->next_attempt_at),
        pg_int_text(lease, row->lease_until), pg_int_text(attempted, row->last_attempt_at),
        pg_int_text(delivered, row->delivered_at),
    };
    return pg_exec(pg_conn_of(base),
                   "INSERT INTO webhook_deliveries (" DELIVERY_FIELDS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                   " $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                   18, values, NULL);
}

/* Every row of result into a malloc'd array. */
static enum store_status read_all(const PGresult *result, struct store_delivery_row **rows, int *count)
{
    int n = PQntuples(result);
    enum store_status status = STORE_OK;

    if (n == 0)
        return STORE_OK;
    if ((*rows = calloc((size_t)n, sizeof **rows)) == NULL) {
        oom_note();
        return STORE_UNAVAILABLE;
    }
    for (int i = 0; i < n && status == STORE_OK; i++)
        if ((status = read_delivery(result, i, &(*rows)[i])) == STORE_OK)
            *count = i + 1;
    return status;
}

/* The ordering rule: a delivery waits while an earlier one of the same subscription and subject is
 * PENDING or SENDING (a NULL subject equals nothing, so it never waits). */
#define IN_ORDER                                                                                               \
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries AS e WHERE e.webhook = d.webhook AND e.subject = d.subject" \
    " AND e.seq < d.seq AND e.state IN (0, 1))"

/* One statement. Each part picks claimable rows along its own index (due pending ones earliest due
 * first, seq breaking ties; SENDING ones whose lease ran out), at most max of each, and locks
 * them, passing over rows another instance's claim has locked (SKIP LOCKED: claimers never wait
 * on each other); the update marks the max earliest of them SENDING. A part's rows that were
 * locked but not taken stay locked until the transaction ends, unchanged (another claimer passes
 * over them meanwhile). Reading along the due index keeps a claim a few index seeks however long
 * a backlog waits out a receiver's outage.
 *
 * Why the ordering rule holds with several instances claiming at once: say instance A's claim has
 * locked and updated delivery 1 of subject r (not yet committed) and B claims meanwhile. B skips
 * delivery 1 (locked); for delivery 2 of subject r, B's NOT EXISTS reads B's snapshot, where
 * delivery 1 is still PENDING (A's update is not committed), so delivery 2 is excluded too. Once A
 * commits, delivery 1 is SENDING, which excludes delivery 2 as well. And a row B locks after A
 * committed a change to it is checked again on its newest version (READ COMMITTED's recheck of a
 * locked row): a row A made SENDING with a lease in the future no longer qualifies. So a later
 * delivery of a subject is never claimed while an earlier one is open, and no row is claimed by
 * two instances while its lease runs. */
enum store_status pg_claim_deliveries(struct store_conn *base, const char *webhook, int64_t now_ms, int64_t lease_until,
                                      int max, struct store_delivery_row **rows, int *count)
{
    char now[24], lease[24], limit[24];
    const char *values[] = {webhook, pg_int_text(now, now_ms), pg_int_text(lease, lease_until),
                            pg_int_text(limit, max)};
    enum store_status status;

    *rows = NULL;
    *count = 0;
    PGresult *result = pg_query(
        pg_conn_of(base),
        "WITH enabled AS (SELECT 1 FROM webhooks WHERE id = $1 AND disabled_at = 0),"
        " due AS (SELECT d.seq, d.next_attempt_at AS at FROM webhook_deliveries AS d"
        "  WHERE d.webhook = $1 AND d.state = 0 AND d.next_attempt_at <= $2 AND EXISTS (SELECT 1 FROM enabled)"
        "  AND " IN_ORDER " ORDER BY d.next_attempt_at, d.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED),"
        " expired AS (SELECT d.seq, d.lease_until AS at FROM webhook_deliveries AS d"
        "  WHERE d.webhook = $1 AND d.state = 1 AND d.lease_until < $2 AND EXISTS (SELECT 1 FROM enabled)"
        "  AND " IN_ORDER " ORDER BY d.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED),"
        " picked AS (SELECT seq FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS c"
        "  ORDER BY at, seq LIMIT $4)"
        " UPDATE webhook_deliveries SET state = 1, attempts = attempts + 1, lease_until = $3, last_attempt_at = $2"
        " WHERE seq IN (SELECT seq FROM picked)"
        " RETURNING " DELIVERY_COLUMNS,
        4, values, &status);

    if (result == NULL)
        return status;
    status = read_all(result, rows, count);
    PQclear(result);
    return status;
}

enum store_status pg_finish_delivery(struct store_conn *base, const struct store_delivery_outcome *o)
{
    char state[24], last_status[24], attempted[24], next[24], delivered[24];
    const char *values[] = {o->id,
                            pg_int_text(state, (int64_t)o->state),
                            pg_int_text(last_status, o->last_status),
                            o->last_error,
                            pg_int_text(attempted, o->attempted_at),
                            pg_int_text(next, o->next_attempt_at),
                            pg_int_text(delivered, o->delivered_at)};
    int64_t changed = 0;
    enum store_status status = pg_exec(
        pg_conn_of(base),
        "UPDATE webhook_deliveries SET state = $2, last_status = $3, last_error = $4, last_attempt_at = $5,"
        " next_attempt_at = CASE WHEN $2::smallint = 0 THEN $6::bigint ELSE 0 END,"
        " delivered_at = CASE WHEN $2::smallint = 2 THEN $7::bigint ELSE delivered_at END, lease_until = 0,"
        " payload = CASE WHEN type = 'customer.erased' AND $2::smallint IN (2, 3) THEN '{}' ELSE payload END"
        " WHERE id = $1 AND state = 1",
        7, values, &changed);

    return status == STORE_OK && changed == 0 ? STORE_NOT_FOUND : status;
}

enum store_status pg_requeue_sending(struct store_conn *base, int64_t now_ms, int64_t *requeued)
{
    char now[24];
    const char *values[] = {pg_int_text(now, now_ms)};
    return pg_exec(pg_conn_of(base),
                   "UPDATE webhook_deliveries SET state = 0, next_attempt_at = $1, lease_until = 0 WHERE state = 1", 1,
                   values, requeued);
}

enum store_status pg_get_delivery(struct store_conn *base, const char *id, struct store_delivery_row *out)
{
    const char *values[] = {id};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base), "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE id = $1",
                                1, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? read_delivery(result, 0, out) : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

/* A page of the API's listing (limit bounds it); limit -1 (all) is for tools and tests. */
enum store_status pg_list_deliveries(struct store_conn *base, const struct store_delivery_query *query,
                                     void (*each)(const struct store_delivery_row *row, void *arg), void *arg)
{
    char before[24], limit[24], state[24];
    const char *values[] = {query->webhook, pg_int_text(before, query->before_seq),
                            query->limit < 0 ? NULL : pg_int_text(limit, query->limit),
                            query->state ? pg_int_text(state, (int64_t)*query->state) : NULL};
    enum store_status status;
    /* LIMIT NULL is no limit. Two statements, so that each gets the plan of its index. */
    PGresult *result =
        query->state ? pg_query(pg_conn_of(base),
                                "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook = $1 AND state = $4"
                                " AND seq < $2 ORDER BY seq DESC LIMIT $3",
                                4, values, &status)
                     : pg_query(pg_conn_of(base),
                                "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook = $1 AND seq < $2"
                                " ORDER BY seq DESC LIMIT $3",
                                3, values, &status);

    if (result == NULL)
        return status;
    status = STORE_OK;
    for (int i = 0; i < PQntuples(result) && status == STORE_OK; i++) {
        struct store_delivery_row row = {0};
        if ((status = read_delivery(result, i, &row)) == STORE_OK) {
            each(&row, arg);
            store_delivery_row_free(&row);
        }
    }
    PQclear(result);
    return status;
}

/* One statement: the update, and what the row was when it did not apply (SENDING: a conflict;
 * none: not found). */
enum store_status pg_retry_delivery(struct store_conn *base, const char *webhook, const char *id, int64_t now_ms)
{
    char now[24];
    const char *values[] = {webhook, id, pg_int_text(now, now_ms)};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "WITH changed AS (UPDATE webhook_deliveries SET state = 0, next_attempt_at = $3,"
                                " window_start = $3, lease_until = 0 WHERE webhook = $1 AND id = $2 AND state <> 1"
                                " RETURNING 1)"
                                " SELECT EXISTS (SELECT 1 FROM changed),"
                                " EXISTS (SELECT 1 FROM webhook_deliveries WHERE webhook = $1 AND id = $2)",
                                3, values, &status);

    if (result == NULL)
        return status;
    if (PQntuples(result) != 1)
        status = STORE_ERROR;
    else if (strcmp(PQgetvalue(result, 0, 0), "t") == 0)
        status = STORE_OK;
    else
        status = strcmp(PQgetvalue(result, 0, 1), "t") == 0 ? STORE_CONFLICT : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

enum store_status pg_replay_deliveries(struct store_conn *base, const char *webhook, int64_t from_ms, int64_t to_ms,
                                       int64_t now_ms, int64_t *count)
{
    char from[24], to[24], now[24];
    const char *values[] = {webhook, pg_int_text(from, from_ms), pg_int_text(to, to_ms), pg_int_text(now, now_ms)};
    return pg_exec(pg_conn_of(base),
                   "UPDATE webhook_deliveries SET state = 0, next_attempt_at = $4, window_start = $4, lease_until = 0"
                   " WHERE webhook = $1 AND state IN (2, 3) AND created_at >= $2 AND created_at < $3",
                   4, values, count);
}

enum store_status pg_delivery_backlog(struct store_conn *base, const char *webhook, int64_t *depth, int64_t *oldest_ms)
{
    const char *values[] = {webhook};
    enum store_status status;
    /* The count the triggers keep (schema/postgres/004), and the oldest open event in two index
     * seeks; no such subscription: an empty backlog. */
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT backlog, coalesce(LEAST("
                                " (SELECT min(created_at) FROM webhook_deliveries WHERE webhook = $1 AND state = 0),"
                                " (SELECT min(created_at) FROM webhook_deliveries WHERE webhook = $1 AND state = 1)), 0)"
                                " FROM webhooks WHERE id = $1",
                                1, values, &status);

    if (result == NULL)
        return status;
    status = STORE_OK;
    if (PQntuples(result) == 1) {
        *depth = pg_int(result, 0, 0);
        *oldest_ms = pg_int(result, 0, 1);
    }
    PQclear(result);
    return status;
}

/* SKIP LOCKED: two instances pruning at once take different rows instead of waiting on each other. */
enum store_status pg_prune_deliveries(struct store_conn *base, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    char cutoff[24], limit[24];
    const char *values[] = {pg_int_text(cutoff, cutoff_ms), pg_int_text(limit, max)};
    return pg_exec(pg_conn_of(base),
                   "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM webhook_deliveries"
                   " WHERE state IN (2, 3) AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                   2, values, deleted);
}
