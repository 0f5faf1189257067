-- What a session's owner sees of it (GET /api/users/{UserID}/sessions):
-- where and how it logged in. The session's ID is derived from its token
-- hash, never the token.
ALTER TABLE sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT '';

-- A Site Admin may disable a user (bizsec's own): a disabled user cannot
-- log in. last_login_at is when their newest session began.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_login_at BIGINT NOT NULL DEFAULT 0;

-- A user's change of their own email waits for the code mailed to the new
-- address (one at a time per user).
CREATE TABLE email_changes (
    user_id   TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    new_email TEXT NOT NULL,
    code_hash BYTEA NOT NULL,
    issued_at BIGINT NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0
);
