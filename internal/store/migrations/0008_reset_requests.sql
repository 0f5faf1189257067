-- Password reset requests waiting for the mail worker. With AllowUserEnum
-- disabled every request, for a known email or not, is one such row, so
-- the request path does the same work for both; the worker looks the
-- email up, starts the reset and sends the mail after the answer.
CREATE TABLE reset_requests (
    id BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    email        TEXT NOT NULL,
    requested_at BIGINT NOT NULL
);
