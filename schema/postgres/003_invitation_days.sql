-- surveyd PostgreSQL schema, version 3: invitation_days, the invitations' rollup (as SQLite's
-- schema/009_invitation_days.sql: one row per survey, creation day (created_at / 86400000), channel
-- and agent ('' when none), with what became of that day's invitations). Kept by the triggers
-- below in the statement that changes an invitation, so every write (insert, the page's updates,
-- erasure, retention, a survey's deletion by the cascade, migrate's import) keeps it exact.
-- Several instances insert at once: the insert adds with INSERT ... ON CONFLICT DO UPDATE (the
-- row's lock serialises them; a deadlock between two batches is retried by the writer, 40P01).
-- A row whose counts all reach 0 is deleted. An invitation's survey, created_at, channel, agent and
-- outcome never change after its insert.

CREATE TABLE invitation_days (
    survey     text COLLATE "C" NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day        bigint NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    agent      text COLLATE "C" NOT NULL,
    sent       bigint NOT NULL,
    suppressed bigint NOT NULL,
    opened     bigint NOT NULL,
    responded  bigint NOT NULL,
    PRIMARY KEY (survey, day, channel, agent)
);

-- What one invitation row counts for, as four 0/1 values.
CREATE FUNCTION invitation_days_add(r invitations, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n_sent      bigint := sign * (r.outcome = 0)::integer;
    n_opened    bigint := sign * (r.outcome = 0 AND (r.opened_at > 0 OR r.responded_at > 0))::integer;
    n_responded bigint := sign * (r.outcome = 0 AND r.responded_at > 0)::integer;
    n_suppressed bigint := sign * (r.outcome <> 0)::integer;
BEGIN
    IF sign > 0 THEN
        INSERT INTO invitation_days AS d (survey, day, channel, agent, sent, suppressed, opened, responded)
            VALUES (r.survey, r.created_at / 86400000, coalesce(r.channel, ''), coalesce(r.agent, ''),
                    n_sent, n_suppressed, n_opened, n_responded)
            ON CONFLICT (survey, day, channel, agent) DO UPDATE SET
                sent = d.sent + EXCLUDED.sent, suppressed = d.suppressed + EXCLUDED.suppressed,
                opened = d.opened + EXCLUDED.opened, responded = d.responded + EXCLUDED.responded;
    ELSE
        -- An UPDATE, not an upsert: under a survey's deletion the cascade may have removed the row.
        UPDATE invitation_days AS d SET sent = d.sent + n_sent, suppressed = d.suppressed + n_suppressed,
                                        opened = d.opened + n_opened, responded = d.responded + n_responded
            WHERE d.survey = r.survey AND d.day = r.created_at / 86400000
              AND d.channel = coalesce(r.channel, '') AND d.agent = coalesce(r.agent, '');
        DELETE FROM invitation_days AS d
            WHERE d.survey = r.survey AND d.day = r.created_at / 86400000
              AND d.channel = coalesce(r.channel, '') AND d.agent = coalesce(r.agent, '')
              AND d.sent = 0 AND d.suppressed = 0;
    END IF;
END $$;

CREATE FUNCTION invitation_days_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM invitation_days_add(NEW, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM invitation_days_add(OLD, -1);
    ELSE
        -- Only opened/responded change (see WHEN below): one row, adjusted by the transitions.
        UPDATE invitation_days AS d SET
            opened = d.opened + (NEW.opened_at > 0 OR NEW.responded_at > 0)::integer
                              - (OLD.opened_at > 0 OR OLD.responded_at > 0)::integer,
            responded = d.responded + (NEW.responded_at > 0)::integer - (OLD.responded_at > 0)::integer
            WHERE d.survey = NEW.survey AND d.day = NEW.created_at / 86400000
              AND d.channel = coalesce(NEW.channel, '') AND d.agent = coalesce(NEW.agent, '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invitation_days_insert AFTER INSERT ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitation_days_trigger();
CREATE TRIGGER invitation_days_delete AFTER DELETE ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitation_days_trigger();
-- Only when what is counted changes: most updates (a visit's time, captured interactions) do not.
CREATE TRIGGER invitation_days_update AFTER UPDATE OF opened_at, responded_at ON invitations
    FOR EACH ROW
    WHEN (NEW.outcome = 0 AND ((OLD.opened_at > 0 OR OLD.responded_at > 0) <> (NEW.opened_at > 0 OR NEW.responded_at > 0)
                               OR (OLD.responded_at > 0) <> (NEW.responded_at > 0)))
    EXECUTE FUNCTION invitation_days_trigger();

-- Back-fill.
INSERT INTO invitation_days (survey, day, channel, agent, sent, suppressed, opened, responded)
    SELECT survey, created_at / 86400000, coalesce(channel, ''), coalesce(agent, ''),
           count(*) FILTER (WHERE outcome = 0), count(*) FILTER (WHERE outcome <> 0),
           count(*) FILTER (WHERE outcome = 0 AND (opened_at > 0 OR responded_at > 0)),
           count(*) FILTER (WHERE outcome = 0 AND responded_at > 0)
    FROM invitations GROUP BY 1, 2, 3, 4;
