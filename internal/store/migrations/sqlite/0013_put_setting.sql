-- PostgreSQL writes settings through a function (0013); SQLite needs nothing.
SELECT 1;
