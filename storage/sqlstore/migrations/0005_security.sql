-- provex schema, version 5: security (issue 5).

-- The member this database belongs to, so tools that open it by path know
-- whose it is, and a node is never started on another member's database.
CREATE TABLE node (
  member TEXT NOT NULL
) STRICT;

-- Bearer tokens of this node's people and programs. Only the SHA-256 of a
-- token's secret is kept; the token itself is shown once, at creation.
-- Times are Unix nanoseconds, 0 for never.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash BLOB NOT NULL,
  role TEXT NOT NULL,
  label TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  expire_time INTEGER NOT NULL,
  revoke_time INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- The audit trail (package audit): one hash-chained record per write made
-- on this node, in the transaction of the write.
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  request_id TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  origin TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  change_hash BLOB NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
) STRICT;
CREATE INDEX audit_actor ON audit (actor);
CREATE INDEX audit_resource ON audit (resource);
