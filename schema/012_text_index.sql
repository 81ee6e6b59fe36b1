-- surveyd schema, version 12: the full-text index over text answers and "other" write-ins
-- (docs/search.md). A response's document is its text answers and write-ins in the order they are
-- stored (the definition's order when answered), joined by a newline: server/domain/response_text.c
-- builds the same text in C, and the unit tests hold the two to it.

-- The document of every response (NULL: it has no text). Answered questions never change type or go
-- away (PUT refuses it), so a response's document only changes when its answers do. Answers that
-- are not JSON (a damaged row, which `surveyd verify` reports) have no document rather than making
-- every statement that touches the row fail.
CREATE VIEW response_documents AS
SELECT r.seq AS seq,
       (SELECT group_concat(part, char(10)) FROM (
            SELECT CASE t.type WHEN 'text' THEN a.value ELSE json_extract(a.value, '$.other') END AS part
            FROM json_each(CASE WHEN json_valid(r.answers) THEN r.answers ELSE '{}' END) AS a
            CROSS JOIN survey_questions AS t ON t.survey = r.survey AND t.question = a.key
            WHERE ((t.type = 'text' AND a.type = 'text') OR (t.type = 'choice' AND a.type = 'object'))
            ORDER BY a.id)
        WHERE part IS NOT NULL AND part <> '') AS body
FROM responses AS r;

-- External content: the index holds tokens only; the text stays in responses.answers, read through
-- the view above (FTS5's 'integrity-check' reads it; its 'rebuild' can't read a view, so the index
-- is filled with INSERT ... SELECT from it, as below). The tokenizer is the one the query language
-- folds words for (TEXT_QUERY_FTS5_TOKENIZE).
CREATE VIRTUAL TABLE response_text_index USING fts5(
    body, content = 'response_documents', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2');

-- Changes wait here until the writer commits its batch (sqlite_text_flush): FTS5 writes a new
-- segment at every savepoint, and the writer takes one per request, so feeding it row by row cost
-- pages per response; fed once per batch it writes one segment per commit. Never holds rows
-- between transactions. remove = 1: take body out of the index (the text it was added with).
CREATE TABLE text_pending (
    id     INTEGER PRIMARY KEY,
    seq    INTEGER NOT NULL,
    remove INTEGER NOT NULL,
    body   TEXT NOT NULL
);

CREATE TRIGGER responses_text_insert AFTER INSERT ON responses BEGIN
    INSERT INTO text_pending (seq, remove, body)
        SELECT seq, 0, body FROM response_documents WHERE seq = new.seq AND body IS NOT NULL;
END;
CREATE TRIGGER responses_text_update_old BEFORE UPDATE OF answers ON responses BEGIN
    INSERT INTO text_pending (seq, remove, body)
        SELECT seq, 1, body FROM response_documents WHERE seq = old.seq AND body IS NOT NULL;
END;
CREATE TRIGGER responses_text_update_new AFTER UPDATE OF answers ON responses BEGIN
    INSERT INTO text_pending (seq, remove, body)
        SELECT seq, 0, body FROM response_documents WHERE seq = new.seq AND body IS NOT NULL;
END;
-- BEFORE: the document is read while the row is still there. Also runs for the responses a survey's
-- deletion cascades to.
CREATE TRIGGER responses_text_delete BEFORE DELETE ON responses BEGIN
    INSERT INTO text_pending (seq, remove, body)
        SELECT seq, 1, body FROM response_documents WHERE seq = old.seq AND body IS NOT NULL;
END;

-- Every response stored so far, in this migration's transaction.
INSERT INTO response_text_index (rowid, body)
    SELECT seq, body FROM response_documents WHERE body IS NOT NULL;
