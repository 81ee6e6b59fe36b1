/* The PostgreSQL backend: webhook subscriptions, their outbox of deliveries and the event log they
 * are made from (store.h, "webhooks" and "the event log"; schema/postgres/004_webhooks.sql,
 * 005_webhook_events.sql). Each statement as in sqlite_webhooks.c, with PostgreSQL's answer to
 * several instances sharing the outbox: a claim locks the rows it takes (FOR UPDATE SKIP LOCKED),
 * so that two instances never send the same delivery at once; preparing locks the subscription's
 * row likewise; and the log's seq is drawn under one advisory lock, so that its order is commit
 * order (EVENT_LOG_LOCK). Webhook
 * writes change no metrics: they bump no data version (pg_touch). Erasure and traces are in
 * postgres_write.c; a subscription's deliveries go with it by the foreign key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "postgres_ops.h"

/* Every column a put writes ($1 to $13); reads add the cursor, which only the event log's calls move. */
#define WEBHOOK_FIELDS                                                                                          \
    "id, url, events, surveys, filter, format, secret, old_secret, old_secret_until, disabled_at, disabled_reason," \
    " created_at, updated_at"
#define WEBHOOK_COLUMNS WEBHOOK_FIELDS ", cursor"
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
    out->cursor = pg_int(r, i, 13);
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
 * transaction on one it replaced (ON CONFLICT ... DO UPDATE). A new subscription's cursor is the
 * newest committed event's seq (an index's last entry): it is owed only what happens after it
 * exists; a replaced one keeps its cursor (the update leaves the column alone). Two instances putting the same id at
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
                                "INSERT INTO webhooks (" WEBHOOK_FIELDS ", cursor) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                                " $8, $9, $10, $11, $12, $13, (SELECT coalesce(max(seq), 0) FROM webhook_events))"
                                " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
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

/* ---- the event log ---- */

/* The key of the transaction-scoped advisory lock store_append_event takes before it draws a seq:
 * the bytes of "whevents" as a bigint, a constant every surveyd shares and no other lock of ours
 * uses (the schema's is "surveyd!", postgres_schema.c). Why: a sequence hands out numbers in the
 * order transactions ask, not the order they commit; without the lock, transaction A could draw
 * seq 7 and B seq 8, B commit first, a preparer read 8 and move a cursor to 8, then A commit 7
 * behind that cursor: an event lost. Under the lock, whoever draws a seq holds the lock until it
 * commits or rolls back, so every seq a reader can see was drawn after every committed smaller
 * one, and none can commit below it later. The price: transactions that log events commit one at
 * a time across every instance (each holds the lock from its first event to its commit). */
#define EVENT_LOG_LOCK "8604238647273616499"

#define EVENT_COLUMNS "seq, id, type, survey, subject, customer, object, created_at"

/* Columns as EVENT_COLUMNS lists them. */
static enum store_status read_event(const PGresult *r, int i, struct store_event_row *out)
{
    bool whole = true;

    out->seq = pg_int(r, i, 0);
    pg_copy_text(r, i, 1, out->id, sizeof out->id);
    out->type = pg_text_whole(r, i, 2, &whole);
    out->survey = pg_text_whole(r, i, 3, &whole);
    out->subject = pg_text_whole(r, i, 4, &whole);
    out->customer = pg_text_whole(r, i, 5, &whole);
    out->object = pg_text_whole(r, i, 6, &whole);
    out->created_at = pg_int(r, i, 7);
    if (!whole || out->type == NULL) {
        oom_note();
        store_event_row_free(out);
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* The first column of a one-row result as a number; *found false when it has no row. */
static enum store_status one_int(struct pg_conn *conn, const char *sql, int n, const char *const *values, bool *found,
                                 int64_t *value)
{
    enum store_status status;
    PGresult *result = pg_query(conn, sql, n, values, &status);

    if (result == NULL)
        return status;
    *found = PQntuples(result) == 1;
    if (*found)
        *value = pg_int(result, 0, 0);
    PQclear(result);
    return STORE_OK;
}

enum store_status pg_webhooks_exist(struct store_conn *base, bool *any)
{
    int64_t value = 0;
    bool found = false;
    enum store_status status =
        one_int(pg_conn_of(base), "SELECT EXISTS (SELECT 1 FROM webhooks)::int", 0, NULL, &found, &value);

    *any = status == STORE_OK && found && value != 0;
    return status;
}

/* One prepared statement, one round trip: the lock (EVENT_LOG_LOCK; taking it again in the same
 * transaction costs a look into this backend's own lock table), then the row. The CTE is
 * MATERIALIZED and the insert reads from it, so the lock is taken before the row's seq is drawn
 * (the column's default, evaluated for each row the SELECT yields). Every time, not once per
 * transaction: a lock taken in a savepoint that rolled back (a writer job that failed) may be
 * gone while the transaction goes on. */
enum store_status pg_append_event(struct store_conn *base, const struct store_event_row *row)
{
    char created[24];
    const char *values[] = {row->id,       row->type,   row->survey, row->subject,
                            row->customer, row->object, pg_int_text(created, row->created_at)};
    return pg_exec(pg_conn_of(base),
                   "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(" EVENT_LOG_LOCK "))"
                   " INSERT INTO webhook_events (id, type, survey, subject, customer, object, created_at)"
                   " SELECT $1, $2, $3, $4, $5, $6, $7 FROM locked",
                   7, values, NULL);
}

/* The seq as given, and the sequence moved past it (setval: next is seq + 1) unless it is already
 * further on: migrate imports into an empty target, whose own events must come after these. */
enum store_status pg_import_event(struct store_conn *base, const struct store_event_row *row)
{
    char seq[24], created[24];
    const char *values[] = {pg_int_text(seq, row->seq), row->id,       row->type,
                            row->survey,                row->subject,  row->customer,
                            row->object,                pg_int_text(created, row->created_at)};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "WITH added AS (INSERT INTO webhook_events (" EVENT_COLUMNS ")"
                                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq)"
                                " SELECT setval(pg_get_serial_sequence('webhook_events', 'seq'), added.seq)"
                                " FROM added, webhook_events_seq_seq AS s"
                                " WHERE added.seq > s.last_value OR NOT s.is_called",
                                8, values, &status);

    if (result == NULL)
        return status;
    PQclear(result);
    return STORE_OK;
}

/* setval(n): the next seq is n + 1. A sequence's own row holds where it is (last_value, and
 * is_called: false until the first nextval). */
enum store_status pg_event_seq_past(struct store_conn *base, int64_t seq)
{
    char past[24];
    const char *values[] = {pg_int_text(past, seq)};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT setval(pg_get_serial_sequence('webhook_events', 'seq'), $1)"
                                " FROM webhook_events_seq_seq AS s WHERE $1::bigint > s.last_value OR NOT s.is_called",
                                1, values, &status);

    if (result == NULL)
        return status;
    PQclear(result);
    return STORE_OK;
}

/* A few hundred rows a call at most (the preparer's limit): one result holds them. */
enum store_status pg_list_events(struct store_conn *base, int64_t after_seq, int64_t limit,
                                 void (*each)(const struct store_event_row *row, void *arg), void *arg)
{
    char after[24], max[24];
    const char *values[] = {pg_int_text(after, after_seq), pg_int_text(max, limit)};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT " EVENT_COLUMNS " FROM webhook_events WHERE seq > $1 ORDER BY seq LIMIT $2", 2,
                                values, &status);

    if (result == NULL)
        return status;
    status = STORE_OK;
    for (int i = 0; i < PQntuples(result) && status == STORE_OK; i++) {
        struct store_event_row row = {0};
        if ((status = read_event(result, i, &row)) == STORE_OK) {
            each(&row, arg);
            store_event_row_free(&row);
        }
    }
    PQclear(result);
    return status;
}

enum store_status pg_count_events(struct store_conn *base, int64_t after_seq, int64_t *count, int64_t *oldest_ms)
{
    char after[24];
    const char *values[] = {pg_int_text(after, after_seq)};
    enum store_status status;
    PGresult *result = pg_query(pg_conn_of(base),
                                "SELECT count(*), coalesce((SELECT created_at FROM webhook_events WHERE seq > $1"
                                " ORDER BY seq LIMIT 1), 0) FROM webhook_events WHERE seq > $1",
                                1, values, &status);

    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK) {
        *count = pg_int(result, 0, 0);
        *oldest_ms = pg_int(result, 0, 1);
    }
    PQclear(result);
    return status;
}

/* SKIP LOCKED: another instance preparing for the subscription holds its row, and this one passes
 * instead of waiting. No row then means locked or gone; a plain read (which a row lock does not
 * block) tells which. */
enum store_status pg_lock_webhook_cursor(struct store_conn *base, const char *webhook, int64_t *cursor, bool *locked)
{
    struct pg_conn *conn = pg_conn_of(base);
    const char *values[] = {webhook};
    int64_t value = 0;
    bool found = false;
    enum store_status status =
        one_int(conn, "SELECT cursor FROM webhooks WHERE id = $1 FOR UPDATE SKIP LOCKED", 1, values, &found, &value);

    if (status != STORE_OK)
        return status;
    if (found) {
        *cursor = value;
        *locked = true;
        return STORE_OK;
    }
    if ((status = one_int(conn, "SELECT 1 FROM webhooks WHERE id = $1", 1, values, &found, &value)) != STORE_OK)
        return status;
    *locked = false;
    return found ? STORE_OK : STORE_NOT_FOUND;
}

/* GREATEST is evaluated on the row's newest version (READ COMMITTED rechecks a row it waited for),
 * so two instances' moves leave the larger. */
enum store_status pg_set_webhook_cursor(struct store_conn *base, const char *webhook, int64_t cursor)
{
    char to[24];
    const char *values[] = {webhook, pg_int_text(to, cursor)};
    int64_t changed = 0;
    enum store_status status = pg_exec(pg_conn_of(base), "UPDATE webhooks SET cursor = GREATEST(cursor, $2) WHERE id = $1",
                                       2, values, &changed);

    return status == STORE_OK && changed == 0 ? STORE_NOT_FOUND : status;
}

/* As on SQLite: the cursor and the newest seq first (their difference bounds the events after the
 * cursor), and only a subscription past its cap walks back keep entries from the newest. The
 * subscription's row is taken with SKIP LOCKED: an instance preparing for it now holds it, and that
 * instance trims at its own refresh; this one passes (*skipped 0) rather than wait on it. */
enum store_status pg_trim_webhook_backlog(struct store_conn *base, const char *webhook, int64_t keep, int64_t *skipped)
{
    struct pg_conn *conn = pg_conn_of(base);
    char from[24], keep_text[24], to_text[24];
    int64_t cursor = 0, newest = 0, to = 0;
    bool locked = false, found = false;
    enum store_status status = pg_lock_webhook_cursor(base, webhook, &cursor, &locked);

    if (status != STORE_OK || !locked)
        return status;
    if ((status = one_int(conn, "SELECT coalesce(max(seq), 0) FROM webhook_events", 0, NULL, &found, &newest)) !=
            STORE_OK ||
        newest - cursor <= keep)
        return status;
    const char *values[] = {pg_int_text(from, cursor), pg_int_text(keep_text, keep)};
    status = one_int(conn, "SELECT seq FROM webhook_events WHERE seq > $1 ORDER BY seq DESC LIMIT 1 OFFSET $2", 2,
                     values, &found, &to);
    if (status != STORE_OK || !found)
        return status;
    const char *range[] = {from, pg_int_text(to_text, to)};
    status = one_int(conn, "SELECT count(*) FROM webhook_events WHERE seq > $1 AND seq <= $2", 2, range, &found,
                     skipped);
    return status == STORE_OK ? pg_set_webhook_cursor(base, webhook, to) : status;
}

/* SKIP LOCKED as for deliveries: two instances pruning at once take different rows. */
enum store_status pg_prune_events(struct store_conn *base, int64_t max, int64_t *deleted)
{
    char limit[24];
    const char *values[] = {pg_int_text(limit, max)};
    return pg_exec(pg_conn_of(base),
                   "DELETE FROM webhook_events WHERE seq IN (SELECT seq FROM webhook_events"
                   " WHERE seq <= (SELECT coalesce(min(cursor), 9223372036854775807) FROM webhooks)"
                   " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)",
                   1, values, deleted);
}
