-- provex schema, version 6: the federation's trust (change-log format 3).
--
-- Every node holds every entry whole. A state that not every member may
-- read is sealed at its origin (package changelog): the entry holds the
-- envelope and no name, and its hash covers the envelope, so relays store,
-- verify and pass on what they cannot read. Redacted entries and the holes
-- they left are gone. A database holding a format-2 log is refused before
-- this runs (see migrate); the tables below start empty.
DROP TABLE holes;
DROP TABLE changes;
DELETE FROM checkpoints;

CREATE TABLE changes (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hlc INTEGER NOT NULL,
  name TEXT NOT NULL,        -- '' when sealed
  data BLOB NOT NULL,        -- the record state, or the envelope when sealed
  sealed INTEGER NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;

-- Entries this node holds but did not apply, and why: 'rejected' (the state
-- names a record its origin does not own, or is not a record), or
-- 'unopened' (a part of the envelope is addressed to this node, but it does
-- not open: its origin sealed it wrong).
CREATE TABLE unapplied (
  origin TEXT NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;

-- How many of this node's own entries are sealed to each member (as a
-- reader of the state), and how many entries of each origin this node
-- opened: when a member holds an origin's whole log, the two agree, or the
-- member holds entries it should be able to open and cannot (provex sync
-- status --all compares them).
CREATE TABLE sealed_counts (
  member TEXT PRIMARY KEY,
  entries INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE opened_counts (
  origin TEXT PRIMARY KEY,
  entries INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Records this node may no longer read (a later state was sealed to
-- others, and this node was told to drop its copy): the seq of the entry
-- that took each away, so that an older state opened later never brings it
-- back.
CREATE TABLE withdrawn (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Self-verification: per origin, the last entry proven intact (chain and
-- signed checkpoint: seq, hash), and the last entry checks have read
-- (checked, and its hash when it is intact), where incremental checks
-- resume. The two differ while damage sits between them.
CREATE TABLE log_verified (
  origin TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  checked INTEGER NOT NULL,
  checked_hash BLOB
) STRICT, WITHOUT ROWID;

-- Ranges of stored entries that do not verify: never served, fetched again
-- from peers (Repair).
CREATE TABLE log_damage (
  origin TEXT NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  found INTEGER NOT NULL,     -- Unix nanoseconds
  problem TEXT NOT NULL,
  PRIMARY KEY (origin, first)
) STRICT, WITHOUT ROWID;

-- The newest entry of an origin the audit trail names, found at once when
-- the store opens (checkOwnHead).
CREATE INDEX audit_origin ON audit (origin, last_seq);

-- The audit trail's last record, signed with the node key in the commit
-- that wrote it: rewriting and re-chaining audit rows without the key
-- shows.
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  signature BLOB NOT NULL
) STRICT;

-- The federation manifest the node last started with, for offline checks
-- (provex verify) of the checkpoints it holds.
CREATE TABLE manifest (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  data BLOB NOT NULL
) STRICT;
