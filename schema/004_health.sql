-- surveyd schema, version 4: a one-row table the writer commits to when probing whether the disk
-- takes writes again (after a disk-full or I/O error), so readiness recovers without traffic.
CREATE TABLE health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
