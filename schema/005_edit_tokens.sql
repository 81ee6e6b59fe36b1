-- surveyd schema, version 5: follow-up edit tokens. A submission's reply carries a random edit token;
-- only its SHA-256 is stored here, so reading the database (or a backup) grants no follow-up. The
-- token expires with the anonymous follow-up window. Deleting a response (one, a survey's, a
-- customer's erasure, retention) deletes its token through the trigger, whichever path deletes it.
CREATE TABLE edit_tokens (
    response_id TEXT PRIMARY KEY,
    hash        BLOB NOT NULL,          -- SHA-256 of the token, 32 bytes
    expires_at  INTEGER NOT NULL        -- ms since the epoch
) WITHOUT ROWID;

CREATE TRIGGER responses_delete_edit_token AFTER DELETE ON responses BEGIN
    DELETE FROM edit_tokens WHERE response_id = OLD.id;
END;
