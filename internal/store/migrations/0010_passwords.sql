-- A password an administrator set is temporary: the next login must
-- change it (the platform's pending task change.password).
ALTER TABLE users ADD COLUMN password_temporary INTEGER NOT NULL DEFAULT 0;

-- Previous password hashes, newest first by set_at, for the password
-- policy's HistoryCount: a user may not set one of them again.
CREATE TABLE password_history (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash    TEXT NOT NULL,
    set_at  BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, set_at);
