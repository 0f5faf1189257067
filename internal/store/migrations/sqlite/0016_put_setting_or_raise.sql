-- PostgreSQL pipelines settings writes through a function (0016); SQLite needs nothing.
SELECT 1;
