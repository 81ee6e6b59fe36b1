-- surveyd schema, version 1: survey definitions, responses, idempotency records.
-- Times are integer milliseconds since the Unix epoch (UTC): cheap to compare and index.

CREATE TABLE surveys (
    id          TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,          -- normalised JSON, defaults filled in
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE responses (
    seq          INTEGER PRIMARY KEY,   -- internal, insertion order
    id           TEXT NOT NULL UNIQUE,  -- public, 128 random bits
    survey       TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    submitted_at INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    channel      TEXT,
    customer     TEXT,
    agent        TEXT,
    interaction  TEXT,
    answers      TEXT NOT NULL,         -- JSON object: question id -> stored value
    properties   TEXT                   -- JSON object or NULL
);

-- One response per (survey, interaction): a helpdesk that re-sends the same ticket's survey gets 409.
CREATE UNIQUE INDEX responses_interaction ON responses(survey, interaction)
    WHERE interaction IS NOT NULL;
CREATE INDEX responses_survey_time ON responses(survey, submitted_at, id);
CREATE INDEX responses_customer ON responses(customer) WHERE customer IS NOT NULL;

-- Which questions of a survey have stored answers, with how many: lets a definition replacement
-- refuse to reinterpret answered questions without scanning every response.
CREATE TABLE answered_questions (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answers  INTEGER NOT NULL,
    PRIMARY KEY (survey, question)
) WITHOUT ROWID;

-- Idempotency-Key records: the exact request body and the reply it got, so a retry replays it.
CREATE TABLE idempotency (
    scope       TEXT NOT NULL,          -- e.g. "POST /v1/surveys/support/responses"
    key         TEXT NOT NULL,
    body        BLOB NOT NULL,
    status      INTEGER NOT NULL,
    reply       TEXT NOT NULL,
    response_id TEXT,
    customer    TEXT,                   -- so erasure can remove a customer's records
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency(created_at);
