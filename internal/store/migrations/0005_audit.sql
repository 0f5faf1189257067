-- Every settings change: who, when, the version it made, and the object
-- before and after, with secrets masked. Written in the change's transaction.
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    business_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    old_doc     TEXT NOT NULL,
    new_doc     TEXT NOT NULL
);
CREATE INDEX audit_business ON audit (business_id, id);
