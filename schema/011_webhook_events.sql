-- surveyd schema, version 11: the webhook event log (store.h, "the event log").
-- An event (a response created, updated or deleted, a survey updated, a customer erased) is one
-- narrow row appended in the same transaction as the change that caused it, and only while at least
-- one subscription exists; each subscription reads the log through its own cursor, and the sender
-- turns what it reads into deliveries (schema/010_webhooks.sql's outbox) only as fast as it can
-- send them. Ingest pays for this one row: no read-back, no matching, no rendering, no delivery row
-- with its six indexes and its backlog trigger (docs/benchmarks.md).
--   webhook_events:   seq is the log's order; AUTOINCREMENT on purpose: without it SQLite may hand
--                     out again the rowid of the newest rows once they are deleted (pruning,
--                     erasure), and a reused seq at or below a subscription's cursor would be
--                     passed over, the event lost. id is the event's "msg_..." (every delivery of it
--                     has it); survey, subject and customer as in webhook_deliveries; object is the
--                     JSON of what the event is about when that will be gone by the time it is
--                     prepared (response.deleted, customer.erased), NULL otherwise. customer names
--                     whose data object holds: erasure deletes those rows (the partial index: such
--                     rows are rare, and no other row pays for an index entry).
--   webhooks.cursor:  the seq of the last event prepared (or passed over) for the subscription.
--                     Existing subscriptions start at 0: the log is new and empty.
-- No other index: appending costs the table's own b-tree and, rarely, the customer index. Reads go
-- by seq (the primary key): the events after a cursor, pruning those every cursor has passed.

CREATE TABLE webhook_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    survey     TEXT,
    subject    TEXT,
    customer   TEXT,
    object     TEXT,
    created_at INTEGER NOT NULL
);

CREATE INDEX webhook_events_customer ON webhook_events(customer) WHERE customer IS NOT NULL;

ALTER TABLE webhooks ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0;
