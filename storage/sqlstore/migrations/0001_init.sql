-- provex schema, version 1.
--
-- Every record kind has its own table: the full record as deterministic
-- protobuf bytes (data) plus one indexed column per filterable field, so
-- List filters and order_by run on indexes. Repeated filterable fields live
-- in record_values. Each write also appends to changes, the node's
-- hash-chained change log, in the same transaction.
--
-- Indexes are on the column alone, which SQLite extends with the row id:
-- new rows append at the end of their value's range instead of landing at
-- scattered places, so a batch of writes dirties few pages. The row id is
-- the arrival order on this node: List's default order and tie-breaker.

-- The change log of every origin this node holds: its own writes and, once
-- synced, other members'. (origin, seq) is consecutive per origin.
CREATE TABLE changes (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hlc INTEGER NOT NULL,
  name TEXT NOT NULL,
  data BLOB NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;

-- Idempotency keys of Create: a retried request returns the record it made.
CREATE TABLE request_ids (
  request_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hlc INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Elements of repeated filterable fields, for the ':' (has) operator.
-- kind is the collection, record the id in that collection's table.
CREATE TABLE record_values (
  kind TEXT NOT NULL,
  field TEXT NOT NULL,
  value TEXT NOT NULL,
  record INTEGER NOT NULL,
  PRIMARY KEY (kind, field, value, record)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_values_record ON record_values (kind, record);

-- provex.twinning.v1.Partnership: provinces/{province}/partnerships/{id}
CREATE TABLE partnerships (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  partner_country_code TEXT NOT NULL DEFAULT '',
  local_unit_level INTEGER NOT NULL DEFAULT 0,
  established_date INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX partnerships_province ON partnerships (province);
CREATE INDEX partnerships_display_name ON partnerships (display_name);
CREATE INDEX partnerships_kind ON partnerships (kind);
CREATE INDEX partnerships_state ON partnerships (state);
CREATE INDEX partnerships_partner_country_code ON partnerships (partner_country_code);
CREATE INDEX partnerships_local_unit_level ON partnerships (local_unit_level);
CREATE INDEX partnerships_established_date ON partnerships (established_date);
CREATE INDEX partnerships_create_time ON partnerships (create_time);
CREATE INDEX partnerships_update_time ON partnerships (update_time);
CREATE INDEX partnerships_delete_time ON partnerships (delete_time);

-- provex.twinning.v1.Agreement: provinces/{province}/agreements/{id}
CREATE TABLE agreements (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  signed_date INTEGER NOT NULL DEFAULT 0,
  effective_date INTEGER NOT NULL DEFAULT 0,
  expiry_date INTEGER NOT NULL DEFAULT 0,
  consultation_state INTEGER NOT NULL DEFAULT 0,
  report_date INTEGER NOT NULL DEFAULT 0,
  partnership TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX agreements_province ON agreements (province);
CREATE INDEX agreements_display_name ON agreements (display_name);
CREATE INDEX agreements_kind ON agreements (kind);
CREATE INDEX agreements_state ON agreements (state);
CREATE INDEX agreements_signed_date ON agreements (signed_date);
CREATE INDEX agreements_effective_date ON agreements (effective_date);
CREATE INDEX agreements_expiry_date ON agreements (expiry_date);
CREATE INDEX agreements_consultation_state ON agreements (consultation_state);
CREATE INDEX agreements_report_date ON agreements (report_date);
CREATE INDEX agreements_partnership ON agreements (partnership);
CREATE INDEX agreements_create_time ON agreements (create_time);
CREATE INDEX agreements_update_time ON agreements (update_time);
CREATE INDEX agreements_delete_time ON agreements (delete_time);

-- provex.twinning.v1.Delegation: provinces/{province}/delegations/{id}
CREATE TABLE delegations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  direction INTEGER NOT NULL DEFAULT 0,
  level INTEGER NOT NULL DEFAULT 0,
  start_date INTEGER NOT NULL DEFAULT 0,
  end_date INTEGER NOT NULL DEFAULT 0,
  member_count INTEGER NOT NULL DEFAULT 0,
  foreigner_count INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX delegations_province ON delegations (province);
CREATE INDEX delegations_display_name ON delegations (display_name);
CREATE INDEX delegations_direction ON delegations (direction);
CREATE INDEX delegations_level ON delegations (level);
CREATE INDEX delegations_start_date ON delegations (start_date);
CREATE INDEX delegations_end_date ON delegations (end_date);
CREATE INDEX delegations_member_count ON delegations (member_count);
CREATE INDEX delegations_foreigner_count ON delegations (foreigner_count);
CREATE INDEX delegations_create_time ON delegations (create_time);
CREATE INDEX delegations_update_time ON delegations (update_time);
CREATE INDEX delegations_delete_time ON delegations (delete_time);

-- provex.twinning.v1.FriendshipAssociation: provinces/{province}/friendship-associations/{id}
CREATE TABLE friendship_associations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  partner_country TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL DEFAULT 0,
  founded_date INTEGER NOT NULL DEFAULT 0,
  member_count INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX friendship_associations_province ON friendship_associations (province);
CREATE INDEX friendship_associations_display_name ON friendship_associations (display_name);
CREATE INDEX friendship_associations_partner_country ON friendship_associations (partner_country);
CREATE INDEX friendship_associations_state ON friendship_associations (state);
CREATE INDEX friendship_associations_founded_date ON friendship_associations (founded_date);
CREATE INDEX friendship_associations_member_count ON friendship_associations (member_count);
CREATE INDEX friendship_associations_create_time ON friendship_associations (create_time);
CREATE INDEX friendship_associations_update_time ON friendship_associations (update_time);
CREATE INDEX friendship_associations_delete_time ON friendship_associations (delete_time);

-- provex.border.v1.BorderGate: provinces/{province}/border-gates/{id}
CREATE TABLE border_gates (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  neighbour_country TEXT NOT NULL DEFAULT '',
  level INTEGER NOT NULL DEFAULT 0,
  counterpart_level INTEGER NOT NULL DEFAULT 0,
  transport INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  opened_date INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX border_gates_province ON border_gates (province);
CREATE INDEX border_gates_display_name ON border_gates (display_name);
CREATE INDEX border_gates_neighbour_country ON border_gates (neighbour_country);
CREATE INDEX border_gates_level ON border_gates (level);
CREATE INDEX border_gates_counterpart_level ON border_gates (counterpart_level);
CREATE INDEX border_gates_transport ON border_gates (transport);
CREATE INDEX border_gates_state ON border_gates (state);
CREATE INDEX border_gates_opened_date ON border_gates (opened_date);
CREATE INDEX border_gates_create_time ON border_gates (create_time);
CREATE INDEX border_gates_update_time ON border_gates (update_time);
CREATE INDEX border_gates_delete_time ON border_gates (delete_time);

-- provex.border.v1.BorderMarker: provinces/{province}/border-markers/{id}
CREATE TABLE border_markers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  number TEXT NOT NULL DEFAULT '',
  neighbour_country TEXT NOT NULL DEFAULT '',
  type INTEGER NOT NULL DEFAULT 0,
  condition INTEGER NOT NULL DEFAULT 0,
  repair_state INTEGER NOT NULL DEFAULT 0,
  last_inspected_date INTEGER NOT NULL DEFAULT 0,
  border_gate TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX border_markers_province ON border_markers (province);
CREATE INDEX border_markers_number ON border_markers (number);
CREATE INDEX border_markers_neighbour_country ON border_markers (neighbour_country);
CREATE INDEX border_markers_type ON border_markers (type);
CREATE INDEX border_markers_condition ON border_markers (condition);
CREATE INDEX border_markers_repair_state ON border_markers (repair_state);
CREATE INDEX border_markers_last_inspected_date ON border_markers (last_inspected_date);
CREATE INDEX border_markers_border_gate ON border_markers (border_gate);
CREATE INDEX border_markers_create_time ON border_markers (create_time);
CREATE INDEX border_markers_update_time ON border_markers (update_time);
CREATE INDEX border_markers_delete_time ON border_markers (delete_time);

-- provex.border.v1.BorderIncident: provinces/{province}/border-incidents/{id}
CREATE TABLE border_incidents (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  category INTEGER NOT NULL DEFAULT 0,
  severity INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  occur_time INTEGER NOT NULL DEFAULT 0,
  resolve_time INTEGER NOT NULL DEFAULT 0,
  neighbour_country TEXT NOT NULL DEFAULT '',
  border_gate TEXT NOT NULL DEFAULT '',
  border_marker TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX border_incidents_province ON border_incidents (province);
CREATE INDEX border_incidents_display_name ON border_incidents (display_name);
CREATE INDEX border_incidents_category ON border_incidents (category);
CREATE INDEX border_incidents_severity ON border_incidents (severity);
CREATE INDEX border_incidents_state ON border_incidents (state);
CREATE INDEX border_incidents_occur_time ON border_incidents (occur_time);
CREATE INDEX border_incidents_resolve_time ON border_incidents (resolve_time);
CREATE INDEX border_incidents_neighbour_country ON border_incidents (neighbour_country);
CREATE INDEX border_incidents_border_gate ON border_incidents (border_gate);
CREATE INDEX border_incidents_border_marker ON border_incidents (border_marker);
CREATE INDEX border_incidents_create_time ON border_incidents (create_time);
CREATE INDEX border_incidents_update_time ON border_incidents (update_time);
CREATE INDEX border_incidents_delete_time ON border_incidents (delete_time);

-- provex.border.v1.TradeReport: provinces/{province}/trade-reports/{id}
CREATE TABLE trade_reports (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  border_gate TEXT NOT NULL DEFAULT '',
  period_kind INTEGER NOT NULL DEFAULT 0,
  period_start INTEGER NOT NULL DEFAULT 0,
  period_end INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX trade_reports_province ON trade_reports (province);
CREATE INDEX trade_reports_border_gate ON trade_reports (border_gate);
CREATE INDEX trade_reports_period_kind ON trade_reports (period_kind);
CREATE INDEX trade_reports_period_start ON trade_reports (period_start);
CREATE INDEX trade_reports_period_end ON trade_reports (period_end);
CREATE INDEX trade_reports_create_time ON trade_reports (create_time);
CREATE INDEX trade_reports_update_time ON trade_reports (update_time);
CREATE INDEX trade_reports_delete_time ON trade_reports (delete_time);

-- provex.investment.v1.Project: provinces/{province}/projects/{id}
CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  sector INTEGER NOT NULL DEFAULT 0,
  investor TEXT NOT NULL DEFAULT '',
  investor_country TEXT NOT NULL DEFAULT '',
  approved_date INTEGER NOT NULL DEFAULT 0,
  completed_date INTEGER NOT NULL DEFAULT 0,
  registered_capital_currency_code TEXT NOT NULL DEFAULT '',
  registered_capital_units INTEGER NOT NULL DEFAULT 0,
  investor_lead TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX projects_province ON projects (province);
CREATE INDEX projects_display_name ON projects (display_name);
CREATE INDEX projects_kind ON projects (kind);
CREATE INDEX projects_state ON projects (state);
CREATE INDEX projects_sector ON projects (sector);
CREATE INDEX projects_investor ON projects (investor);
CREATE INDEX projects_investor_country ON projects (investor_country);
CREATE INDEX projects_approved_date ON projects (approved_date);
CREATE INDEX projects_completed_date ON projects (completed_date);
CREATE INDEX projects_registered_capital_currency_code ON projects (registered_capital_currency_code);
CREATE INDEX projects_registered_capital_units ON projects (registered_capital_units);
CREATE INDEX projects_investor_lead ON projects (investor_lead);
CREATE INDEX projects_create_time ON projects (create_time);
CREATE INDEX projects_update_time ON projects (update_time);
CREATE INDEX projects_delete_time ON projects (delete_time);

-- provex.investment.v1.PromotionEvent: provinces/{province}/promotion-events/{id}
CREATE TABLE promotion_events (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0,
  start_date INTEGER NOT NULL DEFAULT 0,
  host_country TEXT NOT NULL DEFAULT '',
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX promotion_events_province ON promotion_events (province);
CREATE INDEX promotion_events_display_name ON promotion_events (display_name);
CREATE INDEX promotion_events_kind ON promotion_events (kind);
CREATE INDEX promotion_events_start_date ON promotion_events (start_date);
CREATE INDEX promotion_events_host_country ON promotion_events (host_country);
CREATE INDEX promotion_events_create_time ON promotion_events (create_time);
CREATE INDEX promotion_events_update_time ON promotion_events (update_time);
CREATE INDEX promotion_events_delete_time ON promotion_events (delete_time);

-- provex.investment.v1.InvestorLead: provinces/{province}/investor-leads/{id}
CREATE TABLE investor_leads (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  province TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  investor TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL DEFAULT 0,
  country TEXT NOT NULL DEFAULT '',
  sector INTEGER NOT NULL DEFAULT 0,
  promotion_event TEXT NOT NULL DEFAULT '',
  project TEXT NOT NULL DEFAULT '',
  first_contact_date INTEGER NOT NULL DEFAULT 0,
  create_time INTEGER NOT NULL DEFAULT 0,
  update_time INTEGER NOT NULL DEFAULT 0,
  delete_time INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX investor_leads_province ON investor_leads (province);
CREATE INDEX investor_leads_investor ON investor_leads (investor);
CREATE INDEX investor_leads_state ON investor_leads (state);
CREATE INDEX investor_leads_country ON investor_leads (country);
CREATE INDEX investor_leads_sector ON investor_leads (sector);
CREATE INDEX investor_leads_promotion_event ON investor_leads (promotion_event);
CREATE INDEX investor_leads_project ON investor_leads (project);
CREATE INDEX investor_leads_first_contact_date ON investor_leads (first_contact_date);
CREATE INDEX investor_leads_create_time ON investor_leads (create_time);
CREATE INDEX investor_leads_update_time ON investor_leads (update_time);
CREATE INDEX investor_leads_delete_time ON investor_leads (delete_time);

