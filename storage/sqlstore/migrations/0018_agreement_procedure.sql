-- provex schema, version 18: the agreement procedure of Law 70/2020
-- (issue 13).
--
-- provex.twinning.v1.AgreementOpinion: the ministry's opinions,
-- provinces/mofa/agreement-opinions/{id}; the overdue views find an
-- agreement's opinions by the agreement column's index.
--
-- Agreements gain consultation.requested_date, filterable, and two indexes
-- the overdue views are answered from without reading every agreement:
-- agreements_consultation_due seeks the agreements still awaiting
-- opinions (consultation_state = REQUESTED) asked on or before a day;
-- agreements_report_due seeks the live unreported ones (delete_time and
-- report_date 0) and yields them in signing order, with the consultation
-- state that says whether they owe a report and the province they are
-- counted by: the overdue reports are counted from it alone. Each gives the rows in
-- the order the view asks, so the planner prefers it to walking every live
-- agreement, with or without statistics. Agreements stored before this version are
-- re-indexed to fill the new column.
CREATE TABLE IF NOT EXISTS agreement_opinions (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  agreement TEXT NOT NULL DEFAULT '',
  position INTEGER NOT NULL DEFAULT 0,
  opinion_date INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0,
  former_province TEXT NOT NULL DEFAULT '',
  search_text TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS agreement_opinions_province ON agreement_opinions (province);
CREATE INDEX IF NOT EXISTS agreement_opinions_agreement ON agreement_opinions (agreement);
CREATE INDEX IF NOT EXISTS agreement_opinions_position ON agreement_opinions (position);
CREATE INDEX IF NOT EXISTS agreement_opinions_opinion_date ON agreement_opinions (opinion_date);
CREATE INDEX IF NOT EXISTS agreement_opinions_create_time ON agreement_opinions (create_time);
CREATE INDEX IF NOT EXISTS agreement_opinions_update_time ON agreement_opinions (update_time);
CREATE INDEX IF NOT EXISTS agreement_opinions_delete_time ON agreement_opinions (delete_time);
CREATE INDEX IF NOT EXISTS agreement_opinions_former_province ON agreement_opinions (former_province);
-- Empty: the kind has no fields to search, but every kind has the table.
CREATE TABLE IF NOT EXISTS agreement_opinions_words (word TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (word, record)) STRICT, WITHOUT ROWID;

ALTER TABLE agreements ADD COLUMN consultation_requested_date INTEGER NOT NULL DEFAULT 0;
CREATE INDEX agreements_consultation_requested_date ON agreements (consultation_requested_date);
CREATE INDEX agreements_consultation_due ON agreements (consultation_state, consultation_requested_date);
CREATE INDEX agreements_report_due ON agreements (delete_time, report_date, signed_date, consultation_state, province);

INSERT OR IGNORE INTO reindex (kind) VALUES ('agreements');
