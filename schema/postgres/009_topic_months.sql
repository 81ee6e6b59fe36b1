-- surveyd PostgreSQL schema, version 9: per-topic month rollups, as SQLite's schema/016. A year of
-- group_by=topic read ~127 000 day cells at 200 000 responses (5 topics): 290 ms. Whole months
-- come from these tables instead, as for the other metrics (schema/postgres/001's month tables).
-- month: the first day of the UTC month, in days since 1970-01-01.
--
-- They are kept from the day tables' own changes, by the row triggers below: every change of a
-- day cell's count moves its month cell by the same amount, so the month cells are always the sums
-- of their days'. A topic's deletion takes its cells by the foreign key.

CREATE TABLE rollup_topic_answers_month (
    survey     text COLLATE "C" NOT NULL,
    topic      text COLLATE "C" NOT NULL,
    month      bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    question   text COLLATE "C" NOT NULL,
    is_text    boolean NOT NULL,
    value      bigint NOT NULL,
    value_text text COLLATE "C" NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (survey, topic, month, channel, question, is_text, value, value_text),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
);

CREATE TABLE rollup_topic_responses_month (
    survey  text COLLATE "C" NOT NULL,
    topic   text COLLATE "C" NOT NULL,
    month   bigint NOT NULL,
    channel text COLLATE "C" NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (survey, topic, month, channel),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
);

-- The first day of a day's UTC month (the session's TimeZone plays no part: no time zone in it).
CREATE FUNCTION topic_month_of(day bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT (date_trunc('month', (DATE '1970-01-01' + day::int)::timestamp)::date - DATE '1970-01-01')::bigint
$$;

CREATE FUNCTION topic_answers_month_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r rollup_topic_answers := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    delta bigint := CASE TG_OP WHEN 'INSERT' THEN NEW.count WHEN 'DELETE' THEN -OLD.count
                                ELSE NEW.count - OLD.count END;
BEGIN
    IF delta = 0 THEN
        RETURN NULL;
    END IF;
    IF delta > 0 THEN
        INSERT INTO rollup_topic_answers_month AS m (survey, topic, month, channel, question, is_text, value,
                                                     value_text, count)
            VALUES (r.survey, r.topic, topic_month_of(r.day), r.channel, r.question, r.is_text, r.value,
                    r.value_text, delta)
            ON CONFLICT (survey, topic, month, channel, question, is_text, value, value_text)
            DO UPDATE SET count = m.count + EXCLUDED.count;
        RETURN NULL;
    END IF;
    UPDATE rollup_topic_answers_month AS m SET count = m.count + delta
        WHERE (m.survey, m.topic, m.month, m.channel, m.question, m.is_text, m.value, m.value_text)
            = (r.survey, r.topic, topic_month_of(r.day), r.channel, r.question, r.is_text, r.value, r.value_text);
    DELETE FROM rollup_topic_answers_month AS m
        WHERE (m.survey, m.topic, m.month, m.channel, m.question, m.is_text, m.value, m.value_text)
            = (r.survey, r.topic, topic_month_of(r.day), r.channel, r.question, r.is_text, r.value, r.value_text)
          AND m.count = 0;
    RETURN NULL;
END $$;

CREATE FUNCTION topic_responses_month_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r rollup_topic_responses := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    delta bigint := CASE TG_OP WHEN 'INSERT' THEN NEW.count WHEN 'DELETE' THEN -OLD.count
                                ELSE NEW.count - OLD.count END;
BEGIN
    IF delta = 0 THEN
        RETURN NULL;
    END IF;
    IF delta > 0 THEN
        INSERT INTO rollup_topic_responses_month AS m (survey, topic, month, channel, count)
            VALUES (r.survey, r.topic, topic_month_of(r.day), r.channel, delta)
            ON CONFLICT (survey, topic, month, channel) DO UPDATE SET count = m.count + EXCLUDED.count;
        RETURN NULL;
    END IF;
    UPDATE rollup_topic_responses_month AS m SET count = m.count + delta
        WHERE (m.survey, m.topic, m.month, m.channel) = (r.survey, r.topic, topic_month_of(r.day), r.channel);
    DELETE FROM rollup_topic_responses_month AS m
        WHERE (m.survey, m.topic, m.month, m.channel) = (r.survey, r.topic, topic_month_of(r.day), r.channel)
          AND m.count = 0;
    RETURN NULL;
END $$;

-- Cells only grow while their topic exists (a tag is being added). They shrink by an UPDATE, never
-- an upsert: under a topic's or survey's deletion the cascade may already have removed the month
-- cell, and must not find one made again.
CREATE TRIGGER topic_answers_month AFTER INSERT OR UPDATE OF count OR DELETE ON rollup_topic_answers
    FOR EACH ROW EXECUTE FUNCTION topic_answers_month_trigger();
CREATE TRIGGER topic_responses_month AFTER INSERT OR UPDATE OF count OR DELETE ON rollup_topic_responses
    FOR EACH ROW EXECUTE FUNCTION topic_responses_month_trigger();

INSERT INTO rollup_topic_answers_month (survey, topic, month, channel, question, is_text, value, value_text, count)
    SELECT survey, topic, topic_month_of(day), channel, question, is_text, value, value_text, sum(count)
    FROM rollup_topic_answers GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO rollup_topic_responses_month (survey, topic, month, channel, count)
    SELECT survey, topic, topic_month_of(day), channel, sum(count) FROM rollup_topic_responses GROUP BY 1, 2, 3, 4;
