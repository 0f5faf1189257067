-- A counter bumped by every change that revokes what a server may keep in
-- memory (roles, users) from any process, such as the CLI's; a SQLite
-- server polls it and forgets its cached sessions and roles when it moves.
CREATE TABLE auth_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO auth_changes (id, n) VALUES (1, 0);
