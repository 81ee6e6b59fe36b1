-- surveyd schema, version 13: which language the full-text index stems for (--text-language,
-- docs/search.md "Stemming"). A store opened with another one re-indexes every document first.
CREATE TABLE text_index_settings (
    language TEXT NOT NULL CHECK (language IN ('none', 'english'))
);
INSERT INTO text_index_settings (language) VALUES ('none');
