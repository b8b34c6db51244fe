-- provex schema, version 24: readers a node owes a record.
--
-- A state that is not public is sealed to its readers that the manifest
-- gives a key. A reader out of the manifest when it was written (the
-- ministry removed then added back, a province in visible_to that joins
-- later) was skipped, and read the record only from its owner's next
-- change of it, which may never come: the ministry's national views
-- missed it while the convergence check said yes (an outside review).
-- The owner now keeps (name, member) for each reader of a record's latest
-- state that had no key, and seals the record to it once it has one, in
-- an entry of the unchanged state as soon as it takes the manifest that
-- gives it one, the way withdrawal notices owed are delivered.
CREATE TABLE IF NOT EXISTS readers_owed (
  name TEXT NOT NULL,
  member TEXT NOT NULL,
  PRIMARY KEY (name, member)
) STRICT, WITHOUT ROWID;
