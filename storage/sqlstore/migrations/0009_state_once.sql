-- provex schema, version 9: a record's state is stored once (issue 11).
--
-- A record row kept its whole state although the change-log entry named by
-- the row's province and seq holds the very same bytes whenever the entry
-- is not sealed. Such rows now keep an empty blob and read their state from
-- the entry (stateSQL in writer.go); rows of sealed entries keep the opened
-- state, the only plain copy. Rows written before this version drop their
-- copy here when the entry holds exactly it. (The file keeps its size
-- until a VACUUM; the pages freed are reused by later writes.)
UPDATE partnerships SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = partnerships.province AND c.seq = partnerships.seq AND c.sealed != 1);
UPDATE agreements SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = agreements.province AND c.seq = agreements.seq AND c.sealed != 1);
UPDATE delegations SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = delegations.province AND c.seq = delegations.seq AND c.sealed != 1);
UPDATE friendship_associations SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = friendship_associations.province AND c.seq = friendship_associations.seq AND c.sealed != 1);
UPDATE border_gates SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = border_gates.province AND c.seq = border_gates.seq AND c.sealed != 1);
UPDATE border_markers SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = border_markers.province AND c.seq = border_markers.seq AND c.sealed != 1);
UPDATE border_incidents SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = border_incidents.province AND c.seq = border_incidents.seq AND c.sealed != 1);
UPDATE trade_reports SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = trade_reports.province AND c.seq = trade_reports.seq AND c.sealed != 1);
UPDATE projects SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = projects.province AND c.seq = projects.seq AND c.sealed != 1);
UPDATE promotion_events SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = promotion_events.province AND c.seq = promotion_events.seq AND c.sealed != 1);
UPDATE investor_leads SET data = X'' WHERE data = (SELECT c.data FROM changes c WHERE c.origin = investor_leads.province AND c.seq = investor_leads.seq AND c.sealed != 1);
