-- provex schema, version 22: the rules the entries held rejected were last
-- retried by.
--
-- A node retries, as it opens its store, the entries it holds rejected
-- (unapplied, state 'rejected'), for a release that applies what an
-- earlier one refused. It did so at every start, reading them all again:
-- a member's entries refused for a reason that still holds, a few
-- megabytes each, made every start read and decode them. It now records
-- the rules (release, options) of its last retry, one row, and retries
-- once under each.
CREATE TABLE IF NOT EXISTS rejected_retried (
  rules TEXT NOT NULL
) STRICT;
