-- When the factor policy first required a user to enrol an authenticator
-- app or security key: the enrolment grace period counts from it. The
-- row stays when the user enrols, so removing the factor again gives no
-- new grace.
CREATE TABLE factor_enrolment (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    required_since  BIGINT NOT NULL
);
