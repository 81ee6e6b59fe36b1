-- surveyd PostgreSQL schema, version 7: the full-text index of open-ended answers (docs/search.md,
-- "PostgreSQL"): SQLite's schema/012_text_index.sql and 013_text_language.sql with this backend's
-- means.
--   text_answers: one row per response whose document (server/domain/response_text.h) has at
--        least one token, keyed by the response's seq; the row goes with its response (ON DELETE
--        CASCADE: delete, survey deletion, erasure, retention). tsv is built in C
--        (server/store/postgres_text.c) from text_fold's tokens (stemmed with --text-language) and
--        their positions, and sent as a tsvector literal: PostgreSQL's parser and dictionaries
--        never see the text, and the text itself is not stored here.
--   text_index_settings: the language the index was built for; NULL: not built yet. Filling it
--        needs every survey's definition parsed in C, which SQL cannot do: the writer of the first
--        surveyd that opens the database builds it, and builds it again when it is started with
--        another --text-language, in one transaction under the migration lock (postgres_text.c
--        pg_text_sync).
CREATE TABLE text_answers (
    seq bigint PRIMARY KEY REFERENCES responses (seq) ON DELETE CASCADE,
    tsv tsvector NOT NULL
);

CREATE INDEX text_answers_tsv ON text_answers USING gin (tsv);

CREATE TABLE text_index_settings (
    id       integer PRIMARY KEY CHECK (id = 1),
    language text CHECK (language IN ('none', 'english'))
);

INSERT INTO text_index_settings (id, language) VALUES (1, NULL);
