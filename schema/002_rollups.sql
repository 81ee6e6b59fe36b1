-- surveyd schema, version 2: per-day histogram rollups, so a metrics query costs the number of
-- (day, channel[, agent], question, value) cells in its window, never the number of responses.

-- Each question's type, kept in step with surveys.definition by the store on every PUT: the view
-- below finds an answer's type with one index lookup instead of searching the definition's JSON.
CREATE TABLE survey_questions (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    type     TEXT NOT NULL,
    PRIMARY KEY (survey, question)
) WITHOUT ROWID;

INSERT INTO survey_questions (survey, question, type)
    SELECT s.id, json_extract(q.value, '$.id'), json_extract(q.value, '$.type')
    FROM surveys AS s, json_each(s.definition, '$.questions') AS q;

-- Every stored answer as the histogram bucket it counts in. This view is the one definition of that
-- mapping: the writer maintains the rollups from it, `surveyd verify` recomputes them from it, and
-- metrics read partial days at a window's edges through it.
--   nps, csat, ces: the answer (0..10, 1..scale); yes_no: 1 yes, 0 no;
--   choice: the option's text, or -1 for an "other" write-in; text: 0 (answered).
CREATE VIEW answer_facts AS
SELECT r.seq AS seq,
       r.survey AS survey,
       r.submitted_at AS submitted_at,
       r.submitted_at / 86400000 AS day,
       coalesce(r.channel, '') AS channel,
       coalesce(r.agent, '') AS agent,
       a.key AS question,
       CASE t.type
           WHEN 'text' THEN 0
           WHEN 'yes_no' THEN (a.type = 'true')
           WHEN 'choice' THEN CASE a.type WHEN 'object' THEN -1 ELSE a.value END
           ELSE a.value
       END AS value
FROM responses AS r
CROSS JOIN json_each(r.answers) AS a
CROSS JOIN survey_questions AS t ON t.survey = r.survey AND t.question = a.key;

-- Answers per survey, UTC day, channel ('' for none), question and bucket. `value` has no declared
-- type on purpose: any type name (even ANY) gives an ordinary table's column an affinity, and NUMERIC
-- affinity would turn a choice option spelled "1" into the number 1, or "-1" into the "other" bucket.
CREATE TABLE rollup_answers (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day      INTEGER NOT NULL,      -- days since 1970-01-01, UTC
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, day, channel, question, value)
) WITHOUT ROWID;

-- The same with the agent ('' for none), keyed by agent first: an agent filter is a range scan.
CREATE TABLE rollup_answers_agent (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    agent    TEXT NOT NULL,
    day      INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, agent, day, channel, question, value)
) WITHOUT ROWID;

-- Responses per survey, day and channel (skipped = responses - answered).
CREATE TABLE rollup_responses (
    survey  TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day     INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, day, channel)
) WITHOUT ROWID;

CREATE TABLE rollup_responses_agent (
    survey  TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    agent   TEXT NOT NULL,
    day     INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, agent, day, channel)
) WITHOUT ROWID;

-- Bring databases made by version 1 up to date.
INSERT INTO rollup_answers (survey, day, channel, question, value, count)
    SELECT survey, day, channel, question, value, count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO rollup_answers_agent (survey, agent, day, channel, question, value, count)
    SELECT survey, agent, day, channel, question, value, count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO rollup_responses (survey, day, channel, count)
    SELECT survey, submitted_at / 86400000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3;
INSERT INTO rollup_responses_agent (survey, agent, day, channel, count)
    SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''), count(*)
    FROM responses GROUP BY 1, 2, 3, 4;
