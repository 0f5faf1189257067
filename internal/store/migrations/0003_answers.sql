-- A user's answers to security questions: an argon2id hash, or sealed
-- (AES-GCM) when the tenant sets EncryptChallengeAnswers. Never in clear.
CREATE TABLE user_answers (
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    challenge_code  TEXT NOT NULL,
    answer          TEXT NOT NULL,
    position        INTEGER NOT NULL,
    PRIMARY KEY (user_id, challenge_code)
);

-- An outstanding password reset: the hash of the mailed code, and the
-- question the user was asked.
CREATE TABLE password_resets (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    code_hash       BYTEA NOT NULL,
    issued_at       BIGINT NOT NULL,
    challenge_code  TEXT NOT NULL DEFAULT ''
);
