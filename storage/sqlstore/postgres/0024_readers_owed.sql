-- The PostgreSQL counterpart of migrations/0024_readers_owed.sql.
CREATE TABLE IF NOT EXISTS readers_owed (
  name TEXT COLLATE "C" NOT NULL,
  member TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (name, member)
);
