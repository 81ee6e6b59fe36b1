-- surveyd schema, version 15: per-topic day rollups and a resumable back-fill (docs/search.md
-- "Topics"). metrics?topic= and group_by=topic read whole days from these tables and only the
-- partial days at a window's edges from raw rows, as the other metrics do (schema/002).
--
-- The tables are kept exact by the triggers below, in plain SQL, from the answer_facts view (the
-- one definition of an answer's bucket): a tag added counts its response's facts once for that
-- topic, a tag removed takes them away, an edit moves them from the old answers to the new ones for
-- each of the response's tags. A response's tags are dropped by a BEFORE DELETE trigger while the
-- response still exists (the foreign key's cascade runs after the row is gone, when answer_facts no
-- longer sees it). Cells whose count reaches 0 are deleted.

-- Answers per survey, topic, UTC day, channel ('' for none), question and bucket (`value` has no
-- declared type, as in rollup_answers: see schema/002).
CREATE TABLE rollup_topic_answers (
    survey   TEXT NOT NULL,
    topic    TEXT NOT NULL,
    day      INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, topic, day, channel, question, value),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Responses per survey, topic, day and channel.
CREATE TABLE rollup_topic_responses (
    survey  TEXT NOT NULL,
    topic   TEXT NOT NULL,
    day     INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, topic, day, channel),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The back-fill's cursor: NULL when the topic's tags are complete; otherwise the responses of the
-- survey with seq <= cursor_seq have been looked at for the topic's current query, up to
-- cursor_end, the survey's last seq when the back-fill started (those stored since its PUT are
-- tagged as they commit). The writer runs the back-fill in batches between other work
-- (server/store/sqlite_topics.c) and resumes from here after a restart. Existing topics are
-- complete (014 back-filled in the PUT's transaction).
ALTER TABLE topics ADD COLUMN cursor_seq INTEGER;
ALTER TABLE topics ADD COLUMN cursor_end INTEGER;

-- A tag added: +1 for each of its response's facts and for the response.
CREATE TRIGGER response_topics_rollup_insert AFTER INSERT ON response_topics
BEGIN
    INSERT INTO rollup_topic_answers (survey, topic, day, channel, question, value, count)
        SELECT NEW.survey, NEW.topic, f.day, f.channel, f.question, f.value, count(*)
        FROM answer_facts AS f WHERE f.seq = NEW.seq
        GROUP BY f.day, f.channel, f.question, f.value
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
    INSERT INTO rollup_topic_responses (survey, topic, day, channel, count)
        SELECT NEW.survey, NEW.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), 1
        FROM responses AS r WHERE r.seq = NEW.seq
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

-- A tag removed: -1 for each of its response's facts and for the response, then the cells that
-- reached 0 go: looked for on the response's own day and channel only (a range of the key; the
-- topic's other cells are never scanned). (When the topic itself is being deleted its cells are
-- already gone: nothing to do.)
CREATE TRIGGER response_topics_rollup_delete AFTER DELETE ON response_topics
BEGIN
    UPDATE rollup_topic_answers SET count = count - f.n
        FROM (SELECT day AS d, channel AS ch, question AS q, value AS v, count(*) AS n
              FROM answer_facts WHERE seq = OLD.seq GROUP BY 1, 2, 3, 4) AS f
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND (day, channel, question, value) = (f.d, f.ch, f.q, f.v);
    UPDATE rollup_topic_responses SET count = count - 1
        FROM (SELECT submitted_at / 86400000 AS d, coalesce(channel, '') AS ch FROM responses
              WHERE seq = OLD.seq) AS r
        WHERE survey = OLD.survey AND topic = OLD.topic AND (day, channel) = (r.d, r.ch);
    DELETE FROM rollup_topic_answers
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND day = (SELECT submitted_at / 86400000 FROM responses WHERE seq = OLD.seq)
          AND channel = (SELECT coalesce(channel, '') FROM responses WHERE seq = OLD.seq) AND count = 0;
    DELETE FROM rollup_topic_responses
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND day = (SELECT submitted_at / 86400000 FROM responses WHERE seq = OLD.seq)
          AND channel = (SELECT coalesce(channel, '') FROM responses WHERE seq = OLD.seq) AND count = 0;
END;

-- A response about to go: its tags go first, while answer_facts still sees its facts.
CREATE TRIGGER responses_topics_delete BEFORE DELETE ON responses
BEGIN
    DELETE FROM response_topics WHERE seq = OLD.seq;
END;

-- An edit: for each of the response's tags, -1 for the old answers' facts (the answer_facts
-- mapping applied to OLD.answers), +1 for the new ones (answer_facts, which sees NEW by now).
-- The response's own cell does not move (its day and channel do not change).
CREATE TRIGGER responses_topics_update AFTER UPDATE OF answers ON responses
WHEN EXISTS (SELECT 1 FROM response_topics WHERE seq = NEW.seq)
BEGIN
    UPDATE rollup_topic_answers SET count = count - f.n
        FROM (SELECT t.topic AS t, a.key AS q,
                     CASE q.type
                         WHEN 'text' THEN 0
                         WHEN 'yes_no' THEN (a.type = 'true')
                         WHEN 'choice' THEN CASE a.type WHEN 'object' THEN -1 ELSE a.value END
                         ELSE a.value
                     END AS v,
                     count(*) AS n
              FROM response_topics AS t
              CROSS JOIN json_each(OLD.answers) AS a
              CROSS JOIN survey_questions AS q ON q.survey = OLD.survey AND q.question = a.key
              WHERE t.seq = OLD.seq
              GROUP BY 1, 2, 3) AS f
        WHERE survey = OLD.survey AND day = OLD.submitted_at / 86400000 AND channel = coalesce(OLD.channel, '')
          AND (topic, question, value) = (f.t, f.q, f.v);
    DELETE FROM rollup_topic_answers
        WHERE survey = OLD.survey AND topic IN (SELECT topic FROM response_topics WHERE seq = OLD.seq)
          AND day = OLD.submitted_at / 86400000 AND channel = coalesce(OLD.channel, '') AND count = 0;
    INSERT INTO rollup_topic_answers (survey, topic, day, channel, question, value, count)
        SELECT t.survey, t.topic, f.day, f.channel, f.question, f.value, count(*)
        FROM response_topics AS t CROSS JOIN answer_facts AS f ON f.seq = t.seq
        WHERE t.seq = NEW.seq
        GROUP BY t.topic, f.day, f.channel, f.question, f.value
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

-- Bring the existing tags' cells in.
INSERT INTO rollup_topic_answers (survey, topic, day, channel, question, value, count)
    SELECT t.survey, t.topic, f.day, f.channel, f.question, f.value, count(*)
    FROM response_topics AS t CROSS JOIN answer_facts AS f ON f.seq = t.seq
    GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO rollup_topic_responses (survey, topic, day, channel, count)
    SELECT t.survey, t.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), count(*)
    FROM response_topics AS t CROSS JOIN responses AS r ON r.seq = t.seq
    GROUP BY 1, 2, 3, 4;
