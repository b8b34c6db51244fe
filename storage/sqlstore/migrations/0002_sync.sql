-- provex schema, version 2: what sync between nodes needs.
--
-- Entries keep the hash of their data and the visibility of the state they
-- record, so an entry can be passed on without its data (redacted) to a node
-- that may not read the record, and still verify there.
ALTER TABLE changes ADD COLUMN data_hash BLOB NOT NULL DEFAULT X'';
ALTER TABLE changes ADD COLUMN visibility INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN visible_to TEXT NOT NULL DEFAULT '';
ALTER TABLE changes ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;

-- Checkpoints signed by each origin: entry seq of origin's log has this hash.
-- The origin signs one per commit; others keep what they received, so they
-- can relay entries with proof.
CREATE TABLE checkpoints (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;

-- Entries this node received redacted although it may read them (a relay
-- that could not read them passed them on): they are asked for again, in
-- full, from every peer until one has them.
CREATE TABLE holes (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
