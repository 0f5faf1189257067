-- Rate budgets shared by every instance and kept across restarts: one row
-- per key (a client address, an account's failures, an address's mail),
-- holding the GCRA's theoretical arrival time in unix nanoseconds. A row
-- whose time has passed is a full bucket, so pruning deletes it.
CREATE TABLE budgets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
