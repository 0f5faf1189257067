-- A pending session waits for its 2FA code; only the code's hash is kept.
ALTER TABLE sessions ADD COLUMN code_hash BYTEA;
ALTER TABLE sessions ADD COLUMN code_issued_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0;

-- When the user last passed 2FA (twofa.once.each.interval).
ALTER TABLE users ADD COLUMN last_twofa_at BIGINT NOT NULL DEFAULT 0;

-- Devices that passed 2FA (twofa.login.new.device), by the hash of their cookie.
CREATE TABLE devices (
    token_hash  BYTEA PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
