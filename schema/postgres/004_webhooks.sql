-- surveyd PostgreSQL schema, version 4: webhooks, as SQLite's schema/010_webhooks.sql (read it for
-- the columns' meaning), with this backend's conventions (001_init.sql): bigint times, text in the
-- "C" collation, JSON as text.
--   state: 0 pending, 1 sending, 2 delivered, 3 dead. Several instances claim from the same outbox
--          with FOR UPDATE SKIP LOCKED (postgres_webhooks.c).
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
    updated_at       bigint NOT NULL
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
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (webhook, state, seq);
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (webhook, subject, seq);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook, seq);
CREATE INDEX webhook_deliveries_customer ON webhook_deliveries (customer);
CREATE INDEX webhook_deliveries_prune ON webhook_deliveries (state, created_at);
