-- provex schema, version 13: one value for main (bilateral) border gates
-- (issue 13).
--
-- BorderGate.Level had LEVEL_MAIN = 2 and LEVEL_BILATERAL = 3 for the one
-- category the decree calls main or bilateral; 3 is now reserved and
-- LEVEL_BILATERAL an alias of 2. Stored states keep their 3 (they are
-- signed change-log payloads) and read as 2 (resource.Kind.Decode); this
-- brings the index columns along, so that "level = MAIN" finds them, and
-- makes the gates' rollup be rebuilt from those columns when the store
-- opens (ensureRollups rebuilds a rollup it has no definition of).
UPDATE border_gates SET level = 2 WHERE level = 3;
UPDATE border_gates SET counterpart_level = 2 WHERE counterpart_level = 3;
DELETE FROM rollups WHERE name LIKE 'rollup\_border\_gates\_%' ESCAPE '\';
