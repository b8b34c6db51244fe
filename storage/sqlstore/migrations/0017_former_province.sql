-- provex schema, version 17: the pre-merger province a record came from
-- (issue 13).
--
-- Every kind carries former_province ("bac-giang" on a record bac-ninh
-- owns since the merger of 1 July 2025), filterable and a summary
-- dimension, so each table gains an indexed column. Records written before
-- this version have none and keep an empty column; the re-index brings
-- along any that came from a newer peer with the field set (kept as an
-- unknown field until this node was upgraded).
ALTER TABLE information_requests ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX information_requests_former_province ON information_requests (former_province);
ALTER TABLE information_responses ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX information_responses_former_province ON information_responses (former_province);
ALTER TABLE partnerships ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX partnerships_former_province ON partnerships (former_province);
ALTER TABLE agreements ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX agreements_former_province ON agreements (former_province);
ALTER TABLE delegations ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX delegations_former_province ON delegations (former_province);
ALTER TABLE friendship_associations ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX friendship_associations_former_province ON friendship_associations (former_province);
ALTER TABLE border_gates ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX border_gates_former_province ON border_gates (former_province);
ALTER TABLE border_markers ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX border_markers_former_province ON border_markers (former_province);
ALTER TABLE border_incidents ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX border_incidents_former_province ON border_incidents (former_province);
ALTER TABLE incident_acknowledgements ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX incident_acknowledgements_former_province ON incident_acknowledgements (former_province);
ALTER TABLE trade_reports ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX trade_reports_former_province ON trade_reports (former_province);
ALTER TABLE projects ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX projects_former_province ON projects (former_province);
ALTER TABLE promotion_events ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX promotion_events_former_province ON promotion_events (former_province);
ALTER TABLE investor_leads ADD COLUMN former_province TEXT NOT NULL DEFAULT '';
CREATE INDEX investor_leads_former_province ON investor_leads (former_province);

INSERT OR IGNORE INTO reindex (kind) VALUES
  ('partnerships'),
  ('agreements'),
  ('delegations'),
  ('friendship-associations'),
  ('border-gates'),
  ('border-markers'),
  ('border-incidents'),
  ('incident-acknowledgements'),
  ('trade-reports'),
  ('projects'),
  ('promotion-events'),
  ('investor-leads'),
  ('information-requests'),
  ('information-responses');
