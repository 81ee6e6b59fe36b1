-- surveyd PostgreSQL schema, version 4: webhooks, as SQLite's schema/010_webhooks.sql (read it for
-- the columns' meaning), with this backend's conventions (001_init.sql): bigint times, text in the
-- "C" collation, JSON as text.
--   state: 0 pending, 1 sending, 2 delivered, 3 dead. Several instances claim from the same outbox
--          with FOR UPDATE SKIP LOCKED (postgres_webhooks.c).
--   backlog: PENDING and SENDING deliveries of the subscription, kept by the triggers below in the
--            statement that changes one. (Since version 5, 005_webhook_events.sql, deliveries are
--            made from the event log by the sender, not at ingest.) An instance adding to a
--            subscription's outbox holds its row's lock until it commits, so other instances' writes to the same outbox wait for it;
--            two transactions that take two subscriptions' rows in opposite orders deadlock, and
--            PostgreSQL ends one of them (a job the writer runs again: STORE_RETRY).
-- Webhook writes change no metrics: they bump no data_versions row.

CREATE TABLE webhooks (
    id               text COLLATE "C" PRIMARY KEY,
    url              text COLLATE "C" NOT NULL,
    events           text COLLATE "C" NOT NULL,
    surveys          text COLLATE "C",
    filter           text COLLATE "C",
    format           text COLLATE "C" NOT NULL,
    secret           text COLLATE "C" NOT NULL,
    old_secret       text COLLATE "C",
    old_secret_until bigint NOT NULL DEFAULT 0,
    disabled_at      bigint NOT NULL DEFAULT 0,
    disabled_reason  text COLLATE "C",
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    backlog          bigint NOT NULL DEFAULT 0
);

CREATE TABLE webhook_deliveries (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- internal, insertion order
    id               text COLLATE "C" NOT NULL UNIQUE,                 -- public, "dlv_..."
    webhook          text COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         text COLLATE "C" NOT NULL,
    type             text COLLATE "C" NOT NULL,
    survey           text COLLATE "C",
    subject          text COLLATE "C",
    customer         text COLLATE "C",
    payload          text COLLATE "C" NOT NULL,
    state            smallint NOT NULL,
    attempts         bigint NOT NULL DEFAULT 0,
    last_status      integer NOT NULL DEFAULT 0,
    last_error       text COLLATE "C",
    created_at       bigint NOT NULL,
    window_start     bigint NOT NULL,
    next_attempt_at  bigint NOT NULL DEFAULT 0,
    lease_until      bigint NOT NULL DEFAULT 0,
    last_attempt_at  bigint NOT NULL DEFAULT 0,
    delivered_at     bigint NOT NULL DEFAULT 0
);

-- The claim and the backlog; the ordering rule; listing (and the foreign key's cascade); erasure;
-- pruning.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook, state, next_attempt_at);
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (webhook, state, created_at);
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (webhook, subject, seq);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook, seq);
CREATE INDEX webhook_deliveries_customer ON webhook_deliveries (customer);
CREATE INDEX webhook_deliveries_prune ON webhook_deliveries (state, created_at);

-- webhooks.backlog: +1 for a delivery that is PENDING or SENDING, -1 when it stops being one (or is
-- deleted: erasure, pruning; a subscription's deletion deletes the row it would change). The WHEN
-- clauses leave out the changes that keep the count (a claim: pending to sending).
CREATE FUNCTION webhook_backlog_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.state IN (0, 1)) THEN
        UPDATE webhooks SET backlog = backlog + 1 WHERE id = NEW.webhook;
    ELSE
        UPDATE webhooks SET backlog = backlog - 1 WHERE id = OLD.webhook;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_backlog_insert AFTER INSERT ON webhook_deliveries
    FOR EACH ROW WHEN (NEW.state IN (0, 1)) EXECUTE FUNCTION webhook_backlog_trigger();
CREATE TRIGGER webhook_backlog_update AFTER UPDATE OF state ON webhook_deliveries
    FOR EACH ROW WHEN ((OLD.state IN (0, 1)) <> (NEW.state IN (0, 1))) EXECUTE FUNCTION webhook_backlog_trigger();
CREATE TRIGGER webhook_backlog_delete AFTER DELETE ON webhook_deliveries
    FOR EACH ROW WHEN (OLD.state IN (0, 1)) EXECUTE FUNCTION webhook_backlog_trigger();
