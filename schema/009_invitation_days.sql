-- surveyd schema, version 9: invitation_days, the invitations' rollup, so that a metrics reply's
-- response rate reads O(days x channels x agents) cells rather than every invitation of the window.
-- One row per (survey, day, channel, agent) of the invitations created that day:
--   day:            created_at / 86400000 (truncated, as store_invitation_scan and the responses'
--                   rollups count days);
--   channel, agent: '' when the invitation has none;
--   sent:           outcome 0; suppressed: any other outcome;
--   opened:         sent and (opened_at > 0 or responded_at > 0): a burst of automated visits can
--                   clear opened_at, so this count also goes down;
--   responded:      sent and responded_at > 0.
-- Kept by the triggers below, in the statement (so the transaction) that changes an invitation:
-- every write (insert, the page's updates, erasure, retention, a survey's deletion by the foreign
-- key's cascade, migrate's import) goes through them, and none of the C paths can forget one.
-- A row whose counts all reach 0 is deleted, so the table holds exactly what `surveyd verify`
-- recomputes from the raw rows. An invitation's survey, created_at, channel, agent and outcome
-- never change after its insert (no statement updates them).

CREATE TABLE invitation_days (
    survey     TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    day        INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    agent      TEXT NOT NULL,
    sent       INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    opened     INTEGER NOT NULL,
    responded  INTEGER NOT NULL,
    PRIMARY KEY (survey, day, channel, agent)
) WITHOUT ROWID;

CREATE TRIGGER invitation_days_insert AFTER INSERT ON invitations
BEGIN
    INSERT INTO invitation_days (survey, day, channel, agent, sent, suppressed, opened, responded)
        VALUES (NEW.survey, NEW.created_at / 86400000, coalesce(NEW.channel, ''), coalesce(NEW.agent, ''),
                NEW.outcome = 0, NEW.outcome <> 0,
                NEW.outcome = 0 AND (NEW.opened_at > 0 OR NEW.responded_at > 0),
                NEW.outcome = 0 AND NEW.responded_at > 0)
        ON CONFLICT (survey, day, channel, agent) DO UPDATE SET
            sent = sent + excluded.sent, suppressed = suppressed + excluded.suppressed,
            opened = opened + excluded.opened, responded = responded + excluded.responded;
END;

-- Only when what is counted changes: most updates (a visit's time, captured interactions) do not.
CREATE TRIGGER invitation_days_update AFTER UPDATE OF opened_at, responded_at ON invitations
WHEN NEW.outcome = 0 AND ((OLD.opened_at > 0 OR OLD.responded_at > 0) <> (NEW.opened_at > 0 OR NEW.responded_at > 0)
                          OR (OLD.responded_at > 0) <> (NEW.responded_at > 0))
BEGIN
    UPDATE invitation_days SET
        opened = opened + (NEW.opened_at > 0 OR NEW.responded_at > 0) - (OLD.opened_at > 0 OR OLD.responded_at > 0),
        responded = responded + (NEW.responded_at > 0) - (OLD.responded_at > 0)
    WHERE survey = NEW.survey AND day = NEW.created_at / 86400000 AND channel = coalesce(NEW.channel, '')
      AND agent = coalesce(NEW.agent, '');
END;

-- An UPDATE, not an upsert: under a survey's deletion the cascade may have removed the row first.
CREATE TRIGGER invitation_days_delete AFTER DELETE ON invitations
BEGIN
    UPDATE invitation_days SET
        sent = sent - (OLD.outcome = 0), suppressed = suppressed - (OLD.outcome <> 0),
        opened = opened - (OLD.outcome = 0 AND (OLD.opened_at > 0 OR OLD.responded_at > 0)),
        responded = responded - (OLD.outcome = 0 AND OLD.responded_at > 0)
    WHERE survey = OLD.survey AND day = OLD.created_at / 86400000 AND channel = coalesce(OLD.channel, '')
      AND agent = coalesce(OLD.agent, '');
    DELETE FROM invitation_days
    WHERE survey = OLD.survey AND day = OLD.created_at / 86400000 AND channel = coalesce(OLD.channel, '')
      AND agent = coalesce(OLD.agent, '') AND sent = 0 AND suppressed = 0;
END;

-- Back-fill.
INSERT INTO invitation_days (survey, day, channel, agent, sent, suppressed, opened, responded)
    SELECT survey, created_at / 86400000, coalesce(channel, ''), coalesce(agent, ''),
           sum(outcome = 0), sum(outcome <> 0), sum(outcome = 0 AND (opened_at > 0 OR responded_at > 0)),
           sum(outcome = 0 AND responded_at > 0)
    FROM invitations GROUP BY 1, 2, 3, 4;
