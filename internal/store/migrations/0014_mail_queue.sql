-- Outgoing mail, written in the request that sends it and delivered by a
-- worker with retries, so it survives a restart. message is the whole
-- message (recipient, subject, body: 2FA and reset codes) sealed under the
-- server key; a row is deleted once sent or given up. next_at is when it
-- is due: a worker that takes a row moves next_at past its lease, so one
-- instance sends it, and a crashed one's rows come due again.
CREATE TABLE mail_queue (
    id          TEXT PRIMARY KEY,
    message     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX mail_queue_due ON mail_queue(next_at);
