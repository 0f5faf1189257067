-- Second factors beside the emailed code: authenticator apps (totp) and
-- security keys or passkeys (webauthn). secret is sealed under the server
-- key: the TOTP secret, a WebAuthn credential, or, while the factor is not
-- yet confirmed, its enrolment challenge. counter is the last TOTP time
-- step accepted (a step works once) or the WebAuthn sign counter.
CREATE TABLE factors (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret        TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 0,
    counter       BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX factors_user ON factors(user_id);

-- Single-use recovery codes, by their MAC; a new set replaces the old.
CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);
