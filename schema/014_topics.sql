-- surveyd schema, version 14: topics (docs/search.md "Topics"). A topic is a saved query of the
-- search language; every response whose document (response_documents) matches it is tagged with it
-- in response_topics, in the writer's transaction (server/store/sqlite_topics.c evaluates the query
-- in C with text_query_eval, which agrees with FTS5's MATCH). The metrics read the tags for topic=.
CREATE TABLE topics (
    survey      TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    title       TEXT NOT NULL,
    query       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- back-fill progress: responses of the survey looked at, of total, when the query last changed
    scanned     INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (survey, id)
) WITHOUT ROWID;

-- A response's tags go with it (deletion, erasure, retention, a survey's deletion: the cascade from
-- responses) and with their topic (DELETE of the topic, or of its survey).
CREATE TABLE response_topics (
    seq     INTEGER NOT NULL REFERENCES responses(seq) ON DELETE CASCADE,
    survey  TEXT NOT NULL,
    topic   TEXT NOT NULL,
    PRIMARY KEY (survey, topic, seq),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX response_topics_seq ON response_topics(seq);
