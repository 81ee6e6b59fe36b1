-- surveyd schema, version 10: webhooks (store.h, "webhooks"): the subscriptions and their outbox.
-- (Since version 11, schema/011_webhook_events.sql: a change appends one row to the event log in its
-- own transaction, and the sender makes the deliveries from the log later, as it has room to send
-- them; these tables are unchanged but for webhooks.cursor. Until then an event became one delivery
-- per matching subscription, inserted in the same transaction as the change that caused it.)
--   webhooks:           one row per subscription; events, surveys (NULL: every survey) and filter
--                       (NULL: none) are JSON text as domain/webhook_spec.h normalised them; the
--                       signing secret is kept in clear (it signs), old_secret signs too until
--                       old_secret_until; disabled_at 0 means enabled (a 410 Gone sets it);
--                       backlog counts its PENDING and SENDING deliveries, kept by the triggers
--                       below in the statement that changes one, so that a backlog that may hold
--                       100 000 rows is known without counting them.
--   webhook_deliveries: one row per (event, subscription). state: 0 pending, 1 sending, 2 delivered,
--                       3 dead (enum store_delivery_state). seq is the order of insertion: claims
--                       take the oldest first, and a delivery waits while an earlier one of the same
--                       subscription and subject (a response id) is pending or sending. customer
--                       names whose data the payload holds (erasure deletes those rows); times are
--                       ms since the epoch, 0 for "none" / "not yet".
-- Deleting a subscription deletes its deliveries (the foreign key); deleting a survey does not (a
-- receiver is still owed them).

CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    surveys          TEXT,
    filter           TEXT,
    format           TEXT NOT NULL,
    secret           TEXT NOT NULL,
    old_secret       TEXT,
    old_secret_until INTEGER NOT NULL DEFAULT 0,
    disabled_at      INTEGER NOT NULL DEFAULT 0,
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    backlog          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY,   -- internal, insertion order
    id               TEXT NOT NULL UNIQUE,  -- public, "dlv_..."
    webhook          TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,         -- "msg_...", the same for every subscription and attempt
    type             TEXT NOT NULL,
    survey           TEXT,
    subject          TEXT,
    customer         TEXT,
    payload          TEXT NOT NULL,
    state            INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    window_start     INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER NOT NULL DEFAULT 0,
    delivered_at     INTEGER NOT NULL DEFAULT 0
);

-- The claim: a subscription's due pending rows, and its expired leases; the backlog's oldest event.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(webhook, state, next_attempt_at);
CREATE INDEX webhook_deliveries_open ON webhook_deliveries(webhook, state, created_at);
-- The ordering rule: an earlier open delivery of the same subscription and subject.
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries(webhook, subject, seq);
-- Listing a subscription's deliveries newest first; deleting a subscription (the foreign key).
CREATE INDEX webhook_deliveries_list ON webhook_deliveries(webhook, seq);
-- Erasure.
CREATE INDEX webhook_deliveries_customer ON webhook_deliveries(customer);
-- Pruning the delivered and dead ones by age.
CREATE INDEX webhook_deliveries_prune ON webhook_deliveries(state, created_at);

-- webhooks.backlog: +1 for a delivery that is PENDING or SENDING, -1 when it stops being one (or is
-- deleted: erasure, pruning, a subscription's deletion).
CREATE TRIGGER webhook_backlog_insert AFTER INSERT ON webhook_deliveries WHEN NEW.state IN (0, 1)
BEGIN
    UPDATE webhooks SET backlog = backlog + 1 WHERE id = NEW.webhook;
END;
CREATE TRIGGER webhook_backlog_delete AFTER DELETE ON webhook_deliveries WHEN OLD.state IN (0, 1)
BEGIN
    UPDATE webhooks SET backlog = backlog - 1 WHERE id = OLD.webhook;
END;
CREATE TRIGGER webhook_backlog_update AFTER UPDATE OF state ON webhook_deliveries
    WHEN (NEW.state IN (0, 1)) <> (OLD.state IN (0, 1))
BEGIN
    UPDATE webhooks SET backlog = backlog + CASE WHEN NEW.state IN (0, 1) THEN 1 ELSE -1 END WHERE id = NEW.webhook;
END;
