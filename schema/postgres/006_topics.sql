-- surveyd PostgreSQL schema: topics (docs/search.md "Topics"), as SQLite's schema/014_topics.sql.
-- A topic is a saved query of the search language; every response whose document matches it is
-- tagged with it in response_topics. The tags are decided in C (server/store/postgres_topics.c,
-- text_query_eval on response_text's document), in the transaction that stores or edits the
-- response, and for the survey's earlier responses in the transaction that creates the topic or
-- changes its query. That transaction first locks the survey's row FOR UPDATE: a response being
-- stored holds a KEY SHARE lock on it (its foreign key) until it commits, so no instance can store a
-- response of the survey while the topics it read are about to change, and none is left untagged.
CREATE TABLE topics (
    survey      text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    id          text COLLATE "C" NOT NULL,
    title       text NOT NULL,
    query       text NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    scanned     bigint NOT NULL DEFAULT 0,
    total       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (survey, id)
);

CREATE TABLE response_topics (
    seq     bigint NOT NULL REFERENCES responses(seq) ON DELETE CASCADE,
    survey  text COLLATE "C" NOT NULL,
    topic   text COLLATE "C" NOT NULL,
    PRIMARY KEY (survey, topic, seq),
    FOREIGN KEY (survey, topic) REFERENCES topics(survey, id) ON DELETE CASCADE
);
CREATE INDEX response_topics_seq ON response_topics (seq);
