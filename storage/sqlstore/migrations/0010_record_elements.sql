-- provex schema, version 10: the elements of repeated fields, compactly
-- (issue 11).
--
-- record_values named each element's kind and field in full ('agreements',
-- 'partner_countries': 27 bytes) in every row and again in its index by
-- record, about 110 bytes per agreement. record_elements names the pair by
-- a two-byte number, filter.ListID(kind, path), a hash of the two names
-- that never changes (the numbers below are its values for the fields that
-- existed; TestListIDsOfMigration10 checks them). Elements are distinct per
-- record and field, as before.
CREATE TABLE record_elements (
  list INTEGER NOT NULL,
  value TEXT NOT NULL,
  record INTEGER NOT NULL,
  PRIMARY KEY (list, value, record)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_elements_record ON record_elements (list, record);

INSERT OR IGNORE INTO record_elements (list, value, record)
SELECT CASE kind || '/' || field
         WHEN 'partnerships/fields' THEN 11860
         WHEN 'agreements/partner_countries' THEN 1120
         WHEN 'delegations/countries' THEN 20905
         WHEN 'border-incidents/notify_provinces' THEN 21721
         WHEN 'promotion-events/partner_countries' THEN 14728
       END, value, record
FROM record_values
WHERE kind || '/' || field IN ('partnerships/fields', 'agreements/partner_countries', 'delegations/countries',
  'border-incidents/notify_provinces', 'promotion-events/partner_countries');

DROP TABLE record_values;
