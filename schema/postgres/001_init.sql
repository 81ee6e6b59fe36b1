-- surveyd PostgreSQL schema, version 1: the final state of the SQLite schema (schema/001..007) in
-- one step, with the conventions of server/store/postgres_internal.h:
--   - the same tables, columns and names; times as bigint milliseconds since the Unix epoch (UTC);
--   - text columns in the "C" collation: ordered and compared bytewise, as SQLite does, whatever
--     the database's locale (survey lists, listing cursors and metrics groups come out in the same
--     order on both backends);
--   - JSON as text, never jsonb: a reply must give back the very bytes that were stored;
--   - a rollup bucket as three columns (is_text, value, value_text), because a choice option spelled
--     "1" or "-1" must never meet the number 1 or the "other" bucket (SQLite does it with an untyped
--     column; PostgreSQL has no such thing);
--   - data_version: one row every write transaction bumps, so that instances sharing the database
--     can tell whether a cached reply is still current.
-- Applied in one transaction under an advisory lock (postgres_schema.c).

CREATE TABLE surveys (
    id          text COLLATE "C" PRIMARY KEY,
    definition  text COLLATE "C" NOT NULL,          -- normalised JSON, defaults filled in
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);

CREATE TABLE responses (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- internal, insertion order
    id           text COLLATE "C" NOT NULL UNIQUE,  -- public, 128 random bits
    survey       text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    submitted_at bigint NOT NULL,
    received_at  bigint NOT NULL,
    channel      text COLLATE "C",
    customer     text COLLATE "C",
    agent        text COLLATE "C",
    interaction  text COLLATE "C",
    answers      text COLLATE "C" NOT NULL,         -- JSON object: question id -> stored value
    properties   text COLLATE "C",                  -- JSON object or NULL
    edit_token_hash       bytea,        -- SHA-256 of the follow-up edit token, 32 bytes
    edit_token_expires_at bigint
);

-- One response per (survey, interaction): a helpdesk that re-sends the same ticket's survey gets 409.
CREATE UNIQUE INDEX responses_interaction ON responses (survey, interaction) WHERE interaction IS NOT NULL;
CREATE INDEX responses_survey_time ON responses (survey, submitted_at, id);
CREATE INDEX responses_customer ON responses (customer, submitted_at, id) WHERE customer IS NOT NULL;

-- Which questions of a survey have stored answers, with how many (see schema/001_init.sql).
CREATE TABLE answered_questions (
    survey   text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    question text COLLATE "C" NOT NULL,
    answers  bigint NOT NULL,
    PRIMARY KEY (survey, question)
);

-- Idempotency-Key records: the exact request body and the reply it got, so a retry replays it.
CREATE TABLE idempotency (
    scope       text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    body        bytea NOT NULL,
    status      integer NOT NULL,
    reply       text COLLATE "C" NOT NULL,
    response_id text COLLATE "C",
    customer    text COLLATE "C",                   -- so erasure can remove a customer's records
    survey      text COLLATE "C",                   -- deleted with this survey; NULL for none
    created_at  bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX idempotency_response ON idempotency (response_id) WHERE response_id IS NOT NULL;
CREATE INDEX idempotency_customer ON idempotency (customer) WHERE customer IS NOT NULL;
CREATE INDEX idempotency_survey ON idempotency (survey) WHERE survey IS NOT NULL;

-- Each question's type, kept in step with surveys.definition by the store on every PUT.
CREATE TABLE survey_questions (
    survey   text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    question text COLLATE "C" NOT NULL,
    type     text COLLATE "C" NOT NULL,
    PRIMARY KEY (survey, question)
);

-- Every stored answer as the histogram bucket it counts in: the one definition of that mapping, as
-- in schema/002_rollups.sql (the writer reads updated and deleted rows' cells through it, `surveyd
-- verify` recomputes the rollups from it, metrics read partial hours through it).
--   nps, csat, ces: the answer; yes_no: 1 yes, 0 no;
--   choice: the option's text (is_text), or -1 for an "other" write-in; text: 0 (answered).
CREATE VIEW answer_facts AS
SELECT r.seq AS seq,
       r.survey AS survey,
       r.submitted_at AS submitted_at,
       r.submitted_at / 86400000 AS day,
       coalesce(r.channel, '') AS channel,
       coalesce(r.agent, '') AS agent,
       a.key COLLATE "C" AS question,
       (t.type = 'choice' AND json_typeof(a.value) = 'string') AS is_text,
       CASE
           WHEN t.type = 'text' THEN 0
           WHEN t.type = 'yes_no' THEN CASE WHEN json_typeof(a.value) = 'boolean' AND a.value::text = 'true'
                                            THEN 1 ELSE 0 END
           WHEN t.type = 'choice' THEN CASE json_typeof(a.value) WHEN 'object' THEN -1 ELSE 0 END
           ELSE (a.value #>> '{}')::numeric::bigint
       END AS value,
       CASE WHEN t.type = 'choice' AND json_typeof(a.value) = 'string' THEN a.value #>> '{}' ELSE '' END
           COLLATE "C" AS value_text
FROM responses AS r
CROSS JOIN LATERAL json_each(r.answers::json) AS a
JOIN survey_questions AS t ON t.survey = r.survey AND t.question = a.key;

-- Answers per survey, UTC day, channel ('' for none), question and bucket.
CREATE TABLE rollup_answers (
    survey     text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day        bigint NOT NULL,         -- days since 1970-01-01, UTC
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,         -- 0 when is_text
    value_text text COLLATE "C" NOT NULL,           -- '' unless is_text
    count      bigint NOT NULL,
    PRIMARY KEY (survey, day, channel, question, is_text, value, value_text)
);

-- The same with the agent ('' for none), keyed by agent first: an agent filter is a range scan.
CREATE TABLE rollup_answers_agent (
    survey     text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    agent      text COLLATE "C" NOT NULL,
    day        bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,
    value_text text COLLATE "C" NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (survey, agent, day, channel, question, is_text, value, value_text)
);

-- Responses per survey, day and channel (skipped = responses - answered).
CREATE TABLE rollup_responses (
    survey  text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day     bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, day, channel)
);

CREATE TABLE rollup_responses_agent (
    survey  text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    agent   text COLLATE "C" NOT NULL,
    day     bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, agent, day, channel)
);

-- Months (the first day of the UTC month, in days since 1970-01-01) and hours (since the epoch):
-- see schema/006_rollup_months_hours.sql.
CREATE TABLE rollup_answers_month (
    survey     text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    month      bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,
    value_text text COLLATE "C" NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (survey, month, channel, question, is_text, value, value_text)
);

CREATE TABLE rollup_responses_month (
    survey  text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    month   bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, month, channel)
);

CREATE TABLE rollup_answers_hour (
    survey     text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    hour       bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,
    value_text text COLLATE "C" NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (survey, hour, channel, question, is_text, value, value_text)
);

CREATE TABLE rollup_responses_hour (
    survey  text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    hour    bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, hour, channel)
);

-- The health row the writer commits to when probing whether the database takes writes again.
CREATE TABLE health (
    id         integer PRIMARY KEY CHECK (id = 1),
    checked_at bigint NOT NULL
);

-- Per survey, bumped by every write transaction that touched the survey's data, in that transaction
-- (store_data_version): a cached reply labelled with an older version may predate a write another
-- instance acknowledged. The row '' counts writes that may touch every survey (erasure,
-- retention), and a survey's version is its row plus that one. The '' row starts at a random
-- number, so versions never repeat across the lifetimes of databases that share a URI (ETags).
CREATE TABLE data_versions (
    survey  text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO data_versions (survey, version) VALUES ('', floor(random() * 1099511627776)::bigint);
