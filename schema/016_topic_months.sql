-- surveyd schema, version 16: per-topic month rollups. A year of group_by=topic read ~127 000 day
-- cells at 200 000 responses (5 topics): 51 ms; whole months come from these tables instead, as for
-- the other metrics (schema/006). month: the first day of the UTC month, in days since 1970-01-01.
--
-- Kept from the day tables' own changes (schema/015's triggers write those): every change of a day
-- cell's count moves its month cell by the same amount, so a month cell is always the sum of its
-- days'. Cells grow by an upsert only while their topic exists (a tag is being added) and shrink by
-- an UPDATE: under a topic's or a survey's deletion the cascade may have removed the month cell
-- already, and must not find one made again. Cells that reach 0 are deleted.

CREATE TABLE rollup_topic_answers_month (
    survey   TEXT NOT NULL,
    topic    TEXT NOT NULL,
    month    INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    question TEXT NOT NULL,
    value    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (survey, topic, month, channel, question, value),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE rollup_topic_responses_month (
    survey  TEXT NOT NULL,
    topic   TEXT NOT NULL,
    month   INTEGER NOT NULL,
    channel TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (survey, topic, month, channel),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TRIGGER rollup_topic_answers_month_insert AFTER INSERT ON rollup_topic_answers
BEGIN
    INSERT INTO rollup_topic_answers_month (survey, topic, month, channel, question, value, count)
        VALUES (NEW.survey, NEW.topic, unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400,
                NEW.channel, NEW.question, NEW.value, NEW.count)
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

CREATE TRIGGER rollup_topic_answers_month_grow AFTER UPDATE OF count ON rollup_topic_answers
WHEN NEW.count > OLD.count
BEGIN
    INSERT INTO rollup_topic_answers_month (survey, topic, month, channel, question, value, count)
        VALUES (NEW.survey, NEW.topic, unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400,
                NEW.channel, NEW.question, NEW.value, NEW.count - OLD.count)
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

CREATE TRIGGER rollup_topic_answers_month_shrink AFTER UPDATE OF count ON rollup_topic_answers
WHEN NEW.count < OLD.count
BEGIN
    UPDATE rollup_topic_answers_month SET count = count - (OLD.count - NEW.count)
        WHERE survey = NEW.survey AND topic = NEW.topic
          AND month = unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400
          AND channel = NEW.channel AND question = NEW.question AND value = NEW.value;
    DELETE FROM rollup_topic_answers_month
        WHERE survey = NEW.survey AND topic = NEW.topic
          AND month = unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400
          AND channel = NEW.channel AND question = NEW.question AND value = NEW.value AND count = 0;
END;

CREATE TRIGGER rollup_topic_answers_month_delete AFTER DELETE ON rollup_topic_answers
WHEN OLD.count != 0
BEGIN
    UPDATE rollup_topic_answers_month SET count = count - OLD.count
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND month = unixepoch(OLD.day * 86400, 'unixepoch', 'start of month') / 86400
          AND channel = OLD.channel AND question = OLD.question AND value = OLD.value;
    DELETE FROM rollup_topic_answers_month
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND month = unixepoch(OLD.day * 86400, 'unixepoch', 'start of month') / 86400
          AND channel = OLD.channel AND question = OLD.question AND value = OLD.value AND count = 0;
END;

CREATE TRIGGER rollup_topic_responses_month_insert AFTER INSERT ON rollup_topic_responses
BEGIN
    INSERT INTO rollup_topic_responses_month (survey, topic, month, channel, count)
        VALUES (NEW.survey, NEW.topic, unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400,
                NEW.channel, NEW.count)
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

CREATE TRIGGER rollup_topic_responses_month_grow AFTER UPDATE OF count ON rollup_topic_responses
WHEN NEW.count > OLD.count
BEGIN
    INSERT INTO rollup_topic_responses_month (survey, topic, month, channel, count)
        VALUES (NEW.survey, NEW.topic, unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400,
                NEW.channel, NEW.count - OLD.count)
        ON CONFLICT DO UPDATE SET count = count + excluded.count;
END;

CREATE TRIGGER rollup_topic_responses_month_shrink AFTER UPDATE OF count ON rollup_topic_responses
WHEN NEW.count < OLD.count
BEGIN
    UPDATE rollup_topic_responses_month SET count = count - (OLD.count - NEW.count)
        WHERE survey = NEW.survey AND topic = NEW.topic
          AND month = unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400 AND channel = NEW.channel;
    DELETE FROM rollup_topic_responses_month
        WHERE survey = NEW.survey AND topic = NEW.topic
          AND month = unixepoch(NEW.day * 86400, 'unixepoch', 'start of month') / 86400 AND channel = NEW.channel
          AND count = 0;
END;

CREATE TRIGGER rollup_topic_responses_month_delete AFTER DELETE ON rollup_topic_responses
WHEN OLD.count != 0
BEGIN
    UPDATE rollup_topic_responses_month SET count = count - OLD.count
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND month = unixepoch(OLD.day * 86400, 'unixepoch', 'start of month') / 86400 AND channel = OLD.channel;
    DELETE FROM rollup_topic_responses_month
        WHERE survey = OLD.survey AND topic = OLD.topic
          AND month = unixepoch(OLD.day * 86400, 'unixepoch', 'start of month') / 86400 AND channel = OLD.channel
          AND count = 0;
END;

-- Bring the existing day cells' months in.
INSERT INTO rollup_topic_answers_month (survey, topic, month, channel, question, value, count)
    SELECT survey, topic, unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400, channel, question, value,
           sum(count)
    FROM rollup_topic_answers GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO rollup_topic_responses_month (survey, topic, month, channel, count)
    SELECT survey, topic, unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400, channel, sum(count)
    FROM rollup_topic_responses GROUP BY 1, 2, 3, 4;
