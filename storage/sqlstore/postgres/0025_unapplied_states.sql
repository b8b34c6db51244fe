-- The PostgreSQL counterpart of migrations/0025_unapplied_states.sql.
DELETE FROM rejected_retried WHERE EXISTS (SELECT 1 FROM unapplied WHERE state NOT IN ('rejected', 'unopened'));
UPDATE unapplied SET state = 'rejected' WHERE state NOT IN ('rejected', 'unopened');
ALTER TABLE unapplied ADD CONSTRAINT unapplied_state CHECK (state IN ('rejected', 'unopened'));
