-- provex schema, version 25: an entry is held unapplied as 'rejected' or
-- 'unopened', nothing else.
--
-- The state was free text, and the checks skipped an entry held in any
-- other: a row added by hand with a word of its own hid the entry's
-- record, or set it back, from verify, the node's health and the
-- convergence check alike (an outside review). The table is made again
-- with a CHECK. A row held in another state is held 'rejected', and the
-- node's next start retries it (rejected_retried is emptied when there is
-- one): it applies the entry if the rules do, and holds it in the state of
-- its refusal if not.
DELETE FROM rejected_retried WHERE EXISTS (SELECT 1 FROM unapplied WHERE state NOT IN ('rejected', 'unopened'));
CREATE TABLE unapplied_states (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('rejected', 'unopened')),
  reason TEXT NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO unapplied_states (origin, seq, state, reason)
  SELECT origin, seq, CASE WHEN state IN ('rejected', 'unopened') THEN state ELSE 'rejected' END, reason FROM unapplied;
DROP TABLE unapplied;
ALTER TABLE unapplied_states RENAME TO unapplied;
