-- The PostgreSQL counterpart of migrations/0023_withdrawals_owed.sql.
CREATE TABLE IF NOT EXISTS withdrawals_owed (
  name TEXT COLLATE "C" NOT NULL,
  member TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (name, member)
);
CREATE TABLE IF NOT EXISTS known_members (
  member TEXT COLLATE "C" PRIMARY KEY
);
INSERT INTO known_members (member)
  SELECT member FROM sealed_counts UNION SELECT origin FROM log_verified UNION SELECT origin FROM opened_counts
  ON CONFLICT DO NOTHING;
