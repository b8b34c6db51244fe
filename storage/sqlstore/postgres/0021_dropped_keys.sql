-- The PostgreSQL counterpart of migrations/0021_dropped_keys.sql.
CREATE TABLE IF NOT EXISTS dropped_keys (
  member TEXT NOT NULL,
  public_key BYTEA NOT NULL,
  PRIMARY KEY (member, public_key)
);
