-- provex schema, version 15: the ISO 3166-2 subdivision and locality of
-- foreign parties (issue 13).
--
-- Partnership.partner.subdivision is a column of its own; the subdivisions
-- of agreements' and delegations' foreign_parties are repeated fields,
-- rows of record_elements. The locality joins the search text. Records
-- written before this version have neither field and keep an empty column
-- and no elements; the re-index brings along any that do (states that came
-- from a newer peer before this node was upgraded keep the fields as
-- unknown ones).
ALTER TABLE partnerships ADD COLUMN partner_subdivision TEXT NOT NULL DEFAULT '';
CREATE INDEX partnerships_partner_subdivision ON partnerships (partner_subdivision);

INSERT OR IGNORE INTO reindex (kind) VALUES
  ('partnerships'),
  ('agreements'),
  ('delegations');
