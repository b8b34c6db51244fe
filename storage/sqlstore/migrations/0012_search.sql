-- provex schema, version 12: text search that ignores case and diacritics
-- (issue 13).
--
-- search_text is a record's searchable fields (resource.Kind.SearchPaths:
-- title, counterpart and partner names) folded by internal/textfold (lower
-- case, no Vietnamese diacritics, đ as d), each field's words between
-- spaces and fields apart (see storage/sqlite/search.go); a search checks it
-- with LIKE. {table}_words holds each distinct word of it with the record's
-- row id, so that a search reads only the rows holding its rarest word
-- rather than every row.
--
-- Not FTS: mattn/go-sqlite3 builds FTS5 only with a build tag that `go test
-- ./...` does not pass, and FTS4's index keeps the words of a deleted row in
-- its segments until they merge, where secure_delete cannot reach them: a
-- record withdrawn from this node must leave no copy in its file. A plain
-- table's deleted cells are overwritten like the rows'.
--
-- Rows written before this version get their text when the store
-- re-indexes the kinds listed below.
ALTER TABLE partnerships ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE partnerships_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE agreements ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE agreements_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE delegations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE delegations_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE friendship_associations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE friendship_associations_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE border_gates ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE border_gates_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE border_markers ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE border_markers_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE border_incidents ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE border_incidents_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE trade_reports ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE trade_reports_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE projects ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE projects_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE promotion_events ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE promotion_events_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
ALTER TABLE investor_leads ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE TABLE investor_leads_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO reindex (kind) VALUES
  ('partnerships'),
  ('agreements'),
  ('delegations'),
  ('friendship-associations'),
  ('border-gates'),
  ('border-markers'),
  ('border-incidents'),
  ('trade-reports'),
  ('projects'),
  ('promotion-events'),
  ('investor-leads');
