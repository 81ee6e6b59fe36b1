-- surveyd PostgreSQL schema, version 5: the webhook event log, as SQLite's
-- schema/011_webhook_events.sql (read it for the columns' meaning), with this backend's conventions
-- (001_init.sql): bigint times, text in the "C" collation, JSON as text.
--   seq: a sequence (bigserial), never reused, so no seq can come back at or below a cursor. Its
--        order is commit order because store_append_event draws it under a transaction-scoped
--        advisory lock of its own (postgres_webhooks.c, EVENT_LOG_LOCK): two instances' logging
--        transactions commit one after the other, and no transaction can commit a seq smaller than
--        one a reader has already seen, so a cursor never passes an event that is still to commit.
--   webhooks.cursor: the seq of the last event prepared (or passed over) for the subscription; an
--        instance preparing for it holds its row (FOR UPDATE SKIP LOCKED) until it commits.
--        Existing subscriptions start at 0: the log is new and empty.
-- Event writes change no metrics: they bump no data_versions row.

CREATE TABLE webhook_events (
    seq        bigserial PRIMARY KEY,
    id         text COLLATE "C" NOT NULL,
    type       text COLLATE "C" NOT NULL,
    survey     text COLLATE "C",
    subject    text COLLATE "C",
    customer   text COLLATE "C",
    object     text COLLATE "C",
    created_at bigint NOT NULL
);

-- Erasure; only the rows that hold a customer's data (response.deleted) pay for an entry.
CREATE INDEX webhook_events_customer ON webhook_events (customer) WHERE customer IS NOT NULL;

ALTER TABLE webhooks ADD COLUMN cursor bigint NOT NULL DEFAULT 0;
