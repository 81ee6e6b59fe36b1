-- surveyd PostgreSQL schema, version 2: invitations, as SQLite's schema/008_invitations.sql (read
-- it for the columns' meaning), with this backend's conventions (001_init.sql): bigint times,
-- bytea for the token's SHA-256, text in the "C" collation, JSON as text.
--   outcome: 0 sent, 1 throttled, 2 sampled out; only a sent invitation has a token_hash (UNIQUE,
--            the page's lookup index; NULLs never collide).
-- Invitation writes bump their survey's data_versions row (postgres_invitations.c), so cached
-- metrics and ETags change on every instance.

CREATE TABLE invitations (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- internal, insertion order
    id               text COLLATE "C" NOT NULL UNIQUE,                 -- public, 128 random bits
    survey           text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    customer         text COLLATE "C" NOT NULL,
    channel          text COLLATE "C",
    agent            text COLLATE "C",
    interaction      text COLLATE "C",
    properties       text COLLATE "C",
    outcome          smallint NOT NULL,
    token_hash       bytea UNIQUE,
    form_key         text COLLATE "C",
    created_at       bigint NOT NULL,
    expires_at       bigint NOT NULL DEFAULT 0,
    opened_at        bigint NOT NULL DEFAULT 0,
    responded_at     bigint NOT NULL DEFAULT 0,
    response_id      text COLLATE "C",
    automated_visits bigint NOT NULL DEFAULT 0,
    last_visit_at    bigint NOT NULL DEFAULT 0,
    last_visit_value text COLLATE "C",
    captured         text COLLATE "C"
);

-- store_last_contact, the scan (and a survey's deletion), erasure, retention.
CREATE INDEX invitations_contact ON invitations (survey, customer, created_at);
CREATE INDEX invitations_survey_time ON invitations (survey, created_at);
CREATE INDEX invitations_customer ON invitations (customer);
CREATE INDEX invitations_created ON invitations (created_at);
