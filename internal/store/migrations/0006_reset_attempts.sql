-- Wrong answers to a reset's question: the code is void after the 2FA
-- MaxAttempts of them, so a reset cannot be used to guess answers forever.
ALTER TABLE password_resets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
