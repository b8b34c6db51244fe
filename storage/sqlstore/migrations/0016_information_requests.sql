-- provex schema, version 16: the ministry's requests for information and
-- the provinces' responses (issue 13).
--
-- provex.national.v1.InformationRequest:
-- provinces/mofa/information-requests/{id}; its provinces are rows of
-- record_elements. provex.national.v1.InformationResponse:
-- provinces/{province}/information-responses/{id}; the status views find a
-- request's responses by the request column's index, and its records are
-- rows of record_elements. New kinds: no rows to re-index. Safe to run
-- again.
CREATE TABLE IF NOT EXISTS information_requests (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  collection TEXT NOT NULL DEFAULT '',
  due_time INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0,
  search_text TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS information_requests_province ON information_requests (province);
CREATE INDEX IF NOT EXISTS information_requests_display_name ON information_requests (display_name);
CREATE INDEX IF NOT EXISTS information_requests_collection ON information_requests (collection);
CREATE INDEX IF NOT EXISTS information_requests_due_time ON information_requests (due_time);
CREATE INDEX IF NOT EXISTS information_requests_create_time ON information_requests (create_time);
CREATE INDEX IF NOT EXISTS information_requests_update_time ON information_requests (update_time);
CREATE INDEX IF NOT EXISTS information_requests_delete_time ON information_requests (delete_time);
CREATE TABLE IF NOT EXISTS information_requests_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS information_responses (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  request TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0,
  search_text TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS information_responses_province ON information_responses (province);
CREATE INDEX IF NOT EXISTS information_responses_request ON information_responses (request);
CREATE INDEX IF NOT EXISTS information_responses_create_time ON information_responses (create_time);
CREATE INDEX IF NOT EXISTS information_responses_update_time ON information_responses (update_time);
CREATE INDEX IF NOT EXISTS information_responses_delete_time ON information_responses (delete_time);
-- Empty: the kind has no fields to search, but every kind has the table.
CREATE TABLE IF NOT EXISTS information_responses_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;
