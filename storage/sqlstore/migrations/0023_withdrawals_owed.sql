-- provex schema, version 23: withdrawal notices a node owes, and the
-- members it has known.
--
-- When a record's readers shrink, its entry carries a withdrawal notice
-- sealed to each member that loses it. A member out of the manifest then
-- has no encryption key to seal to: it was skipped, and once back it
-- served the record for good (an outside review). The owner now keeps
-- (name, member) for each such member and seals the notice to it in the
-- record's next entry once it has a key again, or in an entry of the
-- unchanged state as soon as it takes the manifest that gives it one
-- (DeliverWithdrawals). A record narrowed from public may be held by every
-- member that ever was one, and by every member to come (a public entry
-- stays in every log): known_members lists the members of every manifest
-- the node took, and the member '*' stands for those it has not known yet.
CREATE TABLE IF NOT EXISTS withdrawals_owed (
  name TEXT NOT NULL,
  member TEXT NOT NULL,
  PRIMARY KEY (name, member)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known_members (
  member TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
-- What a store of an earlier release knows of the members: those it
-- sealed to and those whose logs it holds (the manifest it saved is added
-- when the node starts).
INSERT INTO known_members (member)
  SELECT member FROM sealed_counts UNION SELECT origin FROM log_verified UNION SELECT origin FROM opened_counts WHERE true
  ON CONFLICT DO NOTHING;
