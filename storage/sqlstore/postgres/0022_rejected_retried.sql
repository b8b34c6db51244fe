-- The PostgreSQL counterpart of migrations/0022_rejected_retried.sql.
CREATE TABLE IF NOT EXISTS rejected_retried (
  rules TEXT NOT NULL
);
