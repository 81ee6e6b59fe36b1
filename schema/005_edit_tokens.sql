-- surveyd schema, version 5: follow-up edit tokens. A submission's reply carries a random edit token;
-- only its SHA-256 is stored, beside the response it opens, so reading the database (or a backup)
-- grants no follow-up, and the token goes wherever its response goes (deletion, erasure, retention).
-- The token expires with the anonymous follow-up window. Columns of the response rather than a table
-- of their own: a second random-keyed B-tree insert per response cost ingest about a tenth.
ALTER TABLE responses ADD COLUMN edit_token_hash BLOB;          -- SHA-256 of the token, 32 bytes
ALTER TABLE responses ADD COLUMN edit_token_expires_at INTEGER; -- ms since the epoch
