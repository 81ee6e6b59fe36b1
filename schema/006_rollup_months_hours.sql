-- surveyd schema, version 6: coarser and finer rollups beside the per-day ones, so a metrics query
-- costs O(months + edge days) cells rather than O(days), and a window's partial-day edges cost
-- O(hours) cells plus the raw rows of at most two partial hours (not of two whole days).
--   month: the first day of the UTC month, in days since 1970-01-01 (so a month cell reads like a
--          day cell dated the 1st: group_by=month and the totals need no translation);
--   hour:  hours since the epoch, UTC (submitted_at / 3600000).
-- Each is the SUM of the finer table's cells (surveyd verify checks that), maintained by the writer
-- in the same flush before COMMIT as the day tables. `value` has no declared type (see 002).
-- None has the agent: agent-keyed month cells were measured to cost the writer 50-100 us per
-- response (every response dirties another page of a table keyed by agent), for 1.5x on
-- group_by=agent and nothing measurable on agent filters at 1 M responses; agent queries read the
-- per-day agent tables.

CREATE TABLE rollup_answers_month (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    month    INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, month, channel, question, value)
) WITHOUT ROWID;

CREATE TABLE rollup_responses_month (
    survey  TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    month   INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, month, channel)
) WITHOUT ROWID;

-- Hours: the edges of RFC 3339 windows (an agent filter still reads raw rows there).
CREATE TABLE rollup_answers_hour (
    survey   TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    hour     INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, hour, channel, question, value)
) WITHOUT ROWID;

CREATE TABLE rollup_responses_hour (
    survey  TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    hour    INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, hour, channel)
) WITHOUT ROWID;

-- Back-fill: months from the day tables (no raw rows read), hours from the raw rows.
INSERT INTO rollup_answers_month (survey, month, channel, question, value, count)
    SELECT survey, unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400, channel, question, value, sum(count)
    FROM rollup_answers GROUP BY 1, 2, 3, 4, 5 HAVING sum(count) != 0;
INSERT INTO rollup_responses_month (survey, month, channel, count)
    SELECT survey, unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400, channel, sum(count)
    FROM rollup_responses GROUP BY 1, 2, 3 HAVING sum(count) != 0;
INSERT INTO rollup_answers_hour (survey, hour, channel, question, value, count)
    SELECT survey, submitted_at / 3600000, channel, question, value, count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO rollup_responses_hour (survey, hour, channel, count)
    SELECT survey, submitted_at / 3600000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3;
