CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    hostname    TEXT UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE businesses (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    created_at  BIGINT NOT NULL
);

-- One row per business and settings object; doc is the object as JSON.
CREATE TABLE settings (
    business_id TEXT NOT NULL REFERENCES businesses(id),
    kind        TEXT NOT NULL,
    doc         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (business_id, kind)
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE roles (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    role        TEXT NOT NULL,
    PRIMARY KEY (user_id, business_id)
);

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    csrf_hash    BYTEA NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    state        TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed logins by email, known or not, so that an unknown email costs and
-- answers exactly what a wrong password does.
CREATE TABLE login_failures (
    tenant_id    TEXT NOT NULL,
    email        TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, email)
);
