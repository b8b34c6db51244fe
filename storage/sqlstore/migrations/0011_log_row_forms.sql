-- provex schema, version 11: change-log rows in three forms (issue 11).
--
-- The changes table's sealed column now holds 0 (an unsealed entry, its
-- name stored), 1 (sealed, no name) or 2 (unsealed, the name left out
-- because the state holds it in field 1; see entryrow.go). Nothing changes
-- in the tables; the version moves so that an older provex, which reads the
-- column as a boolean, refuses this database as newer than itself instead
-- of failing on the first row of form 2.
SELECT 1;
