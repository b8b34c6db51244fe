-- Reads in the audit trail (package audit): a read record names no
-- change-log entries; names lists the records the call returned, one a
-- line (resource names hold no line breaks).
ALTER TABLE audit ADD COLUMN read INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN names TEXT NOT NULL DEFAULT '';

-- Which read records name a record, so that "who read X" is an index
-- seek, not a scan of every read.
CREATE TABLE audit_names (
  name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (name, seq)
) STRICT, WITHOUT ROWID;
