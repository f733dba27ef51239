-- Notifications (issue 11, item 6): what a person is told about a sharing
-- request, shown in the portal and, when an SMTP server is configured,
-- sent by e-mail. One row per (person, kind, request): the periodic scan of
-- deadlines and grant ends may run any number of times, in any number of
-- processes, and still tells each person each thing once.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('request_filed', 'request_decided', 'deadline_near', 'deadline_passed', 'grant_expiring')),
    request_id  INTEGER NOT NULL REFERENCES sharing_requests (id),
    created_at  TEXT NOT NULL,
    read_at     TEXT,
    -- E-mail: sent at, attempts so far, and no new attempt before (a claim
    -- by one sender, or the back-off after a failure).
    emailed_at  TEXT,
    email_tries INTEGER NOT NULL DEFAULT 0,
    email_after TEXT,
    UNIQUE (user_id, kind, request_id)
);
CREATE INDEX notifications_by_user ON notifications (user_id, created_at);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_to_mail ON notifications (created_at) WHERE emailed_at IS NULL;

-- Where a person's notifications are mailed (NULL: the portal only).
ALTER TABLE users ADD COLUMN email TEXT;
