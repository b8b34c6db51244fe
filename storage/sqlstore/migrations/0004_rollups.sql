-- provex schema, version 4: pre-aggregated summaries (rollups). Their
-- tables and triggers are built from the definitions in rollup.go when the
-- store opens; this table remembers the definition each was built from, so
-- a changed definition is rebuilt and a dropped one removed.
CREATE TABLE rollups (
  name TEXT PRIMARY KEY,
  definition TEXT NOT NULL
) STRICT, WITHOUT ROWID;
