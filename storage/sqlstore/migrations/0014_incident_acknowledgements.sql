-- provex schema, version 14: acknowledgements of border incidents (issue
-- 13).
--
-- provex.border.v1.IncidentAcknowledgement:
-- provinces/{province}/incident-acknowledgements/{id}, a notified
-- province's record that it has been told of another province's incident.
-- The status views find an incident's acknowledgements by the incident
-- column's index. A new kind: no rows to re-index.
CREATE TABLE IF NOT EXISTS incident_acknowledgements (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  border_incident TEXT NOT NULL DEFAULT '',
  acknowledge_time INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0,
  search_text TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS incident_acknowledgements_province ON incident_acknowledgements (province);
CREATE INDEX IF NOT EXISTS incident_acknowledgements_border_incident ON incident_acknowledgements (border_incident);
CREATE INDEX IF NOT EXISTS incident_acknowledgements_acknowledge_time ON incident_acknowledgements (acknowledge_time);
CREATE INDEX IF NOT EXISTS incident_acknowledgements_create_time ON incident_acknowledgements (create_time);
CREATE INDEX IF NOT EXISTS incident_acknowledgements_update_time ON incident_acknowledgements (update_time);
CREATE INDEX IF NOT EXISTS incident_acknowledgements_delete_time ON incident_acknowledgements (delete_time);
-- Empty: the kind has no fields to search, but every kind has the table.
CREATE TABLE IF NOT EXISTS incident_acknowledgements_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
