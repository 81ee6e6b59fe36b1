-- surveyd PostgreSQL schema, version 8: per-topic day rollups, as SQLite's schema/015 (docs/search.md
-- "Topics"). metrics?topic= and group_by=topic read whole days from these tables and only the
-- partial days at a window's edges from raw rows.
--
-- Kept exact by the statement-level triggers below, from the answer_facts view (the one definition
-- of an answer's bucket), in the statement that adds or removes tags: a tag added counts its
-- response's facts once for that topic, a tag removed takes them away. Unlike SQLite's, these need
-- no trigger on responses: postgres_write.c removes a response's tags before it deletes the
-- response or changes its answers (while answer_facts still sees what they counted), and tags the
-- edited response afresh after. A topic's deletion takes its cells by the foreign key; the tags'
-- trigger then finds nothing to take away. Cells whose count reaches 0 are deleted. Several
-- instances add at once: INSERT ... ON CONFLICT DO UPDATE in key order (a deadlock between two
-- batches is retried by the writer, 40P01).

-- A topic's back-fill in batches after its PUT (postgres_topics.c, pg_topic_backfill), as SQLite's
-- schema/015: the survey's responses with cursor_seq < seq <= cursor_end are still to be looked
-- at; cursor_seq NULL: done (or nothing to do).
ALTER TABLE topics ADD COLUMN cursor_seq bigint, ADD COLUMN cursor_end bigint;

CREATE TABLE rollup_topic_answers (
    survey     text COLLATE "C" NOT NULL,
    topic      text COLLATE "C" NOT NULL,
    day        bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,
    value_text text COLLATE "C" NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (survey, topic, day, channel, question, is_text, value, value_text),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
);

CREATE TABLE rollup_topic_responses (
    survey  text COLLATE "C" NOT NULL,
    topic   text COLLATE "C" NOT NULL,
    day     bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, topic, day, channel),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
);

-- The tags of one statement, +1 (added) or -1 (removed), into the cells.
CREATE FUNCTION topic_rollups_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_topic_answers AS c (survey, topic, day, channel, question, is_text, value, value_text, count)
        SELECT t.survey, t.topic, f.day, f.channel, f.question, f.is_text, f.value, f.value_text, count(*)
        FROM added AS t JOIN answer_facts AS f ON f.seq = t.seq
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT (survey, topic, day, channel, question, is_text, value, value_text)
        DO UPDATE SET count = c.count + EXCLUDED.count;
    INSERT INTO rollup_topic_responses AS c (survey, topic, day, channel, count)
        SELECT t.survey, t.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), count(*)
        FROM added AS t JOIN responses AS r ON r.seq = t.seq
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (survey, topic, day, channel) DO UPDATE SET count = c.count + EXCLUDED.count;
    RETURN NULL;
END $$;

CREATE FUNCTION topic_rollups_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rollup_topic_answers AS c SET count = c.count - f.n
        FROM (SELECT t.survey, t.topic, f.day, f.channel, f.question, f.is_text, f.value, f.value_text,
                     count(*) AS n
              FROM removed AS t JOIN answer_facts AS f ON f.seq = t.seq
              GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) AS f
        WHERE (c.survey, c.topic, c.day, c.channel, c.question, c.is_text, c.value, c.value_text)
            = (f.survey, f.topic, f.day, f.channel, f.question, f.is_text, f.value, f.value_text);
    UPDATE rollup_topic_responses AS c SET count = c.count - f.n
        FROM (SELECT t.survey, t.topic, r.submitted_at / 86400000 AS day, coalesce(r.channel, '') AS channel,
                     count(*) AS n
              FROM removed AS t JOIN responses AS r ON r.seq = t.seq
              GROUP BY 1, 2, 3, 4) AS f
        WHERE (c.survey, c.topic, c.day, c.channel) = (f.survey, f.topic, f.day, f.channel);
    DELETE FROM rollup_topic_answers AS c USING (SELECT DISTINCT survey, topic FROM removed) AS t
        WHERE c.survey = t.survey AND c.topic = t.topic AND c.count = 0;
    DELETE FROM rollup_topic_responses AS c USING (SELECT DISTINCT survey, topic FROM removed) AS t
        WHERE c.survey = t.survey AND c.topic = t.topic AND c.count = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER response_topics_added AFTER INSERT ON response_topics
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION topic_rollups_added();
CREATE TRIGGER response_topics_removed AFTER DELETE ON response_topics
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION topic_rollups_removed();

-- Bring the existing tags' cells in.
INSERT INTO rollup_topic_answers (survey, topic, day, channel, question, is_text, value, value_text, count)
    SELECT t.survey, t.topic, f.day, f.channel, f.question, f.is_text, f.value, f.value_text, count(*)
    FROM response_topics AS t JOIN answer_facts AS f ON f.seq = t.seq
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO rollup_topic_responses (survey, topic, day, channel, count)
    SELECT t.survey, t.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), count(*)
    FROM response_topics AS t JOIN responses AS r ON r.seq = t.seq
    GROUP BY 1, 2, 3, 4;
