-- Files uploaded to a business (documentation, WSDLs, images).
CREATE TABLE files (
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content      BYTEA NOT NULL,
    uploaded_at  BIGINT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    PRIMARY KEY (business_id, name)
);
