-- provex schema, version 19: organisations, and the projects that name
-- them (issue 13).
--
-- provex.investment.v1.Organization:
-- provinces/{province}/organizations/{id}, a donor, NGO, lender or investor.
-- A project's organizations are rows of record_elements, which need no new
-- column; projects are re-indexed so that any a newer peer sent with the
-- field set (kept as an unknown field until this node was upgraded) get
-- their rows. Safe to run again.
--
-- The runner numbers migrations by their position in the sorted list, so
-- this file is version 18 on a branch without 0018 and 19 once it is there.
CREATE TABLE IF NOT EXISTS organizations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  short_name TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0,
  country TEXT NOT NULL DEFAULT '',
  registration TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0,
  former_province TEXT NOT NULL DEFAULT '',
  search_text TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS organizations_province ON organizations (province);
CREATE INDEX IF NOT EXISTS organizations_display_name ON organizations (display_name);
CREATE INDEX IF NOT EXISTS organizations_short_name ON organizations (short_name);
CREATE INDEX IF NOT EXISTS organizations_kind ON organizations (kind);
CREATE INDEX IF NOT EXISTS organizations_country ON organizations (country);
CREATE INDEX IF NOT EXISTS organizations_registration ON organizations (registration);
CREATE INDEX IF NOT EXISTS organizations_create_time ON organizations (create_time);
CREATE INDEX IF NOT EXISTS organizations_update_time ON organizations (update_time);
CREATE INDEX IF NOT EXISTS organizations_delete_time ON organizations (delete_time);
CREATE INDEX IF NOT EXISTS organizations_former_province ON organizations (former_province);
CREATE TABLE IF NOT EXISTS organizations_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO reindex (kind) VALUES ('projects');
