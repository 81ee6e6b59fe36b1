-- surveyd schema, version 8: invitations, the email/SMS links to the hosted survey page
-- (store.h, "invitations"). One row per invitation asked for, suppressed ones included: they are
-- counted (response rates), and a throttled customer's next invitation must know it was suppressed
-- rather than sent.
--   outcome:    0 sent, 1 throttled, 2 sampled out (enum store_invitation_outcome); only a sent one
--               has a token, an expiry and a page;
--   token_hash: SHA-256 of the link's token (32 bytes): the token itself is never stored, so reading
--               the database (or a backup) opens no page. NULL for a suppressed invitation; UNIQUE
--               is also the page's lookup index (NULLs never collide);
--   times:      ms since the epoch, 0 for "not yet" / "none";
--   properties, captured: JSON object text, or NULL.
-- Invitations belong to their survey (deleted with it, like responses) and name their customer
-- (deleted by erasure); retention deletes them by created_at.

CREATE TABLE invitations (
    seq              INTEGER PRIMARY KEY,   -- internal, insertion order
    id               TEXT NOT NULL UNIQUE,  -- public, 128 random bits
    survey           TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    customer         TEXT NOT NULL,
    channel          TEXT,
    agent            TEXT,
    interaction      TEXT,
    properties       TEXT,
    outcome          INTEGER NOT NULL,
    token_hash       BLOB UNIQUE,
    form_key         TEXT,                  -- the page's anti-forgery value, NULL for none
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL DEFAULT 0,
    opened_at        INTEGER NOT NULL DEFAULT 0,
    responded_at     INTEGER NOT NULL DEFAULT 0,
    response_id      TEXT,                  -- NULL until the page recorded an answer
    automated_visits INTEGER NOT NULL DEFAULT 0,
    last_visit_at    INTEGER NOT NULL DEFAULT 0,
    last_visit_value TEXT,
    captured         TEXT
);

-- store_last_contact: the customer's latest invitation to the survey, one index seek.
CREATE INDEX invitations_contact ON invitations(survey, customer, created_at);
-- store_invitation_scan: a survey's invitations created in a window; deleting a survey.
CREATE INDEX invitations_survey_time ON invitations(survey, created_at);
-- Erasure and retention.
CREATE INDEX invitations_customer ON invitations(customer);
CREATE INDEX invitations_created ON invitations(created_at);
