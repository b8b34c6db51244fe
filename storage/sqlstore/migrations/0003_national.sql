-- provex schema, version 3: national views (issue 4) total money and counts
-- that were not filterable before, so they get columns (and, as filterable
-- fields, indexes). Rows written before this version get their new columns
-- from their stored records: the store re-indexes the kinds listed in
-- reindex when it opens, then empties it.
CREATE TABLE reindex (
  kind TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;

ALTER TABLE trade_reports ADD COLUMN export_value_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE trade_reports ADD COLUMN export_value_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trade_reports ADD COLUMN import_value_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE trade_reports ADD COLUMN import_value_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trade_reports ADD COLUMN budget_revenue_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE trade_reports ADD COLUMN budget_revenue_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trade_reports ADD COLUMN vehicle_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trade_reports ADD COLUMN passenger_count INTEGER NOT NULL DEFAULT 0;
CREATE INDEX trade_reports_export_value_currency_code ON trade_reports (export_value_currency_code);
CREATE INDEX trade_reports_export_value_units ON trade_reports (export_value_units);
CREATE INDEX trade_reports_import_value_currency_code ON trade_reports (import_value_currency_code);
CREATE INDEX trade_reports_import_value_units ON trade_reports (import_value_units);
CREATE INDEX trade_reports_budget_revenue_currency_code ON trade_reports (budget_revenue_currency_code);
CREATE INDEX trade_reports_budget_revenue_units ON trade_reports (budget_revenue_units);
CREATE INDEX trade_reports_vehicle_count ON trade_reports (vehicle_count);
CREATE INDEX trade_reports_passenger_count ON trade_reports (passenger_count);
INSERT INTO reindex (kind) VALUES ('trade-reports');

ALTER TABLE projects ADD COLUMN disbursed_capital_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN disbursed_capital_units INTEGER NOT NULL DEFAULT 0;
CREATE INDEX projects_disbursed_capital_currency_code ON projects (disbursed_capital_currency_code);
CREATE INDEX projects_disbursed_capital_units ON projects (disbursed_capital_units);
INSERT INTO reindex (kind) VALUES ('projects');

ALTER TABLE promotion_events ADD COLUMN attendee_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE promotion_events ADD COLUMN lead_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE promotion_events ADD COLUMN agreements_signed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE promotion_events ADD COLUMN committed_capital_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE promotion_events ADD COLUMN committed_capital_units INTEGER NOT NULL DEFAULT 0;
CREATE INDEX promotion_events_attendee_count ON promotion_events (attendee_count);
CREATE INDEX promotion_events_lead_count ON promotion_events (lead_count);
CREATE INDEX promotion_events_agreements_signed ON promotion_events (agreements_signed);
CREATE INDEX promotion_events_committed_capital_currency_code ON promotion_events (committed_capital_currency_code);
CREATE INDEX promotion_events_committed_capital_units ON promotion_events (committed_capital_units);
INSERT INTO reindex (kind) VALUES ('promotion-events');

ALTER TABLE investor_leads ADD COLUMN expected_capital_currency_code TEXT NOT NULL DEFAULT '';
ALTER TABLE investor_leads ADD COLUMN expected_capital_units INTEGER NOT NULL DEFAULT 0;
CREATE INDEX investor_leads_expected_capital_currency_code ON investor_leads (expected_capital_currency_code);
CREATE INDEX investor_leads_expected_capital_units ON investor_leads (expected_capital_units);
INSERT INTO reindex (kind) VALUES ('investor-leads');
